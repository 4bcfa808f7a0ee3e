"""The client CRL is required, or explicitly waived with governance (issue 19, finding 9 follow-up).

With the card vault enabled exactly one of `card_vault.client_crl` and `card_vault.client_crl_waiver` is
set; the waiver's governance follows the acknowledgment registry's rules (pci_constructs/governance.py):
an approver other than the owner (case-insensitively), a review date not passed and at most 12 months
ahead of the day the configuration is loaded, a specific reason.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.registry import Governance
from config import ConfigError, load_environment, parse_environment
from config.defaults import DEMO_CLIENT_CRL_WAIVER, EMBEDDED_ENVIRONMENTS
from config.delivery_loader import EMBEDDED_DELIVERIES, load_delivery
from pci_constructs.governance import MAX_REVIEW_MONTHS, governance_problems, months_ahead

CRL = {"bucket": "example-pki-crls", "key": "clients/ca.crl.pem", "version": "v7"}
NEITHER = r"card_vault\.client_crl: set card_vault\.client_crl [\s\S]* or card_vault\.client_crl_waiver"


def _environment(**vault: Any) -> dict[str, Any]:
    """The default environment with `card_vault` fields replaced (None deletes one)."""
    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    for name, value in vault.items():
        if value is None:
            data["card_vault"].pop(name, None)
        else:
            data["card_vault"][name] = value
    return data


def _waiver(**fields: Any) -> dict[str, Any]:
    return {**DEMO_CLIENT_CRL_WAIVER, **fields}


def test_the_shipped_default_carries_a_waiver_with_role_placeholders() -> None:
    config = parse_environment(_environment())
    assert config.card_vault is not None
    assert config.card_vault.client_crl is None
    waiver = config.card_vault.client_crl_waiver
    assert waiver is not None
    assert (waiver.owner, waiver.approver, waiver.review_by) == (
        "platform-security",
        "payments-risk-committee",
        date(2027, 11, 1),
    )
    assert "no client PKI" in waiver.reason


def test_neither_crl_nor_waiver_is_refused_naming_both_fields() -> None:
    with pytest.raises(ConfigError, match=NEITHER):
        parse_environment(_environment(client_crl_waiver=None))


def test_both_crl_and_waiver_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"card_vault\.client_crl_waiver: card_vault\.client_crl is set"):
        parse_environment(_environment(client_crl=CRL))


def test_a_crl_alone_or_a_disabled_vault_needs_no_waiver() -> None:
    config = parse_environment(_environment(client_crl=CRL, client_crl_waiver=None))
    assert config.card_vault is not None
    assert config.card_vault.client_crl is not None
    assert config.card_vault.client_crl_waiver is None
    parse_environment(_environment(enabled=False, client_crl_waiver=None))


def test_an_expired_waiver_is_refused() -> None:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    with pytest.raises(ConfigError, match=rf"card_vault\.client_crl_waiver: expired: review_by {yesterday}"):
        parse_environment(_environment(client_crl_waiver=_waiver(review_by=yesterday)))


def test_a_review_more_than_twelve_months_ahead_is_refused() -> None:
    latest = months_ahead(date.today(), MAX_REVIEW_MONTHS)
    parse_environment(_environment(client_crl_waiver=_waiver(review_by=latest.isoformat())))
    with pytest.raises(ConfigError, match=rf"more than 12 months ahead \(latest {latest.isoformat()}\)"):
        parse_environment(_environment(client_crl_waiver=_waiver(review_by=(latest + timedelta(1)).isoformat())))


@pytest.mark.parametrize("approver", ["platform-security", "Platform-Security", "  PLATFORM-SECURITY "])
def test_the_owner_cannot_approve_their_own_waiver(approver: str) -> None:
    with pytest.raises(ConfigError, match=r"card_vault\.client_crl_waiver\.approver must differ from the owner"):
        parse_environment(_environment(client_crl_waiver=_waiver(approver=approver)))


@pytest.mark.parametrize("reason", ["no CRL yet", "n/a", "Not applicable." + " " * 40])
def test_a_short_or_generic_reason_is_refused(reason: str) -> None:
    with pytest.raises(ConfigError, match=r"card_vault\.client_crl_waiver\.reason"):
        parse_environment(_environment(client_crl_waiver=_waiver(reason=reason)))


def test_pending_approval_and_dated_approval_are_accepted_a_future_approval_is_not() -> None:
    parse_environment(_environment(client_crl_waiver=_waiver(approval_date="2026-11-30", ticket="RISK-12")))
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    with pytest.raises(ConfigError, match=rf"approval_date {tomorrow} is in the future"):
        parse_environment(_environment(client_crl_waiver=_waiver(approval_date=tomorrow)))
    with pytest.raises(ConfigError, match=r"card_vault\.client_crl_waiver\.owner"):
        parse_environment(_environment(client_crl_waiver=_waiver(owner="x")))


def test_every_shipped_configuration_decides_revocation() -> None:
    """The embedded environments, every envs/ file with a vault and the embedded delivery's stages."""
    for name in EMBEDDED_ENVIRONMENTS:
        vault = load_environment(name).card_vault
        assert vault is None or (vault.client_crl is None) != (vault.client_crl_waiver is None), name
    example = load_environment("envs/example.yaml").card_vault
    assert example is not None
    assert example.client_crl is None
    assert example.client_crl_waiver is not None
    for name in EMBEDDED_DELIVERIES:
        for entry in load_delivery(name).environments:
            vault = entry.config.card_vault
            assert vault is not None, (name, entry.config.name)
            assert vault.client_crl_waiver is not None, (name, entry.config.name)


@settings(max_examples=60, deadline=None)
@given(days=st.integers(min_value=-800, max_value=800))
def test_review_by_is_accepted_exactly_inside_the_twelve_month_window(days: int) -> None:
    """The configuration and the registry's governance agree on every review date (one rule, one place)."""
    today = date.today()
    review_by = today + timedelta(days=days)
    inside = today <= review_by <= months_ahead(today, MAX_REVIEW_MONTHS)
    data = _environment(client_crl_waiver=_waiver(review_by=review_by.isoformat()))
    if inside:
        parse_environment(data)
    else:
        with pytest.raises(ConfigError, match=r"client_crl_waiver[\s\S]*review_by"):
            parse_environment(data)
    registry = Governance(owner="platform-security", approver="payments-risk-committee", review_by=review_by)
    assert (registry.problems(today) == []) is inside


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=3, max_size=24).filter(lambda n: n.strip("-")),
    flips=st.lists(st.booleans(), min_size=24, max_size=24),
)
def test_the_owner_as_approver_is_refused_in_any_casing(name: str, flips: list[bool]) -> None:
    approver = "".join(c.upper() if flip else c for c, flip in zip(name, flips, strict=False))
    with pytest.raises(ConfigError, match=r"approver must differ from the owner"):
        parse_environment(_environment(client_crl_waiver=_waiver(owner=name, approver=approver)))
    assert any("approver must differ" in p for p in _registry_problems(name, approver))


def _registry_problems(owner: str, approver: str) -> list[str]:
    return governance_problems(
        owner=owner,
        approver=approver,
        approval_date="pending",
        ticket="pending",
        review_by=date.today(),
        today=date.today(),
    )
