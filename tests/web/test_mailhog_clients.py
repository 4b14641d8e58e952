"""MailHog's real clients against ``mailcatcher serve`` (issue 13, items 3 and 4).

The npm ``mailhog`` client (blueimp/mailhog-node 4.16.0, the one downloaded 170,000
times a month) is driven by ``clients/mailhog_npm.js``; the PyPI ``mailhog`` client
(0.1.1) is imported. Mail goes in over SMTP with smtplib; the store is read back with
the stdlib's `mailbox.Maildir`, a reader that is not ours. ``.ci/run`` installs both
clients; without node or the npm client a developer's run skips, CI's fails.
"""

from __future__ import annotations

import json
import mailbox
import os
import shutil
import smtplib
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import mailhog as mailhog_pypi
import pytest

from mailcatcher.web import mailhog
from tests.support import Proc, catcher

CLIENTS = Path(__file__).parent / "clients"
NPM_DRIVER = CLIENTS / "mailhog_npm.js"
NPM_INSTALL = "npm install --prefix tests/web/clients mailhog@4.16.0"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Proc]:
    """``mailcatcher serve`` with its web inbox, on ports the OS picked."""
    with catcher("serve", tmp_path / "mail", http=True) as proc:
        yield proc


def stored(tmp_path: Path) -> list[str]:
    """The subjects in the store, read by the stdlib's Maildir reader."""
    return sorted(str(message["Subject"]) for message in mailbox.Maildir(tmp_path / "mail"))


def send(proc: Proc, message: EmailMessage, recipients: list[str] | None = None) -> None:
    with smtplib.SMTP(proc.host, proc.port, timeout=30) as client:
        client.send_message(message, to_addrs=recipients)


def welcome() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "App <app@example.com>"
    message["To"] = "Eva <eva@example.com>"
    message["Subject"] = "Welcome Eva"
    message.set_content("Grüße, your code is 4711\n", cte="quoted-printable")
    message.add_alternative("<p>Grüße, your code is <b>4711</b></p>\n", subtype="html")
    return message


def invoice() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Billing <billing@shop.example>"
    message["To"] = "bob@example.com"
    message["Subject"] = "Rechnung für Bob"  # sent as an RFC 2047 encoded word
    message.set_content("Your invoice is attached.\n")
    message.add_attachment(
        b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    return message


def secret() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "carol@example.com"
    message["Subject"] = "Blind copy"
    message.set_content("A copy went to someone the headers do not name.\n")
    return message


def node() -> str:
    """The node command, with the npm client installed; skip or fail when missing."""
    found = shutil.which("node")
    problem = None
    if found is None:
        problem = "node is not installed (apt-get install nodejs npm)"
    elif not (CLIENTS / "node_modules" / "mailhog" / "package.json").exists():
        problem = f"the npm mailhog client is not installed ({NPM_INSTALL})"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}; .ci/run installs it")
        pytest.skip(problem)
    assert found is not None
    return found


