"""A small evaluator of IAM Deny statements, for asking "does the boundary deny this request?" in tests.

It covers what the landing zone's boundary uses: Action (with `*` and `?` wildcards, case-insensitive),
Resource patterns, and the condition operators ArnLike / ArnNotLike / StringLike / StringNotLike /
StringEquals / StringNotEquals / ArnEquals over single-valued keys, and ForAnyValue:StringEquals over a
multivalued one (aws:TagKeys, given as a tuple). A key the request does not carry makes a negated
operator (`...NotLike`) match and a positive one fail, as IAM evaluates them ("IAM JSON policy elements:
Condition operators", IAM User Guide). Intrinsics are rendered first (`render`): `Ref: AWS::Partition` is
`aws`, anything else unresolved becomes a marker no real ARN matches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

UNRESOLVED = "<unresolved>"
_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


def render(value: Any, known: Mapping[str, str] | None = None) -> Any:
    """Plain strings for Fn::Join / Ref / Fn::Sub of pseudo parameters; `known` maps logical IDs to values."""
    known = known or {}
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, list):
        return [render(v, known) for v in value]
    if isinstance(value, dict) and not (len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::"))):
        return {k: render(v, known) for k, v in value.items()}
    if isinstance(value, dict):
        ((key, inner),) = value.items()
        if key == "Ref":
            return _PSEUDO.get(inner, known.get(inner, UNRESOLVED))
        if key == "Fn::Join":
            separator, parts = inner
            return str(separator).join(str(render(p, known)) for p in parts)
        if key == "Fn::GetAtt":
            target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
            return known.get(f"{target}.Arn", UNRESOLVED)
        if key == "Fn::Sub" and isinstance(inner, str):
            text = inner
            for name, pseudo in _PSEUDO.items():
                text = text.replace("${" + name + "}", pseudo)
            return text if "${" not in text else UNRESOLVED
    return UNRESOLVED


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str) -> bool:
    return fnmatchcase(value, pattern)


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-delimited parts matched separately (the last may hold colons)."""
    wanted, given = pattern.split(":", 5), value.split(":", 5)
    return len(wanted) == len(given) == 6 and all(map(_glob, wanted, given))


def _equals(pattern: str, value: str) -> bool:
    return pattern == value


_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_equals, False),
    "StringNotEquals": (_equals, True),
    "StringLike": (_glob, False),
    "StringNotLike": (_glob, True),
    "ArnEquals": (_equals, False),
    "ArnLike": (_arn_like, False),
    "ArnNotLike": (_arn_like, True),
    "Bool": (lambda pattern, value: pattern.lower() == value.lower(), False),
}


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = "*"
    context: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)


def _condition_holds(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str | tuple[str, ...]]) -> bool:
    for qualified, keys in conditions.items():
        # ForAnyValue: the key is multivalued (aws:TagKeys); the condition holds if any of its values matches
        # ("Single-valued vs. multivalued context keys", IAM User Guide). Only the positive operators are modelled.
        any_value = qualified.startswith("ForAnyValue:")
        operator = qualified.removeprefix("ForAnyValue:")
        # ...IfExists: an absent key satisfies the operator ("IAM JSON policy elements: Condition operators").
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        if operator not in _OPERATORS or (any_value and _OPERATORS[operator][1]):
            raise NotImplementedError(f"condition operator {qualified} is not modelled")
        test, negated = _OPERATORS[operator]
        for key, patterns in keys.items():
            value = next((v for k, v in context.items() if k.lower() == key.lower()), None)
            if value is None:
                if not negated and not if_exists:
                    return False
                continue
            values = value if isinstance(value, tuple) else (value,)
            if len(values) > 1 and not any_value:
                raise NotImplementedError(f"{key} has several values: only ForAnyValue reads them")
            hit = any(test(str(p), v) for p in _as_list(patterns) for v in values)
            if hit == negated:
                return False
    return True


def denied_by(statements: list[dict[str, Any]], request: Request) -> list[str]:
    """The Sids of the Deny statements that deny `request` (empty: not denied)."""
    found = []
    for statement in statements:
        if statement.get("Effect") != "Deny":
            continue
        if not any(_glob(str(a).lower(), request.action.lower()) for a in _as_list(statement["Action"])):
            continue
        resources = [str(r) for r in _as_list(statement.get("Resource", "*"))]
        if not any(r == "*" or _arn_like(r, request.resource) for r in resources):
            continue
        if _condition_holds(statement.get("Condition", {}), request.context):
            found.append(str(statement.get("Sid", "?")))
    return found


_KEY_USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt", "kms:*")


def roles_granted_a_key(templates: list[dict[str, Any]], key_logical_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(role logical ID, role properties) of every role whose inline or attached policy allows a use of the key,
    by Ref, GetAtt or an import of its export (the export's name carries the key's logical ID)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for template in templates:
        resources = template["Resources"]
        for logical_id, body in resources.items():
            kind, properties = body["Type"], body.get("Properties", {})
            if kind == "AWS::IAM::Role":
                documents, roles = [p["PolicyDocument"] for p in properties.get("Policies", [])], [logical_id]
            elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                documents = [properties["PolicyDocument"]]
                attached = properties.get("Roles", [])
                roles = [role["Ref"] for role in attached if isinstance(role, dict) and "Ref" in role]
            else:
                continue
            for statement in (s for d in documents for s in d["Statement"] if s.get("Effect") == "Allow"):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(a.startswith(_KEY_USE) for a in actions) and key_logical_id in str(statement.get("Resource")):
                    found.extend((role, resources[role]["Properties"]) for role in roles)
    return found
