"""`make preflight`, issue #22 second pass: fixed names still free, Network Firewall and IAM Access Analyzer
quotas, the organization's SCP policy type. Each check in a passing and a failing account state (moto where
it models the API; botocore's Stubber or a patched call where it does not)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from config import EnvironmentConfig, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from preflight.__main__ import main
from preflight.checks import (
    DEFAULT_FIREWALLS_PER_REGION,
    Account,
    DeployedEgress,
    Result,
    Status,
    check_access_analyzers,
    check_firewall_quota,
    check_guardrails,
    check_names_free,
    firewalls_created,
)
from preflight.names import NAME_PROPERTIES, StackTemplate, fixed_names, read_assembly, stacks_of
from tests.conftest import Synthesized

PLACEHOLDER = "111111111111"


def _not_found(code: str) -> Any:
    def answer(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": code, "Message": "not found"}}, "Describe")

    return answer


# Read-only calls moto does not model (moto 5.2.5 raises NotImplementedError or answers 404): in an empty
# account each answers what the real API answers for a missing name.
UNMODELED = {
    "elbv2": {"describe_trust_stores": _not_found("TrustStoreNotFound")},
    "config": {"describe_conformance_packs": _not_found("NoSuchConformancePackException")},
    "network-firewall": {
        "describe_firewall_policy": _not_found("ResourceNotFoundException"),
        "describe_rule_group": _not_found("ResourceNotFoundException"),
    },
    "accessanalyzer": {
        "get_analyzer": _not_found("ResourceNotFoundException"),
        "list_analyzers": lambda **_: {"analyzers": []},
    },
}


class MotoAccount(Account):
    """An Account on moto whose clients answer the unmodeled calls as an empty account would."""

    def client(self, service: str, region: str | None = None) -> Any:
        client = super().client(service, region)
        for method, answer in UNMODELED.get(service, {}).items():
            if not isinstance(getattr(client, method), mock.Mock):
                setattr(client, method, mock.Mock(side_effect=answer))
        return client


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


def _account_id(session: boto3.Session) -> str:
    return str(session.client("sts").get_caller_identity()["Account"])


def _config(session: boto3.Session, **overrides: Any) -> EnvironmentConfig:
    data = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]).replace(PLACEHOLDER, _account_id(session)))
    data.update(overrides)
    return parse_environment(data)


def _stacks(synthesized: Synthesized, account: str) -> list[StackTemplate]:
    """The default app's stacks as `make preflight` reads them from cdk.out, moved to moto's account."""
    stacks = stacks_of(read_assembly(synthesized.outdir), synthesized.config.name)
    return [
        StackTemplate(s.name, account, s.region, json.loads(json.dumps(s.template).replace(PLACEHOLDER, account)))
        for s in stacks
    ]


def _by_check(results: Iterator[Result]) -> dict[str, Result]:
    return {r.check: r for r in results}


# --- (a) fixed names ---------------------------------------------------------------------------------


def test_the_assembly_reader_finds_every_stack_and_the_environment_filter_keeps_them(synthesized: Synthesized) -> None:
    stacks = stacks_of(read_assembly(synthesized.outdir), synthesized.config.name)
    assert sorted(s.name for s in stacks) == sorted(a.stack_name for a in synthesized.assembly.stacks)
    assert {s.region for s in stacks} == set(synthesized.config.regions)


def test_a_new_account_has_every_fixed_name_free(aws: boto3.Session, synthesized: Synthesized) -> None:
    config = _config(aws)
    stacks = _stacks(synthesized, config.account)
    results = _by_check(check_names_free(MotoAccount(aws, config.home_region), config, stacks))
    named = {s.name for s in stacks if any(fixed_names(s.name, s.region, s.account, s.template))}
    assert named  # log groups, buckets, roles, aliases, the database identifier...
    assert {f"names free {name}" for name in named} <= results.keys()
    assert all(r.status is Status.PASS and "first deploy" in r.detail for r in results.values()), results


def test_a_leftover_name_fails_naming_the_stack_and_the_fix(aws: boto3.Session, synthesized: Synthesized) -> None:
    """What a rolled-back first create with DeletionPolicy Retain left behind: its log group and its role."""
    config = _config(aws)
    stacks = _stacks(synthesized, config.account)
    every = [f for s in stacks for f in fixed_names(s.name, s.region, s.account, s.template)]
    group = next(f for f in every if f.resource_type == "AWS::Logs::LogGroup")
    role = next(f for f in every if f.resource_type == "AWS::IAM::Role")
    aws.client("logs", region_name=group.region).create_log_group(logGroupName=group.name)
    aws.client("iam").create_role(RoleName=role.name, AssumeRolePolicyDocument="{}")
    results = _by_check(check_names_free(MotoAccount(aws, config.home_region), config, stacks))
    failed = {name: r for name, r in results.items() if r.status is Status.FAIL}
    assert set(failed) == {f"names free {group.stack}", f"names free {role.stack}"}
    assert f"AWS::Logs::LogGroup {group.name}" in failed[f"names free {group.stack}"].detail
    assert f"AWS::IAM::Role {role.name}" in failed[f"names free {role.stack}"].detail
    assert "cdk import" in failed[f"names free {group.stack}"].fix
    assert group.stack in failed[f"names free {group.stack}"].fix


def _one_group_stack(account: str, logical_id: str, name: str) -> StackTemplate:
    template = {"Resources": {logical_id: {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": name}}}}
    return StackTemplate("PciLz-default-Data-us-east-1", account, "us-east-1", template)


def test_a_name_the_deployed_stack_already_holds_is_an_update_not_a_conflict(aws: boto3.Session) -> None:
    config = _config(aws)
    stack = _one_group_stack(config.account, "Group", "/pci-lz/default/app")
    aws.client("cloudformation").create_stack(StackName=stack.name, TemplateBody=json.dumps(stack.template))
    (result,) = check_names_free(MotoAccount(aws, config.home_region), config, [stack])
    assert result.status is Status.PASS
    assert "1 already the stack's" in result.detail
    # A new resource of the deployed stack whose name another stack holds fails, naming that stack.
    aws.client("cloudformation").create_stack(
        StackName="SomeoneElse",
        TemplateBody=json.dumps(
            {"Resources": {"G": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/taken"}}}}
        ),
    )
    grown = StackTemplate(
        stack.name,
        stack.account,
        stack.region,
        {
            "Resources": {
                **stack.template["Resources"],
                "New": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/taken"}},
            }
        },
    )
    (result,) = check_names_free(MotoAccount(aws, config.home_region), config, [grown])
    assert result.status is Status.FAIL
    assert "AWS::Logs::LogGroup /taken" in result.detail
    assert "SomeoneElse" in result.detail or "no stack holds it" in result.detail


def test_a_rolled_back_first_create_is_no_deployed_stack(aws: boto3.Session) -> None:
    """A ROLLBACK_COMPLETE stack holds nothing: a name its template shares with a leftover (what Retain
    kept through the rollback) is a conflict for the retry, not the stack's own."""
    config = _config(aws)
    stack = _one_group_stack(config.account, "Group", "/pci-lz/default/app")
    aws.client("cloudformation").create_stack(StackName=stack.name, TemplateBody=json.dumps(stack.template))
    account = MotoAccount(aws, config.home_region)
    cloudformation = account.client("cloudformation", "us-east-1")
    described = cloudformation.describe_stacks(StackName=stack.name)
    described["Stacks"][0]["StackStatus"] = "ROLLBACK_COMPLETE"
    with mock.patch.object(cloudformation, "describe_stacks", return_value=described):
        (result,) = check_names_free(account, config, [stack])
    assert result.status is Status.FAIL
    assert "first deploy" in result.detail


