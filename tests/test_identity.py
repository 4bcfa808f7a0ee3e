"""Identity and account baseline: operator roles, the permissions boundary, password policy, guards, SCPs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Aspects, Stack
from aws_cdk import assertions as cdk_assertions
from aws_cdk import aws_iam as iam

from config import ConfigError, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from config.models import EnvironmentConfig, identity_center_trust_patterns
from pci_constructs.account_guards import SSM_PUBLIC_SHARING_SETTING
from pci_constructs.operator_roles import OperatorRole
from pci_constructs.org_guardrails import EXEMPT_ROLE_CLAIM_ACTIONS, SCP_MAX_CHARACTERS
from pci_constructs.permissions_boundary import (
    ACCOUNT_GUARD_ACTIONS,
    AUDIT_TAMPERING_ACTIONS,
    CONFORMANCE_PACK_ACTIONS,
    PermissionsBoundary,
    PermissionsBoundaryAspect,
    boundary_policy_name,
)
from stacks.identity_stack import AccountGuardsStack, OrgGuardrailsStack
from stacks.keys_stack import KeysStack
from stacks.landing_zone import stack_name
from tests.conftest import Synthesized, new_app

REGIONS = ("us-east-1", "us-west-2")


def _data() -> dict[str, Any]:
    return copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])


def _identity(synthesized: Synthesized) -> cdk_assertions.Template:
    return synthesized.template(stack_name(synthesized.config, "Identity", synthesized.config.home_region))


def _roles(template: cdk_assertions.Template) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["RoleName"]: r["Properties"]
        for r in template.find_resources("AWS::IAM::Role").values()
        if "RoleName" in r["Properties"]
    }


def _operator(synthesized: Synthesized, name: str) -> dict[str, Any]:
    return _roles(_identity(synthesized))[f"pci-lz-{synthesized.config.name}-{name}"]


def _policies_of(template: cdk_assertions.Template, role_logical_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_logical_id} in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _logical_id(template: cdk_assertions.Template, role_name: str) -> str:
    (found,) = [
        k for k, r in template.find_resources("AWS::IAM::Role").items() if r["Properties"].get("RoleName") == role_name
    ]
    return found


# --- Operator roles and their trust ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["platform-admin", "security-auditor", "break-glass"])
def test_operator_roles_exist_with_sessions_of_at_most_one_hour(synthesized: Synthesized, name: str) -> None:
    role = _operator(synthesized, name)
    assert role["MaxSessionDuration"] <= 3600


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("platform-admin", "administrator_principals"),
        ("security-auditor", "auditor_principals"),
        ("break-glass", "break_glass_principals"),
    ],
)
def test_trust_names_only_the_configured_principals(synthesized: Synthesized, name: str, field: str) -> None:
    statements = _operator(synthesized, name)["AssumeRolePolicyDocument"]["Statement"]
    named = set()
    for statement in statements:
        condition = statement["Condition"]
        arns = condition.get("ArnEquals", condition.get("ArnLike", {}))["aws:PrincipalArn"]
        arns = arns if isinstance(arns, list) else [arns]
        named.update(arns)
        for arn in arns:
            account = arn.split(":")[4]
            assert statement["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    configured = getattr(synthesized.config.identity, field)
    expected = {p for c in configured for p in (identity_center_trust_patterns(c) if "/aws-reserved/" in c else (c,))}
    assert named == expected


def test_iam_principal_trust_requires_mfa(synthesized: Synthesized) -> None:
    """The break-glass user of the identity account: AssumeRole carries aws:MultiFactorAuthPresent."""
    (statement,) = _operator(synthesized, "break-glass")["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
    assert int(statement["Condition"]["NumericLessThanEquals"]["aws:MultiFactorAuthAge"]) <= 3600


def test_identity_center_trust_pins_the_permission_set_role_pattern(synthesized: Synthesized) -> None:
    """Identity Center sessions (SAML) never carry aws:MultiFactorAuthPresent: MFA is enforced at the IdP."""
    (statement,) = _operator(synthesized, "platform-admin")["AssumeRolePolicyDocument"]["Statement"]
    assert "Bool" not in statement["Condition"]
    patterns = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert all("/aws-reserved/sso.amazonaws.com/" in p for p in patterns)
    assert all(p.endswith("AWSReservedSSO_PciPlatformAdmin_*") for p in patterns)


# Role ARNs as IAM Identity Center creates them ("Referencing permission sets in resource policies, Amazon
# EKS, and AWS KMS", IAM Identity Center User Guide: .../sso.amazonaws.com/<region>/AWSReservedSSO_<set>_<suffix>;
# an instance in us-east-1 is reported to create them without the region segment).
_SSO = "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/"
_ROLE = "AWSReservedSSO_PciPlatformAdmin_1234567890abcdef"


@pytest.mark.parametrize(
    ("configured", "role", "matches"),
    [
        (f"{_SSO}AWSReservedSSO_PciPlatformAdmin_*", f"{_SSO}{_ROLE}", True),
        (f"{_SSO}AWSReservedSSO_PciPlatformAdmin_*", f"{_SSO}eu-west-2/{_ROLE}", True),
        (f"{_SSO}AWSReservedSSO_PciPlatformAdmin_*", f"{_SSO}us-east-1/{_ROLE}", True),
        (f"{_SSO}eu-west-2/AWSReservedSSO_PciPlatformAdmin_*", f"{_SSO}eu-west-2/{_ROLE}", True),
        (f"{_SSO}eu-west-2/AWSReservedSSO_PciPlatformAdmin_*", f"{_SSO}eu-central-1/{_ROLE}", False),
        (f"{_SSO}us-east-1/AWSReservedSSO_PciPlatformAdmin_*", f"{_SSO}{_ROLE}", True),
        (f"{_SSO}us-east-1/AWSReservedSSO_PciPlatformAdmin_*", f"{_SSO}us-east-1/{_ROLE}", True),
        (f"{_SSO}AWSReservedSSO_PciPlatformAdmin_*", f"{_SSO}AWSReservedSSO_PciAssessor_1234567890abcdef", False),
        (
            f"{_SSO}AWSReservedSSO_PciPlatformAdmin_*",
            "arn:aws:iam::111111111111:role/AWSReservedSSO_PciPlatformAdmin_1",
            False,
        ),
    ],
    ids=[
        "any-region-pattern/role-without-region",
        "any-region-pattern/role-in-eu-west-2",
        "any-region-pattern/role-in-us-east-1",
        "pinned-eu-west-2/same-region",
        "pinned-eu-west-2/other-region",
        "pinned-us-east-1/role-without-region",
        "pinned-us-east-1/role-with-region",
        "other-permission-set",
        "not-under-aws-reserved",
    ],
)
def test_identity_center_trust_matches_the_roles_in_every_region(configured: str, role: str, matches: bool) -> None:
    from tests.iam_eval import Request, denied_by

    # The trust's ArnLike as a Deny-shaped probe: the statement "applies" exactly when the pattern matches.
    probe = [
        {
            "Sid": "Trust",
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": list(identity_center_trust_patterns(configured))}},
        }
    ]
    assert bool(denied_by(probe, Request("sts:AssumeRole", "*", {"aws:PrincipalArn": role}))) is matches


@pytest.mark.parametrize(
    ("principal", "problem"),
    [
        (f"{_SSO}prod/AWSReservedSSO_PciPlatformAdmin_*", "'prod' is not an AWS region"),
        (f"{_SSO}us-gov-west-1/AWSReservedSSO_PciPlatformAdmin_*", "is in partition 'aws-us-gov'"),
        (f"{_SSO}eu-west-2/team/AWSReservedSSO_PciPlatformAdmin_*", "not a known principal form"),
        (f"{_SSO}AWSReservedSSO_{'P' * 33}_*", "not a known principal form"),
    ],
    ids=["not-a-region", "region-of-another-partition", "extra-path-segment", "permission-set-name-over-32"],
)
def test_identity_center_pattern_that_can_never_match_is_refused(principal: str, problem: str) -> None:
    data = _data()
    data["identity"]["auditor_principals"] = [principal]
    with pytest.raises(ConfigError, match=r"identity\.auditor_principals") as raised:
        parse_environment(data)
    assert problem in str(raised.value)


def test_saml_provider_trust_requires_the_sign_in_audience(tmp_path: Path) -> None:
    stack = Stack(new_app(tmp_path), "Roles", env={"account": "111111111111", "region": "us-east-1"})
    provider = "arn:aws:iam::111111111111:saml-provider/corporate-idp"
    OperatorRole(
        stack,
        "Role",
        role_name="r",
        description="d",
        principals=[provider],
        max_session_seconds=3600,
        managed_policy_names=[],
        statements=[],
    )
    (role,) = cdk_assertions.Template.from_stack(stack).find_resources("AWS::IAM::Role").values()
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithSAML"
    assert statement["Principal"] == {"Federated": provider}
    assert statement["Condition"] == {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}


def test_operator_role_refuses_long_sessions(tmp_path: Path) -> None:
    stack = Stack(new_app(tmp_path), "Roles")
    with pytest.raises(ValueError, match="max_session_seconds"):
        OperatorRole(
            stack,
            "Role",
            role_name="r",
            description="d",
            principals=["arn:aws:iam::111111111111:user/a"],
            max_session_seconds=7200,
            managed_policy_names=[],
            statements=[],
        )


@pytest.mark.parametrize("name", ["platform-admin", "security-auditor"])
def test_operator_roles_deny_cardholder_data(synthesized: Synthesized, name: str) -> None:
    template = _identity(synthesized)
    statements = {
        s["Sid"]: s for s in _policies_of(template, _logical_id(template, f"pci-lz-{synthesized.config.name}-{name}"))
    }
    by_alias = statements["DenyCardholderDataKeyByAlias"]
    assert by_alias["Effect"] == "Deny"
    assert "kms:Decrypt" in by_alias["Action"]
    assert "kms:CreateGrant" in by_alias["Action"]
    assert by_alias["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"] == [
        f"alias/pci-lz/{synthesized.config.name}/cardholder-data"
    ]
    by_arn = statements["DenyCardholderDataKeyByArn"]
    assert by_arn["Effect"] == "Deny"
    assert "kms:Decrypt" in by_arn["Action"]
    assert "Fn::ImportValue" in json.dumps(by_arn["Resource"]), "the home region's key, from the Keys stack export"
    vault = statements["DenyVaultFunctions"]
    assert vault["Effect"] == "Deny"
    assert "lambda:InvokeFunction" in vault["Action"]
    resources = json.dumps(vault["Resource"])
    assert f"function:PciLz-{synthesized.config.name}-Workload-*" in resources
    assert "function:*detokeni*" in resources
    assert statements["DenyCdeDatabaseCredentials"]["Effect"] == "Deny"


def test_auditor_reads_but_never_writes(synthesized: Synthesized) -> None:
    template = _identity(synthesized)
    role = _operator(synthesized, "security-auditor")
    assert json.dumps(role["ManagedPolicyArns"]).count("SecurityAudit") == 1
    allows = [
        s
        for s in _policies_of(template, _logical_id(template, f"pci-lz-{synthesized.config.name}-security-auditor"))
        if s["Effect"] == "Allow"
    ]
    actions = [a for s in allows for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    write_verbs = ("Put", "Create", "Delete", "Update", "Attach", "Encrypt", "Invoke")
    assert not [a for a in actions if any(a.split(":")[1].startswith(v) for v in write_verbs)]
    (decrypt,) = [s for s in allows if s["Action"] == "kms:Decrypt"]
    assert decrypt["Condition"]["StringLike"]["kms:ViaService"] == "s3.*.amazonaws.com"


def test_break_glass_use_raises_an_alarm_on_the_alerts_topic(synthesized: Synthesized) -> None:
    audit = synthesized.template(stack_name(synthesized.config, "Audit", synthesized.config.home_region))
    role = f"pci-lz-{synthesized.config.name}-break-glass"
    (pattern,) = [
        f["Properties"]["FilterPattern"]
        for f in audit.find_resources("AWS::Logs::MetricFilter").values()
        if role in json.dumps(f["Properties"]["FilterPattern"])
    ]
    text = json.dumps(pattern)
    assert "requestParameters.roleArn" in text
    assert "sessionIssuer.arn" in text
    alarms = [
        a["Properties"]
        for a in audit.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "BreakGlassRoleUsed"  # the GenerateMac alarm is metric math
    ]
    assert len(alarms) == 1
    assert alarms[0]["AlarmActions"]


# --- The permissions boundary ------------------------------------------------------------------------


def test_every_role_and_user_of_every_template_has_the_boundary(synthesized: Synthesized) -> None:
    seen = 0
    for name, template in synthesized.templates():
        region = next(r for r in REGIONS if name.endswith(r))
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::User"):
                continue
            seen += 1
            boundary = resource["Properties"].get("PermissionsBoundary")
            expected = f"arn:aws:iam::{synthesized.config.account}:policy/{boundary_policy_name('default', region)}"
            assert boundary == expected, f"{name}/{logical_id} has no permissions boundary"
    assert seen >= 15, "the walk must see the CDK-generated roles too"


def test_cdk_generated_raw_role_gets_the_boundary(synthesized: Synthesized) -> None:
    """The restrict-default-SG provider's role is a raw CfnResource, not a CfnRole."""
    for region in REGIONS:
        template = synthesized.template(stack_name(synthesized.config, "Network", region))
        raw = [
            r
            for k, r in template.find_resources("AWS::IAM::Role").items()
            if k.startswith("CustomVpcRestrictDefaultSG")
        ]
        assert raw
        assert all("PermissionsBoundary" in r["Properties"] for r in raw)


