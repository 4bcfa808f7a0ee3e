"""Outside yardsticks on the session's one synth: cfn-lint (zero errors) and checkov (zero failed checks).

A skip is allowed only in compliance/checkov_skips.py, per resource, with a reason.
The same scanners run on a deliberately broken template to prove a new failure fails.
Reports (JSON, SARIF for code scanning) land in $SCAN_REPORT_DIR, default cdk.out/compliance/scans/.
"""

from __future__ import annotations

import json
import subprocess
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnResource, Stack

from ci_tools.scanners import CHECKOV_CONFIG, ScanBatch, ScanResult, checkov_executable, construct_paths
from compliance.checkov_skips import CHECKOV_SKIPS, CheckovSkip, apply_checkov_skips
from compliance.registry import AcknowledgmentError
from tests.cache import CHECKOV_CACHE, LINT_CACHE
from tests.conftest import BROKEN_PATH, Synthesized, write_broken_assembly

Scans = dict[str, ScanResult]

_BROKEN_PATH = BROKEN_PATH
_write_broken_assembly = write_broken_assembly


@pytest.fixture(scope="module")
def scans(outside_scans: dict[str, Scans]) -> tuple[Scans, Scans]:
    """(project, broken), from the session's one scan batch (tests/conftest.py `outside_scans`)."""
    return outside_scans["default"], outside_scans["broken"]


def _listing(findings: Sequence[object]) -> str:
    return "\n  ".join(map(str, findings))


def test_cfn_lint_reports_no_errors(scans: tuple[Scans, Scans]) -> None:
    result = scans[0]["cfn-lint"]
    errors = [f for f in result.findings if f.level == "Error"]
    assert not errors, f"cfn-lint errors in the synthesized templates:\n  {_listing(errors)}"
    if result.findings:  # warnings and informational matches: shown, not failed (the report has them all)
        counts = Counter(f"{f.level} {f.check}" for f in result.findings)
        warnings.warn(f"cfn-lint: {dict(sorted(counts.items()))}", UserWarning, stacklevel=1)


def test_checkov_has_no_failed_check(scans: tuple[Scans, Scans]) -> None:
    result = scans[0]["checkov"]
    assert not result.findings, (
        "checkov failed checks (fix the construct, or add a CheckovSkip with a specific reason to"
        f" compliance/checkov_skips.py):\n  {_listing(result.findings)}"
    )


def test_checkov_scanned_every_stack(scans: tuple[Scans, Scans], synthesized: Synthesized) -> None:
    summary = scans[0]["checkov"].summary
    assert summary.get("parsing_errors") == 0
    assert summary.get("passed", 0) > 0
    templates = {f"{name}.template.json" for name, _ in synthesized.templates()}
    reported = {Path(c["file_path"]).name for c in scans[0]["checkov"].skipped}
    assert summary.get("resource_count", 0) >= len(templates), summary
    assert reported <= templates, reported - templates


def test_every_checkov_skip_is_honoured_on_the_resources_it_names(
    scans: tuple[Scans, Scans], synthesized: Synthesized
) -> None:
    """Each registry entry shows up in checkov's skipped list, on each resource it matched, with its reason."""
    skipped = scans[0]["checkov"].skipped
    seen = {
        (
            c["check_id"],
            c["resource"].split(".", 1)[-1],
            Path(c["file_path"]).name,
            c["check_result"]["suppress_comment"],
        )
        for c in skipped
    }
    paths = {path: key for key, path in construct_paths(synthesized.outdir).items()}
    missing = []
    for entry, resources in synthesized.gate.checkov_skipped_paths.items():
        # A conditional entry (the delivery's pipeline stacks, issue #14) exists only in another app.
        assert resources or entry.conditional, f"{entry.path} {entry.check} matched nothing"
        for path in resources:
            file, logical_id = paths[path]
            if (entry.check, logical_id, file, entry.comment) not in seen:
                missing.append(f"{entry.check} on {path}")
    assert not missing, "skips written but not reported as skipped by checkov:\n  " + "\n  ".join(missing)


