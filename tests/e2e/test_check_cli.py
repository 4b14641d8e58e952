"""``mailcatcher check``, run as a user runs it, over mail the stock ``aiosmtpd`` command caught.

The store is written by ``aiosmtpd -c mailcatcher.catcher.MailDir`` (the harness in
`tests.support`); the command is ``python -m mailcatcher check`` in its own process. The
exit status is what a CI script acts on: 0 when clean, 6 when a finding is an error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailcatcher.message import RULES
from tests.e2e.cli_support import run_cli, send
from tests.support import catcher
from tests.unit.test_check import CORPUS, TRANSACTIONAL_HTML, python_mail


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    maildir = tmp_path_factory.mktemp("check") / "mail"
    with catcher("maildir", maildir) as server:
        clean = python_mail(TRANSACTIONAL_HTML)
        send(server.host, server.port, clean, "bounce@shop.example", ["eva@example.com"])
        # The localhost link, sent as the wire bytes the corpus holds.
        send(
            server.host,
            server.port,
            CORPUS["link-localhost"],
            "bounce@shop.example",
            ["bob@example.com"],
        )
        send(
            server.host,
            server.port,
            CORPUS["multipart-unclosed"],
            "bounce@shop.example",
            ["dora@example.com"],
        )
        send(
            server.host,
            server.port,
            CORPUS["message-id-missing"],
            "bounce@shop.example",
            ["carl@example.com"],
        )
    return maildir


def test_a_clean_message_exits_0(store: Path) -> None:
    result = run_cli("check", str(store), "--to", "eva@example.com")
    assert result.status == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("Checked ")
    assert "bounce@shop.example -> eva@example.com  'Your order'" in lines[0]
    assert lines[1] == "No problems found."
    assert lines[2].startswith("HTML features fully supported (caniemail.com (")
    assert "Outlook " in lines[2]


def test_an_error_finding_exits_6_and_says_what_to_fix_where(store: Path) -> None:
    result = run_cli("check", str(store), "--to", "bob@example.com")
    assert result.status == 6, result.err
    assert result.err == ""
    assert result.out.splitlines()[1:] == [
        "error    link-localhost  part 1, line 1, link https://localhost:8000/verify?t=1: "
        "build links from the public site URL, not 'localhost' (loopback)",
        "1 error, 0 warnings, 0 info",
    ]


def test_the_stored_bytes_are_checked_too(store: Path) -> None:
    # The catcher keeps a body as it came: a multipart it got without its close
    # delimiter is stored without one, and the store's parser reads it as unclosed.
    result = run_cli("check", str(store), "--to", "dora@example.com")
    assert result.status == 6, result.err
    assert "error    multipart-unclosed  header Content-Type: end the multipart" in result.out


def test_warnings_alone_exit_0(store: Path) -> None:
    result = run_cli("check", str(store), "--to", "carl@example.com")
    assert result.status == 0, result.err
    assert "warning  message-id-missing  header Message-ID: add a Message-ID" in result.out


def test_json_holds_every_finding_with_its_rule(store: Path) -> None:
    result = run_cli("check", str(store), "--to", "bob@example.com", "--json")
    assert result.status == 6, result.err
    report = json.loads(result.out)
    assert report["counts"] == {"error": 1, "warning": 0, "info": 0}
    assert report["capped"] is False
    assert report["client_support"] is None  # no HTML
    (finding,) = report["findings"]
    assert finding == {
        "code": "link-localhost",
        "severity": "error",
        "message": "build links from the public site URL, not 'localhost' (loopback)",
        "location": {
            "header": None,
            "part": "1",
            "line": 1,
            "link": "https://localhost:8000/verify?t=1",
        },
        "feature": None,
        "title": RULES["link-localhost"].title,
        "source": RULES["link-localhost"].source,
        "description": RULES["link-localhost"].description,
    }


def test_json_of_a_clean_html_mail_summarises_client_support(store: Path) -> None:
    result = run_cli("check", str(store), "--to", "eva@example.com", "--json")
    assert result.status == 0, result.err
    support = json.loads(result.out)["client_support"]
    assert {family["name"] for family in support["families"]} >= {"Gmail", "Outlook"}
    assert all(
        feature["url"].startswith("https://www.caniemail.com/") for feature in support["features"]
    )


def test_the_newest_message_is_checked_without_filters(store: Path) -> None:
    result = run_cli("check", str(store))
    assert result.status == 0, result.err
    assert "-> carl@example.com" in result.out.splitlines()[0]


def test_no_matching_message_exits_4(store: Path) -> None:
    result = run_cli("check", str(store), "--to", "nobody@example.com")
    assert result.status == 4
    assert result.out == ""
    assert result.err.startswith("mailcatcher: no message matching")


def test_help_documents_exit_status_6() -> None:
    result = run_cli("check", "--help")
    assert result.status == 0
    assert "  6    check: the message has an error-severity finding" in result.out
    assert "mailcatcher check mail/" in result.out


def test_a_message_file_keeps_its_line_ends_for_the_check(tmp_path: Path) -> None:
    # A message file (a mail file store of one message, as a client saved it) is read
    # as it is: its CRLF line ends survive, so a lone LF among them is found.
    path = tmp_path / "saved.eml"
    path.write_bytes(CORPUS["bare-line-break"])
    result = run_cli("check", str(path))
    assert result.status == 6, result.err
    assert result.out.splitlines()[1:] == [
        "error    bare-line-break  line 11: end line 11 with CRLF, not a lone LF",
        "1 error, 0 warnings, 0 info",
    ]
