"""MailHog's JSON API over the store, so MailHog's clients work unchanged.

Paths, parameters and JSON shapes are MailHog's (``MailHog-Server/api/v1.go`` and
``v2.go``; the message is ``mailhog/data``'s ``Message``; search and paging are
``mailhog/storage``'s ``InMemory``): ``GET /api/v2/messages``, ``GET /api/v2/search``,
``GET /api/v1/messages/{ID}`` and its ``/download``, ``DELETE /api/v1/messages/{ID}``
and the refused ``POST /api/v1/messages/{ID}/release``. MailHog answers a delete with
an empty body, and its clients parse any body that is not empty as JSON, so every error
here is JSON too.

Two paths are shared with Mailpit's API (`api`). ``DELETE /api/v1/messages`` serves both
there: a request without a body is MailHog's delete-all. ``GET /api/v1/messages`` cannot:
Mailpit's clients and MailHog's v1 clients send the same request and want different
answers (an object, an array), so Mailpit keeps it, and the whole MailHog API is served
again under `BASE` (``/mailhog/api/...``), where ``GET /mailhog/api/v1/messages`` is
MailHog's array. A MailHog client with a base path setting (MailHog's own ``-ui-web-path``)
is pointed there.

A message is shown as MailHog shows it: the DATA the client sent, cut where MailHog cuts
it (`content`, `mime`). That cutting is MailHog's rule, not a MIME parse, and it is kept
on purpose: MailHog's clients index ``MIME.Parts`` as MailHog numbered them (a preamble is
a part, and so is the closing ``--``). What a message *is* (its envelope, its decoded text
for a search) still comes from the store and the query core, as on every other surface.
The work is bounded: a page holds at most `MAX_LIMIT` messages and about `PAGE_BYTES` of
them, and one message's parts at most `MAX_PARTS`, `MAX_NESTING` deep, `PARTS_FACTOR`
times its body in all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from email.message import Message as Compat32Message
from typing import Annotated, TypedDict

from aiohttp import web

from ..message import fold
from ..store import ENVELOPE_HEADERS, MAX_NESTING, Entry, Store
from . import safety
from .api import delete_messages, inbox_of, json_answer, routes
from .inbox import MessageNotFound
from .search import Query, Term
from .shapes import Doc, iso_time

#: Where the whole MailHog API is served again, ``GET /api/v1/messages`` included.
BASE = "/mailhog"
#: MailHog's page size and its largest (``getStartLimit`` in ``api/v2.go``).
DEFAULT_LIMIT = 50
MAX_LIMIT = 250
#: MailHog's v1 list has no paging; it answers the newest 1000 (``List(0, 1000)``).
V1_LIMIT = 1000
#: A page stops once it holds this many stored bytes (it always holds one message): a
#: MailHog message carries its text two or three times, and 250 messages of 32 MiB
#: would be a 20 GB answer. ``count`` says how many came; the next ``start`` follows.
PAGE_BYTES = 16 * 1024 * 1024
#: The most parts one message is cut into, and how much text (a multiple of its body,
#: plus `PARTS_SLACK`) its parts may hold together. Real mail nests three or four levels
#: (mixed > alternative > related > image), each level holding its children's text; a
#: hostile message of a million boundaries, or 64 levels each holding the whole body,
#: would otherwise turn 32 MiB into gigabytes of JSON.
MAX_PARTS = 1000
PARTS_FACTOR = 4
PARTS_SLACK = 64 * 1024
#: Search kinds and the query field each one matches (`search.Term`). ``to`` and
#: ``from`` look at the envelope and the header, as MailHog's ``Search`` does;
#: ``containing`` is the free-text search: the decoded body, subject and addresses.
KINDS = {"from": "from", "to": "to", "containing": "text"}
RELEASE_REFUSED = (
    "mailcatcher does not send mail: release is not supported. Read the message with "
    "GET /api/v1/messages/{ID}/download and send it yourself."
)


# --- the shapes (MailHog's Go types, field for field, in their order) ------------------


class MailHogPath(TypedDict):
    """An SMTP path (``data.Path``): ``@relay:mailbox@domain`` in parts."""

    Relays: Annotated[list[str] | None, Doc("Source-route relays, or null")]
    Mailbox: Annotated[str, Doc("Local part")]
    Domain: Annotated[str, Doc("Domain")]
    Params: Annotated[str, Doc("Always empty (as MailHog)")]


class MailHogMIME(TypedDict):
    """The parts of a multipart (``data.MIMEBody``), cut at its boundary."""

    Parts: Annotated[list[MailHogContent], Doc("Parts in order; a preamble is a part")]


class MailHogContent(TypedDict):
    """Headers and body (``data.Content``); a part has the same shape."""

    Headers: Annotated[dict[str, list[str]], Doc("Name (as sent) to raw values, unfolded")]
    Body: Annotated[str, Doc("The body, still transfer-encoded")]
    Size: Annotated[int, Doc("Bytes of headers and body")]
    MIME: Annotated[MailHogMIME | None, Doc("A multipart part's parts, else null")]


class MailHogRaw(TypedDict):
    """The SMTP transaction (``data.SMTPMessage``)."""

    From: Annotated[str, Doc("MAIL FROM")]
    To: Annotated[list[str], Doc("Every RCPT TO")]
    Data: Annotated[str, Doc("The DATA as sent (CRLF line endings)")]
    Helo: Annotated[str, Doc("Always empty: the catcher does not record HELO")]


class MailHogMessage(TypedDict):
    """A message as MailHog writes it (``data.Message``)."""

    ID: Annotated[str, Doc("Message ID")]
    From: MailHogPath
    To: Annotated[list[MailHogPath], Doc("Envelope recipients")]
    Content: Annotated[MailHogContent, Doc("The message; its MIME is always null")]
    Created: Annotated[str, Doc("When it was stored (RFC 3339)", format="date-time")]
    MIME: Annotated[MailHogMIME | None, Doc("A multipart message's parts, else null")]
    Raw: MailHogRaw


class MailHogMessages(TypedDict):
    """A page of messages, newest first (``messagesResult`` in ``api/v2.go``)."""

    total: Annotated[int, Doc("Messages in the store (v2/messages) or matching (v2/search)")]
    count: Annotated[int, Doc("Messages on this page")]
    start: Annotated[int, Doc("Pagination offset")]
    items: list[MailHogMessage]


class MailHogError(TypedDict):
    """Why a MailHog request was refused (MailHog itself sends no body)."""

    error: Annotated[str, Doc("The reason")]


# --- a stored message, as MailHog shows it -----------------------------------------------


def received_data(stored: bytes) -> bytes:
    """The DATA as the client sent it: `stored` without our envelope headers, in CRLF.

    The catcher adds X-Peer, X-MailFrom, X-RcptTo and X-Mailcatcher-Auth-User (after
    removing any copies the client sent): they are the server's, not the sender's, and
    MailHog shows the envelope in ``From``, ``To`` and ``Raw`` instead. The store writes
    LF line endings; SMTP carried CRLF (RFC 5321 2.3.8), which is what MailHog keeps.
    """
    text = stored.replace(b"\r\n", b"\n")
    head, blank, body = text.partition(b"\n\n")
    ours = {name.lower().encode() for name in ENVELOPE_HEADERS}
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):  # a folded line belongs to the field above
            if not dropping:
                kept.append(line)
            continue
        dropping = line.partition(b":")[0].strip().lower() in ours
        if not dropping:
            kept.append(line)
    return (b"\n".join(kept) + blank + body).replace(b"\n", b"\r\n")


def path(address: str) -> MailHogPath:
    """An envelope address as MailHog splits it (``PathFromString``).

    A source route (``@a,@b:eva@example.com``, RFC 5321 4.1.2) gives the relays; the
    domain is after the last ``@`` (MailHog splits at the first, which breaks a quoted
    local part holding one).
    """
    relays: list[str] | None = None
    if address.startswith("@") and ":" in address:
        route, _, address = address.partition(":")
        relays = route.split(",")
    mailbox, at, domain = address.rpartition("@")
    if not at:
        mailbox, domain = address, ""
    return {"Relays": relays, "Mailbox": mailbox, "Domain": domain, "Params": ""}


#: A header field's first line (RFC 5322 2.2: printable characters but the colon, then a
#: colon). MailHog requires ": "; a field without the space is read too.
_FIELD = re.compile(r"([\x21-\x39\x3b-\x7e]+):[ ]?(.*)", re.DOTALL)
_CONTENT_TYPE = "content-type"


def _utf8(escaped: str) -> str:
    """Text the stdlib decoded with ``surrogateescape`` as UTF-8, bad bytes as U+FFFD.

    Go's encoding/json writes a string's invalid UTF-8 the same way.
    """
    return escaped.encode("ascii", "surrogateescape").decode("utf-8", "replace")


class _Budget:
    """What is left of one message's parts: how many, and how much text."""

    def __init__(self, body: str) -> None:
        self.parts = MAX_PARTS
        self.chars = PARTS_FACTOR * len(body) + PARTS_SLACK

    def take(self, piece: str) -> bool:
        """Count `piece` as a part; ``False`` when none is left for it."""
        if self.parts <= 0 or len(piece) > self.chars:
            self.parts = 0
            return False
        self.parts -= 1
        self.chars -= len(piece)
        return True


