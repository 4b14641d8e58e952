"""Messages and senders the PostgreSQL tests share."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from mailcatcher.store import MAIL_FROM_HEADER, RCPT_TO_HEADER
from tests.support import MAILCATCHER

HOST = "127.0.0.1"


def message(subject: str, to: str = "eva@example.com", body: str = "Hello") -> EmailMessage:
    """A message as the catcher stores it: envelope headers included."""
    built = EmailMessage()
    built["From"] = "app@example.com"
    built["To"] = to
    built["Subject"] = subject
    built[MAIL_FROM_HEADER] = "app@example.com"
    built[RCPT_TO_HEADER] = to
    built.set_content(body)
    return built


def send(port: int, subject: str, to: str = "eva@example.com", body: str = "Hello") -> None:
    """Send one message over SMTP to ``HOST:port``; raises on anything but 250."""
    mail = EmailMessage()
    mail["From"] = "app@example.com"
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(body)
    with smtplib.SMTP(HOST, port, timeout=30) as client:
        client.send_message(mail)


def serve_command(url: str, *options: str) -> list[str]:
    """``mailcatcher serve --store URL`` with its web inbox, on ports the OS picks.

    For the harness's `tests.support.start`, which reads the ports from the banner.
    """
    return [
        *MAILCATCHER,
        "serve",
        "--quiet",
        "--smtp",
        f"{HOST}:0",
        "--http",
        f"{HOST}:0",
        "--store",
        url,
        *options,
    ]
