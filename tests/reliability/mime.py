"""Generated MIME messages for the round-trip property tests, and the oracle that checks them.

A `MessageSpec` says what a message means: decoded header texts, addresses, and a tree of
parts whose leaves carry their decoded bytes. `render` turns a spec into the exact bytes an
SMTP client sends (CRLF lines, every encoding done here rather than by the stdlib generator, so
the catcher's parser and generator are checked against an independent writer). `check` reads a
parsed message back and fails with a precise path when anything differs.

Encodings follow the RFCs they cite: RFC 2045 6.7 (quoted-printable), 6.8 (base64), RFC 2047
(encoded words in headers), RFC 2231 (parameter values), RFC 6532 (raw UTF-8 headers, sent only
with SMTPUTF8), RFC 5322 2.1.1 (at most 998 octets a line, so 7bit/8bit lines stay below it).
"""

from __future__ import annotations

import base64
import itertools
import random
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage, Message
from typing import Union

from hypothesis import strategies as st

# A pool of characters from several scripts; each charset's alphabet is the part of it that
# round-trips through that charset (shift_jis, for example, turns U+00A5 into a backslash).
_POOL = (
    [chr(c) for c in range(0x20, 0x7F)]
    + [chr(c) for c in range(0xA0, 0x100)]
    + list("ŒœŠšŸŽžƒ€‚„…†‡‰‹›‘’“”•–—˜™")
    + list("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя")
    + list("ΑΒΓΔΕΖΗΘαβγδεζηθλμπσω")
    + list("あいうえおかきくけこさしすせそアイウエオカキクケコ日本語漢字東京駅")
    + list("中文简体繁體한국어")
    + ["\u00e9", "e", "\u0301", "\u200b", "\ufeff", "\U0001f600", "\U0001f4e7", "\U00010348"]
)

#: Body charsets and whether 7bit/8bit/quoted-printable text lines can carry them
#: (UTF-16 cannot: its code units hold NUL, CR and LF bytes, so it goes base64 or escaped QP).
CHARSETS = (
    "us-ascii",
    "utf-8",
    "iso-8859-1",
    "windows-1252",
    "koi8-r",
    "shift_jis",
    "iso-2022-jp",
    "utf-16",
)
_LINE_SAFE = {charset for charset in CHARSETS if charset != "utf-16"}


def _round_trips(char: str, charset: str) -> bool:
    try:
        return char.encode(charset).decode(charset) == char
    except UnicodeError:
        return False


ALPHABETS: dict[str, list[str]] = {
    charset: [c for c in _POOL if _round_trips(c, charset)] for charset in CHARSETS
}
# Header text: any pool character that is not a control (tabs and line breaks are folding).
_HEADER_ALPHABET = [c for c in _POOL if c.isprintable() or c in "\u200b\ufeff"]
_PRINTABLE_ASCII = re.compile(r"[!-~]+(?: [!-~]+)*")

# Lines that trip naive mail code: mbox "From " quoting, SMTP dot-stuffing (RFC 5321 4.5.2),
# boundary-like lines, trailing white space, empty lines.
SPECIAL_LINES = (
    "From me@example.com Mon Jan  1 00:00:00 2024",
    "From ",
    ">From quoted",
    ".",
    "..",
    ".hidden",
    "...",
    "--",
    "--not-a-boundary",
    "trailing spaces   ",
    "\ttab first",
    "",
    "=?utf-8?q?not_a_header?=",
    "Subject: not a header",
)

Node = Union["Leaf", "Multipart"]


@dataclass(frozen=True)
class Leaf:
    """A body part: its type, how it travels, and the decoded bytes a reader must get back."""

    maintype: str
    subtype: str
    data: bytes
    charset: str | None
    cte: str
    filename: str | None = None
    filename_style: str = "rfc2231"
    disposition: str | None = None

    @property
    def is_text(self) -> bool:
        """Whether the part is text with a charset (its line breaks may be canonicalized)."""
        return self.maintype == "text"


@dataclass(frozen=True)
class Multipart:
    """A multipart node (RFC 2046 5.1)."""

    subtype: str
    parts: tuple[Node, ...]
    preamble: str = ""


@dataclass(frozen=True)
class Mailbox:
    """A display name (may be empty) and an address."""

    name: str
    address: str