def content(text: str) -> tuple[MailHogContent, str, str]:
    """MailHog's ``ContentFromString``: headers up to the first blank line, then the body.

    `text` is CRLF text with undecodable bytes as surrogate escapes, so that ``Size``
    counts bytes as MailHog (Go) does. Folded lines are joined without their CRLF, as
    MailHog joins them; every value of a repeated field is kept (MailHog keeps the last,
    a known TODO in its code). Returns the content (``MIME`` not yet set), its
    content-type (empty when there is none) and its body, still escaped.
    """
    head, blank, body = text.partition("\r\n\r\n")
    fields: dict[str, list[str]] = {}
    content_type = ""
    if blank:
        values: list[str] | None = None
        for line in head.split("\r\n"):
            if values is not None and line[:1] in (" ", "\t"):
                values[-1] += line
                continue
            field = _FIELD.fullmatch(line)
            if field is None:
                values = None  # not a header line (MailHog logs and skips it)
                continue
            values = fields.setdefault(field[1], [])
            values.append(field[2])
        for name, found in fields.items():
            if name.lower() == _CONTENT_TYPE:
                content_type = found[0]
                break
    else:
        body = text
    shown = {_utf8(name): [_utf8(value) for value in fields[name]] for name in sorted(fields)}
    made: MailHogContent = {"Headers": shown, "Body": _utf8(body), "Size": len(text), "MIME": None}
    return made, content_type, body


