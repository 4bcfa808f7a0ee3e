"""PostgreSQL access for the vault: psycopg 3, parameterized SQL only, pooled connections.

Every statement is a constant with `%s`/`%(name)s` placeholders (PCI DSS v4.0.1 6.2.4);
values travel separately from the SQL text. One pool per process is reused across Lambda
invocations; a connection idle a second or more is checked and replaced if broken.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from card_vault.envelope import Sealed

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

SCHEMA = "vault"


def dict_row(cursor: Any) -> Any:
    """psycopg's `dict_row`, imported when a query first runs: psycopg is not loaded with the handler
    module (about 100 ms of its cold import), only by the first invocation that opens the pool."""
    from psycopg.rows import dict_row as factory

    return factory(cursor)


@dataclass(frozen=True)
class StoredCard:
    token: str
    brand: str
    first6: str
    last4: str
    expiry_month: int
    expiry_year: int


@dataclass(frozen=True)
class NewCard:
    client_id: str
    token: str
    pan_hmac: bytes
    hmac_key_version: int
    pan: Sealed
    name: Sealed
    brand: str
    first6: str
    last4: str
    expiry_month: int
    expiry_year: int
    # The card's hash under each older HMAC key version held (a rotation in progress), oldest last:
    # `vault.tokenize_card` looks the card up under them, within its (first six, last four), before storing it.
    older: tuple[tuple[int, bytes], ...] = ()


class SiblingReservationError(LookupError):
    """The database refused to store or answer for a card because no unspent sibling reservation of its
    (first six, last four) pair bound to its keyed hash covers it (SQLSTATE `CV001`, `vault.spend_card_hashes`,
    migration 0027): the reservation was never taken, was spent, or its window ended between the reservation
    and the store."""


# `vault.spend_card_hashes`' refusal (migrations 0023, 0027).
NO_RESERVATION_SQLSTATE = "CV001"


def _no_reservation(err: Exception) -> bool:
    return getattr(err, "sqlstate", None) == NO_RESERVATION_SQLSTATE


@dataclass(frozen=True)
class ResealRow:
    """A card the Keys job seals again under the current shred epoch: its card number and name as stored
    (`name.data_key_id` is the name's data key, `name_data_key_id` the column as stored, None when the name
    shares the card number's data key)."""

    token: str
    pan: Sealed
    name: Sealed
    name_data_key_id: uuid.UUID | None


@dataclass(frozen=True)
class EpochRecord:
    """One row of `vault.shred_epochs` (migration 0025)."""

    epoch: int
    kms_key_arn: str
    first_seen_at: dt.datetime
    emptied_at: dt.datetime | None
    deletion_scheduled_at: dt.datetime | None
    deletion_date: dt.datetime | None


@dataclass(frozen=True)
class Budget:
    """A tokenize budget decision: granted, or refused until the window ends (`retry_after` seconds)."""

    granted: bool
    retry_after: int


@dataclass(frozen=True)
class IdempotentAnswer:
    """A live idempotency key's answer (`vault.idempotent_answer`, migration 0018): the first request's
    status and response replayed, or `locked` (the key was sent with a different request: that use and
    every later one, right guess or wrong, get the same refusal)."""

    locked: bool
    status: int = 0
    response: str = ""


@dataclass(frozen=True)
class Reservation:
    """One (first six, last four) pair's sibling reservation: `cards` granted or refused, the pair's count
    in its window before it (`earlier`), and the seconds until that window ends."""

    pair: tuple[str, str]
    cards: int
    granted: bool
    earlier: int
    retry_after: int
    # The limit and window the database applied (`vault.card_search_settings`, migration 0021).
    max_siblings: int = 0
    window_seconds: int = 0
    # Why the database refused the pair (migration 0034): `reset` (every reservation closed for one window after a
    # reset of the unlogged counts, migration 0033), `budget` (the client's tokenize budget of this minute is
    # spent), `siblings` (the pair's limit); None when granted. `budget_per_minute`: the client's budget applied.
    refusal: str | None = None
    budget_per_minute: int = 0

    @property
    def siblings(self) -> int:
        """The reserved cards that share the pair with an earlier card of the window (`SiblingCards`)."""
        return self.cards - (1 if self.earlier == 0 else 0) if self.granted else 0


@dataclass(frozen=True)
class Replay:
    """An idempotency key already used within its lifetime: the stored answer, or a mismatch."""

    answer: IdempotentAnswer


# A connection is checked (an empty query, one round trip) when it leaves the pool only if it sat
# idle this long: a Lambda environment is frozen between invocations (the monotonic clock runs on), so
# the first use after a thaw is checked, while back-to-back statements of a busy instance skip the
# extra round trip (about a third of a tokenization's database time).
IDLE_CHECK_SECONDS = 1.0
_returned_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def _check_if_idle(conn: Any) -> None:
    from psycopg_pool import ConnectionPool

    returned = _returned_at.get(conn)
    if returned is None or time.monotonic() - returned >= IDLE_CHECK_SECONDS:
        ConnectionPool.check_connection(conn)


def open_pool(
    conninfo: str | Callable[[], str],
    *,
    max_size: int = 1,
    kwargs: dict[str, Any] | None = None,
) -> ConnectionPool:
    """A pool whose connections autocommit; `conninfo` may be a callable (a fresh IAM token per connection).

    A connection idle `IDLE_CHECK_SECONDS` or more is checked before use, and replaced if broken.
    """
    from psycopg_pool import ConnectionPool

    class VaultPool(ConnectionPool):
        """Notes when each connection comes back, in the returning thread.

        A `reset` callback would do the same but makes psycopg_pool hand every returned connection to
        a worker thread (`ReturnConnection`), so the next statement of the same request found no
        connection ready and waited for that thread (issue 19 measured up to a 5 ms GIL switch
        interval on a busy single-connection pool); without `reset` the return is synchronous."""

        def putconn(self, conn: Any) -> None:
            _returned_at[conn] = time.monotonic()
            super().putconn(conn)

    return VaultPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, **(kwargs or {})},
        check=_check_if_idle,
        open=True,
        name="card-vault",
    )