@dataclass(frozen=True)
class MessageSpec:
    """A whole message: headers as decoded text, and the body tree."""

    subject: str
    sender: Mailbox
    to: tuple[Mailbox, ...]
    note: str
    root: Node
    header_mode: str  # "rfc2047" (7-bit headers) or "utf8" (RFC 6532, needs SMTPUTF8)
    header_charset: str = "utf-8"
    q_encoding: bool = False

    @property
    def needs_smtputf8(self) -> bool:
        """Whether the message or its envelope holds raw UTF-8 outside the body."""
        return self.header_mode == "utf8"


# --- strategies ------------------------------------------------------------------------------

_counter = itertools.count()


def _lines(charset: str, *, long: bool) -> st.SearchStrategy[str]:
    alphabet = ALPHABETS[charset]
    ordinary = st.text(st.sampled_from(alphabet), max_size=60)
    options: list[st.SearchStrategy[str]] = [ordinary, st.sampled_from(SPECIAL_LINES)]
    if long:
        # Longer than the 998-octet line limit: only QP and base64 may carry these.
        options.append(
            st.builds(
                lambda chars, n: ("".join(chars) * n)[:n],
                st.lists(st.sampled_from(alphabet), min_size=1, max_size=8),
                st.integers(900, 5000),
            )
        )
    return st.one_of(*options)


def _text_fits(data: bytes, cte: str) -> bool:
    """Whether `data` may travel as 7bit/8bit lines (RFC 5322 2.1.1, RFC 2045 2.7/2.8)."""
    if cte not in ("7bit", "8bit"):
        return True
    if b"\0" in data or b"\r" in data:
        return False
    if cte == "7bit" and any(byte > 127 for byte in data):
        return False
    return all(len(line) <= 998 for line in data.split(b"\n"))


@st.composite
def text_leaves(draw: st.DrawFn) -> Leaf:
    """A text part in one of the charsets, with a transfer encoding that can carry it."""
    charset = draw(st.sampled_from(CHARSETS))
    subtype = draw(st.sampled_from(["plain", "html", "csv"]))
    ctes = ["quoted-printable", "base64"]
    if charset in _LINE_SAFE:
        ctes += ["7bit", "8bit"]
    cte = draw(st.sampled_from(ctes))
    long = cte in ("quoted-printable", "base64") and draw(st.booleans())
    lines = draw(st.lists(_lines(charset, long=long), max_size=12))
    if subtype == "html":
        lines = ["<p>", *lines, "</p>"]
    text = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    data = text.encode(charset)
    if cte in ("7bit", "8bit"):
        # A body ends at its final line break; a text without one gains it on the wire.
        data = data if data.endswith(b"\n") or not data else data + b"\n"
    if not _text_fits(data, cte):
        cte = "quoted-printable"
    filename, style, disposition = draw(_attachment_names()) if draw(st.booleans()) else (None,) * 3
    return Leaf(
        "text",
        subtype,
        data,
        charset,
        cte,
        filename=filename,
        filename_style=style or "rfc2231",
        disposition=disposition,
    )


@st.composite
def _attachment_names(draw: st.DrawFn) -> tuple[str | None, str, str]:
    disposition = draw(st.sampled_from(["attachment", "inline"]))
    if draw(st.booleans()):
        name = draw(st.sampled_from(["report.pdf", "a b.txt", "x.bin", "naïve.txt", "日本.png"]))
    else:
        name = draw(st.text(st.sampled_from(_HEADER_ALPHABET), min_size=1, max_size=120))
        name = " ".join(name.split()) or "blank"
        if name.startswith("<") and name.endswith(">"):
            # email.utils.unquote strips the angle brackets of "<...>" (a stdlib quirk).
            name += "_"
    style = draw(st.sampled_from(["rfc2231", "rfc2047"]))
    return name, style, disposition


@st.composite
def binary_leaves(draw: st.DrawFn) -> Leaf:
    """An attachment of random bytes (seeded, so large ones cost hypothesis nothing)."""
    maintype, subtype = draw(
        st.sampled_from([("application", "octet-stream"), ("image", "png"), ("application", "pdf")])
    )
    size = draw(st.one_of(st.integers(0, 64), st.integers(0, 4096), st.integers(0, 200_000)))
    data = random.Random(draw(st.integers(0, 2**32))).randbytes(size)
    cte = draw(st.sampled_from(["base64", "base64", "quoted-printable"]))
    filename, style, disposition = draw(_attachment_names())
    return Leaf(
        maintype,
        subtype,
        data,
        None,
        cte,
        filename=filename,
        filename_style=style,
        disposition=disposition,
    )


