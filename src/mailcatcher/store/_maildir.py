"""The Maildir store: one file per message, and a summary index beside them.

A standard Maildir (https://cr.yp.to/proto/maildir.html: ``tmp/``, ``new/``, ``cur/``),
readable by `mailbox.Maildir` and by mail clients, plus ``.mailcatcher.sqlite3``: one
row per message (envelope, subject, size, time, tags), so "the newest message to
eva@example.com" among 10,000 parses one message, not 10,000. The index is a cache of
what the files say (a file without a row is read from the file itself), and the home of
the tags set since a message arrived.

Each inbox but the default one is a Maildir++ folder (``.NAME/`` with its own ``tmp/``,
``new/`` and ``cur/``: the layout Dovecot and Courier read), so a mail client or IMAP
server shows one folder per AUTH login.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import heapq
import itertools
import logging
import os
import re
import socket
import sqlite3
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterable, Iterator
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

from ..message import fold, search_text
from ..message._mime import has_surrogates
from ._base import Store, open_stored, sort_newest_first
from ._format import (
    AUTH_USER_HEADER,
    FILE_MODE,
    Entry,
    NotAMessageError,
    has_headers,
    parse_message,
    structure,
    summarize,
    write_message,
)
from ._tags import DEFAULT_INBOX, envelope_inbox, inbox_name, unique_tags

INDEX_NAME = ".mailcatcher.sqlite3"
#: The index's layout (SQLite ``user_version``). 2: ``body`` holds case-folded text;
#: 3: ``tags``, and the ``state`` table. An index of another version is rebuilt by the
#: writer and ignored by readers.
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    stored REAL NOT NULL,
    sender TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    from_header TEXT NOT NULL,
    to_header TEXT NOT NULL,
    size INTEGER NOT NULL,
    attachments INTEGER NOT NULL,
    auth_user TEXT,
    body TEXT NOT NULL,  -- the body text, case-folded (message.fold) for search
    tags TEXT NOT NULL DEFAULT ''  -- its tags, one per line
);
-- 'tags': bumped whenever tags are set, so readers in other processes rebuild entries.
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
#: Added to layout 3 without changing its number: a catcher or reader of an earlier
#: version still reads and writes the index, and whatever it changes in the directories
#: breaks the marks below, so a newer reader lists the files again instead of trusting
#: rows it did not see written.
_ADDITIONS = """
-- Newest first, ties by ID: the order every surface shows (it serves 'stored' too).
CREATE INDEX IF NOT EXISTS messages_newest ON messages (stored, id);
DROP INDEX IF EXISTS messages_stored;
-- Each new/ and cur/ directory's mtime (ns) when its files were last known to be
-- exactly the rows located in it. A reader whose stat() of every directory gives its
-- mark trusts the rows and lists nothing.
CREATE TABLE IF NOT EXISTS marks (dir TEXT PRIMARY KEY, mtime INTEGER NOT NULL);
-- One row per message added, deleted or tagged ('': everything may have changed), so a
-- reader that listed once catches up from the rows of these IDs alone.
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY, id TEXT NOT NULL);
-- Each message's envelope recipients, keyed (`_recipient_key`) for "the newest to X".
CREATE TABLE IF NOT EXISTS recipients (
    key TEXT NOT NULL, stored REAL NOT NULL, id TEXT NOT NULL, PRIMARY KEY (key, stored, id)
) WITHOUT ROWID;
"""
#: How old (seconds) a directory's mtime must be before a reader that listed it records
#: it as a mark: the mtime clock is coarse (a jiffy locally, a server's clock over
#: NFS), so a change within the same tick as the last one leaves the same mtime.
_MARK_AGE = 1.0
#: Changes logged before the newest this many are forgotten; a reader further behind
#: reads every row again.
_CHANGES_KEPT = 10_000
#: Index rows deleted per transaction.
_DELETED_AT_ONCE = 20
#: Deleting more messages at once than this logs "everything changed" instead.
_CHANGES_LISTED = 1000
#: An address whose index key is itself, lower-cased: a dot-atom with no character that
#: `query.normalize_address` would drop or unquote. It must stay a subset of what that
#: function takes as bare (its ``_BARE_ADDRESS``), which lower-cases the domain only: so
#: two such addresses that normalize alike are equal once lower-cased. Any other address
#: gets the key ``''``, which every recipient query also reads.
_SIMPLE_ADDRESS = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)
#: How long the writer and readers wait for a lock on the index, in seconds.
_WRITER_WAIT = 1.0
_READER_WAIT = 10.0
#: Free space in the index that a clear gives back to the disk (VACUUM).
_VACUUM_FREE = 1024 * 1024
#: Bytes of write-ahead log kept after a checkpoint (SQLite's journal_size_limit), and
#: the pages after which SQLite checkpoints (wal_autocheckpoint; its default, 1,000
#: pages, let the log reach 4 MB: on a 2 MiB disk it filled the disk and never shrank).
_WAL_LIMIT = 256 * 1024
_WAL_PAGES = 64
_COLUMNS = "id, stored, sender, recipients, subject, from_header, to_header, size, attachments"
#: An entry's columns (`_entry_from_row`), then its file's location, from ``messages m``.
_ROW_COLUMNS = ", ".join(
    f"m.{name}" for name in [*_COLUMNS.split(", "), "auth_user", "tags", "location"]
)
#: The file a Maildir++ folder holds to say it is one (Courier's ``maildirfolder``).
FOLDER_MARK = "maildirfolder"
#: Characters an inbox keeps in its folder's name; the rest are written ``%XX``.
_FOLDER_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_@+=")
#: A folder name's longest length (file names end at 255 bytes); past it, the name
#: is cut and a hash of the inbox ends it.
_FOLDER_LONGEST = 200


def folder_name(inbox: str) -> str:
    """The Maildir++ folder that holds `inbox`: ``.`` and the name, made safe.

    Letters, digits and ``-_@+=`` stay; every other character is written as ``%XX``
    (its UTF-8 bytes): ``.`` would nest folders (Maildir++'s separator), ``/`` leave the
    Maildir, and ``%`` itself is escaped so that no two inboxes share a folder.
    """
    encoded = "".join(
        char
        if char in _FOLDER_SAFE
        else "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        for char in inbox
    )
    if len(encoded) > _FOLDER_LONGEST:
        digest = hashlib.sha256(inbox.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        encoded = f"{encoded[: _FOLDER_LONGEST - 17]}~{digest}"
    return f".{encoded}"


def _folder_inbox(folder: str) -> str | None:
    """The inbox folder `folder` holds, or ``None`` when its name was shortened."""
    if "~" in folder:
        return None
    try:
        return urllib.parse.unquote(folder[1:], errors="strict")
    except UnicodeDecodeError:
        return None


class MaildirStore(Store):
    """A standard Maildir (``tmp/``, ``new/``, ``cur/``) with a summary index beside it.

    Each message is its own file, readable by `mailbox.Maildir` and by mail clients.
    The index (``.mailcatcher.sqlite3``, SQLite in WAL mode so readers in other
    processes never block the writer) holds one row per message. A file without a
    row, such as one delivered by another program, is parsed when read; a file that
    cannot be parsed is skipped with a warning.
    """

    _sequence = itertools.count()

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self.path = Path(path)
        if create:
            self.path.mkdir(exist_ok=True)
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(exist_ok=True)
        elif self.path.exists() and not is_maildir(self.path):
            raise NotADirectoryError(
                errno.ENOTDIR, "Not a Maildir (no cur/, new/ and tmp/ inside)", str(self.path)
            )
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._foreign: dict[tuple[str, int, int], Entry | None] = {}
        self._skipped: set[str] = set()
        # Entries already built, by name, with the file they were built for: a
        # delivered Maildir file never changes, so listing 10,000 messages again only
        # costs a directory scan, not 10,000 index rows and paths.
        self._known: dict[str, tuple[str, Entry]] = {}
        self._listing: list[Entry] = []
        #: Each folder's path, and the inbox it holds (``None``: ask the messages).
        self._folders: dict[str, str | None] = {str(self.path): DEFAULT_INBOX}
        self._made: set[str] = set()
        self._tags_version: int | None = None
        #: Whether the index has the marks, the change log and ``location`` (this
        #: version's additions to layout 3).
        self._extended = False
        #: The store's state (`_State`) that `_listing` is complete and current for.
        self._cached: _State | None = None
        #: Names in `_known` that have no index row (parsed from their files).
        self._unindexed: set[str] = set()
        #: Directories found holding files while unmarked: not looked at again.
        self._unmarkable: set[str] = set()
        self._host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")

    def close(self) -> None:
        """Close the index connection."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _index(
        self, *, create: bool, repair: bool = True, warn: bool = True
    ) -> sqlite3.Connection | None:
        if self._db is None:
            index = self.path / INDEX_NAME
            if not create and not index.exists():
                return None
            # A writer waits briefly for a lock another process holds on the index, then
            # stores the message without a row (`_insert`): a 10 s wait and a 451 for
            # every message cost more than a file the readers parse. Readers may wait.
            wait = _WRITER_WAIT if create else _READER_WAIT
            db = sqlite3.connect(index, timeout=wait, check_same_thread=False, isolation_level=None)
            try:
                db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if create:
                    # WAL lets readers in other processes read while the server writes;
                    # NORMAL skips an fsync per commit: a crash can lose an index row,
                    # never a message file, and a file without a row is still read.
                    db.execute("PRAGMA journal_mode = WAL")
                    if version != SCHEMA_VERSION:
                        # The index is a cache: an older layout is dropped, and its
                        # messages are read from their files until trimmed.
                        for table in ("messages", "marks", "changes", "recipients"):
                            db.execute(f"DROP TABLE IF EXISTS {table}")
                        db.executescript(_SCHEMA)
                        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    columns = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
                    if "location" not in columns:
                        # Where the file is, relative to the Maildir (``new/NAME``); an
                        # older catcher's rows have none until a reader's listing fills it.
                        db.execute("ALTER TABLE messages ADD COLUMN location TEXT")
                    db.executescript(_ADDITIONS)
                elif version != SCHEMA_VERSION:
                    db.close()
                    return None
                self._extended = (
                    db.execute(
                        "SELECT count(*) FROM sqlite_master WHERE name IN ('marks', 'changes')"
                    ).fetchone()[0]
                    == 2
                )
                db.execute("PRAGMA synchronous = NORMAL")
                # The write-ahead log is cut back to this after each checkpoint: left
                # alone it keeps its largest size, and on a full disk it never shrank.
                db.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT}")
                db.execute(f"PRAGMA wal_autocheckpoint = {_WAL_PAGES}")
            except sqlite3.DatabaseError as error:
                db.close()
                if not create:
                    # A reader goes on without the index: every file is parsed instead.
                    if warn:
                        self._warn_index(error)
                    return None
                # Exactly DatabaseError: "file is not a database" or "malformed", not an
                # OperationalError such as a lock. The index is a cache; a damaged one
                # must not make the writer refuse every message with 451.
                if not (repair and type(error) is sqlite3.DatabaseError):
                    raise
                self._set_aside(index, error)
                return self._index(create=True, repair=False)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _warn_index(self, error: sqlite3.Error) -> None:
        warnings.warn(
            f"cannot read the index {self.path / INDEX_NAME}: {error}; "
            "parsing every message instead",
            stacklevel=4,
        )

    def _set_aside(self, index: Path, error: sqlite3.Error) -> None:
        """Move a damaged index out of the way (kept for inspection); a new one starts empty."""
        broken = index.with_name(f"{INDEX_NAME}.broken-{time.time():.0f}")
        os.replace(index, broken)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{index}{suffix}")
        logging.getLogger("mailcatcher").warning(
            "the index %s was damaged (%s); moved it to %s and started a new one "
            "(messages without a row are read from their files)",
            index,
            error,
            broken.name,
        )

    def _new_name(self, now: float) -> str:
        # Maildir unique names: time, then microseconds, pid and a counter (the
        # "M", "P" and "Q" parts of https://cr.yp.to/proto/maildir.html), then host.
        seconds, micro = divmod(int(now * 1_000_000), 1_000_000)
        return f"{seconds}.M{micro:06d}P{os.getpid()}Q{next(self._sequence)}.{self._host}"

    def add(self, message: Message, *, keep: int | None = None) -> Entry:
        """Store `message` as a new file in ``new/``; with `keep`, trim the oldest."""
        now = time.time()
        name = self._new_name(now)
        folder = self._folder(envelope_inbox(message, AUTH_USER_HEADER))
        temporary = folder / "tmp" / name
        final = folder / "new" / name
        with self._lock:
            db = self._index(create=True)
            assert db is not None  # create=True always opens it
            try:
                with open(temporary, "xb") as fp:
                    os.fchmod(fp.fileno(), FILE_MODE)
                    write_message(message, fp)
                    size = fp.tell()
                entry = summarize(message, id=name, path=final, stored=now, size=size)
                # The row, the rename and the new marks are one transaction: a reader
                # that sees the row finds the file, and one that sees the old marks
                # finds new/ changed and lists it. A row without a file is ignored.
                began = self._begin(db)
                if not began:
                    logging.getLogger("mailcatcher").warning(
                        "stored %s without an index row (the index is busy): "
                        "readers parse its file",
                        name,
                    )
                intact = self._intact(db, [str(folder)]) if began else []
                indexed = began and self._insert(db, entry, message, self._relative(final))
                if began and not indexed:
                    _rollback(db)
                try:
                    os.rename(temporary, final)
                except BaseException:
                    if indexed:
                        _rollback(db)
                    raise
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
            if indexed:
                self._commit(db, [name], intact)
            if keep is not None:
                self._trim(db, keep)
        return entry

    def _relative(self, path: str | os.PathLike[str]) -> str:
        """`path` relative to the Maildir, as the index keeps locations."""
        return os.path.relpath(path, self.path)

    def _begin(self, db: sqlite3.Connection) -> bool:
        """Start a write transaction; ``False`` when the index is busy or broken."""
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            return False
        return True

    def _commit(self, db: sqlite3.Connection, ids: list[str], intact: list[str]) -> None:
        """Log `ids` as changed, mark the `intact` folders again, and commit.

        Args:
            db: The index, inside the transaction that changed `ids`.
            ids: The messages added, deleted or tagged.
            intact: Folders whose files were exactly their rows before this change
                (`_intact`), so they are again now.
        """
        try:
            self._log(db, ids)
            self._mark(db, intact)
            db.execute("COMMIT")
        except sqlite3.Error as error:
            _rollback(db)
            # The files changed and the marks did not: readers list them.
            self._warn_index(error)

    def _log(self, db: sqlite3.Connection, ids: list[str]) -> None:
        if not self._extended:
            return
        if len(ids) > _CHANGES_LISTED:
            ids = [""]
        db.executemany("INSERT INTO changes (id) VALUES (?)", [(id,) for id in ids])
        newest = db.execute("SELECT max(seq) FROM changes").fetchone()[0]
        if newest is not None and newest % 1000 == 0:
            db.execute("DELETE FROM changes WHERE seq <= ?", (newest - _CHANGES_KEPT,))

    def _intact(self, db: sqlite3.Connection, folders: list[str]) -> list[str]:
        """Those of `folders` whose ``new/`` and ``cur/`` hold exactly their rows' files.

        A folder is intact when each directory's mtime is still its mark, or when it is
        empty, was never marked and no row is located in it (a folder just made). Call
        it inside the write transaction, before changing the directories.
        """
        if not self._extended:
            return []
        return [folder for folder in folders if self._folder_intact(db, folder)]

    def _folder_intact(self, db: sqlite3.Connection, folder: str) -> bool:
        for sub in ("new", "cur"):
            directory = os.path.join(folder, sub)
            relative = self._relative(directory)
            try:
                mtime = os.stat(directory).st_mtime_ns
            except OSError:
                return False
            row = db.execute("SELECT mtime FROM marks WHERE dir = ?", (relative,)).fetchone()
            if row is not None:
                if row[0] != mtime:
                    return False
            elif directory in self._unmarkable or not self._empty(db, directory, relative):
                self._unmarkable.add(directory)
                return False
        return True

    def _empty(self, db: sqlite3.Connection, directory: str, relative: str) -> bool:
        """Whether `directory` holds no message and no row is located in it."""
        try:
            with os.scandir(directory) as scan:
                if any(not item.name.startswith(".") for item in scan):
                    return False
        except OSError:
            return False
        row = db.execute(
            "SELECT 1 FROM messages WHERE location IS NULL OR "
            "(location > ? AND location < ?) LIMIT 1",
            (f"{relative}/", f"{relative}0"),  # '0' follows '/': every name in it
        ).fetchone()
        return row is None

    def _mark(self, db: sqlite3.Connection, folders: list[str]) -> None:
        """Record the mtimes of the ``new/`` and ``cur/`` of `folders` as their marks.

        Each mtime is first set one nanosecond back (truncated by the file system to
        its own clock): a real change stamps the coarse current time, which is later,
        so one made after this, even within the same tick, never leaves the mark. A
        directory whose mtime cannot be set (another user's) loses its mark instead.
        """
        for folder in folders:
            for sub in ("new", "cur"):
                directory = os.path.join(folder, sub)
                relative = self._relative(directory)
                try:
                    before = os.stat(directory)
                    os.utime(directory, ns=(before.st_atime_ns, before.st_mtime_ns - 1))
                    after = os.stat(directory).st_mtime_ns
                except OSError:
                    after = before_mtime = -1
                else:
                    before_mtime = before.st_mtime_ns
                if after < 0 or after >= before_mtime:
                    db.execute("DELETE FROM marks WHERE dir = ?", (relative,))
                else:
                    db.execute(
                        "INSERT INTO marks (dir, mtime) VALUES (?, ?) "
                        "ON CONFLICT (dir) DO UPDATE SET mtime = excluded.mtime",
                        (relative, after),
                    )

    def _folder(self, inbox: str) -> Path:
        """The folder that holds `inbox` (created, as a Maildir++ folder, if need be)."""
        if inbox == DEFAULT_INBOX:
            return self.path
        folder = self.path / folder_name(inbox)
        if str(folder) not in self._made:
            for sub in ("tmp", "new", "cur"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            (folder / FOLDER_MARK).touch()
            self._made.add(str(folder))
        return folder

    def _insert(
        self, db: sqlite3.Connection, entry: Entry, message: Message, location: str
    ) -> bool:
        """Add `entry`'s index row; ``False`` (with a warning) when the index cannot take it.

        The index is a cache: when it cannot grow (a full disk, a lock held too long by
        another process) the message is still stored, and readers parse its file. Call
        it inside a transaction (`_begin`): on failure it is rolled back.
        """
        try:
            db.execute(
                f"INSERT INTO messages ({_COLUMNS}, auth_user, body, tags, location) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.id,
                    entry.stored,
                    entry.sender,
                    "\n".join(entry.recipients),
                    entry.subject,
                    entry.from_header,
                    entry.to_header,
                    entry.size,
                    entry.attachments,
                    entry.auth_user,
                    fold(search_text(structure(message))),
                    "\n".join(entry.tags),
                    location,
                ),
            )
            if self._extended:
                _insert_recipients(db, entry.id, entry.stored, entry.recipients)
        except (sqlite3.Error, UnicodeError) as error:
            # UnicodeError: text no UTF-8 can hold; the decoders replace what they can,
            # and a message is never refused for its summary.
            logging.getLogger("mailcatcher").warning(
                "stored %s without an index row (%s): readers parse its file", entry.id, error
            )
            return False
        return True

    def _trim(self, db: sqlite3.Connection, keep: int) -> None:
        old = [
            row[0]
            for row in db.execute(
                "SELECT id FROM messages ORDER BY stored DESC, id DESC LIMIT -1 OFFSET ?", (keep,)
            )
        ]
        if old:
            self._delete_locked(db, old)

    def _list_folders(self) -> list[str]:
        """The Maildir itself and each Maildir++ folder in it (``.NAME/``), as paths."""
        folders: dict[str, str | None] = {str(self.path): DEFAULT_INBOX}
        with (
            contextlib.suppress(FileNotFoundError, NotADirectoryError),
            os.scandir(self.path) as scan,
        ):
            for item in scan:
                if item.name.startswith(".") and item.is_dir(follow_symlinks=False):
                    folders[item.path] = _folder_inbox(item.name)
        self._folders = folders
        return list(folders)

    def _inbox_at(self, location: str, auth_user: str | None) -> str:
        """The inbox of the message file at `location`: its folder's, else its login's."""
        folder = self._folders.get(os.path.dirname(os.path.dirname(location)))
        return inbox_name(auth_user) if folder is None else folder

    def _files(self) -> dict[str, str]:
        """Map each message's unique name to its file, in ``new/`` or ``cur/`` of any folder."""
        files: dict[str, str] = {}
        for folder in self._list_folders():
            for sub in ("new", "cur"):
                try:
                    scan = os.scandir(os.path.join(folder, sub))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                with scan:
                    for item in scan:
                        if item.name.startswith("."):
                            continue
                        if not self._is_message_file(item):
                            continue
                        # Mail clients rename new/NAME to cur/NAME:2,FLAGS when read.
                        files[item.name.split(":", 1)[0]] = item.path
        return files

    def _is_message_file(self, item: os.DirEntry[str]) -> bool:
        """Whether a directory entry can be a message: a regular file with a UTF-8 name.

        A store is only regular files (no links out of it, no FIFOs that block a
        reader); a name that is not UTF-8 cannot be an ID in a URL or JSON. Anything
        else is skipped, with one warning per name.
        """
        try:
            regular = item.is_file(follow_symlinks=False)
        except OSError:
            regular = False
        problem = None
        if not regular:
            problem = "it is not a regular file"
        elif has_surrogates(item.name):
            problem = "its name is not UTF-8"
        if problem is None:
            return True
        if item.path not in self._skipped:
            self._skipped.add(item.path)
            shown = item.path.encode("utf-8", "backslashreplace").decode("utf-8")
            warnings.warn(f"skipping {shown}: {problem}", stacklevel=5)
        return False

    def _rows(self, ids: list[str] | None = None) -> dict[str, tuple[object, ...]]:
        """The index rows of `ids` (all rows when `ids` is None)."""
        query = f"SELECT {_COLUMNS}, auth_user, tags FROM messages"
        with self._lock:
            try:
                db = self._index(create=False)
                if db is None:
                    return {}
                # Read before the rows: tags set after this are seen by the next listing.
                self._tags_version = _tags_version(db)
                if ids is None:
                    rows = db.execute(query).fetchall()
                else:
                    rows = []
                    # SQLite before 3.32 allows 999 parameters per statement.
                    for start in range(0, len(ids), 500):
                        chunk = ids[start : start + 500]
                        marks = ", ".join("?" * len(chunk))
                        rows += db.execute(f"{query} WHERE id IN ({marks})", chunk).fetchall()
            except sqlite3.Error as error:
                self._warn_index(error)
                return {}
        return {str(row[0]): row for row in rows}

    def _dirs(self) -> tuple[tuple[str, int], ...]:
        """Each folder's ``new/`` and ``cur/`` (relative to the Maildir), with its mtime."""
        found = []
        for folder in self._list_folders():
            for sub in ("new", "cur"):
                directory = os.path.join(folder, sub)
                try:
                    mtime = os.stat(directory).st_mtime_ns
                except OSError:
                    continue
                found.append((self._relative(directory), mtime))
        return tuple(found)

    def _state(self) -> _State:
        """What the directories and the index say now (a few ``stat`` calls, one query).

        A writer renames a file into place and then commits its new marks, holding the
        index's write lock throughout: a reader that looks in between sees the directory
        changed and the old mark. So when the marks do not match, the reader waits for
        any writer to finish (takes and drops that lock) and looks once more, instead of
        listing 100,000 files because of a change that was a moment from being marked.
        """
        state = self._look()
        if state.marked or not state.marks or not self._writer_done():
            return state
        return self._look()

    def _writer_done(self) -> bool:
        """Wait (briefly) until no writer holds the index; ``False`` if it cannot tell."""
        with self._lock:
            db = self._db
            if db is None:
                return False
            try:
                db.execute(f"PRAGMA busy_timeout = {int(_WRITER_WAIT * 1000)}")
                try:
                    db.execute("BEGIN IMMEDIATE")
                    db.execute("ROLLBACK")
                finally:
                    db.execute(f"PRAGMA busy_timeout = {int(_READER_WAIT * 1000)}")
            except sqlite3.Error:  # read-only, or busy for longer
                _rollback(db)
                return False
        return True

    def _look(self) -> _State:
        seen = time.time()
        dirs = self._dirs()
        marks: dict[str, int] = {}
        seq = -1
        tags: tuple[int | None, int | None] = (None, None)
        with self._lock:
            try:
                # Quietly: a damaged index is warned about when its rows are wanted.
                db = self._index(create=False, warn=False)
                if db is not None:
                    db.execute("BEGIN")  # one snapshot for the marks and the log
                    try:
                        tags = (_tags_version(db), _state_value(db, "tags_logged"))
                        if self._extended:
                            marks = dict(db.execute("SELECT dir, mtime FROM marks").fetchall())
                            seq = db.execute("SELECT max(seq) FROM changes").fetchone()[0] or 0
                    finally:
                        _rollback(db)
            except sqlite3.Error:
                marks = {}
        return _State(dirs, bool(dirs) and marks == dict(dirs), seq, tags, seen, bool(marks))

    def entries(self) -> list[Entry]:
        """Every stored message, newest first.

        When the index's marks match the directories, its rows are the files: the
        listing comes from the index (a process that listed before reads only the rows
        logged as changed since). Otherwise the directories are listed, and only files
        not seen by an earlier call are looked up in the index (or parsed).
        """
        state = self._state()
        if state == self._cached:
            return list(self._listing)
        if state.marked:
            listing = self._entries_from_index(state)
            if listing is not None:
                return list(listing)
        return list(self._entries_from_files(state))

    def newest_first(
        self, *, since: float | None = None, recipient: str | None = None
    ) -> Iterator[Entry]:
        """Stored messages newest first, read from the index lazily when it can be trusted.

        Args:
            since: Only messages stored at or after this need be given.
            recipient: Only messages to this address (normalized: a bare address, its
                domain lower-cased) need be given.

        The hints only narrow what is read; the caller checks every entry given.
        """
        state = self._state()
        if state == self._cached:
            return iter(list(self._listing))
        if not state.marked:
            return iter(self.entries())
        return self._newest_from_index(since, recipient)

    def _newest_from_index(self, since: float | None, recipient: str | None) -> Iterator[Entry]:
        if recipient is None:
            yield from self._pages("messages m", "m", [], since)
            return
        # The rows of the recipient's key and those of the key '' (addresses kept as
        # they came), each read in the recipients' own order, merged, each message once.
        key = _recipient_key(recipient)
        table = "recipients r JOIN messages m ON m.id = r.id"
        runs = [self._pages(table, "r", [("r.key = ?", each)], since) for each in {key, ""}]
        given: set[str] = set()
        for entry in heapq.merge(*runs, key=lambda entry: (entry.stored, entry.id), reverse=True):
            if entry.id not in given:
                given.add(entry.id)
                yield entry

    def _pages(
        self, table: str, order: str, conditions: list[tuple[str, object]], since: float | None
    ) -> Iterator[Entry]:
        """The rows of `table`, newest first by `order`'s ``stored`` and ``id``, in pages.

        Each page starts after the last row given, so that a caller who stops at the
        first match reads a page, not 100,000 rows.
        """
        if since is not None:
            conditions = [*conditions, (f"{order}.stored >= ?", since)]
        size = 20
        last: tuple[float, str] | None = None
        while True:
            parts = [condition for condition, _ in conditions]
            values: list[object] = [value for _, value in conditions]
            if last is not None:
                parts.append(f"({order}.stored, {order}.id) < (?, ?)")
                values += last
            clause = f"WHERE {' AND '.join(parts)}" if parts else ""
            rows = self._index_rows(
                f"SELECT {_ROW_COLUMNS} FROM {table} {clause} "
                f"ORDER BY {order}.stored DESC, {order}.id DESC LIMIT {size}",
                values,
            )
            if not rows:
                return
            for row in rows:
                yield self._row_entry(row)
            last = (float(rows[-1][1]), str(rows[-1][0]))  # type: ignore[arg-type]  # REAL
            size = min(size * 4, 5000)

    def _index_rows(self, query: str, values: list[object]) -> list[tuple[object, ...]] | None:
        """The rows `query` gives; ``None`` (with a warning) when the index fails."""
        with self._lock:
            try:
                db = self._index(create=False)
                return None if db is None else db.execute(query, values).fetchall()
            except sqlite3.Error as error:
                self._warn_index(error)
                return None

    def _row_entry(self, row: tuple[object, ...]) -> Entry:
        """The `Entry` of a row of ``_ROW_COLUMNS``."""
        name = str(row[0])
        location = os.path.join(self.path, str(row[11] or os.path.join("new", name)))
        return _entry_from_row(name, Path(location), row, self._inbox_at)

    def _entries_from_index(self, state: _State) -> list[Entry] | None:
        """The listing, from the rows (`state` is marked); ``None`` if the index fails."""
        previous = self._cached
        changed = None
        if previous is not None and previous.marked and _tags_logged(previous, state):
            changed = self._changed_since(previous.seq)
        known = self._known
        if changed is None:
            built = self._all_rows_as_entries()
            if built is None:
                return None
            listing = built
            sort_newest_first(listing)
            known = {entry.id: (str(entry.path), entry) for entry in listing}
        else:
            rows = []
            for start in range(0, len(changed), 500):
                chunk = changed[start : start + 500]
                found = self._index_rows(
                    f"SELECT {_ROW_COLUMNS} FROM messages m "
                    f"WHERE m.id IN ({', '.join('?' * len(chunk))})",
                    list(chunk),
                )
                if found is None:
                    return None
                rows += found
            fresh = [self._row_entry(row) for row in rows]
            sort_newest_first(fresh)
            gone = set(changed)
            listing = [entry for entry in self._listing if entry.id not in gone]
            for id in gone:
                known.pop(id, None)
            for entry in fresh:
                known[entry.id] = (str(entry.path), entry)
            if (
                fresh
                and listing
                and (fresh[-1].stored, fresh[-1].id)
                <= (
                    listing[0].stored,
                    listing[0].id,
                )
            ):
                listing = fresh + listing
                sort_newest_first(listing)
            else:
                listing = fresh + listing  # all newer: the usual case, a message arrived
        self._known = known
        self._unindexed = set()
        self._listing = listing
        self._cached = state
        return listing

    def _all_rows_as_entries(self) -> list[Entry] | None:
        """An entry for every row, newest first; ``None`` when the index fails.

        Read a batch at a time: 100,000 rows held at once besides their entries doubled
        the memory a web inbox keeps.
        """
        listing: list[Entry] = []
        with self._lock:
            try:
                db = self._index(create=False)
                if db is None:
                    return None
                cursor = db.execute(
                    f"SELECT {_ROW_COLUMNS} FROM messages m ORDER BY m.stored DESC, m.id DESC"
                )
                while rows := cursor.fetchmany(1000):
                    listing.extend(self._row_entry(row) for row in rows)
            except sqlite3.Error as error:
                self._warn_index(error)
                return None
        return listing

    def _changed_since(self, seq: int) -> list[str] | None:
        """IDs logged as changed after `seq`; ``None`` when the log cannot say."""
        with self._lock:
            try:
                db = self._index(create=False)
                if db is None:
                    return None
                first, last = db.execute("SELECT min(seq), max(seq) FROM changes").fetchone()
                if last is None or last <= seq:
                    return []
                if first > seq + 1:
                    return None  # forgotten since
                ids = [
                    str(id)
                    for (id,) in db.execute("SELECT DISTINCT id FROM changes WHERE seq > ?", (seq,))
                ]
            except sqlite3.Error as error:
                self._warn_index(error)
                return None
        return None if "" in ids else ids

    def _entries_from_files(self, state: _State) -> list[Entry]:
        """The listing, from the directories (their files, then rows of the new ones)."""
        if self._cached is None or self._cached.tags != state.tags:
            self._known = {}  # tags were set since: every entry is built again
        files = self._files()
        known = self._known
        fresh: dict[str, tuple[str, Entry]] = {}
        missing: list[str] = []
        for name, location in files.items():
            seen = known.get(name)
            if seen is not None and seen[0] == location:
                fresh[name] = seen
            else:
                missing.append(name)
        unindexed = {name for name in self._unindexed if name in fresh}
        rows = self._rows(missing if len(missing) <= 2000 else None) if missing else {}
        for name in missing:
            location = files[name]
            row = rows.get(name)
            if row is None:
                unindexed.add(name)
                built = self._foreign_entry(name, Path(location))
            else:
                built = _entry_from_row(name, Path(location), row, self._inbox_at)
            if built is not None:
                fresh[name] = (location, built)
        entries = [entry for _, entry in fresh.values()]
        sort_newest_first(entries)
        self._known = fresh
        self._unindexed = unindexed
        self._listing = entries
        self._cached = None
        if state.settled() and self._dirs() == state.dirs:
            # Nothing changed while listing, and no change can hide in an old mtime.
            self._cached = state
            if not unindexed:
                self._cached = self._repair(state, files) or state
        return entries

    def _repair(self, state: _State, files: dict[str, str]) -> _State | None:
        """Mark the directories after a listing found every file in the index.

        The rows of files deleted by other programs are dropped, and the locations of
        files mail clients moved (``new/`` to ``cur/``) are updated. Then readers in
        every process read the index instead of listing. Returns the state marked, or
        ``None`` when the index is busy, read-only or changed meanwhile.
        """
        with self._lock:
            db = self._index(create=False)
            if db is None or not self._extended:
                return None
            try:
                db.execute("PRAGMA busy_timeout = 50")  # a reader never waits for this
                try:
                    db.execute("BEGIN IMMEDIATE")
                finally:
                    db.execute(f"PRAGMA busy_timeout = {int(_READER_WAIT * 1000)}")
            except sqlite3.Error:
                return None
            try:
                now = (_tags_version(db), _state_value(db, "tags_logged"))
                logged = db.execute("SELECT max(seq) FROM changes").fetchone()[0] or 0
                if self._dirs() != state.dirs or now != state.tags or logged != state.seq:
                    _rollback(db)  # changed since the listing began
                    return None
                rows = db.execute("SELECT id, location, stored, recipients FROM messages")
                stale = []
                for id, location, stored, recipients in rows.fetchall():
                    where = files.get(id)
                    if where is None:
                        stale.append(str(id))
                        continue
                    actual = self._relative(where)
                    if location != actual:
                        db.execute("UPDATE messages SET location = ? WHERE id = ?", (actual, id))
                        if location is None:  # an earlier version's row
                            _insert_recipients(db, id, stored, str(recipients).split("\n"))
                _delete_rows(db, stale)
                db.execute("DELETE FROM marks")
                db.executemany("INSERT INTO marks (dir, mtime) VALUES (?, ?)", state.dirs)
                self._log(db, [""])
                seq = db.execute("SELECT max(seq) FROM changes").fetchone()[0] or 0
                db.execute("COMMIT")
            except (sqlite3.Error, OSError):
                _rollback(db)  # read-only, full, or busy: the next listing tries again
                return None
        return dataclasses.replace(state, marked=True, seq=seq)

    def _foreign_entry(self, name: str, path: Path) -> Entry | None:
        """Summarize a file the index does not know (another program delivered it)."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in self._foreign:
            try:
                with open_stored(path) as fp:
                    message = BytesParser().parse(fp, headersonly=True)
                if not has_headers(message):
                    raise NotAMessageError("not an email message: no header lines")
                stored = time_from_name(name, default=stat.st_mtime)
                entry = summarize(message, id=name, path=path, stored=stored, size=stat.st_size)
                self._foreign[key] = dataclasses.replace(
                    entry, inbox=self._inbox_at(str(path), entry.auth_user)
                )
            except (OSError, ValueError, TypeError, LookupError) as error:
                warnings.warn(f"skipping unreadable message {path}: {error}", stacklevel=4)
                self._foreign[key] = None
        return self._foreign[key]

    def read_bytes(self, id: str, limit: int | None = None) -> bytes:
        """The stored bytes of message `id` (the first `limit`); `KeyError` if not there."""
        seen = self._known.get(id)
        # Where the file was last seen, then where the server delivers it, then a scan
        # (a mail client may have moved it to cur/): opening one message stays instant.
        guesses = [seen[0]] if seen is not None else []
        if id and not id.startswith(".") and "/" not in id and "\0" not in id:
            guesses.append(os.path.join(self.path, "new", id))
        size = -1 if limit is None else limit
        if seen is None:
            guesses[:0] = self._indexed_locations([id]).values()
        for location in guesses:
            with (
                contextlib.suppress(FileNotFoundError, NotAMessageError),
                open_stored(location) as fp,
            ):
                return fp.read(size)
        found = self._files().get(id)
        if found is None:
            raise KeyError(id)
        try:
            with open_stored(found) as fp:
                return fp.read(size)
        except (FileNotFoundError, NotAMessageError):
            raise KeyError(id) from None

    def delete(self, ids: Iterable[str]) -> None:
        """Delete the messages `ids` (files and index rows); unknown ids are ignored."""
        with self._lock:
            self._delete_locked(self._index(create=False), list(ids))

    def _indexed_locations(self, ids: list[str]) -> dict[str, str]:
        """Where the index says the files of `ids` are (those it knows)."""
        found: dict[str, str] = {}
        with self._lock:
            try:
                db = self._index(create=False)
                if db is not None and self._extended:
                    for id, location in _locations(db, ids).items():
                        found[id] = os.path.join(self.path, location)
            except sqlite3.Error as error:
                self._warn_index(error)
        return found

    def _locate(self, ids: list[str]) -> dict[str, str]:
        """The files of those of `ids` that exist: as last seen, as indexed, or listed."""
        found: dict[str, str] = {}
        for id in ids:
            seen = self._known.get(id)
            if seen is not None and os.path.lexists(seen[0]):
                found[id] = seen[0]
        rest = [id for id in ids if id not in found]
        if rest and self._db is not None and self._extended:
            try:
                indexed = _locations(self._db, rest)
            except sqlite3.Error:
                indexed = {}
            for id, location in indexed.items():
                where = os.path.join(self.path, location)
                if os.path.lexists(where):
                    found[id] = where
            rest = [id for id in rest if id not in found]
        if rest:
            files = self._files()  # moved by a mail client, or never indexed
            found.update((id, files[id]) for id in rest if id in files)
        return found

    def _delete_locked(self, db: sqlite3.Connection | None, ids: list[str]) -> None:
        if not ids:
            return
        located = self._locate(ids)
        began = db is not None and self._begin(db)
        folders = sorted({os.path.dirname(os.path.dirname(where)) for where in located.values()})
        intact = self._intact(db, folders) if db is not None and began else []
        for location in located.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(location)
        if db is None:
            return
        # A few rows per transaction: the write-ahead log holds every page a transaction
        # frees, and on a full disk one transaction for all of them could not commit.
        # Readers in between see the directories changed and list them.
        step = _DELETED_AT_ONCE
        chunks = [ids[start : start + step] for start in range(0, len(ids), step)]
        for number, chunk in enumerate(chunks):
            try:
                if number and began:
                    began = self._begin(db)
                if self._extended:
                    _delete_rows(db, chunk)
                else:
                    db.executemany("DELETE FROM messages WHERE id = ?", [(id,) for id in chunk])
            except sqlite3.Error as error:
                # The files are gone, which is what readers see; a stale row is ignored.
                _rollback(db)
                self._warn_index(error)
                return
            if began:
                self._commit(db, chunk, intact if number == len(chunks) - 1 else [])

    def clear(self) -> None:
        """Delete every message."""
        self.delete(list(self._files()))
        with self._lock:
            db = self._index(create=False)
            if db is not None:
                try:
                    db.execute("BEGIN IMMEDIATE")
                    # Rows left without files. A message stored meanwhile loses its row
                    # too, so then the marks go: the next reader lists (and marks) again.
                    # Nothing is written when no row is left: on a full disk the commit
                    # then needs no room, and the space is given back below.
                    if db.execute("DELETE FROM messages").rowcount and self._extended:
                        db.execute("DELETE FROM recipients")
                        db.execute("DELETE FROM marks")
                        self._log(db, [""])
                    db.execute("COMMIT")
                except sqlite3.Error as error:
                    _rollback(db)
                    self._warn_index(error)
                try:
                    self._give_space_back(db)
                except sqlite3.Error as error:
                    self._warn_index(error)

    def _give_space_back(self, db: sqlite3.Connection) -> None:
        """Shrink the index file once deleted rows left much free space in it.

        A full disk must heal once mail is deleted. Only past `_VACUUM_FREE`: the pytest
        fixture clears its Maildir around every test, and a VACUUM each time would cost
        the test milliseconds for nothing.
        """
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        free_pages = db.execute("PRAGMA freelist_count").fetchone()[0]
        if free_pages * page_size >= _VACUUM_FREE:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("VACUUM")

    def search_text(self, needle: str, *, among: Iterable[Entry] | None = None) -> set[str]:
        """The ids whose text parts contain `needle`, after case folding (`message.fold`).

        Args:
            needle: The text to find.
            among: Entries just listed; files without an index row are then looked for
                among these instead of in a fresh directory scan.
        """
        listed = None if among is None else list(among)
        # Which of the listed have rows: all but those this store built from their
        # files, unless they came from elsewhere (then the index is asked).
        unsure = (
            None
            if listed is None
            else [
                entry.id
                for entry in listed
                if entry.id not in self._known or entry.id in self._unindexed
            ]
        )
        with self._lock:
            db = self._index(create=False)
            indexed: set[str] = set()
            found: set[str] = set()
            if db is not None:
                # The rows hold folded text, so a folded needle finds every case of it
                # (SQL LIKE folds ASCII only); asking for the hits only keeps 10,000
                # rows in SQLite.
                query = "SELECT id FROM messages WHERE instr(body, ?) > 0"
                try:
                    found.update(id for (id,) in db.execute(query, (fold(needle),)))
                    if unsure is None:
                        indexed.update(id for (id,) in db.execute("SELECT id FROM messages"))
                    else:
                        indexed.update(_indexed_ids(db, unsure))
                except sqlite3.Error as error:
                    self._warn_index(error)  # then every file is searched below
                    found.clear()
                    indexed.clear()
                    unsure = None if listed is None else [entry.id for entry in listed]
        if listed is None:
            files = self._files()
        else:
            assert unsure is not None  # given `among`, `unsure` is a list
            look = set(unsure) - indexed
            files = {entry.id: str(entry.path) for entry in listed if entry.id in look}
        folded = fold(needle)
        for name, location in files.items():
            if name not in indexed:
                with contextlib.suppress(OSError, NotAMessageError), open_stored(location) as fp:
                    message = parse_message(fp.read())
                    if folded in fold(search_text(message)):
                        found.add(name)
        return found

    def signature(self) -> object:
        """A value that changes when a message is added, read, deleted or tagged."""
        marks: list[int] = []
        with contextlib.suppress(FileNotFoundError):
            marks.append(self.path.stat().st_mtime_ns)  # a folder made or removed
        for folder in self._list_folders():
            for sub in ("new", "cur"):
                try:
                    marks.append(os.stat(os.path.join(folder, sub)).st_mtime_ns)
                except (FileNotFoundError, NotADirectoryError):
                    marks.append(0)
        with contextlib.suppress(FileNotFoundError):
            # Setting tags writes only the index (its write-ahead log, when one is open).
            for suffix in ("", "-wal"):
                marks.append(os.stat(f"{self.path / INDEX_NAME}{suffix}").st_mtime_ns)
        return tuple(marks)

    def set_tags(self, ids: Iterable[str], tags: Iterable[str]) -> None:
        """Replace the tags of messages `ids` (kept in the index; files stay as received).

        A message without an index row (another program delivered it) is given one.
        """
        joined = "\n".join(unique_tags(tags))
        wanted = list(dict.fromkeys(ids))
        files: dict[str, str] | None = None
        with self._lock:
            db = self._index(create=True)
            assert db is not None  # create=True always opens it
            db.execute("BEGIN IMMEDIATE")
            try:
                for id in wanted:
                    changed = db.execute("UPDATE messages SET tags = ? WHERE id = ?", (joined, id))
                    if changed.rowcount:
                        continue
                    if files is None:
                        files = self._files()
                    location = files.get(id)
                    if location is None:
                        continue  # unknown, or deleted meanwhile
                    with (
                        contextlib.suppress(OSError, NotAMessageError),
                        open_stored(location) as fp,
                    ):
                        data = fp.read()
                        message = parse_message(data)
                        stored = time_from_name(id, default=os.stat(location).st_mtime)
                        entry = summarize(
                            message, id=id, path=Path(location), stored=stored, size=len(data)
                        )
                        self._insert(
                            db,
                            dataclasses.replace(
                                entry, tags=tuple(joined.split("\n")) if joined else ()
                            ),
                            message,
                            self._relative(location),
                        )
                for key in ("tags", "tags_logged"):
                    db.execute(
                        "INSERT INTO state (key, value) VALUES (?, 1) "
                        "ON CONFLICT (key) DO UPDATE SET value = value + 1",
                        (key,),
                    )
            except BaseException:
                _rollback(db)
                raise
            self._commit(db, wanted, [])


@dataclasses.dataclass(frozen=True)
class _State:
    """What a reader saw of a Maildir: enough to tell whether a listing is still current."""

    #: Each ``new/`` and ``cur/`` (relative to the Maildir) and its mtime in ns.
    dirs: tuple[tuple[str, int], ...]
    #: Whether the index's marks are exactly these mtimes (its rows are the files).
    marked: bool
    #: The last change logged in the index (-1: no log).
    seq: int
    #: Tags versions: as bumped by every writer, and as last logged by this version's.
    tags: tuple[int | None, int | None]
    #: When the directories were looked at (`time.time()`).
    seen: float = dataclasses.field(default=0.0, compare=False)
    #: Whether the index holds any marks at all.
    marks: bool = dataclasses.field(default=False, compare=False)

    def settled(self) -> bool:
        """Whether every directory's mtime was older than `_MARK_AGE` when seen."""
        newest = max((mtime for _, mtime in self.dirs), default=0)
        return self.seen - newest / 1e9 >= _MARK_AGE


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if one is (SQLite ends some itself on errors)."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _recipient_key(address: str) -> str:
    """The index key of an envelope recipient: lower-cased if simple, else ``''``."""
    return address.lower() if _SIMPLE_ADDRESS.fullmatch(address) else ""


