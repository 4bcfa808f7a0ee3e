"""Every environment file in envs/ is held to the default's bar: loaded, synthesized, gated, scanned.

One synthesis per file, all in this module's process; then cfn-lint and checkov start once over
every file's templates (per-template results cached in .test-cache/), each file judged on its own.
A fork adds its own environment file to envs/ and `make test` checks it the same way.
The committed JSON Schema must equal what the models generate (`make schema` rewrites it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from ci_tools.scanners import ScanBatch, ScanResult
from compliance.gate import Gate, GateReport
from config import EnvironmentConfig, load_environment
from config.schema import render
from costs.estimate import estimate, load_price_table, readme_row
from pci_constructs.permissions_boundary import PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE
from tests.cache import CHECKOV_CACHE, LINT_CACHE
from tests.conftest import ENV_FILES, ENVS, SCHEMA, EnvironmentSynths
from tests.template_scan import unprotected
from tests.test_cost import readme_cost_rows


@dataclass
class Checked:
    path: Path
    config: EnvironmentConfig
    gate: Gate
    report: GateReport
    outdir: Path
    stacks: list[str]
    scans: dict[str, ScanResult]


@pytest.fixture(scope="module")
def all_checked(environment_synths: EnvironmentSynths) -> dict[Path, Checked | str]:
    """Every file synthesized once in this process (tests/conftest.py `environment_synths`, shared with
    tests/test_evidence_pages.py), then one scan batch over all of their templates (one checkov process,
    one cfn-lint per region: issue #23), each file keeping its own results. A file the gate stops is
    reported as that file's failure only."""
    built = list(environment_synths.values())
    scannable = {b.path.name: (b.outdir, b.outdir.parent / "scans") for b in built if b.failure is None}
    scans = ScanBatch(scannable, lint_cache=LINT_CACHE, checkov_cache=CHECKOV_CACHE).finish() if scannable else {}
    return {
        b.path: b.failure or Checked(b.path, b.config, b.gate, b.report, b.outdir, b.stacks, scans[b.path.name])
        for b in built
    }


@pytest.fixture(scope="module", params=ENV_FILES, ids=lambda p: p.name)
def checked(request: pytest.FixtureRequest, all_checked: dict[Path, Checked | str]) -> Checked:
    result = all_checked[request.param]
    assert not isinstance(result, str), result
    return result


def test_there_is_an_example_and_a_low_cost_profile() -> None:
    assert {p.name for p in ENV_FILES} >= {"example.yaml", "nonprod-low-cost.yaml"}


def test_environment_file_passes_the_gate(checked: Checked) -> None:
    assert checked.report.passed, "\n".join(map(str, checked.report.findings))
    assert all(name.startswith(f"PciLz-{checked.config.name}-") for name in checked.stacks)


def test_environment_file_has_no_cfn_lint_error(checked: Checked) -> None:
    errors = [f for f in checked.scans["cfn-lint"].findings if f.level == "Error"]
    assert not errors, "\n".join(map(str, errors))


def test_environment_file_has_no_failed_checkov_check(checked: Checked) -> None:
    result = checked.scans["checkov"]
    assert not result.findings, "\n".join(map(str, result.findings))
    assert result.summary.get("passed", 0) > 0


def test_environment_file_protects_custom_resource_functions_and_the_alert_path(checked: Checked) -> None:
    """Issue #22: what the permissions boundary protects by tag carries pci-lz:protected=true in every stack."""
    templates = [
        (path.name, json.loads(path.read_text(encoding="utf-8"))) for path in checked.outdir.glob("*.template.json")
    ]
    assert templates
    missing = unprotected(templates, PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE)
    assert not missing, "\n".join(missing)


def test_environment_names_are_unique_so_assemblies_never_mix() -> None:
    names = [load_environment(str(p)).name for p in ENV_FILES]
    assert len(set(names)) == len(names), names
    assert "default" not in names


def test_committed_schema_matches_the_models() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == render(), (
        "envs/environment.schema.json is stale: run `make schema` and commit it"
    )


def test_the_projects_files_point_editors_at_the_schema() -> None:
    """The shipped files show how; a fork's own files are not required to (it changes no behaviour)."""
    for path in (ENVS / "example.yaml", ENVS / "nonprod-low-cost.yaml"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        if path.suffix == ".json":
            assert json.loads(path.read_text(encoding="utf-8")).get("$schema") == SCHEMA.name
        else:
            assert first == f"# yaml-language-server: $schema={SCHEMA.name}", path.name


def _field_names(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for candidate in _models_in(field.annotation):
            names |= _field_names(candidate)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def test_the_example_documents_every_field() -> None:
    """Every field of every model appears in envs/example.yaml (set, or shown commented out)."""
    text = (ENVS / "example.yaml").read_text(encoding="utf-8")
    shown = set(re.findall(r"^\s*#?\s*([a-z_0-9]+):", text, re.MULTILINE))
    missing = sorted(_field_names(EnvironmentConfig) - shown)
    assert not missing, f"envs/example.yaml does not show: {missing}"


def test_conditional_entries_apply_exactly_where_their_conditions_hold(checked: Checked) -> None:
    """An entry with `when` (AwsSolutions-RDS11 behind the proxy, or direct) is applied in an
    environment where its reason is true and nowhere else: nonprod-low-cost has the proxy off."""
    for entry, paths in checked.gate.acknowledged_paths.items():
        if entry.when:
            assert bool(paths) is entry.applies_in(checked.config), (entry.id, paths)
    proxy = checked.config.database.enable_proxy
    applied = {e.id for e, paths in checked.gate.acknowledged_paths.items() if paths and e.rule == "AwsSolutions-RDS11"}
    assert applied == {"database-default-port-behind-proxy" if proxy else "database-default-port-direct"}


def test_the_readme_cost_figures_are_what_make_cost_prints_for_this_file(checked: Checked) -> None:
    """A README "What it costs" row for an envs/ file quotes `make cost LZ_ENV=<file>` exactly."""
    regions, rows = readme_cost_rows()
    path = f"`envs/{checked.path.name}`"
    label = next((label for label in rows if label.startswith(path)), None)
    if label is None:
        pytest.skip(f"README quotes no cost for {checked.path.name}")
    assert rows[label] == readme_row(label, estimate(checked.outdir), load_price_table(), regions)


def test_the_example_names_every_guardduty_feature_the_detector_turns_on() -> None:
    """Issue 21 LOW 8: the comment above guardduty_mode left Lambda Protection out, though the detector turns
    it on. It names each feature of `GUARDDUTY_FEATURES` by its GuardDuty name."""
    from pci_constructs.detective_controls import GUARDDUTY_FEATURES

    lines = (ENVS / "example.yaml").read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("guardduty_mode:"))
    comment = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("#"):
            break
        comment.append(line)
    text = " ".join(comment)
    names = {
        "S3_DATA_EVENTS": "S3 protection",
        "RDS_LOGIN_EVENTS": "RDS login monitoring",
        "LAMBDA_NETWORK_LOGS": "Lambda Protection",
        "RUNTIME_MONITORING": "runtime",
    }
    assert set(GUARDDUTY_FEATURES) == set(names)
    assert all(names[feature] in text for feature in GUARDDUTY_FEATURES), text
