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
    """Return the first header called `name`, unfolded and decoded, or None.

    The raw value is read (not ``msg.get``), so both policies give the same text and no
    header parser can trip over malformed input; compat32's ``get`` would also turn a raw
    8-bit value into a `Header` whose text is replacement characters.
    """
    wanted = name.lower()
    for key, raw in msg.raw_items():
        if key.lower() == wanted:
            return decode_value(raw)
    return None


def decode_value(value: object) -> str:
    """Decode a header value, folded, RFC 2047 encoded or raw UTF-8 (RFC 6532), into text."""
    if value is None:
        return ""
    # Unfold (RFC 5322 2.2.3): compat32 keeps a folded value's line breaks.
    text = "".join(str(value).splitlines()).strip()
    if has_surrogates(text):
        # RFC 6531 (SMTPUTF8) allows UTF-8 in headers; the parser kept it as escapes.
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return decode_words(text) if "=?" in text else text


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words, keeping the text as it was when they are broken."""
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, ValueError, AssertionError):
        return value


def split_addresses(value: str) -> list[str]:
    """The addresses in a comma-separated list such as ``X-RcptTo``, in order."""
    return [address.strip() for address in _ADDRESS.findall(value) if address.strip()]


def is_inline(part: Message) -> bool:
    """Whether a file part is meant to be shown inside the message (a ``cid:`` image)."""
    disposition = mime_view(part).get_content_disposition()
    # Parts in a multipart/related often carry a Content-ID and no disposition at all.
    return disposition == "inline" or (disposition is None and content_id(part) is not None)


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