def _card_arrays(client_id: str, version: int, cards: list[NewCard], older_versions: list[int]) -> tuple[Any, ...]:
    """The parameters `vault.tokenize_cards` and `vault.tokenize_batch` take for a batch, in their order: the
    client, the HMAC key version, one array per card column (token, hash, format version, data key, PAN and
    name ciphertexts, brand, first six, last four, expiry month and year), the older versions and their MACs."""
    return (
        client_id,
        version,
        [c.token for c in cards],
        [c.pan_hmac for c in cards],
        [c.pan.format_version for c in cards],
        [c.pan.data_key_id for c in cards],
        [c.pan.ciphertext for c in cards],
        [c.name.ciphertext for c in cards],
        [c.brand for c in cards],
        [c.first6 for c in cards],
        [c.last4 for c in cards],
        [c.expiry_month for c in cards],
        [c.expiry_year for c in cards],
        older_versions,
        [mac for c in cards for _, mac in c.older],
    )


class _KeyTakenError(Exception):
    """Rolls back a transaction whose idempotency key another request holds."""


# An Idempotency-Key's answer, stored unless a live one is (an expired one is replaced); true when stored.
# A client-scoped SECURITY DEFINER function (migration 0018): the API login reads no key row.
_REMEMBER_KEY = (
    "SELECT vault.remember_idempotent_key(%(client)s, %(key)s, %(token)s, %(req)s, %(status)s::smallint,"
    " %(response)s, %(ttl)s)"
)


