"""Issue 19: the oracle bound (finding 2), the detokenize audit trail, idempotency keys, batch
tokenization, the card update path and the health route, attacked through the handlers on the
embedded PostgreSQL (the suite's PAN guard watches every log, trace, metric and response).
"""

from __future__ import annotations

import io
import json
import random
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from card_vault import api, detokenize, runtime
from card_vault.envelope import Sealed
from card_vault.models import MAX_BATCH_CARDS, TokenizeRequest
from card_vault.pan import find_pans, luhn_valid
from card_vault.settings import ClientSettings, VaultSettings
from card_vault.vault import Vault, idempotency_key_hash
from psycopg import sql

from pci_constructs import web_acl
from pci_constructs.card_vault import BATCH_MAX_BODY_BYTES, BATCH_PATH
from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import (
    ALL_RIGHTS,
    CLIENT_ID,
    CLIENT_ISSUER,
    OTHER_SUBJECT,
    READER_SUBJECT,
    Aws,
    Captured,
    Database,
    configure_clients,
    make_vault,
    set_card_search,
)
from tests.vault.events import FakeContext

RATE_LIMIT = 20  # cards per minute for the attacked client


def _with_limit(settings: VaultSettings, limit: int, database: Database) -> VaultSettings:
    """The client's tokenize budget at `limit`: in the database, which applies it (migration 0034), as the migration
    function writes it from the configuration, and in the API's settings, as the construct passes both."""
    configure_clients(database, {CLIENT_ID: limit})
    clients = tuple(
        c.model_copy(update={"tokenize_per_minute": limit}) if c.id == CLIENT_ID else c for c in settings.clients
    )
    return settings.model_copy(update={"clients": clients})


def _cards_of(database: Database, client_id: str = CLIENT_ID) -> int:
    with database.admin() as conn:
        row = conn.execute("SELECT count(*) FROM vault.cards WHERE client_id = %s", (client_id,)).fetchone()
    return int(row[0]) if row else 0


