"""How soon a check in another process sees a message after the catcher's ``250``.

What is measured: a waiter process sits in ``wait_for_message(dir, to=...)`` over a Maildir;
this script sends it a message through a real catcher process (the stock ``aiosmtpd -c
mailcatcher.catcher.MailDir`` command, or ``mailcatcher serve``) and records the time from
reading the ``250`` to the waiter printing that it woke (below zero when this process is
scheduled late and reads its clock after the waiter has already printed). Each round uses a
new recipient, so every wake-up is for a message that was not there when the wait began.

The baseline, measured in the same run on the same machine: how long the waiter takes to
print a line when nothing has to be found (a round trip over its pipe). The target (issue
5): a median wake-up latency under 50 ms. The poll interval is 10 ms, so a waiter that is
scheduled on time wakes 0-15 ms after the 250; a loaded machine delays some rounds, which is
why the median of several rounds is judged, and why this is a benchmark and not a test.

Run from the repository root::

    python bench/wakeup.py [--rounds 15] [--catchers maildir,serve] [--quick]

The exit status is 1 when a target is missed; ``--quick`` (3 rounds) never fails on timing,
only when a waiter does not wake at all: the smoke test runs it that way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.support import HOST, catcher  # noqa: E402  # after sys.path

CATCHERS = ("maildir", "serve")
TARGET_MS = 50.0
#: How long one round may take before the waiter counts as asleep (not a target: a bound).
ROUND_TIMEOUT = 60.0

WAITER = """
import sys, time
from mailcatcher import wait_for_message
rounds = int(sys.argv[2])
for number in range(rounds):
    print("ready", flush=True)
    sys.stdin.readline()  # the echo: the baseline round trip
    print(repr(time.time()), flush=True)
    wait_for_message(sys.argv[1], float(sys.argv[3]), to=f"wakeup{number}@example.com")
    print(repr(time.time()), flush=True)
"""


@dataclass
class Result:
    """One catcher's rounds, in milliseconds."""

    catcher: str
    rounds: int
    latencies_ms: list[float]
    baseline_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def baseline_median_ms(self) -> float:
        return statistics.median(self.baseline_ms)

    def ok(self) -> bool:
        return self.median_ms < TARGET_MS


def measure(kind: str, rounds: int, workdir: Path) -> Result:
    """Run `rounds` wake-ups through catcher `kind`; return the latencies."""
    maildir = workdir / f"{kind}-mail"
    latencies: list[float] = []
    baseline: list[float] = []
    with catcher(kind, maildir) as server:
        waiter = subprocess.Popen(
            [sys.executable, "-c", WAITER, str(maildir), str(rounds), str(ROUND_TIMEOUT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        )
        assert waiter.stdin is not None
        assert waiter.stdout is not None
        try:
            for number in range(rounds):
                if waiter.stdout.readline() != "ready\n":
                    raise RuntimeError(f"the waiter did not start round {number}")
                asked = time.time()
                waiter.stdin.write("go\n")
                waiter.stdin.flush()
                baseline.append(float(waiter.stdout.readline()) - asked)
                time.sleep(0.05)  # let it settle into its polling loop
                rcpt = f"wakeup{number}@example.com"
                with smtplib.SMTP(HOST, server.port, timeout=ROUND_TIMEOUT) as client:
                    client.sendmail("app@example.com", [rcpt], f"To: {rcpt}\r\n\r\nnow\r\n")
                acknowledged = time.time()  # sendmail() returns once it has read the 250
                line = waiter.stdout.readline()
                if not line:
                    raise RuntimeError(f"the waiter ended in round {number} without waking")
                latencies.append(float(line) - acknowledged)
            if waiter.wait(ROUND_TIMEOUT) != 0:
                raise RuntimeError(f"the waiter exited with {waiter.returncode}")
        finally:
            if waiter.poll() is None:
                waiter.kill()
            waiter.communicate()
    return Result(
        kind,
        rounds,
        [round(latency * 1000, 2) for latency in latencies],
        [round(latency * 1000, 2) for latency in baseline],
    )


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help="wake-ups per catcher (default 15, --quick 3)")
    parser.add_argument(
        "--catchers", default=",".join(CATCHERS), help="comma-separated: maildir, serve"
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds, targets not enforced")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    rounds: int = args.rounds or (3 if args.quick else 15)
    kinds = [kind for kind in args.catchers.split(",") if kind]
    unknown = [kind for kind in kinds if kind not in CATCHERS]
    if unknown or not kinds:
        parser.error(f"unknown catcher(s) {unknown}; choose from {', '.join(CATCHERS)}")
    print(f"command: python bench/{Path(__file__).name} {shlex.join(sys.argv[1:])}".rstrip())
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"load average at start: {load_average()}")
    results = []
    with tempfile.TemporaryDirectory(prefix="mailcatcher-wakeup-") as workdir:
        for kind in kinds:
            results.append(measure(kind, rounds, Path(workdir)))
    print()
    header = f"{'catcher':<9} {'rounds':>6} {'median ms':>10} {'max ms':>8} {'pipe ms':>8}  target"
    print(header)
    for result in results:
        verdict = "ok" if result.ok() else f"FAIL (< {TARGET_MS:g})"
        print(
            f"{result.catcher:<9} {result.rounds:>6} {result.median_ms:>10.1f} "
            f"{max(result.latencies_ms):>8.1f} {result.baseline_median_ms:>8.1f}  {verdict}"
        )
        print(f"  latencies ms: {', '.join(f'{value:.1f}' for value in result.latencies_ms)}")
    print(f"load average at end: {load_average()}")
    if args.json is not None:
        args.json.write_text(
            json.dumps([{**asdict(r), "median_ms": r.median_ms} for r in results], indent=2)
        )
    if args.quick:
        print("result: smoke run finished (--quick: targets not enforced)")
        return 0
    missed = [result.catcher for result in results if not result.ok()]
    print("result: PASS" if not missed else f"result: FAIL (missed by {', '.join(missed)})")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
