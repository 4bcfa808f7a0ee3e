"""Read-only checks of the target account before `cdk deploy` (issue #9).

Each check is one small function: it takes an `Account` (boto3 clients per region) and the
environment configuration, makes only Describe/Get/List calls, and returns `Result`s with a
status (pass, fail, warn) and, unless passing, the fix. Nothing here creates or changes anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from config import EnvironmentConfig
from config.delivery import DeliveryConfig
from config.models import LAMBDA_MIN_UNRESERVED_CONCURRENCY, principal_kind
from preflight.names import NAME_PROPERTIES, FixedName, StackTemplate, fixed_names, literal

# `cdk bootstrap` template versions: CDK v2 templates of this aws-cdk-lib need 6 or later (their
# BootstrapVersion rule); 21 added what current CLIs use for asset publishing and lookups.
MIN_BOOTSTRAP_VERSION = 6
RECOMMENDED_BOOTSTRAP_VERSION = 21
BOOTSTRAP_STACK = "CDKToolkit"
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
ENHANCED_MONITORING_LOG_GROUP = "RDSOSMetrics"
# The least `az_count` the configuration accepts (config.models.EnvironmentConfig.az_count).
MIN_AZ_COUNT = 2

# Service Quotas codes and the AWS defaults used when the Service Quotas API cannot be read.
VPCS_PER_REGION = ("vpc", "L-F678F1CE", 5)
EIPS_PER_REGION = ("ec2", "L-0263D0A3", 5)
NAT_GATEWAYS_PER_AZ = ("vpc", "L-FE5A380F", 5)
LAMBDA_CONCURRENT_EXECUTIONS = ("lambda", "L-B99A9384", "Concurrent executions")
# Network Firewall: 5 firewalls per account per Region by default, adjustable in Service Quotas
# ("AWS Network Firewall quotas", Network Firewall Developer Guide). The quota's code is not in that
# page: preflight finds it by name in ListServiceQuotas, else assumes the default.
NETWORK_FIREWALL_SERVICE = "network-firewall"
DEFAULT_FIREWALLS_PER_REGION = 5
# IAM Access Analyzer: 1 account-level analyzer per analyzer type per account per Region, default and
# maximum ("IAM Access Analyzer quotas", IAM User Guide): a second one cannot be created or requested.
ACCOUNT_ANALYZERS_PER_TYPE = 1
# preflight reads the CRL object whole: a guard against an unexpected object, not an AWS limit.
MAX_CRL_BYTES = 50 * 1024 * 1024


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a check status, not a password
    FAIL = "fail"
    WARN = "warn"


@dataclass(frozen=True)
class Result:
    check: str
    status: Status
    detail: str
    fix: str = ""


class Account:
    """boto3 clients of one session, one per (service, region), created on first use. `management` is
    the organization's management account (the guardrails stack deploys there), when its credentials
    are given (`--management-profile`); None otherwise."""

    def __init__(self, session: boto3.Session, home_region: str, management: Account | None = None) -> None:
        self._session = session
        self._home_region = home_region
        self._clients: dict[tuple[str, str], Any] = {}
        self.management = management

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self._home_region)
        if key not in self._clients:
            self._clients[key] = self._session.client(service, region_name=key[1])
        return self._clients[key]


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def check_account(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    actual = account.client("sts").get_caller_identity()["Account"]
    if actual == config.account:
        yield Result("account", Status.PASS, f"credentials are for {actual}")
    else:
        yield Result(
            "account",
            Status.FAIL,
            f"credentials are for {actual}, the configuration deploys to {config.account}",
            "use credentials of the configured account, or correct `account` in the environment file",
        )


def check_key_administrators(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    """KMS rejects a key policy that names a role that does not exist (MalformedPolicyDocument)."""
    if not config.key_administrator_role_arns:
        yield Result(
            "key administrators",
            Status.WARN,
            "no key_administrator_role_arns: only the account root administers the keys",
            "name the custodian roles (PCI DSS 3.6.1.2) in key_administrator_role_arns",
        )
    iam = account.client("iam")
    for arn in config.key_administrator_role_arns:
        name = arn.rsplit("/", 1)[-1]
        try:
            iam.get_role(RoleName=name)
        except ClientError as err:
            if _error_code(err) != "NoSuchEntity":
                raise
            yield Result(
                f"key administrator {name}",
                Status.FAIL,
                f"{arn} does not exist; KMS refuses a key policy naming it",
                "create the role first, or remove it from key_administrator_role_arns",
            )
        else:
            yield Result(f"key administrator {name}", Status.PASS, f"{arn} exists")


# The role `cdk bootstrap` creates for CloudFormation deploys in each account and region (its default
# qualifier); the pipeline's artifact keys name each stage account's in their key policies.
BOOTSTRAP_DEPLOY_ROLE = "arn:aws:iam::{account}:role/cdk-hnb659fds-deploy-role-{account}-{region}"


def required_principals(config: EnvironmentConfig) -> dict[str, str]:
    """Every IAM principal the environment's templates name in a resource or key policy, which the
    owning service validates when the policy is written, with what names it. None of these is created
    by the landing zone: each must exist before the deploy (README, "Before the first deploy")."""
    required = dict.fromkeys(
        config.key_administrator_role_arns, "the KMS key policies (KMS refuses a missing principal)"
    )
    vault = config.card_vault
    if vault is not None and vault.enabled:
        for arn in vault.detokenize_caller_role_arns:
            required[arn] = "the detokenize function's resource policy (Lambda refuses a missing principal)"
    return required


def pipeline_principals(delivery: DeliveryConfig) -> dict[str, str]:
    """The stage accounts' CDK deploy roles the pipeline's artifact keys name in their key policies:
    `cdk bootstrap --trust <tooling account>` creates them, before the pipeline stack is deployed."""
    return {
        BOOTSTRAP_DEPLOY_ROLE.format(account=entry.config.account, region=region): (
            f"the pipeline's artifact key policies (run cdk bootstrap --trust {delivery.tooling.account}"
            f" aws://{entry.config.account}/{region} first)"
        )
        for entry in delivery.environments
        for region in entry.config.regions
    }


def _role_or_user_exists(iam: Any, arn: str) -> bool:
    kind, _, name = arn.split(":", 5)[5].partition("/")
    name = name.rsplit("/", 1)[-1]
    try:
        if kind == "role":
            iam.get_role(RoleName=name)
        elif kind == "user":
            iam.get_user(UserName=name)
        else:
            iam.get_saml_provider(SAMLProviderArn=arn)
    except ClientError as err:
        if _error_code(err) != "NoSuchEntity":
            raise
        return False
    return True


def check_named_principals(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    """Principals of resource policies besides the key administrators (`check_key_administrators`)."""
    iam = account.client("iam")
    for arn, named_by in required_principals(config).items():
        if arn in config.key_administrator_role_arns:
            continue
        name = f"principal {arn.rsplit('/', 1)[-1]}"
        if _role_or_user_exists(iam, arn):
            yield Result(name, Status.PASS, f"{arn} exists")
        else:
            yield Result(
                name,
                Status.FAIL,
                f"{arn} does not exist; {named_by}",
                "create the role first (README, Before the first deploy), or remove it from the configuration",
            )


def check_operator_principals(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    """Operator roles trust their principals through conditions, so a missing one does not fail the
    deploy, but nobody could assume the role: IAM users, roles and SAML providers of this account are
    looked up (Identity Center patterns and other accounts' principals cannot be from here)."""
    identity = config.identity
    iam = account.client("iam")
    for field in ("administrator_principals", "auditor_principals", "break_glass_principals"):
        for principal in getattr(identity, field):
            if principal_kind(principal) == "identity_center" or principal.split(":")[4] != config.account:
                continue
            name = f"operator principal {principal.rsplit('/', 1)[-1]}"
            if _role_or_user_exists(iam, principal):
                yield Result(name, Status.PASS, f"{principal} exists")
            else:
                yield Result(
                    name,
                    Status.WARN,
                    f"identity.{field}: {principal} does not exist; nobody could assume the operator role",
                    "create it first, or correct the principal",
                )


def _covers(pattern: str, domain: str) -> bool:
    """ACM name matching: a wildcard covers exactly one label (`*.example.com` covers `a.example.com`)."""
    if pattern.startswith("*."):
        head, _, rest = domain.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == domain


def check_certificates(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    for region, regional in config.regions.items():
        name = f"certificate {region}"
        arn = regional.certificate_arn
        try:
            cert = account.client("acm", region).describe_certificate(CertificateArn=arn)["Certificate"]
        except ClientError as err:
            if _error_code(err) not in ("ResourceNotFoundException", "ValidationException"):
                raise
            yield Result(name, Status.FAIL, f"{arn} not found", "request or import the certificate in ACM there")
            continue
        if cert["Status"] != "ISSUED":
            yield Result(
                name,
                Status.FAIL,
                f"{arn} is {cert['Status']}",
                "complete DNS validation (or replace the certificate) so that ACM issues it",
            )
            continue
        names = [cert["DomainName"], *cert.get("SubjectAlternativeNames", [])]
        if config.domain_name is not None and not any(_covers(n, config.domain_name) for n in names):
            yield Result(
                name,
                Status.FAIL,
                f"{arn} covers {names}, not {config.domain_name}",
                "issue a certificate whose names include domain_name",
            )
            continue
        yield Result(name, Status.PASS, f"issued for {names}")


def _singleton(name: str, mode: str, exists: bool, control: str, field: str, in_place: str = "") -> Result:
    if mode == "create" and exists:
        return Result(
            name,
            Status.FAIL,
            f"the account already has {control}; creating another fails the deploy",
            f"set audit.{field} to 'existing' (AWS Control Tower and Organizations-managed accounts)",
        )
    if mode == "existing" and not exists:
        return Result(
            name,
            Status.FAIL,
            f"audit.{field} is 'existing' but the account has no {control}",
            f"set audit.{field} to 'create', or enable it from the delegated administrator first",
        )
    if mode == "off":
        return Result(
            name, Status.WARN, f"audit.{field} is 'off'", "PCI DSS 10/11.5 need it: choose 'create' or 'existing'"
        )
    return Result(name, Status.PASS, f"{control}: {'present' if exists else 'absent'}, mode {mode}{in_place}")


def check_detective_singletons(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    audit = config.audit
    for region in config.regions:
        recorders = account.client("config", region).describe_configuration_recorders()["ConfigurationRecorders"]
        yield _singleton(
            f"AWS Config {region}", audit.config_mode, bool(recorders), "a configuration recorder", "config_mode"
        )
        detectors = account.client("guardduty", region).list_detectors()["DetectorIds"]
        yield _singleton(
            f"GuardDuty {region}", audit.guardduty_mode, bool(detectors), "a GuardDuty detector", "guardduty_mode"
        )
        try:
            account.client("securityhub", region).describe_hub()
            subscribed = True
        except ClientError as err:
            if _error_code(err) not in ("InvalidAccessException", "ResourceNotFoundException"):
                raise
            subscribed = False
        yield _singleton(
            f"Security Hub {region}",
            audit.security_hub_mode,
            subscribed,
            "a Security Hub subscription",
            "security_hub_mode",
        )


def _bootstrap_version(account: Account, region: str) -> int | None:
    try:
        stacks = account.client("cloudformation", region).describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"]
    except ClientError as err:
        if "does not exist" not in str(err):
            raise
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "BootstrapVersion" in outputs:
        return int(outputs["BootstrapVersion"])
    parameter = account.client("ssm", region).get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)
    return int(parameter["Parameter"]["Value"])


def check_bootstrap(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    for region in config.regions:
        name = f"CDK bootstrap {region}"
        fix = f"cdk bootstrap aws://{config.account}/{region}"
        version = _bootstrap_version(account, region)
        if version is None:
            yield Result(name, Status.FAIL, f"no {BOOTSTRAP_STACK} stack", fix)
        elif version < MIN_BOOTSTRAP_VERSION:
            yield Result(name, Status.FAIL, f"bootstrap version {version} < {MIN_BOOTSTRAP_VERSION}", fix)
        elif version < RECOMMENDED_BOOTSTRAP_VERSION:
            yield Result(name, Status.WARN, f"bootstrap version {version} < {RECOMMENDED_BOOTSTRAP_VERSION}", fix)
        else:
            yield Result(name, Status.PASS, f"bootstrap version {version}")


def _available_zones(account: Account, region: str) -> list[str]:
    """Names of the region's Availability Zones the account can use: state `available` and zone type
    `availability-zone` (not a Local or Wavelength Zone). Without `AllAvailabilityZones` the answer
    holds only zones the account may use (AWS EC2 API Reference, "DescribeAvailabilityZones")."""
    zones = account.client("ec2", region).describe_availability_zones(
        Filters=[{"Name": "zone-type", "Values": ["availability-zone"]}]
    )["AvailabilityZones"]
    return sorted(
        z["ZoneName"]
        for z in zones
        if z.get("State") == "available" and z.get("ZoneType", "availability-zone") == "availability-zone"
    )


def check_availability_zones(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    """Each region's configured zones (`az_suffixes`, else the first `az_count` of a, b, c) exist and are
    available in the account: synth names them without a lookup, and a missing one fails only the
    Network stack, in CloudFormation, after the Keys stacks deployed (fork trial r23f)."""
    for region in config.regions:
        name = f"availability zones {region}"
        configured = config.availability_zones(region)
        available = _available_zones(account, region)
        missing = [zone for zone in configured if zone not in available]
        if not missing:
            yield Result(name, Status.PASS, f"{', '.join(configured)} available")
            continue
        letters = ", ".join(zone.removeprefix(region) for zone in available)
        field = f"regions.{region}.az_suffixes"
        if config.regions[region].az_suffixes is None:
            field += f" (unset: the first az_count={config.az_count} of a, b, c)"
        detail = f"{field} names {', '.join(missing)}: not available; the account has {', '.join(available) or 'none'}"
        if len(available) < MIN_AZ_COUNT:
            fix = f"deploy to another region: {region} has fewer than {MIN_AZ_COUNT} available zones"
        elif len(available) < config.az_count:
            fix = f"lower az_count ({config.az_count}) to {len(available)}, or deploy to another region"
        else:
            fix = f"set regions.{region}.az_suffixes to {config.az_count} of {letters}"
        yield Result(name, Status.FAIL, detail, fix)


def _quota(account: Account, region: str, quota: tuple[str, str, int]) -> tuple[float, bool]:
    """(value, read from Service Quotas); the AWS default when the API cannot be read."""
    service, code, default = quota
    try:
        return _quota_api(account, region, service, code), True
    except (ClientError, BotoCoreError, NotImplementedError):
        return float(default), False


def _quota_api(account: Account, region: str, service: str, code: str) -> float:
    response = account.client("service-quotas", region).get_service_quota(ServiceCode=service, QuotaCode=code)
    return float(response["Quota"]["Value"])


def _capacity(name: str, used: int, needed: int, quota: float, from_api: bool, what: str) -> Result:
    source = "" if from_api else " (Service Quotas unreadable: AWS default assumed)"
    detail = f"{used} in use + {needed} needed of {quota:g}{source}"
    if used + needed > quota:
        return Result(name, Status.FAIL, detail, f"request a {what} quota increase in Service Quotas")
    return Result(
        name,
        Status.PASS if from_api else Status.WARN,
        detail,
        "" if from_api else "allow servicequotas:GetServiceQuota",
    )


@dataclass(frozen=True)
class DeployedEgress:
    """What the deployed Network stack holds: its egress mode and how many NAT Elastic IPs and firewalls."""

    mode: str
    eips: int
    firewalls: int


def deployed_egress(account: Account, config: EnvironmentConfig, region: str) -> DeployedEgress | None:
    """The deployed Network stack's egress (a Network Firewall in it: firewall mode) and its counts of
    `AWS::EC2::EIP` and `AWS::NetworkFirewall::Firewall` (one each per deployed AZ); None before the first
    deploy."""
    cloudformation = account.client("cloudformation", region)
    try:
        pages = cloudformation.get_paginator("list_stack_resources").paginate(
            StackName=f"PciLz-{config.name}-Network-{region}"
        )
        types = [r["ResourceType"] for page in pages for r in page["StackResourceSummaries"]]
    except ClientError as err:
        if "does not exist" not in str(err):
            raise
        return None
    firewalls = types.count("AWS::NetworkFirewall::Firewall")
    return DeployedEgress("firewall" if firewalls else "nat", types.count("AWS::EC2::EIP"), firewalls)


def eip_peak(
    used: int, az_count: int, deployed_mode: str | None, configured_mode: str, *, deployed_eips: int | None = None
) -> tuple[int, str]:
    """Elastic IPs a region holds at the peak of the deploy, and why.

    A first deploy allocates one per AZ. Switching `egress.mode` moves the NAT gateways to other
    subnets, so CloudFormation replaces them and their EIPs, creating the new ones before deleting the
    old: for a moment the region holds the old `az_count` and the new `az_count` (6 with three AZs,
    above the default quota of 5). An update in the same mode allocates one per AZ it adds (raising
    `az_count` above the deployed stack's `deployed_eips`); the rest are already in `used`.
    """
    if deployed_mode is None:
        return used + az_count, f"{used} in use + {az_count} for the first deploy"
    if deployed_mode != configured_mode:
        return used + az_count, (
            f"{used} in use + {az_count} replacements while egress.mode switches {deployed_mode} -> {configured_mode}"
        )
    added = max(0, az_count - deployed_eips) if deployed_eips is not None else 0
    if added:
        return used + added, f"{used} in use + {added} for the AZs added ({deployed_eips} -> {az_count})"
    return used, f"{used} in use, egress.mode unchanged ({configured_mode})"


def check_quotas(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    """One VPC and one NAT gateway (with its Elastic IP) per configured AZ, per region."""
    for region in config.regions:
        ec2 = account.client("ec2", region)
        vpcs = len(ec2.describe_vpcs()["Vpcs"])
        yield _capacity(f"VPC quota {region}", vpcs, 1, *_quota(account, region, VPCS_PER_REGION), "VPCs per Region")
        eips = len(ec2.describe_addresses()["Addresses"])
        deployed = deployed_egress(account, config, region)
        peak, why = eip_peak(
            eips,
            config.az_count,
            deployed.mode if deployed else None,
            config.egress.mode,
            deployed_eips=deployed.eips if deployed else None,
        )
        quota, from_api = _quota(account, region, EIPS_PER_REGION)
        source = "" if from_api else " (Service Quotas unreadable: AWS default assumed)"
        name = f"Elastic IP quota {region}"
        if peak > quota:
            yield Result(
                name,
                Status.FAIL,
                f"peak {peak} of {quota:g}: {why}{source}",
                f"request an EC2-VPC Elastic IPs quota increase to at least {peak} in Service Quotas (L-0263D0A3)",
            )
        else:
            yield Result(
                name,
                Status.PASS if from_api else Status.WARN,
                f"peak {peak} of {quota:g}: {why}{source}",
                "" if from_api else "allow servicequotas:GetServiceQuota",
            )
        nats = ec2.describe_nat_gateways(Filter=[{"Name": "state", "Values": ["pending", "available"]}])["NatGateways"]
        subnets = {s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets()["Subnets"]}
        busiest = max(
            (sum(1 for n in nats if subnets.get(n["SubnetId"]) == az) for az in config.availability_zones(region)),
            default=0,
        )
        yield _capacity(
            f"NAT gateway quota {region}",
            busiest,
            1,
            *_quota(account, region, NAT_GATEWAYS_PER_AZ),
            "NAT gateways per Availability Zone",
        )


def _deployed_reservations(account: Account, region: str, stack: str) -> int:
    """What the functions of an already deployed stack reserve (0 when the stack does not exist yet):
    those executions are already out of the unreserved pool and come back when the stack updates."""
    cloudformation = account.client("cloudformation", region)
    try:
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
        functions = [
            r["PhysicalResourceId"]
            for page in pages
            for r in page["StackResourceSummaries"]
            if r["ResourceType"] == "AWS::Lambda::Function" and r.get("PhysicalResourceId")
        ]
    except ClientError as err:
        if "does not exist" not in str(err):
            raise
        return 0
    lambda_ = account.client("lambda", region)
    return sum(
        int(lambda_.get_function_concurrency(FunctionName=f).get("ReservedConcurrentExecutions", 0)) for f in functions
    )


def check_lambda_concurrency(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    """Lambda refuses a reservation that leaves the region's unreserved pool below its minimum
    ("Configuring reserved concurrency for a function", Lambda Developer Guide), and the Workload
    stack then rolls back. Reads GetAccountSettings per region against what the vault reserves."""
    vault = config.card_vault
    if vault is None or not vault.enabled:
        return
    needed = vault.reserved_concurrency.total
    service, code, quota_name = LAMBDA_CONCURRENT_EXECUTIONS
    for region in config.regions:
        name = f"Lambda concurrency {region}"
        limit = account.client("lambda", region).get_account_settings()["AccountLimit"]
        total = int(limit["ConcurrentExecutions"])
        unreserved = int(limit["UnreservedConcurrentExecutions"])
        held = _deployed_reservations(account, region, f"PciLz-{config.name}-Workload-{region}")
        left = unreserved + held - needed
        detail = (
            f"quota {total}, {unreserved} unreserved ({held} of the rest already this vault's);"
            f" the vault reserves {needed}, leaving {left} (Lambda keeps at least {LAMBDA_MIN_UNRESERVED_CONCURRENCY})"
        )
        if left >= LAMBDA_MIN_UNRESERVED_CONCURRENCY:
            yield Result(name, Status.PASS, detail)
            continue
        wanted = total + LAMBDA_MIN_UNRESERVED_CONCURRENCY - left
        yield Result(
            name,
            Status.FAIL,
            detail,
            f"request a Lambda '{quota_name}' quota ({service} {code}) of at least {wanted} in {region} in"
            " Service Quotas, or lower or drop card_vault.reserved_concurrency",
        )


def check_enhanced_monitoring_log_group(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    """RDSOSMetrics is one per region and account; the Data stack creates it, so it must not exist yet."""
    for region in config.regions:
        name = f"{ENHANCED_MONITORING_LOG_GROUP} {region}"
        groups = account.client("logs", region).describe_log_groups(logGroupNamePrefix=ENHANCED_MONITORING_LOG_GROUP)
        existing = [g for g in groups["logGroups"] if g["logGroupName"] == ENHANCED_MONITORING_LOG_GROUP]
        if not existing:
            yield Result(name, Status.PASS, "absent: the Data stack creates it encrypted and retained")
            continue
        tags = account.client("logs", region).list_tags_for_resource(resourceArn=existing[0]["arn"].removesuffix(":*"))
        if tags.get("tags", {}).get("aws:cloudformation:stack-name", "").startswith(f"PciLz-{config.name}-Data-"):
            yield Result(name, Status.PASS, "created by this landing zone's Data stack")
        else:
            yield Result(
                name,
                Status.FAIL,
                "exists outside the landing zone (another database's enhanced monitoring created it)",
                "import it into the Data stack (cdk import) or delete it, so the deploy can create it",
            )


# --- Issue #22: names the templates fix, Network Firewall and Access Analyzer quotas, SCPs --------------


# A stack in one of these states holds no resource: its first create failed (and rolled back) or never
# ran; `cdk deploy` deletes a ROLLBACK_COMPLETE stack and creates it again, so its names are a first create's.
NOT_DEPLOYED = ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "ROLLBACK_IN_PROGRESS", "DELETE_COMPLETE")


def _deployed_template(account: Account, stack: StackTemplate) -> dict[str, Any] | None:
    """The template of the stack as deployed (GetTemplate), None before its first deploy completed."""
    cloudformation = account.client("cloudformation", stack.region)
    try:
        (described,) = cloudformation.describe_stacks(StackName=stack.name)["Stacks"]
        if described["StackStatus"] in NOT_DEPLOYED:
            return None
        body = cloudformation.get_template(StackName=stack.name)["TemplateBody"]
    except ClientError as err:
        if "does not exist" not in str(err):
            raise
        return None
    if isinstance(body, str):
        parsed: dict[str, Any] = json.loads(body)
        return parsed
    return dict(body)


def _owned(deployed: dict[str, Any] | None, fixed: FixedName, account_id: str) -> bool:
    """The deployed stack already holds this resource under this name (an update, not a create)."""
    if deployed is None:
        return False
    resource = deployed.get("Resources", {}).get(fixed.logical_id)
    if not resource or resource.get("Type") != fixed.resource_type:
        return False
    spec = NAME_PROPERTIES[fixed.resource_type]
    value: Any = resource.get("Properties") or {}
    for key in spec.path:
        value = value.get(key) if isinstance(value, dict) else None
    return literal(value, fixed.region, account_id) == fixed.name


def _owner(account: Account, fixed: FixedName) -> str:
    """Which CloudFormation stack holds a resource of that physical ID, as far as CloudFormation says."""
    try:
        found = account.client("cloudformation", fixed.region).describe_stack_resources(PhysicalResourceId=fixed.name)
    except ClientError:
        return "no stack holds it by that name"
    stacks = sorted({r["StackName"] for r in found.get("StackResources", [])})
    return f"held by stack {', '.join(stacks)}" if stacks else "no stack holds it by that name"


def check_names_free(account: Account, config: EnvironmentConfig, stacks: Sequence[StackTemplate]) -> Iterator[Result]:
    """Each fixed physical name of the synthesized templates that the deploy will create must not exist yet
    (CloudFormation's create fails with "already exists", and the stack rolls back). A name the deployed
    stack already holds under the same logical ID is an update and is not looked up."""
    seen: set[tuple[str, str, str]] = set()
    for stack in stacks:
        target = account if stack.account in (config.account, "unknown-account") else account.management
        name = f"names free {stack.name}"
        if target is None:
            yield Result(
                name,
                Status.WARN,
                f"deploys to account {stack.account}: its names are not checked with these credentials",
                "run preflight with --management-profile (credentials of that account)",
            )
            continue
        deployed = _deployed_template(target, stack)
        checked, owned, taken = 0, 0, []
        kinds: set[str] = set()
        for fixed in fixed_names(stack.name, stack.region, stack.account, stack.template):
            if _owned(deployed, fixed, stack.account):
                owned += 1
                continue
            spec = NAME_PROPERTIES[fixed.resource_type]
            key = (fixed.resource_type, fixed.name, "" if spec.scope != "region" else fixed.region)
            if key in seen:
                continue
            seen.add(key)
            checked += 1
            if spec.lookup(target.client, fixed.region, fixed.name, _properties(stack, fixed)):
                taken.append(f"{fixed} ({_owner(target, fixed)})")
                kinds.add(fixed.resource_type)
        state = "first deploy" if deployed is None else f"deployed: {owned} already the stack's"
        if taken:
            yield Result(
                name,
                Status.FAIL,
                f"{len(taken)} of {checked} names the deploy creates exist already ({state}): {'; '.join(taken)}",
                f"delete each leftover (after checking it holds nothing to keep: a rolled-back create of a release"
                f" that used DeletionPolicy Retain leaves them), or `cdk import` it into {stack.name}"
                + (BUCKET_LEFTOVER_FIX if "AWS::S3::Bucket" in kinds else ""),
            )
        else:
            yield Result(name, Status.PASS, f"{checked} fixed names free ({state})")


# "Deleting a bucket" and "Locking objects with Object Lock" (Amazon S3 User Guide): only an empty bucket is
# deleted, and a version locked in COMPLIANCE mode cannot be deleted by anyone, root included, until its
# retention ends; in GOVERNANCE mode only with s3:BypassGovernanceRetention, which the archive's bucket policy
# denies to everyone.
BUCKET_LEFTOVER_FIX = (
    "; a bucket is deleted only once empty, and an archive bucket holding object versions locked in"
    " COMPLIANCE mode cannot be emptied until their retention ends (GOVERNANCE: not before its bucket policy's"
    " bypass deny is removed): `cdk import` such a bucket instead"
)


def _properties(stack: StackTemplate, fixed: FixedName) -> dict[str, Any]:
    props: dict[str, Any] = stack.template["Resources"][fixed.logical_id].get("Properties") or {}
    return props


def firewalls_created(config: EnvironmentConfig) -> int:
    """Network Firewall firewalls the environment creates per region: one per AZ in firewall mode."""
    return config.az_count if config.egress.mode == "firewall" else 0


def _quota_by_name(account: Account, region: str, service: str, matches: Callable[[str], bool]) -> float | None:
    """An applied quota found by its name in ListServiceQuotas; None when unreadable or absent."""
    try:
        pages = (
            account.client("service-quotas", region).get_paginator("list_service_quotas").paginate(ServiceCode=service)
        )
        for page in pages:
            for quota in page.get("Quotas", []):
                if matches(str(quota.get("QuotaName", ""))):
                    return float(quota["Value"])
    except (ClientError, BotoCoreError, NotImplementedError):
        return None
    return None


def _is_firewall_count(name: str) -> bool:
    lowered = name.lower()
    return "firewalls" in lowered and not any(word in lowered for word in ("polic", "rule", "endpoint", "tls"))


def check_firewall_quota(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    """Firewalls per account per Region: what exists plus what the deploy adds (a first deploy or a
    switch from nat to firewall mode adds one per AZ; an update in firewall mode adds none)."""
    created = firewalls_created(config)
    for region in config.regions:
        name = f"Network Firewall quota {region}"
        if created == 0:
            yield Result(name, Status.PASS, "egress.mode nat: no firewall")
            continue
        client = account.client("network-firewall", region)
        pages = client.get_paginator("list_firewalls").paginate()
        used = sum(len(page.get("Firewalls", [])) for page in pages)
        deployed = deployed_egress(account, config, region)
        # In firewall mode already: one more per AZ that raising az_count adds.
        needed = max(0, created - deployed.firewalls) if deployed and deployed.mode == "firewall" else created
        quota = _quota_by_name(account, region, NETWORK_FIREWALL_SERVICE, _is_firewall_count)
        from_api = quota is not None
        limit = quota if quota is not None else float(DEFAULT_FIREWALLS_PER_REGION)
        source = "" if from_api else " (not read from Service Quotas: AWS default assumed)"
        detail = f"{used} in use + {needed} to create ({config.az_count} AZs) of {limit:g}{source}"
        if used + needed > limit:
            yield Result(
                name,
                Status.FAIL,
                detail,
                f"request a Network Firewall 'firewalls per account per Region' quota of at least {used + needed}"
                f" in {region} (Service Quotas, network-firewall), or delete unused firewalls",
            )
        else:
            yield Result(
                name,
                Status.PASS if from_api else Status.WARN,
                detail,
                "" if from_api else "allow servicequotas:ListServiceQuotas",
            )


def _planned_analyzers(stacks: Sequence[StackTemplate]) -> dict[str, dict[str, str]]:
    """region -> {analyzer type: name} the templates create."""
    planned: dict[str, dict[str, str]] = {}
    for stack in stacks:
        for resource in stack.template.get("Resources", {}).values():
            if resource.get("Type") == "AWS::AccessAnalyzer::Analyzer":
                props = resource.get("Properties") or {}
                planned.setdefault(stack.region, {})[str(props.get("Type"))] = str(props.get("AnalyzerName"))
    return planned


def check_access_analyzers(
    account: Account, config: EnvironmentConfig, stacks: Sequence[StackTemplate]
) -> Iterator[Result]:
    """Account-level analyzers: at most one per type and Region, not adjustable. The templates' analyzer
    of a type beside another one of that type fails the deploy; `existing` mode needs one to exist."""
    mode = config.identity.access_analyzer_mode
    planned = _planned_analyzers(stacks)
    for region in config.regions:
        name = f"IAM Access Analyzer {region}"
        client = account.client("accessanalyzer", region)
        wanted = planned.get(region, {}) if mode == "create" else {"ACCOUNT": ""}
        problems, present = [], []
        for kind, ours in sorted(wanted.items()):
            analyzers = [a["name"] for a in client.list_analyzers(type=kind).get("analyzers", [])]
            present += [f"{kind} {a}" for a in analyzers]
            others = [a for a in analyzers if a != ours]
            if mode == "create" and len(others) >= ACCOUNT_ANALYZERS_PER_TYPE:
                problems.append(f"{kind} analyzer {others[0]} exists; the templates add {ours}")
            if mode == "existing" and not analyzers:
                problems.append(f"identity.access_analyzer_mode is 'existing' but the region has no {kind} analyzer")
        if problems:
            yield Result(
                name,
                Status.FAIL,
                "; ".join(problems)
                + f" (IAM Access Analyzer allows {ACCOUNT_ANALYZERS_PER_TYPE} account analyzer per type and Region)",
                "set identity.access_analyzer_mode to 'existing' and keep the account's analyzer, or delete it"
                if mode == "create"
                else "create the analyzer (or set identity.access_analyzer_mode to 'create')",
            )
        else:
            yield Result(name, Status.PASS, f"mode {mode}; present: {', '.join(present) or 'none'}")


def check_client_crl(
    account: Account, config: EnvironmentConfig, *, now: dt.datetime | None = None
) -> Iterator[Result]:
    """The configured client CRL (`card_vault.client_crl`): fails when the object version cannot be read or
    parsed, or its nextUpdate has passed; warns when it is `warn_days_before_next_update` days away or fewer.
    With no CRL, the waiver (`card_vault.client_crl_waiver`) is one warning naming its owner and review_by
    (no AWS call).

    Read-only: `s3:GetObject` of the configured version (the deploying role reads it already). The load
    balancer reads the object when the revocation is added to the trust store, and a change of its
    contents replaces the resource (CloudFormation, `AWS::ElasticLoadBalancingV2::TrustStoreRevocation`,
    `RevocationContents`: "Update requires: Replacement"); nothing fetches the object again, so a list
    past its nextUpdate stays in the trust store until a deploy brings the next one. Times in UTC.
    """
    vault = config.card_vault
    if vault is None or not vault.enabled:
        return
    crl_config, waiver = vault.client_crl, vault.client_crl_waiver
    if crl_config is None:
        if waiver is not None:  # the configuration holds exactly one of the two (CardVaultConfig)
            yield Result(
                "client CRL",
                Status.WARN,
                f"no client CRL: revoked client certificates are accepted; waived by {waiver.owner}"
                f" (approver {waiver.approver}, ticket {waiver.ticket}), review by {waiver.review_by.isoformat()}",
                "publish the client CA's CRL to a versioned S3 bucket, set card_vault.client_crl and delete"
                " card_vault.client_crl_waiver; or review the waiver by its date",
            )
        return
    from cryptography import x509  # only when a CRL is configured

    name = "client CRL"
    where = f"s3://{crl_config.bucket}/{crl_config.key} (version {crl_config.version})"
    fix = "publish a new CRL from the CA as a new object version, set card_vault.client_crl.version to it and deploy"
    try:
        body = (
            account.client("s3")
            .get_object(Bucket=crl_config.bucket, Key=crl_config.key, VersionId=crl_config.version)["Body"]
            .read(MAX_CRL_BYTES + 1)
        )
    except ClientError as err:
        yield Result(
            name, Status.FAIL, f"{where} cannot be read: {_error_code(err)}", "check the bucket, key and version"
        )
        return
    if len(body) > MAX_CRL_BYTES:
        yield Result(name, Status.FAIL, f"{where} is larger than {MAX_CRL_BYTES} bytes", fix)
        return
    try:
        crl = x509.load_pem_x509_crl(body)
    except ValueError:
        yield Result(name, Status.FAIL, f"{where} is not a PEM-encoded CRL", "upload the CRL in PEM")
        return
    next_update = crl.next_update_utc
    if next_update is None:
        yield Result(name, Status.WARN, f"{where} has no nextUpdate: its freshness cannot be checked", fix)
        return
    today = now or dt.datetime.now(dt.UTC)
    left = next_update - today
    stamp = next_update.strftime("%Y-%m-%dT%H:%M:%SZ")
    if left <= dt.timedelta(0):
        yield Result(name, Status.FAIL, f"{where}: nextUpdate {stamp} has passed", fix)
    elif left <= dt.timedelta(days=crl_config.warn_days_before_next_update):
        yield Result(name, Status.WARN, f"{where}: nextUpdate {stamp} is {left.days} days away", fix)
    else:
        yield Result(name, Status.PASS, f"{where}: nextUpdate {stamp}, {left.days} days away")


def check_guardrails(account: Account, config: EnvironmentConfig) -> Iterator[Result]:
    """With guardrails on: the organization's root has SERVICE_CONTROL_POLICY enabled (ListRoots'
    PolicyTypes; an SCP cannot be attached otherwise), and the credentials the guardrails stack is checked
    and deployed with are the management account's or a delegated administrator's."""
    guardrails = config.guardrails
    if not guardrails.enabled:
        return
    target = account.management or account
    name = "guardrails SCP policy type"
    caller = target.client("sts").get_caller_identity()["Account"]
    organizations = target.client("organizations", "us-east-1")
    try:
        organization = organizations.describe_organization()["Organization"]
    except ClientError as err:
        if _error_code(err) != "AWSOrganizationsNotInUseException":
            raise
        yield Result(
            name,
            Status.FAIL,
            f"account {caller} is in no organization",
            "create the organization, or set guardrails off",
        )
        return
    master = str(organization.get("MasterAccountId", ""))
    try:
        roots = organizations.list_roots()["Roots"]
    except ClientError as err:
        if _error_code(err) not in ("AccessDeniedException", "AccessDenied"):
            raise
        yield Result(
            "guardrails account",
            Status.FAIL,
            f"account {caller} cannot read the organization's roots: neither its management account ({master}) nor"
            " a delegated administrator",
            f"run preflight with --management-profile for {guardrails.management_account} (the guardrails stack"
            " deploys there)",
        )
        return
    if caller == master or caller == guardrails.management_account:
        where = "the management account" if caller == master else "a delegated administrator"
        yield Result("guardrails account", Status.PASS, f"checked from {caller}, {where}")
    if guardrails.management_account != master:
        yield Result(
            "guardrails account",
            Status.WARN,
            f"guardrails.management_account {guardrails.management_account} is not the management account {master}:"
            " it must be a delegated administrator allowed to manage policies",
            f"set guardrails.management_account to {master}, or delegate policy management to it",
        )
    for root in roots:
        types = {t["Type"]: t["Status"] for t in root.get("PolicyTypes", [])}
        if types.get("SERVICE_CONTROL_POLICY") == "ENABLED":
            yield Result(name, Status.PASS, f"root {root['Id']}: SERVICE_CONTROL_POLICY enabled")
        else:
            yield Result(
                name,
                Status.FAIL,
                f"root {root['Id']}: SERVICE_CONTROL_POLICY is {types.get('SERVICE_CONTROL_POLICY', 'not enabled')}",
                f"aws organizations enable-policy-type --root-id {root['Id']} --policy-type SERVICE_CONTROL_POLICY"
                " (from the management account)",
            )


CHECKS: tuple[Callable[[Account, EnvironmentConfig], Iterator[Result]], ...] = (
    check_account,
    check_key_administrators,
    check_named_principals,
    check_operator_principals,
    check_certificates,
    check_detective_singletons,
    check_bootstrap,
    check_availability_zones,
    check_quotas,
    check_lambda_concurrency,
    check_enhanced_monitoring_log_group,
    check_firewall_quota,
    check_client_crl,
    check_guardrails,
)
# Checks that read the synthesized templates too (`make preflight` synthesizes first).
TEMPLATE_CHECKS: tuple[Callable[[Account, EnvironmentConfig, Sequence[StackTemplate]], Iterator[Result]], ...] = (
    check_names_free,
    check_access_analyzers,
)


def run_checks(
    account: Account, config: EnvironmentConfig, stacks: Sequence[StackTemplate] | None = None
) -> list[Result]:
    """Every check; one that cannot run (missing permission, ...) becomes a failure naming the error.
    Without `stacks` (the environment's synthesized templates) the template checks are one warning."""
    results: list[Result] = []
    runs: list[tuple[str, Callable[[], Iterator[Result]]]] = [
        (check.__name__, partial(check, account, config)) for check in CHECKS
    ]
    if stacks is None:
        results.append(
            Result(
                "templates",
                Status.WARN,
                "no synthesized assembly given: fixed names and Access Analyzer not checked",
                "make preflight (it synthesizes first), or python -m preflight --assembly cdk.out",
            )
        )
    else:
        runs += [(check.__name__, partial(check, account, config, stacks)) for check in TEMPLATE_CHECKS]
    for check_name, run in runs:
        try:
            results.extend(run())
        except (ClientError, BotoCoreError) as err:
            results.append(
                Result(check_name.removeprefix("check_"), Status.FAIL, f"could not run: {err}", "grant read access")
            )
    return results
