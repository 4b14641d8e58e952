"""``bench/postgres_wait.py --quick`` runs end to end: every waiter on instance B wakes.

The figures are the benchmark's to judge (on a quiet machine); this only proves the
script works against the session's PostgreSQL server, and looks at no time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .server import PASSWORD

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "postgres_wait.py"


def test_the_cross_instance_wait_benchmark_runs(database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--url", database_url],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=SCRIPT.parents[1],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for row in ("A wait", "B wait", "B stream", "library"):
        assert f"\n{row} " in done.stdout
    assert "result: smoke run finished" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
