"""What the templates say about each card-data hop and store, for the 1.2.4 data-flow diagram.

CDK-free readers over the `TemplateModel`: the AWS API calls a function's role may make on a given
resource (from its identity policies), a function's log group, a log group's retention and key,
a database's in-transit encryption (its parameter group), a key's template reference, and the
Lambda invocation permissions that name a caller. Nothing here is hand-listed: each returns what
the templates declare, or None when they do not say.
Sources: AWS Lambda Developer Guide, "Lambda resource-based policies"; Amazon RDS User Guide,
"Using SSL/TLS with a PostgreSQL DB instance" (`rds.force_ssl`, `ssl_min_protocol_version`);
AWS KMS Developer Guide, "Connect to AWS KMS through a VPC endpoint".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evidence.topology import display_name
from pci_rules.model import Resource, TemplateModel

_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


@dataclass(frozen=True)
class Grant:
    target: Resource
    actions: tuple[str, ...]
    conditional: bool


def _actions(statement: Mapping[str, Any]) -> tuple[str, ...]:
    actions = statement.get("Action", [])
    return (actions,) if isinstance(actions, str) else tuple(str(a) for a in actions)


def role_of(model: TemplateModel, function: Resource) -> Resource | None:
    return next(
        (r for r in model.references(function.stack, function.prop("Role")) if r.type == "AWS::IAM::Role"), None
    )


def grants(model: TemplateModel, principal: Resource) -> list[Grant]:
    """Allow statements of the identity policies attached to `principal` (a function or a role) that
    name a resource of the templates: (resource, actions, whether a condition narrows it)."""
    role = role_of(model, principal) if principal.type == "AWS::Lambda::Function" else principal
    if role is None:
        return []
    policies = [p for p in model.referrers(role) if p.type in _POLICY_TYPES]
    policies += [p for p in model.references(role.stack, role.prop("ManagedPolicyArns")) if p.type in _POLICY_TYPES]
    inline = [{"PolicyDocument": body.get("PolicyDocument")} for body in role.prop("Policies", default=[]) or []]
    out: dict[tuple[tuple[str, str], tuple[str, ...]], Grant] = {}
    documents: list[tuple[str, Any]] = [(p.stack, p.prop("PolicyDocument")) for p in policies]
    documents += [(role.stack, i["PolicyDocument"]) for i in inline]
    for stack, document in documents:
        if not isinstance(document, Mapping):
            continue
        for statement in document.get("Statement", []) or []:
            if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
                continue
            for target in model.references(stack, statement.get("Resource")):
                if target.type == "AWS::SecretsManager::SecretTargetAttachment":
                    target = next(iter(model.references(target.stack, target.prop("SecretId"))), target)
                key = (target.key, _actions(statement))
                out[key] = Grant(target, _actions(statement), bool(statement.get("Condition")))
    return sorted(out.values(), key=lambda g: (g.target.key, g.actions))


def log_group_of(model: TemplateModel, function: Resource) -> Resource | None:
    """The log group a function writes to (`LoggingConfig.LogGroup`), when the templates create it."""
    found = model.references(function.stack, function.prop("LoggingConfig", "LogGroup"))
    return next((r for r in found if r.type == "AWS::Logs::LogGroup"), None)


def kms_key(model: TemplateModel, resource: Resource, *props: str) -> Resource | None:
    for prop in props:
        found = [k for k in model.references(resource.stack, resource.prop(prop)) if k.type == "AWS::KMS::Key"]
        if found:
            return found[0]
    return None


def alias_of(model: TemplateModel, key: Resource) -> str:
    for alias in model.resources("AWS::KMS::Alias"):
        if any(t.key == key.key for t in model.references(alias.stack, alias.prop("TargetKeyId"))):
            return str(alias.prop("AliasName"))
    return display_name(key)


def key_reference(model: TemplateModel, key: Resource | None) -> str:
    """The key's ARN as the templates reference it: `Fn::GetAtt <logical id>.Arn` in its stack."""
    if key is None:
        return "none in the templates"
    return f"{alias_of(model, key)}: Fn::GetAtt {key.logical_id}.Arn ({key.stack})"


def retention_text(model: TemplateModel, group: Resource) -> str:
    days = group.prop("RetentionInDays")
    key = kms_key(model, group, "KmsKeyId")
    kept = f"kept {days} days, then deleted by CloudWatch Logs" if days else "kept indefinitely (no retention set)"
    return f"{kept}; encrypted with {alias_of(model, key) if key else 'the service key (no KMS key)'}"


def database_tls(model: TemplateModel, database: Resource) -> str:
    """In-transit encryption a PostgreSQL instance enforces, from its parameter group."""
    groups = model.references(database.stack, database.prop("DBParameterGroupName"))
    for group in (g for g in groups if g.type == "AWS::RDS::DBParameterGroup"):
        params = group.prop("Parameters", default={}) or {}
        if str(params.get("rds.force_ssl")) == "1":
            minimum = params.get("ssl_min_protocol_version")
            return f"TLS required (rds.force_ssl=1{', minimum ' + str(minimum) if minimum else ''})"
    return "TLS not enforced by the parameter group"


