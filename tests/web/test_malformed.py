"""Every web reader survives every stored message (issue 10, item 4).

A message the catcher answered ``250`` for is stored; from then on it must be listed,
searched and opened on every route without a 5xx, however malformed it is. Each message
here is raw bytes parsed the way the catcher parses DATA (`catcher._parse_bytes`) and
stored by the real store, so it is exactly what a client could leave in the inbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcatcher.store import Entry, MaildirStore
from mailcatcher.store import parse_received as _parse_bytes
from tests.web.support import async_test, client

ENVELOPE = b"X-Peer: ('127.0.0.1', 40000)\r\nX-MailFrom: app@example.com\r\n"
ENVELOPE += b"X-RcptTo: eva@example.com\r\n"

#: Each is a message some client really can send, and each once broke a reader.
MALFORMED: dict[str, bytes] = {
    # policy.default's parameter parser raises IndexError on a lone "x*".
    "content-type-star": (
        b"Subject: star\r\nContent-Type: text/plain; x*\r\n\r\nbody malformedword\r\n"
    ),
    # Bad base64 padding in an encoded word: HeaderParseError.
    "broken-encoded-word": b"Subject: =?utf-8?b?A?=\r\n\r\nbody malformedword\r\n",
    "from-without-domain": b"From: a@\r\nSubject: a@\r\n\r\nbody malformedword\r\n",
    "from-lone-bracket": b"From: <\r\nSubject: bracket\r\n\r\nbody malformedword\r\n",
    "to-lone-quote": b'To: "\r\nSubject: quote\r\n\r\nbody malformedword\r\n',
    "cc-open-literal": b"Cc: <a@[>\r\nSubject: literal\r\n\r\nbody malformedword\r\n",
    "reply-to-open-literal": (
        b"Reply-To: a@[127.0.0.1\r\nSubject: reply\r\n\r\nbody malformedword\r\n"
    ),
    # Raw 8-bit header bytes that are not UTF-8 (Latin-1), and raw UTF-8 in an address.
    "raw-8bit-headers": (
        b"From: J\xfcrgen <j\xfcrgen@example.com>\r\nTo: Gr\xc3\xbc\xc3\x9fe <eva@example.com>\r\n"
        b"Cc: \xff\xfe\r\nSubject: Gr\xfc\xdfe \xe2\x82\r\nMessage-ID: <\xfc@x>\r\n\r\n"
        b"body malformedword \xfc\r\n"
    ),
    "multipart-without-closing-boundary": (
        b"Subject: unclosed\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nbody malformedword\r\n"
        b"--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="x.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n'
    ),
    "multipart-without-boundary": (
        b"Subject: no boundary\r\nContent-Type: multipart/alternative\r\n\r\nbody malformedword\r\n"
    ),
    "attachment-filename-star": (
        b"Subject: file star\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/html; charset*=''\r\n\r\n<p>body malformedword</p>\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*\r\n\r\ndata\r\n--b--\r\n"
    ),
    "unknown-charset-and-encoding": (
        b"Subject: charset\r\nContent-Type: text/plain; charset=x-unknown\r\n"
        b"Content-Transfer-Encoding: x-custom\r\n\r\nbody malformedword \xff\r\n"
    ),
}

#: Words that make the search read headers (cc:, addressed:...) and free text.
SEARCHES = ["malformedword", "cc:a", "addressed:a", "message-id:x", "from:a", "to:eva", "bcc:x"]


def store_raw(path: Path, data: bytes) -> Entry:
    """Store DATA bytes as the catcher does: parsed by its parser, written by the store."""
    with MaildirStore(path, create=True) as store:
        entry = store.add(_parse_bytes(ENVELOPE + data, None))
    assert entry is not None
    return entry


async def assert_every_route_answers(path: Path, id: str) -> None:
    async with client(path) as api:

        async def get(url: str, **params: str) -> int:
            response = await api.get(url, params=params)
            body = await response.read()
            assert response.status < 500, (url, params, response.status, body[:500])
            return response.status

        listing = await api.get("/api/v1/messages")
        assert listing.status == 200, await listing.text()
        assert [m["ID"] for m in (await listing.json())["messages"]] == [id]
        for query in SEARCHES:
            assert await get("/api/v1/search", query=query) == 200
        found = await api.get("/api/v1/search", params={"query": "malformedword"})
        assert [m["ID"] for m in (await found.json())["messages"]] == [id]

        opened = await api.get(f"/api/v1/message/{id}")
        assert opened.status == 200, await opened.text()
        message = await opened.json()
        for suffix in ("/headers", "/raw", "/links"):
            assert await get(f"/api/v1/message/{id}{suffix}") == 200
        assert await get(f"/api/v1/message/{id}/raw", dl="1") == 200
        for file in message["Attachments"] + message["Inline"]:
            assert await get(f"/api/v1/message/{id}/part/{file['PartID']}") == 200
        for part_id in ("1", "2", "1.1"):
            await get(f"/api/v1/message/{id}/part/{part_id}")
        assert await get(f"/view/{id}.txt") == 200
        assert await get(f"/view/{id}.html") in (200, 404)
        assert await get("/api/v1/message/latest", query="malformedword") == 200
        assert await get("/api/v1/wait", query="malformedword", timeout="0") == 200
        assert await get("/") == 200


@pytest.mark.parametrize("name", list(MALFORMED))
@async_test
async def test_a_malformed_message_is_listed_searched_and_opened(tmp_path: Path, name: str) -> None:
    entry = store_raw(tmp_path / "mail", MALFORMED[name])
    await assert_every_route_answers(tmp_path / "mail", entry.id)


@async_test
async def test_one_malformed_message_does_not_break_the_list_of_the_others(
    tmp_path: Path,
) -> None:
    """The finding itself: one 'x*' message made GET /api/v1/messages 500 for everyone."""
    path = tmp_path / "mail"
    ids = [store_raw(path, data).id for data in MALFORMED.values()]
    async with client(path) as api:
        listing = await api.get("/api/v1/messages", params={"limit": "0"})
        assert listing.status == 200, await listing.text()
        listed = [m["ID"] for m in (await listing.json())["messages"]]
        search = await api.get("/api/v1/search", params={"query": "malformedword"})
        assert search.status == 200, await search.text()
        found = [m["ID"] for m in (await search.json())["messages"]]
    assert sorted(listed) == sorted(ids)
    assert sorted(found) == sorted(ids)


@async_test
async def test_undecodable_header_bytes_read_as_replacement_characters(tmp_path: Path) -> None:
    entry = store_raw(tmp_path / "mail", MALFORMED["raw-8bit-headers"])
    async with client(tmp_path / "mail") as api:
        message = await (await api.get(f"/api/v1/message/{entry.id}")).json()
        headers = await (await api.get(f"/api/v1/message/{entry.id}/headers")).json()
    assert message["To"] == [{"Name": "Grüße", "Address": "eva@example.com"}]
    assert message["Subject"] == "Gr\ufffd\ufffde \ufffd"
    assert headers["Subject"] == ["Gr\ufffd\ufffde \ufffd"]
    assert headers["To"] == ["Grüße <eva@example.com>"]
