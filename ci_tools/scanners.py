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
import tempfile
from collections import defaultdict
from collections.abc import Mapping
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


def assembly_templates(outdir: Path) -> list[Path]:
    """Every stack template of the assembly and of the assemblies nested in it (a delivery's stages),
    in manifest order: what checkov scans (cfn-lint lints the top-level ones, `stack_templates`)."""
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    templates: list[Path] = []
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") == "aws:cloudformation:stack":
            templates.append(outdir / artifact["properties"]["templateFile"])
        elif artifact.get("type") == "cdk:cloud-assembly":
            templates += assembly_templates(outdir / artifact["properties"]["directoryName"])
    return templates


def _digest(*parts: bytes) -> str:
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:32]


def _cached_entry(cache: Path, key: str) -> Any:
    path = cache / f"{key}.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        os.utime(path)  # used now: an entry not used for days is pruned (tests/cache.py:prune)
        return entry
    except (OSError, ValueError):
        return None


def files_digest(paths: list[Path]) -> bytes:
    """The names and contents of the given files, directories walked (sorted), missing paths named as
    missing: what a scanner reads from its configuration besides the template."""
    parts: list[bytes] = []
    for path in paths:
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
        else:
            files = [path]
        for file in files:
            parts.append(str(file).encode() + b"\0" + (file.read_bytes() if file.is_file() else b"missing"))
    return hashlib.sha256(b"\0".join(parts)).hexdigest().encode()


