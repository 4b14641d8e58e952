"""Mailpit's v1 JSON shapes, as types, and built from our summaries and stored messages.

Field names, nesting and types are Mailpit's (``internal/storage/structs.go`` and the
``MessagesSummary`` of ``server/apiv1``), so Mailpit's clients read our answers
unchanged. Mailpit keeps read status and tags in its database; here read status lives in
the web process (`Inbox`) and tags in the store (`Entry.tags`).

Each answer is a `TypedDict` below; the handlers return them (so ``mypy --strict``
checks every key and type) and `openapi` generates its schemas from the same classes,
so the document cannot describe a field the answer lacks, or miss one it has.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.message import Message as Mail
from email.utils import getaddresses, parsedate_to_datetime
from typing import Annotated, TypeAlias, TypedDict

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


@dataclass(frozen=True)
class Doc:
    """What a field means, for the OpenAPI document: ``Annotated[str, Doc("...")]``."""

    description: str
    format: str | None = None


# --- the shapes (the OpenAPI document's schemas are generated from these) ---------------


class Address(TypedDict):
    """An address: 'Eva <eva@example.com>' is {Name: 'Eva', Address: 'eva@example.com'}."""

    Name: Annotated[str, Doc("Display name")]
    Address: Annotated[str, Doc("Address (addr-spec)")]


class MessageSummary(TypedDict):
    """One message in a list."""

    ID: Annotated[str, Doc("Message ID (the stored file's unique name)")]
    MessageID: Annotated[str, Doc("Message-ID header, without angle brackets")]
    Read: Annotated[bool, Doc("Opened through this server")]
    From: Address
    To: Annotated[list[Address], Doc("To addresses")]
    Cc: Annotated[list[Address], Doc("Cc addresses")]
    Bcc: Annotated[list[Address], Doc("Bcc addresses, then envelope recipients no header names")]
    ReplyTo: Annotated[list[Address], Doc("Reply-To addresses")]
    Subject: Annotated[str, Doc("Subject")]
    Created: Annotated[str, Doc("When it was stored (RFC 3339)", format="date-time")]
    Username: Annotated[str, Doc("SMTP AUTH user name, or empty")]
    Tags: Annotated[list[str], Doc("Tags")]
    Size: Annotated[int, Doc("Size in bytes")]
    Attachments: Annotated[int, Doc("Number of attachments")]
    Snippet: Annotated[str, Doc("Up to 200 characters of the body")]


class MessagesSummary(TypedDict):
    """A page of messages, newest first."""

    total: Annotated[int, Doc("Messages in the store")]
    unread: Annotated[int, Doc("Unread messages in the store")]
    count: Annotated[int, Doc("Messages on this page (legacy, Mailpit keeps it too)")]
    messages_count: Annotated[int, Doc("Messages matching the search (all, when listing)")]
    messages_unread: Annotated[int, Doc("Unread messages matching the search")]
    start: Annotated[int, Doc("Pagination offset")]
    tags: Annotated[list[str], Doc("Every tag in use (in this inbox), sorted")]
    messages: list[MessageSummary]


class Checksums(TypedDict):
    """Checksums of a file's decoded content."""

    MD5: Annotated[str, Doc("MD5")]
    SHA1: Annotated[str, Doc("SHA-1")]
    SHA256: Annotated[str, Doc("SHA-256")]


class Attachment(TypedDict):
    """An attached or inline file (content at /api/v1/message/{ID}/part/{PartID})."""

    PartID: Annotated[str, Doc("Part number (IMAP section style: 1, 2.1, ...)")]
    FileName: Annotated[str, Doc("File name, or empty")]
    ContentType: Annotated[str, Doc("Content type")]
    ContentID: Annotated[str, Doc("Content-ID without angle brackets, or empty")]
    Size: Annotated[int, Doc("Decoded size in bytes")]
    Checksums: Checksums


class ListUnsubscribe(TypedDict):
    """The List-Unsubscribe header (RFC 2369, RFC 8058)."""

    Header: Annotated[str, Doc("List-Unsubscribe value")]
    Links: Annotated[list[str], Doc("The <URL>s in it")]
    Errors: Annotated[str, Doc("What is wrong with the header, or empty")]
    HeaderPost: Annotated[str, Doc("List-Unsubscribe-Post value")]


