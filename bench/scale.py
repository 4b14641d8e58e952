"""How mailcatcher copes with 100,000 stored messages (issue 15, item 3).

What is measured, over a Maildir of ``--messages`` messages (about 3 kB each, to 500
recipients; one old message to ``eva.old@example.com``, the worst case for a filter):

* ``get_latest_message(dir, to=...)`` in a fresh process, after import: the first call,
  and the median of later calls (each opens the store again, as a check does). For the
  old message's recipient, a recent one's, and no filter. Over the Maildir as
  `MaildirStore.add` wrote it (indexed) and over the same files with no index (what
  another program delivers: hard links to the same files).
* ``wait_for_message`` in another process: from the ``250`` of the stock ``aiosmtpd -c
  mailcatcher.catcher.MailDir`` catcher writing into the store to the waiter waking.
* ``mailcatcher web`` and ``mailcatcher serve`` over the store, through HTTP: start-up
  (process start to listening), the list's first page (first request, then warm),
  searches, opening a message (JSON and HTML preview), and resident memory.

The baseline, measured in the same run over the same directories: the code of
``--baseline`` (a git revision, extracted with ``git archive``) answering the same queries.
The machine's load average is printed with the figures. This is a benchmark, not a test:
the exit status is 1 only when something fails to run.

Run from the repository root::

    python bench/scale.py [--messages 100000] [--baseline 276d337] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import smtplib
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO), str(REPO / "bench")]

from query import RECIPIENTS, TARGET, TARGET_POSITION, make_message  # noqa: E402

from tests.support import HOST, catcher, web  # noqa: E402  # after sys.path

RECENT = f"user{7 % RECIPIENTS}@example.com"
WORKERS = 2

QUERY = """
import json, sys, time
from mailcatcher import get_latest_message
path, to, repeats = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
def once():
    started = time.perf_counter()
    found = get_latest_message(path, to=to)
    return (time.perf_counter() - started) * 1000, None if found is None else found["Subject"]
