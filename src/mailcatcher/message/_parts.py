"""The files of a message, each with the part number a reader addresses it by.

Part numbers follow IMAP's section numbers (RFC 3501 6.4.5): "Every message has at
least one part number. Non-[MIME-IMB] messages, and non-multipart [MIME-IMB] messages
with no encapsulated message, only have a part 1." The children of a multipart are
``1``, ``2``..., their children ``2.1``, ``2.2``... Which leaves count as files, and
which of those are inline, is `attachments`' decision, so the web page, the API and
the command line agree on both the files and their numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING

from ._mime import children, is_container

if TYPE_CHECKING:
    from . import Attachment


@dataclass(frozen=True)
class Part:
    """An attached or inline file and its part number (``"1"``, ``"2.1"``)."""

    part_id: str
    attachment: Attachment


def numbered(message: Message, attachments: Callable[[Message], list[Attachment]]) -> list[Part]:
    """Every file of `message` that `attachments` finds, in order, with its part number."""
    found: list[Part] = []
    # An explicit stack: a hostile message can nest deeper than the recursion limit.
    stack: list[tuple[Message, str]] = [(message, "")]
    while stack:
        part, number = stack.pop()
        # The containers `attachments` descends into, decided by the same function: an
        # attached message/rfc822 is one file, not a container.
        if is_container(part):
            prefix = f"{number}." if number else ""
            stack.extend(
                (child, f"{prefix}{index}")
                for index, child in reversed(list(enumerate(children(part), start=1)))
            )
            continue
        found.extend(Part(number or "1", attachment) for attachment in attachments(part))
    return found