def trees() -> st.SearchStrategy[Node]:
    """Leaves, or multiparts (mixed, alternative, related) nested a few levels deep."""
    leaves = st.one_of(text_leaves(), text_leaves(), binary_leaves())
    return st.recursive(
        leaves,
        lambda children: st.builds(
            Multipart,
            st.sampled_from(["mixed", "alternative", "related", "x-unknown"]),
            st.lists(children, min_size=1, max_size=4).map(tuple),
            st.sampled_from(["", "This is a multi-part message in MIME format."]),
        ),
        max_leaves=8,
    )


def _header_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(_HEADER_ALPHABET), max_size=max_size)


_LOCAL = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_+-"), min_size=1, max_size=20
)
_UTF8_LOCAL = st.text(st.sampled_from("abcdéjörgпочта用户ü"), min_size=1, max_size=12)


@st.composite
def mailboxes(draw: st.DrawFn, *, utf8: bool) -> Mailbox:
    """A mailbox; with `utf8`, the local part may be non-ASCII (RFC 6531)."""
    local = draw(_UTF8_LOCAL if utf8 and draw(st.booleans()) else _LOCAL)
    domain = draw(st.sampled_from(["example.com", "example.org", "mail.example.net"]))
    name = " ".join(draw(_header_text(40)).split())
    return Mailbox(name, f"{local}@{domain}")


@st.composite
def messages(draw: st.DrawFn, *, utf8: bool = False) -> MessageSpec:
    """A whole message; with `utf8`, headers may be raw UTF-8 (the server needs SMTPUTF8)."""
    mode = draw(st.sampled_from(["utf8", "rfc2047"])) if utf8 else "rfc2047"
    token = f"rt{next(_counter)}x{draw(st.integers(0, 10**9))}"
    return MessageSpec(
        subject=draw(_header_text(300)),
        sender=draw(mailboxes(utf8=mode == "utf8")),
        to=(
            Mailbox("", f"{token}@example.com"),
            *draw(st.lists(mailboxes(utf8=mode == "utf8"), max_size=2)),
        ),
        note=draw(st.one_of(_header_text(40), _header_text(1500))),
        root=draw(trees()),
        header_mode=mode,
        header_charset=draw(st.sampled_from(["utf-8", "utf-8", "iso-8859-1", "shift_jis"])),
        q_encoding=draw(st.booleans()),
    )


# --- rendering -------------------------------------------------------------------------------

CRLF = b"\r\n"


def qp_encode(data: bytes, *, hard_breaks: bool) -> bytes:
    """Quoted-printable (RFC 2045 6.7) with lines of at most 76 characters.

    With `hard_breaks`, each ``\\n`` in `data` becomes a line break (text); without, CR and LF
    are escaped too, so any bytes come back exactly (binary, UTF-16).
    """
    logical = data.split(b"\n") if hard_breaks else [data]
    out: list[bytes] = []
    for line in logical:
        tokens = [
            bytes([b]) if (33 <= b <= 126 and b != 61) or b in (9, 32) else b"=%02X" % b
            for b in line
        ]
        # Rule 3: white space at the end of an encoded line must be encoded.
        if tokens and tokens[-1] in (b" ", b"\t"):
            tokens[-1] = b"=%02X" % tokens[-1][0]
        physical: list[bytes] = []
        current = b""
        for token in tokens:
            if len(current) + len(token) > 75:
                physical.append(current + b"=")
                current = b""
            current += token
        physical.append(current)
        out.append(CRLF.join(physical))
    return CRLF.join(out)


def b64_encode(data: bytes) -> bytes:
    """Base64 in lines of 76 characters (RFC 2045 6.8)."""
    return base64.encodebytes(data).replace(b"\n", CRLF).rstrip(CRLF)


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\n", CRLF)


def encoded_words(text: str, charset: str, q: bool, *, limit: int = 75) -> list[str]:
    """RFC 2047 encoded words of at most `limit` characters, split between characters."""

    def word(chunk: str) -> str:
        raw = chunk.encode(charset)
        if q:
            body = "".join(
                chr(b) if chr(b).isalnum() and b < 128 else "_" if b == 32 else f"={b:02X}"
                for b in raw
            )
            return f"=?{charset}?q?{body}?="
        return f"=?{charset}?b?{base64.b64encode(raw).decode()}?="

    if not all(_round_trips(c, charset) for c in text):
        charset = "utf-8"
    words: list[str] = []
    chunk = ""
    for char in text:
        if chunk and len(word(chunk + char)) > limit:
            words.append(word(chunk))
            chunk = ""
        chunk += char
    if chunk:
        words.append(word(chunk))
    return words


