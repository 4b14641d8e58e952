"""The import graph: what may import what inside ``src/mailcatcher`` (DESIGN.md's rooms).

Every ``import`` and ``from ... import`` in the package, at any depth (inside functions and
``if TYPE_CHECKING:`` blocks too), is read with `ast` and mapped to the room it comes from
and the room it points at. An arrow that is not in `ALLOWED` fails, and so does a module
that belongs to no room: a new room needs a line here, and a line in the README.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import mailcatcher

PACKAGE = "mailcatcher"
SOURCE = Path(mailcatcher.__file__).resolve().parent

#: For each room, the other rooms it may import, as built. The arrows point down the
#: table: `message` is the floor, then `store`, `query`, the handlers and the surfaces.
#: Nothing imports `cli` but ``python -m mailcatcher``.
ALLOWED: dict[str, frozenset[str]] = {
    "message": frozenset(),
    "store": frozenset({"message"}),
    "query": frozenset({"store", "message"}),
    "catcher": frozenset({"store", "query"}),
    "faults": frozenset(),
    "frameworks": frozenset(),
    "server": frozenset({"catcher", "store", "faults"}),
    # The plugin pytest loads at start-up names the machinery; `_fixture` imports it.
    "pytest_plugin": frozenset({"_fixture", "server"}),
    "_fixture": frozenset(
        {"server", "query", "store", "message", "catcher", "faults", "frameworks"}
    ),
    "web": frozenset({"query", "store", "message", "faults"}),
    "cli": frozenset(
        {"message", "store", "query", "catcher", "server", "pytest_plugin", "web", "__init__"}
    ),
    "__init__": frozenset(
        {"message", "store", "query", "catcher", "server", "pytest_plugin", "web"}
    ),
    "__main__": frozenset({"cli"}),
}


def room_of(path: Path, root: Path) -> str:
    """The room of the module at `path`: its top-level module or subpackage in `root`."""
    parts = path.relative_to(root).parts
    return parts[0].removesuffix(".py")


def module_name(path: Path, root: Path, package: str) -> list[str]:
    """The dotted name of `path`'s package (for a relative import), as a list of parts."""
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    # `from . import x` in a/b.py means package a; in a/__init__.py it means a too.
    return parts[:-1]


def imported(tree: ast.AST, here: list[str], package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module) for every import of `package` in `tree`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                if len(base) < 1:
                    raise ValueError(f"line {node.lineno}: relative import above the package")
            else:
                base = []
            if node.module:
                base = [*base, *node.module.split(".")]
            target = ".".join(base)
            if len(base) == 1 and base[0] == package:
                # `from mailcatcher import store` or `from .. import message`: each name may
                # be a module (a room) or a name the package re-exports (`__init__`).
                for alias in node.names:
                    yield node.lineno, f"{target}.{alias.name}"
            else:
                yield node.lineno, target


def target_room(module: str, package: str, rooms: set[str]) -> str | None:
    """The room `module` lives in, or None when it is not part of `package`."""
    parts = module.split(".")
    if parts[0] != package:
        return None
    if len(parts) == 1 or parts[1] not in rooms:
        return "__init__"
    return parts[1]


