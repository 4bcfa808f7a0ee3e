"""Red team r19c H1, run as the attacker it models (issue 19, task w19h1; migration 0027 and
post/0028_contract_0027.sql): the API's database login, straight to the database, reserves, has the vault answer
(stored card or new), and rolls the answer back, so that the rollback gives the credit back for the next guess
(the red team's m2rb.py: 1,000 guesses in 2.2 s). The properties:

- reserve (committed), then BEGIN, tokenize_card, ROLLBACK, repeated: a credit answers only the hash it was
  reserved for, so the rolled-back credit re-asks that hash and no other, and the stored card is found only if
  its hash was one of the `max_siblings` reserved;
- a reservation in the answer's own transaction, or any earlier write (a SAVEPOINT's, a rolled-back
  subtransaction's), and the vault refuses to answer (SQLSTATE CV002), nothing spent or stored;
- the Idempotency-Key path: every hash the key look-up compares costs a credit bound to it, so rolling its
  mismatch lock back buys no second guess;
- (hypothesis) any sequence of reservations, single and batch stores, key look-ups, commits, rollbacks and
  savepoints answers at most `max_siblings` distinct hashes of a pair in a window, counting every answer read,
  including those of transactions rolled back.

Against the embedded PostgreSQL, moto's KMS for the keyed hash, under the suite's PAN leak guard.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from card_vault.vault import Vault, idempotency_key_hash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import CLIENT_ID, Captured, Database, set_card_search
from tests.vault.test_vault_m2 import Attacker, _guesses, _stored_card

LIMIT = 5
NO_RESERVATION = "CV001"
WRITTEN_TRANSACTION = "CV002"
IDEMPOTENT_ANSWER = (
    "SELECT outcome, status, response FROM vault.idempotent_answer(%s, %s, %s, %s, ARRAY[1]::smallint[],"
    " %s::bytea[], %s::bytea[])"
)


@pytest.fixture
def attacker(database: Database) -> Iterator[Attacker]:
    found = Attacker(database)
    yield found
    found.close()


def _sqlstate(err: pytest.ExceptionInfo[Any]) -> str | None:
    return getattr(err.value, "sqlstate", None)


def _cards(database: Database) -> int:
    with database.admin() as conn:
        row = conn.execute("SELECT count(*) FROM vault.cards").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.usefixtures("installed")
def test_rolling_back_an_answer_buys_no_second_guess(
    vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """The red team's m2rb.py: reserve, BEGIN, store, read, ROLLBACK, 1,000 times. The credit comes back bound
    to its hash: the same guess is answered again (the same answer: nothing new), any other guess is refused,
    and the stored card is never found, since its hash was not among the reserved ones."""
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(19_0227)
    pan, token, pair = _stored_card(captured, rng)
    hasher = vault.parts().hasher
    guesses = _guesses(*pair, rng)
    reserved = hasher.digest(next(g for g in guesses if g != pan))
    assert attacker.reserve(pair, [reserved])
    before = _cards(database)
    answers: set[str] = set()
    refused = 0
    mine = "tok_" + secrets.token_urlsafe(24)
    refusals: set[str | None] = set()
    for attempt in range(1000):
        mac = reserved if attempt % 100 == 0 else hasher.digest(pan) if attempt == 999 else secrets.token_bytes(32)
        attacker.conn.execute("BEGIN")
        try:
            answers.add(attacker.store(mac, pair, mine))
        except psycopg.DatabaseError as err:
            refusals.add(err.sqlstate)
            refused += 1
        finally:
            attacker.conn.execute("ROLLBACK")
    assert answers == {mine}, "the one reserved hash, answered again after each rollback, always alike"
    assert token not in answers
    assert refused == 1000 - 10
    assert refusals == {NO_RESERVATION}
    assert _cards(database) == before


@pytest.mark.usefixtures("installed")
def test_a_reservation_in_the_answers_own_transaction_is_refused(
    vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """BEGIN, reserve, store, ROLLBACK would roll the count back with the answer: the store is refused, so is the
    batch, and so is the key look-up; nothing is stored, and the count of the pair is what committed."""
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(19_0228)
    pan, _, pair = _stored_card(captured, rng)
    mac = vault.parts().hasher.digest(pan)
    before = _cards(database)
    for answer in (
        lambda: attacker.store(mac, pair),
        lambda: attacker.store_many([mac], pair),
        lambda: attacker.conn.execute(
            IDEMPOTENT_ANSWER, (CLIENT_ID, idempotency_key_hash("any-key-0001"), *pair, [mac], [b"\0" * 32])
        ),
    ):
        attacker.conn.execute("BEGIN")
        assert attacker.reserve(pair, [mac])
        with pytest.raises(psycopg.DatabaseError) as refused:
            answer()
        assert _sqlstate(refused) == WRITTEN_TRANSACTION
        attacker.conn.execute("ROLLBACK")
    assert _cards(database) == before


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(
    "prelude",
    [
        ["SAVEPOINT s", "RESERVE", "ROLLBACK TO SAVEPOINT s"],
        ["SAVEPOINT s", "RESERVE", "RELEASE SAVEPOINT s"],
        ["SAVEPOINT s", "STORE", "ROLLBACK TO SAVEPOINT s"],
        ["STORE"],
        ["DO"],
    ],
    ids=[
        "reserve-rolled-back-to-savepoint",
        "reserve-released",
        "answer-rolled-back-to-savepoint",
        "second-answer",
        "do-block",
    ],
)
def test_after_any_write_in_the_transaction_the_vault_answers_nothing(
    prelude: list[str], vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """A SAVEPOINT around the reservation or the first answer, a second answer in one transaction, or a
    subtransaction rolled back inside a DO block (an EXCEPTION handler): the top-level transaction has an ID
    from then on, and the next answer is refused."""
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(19_0229)
    pan, _, pair = _stored_card(captured, rng)
    hasher = vault.parts().hasher
    first, second = hasher.digest(pan), hasher.digest(next(g for g in _guesses(*pair, rng) if g != pan))
    assert attacker.reserve(pair, [first, second])
    attacker.conn.execute("BEGIN")
    for step in prelude:
        if step == "RESERVE":
            attacker.reserve(pair, [second])
        elif step == "STORE":
            attacker.store(first, pair)
        elif step == "DO":
            attacker.conn.execute(
                "DO $$ BEGIN PERFORM vault.reserve_tokenizations('payments', ARRAY['000000'], ARRAY['0000'],"
                " ARRAY['\\x00'::bytea]); RAISE EXCEPTION 'undo'; EXCEPTION WHEN raise_exception THEN NULL; END $$"
            )
        else:
            attacker.conn.execute(step)
    with pytest.raises(psycopg.DatabaseError) as refused:
        attacker.store(second, pair)
    assert _sqlstate(refused) == WRITTEN_TRANSACTION
    attacker.conn.execute("ROLLBACK")


@pytest.mark.usefixtures("installed")
def test_the_key_look_up_under_rollback_costs_a_credit_per_guess(
    vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """A key whose first request was the stored card: the red team's r19b H1 guessing of its fingerprint, each
    guess in a transaction rolled back so the lock never holds. Every guess needs a credit bound to its hash:
    unpaid guesses are refused, the paid ones are answered 'locked' (wrong) or 'replay' only for the card's own
    hash, and after a rollback the credit re-asks the same hash only."""
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(19_0230)
    pan = card_number(rng=rng)
    key = "refund-000000777"
    first = call(captured, "POST", "/v1/cards", card_body(pan), headers={"idempotency-key": key})
    assert first["statusCode"] == 201
    pair = (pan[:6], pan[-4:])
    hasher = vault.parts().hasher
    guesses = [g for g in (next(_guesses(*pair, rng)) for _ in range(20)) if g != pan]
    paid = hasher.digest(guesses[0])
    assert attacker.reserve(pair, [paid])
    key_hash = idempotency_key_hash(key)
    outcomes: list[str] = []
    for guess in guesses[:10]:
        mac = hasher.digest(guess)
        attacker.conn.execute("BEGIN")
        try:
            row = attacker.conn.execute(IDEMPOTENT_ANSWER, (CLIENT_ID, key_hash, *pair, [mac], [b"\1" * 32])).fetchone()
            assert row is not None
            outcomes.append(str(row[0]))
        except psycopg.DatabaseError as err:
            outcomes.append(str(err.sqlstate))
        finally:
            attacker.conn.execute("ROLLBACK")
    assert outcomes == ["locked"] + [NO_RESERVATION] * 9
    # The key still replays its own request through the API (the lock was rolled back, no guess got through).
    again = call(captured, "POST", "/v1/cards", card_body(pan), headers={"idempotency-key": key})
    assert again["statusCode"] == 201
    assert payload(again)["token"] == payload(first)["token"]


def _empty(database: Database) -> None:
    with database.admin() as conn:
        conn.execute(
            "TRUNCATE vault.cards, vault.idempotency_keys, vault.sibling_counts, vault.sibling_credits,"
            " vault.tokenize_spend"
        )


STEPS = st.sampled_from(["reserve", "store", "store_many", "idempotent", "begin", "commit", "rollback", "savepoint"])


@pytest.mark.usefixtures("installed")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(STEPS, st.integers(1, 3)), min_size=1, max_size=25), seed=st.integers(0, 2**32))
def test_no_sequence_answers_more_than_max_siblings_hashes(
    plan: list[tuple[str, int]], seed: int, vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """Any sequence of {reserve, store, store_many, key look-up, BEGIN, COMMIT, ROLLBACK, SAVEPOINT} by the API
    login: the distinct keyed hashes of the pair ever answered, answers of rolled-back transactions included,
    stay within `max_siblings` less the stored card's own tokenization, and the stored card's token comes back
    only for its own hash. Hypothesis prints the failing plan and seed."""
    _empty(database)
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(seed)
    pan = card_number(rng=rng)
    key = "search-key-" + secrets.token_hex(4)
    first = call(captured, "POST", "/v1/cards", card_body(pan), headers={"idempotency-key": key})
    assert first["statusCode"] == 201
    token = payload(first)["token"]
    pair = (pan[:6], pan[-4:])
    hasher = vault.parts().hasher
    right = hasher.digest(pan)
    guesses = _guesses(*pair, rng)
    pool = [right]
    answered: set[bytes] = set()
    refusals: set[str | None] = set()
    in_transaction = False

    def pick(n: int) -> list[bytes]:
        return [rng.choice(pool) if rng.random() < 0.6 else hasher.digest(next(guesses)) for _ in range(n)]

    for step, n in plan:
        conn = attacker.conn
        try:
            if step == "reserve":
                macs = pick(n)
                if attacker.reserve(pair, macs):
                    pool.extend(macs)
            elif step == "store":
                mac = pick(1)[0]
                found = attacker.store(mac, pair)
                answered.add(mac)
                assert (found == token) == (mac == right)
            elif step == "store_many":
                macs = pick(n)
                found_many = attacker.store_many(macs, pair)
                answered.update(macs)
                assert all((f == token) == (m == right) for f, m in zip(found_many, macs, strict=True))
            elif step == "idempotent":
                mac = pick(1)[0]
                row = conn.execute(
                    IDEMPOTENT_ANSWER, (CLIENT_ID, idempotency_key_hash(key), *pair, [mac], [secrets.token_bytes(32)])
                ).fetchone()
                answered.add(mac)
                assert row is not None
                assert row[0] == "locked"  # a made-up fingerprint: never a replay
            elif step == "begin" and not in_transaction:
                conn.execute("BEGIN")
                in_transaction = True
            elif step in ("commit", "rollback") and in_transaction:
                conn.execute(step.upper())
                in_transaction = False
            elif step == "savepoint" and in_transaction:
                conn.execute("SAVEPOINT s")
        except psycopg.DatabaseError as err:
            refusals.add(err.sqlstate)
            if in_transaction:
                conn.execute("ROLLBACK")
                in_transaction = False
    if in_transaction:
        attacker.conn.execute("ROLLBACK")
    assert refusals <= {NO_RESERVATION, WRITTEN_TRANSACTION}
    # The stored card's own tokenization through the API took one of the window's LIMIT.
    assert len(answered) <= LIMIT - 1, (len(answered), plan, seed)
