"""``bench/web.py --quick`` runs end to end and prints every row.

The smoke run proves the script works (the server starts and stops, every request
answers 200), not that the targets are met: those need the full 10,000 messages.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROWS = (
    "list first page (50)",
    "list right after a new message",
    "search to:",
    "search free text (body)",
    "open a message (JSON + HTML preview)",
    "growth while messages arrived",
)


def test_the_web_benchmark_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "bench/web.py", "--quick", "--messages", "200", "--dir", str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=300,  # only a bound on a hung run; a loaded machine is slow
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for row in ROWS:
        assert re.search(rf"^{re.escape(row)}\s+\d+\.\d", result.stdout, re.MULTILINE), row
    assert "command: PYTHONPATH=src python bench/web.py --messages 200" in result.stdout
    assert list(tmp_path.iterdir()) == []  # its temporary Maildir is gone
