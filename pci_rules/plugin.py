"""The PCI DSS v4.0.1 rules as a CDK policy-validation plugin.

Register it like cdk-nag 3: `Validations.of(app).add_plugins(PciDssV4Plugin())`. At synthesis
CDK hands the plugin the path of every template it wrote (`IPolicyValidationContextBeta1.template_paths`);
the plugin parses them once into a `TemplateModel`, runs every rule, and returns each failure
as a `PolicyViolationBeta1` naming the resource by logical ID and template path. CDK maps that
pair to the construct path, applies `Validations.of(construct).acknowledge(...)` acknowledgments
(ID `PCI-DSS-v4.0.1::<rule id>`), writes `validation-report.json`, and fails the synth when an
unacknowledged violation of severity `error` is left. A never-acknowledgeable rule's violation has severity
`fatal`, which CDK does not let `acknowledge(...)` suppress: the synth fails whatever acknowledgment names it, and
the violation names the acknowledgment it refuses (read from the stack metadata in `manifest.json`).

An app may also plug in its own acknowledgment source (`acknowledgments=`): a callable that gets each
`Finding` (rule, resource with its construct path, detail) and returns the reason it is accepted, or
None. Accepted findings are left out of the violations CDK sees and kept in `acknowledged` with their
reason; a rule marked never-acknowledgeable ignores the source. The pack knows no governance fields:
an app that has owners, approvers and review dates keeps them in its source.

After `validate()`, `model` and `results` stay on the instance for whoever writes the evidence, and the same
results are written to `pci-dss-v4-results.json` in the cloud assembly's root directory (`RESULTS_FILE`; the
`results_file` argument renames it, None writes none), which outlives the `cdk synth` subprocess.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    IPolicyValidationContextBeta1,
    IPolicyValidationPluginBeta1,
    PolicyValidationPluginReportBeta1,
    PolicyViolatingResourceBeta1,
    PolicyViolationBeta1,
)

from pci_rules import __version__
from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, Rule, RuleResult, evaluate
from pci_rules.rules import RULES

PLUGIN_NAME = "PCI-DSS-v4.0.1"
RULE_SET_VERSION = __version__


@dataclass(frozen=True)
class Finding:
    """One failed check as an acknowledgment source sees it: the rule, the resource (`resource.path` is
    its construct path, `resource.type` its CloudFormation type, `resource.properties` what it renders)
    and what was wrong."""

    rule: Rule
    resource: Resource
    detail: str


# Returns the reason a finding is accepted, or None.
AcknowledgmentSource = Callable[[Finding], str | None]


# How many failing resources' details the heading names before "and N more" (the report names them all).
HEADING_DETAILS = 5


def violation_heading(rule_: Rule, failures: Iterable[Check]) -> str:
    """The description CDK prints as a violation's heading: the rule ID, its one line and requirements, then
    what was wrong on each failing resource given (`logical id: detail`, the first `HEADING_DETAILS`). The
    plugin passes one resource per violation, so a heading names its own resource's problem only."""
    base = f"{rule_.id}: {rule_.description} ({rule_.citation()})"
    details = list(dict.fromkeys(f"{c.resource.logical_id}: {c.detail}" for c in failures if c.detail))
    if not details:
        return base
    shown = "; ".join(details[:HEADING_DETAILS])
    more = len(details) - HEADING_DETAILS
    return f"{base}. {shown}" + (f"; and {more} more" if more > 0 else "")


def acknowledgment_id(rule_id: str) -> str:
    """The ID CDK matches an acknowledgment of this plugin's rule against."""
    return f"{PLUGIN_NAME}::{rule_id}"


# CDK's metadata type of `Validations.of(construct).acknowledge(...)` (`Validations.ACKNOWLEDGED_RULES_METADATA_KEY`).
ACKNOWLEDGED_RULES_METADATA = "aws:cdk:acknowledged-rules"
# The severity CDK never suppresses: aws-cdk-lib 2.275.0 `isSuppressibleViolation` (core/lib/validation/private/
# report.js) leaves a violation of severity "fatal" in place whatever `acknowledge(...)` says, and its console
# report then prints "Rule <id>" instead of "Acknowledge with '<id>'". A never-acknowledgeable rule reports so.
NEVER_ACKNOWLEDGEABLE_SEVERITY = "fatal"


