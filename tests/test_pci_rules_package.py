"""The rule pack as its own distribution, and no vacuous passes.

The wheel is built from a copy of `pci_rules/` (nothing written into the repository) once per source
state (kept in `.test-cache/rules-wheel/`, tests/cache.py), installed every run into a fresh venv with
`--no-index` (the venv reuses the dependencies already installed in `.venv` through a `.pth` file, never
the registry), and gates `tests/fork/app.py`: a small app that uses neither the landing zone's stacks
nor its configuration.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path
from typing import Any, cast

import pytest

import pci_rules
from pci_rules.rule import RuleResult
from pci_rules.rules import RULES
from tests.cache import cache_dir, cache_lock, tree_digest
from tests.conftest import ROOT, Delivered, Synthesized
from tests.fork import app as fork_app

PACKAGE = ROOT / "pci_rules"
PYPROJECT = tomllib.loads((PACKAGE / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
(BUILD_REQUIRES,) = PYPROJECT["build-system"]["requires"]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_the_build_backend_is_pinned_in_the_dev_requirements() -> None:
    """The wheel test builds without isolation from .venv: requirements-dev.txt's setuptools meets the pack's
    build requirement, and the wheel test passes --no-build-isolation and --no-index."""
    assert BUILD_REQUIRES.startswith("setuptools>=")
    pins = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    (pinned,) = re.findall(r"^setuptools==(\S+)$", pins, flags=re.MULTILINE)
    assert _version(pinned) >= _version(BUILD_REQUIRES.split(">=", 1)[1])
    source = Path(__file__).read_text(encoding="utf-8")
    assert '"--no-build-isolation", "--no-index"' in source


def test_the_pack_and_the_repository_have_one_licence() -> None:
    """`pci_rules/LICENSE` is the repository's LICENSE (the pack's folder is built on its own, so it keeps a
    copy), and both distributions declare it."""
    assert (PACKAGE / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for project in (PROJECT, root):
        assert project["license"] == "Apache-2.0"
        assert project["license-files"] == ["LICENSE"]


def test_the_distribution_has_its_version_changelog_and_readme() -> None:
    assert PROJECT["version"] == pci_rules.__version__
    changelog = (PACKAGE / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## (\S+)", changelog, re.MULTILINE)
    assert first is not None
    assert first[1] == pci_rules.__version__, "CHANGELOG's newest entry is the version"
    readme = (PACKAGE / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    # five lines of code (ruff's formatter puts a blank line after the imports)
    assert len([line for line in quick_start.splitlines() if line.strip()]) == 5
    assert "AwsSolutionsChecks(app)" in quick_start, "shown beside cdk-nag 3"
    assert "PciDssV4Plugin()" in quick_start
    names = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0] for d in PROJECT["dependencies"]}
    assert names == {"aws-cdk-lib", "constructs"}, "the pack needs CDK only: not cdk-nag, not the landing zone"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, env=environ, capture_output=True, text=True, timeout=600, check=False)


_NOT_PACKAGED = ("__pycache__", "build", "*.egg-info")


def _package_files() -> list[Path]:
    """What the rule pack's wheel is built from: every file of pci_rules/ that the build copies."""
    return [
        f
        for f in PACKAGE.rglob("*")
        if f.is_file() and not any(part in ("__pycache__", "build") or part.endswith(".egg-info") for part in f.parts)
    ]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The fork app's summary, run in a fresh venv where only the built wheel provides `pci_rules`."""
    tmp = tmp_path_factory.mktemp("wheel")
    # PEP 517 with the declared backend, from .venv's own setuptools (requirements-dev.txt): no isolated
    # build environment, no index, so the test never downloads anything.
    backend = BUILD_REQUIRES.split(">=", 1)[1]
    have = importlib.metadata.version("setuptools")
    if _version(have) < _version(backend):
        pytest.fail(
            f"setuptools {have} in .venv; pci_rules/pyproject.toml needs >= {backend}: install"
            f" requirements-dev.txt's setuptools pin (make deps)"
        )
    # Built once per source state and setuptools version, kept under .test-cache/ (tests/cache.py, issue
    # #23); the install into a fresh venv below runs every time.
    dist = cache_dir("rules-wheel", tree_digest(_package_files(), f"setuptools=={have}", f"python {sys.version}"))
    with cache_lock(dist):
        if not list(dist.glob("pci_dss_v4_cdk_rules-*.whl")):
            source = tmp / "source" / "pci_rules"
            shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns(*_NOT_PACKAGED))
            wheel_args = ["wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), "."]
            build = _run([sys.executable, "-m", "pip", *wheel_args], source)
            assert build.returncode == 0, build.stderr[-3000:]
        (wheel,) = dist.glob("pci_dss_v4_cdk_rules-*.whl")
    target = tmp / "venv"
    venv.EnvBuilder(with_pip=False, clear=True).create(target)
    python = target / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp).stdout.strip()
    # Reuse what .venv has installed (aws-cdk-lib, constructs, jsii): appended after the venv's own site.
    Path(site, "reuse-installed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    install = _run([*pip, "install", "--quiet", "--no-index", str(wheel)], tmp)
    assert install.returncode == 0, install.stderr[-3000:]
    check = _run([*pip, "check"], tmp)
    assert check.returncode == 0, check.stdout[-3000:]
    run = tmp / "run"
    run.mkdir()
    shutil.copy2(Path(fork_app.__file__), run / "app.py")
    synth = _run([str(python), "app.py", str(tmp / "cdk.out")], run)
    assert synth.returncode == 0, synth.stderr[-3000:]
    summary: dict[str, Any] = json.loads(synth.stdout.strip().splitlines()[-1])
    summary["venv"] = str(target)
    summary["wheel"] = str(wheel)
    with zipfile.ZipFile(wheel) as archive:
        summary["wheel_files"] = archive.namelist()
    results = tmp / "cdk.out" / "pci-dss-v4-results.json"
    summary["results"] = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else None
    return summary


def _wheel_metadata(wheel: Path) -> tuple[str, set[str]]:
    """The wheel's METADATA text and the names of its files."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        return archive.read(metadata).decode("utf-8"), names


def test_the_wheel_carries_its_licence(installed: dict[str, Any]) -> None:
    """An outside team can take the pack on only under known terms (reader r21d HIGH 1): the wheel names its
    SPDX licence (PEP 639 `License-Expression`) and ships the licence text, the repository's own."""
    metadata, names = _wheel_metadata(Path(installed["wheel"]))
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    (licence,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(installed["wheel"]) as archive:
        assert archive.read(licence) == (ROOT / "LICENSE").read_bytes()


def test_the_wheel_carries_the_changelog_and_crosswalk(installed: dict[str, Any]) -> None:
    """QSA reader r21d LOW: the CHANGELOG the README points to ships in the wheel."""
    assert {"pci_rules/CHANGELOG.md", "pci_rules/CROSSWALK.md", "pci_rules/README.md"} <= set(installed["wheel_files"])


def test_the_apps_subprocess_synth_leaves_the_results_file(installed: dict[str, Any]) -> None:
    """The fork app run as `cdk synth` runs an app (a subprocess with the outdir): the plugin's results survive it."""
    results = installed["results"]
    assert results is not None, "no pci-dss-v4-results.json in the assembly"
    assert results["version"] == pci_rules.__version__
    assert len(results["rules"]) == len(RULES)
    assert all(isinstance(r["examined"], int) and r["status"] for r in results["rules"])


def test_the_wheel_is_what_the_fork_app_imports(installed: dict[str, Any]) -> None:
    assert installed["installed_at"].startswith(installed["venv"]), installed["installed_at"]
    assert installed["version"] == pci_rules.__version__


def test_the_installed_pack_gates_an_app_that_uses_none_of_the_landing_zone(installed: dict[str, Any]) -> None:
    assert installed["failed"], "an unacknowledged finding fails the synth"
    open_bucket = {v["rule"]: v for v in installed["violations"] if "Fork/Open/Resource" in v["paths"]}
    assert {"PCI4-S3-CUSTOMER-KEY", "PCI4-S3-TLS-ONLY", "PCI4-S3-VERSIONING", "PCI4-S3-ACCESS-LOGGING"} <= set(
        open_bucket
    )
    assert "server_access_logs_bucket" in open_bucket["PCI4-S3-ACCESS-LOGGING"]["fix"], "the output names the fix"


def test_cdks_own_acknowledgment_is_honoured(installed: dict[str, Any]) -> None:
    assert {"rule": "PCI4-S3-ACCESS-LOGGING", "paths": ["Fork/Legacy/Resource"]} in installed["suppressed"]
    flagged = [p for v in installed["violations"] for p in v["paths"]]
    assert "Fork/Legacy/Resource" not in flagged
    # a database restored from a snapshot: its owner verified the snapshot's encryption (pack 1.14.0)
    assert {"rule": "PCI4-RDS-INHERITED-ENCRYPTION", "paths": ["Fork/Restored"]} in installed["suppressed"]
    assert "Fork/Restored" not in flagged, "every other rule passes the restored database"


def test_the_apps_acknowledgment_source_is_honoured(installed: dict[str, Any]) -> None:
    assert installed["source_acknowledged"] == [
        ["PCI4-S3-ACCESS-LOGGING", "Fork/Exported/Resource", fork_app.SOURCE_REASON]
    ]
    flagged = [p for v in installed["violations"] for p in v["paths"]]
    assert "Fork/Exported/Resource" not in flagged


def test_a_never_acknowledgeable_rule_ignores_the_source(tmp_path: Path) -> None:
    from aws_cdk import App, IPolicyValidationPlugin, Stack, Validations
    from aws_cdk import aws_ec2 as ec2

    from pci_rules.plugin import PciDssV4Plugin

    app = App(outdir=str(tmp_path), context={"aws:cdk:enable-path-metadata": True})
    stack = Stack(app, "Plain")
    ec2.CfnVolume(stack, "Disk", availability_zone="us-east-1a", size=8, encrypted=False)
    plugin = PciDssV4Plugin([r for r in RULES if r.id == "PCI4-EC2-VOLUME-ENCRYPTED"], acknowledgments=lambda f: "x")
    Validations.of(app).add_plugins(cast("IPolicyValidationPlugin", plugin))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert plugin.acknowledged == []


# --- No vacuous passes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fork_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    summary = fork_app.main(str(tmp_path_factory.mktemp("fork.out")))
    examined: dict[str, int] = summary["examined"]  # type: ignore[assignment]
    return examined


def test_no_rule_examines_nothing_in_every_test_app(
    synthesized: Synthesized, delivered: Delivered, fork_results: dict[str, int]
) -> None:
    """Default app, delivery app, the fork app: each rule examines something in at least one, except a
    rule about absence, whose evidence is finding none."""
    examined = dict.fromkeys((r.id for r in RULES), 0)
    for results in (synthesized.gate.pci_dss_v4.results, delivered.gate.pci_dss_v4.results):
        for result in results:
            examined[result.rule.id] += result.examined
    for rule_id, count in fork_results.items():
        examined[rule_id] += count
    idle = sorted(r.id for r in RULES if not r.absence and not examined[r.id])
    assert idle == [], f"rules that examined nothing in any test app: {idle}"


def test_the_evidence_wording_of_an_empty_result() -> None:
    by_id = {r.id: r for r in RULES}
    assert RuleResult(by_id["PCI4-IAM-NO-USERS"], ()).evidence.startswith(
        "absence in the templates confirmed: none found, and finding none is the evidence"
    )
    assert RuleResult(by_id["PCI4-EC2-VOLUME-ENCRYPTED"], ()).evidence.startswith("not evidenced")
    assert [r.id for r in RULES if r.absence] == ["PCI4-IAM-NO-USERS"]