def _yaml_mapping(path: Path) -> dict[str, Any]:
    """A scanner configuration file as a mapping ({} when it is not one: the scanner then fails itself)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value] if isinstance(value, list) else []


def _store_entry(cache: Path, key: str, entry: Any) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    temporary = cache / f"{key}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(entry), encoding="utf-8")
    temporary.replace(cache / f"{key}.json")  # atomic: a concurrent reader sees the old file or the new one


# --- cfn-lint -------------------------------------------------------------------------------------------


# cfn-lint's configuration files, the first found in the user's home and the first in the working
# directory (cfn-lint's cfnlint/config.py ConfigFileArgs._find_config; "Config File" in cfn-lint's README).
CFN_LINT_CONFIG_NAMES = (".cfnlintrc", ".cfnlintrc.yaml", ".cfnlintrc.yml")
# Keys of a .cfnlintrc that name files or directories cfn-lint reads (its config schema).
_CFN_LINT_FILE_KEYS = ("append_rules", "override_spec", "custom_rules", "parameter_files")


def cfn_lint_config_files(cwd: Path | None = None, home: Path | None = None) -> list[Path]:
    """The .cfnlintrc files cfn-lint run from `cwd` (default the working directory) reads: the first of
    `CFN_LINT_CONFIG_NAMES` that exists in `home` (default `Path.home()`) and the first in `cwd`."""
    found = []
    for directory in (Path.home() if home is None else home, Path.cwd() if cwd is None else cwd):
        found += [p for p in (directory / name for name in CFN_LINT_CONFIG_NAMES) if p.is_file()][:1]
    return found


def cfn_lint_config_digest(cwd: Path | None = None, home: Path | None = None) -> bytes | None:
    """A hash of cfn-lint's configuration files and of what they name (`append_rules` directories,
    `override_spec`, `custom_rules`, `parameter_files`; a relative path is relative to `cwd`, as cfn-lint
    resolves it), or None when a configuration names a URL (`append_rules` may: its content cannot be
    known, so the result is not cached)."""
    base = Path.cwd() if cwd is None else cwd
    named: list[Path] = []
    configs = cfn_lint_config_files(cwd, home)
    for config in configs:
        data = _yaml_mapping(config)
        for key in _CFN_LINT_FILE_KEYS:
            for value in _listed(data.get(key)):
                if "://" in value:
                    return None
                named.append(base / Path(value).expanduser())
    return files_digest(configs) + b"\0" + files_digest(named)


def _cfn_lint_identity(executable: str) -> str | None:
    """What a cached cfn-lint result depends on besides the template: the executable and its version, its
    configuration files and what they name (None: not cacheable, see `cfn_lint_config_digest`)."""
    try:
        version = importlib.metadata.version("cfn-lint")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    config = cfn_lint_config_digest()
    if config is None:
        return None
    stat = Path(executable).stat()
    return f"{executable}\0{stat.st_size}\0{stat.st_mtime_ns}\0{version}\0{config.decode()}"


@dataclass
class _LintRun:
    """One started cfn-lint process: the templates of one region (of every assembly in the batch) whose
    result was not cached, its JSON report, and the cache entry to store for each of them."""

    region: str
    proc: subprocess.Popen[bytes]
    out: Path
    templates: list[Path]
    entries: dict[Path, str]


class _CfnLint:
    """cfn-lint over the top-level templates of several assemblies: one process per region (each template
    is linted for the region its stack deploys to), over every template of that region that has no cached
    result. With `cache`, a template's matches are stored under the hash of (cfn-lint's identity, region,
    file name, content): cfn-lint lints each template on its own, so they are the same (issue #23)."""

    def __init__(self, outdirs: list[Path], work_dir: Path, cache: Path | None) -> None:
        self.cache = cache
        self.matches: dict[Path, list[dict[str, Any]]] = {}  # per template: cached, or filled by finish()
        self.regions: dict[Path, str] = {}
        self.runs: list[_LintRun] = []
        executable = cfn_lint_executable()
        lint_identity = _cfn_lint_identity(executable) if cache is not None else None
        if lint_identity is None:
            cache = self.cache = None
        identity = (lint_identity or "").encode()
        by_region: dict[str, list[Path]] = defaultdict(list)
        for outdir in outdirs:
            for region, templates in stack_templates(outdir).items():
                for template in templates:
                    self.regions[template] = region
                    by_region[region].append(template)
        for region, templates in sorted(by_region.items()):
            to_lint: list[Path] = []
            entries: dict[Path, str] = {}
            for template in templates:
                if cache is not None:
                    key = _digest(identity, region.encode(), template.name.encode(), template.read_bytes())
                    hit = _cached_entry(cache, key)
                    if isinstance(hit, list):
                        self.matches[template] = [{**match, "Filename": str(template)} for match in hit]
                        continue
                    entries[template] = key
                to_lint.append(template)
            if not to_lint:
                continue
            out = work_dir / f"cfn-lint-{region}.batch.json"
            cmd = [executable, "--format", "json", "--regions", region, "--", *map(str, to_lint)]
            with out.open("wb") as stdout:
                # The executables are the project's pinned scanners; the arguments are paths it wrote.
                proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)  # noqa: S603
            self.runs.append(_LintRun(region, proc, out, to_lint, entries))
        self.linted = bool(self.runs)

    def finish(self) -> dict[Path, ScanFinding]:
        """Wait for every process; fill `matches`. Returns a crash finding per template whose process failed."""
        crashed: dict[Path, ScanFinding] = {}
        for run in self.runs:
            _, stderr = run.proc.communicate()
            text = run.out.read_text(encoding="utf-8").strip()
            if run.proc.returncode not in (0, 2, 4, 6, 8, 10, 12, 14) or not text:
                # Exit code 1 (or no JSON) is cfn-lint itself failing, not a finding.
                detail = stderr.decode(errors="replace").strip()[-2000:]
                crash = ScanFinding("cfn-lint", "crash", detail, "Error", run.region, "-", "", "")
                crashed.update(dict.fromkeys(run.templates, crash))
                continue
            linted: list[dict[str, Any]] = json.loads(text)
            by_file: dict[Path, list[dict[str, Any]]] = {template: [] for template in run.templates}
            for match in linted:
                by_file.setdefault(Path(match.get("Filename", "")), []).append(match)
            for template in run.templates:  # each linted template's own matches, none for a clean one
                self.matches[template] = by_file[template]
                if self.cache is not None:
                    _store_entry(self.cache, run.entries[template], by_file[template])
        return crashed

    def result(self, outdir: Path, report_dir: Path, paths: _Paths, crashed: dict[Path, ScanFinding]) -> ScanResult:
        """One assembly's result; its report per region (`cfn-lint-<region>.json`) holds every template's
        matches, linted now or cached. cfn-lint's exit code is a bit per level found: 2 error, 4 warning,
        8 informational (1 when it crashed)."""
        result = ScanResult(tool="cfn-lint", returncode=0)
        for region, templates in sorted(stack_templates(outdir).items()):
            matches: list[dict[str, Any]] = []
            for template in templates:
                if template in crashed:
                    result.returncode |= 1
                    if crashed[template] not in result.findings:
                        result.findings.append(crashed[template])
                    continue
                matches += self.matches[template]
            (report_dir / f"cfn-lint-{region}.json").write_text(json.dumps(matches, indent=2) + "\n", encoding="utf-8")
            for match in matches:
                result.returncode |= {"Error": 2, "Warning": 4, "Informational": 8}.get(match.get("Level", "Error"), 2)
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


