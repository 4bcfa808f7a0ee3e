"""Issue 19 finding 8, task w19b: crypto-shredding by shred epochs (migration 0025, `card_vault.keys`).

On the embedded PostgreSQL and moto's KMS: a card stored in epoch 1 and deleted stays in WAL, snapshots and
PITR as ciphertext under a data key wrapped by epoch 1's KMS key. The copy an attacker would take of it (the
row and its wrapped data key, as a snapshot holds them, read before the DELETE) decrypts until the Keys job
has resealed every live card under epoch 2, deleted epoch 1's data keys, waited out the backup retention and
scheduled epoch 1's key for deletion; then KMS refuses it, while the live cards detokenize from epoch 2.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from botocore.exceptions import ClientError
from card_vault import keys, migrate, runtime
from card_vault.envelope import DATA_KEY_CONTEXT, EnvelopeCipher
from card_vault.keyed_hash import KeyedHasher
from card_vault.models import TokenizeRequest, UpdateRequest
from card_vault.settings import ShredEpochSettings, ShredSettings, VaultSettings
from card_vault.store import CardStore, open_pool
from card_vault.vault import Vault
from pydantic import ValidationError

from tests.vault.cards import card_body, card_number
from tests.vault.conftest import AUDIT, CLIENT_ID, Aws, Captured, Database
from tests.vault.events import FakeContext

RNG_SEED = 19_0808
RETENTION_DAYS = 7


class KeyStateKms:
    """moto's KMS client, answering cryptographic operations on a key that is not `Enabled` as KMS does.

    "Key states of AWS KMS keys" (AWS KMS Developer Guide) and "ScheduleKeyDeletion" (AWS KMS API Reference):
    a key pending deletion "can't be used in any cryptographic operations"; Decrypt, GenerateDataKey and
    ReEncrypt then fail with KMSInvalidStateException. moto 5.2.5 records the state (DescribeKey answers
    `PendingDeletion`) but still decrypts, so this wrapper asks DescribeKey first and refuses."""

    CRYPTOGRAPHIC = frozenset({"decrypt", "generate_data_key", "re_encrypt", "encrypt"})

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self._client, name)
        if name not in self.CRYPTOGRAPHIC:
            return operation

        def call(**kwargs: Any) -> Any:
            key = kwargs.get("KeyId") or kwargs.get("SourceKeyId")
            if key is not None:
                state = self._client.describe_key(KeyId=key)["KeyMetadata"]["KeyState"]
                if state != "Enabled":
                    error = {"Code": "KMSInvalidStateException", "Message": f"key is {state}"}
                    raise ClientError({"Error": error}, name)
            return operation(**kwargs)

        return call


def _vault(database: Database, aws: Aws, role: str, *, key_id: str, epoch: int) -> Vault:
    """A vault whose configuration's current epoch is `epoch`: the migration function writes it into the
    database as a deploy of that configuration would (migration 0029), and the database records it."""
    migrate.set_data_key_epoch(database.admin_url, epoch=epoch, kms_key_arn=None)
    store = CardStore(open_pool(database.role_urls[role], max_size=2))
    kms = KeyStateKms(aws.session.client("kms"))
    return Vault(
        store=store,
        cipher=EnvelopeCipher(kms=kms, key_id=key_id, store=store, shred_epoch=epoch),
        hasher=KeyedHasher(kms=kms, keys=(aws.hmac_key(),)),
    )


def _epoch_key(aws: Aws, epoch: int) -> str:
    created = aws.session.client("kms").create_key(Description=f"card vault shred epoch {epoch} (test)")
    return str(created["KeyMetadata"]["Arn"])


@pytest.fixture
def epochs(aws: Aws) -> dict[int, str]:
    return {1: _epoch_key(aws, 1), 2: _epoch_key(aws, 2)}


def _shred_settings(epochs: dict[int, str], **overrides: Any) -> ShredSettings:
    return ShredSettings(
        epochs=tuple(ShredEpochSettings(epoch=e, key_id=arn) for e, arn in epochs.items()),
        backup_retention_days=overrides.pop("backup_retention_days", RETENTION_DAYS),
        deletion_window_days=overrides.pop("deletion_window_days", 7),
        **overrides,
    )


def _request(pan: str) -> TokenizeRequest:
    return TokenizeRequest.model_validate(card_body(pan))


def _key_state(aws: Aws, arn: str) -> str:
    return str(aws.session.client("kms").describe_key(KeyId=arn)["KeyMetadata"]["KeyState"])


def _one(database: Database, query: str, *params: object) -> Any:
    with database.admin() as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row


def test_a_deleted_card_is_unreadable_from_any_copy_once_its_epoch_is_shredded(
    database: Database, aws: Aws, epochs: dict[int, str], captured: Captured
) -> None:
    rng = random.Random(RNG_SEED)
    deleted_pan, live_pan, renamed_pan, legacy_pan = (card_number(rng=rng) for _ in range(4))
    # Before epochs: a card under the cardholder-data key (epoch 0).
    legacy = _vault(database, aws, "card_vault_app", key_id=aws.kms_key_arn, epoch=0)
    legacy_token = legacy.tokenize(_request(legacy_pan), client_id=CLIENT_ID).view.token
    # Epoch 1: three cards, one of them with a name updated later (its own name data key column).
    api = _vault(database, aws, "card_vault_app", key_id=epochs[1], epoch=1)
    deleted = api.tokenize(_request(deleted_pan), client_id=CLIENT_ID).view.token
    live = api.tokenize(_request(live_pan), client_id=CLIENT_ID).view.token
    renamed = api.tokenize(_request(renamed_pan), client_id=CLIENT_ID).view.token
    api.update(renamed, UpdateRequest(cardholder_name="A N OTHER"), client_id=CLIENT_ID)
    # The database records each card's epoch from its data key (no login passes it).
    for token, epoch in ((legacy_token, 0), (deleted, 1), (live, 1), (renamed, 1)):
        assert _one(database, "SELECT shred_epoch FROM vault.cards WHERE token = %s", token) == (epoch,)
    # What a snapshot taken now holds of the card about to be deleted: its row and its wrapped data key.
    data_key_id, ciphertext = _one(
        database, "SELECT data_key_id, pan_ciphertext FROM vault.cards WHERE token = %s", deleted
    )
    wrapped, wrapped_by = _one(
        database, "SELECT wrapped_key, kms_key_arn FROM vault.data_keys WHERE id = %s", data_key_id
    )
    assert wrapped_by == epochs[1]
    api.dispose(deleted, client_id=CLIENT_ID)
    kms = KeyStateKms(aws.session.client("kms"))
    # Until the shred, the copy decrypts: the row is dead, its data key is not (it also seals the live cards).
    assert kms.decrypt(CiphertextBlob=bytes(wrapped), KeyId=epochs[1], EncryptionContext=DATA_KEY_CONTEXT)

    # Epoch 2 becomes current: the Keys job (its own login) reseals, then shreds.
    job = _vault(database, aws, "card_vault_keys", key_id=epochs[2], epoch=2)
    parts = job.parts()
    shred_settings = _shred_settings(epochs)
    now = dt.datetime.now(dt.UTC)
    first = keys.shred(store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=now)
    captured.add(first)
    assert [e["state"] for e in first["epochs"]] == ["in_use", "current"]  # epoch 1 still holds cards
    resealed = keys.reseal(store=parts.store, cipher=parts.cipher)
    captured.add(resealed)
    assert (resealed["resealed"], resealed["more"]) == (3, False)  # live, renamed and the epoch-0 card
    assert resealed["data_keys_deleted"] == 2  # epoch 0's and epoch 1's
    assert keys.reseal(store=parts.store, cipher=parts.cipher)["seen"] == 0  # idempotent
    for token in (legacy_token, live, renamed):
        assert _one(database, "SELECT shred_epoch FROM vault.cards WHERE token = %s", token) == (2,)
    assert _one(database, "SELECT count(*) FROM vault.data_keys WHERE id = %s", data_key_id) == (0,)
    # Empty now, but the backup retention has not passed: WAL, snapshots and PITR may still need epoch 1.
    waiting = keys.shred(store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=now)
    assert waiting["epochs"][0]["state"] == "waiting"
    later = now + dt.timedelta(days=RETENTION_DAYS) - dt.timedelta(seconds=1)
    assert (
        keys.shred(store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=later)["epochs"][0]["state"]
        == "waiting"
    )
    assert _key_state(aws, epochs[1]) == "Enabled"
    due = now + dt.timedelta(days=RETENTION_DAYS)
    shredded = keys.shred(store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=due)
    captured.add(shredded)
    assert shredded["epochs"][0]["state"] == "scheduled"
    assert _key_state(aws, epochs[1]) == "PendingDeletion"
    # The copy taken before the DELETE: its data key is wrapped only by epoch 1's key, which KMS refuses.
    with pytest.raises(ClientError) as refused:
        kms.decrypt(CiphertextBlob=bytes(wrapped), KeyId=epochs[1], EncryptionContext=DATA_KEY_CONTEXT)
    assert refused.value.response["Error"]["Code"] == "KMSInvalidStateException"
    assert bytes(ciphertext)  # the ciphertext itself is still in the copy, and useless
    # The live cards detokenize from epoch 2, names included (the detokenize login, a cold cache).
    reader = _vault(database, aws, "card_vault_detokenize", key_id=epochs[2], epoch=2)
    assert reader.detokenize(live, **AUDIT) == live_pan
    assert reader.detokenize(renamed, **{**AUDIT, "request_id": "r2"}) == renamed_pan
    assert reader.detokenize(legacy_token, **{**AUDIT, "request_id": "r3"}) == legacy_pan
    # A second run records the pending deletion, never schedules it twice; epoch 0 is never scheduled.
    again = keys.shred(store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=due)
    assert again["epochs"][0]["state"] == "pending_deletion"
    assert _key_state(aws, aws.kms_key_arn) == "Enabled"
    scheduled = _one(database, "SELECT deletion_scheduled_at, deletion_date FROM vault.shred_epochs WHERE epoch = 1")
    assert scheduled[0] == due
    assert scheduled[1] is not None


def test_an_epoch_that_still_holds_a_card_is_never_scheduled_however_late(
    database: Database, aws: Aws, epochs: dict[int, str]
) -> None:
    """A card left in epoch 1 (never resealed), or one written there after it emptied (an instance still on
    the previous configuration, its cached data key), keeps epoch 1's key and restarts the retention wait."""
    rng = random.Random(RNG_SEED + 1)
    api = _vault(database, aws, "card_vault_app", key_id=epochs[1], epoch=1)
    token = api.tokenize(_request(card_number(rng=rng)), client_id=CLIENT_ID).view.token
    parts = _vault(database, aws, "card_vault_keys", key_id=epochs[2], epoch=2).parts()
    shred_settings = _shred_settings(epochs)
    now = dt.datetime.now(dt.UTC)
    for days in (0, 30, 365):
        answer = keys.shred(
            store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=now + dt.timedelta(days)
        )
        assert answer["epochs"][0] == {"epoch": 1, "cards": 1, "data_keys": 1, "state": "in_use"}
    assert _key_state(aws, epochs[1]) == "Enabled"
    api.dispose(token, client_id=CLIENT_ID)
    keys.reseal(store=parts.store, cipher=parts.cipher)  # deletes epoch 1's unused data key
    assert (
        keys.shred(store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=now)["epochs"][0]["state"]
        == "waiting"
    )
    # A late writer on epoch 1 (a fresh data key: the job deleted the cached one's row) clears the empty mark.
    late = _vault(database, aws, "card_vault_app", key_id=epochs[1], epoch=1)
    late.tokenize(_request(card_number(rng=rng)), client_id=CLIENT_ID)
    day = now + dt.timedelta(days=RETENTION_DAYS)
    assert (
        keys.shred(store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=day)["epochs"][0]["state"]
        == "in_use"
    )
    assert _one(database, "SELECT emptied_at FROM vault.shred_epochs WHERE epoch = 1") == (None,)
    assert _key_state(aws, epochs[1]) == "Enabled"


