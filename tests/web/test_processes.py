"""``mailcatcher web`` over a Maildir the stock ``aiosmtpd`` command writes: two processes."""

from __future__ import annotations

import json
import smtplib
import threading
import time
import urllib.request
from pathlib import Path

from tests.support import HOST, catcher
from tests.support import web as web_inbox
from tests.web.support import mail


def get_json(url: str, timeout: float = 15.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def test_web_picks_up_mail_the_stock_aiosmtpd_command_stores(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    # Started first: the Maildir does not exist until aiosmtpd's handler creates it.
    with web_inbox(maildir) as web, catcher("maildir", maildir) as smtp:
        base = web.url.rstrip("/")
        waited: dict[str, object] = {}

        def wait() -> None:
            started = time.monotonic()
            waited["message"] = get_json(f"{base}/api/v1/wait?query=to:eva&timeout=60", 90)
            waited["seconds"] = time.monotonic() - started

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.3)
        with smtplib.SMTP(HOST, smtp.port, timeout=30) as client:
            client.send_message(mail("from the stock command"))
        waiter.join(90)
        listed = get_json(f"{base}/api/v1/messages")
    message = waited["message"]
    assert isinstance(message, dict)
    assert message["Subject"] == "from the stock command"
    assert isinstance(waited["seconds"], float)
    assert waited["seconds"] < 50  # woken by the arrival, not by its 60 s timeout
    assert isinstance(listed, dict)
    assert [m["Subject"] for m in listed["messages"]] == ["from the stock command"]
