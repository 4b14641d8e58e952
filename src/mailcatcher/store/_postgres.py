"""The PostgreSQL store: one table that several catchers on several machines share.

Every message is a row: the bytes as received (``bytea``), the envelope, the summary an
`Entry` needs, the body text case-folded for search (`message.fold`), the time the
database stored it, and ``seq``, an identity column that only grows. The table is created
on first use, beside a one-row table that names its layout (`SCHEMA_VERSION`).

What the other stores promise, kept with the database's own means:

- Atomic and durable before the ``250``: a message is one ``INSERT`` in a transaction,
  committed before `add` returns; a failed commit raises, and the catcher answers ``451``.
- Several writers: retention (``keep``) deletes by one statement, ordered like the
  listing, under a transaction-scoped advisory lock, so two catchers trimming at once
  neither lose a message the other keeps nor trim twice.
- Changes are announced: every insert and delete ends with ``NOTIFY``, delivered at
  commit (https://www.postgresql.org/docs/current/sql-notify.html: "if a NOTIFY is
  executed inside a transaction, the notify events are not delivered until and unless
  the transaction is committed"). A `Listener` thread ``LISTEN``s (`_listen`), so
  `signature` is a counter in memory and a wait on one machine wakes when another
  stores the mail.
- Faults are ours to survive: a lost connection is opened again on the next call; the
  database being down is a `DatabaseUnavailable` (an `OSError`, so the catcher answers
  ``451`` and readers print one line), never a ``250``.

The URL's password never leaves this module: `path` prints it masked, and the driver's
error texts are masked before they are raised.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import select
import threading
import time
from collections.abc import Callable, Iterable
from email.message import Message
from typing import Any, TypeVar

import psycopg

from ..message import fold, search_text
from ..message._mime import envelope_text
from ._base import Store
from ._format import PEER_HEADER, Entry, structure, summarize, write_message
from ._listen import Listener
from ._location import DatabaseLocation, without_secrets
from ._tags import inbox_name, unique_tags

T = TypeVar("T")

#: The table's layout, kept in ``mailcatcher_schema``. A database holding another
#: version is refused with a message: unlike the Maildir index, this table is the mail.
SCHEMA_VERSION = 2
TABLE = "mailcatcher_messages"
#: The ``NOTIFY`` channel; the payload is the new ``seq`` (or ``deleted``).
CHANNEL = "mailcatcher"
#: Advisory lock keys (any bigint; these spell "mcschema" and "mc-trim" in hex-ish).
_SCHEMA_LOCK = 0x6D63736368656D61
_TRIM_LOCK = 0x6D632D7472696D
#: libpq's connect_timeout (seconds, 2 at least): how long a catcher waits for a
#: database that does not answer before it answers ``451``.
CONNECT_TIMEOUT = 3
#: TCP keepalives (libpq parameters), so a listener on a connection that died without
#: a word (a host gone, a partition) notices within about 10 s and connects again.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}
#: While the database is unreachable, `signature` asks it again only this often.
_RETRY_DOWN = 0.1
#: IDs are ``seq`` in decimal, zero-padded so that text order is number order (the
#: listing's tie-break compares IDs as text).
_ID_WIDTH = 12

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS mailcatcher_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS {TABLE} (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stored double precision NOT NULL,
    peer text NOT NULL,
    sender text NOT NULL,
    recipients text[] NOT NULL,
    subject text NOT NULL,
    from_header text NOT NULL,
    to_header text NOT NULL,
    size integer NOT NULL,
    attachments integer NOT NULL,
    auth_user text,
    body text NOT NULL,
    raw bytea NOT NULL,
    tags text[] NOT NULL DEFAULT '{{}}',
    tagged bigint NOT NULL DEFAULT 0
);
CREATE SEQUENCE IF NOT EXISTS {TABLE}_tagged;
CREATE INDEX IF NOT EXISTS {TABLE}_newest ON {TABLE} (stored DESC, seq DESC);
"""
_ENTRY_COLUMNS = (
    "seq, stored, sender, recipients, subject, from_header, to_header, size, attachments, "
    "auth_user, tags"
)
#: Layout 1 to 2: tags (``tagged``: when they were last set, for `_MARK`).
_MIGRATE_1 = f"""
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS tags text[] NOT NULL DEFAULT '{{}}';
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS tagged bigint NOT NULL DEFAULT 0;
"""
#: The database's clock stamps each message, so every catcher sharing it agrees on the
#: order (two machines' clocks need not).
_INSERT = f"""
INSERT INTO {TABLE} (stored, peer, sender, recipients, subject, from_header, to_header,
                     size, attachments, auth_user, body, raw, tags)
VALUES (extract(epoch FROM clock_timestamp()), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING seq, stored
"""
#: Retention: everything after the newest `keep`, in the listing's order, in one
#: statement. Run under `_TRIM_LOCK`, taken after the insert: the second of two
#: writers waits for the first to commit, then sees its row (READ COMMITTED takes a new
#: snapshot per statement), so together they keep exactly the newest `keep`.
_TRIM = f"""
DELETE FROM {TABLE} WHERE seq IN (
    SELECT seq FROM {TABLE} ORDER BY stored DESC, seq DESC OFFSET %s
)
"""

