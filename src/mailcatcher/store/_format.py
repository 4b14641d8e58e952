"""The stored message format: how a message is written and read back, and its summary.

Both stores write a message with the stdlib generator and read it with the stdlib parser;
the envelope lives in headers only the server writes. An `Entry` summarizes a message
from those headers, so a reader can pick messages without parsing them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import headerregistry, policy
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import Compat32, Policy
from pathlib import Path
from typing import Any, BinaryIO

from ..message._mime import (
    envelope_text,
    file_parts,
    header_text,
    is_inline,
    mime_view,
    nesting_depth,
    split_addresses,
)
from ._tags import DEFAULT_INBOX, arrival_tags, inbox_name

#: Headers the catcher writes from the SMTP session. A client's own copies are
#: removed before these are added, so they always tell the server's truth.
PEER_HEADER = "X-Peer"
MAIL_FROM_HEADER = "X-MailFrom"
RCPT_TO_HEADER = "X-RcptTo"
AUTH_USER_HEADER = "X-Mailcatcher-Auth-User"
ENVELOPE_HEADERS = (PEER_HEADER, MAIL_FROM_HEADER, RCPT_TO_HEADER, AUTH_USER_HEADER)

#: The deepest MIME nesting parsed into parts. Real mail nests a few levels (mixed >
#: related > alternative); the stdlib's generator and its walk() recurse per level, so
#: a hostile message 200 levels deep made every write fail (RecursionError, a 451
#: forever). A deeper message keeps its headers parsed and its body as it came.
MAX_NESTING = 64
#: Stored files are readable by everyone, as a file a mail client delivers would be.
FILE_MODE = 0o644


@dataclass(frozen=True, slots=True)
class Entry:
    """What a reader needs to find a message, known without parsing it.

    Slotted: a reader holds one per stored message (100,000 of them in a large Maildir).
    """

    id: str
    path: Path
    stored: float
    sender: str
    recipients: tuple[str, ...]
    subject: str
    from_header: str
    to_header: str
    size: int
    attachments: int
    auth_user: str | None
    #: The inbox it belongs to (`_tags.inbox_name`: the AUTH login, or ``default``).
    inbox: str = DEFAULT_INBOX
    #: Its tags: those it arrived with (`_tags.arrival_tags`), or as set since.
    tags: tuple[str, ...] = ()


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class _VerbatimHeaders(Compat32):
    """compat32, except that each header is written back as it arrived, not refolded.

    compat32 refolds every header through `email.header.Header`: a long first word
    moves to a line of its own (the value then reads back with a leading space), and a
    value holding a form feed followed by ``Name:`` raises `HeaderParseError`, so the
    catcher answered 451 to that message forever. A catcher stores what it was sent.
    """

    def fold_binary(self, name: str, value: object) -> bytes:
        """``Name: value`` with the value's own folding; other values as compat32 does."""
        if not isinstance(value, str) or self.cte_type == "7bit":
            # compat32 also folds `Header` objects, which typeshed's `str` does not admit.
            return super().fold_binary(name, value)  # type: ignore[arg-type]
        lines = _LINE_BREAK.split(value)
        if any(line[:1] not in (" ", "\t") for line in lines[1:]):
            # A break that is not folding (RFC 5322 2.2.3: CRLF, then WSP) was put there by
            # a program, not parsed: let compat32 fold it rather than start a new header.
            return super().fold_binary(name, value)
        text = f"{name}: {self.linesep.join(lines)}{self.linesep}"
        # Parsed raw 8-bit bytes are surrogate escapes; SMTPUTF8 text parsed from str is real
        # text: both go out as the UTF-8 bytes they were (RFC 6532).
        return text.encode("utf-8", "surrogateescape")


_VERBATIM = _VerbatimHeaders()


