"""The HTML report as a person sees it: rendered by headless Chromium (Debian's package), screenshot and DOM.

Skipped with the reason when no Chromium is installed, except under CI (``CI=true``), where ``.ci/run``
installs it: there a missing browser fails the test instead of hiding it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from ruleengine.backtest.driver import run_backtest
from ruleengine.backtest.metrics import compute_metrics
from ruleengine.backtest.report import write_report
from ruleengine.rules.model import load_rules
from tests.conftest import REPO

WIDTH, HEIGHT = 1400, 4000
TIMEOUT = 120  # seconds per Chromium run
# No network here: these keep Chromium from trying (see the environment notes); root needs --no-sandbox.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed; .ci/run installs Debian's 'chromium' package under CI=true")
        pytest.skip("Chromium is not installed (apt-get install chromium) - skipped outside CI")
    return found


def chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def png_summary(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed (still filtered) scanlines of a PNG, read with zlib and struct."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.fixture(scope="module")
def report(xau_sample, tmp_path_factory) -> Path:
    result = run_backtest(load_rules(REPO / "rules" / "xauusd.yaml"), xau_sample)
    metrics = compute_metrics(result, candles_time=xau_sample.time)
    return write_report(result, metrics, xau_sample, tmp_path_factory.mktemp("chromium") / "report.html")


def test_report_renders_in_chromium(report, tmp_path):
    binary = chromium_binary()
    shot = tmp_path / "report.png"
    run = chromium(binary, tmp_path / "profile-shot", "--enable-logging=stderr", "--v=0",
                   f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", report.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.is_file(), run.stderr[-2000:]
    log = run.stdout + run.stderr
    for problem in ("Uncaught", "SyntaxError", "net::ERR_", "Not allowed to load local resource"):
        assert problem not in log, f"{problem!r} in Chromium's log:\n{log[-2000:]}"
    console = [line for line in log.splitlines() if "CONSOLE" in line]
    assert console == [], console

    # a real page, not a blank or single-colour one
    width, height, rows = png_summary(shot)
    assert (width, height) == (WIDTH, HEIGHT)
    assert shot.stat().st_size > 50_000  # a blank 1400x4000 page compresses to a few kB
    assert len(set(rows)) > 64  # many distinct byte values: text, charts, colours
    assert rows.count(0) < 0.97 * len(rows)  # a uniform image filters to (almost) all zeros


def test_report_dom_in_chromium(report, tmp_path):
    binary = chromium_binary()
    run = chromium(binary, tmp_path / "profile-dom", "--enable-logging=stderr", "--v=0", "--dump-dom",
                   report.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    assert "<title>Backtest report · XAUUSD · xauusd.yaml</title>" in dom
    for section in ("summary", "criteria", "equity", "distribution", "breakdown", "signals", "snapshots"):
        assert f'id="{section}"' in dom, section
    assert dom.count("<svg") >= 3 and "relied on the pessimistic SL-first assumption" in dom
    assert "Uncaught" not in run.stderr and "SyntaxError" not in run.stderr
