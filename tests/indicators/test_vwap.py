"""VWAP indicators against a plain-Python reference on real bars (exact: same summation order) and against the
textbook formula (tight tolerance), hand-built cases (zero volume, day reset, gaps), properties (VWAP inside
the day's low..high, sigma >= 0), window exactness at full lookback and price-reflection symmetry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import indicators
from ruleengine.data import Candles, load_candles
from tests.conftest import shared_file
from tests.indicators.test_sessions import WEEKEND, newest_value, same_value
from tests.strategies import candles

MINE = [n for n in indicators.names() if indicators.get(n).category == "vwap"]
BIG = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ANCHORS = ["00:00", "13:30", "22:00"]


# -- helpers ------------------------------------------------------------------------------------------------

def at(text: str) -> int:
    """Epoch seconds of "HH:MM" on Monday 2024-06-03 UTC ("+1 HH:MM" for the next day)."""
    day = 1_717_372_800
    if text.startswith("+1 "):
        day, text = day + 86_400, text[3:]
    hh, mm = text.split(":")
    return day + int(hh) * 3600 + int(mm) * 60


def bars(times: list[str], ohlc: list[tuple[float, float, float, float]], volume: list[float]) -> Candles:
    o, h, lo, c = (np.array(col, dtype=float) for col in zip(*ohlc, strict=True))
    return Candles(time=np.array([at(t) for t in times]), open=o, high=h, low=lo, close=c,
                   volume=np.array(volume, dtype=float), spread=np.zeros(len(times)))


def reflect(c: Candles) -> tuple[Candles, float]:
    """Prices reflected about C/2 (p -> C - p, high and low swapped); volume and spread unchanged."""
    mirror = 2.0 * float(np.round(np.median(c.close)))
    cols: dict[str, Any] = dict(open=mirror - c.open, high=mirror - c.low, low=mirror - c.high, close=mirror - c.close)
    if c.taker_buy_volume is not None:
        cols["taker_buy_volume"] = c.volume - c.taker_buy_volume
    return c.with_columns(**cols), mirror


def day_keys(c: Candles, anchor: str) -> list[int]:
    hh, mm = anchor.split(":")
    return [(t - (int(hh) * 60 + int(mm)) * 60) // 86_400 for t in c.time.tolist()]


# -- plain-Python references --------------------------------------------------------------------------------

def reference_vwap(c: Candles, anchor: str = "00:00") -> tuple[list[float], list[float]]:
    """(vwap, sigma) bar by bar: sums restart with each day; deviations from the day's first typical price;
    equal weights while the day's volume so far is 0. Same operations in the same order as the indicator."""
    vwap, sigma = [], []
    previous = None
    p0 = s0 = s1 = s2 = e1 = e2 = 0.0
    count = 0
    rows = zip(day_keys(c, anchor), c.high.tolist(), c.low.tolist(), c.close.tolist(), c.volume.tolist(), strict=True)
    for key, h, lo, cl, v in rows:
        tp = (h + lo + cl) / 3.0
        if key != previous:
            previous, p0, s0, s1, s2, e1, e2, count = key, tp, 0.0, 0.0, 0.0, 0.0, 0.0, 0
        d = tp - p0
        s0 += v
        s1 += v * d
        s2 += v * d * d
        e1 += d
        e2 += d * d
        count += 1
        mean, second = (e1 / count, e2 / count) if s0 == 0.0 else (s1 / s0, s2 / s0)
        vwap.append(mean + p0)
        sigma.append(math.sqrt(max(second - mean * mean, 0.0)))
    return vwap, sigma