# --- checkov --------------------------------------------------------------------------------------------

# checkov's JSON record fields that name the file: rewritten for the assembly a cached entry is used in.
_CHECKOV_PATH_FIELDS = ("file_path", "file_abs_path", "repo_file_path")
_CHECKOV_LISTS = ("passed_checks", "failed_checks", "skipped_checks")
# How the batch is run (part of the cache key: a change of arguments is a different scan).
_CHECKOV_ARGS = ("--output", "json", "--output", "sarif")


# checkov reads every one of these that exists in the scanned directory (-d), the working directory and
# the user's home, besides --config-file (checkov/common/util/config_utils.py get_default_config_paths;
# "CLI Command Reference", --config-file, in checkov's documentation).
CHECKOV_CONFIG_NAMES = (".checkov.yaml", ".checkov.yml")


def checkov_config_files(cwd: Path, home: Path | None = None) -> list[Path]:
    """The checkov configuration files a run from `cwd` reads: `CHECKOV_CONFIG`, then each of
    `CHECKOV_CONFIG_NAMES` that exists in `cwd` and in `home` (default `Path.home()`)."""
    found = [CHECKOV_CONFIG]
    for directory in (cwd, Path.home() if home is None else home):
        found += [p for p in (directory / name for name in CHECKOV_CONFIG_NAMES) if p.is_file()]
    return found


def checkov_config_digest(cwd: Path, home: Path | None = None) -> bytes | None:
    """A hash of checkov's configuration files, of every `external-checks-dir` they name (relative to
    `cwd`) and of the `CKV_*`/`CHECKOV_*`/`BC_*` environment variables checkov reads; None when a file
    names `external-checks-git` (a repository's checks cannot be hashed here: not cached)."""
    configs = checkov_config_files(cwd, home)
    named: list[Path] = []
    for config in configs:
        data = _yaml_mapping(config)
        if data.get("external-checks-git"):
            return None
        named += [cwd / Path(v).expanduser() for v in _listed(data.get("external-checks-dir"))]
    variables = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(("CKV_", "CHECKOV_", "BC_")))
    return b"\0".join([files_digest(configs), files_digest(named), "\0".join(variables).encode()])


def _checkov_identity(executable: str, cwd: Path) -> bytes | None:
    """What a cached checkov result depends on besides the template: the executable, checkov's version
    (its dist-info in the executable's venv), the arguments, the configuration files a run from `cwd`
    reads and what they name (None: not cacheable, see `checkov_config_digest`)."""
    config = checkov_config_digest(cwd)
    if config is None:
        return None
    binary = Path(executable)
    stat = binary.stat()
    site = binary.resolve().parent.parent / "lib"
    versions = sorted(p.name for p in site.glob("python*/site-packages/checkov-*.dist-info"))
    return b"\0".join(
        [executable.encode(), f"{stat.st_size}\0{stat.st_mtime_ns}".encode(), " ".join(versions).encode()]
        + [a.encode() for a in _CHECKOV_ARGS]
        + [config]
    )