def test_a_stack_of_another_account_is_checked_only_with_its_credentials(aws: boto3.Session) -> None:
    config = _config(aws)
    stack = _one_group_stack("222222222222", "Group", "/x")
    (result,) = check_names_free(MotoAccount(aws, config.home_region), config, [stack])
    assert result.status is Status.WARN
    assert "--management-profile" in result.fix


@pytest.mark.parametrize("resource_type", sorted(NAME_PROPERTIES))
def test_every_name_lookup_answers_free_in_an_empty_account(aws: boto3.Session, resource_type: str) -> None:
    """Each lookup is a read-only call that says 'free' for a name nobody holds."""
    spec = NAME_PROPERTIES[resource_type]
    account = MotoAccount(aws, "us-east-1")
    if resource_type == "AWS::Organizations::Policy":
        aws.client("organizations").create_organization(FeatureSet="ALL")
    name = "https://token.example.com" if resource_type == "AWS::IAM::OIDCProvider" else "pci-lz-free-name"
    if resource_type == "AWS::KMS::Alias":
        name = "alias/pci-lz-free-name"
    assert spec.lookup(account.client, "us-east-1", name, {}) is False


def test_a_bucket_name_another_account_owns_is_taken() -> None:
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    stubber = Stubber(s3)
    stubber.add_client_error("head_bucket", "403", http_status_code=403, expected_params={"Bucket": "theirs"})
    stubber.add_client_error("head_bucket", "404", http_status_code=404, expected_params={"Bucket": "free"})
    stubber.activate()
    lookup = NAME_PROPERTIES["AWS::S3::Bucket"].lookup
    assert lookup(lambda *_: s3, "us-east-1", "theirs", {}) is True
    assert lookup(lambda *_: s3, "us-east-1", "free", {}) is False


