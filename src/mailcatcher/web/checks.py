"""The message checks over HTTP: Mailpit's HTML check, and the full report.

``GET /api/v1/message/{ID}/html-check`` answers with Mailpit's ``HTMLCheckResponse``
(``internal/htmlcheck/structs.go`` and its swagger.json), so Mailpit's tooling reads it;
``GET /api/v1/message/{ID}/check`` answers with every finding of
`mailcatcher.message.check` (not in Mailpit). Both read the message and its stored bytes
through the inbox's store, and check them in a worker thread: a large hostile message
must not stall the event loop. Nothing is fetched, unlike Mailpit, whose HTML check
downloads linked style sheets.

The shapes are `TypedDict`\\ s, and the routes describe themselves in the OpenAPI
document from here (`openapi.PATHS`), as the other handler modules' routes do there.
"""

from __future__ import annotations

from typing import Annotated, TypedDict

from aiohttp import web

from .. import message as message_helpers
from ..message import Finding, Report, Support
from . import openapi
from .api import MESSAGE_NOT_FOUND, bad_request, inbox_of, load, routes
from .inbox import MessageNotFound
from .shapes import Doc

#: Mailpit's 400 for a message without HTML.
NO_HTML = "message does not contain HTML"


# --- Mailpit's HTMLCheckResponse ---------------------------------------------------------


class HTMLCheckResult(TypedDict):
    """One client's support of a feature (its newest test on one platform)."""

    Name: Annotated[str, Doc("Family, platform and version: 'Outlook Windows (2019)'")]
    Platform: Annotated[str, Doc("Platform, e.g. ios, android, windows")]
    Family: Annotated[str, Doc("Family, e.g. outlook, gmail")]
    Version: Annotated[str, Doc("The version tested")]
    Support: Annotated[str, Doc("yes, no, partial (or unknown)")]
    NoteNumber: Annotated[str, Doc("The note that explains partial support, or empty")]


class HTMLCheckScore(TypedDict):
    """How well a feature is supported across the clients tested."""

    Found: Annotated[int, Doc("Times the HTML uses the feature")]
    Supported: Annotated[float, Doc("Percent of results that support it")]
    Partial: Annotated[float, Doc("Percent that support it partly")]
    Unsupported: Annotated[float, Doc("Percent that do not")]


class HTMLCheckWarning(TypedDict):
    """A caniemail.com feature the HTML uses."""

    Slug: Annotated[str, Doc("caniemail.com's identifier, e.g. css-border-radius")]
    Title: Annotated[str, Doc("Feature name")]
    Description: Annotated[str, Doc("caniemail.com's description (Markdown)")]
    URL: Annotated[str, Doc("Its page on caniemail.com")]
    Category: Annotated[str, Doc("css, html or image")]
    Tags: Annotated[list[str], Doc("caniemail.com's tags")]
    Keywords: Annotated[str, Doc("caniemail.com's keywords")]
    Results: Annotated[list[HTMLCheckResult], Doc("Per family and platform")]
    NotesByNumber: Annotated[dict[str, str], Doc("Notes by number (Markdown)")]
    Score: HTMLCheckScore


class HTMLCheckTotal(TypedDict):
    """The overall score, weighted as Mailpit weighs it."""

    Tests: Annotated[int, Doc("Features looked for")]
    Nodes: Annotated[int, Doc("HTML elements in the message")]
    Supported: Annotated[float, Doc("Overall percent supported")]
    Partial: Annotated[float, Doc("Overall percent partly supported")]
    Unsupported: Annotated[float, Doc("Overall percent unsupported")]


class HTMLCheckResponse(TypedDict):
    """Mailpit's HTML check: client support of the HTML's features (caniemail.com data)."""

    Warnings: Annotated[list[HTMLCheckWarning], Doc("Features found, least supported first")]
    Platforms: Annotated[dict[str, list[str]], Doc("Each platform and its client families")]
    Total: HTMLCheckTotal


# --- the full report ---------------------------------------------------------------------


class CheckFinding(TypedDict):
    """One problem: its rule, what to fix, and where ("" or 0 where it does not apply)."""

    Code: Annotated[str, Doc("Stable code, e.g. link-localhost")]
    Severity: Annotated[str, Doc("error, warning or info")]
    Message: Annotated[str, Doc("What to fix, in one line")]
    Header: Annotated[str, Doc("The header it is in, or empty")]
    Part: Annotated[str, Doc("The part number (PartID), or empty")]
    Line: Annotated[int, Doc("The line (in the part's text, or the stored message), or 0")]
    Link: Annotated[str, Doc("The link or image source, or empty")]
    Feature: Annotated[str, Doc("The caniemail.com feature (client-unsupported), or empty")]
    Title: Annotated[str, Doc("The rule in a few words")]
    Source: Annotated[str, Doc("The RFC section or other source of the rule")]
    Description: Annotated[str, Doc("The rule, quoting its source")]


class CheckFamily(TypedDict):
    """How one client family supports the HTML's features."""

    Family: Annotated[str, Doc("caniemail.com's family, e.g. outlook")]
    Name: Annotated[str, Doc("Display name, e.g. Outlook")]
    Supported: Annotated[int, Doc("Features every platform of it supports")]
    Partial: Annotated[int, Doc("Features some platform supports partly")]
    Unsupported: Annotated[int, Doc("Features some platform does not support")]


