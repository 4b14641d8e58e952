"""The package as users get it: its public names, its wheel, its README commands."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import mailcatcher

ROOT = Path(__file__).resolve().parents[2]

DOCUMENTED = {
    "Entry",
    "MailDir",
    "MailFile",
    "clear",
    "get_latest_message",
    "get_messages",
    "wait_for_message",
    "wait_for_message_async",
}


def test_all_is_the_documented_api() -> None:
    assert set(mailcatcher.__all__) == DOCUMENTED
    for name in mailcatcher.__all__:
        assert getattr(mailcatcher, name) is not None


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"&& (\.venv/bin/python -m pytest[^\n`]*)", readme)
    assert match is not None, "the README's test command is missing"
    assert match.group(1) in ci.splitlines()


@pytest.mark.slow
def test_wheel_holds_the_package_and_nothing_else(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = {name for name in archive.namelist() if ".dist-info/" not in name}
    package = {name for name in names if name.startswith("mailcatcher/")}
    assert names == package, f"files outside the package: {sorted(names - package)}"
    source = ROOT / "src"
    expected = {
        path.relative_to(source).as_posix()
        for path in (source / "mailcatcher").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    # The typing marker, the web page's static files and the check's client-support data
    # (caniemail.com's, with its license) are data, easy to lose.
    assert {
        "mailcatcher/py.typed",
        "mailcatcher/web/static/index.html",
        "mailcatcher/message/caniemail.json",
    } <= package
    assert package == expected


def test_one_harness_starts_the_catcher_processes() -> None:
    # DESIGN.md: one harness (tests/support.py) picks the ports, starts, waits for and stops
    # every catcher process; a second copy in a test module would drift from it again.
    starter = re.compile(
        r"^\s*def (free_port|port_is_free|wait_for_port|wait_listening|start_process"
        r"|start_server|start_catcher|catcher_argv|aiosmtpd_argv|serve_argv)\b",
        re.MULTILINE,
    )
    harness = ROOT / "tests" / "support.py"
    copies = [
        f"{path.relative_to(ROOT)}: def {match[1]}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path != harness
        for match in starter.finditer(path.read_text(encoding="utf-8"))
    ]
    assert copies == []
    assert starter.search(harness.read_text(encoding="utf-8")) is not None
