"""The template itself: every Parameter a resource uses resolves at synth (the intrinsics policy's fail-closed half).

Every rule runs over the model's variants (`TemplateModel.variants()`), where a `Ref` to a Parameter is its
Default and each of its AllowedValues. A Parameter without AllowedValues (no Default at all, or a Default a
deployer may replace with any value), that no parent stack passes and that is not an SSM parameter (read at
deploy from a parameter the account governs), leaves every property that uses it unknown until deploy: a rule
reading such a property could pass a value it never saw. So that parameter is a finding here, "could not
resolve", whatever the property.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule


def _uses(value: Any, names: set[str]) -> set[str]:
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("Ref")
            if len(item) == 1 and isinstance(ref, str) and ref in names:
                found.add(ref)
            sub = item.get("Fn::Sub")
            text = sub[0] if isinstance(sub, list) and sub else sub
            if len(item) == 1 and isinstance(text, str):
                found |= {n for n in names if "${" + n + "}" in text}
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _why(declared: Any) -> str:
    if isinstance(declared, dict) and "Default" in declared:
        return "a Default without AllowedValues: a deployer may pass any value"
    return "no Default, unknown until deploy"


@rule(
    id="PCI4-TEMPLATE-PARAMETERS-RESOLVED",
    requirements=("2.2.1",),
    related=("6.5.1",),
    description="Every template Parameter a resource uses has AllowedValues or a parent's value, so rules see it.",
    fix="Give the Parameter AllowedValues (a Default alone lets a deployer pass anything), or pass it from the parent"
    " stack, or use an SSM parameter.",
)
def parameters_resolved(model: TemplateModel) -> Iterator[Check]:
    """Examines every resource that uses a template Parameter; it fails when one of them cannot be resolved."""
    for name, stack in model.stacks.items():
        declared = set(stack.template.get("Parameters") or {})
        if not declared:
            continue
        unresolved = set(model.unresolved_parameters(name))
        written = (stack.written or stack.template).get("Resources") or {}
        for logical_id, resource in stack.resources.items():
            used = _uses((written.get(logical_id) or {}).get("Properties"), declared)
            if not used:
                continue
            bad = sorted(used & unresolved)
            reasons = [f"{n} ({_why(stack.template['Parameters'][n])})" for n in bad]
            detail = f"could not resolve parameter(s) {', '.join(reasons)}" if bad else ""
            yield Check(resource, not bad, detail)


# The AWS::SecretsManager transform expands only a RotationSchedule's HostedRotationLambda, into a nested stack
# with a rotation function from AWS's rotation templates; the rest of the template deploys as written
# (CloudFormation Template Reference, "AWS::SecretsManager transform").
SECRETS_MANAGER_TRANSFORMS = ("AWS::SecretsManager-2020-07-23", "AWS::SecretsManager-2024-09-16")
SERVERLESS_TYPE_PREFIX = "AWS::Serverless::"


def _transforms(template: Any) -> list[str]:
    declared = template.get("Transform") if isinstance(template, dict) else None
    names = declared if isinstance(declared, list) else [declared] if declared is not None else []
    return [n if isinstance(n, str) else str((n or {}).get("Name", n)) for n in names]


def _inline_macros(value: Any) -> list[str]:
    """The names of the `Fn::Transform` macros inside `value`."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            macro = item.get("Fn::Transform")
            if macro is not None:
                found.append(str(macro.get("Name", macro) if isinstance(macro, dict) else macro))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@rule(
    id="PCI4-TEMPLATE-NO-TRANSFORMS",
    requirements=("2.2.1",),
    related=("6.5.1",),
    description="Every resource deploys as the rules read it: no macro (SAM, AWS::Include, another) rewrites it.",
    fix="Write the resources as CloudFormation types (CDK constructs, not AWS::Serverless::*), without"
    " Transform or Fn::Transform; the AWS::SecretsManager transform of a hosted rotation is read as such.",
)
def no_transforms(model: TemplateModel) -> Iterator[Check]:
    """Examines every resource: one in a template whose `Transform` is a macro other than the AWS::SecretsManager
    transform, one of an `AWS::Serverless::*` type, or one holding a `Fn::Transform`, is not examined by the rules
    (CloudFormation expands it at deploy: User Guide, "Perform custom processing on CloudFormation templates with
    template macros"), so it fails naming the macro."""
    for stack in model.stacks.values():
        written = stack.written or stack.template
        macros = [t for t in _transforms(written) if t not in SECRETS_MANAGER_TRANSFORMS]
        bodies = written.get("Resources") or {}
        for logical_id, resource in stack.resources.items():
            body = bodies.get(logical_id) or {}
            named = [*macros, *_inline_macros(body)]
            if resource.type.startswith(SERVERLESS_TYPE_PREFIX) and not named:
                named = ["AWS::Serverless-2016-10-31 (its type needs it)"]
            detail = f"not examined: the template is rewritten at deploy by {', '.join(named)}" if named else ""
            yield Check(resource, not named, detail)
