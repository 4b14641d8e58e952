"""The OpenAPI document describes exactly the routes served, with the shapes sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailcatcher.web import create_app, openapi
from tests.web.support import async_test, client
from tests.web.test_api import ATTACHMENT, MESSAGE, MESSAGES_SUMMARY, SUMMARY


def served_routes(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(tmp_path / "mail")
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        path = route.resource.canonical
        if path == "/static":
            path = "/static/{path}"
        found.add((route.method.lower(), path))
    return found


def test_every_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    documented = {(method, path) for path, item in openapi.PATHS.items() for method in item}
    assert documented == served_routes(tmp_path)


def refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if "$ref" in value else []
        return found + [ref for item in value.values() for ref in refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in refs(item)]
    return []


def test_references_resolve_and_shapes_match_what_is_sent() -> None:
    document = openapi.document()
    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/")
        assert ref.rpartition("/")[2] in schemas
    for name, shape in [
        ("MessageSummary", SUMMARY),
        ("MessagesSummary", MESSAGES_SUMMARY),
        ("Message", MESSAGE),
        ("Attachment", ATTACHMENT),
    ]:
        assert set(schemas[name]["properties"]) == set(shape), name
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["summary"], (method, path)
            assert operation["responses"], (method, path)
            for parameter in operation["parameters"]:
                if parameter["in"] == "path":
                    assert "{" + parameter["name"] + "}" in path


@async_test
async def test_the_document_is_served_at_a_stable_url(tmp_path: Path) -> None:
    async with client(tmp_path / "mail") as api:
        response = await api.get("/api/v1/openapi.json")
        assert response.status == 200
        document = await response.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/wait" in document["paths"]
