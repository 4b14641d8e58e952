"""Where caught messages live on disk: the single latest file and the Maildir.

This is the only module that knows the file formats. Writers keep three promises:
a reader never sees a partial file (write a temporary file, then rename it into
place), the write has finished before the catcher answers ``250``, and nothing is
left behind when a write fails. Readers get an `Entry` per message without parsing
the message: the Maildir keeps a small SQLite index beside its files, so "the newest
message to eva@example.com" among 10,000 parses one message, not 10,000.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import re
import socket
import sqlite3
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email import headerregistry, policy
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import Compat32
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias

StrPath: TypeAlias = "str | os.PathLike[str]"

#: Headers the catcher writes from the SMTP session. A client's own copies are
#: removed before these are added, so they always tell the server's truth.
PEER_HEADER = "X-Peer"
MAIL_FROM_HEADER = "X-MailFrom"
RCPT_TO_HEADER = "X-RcptTo"
AUTH_USER_HEADER = "X-Mailcatcher-Auth-User"
ENVELOPE_HEADERS = (PEER_HEADER, MAIL_FROM_HEADER, RCPT_TO_HEADER, AUTH_USER_HEADER)

INDEX_NAME = ".mailcatcher.sqlite3"
_SEARCH_TEXT_LIMIT = 64 * 1024
_FILE_MODE = 0o644


@dataclass(frozen=True)
class Entry:
    """What a reader needs to find a message, known without parsing it."""

    id: str
    path: Path
    stored: float
    sender: str
    recipients: tuple[str, ...]
    subject: str
    from_header: str
    to_header: str
    size: int
    attachments: int
    auth_user: str | None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class _VerbatimHeaders(Compat32):
    """compat32, except that each header is written back as it arrived, not refolded.

    compat32 refolds every header through `email.header.Header`: a long first word
    moves to a line of its own (the value then reads back with a leading space), and a
    value holding a form feed followed by ``Name:`` raises `HeaderParseError`, so the
    catcher answered 451 to that message forever. A catcher stores what it was sent.
    """

    def fold_binary(self, name: str, value: object) -> bytes:
        """``Name: value`` with the value's own folding; other values as compat32 does."""
        if not isinstance(value, str) or self.cte_type == "7bit":
            # compat32 also folds `Header` objects, which typeshed's `str` does not admit.
            return super().fold_binary(name, value)  # type: ignore[arg-type]
        lines = _LINE_BREAK.split(value)
        if any(line[:1] not in (" ", "\t") for line in lines[1:]):
            # A break that is not folding (RFC 5322 2.2.3: CRLF, then WSP) was put there by
            # a program, not parsed: let compat32 fold it rather than start a new header.
            return super().fold_binary(name, value)
        text = f"{name}: {self.linesep.join(lines)}{self.linesep}"
        # Parsed raw 8-bit bytes are surrogate escapes; SMTPUTF8 text parsed from str is real
        # text: both go out as the UTF-8 bytes they were (RFC 6532).
        return text.encode("utf-8", "surrogateescape")


_VERBATIM = _VerbatimHeaders()


class _Generator(BytesGenerator):
    """`BytesGenerator`, with its line-ending normalisation done by `str.replace`.

    The stdlib splits each body on the regular expression ``\\r\\n|\\r|\\n`` and writes
    it a line at a time: 60% of the time spent writing a 100 KiB message. Replacing
    the line endings in one pass gives the same bytes (a test compares them).
    """

    def _write_lines(self, lines: str) -> None:
        if lines:
            text = lines.replace("\r\n", "\n").replace("\r", "\n")
            newline: str = self._NL  # type: ignore[attr-defined]  # set by flatten(); not in typeshed
            self.write(text if newline == "\n" else text.replace("\n", newline))


def write_message(message: Message, fp: BinaryIO) -> None:
    """Write `message` as bytes, so 8-bit content survives whatever the locale.

    ``mangle_from_`` is off: these files are not mbox files, and a body line that
    starts with ``From `` must read back as it was sent. Headers of a compat32
    message keep the folding they arrived with (see `_VerbatimHeaders`).
    """
    verbatim = _VERBATIM if isinstance(message.policy, Compat32) else None
    _Generator(fp, mangle_from_=False, policy=verbatim).flatten(message)


