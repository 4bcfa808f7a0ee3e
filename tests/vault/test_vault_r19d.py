"""Red team r19d (issue 19, task w19i), run as the attacker it models: the API's database login (card_vault_app)
straight to the embedded PostgreSQL, against the shred-epoch fixes of migrations 0025 and 0029 (moto's KMS).

Finding 1 (HIGH): the login stored a card with junk ciphertext under an old epoch's data key; every re-seal then
raised, no live card was resealed, the old epoch's data keys were never deleted and its key never shredded.
Migration 0031 refuses a data key of another epoch than the current one on every card write, and the re-seal
skips and counts a card it cannot open and goes on.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import secrets
import uuid
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from card_vault import keys, migrate
from card_vault.envelope import DATA_KEY_CONTEXT
from card_vault.logs import DatabaseFailureError, without_database_detail

from tests.vault.api_calls import call
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import CLIENT_ID, Aws, Database, trace_texts
from tests.vault.test_vault_shred import _epoch_key, _one, _request, _shred_settings, _vault

POISON = "tok_" + "P" * 32


def _app(database: Database) -> psycopg.Connection[Any]:
    return psycopg.connect(database.role_urls["card_vault_app"], autocommit=True)


def _store_raw(
    conn: psycopg.Connection[Any], *, data_key_id: object, token: str, first6: str = "411111", last4: str = "1111"
) -> list[Any]:
    """The red team's statements: one hash-bound credit reserved, then vault.tokenize_card with junk ciphertexts
    under `data_key_id` (any data key whose id the login has seen)."""
    pan_hmac = secrets.token_bytes(32)
    conn.execute(
        "SELECT * FROM vault.reserve_tokenizations(%s, %s, %s, %s)", (CLIENT_ID, [first6], [last4], [pan_hmac])
    )
    return conn.execute(
        "SELECT * FROM vault.tokenize_card(%s, %s, %s, 1::smallint, 1::smallint, %s, %s, %s, 'visa', %s, %s,"
        " 1::smallint, 2030::smallint, ARRAY[]::smallint[], ARRAY[]::bytea[])",
        (CLIENT_ID, token, pan_hmac, data_key_id, b"junk" * 10, b"junk-name" * 5, first6, last4),
    ).fetchall()


def test_a_planted_card_no_longer_blocks_reseal_or_shred(
    database: Database, aws: Aws, capfd: pytest.CaptureFixture[str], log_lines: io.StringIO
) -> None:
    epochs = {1: _epoch_key(aws, 1), 2: _epoch_key(aws, 2)}
    api = _vault(database, aws, "card_vault_app", key_id=epochs[1], epoch=1)
    live = [
        api.tokenize(_request(card_number(rng=random.Random(seed))), client_id=CLIENT_ID).view.token for seed in (7, 8)
    ]
    (data_key,) = _one(database, "SELECT data_key_id FROM vault.cards WHERE token = %s", live[0])
    with _app(database) as conn:  # planted while epoch 1 is current: its data key is of the current epoch
        assert _store_raw(conn, data_key_id=data_key, token=POISON)
    job = _vault(database, aws, "card_vault_keys", key_id=epochs[2], epoch=2)
    parts = job.parts()
    capfd.readouterr()
    answer = keys.reseal(store=parts.store, cipher=parts.cipher)
    assert answer | {"data_keys_deleted": None} == {
        "job": "reseal",
        "epoch": 2,
        "resealed": 2,
        "changed": 0,
        "unreadable": 1,
        "disposed": 0,
        "seen": 3,
        "data_keys_deleted": None,
        "more": False,
        "dry_run": False,
    }
    out = capfd.readouterr().out
    # The EMF metric the alarm watches, and one warning naming the token's fingerprint, never the token.
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert [m[keys.UNREADABLE_METRIC] for m in emf if keys.UNREADABLE_METRIC in m] == [[1.0]]
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == keys.METRIC_NAMESPACE
    logged = log_lines.getvalue()
    assert keys.token_fingerprint(POISON) in logged
    assert '"event":"reseal_unreadable"' in logged.replace(" ", "")
    assert POISON not in out + logged
    assert "junk" not in out + logged
    for token in live:  # every live card moved to epoch 2 and still detokenizes
        assert _one(database, "SELECT shred_epoch FROM vault.cards WHERE token = %s", token) == (2,)
    # The planted card keeps epoch 1 (and its data key) in use: shred says so, correctly, and nothing is due.
    shred = keys.shred(
        store=parts.store, kms=parts.kms, shred_settings=_shred_settings(epochs), now=dt.datetime.now(dt.UTC)
    )
    assert shred["epochs"][0] == {"epoch": 1, "cards": 1, "data_keys": 1, "state": "in_use"}
    # Once it is disposed of, the next run deletes epoch 1's last data key and epoch 1 waits out the retention.
    api.dispose(POISON, client_id=CLIENT_ID)  # the client (or an operator) disposes of it
    assert _one(database, "SELECT count(*) FROM vault.cards WHERE token = %s", POISON) == (0,)
    again = keys.reseal(store=parts.store, cipher=parts.cipher)
    assert (again["unreadable"], again["data_keys_deleted"], again["more"]) == (0, 1, False)
    shred = keys.shred(
        store=parts.store, kms=parts.kms, shred_settings=_shred_settings(epochs), now=dt.datetime.now(dt.UTC)
    )
    assert shred["epochs"][0]["state"] == "waiting"


def test_no_card_is_written_under_an_old_epochs_data_key(database: Database, aws: Aws) -> None:
    epochs = {1: _epoch_key(aws, 1), 2: _epoch_key(aws, 2)}
    api1 = _vault(database, aws, "card_vault_app", key_id=epochs[1], epoch=1)
    old = api1.tokenize(_request(card_number(rng=random.Random(18))), client_id=CLIENT_ID).view.token
    (old_key,) = _one(database, "SELECT data_key_id FROM vault.cards WHERE token = %s", old)
    # Epoch 2 is current (the configuration deployed); the login still holds the epoch-1 data key's id.
    api2 = _vault(database, aws, "card_vault_app", key_id=epochs[2], epoch=2)
    fresh = api2.tokenize(_request(card_number(rng=random.Random(19))), client_id=CLIENT_ID).view.token
    with _app(database) as conn:
        # A junk name sealed "under" the epoch-1 key on a card of the current epoch: refused, nothing written.
        with pytest.raises(psycopg.DatabaseError) as refused:
            conn.execute(
                "SELECT * FROM vault.update_card(%s, %s, NULL, NULL, %s, %s)", (CLIENT_ID, fresh, b"junk", old_key)
            )
        assert refused.value.sqlstate == "CV004"
        # A new card under the old epoch's data key: refused.
        with pytest.raises(psycopg.DatabaseError) as refused:
            _store_raw(conn, data_key_id=old_key, token="tok_" + "B" * 32, first6="522222", last4="2222")
        assert refused.value.sqlstate == "CV004"
    assert _one(database, "SELECT count(*) FROM vault.cards WHERE token = %s", "tok_" + "B" * 32) == (0,)
    assert _one(database, "SELECT name_data_key_id IS NULL FROM vault.cards WHERE token = %s", fresh) == (True,)
    # The old card, still in epoch 1 awaiting its re-seal, may have its expiry changed (its data key is kept).
    with _app(database) as conn:
        assert conn.execute(
            "SELECT expiry_year FROM vault.update_card(%s, %s, 12::smallint, 2031::smallint, NULL, NULL)",
            (CLIENT_ID, old),
        ).fetchone() == (2031,)
    # And the Keys job has nothing it cannot open: both cards are read and the old one resealed.
    parts = _vault(database, aws, "card_vault_keys", key_id=epochs[2], epoch=2).parts()
    answer = keys.reseal(store=parts.store, cipher=parts.cipher)
    assert (answer["resealed"], answer["unreadable"], answer["data_keys_deleted"]) == (1, 0, 1)


class PinnedKeyKms:
    """moto's KMS client, answering a Decrypt whose `KeyId` is not the key that wrapped the ciphertext as KMS does.

    "Decrypt" (AWS KMS API Reference): "If you specify a different KMS key, the Decrypt operation fails", with
    IncorrectKeyException ("the specified KMS key cannot decrypt the data"); moto 5 answers AccessDeniedException.
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def decrypt(self, **kwargs: Any) -> Any:
        pinned = kwargs.pop("KeyId", None)
        answer = self._client.decrypt(**kwargs)
        if pinned is not None and answer["KeyId"] != self._client.describe_key(KeyId=pinned)["KeyMetadata"]["Arn"]:
            error = {"Code": "IncorrectKeyException", "Message": "the specified KMS key cannot decrypt the data"}
            raise ClientError({"Error": error}, "Decrypt")
        return answer


