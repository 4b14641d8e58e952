"""Finding caught mail: one `Filter`, and `latest`, `messages` and `wait` over any store.

This module is the one home of "the newest message that matches, or wait for one": the
library functions below, the pytest fixture, the command line and the web side all call
it, so they agree on what matches, on the order (newest first, see
`store.sort_newest_first`), and on what a timeout says (`MailTimeoutError`).

Filters are matched on the store's summaries (`Entry`); only the messages returned are
parsed, by the store.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import NamedTuple, Protocol

from .message import contains
from .store import Entry, Store, StrPath, current, has_tag, open_store, opened, shown

__all__ = [
    "POLL_INTERVAL",
    "Filter",
    "MailTimeoutError",
    "Match",
    "Selector",
    "clear",
    "describe_entry",
    "get_latest_message",
    "get_messages",
    "latest",
    "messages",
    "normalize_address",
    "refuse_in_event_loop",
    "timeout_message",
    "wait",
    "wait_async",
    "wait_for_message",
    "wait_for_message_async",
    "waiting",
]

#: How often a wait looks at the store. Small enough to wake well within 50 ms of the
#: ``250``; a look is a few ``stat`` calls unless something changed.
POLL_INTERVAL = 0.01
#: Changes younger than this are looked at again: a directory's mtime has a coarse
#: clock, so two deliveries in one tick leave the same mark.
_SETTLE = 0.1
#: How many messages a timeout error lists.
_LISTED = 10
#: A dot-atom address (RFC 5322 3.4.1): nothing in it that parseaddr would change.
_BARE_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


class MailTimeoutError(TimeoutError):
    """No matching message arrived in time.

    The text names the filter, where it waited and what did arrive, so a failing test
    or check explains itself. Every wait raises this (the fixture raises a subclass that
    is also an `AssertionError`).
    """


class Match(NamedTuple):
    """A message found: its summary and the message, parsed by the store."""

    entry: Entry
    message: EmailMessage


class Selector(Protocol):
    """What a query looks for: a `Filter`, or a surface's own richer search."""

    def select(self, store: Store, entries: list[Entry]) -> list[Entry]:
        """The entries (newest first, as given) that match."""

    def describe(self) -> str:
        """The conditions in words, for error messages."""


def normalize_address(address: str) -> str:
    """The comparable form of an address: the domain lower-cased (RFC 5321 2.4).

    The local part stays as it is: RFC 5321 lets a server treat it case-sensitively.
    A display name is dropped, so ``"Eva <eva@Example.com>"`` matches ``eva@example.com``.
    """
    if _BARE_ADDRESS.fullmatch(address):
        # Envelope recipients are bare addresses; parseaddr costs 15x more and a filter
        # compares every stored message's recipients.
        local, _, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"
    _, bare = parseaddr(address)
    bare = bare or address.strip().strip("<>")
    local, at, domain = bare.rpartition("@")
    return f"{local}@{domain.lower()}" if at else bare


@dataclass(frozen=True)
class Filter:
    """Which messages a query wants; every condition given must hold.

    `to` and `sender` compare envelope addresses (RCPT TO, MAIL FROM), the domain
    without regard to case; `subject` is a part of the decoded subject, after case
    folding; `since` is a `time.time()` value the message was stored at or after;
    `inbox` names the inbox (the AUTH login it was sent with, or ``default``; ``None``
    is every inbox); `tags` are tags the message must all have (one tag may be given
    as a string), compared without regard to case.
    """

    to: str | None = None
    sender: str | None = None
    subject: str | None = None
    since: float | None = None
    inbox: str | None = None
    tags: str | Sequence[str] | None = None

    def __post_init__(self) -> None:
        # One tag as a string is a tuple of one: "welcome" is not five tags.
        if isinstance(self.tags, str):
            object.__setattr__(self, "tags", (self.tags,))
        elif self.tags is not None:
            object.__setattr__(self, "tags", tuple(self.tags))

    def matches(self, entry: Entry) -> bool:
        """Whether `entry` passes every condition."""
        if self.since is not None and entry.stored < self.since:
            return False
        if self.inbox is not None and entry.inbox != self.inbox:
            return False
        if self.tags and not all(has_tag(entry.tags, tag) for tag in self.tags):
            return False
        if self.to is not None:
            wanted = normalize_address(self.to)
            if all(normalize_address(r) != wanted for r in entry.recipients):
                return False
        if self.sender is not None and normalize_address(entry.sender) != normalize_address(
            self.sender
        ):
            return False
        return self.subject is None or contains(entry.subject, self.subject)

    def select(self, store: Store, entries: list[Entry]) -> list[Entry]:
        """The entries that match, in the order given."""
        return [entry for entry in entries if self.matches(entry)]

    def describe(self) -> str:
        """The conditions in words, for error messages."""
        parts = [
            f"{name}={value!r}"
            for name, value in (
                ("to", self.to),
                ("sender", self.sender),
                ("subject", self.subject),
                ("since", self.since),
                ("inbox", self.inbox),
                ("tags", list(self.tags) if self.tags else None),
            )
            if value is not None
        ]
        return ", ".join(parts) if parts else "any message"


