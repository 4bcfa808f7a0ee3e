"""Expand / contract across a deploy (issue 19): the pre-deploy migrations keep the previous release's code
working, and only the post-deploy ones (`migrations/post/`, run after every function is updated) take away
what that code needed. Against a real PostgreSQL: a database of its own, migrated in the two phases."""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from card_vault import migrate
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.vault.conftest import CONFIGURED_CLIENTS, Database, _as_url

# What the release before migration 0012 ran, statement for statement (lambda/card_vault/store.py then).
OLD_INSERT_CARD = """
    INSERT INTO vault.cards AS c (client_id, token, pan_hmac, hmac_key_version, format_version, data_key_id,
        pan_ciphertext, name_ciphertext, brand, first6, last4, expiry_month, expiry_year)
    VALUES (%(client_id)s, %(token)s, %(pan_hmac)s, 1, 1, %(data_key_id)s, %(pan)s, %(name)s, 'visa', '411111',
        '1111', 12, 2031)
    ON CONFLICT (client_id, pan_hmac) DO UPDATE
        SET expiry_year = EXCLUDED.expiry_year, expiry_month = EXCLUDED.expiry_month
        WHERE (EXCLUDED.expiry_year, EXCLUDED.expiry_month) > (c.expiry_year, c.expiry_month)
    RETURNING token, brand, first6, last4, expiry_month, expiry_year
"""
OLD_FIND_BY_HASH = (
    "SELECT token, brand, first6, last4, expiry_month, expiry_year FROM vault.cards"
    " WHERE client_id = %s AND hmac_key_version = %s AND pan_hmac = %s"
)
OLD_REMEMBER_KEY = """
    INSERT INTO vault.idempotency_keys AS k (client_id, key_hash, request_hash, status, response, expires_at)
    VALUES (%(client)s, %(key)s, %(req)s, 201, %(response)s, now() + interval '1 day')
    ON CONFLICT (client_id, key_hash) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, status = EXCLUDED.status,
            response = EXCLUDED.response, created_at = now(), expires_at = EXCLUDED.expires_at
        WHERE k.expires_at <= now()
    RETURNING 1
"""
OLD_SEALED_PAN = "SELECT format_version, data_key_id, pan_ciphertext FROM vault.cards WHERE token = %s"
OLD_AUDIT = (
    "INSERT INTO vault.detokenize_audit (token, reason_code, ticket, request_id, outcome)"
    " VALUES (%s, 'refund', 'TEST-1', 'old-code', 'returned')"
)
# A statement that takes away what running code may use: only in migrations/post/.
CONTRACTING = re.compile(
    r"\bREVOKE\b(?![^;]*\bFROM\s+PUBLIC\s*;)|\bDROP\s+(TABLE|COLUMN|CONSTRAINT|FUNCTION|INDEX|VIEW|ROLE|SCHEMA|DEFAULT)\b"
    r"|\bSET\s+NOT\s+NULL\b|\bRENAME\b",
    re.IGNORECASE,
)
# Applied before the two phases existed, each taking away what the code of its day no longer used.
BEFORE_PHASES = {"0004_client_domains.sql"}


@pytest.fixture
def staged(database: Database) -> Iterator[dict[str, str]]:
    """A new database with only the pre-deploy migrations applied; the vault's logins (cluster-wide roles,
    passwords set by the session) connect to it."""
    name = f"vault_phases_{secrets.token_hex(4)}"
    with database.admin() as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    params = {**conninfo_to_dict(database.admin_url), "dbname": name}
    urls = {"admin": make_conninfo("", **params), "yoyo": _as_url(params)}
    for role, url in database.role_urls.items():
        urls[role] = make_conninfo("", **{**conninfo_to_dict(url), "dbname": name})
    assert migrate.apply_migrations(urls["yoyo"], "pre")
    # The configured clients, as the migration function writes them at every run (migration 0036 refuses others).
    migrate.set_tokenize_limits(urls["admin"], default=600, clients=dict.fromkeys(CONFIGURED_CLIENTS, 600))
    yield urls
    with database.admin() as conn:
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name)))


