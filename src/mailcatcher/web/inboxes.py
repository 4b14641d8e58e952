"""Inboxes over HTTP: every route again under ``/inbox/NAME/``, and the list of inboxes.

An inbox is the AUTH login mail was sent with (``default`` without one; `store.inbox_name`).
``/inbox/NAME/`` is a complete base URL holding that inbox alone, so a Mailpit client
pointed at it works unchanged, per inbox: the page, every ``api/v1`` route, the event
stream, the wait. aiohttp has no sub-application with a variable prefix, so `add_routes`
registers each route of the handler modules a second time under `api.INBOX_PREFIX`, and
`api.inbox_of` gives the handler that inbox's `Inbox` (the one way a handler gets one).
Static files stay at ``/static/``.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from . import shapes
from .api import INBOX, INBOX_PREFIX, routes

#: Where the list of inboxes is served.
INBOXES_PATH = "/api/v1/inboxes"


def inbox_path(name: str) -> str:
    """The path of inbox `name`'s base URL: ``/inbox/NAME/``, NAME percent-encoded.

    A name of dots alone is encoded too: ``/inbox/../`` would mean the root to every
    client that normalizes paths (RFC 3986, section 5.2.4), ``/inbox/%2E%2E/`` does not.
    """
    segment = quote(name, safe="")
    if not segment.strip("."):
        segment = segment.replace(".", "%2E")
    return f"/inbox/{segment}/"


def add_routes(app: web.Application, table: web.RouteTableDef) -> None:
    """Serve every route of `table` under `api.INBOX_PREFIX` too; redirect ``/inbox/NAME``.

    ``/inbox/NAME`` goes on to ``/inbox/NAME/``: the page's links are relative to it.
    """
    app.add_routes(
        web.RouteDef(route.method, INBOX_PREFIX + route.path, route.handler, route.kwargs)
        for route in table
        if isinstance(route, web.RouteDef)
    )
    app.router.add_get(INBOX_PREFIX, _add_slash)


async def _add_slash(request: web.Request) -> web.StreamResponse:
    """``/inbox/NAME`` → ``/inbox/NAME/``: the page's links are relative to its base."""
    location = request.rel_url.raw_path + "/"
    if request.rel_url.raw_query_string:
        location += "?" + request.rel_url.raw_query_string
    raise web.HTTPPermanentRedirect(location)


@routes.get(INBOXES_PATH)
async def list_inboxes(request: web.Request) -> web.Response:
    """Every inbox that holds mail, by name, with its message count and base URL.

    The whole server's list, also under ``/inbox/NAME/`` (the page's inbox switcher asks
    it there): names and counts, never another inbox's messages.
    """
    counts = await request.app[INBOX].inboxes()
    answer: list[shapes.InboxSummary] = [
        {"Name": name, "Messages": count, "URL": inbox_path(name)} for name, count in counts.items()
    ]
    return web.json_response(answer)
