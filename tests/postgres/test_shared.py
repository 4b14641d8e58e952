"""Several catchers on one database: waits across instances, and a database restart.

Two ``mailcatcher serve --store postgresql://...`` processes share one database, as two
replicas behind a TCP load balancer would. Mail sent to either is seen, waited for and
streamed by both; the database crashing mid-stream costs ``451``s (which clients retry),
never a message that got a ``250``.
"""

from __future__ import annotations

import json
import smtplib
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

import mailcatcher
from tests.support import MAILCATCHER, Proc, start

from .mail import send, serve_command
from .server import PASSWORD, PostgresServer

#: Generous bounds for things that happen at once, so a loaded machine does not fail them.
PATIENCE = 60.0


def serve(url: str) -> Proc:
    """``mailcatcher serve --store URL`` with its web inbox, on OS-picked ports."""
    return start(serve_command(url))


@pytest.fixture
def two(database_url: str) -> Iterator[tuple[Proc, Proc]]:
    """Two ``serve`` instances on one database; stopped by PID, their logs checked."""
    first = serve(database_url)
    try:
        second = serve(database_url)
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        outputs = [first.stop(), second.stop()]
    for output in outputs:
        assert "Traceback" not in output, output
        assert PASSWORD not in output


def wait_on(proc: Proc, query: str) -> dict[str, object]:
    """``GET /api/v1/wait?query=...`` on `proc`'s web inbox: the message that matched."""
    address = f"{proc.url}api/v1/wait?" + urllib.parse.urlencode(
        {"query": query, "timeout": str(PATIENCE)}
    )
    with urllib.request.urlopen(address, timeout=PATIENCE + 30) as response:
        found = json.load(response)
    assert isinstance(found, dict)
    return found


def test_twenty_senders_across_two_instances_twenty_waits_on_either(
    two: tuple[Proc, Proc], database_url: str
) -> None:
    instances = two
    count = 20
    token = f"{time.time_ns()}"

    def address(n: int) -> str:
        return f"r{n:02d}-{token}@example.com"

    with ThreadPoolExecutor(max_workers=2 * count) as pool:
        # Each check waits on the instance the mail does not go through.
        waits = [
            pool.submit(wait_on, instances[(n + 1) % 2], f"to:{address(n)}") for n in range(count)
        ]
        sends = [
            pool.submit(send, instances[n % 2].port, f"message {n}", address(n))
            for n in range(count)
        ]
        for sent in sends:
            sent.result(timeout=PATIENCE)
        found = [waited.result(timeout=PATIENCE + 60) for waited in waits]
    for n, message in enumerate(found):
        assert message["Subject"] == f"message {n}"
        assert message["To"] == [{"Name": "", "Address": address(n)}]
    assert len({str(message["ID"]) for message in found}) == count
    assert len(mailcatcher.get_messages(database_url)) == count


def test_the_live_stream_of_one_instance_wakes_on_mail_to_the_other(
    two: tuple[Proc, Proc],
) -> None:
    first, second = two
    with socket.create_connection((second.host, second.http_port or 0), PATIENCE) as sock:
        sock.sendall(
            f"GET /api/events HTTP/1.1\r\nHost: {second.host}:{second.http_port}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        stream = sock.makefile("rb")
        until_line(stream, b"event: hello")
        send(first.port, "streamed", "live@example.com")
        until_line(stream, b"event: change")


def until_line(stream: object, wanted: bytes) -> None:
    """Read lines from `stream` until one starts with `wanted` (fail at end of stream)."""
    while True:
        line = stream.readline()  # type: ignore[attr-defined]
        if not line:
            raise AssertionError(f"the stream ended before {wanted!r}")
        if line.startswith(wanted):
            return


class Sender:
    """Sends numbered messages one after another, retrying each on a 4xx until a 250.

    Records which subjects got a ``250`` and how many answers were ``451``.
    """

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.acknowledged: list[str] = []
        self.refused = 0
        self.reply = ""
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        deadline = time.monotonic() + 4 * PATIENCE
        for n in range(self.count):
            subject = f"stream {n}"
            while time.monotonic() < deadline:
                try:
                    send(self.port, subject, "stream@example.com")
                except smtplib.SMTPResponseException as error:
                    with self.lock:
                        if error.smtp_code == 451:
                            self.refused += 1
                            reply = error.smtp_error
                            if isinstance(reply, bytes):
                                reply = reply.decode(errors="replace")
                            self.reply = reply
                        else:
                            self.errors.append(f"{error.smtp_code} {error.smtp_error!r}")
                    time.sleep(0.02)
                    continue
                with self.lock:
                    self.acknowledged.append(subject)
                break
            else:
                self.errors.append(f"{subject}: no 250 in time")
                return

    def progress(self) -> tuple[int, int]:
        with self.lock:
            return len(self.acknowledged), self.refused


def until(condition: object, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {PATIENCE} s")
        time.sleep(0.01)


def test_a_database_crash_mid_stream_loses_no_acknowledged_message(
    postgres: PostgresServer, database_url: str
) -> None:
    proc = serve(database_url)
    sender = Sender(proc.port, 60)
    late = ThreadPoolExecutor(max_workers=1)
    try:
        # A check that waits across the outage, for mail sent once the database is back.
        waiting = late.submit(wait_on, proc, "to:after@example.com")
        sender.thread.start()
        until(lambda: sender.progress()[0] >= 10, "10 messages acknowledged")
        postgres.halt(crash=True)  # SIGQUIT: no clean shutdown, recovery from the WAL
        until(lambda: sender.progress()[1] >= 3, "451 answers while the database is down")
        # A reader meanwhile gets one line, not a traceback.
        down = subprocess.run(
            [*MAILCATCHER, "list", database_url],
            capture_output=True,
            text=True,
            timeout=PATIENCE,
            check=False,
        )
        postgres.run()
        sender.thread.join(4 * PATIENCE)
        send(proc.port, "after the restart", "after@example.com")
        found = waiting.result(timeout=PATIENCE + 60)
    finally:
        late.shutdown(wait=False)
        output = proc.stop()
    assert not sender.errors, sender.errors
    stored = [str(message["Subject"]) for message in mailcatcher.get_messages(database_url)]
    # Every 250 is in the database; a retried message may be there twice (a commit whose
    # answer the crash cut off), never missing.
    assert set(sender.acknowledged) <= set(stored)
    assert len(sender.acknowledged) == sender.count
    assert found["Subject"] == "after the restart"
    # The 451 says why, naming the database with its password masked.
    assert sender.reply.startswith("4.3.0 cannot write postgresql://mailcatcher:***@")
    assert "unavailable" in sender.reply
    assert PASSWORD not in sender.reply
    assert down.returncode != 0
    assert down.stderr.count("\n") == 1, down.stderr
    assert "Traceback" not in down.stderr
    assert "Traceback" not in output, output
    assert PASSWORD not in output + down.stderr
