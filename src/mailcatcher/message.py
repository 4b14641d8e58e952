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
from email.header import decode_header, make_header
from email.message import Message
from email.policy import EmailPolicy
from html.parser import HTMLParser
from io import BytesIO, StringIO

__all__ = [
    "Attachment",
    "attachments",
    "auth_user",
    "envelope_recipients",
    "envelope_sender",
    "html_body",
    "html_to_text",
    "links",
    "peer",
    "text_body",
]


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


# --- bodies ---------------------------------------------------------------------------------


def text_body(msg: Message) -> str | None:
    """Return the decoded text/plain body, or None when the message has none.

    A text/plain part inside a multipart/alternative is preferred over one outside it, and
    attached text files are never the body.
    """
    part = _body_part(msg, "plain")
    return None if part is None else _decode_text(part)


def html_body(msg: Message) -> str | None:
    """Return the decoded text/html body, or None when the message has none."""
    part = _body_part(msg, "html")
    return None if part is None else _decode_text(part)


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


def _mime(part: Message) -> Message:
    """Return a compat32 copy of a part's headers, to read its MIME type and parameters from.

    policy.default's header parser raises IndexError on some malformed parameters (as in
    `Content-Disposition: attachment; filename*`); compat32 splits strings and never does.
    """
    view = Message()
    view.set_default_type(part.get_default_type())  # message/rfc822 in a multipart/digest
    for name, value in part.raw_items():
        view[name] = value
    return view


def _is_container(part: Message) -> bool:
    # A multipart whose boundary is missing is parsed as a single part with a string payload;
    # it is treated as a leaf then, so its bytes still show up as an attachment.
    return _mime(part).get_content_maintype() == "multipart" and part.is_multipart()


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [child for child in payload if isinstance(child, Message)]


def _is_body_text(part: Message) -> bool:
    """Tell whether a part is body text rather than a file (a text part not marked as a file)."""
    mime = _mime(part)
    return (
        mime.get_content_maintype() == "text"
        and mime.get_content_disposition() != "attachment"
        and _filename(part) is None
    )


def _decode_text(part: Message) -> str:
    """Decode a text part's payload to str, replacing what its charset cannot decode."""
    data = _payload_bytes(part)
    charset = (_mime(part).get_content_charset() or "").strip().lower()
    # RFC 2045 section 5.2 makes us-ascii the default, but 8-bit bodies that forget to declare
    # a charset are in practice UTF-8, a superset of ASCII.
    if charset in ("", "us-ascii", "ascii"):
        charset = "utf-8"
    try:
        return data.decode(charset, errors="replace")
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


def _has_surrogates(text: str) -> bool:
    # The parser keeps undecodable header and body bytes as lone surrogates (surrogateescape).
    return any("\udc80" <= char <= "\udcff" for char in text)


# --- HTML -----------------------------------------------------------------------------------

# Elements whose content a reader never sees (HTML Living Standard, "hidden" rendering).
_HIDDEN = frozenset({"head", "script", "style", "template", "title"})
# Elements that start a new line. Paragraph-like ones get a blank line around them.
_LINE_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "center", "dd", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "li", "main",
        "nav", "ol", "section", "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_PARAGRAPHS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "p"})
_CELLS = frozenset({"td", "th"})
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
# Zero-width characters: templates pad preheaders with them (&zwnj;, &#847;) and they only
# confuse a terminal. U+00AD is the soft hyphen.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u034f\u200b\u200c\u200d\u2060\ufeff"))
_CELL_SEPARATOR = " | "