class Message(TypedDict):
    """A message: headers, both bodies and its files (without their content)."""

    ID: Annotated[str, Doc("Message ID")]
    MessageID: Annotated[str, Doc("Message-ID header, without angle brackets")]
    From: Address
    To: Annotated[list[Address], Doc("To addresses")]
    Cc: Annotated[list[Address], Doc("Cc addresses")]
    Bcc: Annotated[list[Address], Doc("Bcc addresses, then envelope recipients no header names")]
    ReplyTo: Annotated[list[Address], Doc("Reply-To addresses")]
    ReturnPath: Annotated[str, Doc("Return-Path, else the From address")]
    Subject: Annotated[str, Doc("Subject")]
    ListUnsubscribe: ListUnsubscribe
    Date: Annotated[str, Doc("Date header, else when stored (RFC 3339)", format="date-time")]
    Tags: Annotated[list[str], Doc("Tags")]
    Username: Annotated[str, Doc("SMTP AUTH user name, or empty")]
    Text: Annotated[str, Doc("Text body (the HTML as text when there is none)")]
    HTML: Annotated[str, Doc("HTML body as sent, or empty")]
    Size: Annotated[int, Doc("Size in bytes")]
    Inline: Annotated[list[Attachment], Doc("Inline files (cid: images)")]
    Attachments: Annotated[list[Attachment], Doc("Attached files")]


class Envelope(TypedDict):
    """The SMTP envelope the catcher recorded (not in Mailpit)."""

    MailFrom: Annotated[str, Doc("MAIL FROM address; empty for a null reverse-path")]
    RcptTo: Annotated[list[str], Doc("Every RCPT TO address, in order")]
    Username: Annotated[str, Doc("SMTP AUTH user name, or empty")]


class WaitTimeout(TypedDict):
    """Nothing matched in time: what the store holds instead."""

    Error: Annotated[str, Doc("What was waited for, where, how long, and what arrived")]
    Query: Annotated[str, Doc("The search")]
    Timeout: Annotated[float, Doc("Seconds waited")]
    Total: Annotated[int, Doc("Messages stored")]
    Messages: Annotated[list[MessageSummary], Doc("The ten newest messages")]


class RuntimeStats(TypedDict):
    """Process figures."""

    Memory: Annotated[int, Doc("Resident memory in bytes")]
    MessagesDeleted: Annotated[int, Doc("Messages deleted through this server")]
    SMTPAccepted: Annotated[int, Doc("Messages stored since this server started")]
    SMTPAcceptedSize: Annotated[int, Doc("Bytes of the messages stored since it started")]
    SMTPIgnored: Annotated[int, Doc("Always 0 (no duplicate filter)")]
    SMTPRejected: Annotated[int, Doc("Always 0 (the SMTP side counts its own refusals)")]
    Uptime: Annotated[int, Doc("Seconds since start")]


class AppInformation(TypedDict):
    """About this server."""

    Version: Annotated[str, Doc("mailcatcher version")]
    LatestVersion: Annotated[str, Doc("Always empty: this server fetches nothing")]
    Database: Annotated[str, Doc("The store's path")]
    DatabaseSize: Annotated[int, Doc("Bytes of stored messages")]
    Messages: Annotated[int, Doc("Messages stored")]
    Unread: Annotated[int, Doc("Unread messages")]
    Tags: Annotated[dict[str, int], Doc("Messages per tag")]
    RuntimeStats: RuntimeStats


class MessageRelay(TypedDict):
    """Mailpit's relay settings: relaying is off."""

    Enabled: bool
    SMTPServer: str
    ReturnPath: str
    AllowedRecipients: str
    BlockedRecipients: str
    OverrideFrom: str
    PreserveMessageIDs: bool
    RecipientAllowlist: str


class WebUIConfiguration(TypedDict):
    """Mailpit's web UI settings; relay, SpamAssassin and chaos are off."""

    Label: str
    MessageRelay: MessageRelay
    SpamAssassin: bool
    ChaosEnabled: bool
    DuplicatesIgnored: bool
    HideDeleteAllButton: bool


