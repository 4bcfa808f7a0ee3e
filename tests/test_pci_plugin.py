"""The v4.0.1 plugin in the gate: findings in validation-report.json, escape hatches and raw
CfnResources caught, governed acknowledgments (owner, review date, never-acknowledgeable,
per-environment)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import CfnResource, Stack, Stage
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3

from compliance.acknowledgments import ACKNOWLEDGMENTS
from compliance.gate import (
    FIX_AND_ACKNOWLEDGE,
    GateReport,
    environment_acknowledgments,
    failure_summary,
    register_gates,
    synthesize,
)
from compliance.registry import (
    NEVER_ACKNOWLEDGEABLE,
    Acknowledgment,
    AcknowledgmentError,
    apply_acknowledgments,
)
from config import ConfigError, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from pci_constructs.governance import months_ahead
from pci_rules.plugin import PLUGIN_NAME
from pci_rules.rules import RULES
from tests.conftest import Synthesized, new_app

TODAY = date(2026, 11, 29)
REASON = "A specific reason, long enough for the registry's rule on generic reasons"


def _ack(**overrides: Any) -> Acknowledgment:
    fields: dict[str, Any] = {
        "path": "Tiny/Bucket",
        "rule": "AwsSolutions-S1",
        "reason": REASON,
        "requirement": "PCI DSS v4.0.1 10.2.1",
        "owner": "payments-platform",
        "review_by": date(2027, 6, 1),
        **overrides,
    }
    return Acknowledgment(**fields)


def _tiny(tmp_path: Path) -> Stack:
    stack = Stack(new_app(tmp_path), "Tiny")
    s3.Bucket(stack, "Bucket")
    return stack


# --- the plugin on the default app ----------------------------------------------------------------


def test_validation_report_has_the_v4_plugin_beside_cdk_nag(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert PLUGIN_NAME in plugins
    assert plugins[PLUGIN_NAME]["violations"] == []
    # The registry's v4.0.1 entries reach the pack through its acknowledgment source, so CDK suppresses
    # only what a reusable construct justifies itself (with CDK's own acknowledge).
    carried = {e.rule for e in synthesized.gate.acknowledged_paths if e.carried_by and e.rule.startswith("PCI4-")}
    suppressed = plugins[PLUGIN_NAME].get("suppressedViolations", [])
    assert {v["ruleName"] for v in suppressed} <= carried
    for violation in suppressed:
        assert violation["acknowledgedId"] == f"{PLUGIN_NAME}::{violation['ruleName']}"
        assert violation["suggestedFix"]


def test_governed_acknowledgments_reach_the_pack_through_its_source(synthesized: Synthesized) -> None:
    """Every registry entry for a v4.0.1 rule applied in the default app is what the plugin's source accepted,
    at the entry's constructs, with the reason, requirement and owner; the gate report records each as acknowledged."""
    accepted = synthesized.gate.pci_dss_v4.acknowledged
    assert accepted
    entries = {
        entry: paths
        for entry, paths in synthesized.gate.acknowledged_paths.items()
        if entry.rule.startswith("PCI4-") and not entry.carried_by and paths and not entry.conditional
    }
    assert entries
    for entry, paths in entries.items():
        hits = [
            (f, reason)
            for f, reason in accepted
            if f.rule.id == entry.rule
            and any(f.resource.path == p or f.resource.path.startswith(p + "/") for p in paths)
        ]
        assert hits, f"{entry} accepted nothing through the source"
        assert all(
            entry.reason in reason and entry.requirement in reason and entry.owner in reason for _, reason in hits
        )
    recorded = {(f.rule, f.path) for f in synthesized.report.acknowledged if f.plugin == PLUGIN_NAME}
    assert {(f.rule.id, f.resource.path) for f, _ in accepted} <= recorded


