"""Issue #22, boundary and guard gaps: what the permissions boundary denies, to whom, and that nothing the
landing zone grants its own roles is among it.

Each deny is tried on the boundary as rendered (a bare stack holding only `PermissionsBoundary`) with a
purpose-built request: a role attempting the denied thing (caught) and the same role doing the nearest
legitimate thing, or the one role the deny exempts (allowed).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import assertions as cdk_assertions

from pci_constructs.permissions_boundary import (
    EBS_DEFAULT_GUARD_ACTIONS,
    MANAGED_POLICY_MAX,
    POLICY_ATTACH_ACTIONS,
    TRAIL_ALARM_TAMPERING_ACTIONS,
    TRAIL_LOG_TAMPERING_ACTIONS,
    PermissionsBoundary,
    boundary_policy_name,
    boundary_size,
    ebs_guard_role_name,
    trail_alarm_name_prefix,
    trail_log_group_name,
    trail_metric_namespace,
)
from stacks.landing_zone import stack_name
from tests.conftest import ROOT, Synthesized
from tests.iam_eval import Request, denied_by, render
from tests.template_scan import boundary_conflicts

ACCOUNT = "111111111111"
REGIONS = ("us-east-1", "us-west-2")
ENV = "default"
IAM = f"arn:aws:iam::{ACCOUNT}"
EC2_ADMIN = f"{IAM}:role/PciLz-{ENV}-Workload-us-east-1-Ec2AdminRole-ABC123"
EBS_GUARD = f"{IAM}:role/{ebs_guard_role_name(ENV, 'us-west-2')}"
REGIONAL_GUARD = f"{IAM}:role/pci-lz-{ENV}-account-guards-us-east-1"
TRAIL_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{trail_log_group_name(ENV)}"
OTHER_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/some-function"
TRAIL_ALARM = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{trail_alarm_name_prefix(ENV)}RootAccountUsage"
OTHER_ALARM = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:PciLz-default-Workload-us-east-1-VaultErrors-XYZ"
BOUNDARY_ARN = f"{IAM}:policy/{boundary_policy_name(ENV, 'us-east-1')}"
OTHER_BOUNDARY_REGION_ARN = f"{IAM}:policy/{boundary_policy_name(ENV, 'eu-west-1')}"
WEST_BOUNDARY_ARN = f"{IAM}:policy/{boundary_policy_name(ENV, 'us-west-2')}"
LOOK_ALIKE_ARN = f"{IAM}:policy/{boundary_policy_name(ENV, 'x')}"
PATH_LOOK_ALIKE_ARN = f"{IAM}:policy/{boundary_policy_name(ENV, 'x')}/admin"
CFN_POLICY = f"{IAM}:policy/PciLz-{ENV}-Data-us-east-1-FlowLogPolicy-ABC123"
FIXED_POLICY = f"{IAM}:policy/pci-lz-{ENV}-ebs-default-encryption-us-east-1"
CDK_DEPLOY = f"{IAM}:role/cdk-hnb659fds-deploy-role-{ACCOUNT}-us-east-1"
CDK_EXEC = f"{IAM}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-us-east-1"
PIPELINE_ROLE = f"{IAM}:role/PciLz-delivery-Pipeline-us-east-1-PipelineRole-XYZ"
GITHUB_ROLE = f"{IAM}:role/pci-lz-github-deploy-prod"


@pytest.fixture(scope="module")
def boundary() -> list[dict[str, Any]]:
    """The boundary's statements as CloudFormation renders them, intrinsics resolved for `aws`."""
    stack = Stack(App(), "Keys", env=Environment(account=ACCOUNT, region="us-east-1"))
    PermissionsBoundary(stack, "PermissionsBoundary", environment=ENV, regions=REGIONS)
    (policy,) = cdk_assertions.Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()
    statements: list[dict[str, Any]] = render(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _request(action: str, resource: str, principal: str, **context: str) -> Request:
    return Request(action, resource, {"aws:PrincipalArn": principal, **context})


# (case id, request, the Sid that must deny it, or None where it must not be denied)
CASES: list[tuple[str, Request, str | None]] = [
    # Review finding 1: a look-alike boundary (Allow *) by name or by path, then a role naming it.
    *(
        (
            f"look-alike-{how}-{action.split(':')[1]}",
            _request(action, arn, EC2_ADMIN),
            "DenyBoundaryLookAlikePolicies",
        )
        for how, arn in (("name", LOOK_ALIKE_ARN), ("path", PATH_LOOK_ALIKE_ARN))
        for action in ("iam:CreatePolicy", "iam:CreatePolicyVersion")
    ),
    *(
        (
            f"look-alike-{how}-as-boundary-{action.split(':')[1]}",
            _request(action, "*", EC2_ADMIN, **{"iam:PermissionsBoundary": arn}),
            "DenyPrincipalsWithoutThisBoundary",
        )
        for how, arn in (("name", LOOK_ALIKE_ARN), ("path", PATH_LOOK_ALIKE_ARN), ("region", OTHER_BOUNDARY_REGION_ARN))
        for action in ("iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:CreateUser")
    ),
    ("create-role-without-boundary", _request("iam:CreateRole", "*", EC2_ADMIN), "DenyPrincipalsWithoutThisBoundary"),
    *(
        (
            f"create-role-with-{region}-boundary",
            _request("iam:CreateRole", "*", EC2_ADMIN, **{"iam:PermissionsBoundary": arn}),
            None,
        )
        for region, arn in (("home", BOUNDARY_ARN), ("second-region", WEST_BOUNDARY_ARN))
    ),
    ("create-other-policy", _request("iam:CreatePolicy", f"{IAM}:policy/team-readonly", EC2_ADMIN), None),
    # Review finding 2: the CDK bootstrap roles (AdministratorAccess, no boundary), in any account.
    ("assume-cdk-deploy-role", _request("sts:AssumeRole", CDK_DEPLOY, EC2_ADMIN), "DenyCdkBootstrapRoles"),
    (
        "assume-cdk-role-of-another-account",
        _request("sts:AssumeRole", CDK_DEPLOY.replace(ACCOUNT, "222222222222"), EC2_ADMIN),
        "DenyCdkBootstrapRoles",
    ),
    ("pass-cdk-exec-role", _request("iam:PassRole", CDK_EXEC, EC2_ADMIN), "DenyCdkBootstrapRoles"),
    ("assume-other-role", _request("sts:AssumeRole", f"{IAM}:role/team-reader", EC2_ADMIN), None),
    # Review finding 4: the landing zone's customer-managed policies, CloudFormation-named or fixed-name.
    *(
        (
            f"own-policy-{kind}-{action.split(':')[1]}",
            _request(action, arn, EC2_ADMIN),
            "DenyChangesToLandingZonePolicies",
        )
        for kind, arn in (("generated", CFN_POLICY), ("fixed", FIXED_POLICY))
        for action in (
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:DeletePolicyVersion",
            "iam:DeletePolicy",
        )
    ),
    ("other-policy-new-version", _request("iam:CreatePolicyVersion", f"{IAM}:policy/team-readonly", EC2_ADMIN), None),
    ("own-policy-read", _request("iam:GetPolicyVersion", CFN_POLICY, EC2_ADMIN), None),
    # Review finding 6: suppressing findings instead of stopping the controls.
    *(
        (f"suppress-{action.replace(':', '-')}", _request(action, "*", EC2_ADMIN), "DenyDisablingDetectiveControls")
        for action in (
            "guardduty:CreateFilter",
            "guardduty:CreateIPSet",
            "securityhub:BatchUpdateFindings",
            "securityhub:CreateAutomationRule",
            "securityhub:UpdateStandardsControl",
            "config:PutDeliveryChannel",
            "config:DeleteRetentionConfiguration",
            "access-analyzer:ApplyArchiveRule",
        )
    ),
    ("read-findings", _request("securityhub:GetFindings", "*", EC2_ADMIN), None),
    (
        "trail-logs-subscription",
        _request("logs:PutSubscriptionFilter", TRAIL_GROUP, EC2_ADMIN),
        "DenyTrailLogGroupTampering",
    ),
    ("other-logs-subscription", _request("logs:PutSubscriptionFilter", OTHER_GROUP, EC2_ADMIN), None),
    # Review finding 7: no role under the path AWS keeps for its own (Identity Center) roles.
    (
        "create-role-under-aws-reserved",
        _request(
            "iam:CreateRole",
            f"{IAM}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123",
            EC2_ADMIN,
            **{"iam:PermissionsBoundary": BOUNDARY_ARN},
        ),
        "DenyRolesUnderAwsReservedPaths",
    ),
    (
        "create-role-under-own-path",
        _request("iam:CreateRole", f"{IAM}:role/team/reader", EC2_ADMIN, **{"iam:PermissionsBoundary": BOUNDARY_ARN}),
        None,
    ),
    # 1a. EBS encryption by default and its key: only the EBS guard role, in any region of the account.
    *(
        (
            f"ebs-{action.split(':')[1]}-by-ec2-admin",
            _request(action, "*", EC2_ADMIN),
            "DenyEbsDefaultEncryptionChangesOutsideEbsGuardRole",
        )
        for action in EBS_DEFAULT_GUARD_ACTIONS
    ),
    *(
        (
            f"ebs-{action.split(':')[1]}-by-other-guard-role",
            _request(action, "*", REGIONAL_GUARD),
            "DenyEbsDefaultEncryptionChangesOutsideEbsGuardRole",
        )
        for action in EBS_DEFAULT_GUARD_ACTIONS
    ),
    ("ebs-modify-key-by-ebs-guard-role", _request("ec2:ModifyEbsDefaultKmsKeyId", "*", EBS_GUARD), None),
    ("ebs-enable-by-ec2-admin", _request("ec2:EnableEbsEncryptionByDefault", "*", EC2_ADMIN), None),
    # 1b. The boundary policy as an identity policy: never; another managed policy: not the boundary's business.
    *(
        (
            f"attach-boundary-{action.split(':')[1]}",
            _request(action, "*", EC2_ADMIN, **{"iam:PolicyARN": arn}),
            "DenyAttachingTheBoundaryAsIdentityPolicy",
        )
        for action in POLICY_ATTACH_ACTIONS
        for arn in (BOUNDARY_ARN,)
    ),
    (
        "attach-boundary-of-another-region",
        _request("iam:AttachRolePolicy", "*", EC2_ADMIN, **{"iam:PolicyARN": OTHER_BOUNDARY_REGION_ARN}),
        "DenyAttachingTheBoundaryAsIdentityPolicy",
    ),
    (
        "attach-other-policy",
        _request("iam:AttachRolePolicy", "*", EC2_ADMIN, **{"iam:PolicyARN": f"{IAM}:policy/team-readonly"}),
        None,
    ),
    # 1c. The trail's log group, its streams and filters; its alarms; data points in their namespace.
    *(
        (f"trail-logs-{action.split(':')[1]}", _request(action, TRAIL_GROUP, EC2_ADMIN), "DenyTrailLogGroupTampering")
        for action in TRAIL_LOG_TAMPERING_ACTIONS
    ),
    (
        "trail-logs-delete-stream",
        _request("logs:DeleteLogStream", f"{TRAIL_GROUP}:log-stream:{ACCOUNT}_CloudTrail_us-east-1", EC2_ADMIN),
        "DenyTrailLogGroupTampering",
    ),
    (
        "trail-logs-in-another-region",
        _request("logs:DeleteLogGroup", TRAIL_GROUP.replace("us-east-1", "eu-west-1"), EC2_ADMIN),
        "DenyTrailLogGroupTampering",
    ),
    ("other-log-group-retention", _request("logs:PutRetentionPolicy", OTHER_GROUP, EC2_ADMIN), None),
    ("trail-logs-read", _request("logs:FilterLogEvents", TRAIL_GROUP, EC2_ADMIN), None),
    *(
        (f"trail-alarm-{action.split(':')[1]}", _request(action, TRAIL_ALARM, EC2_ADMIN), "DenyTrailAlarmTampering")
        for action in TRAIL_ALARM_TAMPERING_ACTIONS
    ),
    ("other-alarm-delete", _request("cloudwatch:DeleteAlarms", OTHER_ALARM, EC2_ADMIN), None),
    (
        "trail-namespace-data-point",
        _request("cloudwatch:PutMetricData", "*", EC2_ADMIN, **{"cloudwatch:namespace": trail_metric_namespace(ENV)}),
        "DenyDataPointsInTheTrailAlarmNamespace",
    ),
    (
        "other-namespace-data-point",
        _request("cloudwatch:PutMetricData", "*", EC2_ADMIN, **{"cloudwatch:namespace": "PciLz/default/CardVault"}),
        None,
    ),
]


@pytest.mark.parametrize(("request_", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_deny_catches_the_attempt_and_spares_the_rest(
    boundary: list[dict[str, Any]], request_: Request, expected: str | None
) -> None:
    sids = denied_by(boundary, request_)
    if expected is None:
        assert not sids, f"{request_} must stay allowed, denied by {sids}"
    else:
        assert expected in sids, f"{request_} must be denied by {expected}, got {sids}"


def test_every_case_id_is_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_boundary_fits_the_managed_policy_quota(boundary: list[dict[str, Any]]) -> None:
    """IAM and STS quotas (IAM User Guide): a managed policy holds at most 6,144 characters, whitespace
    not counted; CloudFormation fails the Keys stack's create or update above it."""
    size = len(json.dumps({"Version": "2012-10-17", "Statement": boundary}, separators=(",", ":")))
    print(f"permissions boundary: {size} of 6144 characters")
    assert size <= 6144
    quoted = re.search(r"The boundary is ([\d,]+)\s+of IAM's 6,144", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert quoted is not None, "the README quotes the boundary's size"
    assert int(quoted[1].replace(",", "")) == size, "update the README's boundary size"


# --- Over the synthesized landing zone -----------------------------------------------------------


def _boundary_of(synthesized: Synthesized, region: str) -> list[dict[str, Any]]:
    keys = synthesized.template(stack_name(synthesized.config, "Keys", region))
    (policy,) = keys.find_resources("AWS::IAM::ManagedPolicy").values()
    statements: list[dict[str, Any]] = render(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def test_no_landing_zone_role_is_granted_what_the_boundary_denies_it(synthesized: Synthesized) -> None:
    """Every grant to every role of every template, with the role as principal, against the boundary's
    denies, conditions and resource-scoped ones included (the EBS guard role keeps its call)."""
    conflicts = boundary_conflicts(
        synthesized.templates(),
        _boundary_of(synthesized, "us-east-1"),
        account=synthesized.config.account,
        regions=REGIONS,
    )
    assert not conflicts, "\n".join(map(str, conflicts))


def test_a_role_granted_a_denied_action_is_caught(synthesized: Synthesized) -> None:
    """A purpose-built template: a role allowed to delete the trail's log group and repoint the EBS key."""
    bad = {
        "Resources": {
            "Ops": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "pci-lz-default-ops"}},
            "OpsPolicy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "Roles": [{"Ref": "Ops"}],
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": "logs:DeleteLogGroup", "Resource": TRAIL_GROUP},
                            {"Effect": "Allow", "Action": ["ec2:ModifyEbsDefaultKmsKeyId"], "Resource": "*"},
                        ]
                    },
                },
            },
        }
    }
    conflicts = boundary_conflicts(
        [("PciLz-default-Bad-us-east-1", bad)],
        _boundary_of(synthesized, "us-east-1"),
        account=ACCOUNT,
        regions=REGIONS,
    )
    assert {(c.action, c.denied_by) for c in conflicts} == {
        ("logs:DeleteLogGroup", ("DenyTrailLogGroupTampering",)),
        ("ec2:ModifyEbsDefaultKmsKeyId", ("DenyEbsDefaultEncryptionChangesOutsideEbsGuardRole",)),
    }


