"""Running a catcher in-process: an aiosmtpd SMTP server on a loopback port the OS picks.

`start_smtp` runs the server on the caller's asyncio loop (the ``mailcatcher serve``
command); `ThreadedSMTP` runs it on a loop of its own in a daemon thread (the pytest
plugin). Both accept AUTH PLAIN and LOGIN with any credentials on the plain connection,
offer STARTTLS with a throwaway certificate on request, and enforce limits that keep a
misbehaving client from exhausting the machine.

Why not aiosmtpd's `Controller`: it binds, then proves readiness by connecting to the
*configured* port. Configured with port 0 (let the OS pick), that probe connects to port
0 and fails, so callers guess a "free" port, which races with every other process and
with parallel test workers. Here the server binds port 0 and reads the port back from
its own listening socket: no guess, no race, no probe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import types
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from aiosmtpd.smtp import (
    MISSING,
    SMTP,
    AuthResult,
    Envelope,
    Session,
    TLSSetupException,
    _AuthMechAttr,
    syntax,
)

from .faults import Fault, Faults

__all__ = [
    "DEFAULT_DATA_SIZE_LIMIT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RECIPIENTS",
    "DEFAULT_TIMEOUT",
    "TLS_EXTRA",
    "RunningSMTP",
    "ServerOptions",
    "ThreadedSMTP",
    "start_smtp",
]

_T = TypeVar("_T")

log = logging.getLogger("mailcatcher.server")
# aiosmtpd's logger: `_Blueprint` logs what aiosmtpd's constructor would.
_aiosmtpd_log = logging.getLogger("mail.log")

#: 32 MiB, aiosmtpd's own default; a message over it is refused with ``552``.
DEFAULT_DATA_SIZE_LIMIT = 32 * 1024 * 1024
#: RFC 5321 4.5.3.1.8 asks a server to accept at least 100 recipients per message.
DEFAULT_MAX_RECIPIENTS = 1000
#: Seconds a connection may sit idle before the server closes it.
DEFAULT_TIMEOUT = 60.0
#: Connections served at once; more are refused with ``421``.
DEFAULT_MAX_CONNECTIONS = 200
#: What to do when STARTTLS is asked for but the certificate maker is missing.
TLS_EXTRA = "STARTTLS needs the tls extra: pip install 'aiosmtpd-mailcatcher[tls]'"

#: The environment variable that picks the event loop of `mailcatcher serve` and of the
#: pytest fixture's server: ``auto`` (the default: uvloop when it is installed), ``asyncio``
#: or ``uvloop``.
LOOP_ENV = "MAILCATCHER_LOOP"
LOOPS = ("auto", "asyncio", "uvloop")
#: What to do when uvloop is asked for but missing.
UVLOOP_EXTRA = (
    f"{LOOP_ENV}=uvloop needs the uvloop extra: pip install 'aiosmtpd-mailcatcher[uvloop]'"
)

# The name in the greeting and EHLO reply. The server only listens on loopback, where
# "localhost" is the truth; asking socket.getfqdn() instead (aiosmtpd's default, on
# every connection) can wait seconds on a machine with slow DNS.
_HOSTNAME = "localhost"
# How long close() waits for aborted connections and their tasks to finish.
_CLOSE_TIMEOUT = 5.0


@dataclass
class ServerOptions:
    """How to run the SMTP server; every field has a safe default for tests."""

    host: str = "127.0.0.1"
    #: 0 lets the OS pick a free port; read the bound one from `RunningSMTP.port`.
    port: int = 0
    #: Offer STARTTLS with a throwaway certificate (needs the ``tls`` extra).
    tls: bool = False
    #: Refuse MAIL until the client has logged in (any user name and password do).
    auth_required: bool = False
    #: Largest message accepted, in bytes; ``None`` or 0 for no limit.
    data_size_limit: int | None = DEFAULT_DATA_SIZE_LIMIT
    #: Recipients accepted per message; more get ``452 4.5.3``.
    max_recipients: int = DEFAULT_MAX_RECIPIENTS
    #: Seconds of client silence before the server hangs up.
    timeout: float = DEFAULT_TIMEOUT
    #: Connections served at once; more get ``421 4.3.2`` and are closed.
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    #: Accept RFC 6531 internationalized addresses and headers.
    enable_SMTPUTF8: bool = True
    #: Faults queued when the server starts (`mailcatcher.faults`); the pytest fixture
    #: queues them again for each test instead.
    faults: Sequence[Fault] = ()
    #: The pytest fixture points Django's mail settings at the server during each test
    #: (when the app configured Django); no effect elsewhere.
    django: bool = True

    def check(self) -> None:
        """Raise `ValueError` naming the first option that cannot work."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
        if self.data_size_limit is not None and self.data_size_limit < 0:
            raise ValueError(
                f"data_size_limit must be 0 or more (0 for no limit), got {self.data_size_limit}"
            )
        if self.max_recipients < 1:
            raise ValueError(f"max_recipients must be at least 1, got {self.max_recipients}")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {self.max_connections}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be more than 0 seconds, got {self.timeout}")
        for fault in self.faults:
            if not isinstance(fault, Fault):
                raise ValueError(
                    f"faults holds mailcatcher.faults.Fault values "
                    f"(Fault.fail('RCPT', '550 5.1.1 No such user')), got {fault!r}"
                )