# --- (b) Network Firewall quota ------------------------------------------------------------------------


def test_firewalls_fit_the_default_quota_and_a_full_region_fails(aws: boto3.Session) -> None:
    config = _config(aws, az_count=3)
    assert firewalls_created(config) == 3
    account = MotoAccount(aws, config.home_region)
    with mock.patch("preflight.checks._quota_by_name", return_value=5.0):
        results = _by_check(check_firewall_quota(account, config))
    assert results["Network Firewall quota us-east-1"].status is Status.PASS
    assert "0 in use + 3 to create" in results["Network Firewall quota us-east-1"].detail
    firewalls = [{"FirewallName": f"other-{i}", "FirewallArn": f"arn:{i}"} for i in range(3)]
    with (
        mock.patch("preflight.checks._quota_by_name", return_value=5.0),
        mock.patch.object(
            account.client("network-firewall", "us-west-2"),
            "get_paginator",
            return_value=mock.Mock(paginate=mock.Mock(return_value=[{"Firewalls": firewalls}])),
        ),
    ):
        results = _by_check(check_firewall_quota(account, config))
    failed = results["Network Firewall quota us-west-2"]
    assert failed.status is Status.FAIL
    assert "3 in use + 3 to create (3 AZs) of 5" in failed.detail
    assert "at least 6 in us-west-2" in failed.fix


def test_without_a_readable_quota_the_documented_default_is_assumed_with_a_warning(aws: boto3.Session) -> None:
    config = _config(aws)
    results = _by_check(check_firewall_quota(MotoAccount(aws, config.home_region), config))
    row = results["Network Firewall quota us-east-1"]
    assert row.status is Status.WARN
    assert f"of {DEFAULT_FIREWALLS_PER_REGION} (not read from Service Quotas" in row.detail


def test_the_firewall_quota_is_found_by_name_in_service_quotas(aws: boto3.Session) -> None:
    config = _config(aws)
    account = MotoAccount(aws, config.home_region)
    quotas = account.client("service-quotas", "us-east-1")
    stubber = Stubber(quotas)
    page = {
        "Quotas": [
            {"QuotaName": "Firewall policies per account per Region", "Value": 20.0},
            {"QuotaName": "Firewalls per account per Region", "Value": 8.0},
        ]
    }
    stubber.add_response("list_service_quotas", page, {"ServiceCode": "network-firewall"})
    stubber.activate()
    single = config.model_copy(update={"regions": {"us-east-1": config.regions["us-east-1"]}})
    (row,) = check_firewall_quota(account, single)
    assert row.status is Status.PASS
    assert "of 8" in row.detail


def test_nat_mode_creates_no_firewall(aws: boto3.Session) -> None:
    config = _config(aws)
    nat = config.model_copy(update={"egress": config.egress.model_copy(update={"mode": "nat"})})
    assert firewalls_created(nat) == 0
    assert all(r.status is Status.PASS for r in check_firewall_quota(MotoAccount(aws, nat.home_region), nat))


# --- (c) IAM Access Analyzer ----------------------------------------------------------------------------


