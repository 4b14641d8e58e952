"""`mailcatcher.server`: port 0 read back, AUTH, STARTTLS, limits, clean stop, errors kept."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import smtplib
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailcatcher import get_messages
from mailcatcher.catcher import MailDir
from mailcatcher.server import ServerOptions, ThreadedSMTP, start_smtp
from tests.support import HOST, port_is_free

MESSAGE = b"From: app@example.com\r\nTo: eva@example.com\r\nSubject: Hello\r\n\r\nHi Eva\r\n"


@pytest.fixture
def maildir(tmp_path: Path) -> Iterator[MailDir]:
    handler = MailDir(tmp_path / "mail")
    yield handler
    handler.close()


@contextlib.contextmanager
def running(handler: Any, **options: Any) -> Iterator[ThreadedSMTP]:
    with ThreadedSMTP(handler, ServerOptions(**options)) as server:
        yield server
    assert server.errors == []


def login_with(client: smtplib.SMTP, mechanism: str, user: str, password: str) -> None:
    client.ehlo_or_helo_if_needed()
    client.user, client.password = user, password
    authobject = client.auth_login if mechanism == "LOGIN" else client.auth_plain
    code, reply = client.auth(mechanism, authobject)
    assert code == 235, reply


def test_two_servers_on_port_0_each_get_a_port_of_their_own(maildir: MailDir) -> None:
    with running(maildir) as first, running(maildir) as second:
        assert 0 not in (first.port, second.port)
        assert first.port != second.port
        for server in (first, second):
            with smtplib.SMTP(server.host, server.port) as client:
                client.sendmail("app@example.com", ["eva@example.com"], MESSAGE)
    assert len(get_messages(maildir.path)) == 2


def test_stop_frees_the_port_and_drops_open_connections(maildir: MailDir) -> None:
    server = ThreadedSMTP(maildir, ServerOptions(timeout=600))
    server.start()
    port = server.port
    idle = smtplib.SMTP(server.host, port)  # left open across stop()
    try:
        started = time.monotonic()
        server.stop()
        # Not waiting for the idle client: that would take its 600 s timeout.
        assert time.monotonic() - started < 120
        with pytest.raises(smtplib.SMTPServerDisconnected):
            idle.noop()
    finally:
        idle.close()
    assert port_is_free(port)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, port), timeout=2.0).close()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port
    server.stop()  # a second stop does nothing


def test_a_taken_port_is_reported_by_start(maildir: MailDir) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        server = ThreadedSMTP(maildir, ServerOptions(port=taken.getsockname()[1]))
        with pytest.raises(OSError, match="address already in use"):
            server.start()
    server.stop()


def test_start_smtp_runs_on_the_callers_loop(maildir: MailDir) -> None:
    async def scenario() -> tuple[int, list[str]]:
        smtp = await start_smtp(maildir, ServerOptions())
        loop = asyncio.get_running_loop()

        def send() -> None:
            with smtplib.SMTP(smtp.host, smtp.port) as client:
                client.sendmail("app@example.com", ["eva@example.com"], MESSAGE)

        await loop.run_in_executor(None, send)
        await smtp.close()
        return smtp.port, [m["Subject"] for m in get_messages(maildir.path)]

    port, subjects = asyncio.run(scenario())
    assert subjects == ["Hello"]
    assert port_is_free(port)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_any_login_is_accepted_on_the_plain_connection_and_recorded(
    maildir: MailDir, mechanism: str
) -> None:
    with running(maildir) as server, smtplib.SMTP(server.host, server.port) as client:
        login_with(client, mechanism, "eva@example.com", "any password")
        client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)
    [message] = get_messages(maildir.path)
    assert message["X-Mailcatcher-Auth-User"] == "eva@example.com"


def test_auth_required_refuses_mail_until_login_and_warns_nothing(maildir: MailDir) -> None:
    # filterwarnings = error: aiosmtpd's warning about AUTH without TLS would fail
    # every connection here.
    with running(maildir, auth_required=True) as server:
        with smtplib.SMTP(server.host, server.port) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)
            assert refused.value.smtp_code == 530
        with smtplib.SMTP(server.host, server.port) as client:
            client.login("app", "secret")
            client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)
    assert [m["X-Mailcatcher-Auth-User"] for m in get_messages(maildir.path)] == ["app"]


def test_a_login_logs_no_warning(maildir: MailDir, caplog: pytest.LogCaptureFixture) -> None:
    # aiosmtpd logs "Session.login_data is deprecated" at every login, about its own code.
    caplog.set_level(logging.INFO)
    with running(maildir) as server, smtplib.SMTP(server.host, server.port) as client:
        client.login("eva", "pw")
        client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("AUTH" in r.getMessage() for r in caplog.records)  # the log was captured


def test_a_client_cannot_forge_the_auth_user(maildir: MailDir) -> None:
    forged = b"X-Mailcatcher-Auth-User: admin\r\n" + MESSAGE
    with running(maildir) as server, smtplib.SMTP(server.host, server.port) as client:
        client.sendmail("app@example.com", ["bob@example.com"], forged)
    [message] = get_messages(maildir.path)
    assert message["X-Mailcatcher-Auth-User"] is None


def test_starttls_verifies_with_the_ca_and_not_without(maildir: MailDir) -> None:
    with running(maildir, tls=True) as server:
        assert server.ca_path is not None
        assert server.cert_path is not None
        files = [server.ca_path, server.cert_path]
        with smtplib.SMTP("localhost", server.port) as client:
            client.starttls(context=ssl.create_default_context(cafile=server.ca_path))
            client.login("eva", "pw")
            client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)
        # Proof the check above means something: the throwaway CA is trusted nowhere else.
        with (
            smtplib.SMTP(server.host, server.port) as client,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            client.starttls(context=ssl.create_default_context())
    assert all(not path.exists() for path in files)
    [message] = get_messages(maildir.path)
    assert message["X-Mailcatcher-Auth-User"] == "eva"


def test_tls_without_trustme_names_the_extra(
    maildir: MailDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # what a missing package looks like
    server = ThreadedSMTP(maildir, ServerOptions(tls=True))
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'aiosmtpd-mailcatcher\[tls\]'"):
        server.start()


def test_too_many_recipients_get_452(maildir: MailDir) -> None:
    with (
        running(maildir, max_recipients=2) as server,
        smtplib.SMTP(server.host, server.port) as client,
    ):
        client.ehlo()
        client.mail("app@example.com")
        assert client.rcpt("a@example.com")[0] == 250
        assert client.rcpt("b@example.com")[0] == 250
        # RFC 5321 4.5.3.1.10
        assert client.rcpt("c@example.com") == (452, b"4.5.3 Too many recipients")
        assert client.data(MESSAGE)[0] == 250
    [message] = get_messages(maildir.path)
    assert message["X-RcptTo"] == "a@example.com, b@example.com"


def test_connections_over_the_limit_get_421(maildir: MailDir) -> None:
    with running(maildir, max_connections=2) as server:
        with smtplib.SMTP(server.host, server.port), smtplib.SMTP(server.host, server.port):
            with pytest.raises(smtplib.SMTPConnectError) as refused:
                smtplib.SMTP(server.host, server.port)
            assert (refused.value.smtp_code, refused.value.smtp_error) == (
                421,
                b"4.3.2 Too many connections, try again later",
            )
        # The slots are given back when clients leave.
        with smtplib.SMTP(server.host, server.port) as client:
            client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)


def test_an_idle_connection_is_closed_after_the_timeout(maildir: MailDir) -> None:
    with running(maildir, timeout=0.3) as server, smtplib.SMTP(server.host, server.port) as client:
        # Wait for the close, not for a fixed time: a busy machine runs the server late.
        assert client.sock is not None
        client.sock.settimeout(60)
        while client.sock.recv(1024):  # anything the server says, then its end of file
            pass
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()


def test_a_message_over_the_size_limit_gets_552(maildir: MailDir) -> None:
    big = MESSAGE + (b"x" * 70 + b"\r\n") * 30
    with (
        running(maildir, data_size_limit=1000) as server,
        smtplib.SMTP(server.host, server.port) as client,
    ):
        # smtplib declares the size (RFC 1870), so MAIL FROM is refused at once...
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("app@example.com", ["bob@example.com"], big)
        assert refused.value.smtp_code == 552
        # ...and a client that does not is refused after DATA.
        client.mail("app@example.com")
        client.rcpt("bob@example.com")
        assert client.data(big)[0] == 552
    assert get_messages(maildir.path) == []


def test_smtputf8_addresses_are_accepted(maildir: MailDir) -> None:
    body = "Subject: Grüße\r\n\r\nHallo Jürgen\r\n".encode()
    with running(maildir) as server, smtplib.SMTP(server.host, server.port) as client:
        client.ehlo()
        assert client.has_extn("smtputf8")
        client.sendmail("app@example.com", ["jürgen@exämple.com"], body, ["SMTPUTF8"])
    [message] = get_messages(maildir.path)
    assert message["X-RcptTo"] == "jürgen@exämple.com"
    assert message["Subject"] == "Grüße"


class _Broken(MailDir):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raise ValueError("a bug in the handler")


def test_a_handler_error_is_recorded_and_answered_with_451(tmp_path: Path) -> None:
    handler = _Broken(tmp_path / "mail")
    try:
        with ThreadedSMTP(handler) as server, smtplib.SMTP(server.host, server.port) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)
            errors = list(server.errors)
    finally:
        handler.close()
    assert refused.value.smtp_code == 451
    assert b"ValueError" not in refused.value.smtp_error
    [error] = errors
    assert "unexpected error in the mail catcher" in error
    assert "ValueError: a bug in the handler" in error


def test_a_storage_failure_is_recorded(maildir: MailDir) -> None:
    with ThreadedSMTP(maildir) as server:
        (maildir.path / "tmp").rmdir()
        (maildir.path / "tmp").write_text("not a directory")
        with (
            smtplib.SMTP(server.host, server.port) as client,
            pytest.raises(smtplib.SMTPDataError) as refused,
        ):
            client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)
        errors = list(server.errors)
    assert refused.value.smtp_code == 451
    assert len(errors) == 1
    assert "cannot write" in errors[0]


def test_a_failed_tls_handshake_is_the_clients_and_not_recorded(maildir: MailDir) -> None:
    with (
        running(maildir, tls=True) as server,
        smtplib.SMTP(server.host, server.port) as client,
        pytest.raises(ssl.SSLError),
    ):
        client.starttls(context=ssl.create_default_context())
    # running() asserted that no error was recorded.


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_recipients": 0}, "max_recipients must be at least 1, got 0"),
        ({"max_connections": 0}, "max_connections must be at least 1, got 0"),
        ({"timeout": 0}, "timeout must be more than 0 seconds, got 0"),
        ({"port": 70000}, "port must be between 0 and 65535, got 70000"),
        ({"data_size_limit": -1}, "data_size_limit must be 0 or more"),
    ],
)
def test_options_that_cannot_work_are_refused(
    maildir: MailDir, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ThreadedSMTP(maildir, ServerOptions(**options)).start()


def test_auth_plain_with_an_initial_response(maildir: MailDir) -> None:
    # Some clients (curl, msmtp) send the credentials on the AUTH line itself.
    token = base64.b64encode(b"\0curl-user\0pw").decode()
    with running(maildir) as server, smtplib.SMTP(server.host, server.port) as client:
        client.ehlo()
        assert client.docmd("AUTH", f"PLAIN {token}")[0] == 235
        client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)
    [message] = get_messages(maildir.path)
    assert message["X-Mailcatcher-Auth-User"] == "curl-user"


@pytest.mark.parametrize("user", ["app\r\nX-RcptTo: boss@corp.com", "app\n\nInjected body"])
def test_an_auth_user_with_line_breaks_stays_in_its_header(maildir: MailDir, user: str) -> None:
    # The user name is the client's to choose; a CR or LF in it must not end the header.
    with running(maildir) as server, smtplib.SMTP(server.host, server.port) as client:
        login_with(client, "PLAIN", user, "pw")
        client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)
    [message] = get_messages(maildir.path)
    assert message.get_all("X-RcptTo") == ["bob@example.com"]
    assert message["X-Mailcatcher-Auth-User"] == user.replace("\r", "\\x0d").replace("\n", "\\x0a")
    assert message.get_content() == "Hi Eva\n"


def test_a_failing_listener_does_not_turn_the_250_into_an_error(
    maildir: MailDir, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(entry: object) -> None:
        raise BrokenPipeError("stdout is gone")

    maildir.listeners.append(broken)
    with ThreadedSMTP(maildir, ServerOptions()) as server:
        with smtplib.SMTP(server.host, server.port) as client:
            client.sendmail("app@example.com", ["bob@example.com"], MESSAGE)  # no exception
        # The failure is logged (and recorded), not hidden.
        assert any("a listener failed" in error for error in server.errors)
    assert len(get_messages(maildir.path)) == 1