def test_the_source_accepts_only_its_entrys_rule_and_constructs(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = Stack(app, "Tiny")
    for name in ("Bucket", "Other"):
        s3.Bucket(stack, name, enforce_ssl=True, versioned=True)
    entry = _ack(path="Tiny/Bucket", rule="PCI4-S3-ACCESS-LOGGING")
    gate = register_gates(app, acknowledgments=[entry], checkov_skips=(), today=TODAY)
    _, report = synthesize(app, gate)
    accepted = [(f.rule.id, f.resource.path) for f, _ in gate.pci_dss_v4.acknowledged]
    assert accepted == [("PCI4-S3-ACCESS-LOGGING", "Tiny/Bucket/Resource")]
    open_paths = {f.path for f in report.findings if f.rule == "PCI4-S3-ACCESS-LOGGING"}
    assert open_paths == {"Tiny/Other/Resource"}
    assert report.unused == ()
    # What the pack prints for the open one names the rule, the construct path and the fix.
    plugin = next(
        p
        for p in json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
        if p["pluginName"] == PLUGIN_NAME
    )
    (violation,) = [v for v in plugin["violations"] if v["ruleName"] == "PCI4-S3-ACCESS-LOGGING"]
    assert [c["constructPath"] for c in violation["violatingConstructs"]] == ["Tiny/Other/Resource"]
    assert violation["suggestedFix"]


def test_gate_exposes_the_plugins_model_and_results(synthesized: Synthesized) -> None:
    plugin = synthesized.gate.pci_dss_v4
    assert plugin.model is not None
    assert set(plugin.model.stacks) == {name for name, _ in synthesized.templates()}
    assert [r.rule.id for r in plugin.results] == [r.id for r in RULES]
    assert sum(len(r.passes) for r in plugin.results) > 300  # every examined resource, passes kept


def test_default_sg_provider_logs_to_its_own_group_without_an_aws_managed_policy(synthesized: Synthesized) -> None:
    plugin = synthesized.gate.pci_dss_v4
    by_id = {r.rule.id: r for r in plugin.results}
    provider = "CustomVpcRestrictDefaultSGCustomResourceProvider"  # logical ID prefix of its Role and Handler
    for rule_id in ("PCI4-LAMBDA-LOG-GROUP", "PCI4-IAM-NO-AWS-MANAGED-POLICY"):
        checks = [c for c in by_id[rule_id].checks if c.resource.logical_id.startswith(provider)]
        assert checks, rule_id
        assert all(c.passed for c in checks), rule_id


# --- escape hatches and raw CfnResources fail the synth -----------------------------------------


@pytest.fixture(scope="module")
def escape_hatches(tmp_path_factory: pytest.TempPathFactory) -> GateReport:
    """One app, one stack per fault; each resource is compliant as built and broken by an override."""
    outdir = tmp_path_factory.mktemp("cdk.out.escape-hatches")
    app = new_app(outdir)
    keys = Stack(app, "Keys")
    key = kms.Key(keys, "Key", enable_key_rotation=True)
    key.node.default_child.add_property_override("EnableKeyRotation", False)  # type: ignore[union-attr]
    trail_stack = Stack(app, "Trail")
    trail = cloudtrail.Trail(trail_stack, "Trail", enable_file_validation=True, is_multi_region_trail=True)
    trail.node.default_child.add_property_override("EnableLogFileValidation", False)  # type: ignore[union-attr]
    db_stack = Stack(app, "Database")
    vpc = ec2.Vpc(db_stack, "Vpc", max_azs=2, nat_gateways=0)
    database = rds.DatabaseInstance(
        db_stack,
        "Db",
        engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17),
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        storage_encrypted=True,
    )
    database.node.default_child.add_property_override("StorageEncrypted", False)  # type: ignore[union-attr]
    raw = Stack(app, "Raw")
    CfnResource(
        raw,
        "AdminRole",
        type="AWS::IAM::Role",
        properties={
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
                ],
            },
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
        },
    )
    gate = register_gates(app, acknowledgments=())
    assembly, report = synthesize(app, gate)
    assert assembly is None  # the synth failed
    return report


