"""The Maildir's fast path: readers trust the index only while it is the files (no timing).

A reader answers from the index, without listing the directories, when every ``new/``
and ``cur/`` still has the mtime the writer recorded after its own change. These tests
change the Maildir behind the index's back, the ways other programs do, and check that
every reader still sees the files as they are.
"""

from __future__ import annotations

import mailbox
import os
import sqlite3
import time
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailcatcher import store
from mailcatcher.query import Filter, get_latest_message, get_messages, latest, wait_for_message
from mailcatcher.store import MaildirStore, _maildir, sort_newest_first


def make_message(
    subject: str, *, rcpt: str = "eva@example.com", login: str | None = None
) -> Message:
    auth = f"X-Mailcatcher-Auth-User: {login}\n" if login is not None else ""
    raw = (
        f"From: app@example.com\nTo: {rcpt}\nSubject: {subject}\n"
        f"X-MailFrom: app@example.com\nX-RcptTo: {rcpt}\n{auth}\nhello\n"
    ).encode()
    return BytesParser().parsebytes(raw)


FOREIGN = b"From: other@example.com\nX-RcptTo: eva@example.com\nSubject: foreign\n\nhi\n"


def latest_subject(path: Path, **wanted: str | float) -> str:
    """The subject of `get_latest_message(path, **wanted)`, which must find one."""
    found = get_latest_message(path, **wanted)  # type: ignore[arg-type]  # the filters
    assert found is not None, wanted
    return str(found["Subject"])


def subjects(path: Path) -> list[str]:
    return [entry.subject for entry in MaildirStore(path).entries()]


