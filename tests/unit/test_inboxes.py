"""Inboxes (one per AUTH login) and tags, on the stores and the query core (no SMTP)."""

from __future__ import annotations

import mailbox
import shutil
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailcatcher import store
from mailcatcher.query import Filter, clear, get_latest_message, get_messages, latest
from mailcatcher.store import FileStore, MaildirStore, folder_name
from mailcatcher.store._tags import MAX_TAGS


def make_message(
    subject: str, *, login: str | None = None, rcpt: str = "eva@example.com", extra: str = ""
) -> Message:
    auth = f"X-Mailcatcher-Auth-User: {login}\n" if login is not None else ""
    raw = (
        f"From: app@example.com\nTo: {rcpt}\nSubject: {subject}\n{extra}"
        f"X-MailFrom: app@example.com\nX-RcptTo: {rcpt}\n{auth}\nhello\n"
    ).encode()
    return BytesParser().parsebytes(raw)


def test_each_login_gets_a_maildir_plus_plus_folder_that_mailbox_reads(tmp_path: Path) -> None:
    mail = MaildirStore(tmp_path / "mail", create=True)
    mail.add(make_message("one", login="app1"))
    mail.add(make_message("two", login="app2"))
    mail.add(make_message("three"))
    root = tmp_path / "mail"
    assert (root / ".app1" / "maildirfolder").is_file()
    assert len(list((root / ".app1" / "new").iterdir())) == 1
    reader = mailbox.Maildir(root, create=False)
    assert sorted(reader.list_folders()) == ["app1", "app2"]
    assert [m["Subject"] for m in reader.get_folder("app1")] == ["one"]
    assert [m["Subject"] for m in reader] == ["three"]  # the default inbox is the root
    assert mail.inboxes() == {"app1": 1, "app2": 1, "default": 1}


def test_inbox_filters_every_reader_and_none_means_all(tmp_path: Path) -> None:
    mail = MaildirStore(tmp_path, create=True)
    for login in ("app1", "app2", None):
        mail.add(make_message(f"to {login}", login=login))
    assert [m["Subject"] for m in get_messages(tmp_path, inbox="app1")] == ["to app1"]
    assert [m["Subject"] for m in get_messages(tmp_path, inbox="default")] == ["to None"]
    assert len(get_messages(tmp_path)) == 3
    found = get_latest_message(tmp_path, inbox="app2")
    assert found is not None
    assert found["Subject"] == "to app2"
    assert get_latest_message(tmp_path, inbox="nobody") is None
    clear(tmp_path, inbox="app1")
    assert sorted(MaildirStore(tmp_path).inboxes()) == ["app2", "default"]


@pytest.mark.parametrize(
    ("login", "folder"),
    [
        ("app1", ".app1"),
        ("eva@example.com", ".eva@example%2Ecom"),
        ("../../etc", ".%2E%2E%2F%2E%2E%2Fetc"),
        ("50%", ".50%25"),
        ("grüße", ".gr%C3%BC%C3%9Fe"),
    ],
)
def test_folder_names_are_safe_and_read_back_as_the_login(
    tmp_path: Path, login: str, folder: str
) -> None:
    assert folder_name(login) == folder
    mail = MaildirStore(tmp_path, create=True)
    mail.add(make_message("hi", login=login))
    assert (tmp_path / folder / "new").is_dir()
    [entry] = MaildirStore(tmp_path).entries()
    assert entry.inbox == login


def test_a_login_too_long_for_a_file_name_gets_a_shortened_unique_folder(tmp_path: Path) -> None:
    logins = ["x" * 300 + "a", "x" * 300 + "b"]
    assert len({folder_name(login) for login in logins}) == 2
    assert all(len(folder_name(login)) <= 201 for login in logins)
    mail = MaildirStore(tmp_path, create=True)
    for login in logins:
        mail.add(make_message("long", login=login))
    assert MaildirStore(tmp_path).inboxes() == {logins[0]: 1, logins[1]: 1}


def test_a_folder_another_program_filled_is_an_inbox(tmp_path: Path) -> None:
    MaildirStore(tmp_path, create=True)
    foreign = mailbox.Maildir(tmp_path).add_folder("Reports")
    foreign.add(b"From: x@example.com\nSubject: filed by hand\n\nbody\n")
    [entry] = MaildirStore(tmp_path).entries()
    assert entry.inbox == "Reports"


def test_a_view_sees_and_touches_its_own_inbox_only(tmp_path: Path) -> None:
    mail = MaildirStore(tmp_path, create=True)
    mine = mail.add(make_message("mine", login="app1"))
    theirs = mail.add(make_message("theirs", login="app2"))
    view = MaildirStore(tmp_path).view("app1")
    assert [entry.id for entry in view.entries()] == [mine.id]
    assert view.read(mine.id)["Subject"] == "mine"
    with pytest.raises(KeyError):
        view.read_bytes(theirs.id)
    view.delete([theirs.id])
    view.set_tags([theirs.id], ["stolen"])
    assert [entry.id for entry in mail.entries()] == [theirs.id, mine.id]
    assert mail.entries()[0].tags == ()
    view.clear()
    assert [entry.id for entry in mail.entries()] == [theirs.id]