def _old_code_tokenizes(url: str) -> str:
    """The previous release's tokenize with an Idempotency-Key, as card_vault_app; returns the token."""
    pan_hmac, key_id = os.urandom(32), uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO vault.data_keys (id, wrapped_key, kms_key_arn) VALUES (%s, %s, %s)",
            (key_id, os.urandom(40), "arn:aws:kms:eu-west-1:111111111111:key/test"),
        )
        token = "tok_" + secrets.token_urlsafe(24)
        with conn.transaction():
            row = conn.execute(
                OLD_INSERT_CARD,
                {
                    "client_id": "payments",
                    "token": token,
                    "pan_hmac": pan_hmac,
                    "data_key_id": key_id,
                    "pan": os.urandom(44),
                    "name": os.urandom(40),
                },
            ).fetchone()
            assert row is not None
            assert row[0] == token
            remembered = conn.execute(
                OLD_REMEMBER_KEY,
                {
                    "client": "payments",
                    "key": os.urandom(32),
                    "req": os.urandom(32),
                    "response": f'{{"token": "{token}"}}',
                },
            ).fetchone()
            assert remembered == (1,)
        found = conn.execute(OLD_FIND_BY_HASH, ("payments", 1, pan_hmac)).fetchone()
        assert found is not None
        assert found[0] == token
    return token


def _old_code_detokenizes(url: str, token: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute(OLD_SEALED_PAN, (token,)).fetchone() is not None
        conn.execute(OLD_AUDIT, (token,))


def test_the_previous_code_works_between_the_pre_and_post_deploy_migrations(
    staged: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _old_code_tokenizes(staged["card_vault_app"])
    _old_code_detokenizes(staged["card_vault_detokenize"], token)
    # The new code's path is there already (the functions are updated after the pre-deploy phase).
    with psycopg.connect(staged["card_vault_app"], autocommit=True) as conn:
        assert conn.execute(
            "SELECT has_function_privilege('vault.tokenize_card(text, text, bytea, smallint,"
            " smallint, uuid, bytea, bytea, text, text, text, smallint, smallint, smallint[], bytea[])', 'EXECUTE')"
        ).fetchone() == (True,)

    slept: list[float] = []
    monkeypatch.setattr("card_vault.migrate.time.sleep", slept.append)
    applied = migrate.apply_migrations(staged["yoyo"], "post", drain_seconds=10)
    assert applied == sorted(p.stem for p in migrate.POST_MIGRATIONS.glob("*.sql"))
    assert slept == [10]  # requests the previous code began are waited out first
    assert migrate.apply_migrations(staged["yoyo"], "post", drain_seconds=10) == []
    assert slept == [10]  # nothing pending: no wait

    # Contracted: the previous code's statements are refused now, and its idempotency key names its card.
    # (post/0024 dropped the number-wide unique constraint its ON CONFLICT names: refused before planning.)
    with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.InvalidColumnReference)):
        _old_code_tokenizes(staged["card_vault_app"])
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _old_code_detokenizes(staged["card_vault_detokenize"], token)
    with psycopg.connect(staged["admin"], autocommit=True) as conn:
        assert conn.execute("SELECT token FROM vault.idempotency_keys").fetchall() == [(token,)]
        nullable = conn.execute(
            "SELECT is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'vault' AND table_name = 'idempotency_keys' AND column_name = 'token'"
        ).fetchone()
        assert nullable == ("NO",)


# The release before migration 0027 (store.py then): an unbound reservation, then the store.
OLD_RESERVE = "SELECT granted FROM vault.reserve_siblings('payments', ARRAY['411111'], ARRAY['1111'], ARRAY[1])"
STORE_ARGS = (
    "('payments', %s, %s, 1::smallint, 1::smallint, %s, '\\x00'::bytea, '\\x00'::bytea, 'visa', '411111', '1111',"
    " 12::smallint, 2035::smallint, ARRAY[]::smallint[], ARRAY[]::bytea[])"
)


