"""Key maintenance (PCI DSS v4.0.1 3.6.1, 3.7.1-3.7.5): re-hash, re-wrap, reseal and shred jobs.

Invoked by an operator (`lambda:InvokeFunction`; the function has no URL and no ALB target; its only
resource policy, with shred epochs configured, lets the daily EventBridge rule run `{"job": "rotate"}`;
otherwise only an IAM principal of this account whose own policy allows it may call it; the platform
administrator and auditor roles are denied the vault's functions, the break-glass role is not, and every
use of it alarms). Runs as the `card_vault_keys` login.

- `{"job": "rehash"}`: every card hashed under another HMAC key version than the current one
  (a rotation in progress, or version 0, the retired Secrets Manager key) is decrypted and hashed
  again with `GenerateMac` under the current version. A card its client already holds under the
  new hash (submitted again before the move) is left as it is and counted in `conflicts`: both
  tokens stay valid; dispose of one through the API.
- `{"job": "rewrap"}`: every data key wrapped by another KMS key than the configured one is
  re-encrypted under it (`kms:ReEncrypt`, the plain data key never leaves KMS);
  `{"job": "rewrap", "every": true}` re-encrypts all of them (under the key's newest material
  after a rotation of its key material).

- `{"job": "verify"}` (migration 0032, red team r19d): every data key not yet verified is decrypted with the KMS
  key recorded beside it pinned (`KeyId`), which must be the cardholder-data key or a shred epoch's: the API's
  login records data keys and could name the configured key for one made under another. A mismatch
  quarantines the data key (no card may use it any more; the EMF metric `DataKeyQuarantined`, alarmed).
, migration 0025): every card whose card number's or name's data key
  belongs to another shred epoch than the current one (epoch 0, the cardholder-data key, included) is
  decrypted and sealed again under a data key of the current epoch (new nonces, the same token, hash,
  masked columns and expiry); then every data key of another epoch that no card uses any more is deleted.
  Re-wrapping the data key would not do: a data key seals many cards, and a card deleted earlier would
  stay readable under the re-wrapped key from any WAL, snapshot or PITR copy of its row.
  A card the job cannot open (its ciphertext fails authentication, or KMS answers that its data key is not
  one it made: a planted or tampered row, red team r19d) is skipped and counted (`unreadable`, the EMF metric
  `ResealUnreadable`, alarmed; one warning with the tokens' `sha256:` fingerprints), and the run goes on: its
  epoch stays `in_use` for `shred` until the card is disposed of, and every other card is resealed. Each such
  card is reported to `vault.dispose_unreadable_card` (migration 0036, red team r19e finding 1): the first report
  records it, a run at least 20 hours later (the next daily `rotate`) deletes it (`disposed`, the EMF metric
  `UnreadableDisposed`, alarmed), so a card nobody can read never blocks its epoch's shred for ever. Since
  migration 0031 no writer can store a card under a data key of another epoch than the current one.
- `{"job": "shred"}`: for each configured epoch but the current one, records when it first held no
  card and no data key (`vault.shred_epochs.emptied_at`; a card or key seen again clears it), and once
  the backup retention (`backup_retention_days`, the RDS automated-backup and PITR window) has passed
  since then, schedules its KMS key for deletion (`kms:ScheduleKeyDeletion`, `PendingWindowInDays` =
  `deletion_window_days`, 7-30). "Deleting AWS KMS keys" (AWS KMS Developer Guide): a key pending deletion
  cannot be used in any cryptographic operation, the deletion can be cancelled until the window ends,
  and once deleted "all data that was encrypted under the KMS key is unrecoverable". A key already
  pending deletion is recorded, not scheduled again. Epoch 0 is never scheduled. With
  `schedule_deletion: false` (the landing zone: its permissions boundary denies the Keys role
  `kms:ScheduleKeyDeletion`) a drained epoch is answered `due`, and a key administrator schedules it.
- `{"job": "rotate"}` (the daily schedule): `verify`, `reseal`, then `shred`; answers the three, and whether the current
  epoch is older than `epoch_days` (`"new_epoch_due"`: add the next epoch to the configuration).

Each is idempotent and resumable: each run handles up to `limit` rows (default 5,000) and says
whether rows remain (`"more": true`); run it again until it answers `"more": false`. `dry_run`
counts only. Answers hold counts, never a card number or a token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from card_vault.envelope import DATA_KEY_CONTEXT, DecryptionError, EnvelopeCipher
from card_vault.keyed_hash import KeyedHasher
from card_vault.settings import ShredSettings
from card_vault.store import CardStore

DEFAULT_LIMIT = 5_000
BATCH = 200
METRIC_NAMESPACE = "PciLz/CardVault"
UNREADABLE_METRIC = "ResealUnreadable"
QUARANTINED_METRIC = "DataKeyQuarantined"
# Cards the re-seal disposed of as unreadable (migration 0036, red team r19e finding 1), alarmed as ResealUnreadable.
DISPOSED_METRIC = "UnreadableDisposed"
# KMS Decrypt's answers for a wrapped data key that no KMS key of this vault will ever open ("Decrypt", AWS KMS
# API Reference, Errors): the ciphertext is not KMS's, or was made under another key than the one recorded.
PERMANENT_KMS_ERRORS = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


class KeysRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job: Literal["rehash", "rewrap", "verify", "reseal", "shred", "rotate"]
    dry_run: bool = False
    every: bool = False
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=100_000)


def rehash(
    *, store: CardStore, cipher: EnvelopeCipher, hasher: KeyedHasher, limit: int = DEFAULT_LIMIT, dry_run: bool = False
) -> dict[str, Any]:
    """Move up to `limit` cards to the current HMAC key version; counts of moved, conflicts, gone."""
    current = hasher.current.version
    counts = {"rehashed": 0, "conflicts": 0, "gone": 0, "seen": 0}
    after = ""
    while counts["seen"] < limit:
        rows = store.rows_to_rehash(current_version=current, limit=min(BATCH, limit - counts["seen"]), after=after)
        if not rows:
            return {"job": "rehash", "version": current, **counts, "more": False, "dry_run": dry_run}
        for token, old_version, sealed in rows:
            counts["seen"] += 1
            after = token
            if dry_run:
                continue
            pan = cipher.open(sealed, token=token, field="pan")
            moved = store.set_hmac(token, old_version=old_version, pan_hmac=hasher.digest(pan), version=current)
            del pan
            counts["rehashed" if moved else "conflicts" if moved is None else "gone"] += 1
    more = bool(store.rows_to_rehash(current_version=current, limit=1, after=after))
    return {"job": "rehash", "version": current, **counts, "more": more, "dry_run": dry_run}


def rewrap(
    *,
    store: CardStore,
    kms: Any,
    target_key_id: str,
    limit: int = DEFAULT_LIMIT,
    every: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Re-encrypt up to `limit` wrapped data keys under `target_key_id` (`kms:ReEncrypt`, from the recorded key)."""
    target_arn = kms.describe_key(KeyId=target_key_id)["KeyMetadata"]["Arn"]
    counts = {"rewrapped": 0, "changed": 0, "seen": 0}
    after: uuid.UUID | None = None
    while counts["seen"] < limit:
        rows = store.data_keys_to_rewrap(
            target_key_arn=target_arn, limit=min(BATCH, limit - counts["seen"]), every=every, after=after
        )
        if not rows:
            return {"job": "rewrap", **counts, "more": False, "dry_run": dry_run}
        for key_id, wrapped, source_arn in rows:
            counts["seen"] += 1
            after = key_id
            if dry_run:
                continue
            response = kms.re_encrypt(
                CiphertextBlob=wrapped,
                SourceKeyId=source_arn,
                SourceEncryptionContext=DATA_KEY_CONTEXT,
                DestinationKeyId=target_arn,
                DestinationEncryptionContext=DATA_KEY_CONTEXT,
            )
            done = store.set_wrapped_key(
                key_id, wrapped_key=response["CiphertextBlob"], kms_key_arn=response["KeyId"], previous=wrapped
            )
            counts["rewrapped" if done else "changed"] += 1
    more = bool(store.data_keys_to_rewrap(target_key_arn=target_arn, limit=1, every=every, after=after))
    return {"job": "rewrap", **counts, "more": more, "dry_run": dry_run}


