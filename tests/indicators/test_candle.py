"""Candle anatomy and engulfing patterns: plain-Python references on real bars, hand-built bar pairs,
invariants on generated candles, and symmetry under price reflection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import indicators
from ruleengine.data import Candles
from tests.strategies import candles, small_params

CANDLE = [n for n in indicators.names() if indicators.get(n).category == "candle"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def compute(name: str, c: Candles, **params: Any) -> np.ndarray:
    return indicators.get(name).compute(c, **params)


# -- price reflection ---------------------------------------------------------------------------------------


def reflect(c: Candles) -> tuple[Candles, float]:
    """Candles reflected about a centre C: p -> C - p, high and low swapped; volume and spread unchanged,
    taker buys become taker sells. Returns the candles and C.

    C = 2 * min(low) makes every C - p exact (Sterbenz: x - y is exact when y/2 <= x <= 2y, here for all
    prices up to 4 * min(low)), so differences of reflected prices equal the original differences bit for
    bit and boolean patterns must agree exactly, not just where they are far from a tie.
    """
    centre = 2.0 * float(np.min(c.low))
    assert np.max(c.high) <= 4 * np.min(c.low), "prices too spread out for an exact reflection"
    cols: dict[str, np.ndarray] = {"open": centre - c.open, "high": centre - c.low, "low": centre - c.high,
                                   "close": centre - c.close}
    if c.taker_buy_volume is not None:
        cols["taker_buy_volume"] = c.volume - c.taker_buy_volume
    return c.with_columns(**cols), centre


def assert_mirrors(name: str, c: Candles, params: dict[str, Any]) -> None:
    """``name`` on reflected candles equals its declared mirror on the originals, transformed by mirror_kind."""
    ind = indicators.get(name)
    assert ind.mirror is not None
    flipped, centre = reflect(c)
    got = ind.compute(flipped, **params)
    want = indicators.get(ind.mirror).compute(c, **params)
    if ind.mirror_kind == "negate":
        want = -want
    elif ind.mirror_kind == "reflect":
        want = centre - want
    if ind.output == "boolean":
        np.testing.assert_array_equal(got, want, err_msg=f"{name}{params} vs {ind.mirror} reflected")
    else:  # exact here (see reflect); a tolerance keeps the test valid if an implementation reorders arithmetic
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=f"{name}{params} vs {ind.mirror}")


def mirrored(category: str) -> list[str]:
    return [n for n in indicators.names() if indicators.get(n).category == category and indicators.get(n).mirror]


def test_every_candle_indicator_declares_a_consistent_mirror() -> None:
    for name in CANDLE:
        ind = indicators.get(name)
        assert ind.mirror is not None, f"{name}: declare its mirror"
        twin = indicators.get(ind.mirror)
        assert twin.mirror == name and twin.mirror_kind == ind.mirror_kind
        assert [p.name for p in twin.params] == [p.name for p in ind.params]


@pytest.mark.parametrize("name", mirrored("candle"))
def test_mirror_on_real_bars(name: str, xau_sample: Candles, btc_sample: Candles) -> None:
    assert_mirrors(name, xau_sample, {})
    assert_mirrors(name, btc_sample[:8000], {})


@pytest.mark.parametrize("name", mirrored("candle"))
@SETTINGS
@given(data=st.data())
def test_mirror_on_generated_bars(name: str, data: st.DataObject) -> None:
    c = data.draw(candles())
    assert_mirrors(name, c, data.draw(small_params(indicators.get(name))))


# -- plain-Python references on real bars --------------------------------------------------------------------


def reference_anatomy(c: Candles, floor: float = 0.1) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in ("body", "upper_wick", "lower_wick", "range", "upper_wick_ratio",
                                                   "lower_wick_ratio", "close_location", "bullish", "bearish")}
    for o, h, lo, cl in zip(c.open.tolist(), c.high.tolist(), c.low.tolist(), c.close.tolist(), strict=True):
        body = abs(cl - o)
        upper = h - max(o, cl)
        lower = min(o, cl) - lo
        rng = h - lo
        out["body"].append(body)
        out["upper_wick"].append(upper)
        out["lower_wick"].append(lower)
        out["range"].append(rng)
        out["upper_wick_ratio"].append(upper / max(body, floor * rng) if rng != 0 else 0.0)
        out["lower_wick_ratio"].append(lower / max(body, floor * rng) if rng != 0 else 0.0)
        out["close_location"].append(((cl - lo) - (h - cl)) / rng if rng != 0 else 0.0)
        out["bullish"].append(cl > o)
        out["bearish"].append(cl < o)
    return out


def reference_engulfing(c: Candles, body_ratio: float = 1.5, min_body_frac: float = 0.6) -> dict[str, list[bool]]:
    o, h, lo, cl = c.open.tolist(), c.high.tolist(), c.low.tolist(), c.close.tolist()
    out: dict[str, list[bool]] = {k: [False] for k in ("bullish_engulfing", "bearish_engulfing",
                                                        "strong_bullish_engulfing", "strong_bearish_engulfing")}
    for t in range(1, len(o)):
        po, pc = o[t - 1], cl[t - 1]
        bull = pc < po and cl[t] > o[t] and o[t] <= pc and cl[t] >= po and (o[t] < pc or cl[t] > po)
        bear = pc > po and cl[t] < o[t] and o[t] >= pc and cl[t] <= po and (o[t] > pc or cl[t] < po)
        body = abs(cl[t] - o[t])
        strong = body >= body_ratio * abs(pc - po) and body >= min_body_frac * (h[t] - lo[t])
        out["bullish_engulfing"].append(bull)
        out["bearish_engulfing"].append(bear)
        out["strong_bullish_engulfing"].append(bull and strong)
        out["strong_bearish_engulfing"].append(bear and strong)
    return out


@pytest.fixture(scope="module", params=["xau", "btc"])
def real_bars(request: pytest.FixtureRequest) -> Candles:
    if request.param == "xau":
        return request.getfixturevalue("xau_sample")
    return request.getfixturevalue("btc_sample")[:8000]


def test_anatomy_matches_reference(real_bars: Candles) -> None:
    """Exact: the same IEEE operations on the same doubles, one bar at a time."""
    for name, want in reference_anatomy(real_bars).items():
        np.testing.assert_array_equal(compute(name, real_bars), np.array(want), err_msg=name)
    for name, want in reference_anatomy(real_bars, floor=0.35).items():
        if name.endswith("_ratio"):
            np.testing.assert_array_equal(compute(name, real_bars, floor=0.35), np.array(want), err_msg=name)


def test_engulfing_matches_reference(real_bars: Candles) -> None:
    for params in ({}, {"body_ratio": 1.0, "min_body_frac": 0.0}, {"body_ratio": 2.5, "min_body_frac": 0.8}):
        for name, want in reference_engulfing(real_bars, **params).items():
            p = params if name.startswith("strong") else {}
            np.testing.assert_array_equal(compute(name, real_bars, **p), np.array(want), err_msg=f"{name}{p}")


def test_patterns_occur_on_real_bars(real_bars: Candles) -> None:
    """The comparisons above are not vacuous: each pattern fires, strong ones less often."""
    for side in ("bullish", "bearish"):
        plain = compute(f"{side}_engulfing", real_bars)
        strong = compute(f"strong_{side}_engulfing", real_bars)
        assert strong.sum() > 10
        assert plain.sum() > strong.sum()
        assert not (strong & ~plain).any()


# -- hand-built bar pairs -----------------------------------------------------------------------------------

# (previous open, previous close, open, high, low, close) -> (bullish_engulfing, bearish_engulfing,
# strong_bullish_engulfing, strong_bearish_engulfing) with the defaults body_ratio=1.5, min_body_frac=0.6.
# Both strong thresholds are inclusive: "at-both-strong-thresholds" has a body of exactly 1.5 x the previous
# one and exactly 0.6 x its range (0.75 = 0.6 * 1.25 after rounding, as the reference computes it too).
PAIRS = [
    pytest.param((10, 9, 9, 11.2, 8.9, 11), (True, False, True, False), id="bull-open-at-prev-close-strong"),
    pytest.param((10, 9, 8.8, 10.3, 8.7, 10.2), (True, False, False, False), id="bull-body-1.4x-not-strong"),
    pytest.param((10, 9, 8.5, 10, 8.5, 10), (True, False, True, False), id="bull-close-at-prev-open-1.5x-strong"),
    pytest.param((10, 9, 9, 10, 9, 10), (False, False, False, False), id="bull-equal-body-not-engulfing"),
    pytest.param((10, 9, 9, 10, 8.9, 9.9), (False, False, False, False), id="bull-close-short-of-prev-open"),
    pytest.param((10, 9, 9.1, 10.6, 9.1, 10.5), (False, False, False, False), id="bull-open-above-prev-close"),
    pytest.param((10, 10, 9.5, 10.6, 9.4, 10.5), (False, False, False, False), id="previous-doji"),
    pytest.param((9, 10, 9, 11, 9, 11), (False, False, False, False), id="same-colour"),
    pytest.param((10, 9, 9, 9.5, 8.5, 9), (False, False, False, False), id="current-doji"),
    pytest.param((10, 9, 9, 12.5, 8, 11), (True, False, False, False), id="bull-long-wicks-not-strong"),
    pytest.param((10, 9.5, 9.5, 10.5, 9.25, 10.25), (True, False, True, False), id="bull-at-both-strong-thresholds"),
    pytest.param((9, 10, 10, 10.1, 7.9, 8), (False, True, False, True), id="bear-open-at-prev-close-strong"),
    pytest.param((9, 10, 10, 10, 9, 9), (False, False, False, False), id="bear-equal-body-not-engulfing"),
    pytest.param((9, 10, 10.2, 10.3, 8.9, 9), (False, True, False, False), id="bear-close-at-prev-open-1.2x"),
    pytest.param((9, 10, 10.1, 10.2, 9.2, 9.3), (False, False, False, False), id="bear-close-above-prev-open"),
]


def two_bars(po: float, pc: float, o: float, h: float, lo: float, cl: float) -> Candles:
    return Candles(time=[0, 60], open=[po, o], high=[max(po, pc) + 0.1, h], low=[min(po, pc) - 0.1, lo],
                   close=[pc, cl], volume=[1.0, 1.0], spread=[0.0, 0.0])


@pytest.mark.parametrize(("bars", "expected"), PAIRS)
def test_engulfing_on_hand_built_pairs(bars: tuple[float, ...], expected: tuple[bool, ...]) -> None:
    c = two_bars(*bars)
    names = ("bullish_engulfing", "bearish_engulfing", "strong_bullish_engulfing", "strong_bearish_engulfing")
    for name, want in zip(names, expected, strict=True):
        got = compute(name, c)
        assert got.tolist() == [False, want], name


def test_engulfing_run_of_bars() -> None:
    """A sequence: each bar is judged against its own predecessor only; the first bar is always False."""
    o = [10.0, 9.0, 8.0, 11.0, 11.0, 12.0]
    cl = [9.0, 10.0, 11.0, 6.0, 11.0, 13.0]
    c = Candles(time=np.arange(6) * 60, open=o, high=np.maximum(o, cl), low=np.minimum(o, cl), close=cl,
                volume=np.ones(6), spread=np.zeros(6))
    assert compute("bullish_engulfing", c).tolist() == [False, False, False, False, False, False]
    assert compute("bearish_engulfing", c).tolist() == [False, False, False, True, False, False]
    # bar 1 (9 -> 10) against bar 0 (10 -> 9): equal bodies, not engulfing; bar 2 is bullish after bullish;
    # bar 3 (11 -> 6) engulfs bar 2 (8 -> 11) with a body of 5 >= 1.5 x 3 and no wicks: strong.
    assert compute("strong_bearish_engulfing", c).tolist() == [False, False, False, True, False, False]
    # bar 4 is a doji and bar 5 follows a doji: nothing.


def test_wick_ratio_bounds_on_doji_and_flat_bar() -> None:
    """A doji with wicks scores the bounded 1 / floor scale, a flat bar scores 0 (not NaN or inf)."""
    c = Candles(time=[0, 60, 120], open=[10.0, 10.0, 10.0], high=[11.0, 10.0, 10.5], low=[9.0, 10.0, 9.5],
                close=[10.0, 10.0, 10.0], volume=[1.0, 1.0, 1.0], spread=[0.0, 0.0, 0.0])
    assert compute("upper_wick_ratio", c).tolist() == [5.0, 0.0, 5.0]  # wick 1 / (0.1 * range 2)
    assert compute("lower_wick_ratio", c, floor=0.5).tolist() == [1.0, 0.0, 1.0]
    assert compute("close_location", c).tolist() == [0.0, 0.0, 0.0]
    assert compute("bullish", c).tolist() == compute("bearish", c).tolist() == [False, False, False]


# -- invariants on generated candles -----------------------------------------------------------------------


@SETTINGS
@given(c=candles(), floor=st.floats(0.01, 1.0))
def test_anatomy_invariants(c: Candles, floor: float) -> None:
    body, upper, lower, rng = (compute(n, c) for n in ("body", "upper_wick", "lower_wick", "range"))
    assert (body >= 0).all() and (upper >= 0).all() and (lower >= 0).all()
    np.testing.assert_allclose(body + upper + lower, rng, rtol=1e-12, atol=1e-12 * np.max(c.high))
    for name in ("upper_wick_ratio", "lower_wick_ratio"):
        ratio = compute(name, c, floor=floor)
        assert (ratio >= 0).all() and (ratio <= (1 / floor) * (1 + 1e-12)).all(), name
        assert (ratio[rng == 0] == 0).all()
    clv = compute("close_location", c)
    assert (np.abs(clv) <= 1 + 1e-12).all()


@SETTINGS
@given(c=candles(), body_ratio=st.floats(1.0, 4.0), min_body_frac=st.floats(0.0, 1.0))
def test_pattern_implications(c: Candles, body_ratio: float, min_body_frac: float) -> None:
    bull, bear = compute("bullish", c), compute("bearish", c)
    assert not (bull & bear).any()
    bull_e, bear_e = compute("bullish_engulfing", c), compute("bearish_engulfing", c)
    assert not (bull_e & bear_e).any()
    assert not (bull_e & ~bull).any() and not (bear_e & ~bear).any()
    assert not (bull_e[1:] & ~bear[:-1]).any() and not (bear_e[1:] & ~bull[:-1]).any()
    params = {"body_ratio": body_ratio, "min_body_frac": min_body_frac}
    assert not (compute("strong_bullish_engulfing", c, **params) & ~bull_e).any()
    assert not (compute("strong_bearish_engulfing", c, **params) & ~bear_e).any()
