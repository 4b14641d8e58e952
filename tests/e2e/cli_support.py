"""Helpers for the Maildir and command tests: realistic mail, a client, the CLI run to its end.

Catcher processes come from `tests.support`, the one harness.
"""

from __future__ import annotations

import base64
import mailbox
import os
import shutil
import smtplib
import subprocess
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support import MAILCATCHER

# A 1x1 PNG and a one-page PDF: real formats, tiny.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)

#: The links a reader should find, in order, with ``&amp;`` decoded.
CONFIRM = (
    "https://click.shop.example/ls/click?upn=u001.Qm9vdHN0cmFwIHRyYWNraW5nIGxpbmsgZm9yIGV2YQ"
    "&utm_source=signup&utm_medium=email&utm_campaign=confirm&token=7f3c9a1e5b2d4f60"
)
VIEW = "https://shop.example/view?id=1042&k=9f8e7d"
UNSUBSCRIBE = "https://shop.example/unsubscribe?u=eva%40example.com&list=news"
LINKS = [VIEW, CONFIRM, UNSUBSCRIBE]

HTML = f"""\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Confirm your address</title>
<style>td {{ font-family: Arial, sans-serif; }} .btn {{ background: #0a66c2; }}</style>
</head>
<body style="margin:0;padding:0;background:#f4f4f4">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>
<td align="center">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0">
<tr><td style="font-size:11px;color:#888" align="right">
<a href="{VIEW.replace("&", "&amp;")}" style="color:#888">View in browser</a></td></tr>
<tr><td align="left">
<img src="cid:logo@shop.example" alt="Acme Shop" width="120" height="40"></td></tr>
<tr><td style="padding:24px;background:#ffffff">
<h1 style="font-size:22px">Hi Eva,</h1>
<p>Thanks for signing up at Acme Shop. Please confirm your email address to finish \
creating your account; the link is valid for 24&nbsp;hours.</p>
<table role="presentation" cellpadding="0" cellspacing="0"><tr>
<td class="btn" style="border-radius:4px;padding:12px 20px">
<a href="{CONFIRM.replace("&", "&amp;")}" style="color:#ffffff;text-decoration:none">\
Confirm my address</a></td></tr></table>
<p>Your first order (#1042, total 42,00&nbsp;&euro;) is attached as a PDF. Grüße aus Köln!</p>
</td></tr>
<tr><td style="font-size:11px;color:#888;padding:12px">
<a href="{UNSUBSCRIBE.replace("&", "&amp;")}">Unsubscribe</a> &middot;
<a href="mailto:help@shop.example">Help</a></td></tr>
</table></td></tr></table>
</body></html>
"""


def signup_mail(to: str = "Eva Example <eva@example.com>") -> EmailMessage:
    """A shop's HTML-only signup mail: table layout, tracking links, logo, PDF invoice.

    The HTML is quoted-printable, so its long lines (the tracking URL among them) are cut
    by soft line breaks and its ``=`` signs are ``=3D``; the logo is an inline image in a
    multipart/related, referred to by ``cid:``; the invoice is a PDF attachment.
    """
    message = EmailMessage()
    message["From"] = "Acme Shop <noreply@shop.example>"
    message["To"] = to
    message["Subject"] = "Confirm your email address"
    message["Date"] = "Mon, 04 May 2026 09:30:00 +0200"
    message["Message-ID"] = "<signup-1042@shop.example>"
    message.set_content(HTML, subtype="html", cte="quoted-printable")
    message.add_related(
        PNG, "image", "png", cid="<logo@shop.example>", filename="logo.png", disposition="inline"
    )
    message.add_attachment(PDF, "application", "pdf", filename="invoice-1042.pdf")
    return message


def plain(subject: str, to: str, body: str = "Hello.\n") -> EmailMessage:
    """A one-part text message from app@example.com."""
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


