"""Metrics on hand-built trades, every expected figure worked out by hand in the test."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ruleengine.backtest.driver import BacktestResult
from ruleengine.backtest.metrics import compute_metrics, group_stats, max_drawdown, session_of
from ruleengine.config import load_sessions
from ruleengine.execution import ExecutionModel, Trade

FRI = int(datetime(2024, 1, 5, tzinfo=UTC).timestamp())  # a Friday
MON = FRI + 3 * 86_400


def trade(r: float, *, entry: int, minutes: int = 1, side: str = "long", grade: int = 1, mae: float = 0.5,
          reason: str = "stop_loss", ambiguous: bool = False) -> Trade:
    return Trade(side=side, entry_time=entry, exit_time=entry + 60 * minutes, entry_index=0, exit_index=0,  # type: ignore[arg-type]
                 entry_price=100.0, exit_price=100.0 + r, sl=99.0, tp=101.5, exit_reason=reason, r_multiple=r,
                 mae_r=mae, mfe_r=max(r, 0.0), score=5.0, grade=grade, signal_hash="h", ambiguous=ambiguous)


def result(trades: list[Trade], *, first: int = FRI, last: int = MON + 86_400 - 60, bars: int = 2880,
           blocked: Counter[str] | None = None, ambiguous: int = 0, seconds: float = 0.5) -> BacktestResult:
    return BacktestResult(rules_path="rules/test.yaml", symbol="XAUUSD", bars=bars, first_time=first, last_time=last,
                          trades=trades, events=[], blocked=blocked or Counter(), ambiguous_exits=ambiguous,
                          signals={"long": 7, "short": 3}, seconds=seconds, intrabar="pessimistic",
                          model=ExecutionModel())


def hm(day: int, hh: int, mm: int = 0) -> int:
    return day + hh * 3600 + mm * 60


# Five trades: R +1.5, -1, +0.5, -1, 0 (in exit order), holds 1..5 minutes, MAE 0.2, 1.0, 0.6, 1.3, 0.4.
FIVE = [
    trade(1.5, entry=hm(FRI, 2), minutes=1, side="long", grade=2, mae=0.2, reason="take_profit"),  # asian
    trade(-1.0, entry=hm(FRI, 8), minutes=2, side="short", grade=1, mae=1.0, reason="stop_loss"),  # london
    trade(0.5, entry=hm(FRI, 13), minutes=3, side="long", grade=1, mae=0.6, reason="trailing_stop"),  # new_york
    trade(-1.0, entry=hm(FRI, 22), minutes=4, side="short", grade=1, mae=1.3, reason="stop_loss",  # post_ny
          ambiguous=True),
    trade(0.0, entry=hm(MON, 23, 30), minutes=5, side="long", grade=2, mae=0.4, reason="adverse_candle"),  # asian
]


@pytest.fixture
def five() -> BacktestResult:
    return result(FIVE, blocked=Counter({"cool_off": 2, "conflict": 5}), ambiguous=1)


def test_headline_figures(five):
    m = compute_metrics(five)
    assert (m.bars, m.trades, m.wins) == (2880, 5, 2)
    assert m.win_rate == pytest.approx(2 / 5)
    assert m.avg_r == pytest.approx(0.0) and m.expectancy_r == pytest.approx(0.0)
    assert m.avg_win_r == pytest.approx((1.5 + 0.5) / 2)
    assert m.avg_loss_r == pytest.approx((-1.0 - 1.0 + 0.0) / 3)  # break-even counts with the losers
    assert m.total_r == pytest.approx(0.0)
    assert m.profit_factor == pytest.approx(2.0 / 2.0)
    assert (m.best_r, m.worst_r) == (1.5, -1.0)
    assert m.avg_hold_minutes == pytest.approx((1 + 2 + 3 + 4 + 5) / 5)
    assert m.max_hold_minutes == 5
    assert m.max_adverse_r == pytest.approx(1.3)
    # curve 0, 1.5, 0.5, 1.0, 0.0, 0.0: peak 1.5, trough 0.0
    assert m.max_drawdown_r == pytest.approx(1.5)
    assert m.max_consecutive_losses == 2  # the last two: -1 then 0
    assert m.ambiguous_exits == 1
    assert m.blocked == {"conflict": 5, "cool_off": 2}
    assert list(m.blocked) == ["conflict", "cool_off"]  # most frequent first
    assert m.exit_reasons == {"stop_loss": 2, "take_profit": 1, "trailing_stop": 1, "adverse_candle": 1}
    assert m.signals == {"long": 7, "short": 3}
    assert m.seconds == 0.5 and m.bars_per_second == pytest.approx(2880 / 0.5)


def test_trades_per_day_counts_days_with_bars(five):
    # bars every minute on Thu (warm-up, before first_time), Fri and Mon; none on the weekend
    days = [FRI - 86_400, FRI, MON]
    times = np.concatenate([np.arange(d, d + 86_400, 60) for d in days])
    m = compute_metrics(five, candles_time=times)
    assert m.trading_days == 2
    assert m.trades_per_day == pytest.approx(5 / 2)
    # without the bars, every calendar day from the first to the last traded bar counts: Fri..Mon = 4
    m = compute_metrics(five)
    assert m.trading_days == 4
    assert m.trades_per_day == pytest.approx(5 / 4)


def test_breakdown_by_session(five):
    s = compute_metrics(five).by_session
    assert list(s) == ["asian", "london", "new_york", "post_ny"]  # sessions.yaml order
    asian = s["asian"]  # +1.5 (Fri 02:00) and 0.0 (Mon 23:30, the window wraps midnight)
    assert (asian.trades, asian.wins, asian.win_rate) == (2, 1, 0.5)
    assert asian.avg_r == pytest.approx(0.75) and asian.expectancy_r == pytest.approx(0.75)
    assert asian.avg_win_r == 1.5 and asian.avg_loss_r == 0.0
    assert asian.profit_factor == math.inf  # a winner and no losing R
    london = s["london"]
    assert (london.trades, london.wins, london.win_rate, london.avg_r) == (1, 0, 0.0, -1.0)
    assert london.profit_factor == 0.0 and math.isnan(london.avg_win_r)
    assert (s["new_york"].trades, s["new_york"].avg_r) == (1, 0.5)
    assert (s["post_ny"].trades, s["post_ny"].avg_r) == (1, -1.0)


def test_breakdown_by_side_and_grade(five):
    m = compute_metrics(five)
    long, short = m.by_side["long"], m.by_side["short"]
    assert (long.trades, long.wins) == (3, 2)
    assert long.win_rate == pytest.approx(2 / 3) and long.avg_r == pytest.approx(2 / 3)
    assert long.expectancy_r == pytest.approx(2 / 3) and long.profit_factor == math.inf
    assert (short.trades, short.wins, short.avg_r, short.total_r, short.profit_factor) == (2, 0, -1.0, -2.0, 0.0)
    assert list(m.by_grade) == ["A+", "standard"]
    a_plus, standard = m.by_grade["A+"], m.by_grade["standard"]
    assert (a_plus.trades, a_plus.wins, a_plus.avg_r) == (2, 1, 0.75)
    assert (standard.trades, standard.wins) == (3, 1)
    assert standard.win_rate == pytest.approx(1 / 3)
    assert standard.avg_r == pytest.approx((-1.0 + 0.5 - 1.0) / 3)
    assert standard.avg_win_r == 0.5 and standard.avg_loss_r == -1.0
    assert standard.expectancy_r == pytest.approx(1 / 3 * 0.5 + 2 / 3 * -1.0)
    assert standard.profit_factor == pytest.approx(0.5 / 2.0)


def test_breakdown_by_exit_reason(five):
    by = compute_metrics(five).by_exit_reason
    assert list(by) == ["stop_loss", "take_profit", "trailing_stop", "adverse_candle"]
    assert (by["stop_loss"].trades, by["stop_loss"].total_r) == (2, -2.0)


def test_success_criteria(five):
    c = {x.name: x for x in compute_metrics(five).criteria}
    assert list(c) == ["Win rate", "Average R multiple", "Average hold time", "Max drawdown per trade"]
    assert (c["Win rate"].value, c["Win rate"].passed) == (pytest.approx(0.4), False)
    avg = c["Average R multiple"]  # judged on the average winning R: (1.5 + 0.5) / 2 = 1.0, inside 1.0-1.5
    assert (avg.value, avg.passed) == (pytest.approx(1.0), True)
    assert "average winning trade" in avg.note and "+0.000 R" in avg.note  # the mean over all trades is named too
    assert (c["Average hold time"].value, c["Average hold time"].passed) == (pytest.approx(3.0), True)
    assert (c["Max drawdown per trade"].value, c["Max drawdown per trade"].passed) == (pytest.approx(1.3), True)
    assert compute_metrics(five).criteria_passed == 3


@pytest.mark.parametrize(("rs", "mae", "minutes", "verdicts"), [
    ([1.2] * 6 + [-1.0] * 4, 1.0, 1, [True, True, True, True]),  # 60 % exactly, avg win 1.2
    ([2.0] * 7 + [-1.0] * 3, 1.0, 1, [True, False, True, True]),  # avg win above the 1.0-1.5 band
    ([0.8] * 7 + [-1.0] * 3, 1.0, 1, [True, False, True, True]),  # ... and below it
    ([1.0] * 7 + [-1.0] * 3, 1.5, 5, [True, True, False, False]),  # 5 min and 1.5 x SL are not "under"
])
def test_criteria_boundaries(rs, mae, minutes, verdicts):
    trades = [trade(r, entry=FRI + 600 * i, minutes=minutes, mae=mae) for i, r in enumerate(rs)]
    assert [c.passed for c in compute_metrics(result(trades)).criteria] == verdicts


def test_no_trades():
    m = compute_metrics(result([]))
    assert (m.trades, m.wins, m.total_r, m.max_drawdown_r, m.max_consecutive_losses) == (0, 0, 0.0, 0.0, 0)
    for value in (m.win_rate, m.avg_r, m.expectancy_r, m.avg_win_r, m.profit_factor, m.avg_hold_minutes,
                  m.max_adverse_r, m.best_r):
        assert math.isnan(value)
    assert m.trades_per_day == 0.0
    assert not any(c.passed for c in m.criteria)  # an untested criterion is not met
    assert all(c.display == "n/a" for c in m.criteria)
    assert m.by_side["long"].trades == 0 and m.exit_reasons == {}


def test_no_bars():
    m = compute_metrics(result([], bars=0, first=0, last=0))
    assert m.trading_days == 0 and math.isnan(m.trades_per_day)


def test_profit_factor_edges():
    assert group_stats(np.array([1.0, 0.5])).profit_factor == math.inf
    assert group_stats(np.array([-1.0, -0.5])).profit_factor == 0.0
    assert math.isnan(group_stats(np.array([0.0, 0.0])).profit_factor)
    assert math.isnan(group_stats(np.array([])).profit_factor)


def test_drawdown_counts_from_zero_and_follows_exit_order():
    assert max_drawdown(np.array([-1.0, -1.0, 3.0])) == 2.0  # a first loss is a drawdown from 0 R
    assert max_drawdown(np.array([1.0, 2.0])) == 0.0
    # trades listed out of exit order: metrics sort by exit time (+2 closes first, then -1, -1)
    late = [trade(-1.0, entry=FRI + 600), trade(-1.0, entry=FRI + 1200), trade(2.0, entry=FRI)]
    assert compute_metrics(result(late)).max_drawdown_r == 2.0


@pytest.mark.parametrize(("hhmm", "name"), [
    ("06:59", "asian"), ("07:00", "london"), ("11:59", "london"), ("12:00", "new_york"), ("20:59", "new_york"),
    ("21:00", "post_ny"), ("22:59", "post_ny"), ("23:00", "asian"), ("00:00", "asian"),
])
def test_session_of(hhmm, name):
    hh, mm = map(int, hhmm.split(":"))
    assert session_of(hm(FRI, hh, mm), load_sessions()) == name


def test_as_dict_is_plain_and_json_ready(five):
    d = compute_metrics(five).as_dict()
    assert d["by_session"]["asian"]["profit_factor"] == math.inf
    assert d["criteria"][0]["name"] == "Win rate" and isinstance(d["criteria"], list)
    text = json.dumps(d)  # inf/nan become Infinity/NaN, which Python's json reads back
    assert json.loads(text)["trades"] == 5


@given(st.lists(st.floats(min_value=-3, max_value=3, allow_nan=False), max_size=60))
def test_group_invariants(rs):
    r = np.array(rs, dtype=np.float64)
    g = group_stats(r)
    assert g.trades == len(rs) and g.wins == sum(x > 0 for x in rs)
    dd = max_drawdown(r)
    assert 0.0 <= dd <= -r[r < 0].sum() + 1e-9  # a drawdown is made of losing trades only
    if rs:
        assert g.expectancy_r == pytest.approx(float(r.mean()), abs=1e-9)
        assert g.avg_r == pytest.approx(float(r.mean()), abs=1e-9)
        assert g.total_r == pytest.approx(float(r.sum()), abs=1e-9)
