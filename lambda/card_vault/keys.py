"""Operator-run key maintenance (PCI DSS v4.0.1 3.6.1, 3.7.1-3.7.5): re-hash and re-wrap jobs.

Invoked by an operator (`lambda:InvokeFunction`; the function has no URL, no ALB target, no
schedule and no resource policy, so only an IAM principal of this account whose own policy allows
it may call it; the platform administrator and auditor roles are denied the vault's functions,
the break-glass role is not, and every use of it alarms). Runs as the `card_vault_keys` login.

- `{"job": "rehash"}`: every card hashed under another HMAC key version than the current one
  (a rotation in progress, or version 0, the retired Secrets Manager key) is decrypted and hashed
  again with `GenerateMac` under the current version. A card its client already holds under the
  new hash (submitted again before the move) is left as it is and counted in `conflicts`: both
  tokens stay valid; dispose of one through the API.
- `{"job": "rewrap"}`: every data key wrapped by another KMS key than the configured one is
  re-encrypted under it (`kms:ReEncrypt`, the plain data key never leaves KMS);
  `{"job": "rewrap", "every": true}` re-encrypts all of them (under the key's newest material
  after a rotation of its key material).

Both are idempotent and resumable: each run handles up to `limit` rows (default 5,000) and says
whether rows remain (`"more": true`); run it again until it answers `"more": false`. `dry_run`
counts only. Answers hold counts, never a card number or a token.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from card_vault.envelope import DATA_KEY_CONTEXT, EnvelopeCipher
from card_vault.keyed_hash import KeyedHasher
from card_vault.store import CardStore

DEFAULT_LIMIT = 5_000
BATCH = 200


class KeysRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job: Literal["rehash", "rewrap"]
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


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point; a failure raises, so the invocation is recorded as failed."""
    from card_vault import runtime
    from card_vault.logs import vault_logger

    logger = vault_logger()
    request = KeysRequest.model_validate(event)
    vault, settings = runtime.current()
    parts = vault.parts()
    if request.job == "rehash":
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