def arrows(root: Path, package: str = PACKAGE) -> Iterator[tuple[str, int, str, str, str]]:
    """(file, line, room, module, target room) for every import between two rooms."""
    rooms = set(ALLOWED)
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        room = room_of(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        here = module_name(path, root, package)
        for line, module in imported(tree, here, package):
            target = target_room(module, package, rooms | {room})
            if target is not None and target != room:
                yield relative, line, room, module, target


def violations(
    root: Path, package: str = PACKAGE, allowed: dict[str, frozenset[str]] = ALLOWED
) -> list[str]:
    """Every import in the package at `root` that the room table does not allow."""
    found = [
        f"{path.relative_to(root).as_posix()}: {room_of(path, root)!r} is not a room in the table"
        for path in sorted(root.rglob("*.py"))
        if room_of(path, root) not in allowed
    ]
    for relative, line, room, module, target in arrows(root, package):
        if room in allowed and target not in allowed[room]:
            found.append(f"{relative}:{line}: {room} imports {module} ({target})")
    return found


def built(root: Path = SOURCE) -> dict[str, set[str]]:
    """For each room, the rooms it imports today."""
    imports: dict[str, set[str]] = {room: set() for room in ALLOWED}
    for _, _, room, _, target in arrows(root):
        imports.setdefault(room, set()).add(target)
    return imports


def test_the_package_follows_the_room_table() -> None:
    assert violations(SOURCE) == []


def test_every_room_in_the_table_exists() -> None:
    # A room that was renamed away would leave its line here, allowing nothing real.
    present = {room_of(path, SOURCE) for path in SOURCE.rglob("*.py")}
    assert present == set(ALLOWED)


def test_only_python_dash_m_imports_the_command() -> None:
    assert [room for room, imports in ALLOWED.items() if "cli" in imports] == ["__main__"]


README = SOURCE.parents[1] / "README.md"
ROW = re.compile(r"^\| `(\w+)(?:\.py|/)` \|.*\| ([^|]*) \|$", re.MULTILINE)


def documented_imports(readme: str) -> dict[str, set[str]]:
    """The README's Architecture table: "| `store/` | ... | `message` |" ("nothing": none)."""
    section = readme.partition("## Architecture")[2].partition("\n## ")[0]
    return {
        room: set(re.findall(r"`(\w+)`", imports)) & set(ALLOWED)
        for room, imports in ROW.findall(section)
    }


def test_the_readme_names_the_imports_as_built() -> None:
    documented = documented_imports(README.read_text(encoding="utf-8"))
    assert documented, "no Architecture table in the README"
    assert documented == {room: built()[room] for room in documented}


def test_a_readme_row_that_drifted_is_seen() -> None:
    readme = "## Architecture\n\n| `store/` | where messages live | `message`, `query` |\n"
    assert documented_imports(readme) == {"store": {"message", "query"}}
    assert documented_imports(readme) != {"store": built()["store"]}


# --- proof that the check can fail -----------------------------------------------------------


def plant(root: Path, files: dict[str, str]) -> Path:
    """A synthetic ``mailcatcher`` package under `root` with the given module texts."""
    package = root / PACKAGE
    for name, text in {
        "__init__.py": "from .query import latest\n",
        "message/__init__.py": "import email\n",
        "store/__init__.py": "from ..message import fold\n",
        "store/_maildir.py": "from ._base import Store\nfrom ..message._mime import walk\n",
        "query.py": "from .store import Store\nfrom . import message\n",
        "catcher.py": "from . import store\nfrom .query import latest\n",
        "server.py": "import asyncio\n",
        "pytest_plugin.py": "from ._fixture import Mailcatcher\n",
        "_fixture.py": "from . import query\nfrom .server import ThreadedSMTP\n",
        "web/__init__.py": "from .api import routes\n",
        "web/api.py": "from .. import message as helpers\nfrom ..store import Entry\n",
        "cli/__init__.py": "from ..web import start_web\nfrom . import _serve\n",
        "__main__.py": "from .cli import main\n",
        **files,
    }.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_a_clean_synthetic_package_passes(tmp_path: Path) -> None:
    assert violations(plant(tmp_path, {})) == []


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        # The store asks the query layer: an arrow pointing up.
        (
            "store/_maildir.py",
            "from ..query import latest\n",
            "store/_maildir.py:1: store imports mailcatcher.query (query)",
        ),
        # The same, spelled absolutely and hidden in a function.
        (
            "message/__init__.py",
            "def f():\n    import mailcatcher.store\n",
            "message/__init__.py:2: message imports mailcatcher.store (store)",
        ),
        # Only for type checkers still counts: the arrow is in the code.
        (
            "query.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .web import app\n",
            "query.py:3: query imports mailcatcher.web (web)",
        ),
        # `from .. import x` names a room.
        (
            "web/api.py",
            "from .. import cli\n",
            "web/api.py:1: web imports mailcatcher.cli (cli)",
        ),
        # A name the package re-exports is the top-level `__init__` room.
        (
            "store/__init__.py",
            "from mailcatcher import get_latest_message\n",
            "store/__init__.py:1: store imports mailcatcher.get_latest_message (__init__)",
        ),
        # Nothing but __main__ imports the command, not even the public API.
        (
            "__init__.py",
            "from .cli import main\n",
            "__init__.py:1: __init__ imports mailcatcher.cli (cli)",
        ),
        # The plugin pytest loads at start-up reaches past its machinery.
        (
            "pytest_plugin.py",
            "from . import query\n",
            "pytest_plugin.py:1: pytest_plugin imports mailcatcher.query (query)",
        ),
        # A module outside every room.
        ("extra.py", "", "extra.py: 'extra' is not a room in the table"),
    ],
)
def test_a_planted_import_fails(tmp_path: Path, name: str, text: str, expected: str) -> None:
    assert violations(plant(tmp_path, {name: text})) == [expected]
