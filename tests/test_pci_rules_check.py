"""pci_rules.check: CDK's own acknowledge() cannot silence a never-acknowledgeable rule unseen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pytest
from aws_cdk import Acknowledgment, App, CfnResource, IPolicyValidationPlugin, Stack, Stage, Validations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from pci_rules.check import ReportError, check_report, main
from pci_rules.plugin import PciDssV4Plugin, acknowledgment_id
from pci_rules.rules import RULES
from tests.conftest import Delivered, Synthesized

BY_ID = {rule.id: rule for rule in RULES}


def _app(tmp_path: Path, rule_id: str, *, acknowledge: bool) -> Path:
    outdir = tmp_path / "cdk.out"
    app = App(outdir=str(outdir), context={"aws:cdk:enable-path-metadata": True})
    stack = Stack(app, "Small")
    bucket = s3.CfnBucket(stack, "Plain")  # no LoggingConfiguration: fails PCI4-S3-ACCESS-LOGGING
    queue = sqs.CfnQueue(stack, "Bare", sqs_managed_sse_enabled=False)  # fails PCI4-SQS-ENCRYPTED
    for target in (bucket, queue):
        if acknowledge:
            Validations.of(cast(CfnResource, target)).acknowledge(
                Acknowledgment(id=acknowledgment_id(rule_id), reason="silenced with CDK's own acknowledgment")
            )
    plugin = PciDssV4Plugin(rules=[BY_ID[rule_id]])
    Validations.of(app).add_plugins(cast(IPolicyValidationPlugin, plugin))
    app.synth()  # the only violation is acknowledged, so CDK passes the synth
    return outdir


def test_cdk_acknowledgment_of_a_never_acknowledgeable_rule_fails_the_synth(tmp_path: Path) -> None:
    """QSA reader r21d MEDIUM 3: the plugin reports a never-acknowledgeable rule at severity "fatal", which CDK's
    `acknowledge(...)` cannot suppress; the message says so and names the acknowledgment it refuses."""
    assert not BY_ID["PCI4-SQS-ENCRYPTED"].acknowledgeable
    with pytest.raises(Exception, match="ValidationFailed: FATAL PCI4-SQS-ENCRYPTED") as raised:
        _app(tmp_path, "PCI4-SQS-ENCRYPTED", acknowledge=True)
    message = str(raised.value)
    assert "Acknowledge with 'PCI-DSS-v4.0.1::PCI4-SQS-ENCRYPTED'" not in message
    assert "Cannot be acknowledged: fix it (the acknowledgment at Small/Bare is refused)" in message
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    (ours,) = [p for p in report["pluginReports"] if p["pluginName"] == "PCI-DSS-v4.0.1"]
    assert not ours.get("suppressedViolations")
    (violation,) = ours["violations"]
    assert violation["ruleName"] == "PCI4-SQS-ENCRYPTED"
    assert violation["severity"] == "fatal"
    # nothing was silenced, but the violation is open: the post-synth check names it once (pack 1.13.0), from the
    # report, though the results file lists it too
    results = json.loads((tmp_path / "cdk.out" / "pci-dss-v4-results.json").read_text())
    assert [f["status"] for f in results["findings"]] == ["open: acknowledgment refused (never acknowledgeable)"]
    assert check_report(tmp_path / "cdk.out") == [
        "PCI4-SQS-ENCRYPTED at Small/Bare: open (fatal) in validation-report.json",
    ]


def test_the_post_synth_check_still_catches_a_suppressed_never_acknowledgeable_violation(tmp_path: Path) -> None:
    """A report written by a pack before 1.11.0 (severity "error", so CDK suppressed it) fails the check."""
    report = {
        "pluginReports": [
            {
                "pluginName": "PCI-DSS-v4.0.1",
                "violations": [],
                "suppressedViolations": [
                    {
                        "ruleName": "PCI4-SQS-ENCRYPTED",
                        "ruleMetadata": {"acknowledgeable": "no: fix it"},
                        "acknowledgedAt": "Small/Bare",
                        "acknowledgedId": "PCI-DSS-v4.0.1::PCI4-SQS-ENCRYPTED",
                        "violatingConstructs": [{"constructPath": "Small/Bare"}],
                    }
                ],
            }
        ]
    }
    (tmp_path / "validation-report.json").write_text(json.dumps(report))
    (problem,) = check_report(tmp_path)
    assert problem.startswith("PCI4-SQS-ENCRYPTED at Small/Bare: never acknowledgeable")
    assert main([str(tmp_path)]) == 1


def test_cdk_acknowledgment_of_an_acknowledgeable_rule_passes(tmp_path: Path) -> None:
    assert BY_ID["PCI4-S3-ACCESS-LOGGING"].acknowledgeable
    outdir = _app(tmp_path, "PCI4-S3-ACCESS-LOGGING", acknowledge=True)
    assert check_report(outdir) == []
    assert main([str(outdir)]) == 0


def test_a_missing_report_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no validation report"):
        check_report(tmp_path)
    assert main([str(tmp_path)]) == 2


def test_each_violation_names_its_own_resource_only_with_its_template_location(tmp_path: Path) -> None:
    """QSA reader r21d LOW: one violation per failing resource; the one CDK acknowledges is not named in the
    other's description; `propertyPaths` holds the resource's pointer in its template, not prose."""
    outdir = tmp_path / "cdk.out"
    app = App(outdir=str(outdir), context={"aws:cdk:enable-path-metadata": True})
    stack = Stack(app, "Small")
    accepted = s3.CfnBucket(stack, "Accepted")
    s3.CfnBucket(stack, "Open")
    Validations.of(cast(CfnResource, accepted)).acknowledge(
        Acknowledgment(id=acknowledgment_id("PCI4-S3-ACCESS-LOGGING"), reason="scratch")
    )
    Validations.of(app).add_plugins(
        cast(IPolicyValidationPlugin, PciDssV4Plugin(rules=[BY_ID["PCI4-S3-ACCESS-LOGGING"]]))
    )
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    (ours,) = [p for p in report["pluginReports"] if p["pluginName"] == "PCI-DSS-v4.0.1"]
    (violation,) = ours["violations"]
    assert violation["description"].endswith("Open: no server access logging")
    assert "Accepted" not in violation["description"]
    (construct,) = violation["violatingConstructs"]
    assert construct["constructPath"] == "Small/Open"
    assert construct["cloudFormationResource"]["propertyPaths"] == ["/Resources/Open"]
    (suppressed,) = ours["suppressedViolations"]
    assert "Open" not in suppressed["description"]


def _stage_app(tmp_path: Path, *, fix: bool) -> Path:
    """QSA reader r21e HIGH 1 (/tmp/r21e/app2): the stack sits in a Stage, and the app runs as `cdk synth` runs
    it (app mode "process": CDK prints the report, sets the node process's exit code, does not raise; a Python
    app's exit code stays 0, and the CLI shows only the selected, top-level, stacks, none here)."""
    outdir = tmp_path / "cdk.out"
    app = App(outdir=str(outdir), context={"aws:cdk:enable-path-metadata": True, "@aws-cdk/core:appMode": "process"})
    stage = Stage(app, "Prod")
    stack = Stack(stage, "Data", env={"account": "111111111111", "region": "eu-west-1"})
    sqs.CfnQueue(stack, "Bare", sqs_managed_sse_enabled=fix)  # fails never-acknowledgeable PCI4-SQS-ENCRYPTED
    s3.CfnBucket(stack, "Plain")  # fails acknowledgeable PCI4-S3-ACCESS-LOGGING, acknowledged on the Stage
    Validations.of(stage).acknowledge(
        Acknowledgment(id=acknowledgment_id("PCI4-S3-ACCESS-LOGGING"), reason="scratch bucket"),
        Acknowledgment(id=acknowledgment_id("PCI4-SQS-ENCRYPTED"), reason="stage-level acknowledgment"),
    )
    rules = [BY_ID["PCI4-SQS-ENCRYPTED"], BY_ID["PCI4-S3-ACCESS-LOGGING"]]
    Validations.of(app).add_plugins(cast(IPolicyValidationPlugin, PciDssV4Plugin(rules=rules)))
    app.synth()  # no exception: the synth "passes"
    return outdir


def test_a_stage_apps_open_fatal_finding_fails_the_check(tmp_path: Path) -> None:
    outdir = _stage_app(tmp_path, fix=False)
    report = json.loads((outdir / "validation-report.json").read_text())
    (ours,) = [p for p in report["pluginReports"] if p["pluginName"] == "PCI-DSS-v4.0.1"]
    assert ours["conclusion"] == "failure"
    assert [v["severity"] for v in ours["violations"]] == ["fatal"]
    assert [v["ruleName"] for v in ours["suppressedViolations"]] == ["PCI4-S3-ACCESS-LOGGING"]
    assert (outdir / "assembly-Prod" / "manifest.json").is_file()
    problems = check_report(outdir)
    assert problems == ["PCI4-SQS-ENCRYPTED at Prod/Data/Bare: open (fatal) in validation-report.json"]
    assert main([str(outdir)]) == 1


def test_a_stage_app_with_only_acknowledged_findings_passes_the_check(tmp_path: Path) -> None:
    outdir = _stage_app(tmp_path, fix=True)
    results = json.loads((outdir / "pci-dss-v4-results.json").read_text())
    assert [f["status"] for f in results["findings"]] == ["open"]  # a Stage acknowledgment is in no stack metadata
    assert check_report(outdir) == []
    assert main([str(outdir)]) == 0


def test_an_open_finding_in_a_nested_assemblys_report_fails_the_check(tmp_path: Path) -> None:
    """A report or results file in a nested assembly (as a Stage synthesised on its own writes) is read too."""
    (tmp_path / "validation-report.json").write_text(json.dumps({"pluginReports": []}))
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "assembly-Prod": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Prod"}}
                }
            }
        )
    )
    nested = tmp_path / "assembly-Prod"
    nested.mkdir()
    (nested / "manifest.json").write_text(json.dumps({"artifacts": {}}))
    violation = {
        "ruleName": "PCI4-S3-ACCESS-LOGGING",
        "severity": "error",
        "violatingConstructs": [{"constructPath": "Prod/Data/Plain"}],
    }
    (nested / "validation-report.json").write_text(
        json.dumps({"pluginReports": [{"pluginName": "PCI-DSS-v4.0.1", "violations": [violation]}]})
    )
    assert check_report(tmp_path) == [
        "PCI4-S3-ACCESS-LOGGING at Prod/Data/Plain: open (error) in assembly-Prod/validation-report.json"
    ]


def test_the_default_app_and_the_stage_based_delivery_app_pass_the_check(
    synthesized: Synthesized, delivered: Delivered
) -> None:
    """The project's own apps, as `make synth` and `make synth DELIVERY=default` build them (the delivery app's
    stacks all sit in Stages): nothing open, nothing silenced, in any report or results file."""
    assert check_report(synthesized.outdir) == []
    assert check_report(delivered.outdir) == []
    assert any(p.name.startswith("assembly-") for p in Path(delivered.outdir).iterdir())
