"""Filters and waiting over a store, without SMTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailcatcher import clear, get_latest_message, get_messages, wait_for_message
from mailcatcher.query import normalize_address
from mailcatcher.store import MaildirStore


def add(maildir: MaildirStore, subject: str, rcpts: str, sender: str = "app@example.com") -> None:
    raw = (
        f"From: App <{sender}>\nTo: {rcpts}\nSubject: {subject}\n"
        f"X-MailFrom: {sender}\nX-RcptTo: {rcpts}\n\nbody\n"
    ).encode()
    maildir.add(BytesParser().parsebytes(raw))


@pytest.fixture
def maildir(tmp_path: Path) -> Iterator[MaildirStore]:
    store = MaildirStore(tmp_path / "mail", create=True)
    add(store, "Welcome Eva", "eva@example.com")
    add(store, "Welcome Bob", "bob@example.com, eva@example.com")
    add(store, "=?utf-8?q?R=C3=A9initialiser?=", "Zoe@Example.com", sender="noreply@example.org")
    yield store
    store.close()


def subjects(messages: list[EmailMessage]) -> list[str]:
    return [str(m["Subject"]) for m in messages]


def test_normalize_address_folds_the_domain_only() -> None:
    assert normalize_address("Eva <Eva@EXAMPLE.com>") == "Eva@example.com"
    assert normalize_address("eva@example.com") != normalize_address("EVA@example.com")


def test_to_matches_any_recipient_and_domain_case(maildir: MaildirStore) -> None:
    assert subjects(get_messages(maildir.path, to="eva@EXAMPLE.COM")) == [
        "Welcome Bob",
        "Welcome Eva",
    ]
    latest = get_latest_message(maildir.path, to="zoe@example.com")
    assert latest is None  # the local part is compared as sent: Zoe, not zoe
    latest = get_latest_message(maildir.path, to="Zoe@example.COM")
    assert latest is not None
    assert latest["Subject"] == "Réinitialiser"


def test_a_display_name_never_matches(maildir: MaildirStore) -> None:
    assert get_messages(maildir.path, to="Eva") == []
    assert get_messages(maildir.path, to="App") == []


def test_sender_and_subject_filters(maildir: MaildirStore) -> None:
    assert subjects(get_messages(maildir.path, sender="noreply@example.org")) == ["Réinitialiser"]
    # The subject filter is a case-insensitive substring of the decoded subject.
    assert subjects(get_messages(maildir.path, subject="réinit")) == ["Réinitialiser"]


def test_since_excludes_older_messages(maildir: MaildirStore) -> None:
    cutoff = time.time()
    assert get_messages(maildir.path, since=cutoff) == []
    add(maildir, "Fresh", "eva@example.com")
    assert subjects(get_messages(maildir.path, to="eva@example.com", since=cutoff)) == ["Fresh"]


def test_wait_returns_a_message_stored_during_the_wait(maildir: MaildirStore) -> None:
    since = time.time()
    timer = threading.Timer(0.2, add, args=(maildir, "Late", "late@example.com"))
    timer.start()
    try:
        message = wait_for_message(maildir.path, 5, to="late@example.com", since=since)
    finally:
        timer.join()
    assert message["Subject"] == "Late"


def test_wait_with_since_ignores_what_was_there(maildir: MaildirStore) -> None:
    with pytest.raises(TimeoutError) as excinfo:
        wait_for_message(maildir.path, 0.2, to="eva@example.com", since=time.time())
    text = str(excinfo.value)
    assert text.startswith("no message matching to='eva@example.com', since=")
    # The failure lists what did arrive, newest first.
    assert "to Zoe@Example.com from noreply@example.org: 'Réinitialiser'" in text
    assert "to bob@example.com, eva@example.com from app@example.com: 'Welcome Bob'" in text


def test_clear_empties_the_store(maildir: MaildirStore) -> None:
    clear(maildir.path)
    assert get_messages(maildir.path) == []
