"""The key hierarchy: one key per purpose, rotated, retained, with separation of duties (PCI DSS 3.6, 3.7)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

import pytest
from aws_cdk import App, CfnElement, Environment, Stack
from aws_cdk import assertions as cdk_assertions

from pci_constructs.key_ring import CRYPTOGRAPHIC_ACTIONS, KeyRing
from stacks.landing_zone import stack_name
from tests.conftest import Synthesized
from tests.iam_eval import Request, denied_by, render

Statement = dict[str, Any]
ADMIN_ONLY_DENIED = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:CreateGrant")


def _keys(synthesized: Synthesized) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, template in synthesized.templates():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::KMS::Key":
                yield name, logical_id, resource


def _statements(key: dict[str, Any]) -> list[Statement]:
    return list(key["Properties"]["KeyPolicy"]["Statement"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _aws_principals(statement: Statement) -> list[Any]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return ["*"]
    return _as_list(principal.get("AWS", []))


def _matches_action(statement: Statement, action: str) -> bool:
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in _as_list(statement["Action"]))


def _key_statements(synthesized: Synthesized, region: str, purpose: str) -> list[Statement]:
    """The policy of one KeyRing attribute (`secrets`, `logs` ...), found through the construct, not its ID."""
    key = getattr(synthesized.zone.regions[region].keys.keys, purpose)
    stack = Stack.of(key)
    logical_id = stack.resolve(stack.get_logical_id(key.node.default_child))
    template = synthesized.template(stack.stack_name).to_json()
    return _statements(template["Resources"][logical_id])


def test_every_region_has_one_key_per_purpose(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        template = synthesized.template(stack_name(synthesized.config, "Keys", region))
        template.resource_count_is("AWS::KMS::Key", 6)
        for purpose in ("cardholder-data", "logs", "secrets", "s3-data", "ebs", "alerts"):
            template.has_resource_properties(
                "AWS::KMS::Alias", {"AliasName": f"alias/pci-lz/{synthesized.config.name}/{purpose}"}
            )


def test_every_key_rotates_yearly_is_retained_and_waits_thirty_days(synthesized: Synthesized) -> None:
    keys = list(_keys(synthesized))
    # Six per region in the key ring, plus the card vault's environment key (issue 10) per region, plus
    # one HMAC_256 key per configured HMAC key version (issue 19). KMS rotates only symmetric encryption
    # keys ("Rotating AWS KMS keys", AWS KMS Developer Guide): an HMAC key rotates by a new version and
    # the vault's re-hash job, so it has no automatic rotation.
    vault = synthesized.config.card_vault
    enabled = vault is not None and vault.enabled
    hmac_versions = len(vault.hmac_key_versions) if vault is not None and enabled else 0
    assert len(keys) == (6 + enabled + hmac_versions) * len(synthesized.config.regions)
    hmac_keys = [k for k in keys if k[2]["Properties"].get("KeySpec", "SYMMETRIC_DEFAULT").startswith("HMAC_")]
    assert len(hmac_keys) == hmac_versions * len(synthesized.config.regions)
    for name, logical_id, key in keys:
        where = f"{name}/{logical_id}"
        if (name, logical_id, key) in hmac_keys:
            assert key["Properties"]["KeyUsage"] == "GENERATE_VERIFY_MAC", where
            assert not key["Properties"].get("EnableKeyRotation", False), where
        else:
            assert key["Properties"]["EnableKeyRotation"] is True, where
            assert key["Properties"]["RotationPeriodInDays"] == 365, where
        assert key["Properties"]["PendingWindowInDays"] == 30, where
        assert key["DeletionPolicy"] == "RetainExceptOnCreate", where
        assert key["UpdateReplacePolicy"] == "Retain", where


def test_only_the_account_root_statement_grants_kms_star(synthesized: Synthesized) -> None:
    account = synthesized.config.account
    for name, logical_id, key in _keys(synthesized):
        broad = [s for s in _statements(key) if s["Effect"] == "Allow" and "kms:*" in _as_list(s["Action"])]
        assert len(broad) == 1, f"{name}/{logical_id}"
        (root,) = broad
        assert _aws_principals(root) == [f"arn:aws:iam::{account}:root"]
        assert "Condition" not in root
        for statement in _statements(key):
            assert "*" not in _as_list(statement["Action"]), f"{name}/{logical_id}: action '*'"


def test_key_administrators_cannot_decrypt_or_grant_themselves_decrypt(synthesized: Synthesized) -> None:
    """An unconditional explicit deny in the key policy beats any IAM allow the role may carry."""
    administrators = synthesized.config.key_administrator_role_arns
    assert administrators, "the default environment demonstrates key administrators"
    for name, logical_id, key in _keys(synthesized):
        statements = _statements(key)
        for admin in administrators:
            named = [s for s in statements if admin in _aws_principals(s)]
            denies = [s for s in named if s["Effect"] == "Deny" and "Condition" not in s]
            for action in ADMIN_ONLY_DENIED:
                assert any(_matches_action(s, action) for s in denies), f"{name}/{logical_id}: {action}"
            assert any(_matches_action(s, "kms:PutKeyPolicy") for s in denies), "could rewrite its own deny"
            allows = [s for s in named if s["Effect"] == "Allow"]
            assert allows, f"{name}/{logical_id}: administrators must be able to manage the key"
            for action in (*ADMIN_ONLY_DENIED, "kms:PutKeyPolicy", "kms:DisableKeyRotation"):
                assert not any(_matches_action(s, action) for s in allows), f"{name}/{logical_id}: {action}"
            assert any(_matches_action(s, "kms:ScheduleKeyDeletion") for s in allows)
            assert any(_matches_action(s, "kms:EnableKeyRotation") for s in allows)


@pytest.mark.parametrize(
    ("purpose", "service"),
    [("secrets", "secretsmanager"), ("s3_data", "s3"), ("block_storage", "ec2")],
)
def test_purpose_keys_are_usable_only_through_their_service(
    synthesized: Synthesized, purpose: str, service: str
) -> None:
    for region in synthesized.config.regions:
        statements = _key_statements(synthesized, region, purpose)
        (guard,) = [
            s
            for s in statements
            if s["Effect"] == "Deny" and _aws_principals(s) == ["*"] and "StringNotEquals" in s.get("Condition", {})
        ]
        for action in CRYPTOGRAPHIC_ACTIONS:
            assert _matches_action(guard, action.replace("*", ""))
        assert guard["Condition"]["StringNotEquals"] == {"kms:ViaService": f"{service}.{region}.amazonaws.com"}
        assert guard["Condition"]["Bool"] == {"aws:PrincipalIsAWSService": "false"}


def test_ebs_key_serves_this_accounts_volumes_through_ec2_only(synthesized: Synthesized) -> None:
    account = synthesized.config.account
    for region in synthesized.config.regions:
        statements = _key_statements(synthesized, region, "block_storage")
        open_to_account = [s for s in statements if s["Effect"] == "Allow" and _aws_principals(s) == ["*"]]
        assert len(open_to_account) == 2
        for statement in open_to_account:
            assert statement["Condition"]["StringEquals"] == {
                "kms:CallerAccount": account,
                "kms:ViaService": f"ec2.{region}.amazonaws.com",
            }
        (grants,) = [s for s in open_to_account if _matches_action(s, "kms:CreateGrant")]
        assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}


@pytest.mark.parametrize("action", ["kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:CreateGrant"])
def test_ebs_key_deny_spares_ec2s_own_volume_principal_only(synthesized: Synthesized, action: str) -> None:
    """EC2 decrypts a volume's data key at mount as the assumed role `aws:ec2-infrastructure` (AWS KMS Developer
    Guide, "Amazon EC2 example two"), not documented to carry kms:ViaService: the deny must not refuse it, and
    must still refuse every principal of the account that calls KMS directly."""
    account = synthesized.config.account
    for region in synthesized.config.regions:
        statements = [render(s) for s in _key_statements(synthesized, region, "block_storage")]

        def denied(principal: str, via: str | None = None, policy: list[Statement] = statements) -> list[str]:
            context = {"aws:PrincipalArn": principal, "aws:PrincipalIsAWSService": "false"}
            if via is not None:
                context["kms:ViaService"] = via
            return denied_by(policy, Request(action, context=context))

        ec2_role = f"arn:aws:iam::{account}:role/aws:ec2-infrastructure"
        ec2_session = f"arn:aws:sts::{account}:assumed-role/aws:ec2-infrastructure/i-0123456789abcdef0"
        assert "DenyUseOutsideEc2" not in denied(ec2_role), region
        assert "DenyUseOutsideEc2" not in denied(ec2_session), region
        assert "DenyUseOutsideEc2" not in denied(f"arn:aws:iam::{account}:role/AnyRole", f"ec2.{region}.amazonaws.com")
        for principal in (
            f"arn:aws:iam::{account}:role/AnyRole",
            f"arn:aws:iam::{account}:role/aws-ec2-infrastructure",
            f"arn:aws:iam::{account}:role/ec2-infrastructure",
            f"arn:aws:iam::{account}:root",
            "arn:aws:iam::222222222222:role/aws:ec2-infrastructure",
        ):
            assert "DenyUseOutsideEc2" in denied(principal), (region, principal)
        assert "DenyUseOutsideEc2" in denied(ec2_role.replace(account, "222222222222"), f"s3.{region}.amazonaws.com")


def test_log_and_alert_service_statements_are_kept(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        log_sids = {s.get("Sid") for s in _key_statements(synthesized, region, "logs")}
        assert {
            "AllowCloudWatchLogsForThisAccountLogGroups",
            "AllowCloudTrailToEncryptThisAccountsTrails",
            "AllowCloudTrailToDescribeKey",
        } <= log_sids
        alert_sids = {s.get("Sid") for s in _key_statements(synthesized, region, "alerts")}
        assert {"AllowThisAccountsAlarms", "AllowEventBridgeToEncryptedTopic"} <= alert_sids


def _key_ring_stack(**options: Any) -> Stack:
    stack = Stack(App(), "KeyRingUnderTest", env=Environment(account="111111111111", region="eu-west-1"))
    KeyRing(stack, "Keys", alias_prefix="test", **options)
    return stack


def test_without_administrators_no_administrator_statements() -> None:
    template = cdk_assertions.Template.from_stack(_key_ring_stack()).to_json()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::KMS::Key":
            sids = {s.get("Sid") for s in _statements(resource)}
            assert "KeyAdministratorsNeverUseTheKey" not in sids
            assert "KeyAdministratorsManageTheKeyLifecycle" not in sids


def test_duplicate_administrators_are_rejected() -> None:
    arn = "arn:aws:iam::111111111111:role/custodian"
    with pytest.raises(ValueError, match="administrator_role_arns"):
        _key_ring_stack(administrator_role_arns=[arn, arn])


def test_cloudtrail_may_decrypt_with_the_logs_key_for_this_accounts_trails(synthesized: Synthesized) -> None:
    """An S3 Bucket Key on the archive makes CloudTrail decrypt when it creates or updates the trail."""
    config = synthesized.config
    statements = _key_statements(synthesized, config.home_region, "logs")
    decrypt = [s for s in statements if s.get("Sid") == "AllowCloudTrailToDecryptForBucketKeys"]
    assert len(decrypt) == 1
    assert decrypt[0]["Action"] == "kms:Decrypt"
    assert decrypt[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": config.account}
    assert decrypt[0]["Condition"]["StringLike"]["aws:SourceArn"].endswith(f":{config.account}:trail/*")


def test_every_key_arn_is_pinned_as_an_export(synthesized: Synthesized) -> None:
    """Consumers of a key change with configuration; a pinned export keeps such updates deployable."""
    for region, regional in synthesized.zone.regions.items():
        keys = regional.keys
        outputs = synthesized.template(keys.stack_name).to_json().get("Outputs", {})
        exported = {json.dumps(o["Value"], sort_keys=True) for o in outputs.values() if "Export" in o}
        for key in keys.keys.all_keys:
            arn = json.dumps(keys.resolve(key.key_arn), sort_keys=True)
            assert arn in exported, f"{region}: {key.node.path}"


def test_no_key_can_be_delegated_with_a_grant_but_for_an_aws_resource(synthesized: Synthesized) -> None:
    """Issue #18 scanner kind 3: every key of the app denies kms:CreateGrant to every principal, the
    root included, unless kms:GrantIsForAWSResource ("kms:GrantIsForAWSResource", AWS KMS Developer Guide)."""
    keys = [
        resource
        for _, template in synthesized.templates()
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::KMS::Key"
    ]
    assert keys
    for key in keys:
        statements = key["Properties"]["KeyPolicy"]["Statement"]
        (deny,) = [s for s in statements if s.get("Sid") == "GrantsOnlyForAwsResources"]
        assert deny["Effect"] == "Deny"
        assert deny["Action"] == "kms:CreateGrant"
        assert deny["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "false"}}
        root = [s for s in statements if s["Effect"] == "Allow" and s["Action"] == "kms:*"]
        assert root, "the root statement keeps the key manageable"


def test_only_the_vault_api_and_keys_roles_may_mac_with_the_hash_keys(synthesized: Synthesized) -> None:
    """r20 HIGH 1: each keyed-hash key's policy denies GenerateMac/VerifyMac to every principal but the
    vault's API and Keys roles (the root statement would let PowerUserAccess and AdministratorAccess MAC);
    only MAC actions are denied, so key administration stays open. The default app's card-data rule
    passes only because of that deny: without it the operator roles are holders."""
    from pci_rules.model import StackTemplate, TemplateModel
    from pci_rules.rule import evaluate
    from pci_rules.rules import RULES

    for region, zone in synthesized.zone.regions.items():
        assert zone.workload is not None, region
        vault = zone.workload.vault
        stack = Stack.of(vault)
        template = synthesized.template(stack.stack_name).to_json()
        resources = template["Resources"]
        roles = sorted(stack.resolve(r.role.role_arn)["Fn::GetAtt"][0] for r in (vault.api, vault.keys) if r.role)
        for key in vault.hmac_keys.values():
            cfn = key.node.default_child
            assert isinstance(cfn, CfnElement)
            statements = _statements(resources[stack.resolve(stack.get_logical_id(cfn))])
            (deny,) = [s for s in statements if s.get("Sid") == "OnlyTheVaultRolesMac"]
            assert deny["Effect"] == "Deny", region
            assert _aws_principals(deny) == ["*"], region
            assert sorted(_as_list(deny["Action"])) == ["kms:GenerateMac", "kms:VerifyMac"]
            exempt = _as_list(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
            assert sorted(e["Fn::GetAtt"][0] for e in exempt) == roles
            assert resources[roles[0]]["Type"] == "AWS::IAM::Role"

    rule = tuple(r for r in RULES if r.id == "PCI4-CARD-DATA-FIELD-ENCRYPTION")
    templates = dict(synthesized.templates())
    (result,) = evaluate(TemplateModel([StackTemplate(n, t) for n, t in templates.items()]), rule)
    assert result.checks
    assert not result.failures
    without = json.loads(json.dumps(templates).replace('"Sid": "OnlyTheVaultRolesMac"', '"Sid": "Removed"'))
    for template in without.values():
        for body in template.get("Resources", {}).values():
            if body["Type"] == "AWS::KMS::Key":
                policy = body["Properties"]["KeyPolicy"]
                policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "Removed"]
    (result,) = evaluate(TemplateModel([StackTemplate(n, t) for n, t in without.items()]), rule)
    hashed = [c for c in result.failures if c.requirements == ("3.5.1.1",)]
    assert len(hashed) == 4  # the API and Keys functions of two regions
    for check in hashed:
        assert "AWS managed AdministratorAccess" in check.detail
        assert "AWS managed PowerUserAccess" in check.detail