#: What changes whenever a row is added, deleted or tagged (``seq`` and ``tagged`` only
#: grow).
_MARK = f"SELECT coalesce(max(seq), 0), count(*), coalesce(max(tagged), 0) FROM {TABLE}"

log = logging.getLogger("mailcatcher")


class DatabaseUnavailable(ConnectionError):
    """The database cannot be reached (down, restarting, refusing us); try again later.

    An `OSError`, as a full disk is for the file stores: the catcher answers ``451`` and
    the command line prints one line, with no special case for databases.
    """


class DatabaseRefused(OSError):
    """The database answered, and refused what we asked (no permission, say)."""


class SchemaMismatch(OSError):
    """The database holds mailcatcher's table in a layout this version does not read."""


def _id(seq: int) -> str:
    return f"{seq:0{_ID_WIDTH}d}"


def _seq(id: str) -> int | None:
    """The ``seq`` of an ID, or ``None`` when `id` cannot be one."""
    if not id.isascii() or not id.isdigit() or len(id) > 19:
        return None
    return int(id)


def _text(value: str) -> str:
    """`value` as PostgreSQL ``text`` takes it: no NUL, valid UTF-8.

    Mail is the sender's: a NUL in a subject or a lone surrogate (raw 8-bit bytes the
    parser kept) would make the insert fail, and the catcher answer 451 forever.
    """
    return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