def test_checkov_config_holds_no_global_skip() -> None:
    text = CHECKOV_CONFIG.read_text(encoding="utf-8")
    keys = {line.split(":", 1)[0].strip() for line in text.splitlines() if line and not line.startswith((" ", "#"))}
    assert {"framework", "skip-download"} <= keys
    forbidden = keys & {"skip-check", "soft-fail", "soft-fail-on", "skip-path", "skip-framework", "baseline"}
    assert not forbidden, f".checkov.yaml must not skip globally: {sorted(forbidden)}"


def test_a_new_checkov_failure_fails_with_check_resource_and_file(scans: tuple[Scans, Scans]) -> None:
    failures = [str(f) for f in scans[1]["checkov"].findings]
    assert failures, "checkov found nothing wrong with an unencrypted, unlogged bucket"
    assert any(
        "CKV_AWS_18" in f
        and "AWS::S3::Bucket.PaymentsBucket" in f
        and _BROKEN_PATH in f
        and "Broken.template.json" in f
        for f in failures
    ), "\n".join(failures)


def test_a_cfn_lint_error_fails_with_rule_resource_and_file(scans: tuple[Scans, Scans]) -> None:
    errors = [str(f) for f in scans[1]["cfn-lint"].findings if f.level == "Error"]
    assert any("E3002" in e and "PaymentsBucket" in e and "Broken.template.json" in e for e in errors), errors


def test_checkov_sarif_points_at_cdk_out(scans: tuple[Scans, Scans]) -> None:
    report_dir = scans[1]["checkov"].report_dir
    assert report_dir is not None
    sarif = json.loads((report_dir / "checkov.sarif").read_text(encoding="utf-8"))
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for run in sarif["runs"]
        for res in run["results"]
        for loc in res["locations"]
    }
    assert uris == {"cdk.out/Broken.template.json"}


def _tiny_app() -> App:
    app = App()
    stack = Stack(app, "PciLz-test-Network-us-east-1")
    CfnResource(stack, "Thing", type="AWS::SNS::Topic")
    return app


_REASON = "A specific reason long enough to say why this check does not apply here"


def test_a_stale_checkov_skip_is_refused() -> None:
    stale = CheckovSkip("PciLz-*-Network-*/Gone", "CKV_AWS_26", _REASON, "PCI DSS v4.0.1 3.5.1")
    with pytest.raises(AcknowledgmentError, match="stale checkov skips"):
        apply_checkov_skips(_tiny_app(), [stale])


@pytest.mark.parametrize(
    ("check", "reason", "requirement", "problem"),
    [
        ("CKV_AWS_26", "not applicable", "PCI DSS v4.0.1 3.5.1", "reason must be specific"),
        ("AwsSolutions-S1", _REASON, "PCI DSS v4.0.1 3.5.1", "not a checkov AWS check ID"),
        ("CKV_AWS_26", _REASON, "3.5.1", "requirement must read"),
    ],
)
def test_a_malformed_checkov_skip_is_refused(check: str, reason: str, requirement: str, problem: str) -> None:
    entry = CheckovSkip("PciLz-*-Network-*/Thing", check, reason, requirement)
    with pytest.raises(AcknowledgmentError, match=problem):
        apply_checkov_skips(_tiny_app(), [entry])


def test_skips_on_one_resource_merge_into_one_metadata_entry() -> None:
    app = _tiny_app()
    entries = [
        CheckovSkip("PciLz-*-Network-*/Thing", c, _REASON, "PCI DSS v4.0.1 3.5.1") for c in ("CKV_AWS_26", "CKV_AWS_1")
    ]
    apply_checkov_skips(app, entries)
    resource = app.node.find_child("PciLz-test-Network-us-east-1").node.find_child("Thing")
    assert isinstance(resource, CfnResource)
    assert [s["id"] for s in resource.get_metadata("checkov")["skip"]] == ["CKV_AWS_26", "CKV_AWS_1"]


def test_every_registry_skip_is_well_formed() -> None:
    assert all(not entry.problems() for entry in CHECKOV_SKIPS)


