"""The long-running commands: ``mailcatcher serve`` and ``mailcatcher web``.

``serve`` runs the SMTP server (`mailcatcher.server`, the same one the pytest plugin
uses) with a `MailDir` catcher and, when the web extra is installed, the web inbox, on
one asyncio loop. SIGINT (Ctrl-C) and SIGTERM stop both cleanly; a temporary Maildir is
removed on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib.util
import logging
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catcher import MailDir
from ..server import TLS_EXTRA, ServerOptions, event_loop, loop_label, run, start_smtp
from ..store import (
    POSTGRES_EXTRA,
    Entry,
    StrPath,
    is_database_url,
    location,
    maildir_problem,
    open_database,
)
from ._render import (
    EXIT_CANNOT_SERVE,
    EXIT_NO_STORE,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    summary,
)

WEB_EXTRA = "the web inbox needs the web extra: pip install 'aiosmtpd-mailcatcher[web]'"
DEFAULT_HTTP = ("127.0.0.1", 8025)


@dataclass
class ServeConfig:
    """What ``mailcatcher serve`` was asked to run."""

    options: ServerOptions
    #: The Maildir to keep; ``None`` for a temporary one, removed on exit.
    directory: str | None = None
    keep: int | None = None
    #: Where the web inbox listens; ``None`` for `DEFAULT_HTTP` (if the extra is there).
    http: tuple[str, int] | None = None
    no_http: bool = False
    http_auth: tuple[str, str] | None = None
    #: `start_web` keywords for the HTTP limits given (``idle_timeout``, ``max_connections``).
    http_limits: dict[str, Any] = field(default_factory=dict)
    #: Print no line per caught message.
    quiet: bool = False
    #: Serve Mailpit's Chaos API (``/api/v1/chaos``) over the SMTP server's faults.
    enable_chaos: bool = False


def import_start_web() -> Callable[..., Any] | None:
    """`mailcatcher.web.start_web`, or ``None`` when the web extra is not installed."""
    try:
        from ..web import start_web
    except ModuleNotFoundError:  # aiohttp or nh3 missing
        return None
    return start_web


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so both end the command the same clean way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def _cannot_listen(what: str, host: str, port: int, error: OSError, flag: str) -> CommandError:
    if error.errno == errno.EADDRINUSE:
        # asyncio's text repeats the address: "error while attempting to bind on ...".
        reason = f"the port is in use (another catcher? choose another: {flag} {host}:{port + 1})"
    else:
        # A resolver error has a negative errno and its own text.
        number = error.errno or 0
        reason = os.strerror(number) if number > 0 else error.strerror or str(error)
    return CommandError(EXIT_CANNOT_SERVE, f"cannot listen for {what} on {host}:{port}: {reason}")


class _Console:
    """What ``serve`` and ``web`` print for the person who started them, while anyone reads.

    The lines are a courtesy, the mail is not. With ``mailcatcher serve | head -n1`` the
    reader is gone after one line and every later print raises `BrokenPipeError`: the
    first failure ends the printing, quietly. With ``mailcatcher serve | less`` left
    unscrolled, or a suspended terminal, the reader is there but does not read: once the
    pipe is full a print would block the event loop and every SMTP client with it, so
    arrival lines go through a bounded queue to a printer thread, and are dropped when
    the queue is full.
    """

    def __init__(self) -> None:
        self.gone = False
        self._lines: queue.Queue[str] = queue.Queue(maxsize=_QUEUED_LINES)
        self._printer: threading.Thread | None = None

    def say(self, text: str) -> None:
        """Print `text` and flush it, unless stdout has failed before."""
        if self.gone:
            return
        try:
            print(text, flush=True)
        except OSError:  # EPIPE: the reader exited; EIO: the terminal closed
            self.gone = True
            _discard_stdout()

    def arrival(self, entry: Entry) -> None:
        """A catcher listener: one line per stored message, never waiting for the reader."""
        if self.gone:
            return
        if self._printer is None:
            self._printer = threading.Thread(
                target=self._print_lines, name="mailcatcher-console", daemon=True
            )
            self._printer.start()
        with contextlib.suppress(queue.Full):
            self._lines.put_nowait(summary(entry))

    def _print_lines(self) -> None:
        # os.write, not print(): a daemon thread blocked inside print() would hold
        # stdout's lock when the interpreter exits, and Python aborts on that.
        while not self.gone:
            line = self._lines.get() + "\n"
            try:
                os.write(sys.stdout.fileno(), line.encode("utf-8", "replace"))
            except (OSError, ValueError):
                self.gone = True
                _discard_stdout()
            finally:
                self._lines.task_done()

    def finish(self, timeout: float = 1.0) -> None:
        """Let the printer write the lines still queued, for at most `timeout` seconds.

        Called on the way out, once no more mail can arrive: a message stored just before
        Ctrl-C or SIGTERM still gets its line.
        """
        deadline = time.monotonic() + timeout
        with self._lines.all_tasks_done:
            while self._lines.unfinished_tasks and not self.gone:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._lines.all_tasks_done.wait(remaining)


#: Arrival lines waiting for a slow reader before new ones are dropped.
_QUEUED_LINES = 1000


def _discard_stdout() -> None:
    """Point stdout at /dev/null.

    The line that failed stays in stdout's buffer; flushing it again at exit would print
    "Exception ignored ... BrokenPipeError" and end the command with status 120.
    """
    with contextlib.suppress(OSError, ValueError):  # stdout closed: nothing to flush
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)


def _notifier(web: Any) -> Callable[[Entry], None]:
    """A catcher listener that wakes the web inbox's live listeners at once."""
    loop = asyncio.get_running_loop()

    def notify(entry: Entry) -> None:
        # Listeners run in the server's thread: here the loop's own, but be safe.
        loop.call_soon_threadsafe(web.notify)

    return notify