def test_the_protected_names_are_the_ones_the_templates_use(synthesized: Synthesized) -> None:
    """The boundary names the trail's log group, alarms, namespace and the EBS guard role by fixed names:
    each must be what the templates create, or the deny protects nothing."""
    config = synthesized.config
    audit = synthesized.template(stack_name(config, "Audit", config.home_region))
    trail = next(iter(audit.find_resources("AWS::CloudTrail::Trail").values()))["Properties"]
    groups = {k: r["Properties"] for k, r in audit.find_resources("AWS::Logs::LogGroup").items()}
    (trail_group,) = [k for k in groups if k in json.dumps(trail["CloudWatchLogsLogGroupArn"])]
    assert groups[trail_group]["LogGroupName"] == trail_log_group_name(config.name)
    filters = audit.find_resources("AWS::Logs::MetricFilter").values()
    assert filters
    for metric_filter in filters:
        assert metric_filter["Properties"]["LogGroupName"] == {"Ref": trail_group}
        transformations = metric_filter["Properties"]["MetricTransformations"]
        assert {t["MetricNamespace"] for t in transformations} == {trail_metric_namespace(config.name)}
    alarms = audit.find_resources("AWS::CloudWatch::Alarm").values()
    assert len(alarms) == len(list(filters))
    for alarm in alarms:
        assert alarm["Properties"]["AlarmName"].startswith(trail_alarm_name_prefix(config.name))
        if "Metrics" not in alarm["Properties"]:  # the vault's GenerateMac alarm is metric math (r19 F2)
            assert alarm["Properties"]["Namespace"] == trail_metric_namespace(config.name)
    for region in REGIONS:
        data = synthesized.template(stack_name(config, "Data", region))
        names = {r["Properties"].get("RoleName") for r in data.find_resources("AWS::IAM::Role").values()}
        assert ebs_guard_role_name(config.name, region) in names