def test_a_cached_cfn_lint_result_is_the_result_of_linting_the_same_template(tmp_path: Path) -> None:
    """The lint cache (issue #23) gives the same findings without starting cfn-lint, and a changed
    template is linted again. checkov's results come from the session's checkov cache (this test asserts
    none of them; the broken assembly's template is the one `outside_scans` scans)."""
    outdir = tmp_path / "cdk.out"
    _write_broken_assembly(outdir)
    cache = tmp_path / "lint-cache"

    def lint(report: str) -> tuple[list[str], bool]:
        batch = ScanBatch({report: (outdir, tmp_path / report)}, lint_cache=cache, checkov_cache=CHECKOV_CACHE)
        linted = batch.cfn_lint.linted
        return sorted(map(str, batch.finish()[report]["cfn-lint"].findings)), linted

    first, linted_first = lint("first")
    again, linted_again = lint("again")
    assert linted_first
    assert not linted_again
    assert again == first
    assert any("E3002" in f for f in first), first
    assert json.loads((tmp_path / "again" / "cfn-lint-us-east-1.json").read_text(encoding="utf-8"))
    template = outdir / "Broken.template.json"
    template.write_text(template.read_text(encoding="utf-8").replace("BucketNam", "BucketName"), encoding="utf-8")
    changed, linted_changed = lint("changed")
    assert linted_changed
    assert not any("E3002" in f for f in changed), changed


def _checkov_view(report: dict[str, Any]) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], dict[str, Any]]:
    """What a checkov JSON report says: failed and skipped checks (check, resource, file, lines), the counts."""
    results = report["results"]

    def rows(kind: str) -> list[tuple[str, ...]]:
        return sorted(
            (c["check_id"], c["resource"], c["file_path"], str(c["file_line_range"]), c["check_result"]["result"])
            for c in results[kind]
        )

    summary = {k: v for k, v in report["summary"].items() if k != "checkov_version"}
    return rows("failed_checks"), rows("skipped_checks"), summary


def test_a_cached_checkov_result_is_the_result_of_scanning_the_same_template(tmp_path: Path) -> None:
    """The checkov cache (issue #23): a miss (one checkov -f run, split per template) and a hit (no checkov
    process) report what checkov run as before the cache (`--directory cdk.out`) reports for the same
    template, skip included; a changed template misses and is scanned again. cfn-lint's results come from
    the session's lint cache (this test asserts none of them)."""
    outdir = tmp_path / "cdk.out"
    _write_broken_assembly(outdir)
    template = outdir / "Broken.template.json"
    data = json.loads(template.read_text(encoding="utf-8"))
    skip = {"id": "CKV_AWS_21", "comment": _REASON}  # one skip in the metadata, as checkov_skips writes it
    data["Resources"]["PaymentsBucket"]["Metadata"]["checkov"] = {"skip": [skip]}
    template.write_text(json.dumps(data, indent=1), encoding="utf-8")
    before = subprocess.run(  # the project's pinned checkov, as ci_tools ran it before the cache
        [checkov_executable(), "--config-file", str(CHECKOV_CONFIG), "--directory", "cdk.out", "--output", "json"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert before.returncode == 1, before.stderr
    cache = tmp_path / "checkov-cache"

    def run(report: str) -> tuple[ScanResult, bool]:
        batch = ScanBatch({report: (outdir, tmp_path / report)}, lint_cache=LINT_CACHE, checkov_cache=cache)
        scanned = batch.checkov.proc is not None
        return batch.finish()[report]["checkov"], scanned

    def report(name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((tmp_path / name / "checkov.json").read_text(encoding="utf-8"))
        return loaded

    first, scanned_first = run("first")
    again, scanned_again = run("again")
    assert scanned_first
    assert not scanned_again
    assert _checkov_view(report("again")) == _checkov_view(report("first")) == _checkov_view(json.loads(before.stdout))
    assert sorted(map(str, again.findings)) == sorted(map(str, first.findings))
    assert any(f.check == "CKV_AWS_18" for f in again.findings)
    assert [c["check_id"] for c in again.skipped] == ["CKV_AWS_21"]
    sarif = [(tmp_path / name / "checkov.sarif").read_text(encoding="utf-8") for name in ("first", "again")]
    assert sarif[0] == sarif[1]
    template.write_text(template.read_text(encoding="utf-8").replace("BucketNam", "BucketName"), encoding="utf-8")
    changed, scanned_changed = run("changed")
    assert scanned_changed
    assert changed.summary["resource_count"] == 1
