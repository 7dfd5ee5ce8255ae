"""Newest-bar twins (``@last_value``) equal their array functions bit for bit.

The live evaluator computes an indicator needed at the newest bar only with its twin, on the last
``lookback + 1`` bars (or all bars, when fewer exist). A twin is only as good as this equality: the
backtest uses the array function, so any difference would make live decisions differ from backtested ones.
Checked on random candles for random parameters and at random bars, including windows shorter than the
lookback (the start of the data), and at every bar of a stretch of the bundled real samples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import indicators
from ruleengine.data import Candles, load_candles
from ruleengine.resources import sample_file
from tests.strategies import candles, series_for, small_params

TWINS = [n for n in indicators.names() if indicators.get(n).last is not None]
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _args(ind: indicators.Indicator, c: Candles, series: list[np.ndarray], lo: int, hi: int) -> list[np.ndarray]:
    """The indicator's positional inputs over bars lo..hi-1, read-only like the live evaluator's views."""
    it = iter(series)
    out = []
    for name in ind.inputs:
        a = next(it) if name in indicators.SERIES_INPUTS else c.column(name)
        a = np.asarray(a)[lo:hi]
        a.flags.writeable = False
        out.append(a)
    return out


def _same(twin: Any, expected: Any, ind: indicators.Indicator) -> bool:
    if ind.output == "boolean":
        return type(twin) is bool and twin == bool(expected)
    if type(twin) is not float:
        return False
    if math.isnan(expected):
        return math.isnan(twin)
    return twin == float(expected) and math.copysign(1.0, twin) == math.copysign(1.0, float(expected))


def _check(ind: indicators.Indicator, c: Candles, params: dict[str, Any], full: np.ndarray, ts: list[int]) -> None:
    series = series_for(ind, c)
    resolved = ind.resolve(params)
    lookback = ind.lookback(params)
    for t in ts:
        value = ind.last(*_args(ind, c, series, max(0, t - lookback), t + 1), **resolved)  # type: ignore[misc]
        assert _same(value, full[t], ind), (f"{ind.name}{params} at bar {t}: twin gives {value!r}, the array "
                                            f"function {full[t]!r}")


@pytest.mark.parametrize("name", TWINS)
@SETTINGS
@given(data=st.data())
def test_twin_equals_array_function(name: str, data: st.DataObject) -> None:
    ind = indicators.get(name)
    params = data.draw(small_params(ind))
    assume(ind.is_window_exact(params))
    lookback = ind.lookback(params)
    c = data.draw(candles(min_size=2, max_size=max(400, min(lookback, 3000) + 200)))
    try:
        full = ind.compute(c, *series_for(ind, c), **params)
    except ValueError:
        assume(False)
        raise
    ts = data.draw(st.lists(st.integers(0, len(c) - 1), min_size=1, max_size=8))
    _check(ind, c, params, full, [*ts, len(c) - 1, 0])


@pytest.fixture(scope="module")
def real() -> dict[str, Candles]:
    return {s: load_candles(sample_file(s), symbol=s) for s in ("XAUUSD", "BTCUSD")}


@pytest.mark.parametrize("symbol", ["XAUUSD", "BTCUSD"])
@pytest.mark.parametrize("name", TWINS)
def test_twin_equals_array_function_on_real_bars(name: str, symbol: str, real: dict[str, Candles]) -> None:
    ind = indicators.get(name)
    c = real[symbol]
    if any(col not in c.columns for col in ind.requires):
        pytest.skip(f"the {symbol} sample has no {', '.join(ind.requires)} column")
    full = ind.compute(c, *series_for(ind, c))
    n = len(c)
    # a day and a half of consecutive bars (sessions, day changes, weekends' edges) plus the data's start
    ts = list(range(0, 50)) + list(range(n - 2200, n))
    _check(ind, c, {}, full, ts)


def test_twins_are_registered_for_window_exact_indicators_only() -> None:
    for name in TWINS:
        ind = indicators.get(name)
        assert ind.window_exact is not False, name