def _fold_plain(text: str) -> str:
    """Fold at spaces to about 76 characters (RFC 5322 2.2.3); unfolding restores `text`."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > 70:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\r\n ".join(lines)


def _plain_ok(text: str, mode: str) -> bool:
    if "=?" in text or text != " ".join(text.split()) or not text:
        return False
    if any(len(word.encode()) > 900 for word in text.split(" ")):
        return False  # a word cannot be folded; RFC 5322 2.1.1 allows 998 octets a line
    if mode == "utf8":
        return all(c.isprintable() for c in text)
    return _PRINTABLE_ASCII.fullmatch(text) is not None


def header_value(text: str, spec: MessageSpec) -> str:
    """Unstructured text as a header value: plain, raw UTF-8, or RFC 2047 words."""
    if _plain_ok(text, spec.header_mode):
        return _fold_plain(text)
    if not text:
        return ""
    return "\r\n ".join(encoded_words(text, spec.header_charset, spec.q_encoding))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox_value(box: Mailbox, spec: MessageSpec) -> str:
    """A mailbox with its display name quoted or encoded (RFC 5322 3.4, RFC 2047 5(3))."""
    if not box.name:
        return f"<{box.address}>"
    if spec.header_mode == "utf8" and all(c.isprintable() for c in box.name):
        return f"{_quoted(box.name)} <{box.address}>"
    if box.name.isascii() and all(c.isprintable() for c in box.name) and "=?" not in box.name:
        return f"{_quoted(box.name)} <{box.address}>"
    # One word, however long: the stdlib keeps a space between adjacent encoded words in a
    # phrase (RFC 2047 6.2 says to drop it), which would be its quirk, not the catcher's.
    words = encoded_words(box.name, spec.header_charset, spec.q_encoding, limit=998)
    return "\r\n ".join(words) + f" <{box.address}>"


def _filename_params(leaf: Leaf) -> str:
    name = leaf.filename
    assert name is not None
    if re.fullmatch(r"[A-Za-z0-9 ._-]+", name):
        # Plain names go quoted; anything else encoded, which no reader can misparse.
        return f"filename={_quoted(name)}"
    if leaf.filename_style == "rfc2047":
        # Not standard in parameters, but what many mailers send; readers decode it.
        return "filename=" + _quoted(" ".join(encoded_words(name, "utf-8", False)))
    # RFC 2231 3-4: charset, language, percent-encoding, split into numbered sections.
    quoted = urllib.parse.quote(name.encode("utf-8"), safe="")
    pieces = [quoted[i : i + 60] for i in range(0, len(quoted), 60)]
    # Never split inside a %XX escape.
    fixed: list[str] = []
    carry = ""
    for piece in pieces:
        piece = carry + piece
        cut = piece.rfind("%", max(0, len(piece) - 2))
        if cut != -1 and cut > len(piece) - 3:
            piece, carry = piece[:cut], piece[cut:]
        else:
            carry = ""
        fixed.append(piece)
    if carry:
        fixed.append(carry)
    if len(fixed) == 1:
        return f"filename*=utf-8''{fixed[0]}"
    sections = [f"filename*0*=utf-8''{fixed[0]}"]
    sections += [f"filename*{i}*={piece}" for i, piece in enumerate(fixed[1:], 1)]
    return ";\r\n ".join(sections)


def _render_node(node: Node, boundaries: itertools.count[int]) -> bytes:
    if isinstance(node, Multipart):
        boundary = f"==mc-boundary-{next(boundaries)}-{random.getrandbits(64):016x}=="
        head = f'Content-Type: multipart/{node.subtype};\r\n boundary="{boundary}"\r\n\r\n'
        body = _crlf(node.preamble.encode()) + CRLF if node.preamble else b""
        for part in node.parts:
            body += f"--{boundary}\r\n".encode() + _render_node(part, boundaries) + CRLF
        body += f"--{boundary}--\r\n".encode()
        return head.encode() + body
    headers = [f"Content-Type: {node.maintype}/{node.subtype}"]
    if node.charset:
        headers[0] += f"; charset={node.charset}"
    headers.append(f"Content-Transfer-Encoding: {node.cte}")
    if node.filename is not None:
        headers.append(f"Content-Disposition: {node.disposition};\r\n {_filename_params(node)}")
    if node.cte == "base64":
        payload = b64_encode(node.data)
    elif node.cte == "quoted-printable":
        line_safe = node.is_text and node.charset in _LINE_SAFE
        payload = qp_encode(node.data, hard_breaks=line_safe)
    else:
        payload = _crlf(node.data)
    # ASCII: non-ASCII file names go RFC 2231 or RFC 2047 encoded.
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + payload


def render(spec: MessageSpec) -> bytes:
    """The exact DATA bytes (CRLF lines, not yet dot-stuffed) for `spec`."""
    encoding = "utf-8" if spec.header_mode == "utf8" else "ascii"
    to = ",\r\n ".join(mailbox_value(box, spec) for box in spec.to)
    head = (
        f"From: {mailbox_value(spec.sender, spec)}\r\n"
        f"To: {to}\r\n"
        f"Subject: {header_value(spec.subject, spec)}\r\n"
        f"X-Reliability-Note: {header_value(spec.note, spec)}\r\n"
        f"Message-ID: <{spec.to[0].address}>\r\n"
        "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
        # Forged envelope headers: the catcher must replace them with the session's truth.
        "X-RcptTo: forged@example.com\r\n"
        "X-MailFrom: forged@example.com\r\n"
        "MIME-Version: 1.0\r\n"
    ).encode(encoding)
    body = _render_node(spec.root, itertools.count())
    if body.endswith(CRLF):
        return head + body
    if isinstance(spec.root, Leaf) and spec.root.cte == "quoted-printable":
        # A single-part body ends with the line break before SMTP's final dot, which
        # decodes as a hard break; a soft one (RFC 2045 6.7 rule 5) adds nothing.
        return head + body + b"=" + CRLF
    return head + body + CRLF


def is_8bit(data: bytes) -> bool:
    """Whether DATA holds octets above 127 (the client then says BODY=8BITMIME)."""
    return any(b > 127 for b in data)


# --- checking --------------------------------------------------------------------------------


def _undo_surrogates(text: str) -> str:
    """Raw UTF-8 header bytes parsed as ASCII come back as surrogate escapes; decode them."""
    if any("\udc80" <= c <= "\udcff" for c in text):
        return text.encode("utf-8", "surrogateescape").decode("utf-8")
    return text


def _lines_canonical(data: bytes) -> bytes:
    # RFC 2046 4.1.1: a text line break is CRLF on the wire; readers may get LF.
    return data.replace(b"\r\n", b"\n")


class Mismatch(AssertionError):
    """The message read back differs from the one sent."""


def _expect(where: str, got: object, want: object) -> None:
    if got != want:
        raise Mismatch(f"{where}: got {got!r:.300}, want {want!r:.300}")


def check_headers(spec: MessageSpec, message: Message, where: str) -> None:
    """Decoded header texts, addresses and the server's envelope headers."""
    _expect(f"{where} Subject", _undo_surrogates(str(message["Subject"] or "")), spec.subject)
    _expect(
        f"{where} X-Reliability-Note",
        _undo_surrogates(str(message["X-Reliability-Note"] or "")),
        spec.note,
    )
    for name, boxes in (("From", (spec.sender,)), ("To", spec.to)):
        addresses = getattr(message[name], "addresses", ())  # policy.default's AddressHeader
        got = [(_undo_surrogates(a.display_name), _undo_surrogates(a.addr_spec)) for a in addresses]
        _expect(f"{where} {name}", got, [(box.name, box.address) for box in boxes])


