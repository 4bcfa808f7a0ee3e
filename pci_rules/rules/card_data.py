"""Field-level protection of stored PAN by the functions that hold it (PCI DSS v4.0.1 3.5.1, 3.5.1.1).

A function that renders PAN unreadable says so in its template metadata, `pci-lz:card-data` (a mapping;
`mechanisms` lists what it applies: `envelope-encryption` and/or `keyed-hash`; `receives`, `sends` and
`stores` name the card-data elements it handles, which the pack does not judge). For each such function
the rule reads its execution role's identity policies (inline, and every AWS::IAM::Policy or
ManagedPolicy attached to the role in the templates):

- `envelope-encryption`: at least one grant of kms:GenerateDataKey or kms:Decrypt, and every such grant
  (but one on the function's own environment-variable key, its KmsKeyArn) bound to an encryption context
  (a `kms:EncryptionContext:<key>` condition, "AWS KMS condition keys", AWS KMS Developer Guide), so a
  data key is usable only for the purpose its context names;
- `keyed-hash`: at least one grant of kms:GenerateMac, every one limited by `kms:MacAlgorithm` and naming
  keys the templates create with KeySpec HMAC_256 and Origin AWS_KMS ("HMAC keys in AWS KMS": the key
  material is generated in KMS and never leaves it unencrypted, so no role holds the key beside the hashes
  it reads); and no role of the templates other than a card-data function's may call kms:GenerateMac or
  kms:VerifyMac on those keys (a role that can compute the hash can test guesses against stored hashes).

What templates cannot show: who may use the keys through IAM policies outside the templates (a key
policy that delegates to the account lets any IAM policy of the account grant them), the database's
column privileges (granted inside the database, not in CloudFormation), and what the code does with
the keys (its tests and review do).
"""

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import IAM_IDENTITY_TYPES, actions_of, as_list, identity_policy_documents, statements

CARD_DATA_METADATA = "pci-lz:card-data"
ENVELOPE = "envelope-encryption"
KEYED_HASH = "keyed-hash"
DATA_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
MAC_ACTIONS = ("kms:GenerateMac", "kms:VerifyMac")


def card_data_marker(resource: Resource) -> Mapping[str, Any] | None:
    """The resource's `pci-lz:card-data` metadata, or None when it has none (or not a mapping)."""
    marker = resource.metadata.get(CARD_DATA_METADATA)
    return marker if isinstance(marker, Mapping) else None


def _grants(statement: Mapping[str, Any], action: str) -> bool:
    return statement.get("Effect", "Allow") == "Allow" and any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in actions_of(statement)
    )


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return set()
    return {str(k).lower() for values in condition.values() if isinstance(values, Mapping) for k in values}


