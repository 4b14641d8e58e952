"""The ``mailcatcher`` command, run as a user runs it, over a realistic signup mail.

The mail is HTML only, laid out with tables, quoted-printable (soft line breaks cut its
tracking URL), with ``&amp;`` in its links, an inline logo and a PDF invoice. Every command's
output and exit status is pinned, and so is every documented error.
"""

from __future__ import annotations

import importlib.metadata
import json
import mailbox
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailcatcher import cli
from mailcatcher.pytest_plugin import MailcatcherFactory
from tests.e2e.cli_support import (
    CONFIRM,
    HOSTILE_HTML,
    HOSTILE_SENDER,
    LINKS,
    PDF,
    PNG,
    hostile_mail,
    plain,
    run_cli,
    send,
    signup_mail,
)
from tests.support import HOST, MAILCATCHER, catcher, free_port, stop, wait_for_port


@dataclass
class Store:
    """A Maildir holding the signup mail (to eva, logged in as ``shop``) and a plain one."""

    path: Path
    signup: Path  # the signup mail's file


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    maildir = tmp_path_factory.mktemp("cli") / "mail"
    with catcher("serve", maildir) as server:
        send(
            server.host,
            server.port,
            signup_mail(),
            "bounce+1042@shop.example",
            ["eva@example.com"],
            login=("shop", "secret"),
        )
        (signup,) = (maildir / ".shop" / "new").iterdir()  # its inbox: the login
        time.sleep(0.01)  # distinct stored times
        send(
            server.host,
            server.port,
            plain("Plain note", "bob@example.com", "No links.\n"),
            "app@example.com",
            ["bob@example.com"],
        )
    return Store(maildir, signup)


def test_show_reads_like_a_mail_client(store: Store) -> None:
    result = run_cli("show", str(store.path), "--to", "eva@example.com")
    assert result.status == 0, result.err
    assert result.err == ""
    head, _, rest = result.out.partition("\n\n")
    lines = head.splitlines()
    assert re.fullmatch(r"Stored:    \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+\.\d kB, .+\)", lines[0])
    assert str(store.signup) in lines[0]
    assert lines[1:] == [
        "Envelope:  bounce+1042@shop.example -> eva@example.com",
        "AUTH user: shop",
        "From:      Acme Shop <noreply@shop.example>",
        "To:        Eva Example <eva@example.com>",
        "Subject:   Confirm your email address",
        "Date:      Mon, 04 May 2026 09:30:00 +0200",
    ]
    # No text part: the HTML is rendered as text, tables and all, with its links decoded.
    assert rest.startswith("[HTML only, rendered as text; --html shows its source]\n\n")
    assert f"View in browser ({LINKS[0]})\n[Acme Shop]\nHi Eva," in rest
    assert f"Confirm my address ({CONFIRM})" in rest
    assert "total 42,00 €) is attached as a PDF. Grüße aus Köln!" in rest
    assert "<td" not in rest
    assert "&amp;" not in rest
    assert "=\n" not in rest  # no quoted-printable soft line break survives
    assert rest.endswith(
        "Attachments (2):\n"
        f"  logo.png          image/png         {len(PNG)} B  inline\n"
        f"  invoice-1042.pdf  application/pdf  {len(PDF)} B\n"
        "Links (3):\n" + "".join(f"  {link}\n" for link in LINKS)
    )


def test_show_without_filters_is_the_newest(store: Store) -> None:
    result = run_cli("show", str(store.path))
    assert result.status == 0
    assert "Subject:   Plain note\n" in result.out
    assert "\n\nNo links.\n" in result.out
    assert "Links" not in result.out


def test_show_html_prints_the_source(store: Store) -> None:
    result = run_cli("show", str(store.path), "--to", "eva@example.com", "--html")
    assert result.status == 0
    assert result.out.startswith("<!DOCTYPE html>\n")
    assert CONFIRM.replace("&", "&amp;") in result.out  # the source, entities and all


