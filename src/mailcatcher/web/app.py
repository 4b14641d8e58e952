"""Putting the web side together: the aiohttp application and the running server.

aiohttp is the web server because it runs on the asyncio loop aiosmtpd already runs
on (``mailcatcher serve`` is one process, one loop) and comes from the same family
of libraries (aio-libs).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..faults import Faults
from ..store import StrPath
from . import chaos, checks, events, guard, inboxes, mailhog, openapi, pages, status, tags
from .api import BODY_TIMEOUT, INBOX, routes
from .connections import IDLE_TIMEOUT, MAX_CONNECTIONS, CappedSite
from .inbox import Inbox

# The handler modules register their routes on `routes` when imported.
_HANDLER_MODULES = (chaos, checks, events, inboxes, mailhog, openapi, pages, status, tags)
#: Request bodies here are small JSON objects; anything bigger is a mistake.
MAX_REQUEST_BODY = 1024 * 1024
#: How long closing waits for requests still running; streams are ended first.
SHUTDOWN_TIMEOUT = 2.0


def create_app(
    store_path: StrPath,
    *,
    basic_auth: tuple[str, str] | None = None,
    body_timeout: float = IDLE_TIMEOUT,
    chaos_faults: Faults | None = None,
) -> web.Application:
    """The inbox page and the API over the store at `store_path`.

    Also what aiohttp's test client takes: ``TestServer(create_app(path))``.

    Args:
        store_path: A `MailFile` file or a `MailDir` directory; it need not exist yet.
        basic_auth: ``(user, password)`` to require on every request, or ``None``.
        body_timeout: Seconds a client may take to send a request body.

    Raises:
        NotADirectoryError: `store_path` is a directory but not a Maildir.
    """
    inbox = Inbox(store_path)
    middlewares: list[Middleware] = [guard.loopback_host]
    if basic_auth is not None:
        middlewares.append(guard.basic_auth(*basic_auth))
    middlewares.append(guard.same_origin_changes)
    app = web.Application(middlewares=middlewares, client_max_size=MAX_REQUEST_BODY)
    app[INBOX] = inbox
    if chaos_faults is not None:
        app[chaos.CHAOS] = chaos_faults
    app[BODY_TIMEOUT] = body_timeout
    app.add_routes(routes)
    # Each inbox at /inbox/NAME/: the same routes again, the handlers' `inbox_of` does the rest.
    inboxes.add_routes(app, routes)
    app.router.add_static("/static/", pages.STATIC, append_version=False)
    app.on_response_prepare.append(guard.security_headers)

    async def start(app: web.Application) -> None:
        inbox.start()

    async def stop_streams(app: web.Application) -> None:
        # Before aiohttp waits for running handlers: end live streams and waits now.
        inbox.stop_waiting()

    async def close(app: web.Application) -> None:
        await inbox.close()

    app.on_startup.append(start)
    app.on_shutdown.append(stop_streams)
    app.on_cleanup.append(close)
    return app


@dataclass
class RunningWeb:
    """The web inbox, serving on `host`:`port` until `close()`."""

    host: str
    port: int
    _runner: web.AppRunner = field(repr=False)
    _inbox: Inbox = field(repr=False)

    @property
    def url(self) -> str:
        """The inbox page's address, e.g. ``http://127.0.0.1:8025/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def notify(self) -> None:
        """Wake live pages and waiting requests now: a message was stored.

        Safe to call from any thread (aiosmtpd handlers' listeners run where the
        server runs). Without it, changes are still seen within 0.1 s.
        """
        self._inbox.notify()

    async def close(self) -> None:
        """Stop listening, end live streams, release the store."""
        await self._runner.cleanup()


async def start_web(
    store_path: StrPath,
    host: str = "127.0.0.1",
    port: int = 8025,
    *,
    basic_auth: tuple[str, str] | None = None,
    chaos_faults: Faults | None = None,
    idle_timeout: float = IDLE_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> RunningWeb:
    """Serve the inbox page and the API on the running event loop.

    Args:
        store_path: A `MailFile` file or a `MailDir` directory; it need not exist yet.
        host: The address to listen on; loopback unless you mean to share the inbox
            (then set `basic_auth`).
        port: The port; 0 lets the system pick a free one (read it from `.port`).
        basic_auth: ``(user, password)`` to require on every request, or ``None``.
        idle_timeout: Close a connection that sends no complete request (head, or
            body) for this many seconds (`connections.IDLE_TIMEOUT`).
        max_connections: Connections open at once; the next is answered ``503``.

    Raises:
        OSError: the address cannot be listened on (in use, not local).
        NotADirectoryError: `store_path` is a directory but not a Maildir.
    """
    app = create_app(
        store_path, basic_auth=basic_auth, body_timeout=idle_timeout, chaos_faults=chaos_faults
    )
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        # aiohttp closes a connection whose request head has not arrived this long
        # after it opened or after its last answer: silent and slow-loris clients alike.
        keepalive_timeout=idle_timeout,
    )
    await runner.setup()
    try:
        site = CappedSite(runner, host, port, max_connections=max_connections)
        await site.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await runner.cleanup()
        raise
    address = runner.addresses[0]
    return RunningWeb(host=str(address[0]), port=int(address[1]), _runner=runner, _inbox=app[INBOX])