def check_envelope(message: Message, sender: str, recipients: Sequence[str]) -> None:
    """The envelope headers are the server's, not the forged copies in the DATA."""
    _expect("X-MailFrom", message.get_all("X-MailFrom"), [sender])
    _expect("X-RcptTo", message.get_all("X-RcptTo"), [", ".join(recipients)])
    peer = str(message["X-Peer"])
    if "127.0.0.1" not in peer:
        raise Mismatch(f"X-Peer: {peer!r} does not name the loopback client")


def check_tree(node: Node, part: Message, where: str = "root") -> None:
    """Tree shape, types, parameters and every leaf's decoded bytes."""
    if isinstance(node, Multipart):
        _expect(f"{where} type", part.get_content_type(), f"multipart/{node.subtype}")
        children = part.get_payload()
        if not isinstance(children, list):
            raise Mismatch(f"{where}: multipart payload is {type(children).__name__}, not a list")
        _expect(f"{where} number of parts", len(children), len(node.parts))
        for index, (child_node, child) in enumerate(zip(node.parts, children, strict=True)):
            check_tree(child_node, child, f"{where}/{index}")
        return
    _expect(f"{where} type", part.get_content_type(), f"{node.maintype}/{node.subtype}")
    _expect(f"{where} multipart", part.is_multipart(), False)
    if node.charset is not None:
        _expect(f"{where} charset", part.get_content_charset(), node.charset)
    if node.filename is not None:
        _expect(f"{where} filename", part.get_filename(), node.filename)
        _expect(f"{where} disposition", part.get_content_disposition(), node.disposition)
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raise Mismatch(f"{where}: decoded payload is {type(payload).__name__}")
    if node.is_text and node.charset in _LINE_SAFE and node.cte != "base64":
        _expect(f"{where} decoded bytes", _lines_canonical(payload), _lines_canonical(node.data))
        if isinstance(part, EmailMessage) and node.charset is not None:
            text = part.get_content()
            _expect(
                f"{where} text",
                text.replace("\r\n", "\n"),
                node.data.decode(node.charset).replace("\r\n", "\n"),
            )
    else:
        _expect(f"{where} decoded bytes", payload, node.data)


