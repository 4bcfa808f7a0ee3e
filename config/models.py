"""Typed, validated description of one landing-zone environment.

Nothing here knows about CDK: the models are plain pydantic so that a bad
configuration is rejected before a single construct is built.
"""

from __future__ import annotations

import ipaddress
import re
import types
import typing
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import botocore.session
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from pci_constructs.governance import PENDING, governance_findings, reason_problem

# CloudWatch Logs accepts only these retention values; PCI DSS 10.5.1 needs at least a year.
CLOUDWATCH_RETENTION_DAYS = (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
MIN_LOG_RETENTION_DAYS = 365

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_ACM_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-us-gov)?):acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate/[0-9a-f-]{36}$"
)
_PARTITIONS = ("aws", "aws-us-gov")
_AZ_SUFFIX = re.compile(r"^[a-d]$")  # each VPC tier reserves a fixed subnet slot for zones a-d
_S3_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LAMBDA_FUNCTION_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-us-gov)?):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:[A-Za-z0-9_-]{1,64}$"
)
_KMS_KEY_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-us-gov)?):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/[0-9a-f-]{36}$"
)
_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-us-gov)?):iam::(?P<account>\d{12}):role/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{1,64})$"
)
# Roles `cdk bootstrap` creates (any qualifier; the default one is hnb659fds). The deployment and
# CloudFormation execution roles deploy every stack: as key administrators they would hold both duties.
_CDK_BOOTSTRAP_ROLE = re.compile(
    r"^cdk-[A-Za-z0-9]{1,10}-(?:cfn-exec|deploy|file-publishing|image-publishing|lookup)-role-"
)
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
# Secrets Manager rotation: PCI DSS 8.6.3 wants system-account passwords changed periodically; 30 days is our ceiling.
MAX_CREDENTIAL_ROTATION_DAYS = 30
MIN_BACKUP_RETENTION_DAYS = 7
POSTGRES_PROXY_PORT = 5432


@cache
def known_regions() -> frozenset[str]:
    """Regions from botocore's bundled endpoint data: offline, no AWS call."""
    return frozenset(region_partitions())


@cache
def region_partitions() -> dict[str, str]:
    """Region -> partition (aws, aws-us-gov), from botocore's bundled endpoint data."""
    session = botocore.session.get_session()
    return {
        region: partition
        for partition in _PARTITIONS
        for region in session.get_available_regions("ec2", partition_name=partition)
    }


def partition_of(region: str) -> str:
    return region_partitions()[region]


def _check_region(value: str) -> str:
    if value not in known_regions():
        raise ValueError(f"unknown AWS region {value!r}")
    return value


# RFC 1918: the only ranges a VPC of this landing zone may use (not 0/8, loopback, link-local, reserved...).
RFC1918_RANGES = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _ipv4_network(value: str) -> ipaddress.IPv4Network:
    """One clear message for each way a CIDR can be wrong: not a CIDR, IPv6, or host bits set."""
    try:
        interface = ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 CIDR like 10.10.0.0/16 (malformed IPv4 CIDR)") from None
    if not isinstance(interface, ipaddress.IPv4Interface):
        raise ValueError(f"{value!r} is an IPv6 range; this field takes IPv4 CIDRs like 10.10.0.0/16")
    if interface.ip != interface.network.network_address:
        raise ValueError(f"{value!r} has host bits set: write the network address, {interface.network}")
    return interface.network


def _check_private_cidr(value: str) -> str:
    network = _ipv4_network(value)
    if not any(network.subnet_of(private) for private in RFC1918_RANGES):
        raise ValueError(
            f"VPC CIDR {value} is not in a private (RFC 1918) range: it must lie inside 10.0.0.0/8,"
            " 172.16.0.0/12 or 192.168.0.0/16"
        )
    if not 16 <= network.prefixlen <= 22:
        raise ValueError(f"VPC CIDR {value} must be between /16 and /22 to fit three tiers in three AZs")
    return str(network)


def _check_ingress_cidr(value: str) -> str:
    return str(_ipv4_network(value))


Region = Annotated[str, AfterValidator(_check_region)]
VpcCidr = Annotated[str, AfterValidator(_check_private_cidr)]
IngressCidr = Annotated[str, AfterValidator(_check_ingress_cidr)]


def _scalar_kind(annotation: Any) -> type | None:
    """bool, int or float when a field holds exactly that scalar (optionally None or Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _scalar_kind(typing.get_args(annotation)[0])
    if origin in (types.UnionType, typing.Union):
        kinds = {_scalar_kind(a) for a in typing.get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    return annotation if annotation in (bool, int, float) else None


def _scalar_problem(kind: type, value: Any) -> str | None:
    if value is None:
        return None
    if kind is bool and not isinstance(value, bool):
        return "must be true or false"
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return "must be a whole number"
    if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "must be a number"
    return None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _strict_scalars(cls, data: Any) -> Any:
        """Booleans and numbers are strict everywhere: pydantic would take "yes", "1" or "8443" (a
        quoted value, so text) for them; a configuration says true/false and numbers unquoted."""
        if not isinstance(data, dict):
            return data
        problems = []
        for name, info in cls.model_fields.items():
            kind = _scalar_kind(info.annotation)
            if kind is None or name not in data:
                continue
            problem = _scalar_problem(kind, data[name])
            if problem:
                quoted = " (in YAML, a quoted value is text)" if isinstance(data[name], str) else ""
                problems.append(f"{name} {problem}, not {data[name]!r}{quoted}")
        if problems:
            raise ValueError("; ".join(problems))
        return data


class RegionConfig(_Frozen):
    """What differs per deployed region: its network and its edge certificate."""

    vpc_cidr: VpcCidr
    certificate_arn: str = Field(description="ACM certificate for the public HTTPS listener in this region.")
    az_suffixes: tuple[str, ...] | None = Field(
        default=None,
        description=(
            "Availability-zone letters to use (for example ['a', 'b']). Defaults to the first"
            " az_count letters; set it where a region's zones are not a, b, c."
        ),
    )

    @field_validator("certificate_arn")
    @classmethod
    def _certificate_arn_shape(cls, value: str) -> str:
        if not _ACM_ARN.match(value):
            raise ValueError(
                "must be an ACM certificate ARN: arn:aws:acm:<region>:<12-digit account>:certificate/<uuid>"
            )
        return value

    @field_validator("az_suffixes")
    @classmethod
    def _az_suffix_shape(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if any(not _AZ_SUFFIX.match(s) for s in value) or len(set(value)) != len(value):
            raise ValueError("must be distinct letters from a to d, for example ['a', 'b']")
        return value


# ELB security policies that negotiate TLS 1.2 or 1.3 only (PCI DSS 4.2.1). The restricted
# ("Res") policies also drop CBC-mode TLS 1.2 ciphers; the "PQ" ones add hybrid post-quantum
# key exchange. Anything older (TLS 1.0/1.1, SHA-1 ciphers) is not offered as a choice.
TlsPolicy = Literal[
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09",
]
# AWS WAF limits for a rate-based rule and what it can see of a body behind an ALB.
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)
WAF_RATE_WINDOWS_SECONDS = (60, 120, 300, 600)
ALB_WAF_BODY_INSPECTION_LIMIT = 8192


class EdgeConfig(_Frozen):
    """The public edge: TLS policy of the HTTPS listener and the WAF's request limits."""

    tls_policy: TlsPolicy = Field(
        default="ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        description="ELB security policy of the HTTPS listener; only TLS 1.2+ policies are accepted.",
    )
    waf_rate_limit: int = Field(
        default=1000,
        description="Requests one client IP may send per rate window before the WAF blocks it.",
    )
    waf_rate_window_seconds: int = Field(default=300, description="Window the rate limit is counted over.")
    max_body_bytes: int = Field(
        default=ALB_WAF_BODY_INSPECTION_LIMIT,
        description="Requests with a larger body are blocked; at most 8192, all WAF sees behind an ALB.",
    )
    alb_log_expiry_days: int = Field(
        default=365,
        description=(
            "Days the load balancer's access and connection logs are kept before S3 Lifecycle expires them. The"
            " access log holds each request line as sent, so a card number a client puts in a URL is stored"
            " there: this is its retention limit (PCI DSS 3.2.1); at least 365 (10.5.1)."
        ),
    )

    @field_validator("waf_rate_limit")
    @classmethod
    def _rate_limit_in_waf_range(cls, value: int) -> int:
        low, high = WAF_RATE_LIMIT_RANGE
        if not low <= value <= high:
            raise ValueError(f"rate limit {value} is outside the {low}..{high} requests AWS WAF accepts")
        return value

    @field_validator("waf_rate_window_seconds")
    @classmethod
    def _rate_window_offered(cls, value: int) -> int:
        if value not in WAF_RATE_WINDOWS_SECONDS:
            raise ValueError(f"AWS WAF counts rates over {WAF_RATE_WINDOWS_SECONDS} seconds only, not {value}")
        return value

    @field_validator("alb_log_expiry_days")
    @classmethod
    def _alb_logs_kept_a_year(cls, value: int) -> int:
        if value < MIN_LOG_RETENTION_DAYS:
            raise ValueError(
                f"{value} days is under the {MIN_LOG_RETENTION_DAYS} days of audit-log history PCI DSS 10.5.1 requires"
            )
        return value

    @field_validator("max_body_bytes")
    @classmethod
    def _body_limit_inspectable(cls, value: int) -> int:
        if not 1 <= value <= ALB_WAF_BODY_INSPECTION_LIMIT:
            raise ValueError(
                f"{value} bytes: must be 1..{ALB_WAF_BODY_INSPECTION_LIMIT}; AWS WAF sees only the first"
                f" {ALB_WAF_BODY_INSPECTION_LIMIT} bytes of a body behind an ALB, so a larger limit is unenforceable"
            )
        return value


