"""The r19 red-team findings, each attacked the way the red team did and asserting the fixed property.

F2: the API login cannot read a keyed hash (nor test one by a unique violation); duplicate detection goes
through SECURITY DEFINER functions owned by a role that cannot log in, with a fixed search_path.
F3: an idempotency replay never answers with a disposed card. F6: a base64 body that is not base64 or
not UTF-8 is a 400 with a reason, never a 500.
"""

from __future__ import annotations

import base64
import io
import random

import psycopg
import pytest
from card_vault import api

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import Captured, Database
from tests.vault.events import FakeContext, alb_event

RNG_SEED = 1919
SUBJECT = "CN=payments-client,OU=Payments,O=Example Corp,C=GB"


def _try(url: str, statement: str) -> str:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return "refused"
    return "allowed"


# --- F2: the API login holds GenerateMac, so it must not hold the hashes -----------------------------


@pytest.mark.usefixtures("installed")
def test_api_login_cannot_read_or_probe_keyed_hashes(database: Database, captured: Captured) -> None:
    token = payload(call(captured, "POST", "/v1/cards", card_body(card_number(rng=random.Random(RNG_SEED)))))["token"]
    app = database.role_urls["card_vault_app"]
    with database.admin() as conn:
        (mac,) = conn.execute("SELECT pan_hmac FROM vault.cards WHERE token = %s", (token,)).fetchone() or (b"",)
    probes = {
        "read hashes": "SELECT pan_hmac, first6, last4 FROM vault.cards",
        "filter on a hash": "SELECT token FROM vault.cards WHERE pan_hmac = '\\x00'::bytea",
        "key versions": "SELECT hmac_key_version FROM vault.cards",
        # A plain insert of a guessed hash would answer by unique violation: no direct insert at all.
        "insert": "INSERT INTO vault.cards (token) VALUES ('tok_" + "a" * 32 + "')",
        "update a hash": "UPDATE vault.cards SET pan_hmac = pan_hmac",
    }
    assert {name: _try(app, sql) for name, sql in probes.items()} == dict.fromkeys(probes, "refused")
    # The older-version look-up is no function of its own any more (migration 0023: a step of vault.tokenize_card,
    # which spends a sibling reservation first; tests/vault/test_vault_m2.py attacks that).
    with psycopg.connect(app, autocommit=True) as conn, pytest.raises(psycopg.errors.UndefinedFunction):
        conn.execute(
            "SELECT token FROM vault.find_card_under('payments', 1::smallint, %s, 2000::smallint, 1::smallint)", (mac,)
        )


def test_definer_functions_are_owned_by_a_nologin_role_with_a_fixed_search_path(database: Database) -> None:
    with database.admin() as conn:
        rows = conn.execute(
            "SELECT p.proname, r.rolname, r.rolcanlogin, p.prosecdef, p.proconfig FROM pg_proc p"
            " JOIN pg_roles r ON r.oid = p.proowner JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'vault' AND p.prosecdef ORDER BY 1"
        ).fetchall()
        public = conn.execute(
            "SELECT has_function_privilege('public', p.oid, 'EXECUTE') FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'vault' AND p.prosecdef"
        ).fetchall()
    assert {r[0]: r[1] for r in rows} == {
        # migration 0027 (red team r19c H1): the store functions (store_card and store_cards of migrations
        # 0012, 0015, 0023 and 0026 before them), each hash they compare paid by a credit bound to it
        "tokenize_card": "card_vault_tokenizer",
        "tokenize_cards": "card_vault_tokenizer",  # the batch path, each card through store_card_in_pair
        # migration 0023: the pair-scoped store both call (not the API login's); 0027: the spend they make first
        "store_card_in_pair": "card_vault_tokenizer",
        "spend_card_hashes": "card_vault_scoped",
        "open_for_detokenize": "card_vault_audit_writer",
        "record_tampered": "card_vault_audit_writer",
        # r19 F8 (migration 0014): the API login's only way to a card row
        "get_card": "card_vault_scoped",
        "delete_card": "card_vault_scoped",
        "update_card": "card_vault_scoped",
        # r19b (migration 0018): the idempotency keys and the sibling counts, one client at a time
        "idempotent_answer": "card_vault_scoped",
        "remember_idempotent_key": "card_vault_scoped",
        "reserve_tokenizations": "card_vault_scoped",  # migrations 0027, 0034: one credit per keyed hash
        # migration 0034 (red team r19d finding 4): reserve_tokenizations takes the tokenize budget, then this (0033)
        "reserve_sibling_hashes": "card_vault_scoped",
        # migration 0029 (red team r19c M1): a new data key, under the epoch the configuration sets
        "save_data_key": "card_vault_scoped",
        # task w19b (migration 0025): the trigger that sets a card's shred epoch from its data key
        "set_card_shred_epoch": "card_vault_tokenizer",
        # red team r19d (migration 0031): the trigger that refuses a data key of another epoch than the current
        "refuse_stale_data_key": "card_vault_tokenizer",
        # the configured-clients trigger on vault.cards and the Keys job's disposal of unreadable cards (0036)
        "refuse_unconfigured_client": "card_vault_tokenizer",
        "dispose_unreadable_card": "card_vault_scoped",
    }
    for _name, _owner, can_login, _definer, config in rows:
        assert can_login is False
        # a fixed search path; the functions a vault login calls also carry their own memory limits (migration 0037)
        assert config[0] == "search_path=pg_catalog, pg_temp"
        assert set(config[1:]) <= {"work_mem=4MB", "hash_mem_multiplier=2"}
    assert public == [(False,)] * len(rows)


