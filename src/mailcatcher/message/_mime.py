"""MIME structure that both the store's summaries and the message helpers read.

One definition of a header's text, a recipient list, a container and a file, so that what
`mailcatcher list` counts as an attachment is what the web page shows, and a recipient
with a comma in its quoted local part is one recipient everywhere. Nothing here raises on
malformed mail: it is the sender's to get wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message

#: An address in a comma-separated list: commas inside a quoted local part
#: (``"a,b"@example.com``, RFC 5321 4.1.2) do not split it.
_ADDRESS = re.compile(r'(?:"(?:[^"\\]|\\.)*"|[^,"])+')


def mime_view(part: Message) -> Message:
    """Return a compat32 copy of a part's headers, to read its MIME type and parameters from.

    policy.default's header parser raises IndexError on some malformed parameters (as in
    `Content-Disposition: attachment; filename*`); compat32 splits strings and never does.
    """
    view = Message()
    view.set_default_type(part.get_default_type())  # message/rfc822 in a multipart/digest
    for name, value in part.raw_items():
        view[name] = value
    return view


def is_container(part: Message) -> bool:
    # A multipart whose boundary is missing is parsed as a single part with a string payload;
    # it is treated as a leaf then, so its bytes still show up as an attachment.
    return mime_view(part).get_content_maintype() == "multipart" and part.is_multipart()


def children(part: Message) -> list[Message]:
    if not part.is_multipart():
        # get_payload() of a leaf decodes its text with the declared charset, and raises
        # on some malformed ones (``charset*=''``); a leaf has no children anyway.
        return []
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [child for child in payload if isinstance(child, Message)]


def is_body_text(part: Message) -> bool:
    """Tell whether a part is body text rather than a file (a text part not marked as a file)."""
    mime = mime_view(part)
    return (
        mime.get_content_maintype() == "text"
        and mime.get_content_disposition() != "attachment"
        and filename(part) is None
    )


def has_surrogates(text: str) -> bool:
    # The parser keeps undecodable header and body bytes as lone surrogates (surrogateescape).
    return any("\udc80" <= char <= "\udcff" for char in text)


def filename(part: Message) -> str | None:
    name = mime_view(part).get_filename() or None
    if name is not None and "=?" in name:
        # RFC 2231 is the standard for non-ASCII filenames, but many clients send an RFC 2047
        # encoded word in quotes instead, which RFC 2047 section 5 forbids.
        name = decode_words(name)
    return name


def content_id(part: Message) -> str | None:
    value = header_text(part, "Content-ID")
    if value is None:
        return None
    return strip_angle_brackets(value) or None


def strip_angle_brackets(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value


def header_text(msg: Message, name: str) -> str | None:
    """Return the first header called `name`, decoded (see `decode_value`), or None.

    The raw value is read (not ``msg.get``), so both policies give the same text and no
    header parser can trip over malformed input; compat32's ``get`` would also turn a raw
    8-bit value into a `Header` whose text is replacement characters.
    """
    wanted = name.lower()
    for key, raw in msg.raw_items():
        if key.lower() == wanted:
            return decode_value(raw)
    return None


def envelope_text(msg: Message, name: str) -> str | None:
    """Return an envelope header the catcher wrote, unfolded, or None; never decoded.

    The envelope is recorded exactly as the client sent it: ``RCPT TO:<=?utf-8?q?a?=@x>``
    is that address, not ``a@x``, so RFC 2047 decoding (which is for header text a
    person reads, RFC 2047 section 5) is not applied. UTF-8 (RFC 6531) is read as such.
    """
    wanted = name.lower()
    for key, raw in msg.raw_items():
        if key.lower() == wanted:
            text = _LINE_BREAKS.sub("", str(raw)).strip()
            if has_surrogates(text):
                text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return text
    return None


def header_texts(msg: Message, name: str) -> list[str]:
    """Every header called `name`, in order, each decoded (see `decode_value`)."""
    wanted = name.lower()
    return [decode_value(raw) for key, raw in msg.raw_items() if key.lower() == wanted]


_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def decode_value(value: object) -> str:
    """Decode a header value into one line of text; never raises.

    Folding is undone (RFC 5322 2.2.3: "unfolding is accomplished by simply removing any
    CRLF that is immediately followed by WSP"), raw UTF-8 is read as UTF-8 (RFC 6532), and
    RFC 2047 encoded words are decoded. A line break that decoding produces (``=0A`` in an
    encoded word) becomes a space: a header is one line wherever it is shown.
    """
    if value is None:
        return ""
    text = _as_utf8(_LINE_BREAKS.sub("", str(value)).strip())
    if "=?" in text:
        text = without_lone_surrogates(_LINE_BREAKS.sub(" ", decode_words(text)))
    return text


_SURROGATES = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(text: str) -> str:
    """`text` with any UTF-16 surrogate replaced by U+FFFD, so it can always be encoded.

    Decoding never leaves one behind except through a codec that builds them from
    input, as UTF-7 does (``+2AA-`` is U+D800 alone): such text could not be written as
    UTF-8 anywhere (an index row, JSON, a terminal), and a message holding it got 451.
    """
    return _SURROGATES.sub("\ufffd", text)


def _as_utf8(text: str) -> str:
    if has_surrogates(text):
        # RFC 6531 (SMTPUTF8) allows UTF-8 in headers; the parser kept it as escapes.
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def raw_header_items(msg: Message) -> list[tuple[str, str]]:
    """Every header as sent, in order: unfolded, 8-bit read as UTF-8, encoded words kept.

    What a client shows as a message's source headers (Mailpit's ``/headers``, Go's
    ``net/textproto``): each fold becomes one space. Never raises.
    """
    return [
        (name, _as_utf8(" ".join(line.strip() for line in str(raw).splitlines() if line.strip())))
        for name, raw in msg.raw_items()
    ]


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words, keeping the text as it was when they are broken."""
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        # The stdlib raises assorted errors on broken words: HeaderParseError for
        # ``=?utf-8?b?A?=`` (bad base64 padding), LookupError for an unknown charset,
        # ValueError, AssertionError. A header is the sender's to get wrong.
        return value


