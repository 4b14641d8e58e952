"""The one harness that starts catcher processes for the test suites.

Every catcher a test runs is a subprocess on 127.0.0.1 on a port the OS picked, with its
stdout and stderr going to a log file (a pipe nobody reads fills up and stalls the server),
stopped by its PID: SIGTERM, then SIGKILL.

- ``catcher("mailfile" | "maildir", store)``: the stock ``aiosmtpd`` command with
  `mailcatcher.catcher.MailFile` or `MailDir`. aiosmtpd does not say which port it bound,
  so the port is the OS's pick read back from a socket bound to port 0 (and picked again if
  another process took it in the meantime).
- ``catcher("serve", store, http=...)``: ``mailcatcher serve`` on port 0; the ports it bound
  are read from its banner ("SMTP  127.0.0.1:PORT", "Web   http://127.0.0.1:PORT/").
- ``web(store)``: ``mailcatcher web`` over a store another process writes, the same way.

`start_catcher` and `start` are the same without the ``with`` block, for tests that kill and
restart a server. `free_port`, `wait_for_port` and `stop` are the parts, for the few tests of
the command itself that need its output on a pipe.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
MAILFILE = "mailcatcher.catcher.MailFile"
MAILDIR = "mailcatcher.catcher.MailDir"
#: ``python -m mailcatcher``: the command, run as users run it, in its own process.
MAILCATCHER = [sys.executable, "-m", "mailcatcher"]
#: The catchers `catcher` starts: the stock command with either handler, and ``serve``.
KINDS = ("mailfile", "maildir", "serve")
#: How long a server may take to listen. Generous: a busy 2-core machine is slow to start
#: Python, and a server that dies says so at once (its exit is noticed on the next poll).
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

_BANNER_END = "Press Ctrl-C to stop."
_SMTP_LINE = re.compile(r"^SMTP  (\S+):(\d+) ", re.MULTILINE)
_WEB_LINE = re.compile(r"^Web   http://([^/\s]+):(\d+)/", re.MULTILINE)


# --- the parts ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS just handed out (bind to 0, read it back)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a new server could listen on `port` (as servers do, with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            sock.listen()
        except OSError:
            return False
    return True


def listens(port: int) -> bool:
    """Whether something accepts connections on ``127.0.0.1:port`` right now."""
    try:
        with socket.create_connection((HOST, port), timeout=5.0):
            return True
    except OSError:
        return False


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], timeout: float = START_TIMEOUT
) -> None:
    """Wait until something accepts connections on `port`; fail if `process` died.

    For a process whose output goes to pipes the test reads; `start` is the usual way.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            raise RuntimeError(
                f"server exited with {process.returncode} before listening:\n"
                f"{(out or b'').decode(errors='replace')}{(err or b'').decode(errors='replace')}"
            )
        if listens(port):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout} s")


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> tuple[str, str]:
    """Stop `process` by its PID (SIGTERM, then SIGKILL) and return its piped output."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout)
    out, err = process.communicate()
    return (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")


# --- one server process ------------------------------------------------------------------


@dataclass
class Proc:
    """A server process on ``HOST``: its SMTP (or only) `port`, its output in `log`."""

    process: subprocess.Popen[bytes]
    log: Path
    port: int = 0
    #: The web inbox's port (``serve`` with ``http=True``, ``mailcatcher web``), else None.
    http_port: int | None = None
    host: str = HOST
    #: Where this process's output starts in `log` (a restarted server appends to it).
    log_offset: int = 0
    #: Remove the log once the process has stopped (the harness made it).
    _own_log: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    @property
    def url(self) -> str:
        """The web inbox's base URL, ending in ``/``."""
        if self.http_port is None:
            raise AttributeError("this process serves no web inbox")
        return f"http://{self.host}:{self.http_port}/"

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None

    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr, interleaved)."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def rss_kib(self) -> int:
        """Resident memory now, in KiB (``VmRSS`` from ``/proc/PID/status``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for pid {self.pid}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush; what a crash or the OOM killer does."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def stop(self) -> str:
        """SIGTERM (then SIGKILL after `STOP_TIMEOUT`); return the output. Idempotent."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT)
        output = self.output()
        if self._own_log:
            self.log.unlink(missing_ok=True)
        return output


