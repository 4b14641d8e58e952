"""Every message the catcher answered ``250`` for is read back on every surface.

DESIGN.md's promise to readers: a message that got a ``250`` can be listed, searched and
opened on every surface, however malformed it is. Hypothesis draws batches of generated
(`mime.messages`) and malformed (`mime.malformed_mail`) messages; each batch goes through a
real catcher process, and then every message of it is read through

- the library: ``get_latest_message``, ``get_messages`` and the `mailcatcher.message`
  helpers (bodies, links, attachments, parts, headers, search text);
- the command: ``list``, ``list --json``, ``show``, ``show --json``, ``links`` (for each
  message with ``--to``), exit status 0 (``links``: or 4, "no links"), never a traceback;
- the web app in-process (aiohttp's test client): the list, a search, the message and its
  headers, raw source, envelope, links, parts and pages, ``latest`` too; never a 5xx.

The command runs in one process per batch, not one per message and command: the real
``python -m mailcatcher list --json`` once, and a driver that calls `mailcatcher.cli.main`
(what ``python -m mailcatcher`` runs) for every other command and message.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcatcher import get_latest_message, get_messages
from mailcatcher import message as mc_message
from mailcatcher.web import create_app
from tests.reliability import mime
from tests.reliability.harness import data_reply
from tests.support import MAILCATCHER, Proc, catcher

SENDER = "app@example.com"
#: Batches per catcher; a deeper hunt: SURFACE_EXAMPLES=200 pytest -m slow tests/reliability
EXAMPLES = int(os.environ.get("SURFACE_EXAMPLES", "12"))
HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "Content-Type")

#: What `show` and `links` may answer: 0, or 4 when there is nothing to show (no links).
EXIT_OK, EXIT_NOT_FOUND = 0, 4

# The command, for each message: run in one process per batch by calling the same `main`
# that ``python -m mailcatcher`` calls; an exception that escapes it is reported, not raised.
DRIVER = """
import io, json, sys, traceback
from mailcatcher.cli import main

store, tokens = sys.argv[1], sys.argv[2:]
commands = [["list", store], ["show", store], ["show", store, "--json"], ["links", store]]
for token in tokens:
    for command in (["show"], ["show", "--json"], ["links"]):
        commands.append([command[0], store, "--to", token, *command[1:]])
results = []
real_out, real_err = sys.stdout, sys.stderr
for args in commands:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape")
    err = io.StringIO()
    sys.stdout, sys.stderr = out, err
    escaped = None
    try:
        status = main(args)
    except BaseException:
        status = None
        escaped = traceback.format_exc()
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    out.flush()
    results.append({
        "args": args,
        "status": status,
        "out": out.buffer.getvalue().decode("utf-8", "replace"),
        "err": err.getvalue(),
        "escaped": escaped,
    })
