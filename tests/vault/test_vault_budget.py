"""Red team r19d, the two items task w19j closes (issue 19), attacked as the red team did: as the API's database
login (card_vault_app) straight to the embedded PostgreSQL, and through the handlers in-process.

Finding 4: the per-client tokenize budget bound only the honest client. The login had INSERT and UPDATE on
vault.tokenize_budget and reset its own `used`. Migration 0034 keeps the limits (written by the migration function)
and the spend inside the database, spent by vault.reserve_tokenizations, the reservation every answer needs; post/0035
drops the old table and entry point.

The fail-closed window after a reset of the unlogged counts (migration 0033) raised no alarm. The database now says
why it refused (`refusal`: `reset`), the API counts it in the `SiblingGuardClosed` EMF metric, which the construct
alarms on (tests/test_card_vault.py), and the 429 names no pair.
"""

from __future__ import annotations

import json
import random
import secrets
import sys
from typing import Any

import psycopg
import pytest
from card_vault import api, migrate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import CLIENT_ID, Captured, Database


def _app(database: Database) -> psycopg.Connection[Any]:
    return psycopg.connect(database.role_urls["card_vault_app"], autocommit=True)


def _reserve(conn: psycopg.Connection[Any], hashes: int, first6: str = "400000", last4: str = "0002") -> list[Any]:
    """One reservation of `hashes` distinct keyed hashes of one pair: (granted, refusal, budget_per_minute)."""
    return conn.execute(
        "SELECT granted, refusal, budget_per_minute FROM vault.reserve_tokenizations(%s, %s, %s, %s)",
        (CLIENT_ID, [first6] * hashes, [last4] * hashes, [secrets.token_bytes(32) for _ in range(hashes)]),
    ).fetchall()


def _pair(i: int) -> tuple[str, str]:
    return f"4{i:05d}", f"{i % 10000:04d}"


def test_the_api_login_can_neither_reset_nor_raise_its_tokenize_budget(database: Database) -> None:
    migrate.set_tokenize_limits(database.admin_url, default=600, clients={CLIENT_ID: 5})
    with _app(database) as conn:
        for i in range(5):  # five distinct pairs, one keyed hash each: the budget, not the sibling limit
            first6, last4 = _pair(i)
            assert _reserve(conn, 1, first6, last4) == [(True, None, 5)]
        first6, last4 = _pair(5)
        assert _reserve(conn, 1, first6, last4) == [(False, "budget", 5)]
        # What the red team did (the old table is gone: post/0035), and everything else it might try.
        for statement in (
            "UPDATE vault.tokenize_spend SET used = 0",
            "DELETE FROM vault.tokenize_spend",
            "TRUNCATE vault.tokenize_spend",
            "INSERT INTO vault.tokenize_spend (client_id, window_start, used) VALUES ('payments', now(), 0)",
            "UPDATE vault.tokenize_limits SET per_minute = 1000000",
            "INSERT INTO vault.tokenize_limits (client_id, per_minute) VALUES ('payments', 1000000)",
            "UPDATE vault.tokenize_settings SET default_per_minute = 1000000",
            "SELECT * FROM vault.tokenize_spend",
            "SELECT * FROM vault.reserve_sibling_hashes('payments', ARRAY['499999'], ARRAY['9999'],"
            " ARRAY['\\x01'::bytea])",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        for gone in (
            "UPDATE vault.tokenize_budget SET used = 0",
            "SELECT * FROM vault.reserve_card_hashes('payments', ARRAY['499999'], ARRAY['9999'],"
            " ARRAY['\\x01'::bytea])",
        ):
            with pytest.raises((psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction)):
                conn.execute(gone)
        # Still refused: a batch of the same pair, and another pair.
        assert _reserve(conn, 1, "455555", "5555") == [(False, "budget", 5)]
    with database.admin() as admin:
        used = admin.execute("SELECT used FROM vault.tokenize_spend WHERE client_id = %s", (CLIENT_ID,)).fetchone()
    assert used == (5,)


def test_every_keyed_hash_draws_on_the_budget_all_or_none(database: Database) -> None:
    """A batch draws one unit per keyed hash; one that would pass the budget takes nothing."""
    migrate.set_tokenize_limits(database.admin_url, default=600, clients={CLIENT_ID: 8})
    with _app(database) as conn:
        assert _reserve(conn, 6, "411111", "1111") == [(True, None, 8)]
        assert _reserve(conn, 3, "422222", "2222") == [(False, "budget", 8)]  # 9 > 8: nothing taken
        assert _reserve(conn, 2, "422222", "2222") == [(True, None, 8)]
        assert _reserve(conn, 1, "433333", "3333") == [(False, "budget", 8)]
    # A client ID the configuration does not name gets no budget at all (migration 0036, red team r19e): refused.
    migrate.set_tokenize_limits(database.admin_url, default=3, clients={})
    with _app(database) as conn, pytest.raises(psycopg.DatabaseError) as refused:
        conn.execute(
            "SELECT granted, refusal, budget_per_minute FROM vault.reserve_tokenizations('unnamed', %s, %s, %s)",
            (["400001"] * 4, ["0001"] * 4, [secrets.token_bytes(32) for _ in range(4)]),
        )
    assert refused.value.sqlstate == "CV006"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit=st.integers(min_value=1, max_value=12),
    steps=st.lists(st.one_of(st.integers(min_value=1, max_value=6), st.just("reset")), min_size=1, max_size=12),
)
def test_whatever_the_login_sends_the_database_grants_at_most_the_budget(
    database: Database, limit: int, steps: list[int | str]
) -> None:
    """Hypothesis over sequences of reservations (each of n keyed hashes of a fresh pair) and reset attempts: the
    hashes granted in any 60 seconds never pass the limit (the sliding window of migration 0037, whatever minute
    boundary the sequence crosses), and a reservation is granted exactly when it fits."""
    with database.admin() as admin:
        admin.execute("TRUNCATE vault.tokenize_spend, vault.sibling_counts, vault.sibling_credits")
    migrate.set_tokenize_limits(database.admin_url, default=600, clients={CLIENT_ID: limit})
    granted = 0
    with _app(database) as conn:
        for i, step in enumerate(steps):
            if step == "reset":
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute("UPDATE vault.tokenize_spend SET used = 0")
                continue
            assert isinstance(step, int)
            first6, last4 = _pair(i)
            ((ok, refusal, _),) = _reserve(conn, step, first6, last4)
            assert ok is (granted + step <= limit)
            assert refusal == (None if ok else "budget")
            granted += step if ok else 0
    assert granted <= limit  # the sequence takes well under 60 seconds: one window throughout


