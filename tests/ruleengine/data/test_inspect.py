"""Data summaries: gap classification, true range / ATR, and the numbers reported for the bundled samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings

import ruleengine.data.inspect as inspect_module
from ruleengine.data import Candles
from ruleengine.data.inspect import classify_gap, render_summary, summarize, summary_dict, true_range
from tests.strategies import candles as candles_strategy


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@pytest.mark.parametrize(("start", "end", "kind"), [
    ("2026-06-12T20:58", "2026-06-14T22:02", "weekend"),  # Friday close .. Sunday open
    ("2024-03-28T21:00", "2024-03-31T22:00", "weekend"),  # Good Friday: Thursday .. Sunday
    ("2024-01-05T22:00", "2024-01-08T00:00", "weekend"),  # Dukascopy: Friday .. Monday 00:00
    ("2026-06-02T21:00", "2026-06-02T22:00", "daily_break"),  # US summer
    ("2024-01-09T22:00", "2024-01-09T23:00", "daily_break"),  # US winter
    ("2024-07-03T10:00", "2024-07-03T10:01", "other"),  # one quiet minute
    ("2024-12-24T18:30", "2024-12-26T00:00", "other"),  # mid-week holiday, no Saturday
    ("2024-07-03T21:00", "2024-07-04T01:30", "other"),  # longer than a break
])
def test_classify_gap(start, end, kind):
    assert classify_gap(utc(start), utc(end)) == kind


def test_true_range_formula():
    c = Candles(time=[0, 60, 120], open=[10, 11, 9], high=[12, 11.5, 9.5], low=[9, 10.5, 8], close=[11, 11, 9],
                volume=[1, 1, 1], spread=[0, 0, 0])
    # bar 0: 12-9; bar 1: max(1.0, |11.5-11|, |10.5-11|) = 1.0; bar 2 gapped down: max(1.5, |9.5-11|, |8-11|) = 3
    np.testing.assert_array_equal(true_range(c), [3.0, 1.0, 3.0])


def test_local_atr_agrees_with_the_indicator_library(xau_sample, monkeypatch):
    indicator = summarize(xau_sample).atr
    import indicators

    monkeypatch.setattr(indicators, "registry", lambda: {})
    local = summarize(xau_sample)
    assert local.atr_method == "mean of true range over 14 bars"
    assert local.atr.median == pytest.approx(indicator.median, rel=1e-12)
    assert local.atr.max == pytest.approx(indicator.max, rel=1e-12)


def test_xauusd_sample_summary(xau_sample):
    s = summarize(xau_sample, fmt="csv", top_gaps=3)
    assert (s.bars, s.symbol, s.median_spacing) == (21_924, "XAUUSD", 60.0)
    assert s.gap_count == 16
    assert dict(s.gaps_by_kind) == {"weekend": 3, "daily_break": 13, "other": 0}
    assert [g.kind for g in s.largest_gaps] == ["weekend"] * 3
    assert s.largest_gaps[0].minutes >= s.largest_gaps[1].minutes >= s.largest_gaps[2].minutes
    assert s.spread.median == pytest.approx(0.10)
    assert not s.taker_buy_present and s.taker_buy_share is None


def test_btcusd_sample_summary(btc_sample):
    s = summarize(btc_sample)
    assert (s.bars, s.gap_count) == (30_240, 0)
    assert s.taker_buy_present
    assert 0.3 < s.taker_buy_share < 0.7
    assert s.spread.max == 0.01


def test_summary_dict_is_plain_json(xau_sample):
    d = summary_dict(summarize(xau_sample, top_gaps=2))
    assert json.loads(json.dumps(d)) == d
    assert d["first"] == "2026-05-28T19:00:00Z"
    assert d["gaps"]["largest"][0]["kind"] == "weekend"
    assert set(d["spread"]) == {"median", "p95", "max", "mean", "source"}


def test_render_summary_prints_tables(xau_sample):
    from rich.console import Console

    console = Console(record=True, width=120)
    render_summary(summarize(xau_sample, notes=["a note"]), console)
    text = console.export_text()
    for needle in ("21,924", "2026-05-28T19:00:00Z", "daily break 13", "ATR14", "note: a note"):
        assert needle in text


@settings(max_examples=30, deadline=None)
@given(c=candles_strategy(min_size=2, max_size=300))
def test_summary_invariants(c):
    s = summarize(c, top_gaps=1000)
    assert s.gap_count == int(np.count_nonzero(np.diff(c.time) > 60)) == sum(s.gaps_by_kind.values())
    assert len(s.largest_gaps) == s.gap_count
    assert all(g.minutes >= 1 for g in s.largest_gaps)
    assert s.true_range.median >= 0 and s.spread.max >= 0
    assert tuple(s.gaps_by_kind) == inspect_module.GAP_KINDS