def test_show_raw_is_the_stored_file(store: Store) -> None:
    done = subprocess.run(
        [*MAILCATCHER, "show", str(store.path), "--to", "eva@example.com", "--raw"],
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert done.stdout == store.signup.read_bytes()


def test_show_json(store: Store) -> None:
    result = run_cli("show", str(store.path), "--to", "eva@EXAMPLE.com", "--json")
    assert result.status == 0
    shown = json.loads(result.out)
    assert sorted(shown) == sorted(
        [
            "id", "stored", "timestamp", "path", "size", "envelope", "from", "to", "cc",
            "subject", "date", "message_id", "text", "html", "text_from_html", "attachments",
            "links", "inbox", "tags",
        ]
    )  # fmt: skip
    assert shown["id"] == store.signup.name
    assert shown["path"] == str(store.signup)
    assert shown["size"] == store.signup.stat().st_size
    assert shown["envelope"]["sender"] == "bounce+1042@shop.example"
    assert shown["envelope"]["recipients"] == ["eva@example.com"]
    assert shown["envelope"]["auth_user"] == "shop"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", shown["envelope"]["peer"])
    assert shown["subject"] == "Confirm your email address"
    assert shown["message_id"] == "<signup-1042@shop.example>"
    assert shown["cc"] == ""
    assert shown["text"] is None
    assert shown["html"].startswith("<!DOCTYPE html>")
    assert "Hi Eva," in shown["text_from_html"]
    assert shown["attachments"] == [
        {"filename": "logo.png", "content_type": "image/png", "size": len(PNG), "inline": True,
         "content_id": "logo@shop.example"},
        {"filename": "invoice-1042.pdf", "content_type": "application/pdf", "size": len(PDF),
         "inline": False, "content_id": None},
    ]  # fmt: skip
    assert shown["links"] == LINKS


def test_links_one_per_line_for_scripts(store: Store) -> None:
    result = run_cli("links", str(store.path), "--to", "eva@example.com")
    assert result.status == 0
    assert result.out == "".join(f"{link}\n" for link in LINKS)
    as_json = run_cli("links", str(store.path), "--to", "eva@example.com", "--json")
    assert json.loads(as_json.out) == LINKS


def test_links_into_a_closed_pipe_is_no_error(store: Store) -> None:
    # `mailcatcher links mail/ | head -n1`: head exits after one line.
    done = subprocess.run(
        f"{' '.join(MAILCATCHER)} links {store.path} --to eva@example.com | head -n1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout == f"{LINKS[0]}\n"
    assert "Traceback" not in done.stderr


# --- mail that talks to the terminal ------------------------------------------------------

#: What a terminal acts on rather than shows: C0 (but LF and TAB), DEL and C1.
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass
class Hostile:
    """A Maildir holding `hostile_mail`, and what ``serve`` printed when it arrived."""

    path: Path
    arrivals: str  # serve's output after its banner


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    maildir = tmp_path_factory.mktemp("hostile") / "mail"
    process, port, _ = start_serve("--no-http", "--dir", str(maildir))
    try:
        send(HOST, port, hostile_mail(), HOSTILE_SENDER, ["eva@example.com"])
        os.kill(process.pid, signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        stop(process)
    assert (process.returncode, err) == (0, b""), err
    return Hostile(maildir, out.decode())  # start_serve has read the banner


# A subject, a display name, a body, a link and an HTML source each carry escape sequences;
# the envelope sender carries an ESC (aiosmtpd cuts the address there). Each is shown with
# the ESC as a visible \x1b, and the base64 part's CRLF line ends stay plain line ends.
SHOWN_SUBJECT = "hi\\x1b]52;c;aGFja2Vk\\x07 \\x9b31m"
SHOWN_LINK = "https://shop.example/confirm?t=1\\x1b]0;TITLE\\x07"
QUOTED_SUBJECT = '"hi\\u001b]52;c;aGFja2Vk\\u0007 \\u009b31m"'  # a JSON string, as list prints
#: The line ``list`` and ``serve`` print about it.
HOSTILE_SUMMARY = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  eve\\x1b -> eva@example\.com  "
    + re.escape(QUOTED_SUBJECT)
    + r"  \d+ B\n"
)


def test_show_makes_terminal_controls_from_the_mail_visible(hostile: Hostile) -> None:
    result = run_cli("show", str(hostile.path))
    assert result.status == 0, result.err
    assert CONTROLS.search(result.out) is None, repr(result.out)
    head, _, body = result.out.partition("\n\n")
    assert head.splitlines()[1:4] == [
        "Envelope:  eve\\x1b -> eva@example.com",
        "From:      Eve\\x1b[2J <eve@example.com>",
        "To:        eva@example.com",
    ]
    assert f"Subject:   {SHOWN_SUBJECT}" in head.splitlines()
    assert body == (
        "Hello \\x1b]0;TITLE\\x07 there \\x9b2J.\n"
        f"Confirm: {SHOWN_LINK}\n"
        "Bye\n\n"
        f"Links (2):\n  {SHOWN_LINK}\n  https://shop.example/h\n"
    )
    html = run_cli("show", str(hostile.path), "--html")
    assert html.out == HOSTILE_HTML.replace("\x1b", "\\x1b").replace("\x07", "\\x07") + "\n"


def test_list_wait_and_links_make_terminal_controls_visible(hostile: Hostile) -> None:
    listed = run_cli("list", str(hostile.path))
    assert HOSTILE_SUMMARY.fullmatch(listed.out), repr(listed.out)
    waited = run_cli("wait", str(hostile.path), "--timeout", "5")
    assert waited.out == f"eve\\x1b -> eva@example.com  {QUOTED_SUBJECT}\n"
    links = run_cli("links", str(hostile.path))
    assert links.out == f"{SHOWN_LINK}\nhttps://shop.example/h\n"
    # wait's timeout lists what the store holds, envelope sender included, on stderr.
    missed = run_cli("wait", str(hostile.path), "--to", "bob@example.com", "--timeout", "0.1")
    assert missed.status == 5
    assert "from eve\\x1b: " in missed.err
    for result in (listed, waited, links, missed):
        assert CONTROLS.search(result.out + result.err) is None, repr(result)


def test_serve_makes_terminal_controls_visible_in_its_arrival_lines(hostile: Hostile) -> None:
    assert HOSTILE_SUMMARY.fullmatch(hostile.arrivals), repr(hostile.arrivals)


def test_raw_and_json_keep_the_mail_exact(hostile: Hostile) -> None:
    (stored,) = (hostile.path / "new").iterdir()
    raw = subprocess.run(
        [*MAILCATCHER, "show", str(hostile.path), "--raw"], capture_output=True, timeout=30
    )
    assert raw.stdout == stored.read_bytes()
    assert b"\x1b]0;TITLE\x07" in raw.stdout  # --raw is what was stored, byte for byte
    shown = run_cli("show", str(hostile.path), "--json")
    assert CONTROLS.search(shown.out) is None, repr(shown.out)  # C1 too: \u009b, not U+009B
    message = json.loads(shown.out)
    assert message["subject"] == "hi\x1b]52;c;aGFja2Vk\x07 \x9b31m"
    assert message["html"] == HOSTILE_HTML
    listed = run_cli("list", str(hostile.path), "--json")
    assert CONTROLS.search(listed.out) is None, repr(listed.out)
    assert json.loads(listed.out)[0]["subject"] == message["subject"]


def test_list(store: Store) -> None:
    result = run_cli("list", str(store.path))
    assert result.status == 0
    lines = result.out.splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert len(lines) == 2
    assert re.fullmatch(
        stamp + r'  app@example\.com -> bob@example\.com  "Plain note"  \d+ B', lines[0]
    ), lines[0]
    assert re.fullmatch(
        stamp + r"  bounce\+1042@shop\.example -> eva@example\.com  "
        r'"Confirm your email address"  \d+\.\d kB  \[1 attachment\]  inbox "shop"',
        lines[1],
    ), lines[1]
    assert run_cli("list", str(store.path), "--limit", "1").out == lines[0] + "\n"
    assert run_cli("list", str(store.path), "--to", "eva@example.com").out == lines[1] + "\n"


def test_list_json(store: Store) -> None:
    result = run_cli("list", str(store.path), "--json")
    assert result.status == 0
    listed = json.loads(result.out)
    assert [entry["subject"] for entry in listed] == ["Plain note", "Confirm your email address"]
    signup = listed[1]
    assert sorted(signup) == sorted(
        [
            "id", "stored", "timestamp", "sender", "recipients", "from", "to", "subject",
            "size", "attachments", "auth_user", "inbox", "tags", "path",
        ]
    )  # fmt: skip
    assert signup["recipients"] == ["eva@example.com"]
    assert signup["attachments"] == 1  # the PDF; the inline logo is body
    assert signup["auth_user"] == "shop"
    assert signup["from"] == "Acme Shop <noreply@shop.example>"
    assert listed[0]["timestamp"] > signup["timestamp"]


def test_wait_finds_a_stored_message(store: Store) -> None:
    result = run_cli("wait", str(store.path), "--to", "eva@example.com", "--timeout", "5")
    assert result.status == 0
    assert (
        result.out == 'bounce+1042@shop.example -> eva@example.com  "Confirm your email address"\n'
    )
    by_subject = run_cli(
        "wait", str(store.path), "--subject", "PLAIN", "--sender", "app@example.com"
    )
    assert by_subject.status == 0
    assert "Plain note" in by_subject.out


def test_wait_times_out_with_status_5_and_says_what_is_there(store: Store) -> None:
    result = run_cli(
        "wait", str(store.path), "--to", "eva@example.com", "--since-now", "--timeout", "0.3"
    )
    assert result.status == 5
    assert result.out == ""
    lines = result.err.splitlines()
    assert re.fullmatch(
        r"mailcatcher: no message matching to='eva@example\.com', since=[\d.]+ arrived at "
        + re.escape(str(store.path))
        + r" within 0\.3 s",
        lines[0],
    ), lines[0]
    assert lines[1] == "it holds 2 message(s), newest first:"


def test_wait_in_the_background_then_send(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    with catcher("serve", maildir) as server:
        waiting = subprocess.Popen(
            [*MAILCATCHER, "wait", str(maildir), "--to", "eva@example.com", "--timeout", "20"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(0.3)
            assert waiting.poll() is None  # nothing there yet
            send(
                server.host,
                server.port,
                plain("Arrived", "eva@example.com"),
                "app@example.com",
                ["eva@example.com"],
            )
            out, err = waiting.communicate(timeout=20)
        finally:
            if waiting.poll() is None:
                waiting.kill()
                waiting.communicate()
    assert waiting.returncode == 0, err
    assert out == 'app@example.com -> eva@example.com  "Arrived"\n'


def holds_open(pid: int, name: str) -> bool:
    """Whether process `pid` has a file called `name` open (Linux /proc)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").endswith(name):
                return True
        except OSError:
            continue
    return False


def test_ctrl_c_stops_wait_with_status_130(store: Store) -> None:
    # -X faulthandler: should it ever hang, SIGABRT below prints where. The Ctrl-C of a
    # terminal reaches a process whose SIGINT is at its default: a shell script that runs
    # this suite in the background (`.ci/run &`) hands its children SIGINT ignored (POSIX,
    # for background jobs), and Python then installs no KeyboardInterrupt at all (a CI run
    # so started waited its full 30 s), so the child starts with the default restored.
    python, *module = MAILCATCHER
    waiting = subprocess.Popen(
        [python, "-X", "faulthandler", *module, "wait", str(store.path), "--to", "x@example.com"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        # Interrupt it once it is waiting (it has the store's index open), not while Python
        # is still starting: Ctrl-C there is Python's business, not ours.
        deadline = time.monotonic() + 60
        while not holds_open(waiting.pid, ".mailcatcher.sqlite3"):
            assert time.monotonic() < deadline, "wait never opened the store"
            assert waiting.poll() is None, waiting.communicate()
            time.sleep(0.02)
        waiting.send_signal(signal.SIGINT)
        try:
            out, err = waiting.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            waiting.send_signal(signal.SIGABRT)
            pytest.fail(f"still running 60 s after Ctrl-C:\n{waiting.communicate()[1]}")
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert (waiting.returncode, out, err) == (130, "", "")


def test_clear_then_show_says_the_store_is_empty(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    with catcher("maildir", maildir) as server:
        for number in range(2):
            send(
                server.host,
                server.port,
                plain(f"n{number}", "eva@example.com"),
                "app@example.com",
                ["eva@example.com"],
            )
    cleared = run_cli("clear", str(maildir))
    assert (cleared.status, cleared.out) == (0, f"Removed 2 messages from {maildir}\n")
    assert list((maildir / "new").iterdir()) == []
    shown = run_cli("show", str(maildir))
    assert (shown.status, shown.out) == (4, "")
    assert shown.err == f"mailcatcher: no message in {maildir} yet\n"
    listed = run_cli("list", str(maildir))
    assert (listed.status, listed.out) == (0, "")
    assert listed.err == f"mailcatcher: no messages in {maildir}\n"
    assert json.loads(run_cli("list", str(maildir), "--json").out) == []


def test_clear_over_a_damaged_index_deletes_the_mail_and_warns(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    with catcher("maildir", maildir) as server:
        for number in range(2):
            send(
                server.host,
                server.port,
                plain(f"n{number}", "eva@example.com"),
                "app@example.com",
                ["eva@example.com"],
            )
    # A bad disk, or a stray `cp` over the file: the index is not a database any more.
    # Readers treat it as missing; `clear` needs no index to delete the messages.
    (maildir / ".mailcatcher.sqlite3").write_bytes(b"this is not an SQLite database\n" * 200)
    for name in (".mailcatcher.sqlite3-wal", ".mailcatcher.sqlite3-shm"):
        (maildir / name).unlink(missing_ok=True)
    cleared = run_cli("clear", str(maildir))
    assert (cleared.status, cleared.out) == (0, f"Removed 2 messages from {maildir}\n"), cleared
    assert list((maildir / "new").iterdir()) == []
    assert cleared.err.startswith("mailcatcher: warning: "), cleared.err
    assert all(line.startswith("mailcatcher: warning: ") for line in cleared.err.splitlines())


def test_readers_work_over_a_mail_file_too(tmp_path: Path) -> None:
    mail_file = tmp_path / "latest.mail"
    with catcher("mailfile", mail_file) as server:
        send(server.host, server.port, signup_mail(), "noreply@shop.example", ["eva@example.com"])
    assert run_cli("links", str(mail_file)).out.splitlines() == LINKS
    assert "Subject:   Confirm your email address" in run_cli("show", str(mail_file)).out


@pytest.mark.parametrize(
    ("args", "status", "error"),
    [
        (["show", "{missing}"], 3,
         "mailcatcher: no such file or directory: {missing} (give the file or Maildir a "
         "catcher writes to)"),
        (["links", "{plain_dir}"], 3,
         "mailcatcher: {plain_dir} is a directory but not a Maildir (no cur/ and new/ inside)"),
        (["list", "{missing}"], 3, "mailcatcher: no such file or directory: {missing} "),
        (["wait", "{missing}/sub/mail"], 3, "mailcatcher: no such file or directory: "),
        (["show", "{store}", "--to", "carol@example.com"], 4,
         "mailcatcher: no message matching to='carol@example.com' in {store}; it holds "
         "2 messages (see: mailcatcher list {store})"),
        (["links", "{store}", "--to", "bob@example.com"], 4,
         "mailcatcher: the message {plain_id} has no http(s) links"),
        (["show", "{store}", "--to", "bob@example.com", "--html"], 4,
         "mailcatcher: the message {plain_id} has no HTML part"),
        (["show", "{store}", "--html", "--raw"], 2,
         "mailcatcher show: error: argument --raw: not allowed with argument --html "
         "(see mailcatcher show --help)"),
        (["show"], 2, "mailcatcher show: error: the following arguments are required: PATH "),
        (["wait", "{store}", "--timeout", "soon"], 2,
         "mailcatcher wait: error: argument --timeout: expected a number of seconds, got 'soon' "),
        (["serve", "--keep", "0"], 2,
         "mailcatcher serve: error: argument --keep: expected a whole number of at least 1, "
         "got '0' "),
        (["serve", "--smtp", "127.0.0.1:99999"], 2,
         "mailcatcher serve: error: argument --smtp: expected HOST:PORT with a port from 0 to "
         "65535, got '127.0.0.1:99999' "),
        (["serve", "--http", ":8025", "--no-http"], 2,
         "mailcatcher serve: error: argument --no-http: not allowed with argument --http "),
        (["serve", "--dir", "{plain_dir}"], 3,
         "mailcatcher: cannot use {plain_dir} as a Maildir: it holds other files and no cur/ "
         "and new/"),
        (["serve", "--dir", "{plain_dir}/cat.jpg"], 3,
         "mailcatcher: cannot use {plain_dir}/cat.jpg as a Maildir: it is a file"),
        (["serve", "--dir", "{missing}/mail"], 3,
         "mailcatcher: cannot use {missing}/mail as a Maildir: directory {missing} does not "
         "exist"),
        (["frobnicate"], 2, "mailcatcher: error: argument COMMAND: invalid choice: 'frobnicate'"),
    ],
)  # fmt: skip
def test_errors_are_one_line_with_a_documented_status(
    store: Store, tmp_path: Path, args: list[str], status: int, error: str
) -> None:
    plain_dir = tmp_path / "photos"
    plain_dir.mkdir()
    (plain_dir / "cat.jpg").write_bytes(b"\xff\xd8")
    plain_id = next(p.name for p in (store.path / "new").iterdir() if p != store.signup)
    names = {
        "missing": tmp_path / "missing",
        "plain_dir": plain_dir,
        "store": store.path,
        "plain_id": plain_id,
    }
    result = run_cli(*(arg.format(**names) for arg in args), timeout=10)
    assert result.status == status
    assert result.out == ""
    assert len(result.err.splitlines()) == 1, result.err
    assert result.err.startswith(error.format(**names)), result.err


def test_exit_statuses_are_documented_in_help() -> None:
    result = run_cli("--help")
    assert result.status == 0
    statuses = result.out.partition("exit status:\n")[2]
    for status in (0, 1, 2, 3, 4, 5, 130):
        assert re.search(rf"^  {status} +\w", statuses, re.MULTILINE), status


@pytest.mark.parametrize("command", ["serve", "web", "show", "links", "wait", "list", "clear"])
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process for speed; `python -m mailcatcher --help` above runs the real thing.
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"usage: mailcatcher {command}" in out
    assert "example:\n  " in out
    assert f"mailcatcher {command} " in out.partition("example:")[2] or command == "web"


def test_serve_help_shows_the_limits() -> None:
    out = " ".join(run_cli("serve", "--help").out.split())  # unwrapped
    assert "(default: 33554432, 32 MiB)" in out
    assert "recipients per message (default: 1000)" in out
    assert "idle this many seconds (default: 60)" in out
    assert "connections at once (default: 200)" in out
    assert "(default: 127.0.0.1:1025)" in out


# --- serve and web ------------------------------------------------------------------------


def start_serve(*args: str) -> tuple[subprocess.Popen[bytes], int, list[str]]:
    """Start ``mailcatcher serve`` on a free port; return it, its port and its banner."""
    port = free_port()
    process = subprocess.Popen(
        [*MAILCATCHER, "serve", "--smtp", f"{HOST}:{port}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for_port(port, process)
        assert process.stdout is not None
        banner: list[str] = []
        while not banner or banner[-1] != "Press Ctrl-C to stop.":
            line = process.stdout.readline().decode()
            assert line, "serve closed its output before printing its banner"
            banner.append(line.rstrip("\n"))
    except BaseException:
        stop(process)
        raise
    return process, port, banner


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_cleanly_and_removes_its_temporary_maildir(signum: int) -> None:
    process, port, banner = start_serve("--http", f"{HOST}:{free_port()}")
    try:
        assert re.fullmatch(
            rf"SMTP  {re.escape(HOST)}:{port}  \(AUTH: any user and password; SMTPUTF8;"
            r" event loop: (asyncio|uvloop [\d.]+)\)",
            banner[0],
        ), banner
        mail_line = re.fullmatch(r"Mail  (\S+)  \(temporary, removed on exit\)", banner[1])
        assert mail_line is not None, banner
        maildir = Path(mail_line[1])
        assert re.fullmatch(r"Web   http://127\.0\.0\.1:\d+/", banner[2]), banner
        send(HOST, port, plain("Hi", "eva@example.com"), "app@example.com", ["eva@example.com"])
        assert run_cli("show", str(maildir)).status == 0
        with urllib.request.urlopen(banner[2][6:] + "api/v1/messages", timeout=10) as response:
            assert json.load(response)["total"] == 1
        os.kill(process.pid, signum)  # what Ctrl-C (SIGINT) or `kill` (SIGTERM) does
        out, err = process.communicate(timeout=15)
    finally:
        stop(process)
    assert process.returncode == 0, err
    assert err == b""
    assert b'app@example.com -> eva@example.com  "Hi"' in out  # one line per caught message
    assert not maildir.exists()


def test_serve_keeps_catching_after_its_reader_goes_away(tmp_path: Path) -> None:
    # `mailcatcher serve | head -n1`: head exits, and each arrival line meets a closed pipe.
    maildir = tmp_path / "mail"
    port = free_port()
    process = subprocess.Popen(
        [*MAILCATCHER, "serve", "--no-http", "--smtp", f"{HOST}:{port}", "--dir", str(maildir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Buffered, as in a shell pipe: the failed line stays in the buffer for exit.
        env={name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"},
    )
    try:
        wait_for_port(port, process)
        assert process.stdout is not None
        assert process.stdout.readline().startswith(b"SMTP  ")
        process.stdout.close()
        for number in range(3):
            # send() returns only on a 250 for the DATA.
            send(
                HOST,
                port,
                plain(f"n{number}", "bob@example.com"),
                "app@example.com",
                ["bob@example.com"],
            )
            assert process.poll() is None
        os.kill(process.pid, signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    finally:
        stop(process)
    assert (process.returncode, err) == (0, b"")  # quietly: no traceback, no exit status 120
    subjects = [message["Subject"] for message in mailbox.Maildir(maildir, create=False)]
    assert sorted(subjects) == ["n0", "n1", "n2"]


def test_serve_keeps_catching_while_its_reader_does_not_read(tmp_path: Path) -> None:
    # `mailcatcher serve | less`, never scrolled: the pipe fills after ~64 KiB of arrival
    # lines. Printing on the event loop would then block every SMTP client.
    maildir = tmp_path / "mail"
    port = free_port()
    process = subprocess.Popen(
        [*MAILCATCHER, "serve", "--no-http", "--smtp", f"{HOST}:{port}", "--dir", str(maildir)],
        stdout=subprocess.PIPE,  # never read until the end
        stderr=subprocess.PIPE,
    )
    count = 1500  # about 150 KB of arrival lines: more than a pipe holds
    try:
        wait_for_port(port, process)
        with smtplib.SMTP(HOST, port, timeout=10) as client:
            for number in range(count):
                client.sendmail(
                    "app@example.com",
                    ["bob@example.com"],
                    f"Subject: n{number}\r\n\r\nhi\r\n".encode(),
                )
        assert process.poll() is None
    finally:
        stop(process)
    assert len(os.listdir(maildir / "new")) == count


def test_serve_keeps_a_given_dir_and_records_auth_and_starttls(tmp_path: Path) -> None:
    maildir = tmp_path / "kept"
    process, port, banner = start_serve("--no-http", "--tls", "--dir", str(maildir), "--keep", "5")
    try:
        ca = re.search(r"STARTTLS, CA (\S+)\)", banner[0])
        assert ca is not None, banner
        assert banner[1] == f"Mail  {maildir}  (keeping the newest 5)"
        assert banner[2] == "Web   off (--no-http)"
        context = ssl.create_default_context(cafile=ca[1])
        with smtplib.SMTP(HOST, port, timeout=30) as client:
            client.starttls(context=context)
            client.login("eva-app", "any password")
            client.sendmail(
                "app@example.com",
                ["eva@example.com"],
                plain("Über TLS", "eva@example.com").as_bytes(),
            )
        os.kill(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=15)
    finally:
        stop(process)
    assert process.returncode == 0, err
    shown = run_cli("show", str(maildir), "--json")
    assert json.loads(shown.out)["envelope"]["auth_user"] == "eva-app"
    assert json.loads(shown.out)["subject"] == "Über TLS"


def test_serve_on_a_busy_port_says_so_in_one_line() -> None:
    process, port, _ = start_serve("--no-http")
    try:
        result = run_cli("serve", "--no-http", "--smtp", f"{HOST}:{port}", timeout=15)
    finally:
        stop(process)
    assert result.status == 1
    assert result.err == (
        f"mailcatcher: cannot listen for SMTP on {HOST}:{port}: the port is in use (another "
        f"catcher? choose another: --smtp {HOST}:{port + 1})\n"
    )


NO_WEB = """
import sys
sys.modules["mailcatcher.web"] = None  # as if aiohttp (the web extra) were not installed
from mailcatcher.cli import main
raise SystemExit(main())
"""


def test_serve_without_the_web_extra(tmp_path: Path) -> None:
    asked = subprocess.run(
        [sys.executable, "-c", NO_WEB, "serve", "--http", f"{HOST}:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert asked.returncode == 2
    assert asked.stderr == (
        "mailcatcher: the web inbox needs the web extra: pip install 'aiosmtpd-mailcatcher[web]'\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", NO_WEB, "serve", "--smtp", f"{HOST}:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process)
        os.kill(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=15)
    finally:
        stop(process)
    assert process.returncode == 0, err
    assert (
        b"Web   off: the web inbox needs the web extra: pip install 'aiosmtpd-mailcatcher[web]'"
        in out
    )


def test_web_serves_a_store_the_stock_command_writes(store: Store) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*MAILCATCHER, "web", str(store.path), "--http", f"{HOST}:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process)
        with urllib.request.urlopen(f"http://{HOST}:{port}/api/v1/messages", timeout=10) as reply:
            listed = json.load(reply)
        os.kill(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=15)
    finally:
        stop(process)
    assert process.returncode == 0, err
    assert listed["total"] == 2
    assert out.decode().startswith(f"Web   http://{HOST}:{port}/  (reading {store.path})\n")


def test_python_dash_m_mailcatcher_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mailcatcher", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: mailcatcher [-h] [--version] COMMAND ...")
    for command in ("serve", "web", "show", "links", "wait", "list", "clear"):
        assert f"\n    {command} " in done.stdout


# --- issue #10: what a new user found ------------------------------------------------------


def test_version_is_the_installed_distributions() -> None:
    result = run_cli("--version")
    assert (result.status, result.err) == (0, "")
    assert result.out == f"mailcatcher {importlib.metadata.version('aiosmtpd-mailcatcher')}\n"


def test_web_over_a_path_in_a_missing_directory_fails_like_the_readers(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "mail"
    served = run_cli("web", str(path), "--http", f"{HOST}:{free_port()}", timeout=15)
    waited = run_cli("wait", str(path), "--timeout", "0")  # a reader that takes a new path
    assert (served.status, served.out) == (3, "")
    assert served.err == (
        f"mailcatcher: no such file or directory: {path} (give the file or Maildir a catcher "
        "writes to)\n"
    )
    assert (waited.status, waited.err) == (3, served.err)


NOT_MAIL = "Remember to buy milk.\n"


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["list", "--json"],
        ["show", "--json"],
        ["links"],
        ["wait", "--timeout", "5"],
        ["clear"],
        ["web", "--http", "{http}"],
    ],
)
def test_a_file_that_is_not_mail_is_no_store(tmp_path: Path, command: list[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(NOT_MAIL)
    name, *options = command
    http = f"{HOST}:{free_port()}"
    result = run_cli(name, str(notes), *(option.format(http=http) for option in options))
    assert (result.status, result.out) == (3, "")
    assert result.err == (
        f"mailcatcher: {notes} is not an email message: it has no header lines (give the "
        "file or Maildir a catcher writes to)\n"
    )
    assert notes.read_text() == NOT_MAIL  # clear deleted nothing


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        pytest.param(
            "::1", marks=pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback")
        ),
    ],
)
def test_show_json_gives_the_peer_as_host_and_port(
    mailcatcher_factory: MailcatcherFactory, host: str
) -> None:
    caught = mailcatcher_factory(host=host)
    sent = plain("Where from", "eva@example.com")
    send(caught.host, caught.port, sent, "app@example.com", ["eva@example.com"])
    shown = run_cli("show", str(caught.path), "--json")
    assert shown.status == 0, shown.err
    address, _, port = json.loads(shown.out)["envelope"]["peer"].rpartition(":")
    assert address == (f"[{host}]" if ":" in host else host)  # RFC 3986 3.2.2
    assert port.isdigit()
    # The stored header stays as aiosmtpd writes it, read back with the stdlib.
    (stored,) = mailbox.Maildir(caught.path, factory=None)
    written = f"('{host}', {port}, 0, 0)" if ":" in host else f"('{host}', {port})"
    assert stored["X-Peer"] == written


#: Headers the catcher accepts with a 250 that a strict parser chokes on: an encoded word
#: whose base64 is cut short, an address with no domain, a lone quote, a parameter with
#: RFC 2231's ``*`` and no value.
MALFORMED = (
    b"From: a@\r\n"
    b'To: "\r\n'
    b"Subject: =?utf-8?b?A?=\r\n"
    b"Content-Type: text/plain; x*\r\n"
    b"\r\n"
    b"Read https://shop.example/malformed and reply.\r\n"
)


@pytest.mark.parametrize(("kind", "name"), [("mailfile", "latest.mail"), ("maildir", "mail")])
def test_malformed_headers_are_shown_as_sent(tmp_path: Path, kind: str, name: str) -> None:
    store = tmp_path / name
    with catcher(kind, store) as server:  # the stock aiosmtpd command
        send(server.host, server.port, MALFORMED, "app@example.com", ["eva@example.com"])
    path = str(store)
    link = "https://shop.example/malformed"
    listed = run_cli("list", path)  # run_cli fails the test on a traceback
    assert listed.status == 0
    assert 'app@example.com -> eva@example.com  "=?utf-8?b?A?="' in listed.out
    (entry,) = json.loads(run_cli("list", path, "--json").out)
    assert (entry["from"], entry["to"], entry["subject"]) == ("a@", '"', "=?utf-8?b?A?=")
    shown = run_cli("show", path)
    assert shown.status == 0
    assert 'From:      a@\nTo:        "\nSubject:   =?utf-8?b?A?=\n' in shown.out
    assert f"\n\nRead {link} and reply.\n" in shown.out
    as_json = json.loads(run_cli("show", path, "--json").out)
    assert (as_json["from"], as_json["to"], as_json["subject"]) == ("a@", '"', "=?utf-8?b?A?=")
    assert as_json["links"] == [link]
    assert run_cli("links", path).out == f"{link}\n"
    assert json.loads(run_cli("links", path, "--json").out) == [link]
