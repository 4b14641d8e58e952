"""`PostgresStore` against a real server: the `Store` contract, retention, notifications."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from mailcatcher.store import (
    POSTGRES_EXTRA,
    DatabaseLocation,
    Store,
    location,
    open_store,
    opened,
    shown,
)
from mailcatcher.store._postgres import (
    SCHEMA_VERSION,
    TABLE,
    DatabaseUnavailable,
    PostgresStore,
    SchemaMismatch,
)

from .mail import message
from .server import PASSWORD, PostgresServer

#: How long a test waits for something that happens at once (a notification).
PATIENCE = 30.0


def until(condition: object, what: str) -> None:
    """Wait for `condition()` to hold; fail naming `what` after `PATIENCE` s."""
    deadline = time.monotonic() + PATIENCE
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {PATIENCE} s")
        time.sleep(0.005)


def test_open_store_picks_the_database_by_url(database_url: str) -> None:
    with opened(database_url) as store:
        assert isinstance(store, PostgresStore)
        assert store.entries() == []


def test_add_then_entries_newest_first_with_the_summary(database_url: str) -> None:
    with opened(database_url) as store:
        first = store.add(message("one", to="Eva@Example.com"))
        second = store.add(message("two"))
        listed = store.entries()
    assert first is not None
    assert second is not None
    assert [entry.id for entry in listed] == [second.id, first.id]
    assert listed[0] == second
    assert listed[1].subject == "one"
    assert listed[1].recipients == ("Eva@Example.com",)
    assert listed[1].sender == "app@example.com"
    assert listed[1].size > 0
    # IDs compare as text in the order of the sequence (the listing's tie-break).
    assert second.id > first.id


def test_order_is_stored_time_then_id_across_two_writers(database_url: str) -> None:
    with opened(database_url) as one, opened(database_url) as two:
        added = [(one if n % 2 else two).add(message(f"m{n}")) for n in range(10)]
        listed = one.entries()
    assert [entry.id for entry in listed] == [entry.id for entry in reversed(added) if entry]
    keys = [(entry.stored, entry.id) for entry in listed]
    assert keys == sorted(keys, reverse=True)


def test_read_bytes_whole_and_limited_and_read_parses(database_url: str) -> None:
    with opened(database_url) as store:
        sent = message("bytes", body="x" * 5000)
        entry = store.add(sent)
        assert entry is not None
        whole = store.read_bytes(entry.id)
        assert len(whole) == entry.size
        assert store.read_bytes(entry.id, 100) == whole[:100]
        assert store.read_bytes(entry.id, 0) == b""
        assert store.read(entry.id)["Subject"] == "bytes"
        assert store.read(entry.id).get_content().rstrip("\n") == "x" * 5000


@pytest.mark.parametrize("id", ["999999", "abc", "", "1" * 30, "-1", "０１"])
def test_unknown_ids_are_key_errors(database_url: str, id: str) -> None:
    with opened(database_url) as store, pytest.raises(KeyError):
        store.read_bytes(id)


def test_search_text_folds_case_as_the_other_stores(database_url: str) -> None:
    with opened(database_url) as store:
        german = store.add(message("a", body="Die Straße ist lang"))
        greek = store.add(message("b", body="ΣΊΣΥΦΟΣ"))
        store.add(message("c", body="nothing here"))
        assert german is not None
        assert greek is not None
        assert store.search_text("STRASSE") == {german.id}
        assert store.search_text("straße") == {german.id}
        assert store.search_text("σίσυφος") == {greek.id}
        assert store.search_text("absent") == set()


def test_delete_and_clear(database_url: str) -> None:
    with opened(database_url) as store:
        ids = [entry.id for entry in (store.add(message(f"m{n}")) for n in range(4)) if entry]
        store.delete([ids[0], "not-an-id", "424242"])
        assert {entry.id for entry in store.entries()} == set(ids[1:])
        with pytest.raises(KeyError):
            store.read_bytes(ids[0])
        store.clear()
        assert store.entries() == []


def test_hostile_text_is_stored_not_refused(database_url: str) -> None:
    # PostgreSQL text holds no NUL and only valid UTF-8; the sender's mail may hold both.
    raw = b"Subject: nul \x00 and \xff bytes\r\nX-RcptTo: a@b.c\r\n\r\nbody \x00 \xfe\r\n"
    with opened(database_url) as store:
        from mailcatcher.store import parse_message

        entry = store.add(parse_message(raw))
        assert entry is not None
        assert store.read_bytes(entry.id).startswith(b"Subject: nul")
        assert store.entries()[0].id == entry.id


def test_keep_with_concurrent_writers_keeps_exactly_the_newest(database_url: str) -> None:
    keep, writers, each = 7, 4, 15
    added: list[tuple[float, str]] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def write(number: int) -> None:
        try:
            with opened(database_url) as store:
                for n in range(each):
                    entry = store.add(message(f"w{number}-{n}"), keep=keep)
                    assert entry is not None
                    with lock:
                        added.append((entry.stored, entry.id))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    with opened(database_url) as store:
        left = [(entry.stored, entry.id) for entry in store.entries()]
    assert len(added) == writers * each
    assert left == sorted(added, reverse=True)[:keep]


def test_the_table_is_created_once_with_its_schema_version(database_url: str) -> None:
    stores = [open_store(database_url) for _ in range(4)]
    try:
        # Four first uses at once: the schema lock lets one create, the rest find it.
        threads = [threading.Thread(target=store.entries) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for store in stores:
            store.close()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT version FROM mailcatcher_schema").fetchall() == [
            (SCHEMA_VERSION,)
        ]
        assert conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone() == (0,)


def test_another_schema_version_is_refused_with_a_reason(database_url: str) -> None:
    with opened(database_url) as store:
        store.entries()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE mailcatcher_schema SET version = 99")
    with opened(database_url) as store, pytest.raises(SchemaMismatch) as caught:
        store.entries()
    assert "layout 99" in str(caught.value)
    assert f"reads layout {SCHEMA_VERSION}" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_signature_and_watchers_follow_another_writer(database_url: str) -> None:
    woken = threading.Event()
    reader = PostgresStore(database_url)
    with reader, opened(database_url) as writer:
        reader.watch(woken.set)
        # The listener connects in the background; then the signature is its counter.
        until(lambda: reader._listener.mark(start=False) is not None, "the listener to connect")
        mark = reader.signature()
        woken.clear()
        entry = writer.add(message("elsewhere"))
        until(lambda: reader.signature() != mark, "the reader's signature to change")
        until(woken.is_set, "the watcher to be called")
        assert entry is not None
        assert [e.id for e in reader.entries()] == [entry.id]
        mark = reader.signature()
        writer.delete([entry.id])
        until(lambda: reader.signature() != mark, "a delete to change the signature")
        assert reader.entries() == []


def test_signature_changes_on_own_writes_without_a_listener(database_url: str) -> None:
    with opened(database_url) as store:
        assert isinstance(store, PostgresStore)
        before = store.signature()
        store.add(message("one"))
        until(lambda: store.signature() != before, "the signature to change")


def test_the_password_never_shows(postgres: PostgresServer, database_url: str) -> None:
    store = open_store(database_url)
    try:
        entry = store.add(message("secret"))
        assert entry is not None
        for text in (str(store.path), repr(store.path), repr(store), f"{entry}", repr(entry)):
            assert PASSWORD not in text
            assert "***" in text
    finally:
        store.close()
    assert PASSWORD not in shown(database_url)
    assert location(database_url) == location(database_url)
    assert isinstance(location(database_url), DatabaseLocation)


def test_a_wrong_password_is_one_line_without_the_password(postgres: PostgresServer) -> None:
    url = postgres.url_for("postgres", password="wrong-Secret-9")
    with opened(url) as store, pytest.raises(DatabaseUnavailable) as caught:
        store.entries()
    text = str(caught.value)
    assert "wrong-Secret-9" not in text
    assert "\n" not in text
    assert "password authentication failed" in text


def test_an_unreachable_database_is_a_connection_error(postgres: PostgresServer) -> None:
    with socket_port() as port:
        url = f"postgresql://mailcatcher:{PASSWORD}@127.0.0.1:{port}/mail"
        store: Store = open_store(url)
        try:
            with pytest.raises(DatabaseUnavailable) as caught:
                store.add(message("lost"))
            # The signature does not raise: a wait goes on until the database is back.
            store.signature()
        finally:
            store.close()
    text = str(caught.value)
    assert isinstance(caught.value, ConnectionError)
    assert PASSWORD not in text
    assert text.startswith("the database postgresql://mailcatcher:***@127.0.0.1:")


class socket_port:
    """A port nothing listens on, for the duration of a ``with`` block."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))  # bound, never listening: connections refused
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc_info: object) -> None:
        self._sock.close()


