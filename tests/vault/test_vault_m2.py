"""Red team r19b M2, run as the attacker it models (issue 19, task w19a; migration 0023 and
post/0024_contract_0023.sql): a holder of the API's database login (`card_vault_app`) and of its IAM role's
`kms:GenerateMac`, connected to the database directly (psql-level, no vault code in between), tries to test
more middle-digit guesses of a stored card's (first six, last four) than `card_search.max_siblings` allows.

Before 0023 `vault.store_card`, `vault.store_cards` and `vault.find_card_under` counted nothing: the limit
bound the API's code, not its login. Now every card those functions answer for spends one unspent
reservation of the pair named for it, inside the database, and the card is looked up only among the
client's cards of that pair. The properties checked:

- no reservation: every call is refused (SQLSTATE CV001), nothing stored, nothing answered;
- credits reserved for a made-up pair do not pay for the real pair, and a stored card's hash sent under the
  made-up pair answers exactly as a wrong guess does (a new card of the made-up pair, the caller's token);
- reserving the real pair directly grants at most `max_siblings` per window, the stored card's own
  tokenization through the API included, whatever the mix of single and batch calls (hypothesis).

Against the embedded PostgreSQL, moto's KMS for the keyed hash, under the suite's PAN leak guard.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from card_vault.pan import luhn_valid
from card_vault.vault import Vault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import CLIENT_ID, Captured, Database, set_card_search

RNG_SEED = 19_0223
LIMIT = 5
MADE_UP = ("000000", "0000")
NO_RESERVATION = "CV001"
STORE_CARD = (
    "SELECT token FROM vault.tokenize_card(%s, %s, %s, 1::smallint, 1::smallint, %s, %s, %s, 'visa', %s, %s,"
    " 12::smallint, 2035::smallint, %s::smallint[], %s::bytea[])"
)
STORE_CARDS = (
    "SELECT ord, token FROM vault.tokenize_cards(%s, 1::smallint, %s::text[], %s::bytea[], %s::smallint[], %s::uuid[],"
    " %s::bytea[], %s::bytea[], %s::text[], %s::text[], %s::text[], %s::smallint[], %s::smallint[],"
    " %s::smallint[], %s::bytea[])"
)


def _guesses(first6: str, last4: str, rng: random.Random) -> Iterator[str]:
    """Luhn-valid 16-digit numbers of one (first six, last four) pair, in random order (the middle-digit search)."""
    while True:
        guess = first6 + f"{rng.randrange(10**6):06d}" + last4
        if luhn_valid(guess):
            yield guess


def _token() -> str:
    return "tok_" + secrets.token_urlsafe(24)


class Attacker:
    """The API login, straight to the database: its own data key row, then the vault's functions by hand."""

    def __init__(self, database: Database) -> None:
        self.conn = psycopg.connect(database.role_urls["card_vault_app"], autocommit=True)
        self.key_id = uuid.uuid4()
        self.conn.execute(
            "SELECT vault.save_data_key(%s, %s, %s)",  # the database sets its epoch (migration 0029)
            (self.key_id, secrets.token_bytes(40), "arn:aws:kms:eu-west-1:000000000000:key/attacker"),
        )

    def reserve(self, pair: tuple[str, str], macs: list[bytes]) -> bool:
        """One credit of `pair` per keyed hash in `macs`, each bound to it (migration 0027), all or none."""
        n = len(macs)
        row = self.conn.execute(
            "SELECT granted FROM vault.reserve_tokenizations(%s, %s::text[], %s::text[], %s::bytea[])",
            (CLIENT_ID, [pair[0]] * n, [pair[1]] * n, macs),
        ).fetchone()
        return bool(row and row[0])

    def store(self, mac: bytes, pair: tuple[str, str], token: str | None = None) -> str:
        """The token `vault.tokenize_card` answers with for this hash under `pair`; raises psycopg errors."""
        row = self.conn.execute(
            STORE_CARD,
            (
                CLIENT_ID,
                token or _token(),
                mac,
                self.key_id,
                secrets.token_bytes(44),
                secrets.token_bytes(40),
                pair[0],
                pair[1],
                [],
                [],
            ),
        ).fetchone()
        assert row is not None
        return str(row[0])

    def store_many(
        self,
        macs: list[bytes],
        pair: tuple[str, str],
        versions: list[int] | None = None,
        older_macs: list[bytes] | None = None,
    ) -> list[str]:
        """`vault.tokenize_cards` as the API login, each card also compared under the older key `versions`
        (`older_macs`, card by card; random hashes by default); none by default."""
        versions = [] if versions is None else versions
        n = len(macs)
        if older_macs is None:
            older_macs = [secrets.token_bytes(32) for _ in range(n * len(versions))]
        rows = self.conn.execute(
            STORE_CARDS,
            (
                CLIENT_ID,
                [_token() for _ in range(n)],
                macs,
                [1] * n,
                [self.key_id] * n,
                [secrets.token_bytes(44) for _ in range(n)],
                [secrets.token_bytes(40) for _ in range(n)],
                ["visa"] * n,
                [pair[0]] * n,
                [pair[1]] * n,
                [12] * n,
                [2035] * n,
                versions,
                older_macs,
            ),
        ).fetchall()
        return [str(r[1]) for r in rows]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def attacker(database: Database) -> Iterator[Attacker]:
    found = Attacker(database)
    yield found
    found.close()