def _accept_any(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """An aiosmtpd authenticator that lets everyone in and keeps the login.

    A catcher exists to accept what an app sends; an app configured with credentials
    logs in first, and a test wants to see which user name it used (the catcher
    records it as ``X-Mailcatcher-Auth-User``).
    """
    return AuthResult(success=True, auth_data=auth_data)


class _Session(Session):
    """aiosmtpd's session without the deprecation warning it logs at every login.

    aiosmtpd's ``smtp_AUTH`` itself sets the deprecated ``login_data``, and the
    property logs "Session.login_data is deprecated" each time: noise in every test
    that logs in, about code that is not the user's.
    """

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


#: An address as written on the wire with nothing around it: no spaces, comments,
#: brackets, commas or quotes (those are aiosmtpd's parser's to read).
_BARE_ADDRESS = re.compile(r"[^\s()<>,;:\\\"\[\]@]+@[^\s()<>,;:\\\"\[\]@]+")
#: A path (RFC 5321 4.1.2) of a dot-atom local part (RFC 5322 3.2.3's atext) and a domain
#: of letters, digits and hyphens, in angle brackets, with the blanks after it.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(
    rf"[ \t]*<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>[ \t]*"
)
#: How much of a DATA transfer is read at a time.
_DATA_CHUNK = 256 * 1024