def _insert_recipients(
    db: sqlite3.Connection, id: str, stored: float, recipients: Iterable[str]
) -> None:
    keys = {_recipient_key(address) for address in recipients}
    db.executemany(
        "INSERT OR IGNORE INTO recipients (key, stored, id) VALUES (?, ?, ?)",
        [(key, stored, id) for key in keys],
    )


def _delete_rows(db: sqlite3.Connection, ids: list[str]) -> None:
    """Delete the rows of `ids`, with their recipients (found by key, as they are kept)."""
    doomed = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT id, stored, recipients FROM messages WHERE id IN ({marks})"
        doomed += db.execute(query, chunk).fetchall()
    db.executemany(
        "DELETE FROM recipients WHERE key = ? AND stored = ? AND id = ?",
        [
            (key, stored, id)
            for id, stored, recipients in doomed
            for key in {_recipient_key(address) for address in str(recipients).split("\n")}
        ],
    )
    db.executemany("DELETE FROM messages WHERE id = ?", [(id,) for id, _, _ in doomed])


def _locations(db: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
    """The locations the index gives for `ids` (relative to the Maildir)."""
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT id, location FROM messages WHERE id IN ({marks})"
        found.update((str(id), str(where)) for id, where in db.execute(query, chunk) if where)
    return found


def _indexed_ids(db: sqlite3.Connection, ids: list[str]) -> set[str]:
    """Those of `ids` that have an index row."""
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found.update(
            str(id) for (id,) in db.execute(f"SELECT id FROM messages WHERE id IN ({marks})", chunk)
        )
    return found


def _state_value(db: sqlite3.Connection, key: str) -> int | None:
    row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def _tags_logged(before: _State, after: _State) -> bool:
    """Whether every setting of tags between two states is in the change log.

    This version's writers bump both counters; an earlier version's bump only the first.
    """
    (set_before, logged_before), (set_after, logged_after) = before.tags, after.tags
    return (set_after or 0) - (set_before or 0) == (logged_after or 0) - (logged_before or 0)


def _tags_version(db: sqlite3.Connection) -> int | None:
    """How many times tags were set in this index (``None``: never)."""
    row = db.execute("SELECT value FROM state WHERE key = 'tags'").fetchone()
    return None if row is None else int(row[0])


def _entry_from_row(
    name: str, path: Path, row: tuple[object, ...], inbox_at: Callable[[str, str | None], str]
) -> Entry:
    """The `Entry` of an index row (``_COLUMNS``, then ``auth_user`` and ``tags``)."""
    recipients = str(row[3])
    auth_user = None if row[9] is None else str(row[9])
    tags = str(row[10])
    return Entry(
        id=name,
        path=path,
        stored=float(row[1]),  # type: ignore[arg-type]  # SQLite REAL
        sender=str(row[2]),
        recipients=tuple(recipients.split("\n")) if recipients else (),
        subject=str(row[4]),
        from_header=str(row[5]),
        to_header=str(row[6]),
        size=int(row[7]),  # type: ignore[call-overload]  # SQLite INTEGER
        attachments=int(row[8]),  # type: ignore[call-overload]  # SQLite INTEGER
        auth_user=auth_user,
        inbox=inbox_at(str(path), auth_user),
        tags=tuple(tags.split("\n")) if tags else (),
    )


#: 9999-12-31 23:59:59 UTC, the last second `datetime` can show.
_LAST_SECOND = 253_402_300_799
#: ``SECONDS.M<microseconds>…``: the microseconds come with or without zero padding
#: (Python's `mailbox` writes ``M40595`` for 0.040595 s; we write ``M040595``).
_NAME_TIME = re.compile(r"(\d+)(?:\.M(\d{1,6})(?!\d))?")


def time_from_name(name: str, *, default: float) -> float:
    """The delivery time encoded at the start of a Maildir name (``SECONDS.M<usec>…``).

    The Maildir spec (https://cr.yp.to/proto/maildir.html) starts a unique name with the
    delivery time in seconds; ``M`` then gives "the microsecond counter", a number, so
    ``M40595`` is 40,595 microseconds. A name without a time gives `default`.
    """
    match = _NAME_TIME.match(name)
    if match is None or (len(name) > match.end(1) and name[match.end(1)] != "."):
        return default
    stored = float(match.group(1))
    if not 0 <= stored <= _LAST_SECOND:
        return default  # not a delivery time a clock, a date or JSON can show
    if match.group(2) is not None:
        stored += int(match.group(2)) / 1_000_000
    return stored


def is_maildir(path: Path) -> bool:
    """Whether `path` is a directory holding ``cur/`` and ``new/``."""
    return (path / "new").is_dir() and (path / "cur").is_dir()