first, subject = once()
warm = [once()[0] for _ in range(repeats)]
middle = sorted(warm)[len(warm) // 2] if warm else None
print(json.dumps({"first": first, "warm": middle, "subject": subject}))
"""

WAITER = """
import sys, time
from mailcatcher import wait_for_message
for number in range(int(sys.argv[2])):
    print("ready", flush=True)
    sys.stdin.readline()
    wait_for_message(sys.argv[1], 60, to=f"wakeup{number}@example.com")
    print(repr(time.time()), flush=True)
"""


def _fill_part(directory: str, numbers: range) -> None:
    from mailcatcher.store import MaildirStore

    with MaildirStore(directory, create=True) as store:
        for number in numbers:
            recipient = (
                TARGET if number == TARGET_POSITION else f"user{number % RECIPIENTS}@example.com"
            )
            store.add(make_message(number, recipient))


def fill(directory: Path, count: int) -> float:
    """Store `count` messages with `MaildirStore.add` in `WORKERS` processes; seconds taken."""
    from mailcatcher.store import MaildirStore

    MaildirStore(directory, create=True).close()
    started = time.perf_counter()
    _fill_part(str(directory), range(TARGET_POSITION + 1))  # the target is an old one
    parts = [range(TARGET_POSITION + 1 + n, count, WORKERS) for n in range(WORKERS)]
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        pool.starmap(_fill_part, [(str(directory), part) for part in parts])
    return time.perf_counter() - started


def foreign_copy(source: Path, target: Path) -> None:
    """The same files, hard-linked into a Maildir with no index (another program's mail)."""
    for sub in ("tmp", "new", "cur"):
        (target / sub).mkdir(parents=True)
    for item in os.scandir(source / "new"):
        os.link(item.path, target / "new" / item.name)


def baseline_source(revision: str, into: Path) -> Path | None:
    """The package at git `revision`, extracted under `into`; ``None`` without git."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", revision, "src"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    tar = into / "baseline.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as opened:
        opened.extractall(into, filter="data")
    return into / "src"


def query(source: Path, path: Path, to: str | None, repeats: int) -> dict[str, float | None]:
    """One fresh process's first and warm `get_latest_message` times, in ms."""
    result = subprocess.run(
        [sys.executable, "-c", QUERY, str(path), to or "", str(repeats)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(source), "PYTHONWARNINGS": "ignore"},
    )
    answer: dict[str, float | None] = json.loads(result.stdout)
    return answer


def wakeups(path: Path, rounds: int) -> list[float]:
    """Milliseconds from the ``250`` to the waiter in another process waking."""
    latencies = []
    with catcher("maildir", path) as server:
        waiter = subprocess.Popen(
            [sys.executable, "-c", WAITER, str(path), str(rounds)],
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
                waiter.stdin.write("go\n")
                waiter.stdin.flush()
                time.sleep(0.3)  # into its polling loop (its first look reads the store)
                rcpt = f"wakeup{number}@example.com"
                with smtplib.SMTP(HOST, server.port, timeout=60) as client:
                    client.sendmail("app@example.com", [rcpt], f"To: {rcpt}\r\n\r\nnow\r\n")
                acknowledged = time.time()
                latencies.append((float(waiter.stdout.readline()) - acknowledged) * 1000)
            waiter.wait(60)
        finally:
            if waiter.poll() is None:
                waiter.kill()
            waiter.communicate()
    return latencies


def get_ms(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body: bytes = response.read()
    return (time.perf_counter() - started) * 1000, body


def median_ms(times: int, request: Callable[[], float]) -> float:
    return statistics.median(request() for _ in range(times))


def http_figures(base: str, repeats: int) -> dict[str, float]:
    """List, search and open over HTTP, in ms."""
    figures: dict[str, float] = {}
    listing = f"{base}api/v1/messages?limit=50"
    figures["list, first request"], body = get_ms(listing)
    figures["list (warm)"] = median_ms(repeats, lambda: get_ms(listing)[0])
    for label, text in [("search to:", f"to:{RECENT}"), ("search body text", "token=77777")]:
        url = f"{base}api/v1/search?" + urlencode({"query": text, "limit": 50})

        def searching(url: str = url) -> float:
            return get_ms(url)[0]

        figures[label] = median_ms(repeats, searching)
    ids = [message["ID"] for message in json.loads(body)["messages"]]

    def opening() -> float:
        id = ids[len(ids) // 2]
        return get_ms(f"{base}api/v1/message/{id}")[0] + get_ms(f"{base}view/{id}.html")[0]

    figures["open (JSON + HTML)"] = median_ms(repeats, opening)
    return figures


def served(kind: str, path: Path, repeats: int) -> dict[str, float]:
    """Start-up, HTTP figures and memory of ``mailcatcher web`` or ``serve`` over `path`."""
    started = time.perf_counter()
    context = web(path) if kind == "web" else catcher("serve", path, http=True)
    with context as server:
        figures = {"start-up (to listening)": (time.perf_counter() - started) * 1000}
        figures.update(http_figures(server.url, repeats))
        figures["resident memory (MiB)"] = server.rss_kib() / 1024
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="stored messages")
    parser.add_argument("--repeats", type=int, default=10, help="warm repeats per figure")
    parser.add_argument("--rounds", type=int, default=10, help="wake-up rounds")
    parser.add_argument("--baseline", default="276d337", help="git revision to compare with")
    parser.add_argument("--dir", type=Path, help="where to build the store (a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as temporary:
        root = Path(temporary)
        indexed, foreign = root / "indexed", root / "foreign"
        seconds = fill(indexed, args.messages)
        foreign_copy(indexed, foreign)
        print(
            f"stored {args.messages} messages with MaildirStore.add ({WORKERS} processes) in "
            f"{seconds:.0f} s; {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        time.sleep(1.5)  # past the mtime clock's tick: marks may be recorded by readers
        sources = {"this version": REPO / "src"}
        old = baseline_source(args.baseline, root)
        if old is not None:
            sources[f"baseline {args.baseline}"] = old
        print(f"\n{'get_latest_message, fresh process':<44} {'first ms':>9} {'warm ms':>9}")
        # Every file is parsed when there are no rows: one query, one call, each version.
        cases = [("indexed", indexed, to) for to in (TARGET, RECENT, None)]
        cases.append(("no index rows", foreign, TARGET))
        for label, path, to in cases:
            for name, source in sources.items():
                slow = path is foreign or name != "this version"
                got = query(
                    source, path, to, (0 if path is foreign else 2) if slow else args.repeats
                )
                warm = f"{got['warm']:>9.1f}" if got["warm"] is not None else f"{'-':>9}"
                row = f"{label}, to={to}, {name}"
                print(f"{row:<44} {got['first'] or 0:>9.1f} {warm}", flush=True)
        latencies = wakeups(indexed, args.rounds)
        print(
            f"\nwait_for_message in another process, 250 to waking: median "
            f"{statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms "
            f"({args.rounds} rounds, indexed store)",
            flush=True,
        )
        for kind in ("web", "serve"):
            print(f"\nmailcatcher {kind} over the indexed store")
            for name, value in served(kind, indexed, args.repeats).items():
                print(f"  {name:<34} {value:>9.1f}", flush=True)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\nload average at the end: {load} (1, 5, 15 min)")
    print(f"command: python bench/scale.py --messages {args.messages} --baseline {args.baseline}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