def test_a_data_key_made_under_another_kms_key_is_quarantined_and_takes_no_card(
    database: Database, aws: Aws, capfd: pytest.CaptureFixture[str]
) -> None:
    """Finding 2: vault.save_data_key compares only the ARN its caller names. The API login records a data key
    made under a KMS key of its own with the configured ARN named; the Keys job's `verify` decrypts it with that
    ARN pinned, KMS refuses, the key is quarantined (alarmed) and no card can be stored under it any more."""
    configured = _epoch_key(aws, 1)
    migrate.set_data_key_epoch(database.admin_url, epoch=1, kms_key_arn=configured)
    kms = aws.session.client("kms")
    foreign = kms.create_key(Description="attacker key")["KeyMetadata"]["Arn"]
    blob = kms.generate_data_key(KeyId=foreign, KeySpec="AES_256", EncryptionContext=DATA_KEY_CONTEXT)
    honest = kms.generate_data_key(KeyId=configured, KeySpec="AES_256", EncryptionContext=DATA_KEY_CONTEXT)
    lying, true = uuid.uuid4(), uuid.uuid4()
    with _app(database) as conn:
        with pytest.raises(psycopg.DatabaseError) as refused:  # naming the foreign key is refused (0029)
            conn.execute("SELECT vault.save_data_key(%s, %s, %s)", (uuid.uuid4(), blob["CiphertextBlob"], foreign))
        assert refused.value.sqlstate == "CV003"
        # Naming the configured key for it is not, in the database: it cannot ask KMS.
        conn.execute("SELECT vault.save_data_key(%s, %s, %s)", (lying, blob["CiphertextBlob"], configured))
        conn.execute("SELECT vault.save_data_key(%s, %s, %s)", (true, honest["CiphertextBlob"], configured))
        assert _store_raw(conn, data_key_id=lying, token="tok_" + "C" * 32)  # before verification: accepted
    job = _vault(database, aws, "card_vault_keys", key_id=configured, epoch=1)
    store = job.parts().store
    capfd.readouterr()
    answer = keys.verify(store=store, kms=PinnedKeyKms(kms), key_ids=[aws.kms_key_arn, configured])
    assert answer == {"job": "verify", "verified": 1, "quarantined": 1, "seen": 2, "more": False, "dry_run": False}
    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m[keys.QUARANTINED_METRIC] for m in emf] == [[1.0]]
    assert _one(
        database, "SELECT quarantined_at IS NOT NULL, verified_at IS NULL FROM vault.data_keys WHERE id = %s", lying
    ) == (True, True)
    assert _one(
        database, "SELECT quarantined_at IS NULL, verified_at IS NOT NULL FROM vault.data_keys WHERE id = %s", true
    ) == (True, True)
    with _app(database) as conn, pytest.raises(psycopg.DatabaseError) as refused:
        _store_raw(conn, data_key_id=lying, token="tok_" + "D" * 32, first6="522222", last4="2222")
    assert refused.value.sqlstate == "CV005"
    # A second run has nothing left to verify (each data key is decrypted once).
    again = keys.verify(store=store, kms=PinnedKeyKms(kms), key_ids=[aws.kms_key_arn, configured])
    assert (again["seen"], again["quarantined"]) == (0, 0)
    # A data key recorded under a key that is not the vault's at all is quarantined without a KMS call.
    migrate.set_data_key_epoch(database.admin_url, epoch=1, kms_key_arn=None)
    stray = uuid.uuid4()
    with _app(database) as conn:
        conn.execute("SELECT vault.save_data_key(%s, %s, %s)", (stray, blob["CiphertextBlob"], foreign))
    assert keys.verify(store=store, kms=PinnedKeyKms(kms), key_ids=[configured])["quarantined"] == 1


