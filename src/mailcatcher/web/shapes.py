"""Mailpit's v1 JSON shapes, built from our summaries and stored messages.

Field names, nesting and types are Mailpit's (``internal/storage/structs.go`` and the
``MessagesSummary`` of ``server/apiv1``), so Mailpit's clients read our answers
unchanged. Mailpit keeps read status and tags in its database; here read status lives in
the web process (`Inbox`) and there are no tags, so ``Tags`` is always empty.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from ..message import (
    Part,
    header,
    header_texts,
    html_body,
    html_to_text,
    parts,
    raw_headers,
    text_body,
)
from ..store import Entry

JSON = dict[str, Any]

#: How much of a message is read to summarize it for the list: headers and the start of
#: the body, never a whole multi-megabyte attachment.
SUMMARY_READ_LIMIT = 256 * 1024
SNIPPET_LENGTH = 200
_SPACE = re.compile(r"\s+")
_UNSUBSCRIBE_ITEM = re.compile(r"<([^>]*)>")


def iso_time(seconds: float) -> str:
    """Unix seconds as RFC 3339 in UTC with milliseconds, as Mailpit's clients parse it."""
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def address(name: str, addr: str) -> JSON:
    """Go's ``net/mail.Address``: ``{"Name": ..., "Address": ...}``."""
    return {"Name": name, "Address": addr}


def addresses(message: Message, name: str) -> list[JSON]:
    """The addresses in every `name` header of `message`, decoded; never raises."""
    found: list[JSON] = []
    for text in header_texts(message, name):
        try:
            pairs = getaddresses([text])
        except Exception:  # the stdlib's address parser on malformed input: the sender's
            pairs = []
        found.extend(address(name, addr) for name, addr in pairs if addr)
    return found


def first_address(message: Message, name: str, fallback: str) -> JSON:
    """The first address of header `name`; the envelope `fallback` when it has none."""
    found = addresses(message, name)
    if found:
        return found[0]
    text = header(message, name)
    if text:
        return address(text, "")
    return address("", fallback)


def snippet(message: Message) -> str:
    """Up to 200 characters of the body text, spaces squeezed (Mailpit's Snippet)."""
    text = text_body(message)
    if not text or not text.strip():
        html = html_body(message)
        text = html_to_text(html) if html else ""
    text = _SPACE.sub(" ", text.replace("\ufeff", " ")).strip()
    return text if len(text) <= SNIPPET_LENGTH else text[:SNIPPET_LENGTH] + "..."


@dataclass(frozen=True)
class Details:
    """What a list row needs beyond the `Entry`: more headers and a snippet."""

    message_id: str
    from_: JSON
    to: list[JSON]
    cc: list[JSON]
    bcc: list[JSON]
    reply_to: list[JSON]
    snippet: str


def bcc(entry: Entry, message: Message) -> list[JSON]:
    """The Bcc header's addresses, then every envelope recipient no header names.

    Mailpit's SMTP server adds such recipients to the Bcc header before it stores a
    message ("add missing email addresses to Bcc", ``internal/smtpd/main.go``): a
    catcher knows who a blind copy went to, and shows it. Addresses compare without
    regard to case, as Mailpit compares them.
    """
    found = addresses(message, "Bcc")
    named = {item["Address"].lower() for name in ("To", "Cc") for item in addresses(message, name)}
    named.update(item["Address"].lower() for item in found)
    for recipient in entry.recipients:
        if recipient.lower() not in named:
            named.add(recipient.lower())
            found.append(address("", recipient))
    return found


def details(entry: Entry, message: Message) -> Details:
    """Summarize a message parsed from its first bytes (`SUMMARY_READ_LIMIT` is plenty)."""
    return Details(
        message_id=header(message, "Message-ID").strip("<>"),
        from_=first_address(message, "From", entry.sender),
        to=addresses(message, "To"),
        cc=addresses(message, "Cc"),
        bcc=bcc(entry, message),
        reply_to=addresses(message, "Reply-To"),
        snippet=snippet(message),
    )