def reference_band(c: Candles, pct: float, anchor: str = "00:00") -> dict[str, list[Any]]:
    """Every band indicator from the reference VWAP, one bar at a time."""
    level, _ = reference_vwap(c, anchor)
    out: dict[str, list[Any]] = {k: [] for k in ("in_vwap_band", "vwap_touch", "bullish_vwap_rejection",
                                                 "bearish_vwap_rejection", "vwap_distance_pct",
                                                 "vwap_band_bars", "vwap_band_seconds")}
    previous, run, began = None, 0, 0
    rows = zip(day_keys(c, anchor), c.time.tolist(), c.open.tolist(), c.high.tolist(), c.low.tolist(),
               c.close.tolist(), level, strict=True)
    for key, t, o, h, lo, cl, vw in rows:
        w = vw * (pct / 100.0)
        inside = abs(cl - vw) <= w
        if key != previous:
            previous, run = key, 0
        run = run + 1 if inside else 0
        if run == 1:
            began = t
        out["in_vwap_band"].append(inside)
        out["vwap_touch"].append(lo <= vw + w and h >= vw - w)
        out["bullish_vwap_rejection"].append(lo <= vw + w and min(o, cl) > vw + w)
        out["bearish_vwap_rejection"].append(h >= vw - w and max(o, cl) < vw - w)
        out["vwap_distance_pct"].append(100.0 * (cl - vw) / vw)
        out["vwap_band_bars"].append(float(run))
        out["vwap_band_seconds"].append(float(t - began + 60) if inside else 0.0)
    return out


def textbook(c: Candles, sample: range, anchor: str = "00:00") -> list[tuple[float, float]]:
    """At each bar t of ``sample``: sum(v tp) / sum(v) and the two-pass weighted std over t's day up to t,
    straight from the definition."""
    keys = day_keys(c, anchor)
    tp = [(h + lo + cl) / 3 for h, lo, cl in zip(c.high.tolist(), c.low.tolist(), c.close.tolist(), strict=True)]
    volume = c.volume.tolist()
    out = []
    for t in sample:
        first = keys.index(keys[t])
        p, v = tp[first:t + 1], volume[first:t + 1]
        mean = sum(a * b for a, b in zip(v, p, strict=True)) / sum(v)
        var = sum(a * (b - mean) ** 2 for a, b in zip(v, p, strict=True)) / sum(v)
        out.append((mean, math.sqrt(var)))
    return out


# -- references on real bars --------------------------------------------------------------------------------

@pytest.fixture(params=["xau", "btc"])
def real(request: pytest.FixtureRequest, xau_sample: Candles, btc_sample: Candles) -> Candles:
    return xau_sample if request.param == "xau" else btc_sample


@pytest.mark.parametrize("anchor", ANCHORS)
def test_vwap_and_sigma_match_reference_exactly(real: Candles, anchor: str) -> None:
    level, sigma = reference_vwap(real, anchor)
    np.testing.assert_array_equal(indicators.get("vwap").compute(real, anchor=anchor), level)
    np.testing.assert_array_equal(indicators.get("vwap_sigma").compute(real, anchor=anchor), sigma)
    for k in (1.0, 2.5):
        np.testing.assert_array_equal(indicators.get("vwap_upper").compute(real, k=k, anchor=anchor),
                                      [a + k * s for a, s in zip(level, sigma, strict=True)])
        np.testing.assert_array_equal(indicators.get("vwap_lower").compute(real, k=k, anchor=anchor),
                                      [a - k * s for a, s in zip(level, sigma, strict=True)])


def test_vwap_and_sigma_agree_with_the_textbook_formula(real: Candles) -> None:
    """The textbook form sums raw v * tp (and squares around the final mean, two-pass) in another order than
    the indicator's deviations from the day's first price; both are within a few dozen ulps of the truth, so
    the VWAP agrees to 1e-13 relative and sigma to 1e-14 of the price level (measured: 3e-15 and 2e-16)."""
    level = indicators.get("vwap").compute(real)
    sigma = indicators.get("vwap_sigma").compute(real)
    sample = range(0, len(real), 97)
    for t, (mean, std) in zip(sample, textbook(real, sample), strict=True):
        assert level[t] == pytest.approx(mean, rel=1e-13, abs=0)
        assert sigma[t] == pytest.approx(std, rel=0, abs=1e-14 * mean)


@pytest.mark.parametrize("pct", [0.05, 0.1, 0.5])
def test_band_indicators_match_reference_exactly(real: Candles, pct: float) -> None:
    want = reference_band(real, pct)
    for name, values in want.items():
        params = {} if name == "vwap_distance_pct" else {"pct": pct}
        np.testing.assert_array_equal(indicators.get(name).compute(real, **params), values, err_msg=name)
    assert 0 < np.mean(want["in_vwap_band"]) < 1  # the band is neither everything nor nothing on real bars


