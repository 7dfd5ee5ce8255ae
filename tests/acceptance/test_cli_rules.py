"""The rule commands as a user runs them: validate, explain, graph, schema (subprocesses, real files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruleengine", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_validate_shipped_rules_ok() -> None:
    result = run("validate", "rules/xauusd.yaml", "rules/btcusd.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("rules/xauusd.yaml: ok")
    assert result.stdout.splitlines()[1].startswith("rules/btcusd.yaml: ok")


def test_validate_reports_position_and_caret(tmp_path: Path) -> None:
    text = (REPO / "rules" / "xauusd.yaml").read_text().replace("spread: spread <= max_spread",
                                                                "spread: spread <= max_sprad")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "max_sprad" in t)
    result = run("validate", str(bad), "rules/xauusd.yaml")
    assert result.returncode == 1
    err = result.stderr.splitlines()
    column = text.splitlines()[line - 1].index("max_sprad") + 1
    assert err[0] == f"{bad}:{line}:{column}: unknown name 'max_sprad' (did you mean 'max_spread' or 'spread'?)"
    assert err[2].index("^") - 4 == column - 1  # the caret sits under the name (4 spaces of indent)
    assert "Traceback" not in result.stderr
    assert "rules/xauusd.yaml: ok" in result.stdout  # later files are still checked


def test_explain_prints_the_full_checklist() -> None:
    result = run("explain", "rules/xauusd.yaml", "--at", "2026-06-02T13:45:00Z")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for title in ("1. Pre-trade filters", "2. Location", "3a. Primary triggers", "3b. Secondary confluence",
                  "4. Confluence score"):
        assert out.count(title) == 2  # long and short
    for name in ("volatility", "spread", "session", "vwap_band", "micro_sweep", "wick_trap", "ob_retest",
                 "wick_quality", "session_quality"):
        assert f" {name}:" in out
    assert "SL " in out and "TP " in out and "signal hash: XAUUSD_long_20260602T1345_" in out


def test_explain_json_and_a_signal_bar() -> None:
    result = run("explain", "rules/xauusd.yaml", "--at", "2026-06-02T00:00:00Z", "--json", "--side", "long")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    side = data["sides"]["long"]
    assert data["bar_time"] == "2026-06-02T00:00:00Z"
    assert set(side["layers"]) == {"filters", "location", "primary", "secondary"}
    assert side["signal"] is (all(side["layers"].values()) and side["score"] >= 5)
    assert {c["layer"] for c in side["conditions"]} == {"filters", "location", "primary", "secondary"}
    if side["signal"]:
        order = side["order"]
        assert order["stop_loss"] < order["entry"] < order["take_profit"]


def test_explain_errors_are_one_line() -> None:
    result = run("explain", "rules/xauusd.yaml", "--at", "2020-01-01T00:00:00Z")
    assert result.returncode == 1
    assert result.stderr.startswith("error: 2020-01-01T00:00:00Z is before the first bar")
    usage = run("explain", "rules/xauusd.yaml", "--at", "yesterday")
    assert usage.returncode == 2 and "not a time" in usage.stderr


@pytest.mark.parametrize("flag", [[], ["--dot"]])
def test_graph(flag: list[str]) -> None:
    result = run("graph", "rules/xauusd.yaml", *flag)
    assert result.returncode == 0, result.stderr
    if flag:
        assert result.stdout.startswith("digraph rules {") and result.stdout.rstrip().endswith("}")
    else:
        header = result.stdout.splitlines()[0]
        assert "nodes" in header and "shared" in header and "warm-up 2880 bars" in header
    # the pre-execution spread check the backtest evaluates with its signals is part of the picture
    assert "spread_ok(" in result.stdout and ("checks.spread" in result.stdout or flag)


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    result = run("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
