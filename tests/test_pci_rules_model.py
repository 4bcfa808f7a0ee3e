"""The parsed template model that the v4.0.1 rules and the evidence both read."""

from __future__ import annotations

from typing import Any

from pci_rules import TemplateModel, evaluate
from pci_rules.rules import RULES
from pci_rules.rules.kms import kms_rotation
from tests.conftest import Synthesized
from tests.test_pci_rules import NOTHING_IN_THE_DEFAULT_APP

PRODUCER: dict[str, Any] = {
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": False}},
    },
    "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "producer:KeyArn"}}},
}
CONSUMER: dict[str, Any] = {
    "Resources": {
        "Group": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"KmsKeyId": {"Fn::ImportValue": "producer:KeyArn"}, "RetentionInDays": 30},
            "Metadata": {"aws:cdk:path": "Consumer/Group/Resource"},
        },
    }
}


def test_references_follow_imports_across_templates() -> None:
    model = TemplateModel.from_templates({"Producer": PRODUCER, "Consumer": CONSUMER})
    group = model.resource("Consumer", "Group")
    key = model.resource("Producer", "Key")
    assert group is not None
    assert key is not None
    assert group.path == "Consumer/Group/Resource"
    assert key.path == "Producer/Key"  # no CDK metadata: stack/logical id
    assert model.target("Consumer", group.prop("KmsKeyId")) == key
    assert model.referrers(key) == [group]
    assert model.literal("Consumer", group.prop("RetentionInDays")) == 30
    assert model.literal("Consumer", group.prop("KmsKeyId")) is None  # an ARN known only at deploy


def test_rules_report_passes_and_failures() -> None:
    model = TemplateModel.from_templates({"Producer": PRODUCER, "Consumer": CONSUMER})
    (rotation,) = evaluate(model, [kms_rotation])
    assert [c.detail for c in rotation.failures] == ["EnableKeyRotation is not true"]


def test_model_reads_every_stack_of_the_session_synth(synthesized: Synthesized) -> None:
    model = TemplateModel.from_assembly(synthesized.outdir)
    assert set(model.stacks) == {name for name, _ in synthesized.templates()}
    assert all(s.region and s.account for s in model.stacks.values())
    for result in evaluate(model, RULES):
        if result.rule.id in NOTHING_IN_THE_DEFAULT_APP:
            assert not result.checks, f"{result.rule.id} now examines something: drop it from the list"
        else:
            assert result.checks, f"{result.rule.id} examined nothing in the default app"
