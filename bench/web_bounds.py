"""What hostile web clients cost ``mailcatcher serve``, against a quiet baseline (issue 11).

The timings behind RELIABILITY.md's web rows for issue #11 (findings 4, 6 and 12, and the
rule that SMTP never waits for a web request). Each figure comes with its baseline from the
same run, on the same server process:

* **search**: 100 messages of 60 KB, each with its own Cc (the issue's corpus). A list
  request and an SMTP send, quiet, then while 8 clients each run a search of 32 words (the
  cap: ``subject:bulk`` and 31 ``-cc:`` words) at once; the time of each such search; and
  what a search of 616 words gets (``400`` at once).
* **hostile messages**: SMTP ``NOOP`` round trips on one connection, quiet, then while two
  clients read each message of `tests.reliability.test_web_bounds.HOSTILE` (a link flood,
  3,000 nested multiparts, a 5 MB text line, a 5 MB line of HTML links) the costly ways.
* **connections**: ``--http-idle-timeout 1``: when a silent connection is closed;
  ``--http-max-connections 20``: what the 21st connection gets, and how long an SMTP send
  takes while 20 HTTP connections are held open.

Run from the repository root::

    PYTHONPATH=src python bench/web_bounds.py [--parallel 8]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.reliability.harness import data_reply  # noqa: E402  # after sys.path
from tests.reliability.test_web_bounds import (  # noqa: E402
    HOSTILE,
    admitted,
    closed_within,
    connect,
    request,
    search_url,
    smtp_send,
    words,
)
from tests.support import HOST, Proc, catcher  # noqa: E402
from tests.web.support import add, mail  # noqa: E402


def seconds(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def in_threads(action: Callable[[], object], count: int) -> list[float]:
    """Run `action` in `count` threads at once; return each one's seconds."""
    times: list[float] = []
    threads = [threading.Thread(target=lambda: times.append(seconds(action))) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return times


def noops(proc: Proc, stop: threading.Event, waits: list[float]) -> None:
    """SMTP NOOP round trips, 50 a second, until `stop`."""
    with smtplib.SMTP(HOST, proc.port, timeout=60) as client:
        client.ehlo("bench.example")
        while not stop.is_set():
            waits.append(seconds(client.noop))
            time.sleep(0.02)


def row(name: str, quiet: str, hostile: str) -> None:
    print(f"{name:58} {quiet:>14} {hostile:>14}")


def bench_search(root: Path, parallel: int) -> None:
    store = root / "bulk"
    line = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod\n"
    body = line * (60_000 // len(line))
    add(
        store,
        *(mail(f"bulk {n}", text=body, headers={"Cc": f"c{n}@x.example"}) for n in range(100)),
    )
    with catcher("serve", store, http=True) as proc:
        listing = f"{proc.url}api/v1/messages?limit=1"
        quiet_list = statistics.median(
            seconds(lambda: request(listing, timeout=600)) for _ in range(5)
        )
        quiet_smtp = statistics.median(seconds(lambda: smtp_send(proc, "quiet")) for _ in range(5))
        one_word = seconds(lambda: request(search_url(proc, "subject:bulk"), timeout=600))
        url = search_url(proc, "subject:bulk " + words(31))
        alone = seconds(lambda: request(url, timeout=600))
        results: dict[str, list[float]] = {"search": [], "list": [], "smtp": []}

        def hostile() -> None:
            results["search"] += in_threads(lambda: request(url, timeout=600), parallel)

        runner = threading.Thread(target=hostile)
        runner.start()
        time.sleep(0.3)
        while runner.is_alive():
            results["list"].append(seconds(lambda: request(listing, timeout=600)))
            results["smtp"].append(seconds(lambda: smtp_send(proc, "busy", timeout=600)))
            time.sleep(0.1)
        runner.join()
        answers: list[int] = []
        refused = seconds(
            lambda: answers.append(request(search_url(proc, words(616)), timeout=600)[0])
        )
        status = answers[0]
    print(f"\nsearch: 100 messages of 60 KB, {parallel} parallel searches of 32 words")
    row("", "quiet", "while searched")
    row(
        "list request (s; quiet median, busy max)",
        f"{quiet_list:.3f}",
        f"{max(results['list']):.3f}",
    )
    row("SMTP send (s; quiet median, busy max)", f"{quiet_smtp:.3f}", f"{max(results['smtp']):.3f}")
    row("search, 1 word alone / 32 words alone (s)", f"{one_word:.3f}", f"{alone:.3f}")
    times = sorted(results["search"])
    row(
        f"each of {parallel} parallel 32-word searches: min / max (s)",
        f"{times[0]:.2f}",
        f"{times[-1]:.2f}",
    )
    row("616 words: status, seconds", str(status), f"{refused:.3f}")


def bench_hostile(root: Path) -> None:
    with catcher("serve", root / "hostile", http=True) as proc:
        ids: dict[str, str] = {}
        for name, (data, _) in HOSTILE.items():
            assert data_reply(proc.port, "a@example.com", ["eva@example.com"], data)[0] == 250
            ids[name] = json.loads(request(f"{proc.url}api/v1/messages?limit=1")[1])["messages"][0][
                "ID"
            ]
        stop = threading.Event()
        quiet: list[float] = []
        prober = threading.Thread(target=noops, args=(proc, stop, quiet))
        prober.start()
        time.sleep(2)
        stop.set()
        prober.join()
        print("\nhostile messages: SMTP NOOP round trips while 2 clients read each (s)")
        row("", "quiet max", "busy max")
        for name, (_, routes) in HOSTILE.items():
            stop = threading.Event()
            busy: list[float] = []
            prober = threading.Thread(target=noops, args=(proc, stop, busy))
            prober.start()

            def read(name: str = name, routes: list[str] = routes) -> None:
                for route in routes:
                    assert request(proc.url + route.format(id=ids[name]), timeout=600)[0] == 200

            took = in_threads(read, 2)
            stop.set()
            prober.join()
            label = f"{name}: {', '.join(r.split('/')[-1] for r in routes)} ({max(took):.1f} s)"
            row(label, f"{max(quiet):.3f}", f"{max(busy):.3f}")


def bench_connections(root: Path) -> None:
    options = ["--http-idle-timeout", "1", "--http-max-connections", "20"]
    with catcher("serve", root / "connections", http=True, options=options) as proc:
        with connect(proc) as silent:
            closed = closed_within(silent, 30)
        with contextlib.ExitStack() as held:
            for _ in range(20):
                held.enter_context(admitted(proc))
            started = time.monotonic()
            with connect(proc) as extra:
                answer = extra.recv(4096)
            refused = time.monotonic() - started
            sent = seconds(lambda: smtp_send(proc, "full"))
    print("\nconnections: serve --http-idle-timeout 1 --http-max-connections 20")
    print(f"  a silent connection closed after {closed:.2f} s" if closed else "  never closed")
    status_line = answer.split(b"\r\n")[0].decode()
    print(f"  the 21st connection: {status_line} in {refused * 1000:.1f} ms")
    print(f"  an SMTP send with 20 HTTP connections held open: {sent * 1000:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--parallel", type=int, default=8, help="hostile searches at once")
    args = parser.parse_args()
    print(
        f"command: PYTHONPATH=src python bench/web_bounds.py --parallel {args.parallel}\n"
        f"python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    with tempfile.TemporaryDirectory(prefix="web-bounds-") as root:
        bench_search(Path(root), args.parallel)
        bench_hostile(Path(root))
        bench_connections(Path(root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
