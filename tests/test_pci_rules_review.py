"""The rule changes of the issue-21 QSA review: each with a compliant and a non-compliant case."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pci_rule_cases import DB_OK, _acl, _managed, _policy, _selector, _trail, r
from tests.test_pci_rules import _run

# --- RDS.35: the cluster's AutoMinorVersionUpgrade ---------------------------------------------------


def test_a_cluster_without_minor_upgrades_fails_and_one_with_them_passes() -> None:
    examined, failures = _run("PCI4-RDS-MINOR-UPGRADES", {"C": r("AWS::RDS::DBCluster", AutoMinorVersionUpgrade=False)})
    assert examined == 1
    assert failures == ["C: AutoMinorVersionUpgrade is false"]
    assert _run("PCI4-RDS-MINOR-UPGRADES", {"C": r("AWS::RDS::DBCluster")})[1] == []
    assert _run("PCI4-RDS-MINOR-UPGRADES", {"Db": r("AWS::RDS::DBInstance", **DB_OK)})[1] == []


# --- S3.22/S3.23: data events on every bucket, not one ----------------------------------------------

_LAMBDA = _selector("AWS::Lambda::Function")


def _basic(*values: Any) -> dict[str, Any]:
    data = [{"Type": "AWS::S3::Object", "Values": list(values)}, {"Type": "AWS::Lambda::Function", "Values": ["x"]}]
    return {"ReadWriteType": "All", "DataResources": data}


def _basic_trail(*values: Any) -> dict[str, Any]:
    trail = _trail([])
    props = trail["Trail"]["Properties"]
    del props["AdvancedEventSelectors"]
    props["EventSelectors"] = [_basic(*values)]
    return trail


LIMITED = {
    "one bucket by StartsWith": [
        _selector("AWS::S3::Object", {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::data/"]}),
        _LAMBDA,
    ],
    "one object by Equals": [
        _selector("AWS::S3::Object", {"Field": "resources.ARN", "Equals": ["arn:aws:s3:::data/key"]}),
        _LAMBDA,
    ],
    "some events by eventName": [
        _selector("AWS::S3::Object", {"Field": "eventName", "Equals": ["GetObject"]}),
        _LAMBDA,
    ],
}


@pytest.mark.parametrize("case", sorted(LIMITED))
def test_an_advanced_selector_limited_to_some_buckets_or_events_fails(case: str) -> None:
    _, failures = _run("PCI4-TRAIL-DATA-EVENTS", _trail(LIMITED[case]))
    assert any("limited to some buckets or events" in f for f in failures), failures


def test_an_advanced_selector_on_every_bucket_passes() -> None:
    every = _selector("AWS::S3::Object", {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::"]})
    assert _run("PCI4-TRAIL-DATA-EVENTS", _trail([every, _LAMBDA]))[1] == []
    assert _run("PCI4-TRAIL-DATA-EVENTS", _trail([_selector("AWS::S3::Object"), _LAMBDA]))[1] == []


@pytest.mark.parametrize("value", ["arn:aws:s3", "arn:aws:s3:::"])
def test_a_basic_selector_on_every_bucket_passes(value: str) -> None:
    assert _run("PCI4-TRAIL-DATA-EVENTS", _basic_trail(value))[1] == []


def test_a_basic_selector_on_one_bucket_fails() -> None:
    _, failures = _run("PCI4-TRAIL-DATA-EVENTS", _basic_trail("arn:aws:s3:::data/"))
    assert any("limited to some buckets or events" in f for f in failures), failures


# --- WAF: a required group with its rules overridden to Count or Allow does not block ---------------

CRS, BAD_INPUTS = "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"
METRICS = {"CloudWatchMetricsEnabled": True, "MetricName": "m", "SampledRequestsEnabled": True}


def _overridden(name: str, *overrides: tuple[str, str]) -> dict[str, Any]:
    rule_ = _managed(name)
    group = rule_["Statement"]["ManagedRuleGroupStatement"]
    group["RuleActionOverrides"] = [{"Name": rule, "ActionToUse": {action: {}}} for rule, action in overrides]
    return rule_


def _label_block(key: str) -> dict[str, Any]:
    label = {"LabelMatchStatement": {"Scope": "LABEL", "Key": key}}
    other: dict[str, Any] = {"NotStatement": {"Statement": {"ByteMatchStatement": {}}}}
    return {
        "Name": "ReBlock",
        "Priority": 9,
        "Action": {"Block": {}},
        "Statement": {"AndStatement": {"Statements": [label, other]}},
        "VisibilityConfig": METRICS,
    }


@pytest.mark.parametrize("action", ["Count", "Allow"])
def test_a_required_group_with_its_rules_overridden_does_not_block(action: str) -> None:
    counted = _overridden(CRS, ("NoUserAgent_HEADER", action), ("SizeRestrictions_BODY", action))
    _, failures = _run("PCI4-WAF-WEB-ACL-CONTENT", _acl([counted, _managed(BAD_INPUTS)]))
    assert len(failures) == 1
    assert f"{CRS} does not block: NoUserAgent_HEADER overridden to {action}" in failures[0]


def test_a_counted_rule_re_blocked_by_its_label_passes_and_allow_never_does() -> None:
    counted = _overridden(CRS, ("SizeRestrictions_BODY", "Count"))
    reblock = _label_block("awswaf:managed:aws:core-rule-set:SizeRestrictions_Body")
    assert _run("PCI4-WAF-WEB-ACL-CONTENT", _acl([counted, _managed(BAD_INPUTS), reblock]))[1] == []
    allowed = _overridden(CRS, ("SizeRestrictions_BODY", "Allow"))
    assert _run("PCI4-WAF-WEB-ACL-CONTENT", _acl([allowed, _managed(BAD_INPUTS), reblock]))[1]
    # A label under a NotStatement blocks everything but the counted rule's matches: not a re-block.
    inverted = {
        **reblock,
        "Statement": {"NotStatement": {"Statement": reblock["Statement"]["AndStatement"]["Statements"][0]}},
    }
    assert _run("PCI4-WAF-WEB-ACL-CONTENT", _acl([counted, _managed(BAD_INPUTS), inverted]))[1]


# --- KMS: Decrypt on every key by ARN glob, or under a condition that does not scope it --------------

DECRYPT = {"Effect": "Allow", "Action": "kms:Decrypt"}
EVERY_KEY = [
    "*",
    "arn:aws:kms:*:*:key/*",
    "arn:aws:kms:us-east-1:111122223333:key/*",
    "arn:aws:kms:*:*:*",
    "arn:*:kms:*",
    {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":kms:*:", {"Ref": "AWS::AccountId"}, ":key/*"]]},
]


@pytest.mark.parametrize("index", range(len(EVERY_KEY)))
def test_decrypt_on_an_arn_globbing_every_key_fails(index: int) -> None:
    _, failures = _run("PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS", _policy({**DECRYPT, "Resource": EVERY_KEY[index]}))
    assert failures


def test_decrypt_on_every_key_with_an_unrelated_condition_fails() -> None:
    condition = {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}
    assert _run("PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS", _policy({**DECRYPT, "Resource": "*", "Condition": condition}))[1]
    grant = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert _run("PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS", _policy({**DECRYPT, "Resource": "*", "Condition": grant}))[1]


@pytest.mark.parametrize("key", ["kms:ViaService", "kms:CallerAccount", "kms:ResourceAliases"])
def test_decrypt_on_every_key_scoped_by_a_kms_condition_passes(key: str) -> None:
    condition = {"StringEquals": {key: "x"}}
    statement = {**DECRYPT, "Resource": "arn:aws:kms:*:*:key/*", "Condition": condition}
    assert _run("PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS", _policy(statement))[1] == []


def test_decrypt_on_named_keys_passes() -> None:
    named = [
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        {"Fn::GetAtt": ["K", "Arn"]},
    ]
    assert _run("PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS", _policy({**DECRYPT, "Resource": named}))[1] == []


# --- Secrets Manager: rate(N hours) and monthly crons rotate within 90 days ------------------------

ROTATES = [
    "rate(4 hours)",
    "rate(24 hours)",
    "rate(90 days)",
    "cron(0 16 1 * ? *)",
    "cron(0 8 ? * MON *)",
    "cron(0 0 L JAN-DEC ? *)",
    "cron(0 4 31 * ? *)",
]
STALE = [
    "rate(91 days)",
    "rate(0 hours)",
    "cron(0 16 1 */3 ? *)",
    "cron(0 16 1 JAN,JUL ? *)",
    "cron(0 16 1 * ? 2027)",
    "cron(nonsense)",
]


@pytest.mark.parametrize("expression", ROTATES)
def test_a_schedule_rotating_within_90_days_passes(expression: str) -> None:
    from tests.pci_rule_cases import _secret

    assert _run("PCI4-SECRET-ROTATION", _secret(ScheduleExpression=expression))[1] == []


@pytest.mark.parametrize("expression", STALE)
def test_a_schedule_rotating_less_often_or_unreadable_fails(expression: str) -> None:
    from tests.pci_rule_cases import _secret

    assert _run("PCI4-SECRET-ROTATION", _secret(ScheduleExpression=expression))[1]


# PCI4-CARD-DATA-FIELD-ENCRYPTION (issue 20): each failure mode of a function marked as holding card data.
@pytest.mark.parametrize(
    ("spec", "other_role", "finding"),
    [
        ("SYMMETRIC_DEFAULT", False, "not HMAC_256"),
        ("HMAC_256", True, "other identities may MAC with its keyed-hash key: Operator"),
    ],
)
def test_a_card_data_function_with_a_wrong_hash_key_or_a_shared_one_fails(
    spec: str, other_role: bool, finding: str
) -> None:
    from pci_rules.model import StackTemplate, TemplateModel
    from pci_rules.rule import evaluate
    from pci_rules.rules import RULES
    from tests.pci_rule_cases import _CONTEXT, _card_function

    rule = tuple(r for r in RULES if r.id == "PCI4-CARD-DATA-FIELD-ENCRYPTION")
    model = TemplateModel(
        [StackTemplate("S", {"Resources": _card_function(_CONTEXT, spec, other_mac_role=other_role)})]
    )
    (result,) = evaluate(model, rule)
    assert [c.detail for c in result.failures] == [finding] or finding in result.failures[0].detail


def test_the_card_vault_writes_the_marker_the_pack_reads() -> None:
    from evidence.flows import CARD_DATA_METADATA as EVIDENCE_KEY
    from pci_constructs.card_vault import CARD_DATA_METADATA
    from pci_rules.rules.card_data import CARD_DATA_METADATA as PACK_KEY

    assert CARD_DATA_METADATA == PACK_KEY == EVIDENCE_KEY == "pci-lz:card-data"


# --- PCI4-CARD-DATA-FIELD-ENCRYPTION, r20 HIGH 1 / MEDIUM 2: wildcard holders, the key-policy deny, exact contexts --

_EVERYTHING = {"Effect": "Allow", "Action": "*", "Resource": "*"}
_ONLY_THE_VAULT_MACS = {
    "Sid": "OnlyTheVaultRolesMac",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": ["kms:GenerateMac", "kms:VerifyMac"],
    "Resource": "*",
    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [{"Fn::GetAtt": ["Role", "Arn"]}]}},
}
_ROOT = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}


def _card_rule(resources: dict[str, Any]) -> Any:
    from pci_rules.model import StackTemplate, TemplateModel
    from pci_rules.rule import evaluate
    from pci_rules.rules import RULES

    rule = tuple(r for r in RULES if r.id == "PCI4-CARD-DATA-FIELD-ENCRYPTION")
    (result,) = evaluate(TemplateModel([StackTemplate("S", {"Resources": resources})]), rule)
    return result


def _with_holder(holder: dict[str, Any], *, deny: bool) -> dict[str, Any]:
    from tests.pci_rule_cases import _CONTEXT, _card_function

    resources = _card_function(_CONTEXT, "HMAC_256", other_mac_role=False)
    resources["Mac"]["Properties"]["KeyPolicy"] = {"Statement": [_ROOT, *([_ONLY_THE_VAULT_MACS] if deny else [])]}
    resources["Admin"] = holder
    return resources


HOLDERS = {
    "an inline * grant": r(
        "AWS::IAM::Role",
        AssumeRolePolicyDocument={},
        Policies=[{"PolicyName": "p", "PolicyDocument": {"Statement": [_EVERYTHING]}}],
    ),
    "kms:Generate* in a customer-managed policy": r(
        "AWS::IAM::Role",
        AssumeRolePolicyDocument={},
        Policies=[
            {
                "PolicyName": "p",
                "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "kms:Generate*", "Resource": "*"}]},
            }
        ],
    ),
    "AWS managed PowerUserAccess": r(
        "AWS::IAM::Role",
        AssumeRolePolicyDocument={},
        ManagedPolicyArns=[{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/PowerUserAccess"]]}],
    ),
    "AWS managed AdministratorAccess": r(
        "AWS::IAM::Role", AssumeRolePolicyDocument={}, ManagedPolicyArns=["arn:aws:iam::aws:policy/AdministratorAccess"]
    ),
}


@pytest.mark.parametrize("case", sorted(HOLDERS))
def test_a_wildcard_or_admin_holder_of_the_hash_key_fails_unless_the_key_policy_denies_it(case: str) -> None:
    """r20 HIGH 1: `*`, `kms:Generate*` on `*` and the AWS admin policies can MAC with the keyed-hash key
    through the key policy's account-root statement; only the key policy's deny takes them out."""
    failing = _card_rule(_with_holder(HOLDERS[case], deny=False))
    hash_failures = [c for c in failing.failures if c.requirements == ("3.5.1.1",)]
    assert len(hash_failures) == 1, [c.detail for c in failing.failures]
    assert "other identities may MAC with its keyed-hash key: Admin" in hash_failures[0].detail
    assert _card_rule(_with_holder(HOLDERS[case], deny=True)).failures == ()


def test_a_key_policy_deny_exempting_the_holder_too_does_not_count() -> None:
    resources = _with_holder(HOLDERS["an inline * grant"], deny=True)
    deny = resources["Mac"]["Properties"]["KeyPolicy"]["Statement"][1]
    deny["Condition"] = {"ArnNotLike": {"aws:PrincipalArn": [{"Fn::GetAtt": ["Role", "Arn"]}, "arn:aws:iam::*:role/*"]}}
    assert _card_rule(resources).failures
    deny["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": [{"Fn::GetAtt": ["Role", "Arn"]}]}, "Bool": {"x": "y"}}
    assert _card_rule(resources).failures  # a deny narrowed by another condition may not apply


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"kms:EncryptionContext:purpose": "*"}},
        {"Null": {"kms:EncryptionContext:purpose": "false"}},
        {"StringEquals": {"kms:EncryptionContext:purpose": "card-*"}},
        {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["purpose"]}},
    ],
)
def test_a_data_key_grant_bound_by_a_wildcard_or_null_condition_fails(condition: dict[str, Any]) -> None:
    """r20 MEDIUM 2: only StringEquals/ForAllValues:StringEquals with a concrete value binds the context."""
    from tests.pci_rule_cases import _card_function

    result = _card_rule(_card_function(condition, "HMAC_256", other_mac_role=False))
    assert [c.requirements for c in result.failures] == [("3.5.1",)]
    assert "without a StringEquals kms:EncryptionContext:<key> condition" in result.failures[0].detail


def test_an_exact_context_passes_and_each_mechanism_counts_for_its_own_requirement() -> None:
    """r20 MEDIUM 2: 3.5.1.1 counts only the keyed-hash functions; an envelope-only function is 3.5.1's."""
    from tests.pci_rule_cases import _card_function

    exact = {"ForAllValues:StringEquals": {"kms:EncryptionContext:purpose": ["card-vault-data-key"]}}
    resources = _card_function(exact, "HMAC_256", other_mac_role=False)
    detokenize = dict(resources["Fn"], Metadata={"pci-lz:card-data": {"mechanisms": ["envelope-encryption"]}})
    resources["Detokenize"] = detokenize
    result = _card_rule(resources)
    assert result.failures == ()
    assert sorted(c.resource.logical_id for c in result.for_requirement("3.5.1")) == ["Detokenize", "Fn"]
    assert [c.resource.logical_id for c in result.for_requirement("3.5.1.1")] == ["Fn"]
