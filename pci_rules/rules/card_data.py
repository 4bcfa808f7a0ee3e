"""Field-level protection of stored PAN by the functions that hold it (PCI DSS v4.0.1 3.5.1, 3.5.1.1).

A function that renders PAN unreadable says so in its template metadata, `pci-lz:card-data` (a mapping;
`mechanisms` lists what it applies: `envelope-encryption` and/or `keyed-hash`; `receives`, `sends` and
`stores` name the card-data elements it handles, which the pack does not judge). For each such function
the rule reads its execution role's identity policies (inline, and every AWS::IAM::Policy or
ManagedPolicy attached to the role in the templates):

- `envelope-encryption`: at least one grant of kms:GenerateDataKey or kms:Decrypt, and every grant of a
  data-key action (GenerateDataKey*, Decrypt, ReEncrypt*; but one on the function's own environment-variable
  key, its KmsKeyArn) bound to an encryption context by `StringEquals` or `ForAllValues:StringEquals` on a
  `kms:EncryptionContext:<key>` with a concrete value (no `*` or `?`: "AWS KMS condition keys" and
  "kms:EncryptionContext:context-key", AWS KMS Developer Guide), so a data key is usable only for the
  purpose its context names; `StringLike "*"` or `Null` binds nothing;
- `keyed-hash`: at least one grant of kms:GenerateMac, every one limited by `kms:MacAlgorithm` and naming
  keys the templates create with KeySpec HMAC_256 and Origin AWS_KMS ("HMAC keys in AWS KMS": the key
  material is generated in KMS and never leaves it unencrypted, so no role holds the key beside the hashes
  it reads); and no identity of the templates other than a keyed-hash function's role may call
  kms:GenerateMac or kms:VerifyMac on those keys (a role that can compute the hash can test guesses against
  stored hashes). A holder is any role, user or group whose identity policies (inline, AWS::IAM::Policy,
  customer-managed) allow a MAC action on the key, on `*` or on a key ARN glob (`*`, `kms:*`,
  `kms:Generate*` and NotAction count), or that has an AWS managed policy granting every KMS action
  (AdministratorAccess, PowerUserAccess) or a key-policy statement allowing it, unless the key's policy
  denies it the MAC actions: a Deny to every principal (`*`) of both actions whose only condition exempts
  named principals by `aws:PrincipalArn` (ArnNotEquals/ArnNotLike/StringNotEquals/StringNotLike) that the
  holder is not one of ("Key policies in AWS KMS", "Controlling access to HMAC KMS keys", AWS KMS Developer
  Guide; "Policy evaluation logic", IAM User Guide: an explicit deny wins).

Each function yields one check per requirement it bears on (`Check.requirements`): 3.5.1 for every
function with a mechanism (all its problems), 3.5.1.1 only for the keyed-hash functions (their hash's).

What templates cannot show: who may use the keys through IAM policies outside the templates (a key
policy that delegates to the account lets any IAM policy of the account grant them, unless its deny covers
them), the database's
column privileges (granted inside the database, not in CloudFormation), and what the code does with
the keys (its tests and review do).
"""

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import (
    actions_of,
    as_list,
    flatten,
    identity_policy_documents,
    managed_policy_arns,
    statements,
)

CARD_DATA_METADATA = "pci-lz:card-data"
ENVELOPE = "envelope-encryption"
KEYED_HASH = "keyed-hash"
DATA_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
# Every action that uses a data key's wrapping key: each must be bound to the vault's encryption context.
BOUND_ACTIONS = (*DATA_KEY_ACTIONS, "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo")
MAC_ACTIONS = ("kms:GenerateMac", "kms:VerifyMac")
# Operators binding a condition key to exactly the values listed ("IAM JSON policy elements: Condition
# operators" and "Multivalued context keys", IAM User Guide).
EXACT_OPERATORS = ("stringequals", "forallvalues:stringequals")
# AWS managed policies granting every KMS action on every key ("AWS managed policies for job functions",
# IAM User Guide: AdministratorAccess allows `*`; PowerUserAccess allows every action but IAM, Organizations
# and Account management).
ADMIN_MANAGED_POLICIES = ("AdministratorAccess", "PowerUserAccess")
# Condition operators on aws:PrincipalArn that exempt the named principals from a Deny.
_EXEMPTING = ("arnnotequals", "arnnotlike", "stringnotequals", "stringnotlike")


def card_data_marker(resource: Resource) -> Mapping[str, Any] | None:
    """The resource's `pci-lz:card-data` metadata, or None when it has none (or not a mapping)."""
    marker = resource.metadata.get(CARD_DATA_METADATA)
    return marker if isinstance(marker, Mapping) else None