class CardStore:
    """The `vault.cards` and `vault.data_keys` tables; each method is one short statement. The API login
    reaches `vault.cards` only through SECURITY DEFINER functions (migrations 0012 and 0014)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def save_data_key(self, key_id: uuid.UUID, wrapped_key: bytes, kms_key_arn: str, shred_epoch: int = 0) -> None:
        """Store one wrapped data key (`vault.save_data_key`, migration 0029): the database records it under the
        configured shred epoch (`vault.data_key_settings`, written by the migration function) and refuses one
        wrapped by another KMS key than the configured one (SQLSTATE `CV003`), so no login chooses an epoch
        (red team r19c M1). `shred_epoch`, the cipher's view of the current epoch, is not sent: the database's
        configuration decides (the same configuration, written by the migration function)."""
        del shred_epoch
        with self._pool.connection() as conn:
            conn.execute("SELECT vault.save_data_key(%s, %s, %s)", (key_id, wrapped_key, kms_key_arn))

    def load_data_key(self, key_id: uuid.UUID) -> tuple[bytes, str]:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT wrapped_key, kms_key_arn FROM vault.data_keys WHERE id = %s", (key_id,)
            ).fetchone()
        if row is None:
            raise LookupError(f"data key {key_id} not found")
        return bytes(row[0]), str(row[1])

    def reserve_siblings(self, client_id: str, hashes: list[tuple[str, str, bytes]]) -> list[Reservation]:
        """Reserve one tokenization per (first six, last four, keyed hash) of `hashes` before the cards are
        tokenized, a pair's hashes all or none (`vault.reserve_tokenizations`, migrations 0027, 0034): one statement,
        one row lock per pair, so concurrent requests cannot pass the limit together (red team r19b M2). Each
        credit is bound to its hash: the store and the key look-up answer only for a hash reserved, so a
        transaction rolled back after an answer gets back a credit for that same hash only (red team r19c H1).
        Autocommit, its own transaction: the answering functions refuse a transaction that has written
        (SQLSTATE `CV002`). The limit and window are the database's (`vault.card_search_settings`), never this
        login's: each row returns the ones applied. One row per pair, `cards` its hashes reserved.

        The same statement takes one unit of the client's tokenize budget per keyed hash (migration 0034), with the
        limit the migration function wrote (`vault.tokenize_limits`), all or none, in a sliding window of 61
        one-second buckets (migration 0037: never more than the limit in any 60 seconds): a refused budget, a closed
        reset guard or a full pair is each row's `refusal`. Raises `psycopg.DatabaseError` with SQLSTATE `CV006`
        when `client_id` has no `vault.tokenize_limits` row (not a configured client, migration 0036)."""
        if not hashes:
            return []
        ordered = sorted(hashes)
        cards: dict[tuple[str, str], int] = {}
        for first6, last4, _ in ordered:
            cards[(first6, last4)] = cards.get((first6, last4), 0) + 1
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT first6, last4, granted, earlier, retry_after, max_siblings, window_seconds, refusal,"
                " budget_per_minute FROM vault.reserve_tokenizations(%s, %s::text[], %s::text[], %s::bytea[])",
                (client_id, [h[0] for h in ordered], [h[1] for h in ordered], [h[2] for h in ordered]),
            ).fetchall()
        return [
            Reservation(
                (str(r[0]), str(r[1])),
                cards[(str(r[0]), str(r[1]))],
                bool(r[2]),
                int(r[3] or 0),
                int(r[4]),
                int(r[5]),
                int(r[6]),
                None if r[7] is None else str(r[7]),
                int(r[8]),
            )
            for r in rows
        ]

    def take_detokenize_budget(self, caller: str, *, limit: int, window_seconds: int) -> Budget:
        """Take one detokenization from the caller's budget of `limit` per window, or refuse: one statement on
        an unlogged table (no WAL flush at commit), on the database's clock, a fixed window shared by every
        instance (`vault.detokenize_budget`)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                """
                WITH w AS (
                    SELECT to_timestamp(floor(extract(epoch FROM clock_timestamp()) / %(w)s) * %(w)s) AS start
                ), taken AS (
                    INSERT INTO vault.detokenize_budget AS b (caller, window_start, used)
                    SELECT %(caller)s, w.start, 1 FROM w
                    ON CONFLICT (caller) DO UPDATE
                        SET used = CASE WHEN b.window_start = EXCLUDED.window_start THEN b.used + 1 ELSE 1 END,
                            window_start = EXCLUDED.window_start
                        WHERE b.window_start <> EXCLUDED.window_start OR b.used + 1 <= %(limit)s
                    RETURNING used
                )
                SELECT (SELECT count(*) FROM taken),
                       ceil(extract(epoch FROM (SELECT start FROM w) + make_interval(secs => %(w)s)
                            - clock_timestamp()))::int
                """,
                {"caller": caller, "limit": limit, "w": window_seconds},
            ).fetchone()
        assert row is not None
        return Budget(granted=bool(row[0]), retry_after=max(1, int(row[1])))

    def idempotent_answer(
        self, client_id: str, key_hash: bytes, pair: tuple[str, str], hashes: list[tuple[int, bytes, bytes]]
    ) -> IdempotentAnswer | None:
        """The live answer under this client's key for a card of `pair` with `hashes` (key version, the card
        number's keyed hash under it, the request's fingerprint under it: current version first), `locked`, or
        None (never used, or expired). A client-scoped function (migration 0027): the database compares the
        key's card's hash and the fingerprints, spending one reserved credit per hash sent, the API login reads
        no key row, and a mismatch locks the key."""
        from psycopg import DatabaseError

        try:
            with self._pool.connection() as conn:
                row = conn.execute(
                    "SELECT outcome, status, response FROM vault.idempotent_answer(%s, %s, %s, %s,"
                    " %s::smallint[], %s::bytea[], %s::bytea[])",
                    (
                        client_id,
                        key_hash,
                        pair[0],
                        pair[1],
                        [h[0] for h in hashes],
                        [h[1] for h in hashes],
                        [h[2] for h in hashes],
                    ),
                ).fetchone()
        except DatabaseError as err:
            if _no_reservation(err):
                raise SiblingReservationError("no sibling reservation covers this card") from None
            raise
        if row is None:
            return None
        if row[0] != "replay":
            return IdempotentAnswer(locked=True)
        return IdempotentAnswer(locked=False, status=int(row[1]), response=str(row[2]))

    def insert_idempotent(
        self,
        card: NewCard,
        *,
        key_hash: bytes,
        request_hash: bytes,
        request_hashes: list[tuple[int, bytes, bytes]],
        answer: Callable[[StoredCard, bool], tuple[int, str]],
        ttl_seconds: int,
    ) -> tuple[StoredCard, bool] | Replay:
        """Insert `card` and store its answer under the key in one transaction.

        When the key is already live (a concurrent or earlier request), nothing of this request is
        kept (the transaction rolls back, giving the card's credits back) and that key's answer for
        `request_hashes` ((key version, keyed hash, fingerprint) under each HMAC key version held) is returned
        as a `Replay`. The store is the transaction's first statement: `vault.tokenize_card` answers only in a
        transaction that has written nothing before (migration 0027).
        """
        with self._pool.connection() as conn:
            try:
                with conn.transaction():
                    stored, created = self._insert(conn, card)
                    status, response = answer(stored, created)
                    row = conn.execute(
                        _REMEMBER_KEY,
                        {
                            "client": card.client_id,
                            "key": key_hash,
                            "token": stored.token,
                            "req": request_hash,
                            "status": status,
                            "response": response,
                            "ttl": ttl_seconds,
                        },
                    ).fetchone()
                    if row is None or not row[0]:
                        raise _KeyTakenError
            except _KeyTakenError:
                pass
            else:
                return stored, created
        # The rollback gave this card's credits back (bound to its hashes): the key's answer spends them.
        existing = self.idempotent_answer(card.client_id, key_hash, (card.first6, card.last4), request_hashes)
        if existing is None:  # expired between the two statements
            raise LookupError("idempotency key expired during the request; retry")
        return Replay(existing)

    def insert_many(self, cards: list[NewCard]) -> list[tuple[StoredCard, bool]]:
        """Insert every card in one statement (one round trip, one transaction, one durable commit) through
        `vault.tokenize_cards` (migrations 0015, 0027), each card as `insert` would; answers in the order given.

        The cards are passed as one array per column, all under one client and one HMAC key version.
        """
        if not cards:
            return []
        client_id, version = cards[0].client_id, cards[0].hmac_key_version
        if any(c.client_id != client_id or c.hmac_key_version != version for c in cards):
            raise ValueError("insert_many: every card of a batch must have one client and one HMAC key version")
        older_versions = [v for v, _ in cards[0].older]
        if any([v for v, _ in c.older] != older_versions for c in cards):
            raise ValueError("insert_many: every card of a batch must carry its hash under the same older versions")
        from psycopg import DatabaseError

        try:
            with self._pool.connection() as conn:  # autocommit: the single statement is its own transaction
                rows = self._store_cards(conn, client_id, version, cards, older_versions)
        except DatabaseError as err:
            if _no_reservation(err):
                raise SiblingReservationError("no sibling reservation covers a card of this batch") from None
            raise
        stored = {int(r[0]): StoredCard(str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]), int(r[6])) for r in rows}
        if len(stored) != len(cards):  # a stored card was deleted between the store function's two statements
            raise LookupError("card vanished during concurrent tokenization; retry")
        return [(stored[i], stored[i].token == card.token) for i, card in enumerate(cards, start=1)]

    def reserve_and_insert_many(
        self, cards: list[NewCard]
    ) -> tuple[list[Reservation], list[tuple[StoredCard, bool] | None]]:
        """Reserve every card's credits and store the cards of the granted pairs in one round trip
        (`vault.tokenize_batch`, migration 0042): the reservation of `reserve_siblings`, committed inside the
        procedure, then `vault.tokenize_cards` for the granted pairs' cards as `insert_many` stores them.

        Returns the reservations (one per pair, as `reserve_siblings`) and, per card in the order given, its stored
        row and whether it is new, or None (its pair refused, or the whole request refused for the reset guard or
        the budget: then nothing is stored). Raises ValueError for cards of mixed clients or key versions,
        SiblingReservationError when credits lapsed between the two steps, LookupError when a stored card was
        deleted meanwhile, `psycopg.DatabaseError` (SQLSTATE `CV006`) for a client without a budget."""
        if not cards:
            return [], []
        client_id, version = cards[0].client_id, cards[0].hmac_key_version
        if any(c.client_id != client_id or c.hmac_key_version != version for c in cards):
            raise ValueError("reserve_and_insert_many: one client and one HMAC key version per batch")
        older_versions = [v for v, _ in cards[0].older]
        if any([v for v, _ in c.older] != older_versions for c in cards):
            raise ValueError("reserve_and_insert_many: every card must carry its hash under the same older versions")
        per_pair: dict[tuple[str, str], int] = {}
        for card in cards:
            per_pair[(card.first6, card.last4)] = per_pair.get((card.first6, card.last4), 0) + 1 + len(older_versions)
        from psycopg import DatabaseError

        try:
            with self._pool.connection() as conn:
                row = conn.execute(
                    "CALL vault.tokenize_batch(%s, %s::smallint, %s::text[], %s::bytea[], %s::smallint[], %s::uuid[],"
                    " %s::bytea[], %s::bytea[], %s::text[], %s::text[], %s::text[], %s::smallint[], %s::smallint[],"
                    " %s::smallint[], %s::bytea[], NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
                    " NULL, NULL, NULL, NULL, NULL)",
                    _card_arrays(client_id, version, cards, older_versions),
                ).fetchone()
        except DatabaseError as err:
            if _no_reservation(err):
                raise SiblingReservationError("no sibling reservation covers a card of this batch") from None
            raise
        assert row is not None  # a CALL with output parameters answers one row
        reservations = [
            Reservation(
                (str(f), str(lst)),
                per_pair[(str(f), str(lst))],
                bool(g),
                int(e or 0),
                int(ra),
                int(ms),
                int(ws),
                None if rf is None else str(rf),
                int(bp),
            )
            for f, lst, g, e, ra, ms, ws, rf, bp in zip(*row[:9], strict=True)
        ]
        granted = {r.pair for r in reservations if r.granted}
        whole = {r.refusal for r in reservations} & {"reset", "budget"}
        stored: dict[int, StoredCard] = {}
        if row[9] is not None:
            for ord_, token, brand, first6, last4, month, year in zip(*row[9:16], strict=True):
                stored[int(ord_)] = StoredCard(str(token), str(brand), str(first6), str(last4), int(month), int(year))
        results: list[tuple[StoredCard, bool] | None] = []
        for i, card in enumerate(cards, start=1):
            if whole or (card.first6, card.last4) not in granted:
                results.append(None)
            elif i not in stored:  # a stored card was deleted between the store function's two statements
                raise LookupError("card vanished during concurrent tokenization; retry")
            else:
                results.append((stored[i], stored[i].token == card.token))
        return reservations, results

    @staticmethod
    def _store_cards(
        conn: Connection[Any], client_id: str, version: int, cards: list[NewCard], older_versions: list[int]
    ) -> list[Any]:
        # `vault.tokenize_cards` (migration 0027) spends one credit per card and hash compared, each bound to its
        # (pair, keyed hash), then stores each.
        return conn.execute(
            "SELECT ord, token, brand, first6, last4, expiry_month, expiry_year FROM vault.tokenize_cards("
            "%s, %s::smallint, %s::text[], %s::bytea[], %s::smallint[], %s::uuid[], %s::bytea[], %s::bytea[],"
            " %s::text[], %s::text[], %s::text[], %s::smallint[], %s::smallint[], %s::smallint[], %s::bytea[])",
            _card_arrays(client_id, version, cards, older_versions),
        ).fetchall()

    def update(
        self,
        token: str,
        *,
        client_id: str,
        expiry: tuple[int, int] | None,
        name: Sealed | None,
    ) -> StoredCard | None:
        """Set the expiry and/or the sealed cardholder name of the client's card; None when not found."""
        if expiry is None and name is None:
            raise ValueError("nothing to update")
        # One SECURITY DEFINER function (migration 0014): the API login holds no right on vault.cards.
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT * FROM vault.update_card(%s, %s, %s::smallint, %s::smallint, %s::bytea, %s::uuid)",
                (
                    client_id,
                    token,
                    None if expiry is None else expiry[0],
                    None if expiry is None else expiry[1],
                    None if name is None else name.ciphertext,
                    None if name is None else name.data_key_id,
                ),
            ).fetchone()
        return None if row is None else StoredCard(**row)

    def ping(self) -> bool:
        """True when a pooled connection answers `SELECT 1` (the health route)."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT 1").fetchone()
        return row is not None and row[0] == 1

    def record_tampered(self, *, token: str, request_id: str) -> None:
        """Append a 'tampered' row for a token this request read (`vault.record_tampered`, migration 0012)."""
        with self._pool.connection() as conn:
            conn.execute("SELECT vault.record_tampered(%s, %s)", (token, request_id))

    def purge_idempotency_keys(self) -> int:
        """Delete expired idempotency keys (the daily purge)."""
        with self._pool.connection() as conn:
            return conn.execute("DELETE FROM vault.idempotency_keys WHERE expires_at <= now()").rowcount

    def insert(self, card: NewCard) -> tuple[StoredCard, bool]:
        """Insert `card` unless its keyed hash exists; returns the one stored row and whether it is new.

        `ON CONFLICT (pan_hmac)` makes concurrent submissions of one card wait on the unique index.
        A card already stored takes the later of its stored expiry and this one (a reissued card
        carries a later expiry; an old one sent again never shortens a live card's life, so the
        purge never deletes a card that a newer submission showed to be current).
        """
        with self._pool.connection() as conn:
            return self._insert(conn, card)

    def reserve_and_insert(self, card: NewCard) -> tuple[Reservation, tuple[StoredCard, bool] | None]:
        """Reserve `card`'s credits and store it in one round trip (`vault.tokenize_one`, migration 0042): the
        reservation of `reserve_siblings` (budget, sibling limit, reset guard, configured client; its refusal as
        there), committed inside the procedure before `vault.tokenize_card` answers as `insert` does.

        Returns the reservation and, when it was granted, the stored row and whether it is new (None when refused:
        nothing stored). Raises `psycopg.DatabaseError` with SQLSTATE `CV006` for a client without a budget (as
        `reserve_siblings`), SiblingReservationError when the credits lapsed between the procedure's two steps, and
        LookupError when the stored card was deleted meanwhile (retry). Called in autocommit, never in a
        transaction block: the procedure's COMMIT refuses one ("invalid transaction termination")."""
        from psycopg import DatabaseError

        try:
            with self._pool.connection() as conn:
                row = conn.execute(
                    "CALL vault.tokenize_one(%s, %s, %s, %s::smallint, %s::smallint, %s, %s, %s, %s, %s, %s,"
                    " %s::smallint, %s::smallint, %s::smallint[], %s::bytea[],"
                    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
                    (
                        card.client_id,
                        card.token,
                        card.pan_hmac,
                        card.hmac_key_version,
                        card.pan.format_version,
                        card.pan.data_key_id,
                        card.pan.ciphertext,
                        card.name.ciphertext,
                        card.brand,
                        card.first6,
                        card.last4,
                        card.expiry_month,
                        card.expiry_year,
                        [v for v, _ in card.older],
                        [mac for _, mac in card.older],
                    ),
                ).fetchone()
        except DatabaseError as err:
            if _no_reservation(err):
                raise SiblingReservationError("no sibling reservation covers this card") from None
            raise
        assert row is not None  # a CALL with output parameters answers one row
        reservation = Reservation(
            (card.first6, card.last4),
            1 + len(card.older),
            bool(row[0]),
            int(row[1] or 0),
            int(row[2]),
            int(row[3]),
            int(row[4]),
            None if row[5] is None else str(row[5]),
            int(row[6]),
        )
        if not reservation.granted:
            return reservation, None
        if row[7] is None:  # the stored card was deleted between the store function's two statements
            raise LookupError("card vanished during concurrent tokenization; retry")
        stored = StoredCard(str(row[7]), str(row[8]), str(row[9]), str(row[10]), int(row[11]), int(row[12]))
        return reservation, (stored, stored.token == card.token)

    @staticmethod
    def _insert(conn: Connection[Any], card: NewCard) -> tuple[StoredCard, bool]:
        # One SECURITY DEFINER function (migrations 0012, 0023, 0027): the API login may neither insert into
        # vault.cards nor read `pan_hmac`, so a guessed hash cannot be tested by a unique violation either;
        # the function spends one credit reserved for each hash it compares (the card's pair and that hash)
        # and looks the card up in that pair only, under the current and every older key version sent.
        from psycopg import DatabaseError

        try:
            with conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(
                    "SELECT * FROM vault.tokenize_card(%(client_id)s, %(token)s, %(pan_hmac)s,"
                    " %(hmac_key_version)s::smallint, %(format_version)s::smallint, %(data_key_id)s,"
                    " %(pan_ciphertext)s, %(name_ciphertext)s, %(brand)s, %(first6)s, %(last4)s,"
                    " %(expiry_month)s::smallint, %(expiry_year)s::smallint, %(older_versions)s::smallint[],"
                    " %(older_hmacs)s::bytea[])",
                    {
                        "client_id": card.client_id,
                        "token": card.token,
                        "pan_hmac": card.pan_hmac,
                        "hmac_key_version": card.hmac_key_version,
                        "format_version": card.pan.format_version,
                        "data_key_id": card.pan.data_key_id,
                        "pan_ciphertext": card.pan.ciphertext,
                        "name_ciphertext": card.name.ciphertext,
                        "brand": card.brand,
                        "first6": card.first6,
                        "last4": card.last4,
                        "expiry_month": card.expiry_month,
                        "expiry_year": card.expiry_year,
                        "older_versions": [v for v, _ in card.older],
                        "older_hmacs": [mac for _, mac in card.older],
                    },
                ).fetchone()
        except DatabaseError as err:
            if _no_reservation(err):
                raise SiblingReservationError("no sibling reservation covers this card") from None
            raise
        if row is None:  # the stored card was deleted between the two statements
            raise LookupError("card vanished during concurrent tokenization; retry")
        stored = StoredCard(**row)
        return stored, stored.token == card.token

    def get(self, token: str, *, client_id: str) -> StoredCard | None:
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute("SELECT * FROM vault.get_card(%s, %s)", (client_id, token)).fetchone()
        return None if row is None else StoredCard(**row)

    def sealed_pan(self, token: str, *, reason_code: str, ticket: str, request_id: str, caller: str) -> Sealed | None:
        """The sealed card number, read by `vault.open_for_detokenize`, which appends the audit row in the
        same statement (outcome 'returned' or 'not_found', the caller's alias with it, migration 0020): no
        read without a record, no record without a read."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT format_version, data_key_id, pan_ciphertext FROM vault.open_for_detokenize(%s, %s, %s, %s, %s)",
                (token, reason_code, ticket, request_id, caller),
            ).fetchone()
        return None if row is None else Sealed(int(row[0]), row[1], bytes(row[2]))

    def delete(self, token: str, *, client_id: str) -> bool:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT vault.delete_card(%s, %s)", (client_id, token)).fetchone()
        return bool(row and row[0])

    def purge_expired(self, *, grace_days: int, today: dt.date, dry_run: bool = False) -> int:
        """Delete (or count) cards whose expiry month ended more than `grace_days` before `today`."""
        condition = (
            "(make_date(expiry_year, expiry_month, 1) + interval '1 month' + make_interval(days => %(grace)s))"
            " <= %(today)s"
        )
        params = {"grace": grace_days, "today": today}
        with self._pool.connection() as conn:
            if dry_run:
                row = conn.execute(f"SELECT count(*) FROM vault.cards WHERE {condition}", params).fetchone()  # noqa: S608 -- constant SQL, values bound
                return int(row[0]) if row else 0
            cur = conn.execute(f"DELETE FROM vault.cards WHERE {condition}", params)  # noqa: S608 -- constant SQL, values bound
            return cur.rowcount

    # -- key maintenance (the card_vault_keys login) ----------------------------------------

    def rows_to_rehash(self, *, current_version: int, limit: int, after: str = "") -> list[tuple[str, int, Sealed]]:
        """Up to `limit` cards hashed under another key version than `current_version`, by token after `after`:
        (token, their version, the sealed card number)."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT token, hmac_key_version, format_version, data_key_id, pan_ciphertext FROM vault.cards"
                " WHERE hmac_key_version <> %s AND token > %s ORDER BY token LIMIT %s",
                (current_version, after, limit),
            ).fetchall()
        return [(str(r[0]), int(r[1]), Sealed(int(r[2]), r[3], bytes(r[4]))) for r in rows]

    def set_hmac(self, token: str, *, old_version: int, pan_hmac: bytes, version: int) -> bool | None:
        """Re-hash one card: True when moved, False when it changed meanwhile (deleted or already moved),
        None when its client already has this card under the new hash (a duplicate made before the move)."""
        from psycopg import errors

        try:
            with self._pool.connection() as conn:
                cur = conn.execute(
                    "UPDATE vault.cards SET pan_hmac = %s, hmac_key_version = %s"
                    " WHERE token = %s AND hmac_key_version = %s",
                    (pan_hmac, version, token, old_version),
                )
                return cur.rowcount == 1
        except errors.UniqueViolation:
            return None

    def data_keys_to_rewrap(
        self, *, target_key_arn: str, limit: int, every: bool, after: uuid.UUID | None = None
    ) -> list[tuple[uuid.UUID, bytes, str]]:
        """Data keys wrapped by another KMS key than `target_key_arn` (or, with `every`, all of them), by ID."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, wrapped_key, kms_key_arn FROM vault.data_keys"
                " WHERE (%s OR kms_key_arn <> %s) AND id > %s ORDER BY id LIMIT %s",
                (every, target_key_arn, after or uuid.UUID(int=0), limit),
            ).fetchall()
        return [(r[0], bytes(r[1]), str(r[2])) for r in rows]

    def set_wrapped_key(self, key_id: uuid.UUID, *, wrapped_key: bytes, kms_key_arn: str, previous: bytes) -> bool:
        """Replace one wrapped data key, unless another run changed it first."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE vault.data_keys SET wrapped_key = %s, kms_key_arn = %s, rewrapped_at = now()"
                " WHERE id = %s AND wrapped_key = %s",
                (wrapped_key, kms_key_arn, key_id, previous),
            )
            return cur.rowcount == 1

    # -- data key verification (migration 0032; the card_vault_keys login) ------------------------

    def data_keys_to_verify(self, *, limit: int, after: uuid.UUID | None = None) -> list[tuple[uuid.UUID, bytes, str]]:
        """Up to `limit` data keys neither verified nor quarantined, by ID after `after`: (id, wrapped, KMS key ARN)."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, wrapped_key, kms_key_arn FROM vault.data_keys"
                " WHERE verified_at IS NULL AND quarantined_at IS NULL AND id > %s ORDER BY id LIMIT %s",
                (after or uuid.UUID(int=0), limit),
            ).fetchall()
        return [(r[0], bytes(r[1]), str(r[2])) for r in rows]

    def mark_data_key(self, key_id: uuid.UUID, *, verified: bool) -> None:
        """Record the verification's outcome: `verified_at`, or `quarantined_at` (no card may use it any more)."""
        column = "verified_at" if verified else "quarantined_at"
        with self._pool.connection() as conn:
            conn.execute(f"UPDATE vault.data_keys SET {column} = now() WHERE id = %s", (key_id,))  # noqa: S608

    # -- shred epochs (migration 0025; the card_vault_keys login) -------------------------------

    def cards_to_reseal(self, *, current_epoch: int, limit: int, after: str = "") -> list[ResealRow]:
        """Up to `limit` cards, by token after `after`, whose card number's or cardholder name's data key belongs
        to another shred epoch than `current_epoch` (the epoch recorded with each data key)."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT c.token, c.format_version, c.data_key_id, c.pan_ciphertext,"
                " coalesce(c.name_data_key_id, c.data_key_id), c.name_ciphertext, c.name_data_key_id"
                " FROM vault.cards c JOIN vault.data_keys p ON p.id = c.data_key_id"
                " LEFT JOIN vault.data_keys n ON n.id = c.name_data_key_id"
                " WHERE (p.shred_epoch <> %(epoch)s OR coalesce(n.shred_epoch, %(epoch)s) <> %(epoch)s)"
                " AND c.token > %(after)s ORDER BY c.token LIMIT %(limit)s",
                {"epoch": current_epoch, "after": after, "limit": limit},
            ).fetchall()
        return [
            ResealRow(
                token=str(r[0]),
                pan=Sealed(int(r[1]), r[2], bytes(r[3])),
                name=Sealed(int(r[1]), r[4], bytes(r[5])),
                name_data_key_id=r[6],
            )
            for r in rows
        ]

    def reseal_card(self, row: ResealRow, *, pan: Sealed, name: Sealed) -> bool:
        """Replace one card's ciphertexts and data keys with `pan` and `name`, unless the card changed meanwhile
        (deleted, its name updated, or resealed by another run): True when replaced. Token, keyed hash, masked
        columns and expiry stay; the card's epoch follows its new data key (the trigger of migration 0025)."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE vault.cards SET pan_ciphertext = %s, data_key_id = %s, name_ciphertext = %s,"
                " name_data_key_id = %s WHERE token = %s AND data_key_id = %s AND pan_ciphertext = %s"
                " AND name_ciphertext = %s AND name_data_key_id IS NOT DISTINCT FROM %s",
                (
                    pan.ciphertext,
                    pan.data_key_id,
                    name.ciphertext,
                    None if name.data_key_id == pan.data_key_id else name.data_key_id,
                    row.token,
                    row.pan.data_key_id,
                    row.pan.ciphertext,
                    row.name.ciphertext,
                    row.name_data_key_id,
                ),
            )
            return cur.rowcount == 1

    def dispose_unreadable(self, token: str) -> str:
        """Report one card the re-seal could not open to `vault.dispose_unreadable_card` (migration 0036, red team
        r19e finding 1; the Keys login only). Answers the database's state: `marked` (first report, recorded),
        `waiting` (reported less than 20 hours ago), `disposed` (reported at least 20 hours ago: the card row is
        deleted) or `not_eligible` (no such card, or its data keys are of the current shred epoch)."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT vault.dispose_unreadable_card(%s)", (token,)).fetchone()
        return str(row[0]) if row else "not_eligible"

    def delete_unused_data_keys(self, *, except_epoch: int) -> int:
        """Delete every data key of another shred epoch than `except_epoch` that no card uses (card number or
        name); the count deleted. The wrapped key then survives only in WAL, snapshots and PITR, wrapped by
        its epoch's KMS key."""
        with self._pool.connection() as conn:
            cur = conn.execute(
                "DELETE FROM vault.data_keys d WHERE d.shred_epoch <> %s"
                " AND NOT EXISTS (SELECT FROM vault.cards c WHERE c.data_key_id = d.id)"
                " AND NOT EXISTS (SELECT FROM vault.cards c WHERE c.name_data_key_id = d.id)",
                (except_epoch,),
            )
            return cur.rowcount

    def epoch_usage(self, epoch: int) -> tuple[int, int]:
        """(cards whose card number or name uses a data key of `epoch`, data keys of `epoch` left)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM vault.cards c WHERE EXISTS (SELECT FROM vault.data_keys d"
                " WHERE d.shred_epoch = %(e)s AND (d.id = c.data_key_id OR d.id = c.name_data_key_id))),"
                " (SELECT count(*) FROM vault.data_keys d WHERE d.shred_epoch = %(e)s)",
                {"e": epoch},
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def shred_ledger(self, epoch: int, kms_key_arn: str, *, empty: bool, now: dt.datetime) -> EpochRecord:
        """Record the epoch (first time seen), and whether it is empty now: `emptied_at` is set at the first run
        that finds it empty and cleared by one that does not. Returns the epoch's row."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO vault.shred_epochs AS s (epoch, kms_key_arn, first_seen_at, emptied_at)"
                " VALUES (%(e)s, %(arn)s, %(now)s, CASE WHEN %(empty)s THEN %(now)s END)"
                " ON CONFLICT (epoch) DO UPDATE SET emptied_at = CASE WHEN %(empty)s"
                " THEN coalesce(s.emptied_at, %(now)s) END"
                " RETURNING epoch, kms_key_arn, first_seen_at, emptied_at, deletion_scheduled_at, deletion_date",
                {"e": epoch, "arn": kms_key_arn, "now": now, "empty": empty},
            ).fetchone()
        assert row is not None
        return EpochRecord(*row)

    def record_deletion(self, epoch: int, *, scheduled_at: dt.datetime, deletion_date: dt.datetime) -> None:
        """Note that the epoch's KMS key is pending deletion until `deletion_date`."""
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE vault.shred_epochs SET deletion_scheduled_at = coalesce(deletion_scheduled_at, %s),"
                " deletion_date = %s WHERE epoch = %s",
                (scheduled_at, deletion_date, epoch),
            )

    def count(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM vault.cards").fetchone()
        return int(row[0]) if row else 0
