"""Red team r19c M2 (issue 19, task w19d): the operator roles' card-data denies cover the card vault's
shred-epoch keys (`pci_constructs.operator_roles.card_data_denies`).

The epoch keys wrap the vault's data keys as the cardholder-data key does, and their key policies keep the
account-root statement, which lets IAM policies grant them ("Key policies in AWS KMS", AWS KMS Developer Guide):
an operator role holding PowerUserAccess (`kms:*`) could Decrypt a data key under them or rewrite their policy.
Each operator role's managed policy now denies the key-use actions and kms:PutKeyPolicy on any key with an
`alias/pci-lz/<env>/card-vault-shred-epoch-*` alias (`kms:ResourceAliases`) or the `pci-lz:shred-epoch` tag
(`aws:ResourceTag/pci-lz:shred-epoch`; also kms:UntagResource, so the tag cannot be taken off first). Evaluated
with tests/iam_eval.py on the synthesized policies of the default app.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pci_constructs import card_vault, operator_roles
from tests.conftest import Synthesized
from tests.iam_eval import Request, denied_by, render
from tests.test_identity import _identity, _logical_id, _policies_of

MANAGED_POLICY_MAX_CHARS = 6_144  # "IAM and AWS STS quotas", IAM User Guide (managed policy size, whitespace excluded)
KEY = "arn:aws:kms:eu-west-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _statements(synthesized: Synthesized, name: str) -> list[dict[str, Any]]:
    template = _identity(synthesized)
    role = _logical_id(template, f"pci-lz-{synthesized.config.name}-{name}")
    return [render(s) for s in _policies_of(template, role)]


def test_the_tag_is_the_one_the_epoch_keys_carry() -> None:
    assert operator_roles.SHRED_EPOCH_TAG == card_vault.SHRED_EPOCH_TAG


@pytest.mark.parametrize("name", ["platform-admin", "security-auditor"])
@pytest.mark.parametrize("action", ["kms:Decrypt", "kms:CreateGrant", "kms:ReEncryptFrom", "kms:PutKeyPolicy"])
def test_operators_cannot_use_or_repolicy_an_epoch_key(synthesized: Synthesized, name: str, action: str) -> None:
    statements = _statements(synthesized, name)
    alias = f"alias/pci-lz/{synthesized.config.name}/card-vault-shred-epoch-7"
    by_alias = denied_by(statements, Request(action, KEY, {"kms:ResourceAliases": (alias,)}))
    by_tag = denied_by(statements, Request(action, KEY, {"aws:ResourceTag/pci-lz:shred-epoch": "7"}))
    assert "DenyShredEpochKeysByAlias" in by_alias
    assert "DenyShredEpochKeysByTag" in by_tag
    # Untagging first does not help: the tag deny covers kms:UntagResource while the tag is there.
    assert "DenyShredEpochKeysByTag" in denied_by(
        statements, Request("kms:UntagResource", KEY, {"aws:ResourceTag/pci-lz:shred-epoch": "7"})
    )


@pytest.mark.parametrize("name", ["platform-admin", "security-auditor"])
def test_other_keys_are_not_caught(synthesized: Synthesized, name: str) -> None:
    """The denies name the epoch keys only: the logs key (operators read logs) stays usable."""
    statements = _statements(synthesized, name)
    logs = f"alias/pci-lz/{synthesized.config.name}/logs"
    assert denied_by(statements, Request("kms:Decrypt", KEY, {"kms:ResourceAliases": (logs,)})) == []


@pytest.mark.parametrize("name", ["platform-admin", "security-auditor"])
def test_the_operator_policies_fit_the_managed_policy_limit(synthesized: Synthesized, name: str) -> None:
    template = _identity(synthesized)
    role = _logical_id(template, f"pci-lz-{synthesized.config.name}-{name}")
    for policy in template.find_resources("AWS::IAM::ManagedPolicy").values():
        if {"Ref": role} in policy["Properties"].get("Roles", []):
            size = len(json.dumps(render(policy["Properties"]["PolicyDocument"]), separators=(",", ":")))
            assert size < MANAGED_POLICY_MAX_CHARS, size