def _emf(capfd: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """EMF documents printed so far (printed again, so the suite's PAN guard still reads them)."""
    out, _ = capfd.readouterr()
    print(out, end="")
    documents = []
    for line in out.splitlines():
        if line.startswith('{"_aws"'):
            documents.append(json.loads(line))
    return documents


# --- Finding 2: the tokenize/lookup oracle within one domain ------------------------------------------


def test_middle_digit_search_is_stopped_by_the_shared_rate_limit(
    database: Database, aws: Aws, settings: VaultSettings, captured: Captured
) -> None:
    """The issue's attack: lookup gives first six and last four of a 13-digit card; trying the middle
    digits with tokenize (200 = stored) would find it within 100 Luhn-valid guesses. With a budget of
    20 cards a minute, shared by two Lambda instances (two vaults, two pools) through the database,
    the search gets 429 with Retry-After after 20 tries and never reaches the card."""
    # The tokenize budget alone: the sibling limit (default 10, below this budget) is tested in test_vault_r19.
    set_card_search(database, max_siblings=1000)
    limited = _with_limit(settings, RATE_LIMIT, database)
    instances = [make_vault(database, aws), make_vault(database, aws)]
    runtime.install(instances[0], limited)
    rng = random.Random(1913)
    first6 = "4" + "".join(rng.choice("0123456789") for _ in range(5))
    last4 = "".join(rng.choice("0123456789") for _ in range(4))
    # what the attacker tries: every middle three digits that make a Luhn-valid 13-digit number
    candidates = [first6 + f"{n:03d}" + last4 for n in range(1000) if luhn_valid(first6 + f"{n:03d}" + last4)]
    assert len(candidates) == 100
    victim = candidates[3 * RATE_LIMIT]  # well past what the budget lets the search try
    token = payload(call(captured, "POST", "/v1/cards", card_body(victim)))["token"]
    view = payload(call(captured, "GET", f"/v1/cards/{token}"))
    assert (view["first6"], view["last4"]) == (victim[:6], victim[-4:])

    answers: list[int] = []
    retry_after: set[str] = set()
    for index, guess in enumerate(candidates[: 5 * RATE_LIMIT]):
        runtime.install(instances[index % 2], limited)  # alternate instances: one budget all the same
        response = call(captured, "POST", "/v1/cards", card_body(guess))
        answers.append(response["statusCode"])
        if response["statusCode"] == 429:
            retry_after.add(response["multiValueHeaders"]["Retry-After"][0])
            assert "rate limit" in payload(response)["error"]
            assert str(RATE_LIMIT) in payload(response)["reason"]
        if response["statusCode"] == 200:
            pytest.fail("the search found the stored card: the rate limit did not stop it")
    # the victim's own tokenization used one card of the budget
    assert answers[: RATE_LIMIT - 1] == [201] * (RATE_LIMIT - 1)
    assert set(answers[RATE_LIMIT - 1 :]) == {429}
    assert all(1 <= int(value) <= 61 for value in retry_after)  # the sliding window (migration 0037)
    # a refused request stored nothing
    assert _cards_of(database) == RATE_LIMIT


def test_budget_is_per_client_and_a_batch_larger_than_the_rest_takes_nothing(
    database: Database, installed: Vault, settings: VaultSettings, captured: Captured
) -> None:
    runtime.install(installed, _with_limit(settings, 5, database))
    batch = {"cards": [card_body(card_number()) for _ in range(4)]}
    assert call(captured, "POST", "/v1/cards/batch", batch)["statusCode"] == 200
    refused = call(captured, "POST", "/v1/cards/batch", {"cards": [card_body(card_number()) for _ in range(2)]})
    assert refused["statusCode"] == 429
    assert _cards_of(database) == 4
    assert call(captured, "POST", "/v1/cards", card_body(card_number()))["statusCode"] == 201  # the one left
    # another client's budget is its own
    assert call(captured, "POST", "/v1/cards", card_body(card_number()), subject=OTHER_SUBJECT)["statusCode"] == 201


def test_known_and_new_answers_are_counted_per_client_as_emf(
    installed: Vault, captured: Captured, capfd: pytest.CaptureFixture[str]
) -> None:
    pan = card_number()
    call(captured, "POST", "/v1/cards", card_body(pan))
    call(captured, "POST", "/v1/cards", card_body(pan))
    call(captured, "POST", "/v1/cards/batch", {"cards": [card_body(pan), card_body(card_number())]})
    emitted = _emf(capfd)
    # Per request: one document per client (known, new, sibling answers), one for every client together
    # (CardsTokenized, dimension service only: the GenerateMac-volume alarm's count).
    documents = [d for d in emitted if "client_id" in d]
    overall = [d for d in emitted if "client_id" not in d]
    assert len(documents) == len(overall) == 3
    assert [json.loads(json.dumps(d["_aws"]))["CloudWatchMetrics"][0]["Dimensions"] for d in overall] == [
        [["service"]]
    ] * 3
    assert sum(float(json.loads(json.dumps(d[api.TOKENIZED_METRIC]))[0]) for d in overall) == 4.0
    totals = {api.KNOWN_CARD_METRIC: 0.0, api.NEW_CARD_METRIC: 0.0}
    for document in documents:
        meta = document["_aws"]
        assert isinstance(meta, dict)
        (directive,) = meta["CloudWatchMetrics"]
        assert directive["Namespace"] == api.METRIC_NAMESPACE
        assert directive["Dimensions"] == [["client_id", "service"]]
        assert document["client_id"] == CLIENT_ID
        assert not luhn_valid(str(meta["Timestamp"]))  # a millisecond epoch is never mistaken for a card
        for name in totals:
            value = document[name]
            assert isinstance(value, list)
            totals[name] += sum(value)
    assert totals == {api.KNOWN_CARD_METRIC: 2.0, api.NEW_CARD_METRIC: 2.0}


def test_metric_timestamp_is_never_luhn_valid() -> None:
    for stamp in range(1_796_000_000_000, 1_796_000_000_200):
        moved = api.metric_timestamp(stamp)
        assert not luhn_valid(str(moved))
        assert stamp - 2 <= moved <= stamp


# --- Detokenization audit trail --------------------------------------------------------------------------


@pytest.fixture
def auditor_url(database: Database) -> Iterator[str]:
    """A named auditor login, member of `card_vault_auditor` (the role itself cannot log in)."""
    name = f"vault_test_auditor_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(24)
    with database.admin() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE card_vault_auditor").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
    params = psycopg.conninfo.conninfo_to_dict(database.admin_url)
    yield psycopg.conninfo.make_conninfo("", **{**params, "user": name, "password": password})
    with database.admin() as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _audit_rows(database: Database, request_id: str) -> list[tuple[object, ...]]:
    with database.admin() as conn:
        return conn.execute(
            "SELECT token, reason_code, ticket, request_id, outcome, at FROM vault.detokenize_audit"
            " WHERE request_id = %s",
            (request_id,),
        ).fetchall()


def test_every_detokenize_call_is_recorded_without_the_card_number(
    vault: Vault, detokenizer: Vault, settings: VaultSettings, database: Database, captured: Captured
) -> None:
    pan = card_number()
    token = vault.tokenize(TokenizeRequest.model_validate(card_body(pan)), client_id=CLIENT_ID).view.token
    runtime.install(detokenizer, settings)
    found, missing = FakeContext(), FakeContext()
    answer = detokenize.handler({"token": token, "reason_code": "refund", "ticket": "CASE-42"}, found)
    assert answer["pan"] == pan
    gone = "tok_" + "A" * 32
    assert detokenize.handler({"token": gone, "reason_code": "chargeback", "ticket": "INC-7"}, missing) == {
        "error": "not found"
    }
    (row,) = _audit_rows(database, found.aws_request_id)
    assert row[:5] == (token, "refund", "CASE-42", found.aws_request_id, "returned")
    (row,) = _audit_rows(database, missing.aws_request_id)
    assert row[:5] == (gone, "chargeback", "INC-7", missing.aws_request_id, "not_found")
    with database.admin() as conn:
        # Every column but `id`, a random UUID the database draws (gen_random_uuid): about 1 in 147 holds a
        # Luhn-valid digit run (README, "Not built yet"), and this table keeps every test's rows.
        everything = conn.execute(
            "SELECT at, token, reason_code, ticket, request_id, outcome, caller FROM vault.detokenize_audit"
        ).fetchall()
    assert not find_pans(json.dumps(everything, default=str))


def test_no_card_number_without_an_audit_record(
    vault: Vault, detokenizer: Vault, settings: VaultSettings, database: Database, captured: Captured
) -> None:
    """When the audit row cannot be written, the call fails closed: no number comes back."""
    pan = card_number()
    token = vault.tokenize(TokenizeRequest.model_validate(card_body(pan)), client_id=CLIENT_ID).view.token
    runtime.install(detokenizer, settings)
    with database.admin() as conn:
        conn.execute("REVOKE INSERT ON vault.detokenize_audit FROM card_vault_audit_writer")
    try:
        answer = detokenize.handler({"token": token, "reason_code": "refund", "ticket": "CASE-43"}, FakeContext())
    finally:
        with database.admin() as conn:
            conn.execute(
                "GRANT INSERT (token, reason_code, ticket, request_id, outcome, caller) ON vault.detokenize_audit"
                " TO card_vault_audit_writer"
            )
    captured.add(answer)
    assert answer == {"error": "internal error"}


ROW = "('tok_" + "B" * 32 + "', 'refund', 'CASE-1', 'forged-request', 'returned')"
ATTACKS = {
    "select": "SELECT count(*) FROM vault.detokenize_audit",
    "insert": "INSERT INTO vault.detokenize_audit (token, reason_code, ticket, request_id, outcome) VALUES " + ROW,
    "update": "UPDATE vault.detokenize_audit SET outcome = 'not_found'",
    "delete": "DELETE FROM vault.detokenize_audit",
    "truncate": "TRUNCATE vault.detokenize_audit",
}
# What each role may do to the audit table; everything else must be refused.
ALLOWED = {
    "card_vault_app": set(),
    "card_vault_detokenize": set(),  # appends only through vault.open_for_detokenize (migration 0012)
    "card_vault_purge": set(),
    "auditor": {"select"},
    "owner": {"select", "insert"},  # the migrating master user: its UPDATE/DELETE/TRUNCATE hit the trigger
}


@pytest.mark.parametrize("role", sorted(ALLOWED))
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_audit_trail_is_append_only_for_every_role(
    role: str, attack: str, database: Database, auditor_url: str, detokenizer: Vault, settings: VaultSettings
) -> None:
    # at least one row to change or delete
    runtime.install(detokenizer, settings)
    detokenize.handler({"token": "tok_" + "C" * 32, "reason_code": "refund", "ticket": "CASE-9"}, FakeContext())
    url = {"auditor": auditor_url, "owner": database.admin_url}.get(role) or database.role_urls[role]
    with database.admin() as conn:
        before = conn.execute("SELECT count(*), max(outcome) FROM vault.detokenize_audit").fetchone()
    with psycopg.connect(url, autocommit=True) as conn:
        if attack in ALLOWED[role]:
            conn.execute(ATTACKS[attack])
            return
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(ATTACKS[attack])
    with database.admin() as conn:
        assert conn.execute("SELECT count(*), max(outcome) FROM vault.detokenize_audit").fetchone() == before


# --- Idempotency keys ----------------------------------------------------------------------------------


def test_same_key_same_body_gives_the_first_answer(installed: Vault, database: Database, captured: Captured) -> None:
    body = card_body(card_number())
    key = {"idempotency-key": "order-7731-retry"}
    first = call(captured, "POST", "/v1/cards", body, headers=key)
    again = call(captured, "POST", "/v1/cards", body, headers=key)
    assert first["statusCode"] == again["statusCode"] == 201
    assert payload(first) == payload(again)
    assert _cards_of(database) == 1
    # without the key the same card is an ordinary repeat (200)
    assert call(captured, "POST", "/v1/cards", body)["statusCode"] == 200


def test_same_key_other_body_is_refused_and_stores_nothing(
    installed: Vault, database: Database, captured: Captured
) -> None:
    key = {"idempotency-key": "order-7732"}
    first = card_body(card_number())
    call(captured, "POST", "/v1/cards", first, headers=key)
    other = card_number()
    refused = call(captured, "POST", "/v1/cards", card_body(other), headers=key)
    assert refused["statusCode"] == 422
    assert payload(refused)["details"] == [
        {"field": "Idempotency-Key", "reason": "was used with a different request; it answers no further request"}
    ]
    assert _cards_of(database) == 1
    # The key is locked from then on: the first request's own retry gets the same answer (red team r19b H1).
    assert call(captured, "POST", "/v1/cards", first, headers=key)["body"] == refused["body"]
    # another expiry of the same card is another request too
    later = card_body(card_number(), expiry_year=card_body()["expiry_year"])
    assert call(captured, "POST", "/v1/cards", later, headers={"idempotency-key": "order-7733"})["statusCode"] == 201


def test_keys_are_per_client_and_expire(installed: Vault, database: Database, captured: Captured) -> None:
    key = {"idempotency-key": "shared-key-0001"}
    mine = call(captured, "POST", "/v1/cards", card_body(card_number()), headers=key)
    theirs = call(captured, "POST", "/v1/cards", card_body(card_number()), headers=key, subject=OTHER_SUBJECT)
    assert mine["statusCode"] == theirs["statusCode"] == 201
    with database.admin() as conn:
        conn.execute(
            "UPDATE vault.idempotency_keys SET expires_at = now() - interval '1 second' WHERE client_id = %s",
            (CLIENT_ID,),
        )
    fresh = call(captured, "POST", "/v1/cards", card_body(card_number()), headers=key)
    assert fresh["statusCode"] == 201
    assert payload(fresh)["token"] != payload(mine)["token"]
    with database.admin() as conn:
        stored = conn.execute("SELECT key_hash FROM vault.idempotency_keys WHERE client_id = %s", (CLIENT_ID,))
        assert [bytes(r[0]) for r in stored] == [idempotency_key_hash("shared-key-0001")]  # the key's hash only


@pytest.mark.parametrize("case", ["short", "spaces", "card-number"])
def test_hostile_idempotency_keys_get_400_and_are_not_echoed(
    case: str, installed: Vault, database: Database, captured: Captured, log_lines: io.StringIO
) -> None:
    value = {"short": "abc", "spaces": "a key with spaces", "card-number": card_number(length=16)}[case]
    response = call(captured, "POST", "/v1/cards", card_body(card_number()), headers={"idempotency-key": value})
    assert response["statusCode"] == 400
    assert value not in response["body"]
    assert value not in log_lines.getvalue()
    assert _cards_of(database) == 0


def test_concurrent_requests_with_one_key_store_one_card(installed: Vault, database: Database) -> None:
    request = TokenizeRequest.model_validate(card_body(card_number()))
    answers: list[str] = []
    lock = threading.Lock()

    def send() -> None:
        result = installed.tokenize_idempotent(request, client_id=CLIENT_ID, key="concurrent-key-01")
        with lock:
            answers.append(result.view.token)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4
    assert len(set(answers)) == 1
    assert _cards_of(database) == 1


# --- Batch tokenization --------------------------------------------------------------------------------


def test_batch_validates_each_card_on_its_own_in_one_transaction(
    installed: Vault, database: Database, captured: Captured
) -> None:
    pan = card_number()
    bad_luhn = pan[:-1] + str((int(pan[-1]) + 1) % 10)
    cards: list[object] = [
        card_body(pan),
        card_body(bad_luhn),
        {**card_body(card_number()), "cvv": "123"},
        "not an object",
        card_body(card_number()),
        card_body(pan),  # the same card again in one batch: one token
        {**card_body(card_number()), card_number(): "x"},  # an unknown field named like a card
    ]
    response = call(captured, "POST", "/v1/cards/batch", {"cards": cards})
    assert response["statusCode"] == 200
    answer = payload(response)
    statuses = [r["status"] for r in answer["results"]]
    assert statuses == [201, 422, 422, 422, 201, 200, 422]
    assert [r["index"] for r in answer["results"]] == list(range(len(cards)))
    assert answer["results"][1]["details"] == [{"field": "pan", "reason": "fails the Luhn check"}]
    assert answer["results"][6]["details"] == [{"field": "body", "reason": "unknown field"}]
    assert answer["results"][0]["token"] == answer["results"][5]["token"]
    assert (answer["created"], answer["existing"], answer["refused"]) == (2, 1, 4)
    assert not find_pans(response["body"])
    assert bad_luhn not in response["body"]
    with database.admin() as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT created_at) FROM vault.cards").fetchone()
    assert row == (2, 1)  # now() is the transaction's start: one transaction for the batch


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"cards": []}, 422),
        ({"cards": "x"}, 422),
        ({"cards": [], "extra": 1}, 422),
        ({"cards": [{}] * 101}, 422),
    ],
    ids=["empty", "not-a-list", "extra-field", "101-cards"],
)
def test_batch_refuses_bad_envelopes_and_stores_nothing(
    body: dict[str, object], status: int, installed: Vault, database: Database, captured: Captured
) -> None:
    if body.get("cards") == [{}] * 101:
        body = {"cards": [card_body(card_number()) for _ in range(101)]}
    response = call(captured, "POST", "/v1/cards/batch", body)
    assert response["statusCode"] == status
    assert "extra" not in response["body"]
    assert _cards_of(database) == 0


