"""What a reader wants from a stored message: bodies, links, attachments, envelope.

The stores return `email.message.EmailMessage` objects parsed with `email.policy.default`; every
helper here also accepts a compat32 `email.message.Message`, so a message parsed elsewhere works
too. Malformed mail is the sender's fault and must not crash a reader, so nothing here raises on
it: an unknown charset or a broken transfer encoding decodes with replacement characters instead.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.errors import InvalidBase64LengthDefect
from email.generator import BytesGenerator, Generator
from email.message import Message
from email.policy import EmailPolicy
from io import BytesIO, StringIO

from ._check import check
from ._findings import Finding, Location, Report
from ._html import HTMLReader, html_to_text, text_urls
from ._mime import children as _children
from ._mime import content_id as _content_id
from ._mime import envelope_text as _envelope
from ._mime import file_parts, fold, header_texts, is_inline, split_addresses
from ._mime import filename as _filename
from ._mime import header_text as _header
from ._mime import is_body_text as _is_body_text
from ._mime import is_container as _is_container
from ._mime import mime_view as _mime
from ._mime import raw_header_items as _raw_header_items
from ._mime import strip_angle_brackets as _strip_angle_brackets
from ._mime import walk as _walk
from ._mime import without_lone_surrogates as _without_lone_surrogates
from ._parts import Part, numbered
from ._rules import RULES, SEVERITIES, Rule, Severity
from ._support import FamilySupport, Feature, Support

__all__ = [
    "RULES",
    "SEARCH_TEXT_LIMIT",
    "SEVERITIES",
    "Attachment",
    "FamilySupport",
    "Feature",
    "Finding",
    "Location",
    "Part",
    "Report",
    "Rule",
    "Severity",
    "Support",
    "attachments",
    "auth_user",
    "check",
    "contains",
    "envelope_recipients",
    "envelope_sender",
    "find_part",
    "fold",
    "header",
    "header_texts",
    "html_body",
    "html_to_text",
    "links",
    "part_text",
    "parts",
    "peer",
    "raw_headers",
    "search_text",
    "text_body",
]

#: How much of a message's text free-text search looks at.
SEARCH_TEXT_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Attachment:
    """One attached or inline file of a message.

    `content_id` is the Content-ID without its angle brackets, as an HTML body refers to it
    (`<img src="cid:logo@example.com">`). `inline` is true for parts meant to be shown inside
    the message, such as images in an HTML body. `data` is left out of the repr because it
    can be megabytes.
    """

    filename: str | None
    content_type: str
    data: bytes = field(repr=False)
    content_id: str | None
    inline: bool


# --- headers --------------------------------------------------------------------------------


def header(msg: Message, name: str) -> str:
    """Return the first header called `name` as one line of decoded text, "" when missing.

    The one header decoder every surface shows: unfolded, RFC 2047 words and raw UTF-8
    decoded, read from the raw value so that no header parser can fail on it. Never raises.
    """
    return _header(msg, name) or ""


def raw_headers(msg: Message) -> list[tuple[str, str]]:
    """Return every header as sent, in order: unfolded, raw UTF-8 read, encoded words kept.

    For showing a message's source headers; `header` is for showing what they say.
    """
    return _raw_header_items(msg)


# --- bodies ---------------------------------------------------------------------------------


def text_body(msg: Message) -> str | None:
    """Return the decoded text/plain body, or None when the message has none.

    A text/plain part inside a multipart/alternative is preferred over one outside it, and
    attached text files are never the body.
    """
    part = _body_part(msg, "plain")
    return None if part is None else part_text(part)


def html_body(msg: Message) -> str | None:
    """Return the decoded text/html body, or None when the message has none."""
    part = _body_part(msg, "html")
    return None if part is None else part_text(part)


def _body_part(msg: Message, subtype: str) -> Message | None:
    """Find the text/<subtype> part a mail client would show as the body.

    Like `EmailMessage.get_body`, which compat32 messages lack, this never descends into an
    attached message/rfc822 and only looks at the root of a multipart/related (RFC 2387: the
    other parts are resources the root refers to).
    """
    first: Message | None = None
    for part, in_alternative in _text_parts(msg):
        if _mime(part).get_content_subtype() != subtype:
            continue
        if in_alternative:
            return part
        if first is None:
            first = part
    return first


def _text_parts(msg: Message) -> Iterator[tuple[Message, bool]]:
    """Yield the body text parts in order, each with whether it sits in a multipart/alternative."""
    # An explicit stack rather than recursion: a hostile message can nest parts deeper than
    # Python's recursion limit.
    stack: list[tuple[Message, bool]] = [(msg, False)]
    while stack:
        part, in_alternative = stack.pop()
        if _is_container(part):
            children = _children(part)
            subtype = _mime(part).get_content_subtype()
            if subtype == "related":
                root = _related_root(part, children)
                children = children[:1] if root is None else [root]
            inside = in_alternative or subtype == "alternative"
            stack.extend((child, inside) for child in reversed(children))
        elif _is_body_text(part):
            yield part, in_alternative


def _related_root(part: Message, children: list[Message]) -> Message | None:
    """Return the part named by multipart/related's `start` parameter (RFC 2387 section 3.2)."""
    start = _mime(part).get_param("start")
    if not isinstance(start, str):
        return None
    wanted = _strip_angle_brackets(start)
    for child in children:
        if _content_id(child) == wanted:
            return child
    return None