def test_band_runs_restart_at_a_22_00_anchor(xau_sample: Candles) -> None:
    want = reference_band(xau_sample, 0.1, anchor="22:00")
    for name in ("vwap_band_bars", "vwap_band_seconds", "vwap_touch"):
        np.testing.assert_array_equal(indicators.get(name).compute(xau_sample, anchor="22:00"), want[name])


def test_quote_data_without_volume_falls_back_to_equal_weights(xau_sample: Candles) -> None:
    quotes = xau_sample.with_columns(volume=np.zeros(len(xau_sample)))
    level, sigma = reference_vwap(quotes)
    np.testing.assert_array_equal(indicators.get("vwap").compute(quotes), level)
    np.testing.assert_array_equal(indicators.get("vwap_sigma").compute(quotes), sigma)
    tp = (quotes.high + quotes.low + quotes.close) / 3
    t = len(quotes) - 1
    today = day_keys(quotes, "00:00")
    first = today.index(today[t])
    assert level[t] == pytest.approx(tp[first:].mean(), rel=1e-13)


@pytest.mark.shared_data
def test_oanda_2014_bars_have_no_volume_and_still_get_a_vwap() -> None:
    c = load_candles(shared_file("xauusd_oanda_2014-05_m1.csv.gz"), symbol="XAUUSD")
    assert (c.volume == 0).all()
    level, sigma = reference_vwap(c)
    got = indicators.get("vwap").compute(c)
    np.testing.assert_array_equal(got, level)
    np.testing.assert_array_equal(indicators.get("vwap_sigma").compute(c), sigma)
    assert np.isfinite(got).all()


# -- hand-built cases ---------------------------------------------------------------------------------------

def test_zero_volume_prefix_then_volume_weights() -> None:
    # tp = 10, 12, 20, 30, 14; volume 0, 0, 2, 0, 1. Equal weights until volume arrives, then volume weights
    # (the volume-less bars weigh nothing).
    c = bars(["09:00", "09:01", "09:02", "09:03", "09:04"],
             [(p, p, p, p) for p in (10.0, 12.0, 20.0, 30.0, 14.0)], [0, 0, 2, 0, 1])
    np.testing.assert_allclose(indicators.get("vwap").compute(c), [10, 11, 20, 20, (2 * 20 + 14) / 3], rtol=1e-15)
    np.testing.assert_allclose(indicators.get("vwap_sigma").compute(c), [0, 1, 0, 0, math.sqrt(8)], atol=1e-12)


def test_vwap_restarts_at_the_anchor() -> None:
    c = bars(["23:58", "23:59", "+1 00:00", "+1 00:01"], [(p, p + 1, p - 1, p) for p in (10.0, 20.0, 50.0, 60.0)],
             [1, 1, 1, 3])
    np.testing.assert_allclose(indicators.get("vwap").compute(c), [10, 15, 50, 57.5], rtol=1e-15)
    np.testing.assert_allclose(indicators.get("vwap").compute(c, anchor="22:00"), [10, 15, 80 / 3, 130 / 3],
                               rtol=1e-15)


def test_sigma_of_a_constant_price_is_exactly_zero_at_any_level() -> None:
    """Deviations from the day's first price are exactly 0, where raw sums of v * tp^2 at 60,000 would leave
    rounding noise of ~1e-3 in the variance."""
    p = 60_000.123
    c = bars([f"10:{m:02d}" for m in range(30)], [(p, p, p, p)] * 30, [0.37 * (k + 1) for k in range(30)])
    assert (indicators.get("vwap_sigma").compute(c) == 0.0).all()
    assert (indicators.get("vwap").compute(c) == (p + p + p) / 3).all()


def test_band_seconds_count_wall_time_and_restart_outside_and_at_the_anchor() -> None:
    # Flat bars at 100 (inside the band), a gap of three minutes, one bar at 105 (outside), back at 100, then the
    # next day.
    times = ["23:50", "23:51", "23:55", "23:56", "23:57", "+1 00:00", "+1 00:01"]
    prices = [100.0, 100.0, 100.0, 105.0, 100.0, 100.0, 100.0]
    c = bars(times, [(p, p, p, p) for p in prices], [1.0] * 7)
    seconds = indicators.get("vwap_band_seconds").compute(c, pct=1.0)
    runs = indicators.get("vwap_band_bars").compute(c, pct=1.0)
    np.testing.assert_array_equal(runs, [1, 2, 3, 0, 1, 1, 2])
    np.testing.assert_array_equal(seconds, [60, 120, 360, 0, 60, 60, 120])


