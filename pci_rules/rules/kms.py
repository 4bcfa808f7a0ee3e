"""Key management (PCI DSS v4.0.1 3.6, 3.7)."""

from collections.abc import Iterator

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule


@rule(
    id="PCI4-KMS-ROTATION",
    requirements=("3.7.4",),
    description="Every symmetric customer-managed KMS key rotates its key material automatically.",
    fix="Set EnableKeyRotation: true on the AWS::KMS::Key (CDK: enable_key_rotation=True).",
)
def kms_rotation(model: TemplateModel) -> Iterator[Check]:
    for key in model.resources("AWS::KMS::Key"):
        if key.prop("KeySpec", default="SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            continue  # AWS KMS rotates only symmetric encryption keys automatically
        rotates = key.prop("EnableKeyRotation") is True
        yield Check(key, rotates, "" if rotates else "EnableKeyRotation is not true")