class _TolerantPolicy(policy.EmailPolicy):
    """`email.policy.default`, except that a header its parser chokes on stays plain text.

    The stdlib's structured-header parser raises on some malformed values (for
    example ``Content-Type: text/plain; x*`` raises `IndexError`, during parsing, since
    the parser asks each part for its content type). Mail is the sender's to get
    wrong: such a header reads back as its raw text instead of failing the read.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        """The structured header, or an unstructured one when it cannot be parsed."""
        try:
            return super().header_fetch_parse(name, value)
        except Exception:  # any parser failure: the header is the sender's
            return _UNSTRUCTURED(name, value.replace("\r", "").replace("\n", ""))


_UNSTRUCTURED = headerregistry.HeaderRegistry(use_default_map=False)
_READ_POLICY = _TolerantPolicy()


def parse_message(data: bytes) -> EmailMessage:
    """Parse stored bytes like `email.policy.default` (``get_body()`` and friends work).

    Never raises for malformed headers (see `_TolerantPolicy`).
    """
    message = BytesParser(policy=_READ_POLICY).parsebytes(data)
    assert isinstance(message, EmailMessage)  # EmailPolicy's message factory
    return message


def decode_header_value(value: object) -> str:
    """Decode an RFC 2047 or raw 8-bit (RFC 6532) header value into text; never raise."""
    if value is None:
        return ""
    # Unfold (RFC 5322 2.2.3): compat32 keeps a folded value's line breaks.
    text = _LINE_BREAK.sub("", str(value))
    if any("\udc80" <= char <= "\udcff" for char in text):
        # compat32 keeps raw 8-bit header bytes as surrogate escapes.
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        return text


def _raw_header(message: Message, name: str) -> object:
    """The first `name` header as parsed, or None.

    Not `message.get`: compat32 turns a raw 8-bit (RFC 6532) value into a `Header`
    whose str() is U+FFFD replacement characters, losing a UTF-8 subject or address.
    """
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return value
    return None


def summarize(message: Message, *, id: str, path: Path, stored: float, size: int) -> Entry:
    """Build the `Entry` of a message from the headers the catcher wrote."""
    recipients = tuple(
        address.strip()
        for address in decode_header_value(_raw_header(message, RCPT_TO_HEADER)).split(",")
        if address.strip()
    )
    auth_user = _raw_header(message, AUTH_USER_HEADER)
    return Entry(
        id=id,
        path=path,
        stored=stored,
        sender=decode_header_value(_raw_header(message, MAIL_FROM_HEADER)),
        recipients=recipients,
        subject=decode_header_value(_raw_header(message, "Subject")),
        from_header=decode_header_value(_raw_header(message, "From")),
        to_header=decode_header_value(_raw_header(message, "To")),
        size=size,
        attachments=sum(1 for part in message.walk() if _is_attachment(part)),
        auth_user=None if auth_user is None else decode_header_value(auth_user),
    )


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or part.get_filename() is not None


def _search_text(message: Message) -> str:
    """The decoded text of a message's text parts, for free-text search."""
    chunks: list[str] = []
    for part in message.walk():
        if part.get_content_maintype() != "text" or _is_attachment(part):
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = part.get_content_charset() or "utf-8"
            try:
                chunks.append(payload.decode(charset, "replace"))
            except LookupError:
                chunks.append(payload.decode("utf-8", "replace"))
    return "\n".join(chunks)[:_SEARCH_TEXT_LIMIT]


