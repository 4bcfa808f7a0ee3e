"""Red team r19b, each attack run again (handlers in-process, the embedded PostgreSQL, moto's KMS, under the
suite's PAN leak guard), asserting the fixed property.

H1: an Idempotency-Key reused with other middle digits is no PAN-equality oracle: every card-bearing use is
reserved in the pair's sibling count before the key is looked at, and a key sent with a different request
is locked (that answer and every later one, right guess or wrong, the same 422).
M2: the batch route reserves a pair's cards atomically before storing any: the sibling limit is the bound,
for concurrent requests too.
M3: the API login reads no idempotency key and no sibling count (only client-scoped functions).
L4: no call lowers a sibling count before its window has ended, and counting reads no card.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
from collections.abc import Iterator

import psycopg
import pytest
from card_vault import runtime
from card_vault.pan import luhn_valid
from card_vault.settings import ClientSettings, VaultSettings
from card_vault.vault import Vault

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import (
    CLIENT_ID,
    CLIENT_SUBJECT,
    OTHER_ID,
    OTHER_SUBJECT,
    Captured,
    Database,
    set_card_search,
)

RNG_SEED = 19_0219
LIMIT = 10  # the default sibling limit (an hour)


def _guesses(first6: str, last4: str, length: int = 16) -> Iterator[str]:
    """Every Luhn-valid number with this first six and last four (the middle-digit search)."""
    middle = length - 10
    for n in range(10**middle):
        guess = first6 + f"{n:0{middle}d}" + last4
        if luhn_valid(guess):
            yield guess


def _emf(out: str, name: str) -> list[int]:
    values: list[int] = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            if name in document:
                value = document[name]
                values.extend(int(v) for v in (value if isinstance(value, list) else [value]))
    return values


@pytest.fixture
def attacker_rights(vault: Vault, settings: VaultSettings, database: Database) -> VaultSettings:
    """Client A holds tokenize + lookup only; the default sibling limit (10 an hour)."""
    clients = tuple(
        ClientSettings(id=c.id, subject=c.subject, issuer=c.issuer, rights=frozenset({"tokenize", "lookup"}))
        if c.subject == CLIENT_SUBJECT
        else c
        for c in settings.clients
    )
    limited = settings.model_copy(update={"clients": clients})
    with database.admin() as conn:
        assert conn.execute("SELECT max_siblings FROM vault.card_search_settings").fetchone() == (LIMIT,)
    runtime.install(vault, limited)
    return limited


def _sibling_count(database: Database, client_id: str = CLIENT_ID) -> int:
    with database.admin() as conn:
        row = conn.execute("SELECT sum(siblings) FROM vault.sibling_counts WHERE client_id = %s", (client_id,))
        return int((row.fetchone() or (0,))[0] or 0)


# --- H1 ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("attacker_rights")
def test_a_reused_idempotency_key_answers_right_and_wrong_guesses_alike_and_counts_each(
    captured: Captured, database: Database, capfd: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(RNG_SEED)
    target = card_number("4", 16, rng)
    legit = card_body(target)
    key = {"idempotency-key": "order-2026-000417"}
    first = call(captured, "POST", "/v1/cards", legit, headers=key)
    assert first["statusCode"] == 201
    token = payload(first)["token"]
    view = payload(call(captured, "GET", f"/v1/cards/{token}"))
    wrong = (g for g in _guesses(view["first6"], view["last4"]) if g != target)
    answers = [call(captured, "POST", "/v1/cards", {**legit, "pan": next(wrong)}, headers=key) for _ in range(3)]
    right = call(captured, "POST", "/v1/cards", legit, headers=key)  # the right guess, after the key is locked
    for answer in [*answers, right]:
        assert answer["statusCode"] == 422
        assert token not in answer["body"]
    assert {a["body"] for a in answers} == {right["body"]}  # right and wrong: one answer
    # Each use was reserved in the pair's count (1 + 3 + 1); past the limit every use is refused alike.
    assert _sibling_count(database) == 5
    rest = [call(captured, "POST", "/v1/cards", {**legit, "pan": next(wrong)}, headers=key) for _ in range(LIMIT)]
    assert [r["statusCode"] for r in rest] == [422] * (LIMIT - 5) + [429] * 5
    assert call(captured, "POST", "/v1/cards", legit, headers=key)["statusCode"] == 429
    with database.admin() as conn:
        assert conn.execute("SELECT count(*) FROM vault.cards").fetchone() == (1,)
    out, _ = capfd.readouterr()
    print(out, end="")
    # Every answered use is in the metrics: the first POST (a new card) and each mismatch (a sibling).
    assert len(_emf(out, "SiblingCards")) == LIMIT
    assert sum(_emf(out, "SiblingCards")) == LIMIT - 1
    assert sum(_emf(out, "NewCardAnswers")) == 1


@pytest.mark.usefixtures("attacker_rights")
def test_an_idempotent_replay_is_counted_like_a_sibling(
    captured: Captured, database: Database, capfd: pytest.CaptureFixture[str]
) -> None:
    body = card_body(card_number("4", 16, random.Random(RNG_SEED + 1)))
    key = {"idempotency-key": "order-2026-000418"}
    first = call(captured, "POST", "/v1/cards", body, headers=key)
    again = call(captured, "POST", "/v1/cards", body, headers=key)
    assert (again["statusCode"], payload(again)["token"]) == (201, payload(first)["token"])
    assert _sibling_count(database) == 2
    out, _ = capfd.readouterr()
    print(out, end="")
    assert _emf(out, "SiblingCards") == [0, 1]
    assert _emf(out, "NewCardAnswers") == [1, 1]


# --- M2 ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("attacker_rights")
def test_one_batch_cannot_pass_the_sibling_limit(captured: Captured, database: Database) -> None:
    rng = random.Random(RNG_SEED + 2)
    target = card_number("4", 16, rng)
    token = payload(call(captured, "POST", "/v1/cards", card_body(target)))["token"]
    view = payload(call(captured, "GET", f"/v1/cards/{token}"))
    guesses = iter(g for g in _guesses(view["first6"], view["last4"]) if g != target)
    singles = [call(captured, "POST", "/v1/cards", card_body(next(guesses)))["statusCode"] for _ in range(LIMIT - 2)]
    batch = [card_body(next(guesses)) for _ in range(99)] + [card_body(target)]
    answer = payload(call(captured, "POST", "/v1/cards/batch", {"cards": batch}))
    assert singles == [201] * (LIMIT - 2)
    assert [r["status"] for r in answer["results"]] == [429] * 100
    assert token not in json.dumps(answer)
    assert _sibling_count(database) == LIMIT - 1  # the refused batch reserved nothing
    with database.admin() as conn:
        assert conn.execute("SELECT count(*) FROM vault.cards").fetchone() == (LIMIT - 1,)


@pytest.mark.usefixtures("attacker_rights")
def test_a_13_digit_card_does_not_fall_to_one_batch(captured: Captured) -> None:
    target = card_number("4", 13, random.Random(RNG_SEED + 5))
    token = payload(call(captured, "POST", "/v1/cards", card_body(target)))["token"]
    view = payload(call(captured, "GET", f"/v1/cards/{token}"))
    guesses = list(_guesses(view["first6"], view["last4"], length=13))
    assert len(guesses) == 100
    answer = payload(call(captured, "POST", "/v1/cards/batch", {"cards": [card_body(g) for g in guesses]}))
    assert {r["status"] for r in answer["results"]} == {429}
    assert token not in json.dumps(answer)


@pytest.mark.usefixtures("installed")
def test_concurrent_reservations_stay_within_the_limit(database: Database) -> None:
    """Eight connections of the API login reserve 3 cards of one pair each at once; the limit is 10."""
    app = database.role_urls["card_vault_app"]
    granted: list[bool] = []
    barrier = threading.Barrier(8)

    def reserve() -> None:
        with psycopg.connect(app, autocommit=True) as conn:
            barrier.wait()
            row = conn.execute(
                "SELECT granted FROM vault.reserve_tokenizations(%s, %s, %s, %s)",
                (CLIENT_ID, ["411111"] * 3, ["1111"] * 3, [secrets.token_bytes(32) for _ in range(3)]),
            ).fetchone()
            granted.append(bool(row and row[0]))

    threads = [threading.Thread(target=reserve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(granted) == [False] * 5 + [True] * 3
    assert _sibling_count(database) == 9


# --- M3 and L4: the API login ---------------------------------------------------------------------


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(
    "statement",
    [
        "SELECT client_id, token, response FROM vault.idempotency_keys",
        "UPDATE vault.idempotency_keys SET expires_at = now()",
        "SELECT * FROM vault.sibling_counts",
        "UPDATE vault.sibling_counts SET siblings = 0",
        "SELECT vault.count_siblings('refunds', ARRAY['tok_x'], ARRAY['411111'], ARRAY['1111'], 60)",
    ],
    ids=["list-keys", "expire-keys", "read-counts", "lower-counts", "old-count-function"],
)
def test_the_api_login_reads_no_key_and_no_count(statement: str, captured: Captured, database: Database) -> None:
    call(
        captured,
        "POST",
        "/v1/cards",
        card_body(card_number("4", 16, random.Random(RNG_SEED + 3))),
        subject=OTHER_SUBJECT,
        headers={"idempotency-key": "refund-000000042"},
    )
    with (
        psycopg.connect(database.role_urls["card_vault_app"], autocommit=True) as conn,
        pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFunction)),
    ):
        conn.execute(statement)


@pytest.mark.usefixtures("installed")
def test_a_key_answers_only_its_own_request_to_the_api_login(database: Database, captured: Captured) -> None:
    """vault.idempotent_answer with any other hash and fingerprint locks the key and returns nothing of the card;
    without a credit reserved for the hash sent it answers nothing at all (migration 0027)."""
    pan = card_number("4", 16, random.Random(RNG_SEED + 4))
    call(
        captured,
        "POST",
        "/v1/cards",
        card_body(pan),
        subject=OTHER_SUBJECT,
        headers={"idempotency-key": "refund-000000043"},
    )
    from card_vault.vault import idempotency_key_hash

    answer = (
        "SELECT outcome, status, response FROM vault.idempotent_answer(%s, %s, %s, %s, ARRAY[1]::smallint[],"
        " %s::bytea[], %s::bytea[])"
    )
    guess = secrets.token_bytes(32)
    args = (OTHER_ID, idempotency_key_hash("refund-000000043"), pan[:6], pan[-4:], [guess], [b"\0" * 32])
    with psycopg.connect(database.role_urls["card_vault_app"], autocommit=True) as conn:
        with pytest.raises(psycopg.DatabaseError) as unpaid:
            conn.execute(answer, args)
        assert getattr(unpaid.value, "sqlstate", None) == "CV001"
        conn.execute(
            "SELECT granted FROM vault.reserve_tokenizations(%s, %s, %s, %s::bytea[])",
            (OTHER_ID, [pan[:6]], [pan[-4:]], [guess]),
        )
        rows = conn.execute(answer, args).fetchall()
    assert rows == [("locked", None, None)]


@pytest.mark.usefixtures("installed")
def test_no_call_lowers_a_count_and_counting_reads_no_card(captured: Captured, database: Database) -> None:
    b_view = payload(
        call(
            captured,
            "POST",
            "/v1/cards",
            card_body(card_number("4", 16, random.Random(RNG_SEED + 6))),
            subject=OTHER_SUBJECT,
        )
    )
    with psycopg.connect(database.role_urls["card_vault_app"], autocommit=True) as conn:

        def reserve(first6: str, last4: str, window: int) -> tuple[bool, int]:
            # The window is the configuration's (vault.card_search_settings), never the API login's.
            set_card_search(database, max_siblings=100, window_seconds=window)
            row = conn.execute(
                "SELECT granted, earlier FROM vault.reserve_tokenizations(%s, %s, %s, %s::bytea[])",
                (OTHER_ID, [first6], [last4], [secrets.token_bytes(32)]),
            ).fetchone()
            assert row is not None
            return bool(row[0]), int(row[1])

        other_last4 = "0000" if b_view["last4"] != "0000" else "1111"
        # B's stored pair and a pair B does not hold answer alike (the count is 1 from B's own POST).
        assert reserve(b_view["first6"], b_view["last4"], 3600) == (True, 1)
        assert reserve(b_view["first6"], other_last4, 3600) == (True, 0)
        # A shorter window configured later does not reset the pair's count: its window ends when it ends.
        assert reserve(b_view["first6"], b_view["last4"], 60) == (True, 2)
    assert _sibling_count(database, OTHER_ID) == 4
