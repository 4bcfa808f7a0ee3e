"""Task w24B (issue 19, "Speed and footprint"): a single card is reserved and tokenized in one database round trip,
`CALL vault.tokenize_one` (migration 0042), which commits the reservation inside the procedure before
`vault.tokenize_card` answers. Attacked as red team r19c H1 attacked the two-statement path, by the API's database
login straight to the database:

- the CALL inside the caller's own transaction block (BEGIN, CALL, read, ROLLBACK: the reservation rolled back with
  the answer) is refused at the procedure's COMMIT, nothing answered, stored or counted; so after any earlier write,
  in a savepoint or not (a pair already full is refused before the COMMIT: no answer either);
- (hypothesis) any sequence of CALLs, autocommit or inside transaction blocks committed or rolled back, answers at
  most `max_siblings` distinct hashes of a pair in a window, and every CALL refused once the pair is full;
- the procedure is the API login's only (not PUBLIC's), runs as the caller (SECURITY INVOKER: it grants no right the
  two statements lacked), and the vault's tokenize path through it makes one database statement per card and
  answers as the two-statement path did (new card 201, the same card again 200 with its token, a full pair 429).

Against the embedded PostgreSQL, moto's KMS for the keyed hash, under the suite's PAN leak guard.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from card_vault.models import TokenizeRequest
from card_vault.vault import SiblingLimitError, Vault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import CLIENT_ID, Captured, Database, set_card_search
from tests.vault.test_vault_m2 import Attacker, _guesses, _stored_card

LIMIT = 5
INVALID_TRANSACTION_TERMINATION = "2D000"
CALL_ONE = (
    "CALL vault.tokenize_one(%s, %s, %s, 1::smallint, 1::smallint, %s, %s, %s, 'visa', %s, %s, 12::smallint,"
    " 2035::smallint, %s::smallint[], %s::bytea[], NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL)"
)


@pytest.fixture
def attacker(database: Database) -> Iterator[Attacker]:
    found = Attacker(database)
    yield found
    found.close()


def _call(attacker: Attacker, mac: bytes, pair: tuple[str, str], token: str) -> tuple[bool, str | None]:
    """One `vault.tokenize_one` as the API login: (granted, the token answered or None)."""
    row = attacker.conn.execute(
        CALL_ONE,
        (CLIENT_ID, token, mac, attacker.key_id, secrets.token_bytes(44), secrets.token_bytes(40), *pair, [], []),
    ).fetchone()
    assert row is not None
    return bool(row[0]), None if row[7] is None else str(row[7])


def _cards(database: Database) -> int:
    with database.admin() as conn:
        row = conn.execute("SELECT count(*) FROM vault.cards").fetchone()
    return int(row[0]) if row else 0


def _reserved(database: Database, pair: tuple[str, str]) -> int:
    """The pair's committed count in its window (`vault.sibling_counts`)."""
    with database.admin() as conn:
        row = conn.execute(
            "SELECT coalesce(sum(siblings), 0) FROM vault.sibling_counts WHERE client_id = %s AND first6 = %s"
            " AND last4 = %s",
            (CLIENT_ID, *pair),
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(
    "prelude",
    [[], ["SAVEPOINT s"], ["SAVEPOINT s", "CALL", "ROLLBACK TO SAVEPOINT s"], ["RESERVE"]],
    ids=["begin", "savepoint", "call-rolled-back-to-savepoint", "reserve-first"],
)
def test_a_call_in_the_callers_transaction_answers_nothing(
    vault: Vault, attacker: Attacker, database: Database, captured: Captured, prelude: list[str]
) -> None:
    """BEGIN, CALL, read, ROLLBACK would roll the reservation back with the answer (H1): the procedure's COMMIT is
    refused in a transaction block, so the CALL fails before anything is answered, and nothing is stored or
    counted; the stored card's own hash sent that way learns nothing either."""
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(24_0042)
    pan, token, pair = _stored_card(captured, rng)
    mac = vault.parts().hasher.digest(pan)
    cards, counted = _cards(database), _reserved(database, pair)
    attacker.conn.execute("BEGIN")
    try:
        for step in prelude:
            if step == "CALL":
                with pytest.raises(psycopg.DatabaseError):
                    _call(attacker, mac, pair, "tok_" + secrets.token_urlsafe(24))
            elif step == "RESERVE":
                assert attacker.reserve(pair, [secrets.token_bytes(32)])
            else:
                attacker.conn.execute(step)
        with pytest.raises(psycopg.DatabaseError) as refused:
            _call(attacker, mac, pair, "tok_" + secrets.token_urlsafe(24))
        assert refused.value.sqlstate in {INVALID_TRANSACTION_TERMINATION, "25P02"}  # 25P02: already aborted
        assert token not in str(refused.value)
    finally:
        attacker.conn.execute("ROLLBACK")
    assert _cards(database) == cards
    assert _reserved(database, pair) == counted


@pytest.mark.usefixtures("installed")
def test_guessing_through_the_one_call_path_stops_at_the_sibling_limit(
    vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """The middle-digit search through CALLs in autocommit: the stored card's pair is already counted once (its own
    tokenization), so `LIMIT - 1` guesses are answered (each a new card: none is the stored one) and every later
    CALL is refused (granted false, no token), the stored card's own hash included."""
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(24_0043)
    pan, token, pair = _stored_card(captured, rng)
    hasher = vault.parts().hasher
    guesses = (g for g in _guesses(*pair, rng) if g != pan)
    answered = [
        _call(attacker, hasher.digest(next(guesses)), pair, "tok_" + secrets.token_urlsafe(24)) for _ in range(8)
    ]
    assert [granted for granted, _ in answered] == [True] * (LIMIT - 1) + [False] * (8 - LIMIT + 1)
    assert all(answer is None for granted, answer in answered if not granted)
    assert token not in {answer for _, answer in answered}
    assert _call(attacker, hasher.digest(pan), pair, "tok_" + secrets.token_urlsafe(24)) == (False, None)


@pytest.mark.usefixtures("installed")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["autocommit", "commit", "rollback"]), st.booleans()), max_size=12))
def test_any_mix_of_calls_and_transactions_answers_at_most_the_limit(
    vault: Vault,
    attacker: Attacker,
    database: Database,
    captured: Captured,
    steps: list[tuple[str, bool]],
) -> None:
    """Whatever the mix of CALLs in autocommit and inside transaction blocks (committed or rolled back), with the
    stored card's hash or a guess: the distinct hashes answered in the pair's window never exceed `LIMIT`, counting
    the stored card's own tokenization, and the stored card is answered only through a committed reservation."""
    with database.admin() as conn:
        conn.execute("DELETE FROM vault.cards")
        conn.execute("DELETE FROM vault.sibling_counts")
        conn.execute("DELETE FROM vault.sibling_credits")
        conn.execute("DELETE FROM vault.tokenize_spend")
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(len(steps))
    pan, _, pair = _stored_card(captured, rng)
    hasher = vault.parts().hasher
    guesses = (g for g in _guesses(*pair, rng) if g != pan)
    answered: set[bytes] = {hasher.digest(pan)}
    for mode, stored_one in steps:
        mac = hasher.digest(pan) if stored_one else hasher.digest(next(guesses))
        if mode != "autocommit":
            attacker.conn.execute("BEGIN")
        try:
            granted, answer = _call(attacker, mac, pair, "tok_" + secrets.token_urlsafe(24))
        except psycopg.DatabaseError:
            assert mode != "autocommit"
        else:
            # Inside a transaction block a CALL fails at its COMMIT, or is refused before it (a full pair).
            assert mode == "autocommit" or (not granted and answer is None), "a transaction block got an answer"
            if granted:
                assert answer is not None
                answered.add(mac)
        finally:
            if mode != "autocommit":
                attacker.conn.execute("ROLLBACK" if mode == "rollback" else "COMMIT")
    assert len(answered) <= LIMIT


