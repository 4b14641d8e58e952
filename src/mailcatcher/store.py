"""Where caught messages live on disk: the single latest file and the Maildir.

This module and the two it draws on (`_format`, `_maildir`) are the only ones that know
the file formats. Writers keep three promises: a reader never sees a partial file (write
a temporary file, then rename it into place), the write has finished before the catcher
answers ``250``, and nothing is left behind when a write fails. Readers get an `Entry`
per message without parsing the message.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import TypeAlias

from ._format import (
    AUTH_USER_HEADER,
    ENVELOPE_HEADERS,
    FILE_MODE,
    MAIL_FROM_HEADER,
    PEER_HEADER,
    RCPT_TO_HEADER,
    Entry,
    parse_message,
    search_text,
    summarize,
    write_message,
)
from ._maildir import INDEX_NAME, MaildirStore, is_maildir
from ._mime import decode_value as decode_header_value

__all__ = [
    "AUTH_USER_HEADER",
    "ENVELOPE_HEADERS",
    "INDEX_NAME",
    "MAIL_FROM_HEADER",
    "PEER_HEADER",
    "RCPT_TO_HEADER",
    "Entry",
    "FileStore",
    "MaildirStore",
    "Store",
    "StrPath",
    "decode_header_value",
    "is_maildir",
    "maildir_problem",
    "open_store",
    "opened",
    "parse_message",
    "summarize",
    "write_message",
]

StrPath: TypeAlias = "str | os.PathLike[str]"


def _atomic_write(message: Message, target: Path) -> None:
    """Write to a temporary file beside `target`, then rename it over `target`."""
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fp:
            os.fchmod(fp.fileno(), FILE_MODE)
            write_message(message, fp)
            # The file's time is when it was stored (`Entry.stored`, the ``since=``
            # filter). Kernels before Linux 6.13 stamp files from a clock up to a tick
            # behind time.time(); stamping it ourselves keeps ``since=time.time()``
            # before a send from missing the message.
            fp.flush()  # a later flush would stamp the file again
            now = time.time_ns()
            os.utime(fp.fileno(), ns=(now, now))
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
            if needle.casefold() in search_text(message).casefold():
                found.add(entry.id)
        return found

    def signature(self) -> object:
        """Changes whenever the file is replaced (each write is a new inode)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def maildir_problem(path: Path) -> str | None:
    """Why `path` cannot hold a Maildir a catcher writes, or ``None`` when it can.

    It can when it is a Maildir or an empty directory it may write to, or a new name in
    an existing directory it may write to (the catcher creates it).
    """
    if path.is_dir():
        if not is_maildir(path) and any(path.iterdir()):
            return "it holds other files and no cur/ and new/"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"directory {path} is not writable"
        return None
    if path.exists():
        return "it is a file"
    parent = path.parent
    if not parent.is_dir():
        return f"directory {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"directory {parent} is not writable"
    return None


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