def test_batch_needs_the_tokenize_right(installed: Vault, captured: Captured) -> None:
    response = call(captured, "POST", "/v1/cards/batch", {"cards": [card_body()]}, subject=READER_SUBJECT)
    assert response["statusCode"] == 403


def test_a_batch_of_100_of_the_longest_cards_fits_the_limits(
    installed: Vault, database: Database, captured: Captured
) -> None:
    cards = [card_body(card_number("4", 19), cardholder_name="Maximiliana Wolkenstein-Ha") for _ in range(100)]
    assert len(json.dumps({"cards": cards}).encode()) <= api.MAX_BATCH_BODY_BYTES
    response = call(captured, "POST", "/v1/cards/batch", {"cards": cards})
    assert response["statusCode"] == 200
    assert payload(response)["created"] == 100


def _max_length(field: str) -> int:
    lengths = [m.max_length for m in TokenizeRequest.model_fields[field].metadata if hasattr(m, "max_length")]
    assert len(lengths) == 1
    return int(lengths[0])


def _maximal_batch(name_char: str) -> dict[str, object]:
    """100 cards at the schema's maximum sizes: 19-digit PAN, month 12, year 2099, the longest name field."""
    card = {
        "pan": "4" * _max_length("pan"),
        "expiry_month": 12,
        "expiry_year": 2099,
        "cardholder_name": name_char * _max_length("cardholder_name"),
    }
    return {"cards": [card] * MAX_BATCH_CARDS}