def _atomic_write(message: Message, target: Path) -> None:
    """Write to a temporary file beside `target`, then rename it over `target`."""
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fp:
            os.fchmod(fp.fileno(), _FILE_MODE)
            write_message(message, fp)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class FileStore:
    """The single file that `MailFile` replaces with each message."""

    def __init__(self, path: StrPath) -> None:
        self.path = Path(path)
        # The last file read: its stat key, its entry and its bytes. Reading returns
        # these bytes, so an entry and its content always belong together even when
        # the file is replaced between listing and reading.
        self._cache: tuple[tuple[int, int, int], Entry, bytes] | None = None

    def __enter__(self) -> FileStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; present so both stores are used the same way."""

    def add(self, message: Message) -> None:
        """Replace the file with `message`, atomically."""
        _atomic_write(message, self.path)

    def entries(self) -> list[Entry]:
        """The stored message (zero or one), as a list."""
        try:
            fp = open(self.path, "rb")  # noqa: SIM115  # closed below; fstat needs the handle
        except FileNotFoundError:
            return []
        except IsADirectoryError:
            raise IsADirectoryError(
                errno.EISDIR, "Is a directory, not a mail file or a Maildir", str(self.path)
            ) from None
        with fp:
            # fstat the open file: its identity and its bytes are the same file's,
            # even if the server renames a new one into place meanwhile.
            stat = os.fstat(fp.fileno())
            key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if self._cache is not None and self._cache[0] == key:
                return [self._cache[1]]
            data = fp.read()
        message = BytesParser().parsebytes(data)
        entry = summarize(
            message,
            id=f"{stat.st_ino:x}-{stat.st_mtime_ns:x}",
            path=self.path,
            stored=stat.st_mtime,
            size=len(data),
        )
        self._cache = (key, entry, data)
        return [entry]

    def read_bytes(self, id: str) -> bytes:
        """The stored bytes of message `id`; `KeyError` when it is no longer there."""
        if self._cache is None or self._cache[1].id != id:
            self.entries()
        if self._cache is None or self._cache[1].id != id:
            raise KeyError(id)
        return self._cache[2]

    def delete(self, ids: Iterable[str]) -> None:
        """Delete the file if it still holds one of `ids`."""
        wanted = set(ids)
        for entry in self.entries():
            if entry.id in wanted:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()

    def clear(self) -> None:
        """Remove the stored message."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def search_text(self, needle: str, *, among: Iterable[Entry] | None = None) -> set[str]:
        """The ids whose text parts contain `needle`, case-insensitively."""
        found: set[str] = set()
        for entry in self.entries() if among is None else among:
            message = BytesParser().parsebytes(self.read_bytes(entry.id))
            if needle.casefold() in _search_text(message).casefold():
                found.add(entry.id)
        return found

    def signature(self) -> object:
        """Changes whenever the file is replaced (each write is a new inode)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


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
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_stored ON messages (stored);
"""
_COLUMNS = "id, stored, sender, recipients, subject, from_header, to_header, size, attachments"