def test_vwap_tap_and_rejection() -> None:
    # VWAP stays at 100 (heavy first bar); band 0.1% = +-0.1.
    ohlc = [
        (100.0, 100.0, 100.0, 100.0),  # sets the VWAP
        (101.0, 101.5, 100.05, 101.2),  # lower wick into the band, body above: bullish rejection
        (99.0, 99.95, 98.5, 98.8),  # upper wick into the band, body below: bearish rejection
        (99.0, 101.0, 98.9, 100.9),  # through the band, body across it: a touch, no rejection
        (101.0, 101.4, 100.2, 101.3),  # above, never reached the band
    ]
    c = bars(["10:00", "10:01", "10:02", "10:03", "10:04"], ohlc, [1e9, 1, 1, 1, 1])
    get = indicators.get
    np.testing.assert_array_equal(get("vwap_touch").compute(c), [True, True, True, True, False])
    np.testing.assert_array_equal(get("bullish_vwap_rejection").compute(c), [False, True, False, False, False])
    np.testing.assert_array_equal(get("bearish_vwap_rejection").compute(c), [False, False, True, False, False])
    np.testing.assert_array_equal(get("in_vwap_band").compute(c), [True, False, False, False, False])


# -- properties ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MINE)
@BIG
@given(data=st.data())
def test_window_exact_at_full_lookback(name: str, data: st.DataObject) -> None:
    """The registry-wide property, with candles long enough for a day-long lookback (its candles stop at 400)."""
    ind = indicators.get(name)
    lookback = ind.lookback()
    c = data.draw(candles(min_size=lookback + 2, max_size=lookback + 400))
    s = data.draw(st.integers(0, len(c) - lookback - 1))
    full, window = ind.compute(c), ind.compute(c[s:])
    np.testing.assert_array_equal(window[lookback:], full[s + lookback:])


@settings(max_examples=80, deadline=None)
@given(c=candles(max_size=3000), anchor=st.sampled_from(ANCHORS), quotes=st.booleans())
def test_vwap_stays_inside_the_days_range_and_sigma_is_non_negative(c: Candles, anchor: str, quotes: bool) -> None:
    """Within a few ulps: tp = (h + l + c) / 3 of a flat bar can round one ulp outside it."""
    if quotes:
        c = c.with_columns(volume=np.zeros(len(c)))
    level = indicators.get("vwap").compute(c, anchor=anchor)
    sigma = indicators.get("vwap_sigma").compute(c, anchor=anchor)
    high = indicators.get("intraday_high").compute(c, anchor=anchor)
    low = indicators.get("intraday_low").compute(c, anchor=anchor)
    slack = 4 * np.spacing(high)
    assert np.isfinite(level).all() and np.isfinite(sigma).all()
    assert (level <= high + slack).all() and (level >= low - slack).all()
    assert (sigma >= 0).all()
    assert (sigma <= (high - low) / 2 + slack).all()  # a spread of values within [low, high] has std <= range/2
    k = 1.5
    assert (indicators.get("vwap_lower").compute(c, k=k, anchor=anchor) <= level).all()
    assert (indicators.get("vwap_upper").compute(c, k=k, anchor=anchor) >= level).all()


@settings(max_examples=60, deadline=None)
@given(c=candles(max_size=3000), pct=st.sampled_from([0.0, 0.05, 0.1, 1.0]))
def test_band_persistence_is_consistent(c: Candles, pct: float) -> None:
    inside = indicators.get("in_vwap_band").compute(c, pct=pct)
    runs = indicators.get("vwap_band_bars").compute(c, pct=pct)
    seconds = indicators.get("vwap_band_seconds").compute(c, pct=pct)
    touch = indicators.get("vwap_touch").compute(c, pct=pct)
    np.testing.assert_array_equal(runs > 0, inside)
    np.testing.assert_array_equal(seconds > 0, inside)
    assert (seconds >= 60 * runs).all() and (seconds % 60 == 0).all()  # gaps only add time
    assert (runs <= 1440).all()
    assert touch[inside].all()  # a close in the band means the range touched it
    for side in ("bullish", "bearish"):
        assert touch[indicators.get(f"{side}_vwap_rejection").compute(c, pct=pct)].all()


