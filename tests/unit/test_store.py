"""The store's guarantees, tested on the store itself (no SMTP)."""

from __future__ import annotations

import mailbox
import os
import threading
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import BinaryIO

import pytest

from mailcatcher import store
from mailcatcher.query import get_latest_message, get_messages
from mailcatcher.store import FileStore, MaildirStore, _file, _format, _maildir


def make_message(subject: str, body: str = "hello\n", rcpt: str = "eva@example.com") -> Message:
    raw = (
        f"From: app@example.com\nTo: {rcpt}\nSubject: {subject}\n"
        f"X-MailFrom: app@example.com\nX-RcptTo: {rcpt}\n\n{body}"
    ).encode()
    return BytesParser().parsebytes(raw)


def fail_halfway(message: Message, fp: BinaryIO) -> None:
    fp.write(b"Subject: partial\n\nhalf a mes")
    raise OSError(28, "No space left on device")


def test_file_store_replaces_atomically_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "latest.mail"
    mail = FileStore(target)
    mail.add(make_message("first"))
    inode = target.stat().st_ino
    mail.add(make_message("second"))
    # A new inode: the new file was renamed over the old, never written in place.
    assert target.stat().st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.mail"]
    latest = get_latest_message(target)
    assert latest is not None
    assert latest["Subject"] == "second"


def test_failed_write_keeps_previous_file_and_removes_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "latest.mail"
    mail = FileStore(target)
    mail.add(make_message("kept"))
    before = target.read_bytes()
    # The failure is injected into the generator; the write path around it is real.
    monkeypatch.setattr(_file, "write_message", fail_halfway)
    with pytest.raises(OSError, match="No space left"):
        mail.add(make_message("lost"))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.mail"]


def test_failed_maildir_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    maildir = MaildirStore(tmp_path / "mail", create=True)
    maildir.add(make_message("kept"))
    monkeypatch.setattr(_maildir, "write_message", fail_halfway)
    with pytest.raises(OSError, match="No space left"):
        maildir.add(make_message("lost"))
    assert os.listdir(tmp_path / "mail" / "tmp") == []
    assert [e.subject for e in maildir.entries()] == ["kept"]
    maildir.close()


def test_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "latest.mail"
    mail = FileStore(target)
    bodies = {f"m{i}": f"m{i}\n" * (2_000 * (i % 3 + 1)) for i in range(6)}
    mail.add(make_message("m0", bodies["m0"]))
    stop = threading.Event()
    seen: list[str] = []

    def write() -> None:
        for round in range(40):
            name = f"m{round % 6}"
            mail.add(make_message(name, bodies[name]))
        stop.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not stop.is_set():
        message = get_latest_message(target)
        assert message is not None
        subject = str(message["Subject"])
        # A partial or mixed file would end early or hold another message's body.
        assert message.get_content() == bodies[subject]
        seen.append(subject)
    writer.join()
    assert seen


def test_file_store_reads_none_before_the_first_message(tmp_path: Path) -> None:
    assert get_latest_message(tmp_path / "latest.mail") is None
    assert get_messages(tmp_path / "latest.mail") == []


def test_a_directory_that_is_not_a_maildir_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="Not a Maildir") as excinfo:
        get_latest_message(tmp_path / "stuff")
    assert str(tmp_path / "stuff") in str(excinfo.value)


def test_maildir_is_readable_by_the_stdlib(tmp_path: Path) -> None:
    maildir = MaildirStore(tmp_path / "mail", create=True)
    for subject in ("one", "two", "three"):
        maildir.add(make_message(subject))
    maildir.close()
    box = mailbox.Maildir(tmp_path / "mail", create=False)
    assert sorted(str(m["Subject"]) for m in box) == ["one", "three", "two"]


def test_maildir_keep_trims_the_oldest(tmp_path: Path) -> None:
    maildir = MaildirStore(tmp_path / "mail", create=True)
    for index in range(5):
        maildir.add(make_message(f"n{index}"), keep=2)
    assert [e.subject for e in maildir.entries()] == ["n4", "n3"]
    assert len(os.listdir(tmp_path / "mail" / "new")) == 2
    maildir.close()


