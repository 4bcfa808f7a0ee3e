"""Assessor-ready evidence in `<outdir>/compliance/` on every synth.

- `pci-dss-v4-report.md` and `.html`: per PCI DSS v4.0.1 requirement in the infrastructure's
  scope, its status (met, acknowledged, not met, customer responsibility) with the resources that
  meet it, the synth rules that checked them, the Config rules of compliance/conformance/pci-dss-v4.json
  and the Security Hub controls that watch it after deploy; every pack's results; tool versions
  and the git commit. The HTML is self-contained (styles inline, diagrams as inline SVG).
- `diagrams/network-<region>.*` (PCI DSS 1.2.3) and `diagrams/data-flow-<region>.*` (1.2.4):
  Mermaid and DOT always, SVG when Graphviz's `dot` is on PATH (PNG on request: `--png`, `make evidence-png`).

Everything is read from one `TemplateModel` and the rule results computed on it, so the report,
the diagrams and the rules cannot disagree. Output is deterministic: no timestamps, sorted
everything, relative paths; two synths of one commit write the same bytes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import gc
import hashlib
import html
import importlib.metadata
import json
import math
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
    BEYOND_THE_TEMPLATES,
    CUSTOMER_RESPONSIBILITIES,
    LIMIT_DEFAULT,
    LIMITS,
    PASSWORD_POLICY_REQUIREMENTS,
    PROCESS_REQUIREMENTS,
    RELATED_NOT_EVIDENCE,
    SECURITY_HUB_CONTROLS,
    STANDARD,
    TESTING_PROCEDURES,
    TRUSTED_PRINCIPAL_REQUIREMENTS,
    UNRELATED_CONFIG_RULES,
    title,
)
from evidence.diagrams import (
    NOT_SET_BY_A_RULE,
    Diagram,
    _trusted,
    data_flow_diagram,
    network_diagram,
    services_diagram,
    to_dot,
    to_mermaid,
)
from evidence.flows import alias_of, card_data, grants, key_reference, kms_key
from evidence.iam_eval import Request, denied_by, render
from evidence.mapping_reasons import CONFIG_RULE_REASONS, MAPPING_REASONS
from evidence.pages import pages, place_labels
from evidence.scope import (
    CDE,
    CDE_OUTSIDE,
    ScopeModel,
    card_data_stores,
    cde_outside_templates,
    lb_access_log_buckets,
    outside_templates,
    payment_channels,
    wireless_statement,
)
from evidence.topology import Topology, display_name
from evidence.workpapers import (
    NOT_VERIFIED,
    WORKPAPER_DIR,
    DeployedState,
    all_workpapers,
    insert_paper_tables,
    log_flows,
    papers_markdown,
    write_workpapers,
)
from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, RuleResult
from pci_rules.rules._common import sdk_call
from pci_rules.rules._common import statements as statements_of

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE_PACK = ROOT / "compliance" / "conformance" / "pci-dss-v4.json"
REPORT_NAME = "pci-dss-v4-report"
DIAGRAM_DIR = "diagrams"
# Statements about the templates, never verdicts about the requirement: an assessor decides "in place".
OPEN = "open findings"
EXCEPTED = "findings under exception"
PASSED = "examined, no findings"
# Only a rule about absence spoke for it (searched every template, found none): counted apart, never as
# "examined, no findings" (pci_rules.rule.Rule.absence).
ABSENCE = "absence in the templates confirmed"
GENERATED = "diagram generated, accuracy not verified"
NOT_EVIDENCED = "not evidenced"
NOT_APPLICABLE = "not applicable, reason stated"
STATUS_ORDER = (OPEN, EXCEPTED, PASSED, ABSENCE, GENERATED, NOT_EVIDENCED, NOT_APPLICABLE)
# A rule line under a process requirement (evidence/catalog.py PROCESS_REQUIREMENTS).
PROCESS_NOT_EVIDENCED = "the requirement itself is a process: not evidenced"
PREREQUISITE = f"supports; {PROCESS_NOT_EVIDENCED}"
PENDING = "pending"
_REQUIREMENT = re.compile(r"\b\d{1,2}(?:\.\d{1,2}){1,3}\b")
# Requirements the generated artefacts themselves answer.
DIAGRAM_REQUIREMENTS = {"1.2.3": "network", "1.2.4": "data-flow"}
# Requirements stated from what the templates configure (or that lie outside them), with no synth rule
# of their own: each gets a section with its testing procedure and what the evidence cannot show.
STATED_REQUIREMENTS = ("3.5.1", "3.5.1.1", "3.5.1.2", "3.5.1.3", "3.7.8", "5.2.2", "8.3.8")
# Stated requirements that do not apply to what the templates configure, with the reason in their facts.
NOT_APPLICABLE_REQUIREMENTS = ("3.5.1.3",)
# What a recorded review covers: the diff since the reviewed commit is taken over these paths.
REVIEWED_PATHS = ("stacks", "pci_constructs", "config", "envs", "compliance", "pci_rules", "lambda", "app.py")


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
        return "unknown (no git: git not found)"
    try:
        sha = subprocess.run(  # noqa: S603
            [git, "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603
            [git, "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git: not a git checkout)"
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


# -- provenance ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attestation:
    """Who prepared and approved this evidence, and the last recorded review, from the environment
    configuration (`evidence:` in an environment file); "pending" / None until set there."""

    preparer: str = PENDING
    approver: str = PENDING
    approval_date: str = PENDING
    last_review_date: str | None = None
    last_reviewed_commit: str | None = None
    aws_aoc_edition: str | None = None
    aws_aoc_date: str | None = None
    reviewed_rule_review: str | None = None


def attestation_of(evidence: Any) -> Attestation:
    """An `Attestation` from an environment's `evidence:` block (config.models.EvidenceConfig)."""

    def text(name: str) -> str | None:
        value = getattr(evidence, name, None)
        return None if value is None else str(value)

    return Attestation(
        preparer=text("preparer") or PENDING,
        approver=text("approver") or PENDING,
        approval_date=text("approval_date") or PENDING,
        last_review_date=text("last_review_date"),
        last_reviewed_commit=text("last_reviewed_commit"),
        aws_aoc_edition=text("aws_aoc_edition"),
        aws_aoc_date=text("aws_aoc_date"),
        reviewed_rule_review=text("reviewed_rule_review"),
    )


@dataclass(frozen=True)
class Provenance:
    generated_at: str
    commit: str
    environment: str
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    templates: tuple[tuple[str, str], ...]  # (template file, sha256)
    assets: tuple[tuple[str, str], ...]  # (CDK asset hash, source)
    attestation: Attestation
    deployed_state: str
    last_review: str

    @property
    def combined_digest(self) -> str:
        """SHA-256 over the sorted per-template SHA-256 digests (hex, one a line, each ending in a newline):
        what `sha256sum <templates> | cut -d' ' -f1 | sort | sha256sum` prints, so an assessor recomputes it."""
        return combined_digest(digest for _, digest in self.templates)

    def diagram_lines(self) -> list[str]:
        """The short block every diagram prints under its title."""
        return [
            source_date_text(self.generated_at),
            f"Commit {self.commit[:12]}{self.commit[40:]}",
            f"Environment {self.environment}, account {', '.join(self.accounts) or 'unknown'}",
            f"Prepared by {self.attestation.preparer}; approved by {self.attestation.approver}"
            f" on {self.attestation.approval_date}",
            "Deployed state: not verified" if self.deployed_state.startswith("not verified") else self.deployed_state,
            f"Templates: {len(self.templates)}, combined SHA-256 {self.combined_digest}"
            " (each: the report's provenance)",
        ]


def _git(root: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run([git, *args], cwd=root, capture_output=True, text=True, check=True)  # noqa: S603
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def generation_time(root: Path = ROOT, environ: Mapping[str, str] | None = None) -> str:
    """UTC time from SOURCE_DATE_EPOCH (reproducible-builds.org), else the commit's time: the same
    for every synth of one commit. Never the wall clock."""
    environ = os.environ if environ is None else environ
    epoch = environ.get("SOURCE_DATE_EPOCH", "").strip()
    source = "SOURCE_DATE_EPOCH"
    if not epoch.isdigit():
        epoch, source = (_git(root, "log", "-1", "--format=%ct") or ""), "commit time"
    if not epoch.isdigit():
        return "unknown (no git and SOURCE_DATE_EPOCH unset)"
    stamp = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp} ({source})"


def source_date_text(generated_at: str) -> str:
    """The one wording of the evidence's date, on the report and on every diagram: `Source date: <UTC> (<its
    source>); generation time not recorded` (`generated_at` from `generation_time`: a source date, never the
    wall clock)."""
    return f"Source date: {generated_at}; generation time not recorded"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def combined_digest(digests: Iterable[str]) -> str:
    """SHA-256 of the sorted hex digests, each followed by a newline (`... | sort | sha256sum`)."""
    return hashlib.sha256("".join(f"{d}\n" for d in sorted(digests)).encode()).hexdigest()


MANIFEST_NAME = "MANIFEST.sha256"


def write_manifest(directory: Path, files: Iterable[Path]) -> Path:
    """`<directory>/MANIFEST.sha256`: `files` (the files this run wrote, under `directory`) and the gate's
    `gate-report.json` beside them, each with its SHA-256, in `sha256sum` format and path order, so
    `sha256sum -c MANIFEST.sha256` run in the directory checks the evidence set. Only those: a file
    another run left is never listed. Nothing else (no time, no host) goes in, so one commit's synths
    write the same bytes. Raises ValueError for a file outside `directory`."""
    from compliance.gate import EVIDENCE_FILE

    target = directory / MANIFEST_NAME
    listed = {path.resolve() for path in files} | {(directory / EVIDENCE_FILE).resolve()}
    root = directory.resolve()
    rows = sorted(
        (path.relative_to(root).as_posix(), path) for path in listed if path.is_file() and path != target.resolve()
    )
    lines = [f"{_sha256(path)}  {name}\n" for name, path in rows]
    target.write_text("".join(lines), encoding="utf-8")
    return target


def listed_files(directory: Path) -> list[Path]:
    """The files `<directory>/MANIFEST.sha256` lists ([] without one)."""
    manifest = directory / MANIFEST_NAME
    if not manifest.is_file():
        return []
    return [directory / line.split("  ", 1)[1] for line in manifest.read_text(encoding="utf-8").splitlines() if line]


def clear_evidence(directory: Path) -> None:
    """Remove what an earlier evidence run wrote under `directory` (the compliance directory): the reports
    (and a PDF printed from one), the manifest, `diagrams/`, `workpapers/` and every per-environment set
    (a subdirectory holding a report); the gate's `gate-report.json` and anything else stay."""
    if not directory.is_dir():
        return
    for suffix in ("md", "html", "pdf"):
        (directory / f"{REPORT_NAME}.{suffix}").unlink(missing_ok=True)
    (directory / MANIFEST_NAME).unlink(missing_ok=True)
    for name in (DIAGRAM_DIR, WORKPAPER_DIR):
        shutil.rmtree(directory / name, ignore_errors=True)
    for child in directory.iterdir():
        if child.is_dir() and (child / f"{REPORT_NAME}.md").is_file():
            shutil.rmtree(child)


def template_digests(model: TemplateModel, outdir: Path) -> list[tuple[str, str]]:
    """(template file relative to the assembly, SHA-256 of its bytes) for every stack."""
    out = []
    for stack in model.stacks.values():
        if stack.template_path and Path(stack.template_path).is_file():
            path = Path(stack.template_path)
            try:
                name = path.resolve().relative_to(outdir.resolve()).as_posix()
            except ValueError:
                name = path.name
            out.append((name, _sha256(path)))
        else:
            canonical = json.dumps(stack.template, sort_keys=True, separators=(",", ":")).encode()
            out.append((f"{stack.name} (canonical JSON)", hashlib.sha256(canonical).hexdigest()))
    return sorted(out)


def asset_hashes(outdir: Path) -> list[tuple[str, str]]:
    """(CDK asset hash, its source) of every file and container asset in the assembly's asset
    manifests, templates excluded (their digests are listed on their own)."""
    found: dict[str, str] = {}
    for manifest in sorted(outdir.rglob("*.assets.json")):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        for asset_hash, body in (data.get("files") or {}).items():
            source = (body.get("source") or {}).get("path", "")
            if not str(source).endswith(".template.json"):
                found[asset_hash] = f"file {source} ({(body.get('source') or {}).get('packaging', 'file')})"
        for asset_hash, body in (data.get("dockerImages") or {}).items():
            found[asset_hash] = f"container image {(body.get('source') or {}).get('directory', '')}"
    return sorted(found.items())


