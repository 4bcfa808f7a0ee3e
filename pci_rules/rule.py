"""What a rule is, what it returns, and how a set of rules is run over a model.

A rule is one small function from a `TemplateModel` to `Check`s: one per
resource it examined, passed or not. Keeping the passes (not only the
violations) is what lets the evidence report say which resources *meet* a
requirement and by which rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pci_rules.model import (
    MAX_CONDITIONS,
    STRING_INTRINSICS,
    PropertyRead,
    Resource,
    TemplateModel,
    UnresolvedRead,
    record_property_reads,
    record_unresolved_reads,
    reset_property_reads,
    reset_unresolved_reads,
    variant_label,
)

RuleCheck = Callable[[TemplateModel], Iterable["Check"]]


@dataclass(frozen=True)
class Check:
    """The outcome of one rule on one resource; `detail` says what was wrong (or what was seen).

    `requirements`: the rule's requirements this check bears on, when narrower than the rule's (a rule
    examining two mechanisms, each for its own requirement); empty means all of the rule's.
    """

    resource: Resource
    passed: bool
    detail: str = ""
    requirements: tuple[str, ...] = ()

    def bears_on(self, requirement: str, rule_requirements: tuple[str, ...]) -> bool:
        """Whether this check counts for `requirement` (one of the rule's)."""
        return requirement in (self.requirements or rule_requirements)


@dataclass(frozen=True)
class Rule:
    """One PCI DSS v4.0.1 check on rendered templates.

    `id` is stable (acknowledgments name it); `requirements` are the v4.0.1 requirement numbers (such as
    "10.5.1") whose testing procedure examines the property the rule checks: printed in findings and counted
    as evidence. `related` are requirements the property supports but does not evidence (a Security Hub
    control's or AWS's mapping the pack keeps for the crosswalk, a process the setting is a prerequisite of):
    listed in the crosswalk and the rule docs, printed in findings as "supports ...", never counted as
    evidence. `requirements` may be empty only where `related` is not (tests/test_pci_rules.py holds the
    reason each such rule carries). `description` is one line; `fix` tells how to comply.
    `acknowledgeable` False marks a finding no registry may accept (a CDE route to the
    internet, an unencrypted cardholder-data store, a disabled trail): it can only be fixed.
    `absence` marks a rule about something that must not exist (IAM users): finding none of it
    is the evidence, where for every other rule examining nothing evidences nothing.
    """

    id: str
    requirements: tuple[str, ...]
    description: str
    fix: str
    check: RuleCheck
    acknowledgeable: bool = True
    absence: bool = False
    related: tuple[str, ...] = ()

    def citation(self) -> str:
        """How a finding cites the rule: "PCI DSS v4.0.1 3.4.1", "..., supports 3.6.1", or "supports PCI DSS
        v4.0.1 3.6.1" when the rule evidences no requirement (only `related`)."""
        evidences = ", ".join(self.requirements)
        supports = ", ".join(self.related)
        if not evidences:
            return f"supports PCI DSS v4.0.1 {supports}"
        return f"PCI DSS v4.0.1 {evidences}" + (f"; supports {supports}" if supports else "")

    def __call__(self, model: TemplateModel) -> list[Check]:
        return list(self.check(model))


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    checks: tuple[Check, ...]

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def passes(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.passed)

    def for_requirement(self, requirement: str) -> tuple[Check, ...]:
        """The checks that bear on `requirement` (`Check.requirements`; every check when it names none)."""
        return tuple(c for c in self.checks if c.bears_on(requirement, self.rule.requirements))

    @property
    def examined(self) -> int:
        """How many resources the rule examined (one check each)."""
        return len(self.checks)

    @property
    def evidence(self) -> str:
        """What the result evidences, in words the evidence report prints.

        A rule that examined nothing evidences nothing ("not evidenced"), except a rule about
        absence, where finding none is the evidence: stated as "absence in the templates confirmed",
        never as examined-and-passed (it examined nothing, so it cannot carry a requirement alone).
        """
        if self.failures:
            return f"failed: {len(self.failures)} of {self.examined} resources examined"
        if self.examined:
            return f"met: {self.examined} resources examined, all passed"
        if self.rule.absence:
            return "absence in the templates confirmed: none found, and finding none is the evidence"
        return "not evidenced: no resource of the kind this rule examines is in these templates"


REGISTRY: list[Rule] = []


def rule(
    *,
    id: str,
    requirements: tuple[str, ...],
    description: str,
    fix: str,
    acknowledgeable: bool = True,
    absence: bool = False,
    related: tuple[str, ...] = (),
) -> Callable[[RuleCheck], Rule]:
    """Decorator: turn a check function into a `Rule` and register it (in import order)."""

    def register(check: RuleCheck) -> Rule:
        if any(r.id == id for r in REGISTRY):
            raise ValueError(f"rule {id} is defined twice")
        made = Rule(
            id=id,
            requirements=requirements,
            description=description,
            fix=fix,
            check=check,
            acknowledgeable=acknowledgeable,
            absence=absence,
            related=related,
        )
        REGISTRY.append(made)
        return made

    return register


def evaluate(model: TemplateModel, rules: Iterable[Rule]) -> list[RuleResult]:
    """Run each rule over each of the model's variants (`TemplateModel.variants()`: the intrinsics policy).

    A resource's check fails when it fails in any variant (its detail then names the variant when the variant
    resolved a choice in that resource's own properties); checks name
    the model's own resources, not a variant's copies. A pass on a resource whose property the rule read as
    an unresolved `Fn::Join`/`Fn::Sub` (`Resource.prop`) becomes the finding "could not resolve <property>".
    """
    variants = model.variants()
    labelled = len(variants) > 1 or variants[0][1] is not model
    results = []
    for rule_ in rules:
        merged: dict[tuple[tuple[str, str], int], Check] = {}
        for label, variant in variants:
            seen: dict[tuple[str, str], int] = {}
            paths: list[PropertyRead] = []
            if labelled:  # the paths read name a variant's conditions; a model without choices has none
                token = record_property_reads(paths)
                try:
                    checks = _run_recording(rule_, variant)
                finally:
                    reset_property_reads(token)
            else:
                checks = _run_recording(rule_, variant)
            for check in checks:
                nth = seen[check.resource.key] = seen.get(check.resource.key, -1) + 1
                key = (check.resource.key, nth)
                previous = merged.get(key)
                if previous is not None and (not previous.passed or check.passed):
                    continue
                original = model.resource(*check.resource.key) or check.resource
                where = variant.stacks.get(check.resource.stack)
                # the variant's label only where the choice reached the resource: its properties as resolved
                # differ from those written (an Fn::If, a Parameter's value, a lookup in it), or it exists only
                # under a resource-level Condition the variant made true; a variant's label names only what the
                # value read depended on (worked out for a failure only: it rereads the written template)
                reached = check.resource.properties != original.properties or original.condition is not None
                detail = check.detail
                if labelled and reached and not check.passed:
                    named = (  # a stack without choices has no label
                        label
                        if where is None
                        else variant_label(
                            where, check.resource.logical_id, [k for r, k in paths if r == check.resource.key]
                        )
                    )
                    detail = f"{check.detail} ({named})" if named else check.detail
                merged[key] = Check(
                    resource=original, passed=check.passed, detail=detail, requirements=check.requirements
                )
        results.append(RuleResult(rule=rule_, checks=tuple(merged.values())))
    return results


def _path(keys: tuple[str | int, ...]) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")


def _unknown_because(function: str) -> str:
    """Why a read value is unknown, in the words of a "could not resolve" finding."""
    if function in STRING_INTRINSICS:
        return f"{function} of a value unknown until deploy"
    if function.startswith("Fn::If over "):
        return f"{function}: more than {MAX_CONDITIONS} are not enumerated"
    if function == "Fn::If":
        return "Fn::If on a condition over a Parameter without AllowedValues: any value at deploy"
    return f"{function} of a Parameter without AllowedValues: any value at deploy"


def _run_recording(rule_: Rule, model: TemplateModel) -> list[Check]:
    """The rule's checks on one model, each pass on a resource it read an unresolved string intrinsic of
    turned into "could not resolve" (the intrinsics policy's fail-closed half); a resource it read an
    undecided `Ref`/`Fn::Select`/`Fn::FindInMap`/`Fn::If` of and did not examine gets that finding too."""
    reads: list[UnresolvedRead] = []
    token = record_unresolved_reads(reads)
    try:
        checks = rule_(model)
    finally:
        reset_unresolved_reads(token)
    if not reads:
        return checks
    unknown: dict[tuple[str, str], list[str]] = {}
    undecided: list[tuple[str, str]] = []  # resources a decision was read undecided on (see below)
    for key, keys, function in reads:
        text = f"{_path(keys)} ({_unknown_because(function)})"
        if text not in unknown.setdefault(key, []):
            unknown[key].append(text)
        if function not in STRING_INTRINSICS and key not in undecided:
            undecided.append(key)
    out = [
        Check(c.resource, False, "could not resolve " + "; ".join(unknown[c.resource.key]), c.requirements)
        if c.passed and c.resource.key in unknown
        else c
        for c in checks
    ]
    # A value the policy left undecided (a Parameter without AllowedValues, an Fn::If it could not decide)
    # may be what made the rule skip the resource (a listener's Protocol): skipping is a decision too.
    checked = {c.resource.key for c in checks}
    for key in undecided:
        resource = model.resource(*key)
        if key not in checked and resource is not None:
            out.append(Check(resource, False, "could not resolve " + "; ".join(unknown[key])))
    return out
