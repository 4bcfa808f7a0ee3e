"""Justifications a reusable construct carries for findings it knowingly produces.

A construct that must produce a resource a rule flags (a NACL, which AwsSolutions-VPC3 advises
against; the ephemeral return path of a stateless NACL; the public tier's route to the internet
gateway) says so itself, structured (rule, reason, PCI DSS v4.0.1 requirement), on the resource it
made. `justify` acknowledges the finding with CDK's own `Validations.of(target).acknowledge`, which
every policy-validation plugin honours (cdk-nag 3 and the `pci_rules` pack alike), so any app using
the construct passes the same gate without copying the landing zone's registry; the justification
is also kept on the construct (`justifications_of`) for evidence, which the landing zone's gate reads.

Only aws-cdk-lib is needed: the plugin namespaces are the packs' published names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from aws_cdk import Acknowledgment, Validations
from constructs import Construct, IConstruct

from pci_constructs.governance import MIN_REASON_LENGTH, PENDING

# The policy-validation plugins' names, as each prefixes the rule IDs it reports.
_NAMESPACES = (
    ("PCI4-", "PCI-DSS-v4.0.1"),
    ("AwsSolutions-", "AwsSolutions"),
    ("PCI.DSS.321-", "PCI.DSS.321"),
    ("NIST.800.53.R5-", "NIST.800.53.R5"),
)
_REQUIREMENT = re.compile(r"^PCI DSS v4\.0\.1 \d{1,2}(\.\d{1,2}){0,3}(, \d{1,2}(\.\d{1,2}){0,3})*$")
_ATTRIBUTE = "_pci_justifications"
# Governance of the justifications this package carries (PCI DSS v4.0.1 12.3.1): the package's
# maintainers own them and review them by this date; a gate that enforces review dates stops
# an app on an outdated copy of the package after it, which is the point.
OWNER = "pci_constructs maintainers"
REVIEW_BY = date(2027, 11, 1)


def validation_id(rule: str) -> str:
    """`PCI4-X` -> `PCI-DSS-v4.0.1::PCI4-X`, `AwsSolutions-VPC3` -> `AwsSolutions::AwsSolutions-VPC3`."""
    for prefix, plugin in _NAMESPACES:
        if rule.startswith(prefix):
            return f"{plugin}::{rule}"
    raise ValueError(f"rule {rule!r} belongs to no known pack ({', '.join(p for p, _ in _NAMESPACES)})")


@dataclass(frozen=True, kw_only=True)
class Justification:
    """One finding a construct knowingly produces: which rule, on which resource, why, which requirement."""

    rule: str
    reason: str
    requirement: str
    target: IConstruct
    construct_type: str  # the class of the construct that carries it (SegmentedVpc, ...)
    owner: str = OWNER
    approver: str = PENDING
    ticket: str = PENDING
    review_by: date = REVIEW_BY
    package: str = "pci_constructs"  # the top-level module of the construct's class (a fork's own, say)


def justify(
    owner: Construct,
    target: IConstruct,
    *,
    rule: str,
    reason: str,
    requirement: str,
    risk_owner: str = OWNER,
    approver: str = PENDING,
    ticket: str = PENDING,
    review_by: date = REVIEW_BY,
) -> Justification:
    """Acknowledge `rule`'s finding on `target` (a resource `owner` made), with the reason, and keep it.

    `risk_owner`, `approver`, `ticket` and `review_by` are the justification's governance (PCI DSS
    v4.0.1 12.3.1); they default to this package's maintainers. A fork's own construct passes its
    own: the gate checks them like any acknowledgment's (a passed or far-off `review_by` fails it),
    and the justification then applies in every environment the construct is built in.

    Raises ValueError for an unknown rule, a reason under 40 characters, a requirement that does
    not read 'PCI DSS v4.0.1 n.n.n', or a blank `risk_owner`, `approver` or `ticket`.
    """
    for name, value in (("risk_owner", risk_owner), ("approver", approver), ("ticket", ticket)):
        if not value.strip():
            raise ValueError(f"a justification's {name} must not be blank")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"a justification's reason must be specific (>= {MIN_REASON_LENGTH} characters)")
    if not _REQUIREMENT.match(requirement):
        raise ValueError("requirement must read 'PCI DSS v4.0.1 <n.n.n>'")
    Validations.of(target).acknowledge(Acknowledgment(id=validation_id(rule), reason=f"{reason} [{requirement}]"))
    entry = Justification(
        rule=rule,
        reason=reason,
        requirement=requirement,
        target=target,
        construct_type=type(owner).__name__,
        owner=risk_owner,
        approver=approver,
        ticket=ticket,
        review_by=review_by,
        package=type(owner).__module__.split(".", 1)[0],
    )
    kept: list[Justification] = owner.__dict__.setdefault(_ATTRIBUTE, [])
    kept.append(entry)
    return entry


def justifications_of(construct: object) -> tuple[Justification, ...]:
    """What `construct` justified (empty for any construct that never called `justify`)."""
    return tuple(getattr(construct, "__dict__", {}).get(_ATTRIBUTE, ()))