def verify(
    *, store: CardStore, kms: Any, key_ids: list[str], limit: int = DEFAULT_LIMIT, dry_run: bool = False
) -> dict[str, Any]:
    """Verify up to `limit` new data keys (migration 0032): each must be wrapped by the KMS key recorded beside it,
    and that key one of `key_ids` (the cardholder-data key and the shred epochs' keys). Decrypt with `KeyId` pinned
    to the recorded key ("Decrypt", AWS KMS API Reference: with a different key "the Decrypt operation fails",
    IncorrectKeyException); the plain data key is dropped unused. A mismatch quarantines the data key; KMS
    errors that say nothing of the key (throttling, a disabled key, no access) raise. Counts only."""
    allowed = {kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"] for key_id in key_ids}
    counts = {"verified": 0, "quarantined": 0, "seen": 0}
    after: uuid.UUID | None = None
    while counts["seen"] < limit:
        rows = store.data_keys_to_verify(limit=min(BATCH, limit - counts["seen"]), after=after)
        if not rows:
            break
        for key_id, wrapped, recorded_arn in rows:
            counts["seen"] += 1
            after = key_id
            if dry_run:
                continue
            good = recorded_arn in allowed
            if good:
                try:
                    kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=DATA_KEY_CONTEXT, KeyId=recorded_arn)
                except Exception as err:
                    if _aws_error_code(err) not in PERMANENT_KMS_ERRORS:
                        raise
                    good = False
            store.mark_data_key(key_id, verified=good)
            counts["verified" if good else "quarantined"] += 1
    more = bool(store.data_keys_to_verify(limit=1, after=after))
    if not dry_run:
        _emit(QUARANTINED_METRIC, counts["quarantined"])
    return {"job": "verify", **counts, "more": more, "dry_run": dry_run}