def _maildir(path: str | None) -> tuple[Path, bool]:
    """The Maildir to write to, and whether it is a temporary one."""
    if path is None:
        return Path(tempfile.mkdtemp(prefix="mailcatcher-")), True
    if is_database_url(path):
        database = location(path)
        try:
            # Connect now: a wrong URL or password is one line at start, not 451s later.
            open_database(database, connect=True).close()
        except ModuleNotFoundError:
            raise CommandError(EXIT_USAGE, POSTGRES_EXTRA) from None
        except OSError as error:  # its text names the database, password masked
            raise CommandError(EXIT_NO_STORE, str(error)) from None
        return database, False
    target = Path(path)
    problem = maildir_problem(target)
    if problem is not None:
        raise CommandError(EXIT_NO_STORE, f"cannot use {path} as a Maildir: {problem}")
    return target, False


def serve(config: ServeConfig) -> int:
    """Run the catcher until SIGINT or SIGTERM; return the exit status.

    Raises:
        CommandError: a missing extra, an unusable directory or a port that is taken.
    """
    if config.options.tls and importlib.util.find_spec("trustme") is None:
        raise CommandError(EXIT_USAGE, TLS_EXTRA)
    start_web = None
    if not config.no_http:
        start_web = import_start_web()
        if start_web is None and config.http is not None:
            raise CommandError(EXIT_USAGE, WEB_EXTRA)
    try:
        # uvloop when it is installed, unless MAILCATCHER_LOOP=asyncio (issue 15).
        loop = event_loop()
    except (ValueError, ModuleNotFoundError) as error:
        raise CommandError(EXIT_USAGE, str(error)) from None
    logging.basicConfig(level=logging.WARNING, format="mailcatcher: %(message)s")
    directory, temporary = _maildir(config.directory)
    try:
        return run(_serve(config, directory, temporary, start_web, loop), loop)
    finally:
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)


async def _serve(
    config: ServeConfig,
    directory: Path,
    temporary: bool,
    start_web: Callable[..., Any] | None,
    loop: str = "asyncio",
) -> int:
    stop = _stop_on_signals()
    console = _Console()
    try:
        handler = MailDir(directory, keep=config.keep)
    except OSError as error:
        raise CommandError(
            EXIT_NO_STORE, f"cannot create the Maildir {directory}: {error.strerror or error}"
        ) from None
    async with contextlib.AsyncExitStack() as cleanup:
        cleanup.callback(handler.close)
        # Runs once the SMTP server has closed (the stack unwinds in reverse).
        cleanup.callback(console.finish)
        options = config.options
        try:
            smtp = await start_smtp(handler, options)
        except OSError as error:
            raise _cannot_listen("SMTP", options.host, options.port, error, "--smtp") from None
        cleanup.push_async_callback(smtp.close)
        if start_web is not None:
            host, port = config.http or DEFAULT_HTTP
            try:
                web = await start_web(
                    directory,
                    host,
                    port,
                    basic_auth=config.http_auth,
                    chaos_faults=smtp.faults if config.enable_chaos else None,
                    **config.http_limits,
                )
            except OSError as error:
                raise _cannot_listen("HTTP", host, port, error, "--http") from None
            cleanup.push_async_callback(web.close)
            handler.listeners.append(_notifier(web))
            web_line = str(web.url)
        elif config.no_http:
            web_line = "off (--no-http)"
        else:
            web_line = f"off: {WEB_EXTRA}"
        if not config.quiet:
            handler.listeners.append(console.arrival)
        features = ["AUTH: any user and password", "SMTPUTF8", f"event loop: {loop_label(loop)}"]
        if config.enable_chaos:
            features.append("Chaos API on")
        if smtp.ca_path is not None:
            features.append(f"STARTTLS, CA {smtp.ca_path}")
        kept = f"keeping the newest {config.keep}" if config.keep else "keeping every message"
        where = kept
        if temporary:
            where = "temporary, removed on exit"
            where += f"; {kept}" if config.keep else ""
        console.say(
            f"SMTP  {smtp.host}:{smtp.port}  ({'; '.join(features)})\n"
            f"Mail  {directory if is_database_url(directory) else directory.resolve()}  ({where})\n"
            f"Web   {web_line}\n"
            "Press Ctrl-C to stop."
        )
        await stop.wait()
    return EXIT_OK


def web(
    path: StrPath,
    http: tuple[str, int],
    http_auth: tuple[str, str] | None,
    http_limits: dict[str, Any] | None = None,
) -> int:
    """Serve the web inbox over the store at `path` until SIGINT or SIGTERM.

    Raises:
        CommandError: the web extra is missing or the port is taken.
    """
    start_web = import_start_web()
    if start_web is None:
        raise CommandError(EXIT_USAGE, WEB_EXTRA)
    return asyncio.run(_web(path, http, http_auth, start_web, http_limits or {}))


async def _web(
    path: StrPath,
    http: tuple[str, int],
    http_auth: tuple[str, str] | None,
    start_web: Callable[..., Any],
    http_limits: dict[str, Any],
) -> int:
    stop = _stop_on_signals()
    host, port = http
    try:
        running = await start_web(path, host, port, basic_auth=http_auth, **http_limits)
    except OSError as error:
        raise _cannot_listen("HTTP", host, port, error, "--http") from None
    try:
        _Console().say(f"Web   {running.url}  (reading {path})\nPress Ctrl-C to stop.")
        await stop.wait()
    finally:
        await running.close()
    return EXIT_OK
