"""About the server: Mailpit's info and web UI settings, and the health probes."""

from __future__ import annotations

import logging
import os

from aiohttp import web

from . import shapes
from .api import inbox_of, routes, text

log = logging.getLogger("mailcatcher")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aiosmtpd-mailcatcher")
    except PackageNotFoundError:
        return "unknown"


def _memory() -> int:
    """This process's resident memory in bytes (Linux), else 0."""
    try:
        with open("/proc/self/statm") as fp:
            return int(fp.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@routes.get("/api/v1/info")
async def info(request: web.Request) -> web.Response:
    """Mailpit's ``AppInformation``. ``LatestVersion`` is empty: nothing is fetched.

    Under ``/inbox/NAME/`` the counts (messages, unread, size, tags) are that inbox's;
    ``RuntimeStats`` are always the whole server's.
    """
    inbox = inbox_of(request)
    entries = await inbox.entries()
    information: shapes.AppInformation = {
        "Version": _version(),
        "LatestVersion": "",
        "Database": str(inbox.path),
        "DatabaseSize": sum(entry.size for entry in entries),
        "Messages": len(entries),
        "Unread": inbox.unread(entries),
        "Tags": await inbox.tags(),
        "RuntimeStats": {
            "Memory": _memory(),
            "MessagesDeleted": inbox.deleted,
            "SMTPAccepted": inbox.accepted,
            "SMTPAcceptedSize": inbox.accepted_size,
            "SMTPIgnored": 0,
            "SMTPRejected": 0,
            "Uptime": int(inbox.uptime()),
        },
    }
    return web.json_response(information)


@routes.get("/api/v1/webui")
async def webui(request: web.Request) -> web.Response:
    """Mailpit's web UI configuration: no relay, no SpamAssassin, no chaos."""
    configuration: shapes.WebUIConfiguration = {
        "Label": "mailcatcher",
        "MessageRelay": {
            "Enabled": False,
            "SMTPServer": "",
            "ReturnPath": "",
            "AllowedRecipients": "",
            "BlockedRecipients": "",
            "OverrideFrom": "",
            "PreserveMessageIDs": False,
            "RecipientAllowlist": "",
        },
        "SpamAssassin": False,
        "ChaosEnabled": False,
        "DuplicatesIgnored": False,
        "HideDeleteAllButton": False,
    }
    return web.json_response(configuration)


@routes.get("/livez")
async def livez(request: web.Request) -> web.Response:
    """Liveness: the server answers."""
    return web.Response(status=200)


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Readiness: the store can be read."""
    try:
        await inbox_of(request).entries()
    except OSError as error:
        log.warning("the store %s cannot be read: %s", inbox_of(request).path, error)
        return text("Service Unavailable", 503)
    return web.Response(status=200)