def _new_log() -> Path:
    handle, name = tempfile.mkstemp(prefix="mailcatcher-test-", suffix=".log")
    os.close(handle)
    return Path(name)


def _own_output(proc: Proc) -> str:
    try:
        with open(proc.log, "rb") as log:
            log.seek(proc.log_offset)
            return log.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _read_banner(proc: Proc, deadline: float) -> None:
    """Wait for ``serve``'s or ``web``'s banner in the log; take the ports from it."""
    while time.monotonic() < deadline:
        output = _own_output(proc)
        if _BANNER_END in output:
            smtp = _SMTP_LINE.search(output)
            web = _WEB_LINE.search(output)
            if smtp is not None:
                proc.port = int(smtp[2])
            if web is not None:
                proc.http_port = int(web[2])
                proc.port = proc.port or proc.http_port
            if not proc.port:
                raise RuntimeError(f"no SMTP or Web port in the banner:\n{output}")
            return
        if not proc.alive():
            break
        time.sleep(0.02)
    _fail_start(proc, deadline)


def _wait_listening(proc: Proc, deadline: float) -> None:
    while time.monotonic() < deadline:
        if not proc.alive():
            break
        if listens(proc.port):
            return
        time.sleep(0.02)
    _fail_start(proc, deadline)


def _fail_start(proc: Proc, deadline: float) -> None:
    if proc.alive():
        raise TimeoutError(f"{proc.process.args!r} did not listen in time:\n{proc.output()}")
    raise RuntimeError(
        f"{proc.process.args!r} exited with {proc.process.returncode} before listening:\n"
        f"{proc.output()}"
    )


def start(
    argv: Sequence[str],
    *,
    port: int | None = None,
    log: Path | None = None,
    cwd: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
    timeout: float = START_TIMEOUT,
) -> Proc:
    """Start the server `argv`, output to `log`, and return once it listens.

    With `port`, wait until something accepts connections there. Without it, `argv` is
    ``mailcatcher serve`` or ``mailcatcher web`` on port 0: wait for its banner and take
    the ports it bound from there. `log` defaults to a temporary file, removed on `stop`.
    Fails fast, with the log, if the process exits first.
    """
    own_log = log is None
    log = _new_log() if log is None else log
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    with open(log, "ab") as out:
        offset = out.seek(0, os.SEEK_END)
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            # Only resource limits and signal dispositions; the child has no threads yet.
            preexec_fn=preexec_fn,
        )
    proc = Proc(process, log, port or 0, log_offset=offset, _own_log=own_log)
    deadline = time.monotonic() + timeout
    try:
        if port is None:
            _read_banner(proc, deadline)
        _wait_listening(proc, deadline)
    except BaseException:
        proc.stop()
        raise
    return proc


# --- the catchers ------------------------------------------------------------------------


def aiosmtpd_argv(
    port: int, handler: str, *args: str, utf8: bool = False, size: int | None = None
) -> list[str]:
    """The stock ``aiosmtpd`` command line for `handler` on ``127.0.0.1:port``.

    `utf8` is ``-u`` (SMTPUTF8), `size` is ``-s`` (the message size limit); `args` go to
    the handler (``-c HANDLER ARGS...``).
    """
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{HOST}:{port}"]
    if utf8:
        argv.append("-u")
    if size is not None:
        argv += ["-s", str(size)]
    return [*argv, "-c", handler, *args]