class _Generator(BytesGenerator):
    """`BytesGenerator`, with its line-ending normalisation done by `str.replace`.

    The stdlib splits each body on the regular expression ``\\r\\n|\\r|\\n`` and writes
    it a line at a time: 60% of the time spent writing a 100 KiB message. Replacing
    the line endings in one pass gives the same bytes (a test compares them).
    """

    def _write_lines(self, lines: str) -> None:
        if lines:
            text = lines.replace("\r\n", "\n").replace("\r", "\n")
            newline: str = self._NL  # type: ignore[attr-defined]  # set by flatten(); not in typeshed
            self.write(text if newline == "\n" else text.replace("\n", newline))

    def _handle_multipart(self, msg: Message) -> None:
        # A multipart without a boundary (RFC 2046 5.1.1 requires one) keeps its body as
        # one string. The stdlib writes it through get_payload(), which turns raw 8-bit
        # bytes into U+FFFD and then fails to encode them: the catcher answered 451 to
        # such a message forever. Write the body as it arrived, as `_handle_text` does.
        payload = msg._payload  # type: ignore[attr-defined]  # what the stdlib reads too
        if isinstance(payload, str):
            self._write_lines(payload)
            return
        super()._handle_multipart(msg)  # type: ignore[misc]  # private, not in typeshed

    def _dispatch(self, msg: Message) -> None:
        # A body held as one string (kept as received by `parse_received`, or a part the
        # parser could not split) is written back as it came, whatever its type says:
        # the stdlib would iterate a message/delivery-status body's characters as parts,
        # and write a message/rfc822 one without normalising its line endings. For text
        # this is what the stdlib does too.
        payload = msg._payload  # type: ignore[attr-defined]  # what the stdlib reads too
        if isinstance(payload, str):
            self._write_lines(payload)
            return
        super()._dispatch(msg)  # type: ignore[misc]  # private, not in typeshed


def write_message(message: Message, fp: BinaryIO) -> None:
    """Write `message` as bytes, so 8-bit content survives whatever the locale.

    ``mangle_from_`` is off: these files are not mbox files, and a body line that
    starts with ``From `` must read back as it was sent. Headers of a compat32
    message keep the folding they arrived with (see `_VerbatimHeaders`).
    """
    verbatim = _VERBATIM if isinstance(message.policy, Compat32) else None
    _Generator(fp, mangle_from_=False, policy=verbatim).flatten(message)


