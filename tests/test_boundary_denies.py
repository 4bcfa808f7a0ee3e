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
from aws_cdk import App, Aspects, CustomResource, Environment, Stack
from aws_cdk import assertions as cdk_assertions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from aws_cdk.assertions import Match

from pci_constructs.github_oidc import deploy_role_name
from pci_constructs.permissions_boundary import (
    ARCHIVE_TAMPERING_ACTIONS,
    CODE_PROTECTED_TAG_VALUE,
    CONFORMANCE_PACK_ACTIONS,
    EBS_DEFAULT_GUARD_ACTIONS,
    MANAGED_POLICY_MAX,
    POLICY_ATTACH_ACTIONS,
    PROTECTED_TAG_KEY,
    PROTECTED_TAG_VALUE,
    TRAIL_ALARM_TAMPERING_ACTIONS,
    TRAIL_LOG_TAMPERING_ACTIONS,
    PermissionsBoundary,
    PermissionsBoundaryAspect,
    boundary_policy_name,
    boundary_size,
    conformance_pack_role_name,
    ebs_guard_role_name,
    guard_role_name,
    protected_alarm_name_prefix,
    trail_alarm_name_prefix,
    trail_log_group_name,
    trail_metric_namespace,
)
from stacks.landing_zone import stack_name
from tests.conftest import ROOT, Synthesized
from tests.iam_eval import Request, denied_by, render
from tests.template_scan import boundary_conflicts, protected_resources, unprotected

