"""`make audit`: the SBOM part offline on the real requirements files, and the verdicts of pip-audit runs.

The vulnerability lookup itself needs network, so it is tested through `classify`
on the outputs pip-audit gives in each situation (as observed with pip-audit 2.10.1).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ci_tools.supply_chain import (
    CLEAN,
    NOT_DONE,
    TOOL_FAILED,
    VULNERABLE,
    build_sboms,
    classify,
    label,
    requirements_files,
)
from tests.conftest import ROOT

_PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)")


def _pins(requirements: Path) -> dict[str, str]:
    """name -> version of a requirements file, following `-r` includes as pip does."""
    pins: dict[str, str] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("-r "):
            pins |= _pins(requirements.parent / line[3:].strip())
        elif match := _PIN.match(line):
            name = match[1].split("[", 1)[0]  # extras (moto[cloudformation]) are not part of the name
            pins[name.lower().replace("_", "-")] = match[2]
    return pins


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's requirements files plus a Lambda asset, as one will appear."""
    root = tmp_path_factory.mktemp("tree")
    for requirements in requirements_files(ROOT):
        (root / requirements.name).write_text(requirements.read_text(encoding="utf-8"), encoding="utf-8")
    asset = root / "lambda" / "rotate_secret"
    asset.mkdir(parents=True)
    (asset / "requirements.txt").write_text("requests==2.34.2\n", encoding="utf-8")
    (asset / "handler.py").write_text("", encoding="utf-8")
    return root


def test_every_requirements_file_is_inventoried_lambda_assets_included(tree: Path) -> None:
    names = [label(r, tree) for r in requirements_files(tree)]
    assert names == ["requirements-dev", "requirements-scan", "requirements", "lambda-rotate_secret"]
    assert {r.name for r in requirements_files(ROOT)} >= {"requirements.txt", "requirements-dev.txt"}


def test_sbom_of_each_requirements_file_lists_its_pins_offline(tree: Path, tmp_path: Path) -> None:
    sboms = build_sboms(tmp_path, tree, venvs=())
    assert [s.error for s in sboms if s.error] == []
    assert len(sboms) == len(requirements_files(tree))
    for sbom, requirements in zip(sboms, requirements_files(tree), strict=True):
        bom = json.loads(Path(sbom.file).read_text(encoding="utf-8"))
        assert bom["bomFormat"] == "CycloneDX"
        assert bom["specVersion"] == "1.6"
        listed = {c["name"].lower().replace("_", "-"): c["version"] for c in bom["components"]}
        assert listed == _pins(requirements), requirements.name
        assert all(c["purl"].startswith("pkg:pypi/") for c in bom["components"])


_NOT_FOUND = {
    "dependencies": [
        {"name": "boto3", "skip_reason": "Dependency not found on PyPI and could not be audited: boto3 (1.44.5)"},
        {"name": "pydantic", "skip_reason": "Dependency not found on PyPI and could not be audited: pydantic (2.14.3)"},
    ],
    "fixes": [],
}


def test_a_mirror_that_knows_no_package_is_not_a_clean_audit() -> None:
    audit = classify("requirements.txt", "r.json", 0, json.dumps(_NOT_FOUND), "No known vulnerabilities found")
    assert audit.status == NOT_DONE
    assert "answered for none of 2 packages" in audit.detail


def test_no_network_is_reported_as_lookup_not_done() -> None:
    stderr = (
        "Traceback (most recent call last):\n  ...\nrequests.exceptions.ConnectionError: HTTPSConnectionPool("
        "host='api.osv.dev', port=443): Max retries exceeded with url: /v1/query (Caused by NameResolutionError(...))"
    )
    audit = classify("requirements.txt", "r.json", 1, "", stderr)
    assert audit.status == NOT_DONE
    assert audit.detail.startswith("vulnerability service unreachable")


def test_a_known_vulnerability_fails_with_id_and_fix() -> None:
    report = {
        "dependencies": [
            {"name": "requests", "version": "2.0.0", "vulns": [{"id": "PYSEC-2023-74", "fix_versions": ["2.31.0"]}]},
            {"name": "boto3", "version": "1.44.5", "vulns": []},
        ]
    }
    audit = classify("lambda/x/requirements.txt", "r.json", 1, json.dumps(report), "")
    assert audit.status == VULNERABLE
    assert audit.vulnerabilities == ["requests 2.0.0: PYSEC-2023-74 (fix: 2.31.0)"]


def test_a_clean_answer_is_clean_and_names_what_was_not_audited() -> None:
    report = {
        "dependencies": [
            {"name": "boto3", "version": "1.44.5", "vulns": []},
            {"name": "private-lib", "skip_reason": "Dependency not found on PyPI and could not be audited: x"},
        ]
    }
    audit = classify("requirements.txt", "r.json", 0, json.dumps(report), "")
    assert (audit.status, audit.audited, len(audit.not_audited)) == (CLEAN, 1, 1)


def test_a_crashing_tool_is_a_tool_failure() -> None:
    assert classify("requirements.txt", "r.json", 1, "", "ValueError: bad requirement").status == TOOL_FAILED
