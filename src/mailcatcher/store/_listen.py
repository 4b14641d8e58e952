"""Hearing about changes other catchers make to a PostgreSQL store: ``LISTEN``.

Every insert and delete in the shared table ends with ``NOTIFY`` (delivered at commit).
A `Listener` keeps one connection of its own that ``LISTEN``s, in a thread, and turns
what it hears into a counter in memory (so `PostgresStore.signature` costs no query)
and into calls to watchers (so the web inbox wakes its live pages at once).

What it cannot hear it makes up for: while it is not connected, `mark` is ``None`` and
the store asks the database instead; each time it connects again, a new generation
changes the mark, so whatever happened meanwhile is looked at.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable
from typing import Any

import psycopg

#: The wait between attempts to connect again: doubling from the first to the second.
RECONNECT = (0.05, 1.0)

log = logging.getLogger("mailcatcher")


class Listener:
    """A thread that ``LISTEN``s on `channel` and counts what it hears.

    Args:
        connect: Opens a new connection (raising `OSError` when it cannot).
        channel: The ``NOTIFY`` channel, an SQL identifier.
        where: The store's location, for log lines (a URL's password masked).
    """

    def __init__(
        self, connect: Callable[[], psycopg.Connection[Any]], channel: str, where: str
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._where = where
        self._changed = threading.Condition()
        self._listening = False
        self._generation = 0
        self._changes = 0
        self._watchers: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wakeup: tuple[int, int] | None = None

    def mark(self, *, start: bool = True) -> tuple[int, int] | None:
        """(connections, notifications) while connected and listening, else ``None``.

        Args:
            start: Start the thread if it is not running yet.
        """
        if start:
            self.start()
        with self._changed:
            if self._listening:
                return (self._generation, self._changes)
            return None

    def watch(self, wake: Callable[[], None]) -> None:
        """Call `wake` (from the thread) on every notification and every reconnection."""
        with self._changed:
            self._watchers.append(wake)
        self.start()

    def start(self) -> None:
        """Start the thread, once; not after `close`."""
        if self._thread is not None or self._stopping.is_set():
            return
        with self._changed:
            started = self._thread is not None  # by another thread meanwhile
            if started:
                return
            self._wakeup = os.pipe()
            self._thread = threading.Thread(
                target=self._run, args=(self._wakeup[0],), name="mailcatcher-listen", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop the thread now (it waits on a pipe beside the socket) and close its pipe."""
        self._stopping.set()
        thread, wakeup = self._thread, self._wakeup
        if thread is None or wakeup is None:
            return
        with contextlib.suppress(OSError):
            os.write(wakeup[1], b"x")
        thread.join(5)
        self._thread = self._wakeup = None
        for fd in wakeup:
            os.close(fd)

    def _run(self, wakeup: int) -> None:
        """The thread: connect, ``LISTEN``, count notifications; connect again when cut off."""
        pause = RECONNECT[0]
        while not self._stopping.is_set():
            try:
                conn = self._connect()
            except OSError:
                self._set_listening(False)
                if select.select([wakeup], [], [], pause)[0]:
                    return
                pause = min(pause * 2, RECONNECT[1])
                continue
            try:
                conn.execute(f"LISTEN {self._channel}")
                self._set_listening(True)
                pause = RECONNECT[0]
                self._receive(conn, wakeup)
            except (psycopg.Error, OSError) as error:
                log.debug("stopped listening to %s: %s", self._where, error)
            finally:
                self._set_listening(False)
                with contextlib.suppress(Exception):
                    conn.close()

    def _receive(self, conn: psycopg.Connection[Any], wakeup: int) -> None:
        """Count notifications on `conn` until it fails or `close` is called.

        libpq's own calls (PQconsumeInput, then PQnotifies until none is left), so the
        thread waits on the socket and on `wakeup` together and `close` ends it at once.
        """
        pgconn = conn.pgconn
        while not self._stopping.is_set():
            ready = select.select([pgconn.socket, wakeup], [], [])[0]
            if wakeup in ready:
                return
            pgconn.consume_input()  # raises OperationalError when the server hung up
            count = 0
            while pgconn.notifies() is not None:
                count += 1
            if count:
                self._changed_by(count)
            elif conn.broken or pgconn.status != psycopg.pq.ConnStatus.OK:
                return

    def _set_listening(self, listening: bool) -> None:
        with self._changed:
            if listening != self._listening:
                self._listening = listening
                # What happened while not listening was missed: a new generation
                # changes the mark, so every waiter looks again.
                self._generation += 1
            self._changed.notify_all()
            watchers = list(self._watchers)
        _call(watchers)

    def _changed_by(self, count: int) -> None:
        with self._changed:
            self._changes += count
            self._changed.notify_all()
            watchers = list(self._watchers)
        _call(watchers)


def _call(watchers: list[Callable[[], None]]) -> None:
    for wake in watchers:
        try:
            wake()
        except Exception:  # a watcher's bug must not stop the listener
            log.exception("a store watcher failed")