ACCOUNT = "111111111111"
REGIONS = ("us-east-1", "us-west-2")
ENV = "default"
IAM = f"arn:aws:iam::{ACCOUNT}"
EC2_ADMIN = f"{IAM}:role/PciLz-{ENV}-Workload-us-east-1-Ec2AdminRole-ABC123"
EBS_GUARD = f"{IAM}:role/{ebs_guard_role_name(ENV, 'us-west-2')}"
PACK_ROLE = f"{IAM}:role/{conformance_pack_role_name(ENV, 'us-west-2')}"
PACK = f"arn:aws:config:us-west-2:{ACCOUNT}:conformance-pack/pci-lz-{ENV}-aws-pci-dss-v4/conformance-pack-abc"
REGIONAL_GUARD = f"{IAM}:role/pci-lz-{ENV}-account-guards-us-east-1"
TRAIL_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{trail_log_group_name(ENV)}"
OTHER_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/some-function"
TRAIL_ALARM = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{trail_alarm_name_prefix(ENV)}RootAccountUsage"
VAULT_ALARM = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:pci-lz-{ENV}-vault-KnownCardShareClientA"
ARCHIVE = f"pcilz-{ENV}-logs-{ACCOUNT}-us-east-1"
BREAK_GLASS = f"{IAM}:role/pci-lz-{ENV}-break-glass"
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
PROTECTED = {f"aws:ResourceTag/{PROTECTED_TAG_KEY}": PROTECTED_TAG_VALUE}
CODE_PROTECTED = {f"aws:ResourceTag/{PROTECTED_TAG_KEY}": CODE_PROTECTED_TAG_VALUE}
TEAM_FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:team-orders-consumer"
GUARD_FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:PciLz-default-AccountGuards-us-east-1-AWS679f53-X"
VAULT_FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:PciLz-default-Workload-us-east-1-CardVaultApi-X"
ALERTS_TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:PciLz-default-Audit-us-east-1-SecurityAlarmsTopic-X"
ALERTS_RULE = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/PciLz-default-Audit-us-east-1-FindingAlertsRule-X"


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
            "NoLookAlikes",
        )
        for how, arn in (("name", LOOK_ALIKE_ARN), ("path", PATH_LOOK_ALIKE_ARN))
        for action in ("iam:CreatePolicy", "iam:CreatePolicyVersion")
    ),
    *(
        (
            f"look-alike-{how}-as-boundary-{action.split(':')[1]}",
            _request(action, "*", EC2_ADMIN, **{"iam:PermissionsBoundary": arn}),
            "NoUnbounded",
        )
        for how, arn in (("name", LOOK_ALIKE_ARN), ("path", PATH_LOOK_ALIKE_ARN), ("region", OTHER_BOUNDARY_REGION_ARN))
        for action in ("iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:CreateUser")
    ),
    ("create-role-without-boundary", _request("iam:CreateRole", "*", EC2_ADMIN), "NoUnbounded"),
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
    ("assume-cdk-deploy-role", _request("sts:AssumeRole", CDK_DEPLOY, EC2_ADMIN), "NoBootstrap"),
    (
        "assume-cdk-role-of-another-account",
        _request("sts:AssumeRole", CDK_DEPLOY.replace(ACCOUNT, "222222222222"), EC2_ADMIN),
        "NoBootstrap",
    ),
    ("pass-cdk-exec-role", _request("iam:PassRole", CDK_EXEC, EC2_ADMIN), "NoBootstrap"),
    ("assume-other-role", _request("sts:AssumeRole", f"{IAM}:role/team-reader", EC2_ADMIN), None),
    # Review finding 4: the landing zone's customer-managed policies, CloudFormation-named or fixed-name.
    *(
        (
            f"own-policy-{kind}-{action.split(':')[1]}",
            _request(action, arn, EC2_ADMIN),
            "NoOwnPolicies",
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
        (f"suppress-{action.replace(':', '-')}", _request(action, "*", EC2_ADMIN), "NoTampering")
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
        "NoLzState",
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
        "NoReserved",
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
            "EbsGuardOnly",
        )
        for action in EBS_DEFAULT_GUARD_ACTIONS
    ),
    *(
        (
            f"ebs-{action.split(':')[1]}-by-other-guard-role",
            _request(action, "*", REGIONAL_GUARD),
            "EbsGuardOnly",
        )
        for action in EBS_DEFAULT_GUARD_ACTIONS
    ),
    ("ebs-modify-key-by-ebs-guard-role", _request("ec2:ModifyEbsDefaultKmsKeyId", "*", EBS_GUARD), None),
    ("ebs-enable-by-ec2-admin", _request("ec2:EnableEbsEncryptionByDefault", "*", EC2_ADMIN), None),
    # Conformance packs: only guard roles (of which only the managed pack's role is granted it) put or delete one.
    *(
        (f"pack-{action.split(':')[1]}-by-{who}", _request(action, PACK, principal), "GuardsOnly")
        for action in CONFORMANCE_PACK_ACTIONS
        for who, principal in (("ec2-admin", EC2_ADMIN), ("break-glass", BREAK_GLASS))
    ),
    *(
        (f"pack-{action.split(':')[1]}-by-pack-role", _request(action, PACK, PACK_ROLE), None)
        for action in CONFORMANCE_PACK_ACTIONS
    ),
    ("pack-describe-by-ec2-admin", _request("config:DescribeConformancePacks", "*", EC2_ADMIN), None),
    # 1b. The boundary policy as an identity policy: never; another managed policy: not the boundary's business.
    *(
        (
            f"attach-boundary-{action.split(':')[1]}",
            _request(action, "*", EC2_ADMIN, **{"iam:PolicyARN": arn}),
            "NoBoundaryAsPolicy",
        )
        for action in POLICY_ATTACH_ACTIONS
        for arn in (BOUNDARY_ARN,)
    ),
    (
        "attach-boundary-of-another-region",
        _request("iam:AttachRolePolicy", "*", EC2_ADMIN, **{"iam:PolicyARN": OTHER_BOUNDARY_REGION_ARN}),
        "NoBoundaryAsPolicy",
    ),
    (
        "attach-other-policy",
        _request("iam:AttachRolePolicy", "*", EC2_ADMIN, **{"iam:PolicyARN": f"{IAM}:policy/team-readonly"}),
        None,
    ),
    # 1c. The trail's log group, its streams and filters; its alarms; data points in their namespace.
    *(
        (f"trail-logs-{action.split(':')[1]}", _request(action, TRAIL_GROUP, EC2_ADMIN), "NoLzState")
        for action in TRAIL_LOG_TAMPERING_ACTIONS
    ),
    (
        "trail-logs-delete-stream",
        _request("logs:DeleteLogStream", f"{TRAIL_GROUP}:log-stream:{ACCOUNT}_CloudTrail_us-east-1", EC2_ADMIN),
        "NoLzState",
    ),
    (
        "trail-logs-in-another-region",
        _request("logs:DeleteLogGroup", TRAIL_GROUP.replace("us-east-1", "eu-west-1"), EC2_ADMIN),
        "NoLzState",
    ),
    ("other-log-group-retention", _request("logs:PutRetentionPolicy", OTHER_GROUP, EC2_ADMIN), None),
    ("trail-logs-read", _request("logs:FilterLogEvents", TRAIL_GROUP, EC2_ADMIN), None),
    *(
        (f"trail-alarm-{action.split(':')[1]}", _request(action, TRAIL_ALARM, EC2_ADMIN), "NoLzState")
        for action in TRAIL_ALARM_TAMPERING_ACTIONS
    ),
    ("other-alarm-delete", _request("cloudwatch:DeleteAlarms", OTHER_ALARM, EC2_ADMIN), None),
    (
        "trail-namespace-data-point",
        _request("cloudwatch:PutMetricData", "*", EC2_ADMIN, **{"cloudwatch:namespace": trail_metric_namespace(ENV)}),
        "NoTrailMetrics",
    ),
    (
        "other-namespace-data-point",
        _request("cloudwatch:PutMetricData", "*", EC2_ADMIN, **{"cloudwatch:namespace": "PciLz/default/CardVault"}),
        None,
    ),
    # Reviewer finding 1: CDK's custom-resource functions (they run as the guard roles), by the protection tag.
    *(
        (
            f"protected-function-{action.split(':')[1]}",
            _request(action, GUARD_FUNCTION, REGIONAL_GUARD, **PROTECTED),
            "NoProtected" if action.startswith("lambda:Invoke") else "NoCodeChange",
        )
        for action in (
            "lambda:InvokeFunction",
            "lambda:InvokeFunctionUrl",
            "lambda:PublishVersion",
            "lambda:CreateAlias",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:DeleteFunction",
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunctionConcurrency",
            "lambda:PutFunctionEventInvokeConfig",
            "lambda:UpdateAlias",
        )
    ),
    ("unprotected-function-invoke", _request("lambda:InvokeFunction", TEAM_FUNCTION, EC2_ADMIN), None),
    ("unprotected-function-update", _request("lambda:UpdateFunctionCode", TEAM_FUNCTION, EC2_ADMIN), None),
    # Security review r27, H1: the card vault's functions (their roles decrypt card data) change only through
    # CloudFormation, whoever the bounded principal (break-glass included); `code` leaves invoking to their callers.
    *(
        (
            f"vault-function-{action.split(':')[1]}-{who.rsplit('/', 1)[-1]}",
            _request(action, f"{VAULT_FUNCTION}:caller-x", who, **CODE_PROTECTED),
            "NoCodeChange",
        )
        for action in (
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:PublishVersion",
            "lambda:CreateAlias",
            "lambda:UpdateAlias",
            "lambda:DeleteAlias",
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunction",
            "lambda:UpdateFunctionUrlConfig",
        )
        for who in (EC2_ADMIN, BREAK_GLASS)
    ),
    (
        "vault-function-invoke",
        _request("lambda:InvokeFunction", f"{VAULT_FUNCTION}:caller-x", EC2_ADMIN, **CODE_PROTECTED),
        None,
    ),
    ("vault-function-read", _request("lambda:GetFunction", VAULT_FUNCTION, EC2_ADMIN, **CODE_PROTECTED), None),
    ("vault-function-list-aliases", _request("lambda:ListAliases", VAULT_FUNCTION, EC2_ADMIN, **CODE_PROTECTED), None),
    ("vault-function-get-policy", _request("lambda:GetPolicy", VAULT_FUNCTION, EC2_ADMIN, **CODE_PROTECTED), None),
    ("protected-function-read", _request("lambda:GetFunction", GUARD_FUNCTION, EC2_ADMIN, **PROTECTED), None),
    # Reviewer finding 2: the alert path, by the same tag; kms:DisableKey on every key.
    *(
        (
            f"alerts-topic-{action.split(':')[1]}",
            _request(action, ALERTS_TOPIC, EC2_ADMIN, **PROTECTED),
            "NoProtected",
        )
        for action in (
            "sns:DeleteTopic",
            "sns:SetTopicAttributes",
            "sns:AddPermission",
            "sns:RemovePermission",
            "sns:PutDataProtectionPolicy",
        )
    ),
    ("alerts-topic-publish", _request("sns:Publish", ALERTS_TOPIC, EC2_ADMIN, **PROTECTED), None),
    ("untagged-topic-delete", _request("sns:DeleteTopic", ALERTS_TOPIC.replace("Security", "Team"), EC2_ADMIN), None),
    *(
        (
            f"alerts-rule-{action.split(':')[1]}",
            _request(action, ALERTS_RULE, EC2_ADMIN, **PROTECTED),
            "NoProtected",
        )
        for action in (
            "events:DeleteRule",
            "events:DisableRule",
            "events:PutRule",
            "events:PutTargets",
            "events:RemoveTargets",
        )
    ),
    ("alerts-rule-describe", _request("events:DescribeRule", ALERTS_RULE, EC2_ADMIN, **PROTECTED), None),
    *(
        (
            f"protection-tag-{action.replace(':', '-')}",
            Request(action, resource, {"aws:PrincipalArn": EC2_ADMIN, "aws:TagKeys": ("team", PROTECTED_TAG_KEY)}),
            "NoProtectionTag",
        )
        for action, resource in (
            ("lambda:UntagResource", GUARD_FUNCTION),
            ("lambda:TagResource", VAULT_FUNCTION),
            ("sns:UntagResource", ALERTS_TOPIC),
            ("events:UntagResource", ALERTS_RULE),
            ("events:TagResource", ALERTS_RULE),
        )
    ),
    (
        "other-tag-on-protected-function",
        Request("lambda:TagResource", GUARD_FUNCTION, {"aws:PrincipalArn": EC2_ADMIN, "aws:TagKeys": ("team",)}),
        None,
    ),
    (
        "disable-any-key",
        _request("kms:DisableKey", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abc", EC2_ADMIN),
        "NoTampering",
    ),
    ("enable-any-key", _request("kms:EnableKey", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abc", EC2_ADMIN), None),
    # Second review (issue #22), 1: a guard role passed to a function of one's own would run the guard calls.
    *(
        (f"pass-guard-role-{scope}", _request("iam:PassRole", f"{IAM}:role/{guard}", BREAK_GLASS), "NoReserved")
        for scope, guard in (
            ("global", guard_role_name(ENV, "global")),
            ("regional", guard_role_name(ENV, "us-east-1")),
            ("ebs", ebs_guard_role_name(ENV, "us-east-1")),
        )
    ),
    ("pass-workload-role", _request("iam:PassRole", f"{IAM}:role/team-function-role", BREAK_GLASS), None),
    # 3: the parameters the Workload stack resolves at deploy; the card vault's alarms by their name prefix.
    *(
        (
            f"lz-parameter-{action.split(':')[1]}-{name.rsplit('/', 1)[-1]}",
            _request(action, f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/pci-lz/{ENV}/{name}", EC2_ADMIN),
            "NoLzState",
        )
        for action in ("ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters", "ssm:LabelParameterVersion")
        for name in ("alerts/topic-arn", "database/proxy-endpoint", "database/proxy-arn")
    ),
    (
        "team-parameter-put",
        _request("ssm:PutParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/team/{ENV}/x", EC2_ADMIN),
        None,
    ),
    (
        "lz-parameter-read",
        _request("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/pci-lz/{ENV}/x", EC2_ADMIN),
        None,
    ),
    *(
        (f"vault-alarm-{action.split(':')[1]}", _request(action, VAULT_ALARM, EC2_ADMIN), "NoLzState")
        for action in TRAIL_ALARM_TAMPERING_ACTIONS
    ),
    # 5: the archive bucket and its replica: policy, Object Lock, lifecycle, replication.
    *(
        (f"archive-{region}-{action.split(':')[1]}", _request(action, f"arn:aws:s3:::{bucket}", EC2_ADMIN), "NoLzState")
        for action in ARCHIVE_TAMPERING_ACTIONS
        for region, bucket in (("source", ARCHIVE), ("replica", ARCHIVE.replace("us-east-1", "us-west-2")))
    ),
    ("other-bucket-policy", _request("s3:PutBucketPolicy", "arn:aws:s3:::team-bucket", EC2_ADMIN), None),
    ("archive-read-policy", _request("s3:GetBucketPolicy", f"arn:aws:s3:::{ARCHIVE}", EC2_ADMIN), None),
    # 6 and 8: findings of a product, Security Hub's configuration, the logs data protection and account policies.
    *(
        (f"tamper-{action.replace(':', '-')}", _request(action, resource, EC2_ADMIN), sid)
        for action, resource, sid in (
            ("securityhub:DisableImportFindingsForProduct", "*", "NoTampering"),
            ("securityhub:UpdateSecurityHubConfiguration", "*", "NoTampering"),
            ("logs:PutAccountPolicy", "*", "NoTampering"),
            ("logs:PutDataProtectionPolicy", TRAIL_GROUP, "NoLzState"),
        )
    ),
    ("other-group-data-protection", _request("logs:PutDataProtectionPolicy", OTHER_GROUP, EC2_ADMIN), None),
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


def _own_boundaries(assembly: Any) -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """(stack, account, template, the boundary its roles name) for every stack of an assembly, stages included:
    each role's PermissionsBoundary is looked up among the templates' own boundary policies by name."""
    artifacts = list(assembly.stacks_recursively)
    policies = {
        props["ManagedPolicyName"]: render(props["PolicyDocument"]["Statement"])
        for artifact in artifacts
        for r in artifact.template.get("Resources", {}).values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        and isinstance((props := r["Properties"]).get("ManagedPolicyName"), str)
        and "-boundary-" in props["ManagedPolicyName"]
    }
    found = []
    for artifact in artifacts:
        named = {
            str(render(r["Properties"]["PermissionsBoundary"])).rsplit("policy/", 1)[-1]
            for r in artifact.template.get("Resources", {}).values()
            if r["Type"] == "AWS::IAM::Role"
        }
        assert len(named) <= 1, f"{artifact.stack_name}: roles name several boundaries {named}"
        if named:
            (name,) = named
            found.append((artifact.stack_name, artifact.environment.account, artifact.template, policies[name]))
    return found


def _conflicts_in(assembly: Any, regions: tuple[str, ...]) -> list[str]:
    return [
        str(conflict)
        for stack, account, template, boundary in _own_boundaries(assembly)
        for conflict in boundary_conflicts([(stack, template)], boundary, account=account, regions=regions)
    ]


def test_no_landing_zone_role_is_granted_what_the_boundary_denies_it(synthesized: Synthesized) -> None:
    """Every grant to every role of every template, with the role as principal, against the boundary its roles
    carry, conditions and resource-scoped ones included (the EBS guard role keeps its call); a grant covering a
    resource with the protection tag (a `*` grant covers a custom-resource function) is tried with its tags."""
    conflicts = _conflicts_in(synthesized.assembly, REGIONS)
    assert not conflicts, "\n".join(conflicts)


def test_no_delivery_role_is_granted_what_its_boundary_denies_it(delivered: Any) -> None:
    """The same over the delivery: the pipeline's and the OIDC stack's own boundaries (the deployers keep the
    bootstrap roles) and every stage's stacks."""
    regions = tuple(sorted({r for e in delivered.config.environments for r in e.config.regions}))
    conflicts = _conflicts_in(delivered.assembly, regions)
    assert not conflicts, "\n".join(conflicts)


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
                            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"},
                        ]
                    },
                },
            },
            "Guard": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Tags": [{"Key": PROTECTED_TAG_KEY, "Value": PROTECTED_TAG_VALUE}]},
            },
            "Other": {"Type": "AWS::Lambda::Function", "Properties": {}},
        }
    }
    conflicts = boundary_conflicts(
        [("PciLz-default-Bad-us-east-1", bad)],
        _boundary_of(synthesized, "us-east-1"),
        account=ACCOUNT,
        regions=REGIONS,
    )
    assert {(c.action, c.resource.rsplit(":", 1)[-1], c.denied_by) for c in conflicts} == {
        ("logs:DeleteLogGroup", "/pci-lz/default/cloudtrail", ("NoLzState",)),
        ("ec2:ModifyEbsDefaultKmsKeyId", "*", ("EbsGuardOnly",)),
        # The `*` grant is caught on the tagged function alone: the role keeps invoking the other one.
        ("lambda:InvokeFunction", "PciLz-default-Bad-us-east-1-Guard-GENERATED", ("NoProtected",)),
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


def test_conformance_pack_role_names_are_distinct_per_region_and_fit_iam() -> None:
    longest = "a" + "b" * 20  # the longest environment name the configuration accepts (21 characters)
    names = {conformance_pack_role_name(longest, r) for r in ("us-east-1", "ap-southeast-4", "us-gov-west-1")}
    assert len(names) == 3
    assert max(map(len, names)) <= 64
    assert all(name.startswith(guard_role_name(longest, "")) for name in names)  # the SCP's guard exemption
    with pytest.raises(ValueError, match="exceeds 64"):
        conformance_pack_role_name("x" * 40, "ap-southeast-4")


def test_ebs_guard_role_names_are_distinct_per_region_and_fit_iam() -> None:
    longest = "a" + "b" * 20  # the longest environment name the configuration accepts (21 characters)
    names = {ebs_guard_role_name(longest, region) for region in ("us-east-1", "ap-southeast-4", "us-gov-west-1")}
    assert len(names) == 3
    assert max(map(len, names)) <= 64
    with pytest.raises(ValueError, match="exceeds 64"):
        ebs_guard_role_name("x" * 40, "ap-southeast-4")


def test_the_delivery_boundaries_let_only_their_deployers_use_the_bootstrap_roles(delivered: Any) -> None:
    """Reviewer finding 3: each tooling stack's boundary names its own deploying roles exactly (the pipeline's
    three fixed-name roles, the GitHub deploy role of each environment); a role named like them is refused."""
    names = {
        "pipeline": delivered.delivery.pipeline.pipeline.deployer_role_names,
        "github": {e: deploy_role_name(e) for e in delivered.delivery.github.roles.roles},
    }
    assert set(names["pipeline"]) == {"pipeline", "self-mutation", "file-assets"}
    tooling = delivered.config.tooling.account
    iam_arn = f"arn:aws:iam::{tooling}"
    for stack, deployers in (
        (delivered.delivery.pipeline, names["pipeline"].values()),
        (delivered.delivery.github, names["github"].values()),
    ):
        template = delivered.template(stack.stack_name)
        (policy,) = [
            p
            for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
            if "-boundary-" in str(p["Properties"].get("ManagedPolicyName"))
        ]
        statements = render(policy["Properties"]["PolicyDocument"]["Statement"])
        deploy_role = f"arn:aws:iam::{tooling}:role/cdk-hnb659fds-deploy-role-{tooling}-us-east-1"
        for name in deployers:
            assert not denied_by(statements, _request("sts:AssumeRole", deploy_role, f"{iam_arn}:role/{name}"))
            # ...and nobody changes them (they are the delivery's own roles now).
            assert "NoOwnRoles" in denied_by(
                statements, _request("iam:UpdateAssumeRolePolicy", f"{iam_arn}:role/{name}", f"{iam_arn}:role/x")
            )
        for look_alike in (
            "PciLz-delivery-Pipeline-us-east-1-NewRole-X",
            "pci-lz-github-deploy-x",
            "pci-lz-delivery-x",
        ):
            assert denied_by(statements, _request("sts:AssumeRole", deploy_role, f"{iam_arn}:role/{look_alike}")) == [
                "NoBootstrap"
            ], look_alike
    # The names are the templates' own: the roles CDK Pipelines creates for those jobs carry them.
    pipeline = delivered.template(delivered.delivery.pipeline.stack_name)
    role_names = {r["Properties"].get("RoleName") for r in pipeline.find_resources("AWS::IAM::Role").values()}
    assert set(names["pipeline"].values()) <= role_names


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


# --- The protection tag on what the boundary protects by tag (reviewer findings 1 and 2) -----------------


def _assembly_templates(assembly: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(a.stack_name, a.template) for a in assembly.stacks_recursively]


def test_every_protected_resource_carries_the_protection_tag(synthesized: Synthesized, delivered: Any) -> None:
    """Every custom-resource function (found by its custom resource's ServiceToken), alert topic (notified by
    an alarm or a rule) and alert rule (targeting a topic) of the default app and of the delivery, its stages
    included, carries pci-lz:protected=true (tests/test_environment_files.py checks envs/ the same way)."""
    templates = _assembly_templates(synthesized.assembly) + _assembly_templates(delivered.assembly)
    kinds: dict[str, int] = {}
    for _, template in templates:
        for kind in protected_resources(template).values():
            kinds[kind] = kinds.get(kind, 0) + 1
    print(f"protected resources (default app and delivery): {dict(sorted(kinds.items()))}")
    assert set(kinds) == {"custom-resource function", "alert topic", "alert rule"}
    missing = unprotected(templates, PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE)
    assert not missing, "\n".join(missing)


def _guard_stack(*, with_aspect: bool) -> Stack:
    """A bare stack with an SDK call run as a named guard role, as AccountGuards makes one."""
    stack = Stack(App(), "PciLz-t-Guards-us-east-1", env=Environment(account=ACCOUNT, region="us-east-1"))
    role = iam.Role(
        stack, "Role", role_name="pci-lz-t-account-guards-x", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    call = cr.AwsSdkCall(
        service="EC2", action="enableImageBlockPublicAccess", physical_resource_id=cr.PhysicalResourceId.of("x")
    )
    cr.AwsCustomResource(stack, "Call", on_create=call, role=role, install_latest_aws_sdk=False)
    if with_aspect:
        boundary = PermissionsBoundary(stack, "Boundary", environment="t")
        Aspects.of(stack).add(PermissionsBoundaryAspect(boundaries={"us-east-1": boundary}))
    return stack


def test_an_untagged_guard_function_is_caught_and_the_aspect_tags_it() -> None:
    bare = dict(cdk_assertions.Template.from_stack(_guard_stack(with_aspect=False)).to_json())
    assert unprotected([("bare", bare)], PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE) == [
        f"bare/{lid} (custom-resource function) lacks the tag {PROTECTED_TAG_KEY}={PROTECTED_TAG_VALUE}"
        for lid, r in bare["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    tagged = cdk_assertions.Template.from_stack(_guard_stack(with_aspect=True))
    assert not unprotected([("tagged", dict(tagged.to_json()))], PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE)
    tagged.has_resource_properties(
        "AWS::Lambda::Function",
        {"Tags": Match.array_with([{"Key": PROTECTED_TAG_KEY, "Value": PROTECTED_TAG_VALUE}])},
    )


def test_an_untagged_alert_topic_and_rule_are_caught() -> None:
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Targets": [{"Arn": {"Ref": "Topic"}, "Id": "T"}]}},
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmActions": [{"Ref": "Topic"}]}},
            "Schedule": {
                "Type": "AWS::Events::Rule",
                "Properties": {"Targets": [{"Arn": "arn:aws:lambda:x", "Id": "F"}]},
            },
        }
    }
    assert [line.split(" ")[0] for line in unprotected([("bad", template)], PROTECTED_TAG_KEY, "true")] == [
        "bad/Rule",
        "bad/Topic",
    ]


def test_a_provider_framework_invoking_its_handler_is_refused_at_synth() -> None:
    """CDK's Provider framework invokes its user handler with its own boundary-carrying role, which the
    protected-function deny refuses: the synth says so instead of the deploy failing."""
    stack = Stack(App(), "PciLz-t-Provider-us-east-1", env=Environment(account=ACCOUNT, region="us-east-1"))
    handler = lambda_.Function(
        stack,
        "Handler",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): return {}"),
    )
    provider = cr.Provider(stack, "Provider", on_event_handler=handler)
    CustomResource(stack, "Resource", service_token=provider.service_token)
    boundary = PermissionsBoundary(stack, "Boundary", environment="t")
    Aspects.of(stack).add(PermissionsBoundaryAspect(boundaries={"us-east-1": boundary}))
    errors = cdk_assertions.Annotations.from_stack(stack).find_error(
        "*", Match.string_like_regexp("Provider framework")
    )
    assert errors, "a provider framework must be refused"


def test_every_alarm_of_the_security_path_is_under_the_protected_prefix(synthesized: Synthesized) -> None:
    """Second review, 3: the card vault's alarms (known-card share, new-card and sibling volume, detokenize
    volume) and the trail's carry a `pci-lz-<env>-` name, which `NoLzState` protects; no alarm of the Audit or
    Workload stacks is left with a generated name a boundary role could delete or silence."""
    config = synthesized.config
    prefix = protected_alarm_name_prefix(config.name)
    seen = 0
    for name, template in synthesized.templates():
        if "-Audit-" not in name and "-Workload-" not in name:
            continue
        for logical_id, alarm in template.get("Resources", {}).items():
            if alarm["Type"] != "AWS::CloudWatch::Alarm":
                continue
            seen += 1
            alarm_name = alarm["Properties"].get("AlarmName")
            assert isinstance(alarm_name, str), f"{name}/{logical_id}: a generated alarm name"
            assert alarm_name.startswith(prefix), f"{name}/{logical_id}: {alarm_name}"
            assert len(alarm_name) <= 255
    assert seen
    print(f"alarms under {prefix}*: {seen}")
