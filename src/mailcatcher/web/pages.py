"""The inbox page, its static files, and the message previews it frames.

``/view/{ID}.html`` is Mailpit's path for a message's HTML; here it is always the
cleaned HTML (`safety.clean_html`) under the preview policy, with inline ``cid:``
images embedded as ``data:`` URIs, so the sandboxed frame needs nothing from this
server. ``?remote=1`` lets that one answer load remote images.

Both previews are built in a worker thread (`Inbox.call`): decoding, embedding images and
cleaning with nh3 grow with the message, and the SMTP server shares the event loop.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from aiohttp import web

from ..message import html_body, html_to_text, parts, text_body
from . import safety
from .api import inbox_of, load, not_found, routes

STATIC = Path(__file__).parent / "static"


@routes.get("/")
async def index(request: web.Request) -> web.FileResponse:
    """The inbox page."""
    return web.FileResponse(
        STATIC / "index.html",
        headers={"Content-Security-Policy": safety.PAGE_CSP, "Cache-Control": "no-cache"},
    )


def _cleaned_html(parsed: EmailMessage) -> str | None:
    """The preview document of `parsed`'s HTML body; ``None`` when it has none. Blocks."""
    html = html_body(parsed)
    if html is None:
        return None
    images = {
        part.attachment.content_id.lower(): safety.data_uri(
            part.attachment.content_type, part.attachment.data
        )
        for part in parts(parsed)
        if part.attachment.content_id and part.attachment.content_type.startswith("image/")
    }
    return safety.preview_document(safety.clean_html(html, images))


def _text(parsed: EmailMessage) -> str:
    """`parsed`'s text body, or its HTML as text when it has none. Blocks."""
    body = text_body(parsed)
    if body is None:
        html = html_body(parsed)
        body = html_to_text(html) if html else ""
    return body


@routes.get("/view/{ID}.html")
async def view_html(request: web.Request) -> web.Response:
    """A message's HTML body, cleaned, for the page's sandboxed frame (or a test)."""
    parsed = (await load(request)).parsed
    document = await inbox_of(request).call(_cleaned_html, parsed)
    if document is None:
        return not_found("This message does not contain a HTML part")
    remote = request.query.get("remote") == "1"
    return web.Response(
        text=document,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": safety.preview_csp(remote_images=remote),
            # The page frames it; no other site may.
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


@routes.get("/view/{ID}.txt")
async def view_text(request: web.Request) -> web.Response:
    """A message's text body (its HTML as text when it has none)."""
    parsed = (await load(request)).parsed
    body = await inbox_of(request).call(_text, parsed)
    return web.Response(text=body, content_type="text/plain", charset="utf-8")