class _Checkov:
    """checkov over every stack template of several assemblies, nested stages included: one process over
    every template that has no cached result (`checkov -f <templates>`). With `cache`, a template's result
    (its passed, failed and skipped checks, its SARIF results, its resource count) is stored under the hash
    of (checkov's identity, file name, content); the skips of `compliance/checkov_skips.py` are in the
    template's metadata, so in its bytes. checkov evaluates each CloudFormation template on its own graph
    (a template's resources refer only to its own), so a template's result does not depend on the others."""

    def __init__(self, outdirs: list[Path], work_dir: Path, cache: Path | None) -> None:
        self.cache, self.work_dir = cache, work_dir
        self.entries: dict[Path, dict[str, Any]] = {}  # per template: cached, or filled by finish()
        self.keys: dict[Path, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        executable = checkov_executable()
        self.templates: list[Path] = [t for outdir in outdirs for t in assembly_templates(outdir)]
        # checkov runs from the templates' common directory, whose .checkov.yaml it would read: in the key.
        self.cwd = Path(os.path.commonpath([t.parent for t in self.templates])) if self.templates else work_dir
        checkov_identity = _checkov_identity(executable, self.cwd) if cache is not None else None
        if checkov_identity is None:
            cache = self.cache = None
        identity = checkov_identity or b""
        pending: dict[str, Path] = {}  # key -> the one template scanned for it
        for outdir in outdirs:
            for template in assembly_templates(outdir):
                key = _digest(identity, template.name.encode(), template.read_bytes())
                self.keys[template] = key
                hit = _cached_entry(cache, key) if cache is not None else None
                if isinstance(hit, dict):
                    self.entries[template] = hit
                elif cache is None:
                    pending[f"{key}\0{template}"] = template
                else:
                    pending.setdefault(key, template)  # the same file name and bytes twice: scanned once
        self.scanned = sorted(set(pending.values()))
        if not self.scanned:
            return
        cmd = [
            executable,
            "--config-file",
            str(CHECKOV_CONFIG),
            "-f",
            *map(str, self.scanned),
            *_CHECKOV_ARGS,
            "--output-file-path",
            f"{work_dir / 'checkov.batch.json'},{work_dir / 'checkov.batch.sarif'}",
        ]
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603

    def _template_of(self, name: str) -> Path:
        path = Path(name)
        return (path if path.is_absolute() and path.exists() else self.cwd / name.lstrip("/")).resolve()

    def finish(self) -> ScanFinding | None:
        """Wait for the process; fill `entries`. Returns a crash finding when checkov itself failed."""
        if self.proc is None:
            return None
        stdout, stderr = self.proc.communicate()
        report, sarif = self.work_dir / "checkov.batch.json", self.work_dir / "checkov.batch.sarif"
        if self.proc.returncode not in (0, 1) or not report.exists():
            detail = (stderr.decode(errors="replace") or stdout.decode(errors="replace")).strip()[-2000:]
            return ScanFinding("checkov", "crash", detail, "Error", str(self.cwd), "-", "", "")
        resolved = {template.resolve(): template for template in self.scanned}
        fresh: dict[Path, dict[str, Any]] = {
            template: {**{kind: [] for kind in _CHECKOV_LISTS}, "parsing_error": False, "sarif": []}
            for template in self.scanned
        }
        data = json.loads(report.read_text(encoding="utf-8"))
        runs = data if isinstance(data, list) else [data]  # one framework gives one report object
        head = {k: v for k, v in runs[0].items() if k not in ("results", "summary")} if runs else {}
        counted, version = 0, str(runs[0].get("summary", {}).get("checkov_version", "")) if runs else ""
        for run in runs:
            counted += int(run.get("summary", {}).get("resource_count", 0))
            results = run.get("results", {})
            for kind in _CHECKOV_LISTS:
                for record in results.get(kind, []):
                    template = resolved[self._template_of(record.get("file_abs_path") or record["file_path"])]
                    fresh[template][kind].append({**record, **dict.fromkeys(_CHECKOV_PATH_FIELDS, "")})
            for error in results.get("parsing_errors", []):
                fresh[resolved[self._template_of(str(error))]]["parsing_error"] = True
        sarif_data = json.loads(sarif.read_text(encoding="utf-8")) if sarif.exists() else {"runs": []}
        sarif_head = {k: v for k, v in sarif_data.items() if k != "runs"}
        for sarif_run in sarif_data.get("runs", []):
            driver = sarif_run.get("tool", {}).get("driver", {})
            rules = driver.get("rules", [])
            tool = {**sarif_run.get("tool", {}), "driver": {k: v for k, v in driver.items() if k != "rules"}}
            for res in sarif_run.get("results", []):
                rule = rules[res["ruleIndex"]] if isinstance(res.get("ruleIndex"), int) else None
                for loc in res.get("locations", [])[:1]:
                    uri = loc.get("physicalLocation", {}).get("artifactLocation", {}).get("uri", "")
                    fresh[resolved[self._template_of(str(uri))]]["sarif"].append({"result": res, "rule": rule})
            sarif_head["tool"] = tool
        for template, entry in fresh.items():
            resources = json.loads(template.read_text(encoding="utf-8")).get("Resources", {})
            entry |= {"resource_count": len(resources), "head": head, "sarif_head": sarif_head, "version": version}
        if counted != sum(entry["resource_count"] for entry in fresh.values()):
            detail = f"checkov counted {counted} resources, the templates hold a different number"
            return ScanFinding("checkov", "resource-count", detail, "Error", str(self.cwd), "-", "", "")
        if self.cache is not None:
            for template in self.scanned:
                _store_entry(self.cache, self.keys[template], fresh[template])
        by_key = {self.keys[template]: fresh[template] for template in self.scanned}
        for template in self.templates:
            if template not in self.entries:
                self.entries[template] = fresh.get(template) or by_key[self.keys[template]]
        return None

    def result(self, outdir: Path, report_dir: Path, paths: _Paths, crash: ScanFinding | None) -> ScanResult:
        """One assembly's result and its reports: `checkov.json` (checkov's JSON report of these templates)
        and `checkov.sarif`, whose locations read `cdk.out/<template>`, where `make synth` writes them."""
        if crash is not None:
            return ScanResult("checkov", 2, [crash], stderr=crash.title, report_dir=report_dir)
        templates = assembly_templates(outdir)
        lists: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _CHECKOV_LISTS}
        errors: list[str] = []
        sarif_results: list[dict[str, Any]] = []
        rules: dict[str, dict[str, Any]] = {}
        head: dict[str, Any] = {}
        sarif_head: dict[str, Any] = {}
        resource_count, version = 0, ""
        for template in templates:
            entry = self.entries[template]
            rel = template.relative_to(outdir).as_posix()
            located = {  # as `checkov --directory <outdir name>` run from the assembly's parent names them
                "file_path": f"/{rel}",
                "repo_file_path": f"/{outdir.name}/{rel}",
                "file_abs_path": f"{outdir.name}/{rel}",
            }
            for kind in _CHECKOV_LISTS:
                lists[kind] += [{**record, **located} for record in entry[kind]]
            if entry["parsing_error"]:
                errors.append(str(template))
            resource_count += entry["resource_count"]
            head, sarif_head = head or entry["head"], sarif_head or entry["sarif_head"]
            version = version or entry["version"]
            for item in entry["sarif"]:
                res = json.loads(json.dumps(item["result"]))
                if item["rule"] is not None:
                    rules.setdefault(item["rule"]["id"], item["rule"])
                    res["ruleIndex"] = list(rules).index(item["rule"]["id"])
                for loc in res.get("locations", []):
                    loc.setdefault("physicalLocation", {}).setdefault("artifactLocation", {})["uri"] = f"cdk.out/{rel}"
                sarif_results.append(res)
        summary = {
            "passed": len(lists["passed_checks"]),
            "failed": len(lists["failed_checks"]),
            "skipped": len(lists["skipped_checks"]),
            "parsing_errors": len(errors),
            "resource_count": resource_count,
            "checkov_version": version,
        }
        report = {**head, "results": {**lists, "parsing_errors": errors}, "summary": summary}
        (report_dir / "checkov.json").write_text(json.dumps(report, indent=4) + "\n", encoding="utf-8")
        tool = sarif_head.get("tool", {"driver": {"name": "Checkov"}})
        sarif = {
            **{k: v for k, v in sarif_head.items() if k != "tool"},
            "runs": [
                {
                    "tool": {**tool, "driver": {**tool["driver"], "rules": list(rules.values())}},
                    "results": sarif_results,
                }
            ],
        }
        (report_dir / "checkov.sarif").write_text(json.dumps(sarif, indent=2) + "\n", encoding="utf-8")
        result = ScanResult(
            "checkov",
            1 if lists["failed_checks"] else 0,
            summary=summary,
            report_dir=report_dir,
            skipped=lists["skipped_checks"],
        )
        for check in lists["failed_checks"]:
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
        for error in errors:
            result.findings.append(
                ScanFinding("checkov", "parse-error", "checkov could not parse", "Error", error, "-", "", "")
            )
        return result


