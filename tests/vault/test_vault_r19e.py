"""Red team r19e (issue 19, task w19f), run as the attacker it models: the API's database login (card_vault_app)
straight to the embedded PostgreSQL (moto's KMS for the Keys job), against migrations 0036 and 0037.

Finding 1 (MEDIUM): the login named any client ID; an ID without a vault.tokenize_limits row got the default budget
and its own sibling windows, and cards stored under invented IDs kept their epoch `in_use` for ever. Migration 0036
refuses unconfigured client IDs (reservation and card trigger, SQLSTATE CV006) and lets the Keys job dispose of a
card nobody can read (`vault.dispose_unreadable_card`).
Finding 2 (MEDIUM/LOW): the login's role defaults (work_mem, statement_timeout) were its to SET back, and it held
TEMP. Migration 0037 puts work_mem and hash_mem_multiplier on every definer function and revokes TEMP.
Finding 3 (LOW): the fixed minute allowed twice the budget across a minute's boundary; migration 0037's window
slides.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import secrets
from typing import Any

import psycopg
import pytest
from card_vault import keys, migrate

from tests.vault.cards import card_number
from tests.vault.conftest import CLIENT_ID, Aws, Database, configure_clients
from tests.vault.test_vault_r19d import POISON, _store_raw
from tests.vault.test_vault_shred import _epoch_key, _one, _request, _shred_settings, _vault

VAULT_LOGINS = ("card_vault_app", "card_vault_detokenize", "card_vault_purge", "card_vault_keys")


def _login(database: Database, role: str = "card_vault_app") -> psycopg.Connection[Any]:
    return psycopg.connect(database.role_urls[role], autocommit=True)


def test_invented_client_ids_get_no_budget_no_sibling_window_and_store_no_card(database: Database, aws: Aws) -> None:
    """The red team's run: one pair reserved under 20 invented client IDs (20 sibling windows of its own before),
    then a card stored under each. Every reservation and every card is refused; nothing is spent or written."""
    api = _vault(database, aws, "card_vault_app", key_id=aws.kms_key_arn, epoch=0)
    live = api.tokenize(_request(card_number(rng=random.Random(31))), client_id=CLIENT_ID).view.token
    (data_key,) = _one(database, "SELECT data_key_id FROM vault.cards WHERE token = %s", live)
    refusals = []
    with _login(database) as conn:
        for i in range(20):
            invented = f"invented-{i:02d}"
            with pytest.raises(psycopg.DatabaseError) as refused:
                conn.execute(
                    "SELECT * FROM vault.reserve_tokenizations(%s, ARRAY['411111'], ARRAY['1111'], %s)",
                    (invented, [secrets.token_bytes(32)]),
                )
            refusals.append(refused.value.sqlstate)
            with pytest.raises(psycopg.DatabaseError):  # no reservation: vault.tokenize_card answers nothing
                conn.execute(
                    "SELECT * FROM vault.tokenize_card(%s, %s, %s, 1::smallint, 1::smallint, %s, %s, %s, 'visa',"
                    " '411111', '1111', 1::smallint, 2030::smallint, ARRAY[]::smallint[], ARRAY[]::bytea[])",
                    (invented, "tok_" + f"I{i:02d}" * 8 + "I" * 8, secrets.token_bytes(32), data_key, b"junk", b"j"),
                )
    assert refusals == ["CV006"] * 20
    with database.admin() as admin:
        spent = admin.execute("SELECT count(*) FROM vault.tokenize_spend WHERE client_id LIKE 'invented-%'").fetchone()
        windows = admin.execute(
            "SELECT count(*) FROM vault.sibling_counts WHERE client_id LIKE 'invented-%'"
        ).fetchone()
        cards = admin.execute("SELECT count(*) FROM vault.cards WHERE client_id LIKE 'invented-%'").fetchone()
        assert (spent, windows, cards) == ((0,), (0,), (0,))
        # The trigger holds every writer, the migrating login included: no card moves to an unconfigured ID.
        with pytest.raises(psycopg.DatabaseError) as refused:
            admin.execute("UPDATE vault.cards SET client_id = 'invented-99' WHERE token = %s", (live,))
        assert refused.value.sqlstate == "CV006"
    # A client the configuration drops loses its budget at the next migration run; its stored cards stay.
    configure_clients(database)
    migrate.set_tokenize_limits(database.admin_url, default=600, clients={"refunds": 600})
    with _login(database) as conn, pytest.raises(psycopg.DatabaseError) as refused:
        conn.execute(
            "SELECT * FROM vault.reserve_tokenizations(%s, ARRAY['422222'], ARRAY['2222'], %s)",
            (CLIENT_ID, [secrets.token_bytes(32)]),
        )
    assert refused.value.sqlstate == "CV006"
    assert _one(database, "SELECT count(*) FROM vault.cards WHERE token = %s", live) == (1,)


def test_unreadable_cards_are_disposed_and_the_epoch_shred_proceeds(
    database: Database, aws: Aws, capfd: pytest.CaptureFixture[str], log_lines: io.StringIO
) -> None:
    epochs = {1: _epoch_key(aws, 1), 2: _epoch_key(aws, 2)}
    api = _vault(database, aws, "card_vault_app", key_id=epochs[1], epoch=1)
    live = api.tokenize(_request(card_number(rng=random.Random(41))), client_id=CLIENT_ID).view.token
    (data_key,) = _one(database, "SELECT data_key_id FROM vault.cards WHERE token = %s", live)
    with _login(database) as conn:  # a card nobody can read, planted under a current-epoch data key
        assert _store_raw(conn, data_key_id=data_key, token=POISON)
        # The API login cannot dispose of cards itself.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT vault.dispose_unreadable_card(%s)", (live,))
    job = _vault(database, aws, "card_vault_keys", key_id=epochs[2], epoch=2)
    parts = job.parts()
    first = keys.reseal(store=parts.store, cipher=parts.cipher)
    assert (first["resealed"], first["unreadable"], first["disposed"]) == (1, 1, 0)
    # Recorded, by its token's SHA-256 only; a second run within 20 hours waits.
    rows = _one(database, "SELECT count(*), bool_and(disposed_at IS NULL) FROM vault.unreadable_cards")
    assert rows == (1, True)
    assert parts.store.dispose_unreadable(POISON) == "waiting"
    # A card of the current epoch (the live one, now resealed) is never disposed of this way.
    assert parts.store.dispose_unreadable(live) == "not_eligible"
    shred = keys.shred(
        store=parts.store, kms=parts.kms, shred_settings=_shred_settings(epochs), now=dt.datetime.now(dt.UTC)
    )
    assert shred["epochs"][0]["state"] == "in_use"
    # The next daily run, 20 hours or more after the first report: disposed, epoch 1's last data key deleted.
    with database.admin() as admin:
        admin.execute("UPDATE vault.unreadable_cards SET first_reported_at = now() - interval '21 hours'")
    capfd.readouterr()
    later = keys.reseal(store=parts.store, cipher=parts.cipher)
    assert (later["unreadable"], later["disposed"], later["data_keys_deleted"], later["more"]) == (1, 1, 1, False)
    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m[keys.DISPOSED_METRIC] for m in emf if keys.DISPOSED_METRIC in m] == [[1.0]]
    assert _one(database, "SELECT count(*) FROM vault.cards WHERE token = %s", POISON) == (0,)
    assert _one(database, "SELECT count(*) FROM vault.unreadable_cards WHERE disposed_at IS NOT NULL") == (1,)
    shred = keys.shred(
        store=parts.store, kms=parts.kms, shred_settings=_shred_settings(epochs), now=dt.datetime.now(dt.UTC)
    )
    assert shred["epochs"][0]["state"] == "waiting"
    assert POISON not in log_lines.getvalue()


def test_every_definer_function_a_login_calls_carries_its_own_memory_limits(database: Database) -> None:
    with database.admin() as admin:
        rows = admin.execute(
            "SELECT p.oid::regprocedure::text, coalesce(p.proconfig, '{}') FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'vault' AND p.prosecdef AND p.prokind = 'f' AND EXISTS (SELECT FROM pg_roles r"
            " WHERE r.rolname = ANY(%s) AND has_function_privilege(r.oid, p.oid, 'EXECUTE'))",
            (list(VAULT_LOGINS),),
        ).fetchall()
    assert len(rows) >= 10
    for name, config in rows:
        assert {"work_mem=4MB", "hash_mem_multiplier=2"} <= set(config), name


def test_the_logins_session_settings_do_not_reach_the_definer_functions(database: Database, aws: Aws) -> None:
    """The login raises its own work_mem and hash_mem_multiplier, then reserves and stores a card: read inside
    the database's own functions (a probe trigger on the tables vault.reserve_tokenizations and
    vault.tokenize_card write), the function's limits apply, not the session's."""
    probe = """
        CREATE TABLE public.r19e_probe (at text, work_mem text, hash_mem text);
        GRANT INSERT ON public.r19e_probe TO PUBLIC;
        CREATE FUNCTION public.r19e_probe() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO public.r19e_probe VALUES (TG_TABLE_NAME, current_setting('work_mem'),
                current_setting('hash_mem_multiplier'));
            RETURN NEW;
        END $$;
        CREATE TRIGGER r19e_probe BEFORE INSERT OR UPDATE ON vault.tokenize_spend
            FOR EACH ROW EXECUTE FUNCTION public.r19e_probe();
        CREATE TRIGGER r19e_probe BEFORE INSERT ON vault.cards FOR EACH ROW EXECUTE FUNCTION public.r19e_probe();
    """
    api = _vault(database, aws, "card_vault_app", key_id=aws.kms_key_arn, epoch=0)
    live = api.tokenize(_request(card_number(rng=random.Random(51))), client_id=CLIENT_ID).view.token
    (data_key,) = _one(database, "SELECT data_key_id FROM vault.cards WHERE token = %s", live)
    with database.admin() as admin:
        admin.execute(probe)
    try:
        with _login(database) as conn:
            conn.execute("SET work_mem = '1GB'")
            conn.execute("SET hash_mem_multiplier = 100")
            conn.execute("SET statement_timeout = 0")
            assert conn.execute("SHOW work_mem").fetchone() == ("1GB",)  # the session's own: the login's to change
            # vault.reserve_tokenizations, then vault.tokenize_card (junk ciphertexts: the probe reads settings only)
            assert _store_raw(conn, data_key_id=data_key, token=POISON, first6="433333", last4="3333")
        seen = _one(
            database,
            "SELECT array_agg(DISTINCT at), array_agg(DISTINCT (work_mem, hash_mem)::text) FROM public.r19e_probe",
        )
        assert sorted(seen[0]) == ["cards", "tokenize_spend"]
        assert seen[1] == ["(4MB,2)"]
    finally:
        with database.admin() as admin:
            admin.execute(
                "DROP TRIGGER IF EXISTS r19e_probe ON vault.tokenize_spend;"
                " DROP TRIGGER IF EXISTS r19e_probe ON vault.cards;"
                " DROP FUNCTION IF EXISTS public.r19e_probe(); DROP TABLE IF EXISTS public.r19e_probe"
            )


@pytest.mark.parametrize("role", VAULT_LOGINS)
def test_no_vault_login_may_create_a_temporary_table(database: Database, role: str) -> None:
    with _login(database, role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE TEMP TABLE r19e_spill AS SELECT g FROM generate_series(1, 10) g")
    # temp_file_limit stays a role default the API login cannot change (a superuser parameter).
    if role == "card_vault_app":
        with _login(database, role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET temp_file_limit = -1")


def test_the_budget_slides_across_a_minute_boundary(database: Database) -> None:
    """The whole budget spent 30 seconds ago (in the previous minute or this one) still counts; spent 61 seconds
    ago it has left the window. The fixed minute of migration 0034 gave it all back at the minute's boundary."""
    configure_clients(database, {CLIENT_ID: 5})

    def reserve(conn: psycopg.Connection[Any], pair: int) -> Any:
        return conn.execute(
            "SELECT granted, refusal, retry_after FROM vault.reserve_tokenizations(%s, %s, %s, %s)",
            (CLIENT_ID, [f"4{pair:05d}"], [f"{pair:04d}"], [secrets.token_bytes(32)]),
        ).fetchone()

    with _login(database) as conn:
        assert reserve(conn, 1)[0] is True
        for ago, granted in ((30, False), (59, False), (60, False), (61, True)):
            with database.admin() as admin:
                admin.execute(
                    "UPDATE vault.tokenize_spend SET seconds = ARRAY[floor(extract(epoch FROM clock_timestamp()))"
                    "::bigint - %s], counts = ARRAY[5] WHERE client_id = %s",
                    (ago, CLIENT_ID),
                )
            answer = reserve(conn, 100 + ago)
            assert answer[0] is granted, ago
            if not granted:
                assert answer[1] == "budget"
                assert 1 <= answer[2] <= 61 - ago + 1