# create: this stack creates the account-level singleton; existing: the account already has it (AWS
# Control Tower, Organizations-managed security services) and only what sits on top is added; off: nothing.
DetectiveControlMode = Literal["create", "existing", "off"]
_RENAMED_DETECTIVE_SWITCHES = {
    "config_enabled": "config_mode",
    "security_hub_enabled": "security_hub_mode",
    "guardduty_enabled": "guardduty_mode",
}


# An S3 URI of a conformance pack template; `{region}` stands for each region the pack is deployed in
# (AWS Config reads the template from a bucket in the pack's own region).
_CONFORMANCE_TEMPLATE_URI = re.compile(r"^s3://([a-z0-9{}][a-z0-9.{}-]{1,70}[a-z0-9}])/[^\s]+\.(yaml|yml|json)$")


class ConformancePacksConfig(_Frozen):
    """Which AWS Config conformance packs evaluate the environment after deploy (PCI DSS 11.5.2, 12.4)."""

    project: bool = Field(
        default=True,
        description=(
            "The project's PCI DSS v4.0.1 pack (compliance/conformance/pci-dss-v4.json), whose rules the"
            " crosswalk (pci_rules/CROSSWALK.md) pairs with the synth rules; its IAM password-policy rule alerts."
            " false only with an AWS pack (aws_managed or aws_sample_s3_uri): with neither, no Config rule would"
            " watch what the synth rules checked once deployed."
        ),
    )
    aws_managed: Literal["PCI-DSS_V4"] | None = Field(
        default=None,
        description=(
            "AWS's managed conformance pack, deployed by its source identifier: 'PCI-DSS_V4' is 'Payment Card"
            " Industry Data Security Standard (PCI DSS) v4' (AWS Config Developer Guide, managed conformance"
            " packs; up to 351 rules, which vary by region, maintained and updated by AWS). CloudFormation's"
            " AWS::Config::ConformancePack has no Source property, so a deploy-time PutConformancePack call"
            " (ConformancePackSource.SourceIdentifier) creates it and DeleteConformancePack removes it with the"
            " stack. Beside the project's pack, or alone with project: false; not together with aws_sample_s3_uri."
        ),
    )
    aws_sample_s3_uri: str | None = Field(
        default=None,
        description=(
            'AWS\'s PCI DSS 4.0 sample template ("Conformance Pack Sample Templates", AWS Config Developer Guide),'
            " which this repository does not copy, from a bucket of each region: its S3 URI, {region} standing"
            " for the region: s3://my-config-templates-{region}/Operational-Best-Practices-for-PCI-DSS-4.0.yaml."
            " Prefer aws_managed, which AWS keeps current; this is for a template the owner reviews and pins."
        ),
    )

    @field_validator("aws_sample_s3_uri")
    @classmethod
    def _template_uri(cls, value: str | None) -> str | None:
        if value is not None and not _CONFORMANCE_TEMPLATE_URI.match(value):
            raise ValueError(
                f"{value!r} is not the S3 URI of a conformance pack template (s3://<bucket>/<key>.yaml|.yml|.json;"
                " {region} may stand for the region in the bucket name or key)"
            )
        return value

    @model_validator(mode="after")
    def _one_aws_pack(self) -> Self:
        if self.aws_managed is not None and self.aws_sample_s3_uri is not None:
            raise ValueError(
                "conformance_packs: give aws_managed or aws_sample_s3_uri, not both (both deploy AWS's PCI DSS v4"
                " rules, each under its own rule names)"
            )
        if not self.project and self.aws_managed is None and self.aws_sample_s3_uri is None:
            # Issue 21 MEDIUM 4: the crosswalk names a Config rule watching each synth rule's property after
            # deploy; with no pack at all none would (PCI DSS 11.5.2's change detection, 12.4's reviews).
            raise ValueError(
                "conformance_packs.project: false needs an AWS pack instead: set conformance_packs.aws_managed"
                " (PCI-DSS_V4) or conformance_packs.aws_sample_s3_uri, or leave project true; with none, no"
                " conformance pack is deployed and no Config rule watches what the synth rules checked"
            )
        return self


