"""The `Store` interface every backend implements, and what all of them share."""

from __future__ import annotations

import abc
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from email.message import EmailMessage, Message
from pathlib import Path
from typing import BinaryIO, TypeAlias, TypeVar

from ..message._mime import fold
from ._format import Entry, NotAMessageError, parse_message
from ._tags import has_tag

StrPath: TypeAlias = "str | os.PathLike[str]"
_S = TypeVar("_S", bound="Store")

#: The largest file a reader reads. A store holds what the catcher wrote, at most its
#: size limit (32 MiB by default); anything bigger was put there by something else (a
#: sparse file, a link to /dev/zero) and is skipped rather than read into memory.
READ_CAP = 256 * 1024 * 1024


def open_stored(path: StrPath) -> BinaryIO:
    """Open a stored message for reading: only a regular file, and never blocking.

    A store is only regular files: a symbolic link is not followed (``O_NOFOLLOW``: a
    link to /etc/passwd is not served as mail), a FIFO or device is not read (opened
    ``O_NONBLOCK``, then refused: a FIFO in ``new/`` hung every reader), and a file over
    `READ_CAP` is refused.

    Raises:
        FileNotFoundError: nothing is there (any more).
        NotAMessageError: something is there, but not a message file a reader may read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as error:  # ELOOP: a symbolic link; EISDIR, EACCES, ...
        raise NotAMessageError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise NotAMessageError(f"{path} is not a regular file")
        if status.st_size > READ_CAP:
            raise NotAMessageError(
                f"{path} is larger than a reader reads ({status.st_size} > {READ_CAP} bytes)"
            )
        # Back to blocking reads: a regular file never blocks, and buffered reads of a
        # non-blocking descriptor may return short.
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class TagsNotKeptError(NotImplementedError):
    """The store cannot keep tags that are set (the one file `MailFile` writes)."""


class Store(abc.ABC):
    """Where caught messages live; the only code that reads stored bytes.

    Every reader (the query functions, the fixture, the command line, the web side)
    lists messages with `entries`, opens one with `read` or `read_bytes`, and never
    opens a message file itself: a backend may keep its bytes anywhere, and only the
    backend knows which bytes belong to which `Entry`.
    """

    path: Path

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027  # most backends hold nothing to release
        """Release what the store holds open (an index connection)."""

    @abc.abstractmethod
    def add(self, message: Message, *, keep: int | None = None) -> Entry | None:
        """Store `message` before returning (the catcher answers ``250`` after this).

        Args:
            message: The message with its envelope headers.
            keep: Keep only the newest `keep` messages (backends that hold one ignore it).

        Returns:
            The new message's `Entry` when the backend has it at hand, else ``None``.
        """

    @abc.abstractmethod
    def entries(self) -> list[Entry]:
        """Every stored message, newest first; ties broken by ID, the larger first."""

    def newest_first(
        self, *, since: float | None = None, recipient: str | None = None
    ) -> Iterator[Entry]:
        """Stored messages newest first (as `entries`), given lazily where the store can.

        "The newest message that matches" then stops at the first match instead of
        building an entry for every message. The hints let a store skip what cannot
        match; it may still give such entries, and the caller checks every one.

        Args:
            since: A `time.time()` value; messages stored before it may be left out.
            recipient: A bare address with its domain lower-cased (as
                `query.normalize_address` gives it); messages with no envelope
                recipient that normalizes to it may be left out.
        """
        return iter(self.entries())

    @abc.abstractmethod
    def read_bytes(self, id: str, limit: int | None = None) -> bytes:
        """The stored bytes of message `id`, or only the first `limit` of them.

        Raises:
            KeyError: no message has this ID (any more).
        """

    def read(self, id: str) -> EmailMessage:
        """Message `id`, parsed by the one tolerant parser (`parse_message`).

        Raises:
            KeyError: no message has this ID (any more).
        """
        return parse_message(self.read_bytes(id))

    @abc.abstractmethod
    def delete(self, ids: Iterable[str]) -> None:
        """Delete the messages `ids`; unknown IDs are ignored."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Delete every message."""

    @abc.abstractmethod
    def search_text(self, needle: str, *, among: Iterable[Entry] | None = None) -> set[str]:
        """The IDs whose body text contains `needle`, compared after Unicode case folding.

        Args:
            needle: The text to find.
            among: Entries just listed, to look among instead of listing again.
        """

    @abc.abstractmethod
    def signature(self) -> object:
        """A cheap value that changes whenever a message is added or deleted."""

    def inboxes(self) -> dict[str, int]:
        """Each inbox that holds mail, and how many messages it holds, by name."""
        counts: dict[str, int] = {}
        for entry in self.entries():
            counts[entry.inbox] = counts.get(entry.inbox, 0) + 1
        return dict(sorted(counts.items()))

    def view(self, inbox: str) -> Store:
        """This store as one inbox sees it: its messages only, to list, read and delete."""
        from ._view import InboxView  # the view is a Store itself

        return InboxView(self, inbox)

    def tags(self) -> dict[str, int]:
        """Each tag in use, and on how many messages, sorted without regard to case."""
        counts: dict[str, int] = {}
        spelling: dict[str, str] = {}
        for entry in reversed(self.entries()):  # the oldest spelling of a tag wins
            for tag in entry.tags:
                name = spelling.setdefault(fold(tag), tag)
                counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (fold(item[0]), item[0])))

    def set_tags(self, ids: Iterable[str], tags: Iterable[str]) -> None:
        """Replace the tags of messages `ids` with `tags` (cleaned, as `unique_tags` does).

        Unknown IDs are ignored.

        Raises:
            TagsNotKeptError: this store cannot keep tags (the one file `MailFile` writes).
        """
        raise TagsNotKeptError(
            f"{self.path} keeps no tags: a single mail file holds the message only "
            "(a Maildir or a database keeps them)"
        )

    def rename_tag(self, old: str, new: str) -> None:
        """Rename tag `old` to `new` on every message that has it."""
        self._retag(old, lambda tags: [new if has_tag([tag], old) else tag for tag in tags])

    def delete_tag(self, tag: str) -> None:
        """Remove `tag` from every message that has it."""
        self._retag(tag, lambda tags: [have for have in tags if not has_tag([have], tag)])

    def _retag(self, tag: str, change: Callable[[tuple[str, ...]], list[str]]) -> None:
        for entry in self.entries():
            if has_tag(entry.tags, tag):
                self.set_tags([entry.id], change(entry.tags))

    def watch(self, wake: Callable[[], None]) -> bool:
        """Call `wake` (from any thread) whenever the store may have changed, if it can.

        A store that is told of changes (a database's notifications) calls it at once;
        the others return ``False``, and a watcher polls `signature` instead.
        """
        return False


def sort_newest_first(entries: list[Entry]) -> None:
    """Order `entries` as every surface shows them: newest first, then by ID, larger first."""
    entries.sort(key=lambda entry: (entry.stored, entry.id), reverse=True)
