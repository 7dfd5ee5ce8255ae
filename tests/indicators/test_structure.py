"""Market-structure indicators: hand-built bars with written-out expectations, a plain-Python reference on
real bars, window exactness on real bars, and mirror symmetry under price reflection.

The registry-wide properties (dtype, causality, window exactness on random candles) run in
``test_registry_properties.py``; this file pins down the *definitions*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import indicators
from indicators import structure as s
from indicators._shared import sharing
from ruleengine.data import Candles
from tests.strategies import candles, small_params

NAN = math.nan
F, T = False, True
STRUCTURE = [n for n in indicators.names() if indicators.get(n).category == "structure"]
ORDER_BLOCKS = {n for n in STRUCTURE if "_ob" in n}


# -- helpers ------------------------------------------------------------------------------------------------

def make_bars(rows: Sequence[tuple[float, float, float, float]]) -> Candles:
    """Candles from (open, high, low, close) rows, one minute apart."""
    o, h, lo, c = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    n = len(rows)
    return Candles(time=1_700_000_040 + 60 * np.arange(n), open=o, high=h, low=lo, close=c,
                   volume=np.ones(n), spread=np.zeros(n), symbol="TEST")


def reflect(c: Candles) -> tuple[Candles, float]:
    """Prices p -> C - p (high and low swap) with C = 2 * min(low): for prices within [C/2, 2C] (Sterbenz)
    every C - p is exact, so price differences, hence comparisons and ATR, are unchanged bit for bit."""
    C = 2.0 * float(np.min(c.low))
    assert np.max(c.high) <= 2 * C, "prices span too wide a range for an exact reflection"
    return c.with_columns(open=C - c.open, high=C - c.low, low=C - c.high, close=C - c.close), C


def call(name: str, c: Candles, **params: object) -> np.ndarray:
    return indicators.get(name).compute(c, **params)


def assert_same(actual: np.ndarray, expected: Sequence[object]) -> None:
    exp = np.array(expected, dtype=actual.dtype)
    if actual.dtype == bool:
        np.testing.assert_array_equal(actual, exp)
    else:
        np.testing.assert_allclose(actual, exp, rtol=0, atol=1e-9, equal_nan=True)


# -- swings -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("highs", "expected"), [
    # pivot at bar 2 (3 > 2, 1 before it; 3 >= 2, 1 after it) is known only at bar 4 = 2 + right
    ([1, 2, 3, 2, 1, 2], [F, F, F, F, T, F]),
    # a flat top pivots once, at its first bar: strict against the left, non-strict against the right
    ([1, 2, 3, 3, 1, 1, 1], [F, F, F, F, T, F, F]),
    # an equal high 2 bars later keeps the first pivot and is not a pivot itself (3 > 3 fails on its left)
    ([1, 2, 3, 2, 3, 1, 0], [F, F, F, F, T, F, F]),
    # a higher bar inside the right window cancels the pivot
    ([1, 2, 3, 2, 4, 1, 0], [F, F, F, F, F, F, T]),
])
def test_swing_high_reported_at_confirmation(highs: list[float], expected: list[bool]) -> None:
    assert_same(s.swing_high(np.array(highs, dtype=float), left=2, right=2), expected)


def test_swing_high_unknown_before_right_bars() -> None:
    highs = np.array([1, 2, 3, 2, 1, 2], dtype=float)
    for k in range(1, 5):  # without bar 4 the pivot at bar 2 is not confirmed yet
        assert not s.swing_high(highs[:k], left=2, right=2).any()
    assert s.swing_high(highs[:5], left=2, right=2)[4]


def test_swing_low_mirrors_swing_high() -> None:
    lows = np.array([3, 2, 1, 1, 3, 2], dtype=float)
    assert_same(s.swing_low(lows, left=2, right=2), [F, F, F, F, T, F])


def test_last_swing_high_within_counts_from_confirmation() -> None:
    highs = np.array([1, 2, 3, 2, 1, 1, 1, 1], dtype=float)  # pivot 3 at bar 2, confirmed at bar 4
    assert_same(s.last_swing_high(highs, left=2, right=2, within=2), [NAN] * 4 + [3, 3, 3, NAN])
    lows = 10 - highs
    assert_same(s.last_swing_low(lows, left=2, right=2, within=2), [NAN] * 4 + [7, 7, 7, NAN])


def test_last_swing_high_takes_the_most_recent() -> None:
    highs = np.array([1, 5, 2, 1, 4, 2, 1], dtype=float)  # pivots 5 (conf 2) and 4 (conf 5), left=right=1
    assert_same(s.last_swing_high(highs, left=1, right=1, within=10), [NAN, NAN, 5, 5, 5, 4, 4])


# -- sweeps -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("low3", "close3", "swept"), [
    (9.8, 10.1, True),    # low of the last 3 bars (10.0) taken, close back above it: sweep
    (9.8, 9.9, False),    # broken and held below: a breakdown, not a sweep
    (9.8, 10.0, False),   # closing exactly at the level is not back inside (strict)
    (10.0, 10.4, False),  # touching the low is not taking it (strict)
])
def test_bullish_sweep(low3: float, close3: float, swept: bool) -> None:
    low = np.array([10.0, 10.5, 10.2, low3])
    close = np.array([10.4, 10.8, 10.6, close3])
    assert_same(s.bullish_sweep(low, close, lookback=3), [F, F, F, swept])


def test_sweep_reference_low_is_the_lookback_window_only() -> None:
    low = np.array([9.0, 10.0, 10.5, 10.2, 9.8])
    close = np.array([9.5, 10.4, 10.8, 10.6, 10.1])
    assert s.bullish_sweep(low, close, lookback=3)[4]  # 9.0 is 4 bars back: outside the window
    assert not s.bullish_sweep(low, close, lookback=4)[4]  # inside it: 9.8 did not take 9.0


def test_bearish_sweep() -> None:
    high = np.array([10.0, 9.5, 9.8, 10.2, 10.3])
    close = np.array([9.6, 9.2, 9.5, 9.9, 10.25])
    # bar 3 takes 10.0 and closes back below; bar 4 takes 10.2 and closes above it: a breakout
    assert_same(s.bearish_sweep(high, close, lookback=3), [F, F, F, T, F])


# -- equal highs / lows -------------------------------------------------------------------------------------

def _unit_range_bars(highs: Sequence[float]) -> Candles:
    """Bars with range 1 and close 0.5 below the high; consecutive highs within 0.5, so TR = 1 (ATR = 1)."""
    return make_bars([(h - 0.5, h, h - 1.0, h - 0.5) for h in highs])


EQ = {"window": 5, "atr_period": 2, "tolerance_atr": 0.1}


def test_equal_highs_two_separate_touches() -> None:
    c = _unit_range_bars([100, 99.6, 100.05, 99.6, 99.7, 99.6])
    # at bar 4 the window (bars 0-4) tops at 100.05 and bar 0 (100.00) is within 0.1 * ATR(=1) of it;
    # at bar 5, bar 0 has left the window
    assert_same(call("equal_highs", c, **EQ), [F, F, F, F, T, F])
    assert_same(call("equal_highs_level", c, **EQ), [NAN] * 4 + [100.05, NAN])
    assert not call("equal_highs", c, **EQ, min_touches=3).any()


def test_equal_highs_adjacent_bars_are_one_visit() -> None:
    c = _unit_range_bars([100, 100.05, 99.6, 99.7, 99.6, 99.7])
    assert not call("equal_highs", c, **EQ).any()


def test_equal_highs_taken_out_are_gone() -> None:
    c = _unit_range_bars([100, 99.6, 100.05, 99.6, 100.4, 100.0])
    # bar 4 trades 0.35 above the 100/100.05 pair: the window top is now 100.4, touched once
    assert not call("equal_highs", c, **EQ).any()


def test_equal_lows_mirror() -> None:
    c, C = reflect(_unit_range_bars([100, 99.6, 100.05, 99.6, 99.7, 99.6]))
    assert_same(call("equal_lows", c, **EQ), [F, F, F, F, T, F])
    assert_same(call("equal_lows_level", c, **EQ), [NAN] * 4 + [C - 100.05, NAN])


# -- change of character ------------------------------------------------------------------------------------

def _choch_bars(rows: Sequence[tuple[float, float, float]]) -> Candles:
    """(high, low, close) rows; open = close (unused by CHOCH)."""
    return make_bars([(c, h, lo, c) for h, lo, c in rows])


# lower highs 12 (pivot bar 1, confirmed bar 2) then 11 (bar 4, conf 5); lower lows 8 (bar 3, conf 4) then
# 7 (bar 5, conf 6); with left = right = 1
DOWNTREND = [(10, 9, 9.5), (12, 11, 11.5), (11, 10, 10.5), (10, 8, 9), (11, 9, 10), (10, 7, 8.5), (9, 7.5, 8.25)]
CHOCH = {"left": 1, "right": 1, "within": 60}


def test_bullish_choch_first_close_above_last_lower_high() -> None:
    c = _choch_bars([*DOWNTREND, (11.5, 8.5, 11.2), (11.6, 10.8, 11.4)])
    # bar 7 closes above 11 (the last swing high) for the first time; bar 8 closes above it again: not fresh
    assert_same(call("bullish_choch", c, **CHOCH), [F] * 7 + [T, F])


def test_bullish_choch_needs_a_close_not_a_wick() -> None:
    c = _choch_bars([*DOWNTREND, (11.5, 8.5, 10.9), (11.6, 10.8, 11.4)])
    assert_same(call("bullish_choch", c, **CHOCH), [F] * 8 + [T])


def test_bullish_choch_needs_a_down_structure() -> None:
    rows = list(DOWNTREND)
    rows[4] = (12.5, 9, 10)  # the second swing high is now higher (12.5 > 12): not a down-structure
    c = _choch_bars([*rows, (12.7, 8.5, 12.6), (12.8, 12.0, 12.7)])
    assert not call("bullish_choch", c, **CHOCH).any()


def test_bullish_choch_pivots_must_be_recent() -> None:
    c = _choch_bars([*DOWNTREND, (11.5, 8.5, 11.2)])
    assert not call("bullish_choch", c, left=1, right=1, within=4).any()  # first swing high confirmed 5 ago
    assert call("bullish_choch", c, left=1, right=1, within=5)[7]


def test_bearish_choch_mirror() -> None:
    c, _ = reflect(_choch_bars([*DOWNTREND, (11.5, 8.5, 11.2), (11.6, 10.8, 11.4)]))
    assert_same(call("bearish_choch", c, **CHOCH), [F] * 7 + [T, F])
    assert not call("bullish_choch", c, **CHOCH).any()


# -- micro order blocks -------------------------------------------------------------------------------------

DOJI = (100.0, 100.5, 99.5, 100.0)  # TR 1, neither bearish nor bullish
BEAR = (100.2, 100.4, 99.6, 99.8)  # the order-block candle: range 0.8, TR 0.8
IMPULSE = (99.8, 101.6, 99.7, 101.5)  # closes 1.1 above its high; TR 1.9
OB = {"lookback": 3, "impulse_atr": 0.5, "zone_min_atr": 0.1, "zone_max_atr": 0.3, "atr_period": 4,
      "expire": 30}
ATR6 = (1 + 1 + 0.8 + 1.9) / 4  # ATR(4) at the impulse bar 6


def ob_outputs(c: Candles, side: str = "bullish", **params: object) -> dict[str, np.ndarray]:
    p = {**OB, **params}
    return {"top": call(f"{side}_ob_top", c, **p), "bottom": call(f"{side}_ob_bottom", c, **p),
            "retest": call(f"{side}_ob_retest", c, **p), "in": call(f"in_{side}_ob", c, **p)}


def test_order_block_formation_retest_in_zone_and_invalidation() -> None:
    c = make_bars([DOJI] * 5 + [BEAR, IMPULSE,
                                (101.5, 101.7, 101.0, 101.2),  # 7: above the zone
                                (101.2, 101.3, 100.3, 100.9),  # 8: low into the zone, close above: retest
                                (100.9, 101.0, 100.2, 100.3),  # 9: retest, and closes inside the zone
                                (100.3, 100.35, 99.8, 99.9)])  # 10: closes below the bottom: zone gone
    out = ob_outputs(c)
    bottom = 100.4 - 0.3 * ATR6  # range 0.8 > 0.3 ATR: clamped, keeping the top (the candle's high)
    assert_same(out["top"], [NAN] * 6 + [100.4] * 4 + [NAN])
    assert_same(out["bottom"], [NAN] * 6 + [bottom] * 4 + [NAN])
    assert_same(out["retest"], [F] * 8 + [T, T, F])
    assert_same(out["in"], [F] * 9 + [T, F])


def test_order_block_expires() -> None:
    c = make_bars([DOJI] * 5 + [BEAR, IMPULSE] + [(101.5, 101.8, 101.2, 101.5)] * 5)
    assert_same(ob_outputs(c, expire=3)["top"], [NAN] * 6 + [100.4] * 4 + [NAN] * 2)  # bars 6 .. 6 + 3


def test_order_block_thin_candle_extended_to_min_height() -> None:
    c = make_bars([DOJI] * 5 + [(100.21, 100.21, 100.19, 100.19), (100.19, 101.6, 99.7, 101.5)])
    atr6 = (1 + 1 + 0.21 + 1.9) / 4
    out = ob_outputs(c)
    assert_same(out["top"], [NAN] * 6 + [100.21])
    assert_same(out["bottom"], [NAN] * 6 + [100.21 - 0.1 * atr6])  # below the candle's low 100.19


def test_order_block_within_bounds_keeps_the_candle() -> None:
    c = make_bars([DOJI] * 5 + [BEAR, IMPULSE])
    assert_same(ob_outputs(c, zone_max_atr=1.0)["bottom"], [NAN] * 6 + [99.6])


def test_order_block_fixed_percent_fallback_while_atr_undefined() -> None:
    c = make_bars([DOJI] * 5 + [BEAR, IMPULSE])
    # ATR(20) is undefined at bar 6: the impulse needs only a close above the high, the height is clamped
    # to [0.1 %, 0.3 %] of the top: 0.3012 < 0.8
    out = ob_outputs(c, atr_period=20, impulse_atr=5.0)
    assert_same(out["top"], [NAN] * 6 + [100.4])
    assert_same(out["bottom"], [NAN] * 6 + [100.4 - 0.003 * 100.4])


def test_order_block_impulse_may_take_lookback_bars() -> None:
    two_bar = [DOJI] * 5 + [BEAR, IMPULSE, (101.5, 102.2, 101.4, 102.1)]
    c = make_bars(two_bar)
    # with impulse_atr = 1 bar 6 is too weak (1.1 < ATR 1.175); bar 7 closes 1.7 above the high, ATR 1.125
    atr7 = (1 + 0.8 + 1.9 + 0.8) / 4
    out = ob_outputs(c, impulse_atr=1.0)
    assert_same(out["top"], [NAN] * 7 + [100.4])
    assert_same(out["bottom"], [NAN] * 7 + [100.4 - 0.3 * atr7])
    assert np.isnan(ob_outputs(c, impulse_atr=1.0, lookback=1)["top"]).all()  # b must be the previous bar


def test_order_block_forms_once_per_candle() -> None:
    c = make_bars([DOJI] * 5 + [BEAR, IMPULSE, (101.5, 102.2, 101.4, 102.1)] + [(102.1, 102.3, 101.9, 102.1)])
    # bar 7 is also an impulse against bar 5, but bar 6 came first: one zone, expiring from bar 6
    assert_same(ob_outputs(c, expire=2)["top"], [NAN] * 6 + [100.4] * 3)


def test_invalidated_newer_zone_uncovers_older_one() -> None:
    c = make_bars([DOJI] * 5 + [BEAR, IMPULSE,
                                (101.5, 101.6, 101.1, 101.2),  # 7: bearish, the second OB candle
                                (101.2, 102.5, 101.15, 102.4),  # 8: impulse: zone B, top 101.6
                                (102.4, 102.45, 100.9, 101.0),  # 9: closes below B: B gone, A remains
                                (101.0, 101.1, 100.35, 100.6)])  # 10: retests A
    out = ob_outputs(c)
    assert_same(out["top"], [NAN] * 6 + [100.4, 100.4, 101.6, 100.4, 100.4])
    assert_same(out["retest"], [F] * 10 + [T])


def test_bearish_order_block_mirror() -> None:
    bull = make_bars([DOJI] * 5 + [BEAR, IMPULSE, (101.5, 101.7, 101.0, 101.2), (101.2, 101.3, 100.3, 100.9),
                                   (100.9, 101.0, 100.2, 100.3), (100.3, 100.35, 99.8, 99.9)])
    bear, C = reflect(bull)
    up, down = ob_outputs(bull), ob_outputs(bear, side="bearish")
    assert_same(down["bottom"], C - up["top"])
    assert_same(down["top"], C - up["bottom"])
    assert_same(down["retest"], up["retest"])
    assert_same(down["in"], up["in"])


def test_order_block_rejects_inverted_bounds() -> None:
    c = make_bars([DOJI] * 5 + [BEAR, IMPULSE])
    with pytest.raises(ValueError, match="zone_min"):
        call("bullish_ob_top", c, zone_min_atr=0.5, zone_max_atr=0.2)


# -- plain-Python reference implementations (loops over bars) ------------------------------------------------

def ref_swing_high(high: list[float], left: int, right: int) -> list[bool]:
    out = [False] * len(high)
    for t in range(left + right, len(high)):
        p = t - right
        out[t] = (all(high[p] > high[p - i] for i in range(1, left + 1))
                  and all(high[p] >= high[p + j] for j in range(1, right + 1)))
    return out


def ref_swing_low(low: list[float], left: int, right: int) -> list[bool]:
    return ref_swing_high([-x for x in low], left, right)


def ref_last_swing_high(high: list[float], left: int, right: int, within: int) -> list[float]:
    conf = ref_swing_high(high, left, right)
    out = []
    for t in range(len(high)):
        found = [c for c in range(max(0, t - within), t + 1) if conf[c]]
        out.append(high[found[-1] - right] if found else NAN)
    return out


def ref_bullish_sweep(low: list[float], close: list[float], lookback: int) -> list[bool]:
    out = [False] * len(low)
    for t in range(lookback, len(low)):
        m = min(low[t - lookback:t])
        out[t] = low[t] < m and close[t] > m
    return out


def ref_bearish_sweep(high: list[float], close: list[float], lookback: int) -> list[bool]:
    out = [False] * len(high)
    for t in range(lookback, len(high)):
        m = max(high[t - lookback:t])
        out[t] = high[t] > m and close[t] < m
    return out


def ref_atr(high: list[float], low: list[float], close: list[float], period: int) -> list[float]:
    tr = [high[0] - low[0]] + [max(high[t], close[t - 1]) - min(low[t], close[t - 1]) for t in range(1, len(high))]
    return [sum(tr[t - period + 1:t + 1]) / period if t >= period - 1 else NAN for t in range(len(high))]


def ref_equal_highs(high: list[float], low: list[float], close: list[float], window: int, min_touches: int,
                    tolerance_atr: float, atr_period: int) -> tuple[list[bool], list[float]]:
    atr = ref_atr(high, low, close, atr_period)
    flags, levels = [False] * len(high), [NAN] * len(high)
    for t in range(window - 1, len(high)):
        if math.isnan(atr[t]):
            continue
        w = high[t - window + 1:t + 1]
        top = max(w)
        touch = [top - h <= tolerance_atr * atr[t] for h in w]
        visits = sum(1 for i, x in enumerate(touch) if x and (i == 0 or not touch[i - 1]))
        if visits >= min_touches:
            flags[t], levels[t] = True, top
    return flags, levels


def ref_bullish_choch(high: list[float], low: list[float], close: list[float], left: int, right: int,
                      within: int) -> list[bool]:
    sh, sl = ref_swing_high(high, left, right), ref_swing_low(low, left, right)
    highs: list[int] = []
    lows: list[int] = []
    out = [False] * len(high)
    for t in range(len(high)):
        if sh[t]:
            highs.append(t)
        if sl[t]:
            lows.append(t)
        if len(highs) < 2 or len(lows) < 2 or t - highs[-2] > within or t - lows[-2] > within:
            continue
        level = high[highs[-1] - right]
        if not (level < high[highs[-2] - right] and low[lows[-1] - right] < low[lows[-2] - right]):
            continue
        pivot = highs[-1] - right
        out[t] = close[t] > level and all(close[j] <= level for j in range(pivot + 1, t))
    return out


def ref_bullish_ob(o: list[float], high: list[float], low: list[float], close: list[float], *, lookback: int,
                   impulse_atr: float, zone_min_atr: float, zone_max_atr: float, zone_min_pct: float,
                   zone_max_pct: float, atr_period: int, expire: int) -> dict[str, list]:
    n = len(close)
    atr = ref_atr(high, low, close, atr_period)

    def impulse(t: int, b: int) -> bool:
        gain = close[t] - high[b]
        return gain > 0 and (math.isnan(atr[t]) or gain >= impulse_atr * atr[t])

    zones = []  # (formation bar, top, height)
    for t in range(n):
        if close[t] < o[t]:
            continue
        b = next((t - k for k in range(1, lookback + 1) if t - k >= 0 and close[t - k] < o[t - k]), None)
        if b is None or not impulse(t, b) or any(impulse(j, b) for j in range(b + 1, t)):
            continue
        if math.isnan(atr[t]):
            lo, hi = zone_min_pct * abs(high[b]), zone_max_pct * abs(high[b])
        else:
            lo, hi = zone_min_atr * atr[t], zone_max_atr * atr[t]
        zones.append((t, high[b], min(max(high[b] - low[b], lo), hi)))

    def alive(zone: tuple[int, float, float], t: int) -> bool:
        f, top, height = zone
        return f <= t <= f + expire and all(top - close[j] <= height for j in range(f + 1, t + 1))

    out: dict[str, list] = {"top": [NAN] * n, "bottom": [NAN] * n, "retest": [False] * n, "in": [False] * n}
    for t in range(n):
        live = [z for z in zones if alive(z, t)]
        if live:
            _, top, height = live[-1]
            out["top"][t], out["bottom"][t] = top, top - height
            out["in"][t] = 0 <= top - close[t] <= height
        prior = [z for z in live if z[0] < t]
        out["retest"][t] = bool(prior) and low[t] <= prior[-1][1]
    return out


@pytest.fixture(scope="module", params=["xau", "btc"])
def real_slice(request: pytest.FixtureRequest, xau_sample: Candles, btc_sample: Candles) -> Candles:
    """3,000 real bars from the middle of each bundled sample."""
    c = xau_sample if request.param == "xau" else btc_sample
    return c[5_000:8_000]


def _lists(c: Candles) -> tuple[list[float], list[float], list[float], list[float]]:
    return c.open.tolist(), c.high.tolist(), c.low.tolist(), c.close.tolist()


@pytest.mark.parametrize(("left", "right"), [(2, 2), (1, 3), (10, 9)])
def test_swings_match_reference(real_slice: Candles, left: int, right: int) -> None:
    _, h, lo, _ = _lists(real_slice)
    assert_same(s.swing_high(real_slice.high, left=left, right=right), ref_swing_high(h, left, right))
    assert_same(s.swing_low(real_slice.low, left=left, right=right), ref_swing_low(lo, left, right))
    assert_same(s.last_swing_high(real_slice.high, left=left, right=right, within=30),
                ref_last_swing_high(h, left, right, 30))
    assert_same(s.last_swing_low(real_slice.low, left=left, right=right, within=30),
                [-x for x in ref_last_swing_high([-x for x in lo], left, right, 30)])


@pytest.mark.parametrize("lookback", [2, 5, 10, 37])
def test_sweeps_match_reference(real_slice: Candles, lookback: int) -> None:
    _, h, lo, cl = _lists(real_slice)
    bull = s.bullish_sweep(real_slice.low, real_slice.close, lookback=lookback)
    bear = s.bearish_sweep(real_slice.high, real_slice.close, lookback=lookback)
    assert_same(bull, ref_bullish_sweep(lo, cl, lookback))
    assert_same(bear, ref_bearish_sweep(h, cl, lookback))
    assert bull.any() and bear.any()


@pytest.mark.parametrize(("window", "min_touches", "tolerance_atr"), [(20, 2, 0.1), (10, 3, 0.25), (50, 2, 0.05)])
def test_equal_highs_match_reference(real_slice: Candles, window: int, min_touches: int,
                                     tolerance_atr: float) -> None:
    _, h, lo, cl = _lists(real_slice)
    p = {"window": window, "min_touches": min_touches, "tolerance_atr": tolerance_atr, "atr_period": 14}
    flags, levels = ref_equal_highs(h, lo, cl, window, min_touches, tolerance_atr, 14)
    assert_same(call("equal_highs", real_slice, **p), flags)
    assert_same(call("equal_highs_level", real_slice, **p), levels)
    assert any(flags)


def _touch_visits(high: np.ndarray, atr: np.ndarray, window: int, tolerance_atr: float) -> list[int]:
    """Visits to the window's top per bar, with the touch test as written: top - high <= tolerance_atr * ATR."""
    top = s._window_max(high, window)
    tol = tolerance_atr * atr
    visits = [0] * len(high)
    with np.errstate(invalid="ignore"):
        for t in range(window - 1, len(high)):
            hits = [bool(top[t] - h <= tol[t]) for h in high[t - window + 1: t + 1]]
            visits[t] = hits[0] + sum(b > a for a, b in pairwise(hits))
    return visits


