"""Mailpit's v1 JSON API over the store: list, search, read, download, delete.

Paths, parameters, JSON shapes and plain-text answers (``ok``, error lines) follow
Mailpit (``server/apiv1`` and its swagger.json), so its clients work unchanged. Where
this differs, it is on the side of safety and says so: a part downloads as an
attachment, and a DELETE whose body is not JSON, or lists no IDs, is refused or deletes
nothing instead of deleting everything (`delete_messages`, which also serves MailHog's
delete-all, see `mailhog`).

Work that grows with a message (parsing it, walking its parts, finding its links,
encoding a large answer) runs in a worker thread (`Inbox.call`, `json_answer`): in
``mailcatcher serve`` the SMTP server shares the event loop, and must never wait for a
web request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import tzinfo
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from .. import message as message_helpers
from ..store import Entry
from . import safety, shapes
from .inbox import Inbox, MessageNotFound
from .search import Query, QueryError, parse_query, parse_time

INBOX = web.AppKey("inbox", Inbox)
#: The path prefix that serves one inbox: every route is served under it as well, and
#: ``{inbox}`` (percent-decoded) names the inbox (`inbox_of`).
INBOX_PREFIX = "/inbox/{inbox}"
#: Mailpit's default page size (``getStartLimit``).
DEFAULT_LIMIT = 50
#: Mailpit's 404 body for an unknown message ID.
MESSAGE_NOT_FOUND = "Message not found"
#: How long a client may take to send a request body (the JSON of a DELETE or PUT).
BODY_TIMEOUT = web.AppKey("body_timeout", float)

routes = web.RouteTableDef()


def inbox_of(request: web.Request) -> Inbox:
    """The `Inbox` a request is for: every handler gets its inbox here, and only here.

    Under ``/inbox/NAME/`` it is inbox NAME alone (any name: one nobody sent to yet is
    empty); elsewhere it is the whole store.
    """
    inbox = request.app[INBOX]
    name = request.match_info.get("inbox")
    return inbox if name is None else inbox.inbox(name)


def text(body: str, status: int = 200) -> web.Response:
    """A plain-text answer, as Mailpit gives ``ok`` and its errors."""
    return web.Response(text=body, status=status, content_type="text/plain", charset="utf-8")


async def json_answer(request: web.Request, build: Callable[[], object]) -> web.Response:
    """``web.json_response(build())``, built and encoded in a worker thread.

    A message's shape decodes its bodies and checksums its files, and a list of
    thousands of rows is a large document: neither is the event loop's work.
    """
    text = await inbox_of(request).call(lambda: json.dumps(build()))
    return web.Response(text=text, content_type="application/json")


def not_found(what: str = MESSAGE_NOT_FOUND) -> web.Response:
    """Mailpit's 404."""
    return text(what, 404)


def bad_request(reason: str) -> web.Response:
    """Mailpit's 400: the reason as plain text."""
    return text(reason, 400)


def _integer(request: web.Request, name: str, default: int) -> int:
    try:
        return int(request.query.get(name, default))
    except ValueError:
        return default


def start_limit(request: web.Request) -> tuple[int, int]:
    """``start`` and ``limit`` as Mailpit reads them: bad values mean the defaults."""
    start = max(0, _integer(request, "start", 0))
    limit = _integer(request, "limit", DEFAULT_LIMIT)
    return start, DEFAULT_LIMIT if limit < 0 else limit


def time_zone(request: web.Request) -> tzinfo | None:
    """The ``tz`` parameter (an IANA name) for dates in a search; ignored when unknown."""
    name = request.query.get("tz", "").strip()
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def query_of(request: web.Request, *, required: bool) -> Query:
    """The ``query`` parameter, parsed.

    Raises:
        QueryError: it is missing (and `required`) or cannot be read.
    """
    raw = request.query.get("query", "").strip()
    if required and not raw:
        raise QueryError("Error: no search query")
    return parse_query(raw, tz=time_zone(request))


async def _page(request: web.Request, query: Query | None, *, unlimited_zero: bool) -> web.Response:
    inbox = inbox_of(request)
    start, limit = start_limit(request)
    everything = await inbox.entries()
    matched = everything if query is None else await inbox.search(query, everything)
    before = request.query.get("before", "").strip()
    if before:
        try:
            moment = parse_time(before, tz=time_zone(request))
        except QueryError as error:
            return bad_request(str(error))
        matched = [entry for entry in matched if entry.stored < moment]
    # Mailpit's list treats limit=0 as "no limit"; its search returns nothing then.
    page = matched[start:] if limit == 0 and unlimited_zero else matched[start : start + limit]
    answer = shapes.messages_summary(
        total=len(everything),
        unread=inbox.unread(everything),
        matched=len(matched),
        matched_unread=inbox.unread(matched),
        start=start,
        messages=await inbox.summaries(page),
        tags=list(await inbox.tags()),
    )
    return await json_answer(request, lambda: answer)


