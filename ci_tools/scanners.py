"""The outside yardsticks: cfn-lint and checkov over a synthesized cloud assembly.

Both run as subprocesses, started together so they overlap (each is mostly its own
start-up), on a cloud assembly the caller already synthesized: the test suite hands
in its one session synth. cfn-lint lints each template for the region its stack
deploys to (read from manifest.json). Results come back as `ScanFinding`s that
name the check, the resource's logical ID and CDK construct path, and the file.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHECKOV_CONFIG = ROOT / ".checkov.yaml"


def _tool(name: str, venv: str, env_var: str) -> str:
    """A scanner's executable: $ENV_VAR, else the project's venv, else PATH."""
    explicit = os.environ.get(env_var)
    if explicit:
        return explicit
    candidate = ROOT / venv / "bin" / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found in {venv}/ or on PATH: run `make deps` (or set {env_var})")
    return found


def checkov_executable() -> str:
    return _tool("checkov", ".venv-scan", "CHECKOV")


def cfn_lint_executable() -> str:
    return _tool("cfn-lint", ".venv", "CFN_LINT")


@dataclass(frozen=True)
class ScanFinding:
    tool: str
    check: str
    title: str
    level: str
    file: str
    resource: str
    construct_path: str
    lines: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.lines}" if self.lines else self.file
        return (
            f"{self.tool} {self.level} {self.check} on {self.resource} ({self.construct_path or 'no CDK path'})"
            f" in {where}: {self.title}"
        )


@dataclass
class ScanResult:
    tool: str
    returncode: int
    findings: list[ScanFinding] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""
    report_dir: Path | None = None


def stack_templates(outdir: Path) -> dict[str, list[Path]]:
    """Template files of the assembly's stacks, grouped by the region each deploys to."""
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    by_region: dict[str, list[Path]] = defaultdict(list)
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        region = artifact.get("environment", "aws://unknown-account/us-east-1").rsplit("/", 1)[-1]
        if region.startswith("unknown"):
            region = "us-east-1"
        by_region[region].append(outdir / artifact["properties"]["templateFile"])
    return dict(by_region)


def construct_paths(outdir: Path) -> dict[tuple[str, str], str]:
    """(template file name, logical ID) -> CDK construct path, from the assembly's logicalId metadata.

    Works whether or not the app wrote `aws:cdk:path` into the templates (the CLI does, a bare App does not).
    """
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    paths: dict[tuple[str, str], str] = {}
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = artifact["properties"]["templateFile"]
        resources = json.loads((outdir / template).read_text(encoding="utf-8")).get("Resources", {})
        for logical_id, resource in resources.items():
            if "aws:cdk:path" in resource.get("Metadata", {}):
                paths[(template, logical_id)] = resource["Metadata"]["aws:cdk:path"]
        metadata: dict[str, Any] = dict(artifact.get("metadata", {}))
        extra = artifact.get("additionalMetadataFile")
        if extra and (outdir / extra).exists():
            metadata.update(json.loads((outdir / extra).read_text(encoding="utf-8")))
        for path, entries in metadata.items():
            for entry in entries:
                if entry.get("type") == "aws:cdk:logicalId":
                    paths.setdefault((template, str(entry["data"])), path.lstrip("/"))
    return paths


class _Paths:
    """Names findings by construct path."""

    def __init__(self, outdir: Path) -> None:
        self._paths = construct_paths(outdir)

    def of(self, file: str, logical_id: str) -> str:
        return self._paths.get((Path(file).name, logical_id), "")


# A started cfn-lint run of one region: the process (None when every template's result was cached), its
# JSON report, the matches read from the cache, and where to store each linted template's own matches.
_LintRun = tuple[str, "subprocess.Popen[bytes] | None", Path, list[dict[str, Any]], dict[str, Path]]


def _cfn_lint_identity(executable: str) -> str:
    """What a cached cfn-lint result depends on besides the template: the executable and its version."""
    try:
        version = importlib.metadata.version("cfn-lint")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    stat = Path(executable).stat()
    return f"{executable}\0{stat.st_size}\0{stat.st_mtime_ns}\0{version}"