@pytest.fixture
def no_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any listing of the message directories (the fast path lists none)."""

    def refuse(self: MaildirStore) -> dict[str, str]:
        raise AssertionError("listed the directories")

    monkeypatch.setattr(MaildirStore, "_files", refuse)


def test_a_reader_answers_from_the_index_without_listing_the_directories(
    tmp_path: Path, no_listing: None
) -> None:
    with MaildirStore(tmp_path, create=True) as mail:
        for number in range(5):
            mail.add(make_message(f"m{number}", rcpt=f"user{number % 2}@example.com"))
        mail.add(make_message("inbox", login="app1"))
    assert latest_subject(tmp_path, to="user0@EXAMPLE.com") == "m4"
    assert latest_subject(tmp_path, inbox="app1") == "inbox"
    assert [m["Subject"] for m in get_messages(tmp_path, to="user1@example.com")] == ["m3", "m1"]
    assert subjects(tmp_path) == ["inbox", "m4", "m3", "m2", "m1", "m0"]


def test_a_file_another_program_delivers_within_the_same_mtime_tick_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A coarse mtime clock (a jiffy; newer Linux stamps finer only after a stat) gives
    # a change made within the same tick as the writer's rename the very same stamp.
    # That is simulated exactly: the directory gets the stamp the rename got.
    stamps: list[int] = []
    rename = os.rename

    def stamping_rename(source: str, target: str) -> None:
        rename(source, target)
        stamps.append(os.stat(os.path.dirname(target)).st_mtime_ns)

    monkeypatch.setattr(os, "rename", stamping_rename)
    new = tmp_path / "new"
    with MaildirStore(tmp_path, create=True) as mail:
        foreign = mailbox.Maildir(tmp_path, create=False)
        for round in range(3):
            mail.add(make_message(f"ours {round}"))
            tick = stamps[-1]
            key = foreign.add(FOREIGN)
            os.utime(new, ns=(os.stat(new).st_atime_ns, tick))
            found = get_latest_message(tmp_path)
            assert found is not None, round
            assert found["Subject"] == "foreign", round
            assert key in {entry.id for entry in MaildirStore(tmp_path).entries()}
            os.unlink(new / key)
            os.utime(new, ns=(os.stat(new).st_atime_ns, tick))  # deleted in that tick too
            assert latest_subject(tmp_path) == f"ours {round}"


def test_a_file_deleted_behind_the_index_is_not_listed(tmp_path: Path) -> None:
    with MaildirStore(tmp_path, create=True) as mail:
        entries = [mail.add(make_message(f"m{number}")) for number in range(3)]
    reader = MaildirStore(tmp_path)
    assert [e.subject for e in reader.entries()] == ["m2", "m1", "m0"]
    os.unlink(entries[2].path)
    assert latest_subject(tmp_path) == "m1"
    assert [e.subject for e in reader.entries()] == ["m1", "m0"]
    assert subjects(tmp_path) == ["m1", "m0"]


def test_files_a_mail_client_moves_to_cur_are_still_read(tmp_path: Path) -> None:
    with MaildirStore(tmp_path, create=True) as mail:
        for number in range(3):
            mail.add(make_message(f"m{number}"))
    client = mailbox.Maildir(tmp_path, create=False)
    for key in list(client.keys()):
        message = client[key]
        message.set_subdir("cur")
        message.add_flag("S")
        client[key] = message  # moved to cur/NAME:2,S
    assert not list((tmp_path / "new").iterdir())
    reader = MaildirStore(tmp_path)
    assert [e.subject for e in reader.entries()] == ["m2", "m1", "m0"]
    assert latest_subject(tmp_path) == "m2"
    assert reader.read(reader.entries()[0].id)["Subject"] == "m2"


def test_a_reader_that_listed_before_sees_what_changed_since(tmp_path: Path) -> None:
    writer = MaildirStore(tmp_path, create=True)
    first = [writer.add(make_message(f"m{number}")) for number in range(4)]
    reader = MaildirStore(tmp_path)
    assert len(reader.entries()) == 4
    writer.add(make_message("new one"))
    writer.delete([first[1].id])
    MaildirStore(tmp_path).set_tags([first[0].id], ["seen-elsewhere"])
    writer.add(make_message("another", login="app2"))
    assert reader.entries() == MaildirStore(tmp_path).entries()
    assert [e.subject for e in reader.entries()] == ["another", "new one", "m3", "m2", "m0"]
    assert [e.tags for e in reader.entries() if e.id == first[0].id] == [("seen-elsewhere",)]
    writer.close()


def test_keep_trims_and_readers_agree(tmp_path: Path) -> None:
    with MaildirStore(tmp_path, create=True) as mail:
        reader = MaildirStore(tmp_path)
        for number in range(10):
            mail.add(make_message(f"m{number}", rcpt=f"u{number}@example.com"), keep=3)
            assert len(reader.entries()) == min(number + 1, 3)
    assert subjects(tmp_path) == ["m9", "m8", "m7"]
    assert get_latest_message(tmp_path, to="u5@example.com") is None
    assert latest_subject(tmp_path, to="u8@example.com") == "m8"
    assert len(os.listdir(tmp_path / "new")) == 3


def test_recipients_are_matched_as_the_filter_says_whatever_their_form(tmp_path: Path) -> None:
    with MaildirStore(tmp_path, create=True) as mail:
        mail.add(make_message("quoted", rcpt='"eva"@Example.com'))
        mail.add(make_message("named", rcpt="Eva Example <eva@EXAMPLE.com>"))
        mail.add(make_message("other case", rcpt="EVA@example.com"))
        mail.add(make_message("plain", rcpt="eva@example.com"))
        mail.add(make_message("two", rcpt="eva@example.com, ann@example.com"))
    everything = MaildirStore(tmp_path).entries()
    for wanted in ("eva@example.COM", "Eva <eva@example.com>", '"eva"@example.com', "EVA@x.org"):
        found = [m["Subject"] for m in get_messages(tmp_path, to=wanted)]
        assert found == [e.subject for e in everything if Filter(to=wanted).matches(e)]
    found = [m["Subject"] for m in get_messages(tmp_path, to="eva@example.COM")]
    assert found == ["two", "plain", "named"]  # the local part keeps its case


def test_ties_in_time_are_ordered_by_id_as_every_surface_orders_them(tmp_path: Path) -> None:
    with MaildirStore(tmp_path, create=True) as mail:
        for number in range(3):
            mail.add(make_message(f"m{number}"))
    with sqlite3.connect(tmp_path / store.INDEX_NAME) as db:
        db.execute("UPDATE messages SET stored = 1700000000.5")
        db.execute("UPDATE recipients SET stored = 1700000000.5")
    expected = MaildirStore(tmp_path).entries()
    sort_newest_first(expected)
    assert [e.id for e in MaildirStore(tmp_path).entries()] == [e.id for e in expected]
    with MaildirStore(tmp_path) as mail:
        found = latest(mail, Filter(to="eva@example.com"))
        assert found is not None
        assert found.entry.id == expected[0].id
        assert [e.id for e in mail.newest_first()] == [e.id for e in expected]


def test_an_earlier_version_writing_without_marks_is_listed_then_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MaildirStore(tmp_path, create=True) as mail:
        mail.add(make_message("ours"))
    # What an earlier version's writer does: a row without a location, and a file.
    old = MaildirStore(tmp_path)
    entry = old.add(make_message("older catcher", rcpt="old@example.com"))
    old.close()
    with sqlite3.connect(tmp_path / store.INDEX_NAME) as db:
        db.execute("UPDATE messages SET location = NULL WHERE id = ?", (entry.id,))
        db.execute("DELETE FROM recipients WHERE id = ?", (entry.id,))
    os.utime(tmp_path / "new")  # its rename stamped the directory; no mark followed
    assert latest_subject(tmp_path, to="old@example.com") == "older catcher"
    monkeypatch.setattr(_maildir, "_MARK_AGE", 0.0)  # not to wait a second
    time.sleep(0.05)
    assert subjects(tmp_path) == ["older catcher", "ours"]  # lists, then marks
    monkeypatch.setattr(MaildirStore, "_files", lambda self: pytest.fail("listed"))
    assert latest_subject(tmp_path, to="old@example.com") == "older catcher"


def test_a_waiter_in_another_store_wakes_for_each_write(tmp_path: Path) -> None:
    with MaildirStore(tmp_path, create=True) as mail:
        mail.add(make_message("before"))
        since = time.time()
        mail.add(make_message("wanted", rcpt="late@example.com"))
    found = wait_for_message(tmp_path, 5, to="late@example.com", since=since)
    assert found["Subject"] == "wanted"


def test_clear_leaves_nothing_for_any_reader(tmp_path: Path) -> None:
    with MaildirStore(tmp_path, create=True) as mail:
        reader = MaildirStore(tmp_path)
        for number in range(3):
            mail.add(make_message(f"m{number}"))
        assert len(reader.entries()) == 3
        mail.clear()
        assert reader.entries() == []
        mail.add(make_message("after"))
        assert [e.subject for e in reader.entries()] == ["after"]
    assert latest_subject(tmp_path) == "after"
