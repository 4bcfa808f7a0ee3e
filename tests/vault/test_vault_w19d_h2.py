"""Red team r19c H2, run as the attacker it models (issue 19, task w19d; migration 0026, the functions of 0027):
the API's database login, straight to the database, sends `vault.tokenize_card` up to eight made-up "older key
version" hashes beside the main one, so that one unspent tokenization of a (first six, last four) pair tests nine
middle-digit guesses. Each credit is now also bound to one hash (migration 0027): a call is answered only when
every hash it compares has its own.

The properties (hypothesis over the number of older hashes and of credits reserved): a call comparing
1 + k hashes is answered only when the pair holds 1 + k unspent tokenizations, and then spends exactly
1 + k; duplicate older versions, a NULL one, or the current version among them are refused (SQLSTATE 22023)
and spend nothing. So a credit answers one hash, whatever the login sends, and the stored card of a
pair is found among at most `max_siblings` hashes per window.

Against the embedded PostgreSQL, moto's KMS for the keyed hash, under the suite's PAN leak guard.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from card_vault.vault import Vault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.vault.cards import card_number
from tests.vault.conftest import CLIENT_ID, Captured, Database, set_card_search
from tests.vault.test_vault_m2 import STORE_CARD, Attacker, _guesses, _stored_card, _token

LIMIT = 20
NO_RESERVATION = "CV001"
INVALID = "22023"


@pytest.fixture
def attacker(database: Database) -> Iterator[Attacker]:
    found = Attacker(database)
    yield found
    found.close()


def _unspent(database: Database, pair: tuple[str, str]) -> int:
    """The pair's unspent credits, every hash's together (vault.sibling_credits, migration 0027)."""
    with database.admin() as conn:
        row = conn.execute(
            "SELECT coalesce(sum(unspent), 0) FROM vault.sibling_credits"
            " WHERE client_id = %s AND first6 = %s AND last4 = %s AND window_end > now()",
            (CLIENT_ID, *pair),
        ).fetchone()
    return int(row[0]) if row else 0


def _clear(database: Database, pair: tuple[str, str]) -> None:
    with database.admin() as conn:
        for table in ("sibling_counts", "sibling_credits"):
            conn.execute(
                f"DELETE FROM vault.{table} WHERE client_id = %s AND first6 = %s AND last4 = %s",
                (CLIENT_ID, *pair),
            )


def _macs(n: int) -> list[bytes]:
    return [secrets.token_bytes(32) for _ in range(n)]


def _store(attacker: Attacker, mac: bytes, pair: tuple[str, str], versions: list[int], macs: list[bytes]) -> str:
    row = attacker.conn.execute(
        STORE_CARD,
        (
            CLIENT_ID,
            _token(),
            mac,
            attacker.key_id,
            secrets.token_bytes(44),
            secrets.token_bytes(40),
            pair[0],
            pair[1],
            versions,
            macs,
        ),
    ).fetchone()
    assert row is not None
    return str(row[0])


def _store_many(
    attacker: Attacker, macs: list[bytes], pair: tuple[str, str], versions: list[int], older: list[bytes] | None = None
) -> list[str]:
    return attacker.store_many(macs, pair, versions, older)


@pytest.mark.usefixtures("installed")
def test_nine_hashes_for_one_credit_are_refused(
    vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """The red team's call (eight older hashes, the stored card's hash among them, one credit): refused, and
    the stored card's token never comes back; with nine credits the same call is answered and spends nine."""
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(19_0226)
    pan, token, pair = _stored_card(captured, rng)
    _clear(database, pair)
    hasher = vault.parts().hasher
    guesses = _guesses(*pair, rng)
    older = [hasher.digest(next(g for g in guesses if g != pan)) for _ in range(7)] + [hasher.digest(pan)]
    versions = list(range(2, 10))
    main = secrets.token_bytes(32)
    assert attacker.reserve(pair, [main])
    with pytest.raises(psycopg.DatabaseError) as refused:
        _store(attacker, main, pair, versions, older)
    assert getattr(refused.value, "sqlstate", None) == NO_RESERVATION
    assert _unspent(database, pair) == 1, "a refused call spends nothing"
    # Paid for in full (a credit bound to each of the nine hashes), the nine are compared (and miss: the stored
    # card is under version 1, not 9).
    assert attacker.reserve(pair, older)
    assert _store(attacker, main, pair, versions, older) != token
    assert _unspent(database, pair) == 0


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(
    "versions",
    [[2, 2], [1], [3, 1], [None]],
    ids=["duplicate", "the current version", "current among others", "NULL"],
)
def test_older_versions_must_be_distinct_and_not_the_current_one(
    attacker: Attacker, database: Database, versions: list[int | None]
) -> None:
    set_card_search(database, max_siblings=LIMIT)
    pair = (card_number(rng=random.Random(7))[:6], "4242")
    _clear(database, pair)
    macs = _macs(1 + len(versions))
    assert attacker.reserve(pair, macs + _macs(LIMIT - len(macs)))
    for call in (
        lambda: _store(attacker, macs[0], pair, versions, macs[1:]),  # type: ignore[arg-type]
        lambda: _store_many(attacker, macs[:1], pair, versions, macs[1:]),  # type: ignore[arg-type]
    ):
        with pytest.raises(psycopg.DatabaseError) as refused:
            call()
        assert getattr(refused.value, "sqlstate", None) == INVALID
    assert _unspent(database, pair) == LIMIT


