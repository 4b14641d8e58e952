"""Mailpit's tags API: list the tags, set a message's tags, rename and delete a tag.

Paths, bodies and answers are Mailpit's (``server/apiv1/tags.go``): ``ok`` as plain text,
and a 400 with the reason as one line of plain text ("tag not found: x", "invalid tag
name: ", "tag already exists: x"), so Mailpit's clients (``mailpit-api``'s ``setTags``,
``renameTag``, ``deleteTag``) work unchanged. Under ``/inbox/NAME/`` every call sees and
changes that inbox's messages only. The rules a tag follows (which characters, case,
how many) are the store's (`store.clean_tag`, `store.has_tag`); the single mail file
`MailFile` writes keeps no tags, and setting one there answers 501.
"""

from __future__ import annotations

from aiohttp import web

from ..store import TagsNotKeptError, clean_tag, has_tag
from .api import bad_request, inbox_of, json_body, json_field, routes, string_list, text

_SET_TAGS = 'Error: send {"IDs": ["..."], "Tags": ["..."]} (an empty Tags list removes them)'
_RENAME = 'Error: send {"Name": "new name"}'


def _not_kept(error: TagsNotKeptError) -> web.Response:
    """501: this store keeps no tags (a single mail file); the store says why."""
    return text(f"Error: {error}", 501)


def _existing(tags: dict[str, int], tag: str) -> str | None:
    """The spelling in use of `tag` (compared as the store compares tags), or ``None``."""
    return next((name for name in tags if has_tag([name], tag)), None)


@routes.get("/api/v1/tags")
async def get_tags(request: web.Request) -> web.Response:
    """Every tag in use, sorted (Mailpit's GetAllTags)."""
    return web.json_response(list(await inbox_of(request).tags()))


@routes.put("/api/v1/tags")
async def set_tags(request: web.Request) -> web.Response:
    """Replace the tags of ``IDs`` with ``Tags`` (Mailpit's SetMessageTags).

    Unknown IDs (and, under ``/inbox/NAME/``, other inboxes' IDs) are ignored, as Mailpit
    ignores them. A missing or null ``Tags`` removes every tag, as in Mailpit.
    """
    data = await json_body(request)
    if not data:  # not JSON, not an object, or empty: Mailpit's decoder refuses it too
        return bad_request(_SET_TAGS)
    ids = string_list(json_field(data, "IDs"))
    tags = string_list(json_field(data, "Tags"))
    if ids is None or tags is None:
        return bad_request(_SET_TAGS)
    if ids:
        try:
            await inbox_of(request).set_tags(ids, tags)
        except TagsNotKeptError as error:
            return _not_kept(error)
    return text("ok")


@routes.put("/api/v1/tags/{Tag}")
async def rename_tag(request: web.Request) -> web.Response:
    """Rename tag ``{Tag}`` to ``Name`` on every message (Mailpit's RenameTag)."""
    data = await json_body(request)
    name = json_field(data, "Name") if data else None
    if not isinstance(name, str):
        return bad_request(_RENAME)
    new = clean_tag(name)
    if not new:
        return bad_request("invalid tag name: " + " ".join(name.split()))
    inbox = inbox_of(request)
    tags = await inbox.tags()
    old = _existing(tags, request.match_info["Tag"])
    if old is None:
        return bad_request(_tag_not_found(request))
    if new == old:
        return text("ok")
    taken = _existing(tags, new)
    if taken is not None and taken != old:
        return bad_request(f"tag already exists: {new}")
    try:
        await inbox.rename_tag(old, new)
    except TagsNotKeptError as error:
        return _not_kept(error)
    return text("ok")


@routes.delete("/api/v1/tags/{Tag}")
async def delete_tag(request: web.Request) -> web.Response:
    """Remove tag ``{Tag}`` from every message; the messages stay (Mailpit's DeleteTag)."""
    inbox = inbox_of(request)
    old = _existing(await inbox.tags(), request.match_info["Tag"])
    if old is None:
        return bad_request(_tag_not_found(request))
    try:
        await inbox.delete_tag(old)
    except TagsNotKeptError as error:
        return _not_kept(error)
    return text("ok")


def _tag_not_found(request: web.Request) -> str:
    """Mailpit's "tag not found: NAME", on one line whatever the path held."""
    return "tag not found: " + " ".join(request.match_info["Tag"].split())
