"""The cardholder-data key's use deny (issue 20, "no data-key deny on the cardholder-data key"): every key of
every synthesized template that encrypts cardholder data denies Decrypt, Encrypt, GenerateDataKey* and
ReEncrypt* to all but the card vault's roles (IAM path `/pci-lz-<env>-card-vault/`), RDS on a caller's behalf
and AWS service principals; the vault's roles carry that path; and the permissions boundary stops a bounded
principal from creating, passing or changing a role under it (else it could join the exception)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from aws_cdk import CfnElement, Stack
from aws_cdk import aws_kms as kms

from pci_constructs.key_ring import CARDHOLDER_DATA_USE_ACTIONS, card_vault_role_path
from pci_constructs.permissions_boundary import CODE_PROTECTED_TAG_VALUE, PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE
from tests.conftest import Synthesized
from tests.iam_eval import Request, denied_by, render, roles_granted_a_key

ACCOUNT = "111111111111"
SID = "OnlyTheCardVaultAndRdsUseTheKey"


def _logical_id(key: kms.Key) -> str:
    stack = Stack.of(key)
    return cast(str, stack.resolve(stack.get_logical_id(cast(CfnElement, key.node.default_child))))


def _cardholder_keys(synthesized: Synthesized) -> list[tuple[str, str, list[dict[str, Any]]]]:
    found = []
    for region, zone in synthesized.zone.regions.items():
        key = zone.keys.keys.cardholder_data
        stack = Stack.of(key)
        logical_id = _logical_id(key)
        template = synthesized.template(stack.stack_name).to_json()
        statements = template["Resources"][logical_id]["Properties"]["KeyPolicy"]["Statement"]
        found.append((region, stack.stack_name, [render(s) for s in statements]))
    return found


def test_every_cardholder_data_key_denies_use_outside_the_vault_and_rds(synthesized: Synthesized) -> None:
    keys = _cardholder_keys(synthesized)
    assert len(keys) == len(synthesized.zone.regions) >= 2
    for region, _, statements in keys:
        (deny,) = [s for s in statements if s.get("Sid") == SID]
        assert deny["Effect"] == "Deny"
        assert deny["Principal"] == {"AWS": "*"}
        assert set(deny["Action"]) == set(CARDHOLDER_DATA_USE_ACTIONS)
        assert deny["Condition"]["StringNotEquals"] == {"kms:ViaService": f"rds.{region}.amazonaws.com"}


def _role_arn(path: str, name: str = "Some-Role") -> str:
    return f"arn:aws:iam::{ACCOUNT}:role{path}{name}"


@pytest.mark.parametrize("action", ["kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:Encrypt"])
def test_who_may_use_the_cardholder_data_key(synthesized: Synthesized, action: str) -> None:
    env = synthesized.config.name
    vault_path = card_vault_role_path(f"pci-lz/{env}")
    for region, _, statements in _cardholder_keys(synthesized):

        def denied(principal: str, via: str | None = None, policy: list[dict[str, Any]] = statements) -> list[str]:
            request = {"aws:PrincipalArn": principal, "aws:PrincipalIsAWSService": "false"}
            if via is not None:
                request["kms:ViaService"] = via
            return denied_by(policy, Request(action, context=request))

        assert SID not in denied(_role_arn(vault_path, "PciLz-x-CardVaultApiRole-AB12")), region
        assert SID in denied(_role_arn("/", f"PciLz-{env}-Workload-{region}-Other")), "a name is no exception"
        assert SID in denied(_role_arn("/", f"pci-lz-{env}-platform-administrator"))
        assert SID in denied(f"arn:aws:iam::{ACCOUNT}:root")
        assert SID in denied(_role_arn(f"/pci-lz/{env}/other/")), "only the vault's own path"
        assert SID in denied(_role_arn(f"/pci-lz-{env}-card-vault-x/")), "a look-alike path"
        assert SID not in denied(_role_arn("/", "AnyRole"), f"rds.{region}.amazonaws.com")
        assert SID in denied(_role_arn("/", "AnyRole"), f"s3.{region}.amazonaws.com")
        # An AWS service principal acting itself carries no aws:PrincipalArn of the account
        assert SID not in denied_by(statements, Request(action, context={"aws:PrincipalIsAWSService": "true"}))


def test_every_vault_role_is_under_the_vault_path(synthesized: Synthesized) -> None:
    env = synthesized.config.name
    for region, zone in synthesized.zone.regions.items():
        assert zone.workload is not None
        template = synthesized.template(Stack.of(zone.workload.vault).stack_name).to_json()
        vault_roles = {
            logical_id: body["Properties"]
            for logical_id, body in template["Resources"].items()
            if body["Type"] == "AWS::IAM::Role" and logical_id.startswith("CardVault")
        }
        assert len(vault_roles) >= 5, region
        assert {p.get("Path") for p in vault_roles.values()} == {f"/pci-lz-{env}-card-vault/"}, region


def test_a_bounded_principal_cannot_create_pass_or_change_a_vault_role(synthesized: Synthesized) -> None:
    env = synthesized.config.name
    region = next(iter(synthesized.zone.regions))
    boundary = synthesized.zone.regions[region].keys.boundary
    stack = Stack.of(boundary)
    template = synthesized.template(stack.stack_name).to_json()
    (policy,) = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for body in template["Resources"].values()
        if body["Type"] == "AWS::IAM::ManagedPolicy"
        and "boundary" in str(body["Properties"].get("ManagedPolicyName", "")).lower()
    ]
    statements = [render(s) for s in policy]
    vault_role = _role_arn(card_vault_role_path(f"pci-lz/{env}"), "Mine")
    for action in (
        "iam:CreateRole",
        "iam:PassRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:UpdateAssumeRolePolicy",
    ):
        assert denied_by(statements, Request(action, resource=vault_role)), action
    # A team's own role, created with the boundary attached, stays allowed
    (unbounded,) = [s for s in statements if s.get("Sid") == "NoUnbounded"]
    exact = unbounded["Condition"]["StringNotEquals"]["iam:PermissionsBoundary"]
    bounded = {"iam:PermissionsBoundary": exact if isinstance(exact, str) else exact[0]}
    team_role = _role_arn("/", "team-app-role")
    assert not denied_by(statements, Request("iam:CreateRole", resource=team_role, context=bounded))


def test_every_role_granted_the_cardholder_data_key_is_a_vault_role(synthesized: Synthesized) -> None:
    """A role the templates grant the key but the deny does not exempt would deploy and fail at its first call:
    every grant of every template on a cardholder-data key goes to a role under the vault path."""
    templates = [artifact.template for artifact in synthesized.assembly.stacks_recursively]
    env = synthesized.config.name
    for region, zone in synthesized.zone.regions.items():
        granted = roles_granted_a_key(templates, _logical_id(zone.keys.keys.cardholder_data))
        assert len(granted) >= 3, region  # the API, detokenize and the key jobs
        for role, properties in granted:
            assert properties.get("Path") == card_vault_role_path(f"pci-lz/{env}"), (region, role)


def test_the_vault_path_falls_under_the_boundarys_fixed_name_roles() -> None:
    """NoReserved and NoOwnRoles name `role/pci-lz-<env>-*`: the vault's path must start there."""
    for env in ("default", "prod", "a-b"):
        assert card_vault_role_path(f"pci-lz/{env}").startswith(f"/pci-lz-{env}-")
    with pytest.raises(ValueError, match="printable ASCII"):
        card_vault_role_path("pci-lz/é")


