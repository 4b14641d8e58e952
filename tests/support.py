"""Helpers the test suites share: free ports, real server processes, real clients."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"


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


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Wait until something accepts connections on `port`; fail if `process` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            raise RuntimeError(
                f"server exited with {process.returncode} before listening:\n"
                f"{out.decode(errors='replace')}{err.decode(errors='replace')}"
            )
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1.0):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> tuple[str, str]:
    """Stop `process` by its PID (SIGTERM, then SIGKILL) and return its output."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout)
    out, err = process.communicate()
    return out.decode(errors="replace"), err.decode(errors="replace")


@dataclass
class Server:
    """A server process under test, listening on ``HOST:port``."""

    process: subprocess.Popen[bytes]
    port: int
    host: str = HOST

    def stop(self) -> tuple[str, str]:
        """Stop it; return (stdout, stderr)."""
        return stop(self.process)


def start_process(argv: Sequence[str], port: int, cwd: Path | None = None) -> Server:
    """Start `argv` and wait until it listens on `port`."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        list(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        wait_for_port(port, process)
    except BaseException:
        stop(process)
        raise
    return Server(process, port)


def aiosmtpd_argv(port: int, handler: str, *args: str, utf8: bool = False) -> list[str]:
    """The stock ``aiosmtpd`` command line for `handler` on ``127.0.0.1:port``."""
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{HOST}:{port}", "-c", handler]
    if utf8:
        argv.insert(4, "-u")
    return [*argv, *args]


@contextlib.contextmanager
def aiosmtpd(
    handler: str, *args: str, utf8: bool = False, cwd: Path | None = None
) -> Iterator[Server]:
    """Run the real ``aiosmtpd`` command with `handler` for the duration of a block."""
    port = free_port()
    server = start_process(aiosmtpd_argv(port, handler, *args, utf8=utf8), port, cwd=cwd)
    try:
        yield server
    finally:
        server.stop()