@pytest.mark.usefixtures("installed")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    older=st.integers(0, 8),
    cards=st.integers(1, 2),
    reserved=st.integers(1, LIMIT),
    seed=st.integers(0, 2**32),
    batch=st.booleans(),
)
def test_every_hash_compared_costs_one_credit(
    attacker: Attacker, database: Database, older: int, cards: int, reserved: int, seed: int, batch: bool
) -> None:
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(seed)
    pair = (card_number(rng=rng)[:6], f"{rng.randrange(10_000):04d}")
    _clear(database, pair)
    versions = list(range(2, 2 + older))
    per_card = 1 + older
    # Card i's hashes, current first, each bound to one credit; the first `reserved` of them are reserved, in
    # card order (and further hashes of no card when more are reserved than the cards need).
    hashes = [_macs(per_card) for _ in range(cards)]
    needed = [mac for card in hashes for mac in card]
    assert attacker.reserve(pair, needed[:reserved] + _macs(max(0, reserved - len(needed))))
    if batch:
        main, rest = [card[0] for card in hashes], [mac for card in hashes for mac in card[1:]]
        if reserved < cards * per_card:
            with pytest.raises(psycopg.DatabaseError) as refused:
                _store_many(attacker, main, pair, versions, rest)
            assert getattr(refused.value, "sqlstate", None) == NO_RESERVATION
            assert _unspent(database, pair) == reserved, "a refused batch spends nothing"
        else:
            _store_many(attacker, main, pair, versions, rest)
            assert _unspent(database, pair) == reserved - cards * per_card
        return
    answered = min(cards, reserved // per_card)
    for card in hashes[:answered]:
        _store(attacker, card[0], pair, versions, card[1:])
    assert _unspent(database, pair) == reserved - answered * per_card
    if answered < cards:
        card = hashes[answered]
        with pytest.raises(psycopg.DatabaseError) as refused:
            _store(attacker, card[0], pair, versions, card[1:])
        assert getattr(refused.value, "sqlstate", None) == NO_RESERVATION
        assert _unspent(database, pair) == reserved - answered * per_card


def test_the_readmes_search_times_follow_from_the_default_limit_and_window() -> None:
    """The README's figures (r19c L1): with the defaults, ten windows for a 13-digit card's 100 candidates (the
    100th answered when the tenth window opens, 9 hours after the first), 10,000 for a 16-digit card's 100,000
    (9,999 hours), and up to 2 x max_siblings answered within seconds across a window's end."""
    from pathlib import Path

    from card_vault import migrate

    limit, window = migrate.DEFAULT_MAX_SIBLINGS, migrate.DEFAULT_SIBLING_WINDOW_SECONDS
    hours = {digits: (-(-candidates // limit) - 1) * window // 3600 for digits, candidates in ((13, 100), (16, 10**5))}
    assert hours == {13: 9, 16: 9_999}
    readme = " ".join(Path(__file__).resolve().parents[2].joinpath("README.md").read_text().split())
    assert f"takes at least {hours[13]} hours and a 16-digit card (100,000) {hours[16]:,} hours" in readme
    assert f"up to 2 \u00d7 `max_siblings` ({2 * limit}) are answered within seconds" in readme
    assert f"takes at least {hours[13]} hours and the 16-digit one {hours[16]:,} hours" in readme