def test_the_previous_store_path_works_until_the_contract_of_0027(staged: dict[str, str]) -> None:
    """Migration 0027's window: the previous release's reservation and vault.store_card still answer (its
    unbound credits; H1 stays open through them, as 0027's header says), the new functions answer only for a
    hash reserved, neither kind of credit pays for the other's call, and post/0028 drops the old ones."""
    key_id = uuid.uuid4()
    tokens = {name: "tok_" + secrets.token_urlsafe(24) for name in ("tok_new0", "tok_old1", "tok_new1", "tok_old2")}
    with psycopg.connect(staged["card_vault_app"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO vault.data_keys (id, wrapped_key, kms_key_arn) VALUES (%s, %s, %s)",
            (key_id, os.urandom(40), "arn:aws:kms:eu-west-1:111111111111:key/test"),
        )
        old_mac, new_mac = os.urandom(32), os.urandom(32)
        assert conn.execute(OLD_RESERVE).fetchone() == (True,)
        with pytest.raises(psycopg.DatabaseError) as unbound:  # an unbound credit pays for no new call
            conn.execute("SELECT token FROM vault.tokenize_card" + STORE_ARGS, (tokens["tok_new0"], old_mac, key_id))
        assert getattr(unbound.value, "sqlstate", None) == "CV001"
        token = "tok_" + secrets.token_urlsafe(24)
        row = conn.execute("SELECT token FROM vault.store_card" + STORE_ARGS, (token, old_mac, key_id)).fetchone()
        assert row == (token,)
        conn.execute(
            "SELECT granted FROM vault.reserve_card_hashes('payments', ARRAY['411111'], ARRAY['1111'], %s::bytea[])",
            ([new_mac],),
        )
        with pytest.raises(psycopg.DatabaseError) as bound:  # a bound credit pays for no old call
            conn.execute("SELECT token FROM vault.store_card" + STORE_ARGS, (tokens["tok_old1"], new_mac, key_id))
        assert getattr(bound.value, "sqlstate", None) == "CV001"
        row = conn.execute(
            "SELECT token FROM vault.tokenize_card" + STORE_ARGS, (tokens["tok_new1"], new_mac, key_id)
        ).fetchone()
        assert row == (tokens["tok_new1"],)
    migrate.apply_migrations(staged["yoyo"], "post")
    with psycopg.connect(staged["card_vault_app"], autocommit=True) as conn:
        for old in (OLD_RESERVE, "SELECT token FROM vault.store_card" + STORE_ARGS):
            with pytest.raises(psycopg.errors.UndefinedFunction):
                conn.execute(old, (tokens["tok_old2"], old_mac, key_id) if "%s" in old else None)


def test_the_pre_deploy_phase_leaves_the_post_deploy_migrations_pending(staged: dict[str, str]) -> None:
    assert migrate.apply_migrations(staged["yoyo"], "pre") == []
    assert migrate.apply_migrations(staged["yoyo"], "post") != []


def test_no_pre_deploy_migration_takes_away_what_running_code_uses() -> None:
    """The kind: a revoke (but from PUBLIC, of what the migration itself creates), a drop, NOT NULL or a
    rename belongs in migrations/post/, never in a migration the previous code runs against."""
    offending = {}
    for path in sorted(migrate.MIGRATIONS.glob("*.sql")):
        if path.name in BEFORE_PHASES:
            continue
        sql = "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())
        found = [m.group(0) for m in CONTRACTING.finditer(sql)]
        if found:
            offending[path.name] = found
    assert offending == {}


def test_the_contract_pattern_catches_what_it_must() -> None:
    for statement in (
        "REVOKE INSERT ON vault.cards FROM card_vault_app;",
        "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
        "ALTER TABLE t DROP COLUMN c;",
        "ALTER TABLE t RENAME COLUMN a TO b;",
    ):
        assert CONTRACTING.search(statement), statement
    assert not CONTRACTING.search("REVOKE ALL ON FUNCTION vault.f(text) FROM PUBLIC;")


def test_no_pre_deploy_migration_depends_on_a_post_deploy_one() -> None:
    """A fresh install applies every pre-deploy migration before any post-deploy one."""
    post = {p.stem for p in migrate.POST_MIGRATIONS.glob("*.sql")}
    for path in migrate.MIGRATIONS.glob("*.sql"):
        depends = re.findall(r"^-- depends:(.*)$", path.read_text(), re.MULTILINE)
        assert not post & {d for line in depends for d in line.split()}, path.name


@pytest.mark.parametrize(
    ("arn", "phase"),
    [
        ("arn:aws:lambda:eu-west-1:111111111111:function:PciLz-Migrate:post", "post"),
        ("arn:aws:lambda:eu-west-1:111111111111:function:PciLz-Migrate:7", "pre"),
        ("arn:aws:lambda:eu-west-1:111111111111:function:PciLz-post", "pre"),
        ("", "pre"),
    ],
)
def test_the_phase_is_read_from_the_invoked_qualifier(arn: str, phase: str) -> None:
    assert migrate.phase_of(arn) == phase


def test_post_migrations_ship_in_the_function_package() -> None:
    assert Path(migrate.__file__).resolve().parent / "migrations" / "post" == migrate.POST_MIGRATIONS
    assert list(migrate.POST_MIGRATIONS.glob("*.sql")), "no post-deploy migration"


# The release before migration 0034 (store.py then): its own budget statement, then the seven-column reservation.
OLD_TAKE_BUDGET = (
    "INSERT INTO vault.tokenize_budget AS b (client_id, window_start, used) VALUES ('payments', now(), 1)"
    " ON CONFLICT (client_id) DO UPDATE SET used = b.used + 1 RETURNING used"
)
OLD_RESERVE_HASHES = (
    "SELECT first6, last4, granted, earlier, retry_after, max_siblings, window_seconds"
    " FROM vault.reserve_card_hashes('payments', ARRAY['411111'], ARRAY['1111'], %s::bytea[])"
)


def test_the_previous_budget_path_works_until_the_contract_of_0034(staged: dict[str, str]) -> None:
    """Migration 0034's window (red team r19d finding 4): the previous release's budget statement and its
    seven-column vault.reserve_card_hashes still work, the latter drawing on the database's budget as the new
    vault.reserve_tokenizations does (so neither name is a way around it); post/0035 takes both away."""
    migrate.set_tokenize_limits(staged["admin"], default=600, clients={"payments": 2})
    with psycopg.connect(staged["card_vault_app"], autocommit=True) as conn:
        assert conn.execute(OLD_TAKE_BUDGET).fetchone() == (1,)
        row = conn.execute(OLD_RESERVE_HASHES, ([os.urandom(32)],)).fetchone()
        assert row is not None
        assert row[2] is True
        new = conn.execute(
            "SELECT granted, refusal FROM vault.reserve_tokenizations('payments', ARRAY['422222'], ARRAY['2222'],"
            " %s::bytea[])",
            ([os.urandom(32)],),
        ).fetchone()
        assert new == (True, None)
        # The budget of 2 is spent across both names: the old one refuses the third as the new one would.
        row = conn.execute(OLD_RESERVE_HASHES, ([os.urandom(32)],)).fetchone()
        assert row is not None
        assert row[2] is False
    migrate.apply_migrations(staged["yoyo"], "post")
    with psycopg.connect(staged["card_vault_app"], autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute(OLD_TAKE_BUDGET)
        with pytest.raises(psycopg.errors.UndefinedFunction):
            conn.execute(OLD_RESERVE_HASHES, ([os.urandom(32)],))
