"""The landing zone's acknowledgment registry: compliance/acknowledgments.yaml, validated here.

The entries are data that security owners review, so they live in a data file, not in code: a
reviewer reads one YAML list (rule, what the resource is, reason, requirement, governance) and a
change to it shows as a data diff. What little logic an entry needs (is this NACL entry the
ephemeral return path? is the proxy on?) is a named function in compliance/predicates.py that the
file refers to by name. The pydantic models below are strict (no "yes" for a boolean, no number for
a text, no unknown key) and the synth stops, naming the entry, when the file does not validate.

Checks that need the construct tree or the clock (the rule ID is a pack's, the entry matches a
construct, review_by has not passed) are the registry's (`compliance.registry`), for this file's
entries and an environment file's alike.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from compliance.registry import PENDING, PROJECT_REGISTRY, Acknowledgment, AcknowledgmentError
from config.loader import ConfigError, parse_text

REGISTRY_FILE = Path(__file__).resolve().parent / "acknowledgments.yaml"
# The fixed ID CDK gives the singleton function behind every AwsCustomResource of a stack.
CDK_SDK_CALL_FUNCTION = "AWS679f53fac002430cb0da5b7982bd2287"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, str_strip_whitespace=True)


class Governance(_Strict):
    """Who accepts the risk, who approved it, when, under which record, when it is reviewed next."""

    owner: str = Field(min_length=3)
    approver: str = Field(default=PENDING, min_length=3)
    approval_date: date | Literal["pending"] = PENDING
    ticket: str = Field(default=PENDING, min_length=3)
    review_by: date


class GovernanceOverride(_Strict):
    owner: str | None = Field(default=None, min_length=3)
    approver: str | None = Field(default=None, min_length=3)
    approval_date: date | Literal["pending"] | None = None
    ticket: str | None = Field(default=None, min_length=3)
    review_by: date | None = None


class RegistryEntry(GovernanceOverride):
    """One reviewed decision: one or more rules on what one or more constructs make, and why."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,80}$")
    rule: str | None = None
    rules: list[str] = Field(default_factory=list)
    path: str | None = None
    paths: list[str] = Field(default_factory=list)
    resource_type: str | None = None
    predicate: str | None = None
    when: list[str] = Field(default_factory=list)
    reason: str = Field(min_length=40)
    requirement: str
    conditional: str | None = Field(default=None, min_length=10, description="Why it may match nothing.")

    @model_validator(mode="after")
    def _one_of_each(self) -> Self:
        if (self.rule is None) == (not self.rules):
            raise ValueError("give exactly one of rule or rules")
        if (self.path is None) == (not self.paths):
            raise ValueError("give exactly one of path or paths")
        return self

    def expand(self, defaults: Governance) -> tuple[Acknowledgment, ...]:
        """One `Acknowledgment` per rule and path, with the defaults' governance where not overridden."""
        return tuple(
            Acknowledgment(
                id=self.id,
                path=path,
                rule=rule,
                resource_type=self.resource_type,
                predicate=self.predicate,
                when=tuple(self.when),
                reason=self.reason,
                requirement=self.requirement,
                owner=self.owner or defaults.owner,
                approver=self.approver or defaults.approver,
                approval_date=self.approval_date or defaults.approval_date,
                ticket=self.ticket or defaults.ticket,
                review_by=self.review_by or defaults.review_by,
                conditional=self.conditional is not None,
                source=PROJECT_REGISTRY,
            )
            for rule in (self.rules or (self.rule or "",))
            for path in (self.paths or (self.path or "",))
        )


class RegistryFile(_Strict):
    defaults: Governance
    entries: list[RegistryEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [e.id for e in self.entries]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"entry ids must be unique: {repeated}")
        return self


def load_registry(path: Path = REGISTRY_FILE) -> tuple[Acknowledgment, ...]:
    """Every entry of the registry file, expanded per rule and path. Raises AcknowledgmentError."""
    try:
        data = parse_text(path.read_text(encoding="utf-8"), source=str(path), suffix=path.suffix)
        registry = RegistryFile.model_validate(data)
    except (ConfigError, ValidationError) as err:
        raise AcknowledgmentError(f"{path.name} is not a valid acknowledgment registry: {err}") from None
    return tuple(ack for entry in registry.entries for ack in entry.expand(registry.defaults))


ACKNOWLEDGMENTS: tuple[Acknowledgment, ...] = load_registry()
ENTRY_IDS: frozenset[str] = frozenset(a.id for a in ACKNOWLEDGMENTS)
