"""Applying the acknowledgment registry to a construct tree.

An acknowledgment names a construct path pattern (segments matched with
fnmatch, so `*` never crosses a `/`), one rule ID with any finding sub-ID, a
specific reason and the PCI DSS v4.0.1 requirement it concerns. It is applied
with CDK's native `Validations.of(construct).acknowledge`, so the plugin's
finding is recorded in the validation report as suppressed, with the reason.

Governance (PCI DSS v4.0.1 12.3.1, 12.4: risk accepted by a named owner, reviewed
at least once every 12 months): every entry names an `owner` and a `review_by`
date no more than 12 months ahead; an expired entry stops the synth, naming it.
Some findings can never be accepted (`NEVER_ACKNOWLEDGEABLE`: a CDE route to the
internet, an unencrypted cardholder-data store, a stopped trail): the registry
refuses them, whatever the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase

from aws_cdk import Acknowledgment as CdkAcknowledgment
from aws_cdk import Stack, Stage, Validations
from constructs import IConstruct

from pci_rules.plugin import acknowledgment_id
from pci_rules.rules import RULES

_REQUIREMENT = re.compile(r"^PCI DSS v4\.0\.1 \d{1,2}(\.\d{1,2}){0,3}(, \d{1,2}(\.\d{1,2}){0,3})*$")
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
MAX_REVIEW_MONTHS = 12
PROJECT_REGISTRY = "compliance/acknowledgments.py"
GENERIC_REASONS = frozenset(
    {"n/a", "na", "not applicable", "false positive", "suppressed", "ok", "todo", "tbd", "ignore", "wip"}
)
MIN_REASON_LENGTH = 40


def shared_problems(path: str, reason: str, requirement: str) -> list[str]:
    """What every registry entry (acknowledgment or scanner skip) must get right."""
    found = []
    segments = path.split("/")
    if len(segments) < 2 or all(s == "*" for s in segments[1:]):
        found.append("path must name a construct inside a stack, not a whole stack or app")
    reason = reason.strip()
    if reason.lower().rstrip(".") in GENERIC_REASONS or len(reason) < MIN_REASON_LENGTH:
        found.append(f"reason must be specific (>= {MIN_REASON_LENGTH} characters, not generic)")
    if not _REQUIREMENT.match(requirement):
        found.append("requirement must read 'PCI DSS v4.0.1 <n.n.n>'")
    return found


def months_ahead(today: date, months: int) -> date:
    """`today` plus whole calendar months (the 29th-31st fall back to the month's last day)."""
    year, month = divmod(today.month - 1 + months, 12)
    year, month = today.year + year, month + 1
    for day in range(today.day, 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, min(today.day, 28))


def path_matches(pattern: str, construct_path: str) -> bool:
    """Segment-wise fnmatch: `*` never crosses a `/`."""
    wanted, path = pattern.split("/"), construct_path.split("/")
    return len(wanted) == len(path) and all(map(fnmatchcase, path, wanted))


@dataclass(frozen=True, kw_only=True)
class Acknowledgment:
    """One accepted finding: where, which rule, why, which requirement, who owns it, when it is reviewed.

    `stacks` limits an entry to those stacks (an environment file's entries apply only to that
    environment's stacks); `source` says where the entry is written, for every message about it.
    """

    path: str
    rule: str
    reason: str
    requirement: str
    owner: str
    review_by: date
    # The construct or the finding exists only with some configuration (a feature flag, a second
    # region, a configured CIDR): such an entry may match or suppress nothing in a given
    # environment. The tests hold every conditional entry to the default app, where all exist.
    # An environment-specific acceptance belongs in that environment's file, not here.
    conditional: bool = False
    stacks: frozenset[str] | None = None
    source: str = PROJECT_REGISTRY

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
        if len(self.owner.strip()) < 3:
            found.append("owner must name the accountable person or team")
        if self.review_by < today:
            found.append(
                f"expired: review_by {self.review_by.isoformat()} has passed; the owner reviews the risk"
                " (PCI DSS v4.0.1 12.3.1) and sets a new date, or the finding is fixed and this entry deleted"
            )
        elif self.review_by > months_ahead(today, MAX_REVIEW_MONTHS):
            found.append(
                f"review_by {self.review_by.isoformat()} is more than {MAX_REVIEW_MONTHS} months ahead"
                f" (latest {months_ahead(today, MAX_REVIEW_MONTHS).isoformat()})"
            )
        return found

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
        if self.stacks is not None and construct_path.split("/", 1)[0] not in self.stacks:
            return False
        return path_matches(self.path, construct_path)

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
        return f"{self.rule} at {self.path} ({self.source}, owner {self.owner})"


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


def apply_acknowledgments(
    app: Stage,
    entries: Iterable[Acknowledgment],
    constructs: list[tuple[IConstruct, str]] | None = None,
    *,
    today: date | None = None,
) -> dict[Acknowledgment, list[str]]:
    """Acknowledge each entry on every construct it matches; return the matched paths.

    Raises `AcknowledgmentError` when an entry is malformed, expired on `today` (default:
    the real date), never acknowledgeable, or matches nothing: a stale acknowledgment is
    a silent hole waiting for a construct to be renamed into it.
    """
    entries = list(entries)
    bad = [f"{e}: {p}" for e in entries for p in e.problems(today)]
    if bad:
        raise AcknowledgmentError("invalid acknowledgments:\n  " + "\n  ".join(bad))
    if constructs is None:
        constructs = construct_paths(app)
    matched: dict[Acknowledgment, list[str]] = {}
    regions: list[str] | None = None
    for entry in entries:
        hits = [(c, path) for c, path in constructs if entry.matches(path)]
        for construct, _ in hits:
            ids = [entry.validation_id]
            if "{" in entry.rule:  # placeholders: a jsii round trip for these few hits only
                regions = stack_regions(app) if regions is None else regions
                stack = Stack.of(construct)
                ids = entry.validation_ids(stack.account, regions, environment_of(stack))
            for validation_id in ids:
                Validations.of(construct).acknowledge(
                    CdkAcknowledgment(id=validation_id, reason=f"{entry.reason} [{entry.requirement}]")
                )
        matched[entry] = [construct.node.path for construct, _ in hits]  # full paths: stage included
    stale = [
        f"{e}: no construct matches {e.path}; delete this entry"
        for e, paths in matched.items()
        if not paths and not e.conditional
    ]
    if stale:
        raise AcknowledgmentError("stale acknowledgments (match no construct):\n  " + "\n  ".join(stale))
    return matched
