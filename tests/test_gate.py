"""The compliance gate fails closed, and every acknowledgment earns its place."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk import aws_s3 as s3

from compliance.acknowledgments import ACKNOWLEDGMENTS
from compliance.gate import (
    EVIDENCE_DIR,
    EVIDENCE_FILE,
    Finding,
    Gate,
    GateReport,
    failure_summary,
    register_gates,
    suppressed_by,
    synthesize,
    unused_acknowledgments,
)
from compliance.registry import NO_REQUIREMENT, Acknowledgment, AcknowledgmentError, apply_acknowledgments
from config import load_environment
from stacks.delivery import DELIVERY_PATH_PREFIX
from tests.conftest import Synthesized, new_app

PACKS = ("AwsSolutions", "PCI.DSS.321", "NIST.800.53.R5", "PCI-DSS-v4.0.1")
OWNER = "payments-platform"
REVIEW_BY = date.today() + timedelta(days=90)
# The delivery's entries (issue #14) match only the delivery app: tests/test_delivery.py holds them to it.
# Entries whose `when` conditions do not hold in the default environment (proxy on): held to the
# environment files where they do (tests/test_environment_files.py, nonprod-low-cost: proxy off).
NOT_IN_DEFAULT = frozenset(e.id for e in ACKNOWLEDGMENTS if not e.applies_in(load_environment(None)))
LANDING_ZONE_ACKNOWLEDGMENTS = tuple(
    e for e in ACKNOWLEDGMENTS if not e.path.startswith(DELIVERY_PATH_PREFIX) and e.id not in NOT_IN_DEFAULT
)
GOVERNANCE = ("id", "path", "rule", "reason", "requirement", "owner", "approver", "approval_date", "ticket")


def test_default_app_has_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    assert synthesized.report.passed, "\n".join(map(str, synthesized.report.findings))


def test_all_three_packs_run(synthesized: Synthesized) -> None:
    assert synthesized.gate.packs == PACKS


def test_evidence_lists_packs_and_every_acknowledgment(synthesized: Synthesized) -> None:
    evidence = json.loads((synthesized.outdir / EVIDENCE_DIR / EVIDENCE_FILE).read_text())
    assert evidence["packs"] == list(PACKS)
    assert evidence["passed"] is True
    assert evidence["unacknowledged"] == []
    registry = [row for row in evidence["acknowledgments"] if not row["carried_by"]]
    assert len(registry) == len(ACKNOWLEDGMENTS)
    for entry in evidence["acknowledgments"]:
        held_elsewhere = entry["path"].startswith(DELIVERY_PATH_PREFIX) or entry["id"] in NOT_IN_DEFAULT
        assert entry["constructs"] or held_elsewhere, entry
        assert set(GOVERNANCE) <= entry.keys()


@pytest.mark.parametrize("entry", ACKNOWLEDGMENTS, ids=lambda e: f"{e.rule}@{e.path}")
def test_acknowledgment_is_well_formed(entry: Acknowledgment) -> None:
    assert entry.problems() == []


@pytest.mark.parametrize("entry", LANDING_ZONE_ACKNOWLEDGMENTS, ids=lambda e: f"{e.rule}@{e.path}")
def test_acknowledgment_still_hides_a_real_finding(entry: Acknowledgment, synthesized: Synthesized) -> None:
    """Stale acknowledgments are holes: each must suppress a finding the app really has.

    Judged on this entry's own rule and constructs only (what the gate itself checks), so a
    resource a fork adds elsewhere can never fail it.
    """
    paths = synthesized.gate.acknowledged_paths[entry]
    assert suppressed_by(entry, paths, synthesized.report), (
        f"the finding is no longer raised at {entry.path}: delete this entry ({entry.source})"
    )


def test_gate_reports_no_acknowledgment_as_unused(synthesized: Synthesized) -> None:
    assert synthesized.report.unused == ()


def test_an_acknowledgment_whose_finding_is_gone_fails_the_gate_with_what_to_do(tmp_path: Path) -> None:
    stack = _tiny_app(tmp_path)
    s3.Bucket(stack, "Bucket")
    needless = Acknowledgment(
        path="Tiny/Bucket",
        rule="PCI4-RDS-NOT-PUBLIC",  # a bucket is never an RDS instance: nothing to suppress
        reason="A reason that is long enough to pass the length rule of the registry",
        requirement="PCI DSS v4.0.1 1.3.1",
        owner=OWNER,
        review_by=REVIEW_BY,
    )
    gate = register_gates(stack.node.root, acknowledgments=[needless])  # type: ignore[arg-type]
    _, report = synthesize(stack.node.root, gate)  # type: ignore[arg-type]
    assert report.unused == (needless,)
    assert not report.passed
    assert "the finding is no longer raised at Tiny/Bucket: delete this entry" in failure_summary(report)


def test_validation_report_lists_every_pack_with_reasons(synthesized: Synthesized) -> None:
    """Acknowledged findings stay visible to an assessor in CDK's own report, with the reason."""
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert set(PACKS) <= plugins.keys()
    for name in PACKS:
        assert plugins[name]["violations"] == []
        for suppressed in plugins[name]["suppressedViolations"]:
            assert suppressed["acknowledgedId"].startswith(f"{name}::")
            # The requirement the finding concerns, or the registry's reviewed "no requirement" form.
            assert "[PCI DSS v4.0.1 " in suppressed["reason"] or f"[{NO_REQUIREMENT}]" in suppressed["reason"]


