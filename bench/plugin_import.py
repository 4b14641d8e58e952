"""What the pytest plugin adds to a pytest run that never asks for its fixtures (issue 15).

pytest imports ``mailcatcher.pytest_plugin`` at start-up in every project that has the package
installed. This times whole pytest processes over an empty directory, with the plugin and
without it, interleaved round by round (A B A B ...) so that the noise of a shared machine lands
on both, and prints the medians of each one's CPU time (user + system, from the kernel's
accounting of the finished child) and wall time, and the median of the per-round differences.
Plugin autoloading is off in both, so that other installed plugins (pytest-asyncio imports
asyncio, for one) neither hide nor add to the cost: A loads the plugin with ``-p``.

It also prints ``python -X importtime``'s figure for importing the plugin after pytest.

Target (issue 15): at most 10 ms added. Run from the repository root::

    PYTHONPATH=src python bench/plugin_import.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_MS = 10.0
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
WITH = [*PYTEST, "-p", "mailcatcher.pytest_plugin"]


def timed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run `argv` to the end; return its CPU seconds (user + system) and wall seconds."""
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    # 5: no tests collected, which is what an empty directory gives.
    if process.returncode not in (0, 5):
        raise SystemExit(f"{' '.join(argv)} exited with {process.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


def import_time_ms(env: dict[str, str]) -> float:
    """The plugin's cumulative import time after pytest's, from ``python -X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest, mailcatcher.pytest_plugin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"\|\s*(\d+) \| mailcatcher\.pytest_plugin$", result.stderr, re.MULTILINE)
    if match is None:
        raise SystemExit("python -X importtime printed no line for mailcatcher.pytest_plugin")
    return int(match[1]) / 1000


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews a run."""
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])
    except OSError:
        return "?"


def main(argv: Sequence[str] | None = None) -> int:
    """Time the rounds and print the figures; return 1 if the target was missed."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="A/B rounds (default 20)")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"A: {' '.join(WITH[1:])}")
    print(f"B: {' '.join(PYTEST[1:])}   (both with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1)")
    print(f"load average at start: {load_average()}")
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    wall: dict[str, list[float]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory(prefix="mailcatcher-bench-") as empty:
        for argv in (WITH, PYTEST):  # warm-up: the page cache, .pyc files
            timed(argv, Path(empty), env)
        for _ in range(args.rounds):
            for name, command in (("A", WITH), ("B", PYTEST)):
                seconds, elapsed = timed(command, Path(empty), env)
                cpu[name].append(seconds)
                wall[name].append(elapsed)
    added = [1000 * (a - b) for a, b in zip(cpu["A"], cpu["B"], strict=True)]
    for name in ("A", "B"):
        print(
            f"{name}: CPU median {1000 * statistics.median(cpu[name]):.1f} ms,"
            f" wall median {1000 * statistics.median(wall[name]):.1f} ms ({args.rounds} runs)"
        )
    added_ms = statistics.median(added)
    quartiles = statistics.quantiles(added, n=4)
    print(
        f"added by the plugin: {added_ms:.1f} ms CPU (median of the rounds' differences;"
        f" quartiles {quartiles[0]:.1f} .. {quartiles[2]:.1f} ms)"
    )
    print(f"python -X importtime: mailcatcher.pytest_plugin {import_time_ms(env):.1f} ms")
    print(f"load average at end: {load_average()}")
    ok = added_ms <= TARGET_MS
    print(f"target: <= {TARGET_MS:g} ms added  {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