def cdk_acknowledgments(template_paths: Iterable[str | Path]) -> dict[str, dict[str, str]]:
    """`{rule id: {construct path: reason}}` of this pack's rules from CDK's own acknowledgments.

    CDK writes every construct's metadata, `aws:cdk:acknowledged-rules` entries included, into its stack's
    artifact beside the templates (aws-cdk-lib `collectStackMetadata`: the manifest's `metadata`, or since 2.275
    the `<stack>.metadata.json` its `additionalMetadataFile` names) before it runs the plugins, so the plugin
    sees an acknowledgment made on a construct in a stack. One made on the App or a Stage (above every stack)
    is in no stack's metadata: `validation-report.json` records it when CDK applies it."""
    found: dict[str, dict[str, str]] = {}
    prefix = f"{PLUGIN_NAME}::"
    for directory in sorted({Path(p).parent for p in template_paths}):
        try:
            manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for artifact in (manifest.get("artifacts") or {}).values():
            metadata = dict((artifact or {}).get("metadata") or {})
            extra = (artifact or {}).get("additionalMetadataFile")  # aws-cdk-lib 2.275: `<stack>.metadata.json`
            if isinstance(extra, str):
                with contextlib.suppress(OSError, ValueError):
                    metadata.update(json.loads((directory / extra).read_text(encoding="utf-8")))
            for path, entries in metadata.items():
                for entry in entries or []:
                    if not isinstance(entry, dict) or entry.get("type") != ACKNOWLEDGED_RULES_METADATA:
                        continue
                    for ack_id, reason in (entry.get("data") or {}).items():
                        if isinstance(ack_id, str) and ack_id.startswith(prefix):
                            found.setdefault(ack_id[len(prefix) :], {})[path.lstrip("/")] = str(reason)
    return found


# The machine-readable results `validate()` writes into the cloud assembly's root directory (beside
# validation-report.json): `cdk synth` runs the app in a subprocess, so `plugin.results` and the accepted findings
# are gone when it returns; this file keeps them.
RESULTS_FILE = "pci-dss-v4-results.json"
PACKAGE_NAME = "pci-dss-v4-cdk-rules"


def assembly_root(template_paths: Iterable[str | Path]) -> Path | None:
    """The cloud assembly's root directory: from the templates' directories, up through every directory that
    holds a `manifest.json` (a Stage's nested assembly is a subdirectory of its parent's). None without one."""
    roots = set()
    for directory in {Path(p).resolve().parent for p in template_paths}:
        if not (directory / "manifest.json").is_file():
            continue
        while (directory.parent / "manifest.json").is_file() and directory.parent != directory:
            directory = directory.parent
        roots.add(directory)
    return min(roots, key=lambda d: (len(d.parts), str(d))) if roots else None


def _status(result: RuleResult) -> str:
    if result.failures:
        return "failed"
    if result.examined:
        return "met"
    return "absence confirmed" if result.rule.absence else "not evidenced"


def acknowledged_at(path: str, acknowledgments: Mapping[str, str]) -> str | None:
    """The construct path of the closest acknowledgment at or above `path` (CDK's `findClosestAck`), or None."""
    here = path
    while True:
        if here in acknowledgments:
            return here
        if "/" not in here:
            return None
        here = here.rsplit("/", 1)[0]