def test_a_maximal_100_card_batch_fits_the_web_acl_batch_limit() -> None:
    """The web ACL's limit for the batch path is the function's, and the largest batch the schema allows fits it."""
    assert (BATCH_PATH, BATCH_MAX_BODY_BYTES) == ("/v1/cards/batch", api.MAX_BATCH_BODY_BYTES)
    sizes = {
        encoding: len(json.dumps(_maximal_batch(char), **options).encode())  # type: ignore[arg-type]
        for encoding, char, options in [
            ("ascii name", "A", {}),
            ("escaped BMP letters", "\u00e9", {}),
            ("raw UTF-8 astral letters", "\U0001d400", {"ensure_ascii": False}),
            ("escaped astral letters", "\U0001d400", {}),
            ("escaped astral letters, indented", "\U0001d400", {"indent": 2}),
        ]
    }
    print("maximal 100-card batch bodies (bytes):", sizes, "limit:", BATCH_MAX_BODY_BYTES)
    assert sizes["escaped astral letters"] == 134_411  # the figure api.py and the README state
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "134,411 bytes" in readme
    assert f"{BATCH_MAX_BODY_BYTES:,} bytes" in readme
    assert max(sizes.values()) <= BATCH_MAX_BODY_BYTES
    assert min(sizes.values()) > web_acl.ALB_BODY_INSPECTION_LIMIT  # why the batch path needs its own rule