def test_every_stack_with_roles_deploys_after_its_regions_boundary(synthesized: Synthesized) -> None:
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    for name, template in synthesized.templates():
        if not any(r["Type"] == "AWS::IAM::Role" for r in template.get("Resources", {}).values()):
            continue
        region = next(r for r in REGIONS if name.endswith(r))
        keys = stack_name(synthesized.config, "Keys", region)
        assert keys in manifest["artifacts"][name].get("dependencies", []), name


@pytest.mark.parametrize("region", REGIONS)
def test_boundary_policy_per_region_denies_escalation_and_tampering(synthesized: Synthesized, region: str) -> None:
    template = synthesized.template(stack_name(synthesized.config, "Keys", region))
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    props = policy["Properties"]
    assert props["ManagedPolicyName"] == boundary_policy_name(synthesized.config.name, region)
    statements = {s["Sid"]: s for s in props["PolicyDocument"]["Statement"]}
    assert statements["NoTampering"]["Effect"] == "Deny"
    without = statements["NoUnbounded"]
    assert "iam:CreateRole" in without["Action"]
    # Exactly the copies of the configured regions, never a wildcard a look-alike policy could match.
    from tests.iam_eval import render

    named = render(without["Condition"]["StringNotEquals"]["iam:PermissionsBoundary"])
    assert named == [
        f"arn:aws:iam::{synthesized.config.account}:policy/{boundary_policy_name(synthesized.config.name, r)}"
        for r in sorted(synthesized.config.regions)
    ]
    assert "kms:PutKeyPolicy" in statements["NoTampering"]["Action"]
    assert set(statements["NoTampering"]["Action"]) >= set(AUDIT_TAMPERING_ACTIONS)
    for action in ("cloudtrail:StopLogging", "config:StopConfigurationRecorder", "guardduty:DeleteDetector"):
        assert action in AUDIT_TAMPERING_ACTIONS
    assert "securityhub:Disable*" in AUDIT_TAMPERING_ACTIONS  # DisableSecurityHub, DisableImportFindingsForProduct
    guards = statements["GuardsOnly"]
    assert set(guards["Action"]) == set(ACCOUNT_GUARD_ACTIONS) | set(CONFORMANCE_PACK_ACTIONS)
    assert "account-guards-*" in guards["Condition"]["ArnNotLike"]["aws:PrincipalArn"]


