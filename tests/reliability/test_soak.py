"""The bounded soak (``bench/soak.py``) with a short duration, one catcher per test.

16 clients send for ``RELIABILITY_SOAK_SECONDS`` (20 by default; the full run is 60, see
RELIABILITY.md) while two readers query and wait; then every acknowledged message must be
stored and readable (Maildir stores: exactly those), no reader may fail to parse, and the
server's RSS at the end must stay within 8 MiB of its RSS after warm-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

SECONDS = float(os.environ.get("RELIABILITY_SOAK_SECONDS", "20"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "catcher",
    ["mailfile", "maildir", "serve"],
)
def test_soak(catcher: str, tmp_path: Path) -> None:
    report = tmp_path / "soak.json"
    command = [
        sys.executable,
        str(REPO / "bench" / "soak.py"),
        "--seconds",
        str(SECONDS),
        "--clients",
        "16",
        "--catchers",
        catcher,
        "--json",
        str(report),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS + 240)
    assert run.returncode == 0, run.stdout + run.stderr
    [result] = json.loads(report.read_text())
    assert result["passed"], run.stdout
    assert (result["lost"], result["extra"], result["parse_failures"]) == (0, 0, 0)
    assert result["refused"] == 0
    assert result["errors"] == []
    # How many: bench/soak.py's own report. Here only that mail flowed and none was lost.
    assert result["acked"] > 0, run.stdout
    assert result["reads"] > 0
    if catcher != "mailfile":
        assert result["stored"] == result["acked"]
        assert result["waits"] > 0
        assert result["wait_failures"] == 0
    assert result["rss_end_kib"] - result["rss_warm_kib"] <= 8 * 1024
