"""The synth-time compliance gate: cdk-nag packs and the PCI DSS v4.0.1 plugin on the App, fail closed.

cdk-nag 3 and the project's own v4.0.1 rules (`pci_rules.plugin`) are CDK
policy-validation plugins (`Validations.of(app).add_plugins`), so their findings
land in `<outdir>/validation-report.json`, not in stack annotations. The gate
reads that report after synthesis: any unacknowledged finding, error or warning,
of any plugin fails the run, and so does an acknowledgment whose finding is no
longer raised.

Stages (CDK Pipelines): packs registered on the App check every stack of every
Stage. CDK (2.275) hands each App-level plugin the templates of the App's nested
assemblies (`stacksRecursively`) and the App itself as `appConstruct`, and cdk-nag 3
walks that whole construct tree, Stages included. (cdk-nag 2 was an Aspect, and
Aspects added to the App stop at a Stage: the "green pipeline that checked nothing".)
Registering the packs again on each Stage would report every finding twice. CDK
writes one validation report, at the top of the cloud assembly, for all stages;
`read_report` places each finding in its stage from the nested assemblies' manifests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from aws_cdk import App, IPolicyValidationPlugin, Stage, Validations, cx_api
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, PCIDSS321Checks

from compliance.acknowledgments import ACKNOWLEDGMENTS
from compliance.checkov_skips import CHECKOV_SKIPS, CheckovSkip, apply_checkov_skips
from compliance.registry import (
    PENDING,
    Acknowledgment,
    AcknowledgmentError,
    Adoption,
    EnvironmentScope,
    Governance,
    apply_acknowledgments,
    construct_justifications,
    construct_paths,
)
from pci_rules.plugin import PLUGIN_NAME, PciDssV4Plugin, acknowledgment_id
from pci_rules.plugin import Finding as RuleFinding

if TYPE_CHECKING:
    from constructs import IConstruct

    from config import EnvironmentConfig

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
    stage: str = ""  # path of the Stage holding the construct; "" for stacks of the App itself

    def __str__(self) -> str:
        return f"{self.severity.upper()} {self.rule} at {self.path}: {self.description}"


@dataclass(frozen=True)
class GateReport:
    plugins: tuple[str, ...]
    findings: tuple[Finding, ...]
    acknowledged: tuple[Finding, ...]
    # Stage path ("" for the App itself) -> CloudFormation stack names synthesized in it, so the
    # evidence shows which stacks of which stage the packs saw.
    stages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Acknowledgments that matched constructs but whose finding is no longer raised there.
    unused: tuple[Acknowledgment, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.findings and not self.unused


EVIDENCE_DIR = "compliance"
EVIDENCE_FILE = "gate-report.json"


@dataclass(frozen=True)
class Gate:
    """What was registered on an App: the packs, where each acknowledgment applied, and the v4.0.1 plugin.

    `pci_dss_v4` keeps, after synthesis, the parsed templates (`.model`) and every rule's
    passes and failures (`.results`) for the evidence writer: no second parse.
    """

    packs: tuple[str, ...]
    acknowledged_paths: dict[Acknowledgment, list[str]]
    checkov_skipped_paths: dict[CheckovSkip, list[str]] = field(default_factory=dict)
    pci_dss_v4: PciDssV4Plugin = field(default_factory=PciDssV4Plugin)
    # The environments gated (their scope and configuration) and the project entries they adopt.
    environments: tuple[EnvironmentScope, ...] = ()
    adoptions: tuple[Adoption, ...] = ()


class AcknowledgmentEntry(Protocol):
    """An acknowledgment as an environment file carries it (config.models.EnvironmentAcknowledgment)."""

    @property
    def path(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def requirement(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def review_by(self) -> date: ...


def environment_acknowledgments(
    entries: Iterable[AcknowledgmentEntry], *, environment: str, scope: str = ""
) -> tuple[Acknowledgment, ...]:
    """An environment file's acknowledgments, limited to that environment's `scope`: the full
    construct path of the App ("") or Stage it was built in, so every stack there, a fork's own
    included. They go through the same checks as the project's registry when applied."""
    return tuple(
        Acknowledgment(
            path=e.path,
            rule=e.rule,
            resource_type=getattr(e, "resource_type", None),
            predicate=getattr(e, "predicate", None),
            reason=e.reason,
            requirement=e.requirement,
            owner=e.owner,
            approver=getattr(e, "approver", PENDING),
            approval_date=cast("date | Literal['pending']", getattr(e, "approval_date", PENDING)),
            ticket=getattr(e, "ticket", PENDING),
            review_by=e.review_by,
            scope=scope,
            source=f"environment {environment!r} (acknowledgments)",
        )
        for e in entries
    )


