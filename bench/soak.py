"""Bounded soak: many clients for a fixed time against each catcher, then count what was lost.

For each catcher (the stock ``aiosmtpd`` command with ``MailFile`` and with ``MailDir``, and
``mailcatcher serve``), a server process runs on a free 127.0.0.1 port while:

* ``--clients`` writer threads (16) send messages for ``--seconds`` (60), each on a new
  connection as applications do, each with a unique token (Subject, Message-ID, recipient)
  and an ``X-Soak-Digest`` of its body, so a partial or mixed message cannot pass as whole;
* ``--readers`` reader threads (2) keep reading the store with the package's own readers
  (``get_latest_message``, the store's entries, ``wait_for_message`` for a just-acknowledged
  token) and parse what they get; any exception, parser defect, missing header or wrong
  digest is a parse failure;
* the main thread samples the server's resident memory (``VmRSS``) twice a second.

Then it counts. For the Maildir stores, the tokens on disk (read with the stdlib's
``mailbox.Maildir`` alone) must be exactly the acknowledged ones: none lost, none extra. The
mail file keeps only the newest message by design, so "stored" is checked when each ``250``
arrives: the writer reads the file at once and must find a complete message that is its own
or one acknowledged later (never a refused one, never a partial one); the final file must hold
an acknowledged message. Memory: the server's RSS at the end may exceed its RSS after warm-up
(the first fifth of the run, at least 3 s) by at most ``--rss-margin`` MiB.

Exit status 0 when every catcher passes, 1 otherwise. Run from the repository root::

    python bench/soak.py                              # 60 s x 3 catchers, 16 clients
    python bench/soak.py --seconds 20 --catchers maildir --json soak.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mailbox
import random
import shutil
import smtplib
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from mailcatcher import get_latest_message, wait_for_message  # noqa: E402  # after sys.path
from mailcatcher.store import opened  # noqa: E402
from tests.support import start_catcher  # noqa: E402

HOST = "127.0.0.1"
CATCHERS = ("mailfile", "maildir", "serve")
SENDER = "soak@example.com"
SEND_TIMEOUT = 60.0
_PARSER = BytesParser(policy=policy.default)


@dataclass
class Result:
    """What one catcher's soak counted."""

    catcher: str
    seconds: float
    clients: int
    sent: int = 0
    acked: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    lost: int = 0
    extra: int = 0
    stored: int = 0
    reads: int = 0
    parse_failures: int = 0
    failure_examples: list[str] = field(default_factory=list)
    waits: int = 0
    wait_failures: int = 0
    own_seen_at_ack: int = 0
    rss_warm_kib: int = 0
    rss_end_kib: int = 0
    rss_peak_kib: int = 0
    rss_margin_kib: int = 0
    messages_per_second: float = 0.0
    passed: bool = False

    def verdict(self) -> list[str]:
        """The checks that failed, in words (empty when all passed)."""
        problems = []
        if self.acked == 0:
            problems.append("no message was acknowledged")
        if self.refused or self.errors:
            problems.append(f"{self.refused} refused, {len(self.errors)} client errors")
        if self.lost or self.extra:
            problems.append(f"{self.lost} acknowledged messages lost, {self.extra} extra")
        if self.parse_failures:
            problems.append(f"{self.parse_failures} parse failures: {self.failure_examples[:3]}")
        if self.wait_failures:
            problems.append(f"{self.wait_failures} of {self.waits} waits failed")
        if self.rss_end_kib - self.rss_warm_kib > self.rss_margin_kib:
            problems.append(
                f"RSS grew from {self.rss_warm_kib} KiB after warm-up to {self.rss_end_kib} KiB"
            )
        return problems