def test_no_vault_login_can_choose_a_cards_epoch_or_touch_the_ledger(database: Database, aws: Aws) -> None:
    """The epoch comes from the data key; only the Keys login writes the ledger (migration 0025)."""
    import psycopg

    rng = random.Random(RNG_SEED + 2)
    api = _vault(database, aws, "card_vault_app", key_id=aws.kms_key_arn, epoch=0)
    token = api.tokenize(_request(card_number(rng=rng)), client_id=CLIENT_ID).view.token
    with database.admin() as conn:  # even the table owner's own write is overridden by the trigger
        conn.execute("UPDATE vault.cards SET shred_epoch = 7 WHERE token = %s", (token,))
    assert _one(database, "SELECT shred_epoch FROM vault.cards WHERE token = %s", token) == (0,)
    for role in ("card_vault_app", "card_vault_detokenize", "card_vault_purge"):
        with psycopg.connect(database.role_urls[role], autocommit=True) as conn:
            for statement in (
                "SELECT count(*) FROM vault.shred_epochs",
                "INSERT INTO vault.shred_epochs (epoch, kms_key_arn) VALUES (9, 'x')",
                "DELETE FROM vault.data_keys",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)


def test_the_keys_handler_runs_the_rotation_and_refuses_rewrap_under_epochs(
    database: Database, aws: Aws, epochs: dict[int, str], settings: VaultSettings, captured: Captured
) -> None:
    job = _vault(database, aws, "card_vault_keys", key_id=epochs[2], epoch=2)
    with_epochs = settings.model_copy(update={"shred": _shred_settings(epochs)})
    runtime.install(job, with_epochs)
    answer = keys.handler({"job": "rotate"}, FakeContext())
    captured.add(answer)
    assert answer["reseal"]["more"] is False
    assert [e["state"] for e in answer["shred"]["epochs"]] == ["waiting", "current"]
    assert answer["shred"]["new_epoch_due"] is False
    with pytest.raises(ValueError, match="reseal"):
        keys.handler({"job": "rewrap"}, FakeContext())
    runtime.install(job, settings)
    with pytest.raises(ValueError, match="no shred epochs"):
        keys.handler({"job": "shred"}, FakeContext())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"deletion_window_days": 6}, "deletion_window_days"),
        ({"deletion_window_days": 31}, "deletion_window_days"),
        ({"backup_retention_days": 36}, "backup_retention_days"),
        ({"epoch_days": 6}, "epoch_days"),
    ],
)
def test_shred_settings_refuse_what_kms_and_rds_refuse(overrides: dict[str, int], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _shred_settings({1: "alias/e1"}, **overrides)
    assert refused.value.errors()[0]["loc"] == (field,)
    with pytest.raises(ValidationError, match="each epoch once"):
        ShredSettings(epochs=(ShredEpochSettings(epoch=1, key_id="a"), ShredEpochSettings(epoch=1, key_id="b")))
    assert _shred_settings({1: "a", 3: "c", 2: "b"}).current.epoch == 3


def test_without_schedule_deletion_a_drained_epoch_is_due_and_an_administrators_deletion_is_recorded(
    database: Database, aws: Aws, epochs: dict[int, str]
) -> None:
    """The landing zone's setting (`schedule_deletion: false`: its permissions boundary denies the Keys role
    kms:ScheduleKeyDeletion): the job reports `due` and leaves the key enabled; once a key administrator has
    scheduled it, the next run records `pending_deletion` and its date."""
    parts = _vault(database, aws, "card_vault_keys", key_id=epochs[2], epoch=2).parts()
    shred_settings = _shred_settings(epochs, schedule_deletion=False)
    now = dt.datetime.now(dt.UTC)
    assert (
        keys.shred(store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=now)["epochs"][0]["state"]
        == "waiting"
    )
    due = now + dt.timedelta(days=RETENTION_DAYS)
    answer = keys.shred(store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=due)
    assert answer["epochs"][0]["state"] == "due"
    assert _key_state(aws, epochs[1]) == "Enabled"
    kms = aws.session.client("kms")  # the key administrator
    key_id = kms.describe_key(KeyId=epochs[1])["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    answer = keys.shred(store=parts.store, kms=parts.kms, shred_settings=shred_settings, now=due)
    assert answer["epochs"][0]["state"] == "pending_deletion"
    assert _one(database, "SELECT deletion_date IS NOT NULL FROM vault.shred_epochs WHERE epoch = 1") == (True,)
