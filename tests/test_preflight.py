"""`make preflight` against moto: a passing account, then each failing state (issue #9)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.loaders import Loader, create_loader
from botocore.stub import Stubber
from moto import mock_aws

from config import EnvironmentConfig, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from config.models import LAMBDA_MIN_UNRESERVED_CONCURRENCY, VaultReservedConcurrency
from preflight.__main__ import main, render
from preflight.checks import (
    BOOTSTRAP_STACK,
    BOOTSTRAP_VERSION_PARAMETER,
    CHECKS,
    Account,
    Result,
    Status,
    check_account,
    check_availability_zones,
    check_client_crl,
    check_lambda_concurrency,
    check_quotas,
    eip_peak,
    required_principals,
    run_checks,
)

DOMAIN = "payments.example.com"
REGIONS = ("us-east-1", "us-west-2")
BOOTSTRAP_TEMPLATE = json.dumps(
    {
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {"BootstrapVersion": {"Value": "28"}},
    }
)


@pytest.fixture(scope="module")
def service_models() -> Loader:
    """One botocore data loader for the module's sessions: it caches each parsed service model
    (EC2's alone is megabytes of JSON), which a new Session's own loader would read and parse again
    for every test (issue #23: about a quarter of this file's CPU). It holds no account state:
    moto's backends are reset by each test's own mock_aws()."""
    loader = create_loader()
    loader.search_paths.extend(boto3.Session()._loader.search_paths[len(loader.search_paths) :])  # boto3's own data
    return loader


@pytest.fixture
def aws(service_models: Loader) -> Iterator[boto3.Session]:
    with mock_aws():
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        session._session.register_component("data_loader", service_models)
        yield session


def _config(session: boto3.Session, **overrides: Any) -> EnvironmentConfig:
    """The default environment, pointed at moto's account and at certificates issued there."""
    account = session.client("sts").get_caller_identity()["Account"]
    data = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]).replace("111111111111", account))
    for region in REGIONS:
        acm = session.client("acm", region_name=region)
        arn = acm.request_certificate(DomainName=DOMAIN, ValidationMethod="DNS")["CertificateArn"]
        data["regions"][region]["certificate_arn"] = arn
    data.update(overrides)
    return parse_environment(data)


def _healthy_account(session: boto3.Session, config: EnvironmentConfig) -> None:
    iam = session.client("iam")
    for arn in required_principals(config):
        iam.create_role(RoleName=arn.rsplit("/", 1)[-1], AssumeRolePolicyDocument="{}")
    for region in REGIONS:
        session.client("cloudformation", region_name=region).create_stack(
            StackName=BOOTSTRAP_STACK, TemplateBody=BOOTSTRAP_TEMPLATE
        )


@pytest.fixture
def ready(aws: boto3.Session) -> EnvironmentConfig:
    """The default environment in an account where every check passes."""
    config = _config(aws)
    _healthy_account(aws, config)
    return config


# A new account's Lambda quota is often 10; an account at the AWS default has 1000.
DEFAULT_LAMBDA_QUOTA = (1000, 1000)


def _account_settings(total: int, unreserved: int) -> dict[str, Any]:
    return {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": total,
            "UnreservedConcurrentExecutions": unreserved,
        },
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
    }


def _issued(config: EnvironmentConfig, lambda_quota: tuple[int, int] = DEFAULT_LAMBDA_QUOTA) -> Any:
    """moto leaves DNS-validated certificates PENDING_VALIDATION; the real ACM issues them once validated.
    moto has no Lambda GetAccountSettings: botocore's Stubber answers it with `lambda_quota`."""
    original = boto3.Session.client

    def client(self: boto3.Session, service: str, *args: Any, **kwargs: Any) -> Any:
        real = original(self, service, *args, **kwargs)
        if service == "lambda":
            stubber = Stubber(real)
            stubber.add_response("get_account_settings", _account_settings(*lambda_quota), {})
            stubber.activate()
            return real
        if service != "acm":
            return real
        describe = real.describe_certificate

        def issued(**params: Any) -> Any:
            response = describe(**params)
            response["Certificate"]["Status"] = "ISSUED"
            return response

        real.describe_certificate = issued
        return real

    return mock.patch.object(boto3.Session, "client", client)


