"""A real PostgreSQL server for the tests in this package, started once per session.

The server comes from Debian's ``postgresql`` package (``.ci/run`` installs it); where its
binaries are missing, these tests skip and say so. Each test gets a database of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from .server import PostgresServer, binaries

_NAMES = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The running server (stopped by its PID at the end of the session)."""
    pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")
    bin = binaries()
    if bin is None:
        pytest.skip("PostgreSQL binaries (initdb, postgres) not found: apt-get install postgresql")
    server = PostgresServer.start(bin)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(postgres: PostgresServer) -> str:
    """The URL (password included) of a new, empty database for this test."""
    if postgres.process is None or postgres.process.poll() is not None:
        postgres.run()  # a test that crashed the server left it down
    return postgres.create_database(f"test{next(_NAMES)}")
