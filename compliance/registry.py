"""Applying the acknowledgment registry to a construct tree.

An acknowledgment names one rule ID (with any finding sub-ID) and what the resource
*is*: the construct that made it (a construct path pattern, segments matched with
fnmatch, so `*` never crosses a `/`), optionally narrowed to the rendered resources of
one CloudFormation type under that construct that satisfy a named predicate
(`compliance.predicates.RESOURCE_PREDICATES`), and optionally only in environments
whose configuration satisfies named conditions (`when`, `CONFIG_PREDICATES`). Never a
generated logical ID or an entry number that configuration shifts. It carries a specific
reason, the PCI DSS v4.0.1 requirement it concerns and its governance (owner, approver,
approval date, ticket, review date). It is applied with CDK's native
`Validations.of(construct).acknowledge`, so the plugin's finding is recorded in the
validation report as suppressed, with the reason.

Governance (PCI DSS v4.0.1 12.3.1, 12.4: risk accepted by a named owner, reviewed
at least once every 12 months): every entry names an `owner` and a `review_by`
date no more than 12 months ahead; an expired entry stops the synth, naming it.
Some findings can never be accepted (`NEVER_ACKNOWLEDGEABLE`: a CDE route to the
internet, an unencrypted cardholder-data store, a stopped trail): the registry
refuses them, whatever the reason.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal

from aws_cdk import Acknowledgment as CdkAcknowledgment
from aws_cdk import CfnResource, Stack, Stage, Validations
from constructs import IConstruct

from compliance.predicates import CONFIG_PREDICATES, RESOURCE_PREDICATES
from pci_constructs.governance import PENDING as PENDING  # re-exported for the registry's callers
from pci_constructs.governance import governance_problems, reason_problem
from pci_constructs.justification import justifications_of
from pci_rules.plugin import acknowledgment_id
from pci_rules.rules import RULES

if TYPE_CHECKING:
    from config import EnvironmentConfig

_REQUIREMENT = re.compile(r"^PCI DSS v4\.0\.1 \d{1,2}(\.\d{1,2}){0,3}(, \d{1,2}(\.\d{1,2}){0,3})*$")
# What an entry states when its finding concerns no PCI DSS v4.0.1 requirement (a cfn-lint template-hygiene
# warning, a Lambda concurrency reservation that is capacity planning): said so, rather than citing an unrelated
# requirement (QSA reader r20e, issue 20 item 1). It decides no report statement (evidence.report finds no
# requirement number in it) and stays in the exception register. Environment files keep the numbered form.
NO_REQUIREMENT = "no PCI DSS v4.0.1 requirement"
_RULE = re.compile(
    r"^((AwsSolutions|PCI\.DSS\.321|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[.+\])?|CloudFormation-Validate::[EW]\d{4}"
    r"|PCI4-[A-Z0-9-]+)$"
)
# The only placeholders a rule's finding sub-ID may hold (see Acknowledgment.validation_ids).
_PLACEHOLDERS = re.compile(r"\{(?!account\}|region\}|environment\})[^}]*\}")
PCI4_RULE_IDS = frozenset(r.id for r in RULES)
# Findings no owner may accept: they are fixed, never acknowledged. The project's v4.0.1 rules
# marked `acknowledgeable=False`, and the cdk-nag checks that report the same faults.
NEVER_ACKNOWLEDGEABLE = frozenset(
    {r.id for r in RULES if not r.acknowledgeable}
    | {"AwsSolutions-RDS2", "PCI.DSS.321-RDSStorageEncrypted", "NIST.800.53.R5-RDSStorageEncrypted"}
)
PROJECT_REGISTRY = "compliance/acknowledgments.yaml"
_RESOURCE_TYPE = re.compile(r"^[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+$")


def shared_problems(path: str, reason: str, requirement: str) -> list[str]:
    """What every registry entry (acknowledgment or scanner skip) must get right."""
    found = []
    segments = path.split("/")
    if len(segments) < 2 or all(s == "*" for s in segments[1:]):
        found.append("path must name a construct inside a stack, not a whole stack or app")
    problem = reason_problem(reason)
    if problem is not None:
        found.append(problem)
    if requirement != NO_REQUIREMENT and not _REQUIREMENT.match(requirement):
        found.append(f"requirement must read 'PCI DSS v4.0.1 <n.n.n>' or '{NO_REQUIREMENT}'")
    return found


def path_matches(pattern: str, construct_path: str) -> bool:
    """Segment-wise fnmatch: `*` never crosses a `/`."""
    wanted, path = pattern.split("/"), construct_path.split("/")
    return len(wanted) == len(path) and all(map(fnmatchcase, path, wanted))


def path_within(pattern: str, construct_path: str) -> bool:
    """`construct_path` is the construct `pattern` names or one of its descendants (segment-wise fnmatch)."""
    wanted, path = pattern.split("/"), construct_path.split("/")
    return len(path) >= len(wanted) and all(map(fnmatchcase, path[: len(wanted)], wanted))


@dataclass(frozen=True, kw_only=True)
class Acknowledgment:
    """One accepted finding: which rule, on what resource, why, which requirement, and its governance.

    What it matches: the construct at `path` (and everything under it); with `resource_type`, only
    the rendered resources of that type under `path` for which the named `predicate` holds. `when`
    names configuration conditions (`CONFIG_PREDICATES`): the entry applies only inside the scope
    of an environment where all of them hold, because only there is its reason true. `scope` limits
    an entry to one environment's construct scope (the full path of the App or Stage the
    environment was built in, "" for the App: an environment file's entries apply to every stack
    there, a fork's own included). `source` says where the entry is written, for every message
    about it; `id` names the registry entry it was expanded from, which environments `adopt`.

    Governance (PCI DSS v4.0.1 12.3.1): `owner` accepts the risk, `approver` (never the owner)
    approved it on `approval_date` under `ticket`; "pending" where not known yet. `review_by` is
    the next review, at most 12 months ahead.
    """

    path: str
    rule: str
    reason: str
    requirement: str
    owner: str
    review_by: date
    approver: str = PENDING
    approval_date: date | Literal["pending"] = PENDING
    ticket: str = PENDING
    id: str = ""
    resource_type: str | None = None
    predicate: str | None = None
    when: tuple[str, ...] = ()
    # The construct or the finding exists only with some configuration that no `when` condition
    # names (a detection flag, a second region, the delivery app): such an entry may match or
    # suppress nothing in a given environment. The tests hold every conditional entry to the
    # app where it exists. An environment-specific acceptance belongs in that environment's file.
    conditional: bool = False
    scope: str | None = None
    source: str = PROJECT_REGISTRY
    # Set for a justification a reusable construct carries (pci_constructs.justification): the
    # construct acknowledged the finding itself; the gate records and judges it like any entry.
    carried_by: str | None = None

    def problems(self, today: date | None = None) -> list[str]:
        """Why this entry is not acceptable as written, on `today` (default: the real date)."""
        today = today or date.today()
        found = shared_problems(self.path, self.reason, self.requirement)
        base_rule = self.rule.split("[", 1)[0]
        if not _RULE.match(self.rule) or (base_rule.startswith("PCI4-") and base_rule not in PCI4_RULE_IDS):
            found.append(f"rule {self.rule!r} is not a known pack's rule ID")
        if _PLACEHOLDERS.search(self.rule):
            found.append("a rule may hold only the placeholders {account}, {region} and {environment}")
        if base_rule in NEVER_ACKNOWLEDGEABLE:
            found.append(f"rule {base_rule} can never be acknowledged: fix the finding at the construct")
        found += self._selector_problems()
        found += governance_problems(
            owner=self.owner,
            approver=self.approver,
            approval_date=self.approval_date,
            ticket=self.ticket,
            review_by=self.review_by,
            today=today,
        )
        return found

    def _selector_problems(self) -> list[str]:
        found = []
        if self.resource_type is not None and not _RESOURCE_TYPE.match(self.resource_type):
            found.append(f"resource_type {self.resource_type!r} is not a CloudFormation type (AWS::Service::Type)")
        if self.predicate is not None:
            if self.resource_type is None:
                found.append("a predicate applies to the resources of one resource_type: name it")
            if self.predicate not in RESOURCE_PREDICATES:
                found.append(f"unknown predicate {self.predicate!r}; known: {', '.join(sorted(RESOURCE_PREDICATES))}")
        unknown = [w for w in self.when if w not in CONFIG_PREDICATES]
        if unknown:
            found.append(f"unknown condition(s) {unknown} in when; known: {', '.join(sorted(CONFIG_PREDICATES))}")
        return found

    @property
    def selector(self) -> str:
        """What the entry matches, in words (for messages and the evidence)."""
        text = self.path
        if self.resource_type is not None:
            text = f"{self.resource_type} under {self.path}"
        if self.predicate is not None:
            text += f" where {self.predicate}"
        if self.when:
            text += f" (in environments where {' and '.join(self.when)})"
        return text

    def applies_in(self, config: EnvironmentConfig) -> bool:
        """Whether every `when` condition holds for this environment's configuration."""
        return all(CONFIG_PREDICATES[name](config) for name in self.when)

    @property
    def validation_id(self) -> str:
        """The plugin-namespaced ID (`AwsSolutions::AwsSolutions-VPC3`, `PCI-DSS-v4.0.1::PCI4-...`).

        With a namespaced ID, CDK itself suppresses the finding and records it, with
        this reason, under `suppressedViolations` in validation-report.json. A bare
        ID is filtered inside cdk-nag and leaves no trace in the report.
        """
        if "::" in self.rule.split("[", 1)[0]:
            return self.rule
        if self.rule.startswith("PCI4-"):
            return acknowledgment_id(self.rule)
        return f"{self.rule.split('-', 1)[0]}::{self.rule}"

    @property
    def plugin(self) -> str:
        """The name of the plugin whose finding this entry accepts."""
        return self.validation_id.split("::", 1)[0]

    def matches(self, construct_path: str) -> bool:
        """Whether `construct_path` (relative to its Stage) is a candidate: the construct at `path`,
        or with `resource_type` any construct under it (its type and predicate are checked on
        the construct itself, `matches_resource`)."""
        if self.resource_type is None:
            return path_matches(self.path, construct_path)
        return path_within(self.path, construct_path)

    def matches_resource(self, construct: IConstruct) -> bool:
        """The construct is a rendered resource of `resource_type` satisfying `predicate` (always
        true for an entry without `resource_type`)."""
        if self.resource_type is None:
            return True
        if not isinstance(construct, CfnResource) or construct.cfn_resource_type != self.resource_type:
            return False
        return self.predicate is None or RESOURCE_PREDICATES[self.predicate](construct)

    def validation_ids(self, account: str, regions: Iterable[str], environment: str = "") -> list[str]:
        """`validation_id` with its placeholders filled: `{account}` by the account of the stack the
        construct is in, `{environment}` by that stack's environment name (`environment_of`),
        `{region}` by each region the app deploys to.

        A finding sub-ID that names an ARN carries the account and region; CDK Pipelines' generated
        policies name the tooling account's resources and every stage region's artifact bucket, and
        the landing zone's own bucket names carry the environment (`pcilz-<env>-logs-<account>-*`),
        so one entry holds for every environment and every stage.
        """
        template = self.validation_id.replace("{account}", account).replace("{environment}", environment)
        if "{region}" not in template:
            return [template]
        return [template.replace("{region}", region) for region in sorted(set(regions))]

    def acknowledges(self, acknowledged_as: str | None) -> bool:
        """Whether a finding recorded as acknowledged by `acknowledged_as` is this entry's:
        its `validation_id`, with `{account}` / `{region}` standing for any account or region."""
        if acknowledged_as is None:
            return False
        if "{" not in self.validation_id:
            return acknowledged_as == self.validation_id
        pattern = re.escape(self.validation_id)
        for placeholder in (r"\{account\}", r"\{region\}", r"\{environment\}"):
            pattern = pattern.replace(placeholder, r"[^/:\[\]]+")
        return re.fullmatch(pattern, acknowledged_as) is not None

    def __str__(self) -> str:
        return f"{self.rule} at {self.selector} ({self.source}, owner {self.owner})"

    def evidence(self) -> dict[str, Any]:
        """This entry as gate-report.json records it (dates ISO, tuples as lists)."""
        return {
            "id": self.id,
            "path": self.path,
            "rule": self.rule,
            "resource_type": self.resource_type,
            "predicate": self.predicate,
            "when": list(self.when),
            "reason": self.reason,
            "requirement": self.requirement,
            "owner": self.owner,
            "approver": self.approver,
            "approval_date": _iso(self.approval_date),
            "ticket": self.ticket,
            "review_by": self.review_by.isoformat(),
            "conditional": self.conditional,
            "scope": self.scope,
            "source": self.source,
            "carried_by": self.carried_by,
        }

    @classmethod
    def from_evidence(cls, row: Mapping[str, Any]) -> Acknowledgment:
        """The entry `evidence()` wrote (unknown keys ignored, absent ones defaulted)."""
        return cls(
            id=row.get("id", ""),
            path=row["path"],
            rule=row["rule"],
            resource_type=row.get("resource_type"),
            predicate=row.get("predicate"),
            when=tuple(row.get("when", ())),
            reason=row["reason"],
            requirement=row["requirement"],
            owner=row["owner"],
            approver=row.get("approver", PENDING),
            approval_date=_approval_date(row.get("approval_date", PENDING)),
            ticket=row.get("ticket", PENDING),
            review_by=date.fromisoformat(row["review_by"]),
            conditional=bool(row.get("conditional", False)),
            scope=row.get("scope"),
            source=row.get("source", PROJECT_REGISTRY),
            carried_by=row.get("carried_by"),
        )


