"""Async tests and the fixture: `wait_for_message_async` under pytest-asyncio and anyio.

Each case runs in a child pytest, as a project's async test suite would, with an app
that sends from a task on the test's own event loop: a wait that blocked the loop would
never let it run.
"""

from __future__ import annotations

import pytest

from .test_plugin import CHILD_INI, SEND

APP = """
import asyncio

from sending import send


def start_app(mailcatcher, **message):
    # The app under test: it sends from a task on the running loop, after a pause.
    async def deliver():
        await asyncio.sleep(0.05)
        await asyncio.to_thread(send, mailcatcher, **message)

    return asyncio.get_running_loop().create_task(deliver())
"""

ASYNCIO_TESTS = """
import asyncio

import pytest

from app import start_app


@pytest.mark.asyncio
async def test_a_task_sends_while_the_test_waits(mailcatcher):
    task = start_app(mailcatcher, to="eva@example.com", subject="Welcome")
    message = await mailcatcher.wait_for_message_async(to="eva@example.com", timeout=30)
    await task
    assert message["Subject"] == "Welcome"


@pytest.mark.asyncio
async def test_filters_pick_the_matching_message(mailcatcher):
    await start_app(mailcatcher, to="bob@example.com", subject="Other")
    task = start_app(mailcatcher, to="eva@example.com", subject="Welcome")
    message = await mailcatcher.wait_for_message_async(subject="welcome", timeout=30)
    await task
    assert message["X-RcptTo"] == "eva@example.com"


@pytest.mark.asyncio
async def test_the_timeout_is_the_sync_error(mailcatcher):
    await start_app(mailcatcher, to="bob@example.com", subject="Other")
    with pytest.raises(AssertionError) as failed:
        await mailcatcher.wait_for_message_async(to="eva@example.com", timeout=0.2)
    assert type(failed.value).__name__ == "MailTimeoutError"
    assert isinstance(failed.value, TimeoutError)
    text = str(failed.value)
    assert text.startswith("no message matching to='eva@example.com' arrived at ")
    assert "to bob@example.com from app@example.com: 'Other'" in text


@pytest.mark.asyncio
async def test_the_sync_wait_fails_at_once_naming_the_async_twin(mailcatcher):
    start_app(mailcatcher)
    with pytest.raises(RuntimeError, match=r"await mailcatcher\\.wait_for_message_async"):
        mailcatcher.wait_for_message(timeout=60)
    # The loop was not blocked: the app's task still runs and delivers.
    assert (await mailcatcher.wait_for_message_async(timeout=30))["Subject"] == "Hello"
"""

ANYIO_TESTS = """
import pytest

from app import start_app


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_a_task_sends_while_the_test_waits(mailcatcher):
    task = start_app(mailcatcher, to="eva@example.com", subject="Welcome")
    message = await mailcatcher.wait_for_message_async(to="eva@example.com", timeout=30)
    await task
    assert message["Subject"] == "Welcome"
"""


@pytest.fixture
def child(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(CHILD_INI)
    pytester.makepyfile(sending=SEND, app=APP)
    pytester.syspathinsert()
    return pytester


def test_under_pytest_asyncio(child: pytest.Pytester) -> None:
    child.makepyfile(test_async=ASYNCIO_TESTS)
    child.runpytest_subprocess().assert_outcomes(passed=4)


def test_under_anyio(child: pytest.Pytester) -> None:
    child.makepyfile(test_anyio=ANYIO_TESTS)
    child.runpytest_subprocess().assert_outcomes(passed=1)


def test_a_blocking_wait_would_have_starved_the_task(child: pytest.Pytester) -> None:
    # The proof the async wait matters: the same test, with the sync wait moved into a
    # blocking call on the loop's thread, never lets the app's task send.
    child.makepyfile(
        test_blocking="""
        import time

        import pytest

        from app import start_app


        @pytest.mark.asyncio
        async def test_blocked(mailcatcher):
            task = start_app(mailcatcher)
            time.sleep(0.5)  # what a blocking wait does to the loop
            assert mailcatcher.messages == []
            await task
            assert len(mailcatcher.messages) == 1
        """
    )
    child.runpytest_subprocess().assert_outcomes(passed=1)
