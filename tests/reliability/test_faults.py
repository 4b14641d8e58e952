"""Faults on the real write path (guarantees 1, 2 and 5: atomic, durable before 250, loud).

Each scenario breaks the store under a running catcher process (the stock ``aiosmtpd`` command
with `MailFile` or `MailDir`, and ``mailcatcher serve``) and then checks the same four things:

* the client never got a ``250`` for a message that is not stored (a ``4xx``, or a dropped
  connection when the server itself was killed);
* every message stored before is still there, complete and parseable by the stdlib alone;
* nothing half-written is where readers look (the Maildir's ``new/`` and ``cur/``, the mail
  file's own path); leftovers of a killed write may only sit in the Maildir's ``tmp/`` or, for
  the mail file, as a dot-file ``.NAME.*.tmp`` beside it, which no reader opens;
* once the cause is gone, the still-running (or restarted) server stores the next message.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
import resource
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailcatcher import get_messages
from tests import support
from tests.reliability.harness import data_reply, simple_message
from tests.support import HOST, Proc

KINDS = ["mailfile", "maildir", "serve"]
SENDER = "app@example.com"


def store_path(kind: str, box: Path) -> Path:
    """Where catcher `kind` keeps its mail inside the directory `box`."""
    return box / "latest.mail" if kind == "mailfile" else box


def send(proc: Proc, token: str, *, size: int = 0) -> tuple[int, str]:
    """Send the message named `token` (its Subject); return the DATA reply."""
    message = simple_message(token, size=size)
    return data_reply(proc.port, SENDER, [f"{token}@example.com"], message)


def stored(kind: str, store: Path) -> list[str]:
    """Subjects of the messages a reader finds, each parsed by the stdlib alone.

    Also fails when anything half-written sits where readers look.
    """
    parser = BytesParser(policy=policy.default)
    subjects: list[str] = []
    if kind == "mailfile":
        if store.exists():
            message = parser.parsebytes(store.read_bytes())
            assert not message.defects, message.defects
            assert message["X-MailFrom"] == SENDER
            subjects.append(str(message["Subject"]))
    else:
        for sub in ("new", "cur"):
            hidden = [name for name in os.listdir(store / sub) if name.startswith(".")]
            assert not hidden, f"stray files in {sub}/: {hidden}"
        maildir = mailbox.Maildir(store, factory=None, create=False)
        for key in maildir.iterkeys():
            message = parser.parsebytes(maildir.get_bytes(key))
            assert not message.defects, (key, message.defects)
            subjects.append(str(message["Subject"]))
    # The package's own reader agrees with the stdlib.
    assert sorted(str(m["Subject"]) for m in get_messages(store)) == sorted(subjects)
    return sorted(subjects)


def leftovers(kind: str, store: Path) -> list[str]:
    """Temporary files a killed write may leave, where no reader looks."""
    if kind == "mailfile":
        return sorted(
            name
            for name in os.listdir(store.parent)
            if name.startswith(f".{store.name}.") and name.endswith(".tmp")
        )
    return sorted(os.listdir(store / "tmp"))


def assert_transient(reply: tuple[int, str]) -> None:
    """A 4xx: the client keeps the message and tries again (RFC 5321 4.2.1)."""
    code, text = reply
    assert 400 <= code < 500, f"expected a 4xx reply, got {code} {text}"


@contextlib.contextmanager
def catcher(
    kind: str, box: Path, log: Path, preexec_fn: Callable[[], None] | None = None
) -> Iterator[Proc]:
    """Catcher `kind` over `box`, output to `log`; fails if it logged a traceback.

    A storage failure is expected and logged as one line; a traceback would mean the
    failure took a path nobody planned for.
    """
    with support.catcher(kind, store_path(kind, box), log=log, preexec_fn=preexec_fn) as proc:
        yield proc


@pytest.mark.parametrize("kind", KINDS)
def test_directory_vanishes_then_returns(kind: str, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    store = store_path(kind, box)
    with catcher(kind, box, tmp_path / "server.log") as proc:
        assert send(proc, "before")[0] == 250
        box.rename(tmp_path / "away")
        assert_transient(send(proc, "while-away"))
        assert not box.exists(), "the catcher must not recreate a vanished store"
        (tmp_path / "away").rename(box)
        assert stored(kind, store) == ["before"]
        assert send(proc, "after")[0] == 250
        assert stored(kind, store) == (["after"] if kind == "mailfile" else ["after", "before"])
        assert leftovers(kind, store) == []


@pytest.mark.parametrize("kind", KINDS)
def test_directory_becomes_a_file(kind: str, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    store = store_path(kind, box)
    with catcher(kind, box, tmp_path / "server.log") as proc:
        assert send(proc, "before")[0] == 250
        box.rename(tmp_path / "away")
        box.write_bytes(b"not a directory\n")
        code, text = send(proc, "into-a-file")
        assert_transient((code, text))
        assert "cannot" in text  # says what went wrong, not a Python class name
        assert box.read_bytes() == b"not a directory\n"
        box.unlink()
        (tmp_path / "away").rename(box)
        assert send(proc, "after")[0] == 250
        assert stored(kind, store) == (["after"] if kind == "mailfile" else ["after", "before"])
        assert leftovers(kind, store) == []


@pytest.mark.parametrize("kind", KINDS)
def test_directory_deleted_for_good(kind: str, tmp_path: Path) -> None:
    """``rm -rf`` of the store: 4xx while it is gone; a restarted server stores again."""
    box = tmp_path / "box"
    box.mkdir()
    store = store_path(kind, box)
    log = tmp_path / "server.log"
    with catcher(kind, box, log) as proc:
        assert send(proc, "before")[0] == 250
        shutil.rmtree(box)
        assert_transient(send(proc, "into-nothing"))
        assert_transient(send(proc, "into-nothing-again"))
        if kind == "mailfile":
            box.mkdir()  # the cause is gone: the running server stores again
            assert send(proc, "after")[0] == 250
            assert stored(kind, store) == ["after"]
    if kind != "mailfile":
        with catcher(kind, box, log) as proc:  # a restart creates the Maildir again
            assert send(proc, "after")[0] == 250
            assert stored(kind, store) == ["after"]


# --- out of space ----------------------------------------------------------------------------


def _mount_tmpfs(path: Path, size: str) -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (a real ENOSPC); skipped where mounting is not allowed."""
    box = tmp_path / "disk"
    box.mkdir()
    if not _mount_tmpfs(box, "1m"):
        pytest.skip("cannot mount a tmpfs here (needs root); test_file_size_limit covers EFBIG")
    try:
        yield box
    finally:
        subprocess.run(["umount", "-l", str(box)], check=False)