def _analyzer_account(aws: boto3.Session, region: str, analyzers: list[str]) -> Account:
    account = Account(aws, region)
    client = boto3.client(
        "accessanalyzer", region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    stubber = Stubber(client)
    listed = [
        {
            "arn": f"arn:aws:access-analyzer:{region}:123456789012:analyzer/{n}",
            "name": n,
            "type": "ACCOUNT",
            "createdAt": "2026-01-01T00:00:00Z",
            "status": "ACTIVE",
        }
        for n in analyzers
    ]
    stubber.add_response("list_analyzers", {"analyzers": listed}, {"type": "ACCOUNT"})
    stubber.activate()
    account._clients[("accessanalyzer", region)] = client
    return account


def _analyzer_stack(region: str) -> StackTemplate:
    template = {
        "Resources": {
            "A": {
                "Type": "AWS::AccessAnalyzer::Analyzer",
                "Properties": {"Type": "ACCOUNT", "AnalyzerName": f"pci-lz-default-external-{region}"},
            }
        }
    }
    return StackTemplate(f"PciLz-default-AccountGuards-{region}", "123456789012", region, template)


def test_an_account_analyzer_beside_the_templates_one_fails(aws: boto3.Session) -> None:
    config = _config(aws)
    single = config.model_copy(update={"regions": {"us-east-1": config.regions["us-east-1"]}})
    stacks = [_analyzer_stack("us-east-1")]
    (ok,) = check_access_analyzers(_analyzer_account(aws, "us-east-1", []), single, stacks)
    assert ok.status is Status.PASS
    (ours,) = check_access_analyzers(
        _analyzer_account(aws, "us-east-1", ["pci-lz-default-external-us-east-1"]), single, stacks
    )
    assert ours.status is Status.PASS  # an update: the analyzer is already the landing zone's
    (failed,) = check_access_analyzers(_analyzer_account(aws, "us-east-1", ["ConsoleAnalyzer"]), single, stacks)
    assert failed.status is Status.FAIL
    assert "ACCOUNT analyzer ConsoleAnalyzer exists" in failed.detail
    assert "access_analyzer_mode to 'existing'" in failed.fix


def test_existing_analyzer_mode_needs_one(aws: boto3.Session) -> None:
    config = _config(aws)
    identity = config.identity.model_copy(update={"access_analyzer_mode": "existing"})
    single = config.model_copy(update={"identity": identity, "regions": {"us-east-1": config.regions["us-east-1"]}})
    (failed,) = check_access_analyzers(_analyzer_account(aws, "us-east-1", []), single, [])
    assert failed.status is Status.FAIL
    (ok,) = check_access_analyzers(_analyzer_account(aws, "us-east-1", ["org-baseline"]), single, [])
    assert ok.status is Status.PASS


# --- (d) the organization's SCP policy type and the caller ----------------------------------------------


def _guardrails(config: EnvironmentConfig, management: str) -> EnvironmentConfig:
    guardrails = config.guardrails.model_copy(
        update={"organization_unit_ids": ("ou-abcd-12345678",), "management_account": management}
    )
    return config.model_copy(update={"guardrails": guardrails})


def test_guardrails_need_scps_enabled_on_the_root(aws: boto3.Session) -> None:
    config = _config(aws)
    organizations = aws.client("organizations", region_name="us-east-1")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    # The preflight credentials are the management account's (moto's caller created the organization).
    checked = _guardrails(config, "210987654321")
    results = list(check_guardrails(Account(aws, config.home_region), checked))
    rows = {r.check: r for r in results if r.check == "guardrails SCP policy type"}
    if rows["guardrails SCP policy type"].status is Status.PASS:  # moto may enable SCPs with the organization
        organizations.disable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
        results = list(check_guardrails(Account(aws, config.home_region), checked))
    failed = next(r for r in results if r.check == "guardrails SCP policy type")
    assert failed.status is Status.FAIL
    assert f"enable-policy-type --root-id {root} --policy-type SERVICE_CONTROL_POLICY" in failed.fix
    organizations.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    results = list(check_guardrails(Account(aws, config.home_region), checked))
    assert next(r for r in results if r.check == "guardrails SCP policy type").status is Status.PASS
    account_rows = [r for r in results if r.check == "guardrails account"]
    assert any(r.status is Status.PASS and "the management account" in r.detail for r in account_rows)


def test_guardrails_checked_from_a_member_account_fail_naming_the_management_profile(aws: boto3.Session) -> None:
    config = _guardrails(_config(aws), "210987654321")
    account = Account(aws, config.home_region)
    organizations = boto3.client(
        "organizations", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    stubber = Stubber(organizations)
    stubber.add_response(
        "describe_organization",
        {"Organization": {"Id": "o-abcdefghij", "MasterAccountId": "210987654321", "FeatureSet": "ALL"}},
        {},
    )
    stubber.add_client_error("list_roots", "AccessDeniedException")
    stubber.activate()
    account._clients[("organizations", "us-east-1")] = organizations
    (failed,) = check_guardrails(account, config)
    assert failed.status is Status.FAIL
    assert "neither its management account (210987654321)" in failed.detail
    assert "--management-profile for 210987654321" in failed.fix


def test_guardrails_off_check_nothing(aws: boto3.Session) -> None:
    config = _config(aws)
    assert not config.guardrails.enabled
    assert list(check_guardrails(Account(aws, config.home_region), config)) == []


def test_the_cli_reads_the_assembly_and_refuses_one_of_another_environment(
    aws: boto3.Session, synthesized: Synthesized, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    assert main(["--env", "default", "--assembly", str(tmp_path)], session=aws) == 2
    assert "no manifest.json" in capsys.readouterr().err
    assert main(["--env", "envs/guardrails.yaml", "--assembly", str(synthesized.outdir)], session=aws) == 2
    assert "holds no stack of environment" in capsys.readouterr().err


def test_raising_az_count_in_firewall_mode_counts_the_added_firewalls(aws: boto3.Session) -> None:
    """Second review, 7: deployed with two AZs in firewall mode, three AZs add one firewall, not none."""
    config = _config(aws, az_count=3)
    account = MotoAccount(aws, config.home_region)

    def row(in_use: int) -> Any:
        firewalls = [{"FirewallName": f"fw-{i}", "FirewallArn": f"arn:{i}"} for i in range(in_use)]
        with (
            mock.patch("preflight.checks._quota_by_name", return_value=5.0),
            mock.patch("preflight.checks.deployed_egress", return_value=DeployedEgress("firewall", 2, 2)),
            mock.patch.object(
                account.client("network-firewall", "us-east-1"),
                "get_paginator",
                return_value=mock.Mock(paginate=mock.Mock(return_value=[{"Firewalls": firewalls}])),
            ),
        ):
            return _by_check(check_firewall_quota(account, config))["Network Firewall quota us-east-1"]

    fits = row(4)  # the two deployed and two others
    assert fits.status is Status.PASS
    assert "4 in use + 1 to create" in fits.detail
    full = row(5)
    assert full.status is Status.FAIL
    assert "at least 6 in us-east-1" in full.fix


def test_a_leftover_bucket_names_the_object_lock_limit(aws: boto3.Session) -> None:
    """Second review, 9: a leftover archive bucket may hold COMPLIANCE-locked versions: only `cdk import` works."""
    config = _config(aws)
    template = {"Resources": {"Archive": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "pcilz-left"}}}}
    stack = StackTemplate("PciLz-default-Audit-us-east-1", config.account, "us-east-1", template)
    aws.client("s3", region_name="us-east-1").create_bucket(Bucket="pcilz-left")
    (result,) = check_names_free(MotoAccount(aws, config.home_region), config, [stack])
    assert result.status is Status.FAIL
    assert "COMPLIANCE mode cannot be emptied" in result.fix
    assert "`cdk import` such a bucket" in result.fix
    group = _one_group_stack(config.account, "Group", "/pci-lz/default/left")
    aws.client("logs", region_name="us-east-1").create_log_group(logGroupName="/pci-lz/default/left")
    (other,) = check_names_free(MotoAccount(aws, config.home_region), config, [group])
    assert "COMPLIANCE" not in other.fix


def test_the_managed_packs_name_is_looked_up_like_a_cloudformation_pack() -> None:
    """The custom resource that puts AWS's managed pack fixes its name: preflight reads it from the template
    and looks it up with DescribeConformancePacks (read-only); a name already taken is reported."""
    from botocore.stub import Stubber

    from pci_constructs.detective_controls import MANAGED_PACK_RESOURCE_TYPE

    template = {
        "Resources": {
            "Pack": {
                "Type": MANAGED_PACK_RESOURCE_TYPE,
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["F", "Arn"]},
                    "ConformancePackName": "pci-lz-x-aws-pci-dss-v4",
                },
            }
        }
    }
    (fixed,) = fixed_names("PciLz-x-Detection-us-east-1", "us-east-1", PLACEHOLDER, template)
    assert (fixed.resource_type, fixed.name) == (MANAGED_PACK_RESOURCE_TYPE, "pci-lz-x-aws-pci-dss-v4")
    config = boto3.client("config", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    stubber = Stubber(config)
    detail = {
        "ConformancePackName": fixed.name,
        "ConformancePackArn": f"arn:aws:config:us-east-1:{PLACEHOLDER}:conformance-pack/{fixed.name}/cp-a",
        "ConformancePackId": "conformance-pack-a",
    }
    stubber.add_response(
        "describe_conformance_packs", {"ConformancePackDetails": [detail]}, {"ConformancePackNames": [fixed.name]}
    )
    stubber.add_client_error("describe_conformance_packs", "NoSuchConformancePackException")
    lookup = NAME_PROPERTIES[MANAGED_PACK_RESOURCE_TYPE].lookup
    with stubber:
        assert lookup(lambda service, region: config, "us-east-1", fixed.name, {}) is True
        assert lookup(lambda service, region: config, "us-east-1", fixed.name, {}) is False
