"""The standards rules: headers (RFC 5322, RFC 2047), MIME (RFC 2045, RFC 2046), line ends.

Addresses are read from the raw header, unfolded but not decoded: the syntax applies to
the encoded form, and a decoded display name may hold characters the syntax forbids.
"""

from __future__ import annotations

import binascii
import codecs
import quopri
import re
from collections.abc import Iterator
from email import errors as email_errors
from email.message import Message
from email.utils import getaddresses, parsedate_tz

from ._findings import Context, Finding, Location, finding, short
from ._mime import envelope_text as _envelope
from ._mime import is_body_text, mime_view

#: Headers the catcher writes (the SMTP envelope): not the sender's, so not checked.
_ENVELOPE = frozenset({"x-peer", "x-mailfrom", "x-rcptto", "x-mailcatcher-auth-user"})

# RFC 5322 3.2.3: atext, and dot-atom-text (atext runs joined by single dots). RFC 6532
# 3.2 extends atext with UTF-8 (non-ASCII) characters.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED = r'"(?:[^"\\\r\n]|\\.)*"'
ADDR_SPEC = re.compile(rf"(?:{_DOT_ATOM}|{_QUOTED})@(?:{_DOT_ATOM}|\[[^\[\]\\\s]*\])")
_MSG_ID = re.compile(rf"<\s*{_DOT_ATOM}@(?:{_DOT_ATOM}|\[[^\[\]\\\s]*\])\s*>")
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([^?\s]*)\?([^?\s]*)\?=")
_ENCODED_START = re.compile(r"=\?[^?\s]+\?[BbQq]\?")


def raw_values(message: Message, name: str) -> list[str]:
    """Every header `name`, unfolded but not RFC 2047 decoded: addresses parse from this.

    A decoded display name can hold what the syntax forbids (``=?utf-8?q?a=5B?=`` is
    ``a[``); the encoded form is what the syntax rules apply to.
    """
    wanted = name.lower()
    return [" ".join(str(raw).split()) for key, raw in message.raw_items() if key.lower() == wanted]


def from_header(context: Context) -> Iterator[Finding]:
    """From: present (RFC 5322 3.6), once, holding addr-specs."""
    values = raw_values(context.message, "From")
    if not values:
        yield finding("from-missing", "add a From header: who the mail is from", Location("From"))
        return
    if len(values) > 1:
        yield finding("from-invalid", f"keep one From header, not {len(values)}", Location("From"))
        return
    value = values[0]
    pairs = getaddresses([value])
    addresses = [address for _, address in pairs if address]
    if not addresses or any(ADDR_SPEC.fullmatch(address) is None for address in addresses):
        yield finding(
            "from-invalid",
            f"write From as 'Name <user@example.com>'; got {short(value)!r}",
            Location("From"),
        )


def date(context: Context) -> Iterator[Finding]:
    """Date: present (RFC 5322 3.6), once, a date-time with its zone (3.3)."""
    values = raw_values(context.message, "Date")
    if not values:
        yield finding(
            "date-missing",
            "add a Date header (email.utils.formatdate(localtime=True))",
            Location("Date"),
        )
        return
    parsed = parsedate_tz(values[0])
    if len(values) > 1 or parsed is None or parsed[9] is None:
        yield finding(
            "date-invalid",
            f"write Date as 'Mon, 04 May 2026 09:30:00 +0200'; got {short(values[0])!r}",
            Location("Date"),
        )


def message_id(context: Context) -> Iterator[Finding]:
    """Message-ID: present (RFC 5322 3.6.4 SHOULD), once, as <left@right>."""
    values = raw_values(context.message, "Message-ID")
    if not values:
        yield finding(
            "message-id-missing",
            "add a Message-ID header (email.utils.make_msgid(domain=...))",
            Location("Message-ID"),
        )
    elif len(values) > 1 or _MSG_ID.fullmatch(values[0].strip()) is None:
        yield finding(
            "message-id-invalid",
            f"write Message-ID as '<unique@your.domain>'; got {short(values[0])!r}",
            Location("Message-ID"),
        )


def mime_version(context: Context) -> Iterator[Finding]:
    """MIME-Version wherever a MIME header is used (RFC 2045 4)."""
    message = context.message
    names = {name.lower() for name in message}
    uses_mime = bool(names & {"content-type", "content-transfer-encoding"})
    if uses_mime and "mime-version" not in names:
        yield finding("mime-version-missing", "add 'MIME-Version: 1.0'", Location("MIME-Version"))


def _smtputf8(message: Message) -> bool:
    # RFC 6531 3.3: a non-ASCII envelope address can only be sent with SMTPUTF8.
    envelope = (_envelope(message, "X-MailFrom") or "") + (_envelope(message, "X-RcptTo") or "")
    return not envelope.isascii()