@pytest.mark.parametrize("name", [n for n in MINE if indicators.get(n).mirror])
@settings(max_examples=30, deadline=None)
@given(c=candles(max_size=3000))
def test_mirror_under_price_reflection(name: str, c: Candles) -> None:
    """Reflected typical prices differ from C - tp by a rounding of C (~1 ulp of the level), and the variance
    E[d^2] - E[d]^2 turns an absolute error e into up to ~sqrt(e * E[d^2]) where sigma is small: tolerances of
    1e-14 of the level for the VWAP and 1e-9 for sigma and its bands (worst seen in 400 examples: 1.1e-16 and
    4.1e-11)."""
    ind = indicators.get(name)
    flipped, mirror = reflect(c)
    got = ind.compute(flipped)
    want = indicators.get(ind.mirror).compute(c)
    if ind.mirror_kind == "reflect":
        want = mirror - want
    atol = (1e-14 if name == "vwap" else 1e-9) * mirror
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def test_percentage_band_indicators_declare_no_mirror() -> None:
    """A band of pct percent of the VWAP changes width when p -> C - p moves the VWAP level, so no exact mirror."""
    for name in ("in_vwap_band", "vwap_touch", "vwap_band_bars", "vwap_band_seconds", "vwap_distance_pct",
                 "bullish_vwap_rejection", "bearish_vwap_rejection"):
        assert indicators.get(name).mirror is None, name
    assert indicators.get("vwap").mirror == "vwap" and indicators.get("vwap_upper").mirror == "vwap_lower"


def test_lookbacks_are_one_day() -> None:
    for name in MINE:
        assert indicators.get(name).lookback() == 1439, name


# -- newest-bar twins: anchors, quote data and bands the registry-wide twin test leaves at their defaults -----

TWINS = ["in_vwap_band", "vwap_band_seconds", "vwap_distance_pct", "bullish_vwap_rejection", "bearish_vwap_rejection"]


def with_volume(c: Candles, kind: str) -> Candles:
    """``traded`` as drawn; ``quotes`` without any volume; ``late``: no volume before 09:00 UTC, so each day
    opens on the equal-weight fallback and switches to volume weights during the day."""
    if kind == "quotes":
        return c.with_columns(volume=np.zeros(len(c)))
    if kind == "late":
        return c.with_columns(volume=np.where(c.time % 86_400 < 9 * 3600, 0.0, c.volume))
    return c


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_twins_equal_array_functions_for_any_anchor_and_volume(data: st.DataObject) -> None:
    volume = data.draw(st.sampled_from(["traded", "quotes", "late"]))
    c = with_volume(data.draw(candles(min_size=2, max_size=2500)), volume)
    anchor = data.draw(st.sampled_from([*ANCHORS, "24:00"]))
    pct = data.draw(st.sampled_from([0.0, 0.01, 0.05, 0.1, 1.0]))
    bars_ = [*data.draw(st.lists(st.integers(0, len(c) - 1), max_size=12)), len(c) - 1]
    for name in TWINS:
        params: dict[str, Any] = {"anchor": anchor} if name == "vwap_distance_pct" else {"anchor": anchor, "pct": pct}
        full = indicators.get(name).compute(c, **params)
        for t in bars_:
            got = newest_value(name, c, t, **params)
            assert same_value(got, full[t]), f"{name}{params} at bar {t}: twin {got!r}, array {full[t]!r}"


@pytest.mark.parametrize("anchor", ["13:30", "22:00"])
@pytest.mark.parametrize("name", TWINS)
def test_twins_equal_array_functions_on_real_bars(xau_sample: Candles, name: str, anchor: str) -> None:
    full = indicators.get(name).compute(xau_sample, anchor=anchor)
    for t in WEEKEND:
        assert same_value(newest_value(name, xau_sample, t, anchor=anchor), full[t]), f"{name} at bar {t}"