@routes.get("/api/v1/messages")
async def list_messages(request: web.Request) -> web.Response:
    """Messages newest first, ``start`` and ``limit`` paging (Mailpit's GetMessages)."""
    return await _page(request, None, unlimited_zero=True)


@routes.get("/api/v1/search")
async def search_messages(request: web.Request) -> web.Response:
    """Messages matching ``query`` in Mailpit's search syntax, newest first."""
    try:
        query = query_of(request, required=True)
    except QueryError as error:
        return bad_request(str(error))
    return await _page(request, query, unlimited_zero=False)


def json_field(data: dict[str, Any], name: str) -> Any:
    """A JSON field matched case-insensitively, as Go's encoding/json matches them."""
    for key, value in data.items():
        if key.lower() == name.lower():
            return value
    return None


async def _body(request: web.Request) -> bytes:
    """The request's body, as sent.

    Raises:
        web.HTTPRequestTimeout: the body did not arrive within the app's `BODY_TIMEOUT`.
    """
    try:
        return await asyncio.wait_for(request.read(), request.app[BODY_TIMEOUT])
    except asyncio.TimeoutError:
        raise web.HTTPRequestTimeout(
            text="Error: the request body did not arrive in time"
        ) from None


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """`raw` as a JSON object; ``{}`` for an empty body, ``None`` when it is not one."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        # RecursionError: a thousand nested arrays (the decoder recurses per level) is
        # still not a JSON object this API reads; it gets the same 400 as any other.
        return None
    return data if isinstance(data, dict) else None


async def json_body(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object; ``{}`` for an empty body, ``None`` when it is not JSON.

    Raises:
        web.HTTPRequestTimeout: the body did not arrive within the app's `BODY_TIMEOUT`.
    """
    return _json_object(await _body(request))


def string_list(value: Any) -> list[str] | None:
    """A JSON list of strings as a list (``null``: none); ``None`` when it is not one."""
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


@routes.delete("/api/v1/messages")
async def delete_messages(request: web.Request) -> web.Response:
    """Delete what was asked for: Mailpit's ``{"IDs": [...]}``, or all for MailHog.

    One path, two APIs, and no client gets more deleted than it asked for:

    - no body: everything (MailHog's delete-all; Mailpit's too), answered with an empty
      body, as MailHog answers (its clients parse a body that is not empty as JSON, so
      Mailpit's ``ok`` made them fail after the store was emptied);
    - a JSON object: its ``IDs``, answered ``ok`` (Mailpit). ``{}`` (or ``"IDs": null``)
      means every message, as in Mailpit; an empty list deletes nothing, where Mailpit
      deletes everything (a client deleting the IDs a search found would empty the
      store when the search found none);
    - anything else (not JSON, not an object, IDs that are not strings, a field other
      than ``IDs``, as a misspelt ``"ID"``): 400 and nothing deleted, where Mailpit
      deletes everything.
    """
    raw = await _body(request)
    inbox = inbox_of(request)
    if not raw.strip():
        await inbox.clear()
        return web.Response(status=200)
    data = _json_object(raw)
    field = None if data is None else json_field(data, "IDs")
    ids = None if data is None else string_list(field)
    if ids is None or any(key.lower() != "ids" for key in data or ()):
        return bad_request(
            'Error: send {"IDs": ["..."]} to delete messages, or no body to delete all'
        )
    if field is None:
        await inbox.clear()
    elif ids:
        await inbox.delete(ids)
    return text("ok")


@routes.put("/api/v1/messages")
async def set_read_status(request: web.Request) -> web.Response:
    """Mark ``IDs``, a ``Search``'s matches, or everything read or unread."""
    data = await json_body(request)
    if data is None:
        return bad_request('Error: send {"Read": true, "IDs": ["..."]} as JSON')
    ids = string_list(json_field(data, "IDs"))
    search = json_field(data, "Search") or ""
    read = json_field(data, "Read")
    if ids is None or not isinstance(search, str) or not isinstance(read, (bool, type(None))):
        return bad_request('Error: "Read" is true or false, "IDs" a list of IDs, "Search" text')
    if ids and search:
        return bad_request("You may specify either IDs or a search query, not both")
    inbox = inbox_of(request)
    if search:
        try:
            query = parse_query(search, tz=time_zone(request))
        except QueryError as error:
            return bad_request(str(error))
        ids = [entry.id for entry in await inbox.search(query)]
    elif not ids:
        ids = [entry.id for entry in await inbox.entries()]
    inbox.mark_read(ids, bool(read))
    return text("ok")