def test_gate_fails_on_a_deliberately_broken_construct(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = Stack(app, "Broken")
    s3.Bucket(stack, "PlainBucket")  # no encryption key, no logging, no TLS policy
    gate = register_gates(app, acknowledgments=())
    assembly, report = synthesize(app, gate)
    assert assembly is None
    assert not report.passed
    rules = {f.rule for f in report.findings}
    assert {"AwsSolutions-S1", "AwsSolutions-S10", "PCI.DSS.321-S3BucketSSLRequestsOnly"} <= rules
    assert all(f.path.startswith("Broken/PlainBucket") for f in report.findings)
    assert json.loads((tmp_path / EVIDENCE_DIR / EVIDENCE_FILE).read_text())["passed"] is False


def _tiny_app(tmp_path: Path) -> Stack:
    return Stack(new_app(tmp_path), "Tiny")


def test_stale_acknowledgment_is_rejected(tmp_path: Path) -> None:
    stack = _tiny_app(tmp_path)
    s3.Bucket(stack, "Bucket")
    stale = Acknowledgment(
        path="Tiny/NoSuchConstruct",
        rule="AwsSolutions-S1",
        reason="A reason that is long enough to pass the length rule of the registry",
        requirement="PCI DSS v4.0.1 10.2.1",
        owner=OWNER,
        review_by=REVIEW_BY,
    )
    with pytest.raises(AcknowledgmentError, match="stale acknowledgments"):
        apply_acknowledgments(stack.node.root, [stale])  # type: ignore[arg-type]


def test_a_misspelt_acknowledgment_path_gets_the_nearest_construct_paths(tmp_path: Path) -> None:
    """Fork trial finding 8: the "no match" message suggests what the path probably meant."""
    stack = _tiny_app(tmp_path)
    s3.Bucket(stack, "AuditBucket")
    typo = Acknowledgment(
        path="Tiny/AudtBucket/Resource",
        rule="AwsSolutions-S1",
        reason="A reason that is long enough to pass the length rule of the registry",
        requirement="PCI DSS v4.0.1 10.2.1",
        owner=OWNER,
        review_by=REVIEW_BY,
    )
    with pytest.raises(AcknowledgmentError, match=r"did you mean 'Tiny/AuditBucket/Resource'"):
        apply_acknowledgments(stack.node.root, [typo])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "rule", "reason", "requirement", "problem"),
    [
        ("Tiny", "AwsSolutions-S1", "x" * 50, "PCI DSS v4.0.1 10.2.1", "not a whole stack"),
        ("Tiny/*", "AwsSolutions-S1", "x" * 50, "PCI DSS v4.0.1 10.2.1", "not a whole stack"),
        ("Tiny/Bucket", "S1", "x" * 50, "PCI DSS v4.0.1 10.2.1", "not a known pack's rule ID"),
        ("Tiny/Bucket", "AwsSolutions-S1", "false positive", "PCI DSS v4.0.1 10.2.1", "must be specific"),
        ("Tiny/Bucket", "AwsSolutions-S1", "", "PCI DSS v4.0.1 10.2.1", "must be specific"),
        ("Tiny/Bucket", "AwsSolutions-S1", "x" * 50, "10.2.1", "PCI DSS v4.0.1"),
    ],
)
def test_malformed_acknowledgment_is_rejected(
    tmp_path: Path, path: str, rule: str, reason: str, requirement: str, problem: str
) -> None:
    stack = _tiny_app(tmp_path)
    s3.Bucket(stack, "Bucket")
    entry = Acknowledgment(
        path=path, rule=rule, reason=reason, requirement=requirement, owner=OWNER, review_by=REVIEW_BY
    )
    with pytest.raises(AcknowledgmentError, match=problem):
        apply_acknowledgments(stack.node.root, [entry])  # type: ignore[arg-type]


def test_wildcards_match_one_segment_only() -> None:
    entry = Acknowledgment(
        path="S/*/Route",
        rule="AwsSolutions-S1",
        reason="x" * 50,
        requirement="PCI DSS v4.0.1 1.2",
        owner=OWNER,
        review_by=REVIEW_BY,
    )
    assert entry.matches("S/PublicSubnet1/Route")
    assert not entry.matches("S/Vpc/PublicSubnet1/Route")


