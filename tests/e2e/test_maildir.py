"""A Maildir catcher as a real process (``aiosmtpd -c ...MailDir`` and ``mailcatcher serve``).

Real SMTP clients send; checks in other processes read by recipient, as a team's automated
checks would; the stdlib `mailbox` module and mutt read the same directory.
"""

from __future__ import annotations

import concurrent.futures
import json
import mailbox
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailcatcher import get_latest_message, wait_for_message
from tests.e2e.cli_support import mutt_subjects, needs_mutt, plain, run_cli, send, signup_mail
from tests.support import Proc, aiosmtpd_argv, catcher, free_port

#: The two Maildir catchers: the stock ``aiosmtpd -c ...MailDir`` and ``mailcatcher serve``.
KINDS = ("maildir", "serve")

SENDER = "app@example.com"
EVA = "eva@example.com"
BOB = "bob@example.com"


def files(maildir: Path) -> list[Path]:
    return sorted(p for sub in ("new", "cur") for p in (maildir / sub).iterdir())


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def server(kind: str, maildir: Path) -> Iterator[Proc]:
    with catcher(kind, maildir) as running:
        yield running


# A check as a team's test would run it: its own process, waiting by recipient.
CHECK = """
import json, sys
from mailcatcher import wait_for_message
from mailcatcher.message import envelope_recipients, text_body
print("waiting", flush=True)
message = wait_for_message(sys.argv[1], 30, to=sys.argv[2])
print(json.dumps({"rcpts": envelope_recipients(message), "subject": message["Subject"],
                  "body": text_body(message)}))
"""


