"""Secrets: rotated, encrypted with a customer key (PCI DSS v4.0.1 8.3.9, 8.6.3, 3.5.1)."""

from collections.abc import Iterator

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import flatten, is_customer_key

MAX_ROTATION_DAYS = 90  # PCI DSS 8.3.9: at least every 90 days when the secret is the only factor
# A cron that fires in every month fires at least every 62 days (a day-of-month 31 skips at most one month).
MONTHLY_DAYS = 31
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _month(text: str) -> int:
    return _MONTHS.index(text.upper()) + 1 if text.upper() in _MONTHS else int(text)


def _months(field: str) -> set[int] | None:
    """The months a cron month field (`*`, `?`, `3`, `JAN-JUN`, `*/2`, `1,4,7`) fires in; None if unreadable."""
    found: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        try:
            first, last = (1, 12) if span in ("*", "?") else (_month(a) for a in (span.split("-", 1) * 2)[:2])
            found |= set(range(first, last + 1, int(step) if step else 1))
        except ValueError:
            return None
    return found


def _days(expression: object) -> int | None:
    """The most days between two rotations of a Secrets Manager `ScheduleExpression`, or None if unknown:
    `rate(N days)`, `rate(N hours)` (a day or less), `cron(min hour day-of-month month day-of-week year)`
    that fires in every month of every year ("Rotation schedules", AWS Secrets Manager User Guide)."""
    text = flatten(expression).strip()
    if text.startswith("rate(") and text.endswith(")"):
        amount, _, unit = text[5:-1].strip().partition(" ")
        if not amount.isdigit() or int(amount) == 0:
            return None
        if unit.startswith("hour"):
            return max(1, -(-int(amount) // 24))
        return int(amount) * (1 if unit.startswith("day") else 7 if unit.startswith("week") else 0) or None
    if text.startswith("cron(") and text.endswith(")"):
        fields = text[5:-1].split()
        if len(fields) not in (5, 6) or (len(fields) == 6 and fields[5] not in ("*", "?")):
            return None  # a year field other than * stops rotating
        return MONTHLY_DAYS if _months(fields[3]) == set(range(1, 13)) else None
    return None


@rule(
    id="PCI4-SECRET-ROTATION",
    requirements=("8.6.3",),
    related=("8.3.9",),
    description="Every Secrets Manager secret has a rotation schedule of 90 days or less.",
    fix="Add an AWS::SecretsManager::RotationSchedule of at most 90 days (CDK: secret.add_rotation_schedule).",
)
def secret_rotation(model: TemplateModel) -> Iterator[Check]:
    schedules: dict[tuple[str, str], Resource] = {}
    for schedule in model.resources("AWS::SecretsManager::RotationSchedule"):
        target = model.target(schedule.stack, schedule.prop("SecretId"))
        if target is not None and target.type == "AWS::SecretsManager::SecretTargetAttachment":
            target = model.target(target.stack, target.prop("SecretId"))  # the attachment names the secret
        if target is not None:
            schedules[target.key] = schedule
    for secret in model.resources("AWS::SecretsManager::Secret"):
        found = schedules.get(secret.key)
        if found is None:
            yield Check(secret, False, "no rotation schedule")
            continue
        days = found.prop("RotationRules", "AutomaticallyAfterDays")
        if days is None:
            days = _days(found.prop("RotationRules", "ScheduleExpression"))
        ok = isinstance(days, int) and 0 < days <= MAX_ROTATION_DAYS
        yield Check(secret, ok, "" if ok else f"rotation interval {days!r} is not 1-{MAX_ROTATION_DAYS} days")


@rule(
    id="PCI4-SECRET-CUSTOMER-KEY",
    requirements=("8.3.2",),
    related=("3.5.1",),
    description="Every Secrets Manager secret is encrypted with a customer-managed KMS key.",
    fix="Set KmsKeyId on the AWS::SecretsManager::Secret (CDK: encryption_key=...).",
)
def secret_customer_key(model: TemplateModel) -> Iterator[Check]:
    for secret in model.resources("AWS::SecretsManager::Secret"):
        ok = is_customer_key(secret.prop("KmsKeyId"))
        yield Check(secret, ok, "" if ok else "no customer-managed KmsKeyId")
