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
from collections.abc import Callable, Iterable
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
CREATE INDEX IF NOT EXISTS messages_stored ON messages (stored);
-- 'tags': bumped whenever tags are set, so readers in other processes rebuild entries.
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
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
        self._host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")

    def close(self) -> None:
        """Close the index connection."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _index(self, *, create: bool, repair: bool = True) -> sqlite3.Connection | None:
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
                        db.execute("DROP TABLE IF EXISTS messages")
                        db.executescript(_SCHEMA)
                        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                elif version != SCHEMA_VERSION:
                    db.close()
                    return None
                db.execute("PRAGMA synchronous = NORMAL")
                # The write-ahead log is cut back to this after each checkpoint: left
                # alone it keeps its largest size, and on a full disk it never shrank.
                db.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT}")
                db.execute(f"PRAGMA wal_autocheckpoint = {_WAL_PAGES}")
            except sqlite3.DatabaseError as error:
                db.close()
                if not create:
                    # A reader goes on without the index: every file is parsed instead.
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
                # The row goes in before the rename: a reader that sees the file
                # always finds its row; a row without a file is ignored.
                indexed = self._insert(db, entry, message)
                try:
                    os.rename(temporary, final)
                except BaseException:
                    if indexed:
                        db.execute("DELETE FROM messages WHERE id = ?", (name,))
                    raise
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
            if keep is not None:
                self._trim(db, keep)
        return entry

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

    def _insert(self, db: sqlite3.Connection, entry: Entry, message: Message) -> bool:
        """Add `entry`'s index row; ``False`` (with a warning) when the index cannot take it.

        The index is a cache: when it cannot grow (a full disk, a lock held too long by
        another process) the message is still stored, and readers parse its file.
        """
        try:
            db.execute(
                f"INSERT INTO messages ({_COLUMNS}, auth_user, body, tags) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ),
            )
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

    def entries(self) -> list[Entry]:
        """Every stored message, newest first.

        Only files not seen by an earlier call are looked up in the index (or parsed),
        so a second listing of a large Maildir is one directory scan.
        """
        if self._known:
            self._check_tags()
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
        if not missing and len(fresh) == len(known) == len(self._listing):
            return list(self._listing)
        rows = self._rows(missing if len(missing) <= 2000 else None) if missing else {}
        for name in missing:
            location = files[name]
            row = rows.get(name)
            built = (
                self._foreign_entry(name, Path(location))
                if row is None
                else _entry_from_row(name, Path(location), row, self._inbox_at)
            )
            if built is not None:
                fresh[name] = (location, built)
        entries = [entry for _, entry in fresh.values()]
        sort_newest_first(entries)
        self._known = fresh
        self._listing = entries
        return list(entries)

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

    def _delete_locked(self, db: sqlite3.Connection | None, ids: list[str]) -> None:
        files = self._files()
        for id in ids:
            location = files.get(id)
            if location is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(location)
        if db is not None:
            try:
                db.executemany("DELETE FROM messages WHERE id = ?", [(id,) for id in ids])
            except sqlite3.Error as error:
                # The files are gone, which is what readers see; a stale row is ignored.
                self._warn_index(error)

    def clear(self) -> None:
        """Delete every message."""
        self.delete(list(self._files()))
        with self._lock:
            db = self._index(create=False)
            if db is not None:
                try:
                    db.execute("DELETE FROM messages")
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
                    indexed.update(id for (id,) in db.execute("SELECT id FROM messages"))
                except sqlite3.Error as error:
                    self._warn_index(error)  # then every file is searched below
                    found.clear()
                    indexed.clear()
        if among is None:
            files = self._files()
        else:
            files = {entry.id: str(entry.path) for entry in among if entry.id not in indexed}
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
            for id in wanted:
                changed = db.execute("UPDATE messages SET tags = ? WHERE id = ?", (joined, id))
                if changed.rowcount:
                    continue
                if files is None:
                    files = self._files()
                location = files.get(id)
                if location is None:
                    continue  # unknown, or deleted meanwhile
                with contextlib.suppress(OSError, NotAMessageError), open_stored(location) as fp:
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
                    )
            db.execute(
                "INSERT INTO state (key, value) VALUES ('tags', 1) "
                "ON CONFLICT (key) DO UPDATE SET value = value + 1"
            )

    def _check_tags(self) -> None:
        """Forget the entries built so far when tags were set since (by any process)."""
        with self._lock:
            try:
                db = self._index(create=False)
                version = None if db is None else _tags_version(db)
            except sqlite3.Error:
                return
        if version != self._tags_version:
            self._tags_version = version
            self._known = {}
            self._listing = []


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
