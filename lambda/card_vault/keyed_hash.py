"""Keyed hash of card numbers for duplicate detection (PCI DSS v4.0.1 3.5.1.1, key managed under 3.6/3.7).

HMAC-SHA-256 computed **inside AWS KMS** (`GenerateMac` on an HMAC_256 KMS key, key usage
GENERATE_VERIFY_MAC): the key material never leaves KMS, so no role of the vault ever holds the
keyed-hash key beside the hashes and the truncated PAN it can read (issue 19, finding 3). Every
hash is one KMS request, signed with the caller's IAM credentials and recorded by CloudTrail:
an offline brute force of a stored hash is impossible, and an online one costs one `GenerateMac`
per guess, against the account's KMS request quota (AWS docs: "HMAC keys in AWS KMS",
"GenerateMac", "Request quotas" of the AWS KMS Developer Guide).

Key versions (finding 6): each stored hash records the version of the key that made it
(`cards.hmac_key_version`). The settings list every version the vault holds (one normally, two
during a rotation); the highest is current. KMS never rotates HMAC keys on its own ("Rotating
AWS KMS keys": automatic rotation is for symmetric encryption keys only), so a rotation is a new
key version: tokenize hashes under every held version to find a card stored under the previous
one, and `card_vault.keys.rehash` moves rows to the current version. Version 0 is the retired
Secrets Manager key of earlier releases, which no role reads any more: its rows are found by the
re-hash job only.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

MAC_ALGORITHM = "HMAC_SHA_256"
MAC_BYTES = 32
# KMS has no batch form of GenerateMac (AWS KMS API Reference, "GenerateMac": one Message of 1-4096
# bytes per request, and no other operation computes an HMAC), so a batch of N cards is N requests.
# They are sent this many at a time: each is a network round trip to KMS, and a boto3 client is
# thread-safe once created (Boto3 guide "Low-level clients", "Multithreading or multiprocessing with
# clients"; its caveat on custom botocore event hooks is met by card_vault.tracing's, which keep a
# call's state in botocore's per-request context dict and a ContextVar only); botocore keeps up to 10
# pooled connections per client (`max_pool_connections`), above this figure.
MAC_CONCURRENCY = 8
LEGACY_VERSION = 0  # the Secrets Manager HMAC key of releases before issue 19: not computable any more


@dataclass(frozen=True)
class HmacKey:
    """One version of the keyed-hash key: its number and its KMS key (ARN or alias)."""

    version: int
    key_id: str


class KeyedHasher:
    """`digest(pan) -> 32 bytes` under the current key version; `digests(pan)` under every held version.

    Counts its KMS requests in `kms_calls` (one per digest). Thread-safe.
    """

    def __init__(self, *, kms: Any, keys: Sequence[HmacKey]) -> None:
        if not keys:
            raise ValueError("keys: name at least one HMAC key version")
        versions = [k.version for k in keys]
        if len(set(versions)) != len(versions) or min(versions) <= LEGACY_VERSION:
            raise ValueError(f"keys: versions must be distinct and above {LEGACY_VERSION}, got {sorted(versions)}")
        self._kms = kms
        self._keys = tuple(sorted(keys, key=lambda k: k.version, reverse=True))
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.kms_calls = 0

    @property
    def current(self) -> HmacKey:
        return self._keys[0]

    @property
    def previous(self) -> tuple[HmacKey, ...]:
        """Versions still held during a rotation, newest first (rows under them are found and re-hashed)."""
        return self._keys[1:]

    def digest(self, pan: str, key: HmacKey | None = None) -> bytes:
        """One `GenerateMac` under `key` (default: the current version)."""
        key = key or self.current
        response = self._kms.generate_mac(KeyId=key.key_id, MacAlgorithm=MAC_ALGORITHM, Message=pan.encode())
        with self._lock:
            self.kms_calls += 1
        mac = bytes(response["Mac"])
        if len(mac) != MAC_BYTES:
            raise ValueError(f"GenerateMac returned {len(mac)} bytes, expected {MAC_BYTES} ({MAC_ALGORITHM})")
        return mac

    def digest_many(self, pans: Sequence[str], key: HmacKey | None = None) -> list[bytes]:
        """`digest` of each of `pans` (one `GenerateMac` each), `MAC_CONCURRENCY` requests at a time; in order.

        Each request runs in a copy of the caller's context, so its trace subsegment nests where a
        sequential call's would."""
        if len(pans) <= 1:
            return [self.digest(pan, key) for pan in pans]
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=MAC_CONCURRENCY, thread_name_prefix="card-vault-mac")
            executor = self._executor
        futures = [executor.submit(contextvars.copy_context().run, self.digest, pan, key) for pan in pans]
        return [future.result() for future in futures]

    def digests(self, pan: str) -> dict[int, bytes]:
        """The hash under every held version, current first (one `GenerateMac` each)."""
        return {key.version: self.digest(pan, key) for key in self._keys}