def _iso(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else value


def _approval_date(value: str) -> date | Literal["pending"]:
    return PENDING if value == PENDING else date.fromisoformat(value)


class AcknowledgmentError(ValueError):
    """The registry has an unacceptable or stale entry; synth stops before any template."""


def stage_prefixes(scope: IConstruct) -> list[str]:
    """Paths (with a trailing `/`) of the `Stage`s under `scope`: its children and theirs, recursively.

    CDK Pipelines puts each environment in a Stage, so its construct paths gain the
    stage's path in front (`prod/PciLz-prod-Network-us-east-1/...`). Only Stages are
    descended into, so this costs a few jsii calls, not one per construct.
    """
    found = []
    for child in scope.node.children:
        if Stage.is_stage(child):
            found.append(child.node.path + "/")
            found += stage_prefixes(child)
    return found


def environment_of(stack: Stack) -> str:
    """The environment name in a landing-zone stack's ID, `PciLz-<environment>-<Part>-<region>`
    (stacks.landing_zone.stack_name); "" for a stack named otherwise."""
    name = stack.node.id
    if not name.startswith("PciLz-"):
        return ""
    name = name.removeprefix("PciLz-").removesuffix(f"-{stack.region}")
    return name.rsplit("-", 1)[0] if "-" in name else ""


def stack_regions(scope: IConstruct) -> list[str]:
    """Regions of the stacks that are children of `scope` or of its Stages."""
    regions = []
    for child in scope.node.children:
        if isinstance(child, Stack):
            regions.append(child.region)
        elif Stage.is_stage(child):
            regions += stack_regions(child)
    return sorted(set(regions))


def construct_paths(scope: IConstruct) -> list[tuple[IConstruct, str]]:
    """Every construct under `scope` with its path relative to its Stage, read once.

    Registry patterns start with the stack ID (`PciLz-*-Network-*/...`); inside a
    pipeline Stage the path loses the stage's prefix before matching, so one registry
    entry applies to the `cdk deploy` app and to every stage alike.

    Each `.node` / `.path` is a jsii round trip to the Node kernel: reading the
    paths once and matching patterns on the strings keeps the registries'
    cost linear in the tree, not tree x entries (measured: 6 s of a 20 s synth).
    """
    prefixes = stage_prefixes(scope)
    if isinstance(scope, Stage) and scope.node.path:  # a Stage itself (not the App): its own prefix too
        prefixes.append(scope.node.path + "/")
    prefixes.sort(key=len, reverse=True)  # innermost stage first
    return [(c, _within_stage(path, prefixes)) for c in scope.node.find_all() if (path := c.node.path)]


def _within_stage(path: str, prefixes: list[str]) -> str:
    for prefix in prefixes:
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


@dataclass(frozen=True, kw_only=True)
class EnvironmentScope:
    """One environment as the gate sees it: its name, its configuration (for `when`) and the full
    construct path of the App ("") or Stage it was built in (its entries apply to every stack there)."""

    name: str
    path: str
    config: EnvironmentConfig = field(compare=False)

    def holds(self, construct_path: str) -> bool:
        return not self.path or construct_path == self.path or construct_path.startswith(self.path + "/")


def _scopes_of(entry: Acknowledgment, environments: Sequence[EnvironmentScope]) -> list[str] | None:
    """Full-path prefixes the entry applies under ("" is the whole app); None: everywhere."""
    if entry.scope is not None:
        scopes = [entry.scope]
        if entry.when:
            scopes = [e.path for e in environments if e.path == entry.scope and entry.applies_in(e.config)]
        return scopes
    if entry.when:
        return [e.path for e in environments if entry.applies_in(e.config)]
    return None


def _under(path: str, scopes: list[str] | None) -> bool:
    return scopes is None or any(not s or path == s or path.startswith(s + "/") for s in scopes)


def apply_acknowledgments(
    app: Stage,
    entries: Iterable[Acknowledgment],
    constructs: list[tuple[IConstruct, str]] | None = None,
    *,
    environments: Sequence[EnvironmentScope] = (),
    today: date | None = None,
) -> dict[Acknowledgment, list[str]]:
    """Acknowledge each entry on every construct it matches; return the matched full paths.

    An entry with `when` applies only inside the scope of the `environments` whose configuration
    satisfies it (none given: nowhere); where it applies nowhere it matches nothing and is not stale.
    Raises `AcknowledgmentError` when an entry is malformed, expired on `today` (default: the real
    date), never acknowledgeable, or matches nothing where it applies: a stale acknowledgment is a
    silent hole waiting for a construct to be renamed into it. The message says what was searched.
    """
    entries = list(entries)
    bad = [f"{e}: {p}" for e in entries for p in e.problems(today)]
    if bad:
        raise AcknowledgmentError("invalid acknowledgments:\n  " + "\n  ".join(bad))
    if constructs is None:
        constructs = construct_paths(app)
    matched: dict[Acknowledgment, list[str]] = {}
    stale: list[str] = []
    regions: list[str] | None = None
    for entry in entries:
        scopes = _scopes_of(entry, environments)
        if scopes == []:  # its conditions hold in no environment of this app: it does not apply here
            matched[entry] = []
            continue
        candidates = [(c, path) for c, path in constructs if entry.matches(path)]
        in_scope = [(c, full) for c, _ in candidates if _under(full := c.node.path, scopes)]
        hits = [(c, full) for c, full in in_scope if entry.matches_resource(c)]
        for construct, _ in [] if entry.carried_by else hits:
            ids = [entry.validation_id]
            if "{" in entry.rule:  # placeholders: a jsii round trip for these few hits only
                regions = stack_regions(app) if regions is None else regions
                stack = Stack.of(construct)
                ids = entry.validation_ids(stack.account, regions, environment_of(stack))
            for validation_id in ids:
                Validations.of(construct).acknowledge(
                    CdkAcknowledgment(id=validation_id, reason=f"{entry.reason} [{entry.requirement}]")
                )
        matched[entry] = [full for _, full in hits]  # full paths: stage included
        if not hits and not entry.conditional:
            stale.append(f"{entry}: {_searched(entry, constructs, candidates, in_scope, scopes)}")
    if stale:
        raise AcknowledgmentError(
            "stale acknowledgments (match nothing where they apply; delete the entry or correct what it"
            " selects):\n  " + "\n  ".join(stale)
        )
    return matched


def _searched(
    entry: Acknowledgment,
    constructs: list[tuple[IConstruct, str]],
    candidates: list[tuple[IConstruct, str]],
    in_scope: list[tuple[IConstruct, str]],
    scopes: list[str] | None,
) -> str:
    """Why nothing matched: what was searched, and where the search narrowed to nothing."""
    where = "the whole app" if scopes is None or "" in scopes else "the scope " + ", ".join(map(repr, scopes))
    kind = "construct path pattern" if entry.resource_type is None else "constructs under"
    total = len(constructs)
    text = f"no construct matches; searched {total} constructs in {where} for the {kind} {entry.path!r}"
    text += f" (paths are relative to their Stage): {len(candidates)} matched the path"
    if scopes is not None:
        text += f", {len(in_scope)} of them inside the scope"
    if entry.resource_type is not None:
        typed = [c for c, _ in in_scope if isinstance(c, CfnResource) and c.cfn_resource_type == entry.resource_type]
        text += f", {len(typed)} of them {entry.resource_type}"
        if entry.predicate is not None:
            text += f", none satisfying {entry.predicate}"
    if not candidates:  # a misspelt path: the nearest existing ones (patterns compared as written)
        near = difflib.get_close_matches(entry.path, sorted({path for _, path in constructs}), n=3, cutoff=0.6)
        if near:
            text += "; did you mean " + " or ".join(map(repr, near)) + "?"
    return text


@dataclass(frozen=True, kw_only=True)
class Governance:
    """Who accepts a risk, who approved it (never the owner), when, under which record, next review."""

    owner: str
    approver: str = PENDING
    approval_date: date | Literal["pending"] = PENDING
    ticket: str = PENDING
    review_by: date

    def problems(self, today: date | None = None) -> list[str]:
        return governance_problems(
            owner=self.owner,
            approver=self.approver,
            approval_date=self.approval_date,
            ticket=self.ticket,
            review_by=self.review_by,
            today=today or date.today(),
        )

    def evidence(self) -> dict[str, str]:
        return {
            "owner": self.owner,
            "approver": self.approver,
            "approval_date": _iso(self.approval_date),
            "ticket": self.ticket,
            "review_by": self.review_by.isoformat(),
        }

    @classmethod
    def from_evidence(cls, row: Mapping[str, Any]) -> Governance:
        return cls(
            owner=row["owner"],
            approver=row.get("approver", PENDING),
            approval_date=_approval_date(row.get("approval_date", PENDING)),
            ticket=row.get("ticket", PENDING),
            review_by=date.fromisoformat(row["review_by"]),
        )

    @classmethod
    def of(cls, entry: Acknowledgment) -> Governance:
        return cls(
            owner=entry.owner,
            approver=entry.approver,
            approval_date=entry.approval_date,
            ticket=entry.ticket,
            review_by=entry.review_by,
        )


@dataclass(frozen=True, kw_only=True)
class Adoption:
    """An environment taking a project registry entry under its own risk owner.

    It changes who answers for the risk in that environment's evidence, never what is matched or
    whether the gate passes; `problems` (an expired review, the approver being the owner) are
    reported in the evidence for the adopting owner to fix.
    """

    environment: str
    scope: str  # full construct path of the environment's App ("") or Stage
    entry: str  # the registry entry's id
    governance: Governance
    problems: tuple[str, ...] = ()

    def evidence(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "scope": self.scope,
            "entry": self.entry,
            **self.governance.evidence(),
            "problems": list(self.problems),
        }

    @classmethod
    def from_evidence(cls, row: Mapping[str, Any]) -> Adoption:
        return cls(
            environment=row["environment"],
            scope=row["scope"],
            entry=row["entry"],
            governance=Governance.from_evidence(row),
            problems=tuple(row.get("problems", ())),
        )


def justification_id(construct_type: str, rule: str) -> str:
    """The id an environment file adopts a construct's justifications by: `construct-<type>-<rule>`,
    lower case, every other character a hyphen (`construct-segmentedvpc-awssolutions-vpc3`). It names
    what the justification is (the construct class and the rule), so it covers that construct's
    justification of that rule on every resource it makes, in every stack and stage."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{construct_type}-{rule}".lower()).strip("-")
    return f"construct-{slug}"[:81].rstrip("-")


def construct_justifications(
    app: Stage, constructs: list[tuple[IConstruct, str]] | None = None
) -> tuple[Acknowledgment, ...]:
    """The justifications reusable constructs under `app` carry, as registry entries (one per rule
    and resource; the same construct in several Stages gives one entry, applied in each).

    A justification names the exact resource its construct made, so its path is that resource's
    path (relative to its Stage), never a pattern.
    """
    prefixes = stage_prefixes(app)
    prefixes.sort(key=len, reverse=True)
    found: dict[Acknowledgment, None] = {}
    for construct, _ in construct_paths(app) if constructs is None else constructs:
        for carried in justifications_of(construct):
            found[
                Acknowledgment(
                    path=_within_stage(carried.target.node.path, prefixes),
                    rule=carried.rule,
                    reason=carried.reason,
                    requirement=carried.requirement,
                    owner=carried.owner,
                    approver=carried.approver,
                    ticket=carried.ticket,
                    review_by=carried.review_by,
                    source=f"construct {carried.construct_type} ({carried.package})",
                    carried_by=carried.construct_type,
                    id=justification_id(carried.construct_type, carried.rule),
                )
            ] = None
    return tuple(found)
