"""``ruleengine data inspect`` as a user runs it: a subprocess, exit status, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ruleengine.cli import main
from tests.conftest import REPO, shared_file

CASES = REPO / "tests" / "cases" / "data"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120", "PYTHONWARNINGS": ""}
    return subprocess.run([sys.executable, "-m", "ruleengine", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=120)


def test_inspect_bundled_sample():
    out = run("data", "inspect")
    assert out.returncode == 0, out.stderr
    for needle in ("XAUUSD", "21,924", "2026-05-28T19:00:00Z", "2026-06-19T16:59:00Z", "60 s", "weekend 3",
                   "daily break 13", "spread", "ATR14", "taker_buy_volume", "bundled XAUUSD sample"):
        assert needle in out.stdout, needle
    assert out.stderr == ""


def test_inspect_json():
    out = run("data", "inspect", "--json", "--gaps", "2")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["bars"], report["symbol"], report["format"]) == (21_924, "XAUUSD", "csv")
    assert report["gaps"]["count"] == 16 and len(report["gaps"]["largest"]) == 2
    assert report["taker_buy_volume"]["present"] is False


def test_inspect_btc_file_guesses_the_symbol():
    out = run("data", "inspect", str(REPO / "data" / "sample" / "btcusdt_binance_spot_2024-06_m1.csv.gz"), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["symbol"] == "BTCUSD"
    assert report["taker_buy_volume"]["present"] is True
    assert report["spread"]["source"] == "default"
    assert "guessed from the file name" in " ".join(report["notes"])


def test_malformed_file_exits_1_with_file_and_line():
    path = CASES / "invalid" / "high_below_body.csv"
    out = run("data", "inspect", str(path))
    assert out.returncode == 1
    assert out.stderr == f"error: {path}:17: high 2031.2 is below max(open, close) = 2031.5\n"
    assert "Traceback" not in out.stderr
    assert out.stdout == ""


def test_missing_file_exits_1_without_traceback(tmp_path):
    out = run("data", "inspect", str(tmp_path / "absent.csv"))
    assert out.returncode == 1
    assert out.stderr == f"error: {tmp_path / 'absent.csv'}: no such file\n"


def test_unknown_broker_exits_1():
    out = run("data", "inspect", str(CASES / "valid" / "mt5_export_icmarkets.csv"), "--symbol", "XAUUSD",
              "--broker", "acme")
    assert out.returncode == 1
    assert "error: " in out.stderr and "unknown broker 'acme'" in out.stderr and "Traceback" not in out.stderr


def test_warning_is_printed_and_status_stays_0():
    out = run("data", "inspect", str(CASES / "valid" / "csv_epoch_ms_no_spread.csv"), "--json")
    assert out.returncode == 0, out.stderr
    assert out.stderr.startswith("warning: ")
    assert "spread set to 0" in out.stderr


def test_mt5_export_with_broker():
    out = run("data", "inspect", str(CASES / "valid" / "mt5_export_icmarkets.csv"), "--symbol", "XAUUSD",
              "--broker", "icmarkets", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["format"], report["first"]) == ("mt5_export", "2026-01-15T08:00:00Z")


@pytest.mark.parametrize("args", [
    ["data", "inspect", "--bogus"],
    ["data", "inspect", "--gaps", "-1"],
    ["data", "inspect", "--format", "parquet"],
    ["data"],
    [],
])
def test_usage_errors_exit_2(args):
    out = run(*args)
    assert out.returncode == 2
    assert "usage: ruleengine" in out.stderr
    assert "Traceback" not in out.stderr


def test_help_exits_0():
    out = run("data", "inspect", "--help")
    assert out.returncode == 0
    assert "--broker" in out.stdout and "--json" in out.stdout


@pytest.mark.shared_data
def test_inspect_dukascopy_year():
    out = run("data", "inspect", str(shared_file("xauusd_dukascopy_2024_m1.csv.gz")), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["bars"] == 350_628
    assert report["gaps"]["count"] == 303  # as ../shared/data/README.md counts them
    assert report["spread"]["median"] == pytest.approx(0.378, abs=0.001)


# -- in-process, for speed and for the return values of main() --------------------------------------------------
def test_main_returns_status(capsys):
    assert main(["data", "inspect", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bars"] == 21_924
    assert main(["data", "inspect", str(CASES / "invalid" / "empty.csv")]) == 1
    assert capsys.readouterr().err == f"error: {CASES / 'invalid' / 'empty.csv'}: the file is empty\n"
    assert main(["data", "inspect", "--nope"]) == 2
    assert main(["data", "inspect", str(CASES)]) == 1  # a directory
    assert "error: " in capsys.readouterr().err
