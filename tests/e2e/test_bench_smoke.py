"""``bench/throughput.py --quick`` and ``bench/wakeup.py --quick`` run end to end.

The smoke runs prove the scripts work (servers start and stop, every message is accepted and
stored intact, every waiter wakes) and print every row, not that targets are met: a ratio
from a 0.3 s run on a noisy 2-core machine means little, so ``--quick`` leaves missed
targets out of its exit status, and nothing here looks at a time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "throughput.py"
# The quick run takes about 7 s here; this bound only stops a hung run from hanging the suite
# (generous: a loaded 2-core machine runs it several times slower).
TIMEOUT = 300.0
NUMBER = r"\d+\.\d+"


def run_quick(tmp_path: Path, script: Path = SCRIPT, *args: str) -> tuple[int, str, str]:
    """Run a benchmark with ``--quick``; on timeout stop its whole process group."""
    if not args:
        args = ("--dir", str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, str(script), "--quick", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        # Its own process group, so that a timeout can stop the servers it started too.
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)  # the script stops its servers on SIGTERM
        try:
            out, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
        pytest.fail(f"{script.name} --quick did not finish within {TIMEOUT} s:\n{out}\n{err}")
    return process.returncode, out, err


def test_quick_run_prints_every_row(tmp_path: Path) -> None:
    status, out, err = run_quick(tmp_path)

    assert status == 0, f"exit status {status}\n{out}\n{err}"
    assert re.search(r"^command: .*bench/throughput\.py --quick", out, re.MULTILINE), out
    missing = []
    servers = ["Sink", "MailFile", "MailDir", "serve"]
    if importlib.util.find_spec("uvloop") is not None:
        servers.append(r"serve\+uv")
    for size, conn in (("1 KiB", "new"), ("100 KiB", "new"), ("1 KiB", "reused")):
        for handler in servers:
            row = rf"^{size}\s+16\s+{conn}\s+{handler}\s+{NUMBER}\s+{NUMBER}x\s"
            if not re.search(row, out, re.MULTILINE):
                missing.append(f"{size} x16 {conn} {handler}")
    for handler in servers:
        if not re.search(rf"^{handler}\s+{NUMBER}\s+{NUMBER}x\s", out, re.MULTILINE):
            missing.append(f"large {handler}")
    assert not missing, f"rows missing or skipped: {missing}\n{out}\n{err}"
    # MailFile and MailDir: three ratios and two large-message figures each; serve and
    # serve+uv: two ratios and a memory growth each.
    assert len(re.findall(r"^  \S+ .*  (PASS|FAIL)$", out, re.MULTILINE)) == 16, out
    assert "result: smoke run finished" in out, out
    assert list(tmp_path.iterdir()) == [], "the servers' temporary directories were left behind"


def test_wakeup_quick_run_prints_every_row(tmp_path: Path) -> None:
    report = tmp_path / "wakeup.json"
    status, out, err = run_quick(tmp_path, REPO / "bench" / "wakeup.py", "--json", str(report))

    assert status == 0, f"exit status {status}\n{out}\n{err}"
    assert "command: python bench/wakeup.py --quick" in out, out
    for kind in ("maildir", "serve"):
        # A latency may be below zero: on a busy machine the waiter can print before this
        # process, descheduled, reads the clock after the 250.
        figure = rf"-?{NUMBER}"
        row = rf"^{kind}\s+3\s+{figure}\s+{figure}\s+{figure}\s+(ok|FAIL \(< 50\))$"
        assert re.search(row, out, re.MULTILINE), out
    assert "result: smoke run finished" in out, out
    results = json.loads(report.read_text())
    assert [result["catcher"] for result in results] == ["maildir", "serve"]
    for result in results:
        assert len(result["latencies_ms"]) == len(result["baseline_ms"]) == 3  # every round woke


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The benchmark script, imported as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_throughput", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look a class's module up in sys.modules while the module executes.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        # RFC 5321 2.3.8: bare LF and CR become CRLF; the data ends with CRLF before the dot.
        (b"a\nb\rc", b"a\r\nb\r\nc\r\n.\r\n"),
        # RFC 5321 4.5.2: a line starting with "." gets one more, the first line included.
        (b".\r\n", b"..\r\n.\r\n"),
        (b"x\r\n.\r\n..y\r\n.z", b"x\r\n..\r\n...y\r\n..z\r\n.\r\n"),
        (b"a.b\r\n", b"a.b\r\n.\r\n"),
    ],
)
def test_dot_stuff(bench: ModuleType, message: bytes, wire: bytes) -> None:
    assert bench.dot_stuff(message) == wire


def test_samples_have_the_sizes_they_claim(bench: ModuleType) -> None:
    for size in (1024, 100 * 1024):
        sample = bench.text_sample(size)
        assert len(sample.data) == sample.size == size
        assert b"\r\n.\r\n" in sample.data  # a lone dot: dot-stuffing is exercised
    large = bench.large_sample(1024 * 1024)
    assert abs(large.size - 1024 * 1024) < 1024
    assert len(large.data) == large.size


def test_an_unexpected_reply_fails_the_message(bench: ModuleType) -> None:
    """The load generator counts a refused MAIL (any unexpected code) as a failure."""

    async def refuse_mail(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test\r\n")
        replies = {b"EHLO": b"250-test\r\n250 SIZE 1000\r\n", b"MAIL": b"550 5.7.1 no\r\n"}
        while line := await reader.readline():
            writer.write(replies.get(line[:4], b"221 bye\r\n"))
        writer.close()

    async def scenario() -> tuple[int, int, list[str]]:
        server = await asyncio.start_server(refuse_mail, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tally = bench.Tally()
        async with server:
            await bench.attempt(port, bench.text_sample(1024), tally, 10.0)
        return tally.sent, tally.failed, tally.errors

    sent, failed, errors = asyncio.run(scenario())
    assert (sent, failed) == (0, 1)
    assert errors == ["ReplyError: expected 250, got '550 5.7.1 no\\r\\n'"]