def test_twenty_checks_each_read_their_own_message(server: Proc, maildir: Path) -> None:
    rcpts = [f"check{number}@example.com" for number in range(20)]
    checks = {
        rcpt: subprocess.Popen(
            [sys.executable, "-c", CHECK, str(maildir), rcpt],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rcpt in rcpts
    }
    try:
        for rcpt, check in checks.items():
            assert check.stdout is not None
            # Every check is inside wait_for_message before the first message is sent.
            assert check.stdout.readline() == "waiting\n", f"check for {rcpt} did not start"
        with concurrent.futures.ThreadPoolExecutor(len(rcpts)) as pool:
            sent = [
                pool.submit(
                    send,
                    server.host,
                    server.port,
                    plain(f"For {rcpt}", rcpt, f"secret for {rcpt}: {os.urandom(8).hex()}\n"),
                    SENDER,
                    [rcpt],
                )
                for rcpt in rcpts
            ]
            for future in sent:
                future.result()
        results = {}
        for rcpt, check in checks.items():
            out, err = check.communicate(timeout=30)
            assert check.returncode == 0, err
            results[rcpt] = json.loads(out)
    finally:
        for check in checks.values():
            if check.poll() is None:
                check.kill()
                check.communicate()
    stored = {
        m["X-RcptTo"]: m.get_content() for m in map(read_file, files(maildir))
    }  # what the server wrote, read without mailcatcher
    assert len(stored) == 20
    for rcpt, result in results.items():
        assert result == {"rcpts": [rcpt], "subject": f"For {rcpt}", "body": stored[rcpt]}
        assert result["body"].startswith(f"secret for {rcpt}: ")


def read_file(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("kind", KINDS)
def test_keep_trims_the_oldest(kind: str, maildir: Path) -> None:
    with catcher(kind, maildir, keep=3) as server:
        for number in range(5):
            send(
                server.host,
                server.port,
                plain(f"number {number}", "eva@example.com"),
                SENDER,
                ["eva@example.com"],
            )
        assert len(files(maildir)) == 3
        result = run_cli("list", str(maildir), "--json")
    assert result.status == 0
    assert [entry["subject"] for entry in json.loads(result.out)] == [
        "number 4",
        "number 3",
        "number 2",
    ]


def test_one_message_to_several_recipients_is_stored_once(server: Proc, maildir: Path) -> None:
    rcpts = ["eva@example.com", "Bob@Example.COM", "hidden-bcc@example.org"]
    send(
        server.host,
        server.port,
        plain("Team news", "eva@example.com, Bob@example.com"),
        SENDER,
        rcpts,
    )
    assert len(files(maildir)) == 1
    for rcpt in ["eva@example.com", "Bob@example.com", "hidden-bcc@example.org"]:
        found = get_latest_message(maildir, to=rcpt)
        assert found is not None, rcpt
        assert found["Subject"] == "Team news"
    assert get_latest_message(maildir, to="carol@example.com") is None


def test_the_stdlib_mailbox_module_reads_the_directory(server: Proc, maildir: Path) -> None:
    send(server.host, server.port, signup_mail(), "noreply@shop.example", ["eva@example.com"])
    send(server.host, server.port, plain("Second", "bob@example.com"), SENDER, ["bob@example.com"])
    box = mailbox.Maildir(maildir, create=False)
    messages = sorted(box, key=lambda message: str(message["Subject"]))
    assert [str(m["Subject"]) for m in messages] == ["Confirm your email address", "Second"]
    assert [m["X-RcptTo"] for m in messages] == ["eva@example.com", "bob@example.com"]
    assert [m.get_subdir() for m in messages] == ["new", "new"]
    invoice = [p for p in messages[0].walk() if p.get_filename() == "invoice-1042.pdf"]
    assert len(invoice) == 1
    payload = invoice[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.startswith(b"%PDF-1.4")


@needs_mutt
def test_mutt_reads_the_directory(server: Proc, maildir: Path, tmp_path: Path) -> None:
    for number in range(3):
        send(
            server.host,
            server.port,
            plain(f"mutt {number}", "eva@example.com"),
            SENDER,
            ["eva@example.com"],
        )
    assert mutt_subjects(maildir, tmp_path) == ["mutt 0", "mutt 1", "mutt 2"]


def test_corrupt_and_foreign_files_are_skipped_with_a_warning(server: Proc, maildir: Path) -> None:
    send(server.host, server.port, plain("ours", "eva@example.com"), SENDER, ["eva@example.com"])
    # Another program's delivery, already read by a mail client (cur/, with flags).
    theirs = mailbox.MaildirMessage(plain("theirs", "bob@example.com").as_bytes())
    theirs["X-RcptTo"] = "bob@example.com"
    theirs.set_subdir("cur")
    theirs.set_flags("S")
    mailbox.Maildir(maildir, create=False).add(theirs)
    (maildir / "new" / "1700000000.M1P1Q1.garbage").write_bytes(b"\x00\xff\xfe junk\n" * 20)
    (maildir / "new" / "1700000000.M2P1Q1.empty").write_bytes(b"")
    (maildir / "new" / "1700000000.M3P1Q1.directory").mkdir()
    (maildir / "tmp" / "1700000000.M4P1Q1.half-written").write_bytes(b"Subject: half")

    listed = run_cli("list", str(maildir))
    assert listed.status == 0
    lines = listed.out.splitlines()
    assert len(lines) == 2
    assert '"theirs"' in lines[0]  # newest first: delivered after ours
    assert '"ours"' in lines[1]
    warnings = listed.err.splitlines()
    assert len(warnings) == 3
    for name in ("garbage", "empty", "directory"):
        assert any(
            # "skipping unreadable message PATH: ..." or "skipping PATH: it is not a regular file"
            line.startswith("mailcatcher: warning: skipping ")
            and line.split(": ", 3)[2].endswith(name)
            for line in warnings
        ), (name, warnings)

    # The catcher keeps working beside them, and readers find the rest.
    send(server.host, server.port, plain("after", "eva@example.com"), SENDER, ["eva@example.com"])
    with pytest.warns(UserWarning, match="skipping "):
        latest = get_latest_message(maildir, to="eva@example.com")
    assert latest is not None
    assert latest["Subject"] == "after"
    shown = run_cli("show", str(maildir), "--to", "bob@example.com")
    assert shown.status == 0
    assert "Subject:   theirs" in shown.out


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_index_is_set_aside_and_mail_keeps_flowing(kind: str, maildir: Path) -> None:
    with catcher(kind, maildir) as server:
        send(server.host, server.port, plain("before", "eva@example.com"), SENDER, [EVA])
    # A bad disk, or a stray `cp` over the file: the index is not a database any more.
    (maildir / ".mailcatcher.sqlite3").write_bytes(b"this is not an SQLite database\n" * 200)
    for name in (".mailcatcher.sqlite3-wal", ".mailcatcher.sqlite3-shm"):
        (maildir / name).unlink(missing_ok=True)  # a killed catcher leaves these
    with catcher(kind, maildir) as server:
        send(server.host, server.port, plain("after", "bob@example.com"), SENDER, [BOB])
    assert len(list(maildir.glob(".mailcatcher.sqlite3.broken-*"))) == 1
    listed = run_cli("list", str(maildir), "--json")
    assert listed.status == 0, listed.err
    assert listed.err == ""
    found = {entry["subject"]: entry["recipients"] for entry in json.loads(listed.out)}
    assert found == {"before": ["eva@example.com"], "after": ["bob@example.com"]}


# How soon a waiter in another process wakes after the 250 (issue 5's 50 ms median) is a
# wall-clock target: bench/wakeup.py measures it, and test_bench_smoke.py runs it once.


IDLE = """
import sys, time
from mailcatcher import wait_for_message
started = time.process_time()
try:
    wait_for_message(sys.argv[1], 1.0, to="nobody@example.com")
except TimeoutError:
    print(time.process_time() - started)
"""


def test_waiting_does_not_burn_a_core(server: Proc, maildir: Path) -> None:
    send(server.host, server.port, plain("other", "eva@example.com"), SENDER, ["eva@example.com"])
    done = subprocess.run(
        [sys.executable, "-c", IDLE, str(maildir)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    # 100 looks a second are a few stat() calls each: a few percent of a core. Busy-waiting
    # would use the whole second. CPU time, not wall-clock time: a loaded machine makes the
    # wait take longer, not use more of the processor.
    assert float(done.stdout) < 0.5


def test_since_excludes_older_messages(server: Proc, maildir: Path) -> None:
    send(server.host, server.port, plain("old", "eva@example.com"), SENDER, ["eva@example.com"])
    since = time.time()
    with pytest.raises(TimeoutError, match="no message matching to='eva@example.com', since="):
        wait_for_message(maildir, 0.3, to="eva@example.com", since=since)
    assert wait_for_message(maildir, 60, to="eva@example.com")["Subject"] == "old"

    def send_later() -> None:
        time.sleep(0.2)
        send(server.host, server.port, plain("new", "eva@example.com"), SENDER, ["eva@example.com"])

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        later = pool.submit(send_later)
        found = wait_for_message(maildir, 60, to="eva@example.com", since=since)
        later.result()
    assert found["Subject"] == "new"


def test_a_check_may_start_before_the_catcher(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    check = subprocess.Popen(
        [sys.executable, "-c", CHECK, str(maildir), "eva@example.com"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert check.stdout is not None
        assert check.stdout.readline() == "waiting\n"
        with catcher("maildir", maildir) as server:
            send(
                server.host,
                server.port,
                plain("first", "eva@example.com"),
                SENDER,
                ["eva@example.com"],
            )
            out, err = check.communicate(timeout=30)
    finally:
        if check.poll() is None:
            check.kill()
            check.communicate()
    assert check.returncode == 0, err
    assert json.loads(out)["subject"] == "first"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ([], "MailDir takes exactly one directory to keep the messages in (got 0)"),
        (["a", "b"], "MailDir takes exactly one directory to keep the messages in (got 2)"),
        (["{dir}", "--keep", "0"], "MailDir: --keep must be a whole number of at least 1, got '0'"),
        (["{dir}", "--keep", "ten"], "--keep must be a whole number of at least 1, got 'ten'"),
        (["{dir}", "--keep"], "MailDir: --keep needs a number"),
        (["{dir}", "--kep", "3"], "MailDir: unknown option '--kep'"),
        (["{file}"], "cannot use {file} as a Maildir: it is a file"),
        (["{missing}/mail"], "directory {missing} does not exist"),
    ],
)
def test_from_cli_errors_exit_2_with_one_clear_line(
    tmp_path: Path, args: list[str], error: str
) -> None:
    names = {"dir": tmp_path / "mail", "file": tmp_path / "file", "missing": tmp_path / "missing"}
    names["file"].write_text("not a Maildir")
    argv = aiosmtpd_argv(free_port(), "mailcatcher.catcher.MailDir", "--")
    done = subprocess.run(
        [*argv, *(arg.format(**names) for arg in args)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert error.format(**names) in done.stderr.splitlines()[-1]


def test_the_stock_command_needs_the_double_dash_before_keep(tmp_path: Path) -> None:
    # aiosmtpd's own parser reads the options after the class path; without "--" it
    # rejects --keep before MailDir sees it. The README shows the "--" form.
    argv = aiosmtpd_argv(free_port(), "mailcatcher.catcher.MailDir", str(tmp_path), "--keep", "3")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "unrecognized arguments: --keep 3" in done.stderr