def reseal(
    *, store: CardStore, cipher: EnvelopeCipher, limit: int = DEFAULT_LIMIT, dry_run: bool = False
) -> dict[str, Any]:
    """Seal up to `limit` cards again under `cipher` (whose data keys are the current shred epoch's,
    `cipher.shred_epoch`), then delete every data key of another epoch no card uses; counts only."""
    epoch = cipher.shred_epoch
    counts = {"resealed": 0, "changed": 0, "unreadable": 0, "disposed": 0, "seen": 0, "data_keys_deleted": 0}
    unreadable: list[str] = []
    after = ""
    while counts["seen"] < limit:
        rows = store.cards_to_reseal(current_epoch=epoch, limit=min(BATCH, limit - counts["seen"]), after=after)
        if not rows:
            break
        for row in rows:
            counts["seen"] += 1
            after = row.token
            if dry_run:
                continue
            try:
                pan_text = cipher.open(row.pan, token=row.token, field="pan")
                name_text = cipher.open(row.name, token=row.token, field="name")
            except Exception as err:
                if not isinstance(err, DecryptionError) and _aws_error_code(err) not in PERMANENT_KMS_ERRORS:
                    raise  # KMS throttled, the key disabled, no access, any other error: the run fails and alarms
                # Not sealed by this vault (a planted row, red team r19d finding 1), or tampered with: skipped
                # and counted, never raised, so one such card does not stop every later card's re-seal or
                # the deletion of the old epoch's unused data keys. It keeps its epoch `in_use` (shred) until
                # it is disposed of; the log line names the token's fingerprint only.
                counts["unreadable"] += 1
                unreadable.append(token_fingerprint(row.token))
                # Reported to the database (migration 0036): recorded on the first run, deleted by the first run
                # at least 20 hours later, so no card nobody can read keeps its epoch in use for ever.
                if store.dispose_unreadable(row.token) == "disposed":
                    counts["disposed"] += 1
                continue
            pan = cipher.seal(pan_text, token=row.token, field="pan")
            name = cipher.seal(name_text, token=row.token, field="name")
            del pan_text, name_text
            counts["resealed" if store.reseal_card(row, pan=pan, name=name) else "changed"] += 1
    more = bool(store.cards_to_reseal(current_epoch=epoch, limit=1, after=after))
    if not dry_run and not more:
        counts["data_keys_deleted"] = store.delete_unused_data_keys(except_epoch=epoch)
    if not dry_run:
        _count_unreadable(counts["unreadable"], unreadable)
        _emit(DISPOSED_METRIC, counts["disposed"])
    return {"job": "reseal", "epoch": epoch, **counts, "more": more, "dry_run": dry_run}