def last_review(attestation: Attestation, root: Path = ROOT) -> str:
    """The last recorded review and what changed since (git diff --stat), or "none recorded"."""
    if not attestation.last_reviewed_commit:
        return "none recorded"
    reviewed = attestation.last_reviewed_commit
    stat = _git(root, "diff", "--shortstat", reviewed, "HEAD", "--", *REVIEWED_PATHS)
    change = "diff unavailable (commit not in this checkout)" if stat is None else (stat or "no change since")
    return f"{attestation.last_review_date or 'date not recorded'} at commit {reviewed}: {change}"


def assembly_root(model: TemplateModel, default: Path) -> Path:
    """The cloud assembly the model was read from (where the templates and asset manifests are)."""
    for stack in model.stacks.values():
        if stack.template_path:
            directory = Path(stack.template_path).parent
            return directory.parent if stack.assembly else directory
    return default


def _assets_directory(model: TemplateModel, default: Path) -> Path:
    """Where this model's asset manifests are: a Stage's own nested assembly, else the app's."""
    nested = {stack.assembly for stack in model.stacks.values()}
    if len(nested) == 1 and "" not in nested:
        for stack in model.stacks.values():
            if stack.template_path:
                return Path(stack.template_path).parent
    return assembly_root(model, default)


def provenance(
    model: TemplateModel,
    outdir: Path,
    *,
    attestation: Attestation,
    environment: str,
    root: Path = ROOT,
    commit: str | None = None,
    deployed_state: str = NOT_VERIFIED,
) -> Provenance:
    return Provenance(
        generated_at=generation_time(root),
        commit=git_commit(root) if commit is None else commit,
        environment=environment,
        accounts=tuple(sorted({s.account for s in model.stacks.values() if s.account})),
        regions=tuple(sorted({s.region for s in model.stacks.values() if s.region})),
        templates=tuple(template_digests(model, assembly_root(model, outdir))),
        assets=tuple(asset_hashes(_assets_directory(model, outdir))),
        attestation=attestation,
        deployed_state=deployed_state,
        last_review=last_review(attestation, root),
    )


def provenance_markdown(prov: Provenance) -> list[str]:
    att = prov.attestation
    out = [
        "## Provenance",
        "",
        f"- {source_date_text(prov.generated_at)} (the output is reproducible per commit; the date is"
        " SOURCE_DATE_EPOCH, else the commit time)",
        f"- Git commit: {_code(prov.commit)}",
        f"- Environment: {prov.environment}; account(s): {', '.join(prov.accounts) or 'unknown'};"
        f" region(s): {', '.join(prov.regions) or 'unknown'}",
        f"- Prepared by: {att.preparer}; approved by: {att.approver}; approval date: {att.approval_date}",
        f"- Deployed state: {prov.deployed_state}",
        f"- Last review: {prov.last_review}",
        f"- Templates: {len(prov.templates)}; combined SHA-256 {_code(prov.combined_digest)} (SHA-256 over the"
        " sorted per-template digests below, one a line: `sha256sum` of the templates, `cut -d' ' -f1 | sort |"
        " sha256sum`); every diagram prints it",
        f"- Every file of this evidence set with its SHA-256: {_code(MANIFEST_NAME)} in the evidence directory"
        " (`sha256sum -c` checks it; the manifest does not list itself)",
        "",
        "| Template | SHA-256 |",
        "| --- | --- |",
        *(f"| {_code(name)} | {_code(digest)} |" for name, digest in prov.templates),
        "",
    ]
    if prov.assets:
        out += ["| CDK asset hash | Source |", "| --- | --- |"]
        out += [f"| {_code(h)} | {_cell(source)} |" for h, source in prov.assets]
        out.append("")
    return out


# -- statements ----------------------------------------------------------------------------------------
@dataclass
class RuleOutcome:
    rule_id: str
    description: str
    examined: int  # resources the rule examined (a pass or a failure each)
    passed: list[str]
    failed: list[str]  # "path: detail", not acknowledged
    acknowledged: list[str]
    absence: bool = False  # a rule about absence that found none (examined every template)
    prerequisite: bool = False  # under a process requirement: it examined a prerequisite only
    reason: str = ""  # why its result supports the requirement's testing procedure (mapping_reasons)


@dataclass
class AcknowledgedEntry:
    rule: str
    path: str
    reason: str
    requirement: str
    owner: str
    review_by: str
    constructs: int
    approver: str = PENDING
    approval_date: str = PENDING
    ticket: str = PENDING
    adoption: str = "the project's (registry), not adopted by this environment"
    id: str = ""  # what an environment file adopts it by (`adopt: - entry: <id>`)


@dataclass
class RequirementStatus:
    """What the template evidence states about one requirement; never whether it is met."""

    requirement: str
    title: str
    status: str = NOT_EVIDENCED
    resources: list[str] = field(default_factory=list)
    rules: list[RuleOutcome] = field(default_factory=list)
    idle_rules: list[str] = field(default_factory=list)  # mapped rules that examined nothing here
    excluded_rules: list[tuple[str, str]] = field(default_factory=list)  # (rule, why it is not cited)
    config_rules: list[str] = field(default_factory=list)
    excluded_config_rules: list[tuple[str, str]] = field(default_factory=list)  # (Config rule, why not cited)
    security_hub: list[str] = field(default_factory=list)
    acknowledgments: list[AcknowledgedEntry] = field(default_factory=list)
    customer: str = ""
    process: str = ""  # the process the requirement is (PROCESS_REQUIREMENTS), its rules prerequisites only
    beyond: str = ""  # what the section states outside the templates (BEYOND_THE_TEMPLATES)
    scoped: str = ""  # what the rules examined of a requirement that names more, and what is not evidenced
    derived: str = ""  # a statement derived from the templates that no rule's result is (never changes the status)
    artefacts: list[str] = field(default_factory=list)
    procedure: str = ""
    limits: str = ""


def _sort_key(requirement: str) -> tuple[int, ...]:
    return tuple(int(part) for part in requirement.split("."))


def _acknowledged_paths(report: GateReport) -> dict[str, tuple[str, ...]]:
    """Rule id (any plugin's, the part after its last "::") -> the construct paths CDK recorded its
    findings as acknowledged at."""
    paths: dict[str, list[str]] = {}
    for finding in report.acknowledged:
        paths.setdefault(finding.rule.split("::")[-1], []).append(finding.path)
    return {rule_id: tuple(found) for rule_id, found in paths.items()}


def _acknowledged_check(rule_id: str, check: Check, acknowledged: Mapping[str, Sequence[str]]) -> bool:
    """A failed check whose finding CDK recorded as acknowledged (any plugin naming the rule) at the
    check's resource or a construct above it; `acknowledged` is `_acknowledged_paths` of the gate report."""
    path = check.resource.path
    return any(path == found or path.startswith(found + "/") for found in acknowledged.get(rule_id, ()))


NOT_ADOPTED_REGISTRY = "the project's (registry), not adopted by this environment"


def not_adopted_construct(construct_type: str) -> str:
    """How the register names a justification a reusable construct carries, until an environment adopts it."""
    return f"the project's (construct {construct_type}), not adopted"


def _acknowledgment_entries(gate: Gate) -> list[tuple[AcknowledgedEntry, list[str]]]:
    """Every applied acknowledgment with its governance, from compliance.applied (issue 18's API).

    Who answers for it: an entry adopted by exactly one environment of this evidence set shows the
    adopter's risk owner, approver, approval date and ticket ("pending" where the environment file
    leaves them out); one adopted by several lists each adoption; otherwise the entry's own governance,
    labelled as the project's registry entry or the project's construct justification (both "not
    adopted"), or as the environment file's own. Adoption never changes whether the gate passes."""
    from compliance.applied import applied_acknowledgments
    from compliance.registry import PROJECT_REGISTRY

    out = []
    for applied in applied_acknowledgments(gate):
        if not applied.constructs:
            continue
        governance = applied.governance
        origin = (
            f"the project's construct {applied.entry.carried_by} justification"
            if applied.entry.carried_by
            else "the project's registry entry"
        )
        if len(applied.adoptions) == 1:
            adoption_record = applied.adoptions[0]
            governance = adoption_record.governance
            adoption = (
                f"adopted by {adoption_record.environment} (risk owner {governance.owner}) from {origin}"
                f" {applied.id} (owner {applied.governance.owner})"
            )
            if adoption_record.problems:
                adoption += "; adoption problems: " + "; ".join(adoption_record.problems)
        elif applied.adoptions:
            adoption = "; ".join(
                f"adopted by {a.environment} (risk owner {a.governance.owner}, approver {a.governance.approver},"
                f" approved {a.governance.approval_date}, ticket {a.governance.ticket},"
                f" review by {a.governance.review_by.isoformat()})"
                for a in applied.adoptions
            )
            adoption += f" from {origin} {applied.id}"
        elif applied.entry.carried_by:
            adoption = not_adopted_construct(applied.entry.carried_by)
        elif applied.source == PROJECT_REGISTRY:
            adoption = NOT_ADOPTED_REGISTRY
        else:
            adoption = f"the environment's own ({applied.source})"
        out.append(
            (
                AcknowledgedEntry(
                    rule=applied.rule,
                    path=applied.selector,
                    reason=applied.reason,
                    requirement=applied.requirement,
                    owner=governance.owner,
                    review_by=governance.review_by.isoformat(),
                    constructs=len(applied.constructs),
                    approver=governance.approver,
                    approval_date=str(governance.approval_date),
                    ticket=governance.ticket,
                    adoption=adoption,
                    id=applied.id,
                ),
                _requirements_of(applied.requirement),
            )
        )
    return sorted(out, key=lambda item: (item[0].rule, item[0].path))


_IAM_USER_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):user/(.+)$")


def trusted_iam_users(model: TemplateModel) -> list[tuple[str, str, str]]:
    """(account, user name, role it may assume) for every IAM user a role's trust policy in the templates names:
    the templates create none (PCI4-IAM-NO-USERS), so each is an identity outside them."""
    found = set()
    for role in model.resources("AWS::IAM::Role"):
        for statement in role.prop("AssumeRolePolicyDocument", "Statement", default=[]) or []:
            if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
                for arn in _trusted(statement):
                    if (match := _IAM_USER_ARN.match(arn)) is not None:
                        found.add((match[1], match[2], display_name(role)))
    return sorted(found)


def break_glass_principals(model: TemplateModel) -> list[tuple[str, str]]:
    """(principal, role) for every principal a break-glass role's trust policy allows
    (pci_constructs.operator_roles: the `BreakGlass` role, created only when principals are configured)."""
    found: set[tuple[str, str]] = set()
    for role in model.resources("AWS::IAM::Role"):
        if "/BreakGlass/" not in f"/{role.path}/":
            continue
        for statement in role.prop("AssumeRolePolicyDocument", "Statement", default=[]) or []:
            if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
                found.update((who, display_name(role)) for who in _trusted(statement))
    return sorted(found)


def password_policy_accounts(model: TemplateModel) -> list[str]:
    """The accounts whose IAM password policy the templates set (an `updateAccountPasswordPolicy` SDK call)."""
    accounts = set()
    for resource in model.resources("Custom::AWS"):
        call = sdk_call(resource)
        if call is not None and call.get("action") == "updateAccountPasswordPolicy":
            accounts.add(model.stack_of(resource).account or "unknown")
    return sorted(accounts)


def beyond_the_templates(model: TemplateModel) -> dict[str, str]:
    """`BEYOND_THE_TEMPLATES` stated for this model: the IAM users its trust policies name with their accounts, and
    for the password requirements whether the policy the templates set is in those users' account (QSA reader
    r20c MEDIUM 2: the examined policy governed an account with no IAM user, the break-glass user's account none
    of the templates). A password requirement left out reads as its rules' results say."""
    users = trusted_iam_users(model)
    others = [(who, role) for who, role in break_glass_principals(model) if not _IAM_USER_ARN.match(who)]
    people = "; nor are people and identity-provider accounts outside AWS IAM"
    if users:
        named = "; ".join(
            f"the IAM user {user} of account {account} (arn:aws:iam::{account}:user/{user}, trusted by the role {role})"
            for account, user, role in users
        )
        stated = f"{named}: it exists outside the templates, so its ID management and authentication are not evidenced"
    elif others:
        stated = (
            "no role's trust policy in these templates names an IAM user; the break-glass role trusts "
            + "; ".join(f"{who} (role {role})" for who, role in others)
            + ", principals outside the templates whose ID management and authentication are not evidenced"
        )
    else:
        stated = (
            "no break-glass principal is trusted in these templates (no break-glass role, and no role's trust"
            " policy names an IAM user); the identities that sign in to these accounts are outside them, so"
            " their ID management and authentication are not evidenced"
        )
    out = {
        requirement: stated + (people if requirement == "8.2.2" else "")
        for requirement in TRUSTED_PRINCIPAL_REQUIREMENTS
    }
    if not users:
        return out
    examined = password_policy_accounts(model)
    elsewhere = sorted({account for account, _, _ in users} - set(examined))
    if elsewhere:
        policy = (
            f"the IAM password policy the templates set is that of account {', '.join(examined)}, where they create"
            " no IAM user (PCI4-IAM-NO-USERS), so it governs no user they name"
            if examined
            else "no template sets an IAM password policy"
        )
        for requirement in PASSWORD_POLICY_REQUIREMENTS:
            out[requirement] = (
                f"{policy}; the IAM users that sign in with a password are {named}, and no template sets the"
                f" password policy of account {', '.join(elsewhere)}: not evidenced"
            )
    return out