class PostgresStore(Store):
    """Messages as rows of one PostgreSQL table, shared by every catcher that uses it.

    Thread-safe: one connection, one call at a time (the web side calls from worker
    threads); the listener thread has a connection of its own.
    """

    def __init__(self, url: str | DatabaseLocation) -> None:
        self.path: DatabaseLocation = (
            url if isinstance(url, DatabaseLocation) else DatabaseLocation.of(url)
        )
        self._url = self.path.url
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        # Started by the first `signature` or `watch`; a reader that only lists
        # (``mailcatcher list``) never starts it.
        self._listener = Listener(self._connect, CHANNEL, str(self.path))
        self._down_until = 0.0
        self._signature: object = ("unknown",)
        self._listing: tuple[object, list[Entry]] | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({str(self.path)!r})"

    # --- the connection ---------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conninfo = psycopg.conninfo.make_conninfo(
                self._url,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="mailcatcher",
                **_KEEPALIVES,
            )
            conn = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as error:
            raise self._unavailable(error) from None
        try:
            self._ensure_schema(conn)
        except psycopg.OperationalError as error:
            conn.close()
            raise self._unavailable(error) from None
        except psycopg.Error as error:  # no right to create tables, say
            conn.close()
            raise DatabaseRefused(self._refused(error)) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _ensure_schema(self, conn: psycopg.Connection[Any]) -> None:
        """Create the tables on first use; refuse a layout this version does not know."""
        with conn.transaction():
            # Two catchers starting at once would both try CREATE TABLE, and one fail.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(_SCHEMA)
            row = conn.execute("SELECT version FROM mailcatcher_schema").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO mailcatcher_schema (version) VALUES (%s)", (SCHEMA_VERSION,)
                )
            elif row[0] == 1:
                conn.execute(_MIGRATE_1)
                conn.execute("UPDATE mailcatcher_schema SET version = %s", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise SchemaMismatch(
                    f"{self.path} holds mailcatcher's table in layout {row[0]}; this "
                    f"mailcatcher reads layout {SCHEMA_VERSION}: use a database of its own, "
                    "or the mailcatcher version that made it"
                )

    def _reason(self, error: BaseException) -> str:
        """The driver's text on one line, any password in it masked."""
        reason = " ".join(str(error).split()) or type(error).__name__
        return without_secrets(reason, self._url)

    def _unavailable(self, error: BaseException) -> DatabaseUnavailable:
        reason = self._reason(error)
        return DatabaseUnavailable(f"the database {self.path} is unavailable: {reason}")

    def _refused(self, error: BaseException) -> str:
        return f"the database {self.path} refused: {self._reason(error)}"

    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection, opened (again) when there is none or it went stale."""
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken or _has_input(conn)):
            # An idle connection with something to read: the server said goodbye
            # ("terminating connection due to administrator command") or hung up.
            self._drop()
            conn = None
        if conn is None:
            conn = self._conn = self._connect()
        return conn

    def connect(self) -> None:
        """Connect now, creating the table on first use, rather than on the first call.

        Raises:
            DatabaseUnavailable: the database cannot be reached.
            SchemaMismatch: it holds a layout this version does not read.
        """
        self._run(lambda conn: None)

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _run(self, operation: Callable[[psycopg.Connection[Any]], T], *, retry: bool = True) -> T:
        """`operation` on the connection; a reader's is tried once more on a new one.

        A write is not retried: the client retries after the ``451``, and a commit whose
        answer was lost may have happened (then the client's retry stores a copy, which
        beats a ``250`` for mail that is not there).
        """
        with self._lock:
            for attempt in range(2 if retry else 1):
                try:
                    return operation(self._connection())
                except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                    self._drop()
                    if attempt or not retry:
                        raise self._unavailable(error) from None
                except psycopg.Error as error:  # a permission, a constraint: not a fault
                    raise DatabaseRefused(self._refused(error)) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Stop listening and close the connections."""
        self._listener.close()
        with self._lock:
            self._drop()

    # --- writing ----------------------------------------------------------------------

    def add(self, message: Message, *, keep: int | None = None) -> Entry:
        """Insert `message` and commit, trimming to the newest `keep` in the same transaction.

        Raises:
            DatabaseUnavailable: the database cannot be reached; nothing was committed
                (unless the connection broke after the commit and before its answer).
        """
        buffer = io.BytesIO()
        write_message(message, buffer)
        raw = buffer.getvalue()
        entry = summarize(message, id="", path=self.path, stored=0.0, size=len(raw))
        values = (
            _text(envelope_text(message, PEER_HEADER) or ""),
            _text(entry.sender),
            [_text(recipient) for recipient in entry.recipients],
            _text(entry.subject),
            _text(entry.from_header),
            _text(entry.to_header),
            entry.size,
            entry.attachments,
            None if entry.auth_user is None else _text(entry.auth_user),
            _text(fold(search_text(structure(message)))),
            raw,
            [_text(tag) for tag in entry.tags],
        )

        def insert(conn: psycopg.Connection[Any]) -> tuple[int, float]:
            with conn.transaction():
                row = conn.execute(_INSERT, values).fetchone()
                assert row is not None  # INSERT ... RETURNING returns the row
                if keep is not None:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_TRIM_LOCK,))
                    conn.execute(_TRIM, (keep,))
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(row[0])))
            return int(row[0]), float(row[1])

        seq, stored = self._run(insert, retry=False)
        return dataclasses.replace(entry, id=_id(seq), stored=stored)

    def delete(self, ids: Iterable[str]) -> None:
        """Delete the messages `ids`; unknown IDs are ignored."""
        seqs = [seq for seq in map(_seq, ids) if seq is not None]
        if seqs:
            self._change(f"DELETE FROM {TABLE} WHERE seq = ANY(%s)", (seqs,))

    def clear(self) -> None:
        """Delete every message."""
        self._change(f"DELETE FROM {TABLE}", ())

    def set_tags(self, ids: Iterable[str], tags: Iterable[str]) -> None:
        """Replace the tags of messages `ids`; unknown IDs are ignored."""
        seqs = [seq for seq in map(_seq, ids) if seq is not None]
        if seqs:
            self._change(
                f"UPDATE {TABLE} SET tags = %s, tagged = nextval('{TABLE}_tagged') "
                "WHERE seq = ANY(%s)",
                ([_text(tag) for tag in unique_tags(tags)], seqs),
                "tagged",
            )

    def _change(
        self, statement: str, parameters: tuple[object, ...], what: str = "deleted"
    ) -> None:
        def change(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                conn.execute(statement, parameters)
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, what))

        self._run(change)

    # --- reading ----------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """Every stored message, newest first (then by ``seq``, the larger first).

        The last listing is kept, and sent again while the table's newest ``seq`` and
        row count are what they were (``seq`` is never reused, so any insert or delete
        changes one of them): the web side lists on every request. That is asked of the
        database each time, not taken from notifications, which arrive a moment after
        the commit: a message another catcher acknowledged is listed at once.
        """
        cached = self._listing

        def listing(conn: psycopg.Connection[Any]) -> tuple[object, list[Any] | None]:
            mark = conn.execute(_MARK).fetchone()
            if cached is not None and cached[0] == mark:
                return mark, None
            rows = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM {TABLE} ORDER BY stored DESC, seq DESC"
            ).fetchall()
            return mark, rows

        mark, rows = self._run(listing)
        if rows is None and cached is not None:
            return list(cached[1])
        built = [self._entry(row) for row in rows or ()]
        # Rows read after the mark may be newer than it: the next call then lists again.
        self._listing = (mark, built)
        return list(built)

    def _entry(self, row: tuple[Any, ...]) -> Entry:
        return Entry(
            id=_id(row[0]),
            path=self.path,
            stored=float(row[1]),
            sender=row[2],
            recipients=tuple(row[3]),
            subject=row[4],
            from_header=row[5],
            to_header=row[6],
            size=int(row[7]),
            attachments=int(row[8]),
            auth_user=row[9],
            inbox=inbox_name(row[9]),
            tags=tuple(row[10]),
        )

    def read_bytes(self, id: str, limit: int | None = None) -> bytes:
        """The stored bytes of message `id`, or only the first `limit` of them.

        Raises:
            KeyError: no message has this ID (any more).
        """
        seq = _seq(id)
        if seq is None:
            raise KeyError(id)
        parameters: tuple[int, ...]
        if limit is None:
            statement, parameters = f"SELECT raw FROM {TABLE} WHERE seq = %s", (seq,)
        else:
            statement = f"SELECT substring(raw FROM 1 FOR %s) FROM {TABLE} WHERE seq = %s"
            parameters = (max(limit, 0), seq)
        row = self._run(lambda conn: conn.execute(statement, parameters).fetchone())
        if row is None:
            raise KeyError(id)
        return bytes(row[0])

    def search_text(self, needle: str, *, among: Iterable[Entry] | None = None) -> set[str]:
        """The IDs whose body text contains `needle`, after case folding (`message.fold`).

        The rows hold folded text, so a folded needle finds every case of it; `among`
        is not needed (every message has its row).
        """
        folded = _text(fold(needle))
        rows = self._run(
            lambda conn: conn.execute(
                f"SELECT seq FROM {TABLE} WHERE strpos(body, %s) > 0", (folded,)
            ).fetchall()
        )
        return {_id(row[0]) for row in rows}

    # --- changes ----------------------------------------------------------------------

    def signature(self) -> object:
        """A value that changes when any catcher adds or deletes a message.

        While the listener is connected this is a counter of notifications, read from
        memory: a wait can look every 10 ms without a query. While it is not, the
        table's newest ``seq`` and row count are asked. While the database cannot be
        reached, the last value stays: a wait does not look (and fail) until it is
        back, so a wait outlasts a database restart.
        """
        mark: object = self._listener.mark()
        if mark is None:
            now = time.monotonic()
            if now < self._down_until:
                return self._signature
            try:
                row = self._run(lambda conn: conn.execute(_MARK).fetchone())
            except OSError:
                self._down_until = now + _RETRY_DOWN
                return self._signature
            mark = ("asked", *(row or ()))
        self._signature = mark
        return mark

    def watch(self, wake: Callable[[], None]) -> bool:
        """Call `wake` (from the listener thread) whenever any catcher changes the table."""
        self._listener.watch(wake)
        return True


def _has_input(conn: psycopg.Connection[Any]) -> bool:
    try:
        return bool(select.select([conn.pgconn.socket], [], [], 0)[0])
    except (OSError, ValueError, psycopg.Error):
        return True