#: What a terminal would act on, hidden in a mail: OSC 52 (write the clipboard) in the
#: subject, OSC 0 (retitle the window), CSI sequences (clear the screen, hide text) and
#: U+009B, which is CSI as one C1 character.
TITLE = "\x1b]0;TITLE\x07"
HOSTILE_SENDER = "eve\x1b[8m@example.com"  # aiosmtpd keeps "eve\x1b", cut at the "["
HOSTILE_TEXT = (
    f"Hello {TITLE} there \u009b2J.\r\nConfirm: https://shop.example/confirm?t=1{TITLE}\r\nBye\r\n"
)
HOSTILE_HTML = f'<p>Hi {TITLE}<a href="https://shop.example/h">go</a></p>'


def hostile_mail() -> bytes:
    """A mail whose subject, From, body, links and HTML hold terminal control sequences.

    The subject is the RFC 2047 word ``=?utf-8?q?hi=1B]52;c;...=07?=``; the text part is
    base64 with CRLF line ends, as many mail programs send it; the HTML part is 8bit.
    """
    text = base64.encodebytes(HOSTILE_TEXT.encode()).decode().replace("\n", "\r\n")
    return (
        "From: =?utf-8?q?Eve=1B[2J?= <eve@example.com>\r\n"
        "To: eva@example.com\r\n"
        "Subject: =?utf-8?q?hi=1B]52;c;aGFja2Vk=07_=C2=9B31m?=\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n'
        "\r\n"
        "--b\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        f"{text}"
        "--b\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"{HOSTILE_HTML}\r\n"
        "--b--\r\n"
    ).encode()


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as SMTP carries it (CRLF lines), for `smtplib.SMTP.sendmail`.

    `send_message` is not used: its generator mangles body lines that start with "From ".
    """
    return message.as_bytes(policy=policy.SMTP)


def send(
    host: str,
    port: int,
    message: EmailMessage | bytes,
    sender: str,
    rcpts: list[str],
    *,
    login: tuple[str, str] | None = None,
) -> None:
    """Send `message` (or its wire bytes) with smtplib; return once the server says 250."""
    data = message if isinstance(message, bytes) else wire_bytes(message)
    with smtplib.SMTP(host, port, timeout=30) as client:
        if login is not None:
            client.login(*login)
        client.sendmail(sender, rcpts, data)


# --- the command ---------------------------------------------------------------------------


@dataclass
class Result:
    """What a finished command printed and returned."""

    status: int
    out: str
    err: str


def run_cli(*args: str, timeout: float = 60.0) -> Result:
    """Run ``mailcatcher ARGS...`` to completion; a traceback always fails the test."""
    done = subprocess.run(
        [*MAILCATCHER, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Result(done.returncode, done.stdout, done.stderr)


# --- mutt ----------------------------------------------------------------------------------

needs_mutt = pytest.mark.skipif(
    shutil.which("mutt") is None or shutil.which("script") is None,
    reason="needs mutt and script (util-linux) for a terminal",
)


def mutt_subjects(folder: Path, tmp_path: Path) -> list[str]:
    """The subjects mutt reads in Maildir `folder`, sorted: mutt copies them all to an mbox."""
    copy = tmp_path / "copy.mbox"
    screen = tmp_path / "mutt.typescript"
    # mutt only runs in a terminal; script(1) gives it one. It opens the Maildir read-only
    # (-R), tags every message (~A), copies the tagged ones to an mbox file and quits.
    keys = f"<tag-pattern>~A<enter><tag-prefix><copy-message>{copy}<enter><exit>"
    mutt = (
        f"mutt -n -F /dev/null -R -f {folder} -e 'set confirmcreate=no mbox_type=mbox "
        f'sort=mailbox-order; push "{keys}"\''
    )
    # script(1) types an end of file (^D) into the terminal once its own input ends: with
    # /dev/null as input, a keypress mutt could read at any moment on a slow machine. An
    # open pipe, closed only after mutt has quit, types nothing.
    terminal = subprocess.Popen(
        ["script", "-qec", mutt, str(screen)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TERM": "dumb"},
    )
    try:
        status = terminal.wait(timeout=120)
    finally:
        if terminal.poll() is None:
            terminal.kill()
            terminal.wait()
        assert terminal.stdin is not None
        terminal.stdin.close()
    shown = screen.read_bytes().decode(errors="replace") if screen.exists() else ""
    assert status == 0, shown
    box = mailbox.mbox(copy, create=False)
    try:
        return sorted(str(m["Subject"]) for m in box)
    finally:
        box.close()
