"""The files of a message, each with the part number the API addresses it by.

Part numbers follow IMAP's section numbers (RFC 3501 6.4.5): the children of a
multipart are ``1``, ``2``..., their children ``2.1``, ``2.2``...; a message that is
not multipart has the single part ``1``. Which leaves count as files, and which of
those are inline, is `mailcatcher.message.attachments`' decision, so the page, the
API and the command line agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from ..message import Attachment, attachments
from ..message._mime import children, is_container


@dataclass(frozen=True)
class Part:
    """An attached or inline file and its part number."""

    part_id: str
    attachment: Attachment


def files(message: Message) -> list[Part]:
    """Every attached or inline file of `message`, in order, with its part number."""
    found: list[Part] = []
    # An explicit stack: a hostile message can nest deeper than the recursion limit.
    stack: list[tuple[Message, str]] = [(message, "")]
    while stack:
        part, number = stack.pop()
        # The containers `mailcatcher.message.attachments` descends into, decided by the
        # same function: an attached message/rfc822 is one file, not a container.
        if is_container(part):
            prefix = f"{number}." if number else ""
            stack.extend(
                (child, f"{prefix}{index}")
                for index, child in reversed(list(enumerate(children(part), start=1)))
            )
            continue
        for attachment in attachments(part):
            found.append(Part(number or "1", attachment))
    return found


def find(message: Message, part_id: str) -> Part | None:
    """The file with part number `part_id`, or ``None``."""
    for part in files(message):
        if part.part_id == part_id:
            return part
    return None