class Zone(Protocol):
    """What the gate needs of one built environment (stacks.landing_zone.LandingZone)."""

    @property
    def config(self) -> EnvironmentConfig: ...
    @property
    def scope_path(self) -> str: ...


def environment_scope(zone: Zone) -> EnvironmentScope:
    return EnvironmentScope(name=zone.config.name, path=zone.scope_path, config=zone.config)


def adoptions_of(
    zone: Zone, registry: Iterable[Acknowledgment] = (), *, today: date | None = None
) -> tuple[Adoption, ...]:
    """The project entries `zone`'s environment file adopts (`adopt`), with their problems.

    Raises AcknowledgmentError for an id that names no entry of `registry` (a typo would
    otherwise leave the risk with the project's owner silently). Everything else about an
    adoption is evidence: it never changes whether the gate passes.
    """
    ids = {e.id for e in registry if e.id}
    found = []
    for adopted in getattr(zone.config, "adopt", ()):
        if adopted.entry not in ids:
            raise AcknowledgmentError(
                f"environment {zone.config.name!r} adopts {adopted.entry!r}, which is no entry of"
                " compliance/acknowledgments.yaml and no justification a construct carries"
                f" (ids: {', '.join(sorted(ids)) or 'none'})"
            )
        governance = Governance(
            owner=adopted.owner,
            approver=adopted.approver,
            approval_date=adopted.approval_date,
            ticket=adopted.ticket,
            review_by=adopted.review_by,
        )
        found.append(
            Adoption(
                environment=zone.config.name,
                scope=zone.scope_path,
                entry=adopted.entry,
                governance=governance,
                problems=tuple(governance.problems(today)),
            )
        )
    return tuple(found)


def gate_zones(
    app: App,
    zones: Iterable[Zone],
    acknowledgments: Iterable[Acknowledgment] = ACKNOWLEDGMENTS,
    *,
    today: date | None = None,
) -> Gate:
    """The gate as `make synth` registers it for the environments built in `app`: the project's
    registry (each `when` judged per environment), each environment file's own acknowledgments
    within its scope, and its adoptions. app.py and the tests call this one function."""
    zones = list(zones)
    acknowledgments = tuple(acknowledgments)
    own = [
        entry
        for zone in zones
        for entry in environment_acknowledgments(
            zone.config.acknowledgments, environment=zone.config.name, scope=zone.scope_path
        )
    ]
    constructs = construct_paths(app)  # read once, for the adoptions and the registries
    # An environment adopts project registry entries and the justifications reusable constructs carry.
    adoptable = (*acknowledgments, *construct_justifications(app, constructs))
    adoptions = tuple(a for zone in zones for a in adoptions_of(zone, adoptable, today=today))
    return register_gates(
        app,
        acknowledgments,
        environment=own,
        environments=[environment_scope(z) for z in zones],
        adoptions=adoptions,
        today=today,
        constructs=constructs,
    )


def prepare_stage(stage: Stage, checkov_skips: Iterable[CheckovSkip] = CHECKOV_SKIPS) -> None:
    """Write the checkov-skip registry into a Stage's resources before CDK Pipelines synthesizes it.

    `pipelines.Wave.add_stage` synthesizes the stage's cloud assembly at once, and later
    synthesis reuses it: template metadata written after that never reaches the stage's
    templates. (Acknowledgments are unaffected: cdk-nag reads them from the construct tree
    at validation time.) Call for every stage before adding it to a pipeline; register_gates
    on the App afterwards still applies and reports every registry.
    """
    constructs = construct_paths(stage)
    present = [e for e in checkov_skips if any(e.matches(path) for _, path in constructs)]
    apply_checkov_skips(stage, present, constructs)


