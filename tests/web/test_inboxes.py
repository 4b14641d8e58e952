"""Inboxes over HTTP: ``/inbox/NAME/`` serves inbox NAME alone, on every route; the list."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from yarl import URL

from mailcatcher.store import AUTH_USER_HEADER
from mailcatcher.web import inbox as inbox_module
from mailcatcher.web.api import INBOX
from mailcatcher.web.inboxes import inbox_path
from tests.web.support import add, async_test, client, mail

#: Names a client may log in with: a slash, dots alone, markup, spaces, non-ASCII, '%'.
ODD_NAMES = ["a/b", "..", ".", "<b>x</b>", "é and space", "100%", "default"]


def sent_by(login: str | None, subject: str) -> EmailMessage:
    """A message as the catcher stores one sent with AUTH login `login` (None: no login)."""
    headers = {} if login is None else {AUTH_USER_HEADER: login}
    return mail(subject, headers=headers, files=[("a.txt", "text/plain", b"file")])


def base(name: str) -> str:
    return inbox_path(name)


@async_test
async def test_each_inbox_url_lists_searches_and_reads_its_own_mail_only(tmp_path: Path) -> None:
    entries = add(
        tmp_path / "mail",
        sent_by("app1", "for app1"),
        sent_by("app2", "for app2"),
        sent_by(None, "no login"),
    )
    ids = {entry.inbox: entry.id for entry in entries}
    async with client(tmp_path / "mail") as api:
        everything = await (await api.get("/api/v1/messages")).json()
        assert everything["total"] == 3
        for name, subject in [("app1", "for app1"), ("app2", "for app2"), ("default", "no login")]:
            listed = await (await api.get(base(name) + "api/v1/messages")).json()
            assert [m["Subject"] for m in listed["messages"]] == [subject]
            assert listed["total"] == 1
            found = await (await api.get(base(name) + "api/v1/search?query=for")).json()
            assert [m["Subject"] for m in found["messages"]] == (
                [subject] if "for" in subject else []
            )
            info = await (await api.get(base(name) + "api/v1/info")).json()
            assert info["Messages"] == 1
            own = ids[name]
            message = await api.get(f"{base(name)}api/v1/message/{own}")
            assert (await message.json())["Subject"] == subject
            latest = await (await api.get(base(name) + "api/v1/message/latest")).json()
            assert latest["ID"] == own
            for other in set(ids.values()) - {own}:
                for suffix in ("", "/raw", "/headers", "/envelope", "/links", "/part/2", "/check"):
                    response = await api.get(f"{base(name)}api/v1/message/{other}{suffix}")
                    assert response.status == 404, (name, suffix)
                for view in (".html", ".txt"):
                    response = await api.get(f"{base(name)}view/{other}{view}")
                    assert response.status == 404, (name, view)
            part = await api.get(f"{base(name)}api/v1/message/{own}/part/2")
            assert await part.read() == b"file"
        # An inbox nobody sent to is empty, not an error.
        empty = await (await api.get(base("nobody") + "api/v1/messages")).json()
        assert (empty["total"], empty["messages"]) == (0, [])


@async_test
async def test_delete_all_under_an_inbox_deletes_that_inbox_only(tmp_path: Path) -> None:
    entries = add(
        tmp_path / "mail",
        sent_by("app1", "one"),
        sent_by("app1", "two"),
        sent_by("app2", "three"),
    )
    async with client(tmp_path / "mail") as api:
        # Another inbox's ID is ignored, as an unknown ID is.
        response = await api.delete(base("app1") + "api/v1/messages", json={"IDs": [entries[2].id]})
        assert response.status == 200
        assert (await (await api.get("/api/v1/messages")).json())["total"] == 3
        response = await api.delete(base("app1") + "api/v1/messages")
        assert response.status == 200
        assert await response.text() == ""  # no body: MailHog's delete-all answer too
        left = await (await api.get("/api/v1/messages")).json()
        assert [m["Subject"] for m in left["messages"]] == ["three"]
        response = await api.delete(base("app2") + "api/v1/search?query=three")
        assert response.status == 200
        assert (await (await api.get("/api/v1/messages")).json())["total"] == 0


@async_test
async def test_odd_names_are_inboxes_too_encoded_in_urls_and_json(tmp_path: Path) -> None:
    add(tmp_path / "mail", *[sent_by(name, f"for {name}") for name in ODD_NAMES])
    async with client(tmp_path / "mail") as api:
        listed = await (await api.get("/api/v1/inboxes")).json()
        assert [item["Name"] for item in listed] == sorted(ODD_NAMES)
        for item in listed:
            assert item["Messages"] == 1
            assert item["URL"] == inbox_path(item["Name"])
            assert "/" not in item["URL"][len("/inbox/") : -1]  # one path segment
            response = await api.get(URL(item["URL"] + "api/v1/messages", encoded=True))
            subjects = [m["Subject"] for m in (await response.json())["messages"]]
            assert subjects == [f"for {item['Name']}"], item
        assert inbox_path("..") == "/inbox/%2E%2E/"
        assert inbox_path("a/b") == "/inbox/a%2Fb/"
        # Under an inbox, the list is still the server's (the page's switcher asks there).
        again = await (await api.get(base("a/b") + "api/v1/inboxes")).json()
        assert again == listed


@async_test
async def test_the_inbox_url_without_its_slash_redirects_to_it(tmp_path: Path) -> None:
    async with client(tmp_path / "mail") as api:
        name = quote("a/b", safe="")
        response = await api.get(URL(f"/inbox/{name}?x=1", encoded=True), allow_redirects=False)
        assert response.status == 308
        assert response.headers["Location"] == f"/inbox/{name}/?x=1"
        page = await api.get(URL(f"/inbox/{name}/", encoded=True))
        assert page.status == 200
        assert "text/html" in page.headers["Content-Type"]


@async_test
async def test_a_wait_under_an_inbox_returns_only_that_inboxs_mail(tmp_path: Path) -> None:
    path = tmp_path / "mail"
    add(path, sent_by("app2", "not yours"))
    async with client(path) as api:
        # Mail for another inbox does not end a wait: it times out listing this inbox only.
        response = await api.get(base("app1") + "api/v1/wait?timeout=0.5")
        assert response.status == 504
        assert (await response.json())["Total"] == 0
        waiting = asyncio.ensure_future(api.get(base("app1") + "api/v1/wait?timeout=60"))
        await asyncio.sleep(0.3)
        add(path, sent_by("app2", "still not yours"))
        await asyncio.sleep(0.5)  # the watcher sees it (and wakes the wait) meanwhile
        add(path, sent_by("app1", "yours"))
        response = await waiting
        assert response.status == 200
        assert (await response.json())["Subject"] == "yours"


@async_test
async def test_per_inbox_objects_are_bounded_however_many_names_are_asked_for(
    tmp_path: Path,
) -> None:
    async with client(tmp_path / "mail") as api:
        for number in range(inbox_module.MAX_INBOXES + 40):
            response = await api.get(f"/inbox/n{number}/api/v1/info")
            assert response.status == 200
        assert api.app is not None
        root = api.app[INBOX]
        kept = root._shared.inboxes
        assert len(kept) == inbox_module.MAX_INBOXES
        assert f"n{inbox_module.MAX_INBOXES + 39}" in kept  # the newest stay
        assert "n0" not in kept


@async_test
async def test_mailhogs_api_is_served_per_inbox_too(tmp_path: Path) -> None:
    entries = add(tmp_path / "mail", sent_by("app1", "for app1"), sent_by("app2", "for app2"))
    ids = {entry.inbox: entry.id for entry in entries}
    async with client(tmp_path / "mail") as api:
        listed = await (await api.get(base("app1") + "api/v2/messages")).json()
        assert (listed["total"], [m["ID"] for m in listed["items"]]) == (1, [ids["app1"]])
        found = await api.get(base("app1") + "api/v2/search?kind=containing&query=for")
        assert [m["ID"] for m in (await found.json())["items"]] == [ids["app1"]]
        other = await api.get(f"{base('app1')}api/v1/messages/{ids['app2']}")
        assert other.status == 404
        gone = await api.delete(f"{base('app1')}api/v1/messages/{ids['app2']}")
        assert gone.status == 404
        everything = await (await api.get("/api/v2/messages")).json()
        assert everything["total"] == 2