class AuditConfig(_Frozen):
    """Audit and detection options (PCI DSS 10, 11.5); every default is the stricter choice that still deploys."""

    organization_trail: bool = Field(
        default=False,
        description=(
            "Make the trail an AWS Organizations organization trail (deploy from the management account;"
            " delegated administrators are not supported yet); it then also logs every member account."
            " Needs organization_id."
        ),
    )
    organization_id: str | None = Field(default=None, pattern=r"^o-[a-z0-9]{10,32}$")
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        default="GOVERNANCE",
        description=(
            "S3 Object Lock mode of the log archive. COMPLIANCE: nobody, root included, can shorten or remove"
            " retention; GOVERNANCE: only principals allowed s3:BypassGovernanceRetention can (the bucket"
            " policy denies it to everyone). Choose COMPLIANCE for production once the retention is settled."
        ),
    )
    archive_retention_days: int = Field(
        default=365, description="Object Lock default retention and lifecycle expiry of archived logs."
    )
    s3_data_event_buckets: tuple[str, ...] | None = Field(
        default=None,
        description=(
            "Buckets whose object-level access the trail records (S3 data events). None records every bucket"
            " of the account except the log archive itself; list the cardholder-data buckets to narrow it."
            " A narrowed list fails PCI4-TRAIL-DATA-EVENTS (Security Hub S3.22/S3.23 ask for every bucket)"
            " until the environment acknowledges it with its own reason."
        ),
    )
    lambda_data_event_functions: tuple[str, ...] | None = Field(
        default=None,
        description=(
            "Function ARNs whose invocations the trail records (Lambda data events). None records every"
            " function of the account, so workloads added later are covered without a change here."
        ),
    )
    replica_region: Region | None = Field(
        default=None,
        description=(
            "Region of the log archive's replica. Defaults to the first additional region; set it explicitly"
            " before adding regions, because moving the replica means a new replica stack and bucket."
        ),
    )
    config_mode: DetectiveControlMode = Field(
        default="create",
        description=(
            "AWS Config. create: recorder, delivery channel, history bucket and the PCI conformance pack;"
            " existing: the account already records (Control Tower, Organizations), only the conformance pack"
            " is added; off: nothing."
        ),
    )
    conformance_packs: ConformancePacksConfig = Field(
        default_factory=ConformancePacksConfig,
        description=(
            "The conformance packs AWS Config runs (with config_mode create or existing): the project's, AWS's"
            " managed PCI DSS v4 pack by name (or its sample template from your own bucket), or both. Who owns"
            " the recorder is config_mode's question."
        ),
    )
    security_hub_mode: DetectiveControlMode = Field(
        default="create",
        description=(
            "Security Hub. create: the hub, the PCI DSS v4.0.1 and FSBP standards and (home region) the finding"
            " aggregator; existing: the account is already subscribed, only the two standards are added; off: nothing."
        ),
    )
    guardduty_mode: DetectiveControlMode = Field(
        default="create",
        description=(
            "GuardDuty. create: a detector with S3, RDS login and runtime monitoring; existing: the account has a"
            " detector (one per region), nothing is created and synth notes the features to turn on; off: nothing."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed_detective_switches(cls, data: object) -> object:
        if isinstance(data, dict):
            for old, new in _RENAMED_DETECTIVE_SWITCHES.items():
                if old in data:
                    raise ValueError(
                        f"{old} was replaced by {new}: 'create' | 'existing' | 'off'"
                        f" ({old}: false is {new}: 'off'; under AWS Control Tower choose 'existing')"
                    )
        return data

    @field_validator("archive_retention_days")
    @classmethod
    def _archive_kept_a_year(cls, value: int) -> int:
        if value < MIN_LOG_RETENTION_DAYS:
            raise ValueError(
                f"retention {value} days is under the {MIN_LOG_RETENTION_DAYS} days PCI DSS 10.5.1 requires"
            )
        return value

    @field_validator("s3_data_event_buckets")
    @classmethod
    def _bucket_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("list at least one bucket, or leave it unset to record every bucket")
        bad = [name for name in value if not _S3_BUCKET_NAME.match(name)]
        if bad:
            raise ValueError(f"not S3 bucket names: {bad}")
        return value

    @field_validator("lambda_data_event_functions")
    @classmethod
    def _function_arns(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("list at least one function ARN, or leave it unset to record every function")
        bad = [arn for arn in value if not _LAMBDA_FUNCTION_ARN.match(arn)]
        if bad:
            raise ValueError(f"not Lambda function ARNs (arn:aws:lambda:<region>:<account>:function:<name>): {bad}")
        return value

    @model_validator(mode="after")
    def _packs_need_config(self) -> Self:
        packs = self.conformance_packs
        if self.config_mode == "off":
            for name, value in (("aws_managed", packs.aws_managed), ("aws_sample_s3_uri", packs.aws_sample_s3_uri)):
                if value is not None:
                    raise ValueError(
                        f"conformance_packs.{name} needs AWS Config: set config_mode to create or existing"
                    )
        return self

    @model_validator(mode="after")
    def _organization_trail_needs_an_id(self) -> Self:
        if self.organization_trail and self.organization_id is None:
            raise ValueError("organization_trail needs organization_id (o-...) for the trail bucket policy")
        return self


class DatabaseConfig(_Frozen):
    """The CDE PostgreSQL database of each region (PCI DSS 3.5, 8.6, 10.2)."""

    instance_type: str = Field(
        default="m7g.large", description="RDS instance class without the 'db.' prefix, for example 'r7g.large'."
    )
    allocated_storage_gib: int = Field(default=100, ge=20, le=65536)
    max_allocated_storage_gib: int = Field(
        default=500, ge=20, le=65536, description="Ceiling for storage autoscaling; equal to allocated to disable it."
    )
    backup_retention_days: int = Field(
        default=MIN_BACKUP_RETENTION_DAYS,
        ge=MIN_BACKUP_RETENTION_DAYS,
        le=35,
        description="Automated backups kept this many days (RDS allows up to 35).",
    )
    credential_rotation_days: int = Field(
        default=MAX_CREDENTIAL_ROTATION_DAYS,
        ge=1,
        le=MAX_CREDENTIAL_ROTATION_DAYS,
        description="Days between automatic rotations of the master password.",
    )
    enable_proxy: bool = Field(
        default=True, description="Put an RDS Proxy (TLS and IAM authentication required) in front of the database."
    )
    proxy_max_connections_percent: int = Field(
        default=90,
        ge=1,
        le=100,
        description=(
            "Ceiling of the RDS proxy's connections to the database, in percent of its max_connections; it"
            " bounds the functions' connections whatever card_vault.reserved_concurrency reserves."
        ),
    )
    database_name: str = Field(default="cde", pattern=r"^[a-z][a-z0-9_]{0,62}$")

    @field_validator("instance_type")
    @classmethod
    def _instance_type_shape(cls, value: str) -> str:
        if not _INSTANCE_TYPE.match(value):
            raise ValueError(f"{value!r} is not an instance class like 'm7g.large' (leave out the 'db.' prefix)")
        return value

    @model_validator(mode="after")
    def _storage_ceiling(self) -> Self:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError(
                f"max_allocated_storage_gib {self.max_allocated_storage_gib} is below"
                f" allocated_storage_gib {self.allocated_storage_gib}"
            )
        return self


REPO_ROOT = Path(__file__).resolve().parent.parent
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")
_CERT_SUBJECT = re.compile(r"^(?:[A-Za-z.0-9]+=[^,]+)(?:,[A-Za-z.0-9]+=[^,]+)*$")
DEMO_CLIENT_CA_BUNDLE = "config/certs/demo-client-ca.pem"


# "Configuring reserved concurrency for a function" (Lambda Developer Guide): an account can reserve
# up to its concurrency quota minus 100, the unreserved pool Lambda keeps for functions that reserve
# none. The one figure every check and message of this repository uses.
LAMBDA_MIN_UNRESERVED_CONCURRENCY = 100


VaultRight = Literal["tokenize", "lookup", "dispose", "update"]
_ALIAS_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")


def detokenize_alias_name(role_arn: str) -> str:
    """The detokenize alias a caller role invokes (the same rule as pci_constructs.card_vault.detokenize_alias_name,
    which a test compares): `caller-` and the role's name, path dropped, other characters `-`, at most 128."""
    return ("caller-" + _ALIAS_CHARACTERS.sub("-", role_arn.rsplit("/", 1)[-1]))[:128]


_S3_BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class VaultClient(_Frozen):
    """One client of the card-vault API: its certificate, its token domain and its rights (7.2, 8.3)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$", description="Client ID: the token domain its cards belong to.")
    subject: str = Field(description="Client-certificate subject (RFC 2253, as the ALB writes it).")
    issuer: str = Field(description="Subject of the CA that issued the client certificate (RFC 2253).")
    rights: tuple[VaultRight, ...] = Field(
        min_length=1,
        description="What the client may do: tokenize, lookup (masked view), dispose, update (expiry, name).",
    )
    tokenize_per_minute: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description=(
            "Cards this client may tokenize in any 60 seconds (a sliding window; every instance shares it); unset:"
            " the vault's default."
        ),
    )
    known_card_alarm_percent: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Alarm when this share of the client's tokenize answers is 'already stored'; unset: the default.",
    )
    new_card_alarm_count: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="New cards per alarm period that alarm for this client; unset: card_search.new_card_alarm_count.",
    )

    @field_validator("subject", "issuer")
    @classmethod
    def _distinguished_name(cls, value: str) -> str:
        if not _CERT_SUBJECT.match(value):
            raise ValueError(f"{value!r} is not a distinguished name like 'CN=client,O=Example'")
        return value

    @field_validator("rights")
    @classmethod
    def _distinct_rights(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists a right more than once")
        return value


class VaultKnownCardAlarm(_Frozen):
    """When a client's tokenize answers say "already stored" too often (issue 19 finding 2).

    A client searching for card numbers with tokenize and lookup (trying digits until one is
    stored) gets mostly known-card answers for its probes of stored cards; an ordinary client
    sends mostly new cards. The alarm compares the known share over `period_minutes` with the
    client's threshold once at least `min_answers` answers were given.
    """

    percent: int = Field(default=50, ge=1, le=100, description="Known-card share (percent) that alarms.")
    min_answers: int = Field(default=100, ge=1, le=1_000_000, description="Answers needed before the share counts.")
    period_minutes: Literal[1, 5, 10, 15, 30, 60] = Field(default=15, description="Evaluation period.")


class VaultCardSearchGuard(_Frozen):
    """Bounds on the middle-digit search (red-team r19 F1): a client trying the middle digits of a card it
    knows the first six and last four of gets almost only new cards (201), so the known-card share
    never alarms. A new card sharing first six and last four with another card of the same client is
    a "sibling"; past `max_siblings` per pair in `window_minutes`, every tokenize of that pair (stored
    card or not) gets 429 and nothing is stored. Expiry is not part of the pair: duplicates are
    matched on the number alone, so a searcher could vary the expiry freely.
    """

    max_siblings: int = Field(
        default=10, ge=1, le=100_000, description="Sibling cards per first six and last four and window before 429."
    )
    window_minutes: Literal[5, 10, 15, 30, 60, 120, 240, 720, 1440] = Field(
        default=60, description="The fixed window the sibling count covers."
    )
    sibling_alarm_count: int = Field(
        default=5,
        ge=1,
        le=1_000_000,
        description="A client's sibling cards per alarm period (known_card_alarm.period_minutes) that alarm.",
    )
    new_card_alarm_count: int = Field(
        default=5000,
        ge=1,
        le=10_000_000,
        description="A client's new cards per alarm period that alarm (unless the client sets its own).",
    )


_REQUIREMENT_PATTERN = r"^PCI DSS v4\.0\.1 \d{1,2}(\.\d{1,2}){0,3}(, \d{1,2}(\.\d{1,2}){0,3})*$"


class _GovernanceFields(_Frozen):
    """Governance of an accepted risk (PCI DSS v4.0.1 12.3.1); "pending" where not known yet."""

    owner: str = Field(min_length=3, description="The accountable person or team (the risk owner).")
    approver: str = Field(
        default=PENDING, min_length=3, description="Who approved the risk, never the owner; 'pending' until known."
    )
    approval_date: date | Literal["pending"] = Field(
        default=PENDING, description="ISO date of the approval, or 'pending'."
    )
    ticket: str = Field(default=PENDING, min_length=3, description="Change or risk record, or 'pending'.")
    review_by: date = Field(description="ISO date of the next review, at most 12 months ahead (PCI DSS 12.3.1).")


class VaultClientCrlWaiver(_GovernanceFields):
    """The accepted risk of a mutual-TLS trust store with no certificate revocation list (PCI DSS v4.0.1 12.3.1).

    Without a CRL the load balancer accepts a revoked client certificate until it expires ("Mutual
    authentication with TLS in Application Load Balancer", certificate revocation: ELB checks revocation only
    against the CRLs added to the trust store). Set this when `card_vault.client_crl` cannot be yet, with
    who owns the risk (`owner`), who approved it (`approver`, never the owner, compared case-insensitively;
    'pending' until known), when and under which record, why (`reason`, specific) and the next review
    (`review_by`: not passed and at most 12 months ahead of the day the configuration is loaded). The rules
    are the acknowledgment registry's (pci_constructs/governance.py). The evidence's TLS work paper prints
    the waiver beside the listener; `make preflight` warns with its owner and review date.
    """

    reason: str = Field(
        min_length=40,
        description=(
            "Why the trust store checks no revocation yet: specific, at least 40 characters (for example, no"
            " client PKI issuing CRLs exists yet, and what limits the exposure meanwhile)."
        ),
    )

    @model_validator(mode="after")
    def _governance(self) -> Self:
        problem = reason_problem(self.reason)
        if problem is not None:
            raise ValueError(problem)
        found = governance_findings(
            owner=self.owner,
            approver=self.approver,
            approval_date=self.approval_date,
            ticket=self.ticket,
            review_by=self.review_by,
            today=date.today(),
        )
        if found:
            raise ValueError("; ".join(message for _, message in found))
        return self


class VaultClientCrl(_Frozen):
    """A certificate revocation list (PEM, signed by a CA of the trust store) in a versioned S3 bucket.

    The load balancer reads the object once, when CloudFormation adds it to the trust store
    (`AWS::ElasticLoadBalancingV2::TrustStoreRevocation`); a changed `version` replaces the
    revocation resource, which is how a new CRL reaches the load balancer.
    """

    bucket: str = Field(
        description=(
            "S3 bucket (versioning on) holding the CRL; the deploying role must read it. In the home region: the"
            " daily check reads it there through the S3 gateway endpoint (SSE-KMS: set kms_key_arn)."
        )
    )
    key: str = Field(min_length=1, max_length=1024, description="Object key of the PEM-encoded CRL.")
    version: str = Field(
        min_length=1,
        max_length=1024,
        description="S3 object version of the CRL: each new CRL is a new version, written here to deploy it.",
    )
    warn_days_before_next_update: int = Field(
        default=14,
        ge=0,
        le=365,
        description=(
            "make preflight warns when the CRL's nextUpdate is this many days away or fewer (and fails once it"
            " has passed), and so does the daily check's alarm between deploys (card_vault.crl_check, home"
            " region): the load balancer never fetches the list again, so a new CRL is a new object version"
            " and a deploy."
        ),
    )

    kms_key_arn: str | None = Field(
        default=None,
        description=(
            "The KMS key of an SSE-KMS bucket (a key ARN, in the home region): the daily check's role gets"
            " kms:Decrypt on it through S3 only (kms:ViaService). The key's policy must let this account's IAM"
            " policies grant it (the default key policy does); a key of another account must name the check's"
            " role in its own policy. Null: the bucket uses SSE-S3 or no encryption."
        ),
    )

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not _S3_BUCKET_NAME.match(value):
            raise ValueError(f"{value!r} is not an S3 bucket name")
        return value

    @field_validator("kms_key_arn")
    @classmethod
    def _key_arn(cls, value: str | None) -> str | None:
        if value is not None and not _KMS_KEY_ARN.match(value):
            raise ValueError(f"{value!r} is not a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)")
        return value


class VaultShredEpochs(_Frozen):
    """Crypto-shredding of deleted cards (issue 19 finding 8): per-period KMS keys for the vault's data keys.

    Each listed epoch is its own retained KMS key (`alias/pci-lz/<env>/card-vault-shred-epoch-<n>`); the
    highest wraps every new data key. The Keys function runs daily: it seals the live cards of older epochs
    again under the current one, deletes their old data keys, and once an older epoch has held no card
    and no data key for `database.backup_retention_days` (every WAL, snapshot and PITR copy of a card
    deleted in it then refers only to that epoch's key) it answers that epoch `due`, and a key administrator
    schedules the key's deletion with `deletion_window_days` (the permissions boundary denies the Keys role
    `kms:ScheduleKeyDeletion`). After the window every copy of those cards is undecryptable
    ("ScheduleKeyDeletion", AWS KMS API Reference: "all data that was encrypted under the KMS key is
    unrecoverable"). To start a new epoch add the next number and deploy; drop an old number once the job
    reports it `pending_deletion` (the key resource is retained, CloudFormation deletes nothing).
    """

    epochs: tuple[int, ...] = Field(
        default=(1,),
        min_length=1,
        max_length=4,
        description="Shred epochs held (1-9999, each once); the highest is current, older ones drain.",
    )
    epoch_days: int = Field(
        default=90,
        ge=7,
        le=3650,
        description="The current epoch's cryptoperiod in days: past it the Keys job reports new_epoch_due.",
    )
    deletion_window_days: int = Field(
        default=30,
        ge=7,
        le=30,
        description="KMS's waiting period (7-30 days) a key administrator gives a drained epoch's key; cancellable.",
    )
    schedule_hour_utc: int = Field(default=4, ge=0, le=23, description="Hour (UTC) of the daily reseal-and-shred run.")

    @field_validator("epochs")
    @classmethod
    def _epochs(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists an epoch more than once")
        if not all(1 <= v <= 9999 for v in value):
            raise ValueError("each epoch must be 1-9999")
        return value

    @property
    def current(self) -> int:
        """The epoch whose key wraps new data keys."""
        return max(self.epochs)


class VaultReservedConcurrency(_Frozen):
    """Reserved concurrent executions per vault function (per region); null reserves none.

    A reservation caps the function (and so its database connections and blast radius) and takes
    that many executions out of the region's pool, which Lambda never lets fall below
    `LAMBDA_MIN_UNRESERVED_CONCURRENCY`: the account's concurrency quota must be at least that plus
    the total (`make preflight` checks it). A small account lowers or drops them; the database
    connection ceiling is then kept by the RDS proxy's own limit (`database.proxy_max_connections_percent`).
    """

    api: int | None = Field(default=20, ge=1, le=1000, description="The API behind the ALB.")
    detokenize: int | None = Field(default=5, ge=1, le=1000, description="The detokenize function.")
    purge: int | None = Field(default=1, ge=1, le=10, description="The daily purge.")
    migration: int | None = Field(
        default=1, ge=1, le=1, description="The deploy-time migration (at most one at a time; yoyo also locks)."
    )

    @property
    def total(self) -> int:
        return sum(v for v in (self.api, self.detokenize, self.purge, self.migration) if v is not None)


class CardVaultConfig(_Frozen):
    """The card-vault reference workload in lambda/ (PCI DSS 3.2-3.7, 7.2, 8.3, 10.2), one per region."""

    enabled: bool = Field(
        default=True,
        description="Deploy the card vault (through the RDS proxy, or straight to the instance when it is off).",
    )
    client_ca_bundle: str = Field(
        default=DEMO_CLIENT_CA_BUNDLE,
        description=(
            "PEM file (path from the repository root) of the CA certificates the ALB trusts for client"
            " certificates (mutual TLS, verify mode). Public certificates only. The default is a demonstration"
            " CA whose private key was discarded: replace it before real use."
        ),
    )
    clients: tuple[VaultClient, ...] = Field(
        default=(
            VaultClient(
                id="payments",
                subject="CN=payments-client,OU=Payments,O=PCI Landing Zone Demo",
                issuer="CN=PCI Landing Zone Demo Client CA,O=PCI Landing Zone Demo,C=GB",
                rights=("tokenize", "lookup", "dispose"),
            ),
        ),
        min_length=1,
        max_length=20,
        description=(
            "The API's clients: each client certificate's subject and issuer (RFC 2253, as the ALB writes"
            " them) map to a client ID, the client's own token domain (it never sees, learns of or deletes"
            " another client's cards), with the rights granted to it, each separately."
        ),
    )
    tokenize_per_minute: int = Field(
        default=600,
        ge=1,
        le=100_000,
        description=(
            "Default tokenize budget per client (cards in any 60 seconds: a sliding window of one-second buckets"
            " kept in the database, so every instance shares it); over it the API answers 429 with Retry-After"
            " and stores nothing."
        ),
    )
    known_card_alarm: VaultKnownCardAlarm = Field(
        default_factory=VaultKnownCardAlarm,
        description="A CloudWatch alarm per client on the share of tokenize answers that were already stored.",
    )
    card_search: VaultCardSearchGuard = Field(
        default_factory=VaultCardSearchGuard,
        description=(
            "The middle-digit search bound: sibling cards (same first six and last four) per client, pair and"
            " window before 429, and the per-client sibling and new-card volume alarms."
        ),
    )
    detokenize_per_minute: int = Field(
        default=30,
        ge=1,
        le=100_000,
        description=(
            "Detokenizations each caller role may make per minute (each invokes its own alias of the function,"
            " caller-<role name>; every instance shares the budget); over it the answer is a rate-limit error"
            " and nothing is read."
        ),
    )
    detokenize_alarm_count: int = Field(
        default=200,
        ge=1,
        le=10_000_000,
        description="A caller's detokenizations per known_card_alarm period that alarm (Invocations of its alias).",
    )
    generate_mac_alarm_margin: int = Field(
        default=100,
        ge=1,
        le=10_000_000,
        description=(
            "KMS GenerateMac requests (CloudTrail, home region) per known_card_alarm period beyond one per card"
            " tokenized and HMAC key version that alarm: a search of card numbers with the API role's"
            " keyed-hash right outside the vault's code (a re-hash job also passes it)."
        ),
    )
    client_crl: VaultClientCrl | None = Field(
        default=None,
        description=(
            "Certificate revocation list for client certificates, added to the ALB trust store. With the vault"
            " enabled, set exactly one of client_crl and client_crl_waiver."
        ),
    )
    client_crl_waiver: VaultClientCrlWaiver | None = Field(
        default=None,
        description=(
            "The accepted risk of no client CRL (a revoked client certificate is accepted until it expires):"
            " owner, approver (never the owner), approval date, ticket, review_by (at most 12 months ahead) and"
            " reason. With the vault enabled, set exactly one of client_crl and client_crl_waiver."
        ),
    )
    detokenize_caller_role_arns: tuple[str, ...] = Field(
        min_length=1,
        max_length=5,
        description="IAM roles (existing, of this account) allowed to invoke the detokenize function.",
    )
    purge_grace_days: int = Field(
        default=30, ge=0, le=365, description="Days after a card's expiry month before the scheduled purge deletes it."
    )
    purge_schedule_hour_utc: int = Field(default=3, ge=0, le=23, description="Hour (UTC) of the daily purge.")
    listener_rule_priority: int = Field(default=100, ge=1, le=50000, description="Priority of the /v1/* ALB rule.")
    hmac_key_versions: tuple[int, ...] = Field(
        default=(1,),
        min_length=1,
        max_length=2,
        description=(
            "Versions of the keyed-hash KMS key (HMAC_256, duplicate detection) the vault holds; the highest is"
            " current. KMS never rotates HMAC keys: to rotate, add the next version (two during the rotation),"
            " deploy, run the key-maintenance function's re-hash job until it answers more: false, then drop"
            " the old version (its key is retained: schedule its deletion). Each version is its own key."
        ),
    )
    decrypt_cache_max_age_seconds: int = Field(
        default=300,
        ge=1,
        le=3600,
        description=(
            "Seconds an unwrapped data key stays cached in a function: disabling the cardholder-data key stops"
            " warm detokenization within this time."
        ),
    )
    shred_epochs: VaultShredEpochs | None = Field(
        default=None,
        description=(
            "Crypto-shredding of deleted cards: per-period KMS keys for the data keys, drained by the daily Keys"
            " run and reported due for deletion once the backup retention has passed. Default: none (data keys under"
            " the cardholder-data key; deleted cards stay readable in WAL, snapshots and PITR for the retention)."
        ),
    )
    reserved_concurrency: VaultReservedConcurrency = Field(
        default_factory=VaultReservedConcurrency,
        description=(
            "Reserved concurrent executions per function and region (null: none). The account's Lambda"
            f" concurrency quota must be at least {LAMBDA_MIN_UNRESERVED_CONCURRENCY} plus their total"
            " in every region (checked by make preflight)."
        ),
    )

    @model_validator(mode="after")
    def _revocation_decided(self) -> Self:
        """Revocation is configured or its absence is an accepted risk; never silently absent, never both."""
        if not self.enabled:
            return self
        if self.client_crl is None and self.client_crl_waiver is None:
            raise ValueError(
                "client_crl: set card_vault.client_crl (the client CA's CRL in S3) or card_vault.client_crl_waiver"
                " (the accepted risk: owner, approver, approval_date, ticket, review_by, reason); without either"
                " the load balancer would accept a revoked client certificate and nothing would say so"
            )
        if self.client_crl is not None and self.client_crl_waiver is not None:
            raise ValueError(
                "client_crl_waiver: card_vault.client_crl is set, so revocation is checked: delete"
                " card_vault.client_crl_waiver (set exactly one of the two)"
            )
        return self

    @field_validator("hmac_key_versions")
    @classmethod
    def _hmac_versions(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists a version more than once")
        if not all(1 <= v <= 1000 for v in value):
            raise ValueError("each version must be 1-1000")
        return value

    @field_validator("client_ca_bundle")
    @classmethod
    def _bundle_is_public_pem(cls, value: str) -> str:
        path = (REPO_ROOT / value).resolve()
        if not path.is_file():
            raise ValueError(f"{value}: no such file (a path from the repository root)")
        text = path.read_text(encoding="utf-8", errors="replace")
        if "PRIVATE KEY" in text:
            raise ValueError(f"{value}: holds a private key; ship the public CA certificates only")
        if not _PEM_CERTIFICATE.search(text):
            raise ValueError(f"{value}: no PEM certificate in it")
        return value

    @field_validator("clients")
    @classmethod
    def _clients_are_distinct(cls, value: tuple[VaultClient, ...]) -> tuple[VaultClient, ...]:
        if len({c.id for c in value}) != len(value):
            raise ValueError("lists a client ID more than once")
        if len({(c.subject, c.issuer) for c in value}) != len(value):
            raise ValueError("lists a certificate subject and issuer more than once")
        return value

    @field_validator("detokenize_caller_role_arns")
    @classmethod
    def _callers_are_role_arns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not _ROLE_ARN.match(arn):
                raise ValueError(f"{arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
        # Each caller invokes its own alias, caller-<role name> (pci_constructs/card_vault.py
        # detokenize_alias_name): two roles giving one alias name could not be told apart.
        aliases = [detokenize_alias_name(arn) for arn in value]
        repeated = sorted({a for a in aliases if aliases.count(a) > 1})
        if repeated:
            raise ValueError(f"two roles give the detokenize alias name {repeated[0]!r}: name them apart")
        return value


# IAM principals an operator role may trust (PCI DSS 7.2, 8.4). Each form carries different
# condition keys on its assume-role path (IAM User Guide, "AWS global condition context keys"):
# an IAM user or role calls sts:AssumeRole and its session carries aws:MultiFactorAuthPresent when
# MFA was used; IAM Identity Center permission-set roles and SAML sessions come from a federation
# (AssumeRoleWithSAML) whose sessions never carry the key, so MFA is enforced at the identity provider.
_IAM_ROLE_OR_USER_ARN = re.compile(
    r"^arn:aws(?:-us-gov)?:iam::(?P<account>\d{12}):(?P<kind>role|user)/(?!aws-reserved/)[\w+=,.@/-]{1,512}$"
)
# IAM Identity Center permission-set roles ("Referencing permission sets in resource policies, Amazon EKS,
# and AWS KMS", IAM Identity Center User Guide): arn:<partition>:iam::<account>:role/aws-reserved/
# sso.amazonaws.com/<region>/AWSReservedSSO_<permission set>_<suffix>, the region being the Identity Center
# instance's. Instances in us-east-1 are widely reported to create their roles without the region segment
# (AWS re:Post "AWS Identity Center assumed role principals"), so a trust pattern must match both forms.
# Permission-set names are 1-32 characters of [\w+=,.@-] (AWS::SSO::PermissionSet Name), so the role name
# AWSReservedSSO_<name>_<suffix> fits IAM's 64.
_IDENTITY_CENTER_ROLE = re.compile(
    r"^arn:(?P<partition>aws(?:-us-gov)?):iam::(?P<account>\d{12}):role/aws-reserved/sso\.amazonaws\.com/"
    r"(?:(?P<region>[^/]+)/)?AWSReservedSSO_(?P<permission_set>[\w+=,.@-]{1,32})_\*$"
)
IDENTITY_CENTER_HOME_WITHOUT_REGION = "us-east-1"
_SAML_PROVIDER_ARN = re.compile(r"^arn:aws(?:-us-gov)?:iam::(?P<account>\d{12}):saml-provider/[\w.-]{1,128}$")
PRINCIPAL_FORMS = (
    "an IAM role or user ARN (arn:aws:iam::<account>:role/<name> or :user/<name>; MFA required in the trust)",
    "an IAM Identity Center permission-set role pattern"
    " (arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/[<region>/]AWSReservedSSO_<PermissionSet>_*)",
    "a SAML provider ARN (arn:aws:iam::<account>:saml-provider/<name>)",
)
MAX_OPERATOR_SESSION_SECONDS = 3600  # PCI DSS 8.2.8: re-authenticate after 15 minutes idle; sessions end within 1 h


def principal_kind(value: str) -> Literal["iam", "identity_center", "saml"]:
    """Which assume-role path a configured principal takes; ValueError naming the accepted forms."""
    if _IAM_ROLE_OR_USER_ARN.match(value):
        return "iam"
    if found := _IDENTITY_CENTER_ROLE.match(value):
        _identity_center_region_can_match(value, found["partition"], found["region"])
        return "identity_center"
    if _SAML_PROVIDER_ARN.match(value):
        return "saml"
    raise ValueError(f"{value!r} is not a known principal form; use one of: " + "; ".join(PRINCIPAL_FORMS))


def _identity_center_region_can_match(value: str, partition: str, region: str | None) -> None:
    """A region segment that is no region of the ARN's partition names a path IAM Identity Center never
    creates: the trust could never match, so the pattern is refused."""
    if region is None:
        return
    if region not in known_regions():
        raise ValueError(
            f"{value!r} can never match: {region!r} is not an AWS region, and IAM Identity Center puts only its"
            " instance's region between sso.amazonaws.com/ and AWSReservedSSO_ (or nothing: omit the segment to"
            " match the instance in any region)"
        )
    if partition_of(region) != partition:
        raise ValueError(
            f"{value!r} can never match: region {region!r} is in partition {partition_of(region)!r}, the ARN in"
            f" {partition!r}"
        )


def identity_center_trust_patterns(value: str) -> tuple[str, ...]:
    """The aws:PrincipalArn patterns a trust needs so that a configured permission-set pattern matches its
    roles in every case: without a region segment, the region-less form and any region; with one, that
    region (and, for us-east-1, also the region-less form its instances are reported to use)."""
    found = _IDENTITY_CENTER_ROLE.match(value)
    if found is None:
        raise ValueError(f"{value!r} is not an IAM Identity Center permission-set role pattern")
    head = value[: found.start("permission_set") - len("AWSReservedSSO_")]
    if found["region"] is not None:
        head = head[: -len(found["region"]) - 1]
    role = f"AWSReservedSSO_{found['permission_set']}_*"
    if found["region"] is None:
        return (f"{head}{role}", f"{head}*/{role}")
    if found["region"] == IDENTITY_CENTER_HOME_WITHOUT_REGION:
        return (f"{head}{found['region']}/{role}", f"{head}{role}")
    return (value,)


def _check_principals(value: tuple[str, ...]) -> tuple[str, ...]:
    for principal in value:
        principal_kind(principal)
    if len(set(value)) != len(value):
        raise ValueError("lists a principal more than once")
    return value


OperatorPrincipals = Annotated[tuple[str, ...], AfterValidator(_check_principals)]


class IdentityConfig(_Frozen):
    """Operator roles, password policy and IAM Access Analyzer (PCI DSS 7.2, 8.2-8.6)."""

    administrator_principals: OperatorPrincipals = Field(
        default=(),
        description="Who may assume the platform administrator role (no cardholder-data decryption). Empty: no role.",
    )
    auditor_principals: OperatorPrincipals = Field(
        default=(), description="Who may assume the read-only security auditor / assessor role. Empty: no role."
    )
    break_glass_principals: OperatorPrincipals = Field(
        default=(),
        description="Who may assume the break-glass role; every use alarms on the alerts topic. Empty: no role.",
    )
    session_duration_seconds: int = Field(
        default=MAX_OPERATOR_SESSION_SECONDS,
        ge=900,
        le=MAX_OPERATOR_SESSION_SECONDS,
        description="Maximum session of every operator role, 900-3600 seconds.",
    )
    password_min_length: int = Field(default=14, ge=12, le=128, description="PCI DSS 8.3.6 needs at least 12.")
    password_reuse_prevention: int = Field(
        default=24,
        ge=24,
        le=24,
        description=(
            "PCI DSS 8.3.7 asks no reuse of the last 4; Security Hub IAM.16 (PCI DSS v4.0.1 standard) fails any"
            " value but 24, the most IAM remembers."
        ),
    )
    password_max_age_days: int = Field(default=90, ge=1, le=90, description="PCI DSS 8.3.9: at most 90 days.")
    unused_access_analyzer: bool = Field(
        default=False,
        description=(
            "Also run an IAM Access Analyzer unused-access analyzer (home region; billed per IAM role and user"
            " analysed per month)."
        ),
    )
    unused_access_age_days: int = Field(default=90, ge=1, le=365)
    access_analyzer_mode: Literal["create", "existing"] = Field(
        default="create",
        description=(
            "create: an external-access analyzer per region (and the unused-access one when asked); existing:"
            " the account already has them (console, AWS Control Tower or an organization baseline) and none is"
            " created. IAM Access Analyzer allows one account analyzer per type and region, not adjustable."
        ),
    )


DEFAULT_EGRESS_DOMAINS = (
    # A placeholder payment processor: replace with the processors and services the workload really calls.
    ".payments.example.net",
)
_DOMAIN = re.compile(r"^\.?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class EgressConfig(_Frozen):
    """Egress from the application tier to the internet (PCI DSS 1.3.2, 1.4.1, 1.5)."""

    mode: Literal["firewall", "nat"] = Field(
        default="firewall",
        description=(
            "firewall: AWS Network Firewall per AZ between the application tier and the NAT gateways, allowing"
            " only allowed_domains; nat: NAT gateways only (any HTTPS destination). Choose before the first"
            " deploy: switching moves the NAT gateways (new egress addresses)."
        ),
    )
    allowed_domains: tuple[str, ...] = Field(
        default=DEFAULT_EGRESS_DOMAINS,
        min_length=1,
        max_length=500,
        description=(
            "Destination domains the firewall lets through (TLS SNI, HTTP Host). A leading dot allows the"
            " domain and every subdomain. AWS APIs the tiers use go through VPC endpoints, not this list."
        ),
    )

    @field_validator("allowed_domains")
    @classmethod
    def _domain_shape(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [domain for domain in value if not _DOMAIN.match(domain)]
        if bad:
            raise ValueError(f"not lower-case domain names (optionally with a leading dot): {bad}")
        if len(set(value)) != len(value):
            raise ValueError("lists a domain more than once")
        return value


_OU_ID = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")


class GuardrailsConfig(_Frozen):
    """Optional AWS Organizations service control policies, deployed from the management account."""

    organization_unit_ids: tuple[str, ...] = Field(
        default=(),
        description=("Organizational units (ou-...) or the root (r-...) the SCPs attach to. Empty: no SCP is created."),
    )
    management_account: str | None = Field(
        default=None,
        description="Account the guardrails stack deploys to (the organization's management account).",
    )
    allowed_regions: tuple[Region, ...] | None = Field(
        default=None,
        description="Regions the region SCP leaves open (default: the configured regions); must hold the home region.",
    )
    exempt_role_patterns: tuple[str, ...] = Field(
        # arn:* so the exemption holds in every partition (aws, aws-us-gov) the configuration accepts.
        default=("arn:*:iam::*:role/cdk-*-cfn-exec-role-*",),
        description=(
            "Principal ARN patterns the SCPs do not apply to: the CloudFormation execution role that deploys"
            " the landing zone (it updates the trail, Config and the account guards)."
        ),
    )

    @field_validator("organization_unit_ids")
    @classmethod
    def _ou_shape(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [ou for ou in value if not _OU_ID.match(ou)]
        if bad:
            raise ValueError(f"not organizational unit (ou-...) or root (r-...) IDs: {bad}")
        return value

    @field_validator("management_account")
    @classmethod
    def _management_account_shape(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT_ID.match(value):
            raise ValueError("AWS account ID must be exactly 12 digits")
        return value

    @field_validator("exempt_role_patterns")
    @classmethod
    def _exempt_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [p for p in value if not re.match(r"^arn:(aws|aws-us-gov|\*):iam::(\d{12}|\*):role/[\w+=,.@/*-]+$", p)]
        if bad:
            raise ValueError(
                f"not IAM role ARN patterns (arn:<aws, aws-us-gov or *>:iam::<account or *>:role/<name>): {bad}"
            )
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.organization_unit_ids)


_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class EvidenceConfig(_Frozen):
    """Attribution of the assessor evidence (evidence/report.py): who prepared and approved it, the
    last recorded review, and the AWS PCI DSS Attestation of Compliance relied on. Every field is
    optional; the evidence prints "pending" (or "none recorded", "unverified") until it is set."""

    preparer: str | None = Field(default=None, min_length=3, description="Who prepares the evidence (name, role).")
    approver: str | None = Field(
        default=None, min_length=3, description="Who approves it: a person other than the preparer."
    )
    approval_date: date | None = Field(default=None, description="ISO date of the approval.")
    last_review_date: date | None = Field(
        default=None, description="ISO date of the last review of the network and data-flow evidence (1.2.7)."
    )
    last_reviewed_commit: str | None = Field(
        default=None, description="The 40-hex git commit that review examined; the evidence shows what changed since."
    )
    reviewed_rule_review: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Path, relative to the repository root, of the rule review (workpapers/rule-review.json of that commit's"
            " synth) the last review examined; the rule review lists the rules added, removed and changed since."
        ),
    )
    aws_aoc_edition: str | None = Field(
        default=None,
        min_length=3,
        description="Edition of the AWS PCI DSS Attestation of Compliance relied on (from AWS Artifact).",
    )
    aws_aoc_date: date | None = Field(default=None, description="ISO date of that Attestation of Compliance.")

    @field_validator("last_reviewed_commit")
    @classmethod
    def _full_commit(cls, value: str | None) -> str | None:
        if value is not None and not _COMMIT.match(value):
            raise ValueError("must be a full 40-character lowercase git commit hash")
        return value

    @model_validator(mode="after")
    def _approver_is_not_the_preparer(self) -> Self:
        if self.approver and self.preparer and self.approver.casefold() == self.preparer.casefold():
            raise ValueError("approver must be a person other than the preparer")
        if self.approval_date and not self.approver:
            raise ValueError("approval_date needs an approver")
        if self.last_reviewed_commit and not self.last_review_date:
            raise ValueError("last_reviewed_commit needs last_review_date")
        if self.reviewed_rule_review is not None:
            if not self.last_reviewed_commit:
                raise ValueError("reviewed_rule_review needs last_reviewed_commit")
            parts = self.reviewed_rule_review.replace("\\", "/").split("/")
            if (
                self.reviewed_rule_review.startswith("/")
                or ".." in parts
                or not self.reviewed_rule_review.endswith(".json")
            ):
                raise ValueError("reviewed_rule_review must be a relative path to a .json file inside the repository")
        return self


class EnvironmentAcknowledgment(_GovernanceFields):
    """A finding this environment's owner accepts, applied to every stack of this environment's scope.

    Same model as the project's registry (compliance/acknowledgments.yaml). Only the shape is
    checked here; the compliance gate checks the rule ID, the predicate and condition names, that
    review_by has not passed and is at most 12 months ahead, and that the rule may be acknowledged.
    """

    path: str = Field(
        min_length=3,
        pattern=r"^[^/\s]+/[^\s]+$",
        description="Construct path pattern inside a stack ('*' = one segment): 'PciLz-test-Audit-*/LogArchive'.",
    )
    rule: str = Field(
        min_length=3, description="Rule ID with any finding sub-ID, e.g. 'PCI.DSS.321-S3BucketReplicationEnabled'."
    )
    resource_type: str | None = Field(
        default=None, description="Only rendered resources of this CloudFormation type under path."
    )
    predicate: str | None = Field(
        default=None, description="With resource_type: a predicate of compliance/predicates.py they must satisfy."
    )
    reason: str = Field(min_length=40, description="Why it cannot be fixed here: specific, at least 40 characters.")
    requirement: str = Field(pattern=_REQUIREMENT_PATTERN)


class AcknowledgmentAdoption(_GovernanceFields):
    """A project registry entry this environment takes under its own risk owner (evidence only:
    what is matched and whether the gate passes never change)."""

    entry: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{2,80}$",
        description=(
            "The id of an entry of compliance/acknowledgments.yaml, or of a justification a reusable construct"
            " carries (construct-<class>-<rule>, shown in the evidence's exception register)."
        ),
    )


class EnvironmentConfig(_Frozen):
    """One environment (dev, prod, ...) of the landing zone."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,20}$")
    account: str = Field(description="12-digit AWS account ID the stacks deploy into.")
    home_region: Region = Field(description="Region of the audit stack (trail, log archive, alarms).")
    regions: dict[Region, RegionConfig] = Field(
        min_length=1, description="Every region the regional stacks deploy to, home included."
    )
    az_count: int = Field(default=2, ge=2, le=3)
    allowed_ingress_cidrs: tuple[IngressCidr, ...] = Field(
        min_length=1,
        # Each source costs one inbound (443) and one outbound (replies) entry in the public NACL, whose
        # default quota is 20 per direction.
        max_length=8,
        description="Sources allowed to reach the public load balancer (HTTPS 443 only); at most 8.",
    )
    domain_name: str | None = Field(default=None, max_length=253, pattern=r"^([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")
    alarm_email: str
    log_retention_days: int = Field(default=365)
    app_port: int = Field(default=8443, ge=1024, le=65535)
    db_port: int = Field(default=5432, ge=1024, le=65535)
    edge: EdgeConfig = Field(default_factory=EdgeConfig, description="Public load balancer and WAF settings.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    key_administrator_role_arns: tuple[str, ...] = Field(
        default=(),
        description=(
            "IAM roles (existing, of this account) that manage the KMS keys' lifecycle but may never use them"
            " for encryption or decryption (PCI DSS 3.6.1.2 separation of duties). Not the deployment role."
        ),
    )
    audit: AuditConfig = Field(default_factory=AuditConfig, description="Trail, log archive and detective controls.")
    identity: IdentityConfig = Field(
        default_factory=IdentityConfig, description="Operator roles, password policy, IAM Access Analyzer."
    )
    egress: EgressConfig = Field(default_factory=EgressConfig, description="Application-tier egress allow-list.")
    guardrails: GuardrailsConfig = Field(
        default_factory=GuardrailsConfig, description="Optional organization service control policies."
    )
    acknowledgments: tuple[EnvironmentAcknowledgment, ...] = Field(
        default=(),
        description=(
            "Findings this environment's owner accepts, applied to every stack of this environment's scope"
            " (its own stacks and any a fork adds; same fields and rules as compliance/acknowledgments.yaml)."
        ),
    )
    adopt: tuple[AcknowledgmentAdoption, ...] = Field(
        default=(),
        description=(
            "Entries of compliance/acknowledgments.yaml and justifications reusable constructs carry that this"
            " environment's risk owner adopts (by id), with their own governance; shown in the evidence, never"
            " changing whether the gate passes."
        ),
    )
    card_vault: CardVaultConfig | None = Field(
        default=None, description="The card-vault workload (issue #10); absent or enabled=false deploys none."
    )
    evidence: EvidenceConfig = Field(
        default_factory=EvidenceConfig,
        description="Preparer, approver, last review and AWS AOC edition printed in the assessor evidence.",
    )

    @field_validator("evidence", mode="before")
    @classmethod
    def _evidence_block_may_be_empty(cls, value: object) -> object:
        return {} if value is None else value  # `evidence:` with every field commented out

    @field_validator("account")
    @classmethod
    def _account_is_twelve_digits(cls, value: str) -> str:
        if not _ACCOUNT_ID.match(value):
            raise ValueError("AWS account ID must be exactly 12 digits")
        return value

    @field_validator("key_administrator_role_arns")
    @classmethod
    def _key_admins_are_role_arns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            role = _ROLE_ARN.match(arn)
            if not role:
                raise ValueError(f"{arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
            if _CDK_BOOTSTRAP_ROLE.match(role["name"]):
                raise ValueError(
                    f"{arn} is a CDK bootstrap role; the role that deploys the stacks must not also administer"
                    " the keys (PCI DSS 3.6.1.2 separation of duties): name a dedicated key-custodian role"
                )
        if len(set(value)) != len(value):
            raise ValueError("lists a role more than once")
        return value

    @field_validator("alarm_email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention_at_least_a_year(cls, value: int) -> int:
        if value < MIN_LOG_RETENTION_DAYS:
            raise ValueError(
                f"retention {value} days is under the {MIN_LOG_RETENTION_DAYS} days PCI DSS 10.5.1 requires"
            )
        if value not in CLOUDWATCH_RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs does not offer {value} days; choose one of {CLOUDWATCH_RETENTION_DAYS}")
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        if self.home_region not in self.regions:
            raise ValueError(f"home_region {self.home_region!r} must be one of regions")
        if self.app_port == self.db_port:
            raise ValueError("app_port and db_port must differ so NACLs can tell the tiers apart")
        if self.database.enable_proxy and self.db_port != POSTGRES_PROXY_PORT:
            raise ValueError(
                f"db_port {self.db_port} with database.enable_proxy: RDS Proxy for PostgreSQL listens on"
                f" {POSTGRES_PROXY_PORT} only; use that port or turn the proxy off"
            )
        networks = [(r, ipaddress.IPv4Network(c.vpc_cidr)) for r, c in self.regions.items()]
        for i, (region_a, net_a) in enumerate(networks):
            for region_b, net_b in networks[i + 1 :]:
                if net_a.overlaps(net_b):
                    raise ValueError(
                        f"regions.{region_a}.vpc_cidr {net_a} overlaps regions.{region_b}.vpc_cidr {net_b}"
                    )
        partition = partition_of(self.home_region)
        for region in self.regions:
            if partition_of(region) != partition:
                raise ValueError(
                    f"regions.{region} is in partition {partition_of(region)}, the home region {self.home_region}"
                    f" in {partition}: one account lives in one partition"
                )
        for arn in self.key_administrator_role_arns:
            role = _ROLE_ARN.match(arn)
            assert role is not None  # checked by the field validator
            if role["partition"] != partition:
                raise ValueError(
                    f"key_administrator_role_arns: {arn} is in partition {role['partition']}; the environment's"
                    f" regions are in {partition} (arn:{partition}:iam::...)"
                )
            if role["account"] != self.account:
                raise ValueError(
                    f"key_administrator_role_arns: {arn} belongs to account {role['account']}, not {self.account}"
                )
        for region, regional in self.regions.items():
            match = _ACM_ARN.match(regional.certificate_arn)
            assert match is not None  # checked by the field validator
            if match["region"] != region:
                raise ValueError(
                    f"regions.{region}.certificate_arn is in {match['region']}; ACM certificates are regional"
                )
            if match["partition"] != partition_of(region):
                raise ValueError(
                    f"regions.{region}.certificate_arn is in partition {match['partition']}; {region} is in"
                    f" {partition_of(region)} (arn:{partition_of(region)}:acm:...)"
                )
            if match["account"] != self.account:
                raise ValueError(
                    f"regions.{region}.certificate_arn belongs to account {match['account']}, not {self.account}"
                )
            suffixes = regional.az_suffixes
            if suffixes is not None and len(suffixes) < self.az_count:
                raise ValueError(
                    f"regions.{region}.az_suffixes lists {len(suffixes)} zones; az_count needs {self.az_count}"
                )
        replica = self.audit.replica_region
        if replica is not None and (replica not in self.regions or replica == self.home_region):
            raise ValueError(
                f"audit.replica_region {replica!r} must be one of regions and not the home region {self.home_region!r}"
            )
        for arn in self.audit.lambda_data_event_functions or ():
            match = _LAMBDA_FUNCTION_ARN.match(arn)
            assert match is not None  # checked by the field validator
            if match["account"] != self.account or match["region"] not in self.regions:
                raise ValueError(
                    f"audit.lambda_data_event_functions: {arn} is not in account {self.account} and a configured region"
                )
            if match["partition"] != partition_of(match["region"]):
                raise ValueError(
                    f"audit.lambda_data_event_functions: {arn} is in partition {match['partition']};"
                    f" {match['region']} is in {partition_of(match['region'])}"
                )
        return self

    @model_validator(mode="after")
    def _identity_and_guardrail_rules(self) -> Self:
        guardrails = self.guardrails
        if guardrails.enabled:
            # AWS::Organizations::Policy is created from the management account (or a delegated
            # administrator), and SCPs never restrict the management account itself: a CDE there
            # would be unprotected ("Service control policies (SCPs)", AWS Organizations User Guide).
            if guardrails.management_account is None:
                raise ValueError(
                    "guardrails.management_account: name the organization's management account the SCP stack"
                    " deploys to (required with organization_unit_ids)"
                )
            if guardrails.management_account == self.account:
                raise ValueError(
                    "guardrails.management_account is this environment's account: SCPs never apply to the"
                    " management account, so keep the cardholder-data environment in a member account"
                )
        allowed = self.guardrails.allowed_regions
        if allowed is not None:
            missing = [r for r in (self.home_region, *self.regions) if r not in allowed]
            if missing:
                raise ValueError(
                    f"guardrails.allowed_regions leaves out {sorted(set(missing))}: the region SCP would lock the"
                    f" landing zone out of its own regions (home region {self.home_region!r})"
                )
        return self

    @model_validator(mode="after")
    def _card_vault_rules(self) -> Self:
        vault = self.card_vault
        if vault is None or not vault.enabled:
            return self
        for arn in vault.detokenize_caller_role_arns:
            match = _ROLE_ARN.match(arn)
            assert match is not None  # checked by the field validator
            if match["account"] != self.account:
                raise ValueError(f"card_vault.detokenize_caller_role_arns: {arn} is not in account {self.account}")
        return self

    @property
    def replica_region(self) -> str | None:
        """Where the log archive is replicated: `audit.replica_region`, else the first additional region."""
        return self.audit.replica_region or next(iter(self.additional_regions), None)

    @property
    def additional_regions(self) -> tuple[str, ...]:
        return tuple(r for r in self.regions if r != self.home_region)

    def availability_zones(self, region: str) -> list[str]:
        """AZ names from configuration, so synth never needs an AZ lookup."""
        suffixes = self.regions[region].az_suffixes or ("a", "b", "c")
        return [f"{region}{s}" for s in suffixes[: self.az_count]]
