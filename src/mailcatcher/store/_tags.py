"""Inboxes and tags: which inbox a message belongs to, and the tags it arrives with.

Both are summaries of what arrived, so they are worked out once, here, when a message
is summarized (`summarize`), and every surface reads them from its `Entry`.

- **Inbox**: the AUTH login a client sent the message with; mail sent without logging in
  goes to `DEFAULT_INBOX`. (A client that logs in as ``default`` shares that inbox.)
- **Tags**, Mailpit's rules (its documentation, "Tagging messages"): the comma-separated
  values of an ``X-Tags`` header, and the plus-address parts of the From, To and Cc
  addresses and of the envelope recipients (Mailpit's Bcc): ``eva+welcome+de@`` gives
  ``welcome`` and ``de``. A tag keeps only letters, digits, ``-``, ``_``, ``.``, ``@`` and
  single spaces (anything else becomes a space, as Mailpit's ``CleanTag`` does); tags are
  compared without regard to case, and the first spelling is kept. Mailpit's
  ``--tags-title-case`` and ``--tag`` filters are not followed: tags stay as sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import Message

from ..message._mime import envelope_text, fold, header_texts, split_addresses

#: The inbox of mail sent without an AUTH login.
DEFAULT_INBOX = "default"
TAGS_HEADER = "X-Tags"
#: A tag's longest length, and the most tags a message gets on arrival: a hostile
#: message with 100,000 plus-address parts must not make a row of 100,000 tags.
MAX_TAG_LENGTH = 100
MAX_TAGS = 50

_NOT_TAG = re.compile(r"[^A-Za-z0-9\-_.@ ]+")
_SPACES = re.compile(r" {2,}")


def inbox_name(auth_user: str | None) -> str:
    """The inbox a message sent with AUTH login `auth_user` belongs to."""
    return auth_user if auth_user else DEFAULT_INBOX


def clean_tag(tag: str) -> str:
    """`tag` as Mailpit keeps it: allowed characters only, spaces single, trimmed."""
    return _SPACES.sub(" ", _NOT_TAG.sub(" ", tag)).strip()[:MAX_TAG_LENGTH].strip()


def unique_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """`tags` cleaned, without empty ones or repeats (case-folded), in order; capped."""
    seen: dict[str, str] = {}
    for tag in tags:
        cleaned = clean_tag(tag)
        if cleaned and fold(cleaned) not in seen:
            seen[fold(cleaned)] = cleaned
            if len(seen) == MAX_TAGS:
                break
    return tuple(seen.values())


def has_tag(tags: Iterable[str], tag: str) -> bool:
    """Whether `tags` holds `tag`, compared without regard to case."""
    wanted = fold(clean_tag(tag))
    return any(fold(have) == wanted for have in tags)


def plus_tags(address: str) -> list[str]:
    """The plus-address tags of `address`: ``eva+a+b@example.com`` gives ``a`` and ``b``."""
    local, at, _ = address.rpartition("@")
    if not at or "+" not in local:
        return []
    return local.split("+")[1:]


def arrival_tags(message: Message, recipients: Iterable[str]) -> tuple[str, ...]:
    """The tags a message gets when it arrives: ``X-Tags``, then plus addresses."""
    found: list[str] = []
    for value in header_texts(message, TAGS_HEADER):
        found.extend(value.split(","))
    addresses: list[str] = []
    for name in ("From", "To", "Cc"):
        for value in header_texts(message, name):
            addresses.extend(split_addresses(value))
    addresses.extend(recipients)
    for address in addresses:
        found.extend(plus_tags(address.strip().strip("<>")))
        if len(found) > MAX_TAGS * 4:
            break
    return unique_tags(found)


def envelope_inbox(message: Message, header: str) -> str:
    """The inbox of a stored message whose AUTH login is in envelope header `header`."""
    return inbox_name(envelope_text(message, header))