# --- F3: a replay after disposal ------------------------------------------------------------------


@pytest.mark.usefixtures("installed")
def test_idempotency_replay_never_resurrects_a_disposed_card(database: Database, captured: Captured) -> None:
    pan = card_number(rng=random.Random(RNG_SEED + 1))
    body = card_body(pan)
    key = {"idempotency-key": "order-000001"}
    first = call(captured, "POST", "/v1/cards", body, headers=key)
    token = payload(first)["token"]
    assert first["statusCode"] == 201
    assert call(captured, "DELETE", f"/v1/cards/{token}")["statusCode"] == 204
    with database.admin() as conn:
        assert conn.execute("SELECT count(*) FROM vault.idempotency_keys").fetchone() == (0,)
    again = call(captured, "POST", "/v1/cards", body, headers=key)
    assert again["statusCode"] == 201
    assert payload(again)["token"] != token
    assert call(captured, "GET", f"/v1/cards/{payload(again)['token']}")["statusCode"] == 200
    # And the purge takes a card's keys with it (the same cascade).
    with database.admin() as conn:
        conn.execute("UPDATE vault.cards SET expiry_year = 2001")
        conn.execute("DELETE FROM vault.cards")
        assert conn.execute("SELECT count(*) FROM vault.idempotency_keys").fetchone() == (0,)


# --- F6: base64 bodies that do not decode ----------------------------------------------------------


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(
    "raw",
    [base64.b64encode(b'{"pan": "\xff\xfe", "expiry_month": 1}').decode(), "!!!notb64"],
    ids=["invalid-utf8", "bad-base64"],
)
def test_undecodable_base64_body_is_a_400_with_a_reason(raw: str, captured: Captured, log_lines: io.StringIO) -> None:
    event = alb_event("POST", "/v1/cards", subject=SUBJECT, raw_body=raw)
    event["isBase64Encoded"] = True
    answer = api.handler(event, FakeContext())
    captured.add(answer)
    assert answer["statusCode"] == 400
    assert "base64" in answer["body"]
    assert "Traceback" not in log_lines.getvalue()


# --- F5: the detokenize login cannot forge audit rows nor read without one ----------------------------


@pytest.mark.usefixtures("installed")
def test_detokenize_login_cannot_forge_audit_rows_or_read_unrecorded(database: Database, captured: Captured) -> None:
    token = payload(call(captured, "POST", "/v1/cards", card_body(card_number(rng=random.Random(RNG_SEED + 2)))))[
        "token"
    ]
    url = database.role_urls["card_vault_detokenize"]
    forged = "('tok_" + "b" * 32 + "', 'refund', 'CASE-2', 'req-2', 'returned')"
    probes = {
        "insert a row": "INSERT INTO vault.detokenize_audit (token, reason_code, ticket, request_id, outcome) VALUES "
        + forged,
        "read a ciphertext": "SELECT pan_ciphertext FROM vault.cards",
    }
    assert {name: _try(url, sql) for name, sql in probes.items()} == dict.fromkeys(probes, "refused")
    # 'tampered' only for a token this request really read.
    assert _try(url, f"SELECT vault.record_tampered('{token}', 'never-read')") == "refused"
    with psycopg.connect(url, autocommit=True) as conn:
        read = conn.execute(
            "SELECT count(*) FROM vault.open_for_detokenize(%s, 'refund', 'CASE-3', 'req-3', 'caller-test')", (token,)
        ).fetchone()
        missing = conn.execute(
            "SELECT count(*) FROM vault.open_for_detokenize(%s, 'refund', 'CASE-4', 'req-4', 'caller-test')",
            ("tok_" + "c" * 32,),
        ).fetchone()
    assert (read, missing) == ((1,), (0,))
    with database.admin() as conn:
        rows = conn.execute(
            "SELECT token, request_id, outcome FROM vault.detokenize_audit WHERE request_id IN ('req-3', 'req-4')"
            " ORDER BY request_id"
        ).fetchall()
    assert rows == [(token, "req-3", "returned"), ("tok_" + "c" * 32, "req-4", "not_found")]


def test_store_cards_refuses_arrays_of_different_lengths_and_oversized_batches(database: Database) -> None:
    """The batch function checks its own input (one element per card per array, at most 1000 cards)."""
    call_sql = (
        "SELECT * FROM vault.tokenize_cards('payments', 1::smallint, %s::text[], %s::bytea[], %s::smallint[],"
        " %s::uuid[], %s::bytea[], %s::bytea[], %s::text[], %s::text[], %s::text[], %s::smallint[], %s::smallint[],"
        " %s::smallint[], %s::bytea[])"
    )
    with psycopg.connect(database.role_urls["card_vault_app"], autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute(call_sql, (["tok_x"], [], [], [], [], [], [], [], [], [], [], [], []))
        with pytest.raises(psycopg.errors.ProgramLimitExceeded):
            conn.execute(call_sql, (["t"] * 1001, *([[]] * 12)))
        assert conn.execute(call_sql, ([], [], [], [], [], [], [], [], [], [], [], [], [])).fetchall() == []