@pytest.mark.parametrize(
    ("rule_id", "path"),
    [
        ("PCI4-KMS-ROTATION", "Keys/Key/Resource"),
        ("PCI4-TRAIL-VALIDATION", "Trail/Trail/Resource"),
        ("PCI4-RDS-STORAGE-ENCRYPTED", "Database/Db/Resource"),
        ("PCI4-IAM-NO-ADMIN-POLICY", "Raw/AdminRole"),
        ("PCI4-IAM-NO-AWS-MANAGED-POLICY", "Raw/AdminRole"),
    ],
)
def test_an_override_or_raw_resource_fails_the_synth(escape_hatches: GateReport, rule_id: str, path: str) -> None:
    found = [(f.plugin, f.severity) for f in escape_hatches.findings if f.rule == rule_id and f.path == path]
    # a never-acknowledgeable rule reports at "fatal", the severity CDK's acknowledge(...) cannot suppress
    severity = "error" if next(r for r in RULES if r.id == rule_id).acknowledgeable else "fatal"
    assert found == [(PLUGIN_NAME, severity)], [str(f) for f in escape_hatches.findings if f.plugin == PLUGIN_NAME]


def test_failure_output_groups_per_construct_and_ends_with_where_to_fix(escape_hatches: GateReport) -> None:
    summary = failure_summary(escape_hatches)
    assert summary.endswith(FIX_AND_ACKNOWLEDGE)
    lines = summary.splitlines()
    assert "Raw/AdminRole:" in lines
    assert lines.count("Raw/AdminRole:") == 1  # one heading per construct, its findings under it
    assert "compliance/acknowledgments.yaml" in lines[-1]
    assert "acknowledgments" in lines[-1]


# --- governed acknowledgments --------------------------------------------------------------------


def test_every_project_entry_names_an_owner_and_a_review_date_within_a_year() -> None:
    for entry in ACKNOWLEDGMENTS:
        assert entry.owner.strip()
        assert date.today() <= entry.review_by <= months_ahead(date.today(), 12), entry


def test_expired_acknowledgment_fails_naming_it(tmp_path: Path) -> None:
    stack = _tiny(tmp_path)
    expired = _ack(review_by=date(2026, 11, 28))
    with pytest.raises(AcknowledgmentError, match=r"AwsSolutions-S1 at Tiny/Bucket .*expired: review_by 2026-11-28"):
        apply_acknowledgments(stack.node.root, [expired], today=TODAY)  # type: ignore[arg-type]
    # the same entry is valid on the day it is due
    assert apply_acknowledgments(stack.node.root, [expired], today=date(2026, 11, 28))  # type: ignore[arg-type]


def test_expired_acknowledgment_stops_the_gate(tmp_path: Path) -> None:
    app = _tiny(tmp_path).node.root
    with pytest.raises(AcknowledgmentError, match="expired"):
        register_gates(app, acknowledgments=[_ack(review_by=date(2026, 1, 1))], today=TODAY)  # type: ignore[arg-type]


def test_review_date_more_than_twelve_months_ahead_is_refused() -> None:
    assert months_ahead(TODAY, 12) == date(2027, 11, 29)
    assert months_ahead(date(2028, 2, 29), 12) == date(2029, 2, 28)
    assert _ack(review_by=date(2027, 11, 29)).problems(TODAY) == []
    assert any("more than 12 months" in p for p in _ack(review_by=date(2027, 11, 30)).problems(TODAY))


def test_an_owner_is_required() -> None:
    assert any("owner" in p for p in _ack(owner=" ").problems(TODAY))


@pytest.mark.parametrize("rule_id", sorted(NEVER_ACKNOWLEDGEABLE))
def test_never_acknowledgeable_findings_are_refused(rule_id: str) -> None:
    assert any("can never be acknowledged" in p for p in _ack(rule=rule_id).problems(TODAY))


def test_the_never_list_covers_the_named_faults() -> None:
    assert {
        "PCI4-EC2-CDE-NO-INTERNET-ROUTE",
        "PCI4-RDS-STORAGE-ENCRYPTED",
        "PCI4-S3-ENCRYPTION",
        "PCI4-TRAIL-LOGGING",
    } <= NEVER_ACKNOWLEDGEABLE


