"""A small evaluator of IAM Deny statements: "does this policy deny this request?".

Used at run time by the keys work paper (a key policy's Deny statements against each principal the templates
let use the key) and by the tests (the permissions boundary, the key policies). It covers what the landing
zone's templates use: Action (with `*` and `?` wildcards, case-insensitive), Resource patterns, Principal
(`*`, an account, a role ARN, a service), and the condition operators ArnLike / ArnNotLike / ArnEquals /
ArnNotEquals / StringLike / StringNotLike / StringEquals / StringNotEquals / Bool, each with the `IfExists`
suffix, over single-valued keys, and ForAnyValue:StringEquals / ForAnyValue:StringLike over a multivalued one
(aws:TagKeys, kms:ResourceAliases, given as a tuple). A key the request does not carry makes a negated
operator (`...NotLike`) match and a positive one fail, and an `...IfExists` operator match (IAM User Guide,
"IAM JSON policy elements: Condition operators"; "Single-valued vs. multivalued context keys"). An explicit
Deny overrides any Allow (IAM User Guide, "Policy evaluation logic"), which is why only Denies are evaluated
here. An operator outside this list raises `NotImplementedError` (the caller states it as not evaluated).

Intrinsics are rendered first (`render`): `Ref: AWS::Partition` is `aws`, `AWS::URLSuffix` `amazonaws.com`,
a `known` mapping supplies other Refs and `<LogicalId>.Arn` GetAtts; anything else unresolved becomes
`UNRESOLVED`, a marker no real ARN matches (`has_unresolved` finds it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

UNRESOLVED = "<unresolved>"
_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
PRINCIPAL_ARN = "aws:PrincipalArn"
PRINCIPAL_SERVICE = "aws:PrincipalServiceName"


def render(value: Any, known: Mapping[str, str] | None = None) -> Any:
    """Plain strings for Fn::Join / Ref / Fn::Sub of pseudo parameters; `known` maps logical IDs (and
    `<LogicalId>.Arn`, pseudo parameters such as `AWS::AccountId`) to values. Shape-preserving: lists and
    mappings are rendered item by item."""
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
            for name, pseudo in {**_PSEUDO, **known}.items():
                text = text.replace("${" + name + "}", pseudo)
            return text if "${" not in text else UNRESOLVED
    return UNRESOLVED


def has_unresolved(value: Any) -> bool:
    """Whether a rendered value holds the `UNRESOLVED` marker anywhere."""
    if isinstance(value, str):
        return UNRESOLVED in value
    if isinstance(value, list):
        return any(map(has_unresolved, value))
    if isinstance(value, Mapping):
        return any(has_unresolved(v) for v in value.values())
    return False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters, `?` any one; every other character is itself (`[ab]` is no
    class, unlike fnmatch): "IAM JSON policy elements: Condition operators", IAM User Guide."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _glob(pattern: str, value: str) -> bool:
    return _wildcard(pattern).fullmatch(value) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike and ArnEquals (the same test in IAM): each of the six colon-delimited parts matched separately (the
    last may hold colons), wildcards allowed in each; a pattern of `*` alone matches any ARN."""
    if pattern == "*":
        return True
    wanted, given = pattern.split(":", 5), value.split(":", 5)
    return len(wanted) == len(given) == 6 and all(map(_glob, wanted, given))


def _equals(pattern: str, value: str) -> bool:
    return pattern == value


_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_equals, False),
    "StringNotEquals": (_equals, True),
    "StringLike": (_glob, False),
    "StringNotLike": (_glob, True),
    "ArnEquals": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnLike": (_arn_like, False),
    "ArnNotLike": (_arn_like, True),
    "Bool": (lambda pattern, value: pattern.lower() == value.lower(), False),
}


@dataclass(frozen=True)
class Request:
    """One request: the action (`kms:Decrypt`), the resource ARN (`*` for any) and its context keys
    (`aws:PrincipalArn`, `kms:ViaService`, ...; a multivalued key as a tuple of strings)."""

    action: str
    resource: str = "*"
    context: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)


def _value(context: Mapping[str, str | tuple[str, ...]], key: str) -> str | tuple[str, ...] | None:
    return next((v for k, v in context.items() if k.lower() == key.lower()), None)


def condition_holds(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str | tuple[str, ...]]) -> bool:
    """Whether every clause of a statement's Condition holds for the request context (clauses are ANDed,
    the values of one key ORed). Raises NotImplementedError for an operator this module does not model."""
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
            value = _value(context, key)
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


def _principal_matches(principal: Any, context: Mapping[str, str | tuple[str, ...]]) -> bool:
    """Whether a statement's Principal names the request's principal. A request that carries neither
    `aws:PrincipalArn` nor `aws:PrincipalServiceName` is matched on Action, Resource and Condition only (an
    identity policy has no Principal; the tests ask about conditions). `arn:...:root` or an account ID names
    every principal of that account ("AWS JSON policy elements: Principal", IAM User Guide)."""
    arn, service = _value(context, PRINCIPAL_ARN), _value(context, PRINCIPAL_SERVICE)
    if principal is None or (arn is None and service is None) or principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for item in _as_list(principal.get("AWS", [])):
        text = str(item)
        if text == "*":
            return True
        if isinstance(arn, str):
            account = arn.split(":")[4] if arn.count(":") >= 5 else None
            if text in (arn, account) or (text.endswith(":root") and text.split(":")[4] == account):
                return True
    return isinstance(service, str) and service in map(str, _as_list(principal.get("Service", [])))


def denied_by(statements: list[dict[str, Any]], request: Request) -> list[str]:
    """The Sids of the Deny statements that deny `request` (empty: not denied); `?` for a Deny with no Sid."""
    found = []
    for statement in statements:
        if statement.get("Effect") != "Deny":
            continue
        if not any(_glob(str(a).lower(), request.action.lower()) for a in _as_list(statement["Action"])):
            continue
        resources = [str(r) for r in _as_list(statement.get("Resource", "*"))]
        if not any(r == "*" or _arn_like(r, request.resource) for r in resources):
            continue
        if not _principal_matches(statement.get("Principal"), request.context):
            continue
        if condition_holds(statement.get("Condition", {}), request.context):
            found.append(str(statement.get("Sid", "?")))
    return found
