"""How many HTTP connections the inbox holds at once, and for how long.

Every connection is an open file, and in ``mailcatcher serve`` the SMTP server draws on
the same process's open-file limit (often 1,024): 1,100 idle HTTP connections once left
SMTP clients timing out. So the web side keeps two rules, as the SMTP side does
(``--idle-timeout``, ``--max-connections``):

- **Idle timeout.** A connection that has not sent a complete request head within
  `IDLE_TIMEOUT` seconds of opening, or of its last answer, is closed. This is aiohttp's
  keep-alive timeout, which it arms when a connection opens and which ends the wait for
  the whole request head: a silent client and a slow-loris one that sends a header a
  byte at a time are both closed. A request body has as long again (`api.BODY_TIMEOUT`).
- **Connection cap.** At most `MAX_CONNECTIONS` are open at once. The next is answered
  ``503`` and closed at once, before it is read, the way SMTP answers ``421`` past its
  cap. Open pages' live streams (``/api/events``) and long waits (``/api/v1/wait``)
  count: they hold a connection each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

#: Seconds a connection may spend without a complete request head (or a body).
IDLE_TIMEOUT = 30.0
#: Connections open at once; each is one open file, like each SMTP connection.
MAX_CONNECTIONS = 200
#: Connections the kernel queues before the server accepts them (aiohttp's default).
BACKLOG = 128

_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\n"
    b"Retry-After: 1\r\n"
    b"Content-Length: %d\r\n\r\n%b"
)


def refusal(max_connections: int) -> bytes:
    """The whole ``503`` answer to a connection past the cap."""
    text = (
        f"503 too many connections: this inbox serves {max_connections} at once "
        "(--http-max-connections); try again when some have closed\n"
    ).encode()
    return _REFUSAL % (len(text), text)


class _OneLineForBadRequests(logging.Filter):
    """aiohttp's log of a request it could not parse, as one line instead of a traceback.

    A request line over 8,190 bytes or a garbage request is the client's mistake: aiohttp
    answers it ``400`` and logs "Error handling request" with a full traceback, which
    reads like a crash of ours. The line keeps the client and aiohttp's reason.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            reason = str(error.message).splitlines()[0] if error.message else type(error).__name__
            said = record.getMessage()
            record.msg = "%s: answered %s, %s"
            record.args = (said, error.code, reason[:200])
            record.exc_info = None
            record.exc_text = None
        return True


_BAD_REQUESTS = _OneLineForBadRequests()


class CappedSite(web.BaseSite):
    """A TCP site (as `web.TCPSite`) that holds at most `max_connections` at once.

    aiohttp's sites take every connection the kernel hands them; this one counts them
    as they open and close, and answers the one past the cap itself, without creating
    an aiohttp request handler for it.
    """

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        max_connections: int = MAX_CONNECTIONS,
        backlog: int = BACKLOG,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self.max_connections = max_connections
        #: Connections open now (refused ones are never counted).
        self.open = 0
        #: What a connection past the cap gets before it is closed.
        self.busy_answer = refusal(max_connections)

    @property
    def name(self) -> str:
        """The site's URL, as `web.TCPSite` names it."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        """Listen; as `web.TCPSite.start`, with `Counted` around aiohttp's protocol."""
        logging.getLogger("aiohttp.server").addFilter(_BAD_REQUESTS)  # once: filters are a set
        await super().start()
        server = self._runner.server
        if server is None:
            raise RuntimeError("call runner.setup() before starting the site")
        # `_server` and `_backlog` are BaseSite's, for its subclasses (TCPSite sets them
        # too): stop() closes `_server`, and the runner reads its addresses from it.
        self._server = await asyncio.get_running_loop().create_server(
            lambda: Counted(self, server), self._host, self._port, backlog=self._backlog
        )

    def admit(self) -> bool:
        """Count one more connection, unless the cap is reached."""
        if self.open >= self.max_connections:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        """An admitted connection closed."""
        self.open -= 1


class Counted(asyncio.Protocol):
    """One connection: handed to aiohttp's protocol when admitted, refused otherwise."""

    def __init__(self, site: CappedSite, factory: Callable[[], asyncio.Protocol]) -> None:
        self._site = site
        self._factory = factory
        self._inner: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit the connection, or answer ``503`` and close it."""
        if not self._site.admit():
            # A TCP transport. Not an isinstance() check: uvloop's transports (serve's loop
            # when uvloop is installed) are not asyncio.WriteTransport instances, and the
            # client got no 503.
            cast(asyncio.WriteTransport, transport).write(self._site.busy_answer)
            transport.close()
            return
        self._inner = self._factory()
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forward, and free the connection's place."""
        if self._inner is not None:
            self._site.release()
            self._inner.connection_lost(exc)
            self._inner = None

    def data_received(self, data: bytes) -> None:
        """Forward (a refused connection's data is dropped)."""
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        """Forward."""
        return None if self._inner is None else self._inner.eof_received()

    def pause_writing(self) -> None:
        """Forward: aiohttp waits for a slow reader instead of buffering without bound."""
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        """Forward."""
        if self._inner is not None:
            self._inner.resume_writing()
