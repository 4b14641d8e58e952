"""How soon instance B sees mail that instance A acknowledged, both on one PostgreSQL.

What is measured: two ``mailcatcher serve --store postgresql://...`` processes (A and B)
share one database. Each round sends one message, to a new recipient, through A, and
records the time from reading A's ``250`` to:

- ``B wait``: a ``GET /api/v1/wait?query=to:...`` long-poll on B returning it;
- ``B stream``: B's live stream (``/api/events``, what the web page listens to) sending
  ``event: change``;
- ``library``: ``wait_for_message("postgresql://...")`` in a process of its own returning.

Each waiter is waiting before the message is sent. The baseline, measured in the same
run: ``A wait``, the same long-poll on A itself, the instance that stored the message.
The target (issue 16): a median under 50 ms for B's wait and B's stream.

A PostgreSQL server is started for the run from Debian's packages (as the tests do),
unless ``--url`` names a database to use. Run from the repository root::

    python bench/postgres_wait.py [--rounds 20] [--url postgresql://...] [--quick]

The exit status is 1 when a target is missed; ``--quick`` (3 rounds) never fails on
timing, only when a waiter does not wake at all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.postgres.mail import serve_command  # noqa: E402  # after sys.path
from tests.postgres.server import PostgresServer  # noqa: E402  # after sys.path
from tests.support import HOST, Proc, start  # noqa: E402  # after sys.path

TARGET_MS = 50.0
#: The rows a target applies to.
TARGETED = ("B wait", "B stream")
ROUND_TIMEOUT = 60.0

WAITER = """
import sys, time
from mailcatcher import wait_for_message
for number in range(int(sys.argv[2])):
    print("ready", flush=True)
    sys.stdin.readline()
    wait_for_message(sys.argv[1], float(sys.argv[3]), to=f"pg{number}@example.com")
    print(repr(time.time()), flush=True)
"""


def serve(url: str) -> Proc:
    """``mailcatcher serve --store URL`` on OS-picked ports."""
    return start(serve_command(url))


def long_poll(proc: Proc, rcpt: str) -> float:
    """Wait on `proc`'s ``/api/v1/wait`` for mail to `rcpt`; the time it returned."""
    query = urllib.parse.urlencode({"query": f"to:{rcpt}", "timeout": str(ROUND_TIMEOUT)})
    with urllib.request.urlopen(f"{proc.url}api/v1/wait?{query}", timeout=ROUND_TIMEOUT + 10):
        return time.time()


class Stream:
    """B's ``/api/events``, read in a thread; `changes` holds each change event's time."""

    def __init__(self, proc: Proc) -> None:
        self.sock = socket.create_connection((proc.host, proc.http_port or 0), ROUND_TIMEOUT)
        self.sock.sendall(
            f"GET /api/events HTTP/1.1\r\nHost: {proc.host}:{proc.http_port}\r\n\r\n".encode()
        )
        self.changes: list[float] = []
        self.hello = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        if not self.hello.wait(ROUND_TIMEOUT):
            raise RuntimeError("the live stream did not start")

    def _read(self) -> None:
        with self.sock.makefile("rb") as lines:
            for line in lines:
                if line.startswith(b"event: hello"):
                    self.hello.set()
                elif line.startswith(b"event: change"):
                    self.changes.append(time.time())

    def first_change_after(self, moment: float, deadline: float) -> float:
        while time.monotonic() < deadline:
            later = [at for at in self.changes if at >= moment]
            if later:
                return later[0]
            time.sleep(0.001)
        raise RuntimeError("the live stream sent no change event")

    def close(self) -> None:
        self.sock.close()


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """`url`, or a database on a PostgreSQL server started for this run."""
    if url is not None:
        yield url
        return
    server = PostgresServer.start()
    try:
        yield server.create_database("bench")
    finally:
        server.stop()