def summary(entry: Entry, extra: Details, *, read: bool) -> JSON:
    """Mailpit's ``MessageSummary``."""
    return {
        "ID": entry.id,
        "MessageID": extra.message_id,
        "Read": read,
        "From": extra.from_,
        "To": extra.to,
        "Cc": extra.cc,
        "Bcc": extra.bcc,
        "ReplyTo": extra.reply_to,
        "Subject": entry.subject,
        "Created": iso_time(entry.stored),
        "Username": entry.auth_user or "",
        "Tags": [],
        "Size": entry.size,
        "Attachments": entry.attachments,
        "Snippet": extra.snippet,
    }


def messages_summary(
    *,
    total: int,
    unread: int,
    matched: int,
    matched_unread: int,
    start: int,
    messages: list[JSON],
) -> JSON:
    """Mailpit's ``MessagesSummary`` (with the legacy ``count`` its clients still read)."""
    return {
        "total": total,
        "unread": unread,
        "count": len(messages),
        "messages_count": matched,
        "messages_unread": matched_unread,
        "start": start,
        "tags": [],
        "messages": messages,
    }


def attachment(part: Part) -> JSON:
    """Mailpit's ``Attachment``."""
    data = part.attachment.data
    return {
        "PartID": part.part_id,
        "FileName": part.attachment.filename or "",
        "ContentType": part.attachment.content_type,
        "ContentID": part.attachment.content_id or "",
        "Size": len(data),
        "Checksums": {
            "MD5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "SHA1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
            "SHA256": hashlib.sha256(data).hexdigest(),
        },
    }


def _date(message: Message, entry: Entry) -> str:
    """The Date header as RFC 3339, or the time the message was stored."""
    raw = header(message, "Date")
    if raw:
        try:
            moment = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.isoformat()
    return iso_time(entry.stored)


def list_unsubscribe(message: Message) -> JSON:
    """Mailpit's ``ListUnsubscribe``: the header, its links (RFC 2369) and the Post header."""
    value = header(message, "List-Unsubscribe")
    links = [link.strip() for link in _UNSUBSCRIBE_ITEM.findall(value)]
    errors = ""
    if value and not links:
        errors = "no <URL> in the List-Unsubscribe header (RFC 2369 3.2)"
    return {
        "Header": value,
        "Links": links,
        "Errors": errors,
        "HeaderPost": header(message, "List-Unsubscribe-Post"),
    }


def message(entry: Entry, parsed: EmailMessage) -> JSON:
    """Mailpit's ``Message``: headers, both bodies and the files, without file content."""
    text = text_body(parsed)
    html = html_body(parsed) or ""
    if text is None:
        # Mailpit (enmime) gives the HTML as text when there is no text part.
        text = html_to_text(html) if html else ""
    from_ = first_address(parsed, "From", entry.sender)
    return_path = header(parsed, "Return-Path").strip("<>") or from_["Address"]
    files = parts(parsed)
    return {
        "ID": entry.id,
        "MessageID": header(parsed, "Message-ID").strip("<>"),
        "From": from_,
        "To": addresses(parsed, "To"),
        "Cc": addresses(parsed, "Cc"),
        "Bcc": bcc(entry, parsed),
        "ReplyTo": addresses(parsed, "Reply-To"),
        "ReturnPath": return_path,
        "Subject": entry.subject,
        "ListUnsubscribe": list_unsubscribe(parsed),
        "Date": _date(parsed, entry),
        "Tags": [],
        "Username": entry.auth_user or "",
        "Text": text,
        "HTML": html,
        "Size": entry.size,
        "Inline": [attachment(part) for part in files if part.attachment.inline],
        "Attachments": [attachment(part) for part in files if not part.attachment.inline],
    }


def envelope(entry: Entry) -> JSON:
    """The SMTP envelope the catcher recorded: MAIL FROM, every RCPT TO, the AUTH login."""
    return {
        "MailFrom": entry.sender,
        "RcptTo": list(entry.recipients),
        "Username": entry.auth_user or "",
    }


def canonical_header_name(name: str) -> str:
    """Go's CanonicalMIMEHeaderKey: ``message-id`` becomes ``Message-Id``."""
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def headers(message: Message) -> dict[str, list[str]]:
    """Every header as Mailpit's ``/headers`` gives it: canonical names, sorted, values as sent."""
    found: dict[str, list[str]] = {}
    for name, value in raw_headers(message):
        found.setdefault(canonical_header_name(name), []).append(value)
    return dict(sorted(found.items()))
