"""The Mailpit-compatible JSON API, through aiohttp's test client.

Field names and types are pinned to Mailpit's swagger.json (server/ui/api/v1) and the
Go structs behind it, so a Mailpit client reading these answers finds what it expects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mailcatcher import message as message_helpers
from mailcatcher.store import parse_message
from mailcatcher.web import openapi
from tests.web.support import add, add_inline_image, async_test, client, mail

ADDRESS = {"Name": str, "Address": str}
SUMMARY = {
    "ID": str,
    "MessageID": str,
    "Read": bool,
    "From": dict,
    "To": list,
    "Cc": list,
    "Bcc": list,
    "ReplyTo": list,
    "Subject": str,
    "Created": str,
    "Username": str,
    "Tags": list,
    "Size": int,
    "Attachments": int,
    "Snippet": str,
}
MESSAGES_SUMMARY = {
    "total": int,
    "unread": int,
    "count": int,  # undocumented since 2023 but still sent by Mailpit; clients read it
    "messages_count": int,
    "messages_unread": int,
    "start": int,
    "tags": list,
    "messages": list,
}
MESSAGE = {
    "ID": str,
    "MessageID": str,
    "From": dict,
    "To": list,
    "Cc": list,
    "Bcc": list,
    "ReplyTo": list,
    "ReturnPath": str,
    "Subject": str,
    "ListUnsubscribe": dict,
    "Date": str,
    "Tags": list,
    "Username": str,
    "Text": str,
    "HTML": str,
    "Size": int,
    "Inline": list,
    "Attachments": list,
}
ATTACHMENT = {
    "PartID": str,
    "FileName": str,
    "ContentType": str,
    "ContentID": str,
    "Size": int,
    "Checksums": dict,
}
LIST_UNSUBSCRIBE = {"Header": str, "Links": list, "Errors": str, "HeaderPost": str}


def assert_shape(value: dict[str, Any], shape: Mapping[str, type]) -> None:
    """Exactly these keys, each of exactly this JSON type (a bool is not an int)."""
    assert set(value) == set(shape)
    for key, kind in shape.items():
        assert type(value[key]) is kind, f"{key}: {value[key]!r} is not {kind.__name__}"


def assert_addresses(values: list[Any]) -> None:
    for value in values:
        assert_shape(value, ADDRESS)


def rich_mail() -> Any:
    message = mail(
        "Your order",
        to=["Eva <eva@example.com>", "bob@example.org"],
        envelope_to=["eva@example.com", "bob@example.org", "hidden@example.net"],
        text="Thanks for your order. Track it at https://shop.example/track/1",
        html='<p>Thanks! <img src="cid:logo@shop"> <a href="https://shop.example/track/1">Track</a></p>',
        headers={
            "Cc": "Carl <carl@example.org>",
            "Reply-To": "Support <support@shop.example>",
            "Message-ID": "<order-1@shop.example>",
            "List-Unsubscribe": "<https://shop.example/unsub>, <mailto:unsub@shop.example>",
        },
    )
    add_inline_image(message, "logo@shop", b"\x89PNG logo")
    message.add_attachment(
        b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    return message


@async_test
async def test_list_has_mailpit_shapes_newest_first(tmp_path: Path) -> None:
    add(tmp_path / "mail", mail("first"), rich_mail())
    async with client(tmp_path / "mail") as api:
        response = await api.get("/api/v1/messages")
        assert response.status == 200
        assert response.content_type == "application/json"
        data = await response.json()
    assert_shape(data, MESSAGES_SUMMARY)
    assert (data["total"], data["unread"], data["count"], data["messages_count"]) == (2, 2, 2, 2)
    assert [m["Subject"] for m in data["messages"]] == ["Your order", "first"]
    newest = data["messages"][0]
    assert_shape(newest, SUMMARY)
    assert_shape(newest["From"], ADDRESS)
    for field in ("To", "Cc", "Bcc", "ReplyTo"):
        assert_addresses(newest[field])
    assert newest["From"] == {"Name": "App", "Address": "app@example.com"}
    assert newest["To"] == [
        {"Name": "Eva", "Address": "eva@example.com"},
        {"Name": "", "Address": "bob@example.org"},
    ]
    assert newest["Cc"] == [{"Name": "Carl", "Address": "carl@example.org"}]
    assert newest["ReplyTo"] == [{"Name": "Support", "Address": "support@shop.example"}]
    assert newest["MessageID"] == "order-1@shop.example"
    assert newest["Attachments"] == 1
    assert newest["Snippet"].startswith("Thanks for your order.")
    assert newest["Read"] is False
    assert datetime.fromisoformat(newest["Created"].replace("Z", "+00:00")).tzinfo is not None


@async_test
async def test_paging_with_start_and_limit(tmp_path: Path) -> None:
    add(tmp_path / "mail", *(mail(f"n{i}") for i in range(5)))
    async with client(tmp_path / "mail") as api:
        page = await (await api.get("/api/v1/messages?start=1&limit=2")).json()
        everything = await (await api.get("/api/v1/messages?limit=0")).json()
        defaults = await (await api.get("/api/v1/messages?start=x&limit=-3")).json()
    assert [m["Subject"] for m in page["messages"]] == ["n3", "n2"]
    assert (page["start"], page["count"], page["total"]) == (1, 2, 5)
    assert len(everything["messages"]) == 5  # Mailpit: limit=0 lists everything
    assert (defaults["start"], defaults["count"]) == (0, 5)


@async_test
async def test_message_shape_bodies_files_and_read_status(tmp_path: Path) -> None:
    [entry] = add(tmp_path / "mail", rich_mail())
    async with client(tmp_path / "mail") as api:
        response = await api.get(f"/api/v1/message/{entry.id}")
        assert response.status == 200
        message = await response.json()
        after = await (await api.get("/api/v1/messages")).json()
    assert_shape(message, MESSAGE)
    assert_shape(message["ListUnsubscribe"], LIST_UNSUBSCRIBE)
    assert message["ID"] == entry.id
    assert message["Text"].startswith("Thanks for your order.")
    assert 'src="cid:logo@shop"' in message["HTML"]  # the JSON gives the HTML as sent
    assert message["ReturnPath"] == "app@example.com"
    assert message["ListUnsubscribe"]["Links"] == [
        "https://shop.example/unsub",
        "mailto:unsub@shop.example",
    ]
    [inline] = message["Inline"]
    [attached] = message["Attachments"]
    for part in (inline, attached):
        assert_shape(part, ATTACHMENT)
    assert inline["ContentID"] == "logo@shop"
    assert inline["ContentType"] == "image/png"
    assert attached["FileName"] == "invoice.pdf"
    assert attached["Size"] == len(b"%PDF-1.4 invoice")
    assert attached["Checksums"]["SHA256"] == hashlib.sha256(b"%PDF-1.4 invoice").hexdigest()
    # Opening a message marks it read, as in Mailpit.
    assert after["messages"][0]["Read"] is True
    assert (after["unread"], after["messages_unread"]) == (0, 0)


@async_test
async def test_latest_and_latest_matching_a_query(tmp_path: Path) -> None:
    add(tmp_path / "mail", mail("for eva"), mail("for bob", to=["bob@example.org"]))
    async with client(tmp_path / "mail") as api:
        latest = await (await api.get("/api/v1/message/latest")).json()
        eva = await (await api.get("/api/v1/message/latest?query=to:eva")).json()
        missing = await api.get("/api/v1/message/latest?query=to:nobody")
        assert missing.status == 404
        unknown = await api.get("/api/v1/message/no-such-id")
        assert unknown.status == 404
        assert await unknown.text() == "Message not found"
    assert latest["Subject"] == "for bob"
    assert eva["Subject"] == "for eva"


@async_test
async def test_latest_on_an_empty_store_is_404(tmp_path: Path) -> None:
    async with client(tmp_path / "missing.mail") as api:
        assert (await api.get("/api/v1/message/latest")).status == 404
        data = await (await api.get("/api/v1/messages")).json()
    assert (data["total"], data["messages"]) == (0, [])


@async_test
async def test_headers_raw_and_part(tmp_path: Path) -> None:
    [entry] = add(tmp_path / "mail", rich_mail())
    async with client(tmp_path / "mail") as api:
        headers = await (await api.get(f"/api/v1/message/{entry.id}/headers")).json()
        raw = await api.get(f"/api/v1/message/{entry.id}/raw")
        raw_body = await raw.read()
        download = await api.get(f"/api/v1/message/{entry.id}/raw?dl=1")
        message = await (await api.get(f"/api/v1/message/{entry.id}")).json()
        part_id = message["Attachments"][0]["PartID"]
        part = await api.get(f"/api/v1/message/{entry.id}/part/{part_id}")
        part_body = await part.read()
        missing_part = await api.get(f"/api/v1/message/{entry.id}/part/9.9")
    assert headers["Subject"] == ["Your order"]
    assert headers["Message-Id"] == ["<order-1@shop.example>"]  # Go's canonical names
    assert list(headers) == sorted(headers)
    assert all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in headers.values())
    assert raw.content_type == "text/plain"
    assert raw_body == (tmp_path / "mail" / "new" / entry.id).read_bytes()
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert part.status == 200
    assert part_body == b"%PDF-1.4 invoice"
    assert part.content_type == "application/pdf"
    assert part.headers["Content-Disposition"] == (
        "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf"
    )
    assert part.headers["X-Content-Type-Options"] == "nosniff"
    assert missing_part.status == 404


@async_test
async def test_search_syntax(tmp_path: Path) -> None:
    add(
        tmp_path / "mail",
        mail("Welcome Eva", to=["eva@example.com"], text="your code is 4711"),
        mail("Invoice", to=["bob@example.org"], sender="Billing <billing@shop.example>"),
        mail(
            "Welcome Bob", to=["bob@example.org"], envelope_to=["bob@example.org", "x@bcc.example"]
        ),
    )

    async def subjects(query: str) -> list[str]:
        response = await api.get("/api/v1/search", params={"query": query})
        assert response.status == 200, await response.text()
        data = await response.json()
        assert data["messages_count"] == len(data["messages"])
        assert data["total"] == 3
        return [m["Subject"] for m in data["messages"]]

    async with client(tmp_path / "mail") as api:
        assert await subjects("to:eva@example.com") == ["Welcome Eva"]
        assert await subjects("from:billing") == ["Invoice"]
        assert await subjects("subject:welcome") == ["Welcome Bob", "Welcome Eva"]
        assert await subjects('subject:"welcome eva"') == ["Welcome Eva"]
        assert await subjects("4711") == ["Welcome Eva"]  # free text reaches the body
        assert await subjects("welcome -to:bob") == ["Welcome Eva"]
        assert await subjects("!subject:welcome") == ["Invoice"]
        assert await subjects("to:x@bcc.example") == ["Welcome Bob"]  # the envelope counts
        assert await subjects("has:attachment") == []
        assert await subjects("larger:1 smaller:1mb") == ["Welcome Bob", "Invoice", "Welcome Eva"]
        missing = await api.get("/api/v1/search")
        assert missing.status == 400
        assert await missing.text() == "Error: no search query"
        bad = await api.get("/api/v1/search", params={"query": "after:someday"})
        assert bad.status == 400
        assert "someday" in await bad.text()


UNREADABLE = "give 2024-05-31, 2024-05-31T14:30 or Unix seconds"
OUT_OF_RANGE = "in UTC it falls outside the years 1 to 9999"


@pytest.mark.parametrize(
    ("path", "params", "error"),
    [
        # A date in range until its offset moves it before year 1 or past 9999 in UTC:
        # datetime raised OverflowError, answered with a 500 and a traceback.
        (
            "/api/v1/search",
            {"query": "after:0001-01-01T00:00+05:00"},
            f"cannot use the date '0001-01-01t00:00+05:00': {OUT_OF_RANGE}",
        ),
        (
            "/api/v1/search",
            {"query": "after:9999-12-31T23:00-05:00"},
            f"cannot use the date '9999-12-31t23:00-05:00': {OUT_OF_RANGE}",
        ),
        (
            "/api/v1/messages",
            {"before": "9999-12-31T23:00-05:00"},
            f"cannot use the date '9999-12-31T23:00-05:00': {OUT_OF_RANGE}",
        ),
        (
            "/api/v1/wait",
            {"since": "0001-01-01T00:00+05:00", "timeout": "0"},
            f"cannot use the date '0001-01-01T00:00+05:00': {OUT_OF_RANGE}",
        ),
        (
            "/api/v1/message/latest",
            {"query": "before:0001-01-01T00:00+05:00"},
            f"cannot use the date '0001-01-01t00:00+05:00': {OUT_OF_RANGE}",
        ),
        # Not numbers of seconds, though float() reads them: nothing compares with NaN,
        # so "before:nan" matched nothing and a wait "since nan" never matched.
        ("/api/v1/search", {"query": "before:nan"}, f"cannot read the date 'nan': {UNREADABLE}"),
        ("/api/v1/search", {"query": "after:-inf"}, f"cannot read the date '-inf': {UNREADABLE}"),
        ("/api/v1/messages", {"before": "1e400"}, f"cannot read the date '1e400': {UNREADABLE}"),
        (
            "/api/v1/wait",
            {"since": "nan", "timeout": "0"},
            f"cannot read the date 'nan': {UNREADABLE}",
        ),
        # Hundreds of digits are inf to float(), and int(inf) raised OverflowError.
        (
            "/api/v1/search",
            {"query": "larger:" + "9" * 400},
            f"cannot read the size {'9' * 400!r}: give 500, 20kb or 1.5mb",
        ),
    ],
)
@async_test
async def test_dates_out_of_range_or_not_finite_are_refused_with_400(
    tmp_path: Path, path: str, params: dict[str, str], error: str
) -> None:
    add(tmp_path / "mail", mail("stored"))
    async with client(tmp_path / "mail") as api:
        response = await api.get(path, params=params)
        assert response.status == 400
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await response.text() == error
    documented = openapi.PATHS[path.replace("/latest", "/{ID}")]["get"]["responses"]
    assert "400" in documented


#: Every route that reads one message, as the OpenAPI document names them.
MESSAGE_ROUTES = [
    "/api/v1/message/{ID}",
    "/api/v1/message/{ID}/headers",
    "/api/v1/message/{ID}/raw",
    "/api/v1/message/{ID}/part/{PartID}",
    "/api/v1/message/{ID}/links",
    "/view/{ID}.html",
    "/view/{ID}.txt",
]


@pytest.mark.parametrize("route", MESSAGE_ROUTES)
@async_test
async def test_every_message_route_answers_a_missing_message_and_a_bad_query_alike(
    tmp_path: Path, route: str
) -> None:
    add(tmp_path / "mail", mail("stored"))
    async with client(tmp_path / "mail") as api:
        missing = await api.get(route.format(ID="no-such-id", PartID="1"))
        latest = route.format(ID="latest", PartID="1")
        no_match = await api.get(latest, params={"query": "to:nobody"})
        bad_query = await api.get(latest, params={"query": "after:someday"})
        for response in (missing, no_match):
            assert response.status == 404
            assert await response.text() == "Message not found"
        assert bad_query.status == 400
        assert await bad_query.text() == f"cannot read the date 'someday': {UNREADABLE}"
        for response in (missing, no_match, bad_query):
            assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Cache-Control"] == "no-store"
    assert {"400", "404"} <= set(openapi.PATHS[route]["get"]["responses"])


@async_test
async def test_delete_given_ids_then_all(tmp_path: Path) -> None:
    entries = add(tmp_path / "mail", mail("a"), mail("b"), mail("c"))
    async with client(tmp_path / "mail") as api:
        response = await api.delete("/api/v1/messages", json={"IDs": [entries[0].id]})
        assert response.status == 200
        assert await response.text() == "ok"
        left = await (await api.get("/api/v1/messages")).json()
        assert [m["Subject"] for m in left["messages"]] == ["c", "b"]
        refused = await api.delete("/api/v1/messages", data=b"not json")
        assert refused.status == 400
        assert (await (await api.get("/api/v1/messages")).json())["total"] == 2
        assert (await api.delete("/api/v1/messages")).status == 200
        assert (await (await api.get("/api/v1/messages")).json())["total"] == 0
    assert list((tmp_path / "mail" / "new").iterdir()) == []


@pytest.mark.parametrize("body", [{}, {"IDs": None}, {"ids": None}])
@async_test
async def test_delete_with_json_but_no_ids_deletes_everything_as_mailpit_does(
    tmp_path: Path, body: dict[str, None]
) -> None:
    add(tmp_path / "mail", mail("a"), mail("b"))
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 2
    async with client(tmp_path / "mail") as api:
        response = await api.delete("/api/v1/messages", json=body)
        assert (response.status, await response.text()) == (200, "ok")
    assert list((tmp_path / "mail" / "new").iterdir()) == []


@async_test
async def test_delete_search(tmp_path: Path) -> None:
    add(tmp_path / "mail", mail("keep"), mail("drop me"), mail("drop me too"))
    async with client(tmp_path / "mail") as api:
        assert (await api.delete("/api/v1/search")).status == 400
        response = await api.delete("/api/v1/search", params={"query": "subject:drop"})
        assert response.status == 200
        data = await (await api.get("/api/v1/messages")).json()
    assert [m["Subject"] for m in data["messages"]] == ["keep"]


@async_test
async def test_set_read_status(tmp_path: Path) -> None:
    entries = add(tmp_path / "mail", mail("a"), mail("b"))
    async with client(tmp_path / "mail") as api:
        await api.put("/api/v1/messages", json={"Read": True, "IDs": [entries[0].id]})
        data = await (await api.get("/api/v1/search?query=is:read")).json()
        assert [m["Subject"] for m in data["messages"]] == ["a"]
        await api.put("/api/v1/messages", json={"Read": True})
        assert (await (await api.get("/api/v1/messages")).json())["unread"] == 0
        await api.put("/api/v1/messages", json={"Read": False, "Search": "subject:b"})
        assert (await (await api.get("/api/v1/messages")).json())["unread"] == 1
        both = await api.put("/api/v1/messages", json={"IDs": ["x"], "Search": "a"})
        assert both.status == 400


@async_test
async def test_views_info_probes_and_extras(tmp_path: Path) -> None:
    [entry] = add(tmp_path / "mail", rich_mail())
    add(tmp_path / "mail", mail("plain only", text="just text"))
    async with client(tmp_path / "mail") as api:
        text = await api.get(f"/view/{entry.id}.txt")
        assert text.content_type == "text/plain"
        assert (await text.text()).startswith("Thanks for your order.")
        no_html = await api.get("/view/latest.html")
        assert no_html.status == 404
        links = await (await api.get(f"/api/v1/message/{entry.id}/links")).json()
        assert links == ["https://shop.example/track/1"]
        info = await (await api.get("/api/v1/info")).json()
        assert info["Messages"] == 2
        assert info["LatestVersion"] == ""  # nothing is ever fetched
        assert set(info["RuntimeStats"]) >= {"Memory", "Uptime", "MessagesDeleted"}
        assert (await (await api.get("/api/v1/webui")).json())["MessageRelay"]["Enabled"] is False
        assert await (await api.get("/api/v1/tags")).json() == []
        assert (await api.get("/livez")).status == 200
        assert (await api.get("/readyz")).status == 200


@async_test
async def test_a_mail_file_store_works_too(tmp_path: Path) -> None:
    from mailcatcher.store import FileStore

    FileStore(tmp_path / "latest.mail").add(mail("the only one"))
    async with client(tmp_path / "latest.mail") as api:
        data = await (await api.get("/api/v1/messages")).json()
        assert [m["Subject"] for m in data["messages"]] == ["the only one"]
        message = await (await api.get("/api/v1/message/latest")).json()
        assert message["Subject"] == "the only one"
        assert (await api.delete("/api/v1/messages")).status == 200
    assert not (tmp_path / "latest.mail").exists()


# RFC 2047 5 allows no encoded word in Content-Type. The parser's policy decodes it and
# splits the parts anyway; `mailcatcher.message` reads the raw type, sees no multipart
# and finds one file, which `mailcatcher show` and the store's count go by.
ENCODED_TYPE = (
    b"Subject: encoded type\nContent-Type: =?utf-8?q?multipart/mixed?=; boundary=b\n\n"
    b"--b\nContent-Type: text/plain\n\nhi\n"
    b"--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\n\n"
    b"PDF\n--b--\n"
)


@async_test
async def test_the_api_lists_the_same_files_as_the_message_helpers(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    add(maildir)  # creates the Maildir
    (maildir / "new" / "1700000000.M1P1Q1.elsewhere").write_bytes(ENCODED_TYPE)
    expected = message_helpers.attachments(parse_message(ENCODED_TYPE))
    async with client(maildir) as api:
        [summary] = (await (await api.get("/api/v1/messages")).json())["messages"]
        message = await (await api.get(f"/api/v1/message/{summary['ID']}")).json()
        files = message["Attachments"] + message["Inline"]
        downloads = [
            await (await api.get(f"/api/v1/message/{summary['ID']}/part/{f['PartID']}")).read()
            for f in files
        ]
    assert [(f["FileName"], f["ContentType"]) for f in files] == [
        (a.filename or "", a.content_type) for a in expected
    ]
    assert downloads == [a.data for a in expected]
    assert summary["Attachments"] == len(expected) == 1


MALFORMED = [
    b"",
    b"no headers at all, just text\n",
    b'Subject: =?utf-8?b?broken base64?=\nFrom: ,,,<<>>@@\nTo: "unterminated\nDate: yesterday\n\n'
    b"body\n",
    b"Subject: 8-bit \xff\xfe header\nContent-Type: text/plain; charset=x-unknown\n\n\xff\xfe\n",
    b"Subject: bad parts\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
    b'Content-Type: application/pdf; name="\xff\xfe.pdf"\n'
    b'Content-Disposition: attachment; filename="\xc3\xa9t\xe9.pdf"\n'
    b"Content-Transfer-Encoding: base64\n\n!!!not base64!!!\n"
    b"--b\nContent-Type: text/html\n\n<p>unclosed <b>html\n",
    b"Subject: deep\nContent-Type: multipart/mixed; boundary=x\n\n"
    + b"--x\nContent-Type: multipart/mixed; boundary=x\n\n" * 200,
    b'Subject: odd type\nContent-Type: image/png"; name=a\nContent-ID: <a@b>\n'
    b"Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n",
]


# Files with no header line are skipped by the store with this warning (its own test).
@pytest.mark.filterwarnings("ignore:skipping unreadable message:UserWarning")
@async_test
async def test_malformed_mail_never_breaks_an_endpoint(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    add(maildir)  # creates the Maildir
    for number, data in enumerate(MALFORMED):
        # Delivered by another program: files without index rows, parsed on demand.
        (maildir / "new" / f"17000000{number:02d}.M1P1Q{number}.elsewhere").write_bytes(data)
    async with client(maildir) as api:
        listed = await (await api.get("/api/v1/messages")).json()
        ids = [message["ID"] for message in listed["messages"]]
        assert len(ids) == len(MALFORMED) - 2  # a file without headers is no message
        for id in ids:
            message_response = await api.get(f"/api/v1/message/{id}")
            assert message_response.status == 200, id
            message = await message_response.json()
            paths = [f"/api/v1/message/{id}/{suffix}" for suffix in ("headers", "raw", "links")]
            paths += [f"/view/{id}.txt", f"/view/{id}.html"]
            paths += [
                f"/api/v1/message/{id}/part/{part['PartID']}"
                for part in (message["Attachments"] + message["Inline"])[:5]
            ]
            for path in paths:
                response = await api.get(path)
                assert response.status in (200, 404), (path, response.status)
                await response.read()
        for query in ("body", "to:x", "cc:x", "addressed:x", "message-id:x"):
            response = await api.get("/api/v1/search", params={"query": query})
            assert response.status == 200, query


@async_test
async def test_envelope_only_recipients_are_in_bcc_as_mailpit_adds_them(tmp_path: Path) -> None:
    """A blind copy is an RCPT TO no header names; Mailpit lists it in Bcc, and so do we."""
    message = mail(
        "blind",
        to=["Eva <eva@example.com>"],
        envelope_to=[
            "EVA@example.com",
            "carl@example.org",
            "hidden@example.net",
            "old@x.net",
        ],
        headers={"Cc": "carl@example.org", "Bcc": "Old <OLD@x.net>"},
    )
    [entry] = add(tmp_path / "mail", message)
    async with client(tmp_path / "mail") as api:
        listed = (await (await api.get("/api/v1/messages")).json())["messages"][0]
        opened = await (await api.get(f"/api/v1/message/{entry.id}")).json()
    expected = [
        {"Name": "Old", "Address": "OLD@x.net"},  # the header's own Bcc first
        {"Name": "", "Address": "hidden@example.net"},  # then what only the envelope knew
    ]
    assert listed["Bcc"] == expected
    assert opened["Bcc"] == expected
    assert opened["To"] == [{"Name": "Eva", "Address": "eva@example.com"}]


@async_test
async def test_the_envelope_route_gives_mail_from_every_rcpt_to_and_the_login(
    tmp_path: Path,
) -> None:
    message = mail(
        "with login",
        envelope_to=["eva@example.com", "hidden@example.net"],
        headers={"X-Mailcatcher-Auth-User": "eva-login"},
    )
    [entry] = add(tmp_path / "mail", message)
    async with client(tmp_path / "mail") as api:
        envelope = await (await api.get(f"/api/v1/message/{entry.id}/envelope")).json()
        latest = await (await api.get("/api/v1/message/latest/envelope")).json()
        missing = await api.get("/api/v1/message/no-such-id/envelope")
    assert envelope == {
        "MailFrom": "app@example.com",
        "RcptTo": ["eva@example.com", "hidden@example.net"],
        "Username": "eva-login",
    }
    assert latest == envelope
    assert missing.status == 404


@async_test
async def test_info_counts_the_messages_accepted_since_the_server_started(
    tmp_path: Path,
) -> None:
    """Mailpit's RuntimeStats.SMTPAccepted(Size): mail stored during this run, even deleted."""
    path = tmp_path / "mail"
    add(path, mail("before the start"))
    async with client(path) as api:
        entries = add(path, mail("first"), mail("second"))
        first = await (await api.get("/api/v1/info")).json()
        await api.delete("/api/v1/messages", json={"IDs": [entries[0].id]})
        after_delete = await (await api.get("/api/v1/info")).json()
    sizes = sum(entry.size for entry in entries)
    assert (first["Messages"], first["RuntimeStats"]["SMTPAccepted"]) == (3, 2)
    assert first["RuntimeStats"]["SMTPAcceptedSize"] == sizes
    assert after_delete["Messages"] == 2
    assert after_delete["RuntimeStats"]["SMTPAccepted"] == 2  # accepted, then deleted
    assert after_delete["RuntimeStats"]["SMTPAcceptedSize"] == sizes
    assert after_delete["RuntimeStats"]["MessagesDeleted"] == 1
