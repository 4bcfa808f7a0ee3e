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
    pan: Sealed
    name: Sealed
    brand: str
    first6: str
    last4: str
    expiry_month: int
    expiry_year: int


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


def _note_return(conn: Any) -> None:
    _returned_at[conn] = time.monotonic()


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

    return ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, **(kwargs or {})},
        check=_check_if_idle,
        reset=_note_return,
        open=True,
        name="card-vault",
    )


class CardStore:
    """The `vault.cards` and `vault.data_keys` tables; each method is one short statement."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def save_data_key(self, key_id: uuid.UUID, wrapped_key: bytes, kms_key_arn: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO vault.data_keys (id, wrapped_key, kms_key_arn) VALUES (%s, %s, %s)",
                (key_id, wrapped_key, kms_key_arn),
            )

    def load_data_key(self, key_id: uuid.UUID) -> bytes:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT wrapped_key FROM vault.data_keys WHERE id = %s", (key_id,)).fetchone()
        if row is None:
            raise LookupError(f"data key {key_id} not found")
        return bytes(row[0])

    def insert(self, card: NewCard) -> tuple[StoredCard, bool]:
        """Insert `card` unless its keyed hash exists; returns the one stored row and whether it is new.

        `ON CONFLICT (pan_hmac)` makes concurrent submissions of one card wait on the unique index.
        A card already stored takes the later of its stored expiry and this one (a reissued card
        carries a later expiry; an old one sent again never shortens a live card's life, so the
        purge never deletes a card that a newer submission showed to be current).
        """
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                """
                INSERT INTO vault.cards AS c (client_id, token, pan_hmac, format_version, data_key_id, pan_ciphertext,
                    name_ciphertext, brand, first6, last4, expiry_month, expiry_year)
                VALUES (%(client_id)s, %(token)s, %(pan_hmac)s, %(format_version)s, %(data_key_id)s, %(pan_ciphertext)s,
                    %(name_ciphertext)s, %(brand)s, %(first6)s, %(last4)s, %(expiry_month)s, %(expiry_year)s)
                ON CONFLICT (client_id, pan_hmac) DO UPDATE
                    SET expiry_year = EXCLUDED.expiry_year, expiry_month = EXCLUDED.expiry_month
                    WHERE (EXCLUDED.expiry_year, EXCLUDED.expiry_month) > (c.expiry_year, c.expiry_month)
                RETURNING token, brand, first6, last4, expiry_month, expiry_year
                """,
                {
                    "client_id": card.client_id,
                    "token": card.token,
                    "pan_hmac": card.pan_hmac,
                    "format_version": card.pan.format_version,
                    "data_key_id": card.pan.data_key_id,
                    "pan_ciphertext": card.pan.ciphertext,
                    "name_ciphertext": card.name.ciphertext,
                    "brand": card.brand,
                    "first6": card.first6,
                    "last4": card.last4,
                    "expiry_month": card.expiry_month,
                    "expiry_year": card.expiry_year,
                },
            ).fetchone()
            if row is None:  # stored already with a later or equal expiry
                row = cur.execute(
                    "SELECT token, brand, first6, last4, expiry_month, expiry_year FROM vault.cards"
                    " WHERE client_id = %s AND pan_hmac = %s",
                    (card.client_id, card.pan_hmac),
                ).fetchone()
        if row is None:  # the stored card was deleted between the two statements
            raise LookupError("card vanished during concurrent tokenization; retry")
        stored = StoredCard(**row)
        return stored, stored.token == card.token

    def get(self, token: str, *, client_id: str) -> StoredCard | None:
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT token, brand, first6, last4, expiry_month, expiry_year FROM vault.cards"
                " WHERE token = %s AND client_id = %s",
                (token, client_id),
            ).fetchone()
        return None if row is None else StoredCard(**row)

    def sealed_pan(self, token: str) -> Sealed | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT format_version, data_key_id, pan_ciphertext FROM vault.cards WHERE token = %s", (token,)
            ).fetchone()
        return None if row is None else Sealed(int(row[0]), row[1], bytes(row[2]))

    def delete(self, token: str, *, client_id: str) -> bool:
        with self._pool.connection() as conn:
            cur = conn.execute("DELETE FROM vault.cards WHERE token = %s AND client_id = %s", (token, client_id))
            return cur.rowcount == 1

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

    def count(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM vault.cards").fetchone()
        return int(row[0]) if row else 0
