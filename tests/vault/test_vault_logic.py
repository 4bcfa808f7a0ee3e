"""The vault's logic and data layers against a real PostgreSQL and moto's KMS / Secrets Manager."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from card_vault.envelope import FORMAT_VERSION, DecryptionError, Sealed
from card_vault.models import TokenizeRequest
from card_vault.vault import CardNotFoundError, Vault

from tests.vault.cards import card_body, card_number
from tests.vault.conftest import AUDIT, CLIENT_ID, Aws, Database, make_vault, set_card_search


def _request(pan: str | None = None, **overrides: object) -> TokenizeRequest:
    return TokenizeRequest.model_validate(card_body(pan, **overrides))


def _count(database: Database, table: str = "cards") -> int:
    with database.admin() as conn:
        row = conn.execute(f"SELECT count(*) FROM vault.{table}").fetchone()
    assert row is not None
    return int(row[0])


def test_tokenize_returns_masked_view_and_stores_only_ciphertext(vault: Vault, database: Database) -> None:
    pan = card_number("4", 16)
    result = vault.tokenize(_request(pan), client_id=CLIENT_ID)
    assert result.created
    view = result.view
    assert (view.brand, view.first6, view.last4) == ("visa", pan[:6], pan[-4:])
    assert view.token.startswith("tok_")
    assert pan not in view.model_dump_json()
    with database.admin() as conn:
        row = conn.execute(
            "SELECT pan_ciphertext, name_ciphertext, pan_hmac, format_version FROM vault.cards"
        ).fetchone()
        dump = conn.execute("SELECT row_to_json(c)::text FROM vault.cards c").fetchone()
    assert row is not None
    assert dump is not None
    assert len(bytes(row[0])) == 12 + 16 + 16  # nonce + 16-digit PAN + GCM tag: 44 bytes
    assert len(bytes(row[2])) == 32
    assert row[3] == FORMAT_VERSION
    assert pan.encode() not in bytes(row[0])
    assert pan not in dump[0]
    assert "Lovelace" not in dump[0]


def test_same_card_twice_gives_one_token(vault: Vault, database: Database) -> None:
    pan = card_number("51", 16)
    first = vault.tokenize(_request(pan), client_id=CLIENT_ID)
    second = vault.tokenize(_request(pan, cardholder_name="Someone Else"), client_id=CLIENT_ID)
    assert first.created
    assert not second.created
    assert first.view.token == second.view.token
    assert _count(database) == 1


def test_keyed_hash_not_plain_hash(vault: Vault, database: Database) -> None:
    import hashlib

    pan = card_number()
    vault.tokenize(_request(pan), client_id=CLIENT_ID)
    with database.admin() as conn:
        row = conn.execute("SELECT pan_hmac FROM vault.cards").fetchone()
    assert row is not None
    assert bytes(row[0]) not in {hashlib.sha256(pan.encode()).digest(), hashlib.sha256(pan[:-1].encode()).digest()}


def test_detokenize_round_trip_through_its_own_role(vault: Vault, detokenizer: Vault) -> None:
    pan = card_number("37", 15)
    token = vault.tokenize(_request(pan), client_id=CLIENT_ID).view.token
    assert detokenizer.detokenize(token, **AUDIT) == pan


def test_app_role_cannot_read_ciphertext(vault: Vault) -> None:
    token = vault.tokenize(_request(), client_id=CLIENT_ID).view.token
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        vault.detokenize(token, **AUDIT)


def test_purge_role_cannot_insert(database: Database, aws: Aws) -> None:
    purger = make_vault(database, aws, "card_vault_purge")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        purger.tokenize(_request(), client_id=CLIENT_ID)


def test_tampered_ciphertext_fails_loudly(vault: Vault, detokenizer: Vault, database: Database) -> None:
    token = vault.tokenize(_request(), client_id=CLIENT_ID).view.token
    with database.admin() as conn:
        conn.execute(
            "UPDATE vault.cards SET pan_ciphertext = overlay(pan_ciphertext placing"
            " set_byte('\\x00'::bytea, 0, get_byte(pan_ciphertext, 20) # 1) from 21 for 1)"
        )
    with pytest.raises(DecryptionError, match="failed authentication") as excinfo:
        detokenizer.detokenize(token, **AUDIT)
    assert token in str(excinfo.value)


def test_ciphertext_moved_to_another_token_fails(vault: Vault, detokenizer: Vault, database: Database) -> None:
    first = vault.tokenize(_request(), client_id=CLIENT_ID).view.token
    second = vault.tokenize(_request(), client_id=CLIENT_ID).view.token
    with database.admin() as conn:
        conn.execute(
            "UPDATE vault.cards SET pan_ciphertext = (SELECT pan_ciphertext FROM vault.cards WHERE token = %s)"
            " WHERE token = %s",
            (first, second),
        )
    with pytest.raises(DecryptionError):
        detokenizer.detokenize(second, **AUDIT)
    sealed = detokenizer._store.sealed_pan(first, **AUDIT)
    assert sealed is not None
    with pytest.raises(DecryptionError):  # right ciphertext and token, wrong field (name's AAD)
        detokenizer._cipher.open(sealed, token=first, field="name")
    with pytest.raises(DecryptionError, match="format version"):
        detokenizer._cipher.open(Sealed(99, sealed.data_key_id, sealed.ciphertext), token=first, field="pan")


def test_record_under_older_data_key_still_decrypts(database: Database, aws: Aws, detokenizer: Vault) -> None:
    ticks = itertools.count(0, 1000)
    writer = make_vault(database, aws, max_age_seconds=500, clock=lambda: float(next(ticks)))
    old_pan, new_pan = card_number(), card_number("6011", 16)
    old = writer.tokenize(_request(old_pan), client_id=CLIENT_ID).view.token
    new = writer.tokenize(_request(new_pan), client_id=CLIENT_ID).view.token
    assert _count(database, "data_keys") >= 2  # the cache expired between the two: a new data key
    with database.admin() as conn:
        keys = conn.execute("SELECT count(DISTINCT data_key_id) FROM vault.cards").fetchone()
    assert keys is not None
    assert keys[0] == 2
    fresh_reader = make_vault(database, aws, "card_vault_detokenize")
    assert fresh_reader.detokenize(old, **AUDIT) == old_pan
    assert fresh_reader.detokenize(new, **AUDIT) == new_pan


def test_kms_calls_are_bounded_by_the_data_key_cache(vault: Vault) -> None:
    rng = random.Random(7)
    for _ in range(300):
        vault.tokenize(_request(card_number(rng=rng)), client_id=CLIENT_ID)
    assert vault._cipher.kms_calls == 1


def test_data_key_rotates_after_max_messages(database: Database, aws: Aws) -> None:
    small = make_vault(database, aws, max_messages=10)
    for _ in range(10):  # two encryptions (number, name) per card
        small.tokenize(_request(), client_id=CLIENT_ID)
    assert small._cipher.kms_calls == 2


def test_lookup_and_disposal(vault: Vault, database: Database) -> None:
    token = vault.tokenize(_request(), client_id=CLIENT_ID).view.token
    assert vault.lookup(token, client_id=CLIENT_ID).token == token
    vault.dispose(token, client_id=CLIENT_ID)
    assert _count(database) == 0
    with pytest.raises(CardNotFoundError):
        vault.lookup(token, client_id=CLIENT_ID)
    with pytest.raises(CardNotFoundError):
        vault.dispose(token, client_id=CLIENT_ID)


def test_purge_deletes_cards_past_expiry_and_grace(database: Database, aws: Aws, vault: Vault) -> None:
    today = dt.date.today()
    kept = vault.tokenize(_request(expiry_month=today.month, expiry_year=today.year), client_id=CLIENT_ID).view.token
    expired = vault.tokenize(_request(), client_id=CLIENT_ID).view.token
    with database.admin() as conn:  # back-date one card: expired 2 months ago
        conn.execute(
            "UPDATE vault.cards SET expiry_year = %s, expiry_month = %s WHERE token = %s",
            (2020, 1, expired),
        )
    purger = make_vault(database, aws, "card_vault_purge")
    assert purger.purge(grace_days=30, dry_run=True) == 1
    assert purger.purge(grace_days=30) == 1
    assert vault.lookup(kept, client_id=CLIENT_ID).token == kept
    with pytest.raises(CardNotFoundError):
        vault.lookup(expired, client_id=CLIENT_ID)


def test_purge_keeps_cards_within_grace(database: Database, aws: Aws, vault: Vault) -> None:
    token = vault.tokenize(_request(), client_id=CLIENT_ID).view.token
    with database.admin() as conn:  # expired at the end of January 2026
        conn.execute("UPDATE vault.cards SET expiry_year = 2026, expiry_month = 1 WHERE token = %s", (token,))
    purger = make_vault(database, aws, "card_vault_purge")
    assert purger.purge(grace_days=30, today=dt.date(2026, 3, 2)) == 0
    assert purger.purge(grace_days=30, today=dt.date(2026, 3, 3)) == 1


def test_200_concurrent_tokenizations(database: Database, aws: Aws) -> None:
    shared = make_vault(database, aws, pool_size=8)
    rng = random.Random(200)
    pans = {card_number(rng.choice(["4", "51", "6011"]), 16, rng) for _ in range(200)}
    while len(pans) < 200:
        pans.add(card_number(rng=rng))
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda p: shared.tokenize(_request(p), client_id=CLIENT_ID), sorted(pans)))
    tokens = {r.view.token for r in results}
    assert len(tokens) == 200
    assert all(r.created for r in results)
    assert _count(database) == 200


def test_50_concurrent_submissions_of_one_card_give_one_row(database: Database, aws: Aws) -> None:
    pan = card_number()
    set_card_search(database, max_siblings=50)  # 50 tokenizations of one pair: within the sibling limit
    # Separate vaults (as separate Lambda instances): none sees another's row before inserting.
    vaults = [make_vault(database, aws, pool_size=1) for _ in range(5)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda i: vaults[i % 5].tokenize(_request(pan), client_id=CLIENT_ID), range(50)))
    assert len({r.view.token for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert _count(database) == 1
