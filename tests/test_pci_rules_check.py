"""pci_rules.check: CDK's own acknowledge() cannot silence a never-acknowledgeable rule unseen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pytest
from aws_cdk import Acknowledgment, App, CfnResource, IPolicyValidationPlugin, Stack, Validations
from aws_cdk import aws_s3 as s3

from pci_rules.check import ReportError, check_report, main
from pci_rules.plugin import PciDssV4Plugin, acknowledgment_id
from pci_rules.rules import RULES

BY_ID = {rule.id: rule for rule in RULES}


def _app(tmp_path: Path, rule_id: str, *, acknowledge: bool) -> Path:
    outdir = tmp_path / "cdk.out"
    app = App(outdir=str(outdir), context={"aws:cdk:enable-path-metadata": True})
    stack = Stack(app, "Small")
    # An SSEAlgorithm S3 does not have fails PCI4-S3-ENCRYPTION (never acknowledgeable); a bucket declaring none
    # passes it (S3's SSE-S3 default), and fails PCI4-S3-CUSTOMER-KEY (acknowledgeable) only.
    bucket = s3.CfnBucket(
        stack,
        "Plain",
        bucket_encryption=s3.CfnBucket.BucketEncryptionProperty(
            server_side_encryption_configuration=[
                s3.CfnBucket.ServerSideEncryptionRuleProperty(
                    server_side_encryption_by_default=s3.CfnBucket.ServerSideEncryptionByDefaultProperty(
                        sse_algorithm="aws:des"
                    )
                )
            ]
        ),
    )
    if acknowledge:
        Validations.of(cast(CfnResource, bucket)).acknowledge(
            Acknowledgment(id=acknowledgment_id(rule_id), reason="silenced with CDK's own acknowledgment")
        )
    plugin = PciDssV4Plugin(rules=[BY_ID[rule_id]])
    Validations.of(app).add_plugins(cast(IPolicyValidationPlugin, plugin))
    app.synth()  # the only violation is acknowledged, so CDK passes the synth
    return outdir


def test_cdk_acknowledgment_of_a_never_acknowledgeable_rule_is_caught(tmp_path: Path) -> None:
    assert not BY_ID["PCI4-S3-ENCRYPTION"].acknowledgeable
    outdir = _app(tmp_path, "PCI4-S3-ENCRYPTION", acknowledge=True)
    report = json.loads((outdir / "validation-report.json").read_text())
    (ours,) = [p for p in report["pluginReports"] if p["pluginName"] == "PCI-DSS-v4.0.1"]
    assert [v["ruleName"] for v in ours["suppressedViolations"]] == ["PCI4-S3-ENCRYPTION"]  # CDK did silence it
    (problem,) = check_report(outdir)
    assert problem.startswith("PCI4-S3-ENCRYPTION at Small/Plain: never acknowledgeable")
    assert main([str(outdir)]) == 1


def test_cdk_acknowledgment_of_an_acknowledgeable_rule_passes(tmp_path: Path) -> None:
    assert BY_ID["PCI4-S3-ACCESS-LOGGING"].acknowledgeable
    outdir = _app(tmp_path, "PCI4-S3-ACCESS-LOGGING", acknowledge=True)
    assert check_report(outdir) == []
    assert main([str(outdir)]) == 0


def test_a_missing_report_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no validation report"):
        check_report(tmp_path)
    assert main([str(tmp_path)]) == 2