def test_every_function_running_as_a_vault_role_is_protected_from_change(synthesized: Synthesized) -> None:
    """Security review r27, H1: a vault role decrypts card data, so changing a function that runs as one (its code,
    configuration, versions, aliases or resource policy) would decrypt for whoever changed it. Every function of
    every template whose role is under the vault path carries the protection tag, so the boundary's NoCodeChange
    denies every bounded principal that change; only those invoked by AWS services alone also refuse invocation."""
    env = synthesized.config.name
    vault_path = card_vault_role_path(f"pci-lz/{env}")
    found: dict[str, str] = {}
    for artifact in synthesized.assembly.stacks_recursively:
        resources = artifact.template.get("Resources", {})
        for logical_id, body in resources.items():
            if body["Type"] != "AWS::Lambda::Function":
                continue
            role = body["Properties"].get("Role", {})
            role_id = role.get("Fn::GetAtt", [None])[0] if isinstance(role, dict) else None
            if role_id is None or resources.get(role_id, {}).get("Properties", {}).get("Path") != vault_path:
                continue
            tags = {t["Key"]: t["Value"] for t in body["Properties"].get("Tags", [])}
            assert tags.get(PROTECTED_TAG_KEY) in {PROTECTED_TAG_VALUE, CODE_PROTECTED_TAG_VALUE}, (
                artifact.stack_name,
                logical_id,
            )
            found[f"{artifact.stack_name}/{logical_id}"] = tags[PROTECTED_TAG_KEY]
    assert len(found) >= 4 * len(synthesized.zone.regions), found
    invoked_by_services_only = {k for k, v in found.items() if v == PROTECTED_TAG_VALUE}
    assert all("CardVaultApi" in k or "CardVaultPurge" in k for k in invoked_by_services_only), found
    assert any("CardVaultDetokenize" in k for k, v in found.items() if v == CODE_PROTECTED_TAG_VALUE), found