def rss_kib(pid: int) -> int:
    """``VmRSS`` of `pid` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def make_message(token: str, rng: random.Random) -> bytes:
    """A message carrying `token` and the digest of its body; some lines trip naive code."""
    lines = []
    for _ in range(rng.randint(1, 400)):
        kind = rng.random()
        if kind < 0.05:
            lines.append("From the soak, a line mbox would quote")
        elif kind < 0.1:
            lines.append("." * rng.randint(1, 3))
        else:
            lines.append(
                "".join(rng.choices("abcdefghijklmnopqrstuvwxyz äöü", k=rng.randint(0, 76)))
            )
    body = ("\n".join(lines) + "\n").encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()
    head = (
        f"From: Soak <{SENDER}>\r\nTo: <{token}@example.com>\r\nSubject: {token}\r\n"
        f"Message-ID: <{token}@soak.example>\r\nX-Soak-Digest: {digest}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode()
    return head + body.replace(b"\n", b"\r\n")


def verify(data: bytes) -> str:
    """Parse stored bytes and check them whole; return the token, raise ValueError if not."""
    message = _PARSER.parsebytes(data)
    return verify_message(message)


def verify_message(message: EmailMessage) -> str:
    """Check a parsed message is complete (digest of its body); return its token."""
    if message.defects:
        raise ValueError(f"defects {message.defects}")
    token = str(message["Subject"] or "")
    digest = str(message["X-Soak-Digest"] or "")
    if not token or not digest or message["X-MailFrom"] != SENDER:
        raise ValueError(f"missing headers in message {token!r}")
    payload = message.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raise ValueError(f"no body in {token}")
    body = payload.replace(b"\r\n", b"\n")
    if hashlib.sha256(body).hexdigest() != digest:
        raise ValueError(f"body of {token} does not match its digest (partial or mixed)")
    return token


class Soak:
    """One catcher's run: writers, readers and the memory sampler sharing counters."""

    def __init__(self, catcher: str, store: Path, port: int, args: argparse.Namespace) -> None:
        self.catcher = catcher
        self.store = store
        self.port = port
        self.args = args
        self.lock = threading.Lock()
        self.result = Result(catcher, args.seconds, args.clients)
        self.acked: set[str] = set()
        self.sent: set[str] = set()
        self.seen: set[str] = set()
        self.recent: list[str] = []
        self.stop = threading.Event()

    def failure(self, text: str) -> None:
        """Count a parse failure, keeping a few examples."""
        with self.lock:
            self.result.parse_failures += 1
            if len(self.result.failure_examples) < 10:
                self.result.failure_examples.append(text)

    def writer(self, index: int) -> None:
        """Send messages until the stop event; count replies."""
        rng = random.Random(index)
        number = 0
        while not self.stop.is_set():
            token = f"soak-{self.catcher}-{index}-{number}"
            number += 1
            data = make_message(token, rng)
            with self.lock:
                self.sent.add(token)
                self.result.sent += 1
            try:
                with smtplib.SMTP(HOST, self.port, timeout=SEND_TIMEOUT) as client:
                    client.ehlo("soak.example")
                    client.mail(SENDER, ["BODY=8BITMIME"])
                    client.rcpt(f"{token}@example.com")
                    code, reply = client.data(data)
            except (OSError, smtplib.SMTPException) as error:
                with self.lock:
                    self.result.errors.append(f"{token}: {error!r}")
                continue
            if code != 250:
                with self.lock:
                    self.result.refused += 1
                    self.result.errors.append(f"{token}: {code} {reply!r}")
                continue
            with self.lock:
                self.acked.add(token)
                self.recent.append(token)
                del self.recent[:-50]
            if self.catcher == "mailfile":
                self.check_file_after_ack(token)

    def check_file_after_ack(self, token: str) -> None:
        """Right after a 250 the file holds a complete message: this one or a later one."""
        try:
            found = verify(self.store.read_bytes())
        except (OSError, ValueError) as error:
            self.failure(f"after the 250 of {token}: {error}")
            return
        with self.lock:
            self.seen.add(found)
            if found == token:
                self.result.own_seen_at_ack += 1

    def reader(self, index: int) -> None:
        """Read and parse the store over and over with the package's readers."""
        rng = random.Random(1000 + index)
        while not self.stop.is_set():
            try:
                self.read_once(rng)
            except Exception as error:  # noqa: BLE001  # every reader failure is counted
                self.failure(f"reader: {error!r}")
            time.sleep(0.01)

    def read_once(self, rng: random.Random) -> None:
        """One round: the latest message, a few newest entries, sometimes a wait."""
        message = get_latest_message(self.store)
        if message is not None:
            self.note_read(verify_message(message))
        if self.catcher != "mailfile":
            with opened(self.store) as store:
                for entry in store.entries()[:3]:
                    try:
                        data = store.read_bytes(entry.id)
                    except KeyError:
                        continue
                    self.note_read(verify(data))
        with self.lock:
            target = rng.choice(self.recent) if self.recent else None
        if target is not None and self.catcher != "mailfile" and rng.random() < 0.3:
            with self.lock:
                self.result.waits += 1
            try:
                # By recipient: a Subject filter matches substrings ("-1-1" in "-1-10").
                found = wait_for_message(self.store, 10.0, to=f"{target}@example.com")
                if str(found["Subject"]) != target:
                    raise ValueError(f"waited for {target}, got {found['Subject']}")
                self.note_read(verify_message(found))
            except (TimeoutError, ValueError) as error:
                with self.lock:
                    self.result.wait_failures += 1
                self.failure(f"wait for {target}: {error}")

    def note_read(self, token: str) -> None:
        """Count a complete read and remember the token seen."""
        with self.lock:
            self.result.reads += 1
            self.seen.add(token)

    def final_count(self) -> None:
        """Compare what is on disk with what was acknowledged."""
        result = self.result
        if self.catcher == "mailfile":
            try:
                on_disk = {verify(self.store.read_bytes())}
            except (OSError, ValueError) as error:
                self.failure(f"final file: {error}")
                on_disk = set()
            result.stored = len(on_disk)
            result.extra = len(on_disk - self.acked)
            # Every message a reader ever saw must have been acknowledged.
            result.extra += len(self.seen - self.acked)
            result.lost = 0 if on_disk else 1
            return
        tokens: list[str] = []
        maildir = mailbox.Maildir(self.store, factory=None, create=False)
        for key in maildir.iterkeys():
            try:
                # get_bytes: the file as stored (as_bytes() would regenerate it).
                tokens.append(verify(maildir.get_bytes(key)))
            except ValueError as error:
                self.failure(f"final {key}: {error}")
        on_disk = set(tokens)
        result.stored = len(tokens)
        result.lost = len(self.acked - on_disk)
        result.extra = len(on_disk - self.acked) + (len(tokens) - len(on_disk))
        with opened(self.store) as store:
            indexed = {entry.subject for entry in store.entries()}
        if indexed != on_disk:
            self.failure(f"the store's entries differ from the files: {len(indexed ^ on_disk)}")


