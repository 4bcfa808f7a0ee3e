"""The vault's logic, independent of Lambda and HTTP: tokenize, masked lookup, detokenize, dispose, purge.

Thread-safe; one `Vault` per process (the Lambda handlers build it once, at cold start).
Errors raised carry no card data: `CardNotFoundError` names the token only.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from card_vault.envelope import DecryptionError, EnvelopeCipher
from card_vault.keyed_hash import KeyedHasher
from card_vault.models import CardView, TokenizeRequest, UpdateRequest
from card_vault.pan import masked_view
from card_vault.store import Budget, CardStore, NewCard, Replay, Reservation, StoredCard

TOKEN_PREFIX = "tok_"  # noqa: S105 -- a format, not a credential
TOKEN_BYTES = 24  # 32 URL-safe characters, 192 random bits
# pci_constructs/web_acl.py CARD_NUMBER_REGEX (a test holds them equal): what the web ACL blocks in a URI.
CARD_NUMBER_RUN = re.compile(r"[0-9](?:[ ._/+-]{0,2}[0-9]){12}")


class CardNotFoundError(LookupError):
    """No card has this token (never stored, disposed of or purged)."""


class SiblingLimitError(LookupError):
    """A card's (first six, last four) pair reached the sibling limit (`vault.reserve_siblings`): nothing stored.

    `refused` holds the refused pairs' reservations (the limit, window and seconds until it ends)."""

    def __init__(self, refused: list[Reservation]) -> None:
        super().__init__("sibling limit reached for a (first six, last four) pair")
        self.refused = refused


class IdempotencyMismatchError(ValueError):
    """An idempotency key still live was sent with a different request, now or before (the key is locked:
    every later use gets this, the first request's own retry included; migration 0018)."""


IDEMPOTENCY_TTL_SECONDS = 24 * 3600


def idempotency_key_hash(key: str) -> bytes:
    """What the vault keeps of a client's Idempotency-Key: its SHA-256, never the text."""
    return hashlib.sha256(b"card-vault/idempotency-key/v1\x00" + key.encode()).digest()


def _fingerprint(request: TokenizeRequest, pan_hmac: bytes) -> bytes:
    """An idempotent request's fingerprint: SHA-256 over the PAN's keyed hash and the other fields."""
    fields = {k: v for k, v in request.model_dump().items() if k != "pan"}
    return hashlib.sha256(
        b"card-vault/idempotent-request/v1\x00" + pan_hmac + json.dumps(fields, sort_keys=True).encode()
    ).digest()


