"""Who may talk to the inbox: basic auth everywhere, no cross-origin changes, no rebinding."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from mailcatcher.web import create_app
from mailcatcher.web.guard import _is_loopback_name
from tests.web.support import add, async_test, client, mail

CREDENTIALS = ("eva", "s3cret:with colon")


def every_route(app: web.Application, id: str) -> list[tuple[str, str]]:
    """(method, path) for every route the app serves, placeholders filled in."""
    found = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical if route.resource is not None else ""
        path = path.replace("{ID}", id).replace("{PartID}", "2").replace("{path}", "")
        path = path.replace("{inbox}", "default").replace("{Tag}", "welcome")
        if path.startswith("/static"):
            path = "/static/app.js"
        found.append((route.method, path))
    return found


def auth_header(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@async_test
async def test_basic_auth_guards_every_endpoint_including_the_event_stream(tmp_path: Path) -> None:
    [entry] = add(
        tmp_path / "mail", mail(html="<p>hi</p>", files=[("a.txt", "text/plain", b"file")])
    )
    routes = every_route(create_app(tmp_path / "mail"), entry.id)
    assert ("GET", "/api/events") in routes
    assert ("DELETE", "/api/v1/messages") in routes
    assert len(routes) >= 20
    async with client(tmp_path / "mail", basic_auth=CREDENTIALS) as api:
        for method, path in routes:
            for headers in (
                {},
                auth_header("eva", "wrong"),
                auth_header("mallory", CREDENTIALS[1]),
            ):
                response = await api.request(method, path, headers=headers)
                assert response.status == 401, (method, path, headers)
                assert response.headers["WWW-Authenticate"].startswith("Basic ")
                response.release()
        for method, path in routes:
            if method == "DELETE":
                continue  # would empty the store for the routes after it
            response = await api.request(method, path, headers=auth_header(*CREDENTIALS))
            # MailHog's release is refused by design: the catcher sends no mail.
            allowed = (501,) if path.endswith("/release") else (200, 400)
            assert response.status in allowed, (method, path, response.status)
            if path.endswith("/api/events"):
                first = await response.content.readuntil(b"\n\n")
                assert b"event: hello" in first
            response.close()


@async_test
async def test_without_basic_auth_nothing_asks_for_it(tmp_path: Path) -> None:
    async with client(tmp_path / "mail") as api:
        response = await api.get("/api/v1/messages")
        assert response.status == 200
        assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1.evil.example"],
)
@async_test
async def test_a_foreign_origin_cannot_delete(tmp_path: Path, origin: str) -> None:
    [entry] = add(tmp_path / "mail", mail())
    async with client(tmp_path / "mail") as api:
        changes: list[tuple[str, str, dict[str, Any]]] = [
            ("DELETE", "/api/v1/messages", {}),
            ("DELETE", "/api/v1/messages", {"json": {"IDs": [entry.id]}}),
            ("DELETE", "/api/v1/search", {"params": {"query": "hello"}}),
            ("PUT", "/api/v1/messages", {"json": {"Read": True}}),
        ]
        for method, path, kwargs in changes:
            response = await api.request(method, path, headers={"Origin": origin}, **kwargs)
            assert response.status == 403, (method, path)
            assert origin in await response.text() or origin == "null"
        data = await (await api.get("/api/v1/messages")).json()
    assert data["total"] == 1
    assert data["unread"] == 1


@async_test
async def test_the_page_own_origin_and_tools_without_origin_can_delete(tmp_path: Path) -> None:
    add(tmp_path / "mail", mail("one"), mail("two"))
    async with client(tmp_path / "mail") as api:
        own = f"http://127.0.0.1:{api.port}"
        response = await api.delete("/api/v1/search?query=one", headers={"Origin": own})
        assert response.status == 200
        assert (await api.delete("/api/v1/messages")).status == 200  # curl sends no Origin
        assert (await (await api.get("/api/v1/messages")).json())["total"] == 0


@async_test
async def test_a_rebound_host_name_cannot_read_a_loopback_inbox(tmp_path: Path) -> None:
    add(tmp_path / "mail", mail())
    async with client(tmp_path / "mail") as api:
        refused = await api.get("/api/v1/messages", headers={"Host": f"evil.example:{api.port}"})
        assert refused.status == 403
        for host in (f"localhost:{api.port}", f"127.0.0.1:{api.port}", "app.localhost"):
            response = await api.get("/api/v1/messages", headers={"Host": host})
            assert response.status == 200, host


def test_loopback_names() -> None:
    assert _is_loopback_name("localhost:8025")
    assert _is_loopback_name("[::1]:8025")
    assert _is_loopback_name("127.0.0.2")
    assert not _is_loopback_name("127.0.0.1.nip.io")
    assert not _is_loopback_name("evil.example:8025")
    assert not _is_loopback_name("[::2]:8025")