def part_text(part: Message) -> str:
    """Decode a text part's payload to str, replacing what its charset cannot decode.

    The one text decoder: bodies, snippets and free-text search all read text through it.
    """
    try:
        data = _payload_bytes(part)
        charset = (_mime(part).get_content_charset() or "").strip().lower()
    except Exception:
        # MIME parameters or a transfer encoding the stdlib cannot follow: the raw bytes.
        payload = part.get_payload()
        raw = payload if isinstance(payload, str) else ""
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    # RFC 2045 section 5.2 makes us-ascii the default, but 8-bit bodies that forget to declare
    # a charset are in practice UTF-8, a superset of ASCII.
    if charset in ("", "us-ascii", "ascii"):
        charset = "utf-8"
    try:
        return _without_lone_surrogates(data.decode(charset, errors="replace"))
    except (LookupError, ValueError):
        # Unknown charsets (x-unknown), bytes-to-bytes codecs (base64) and codecs that refuse
        # errors="replace" (idna).
        return data.decode("utf-8", errors="replace")


def _payload_bytes(part: Message) -> bytes:
    """Return a leaf part's content with its transfer encoding undone.

    Broken base64 and quoted-printable decode as well as they can; an unknown transfer
    encoding gives the raw bytes.
    """
    # Always decode=True: without it, get_payload decodes parsed 8-bit text with the declared
    # charset itself, and raises for some (charset=idna).
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return b""
    if any(isinstance(defect, InvalidBase64LengthDefect) for defect in part.defects):
        # The stdlib gives up and returns the base64 text itself when one character too
        # many is left; keep the bytes that the complete groups encode instead.
        return _decode_base64(data)
    return data


def _decode_base64(encoded: bytes) -> bytes:
    # RFC 2045 section 6.8: characters outside the base64 alphabet are to be ignored.
    text = re.sub(rb"[^A-Za-z0-9+/]", b"", encoded.partition(b"=")[0])
    if len(text) % 4 == 1:
        text = text[:-1]
    return base64.b64decode(text + b"=" * (-len(text) % 4))


def search_text(msg: Message) -> str:
    """The decoded text of a message's body text parts, for free-text search.

    Every text part counts (not only the one `text_body` picks), cut at `SEARCH_TEXT_LIMIT`,
    and so does the raw body of a multipart without a boundary (RFC 2046 5.1.1 requires
    one): it is shown raw, so it is found as shown.
    """
    chunks: list[str] = []
    for part in _walk(msg):
        try:
            if part.is_multipart() or not (_is_body_text(part) or _is_broken_container(part)):
                continue
        except Exception:  # MIME parameters the stdlib cannot decode
            continue
        chunks.append(part_text(part))
    return "\n".join(chunks)[:SEARCH_TEXT_LIMIT]


def _is_broken_container(part: Message) -> bool:
    # A multipart whose boundary is missing parses as one part holding its body as text.
    return _mime(part).get_content_maintype() == "multipart" and not part.is_multipart()


def contains(haystack: str, needle: str) -> bool:
    """Whether `needle` occurs in `haystack`, compared after case folding (see `fold`)."""
    return fold(needle) in fold(haystack)


# --- links ----------------------------------------------------------------------------------


