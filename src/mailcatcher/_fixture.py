"""The machinery behind the pytest plugin's fixtures: the view of one test's mail, the
shared servers, and the `Mailcatcher` object a test gets.

`mailcatcher.pytest_plugin` (what pytest loads at start-up) imports this module only when a
test first asks for a fixture: this one needs the SMTP server, the store and the query core,
and a pytest run that sends no mail should not pay for them (issue 15).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from email.message import EmailMessage, Message
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import frameworks, query
from .faults import Fault
from .store import Entry, MaildirStore, Store, sort_newest_first

if TYPE_CHECKING:
    from .catcher import MailDir
    from .server import ServerOptions, ThreadedSMTP

__all__ = ["MailTimeoutError", "Mailcatcher", "MailcatcherFactory"]


class MailTimeoutError(query.MailTimeoutError, AssertionError):
    """`Mailcatcher.wait_for_message` saw no matching message in time.

    The library's `mailcatcher.query.MailTimeoutError` (a `TimeoutError`), and an
    `AssertionError` too, so pytest reports it as a failed expectation and
    ``pytest.raises(AssertionError)`` catches it.
    """


class _TestMail(Store):
    """The mail of one test, as a store: a view of the shared Maildir.

    The catcher reports each stored message; only those reported while the test runs
    are listed, so the one query core (`mailcatcher.query`) reads a test's own mail.
    """

    def __init__(self, maildir: MaildirStore) -> None:
        self.path = maildir.path
        self._maildir = maildir
        self._arrived = threading.Condition()
        self._entries: list[Entry] = []  # oldest first, as they arrived
        # Async waits pausing now: each event is set on its own loop's thread.
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def report(self, entry: Entry) -> None:
        """Report a stored message (from the server's thread); wakes waiting tests."""
        with self._arrived:
            self._entries.append(entry)
            self._arrived.notify_all()
            for loop, event in self._waiters:
                # An asyncio.Event is not thread-safe: set it on the loop that awaits it.
                with contextlib.suppress(RuntimeError):  # that loop closed meanwhile
                    loop.call_soon_threadsafe(event.set)

    def add(self, message: Message, *, keep: int | None = None) -> Entry:
        """Store `message` in the Maildir as this test's."""
        entry = self._maildir.add(message, keep=keep)
        self.report(entry)
        return entry

    def oldest_first(self) -> list[Entry]:
        """This test's entries in arrival order."""
        with self._arrived:
            return list(self._entries)

    def entries(self) -> list[Entry]:
        """This test's entries, newest first, ordered as every store orders them."""
        found = self.oldest_first()
        sort_newest_first(found)
        return found

    def read_bytes(self, id: str, limit: int | None = None) -> bytes:
        """The stored bytes of `id`, from the Maildir."""
        return self._maildir.read_bytes(id, limit)

    def delete(self, ids: Iterable[str]) -> None:
        """Forget and delete `ids`."""
        wanted = set(ids)
        with self._arrived:
            self._entries = [entry for entry in self._entries if entry.id not in wanted]
        self._maildir.delete(wanted)

    def clear(self) -> None:
        """Forget and delete every message of this test."""
        self.delete([entry.id for entry in self.oldest_first()])

    def search_text(self, needle: str, *, among: Iterable[Entry] | None = None) -> set[str]:
        """This test's IDs whose body text contains `needle` (see `Store.search_text`)."""
        return self._maildir.search_text(needle, among=self.entries() if among is None else among)

    def signature(self) -> object:
        """Changes with every message reported or deleted."""
        with self._arrived:
            return tuple(entry.id for entry in self._entries)

    def pause(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking the moment a message is reported."""
        with self._arrived:
            self._arrived.wait(seconds)

    async def pause_async(self, seconds: float) -> None:
        """`pause` for a coroutine: the running loop stays free meanwhile."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._arrived:
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter[1].wait(), seconds)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._arrived:
                self._waiters.remove(waiter)


class _Server:
    """A running server, its catcher, and the test it reports arriving mail to."""

    def __init__(self, server: ThreadedSMTP, catcher: MailDir) -> None:
        self.server = server
        self.catcher = catcher
        # The plugin's own handle on the Maildir, for deleting and reading back.
        self.maildir = MaildirStore(catcher.path)
        self._current: Mailcatcher | None = None
        # Held while a message is reported, so that once `detach` returns no more
        # mail reaches the test that just ended.
        self._lock = threading.Lock()
        catcher.listeners.append(self._report)

    @classmethod
    def start(cls, directory: Path, options: ServerOptions) -> _Server:
        """Start a server that keeps its mail in a new Maildir at `directory`."""
        from .catcher import MailDir
        from .server import ThreadedSMTP

        catcher = MailDir(directory)
        server = ThreadedSMTP(catcher, options)
        try:
            server.start()
        except BaseException:
            catcher.close()
            raise
        return cls(server, catcher)

    def _report(self, entry: Entry) -> None:
        # The catcher calls this in the server's thread once the message is stored.
        with self._lock:
            if self._current is not None:
                self._current._add(entry)

    def attach(self, caught: Mailcatcher) -> None:
        """Report mail to `caught` from now on."""
        # Errors from before (between tests) are no test's to fail on.
        self.server.errors.clear()
        with self._lock:
            self._current = caught

    def detach(self) -> None:
        """Stop reporting mail to the test that ran."""
        with self._lock:
            self._current = None

    def stop(self) -> None:
        """Stop the server and release the Maildir's index (the files stay)."""
        self.detach()
        try:
            self.server.stop()
        finally:
            self.catcher.close()
            self.maildir.close()


class Mailcatcher:
    """An SMTP server's address, and the mail it caught while the current test ran.

    Messages are `email.message.EmailMessage` objects (policy ``email.policy.default``)
    read back from the Maildir at `path`, with the catcher's envelope headers
    (``X-MailFrom``, ``X-RcptTo``, and ``X-Mailcatcher-Auth-User`` when the client logged
    in; `mailcatcher.message` has helpers for them).
    """

    def __init__(self, server: _Server) -> None:
        #: The address to send to: the app's EMAIL_HOST or MAIL_SERVER.
        self.host: str = server.server.host
        #: The port to send to: the app's EMAIL_PORT or MAIL_PORT.
        self.port: int = server.server.port
        #: The CA certificate to trust for STARTTLS (``None`` without TLS).
        self.ca_path: Path | None = server.server.ca_path
        #: The Maildir the server writes to; during a test it holds that test's mail.
        self.path: Path = server.catcher.path
        #: The options the server runs with.
        self.options: ServerOptions = server.server.options
        self._server = server
        self._mail = _TestMail(server.maildir)
        self._connections = server.server.connections_made
        self._django: frameworks.DjangoWiring | None = None
        self._flask: list[frameworks.FlaskWiring] = []
        self._flask_dispatches: frameworks.FlaskDispatches | None = None
        if "flask_mail" in sys.modules:
            self._flask_dispatches = frameworks.FlaskDispatches()

    def _target(self) -> frameworks.Target:
        return frameworks.Target(
            self.host, self.port, self.options.tls, self.options.auth_required, self.ca_path
        )

    def _wire_django(self) -> None:
        """Point Django's mail at this server until the test ends (Django configured)."""
        if frameworks.django_configured():
            self._django = frameworks.DjangoWiring(self._target())

    def _unwire(self) -> None:
        """Undo every framework setting and fault of the test that ends."""
        self._server.server.faults.clear()
        wirings, self._flask = self._flask, []
        for wiring in reversed(wirings):
            wiring.restore()
        if self._django is not None:
            self._django.restore()
            self._django = None
        if self._flask_dispatches is not None:
            self._flask_dispatches.close()
            self._flask_dispatches = None

    def __repr__(self) -> str:
        return f"<Mailcatcher {self.host}:{self.port} {len(self.entries)} message(s)>"

    def _add(self, entry: Entry) -> None:
        self._mail.report(entry)

    @property
    def entries(self) -> list[Entry]:
        """Summaries (envelope, subject, login) of this test's messages, oldest first."""
        return self._mail.oldest_first()

    @property
    def messages(self) -> list[EmailMessage]:
        """Every message caught during this test, oldest first."""
        found = query.messages(self._mail, query.Filter())
        return [match.message for match in reversed(found)]

    def get_latest_message(
        self,
        *,
        to: str | None = None,
        sender: str | None = None,
        subject: str | None = None,
        inbox: str | None = None,
        tags: str | Sequence[str] | None = None,
    ) -> EmailMessage | None:
        """The newest message of this test that matches, or ``None`` when none arrived.

        Args:
            to: an envelope recipient (RCPT TO); the domain is compared case-insensitively.
            sender: the envelope sender (MAIL FROM).
            subject: a part of the subject, in any case.
            inbox: the AUTH login the message was sent with (``"default"``: none).
            tags: a tag, or tags, the message has (``X-Tags``, plus addresses).
        """
        wanted = query.Filter(to=to, sender=sender, subject=subject, inbox=inbox, tags=tags)
        found = query.latest(self._mail, wanted)
        return None if found is None else found.message

    #: The same, under the name the aiosmtpd article's hand-written fixture uses.
    get_latest_email = get_latest_message

    def wait_for_message(
        self,
        timeout: float = 5.0,
        *,
        to: str | None = None,
        sender: str | None = None,
        subject: str | None = None,
        inbox: str | None = None,
        tags: str | Sequence[str] | None = None,
    ) -> EmailMessage:
        """Return the newest matching message of this test, waiting for one to arrive.

        Returns at once when one is already there; otherwise wakes the moment the
        server stores one, so mail sent by a background thread or worker is caught as
        soon as it lands. Filters as in `get_latest_message`.

        Raises:
            MailTimeoutError: nothing matched within `timeout` seconds; the message
                lists what did arrive (recipients, sender, subject), or when nothing
                did, where the mail probably went.
            RuntimeError: called inside a running event loop (an async test), which
                it would block: await `wait_for_message_async` there.
        """
        __tracebackhide__ = True
        query.refuse_in_event_loop(
            "mailcatcher.wait_for_message", "mailcatcher.wait_for_message_async"
        )
        wanted = query.Filter(to=to, sender=sender, subject=subject, inbox=inbox, tags=tags)
        try:
            found = query.wait(
                self._mail, wanted, timeout, where=self._where(), pause=self._mail.pause
            )
        except query.MailTimeoutError as error:
            raise self._timeout_error(error) from None
        return found.message

    async def wait_for_message_async(
        self,
        timeout: float = 5.0,
        *,
        to: str | None = None,
        sender: str | None = None,
        subject: str | None = None,
        inbox: str | None = None,
        tags: str | Sequence[str] | None = None,
    ) -> EmailMessage:
        """`wait_for_message` for async tests: the same filters, result and error.

        Never blocks the running event loop, so a task that sends runs meanwhile; wakes
        the moment the server stores a message. Works under pytest-asyncio and anyio's
        pytest plugin (asyncio backend).

        Raises:
            MailTimeoutError: as `wait_for_message`.
        """
        __tracebackhide__ = True
        wanted = query.Filter(to=to, sender=sender, subject=subject, inbox=inbox, tags=tags)
        try:
            found = await query.wait_async(
                self._mail, wanted, timeout, where=self._where(), pause=self._mail.pause_async
            )
        except query.MailTimeoutError as error:
            raise self._timeout_error(error) from None
        return found.message

    def _where(self) -> str:
        return f"{self.host}:{self.port} during this test"

    def _timeout_error(self, error: query.MailTimeoutError) -> MailTimeoutError:
        """The fixture's timeout error: the core's text, and hints when nothing came."""
        text = str(error.args[0]) if error.args else ""
        if not self._mail.oldest_first():
            text += "".join(f"\nhint: {hint}" for hint in self._hints())
        return MailTimeoutError(text)

    def _hints(self) -> list[str]:
        """Where this test's mail probably went, when none arrived (for error messages)."""
        found = [frameworks.django_hint()]
        if self._flask_dispatches is not None:
            found.append(self._flask_dispatches.hint())
        if self._server.server.connections_made == self._connections:
            found.append(
                f"nothing connected to {self.host}:{self.port} during this test: is the app "
                f"sending to another host or port? (mailcatcher.host, mailcatcher.port)"
            )
        return [hint for hint in found if hint is not None]

    def configure_flask(self, app: frameworks.FlaskApp) -> None:
        """Point a Flask app's Flask-Mail at this server until the test ends.

        Sets ``MAIL_SERVER``, ``MAIL_PORT``, ``MAIL_USE_TLS`` (when the server offers
        STARTTLS), a login when it requires one, and ``MAIL_SUPPRESS_SEND = False``
        (Flask-Mail suppresses sending while ``TESTING`` is on); works before or after
        ``Mail(app)``. The app's settings come back when the test ends.
        """
        self._flask.append(frameworks.FlaskWiring(app, self._target()))

    def fail_next(
        self, command: str, reply: str = "451 4.3.0 Try again later", times: int | None = 1
    ) -> None:
        """The next `times` uses of `command` get `reply` instead of the normal answer.

        `command` is ``"MAIL"``, ``"RCPT"``, ``"DATA"`` (the reply after the end of data:
        the message is not stored), ``"AUTH"``, ``"STARTTLS"`` or ``"CONNECT"`` (the
        greeting; the server then closes the connection). ``times=None``: every use
        during this test. Faults end with the test.

        Raises:
            ValueError: an unknown command, or a reply that is not ``4xx``/``5xx`` text.
        """
        self._server.server.faults.add(Fault.fail(command, reply, times))

    def drop_next(self, command: str, times: int | None = 1) -> None:
        """At the next `times` uses of `command`, the server closes the connection."""
        self._server.server.faults.add(Fault.drop(command, times))

    def delay_next(self, command: str, seconds: float, times: int | None = 1) -> None:
        """The reply to the next `times` uses of `command` comes `seconds` late."""
        self._server.server.faults.add(Fault.delay(command, seconds, times))

    def clear(self) -> None:
        """Forget and delete every message caught so far in this test."""
        self._mail.clear()

    def assert_no_problems(
        self,
        message: Message,
        *,
        ignore: Iterable[str] = (),
        severity: str = "warning",
    ) -> None:
        """Fail the test when `mailcatcher.message.check` finds a problem in `message`.

        The failure lists every finding of `severity` or worse, each with its code, where
        it is, what to fix and the rule's source. The rules that read raw bytes (lines
        over 998 octets, bare CR or LF) have nothing to find here: the SMTP server
        refuses such lines, and the store writes its own line ends.

        Args:
            message: A message this fixture returned (`wait_for_message`, `messages`).
            ignore: Finding codes to accept, e.g. ``("link-insecure",)``.
            severity: The mildest finding that fails: ``"error"``, ``"warning"`` (the
                default) or ``"info"``.

        Raises:
            ValueError: an unknown severity or finding code (a typo would ignore nothing).
        """
        __tracebackhide__ = True
        from . import message as _message

        if severity not in _message.SEVERITIES:
            raise ValueError(
                f"severity={severity!r}: expected one of {', '.join(_message.SEVERITIES)}"
            )
        ignored = {ignore} if isinstance(ignore, str) else set(ignore)
        unknown = sorted(ignored - set(_message.RULES))
        if unknown:
            raise ValueError(
                f"ignore: unknown finding code(s) {', '.join(unknown)}; "
                "the codes are listed in the README's 'Checking your mail'"
            )
        report = _message.check(message)
        problems = [finding for finding in report.at_least(severity) if finding.code not in ignored]
        if problems:
            lines = [f"  {finding}\n      ({finding.source})" for finding in problems]
            subject = _message.header(message, "Subject")
            to = ", ".join(_message.envelope_recipients(message)) or "(none)"
            pytest.fail(
                f"the message {subject!r} to {to} has {len(problems)} problem(s) of "
                f"severity {severity} or worse"
                + (f" (ignoring {', '.join(sorted(ignored))})" if ignored else "")
                + ":\n"
                + "\n".join(lines),
                pytrace=False,
            )

    @property
    def errors(self) -> list[str]:
        """Errors the server logged during this test, each with its traceback.

        The fixture fails the test when any are left at its end; a test that
        provokes them on purpose clears this list.
        """
        return self._server.server.errors

    def _fail_on_errors(self) -> None:
        __tracebackhide__ = True
        errors = self.errors
        if errors:
            report = "\n".join(errors)
            errors.clear()
            pytest.fail(
                f"the mail catcher at {self.host}:{self.port} logged errors during this test "
                f"(clear mailcatcher.errors in a test that expects them):\n{report}",
                pytrace=False,
            )


class _Servers:
    """The `mailcatcher` servers one session (one xdist worker) shares, one per options."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._servers: dict[tuple[object, ...], _Server] = {}
        self._count = 0

    def directory_for(self, name: str) -> Path:
        """A path for a new Maildir, named after `name` (a test) and unique."""
        self._count += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.")[:60] or "mail"
        return self._directory / f"{self._count:03d}-{safe}"

    def get(self, options: ServerOptions) -> _Server:
        """The running server with `options`, started on first use.

        A test's faults and framework wiring are set per test, not by starting another
        server: servers differ only in what they serve.
        """
        options = dataclasses.replace(options, django=True, faults=())
        key = dataclasses.astuple(options)
        server = self._servers.get(key)
        if server is None:
            server = _Server.start(self.directory_for("shared"), options)
            self._servers[key] = server
        return server

    def stop(self) -> None:
        """Stop every server."""
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()


def _with_options(base: ServerOptions, overrides: dict[str, Any], where: str) -> ServerOptions:
    """`base` with `overrides` applied; `TypeError` naming an unknown option."""
    names = [field.name for field in dataclasses.fields(base)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise TypeError(
            f"{where}: unknown option(s) {', '.join(unknown)}; the options are {', '.join(names)}"
        )
    return dataclasses.replace(base, **overrides)


class MailcatcherFactory:
    """Starts SMTP servers of a test's own; the `mailcatcher_factory` fixture stops them."""

    def __init__(self, base: ServerOptions, servers: _Servers, name: str) -> None:
        self._base = base
        self._servers = servers
        self._name = name
        self._made: list[tuple[_Server, Mailcatcher]] = []

    def __call__(self, **options: Any) -> Mailcatcher:
        """Start a server with `options` (fields of `ServerOptions`) and return it.

        Its Maildir is new and kept after the test, for a look after a failure.

        Raises:
            TypeError: an option is not a `ServerOptions` field.
        """
        chosen = _with_options(self._base, options, "mailcatcher_factory()")
        server = _Server.start(self._servers.directory_for(self._name), chosen)
        caught = Mailcatcher(server)
        server.attach(caught)
        self._made.append((server, caught))
        return caught

    def _stop(self) -> list[Mailcatcher]:
        """Stop every server made; return their views, to check their errors."""
        made, self._made = self._made, []
        for server, caught in made:
            try:
                caught._unwire()
            finally:
                server.stop()
        return [caught for _, caught in made]
