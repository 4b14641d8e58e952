"""The reliability round trip and the Mailpit API over a ``serve`` backed by PostgreSQL.

The same generated and hand-picked MIME messages as `tests.reliability.test_roundtrip`
go through ``mailcatcher serve --store postgresql://...`` and read back exactly; the
Mailpit-compatible API answers in Mailpit's shapes over a database store, as
`tests.web.test_api` pins them over a Maildir.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailcatcher.store import DatabaseLocation, opened
from tests.reliability.test_roundtrip import EXAMPLES, REGRESSIONS, _property, round_trip
from tests.support import Proc, start
from tests.web.support import async_test, client
from tests.web.test_api import MESSAGE, SUMMARY, assert_shape, rich_mail

from .mail import serve_command
from .server import PASSWORD


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[Proc, DatabaseLocation]]:
    """``serve --store URL``, and the URL as the location readers take."""
    proc = start(serve_command(database_url))
    try:
        yield proc, DatabaseLocation.of(database_url)
    finally:
        output = proc.stop()
    assert "Traceback" not in output, output
    assert PASSWORD not in output


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regressions_round_trip(served: tuple[Proc, DatabaseLocation], name: str) -> None:
    proc, store = served
    round_trip(proc, store, REGRESSIONS[name])


@pytest.mark.slow
def test_generated_messages_round_trip(served: tuple[Proc, DatabaseLocation]) -> None:
    proc, store = served
    _property(proc, store, max(EXAMPLES * 2 // 5, 1), utf8=True)()


@async_test
async def test_the_mailpit_api_over_a_database(database_url: str) -> None:
    location = DatabaseLocation.of(database_url)
    with opened(location) as store:
        entry = store.add(rich_mail())
        assert entry is not None
        raw = store.read_bytes(entry.id)
    async with client(location) as http:
        listing = await (await http.get("/api/v1/messages")).json()
        assert listing["total"] == 1
        assert_shape(listing["messages"][0], SUMMARY)
        assert listing["messages"][0]["Attachments"] == 1
        found = await (await http.get(f"/api/v1/message/{entry.id}")).json()
        assert_shape(found, MESSAGE)
        assert found["Subject"] == "Your order"
        assert await (await http.get(f"/api/v1/message/{entry.id}/raw")).read() == raw
        searched = await (await http.get("/api/v1/search?query=track")).json()
        assert [m["ID"] for m in searched["messages"]] == [entry.id]
        deleted = await http.delete("/api/v1/messages", json={"IDs": [entry.id]})
        assert deleted.status == 200
        assert (await (await http.get("/api/v1/messages")).json())["total"] == 0
