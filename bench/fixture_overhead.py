"""What the `mailcatcher` fixture adds to a test, in milliseconds.

Generates a test module of N tests that each send one message with smtplib, and runs
it with pytest twice: once taking the server from the `mailcatcher` fixture, once
sending to a server started once by hand for the whole run (a `ThreadedSMTP` with one
`MailDir`, as a hand-written conftest.py would). The sending code is the same; the
difference per test is the fixture's cost. Several rounds run interleaved, so a
machine that gets busier half-way affects both sides alike; the medians are compared.

The time measured is pytest's test loop (first setup to last teardown), taken by a
hook in the generated conftest.py, so interpreter start-up and collection, equal on
both sides, do not blur the figure.

    python bench/fixture_overhead.py --tests 300 --rounds 5

Target (issue 4): at most 3 ms added per test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_MS = 3.0

CONFTEST = """
import os
import time

import pytest

from mailcatcher.catcher import MailDir
from mailcatcher.server import ThreadedSMTP

_by_hand = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        elapsed = time.perf_counter() - started
        with open(os.environ["BENCH_RESULT"], "w") as out:
            out.write(repr(elapsed))


def pytest_configure(config):
    if os.environ["BENCH_MODE"] == "by-hand":
        handler = MailDir(os.environ["BENCH_MAILDIR"])
        server = ThreadedSMTP(handler)
        server.start()
        _by_hand.update(handler=handler, server=server)


def pytest_unconfigure(config):
    if _by_hand:
        _by_hand["server"].stop()
        _by_hand["handler"].close()


@pytest.fixture(scope="session")
def smtp_address():
    server = _by_hand["server"]
    return server.host, server.port
"""

SEND = """
import smtplib

MESSAGE = (
    b"From: app@example.com\\r\\nTo: eva@example.com\\r\\n"
    b"Subject: Hello\\r\\n\\r\\nHi Eva\\r\\n"
)


def send(host, port):
    with smtplib.SMTP(host, port) as client:
        client.sendmail("app@example.com", ["eva@example.com"], MESSAGE)
"""

FIXTURE_TEST = """
def test_{n}(mailcatcher):
    send(mailcatcher.host, mailcatcher.port)
"""

BY_HAND_TEST = """
def test_{n}(smtp_address):
    send(*smtp_address)
"""


def write_suite(directory: Path, tests: int, template: str) -> None:
    """Write conftest.py and a module of `tests` tests made from `template`."""
    directory.mkdir()
    (directory / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    body = SEND + "".join(template.format(n=n) for n in range(tests))
    (directory / "test_send.py").write_text(body)


def run_suite(directory: Path, mode: str, tests: int) -> float:
    """Run the suite in a fresh pytest process; return its test loop's seconds."""
    result = directory.parent / f"{directory.name}.result"
    maildir = Path(tempfile.mkdtemp(prefix="bench-maildir-", dir=directory.parent))
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_RESULT": str(result),
        "BENCH_MAILDIR": str(maildir / "mail"),
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        # pytest-asyncio (in the test extra) warns about an unset option in any run
        # without its configuration; these tests are not async.
        "-p",
        "no:asyncio",
        "-W",
        "error",
        f"--basetemp={directory.parent / ('tmp-' + directory.name)}",
        str(directory),
    ]
    completed = subprocess.run(
        command, cwd=directory, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0 or f"{tests} passed" not in completed.stdout:
        raise SystemExit(f"the {mode} run failed:\n{completed.stdout}\n{completed.stderr}")
    return float(result.read_text())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=300, help="tests per run (300)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each side (5)")
    args = parser.parse_args(argv)
    if args.tests < 1 or args.rounds < 1:
        parser.error("--tests and --rounds must be at least 1")
    print(f"$ python bench/fixture_overhead.py --tests {args.tests} --rounds {args.rounds}")
    times: dict[str, list[float]] = {"fixture": [], "by-hand": []}
    with tempfile.TemporaryDirectory(prefix="mailcatcher-bench-") as temporary:
        root = Path(temporary)
        write_suite(root / "fixture", args.tests, FIXTURE_TEST)
        write_suite(root / "by_hand", args.tests, BY_HAND_TEST)
        started = time.monotonic()
        for round_number in range(1, args.rounds + 1):
            for mode, directory in (("fixture", root / "fixture"), ("by-hand", root / "by_hand")):
                seconds = run_suite(directory, mode, args.tests)
                times[mode].append(seconds)
                print(
                    f"round {round_number}: {mode:8} {seconds * 1000 / args.tests:6.2f} ms/test"
                    f"  ({seconds:.2f} s for {args.tests} tests)"
                )
        print(f"({time.monotonic() - started:.0f} s in all)")
    fixture = statistics.median(times["fixture"]) * 1000 / args.tests
    by_hand = statistics.median(times["by-hand"]) * 1000 / args.tests
    added = fixture - by_hand
    print(f"median per test: fixture {fixture:.2f} ms, server started by hand {by_hand:.2f} ms")
    verdict = "within" if added <= TARGET_MS else "OVER"
    print(f"added by the fixture: {added:.2f} ms per test ({verdict} the {TARGET_MS:g} ms target)")
    return 0 if added <= TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