class MaildirStore:
    """A standard Maildir (``tmp/``, ``new/``, ``cur/``) with a summary index beside it.

    Each message is its own file, readable by `mailbox.Maildir` and by mail clients.
    The index (``.mailcatcher.sqlite3``, SQLite in WAL mode so readers in other
    processes never block the writer) holds one row per message. A file without a
    row, such as one delivered by another program, is parsed when read; a file that
    cannot be parsed is skipped with a warning.
    """

    _sequence = itertools.count()

    def __init__(self, path: StrPath, *, create: bool = False) -> None:
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
        # Entries already built, by name, with the file they were built for: a
        # delivered Maildir file never changes, so listing 10,000 messages again only
        # costs a directory scan, not 10,000 index rows and paths.
        self._known: dict[str, tuple[str, Entry]] = {}
        self._listing: list[Entry] = []
        self._host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")

    def __enter__(self) -> MaildirStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
            db = sqlite3.connect(index, timeout=10.0, check_same_thread=False, isolation_level=None)
            try:
                db.execute("PRAGMA busy_timeout = 10000")
                if create:
                    # WAL lets readers in other processes read while the server writes;
                    # NORMAL skips an fsync per commit: a crash can lose an index row,
                    # never a message file, and a file without a row is still read.
                    db.execute("PRAGMA journal_mode = WAL")
                    db.executescript(_SCHEMA)
                db.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.DatabaseError as error:
                db.close()
                # Exactly DatabaseError: "file is not a database" or "malformed", not an
                # OperationalError such as a lock. The index is a cache; a damaged one
                # must not make the writer refuse every message with 451.
                if not (create and repair and type(error) is sqlite3.DatabaseError):
                    raise
                self._set_aside(index, error)
                return self._index(create=True, repair=False)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

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
        temporary = self.path / "tmp" / name
        final = self.path / "new" / name
        with self._lock:
            db = self._index(create=True)
            assert db is not None  # create=True always opens it
            try:
                with open(temporary, "xb") as fp:
                    os.fchmod(fp.fileno(), _FILE_MODE)
                    write_message(message, fp)
                    size = fp.tell()
                entry = summarize(message, id=name, path=final, stored=now, size=size)
                # The row goes in before the rename: a reader that sees the file
                # always finds its row; a row without a file is ignored.
                db.execute(
                    f"INSERT INTO messages ({_COLUMNS}, auth_user, body) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                        _search_text(message),
                    ),
                )
                try:
                    os.rename(temporary, final)
                except BaseException:
                    db.execute("DELETE FROM messages WHERE id = ?", (name,))
                    raise
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
            if keep is not None:
                self._trim(db, keep)
        return entry

    def _trim(self, db: sqlite3.Connection, keep: int) -> None:
        old = [
            row[0]
            for row in db.execute(
                "SELECT id FROM messages ORDER BY stored DESC, id DESC LIMIT -1 OFFSET ?", (keep,)
            )
        ]
        if old:
            self._delete_locked(db, old)

    def _files(self) -> dict[str, str]:
        """Map each message's unique name to its file, in ``new/`` or ``cur/``."""
        files: dict[str, str] = {}
        for sub in ("new", "cur"):
            try:
                scan = os.scandir(self.path / sub)
            except FileNotFoundError:
                continue
            with scan:
                for item in scan:
                    if not item.name.startswith("."):
                        # Mail clients rename new/NAME to cur/NAME:2,FLAGS when read.
                        files[item.name.split(":", 1)[0]] = item.path
        return files

    def _rows(self, ids: list[str] | None = None) -> dict[str, tuple[object, ...]]:
        """The index rows of `ids` (all rows when `ids` is None)."""
        query = f"SELECT {_COLUMNS}, auth_user FROM messages"
        with self._lock:
            try:
                db = self._index(create=False)
                if db is None:
                    return {}
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
                warnings.warn(
                    f"cannot read the index {self.path / INDEX_NAME}: {error}; "
                    "parsing every message instead",
                    stacklevel=3,
                )
                return {}
        return {str(row[0]): row for row in rows}

    def entries(self) -> list[Entry]:
        """Every stored message, newest first.

        Only files not seen by an earlier call are looked up in the index (or parsed),
        so a second listing of a large Maildir is one directory scan.
        """
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
                else _entry_from_row(name, Path(location), row)
            )
            if built is not None:
                fresh[name] = (location, built)
        entries = [entry for _, entry in fresh.values()]
        entries.sort(key=lambda entry: (entry.stored, entry.id), reverse=True)
        self._known = fresh
        self._listing = entries
        return list(entries)

    def _foreign_entry(self, name: str, path: Path) -> Entry | None:
        """Summarize a file the index does not know (another program delivered it)."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        key = (name, stat.st_mtime_ns, stat.st_size)
        if key not in self._foreign:
            try:
                with open(path, "rb") as fp:
                    message = BytesParser().parse(fp, headersonly=True)
                if not message.keys():
                    # The parser reads any bytes; a file with no header line at all
                    # (empty, binary, a stray note) is not a message (RFC 5322 3.6).
                    raise ValueError("not an email message: no header lines")
                stored = _time_from_name(name, default=stat.st_mtime)
                self._foreign[key] = summarize(
                    message, id=name, path=path, stored=stored, size=stat.st_size
                )
            except (OSError, ValueError, TypeError, LookupError) as error:
                warnings.warn(f"skipping unreadable message {path}: {error}", stacklevel=4)
                self._foreign[key] = None
        return self._foreign[key]

    def read_bytes(self, id: str) -> bytes:
        """The stored bytes of message `id`; `KeyError` when it is not there."""
        seen = self._known.get(id)
        # Where the file was last seen, then where the server delivers it, then a scan
        # (a mail client may have moved it to cur/): opening one message stays instant.
        guesses = [seen[0]] if seen is not None else []
        if id and not id.startswith(".") and "/" not in id and "\0" not in id:
            guesses.append(os.path.join(self.path, "new", id))
        for location in guesses:
            with contextlib.suppress(FileNotFoundError), open(location, "rb") as fp:
                return fp.read()
        found = self._files().get(id)
        if found is None:
            raise KeyError(id)
        try:
            with open(found, "rb") as fp:
                return fp.read()
        except FileNotFoundError:
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
            db.executemany("DELETE FROM messages WHERE id = ?", [(id,) for id in ids])

    def clear(self) -> None:
        """Delete every message."""
        self.delete(list(self._files()))
        with self._lock:
            db = self._index(create=False)
            if db is not None:
                db.execute("DELETE FROM messages")

    def search_text(self, needle: str, *, among: Iterable[Entry] | None = None) -> set[str]:
        """The ids whose text parts contain `needle` (case-insensitive for ASCII).

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
                pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                pattern += "%"
                # LIKE ignores ASCII case, as SQLite's lower() would (both leave other
                # letters alone); asking for the hits only keeps 10,000 rows in SQLite.
                query = "SELECT id FROM messages WHERE body LIKE ? ESCAPE '\\'"
                found.update(id for (id,) in db.execute(query, (pattern,)))
                indexed.update(id for (id,) in db.execute("SELECT id FROM messages"))
        if among is None:
            files = self._files()
        else:
            files = {entry.id: str(entry.path) for entry in among if entry.id not in indexed}
        for name, location in files.items():
            if name not in indexed:
                with contextlib.suppress(OSError):
                    message = BytesParser().parsebytes(Path(location).read_bytes())
                    if needle.casefold() in _search_text(message).casefold():
                        found.add(name)
        return found

    def signature(self) -> object:
        """A value that changes when a message is added, read or deleted."""
        marks: list[int] = []
        for sub in ("new", "cur"):
            try:
                marks.append((self.path / sub).stat().st_mtime_ns)
            except FileNotFoundError:
                marks.append(0)
        return tuple(marks)