def catcher_argv(
    kind: str,
    store: Path,
    *,
    port: int = 0,
    keep: int | None = None,
    utf8: bool = False,
    size: int | None = None,
    http: bool = False,
    options: Sequence[str] = (),
) -> list[str]:
    """The command line of catcher `kind` (one of `KINDS`) over `store`.

    ``mailfile`` and ``maildir`` are the stock ``aiosmtpd`` command on `port`; ``serve``
    listens on port 0 unless `port` is given, with the web inbox on port 0 if `http`, and
    always speaks SMTPUTF8. `size` is the message size limit; `options` go to ``serve``.
    """
    if kind == "mailfile":
        if keep is not None:
            raise ValueError("MailFile keeps one message; --keep is for a Maildir")
        return aiosmtpd_argv(port, MAILFILE, str(store), utf8=utf8, size=size)
    if kind == "maildir":
        extra = [] if keep is None else ["--keep", str(keep)]
        return aiosmtpd_argv(port, MAILDIR, "--", str(store), *extra, utf8=utf8, size=size)
    if kind == "serve":
        argv = [*MAILCATCHER, "serve", "--quiet", "--smtp", f"{HOST}:{port}", "--dir", str(store)]
        argv += ["--http", f"{HOST}:0"] if http else ["--no-http"]
        if keep is not None:
            argv += ["--keep", str(keep)]
        if size is not None:
            argv += ["--max-size", str(size)]
        return [*argv, *options]
    raise ValueError(f"unknown catcher {kind!r}; choose from {', '.join(KINDS)}")


def start_catcher(
    kind: str,
    store: Path,
    *,
    log: Path | None = None,
    keep: int | None = None,
    utf8: bool = False,
    size: int | None = None,
    http: bool = False,
    options: Sequence[str] = (),
    cwd: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Proc:
    """Start catcher `kind` over `store` on an OS-picked port; return once it listens."""
    if kind == "serve":
        argv = catcher_argv(kind, store, keep=keep, size=size, http=http, options=options)
        return start(argv, log=log, cwd=cwd, preexec_fn=preexec_fn)
    if http or options:
        raise ValueError("http and options are for serve")
    for attempt in range(3):
        port = free_port()
        argv = catcher_argv(kind, store, port=port, keep=keep, utf8=utf8, size=size)
        try:
            return start(argv, port=port, log=log, cwd=cwd, preexec_fn=preexec_fn)
        except RuntimeError as error:
            # Another process took the port between our bind and aiosmtpd's: pick again.
            if "Address already in use" not in str(error) or attempt == 2:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def catcher(
    kind: str,
    store: Path,
    *,
    log: Path | None = None,
    keep: int | None = None,
    utf8: bool = False,
    size: int | None = None,
    http: bool = False,
    options: Sequence[str] = (),
    cwd: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
    check: bool = True,
) -> Iterator[Proc]:
    """Run catcher `kind` (``mailfile``, ``maildir``, ``serve``) over `store` for a block.

    Stopped by its PID on the way out. With `check`, a block that ended normally also
    fails if the server died or logged a traceback.
    """
    proc = start_catcher(
        kind,
        store,
        log=log,
        keep=keep,
        utf8=utf8,
        size=size,
        http=http,
        options=options,
        cwd=cwd,
        preexec_fn=preexec_fn,
    )
    try:
        yield proc
        if check:
            assert proc.alive(), f"the catcher died:\n{proc.output()}"
    finally:
        output = proc.stop()
    if check:
        assert "Traceback" not in output, output


@contextlib.contextmanager
def web(store: Path, *args: str, log: Path | None = None, check: bool = True) -> Iterator[Proc]:
    """Run ``mailcatcher web STORE`` on port 0 for a block; `Proc.url` is its address."""
    proc = start([*MAILCATCHER, "web", str(store), "--http", f"{HOST}:0", *args], log=log)
    try:
        yield proc
        if check:
            assert proc.alive(), f"the web inbox died:\n{proc.output()}"
    finally:
        output = proc.stop()
    if check:
        assert "Traceback" not in output, output
