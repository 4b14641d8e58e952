"""One inbox of a store, as a store of its own (what ``/inbox/NAME/`` serves)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from email.message import Message

from ._base import Store
from ._format import Entry


class InboxView(Store):
    """The messages of inbox `inbox` in `store`; nothing of another inbox is seen.

    Reading, deleting and tagging a message of another inbox act as if it did not exist
    (`KeyError`, ignored), so a client given one inbox's address cannot reach the rest.
    """

    def __init__(self, store: Store, inbox: str) -> None:
        self.store = store
        self.inbox = inbox
        self.path = store.path
        self._ids: frozenset[str] = frozenset()

    def close(self) -> None:
        """Close the store this view looks into."""
        self.store.close()

    def add(self, message: Message, *, keep: int | None = None) -> Entry | None:
        """Store `message` (in the inbox its own AUTH login names, as every store does)."""
        return self.store.add(message, keep=keep)

    def entries(self) -> list[Entry]:
        """This inbox's messages, newest first."""
        found = [entry for entry in self.store.entries() if entry.inbox == self.inbox]
        self._ids = frozenset(entry.id for entry in found)
        return found

    def _own(self, ids: Iterable[str]) -> list[str]:
        wanted = list(ids)
        if any(id not in self._ids for id in wanted):
            self.entries()  # listed since: look again
        return [id for id in wanted if id in self._ids]

    def read_bytes(self, id: str, limit: int | None = None) -> bytes:
        """The stored bytes of `id`, if it is this inbox's; else `KeyError`."""
        if not self._own([id]):
            raise KeyError(id)
        return self.store.read_bytes(id, limit)

    def delete(self, ids: Iterable[str]) -> None:
        """Delete those of `ids` that are this inbox's."""
        self.store.delete(self._own(ids))

    def clear(self) -> None:
        """Delete this inbox's messages (the other inboxes keep theirs)."""
        self.store.delete([entry.id for entry in self.entries()])

    def search_text(self, needle: str, *, among: Iterable[Entry] | None = None) -> set[str]:
        """This inbox's IDs whose body text contains `needle` (case folded)."""
        return self.store.search_text(needle, among=self.entries() if among is None else among)

    def signature(self) -> object:
        """The store's signature (a change in any inbox may be one in this)."""
        return self.store.signature()

    def watch(self, wake: Callable[[], None]) -> bool:
        """Watch the store this view looks into."""
        return self.store.watch(wake)

    def set_tags(self, ids: Iterable[str], tags: Iterable[str]) -> None:
        """Set the tags of those of `ids` that are this inbox's."""
        self.store.set_tags(self._own(ids), tags)

    def view(self, inbox: str) -> Store:
        """Another inbox of the same store."""
        return self.store.view(inbox)
