"""The pytest plugin: a `mailcatcher` fixture that catches what the code under test sends.

Installing the package registers it (the ``pytest11`` entry point)::

    def test_welcome_mail(mailcatcher):
        send_welcome("eva@example.com", host=mailcatcher.host, port=mailcatcher.port)
        message = mailcatcher.wait_for_message(to="eva@example.com")
        assert "Welcome" in message["Subject"]

The fixtures come in layers, as in pytest-httpserver: `mailcatcher_options` (settings,
a fixture a conftest.py can override), `mailcatcher_factory` (servers of a test's own)
and `mailcatcher`, the one most tests use.

The `mailcatcher` server is shared by the whole session (one per xdist worker, each on
a port the OS picked): starting a server per test costs more than most tests. A test
sees only the messages stored while it runs, reported by the catcher's listener, and
its teardown empties the Maildir, so one test's mail never shows up in another's. A
Maildir per test was measured too: creating each one's SQLite index costs 4-40 ms of
``fdatasync`` on an ordinary disk, over the 3 ms budget.

For its test, `mailcatcher` also points Django's mail at the server when the app
configured Django, points a Flask app at it on request (`Mailcatcher.configure_flask`;
both in `mailcatcher.frameworks`), and takes faults (`Mailcatcher.fail_next`, see
`mailcatcher.faults`); all of it is undone when the test ends. Async tests await
`Mailcatcher.wait_for_message_async`, the same wait driven without blocking their loop.

This module is what pytest imports at start-up, in every run of a project that has the
package installed, fixture used or not; so it imports pytest and nothing else. The
machinery (`mailcatcher._fixture`: the SMTP server, the store, the query core, asyncio,
the email parser) is imported when a test first asks for a fixture. A test in
``tests/plugin`` holds that line (issue 15).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

# The classes are `mailcatcher._fixture`'s, re-exported here for annotations and `except`
# clauses (``from mailcatcher.pytest_plugin import Mailcatcher``) by `__getattr__` below,
# so that naming them does not import the machinery at start-up.
if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._fixture import Mailcatcher as Mailcatcher
    from ._fixture import MailcatcherFactory as MailcatcherFactory
    from ._fixture import MailTimeoutError as MailTimeoutError
    from ._fixture import _Servers
    from .server import ServerOptions

__all__ = ["MailTimeoutError", "Mailcatcher", "MailcatcherFactory"]

_MARKER_HELP = (
    "mailcatcher(**options): options for the server behind the `mailcatcher` fixture, "
    "fields of mailcatcher.server.ServerOptions (e.g. tls=True, auth_required=True, "
    "django=False, faults=[Fault.fail('RCPT', '550 5.1.1 No such user')])"
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``mailcatcher`` marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line("markers", _MARKER_HELP)


def __getattr__(name: str) -> Any:
    """The public classes, imported from `mailcatcher._fixture` when first asked for.

    PEP 562: a module-level ``__getattr__`` is called for names the module does not define.
    """
    if name in __all__:
        from . import _fixture

        return getattr(_fixture, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@pytest.fixture(scope="session")
def mailcatcher_options() -> ServerOptions:
    """The options of the server the `mailcatcher` fixture shares.

    Override it in a conftest.py to change them for every test, e.g.
    ``return ServerOptions(auth_required=True)``; ``@pytest.mark.mailcatcher(...)``
    changes them for one test.
    """
    from .server import ServerOptions

    return ServerOptions()


@pytest.fixture(scope="session")
def _mailcatcher_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Servers]:
    from ._fixture import _Servers

    servers = _Servers(tmp_path_factory.mktemp("mailcatcher"))
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def mailcatcher(
    request: pytest.FixtureRequest,
    mailcatcher_options: ServerOptions,
    _mailcatcher_servers: _Servers,
) -> Iterator[Mailcatcher]:
    """An SMTP server on 127.0.0.1 and the mail it catches during this test.

    Point the code under test at ``mailcatcher.host`` and ``mailcatcher.port``, then
    read ``mailcatcher.messages`` or ``mailcatcher.wait_for_message(to=...)``.
    ``@pytest.mark.mailcatcher(tls=True, auth_required=True)`` changes the server's
    options for one test. The test fails if the server logged an error meanwhile.
    """
    from ._fixture import Mailcatcher, _with_options

    options = mailcatcher_options
    marker = request.node.get_closest_marker("mailcatcher")
    if marker is not None:
        if marker.args:
            pytest.fail(
                f"@pytest.mark.mailcatcher takes keyword options only, got {marker.args!r}",
                pytrace=False,
            )
        try:
            options = _with_options(options, marker.kwargs, "@pytest.mark.mailcatcher")
            options.check()
        except (TypeError, ValueError) as error:
            pytest.fail(f"@pytest.mark.mailcatcher: {error}", pytrace=False)
    server = _mailcatcher_servers.get(options)
    caught = Mailcatcher(server)
    # The shared Maildir is emptied before and after each test, so that `path` holds
    # this test's mail only, even if some arrived between tests (0.1 ms each time).
    server.maildir.clear()
    server.attach(caught)
    try:
        for fault in options.faults:
            server.server.faults.add(fault)
        # pytest-django's `mailoutbox` asks for Django's in-memory backend: leave it.
        if options.django and "mailoutbox" not in request.fixturenames:
            caught._wire_django()
        yield caught
    finally:
        server.detach()
        caught._unwire()
        server.maildir.clear()
    caught._fail_on_errors()


@pytest.fixture
def mailcatcher_factory(
    request: pytest.FixtureRequest,
    mailcatcher_options: ServerOptions,
    _mailcatcher_servers: _Servers,
) -> Iterator[MailcatcherFactory]:
    """Start SMTP servers of this test's own: ``mailcatcher_factory(tls=True)``.

    For tests that need several servers, or options the shared server should not
    have. Each call starts a server (`mailcatcher_options` with the options given);
    all are stopped, and their ports freed, after the test.
    """
    from ._fixture import MailcatcherFactory

    factory = MailcatcherFactory(mailcatcher_options, _mailcatcher_servers, request.node.name)
    try:
        yield factory
    finally:
        made = factory._stop()
    for caught in made:
        caught._fail_on_errors()
