"""Key management (PCI DSS v4.0.1 3.6, 3.7)."""

from collections.abc import Iterator

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import allows_anyone, is_true, statements


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
        rotates = is_true(key.prop("EnableKeyRotation"))
        yield Check(key, rotates, "" if rotates else "EnableKeyRotation is not true")


@rule(
    id="PCI4-KMS-NO-PUBLIC-PRINCIPAL",
    requirements=("3.6.1", "7.2.1"),
    description="No KMS key policy allows an anonymous principal (`*`) without a condition.",
    fix="Name the account or role principals in the key policy, or add a condition that scopes `*`.",
)
def kms_no_public_principal(model: TemplateModel) -> Iterator[Check]:
    for key in model.resources("AWS::KMS::Key"):
        open_statements = [s.get("Sid", "?") for s in statements(key.prop("KeyPolicy")) if allows_anyone(s)]
        yield Check(key, not open_statements, f"statements {open_statements} allow Principal * unconditionally")


@rule(
    id="PCI4-KMS-DELETION-WINDOW",
    requirements=("3.6.1", "3.7.5"),
    description="A KMS key scheduled for deletion waits the full 30 days, so a mistaken deletion can be cancelled.",
    fix="Leave PendingWindowInDays unset or set it to 30 (CDK: pending_window=Duration.days(30)).",
)
def kms_deletion_window(model: TemplateModel) -> Iterator[Check]:
    for key in model.resources("AWS::KMS::Key"):
        days = key.prop("PendingWindowInDays", default=30)
        ok = isinstance(days, int) and days >= 30
        yield Check(key, ok, "" if ok else f"PendingWindowInDays is {days}, not 30")