@pytest.mark.parametrize(
    ("rule", "validation_id"),
    [
        ("AwsSolutions-VPC3", "AwsSolutions::AwsSolutions-VPC3"),
        ("PCI.DSS.321-VPCFlowLogsEnabled", "PCI.DSS.321::PCI.DSS.321-VPCFlowLogsEnabled"),
        ("AwsSolutions-IAM5[Resource::*]", "AwsSolutions::AwsSolutions-IAM5[Resource::*]"),
        ("CloudFormation-Validate::W3010", "CloudFormation-Validate::W3010"),
        ("PCI4-LAMBDA-IN-VPC", "PCI-DSS-v4.0.1::PCI4-LAMBDA-IN-VPC"),
    ],
)
def test_acknowledgments_use_plugin_namespaced_ids(rule: str, validation_id: str) -> None:
    entry = Acknowledgment(
        path="S/C", rule=rule, reason="x" * 50, requirement="PCI DSS v4.0.1 1.2", owner=OWNER, review_by=REVIEW_BY
    )
    assert entry.validation_id == validation_id


def test_a_resource_added_elsewhere_never_makes_an_acknowledgment_unused() -> None:
    """What a fork does: a new construct brings its own findings (or none); each entry is judged
    on its own rule at its own constructs, so the registry's verdict on it does not move."""
    entry = Acknowledgment(
        path="S/Logs",
        rule="AwsSolutions-S1",
        reason="A reason that is long enough to pass the length rule of the registry",
        requirement="PCI DSS v4.0.1 10.2.1",
        owner=OWNER,
        review_by=REVIEW_BY,
    )
    hidden = Finding("AwsSolutions", "AwsSolutions-S1", "error", "S/Logs/Resource", "d", entry.validation_id)
    gate = Gate(packs=(), acknowledged_paths={entry: ["S/Logs"]})
    before = GateReport(plugins=("AwsSolutions",), findings=(), acknowledged=(hidden,))
    new_bucket = Finding("AwsSolutions", "AwsSolutions-S1", "error", "S/ForkBucket/Resource", "d")
    after = GateReport(plugins=("AwsSolutions",), findings=(new_bucket,), acknowledged=(hidden,))
    assert unused_acknowledgments(gate, before) == unused_acknowledgments(gate, after) == ()


def test_an_environments_scope_is_the_construct_tree_so_a_forks_own_stack_can_be_acknowledged(
    tmp_path: Path,
) -> None:
    """An environment file's entries apply to every stack under the App (or Stage) it was built
    in, derived from the construct tree: a stack a fork adds beside the landing zone included."""
    app = new_app(tmp_path)
    fork = Stack(app, "AcmeReports")
    s3.Bucket(fork, "Exports", enforce_ssl=True)  # no access logging: AwsSolutions-S1
    entry = Acknowledgment(
        path="AcmeReports/Exports",
        rule="AwsSolutions-S1",
        reason="Exports are written once by a job whose every call CloudTrail data events already record",
        requirement="PCI DSS v4.0.1 10.2.1",
        owner=OWNER,
        approver="acme-risk-committee",
        review_by=REVIEW_BY,
        scope="",
        source="environment 'acme' (acknowledgments)",
    )
    gate = register_gates(app, acknowledgments=(), environment=[entry])
    assert gate.acknowledged_paths[entry] == ["AcmeReports/Exports"]
    _, report = synthesize(app, gate)
    assert "AwsSolutions-S1" not in {f.rule for f in report.findings}
    assert suppressed_by(entry, gate.acknowledged_paths[entry], report)


def test_the_no_match_message_says_what_was_searched(tmp_path: Path) -> None:
    stack = _tiny_app(tmp_path)
    s3.Bucket(stack, "Bucket")
    entry = Acknowledgment(
        path="Tiny/Buckets",
        rule="AwsSolutions-S1",
        reason="A reason that is long enough to pass the length rule of the registry",
        requirement="PCI DSS v4.0.1 10.2.1",
        owner=OWNER,
        review_by=REVIEW_BY,
        scope="prod",
        source="environment 'prod' (acknowledgments)",
    )
    with pytest.raises(AcknowledgmentError) as raised:
        apply_acknowledgments(stack.node.root, [entry])  # type: ignore[arg-type]
    message = str(raised.value)
    assert "searched" in message
    assert "'Tiny/Buckets'" in message
    assert "'prod'" in message
    assert "0 matched the path" in message


def test_what_constructs_justify_is_recorded_and_judged_like_any_entry(synthesized: Synthesized) -> None:
    """SegmentedVpc's own justifications appear in the gate (and its evidence) with their reason,
    requirement and governance, and each still suppresses a real finding of the default app."""
    carried = [e for e in synthesized.gate.acknowledged_paths if e.carried_by]
    assert {e.rule for e in carried} >= {"AwsSolutions-VPC3", "PCI4-EC2-NACL-NO-OPEN-INGRESS", "PCI4-LAMBDA-IN-VPC"}
    for entry in carried:
        assert entry.problems() == []
        assert suppressed_by(entry, synthesized.gate.acknowledged_paths[entry], synthesized.report), entry
    evidence = json.loads((synthesized.outdir / EVIDENCE_DIR / EVIDENCE_FILE).read_text())
    assert {row["carried_by"] for row in evidence["acknowledgments"]} >= {None, "SegmentedVpc"}
