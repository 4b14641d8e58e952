"""The library's async wait: the one core (`query.waiting`) driven without blocking the loop."""

from __future__ import annotations

import asyncio
import time
from email.parser import BytesParser
from pathlib import Path

import pytest

import mailcatcher
from mailcatcher.query import MailTimeoutError
from mailcatcher.store import MaildirStore, open_store


def add(path: Path, subject: str, to: str = "eva@example.com") -> None:
    raw = (
        f"From: app@example.com\nTo: {to}\nSubject: {subject}\n"
        f"X-MailFrom: app@example.com\nX-RcptTo: {to}\n\nbody\n"
    ).encode()
    store = open_store(path)
    try:
        store.add(BytesParser().parsebytes(raw))
    finally:
        store.close()


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    MaildirStore(tmp_path / "mail", create=True).close()
    return tmp_path / "mail"


@pytest.mark.asyncio
async def test_a_task_on_the_same_loop_sends_while_the_wait_runs(maildir: Path) -> None:
    # The case of issue 12: the sender is a task on the loop the test awaits on. A
    # blocking wait would starve it; the async wait lets it run and returns its mail.
    async def send_later() -> None:
        await asyncio.sleep(0.05)
        await asyncio.to_thread(add, maildir, "Welcome", "eva@example.com")

    sender = asyncio.create_task(send_later())
    message = await mailcatcher.wait_for_message_async(maildir, 10, to="eva@example.com")
    await sender
    assert message["Subject"] == "Welcome"


@pytest.mark.asyncio
async def test_filters_and_a_message_already_there(maildir: Path) -> None:
    add(maildir, "Welcome Bob", "bob@example.com")
    add(maildir, "Welcome Eva", "eva@example.com")
    message = await mailcatcher.wait_for_message_async(maildir, 5, to="bob@example.com")
    assert message["Subject"] == "Welcome Bob"
    none_newer = mailcatcher.wait_for_message_async(maildir, 0.2, since=time.time() + 60)
    with pytest.raises(MailTimeoutError):
        await none_newer


@pytest.mark.asyncio
async def test_the_timeout_error_is_the_sync_one_word_for_word(maildir: Path) -> None:
    add(maildir, "Welcome Bob", "bob@example.com")
    with pytest.raises(MailTimeoutError) as sync_error:
        await asyncio.to_thread(mailcatcher.wait_for_message, maildir, 0.1, to="eva@example.com")
    with pytest.raises(MailTimeoutError) as async_error:
        await mailcatcher.wait_for_message_async(maildir, 0.1, to="eva@example.com")
    assert str(async_error.value) == str(sync_error.value)
    assert "to='eva@example.com'" in str(async_error.value)
    assert "'Welcome Bob'" in str(async_error.value)


@pytest.mark.asyncio
async def test_the_sync_wait_inside_a_running_loop_fails_at_once(maildir: Path) -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"await mailcatcher\.wait_for_message_async"):
        mailcatcher.wait_for_message(maildir, 30)
    assert time.monotonic() - started < 10  # at once, not after the 30 s timeout


@pytest.mark.anyio
async def test_under_anyio(maildir: Path) -> None:
    async def send_later() -> None:
        await asyncio.sleep(0.05)
        await asyncio.to_thread(add, maildir, "From anyio")

    sender = asyncio.create_task(send_later())
    message = await mailcatcher.wait_for_message_async(maildir, 10)
    await sender
    assert message["Subject"] == "From anyio"


@pytest.fixture
def anyio_backend() -> str:
    # The async waits run on asyncio (also under anyio); trio is not supported.
    return "asyncio"


@pytest.mark.asyncio
async def test_a_cancelled_wait_leaves_nothing_behind(maildir: Path) -> None:
    waiter = asyncio.create_task(mailcatcher.wait_for_message_async(maildir, 30))
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