def new_token(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A random token with no relation to the card number (PCI DSS 3.5.1: index tokens), `tok_` + 32 URL-safe
    characters, never one that `CARD_NUMBER_RUN` finds a card number in.

    The web ACL blocks a request whose path or headers hold such a run (pci_constructs/web_acl.py
    CARD_NUMBER_REGEX, the same pattern), so a token must never look like one: a draw that does
    (about 1 in 10^9) is discarded and drawn again, which leaves 192 bits less a negligible fraction.
    """
    while True:
        token = TOKEN_PREFIX + base64.urlsafe_b64encode(random_bytes(TOKEN_BYTES)).decode("ascii")
        if not CARD_NUMBER_RUN.search(token):
            return token


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
    replayed: bool = False


@dataclass(frozen=True)
class Hashed:
    """A card to tokenize with its keyed hashes, computed before its reservation: each reserved credit is bound
    to one of them (migration 0027). `older`: its hash under each older HMAC key version held (a rotation)."""

    request: TokenizeRequest
    pan_hmac: bytes
    older: tuple[tuple[int, bytes], ...] = ()

    @property
    def pair(self) -> tuple[str, str]:
        return masked_view(self.request.pan)

    def credits(self) -> list[tuple[str, str, bytes]]:
        """(first six, last four, keyed hash) of every hash the store compares for this card: one per version."""
        first6, last4 = self.pair
        return [(first6, last4, self.pan_hmac)] + [(first6, last4, mac) for _, mac in self.older]


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

    def _new_card(self, hashed: Hashed, *, client_id: str) -> NewCard:
        request = hashed.request
        candidate = new_token()
        first6, last4 = hashed.pair
        return NewCard(
            client_id=client_id,
            token=candidate,
            pan_hmac=hashed.pan_hmac,
            hmac_key_version=self._hasher.current.version,
            pan=self._cipher.seal(request.pan, token=candidate, field="pan"),
            name=self._cipher.seal(request.cardholder_name, token=candidate, field="name"),
            brand=request.brand,
            first6=first6,
            last4=last4,
            expiry_month=request.expiry_month,
            expiry_year=request.expiry_year,
            older=hashed.older,
        )

    def hash_cards(self, requests: list[TokenizeRequest]) -> list[Hashed]:
        """Every card's keyed hash under each HMAC key version held: one `GenerateMac` per card and version (one
        normally, two during a rotation), sent concurrently for a batch (KMS has no batch form)."""
        if len(requests) == 1:
            pan = requests[0].pan
            older = tuple((key.version, self._hasher.digest(pan, key)) for key in self._hasher.previous)
            return [Hashed(requests[0], self._hasher.digest(pan), older)]
        pans = [r.pan for r in requests]
        current = self._hasher.digest_many(pans)
        previous = [(key.version, self._hasher.digest_many(pans, key)) for key in self._hasher.previous]
        return [
            Hashed(request, mac, tuple((version, macs[i]) for version, macs in previous))
            for i, (request, mac) in enumerate(zip(requests, current, strict=True))
        ]

    def _reserve_or_raise(self, client_id: str, hashed: list[Hashed]) -> None:
        refused = [r for r in self.reserve_siblings(client_id, hashed) if not r.granted]
        if refused:
            raise SiblingLimitError(refused)

    def reserve_siblings(self, client_id: str, hashed: list[Hashed]) -> list[Reservation]:
        """Reserve every card of `hashed` in its (first six, last four) pair's sibling count before it is
        tokenized, stored card, replay or not (`CardStore.reserve_siblings`); a pair's cards all or none.

        A card counts once per keyed hash the store compares for it: one, plus one per older HMAC key version
        held during a rotation (migration 0026), and each such credit is bound to that hash (migration 0027):
        the database answers for no other hash with it, even when the answer's transaction is rolled back."""
        return self._store.reserve_siblings(client_id, [c for h in hashed for c in h.credits()])

    def take_detokenize_budget(self, caller: str, *, limit: int, window_seconds: int) -> Budget:
        """Draw one detokenization from the caller's shared budget (`CardStore.take_detokenize_budget`)."""
        return self._store.take_detokenize_budget(caller, limit=limit, window_seconds=window_seconds)

    def tokenize_idempotent(
        self, request: TokenizeRequest, *, client_id: str, key: str, hashed: Hashed | None = None
    ) -> Tokenized:
        """`tokenize` under an Idempotency-Key: the same key and request give the first answer again.

        The key's answer is stored in the card's own transaction. The request's fingerprint is a
        SHA-256 over the card number's keyed hash and the other fields, so it reveals no more than
        the keyed hash. Raises IdempotencyMismatchError for a live key sent with another request, and
        from then on for every use of that key, the first request's own retry included (red team
        r19b H1: otherwise the key answers one middle-digit guess per call, right or wrong).

        During an HMAC key rotation (older versions held) the path checks what `tokenize` checks: a
        card stored under an older version is answered, not stored twice, and a replay whose first
        request was fingerprinted under an older version still matches (one `GenerateMac` per
        older version held, during a rotation only).

        `hashed`: the card's hashes (`hash_cards`), which the caller reserved (`reserve_siblings`); without
        it this hashes and reserves, raising SiblingLimitError when the pair is at its limit. The database
        spends the credits bound to the card's hashes when it answers for the key or stores the card
        (migration 0027) and raises `store.SiblingReservationError` when none covers them.
        """
        if hashed is None:
            hashed = self.hash_cards([request])[0]
            self._reserve_or_raise(client_id, [hashed])
        request_hash = _fingerprint(request, hashed.pan_hmac)
        # The card's hash and the request's fingerprint under every HMAC key version held: the database
        # compares them with the key's card and first request, spending one bound credit per hash sent.
        request_hashes = [(self._hasher.current.version, hashed.pan_hmac, request_hash)] + [
            (version, mac, _fingerprint(request, mac)) for version, mac in hashed.older
        ]
        key_hash = idempotency_key_hash(key)
        earlier = self._store.idempotent_answer(client_id, key_hash, hashed.pair, request_hashes)
        if earlier is None:
            # A card stored under an older key version is found by vault.tokenize_card (within its pair) and
            # answered 200, as a card stored under the current one.
            outcome = self._store.insert_idempotent(
                self._new_card(hashed, client_id=client_id),
                key_hash=key_hash,
                request_hash=request_hash,
                request_hashes=request_hashes,
                answer=lambda stored, created: (201 if created else 200, view_of(stored).model_dump_json()),
                ttl_seconds=IDEMPOTENCY_TTL_SECONDS,
            )
            if not isinstance(outcome, Replay):
                stored, created = outcome
                return Tokenized(view_of(stored), created=created)
            earlier = outcome.answer
        if earlier.locked:
            raise IdempotencyMismatchError("Idempotency-Key was used with a different request")
        return Tokenized(CardView.model_validate_json(earlier.response), created=earlier.status == 201, replayed=True)

    def tokenize_many(
        self, requests: list[TokenizeRequest], *, client_id: str, hashed: list[Hashed] | None = None
    ) -> list[Tokenized]:
        """Tokenize every card in one transaction (one durable commit); answers in the order given.

        A card sent twice in one batch gets one token (the second answer is `created=False`). A card stored
        under an older HMAC key version (a rotation) is found, within its pair, by `vault.tokenize_cards`.
        `hashed` as in `tokenize_idempotent`, one per request: without it, SiblingLimitError when any pair is at
        its limit.
        """
        if not requests:
            return []
        if hashed is None:
            hashed = self.hash_cards(requests)
            self._reserve_or_raise(client_id, hashed)
        if [h.request for h in hashed] != requests:
            raise ValueError("tokenize_many: one hashed card per request, in order")
        cards = [self._new_card(h, client_id=client_id) for h in hashed]
        return [Tokenized(view_of(stored), created) for stored, created in self._store.insert_many(cards)]

    def tokenize_many_reserved(
        self, requests: list[TokenizeRequest], *, client_id: str, hashed: list[Hashed] | None = None
    ) -> tuple[list[Reservation], list[Tokenized | None]]:
        """Reserve every card and tokenize those of the granted pairs in one database round trip
        (`CardStore.reserve_and_insert_many`, migration 0042): the reservations as `reserve_siblings` answers them
        and, per request in order, its answer as `tokenize_many` gives it, or None (its pair refused, or the whole
        request refused for the reset guard or the budget: nothing stored). `hashed` as in `tokenize_many`."""
        if not requests:
            return [], []
        if hashed is None:
            hashed = self.hash_cards(requests)
        if [h.request for h in hashed] != requests:
            raise ValueError("tokenize_many_reserved: one hashed card per request, in order")
        cards = [self._new_card(h, client_id=client_id) for h in hashed]
        reservations, outcomes = self._store.reserve_and_insert_many(cards)
        return reservations, [None if o is None else Tokenized(view_of(o[0]), o[1]) for o in outcomes]

    def update(self, token: str, request: UpdateRequest, *, client_id: str) -> CardView:
        """Set a card's expiry and/or cardholder name (the name sealed again under the current data key)."""
        expiry = None
        if request.expiry_month is not None and request.expiry_year is not None:
            expiry = (request.expiry_month, request.expiry_year)
        name = None
        if request.cardholder_name is not None:
            name = self._cipher.seal(request.cardholder_name, token=token, field="name")
        card = self._store.update(token, client_id=client_id, expiry=expiry, name=name)
        if card is None:
            raise CardNotFoundError(token)
        return view_of(card)

    def healthy(self) -> bool:
        """The database answers (the load balancer's health check)."""
        return self._store.ping()

    def tokenize(self, request: TokenizeRequest, *, client_id: str, hashed: Hashed | None = None) -> Tokenized:
        """Store the card once per client; the same number from the same client returns its first token.

        Each client is its own token domain: duplicate detection, lookup and disposal see only the
        client's own cards, so another client's tokenize answer reveals nothing about them.

        A later expiry sent for a stored card replaces the stored one (a reissued card), so the
        answer always shows the current expiry; an earlier one leaves it as it is.

        One database round trip when `hashed` is None (`tokenize_reserved`: reservation and store in one
        CALL, migration 0042), two when the caller reserved already; the insert itself detects a duplicate
        (unique keyed hash), so concurrent submissions of one card give one row and one token. KMS: one `GenerateMac`
        (plus one per older key version held during a rotation), and a `GenerateDataKey` only when
        the cached data key is due (every 5 minutes or 1,000,000 encryptions).

        `hashed` as in `tokenize_idempotent`: the database spends the credits reserved for the card's (first
        six, last four) and each of its keyed hashes (migration 0027), so without them this hashes and
        reserves (raising SiblingLimitError at the limit).
        """
        if hashed is None:
            reservation, result = self.tokenize_reserved(request, client_id=client_id)
            if result is None:
                raise SiblingLimitError([reservation])
            return result
        stored, created = self._store.insert(self._new_card(hashed, client_id=client_id))
        return Tokenized(view_of(stored), created=created)

    def tokenize_reserved(
        self, request: TokenizeRequest, *, client_id: str, hashed: Hashed | None = None
    ) -> tuple[Reservation, Tokenized | None]:
        """Reserve and tokenize one card in one database round trip (`CardStore.reserve_and_insert`, migration
        0042): the card's (first six, last four) reservation, as `reserve_siblings` answers it, and the card's
        answer as `tokenize` gives it, or None when the reservation was refused (nothing stored).

        The reservation is committed in the database before the card is stored or found (migration 0027's rule),
        so it counts whatever happens to the answer. `hashed`: the card's hashes (`hash_cards`), computed here
        when None (one `GenerateMac` per HMAC key version held). Raises `store.SiblingReservationError` when the
        credits lapsed between the two steps, `psycopg.DatabaseError` (SQLSTATE `CV006`) for a client without a
        budget."""
        if hashed is None:
            hashed = self.hash_cards([request])[0]
        elif hashed.request != request:
            raise ValueError("tokenize_reserved: the hashed card is another request's")
        reservation, outcome = self._store.reserve_and_insert(self._new_card(hashed, client_id=client_id))
        if outcome is None:
            return reservation, None
        stored, created = outcome
        return reservation, Tokenized(view_of(stored), created=created)

    def lookup(self, token: str, *, client_id: str) -> CardView:
        card = self._store.get(token, client_id=client_id)
        if card is None:
            raise CardNotFoundError(token)
        return view_of(card)

    def detokenize(self, token: str, *, reason_code: str, ticket: str, request_id: str, caller: str) -> str:
        """The card number behind `token`; raises CardNotFoundError or envelope.DecryptionError.

        The read itself appends the audit row (migration 0012), naming `caller` (the function alias the
        invocation came through, migration 0020); a ciphertext that fails authentication adds a 'tampered'
        row for the same request and caller."""
        sealed = self._store.sealed_pan(
            token, reason_code=reason_code, ticket=ticket, request_id=request_id, caller=caller
        )
        if sealed is None:
            raise CardNotFoundError(token)
        try:
            return self._cipher.open(sealed, token=token, field="pan")
        except DecryptionError:
            self._store.record_tampered(token=token, request_id=request_id)
            raise

    def purge_idempotency_keys(self) -> int:
        return self._store.purge_idempotency_keys()

    def dispose(self, token: str, *, client_id: str) -> None:
        if not self._store.delete(token, client_id=client_id):
            raise CardNotFoundError(token)

    def purge(self, *, grace_days: int, today: dt.date | None = None, dry_run: bool = False) -> int:
        return self._store.purge_expired(
            grace_days=grace_days, today=today or dt.datetime.now(dt.UTC).date(), dry_run=dry_run
        )
