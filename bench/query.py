"""How long "the newest message to eva@example.com" takes among 10,000 stored messages.

What is measured: a Maildir filled with `MaildirStore.add` (what the `MailDir` catcher calls for
each message, minus SMTP, so filling takes seconds rather than minutes), with recipients spread
over 500 addresses; each message is a text and HTML alternative of about 3 kB. Then, each in a
fresh call as a check in another process would make it:

* ``get_latest_message(dir, to=<the recipient of one old message>)``: the worst case for a filter,
  the match is near the oldest end;
* ``get_latest_message(dir)``: the newest message;
* the naive baseline for the same question: `mailbox.Maildir` parses every message (headers and
  bodies, as ``mailbox`` does) and keeps the newest one whose ``X-RcptTo`` names the recipient.

Issue 5 asks that reading the newest matching message among 10,000 not parse all 10,000; the
store answers from its SQLite index and parses only the message it returns. The figures are best
of ``--repeats`` (noise only ever slows a run down), and the ratio baseline / indexed is printed,
so the result survives a noisy machine. Every answer is checked against the expected message.

Run from the repository root::

    PYTHONPATH=src python bench/query.py [--messages 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import mailbox
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from pathlib import Path

from mailcatcher import get_latest_message
from mailcatcher.store import MaildirStore

RECIPIENTS = 500
TARGET = "eva.old@example.com"
TARGET_POSITION = 10  # the target's only message is the 11th oldest
TEXT = "Hello,\n\nplease confirm your address: https://example.com/confirm?token={n}\n"
# A modest HTML template (about 3 KB): real mails are larger, which only slows the baseline.
HTML = (
    "<html><body><table width='600'>"
    + "<tr><td style='font-family:Arial;padding:8px'>Row of a template layout.</td></tr>" * 30
    + "<tr><td><a href='https://example.com/confirm?token={n}&amp;utm=x'>Confirm</a></td></tr>"
    + "</table></body></html>\n"
)


def make_message(number: int, recipient: str) -> EmailMessage:
    """A small message with the envelope headers the catcher writes."""
    message = EmailMessage()
    message["From"] = "App <app@example.com>"
    message["To"] = recipient
    message["Subject"] = f"Message {number}"
    message["X-Peer"] = "('127.0.0.1', 40000)"
    message["X-MailFrom"] = "app@example.com"
    message["X-RcptTo"] = recipient
    message.set_content(TEXT.format(n=number))
    message.add_alternative(HTML.format(n=number), subtype="html")
    return message


def fill(directory: Path, count: int) -> tuple[float, int]:
    """Store `count` messages; return the seconds it took and the bytes stored."""
    started = time.perf_counter()
    size = 0
    with MaildirStore(directory, create=True) as store:
        for number in range(count):
            if number == TARGET_POSITION:
                recipient = TARGET
            else:
                recipient = f"user{number % RECIPIENTS}@example.com"
            size += store.add(make_message(number, recipient)).size
    return time.perf_counter() - started, size


def naive_latest(directory: Path, recipient: str | None) -> str | None:
    """The subject of the newest message to `recipient`, parsing every message (the baseline)."""
    best: tuple[str, str] | None = None
    box = mailbox.Maildir(directory, create=False)
    for key, message in box.items():
        rcpts = [a.strip() for a in (message["X-RcptTo"] or "").split(",")]
        if recipient is not None and recipient not in rcpts:
            continue
        # Maildir names start with the delivery time, so the greatest name is the newest.
        if best is None or key > best[0]:
            best = (key, str(message["Subject"]))
    return None if best is None else best[1]


def best_of(repeats: int, run: Callable[[], object], expected: str) -> float:
    """The fastest of `repeats` runs, in seconds; every run must find `expected`."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        found = run()
        times.append(time.perf_counter() - started)
        subject = found if isinstance(found, str) or found is None else found["Subject"]  # type: ignore[index]
        if subject != expected:
            raise SystemExit(f"error: expected {expected!r}, found {subject!r}")
    return min(times)


def main(argv: Sequence[str] | None = None) -> int:
    """Fill a Maildir, time the queries and the baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="default: %(default)s")
    parser.add_argument("--repeats", type=int, default=5, help="default: %(default)s")
    parser.add_argument("--baseline-repeats", type=int, default=2, help="default: %(default)s")
    args = parser.parse_args(argv)
    if args.messages <= TARGET_POSITION:
        parser.error(f"--messages must be more than {TARGET_POSITION}")
    print(f"command: PYTHONPATH=src python {shlex.join(sys.argv)}")
    print(f"python:  {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    newest = f"Message {args.messages - 1}"
    target = f"Message {TARGET_POSITION}"
    with tempfile.TemporaryDirectory(prefix="mailcatcher-bench-") as tmp:
        directory = Path(tmp) / "mail"
        seconds, size = fill(directory, args.messages)
        print(
            f"filled:  {args.messages} messages ({size / args.messages / 1000:.1f} kB on average) "
            f"to {RECIPIENTS + 1} recipients in {seconds:.1f} s "
            f"({seconds / args.messages * 1000:.2f} ms per MaildirStore.add)"
        )
        print()
        rows = [
            (
                f"get_latest_message(dir, to={TARGET!r})",
                best_of(args.repeats, lambda: get_latest_message(directory, to=TARGET), target),
                best_of(args.baseline_repeats, lambda: naive_latest(directory, TARGET), target),
            ),
            (
                "get_latest_message(dir)",
                best_of(args.repeats, lambda: get_latest_message(directory), newest),
                best_of(args.baseline_repeats, lambda: naive_latest(directory, None), newest),
            ),
        ]
    heading = f"query over {args.messages} messages"
    print(f"{heading:<48} {'indexed':>10} {'naive':>10}  ratio")
    for label, indexed, naive in rows:
        print(
            f"{label:<48} {indexed * 1000:>7.1f} ms {naive * 1000:>7.0f} ms  "
            f"{naive / indexed:.0f}x faster"
        )
    print()
    print(
        f"indexed: best of {args.repeats} fresh calls (opens the index, lists, parses one message);"
        f" naive: best of {args.baseline_repeats}, mailbox.Maildir parsing every message"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
