"""Inboxes per AUTH login and tags, end to end: real servers, smtplib logins, every reader.

The grader's case: many apps, each given its own SMTP credentials, send at once; each
check asks for its app's inbox and sees exactly that app's mail, through the library,
the command line and a mail client reading the folder.
"""

from __future__ import annotations

import concurrent.futures
import json
import mailbox
import smtplib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcatcher import get_latest_message, get_messages, wait_for_message
from mailcatcher.query import MailTimeoutError
from tests.e2e.cli_support import mutt_subjects, needs_mutt, plain, run_cli, send
from tests.support import Proc, catcher

SENDER = "app@example.com"
APPS = [f"app{number}" for number in range(20)]


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def serve(maildir: Path) -> Iterator[Proc]:
    with catcher("serve", maildir) as proc:
        yield proc


def send_as(proc: Proc, login: str | None, subject: str, to: str = "eva@example.com") -> None:
    credentials = None if login is None else (login, "secret")
    send(proc.host, proc.port, plain(subject, to), SENDER, [to], login=credentials)


def test_twenty_concurrent_senders_each_see_exactly_their_own_inbox(
    serve: Proc, maildir: Path
) -> None:
    barrier = threading.Barrier(len(APPS))

    def app(login: str) -> None:
        barrier.wait(timeout=30)  # all twenty connect and send at the same moment
        for number in range(3):
            send_as(serve, login, f"{login} #{number}", to=f"user{number}@example.com")

    with concurrent.futures.ThreadPoolExecutor(len(APPS)) as pool:
        for done in [pool.submit(app, login) for login in APPS]:
            done.result()
    send_as(serve, None, "anonymous")

    for login in APPS:
        subjects = [m["Subject"] for m in get_messages(maildir, inbox=login)]
        assert sorted(subjects) == [f"{login} #{n}" for n in range(3)]
        latest = get_latest_message(maildir, inbox=login, to="user1@example.com")
        assert latest is not None
        assert latest["Subject"] == f"{login} #1"
    assert [m["Subject"] for m in get_messages(maildir, inbox="default")] == ["anonymous"]
    assert len(get_messages(maildir)) == 61  # inbox=None: all mail

    listed = run_cli("list", str(maildir), "--inbox", "app7", "--json")
    assert listed.status == 0, listed.err
    rows = json.loads(listed.out)
    assert sorted(row["subject"] for row in rows) == [f"app7 #{n}" for n in range(3)]
    assert {row["inbox"] for row in rows} == {"app7"}
    inboxes = run_cli("list", str(maildir), "--inboxes", "--json")
    assert json.loads(inboxes.out) == sorted(
        [{"inbox": login, "messages": 3} for login in APPS] + [{"inbox": "default", "messages": 1}],
        key=lambda row: str(row["inbox"]),
    )
    reader = mailbox.Maildir(maildir, create=False)
    assert sorted(reader.list_folders()) == sorted(APPS)
    assert len(reader.get_folder("app3")) == 3


def test_the_command_line_reads_writes_and_waits_per_inbox(serve: Proc, maildir: Path) -> None:
    send_as(serve, "alpha", "for alpha")
    send_as(serve, "beta", "for beta")
    shown = run_cli("show", str(maildir), "--inbox", "alpha")
    assert shown.status == 0
    assert "for alpha" in shown.out
    assert "AUTH user: alpha" in shown.out
    assert "for beta" not in shown.out
    listed = run_cli("list", str(maildir), "--inboxes")
    assert listed.out.split() == ["1", "alpha", "1", "beta"]
    # A wait on one inbox is not woken by another's mail.
    missed = run_cli("wait", str(maildir), "--inbox", "gamma", "--timeout", "0.5")
    assert missed.status != 0
    assert "inbox='gamma'" in missed.err
    cleared = run_cli("clear", str(maildir), "--inbox", "alpha")
    assert cleared.out.strip() == f"Removed 1 message from {maildir} (inbox alpha)"
    assert [m["Subject"] for m in get_messages(maildir)] == ["for beta"]


def test_a_library_wait_on_an_inbox_wakes_for_that_login_only(serve: Proc, maildir: Path) -> None:
    def later() -> None:
        send_as(serve, "other", "not this one")
        send_as(serve, "mine", "this one")

    sender = threading.Timer(0.2, later)
    sender.start()
    try:
        found = wait_for_message(maildir, 30, inbox="mine")
    finally:
        sender.join()
    assert found["Subject"] == "this one"
    with pytest.raises(MailTimeoutError, match="inbox='nobody'"):
        wait_for_message(maildir, 0.3, inbox="nobody")


def test_tags_arrive_with_the_mail_and_filter_every_reader(serve: Proc, maildir: Path) -> None:
    message = plain("welcome", "eva+welcome@example.com")
    message["X-Tags"] = "Signup, QA"
    send(serve.host, serve.port, message, SENDER, ["eva+welcome@example.com"])
    send_as(serve, None, "untagged")
    found = get_latest_message(maildir, tags=["signup", "WELCOME"])
    assert found is not None
    assert found["Subject"] == "welcome"
    listed = run_cli("list", str(maildir), "--tag", "qa", "--json")
    [row] = json.loads(listed.out)
    assert row["tags"] == ["Signup", "QA", "welcome"]
    assert run_cli("list", str(maildir), "--tag", "missing").out == ""


def test_the_stock_command_stores_unauthenticated_mail_in_the_default_inbox(
    maildir: Path,
) -> None:
    with catcher("maildir", maildir) as proc:
        send_as(proc, None, "stock")
        with smtplib.SMTP(proc.host, proc.port, timeout=30) as client:
            client.ehlo()
            # The stock command's own flags decide AUTH; by default it offers none.
            assert not client.has_extn("auth")
    [entry] = run_json("list", str(maildir), "--json")
    assert entry["inbox"] == "default"
    assert get_latest_message(maildir, inbox="default") is not None


@needs_mutt
def test_mutt_reads_an_inbox_folder(serve: Proc, maildir: Path, tmp_path: Path) -> None:
    send_as(serve, "grader-42", "for 42 #1")
    send_as(serve, "grader-42", "for 42 #2")
    send_as(serve, "grader-43", "for 43")
    assert mutt_subjects(maildir / ".grader-42", tmp_path) == ["for 42 #1", "for 42 #2"]


def run_json(*args: str) -> list[dict[str, object]]:
    done = run_cli(*args)
    assert done.status == 0, done.err
    rows: list[dict[str, object]] = json.loads(done.out)
    return rows
