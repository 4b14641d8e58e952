"""The OpenAPI document describes exactly the routes served, with the shapes sent."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, get_type_hints, is_typeddict

from mailcatcher.web import checks, create_app, mailhog, openapi, shapes
from tests.web.support import add, async_test, client, mail
from tests.web.test_api import ATTACHMENT, MESSAGE, MESSAGES_SUMMARY, SUMMARY, rich_mail


def served_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, at the root and under /inbox/{inbox}."""
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
    served = served_routes(tmp_path)
    at_root = {(method, path) for method, path in served if not path.startswith("/inbox/")}
    assert documented == at_root | {("get", "/inbox/{inbox}")}


def test_every_route_but_static_files_is_served_under_each_inbox_too(tmp_path: Path) -> None:
    served = served_routes(tmp_path)
    prefix = "/inbox/{inbox}"
    per_inbox = {
        (method, path[len(prefix) :]) for method, path in served if path.startswith(prefix + "/")
    }
    at_root = {(method, path) for method, path in served if not path.startswith("/inbox/")}
    assert ("get", "/api/v1/messages") in per_inbox  # the prefix is really there
    assert per_inbox == at_root - {("get", "/static/{path}")}
    servers = [server["url"] for server in openapi.document()["servers"]]
    assert servers == ["/", prefix]


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


#: The handler modules' shapes: `shapes` (Mailpit's and ours), `checks` (the checks') and
#: `mailhog` (MailHog's).
SHAPES = [
    kind
    for module in (shapes, checks, mailhog)
    for _, kind in inspect.getmembers(module, is_typeddict)
    if kind.__module__ == module.__name__
]


def test_every_shape_is_a_schema_with_exactly_its_keys() -> None:
    """The schemas are generated from the shapes: same names, same keys, same required."""
    schemas = openapi.document()["components"]["schemas"]
    assert {kind.__name__ for kind in SHAPES} == set(schemas)
    for kind in SHAPES:
        schema = schemas[kind.__name__]
        keys = list(get_type_hints(kind))
        assert list(schema["properties"]) == keys, kind.__name__
        assert set(schema["required"]) == kind.__required_keys__, kind.__name__
        assert schema["description"], kind.__name__


def test_a_new_field_reaches_the_document_without_editing_it() -> None:
    """Proof the document cannot drift: a shape's field appears in its generated schema."""

    class Probe(shapes.Address):
        Extra: int

    saved = dict(openapi.SCHEMAS)
    try:
        assert openapi.schema_of(Probe) == {"$ref": "#/components/schemas/Probe"}
        properties = openapi.SCHEMAS["Probe"]["properties"]
    finally:
        openapi.SCHEMAS.clear()
        openapi.SCHEMAS.update(saved)
    assert list(properties) == ["Name", "Address", "Extra"]
    assert properties["Extra"] == {"type": "integer", "minimum": 0}


def conforms(value: Any, schema: dict[str, Any], schemas: dict[str, Any], where: str) -> None:
    """Assert `value` is what `schema` describes: types, and exactly an object's keys."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rpartition("/")[2]]
    if "anyOf" in schema:  # X | None: null, or what X describes
        if value is None:
            assert {"type": "null"} in schema["anyOf"], where
            return
        [described] = [option for option in schema["anyOf"] if option != {"type": "null"}]
        conforms(value, described, schemas, where)
        return
    kind = schema.get("type")
    python: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
    }
    if kind == "object":
        assert isinstance(value, dict), where
        if "properties" in schema:
            assert set(value) <= set(schema["properties"]), where
            assert set(schema["required"]) <= set(value), where
            for key, item in value.items():
                conforms(item, schema["properties"][key], schemas, f"{where}.{key}")
        elif "additionalProperties" in schema:
            for key, item in value.items():
                conforms(item, schema["additionalProperties"], schemas, f"{where}.{key}")
    elif kind == "array":
        assert isinstance(value, list), where
        for index, item in enumerate(value):
            conforms(item, schema["items"], schemas, f"{where}[{index}]")
    elif kind is not None:
        assert isinstance(value, python[kind]), (where, value)
        assert kind == "boolean" or not isinstance(value, bool), where  # JSON: not a number


@async_test
async def test_every_json_answer_conforms_to_its_documented_schema(tmp_path: Path) -> None:
    document = openapi.document()
    schemas = document["components"]["schemas"]
    [entry, _] = add(tmp_path / "mail", rich_mail(), mail("second"))
    message = f"/api/v1/message/{entry.id}"
    requests = [
        ("/api/v1/messages", "/api/v1/messages", {}, "200"),
        ("/api/v1/search", "/api/v1/search", {"query": "order"}, "200"),
        ("/api/v1/message/{ID}", message, {}, "200"),
        ("/api/v1/message/{ID}/headers", f"{message}/headers", {}, "200"),
        ("/api/v1/message/{ID}/envelope", f"{message}/envelope", {}, "200"),
        ("/api/v1/message/{ID}/links", f"{message}/links", {}, "200"),
        ("/api/v1/wait", "/api/v1/wait", {"timeout": "0"}, "200"),
        ("/api/v1/wait", "/api/v1/wait", {"timeout": "0", "query": "to:nobody"}, "504"),
        ("/api/v1/info", "/api/v1/info", {}, "200"),
        ("/api/v1/webui", "/api/v1/webui", {}, "200"),
        ("/api/v1/tags", "/api/v1/tags", {}, "200"),
        (openapi.OPENAPI_PATH, openapi.OPENAPI_PATH, {}, "200"),
    ]
    async with client(tmp_path / "mail") as api:
        for path, url, params, status in requests:
            response = await api.get(url, params=params)
            assert str(response.status) == status, (url, await response.text())
            described = document["paths"][path]["get"]["responses"][status]
            schema = described["content"]["application/json"]["schema"]
            conforms(await response.json(), schema, schemas, url)
