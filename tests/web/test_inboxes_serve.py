"""Inboxes end to end: ``mailcatcher serve``, real SMTP logins, each /inbox/NAME/ over HTTP.

Mail is sent with smtplib logging in with different credentials (serve accepts any), and
read back over HTTP with urllib, each check through its own inbox's base URL, as a grader
checking many apps at once would.
"""

from __future__ import annotations

import json
import smtplib
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests import support
from tests.support import HOST, Proc

SENDERS = 20


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Proc]:
    with support.catcher("serve", tmp_path / "mail", http=True) as proc:
        yield proc


def send(proc: Proc, login: str | None, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "eva@example.com"
    message["Subject"] = subject
    message.set_content(f"{subject}\n")
    with smtplib.SMTP(HOST, proc.port, timeout=30) as client:
        if login is not None:
            client.login(login, "pw")
        client.send_message(message)


def call(proc: Proc, path: str, method: str = "GET", timeout: float = 60) -> tuple[int, Any]:
    request = urllib.request.Request(f"{proc.url}{path.lstrip('/')}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()


def inbox(name: str) -> str:
    return f"inbox/{quote(name, safe='')}/"


def subjects(proc: Proc, base: str) -> list[str]:
    status, answer = call(proc, base + "api/v1/messages")
    assert status == 200, answer
    return sorted(message["Subject"] for message in answer["messages"])


def test_each_inbox_url_sees_its_logins_mail_and_delete_all_there_leaves_the_rest(
    serve: Proc,
) -> None:
    send(serve, "app1", "one for app1")
    send(serve, "app1", "two for app1")
    send(serve, "app2", "for app2")
    send(serve, None, "without login")
    assert subjects(serve, inbox("app1")) == ["one for app1", "two for app1"]
    assert subjects(serve, inbox("app2")) == ["for app2"]
    assert subjects(serve, inbox("default")) == ["without login"]
    status, listed = call(serve, "api/v1/inboxes")
    assert status == 200
    assert [(item["Name"], item["Messages"]) for item in listed] == [
        ("app1", 2),
        ("app2", 1),
        ("default", 1),
    ]
    status, answer = call(serve, inbox("app1") + "api/v1/messages", "DELETE")
    assert (status, answer) == (200, "")  # no body: delete all, MailHog's empty answer
    assert subjects(serve, inbox("app1")) == []
    assert subjects(serve, "") == ["for app2", "without login"]


def test_a_wait_under_an_inbox_wakes_for_that_inboxs_mail_only(serve: Proc) -> None:
    # The check starts waiting before the app sends anything (the inbox does not exist yet).
    answers: list[tuple[int, Any]] = []
    waiting = threading.Thread(
        target=lambda: answers.append(call(serve, inbox("late app") + "api/v1/wait?timeout=60"))
    )
    waiting.start()
    try:
        send(serve, "another app", "not for the waiting check")
        send(serve, "late app", "for the waiting check")
    finally:
        waiting.join(90)
    [(status, message)] = answers
    assert status == 200, message
    assert message["Subject"] == "for the waiting check"
    assert message["Username"] == "late app"


def test_twenty_concurrent_senders_each_see_exactly_their_own_mail(serve: Proc) -> None:
    logins = [f"student-{number:02d}" for number in range(SENDERS)]

    def check(login: str) -> tuple[int, Any]:
        # Each check waits in its own inbox while all twenty apps send at once.
        return call(serve, inbox(login) + "api/v1/wait?timeout=120", timeout=150)

    def app(login: str) -> None:
        send(serve, login, f"mail from {login}")

    with ThreadPoolExecutor(SENDERS * 2) as pool:
        checks = {login: pool.submit(check, login) for login in logins}
        for sent in [pool.submit(app, login) for login in logins]:
            sent.result()
        for login, result in checks.items():
            status, message = result.result()
            assert status == 200, (login, message)
            assert message["Subject"] == f"mail from {login}"
    for login in logins:
        assert subjects(serve, inbox(login)) == [f"mail from {login}"]
        status, info = call(serve, inbox(login) + "api/v1/info")
        assert (status, info["Messages"]) == (200, 1)
    assert len(subjects(serve, "")) == SENDERS
