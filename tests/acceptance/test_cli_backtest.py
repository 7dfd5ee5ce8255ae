"""``ruleengine backtest`` as a user runs it (a subprocess): the README's main command, --json, the trades
CSV, --from/--to, --workers and the errors, on the bundled samples."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import REPO

JSON_KEYS = {"bars", "trades", "win_rate", "avg_r", "expectancy_r", "profit_factor", "avg_hold_minutes",
             "max_adverse_r", "ambiguous_exits", "blocked", "seconds", "bars_per_second"}
CSV_COLUMNS = ["entry_time", "exit_time", "side", "entry_price", "exit_price", "sl", "tp", "exit_reason",
               "r_multiple", "score", "grade", "signal_hash"]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruleengine", "backtest", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def _json(*args: str) -> dict:
    done = run(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("rules", ["rules/xauusd.yaml", "rules/btcusd.yaml"])
def test_json_on_the_bundled_sample(rules: str) -> None:
    out = _json(rules)
    assert out.keys() >= JSON_KEYS
    assert out["bars"] > 10_000 and out["trades"] > 50
    assert 0.0 <= out["win_rate"] <= 1.0 and out["seconds"] > 0 and out["bars_per_second"] > 0
    assert all(isinstance(v, int) and v > 0 for v in out["blocked"].values())


def test_the_main_command_prints_a_summary_and_writes_the_files(tmp_path: Path) -> None:
    trades, report = tmp_path / "trades.csv", tmp_path / "report.html"
    done = run("rules/xauusd.yaml", "--trades", str(trades), "--report", str(report))
    assert done.returncode == 0, done.stderr
    assert "win" in done.stdout and f"trades: {trades}" in done.stdout and f"report: {report}" in done.stdout
    with trades.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0])[: len(CSV_COLUMNS)] == CSV_COLUMNS
    for row in rows:
        assert ISO.match(row["entry_time"]) and ISO.match(row["exit_time"])
        assert row["entry_time"] < row["exit_time"] or row["exit_reason"] == "end_of_data"
        assert row["side"] in {"long", "short"} and row["grade"] in {"trade", "A+"}
        assert row["signal_hash"].startswith(f"XAUUSD_{row['side']}_")
    assert report.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html>")


def test_from_and_to_restrict_the_traded_bars(tmp_path: Path) -> None:
    start, end = "2026-06-08T00:00:00Z", "2026-06-12T00:00:00Z"
    trades = tmp_path / "window.csv"
    out = _json("rules/xauusd.yaml", "--from", start, "--to", end, "--trades", str(trades))
    with trades.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and out["trades"] == len(rows)
    assert all(start <= row["entry_time"] and row["exit_time"] <= end for row in rows)
    assert out["bars"] < _json("rules/xauusd.yaml")["bars"]
    first = datetime.fromisoformat(rows[0]["entry_time"].replace("Z", "+00:00"))
    assert first.tzinfo is not None and first >= datetime(2026, 6, 8, tzinfo=UTC)


def test_threads_do_not_change_the_result() -> None:
    one, two = _json("rules/xauusd.yaml", "--workers", "1"), _json("rules/xauusd.yaml", "--workers", "2")
    for out in (one, two):
        del out["seconds"], out["bars_per_second"]
    assert one == two


@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "0"], "--workers must be at least 1"),
    (["--from", "2026-06-10T00:00:00Z", "--to", "2026-06-09T00:00:00Z"], "--to must be after --from"),
    (["--from", "yesterday"], "yesterday"),
])
def test_bad_arguments_exit_2_with_a_message(args: list[str], message: str) -> None:
    done = run("rules/xauusd.yaml", *args)
    assert done.returncode == 2
    assert message in done.stderr and not done.stdout