def measure(url: str, rounds: int) -> dict[str, list[float]]:
    """Run `rounds` rounds; the latencies in ms, by row."""
    results: dict[str, list[float]] = {"A wait": [], "B wait": [], "B stream": [], "library": []}
    first, second = serve(url), serve(url)
    waiter = subprocess.Popen(
        [sys.executable, "-c", WAITER, url, str(rounds), str(ROUND_TIMEOUT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert waiter.stdin is not None
    assert waiter.stdout is not None
    stream = Stream(second)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for number in range(rounds):
                rcpt = f"pg{number}@example.com"
                if waiter.stdout.readline() != "ready\n":
                    raise RuntimeError(f"the waiter did not start round {number}")
                waiter.stdin.write("go\n")
                waiter.stdin.flush()
                polls: dict[str, Future[float]] = {
                    "A wait": pool.submit(long_poll, first, rcpt),
                    "B wait": pool.submit(long_poll, second, rcpt),
                }
                time.sleep(0.3)  # every waiter is waiting now
                with smtplib.SMTP(HOST, first.port, timeout=ROUND_TIMEOUT) as client:
                    sent = time.time()
                    client.sendmail("app@example.com", [rcpt], f"To: {rcpt}\r\n\r\nnow\r\n")
                    acknowledged = time.time()  # sendmail() returns once it read the 250
                deadline = time.monotonic() + ROUND_TIMEOUT
                woke = {name: poll.result(ROUND_TIMEOUT) for name, poll in polls.items()}
                woke["B stream"] = stream.first_change_after(sent, deadline)
                line = waiter.stdout.readline()
                if not line:
                    raise RuntimeError(f"the library waiter ended in round {number}")
                woke["library"] = float(line)
                for name, at in woke.items():
                    results[name].append(round((at - acknowledged) * 1000, 2))
                time.sleep(0.1)  # the stream's settle event passes before the next round
        if waiter.wait(ROUND_TIMEOUT) != 0:
            raise RuntimeError(f"the library waiter exited with {waiter.returncode}")
    finally:
        stream.close()
        if waiter.poll() is None:
            waiter.kill()
        waiter.communicate()
        for proc in (first, second):
            output = proc.stop()
            if "Traceback" in output:
                print(output, file=sys.stderr)
    return results


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help="messages sent (default 20, --quick 3)")
    parser.add_argument("--url", help="a database to use (default: start a PostgreSQL server)")
    parser.add_argument("--quick", action="store_true", help="3 rounds, targets not enforced")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    rounds: int = args.rounds or (3 if args.quick else 20)
    shown = [arg if "://" not in arg else "postgresql://..." for arg in sys.argv[1:]]
    print(f"command: python bench/{Path(__file__).name} {shlex.join(shown)}".rstrip())
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"load average at start: {load_average()}")
    with database(args.url) as url:
        results = measure(url, rounds)
    print()
    print(f"{'waiter':<9} {'rounds':>6} {'median ms':>10} {'max ms':>8}  target")
    medians = {name: statistics.median(values) for name, values in results.items()}
    missed = []
    for name, values in results.items():
        verdict = "(baseline)" if name == "A wait" else ""
        if name in TARGETED:
            verdict = "ok" if medians[name] < TARGET_MS else f"FAIL (< {TARGET_MS:g})"
            if medians[name] >= TARGET_MS:
                missed.append(name)
        print(f"{name:<9} {len(values):>6} {medians[name]:>10.1f} {max(values):>8.1f}  {verdict}")
        print(f"  latencies ms: {', '.join(f'{value:.1f}' for value in values)}")
    print(f"load average at end: {load_average()}")
    if args.json is not None:
        args.json.write_text(json.dumps({"latencies_ms": results, "medians_ms": medians}))
    if args.quick:
        print("result: smoke run finished (--quick: targets not enforced)")
        return 0
    print("result: PASS" if not missed else f"result: FAIL (missed by {', '.join(missed)})")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