def fold(text: str) -> str:
    """`text` ready for case-insensitive comparison: Unicode case folding (``ß`` = ``SS``).

    The one fold every match uses (filters, search, the index), so that a search finds the
    same messages in every store.
    """
    return text.casefold()


def split_addresses(value: str) -> list[str]:
    """The addresses in a comma-separated list such as ``X-RcptTo``, in order."""
    return [address.strip() for address in _ADDRESS.findall(value) if address.strip()]


def is_inline(part: Message) -> bool:
    """Whether a file part is meant to be shown inside the message (a ``cid:`` image)."""
    disposition = mime_view(part).get_content_disposition()
    # Parts in a multipart/related often carry a Content-ID and no disposition at all.
    return disposition == "inline" or (disposition is None and content_id(part) is not None)


def walk(msg: Message) -> Iterator[Message]:
    """Every part of a message, depth first, like `Message.walk` but without recursion.

    A hostile message can nest parts deeper than Python's recursion limit.
    """
    stack = [msg]
    while stack:
        part = stack.pop()
        yield part
        stack.extend(reversed(children(part)))


def nesting_depth(msg: Message) -> int:
    """How deeply the parts of `msg` nest (1 for a message that is not multipart)."""
    deepest = 0
    stack = [(msg, 1)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children(part))
    return deepest


def file_parts(msg: Message) -> Iterator[Message]:
    """The parts of a message that are files, attached or inline, in order.

    Body text parts are not files; a text part with a filename or ``Content-Disposition:
    attachment`` is. An attached message (message/rfc822) is one file.
    """
    # An explicit stack rather than recursion: a hostile message can nest parts deeper
    # than Python's recursion limit.
    stack = [msg]
    while stack:
        part = stack.pop()
        if is_container(part):
            stack.extend(reversed(children(part)))
        elif not is_body_text(part):
            yield part
