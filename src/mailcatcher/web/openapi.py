"""The OpenAPI 3.1 description of the whole HTTP API, served at ``/api/v1/openapi.json``.

Mailpit's shapes are described with Mailpit's field names; the endpoints Mailpit does
not have (the wait, the links, the event stream) are tagged ``mailcatcher``. A test
checks that every route the app serves is described here and nothing else is.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .api import routes

JSON = dict[str, Any]
OPENAPI_PATH = "/api/v1/openapi.json"


def _ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _integer(description: str) -> JSON:
    return {"type": "integer", "minimum": 0, "description": description}


def _string(description: str, **extra: Any) -> JSON:
    return {"type": "string", "description": description, **extra}


def _object(description: str, properties: JSON) -> JSON:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties),
    }


def _json(description: str, schema: JSON) -> JSON:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


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
    "addressed:, message-id:, is:read, is:unread, has:attachment, after:, before:, larger:, "
    'smaller: and free text; "quoted phrases"; a leading - or ! negates a word.',
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


def _address_list(description: str) -> JSON:
    return {"type": "array", "description": description, "items": _ref("Address")}


_SCHEMAS: JSON = {
    "Address": _object(
        "An address: 'Eva <eva@example.com>' is {Name: 'Eva', Address: 'eva@example.com'}.",
        {"Name": _string("Display name"), "Address": _string("Address (addr-spec)")},
    ),
    "MessageSummary": _object(
        "One message in a list.",
        {
            "ID": _string("Message ID (the stored file's unique name)"),
            "MessageID": _string("Message-ID header, without angle brackets"),
            "Read": {"type": "boolean", "description": "Opened through this server"},
            "From": _ref("Address"),
            "To": _address_list("To addresses"),
            "Cc": _address_list("Cc addresses"),
            "Bcc": _address_list("Bcc addresses, then envelope recipients no header names"),
            "ReplyTo": _address_list("Reply-To addresses"),
            "Subject": _string("Subject"),
            "Created": _string("When it was stored (RFC 3339)", format="date-time"),
            "Username": _string("SMTP AUTH user name, or empty"),
            "Tags": {"type": "array", "items": {"type": "string"}, "description": "Always []"},
            "Size": _integer("Size in bytes"),
            "Attachments": _integer("Number of attachments"),
            "Snippet": _string("Up to 200 characters of the body"),
        },
    ),
    "MessagesSummary": _object(
        "A page of messages, newest first.",
        {
            "total": _integer("Messages in the store"),
            "unread": _integer("Unread messages in the store"),
            "count": _integer("Messages on this page (legacy, Mailpit keeps it too)"),
            "messages_count": _integer("Messages matching the search (all, when listing)"),
            "messages_unread": _integer("Unread messages matching the search"),
            "start": _integer("Pagination offset"),
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Always []"},
            "messages": {"type": "array", "items": _ref("MessageSummary")},
        },
    ),
    "Attachment": _object(
        "An attached or inline file (content at /api/v1/message/{ID}/part/{PartID}).",
        {
            "PartID": _string("Part number (IMAP section style: 1, 2.1, ...)"),
            "FileName": _string("File name, or empty"),
            "ContentType": _string("Content type"),
            "ContentID": _string("Content-ID without angle brackets, or empty"),
            "Size": _integer("Decoded size in bytes"),
            "Checksums": _object(
                "Checksums of the decoded content",
                {"MD5": _string("MD5"), "SHA1": _string("SHA-1"), "SHA256": _string("SHA-256")},
            ),
        },
    ),
    "ListUnsubscribe": _object(
        "The List-Unsubscribe header (RFC 2369, RFC 8058).",
        {
            "Header": _string("List-Unsubscribe value"),
            "Links": {"type": "array", "items": {"type": "string"}},
            "Errors": _string("What is wrong with the header, or empty"),
            "HeaderPost": _string("List-Unsubscribe-Post value"),
        },
    ),
    "Message": _object(
        "A message: headers, both bodies and its files (without their content).",
        {
            "ID": _string("Message ID"),
            "MessageID": _string("Message-ID header, without angle brackets"),
            "From": _ref("Address"),
            "To": _address_list("To addresses"),
            "Cc": _address_list("Cc addresses"),
            "Bcc": _address_list("Bcc addresses, then envelope recipients no header names"),
            "ReplyTo": _address_list("Reply-To addresses"),
            "ReturnPath": _string("Return-Path, else the From address"),
            "Subject": _string("Subject"),
            "ListUnsubscribe": _ref("ListUnsubscribe"),
            "Date": _string("Date header, else when stored (RFC 3339)", format="date-time"),
            "Tags": {"type": "array", "items": {"type": "string"}, "description": "Always []"},
            "Username": _string("SMTP AUTH user name, or empty"),
            "Text": _string("Text body (the HTML as text when there is none)"),
            "HTML": _string("HTML body as sent, or empty"),
            "Size": _integer("Size in bytes"),
            "Inline": {"type": "array", "items": _ref("Attachment")},
            "Attachments": {"type": "array", "items": _ref("Attachment")},
        },
    ),
    "AppInformation": _object(
        "About this server.",
        {
            "Version": _string("mailcatcher version"),
            "LatestVersion": _string("Always empty: this server fetches nothing"),
            "Database": _string("The store's path"),
            "DatabaseSize": _integer("Bytes of stored messages"),
            "Messages": _integer("Messages stored"),
            "Unread": _integer("Unread messages"),
            "Tags": {"type": "object", "additionalProperties": {"type": "integer"}},
            "RuntimeStats": _object(
                "Process figures",
                {
                    "Memory": _integer("Resident memory in bytes"),
                    "MessagesDeleted": _integer("Messages deleted through this server"),
                    "SMTPAccepted": _integer("Messages stored since this server started"),
                    "SMTPAcceptedSize": _integer("Bytes of messages stored since start"),
                    "SMTPIgnored": _integer("Always 0"),
                    "SMTPRejected": _integer("Always 0"),
                    "Uptime": _integer("Seconds since start"),
                },
            ),
        },
    ),
    "Envelope": _object(
        "The SMTP envelope the catcher recorded.",
        {
            "MailFrom": _string("MAIL FROM address (empty for a null reverse-path)"),
            "RcptTo": {"type": "array", "items": {"type": "string"}},
            "Username": _string("SMTP AUTH user name, or empty"),
        },
    ),
    "WebUIConfiguration": {
        "type": "object",
        "description": "Mailpit's web UI settings; relay, SpamAssassin and chaos are off.",
        "additionalProperties": True,
    },
    "Headers": {
        "type": "object",
        "description": "Header values by canonical name (Message-Id), names sorted.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    "DeleteRequest": {
        "type": "object",
        "properties": {"IDs": {"type": "array", "items": {"type": "string"}}},
        "description": "IDs to delete; no body, {} or [] deletes every message.",
    },
    "ReadStatusRequest": {
        "type": "object",
        "properties": {
            "Read": {"type": "boolean"},
            "IDs": {"type": "array", "items": {"type": "string"}},
            "Search": {"type": "string"},
        },
        "description": "Set read status of IDs, of a search's matches, or (neither) of all.",
    },
    "WaitTimeout": _object(
        "Nothing matched in time: what the store holds instead.",
        {
            "Error": _string("What was waited for, and how long"),
            "Query": _string("The search"),
            "Timeout": {"type": "number", "description": "Seconds waited"},
            "Total": _integer("Messages stored"),
            "Messages": {
                "type": "array",
                "items": _ref("MessageSummary"),
                "description": "The ten newest messages",
            },
        },
    ),
}


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


def _body(name: str) -> JSON:
    return {"required": False, "content": {"application/json": {"schema": _ref(name)}}}


_MESSAGE_PARAMS = [_ID, _LATEST_QUERY]

PATHS: JSON = {
    "/api/v1/messages": {
        "get": _operation(
            "List messages, newest first",
            "messages",
            {"200": _json("A page of messages", _ref("MessagesSummary")), "400": _BAD},
            _PAGING,
        ),
        "put": _operation(
            "Set read status",
            "messages",
            {"200": _OK, "400": _BAD},
            [_TZ],
            requestBody=_body("ReadStatusRequest"),
        ),
        "delete": _operation(
            "Delete messages (given IDs, or all)",
            "messages",
            {"200": _OK, "400": _BAD, "403": _text("A page on another origin asked.")},
            requestBody=_body("DeleteRequest"),
        ),
    },
    "/api/v1/search": {
        "get": _operation(
            "Search messages, newest first",
            "messages",
            {"200": _json("Matching messages", _ref("MessagesSummary")), "400": _BAD},
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
            {"200": _json("The message", _ref("Message")), "400": _BAD, "404": _MISSING},
            _MESSAGE_PARAMS,
        )
    },
    "/api/v1/message/{ID}/headers": {
        "get": _operation(
            "Get a message's headers",
            "message",
            {"200": _json("Headers", _ref("Headers")), "400": _BAD, "404": _MISSING},
            _MESSAGE_PARAMS,
        )
    },
    "/api/v1/message/{ID}/envelope": {
        "get": _operation(
            "Get a message's SMTP envelope: MAIL FROM, every RCPT TO, the AUTH login",
            "mailcatcher",
            {"200": _json("The envelope", _ref("Envelope")), "400": _BAD, "404": _MISSING},
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
                "200": _json("Links in order", {"type": "array", "items": {"type": "string"}}),
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
                "200": _json("The newest matching message", _ref("Message")),
                "400": _BAD,
                "504": _json("Nothing matched in time", _ref("WaitTimeout")),
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
            {"200": _json("Information", _ref("AppInformation"))},
        )
    },
    "/api/v1/webui": {
        "get": _operation(
            "Web UI configuration (Mailpit)",
            "application",
            {"200": _json("Configuration", _ref("WebUIConfiguration"))},
        )
    },
    "/api/v1/tags": {
        "get": _operation(
            "Tags in use (always none)",
            "tags",
            {"200": _json("Tags", {"type": "array", "items": {"type": "string"}})},
        )
    },
    OPENAPI_PATH: {
        "get": _operation(
            "This document", "mailcatcher", {"200": _json("OpenAPI 3.1", {"type": "object"})}
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
                "(tag 'mailcatcher'). With basic auth configured, every path needs it. "
                "Changes (DELETE, PUT) from a page on another origin are refused with 403."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
        "security": [{}, {"basic": []}],
        "paths": PATHS,
    }


@routes.get(OPENAPI_PATH)
async def openapi_json(request: web.Request) -> web.Response:
    """Serve the OpenAPI document."""
    return web.json_response(document())
