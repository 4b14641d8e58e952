"""The HTTP limits: the options that set them, and ``mailcatcher web`` keeping them.

The reliability suite (``tests/reliability/test_web_bounds.py``) runs the hostile clients
against ``serve``; here, the command line's side of the contract.
"""

from __future__ import annotations

import inspect
import socket
import time
import urllib.request
from pathlib import Path

from mailcatcher.cli import _HTTP_LIMITS
from mailcatcher.web import start_web
from mailcatcher.web.connections import IDLE_TIMEOUT, MAX_CONNECTIONS
from tests.support import HOST
from tests.support import web as web_inbox


def admitted(port: int) -> socket.socket:
    """A connection the server admitted and answered once, kept open.

    The harness's own probe (is it listening yet?) may still hold the one place for a
    moment after it closed: a 503 is tried again.
    """
    deadline = time.monotonic() + 10
    while True:
        sock = socket.create_connection((HOST, port), timeout=10)
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        if sock.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n"):
            return sock
        sock.close()
        if time.monotonic() > deadline:
            raise AssertionError("no connection was admitted in 10 s")
        time.sleep(0.05)


def test_the_options_name_start_webs_keywords_and_state_its_defaults() -> None:
    # The CLI cannot import the web extra for the defaults, so its help repeats them.
    texts = {keyword: text for *_, keyword, text in _HTTP_LIMITS}
    parameters = inspect.signature(start_web).parameters
    assert parameters["idle_timeout"].default == IDLE_TIMEOUT
    assert parameters["max_connections"].default == MAX_CONNECTIONS
    assert f"(default: {IDLE_TIMEOUT:g})" in texts["idle_timeout"]
    assert f"(default: {MAX_CONNECTIONS})" in texts["max_connections"]


def test_web_answers_503_past_its_connection_cap(tmp_path: Path) -> None:
    with web_inbox(tmp_path / "mail", "--http-max-connections", "1") as proc:
        assert proc.http_port is not None
        with admitted(proc.http_port) as held:
            assert held.fileno() >= 0  # admitted, answered, and kept open
            with socket.create_connection((HOST, proc.http_port), timeout=10) as extra:
                answer = b""
                while chunk := extra.recv(4096):
                    answer += chunk
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert answer.endswith(
            b"503 too many connections: this inbox serves 1 at once "
            b"(--http-max-connections); try again when some have closed\n"
        )
        # The held connection closed: its place is free again (noticed within moments).
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{proc.url}livez", timeout=10) as response:
                    assert response.status == 200
                    break
            except OSError:
                continue
        else:
            raise AssertionError("the inbox never answered after the held connection closed")