json.dump(results, sys.stdout)
"""


def mail() -> st.SearchStrategy[mime.MessageSpec | bytes]:
    """Generated mail in both header styles (rendered when sent), and malformed mail."""
    return st.one_of(mime.messages(utf8=False), mime.messages(utf8=True), mime.malformed_mail())


# --- the library -----------------------------------------------------------------------------


def read_with_the_library(store: Path, token: str, *, only_one: bool) -> None:
    found = get_latest_message(store, to=token)
    assert found is not None, f"get_latest_message found nothing for {token}"
    assert mc_message.envelope_recipients(found) == [token]
    matching = get_messages(store, to=token)
    assert len(matching) == 1 or not only_one, matching
    helpers: list[Callable[[EmailMessage], object]] = [
        mc_message.text_body,
        mc_message.html_body,
        mc_message.links,
        mc_message.attachments,
        mc_message.parts,
        mc_message.search_text,
        mc_message.raw_headers,
        mc_message.envelope_sender,
        mc_message.auth_user,
        mc_message.peer,
    ]
    for helper in helpers:
        helper(found)
    for name in HEADERS:
        assert isinstance(mc_message.header(found, name), str)
    for part in mc_message.parts(found):
        assert mc_message.find_part(found, part.part_id) is not None, part.part_id


# --- the command -----------------------------------------------------------------------------


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv, capture_output=True, text=True, errors="replace", timeout=300, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def read_with_the_command(store: Path, tokens: list[str], total: int) -> None:
    listed = run([*MAILCATCHER, "list", str(store), "--json"])
    assert listed.returncode == EXIT_OK, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == total, rows
    driven = run([sys.executable, "-c", DRIVER, str(store), *tokens])
    assert driven.returncode == 0, driven.stderr
    for result in json.loads(driven.stdout):
        args, status, out, err = result["args"], result["status"], result["out"], result["err"]
        where = f"mailcatcher {' '.join(args)}"
        assert result["escaped"] is None, f"{where}:\n{result['escaped']}"
        assert "Traceback" not in err, f"{where}:\n{err}"
        allowed = (EXIT_OK, EXIT_NOT_FOUND) if args[0] == "links" else (EXIT_OK,)
        assert status in allowed, f"{where}: exit {status}\n{err}"
        if "--json" in args:
            shown = json.loads(out)
            if "--to" in args:
                assert shown["envelope"]["recipients"] == [args[args.index("--to") + 1]], shown


# --- the web app -----------------------------------------------------------------------------


async def get(client: TestClient[Any, Any], path: str, status: int = 200) -> bytes:
    """GET `path`; it must answer `status` (a 404 would mean a message went missing)."""
    async with client.get(path) as response:
        body = await response.read()
        assert response.status == status, (path, response.status, body[:2000])
    return body


def html_status(store: Path, token: str | None) -> int:
    """What ``/view/ID.html`` answers: 404 for a message without an HTML body (Mailpit's)."""
    found = get_latest_message(store) if token is None else get_latest_message(store, to=token)
    assert found is not None
    return 404 if mc_message.html_body(found) is None else 200


async def read_on_the_web(store: Path, tokens: list[str], total: int) -> None:
    server = TestServer(create_app(store), host="127.0.0.1")
    async with TestClient(server) as client:
        listing = json.loads(await get(client, "/api/v1/messages?limit=0"))
        assert listing["total"] == total, listing
        assert len(listing["messages"]) == total
        for token in tokens:
            found = json.loads(await get(client, f"/api/v1/search?query=to:{quote(token)}"))
            ids = [summary["ID"] for summary in found["messages"]]
            assert len(ids) == 1, (token, found)
            base = f"/api/v1/message/{quote(ids[0])}"
            opened = json.loads(await get(client, base))
            for suffix in ("/headers", "/raw", "/envelope", "/links"):
                await get(client, base + suffix)
            for part in [*opened["Inline"], *opened["Attachments"]]:
                await get(client, f"{base}/part/{quote(part['PartID'])}")
            await get(client, f"/view/{quote(ids[0])}.txt")
            await get(client, f"/view/{quote(ids[0])}.html", html_status(store, token))
        for path in (
            "/",
            "/api/v1/info",
            "/api/v1/message/latest",
            "/api/v1/message/latest/headers",
            "/api/v1/message/latest/raw",
            "/view/latest.txt",
        ):
            await get(client, path)
        await get(client, "/view/latest.html", html_status(store, None))


# --- the property ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "batch"),
    [("mailfile", 1), ("maildir", 6), ("serve", 6)],
)
def test_every_surface_reads_every_accepted_message(kind: str, batch: int, tmp_path: Path) -> None:
    store = tmp_path / ("latest.mail" if kind == "mailfile" else "mail")
    run_id = uuid.uuid4().hex[:8]
    numbers = itertools.count()
    stored = 0

    def deliver(proc: Proc, mail: mime.MessageSpec | bytes) -> str:
        # A letter before the number: no recipient is a substring of another.
        token = f"s{run_id}x{next(numbers)}@example.com"
        data = mail if isinstance(mail, bytes) else mime.render(mail)
        code, reply = data_reply(proc.port, SENDER, [token], data)
        assert code == 250, (code, reply)
        return token

    with catcher(kind, store, log=tmp_path / "server.log") as proc:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(batch=st.lists(mail(), min_size=1, max_size=batch))
        def every_surface(batch: list[mime.MessageSpec | bytes]) -> None:
            nonlocal stored
            tokens = [deliver(proc, data) for data in batch]
            stored = 1 if kind == "mailfile" else stored + len(tokens)
            for token in tokens:
                read_with_the_library(store, token, only_one=True)
            read_with_the_command(store, tokens, stored)
            asyncio.run(read_on_the_web(store, tokens, stored))

        every_surface()