@pytest.fixture(params=["threshold", "direct"])
def touch_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run _equal_tops through its per-bar threshold at every window, or through the test as written."""
    monkeypatch.setattr(s, "_THRESHOLD_WINDOW", 0 if request.param == "threshold" else 10**6)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.usefixtures("touch_path")
def test_equal_tops_threshold_is_the_written_test(seed: int) -> None:
    # _equal_tops compares each high with one per-bar threshold; on prices where that threshold is far from
    # fl(top - tol) or undefined (tol of the order of top, zero, infinite and NaN prices or ATRs, negative
    # prices, ties on a rounding boundary) it must still count exactly the touches of the written test
    with np.errstate(all="ignore"):  # inf - inf and 0 * inf are part of the test
        _check_equal_tops_on_odd_floats(np.random.default_rng(seed))


def _check_equal_tops_on_odd_floats(rng: np.random.Generator) -> None:
    n, window = 400, int(rng.integers(3, 12))
    special = np.array([0.0, -0.0, 5e-324, -5e-324, 1e-300, 1e300, -1e300, np.inf, -np.inf, np.nan, 1.0, 2.0])
    high = np.where(rng.random(n) < 0.5, rng.choice(special, n), rng.choice([-1.0, 1.0, 1e-3, 1e3], n)
                    * rng.integers(1, 8, n) * 0.25 * (1 + rng.integers(0, 3, n) * 2.0**-52))
    atr = np.where(rng.random(n) < 0.3, rng.choice(special, n), np.abs(high) * rng.choice([0.0, 0.5, 1.0, 2.0], n)
                   + rng.random(n))
    for tolerance_atr in (0.0, 0.1, 1.0, 5.0):
        visits = _touch_visits(high, atr, window, tolerance_atr)
        for min_touches in (1, 2, 3):
            flag, level = s._equal_tops(high, atr, window=window, min_touches=min_touches,
                                        tolerance_atr=tolerance_atr)
            expected = np.array(visits) >= min_touches
            np.testing.assert_array_equal(flag, expected)
            np.testing.assert_array_equal(level, np.where(expected, s._window_max(high, window), np.nan))


@pytest.mark.usefixtures("touch_path")
def test_equal_tops_on_prices_near_a_rounding_boundary() -> None:
    # highs one float apart around fl(top - tol): the threshold's neighbours decide each touch
    rng = np.random.default_rng(7)
    top, tol = 2345.67, 0.1 * 0.8765
    c = top - tol
    near = [c, np.nextafter(c, 0), np.nextafter(c, np.inf), np.nextafter(np.nextafter(c, 0), 0), top]
    high = rng.choice(near, 3000)
    atr = np.full(3000, 0.8765)
    for window, min_touches in ((5, 2), (20, 4), (100, 10)):
        flag, _ = s._equal_tops(high, atr, window=window, min_touches=min_touches, tolerance_atr=0.1)
        np.testing.assert_array_equal(flag, np.array(_touch_visits(high, atr, window, 0.1)) >= min_touches)


@pytest.mark.parametrize(("left", "right", "within"), [(2, 2, 60), (1, 1, 20), (3, 2, 120)])
def test_choch_matches_reference(real_slice: Candles, left: int, right: int, within: int) -> None:
    _, h, lo, cl = _lists(real_slice)
    expected = ref_bullish_choch(h, lo, cl, left, right, within)
    assert_same(call("bullish_choch", real_slice, left=left, right=right, within=within), expected)
    assert any(expected)


@pytest.mark.parametrize("params", [
    {},
    {"impulse_atr": 0.0, "expire": 60},
    {"lookback": 1, "impulse_atr": 0.5, "zone_min_atr": 0.2, "zone_max_atr": 0.2, "expire": 10},
    {"lookback": 5, "impulse_atr": 2.0, "atr_period": 30, "expire": 100},
])
def test_order_blocks_match_reference(real_slice: Candles, params: dict) -> None:
    p = {**dict(lookback=3, impulse_atr=1.0, zone_min_atr=0.1, zone_max_atr=0.3, zone_min_pct=0.001,
                zone_max_pct=0.003, atr_period=14, expire=30), **params}
    expected = ref_bullish_ob(*_lists(real_slice), **p)
    out = ob_outputs(real_slice, **p)
    for key in ("top", "bottom"):
        np.testing.assert_allclose(out[key], expected[key], rtol=1e-12, equal_nan=True, err_msg=key)
    for key in ("retest", "in"):
        np.testing.assert_array_equal(out[key], expected[key], err_msg=key)
    assert any(expected["retest"]) and any(expected["in"])


# -- window exactness on real bars, and mirror symmetry -----------------------------------------------------

@pytest.mark.parametrize("name", STRUCTURE)
def test_window_exact_on_real_bars(real_slice: Candles, name: str) -> None:
    ind = indicators.get(name)
    full = ind.compute(real_slice)
    lookback = ind.lookback()
    for start in (1, 17, 250, 1_001):
        part = ind.compute(real_slice[start:])
        np.testing.assert_array_equal(part[lookback:], full[start + lookback:], err_msg=f"{name} from {start}")


def test_lookback_is_tight_for_swing_levels_and_choch() -> None:
    """The declared lookback is exactly what the value needs: one bar fewer changes it."""
    highs = np.array([1, 2, 3, 2, 1, 1, 1, 1], dtype=float)  # pivot at bar 2 needs bar 0; confirmed at 4
    p = {"left": 2, "right": 2, "within": 2}
    assert indicators.get("last_swing_high").lookback(p) == 6
    assert s.last_swing_high(highs, **p)[6] == 3
    assert np.isnan(s.last_swing_high(highs[1:], **p)[5])

    c = _choch_bars([*DOWNTREND, (11.5, 8.5, 11.2)])  # the first swing high (pivot bar 1) needs bar 0
    p = {"left": 1, "right": 1, "within": 5}
    assert indicators.get("bullish_choch").lookback(p) == 7
    assert call("bullish_choch", c, **p)[7]
    assert not call("bullish_choch", c[1:], **p)[6]


def _assert_mirrored(name: str, c: Candles) -> None:
    ind = indicators.get(name)
    mirror = indicators.get(ind.mirror)
    flipped, C = reflect(c)
    value, mirrored = ind.compute(c), mirror.compute(flipped)
    # order blocks use a % of price while ATR is undefined, which reflection does not preserve
    skip = ind.lookback() if name in ORDER_BLOCKS else 0
    value, mirrored = value[skip:], mirrored[skip:]
    if ind.mirror_kind == "same":
        np.testing.assert_array_equal(mirrored, value, err_msg=name)
    else:
        assert ind.mirror_kind == "reflect"
        np.testing.assert_allclose(mirrored, C - value, rtol=1e-13, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("name", STRUCTURE)
def test_mirror_symmetry_on_real_bars(real_slice: Candles, name: str) -> None:
    _assert_mirrored(name, real_slice)


@pytest.mark.parametrize("name", STRUCTURE)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=candles(min_size=60, max_size=400))
def test_mirror_symmetry_on_random_candles(name: str, c: Candles) -> None:
    _assert_mirrored(name, c)


def test_every_structure_indicator_has_a_mirror() -> None:
    for name in STRUCTURE:
        ind = indicators.get(name)
        assert ind.mirror in STRUCTURE, name
        assert indicators.get(ind.mirror).mirror == name, name


# -- newest-bar twins ---------------------------------------------------------------------------------------
# ``test_last_values.py`` checks every twin against its array function on random and real bars. These reach
# the paths such bars rarely take: the exact ATR behind the order blocks' ATR intervals, and NaN bars.

TWINS = [n for n in STRUCTURE if indicators.get(n).last is not None]
TWIN_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_twin_matches(name: str, cols: dict[str, np.ndarray], params: dict[str, object], ts: list[int]) -> None:
    """The twin on the last lookback + 1 bars up to t (read-only, as live) equals the array function at t."""
    ind = indicators.get(name)
    resolved = ind.resolve(params)
    lookback = ind.lookback(params)
    full = ind.func(*(cols[i] for i in ind.inputs), **resolved)
    for t in ts:
        window = []
        for i in ind.inputs:
            view = cols[i][max(0, t - lookback):t + 1]
            view.flags.writeable = False
            window.append(view)
        value, expected = ind.last(*window, **resolved), full[t]
        where = f"{name}{params} at bar {t}: twin {value!r}, array {expected!r}"
        if ind.output == "boolean":
            assert value is bool(expected), where
        elif math.isnan(expected):
            assert type(value) is float and math.isnan(value), where
        else:
            assert type(value) is float and value == expected, where
            assert math.copysign(1.0, value) == math.copysign(1.0, expected), where


def _columns(c: Candles) -> dict[str, np.ndarray]:
    return {name: np.array(c.column(name), dtype=float) for name in ("open", "high", "low", "close")}


@TWIN_SETTINGS
@given(c=candles(min_size=2, max_size=120), period=st.integers(1, 30))
def test_atr_window_exact_value_and_interval(c: Candles, period: int) -> None:
    high, low, close = c.high, c.low, c.close
    atr = s._AtrWindow(high, low, close, float(high[0] - low[0]), period)
    expected = s._atr(high, low, close, period)
    for t in range(len(c)):
        exact = atr.exact(t)
        if t < period - 1:
            assert math.isnan(exact) and math.isnan(expected[t])
            continue
        assert exact == expected[t]
        lo, hi = atr.bounds(t)
        assert lo <= exact <= hi


@pytest.mark.parametrize("name", sorted(ORDER_BLOCKS))
@TWIN_SETTINGS
@given(data=st.data())
def test_order_block_twins_on_the_exact_atr_path(name: str, data: st.DataObject) -> None:
    """With an infinite error bound no ATR interval decides anything: every impulse and height test takes the
    exact tree sum, which the ordinary runs almost never reach."""
    ind = indicators.get(name)
    params = data.draw(small_params(ind))
    assume(params.get("zone_min_atr", 0.1) <= params.get("zone_max_atr", 0.3))
    assume(params.get("zone_min_pct", 0.001) <= params.get("zone_max_pct", 0.003))
    c = data.draw(candles(min_size=2, max_size=300))
    ts = data.draw(st.lists(st.integers(0, len(c) - 1), min_size=1, max_size=20))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(s, "_UNIT_ROUNDOFF", math.inf)
        _assert_twin_matches(name, _columns(c), params, [*ts, len(c) - 1])


@pytest.mark.parametrize("name", TWINS)
@TWIN_SETTINGS
@given(c=candles(min_size=2, max_size=150), data=st.data())
def test_twins_on_bars_with_nan(name: str, c: Candles, data: st.DataObject) -> None:
    """NaN prices (a feed gap) either fail the twins' comparisons as they fail numpy's, or send the twin to
    its array function."""
    cols = _columns(c)
    for _ in range(data.draw(st.integers(1, 4))):
        column = data.draw(st.sampled_from(sorted(cols)))
        cols[column][data.draw(st.integers(0, len(c) - 1))] = math.nan
    _assert_twin_matches(name, cols, {}, list(range(len(c))))


def test_order_block_twins_share_one_walk_per_evaluation() -> None:
    """In one ``sharing`` block the order-block twins of one window build it once (and each side once)."""
    c = make_bars([(10, 10.5, 9.5, 10)] * 20)
    views = []
    for a in _columns(c).values():
        a.flags.writeable = False
        views.append(a)
    calls = []
    build = s._ob_window

    def counting(*args: object) -> object:
        calls.append(args)
        return build(*args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp, sharing():
        mp.setattr(s, "_ob_window", counting)
        for name in sorted(ORDER_BLOCKS):
            ind = indicators.get(name)
            ind.last(*views, **ind.resolve())  # type: ignore[misc]
    assert len(calls) == 1
