"""The check over HTTP: Mailpit's ``/html-check`` and the full ``/check``, via aiohttp's client.

The html-check shape is compared with Mailpit's published schema: the ``HTMLCheck*``
definitions of its swagger.json, excerpted (with its source commit and license) in
``tests/web/data``. Both the generated OpenAPI document and the JSON actually sent must
have Mailpit's fields with Mailpit's JSON types.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mailcatcher.web import openapi
from tests.web.support import add, async_test, client, mail

SWAGGER = json.loads(
    (Path(__file__).parent / "data" / "mailpit-html-check.swagger.json").read_text()
)
DEFINITIONS: dict[str, Any] = SWAGGER["definitions"]
#: Swagger 2's types, as JSON values carry them.
JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "array": list,
    "object": dict,
}

HTML = (
    '<html><body><p style="border-radius:4px;display:flex">Hello Eva, confirm '
    '<a href="http://localhost:8000/verify?t=1">here</a></p>'
    '<img src="https://shop.example/logo.webp"></body></html>'
)


def swagger_type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return "object"
    return str(schema["type"])


def assert_matches(value: Any, name: str) -> None:
    """`value` has exactly the properties of Mailpit's definition `name`, of its types."""
    definition = DEFINITIONS[name]
    assert set(value) == set(definition["properties"]), name
    for key, schema in definition["properties"].items():
        kind = JSON_TYPES[swagger_type(schema)]
        assert isinstance(value[key], kind), f"{name}.{key}: {value[key]!r}"
        assert not isinstance(value[key], bool), f"{name}.{key} is a bool"
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
        if ref is not None:
            inner = ref.rpartition("/")[2]
            for item in value[key] if schema.get("type") == "array" else [value[key]]:
                assert_matches(item, inner)


def test_the_openapi_document_has_mailpits_html_check_shapes() -> None:
    document = openapi.document()
    schemas = document["components"]["schemas"]
    for name, definition in DEFINITIONS.items():
        ours = schemas[name]["properties"]
        assert set(ours) == set(definition["properties"]), name
        for key, schema in definition["properties"].items():
            mine = ours[key]
            assert ("object" if "$ref" in mine else mine["type"]) == swagger_type(schema), (
                f"{name}.{key}"
            )
    path = "/api/v1/message/{ID}/html-check"
    responses = document["paths"][path]["get"]["responses"]
    assert set(responses) == set(SWAGGER["paths"][path]["get"]["responses"])
    assert "/api/v1/message/{ID}/check" in document["paths"]


@async_test
async def test_html_check_answers_in_mailpits_shape(tmp_path: Path) -> None:
    (entry,) = add(tmp_path / "mail", mail("Confirm", html=HTML))
    async with client(tmp_path / "mail") as api:
        response = await api.get(f"/api/v1/message/{entry.id}/html-check")
        assert response.status == 200
        body = await response.json()
    assert_matches(body, "HTMLCheckResponse")
    slugs = {warning["Slug"] for warning in body["Warnings"]}
    assert {"css-border-radius", "css-display-flex", "image-webp", "html-body"} <= slugs
    flex = next(w for w in body["Warnings"] if w["Slug"] == "css-display-flex")
    assert flex["URL"] == "https://www.caniemail.com/features/css-display-flex/"
    assert flex["Score"]["Found"] == 1
    outlook = {r["Platform"]: r for r in flex["Results"] if r["Family"] == "outlook"}
    assert outlook["windows"]["Support"] == "no"
    assert outlook["windows"]["Name"] == "Outlook Windows (2019)"
    assert "Outlook" in body["Platforms"]["windows"]
    total = body["Total"]
    assert total["Nodes"] >= 3
    assert abs(total["Supported"] + total["Partial"] + total["Unsupported"] - 100) < 0.01


@async_test
async def test_html_check_of_a_text_message_is_mailpits_400(tmp_path: Path) -> None:
    add(tmp_path / "mail", mail("Plain"))
    async with client(tmp_path / "mail") as api:
        response = await api.get("/api/v1/message/latest/html-check")
        assert response.status == 400
        assert await response.text() == "message does not contain HTML"
        missing = await api.get("/api/v1/message/nope/html-check")
        assert missing.status == 404
        assert await missing.text() == "Message not found"


@async_test
async def test_check_lists_every_finding_with_where_and_why(tmp_path: Path) -> None:
    (entry,) = add(tmp_path / "mail", mail("Confirm", html=HTML))
    async with client(tmp_path / "mail") as api:
        response = await api.get("/api/v1/message/latest/check")
        assert response.status == 200
        report = await response.json()
    assert report["ID"] == entry.id
    codes = [finding["Code"] for finding in report["Findings"]]
    assert codes[:2] == ["date-missing", "link-localhost"]  # errors first, in rule order
    assert {"image-no-alt", "client-unsupported", "message-id-missing"} <= set(codes)
    assert report["Errors"] == sum(f["Severity"] == "error" for f in report["Findings"])
    localhost = report["Findings"][1]
    assert localhost["Link"] == "http://localhost:8000/verify?t=1"
    assert localhost["Part"] == "2"
    assert localhost["Line"] == 1
    assert "RFC 6761" in localhost["Description"]
    assert {family["Name"] for family in report["Families"]} >= {"Gmail", "Outlook"}
    assert report["DataSource"].startswith("caniemail.com")
    schema = openapi.document()["components"]["schemas"]
    assert set(report) == set(schema["CheckReport"]["properties"])
    assert set(localhost) == set(schema["CheckFinding"]["properties"])


@async_test
async def test_check_of_a_clean_text_message_is_empty(tmp_path: Path) -> None:
    message = mail(
        "Hello",
        headers={"Date": "Mon, 04 May 2026 09:30:00 +0200", "Message-ID": "<a@example.com>"},
    )
    (entry,) = add(tmp_path / "mail", message)
    async with client(tmp_path / "mail") as api:
        report = await (await api.get(f"/api/v1/message/{entry.id}/check")).json()
    assert report["Findings"] == []
    assert (report["Errors"], report["Warnings"], report["Infos"]) == (0, 0, 0)
    assert report["Families"] == []
