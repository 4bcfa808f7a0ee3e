"""The plugin's results file: what `cdk synth` (the app in a subprocess) would otherwise lose (QSA r21d MEDIUM 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from aws_cdk import Acknowledgment, App, CfnResource, IPolicyValidationPlugin, Stack, Validations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from pci_rules import __version__
from pci_rules.plugin import RESULTS_FILE, Finding, PciDssV4Plugin, acknowledgment_id
from pci_rules.rules import RULES

BY_ID = {rule.id: rule for rule in RULES}
CHOSEN = ("PCI4-S3-ACCESS-LOGGING", "PCI4-SQS-CUSTOMER-KEY", "PCI4-TRAIL-LOGGING", "PCI4-IAM-NO-USERS")


def _source(finding: Finding) -> str | None:
    return "outside the CDE, AWS key accepted" if finding.resource.logical_id == "Queue" else None


def _synth(outdir: Path) -> PciDssV4Plugin:
    """An app synthesized into `outdir` as `cdk synth` does (the CLI sets the outdir and path metadata)."""
    app = App(outdir=str(outdir), context={"aws:cdk:enable-path-metadata": True})
    stack = Stack(app, "Small")
    bucket = s3.CfnBucket(stack, "Plain")  # no server access logging: PCI4-S3-ACCESS-LOGGING fails
    Validations.of(cast(CfnResource, bucket)).acknowledge(
        Acknowledgment(id=acknowledgment_id("PCI4-S3-ACCESS-LOGGING"), reason="a scratch bucket, no card data")
    )
    sqs.CfnQueue(stack, "Queue")  # SSE-SQS: PCI4-SQS-CUSTOMER-KEY fails, accepted by the source
    plugin = PciDssV4Plugin(rules=[BY_ID[i] for i in CHOSEN], acknowledgments=_source)
    Validations.of(app).add_plugins(cast(IPolicyValidationPlugin, plugin))
    app.synth()
    return plugin


def test_the_plugin_writes_every_rule_finding_and_acceptance_into_the_assembly(tmp_path: Path) -> None:
    plugin = _synth(tmp_path / "cdk.out")
    path = tmp_path / "cdk.out" / RESULTS_FILE
    assert plugin.results_path == path.resolve()
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert data["pack"] == "pci-dss-v4-cdk-rules"
    assert data["version"] == __version__
    by_rule = {r["id"]: r for r in data["rules"]}
    assert list(by_rule) == list(CHOSEN)
    assert by_rule["PCI4-TRAIL-LOGGING"]["examined"] == 0
    assert by_rule["PCI4-TRAIL-LOGGING"]["status"] == "not evidenced"
    assert by_rule["PCI4-IAM-NO-USERS"]["status"] == "absence confirmed"
    assert by_rule["PCI4-S3-ACCESS-LOGGING"]["examined"] == 1
    assert by_rule["PCI4-S3-ACCESS-LOGGING"]["status"] == "failed"
    assert by_rule["PCI4-S3-ACCESS-LOGGING"]["open"] == 0
    assert by_rule["PCI4-S3-ACCESS-LOGGING"]["accepted"] == 1
    findings = {(f["rule"], f["path"]): f for f in data["findings"]}
    assert set(findings) == {("PCI4-S3-ACCESS-LOGGING", "Small/Plain"), ("PCI4-SQS-CUSTOMER-KEY", "Small/Queue")}
    assert findings[("PCI4-SQS-CUSTOMER-KEY", "Small/Queue")]["status"] == "accepted"
    assert findings[("PCI4-SQS-CUSTOMER-KEY", "Small/Queue")]["detail"].startswith("encrypted at rest with SQS owned")
    assert data["acknowledged"] == [
        {
            "rule": "PCI4-S3-ACCESS-LOGGING",
            "path": "Small/Plain",
            "reason": "a scratch bucket, no card data",
            "source": "CDK acknowledge(PCI-DSS-v4.0.1::PCI4-S3-ACCESS-LOGGING) at Small/Plain",
        },
        {
            "rule": "PCI4-SQS-CUSTOMER-KEY",
            "path": "Small/Queue",
            "reason": "outside the CDE, AWS key accepted",
            "source": "acknowledgment source",
        },
    ]


def test_the_results_file_is_the_same_bytes_for_the_same_app(tmp_path: Path) -> None:
    _synth(tmp_path / "one")
    _synth(tmp_path / "two")
    assert (tmp_path / "one" / RESULTS_FILE).read_bytes() == (tmp_path / "two" / RESULTS_FILE).read_bytes()
    assert str(tmp_path) not in (tmp_path / "one" / RESULTS_FILE).read_text(encoding="utf-8")


def test_results_file_none_writes_no_file(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path / "cdk.out"))
    sqs.CfnQueue(Stack(app, "Keyed"), "Q", kms_master_key_id="alias/mine")
    plugin = PciDssV4Plugin(rules=[BY_ID["PCI4-SQS-ENCRYPTED"]], results_file=None)
    Validations.of(app).add_plugins(cast(IPolicyValidationPlugin, plugin))
    app.synth()
    assert plugin.results_path is None
    assert not (tmp_path / "cdk.out" / RESULTS_FILE).exists()
