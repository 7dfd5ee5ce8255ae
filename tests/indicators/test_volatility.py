"""Volatility indicators: plain-Python references on real bars (with and without gaps), invariants on
generated candles, window exactness of the SMA paths, Wilder convergence, and price-reflection symmetry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import indicators
from indicators.volatility import _window_sums
from ruleengine.data import Candles
from tests.indicators.test_candle import assert_mirrors, mirrored
from tests.strategies import candles, small_params

VOLATILITY = [n for n in indicators.names() if indicators.get(n).category == "volatility"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAN = math.nan

# Tolerances. The SMA paths sum a window as a binary tree (indicators.volatility._window_sums); the references
# use math.fsum, which is correctly rounded. For non-negative terms the tree's relative error is at most
# ~log2(n) * eps (< 2e-15 for n <= 1000), so rtol 1e-14. Wilder's recursion is evaluated in blocks (a
# cumsum of geometrically weighted terms), whose rounding grows like period * eps: measured 5e-15 at period
# 500 on both samples, so rtol 1e-12.
SUM_RTOL = 1e-14
WILDER_RTOL = 1e-12


def compute(name: str, c: Candles, **params: Any) -> np.ndarray:
    return indicators.get(name).compute(c, **params)


# -- plain-Python references ------------------------------------------------------------------------------


def reference_true_range(c: Candles) -> list[float]:
    h, lo, cl = c.high.tolist(), c.low.tolist(), c.close.tolist()
    out = [h[0] - lo[0]]
    for t in range(1, len(h)):
        out.append(max(h[t] - lo[t], abs(h[t] - cl[t - 1]), abs(lo[t] - cl[t - 1])))
    return out


def reference_sum(values: list[float], n: int) -> list[float]:
    return [NAN if t < n - 1 else math.fsum(values[t - n + 1:t + 1]) for t in range(len(values))]


def reference_mean(values: list[float], n: int) -> list[float]:
    return [total / n for total in reference_sum(values, n)]


def reference_wilder(values: list[float], n: int) -> list[float]:
    out = [NAN] * len(values)
    if len(values) < n:
        return out
    atr = math.fsum(values[:n]) / n
    out[n - 1] = atr
    for t in range(n, len(values)):
        atr = (atr * (n - 1) + values[t]) / n
        out[t] = atr
    return out


def reference_atr_minutes(c: Candles, minutes: int) -> list[float]:
    """Walks back from each bar while the open time is within the horizon; no cap on the bar count."""
    tr, time = reference_true_range(c), c.time.tolist()
    out = []
    for t in range(len(tr)):
        if t < minutes - 1:
            out.append(NAN)
            continue
        inside, j = [], t
        while j >= 0 and time[t] - time[j] < 60 * minutes:
            inside.append(tr[j])
            j -= 1
        out.append(math.fsum(inside) / len(inside))
    return out


def assert_close(got: np.ndarray, want: list[float], rtol: float, msg: str = "") -> None:
    np.testing.assert_allclose(got, np.array(want), rtol=rtol, atol=0, equal_nan=True, err_msg=msg)


@pytest.fixture(scope="module")
def btc_gapped(btc_sample: Candles) -> Candles:
    """8000 real BTC bars (which have no missing minute) with gaps cut in: 15 % of the bars dropped at
    random, plus a 45-minute and a 3-hour hole, so time windows hold from 1 to `minutes` bars."""
    c = btc_sample[:8000]
    keep = np.random.default_rng(7).random(len(c)) > 0.15
    keep[3000:3045] = False
    keep[6000:6180] = False
    return Candles(**{name: c.column(name)[keep] for name in c.columns}, symbol="BTCUSD")


@pytest.fixture(scope="module", params=["xau", "btc"])
def real_bars(request: pytest.FixtureRequest) -> Candles:
    if request.param == "xau":
        return request.getfixturevalue("xau_sample")
    return request.getfixturevalue("btc_sample")[:8000]


def test_true_range_matches_reference(real_bars: Candles) -> None:
    """Exact: max(h, pc) - min(l, pc) is the same single subtraction as the winner of the three terms."""
    np.testing.assert_array_equal(compute("true_range", real_bars), np.array(reference_true_range(real_bars)))


@pytest.mark.parametrize("period", [1, 2, 14, 50])
def test_atr_sma_matches_reference(real_bars: Candles, period: int) -> None:
    want = reference_mean(reference_true_range(real_bars), period)
    assert_close(compute("atr", real_bars, period=period), want, SUM_RTOL)


@pytest.mark.parametrize("period", [1, 2, 14, 50, 500])
def test_atr_wilder_matches_reference(real_bars: Candles, period: int) -> None:
    want = reference_wilder(reference_true_range(real_bars), period)
    assert_close(compute("atr", real_bars, period=period, method="wilder"), want, WILDER_RTOL)


@pytest.mark.parametrize("window", [1, 5, 20, 77])
def test_mean_range_matches_reference(real_bars: Candles, window: int) -> None:
    ranges = (real_bars.high - real_bars.low).tolist()
    assert_close(compute("mean_range", real_bars, window=window), reference_mean(ranges, window), SUM_RTOL)


@pytest.mark.parametrize("minutes", [1, 5, 30, 90])
def test_atr_minutes_matches_reference_across_gaps(xau_sample: Candles, btc_gapped: Candles, minutes: int) -> None:
    for c in (xau_sample, btc_gapped):
        span = c.time[minutes - 1:] - c.time[: len(c) - minutes + 1]
        if minutes > 1:
            assert (span >= 60 * minutes).sum() > 10, "no gapped window: the masked path is not exercised"
        assert_close(compute("atr_minutes", c, minutes=minutes), reference_atr_minutes(c, minutes), SUM_RTOL,
                     msg=c.symbol)


def test_atr_minutes_without_gaps_is_the_bar_atr(btc_sample: Candles) -> None:
    c = btc_sample[:8000]
    assert (np.diff(c.time) == 60).all()
    for minutes in (1, 14, 30):
        np.testing.assert_array_equal(compute("atr_minutes", c, minutes=minutes), compute("atr", c, period=minutes))


def test_atr_minutes_after_a_weekend_uses_only_new_bars(xau_sample: Candles) -> None:
    """Right after the weekend the 30-minute window holds only the bars since the reopen."""
    gap = int(np.flatnonzero(np.diff(xau_sample.time) > 86_400)[0]) + 1
    tr = compute("true_range", xau_sample)
    got = compute("atr_minutes", xau_sample)
    for k in range(5):
        assert math.isclose(got[gap + k], math.fsum(tr[gap:gap + k + 1]) / (k + 1), rel_tol=SUM_RTOL)


@pytest.mark.parametrize(("fast", "slow"), [(14, 50), (3, 30), (1, 2)])
def test_atr_ratio_and_states_match_reference(real_bars: Candles, fast: int, slow: int) -> None:
    tr = reference_true_range(real_bars)
    ratio = np.array(reference_mean(tr, fast)) / np.array(reference_mean(tr, slow))
    assert_close(compute("atr_ratio", real_bars, fast=fast, slow=slow), ratio.tolist(), 4 * SUM_RTOL)
    for name, threshold, side in (("volatility_expanding", 1.2, np.greater_equal),
                                  ("volatility_contracting", 0.8, np.less_equal)):
        got = compute(name, real_bars, fast=fast, slow=slow, threshold=threshold)
        clear = ~np.isclose(ratio, threshold, rtol=1e-12, atol=0)  # a tie within rounding may go either way
        np.testing.assert_array_equal(got[clear], side(ratio, threshold)[clear], err_msg=name)
        assert 0 < got.sum() < len(got) // 2, name  # the comparison is not vacuous


def test_atr_ratio_is_fast_over_slow_atr(xau_sample: Candles) -> None:
    ratio = compute("atr_ratio", xau_sample, fast=10, slow=40)
    np.testing.assert_array_equal(ratio, compute("atr", xau_sample, period=10) / compute("atr", xau_sample, period=40))


def test_atr_ratio_needs_fast_shorter_than_slow(xau_sample: Candles) -> None:
    for name in ("atr_ratio", "volatility_expanding", "volatility_contracting"):
        with pytest.raises(ValueError, match="must be shorter"):
            compute(name, xau_sample, fast=30, slow=30)


def test_flat_market_has_no_volatility_state() -> None:
    n = 60
    c = Candles(time=np.arange(n) * 60, open=np.full(n, 5.0), high=np.full(n, 5.0), low=np.full(n, 5.0),
                close=np.full(n, 5.0), volume=np.ones(n), spread=np.zeros(n))
    assert np.isnan(compute("atr_ratio", c)).all()
    assert not compute("volatility_expanding", c).any() and not compute("volatility_contracting", c).any()
    assert (compute("atr", c)[13:] == 0).all() and (compute("atr", c, method="wilder")[13:] == 0).all()


# -- invariants on generated candles -----------------------------------------------------------------------


@SETTINGS
@given(c=candles(), period=st.integers(1, 40), method=st.sampled_from(["sma", "wilder"]),
       minutes=st.integers(1, 40))
def test_nonnegative_and_true_range_covers_range(c: Candles, period: int, method: str, minutes: int) -> None:
    tr = compute("true_range", c)
    assert (tr >= compute("range", c)).all()
    atr = compute("atr", c, period=period, method=method)
    assert np.isnan(atr[: period - 1]).all() and (atr[period - 1:] >= 0).all()
    by_time = compute("atr_minutes", c, minutes=minutes)
    assert np.isnan(by_time[: minutes - 1]).all() and (by_time[minutes - 1:] >= 0).all()
    assert (compute("mean_range", c, window=period)[period - 1:] >= 0).all()
    # a time-window mean lies between the smallest and largest true range of the last `minutes` bars
    for t in range(minutes - 1, len(c)):
        window = tr[t - minutes + 1:t + 1]
        assert window.min() * (1 - 1e-12) <= by_time[t] <= window.max() * (1 + 1e-12)


@SETTINGS
@given(data=st.data())
def test_atr_sma_is_window_exact(data: st.DataObject) -> None:
    """``atr`` is registered window_exact=False for its Wilder method, so the registry-wide property skips
    it: check the SMA method here the same way."""
    c = data.draw(candles(min_size=20))
    period = data.draw(st.integers(1, 30))
    ind = indicators.get("atr")
    lookback = ind.lookback({"period": period, "method": "sma"})
    assert lookback == period
    if lookback >= len(c) - 1:
        return
    s = data.draw(st.integers(0, len(c) - lookback - 1))
    full = ind.compute(c, period=period)
    window = ind.compute(c[s:], period=period)
    np.testing.assert_array_equal(window[lookback:], full[s + lookback:])


@pytest.mark.parametrize("period", [2, 5, 14, 50])
def test_wilder_converges_within_its_lookback(xau_sample: Candles, period: int) -> None:
    """Started anywhere, Wilder's ATR agrees with the full-history one after `lookback` bars to the
    documented bound: the weight left on the starting state, (1 - 1/period)^(19 period + 1) < e^-19."""
    lookback = indicators.get("atr").lookback({"period": period, "method": "wilder"})
    assert lookback == 20 * period
    full = compute("atr", xau_sample, period=period, method="wilder")
    bound = math.exp(-19) * compute("true_range", xau_sample).max()
    for s in (1, 333, 7777, 20_000):
        window = compute("atr", xau_sample[s:], period=period, method="wilder")
        diff = np.abs(window[lookback:] - full[s + lookback:])
        assert (diff <= bound + 1e-13 * full[s + lookback:]).all(), (s, diff.max(), bound)


def test_wilder_period_one_is_true_range(xau_sample: Candles) -> None:
    np.testing.assert_array_equal(compute("atr", xau_sample, period=1, method="wilder"),
                                  compute("true_range", xau_sample))


# -- the window-sum helper ----------------------------------------------------------------------------------


@SETTINGS
@given(values=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=0, max_size=200),
       windows=st.lists(st.integers(1, 260), min_size=1, max_size=3, unique=True),
       start=st.integers(0, 50))
def test_window_sums_are_exactly_windowed(values: list[float], windows: list[int], start: int) -> None:
    x = np.array(values, dtype=np.float64)
    for n, got in zip(windows, _window_sums(x, tuple(windows)), strict=True):
        assert_close(got, reference_sum(values, n), SUM_RTOL)
        if start < len(x):
            (part,) = _window_sums(x[start:], (n,))
            np.testing.assert_array_equal(part[n - 1:], got[start + n - 1:])


def test_window_sums_confine_a_nan_to_its_windows() -> None:
    x = np.arange(20, dtype=np.float64)
    x[10] = np.nan
    (got,) = _window_sums(x, (4,))
    assert np.isnan(got[:3]).all() and np.isnan(got[10:14]).all()
    assert not np.isnan(got[3:10]).any() and not np.isnan(got[14:]).any()


# -- mirror symmetry ----------------------------------------------------------------------------------------


def test_every_volatility_indicator_is_its_own_mirror() -> None:
    for name in VOLATILITY:
        ind = indicators.get(name)
        assert (ind.mirror, ind.mirror_kind) == (name, "same"), name


@pytest.mark.parametrize("name", mirrored("volatility"))
def test_mirror_on_real_bars(name: str, xau_sample: Candles, btc_gapped: Candles) -> None:
    assert_mirrors(name, xau_sample, {})
    assert_mirrors(name, btc_gapped, {})
    if name == "atr":
        assert_mirrors(name, xau_sample, {"method": "wilder"})


@pytest.mark.parametrize("name", mirrored("volatility"))
@SETTINGS
@given(data=st.data())
def test_mirror_on_generated_bars(name: str, data: st.DataObject) -> None:
    c = data.draw(candles())
    params = data.draw(small_params(indicators.get(name)))
    if params.get("fast", 14) >= params.get("slow", 50):
        return  # rejected with a ValueError (tested above)
    assert_mirrors(name, c, params)