def _entry_from_row(name: str, path: Path, row: tuple[object, ...]) -> Entry:
    """The `Entry` of an index row (columns as in ``_COLUMNS``, then ``auth_user``)."""
    recipients = str(row[3])
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
        auth_user=None if row[9] is None else str(row[9]),
    )


def _time_from_name(name: str, *, default: float) -> float:
    """The delivery time encoded at the start of a Maildir name (``SECONDS.M<usec>…``)."""
    seconds, _, rest = name.partition(".")
    try:
        stored = float(seconds)
    except ValueError:
        return default
    if rest.startswith("M") and rest[1:7].isdigit():
        stored += int(rest[1:7]) / 1_000_000
    return stored


def maildir_problem(path: Path) -> str | None:
    """Why `path` cannot hold a Maildir a catcher writes, or ``None`` when it can.

    It can when it is a Maildir, an empty directory, or a new name in an existing,
    writable directory (the catcher creates it).
    """
    if path.exists() and not path.is_dir():
        return "it is a file"
    parent = path.parent
    if not parent.is_dir():
        return f"directory {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"directory {parent} is not writable"
    if path.is_dir() and not is_maildir(path) and any(path.iterdir()):
        return "it holds other files and no cur/ and new/"
    return None


def is_maildir(path: Path) -> bool:
    """Whether `path` is a directory holding ``cur/`` and ``new/``."""
    return (path / "new").is_dir() and (path / "cur").is_dir()


Store: TypeAlias = "FileStore | MaildirStore"


def open_store(path: StrPath) -> Store:
    """The store at `path`: a Maildir when it is a directory, else the single file.

    Raises:
        NotADirectoryError: `path` is a directory but not a Maildir.
    """
    target = Path(path)
    if target.is_dir():
        return MaildirStore(target)
    return FileStore(target)


@contextlib.contextmanager
def opened(path: StrPath) -> Iterator[Store]:
    """`open_store` as a context manager that closes the index connection."""
    store = open_store(path)
    try:
        yield store
    finally:
        store.close()