def test_only_the_api_login_may_call_it_and_it_runs_as_the_caller(database: Database) -> None:
    with database.admin() as conn:
        row = conn.execute(
            "SELECT p.prosecdef, p.proconfig, p.prokind, has_function_privilege('public', p.oid, 'EXECUTE'),"
            " has_function_privilege('card_vault_app', p.oid, 'EXECUTE') FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'vault' AND p.proname = 'tokenize_one'"
        ).fetchone()
    assert row == (False, None, "p", False, True)


@pytest.mark.usefixtures("installed")
def test_the_vault_tokenizes_a_card_in_one_statement(
    vault: Vault, database: Database, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Vault.tokenize` (no reservation of the caller's) sends one statement per card, and answers as before: a new
    card, the same card again with its first token, a full pair refused (SiblingLimitError, nothing stored)."""
    set_card_search(database, max_siblings=3)
    statements: list[str] = []
    execute = psycopg.Connection.execute

    def counted(self: psycopg.Connection[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(query).split("(")[0])
        return execute(self, query, *args, **kwargs)

    rng = random.Random(24_0044)
    pan = card_number(rng=rng)
    request = TokenizeRequest.model_validate(card_body(pan))
    vault.tokenize(request, client_id=CLIENT_ID)  # warm: the data key is created and saved once
    monkeypatch.setattr(psycopg.Connection, "execute", counted)
    again = vault.tokenize(request, client_id=CLIENT_ID)
    assert statements == ["CALL vault.tokenize_one"]
    assert not again.created
    sibling = next(g for g in _guesses(pan[:6], pan[-4:], rng) if g != pan)
    assert vault.tokenize(TokenizeRequest.model_validate(card_body(sibling)), client_id=CLIENT_ID).created
    cards = _cards(database)
    third = next(g for g in _guesses(pan[:6], pan[-4:], rng) if g not in {pan, sibling})
    with pytest.raises(SiblingLimitError) as refused:
        vault.tokenize(TokenizeRequest.model_validate(card_body(third)), client_id=CLIENT_ID)
    assert refused.value.refused[0].refusal == "siblings"
    assert _cards(database) == cards


@pytest.mark.usefixtures("installed")
def test_the_api_answers_through_the_one_call_path_as_before(database: Database, captured: Captured) -> None:
    set_card_search(database, max_siblings=2)
    rng = random.Random(24_0045)
    pan = card_number(rng=rng)
    first = call(captured, "POST", "/v1/cards", card_body(pan))
    assert first["statusCode"] == 201
    again = call(captured, "POST", "/v1/cards", card_body(pan))
    assert again["statusCode"] == 200
    assert payload(again)["token"] == payload(first)["token"]
    sibling = next(g for g in _guesses(pan[:6], pan[-4:], rng) if g != pan)
    refused = call(captured, "POST", "/v1/cards", card_body(sibling))
    assert refused["statusCode"] == 429
    headers = {k.lower() for k in {**refused.get("headers", {}), **refused.get("multiValueHeaders", {})}}
    assert "retry-after" in headers


CALL_BATCH = (
    "CALL vault.tokenize_batch(%s, 1::smallint, %s::text[], %s::bytea[], %s::smallint[], %s::uuid[], %s::bytea[],"
    " %s::bytea[], %s::text[], %s::text[], %s::text[], %s::smallint[], %s::smallint[], ARRAY[]::smallint[],"
    " ARRAY[]::bytea[], NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
)


def _call_batch(attacker: Attacker, macs: list[bytes], pairs: list[tuple[str, str]]) -> tuple[Any, ...]:
    n = len(macs)
    row = attacker.conn.execute(
        CALL_BATCH,
        (
            CLIENT_ID,
            ["tok_" + secrets.token_urlsafe(24) for _ in range(n)],
            macs,
            [1] * n,
            [attacker.key_id] * n,
            [secrets.token_bytes(44) for _ in range(n)],
            [secrets.token_bytes(40) for _ in range(n)],
            ["visa"] * n,
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            [12] * n,
            [2035] * n,
        ),
    ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.mark.usefixtures("installed")
def test_a_batch_call_in_the_callers_transaction_answers_nothing(
    vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """The batch procedure as the single one: inside BEGIN ... ROLLBACK its COMMIT is refused, nothing answered,
    stored or counted, the stored card's own hash among the batch's."""
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(24_0046)
    pan, token, pair = _stored_card(captured, rng)
    hasher = vault.parts().hasher
    guess = next(g for g in _guesses(*pair, rng) if g != pan)
    cards, counted = _cards(database), _reserved(database, pair)
    attacker.conn.execute("BEGIN")
    try:
        with pytest.raises(psycopg.DatabaseError) as refused:
            _call_batch(attacker, [hasher.digest(pan), hasher.digest(guess)], [pair, pair])
        assert refused.value.sqlstate == INVALID_TRANSACTION_TERMINATION
        assert token not in str(refused.value)
    finally:
        attacker.conn.execute("ROLLBACK")
    assert _cards(database) == cards
    assert _reserved(database, pair) == counted


@pytest.mark.usefixtures("installed")
def test_a_batch_stores_the_granted_pairs_cards_only_in_one_statement(
    vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """A batch whose one pair is full: that pair's cards get no answer (no token, nothing compared or stored), the
    other pair's card is stored; a pair's cards all or none (red team r19b M2), the limit counted in the database."""
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(24_0047)
    pan, token, full = _stored_card(captured, rng)
    hasher = vault.parts().hasher
    for guess in [g for g, _ in zip((g for g in _guesses(*full, rng) if g != pan), range(LIMIT - 1), strict=False)]:
        assert _call(attacker, hasher.digest(guess), full, "tok_" + secrets.token_urlsafe(24))[0]
    other_pan = card_number(rng=rng)
    other = (other_pan[:6], other_pan[-4:])
    cards = _cards(database)
    row = _call_batch(attacker, [hasher.digest(pan), hasher.digest(other_pan)], [full, other])
    reserved = dict(zip(zip(row[0], row[1], strict=True), row[2], strict=True))
    assert reserved == {full: False, other: True}
    assert list(row[9]) == [2]  # the other pair's card, its position in the batch
    assert token not in row[10]
    assert _cards(database) == cards + 1


@pytest.mark.usefixtures("installed")
def test_the_api_batch_is_one_statement_and_answers_per_card(
    database: Database, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_card_search(database, max_siblings=1)
    rng = random.Random(24_0048)
    pans = [card_number(rng=rng) for _ in range(3)]
    first = call(captured, "POST", "/v1/cards", card_body(pans[0]))
    assert first["statusCode"] == 201
    statements: list[str] = []
    execute = psycopg.Connection.execute

    def counted(self: psycopg.Connection[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(query).split("(")[0])
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", counted)
    answer = call(captured, "POST", "/v1/cards/batch", {"cards": [card_body(p) for p in pans]})
    assert statements == ["CALL vault.tokenize_batch"]
    assert answer["statusCode"] == 200
    statuses = [r["status"] for r in payload(answer)["results"]]
    assert statuses == [429, 201, 201]  # the first pair is full (its own tokenization); the others new