def scoped_log_statements(model: TemplateModel) -> dict[str, str]:
    """10.3.2, 10.3.3 and 10.3.4 scoped to what the synth rules examined, the other log sources of the logging paper
    named "not evidenced" (QSA reader r20c MEDIUM 4; 10.3.2: r20d). PCI DSS v4.0.1 10.3.3: audit log files,
    "including those for external-facing technologies", are promptly backed up to a secure, central, internal log
    server or other media that is difficult to modify; 10.3.4: file integrity monitoring or change-detection
    mechanisms on audit logs so that existing log data cannot be changed "without generating alerts". The rules
    examine the trail only: its log-file validation writes signed digest files, which a person validates on demand
    (`aws cloudtrail validate-logs`: "Validating CloudTrail log file integrity with the AWS CLI", AWS CloudTrail
    User Guide; "validate-logs", AWS CLI Command Reference) and which raise no alert of their own, so even for the
    trail 10.3.4's alert is not evidenced, as versioning is not (`evidence.catalog.RELATED_NOT_EVIDENCE`). 10.3.3
    and 10.3.4 are left out when the templates configure no trail; 10.3.2 when they configure no log."""
    flows = log_flows(model)
    stores = sorted({f.destination_text for f in flows})
    # 10.3.2 (QSA reader r20d): its rules examine encryption, retention and the trail's digests; encryption keeps
    # logs confidential, it does not stop a principal allowed to write or delete them from altering them.
    modification = (
        "examined: the log groups' and the trail's encryption and retention, and the trail's signed digest files;"
        " encryption is not protection from modification (whoever may write, delete or re-key a log store alters"
        " it through the encryption), and a digest shows a change only when someone validates it; not evidenced:"
        f" who could delete or alter each of the {len(stores)} log stores of the logging paper"
        f" ({'; '.join(stores)}), through its resource, key and IAM policies"
    )
    trails = sorted({f.source for f in flows if f.source.startswith("CloudTrail trail")})
    if not trails:
        return {"10.3.2": modification} if stores else {}
    others = sorted({f.source for f in flows if not f.source.startswith("CloudTrail trail")})
    external = sorted(
        {f"{f.source} -> {f.destination_text}" for f in flows if f.source.startswith(_EXTERNAL_FACING_LOGS)}
    )
    other_text = f"the other {len(others)} log sources of the logging paper ({'; '.join(others)})" if others else ""
    change = (
        f"examined: {', '.join(trails)}, whose log-file validation writes signed digest files; a change to delivered"
        " log files is detected only when someone validates them (on demand), and no alert is raised, so the"
        " alert 10.3.4 asks is not evidenced even for the trail"
    )
    backup = (
        f"examined: {', '.join(trails)} (its central archive and CloudWatch Logs), and the audit-log exports of"
        " databases and brokers where the templates declare them"
    )
    if other_text:
        change += f"; not evidenced: change detection with alerts on {other_text}"
        backup += f"; not evidenced: a backup to a central store difficult to modify of {other_text}"
    if external:
        backup += (
            "; of them, the external-facing technologies' logs stay where they are written, in their own region"
            f" ({'; '.join(external)})"
        )
    return {"10.3.2": modification, "10.3.3": backup, "10.3.4": change}


_EXTERNAL_FACING_LOGS = ("AWS WAF", "load balancer", "Network Firewall")