def _first_readable(store: Store, entries: Iterable[Entry]) -> Match | None:
    for entry in entries:
        try:
            return Match(entry, store.read(entry.id))
        except KeyError:  # deleted (by --keep, a clear) between listing and reading
            continue
    return None


def _selected(store: Store, wanted: Selector) -> Iterator[Entry]:
    """The entries `wanted` selects, newest first, as lazily as the store can give them.

    A `Filter` is checked one entry at a time over `Store.newest_first`, so the newest
    match ends the look; another selector (a search) is given the whole listing.
    """
    if not isinstance(wanted, Filter):
        return iter(wanted.select(store, store.entries()))
    recipient = None if wanted.to is None else normalize_address(wanted.to)
    candidates = store.newest_first(since=wanted.since, recipient=recipient)
    return (entry for entry in candidates if wanted.matches(entry))


def latest(store: Store, wanted: Selector) -> Match | None:
    """The newest message in `store` that `wanted` selects, or ``None``."""
    return _first_readable(store, _selected(store, wanted))


def messages(store: Store, wanted: Selector) -> list[Match]:
    """Every message in `store` that `wanted` selects, newest first."""
    found: list[Match] = []
    for entry in _selected(store, wanted):
        match = _first_readable(store, [entry])
        if match is not None:
            found.append(match)
    return found


def waiting(
    store: Store, wanted: Selector, timeout: float, *, where: str
) -> Generator[float, None, Match]:
    """The one wait: look, and yield how long to pause before looking again.

    A generator, so that each caller pauses its own way (`wait` sleeps, the fixture
    waits on its arrival signal, the web side awaits a change on its event loop) while
    the looking, the matching and the timeout are the same everywhere. Returns the
    newest matching message (a message already stored counts); a path that becomes a
    Maildir while waiting is followed (`store.current`).

    Raises:
        MailTimeoutError: nothing matched within `timeout` seconds.
        ConnectionError: the store (a database) was unreachable at the last look.
    """
    deadline = time.monotonic() + timeout
    original = store
    mark: object = object()
    checked = 0.0
    entries: list[Entry] = []
    unreachable: ConnectionError | None = None
    try:
        while True:
            store = current(store)
            now = time.time()
            signature = store.signature()
            # Look again when the store changed, and for a moment after (coarse clocks).
            if signature != mark or now - checked < _SETTLE:
                if signature != mark:
                    checked = now
                mark = signature
                try:
                    found = latest(store, wanted)
                except ConnectionError as error:
                    # A database restarting: its signature holds still while it is down
                    # and moves when it is back, so the wait looks again then.
                    unreachable = error
                else:
                    unreachable = None
                    if found is not None:
                        return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if unreachable is not None:
                    raise unreachable
                try:
                    entries = store.entries()  # listed only now, for the error's text
                except ConnectionError:
                    entries = []
                raise MailTimeoutError(timeout_message(where, timeout, wanted, entries))
            yield min(POLL_INTERVAL, remaining)
    finally:
        if store is not original:
            store.close()


def wait(
    store: Store,
    wanted: Selector,
    timeout: float,
    *,
    where: str,
    pause: Callable[[float], object] = time.sleep,
) -> Match:
    """`waiting`, driven by a blocking `pause` (``time.sleep`` unless given)."""
    steps = waiting(store, wanted, timeout, where=where)
    try:
        while True:
            pause(next(steps))
    except StopIteration as done:
        found: Match = done.value
        return found


def _step(steps: Generator[float, None, Match]) -> tuple[float, Match | None]:
    """One look of `waiting`: the pause it asks for, or what it found.

    ``StopIteration`` cannot cross a thread's future (asyncio refuses to set it as an
    exception), so the generator's return is turned into a value here.
    """
    try:
        return next(steps), None
    except StopIteration as done:
        found: Match = done.value
        return 0.0, found