def _refused(err: pytest.ExceptionInfo[Any]) -> bool:
    return getattr(err.value, "sqlstate", None) == NO_RESERVATION


def _stored_card(captured: Captured, rng: random.Random) -> tuple[str, str, tuple[str, str]]:
    pan = card_number(rng=rng)
    answer = call(captured, "POST", "/v1/cards", card_body(pan))
    assert answer["statusCode"] == 201
    return pan, payload(answer)["token"], (pan[:6], pan[-4:])


def _cards(database: Database) -> int:
    with database.admin() as conn:
        row = conn.execute("SELECT count(*) FROM vault.cards").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.usefixtures("installed")
def test_without_a_reservation_the_api_login_gets_no_answer(
    vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """The stored card's own hash and a wrong guess alike: refused, nothing stored, by each function."""
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(RNG_SEED)
    pan, _, pair = _stored_card(captured, rng)
    hasher = vault.parts().hasher
    right, wrong = hasher.digest(pan), hasher.digest(next(g for g in _guesses(*pair, rng) if g != pan))
    before = _cards(database)
    for mac in (right, wrong):
        with pytest.raises(psycopg.DatabaseError) as single:
            attacker.store(mac, pair)
        assert _refused(single)
    with pytest.raises(psycopg.DatabaseError) as batch:
        attacker.store_many([right, wrong], pair)
    assert _refused(batch)
    # The older-version look-up has no function of its own any more: it is a step of tokenize_card; the
    # previous release's store functions and unbound reservation are gone (post/0028_contract_0027.sql).
    for gone in (
        "SELECT * FROM vault.find_card_under(%s, 1::smallint, %s, 2035::smallint, 12::smallint)",
        "SELECT * FROM vault.store_card(%s, 'tok_x', %s, 1::smallint, 1::smallint, gen_random_uuid(),"
        " '\\x00'::bytea, '\\x00'::bytea, 'visa', '411111', '1111', 1::smallint, 2035::smallint,"
        " ARRAY[]::smallint[], ARRAY[]::bytea[])",
        "SELECT * FROM vault.reserve_siblings(%s, ARRAY['411111'], ARRAY['1111'], ARRAY[length(%s)])",
    ):
        with pytest.raises(psycopg.errors.UndefinedFunction):
            attacker.conn.execute(gone, (CLIENT_ID, right))
    # Nor can the login spend, or store without spending, by the internal functions.
    for statement in (
        "SELECT vault.spend_card_hashes('payments', ARRAY['411111'], ARRAY['1111'], ARRAY['\\x00'::bytea])",
        "SELECT vault.refuse_written_transaction()",
        "SELECT * FROM vault.store_card_in_pair('payments', 'tok_x', '\\x00'::bytea, 1::smallint, 1::smallint,"
        " gen_random_uuid(), '\\x00'::bytea, '\\x00'::bytea, 'visa', '411111', '1111', 1::smallint, 2035::smallint,"
        " ARRAY[]::smallint[], ARRAY[]::bytea[])",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            attacker.conn.execute(statement)
    assert _cards(database) == before


@pytest.mark.usefixtures("installed")
def test_credits_of_a_made_up_pair_pay_for_nothing_of_the_real_one(
    vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(RNG_SEED + 1)
    pan, token, pair = _stored_card(captured, rng)
    hasher = vault.parts().hasher
    right = hasher.digest(pan)
    wrong: list[bytes] = []
    guesses = _guesses(*pair, rng)
    while len(wrong) < 2:
        guess = next(guesses)
        if guess != pan:
            wrong.append(hasher.digest(guess))
    extra = secrets.token_bytes(32)
    assert attacker.reserve(MADE_UP, [right, wrong[0], right, wrong[1], extra])
    # Naming the real pair: the made-up pair's credits do not cover it.
    with pytest.raises(psycopg.DatabaseError) as real:
        attacker.store(right, pair)
    assert _refused(real)
    with pytest.raises(psycopg.DatabaseError) as real_batch:
        attacker.store_many([right], pair)
    assert _refused(real_batch)
    # Naming the made-up pair: the stored card's hash answers as a wrong guess does, a new card of the
    # made-up pair under the caller's own token, never the stored card's token.
    for mac in (right, wrong[0]):
        mine = _token()
        assert attacker.store(mac, MADE_UP, mine) == mine
    assert token not in attacker.store_many([right, wrong[1]], MADE_UP)
    # Four of the five credits spent; a hash reserved for none of them is refused, the fifth's own hash answered
    # once, then no more.
    with pytest.raises(psycopg.DatabaseError) as unbound:
        attacker.store(secrets.token_bytes(32), MADE_UP)
    assert _refused(unbound)
    attacker.store(extra, MADE_UP)
    with pytest.raises(psycopg.DatabaseError) as spent:
        attacker.store(extra, MADE_UP)
    assert _refused(spent)
    # The real card is untouched and still the client's one row under its pair.
    with database.admin() as conn:
        assert conn.execute(
            "SELECT token FROM vault.cards WHERE client_id = %s AND first6 = %s AND last4 = %s",
            (CLIENT_ID, *pair),
        ).fetchall() == [(token,)]


@pytest.mark.usefixtures("installed")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(["reserve", "store", "batch"]), st.integers(min_value=1, max_value=4)),
        min_size=1,
        max_size=12,
    )
)
def test_direct_calls_answer_at_most_max_siblings_guesses_of_a_pair(
    plan: list[tuple[str, int]], vault: Vault, attacker: Attacker, database: Database, captured: Captured
) -> None:
    """Any mix of direct reservations, single and batch stores of the real pair: the guesses answered, the
    stored card's own tokenization included, never pass `max_siblings` in the window, and the stored card is
    found only when a reservation paid for it."""
    with database.admin() as conn:
        conn.execute(
            "TRUNCATE vault.cards, vault.idempotency_keys, vault.sibling_counts, vault.sibling_credits,"
            " vault.tokenize_spend"
        )
    set_card_search(database, max_siblings=LIMIT)
    rng = random.Random(RNG_SEED + len(plan))
    pan, token, pair = _stored_card(captured, rng)
    hasher = vault.parts().hasher
    guesses = _guesses(*pair, rng)
    right = hasher.digest(pan)
    pool = [right]  # hashes reserved at some point, the stored card's among them
    answered = 1  # the stored card's own tokenization through the API
    refusals: list[str | None] = []
    for step, n in plan:
        if step == "reserve":
            macs = [right if rng.random() < 0.3 else hasher.digest(next(guesses)) for _ in range(n)]
            pool.extend(macs)
            attacker.reserve(pair, macs)
            continue
        # Every guess of the step is a hash reserved before (the stored card's among them) or a fresh wrong one.
        macs = [
            rng.choice(pool) if rng.random() < 0.7 else hasher.digest(next(guesses))
            for _ in range(n if step == "batch" else 1)
        ]
        try:
            answers = attacker.store_many(macs, pair) if step == "batch" else [attacker.store(macs[0], pair)]
        except psycopg.DatabaseError as err:
            refusals.append(err.sqlstate)
            continue
        answered += len(answers)
        for mac, answer in zip(macs, answers, strict=True):
            assert (answer == token) == (mac == right)
    assert answered <= LIMIT
    assert set(refusals) <= {NO_RESERVATION}