def _results(
    session: boto3.Session, config: EnvironmentConfig, lambda_quota: tuple[int, int] = DEFAULT_LAMBDA_QUOTA
) -> dict[str, Result]:
    with _issued(config, lambda_quota):
        return {r.check: r for r in run_checks(Account(session, config.home_region), config)}


def _failed(results: dict[str, Result]) -> dict[str, Result]:
    return {name: r for name, r in results.items() if r.status is Status.FAIL}


def test_a_ready_account_passes_every_check(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready
    results = _results(aws, config)
    assert _failed(results) == {}
    assert {"account", "certificate us-east-1", "CDK bootstrap us-west-2", "VPC quota us-east-1"} <= results.keys()


def test_the_wrong_account_fails(aws: boto3.Session) -> None:
    config = _config(aws).model_copy(update={"account": "210987654321"})
    (result,) = check_account(Account(aws, config.home_region), config)
    assert result.status is Status.FAIL
    assert "210987654321" in result.detail


def test_a_missing_key_administrator_role_fails(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready
    aws.client("iam").delete_role(RoleName="pci-lz-key-administrator")
    failed = _failed(_results(aws, config))
    assert list(failed) == ["key administrator pci-lz-key-administrator"]
    assert "KMS refuses" in failed["key administrator pci-lz-key-administrator"].detail


def test_a_missing_certificate_fails(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready
    aws.client("acm", region_name="us-west-2").delete_certificate(
        CertificateArn=config.regions["us-west-2"].certificate_arn
    )
    assert list(_failed(_results(aws, config))) == ["certificate us-west-2"]


def test_a_pending_certificate_fails(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready
    results = {r.check: r for r in run_checks(Account(aws, config.home_region), config)}  # moto: PENDING_VALIDATION
    assert results["certificate us-east-1"].status is Status.FAIL
    assert "DNS validation" in results["certificate us-east-1"].fix


def test_a_certificate_for_another_domain_fails(aws: boto3.Session) -> None:
    config = _config(aws, domain_name="shop.example.org")
    _healthy_account(aws, config)
    failed = _failed(_results(aws, config))
    assert set(failed) == {"certificate us-east-1", "certificate us-west-2"}


def test_an_existing_config_recorder_with_create_mode_fails_and_names_existing(
    aws: boto3.Session, ready: EnvironmentConfig
) -> None:
    config = ready
    aws.client("config", region_name="us-east-1").put_configuration_recorder(
        ConfigurationRecorder={
            "name": "aws-controltower-BaselineConfigRecorder",
            "roleARN": "arn:aws:iam::123456789012:role/x",
        }
    )
    failed = _failed(_results(aws, config))
    assert list(failed) == ["AWS Config us-east-1"]
    assert "'existing'" in failed["AWS Config us-east-1"].fix


def test_existing_modes_need_the_account_to_have_them(aws: boto3.Session) -> None:
    data_audit = {
        **EMBEDDED_ENVIRONMENTS["default"]["audit"],
        "guardduty_mode": "existing",
        "security_hub_mode": "existing",
    }
    config = _config(aws, audit=data_audit)
    _healthy_account(aws, config)
    aws.client("guardduty", region_name="us-east-1").create_detector(Enable=True)
    aws.client("securityhub", region_name="us-east-1").enable_security_hub()
    failed = _failed(_results(aws, config))
    assert set(failed) == {"GuardDuty us-west-2", "Security Hub us-west-2"}


def test_a_missing_or_old_bootstrap_fails(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready
    aws.client("cloudformation", region_name="us-west-2").delete_stack(StackName=BOOTSTRAP_STACK)
    old = BOOTSTRAP_TEMPLATE.replace('"28"', '"5"')
    aws.client("cloudformation", region_name="us-east-1").update_stack(StackName=BOOTSTRAP_STACK, TemplateBody=old)
    failed = _failed(_results(aws, config))
    assert set(failed) == {"CDK bootstrap us-east-1", "CDK bootstrap us-west-2"}
    assert failed["CDK bootstrap us-west-2"].fix.startswith("cdk bootstrap aws://")


def test_bootstrap_version_falls_back_to_the_ssm_parameter(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready
    for region in REGIONS:
        cloudformation = aws.client("cloudformation", region_name=region)
        cloudformation.update_stack(
            StackName=BOOTSTRAP_STACK, TemplateBody=json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
        )
        aws.client("ssm", region_name=region).put_parameter(Name=BOOTSTRAP_VERSION_PARAMETER, Value="21", Type="String")
    results = _results(aws, config)
    assert results["CDK bootstrap us-east-1"].status is Status.PASS


def test_exhausted_elastic_ip_quota_fails(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready
    ec2 = aws.client("ec2", region_name="us-east-1")
    for _ in range(4):
        ec2.allocate_address(Domain="vpc")
    failed = _failed(_results(aws, config))
    assert list(failed) == ["Elastic IP quota us-east-1"]
    assert "quota increase" in failed["Elastic IP quota us-east-1"].fix


def test_unreadable_service_quotas_fall_back_to_defaults_with_a_warning(
    aws: boto3.Session, ready: EnvironmentConfig
) -> None:
    config = ready
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetServiceQuota")
    with mock.patch("preflight.checks._quota_api", side_effect=denied):
        results = _results(aws, config)
    assert results["VPC quota us-east-1"].status is Status.WARN
    assert "AWS default assumed" in results["VPC quota us-east-1"].detail


def test_a_foreign_rdsosmetrics_group_fails(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready
    aws.client("logs", region_name="us-west-2").create_log_group(logGroupName="RDSOSMetrics")
    failed = _failed(_results(aws, config))
    assert list(failed) == ["RDSOSMetrics us-west-2"]


def test_a_check_without_permission_becomes_a_failure_not_a_crash(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetRole")
    with mock.patch("preflight.checks.CHECKS", (mock.Mock(side_effect=denied, __name__="check_key_administrators"),)):
        results = run_checks(Account(aws, config.home_region), config)
    assert any(r.status is Status.FAIL and "could not run" in r.detail for r in results)


def test_without_credentials_it_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    session = mock.Mock(spec=boto3.Session)
    session.get_credentials.return_value = None
    assert main([], session=session) == 2
    assert "needs AWS credentials" in capsys.readouterr().err


def test_the_table_and_exit_status(aws: boto3.Session, capsys: pytest.CaptureFixture[str]) -> None:
    table = render([Result("a", Status.PASS, "ok"), Result("b", Status.FAIL, "broken", "fix it")])
    assert "FAIL" in table
    assert "fix it" in table
    assert "1 passed, 0 warnings, 1 failed" in table
    assert main(["--env", "default"], session=aws) == 1  # moto's account is not the placeholder account
    assert "account" in capsys.readouterr().out


def test_a_lambda_quota_that_cannot_hold_the_vault_reservations_fails_and_names_the_increase(
    aws: boto3.Session, ready: EnvironmentConfig
) -> None:
    config = ready
    assert config.card_vault is not None
    needed = config.card_vault.reserved_concurrency.total
    minimum = LAMBDA_MIN_UNRESERVED_CONCURRENCY
    results = _results(aws, config, lambda_quota=(minimum + needed, minimum + needed))
    assert results["Lambda concurrency us-east-1"].status is Status.PASS
    failed = _failed(_results(aws, config, lambda_quota=(10, 10)))  # a new account
    assert set(failed) == {"Lambda concurrency us-east-1", "Lambda concurrency us-west-2"}
    fix = failed["Lambda concurrency us-east-1"].fix
    assert f"of at least {minimum + needed} in us-east-1" in fix
    assert "L-B99A9384" in fix
    assert "card_vault.reserved_concurrency" in fix


def test_the_concurrency_check_counts_what_the_deployed_vault_already_reserves(
    aws: boto3.Session, ready: EnvironmentConfig
) -> None:
    """An update of a deployed vault: its reservations are already out of the unreserved pool."""
    config = ready
    assert config.card_vault is not None
    needed = config.card_vault.reserved_concurrency.total
    total = LAMBDA_MIN_UNRESERVED_CONCURRENCY + needed
    account = Account(aws, config.home_region)
    lambda_ = boto3.client("lambda", region_name="us-east-1")
    stubber = Stubber(lambda_)
    stubber.add_response("get_account_settings", _account_settings(total, total - needed), {})
    stubber.add_response("get_function_concurrency", {"ReservedConcurrentExecutions": needed}, {"FunctionName": "api"})
    stubber.activate()
    cloudformation = mock.Mock()
    cloudformation.get_paginator.return_value.paginate.return_value = [
        {"StackResourceSummaries": [{"ResourceType": "AWS::Lambda::Function", "PhysicalResourceId": "api"}]}
    ]
    account._clients[("lambda", "us-east-1")] = lambda_
    account._clients[("cloudformation", "us-east-1")] = cloudformation
    single = config.model_copy(update={"regions": {"us-east-1": config.regions["us-east-1"]}})
    (result,) = check_lambda_concurrency(account, single)
    assert result.status is Status.PASS, result.detail
    stubber.assert_no_pending_responses()


def test_dropped_reservations_need_no_quota(aws: boto3.Session) -> None:
    config = _config(aws)
    assert config.card_vault is not None
    none = {"api": None, "detokenize": None, "purge": None, "migration": None}
    vault = config.card_vault.model_copy(update={"reserved_concurrency": VaultReservedConcurrency.model_validate(none)})
    config = config.model_copy(update={"card_vault": vault})
    _healthy_account(aws, config)
    minimum = LAMBDA_MIN_UNRESERVED_CONCURRENCY
    results = _results(aws, config, lambda_quota=(minimum, minimum))
    assert results["Lambda concurrency us-east-1"].status is Status.PASS


def test_a_missing_detokenize_caller_fails_naming_the_policy_that_needs_it(
    aws: boto3.Session, ready: EnvironmentConfig
) -> None:
    """Issue #22 fault 3: Lambda refuses a resource policy naming a role that does not exist."""
    config = ready
    aws.client("iam").delete_role(RoleName="pci-lz-card-vault-detokenizer")
    failed = _failed(_results(aws, config))
    assert list(failed) == ["principal pci-lz-card-vault-detokenizer"]
    assert "detokenize function's resource policy" in failed["principal pci-lz-card-vault-detokenizer"].detail
    assert "create the role first" in failed["principal pci-lz-card-vault-detokenizer"].fix


def test_a_missing_operator_principal_of_the_account_warns(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready
    missing = f"arn:aws:iam::{config.account}:role/ops-admins"
    existing = f"arn:aws:iam::{config.account}:user/auditor-1"
    aws.client("iam").create_user(UserName="auditor-1")
    identity = config.identity.model_copy(
        update={"administrator_principals": (missing,), "auditor_principals": (existing,)}
    )
    results = _results(aws, config.model_copy(update={"identity": identity}))
    assert _failed(results) == {}
    assert results["operator principal ops-admins"].status is Status.WARN
    assert "identity.administrator_principals" in results["operator principal ops-admins"].detail
    assert results["operator principal auditor-1"].status is Status.PASS


def _network_stack(
    aws: boto3.Session, config: EnvironmentConfig, region: str, *, firewall: bool, eips: int = 0
) -> None:
    """A deployed Network stack as moto models it: the resource types are what preflight reads (`eips` NAT
    addresses, which moto allocates)."""
    resources: dict[str, Any] = {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}}
    for i in range(eips):
        resources[f"NatEip{i}"] = {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}}
    if firewall:
        resources["Policy"] = {
            "Type": "AWS::NetworkFirewall::FirewallPolicy",
            "Properties": {
                "FirewallPolicyName": "p",
                "FirewallPolicy": {"StatelessDefaultActions": ["aws:pass"], "StatelessFragmentDefaultActions": []},
            },
        }
        resources["Firewall"] = {"Type": "AWS::NetworkFirewall::Firewall", "Properties": {}}
    aws.client("cloudformation", region_name=region).create_stack(
        StackName=f"PciLz-{config.name}-Network-{region}", TemplateBody=json.dumps({"Resources": resources})
    )


def test_the_eip_peak_of_an_egress_mode_switch_is_computed() -> None:
    """Issue #22 fault 4: three AZs switching mode hold 3 old + 3 new EIPs for a moment."""
    assert eip_peak(3, 3, "nat", "firewall")[0] == 6
    assert eip_peak(3, 3, "firewall", "firewall")[0] == 3
    assert eip_peak(0, 3, None, "firewall")[0] == 3
    assert "switches nat -> firewall" in eip_peak(3, 3, "nat", "firewall")[1]


def test_the_eip_peak_counts_the_azs_an_update_adds() -> None:
    """Second review, 7: raising az_count in the same mode allocates one EIP per added AZ."""
    assert eip_peak(2, 3, "firewall", "firewall", deployed_eips=2) == (3, "2 in use + 1 for the AZs added (2 -> 3)")
    assert eip_peak(5, 3, "nat", "nat", deployed_eips=2)[0] == 6
    assert eip_peak(3, 3, "nat", "nat", deployed_eips=3)[0] == 3


def test_raising_az_count_above_the_eip_quota_fails(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    """Deployed with two AZs in nat mode, four other addresses in use: the third AZ's EIP is the sixth."""
    deployed = ready.model_copy(update={"egress": ready.egress.model_copy(update={"mode": "nat"})})
    ec2 = aws.client("ec2", region_name="us-east-1")
    for _ in range(3):  # addresses of others; the stack's two NAT addresses make five
        ec2.allocate_address(Domain="vpc")
    _network_stack(aws, deployed, "us-east-1", firewall=False, eips=2)
    with mock.patch("preflight.checks._quota_api", return_value=5.0):
        same = {r.check: r for r in check_quotas(Account(aws, deployed.home_region), deployed)}
        raised = {
            r.check: r
            for r in check_quotas(Account(aws, deployed.home_region), deployed.model_copy(update={"az_count": 3}))
        }
    assert same["Elastic IP quota us-east-1"].status is Status.PASS
    failed = raised["Elastic IP quota us-east-1"]
    assert failed.status is Status.FAIL
    assert "5 in use + 1 for the AZs added (2 -> 3)" in failed.detail
    assert "at least 6" in failed.fix


def test_an_egress_mode_switch_above_the_eip_quota_fails(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    config = ready.model_copy(update={"az_count": 3})
    _network_stack(aws, config, "us-east-1", firewall=False, eips=3)  # the deployed NAT gateways' addresses
    with mock.patch("preflight.checks._quota_api", return_value=5.0):
        account = Account(aws, config.home_region)
        same = {
            r.check: r
            for r in check_quotas(
                account, config.model_copy(update={"egress": config.egress.model_copy(update={"mode": "nat"})})
            )
        }
        switch = {r.check: r for r in check_quotas(Account(aws, config.home_region), config)}
    assert same["Elastic IP quota us-east-1"].status is Status.PASS
    failed = switch["Elastic IP quota us-east-1"]
    assert failed.status is Status.FAIL
    assert "peak 6 of 5" in failed.detail
    assert "at least 6" in failed.fix


# --- the client CRL's nextUpdate (card_vault.client_crl) ------------------------------------------------

CRL_BUCKET = "pci-lz-client-crl"
CRL_KEY = "crl/client-ca.pem"
NOW = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.UTC)


def _crl_pem(next_update: datetime.datetime) -> bytes:
    """A PEM CRL signed by a throwaway CA key, built with `cryptography` as the CA would issue it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name.from_rfc4514_string("CN=Example Corp Client CA,O=Example Corp,C=GB")
    revoked = (
        x509.RevokedCertificateBuilder().serial_number(0x19A0).revocation_date(next_update - datetime.timedelta(60))
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer)
        .last_update(next_update - datetime.timedelta(days=30))
        .next_update(next_update)
        .add_revoked_certificate(revoked.build())
        .sign(key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.PEM)


def _crl_config(session: boto3.Session, body: bytes, **crl: Any) -> EnvironmentConfig:
    """The default environment with `card_vault.client_crl` naming an object version holding `body`."""
    s3 = session.client("s3")
    s3.create_bucket(Bucket=CRL_BUCKET)
    s3.put_bucket_versioning(Bucket=CRL_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=CRL_BUCKET, Key=CRL_KEY, Body=body)["VersionId"]
    s3.put_object(Bucket=CRL_BUCKET, Key=CRL_KEY, Body=b"a later version that is not the configured one")
    data = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]))
    data["card_vault"]["client_crl"] = {"bucket": CRL_BUCKET, "key": CRL_KEY, "version": version, **crl}
    del data["card_vault"]["client_crl_waiver"]  # exactly one of the two
    return parse_environment(data)


def _crl_results(session: boto3.Session, config: EnvironmentConfig) -> list[Result]:
    return list(check_client_crl(Account(session, config.home_region), config, now=NOW))


@pytest.mark.parametrize(
    ("days_left", "status"),
    [(-1, Status.FAIL), (0.5, Status.WARN), (14, Status.WARN), (15, Status.PASS), (90, Status.PASS)],
    ids=["passed", "hours-away", "at-default-warning", "past-warning", "far"],
)
def test_the_client_crl_fails_once_its_next_update_passed_and_warns_before(
    aws: boto3.Session, days_left: float, status: Status
) -> None:
    next_update = NOW + datetime.timedelta(days=days_left)
    config = _crl_config(aws, _crl_pem(next_update))
    (result,) = _crl_results(aws, config)
    assert (result.check, result.status) == ("client CRL", status)
    assert next_update.strftime("%Y-%m-%dT%H:%M:%SZ") in result.detail
    assert bool(result.fix) == (status is not Status.PASS)


def test_the_warning_window_is_configurable(aws: boto3.Session) -> None:
    config = _crl_config(aws, _crl_pem(NOW + datetime.timedelta(days=20)), warn_days_before_next_update=30)
    assert [r.status for r in _crl_results(aws, config)] == [Status.WARN]


@pytest.mark.parametrize(
    ("body", "detail"),
    [(b"-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n", "not a PEM-encoded CRL")],
    ids=["garbage"],
)
def test_an_unparseable_client_crl_fails(aws: boto3.Session, body: bytes, detail: str) -> None:
    (result,) = _crl_results(aws, _crl_config(aws, body))
    assert result.status is Status.FAIL
    assert detail in result.detail


def test_a_missing_client_crl_version_fails_naming_the_error(aws: boto3.Session) -> None:
    config = _crl_config(aws, _crl_pem(NOW + datetime.timedelta(days=60)))
    assert config.card_vault is not None
    assert config.card_vault.client_crl is not None
    data = config.model_dump(mode="json")
    data["card_vault"]["client_crl"]["key"] = "crl/none.pem"
    (result,) = _crl_results(aws, parse_environment(data))
    assert result.status is Status.FAIL
    assert "cannot be read" in result.detail


def test_a_waived_client_crl_is_one_warning_naming_its_owner_and_review_date(aws: boto3.Session) -> None:
    """No CRL: the waiver's governance is reported (owner, approver, ticket, review_by), with no AWS call."""
    data = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]))
    data["card_vault"]["client_crl_waiver"] = {
        **data["card_vault"]["client_crl_waiver"],
        "owner": "card-platform-owner",
        "approver": "Head of Payments Risk",
        "ticket": "RISK-4711",
        "review_by": (datetime.date.today() + datetime.timedelta(days=90)).isoformat(),
    }
    config = parse_environment(data)
    assert config.card_vault is not None
    assert config.card_vault.client_crl is None
    (result,) = _crl_results(aws, config)
    review_by = (datetime.date.today() + datetime.timedelta(days=90)).isoformat()
    assert (result.check, result.status) == ("client CRL", Status.WARN)
    assert "revoked client certificates are accepted" in result.detail
    assert "waived by card-platform-owner" in result.detail
    assert "approver Head of Payments Risk" in result.detail
    assert "RISK-4711" in result.detail
    assert f"review by {review_by}" in result.detail
    assert "card_vault.client_crl" in result.fix


def test_no_vault_no_client_crl_row(aws: boto3.Session) -> None:
    data = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]))
    data["card_vault"]["enabled"] = False
    assert _crl_results(aws, parse_environment(data)) == []
    del data["card_vault"]
    assert _crl_results(aws, parse_environment(data)) == []


def test_the_crl_check_runs_with_every_other_check(aws: boto3.Session) -> None:
    assert check_client_crl in CHECKS


def _west_1(**regional: Any) -> dict[str, Any]:
    """The default environment with us-west-1 (whose accounts have two zones) in place of us-west-2."""
    data: dict[str, Any] = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]).replace("us-west-2", "us-west-1"))
    data["regions"]["us-west-1"].update(regional)
    return data


