"""A throwaway PostgreSQL server for the tests and the benchmark, from Debian's packages.

`PostgresServer.start` runs ``initdb`` in a temporary directory and starts ``postgres`` on
127.0.0.1 on a port the OS picked, as an unprivileged user when we are root (CI runs as
root, and initdb refuses to: "cannot be run as root"). The server is the `subprocess`
we started, stopped by its PID: SIGINT is PostgreSQL's fast shutdown, SIGQUIT its
immediate one (what a crash leaves: recovery from the WAL on the next start).

The superuser ``mailcatcher`` logs in over TCP with `PASSWORD` (scram-sha-256), so the
tests can check that the password shows nowhere.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
USER = "mailcatcher"
#: Distinctive, so a test can look for it in any output.
PASSWORD = "pw-Zq7Hunter2"
#: The unprivileged user a root test run starts the server as.
RUN_AS = "nobody"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def binaries() -> Path | None:
    """The directory holding ``initdb`` and ``postgres`` (the newest Debian install)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return None if initdb is None else Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """One running PostgreSQL server in `directory`; `url` logs in as the superuser."""

    bin: Path
    directory: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    _user: str | None = field(default=None, repr=False)

    @classmethod
    def start(cls, bin: Path | None = None) -> PostgresServer:
        """initdb in a new temporary directory, then start the server there."""
        bin = bin or binaries()
        if bin is None:
            raise FileNotFoundError("no PostgreSQL binaries (initdb, postgres)")
        directory = Path(tempfile.mkdtemp(prefix="mailcatcher-pg-"))
        user = RUN_AS if os.geteuid() == 0 else None
        server = cls(bin, directory, _free_port(), directory / "server.log", _user=user)
        try:
            server._initdb()
            server.run()
        except BaseException:
            server.stop()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return server

    @property
    def url(self) -> str:
        """The superuser's URL for database `postgres`."""
        return self.url_for("postgres")

    def url_for(self, database: str, password: str = PASSWORD) -> str:
        """The URL of `database` on this server."""
        return f"postgresql://{USER}:{password}@{HOST}:{self.port}/{database}"

    def _ids(self) -> tuple[int | None, int | None, list[int] | None]:
        """(user, group, extra groups) to run the server's commands as."""
        if self._user is None:
            return None, None, None
        entry = pwd.getpwnam(self._user)
        return entry.pw_uid, entry.pw_gid, []

    def _initdb(self) -> None:
        user, group, groups = self._ids()
        data = self.directory / "data"
        password_file = self.directory / "password"
        password_file.write_text(PASSWORD + "\n")
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            for path in (self.directory, password_file):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.directory,
            user=user,
            group=group,
            extra_groups=groups,
        )

    def run(self) -> None:
        """Start ``postgres`` (again) on `port`; return once it accepts connections."""
        user, group, groups = self._ids()
        out = open(self.log, "ab")  # noqa: SIM115  # the server's stdout, closed below
        try:
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.directory / "data"),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.directory),
                    "-c",
                    f"listen_addresses={HOST}",
                    # Only an OS crash loses what fsync=off skips; a server crash does not.
                    # synchronous_commit stays on: a commit is in the WAL before it returns.
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                user=user,
                group=group,
                extra_groups=groups,
            )
        finally:
            out.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        ready = self.bin / "pg_isready"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{self.log.read_text(errors='replace')}")
            done = subprocess.run([str(ready), "-q", "-h", HOST, "-p", str(self.port)], check=False)
            if done.returncode == 0:
                return
            time.sleep(0.05)
        raise TimeoutError(f"postgres did not start:\n{self.log.read_text(errors='replace')}")

    def halt(self, *, crash: bool = False) -> None:
        """Stop the server by its PID: fast shutdown, or immediate (a crash) with `crash`."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGQUIT if crash else signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self.halt()
        shutil.rmtree(self.directory, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """Create database `name`; return its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)
