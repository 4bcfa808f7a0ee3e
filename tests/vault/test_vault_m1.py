"""Red team r19c M1, run as the attacker it models (issue 19, task w19h1; migration 0029 and
post/0030_contract_0029.sql): the API's database login inserted `vault.data_keys` rows itself and so chose
each data key's shred epoch, keeping an old epoch in use forever (its KMS key never drained, never due for
deletion). Now the login records a data key only through `vault.save_data_key`, which takes the epoch from
`vault.data_key_settings` (written by the migration function from the configuration, as the card-search
bound is) and refuses a data key wrapped by another KMS key than the configured one. Against the embedded
PostgreSQL."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
from card_vault import migrate

from tests.vault.conftest import Database

EPOCH_KEY = "arn:aws:kms:eu-west-1:111111111111:key/epoch-3"


def _epoch_of(database: Database, key_id: uuid.UUID) -> int | None:
    with database.admin() as conn:
        row = conn.execute("SELECT shred_epoch FROM vault.data_keys WHERE id = %s", (key_id,)).fetchone()
    return None if row is None else int(row[0])


@pytest.mark.parametrize("login", ["card_vault_app", "card_vault_keys"])
def test_no_login_chooses_a_data_keys_epoch(login: str, database: Database) -> None:
    migrate.set_data_key_epoch(database.admin_url, epoch=3, kms_key_arn=EPOCH_KEY)
    with psycopg.connect(database.role_urls[login], autocommit=True) as conn:
        # The red team's statement: a data key under an old epoch, inserted directly. Refused.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO vault.data_keys (id, wrapped_key, kms_key_arn, shred_epoch) VALUES (%s, %s, %s, 1)",
                (uuid.uuid4(), os.urandom(40), EPOCH_KEY),
            )
        # Nor may it read or write the configuration.
        for statement in (
            "SELECT * FROM vault.data_key_settings",
            "UPDATE vault.data_key_settings SET shred_epoch = 1",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # Through the function the epoch is the configuration's, whatever the caller would like.
        key_id = uuid.uuid4()
        assert conn.execute(
            "SELECT vault.save_data_key(%s, %s, %s)", (key_id, os.urandom(40), EPOCH_KEY)
        ).fetchone() == (3,)
        # A data key wrapped by another KMS key (an old epoch's) is refused, nothing stored.
        other = uuid.uuid4()
        with pytest.raises(psycopg.DatabaseError) as refused:
            conn.execute(
                "SELECT vault.save_data_key(%s, %s, %s)",
                (other, os.urandom(40), "arn:aws:kms:eu-west-1:111111111111:key/epoch-1"),
            )
        assert getattr(refused.value, "sqlstate", None) == "CV003"
    assert _epoch_of(database, key_id) == 3
    assert _epoch_of(database, other) is None


def test_the_migration_function_reads_the_epoch_from_its_environment() -> None:
    assert migrate.data_key_epoch_from({}) == (0, None)
    assert migrate.data_key_epoch_from({"VAULT_DATA_KEY_EPOCH": "4", "VAULT_DATA_KEY_KMS_KEY_ARN": EPOCH_KEY}) == (
        4,
        EPOCH_KEY,
    )
    for bad, message in (("x", "not an integer"), ("10000", "0-9999"), ("-1", "0-9999")):
        with pytest.raises(ValueError, match=message):
            migrate.data_key_epoch_from({"VAULT_DATA_KEY_EPOCH": bad})
