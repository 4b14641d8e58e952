"""The store as the web side sees it: asynchronous, watched for changes, searchable.

Store calls block (files, SQLite), and in ``mailcatcher serve`` the SMTP server shares
the event loop, so every call runs in a worker thread. Searches take turns: at most
`SEARCHES_AT_ONCE` run at a time, so however many a client sends, worker threads stay
free for listing, reading and the SMTP side's own work. A watcher looks at the store's
cheap `signature()` ten times a second, so mail written by another process (the stock
``aiosmtpd`` command) wakes live pages and waiting requests as surely as `notify()`.

``/inbox/NAME/`` serves one inbox of the store (the AUTH login mail was sent with): its
`Inbox` (`Inbox.inbox`) reads through `Store.view`, and shares everything else with the
store's `Inbox` through one `_Shared`: the store, the one watcher, the change signal (so
a change wakes every inbox's streams and waits, and each looks again at its own mail),
read status, the summary cache and the search turns. Those per-inbox objects hold no
state of their own beyond the view, so they are kept in a bounded LRU (`MAX_INBOXES`):
a client that asks for a million names makes at most that many, and one dropped while a
request still uses it goes on working.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

from ..message import header_texts
from ..store import Entry, Store, StrPath, current, open_store, parse_message
from . import shapes
from .search import Query

T = TypeVar("T")

#: How often the watcher looks at the store's signature.
POLL_INTERVAL = 0.1
#: A directory's mtime ticks coarsely: two deliveries in one tick leave one mark. After
#: any change, listeners are woken once more this much later, so they never miss one.
SETTLE = 0.25
#: Summaries (headers and snippet) kept for list rows; each is well under a kilobyte.
DETAILS_CACHE = 4096
#: Searches running at once; the rest wait their turn. asyncio's default executor has
#: min(32, CPUs + 4) threads: 6 on 2 cores, so 2 searches leave 4 for everything else.
SEARCHES_AT_ONCE = 2
#: Per-inbox `Inbox` objects kept for reuse (each is a few small objects; no task).
MAX_INBOXES = 256


class MessageNotFound(LookupError):
    """No message has this ID (any more)."""


@dataclass(frozen=True)
class Searching:
    """A Mailpit search as a `mailcatcher.query.Selector`, so the query core can run it.

    `latest`, `messages` and `waiting` then find, order and time out exactly as they do
    for a `Filter` on every other surface; only the matching rules are the search's.
    """

    inbox: Inbox
    query: Query
    since: float | None = None

    def select(self, store: Store, entries: list[Entry]) -> list[Entry]:
        """The entries (newest first, as given) that match; blocks (a worker thread's)."""
        return self.inbox.matching(store, self.query, entries, self.since)

    def describe(self) -> str:
        """The search in words, for the timeout text."""
        parts = [repr(self.query.text)] if self.query.text else []
        if self.since is not None:
            parts.append(f"since={self.since!r}")
        return ", ".join(parts) if parts else "any message"


class _HeadReader:
    """Header values of a message for one search, its start read and parsed once.

    The matcher asks for every header its words need of one message before it moves on
    to the next, so the last message read is the only one kept.
    """

    def __init__(self, head: Callable[[Entry], EmailMessage | None]) -> None:
        self._head = head
        self._id: str | None = None
        self._parsed: EmailMessage | None = None

    def __call__(self, entry: Entry, name: str) -> list[str]:
        """Decoded values of header `name` of `entry`; none once it is deleted."""
        if entry.id != self._id:
            self._id, self._parsed = entry.id, self._head(entry)
        return [] if self._parsed is None else header_texts(self._parsed, name)


class _Shared:
    """What every `Inbox` over one store shares.

    The store, its one watcher and change signal, read status, counters, the summary cache,
    the search turns, and the LRU of per-inbox `Inbox` objects.
    """

    def __init__(self, path: StrPath) -> None:
        self.store: Store = open_store(path)
        self.path: Path = self.store.path
        self.store_lock = threading.Lock()
        self.listing_lock = threading.Lock()
        self.details: OrderedDict[str, shapes.Details] = OrderedDict()
        self.details_lock = threading.Lock()
        self.read_ids: set[str] = set()
        self.version = 0
        self.started = time.time()
        self.deleted = 0
        self.accepted = 0
        self.accepted_size = 0
        self.accepted_ids: set[str] = set()
        self.waiters: set[asyncio.Future[None]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.watch_task: asyncio.Task[None] | None = None
        self.warm_task: asyncio.Task[None] | None = None
        self.settle: asyncio.TimerHandle | None = None
        self.closing = False
        self.searches = asyncio.Semaphore(SEARCHES_AT_ONCE)
        self.inboxes: OrderedDict[str, Inbox] = OrderedDict()
        self.inboxes_lock = threading.Lock()


class Inbox:
    """One store opened for the web, or one inbox of it: listing, reading, searching,
    deleting, tagging, watching.

    `Inbox(path)` is the whole store (`name` is ``None``); `inbox(name)` gives the `Inbox`
    of one inbox of it, which sees that inbox's mail only (`Store.view`).
    """

    def __init__(self, path: StrPath | _Shared, name: str | None = None) -> None:
        # A _Shared: another Inbox of the same store made this one (`inbox`).
        self._shared = path if isinstance(path, _Shared) else _Shared(path)
        #: The inbox this serves, or ``None`` for every inbox of the store.
        self.name = name
        #: Where the store is, as people may see it (a database URL's password masked).
        self.path: Path = self._shared.path
        #: The view this inbox reads through, and the store it was made from.
        self._view: tuple[Store, Store] | None = None

    # --- what every inbox of the store shares ------------------------------------------

    @property
    def read_ids(self) -> set[str]:
        """IDs opened through the API (Mailpit's "Read"); kept in this process only."""
        return self._shared.read_ids

    @property
    def version(self) -> int:
        """The change signal's count: it moves whenever the store (any inbox) changes."""
        return self._shared.version

    @property
    def started(self) -> float:
        """When the store was opened (``time.time()``)."""
        return self._shared.started

    @property
    def deleted(self) -> int:
        """Messages deleted through this server (every inbox)."""
        return self._shared.deleted

    @property
    def accepted(self) -> int:
        """Messages stored since the store was opened, any inbox, any process (SMTPAccepted)."""
        return self._shared.accepted

    @property
    def accepted_size(self) -> int:
        """Their bytes (Mailpit's SMTPAcceptedSize)."""
        return self._shared.accepted_size

    def inbox(self, name: str) -> Inbox:
        """The `Inbox` of inbox `name` of this store (any name: one nobody sent to is empty).

        Kept in a bounded LRU: the `MAX_INBOXES` used last are reused, older ones are
        dropped (one still in use keeps working: it holds nothing but its view).
        """
        shared = self._shared
        with shared.inboxes_lock:
            found = shared.inboxes.get(name)
            if found is None:
                found = shared.inboxes[name] = Inbox(shared, name)
                while len(shared.inboxes) > MAX_INBOXES:
                    shared.inboxes.popitem(last=False)
            else:
                shared.inboxes.move_to_end(name)
            return found

    async def inboxes(self) -> dict[str, int]:
        """Each inbox of the store that holds mail, and how many messages, by name."""
        return await self.call(lambda: self._shared_store().inboxes())

    # --- running in a thread ----------------------------------------------------------

    async def call(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` in a worker thread: store calls block (files, SQLite)."""
        return await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(function, *args)
        )

    async def call_search(self, function: Callable[..., T], *args: object) -> T:
        """`call`, for work that matches a search: waits while `SEARCHES_AT_ONCE` run."""
        async with self._shared.searches:
            return await self.call(function, *args)

    def _shared_store(self) -> Store:
        """The whole store; a file path that became a Maildir is reopened as one."""
        shared = self._shared
        with shared.store_lock:
            # The stock aiosmtpd MailDir handler creates its directory on start,
            # possibly after ``mailcatcher web`` was pointed at the path.
            with contextlib.suppress(OSError):
                shared.store = current(shared.store)
            return shared.store

    def store(self) -> Store:
        """The current store, as this inbox sees it (`Store.view` for a named inbox)."""
        whole = self._shared_store()
        if self.name is None:
            return whole
        made = self._view
        if made is None or made[0] is not whole:
            # A view remembers its inbox's IDs: kept until the store is reopened.
            made = self._view = (whole, whole.view(self.name))
        return made[1]

    # --- reading ----------------------------------------------------------------------

    async def entries(self) -> list[Entry]:
        """Every message (of this inbox), newest first."""
        listing = await self.call(self._entries)
        if self.name is not None:
            return listing  # the counts and the read status are the whole store's
        self._count_accepted(listing)
        if len(self.read_ids) > len(listing):
            # Messages deleted behind our back (another process, --keep) are forgotten.
            self.read_ids.intersection_update(entry.id for entry in listing)
        return listing

    def _count_accepted(self, listing: list[Entry]) -> None:
        """Count the messages in `listing` stored since this inbox opened, once each."""
        shared = self._shared
        for entry in listing:  # newest first: the rest were stored before we opened
            if entry.stored < shared.started:
                break
            if entry.id not in shared.accepted_ids:
                shared.accepted_ids.add(entry.id)
                shared.accepted += 1
                shared.accepted_size += entry.size
        if len(shared.accepted_ids) > len(listing):
            # A deleted message's ID never comes back: forget it, keep its count.
            shared.accepted_ids.intersection_update(entry.id for entry in listing)

    def _entries(self) -> list[Entry]:
        # One listing at a time: the store remembers what it built, so the second
        # caller waits for the first and then only scans, instead of both building
        # 10,000 entries at once.
        with self._shared.listing_lock:
            return self.store().entries()

    async def find(self, id: str) -> Entry:
        """The entry of `id`.

        Raises:
            MessageNotFound: no message has this ID.
        """
        for entry in await self.entries():
            if entry.id == id:
                return entry
        raise MessageNotFound(id)

    async def read_bytes(self, id: str) -> bytes:
        """The stored bytes of `id`.

        Raises:
            MessageNotFound: no message has this ID.
        """
        try:
            return await self.call(lambda: self.store().read_bytes(id))
        except (KeyError, ValueError, OSError):
            raise MessageNotFound(id) from None

    async def read(self, id: str) -> tuple[Entry, EmailMessage]:
        """The entry of `id` and its message, read and parsed by the store.

        Raises:
            MessageNotFound: no message has this ID.
        """
        entry = await self.find(id)
        return entry, await self.message(id)

    async def message(self, id: str) -> EmailMessage:
        """Message `id`, read and parsed by the store (`Store.read`).

        Raises:
            MessageNotFound: no message has this ID.
        """
        try:
            return await self.call(lambda: self.store().read(id))
        except (KeyError, ValueError, OSError):
            raise MessageNotFound(id) from None

    def uptime(self) -> float:
        """Seconds since this inbox was opened."""
        return time.time() - self.started

    def is_read(self, entry: Entry) -> bool:
        """Whether `entry` was opened through the API."""
        return entry.id in self.read_ids

    def unread(self, entries: list[Entry]) -> int:
        """How many of `entries` were not opened through the API."""
        read_ids = self.read_ids
        return len(entries) - (sum(1 for e in entries if e.id in read_ids) if read_ids else 0)

    def mark_read(self, ids: Iterable[str], read: bool = True) -> None:
        """Set Mailpit's read status; live pages are told."""
        if read:
            self.read_ids.update(ids)
        else:
            self.read_ids.difference_update(ids)
        self.changed()

    async def summaries(self, entries: list[Entry]) -> list[shapes.MessageSummary]:
        """Mailpit ``MessageSummary`` objects for `entries` (one page of them)."""
        found = await self.call(self._details_of, entries)
        return [
            shapes.summary(entry, found[entry.id], read=self.is_read(entry))
            for entry in entries
            if entry.id in found
        ]

    def _details_of(self, entries: list[Entry]) -> dict[str, shapes.Details]:
        found: dict[str, shapes.Details] = {}
        cache, lock = self._shared.details, self._shared.details_lock
        for entry in entries:
            with lock:
                cached = cache.get(entry.id)
                if cached is not None:
                    cache.move_to_end(entry.id)
            if cached is None:
                head = self._head(entry)
                if head is None:
                    continue  # deleted meanwhile
                cached = shapes.details(entry, head)
                with lock:
                    cache[entry.id] = cached
                    while len(cache) > DETAILS_CACHE:
                        cache.popitem(last=False)
            found[entry.id] = cached
        return found

    def _head(self, entry: Entry) -> EmailMessage | None:
        """The start of `entry`'s message, parsed; ``None`` once it is deleted.

        A list row needs the headers and a snippet, never a multi-megabyte
        attachment: only the first `shapes.SUMMARY_READ_LIMIT` bytes are read.
        """
        try:
            head = self.store().read_bytes(entry.id, shapes.SUMMARY_READ_LIMIT)
        except (KeyError, OSError):
            return None
        return parse_message(head)

    async def search(
        self, query: Query, entries: list[Entry] | None = None, *, since: float | None = None
    ) -> list[Entry]:
        """The entries matching `query`, newest first."""
        if entries is None:
            entries = await self.entries()
        wanted = self.selector(query, since=since)
        return await self.call_search(lambda: wanted.select(self.store(), entries))

    def selector(self, query: Query, *, since: float | None = None) -> Searching:
        """`query` (and `since`) as a `mailcatcher.query.Selector` over this inbox."""
        return Searching(self, query, since)

    def matching(
        self, store: Store, query: Query, entries: list[Entry], since: float | None
    ) -> list[Entry]:
        """The `entries` of `store` that `query` matches, in order; blocks.

        Run it in a worker thread, one of `SEARCHES_AT_ONCE` (`search` does).
        """
        # In a worker thread: matching 10,000 summaries takes milliseconds the SMTP
        # server on the event loop should not wait for.
        hits = {
            needle: store.search_text(needle, among=entries)
            for needle in dict.fromkeys(query.needles)
        }
        passes = query.matcher(
            body_hits=hits,
            read_ids=set(self.read_ids),
            headers=_HeadReader(self._head) if query.reads_headers else None,
        )
        if since is not None:
            entries = [entry for entry in entries if entry.stored >= since]
        return [entry for entry in entries if passes(entry)]

    async def resolve(self, id: str, query: Query | None = None) -> str:
        """`id`, or the newest (matching) message's ID when `id` is ``latest``.

        Raises:
            MessageNotFound: ``latest`` and there is no (matching) message.
        """
        if id != "latest":
            return id
        entries = await self.entries()
        if query is not None and query.terms:
            entries = await self.search(query, entries)
        if not entries:
            raise MessageNotFound("latest")
        return entries[0].id

    # --- changing ---------------------------------------------------------------------

    async def delete(self, ids: list[str]) -> None:
        """Delete `ids`; unknown IDs (and, for a named inbox, other inboxes') are ignored."""
        await self.call(lambda: self.store().delete(ids))
        self.read_ids.difference_update(ids)
        self._shared.deleted += len(ids)
        self.changed()

    async def clear(self) -> int:
        """Delete every message (of this inbox); return how many there were."""
        listing = await self.entries()
        await self.call(lambda: self.store().clear())
        if self.name is None:
            self.read_ids.clear()
        else:
            self.read_ids.difference_update(entry.id for entry in listing)
        self._shared.deleted += len(listing)
        self.changed()
        return len(listing)

    async def tags(self) -> dict[str, int]:
        """Each tag in use (in this inbox), and on how many messages (`Store.tags`)."""
        return await self.call(lambda: self.store().tags())

    async def set_tags(self, ids: list[str], tags: list[str]) -> None:
        """Replace the tags of messages `ids` (`Store.set_tags`).

        Raises:
            store.TagsNotKeptError: the store cannot keep tags (a single mail file).
        """
        await self.call(lambda: self.store().set_tags(ids, tags))
        self.changed()

    async def rename_tag(self, old: str, new: str) -> None:
        """Rename tag `old` to `new` on every message (of this inbox) that has it."""
        await self.call(lambda: self.store().rename_tag(old, new))
        self.changed()

    async def delete_tag(self, tag: str) -> None:
        """Remove `tag` from every message (of this inbox) that has it."""
        await self.call(lambda: self.store().delete_tag(tag))
        self.changed()

    # --- watching ---------------------------------------------------------------------
    # One watcher and one change signal for the store: every inbox's streams and waits
    # sleep on it, and on a change each looks again at its own mail.

    def is_closing(self) -> bool:
        """Whether the server is shutting down (streams and waits should end)."""
        return self._shared.closing

    def start(self) -> None:
        """Start watching the store (on the running loop), and list it once ahead."""
        shared = self._shared
        shared.loop = asyncio.get_running_loop()
        # A store told of changes by other processes (a database's notifications) wakes
        # live pages at once; every store is still watched below.
        self._shared_store().watch(self.notify)
        shared.watch_task = shared.loop.create_task(self._watch())
        # The first listing of a large Maildir builds every entry (0.2 s for 10,000);
        # doing it now spares the first page view that wait.
        shared.warm_task = shared.loop.create_task(self._warm())

    async def _warm(self) -> None:
        # Only OSError: the store treats a damaged or unreadable index as missing (with a
        # warning), so no sqlite3 error reaches its readers.
        with contextlib.suppress(OSError):
            await self.entries()

    def stop_waiting(self) -> None:
        """End every stream and wait now (the server is shutting down)."""
        self._shared.closing = True
        self._wake()

    async def close(self) -> None:
        """Stop watching, wake every waiter, close the store."""
        shared = self._shared
        self.stop_waiting()
        if shared.settle is not None:
            shared.settle.cancel()
        for task in (shared.watch_task, shared.warm_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with shared.store_lock:
            shared.store.close()

    def notify(self) -> None:
        """Tell listeners a message was stored; safe from any thread."""
        loop = self._shared.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self.changed)

    def changed(self) -> None:
        """Wake everything waiting for a change now, and once more after `SETTLE`."""
        shared = self._shared
        self._wake()
        if shared.loop is not None and not shared.closing:
            if shared.settle is not None:
                shared.settle.cancel()
            shared.settle = shared.loop.call_later(SETTLE, self._wake)

    def _wake(self) -> None:
        shared = self._shared
        shared.version += 1
        for waiter in shared.waiters:
            if not waiter.done():
                waiter.set_result(None)
        shared.waiters.clear()

    async def wait_change(self, version: int, timeout: float) -> bool:
        """Wait until the version moves past `version`; ``False`` on timeout or close."""
        shared = self._shared
        if shared.version != version:
            return True
        if shared.closing:
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        shared.waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            shared.waiters.discard(waiter)
        return not shared.closing

    async def _watch(self) -> None:
        mark: object = None
        first = True
        while not self._shared.closing:
            try:
                current = self._shared_store().signature()
            except OSError:
                current = None
            if current != mark and not first:
                self.changed()
                # List now, so a message counts as accepted even when it is deleted
                # (``--keep``, a test's clean-up) before anyone asks for the list.
                with contextlib.suppress(OSError, ValueError):
                    await self.entries()
            mark, first = current, False
            await asyncio.sleep(POLL_INTERVAL)