def register_gates(
    app: App,
    acknowledgments: Iterable[Acknowledgment] = ACKNOWLEDGMENTS,
    checkov_skips: Iterable[CheckovSkip] | None = None,
    *,
    environment: Iterable[Acknowledgment] = (),
    environments: Iterable[EnvironmentScope] = (),
    adoptions: Iterable[Adoption] = (),
    today: date | None = None,
    constructs: list[tuple[IConstruct, str]] | None = None,
) -> Gate:
    """Apply the acknowledgment and checkov-skip registries, then register every pack and the v4.0.1 plugin.

    Call after the stacks exist (`gate_zones` does, for built environments). `environment` holds
    environment files' own acknowledgments (`environment_acknowledgments`); `environments` the
    scopes and configurations an entry's `when` is judged in; `adoptions` are recorded as given.
    `today` is the clock the review dates are judged by
    (default: the real date). `checkov_skips` defaults to the project's registry when the
    acknowledgments are the project's, and to none when a purpose-built app passes its own.
    Raises `AcknowledgmentError` on a malformed, expired, never-acknowledgeable or stale entry.
    """
    constructs = construct_paths(app) if constructs is None else constructs  # one read for both registries
    scopes = tuple(environments)
    acknowledgments = tuple(acknowledgments)
    carried = construct_justifications(app, constructs)  # what reusable constructs justify themselves
    matched = apply_acknowledgments(
        app, [*acknowledgments, *environment, *carried], constructs, environments=scopes, today=today
    )
    if checkov_skips is None:
        checkov_skips = CHECKOV_SKIPS if acknowledgments == ACKNOWLEDGMENTS else ()
    skipped = apply_checkov_skips(app, checkov_skips, constructs)
    packs = [pack(app) for pack in NAG_PACKS]
    pci_dss_v4 = PciDssV4Plugin(acknowledgments=governed_source(matched))
    # add_plugins is typed with the newer IPolicyValidationPlugin, whose context and report are
    # supersets of the Beta1 shapes the plugin implements; CDK calls both the same way.
    Validations.of(app).add_plugins(*packs, cast("IPolicyValidationPlugin", pci_dss_v4))
    return Gate(
        packs=(*(p.read_pack_name for p in packs), pci_dss_v4.name),
        acknowledged_paths=matched,
        checkov_skipped_paths=skipped,
        pci_dss_v4=pci_dss_v4,
        environments=scopes,
        adoptions=tuple(adoptions),
    )


def governed_source(matched: dict[Acknowledgment, list[str]]) -> Callable[[RuleFinding], str | None]:
    """The registry's entries for the v4.0.1 rules as the plugin's acknowledgment source.

    A finding is accepted when an entry for its rule was applied (governance checked, scope and `when`
    judged, stale entries refused: `apply_acknowledgments`) at the resource's construct path or above it;
    the reason carries the requirement and the owner. The plugin knows none of the governance: it gets a
    reason or None. CDK's own acknowledgment is applied too (for templates written without construct-path
    metadata); a finding the source accepts never reaches CDK, and `read_report` records it as acknowledged.
    """
    entries = [
        (entry.rule.split("[", 1)[0], tuple(paths), entry)
        for entry, paths in matched.items()
        if entry.plugin == PLUGIN_NAME and entry.carried_by is None and paths
    ]

    def source(finding: RuleFinding) -> str | None:
        path = finding.resource.path
        for rule_id, roots, entry in entries:
            if rule_id == finding.rule.id and any(path == root or path.startswith(root + "/") for root in roots):
                return f"{entry.reason} [{entry.requirement}; owner {entry.owner}; {entry.source}]"
        return None

    return source


