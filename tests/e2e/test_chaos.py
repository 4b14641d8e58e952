"""``mailcatcher serve --enable-chaos``: Mailpit's Chaos API, with Mailpit's JSON, end to end.

A real ``serve`` process, set over HTTP with urllib as a Mailpit tool would, and real
smtplib clients that meet the errors.
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Proc, catcher

MESSAGE = b"Subject: Hi\r\n\r\nHi\r\n"
DEFAULTS = {
    "Sender": {"ErrorCode": 451, "Probability": 0},
    "Recipient": {"ErrorCode": 451, "Probability": 0},
    "Authentication": {"ErrorCode": 535, "Probability": 0},
}


def call(proc: Proc, method: str, body: object = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{proc.url}api/v1/chaos", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def send(proc: Proc) -> None:
    with smtplib.SMTP(proc.host, proc.port, timeout=30) as client:
        client.sendmail("app@example.com", ["eva@example.com"], MESSAGE)


@pytest.fixture
def chaotic(tmp_path: Path) -> Iterator[Proc]:
    with catcher("serve", tmp_path / "mail", http=True, options=["--enable-chaos"]) as proc:
        yield proc


def test_get_answers_mailpits_defaults(chaotic: Proc) -> None:
    assert call(chaotic, "GET") == (200, DEFAULTS)


def test_a_sender_trigger_at_100_percent_refuses_mail_from(chaotic: Proc) -> None:
    status, answer = call(chaotic, "PUT", {"Sender": {"ErrorCode": 550, "Probability": 100}})
    assert status == 200
    assert answer == {**DEFAULTS, "Sender": {"ErrorCode": 550, "Probability": 100}}
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(chaotic)
    assert (refused.value.smtp_code, refused.value.smtp_error) == (550, b"Chaos sender error")
    # Mailpit: triggers left out go back to their defaults, off; {} turns all off.
    assert call(chaotic, "PUT", {}) == (200, DEFAULTS)
    send(chaotic)


def test_recipient_and_authentication_triggers(chaotic: Proc) -> None:
    # Go's JSON decoder matches names in any case; tools may send them so.
    body = {
        "recipient": {"errorcode": 452, "probability": 100},
        "Authentication": {"ErrorCode": 0, "Probability": 100},  # 0: the default code
    }
    status, answer = call(chaotic, "PUT", body)
    assert status == 200
    assert answer["Recipient"] == {"ErrorCode": 452, "Probability": 100}
    assert answer["Authentication"] == {"ErrorCode": 535, "Probability": 100}
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(chaotic)
    assert refused.value.recipients == {"eva@example.com": (452, b"Chaos recipient error")}
    with smtplib.SMTP(chaotic.host, chaotic.port, timeout=30) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            client.login("user", "password")
        assert failed.value.smtp_code == 535


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"Sender": {"ErrorCode": 250, "Probability": 5}},
            "error code must be between 400 and 599",
        ),
        (
            {"Sender": {"ErrorCode": 451, "Probability": 101}},
            "probability must be between 0 and 100",
        ),
        ({"Sender": {"ErrorCode": "451", "Probability": 5}}, "Sender.ErrorCode is a whole number"),
        ([1, 2], "the body is a JSON object of triggers"),
    ],
)
def test_bad_triggers_get_mailpits_400(chaotic: Proc, body: object, error: str) -> None:
    status, text = call(chaotic, "PUT", body)
    assert (status, error in text) == (400, True), text
    assert call(chaotic, "GET") == (200, DEFAULTS)  # nothing changed


def test_off_by_default(tmp_path: Path) -> None:
    with catcher("serve", tmp_path / "mail", http=True) as proc:
        assert call(proc, "GET") == (400, "Chaos is not enabled")
        assert call(proc, "PUT", {"Sender": {"ErrorCode": 550, "Probability": 100}}) == (
            400,
            "Chaos is not enabled",
        )
        send(proc)