def npm_client(proc: Proc, *calls: list[Any], base_path: str = "/api") -> list[Any]:
    """Run `calls` through the npm client, in order; what each resolved with."""
    assert proc.http_port is not None
    done = subprocess.run(
        [node(), str(NPM_DRIVER), proc.host, str(proc.http_port), base_path, json.dumps(calls)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    results: list[Any] = json.loads(done.stdout)
    return results


def test_npm_client_delete_all_reports_success_and_empties_the_store(
    server: Proc, tmp_path: Path
) -> None:
    """The issue's finding: on Mailpit's "ok", deleteAll() rejected after deleting it all."""
    send(server, welcome())
    send(server, secret())
    assert len(stored(tmp_path)) == 2
    [result] = npm_client(server, ["deleteAll"])
    assert result == {"statusCode": 200}
    assert stored(tmp_path) == []


def test_npm_client_lists_searches_deletes_and_is_refused_a_release(
    server: Proc, tmp_path: Path
) -> None:
    send(server, welcome())
    send(server, invoice())
    send(server, secret(), ["carol@example.com", "hidden@example.com"])
    [page, first_two] = npm_client(server, ["messages"], ["messages", 0, 2])
    assert (page["total"], page["count"], page["start"]) == (3, 3, 0)
    assert [item["subject"] for item in page["items"]] == [
        "Blind copy",
        "Rechnung für Bob",
        "Welcome Eva",
    ]
    assert [item["ID"] for item in first_two["items"]] == [item["ID"] for item in page["items"]][:2]
    blind, bill, hello = page["items"]
    # The client's getters decode MailHog's fields: quoted-printable, charset, base64.
    # A part's body ends where MailHog trims it: before the line break.
    assert hello["text"] == "Grüße, your code is 4711"
    assert hello["html"] == "<p>Grüße, your code is <b>4711</b></p>"
    assert hello["from"] == "App <app@example.com>"
    assert hello["to"] == "Eva <eva@example.com>"
    assert hello["sender"] == "app@example.com"
    assert bill["attachments"] == [
        {
            "name": "invoice.pdf",
            "type": "application/pdf",
            "encoding": "base64",
            "content": "%PDF-1.4 invoice",
        }
    ]
    assert blind["recipients"] == ["carol@example.com", "hidden@example.com"]

    ids = {item["subject"]: item["ID"] for item in page["items"]}
    found = npm_client(
        server,
        ["search", "billing@shop.example", "from"],
        ["search", "hidden@example.com", "to"],
        ["search", "4711"],  # kind defaults to containing
        ["latestFrom", "app@example.com"],
        ["latestTo", "eva@example.com"],
        ["latestContaining", "Rechnung"],
        ["latestTo", "nobody@example.com"],
        ["releaseMessage", ids["Welcome Eva"], {"host": "127.0.0.1", "port": "25"}],
        ["deleteMessage", ids["Rechnung für Bob"]],
        ["messages"],
    )
    by_from, by_to, containing, latest_from, latest_to, latest_containing = found[:6]
    nobody, release, deleted, after = found[6:]
    assert [item["ID"] for item in by_from["items"]] == [ids["Rechnung für Bob"]]
    assert [item["ID"] for item in by_to["items"]] == [ids["Blind copy"]]
    assert [item["ID"] for item in containing["items"]] == [ids["Welcome Eva"]]
    assert latest_from["ID"] == ids["Blind copy"]
    assert latest_to["ID"] == ids["Welcome Eva"]
    assert latest_containing["ID"] == ids["Rechnung für Bob"]
    assert nobody == 0  # the client's "no match"
    # The client resolves with whatever JSON came back: the reason, not a release.
    assert release == {"error": mailhog.RELEASE_REFUSED}
    assert deleted == {"statusCode": 200}
    assert [item["subject"] for item in after["items"]] == ["Blind copy", "Welcome Eva"]
    assert stored(tmp_path) == ["Blind copy", "Welcome Eva"]


def test_npm_client_with_the_mailhog_base_path(server: Proc, tmp_path: Path) -> None:
    """Under /mailhog (MailHog's own -ui-web-path), every call is MailHog's."""
    send(server, welcome())
    page, deleted, after = npm_client(
        server, ["messages"], ["deleteAll"], ["messages"], base_path=f"{mailhog.BASE}/api"
    )
    assert [item["subject"] for item in page["items"]] == ["Welcome Eva"]
    assert deleted == {"statusCode": 200}
    assert after["total"] == 0
    assert stored(tmp_path) == []


def test_pypi_client_lists_searches_gets_deletes(server: Proc, tmp_path: Path) -> None:
    send(server, welcome())
    send(server, invoice())
    send(server, secret(), ["carol@example.com", "hidden@example.com"])
    assert server.http_port is not None
    client = mailhog_pypi.Mailhog(host=server.host, port=server.http_port)

    page = client.messages()
    assert (page.total, page.count, page.start) == (3, 3, 0)
    blind, bill, hello = page.items
    assert hello.get_subject() == "Welcome Eva"  # the client strips "['" and "']"
    assert hello.get_sender() == "app@example.com"
    assert blind.get_recipients() == ["carol@example.com", "hidden@example.com"]
    # No preamble (smtplib's messages have none); the last part is MailHog's closing "--".
    assert [part.headers.get("Content-Type") for part in hello.mime.parts] == [
        "['text/plain; charset=\"utf-8\"']",
        "['text/html; charset=\"utf-8\"']",
        None,
    ]
    assert client.messages(start=1, limit=1).items[0].id == bill.id

    assert [m.id for m in client.search("billing@shop", "from").items] == [bill.id]
    assert [m.id for m in client.search("hidden@example.com", "to").items] == [blind.id]
    assert [m.id for m in client.search("4711").items] == [hello.id]
    assert [m.id for m in client.search("eva@example.com", "To").items] == [hello.id]

    # The client has no call for one message: its types read what v1 answers.
    base = f"http://{server.host}:{server.http_port}"
    with urllib.request.urlopen(f"{base}/api/v1/messages/{bill.id}", timeout=30) as response:
        one = json.loads(response.read())
    wrapped = json.dumps({"total": 1, "count": 1, "start": 0, "items": [one]})
    assert mailhog_pypi.Messages.from_json(wrapped).items[0] == bill

    # Nor for release: MailHog's endpoint is refused with a reason.
    release = urllib.request.Request(
        f"{base}/api/v1/messages/{bill.id}/release", data=b"{}", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(release, timeout=30)
    assert refused.value.code == 501
    assert json.loads(refused.value.read()) == {"error": mailhog.RELEASE_REFUSED}
    refused.value.close()

    client.delete(bill)
    assert [m.id for m in client.messages().items] == [blind.id, hello.id]
    assert stored(tmp_path) == ["Blind copy", "Welcome Eva"]
    client.delete_all()
    assert client.messages().total == 0
    assert stored(tmp_path) == []