def _boundary(content_type: str) -> str:
    """The ``boundary`` parameter of a content-type, or ``""``; never raises."""
    view = Compat32Message()  # compat32 splits parameters as strings, and never raises
    view["Content-Type"] = content_type
    try:
        return str(view.get_boundary() or "")
    except Exception:  # a parameter the stdlib cannot decode: the sender's to get wrong
        return ""


def _is_multipart(content_type: str) -> bool:
    return content_type.strip().lower().startswith("multipart/")


def _pieces(body: str, delimiter: str) -> Iterator[str]:
    """``strings.Split(body, delimiter)``, one piece at a time (a million never at once)."""
    start = 0
    while True:
        end = body.find(delimiter, start)
        if end < 0:
            yield body[start:]
            return
        yield body[start:end]
        start = end + len(delimiter)


def mime(content_type: str, body: str, budget: _Budget, depth: int = 1) -> MailHogMIME:
    """MailHog's ``ParseMIMEBody``: the body cut at each ``--boundary``.

    As MailHog: every non-empty piece is a part, CR and LF trimmed from both ends, so a
    preamble is a part and so is the ``--`` that closes the multipart; a part that is a
    multipart is cut in turn. Beyond `MAX_NESTING` levels or the `budget`, cutting stops
    (the text is still in the enclosing ``Body``). MailHog writes ``null`` for a
    multipart without a boundary; an empty list is sent, which its clients can iterate.
    """
    boundary = _boundary(content_type)
    parts: list[MailHogContent] = []
    if not boundary:
        return {"Parts": parts}
    for piece in _pieces(body, "--" + boundary):
        if not piece:
            continue
        if not budget.take(piece):
            break
        part, part_type, inner = content(piece.strip("\r\n"))
        if _is_multipart(part_type) and depth < MAX_NESTING:
            part["MIME"] = mime(part_type, inner, budget, depth + 1)
        parts.append(part)
    return {"Parts": parts}


def message(entry: Entry, stored: bytes) -> MailHogMessage:
    """The MailHog ``Message`` of a stored message; never raises for malformed mail.

    ``From`` and ``To`` are the envelope the server recorded (`Entry`), never the
    headers. MailHog adds ``Received``, ``Return-Path`` and (when missing) ``Message-ID``
    headers of its own; the catcher adds none, so ``Content.Headers`` are the sender's.
    """
    text = received_data(stored).decode("ascii", "surrogateescape")
    made, content_type, body = content(text)
    parts: MailHogMIME | None = None
    if _is_multipart(content_type):
        parts = mime(content_type, body, _Budget(body))
    return {
        "ID": entry.id,
        "From": path(entry.sender),
        "To": [path(recipient) for recipient in entry.recipients],
        "Content": made,
        "Created": iso_time(entry.stored),
        "MIME": parts,
        "Raw": {
            "From": entry.sender,
            "To": list(entry.recipients),
            "Data": _utf8(text),
            "Helo": "",
        },
    }


def page(store: Store, entries: Sequence[Entry], limit: int) -> list[MailHogMessage]:
    """The MailHog messages of the first `limit` of `entries`, within `PAGE_BYTES`.

    Reads each message's bytes; blocks (run it in a worker thread). A message deleted
    since it was listed is left out.
    """
    items: list[MailHogMessage] = []
    used = 0
    for entry in entries:
        if len(items) >= limit or (items and used + entry.size > PAGE_BYTES):
            break
        try:
            stored = store.read_bytes(entry.id)
        except (KeyError, ValueError, OSError):
            continue  # deleted meanwhile, or no longer a message file
        used += len(stored)
        items.append(message(entry, stored))
    return items