@pytest.mark.parametrize("kind", KINDS)
def test_disk_full(kind: str, small_disk: Path, tmp_path: Path) -> None:
    store = store_path(kind, small_disk)
    with catcher(kind, small_disk, tmp_path / "server.log") as proc:
        assert send(proc, "before")[0] == 250
        # Bigger than the whole file system: ENOSPC in the middle of the write.
        code, text = send(proc, "too-big-for-the-disk", size=1_500_000)
        assert_transient((code, text))
        assert "No space left" in text or "full" in text, text
        assert stored(kind, store) == ["before"]
        assert leftovers(kind, store) == []
        # Fill the disk with someone else's file, then free it: the next message is stored.
        filler = small_disk / "filler"
        with contextlib.suppress(OSError), open(filler, "wb") as fp:
            fp.write(b"\0" * 2_000_000)
        assert_transient(send(proc, "disk-still-full", size=100_000))
        filler.unlink()
        assert send(proc, "after")[0] == 250
        assert stored(kind, store) == (["after"] if kind == "mailfile" else ["after", "before"])
        assert leftovers(kind, store) == []


@pytest.fixture
def two_mib_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs; skipped where mounting is not allowed."""
    box = tmp_path / "disk"
    box.mkdir()
    if not _mount_tmpfs(box, "2m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield box
    finally:
        subprocess.run(["umount", "-l", str(box)], check=False)


@pytest.mark.parametrize("kind", ["maildir", "serve"])
def test_a_full_disk_heals_once_mail_is_deleted(
    kind: str, two_mib_disk: Path, tmp_path: Path
) -> None:
    # Before (#11): on a 2 MiB disk the index's write-ahead log grew to fill it and never
    # shrank, so after "delete all" and a restart every message still got 451.
    store = store_path(kind, two_mib_disk)
    with catcher(kind, two_mib_disk, tmp_path / "server.log") as proc:
        for number in range(400):  # about 8 MB offered to a 2 MiB disk
            code, text = send(proc, f"fill{number}", size=20_000)
            if code != 250:
                assert_transient((code, text))
                break
        else:
            pytest.fail("a 2 MiB disk took 8 MB of mail")
    cleared = subprocess.run(
        [sys.executable, "-m", "mailcatcher", "clear", str(store)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cleared.returncode == 0, cleared.stderr
    with catcher(kind, two_mib_disk, tmp_path / "server2.log") as proc:
        for number in range(5):
            code, text = send(proc, f"after{number}", size=20_000)
            assert code == 250, (number, code, text)
    assert sorted(stored(kind, store)) == [f"after{number}" for number in range(5)]


def _limit_file_size() -> None:
    # Runs in the child before exec: a 512 KiB file-size limit, and SIGXFSZ ignored so a
    # write over it fails with EFBIG instead of killing the process (setrlimit(2)).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 1024, 512 * 1024))


@pytest.mark.parametrize("kind", KINDS)
def test_file_size_limit(kind: str, tmp_path: Path) -> None:
    """EFBIG from RLIMIT_FSIZE: the write path fails part-way, wherever tmpfs is not allowed."""
    box = tmp_path / "box"
    box.mkdir()
    store = store_path(kind, box)
    with catcher(kind, box, tmp_path / "server.log", preexec_fn=_limit_file_size) as proc:
        assert send(proc, "before")[0] == 250
        code, text = send(proc, "over-the-limit", size=1_000_000)
        assert_transient((code, text))
        assert "too large" in text.lower(), text
        assert stored(kind, store) == ["before"]
        assert leftovers(kind, store) == []
        assert send(proc, "after")[0] == 250
        assert stored(kind, store) == (["after"] if kind == "mailfile" else ["after", "before"])


# --- the server killed -----------------------------------------------------------------------


def _restart(kind: str, box: Path, log: Path) -> Proc:
    return support.start_catcher(kind, store_path(kind, box), log=log)


def _smtp_until_data(port: int) -> socket.socket:
    """A raw client that is inside DATA (the 354 read); the caller sends the body."""
    sock = socket.create_connection((HOST, port), timeout=30)
    reader = sock.makefile("rb")

    def expect(prefix: bytes) -> None:
        while True:
            line = reader.readline()
            assert line.startswith(prefix), line
            if line[3:4] != b"-":
                return

    expect(b"220")
    for command, reply in (
        (b"EHLO reliability.example", b"250"),
        (f"MAIL FROM:<{SENDER}>".encode(), b"250"),
        (b"RCPT TO:<killed@example.com>", b"250"),
        (b"DATA", b"354"),
    ):
        sock.sendall(command + b"\r\n")
        expect(reply)
    reader.close()
    return sock


def _final_reply(sock: socket.socket) -> bytes:
    """What the server answered after the DATA, or b"" when the connection just ended."""
    with contextlib.suppress(OSError):
        return sock.recv(1024)
    return b""


@pytest.mark.parametrize("kind", KINDS)
def test_killed_during_data_transfer(kind: str, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    store = store_path(kind, box)
    log = tmp_path / "server.log"
    proc = _restart(kind, box, log)
    try:
        assert send(proc, "before")[0] == 250
        message = simple_message("killed", size=200_000)
        with _smtp_until_data(proc.port) as sock:
            sock.sendall(message[: len(message) // 2])
            time.sleep(0.2)  # the server has read and buffered part of it
            proc.kill()
            with contextlib.suppress(OSError):
                sock.sendall(message[len(message) // 2 :] + b"\r\n.\r\n")
            reply = _final_reply(sock)
        assert not reply.startswith(b"250"), reply
    finally:
        proc.stop()
    assert stored(kind, store) == ["before"]
    proc = _restart(kind, box, log)
    try:
        assert send(proc, "after")[0] == 250
    finally:
        proc.stop()
    assert stored(kind, store) == (["after"] if kind == "mailfile" else ["after", "before"])
    assert leftovers(kind, store) == []


def _wait_for_temporary(kind: str, store: Path, timeout: float) -> Path | None:
    """Poll (1 ms) for the catcher's temporary file to appear."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in leftovers(kind, store) if (kind == "mailfile" or store.exists()) else []:
            path = (store.parent if kind == "mailfile" else store / "tmp") / name
            if path.exists():
                return path
        time.sleep(0.001)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_killed_in_the_middle_of_a_write(kind: str, tmp_path: Path) -> None:
    """SIGSTOP the moment the temporary file exists, then SIGKILL: a write cut short.

    The temporary file exists from its creation until the rename; with 1,000,000 short
    lines, generating and writing the message keeps it there for tens of milliseconds,
    so a 1 ms poll lands inside. The write itself is a few large system calls (the
    generator no longer writes a line at a time), so the file may hold nothing yet:
    what matters is that it is not the complete message and no reader sees it.
    """
    box = tmp_path / "box"
    box.mkdir()
    store = store_path(kind, box)
    log = tmp_path / "server.log"
    big = simple_message("cut-short", "abcdefghij\n" * 1_000_000)
    proc = _restart(kind, box, log)
    replies: list[object] = []
    try:
        assert send(proc, "before")[0] == 250

        def client() -> None:
            try:
                replies.append(
                    data_reply(proc.port, SENDER, ["cut-short@example.com"], big, timeout=60)
                )
            except (smtplib.SMTPException, OSError) as error:
                replies.append(error)

        thread = threading.Thread(target=client)
        thread.start()
        temporary = _wait_for_temporary(kind, store, timeout=60)
        if temporary is not None:
            os.kill(proc.pid, signal.SIGSTOP)
            partial = temporary.stat().st_size
        proc.kill()
        thread.join(60)
        assert temporary is not None, f"never saw the temporary file; replies: {replies}"
        assert partial < len(big)
    finally:
        proc.stop()
    assert len(replies) == 1
    assert not (isinstance(replies[0], tuple) and replies[0][0] == 250), replies
    # What readers see: only the complete earlier message. The cut-short file stays where
    # no reader looks (tmp/ in a Maildir; a dot-file beside the mail file).
    assert stored(kind, store) == ["before"]
    assert [temporary.name] == leftovers(kind, store)
    proc = _restart(kind, box, log)
    try:
        assert send(proc, "after")[0] == 250
    finally:
        proc.stop()
    assert stored(kind, store) == (["after"] if kind == "mailfile" else ["after", "before"])