def _close_the_guard(database: Database) -> None:
    """A crash, failover or restore, as crash recovery leaves the unlogged tables (see test_vault_r19d)."""
    with database.admin() as admin:
        admin.execute(
            "TRUNCATE vault.sibling_counts, vault.sibling_credits, vault.sibling_sentinel, vault.tokenize_spend"
        )


def _emf(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


@pytest.mark.usefixtures("installed")
def test_a_refusal_after_a_reset_is_counted_and_says_nothing_about_any_card(
    database: Database, captured: Captured, capfd: pytest.CaptureFixture[str]
) -> None:
    stored = card_number(rng=random.Random(901))
    assert call(captured, "POST", "/v1/cards", card_body(stored))["statusCode"] == 201
    capfd.readouterr()
    _close_the_guard(database)
    fresh = card_number(rng=random.Random(902))
    answers = [call(captured, "POST", "/v1/cards", card_body(pan)) for pan in (stored, fresh, stored)]
    batch = call(captured, "POST", "/v1/cards/batch", {"cards": [card_body(stored), card_body(fresh)]})
    out, err = capfd.readouterr()
    for response in [*answers, batch]:
        assert response["statusCode"] == 429
        assert payload(response)["error"] == "tokenization paused"
    # The same answer for a stored card, a new one and a batch: the body and Retry-After differ at most by the
    # seconds elapsed between the calls.
    bodies = {payload(r)["reason"].rsplit(" ", 2)[0] for r in [*answers, batch]}
    assert bodies == {"the vault is not tokenizing for now; retry after"}
    seconds = {int(r["multiValueHeaders"]["Retry-After"][0]) for r in [*answers, batch]}
    assert max(seconds) - min(seconds) <= 2
    assert all(3500 <= s <= 3600 for s in seconds)
    for response in [*answers, batch]:
        text = response["body"]
        assert stored[:6] not in text
        assert stored[-4:] not in text
        assert fresh[:6] not in text
        assert fresh[-4:] not in text
    metrics = [m for m in _emf(out) if api.GUARD_CLOSED_METRIC in m]
    assert [m[api.GUARD_CLOSED_METRIC] for m in metrics] == [[1.0]] * 4  # one per refused request
    (definition,) = metrics[0]["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == api.METRIC_NAMESPACE
    assert definition["Dimensions"] == [["service"]]
    # An ordinary refusal is not counted as one: the guard open again, the budget spent.
    with database.admin() as admin:
        admin.execute("UPDATE vault.sibling_guard SET closed_until = now() - interval '1 second'")
    migrate.set_tokenize_limits(database.admin_url, default=600, clients={CLIENT_ID: 1})
    assert call(captured, "POST", "/v1/cards", card_body(fresh))["statusCode"] == 201
    limited = call(captured, "POST", "/v1/cards", card_body(card_number(rng=random.Random(903))))
    later, later_err = capfd.readouterr()
    print(out + later, end="")  # printed again: the suite's PAN guard reads them
    print(err + later_err, end="", file=sys.stderr)
    assert limited["statusCode"] == 429
    assert payload(limited)["error"] == "rate limit exceeded"
    assert "1 cards per minute" in payload(limited)["reason"]
    assert not [m for m in _emf(later) if api.GUARD_CLOSED_METRIC in m]


def test_the_migration_function_reads_the_configured_budgets_and_refuses_bad_ones() -> None:
    assert migrate.tokenize_limits_from({}) == (migrate.DEFAULT_TOKENIZE_PER_MINUTE, {})
    raw = json.dumps({"default": 20, "clients": {"payments": 600, "refunds": 30}})
    assert migrate.tokenize_limits_from({"VAULT_TOKENIZE_LIMITS": raw}) == (20, {"payments": 600, "refunds": 30})
    for bad in (
        "x",
        "[]",
        json.dumps({"default": 0}),
        json.dumps({"default": True}),
        json.dumps({"clients": {"Payments": 5}}),
        json.dumps({"clients": {"payments": 2_000_001}}),
        json.dumps({"clients": []}),
        json.dumps({"other": 1}),
    ):
        with pytest.raises(ValueError, match="VAULT_TOKENIZE_LIMITS"):
            migrate.tokenize_limits_from({"VAULT_TOKENIZE_LIMITS": bad})


def test_the_migration_function_writes_exactly_the_configured_clients(database: Database) -> None:
    migrate.set_tokenize_limits(database.admin_url, default=50, clients={"payments": 7, "refunds": 9})
    migrate.set_tokenize_limits(database.admin_url, default=40, clients={"payments": 8})
    with database.admin() as admin:
        rows = admin.execute("SELECT client_id, per_minute FROM vault.tokenize_limits ORDER BY 1").fetchall()
        default = admin.execute("SELECT default_per_minute FROM vault.tokenize_settings").fetchone()
    assert rows == [("payments", 8)]
    assert default == (40,)