def _reserve(conn: psycopg.Connection[Any], hashes: list[bytes], first6: str = "400000", last4: str = "0002") -> Any:
    return conn.execute(
        "SELECT granted, retry_after FROM vault.reserve_tokenizations(%s, %s, %s, %s)",
        (CLIENT_ID, [first6] * len(hashes), [last4] * len(hashes), hashes),
    ).fetchall()


def test_a_reset_of_the_unlogged_counts_closes_reservations_for_one_window(database: Database) -> None:
    """Finding 3: one backend of the API login killed (OOM) makes PostgreSQL restart its backends and empty every
    UNLOGGED table, sibling_counts and sibling_credits with them: a fresh budget for every pair. Simulated here,
    not by a restart of the shared embedded server (every other test's pool would break): the admin empties the
    unlogged tables, as crash recovery does (each is reset to its empty init fork)."""
    with _app(database) as conn:
        assert _reserve(conn, [secrets.token_bytes(32) for _ in range(10)]) == [(True, pytest.approx(3600, abs=5))]
        assert _reserve(conn, [secrets.token_bytes(32)])[0][0] is False  # the pair's window is full
    with database.admin() as admin:
        admin.execute("TRUNCATE vault.sibling_counts, vault.sibling_credits, vault.sibling_sentinel")
    with _app(database) as conn:
        # The reset is seen: every pair refused for one window (the API answers 429 with Retry-After).
        ((granted, retry_after),) = _reserve(conn, [secrets.token_bytes(32) for _ in range(10)])
        assert granted is False
        assert 3590 <= retry_after <= 3600
        assert _reserve(conn, [secrets.token_bytes(32)], first6="522222", last4="2222")[0][0] is False
    assert _one(database, "SELECT count(*) FROM vault.sibling_sentinel") == (1,)
    with database.admin() as admin:  # a window later it opens again
        admin.execute("UPDATE vault.sibling_guard SET closed_until = now() - interval '1 second'")
    with _app(database) as conn:
        assert _reserve(conn, [secrets.token_bytes(32)])[0][0] is True
        # The login can neither re-open the guard nor put the sentinel back itself.
        for statement in (
            "UPDATE vault.sibling_guard SET closed_until = '-infinity'",
            "INSERT INTO vault.sibling_sentinel (singleton) VALUES (true)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_api_login_is_bounded_and_cannot_lift_its_bounds(database: Database) -> None:
    """Finding 3: no statement_timeout, work_mem, temp_file_limit or connection limit bounded the login that could
    take the server down. Set per role (migration 0033) and, for the connection limit, by the migration function."""
    migrate.set_api_connection_limit(
        database.admin_url, migrate.api_connection_limit_from({"VAULT_API_CONNECTION_LIMIT": "40"})
    )
    with _app(database) as conn:
        assert conn.execute(
            "SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout'),"
            " current_setting('work_mem'), current_setting('temp_file_limit')"
        ).fetchone() == ("10s", "10s", "4MB", "256MB")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET temp_file_limit = -1")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(11)")
    assert _one(database, "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'card_vault_app'") == (40,)
    assert migrate.api_connection_limit_from({}) == -1
    for bad in ("x", "0", "10001"):
        with pytest.raises(ValueError, match="VAULT_API_CONNECTION_LIMIT"):
            migrate.api_connection_limit_from({"VAULT_API_CONNECTION_LIMIT": bad})
    migrate.set_api_connection_limit(database.admin_url, -1)