async def wait_async(
    store: Store,
    wanted: Selector,
    timeout: float,
    *,
    where: str,
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> Match:
    """`waiting`, driven from a coroutine: the same looks, matching and timeout as `wait`.

    Each look runs in a worker thread (it reads the store: ``stat`` calls, an index
    query, a message file), so the running event loop stays free for the code that
    sends; between looks it awaits `pause` (``asyncio.sleep`` unless given).
    """
    loop = asyncio.get_running_loop()
    steps = waiting(store, wanted, timeout, where=where)
    look: asyncio.Future[tuple[float, Match | None]] | None = None
    try:
        while True:
            look = loop.run_in_executor(None, _step, steps)
            # Shielded: a cancelled wait lets the look in its thread finish, so that
            # the generator and the caller's store are closed after it, not under it.
            delay, found = await asyncio.shield(look)
            if found is not None:
                return found
            await pause(delay)
    finally:
        if look is not None and not look.done():
            await asyncio.wait([look])
        steps.close()


def refuse_in_event_loop(name: str, twin: str) -> None:
    """Raise `RuntimeError` when called on a thread whose event loop is running.

    A blocking wait there stops the loop, so a task that would send the mail never
    runs and the wait ends in a timeout that blames the app. Failing at once, naming
    the coroutine to await instead, explains it.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{name}() blocks, and was called inside a running event loop: the loop (and any "
        f"task that sends the mail) would stop until it timed out. "
        f"Use `await {twin}(...)` in async code."
    )


def timeout_message(where: str, timeout: float, wanted: Selector, entries: list[Entry]) -> str:
    """The one text of a wait that timed out: what was wanted, and what did arrive."""
    lines = [f"no message matching {wanted.describe()} arrived at {where} within {timeout:g} s"]
    if not entries:
        lines.append("nothing has arrived there")
    else:
        lines.append(f"it holds {len(entries)} message(s), newest first:")
        lines.extend(describe_entry(entry) for entry in entries[:_LISTED])
        if len(entries) > _LISTED:
            lines.append(f"  ... and {len(entries) - _LISTED} more")
    return "\n".join(lines)


def describe_entry(entry: Entry) -> str:
    """One line naming a message: time, recipients, sender and subject."""
    stamp = time.strftime("%H:%M:%S", time.localtime(entry.stored))
    recipients = ", ".join(entry.recipients) or "(none)"
    return f"  {stamp} to {recipients} from {entry.sender or '<>'}: {entry.subject!r}"


# --- the library functions: a path in, messages out ------------------------------------


def get_latest_message(
    path: StrPath,
    *,
    to: str | None = None,
    sender: str | None = None,
    subject: str | None = None,
    since: float | None = None,
    inbox: str | None = None,
    tags: str | Sequence[str] | None = None,
) -> EmailMessage | None:
    """The newest message stored at `path` that matches, or ``None``.

    ``None`` also when nothing has arrived yet (the file does not exist).

    Raises:
        NotADirectoryError: `path` is a directory but not a Maildir.
        store.NotAMessageError: `path` is a file that holds no email message.
        PermissionError: `path` cannot be read.
    """
    wanted = Filter(to=to, sender=sender, subject=subject, since=since, inbox=inbox, tags=tags)
    with opened(path) as store:
        found = latest(store, wanted)
    return None if found is None else found.message


def get_messages(
    path: StrPath,
    *,
    to: str | None = None,
    sender: str | None = None,
    subject: str | None = None,
    since: float | None = None,
    inbox: str | None = None,
    tags: str | Sequence[str] | None = None,
) -> list[EmailMessage]:
    """Every matching message stored at `path`, newest first."""
    wanted = Filter(to=to, sender=sender, subject=subject, since=since, inbox=inbox, tags=tags)
    with opened(path) as store:
        return [found.message for found in messages(store, wanted)]


def wait_for_message(
    path: StrPath,
    timeout: float = 10.0,
    *,
    to: str | None = None,
    sender: str | None = None,
    subject: str | None = None,
    since: float | None = None,
    inbox: str | None = None,
    tags: str | Sequence[str] | None = None,
) -> EmailMessage:
    """Return the newest matching message as soon as one is stored at `path`.

    A message already there counts, unless `since` (a `time.time()` value) excludes
    it: take ``since = time.time()`` before making the app send, and only newer mail
    is returned.

    Raises:
        MailTimeoutError: nothing matched within `timeout` seconds; the message lists
            what the store holds, so the failure explains itself. A `TimeoutError`.
        RuntimeError: called inside a running event loop, which it would block;
            await `wait_for_message_async` there.
    """
    refuse_in_event_loop("mailcatcher.wait_for_message", "mailcatcher.wait_for_message_async")
    wanted = Filter(to=to, sender=sender, subject=subject, since=since, inbox=inbox, tags=tags)
    store = open_store(path)
    try:
        return wait(store, wanted, timeout, where=shown(path)).message
    finally:
        store.close()


async def wait_for_message_async(
    path: StrPath,
    timeout: float = 10.0,
    *,
    to: str | None = None,
    sender: str | None = None,
    subject: str | None = None,
    since: float | None = None,
    inbox: str | None = None,
    tags: str | Sequence[str] | None = None,
) -> EmailMessage:
    """`wait_for_message` for async code: the same filters, result and timeout error.

    Never blocks the running event loop: the store is opened, read and closed in
    worker threads, and the pauses between looks are ``asyncio.sleep``. Runs on asyncio
    (also under anyio's asyncio backend).

    Raises:
        MailTimeoutError: as `wait_for_message`.
    """
    wanted = Filter(to=to, sender=sender, subject=subject, since=since, inbox=inbox, tags=tags)
    store = await asyncio.to_thread(open_store, path)
    try:
        return (await wait_async(store, wanted, timeout, where=shown(path))).message
    finally:
        await asyncio.to_thread(store.close)


def clear(path: StrPath, *, inbox: str | None = None) -> None:
    """Delete every message stored at `path` (only those of `inbox`, if given)."""
    with opened(path) as store:
        (store if inbox is None else store.view(inbox)).clear()
