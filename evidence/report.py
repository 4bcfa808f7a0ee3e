"""Assessor-ready evidence in `<outdir>/compliance/` on every synth.

- `pci-dss-v4-report.md` and `.html`: per PCI DSS v4.0.1 requirement in the infrastructure's
  scope, its status (met, acknowledged, not met, customer responsibility) with the resources that
  meet it, the synth rules that checked them, the Config rules of compliance/conformance/pci-dss-v4.json
  and the Security Hub controls that watch it after deploy; every pack's results; tool versions
  and the git commit. The HTML is self-contained (styles inline, diagrams as inline SVG).
- `diagrams/network-<region>.*` (PCI DSS 1.2.3) and `diagrams/data-flow-<region>.*` (1.2.4):
  Mermaid and DOT always, SVG and PNG when Graphviz's `dot` is on PATH.

Everything is read from one `TemplateModel` and the rule results computed on it, so the report,
the diagrams and the rules cannot disagree. Output is deterministic: no timestamps, sorted
everything, relative paths; two synths of one commit write the same bytes.
"""

from __future__ import annotations

import argparse
import html
import importlib.metadata
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.gate import EVIDENCE_DIR, Gate, GateReport
from evidence.catalog import (
    CUSTOMER_RESPONSIBILITIES,
    SECURITY_HUB_CONTROLS,
    STANDARD,
    title,
)
from evidence.diagrams import Diagram, data_flow_diagram, network_diagram, to_dot, to_mermaid
from evidence.topology import Topology
from pci_rules.model import TemplateModel
from pci_rules.rule import Check, RuleResult

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE_PACK = ROOT / "compliance" / "conformance" / "pci-dss-v4.json"
REPORT_NAME = "pci-dss-v4-report"
DIAGRAM_DIR = "diagrams"
MET, ACKNOWLEDGED, NOT_MET, CUSTOMER = "met", "acknowledged", "not met", "customer responsibility"
STATUS_ORDER = (NOT_MET, ACKNOWLEDGED, MET, CUSTOMER)
_REQUIREMENT = re.compile(r"\b\d{1,2}(?:\.\d{1,2}){1,3}\b")
# Requirements the generated artefacts themselves answer.
DIAGRAM_REQUIREMENTS = {"1.2.3": "network", "1.2.4": "data-flow"}


# -- inputs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigRule:
    name: str
    source: str
    requirements: tuple[str, ...]


def conformance_rules(path: Path = CONFORMANCE_PACK) -> list[ConfigRule]:
    """The conformance pack's Config rules with the requirements in each rule's metadata."""
    pack = json.loads(path.read_text(encoding="utf-8"))
    rules = []
    for body in (pack.get("Resources") or {}).values():
        if body.get("Type") != "AWS::Config::ConfigRule":
            continue
        props = body.get("Properties") or {}
        rules.append(
            ConfigRule(
                name=str(props.get("ConfigRuleName")),
                source=str((props.get("Source") or {}).get("SourceIdentifier")),
                requirements=tuple((body.get("Metadata") or {}).get("PciDssV401Requirements") or ()),
            )
        )
    return sorted(rules, key=lambda r: r.name)


def _requirements_of(text: str) -> list[str]:
    return _REQUIREMENT.findall(text.removeprefix(STANDARD))