@jsii.implements(IPolicyValidationPluginBeta1)
class PciDssV4Plugin:
    """CDK policy-validation plugin running the PCI DSS v4.0.1 rules on the rendered templates.

    `rules` defaults to every rule of `pci_rules.rules`. After `validate()`:
    `model` is the parsed `TemplateModel`, `results` the `RuleResult` of each rule
    (passes and failures), in rule order, `elapsed_s` the seconds validate() took
    (parsing, every rule, building the report) and `cpu_s` the CPU seconds it used.
    """

    def __init__(
        self,
        rules: Iterable[Rule] | None = None,
        *,
        acknowledgments: AcknowledgmentSource | None = None,
        results_file: str | None = RESULTS_FILE,
    ) -> None:
        self._rules: tuple[Rule, ...] = RULES if rules is None else tuple(rules)
        self._source = acknowledgments
        self._results_name = results_file
        self.results_path: Path | None = None
        self.model: TemplateModel | None = None
        self.results: list[RuleResult] = []
        self.acknowledged: list[tuple[Finding, str]] = []
        self.cdk_acknowledged: dict[str, dict[str, str]] = {}
        self.elapsed_s: float | None = None
        self.cpu_s: float | None = None

    @property
    def name(self) -> str:
        return PLUGIN_NAME

    @property
    def version(self) -> str:
        return RULE_SET_VERSION

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self._rules]

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    def validate(self, context: IPolicyValidationContextBeta1) -> PolicyValidationPluginReportBeta1:
        start, cpu = time.perf_counter(), time.process_time()
        self.model = TemplateModel.from_template_paths(context.template_paths)
        self.results = evaluate(self.model, self._rules)
        self.acknowledged = []
        self.cdk_acknowledged = cdk_acknowledgments(context.template_paths)
        violations = [v for result in self.results for v in self._violations(result)]
        report = PolicyValidationPluginReportBeta1(
            success=not violations, violations=violations, plugin_version=RULE_SET_VERSION
        )
        self.results_path = None
        outdir = assembly_root(context.template_paths)
        if self._results_name and outdir is not None:
            self.results_path = outdir / self._results_name
            self.results_path.write_bytes(self.results_json())
        self.elapsed_s = time.perf_counter() - start
        self.cpu_s = time.process_time() - cpu
        return report

    def results_document(self) -> dict[str, Any]:
        """What `validate()` found, as the results file holds it (see `results_json`)."""
        accepted = {(f.rule.id, f.resource.key): reason for f, reason in self.acknowledged}
        rules, findings, acknowledged = [], [], []
        for result in self.results:
            rule_ = result.rule
            acks = self.cdk_acknowledged.get(rule_.id, {})
            open_, accepted_here = 0, 0
            for check in result.failures:
                resource = check.resource
                source_reason = accepted.get((rule_.id, resource.key))
                at = acknowledged_at(resource.path, acks)
                if source_reason is not None:
                    status, how = "accepted", {"reason": source_reason, "source": "acknowledgment source"}
                elif at is not None and rule_.acknowledgeable:
                    status = "accepted"
                    how = {"reason": acks[at], "source": f"CDK acknowledge({acknowledgment_id(rule_.id)}) at {at}"}
                else:
                    status, how = "open", {}
                    if at is not None:
                        status = "open: acknowledgment refused (never acknowledgeable)"
                open_ += status != "accepted"
                accepted_here += status == "accepted"
                entry = {
                    "rule": rule_.id,
                    "stack": resource.stack,
                    "logicalId": resource.logical_id,
                    "path": resource.path,
                    "type": resource.type,
                    "detail": check.detail,
                    "status": status,
                }
                findings.append(entry)
                if how:
                    acknowledged.append({"rule": rule_.id, "path": resource.path, **how})
            rules.append(
                {
                    "id": rule_.id,
                    "requirements": list(rule_.requirements),
                    "related": list(rule_.related),
                    "acknowledgeable": rule_.acknowledgeable,
                    "examined": result.examined,
                    "status": _status(result),
                    "evidence": result.evidence,
                    "open": open_,
                    "accepted": accepted_here,
                }
            )
        return {
            "pack": PACKAGE_NAME,
            "plugin": PLUGIN_NAME,
            "version": RULE_SET_VERSION,
            "stacks": sorted(self.model.stacks) if self.model is not None else [],
            "rules": rules,
            "findings": findings,
            "acknowledged": acknowledged,
        }

    def results_json(self) -> bytes:
        """The results file's bytes: the same for the same templates and acknowledgments (no time, no absolute
        path, keys and lists in a fixed order)."""
        return (json.dumps(self.results_document(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def _accepted(self, rule_: Rule, check: Check) -> bool:
        if self._source is None or not rule_.acknowledgeable:
            return False
        finding = Finding(rule=rule_, resource=check.resource, detail=check.detail)
        reason = self._source(finding)
        if reason:
            self.acknowledged.append((finding, reason))
        return bool(reason)

    def _violations(self, result: RuleResult) -> list[PolicyViolationBeta1]:
        """One violation per failing resource the source did not accept (QSA reader r21d, LOW): its description
        names that resource's problem only, never another's (one CDK then acknowledges included); its location
        (validation-report.json's `propertyPaths`) is the resource's JSON pointer in its template."""
        failures = [c for c in result.failures if not self._accepted(result.rule, c)]
        assert self.model is not None
        rule_ = result.rule
        out = []
        for check in failures:
            template_path = self.model.stack_of(check.resource).template_path
            if template_path is None:  # only a model built from dicts has none; validate() reads files
                raise ValueError(f"no template file known for stack {check.resource.stack}")
            description = violation_heading(rule_, [check])
            severity = "error"
            if not rule_.acknowledgeable:
                severity = NEVER_ACKNOWLEDGEABLE_SEVERITY
                description += ". Cannot be acknowledged: fix it"
                at = acknowledged_at(check.resource.path, self.cdk_acknowledged.get(rule_.id, {}))
                if at is not None:
                    description += f" (the acknowledgment at {at} is refused)"
            out.append(
                PolicyViolationBeta1(
                    rule_name=rule_.id,
                    description=description,
                    fix=rule_.fix,
                    severity=severity,
                    violating_resources=[
                        PolicyViolatingResourceBeta1(
                            resource_logical_id=check.resource.logical_id,
                            template_path=template_path,
                            locations=[f"/Resources/{check.resource.logical_id}"],
                        )
                    ],
                    rule_metadata={
                        "requirements": ", ".join(rule_.requirements),
                        "related": ", ".join(rule_.related),
                        "acknowledgeable": "yes" if rule_.acknowledgeable else "no: fix it",
                    },
                )
            )
        return out