def _zone_rows(session: boto3.Session, config: EnvironmentConfig) -> dict[str, Result]:
    return {r.check: r for r in check_availability_zones(Account(session, config.home_region), config)}


def test_the_configured_zones_of_a_ready_account_pass(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    results = _results(aws, ready)
    assert results["availability zones us-east-1"].status is Status.PASS
    assert results["availability zones us-west-2"].detail == "us-west-2a, us-west-2b available"


def test_an_az_count_the_region_cannot_hold_fails_naming_az_count_and_the_zones(aws: boto3.Session) -> None:
    """Fork trial r23f: us-west-1 with az_count 3 synthesizes (synth makes no AZ lookup) and would fail
    the Network stack in CloudFormation after the Keys stacks deployed; preflight stops it first."""
    config = parse_environment({**_west_1(), "az_count": 3})
    rows = _zone_rows(aws, config)
    assert rows["availability zones us-east-1"].status is Status.PASS
    row = rows["availability zones us-west-1"]
    assert row.status is Status.FAIL
    assert "regions.us-west-1.az_suffixes (unset: the first az_count=3 of a, b, c)" in row.detail
    assert "names us-west-1c: not available; the account has us-west-1a, us-west-1b" in row.detail
    assert row.fix == "lower az_count (3) to 2, or deploy to another region"


def test_a_zone_letter_the_region_lacks_fails_naming_az_suffixes(aws: boto3.Session) -> None:
    config = parse_environment(_west_1(az_suffixes=["a", "c"]))
    row = _zone_rows(aws, config)["availability zones us-west-1"]
    assert row.status is Status.FAIL
    assert (
        row.detail
        == "regions.us-west-1.az_suffixes names us-west-1c: not available; the account has us-west-1a, us-west-1b"
    )
    assert row.fix == "set regions.us-west-1.az_suffixes to 2 of a, b"


def test_impaired_zones_and_local_zones_do_not_count(aws: boto3.Session, ready: EnvironmentConfig) -> None:
    """Only `available` zones of type `availability-zone` count (EC2 API Reference, DescribeAvailabilityZones):
    an impaired zone or a Local Zone cannot hold the Network stack's subnets."""
    account = Account(aws, ready.home_region)
    zone_type = {"Filters": [{"Name": "zone-type", "Values": ["availability-zone"]}]}
    answers = {
        "us-east-1": [
            ("us-east-1a", "available", "availability-zone"),
            ("us-east-1b", "impaired", "availability-zone"),
        ],
        "us-west-2": [
            ("us-west-2a", "available", "availability-zone"),
            ("us-west-2-lax-1b", "available", "local-zone"),
        ],
    }
    for region, zones in answers.items():
        stubber = Stubber(account.client("ec2", region))
        stubber.add_response(
            "describe_availability_zones",
            {"AvailabilityZones": [{"ZoneName": n, "State": s, "ZoneType": t} for n, s, t in zones]},
            zone_type,
        )
        stubber.activate()
    rows = {r.check: r for r in check_availability_zones(account, ready)}
    assert rows["availability zones us-east-1"].detail.endswith(
        "names us-east-1b: not available; the account has us-east-1a"
    )
    assert rows["availability zones us-west-2"].detail.endswith(
        "names us-west-2b: not available; the account has us-west-2a"
    )
    assert (
        rows["availability zones us-west-2"].fix
        == "deploy to another region: us-west-2 has fewer than 2 available zones"
    )