def test_ebs_guard_role_names_are_distinct_per_region_and_fit_iam() -> None:
    longest = "a" + "b" * 20  # the longest environment name the configuration accepts (21 characters)
    names = {ebs_guard_role_name(longest, region) for region in ("us-east-1", "ap-southeast-4", "us-gov-west-1")}
    assert len(names) == 3
    assert max(map(len, names)) <= 64
    with pytest.raises(ValueError, match="exceeds 64"):
        ebs_guard_role_name("x" * 40, "ap-southeast-4")


def test_the_delivery_boundary_lets_only_its_deployers_use_the_bootstrap_roles() -> None:
    """The delivery's roles deploy through the CDK bootstrap roles; its boundary exempts them by name."""
    stack = Stack(App(), "Pipeline", env=Environment(account=ACCOUNT, region="us-east-1"))
    PermissionsBoundary(
        stack,
        "PermissionsBoundary",
        environment="delivery",
        regions=("us-east-1",),
        bootstrap_role_users=(f"{IAM}:role/PciLz-delivery-*", f"{IAM}:role/pci-lz-github-deploy-*"),
    )
    (policy,) = cdk_assertions.Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()
    statements = render(policy["Properties"]["PolicyDocument"]["Statement"])
    for deployer in (PIPELINE_ROLE, GITHUB_ROLE):
        assert not denied_by(statements, _request("sts:AssumeRole", CDK_DEPLOY, deployer))
    assert denied_by(statements, _request("sts:AssumeRole", CDK_DEPLOY, EC2_ADMIN)) == ["DenyCdkBootstrapRoles"]


def test_the_boundary_needs_its_own_region() -> None:
    stack = Stack(App(), "Keys", env=Environment(account=ACCOUNT, region="eu-west-1"))
    with pytest.raises(ValueError, match="must include this stack's region"):
        PermissionsBoundary(stack, "PermissionsBoundary", environment=ENV, regions=REGIONS)


def test_too_many_regions_for_the_boundary_is_refused_early() -> None:
    """Every region's copy is named in the boundary: past IAM's size quota the synth stops, naming `regions`."""
    many = tuple(f"us-east-{n}" for n in range(1, 40))
    stack = Stack(App(), "Keys", env=Environment(account=ACCOUNT, region="us-east-1"))
    with pytest.raises(ValueError, match="regions: the permissions boundary"):
        PermissionsBoundary(stack, "PermissionsBoundary", environment=ENV, regions=many)
    sizes = {n: boundary_size(environment="a" + "b" * 20, regions=many[:n]) for n in (1, 2, 4, 6)}
    print(f"boundary size by region count (21-character environment, aws-us-gov): {sizes}")
    assert sizes[4] <= MANAGED_POLICY_MAX