def headers(context: Context) -> Iterator[Finding]:
    """Non-ASCII header bytes and broken encoded words, in every part's headers."""
    smtputf8 = _smtputf8(context.message)
    seen: set[tuple[str, str]] = set()
    parts = [("", context.message), *context.containers, *context.parts]
    for number, part in parts:
        if part is context.message and number:
            continue  # a message that is one part: read once, as the message
        where = number or None
        for name, raw in part.raw_items():
            if name.lower() in _ENVELOPE:
                continue
            value = str(raw)
            if not value.isascii() and not smtputf8 and (name, "8bit") not in seen:
                seen.add((name, "8bit"))
                yield finding(
                    "header-8bit",
                    f"encode {name} with RFC 2047 (email.header.Header) or send with SMTPUTF8",
                    Location(name, where),
                )
            if "=?" in value and (name, "word") not in seen:
                problem = _encoded_word_problem(value)
                if problem is not None:
                    seen.add((name, "word"))
                    yield finding("encoded-word-invalid", problem, Location(name, where))


def _encoded_word_problem(value: str) -> str | None:
    """What is wrong with the first broken encoded word in `value`, or None."""
    ends = set()
    for match in _ENCODED_WORD.finditer(value):
        ends.add(match.start())
        word = match.group()
        charset, encoding, text = match.groups()
        charset = charset.split("*", 1)[0]  # RFC 2231 section 5: charset*language
        if len(word) > 75:
            return f"split the encoded word {short(word)!r}: over 75 characters"
        if encoding.upper() not in ("B", "Q"):
            return f"use encoding B or Q in {short(word)!r}, not {encoding!r}"
        try:
            codecs.lookup(charset)
        except LookupError:
            return f"use a known charset in {short(word)!r}, not {charset!r}"
        try:
            if encoding.upper() == "B":
                data = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
            else:
                data = quopri.decodestring(text.replace("_", " ").encode("ascii"), header=True)
            data.decode(charset)
        except (ValueError, UnicodeError, binascii.Error):
            return f"fix the encoded word {short(word)!r}: its text does not decode"
    for match in _ENCODED_START.finditer(value):
        if match.start() not in ends:
            return f"close the encoded word starting {short(value[match.start() :])!r} with '?='"
    return None


# --- standards: MIME --------------------------------------------------------------------


def multiparts(context: Context) -> Iterator[Finding]:
    """Multiparts without their close delimiter or their boundary (RFC 2046 5.1.1)."""
    for number, part in context.containers:
        for defect in part.defects:
            if isinstance(defect, email_errors.CloseBoundaryNotFoundDefect):
                yield finding(
                    "multipart-unclosed",
                    f"end the multipart with its close delimiter '--{_boundary(part)}--'",
                    Location("Content-Type", number or None),
                )
            elif isinstance(defect, email_errors.NoBoundaryInMultipartDefect):
                yield finding(
                    "multipart-boundary-missing",
                    "add a boundary parameter to the multipart Content-Type",
                    Location("Content-Type", number or None),
                )


def _boundary(part: Message) -> str:
    boundary = mime_view(part).get_param("boundary")
    return short(boundary, 40) if isinstance(boundary, str) else "BOUNDARY"


def bodies(context: Context) -> Iterator[Finding]:
    """8-bit bytes in a 7bit part; non-ASCII text without a charset."""
    for number, part in context.parts:
        payload = part.get_payload()
        if not isinstance(payload, str):
            continue
        mime = mime_view(part)
        encoding = (mime.get("Content-Transfer-Encoding") or "7bit").strip().lower()
        if encoding == "7bit" and not payload.isascii():
            yield finding(
                "8bit-in-7bit",
                "declare 'Content-Transfer-Encoding: 8bit' or encode the part "
                "(quoted-printable, base64)",
                Location("Content-Transfer-Encoding", number),
            )
        if (
            is_body_text(part)
            and mime.get_param("charset") is None
            and not _decoded(part, encoding, payload).isascii()
        ):
            yield finding(
                "charset-missing",
                "declare the charset: 'Content-Type: text/plain; charset=utf-8'",
                Location("Content-Type", number),
            )


def _decoded(part: Message, encoding: str, payload: str) -> bytes:
    if encoding in ("7bit", "8bit", "binary"):
        return payload.encode("utf-8", "surrogateescape")
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


# --- standards: the stored bytes --------------------------------------------------------


def raw_lines(context: Context) -> Iterator[Finding]:
    """Lines over 998 octets, and CR or LF alone, in the bytes as stored."""
    raw = context.raw
    if raw is None:
        return
    breaks = re.compile(rb"\r\n|\r|\n")
    first = breaks.search(raw)
    crlf = first is not None and first.group() == b"\r\n"
    start = 0
    line = 1
    bare_reported = False
    for match in breaks.finditer(raw):
        if match.start() - start > 998:
            yield finding(
                "line-too-long",
                f"line {line} is {match.start() - start} octets: encode its part as "
                "quoted-printable or base64, or fold the header",
                Location(line=line),
            )
        ending = match.group()
        if not bare_reported and (ending == b"\r" or (crlf and ending == b"\n")):
            bare_reported = True
            alone = "CR" if ending == b"\r" else "LF"
            yield finding(
                "bare-line-break",
                f"end line {line} with CRLF, not a lone {alone}",
                Location(line=line),
            )
        start = match.end()
        line += 1
    if len(raw) - start > 998:
        yield finding(
            "line-too-long",
            f"line {line} is {len(raw) - start} octets: encode its part as "
            "quoted-printable or base64",
            Location(line=line),
        )
