"""Key management (PCI DSS v4.0.1 3.6, 3.7)."""

import fnmatch
import json
from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import (
    IAM_IDENTITY_TYPES,
    actions_of,
    allows_anyone,
    as_list,
    flatten,
    identity_policy_documents,
    is_true,
    only_a_boundary,
    statements,
)


@rule(
    id="PCI4-KMS-ROTATION",
    requirements=("3.7.4",),
    description="Every symmetric customer-managed KMS key rotates its key material automatically.",
    fix="Set EnableKeyRotation: true on the AWS::KMS::Key (CDK: enable_key_rotation=True).",
)
def kms_rotation(model: TemplateModel) -> Iterator[Check]:
    for key in model.resources("AWS::KMS::Key"):
        if key.prop("KeySpec", default="SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            continue  # AWS KMS rotates only symmetric encryption keys automatically
        rotates = is_true(key.prop("EnableKeyRotation"))
        yield Check(key, rotates, "" if rotates else "EnableKeyRotation is not true")


@rule(
    id="PCI4-KMS-NO-PUBLIC-PRINCIPAL",
    requirements=("3.6.1", "7.2.1"),
    description="No KMS key policy allows an anonymous principal (`*`) without a condition.",
    fix="Name the account or role principals in the key policy, or add a condition that scopes `*`.",
)
def kms_no_public_principal(model: TemplateModel) -> Iterator[Check]:
    for key in model.resources("AWS::KMS::Key"):
        open_statements = [s.get("Sid", "?") for s in statements(key.prop("KeyPolicy")) if allows_anyone(s)]
        yield Check(key, not open_statements, f"statements {open_statements} allow Principal * unconditionally")


@rule(
    id="PCI4-KMS-DELETION-WINDOW",
    requirements=("3.6.1",),
    related=("3.7.5",),
    description="A KMS key scheduled for deletion waits the full 30 days, so a mistaken deletion can be cancelled.",
    fix="Leave PendingWindowInDays unset or set it to 30 (CDK: pending_window=Duration.days(30)).",
)
def kms_deletion_window(model: TemplateModel) -> Iterator[Check]:
    for key in model.resources("AWS::KMS::Key"):
        days = key.prop("PendingWindowInDays", default=30)
        ok = isinstance(days, int) and days >= 30
        yield Check(key, ok, "" if ok else f"PendingWindowInDays is {days}, not 30")


# Key-policy actions that administer a key, and actions that use it ("AWS KMS permissions", AWS KMS
# Developer Guide). A custodian who administers a key must not also use it (PCI DSS 3.6.1: access to
# keys restricted to the fewest custodians; 3.6.1.2 split of duties).
ADMIN_ACTIONS = (
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:CancelKeyDeletion",
    "kms:EnableKey",
    "kms:UpdateKeyDescription",
)
CRYPTO_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey")


def _matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _grants(actions: list[str], wanted: tuple[str, ...]) -> bool:
    return any(_matches(pattern, action) for pattern in actions for action in wanted)


def _aws_principals(statement: Mapping[str, Any]) -> list[str]:
    """The AWS principals of a statement other than `*` and the account root (whose default statement
    delegates to IAM policies), each named by its JSON so two token principals never collapse into one."""
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return []
    named = []
    for p in as_list(principal.get("AWS")):
        text = flatten(p)
        if text and text != "*" and not text.isdigit() and not text.endswith(":root"):
            named.append(p if isinstance(p, str) else json.dumps(p, sort_keys=True))
    return named


@rule(
    id="PCI4-KMS-CUSTODIAN-SEPARATION",
    requirements=("3.6.1", "7.2.2"),
    related=("3.6.1.2",),
    description=(
        "A key policy's administrators are never allowed to use the key, and are explicitly denied its crypto actions."
    ),
    fix=(
        "Give key administrators only management actions and add a Deny of kms:Decrypt, Encrypt, "
        "GenerateDataKey* and ReEncrypt* for them."
    ),
)
def kms_custodian_separation(model: TemplateModel) -> Iterator[Check]:
    for key in model.resources("AWS::KMS::Key"):
        policy = list(statements(key.prop("KeyPolicy")))
        admins, users, denied = set(), set(), set()
        for s in policy:
            actions = actions_of(s)
            for principal in _aws_principals(s):
                if s.get("Effect") == "Allow" and _grants(actions, ADMIN_ACTIONS):
                    admins.add(principal)
                if s.get("Effect") == "Allow" and _grants(actions, CRYPTO_ACTIONS):
                    users.add(principal)
                if s.get("Effect") == "Deny" and _grants(actions, ("kms:Decrypt",)):
                    denied.add(principal)
        problems = [f"{p} administers and uses the key" for p in sorted(admins & users)]
        problems += [f"{p} is not denied kms:Decrypt" for p in sorted(admins - users - denied)]
        yield Check(key, not problems, "; ".join(problems))


# Condition keys that confine kms:Decrypt on every key to some keys or one path: kms:ViaService (only
# through the named services), kms:CallerAccount (only keys used by this account's identities) and
# kms:ResourceAliases (only keys with the named aliases) ("Condition keys for AWS KMS", AWS KMS Developer
# Guide). kms:GrantIsForAWSResource is left out: it applies to CreateGrant, ListGrants and RevokeGrant
# only ("Controlling access to grants", same guide), never to Decrypt.
SCOPING_CONDITION_KEYS = ("kms:viaservice", "kms:calleraccount", "kms:resourcealiases")
# A key ID no real key has: a Resource pattern matching it matches every key ID.
_ANY_KEY_ID = "key/00000000-any-key-0000"


def _rendered(value: object) -> str | None:
    """A Resource entry as a string: an `Fn::Join` whose non-literal parts (pseudo parameters, attributes)
    stand for literal text, which globs nothing."""
    if isinstance(value, str):
        return value
    join = value.get("Fn::Join") if isinstance(value, Mapping) else None
    if isinstance(join, list) and len(join) == 2 and isinstance(join[1], list):
        return str(join[0]).join(p if isinstance(p, str) else "literal" for p in join[1])
    return None


def _every_key(resource: object) -> bool:
    """Whether a Resource entry globs every KMS key: `*`, or a kms ARN whose key part (or whole) is a
    wildcard (arn:aws:kms:*:*:key/*, arn:aws:kms:us-east-1:111122223333:*, arn:*:kms:*)."""
    text = _rendered(resource)
    if text is None:
        return False
    parts = text.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        sample = ":".join((*parts[:2], "kms", *parts[3:5], _ANY_KEY_ID))
    else:
        sample = f"arn:aws:kms:us-east-1:111122223333:{_ANY_KEY_ID}"
    return fnmatch.fnmatchcase(sample, text)


def _scoped(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    keys = {str(k).lower() for block in condition.values() if isinstance(block, Mapping) for k in block}
    return bool(keys & set(SCOPING_CONDITION_KEYS))


@rule(
    id="PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS",
    requirements=("3.6.1", "7.2.1", "7.2.2"),
    description="No IAM identity policy allows kms:Decrypt or kms:ReEncryptFrom on every key (`*` or a key/* ARN).",
    fix=(
        "Name the key ARNs in Resource, or scope every-key access with a kms:ViaService, kms:CallerAccount or"
        " kms:ResourceAliases condition."
    ),
)
def kms_no_decrypt_on_all_keys(model: TemplateModel) -> Iterator[Check]:
    for identity in model.resources(*IAM_IDENTITY_TYPES):
        if only_a_boundary(model, identity):
            continue
        bad = [
            str(s.get("Sid", "?"))
            for document in identity_policy_documents(identity)
            for s in statements(document)
            if s.get("Effect") == "Allow"
            and not _scoped(s)
            and any(_every_key(resource) for resource in as_list(s.get("Resource")))
            and _grants(actions_of(s), ("kms:Decrypt", "kms:ReEncryptFrom"))
        ]
        yield Check(identity, not bad, f"statements {bad} allow decryption with every key" if bad else "")
