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

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAC_ALGORITHM = "HMAC_SHA_256"
MAC_BYTES = 32
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

    def digests(self, pan: str) -> dict[int, bytes]:
        """The hash under every held version, current first (one `GenerateMac` each)."""
        return {key.version: self.digest(pan, key) for key in self._keys}