def _aws_error_code(err: Exception) -> str | None:
    """The AWS error code of a botocore `ClientError` (its `response["Error"]["Code"]`), None for any other
    exception. Read from the exception rather than by importing botocore: this module ships in the detokenize
    bundle, whose requirements pin what its handler imports (boto3, not botocore itself)."""
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error")
    return str(error.get("Code", "")) if isinstance(error, dict) else None


def token_fingerprint(token: str) -> str:
    """`sha256:` + 16 hex of a token, for the log: correlates one card's lines, names no token."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def _emit(metric: str, count: int) -> None:
    """One EMF count of the Keys job (namespace `PciLz/CardVault`, dimension `service`), alarmed on."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    from card_vault.logs import SERVICE
    from card_vault.pan import luhn_valid

    stamp = time.time_ns() // 1_000_000
    while luhn_valid(str(stamp)):  # a 13-digit epoch that passes Luhn would look like a card number
        stamp -= 1
    metrics = EphemeralMetrics(namespace=METRIC_NAMESPACE, service=SERVICE)
    metrics.set_timestamp(stamp)
    metrics.add_metric(metric, MetricUnit.Count, count)
    metrics.flush_metrics()


def _count_unreadable(count: int, fingerprints: list[str]) -> None:
    """`ResealUnreadable` (EMF, namespace `PciLz/CardVault`, dimension `service`): cards this run could not open,
    alarmed on (pci_constructs/card_vault.py); one warning naming their tokens' fingerprints, never data."""
    from card_vault.logs import vault_logger

    _emit(UNREADABLE_METRIC, count)
    if fingerprints:
        vault_logger().warning(
            "reseal: cards not readable under their data keys, skipped",
            extra={"event": "reseal_unreadable", "count": count, "tokens": fingerprints[:100]},
        )


