"""How fast the web inbox answers over a large Maildir, and whether its memory stays flat.

What is measured: ``mailcatcher web DIR`` (a subprocess on a free 127.0.0.1 port) over a
Maildir of 10,000 messages stored with `MaildirStore.add` (plain text, one in ten with an
HTML alternative, one in twenty with a 20 KiB attachment). Over real HTTP from this
process, with aiohttp's client, each request is timed from sending to the last byte:

* the first page of the list (50 messages) right after start (the server builds its
  listing), then again and again (warm), and right after a new message was stored;
* searches: a recipient (``to:``), a subject phrase, a free-text word found in bodies,
  and a negated mix;
* opening a message as the page does: its JSON, then its HTML preview;
* the server's resident memory (``VmRSS``) after start, after the first list, and after
  another 1,000 messages arrived while a client kept listing: with no copy of message
  bodies kept in memory it stays flat.

Targets (issue 6): list and search under 100 ms at the median and the 95th percentile,
opening a message under 100 ms, memory growth while 1,000 messages arrive under 20 MiB.
The exit status is 1 when a target fails; ``--quick`` (1,000 messages, few repeats) only
checks that everything runs.

Run from the repository root::

    PYTHONPATH=src python bench/web.py [--messages 10000] [--repeats 30] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from itertools import cycle
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.support import web as web_inbox  # noqa: E402  # after sys.path

TARGET_MS = 100.0
TARGET_GROWTH_MIB = 20.0
ARRIVALS = 1000


def make_message(number: int) -> EmailMessage:
    """Message `number` of the bench store, as the catcher would have stored it."""
    message = EmailMessage()
    sender = f"sender{number % 50}@shop.example"
    recipient = f"user{number % 200}@example.org"
    message["From"] = f"Shop {number % 50} <{sender}>"
    message["To"] = f"User {number % 200} <{recipient}>"
    message["Subject"] = f"Order confirmation number {number}"
    message["Message-ID"] = f"<{number}@shop.example>"
    message["X-MailFrom"] = sender
    message["X-RcptTo"] = recipient
    text = (
        f"Hello user {number % 200},\n\nthank you for order {number}. Your code is "
        f"zebra{number % 97}. Track it at https://shop.example/track/{number}\n"
    ) * 4
    message.set_content(text)
    if number % 10 == 0:
        message.add_alternative(
            f"<html><body><h1>Order {number}</h1><p>{text}</p>"
            f'<img src="https://shop.example/pixel/{number}.gif"></body></html>',
            subtype="html",
        )
    if number % 20 == 0:
        data = bytes(range(256)) * 80  # 20 KiB
        message.add_attachment(data, maintype="application", subtype="pdf", filename="order.pdf")
    return message


def fill(path: Path, count: int, start: int = 0) -> float:
    """Store `count` messages; return the seconds it took."""
    sys.path.insert(0, str(REPO / "src"))
    from mailcatcher.store import MaildirStore

    started = time.perf_counter()
    with MaildirStore(path, create=True) as store:
        for number in range(start, start + count):
            store.add(make_message(number))
    return time.perf_counter() - started


def rss_mib(pid: int) -> float:
    """Resident memory of process `pid` in MiB (``VmRSS``)."""
    with open(f"/proc/{pid}/status") as fp:
        for line in fp:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Timing:
    """Milliseconds of one kind of request."""

    name: str
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    def ok(self) -> bool:
        return self.median < TARGET_MS and self.p95 < TARGET_MS


async def timed(session: aiohttp.ClientSession, url: str) -> tuple[float, bytes]:
    """Milliseconds from sending a GET to its last byte, and the body; fails on non-200."""
    started = time.perf_counter()
    async with session.get(url) as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status} {body[:200]!r}")
    return (time.perf_counter() - started) * 1000, body


async def repeat(name: str, times: int, request: Callable[[], Awaitable[float]]) -> Timing:
    samples = [await request() for _ in range(times)]
    return Timing(name, samples)


async def measure(
    base: str, path: Path, pid: int, repeats: int
) -> tuple[list[Timing], dict[str, float]]:
    sys.path.insert(0, str(REPO / "src"))
    from mailcatcher.store import MaildirStore

    memory = {"after start": rss_mib(pid)}
    timings: list[Timing] = []
    async with aiohttp.ClientSession() as session:
        list_url = f"{base}api/v1/messages?limit=50"
        cold, body = await timed(session, list_url)
        timings.append(Timing("list, first request after start", [cold]))
        memory["after the first list"] = rss_mib(pid)

        async def listing() -> float:
            return (await timed(session, list_url))[0]

        timings.append(await repeat("list first page (50)", repeats, listing))

        store = MaildirStore(path)
        number = 10_000_000

        async def after_new_message() -> float:
            nonlocal number
            store.add(make_message(number))
            number += 1
            await asyncio.sleep(0.15)  # the server's watcher notices (as a live page would)
            return (await timed(session, list_url))[0]

        timings.append(await repeat("list right after a new message", repeats, after_new_message))
        store.close()

        for label, query in [
            ("search to:", "to:user42@example.org"),
            ("search subject phrase", 'subject:"number 9999"'),
            ("search free text (body)", "zebra13"),
            ("search mixed, negated", "from:shop -subject:confirmation zebra5"),
        ]:
            url = f"{base}api/v1/search?" + urlencode({"query": query, "limit": 50})

            async def searching(url: str = url) -> float:
                return (await timed(session, url))[0]

            timings.append(await repeat(label, repeats, searching))

        listed = await (
            await session.get(f"{base}api/v1/search?query=has:attachment&limit=50")
        ).json()
        ids = cycle([message["ID"] for message in listed["messages"]])

        async def opening() -> float:
            id = next(ids)
            json_ms, _ = await timed(session, f"{base}api/v1/message/{id}")
            html_ms, _ = await timed(session, f"{base}view/{id}.html")
            return json_ms + html_ms

        timings.append(await repeat("open a message (JSON + HTML preview)", repeats, opening))

        # Memory while mail keeps arriving and a page keeps listing.
        store = MaildirStore(path)
        before = rss_mib(pid)
        for index in range(ARRIVALS):
            store.add(make_message(20_000_000 + index))
            if index % 50 == 0:
                await timed(session, list_url)
        await asyncio.sleep(0.3)
        await timed(session, list_url)
        store.close()
        memory[f"before {ARRIVALS} more messages"] = before
        memory[f"after {ARRIVALS} more messages"] = rss_mib(pid)
    return timings, memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="stored messages (10000)")
    parser.add_argument("--repeats", type=int, default=30, help="requests per row (30)")
    parser.add_argument(
        "--quick", action="store_true", help="1,000 messages, 5 repeats, no targets"
    )
    parser.add_argument("--dir", type=Path, help="where to build the Maildir (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.repeats = min(args.messages, 1000), 5
    with tempfile.TemporaryDirectory(dir=args.dir) as temporary:
        path = Path(temporary) / "mail"
        seconds = fill(path, args.messages)
        print(
            f"stored {args.messages} messages in {seconds:.1f} s ({platform.python_version()}, "
            f"{platform.machine()}, {os.cpu_count()} CPUs)"
        )
        with web_inbox(path) as server:  # mailcatcher web on a port the OS picked
            timings, memory = asyncio.run(measure(server.url, path, server.pid, args.repeats))
    print(f"\n{'request':<40} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  target")
    failed = []
    for timing in timings:
        first_only = len(timing.samples) == 1
        verdict = "-" if first_only else ("ok" if timing.ok() else f"FAIL (< {TARGET_MS:g})")
        if not first_only and not timing.ok():
            failed.append(timing.name)
        figures = f"{timing.median:>10.1f} {timing.p95:>8.1f} {max(timing.samples):>8.1f}"
        print(f"{timing.name:<40} {figures}  {verdict}")
    print(f"\n{'server memory (VmRSS)':<40} {'MiB':>10}")
    for label, value in memory.items():
        print(f"{label:<40} {value:>10.1f}")
    growth = memory[f"after {ARRIVALS} more messages"] - memory[f"before {ARRIVALS} more messages"]
    verdict = "ok" if growth < TARGET_GROWTH_MIB else f"FAIL (< {TARGET_GROWTH_MIB:g})"
    if growth >= TARGET_GROWTH_MIB:
        failed.append("memory growth")
    print(f"{'growth while messages arrived':<40} {growth:>10.1f}  {verdict}")
    options = f"--messages {args.messages} --repeats {args.repeats}"
    options += " --quick" if args.quick else ""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\nload average during the run: {load} (1, 5, 15 min)")
    print(f"command: PYTHONPATH=src python bench/web.py {options}")
    if failed and not args.quick:
        print(f"targets missed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