# --- Card update path ----------------------------------------------------------------------------------


def test_update_expiry_and_name(installed: Vault, detokenizer: Vault, database: Database, captured: Captured) -> None:
    token = payload(call(captured, "POST", "/v1/cards", card_body(card_number())))["token"]
    month, year = 6, int(str(card_body()["expiry_year"])) + 1
    updated = call(captured, "PATCH", f"/v1/cards/{token}", {"expiry_month": month, "expiry_year": year})
    assert updated["statusCode"] == 200
    assert payload(updated)["expiry"] == f"{year:04d}-{month:02d}"
    assert payload(call(captured, "GET", f"/v1/cards/{token}"))["expiry"] == f"{year:04d}-{month:02d}"
    renamed = call(captured, "PATCH", f"/v1/cards/{token}", {"cardholder_name": "Grace Hopper"})
    assert renamed["statusCode"] == 200
    with database.admin() as conn:
        row = conn.execute(
            "SELECT format_version, COALESCE(name_data_key_id, data_key_id), name_ciphertext FROM vault.cards"
            " WHERE token = %s",
            (token,),
        ).fetchone()
    assert row is not None
    # the new name is sealed for this card (AAD names the token and the field) and opens as sent
    cipher = detokenizer._cipher  # the test reads the sealed name back
    assert cipher.open(Sealed(int(row[0]), row[1], bytes(row[2])), token=token, field="name") == "Grace Hopper"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"expiry_month": 5},
        {"expiry_month": 1, "expiry_year": 2001},
        {"cardholder_name": "<b>x</b>"},
        {"cvv": "123"},
        {"pan": "4111111111111111"},
        {"expiry_month": "5", "expiry_year": 2031},
    ],
    ids=["empty", "month-only", "expired", "markup", "cvv", "pan-field", "string-month"],
)
def test_update_refuses_bad_bodies_and_changes_nothing(
    body: dict[str, object], installed: Vault, database: Database, captured: Captured
) -> None:
    token = payload(call(captured, "POST", "/v1/cards", card_body(card_number())))["token"]
    with database.admin() as conn:
        before = conn.execute("SELECT * FROM vault.cards").fetchall()
    response = call(captured, "PATCH", f"/v1/cards/{token}", body)
    assert response["statusCode"] == 422
    assert "4111111111111111" not in response["body"]
    with database.admin() as conn:
        assert conn.execute("SELECT * FROM vault.cards").fetchall() == before