def shred(
    *, store: CardStore, kms: Any, shred_settings: ShredSettings, now: dt.datetime | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Schedule the KMS key of every configured epoch but the current one for deletion once it has held no
    card and no data key for `backup_retention_days` (see the module docstring); per-epoch states only.

    States: `current`; `in_use` (cards or data keys left: run `reseal`); `waiting` (empty, retention not
    yet passed: `until` says when); `due` (drained, and `dry_run` or not `schedule_deletion`); `scheduled`
    (this run called ScheduleKeyDeletion); `pending_deletion` (already pending: `deletion_date`). Raises
    what KMS raises (the run is recorded as failed)."""
    now = now or dt.datetime.now(dt.UTC)
    current = shred_settings.current
    retention = dt.timedelta(days=shred_settings.backup_retention_days)
    epochs: list[dict[str, Any]] = []
    started = now
    for held in sorted(shred_settings.epochs, key=lambda e: e.epoch):
        arn = kms.describe_key(KeyId=held.key_id)["KeyMetadata"]["Arn"]
        if held.epoch == current.epoch:
            started = store.shred_ledger(held.epoch, arn, empty=False, now=now).first_seen_at
            epochs.append({"epoch": held.epoch, "state": "current"})
            continue
        cards, data_keys = store.epoch_usage(held.epoch)
        record = store.shred_ledger(held.epoch, arn, empty=cards == 0 and data_keys == 0, now=now)
        answer: dict[str, Any] = {"epoch": held.epoch, "cards": cards, "data_keys": data_keys}
        metadata = kms.describe_key(KeyId=arn)["KeyMetadata"]
        if metadata["KeyState"] == "PendingDeletion":
            answer |= {"state": "pending_deletion", "deletion_date": metadata["DeletionDate"].isoformat()}
            if cards or data_keys:
                # A card under a key pending deletion: cancel the deletion (CancelKeyDeletion) and reseal.
                answer["state"] = "pending_deletion_in_use"
            else:
                store.record_deletion(held.epoch, scheduled_at=now, deletion_date=metadata["DeletionDate"])
        elif record.emptied_at is None:
            answer["state"] = "in_use"
        elif now - record.emptied_at < retention:
            answer |= {"state": "waiting", "until": (record.emptied_at + retention).isoformat()}
        elif dry_run or not shred_settings.schedule_deletion:
            # Due: drained for the backup retention. Without `schedule_deletion` a key administrator schedules it.
            answer["state"] = "due"
        else:
            # KeyId: the key ID (KMS also takes the key ARN; moto, the tests' KMS, only the ID).
            scheduled = kms.schedule_key_deletion(
                KeyId=metadata["KeyId"], PendingWindowInDays=shred_settings.deletion_window_days
            )
            store.record_deletion(held.epoch, scheduled_at=now, deletion_date=scheduled["DeletionDate"])
            answer |= {"state": "scheduled", "deletion_date": scheduled["DeletionDate"].isoformat()}
        epochs.append(answer)
    due = now - started >= dt.timedelta(days=shred_settings.epoch_days)
    return {"job": "shred", "current_epoch": current.epoch, "epochs": epochs, "new_epoch_due": due, "dry_run": dry_run}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point; a failure raises, so the invocation is recorded as failed (a database error's text
    and DETAIL left behind: the runtime logs what is raised, red team r19d finding 5)."""
    from card_vault.logs import log_failure, vault_logger, without_database_detail

    try:
        return _run(event)
    except Exception as err:
        clean = without_database_detail(err)
        if clean is err:
            raise
        log_failure(vault_logger(), "key maintenance failed", err, event="keys")
        raise clean from None


def _run(event: dict[str, Any]) -> dict[str, Any]:
    from card_vault import runtime
    from card_vault.logs import vault_logger

    logger = vault_logger()
    request = KeysRequest.model_validate(event)
    vault, settings = runtime.current()
    parts = vault.parts()
    vault_key_ids = [settings.kms_key_id, *(e.key_id for e in (settings.shred.epochs if settings.shred else ()))]
    if request.job == "verify":
        answer = verify(
            store=parts.store, kms=parts.kms, key_ids=vault_key_ids, limit=request.limit, dry_run=request.dry_run
        )
    elif request.job in {"reseal", "shred", "rotate"}:
        if settings.shred is None:
            raise ValueError(f"job {request.job}: no shred epochs configured (VAULT_SHRED)")
        answer = {}
        if request.job == "rotate":
            answer["verify"] = verify(
                store=parts.store, kms=parts.kms, key_ids=vault_key_ids, limit=request.limit, dry_run=request.dry_run
            )
        if request.job in {"reseal", "rotate"}:
            answer["reseal"] = reseal(
                store=parts.store, cipher=parts.cipher, limit=request.limit, dry_run=request.dry_run
            )
        if request.job in {"shred", "rotate"}:
            answer["shred"] = shred(
                store=parts.store, kms=parts.kms, shred_settings=settings.shred, dry_run=request.dry_run
            )
        if request.job != "rotate":
            answer = answer[request.job]
    elif request.job == "rewrap" and settings.shred is not None:
        # A re-wrapped data key keeps every card it ever sealed readable, deleted ones included, and leaves
        # its recorded epoch behind: with shred epochs, `reseal` is the re-encryption job.
        raise ValueError("job rewrap: shred epochs are configured (VAULT_SHRED); run reseal instead")
    elif request.job == "rehash":
        answer = rehash(
            store=parts.store, cipher=parts.cipher, hasher=parts.hasher, limit=request.limit, dry_run=request.dry_run
        )
    else:
        answer = rewrap(
            store=parts.store,
            kms=parts.kms,
            target_key_id=settings.kms_key_id,
            limit=request.limit,
            every=request.every,
            dry_run=request.dry_run,
        )
    logger.info("key maintenance", extra={"event": "keys", **answer})
    return answer