def _cached_matches(cache: Path, key: str) -> list[dict[str, Any]] | None:
    try:
        matches: list[dict[str, Any]] = json.loads((cache / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return matches


def _store_matches(cache: Path, key: str, matches: list[dict[str, Any]]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    temporary = cache / f"{key}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(matches), encoding="utf-8")
    temporary.replace(cache / f"{key}.json")  # atomic: a concurrent reader sees the old file or the new one


def _start_cfn_lint(outdir: Path, report_dir: Path, cache: Path | None = None) -> list[_LintRun]:
    """One cfn-lint process per region over that region's templates. With `cache`, a template whose
    result is stored under the hash of (cfn-lint's identity, region, file name, content) is not linted
    again: cfn-lint lints each template on its own, so its matches are the same (issue #23)."""
    started: list[_LintRun] = []
    executable = cfn_lint_executable()
    identity = _cfn_lint_identity(executable) if cache is not None else ""
    for region, templates in sorted(stack_templates(outdir).items()):
        out = report_dir / f"cfn-lint-{region}.json"
        cached: list[dict[str, Any]] = []
        pending: dict[str, Path] = {}
        to_lint = []
        for template in templates:
            if cache is None:
                to_lint.append(template)
                continue
            digest = hashlib.sha256(f"{identity}\0{region}\0{template.name}\0".encode() + template.read_bytes())
            key = digest.hexdigest()[:32]
            hit = _cached_matches(cache, key)
            if hit is None:
                to_lint.append(template)
                pending[template.name] = cache / key
            else:
                cached += [{**match, "Filename": str(template)} for match in hit]
        if not to_lint:
            started.append((region, None, out, cached, pending))
            continue
        cmd = [executable, "--format", "json", "--regions", region, "--", *map(str, to_lint)]
        with out.open("wb") as stdout:
            # The executables are the project's pinned scanners; the arguments are paths it wrote.
            proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)  # noqa: S603
        started.append((region, proc, out, cached, pending))
    return started


def _finish_cfn_lint(started: list[_LintRun], paths: _Paths) -> ScanResult:
    result = ScanResult(tool="cfn-lint", returncode=0)
    for region, proc, out, cached, pending in started:
        matches = list(cached)
        if proc is not None:
            _, stderr = proc.communicate()
            result.returncode |= proc.returncode
            result.stderr += stderr.decode(errors="replace")
            text = out.read_text(encoding="utf-8").strip()
            if proc.returncode not in (0, 2, 4, 6, 8, 10, 12, 14) or not text:
                # Exit code 1 (or no JSON) is cfn-lint itself failing, not a finding.
                result.findings.append(
                    ScanFinding("cfn-lint", "crash", result.stderr.strip()[-2000:], "Error", region, "-", "", "")
                )
                continue
            linted: list[dict[str, Any]] = json.loads(text)
            for name, entry in pending.items():  # each linted template's own matches, none for a clean one
                _store_matches(
                    entry.parent, entry.name, [m for m in linted if Path(m.get("Filename", "")).name == name]
                )
            matches += linted
        if cached:  # the region's report holds every template's matches, cached or not
            out.write_text(json.dumps(matches, indent=2) + "\n", encoding="utf-8")
        for match in cached:  # cfn-lint's exit code is a bit per level found: 2 error, 4 warning, 8 informational
            result.returncode |= {"Error": 2, "Warning": 4, "Informational": 8}.get(match.get("Level", "Error"), 2)
        for match in matches:
            location = match.get("Location", {})
            path = location.get("Path") or []
            logical_id = str(path[1]) if len(path) > 1 and path[0] == "Resources" else "-"
            filename = Path(match.get("Filename", "")).name
            start = location.get("Start", {}).get("LineNumber", "")
            result.findings.append(
                ScanFinding(
                    tool="cfn-lint",
                    check=match["Rule"]["Id"],
                    title=match.get("Message", ""),
                    level=match.get("Level", "Error"),
                    file=filename,
                    resource=logical_id,
                    construct_path=paths.of(filename, logical_id) if logical_id != "-" else "",
                    lines=str(start),
                )
            )
    return result


def _start_checkov(outdir: Path, report_dir: Path) -> subprocess.Popen[bytes]:
    cmd = [
        checkov_executable(),
        "--config-file",
        str(CHECKOV_CONFIG),
        "--directory",
        outdir.name,
        "--output",
        "json",
        "--output",
        "sarif",
        "--output-file-path",
        f"{report_dir / 'checkov.json'},{report_dir / 'checkov.sarif'}",
    ]
    # From the assembly's parent, so SARIF locations read `<outdir name>/<template>`.
    return subprocess.Popen(cmd, cwd=outdir.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603


def _finish_checkov(proc: subprocess.Popen[bytes], outdir: Path, report_dir: Path, paths: _Paths) -> ScanResult:
    stdout, stderr = proc.communicate()
    result = ScanResult(
        tool="checkov", returncode=proc.returncode, stderr=stderr.decode(errors="replace"), report_dir=report_dir
    )
    report = report_dir / "checkov.json"
    if proc.returncode not in (0, 1) or not report.exists():
        detail = (result.stderr or stdout.decode(errors="replace")).strip()[-2000:]
        result.findings.append(ScanFinding("checkov", "crash", detail, "Error", str(outdir), "-", "", ""))
        return result
    data = json.loads(report.read_text(encoding="utf-8"))
    # One framework gives one report object; several give a list of them.
    for run in data if isinstance(data, list) else [data]:
        result.summary = run.get("summary", {})
        results = run.get("results", {})
        result.skipped += results.get("skipped_checks", [])
        for check in results.get("failed_checks", []):
            resource = check.get("resource", "")
            logical_id = resource.split(".", 1)[-1]
            filename = Path(check.get("file_path", "")).name
            lines = check.get("file_line_range") or []
            result.findings.append(
                ScanFinding(
                    tool="checkov",
                    check=check["check_id"],
                    title=check.get("check_name", ""),
                    level="FAILED",
                    file=filename,
                    resource=resource,
                    construct_path=paths.of(filename, logical_id),
                    lines="-".join(map(str, lines)),
                )
            )
        for error in results.get("parsing_errors", []):
            result.findings.append(
                ScanFinding("checkov", "parse-error", "checkov could not parse", "Error", str(error), "-", "", "")
            )
    _relocate_sarif(report_dir / "checkov.sarif", outdir.name)
    return result


def _relocate_sarif(sarif: Path, outdir_name: str) -> None:
    """Point SARIF locations at `cdk.out/<template>`, where `make synth` writes the same templates."""
    if not sarif.exists():
        return
    data = json.loads(sarif.read_text(encoding="utf-8"))
    prefix = outdir_name.rstrip("/") + "/"
    for run in data.get("runs", []):
        for res in run.get("results", []):
            for loc in res.get("locations", []):
                artifact = loc.get("physicalLocation", {}).get("artifactLocation", {})
                uri = str(artifact.get("uri", "")).lstrip("/")
                if uri.startswith(prefix):
                    uri = uri[len(prefix) :]
                artifact["uri"] = f"cdk.out/{uri}"
    sarif.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


class PendingScan:
    """cfn-lint and checkov started over one assembly; `finish()` waits and parses."""

    def __init__(self, outdir: Path, report_dir: Path, *, lint_cache: Path | None = None) -> None:
        """`lint_cache`: a directory of cfn-lint results per template content (see `_start_cfn_lint`)."""
        self.outdir, self.report_dir = outdir.resolve(), report_dir.resolve()
        self.report_dir.mkdir(parents=True, exist_ok=True)
        self._paths = _Paths(self.outdir)
        self._checkov = _start_checkov(self.outdir, self.report_dir)
        self._lint = _start_cfn_lint(self.outdir, self.report_dir, lint_cache)

    def finish(self) -> dict[str, ScanResult]:
        return {
            "cfn-lint": _finish_cfn_lint(self._lint, self._paths),
            "checkov": _finish_checkov(self._checkov, self.outdir, self.report_dir, self._paths),
        }


def scan(outdir: Path, report_dir: Path) -> dict[str, ScanResult]:
    """Run cfn-lint (per region) and checkov concurrently over `outdir`; reports go to `report_dir`."""
    return PendingScan(outdir, report_dir).finish()