# --- the routes --------------------------------------------------------------------------


def error(status: int, reason: str) -> web.Response:
    """A refusal with its reason as JSON: MailHog's clients parse any body as JSON."""
    answer: MailHogError = {"error": reason}
    return web.json_response(answer, status=status)


def start_limit(request: web.Request) -> tuple[int, int]:
    """``start`` and ``limit`` as MailHog reads them: unreadable or not positive means
    the default, and ``limit`` is at most `MAX_LIMIT`."""

    def positive(name: str) -> int | None:
        try:
            number = int(request.query.get(name, ""))
        except ValueError:
            return None
        return number if number > 0 else None

    return positive("start") or 0, min(positive("limit") or DEFAULT_LIMIT, MAX_LIMIT)


async def _answer_page(request: web.Request, entries: list[Entry], total: int) -> web.Response:
    inbox = inbox_of(request)
    start, limit = start_limit(request)

    def build() -> MailHogMessages:
        items = page(inbox.store(), entries[start:], limit)
        return {"total": total, "count": len(items), "start": start, "items": items}

    return await json_answer(request, build)


async def list_messages(request: web.Request) -> web.Response:
    """Messages newest first, ``start`` and ``limit`` paging (v2)."""
    entries = await inbox_of(request).entries()
    return await _answer_page(request, entries, len(entries))


async def search_messages(request: web.Request) -> web.Response:
    """Messages whose sender, recipients or text hold ``query`` (v2), newest first."""
    kind = request.query.get("kind", "").lower()  # the PyPI client documents "To", "From"
    text = request.query.get("query", "")
    if kind not in KINDS:
        return error(400, f"kind must be from, to or containing, not {kind!r}")
    if not text:
        return error(400, "query is empty: give the text to search for")
    inbox = inbox_of(request)
    entries = await inbox.entries()
    wanted = Query((Term(KINDS[kind], fold(text)),), text)
    matched = await inbox.search(wanted, entries)
    return await _answer_page(request, matched, len(matched))


async def list_v1(request: web.Request) -> web.Response:
    """The newest messages as a JSON array (v1; served under `BASE` only)."""
    inbox = inbox_of(request)
    entries = await inbox.entries()
    return await json_answer(request, lambda: page(inbox.store(), entries, V1_LIMIT))


async def _load(request: web.Request) -> tuple[Entry, bytes]:
    """The entry and stored bytes of the message the path names.

    Raises:
        MessageNotFound: no such message.
    """
    inbox = inbox_of(request)
    id = request.match_info["ID"]
    entry = await inbox.find(id)
    return entry, await inbox.read_bytes(id)


async def get_message(request: web.Request) -> web.Response:
    """One message (v1)."""
    try:
        entry, stored = await _load(request)
    except MessageNotFound:
        return error(404, "message not found")
    return await json_answer(request, lambda: message(entry, stored))


async def download(request: web.Request) -> web.Response:
    """The message as the client sent it, as ``ID.eml`` (v1)."""
    try:
        entry, stored = await _load(request)
    except MessageNotFound:
        return error(404, "message not found")
    data = await inbox_of(request).call(received_data, stored)
    filename = safety.safe_filename(f"{entry.id}.eml", "message.eml")
    return web.Response(
        body=data,
        headers={
            "Content-Type": "message/rfc822",
            "Content-Disposition": safety.content_disposition(filename),
        },
    )


async def delete_message(request: web.Request) -> web.Response:
    """Delete one message; MailHog's answer is empty (v1)."""
    inbox = inbox_of(request)
    try:
        entry = await inbox.find(request.match_info["ID"])
    except MessageNotFound:
        return error(404, "message not found")
    await inbox.delete([entry.id])
    return web.Response(status=200)


async def release(request: web.Request) -> web.Response:
    """MailHog's release (send the message on over SMTP): refused, the catcher sends none."""
    return error(501, RELEASE_REFUSED)


def _register() -> None:
    """Add MailHog's routes at the root and under `BASE`.

    At the root, ``GET /api/v1/messages`` is Mailpit's and ``DELETE /api/v1/messages``
    (`api.delete_messages`) serves both APIs; under `BASE` both are MailHog's.
    """
    for base in ("", BASE):
        routes.get(f"{base}/api/v2/messages")(list_messages)
        routes.get(f"{base}/api/v2/search")(search_messages)
        routes.get(f"{base}/api/v1/messages/{{ID}}")(get_message)
        routes.get(f"{base}/api/v1/messages/{{ID}}/download")(download)
        routes.delete(f"{base}/api/v1/messages/{{ID}}")(delete_message)
        routes.post(f"{base}/api/v1/messages/{{ID}}/release")(release)
    routes.get(f"{BASE}/api/v1/messages")(list_v1)
    routes.delete(f"{BASE}/api/v1/messages")(delete_messages)


_register()
