"""The Maildir store's remembered listing (added for the web inbox's speed) stays true.

`MaildirStore.entries()` reuses the entries it built before, so these tests change the
Maildir behind its back, with another store object or as a mail client would, and
check that the next listing and `read_bytes` see exactly the change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailcatcher.store import MaildirStore
from tests.web.support import add, mail


def test_new_and_deleted_messages_show_up_in_the_next_listing(tmp_path: Path) -> None:
    first, second = add(tmp_path, mail("first"), mail("second"))
    with MaildirStore(tmp_path) as reader:
        assert [e.subject for e in reader.entries()] == ["second", "first"]
        add(tmp_path, mail("third"))
        assert [e.subject for e in reader.entries()] == ["third", "second", "first"]
        with MaildirStore(tmp_path) as other:
            other.delete([second.id])
        assert [e.subject for e in reader.entries()] == ["third", "first"]
        (tmp_path / "new" / first.id).unlink()
        assert [e.subject for e in reader.entries()] == ["third"]


def test_a_message_a_mail_client_moved_to_cur_is_found_at_its_new_place(tmp_path: Path) -> None:
    [entry] = add(tmp_path, mail("read me"))
    with MaildirStore(tmp_path) as reader:
        assert reader.entries()[0].path == tmp_path / "new" / entry.id
        moved = tmp_path / "cur" / f"{entry.id}:2,S"
        os.rename(tmp_path / "new" / entry.id, moved)
        [again] = reader.entries()
        assert (again.id, again.path, again.subject) == (entry.id, moved, "read me")
        assert b"read me" in reader.read_bytes(entry.id)


def test_read_bytes_finds_a_message_it_never_listed(tmp_path: Path) -> None:
    [entry] = add(tmp_path, mail("fresh"))
    with MaildirStore(tmp_path) as reader:
        assert b"fresh" in reader.read_bytes(entry.id)


@pytest.mark.parametrize("bad", ["", ".", "..", "../new", "a/b", "nul\0byte", "missing"])
def test_read_bytes_refuses_names_that_are_not_messages(tmp_path: Path, bad: str) -> None:
    add(tmp_path, mail())
    with MaildirStore(tmp_path) as reader, pytest.raises(KeyError):
        reader.read_bytes(bad)


def test_search_among_listed_entries_still_reads_files_without_an_index_row(
    tmp_path: Path,
) -> None:
    [indexed] = add(tmp_path, mail("indexed", text="the needle is here"))
    # Delivered by another program: a file in new/ with no index row.
    (tmp_path / "new" / "1700000000.M1P1Q1.elsewhere").write_bytes(
        b"From: a@example.com\nSubject: foreign\n\nanother needle in a haystack\n"
    )
    with MaildirStore(tmp_path) as reader:
        entries = reader.entries()
        expected = {indexed.id, "1700000000.M1P1Q1.elsewhere"}
        assert reader.search_text("NEEDLE", among=entries) == expected
        assert reader.search_text("needle") == expected
        assert reader.search_text("haystack", among=entries) == {"1700000000.M1P1Q1.elsewhere"}
