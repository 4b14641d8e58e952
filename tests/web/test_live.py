"""Mail that arrives while someone watches: the event stream, the long-poll wait, notify()."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import aiohttp
import pytest

from mailcatcher.query import Filter, describe_entry, latest
from mailcatcher.store import MaildirStore
from mailcatcher.web import inbox, start_web
from tests.web.support import add, async_test, client, mail


async def next_event(stream: aiohttp.StreamReader, timeout: float) -> bytes:
    """The next event (comment lines skipped), or raise TimeoutError."""
    while True:
        chunk = await asyncio.wait_for(stream.readuntil(b"\n\n"), timeout)
        if not chunk.startswith(b":"):
            return chunk


def add_later(path: Path, delay: float, subject: str) -> threading.Thread:
    """Store a message from another thread after `delay` s, as another process would."""

    def run() -> None:
        time.sleep(delay)
        add(path, mail(subject))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@async_test
async def test_the_stream_reports_mail_written_by_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "mail"
    add(path, mail("before"))
    async with client(path) as api:
        response = await api.get("/api/events")
        assert response.content_type == "text/event-stream"
        assert b"event: hello" in await next_event(response.content, 5)
        writer = add_later(path, 0.2, "after")
        # The watcher looks ten times a second; the bound only says "it came at all".
        event = await next_event(response.content, 30)
        writer.join()
        response.close()
    assert event.startswith(b"event: change\ndata: {")


@async_test
async def test_notify_wakes_listeners_without_waiting_for_the_watcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "POLL_INTERVAL", 60.0)  # the watcher alone would be too late
    web = await start_web(tmp_path / "mail", "127.0.0.1", 0)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{web.url}api/events") as response,
        ):
            await next_event(response.content, 5)
            add(tmp_path / "mail", mail("new"))
            # From another thread, as an SMTP handler's listener calls it.
            threading.Thread(target=web.notify).start()
            event = await next_event(response.content, 20)  # the watcher alone: 60 s
        assert event.startswith(b"event: change")
    finally:
        await web.close()


@async_test
async def test_wait_answers_when_a_matching_message_arrives(tmp_path: Path) -> None:
    path = tmp_path / "mail"
    add(path, mail("unrelated", to=["bob@example.org"]))
    async with client(path) as api:
        writer = add_later(path, 0.3, "for eva")
        response = await api.get("/api/v1/wait", params={"query": "to:eva", "timeout": "60"})
        writer.join()
        assert response.status == 200
        message = await response.json()
    assert message["Subject"] == "for eva"
    assert {"ID", "Text", "HTML", "Attachments"} <= set(message)


@async_test
async def test_wait_returns_a_stored_match_unless_since_excludes_it(tmp_path: Path) -> None:
    path = tmp_path / "mail"
    add(path, mail("old one"))
    async with client(path) as api:
        found = await api.get("/api/v1/wait", params={"query": "subject:old", "timeout": "0"})
        assert found.status == 200
        later = await api.get(
            "/api/v1/wait",
            params={"query": "subject:old", "since": str(time.time()), "timeout": "0.2"},
        )
        assert later.status == 504


@async_test
async def test_wait_picks_the_newest_match_with_the_stores_tie_break(tmp_path: Path) -> None:
    """Same order as every surface: newest first, then the larger ID (`store.entries`)."""
    path = tmp_path / "mail"
    MaildirStore(path, create=True).close()
    # Two deliveries by another program in the same microsecond: only the ID breaks the tie.
    names = ["1700000000.M000001P1Q1.host", "1700000000.M000001P1Q2.host"]
    for name in names:
        (path / "new" / name).write_bytes(mail(name, to=["eva@example.com"]).as_bytes())
    with MaildirStore(path) as store:
        expected = latest(store, Filter(to="eva@example.com"))
    assert expected is not None
    async with client(path) as api:
        response = await api.get("/api/v1/wait", params={"query": "to:eva", "timeout": "0"})
        assert response.status == 200
        found = await response.json()
    assert found["ID"] == expected.entry.id == names[1]


@async_test
async def test_wait_times_out_with_504_and_the_query_cores_text(tmp_path: Path) -> None:
    path = tmp_path / "mail"
    [entry] = add(path, mail("something else"))
    async with client(path) as api:
        response = await api.get("/api/v1/wait", params={"query": "to:nobody", "timeout": "0.5"})
        assert response.status == 504
        assert response.content_type == "application/json"
        body = await response.json()
        for bad in ("-1", "301", "soon"):
            refused = await api.get("/api/v1/wait", params={"timeout": bad})
            assert refused.status == 400
            assert "timeout" in await refused.text()
    # The text every wait gives (`query.timeout_message`): what was wanted, what arrived.
    assert body["Error"].splitlines() == [
        f"no message matching 'to:nobody' arrived at {path} within 0.5 s",
        "it holds 1 message(s), newest first:",
        describe_entry(entry),
    ]
    assert (body["Query"], body["Timeout"], body["Total"]) == ("to:nobody", 0.5, 1)
    assert [m["Subject"] for m in body["Messages"]] == ["something else"]


@async_test
async def test_start_web_on_a_free_port_and_close_ends_open_streams(tmp_path: Path) -> None:
    web = await start_web(tmp_path / "mail", "127.0.0.1", 0)
    assert web.port > 0
    assert web.url == f"http://127.0.0.1:{web.port}/"
    session = aiohttp.ClientSession()
    try:
        response = await session.get(f"{web.url}api/events")
        await next_event(response.content, 5)
        waiting = asyncio.ensure_future(session.get(f"{web.url}api/v1/wait?timeout=60"))
        await asyncio.sleep(0.2)
        # Closing ends the stream and the 60 s wait at once, not when they would end.
        await asyncio.wait_for(web.close(), 30)
        await asyncio.wait_for(response.content.read(), 30)  # the stream ended
        response.close()
        (await asyncio.wait_for(waiting, 30)).close()
    finally:
        await session.close()


@async_test
async def test_start_web_reports_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="address already in use"):
            await start_web(tmp_path / "mail", "127.0.0.1", taken.getsockname()[1])


def test_a_directory_that_is_not_a_maildir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hi")
    with pytest.raises(NotADirectoryError):
        asyncio.run(start_web(tmp_path / "other", "127.0.0.1", 0))


@async_test
async def test_a_path_that_becomes_a_maildir_later_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "mail"  # `mailcatcher web` started before aiosmtpd created it
    async with client(path) as api:
        assert (await (await api.get("/api/v1/messages")).json())["total"] == 0
        add(path, mail("first"))
        data = await (await api.get("/api/v1/messages")).json()
    assert [m["Subject"] for m in data["messages"]] == ["first"]