def _no_callback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A stand-in for a connection callback (`_Blueprint` only looks at what it sets)."""


class _Blueprint:
    """What aiosmtpd's ``SMTP.__init__`` works out once per server, kept for every connection.

    aiosmtpd builds a protocol object per connection, and its constructor looks at every
    attribute of the protocol and the handler (``inspect.getmembers``, ``dir``) to find the
    ``auth_*``, ``handle_*`` and ``smtp_*`` methods: about 0.3 ms a connection here, a third
    of what a small message costs. The answers depend only on the classes, the handler and the
    options, which a server keeps. So the first connection runs aiosmtpd's constructor, its
    state is kept, and each later connection gets asyncio's protocol set-up, a copy of that
    state and its own bound methods. ``tests/unit/test_server_blueprint.py`` compares a copy
    with a connection built by aiosmtpd, attribute by attribute.
    """

    def __init__(self, state: dict[str, Any], smtp_methods: dict[str, Any], auth_line: str) -> None:
        #: aiosmtpd's attributes, without asyncio's protocol state and the bound methods.
        self.state = state
        #: ``smtp_*`` method name -> function, bound again for each connection.
        self.smtp_methods = smtp_methods
        #: What aiosmtpd logs about AUTH at each connection.
        self.auth_line = auth_line

    @classmethod
    def of(cls, first: _SMTP) -> _Blueprint | None:
        """The blueprint of a connection aiosmtpd's constructor just built, if it has one.

        ``None`` (every connection runs aiosmtpd's constructor) when the state holds
        something this class does not know how to copy: say, a newer aiosmtpd's.
        """
        smtp_methods: dict[str, Any] = {}
        for name, method in first._smtp_methods.items():
            if getattr(method, "__self__", None) is not first:
                return None
            smtp_methods[name] = method.__func__
        # What asyncio's StreamReaderProtocol sets up is each connection's own.
        loop = first.loop
        probe = asyncio.StreamReaderProtocol(
            asyncio.StreamReader(loop=loop), client_connected_cb=_no_callback, loop=loop
        )
        protocol_state = set(vars(probe))
        state: dict[str, Any] = {}
        for key, value in vars(first).items():
            if key in protocol_state or key in ("_smtp_methods", "_auth_methods"):
                continue
            if isinstance(value, (dict, list, set)) and key != "_handle_hooks":
                return None  # per-connection mutable state we do not know
            state[key] = value
        for mechanism in first._auth_methods.values():
            if mechanism.is_builtin and getattr(mechanism.method, "__self__", None) is not first:
                return None
        state["_auth_methods"] = first._auth_methods
        if first._ehlo_hook_ver == "old":
            return None  # aiosmtpd warns about it at each connection; keep that
        auth_line = " ".join(
            name + "(builtin)" if mechanism.is_builtin else name
            for name, mechanism in sorted(first._auth_methods.items())
        )
        return cls(state, smtp_methods, auth_line)

    def build(self, smtp: _SMTP) -> None:
        """Set `smtp` up as aiosmtpd's constructor would, from the kept state."""
        loop = self.state["loop"]
        asyncio.StreamReaderProtocol.__init__(
            smtp,
            asyncio.StreamReader(loop=loop, limit=smtp.line_length_limit),
            client_connected_cb=smtp._cb_client_connected,
            loop=loop,
        )
        # aiosmtpd clears this class-level dict in every constructor (EHLO fills it in).
        smtp.command_size_limits.clear()
        for key, value in self.state.items():
            setattr(smtp, key, value)
        smtp._handle_hooks = dict(self.state["_handle_hooks"])
        smtp._auth_methods = {
            name: _AuthMechAttr(types.MethodType(m.method.__func__, smtp), True)
            if m.is_builtin
            else m
            for name, m in self.state["_auth_methods"].items()
        }
        smtp._smtp_methods = {
            name: types.MethodType(function, smtp) for name, function in self.smtp_methods.items()
        }
        _aiosmtpd_log.info("Available AUTH mechanisms: %s", self.auth_line)


class _SMTP(SMTP):
    """aiosmtpd's SMTP protocol with the recipient and connection limits added."""

    def __init__(
        self,
        handler: Any,
        running: RunningSMTP,
        options: ServerOptions,
        tls_context: ssl.SSLContext | None,
    ) -> None:
        blueprint = running.blueprint
        if blueprint is not None:
            blueprint.build(self)
        else:
            self._construct(handler, running, options, tls_context)
            running.blueprint = _Blueprint.of(self)
        self._auth_required = options.auth_required
        self._running = running
        self._max_recipients = options.max_recipients
        self._max_connections = options.max_connections
        self._admitted = False
        self._refused = False
        self._in_data = False
        # When the connection goes idle: the timer aiosmtpd arms, and the one before.
        self._idle_deadline = 0.0
        self._previous_deadline = 0.0

    def _construct(
        self,
        handler: Any,
        running: RunningSMTP,
        options: ServerOptions,
        tls_context: ssl.SSLContext | None,
    ) -> None:
        """aiosmtpd's own constructor, as the first connection of a server runs it."""
        super().__init__(
            handler,
            data_size_limit=options.data_size_limit or None,
            enable_SMTPUTF8=options.enable_SMTPUTF8,
            hostname=_HOSTNAME,
            tls_context=tls_context,
            timeout=options.timeout,
            # AUTH on the plain connection: the credentials an app sends a catcher on
            # loopback are test values, and apps configured without TLS must still
            # be able to log in.
            auth_require_tls=False,
            authenticator=_accept_any,
            # aiosmtpd answers auth_required without auth_require_tls with a
            # warnings.warn() on every connection (an error under pytest's
            # ``-W error``) and a log line; it guards a risk that does not exist
            # on a loopback catcher, so the flag is set after construction.
            auth_required=False,
            loop=running.loop,
        )

    def _reset_timeout(self, duration: float | None = None) -> None:
        """Arm the idle timer (aiosmtpd calls this for each command), remembering when."""
        super()._reset_timeout(duration)
        self._previous_deadline = self._idle_deadline
        self._idle_deadline = self.loop.time() + (duration or self._timeout_duration)

    def data_received(self, data: bytes) -> None:
        """Bytes of a DATA transfer are activity: the idle timeout measures silence.

        aiosmtpd arms its timer when a command arrives; a steady sender whose DATA took
        longer than the timeout was cut off mid-transfer, on every retry.
        """
        super().data_received(data)
        if self._in_data:
            self._reset_timeout()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """DATA (RFC 5321 4.1.1.4), read in large chunks instead of a line at a time.

        aiosmtpd reads DATA one line at a time and keeps every line as an object: about
        1.8 us and 60 bytes a line, so 20 MiB of empty lines cost it over a gigabyte.
        Here the end of data is found with a buffer search, dot-stuffing (RFC 5321
        4.5.2) is undone in one pass, and the limits answer as aiosmtpd's do: ``552``
        past the size limit and ``500`` for a line over its line length limit, both
        after the whole DATA has been read (RFC 5321 4.2.5).
        """
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None  # set by aiosmtpd once HELO/EHLO was seen
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        self._in_data = True
        try:
            read = await self._read_data()
        finally:
            self._in_data = False
        if read is None:  # the client went away in the middle
            return
        content, problem = read
        if problem is not None:
            await self.push(problem)
            self._set_post_data_state()  # type: ignore[no-untyped-call]  # unannotated upstream
            return
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]  # unannotated upstream
        await self.push("250 OK" if status is MISSING else status)

    async def _read_data(self) -> tuple[bytes, str | None] | None:
        """Read DATA up to its end (``CRLF . CRLF``); the content, unstuffed, and a refusal.

        Returns ``None`` when the connection closed first.
        """
        size_limit = self.data_size_limit
        line_limit = self.line_length_limit
        # A CRLF in front, so that a first line "." or ".." is found like any other.
        buffer = bytearray(b"\r\n")
        line_start = 2  # where the line being received starts
        searched = 0  # the terminator does not start before this
        problem: str | None = None
        dropped = 0  # bytes discarded once a limit was passed
        while True:
            chunk = await self._reader.read(_DATA_CHUNK)
            if not chunk:
                return None
            buffer += chunk
            end = buffer.find(b"\r\n.\r\n", searched)
            last = len(buffer) if end < 0 else end + 2
            if problem is None:
                # Complete lines since the last look, and the line still arriving.
                lines = buffer[line_start:last].split(b"\r\n")
                arriving = lines.pop()  # no CRLF yet; a CR at its end may be the CRLF's
                longest = max(map(len, lines), default=0)
                longest = max(longest, len(arriving) - arriving.endswith(b"\r"))
                if longest + 2 > line_limit:
                    problem = "500 Line too long (see RFC5321 4.5.3.1.6)"
                line_start = last - len(arriving)
            if problem is None and size_limit and dropped + last - 2 > size_limit:
                problem = "552 Error: Too much mail data"
            if end >= 0:
                leftover = bytes(buffer[end + 5 :])
                if leftover:
                    # Commands the client pipelined after the data (RFC 2920) are the
                    # command loop's to read: they go back in front of the reader.
                    self._reader._buffer[:0] = leftover  # type: ignore[attr-defined]
                if problem is not None:
                    return b"", problem
                del buffer[end + 2 :]
                # RFC 5321 4.5.2: "If the first character is a period and there are other
                # characters on the line, the first character is deleted." The terminator
                # is already cut off, so every CRLF-period here starts such a line.
                return bytes(buffer.replace(b"\r\n.", b"\r\n")[2:]), None
            if problem is not None:
                # Past a limit nothing is kept: only the tail a terminator may start in.
                keep = min(len(buffer), 4)
                dropped += len(buffer) - keep
                del buffer[:-keep]
                line_start = 0
            searched = max(len(buffer) - 4, 0)

    @syntax("NOOP [ignored]")
    async def smtp_NOOP(self, arg: str) -> None:
        """NOOP, without counting as activity: a client sending only NOOPs goes idle.

        Otherwise a few clients that send NOOP forever hold every connection slot.
        """
        self._keep_deadline()
        await super().smtp_NOOP(arg)

    @syntax("RSET")
    async def smtp_RSET(self, arg: str) -> None:
        """RSET, without counting as activity (see `smtp_NOOP`)."""
        self._keep_deadline()
        await super().smtp_RSET(arg)

    @syntax("HELP [command]")
    async def smtp_HELP(self, arg: str) -> None:
        """HELP, without counting as activity (see `smtp_NOOP`)."""
        self._keep_deadline()
        await super().smtp_HELP(arg)

    @syntax("VRFY <address>")
    async def smtp_VRFY(self, arg: str) -> None:
        """VRFY, without counting as activity (see `smtp_NOOP`)."""
        self._keep_deadline()
        await super().smtp_VRFY(arg)

    async def smtp_EXPN(self, arg: str) -> None:
        """EXPN, without counting as activity (see `smtp_NOOP`)."""
        self._keep_deadline()
        await super().smtp_EXPN(arg)

    def _keep_deadline(self) -> None:
        """Put the idle timer back where it was before this command re-armed it."""
        remaining = max(self._previous_deadline - self.loop.time(), 0.001)
        deadline = self._previous_deadline
        super()._reset_timeout(remaining)
        self._idle_deadline = self._previous_deadline = deadline

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """The address of MAIL FROM or RCPT TO, exactly as the client wrote it.

        aiosmtpd parses it with the email header parser, which decodes RFC 2047 encoded
        words: ``RCPT TO:<=?utf-8?q?root?=@x>`` became ``root@x``. Encoded words belong
        to header text (RFC 2047 section 5), not to addresses on the wire, so the text
        is kept as sent once aiosmtpd has checked its syntax.
        """
        if "=?" not in arg and not self.local_part_limit:
            # The common case, ``<local@example.com>`` and maybe parameters, without the
            # header parser: about 80 us a call, twice per message. What the parser would
            # do differently (comments, quoted strings, address literals, the null path
            # ``<>``, non-ASCII) does not match, and goes the slow way below;
            # tests/unit/test_server_getaddr.py compares both ways.
            match = _PLAIN_PATH.match(arg)
            if match is not None and not arg.startswith("(", match.end()):
                return match[1], arg[match.end() :]
        try:
            address, rest = super()._getaddr(arg)
        except (AttributeError, IndexError, ValueError):
            # The header parser aiosmtpd uses trips over some malformed paths
            # (``<0@[>``: AttributeError; ``0@``: IndexError): the client gets aiosmtpd's
            # "553 malformed address" rather than a 451 and a traceback in the log.
            return None, None
        if address and "=?" in arg:
            text = arg.lstrip()
            written = text[: len(text) - len(rest or "")].strip()
            if written.startswith("<") and written.endswith(">"):
                written = written[1:-1].strip()
            if _BARE_ADDRESS.fullmatch(written):
                # Only a bare local@domain: a comment, a source route (RFC 5321 4.1.2)
                # or a second address must never reach X-RcptTo as one "address".
                address = written
        return address, rest

    async def challenge_auth(
        self,
        challenge: str | bytes,
        encode_to_b64: bool = True,
        log_client_response: bool = False,
    ) -> Any:
        """aiosmtpd's AUTH challenge, with an over-long answer refused instead of crashing.

        aiosmtpd reads the answer with ``readline()``, which raises `ValueError` for a
        line over its limit: the exchange ended in a traceback in the log. Such an answer
        now fails the login and the connection goes on.
        """
        try:
            return await super().challenge_auth(challenge, encode_to_b64, log_client_response)
        except ValueError:  # the stream's "chunk is longer than limit"; the line is dropped
            # RFC 4954 4: "If the client's response is too long ... 500 5.5.6". aiosmtpd
            # treats a MISSING answer as handled: this is the one reply.
            await self.push("500 5.5.6 Authentication Exchange line is too long")
            return MISSING

    def _create_session(self) -> Session:
        return _Session(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._admitted or self._refused:
            # After STARTTLS aiosmtpd calls this again with the TLS transport.
            super().connection_made(transport)
            return
        self._running.connections_made += 1
        connections = self._running.connections
        if len(connections) >= self._max_connections:
            # RFC 5321 3.8: a server that cannot serve now answers 421 and closes;
            # RFC 3463 4.3.2: "system not accepting network messages".
            self._refused = True
            log.warning(
                "refused a connection from %s: %d connections are open (max_connections)",
                transport.get_extra_info("peername"),
                len(connections),
            )
            # A TCP transport; not an isinstance() check: uvloop's transports are not
            # subclasses of asyncio's, and one would leave this client without its 421.
            stream = cast(asyncio.WriteTransport, transport)
            stream.write(b"421 4.3.2 Too many connections, try again later\r\n")
            stream.close()
            return
        self._admitted = True
        connections.add(self)
        super().connection_made(transport)

    def eof_received(self) -> bool | None:
        """The client closed its side: stop serving it, and close ours.

        aiosmtpd cancels the session here but keeps the connection half-open, so a client
        that hung up (a port probe, a crashed app) held one of `max_connections` until the
        idle timeout. Nothing would be written to it any more: returning false makes asyncio
        close the transport, and `connection_lost` frees the place.
        """
        super().eof_received()
        return False

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return  # aiosmtpd never saw this connection
        self._running.connections.discard(self)
        super().connection_lost(error)
        self._running.connection_gone()

    async def _fault(self, command: str) -> bool:
        """Apply the fault queued for this use of `command`; whether it took the reply.

        A delay holds the reply back and lets the command run; a failure answers the
        fault's reply instead; a drop closes the connection without a word.
        """
        fault = self._running.faults.take(command)
        if fault is None:
            return False
        if fault.action == "delay":
            await asyncio.sleep(fault.seconds)
            return False
        if fault.action == "fail":
            await self.push(fault.reply)
        # A failed greeting ends the session too (RFC 5321 3.1: after a 554 greeting the
        # server waits for QUIT; a test's client should just see it).
        if (fault.action == "drop" or command == "CONNECT") and self.transport is not None:
            self.transport.close()
        return True

    async def _handle_client(self) -> None:
        if await self._fault("CONNECT"):
            return
        await super()._handle_client()

    async def smtp_MAIL(self, arg: str | None) -> None:
        if await self._fault("MAIL"):
            return
        await super().smtp_MAIL(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        if await self._fault("AUTH"):
            return
        await super().smtp_AUTH(arg)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if await self._fault("STARTTLS"):
            return
        await super().smtp_STARTTLS(arg)

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        # The end of DATA: a fault answers before the handler stores the message, so a
        # refused message is not stored (RFC 5321 4.1.1.4: the reply to the end of
        # data is the server's acceptance or refusal of the message).
        if command == "DATA":
            fault = self._running.faults.take("DATA")
            if fault is not None and fault.action == "drop":
                if self.transport is not None:
                    self.transport.close()
                # Nothing is answered: connection_lost() cancels this task meanwhile.
                await self.loop.create_future()
            if fault is not None and fault.action == "fail":
                return fault.reply
            if fault is not None:
                await asyncio.sleep(fault.seconds)
        return await super()._call_handler_hook(command, *args)

    async def smtp_RCPT(self, arg: str | None) -> None:
        if await self._fault("RCPT"):
            return
        envelope = self.envelope
        if (
            envelope is not None
            and envelope.mail_from
            and len(envelope.rcpt_tos) >= self._max_recipients
        ):
            # RFC 5321 4.5.3.1.10: a server over its recipient limit MUST answer 452,
            # and the client sends the rest in another transaction;
            # RFC 3463 4.5.3: "too many recipients".
            await self.push("452 4.5.3 Too many recipients")
            return
        await super().smtp_RCPT(arg)

    async def handle_exception(self, error: Exception) -> str:
        peer = self.session.peer if self.session is not None else None
        if isinstance(error, TLSSetupException):
            # The client gave up the TLS handshake, typically because it does not
            # trust the throwaway CA: the client's side, not a server error.
            log.info("%r TLS handshake failed: %s", peer, error.__cause__ or error)
            return "454 4.7.0 TLS handshake failed"
        if hasattr(self.event_handler, "handle_exception"):
            # A handler with its own policy keeps it (aiosmtpd's contract).
            status: str = await super().handle_exception(error)
            return status
        # A bug in the handler or here: log it with its traceback (ThreadedSMTP
        # records it, so the pytest plugin fails the test), and answer like the
        # catcher does for a storage failure rather than aiosmtpd's
        # "500 Error: (ValueError) ..." that names a Python class.
        log.error("%r unexpected error in the mail catcher", peer, exc_info=error)
        return "451 4.3.0 the mail catcher failed on this command; see the server log"

    def abort(self) -> None:
        """Drop the connection at once (the server is closing)."""
        for transport in (self.transport, self._original_transport):
            # Duck-typed: uvloop's TCP transports are not asyncio.Transport instances, and
            # a connection the client half-closed (aiosmtpd keeps it open on EOF) would be
            # left open, and reported unclosed when the loop ends.
            if transport is not None and not transport.is_closing():
                cast(asyncio.Transport, transport).abort()


class RunningSMTP:
    """A listening SMTP server: where it listens, its certificate, and `close()`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        server: asyncio.Server,
        tls_directory: Path | None,
    ) -> None:
        self.loop = loop
        self._server = server
        self._tls_directory = tls_directory
        address = server.sockets[0].getsockname()
        #: The address the server listens on.
        self.host: str = address[0]
        #: The port it listens on: the one the OS picked when asked for port 0.
        self.port: int = address[1]
        #: The server's certificate chain (PEM), or ``None`` without TLS.
        self.cert_path: Path | None = None
        #: The throwaway CA's certificate (PEM) that a client trusts to verify the
        #: server: ``ssl.create_default_context(cafile=ca_path)``; ``None`` without TLS.
        self.ca_path: Path | None = None
        if tls_directory is not None:
            self.cert_path = tls_directory / "server.pem"
            self.ca_path = tls_directory / "ca.pem"
        self.connections: set[_SMTP] = set()
        #: Connections accepted since the server started (refused ones too).
        self.connections_made = 0
        #: The faults the server applies (`mailcatcher.faults`): tests and Chaos add them.
        self.faults = Faults()
        self._all_gone: asyncio.Event | None = None
        self._closed = False
        #: What every connection's constructor works out alike (set by the first one).
        self.blueprint: _Blueprint | None = None

    def __repr__(self) -> str:
        return f"<RunningSMTP {self.host}:{self.port}>"

    def connection_gone(self) -> None:
        """Called by a connection as it ends; wakes `close()` when it was the last."""
        if self._all_gone is not None and not self.connections:
            self._all_gone.set()

    async def close(self) -> None:
        """Stop listening, drop every open connection, remove the certificate files."""
        if self._closed:
            return
        self._closed = True
        self._server.close()
        connections = list(self.connections)
        tasks = [
            connection._handler_coroutine
            for connection in connections
            if connection._handler_coroutine is not None
        ]
        if connections:
            self._all_gone = asyncio.Event()
            for connection in connections:
                connection.abort()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), _CLOSE_TIMEOUT)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_CLOSE_TIMEOUT)
        await self._server.wait_closed()
        if self._tls_directory is not None:
            shutil.rmtree(self._tls_directory, ignore_errors=True)


def _make_tls() -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh certificate for localhost, and its files' directory.

    Raises:
        ModuleNotFoundError: trustme (the ``tls`` extra) is not installed.
    """
    try:
        import trustme
    except ImportError as error:
        raise ModuleNotFoundError(TLS_EXTRA, name="trustme") from error
    authority = trustme.CA()
    # Every name a client on this machine may use to reach a loopback server.
    certificate = authority.issue_cert("localhost", "127.0.0.1", "::1")
    # Purpose.CLIENT_AUTH makes a server-side context that does not ask clients for
    # certificates (aiosmtpd warns about contexts that do).
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    directory = Path(tempfile.mkdtemp(prefix="mailcatcher-tls-"))
    try:
        authority.cert_pem.write_to_path(str(directory / "ca.pem"))
        for index, pem in enumerate(certificate.cert_chain_pems):
            pem.write_to_path(str(directory / "server.pem"), append=index > 0)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return context, directory


async def start_smtp(handler: Any, options: ServerOptions | None = None) -> RunningSMTP:
    """Start an SMTP server for `handler` on the running loop; return once it listens.

    Args:
        handler: an aiosmtpd handler, such as `mailcatcher.MailDir`.
        options: where to listen and what to allow; the defaults suit tests.

    Raises:
        ValueError: an option cannot work (the message names it).
        OSError: the address cannot be bound (say, the port is taken).
        ModuleNotFoundError: TLS was asked for without the ``tls`` extra.
    """
    options = options or ServerOptions()
    options.check()
    loop = asyncio.get_running_loop()
    # Bind one address only. A name such as "localhost" can resolve to both ::1 and
    # 127.0.0.1; asked for port 0, each socket would get a different port, and a
    # client would reach the other one by chance.
    family, _, _, _, address = socket.getaddrinfo(
        options.host, options.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    bind_host, bind_port = str(address[0]), int(address[1])
    tls_context: ssl.SSLContext | None = None
    tls_directory: Path | None = None
    if options.tls:
        tls_context, tls_directory = _make_tls()
    running: RunningSMTP | None = None

    def factory() -> _SMTP:
        # The server exists before any connection can arrive, so `running` is set.
        assert running is not None
        return _SMTP(handler, running, options, tls_context)

    try:
        server = await loop.create_server(factory, host=bind_host, port=bind_port, family=family)
    except BaseException:
        if tls_directory is not None:
            shutil.rmtree(tls_directory, ignore_errors=True)
        raise
    running = RunningSMTP(loop, server, tls_directory)
    for fault in options.faults:
        running.faults.add(fault)
    log.info("SMTP server listening on %s:%d", running.host, running.port)
    return running


def event_loop(choice: str | None = None) -> str:
    """The event loop to run a server on: ``"uvloop"`` or ``"asyncio"``.

    uvloop (libuv under asyncio's interface) serves SMTP faster than asyncio's own loop
    (README, "Measured"); it is an optional extra, used when it is installed unless
    ``MAILCATCHER_LOOP=asyncio`` says otherwise.

    Args:
        choice: ``"auto"``, ``"asyncio"`` or ``"uvloop"``; ``None`` reads `LOOP_ENV`
            (unset or empty: ``"auto"``).

    Raises:
        ValueError: an unknown choice (the message names the variable and the choices).
        ModuleNotFoundError: ``"uvloop"`` asked for, and it is not installed.
    """
    source = "event_loop()"
    if choice is None:
        choice, source = os.environ.get(LOOP_ENV) or "auto", LOOP_ENV
    if choice not in LOOPS:
        raise ValueError(f"{source}: expected one of {', '.join(LOOPS)}, got {choice!r}")
    if choice == "asyncio":
        return "asyncio"
    if importlib.util.find_spec("uvloop") is not None:
        return "uvloop"
    if choice == "uvloop":
        raise ModuleNotFoundError(UVLOOP_EXTRA, name="uvloop")
    return "asyncio"


def new_event_loop(name: str) -> asyncio.AbstractEventLoop:
    """A new event loop of the kind `event_loop` chose."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, _T], name: str) -> _T:
    """Run `main` to completion on a new event loop of kind `name`, as `asyncio.run` does."""
    if name == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def loop_label(name: str) -> str:
    """How `serve`'s banner names the loop: ``uvloop 0.23.0`` or ``asyncio``."""
    if name == "uvloop":
        return f"uvloop {importlib.metadata.version('uvloop')}"
    return name


class _ErrorRecorder(logging.Handler):
    """Keeps the errors logged on one thread (the server's), for the test to see."""

    def __init__(self, thread_id: int, errors: list[str]) -> None:
        super().__init__(logging.ERROR)
        self._thread_id = thread_id
        self._errors = errors
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread_id:
            self._errors.append(self.format(record))


#: The loggers whose errors `ThreadedSMTP` records: the catcher's (storage failures),
#: this module's (unexpected exceptions), aiosmtpd's and asyncio's.
_RECORDED_LOGGERS = ("mailcatcher", "mail.log", "asyncio")


class ThreadedSMTP:
    """An SMTP server on its own event loop in a daemon thread, for synchronous callers.

    ``start()`` returns once the server listens (or raises why it cannot);
    ``stop()`` closes it, drops its connections, ends the thread and frees the port.
    Errors the server or its handler log while running are kept in `errors`, so a
    test can fail on them instead of timing out without a clue (as
    pytest-httpserver's ``check_handler_errors()`` does).
    """

    def __init__(self, handler: Any, options: ServerOptions | None = None) -> None:
        self.handler = handler
        self.options = options or ServerOptions()
        #: Errors logged on the server's thread, each with its traceback.
        self.errors: list[str] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: RunningSMTP | None = None
        #: The kind of event loop the server runs on, once started: ``"uvloop"`` when it is
        #: installed, unless ``MAILCATCHER_LOOP=asyncio`` (`event_loop`).
        self.loop_name: str | None = None

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self._running is not None else "stopped"
        return f"<ThreadedSMTP {where}>"

    def __enter__(self) -> ThreadedSMTP:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> RunningSMTP:
        """The listening server; `RuntimeError` before `start()` or after `stop()`."""
        if self._running is None:
            raise RuntimeError("the SMTP server is not running: call start() first")
        return self._running

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self.running.host

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self.running.port

    @property
    def ca_path(self) -> Path | None:
        """The CA certificate a client trusts to verify STARTTLS; ``None`` without TLS."""
        return self.running.ca_path

    @property
    def cert_path(self) -> Path | None:
        """The server's certificate chain; ``None`` without TLS."""
        return self.running.cert_path

    @property
    def faults(self) -> Faults:
        """The server's fault table: ``server.faults.add(Fault.fail("RCPT", "550 ..."))``."""
        return self.running.faults

    @property
    def connections_made(self) -> int:
        """Connections accepted since the server started."""
        return self.running.connections_made

    def start(self, timeout: float = 30.0) -> None:
        """Start the thread and return once the server listens.

        Raises:
            RuntimeError: already started, or not listening within `timeout` seconds.
            OSError, ValueError, ModuleNotFoundError: as `start_smtp` raises them.
        """
        if self._thread is not None:
            raise RuntimeError(f"{self!r} is already started")
        ready: concurrent.futures.Future[RunningSMTP] = concurrent.futures.Future()
        self.loop_name = event_loop()
        loop = new_event_loop(self.loop_name)
        thread = threading.Thread(
            target=self._run, args=(loop, ready), name="mailcatcher-smtp", daemon=True
        )
        self._loop = loop
        self._thread = thread
        thread.start()
        try:
            self._running = ready.result(timeout)
        except concurrent.futures.TimeoutError:
            self.stop()
            raise RuntimeError(
                f"the SMTP server did not start within {timeout:g} s; is the machine busy?"
            ) from None
        except BaseException:
            thread.join()
            self._thread = None
            self._loop = None
            raise

    def _run(
        self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[RunningSMTP]
    ) -> None:
        recorder = _ErrorRecorder(threading.get_ident(), self.errors)
        loggers = [logging.getLogger(name) for name in _RECORDED_LOGGERS]
        for logger in loggers:
            logger.addHandler(recorder)
        try:
            try:
                running = loop.run_until_complete(start_smtp(self.handler, self.options))
            except BaseException as error:
                ready.set_exception(error)
                return
            ready.set_result(running)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(running.close())
        finally:
            try:
                _cancel_remaining(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                for logger in loggers:
                    logger.removeHandler(recorder)

    def stop(self, timeout: float = 30.0) -> None:
        """Close the server and end its thread; the port is free when this returns.

        Stopping a server that is not running does nothing.
        """
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError(f"the SMTP server thread did not end within {timeout:g} s")
        self._thread = None
        self._loop = None
        self._running = None


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and finish any task still on `loop`, so closing it leaves nothing pending."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=_CLOSE_TIMEOUT))
