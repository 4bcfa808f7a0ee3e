"""Applying the acknowledgment registry to a construct tree.

An acknowledgment names a construct path pattern (segments matched with
fnmatch, so `*` never crosses a `/`), one rule ID with any finding sub-ID, a
specific reason and the PCI DSS v4.0.1 requirement it concerns. It is applied
with CDK's native `Validations.of(construct).acknowledge`, so cdk-nag records
it in the validation report next to the finding it suppresses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from aws_cdk import Acknowledgment as CdkAcknowledgment
from aws_cdk import Stack, Stage, Validations
from constructs import IConstruct

_REQUIREMENT = re.compile(r"^PCI DSS v4\.0\.1 \d{1,2}(\.\d{1,2}){0,3}(, \d{1,2}(\.\d{1,2}){0,3})*$")
_RULE = re.compile(
    r"^((AwsSolutions|PCI\.DSS\.321|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[.+\])?|CloudFormation-Validate::[EW]\d{4})$"
)
# The only placeholders a rule's finding sub-ID may hold (see Acknowledgment.validation_ids).
_PLACEHOLDERS = re.compile(r"\{(?!account\}|region\})[^}]*\}")
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


def path_matches(pattern: str, construct_path: str) -> bool:
    """Segment-wise fnmatch: `*` never crosses a `/`."""
    wanted, path = pattern.split("/"), construct_path.split("/")
    return len(wanted) == len(path) and all(map(fnmatchcase, path, wanted))


@dataclass(frozen=True)
class Acknowledgment:
    path: str
    rule: str
    reason: str
    requirement: str
    # The construct exists only with some configuration (a feature flag, a second region). Such
    # an entry may match nothing at synth time; the tests still hold it to the default app.
    conditional: bool = False

    def problems(self) -> list[str]:
        """Why this entry is not acceptable as written (empty when it is)."""
        found = shared_problems(self.path, self.reason, self.requirement)
        if not _RULE.match(self.rule):
            found.append(f"rule {self.rule!r} is not a known pack's rule ID")
        if _PLACEHOLDERS.search(self.rule):
            found.append("a rule may hold only the placeholders {account} and {region}")
        return found

    @property
    def validation_id(self) -> str:
        """The plugin-namespaced ID (`AwsSolutions::AwsSolutions-VPC3`).

        With a namespaced ID, CDK itself suppresses the finding and records it, with
        this reason, under `suppressedViolations` in validation-report.json. A bare
        ID is filtered inside cdk-nag and leaves no trace in the report.
        """
        if "::" in self.rule.split("[", 1)[0]:
            return self.rule
        return f"{self.rule.split('-', 1)[0]}::{self.rule}"

    def matches(self, construct_path: str) -> bool:
        return path_matches(self.path, construct_path)

    def validation_ids(self, account: str, regions: Iterable[str]) -> list[str]:
        """`validation_id` with its placeholders filled: `{account}` by the account of the stack the
        construct is in, `{region}` by each region the app deploys to.

        A finding sub-ID that names an ARN carries the account and region; CDK Pipelines' generated
        policies name the tooling account's resources and every stage region's artifact bucket.
        """
        template = self.validation_id.replace("{account}", account)
        if "{region}" not in template:
            return [template]
        return [template.replace("{region}", region) for region in sorted(set(regions))]


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
) -> dict[Acknowledgment, list[str]]:
    """Acknowledge each entry on every construct it matches; return the matched paths.

    Raises when an entry is malformed or matches nothing: a stale acknowledgment
    is a silent hole waiting for a construct to be renamed into it.
    """
    entries = list(entries)
    bad = [f"{e.path} {e.rule}: {p}" for e in entries for p in e.problems()]
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
                ids = entry.validation_ids(Stack.of(construct).account, regions)
            for validation_id in ids:
                Validations.of(construct).acknowledge(
                    CdkAcknowledgment(id=validation_id, reason=f"{entry.reason} [{entry.requirement}]")
                )
        matched[entry] = [construct.node.path for construct, _ in hits]  # full paths: stage included
    stale = [f"{e.path} {e.rule}" for e, paths in matched.items() if not paths and not e.conditional]
    if stale:
        raise AcknowledgmentError("stale acknowledgments (match no construct):\n  " + "\n  ".join(stale))
    return matched
