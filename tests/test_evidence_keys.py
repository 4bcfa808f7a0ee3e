"""The keys work paper's users against the key policies' Deny statements (issue 20): a statement on `*` narrowed by
kms:ViaService is listed under each key the account's IAM policies may grant, "through S only"; a user a conditional
Deny refuses reads "refused by SID"; each Deny names what it exempts. Small hand-written templates pin the wording;
the evaluator (`evidence.iam_eval`, the one the tests use too) is checked against the Deny's logic for generated
principals and routes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.iam_eval import Request, denied_by, render
from evidence.workpapers import keys, use_verdict
from pci_rules.model import StackTemplate, TemplateModel

ACCOUNT = "111111111111"
REGION = "us-east-1"
VAULT_PATH = "/pci-lz-t-card-vault/"
RDS = f"rds.{REGION}.amazonaws.com"
S3 = f"s3.{REGION}.amazonaws.com"
ROOT = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
USE = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
ONLY_VAULT: dict[str, Any] = {
    "Sid": "OnlyTheCardVaultAndRdsUseTheKey",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": USE,
    "Resource": "*",
    "Condition": {
        "ArnNotLike": {
            "aws:PrincipalArn": {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, f":role{VAULT_PATH}*"],
                ]
            }
        },
        "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
        "StringNotEquals": {"kms:ViaService": RDS},
    },
}
OUTSIDE_S3: dict[str, Any] = {
    "Sid": "DenyUseOutsideS3",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": USE,
    "Resource": "*",
    "Condition": {"StringNotEquals": {"kms:ViaService": S3}, "Bool": {"aws:PrincipalIsAWSService": "false"}},
}


def _key(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [ROOT, *statements]}}}


def _alias(name: str, key: str) -> dict[str, Any]:
    return {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": name, "TargetKeyId": {"Fn::GetAtt": [key, "Arn"]}}}


def _role(path: str, statement: dict[str, Any]) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"Path": path, "Policies": [{"PolicyName": "p", "PolicyDocument": document}]},
    }


def _model() -> TemplateModel:
    resources = {
        "Cardholder": _key(ONLY_VAULT),
        "CardholderAlias": _alias("alias/t/cardholder-data", "Cardholder"),
        "Data": _key(OUTSIDE_S3),
        "Logs": _key(),
        "LogsAlias": _alias("alias/t/logs", "Logs"),
        # kms:Decrypt on * through S3 only: every key the account's IAM policies may grant, through S3
        "Reader": _role(
            "/", {"Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": S3}}}
        ),
        # on * but only for the logs alias
        "Auditor": _role(
            "/",
            {
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/t/logs"]}},
            },
        ),
        "Vault": _role(VAULT_PATH, {"Action": "kms:Decrypt", "Resource": {"Fn::GetAtt": ["Cardholder", "Arn"]}}),
        "Other": _role("/", {"Action": "kms:Decrypt", "Resource": {"Fn::GetAtt": ["Cardholder", "Arn"]}}),
    }
    template = {
        "Resources": {
            lid: {**body, "Metadata": {"aws:cdk:path": f"S/{lid}/Resource"}} for lid, body in resources.items()
        }
    }
    return TemplateModel([StackTemplate("S", template, ACCOUNT, REGION)])


def _row(rows: list[list[str]], name: str) -> list[str]:
    (row,) = [r for r in rows if r[0] == name]
    return row


def test_a_statement_on_every_key_narrowed_by_via_service_is_listed_under_each_key_it_reaches() -> None:
    rows = keys(_model())
    cardholder, data, logs = (_row(rows, n) for n in ("Cardholder", "Data", "Logs"))
    reader = f"Role Reader (inline): Decrypt through {S3} only (kms:ViaService)"
    assert f"{reader}; refused by OnlyTheCardVaultAndRdsUseTheKey" in cardholder[6]
    assert reader in data[6]
    assert "refused" not in data[6]
    assert reader in logs[6]
    # the alias condition reaches the logs key only
    assert "Role Auditor (inline): Decrypt" in logs[6]
    assert "Auditor" not in cardholder[6] + data[6]


def test_a_user_a_conditional_deny_refuses_is_marked_and_each_deny_names_its_exemptions() -> None:
    cardholder = _row(keys(_model()), "Cardholder")
    users = cardholder[6].split("; ")
    assert "Role Vault (inline): Decrypt" in users  # under the vault's path: exempt, no mark
    assert f"Role Other (inline): Decrypt through {RDS} only (OnlyTheCardVaultAndRdsUseTheKey refuses direct use)" in (
        users
    )
    deny = cardholder[9]
    assert f"roles under the IAM path {VAULT_PATH}" in deny
    assert f"requests through {RDS} (kms:ViaService)" in deny
    assert "AWS service principals (aws:PrincipalIsAWSService)" in deny
    assert "limited by OnlyTheCardVaultAndRdsUseTheKey leaves only: roles under the IAM path" in cardholder[4]
    data = _row(keys(_model()), "Data")
    assert "limited by DenyUseOutsideS3 leaves only: AWS service principals" in data[4]
    assert "limited by" not in _row(keys(_model()), "Logs")[4]


_PATHS = st.sampled_from(["/", VAULT_PATH, "/pci-lz-t-card-vault-x/", "/pci-lz-t-card-vault/sub/", "/other/"])
_ROUTES = st.sampled_from([None, RDS, S3, "rds.us-west-2.amazonaws.com"])
_ACTIONS = st.sampled_from(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"])


@settings(max_examples=200, deadline=None)
@given(_PATHS, st.text("abcXYZ-_", min_size=1, max_size=12), _ROUTES, _ACTIONS, st.booleans())
def test_the_evaluator_follows_the_deny_conditions(
    path: str, name: str, route: str | None, action: str, service: bool
) -> None:
    """The Deny applies exactly when all three conditions hold: the ARN is not under the vault's path, the call
    is not through RDS, the caller is not an AWS service principal; `use_verdict` agrees for a grant narrowed to
    that route."""
    deny = render(ONLY_VAULT, {"AWS::AccountId": ACCOUNT})
    arn = f"arn:aws:iam::{ACCOUNT}:role{path}{name}"
    context: dict[str, str | tuple[str, ...]] = {"aws:PrincipalIsAWSService": "true" if service else "false"}
    if not service:
        context["aws:PrincipalArn"] = arn
    if route is not None:
        context["kms:ViaService"] = route
    expected = not service and not path.startswith(VAULT_PATH) and route != RDS
    assert bool(denied_by([deny], Request(action, context=context))) is expected
    if not service and route is not None:
        verdict = use_verdict([deny], [action], arn=arn, vias=[route])
        assert ("refused by OnlyTheCardVaultAndRdsUseTheKey" in verdict) is expected
        assert verdict.startswith(f" through {route} only (kms:ViaService)")


def test_a_principal_the_templates_do_not_name_is_not_evaluated() -> None:
    deny = render(ONLY_VAULT, {"AWS::AccountId": ACCOUNT})
    assert "not evaluated" in use_verdict([deny], ["kms:Decrypt"])
    unresolved = render(ONLY_VAULT)  # the account unknown
    assert "not evaluated" in use_verdict([unresolved], ["kms:Decrypt"], arn=f"arn:aws:iam::{ACCOUNT}:role/x")