class InboxSummary(TypedDict):
    """An inbox: the AUTH login its mail was sent with ("default": none)."""

    Name: Annotated[str, Doc("The inbox's name")]
    Messages: Annotated[int, Doc("Messages in it")]
    URL: Annotated[str, Doc("Its base URL's path: /inbox/NAME/, NAME percent-encoded")]


class SetTagsRequest(TypedDict):
    """Replace the tags of messages (an empty Tags list removes them all)."""

    IDs: Annotated[list[str], Doc("Message IDs")]
    Tags: Annotated[list[str], Doc("Tags to set")]


class RenameTagRequest(TypedDict):
    """A tag's new name."""

    Name: Annotated[str, Doc("New name")]


class DeleteRequest(TypedDict, total=False):
    """IDs to delete (an empty list deletes none); no body, or no IDs, deletes all."""

    IDs: list[str]


class ReadStatusRequest(TypedDict, total=False):
    """Set read status of IDs, of a search's matches, or (neither) of all."""

    Read: bool
    IDs: list[str]
    Search: str


#: Header values by canonical name (``Message-Id``), names sorted: Mailpit's ``/headers``.
Headers: TypeAlias = Annotated[
    dict[str, list[str]], Doc("Header values by canonical name (Message-Id), names sorted")
]
#: The message's http(s) links, in order of first appearance.
Links: TypeAlias = Annotated[list[str], Doc("Links in order; nothing is fetched")]


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


def address(name: str, addr: str) -> Address:
    """Go's ``net/mail.Address``: ``{"Name": ..., "Address": ...}``."""
    return {"Name": name, "Address": addr}


def addresses(message: Mail, name: str) -> list[Address]:
    """The addresses in every `name` header of `message`, decoded; never raises."""
    found: list[Address] = []
    for text in header_texts(message, name):
        try:
            pairs = getaddresses([text])
        except Exception:  # the stdlib's address parser on malformed input: the sender's
            pairs = []
        found.extend(address(name, addr) for name, addr in pairs if addr)
    return found


def first_address(message: Mail, name: str, fallback: str) -> Address:
    """The first address of header `name`; the envelope `fallback` when it has none."""
    found = addresses(message, name)
    if found:
        return found[0]
    text = header(message, name)
    if text:
        return address(text, "")
    return address("", fallback)


def snippet(message: Mail) -> str:
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
    from_: Address
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    snippet: str


def bcc(entry: Entry, message: Mail) -> list[Address]:
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


def details(entry: Entry, message: Mail) -> Details:
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


def summary(entry: Entry, extra: Details, *, read: bool) -> MessageSummary:
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
        "Tags": list(entry.tags),
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
    messages: list[MessageSummary],
    tags: list[str],
) -> MessagesSummary:
    """Mailpit's ``MessagesSummary`` (with the legacy ``count`` its clients still read)."""
    return {
        "total": total,
        "unread": unread,
        "count": len(messages),
        "messages_count": matched,
        "messages_unread": matched_unread,
        "start": start,
        "tags": tags,
        "messages": messages,
    }


def attachment(part: Part) -> Attachment:
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


def _date(message: Mail, entry: Entry) -> str:
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


def list_unsubscribe(message: Mail) -> ListUnsubscribe:
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


def message(entry: Entry, parsed: EmailMessage) -> Message:
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
        "Tags": list(entry.tags),
        "Username": entry.auth_user or "",
        "Text": text,
        "HTML": html,
        "Size": entry.size,
        "Inline": [attachment(part) for part in files if part.attachment.inline],
        "Attachments": [attachment(part) for part in files if not part.attachment.inline],
    }


def envelope(entry: Entry) -> Envelope:
    """The SMTP envelope the catcher recorded: MAIL FROM, every RCPT TO, the AUTH login."""
    return {
        "MailFrom": entry.sender,
        "RcptTo": list(entry.recipients),
        "Username": entry.auth_user or "",
    }


def canonical_header_name(name: str) -> str:
    """Go's CanonicalMIMEHeaderKey: ``message-id`` becomes ``Message-Id``."""
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def headers(message: Mail) -> Headers:
    """Every header as Mailpit's ``/headers`` gives it: canonical names, sorted, values as sent."""
    found: dict[str, list[str]] = {}
    for name, value in raw_headers(message):
        found.setdefault(canonical_header_name(name), []).append(value)
    return dict(sorted(found.items()))
