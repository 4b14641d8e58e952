"""The README's "Testing with pytest" examples, run as they are written there.

Each is the first Python block under its heading: the sync one is run by
`test_plugin.test_the_readme_example_passes`; the async, Django, Flask and retry ones here,
each in a child pytest with what a project of that kind has.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from .test_django import SITE
from .test_plugin import CHILD_INI

README = Path(__file__).resolve().parents[2] / "README.md"


def example(heading: str) -> str:
    """The first Python block under ``### heading`` in the README's testing section."""
    section = README.read_text().split("## Testing with pytest", 1)[1].split("\n## ", 1)[0]
    part = section.split(f"\n### {heading}\n", 1)
    assert len(part) == 2, f"the README lost its {heading!r} section"
    match = re.search(r"```python\n(.*?)```", part[1].split("\n### ", 1)[0], re.DOTALL)
    assert match is not None, f"the README's {heading!r} section lost its example"
    return match.group(1)


@pytest.fixture
def child(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(CHILD_INI)
    return pytester


def test_the_async_example(child: pytest.Pytester) -> None:
    child.makepyfile(test_receipt=example("Async tests"))
    child.runpytest_subprocess().assert_outcomes(passed=1)


def test_the_async_example_under_anyio(child: pytest.Pytester) -> None:
    # The comment's alternative: the same test with anyio's marker, on asyncio.
    code = example("Async tests").replace(
        "@pytest.mark.asyncio  # or @pytest.mark.anyio", "@pytest.mark.anyio"
    )
    assert "@pytest.mark.anyio\n" in code
    child.makeconftest(
        "import pytest\n\n\n@pytest.fixture\ndef anyio_backend():\n    return 'asyncio'\n"
    )
    child.makepyfile(test_receipt=code)
    child.runpytest_subprocess().assert_outcomes(passed=1)


def test_the_django_example(child: pytest.Pytester) -> None:
    shutil.copytree(SITE, child.path / "django_site")
    child.makeini(CHILD_INI + "DJANGO_SETTINGS_MODULE = django_site.settings\npythonpath = .\n")
    child.makepyfile(test_signup=example("Django"))
    child.runpytest_subprocess().assert_outcomes(passed=1)


def test_the_flask_example(child: pytest.Pytester) -> None:
    child.makepyfile(test_welcome=example("Flask"))
    child.runpytest_subprocess().assert_outcomes(passed=1)


def test_the_retry_example(child: pytest.Pytester) -> None:
    child.makepyfile(test_retry=example("Faults: a server that refuses, hangs up or is slow"))
    child.runpytest_subprocess().assert_outcomes(passed=1)
