"""The single-file store: the one file that `MailFile` replaces with each message."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterable
from email.message import Message
from pathlib import Path

from ..message import contains, search_text
from ._base import READ_CAP, Store, StrPath, open_stored
from ._format import (
    FILE_MODE,
    Entry,
    NotAMessageError,
    has_headers,
    parse_message,
    summarize,
    write_message,
)


def atomic_write(message: Message, target: Path) -> None:
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


class FileStore(Store):
    """The single file that `MailFile` replaces with each message."""

    def __init__(self, path: StrPath) -> None:
        self.path = Path(path)
        # The last file read: its stat key, its entry and its bytes. Reading returns
        # these bytes, so an entry and its content always belong together even when
        # the file is replaced between listing and reading.
        self._cache: tuple[tuple[int, int, int], Entry, bytes] | None = None

    def add(self, message: Message, *, keep: int | None = None) -> None:
        """Replace the file with `message`, atomically (one message is all it keeps)."""
        atomic_write(message, self.path)

    def entries(self) -> list[Entry]:
        """The stored message (zero or one), as a list.

        A path that has become a directory since the store was opened lists nothing: a
        Maildir catcher is making it (`current` then hands over to a Maildir store).

        Raises:
            NotAMessageError: the file holds no email message, or is no regular file.
        """
        if self.path.is_dir():
            return []
        try:
            fp = open_stored(self.path)
        except FileNotFoundError:
            return []
        with fp:
            # fstat the open file: its identity and its bytes are the same file's,
            # even if the server renames a new one into place meanwhile.
            stat = os.fstat(fp.fileno())
            key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if self._cache is not None and self._cache[0] == key:
                return [self._cache[1]]
            data = fp.read(READ_CAP)
        message = parse_message(data)
        if not has_headers(message):
            raise NotAMessageError(f"{self.path} is not an email message: it has no header lines")
        entry = summarize(
            message,
            id=f"{stat.st_ino:x}-{stat.st_mtime_ns:x}",
            path=self.path,
            stored=stat.st_mtime,
            size=len(data),
        )
        self._cache = (key, entry, data)
        return [entry]

    def read_bytes(self, id: str, limit: int | None = None) -> bytes:
        """The stored bytes of message `id` (the first `limit`); `KeyError` once replaced."""
        if self._cache is None or self._cache[1].id != id:
            self.entries()
        if self._cache is None or self._cache[1].id != id:
            raise KeyError(id)
        data = self._cache[2]
        return data if limit is None else data[:limit]

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
        """The ids whose text parts contain `needle`, after case folding."""
        found: set[str] = set()
        for entry in self.entries() if among is None else among:
            try:
                message = self.read(entry.id)
            except KeyError:
                continue
            if contains(search_text(message), needle):
                found.add(entry.id)
        return found

    def signature(self) -> object:
        """Changes whenever the file is replaced (each write is a new inode)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)
