"""Helpers for the web tests: messages as the catcher stores them, a test client."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ParamSpec

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailcatcher.store import Entry, MaildirStore
from mailcatcher.web import create_app

P = ParamSpec("P")


def async_test(function: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test function in its own event loop (pytest-aiohttp is not used)."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(function(*args, **kwargs))

    return run


def mail(
    subject: str = "Hello",
    *,
    sender: str = "App <app@example.com>",
    to: Iterable[str] = ("Eva <eva@example.com>",),
    envelope_to: Iterable[str] | None = None,
    text: str | None = "Hello Eva, see https://example.com/welcome",
    html: str | None = None,
    files: Iterable[tuple[str, str, bytes]] = (),
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A message with the envelope headers the catcher writes."""
    to = list(to)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message["X-MailFrom"] = sender.rpartition("<")[2].rstrip(">")
    bare = [address.rpartition("<")[2].rstrip(">") for address in to]
    recipients = bare if envelope_to is None else list(envelope_to)
    message["X-RcptTo"] = ", ".join(recipients)
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    for filename, content_type, data in files:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def add(path: Path, *messages: EmailMessage) -> list[Entry]:
    """Store `messages` in the Maildir at `path` (created if missing), oldest first."""
    with MaildirStore(path, create=True) as store:
        return [store.add(message) for message in messages]


def add_inline_image(message: EmailMessage, content_id: str, data: bytes) -> None:
    """Attach `data` as a PNG the HTML part refers to as ``cid:content_id``."""
    for part in message.walk():
        if part.get_content_type() == "text/html" and isinstance(part, EmailMessage):
            part.add_related(data, maintype="image", subtype="png", cid=f"<{content_id}>")
            return
    raise ValueError("the message has no HTML part")


@contextlib.asynccontextmanager
async def client(
    path: Path, *, basic_auth: tuple[str, str] | None = None
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """aiohttp's test client on the inbox app over `path`, on 127.0.0.1."""
    server = TestServer(create_app(path, basic_auth=basic_auth), host="127.0.0.1")
    async with TestClient(server) as test_client:
        yield test_client
