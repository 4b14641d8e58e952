"""What the plugin costs a pytest run that never asks for its fixtures (issue 15, item 4).

pytest imports ``mailcatcher.pytest_plugin`` at start-up in every project that has the
package installed. These tests run a fresh interpreter (this process has imported everything
long ago) and look at `sys.modules`: the plugin may bring itself and the package, nothing
else; aiosmtpd, asyncio, the store, the query core and the email parser wait for a fixture.
No timing here: the time it saves is measured by ``bench/plugin_import.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Imported by the plugin's machinery, each a few milliseconds to tens of them at start-up.
# (Not ``email.parser``: pytest itself may read its plugins' metadata with it.)
HEAVY = (
    "aiosmtpd",
    "asyncio",
    "ssl",
    "sqlite3",
    "email.policy",
    "email.headerregistry",
    "mailcatcher._fixture",
    "mailcatcher.catcher",
    "mailcatcher.message",
    "mailcatcher.query",
    "mailcatcher.server",
    "mailcatcher.store",
)

# Prints the modules that `import mailcatcher.pytest_plugin` adds to what pytest imported.
NEW_MODULES = """
import json, sys
import pytest
before = set(sys.modules)
import mailcatcher.pytest_plugin
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def modules_added_by(code: str) -> list[str]:
    """The JSON list `code` prints, run by a fresh interpreter like this one."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    added: list[str] = json.loads(result.stdout)
    return added


def test_importing_the_plugin_imports_nothing_but_the_package() -> None:
    added = modules_added_by(NEW_MODULES)
    assert set(added) <= {"mailcatcher", "mailcatcher.pytest_plugin"}, added


def test_naming_a_fixture_class_imports_the_machinery() -> None:
    # The re-exported names still work: annotations and ``except MailTimeoutError`` need them.
    code = NEW_MODULES.replace(
        "import mailcatcher.pytest_plugin",
        "from mailcatcher.pytest_plugin import MailTimeoutError, Mailcatcher\n"
        "import mailcatcher.query\n"
        "assert issubclass(MailTimeoutError, mailcatcher.query.MailTimeoutError)\n"
        "assert issubclass(MailTimeoutError, AssertionError)\n"
        "assert Mailcatcher.__module__ == 'mailcatcher._fixture'",
    )
    added = modules_added_by(code)
    assert {"mailcatcher._fixture", "mailcatcher.query", "mailcatcher.store"} <= set(added)


def test_the_public_api_is_imported_when_first_used() -> None:
    code = """
    import json, sys
    import mailcatcher
    light = sorted(name for name in sys.modules if name.startswith(("aiosmtpd", "mailcatcher.")))
    from mailcatcher import MailDir, get_latest_message
    assert MailDir.__module__ == "mailcatcher.catcher"
    assert get_latest_message.__module__ == "mailcatcher.query"
    print(json.dumps(light))
    """
    assert modules_added_by(textwrap.dedent(code)) == []


def test_a_session_that_uses_no_fixture_imports_none_of_it(pytester: pytest.Pytester) -> None:
    # The plugin comes in through its entry point, as in a user's project; the test looks at
    # what the session imported by the time it runs. Plugins that import asyncio themselves
    # (pytest-asyncio, anyio) are left out, so that asyncio counts too.
    heavy = ", ".join(repr(name) for name in HEAVY)
    pytester.makepyfile(
        test_plain=f"""
        import sys

        def test_no_mail():
            loaded = [name for name in ({heavy},) if name in sys.modules]
            assert loaded == []
            assert "mailcatcher.pytest_plugin" in sys.modules
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:asyncio", "-p", "no:anyio", "-p", "no:django", "-p", "no:hypothesispytest"
    )
    result.assert_outcomes(passed=1)


def test_the_check_sees_a_heavy_import(pytester: pytest.Pytester) -> None:
    # Proof the session test can fail: the same test after a fixture was used.
    pytester.makepyfile(
        test_mail="""
        import sys

        def test_uses_it(mailcatcher):
            assert "mailcatcher._fixture" in sys.modules
            assert "aiosmtpd" in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1)
