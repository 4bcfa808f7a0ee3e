"""The vault's logic, independent of Lambda and HTTP: tokenize, masked lookup, detokenize, dispose, purge.

Thread-safe; one `Vault` per process (the Lambda handlers build it once, at cold start).
Errors raised carry no card data: `CardNotFoundError` names the token only.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from card_vault.envelope import EnvelopeCipher
from card_vault.keyed_hash import KeyedHasher
from card_vault.models import CardView, TokenizeRequest
from card_vault.pan import masked_view
from card_vault.store import CardStore, NewCard, StoredCard

TOKEN_PREFIX = "tok_"  # noqa: S105 -- a format, not a credential
TOKEN_BYTES = 24  # 32 URL-safe characters, 192 random bits


class CardNotFoundError(LookupError):
    """No card has this token (never stored, disposed of or purged)."""


def new_token() -> str:
    """A random token with no relation to the card number (PCI DSS 3.5.1: index tokens)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def view_of(card: StoredCard) -> CardView:
    return CardView(
        token=card.token,
        brand=card.brand,
        first6=card.first6,
        last4=card.last4,
        expiry=f"{card.expiry_year:04d}-{card.expiry_month:02d}",
    )


@dataclass(frozen=True)
class Tokenized:
    view: CardView
    created: bool


@dataclass(frozen=True)
class VaultParts:
    """What the key-maintenance jobs work with (`card_vault.keys`)."""

    store: CardStore
    cipher: EnvelopeCipher
    hasher: KeyedHasher
    kms: Any


class Vault:
    def __init__(self, *, store: CardStore, cipher: EnvelopeCipher, hasher: KeyedHasher) -> None:
        self._store = store
        self._cipher = cipher
        self._hasher = hasher

    def parts(self) -> VaultParts:
        return VaultParts(self._store, self._cipher, self._hasher, self._cipher.kms)

    def tokenize(self, request: TokenizeRequest, *, client_id: str) -> Tokenized:
        """Store the card once per client; the same number from the same client returns its first token.

        Each client is its own token domain: duplicate detection, lookup and disposal see only the
        client's own cards, so another client's tokenize answer reveals nothing about them.

        A later expiry sent for a stored card replaces the stored one (a reissued card), so the
        answer always shows the current expiry; an earlier one leaves it as it is.

        One round trip for a new card: the insert itself detects a duplicate (unique keyed hash),
        so concurrent submissions of one card give one row and one token. KMS: one `GenerateMac`
        (plus one per older key version held during a rotation), and a `GenerateDataKey` only when
        the cached data key is due (every 5 minutes or 1,000,000 encryptions).
        """
        # One GenerateMac per held key version: one normally, two while a rotation is in progress.
        pan_hmac = self._hasher.digest(request.pan)
        for older in self._hasher.previous:
            found = self._store.find_under(
                client_id=client_id,
                hmac_key_version=older.version,
                pan_hmac=self._hasher.digest(request.pan, older),
                expiry=(request.expiry_year, request.expiry_month),
            )
            if found is not None:
                return Tokenized(view_of(found), created=False)
        candidate = new_token()
        first6, last4 = masked_view(request.pan)
        stored, created = self._store.insert(
            NewCard(
                client_id=client_id,
                token=candidate,
                pan_hmac=pan_hmac,
                hmac_key_version=self._hasher.current.version,
                pan=self._cipher.seal(request.pan, token=candidate, field="pan"),
                name=self._cipher.seal(request.cardholder_name, token=candidate, field="name"),
                brand=request.brand,
                first6=first6,
                last4=last4,
                expiry_month=request.expiry_month,
                expiry_year=request.expiry_year,
            )
        )
        return Tokenized(view_of(stored), created=created)

    def lookup(self, token: str, *, client_id: str) -> CardView:
        card = self._store.get(token, client_id=client_id)
        if card is None:
            raise CardNotFoundError(token)
        return view_of(card)

    def detokenize(self, token: str) -> str:
        """The card number behind `token`; raises CardNotFoundError or envelope.DecryptionError."""
        sealed = self._store.sealed_pan(token)
        if sealed is None:
            raise CardNotFoundError(token)
        return self._cipher.open(sealed, token=token, field="pan")

    def dispose(self, token: str, *, client_id: str) -> None:
        if not self._store.delete(token, client_id=client_id):
            raise CardNotFoundError(token)

    def purge(self, *, grace_days: int, today: dt.date | None = None, dry_run: bool = False) -> int:
        return self._store.purge_expired(
            grace_days=grace_days, today=today or dt.datetime.now(dt.UTC).date(), dry_run=dry_run
        )