def _source_acknowledged(gate: Gate, stages: Iterable[str]) -> list[Finding]:
    """The v4.0.1 findings the governed source accepted, as CDK would have recorded them."""
    return [
        Finding(
            plugin=PLUGIN_NAME,
            rule=finding.rule.id,
            severity="error",
            path=finding.resource.path,
            description=f"{finding.rule.description} ({finding.rule.citation()})",
            acknowledged_as=acknowledgment_id(finding.rule.id),
            stage=_stage_of(finding.resource.path, stages),
        )
        for finding, _ in gate.pci_dss_v4.acknowledged
    ]


def _findings(violations: list[dict[str, Any]], plugin: str, stages: Iterable[str]) -> list[Finding]:
    return [
        Finding(
            plugin=plugin,
            rule=v["ruleName"],
            severity=v.get("severity", "error"),
            path=construct["constructPath"],
            description=v.get("description", "").split(" - (Control IDs")[0],
            acknowledged_as=v.get("acknowledgedId"),
            stage=_stage_of(construct["constructPath"], stages),
        )
        for v in violations
        for construct in v.get("violatingConstructs", [])
    ]


def _stage_of(path: str, stages: Iterable[str]) -> str:
    """The innermost stage whose path prefixes `path` ("" when none does)."""
    return max((s for s in stages if s and path.startswith(s + "/")), key=len, default="")


def assembly_stages(outdir: str | Path) -> dict[str, tuple[str, ...]]:
    """Stage path -> stack names, from the cloud assembly's manifest and its nested assemblies.

    A stack artifact's `displayName` is its construct path (`prod/PciLz-prod-Keys-us-east-1`);
    the stage is that path without the stack's own ID. Raises FileNotFoundError without a manifest.
    """
    stages: dict[str, list[str]] = {}
    pending = [Path(outdir)]
    while pending:
        directory = pending.pop()
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        for artifact_id, artifact in manifest.get("artifacts", {}).items():
            properties = artifact.get("properties", {})
            if artifact["type"] == "cdk:cloud-assembly":
                pending.append(directory / properties["directoryName"])
            elif artifact["type"] == "aws:cloudformation:stack":
                display = artifact.get("displayName", artifact_id)
                stage = display.rsplit("/", 1)[0] if "/" in display else ""
                stages.setdefault(stage, []).append(properties.get("stackName", artifact_id))
    return {stage: tuple(sorted(names)) for stage, names in sorted(stages.items())}


def read_report(outdir: str | Path, gate: Gate | None = None) -> GateReport:
    """The findings of every plugin in `<outdir>/validation-report.json`, each placed in its stage;
    with `gate`, also the acknowledgments whose finding is no longer raised (see `unused_acknowledgments`)."""
    data = json.loads((Path(outdir) / REPORT_FILE).read_text(encoding="utf-8"))
    stages = assembly_stages(outdir) if (Path(outdir) / "manifest.json").exists() else {}
    plugins, findings, acknowledged = [], [], []
    for plugin in data.get("pluginReports", []):
        name = plugin["pluginName"]
        plugins.append(name)
        findings += _findings(plugin.get("violations", []), name, stages)
        acknowledged += _findings(plugin.get("suppressedViolations", []), name, stages)
    if gate is not None:
        acknowledged += _source_acknowledged(gate, stages)
    report = GateReport(tuple(plugins), tuple(findings), tuple(acknowledged), stages)
    if gate is None:
        return report
    return GateReport(
        report.plugins, report.findings, report.acknowledged, stages, unused=unused_acknowledgments(gate, report)
    )


def suppressed_by(entry: Acknowledgment, paths: Iterable[str], report: GateReport) -> list[Finding]:
    """The findings `entry` suppressed: its rule, at (or under) a construct it was applied to."""
    roots = tuple(paths)
    return [
        f
        for f in report.acknowledged
        if entry.acknowledges(f.acknowledged_as) and any(f.path == p or f.path.startswith(p + "/") for p in roots)
    ]