class _TolerantPolicy(policy.EmailPolicy):
    """`email.policy.default`, except that a header its parser chokes on stays plain text.

    The stdlib's structured-header parser raises on some malformed values (for
    example ``Content-Type: text/plain; x*`` raises `IndexError`, during parsing, since
    the parser asks each part for its content type). Mail is the sender's to get
    wrong: such a header reads back as its raw text instead of failing the read.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        """The structured header, or an unstructured one when it cannot be parsed."""
        try:
            return super().header_fetch_parse(name, value)
        except Exception:  # any parser failure: the header is the sender's
            return _UNSTRUCTURED(name, value.replace("\r", "").replace("\n", ""))


_UNSTRUCTURED = headerregistry.HeaderRegistry(use_default_map=False)
_READ_POLICY = _TolerantPolicy()


def parse_message(data: bytes) -> EmailMessage:
    """Parse stored bytes like `email.policy.default` (``get_body()`` and friends work).

    The one parser every reader's bytes go through. Never raises for malformed mail: a
    header the parser chokes on stays text (see `_TolerantPolicy`), and a MIME structure
    it cannot follow (the stdlib raises a TypeError on some broken parameters), that nests
    deeper than `MAX_NESTING`, or that would cost memory out of proportion to its size
    (see `_cheap_to_parse`) leaves the body one unparsed part.
    """
    message: Message | None = None
    if _cheap_to_parse(data):
        try:
            message = BytesParser(policy=_READ_POLICY).parsebytes(data)
            if too_deep(message):
                message = None
        except Exception:
            message = None
    if message is None:
        message = headers_only(data, policy=_READ_POLICY)
    assert isinstance(message, EmailMessage)  # EmailPolicy's message factory
    return message


def parse_received(data: bytes, message_class: type[Message] | None = None) -> Message:
    """The message a catcher stores for received DATA: headers parsed, body as received.

    Only the header block is parsed (for the envelope headers, the summary and the
    filters); the body is kept as it came, one string, and the generator writes it back
    untouched (`_Generator._dispatch`): byte-exact but for line endings, and cheap in time
    and memory whatever the body holds (20 MiB of empty lines cost the full parse
    600 MB). `structure` parses the body's MIME parts when a summary needs them.
    """
    return headers_only(data, message_class=message_class)


#: Where the header block of a message without a blank line is taken to end. A header
#: block is a few KB; past this the rest is body, so such a message costs no more.
_HEAD_LIMIT = 1024 * 1024


#: A line break followed by a line that is neither a header field (RFC 5322 2.2, in the
#: stdlib parser's tolerant form: any printable characters, then a colon) nor a folded
#: continuation (a space or tab first).
_NOT_A_HEADER = re.compile(rb"\n(?![ \t]|[\x21-\x39\x3b-\x7e]*:)")


def headers_only(
    data: bytes, *, policy: Policy | None = None, message_class: type[Message] | None = None
) -> Message:
    """Parse the header block of `data` only; the body stays one string, as received.

    The stdlib's ``headersonly=True`` still splits the whole body into line objects
    (about 60 bytes each), so the body is cut off first: it ends the header block at
    the first empty line (RFC 5322 2.1), within `_HEAD_LIMIT`.
    """
    window = data[:_HEAD_LIMIT]
    if data.startswith((b"\r\n", b"\n")):  # an empty header section
        head_end, body_start = 0, 2 if data.startswith(b"\r\n") else 1
    else:
        # The whole message is searched (a C-speed scan): a folded header block may be
        # longer than the window, and cutting it would turn its last headers into body.
        blanks = [(i + 1, i + 3) for i in (data.find(b"\n\r\n"),) if i >= 0]
        blanks += [(i + 1, i + 2) for i in (data.find(b"\n\n"),) if i >= 0]
        if blanks:
            head_end, body_start = min(blanks)
        elif len(data) <= _HEAD_LIMIT:
            head_end = body_start = len(data)
        else:
            head_end = body_start = window.rfind(b"\n") + 1
        # The parser ends the header block at the first line that is neither a header
        # nor a continuation (that line starts the body): end it there too, so that the
        # head handed to the parser is header lines only, however far the blank line is.
        other = _NOT_A_HEADER.search(data, 0, max(head_end - 1, 0))
        if other is not None:
            head_end = body_start = other.end()
    head, body = data[:head_end], data[body_start:]
    kwargs: dict[str, Any] = {"policy": policy} if policy is not None else {}
    if message_class is not None:
        kwargs["_class"] = message_class
    message: Message = BytesParser(**kwargs).parsebytes(head, headersonly=True)
    # The raw field: get_payload() would decode raw 8-bit bytes to U+FFFD.
    before = message._payload  # type: ignore[attr-defined]
    if isinstance(before, str) and before:
        # A line that is not a header ended the header block early: the parser put it
        # and what followed in the payload, and the empty line found above is body.
        body = data[head_end:]
    if body:
        message.set_payload(str(before or "") + body.decode("ascii", "surrogateescape"))
    return message


def _cheap_to_parse(data: bytes) -> bool:
    """Whether the stdlib parser takes `data` in memory proportional to its size.

    The parser holds every line as an object (about 60 bytes): a body of empty lines
    costs 30 times its size. Ordinary mail (lines of 70 octets and more) is far inside.
    """
    return data.count(b"\n") <= len(data) // 16 + 100_000


def structure(message: Message) -> Message:
    """`message` with its MIME parts parsed, for a summary (attachments, search text).

    A message from `parse_received` keeps its body as one string; a multipart's parts
    are parsed here from that body (bounded as `parse_message` is). Anything else is
    returned as it is.
    """
    payload = message._payload  # type: ignore[attr-defined]  # the stdlib's own field
    if not isinstance(payload, str) or mime_view(message).get_content_maintype() not in (
        "multipart",
        "message",
    ):
        return message
    head = "".join(
        f"{name}: {value}\n"
        for name, value in message.raw_items()
        if name.lower() == "content-type"
    )
    return parse_message(f"{head}\n{payload}".encode("utf-8", "surrogateescape"))


def too_deep(message: Message) -> bool:
    """Whether `message` nests deeper than `MAX_NESTING` (then its body stays unparsed)."""
    return nesting_depth(message) > MAX_NESTING


class NotAMessageError(ValueError):
    """A file that holds no email message (no header line at all, RFC 5322 3.6)."""


def has_headers(message: Message) -> bool:
    """Whether parsed bytes were a message: at least one header line (RFC 5322 3.6).

    The parser reads any bytes; a file with no header line at all (empty, binary, a
    stray note) is not a message.
    """
    return bool(message.keys())


def summarize(message: Message, *, id: str, path: Path, stored: float, size: int) -> Entry:
    """Build the `Entry` of a message from the headers the catcher wrote."""
    auth_user = envelope_text(message, AUTH_USER_HEADER)
    recipients = tuple(split_addresses(envelope_text(message, RCPT_TO_HEADER) or ""))
    return Entry(
        id=id,
        path=path,
        stored=stored,
        sender=envelope_text(message, MAIL_FROM_HEADER) or "",
        recipients=recipients,
        subject=header_text(message, "Subject") or "",
        from_header=header_text(message, "From") or "",
        to_header=header_text(message, "To") or "",
        size=size,
        attachments=_count_attachments(structure(message)),
        auth_user=auth_user,
        inbox=inbox_name(auth_user),
        tags=arrival_tags(message, recipients),
    )


def _count_attachments(message: Message) -> int:
    """Files meant to be opened; inline (cid:) pictures are part of the body."""
    try:
        return sum(1 for part in file_parts(message) if not is_inline(part))
    except Exception:  # MIME parameters the stdlib cannot decode: the sender's to fix
        return 0
