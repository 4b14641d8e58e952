"""Mailpit's tags API: list, set, rename, delete; Tags in every answer; the tag: search."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from mailcatcher.store import AUTH_USER_HEADER, MaildirStore
from mailcatcher.web.inboxes import inbox_path
from tests.web.support import add, async_test, client, mail
from tests.web.test_live import next_event


async def put(api: Any, path: str, body: Any) -> tuple[int, str]:
    response = await api.put(path, json=body)
    return response.status, await response.text()


async def subjects(api: Any, query: str, base: str = "/") -> list[str]:
    response = await api.get(f"{base}api/v1/search", params={"query": query})
    assert response.status == 200, await response.text()
    return sorted(m["Subject"] for m in (await response.json())["messages"])


@async_test
async def test_tags_are_set_listed_searched_and_shown_in_every_answer(tmp_path: Path) -> None:
    one, two, three = add(tmp_path / "mail", mail("one"), mail("two"), mail("three"))
    async with client(tmp_path / "mail") as api:
        assert await (await api.get("/api/v1/tags")).json() == []
        body = {"IDs": [one.id, two.id], "Tags": ["Welcome", "two words", "welcome"]}
        assert await put(api, "/api/v1/tags", body) == (200, "ok")
        assert await (await api.get("/api/v1/tags")).json() == ["two words", "Welcome"]
        listed = await (await api.get("/api/v1/messages")).json()
        assert {m["Subject"]: m["Tags"] for m in listed["messages"]} == {
            "one": ["Welcome", "two words"],
            "two": ["Welcome", "two words"],
            "three": [],
        }
        assert listed["tags"] == ["two words", "Welcome"]
        message = await (await api.get(f"/api/v1/message/{one.id}")).json()
        assert message["Tags"] == ["Welcome", "two words"]
        info = await (await api.get("/api/v1/info")).json()
        assert info["Tags"] == {"two words": 2, "Welcome": 2}

        assert await subjects(api, "tag:welcome") == ["one", "two"]
        assert await subjects(api, 'tag:"two words"') == ["one", "two"]
        assert await subjects(api, "-tag:welcome") == ["three"]
        assert await subjects(api, "!tag:Welcome") == ["three"]
        assert await subjects(api, "is:tagged") == ["one", "two"]
        assert await subjects(api, "-is:tagged") == ["three"]
        assert await subjects(api, "tag:two") == []  # a tag is matched whole

        # An empty Tags list clears them.
        assert await put(api, "/api/v1/tags", {"IDs": [two.id], "Tags": []}) == (200, "ok")
        assert await subjects(api, "is:tagged") == ["one"]


@async_test
async def test_rename_and_delete_a_tag_as_mailpit_does(tmp_path: Path) -> None:
    one, two = add(tmp_path / "mail", mail("one"), mail("two"))
    async with client(tmp_path / "mail") as api:
        await put(api, "/api/v1/tags", {"IDs": [one.id, two.id], "Tags": ["old", "keep"]})
        assert await put(api, "/api/v1/tags/OLD", {"Name": "new one"}) == (200, "ok")
        assert await (await api.get("/api/v1/tags")).json() == ["keep", "new one"]
        assert await put(api, "/api/v1/tags/missing", {"Name": "x"}) == (
            400,
            "tag not found: missing",
        )
        assert await put(api, "/api/v1/tags/keep", {"Name": "New One"}) == (
            400,
            "tag already exists: New One",
        )
        assert await put(api, "/api/v1/tags/keep", {"Name": "!!!"}) == (
            400,
            "invalid tag name: !!!",
        )
        assert await put(api, f"/api/v1/tags/{quote('new one')}", {"Name": "New One"}) == (
            200,
            "ok",
        )
        response = await api.delete("/api/v1/tags/keep")
        assert (response.status, await response.text()) == (200, "ok")
        assert await (await api.get("/api/v1/tags")).json() == ["New One"]
        response = await api.delete("/api/v1/tags/keep")
        assert (response.status, await response.text()) == (400, "tag not found: keep")
        listed = await (await api.get("/api/v1/messages")).json()
        assert [m["Tags"] for m in listed["messages"]] == [["New One"], ["New One"]]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b"", b'{"IDs": "one", "Tags": []}', b'{"IDs": ["a"], "Tags": [1]}'],
)
@async_test
async def test_a_bad_body_is_a_400_with_one_line_and_changes_nothing(
    tmp_path: Path, body: bytes
) -> None:
    [one] = add(tmp_path / "mail", mail("one"))
    async with client(tmp_path / "mail") as api:
        await put(api, "/api/v1/tags", {"IDs": [one.id], "Tags": ["kept"]})
        for path in ("/api/v1/tags", "/api/v1/tags/kept"):
            response = await api.put(path, data=body)
            reason = await response.text()
            assert response.status == 400, (path, body)
            assert reason.startswith("Error: send {")
            assert "\n" not in reason
        assert await (await api.get("/api/v1/tags")).json() == ["kept"]


@async_test
async def test_a_single_mail_file_keeps_no_tags_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "latest.mail"
    path.write_bytes(mail("one").as_bytes())
    async with client(path) as api:
        [message] = (await (await api.get("/api/v1/messages")).json())["messages"]
        response = await api.put("/api/v1/tags", json={"IDs": [message["ID"]], "Tags": ["x"]})
        assert response.status == 501
        assert "keeps no tags" in await response.text()
        assert await (await api.get("/api/v1/tags")).json() == []


@async_test
async def test_tags_under_an_inbox_are_that_inboxs_only(tmp_path: Path) -> None:
    mine, theirs = add(
        tmp_path / "mail",
        mail("mine", headers={AUTH_USER_HEADER: "app1"}),
        mail("theirs", headers={AUTH_USER_HEADER: "app2"}),
    )
    app1, app2 = inbox_path("app1"), inbox_path("app2")
    async with client(tmp_path / "mail") as api:
        # Another inbox's ID is ignored under /inbox/app1/.
        body = {"IDs": [mine.id, theirs.id], "Tags": ["shared"]}
        assert await put(api, app1 + "api/v1/tags", body) == (200, "ok")
        assert await subjects(api, "tag:shared") == ["mine"]
        await put(api, "/api/v1/tags", {"IDs": [theirs.id], "Tags": ["shared"]})
        assert await (await api.get(app1 + "api/v1/tags")).json() == ["shared"]
        assert (await (await api.get(app2 + "api/v1/info")).json())["Tags"] == {"shared": 1}
        assert await put(api, app1 + "api/v1/tags/shared", {"Name": "renamed"}) == (200, "ok")
        assert (await api.delete(app2 + "api/v1/tags/renamed")).status == 400
        assert await subjects(api, "tag:renamed") == ["mine"]
        assert await subjects(api, "tag:shared") == ["theirs"]
        assert await subjects(api, "tag:shared", app1) == []


@async_test
async def test_setting_tags_wakes_the_event_stream(tmp_path: Path) -> None:
    [one] = add(tmp_path / "mail", mail("one"))
    async with client(tmp_path / "mail") as api:
        for base in ("/", inbox_path("default")):
            response = await api.get(base + "api/events")
            assert b"event: hello" in await next_event(response.content, 30)
            await asyncio.sleep(0.3)  # past the settle wake of the previous change
            await put(api, "/api/v1/tags", {"IDs": [one.id], "Tags": [f"t{len(base)}"]})
            event = await next_event(response.content, 30)
            response.close()
            assert event.startswith(b"event: change")


def test_tags_set_over_http_are_kept_in_the_store(tmp_path: Path) -> None:
    [one] = add(tmp_path / "mail", mail("one"))

    async def tag() -> None:
        async with client(tmp_path / "mail") as api:
            await put(api, "/api/v1/tags", {"IDs": [one.id], "Tags": ["kept"]})

    asyncio.run(tag())
    with MaildirStore(tmp_path / "mail") as store:
        assert [entry.tags for entry in store.entries()] == [("kept",)]
