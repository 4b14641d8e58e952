"""The OpenAPI 3.1 description of the whole HTTP API, served at ``/api/v1/openapi.json``.

The schemas are generated from the `TypedDict` shapes in `shapes`, the types the
handlers return (``mypy --strict`` holds them to it), so the document and the answers
cannot drift apart: there is no hand-written copy of a shape. Mailpit's shapes keep
Mailpit's names; the endpoints Mailpit does not have (the wait, the envelope, the links,
the event stream, the inboxes) are tagged ``mailcatcher``. Every path is served at the
root and again under ``/inbox/{inbox}`` (one inbox alone): the document says so once, as
its two ``servers``. A test checks that every route the app serves is described here and
nothing else is.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints, is_typeddict

from aiohttp import web

from . import mailhog, shapes
from .api import INBOX_PREFIX, routes

JSON = dict[str, Any]
OPENAPI_PATH = "/api/v1/openapi.json"

#: The named schemas (``#/components/schemas/...``), filled by `schema_of` as the
#: paths below name the shapes they answer with.
SCHEMAS: JSON = {}


def schema_of(kind: Any) -> JSON:
    """The JSON Schema of a type a handler returns; a `TypedDict` becomes a named schema.

    Raises:
        TypeError: `kind` is a type this generator does not know (add a row here).
    """
    if kind is Any:
        return {}  # any JSON value
    origin = get_origin(kind)
    if origin is Annotated:
        base, *extras = get_args(kind)
        schema = dict(schema_of(base))
        for extra in extras:
            if isinstance(extra, shapes.Doc):
                schema["description"] = extra.description
                if extra.format is not None:
                    schema["format"] = extra.format
        return schema
    # bool before int: a bool is an int to Python, never to JSON.
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if kind in simple:
        schema = {"type": simple[kind]}
        if kind in (int, float):
            schema["minimum"] = 0  # counts, sizes, offsets and seconds
        return schema
    if origin in (Union, types.UnionType):
        # ``X | None``: MailHog's nullable fields (Go's nil slices and pointers).
        return {"anyOf": [schema_of(member) for member in get_args(kind)]}
    if kind is type(None):
        return {"type": "null"}
    if origin is list:
        (item,) = get_args(kind)
        return {"type": "array", "items": schema_of(item)}
    if origin is dict:
        _, value = get_args(kind)
        return {"type": "object", "additionalProperties": schema_of(value)}
    if is_typeddict(kind):
        name = kind.__name__
        if name not in SCHEMAS:
            SCHEMAS[name] = {}  # taken, before its fields may refer back to it
            SCHEMAS[name] = _object(kind)
        return {"$ref": f"#/components/schemas/{name}"}
    raise TypeError(f"no JSON Schema for {kind!r}: teach openapi.schema_of about it")


def _object(kind: Any) -> JSON:
    """The schema of a `TypedDict`: its fields, in order, and which are required."""
    fields = get_type_hints(kind, include_extras=True)
    required: frozenset[str] = kind.__required_keys__
    return {
        "type": "object",
        "description": " ".join((kind.__doc__ or "").split()),
        "properties": {name: schema_of(hint) for name, hint in fields.items()},
        "required": [name for name in fields if name in required],
    }


def _json(description: str, kind: Any) -> JSON:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema_of(kind)}},
    }


def _text(description: str, media: str = "text/plain") -> JSON:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


_OK = _text('The word "ok".')
_BAD = _text("The request cannot be understood; the reason as plain text.")
_MISSING = _text("No such message (or part).")
_ID = {
    "name": "ID",
    "in": "path",
    "required": True,
    "description": 'A message ID, or "latest" for the newest message (of ?query= when given).',
    "schema": {"type": "string"},
}
_LATEST_QUERY = {
    "name": "query",
    "in": "query",
    "required": False,
    "description": 'With ID "latest": the newest message matching this search.',
    "schema": {"type": "string"},
}
_QUERY = {
    "name": "query",
    "in": "query",
    "required": True,
    "description": "A search in Mailpit's syntax: to:, from:, subject:, cc:, bcc:, reply-to:, "
    "addressed:, message-id:, tag:, is:read, is:unread, is:tagged, has:attachment, after:, "
    'before:, larger:, smaller: and free text; "quoted phrases" (tag:"two words"); a leading '
    "- or ! negates a word.",
    "schema": {"type": "string"},
}
_TZ = {
    "name": "tz",
    "in": "query",
    "required": False,
    "description": "IANA time zone for after:/before: dates without one (default: the server's).",
    "schema": {"type": "string"},
}
_PAGING = [
    {
        "name": "start",
        "in": "query",
        "required": False,
        "description": "Pagination offset.",
        "schema": {"type": "integer", "default": 0, "minimum": 0},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Page size (0 on /messages: no limit).",
        "schema": {"type": "integer", "default": 50, "minimum": 0},
    },
    {
        "name": "before",
        "in": "query",
        "required": False,
        "description": "Only messages stored before this time (RFC 3339 or Unix seconds).",
        "schema": {"type": "string"},
    },
]


def _operation(
    summary: str, tag: str, responses: JSON, parameters: list[JSON] | None = None, **extra: Any
) -> JSON:
    return {
        "summary": summary,
        "tags": [tag],
        "parameters": parameters or [],
        "responses": responses,
        **extra,
    }


def _body(kind: Any) -> JSON:
    return {"required": False, "content": {"application/json": {"schema": schema_of(kind)}}}


_MESSAGE_PARAMS = [_ID, _LATEST_QUERY]
_TAG = {
    "name": "Tag",
    "in": "path",
    "required": True,
    "description": "The tag's name, percent-encoded (compared without regard to case).",
    "schema": {"type": "string"},
}
_TAG_ERROR = _text(
    'The request cannot be understood, or the tag is unknown ("tag not found: NAME"), '
    "or the new name is invalid or taken; the reason as plain text."
)
_NO_TAGS = _text("The store keeps no tags (a single mail file); the reason as plain text.")
_CHANGE_REFUSED = _text("A page on another origin asked.")

PATHS: JSON = {
    "/api/v1/messages": {
        "get": _operation(
            "List messages, newest first",
            "messages",
            {"200": _json("A page of messages", shapes.MessagesSummary), "400": _BAD},
            _PAGING,
        ),
        "put": _operation(
            "Set read status",
            "messages",
            {"200": _OK, "400": _BAD},
            [_TZ],
            requestBody=_body(shapes.ReadStatusRequest),
        ),
        "delete": _operation(
            "Delete messages: the given IDs (an empty list: none), or all when no IDs are "
            "given; no body at all is MailHog's delete-all, answered with an empty body",
            "messages",
            {
                "200": _text('"ok" for a JSON body; empty when there was no body.'),
                "400": _BAD,
                "403": _text("A page on another origin asked."),
            },
            requestBody=_body(shapes.DeleteRequest),
        ),
    },
    "/api/v1/search": {
        "get": _operation(
            "Search messages, newest first",
            "messages",
            {"200": _json("Matching messages", shapes.MessagesSummary), "400": _BAD},
            [_QUERY, *_PAGING, _TZ],
        ),
        "delete": _operation(
            "Delete the messages a search matches",
            "messages",
            {"200": _OK, "400": _BAD, "403": _text("A page on another origin asked.")},
            [_QUERY, _TZ],
        ),
    },
    "/api/v1/message/{ID}": {
        "get": _operation(
            "Get a message (marks it read)",
            "message",
            {"200": _json("The message", shapes.Message), "400": _BAD, "404": _MISSING},
            _MESSAGE_PARAMS,
        )
    },
    "/api/v1/message/{ID}/headers": {
        "get": _operation(
            "Get a message's headers",
            "message",
            {"200": _json("Headers", shapes.Headers), "400": _BAD, "404": _MISSING},
            _MESSAGE_PARAMS,
        )
    },
    "/api/v1/message/{ID}/envelope": {
        "get": _operation(
            "Get a message's SMTP envelope: MAIL FROM, every RCPT TO, the AUTH login",
            "mailcatcher",
            {"200": _json("The envelope", shapes.Envelope), "400": _BAD, "404": _MISSING},
            _MESSAGE_PARAMS,
        )
    },
    "/api/v1/message/{ID}/raw": {
        "get": _operation(
            "Get a message's source",
            "message",
            {"200": _text("The message as stored"), "400": _BAD, "404": _MISSING},
            [
                *_MESSAGE_PARAMS,
                {
                    "name": "dl",
                    "in": "query",
                    "required": False,
                    "description": "1: download as ID.eml",
                    "schema": {"type": "string", "enum": ["1"]},
                },
            ],
        )
    },
    "/api/v1/message/{ID}/part/{PartID}": {
        "get": _operation(
            "Download an attached or inline file (always Content-Disposition: attachment)",
            "message",
            {
                "200": {
                    "description": "The file, with its own content type",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "400": _BAD,
                "404": _MISSING,
            },
            [
                *_MESSAGE_PARAMS,
                {
                    "name": "PartID",
                    "in": "path",
                    "required": True,
                    "description": "The file's PartID",
                    "schema": {"type": "string"},
                },
            ],
        )
    },
    "/api/v1/message/{ID}/links": {
        "get": _operation(
            "List a message's http(s) links (never fetched)",
            "mailcatcher",
            {
                "200": _json("Links in order", shapes.Links),
                "400": _BAD,
                "404": _MISSING,
            },
            _MESSAGE_PARAMS,
        )
    },
    "/api/v1/wait": {
        "get": _operation(
            "Wait for a matching message (long poll)",
            "mailcatcher",
            {
                "200": _json("The newest matching message", shapes.Message),
                "400": _BAD,
                "504": _json("Nothing matched in time", shapes.WaitTimeout),
            },
            [
                {**_QUERY, "required": False, "description": "The search; none: any message."},
                {
                    "name": "timeout",
                    "in": "query",
                    "required": False,
                    "description": "Seconds to wait (default 10, at most 300).",
                    "schema": {"type": "number", "default": 10, "minimum": 0, "maximum": 300},
                },
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "description": "Only messages stored at or after this time "
                    "(RFC 3339 or Unix seconds).",
                    "schema": {"type": "string"},
                },
                _TZ,
            ],
        )
    },
    "/api/v1/info": {
        "get": _operation(
            "About this server",
            "application",
            {"200": _json("Information", shapes.AppInformation)},
        )
    },
    "/api/v1/webui": {
        "get": _operation(
            "Web UI configuration (Mailpit)",
            "application",
            {"200": _json("Configuration", shapes.WebUIConfiguration)},
        )
    },
    "/api/v1/tags": {
        "get": _operation(
            "Tags in use, sorted",
            "tags",
            {"200": _json("Tags", list[str])},
        ),
        "put": _operation(
            "Set messages' tags (replacing theirs; an empty Tags list removes them)",
            "tags",
            {"200": _OK, "400": _BAD, "403": _CHANGE_REFUSED, "501": _NO_TAGS},
            requestBody={**_body(shapes.SetTagsRequest), "required": True},
        ),
    },
    "/api/v1/tags/{Tag}": {
        "put": _operation(
            "Rename a tag on every message",
            "tags",
            {"200": _OK, "400": _TAG_ERROR, "403": _CHANGE_REFUSED, "501": _NO_TAGS},
            [_TAG],
            requestBody={**_body(shapes.RenameTagRequest), "required": True},
        ),
        "delete": _operation(
            "Remove a tag from every message (the messages stay)",
            "tags",
            {"200": _OK, "400": _TAG_ERROR, "403": _CHANGE_REFUSED, "501": _NO_TAGS},
            [_TAG],
        ),
    },
    "/api/v1/inboxes": {
        "get": _operation(
            "Every inbox that holds mail (one per AUTH login; 'default': none), with counts",
            "mailcatcher",
            {"200": _json("Inboxes by name", list[shapes.InboxSummary])},
        )
    },
    INBOX_PREFIX: {
        "get": _operation(
            "Redirect to /inbox/{inbox}/, the inbox's base URL (served at the root only)",
            "page",
            {"308": {"description": "Location: the same path with a slash added"}},
            [
                {
                    "name": "inbox",
                    "in": "path",
                    "required": True,
                    "description": "The inbox's name, percent-encoded",
                    "schema": {"type": "string"},
                }
            ],
        )
    },
    OPENAPI_PATH: {
        "get": _operation(
            "This document", "mailcatcher", {"200": _json("OpenAPI 3.1", dict[str, Any])}
        )
    },
    "/api/events": {
        "get": _operation(
            "Live updates (server-sent events): a 'change' event per store change",
            "mailcatcher",
            {"200": _text("An endless event stream", "text/event-stream")},
        )
    },
    "/view/{ID}.html": {
        "get": _operation(
            "A message's HTML, sanitised, inline images embedded, under a no-script policy",
            "testing",
            {"200": _text("HTML", "text/html"), "400": _BAD, "404": _MISSING},
            [
                *_MESSAGE_PARAMS,
                {
                    "name": "remote",
                    "in": "query",
                    "required": False,
                    "description": "1: allow remote images in this answer",
                    "schema": {"type": "string", "enum": ["1"]},
                },
            ],
        )
    },
    "/view/{ID}.txt": {
        "get": _operation(
            "A message's text body",
            "testing",
            {"200": _text("Text"), "400": _BAD, "404": _MISSING},
            _MESSAGE_PARAMS,
        )
    },
    "/livez": {"get": _operation("Liveness probe", "application", {"200": _text("Empty")})},
    "/readyz": {
        "get": _operation(
            "Readiness probe: the store can be read",
            "application",
            {"200": _text("Empty"), "503": _text("The store cannot be read")},
        )
    },
    "/": {"get": _operation("The inbox page", "page", {"200": _text("The page", "text/html")})},
    "/static/{path}": {
        "get": _operation(
            "The page's script and style",
            "page",
            {"200": _text("A file", "*/*"), "404": _text("No such file")},
            [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}],
        )
    },
}


def _mailhog_paths(base: str) -> JSON:
    """MailHog's routes under `base` (the root, and `mailhog.BASE`), tagged ``mailhog``."""
    refused = {
        "description": "The reason",
        "content": {"application/json": {"schema": schema_of(mailhog.MailHogError)}},
    }
    paging = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": description,
            "schema": {"type": "integer", "minimum": 0},
        }
        for name, description in [
            ("start", "Pagination offset."),
            ("limit", f"Page size (default {mailhog.DEFAULT_LIMIT}, at most {mailhog.MAX_LIMIT})."),
        ]
    ]
    id_ = {**_ID, "description": "A message ID."}
    empty = _text("Empty: done.")
    page = _json("A page of messages, newest first", mailhog.MailHogMessages)
    return {
        f"{base}/api/v2/messages": {
            "get": _operation("List messages (MailHog v2)", "mailhog", {"200": page}, paging)
        },
        f"{base}/api/v2/search": {
            "get": _operation(
                "Search messages (MailHog v2)",
                "mailhog",
                {"200": page, "400": refused},
                [
                    {
                        "name": "kind",
                        "in": "query",
                        "required": True,
                        "description": "What to search: the sender, the recipients, or "
                        "the text (body, subject, addresses).",
                        "schema": {"type": "string", "enum": list(mailhog.KINDS)},
                    },
                    {
                        "name": "query",
                        "in": "query",
                        "required": True,
                        "description": "The text to find (case-insensitive substring).",
                        "schema": {"type": "string"},
                    },
                    *paging,
                ],
            )
        },
        f"{base}/api/v1/messages/{{ID}}": {
            "get": _operation(
                "Get a message (MailHog v1)",
                "mailhog",
                {"200": _json("The message", mailhog.MailHogMessage), "404": refused},
                [id_],
            ),
            "delete": _operation(
                "Delete a message (MailHog v1)",
                "mailhog",
                {"200": empty, "403": _text("A page on another origin asked."), "404": refused},
                [id_],
            ),
        },
        f"{base}/api/v1/messages/{{ID}}/download": {
            "get": _operation(
                "Download a message as sent (MailHog v1)",
                "mailhog",
                {"200": _text("The message as ID.eml", "message/rfc822"), "404": refused},
                [id_],
            )
        },
        f"{base}/api/v1/messages/{{ID}}/release": {
            "post": _operation(
                "Release a message over SMTP: refused, the catcher sends no mail",
                "mailhog",
                {"501": refused, "403": _text("A page on another origin asked.")},
                [id_],
            )
        },
    }