def role_statements(model: TemplateModel, role: Resource) -> list[Mapping[str, Any]]:
    """Every statement of the role's inline policies and of the policies the templates attach to it."""
    found = [s for doc in identity_policy_documents(role) for s in statements(doc)]
    for policy in model.referrers(role, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        if any(model.target(policy.stack, r) == role for r in as_list(policy.reference("Roles"))):
            found += [s for doc in identity_policy_documents(policy) for s in statements(doc)]
    return found


def _execution_role(model: TemplateModel, function: Resource) -> Resource | None:
    role = model.target(function.stack, function.reference("Role"))
    return role if role is not None and role.type == "AWS::IAM::Role" else None


def _environment_key_only(model: TemplateModel, function: Resource, statement: Mapping[str, Any]) -> bool:
    """A statement whose every resource is the function's own environment-variable key (KmsKeyArn): Lambda
    decrypts the environment with the execution role's kms:Decrypt ("Securing Lambda environment variables",
    AWS Lambda Developer Guide); that is not card data."""
    key = model.target(function.stack, function.reference("KmsKeyArn"))
    resources = as_list(statement.get("Resource"))
    return key is not None and bool(resources) and all(model.target(function.stack, r) == key for r in resources)


def _envelope_problems(model: TemplateModel, function: Resource, grants: list[Mapping[str, Any]]) -> list[str]:
    data = [
        s
        for s in grants
        if any(_grants(s, a) for a in DATA_KEY_ACTIONS) and not _environment_key_only(model, function, s)
    ]
    if not data:
        return ["no kms:GenerateDataKey or kms:Decrypt grant for its envelope encryption"]
    unbound = [s for s in data if not any(k.startswith("kms:encryptioncontext:") for k in _condition_keys(s))]
    return [f"{len(unbound)} data-key grant(s) without a kms:EncryptionContext:<key> condition"] if unbound else []


def _mac_keys(model: TemplateModel, function: Resource, grants: list[Mapping[str, Any]]) -> tuple[list[str], set[Any]]:
    macs = [s for s in grants if _grants(s, "kms:GenerateMac")]
    if not macs:
        return ["no kms:GenerateMac grant for its keyed hash"], set()
    problems: list[str] = []
    keys: set[Any] = set()
    for statement in macs:
        if "kms:macalgorithm" not in _condition_keys(statement):
            problems.append("a kms:GenerateMac grant without a kms:MacAlgorithm condition")
        for value in as_list(statement.get("Resource")):
            key = model.target(function.stack, value)
            if key is None or key.type != "AWS::KMS::Key":
                problems.append(f"kms:GenerateMac on {value!r}, not a key the templates create (its spec is unknown)")
                continue
            keys.add(key.key)
            if key.prop("KeySpec") != "HMAC_256":
                problems.append(f"{key.logical_id} is {key.prop('KeySpec') or 'SYMMETRIC_DEFAULT'}, not HMAC_256")
            if key.prop("Origin", default="AWS_KMS") != "AWS_KMS":
                problems.append(f"{key.logical_id} has Origin {key.prop('Origin')}: its material exists outside KMS")
    return problems, keys


def _other_mac_holders(model: TemplateModel, keys: set[Any], card_roles: set[Any]) -> list[str]:
    """Roles of the templates, not a card-data function's, whose identity policies may MAC with `keys`."""
    holders: set[str] = set()
    for key_id in keys:
        key = model.resource(*key_id)
        if key is None:
            continue
        for identity in model.referrers(key, *IAM_IDENTITY_TYPES):
            names_key = [
                s
                for doc in identity_policy_documents(identity)
                for s in statements(doc)
                if any(_grants(s, a) for a in MAC_ACTIONS)
                and any(model.target(identity.stack, r) == key for r in as_list(s.get("Resource")))
            ]
            if not names_key:
                continue
            roles = (
                [identity]
                if identity.type == "AWS::IAM::Role"
                else [t for r in as_list(identity.reference("Roles")) if (t := model.target(identity.stack, r))]
            )
            holders |= {r.logical_id for r in roles if r.key not in card_roles}
            if identity.type in ("AWS::IAM::User", "AWS::IAM::Group") or as_list(identity.reference("Users")):
                holders.add(identity.logical_id)
    return sorted(holders)


@rule(
    id="PCI4-CARD-DATA-FIELD-ENCRYPTION",
    requirements=("3.5.1", "3.5.1.1"),
    description="Every function marked as holding card data (`pci-lz:card-data` metadata) encrypts with data keys"
    " only under a kms:EncryptionContext condition and keys its hash with a KMS HMAC_256 key (kms:MacAlgorithm)"
    " that no other role of the templates may use.",
    fix="Grant kms:GenerateDataKey/kms:Decrypt with a StringEquals kms:EncryptionContext:<key> condition, and"
    " kms:GenerateMac on an HMAC_256 key created in the templates with a kms:MacAlgorithm condition, to the"
    " card-data functions' roles only.",
)
def card_data_field_encryption(model: TemplateModel) -> Iterator[Check]:
    marked = [
        (fn, marker) for fn in model.resources("AWS::Lambda::Function") if (marker := card_data_marker(fn)) is not None
    ]
    roles = {fn.key: _execution_role(model, fn) for fn, _ in marked}
    card_roles = {role.key for role in roles.values() if role is not None}
    for fn, marker in marked:
        mechanisms = [str(m) for m in as_list(marker.get("mechanisms"))]
        if not mechanisms:
            continue  # handles card data (its elements are stated) but renders none unreadable itself
        role = roles[fn.key]
        if role is None:
            yield Check(fn, False, "its execution role is not created in the templates: its grants are unknown")
            continue
        grants = role_statements(model, role)
        problems: list[str] = []
        if ENVELOPE in mechanisms:
            problems += _envelope_problems(model, fn, grants)
        if KEYED_HASH in mechanisms:
            mac_problems, keys = _mac_keys(model, fn, grants)
            problems += mac_problems
            others = _other_mac_holders(model, keys, card_roles)
            if others:
                problems.append(f"other identities may MAC with its keyed-hash key: {', '.join(others)}")
        unknown = sorted(set(mechanisms) - {ENVELOPE, KEYED_HASH})
        if unknown:
            problems.append(f"unknown mechanisms {unknown} (expected {ENVELOPE}, {KEYED_HASH})")
        yield Check(fn, not problems, "; ".join(problems))