def test_update_is_scoped_to_the_domain_and_its_own_right(installed: Vault, captured: Captured) -> None:
    token = payload(call(captured, "POST", "/v1/cards", card_body(card_number())))["token"]
    change = {"cardholder_name": "Mallory Evil"}
    assert call(captured, "PATCH", f"/v1/cards/{token}", change, subject=OTHER_SUBJECT)["statusCode"] == 404
    assert call(captured, "PATCH", f"/v1/cards/{token}", change, subject=READER_SUBJECT)["statusCode"] == 403
    assert call(captured, "PATCH", "/v1/cards/not-a-token", change)["statusCode"] == 404


def test_update_right_is_granted_separately(settings: VaultSettings) -> None:
    client = ClientSettings(id="updater", subject="CN=u", issuer=CLIENT_ISSUER, rights=frozenset({"update"}))
    assert client.rights == {"update"}
    assert "update" in ALL_RIGHTS


# --- Health route --------------------------------------------------------------------------------------


def test_health_answers_without_a_certificate_and_says_nothing_else(installed: Vault, captured: Captured) -> None:
    response = call(captured, "GET", "/v1/health", subject=None)
    assert response["statusCode"] == 200
    assert payload(response) == {"status": "ok"}
    assert response["multiValueHeaders"]["Cache-Control"] == ["no-store"]
    # only GET on the health path is open; everything else still needs a client certificate
    assert call(captured, "POST", "/v1/health", {}, subject=None)["statusCode"] == 401
    assert call(captured, "GET", "/v1/cards/health", subject=None)["statusCode"] == 401


def test_health_is_503_without_detail_when_the_database_fails(
    installed: Vault, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> bool:
        raise psycopg.OperationalError("connection to server at db.internal (10.0.0.5) failed: password=hunter2")

    monkeypatch.setattr(installed, "healthy", broken)
    response = call(captured, "GET", "/v1/health", subject=None)
    assert response["statusCode"] == 503
    assert payload(response) == {"status": "unavailable"}