def _matches(action: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


def _grants(statement: Mapping[str, Any], action: str) -> bool:
    """An Allow statement whose Action (or NotAction, by exclusion) covers `action`."""
    if statement.get("Effect", "Allow") != "Allow":
        return False
    if "NotAction" in statement:
        return not _matches(action, [str(a) for a in as_list(statement.get("NotAction"))])
    return _matches(action, actions_of(statement))


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
    bound = [
        s for s in grants if any(_grants(s, a) for a in BOUND_ACTIONS) and not _environment_key_only(model, function, s)
    ]
    unbound = [s for s in bound if not _exact_context(s)]
    if not unbound:
        return []
    return [
        f"{len(unbound)} data-key grant(s) without a StringEquals kms:EncryptionContext:<key> condition"
        " naming a concrete value"
    ]


def _concrete(value: Any) -> bool:
    values = as_list(value)
    return bool(values) and all(isinstance(v, str) and v and not any(c in v for c in "*?") for v in values)


def _exact_context(statement: Mapping[str, Any]) -> bool:
    """A `StringEquals` or `ForAllValues:StringEquals` condition on some `kms:EncryptionContext:<key>` whose
    values are concrete strings (a wildcard, `StringLike`, `Null` or any other operator binds no purpose)."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return False
    return any(
        str(operator).lower() in EXACT_OPERATORS
        and str(key).lower().startswith("kms:encryptioncontext:")
        and len(str(key)) > len("kms:EncryptionContext:")
        and _concrete(value)
        for operator, block in condition.items()
        if isinstance(block, Mapping)
        for key, value in block.items()
    )


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


def _names_key(model: TemplateModel, stack: str, value: Any, key: Resource) -> bool:
    """A Resource entry that is the key, `*`, or a KMS ARN glob matching any key (`arn:aws:kms:*:*:key/*`)."""
    target = model.target(stack, value)
    if target is not None:
        return target == key
    text = flatten(value)
    if text == "*":
        return True
    if "*" not in text and "?" not in text:
        return False
    parts = text.split(":", 5)
    sample = ":".join((*parts[:2], "kms", *parts[3:5], "key/0000")) if len(parts) == 6 else "arn:aws:kms:r:1:key/0"
    return fnmatch.fnmatchcase(sample.replace("<", "").replace(">", ""), text.replace("<", "").replace(">", ""))


def _statement_macs(model: TemplateModel, stack: str, statement: Mapping[str, Any], key: Resource) -> bool:
    if not any(_grants(statement, a) for a in MAC_ACTIONS):
        return False
    if "NotResource" in statement:
        return not any(_names_key(model, stack, r, key) for r in as_list(statement.get("NotResource")))
    return any(_names_key(model, stack, r, key) for r in as_list(statement.get("Resource")))


def _admin_managed(identity: Resource) -> list[str]:
    """The AWS managed policies granting every KMS action that the identity has attached."""
    return [
        name
        for arn in managed_policy_arns(identity)
        for name in ADMIN_MANAGED_POLICIES
        if arn.endswith(f":iam::aws:policy/{name}")
    ]


def _identity_holders(model: TemplateModel, key: Resource) -> dict[Any, str]:
    """Roles, users and groups of the templates whose identity policies may MAC with `key`: key -> why."""
    holders: dict[Any, str] = {}
    for identity in model.resources("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        admin = _admin_managed(identity)
        if admin:
            holders[identity.key] = f"AWS managed {', '.join(admin)}"
        elif any(
            _statement_macs(model, identity.stack, s, key)
            for doc in identity_policy_documents(identity)
            for s in statements(doc)
        ):
            holders[identity.key] = "an inline policy"
    for policy in model.resources("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        if not any(
            _statement_macs(model, policy.stack, s, key)
            for doc in identity_policy_documents(policy)
            for s in statements(doc)
        ):
            continue
        for attribute in ("Roles", "Users", "Groups"):
            for value in as_list(policy.reference(attribute)):
                target = model.target(policy.stack, value)
                holders.setdefault(target.key if target is not None else (policy.stack, str(value)), policy.logical_id)
    return holders


def _exempted(model: TemplateModel, key: Resource, values: list[Any], holder: Resource | None) -> bool:
    """Whether a holder may fall under one of a Deny's exempting aws:PrincipalArn values (unknown: yes)."""
    for value in values:
        target = model.target(key.stack, value)
        if target is not None:
            if holder is not None and target == holder:
                return True
            continue
        text = flatten(value)
        name = holder.prop("RoleName") or holder.prop("UserName") if holder is not None else None
        if holder is None or not isinstance(name, str):
            return True  # a literal pattern and a holder whose ARN is unknown until deploy: may match
        kind = "role" if holder.type == "AWS::IAM::Role" else "user"
        path = holder.prop("Path") if isinstance(holder.prop("Path"), str) else "/"
        if fnmatch.fnmatchcase(f"arn:aws:iam::0:{kind}{path}{name}", text.replace("<", "").replace(">", "")):
            return True
        if "<" in text or ":" not in text:
            return True
    return False


def _key_policy_denies(model: TemplateModel, key: Resource, holder: Resource | None) -> bool:
    """The key's policy denies both MAC actions to every principal but named exemptions `holder` is not."""
    for statement in statements(key.prop("KeyPolicy")):
        principal = statement.get("Principal")
        anyone = principal == "*" or (isinstance(principal, Mapping) and as_list(principal.get("AWS")) == ["*"])
        if statement.get("Effect") != "Deny" or not anyone:
            continue
        if not all(_matches(a, actions_of(statement)) for a in MAC_ACTIONS):
            continue
        condition = statement.get("Condition") or {}
        if not isinstance(condition, Mapping):
            continue
        exemptions: list[Any] = []
        understood = True
        for operator, block in condition.items():
            if str(operator).lower() not in _EXEMPTING or not isinstance(block, Mapping):
                understood = False
                break
            for ckey, value in block.items():
                if str(ckey).lower() != "aws:principalarn":
                    understood = False
                exemptions += as_list(value)
        if understood and not _exempted(model, key, exemptions, holder):
            return True
    return False


def _key_policy_holders(model: TemplateModel, key: Resource) -> list[str]:
    """Principals a key-policy Allow names for a MAC action, other than the account root (which delegates
    to IAM policies, examined above)."""
    found: list[str] = []
    for statement in statements(key.prop("KeyPolicy")):
        if not any(_grants(statement, a) for a in MAC_ACTIONS):
            continue
        principal = statement.get("Principal")
        named = as_list(principal.get("AWS")) if isinstance(principal, Mapping) else as_list(principal)
        for value in named:
            text = flatten(value)
            if text.endswith(":root") or text.endswith("<AWS::AccountId>") or text == "":
                continue
            target = model.target(key.stack, value)
            if not _key_policy_denies(model, key, target):
                found.append(target.logical_id if target is not None else text)
    return found


def _other_mac_holders(model: TemplateModel, keys: set[Any], card_roles: set[Any]) -> list[str]:
    """Identities of the templates, not a keyed-hash function's role, that may MAC with `keys` and that the
    key's policy does not deny: "<identity> (<why>)"."""
    holders: set[str] = set()
    for key_id in keys:
        key = model.resource(*key_id)
        if key is None:
            continue
        for identity_key, why in _identity_holders(model, key).items():
            if identity_key in card_roles:
                continue
            identity = model.resource(*identity_key) if len(identity_key) == 2 else None
            if not _key_policy_denies(model, key, identity):
                name = identity.logical_id if identity is not None else str(identity_key[-1])
                holders.add(name if why == "an inline policy" or why == name else f"{name} ({why})")
        holders.update(_key_policy_holders(model, key))
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
    # Only a keyed-hash function's role may MAC: a card-data function without the hash has no need to.
    hash_roles = {
        role.key
        for fn, marker in marked
        if KEYED_HASH in [str(m) for m in as_list(marker.get("mechanisms"))] and (role := roles[fn.key]) is not None
    }
    for fn, marker in marked:
        mechanisms = [str(m) for m in as_list(marker.get("mechanisms"))]
        if not mechanisms:
            continue  # handles card data (its elements are stated) but renders none unreadable itself
        hashed = KEYED_HASH in mechanisms
        role = roles[fn.key]
        if role is None:
            detail = "its execution role is not created in the templates: its grants are unknown"
            yield Check(fn, False, detail, ("3.5.1",))
            if hashed:
                yield Check(fn, False, detail, ("3.5.1.1",))
            continue
        grants = role_statements(model, role)
        problems: list[str] = []
        if ENVELOPE in mechanisms:
            problems += _envelope_problems(model, fn, grants)
        hash_problems: list[str] = []
        if hashed:
            hash_problems, keys = _mac_keys(model, fn, grants)
            others = _other_mac_holders(model, keys, hash_roles)
            if others:
                hash_problems.append(f"other identities may MAC with its keyed-hash key: {', '.join(others)}")
        unknown = sorted(set(mechanisms) - {ENVELOPE, KEYED_HASH})
        if unknown:
            problems.append(f"unknown mechanisms {unknown} (expected {ENVELOPE}, {KEYED_HASH})")
        every = [*problems, *hash_problems]
        yield Check(fn, not every, "; ".join(every), ("3.5.1",))
        if hashed:
            yield Check(fn, not hash_problems, "; ".join(hash_problems), ("3.5.1.1",))
