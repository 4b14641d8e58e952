"""The web side reaches the stored mail only through `mailcatcher.store`.

The store is the one module that knows file formats (DESIGN.md), SQLite index
included: it treats a damaged or unreadable index as missing and warns, so no reader
sees a `sqlite3` error. A web module that imports `sqlite3` to catch one has started
to depend on how the store keeps its index.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mailcatcher.web
from tests.web.support import add, async_test, client, mail

WEB = Path(mailcatcher.web.__file__).parent


def imported_modules(source: Path) -> set[str]:
    """The top-level names of every module `source` imports (absolute imports only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_no_web_module_imports_sqlite3() -> None:
    modules = sorted(WEB.glob("*.py"))
    assert len(modules) > 5  # the package was found, not an empty folder
    offenders = [path.name for path in modules if "sqlite3" in imported_modules(path)]
    assert offenders == []


async def listed_subjects(path: Path) -> list[str]:
    """The subjects ``GET /api/v1/messages`` lists, from an app opened and closed on `path`."""
    async with client(path) as api:
        response = await api.get("/api/v1/messages")
        assert response.status == 200
        return sorted(m["Subject"] for m in (await response.json())["messages"])


@async_test
async def test_a_damaged_index_still_lists_every_message(tmp_path: Path) -> None:
    # What lets the inbox catch only OSError: with a sqlite3 error escaping the store,
    # the listing would answer 500 and closing the app would raise it again.
    add(tmp_path / "mail", mail("first"), mail("second"))
    (tmp_path / "mail" / ".mailcatcher.sqlite3").write_bytes(b"not a database " * 100)
    with pytest.warns(UserWarning, match="cannot read the index"):
        subjects = await listed_subjects(tmp_path / "mail")
    assert subjects == ["first", "second"]