def test_maildir_finds_messages_a_mail_client_moved_to_cur(tmp_path: Path) -> None:
    maildir = MaildirStore(tmp_path / "mail", create=True)
    entry = maildir.add(make_message("read me"))
    os.rename(entry.path, tmp_path / "mail" / "cur" / f"{entry.id}:2,S")
    assert [e.subject for e in maildir.entries()] == ["read me"]
    assert b"read me" in maildir.read_bytes(entry.id)
    maildir.delete([entry.id])
    assert maildir.entries() == []
    maildir.close()


def test_foreign_files_are_read_and_garbage_is_skipped_with_a_warning(tmp_path: Path) -> None:
    maildir = MaildirStore(tmp_path / "mail", create=True)
    maildir.add(make_message("ours"))
    # Delivered by another program (here: the stdlib), so the index has no row.
    mailbox.Maildir(tmp_path / "mail").add(make_message("theirs", rcpt="bob@example.com"))
    (tmp_path / "mail" / "new" / "broken").mkdir()
    with pytest.warns(UserWarning, match="skipping .*broken: it is not a regular file"):
        subjects = sorted(e.subject for e in maildir.entries())
    assert subjects == ["ours", "theirs"]
    maildir.close()


def test_the_index_is_a_cache_not_the_truth(tmp_path: Path) -> None:
    maildir = MaildirStore(tmp_path / "mail", create=True)
    gone = maildir.add(make_message("deleted by hand"))
    maildir.add(make_message("still here"))
    maildir.close()
    gone.path.unlink()
    (tmp_path / "mail" / store.INDEX_NAME).unlink()
    assert [m["Subject"] for m in get_messages(tmp_path / "mail")] == ["still here"]


def test_search_text_looks_in_bodies(tmp_path: Path) -> None:
    maildir = MaildirStore(tmp_path / "mail", create=True)
    hit = maildir.add(make_message("a", body="Your code is 4711.\n"))
    maildir.add(make_message("b", body="Nothing to see.\n"))
    assert maildir.search_text("CODE IS 4711") == {hit.id}
    assert maildir.search_text("100%") == set()
    maildir.close()


def test_a_header_the_stdlib_parser_chokes_on_still_reads() -> None:
    # policy.default raises IndexError on this parameter while parsing.
    raw = (
        b'Subject: odd\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; x*\r\n\r\nhello\r\n--b--\r\n"
    )
    message = store.parse_message(raw)
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/mixed",
        "text/plain",
    ]
    body = message.get_body()
    assert body is not None
    assert body.get_content() == "hello"


@pytest.mark.parametrize(
    "body",
    [
        b"unix\nlines\n",
        b"crlf\r\nlines\r\n",
        b"old mac\rlines\r",
        b"mixed\r\n\n\r\r\nno end",
        b"8-bit \xc3\xa9\xff\r\nbytes\n",
        b"",
    ],
)
def test_line_endings_come_out_as_the_stdlib_generator_writes_them(body: bytes) -> None:
    import io
    from email.generator import BytesGenerator

    for raw in (
        b"Subject: x\r\n\r\n" + body,
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\n' + body + b"\r\n--b--\r\n",
    ):
        message = BytesParser().parsebytes(raw)
        ours, theirs = io.BytesIO(), io.BytesIO()
        store.write_message(message, ours)
        BytesGenerator(theirs, mangle_from_=False, policy=_format._VERBATIM).flatten(message)
        assert ours.getvalue() == theirs.getvalue()


def test_a_quoted_comma_does_not_split_a_recipient(tmp_path: Path) -> None:
    maildir = MaildirStore(tmp_path / "mail", create=True)
    maildir.add(make_message("quoted", rcpt='"eva,boss@corp.com"@example.com, bob@example.com'))
    [entry] = maildir.entries()
    assert entry.recipients == ('"eva,boss@corp.com"@example.com', "bob@example.com")
    maildir.close()
    assert get_messages(tmp_path / "mail", to="boss@corp.com") == []
    assert len(get_messages(tmp_path / "mail", to="bob@example.com")) == 1


