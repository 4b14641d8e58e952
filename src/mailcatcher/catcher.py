"""The aiosmtpd handlers that catch mail: `MailFile` (the latest message) and `MailDir`.

Load them with the stock command::

    aiosmtpd -n -c mailcatcher.catcher.MailFile latest.mail
    aiosmtpd -n -c mailcatcher.catcher.MailDir -- mail/ --keep 100
    aiosmtpd -n -c mailcatcher.catcher.MailDir -- postgresql://user:password@db/mail

Both turn the SMTP envelope into headers the client cannot forge, store the message
before answering ``250``, and answer a transient ``451`` (never ``250``, never a
``500`` naming a Python class) when it cannot be stored, so the client retries.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import re
from argparse import ArgumentParser
from collections.abc import Callable
from email.message import Message as EmailMessageBase
from email.parser import Parser
from pathlib import Path
from typing import Any, overload

from aiosmtpd.handlers import Message
from aiosmtpd.smtp import SMTP, Envelope, LoginPassword, Session

from . import store
from .query import get_latest_message
from .store import Entry, StrPath

__all__ = ["MailDir", "MailFile", "get_latest_message"]

log = logging.getLogger("mailcatcher")


class _LatestMessage:
    """``get_latest_message`` as the class offers it (with a path) and an instance (its own)."""

    @overload
    def __get__(self, instance: None, owner: type) -> Callable[..., EmailMessageBase | None]: ...

    @overload
    def __get__(
        self, instance: _Catcher, owner: type
    ) -> Callable[..., EmailMessageBase | None]: ...

    def __get__(
        self, instance: _Catcher | None, owner: type
    ) -> Callable[..., EmailMessageBase | None]:
        if instance is None:
            return get_latest_message
        return functools.partial(get_latest_message, instance.path)


class _Catcher(Message):
    """What both catchers share: authoritative envelope headers and loud failures."""

    #: Reads the newest message: ``MailFile.get_latest_message(path)`` on the class,
    #: ``catcher.get_latest_message()`` on an instance (its own store).
    get_latest_message = _LatestMessage()
    #: The same, under the name the article's fixture uses.
    get_latest_email = _LatestMessage()

    def __init__(self, path: StrPath, message_class: type[EmailMessageBase] | None = None) -> None:
        super().__init__(message_class)
        # A database URL becomes a location that prints with its password masked.
        self.path = store.location(path)
        #: Called with each stored message's `Entry`, in the server's thread; the
        #: pytest plugin uses this to wake a waiting test the moment mail lands.
        self.listeners: list[Callable[[Entry], None]] = []
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def prepare_message(self, session: Session, envelope: Envelope) -> EmailMessageBase:
        """Parse the DATA and add the envelope headers, replacing any the client sent.

        aiosmtpd's own version appends its headers after the client's, so a client
        that writes ``X-RcptTo: boss@example.com`` in its DATA would be the one that
        ``message["X-RcptTo"]`` returns.
        """
        data = envelope.content
        message: EmailMessageBase
        if isinstance(data, (bytes, bytearray)):
            message = store.parse_received(bytes(data), self.message_class)
        elif isinstance(data, str):
            message = Parser(self.message_class).parsestr(data)
        else:
            raise TypeError(f"Expected str or bytes, got {type(data)}")
        for name in store.ENVELOPE_HEADERS:
            del message[name]
        message[store.PEER_HEADER] = str(session.peer)
        message[store.MAIL_FROM_HEADER] = _header_safe(envelope.mail_from or "")
        message[store.RCPT_TO_HEADER] = ", ".join(map(_header_safe, envelope.rcpt_tos))
        user = _auth_user(session)
        if user is not None:
            message[store.AUTH_USER_HEADER] = _header_safe(user)
        return message

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message, then answer: ``250`` only once it is on disk.

        A message of up to `THREAD_THRESHOLD` bytes is parsed and written on the event
        loop: it takes well under a millisecond, and handing it to a thread cost more
        (bench/throughput.py, 1 KiB, 16 clients: 1.64 ms of server CPU a message
        through a thread, 1.24 ms on the loop). A larger one goes to a worker thread,
        so that parsing it (a second for 25 MiB) does not stall every other client.
        """
        try:
            size = len(envelope.original_content or b"")
            # A database answers over the network: never wait for it on the event loop.
            if size <= THREAD_THRESHOLD and not store.is_database_url(self.path):
                entry = self._receive(session, envelope)
            else:
                loop = asyncio.get_running_loop()
                entry = await loop.run_in_executor(self._worker(), self._receive, session, envelope)
        except OSError as error:
            reason = error.strerror or str(error)
            log.error("cannot write %s: %s", self.path, reason)
            # RFC 3463 4.3.0: a transient mail-system failure; the client retries.
            return f"451 4.3.0 cannot write {self.path}: {reason}"
        except Exception:
            log.exception("cannot store a message in %s", self.path)
            return f"451 4.3.0 cannot store this message in {self.path}; see the server log"
        if entry is not None:
            for listener in self.listeners:
                try:
                    listener(entry)
                except Exception:
                    # The message is stored: a listener's failure (a closed stdout, a
                    # bug) must not turn the 250 into an error the client retries.
                    log.exception("a listener failed after %s was stored", entry.id)
        return "250 OK"

    def _worker(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="mailcatcher-store"
            )
        return self._executor

    def _receive(self, session: Session, envelope: Envelope) -> Entry | None:
        return self._store(self.prepare_message(session, envelope))

    def close(self) -> None:
        """Stop the worker thread (started with the first message)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def handle_message(self, message: EmailMessageBase) -> None:
        """Store `message` (aiosmtpd's `Message` API; `handle_DATA` calls `_store`)."""
        self._store(message)

    def _store(self, message: EmailMessageBase) -> Entry | None:
        raise NotImplementedError


#: Messages larger than this (bytes) are parsed and stored in a worker thread.
THREAD_THRESHOLD = 1024 * 1024


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _header_safe(value: str) -> str:
    """`value` with control characters shown as ``\\xNN``, fit for one header line.

    The AUTH user name is the client's to choose, and aiosmtpd passes it on as sent: a
    CR or LF in it would end the header and start another (or the body).
    """
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", value)


def _auth_user(session: Session) -> str | None:
    """The user name a session logged in with, or ``None`` when it did not."""
    if not session.authenticated:
        return None
    data: Any = session.auth_data
    if isinstance(data, LoginPassword):
        return data.login.decode("utf-8", "replace")
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return "" if data is None else str(data)


def _check_parent(parser: ArgumentParser, path: Path, what: str) -> None:
    parent = path.parent
    if not parent.is_dir():
        parser.error(f"cannot write {what} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        parser.error(f"cannot write {what} {path}: directory {parent} is not writable")


class MailFile(_Catcher):
    """Write each message to one file, replacing the previous one atomically."""

    def __init__(
        self, mail_file: StrPath, message_class: type[EmailMessageBase] | None = None
    ) -> None:
        super().__init__(mail_file, message_class)
        self.mail_file = self.path
        self._file = store.FileStore(self.path)

    def _store(self, message: EmailMessageBase) -> Entry | None:
        self._file.add(message)
        # Summarizing costs a re-read; only listeners need it.
        return self._file.entries()[0] if self.listeners else None

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> MailFile:
        """Build from ``aiosmtpd -c mailcatcher.catcher.MailFile PATH``."""
        if len(args) != 1:
            parser.error(
                f"MailFile takes exactly one argument, the file to write each message to "
                f"(got {len(args)}): aiosmtpd -n -c mailcatcher.catcher.MailFile latest.mail"
            )
        path = Path(args[0])
        if path.is_dir():
            parser.error(f"cannot write mail file {path}: it is a directory")
        _check_parent(parser, path, "mail file")
        return cls(path)


class MailDir(_Catcher):
    """Keep every message as its own file in a Maildir; optionally only the newest `keep`.

    Given a ``postgresql://`` URL instead of a directory, keep every message as a row of
    the database's mailcatcher table, which other catchers may share (the postgres
    extra).
    """

    def __init__(
        self,
        mail_dir: StrPath,
        message_class: type[EmailMessageBase] | None = None,
        *,
        keep: int | None = None,
    ) -> None:
        if keep is not None and keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        super().__init__(mail_dir, message_class)
        self.mail_dir = self.path
        self.keep = keep
        self._maildir: store.Store = (
            store.open_database(self.path)
            if store.is_database_url(self.path)
            else store.MaildirStore(self.path, create=True)
        )

    def _store(self, message: EmailMessageBase) -> Entry | None:
        return self._maildir.add(message, keep=self.keep)

    def close(self) -> None:
        """Stop the worker thread and release the index connection."""
        super().close()
        self._maildir.close()

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> MailDir:
        """Build from ``aiosmtpd -c mailcatcher.catcher.MailDir -- DIR|URL [--keep N]``.

        A ``postgresql://`` URL is connected to at once, so a wrong URL or password
        stops the command with one line (password masked) instead of 451s later.
        """
        usage = "aiosmtpd -n -c mailcatcher.catcher.MailDir -- DIR|postgresql://URL [--keep N]"
        paths: list[str] = []
        keep: int | None = None
        items = iter(args)
        for item in items:
            if item == "--keep" or item.startswith("--keep="):
                value = item.partition("=")[2] if "=" in item else next(items, None)
                if value is None:
                    parser.error(f"MailDir: --keep needs a number: {usage}")
                try:
                    keep = int(value)
                except ValueError:
                    keep = 0
                if keep < 1:
                    parser.error(
                        f"MailDir: --keep must be a whole number of at least 1, got {value!r}"
                    )
            elif item.startswith("-"):
                parser.error(f"MailDir: unknown option {item!r}: {usage}")
            else:
                paths.append(item)
        if len(paths) != 1:
            parser.error(
                f"MailDir takes exactly one directory to keep the messages in "
                f"(got {len(paths)}): {usage}"
            )
        if store.is_database_url(paths[0]):
            return cls._from_url(parser, paths[0], keep)
        path = Path(paths[0])
        problem = store.maildir_problem(path)
        if problem is not None:
            parser.error(f"cannot use {path} as a Maildir: {problem}")
        try:
            return cls(path, keep=keep)
        except OSError as error:
            parser.error(f"cannot create Maildir {path}: {error.strerror or error}")

    @classmethod
    def _from_url(cls, parser: ArgumentParser, url: str, keep: int | None) -> MailDir:
        try:
            # Connect once now (creating the table on first use), then start.
            store.open_database(url, connect=True).close()
        except ModuleNotFoundError as error:
            parser.error(f"MailDir: {error}")
        except OSError as error:
            parser.error(str(error))
        return cls(url, keep=keep)