def links(msg: Message) -> list[str]:
    """Return the http and https links of a message, in order of first appearance.

    The text body is read first, then the HTML body (the href of every <a> and any URL in its
    text); duplicates are dropped. Only http and https are returned, because those are what a
    check follows to verify an address: mailto:, tel: and relative links are left out. HTML
    entities are decoded (`&amp;` becomes `&`), quoted-printable soft line breaks are gone
    once the body is decoded, and punctuation after a URL in prose (a full stop, a closing
    parenthesis without an opening one) is not part of it. Nothing is ever fetched.
    """
    found: list[str] = []
    text = text_body(msg)
    if text is not None:
        found.extend(text_urls(text))
    html = html_body(msg)
    if html is not None:
        reader = HTMLReader()
        reader.feed(html)
        reader.close()
        found.extend(reader.links)
    return list(dict.fromkeys(found))


# --- attachments ----------------------------------------------------------------------------


def attachments(msg: Message) -> list[Attachment]:
    """Return the files in a message, attached or inline, in order.

    Inline images (an HTML body's `cid:` pictures) are included with `inline=True`, since
    users want to see them too. Body text parts are not attachments; a text part with a
    filename or `Content-Disposition: attachment` is. An attached message (message/rfc822)
    is one attachment holding the message's bytes.
    """
    return [_attachment(part) for part in file_parts(msg)]


def parts(msg: Message) -> list[Part]:
    """Return the files of a message (as `attachments` does), each with its part number.

    Part numbers are IMAP section numbers (RFC 3501 6.4.5): ``1``, ``2``, ``2.1``...
    """
    return numbered(msg, attachments)


def find_part(msg: Message, part_id: str) -> Part | None:
    """Return the file with part number `part_id`, or None."""
    for part in parts(msg):
        if part.part_id == part_id:
            return part
    return None


def _attachment(part: Message) -> Attachment:
    return Attachment(
        filename=_filename(part),
        content_type=_mime(part).get_content_type(),
        data=_message_bytes(part) if part.is_multipart() else _payload_bytes(part),
        content_id=_content_id(part),
        inline=is_inline(part),
    )


def _message_bytes(part: Message) -> bytes:
    """Serialize the message(s) inside a message/* part, headers as they arrived."""
    policy = part.policy.clone(linesep="\r\n")
    if isinstance(policy, EmailPolicy):
        policy = policy.clone(refold_source="none")
    data = b""
    for inner in _children(part):
        out = BytesIO()
        try:
            BytesGenerator(out, mangle_from_=False, policy=policy).flatten(inner)
            data += out.getvalue()
        except (LookupError, ValueError):
            # A broken inner multipart can hold text BytesGenerator cannot write back as
            # bytes; the text generator can, and UTF-8 keeps whatever it holds.
            text = StringIO()
            Generator(text, mangle_from_=False, policy=policy).flatten(inner)
            data += text.getvalue().encode("utf-8", "surrogateescape")
    return data


# --- envelope -------------------------------------------------------------------------------


def envelope_sender(msg: Message) -> str:
    """Return the SMTP envelope sender (MAIL FROM) the server recorded, or "" when missing.

    "" is also what a null reverse-path (`MAIL FROM:<>`, RFC 5321 section 4.5.5, used by
    bounces) looks like.
    """
    return _envelope(msg, "X-MailFrom") or ""


def envelope_recipients(msg: Message) -> list[str]:
    """Return the SMTP envelope recipients (RCPT TO) the server recorded, in order.

    These differ from the To and Cc headers for Bcc recipients. Commas inside a quoted local
    part (`"a,b"@example.com`) do not split an address.
    """
    return split_addresses(_envelope(msg, "X-RcptTo") or "")


def auth_user(msg: Message) -> str | None:
    """Return the user the client authenticated as, or None when it did not authenticate."""
    return _envelope(msg, "X-Mailcatcher-Auth-User")


#: A socket address as Python writes it, which is how aiosmtpd records the peer:
#: ``('127.0.0.1', 50122)``, or ``('::1', 50122, 0, 0)`` with IPv6's flow info and scope.
_SOCKET_ADDRESS = re.compile(r"\(\s*'([^']*)',\s*(\d+)\s*(?:,[^)]*)?\)")


def peer(msg: Message) -> str | None:
    """Return the client address the server recorded as ``host:port``, or None when missing.

    The stored X-Peer header keeps what aiosmtpd wrote, ``('127.0.0.1', 50122)``; a reader
    gets the form logs and URLs use, ``127.0.0.1:50122``, with an IPv6 address in brackets
    (``[::1]:50122``, RFC 3986 section 3.2.2) so the port stays apart. A value in any other
    form (a Unix socket's path) is returned as written.
    """
    written = _envelope(msg, "X-Peer")
    if written is None:
        return None
    address = _SOCKET_ADDRESS.fullmatch(written.strip())
    if address is None:
        return written
    host, port = address.groups()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
