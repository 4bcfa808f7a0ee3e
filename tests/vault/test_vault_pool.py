"""The vault's connection pool: a connection is checked before use only after sitting idle, and a
connection broken while idle (a frozen Lambda environment, a proxy or server restart) is replaced."""

from __future__ import annotations

import pytest
from card_vault import store
from card_vault.models import TokenizeRequest
from card_vault.vault import Vault
from psycopg_pool import ConnectionPool

from tests.vault.cards import card_body
from tests.vault.conftest import CLIENT_ID, Aws, Database, make_vault


def _tokenize_new(vault: Vault) -> bool:
    return vault.tokenize(TokenizeRequest.model_validate(card_body()), client_id=CLIENT_ID).created


def test_a_connection_is_checked_only_after_sitting_idle(
    database: Database, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[object] = []
    original = ConnectionPool.check_connection

    def counted(conn: object) -> None:
        checks.append(conn)
        original(conn)  # type: ignore[type-var]

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    monkeypatch.setattr(store, "IDLE_CHECK_SECONDS", 3600.0)
    vault = make_vault(database, aws, pool_size=1)
    assert _tokenize_new(vault)
    first = len(checks)  # a connection never used before is checked
    assert first >= 1
    assert _tokenize_new(vault)
    assert _tokenize_new(vault)
    assert len(checks) == first  # back to back: no extra round trip
    monkeypatch.setattr(store, "IDLE_CHECK_SECONDS", 0.0)
    assert _tokenize_new(vault)
    assert len(checks) > first


def test_a_connection_broken_while_idle_is_replaced(
    database: Database, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = make_vault(database, aws, pool_size=1)
    assert _tokenize_new(vault)
    with database.admin() as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE usename = 'card_vault_app' AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed is not None
    assert killed[0] >= 1
    monkeypatch.setattr(store, "IDLE_CHECK_SECONDS", 0.0)  # as after a thaw: idle long enough to be checked
    assert _tokenize_new(vault)
