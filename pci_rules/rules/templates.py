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
    requirements=("2.2.1", "6.5.1"),
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
