"""Audit-log retention and protection (PCI DSS v4.0.1 10.3, 10.5)."""

from collections.abc import Iterator

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule

MIN_RETENTION_DAYS = 365


@rule(
    id="PCI4-LOGS-KMS-RETAINED",
    requirements=("10.3.2", "10.5.1"),
    description="Every CloudWatch Logs group is encrypted with a KMS key and kept at least 365 days.",
    fix="Give the AWS::Logs::LogGroup a KmsKeyId and a RetentionInDays of 365 or more.",
)
def log_groups_encrypted_and_retained(model: TemplateModel) -> Iterator[Check]:
    for group in model.resources("AWS::Logs::LogGroup"):
        problems = []
        if not group.prop("KmsKeyId"):
            problems.append("no KmsKeyId")
        days = group.prop("RetentionInDays")  # absent: the group never expires, which keeps a year
        if days is not None and (not isinstance(days, int) or days < MIN_RETENTION_DAYS):
            problems.append(f"RetentionInDays {days} is under {MIN_RETENTION_DAYS}")
        yield Check(group, not problems, "; ".join(problems))
