"""MailHog's API (issue 13, items 3 and 4), through aiohttp's test client.

The expected JSON is written out by hand from MailHog's Go code, step by step, for the
same DATA: ``data.ContentFromString`` (headers up to the first CRLF CRLF, folded lines
joined without their CRLF), ``ParseMIMEBody`` (the body split at ``--boundary``, every
non-empty piece trimmed of CR and LF is a part), ``PathFromString``, and the v2 result
(``total``, ``count``, ``start``, ``items``). Where we differ on purpose, the test says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from mailcatcher.store import MAX_NESTING, Entry, MaildirStore, parse_received
from mailcatcher.web import mailhog, openapi
from tests.web.support import async_test, client
from tests.web.test_malformed import MALFORMED
from tests.web.test_openapi import conforms

BASES = ["", mailhog.BASE]


def store_data(
    path: Path,
    data: bytes,
    *,
    sender: str = "app@example.com",
    recipients: tuple[str, ...] = ("eva@example.com",),
    auth_user: str | None = None,
) -> Entry:
    """Store DATA as the catcher does: parsed, the envelope headers appended, written."""
    message = parse_received(data)
    message["X-Peer"] = "('127.0.0.1', 40000)"
    message["X-MailFrom"] = sender
    message["X-RcptTo"] = ", ".join(recipients)
    if auth_user is not None:
        message["X-Mailcatcher-Auth-User"] = auth_user
    with MaildirStore(path, create=True) as store:
        entry = store.add(message)
    assert entry is not None
    return entry


#: A multipart/alternative as Thunderbird and PHPMailer write it: with a preamble.
ALTERNATIVE = (
    b"From: App <app@example.com>\r\n"
    b"To: Eva <eva@example.com>\r\n"
    b"Subject: Hello\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b1"\r\n'
    b"\r\n"
    b"This is a multi-part message in MIME format.\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Hello Eva, gr=C3=BC=C3=9Fe\r\n"
    b"--b1\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Hello Eva</p>\r\n"
    b"--b1--\r\n"
)


def mailhog_wrote_for_alternative() -> dict[str, Any]:
    """What MailHog writes for `ALTERNATIVE` from app@ to eva@ and bob@ (Bcc), by hand."""
    body = ALTERNATIVE.split(b"\r\n\r\n", 1)[1].decode()
    plain = (
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Hello Eva, gr=C3=BC=C3=9Fe"
    )
    html = "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello Eva</p>"
    preamble = "This is a multi-part message in MIME format."
    return {
        "From": {"Relays": None, "Mailbox": "app", "Domain": "example.com", "Params": ""},
        "To": [
            {"Relays": None, "Mailbox": "eva", "Domain": "example.com", "Params": ""},
            {"Relays": None, "Mailbox": "bob", "Domain": "example.com", "Params": ""},
        ],
        "Content": {
            # Go's encoding/json writes a map with its keys sorted.
            "Headers": {
                "Content-Type": ['multipart/alternative; boundary="b1"'],
                "From": ["App <app@example.com>"],
                "MIME-Version": ["1.0"],
                "Subject": ["Hello"],
                "To": ["Eva <eva@example.com>"],
            },
            "Body": body,
            "Size": len(ALTERNATIVE),
            "MIME": None,
        },
        "MIME": {
            "Parts": [
                {"Headers": {}, "Body": preamble, "Size": len(preamble), "MIME": None},
                {
                    "Headers": {
                        "Content-Transfer-Encoding": ["quoted-printable"],
                        "Content-Type": ["text/plain; charset=utf-8"],
                    },
                    "Body": "Hello Eva, gr=C3=BC=C3=9Fe",
                    "Size": len(plain),
                    "MIME": None,
                },
                {
                    "Headers": {"Content-Type": ["text/html; charset=utf-8"]},
                    "Body": "<p>Hello Eva</p>",
                    "Size": len(html),
                    "MIME": None,
                },
                # "--b1--\r\n" split at "--b1" leaves "--\r\n": MailHog's last part.
                {"Headers": {}, "Body": "--", "Size": 2, "MIME": None},
            ]
        },
        "Raw": {
            "From": "app@example.com",
            "To": ["eva@example.com", "bob@example.com"],
            "Data": ALTERNATIVE.decode(),
            "Helo": "",
        },
    }


@async_test
async def test_a_message_is_what_mailhogs_go_code_writes(tmp_path: Path) -> None:
    entry = store_data(
        tmp_path / "mail", ALTERNATIVE, recipients=("eva@example.com", "bob@example.com")
    )
    async with client(tmp_path / "mail") as api:
        response = await api.get(f"/api/v1/messages/{entry.id}")
        assert response.status == 200
        got = await response.json()
    assert list(got) == ["ID", "From", "To", "Content", "Created", "MIME", "Raw"]
    assert got["ID"] == entry.id
    assert got["Created"].endswith("Z")
    del got["ID"], got["Created"]
    assert got == mailhog_wrote_for_alternative()


@async_test
async def test_headers_keep_their_case_every_value_and_mailhogs_unfolding(tmp_path: Path) -> None:
    data = (
        b"SUBJECT: shouted\r\n"
        b"Received: from a\r\n"
        b"Received: from b\r\n"
        b"X-Long: first\r\n"
        b"\tsecond\r\n"
        b"X-Tight:no space\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"\r\n"
        b"caf=C3=A9 =\r\n"
        b"soft break\r\n"
    )
    entry = store_data(tmp_path / "mail", data, auth_user="app42")
    async with client(tmp_path / "mail") as api:
        got = await (await api.get(f"/api/v1/messages/{entry.id}")).json()
    headers = got["Content"]["Headers"]
    assert headers["SUBJECT"] == ["shouted"]
    assert "Subject" not in headers
    # MailHog keeps only the last value of a repeated field (a TODO in its code): all here.
    assert headers["Received"] == ["from a", "from b"]
    # MailHog joins a folded line to the one above without its CRLF, whitespace kept.
    assert headers["X-Long"] == ["first\tsecond"]
    assert headers["X-Tight"] == ["no space"]
    # The body is still transfer-encoded, CRLF line endings and soft breaks included.
    assert got["Content"]["Body"] == "caf=C3=A9 =\r\nsoft break\r\n"
    assert got["MIME"] is None
    # The envelope headers the catcher wrote are the server's: in From/To/Raw, not here.
    for name in ("X-Peer", "X-MailFrom", "X-RcptTo", "X-Mailcatcher-Auth-User"):
        assert name not in headers
        assert name not in got["Raw"]["Data"]
    # The store writes a field back as "Name: value" (the one byte it does not keep).
    stored = data.replace(b"X-Tight:no", b"X-Tight: no")
    assert got["Raw"]["Data"] == stored.decode()
    assert got["Content"]["Size"] == len(stored)


@async_test
async def test_nested_multiparts_are_cut_in_turn(tmp_path: Path) -> None:
    data = (
        b"Subject: nested\r\n"
        b"Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
        b"--outer\r\n"
        b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
        b"--inner\r\nContent-Type: text/plain\r\n\r\ntext\r\n"
        b"--inner--\r\n"
        b"--outer\r\n"
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n'
        b"--outer--\r\n"
    )
    entry = store_data(tmp_path / "mail", data)
    async with client(tmp_path / "mail") as api:
        got = await (await api.get(f"/api/v1/messages/{entry.id}")).json()
    outer = got["MIME"]["Parts"]
    assert [part["Body"] for part in outer][1:] == ["JVBERi0=", "--"]
    inner = outer[0]["MIME"]["Parts"]
    assert [part["Body"] for part in inner] == ["text", "--"]
    assert inner[0]["Headers"] == {"Content-Type": ["text/plain"]}
    assert outer[1]["MIME"] is None
    assert outer[1]["Headers"]["Content-Disposition"] == ['attachment; filename="a.pdf"']


@pytest.mark.parametrize(
    ("address", "relays", "mailbox", "domain"),
    [
        ("eva@example.com", None, "eva", "example.com"),
        ("", None, "", ""),  # the null reverse-path of a bounce (RFC 5321 4.5.5)
        ("postmaster", None, "postmaster", ""),
        (
            "@a.example,@b.example:eva@example.com",
            ["@a.example", "@b.example"],
            "eva",
            "example.com",
        ),
        ('"a@b"@example.com', None, '"a@b"', "example.com"),
    ],
)
def test_an_envelope_address_splits_as_mailhog_splits_it(
    address: str, relays: list[str] | None, mailbox: str, domain: str
) -> None:
    assert mailhog.path(address) == {
        "Relays": relays,
        "Mailbox": mailbox,
        "Domain": domain,
        "Params": "",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", (0, 50)),
        ("start=2&limit=3", (2, 3)),
        ("limit=0", (0, 50)),  # MailHog: not positive means the default
        ("start=-4&limit=-1", (0, 50)),
        ("start=x&limit=1.5", (0, 50)),
        ("limit=100000", (0, 250)),  # MailHog caps it at 250
    ],
)
def test_start_and_limit_are_read_as_mailhog_reads_them(
    query: str, expected: tuple[int, int]
) -> None:
    request = make_mocked_request("GET", f"/api/v2/messages?{query}")
    assert mailhog.start_limit(request) == expected


def simple(subject: str, *, body: str = "hello", to: str = "eva@example.com") -> bytes:
    return (
        f"From: App <app@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    ).encode()


@pytest.mark.parametrize("base", BASES)
@async_test
async def test_v2_messages_pages_newest_first(tmp_path: Path, base: str) -> None:
    for number in range(5):
        store_data(tmp_path / "mail", simple(f"m{number}"))
    async with client(tmp_path / "mail") as api:
        response = await api.get(f"{base}/api/v2/messages", params={"start": "1", "limit": "2"})
        assert response.status == 200
        got = await response.json()
    assert list(got) == ["total", "count", "start", "items"]
    assert (got["total"], got["count"], got["start"]) == (5, 2, 1)
    subjects = [item["Content"]["Headers"]["Subject"] for item in got["items"]]
    assert subjects == [["m3"], ["m2"]]


@async_test
async def test_a_page_stops_at_its_byte_budget_but_holds_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(4):
        store_data(tmp_path / "mail", simple(f"m{number}", body="x" * 1000))
    monkeypatch.setattr(mailhog, "PAGE_BYTES", 2500)
    async with client(tmp_path / "mail") as api:
        got = await (await api.get("/api/v2/messages")).json()
        assert (got["total"], got["count"]) == (4, 2)
        monkeypatch.setattr(mailhog, "PAGE_BYTES", 10)
        got = await (await api.get("/api/v2/messages", params={"start": "3"})).json()
        assert (got["count"], got["items"][0]["Content"]["Headers"]["Subject"]) == (1, ["m0"])


@pytest.mark.parametrize("base", BASES)
@async_test
async def test_search_each_kind(tmp_path: Path, base: str) -> None:
    path = tmp_path / "mail"
    welcome = store_data(
        path,
        simple("Welcome", body="Your code is 4711", to="Eva <eva@example.com>"),
        sender="noreply@shop.example",
        recipients=("eva@example.com", "hidden@example.com"),
    )
    encoded = store_data(
        path,
        b"From: Billing <billing@shop.example>\r\nTo: bob@example.com\r\nSubject: Invoice\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"R3LDvMOfZSwgaW52b2ljZSBudW1iZXIgOTk=\r\n",  # "Grüße, invoice number 99"
        sender="billing@shop.example",
        recipients=("bob@example.com",),
    )

    async with client(path) as api:

        async def found(kind: str, query: str) -> list[str]:
            response = await api.get(f"{base}/api/v2/search", params={"kind": kind, "query": query})
            assert response.status == 200, await response.text()
            got = await response.json()
            assert got["total"] == got["count"] == len(got["items"])
            return [item["ID"] for item in got["items"]]

        assert await found("from", "NOREPLY@shop") == [welcome.id]
        assert await found("from", "Billing <") == [encoded.id]  # the From header
        assert await found("from", "shop.example") == [encoded.id, welcome.id]
        assert await found("to", "hidden@") == [welcome.id]  # a Bcc: the envelope knows
        assert await found("to", "Eva <eva") == [welcome.id]
        assert await found("to", "nobody") == []
        assert await found("containing", "code is 4711") == [welcome.id]
        # The decoded body (MailHog searches the encoded one and misses this).
        assert await found("containing", "GRÜSSE") == [encoded.id]
        assert await found("containing", "invoice") == [encoded.id]
        # The PyPI client's README writes the kind capitalised; MailHog answers 400.
        assert await found("To", "bob@") == [encoded.id]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"kind": "subject", "query": "x"}, "kind must be from, to or containing, not 'subject'"),
        ({"query": "x"}, "kind must be from, to or containing, not ''"),
        ({"kind": "to"}, "query is empty: give the text to search for"),
    ],
)
@async_test
async def test_a_search_mailhog_refuses_is_a_400_with_a_json_reason(
    tmp_path: Path, params: dict[str, str], reason: str
) -> None:
    async with client(tmp_path / "mail") as api:
        response = await api.get("/api/v2/search", params=params)
        assert response.status == 400
        assert await response.json() == {"error": reason}


@pytest.mark.parametrize("base", BASES)
@async_test
async def test_get_download_delete_one_and_release(tmp_path: Path, base: str) -> None:
    path = tmp_path / "mail"
    keep = store_data(path, simple("keep"))
    gone = store_data(path, ALTERNATIVE)
    async with client(path) as api:
        one = await api.get(f"{base}/api/v1/messages/{gone.id}")
        assert one.status == 200

        download = await api.get(f"{base}/api/v1/messages/{gone.id}/download")
        assert download.status == 200
        assert download.headers["Content-Type"] == "message/rfc822"
        disposition = download.headers["Content-Disposition"]
        assert disposition.startswith(f'attachment; filename="{gone.id}.eml"')
        assert await download.read() == ALTERNATIVE

        release = await api.post(f"{base}/api/v1/messages/{gone.id}/release", json={})
        assert release.status == 501
        assert await release.json() == {"error": mailhog.RELEASE_REFUSED}

        deleted = await api.delete(f"{base}/api/v1/messages/{gone.id}")
        assert (deleted.status, await deleted.read()) == (200, b"")
        for url in (f"/api/v1/messages/{gone.id}", f"/api/v1/messages/{gone.id}/download"):
            missing = await api.get(f"{base}{url}")
            assert missing.status == 404
            assert await missing.json() == {"error": "message not found"}
        again = await api.delete(f"{base}/api/v1/messages/{gone.id}")
        assert again.status == 404
        left = await (await api.get(f"{base}/api/v2/messages")).json()
    assert [item["ID"] for item in left["items"]] == [keep.id]


@async_test
async def test_get_api_v1_messages_is_mailpits_at_the_root_and_mailhogs_under_its_base(
    tmp_path: Path,
) -> None:
    entry = store_data(tmp_path / "mail", simple("both"))
    async with client(tmp_path / "mail") as api:
        mailpit = await (await api.get("/api/v1/messages")).json()
        hog = await (await api.get(f"{mailhog.BASE}/api/v1/messages")).json()
        one = await (await api.get(f"/api/v1/messages/{entry.id}")).json()
    assert mailpit["messages"][0]["ID"] == entry.id
    assert isinstance(hog, list)
    assert hog == [one]


# --- DELETE /api/v1/messages: both APIs, nothing more deleted than asked ---------------


async def remaining(api: Any, base: str = "") -> list[str]:
    got = await (await api.get(f"{base}/api/v2/messages")).json()
    return [item["Content"]["Headers"]["Subject"][0] for item in got["items"]]


@pytest.mark.parametrize("base", BASES)
@async_test
async def test_delete_without_a_body_is_mailhogs_delete_all_with_an_empty_answer(
    tmp_path: Path, base: str
) -> None:
    for subject in ("a", "b"):
        store_data(tmp_path / "mail", simple(subject))
    async with client(tmp_path / "mail") as api:
        response = await api.delete(f"{base}/api/v1/messages")
        # An empty body: MailHog's clients parse any other body as JSON ("ok" is not).
        assert (response.status, await response.read()) == (200, b"")
        assert await remaining(api) == []


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize(
    ("body", "status", "left"),
    [
        (json.dumps({"IDs": ["<a>"]}), 200, ["b"]),
        (json.dumps({"ids": ["<a>", "<b>"]}), 200, []),  # Go matches field names so
        (json.dumps({"IDs": ["no-such-id"]}), 200, ["b", "a"]),
        # Mailpit deletes everything for these; a client asking for none gets none.
        (json.dumps({"IDs": []}), 200, ["b", "a"]),
        ("not json", 400, ["b", "a"]),
        ('{"IDs": ["<a>"]', 400, ["b", "a"]),  # cut short
        ("[]", 400, ["b", "a"]),
        ('"IDs"', 400, ["b", "a"]),
        (json.dumps({"IDs": [1, 2]}), 400, ["b", "a"]),
        (json.dumps({"IDs": "<a>"}), 400, ["b", "a"]),
        (json.dumps({"ID": ["<a>"]}), 400, ["b", "a"]),  # misspelt: not "everything"
        (json.dumps({"IDs": ["<a>"], "Search": "x"}), 400, ["b", "a"]),
        # Mailpit's delete-all: a JSON object without IDs.
        ("{}", 200, []),
        (json.dumps({"IDs": None}), 200, []),
    ],
)
@async_test
async def test_delete_with_a_json_body_deletes_exactly_what_it_names(
    tmp_path: Path, base: str, body: str, status: int, left: list[str]
) -> None:
    ids = {subject: store_data(tmp_path / "mail", simple(subject)).id for subject in ("a", "b")}
    for subject, id in ids.items():
        body = body.replace(f"<{subject}>", id)
    async with client(tmp_path / "mail") as api:
        response = await api.delete(
            f"{base}/api/v1/messages", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status == status, await response.text()
        if status == 200:
            assert await response.text() == "ok"  # Mailpit's answer to its clients
        assert await remaining(api) == left


# --- every stored message converts -------------------------------------------------------


def deep(levels: int) -> bytes:
    """A multipart nested `levels` deep, each level with its own boundary (none a prefix
    of another: MailHog splits at the text, so --b1 would also split --b10)."""
    head = b"Subject: deep\r\n"
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%03d\r\n\r\n--b%03d\r\n" % (n, n)
        for n in range(levels)
    )
    closing = b"".join(b"\r\n--b%03d--\r\n" % n for n in reversed(range(levels)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nbody malformedword" + closing


HOSTILE: dict[str, bytes] = {
    **MALFORMED,
    "no-blank-line": b"Subject: no blank line\r\nbody malformedword right after it\r\n",
    "headers-only": b"Subject: malformedword\r\n",
    "deep-nesting": deep(200),
    "many-boundaries": (
        b"Subject: many\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
        + b"--x\r\n" * 5000
        + b"malformedword\r\n"
    ),
    "boundary-rfc2231-broken": (
        b"Subject: broken boundary\r\nContent-Type: multipart/mixed; boundary*=''%\r\n\r\n"
        b"--%\r\n\r\nbody malformedword\r\n"
    ),
    "nul-and-8bit-body": b"Subject: binary\r\n\r\nbody malformedword \x00\xff\xfe\r\n",
    "encoded-word-bad-charset": (
        b"Subject: =?x-nonsense?q?malformedword?=\r\nFrom: =?utf-8?q?=FF?= <a@b>\r\n\r\nbody\r\n"
    ),
}


def schema(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    schemas = openapi.document()["components"]["schemas"]
    return {"$ref": f"#/components/schemas/{name}"}, schemas


@pytest.mark.parametrize("name", list(HOSTILE))
@async_test
async def test_every_stored_message_converts_and_is_found(tmp_path: Path, name: str) -> None:
    entry = store_data(tmp_path / "mail", HOSTILE[name])
    page_schema, schemas = schema("MailHogMessages")
    message_schema, _ = schema("MailHogMessage")
    async with client(tmp_path / "mail") as api:
        for base in BASES:
            listing = await api.get(f"{base}/api/v2/messages")
            assert listing.status == 200, await listing.text()
            page = await listing.json()
            conforms(page, page_schema, schemas, name)
            assert [item["ID"] for item in page["items"]] == [entry.id]
            for kind in ("from", "to", "containing"):
                query = {"from": "app@", "to": "eva@", "containing": "malformedword"}[kind]
                search = await api.get(
                    f"{base}/api/v2/search", params={"kind": kind, "query": query}
                )
                assert search.status == 200, await search.text()
                found = [item["ID"] for item in (await search.json())["items"]]
                assert found == [entry.id], kind
            one = await api.get(f"{base}/api/v1/messages/{entry.id}")
            assert one.status == 200
            conforms(await one.json(), message_schema, schemas, name)
            assert (await api.get(f"{base}/api/v1/messages/{entry.id}/download")).status == 200


def depth(content: Mapping[str, Any]) -> int:
    mime = content["MIME"]
    return 1 + max((depth(part) for part in mime["Parts"]), default=0) if mime else 0


def count_parts(content: Mapping[str, Any]) -> int:
    mime = content["MIME"]
    return sum(1 + count_parts(part) for part in mime["Parts"]) if mime else 0


ENTRY = Entry("id", Path("id"), 0.0, "a@b", ("c@d",), "", "", "", 0, 0, None)


def text_in_parts(content: Mapping[str, Any]) -> int:
    mime = content["MIME"]
    return sum(part["Size"] + text_in_parts(part) for part in mime["Parts"]) if mime else 0


def test_cutting_stops_at_max_nesting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailhog, "PARTS_FACTOR", 10_000)  # only the nesting limits it
    assert depth(mailhog.message(ENTRY, deep(MAX_NESTING - 1))) == MAX_NESTING - 1
    assert depth(mailhog.message(ENTRY, deep(200))) == MAX_NESTING


def test_cutting_stops_at_max_parts() -> None:
    assert count_parts(mailhog.message(ENTRY, HOSTILE["many-boundaries"])) == mailhog.MAX_PARTS


def test_the_text_in_parts_stays_within_its_budget() -> None:
    """Each level of a deep multipart holds the levels below it: 200 levels, 200 copies."""
    converted = mailhog.message(ENTRY, deep(200))
    body = len(converted["Content"]["Body"])
    assert 0 < depth(converted) < MAX_NESTING
    assert text_in_parts(converted) <= mailhog.PARTS_FACTOR * body + mailhog.PARTS_SLACK
    # Ordinary mail is far inside it: every part of ALTERNATIVE is there.
    assert count_parts(mailhog.message(ENTRY, ALTERNATIVE)) == 4


def test_undecodable_bytes_read_as_replacement_characters_and_size_counts_bytes() -> None:
    data = b"Subject: Gr\xfc\xdfe \xc3\xa9\r\n\r\nbody \xff\r\n"
    converted = mailhog.message(ENTRY, data)
    assert converted["Content"]["Headers"]["Subject"] == ["Gr\ufffd\ufffde é"]
    assert converted["Content"]["Body"] == "body \ufffd\r\n"
    assert converted["Content"]["Size"] == len(data)


def test_a_field_without_a_space_after_its_colon_is_read() -> None:
    """MailHog splits at ": " and drops such a line; RFC 5322 2.2 needs no space."""
    made, _, body = mailhog.content("X-Tight:no space\r\nBad line\r\nA:  two\r\n\r\nbody")
    assert made["Headers"] == {"A": [" two"], "X-Tight": ["no space"]}
    assert body == "body"