PATHS.update(_mailhog_paths(""))
PATHS.update(_mailhog_paths(mailhog.BASE))
PATHS[f"{mailhog.BASE}/api/v1/messages"] = {
    "get": _operation(
        "List the newest messages as an array (MailHog v1; at the root this path is Mailpit's)",
        "mailhog",
        {"200": _json("Messages, newest first", list[mailhog.MailHogMessage])},
    ),
    "delete": _operation(
        "Delete every message (MailHog v1), or Mailpit's IDs",
        "mailhog",
        {
            "200": _text("Empty when there was no body, else ok"),
            "400": _BAD,
            "403": _text("A page on another origin asked."),
        },
        requestBody=_body(shapes.DeleteRequest),
    ),
}


def document() -> JSON:
    """The OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mailcatcher",
            "version": "1",
            "description": (
                "The part of Mailpit's v1 API that test tooling calls, with Mailpit's paths "
                "and JSON shapes, plus a long-poll wait, a links list and live updates "
                "(tag 'mailcatcher'), and MailHog's API with MailHog's shapes (tag 'mailhog'; "
                "all of it again under /mailhog, where GET /api/v1/messages is MailHog's). "
                "Each inbox (AUTH login) is served alone under /inbox/{inbox}/ (the second "
                "server). With basic auth configured, every path needs it. "
                "Changes (DELETE, PUT) from a page on another origin are refused with 403."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [
            {"url": "/", "description": "Every inbox"},
            {
                "url": INBOX_PREFIX,
                "description": "One inbox alone: every path works here too, and sees, "
                "changes and waits for that inbox's mail only (other inboxes' IDs are 404)",
                "variables": {
                    "inbox": {
                        "default": "default",
                        "description": "The AUTH login the mail was sent with, percent-encoded "
                        "('default': mail sent without logging in)",
                    }
                },
            },
        ],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
        "security": [{}, {"basic": []}],
        "paths": PATHS,
    }


@routes.get(OPENAPI_PATH)
async def openapi_json(request: web.Request) -> web.Response:
    """Serve the OpenAPI document."""
    return web.json_response(document())