def _pan_store_text(store: Resource) -> str:
    """A store that may hold PAN, named as the logging paper names it, with who writes it and its encryption."""
    if store.type == "AWS::S3::Bucket":
        rules = store.prop("BucketEncryption", "ServerSideEncryptionConfiguration", default=[]) or []
        algorithms = {
            str((r.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm"))
            for r in rules
            if isinstance(r, Mapping)
        }
        encryption = "SSE-KMS" if algorithms & {"aws:kms", "aws:kms:dsse"} else "SSE-S3"
        return f"Bucket {display_name(store)} ({store.stack}), written by Elastic Load Balancing, {encryption}"
    encryption = "a KMS key" if store.prop("KmsKeyId") else "CloudWatch Logs' default encryption"
    return f"LogGroup {display_name(store)} ({store.stack}), written by AWS WAF, {encryption}"


def _pgaudit_text(model: TemplateModel) -> str:
    """What the database parameter groups of the templates configure of pgaudit (the PostgreSQL audit extension).

    pgaudit's object auditing logs the statements on objects `pgaudit.role` holds privileges on ("Auditing
    database objects", Amazon RDS User Guide); which objects and privileges is the vault's migrations' (SQL,
    not a template: they grant the role UPDATE/DELETE of card and key rows, no SELECT), so a read of card data
    is not in the database log."""
    groups = list(model.resources("AWS::RDS::DBParameterGroup", "AWS::RDS::DBClusterParameterGroup"))
    preloading = [g for g in groups if "pgaudit" in str(g.prop("Parameters", "shared_preload_libraries", default=""))]
    if not preloading:
        return "no database parameter group of the templates preloads pgaudit"
    roles = sorted(
        {str(g.prop("Parameters", "pgaudit.role")) for g in preloading if g.prop("Parameters", "pgaudit.role")}
    )
    sessions = sorted({str(g.prop("Parameters", "pgaudit.log", default="none")) for g in preloading})
    return (
        f"the database parameter groups preload pgaudit with object auditing through {', '.join(roles) or 'no role'}"
        f" (session classes: {', '.join(sessions)}), which logs statements on the objects and privileges the vault's"
        " migrations grant that role (changes to card and key rows, not reads of card data)"
    )


def scoped_card_data_statements(model: TemplateModel) -> dict[str, str]:
    """3.5.1 and 10.2.1.1 scoped to what the synth rules examined (QSA reader r20e HIGH 1 and MEDIUM 3).

    3.5.1 (PAN rendered unreadable anywhere it is stored): the rules examine the card vault's functions, whose
    field-level envelope encryption and keyed hash are the templates' only 3.5.1 mechanism, and they reach only
    the PAN the vault writes. A store `evidence.scope.card_data_stores` says "may hold PAN" (the load balancer's
    access-log bucket, a WAF log group that does not redact the URL) is written by AWS itself (Elastic Load
    Balancing, AWS WAF), never through the vault, so no 3.5.1 mechanism covers it: its storage encryption is
    3.5.1.2's subject, not a method that renders PAN unreadable. Each such store is named "not evidenced".

    10.2.1.1 (audit logs capture all individual user access to cardholder data): the trail's Lambda invoke data
    events record the IAM principal that invoked a vault function, and for the API function that principal is
    the load balancer's, not the client; pgaudit object auditing logs changes, not reads. What records the individual
    access is the vault's application audit, the `vault.detokenize_audit` table (migrations 0011 and 0020: one row
    per detokenize call, with its caller alias, reason code, ticket and Lambda request ID), which is data, not a
    template: it is named as what to examine."""
    out: dict[str, str] = {}
    stores = card_data_stores(model)
    open_stores = []
    for key, (holds, _statement) in sorted(stores.items()):
        resource = model.resource(*key)
        if holds and resource is not None:
            open_stores.append(_pan_store_text(resource))
    vault = [fn for fn in model.resources("AWS::Lambda::Function") if card_data(fn) is not None]
    if open_stores:
        out["3.5.1"] = (
            "examined: the card vault's functions, whose field-level envelope encryption and keyed hash render the"
            " PAN the vault stores unreadable; not evidenced: PAN in the "
            f"{len(open_stores)} store{'s' if len(open_stores) != 1 else ''} the data-stores paper says may hold it"
            f" ({'; '.join(open_stores)}), from request URLs, incl. requests WAF blocked, which no 3.5.1 mechanism of"
            " the templates reaches (AWS writes them, never the vault): storage encryption is transparent to any"
            " reader allowed to read them and does not render PAN unreadable"
        )
    if vault:
        out["10.2.1.1"] = (
            "examined: the trail's Lambda invoke data events, which record the IAM principal that invoked each"
            " vault function; for the API function that principal is the load balancer's, not the client, and"
            f" {_pgaudit_text(model)}, so individual user access is not evidenced by the templates; not evidenced:"
            " the vault's application audit, the `vault.detokenize_audit` table (one row"
            " per detokenize call: caller alias, reason code, ticket, Lambda request ID, outcome; migrations"
            " `0011_detokenize_audit.sql` and `0020_detokenize_audit_caller.sql`), whose rows the assessor examines"
            " with the deployed database"
        )
    return out


def bucket_transport(model: TemplateModel, bucket: Resource) -> tuple[list[str], str | None, list[str]]:
    """(Sids of the bucket-policy Denies that refuse a plain-HTTP `s3:PutObject` to an object of the bucket by
    any principal, the minimum TLS version a `NumericLessThan s3:TlsVersion` Deny sets, the principals the policy
    allows to put objects). Evaluated with `evidence.iam_eval` on the bucket policy as the template writes it:
    a Deny to every principal of `s3:PutObject` where `Bool aws:SecureTransport false` (the policy AWS gives
    for the s3-bucket-ssl-requests-only rule, AWS Knowledge Center "How do I comply with the AWS Config rule
    s3-bucket-ssl-requests-only"; an explicit deny overrides the allow, IAM User Guide "Policy evaluation
    logic")."""
    statements = [
        s
        for policy in model.attached(bucket, "AWS::S3::BucketPolicy", "Bucket")
        for s in policy.prop("PolicyDocument", "Statement", default=[]) or []
        if isinstance(s, Mapping)
    ]
    arn = f"arn:aws:s3:::{bucket.logical_id.lower()}"
    known = {f"{bucket.logical_id}.Arn": arn, bucket.logical_id: bucket.logical_id.lower()}
    plain: list[str] = []
    for statement in statements:
        condition = statement.get("Condition") or {}
        everyone = statement.get("Principal") in ("*", {"AWS": "*"})
        if statement.get("Effect") != "Deny" or not everyone or list(condition) != ["Bool"]:
            continue
        rendered = render(dict(statement), known)
        request = Request("s3:PutObject", f"{arn}/AWSLogs/object", {"aws:SecureTransport": "false"})
        if denied_by([rendered], request):
            plain.append(f"the Deny {statement['Sid']}" if statement.get("Sid") else "a Deny (no Sid)")
    minimum = next(
        (
            str(s["Condition"]["NumericLessThan"]["s3:TlsVersion"])
            for s in statements
            if s.get("Effect") == "Deny"
            and "s3:TlsVersion" in json.dumps((s.get("Condition") or {}).get("NumericLessThan"))
        ),
        None,
    )
    writers = sorted(
        {
            f"{kind} {value}"
            for s in statements
            if s.get("Effect") == "Allow" and "s3:PutObject" in json.dumps(s.get("Action"))
            for kind, values in (s.get("Principal") or {}).items()
            for value in (values if isinstance(values, list) else [values])
            if isinstance(value, str)
        }
    )
    return plain, minimum, writers


def transit_statements(model: TemplateModel) -> dict[str, str]:
    """4.2.1 (QSA reader r20d LOW): the load balancers' access-log buckets, where Elastic Load Balancing delivers
    each request line (URL and query string, so a card number a client puts there) from the load balancer's
    region. That delivery is AWS's own service-to-S3 call, not transmission over an open, public network, but it
    carries card data, so its transport is stated from each bucket's policy (`bucket_transport`): TLS only when a
    Deny to every principal refuses a plain-HTTP PutObject, with the minimum TLS version and the principals the
    policy lets write. A statement only: it does not change the requirement's template evidence. Empty when no
    load balancer writes access logs to a bucket of the templates."""
    buckets = lb_access_log_buckets(model)
    if not buckets:
        return {}
    parts = []
    for bucket in buckets:
        plain, minimum, writers = bucket_transport(model, bucket)
        if plain:
            text = f"TLS only: {', '.join(plain)} denies every principal a request without aws:SecureTransport"
            text += f", minimum TLS {minimum} (s3:TlsVersion)" if minimum else ", no minimum TLS version"
        else:
            text = "plain HTTP not denied by the bucket policy"
        writer_text = f"; written by {', '.join(writers)}" if writers else ""
        parts.append(f"Bucket {display_name(bucket)} ({bucket.stack}): {text}{writer_text}")
    return {
        "4.2.1": (
            "the load balancers' access logs, which record each request line with its URL and query string (card"
            " data a client puts there), are delivered by Elastic Load Balancing to S3 inside AWS, not over an open,"
            " public network; the transport each destination bucket's policy requires of that delivery: "
            + "; ".join(parts)
        )
    }


def requirement_statuses(
    results: Sequence[RuleResult],
    gate: Gate,
    report: GateReport,
    config_rules: Sequence[ConfigRule] | None = None,
    beyond: Mapping[str, str] | None = None,
    scoped: Mapping[str, str] | None = None,
    derived: Mapping[str, str] | None = None,
) -> list[RequirementStatus]:
    """One statement per requirement in scope (named by a rule, a Config rule, the customer table or
    the diagrams): open findings > findings under exception > examined, no findings > diagram
    generated > not evidenced. A rule counts for a requirement only when it examined at least one
    resource and the requirement is one of its `requirements` (a `related` one is named with its reason,
    `RELATED_NOT_EVIDENCE`, never counted); an acknowledgment counts
    only through the v4.0.1 rule whose finding it accepts (other packs' acknowledgments cite a
    requirement in the exception register but never decide a statement)."""
    config_rules = conformance_rules() if config_rules is None else config_rules
    statuses: dict[str, RequirementStatus] = {}

    def status(requirement: str) -> RequirementStatus:
        if requirement not in statuses:
            statuses[requirement] = RequirementStatus(requirement, title(requirement))
        return statuses[requirement]

    rule_ids = {result.rule.id for result in results}
    acknowledged_at = _acknowledged_paths(report)
    for result in results:
        for requirement in result.rule.requirements:
            # A check may bear on some of the rule's requirements only (pci_rules.rule.Check.requirements).
            checks = result.for_requirement(requirement)
            passed = sorted({c.resource.path for c in checks if c.passed})
            failing = [(c, _acknowledged_check(result.rule.id, c, acknowledged_at)) for c in checks if not c.passed]
            failed = sorted(f"{c.resource.path}: {c.detail}" for c, under_exception in failing if not under_exception)
            acked = sorted(f"{c.resource.path}: {c.detail}" for c, under_exception in failing if under_exception)
            entry = status(requirement)
            if not checks and result.rule.absence:
                # A rule about something that must not exist: finding none in every template is the
                # evidence (pci_rules.rule.Rule.absence), stated as such.
                outcome = RuleOutcome(
                    result.rule.id,
                    result.rule.description,
                    0,
                    [],
                    [],
                    [],
                    absence=True,
                    reason=MAPPING_REASONS.get((result.rule.id, requirement), ""),
                )
                entry.rules.append(outcome)
            elif not checks:
                entry.idle_rules.append(result.rule.id)
            else:
                outcome = RuleOutcome(
                    result.rule.id,
                    result.rule.description,
                    len(checks),
                    passed,
                    failed,
                    acked,
                    prerequisite=requirement in PROCESS_REQUIREMENTS,
                    reason=MAPPING_REASONS.get((result.rule.id, requirement), ""),
                )
                entry.rules.append(outcome)
                entry.resources = sorted(set(entry.resources) | set(passed))
        for requirement in result.rule.related:
            # Supported, not evidenced (pci_rules.rule.Rule.related): named under the requirement, never counted.
            why = RELATED_NOT_EVIDENCE.get((result.rule.id, requirement), "no reviewed reason")
            status(requirement).excluded_rules.append((result.rule.id, why))
    excluded_config: list[tuple[str, str, str]] = []
    for rule in config_rules:
        for requirement in rule.requirements:
            unrelated_config = UNRELATED_CONFIG_RULES.get((rule.name, requirement))
            if unrelated_config:
                excluded_config.append((requirement, rule.name, unrelated_config))
            else:
                status(requirement).config_rules.append(rule.name)
    by_source = {r.source: r for r in config_rules}
    for control in SECURITY_HUB_CONTROLS:
        if control.config_rule in by_source:
            for requirement in control.requirements:
                # AWS maps the control; where the review excludes its Config rule from the requirement (r20b
                # finding 9: S3.5 under 4.2.1 is internal transit), it is named with that reason, not cited.
                unrelated_hub = UNRELATED_CONFIG_RULES.get((by_source[control.config_rule].name, requirement))
                if unrelated_hub:
                    excluded_config.append((requirement, f"Security Hub {control.control_id}", unrelated_hub))
                else:
                    status(requirement).security_hub.append(control.control_id)
    for ack, requirements in _acknowledgment_entries(gate):
        rule_id = ack.rule.split("::")[-1]
        if rule_id not in rule_ids:
            continue  # another pack's finding: in the exception register, not behind a statement
        for requirement in requirements:
            entry = status(requirement)
            if any(o.rule_id == rule_id for o in entry.rules):
                entry.acknowledgments.append(ack)
    for requirement, duty in CUSTOMER_RESPONSIBILITIES.items():
        status(requirement).customer = duty
    for requirement in (*DIAGRAM_REQUIREMENTS, *STATED_REQUIREMENTS):
        status(requirement)
    for requirement, name, why in excluded_config:
        if requirement in statuses:  # an exclusion alone does not bring a requirement into scope
            statuses[requirement].excluded_config_rules.append((name, why))

    for entry in statuses.values():
        procedure = TESTING_PROCEDURES.get(entry.requirement)
        # Every requirement the rule pack and the statements cite has its procedure (tests freeze it); one
        # added elsewhere (a Config rule's metadata, the customer table) is named at the requirement.
        entry.procedure = (
            f"{procedure[0]} ({procedure[1]})"
            if procedure
            else f"{entry.requirement} (no testing procedure catalogued for template evidence)"
        )
        entry.limits = LIMITS.get(entry.requirement, LIMIT_DEFAULT)
        if beyond is not None and entry.requirement in TRUSTED_PRINCIPAL_REQUIREMENTS and beyond.get(entry.requirement):
            entry.limits = beyond[entry.requirement]  # the principals this model's trust policies name
        entry.process = PROCESS_REQUIREMENTS.get(entry.requirement, "")
        entry.beyond = (BEYOND_THE_TEMPLATES if beyond is None else beyond).get(entry.requirement, "")
        entry.scoped = (scoped or {}).get(entry.requirement, "") if entry.rules else ""
        entry.derived = (derived or {}).get(entry.requirement, "")
        examined = [o for o in entry.rules if not o.absence]
        if any(o.failed for o in entry.rules):
            entry.status = OPEN
        elif entry.acknowledgments or any(o.acknowledged for o in entry.rules):
            entry.status = EXCEPTED
        elif entry.process:
            entry.status = NOT_EVIDENCED  # its rules examined prerequisites only
        elif entry.beyond and entry.requirement in PASSWORD_POLICY_REQUIREMENTS:
            entry.status = NOT_EVIDENCED  # the policy examined governs no user the section names
        elif entry.scoped:
            entry.status = NOT_EVIDENCED  # the rules examined part of what the requirement names
        elif examined:
            entry.status = PASSED
        elif entry.rules and not entry.beyond:
            entry.status = ABSENCE
        elif entry.requirement in DIAGRAM_REQUIREMENTS:
            entry.status = GENERATED
        elif entry.requirement in NOT_APPLICABLE_REQUIREMENTS:
            entry.status = NOT_APPLICABLE
        else:
            entry.status = NOT_EVIDENCED
        if entry.status == NOT_EVIDENCED and not entry.customer:
            if entry.process:
                entry.customer = (
                    f"The requirement is a process ({entry.process}): evidence it with its records, documentation"
                    " and interviews; the templates show only its prerequisites."
                )
            elif entry.beyond:
                entry.customer = f"Evidence what lies beyond the templates: {entry.beyond}."
            elif entry.scoped:
                entry.customer = (
                    "Evidence what the synth rules did not examine (the scope line above), with the deployed"
                    " configuration and the records it names (change detection, backups, the stores' contents,"
                    " the vault's audit rows)."
                )
            elif entry.config_rules:
                entry.customer = (
                    "No synth rule examined a resource for this in the templates: keep the deployed account"
                    f" compliant with {', '.join(sorted(entry.config_rules))} (and the Security Hub {STANDARD}"
                    " standard)."
                )
            else:
                entry.customer = (
                    "No synth rule examined a resource for this and no Config rule watches it: the customer"
                    " evidences it with documentation, interviews and observation of the deployed environment."
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
    # The pages the HTML shows (evidence.pages: an overview, then one per section); the full drawing
    # itself is then a reference file only, not embedded.
    pages: list[DiagramFiles] = field(default_factory=list)

    @property
    def shown(self) -> list[DiagramFiles]:
        """What the report embeds: the pages, or the drawing itself when it has none."""
        return self.pages or [self]


def every_drawing(diagrams: Sequence[DiagramFiles]) -> list[DiagramFiles]:
    """Each full drawing followed by its pages: every file set the evidence writes."""
    return [d for built in diagrams for d in (built, *built.pages)]


def build_diagrams(
    model: TemplateModel,
    topology: Topology | None = None,
    provenance_lines: Sequence[str] = (),
    scope: ScopeModel | None = None,
    assembly: Path | None = None,
) -> list[DiagramFiles]:
    """Network and data-flow diagrams for each region that has a network, in region order, then the
    environment's security-services diagram (audit chain, detection, keys, deployment and access
    paths), each carrying the provenance block under its title."""
    topology = Topology(model) if topology is None else topology
    scope = ScopeModel(model, topology) if scope is None else scope
    diagrams: list[Diagram] = []
    for region_topology in topology.regions.values():
        diagrams += [network_diagram(region_topology, scope), data_flow_diagram(model, region_topology, scope)]
    if topology.regions:
        diagrams.append(services_diagram(model, scope, assembly))
    return [
        DiagramFiles(
            d,
            to_mermaid(d, provenance_lines),
            to_dot(d, provenance_lines),
            pages=[DiagramFiles(p, to_mermaid(p, provenance_lines), to_dot(p, provenance_lines)) for p in pages(d)],
        )
        for d in diagrams
    ]


def _run_dot(directory: Path, name: str, formats: Sequence[str]) -> None:
    """One `dot` process for one drawing: it lays the graph out once and writes every format from that
    layout (`-Tsvg -o x.svg -Tpng -o x.png`, https://graphviz.org/doc/info/command.html). Raises
    RuntimeError when `dot` fails."""
    dot = shutil.which("dot")
    assert dot is not None
    command = [dot, *(a for f in formats for a in (f"-T{f}", "-o", f"{name}.{f}")), f"{name}.dot"]
    done = subprocess.run(command, cwd=directory, capture_output=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"dot failed on {name}.dot: {done.stderr.decode(errors='replace').strip()}")


def _dot_pool() -> concurrent.futures.ThreadPoolExecutor:
    """Threads that each wait on one `dot` child process: at most the CPU count run at once."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1))


def render_diagrams(directory: Path, diagrams: Sequence[DiagramFiles]) -> Callable[[], None]:
    """Write .mmd and .dot; with `dot` on PATH, start rendering the SVG of every drawing (each diagram's
    whole drawing and its pages), at most the CPU count of `dot` processes at once. PNG is not rendered
    here: rasterizing was about three quarters of `dot`'s CPU, the report embeds the SVG and links it, and
    `add_png` (`make evidence-png`) adds a PNG of every drawing on request.

    Returns a function that waits for the renders and records their files (call it before reading
    `svg`); raises RuntimeError there when `dot` fails on a diagram.
    """
    directory.mkdir(parents=True, exist_ok=True)
    drawings = every_drawing(diagrams)
    for built in drawings:
        name = built.diagram.name
        (directory / f"{name}.mmd").write_text(built.mermaid, encoding="utf-8")
        (directory / f"{name}.dot").write_text(built.dot, encoding="utf-8")
        built.files = [f"{DIAGRAM_DIR}/{name}.mmd", f"{DIAGRAM_DIR}/{name}.dot"]
    if shutil.which("dot") is None:
        return lambda: None
    pool = _dot_pool()
    running = [(built, pool.submit(_run_dot, directory, built.diagram.name, ("svg",))) for built in drawings]
    for built in drawings:
        built.files.append(f"{DIAGRAM_DIR}/{built.diagram.name}.svg")

    def wait() -> None:
        try:
            for built, future in running:
                future.result()
                path = directory / f"{built.diagram.name}.svg"
                built.svg = fix_viewbox(path.read_text(encoding="utf-8"))
                if not built.pages:  # a drawing the report shows: each number nearest its own arrow
                    built.svg = place_labels(built.svg)
                path.write_text(built.svg, encoding="utf-8")
        finally:
            pool.shutdown(cancel_futures=True)

    return wait


def add_png(directory: Path) -> list[Path]:
    """A PNG beside every drawing of the evidence set in `directory` (the compliance directory, the
    per-environment sets included), laid out from its `.dot` as the synth's SVG was, then the manifest
    rewritten to list them with the files it listed. Returns the PNG files. Raises RuntimeError without
    `dot` on PATH or when it fails, FileNotFoundError when `directory` has no manifest (no synth ran)."""
    if shutil.which("dot") is None:
        raise RuntimeError("Graphviz's dot is not on PATH (apt-get install graphviz)")
    listed = listed_files(directory)
    if not listed:
        raise FileNotFoundError(f"{directory / MANIFEST_NAME}: no evidence set here (run the synth first)")
    sources = [p for p in listed if p.suffix == ".dot"]
    with _dot_pool() as pool:
        jobs = [pool.submit(_run_dot, p.parent, p.stem, ("png",)) for p in sources]
        for job in jobs:
            job.result()
    written = [p.with_suffix(".png") for p in sources]
    write_manifest(directory, [*listed, *written])
    return written


# -- scope and stored PAN ------------------------------------------------------------------------------
def scope_markdown(model: TemplateModel, scope: ScopeModel, assembly: Path | None) -> list[str]:
    """The scope the templates support: CDE components with their basis, the connected-to count,
    payment channels, wireless, and everything referenced but not created (unverified)."""
    rows = []
    connected = 0
    bases: dict[tuple[str, str], int] = {}
    for resource in model.resources():
        category, basis = scope.category(resource)
        if category == CDE:
            rows.append((model.stack_of(resource).region or "-", resource.type, resource.path, basis))
        else:
            connected += 1
            # One row per (category, basis): a count, the inventory paper lists each resource.
            bases[(category, basis)] = bases.get((category, basis), 0) + 1
    others = sorted({s.account for s in model.stacks.values() if s.account} - scope.cde_accounts)
    tooling = sorted({s.account for s in model.stacks.values() if s.account in others and scope.deployment_stack(s)})
    why = "because every one shares the CDE's account"
    if others:
        why = (
            f"because every one is in a CDE account ({', '.join(sorted(scope.cde_accounts))}) or, in account"
            f" {', '.join(others)}, "
            + (
                "is the delivery tooling that deploys the CDE's stacks (security-impacting)"
                if tooling == others
                else "is security-impacting as its basis states"
            )
        )
    out = [
        "## Scope the templates support",
        "",
        "CDE: every component that stores, processes or transmits PAN, read from the templates (the"
        " diagrams draw the same boundary). Each other resource of these accounts is connected-to or"
        f" security-impacting ({connected} resources: network, keys, logs, monitoring, identity, deployment);"
        f" none is out of scope, {why}. An assessor confirms the boundary.",
        "",
        "| Region | Type | Construct path | Basis |",
        "| --- | --- | --- | --- |",
        *(f"| {r} | {_code(t)} | {_code(p)} | {_cell(b)} |" for r, t, p, b in sorted(rows)),
        "",
        "### Scope documentation and confirmation (12.5.2)",
        "",
        "PCI DSS v4.0.1 12.5.2: scope is documented and confirmed by the entity at least once every 12 months"
        " and upon significant change. The templates' share: every resource that is not CDE, counted by its"
        " category and the basis derived from what the templates give it to do (the inventory work paper"
        " lists each). The confirmation itself (who confirmed the scope, when): not evidenced.",
        "",
        "| Category | Basis | Resources |",
        "| --- | --- | --- |",
        *(f"| {c} | {_cell(b)} | {n} |" for (c, b), n in sorted(bases.items())),
        "",
        "Payment channels:",
        "",
        "| Channel | In the templates | Basis |",
        "| --- | --- | --- |",
        *(f"| {c} | {p} | {_cell(b)} |" for c, p, b in payment_channels(model, scope)),
        "",
        f"- {wireless_statement(model)}",
        "",
        f"### {CDE_OUTSIDE}",
        "",
        "Systems the templates do not create that send or receive PAN: CDE by what they do, their controls"
        " not shown by the templates (12.8 where a third party runs one).",
        "",
        "| System | Referenced by | Basis |",
        "| --- | --- | --- |",
        *(f"| {w} | {_code(r)} | {_cell(b)} |" for w, r, b in cde_outside_templates(model, scope)),
        "",
        "### Outside the templates: unverified",
        "",
        "Referenced by the templates or the assembly but created elsewhere (derived from parameters,"
        " imports, literal ARNs, S3 object names, the Secrets Manager transform and the assembly manifest):"
        " nothing here shows they exist or how they are configured.",
        "",
        "| Kind | Reference | Referenced by | How |",
        "| --- | --- | --- | --- |",
    ]
    for ext in outside_templates(model, assembly):
        users = ", ".join(_code(u) for u in ext.used_by[:3]) + (
            f" and {len(ext.used_by) - 3} more" if len(ext.used_by) > 3 else ""
        )
        out.append(f"| {ext.kind} | {_code(ext.reference)} | {users} | {_cell(ext.basis)} |")
    out.append("")
    return out


def stored_pan_facts(model: TemplateModel, scope: ScopeModel) -> dict[str, list[str]]:
    """What the templates configure for 3.5.1, 3.5.1.1, 3.5.1.2 and 3.5.1.3 (statements, not verdicts),
    each naming the testing procedure it supports."""
    facts: dict[str, list[str]] = {"3.5.1": [], "3.5.1.1": [], "3.5.1.2": [], "3.5.1.3": []}
    hashed = False
    for fn in scope.vault_functions:
        for grant in grants(model, fn):
            if grant.target.key in scope.envelope_keys and any("GenerateDataKey" in a for a in grant.actions):
                rotation = "on" if grant.target.prop("EnableKeyRotation") else "off"
                context = "required" if grant.conditional else "not required"
                facts["3.5.1"].append(
                    f"{_code(fn.path)} generates data keys under {alias_of(model, grant.target)}"
                    f" ({_code(grant.target.path)}, rotation {rotation}; encryption context {context}):"
                    " field-level AES-256-GCM envelope encryption of each PAN before it is stored"
                    " (`lambda/card_vault/envelope.py`); supports testing procedure 3.5.1.a."
                )
            if grant.target.key in scope.keyed_hash_keys:
                hashed = True
                actions = ", ".join(grant.actions)
                facts["3.5.1.1"].append(
                    f"{_code(fn.path)} may call {_code(actions)} on the keyed-hash key {_code(grant.target.path)}"
                    f" ({grant.target.type}): duplicate detection stores an HMAC-SHA-256 of the entire PAN, never"
                    " an unkeyed hash (`lambda/card_vault/keyed_hash.py`); supports testing procedures 3.5.1.1.a"
                    " and 3.5.1.1.b."
                )
    for hmac in scope.keyed_hash_keys.values():
        exempt = _mac_exemptions(model, hmac)
        facts["3.5.1.1"].append(
            f"The keyed-hash key {_code(hmac.path)}'s policy denies kms:GenerateMac and kms:VerifyMac to every"
            f" principal but {', '.join(_code(p) for p in exempt)} (an explicit deny in the key policy wins over"
            " any IAM allow, AdministratorAccess and PowerUserAccess included): no other identity, of the templates"
            " or outside them, may compute the hash; supports testing procedure 3.5.1.1.a."
            if exempt
            else f"The keyed-hash key {_code(hmac.path)}'s policy denies no principal its MAC actions: any IAM policy"
            " of the account that grants kms:GenerateMac (AdministratorAccess and PowerUserAccess do) may compute"
            " the hash; the synth rule names the holders of the templates."
        )
    if hashed:
        facts["3.5.1"].append(
            "Truncated and hashed versions of the same PAN are both stored (first six / last four, and the keyed"
            " hash: `lambda/card_vault/migrations/0001_vault_schema.sql`). The hash is keyed (HMAC-SHA-256 under"
            " a KMS key that never leaves KMS), so the middle digits cannot be recovered by hashing guesses"
            " offline: the control against correlation that PCI SSC FAQ 1308 names (keyed hashing per 3.5.1.1);"
            " a holder of the vault's own GenerateMac right can still test one guess per call, bounded by the"
            " per-client tokenize budget (README, card vault finding 2); supports testing procedure 3.5.1.c."
        )
        facts["3.5.1.1"].append(
            "Data repositories: the vault's table keeps the keyed hash (`pan_hmac`, 32 bytes, unique) beside the"
            " encrypted PAN (`lambda/card_vault/migrations/0001_vault_schema.sql`); the repository's actual"
            " contents are examined under testing procedure 3.5.1.1.c, not evidenced by the templates."
        )
        facts["3.5.1.1"].append(
            "Audit logs: the vault's functions log through `card_vault.logs.MaskingFormatter` (every Luhn-valid"
            " 13-19 digit run masked by `card_vault.pan.mask_pans`) and record no data in traces"
            " (`card_vault.tracing.traced`): neither a PAN nor its hash is logged by the code; the logs"
            " themselves are examined under testing procedure 3.5.1.1.d."
        )
    for db in model.resources("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
        key = kms_key(model, db, "KmsKeyId")
        facts["3.5.1.2"].append(
            f"{_code(db.path)} also has disk-level encryption (StorageEncrypted with {key_reference(model, key)}):"
            " non-removable media, so under 3.5.1.2 it is not the mechanism that renders PAN unreadable; the"
            " field-level encryption and keyed hash above are (3.5.1). No removable media is in the templates;"
            " supports testing procedure 3.5.1.2.a."
        )
    mechanism = (
        "PAN is rendered unreadable by field-level envelope encryption and a keyed hash (3.5.1)"
        if scope.vault_functions
        else "no component of the templates stores PAN"
    )
    facts["3.5.1.3"].append(
        f"Not applicable: 3.5.1.3 governs disk- or partition-level encryption used to render PAN unreadable;"
        f" here {mechanism}, and the databases' storage encryption is not relied on for it (3.5.1.2"
        " above), so there is no disk-level decryption access to manage apart from the operating system"
        " (testing procedures 3.5.1.3.a and 3.5.1.3.b have nothing to examine)."
    )
    if not scope.vault_functions:
        facts["3.5.1"].append("No card-vault function in the templates: no field-level encryption is configured here.")
    return {k: sorted(set(v)) for k, v in facts.items() if v}


def _mac_exemptions(model: TemplateModel, key: Any) -> list[str]:
    """The principals a key-policy Deny of both MAC actions to `*` exempts by `aws:PrincipalArn` (their
    resource paths, or the literal ARN); empty when the policy has no such deny."""
    for statement in statements_of(key.prop("KeyPolicy")):
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        principal = statement.get("Principal")
        anyone = principal == "*" or (isinstance(principal, Mapping) and principal.get("AWS") == "*")
        if statement.get("Effect") != "Deny" or not anyone or not {"kms:GenerateMac", "kms:VerifyMac"} <= set(actions):
            continue
        condition = statement.get("Condition") or {}
        block = condition.get("ArnNotEquals") or condition.get("ArnNotLike") or {}
        values = block.get("aws:PrincipalArn", []) if len(condition) == 1 and isinstance(block, Mapping) else []
        named = []
        for value in values if isinstance(values, list) else [values]:
            target = model.target(key.stack, value)
            named.append(target.path if target is not None else str(value))
        if named:
            return sorted(named)
    return []


# -- the report ---------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    """Markdown table cell text: pipes escaped, newlines as `<br>`-free separators."""
    return text.replace("|", "\\|").replace("\n", " / ")


def _code(text: str) -> str:
    return f"`{text.replace('`', '')}`"


def _why(outcome: RuleOutcome) -> str:
    """` Why: <reviewed reason>.` for a rule line (evidence/mapping_reasons.py), empty when none is recorded."""
    return f" Why it supports it: {outcome.reason}." if outcome.reason else ""


def _placeholder(name: str) -> str:
    return f"DIAGRAM-PLACEHOLDER-{name}"


def report_markdown(
    *,
    app_name: str,
    provenance: Provenance,
    statuses: Sequence[RequirementStatus],
    results: Sequence[RuleResult],
    gate: Gate,
    report: GateReport,
    diagrams: Sequence[DiagramFiles],
    versions: Mapping[str, str],
    workpapers: Sequence[str] = (),
    scope_section: Sequence[str] = (),
    facts: Mapping[str, Sequence[str]] | None = None,
    for_html: bool = False,
) -> str:
    """The report as GitHub-flavoured Markdown (Mermaid blocks render on GitHub). With `for_html`,
    each diagram is a placeholder line the HTML writer replaces with inline SVG."""
    out: list[str] = [f"# {STANDARD} compliance evidence: {app_name}", ""]
    out += [
        "Generated on every synth from the synthesized CloudFormation templates (never edited by hand)."
        " The statements, the diagrams and the synth rules read one parsed model of the templates."
        " This is evidence for an assessor, not an assessment: it states which synth rules examined how"
        " many resources with what result, and which testing procedure each line supports; it never"
        " says a requirement is in place. **Not evidenced** means no synth rule examined a resource for"
        " it, the requirement is a process whose prerequisites alone the rules examine, or it reaches beyond"
        " the templates where only a rule about absence spoke. **Absence in the templates confirmed** means"
        " only a rule about something that must not exist spoke for it (it searched every template and found"
        " none: finding none is the evidence), counted apart from examined, no findings."
        " The deployed environment is not examined here: the Config rules and Security Hub controls"
        " listed keep watching it after deploy.",
        "",
        *provenance_markdown(provenance),
        "Tools:",
        "",
        *(f"- {name}: {_code(value)}" for name, value in versions.items()),
        "",
        "## Summary",
        "",
        "| Template evidence | Requirements |",
        "| --- | --- |",
    ]
    for name in STATUS_ORDER:
        members = [s.requirement for s in statuses if s.status == name]
        out.append(f"| {name} | {len(members)}: {', '.join(members) if members else '-'} |")
    out += ["", *scope_section, "## Requirements", ""]
    for entry in statuses:
        out += [f"### {entry.requirement} {entry.title}", "", f"**Template evidence: {entry.status}**", ""]
        out.append(f"- Testing procedure: {entry.procedure}")
        if entry.requirement in DIAGRAM_REQUIREMENTS:
            kind = DIAGRAM_REQUIREMENTS[entry.requirement]
            files = [f for d in every_drawing(diagrams) if d.diagram.name.startswith(kind + "-") for f in d.files]
            out.append(
                f"- Generated from the templates for testing procedure {entry.procedure}:"
                f" {', '.join(_code(f) for f in files) or 'none (no network)'}"
            )
        if entry.process:
            out.append(
                f"- A process: {entry.process}. The synth rules below examine its prerequisites only; each"
                f" {PREREQUISITE}."
            )
        for outcome in entry.rules:
            if outcome.absence:
                out.append(
                    f"- Synth rule {_code(outcome.rule_id)} (searched every template: none found; finding none is"
                    f" the evidence: absence in the templates confirmed), supports {entry.procedure}:"
                    f" {outcome.description}{_why(outcome)}"
                )
                continue
            counts = f"examined {outcome.examined}: {len(outcome.passed)} passed, {len(outcome.failed)} failed"
            if outcome.acknowledged:
                counts += f", {len(outcome.acknowledged)} under exception"
            role = (
                f"a prerequisite that supports {entry.procedure}; {PROCESS_NOT_EVIDENCED}"
                if outcome.prerequisite
                else ""
            )
            out.append(
                f"- Synth rule {_code(outcome.rule_id)} ({counts}), "
                + (role if role else f"supports {entry.procedure}")
                + f": {outcome.description}{_why(outcome)}"
            )
            out += [f"  - FAILED {_code(item)}" for item in outcome.failed]
            out += [f"  - under exception {_code(item)}" for item in outcome.acknowledged]
        for rule_id in entry.idle_rules:
            out.append(f"- Synth rule {_code(rule_id)} examined no resource here: not evidenced by it.")
        for rule_id, why in entry.excluded_rules:
            out.append(f"- Synth rule {_code(rule_id)} is related here, not evidence (supports it only): {why}.")
        if entry.beyond:
            out.append(f"- Not evidenced beyond the templates: {entry.beyond}.")
        if entry.scoped:
            out.append(f"- What the rules above examined, and what they did not: {entry.scoped}.")
        if entry.derived:
            out.append(f"- Derived from the templates (a statement, not a rule's result): {entry.derived}.")
        if entry.resources:
            out.append(f"- Resources examined with no finding ({len(entry.resources)}):")
            out += [f"  - {_code(path)}" for path in entry.resources]
        if entry.config_rules:
            out.append(f"- Watched after deploy by Config rules: {', '.join(_code(r) for r in entry.config_rules)}")
            out += [
                f"  - {_code(name)}: {CONFIG_RULE_REASONS.get((name, entry.requirement), 'no reviewed reason')}."
                for name in entry.config_rules
            ]
        for name, why in sorted(entry.excluded_config_rules):
            if name.startswith("Security Hub "):
                control_id = name.removeprefix("Security Hub ")
                out.append(
                    f"- Security Hub {STANDARD} control {_code(control_id)} is mapped here by AWS but not cited: {why}."
                )
            else:
                out.append(f"- Config rule {_code(name)} is mapped here by the conformance pack but not cited: {why}.")
        if entry.security_hub:
            hub = ", ".join(_code(c) for c in entry.security_hub)
            out.append(f"- Watched after deploy by Security Hub {STANDARD} controls: {hub}")
        for ack in entry.acknowledgments:
            out.append(
                f"- Exception {_code(ack.rule)} at {_code(ack.path)} ({ack.constructs} constructs):"
                f" {ack.reason}. Owner: {ack.owner}; approver: {ack.approver}; approved: {ack.approval_date};"
                f" ticket: {ack.ticket}; review by: {ack.review_by}; {ack.adoption}."
            )
        out += [f"- From the templates: {fact}" for fact in (facts or {}).get(entry.requirement, ())]
        if entry.customer:
            out.append(f"- Customer responsibility: {entry.customer}")
        out.append(f"- This evidence cannot show: {entry.limits}.")
        out.append("")

    out += ["## Pack results", "", "### cdk-nag packs (synth-time gate)", ""]
    out += ["| Pack | Unacknowledged findings | Acknowledged findings |", "| --- | --- | --- |"]
    out += [f"| {pack} | {open_} | {acked} |" for pack, open_, acked in pack_results(gate, report)]
    out += ["", f"### {STANDARD} synth rules", ""]
    out += [
        "Requirements are those a rule's result is evidence of; related ones it supports only, never counted"
        " (pci_rules.rule.Rule.related; the reason is under each requirement above).",
        "",
        "| Rule | Requirements (evidence) | Related (not evidence) | Resources checked | Passed | Failed |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for result in sorted(results, key=lambda r: r.rule.id):
        out.append(
            f"| {_code(result.rule.id)} | {', '.join(result.rule.requirements) or '-'}"
            f" | {', '.join(result.rule.related) or '-'} | {len(result.checks)}"
            f" | {len(result.passes)} | {len(result.failures)} |"
        )
    acks = _acknowledgment_entries(gate)
    out += [
        "",
        "### Exception register (acknowledgments)",
        "",
        "Every accepted finding. The requirement column is the one the exception cites; only an exception"
        " of a v4.0.1 synth rule appears under a requirement above. An approver distinct from the owner,"
        ' an approval date and a ticket are "pending" until recorded. An exception not adopted by the'
        " environment (`adopt:` in its file, by the entry's id) is still the project's: a registry entry, or a"
        " justification a reusable construct carries; an adopted one shows the adopting environment's risk"
        " owner, approver, approval date and ticket. Adoption never changes whether the gate passes.",
        "",
    ]
    if acks:
        out += [
            "| Id | Rule | Construct path | Requirement cited | Reason | Owner | Approver | Approved | Ticket"
            " | Review by | Accepted by |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for ack, _ in acks:
            out.append(
                f"| {_code(ack.id) if ack.id else '-'} | {_code(ack.rule)} | {_code(ack.path)}"
                f" | {_cell(ack.requirement)} | {_cell(ack.reason)}"
                f" | {_cell(ack.owner)} | {_cell(ack.approver)} | {_cell(ack.approval_date)} | {_cell(ack.ticket)}"
                f" | {_cell(ack.review_by)} | {_cell(ack.adoption)} |"
            )
    else:
        out.append("None.")

    out += ["", *workpapers]
    out += ["", "## Diagrams", ""]
    for built in diagrams:
        out += [f"### {built.diagram.title}", ""]
        for shown in built.shown:
            if shown.diagram.subtitle:
                out += [f"#### {shown.diagram.subtitle}", ""]
            if for_html:
                out += [_placeholder(shown.diagram.name), ""]
            else:
                out += ["```mermaid", shown.mermaid.rstrip("\n"), "```", ""]
            out.append("Files: " + ", ".join(f"[{Path(f).name}]({f})" for f in shown.files))
            out.append("")
        if built.pages:
            out.append(
                f"The whole drawing on one sheet (a reference, read page by page above; {len(built.pages)} pages):"
                " " + ", ".join(f"[{Path(f).name}]({f})" for f in built.files)
            )
            out.append("")
        hops = [e for e in built.diagram.edges if e.detail]
        if hops and built.diagram.name.startswith("network-"):
            # One schema for network edges (QSA reader r20b, finding 3): a flow is a protocol and port a
            # rule kind allows; its encryption is the destination's, from the templates (`flow_encryption`).
            nodes = built.diagram.nodes
            out += [
                "| Hop | From | To | Protocol and port | Allowed by | In-transit encryption | Template rules |",
                "| --- | --- | --- | --- | --- | --- | --- |",
            ]
            for edge in hops:
                what, _, how = edge.detail.partition("\n")
                out.append(
                    f"| {edge.label} | {_cell(nodes[edge.source].label)} | {_cell(nodes[edge.target].label)}"
                    f" | {_cell(what) if how else '-'} | {_cell(how) if how else _cell(what)}"
                    f" | {_cell(edge.tls) or NOT_SET_BY_A_RULE} | {_cell('; '.join(edge.refs)) or '-'} |"
                )
            out.append("")
        elif hops:
            nodes = built.diagram.nodes
            out += [
                "| Hop | From | To | What | Protocol and port | In-transit encryption | Card-data elements"
                " | Template rules |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |",
            ]
            for edge in hops:
                what, _, how = edge.detail.partition("\n")
                out.append(
                    f"| {edge.label} | {_cell(nodes[edge.source].label)} | {_cell(nodes[edge.target].label)}"
                    f" | {_cell(what) or edge.kind} | {_cell(how) or '-'} | {_cell(edge.tls) or '-'}"
                    f" | {_cell(edge.data) or '-'} | {_cell('; '.join(edge.refs)) or '-'} |"
                )
            out.append("")
        if built.diagram.stores:
            out += [
                "Stores in this flow:",
                "",
                "| Store | Holds | Protection | Key (template reference) | Retention |",
                "| --- | --- | --- | --- | --- |",
            ]
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in built.diagram.stores]
            out.append("")
        if built.diagram.unattached_rules:
            out += [
                "Security-group rules on groups attached to nothing in these templates (no data flows over them"
                " here; a resource attached to the group later, or outside the templates, inherits each one):",
                "",
                "| Group | Direction | Traffic | Peer | Template rule |",
                "| --- | --- | --- | --- | --- |",
            ]
            out += [
                f"| {_cell(g)} | {d} | {_cell(t)} | {_cell(p)} | {_code(r)} |"
                for g, d, t, p, r in built.diagram.unattached_rules
            ]
            out.append("")
        flows = [e for e in built.diagram.edges if e.kind == "flow" and not e.detail]
        if flows and built.diagram.name.startswith("network-"):
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
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: #f6f8fa; }
code { background: #f6f8fa; padding: 0.1rem 0.25rem; border-radius: 4px; font-size: 0.85em; word-break: break-all; }
pre { background: #f6f8fa; padding: 0.75rem; overflow-x: auto; }
.diagram { border: 1px solid #d0d7de; padding: 0.5rem; margin: 0.5rem 0 1rem; break-inside: avoid; }
.diagram svg { display: block; width: 100%; height: auto; }
figcaption { font-size: 0.8rem; color: #57606a; }
@page { size: A4 landscape; margin: 12mm; }
@media print { body { max-width: none; margin: 0; padding: 0; } }
h3 { border-bottom: 1px solid #eaeef2; padding-bottom: 0.2rem; }
""".strip()


def _inline_svg(svg: str) -> str:
    """An SVG document as an element: drop the XML declaration and DOCTYPE."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


# The narrowest page the HTML must stay legible on: an A4 landscape page printed with 12 mm
# margins is about 1,000 CSS px wide (a 1,400 px browser window gives the diagram ~1,250 px).
PAGE_PX = 1000
MIN_TEXT_PX = 8.5  # the browser test fails under 8 px; half a pixel of margin
BAND_OVERLAP = 0.2  # each part repeats this share of its neighbour, so no label is split in every part
_SVG_OPEN = re.compile(r"<svg\b[^>]*>")
_VIEWBOX = re.compile(r'viewBox="([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+)"')
_SCALE = re.compile(r'<g id="graph0" class="graph" transform="scale\(([\d.]+)')
_FONT = re.compile(r'font-size="([\d.]+)"')
_ID_ATTRIBUTE = re.compile(r' id="[^"]*"')


def fix_viewbox(svg: str) -> str:
    """Graphviz writes the viewBox unscaled when the graph sets `dpi` (the content is scaled by
    dpi/72 inside it), which clips the right and bottom of every SVG: scale the viewBox too."""
    box, scale_match = _VIEWBOX.search(svg), _SCALE.search(svg)
    if box is None or scale_match is None or float(scale_match.group(1)) == 1.0:
        return svg
    scale = float(scale_match.group(1))
    x, y, width, height = (float(v) for v in box.groups())
    fixed = f'viewBox="{x * scale:.2f} {y * scale:.2f} {width * scale:.2f} {height * scale:.2f}"'
    return svg[: box.start()] + fixed + svg[box.end() :]


MAX_PX_PER_UNIT = 0.85  # drawn larger, the lines of a box's label overlapped in the browser (as at 1,400 px)
# A printed part must fit one A4 landscape page (12 mm margins: 273 x 186 mm) with its caption and
# frame: at most this height per unit of width (186 / 273 = 0.68, less ~45 px of caption and padding).
PRINT_ASPECT = 0.62


def _spans(start: float, length: float, window: float) -> list[float]:
    """Starts of windows of `window` units covering [start, start + length], neighbours overlapping
    by BAND_OVERLAP of a window."""
    if length <= window:
        return [start]
    overlap = window * BAND_OVERLAP
    parts = math.ceil((length - overlap) / (window - overlap))
    step = (length - window) / (parts - 1)
    return [round(start + i * step, 2) for i in range(parts)]


def svg_bands(svg: str) -> list[tuple[float, float, float, float]]:
    """ViewBoxes that split a Graphviz SVG into parts each legible at PAGE_PX (its smallest text
    renders at MIN_TEXT_PX or more) and each fitting one printed page (height at most PRINT_ASPECT
    of its width): left to right, then top to bottom when a column is taller than a page. One part
    when the whole diagram is both."""
    box = _VIEWBOX.search(svg)
    if box is None:
        return []
    x, y, width, height = (float(v) for v in box.groups())
    scale_match = _SCALE.search(svg)
    scale = float(scale_match.group(1)) if scale_match else 1.0
    fonts = [float(f) for f in _FONT.findall(svg)]
    smallest = min(fonts, default=14.0) * scale  # in viewBox units
    legible = smallest * PAGE_PX / MIN_TEXT_PX  # the widest viewBox that keeps it legible
    band_width = min(width, legible)
    band_height = min(height, band_width * PRINT_ASPECT)
    if width <= legible and height <= legible * PRINT_ASPECT:
        # One part: drawn narrower than the page where it is tall (`_figure` caps its width), still legible.
        return [(x, y, width, height)]
    return [
        (left, top, round(band_width, 2), round(band_height, 2))
        for top in _spans(y, height, band_height)
        for left in _spans(x, width, band_width)
    ]


def _figure(built: DiagramFiles) -> str:
    """The diagram scaled to the page (viewBox, no fixed size), split into legible parts when
    needed, with links to the full-size files."""
    assert built.svg is not None
    element = _inline_svg(built.svg)
    opening = _SVG_OPEN.search(element)
    bands = svg_bands(element)
    links = " ".join(
        f'<a href="{html.escape(f)}">{html.escape(Path(f).name)}</a>' for f in built.files if not f.endswith(".dot")
    )
    if opening is None or not bands:
        return f'<div class="diagram">{element}</div>'
    inner = element[opening.end() :]
    figures = []
    for number, (x, y, width, height) in enumerate(bands, start=1):
        content = inner if number == 1 else _ID_ATTRIBUTE.sub("", inner)
        caption = (
            f"<figcaption>Part {number} of {len(bands)}, left to right then top to bottom (parts overlap)</figcaption>"
            if len(bands) > 1
            else ""
        )
        # A part taller than PRINT_ASPECT of its width is drawn at most as wide as keeps it PRINT_ASPECT of
        # the page high, so it fits a printed page (svg_bands keeps its smallest text legible at that width);
        # and never larger than MAX_PX_PER_UNIT.
        anchor = f'<span id="{built.diagram.name}"></span>' if number == 1 else ""  # the overview's links land here
        widest = min(width * MAX_PX_PER_UNIT, PAGE_PX * PRINT_ASPECT * width / height)
        capped = f' style="max-width: {widest:.0f}px"' if widest < PAGE_PX * 1.3 else ""
        figures.append(
            f'{anchor}<figure class="diagram" data-diagram="{built.diagram.name}">{caption}'
            f'<svg viewBox="{x:g} {y:g} {width:g} {height:g}" preserveAspectRatio="xMinYMin meet"{capped}'
            ' xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
            f' role="img" aria-label="{html.escape(built.diagram.title)}">{content}</figure>'
        )
    return "".join(figures) + f'<p class="diagram-files">Full size: {links}</p>'


_TABLE_PLACEHOLDER = "MARKDOWN-TABLE-PLACEHOLDER-"
_INLINE_SYNTAX = re.compile(r"[`*_\[\]<>&\\!~]|https?:|www\.")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
# What a link reference definition needs (a label's closing bracket and its colon, CommonMark 4.7), wherever it
# is: a document without "]:" defines no reference, so an item's links render alike inline and in place.
_REFERENCE_DEFINITION = re.compile(r"\]:")


def _escape_html(text: str) -> str:
    """markdown-it's escapeHtml: & < > and the double quote."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _table_cells(line: str) -> list[str]:
    """A GFM table row's cells, as markdown-it splits them: on unescaped pipes, an escaped pipe
    unescaped, the outer pipes dropped, each cell trimmed."""
    cells = [c.replace("\\|", "|").strip() for c in _CELL_SPLIT.split(line.strip())]
    if cells and not cells[0]:
        cells = cells[1:]
    if cells and not cells[-1]:
        cells = cells[:-1]
    return cells


def _table_html(lines: Sequence[str], inline: Callable[[str], str]) -> str:
    """A GFM table (header, delimiter row without alignment, body rows) as markdown-it renders it."""

    def cell(tag: str, text: str) -> str:
        body = inline(text) if _INLINE_SYNTAX.search(text) else _escape_html(text)
        return f"<{tag}>{body}</{tag}>"

    header = _table_cells(lines[0])
    out = ["<table>", "<thead>", "<tr>", *(cell("th", h) for h in header), "</tr>", "</thead>"]
    if len(lines) > 2:
        out.append("<tbody>")
        for line in lines[2:]:
            cells = (_table_cells(line) + [""] * len(header))[: len(header)]
            out += ["<tr>", *(cell("td", c) for c in cells), "</tr>"]
        out.append("</tbody>")
    return "\n".join(out) + "\n</table>\n"


def _plain_table(lines: Sequence[str]) -> bool:
    """A top-level table this module writes: header, a delimiter row of dashes only (no alignment)."""
    if len(lines) < 2 or not lines[1].startswith("|"):
        return False
    delimiters = _table_cells(lines[1])
    return len(delimiters) == len(_table_cells(lines[0])) and all(set(d) == {"-"} for d in delimiters)


# A list item the fast path renders: "- " or "  - " and text that opens no block of its own inside the item
# (no list marker, heading, quote, fence, thematic break, reference definition, indented code) and has no
# leading, trailing or tab whitespace; anything else is left to markdown-it.
_LIST_ITEM = re.compile(r"(  )?- (?![-*+#>=_|\[<\s]|```|~~~|\d{1,9}[.)](?:\s|$))(\S(?:[^\t]*\S)?)")
_LIST_MARKER = re.compile(r"(?:[-*+]|\d{1,9}[.)])(?:\s|$)")


def _opens_list_context(line: str) -> bool:
    """Whether a non-blank line before a blank one could make a following "- " line part of its list
    (a list item, an item's continuation, an ordered item): then the fast path leaves the list to markdown-it."""
    return line[:1] in (" ", "\t") or _LIST_MARKER.match(line) is not None


def _plain_list(lines: Sequence[str], start: int) -> int:
    """The end of a tight bullet list at `start` that the fast path renders exactly as markdown-it does
    (top-level "- " items, each followed by "  - " items of one nested list), or `start` if there is none:
    the run must end the document or be followed by a blank line and then nothing that continues it."""
    end = start
    while end < len(lines):
        match = _LIST_ITEM.fullmatch(lines[end])
        if match is None or (end == start and match.group(1)):
            break
        end += 1
    if end == start or (end < len(lines) and lines[end].strip()):
        return start
    following = next((line for line in lines[end:] if line.strip()), "")
    return start if following and _opens_list_context(following) else end


_CODE_SPAN = re.compile(r"`([^`]+)`")


def _code_spans_html(text: str) -> str | None:
    """markdown-it's inline rendering of text that holds single-backtick code spans and otherwise no inline
    syntax, or None for anything else. Outside the spans nothing opens a construct, so each opening
    backtick meets its closing one first; a span's content is literal: escaped, one space stripped from
    each end when it has one at both and is not all spaces (CommonMark 6.1, markdown-it's backtick rule)."""
    parts = _CODE_SPAN.split(text)
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            if part[:1] == " " and part[-1:] == " " and part.strip():
                part = part[1:-1]
            out.append(f"<code>{_escape_html(part)}</code>")
        elif _INLINE_SYNTAX.search(part):
            return None
        else:
            out.append(_escape_html(part))
    return "".join(out)


def _list_html(lines: Sequence[str], inline: Callable[[str], str]) -> str:
    """A tight bullet list of `_plain_list` as markdown-it renders it (items' paragraphs hidden)."""
    out = ["<ul>\n"]
    nested = False
    for line in lines:
        match = _LIST_ITEM.fullmatch(line)
        assert match is not None  # _plain_list accepted every line
        text = match.group(2)
        body = inline(text) if _INLINE_SYNTAX.search(text) else _escape_html(text)
        if match.group(1):
            out.append(f"<li>{body}</li>\n" if nested else f"\n<ul>\n<li>{body}</li>\n")
            nested = True
            continue
        if len(out) > 1:
            out.append("</ul>\n</li>\n" if nested else "</li>\n")
        out.append(f"<li>{body}")
        nested = False
    out.append("</ul>\n</li>\n" if nested else "</li>\n")
    out.append("</ul>\n")
    return "".join(out)


def markdown_to_html(markdown_text: str) -> str:
    """CommonMark + tables with markdown-it-py, raw HTML off (labels come from templates).

    Top-level tables (a block of lines starting with `|` outside code fences, the only tables the
    report writes) and tight bullet lists of one nesting level (`_plain_list`) skip markdown-it's block
    parser, which spent most of the evidence's Python CPU on them: each is rendered here as markdown-it
    renders it, a cell or an item through markdown-it's inline renderer when it holds inline syntax
    (once per distinct text), escaped as markdown-it escapes it otherwise. A document with a link
    reference definition leaves its lists to markdown-it (a reference changes how an item's links render).
    tests/test_evidence_pages.py compares the result with markdown-it's on generated documents."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    rendered: dict[str, str] = {}

    def inline(text: str) -> str:
        if text not in rendered:
            fast = _code_spans_html(text)
            rendered[text] = parser.renderInline(text) if fast is None else fast
        return rendered[text]

    blocks: list[str] = []
    kept: list[str] = []
    lines = markdown_text.split("\n")
    lists = _REFERENCE_DEFINITION.search(markdown_text) is None
    index, fence = 0, ""
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip()
        if fence:
            fence = "" if stripped.startswith(fence) else fence
        elif stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif line.startswith("|") and (not kept or not kept[-1].strip()):
            end = index
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            # markdown-it continues a table into a following non-blank line: leave such a table to it.
            if _plain_table(lines[index:end]) and (end == len(lines) or not lines[end].strip()):
                kept.append(f"{_TABLE_PLACEHOLDER}{len(blocks)}")
                blocks.append(_table_html(lines[index:end], inline))
                index = end
                continue
        elif lists and line.startswith("- ") and (not kept or not kept[-1].strip()):
            # The paragraph before the blank line: any of its lines may belong to a list (an item, or a lazy
            # continuation line of one, which markdown-it keeps in the item), and then this item continues it.
            position = len(kept)
            while position and not kept[position - 1].strip():
                position -= 1
            before = []
            while position and kept[position - 1].strip():
                position -= 1
                before.append(kept[position])
            listed = any(_opens_list_context(k) for k in before)
            end = _plain_list(lines, index) if not listed else index
            if end > index:
                kept.append(f"{_TABLE_PLACEHOLDER}{len(blocks)}")
                blocks.append(_list_html(lines[index:end], inline))
                index = end
                continue
        kept.append(line)
        index += 1
    html_text: str = parser.render("\n".join(kept))
    for number, table in enumerate(blocks):
        html_text = html_text.replace(f"<p>{_TABLE_PLACEHOLDER}{number}</p>\n", table, 1)
    return html_text


def report_html(body: str, *, title_text: str, diagrams: Sequence[DiagramFiles]) -> str:
    """Self-contained HTML around a rendered body: each diagram placeholder becomes inline SVG,
    or the diagram's Mermaid source when Graphviz is not installed."""
    for built in every_drawing(diagrams):
        marker = f"<p>{_placeholder(built.diagram.name)}</p>"
        if built.svg is not None:
            figure = _figure(built)
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
    attestation: Attestation | None = None,
    attestations: Mapping[str, Attestation] | None = None,
    deployed: DeployedState | None = None,
) -> list[Path]:
    """Write the report and the diagrams under `<outdir>/compliance/`; return the files written.

    `model` and `results` are the ones the rules ran on (the policy-validation plugin keeps
    them); the gate and its report give the cdk-nag packs' results and the acknowledgments;
    `attestation` comes from the environment configuration (everything "pending" without it).
    A delivery synth (stacks in Stages) also gets one set per environment in
    `<outdir>/compliance/<environment>/`, titled by it, with `attestations[environment]`.
    `deployed` is what `make evidence-live` read from the account (evidence/live.py); without it
    the report says the deployed state was not verified.
    Raises RuntimeError when `dot` is installed but fails on a diagram.
    """
    # Objects that exist already (the CDK app, the parsed model and results) stay out of the garbage
    # collector's scans while the evidence is written: a full collection would walk them all (Python's
    # gc.freeze; nothing written here depends on when garbage is collected).
    gc.freeze()
    try:
        directory = Path(outdir) / EVIDENCE_DIR
        clear_evidence(directory)  # a file an earlier run wrote (a renamed page) is neither kept nor listed
        model = canonical_order(model)
        stages = sorted({stack.assembly for stack in model.stacks.values()} - {""})
        title = _app_name(model)
        if stages:
            top = TemplateModel(s for s in model.stacks.values() if not s.assembly)
            title = f"delivery {_app_name(top)} (per-environment sets: {', '.join(_stage_name(s) for s in stages)})"
        files = _write_set(directory, Path(outdir), model, results, gate, report, root, attestation, title, deployed)
        for stage in stages:
            environment = _stage_name(stage)
            stage_model = TemplateModel(s for s in model.stacks.values() if s.assembly == stage)
            names = set(stage_model.stacks)
            stage_results = [
                RuleResult(r.rule, tuple(c for c in r.checks if c.resource.stack in names)) for r in results
            ]
            stage_gate, stage_report = stage_gate_report(gate, report, environment, names)
            files += _write_set(
                directory / environment,
                Path(outdir) / stage,
                stage_model,
                stage_results,
                stage_gate,
                stage_report,
                root,
                (attestations or {}).get(environment),
                f"environment {environment}",
                outside=TemplateModel(s for s in model.stacks.values() if s.assembly != stage),
            )
        files.append(write_manifest(directory, files))  # last: it lists every file above, per-environment sets included
        return files
    finally:
        gc.unfreeze()


def stage_gate_report(
    gate: Gate, report: GateReport, environment: str, stacks: Iterable[str]
) -> tuple[Gate, GateReport]:
    """The gate and its report as one environment's Stage saw them: only the findings, acknowledged findings,
    applied acknowledgments (with the constructs they matched there), Checkov skips and adoptions of the
    constructs under that Stage, so an environment's pack counts and exception register are its own, never
    the delivery tooling's or another Stage's. The Stage is the environment's gated construct scope, else the
    report's stage holding one of `stacks` (its CloudFormation stack names), else the environment's name."""
    names = set(stacks)
    stage = next((e.path for e in gate.environments if e.name == environment and e.path), "") or next(
        (path for path, held in report.stages.items() if path and names & set(held)), environment
    )
    known = {*report.stages, stage}

    def mine(path: str) -> bool:  # the innermost stage holding the construct is this one
        return max((s for s in known if s and path.startswith(s + "/")), key=len, default="") == stage

    acknowledged = {entry: [p for p in paths if mine(p)] for entry, paths in gate.acknowledged_paths.items()}
    acknowledged = {entry: paths for entry, paths in acknowledged.items() if paths}
    skipped = {skip: [p for p in paths if mine(p)] for skip, paths in gate.checkov_skipped_paths.items()}
    stage_gate = dataclasses.replace(
        gate,
        acknowledged_paths=acknowledged,
        checkov_skipped_paths={skip: paths for skip, paths in skipped.items() if paths},
        environments=tuple(e for e in gate.environments if e.name == environment),
        adoptions=tuple(a for a in gate.adoptions if a.environment == environment),
    )
    stage_report = dataclasses.replace(
        report,
        findings=tuple(f for f in report.findings if mine(f.path)),
        acknowledged=tuple(f for f in report.acknowledged if mine(f.path)),
        stages={path: held for path, held in report.stages.items() if path == stage},
        unused=tuple(a for a in report.unused if a in acknowledged or (a.scope is not None and a.scope == stage)),
    )
    return stage_gate, stage_report


def canonical_order(model: TemplateModel) -> TemplateModel:
    """The same stacks (the same parsed templates and resources) in one order, by nested assembly and stack name:
    the synth hands the evidence the policy-validation plugin's model (the order CDK lists the templates),
    `python -m evidence.report` one read from the manifest; node numbers and tables follow the stack order, so
    either order gave the same evidence in different bytes."""
    ordered = sorted(model.stacks.values(), key=lambda stack: (stack.assembly, stack.name))
    if [stack.name for stack in ordered] == list(model.stacks):
        return model
    return TemplateModel(ordered)


def _stage_name(assembly: str) -> str:
    """`assembly-prod` (a Stage's nested assembly directory) -> `prod`."""
    return assembly.removeprefix("assembly-")


def _write_set(
    directory: Path,
    outdir: Path,
    model: TemplateModel,
    results: Sequence[RuleResult],
    gate: Gate,
    report: GateReport,
    root: Path,
    attestation: Attestation | None,
    title: str,
    deployed: DeployedState | None = None,
    outside: TemplateModel | None = None,
) -> list[Path]:
    prov = provenance(
        model,
        outdir,
        attestation=attestation or Attestation(),
        environment=title,
        root=root,
        deployed_state=deployed.summary if deployed else NOT_VERIFIED,
    )
    topology = Topology(model)
    scope = ScopeModel(model, topology)
    assembly = _assets_directory(model, outdir)
    diagrams = build_diagrams(model, topology, prov.diagram_lines(), scope, assembly)
    rendered = render_diagrams(directory / DIAGRAM_DIR, diagrams)  # dot runs while the report is written
    statuses = requirement_statuses(
        results,
        gate,
        report,
        beyond=beyond_the_templates(model),
        scoped={**scoped_log_statements(model), **scoped_card_data_statements(model)},
        derived=transit_statements(model),
    )
    att = attestation or Attestation()
    papers = all_workpapers(
        model,
        topology,
        aoc_edition=att.aws_aoc_edition,
        aoc_date=att.aws_aoc_date,
        root=root,
        scope=scope,
        outside=outside,
        reviewed_commit=att.last_reviewed_commit,
        reviewed_rule_review=att.reviewed_rule_review,
    )
    papers += list(deployed.papers) if deployed else []
    common: dict[str, Any] = {
        "app_name": title,
        "provenance": prov,
        "statuses": statuses,
        "results": results,
        "gate": gate,
        "report": report,
        "diagrams": diagrams,
        "versions": tool_versions(root),
        "workpapers": papers_markdown(papers),
        "scope_section": scope_markdown(model, scope, assembly),
        "facts": stored_pan_facts(model, scope),
    }
    directory.mkdir(parents=True, exist_ok=True)
    markdown_path = directory / f"{REPORT_NAME}.md"
    markdown_path.write_text(report_markdown(**common), encoding="utf-8")
    html_markdown = report_markdown(**{**common, "workpapers": papers_markdown(papers, for_html=True)}, for_html=True)
    html_body = insert_paper_tables(markdown_to_html(html_markdown), papers)
    rendered()
    html_path = directory / f"{REPORT_NAME}.html"
    html_text = report_html(html_body, title_text=f"{STANDARD} compliance evidence: {title}", diagrams=diagrams)
    html_path.write_text(html_text, encoding="utf-8")
    files = [markdown_path, html_path, *write_workpapers(directory, papers)]
    files += [directory / f for built in every_drawing(diagrams) for f in built.files]
    return files


def write_evidence_for_assembly(
    outdir: str | Path,
    gate: Gate,
    report: GateReport,
    *,
    attestation: Attestation | None = None,
    deployed: DeployedState | None = None,
) -> list[Path]:
    """Parse the assembly once, run the PCI DSS v4.0.1 rules on it, write the evidence from both."""
    from pci_rules.rule import evaluate
    from pci_rules.rules import RULES

    model = TemplateModel.from_assembly(outdir)
    return write_compliance_evidence(
        outdir,
        model=model,
        results=evaluate(model, RULES),
        gate=gate,
        report=report,
        attestation=attestation,
        deployed=deployed,
    )


# -- `python -m evidence.report OUTDIR`: regenerate and time the evidence of an existing assembly ----
def _gate_from_evidence(outdir: Path) -> tuple[Gate, GateReport]:
    """The gate as gate-report.json recorded it: packs, acknowledgments, where they applied, adoptions.

    The v4.0.1 findings the governed source accepted never reach validation-report.json (the plugin
    reports them as passed, compliance.gate.governed_source); the synth's own report adds them from the
    plugin. Here they are rebuilt from where each v4.0.1 entry applied, so a regenerated report (this
    CLI, `make evidence-live`) states them "under exception" as the synth did, never as FAILED."""
    from compliance.gate import EVIDENCE_FILE, Finding, read_report
    from compliance.registry import Acknowledgment, Adoption
    from pci_rules.plugin import PLUGIN_NAME, acknowledgment_id

    data = json.loads((outdir / EVIDENCE_DIR / EVIDENCE_FILE).read_text(encoding="utf-8"))
    acknowledged = {
        Acknowledgment.from_evidence(row): list(row["constructs"]) for row in data.get("acknowledgments", [])
    }
    adoptions = tuple(Adoption.from_evidence(row) for row in data.get("adoptions", []))
    report = read_report(outdir)
    accepted = [
        Finding(
            plugin=PLUGIN_NAME,
            rule=entry.rule.split("[", 1)[0],
            severity="error",
            path=path,
            description=entry.reason,
            acknowledged_as=acknowledgment_id(entry.rule.split("[", 1)[0]),
        )
        for entry, paths in acknowledged.items()
        if entry.plugin == PLUGIN_NAME and entry.carried_by is None
        for path in paths
    ]
    report = dataclasses.replace(report, acknowledged=(*report.acknowledged, *accepted))
    return Gate(packs=tuple(data["packs"]), acknowledged_paths=acknowledged, adoptions=adoptions), report


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate (and time) the compliance evidence of a cloud assembly.")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="times to write it; prints the timings as JSON")
    parser.add_argument(
        "--png",
        action="store_true",
        help="instead: add a PNG of every drawing to the evidence set the synth wrote, and list them in its manifest",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.png:
        written = add_png(args.outdir / EVIDENCE_DIR)
        print(f"{len(written)} PNG files added to {args.outdir / EVIDENCE_DIR}")
        return 0
    from pci_rules.rule import evaluate
    from pci_rules.rules import RULES

    gate, report = _gate_from_evidence(args.outdir)
    # As at synth, the evidence is written from the model and results the policy-validation plugin
    # already has (its parse and rule run are the plugin's phase, timed there): timed apart here.
    before = os.times()
    model = TemplateModel.from_assembly(args.outdir)
    results = evaluate(model, RULES)
    after = os.times()
    model_cpu = after.user - before.user + after.system - before.system
    walls, python_cpu, child_cpu = [], [], []
    for _ in range(args.repeat):
        before, start = os.times(), time.perf_counter()
        write_compliance_evidence(args.outdir, model=model, results=results, gate=gate, report=report)
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
        "model_and_rules_cpu_s": round(model_cpu, 3),  # the plugin's share at synth, not the evidence's
    }
    print(json.dumps(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
