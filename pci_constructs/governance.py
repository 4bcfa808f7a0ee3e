"""The governance rules of an accepted risk, in one place (PCI DSS v4.0.1 12.3.1: a targeted risk analysis
reviewed at least once every 12 months; 12.4: responsibility assigned by executive management).

Every accepted risk the project records names who owns it (`owner`), who approved it (`approver`, never the
owner: compared case-insensitively, "pending" until known), when (`approval_date`, a date or "pending"), under
which record (`ticket`, or "pending"), when it is next reviewed (`review_by`: not passed, at most
`MAX_REVIEW_MONTHS` calendar months ahead of the day it is checked) and why (`reason`: specific, at least
`MIN_REASON_LENGTH` characters, not a generic word). Checked here, once, for the acknowledgment registry
(compliance/registry.py: entries, adoptions, a construct's carried justifications), the card vault's
client-CRL waiver in the configuration (config/models.py `VaultClientCrlWaiver`) and in the reusable
construct (pci_constructs/client_trust_store.py `RevocationWaiver`), and the length of a justification's
reason (pci_constructs/justification.py).

Pure Python, nothing of CDK or AWS: it lives in `pci_constructs` because that is the package the wheel
ships, so a construct installed alone checks the same rules; `config` imports it without importing CDK.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

MAX_REVIEW_MONTHS = 12
PENDING: Literal["pending"] = "pending"  # a governance field not known yet (an approver, an approval date, a ticket)
GENERIC_REASONS = frozenset(
    {"n/a", "na", "not applicable", "false positive", "suppressed", "ok", "todo", "tbd", "ignore", "wip"}
)
MIN_REASON_LENGTH = 40


def months_ahead(today: date, months: int) -> date:
    """`today` plus whole calendar months (the 29th-31st fall back to the month's last day)."""
    year, month = divmod(today.month - 1 + months, 12)
    year, month = today.year + year, month + 1
    for day in range(today.day, 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, min(today.day, 28))


def reason_problem(reason: str) -> str | None:
    """Why `reason` does not explain an accepted risk (too short, or a generic word), or None."""
    text = reason.strip()
    if text.lower().rstrip(".") in GENERIC_REASONS or len(text) < MIN_REASON_LENGTH:
        return f"reason must be specific (>= {MIN_REASON_LENGTH} characters, not generic)"
    return None


def same_person(owner: str, approver: str) -> bool:
    """Whether `approver` names the owner (case-insensitively, spaces around ignored); "pending" never does."""
    approver = approver.strip().casefold()
    return approver != PENDING and approver == owner.strip().casefold()


def governance_findings(
    *,
    owner: str,
    approver: str,
    approval_date: date | str,
    ticket: str,
    review_by: date,
    today: date,
) -> list[tuple[str, str]]:
    """(field, problem) for each governance field that is not acceptable on `today`; empty when all are."""
    found = []
    if len(owner.strip()) < 3:
        found.append(("owner", "owner must name the accountable person or team"))
    if len(approver.strip()) < 3:
        found.append(("approver", "approver must name who approved the risk, or read 'pending'"))
    elif same_person(owner, approver):
        found.append(
            ("approver", "approver must differ from the owner (separation of duties): name another person or team")
        )
    if len(ticket.strip()) < 3:
        found.append(("ticket", "ticket must name the change or risk record, or read 'pending'"))
    if isinstance(approval_date, date) and approval_date > today:
        found.append(("approval_date", f"approval_date {approval_date.isoformat()} is in the future"))
    latest = months_ahead(today, MAX_REVIEW_MONTHS)
    if review_by < today:
        found.append(
            (
                "review_by",
                f"expired: review_by {review_by.isoformat()} has passed; the owner reviews the risk"
                " (PCI DSS v4.0.1 12.3.1) and sets a new date, or the finding is fixed and this entry deleted",
            )
        )
    elif review_by > latest:
        found.append(
            (
                "review_by",
                f"review_by {review_by.isoformat()} is more than {MAX_REVIEW_MONTHS} months ahead"
                f" (latest {latest.isoformat()})",
            )
        )
    return found


def governance_problems(
    *,
    owner: str,
    approver: str,
    approval_date: date | str,
    ticket: str,
    review_by: date,
    today: date,
) -> list[str]:
    """What the governance fields of an accepted risk must get right on `today`: one message per problem."""
    return [
        message
        for _, message in governance_findings(
            owner=owner,
            approver=approver,
            approval_date=approval_date,
            ticket=ticket,
            review_by=review_by,
            today=today,
        )
    ]