class ScanBatch:
    """cfn-lint and checkov started once over several assemblies (issue #23): one checkov process over
    every template of all of them that has no cached result, one cfn-lint process per region; `finish()`
    waits and gives each assembly its own results and reports, by the name it was given.

    `assemblies`: name -> (cdk.out directory, report directory). `lint_cache`, `checkov_cache`: directories
    of per-template results (see `_CfnLint`, `_Checkov`); None scans everything. Raises FileNotFoundError
    when a scanner is not installed, OSError/ValueError when an assembly's manifest cannot be read.
    """

    def __init__(
        self,
        assemblies: Mapping[str, tuple[Path, Path]],
        *,
        lint_cache: Path | None = None,
        checkov_cache: Path | None = None,
    ) -> None:
        self.assemblies = {name: (out.resolve(), reports.resolve()) for name, (out, reports) in assemblies.items()}
        for _, reports in self.assemblies.values():
            reports.mkdir(parents=True, exist_ok=True)
        self._work = Path(tempfile.mkdtemp(prefix="lz-scan-"))
        outdirs = [out for out, _ in self.assemblies.values()]
        self._paths = {name: _Paths(out) for name, (out, _) in self.assemblies.items()}
        self.checkov = _Checkov(outdirs, self._work, checkov_cache)
        self.cfn_lint = _CfnLint(outdirs, self._work, lint_cache)

    def finish(self) -> dict[str, dict[str, ScanResult]]:
        """{assembly name: {"cfn-lint": result, "checkov": result}}."""
        crashed = self.cfn_lint.finish()
        crash = self.checkov.finish()
        results = {
            name: {
                "cfn-lint": self.cfn_lint.result(out, reports, self._paths[name], crashed),
                "checkov": self.checkov.result(out, reports, self._paths[name], crash),
            }
            for name, (out, reports) in self.assemblies.items()
        }
        shutil.rmtree(self._work, ignore_errors=True)
        return results


class PendingScan:
    """cfn-lint and checkov started over one assembly; `finish()` waits and parses."""

    def __init__(
        self, outdir: Path, report_dir: Path, *, lint_cache: Path | None = None, checkov_cache: Path | None = None
    ) -> None:
        """`lint_cache`, `checkov_cache`: directories of per-template results (see `ScanBatch`)."""
        self._batch = ScanBatch({"": (outdir, report_dir)}, lint_cache=lint_cache, checkov_cache=checkov_cache)

    def finish(self) -> dict[str, ScanResult]:
        return self._batch.finish()[""]


def scan(outdir: Path, report_dir: Path) -> dict[str, ScanResult]:
    """Run cfn-lint (per region) and checkov concurrently over `outdir`; reports go to `report_dir`."""
    return PendingScan(outdir, report_dir).finish()