class CheckReport(TypedDict):
    """Everything the check found in a message, most severe first (not in Mailpit)."""

    ID: Annotated[str, Doc("Message ID")]
    Errors: Annotated[int, Doc("Findings of severity error")]
    Warnings: Annotated[int, Doc("Findings of severity warning")]
    Infos: Annotated[int, Doc("Findings of severity info")]
    Capped: Annotated[bool, Doc("A limit was reached: the message was checked in part")]
    Findings: Annotated[list[CheckFinding], Doc("Errors, then warnings, then infos")]
    Families: Annotated[list[CheckFamily], Doc("Client support per family; [] without HTML")]
    DataSource: Annotated[str, Doc("Where the client-support data is from, or empty")]


# --- building them -----------------------------------------------------------------------


def html_check(support: Support) -> HTMLCheckResponse:
    """Mailpit's ``HTMLCheckResponse`` from the check's client-support summary."""
    return {
        "Warnings": [
            {
                "Slug": feature.slug,
                "Title": feature.title,
                "Description": feature.description,
                "URL": feature.url,
                "Category": feature.category,
                "Tags": list(feature.tags),
                "Keywords": feature.keywords,
                "Results": [
                    {
                        "Name": result.name,
                        "Platform": result.platform,
                        "Family": result.family,
                        "Version": result.version,
                        "Support": result.support,
                        "NoteNumber": result.notes[-1] if result.notes else "",
                    }
                    for result in feature.results
                ],
                "NotesByNumber": dict(feature.notes),
                "Score": {
                    "Found": feature.found,
                    "Supported": feature.supported,
                    "Partial": feature.partial,
                    "Unsupported": feature.unsupported,
                },
            }
            for feature in support.features
        ],
        "Platforms": support.platforms,
        "Total": {
            "Tests": support.tests,
            "Nodes": support.nodes,
            "Supported": support.supported,
            "Partial": support.partial,
            "Unsupported": support.unsupported,
        },
    }


def finding(item: Finding) -> CheckFinding:
    """One finding as the report lists it."""
    where = item.location
    return {
        "Code": item.code,
        "Severity": item.severity,
        "Message": item.message,
        "Header": where.header or "",
        "Part": where.part or "",
        "Line": where.line or 0,
        "Link": where.link or "",
        "Feature": item.feature or "",
        "Title": item.title,
        "Source": item.source,
        "Description": item.description,
    }


def check_report(id: str, report: Report) -> CheckReport:
    """The full report of message `id`."""
    counts = report.counts()
    support = report.support
    return {
        "ID": id,
        "Errors": counts["error"],
        "Warnings": counts["warning"],
        "Infos": counts["info"],
        "Capped": report.capped,
        "Findings": [finding(item) for item in report.findings],
        "Families": []
        if support is None
        else [
            {
                "Family": family.family,
                "Name": family.name,
                "Supported": family.supported,
                "Partial": family.partial,
                "Unsupported": family.unsupported,
            }
            for family in support.families
        ],
        "DataSource": "" if support is None else support.source,
    }


async def _checked(request: web.Request) -> tuple[str, Report]:
    """The message the path names, checked off the event loop, with its ID.

    Raises:
        web.HTTPNotFound: no such message.
        web.HTTPBadRequest: the ``query`` cannot be read.
    """
    loaded = await load(request)
    inbox = inbox_of(request)
    id = loaded.entry.id  # resolved once: "latest" may change between two reads
    try:
        raw = await inbox.read_bytes(id)
    except MessageNotFound:
        raise web.HTTPNotFound(text=MESSAGE_NOT_FOUND) from None
    return id, await inbox.call(message_helpers.check, loaded.parsed, raw)


@routes.get("/api/v1/message/{ID}/html-check")
async def get_html_check(request: web.Request) -> web.Response:
    """Mailpit's HTML check: which clients support what the HTML uses."""
    _, report = await _checked(request)
    if report.support is None:
        return bad_request(NO_HTML)
    return web.json_response(html_check(report.support))


@routes.get("/api/v1/message/{ID}/check")
async def get_check(request: web.Request) -> web.Response:
    """Every finding of the check (not in Mailpit): standards, links, delivery, clients."""
    id, report = await _checked(request)
    return web.json_response(check_report(id, report))


openapi.PATHS["/api/v1/message/{ID}/html-check"] = {
    "get": openapi._operation(
        "Check which email clients support the HTML (caniemail.com data; nothing fetched)",
        "other",
        {
            "200": openapi._json("Client support", HTMLCheckResponse),
            "400": openapi._text("The query cannot be read, or the message has no HTML."),
            "404": openapi._MISSING,
        },
        openapi._MESSAGE_PARAMS,
    )
}
openapi.PATHS["/api/v1/message/{ID}/check"] = {
    "get": openapi._operation(
        "Check a message: standards, links, deliverability, client support (offline)",
        "mailcatcher",
        {
            "200": openapi._json("Every finding", CheckReport),
            "400": openapi._BAD,
            "404": openapi._MISSING,
        },
        openapi._MESSAGE_PARAMS,
    )
}