def check(spec: MessageSpec, message: Message, where: str) -> None:
    """Headers and the whole body tree of `message` against `spec`."""
    check_headers(spec, message, where)
    check_tree(spec.root, message, where)


# --- malformed mail: what breaks parsers, for the tests that every reader copes -----------

NASTY_HEADERS = [
    b"Content-Type: text/plain; x*",
    b"Content-Type: multipart/mixed",
    b"Content-Type: multipart/mixed; boundary=",
    b'Content-Type: multipart/alternative; boundary="b"',
    b"Content-Type: ;;;",
    b"Content-Type: text/plain; charset=x-no-such-charset",
    b'Content-Type: text/plain; charset="utf-8',
    b"Content-Type: text/plain; charset*=''",
    b"Content-Type: text/plain; name*0*=utf-8''%E2; name*2=x",
    b"Content-Type: message/rfc822",
    b"Content-Type: text/html; charset=utf-16",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Transfer-Encoding: x-uuencode",
    b"Content-Transfer-Encoding: 8bit; junk",
    b"Content-Disposition: attachment; filename*=bogus'en'%ZZ",
    b'Content-Disposition: attachment; filename="unterminated',
    b"Content-Disposition: ; ; filename",
    b"Subject: =?utf-8?b?!!!?=",
    b"Subject: =?x-unknown?q?abc?=",
    b"Subject: =?utf-8?q?=FF=FE?= =?utf-8?b?",
    b"Subject: \xff\xfe raw invalid utf-8",
    b"From: <<<@>>>",
    b'From: "unterminated <a@example.com>',
    b"To: ,,,;;",
    b"To: undisclosed-recipients:;",
    b"Cc: =?utf-8?q?x?= <@>",
    b"Date: not a date",
    b"Date: Mon, 99 Foo 99999 99:99:99 +9999",
    b"Message-ID: <<>>",
    b"MIME-Version: 2.0",
    b"X-Empty:",
    b"X-Long: " + b"w" * 990,
    b"X-Folded: a\r\n\tb\r\n c",
    b"X-Mailcatcher-Auth-User: forged",
    b"X-Peer: forged",
    b"no colon in this header line",
    b": no name",
]
NASTY_BODIES = [
    b"--b\r\nContent-Type: text/plain\r\n\r\nno closing boundary\r\n",
    b"--b\r\n\r\n--b\r\n--b--\r\n--b--\r\n",
    b"--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nx\r\n--b--\r\n",
    b"!!!! not base64 ====\r\nQUJD\r\n=",
    b"=ZZ=\r\n=4=\r\nsoft break at the end=",
    b"begin 644 x\r\n#0V%T\r\n`\r\nend\r\n",
    b"\x00\x01\x02\xff\xfe\r\n\x1b$B\r\n",
    b"Subject: looks like a header\r\n\r\n--b--\r\n",
    b"",
]


@st.composite
def malformed_mail(draw: st.DrawFn) -> bytes:
    """Header lines and bodies that break parsers, mixed with random bytes."""
    headers = draw(st.lists(st.sampled_from(NASTY_HEADERS), min_size=1, max_size=8))
    headers += draw(st.lists(st.binary(min_size=1, max_size=80), max_size=2))
    body = draw(st.one_of(st.sampled_from(NASTY_BODIES), st.binary(max_size=400)))
    # Keep every line under the SMTP limit (RFC 5321 4.5.3.1.6): this is about content.
    lines = (b"\r\n".join(headers) + b"\r\n\r\n" + body).split(b"\r\n")
    return b"\r\n".join(line[:900] for line in lines)
