"""The stock ``aiosmtpd`` command with ``-c mailcatcher.catcher.MailFile``, real clients."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailcatcher import get_latest_message
from mailcatcher.catcher import MailFile
from tests.support import HOST, Proc, aiosmtpd_argv, catcher, free_port

HANDLER = "mailcatcher.catcher.MailFile"


@pytest.fixture
def mail_file(tmp_path: Path) -> Path:
    return tmp_path / "latest.mail"


@pytest.fixture
def server(mail_file: Path) -> Iterator[Proc]:
    with catcher("mailfile", mail_file) as running:
        yield running


def send(server: Proc, message: EmailMessage, rcpts: list[str] | None = None) -> None:
    with smtplib.SMTP(server.host, server.port) as client:
        client.send_message(message, to_addrs=rcpts)


def latest(path: Path) -> EmailMessage:
    message = get_latest_message(path)
    assert message is not None, f"nothing stored in {path}"
    return message


def test_plain_text_is_stored_before_the_250(server: Proc, mail_file: Path) -> None:
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "eva@example.com"
    message["Subject"] = "Verify your address"
    message.set_content("Open https://example.com/verify?token=abc\n")
    send(server, message)
    # No sleep: once smtplib has read the 250, the file holds the message.
    caught = latest(mail_file)
    assert caught["Subject"] == "Verify your address"
    assert caught.get_content() == "Open https://example.com/verify?token=abc\n"
    assert caught["X-MailFrom"] == "app@example.com"
    assert caught["X-RcptTo"] == "eva@example.com"
    assert caught["X-Peer"].startswith("('127.0.0.1', ")


def test_multipart_with_html_and_binary_attachment(server: Proc, mail_file: Path) -> None:
    blob = bytes(range(256)) * 64
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "eva@example.com"
    message["Subject"] = "Your invoice"
    message.set_content("See the attached invoice.\n")
    message.add_alternative("<p>See the <b>attached</b> invoice.</p>\n", subtype="html")
    message.add_attachment(blob, maintype="application", subtype="octet-stream", filename="a.bin")
    send(server, message)
    caught = latest(mail_file)
    body = caught.get_body(("html",))
    assert body is not None
    assert body.get_content() == "<p>See the <b>attached</b> invoice.</p>\n"
    plain = caught.get_body(("plain",))
    assert plain is not None
    assert plain.get_content() == "See the attached invoice.\n"
    [attachment] = list(caught.iter_attachments())
    assert attachment.get_filename() == "a.bin"
    assert attachment.get_content() == blob
    # The classic API works too.
    assert caught.is_multipart()
    assert isinstance(caught.get_payload(), list)


def test_utf8_with_smtputf8(mail_file: Path) -> None:
    with catcher("mailfile", mail_file, utf8=True) as server:
        message = EmailMessage()
        message["From"] = "Zoë <zoë@exämple.com>"
        message["To"] = "jürgen@exämple.com"
        message["Subject"] = "Grüße aus Köln ☕"
        message.set_content("Schöne Grüße — 你好\n")
        with smtplib.SMTP(server.host, server.port) as client:
            assert client.has_extn("smtputf8") or client.ehlo()[0] == 250
            client.send_message(message, mail_options=["SMTPUTF8"])
    caught = latest(mail_file)
    assert caught["Subject"] == "Grüße aus Köln ☕"
    assert caught.get_content() == "Schöne Grüße — 你好\n"
    assert caught["X-MailFrom"] == "zoë@exämple.com"
    assert caught["X-RcptTo"] == "jürgen@exämple.com"


def test_8bit_body_rfc2047_and_long_headers(server: Proc, mail_file: Path) -> None:
    long_subject = "Ünïcödé" + " word" * 60
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "eva@example.com"
    message["Subject"] = long_subject  # folded and RFC 2047 encoded by the client
    message["X-Long"] = "x" * 900
    message.set_content("8-bit body: naïve café\n", cte="8bit")
    send(server, message)
    caught = latest(mail_file)
    assert caught["Subject"] == long_subject
    assert caught["X-Long"] == "x" * 900
    assert caught.get_content() == "8-bit body: naïve café\n"


def test_several_recipients(server: Proc, mail_file: Path) -> None:
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "eva@example.com"
    message["Subject"] = "Team news"
    message.set_content("hi\n")
    send(server, message, ["eva@example.com", "bob@example.com", "zoe@example.com"])
    assert latest(mail_file)["X-RcptTo"] == "eva@example.com, bob@example.com, zoe@example.com"


def test_forged_envelope_headers_do_not_win(server: Proc, mail_file: Path) -> None:
    data = (
        b"From: app@example.com\r\nTo: eva@example.com\r\nSubject: forged\r\n"
        b"X-RcptTo: boss@example.com\r\nX-MailFrom: ceo@example.com\r\n"
        b"X-Peer: ('10.0.0.1', 25)\r\nX-Mailcatcher-Auth-User: admin\r\n\r\nhi\r\n"
    )
    with smtplib.SMTP(server.host, server.port) as client:
        client.sendmail("app@example.com", ["eva@example.com"], data)
    caught = latest(mail_file)
    assert caught.get_all("X-RcptTo") == ["eva@example.com"]
    assert caught.get_all("X-MailFrom") == ["app@example.com"]
    assert caught["X-Peer"].startswith("('127.0.0.1', ")
    assert caught["X-Mailcatcher-Auth-User"] is None


def test_from_lines_are_not_mangled(server: Proc, mail_file: Path) -> None:
    # Raw bytes: smtplib's send_message() would itself write ">From " (its generator
    # mangles by default), which would hide a mangling server.
    data = b"Subject: mbox trap\r\n\r\nFrom the start\r\n>From quoted\r\n.leading dot\r\n"
    with smtplib.SMTP(server.host, server.port) as client:
        client.sendmail("app@example.com", ["eva@example.com"], data)
    caught = latest(mail_file)
    assert caught.get_content() == "From the start\n>From quoted\n.leading dot\n"


def test_write_failure_answers_451_and_the_next_message_is_stored(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    mail_file = spool / "latest.mail"
    with catcher("mailfile", mail_file) as server:
        with smtplib.SMTP(server.host, server.port) as client:
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: first\r\n\r\n1\r\n")
        before = mail_file.read_bytes()
        # The path becomes a directory: the rename cannot replace it.
        mail_file.unlink()
        mail_file.mkdir()
        with (
            smtplib.SMTP(server.host, server.port) as client,
            pytest.raises(smtplib.SMTPDataError) as excinfo,
        ):
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: lost\r\n\r\n2\r\n")
        assert excinfo.value.smtp_code == 451
        error = excinfo.value.smtp_error
        reply = error.decode() if isinstance(error, bytes) else error
        assert reply.startswith(f"4.3.0 cannot write {mail_file}: ")
        assert "Error" not in reply  # no Python class name
        # The directory vanishes: still a 451, still running.
        mail_file.rmdir()
        shutil.rmtree(spool)
        with (
            smtplib.SMTP(server.host, server.port) as client,
            pytest.raises(smtplib.SMTPDataError) as excinfo,
        ):
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: lost\r\n\r\n3\r\n")
        assert excinfo.value.smtp_code == 451
        assert b"No such file or directory" in excinfo.value.smtp_error
        # The cause is gone: the next message is stored.
        spool.mkdir()
        with smtplib.SMTP(server.host, server.port) as client:
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: back\r\n\r\n4\r\n")
        assert latest(mail_file)["Subject"] == "back"
        assert os.listdir(spool) == ["latest.mail"]
    assert before.startswith(b"Subject: first")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "MailFile takes exactly one argument, the file to write each message to (got 0)"),
        (("a.mail", "b.mail"), "MailFile takes exactly one argument"),
        (("missing/dir/latest.mail",), "directory missing/dir does not exist"),
    ],
)
def test_command_line_errors(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    argv = aiosmtpd_argv(free_port(), HANDLER, *args)
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_concurrent_senders_and_a_polling_reader(server: Proc, mail_file: Path) -> None:
    sent = {f"message {n}": f"body {n}\n" * (n % 7 * 300 + 1) for n in range(60)}
    done = threading.Event()
    reads = 0

    def send_one(subject: str) -> None:
        data = f"Subject: {subject}\r\n\r\n" + sent[subject].replace("\n", "\r\n")
        with smtplib.SMTP(server.host, server.port) as client:
            client.sendmail("app@example.com", ["eva@example.com"], data.encode())

    def read() -> None:
        nonlocal reads
        while not done.is_set():
            message = get_latest_message(mail_file)
            if message is not None:
                assert message.get_content() == sent[str(message["Subject"])]
                reads += 1

    reader = concurrent.futures.ThreadPoolExecutor(1).submit(read)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(send_one, sent))
    done.set()
    reader.result(timeout=30)
    assert reads > 0
    final = latest(mail_file)
    assert final.get_content() == sent[str(final["Subject"])]


def test_get_latest_message_three_ways(server: Proc, mail_file: Path) -> None:
    from mailcatcher.catcher import get_latest_message as from_catcher

    with smtplib.SMTP(server.host, server.port) as client:
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: three ways\r\n\r\nx\r\n")
    assert from_catcher(mail_file)["Subject"] == "three ways"  # type: ignore[index]
    assert MailFile.get_latest_message(mail_file)["Subject"] == "three ways"  # type: ignore[index]
    assert MailFile(mail_file).get_latest_message()["Subject"] == "three ways"  # type: ignore[index]
    assert MailFile(mail_file).get_latest_email()["Subject"] == "three ways"  # type: ignore[index]


def test_the_articles_fixture(tmp_path: Path) -> None:
    """The hand-written fixture from the article, on a free port instead of 8025."""
    from aiosmtpd.controller import Controller

    from mailcatcher import MailFile as ArticleMailFile

    def send_welcome(host: str, port: int) -> None:
        message = EmailMessage()
        message["From"] = "app@example.com"
        message["To"] = "eva@example.com"
        message["Subject"] = "Welcome"
        message.set_content("Welcome aboard!\n")
        with smtplib.SMTP(host, port) as client:
            client.send_message(message)

    catcher = ArticleMailFile(tmp_path / "testing.mail")
    controller = Controller(catcher, hostname=HOST, port=free_port())
    controller.start()
    try:
        send_welcome(controller.hostname, controller.port)
        email = catcher.get_latest_email()
    finally:
        controller.stop()
    assert email is not None
    assert email["Subject"] == "Welcome"
    assert email["To"] == "eva@example.com"


def test_message_class_is_passed_to_the_base_class(tmp_path: Path) -> None:
    from email.message import Message

    class Custom(Message):
        pass

    assert MailFile(tmp_path / "x.mail", Custom).message_class is Custom


@pytest.mark.parametrize("tool", ["swaks", "msmtp", "curl"])
def test_real_clients(server: Proc, mail_file: Path, tmp_path: Path, tool: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed; .ci/run installs it")
        pytest.skip(f"{tool} is not installed (apt-get install {tool})")
    raw = tmp_path / "message.eml"
    raw.write_bytes(
        b"From: app@example.com\r\nTo: eva@example.com\r\nSubject: via "
        + tool.encode()
        + b"\r\n\r\nFrom a real client\r\n"
    )
    address = f"{server.host}:{server.port}"
    commands = {
        "swaks": [
            "swaks", "--server", address, "--from", "app@example.com",
            "--to", "eva@example.com", "--data", f"@{raw}",
        ],
        "msmtp": [
            "msmtp", f"--host={server.host}", f"--port={server.port}",
            "--from=app@example.com", "eva@example.com",
        ],
        "curl": [
            "curl", "--silent", "--show-error", f"smtp://{address}",
            "--mail-from", "app@example.com", "--mail-rcpt", "eva@example.com",
            "--upload-file", str(raw),
        ],
    }  # fmt: skip
    stdin = raw.read_bytes() if tool == "msmtp" else None
    result = subprocess.run(commands[tool], input=stdin, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    caught = latest(mail_file)
    assert caught["Subject"] == f"via {tool}"
    # swaks ends the data with one more line break of its own.
    assert caught.get_content().rstrip("\n") == "From a real client"
    assert caught["X-RcptTo"] == "eva@example.com"


def test_a_busy_server_still_answers_while_the_file_is_written(server: Proc) -> None:
    """A half-open connection does not stop another client."""
    with socket.create_connection((server.host, server.port)) as idle:
        idle.recv(1024)
        with smtplib.SMTP(server.host, server.port) as client:
            assert client.noop()[0] == 250


def test_python_dash_m_aiosmtpd_is_the_real_command() -> None:
    assert aiosmtpd_argv(1, HANDLER)[:3] == [sys.executable, "-m", "aiosmtpd"]