def test_boundary_leaves_what_cdk_roles_need(synthesized: Synthesized) -> None:
    """Boundaries intersect with identity policies: nothing a landing-zone role is granted may be denied."""
    keys = synthesized.template(stack_name(synthesized.config, "Keys", "us-east-1"))
    (boundary,) = keys.find_resources("AWS::IAM::ManagedPolicy").values()
    denied = {
        a
        for s in boundary["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and "Condition" not in s and s["Resource"] == "*"
        for a in s["Action"]
    }
    for name, template in synthesized.templates():
        for policy in template.get("Resources", {}).values():
            if policy["Type"] not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                continue
            if policy["Properties"].get("ManagedPolicyName", "").startswith("pci-lz-default-boundary"):
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Effect"] != "Allow":
                    continue
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not denied & set(actions), f"{name}: the boundary would deny {denied & set(actions)}"


def test_aspect_covers_roles_added_later_in_other_stacks(tmp_path: Path) -> None:
    """A role another engineer adds (say a vault workload) gets the boundary and deploys after it."""
    app = new_app(tmp_path)
    env = {"account": "111111111111", "region": "eu-west-1"}
    keys = Stack(app, "Keys", env=env)
    boundary = PermissionsBoundary(keys, "Boundary", environment="t")
    workload = Stack(app, "Workload", env=env)
    iam.Role(workload, "Fn", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    Aspects.of(app).add(PermissionsBoundaryAspect(boundaries={"eu-west-1": boundary}))
    assembly = app.synth()
    (role,) = assembly.get_stack_by_name("Workload").template["Resources"].values()
    assert role["Properties"]["PermissionsBoundary"] == "arn:aws:iam::111111111111:policy/pci-lz-t-boundary-eu-west-1"
    assert keys in workload.dependencies


def test_aspect_fails_a_role_in_a_region_without_a_boundary(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = Stack(app, "Elsewhere", env={"account": "111111111111", "region": "ap-south-1"})
    iam.Role(stack, "Fn", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    Aspects.of(app).add(PermissionsBoundaryAspect(boundaries={}))
    with pytest.raises(RuntimeError, match="No permissions boundary for 111111111111/ap-south-1"):
        app.synth()


# --- Password policy, account guards, Access Analyzer --------------------------------------------------


def test_password_policy_meets_pci_dss_8_3(synthesized: Synthesized) -> None:
    template = _identity(synthesized)
    texts = [json.dumps(r["Properties"]["Create"]) for r in template.find_resources("Custom::AWS").values()]
    (password,) = [t for t in texts if "updateAccountPasswordPolicy" in t]
    for fragment in (
        '\\"MinimumPasswordLength\\":14',
        '\\"RequireNumbers\\":true',
        '\\"RequireLowercaseCharacters\\":true',
        '\\"PasswordReusePrevention\\":24',
        '\\"MaxPasswordAge\\":90',
    ):
        assert fragment in password


def test_guard_role_may_only_set_the_guards(synthesized: Synthesized) -> None:
    template = _identity(synthesized)
    role_id = _logical_id(template, f"pci-lz-{synthesized.config.name}-account-guards-global")
    allowed = {
        a
        for s in _policies_of(template, role_id)
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert allowed == {
        "iam:UpdateAccountPasswordPolicy",
        "s3:PutAccountPublicAccessBlock",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        # Active tracing of CDK's AwsCustomResource function (issue 18; no resource-level permissions).
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


def test_s3_block_public_access_for_the_account(synthesized: Synthesized) -> None:
    texts = [
        json.dumps(r["Properties"]["Create"]) for r in _identity(synthesized).find_resources("Custom::AWS").values()
    ]
    (bpa,) = [t for t in texts if "putPublicAccessBlock" in t]
    for flag in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"):
        assert f'\\"{flag}\\":true' in bpa


@pytest.mark.parametrize("region", REGIONS)
def test_regional_account_guards(synthesized: Synthesized, region: str) -> None:
    template = synthesized.template(stack_name(synthesized.config, "AccountGuards", region))
    template.has_resource_properties("AWS::EC2::SnapshotBlockPublicAccess", {"State": "block-all-sharing"})
    for kind in ("AWS::EC2::SnapshotBlockPublicAccess", "AWS::SSM::ServiceSetting"):
        (resource,) = template.find_resources(kind).values()
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate", f"deleting the stack must not switch {kind} off"
    template.has_resource_properties(
        "AWS::SSM::ServiceSetting", {"SettingId": SSM_PUBLIC_SHARING_SETTING, "SettingValue": "Disable"}
    )
    texts = [json.dumps(r["Properties"]["Create"]) for r in template.find_resources("Custom::AWS").values()]
    (ami,) = [t for t in texts if "enableImageBlockPublicAccess" in t]
    assert "block-new-sharing" in ami
    (imds,) = [t for t in texts if "modifyInstanceMetadataDefaults" in t]
    assert '\\"HttpTokens\\":\\"required\\"' in imds


@pytest.mark.parametrize("region", REGIONS)
def test_access_analyzer_in_every_region(synthesized: Synthesized, region: str) -> None:
    template = synthesized.template(stack_name(synthesized.config, "AccountGuards", region))
    template.has_resource_properties("AWS::AccessAnalyzer::Analyzer", {"Type": "ACCOUNT"})
    assert not template.find_resources(
        "AWS::AccessAnalyzer::Analyzer", {"Properties": {"Type": "ACCOUNT_UNUSED_ACCESS"}}
    ), "unused-access analysis is opt-in"


def test_password_policy_rule_alarms_on_the_alerts_topic(synthesized: Synthesized) -> None:
    audit = synthesized.template(stack_name(synthesized.config, "Audit", synthesized.config.home_region))
    rules = [
        r["Properties"]
        for r in audit.find_resources("AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["source"] == ["aws.config"]
    ]
    (rule,) = rules
    detail = rule["EventPattern"]["detail"]
    assert {"prefix": "pci-dss-v4-iam-password-policy"} in detail["configRuleName"]
    assert detail["newEvaluationResult"]["complianceType"] == ["NON_COMPLIANT"]
    pack = json.loads(Path("compliance/conformance/pci-dss-v4.json").read_text())
    names = [r["Properties"]["ConfigRuleName"] for r in pack["Resources"].values()]
    assert "pci-dss-v4-iam-password-policy" in names


# --- Organization guardrails -------------------------------------------------------------------------


def test_no_scps_without_an_organization_unit(synthesized: Synthesized) -> None:
    for _, template in synthesized.templates():
        assert not [r for r in template.get("Resources", {}).values() if r["Type"] == "AWS::Organizations::Policy"]


@pytest.fixture(scope="module")
def guardrails(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    data = _data()
    data["guardrails"] = {"organization_unit_ids": ["ou-ab12-cdefgh34"], "management_account": "333333333333"}
    config = parse_environment(data)
    app = new_app(tmp_path_factory.mktemp("scp"))
    stack = OrgGuardrailsStack(app, "Scp", config=config)
    template = cdk_assertions.Template.from_stack(stack)
    assert stack.account == "333333333333"
    return {
        r["Properties"]["Name"]: r["Properties"] for r in template.find_resources("AWS::Organizations::Policy").values()
    }


def test_scps_appear_with_an_organization_unit(guardrails: dict[str, dict[str, Any]]) -> None:
    assert set(guardrails) == {
        "pci-lz-default-protect-controls",
        "pci-lz-default-deny-root",
        "pci-lz-default-region-guard",
    }
    for policy in guardrails.values():
        assert policy["Type"] == "SERVICE_CONTROL_POLICY"
        assert policy["TargetIds"] == ["ou-ab12-cdefgh34"]
        assert "PCI DSS" in policy["Description"]
        assert len(json.dumps(policy["Content"], separators=(",", ":"))) <= SCP_MAX_CHARACTERS


def test_scp_statements(guardrails: dict[str, dict[str, Any]]) -> None:
    protect = {s["Sid"]: s for s in guardrails["pci-lz-default-protect-controls"]["Content"]["Statement"]}
    assert protect["DenyLeavingOrganization"]["Action"] == ["organizations:LeaveOrganization"]
    assert "cloudtrail:StopLogging" in protect["DenyTrailChanges"]["Action"]
    assert "config:StopConfigurationRecorder" in protect["DenyConfigChanges"]["Action"]
    assert "guardduty:DeleteDetector" in protect["DenyGuardDutyChanges"]["Action"]
    assert "securityhub:DisableSecurityHub" in protect["DenySecurityHubChanges"]["Action"]
    assert protect["DenyAccessAnalyzerChanges"]["Action"] == ["access-analyzer:DeleteAnalyzer"]
    assert protect["DenyEbsEncryptionOff"]["Action"] == [
        "ec2:DisableEbsEncryptionByDefault",
        "ec2:ModifyEbsDefaultKmsKeyId",
        "ec2:ResetEbsDefaultKmsKeyId",
    ]
    assert "account-guards-*" in json.dumps(protect["DenyEbsEncryptionOff"]["Condition"]["ArnNotLike"])
    assert protect["DenyS3PublicAccessBlockChanges"]["Action"] == ["s3:PutAccountPublicAccessBlock"]
    for statement in protect.values():
        assert statement["Effect"] == "Deny"
        assert "cdk-*-cfn-exec-role-*" in json.dumps(statement["Condition"]["ArnNotLike"])
    (root,) = guardrails["pci-lz-default-deny-root"]["Content"]["Statement"]
    assert root["Action"] == ["*"]
    assert root["Condition"] == {"StringLike": {"aws:PrincipalArn": "arn:*:iam::*:root"}}
    (region,) = guardrails["pci-lz-default-region-guard"]["Content"]["Statement"]
    assert "iam:*" in region["NotAction"]
    assert "sts:*" in region["NotAction"]
    assert region["Condition"]["StringNotEquals"]["aws:RequestedRegion"] == ["us-east-1", "us-west-2"]


SSO_ADMIN = "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"
CFN_EXEC = "arn:aws:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1"


@pytest.mark.parametrize(
    ("action", "role", "principal", "denied"),
    [
        # A principal without the boundary claiming an exempt name: the execution role's, a guard role's.
        *((a, CFN_EXEC, SSO_ADMIN, True) for a in EXEMPT_ROLE_CLAIM_ACTIONS),
        ("iam:CreateRole", "arn:aws:iam::111111111111:role/pci-lz-default-account-guards-global", SSO_ADMIN, True),
        (
            "iam:UpdateAssumeRolePolicy",
            "arn:aws:iam::111111111111:role/pci-lz-default-account-guards-ebs-x",
            SSO_ADMIN,
            True,
        ),
        # The exempt role itself (CloudFormation creating the guard roles), and roles of other names.
        ("iam:CreateRole", "arn:aws:iam::111111111111:role/pci-lz-default-account-guards-global", CFN_EXEC, False),
        ("iam:CreateRole", "arn:aws:iam::111111111111:role/team-reader", SSO_ADMIN, False),
        ("iam:PutRolePolicy", "arn:aws:iam::111111111111:role/cdk-hnb659fds-deploy-role-1", SSO_ADMIN, False),
    ],
    ids=lambda v: v.rsplit("/", 1)[-1].split("-1111")[0] if isinstance(v, str) else str(v),
)
def test_no_principal_claims_an_scp_exemption_by_name(
    guardrails: dict[str, dict[str, Any]], action: str, role: str, principal: str, denied: bool
) -> None:
    """Second review, 4: the exemptions go by role name; creating, re-trusting or widening a role of an exempt
    name is denied to everyone but an exempt role."""
    from tests.iam_eval import Request, denied_by

    statements = guardrails["pci-lz-default-protect-controls"]["Content"]["Statement"]
    sids = denied_by(statements, Request(action, role, {"aws:PrincipalArn": principal}))
    assert ("DenyExemptRoleClaims" in sids) is denied, sids


# --- Configuration -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::111111111111:group/admins",
        "111111111111",
        "arn:aws:sts::111111111111:assumed-role/x/y",
        "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/SomethingElse",
    ],
)
def test_unknown_principal_format_fails_naming_the_field(principal: str) -> None:
    data = _data()
    data["identity"]["administrator_principals"] = [principal]
    with pytest.raises(ConfigError, match=r"identity\.administrator_principals"):
        parse_environment(data)


def test_region_guardrail_excluding_the_home_region_fails(tmp_path: Path) -> None:
    data = _data()
    data["guardrails"] = {
        "organization_unit_ids": ["ou-ab12-cdefgh34"],
        "allowed_regions": ["us-west-2"],
        "management_account": "333333333333",
    }
    with pytest.raises(ConfigError, match=r"guardrails\.allowed_regions.*us-east-1"):
        parse_environment(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [("password_min_length", 8), ("password_reuse_prevention", 2), ("password_max_age_days", 120)],
)
def test_password_policy_below_pci_dss_fails(field: str, value: int) -> None:
    data = _data()
    data["identity"][field] = value
    with pytest.raises(ConfigError, match=rf"identity\.{field}"):
        parse_environment(data)


def test_session_longer_than_an_hour_fails() -> None:
    data = _data()
    data["identity"]["session_duration_seconds"] = 7200
    with pytest.raises(ConfigError, match=r"identity\.session_duration_seconds"):
        parse_environment(data)


def test_bad_organization_unit_fails() -> None:
    data = _data()
    data["guardrails"] = {"organization_unit_ids": ["ou-nope"]}
    with pytest.raises(ConfigError, match=r"guardrails\.organization_unit_ids"):
        parse_environment(data)


def test_default_identity_is_complete(default_config: EnvironmentConfig) -> None:
    identity = default_config.identity
    assert identity.administrator_principals
    assert identity.auditor_principals
    assert identity.break_glass_principals


@pytest.mark.parametrize(
    ("guardrails", "message"),
    [
        ({"organization_unit_ids": ["ou-ab12-cdefgh34"]}, r"guardrails\.management_account: name"),
        (
            {"organization_unit_ids": ["ou-ab12-cdefgh34"], "management_account": "111111111111"},
            r"SCPs never apply to the management account",
        ),
    ],
)
def test_guardrails_need_a_management_account_other_than_the_cde(guardrails: dict[str, Any], message: str) -> None:
    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    data["guardrails"] = guardrails
    with pytest.raises(ConfigError, match=message):
        parse_environment(data)


def test_scp_exemption_for_the_deployer_holds_in_every_partition() -> None:
    exempt = parse_environment(copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])).guardrails.exempt_role_patterns
    assert exempt == ("arn:*:iam::*:role/cdk-*-cfn-exec-role-*",)


def test_existing_access_analyzer_mode_creates_no_analyzer(tmp_path: Path) -> None:
    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    data["identity"] = {**data.get("identity", {}), "access_analyzer_mode": "existing"}
    config = parse_environment(data)
    app = new_app(tmp_path)
    keys = KeysStack(app, "Keys", config=config, region=config.home_region)
    guards = AccountGuardsStack(app, "Guards", config=config, region=config.home_region, keys=keys.keys)
    assert guards.analyzers is None
    cdk_assertions.Template.from_stack(guards).resource_count_is("AWS::AccessAnalyzer::Analyzer", 0)
