"""Clients for the reliability suite: raw SMTP sessions and the messages they send.

The servers come from `tests.support` (the one harness): ``catcher(kind, store)`` with
`kind` "mailfile", "maildir" or "serve", so a test can be parametrized over them.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support import HOST, Proc, catcher


@contextmanager
def running(kind: str, store: Path, log: Path) -> Iterator[Proc]:
    """`tests.support.catcher` with its output in `log` (the spelling older tests use)."""
    with catcher(kind, store, log=log, check=False) as proc:
        yield proc


def data_reply(
    port: int,
    sender: str,
    recipients: Sequence[str],
    data: bytes,
    *,
    smtputf8: bool = False,
    timeout: float = 60.0,
) -> tuple[int, str]:
    """Send one message as raw bytes and return the reply to its DATA (or the refusal).

    Raw bytes through `smtplib.SMTP.data`: `send_message` would quote ``From `` lines on
    the client side. A refused MAIL or RCPT returns that reply instead.
    """
    with smtplib.SMTP(HOST, port, timeout=timeout) as client:
        client.ehlo("reliability.example")
        options = []
        if smtputf8:
            options.append("SMTPUTF8")
            client.command_encoding = "utf-8"
        if any(b > 127 for b in data):
            options.append("BODY=8BITMIME")
        code, reply = client.mail(sender, options)
        if code != 250:
            return code, reply.decode(errors="replace")
        for recipient in recipients:
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                return code, reply.decode(errors="replace")
        code, reply = client.data(data)
        return code, reply.decode(errors="replace")


def send_ok(
    port: int, sender: str, recipients: Sequence[str], data: bytes, *, smtputf8: bool = False
) -> None:
    """Send and require ``250``."""
    code, reply = data_reply(port, sender, recipients, data, smtputf8=smtputf8)
    if code != 250:
        raise AssertionError(f"expected 250 for the DATA, got {code} {reply}")


def simple_message(token: str, body: str = "hello\n", *, size: int = 0) -> bytes:
    """A small text message whose Subject and Message-ID carry `token`; pad to `size`."""
    head = (
        f"From: sender@example.com\r\nTo: {token}@example.com\r\nSubject: {token}\r\n"
        f"Message-ID: <{token}@reliability.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode()
    payload = body.replace("\n", "\r\n").encode()
    if size > len(head) + len(payload):
        line = b"x" * 76 + b"\r\n"
        missing = size - len(head) - len(payload)
        payload += line * (missing // len(line)) + b"y" * (missing % len(line))
    return head + payload
