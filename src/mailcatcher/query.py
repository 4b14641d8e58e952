"""Reading caught mail back: the latest message, all messages, waiting for one.

Every function takes the path of a store (a `MailFile` file or a `MailDir`
directory), so a check in another process reads exactly what the server wrote.
Filters are matched on the store's summaries; only the messages returned are parsed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

from .store import Entry, FileStore, Store, StrPath, is_maildir, open_store, opened, parse_message

#: How often `wait_for_message` looks at the store. Small enough to wake well within
#: 50 ms of the ``250``; a look is a few ``stat`` calls unless something changed.
POLL_INTERVAL = 0.01
#: Changes younger than this are looked at again: a directory's mtime has a coarse
#: clock, so two deliveries in one tick leave the same mark.
_SETTLE = 0.1
#: A dot-atom address (RFC 5322 3.4.1): nothing in it that parseaddr would change.
_BARE_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


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
    """Which messages a query wants; every condition given must hold."""

    to: str | None = None
    sender: str | None = None
    subject: str | None = None
    since: float | None = None

    def matches(self, entry: Entry) -> bool:
        """Whether `entry` passes every condition."""
        if self.since is not None and entry.stored < self.since:
            return False
        if self.to is not None:
            wanted = normalize_address(self.to)
            if all(normalize_address(r) != wanted for r in entry.recipients):
                return False
        if self.sender is not None and normalize_address(entry.sender) != normalize_address(
            self.sender
        ):
            return False
        return self.subject is None or self.subject.casefold() in entry.subject.casefold()

    def describe(self) -> str:
        """The conditions in words, for error messages."""
        parts = [
            f"{name}={value!r}"
            for name, value in (
                ("to", self.to),
                ("sender", self.sender),
                ("subject", self.subject),
                ("since", self.since),
            )
            if value is not None
        ]
        return ", ".join(parts) if parts else "any message"


def _read(store: Store, entry: Entry) -> EmailMessage | None:
    try:
        return parse_message(store.read_bytes(entry.id))
    except KeyError:  # deleted between listing and reading
        return None


def get_latest_message(
    path: StrPath,
    *,
    to: str | None = None,
    sender: str | None = None,
    subject: str | None = None,
    since: float | None = None,
) -> EmailMessage | None:
    """The newest message stored at `path` that matches, or ``None``.

    ``None`` also when nothing has arrived yet (the file does not exist).

    Raises:
        IsADirectoryError, NotADirectoryError: `path` is a directory but not a Maildir.
        PermissionError: `path` cannot be read.
    """
    wanted = Filter(to=to, sender=sender, subject=subject, since=since)
    with opened(path) as store:
        for entry in store.entries():
            if wanted.matches(entry):
                message = _read(store, entry)
                if message is not None:
                    return message
    return None


def get_messages(
    path: StrPath,
    *,
    to: str | None = None,
    sender: str | None = None,
    subject: str | None = None,
    since: float | None = None,
) -> list[EmailMessage]:
    """Every matching message stored at `path`, newest first."""
    wanted = Filter(to=to, sender=sender, subject=subject, since=since)
    messages: list[EmailMessage] = []
    with opened(path) as store:
        for entry in store.entries():
            if wanted.matches(entry):
                message = _read(store, entry)
                if message is not None:
                    messages.append(message)
    return messages


def wait_for_message(
    path: StrPath,
    timeout: float = 10.0,
    *,
    to: str | None = None,
    sender: str | None = None,
    subject: str | None = None,
    since: float | None = None,
) -> EmailMessage:
    """Return the newest matching message as soon as one is stored at `path`.

    A message already there counts, unless `since` (a `time.time()` value) excludes
    it: take ``since = time.time()`` before making the app send, and only newer mail
    is returned.

    Raises:
        TimeoutError: nothing matched within `timeout` seconds; the message lists
            what the store holds, so the failure explains itself.
    """
    wanted = Filter(to=to, sender=sender, subject=subject, since=since)
    deadline = time.monotonic() + timeout
    store = open_store(path)
    try:
        mark: object = object()
        checked = 0.0
        entries: list[Entry] = []
        while True:
            half_made = False
            if isinstance(store, FileStore) and store.path.is_dir():
                # The path did not exist when the wait began, and a Maildir catcher
                # (which makes its directory at start-up) has created it since.
                if is_maildir(store.path):
                    store.close()
                    store = open_store(path)
                else:
                    half_made = True  # new/ and cur/ are not there yet
            now = time.time()
            current = None if half_made else store.signature()
            if not half_made and (current != mark or now - checked < _SETTLE):
                if current != mark:
                    checked = now
                mark = current
                entries = store.entries()
                for entry in entries:
                    if wanted.matches(entry):
                        message = _read(store, entry)
                        if message is not None:
                            return message
            if time.monotonic() >= deadline:
                raise TimeoutError(_timeout_message(path, timeout, wanted, entries))
            time.sleep(POLL_INTERVAL)
    finally:
        store.close()


def _timeout_message(path: StrPath, timeout: float, wanted: Filter, entries: list[Entry]) -> str:
    lines = [f"no message matching {wanted.describe()} arrived at {path} within {timeout:g} s"]
    if not entries:
        lines.append("the store is empty")
    else:
        lines.append(f"it holds {len(entries)} message(s), newest first:")
        lines.extend(describe_entry(entry) for entry in entries[:10])
        if len(entries) > 10:
            lines.append(f"  ... and {len(entries) - 10} more")
    return "\n".join(lines)


def describe_entry(entry: Entry) -> str:
    """One line naming a message: recipients, sender and subject."""
    stamp = time.strftime("%H:%M:%S", time.localtime(entry.stored))
    recipients = ", ".join(entry.recipients) or "(none)"
    return f"  {stamp} to {recipients} from {entry.sender or '<>'}: {entry.subject!r}"


def clear(path: StrPath) -> None:
    """Delete every message stored at `path`."""
    with opened(path) as store:
        store.clear()