def run(catcher: str, args: argparse.Namespace, workdir: Path) -> Result:
    """Soak one catcher for ``args.seconds``; return its counts."""
    (workdir / catcher).mkdir()
    store = workdir / catcher / ("latest.mail" if catcher == "mailfile" else "mail")
    # The test suite's harness: an OS-picked port, output to the log, stopped by PID.
    server = start_catcher(catcher, store, log=workdir / f"{catcher}.log")
    process = server.process
    soak = Soak(catcher, store, server.port, args)
    result = soak.result
    result.rss_margin_kib = args.rss_margin * 1024
    threads = [threading.Thread(target=soak.writer, args=(i,)) for i in range(args.clients)]
    threads += [threading.Thread(target=soak.reader, args=(i,)) for i in range(args.readers)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        warm_at = started + max(3.0, args.seconds / 5)
        while time.monotonic() - started < args.seconds:
            time.sleep(0.5)
            rss = rss_kib(process.pid)
            result.rss_peak_kib = max(result.rss_peak_kib, rss)
            if not result.rss_warm_kib and time.monotonic() >= warm_at:
                result.rss_warm_kib = rss
        soak.stop.set()
        for thread in threads:
            thread.join(SEND_TIMEOUT + 15)
        elapsed = time.monotonic() - started
        result.rss_end_kib = rss_kib(process.pid)
        result.rss_peak_kib = max(result.rss_peak_kib, result.rss_end_kib)
        if process.poll() is not None:
            result.errors.append(f"the server died with status {process.returncode}")
    finally:
        server.stop()
    result.acked = len(soak.acked)
    result.messages_per_second = round(result.acked / elapsed, 1)
    soak.final_count()
    result.passed = not result.verdict()
    return result


def table(results: Sequence[Result]) -> str:
    """The results as a fixed-width table."""
    header = (
        f"{'catcher':9} {'s':>4} {'cli':>3} {'sent':>6} {'250':>6} {'lost':>4} {'extra':>5} "
        f"{'stored':>6} {'reads':>6} {'parse-fail':>10} {'waits':>5} {'msg/s':>6} "
        f"{'RSS warm':>8} {'end':>6} {'peak':>6}  verdict"
    )
    rows = [header]
    for r in results:
        rows.append(
            f"{r.catcher:9} {r.seconds:>4g} {r.clients:>3} {r.sent:>6} {r.acked:>6} {r.lost:>4} "
            f"{r.extra:>5} {r.stored:>6} {r.reads:>6} {r.parse_failures:>10} {r.waits:>5} "
            f"{r.messages_per_second:>6} {r.rss_warm_kib / 1024:>7.1f}M "
            f"{r.rss_end_kib / 1024:>5.1f}M {r.rss_peak_kib / 1024:>5.1f}M  "
            + ("ok" if r.passed else "; ".join(r.verdict()))
        )
    return "\n".join(rows)


def _catchers(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in CATCHERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown catcher(s) {unknown or value!r}; choose from {', '.join(CATCHERS)}"
        )
    return names


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(value: str) -> float:
        number = kind(value)
        if number <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
        return number

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak; print the table (and write JSON); 0 when every catcher passed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=_positive(float), default=60.0, help="per catcher")
    parser.add_argument("--clients", type=_positive(int), default=16, help="writer threads")
    parser.add_argument("--readers", type=_positive(int), default=2, help="reader threads")
    parser.add_argument("--catchers", type=_catchers, default=list(CATCHERS), help="comma list")
    parser.add_argument(
        "--rss-margin", type=_positive(int), default=8, help="MiB the RSS may grow after warm-up"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the stores (path printed)")
    args = parser.parse_args(argv)
    args.clients = int(args.clients)
    args.readers = int(args.readers)
    workdir = Path(tempfile.mkdtemp(prefix="mailcatcher-soak-"))
    results: list[Result] = []
    try:
        for catcher in args.catchers:
            results.append(run(catcher, args, workdir))
            print(table(results[-1:]).splitlines()[-1] if results[1:] else table(results))
            sys.stdout.flush()
    finally:
        if args.keep:
            print(f"stores kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
