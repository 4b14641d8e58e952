"""Where caught messages live: the `Store` interface and its backends.

This package is the only code that reads, writes or parses stored bytes (rule of the
room: a reader asks the store, never a file). Writers keep three promises: a reader never
sees a partial message (write a temporary file, then rename it into place), the write has
finished before the catcher answers ``250``, and nothing is left behind when a write
fails. Readers get an `Entry` per message without parsing the message, then `read` it.

Backends: `FileStore` (the one file `MailFile` replaces), `MaildirStore` (a Maildir
with a summary index) and `PostgresStore` (one table several catchers share; needs the
``postgres`` extra). `open_store` picks the one a path holds, or a ``postgresql://`` URL
names; a URL is carried as a `DatabaseLocation`, which prints with its password masked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ._base import Store, StrPath, TagsNotKeptError, sort_newest_first
from ._file import FileStore
from ._format import (
    AUTH_USER_HEADER,
    ENVELOPE_HEADERS,
    FILE_MODE,
    MAIL_FROM_HEADER,
    MAX_NESTING,
    PEER_HEADER,
    RCPT_TO_HEADER,
    Entry,
    NotAMessageError,
    has_headers,
    parse_message,
    parse_received,
    structure,
    summarize,
    too_deep,
    write_message,
)
from ._location import DatabaseLocation, is_database_url, location, shown
from ._maildir import INDEX_NAME, MaildirStore, folder_name, is_maildir, time_from_name
from ._tags import DEFAULT_INBOX, TAGS_HEADER, clean_tag, has_tag, inbox_name, unique_tags
from ._view import InboxView

#: What to install for a ``postgresql://`` store.
POSTGRES_EXTRA = (
    "a postgresql:// store needs the postgres extra: pip install 'aiosmtpd-mailcatcher[postgres]'"
)

__all__ = [
    "AUTH_USER_HEADER",
    "DEFAULT_INBOX",
    "POSTGRES_EXTRA",
    "DatabaseLocation",
    "ENVELOPE_HEADERS",
    "FILE_MODE",
    "INDEX_NAME",
    "MAIL_FROM_HEADER",
    "MAX_NESTING",
    "PEER_HEADER",
    "RCPT_TO_HEADER",
    "Entry",
    "FileStore",
    "InboxView",
    "MaildirStore",
    "NotAMessageError",
    "Store",
    "StrPath",
    "TAGS_HEADER",
    "TagsNotKeptError",
    "clean_tag",
    "current",
    "folder_name",
    "has_headers",
    "has_tag",
    "inbox_name",
    "is_database_url",
    "is_maildir",
    "location",
    "maildir_problem",
    "open_database",
    "open_store",
    "opened",
    "shown",
    "parse_message",
    "parse_received",
    "sort_newest_first",
    "structure",
    "summarize",
    "time_from_name",
    "too_deep",
    "unique_tags",
    "write_message",
]


def maildir_problem(path: Path) -> str | None:
    """Why `path` cannot hold a Maildir a catcher writes, or ``None`` when it can.

    It can when it is a Maildir or an empty directory it may write to, or a new name in
    an existing directory it may write to (the catcher creates it).
    """
    if path.is_dir():
        if not is_maildir(path) and any(path.iterdir()):
            return "it holds other files and no cur/ and new/"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"directory {path} is not writable"
        return None
    if path.exists():
        return "it is a file"
    parent = path.parent
    if not parent.is_dir():
        return f"directory {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"directory {parent} is not writable"
    return None


def open_store(path: StrPath) -> Store:
    """The store at `path`: a database for a URL, a Maildir for a directory, else a file.

    Raises:
        NotADirectoryError: `path` is a directory but not a Maildir.
        ModuleNotFoundError: `path` is a ``postgresql://`` URL and the postgres extra
            is not installed (the text says what to install).
    """
    if is_database_url(path):
        return open_database(path)
    target = Path(path)
    if target.is_dir():
        return MaildirStore(target)
    return FileStore(target)


def open_database(url: StrPath, *, connect: bool = False) -> Store:
    """The `PostgresStore` at `url` (a ``postgresql://`` URL or its `DatabaseLocation`).

    The first call connects (and creates the table on first use), and raises an
    `OSError` whose text masks the password if it cannot; with `connect`, that happens
    here.

    Raises:
        ModuleNotFoundError: the postgres extra (psycopg) is not installed.
        OSError: with `connect`, the database cannot be used.
    """
    try:
        from ._postgres import PostgresStore
    except ModuleNotFoundError as error:
        if error.name not in ("psycopg", "psycopg_binary", "psycopg_c"):
            raise
        raise ModuleNotFoundError(POSTGRES_EXTRA, name=error.name) from None
    target = location(url)
    if not isinstance(target, DatabaseLocation):
        raise ValueError(f"not a postgresql:// URL: {shown(url)}")
    database = PostgresStore(target)
    if connect:
        try:
            database.connect()
        except BaseException:
            database.close()
            raise
    return database


def current(store: Store) -> Store:
    """`store`, or the Maildir its path has become since it was opened.

    A reader may start before the catcher: a path that did not exist was opened as a
    single file, and the stock ``aiosmtpd`` ``MailDir`` handler then makes a Maildir
    there. Once ``new/`` and ``cur/`` exist, a Maildir store is returned (the caller
    closes it when done); until then the file store stays, and lists nothing.
    """
    if isinstance(store, InboxView):
        inner = current(store.store)
        return store if inner is store.store else InboxView(inner, store.inbox)
    if isinstance(store, FileStore) and is_maildir(store.path):
        return MaildirStore(store.path)
    return store


@contextlib.contextmanager
def opened(path: StrPath) -> Iterator[Store]:
    """`open_store` as a context manager that closes the store."""
    store = open_store(path)
    try:
        yield store
    finally:
        store.close()