def _check_violation(database: Database) -> None:
    """The red team's a_detail.py, as the API login: a card whose expiry year breaks the table's CHECK. PostgreSQL's
    DETAIL then prints the failing row: the keyed hash's bytes beside first six and last four."""
    with _app(database) as conn:
        key_id = uuid.uuid4()
        conn.execute("SELECT vault.save_data_key(%s, %s, %s)", (key_id, secrets.token_bytes(40), "arn:test"))
        pan_hmac = secrets.token_bytes(32)
        conn.execute(
            "SELECT * FROM vault.reserve_tokenizations(%s, %s, %s, %s)", (CLIENT_ID, ["400000"], ["0009"], [pan_hmac])
        )
        conn.execute(
            "SELECT * FROM vault.tokenize_card(%s, %s, %s, 1::smallint, 1::smallint, %s, 'CIPHER', 'NAME', 'visa',"
            " '400000', '0009', 1::smallint, 2100::smallint, ARRAY[]::smallint[], ARRAY[]::bytea[])",
            (CLIENT_ID, "tok_" + "Z" * 32, pan_hmac, key_id),
        )


def test_a_database_errors_detail_reaches_no_log_line_trace_or_response(
    database: Database,
    installed: Any,
    captured: Any,
    log_lines: io.StringIO,
    tracing_on: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding 5: the API's catch-all logged the psycopg error with its traceback, DETAIL included. Now a database
    error anywhere in the chain logs its SQLSTATE, constraint and function names only."""
    with pytest.raises(psycopg.errors.CheckViolation) as real:
        _check_violation(database)
    detail = str(real.value.diag.message_detail)
    assert "Failing row contains" in detail  # what must not get out
    assert "400000" in detail

    def tokenize(*_: Any, **__: Any) -> Any:
        _check_violation(database)  # the real error from the embedded PostgreSQL, raised inside the route

    monkeypatch.setattr(installed, "tokenize", tokenize)
    monkeypatch.setattr(installed, "tokenize_reserved", tokenize)  # the API's one-round-trip path (migration 0042)
    tracing_on.drain()
    response = call(captured, "POST", "/v1/cards", card_body())
    assert response["statusCode"] == 500
    logged = log_lines.getvalue()
    (line,) = [json.loads(text) for text in logged.splitlines() if '"request failed"' in text]
    assert line["sqlstate"] == "23514"
    assert line["error_type"] == "CheckViolation"
    assert line["constraint"]
    assert "vault.store_card_in_pair" in line["functions"]
    traces = trace_texts(tracing_on, tracing_on.drain())
    records = [r.getMessage() + str(r.exc_text or "") + str(vars(r)) for r in caplog.records]
    for text in [logged, *traces, *records, json.dumps(response)]:
        assert "Failing row" not in text
        assert "400000" not in text
        assert "Traceback" not in text


def test_a_scheduled_jobs_database_error_reaches_the_runtime_without_its_detail(database: Database) -> None:
    """The purge and Keys functions raise to the Lambda runtime, which logs the raised text: a DatabaseFailureError
    naming the SQLSTATE only, with no chained exception to print."""
    with pytest.raises(psycopg.errors.CheckViolation) as real:
        _check_violation(database)
    clean = without_database_detail(real.value)
    assert isinstance(clean, DatabaseFailureError)
    assert "SQLSTATE 23514" in str(clean)
    assert "Failing row" not in str(clean)
    assert "400000" not in str(clean)
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = real.value
    assert isinstance(without_database_detail(wrapped), DatabaseFailureError)
    plain = ValueError("no database here")
    assert without_database_detail(plain) is plain
