"""Answers that wait for mail: the live-update stream and the long-poll wait.

Both sleep on the `Inbox`'s change signal, which `RunningWeb.notify()` (mail stored by
``mailcatcher serve``) and the store watcher (mail stored by any other process) raise.
The wait is the query core's (`mailcatcher.query.waiting`, as the library, the fixture
and the command line wait): each look runs in a worker thread, and between looks the
event loop sleeps for the pause the core asks for, or until the store changes.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Generator

from aiohttp import web

from ..query import MailTimeoutError, Match, timeout_message, waiting
from . import shapes
from .api import bad_request, inbox_of, json_answer, query_of, routes, time_zone
from .search import QueryError, parse_time

#: A comment line this often keeps proxies and browsers from closing an idle stream.
KEEPALIVE = 15.0
#: The wait's default and longest timeout, in seconds.
WAIT_DEFAULT = 10.0
WAIT_LONGEST = 300.0


@routes.get("/api/events")
async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events (HTML Living Standard 9.2): ``change`` whenever the store changes.

    Each event's data is ``{"version": N}``; a page reloads its list on each. Browsers
    reconnect by themselves after ``retry`` milliseconds if the stream breaks.
    """
    inbox = inbox_of(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
        }
    )
    await response.prepare(request)
    version = inbox.version
    try:
        await response.write(
            f"retry: 1000\nevent: hello\ndata: {json.dumps({'version': version})}\n\n".encode()
        )
        while not inbox.is_closing():
            changed = await inbox.wait_change(version, KEEPALIVE)
            if inbox.is_closing():
                break
            if changed:
                version = inbox.version
                data = json.dumps({"version": version})
                await response.write(f"event: change\ndata: {data}\n\n".encode())
            else:
                await response.write(b": keep-alive\n\n")
    except ConnectionError:
        pass  # the page went away
    return response


def _timeout(request: web.Request) -> float:
    """The ``timeout`` parameter in seconds.

    Raises:
        QueryError: it is not a number between 0 and `WAIT_LONGEST`.
    """
    raw = request.query.get("timeout", "").strip()
    if not raw:
        return WAIT_DEFAULT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= WAIT_LONGEST:
        raise QueryError(
            f"timeout must be a number of seconds from 0 to {WAIT_LONGEST:g}, got {raw!r}"
        )
    return value


@routes.get("/api/v1/wait")
async def wait(request: web.Request) -> web.Response:
    """The newest message matching ``query``, as soon as one is stored.

    The HTTP twin of `mailcatcher.wait_for_message`: a message already stored counts
    unless ``since`` (RFC 3339 or Unix seconds) excludes it. On timeout the answer is
    ``504 Gateway Timeout`` with a JSON body naming what did arrive. 504, not 408: the
    request was complete and correct (408 says the client was too slow to send it, and
    some clients resend a request on 408), what timed out is the mail the server waited
    for on the client's behalf.
    """
    inbox = inbox_of(request)
    try:
        query = query_of(request, required=False)
        timeout = _timeout(request)
        raw_since = request.query.get("since", "").strip()
        since = parse_time(raw_since, tz=time_zone(request)) if raw_since else None
    except QueryError as error:
        return bad_request(str(error))
    wanted = inbox.selector(query, since=since)
    where = str(inbox.path)
    steps = waiting(inbox.store(), wanted, timeout, where=where)
    try:
        while True:
            version = inbox.version
            # Each look reads files (blocking): a worker thread's job, as every store call,
            # and matches the search: it takes its turn with the other searches.
            step = await inbox.call_search(_step, steps)
            if isinstance(step, Match):
                build = functools.partial(shapes.message, step.entry, step.message)
                return await json_answer(request, build)
            if inbox.is_closing():
                raise MailTimeoutError(
                    timeout_message(where, timeout, wanted, await inbox.entries())
                )
            await inbox.wait_change(version, step)
    except MailTimeoutError as error:
        entries = await inbox.entries()
        answer: shapes.WaitTimeout = {
            "Error": str(error),
            "Query": query.text,
            "Timeout": timeout,
            "Total": len(entries),
            "Messages": await inbox.summaries(entries[:10]),
        }
        return web.json_response(answer, status=504)
    finally:
        steps.close()


def _step(steps: Generator[float, None, Match]) -> float | Match:
    """One look of `query.waiting`: the pause before the next look, or the match.

    The match comes back as a value, not as `StopIteration`: an asyncio future refuses
    to carry `StopIteration` across from the worker thread.
    """
    try:
        return next(steps)
    except StopIteration as done:
        found: Match = done.value
        return found
