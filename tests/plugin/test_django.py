"""Django wired by the fixture: a real project (`tests/django_site`) tested with pytest-django.

The project's tests run in child pytest processes (Django's settings are configured once
per process), plainly and under ``-n 4``, so that settings or faults leaking from one test
into the next would fail them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .test_plugin import CHILD_INI

SITE = Path(__file__).resolve().parents[1] / "django_site"
TESTS = 22


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(SITE, pytester.path / "django_site")
    (pytester.path / "django_site" / "mail_tests.py").rename(pytester.path / "test_mail.py")
    pytester.makeini(CHILD_INI + "DJANGO_SETTINGS_MODULE = django_site.settings\npythonpath = .\n")
    return pytester


def test_the_project_passes(project: pytest.Pytester) -> None:
    project.runpytest_subprocess().assert_outcomes(passed=TESTS)


def test_the_project_passes_on_four_workers(project: pytest.Pytester) -> None:
    project.runpytest_subprocess("-n", "4").assert_outcomes(passed=TESTS)


def test_mailcatcher_options_turn_the_wiring_off(project: pytest.Pytester) -> None:
    # Also the proof the project's tests need the wiring: without it, the in-memory
    # backend keeps the mail, the wait fails, and its error says why.
    project.makeconftest(
        """
        import pytest

        from mailcatcher.server import ServerOptions


        @pytest.fixture(scope="session")
        def mailcatcher_options():
            return ServerOptions(django=False)
        """
    )
    result = project.runpytest_subprocess("-k", "test_send_mail_in_the_test")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*hint: Django's EMAIL_BACKEND is 'django.core.mail.backends.locmem.EmailBackend'*"]
    )
