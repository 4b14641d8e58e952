"""Mailpit's Chaos API: ``GET`` and ``PUT /api/v1/chaos``, the SMTP faults tools set over HTTP.

Mailpit answers MAIL FROM, RCPT TO or AUTH with an error code, each with a probability,
when started with ``--enable-chaos``; tools written for it set the triggers with this
JSON, which is Mailpit's (``internal/smtpd/chaos/chaos.go``, ``server/apiv1/chaos.go``):

    {"Sender": {"ErrorCode": 451, "Probability": 0},
     "Recipient": {"ErrorCode": 451, "Probability": 0},
     "Authentication": {"ErrorCode": 535, "Probability": 0}}

As in Mailpit, it is off unless ``mailcatcher serve --enable-chaos`` turns it on (the
routes then answer ``400 Chaos is not enabled``); a ``PUT`` replaces every trigger, one
left out going back to its default code with probability 0; names match without regard
to case, as Go's JSON decoder matches them. The triggers live in the SMTP server's
fault table (`mailcatcher.faults.Faults`), given to the app by ``serve``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..faults import CHAOS_TRIGGERS, ChaosTrigger, Faults
from . import openapi
from .api import bad_request, json_field, routes

__all__ = ["CHAOS"]

#: The fault table the Chaos API sets; ``None``: Chaos is off.
CHAOS = web.AppKey("chaos", Faults)
_PATH = "/api/v1/chaos"
_OFF = "Chaos is not enabled"


def _faults(request: web.Request) -> Faults | None:
    return request.app.get(CHAOS)


def _shape(faults: Faults) -> dict[str, dict[str, int]]:
    return {
        name: {"ErrorCode": trigger.error_code, "Probability": trigger.probability}
        for name, trigger in faults.chaos().items()
    }


def _triggers(data: dict[str, Any]) -> dict[str, ChaosTrigger]:
    """The triggers a ``PUT`` body sets, checked as Mailpit checks them.

    Raises:
        ValueError: a value is not a number, or out of Mailpit's bounds.
    """
    found: dict[str, ChaosTrigger] = {}
    for name, (_, default_code, _) in CHAOS_TRIGGERS.items():
        given = json_field(data, name)
        if given is None:
            continue
        if not isinstance(given, dict):
            raise ValueError(f"{name} is an object with ErrorCode and Probability")
        code, probability = json_field(given, "ErrorCode"), json_field(given, "Probability")
        for field, value in (("ErrorCode", code), ("Probability", probability)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name}.{field} is a whole number, got {value!r}")
        # Mailpit's SetFromStruct: a code of 0 (or none) is the trigger's default.
        found[name] = ChaosTrigger(code or default_code, probability or 0)
    return found


@routes.get(_PATH)
async def get_chaos(request: web.Request) -> web.Response:
    """The Chaos triggers in force (Mailpit's ``getChaos``)."""
    faults = _faults(request)
    if faults is None:
        return bad_request(_OFF)
    return web.json_response(_shape(faults))


@routes.put(_PATH)
async def set_chaos(request: web.Request) -> web.Response:
    """Replace the Chaos triggers and answer the new ones (Mailpit's ``setChaosParams``)."""
    faults = _faults(request)
    if faults is None:
        return bad_request(_OFF)
    raw = await request.read()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):
        return bad_request("the body is not JSON")
    if not isinstance(data, dict):
        return bad_request("the body is a JSON object of triggers")
    try:
        faults.set_chaos(_triggers(data))
    except ValueError as error:
        return bad_request(str(error))
    return web.json_response(_shape(faults))


# This module owns its routes, their documentation too.
# Mailpit's swagger.json, "ChaosTriggers" and "ChaosTrigger", with the bounds it checks.
_TRIGGERS = {
    "type": "object",
    "description": "Mailpit's Chaos triggers: at MAIL FROM (Sender), RCPT TO (Recipient), AUTH.",
    "properties": {
        name: {
            "type": "object",
            "properties": {
                "ErrorCode": {"type": "integer", "minimum": 400, "maximum": 599},
                "Probability": {"type": "integer", "minimum": 0, "maximum": 100},
            },
            "required": ["ErrorCode", "Probability"],
        }
        for name in CHAOS_TRIGGERS
    },
}
_ANSWERS = {
    "200": {
        "description": "The Chaos triggers in force",
        "content": {"application/json": {"schema": _TRIGGERS}},
    },
    "400": openapi._text(f"Bad triggers, or '{_OFF}' (without serve --enable-chaos)"),
}
openapi.PATHS[_PATH] = {
    "get": openapi._operation("Chaos triggers (Mailpit)", "testing", _ANSWERS),
    "put": openapi._operation(
        "Set Chaos triggers (Mailpit); one left out goes back to its default, off",
        "testing",
        _ANSWERS,
        requestBody={"required": False, "content": {"application/json": {"schema": _TRIGGERS}}},
    ),
}
