"""The pull-request workflow and .ci/run: only the README's commands, pinned actions, evidence uploaded.

The workflow is not run here (no GitHub); what can be checked offline is checked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pr.yml"
CI_RUN = ROOT / ".ci" / "run"
README = ROOT / "README.md"
_SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return data


def _steps() -> list[dict[str, Any]]:
    return [step for job in _workflow()["jobs"].values() for step in job["steps"]]


def _run_commands() -> list[str]:
    return [
        line.strip() for step in _steps() if "run" in step for line in str(step["run"]).splitlines() if line.strip()
    ]


def readme_commands() -> set[str]:
    """`make <target>` commands the README tells users to run (code blocks and inline code)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh|shell|console)?\n(.*?)```", text, re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    inline = re.findall(r"`(make [a-z][a-z-]*)`", text)
    return {" ".join(line.split()[:2]) for line in lines if line.startswith("make ")} | set(inline)


GRAPHVIZ_INSTALL = "sudo apt-get install -y --no-install-recommends graphviz"


def test_workflow_runs_exactly_the_readme_commands() -> None:
    commands = _run_commands()
    # Graphviz first, so the evidence diagrams are rendered (and uploaded) and their tests run.
    assert commands[0] == GRAPHVIZ_INSTALL
    commands = commands[1:]
    assert commands == ["make synth", "make test", "make audit"], commands
    documented = readme_commands()
    missing = [c for c in commands if c not in documented]
    assert not missing, f"not in README.md: {missing}"


def test_ci_run_is_make_test() -> None:
    lines = [
        line.strip()
        for line in CI_RUN.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "set -euo pipefail" in lines
    graphviz = [line for line in lines if line.startswith("command -v dot ")]
    assert len(graphviz) == 1, "Graphviz is installed so the diagram renders are tested"
    assert "apt-get install" in graphviz[0]
    assert " graphviz " in graphviz[0]
    # Chromium too: tests/test_evidence_browser.py renders the report in it (Debian package `chromium`).
    assert "command -v chromium " in graphviz[0]
    assert " chromium " in graphviz[0]
    assert [line for line in lines if not line.startswith(("set ", "cd ", "command -v dot "))] == ["make test"]
    assert "make test" in readme_commands()
    assert "apt-get install -y graphviz" in README.read_text(encoding="utf-8")


def test_every_action_is_pinned_to_a_full_commit_sha() -> None:
    uses = [str(step["uses"]) for step in _steps() if "uses" in step]
    assert uses, "no actions?"
    assert [u for u in uses if not _SHA_PIN.match(u)] == []
    text = WORKFLOW.read_text(encoding="utf-8")
    for action in uses:  # each pin says which release it is
        assert re.search(rf"{re.escape(action)} # v\d+\.\d+\.\d+", text), action


def test_python_and_node_match_the_project() -> None:
    with_by_action = {str(s["uses"]).split("@")[0]: s.get("with", {}) for s in _steps() if "uses" in s}
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    target = re.search(r'target-version = "py3(\d+)"', pyproject)
    assert target is not None
    assert with_by_action["actions/setup-python"]["python-version"] == f"3.{target[1]}"
    assert with_by_action["actions/setup-node"]["node-version-file"] == ".nvmrc"


def test_node_is_pinned_to_22_or_later_everywhere() -> None:
    """package.json pins Node (npm package `node`) and declares `engines`; .nvmrc and the README agree."""
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    pinned = package["devDependencies"]["node"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), pinned
    assert int(pinned.split(".")[0]) >= 22
    assert package["engines"]["node"] == ">=22"
    assert (ROOT / ".nvmrc").read_text(encoding="utf-8").strip() == pinned
    assert "Node.js 22" in README.read_text(encoding="utf-8")
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/node"]["version"] == pinned


def test_readme_cdk_commands_resolve_to_the_pinned_cli() -> None:
    """`npx cdk` in a fresh clone fetches an unrelated npm package named `cdk`."""
    text = README.read_text(encoding="utf-8")
    assert not re.search(r"npx cdk [a-z]", text)


def test_makefile_selects_environments_with_lz_env_not_env() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "LZ_ENV ?=" in makefile
    assert "$(ENV)" not in makefile.replace("make $(MAKECMDGOALS) LZ_ENV=$(ENV)", "")
    assert "ENV=" not in README.read_text(encoding="utf-8").replace("LZ_ENV=", "")


def test_evidence_and_sarif_are_uploaded_from_where_the_checks_write_them() -> None:
    by_action = {str(s["uses"]).split("@")[0]: s for s in _steps() if "uses" in s}
    artifact = by_action["actions/upload-artifact"]
    paths = set(str(artifact["with"]["path"]).split())
    assert {"cdk.out/validation-report.json", "cdk.out/compliance/"} <= paths
    assert artifact["if"] == "always()"
    sarif = by_action["github/codeql-action/upload-sarif"]
    # tests/test_outside_scanners.py writes the checkov SARIF there when SCAN_REPORT_DIR is unset.
    assert sarif["with"]["sarif_file"] == "cdk.out/compliance/scans/checkov.sarif"
    job = next(iter(_workflow()["jobs"].values()))
    assert job["permissions"]["security-events"] == "write"
    assert job["env"]["AUDIT_STRICT"] == "1"


def test_every_readme_make_command_is_a_makefile_target() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    documented = {c.split()[1] for c in readme_commands()}
    assert documented <= targets, documented - targets


def test_the_workflow_file_is_where_github_reads_it() -> None:
    assert Path(".github/workflows/pr.yml") == WORKFLOW.relative_to(ROOT)