@routes.delete("/api/v1/search")
async def delete_search(request: web.Request) -> web.Response:
    """Delete every message matching ``query``."""
    try:
        query = query_of(request, required=True)
    except QueryError as error:
        return bad_request(str(error))
    inbox = inbox_of(request)
    matched = await inbox.search(query)
    if matched:
        await inbox.delete([entry.id for entry in matched])
    return text("ok")


@dataclass(frozen=True)
class Loaded:
    """The message a request's path names: its entry and the message the store parsed."""

    entry: Entry
    parsed: EmailMessage


@contextlib.contextmanager
def _answering_lookup_errors() -> Iterator[None]:
    """Turn a missing message into Mailpit's 404 and an unreadable query into its 400.

    The bodies are what `not_found` and `bad_request` send: plain text, as Mailpit's.
    """
    try:
        yield
    except MessageNotFound:
        raise web.HTTPNotFound(text=MESSAGE_NOT_FOUND) from None
    except QueryError as error:
        raise web.HTTPBadRequest(text=str(error)) from None


async def _resolve(request: web.Request) -> str:
    """The path's message ID, with ``latest`` (optionally ``?query=``) resolved.

    Raises:
        MessageNotFound: no such message.
        QueryError: the ``query`` cannot be read.
    """
    query = query_of(request, required=False)
    return await inbox_of(request).resolve(request.match_info["ID"], query)


async def load(request: web.Request) -> Loaded:
    """The message the path's ``{ID}`` names (``latest`` resolved), read and parsed.

    Raises:
        web.HTTPNotFound: no such message.
        web.HTTPBadRequest: the ``query`` cannot be read.
    """
    with _answering_lookup_errors():
        id = await _resolve(request)
        entry, parsed = await inbox_of(request).read(id)
    return Loaded(entry, parsed)


async def load_bytes(request: web.Request) -> tuple[str, bytes]:
    """The ID and stored bytes of the message the path names, not parsed.

    For the source, which passes the bytes on: the message is neither looked up in
    the listing nor parsed for it.

    Raises:
        web.HTTPNotFound: no such message.
        web.HTTPBadRequest: the ``query`` cannot be read.
    """
    with _answering_lookup_errors():
        id = await _resolve(request)
        return id, await inbox_of(request).read_bytes(id)


@routes.get("/api/v1/message/{ID}")
async def get_message(request: web.Request) -> web.Response:
    """The message's headers, bodies and file list; marks it read, as Mailpit does."""
    loaded = await load(request)
    inbox = inbox_of(request)
    if not inbox.is_read(loaded.entry):
        inbox.mark_read([loaded.entry.id])
    return await json_answer(request, lambda: shapes.message(loaded.entry, loaded.parsed))


@routes.get("/api/v1/message/{ID}/headers")
async def get_headers(request: web.Request) -> web.Response:
    """Every header, names canonical and sorted, values as sent."""
    with _answering_lookup_errors():
        parsed = await inbox_of(request).message(await _resolve(request))
    return await json_answer(request, lambda: shapes.headers(parsed))


@routes.get("/api/v1/message/{ID}/envelope")
async def get_envelope(request: web.Request) -> web.Response:
    """The SMTP envelope (not in Mailpit): MAIL FROM, every RCPT TO, the AUTH login."""
    with _answering_lookup_errors():
        entry = await inbox_of(request).find(await _resolve(request))
    return web.json_response(shapes.envelope(entry))


@routes.get("/api/v1/message/{ID}/raw")
async def get_raw(request: web.Request) -> web.Response:
    """The message as stored, as plain text; ``?dl=1`` downloads it as ``ID.eml``."""
    id, data = await load_bytes(request)
    response = web.Response(body=data, content_type="text/plain", charset="utf-8")
    if request.query.get("dl") == "1":
        filename = safety.safe_filename(f"{id}.eml", "message.eml")
        response.headers["Content-Disposition"] = safety.content_disposition(filename)
    return response


@routes.get("/api/v1/message/{ID}/part/{PartID}")
async def get_part(request: web.Request) -> web.Response:
    """One attached or inline file, always as a download (never shown as a page)."""
    parsed = (await load(request)).parsed
    part = await inbox_of(request).call(
        message_helpers.find_part, parsed, request.match_info["PartID"]
    )
    if part is None:
        return not_found("Attachment not found")
    attachment = part.attachment
    fallback = f"part-{part.part_id}"
    filename = safety.safe_filename(attachment.filename or attachment.content_id or "", fallback)
    return web.Response(
        body=attachment.data,
        headers={
            "Content-Type": safety.safe_content_type(attachment.content_type),
            "Content-Disposition": safety.content_disposition(filename),
        },
    )


@routes.get("/api/v1/message/{ID}/links")
async def get_links(request: web.Request) -> web.Response:
    """The message's http(s) links, in order (not in Mailpit; nothing is fetched)."""
    parsed = (await load(request)).parsed
    return await json_answer(request, lambda: message_helpers.links(parsed))