def test_registry_accepts_the_v4_rules_and_refuses_unknown_ones() -> None:
    assert _ack(rule="PCI4-LAMBDA-IN-VPC").problems(TODAY) == []
    assert _ack(rule="PCI4-LAMBDA-IN-VPC").validation_id == "PCI-DSS-v4.0.1::PCI4-LAMBDA-IN-VPC"
    assert any("not a known" in p for p in _ack(rule="PCI4-NO-SUCH-RULE").problems(TODAY))


# --- an environment's own acknowledgments ----------------------------------------------------------


def _environment_entry(**overrides: Any) -> dict[str, Any]:
    return {
        "path": "PciLz-test-Keys/Key",
        "rule": "PCI4-KMS-ROTATION",
        "reason": "Test environment: the key is recreated each week by the owner, so rotation adds nothing",
        "requirement": "PCI DSS v4.0.1 3.7.4",
        "owner": "test-environment owner",
        "review_by": "2027-03-01",
        **overrides,
    }


def test_environment_file_acknowledgments_are_validated_by_shape() -> None:
    data = {**EMBEDDED_ENVIRONMENTS["default"], "acknowledgments": [_environment_entry(reason="too short")]}
    with pytest.raises(ConfigError, match=r"acknowledgments\.0\.reason"):
        parse_environment(data)
    data = {**EMBEDDED_ENVIRONMENTS["default"], "acknowledgments": [_environment_entry(review_by="next year")]}
    with pytest.raises(ConfigError, match=r"acknowledgments\.0\.review_by"):
        parse_environment(data)
    data = {**EMBEDDED_ENVIRONMENTS["default"], "acknowledgments": [_environment_entry(extra="x")]}
    with pytest.raises(ConfigError, match=r"acknowledgments\.0\.extra"):
        parse_environment(data)


def test_environment_acknowledgment_applies_to_that_environment_only(tmp_path: Path) -> None:
    """Two environments in one app (each in its Stage): the test environment's entry hides its own finding only."""
    app = new_app(tmp_path)
    for environment in ("test", "prod"):
        stack = Stack(Stage(app, environment), f"PciLz-{environment}-Keys")
        key = kms.Key(stack, "Key", enable_key_rotation=True)
        key.node.default_child.add_property_override("EnableKeyRotation", False)  # type: ignore[union-attr]
    config = parse_environment(
        {**EMBEDDED_ENVIRONMENTS["default"], "name": "test", "acknowledgments": [_environment_entry(path="*/Key")]}
    )
    own = environment_acknowledgments(config.acknowledgments, environment="test", scope="test")
    gate = register_gates(app, acknowledgments=(), environment=own, today=TODAY)
    assert list(gate.acknowledged_paths.values()) == [["test/PciLz-test-Keys/Key"]]
    _, report = synthesize(app, gate)
    rotation = [f for f in report.findings if f.rule == "PCI4-KMS-ROTATION"]
    assert [f.path for f in rotation] == ["prod/PciLz-prod-Keys/Key/Resource"]
    hidden = [f for f in report.acknowledged if f.rule == "PCI4-KMS-ROTATION"]
    assert [f.path for f in hidden] == ["test/PciLz-test-Keys/Key/Resource"]


def test_environment_acknowledgments_meet_the_same_governance(tmp_path: Path) -> None:
    stack = _tiny(tmp_path)
    config = parse_environment(
        {
            **EMBEDDED_ENVIRONMENTS["default"],
            "acknowledgments": [_environment_entry(path="Tiny/Bucket", rule="PCI4-S3-ENCRYPTION")],
        }
    )
    own = environment_acknowledgments(config.acknowledgments, environment="default", scope="")
    with pytest.raises(AcknowledgmentError, match=r"environment 'default'.*can never be acknowledged"):
        apply_acknowledgments(stack.node.root, own, today=TODAY)  # type: ignore[arg-type]