def unused_acknowledgments(gate: Gate, report: GateReport) -> tuple[Acknowledgment, ...]:
    """Entries that suppress no finding of this synthesis, leaving `conditional` ones out.

    Judged per entry against its own rule and constructs only, so a resource added
    elsewhere never makes an unrelated entry unused.
    """
    return tuple(
        entry
        for entry, paths in gate.acknowledged_paths.items()
        if paths and not entry.conditional and not suppressed_by(entry, paths, report)
    )


FIX_AND_ACKNOWLEDGE = (
    "Fix a finding at the construct that creates the resource (the project's in pci_constructs/, a fork's in"
    " its own module; the v4.0.1 rules' fix hints are in README.md, 'PCI DSS v4.0.1 rules'). Only what truly"
    " cannot be fixed is acknowledged, with a specific reason, an owner and a review date: a fork's stack"
    " justifies its own findings in its construct (pci_constructs.justification.justify with the fork's"
    " risk_owner, approver, ticket, review_by: every environment), or its environment file's `acknowledgments`"
    " (that environment only; `adopt` takes on a project entry); the project's own entries are in"
    " compliance/acknowledgments.yaml. See README.md, 'Adding your own stack'."
)


def failure_summary(report: GateReport) -> str:
    """What failed, grouped per construct, ending with where findings are fixed and acknowledged."""
    lines = []
    by_construct: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_construct.setdefault(finding.path, []).append(finding)
    for path in sorted(by_construct):
        lines.append(f"{path}:")
        lines += [f"  {f.severity.upper()} {f.rule} ({f.plugin}): {f.description}" for f in by_construct[path]]
    for entry in report.unused:
        lines.append(
            f"{entry}: the finding is no longer raised at {entry.path}: delete this entry"
            f" (or mark it conditional if another configuration still raises it)"
        )
    lines.append(FIX_AND_ACKNOWLEDGE)
    return "\n".join(lines)


def write_evidence(outdir: str | Path, gate: Gate, report: GateReport) -> Path:
    """`<outdir>/compliance/gate-report.json`: packs, open findings, every acknowledgment.

    CDK leaves passing plugins out of validation-report.json, so on a clean run this
    file is where an assessor sees which packs ran and what was acknowledged, why.
    """
    evidence = {
        "packs": list(gate.packs),
        "passed": report.passed,
        "unacknowledged": [asdict(f) for f in report.findings],
        "unused_acknowledgments": [str(entry) for entry in report.unused],
        "acknowledgments": [_acknowledgment_evidence(entry, paths) for entry, paths in gate.acknowledged_paths.items()],
        "adoptions": [adoption.evidence() for adoption in gate.adoptions],
        "checkov_skips": [{**asdict(entry), "resources": paths} for entry, paths in gate.checkov_skipped_paths.items()],
        "stages": _per_stage(report),
    }
    target = Path(outdir) / EVIDENCE_DIR / EVIDENCE_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(evidence, indent=2) + "\n", encoding="utf-8")
    return target


def _per_stage(report: GateReport) -> dict[str, dict[str, Any]]:
    """Per stage ("" is the App itself): the stacks the packs saw, open and acknowledged findings."""
    return {
        stage: {
            "stacks": list(stacks),
            "unacknowledged": [str(f) for f in report.findings if f.stage == stage],
            "acknowledged": sum(1 for f in report.acknowledged if f.stage == stage),
        }
        for stage, stacks in report.stages.items()
    }


def _acknowledgment_evidence(entry: Acknowledgment, paths: list[str]) -> dict[str, Any]:
    return {**entry.evidence(), "selector": entry.selector, "constructs": paths}


def synthesize(app: App, gate: Gate) -> tuple[cx_api.CloudAssembly | None, GateReport]:
    """Synthesize, judge, and write the evidence. The assembly is None when validation stopped CDK."""
    assembly: cx_api.CloudAssembly | None
    try:
        assembly = app.synth()
    except RuntimeError as err:
        if "ValidationFailed" not in str(err):
            raise
        assembly = None
    report = read_report(app.outdir, gate)
    write_evidence(app.outdir, gate, report)
    return assembly, report
