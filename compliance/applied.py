"""The acknowledgments a gate applied, with their governance and adoptions: a small typed API.

For the evidence (and anything else that reports on accepted risk): one record per registry or
environment-file entry (expanded per rule and path), saying what it selects, where it applied,
its reason and requirement, its governance (owner, approver, approval date, ticket, review date;
"pending" where not known) and which environments adopted it under their own risk owner.

    from compliance.applied import applied_acknowledgments, read_applied_acknowledgments
    for ack in applied_acknowledgments(gate):            # after register_gates / gate_zones
        ack.governance.owner, ack.adopted, ack.constructs
    read_applied_acknowledgments("cdk.out")              # the same, from gate-report.json

Adoption never changes what an entry matches or whether the gate passes; it changes who answers
for the risk in the adopting environment (`owner_in(scope)`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from compliance.gate import EVIDENCE_DIR, EVIDENCE_FILE, Gate
from compliance.registry import PENDING, Acknowledgment, Adoption, Governance

__all__ = [
    "PENDING",
    "Adoption",
    "AppliedAcknowledgment",
    "Governance",
    "applied_acknowledgments",
    "read_applied_acknowledgments",
]


@dataclass(frozen=True, kw_only=True)
class AppliedAcknowledgment:
    """One acknowledgment as the gate applied it."""

    entry: Acknowledgment
    constructs: tuple[str, ...]  # full construct paths it was applied to (empty: matched nothing here)
    adoptions: tuple[Adoption, ...] = ()

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def rule(self) -> str:
        return self.entry.rule

    @property
    def selector(self) -> str:
        return self.entry.selector

    @property
    def reason(self) -> str:
        return self.entry.reason

    @property
    def requirement(self) -> str:
        return self.entry.requirement

    @property
    def source(self) -> str:
        return self.entry.source

    @property
    def governance(self) -> Governance:
        """The entry's own governance (the project's, or the environment file's)."""
        return Governance.of(self.entry)

    @property
    def adopted(self) -> bool:
        return bool(self.adoptions)

    def governance_in(self, scope: str) -> Governance:
        """Who answers for it inside one environment's scope: the adopting owner, else the entry's."""
        for adoption in self.adoptions:
            if adoption.scope == scope:
                return adoption.governance
        return self.governance


def _applied(
    acknowledged: dict[Acknowledgment, list[str]], adoptions: tuple[Adoption, ...]
) -> tuple[AppliedAcknowledgment, ...]:
    return tuple(
        AppliedAcknowledgment(
            entry=entry,
            constructs=tuple(paths),
            adoptions=tuple(a for a in adoptions if entry.id and a.entry == entry.id and entry.scope is None),
        )
        for entry, paths in acknowledged.items()
    )


def applied_acknowledgments(gate: Gate) -> tuple[AppliedAcknowledgment, ...]:
    """Every entry the gate applied (the project's and the environment files'), in registry order."""
    return _applied(gate.acknowledged_paths, gate.adoptions)


def read_applied_acknowledgments(outdir: str | Path) -> tuple[AppliedAcknowledgment, ...]:
    """The same records, read back from `<outdir>/compliance/gate-report.json`."""
    data = json.loads((Path(outdir) / EVIDENCE_DIR / EVIDENCE_FILE).read_text(encoding="utf-8"))
    acknowledged = {Acknowledgment.from_evidence(row): list(row["constructs"]) for row in data["acknowledgments"]}
    adoptions = tuple(Adoption.from_evidence(row) for row in data.get("adoptions", []))
    return _applied(acknowledged, adoptions)