def test_without_the_extra_a_url_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from mailcatcher.store import open_store\n"
        "try:\n"
        "    open_store('postgresql://u:p@127.0.0.1:1/db')\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert done.stdout.strip() == POSTGRES_EXTRA


def test_inboxes_and_tags_are_kept_and_seen_by_another_reader(database_url: str) -> None:
    from mailcatcher.store import AUTH_USER_HEADER

    signup = message("signup", to="eva+welcome@example.com")
    signup[AUTH_USER_HEADER] = "app42"
    signup["X-Tags"] = "QA"
    with opened(database_url) as writer, opened(database_url) as reader:
        tagged = writer.add(signup)
        plain = writer.add(message("plain"))
        assert tagged is not None
        assert plain is not None
        assert (tagged.inbox, tagged.tags) == ("app42", ("QA", "welcome"))
        assert reader.inboxes() == {"app42": 1, "default": 1}
        assert [e.id for e in reader.view("app42").entries()] == [tagged.id]
        with pytest.raises(KeyError):
            reader.view("app42").read_bytes(plain.id)
        mark = reader.signature()
        writer.set_tags([plain.id, "999999"], ["Done", "done", "a/b"])
        until(lambda: reader.signature() != mark, "setting tags to change the signature")
        assert {e.id: e.tags for e in reader.entries()}[plain.id] == ("Done", "a b")
        writer.rename_tag("qa", "Checked")
        assert reader.tags() == {"a b": 1, "Checked": 1, "Done": 1, "welcome": 1}


def test_a_layout_1_table_is_migrated_with_its_mail(database_url: str) -> None:
    with opened(database_url) as store:
        kept = store.add(message("from layout 1"))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {TABLE} DROP COLUMN tags, DROP COLUMN tagged")
        conn.execute("UPDATE mailcatcher_schema SET version = 1")
    with opened(database_url) as store:
        [entry] = store.entries()
        assert kept is not None
        assert (entry.id, entry.tags) == (kept.id, ())
        store.set_tags([entry.id], ["migrated"])
        assert store.entries()[0].tags == ("migrated",)
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT version FROM mailcatcher_schema").fetchone() == (2,)
