"""Servers and clients for the reliability suite: real processes, real sockets, measured memory.

Every server is a subprocess on an OS-picked 127.0.0.1 port, with its output going to a file
(a pipe nobody reads fills up and stalls a long run), stopped by its PID. The catchers under
test are named by a short key so a test can be parametrized over them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support import HOST, aiosmtpd_argv, free_port

MAILFILE = "mailcatcher.catcher.MailFile"
MAILDIR = "mailcatcher.catcher.MailDir"
REPO = Path(__file__).resolve().parents[2]


def serve_available() -> bool:
    """Whether ``mailcatcher serve`` exists yet (the CLI and in-process server modules)."""
    source = REPO / "src" / "mailcatcher"
    return all((source / name).exists() for name in ("cli", "server.py", "__main__.py"))


def serve_argv(port: int, store: Path, *extra: str) -> list[str]:
    """``mailcatcher serve`` on ``127.0.0.1:port`` with a Maildir, SMTP only."""
    return [
        sys.executable,
        "-m",
        "mailcatcher",
        "serve",
        "--no-http",
        "--smtp",
        f"{HOST}:{port}",
        "--dir",
        str(store),
        *extra,
    ]


def catcher_argv(
    kind: str,
    port: int,
    store: Path,
    *,
    utf8: bool = False,
    size: int | None = None,
    serve_options: Sequence[str] = (),
) -> list[str]:
    """The command line that runs catcher `kind` ("mailfile", "maildir", "serve") on `port`.

    `size` is the message size limit (aiosmtpd ``-s``, serve ``--max-size``); `serve_options`
    go to ``mailcatcher serve`` only. ``serve`` always speaks SMTPUTF8.
    """
    if kind == "serve":
        limit = [] if size is None else ["--max-size", str(size)]
        return serve_argv(port, store, "--quiet", *limit, *serve_options)
    if kind not in ("mailfile", "maildir"):
        raise ValueError(f"unknown catcher {kind!r}")
    argv = aiosmtpd_argv(port, MAILFILE if kind == "mailfile" else MAILDIR, str(store), utf8=utf8)
    if size is not None:
        at = argv.index("-c")
        argv[at:at] = ["-s", str(size)]
    return argv


def rss_kib(pid: int) -> int:
    """Resident memory of `pid` in KiB (``VmRSS`` from ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Proc:
    """A server process listening on ``HOST:port``, its output in `log`."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None

    def rss_kib(self) -> int:
        """Resident memory now, in KiB."""
        return rss_kib(self.pid)

    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush; what a crash or the OOM killer does."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> str:
        """SIGTERM (then SIGKILL after 10 s); return the output."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.output()


def wait_listening(proc: Proc, timeout: float = 20.0) -> None:
    """Wait until `proc` accepts connections; fail with its output if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(
                f"server exited with {proc.process.returncode} before listening:\n{proc.output()}"
            )
        with contextlib.suppress(OSError), socket.create_connection((HOST, proc.port), 1.0):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {HOST}:{proc.port} after {timeout} s")


def start(
    argv: Sequence[str],
    port: int,
    log: Path,
    *,
    preexec_fn: Callable[[], None] | None = None,
) -> Proc:
    """Start `argv` (which listens on `port`), logging to `log`; wait until it listens."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO / "src")}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            # Only resource limits and signal dispositions; the child has no threads yet.
            preexec_fn=preexec_fn,
        )
    proc = Proc(process, port, log)
    try:
        wait_listening(proc)
    except BaseException:
        proc.stop()
        raise
    return proc


@contextlib.contextmanager
def running(
    kind: str,
    store: Path,
    log: Path,
    *,
    utf8: bool = False,
    size: int | None = None,
    serve_options: Sequence[str] = (),
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Proc]:
    """Run catcher `kind` on a free port for the duration of a block."""
    port = free_port()
    argv = catcher_argv(kind, port, store, utf8=utf8, size=size, serve_options=serve_options)
    proc = start(argv, port, log, preexec_fn=preexec_fn)
    try:
        yield proc
    finally:
        proc.stop()


def data_reply(
    port: int,
    sender: str,
    recipients: Sequence[str],
    data: bytes,
    *,
    smtputf8: bool = False,
    timeout: float = 60.0,
) -> tuple[int, str]:
    """Send one message as raw bytes and return the reply to its DATA (or the refusal).

    Raw bytes through `smtplib.SMTP.data`: `send_message` would quote ``From `` lines on
    the client side. A refused MAIL or RCPT returns that reply instead.
    """
    with smtplib.SMTP(HOST, port, timeout=timeout) as client:
        client.ehlo("reliability.example")
        options = []
        if smtputf8:
            options.append("SMTPUTF8")
            client.command_encoding = "utf-8"
        if any(b > 127 for b in data):
            options.append("BODY=8BITMIME")
        code, reply = client.mail(sender, options)
        if code != 250:
            return code, reply.decode(errors="replace")
        for recipient in recipients:
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                return code, reply.decode(errors="replace")
        code, reply = client.data(data)
        return code, reply.decode(errors="replace")


def send_ok(
    port: int, sender: str, recipients: Sequence[str], data: bytes, *, smtputf8: bool = False
) -> None:
    """Send and require ``250``."""
    code, reply = data_reply(port, sender, recipients, data, smtputf8=smtputf8)
    if code != 250:
        raise AssertionError(f"expected 250 for the DATA, got {code} {reply}")


def simple_message(token: str, body: str = "hello\n", *, size: int = 0) -> bytes:
    """A small text message whose Subject and Message-ID carry `token`; pad to `size`."""
    head = (
        f"From: sender@example.com\r\nTo: {token}@example.com\r\nSubject: {token}\r\n"
        f"Message-ID: <{token}@reliability.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode()
    payload = body.replace("\n", "\r\n").encode()
    if size > len(head) + len(payload):
        line = b"x" * 76 + b"\r\n"
        missing = size - len(head) - len(payload)
        payload += line * (missing // len(line)) + b"y" * (missing % len(line))
    return head + payload