class _HTMLReader(HTMLParser):
    """Turn HTML into terminal text and collect its http(s) links in one pass."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self._out: list[str] = []
        self._hidden: list[str] = []
        self._anchors: list[tuple[str | None, int]] = []
        self._lists: list[int | None] = []  # per open list: next number (ol) or None (ul)
        self._pre = 0
        self._newlines = 0
        self._space = False
        self._cell = False
        self._row_break = False
        self._cell_empty = False
        self._prefix = ""
        self._line_has_text = False

    def text(self) -> str:
        """Return the text written so far, with blank lines collapsed."""
        lines = [line.rstrip() for line in "".join(self._out).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # A <head> that is never closed would otherwise hide the whole message.
            self._hidden.clear()
        if tag in _HIDDEN:
            self._hidden.append(tag)
        if self._hidden:
            return
        attr = dict(attrs)
        if tag == "a":
            href = _clean_href(attr.get("href"))
            if href is not None and _is_web_url(href):
                self.links.append(href)
            self._anchors.append((href, len(self._out)))
        elif tag == "br":
            self._newlines += 1
        elif tag == "img":
            alt = _HTML_SPACE.sub(" ", attr.get("alt") or "").strip()
            if alt:
                self._write(f"[{alt}]")
        elif tag == "hr":
            self._block(1)
            self._write("-" * 20)
            self._block(1)
        elif tag in _CELLS:
            self._start_cell()
        elif tag == "pre":
            self._block(1)
            self._pre += 1
        elif tag in _PARAGRAPHS:
            self._block(2)
        elif tag in _LINE_BLOCKS:
            self._block(1)
        if tag in ("table", "tr"):
            self._row_break = True
        if tag in ("ol", "ul"):
            self._lists.append(1 if tag == "ol" else None)
        elif tag == "li":
            self._list_item()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._hidden:
            del self._hidden[self._hidden.index(tag) :]
            return
        if self._hidden:
            return
        if tag == "a" and self._anchors:
            href, start = self._anchors.pop()
            self._end_link(href, "".join(self._out[start:]).strip())
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
            self._block(1)
        elif tag in _PARAGRAPHS:
            self._block(2)
        elif tag in _LINE_BLOCKS:
            self._block(1)
        if tag in _CELLS or tag in ("table", "tr"):
            self._cell_empty = False
        if tag in ("table", "tr"):
            self._row_break = True
        if tag in ("ol", "ul") and self._lists:
            self._lists.pop()

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        data = data.translate(_INVISIBLE)
        self.links.extend(_text_urls(data))
        if self._pre:
            self._flush()
            self._out.append(data)
            self._line_has_text = not data.endswith("\n")
            self._cell_empty = False
            return
        # &nbsp; is how templates keep spacer cells open; in a terminal it is just a space.
        text = _HTML_SPACE.sub(" ", data.replace("\xa0", " "))
        if text[:1] == " ":
            self._space = True
        if text.strip():
            self._write(text.strip())
            self._space = text[-1:] == " "

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        # Python < 3.13 raises AssertionError on marked sections it does not know, such as
        # "<![foo]>" in Word-made HTML; read them as the bogus comments HTML5 says they are.
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return self.parse_bogus_comment(i)

    def _start_cell(self) -> None:
        # A cell after one with text in the same row continues the line, even when that cell
        # ended with a paragraph or div; rows and whole tables still break it.
        if self._line_has_text and not self._row_break:
            self._newlines = 0
            self._cell = True
        self._cell_empty = True

    def _block(self, newlines: int) -> None:
        if self._cell_empty:
            # A paragraph or div that opens a cell is part of the cell's place in the row.
            return
        self._newlines = max(self._newlines, newlines)

    def _list_item(self) -> None:
        self._block(1)
        indent = "  " * max(0, len(self._lists) - 1)
        number = self._lists[-1] if self._lists else None
        if number is None:
            self._prefix = f"{indent}- "
        else:
            self._prefix = f"{indent}{number}. "
            self._lists[-1] = number + 1

    def _end_link(self, href: str | None, label: str) -> None:
        if not href or href.startswith("#") or href.lower().startswith(("javascript:", "cid:")):
            return
        if not label:
            self._write(href)
        elif _comparable(label) != _comparable(href):
            # Appended directly so the target stays on the label's line even when the link
            # ended a block.
            self._out.append(f" ({href})")

    def _write(self, text: str) -> None:
        self._flush()
        self._out.append(text)
        self._line_has_text = True
        self._cell_empty = False

    def _flush(self) -> None:
        """Write the line break, cell separator or space that is due before the next text."""
        if self._newlines and self._out:
            self._out.append("\n" * min(self._newlines, 2))
            self._line_has_text = False
        elif self._cell and self._line_has_text:
            self._out.append(_CELL_SEPARATOR)
        elif self._space and self._line_has_text:
            self._out.append(" ")
        if self._prefix:
            self._out.append(self._prefix)
        self._newlines = 0
        self._cell = self._space = self._row_break = False
        self._prefix = ""


def html_to_text(html: str) -> str:
    """Render HTML as plain text that reads well in a terminal.

    Used when a message has no text part. Head, script and style content is dropped, block
    elements start new lines, table cells are joined with " | ", list items get "- " or
    "1. ", images show their alt text as "[alt]", and a link whose label differs from its
    target reads "label (url)".

    Args:
        html: An HTML document or fragment; malformed markup never raises.

    Returns:
        The text, with at most one blank line in a row and no trailing spaces.
    """
    reader = _HTMLReader()
    reader.feed(html)
    reader.close()
    return reader.text()


def _clean_href(href: str | None) -> str | None:
    # The WHATWG URL parser strips leading and trailing spaces and drops tabs and newlines,
    # which HTML templates leave inside long href attributes.
    return None if href is None else re.sub(r"[\t\n\r]", "", href).strip(" \f")


def _comparable(url: str) -> str:
    """Reduce a link label or target to what a reader would consider the same text."""
    url = re.sub(r"^(?:https?://|mailto:|tel:)", "", url.strip(), flags=re.IGNORECASE)
    return url.rstrip("/").lower()


# --- links ----------------------------------------------------------------------------------

# "<" and ">" are RFC 3986 appendix C's delimiters around a URL in text; quotes and spaces
# cannot occur in one unescaped.
_TEXT_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?'*"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


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
        found.extend(_text_urls(text))
    html = html_body(msg)
    if html is not None:
        reader = _HTMLReader()
        reader.feed(html)
        reader.close()
        found.extend(reader.links)
    return list(dict.fromkeys(found))


def _text_urls(text: str) -> list[str]:
    """Find the URLs in prose, without the punctuation that ends the sentence around them."""
    urls = []
    for match in _TEXT_URL.finditer(text):
        url = _trim_url(match.group())
        if url.partition("://")[2]:
            urls.append(url)
    return urls


def _trim_url(url: str) -> str:
    while url:
        last = url[-1]
        if last in _TRAILING or (last in _CLOSERS and url.count(_CLOSERS[last]) < url.count(last)):
            url = url[:-1]
        else:
            break
    return url


def _is_web_url(url: str) -> bool:
    scheme, sep, rest = url.partition("://")
    return bool(sep and rest) and scheme.lower() in ("http", "https")


# --- attachments ----------------------------------------------------------------------------


def attachments(msg: Message) -> list[Attachment]:
    """Return the files in a message, attached or inline, in order.

    Inline images (an HTML body's `cid:` pictures) are included with `inline=True`, since
    users want to see them too. Body text parts are not attachments; a text part with a
    filename or `Content-Disposition: attachment` is. An attached message (message/rfc822)
    is one attachment holding the message's bytes.
    """
    found = []
    stack = [msg]
    while stack:
        part = stack.pop()
        if _is_container(part):
            stack.extend(reversed(_children(part)))
        elif not _is_body_text(part):
            found.append(_attachment(part))
    return found


def _attachment(part: Message) -> Attachment:
    content_id = _content_id(part)
    mime = _mime(part)
    disposition = mime.get_content_disposition()
    return Attachment(
        filename=_filename(part),
        content_type=mime.get_content_type(),
        data=_message_bytes(part) if part.is_multipart() else _payload_bytes(part),
        content_id=content_id,
        # Parts in a multipart/related often carry a Content-ID and no disposition at all.
        inline=disposition == "inline" or (disposition is None and content_id is not None),
    )


def _filename(part: Message) -> str | None:
    name = _mime(part).get_filename() or None
    if name is not None and "=?" in name:
        # RFC 2231 is the standard for non-ASCII filenames, but many clients send an RFC 2047
        # encoded word in quotes instead, which RFC 2047 section 5 forbids.
        name = _decode_words(name)
    return name


def _content_id(part: Message) -> str | None:
    value = _header(part, "Content-ID")
    if value is None:
        return None
    return _strip_angle_brackets(value) or None


def _strip_angle_brackets(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value


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
    return _header(msg, "X-MailFrom") or ""


def envelope_recipients(msg: Message) -> list[str]:
    """Return the SMTP envelope recipients (RCPT TO) the server recorded, in order.

    These differ from the To and Cc headers for Bcc recipients. Commas inside a quoted local
    part (`"a,b"@example.com`) do not split an address.
    """
    value = _header(msg, "X-RcptTo") or ""
    return [address.strip() for address in _ADDRESS.findall(value) if address.strip()]


def auth_user(msg: Message) -> str | None:
    """Return the user the client authenticated as, or None when it did not authenticate."""
    return _header(msg, "X-Mailcatcher-Auth-User")


def peer(msg: Message) -> str | None:
    """Return the client address the server recorded, as written (e.g. "('127.0.0.1', 50122)")."""
    return _header(msg, "X-Peer")


_ADDRESS = re.compile(r'(?:"(?:[^"\\]|\\.)*"|[^,"])+')


def _header(msg: Message, name: str) -> str | None:
    """Return the first header called `name`, unfolded and decoded, or None.

    The raw value is read so both policies give the same text and no header parser can
    trip over malformed input.
    """
    wanted = name.lower()
    for key, raw in msg.raw_items():
        if key.lower() != wanted:
            continue
        value = "".join(str(raw).splitlines()).strip()
        if _has_surrogates(value):
            # RFC 6531 (SMTPUTF8) allows UTF-8 in headers; the parser kept it as escapes.
            value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return _decode_words(value) if "=?" in value else value
    return None


def _decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words, keeping the text as it was when they are broken."""
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, ValueError):
        return value
