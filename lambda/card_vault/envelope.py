"""Envelope encryption of card numbers: AES-256-GCM under KMS data keys (PCI DSS v4.0.1 3.5.1, 3.6, 3.7).

Stored format, version 1 (`FORMAT_VERSION`), one row per card:

    cards.format_version   smallint  1
    cards.data_key_id      uuid      -> data_keys.id (the KMS-wrapped data key, `CiphertextBlob`)
    cards.pan_ciphertext   bytea     nonce (12 random bytes) || AES-256-GCM ciphertext || tag (16 bytes)
    cards.name_ciphertext  bytea     same layout, for the cardholder name

Authenticated data (AAD) binds each ciphertext to its row: `b"card-vault/v1/" + field + b"/" + token`,
so a ciphertext copied to another token or field, or read as another format, fails to decrypt.
A 16-digit card number is 12 + 16 + 16 = 44 bytes. Data keys are 256-bit keys from
`kms:GenerateDataKey` on the cardholder-data key with the encryption context
`{"purpose": "card-vault-data-key"}`; the wrapped key is stored once per data key, never the plain key.

Rotation: a new data key is taken after `max_age_seconds` or `max_messages` encryptions
(NIST SP 800-38D caps random 96-bit nonces at 2**32 messages per key; the default is far below);
KMS rotates the key material of the cardholder-data key yearly, and old data keys stay
decryptable because KMS keeps every key version. Each data key is decrypted with the KMS key
recorded beside it (`data_keys.kms_key_arn`), never the configured one, so a replaced key keeps
its data keys readable until `card_vault.keys.rewrap` has re-encrypted them (`kms:ReEncrypt`)
under the new one. Shred epochs (migration 0025, `card_vault.keys` jobs `reseal` and `shred`): `key_id`
may be the current shred epoch's KMS key instead of the cardholder-data key; each data key records its
epoch, and once an epoch holds no card its KMS key is scheduled for deletion, which makes every copy of
its data keys, and so of the cards sealed under them, undecryptable. An unwrapped data key is cached for
at most `decrypt_cache_max_age_seconds`:
disabling the KMS key (an incident) stops every warm detokenize within that age.

A new format gets a new version number; `open` dispatches on `format_version` (`OPENERS`) and
refuses a version it does not know with `UnsupportedFormatError`, naming the version only.

AWS docs: "AWS KMS cryptography essentials" (envelope encryption), "GenerateDataKey", "Decrypt",
"ReEncrypt".
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BITS = 256
DATA_KEY_CONTEXT = {"purpose": "card-vault-data-key"}
DEFAULT_MAX_AGE_SECONDS = 300.0
DEFAULT_MAX_MESSAGES = 1_000_000
DEFAULT_DECRYPT_CACHE_SIZE = 64
DEFAULT_DECRYPT_CACHE_MAX_AGE_SECONDS = 300.0


class DecryptionError(Exception):
    """A ciphertext failed authentication: tampered, wrong token/field, wrong key or unknown format."""


class UnsupportedFormatError(DecryptionError):
    """A stored row of a format version this release cannot read (the message names the version only)."""


class DataKeyStore(Protocol):
    """Where wrapped data keys live (the `data_keys` table)."""

    def save_data_key(self, key_id: uuid.UUID, wrapped_key: bytes, kms_key_arn: str, shred_epoch: int = 0) -> None: ...

    def load_data_key(self, key_id: uuid.UUID) -> tuple[bytes, str]:
        """The wrapped data key and the ARN of the KMS key that wrapped it."""
        ...


@dataclass
class _ActiveKey:
    key_id: uuid.UUID
    aead: AESGCM
    created: float
    messages: int = 0


@dataclass(frozen=True)
class Sealed:
    format_version: int
    data_key_id: uuid.UUID
    ciphertext: bytes


def associated_data(token: str, field: str, version: int = FORMAT_VERSION) -> bytes:
    """AAD binding a ciphertext to its format version, field and token."""
    return f"card-vault/v{version}/{field}/{token}".encode()


class EnvelopeCipher:
    """Encrypts with one cached data key at a time; decrypts with an LRU of unwrapped data keys.

    Thread-safe. `kms` is a boto3 KMS client; `key_id` the cardholder-data key's ARN or alias.
    Counts its KMS calls in `kms_calls` (the benchmark reports them per 1,000 tokenizations).
    """

    def __init__(
        self,
        *,
        kms: Any,
        key_id: str,
        store: DataKeyStore,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        decrypt_cache_size: int = DEFAULT_DECRYPT_CACHE_SIZE,
        decrypt_cache_max_age_seconds: float = DEFAULT_DECRYPT_CACHE_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        shred_epoch: int = 0,
    ) -> None:
        """`key_id` wraps every new data key; `shred_epoch` is recorded beside each (`data_keys.shred_epoch`,
        migration 0025): the epoch whose KMS key `key_id` is, 0 for the cardholder-data key."""
        if not 0 <= shred_epoch <= 9999:
            raise ValueError("shred_epoch must be 0-9999")
        if max_messages < 1 or max_age_seconds <= 0 or decrypt_cache_size < 1 or decrypt_cache_max_age_seconds <= 0:
            raise ValueError(
                "max_messages, max_age_seconds, decrypt_cache_size and decrypt_cache_max_age_seconds must be positive"
            )
        self._kms = kms
        self._key_id = key_id
        self._store = store
        self._max_age = max_age_seconds
        self._max_messages = max_messages
        self._cache_size = decrypt_cache_size
        self._cache_max_age = decrypt_cache_max_age_seconds
        self._clock = clock
        self.shred_epoch = shred_epoch
        self._lock = threading.Lock()
        self._active: _ActiveKey | None = None
        self._unwrapped: OrderedDict[uuid.UUID, tuple[AESGCM, float]] = OrderedDict()
        self.kms_calls = 0

    @property
    def kms(self) -> Any:
        return self._kms

    def _fresh(self, active: _ActiveKey | None) -> bool:
        return (
            active is not None
            and active.messages < self._max_messages
            and self._clock() - active.created < self._max_age
        )

    def _encryption_key(self) -> _ActiveKey:
        with self._lock:
            if not self._fresh(self._active):
                response = self._kms.generate_data_key(
                    KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=DATA_KEY_CONTEXT
                )
                self.kms_calls += 1
                key_id = uuid.uuid4()
                self._store.save_data_key(key_id, response["CiphertextBlob"], response["KeyId"], self.shred_epoch)
                self._active = _ActiveKey(key_id, AESGCM(response["Plaintext"]), self._clock())
                self._remember(key_id, self._active.aead)
            active = self._active
            assert active is not None
            active.messages += 1
            return active

    def _remember(self, key_id: uuid.UUID, aead: AESGCM) -> None:
        self._unwrapped[key_id] = (aead, self._clock())
        self._unwrapped.move_to_end(key_id)
        while len(self._unwrapped) > self._cache_size:
            self._unwrapped.popitem(last=False)

    def _decryption_key(self, key_id: uuid.UUID) -> AESGCM:
        """The unwrapped data key: from the cache while younger than the cache's max age, else from KMS,
        decrypted with the KMS key recorded beside it (a disabled or replaced key answers for itself)."""
        with self._lock:
            cached = self._unwrapped.get(key_id)
            if cached is not None and self._clock() - cached[1] < self._cache_max_age:
                self._unwrapped.move_to_end(key_id)
                return cached[0]
            self._unwrapped.pop(key_id, None)
        wrapped, kms_key_arn = self._store.load_data_key(key_id)
        response = self._kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=DATA_KEY_CONTEXT, KeyId=kms_key_arn)
        with self._lock:
            self.kms_calls += 1
            aead = AESGCM(response["Plaintext"])
            self._remember(key_id, aead)
            return aead

    def forget(self) -> None:
        """Drop every unwrapped data key held (the next seal takes a new data key, each open asks KMS)."""
        with self._lock:
            self._unwrapped.clear()
            self._active = None

    def seal(self, plaintext: str, *, token: str, field: str) -> Sealed:
        """Encrypt `plaintext` for (`token`, `field`) under the active data key."""
        active = self._encryption_key()
        nonce = os.urandom(NONCE_BYTES)
        body = active.aead.encrypt(nonce, plaintext.encode(), associated_data(token, field))
        return Sealed(FORMAT_VERSION, active.key_id, nonce + body)

    def open(self, sealed: Sealed, *, token: str, field: str) -> str:
        """Decrypt `sealed` for (`token`, `field`), dispatching on its format version.

        Raises UnsupportedFormatError for a version this release does not read, DecryptionError on
        any other mismatch; neither message holds any part of the plaintext.
        """
        opener = OPENERS.get(sealed.format_version)
        if opener is None:
            raise UnsupportedFormatError(
                f"stored format version {sealed.format_version} is not supported by this release"
                f" (supported: {', '.join(str(v) for v in sorted(OPENERS))})"
            )
        return opener(self, sealed, token, field)

    def _open_v1(self, sealed: Sealed, token: str, field: str) -> str:
        """Format 1: nonce(12) || AES-256-GCM ciphertext || tag(16), AAD `card-vault/v1/<field>/<token>`."""
        if len(sealed.ciphertext) <= NONCE_BYTES + 16:
            raise DecryptionError("ciphertext too short")
        aead = self._decryption_key(sealed.data_key_id)
        nonce, body = sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:]
        try:
            return aead.decrypt(nonce, body, associated_data(token, field, sealed.format_version)).decode()
        except InvalidTag:
            raise DecryptionError(
                f"ciphertext of {field} failed authentication for token {token}: tampered, moved or wrong key"
            ) from None


# Readers of each stored format version (`cards.format_version`); a new format adds its reader here.
OPENERS: dict[int, Callable[[EnvelopeCipher, Sealed, str, str], str]] = {1: EnvelopeCipher._open_v1}
