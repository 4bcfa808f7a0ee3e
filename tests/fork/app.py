"""A fork's CDE workload gated by the rule pack alone: `python app.py OUTDIR` prints a JSON summary.

It imports only aws-cdk-lib, constructs and `pci_rules` (from wherever it is installed), so the wheel
test runs it in a fresh venv, and the vacuity test gives the rules that the landing zone has nothing for
(an EBS volume, Amazon Inspector) something to examine. On purpose it holds one finding of each kind:
`Open` (no encryption, no TLS-only policy...) left open, `Legacy` acknowledged through CDK's own
`Validations.of(...).acknowledge`, and `Exported` accepted by the app's acknowledgment source.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import cast

from aws_cdk import Acknowledgment, App, Environment, IPolicyValidationPlugin, RemovalPolicy, Size, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr

from pci_rules.plugin import Finding, PciDssV4Plugin, acknowledgment_id

SOURCE_REASON = "Exported by the fork's reporting job; its owner accepted the missing access log until 2027"


def acknowledge_exported(finding: Finding) -> str | None:
    """The fork's own acknowledgment source: by what the resource is (its construct path), with a reason."""
    if finding.rule.id == "PCI4-S3-ACCESS-LOGGING" and finding.resource.path.startswith("Fork/Exported/"):
        return SOURCE_REASON
    return None


def _hardened_bucket(stack: Stack, construct_id: str, key: kms.IKey) -> s3.Bucket:
    """Compliant but for access logging."""
    return s3.Bucket(
        stack,
        construct_id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN,
    )


def build(app: App) -> Stack:
    stack = Stack(app, "Fork", env=Environment(account="111111111111", region="us-east-1"))
    key = kms.Key(stack, "DataKey", enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN)
    ec2.Volume(
        stack,
        "Scratch",
        availability_zone="us-east-1a",
        size=Size.gibibytes(8),
        encrypted=True,
        encryption_key=key,
        removal_policy=RemovalPolicy.RETAIN,
    )
    cr.AwsCustomResource(
        stack,
        "Inspector",
        on_create=cr.AwsSdkCall(
            service="Inspector2",
            action="enable",
            parameters={"resourceTypes": ["EC2", "ECR", "LAMBDA", "LAMBDA_CODE"]},
            physical_resource_id=cr.PhysicalResourceId.of("inspector"),
        ),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
        install_latest_aws_sdk=False,
    )
    s3.Bucket(stack, "Open")
    legacy = _hardened_bucket(stack, "Legacy", key)
    Validations.of(legacy).acknowledge(
        Acknowledgment(id=acknowledgment_id("PCI4-S3-ACCESS-LOGGING"), reason="Legacy bucket, retired in Q3")
    )
    _hardened_bucket(stack, "Exported", key)
    return stack


def main(outdir: str) -> dict[str, object]:
    # Construct paths in the templates' metadata, as the CDK CLI writes them (`cdk synth` sets this).
    app = App(outdir=outdir, context={"aws:cdk:enable-path-metadata": True})
    build(app)
    plugin = PciDssV4Plugin(acknowledgments=acknowledge_exported)
    # add_plugins is typed with the newer IPolicyValidationPlugin; the Beta1 plugin is what CDK calls.
    Validations.of(app).add_plugins(cast("IPolicyValidationPlugin", plugin))
    try:
        app.synth()
        failed = False
    except RuntimeError as err:
        if "ValidationFailed" not in str(err):
            raise
        failed = True
    report = json.loads((Path(outdir) / "validation-report.json").read_text(encoding="utf-8"))
    (ours,) = [p for p in report["pluginReports"] if p["pluginName"] == "PCI-DSS-v4.0.1"]
    import pci_rules

    return {
        "failed": failed,
        "installed_at": str(Path(pci_rules.__file__).parent),
        "version": pci_rules.__version__,
        "violations": [
            {
                "rule": v["ruleName"],
                "fix": v["suggestedFix"],
                "paths": [r["constructPath"] for r in v["violatingConstructs"]],
            }
            for v in ours.get("violations", [])
        ],
        "suppressed": [
            {"rule": v["ruleName"], "paths": [r["constructPath"] for r in v["violatingConstructs"]]}
            for v in ours.get("suppressedViolations", [])
        ],
        "source_acknowledged": [[f.rule.id, f.resource.path, reason] for f, reason in plugin.acknowledged],
        "examined": {r.rule.id: r.examined for r in plugin.results},
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