def invoke_callers(model: TemplateModel, function: Resource) -> list[str]:
    """Principals a function's resource policy lets invoke it (`AWS::Lambda::Permission`), on the function
    itself or on one of its aliases (a detokenize caller invokes its own `caller-<role>` alias; a permission
    on an alias lets its principal invoke that alias's ARN: "Using Lambda aliases in event sources and
    permissions policies", Lambda Developer Guide)."""
    return sorted({principal for principal, _ in invoke_grants(model, function)})


def invoke_grants(model: TemplateModel, function: Resource) -> list[tuple[str, str | None]]:
    """(principal, alias name or None) of every Lambda permission on the function or on an alias of it
    (an alias names the function or one of its versions)."""
    versions = [function, *model.referrers(function, "AWS::Lambda::Version")]
    aliases = {a.key: a for v in versions for a in model.referrers(v, "AWS::Lambda::Alias")}
    targets: list[tuple[Resource, str | None]] = [(function, None)]
    for alias in aliases.values():
        name = alias.prop("Name")
        targets.append((alias, str(name) if isinstance(name, str) else display_name(alias)))
    found: set[tuple[str, str | None]] = set()
    for target, alias_name in targets:
        for permission in model.referrers(target, "AWS::Lambda::Permission"):
            principal = permission.prop("Principal")
            if isinstance(principal, str):
                found.add((principal, alias_name))
    return sorted(found, key=lambda item: (item[0], item[1] or ""))


def schedules(model: TemplateModel, function: Resource) -> list[str]:
    """EventBridge rules targeting a function: their schedule expressions."""
    out = []
    for rule in model.referrers(function, "AWS::Events::Rule"):
        expression = rule.prop("ScheduleExpression")
        if isinstance(expression, str):
            out.append(expression)
    return sorted(out)


def deploy_triggers(model: TemplateModel, function: Resource) -> list[Resource]:
    """CDK triggers (`Custom::Trigger`) that run a function during a deploy (through a version)."""
    found = []
    versions = [function, *model.referrers(function, "AWS::Lambda::Version")]
    for version in versions:
        found += model.referrers(version, "Custom::Trigger")
    return found


def short_actions(actions: Iterable[str]) -> str:
    return ", ".join(sorted({a.split(":", 1)[-1] for a in actions}))


# -- card-data elements, as the templates state them -----------------------------------------------
# A function that handles card data writes what it receives, sends, stores and reads into its template
# metadata (`pci-lz:card-data`, pci_constructs/card_vault.py; the rule pack's PCI4-CARD-DATA-FIELD-ENCRYPTION
# reads the same key). A function without it is "not stated in the templates", never a guess.
CARD_DATA_METADATA = "pci-lz:card-data"
NOT_STATED = "not stated in the templates"


def card_data(function: Resource) -> Mapping[str, list[str]] | None:
    """`{receives, sends, stores, reads, mechanisms}` (lists of element names) from the function's
    `pci-lz:card-data` metadata, or None when the template states none."""
    marker = function.metadata.get(CARD_DATA_METADATA)
    if not isinstance(marker, Mapping):
        return None
    return {k: [str(v) for v in marker.get(k) or []] for k in ("receives", "sends", "stores", "reads", "mechanisms")}


def _joined(items: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(items))


def request_elements(functions: Sequence[Resource]) -> str:
    """What a request hop to these functions carries: each one's `receives` in the request and `sends` in
    the response, or NOT_STATED (naming the functions whose templates state nothing)."""
    stated = [(fn, d) for fn in functions if (d := card_data(fn)) is not None]
    if not stated:
        return NOT_STATED
    receives = _joined(e for _, d in stated for e in d["receives"]) or "no card data"
    sends = _joined(e for _, d in stated for e in d["sends"]) or "no card data"
    text = f"{receives} in the request; {sends} in the response"
    missing = sorted(display_name(fn) for fn in functions if card_data(fn) is None)
    return text + (f"; {NOT_STATED} for {', '.join(missing)}" if missing else "")


def stored_elements(functions: Sequence[Resource], *, reads: bool = True) -> str:
    """What the database hop from these functions carries (their `stores` and, with `reads`, what they
    read back), or NOT_STATED when none of them states it."""
    stated = [d for fn in functions if (d := card_data(fn)) is not None]
    if not stated:
        return NOT_STATED
    stores = _joined(e for d in stated for e in d["stores"])
    read = _joined(e for d in stated for e in d["reads"]) if reads else ""
    parts = [f"stores {stores}" if stores else "", f"reads {read}" if read else ""]
    text = "; ".join(p for p in parts if p) or "no card data"
    missing = sorted(display_name(fn) for fn in functions if card_data(fn) is None)
    return text + (f"; {NOT_STATED} for {', '.join(missing)}" if missing else "")