def git_commit(root: Path = ROOT) -> str:
    """`<sha>` of HEAD, with `(uncommitted changes)` when tracked files differ; `unknown` without git."""
    git = shutil.which("git")
    if git is None:
        return "unknown (git not found)"
    try:
        sha = subprocess.run(  # noqa: S603
            [git, "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603
            [git, "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{sha} (with uncommitted changes)" if dirty else sha


def _package(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def graphviz_version() -> str | None:
    dot = shutil.which("dot")
    if dot is None:
        return None
    out = subprocess.run([dot, "-V"], capture_output=True, text=True, check=False)  # noqa: S603
    found = re.search(r"version (\S+)", out.stderr or out.stdout)
    return found.group(1) if found else "unknown"


def tool_versions(root: Path = ROOT) -> dict[str, str]:
    """Versions that shape the templates and the evidence (never a timestamp or a host name)."""
    pinned = "unknown"
    package_json = root / "package.json"
    if package_json.is_file():
        pinned = json.loads(package_json.read_text(encoding="utf-8")).get("devDependencies", {}).get("aws-cdk", "?")
    cli = os.environ.get("CDK_CLI_VERSION")  # the CDK CLI sets it for the app it runs
    return {
        "aws-cdk-lib": _package("aws-cdk-lib"),
        "constructs": _package("constructs"),
        "cdk-nag": _package("cdk-nag"),
        "CDK CLI": cli.split(" ")[0] if cli else f"{pinned} pinned in package.json (this synth ran without the CLI)",
        "Python": ".".join(map(str, sys.version_info[:3])),
        "Graphviz": graphviz_version() or "not installed (no SVG/PNG rendering)",
        "markdown-it-py": _package("markdown-it-py"),
    }


# -- statuses ----------------------------------------------------------------------------------------
@dataclass
class RuleOutcome:
    rule_id: str
    description: str
    passed: list[str]
    failed: list[str]  # "path: detail", not acknowledged
    acknowledged: list[str]


@dataclass
class AcknowledgedEntry:
    rule: str
    path: str
    reason: str
    requirement: str
    owner: str
    review_by: str
    constructs: int


@dataclass
class RequirementStatus:
    requirement: str
    title: str
    status: str = CUSTOMER
    resources: list[str] = field(default_factory=list)
    rules: list[RuleOutcome] = field(default_factory=list)
    config_rules: list[str] = field(default_factory=list)
    security_hub: list[str] = field(default_factory=list)
    acknowledgments: list[AcknowledgedEntry] = field(default_factory=list)
    customer: str = ""
    artefacts: list[str] = field(default_factory=list)


def _sort_key(requirement: str) -> tuple[int, ...]:
    return tuple(int(part) for part in requirement.split("."))


def _acknowledged_check(rule_id: str, check: Check, report: GateReport) -> bool:
    """A failed check whose finding CDK recorded as acknowledged (any plugin naming the rule)."""
    return any(
        f.rule.split("::")[-1] == rule_id
        and (f.path == check.resource.path or check.resource.path.startswith(f.path + "/"))
        for f in report.acknowledged
    )


def _acknowledgment_entries(gate: Gate) -> list[tuple[AcknowledgedEntry, list[str]]]:
    out = []
    for entry, paths in gate.acknowledged_paths.items():
        if not paths:
            continue
        out.append(
            (
                AcknowledgedEntry(
                    rule=entry.rule,
                    path=entry.path,
                    reason=entry.reason,
                    requirement=entry.requirement,
                    # Owner and review date arrive with the registry's new fields; read them either way.
                    owner=str(getattr(entry, "owner", "") or "not recorded"),
                    review_by=str(getattr(entry, "review_by", "") or "not recorded"),
                    constructs=len(paths),
                ),
                _requirements_of(entry.requirement),
            )
        )
    return sorted(out, key=lambda item: (item[0].rule, item[0].path))


def requirement_statuses(
    results: Sequence[RuleResult],
    gate: Gate,
    report: GateReport,
    config_rules: Sequence[ConfigRule] | None = None,
) -> list[RequirementStatus]:
    """One status per requirement in scope (named by a rule, a Config rule, an acknowledgment, the
    customer table or the diagrams): not met > acknowledged > met > customer responsibility."""
    config_rules = conformance_rules() if config_rules is None else config_rules
    statuses: dict[str, RequirementStatus] = {}

    def status(requirement: str) -> RequirementStatus:
        if requirement not in statuses:
            statuses[requirement] = RequirementStatus(requirement, title(requirement))
        return statuses[requirement]

    for result in results:
        passed = sorted({c.resource.path for c in result.passes})
        failed = sorted(
            f"{c.resource.path}: {c.detail}"
            for c in result.failures
            if not _acknowledged_check(result.rule.id, c, report)
        )
        acked = sorted(
            f"{c.resource.path}: {c.detail}" for c in result.failures if _acknowledged_check(result.rule.id, c, report)
        )
        for requirement in result.rule.requirements:
            entry = status(requirement)
            entry.rules.append(RuleOutcome(result.rule.id, result.rule.description, passed, failed, acked))
            entry.resources = sorted(set(entry.resources) | set(passed))
    for rule in config_rules:
        for requirement in rule.requirements:
            status(requirement).config_rules.append(rule.name)
    by_source = {r.source: r for r in config_rules}
    for control in SECURITY_HUB_CONTROLS:
        if control.config_rule in by_source:
            for requirement in control.requirements:
                status(requirement).security_hub.append(control.control_id)
    for ack, requirements in _acknowledgment_entries(gate):
        for requirement in requirements:
            status(requirement).acknowledgments.append(ack)
    for requirement, duty in CUSTOMER_RESPONSIBILITIES.items():
        status(requirement).customer = duty
    for requirement in DIAGRAM_REQUIREMENTS:
        status(requirement)

    for entry in statuses.values():
        failures = any(o.failed for o in entry.rules)
        acknowledged = entry.acknowledgments or any(o.acknowledged for o in entry.rules)
        checked = any(o.passed for o in entry.rules)
        if failures:
            entry.status = NOT_MET
        elif acknowledged:
            entry.status = ACKNOWLEDGED
        elif checked or entry.requirement in DIAGRAM_REQUIREMENTS:
            entry.status = MET
        else:
            entry.status = CUSTOMER
            if not entry.customer:
                watchers = ", ".join(entry.config_rules) or "no Config rule"
                entry.customer = (
                    "No synth rule checks this in the templates: keep the deployed account compliant"
                    f" with {watchers} (and the Security Hub PCI DSS v4.0.1 standard)."
                )
        entry.config_rules.sort()
        entry.security_hub.sort()
    return sorted(statuses.values(), key=lambda s: _sort_key(s.requirement))


# -- pack results -----------------------------------------------------------------------------------
def pack_results(gate: Gate, report: GateReport) -> list[tuple[str, int, int]]:
    """(pack, unacknowledged findings, acknowledged findings) for every cdk-nag pack that ran."""
    rows = []
    for pack in sorted(gate.packs):
        prefix = pack + "-"
        open_ = sum(1 for f in report.findings if f.plugin == pack or f.rule.split("::")[-1].startswith(prefix))
        acked = sum(1 for f in report.acknowledged if f.plugin == pack or f.rule.split("::")[-1].startswith(prefix))
        rows.append((pack, open_, acked))
    others = sorted({f.plugin for f in (*report.findings, *report.acknowledged)} - {p for p, _, _ in rows})
    for plugin in others:
        rows.append(
            (
                plugin,
                sum(1 for f in report.findings if f.plugin == plugin),
                sum(1 for f in report.acknowledged if f.plugin == plugin),
            )
        )
    return rows


# -- diagrams -----------------------------------------------------------------------------------------
@dataclass
class DiagramFiles:
    diagram: Diagram
    mermaid: str
    dot: str
    files: list[str] = field(default_factory=list)  # relative to the compliance directory
    svg: str | None = None


def build_diagrams(model: TemplateModel, topology: Topology | None = None) -> list[DiagramFiles]:
    """Network and data-flow diagrams for each region that has a network, in region order."""
    topology = Topology(model) if topology is None else topology
    built = []
    for region_topology in topology.regions.values():
        for diagram in (network_diagram(region_topology), data_flow_diagram(model, region_topology)):
            built.append(DiagramFiles(diagram, to_mermaid(diagram), to_dot(diagram)))
    return built


def render_diagrams(directory: Path, diagrams: Sequence[DiagramFiles]) -> Callable[[], None]:
    """Write .mmd and .dot; with `dot` on PATH, start rendering SVG and PNG of every diagram at once.

    Returns a function that waits for the renders and records their files (call it before reading
    `svg`); raises RuntimeError there when `dot` fails on a diagram.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for built in diagrams:
        name = built.diagram.name
        (directory / f"{name}.mmd").write_text(built.mermaid, encoding="utf-8")
        (directory / f"{name}.dot").write_text(built.dot, encoding="utf-8")
        built.files = [f"{DIAGRAM_DIR}/{name}.mmd", f"{DIAGRAM_DIR}/{name}.dot"]
    dot = shutil.which("dot")
    if dot is None:
        return lambda: None
    running = []
    for built in diagrams:
        name = built.diagram.name
        command = [dot, "-Tsvg", "-o", f"{name}.svg", "-Tpng", "-o", f"{name}.png", f"{name}.dot"]
        running.append((built, subprocess.Popen(command, cwd=directory, stderr=subprocess.PIPE)))  # noqa: S603
        built.files += [f"{DIAGRAM_DIR}/{name}.svg", f"{DIAGRAM_DIR}/{name}.png"]

    def wait() -> None:
        for built, process in running:
            _, err = process.communicate()
            if process.returncode != 0:
                message = err.decode(errors="replace").strip()
                raise RuntimeError(f"dot failed on {built.diagram.name}.dot: {message}")
            built.svg = (directory / f"{built.diagram.name}.svg").read_text(encoding="utf-8")

    return wait


# -- the report ---------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    """Markdown table cell text: pipes escaped, newlines as `<br>`-free separators."""
    return text.replace("|", "\\|").replace("\n", " / ")


def _code(text: str) -> str:
    return f"`{text.replace('`', '')}`"


def _placeholder(name: str) -> str:
    return f"DIAGRAM-PLACEHOLDER-{name}"


def report_markdown(
    *,
    app_name: str,
    statuses: Sequence[RequirementStatus],
    results: Sequence[RuleResult],
    gate: Gate,
    report: GateReport,
    diagrams: Sequence[DiagramFiles],
    versions: Mapping[str, str],
    commit: str,
    for_html: bool = False,
) -> str:
    """The report as GitHub-flavoured Markdown (Mermaid blocks render on GitHub). With `for_html`,
    each diagram is a placeholder line the HTML writer replaces with inline SVG."""
    out: list[str] = [f"# {STANDARD} compliance evidence: {app_name}", ""]
    out += [
        "Generated on every synth from the synthesized CloudFormation templates (never edited by hand)."
        " The statuses, the diagrams and the synth rules read one parsed model of the templates."
        " This is evidence for an assessor, not an assessment: a **met** status says the templates"
        " pass every synth rule mapped to the requirement; the assessor still tests the deployed"
        " environment, where the Config rules and Security Hub controls listed keep watching.",
        "",
        f"- Git commit: {_code(commit)}",
        *(f"- {name}: {_code(value)}" for name, value in versions.items()),
        "",
        "## Summary",
        "",
        "| Status | Requirements |",
        "| --- | --- |",
    ]
    for name in STATUS_ORDER:
        members = [s.requirement for s in statuses if s.status == name]
        out.append(f"| {name} | {len(members)}: {', '.join(members) if members else '-'} |")
    out += ["", "## Requirements", ""]
    for entry in statuses:
        out += [f"### {entry.requirement} {entry.title}", "", f"**Status: {entry.status}**", ""]
        if entry.requirement in DIAGRAM_REQUIREMENTS:
            kind = DIAGRAM_REQUIREMENTS[entry.requirement]
            files = [f for d in diagrams if d.diagram.name.startswith(kind + "-") for f in d.files]
            out.append(f"- Generated diagram files: {', '.join(_code(f) for f in files) or 'none (no network)'}")
        for outcome in entry.rules:
            counts = f"{len(outcome.passed)} passed, {len(outcome.failed)} failed"
            if outcome.acknowledged:
                counts += f", {len(outcome.acknowledged)} acknowledged"
            out.append(f"- Synth rule {_code(outcome.rule_id)} ({counts}): {outcome.description}")
            out += [f"  - FAILED {_code(item)}" for item in outcome.failed]
            out += [f"  - acknowledged {_code(item)}" for item in outcome.acknowledged]
        if entry.resources:
            out.append(f"- Resources that meet it ({len(entry.resources)}):")
            out += [f"  - {_code(path)}" for path in entry.resources]
        if entry.config_rules:
            out.append(f"- Watched after deploy by Config rules: {', '.join(_code(r) for r in entry.config_rules)}")
        if entry.security_hub:
            hub = ", ".join(_code(c) for c in entry.security_hub)
            out.append(f"- Security Hub {STANDARD} controls: {hub}")
        for ack in entry.acknowledgments:
            out.append(
                f"- Acknowledged {_code(ack.rule)} at {_code(ack.path)} ({ack.constructs} constructs):"
                f" {ack.reason}. Owner: {ack.owner}; review by: {ack.review_by}."
            )
        if entry.customer:
            out.append(f"- Customer responsibility: {entry.customer}")
        out.append("")

    out += ["## Pack results", "", "### cdk-nag packs (synth-time gate)", ""]
    out += ["| Pack | Unacknowledged findings | Acknowledged findings |", "| --- | --- | --- |"]
    out += [f"| {pack} | {open_} | {acked} |" for pack, open_, acked in pack_results(gate, report)]
    out += ["", f"### {STANDARD} synth rules", ""]
    out += ["| Rule | Requirements | Resources checked | Passed | Failed |", "| --- | --- | --- | --- | --- |"]
    for result in sorted(results, key=lambda r: r.rule.id):
        out.append(
            f"| {_code(result.rule.id)} | {', '.join(result.rule.requirements)} | {len(result.checks)}"
            f" | {len(result.passes)} | {len(result.failures)} |"
        )
    acks = _acknowledgment_entries(gate)
    out += ["", "### Acknowledgments", ""]
    if acks:
        out += [
            "| Rule | Construct path | Requirement | Reason | Owner | Review by |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for ack, _ in acks:
            out.append(
                f"| {_code(ack.rule)} | {_code(ack.path)} | {_cell(ack.requirement)} | {_cell(ack.reason)}"
                f" | {_cell(ack.owner)} | {_cell(ack.review_by)} |"
            )
    else:
        out.append("None.")

    out += ["", "## Diagrams", ""]
    for built in diagrams:
        out += [f"### {built.diagram.title}", ""]
        if for_html:
            out += [_placeholder(built.diagram.name), ""]
        else:
            out += ["```mermaid", built.mermaid.rstrip("\n"), "```", ""]
        out.append("Files: " + ", ".join(f"[{Path(f).name}]({f})" for f in built.files))
        out.append("")
        flows = [e for e in built.diagram.edges if e.kind == "flow"]
        if flows:
            nodes = built.diagram.nodes
            out += ["| From | To | Allowed | Template rules |", "| --- | --- | --- | --- |"]
            for edge in flows:
                out.append(
                    f"| {_cell(nodes[edge.source].label)} | {_cell(nodes[edge.target].label)}"
                    f" | {_cell(edge.label)} | {_cell('; '.join(edge.refs))} |"
                )
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


_HTML_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 80rem;
  padding: 0 1rem; color: #1f2328; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
code { background: #f6f8fa; padding: 0.1rem 0.25rem; border-radius: 4px; font-size: 0.85em; word-break: break-all; }
pre { background: #f6f8fa; padding: 0.75rem; overflow-x: auto; }
.diagram { overflow-x: auto; border: 1px solid #d0d7de; padding: 0.5rem; margin: 0.5rem 0 1rem; }
.diagram svg { max-width: 100%; height: auto; }
h3 { border-bottom: 1px solid #eaeef2; padding-bottom: 0.2rem; }
""".strip()


def _inline_svg(svg: str) -> str:
    """An SVG document as an element: drop the XML declaration and DOCTYPE."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def markdown_to_html(markdown_text: str) -> str:
    """CommonMark + tables with markdown-it-py, raw HTML off (labels come from templates)."""
    from markdown_it import MarkdownIt

    html_text: str = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown_text)
    return html_text


def report_html(body: str, *, title_text: str, diagrams: Sequence[DiagramFiles]) -> str:
    """Self-contained HTML around a rendered body: each diagram placeholder becomes inline SVG,
    or the diagram's Mermaid source when Graphviz is not installed."""
    for built in diagrams:
        marker = f"<p>{_placeholder(built.diagram.name)}</p>"
        if built.svg is not None:
            figure = f'<div class="diagram">{_inline_svg(built.svg)}</div>'
        else:
            figure = f'<pre class="diagram"><code>{html.escape(built.mermaid)}</code></pre>'
        body = body.replace(marker, figure)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title_text)}</title>\n<style>\n{_HTML_STYLE}\n</style>\n</head>\n<body>\n"
        f"{body}</body>\n</html>\n"
    )


def _app_name(model: TemplateModel) -> str:
    """`PciLz-<env>` from the stack names (the common prefix before the part name)."""
    names = sorted(model.stacks)
    prefixes = {"-".join(n.split("-")[:2]) for n in names}
    return prefixes.pop() if len(prefixes) == 1 else ", ".join(sorted(prefixes))


def write_compliance_evidence(
    outdir: str | Path,
    *,
    model: TemplateModel,
    results: Sequence[RuleResult],
    gate: Gate,
    report: GateReport,
    root: Path = ROOT,
) -> list[Path]:
    """Write the report and the diagrams under `<outdir>/compliance/`; return the files written.

    `model` and `results` are the ones the rules ran on (the policy-validation plugin keeps
    them); the gate and its report give the cdk-nag packs' results and the acknowledgments.
    Raises RuntimeError when `dot` is installed but fails on a diagram.
    """
    directory = Path(outdir) / EVIDENCE_DIR
    diagrams = build_diagrams(model)
    rendered = render_diagrams(directory / DIAGRAM_DIR, diagrams)  # dot runs while the report is written
    statuses = requirement_statuses(results, gate, report)
    common: dict[str, Any] = {
        "app_name": _app_name(model),
        "statuses": statuses,
        "results": results,
        "gate": gate,
        "report": report,
        "diagrams": diagrams,
        "versions": tool_versions(root),
        "commit": git_commit(root),
    }
    markdown_path = directory / f"{REPORT_NAME}.md"
    markdown_path.write_text(report_markdown(**common), encoding="utf-8")
    html_body = markdown_to_html(report_markdown(**common, for_html=True))
    rendered()
    html_path = directory / f"{REPORT_NAME}.html"
    html_text = report_html(
        html_body,
        title_text=f"{STANDARD} compliance evidence: {common['app_name']}",
        diagrams=diagrams,
    )
    html_path.write_text(html_text, encoding="utf-8")
    files = [markdown_path, html_path]
    files += [directory / f for built in diagrams for f in built.files]
    return files


def write_evidence_for_assembly(outdir: str | Path, gate: Gate, report: GateReport) -> list[Path]:
    """Parse the assembly once, run the PCI DSS v4.0.1 rules on it, write the evidence from both."""
    from pci_rules.rule import evaluate
    from pci_rules.rules import RULES

    model = TemplateModel.from_assembly(outdir)
    return write_compliance_evidence(outdir, model=model, results=evaluate(model, RULES), gate=gate, report=report)


# -- `python -m evidence.report OUTDIR`: regenerate and time the evidence of an existing assembly ----
def _gate_from_evidence(outdir: Path) -> tuple[Gate, GateReport]:
    """The gate as gate-report.json recorded it: packs, acknowledgments and where they applied."""
    from dataclasses import fields

    from compliance.gate import EVIDENCE_FILE, read_report
    from compliance.registry import Acknowledgment

    data = json.loads((outdir / EVIDENCE_DIR / EVIDENCE_FILE).read_text(encoding="utf-8"))
    names = {f.name for f in fields(Acknowledgment)}
    acknowledged = {
        Acknowledgment(**{k: v for k, v in row.items() if k in names}): list(row["constructs"])
        for row in data.get("acknowledgments", [])
    }
    return Gate(packs=tuple(data["packs"]), acknowledged_paths=acknowledged), read_report(outdir)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate (and time) the compliance evidence of a cloud assembly.")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="times to write it; prints the timings as JSON")
    args = parser.parse_args(list(argv) if argv is not None else None)
    gate, report = _gate_from_evidence(args.outdir)
    walls, python_cpu, child_cpu = [], [], []
    for _ in range(args.repeat):
        before, start = os.times(), time.perf_counter()
        write_evidence_for_assembly(args.outdir, gate, report)
        after = os.times()
        walls.append(time.perf_counter() - start)
        python_cpu.append(after.user - before.user + after.system - before.system)
        child_cpu.append(after.children_user - before.children_user + after.children_system - before.children_system)
    timings = {
        "first_s": round(walls[0], 3),  # includes the lazy markdown-it import, as in app.py
        "median_s": round(statistics.median(walls), 3),
        "python_cpu_s": round(statistics.median(python_cpu), 3),
        "dot_and_git_cpu_s": round(statistics.median(child_cpu), 3),
        "walls_s": [round(w, 3) for w in walls],
    }
    print(json.dumps(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
