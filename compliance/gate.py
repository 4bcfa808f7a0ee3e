"""The synth-time compliance gate: cdk-nag packs on the App, fail closed.

cdk-nag 3 is a CDK policy-validation plugin (`Validations.of(app).add_plugins`),
so its findings land in `<outdir>/validation-report.json`, not in stack
annotations. The gate reads that report after synthesis: any unacknowledged
finding, error or warning, of any plugin fails the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations, cx_api
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, PCIDSS321Checks

from compliance.acknowledgments import ACKNOWLEDGMENTS
from compliance.checkov_skips import CHECKOV_SKIPS, CheckovSkip, apply_checkov_skips
from compliance.registry import Acknowledgment, apply_acknowledgments, construct_paths

NAG_PACKS = (AwsSolutionsChecks, PCIDSS321Checks, NIST80053R5Checks)
REPORT_FILE = "validation-report.json"


@dataclass(frozen=True)
class Finding:
    plugin: str
    rule: str
    severity: str
    path: str
    description: str
    acknowledged_as: str | None = None

    def __str__(self) -> str:
        return f"{self.severity.upper()} {self.rule} at {self.path}: {self.description}"


@dataclass(frozen=True)
class GateReport:
    plugins: tuple[str, ...]
    findings: tuple[Finding, ...]
    acknowledged: tuple[Finding, ...]

    @property
    def passed(self) -> bool:
        return not self.findings


EVIDENCE_DIR = "compliance"
EVIDENCE_FILE = "gate-report.json"


@dataclass(frozen=True)
class Gate:
    """What was registered on an App: the packs and where each acknowledgment applied."""

    packs: tuple[str, ...]
    acknowledged_paths: dict[Acknowledgment, list[str]]
    checkov_skipped_paths: dict[CheckovSkip, list[str]] = field(default_factory=dict)


def register_gates(
    app: App,
    acknowledgments: Iterable[Acknowledgment] = ACKNOWLEDGMENTS,
    checkov_skips: Iterable[CheckovSkip] | None = None,
) -> Gate:
    """Apply the acknowledgment and checkov-skip registries, then register every pack.

    Call after the stacks exist. `checkov_skips` defaults to the project's registry when
    the acknowledgments are the project's, and to none when a purpose-built app passes its own.
    """
    constructs = construct_paths(app)  # one read of the tree for both registries
    matched = apply_acknowledgments(app, acknowledgments, constructs)
    if checkov_skips is None:
        checkov_skips = CHECKOV_SKIPS if acknowledgments is ACKNOWLEDGMENTS else ()
    skipped = apply_checkov_skips(app, checkov_skips, constructs)
    packs = [pack(app) for pack in NAG_PACKS]
    Validations.of(app).add_plugins(*packs)
    return Gate(packs=tuple(p.read_pack_name for p in packs), acknowledged_paths=matched, checkov_skipped_paths=skipped)


def _findings(violations: list[dict[str, Any]], plugin: str) -> list[Finding]:
    return [
        Finding(
            plugin=plugin,
            rule=v["ruleName"],
            severity=v.get("severity", "error"),
            path=construct["constructPath"],
            description=v.get("description", "").split(" - (Control IDs")[0],
            acknowledged_as=v.get("acknowledgedId"),
        )
        for v in violations
        for construct in v.get("violatingConstructs", [])
    ]


def read_report(outdir: str | Path) -> GateReport:
    data = json.loads((Path(outdir) / REPORT_FILE).read_text(encoding="utf-8"))
    plugins, findings, acknowledged = [], [], []
    for plugin in data.get("pluginReports", []):
        name = plugin["pluginName"]
        plugins.append(name)
        findings += _findings(plugin.get("violations", []), name)
        acknowledged += _findings(plugin.get("suppressedViolations", []), name)
    return GateReport(tuple(plugins), tuple(findings), tuple(acknowledged))


def write_evidence(outdir: str | Path, gate: Gate, report: GateReport) -> Path:
    """`<outdir>/compliance/gate-report.json`: packs, open findings, every acknowledgment.

    CDK leaves passing plugins out of validation-report.json, so on a clean run this
    file is where an assessor sees which packs ran and what was acknowledged, why.
    """
    evidence = {
        "packs": list(gate.packs),
        "passed": report.passed,
        "unacknowledged": [asdict(f) for f in report.findings],
        "acknowledgments": [{**asdict(entry), "constructs": paths} for entry, paths in gate.acknowledged_paths.items()],
        "checkov_skips": [{**asdict(entry), "resources": paths} for entry, paths in gate.checkov_skipped_paths.items()],
    }
    target = Path(outdir) / EVIDENCE_DIR / EVIDENCE_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(evidence, indent=2) + "\n", encoding="utf-8")
    return target


def synthesize(app: App, gate: Gate) -> tuple[cx_api.CloudAssembly | None, GateReport]:
    """Synthesize, judge, and write the evidence. The assembly is None when validation stopped CDK."""
    assembly: cx_api.CloudAssembly | None
    try:
        assembly = app.synth()
    except RuntimeError as err:
        if "ValidationFailed" not in str(err):
            raise
        assembly = None
    report = read_report(app.outdir)
    write_evidence(app.outdir, gate, report)
    return assembly, report