def test_tags_arrive_from_x_tags_and_plus_addresses_as_mailpit_does(tmp_path: Path) -> None:
    message = make_message(
        "tagged",
        rcpt="eva+welcome+DE@example.com",
        extra="X-Tags: Tag 1, tag 1 ,  b@d!x ,\nCc: Ops <ops+alerts@example.com>\n",
    )
    entry = MaildirStore(tmp_path, create=True).add(message)
    assert entry.tags == ("Tag 1", "b@d x", "welcome", "DE", "alerts")
    [listed] = MaildirStore(tmp_path).entries()
    assert listed.tags == entry.tags
    assert get_latest_message(tmp_path, tags="welcome") is not None
    assert get_latest_message(tmp_path, tags=["TAG 1", "de"]) is not None
    assert get_latest_message(tmp_path, tags=["welcome", "missing"]) is None


def test_a_flood_of_plus_parts_gives_a_bounded_number_of_tags(tmp_path: Path) -> None:
    rcpt = "eva+" + "+".join(f"t{i}" for i in range(5000)) + "@example.com"
    entry = MaildirStore(tmp_path, create=True).add(make_message("flood", rcpt=rcpt))
    assert len(entry.tags) == MAX_TAGS
    assert entry.tags[:2] == ("t0", "t1")


def test_set_tags_survive_a_restart_and_reach_other_readers(tmp_path: Path) -> None:
    writer = MaildirStore(tmp_path, create=True)
    entry = writer.add(make_message("hello"))
    reader = MaildirStore(tmp_path)
    assert reader.entries()[0].tags == ()  # listed (and cached) before the change
    writer.set_tags([entry.id], ["Signup", "signup", "Done!"])
    writer.close()
    assert reader.entries()[0].tags == ("Signup", "Done")
    assert MaildirStore(tmp_path).entries()[0].tags == ("Signup", "Done")
    assert latest(reader, Filter(tags="done")) is not None
    # The message file stays as it was received.
    assert b"Signup" not in next((tmp_path / "new").iterdir()).read_bytes()


def test_rename_and_delete_a_tag_everywhere(tmp_path: Path) -> None:
    mail = MaildirStore(tmp_path, create=True)
    first = mail.add(make_message("a", extra="X-Tags: old, keep\n"))
    mail.add(make_message("b", extra="X-Tags: OLD\n"))
    mail.add(make_message("c"))
    assert mail.tags() == {"keep": 1, "old": 2}
    mail.rename_tag("old", "New")
    assert mail.tags() == {"keep": 1, "New": 2}
    mail.delete_tag("new")
    assert mail.tags() == {"keep": 1}
    assert [e.tags for e in mail.entries() if e.id == first.id] == [("keep",)]


def test_tags_can_be_set_on_a_message_another_program_delivered(tmp_path: Path) -> None:
    MaildirStore(tmp_path, create=True)
    key = mailbox.Maildir(tmp_path).add(b"From: x@example.com\nSubject: foreign\n\nbody\n")
    mail = MaildirStore(tmp_path)
    [entry] = mail.entries()
    assert entry.id == key
    mail.set_tags([key], ["filed"])
    assert MaildirStore(tmp_path).entries()[0].tags == ("filed",)


def test_an_index_of_the_old_layout_is_rebuilt_and_the_mail_still_read(tmp_path: Path) -> None:
    import sqlite3

    MaildirStore(tmp_path, create=True).add(make_message("before", extra="X-Tags: kept\n"))
    with sqlite3.connect(tmp_path / store.INDEX_NAME) as db:
        db.execute("PRAGMA user_version = 2")
    [entry] = MaildirStore(tmp_path).entries()  # a reader ignores it, reads the file
    assert (entry.subject, entry.tags) == ("before", ("kept",))
    MaildirStore(tmp_path, create=True).add(make_message("after"))  # the writer rebuilds
    assert [e.subject for e in MaildirStore(tmp_path).entries()] == ["after", "before"]


def test_a_single_mail_file_has_arrival_tags_and_refuses_to_keep_others(tmp_path: Path) -> None:
    mail = FileStore(tmp_path / "latest.mail")
    mail.add(make_message("one", login="app1", extra="X-Tags: a\n"))
    [entry] = mail.entries()
    assert (entry.inbox, entry.tags) == ("app1", ("a",))
    with pytest.raises(store.TagsNotKeptError, match="keeps no tags"):
        mail.set_tags([entry.id], ["b"])
    assert get_latest_message(tmp_path / "latest.mail", inbox="app1") is not None
    assert get_latest_message(tmp_path / "latest.mail", inbox="default") is None


def test_a_folder_that_is_removed_is_no_longer_listed(tmp_path: Path) -> None:
    mail = MaildirStore(tmp_path, create=True)
    mail.add(make_message("gone", login="app1"))
    mail.add(make_message("stays"))
    assert len(mail.entries()) == 2
    shutil.rmtree(tmp_path / ".app1")
    assert [e.subject for e in mail.entries()] == ["stays"]
