"""A ``postgresql://`` URL works wherever a path does, and its password shows nowhere.

Every surface is run as users run it: the library, ``mailcatcher list|show|links|wait|
clear``, the stock ``aiosmtpd -c mailcatcher.catcher.MailDir -- URL`` command,
``mailcatcher serve --store URL`` with its web inbox, and ``mailcatcher web URL``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
import urllib.request

import pytest

import mailcatcher
from mailcatcher.query import MailTimeoutError, wait_for_message_async
from mailcatcher.store import opened
from tests.support import MAILCATCHER, MAILDIR, aiosmtpd_argv, free_port, start

from .mail import message, send, serve_command
from .server import PASSWORD, PostgresServer

EXIT_NO_STORE = 3


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``mailcatcher ARGS`` in its own process."""
    return subprocess.run(
        [*MAILCATCHER, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text, text


# --- the library -------------------------------------------------------------------------


def test_library_functions_take_the_url(database_url: str) -> None:
    with opened(database_url) as store:
        store.add(message("for eva", to="eva@example.com"))
        store.add(message("for bob", to="bob@example.com"))
    latest = mailcatcher.get_latest_message(database_url, to="eva@example.com")
    assert latest is not None
    assert latest["Subject"] == "for eva"
    assert [m["Subject"] for m in mailcatcher.get_messages(database_url)] == [
        "for bob",
        "for eva",
    ]
    mailcatcher.clear(database_url)
    assert mailcatcher.get_latest_message(database_url) is None


def test_wait_for_message_wakes_on_a_later_add(database_url: str) -> None:
    def later() -> None:
        time.sleep(0.2)
        with opened(database_url) as store:
            store.add(message("late", to="late@example.com"))

    thread = threading.Thread(target=later)
    thread.start()
    try:
        found = mailcatcher.wait_for_message(database_url, 30, to="late@example.com")
    finally:
        thread.join()
    assert found["Subject"] == "late"


def test_the_async_wait_takes_the_url(database_url: str) -> None:
    async def main() -> str:
        waiter = asyncio.ensure_future(
            wait_for_message_async(database_url, 30, to="async@example.com")
        )
        await asyncio.sleep(0.1)
        await asyncio.to_thread(add, "async", "async@example.com")
        found = await waiter
        return str(found["Subject"])

    def add(subject: str, to: str) -> None:
        with opened(database_url) as store:
            store.add(message(subject, to=to))

    assert asyncio.run(main()) == "async"


def test_a_timeout_names_the_database_without_its_password(database_url: str) -> None:
    with pytest.raises(MailTimeoutError) as caught:
        mailcatcher.wait_for_message(database_url, 0.2, to="nobody@example.com")
    assert "postgresql://mailcatcher:***@" in str(caught.value)
    no_secret(str(caught.value))


# --- the command line --------------------------------------------------------------------


def test_cli_readers_take_the_url(database_url: str) -> None:
    with opened(database_url) as store:
        store.add(message("Your code", to="eva@example.com", body="see https://example.com/x"))
    listed = run("list", database_url, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [row["subject"] for row in rows] == ["Your code"]
    shown = run("show", database_url, "--to", "eva@example.com")
    assert shown.returncode == 0, shown.stderr
    assert "Your code" in shown.stdout
    links = run("links", database_url)
    assert links.stdout.strip() == "https://example.com/x"
    waited = run("wait", database_url, "--to", "eva@example.com", "--timeout", "30")
    assert waited.returncode == 0, waited.stderr
    cleared = run("clear", database_url)
    assert cleared.returncode == 0
    assert cleared.stdout.startswith("Removed 1 message from postgresql://mailcatcher:***@")
    no_secret(
        listed.stdout, shown.stdout, shown.stderr, waited.stdout, cleared.stdout, cleared.stderr
    )


def test_cli_wait_wakes_on_mail_stored_after_it_starts(database_url: str) -> None:
    process = subprocess.Popen(
        [*MAILCATCHER, "wait", database_url, "--to", "w@example.com", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)
        with opened(database_url) as store:
            store.add(message("waited for", to="w@example.com"))
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "w@example.com" in out


def test_cli_timeout_and_errors_are_one_line_without_the_password(
    postgres: PostgresServer, database_url: str
) -> None:
    timed_out = run("wait", database_url, "--to", "x@example.com", "--timeout", "0.2")
    assert timed_out.returncode != 0
    assert "postgresql://mailcatcher:***@" in timed_out.stderr
    wrong = postgres.url_for("postgres", password="Wrong-Pass-77")
    refused = run("list", wrong)
    assert refused.returncode == EXIT_NO_STORE
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "password authentication failed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "Wrong-Pass-77" not in refused.stderr
    no_secret(timed_out.stdout, timed_out.stderr)


def test_cli_reader_with_the_database_down_is_one_line() -> None:
    port = free_port()
    done = run("list", f"postgresql://mailcatcher:{PASSWORD}@127.0.0.1:{port}/mail")
    assert done.returncode == EXIT_NO_STORE
    assert done.stderr.startswith("mailcatcher: the database postgresql://mailcatcher:***@")
    assert done.stderr.count("\n") == 1, done.stderr
    no_secret(done.stderr)


# --- the catchers ------------------------------------------------------------------------


def test_stock_aiosmtpd_maildir_handler_takes_the_url(database_url: str) -> None:
    port = free_port()
    proc = start(aiosmtpd_argv(port, MAILDIR, "--", database_url, "--keep", "2"), port=port)
    try:
        for n in range(3):
            send(port, f"stock {n}", to="eva@example.com")
        found = mailcatcher.get_messages(database_url)
        assert [m["Subject"] for m in found] == ["stock 2", "stock 1"]
        assert found[0]["X-RcptTo"] == "eva@example.com"
    finally:
        output = proc.stop()
    assert "Traceback" not in output
    no_secret(output)


def test_stock_aiosmtpd_with_a_wrong_password_stops_with_one_line(
    postgres: PostgresServer,
) -> None:
    wrong = postgres.url_for("postgres", password="Wrong-Pass-88")
    done = subprocess.run(
        aiosmtpd_argv(free_port(), MAILDIR, "--", wrong),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "password authentication failed" in done.stderr
    assert "Wrong-Pass-88" not in done.stderr + done.stdout


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def test_serve_store_url_with_its_web_inbox(database_url: str) -> None:
    proc = start(serve_command(database_url, "--keep", "5"))
    try:
        banner = proc.output()
        assert "Mail  postgresql://mailcatcher:***@" in banner
        send(proc.port, "through serve", to="eva@example.com")
        listing = get_json(f"{proc.url}api/v1/messages")
        assert isinstance(listing, dict)
        assert [m["Subject"] for m in listing["messages"]] == ["through serve"]
        info = get_json(f"{proc.url}api/v1/info")
        assert isinstance(info, dict)
        assert str(info["Database"]).startswith("postgresql://mailcatcher:***@")
        with urllib.request.urlopen(proc.url, timeout=60) as response:
            page = response.read().decode()
        no_secret(json.dumps(listing), json.dumps(info), page)
    finally:
        output = proc.stop()
    assert "Traceback" not in output
    no_secret(output)
    assert mailcatcher.get_latest_message(database_url) is not None


def test_web_command_reads_the_url(database_url: str) -> None:
    with opened(database_url) as store:
        store.add(message("seen on the web"))
    proc = start([*MAILCATCHER, "web", database_url, "--http", "127.0.0.1:0"])
    try:
        assert "(reading postgresql://mailcatcher:***@" in proc.output()
        listing = get_json(f"{proc.url}api/v1/messages")
        assert isinstance(listing, dict)
        assert [m["Subject"] for m in listing["messages"]] == ["seen on the web"]
        found = get_json(f"{proc.url}api/v1/wait?query=subject:web&timeout=30")
        assert isinstance(found, dict)
        assert found["Subject"] == "seen on the web"
    finally:
        output = proc.stop()
    assert "Traceback" not in output
    no_secret(output)


def test_serve_with_a_wrong_password_stops_with_one_line(postgres: PostgresServer) -> None:
    wrong = postgres.url_for("postgres", password="Wrong-Pass-99")
    done = subprocess.run(
        serve_command(wrong), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == EXIT_NO_STORE
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Wrong-Pass-99" not in done.stderr + done.stdout