def test_inline_images_are_not_counted_as_attachments(tmp_path: Path) -> None:
    raw = (
        b'Subject: logo\r\nX-RcptTo: eva@example.com\r\nContent-Type: multipart/mixed; boundary="m"'
        b'\r\n\r\n--m\r\nContent-Type: multipart/related; boundary="r"\r\n\r\n'
        b'--r\r\nContent-Type: text/html\r\n\r\n<img src="cid:logo">\r\n'
        b"--r\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n\r\nPNG\r\n--r--\r\n"
        b"--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="a.pdf"\r\n\r\n%PDF\r\n--m--\r\n'
    )
    maildir = MaildirStore(tmp_path / "mail", create=True)
    entry = maildir.add(BytesParser().parsebytes(raw))
    assert entry.attachments == 1  # the PDF; the logo is part of the body
    maildir.close()


def test_a_damaged_index_is_read_around_with_a_warning(tmp_path: Path) -> None:
    maildir = MaildirStore(tmp_path / "mail", create=True)
    maildir.add(make_message("survives"))
    maildir.close()
    (tmp_path / "mail" / store.INDEX_NAME).write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / "mail" / (store.INDEX_NAME + suffix)).unlink(missing_ok=True)
    with pytest.warns(UserWarning, match="cannot read the index"):
        assert [m["Subject"] for m in get_messages(tmp_path / "mail")] == ["survives"]
    with pytest.warns(UserWarning, match="cannot read the index"):
        store.MaildirStore(tmp_path / "mail").clear()
    assert get_messages(tmp_path / "mail") == []


def test_the_latest_file_is_stamped_with_the_time_it_was_stored(tmp_path: Path) -> None:
    import time

    before = time.time()
    FileStore(tmp_path / "latest.mail").add(make_message("now"))
    after = time.time()
    [entry] = FileStore(tmp_path / "latest.mail").entries()
    assert before <= entry.stored <= after


def test_a_message_the_stdlib_parser_gives_up_on_is_kept(tmp_path: Path) -> None:
    from mailcatcher.store import parse_received as _parse_bytes

    # email.utils.decode_params raises TypeError on these parameters.
    raw = (
        b"Content-Type: multipart/mixed; boundary=b; a*0*=x; a*\r\nSubject: odd params\r\n"
        b"X-RcptTo: eva@example.com\r\n\r\n--b\r\n\r\nhi\r\n--b--\r\n"
    )
    maildir = MaildirStore(tmp_path / "mail", create=True)
    entry = maildir.add(_parse_bytes(raw, None))
    maildir.close()
    assert entry.subject == "odd params"
    assert entry.recipients == ("eva@example.com",)
    message = store.parse_message(entry.path.read_bytes())
    assert message["Subject"] == "odd params"
    assert "hi" in str(message.get_payload())


def test_maildir_problem_names_what_to_fix(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    MaildirStore(tmp_path / "mail", create=True).close()
    assert store.maildir_problem(tmp_path / "mail") is None
    assert store.maildir_problem(tmp_path / "new-name") is None
    assert store.maildir_problem(tmp_path / "file") == "it is a file"
    assert store.maildir_problem(tmp_path / "nope" / "mail") == (
        f"directory {tmp_path / 'nope'} does not exist"
    )
    assert store.maildir_problem(tmp_path / "other") == (
        "it holds other files and no cur/ and new/"
    )


@pytest.mark.parametrize("secret", ["pa#ss", "se?cret", "sl/ash"])
def test_a_database_password_is_masked_whatever_it_holds(secret: str) -> None:
    # libpq takes these as passwords; urlsplit ends the user part at '#' or '?'.
    from mailcatcher.store._location import mask, without_secrets

    url = f"postgresql://mail:{secret}@db.example/mail"
    assert secret not in mask(url)
    assert mask(url) == "postgresql://mail:***@db.example/mail"
    assert secret not in without_secrets(f"connection failed for {secret}", url)


def test_received_bytes_keep_their_header_block_small_however_far_the_blank_line() -> None:
    # The parser ends the header block at the first line that is not a header; handing
    # it everything up to a distant blank line cost a line object (about 60 bytes) for
    # every body line before it.
    data = b"Subject: x\r\n" + b"a\r\n" * 1000 + b"\r\nend\r\n"
    message = store.parse_received(data)
    assert message.keys() == ["Subject"]
    assert message.get_payload() == "a\r\n" * 1000 + "\r\nend\r\n"
