"""Order-flow indicators against plain-Python references on real Binance bars, hand-built cases, properties,
and the price-reflection symmetry of every volume, spread and order-flow indicator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import indicators
from indicators import orderflow as of
from indicators._rolling import last_preceding_std, preceding_std
from ruleengine.data import Candles
from tests.indicators.test_sessions import newest_value, same_value
from tests.strategies import candles, small_params

MIDNIGHT = 1_717_459_200  # 2024-06-04 00:00 UTC
ANCHORS = ["00:00", "13:30", "22:00"]


# -- plain-Python references -----------------------------------------------------------------------------

def reference_delta(c: Candles) -> list[float]:
    return [2.0 * b - v for v, b in zip(c.volume.tolist(), c.taker_buy_volume.tolist(), strict=True)]


def reference_session_keys(c: Candles, anchor: str) -> list[int]:
    hh, mm = anchor.split(":")
    return [(t - (int(hh) * 60 + int(mm)) * 60) // 86_400 for t in c.time.tolist()]


def reference_cvd(c: Candles, anchor: str = "00:00") -> list[float]:
    """Running sum of the delta, restarted when the session key changes."""
    out, total, previous = [], 0.0, None
    for key, d in zip(reference_session_keys(c, anchor), reference_delta(c), strict=True):
        total = d if key != previous else total + d
        previous = key
        out.append(total)
    return out


def reference_divergence(c: Candles, side: str, window: int, threshold: float, anchor: str = "00:00") -> list[bool]:
    flow, keys = reference_cvd(c, anchor), reference_session_keys(c, anchor)
    price = (c.high if side == "bearish" else c.low).tolist()
    out = []
    for t in range(len(flow)):
        first = t - window + 1
        if first < 0 or keys[first] != keys[t]:
            out.append(False)
            continue
        top, bottom = max(flow[first:t + 1]), min(flow[first:t + 1])
        if side == "bearish":
            out.append(price[t] >= max(price[first:t + 1]) and top - flow[t] > threshold * (top - bottom))
        else:
            out.append(price[t] <= min(price[first:t + 1]) and flow[t] - bottom > threshold * (top - bottom))
    return out


def reference_delta_sigma(c: Candles, window: int) -> list[float]:
    """Population std (two-pass) of the ``window`` deltas before each bar."""
    deltas, out = reference_delta(c), []
    for t in range(len(deltas)):
        if t < window:
            out.append(math.nan)
            continue
        before = deltas[t - window:t]
        mean = sum(before) / window
        out.append(math.sqrt(sum((d - mean) ** 2 for d in before) / window))
    return out


def reference_absorption(c: Candles, window: int, volume_ratio: float, range_ratio: float) -> tuple[list, list]:
    """(absorption flags, distance of the bar from either threshold, relative) per bar."""
    volume, ranges = c.volume.tolist(), (c.high - c.low).tolist()
    flags, margins = [], []
    for t in range(len(volume)):
        if t < window:
            flags.append(False)
            margins.append(math.inf)
            continue
        mean_volume = sum(volume[t - window:t]) / window
        mean_range = sum(ranges[t - window:t]) / window
        heavy = mean_volume > 0 and volume[t] >= volume_ratio * mean_volume
        flags.append(heavy and ranges[t] <= range_ratio * mean_range)
        margins.append(min(abs(volume[t] - volume_ratio * mean_volume) / max(mean_volume, 1e-300),
                           abs(ranges[t] - range_ratio * mean_range) / max(mean_range, 1e-300)))
    return flags, margins


# -- against the references on real bars -------------------------------------------------------------------

def test_delta_and_cvd_equal_reference_exactly(btc_sample) -> None:
    # Same operations in the same order (cvd: left to right from each session's first bar): bit-equal.
    np.testing.assert_array_equal(indicators.get("delta").compute(btc_sample), reference_delta(btc_sample))
    for anchor in ANCHORS:
        got = indicators.get("cvd").compute(btc_sample, anchor=anchor)
        np.testing.assert_array_equal(got, reference_cvd(btc_sample, anchor))


@pytest.mark.parametrize("window", [1, 5, 20])
def test_cvd_slope_is_net_delta_per_bar(btc_sample, window: int) -> None:
    deltas = reference_delta(btc_sample)
    ref = [math.nan] * (window - 1) + [sum(deltas[t - window + 1:t + 1]) / window
                                       for t in range(window - 1, len(deltas))]
    # Tree sum vs left-to-right loop: a few eps of the window's gross volume (deltas cancel, so absolute).
    scale = np.asarray(btc_sample.volume).max()
    np.testing.assert_allclose(of.cvd_slope(btc_sample.volume, btc_sample.taker_buy_volume, window=window),
                               ref, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("side", ["bullish", "bearish"])
@pytest.mark.parametrize(("window", "threshold", "anchor"), [(20, 0.3, "00:00"), (5, 0.0, "13:30"), (60, 0.5, "22:00")])
def test_cvd_divergence_equals_reference_exactly(btc_sample, side, window, threshold, anchor) -> None:
    # The CVD is bit-equal to the reference and max/min do not round, so the flags agree exactly.
    got = indicators.get(f"{side}_cvd_divergence").compute(btc_sample, window=window, threshold=threshold,
                                                           anchor=anchor)
    ref = reference_divergence(btc_sample, side, window, threshold, anchor)
    np.testing.assert_array_equal(got, ref)
    assert 0 < got.sum() < len(got) / 5


@pytest.mark.parametrize(("window", "k"), [(20, 2.0), (5, 1.0), (60, 3.0)])
def test_delta_spikes_equal_reference(btc_sample, window: int, k: float) -> None:
    deltas, sigma = np.array(reference_delta(btc_sample)), np.array(reference_delta_sigma(btc_sample, window))
    with np.errstate(invalid="ignore"):
        ref_bull, ref_bear = deltas > k * sigma, deltas < -k * sigma
    bull = indicators.get("bullish_delta_spike").compute(btc_sample, window=window, k=k)
    bear = indicators.get("bearish_delta_spike").compute(btc_sample, window=window, k=k)
    # The std differs from the loop's two-pass one by ~1e-15 relative: only exact ties could flip.
    tie = np.abs(np.abs(deltas) - k * sigma) <= 1e-12 * np.abs(deltas)
    np.testing.assert_array_equal(bull[~tie], ref_bull[~tie])
    np.testing.assert_array_equal(bear[~tie], ref_bear[~tie])
    assert tie.sum() == 0 and 0 < bull.sum() < len(bull) / 5 and 0 < bear.sum() < len(bear) / 5


@pytest.mark.parametrize(("window", "volume_ratio", "range_ratio"), [(20, 2.0, 1.0), (10, 1.5, 0.8)])
@pytest.mark.parametrize("sample", ["btc_sample", "xau_sample"])
def test_absorption_equals_reference(request, sample, window, volume_ratio, range_ratio) -> None:
    c = request.getfixturevalue(sample)
    ref, margins = reference_absorption(c, window, volume_ratio, range_ratio)
    got = indicators.get("absorption").compute(c, window=window, volume_ratio=volume_ratio, range_ratio=range_ratio)
    clear = np.array(margins) > 1e-12  # away from a threshold by more than the means' rounding
    np.testing.assert_array_equal(got[clear], np.array(ref)[clear])
    assert got.any()


def test_buy_and_sell_pressure_equal_reference(btc_sample) -> None:
    volume, buys = btc_sample.volume.tolist(), btc_sample.taker_buy_volume.tolist()
    np.testing.assert_array_equal(indicators.get("buy_pressure").compute(btc_sample),
                                  [b / v for v, b in zip(volume, buys, strict=True)])
    np.testing.assert_array_equal(indicators.get("sell_pressure").compute(btc_sample),
                                  [(v - b) / v for v, b in zip(volume, buys, strict=True)])
    ref = [math.nan] * 4 + [sum(buys[t - 4:t + 1]) / sum(volume[t - 4:t + 1]) for t in range(4, len(volume))]
    got = indicators.get("buy_pressure").compute(btc_sample, window=5)
    np.testing.assert_allclose(got, ref, rtol=1e-13)
    both = got + indicators.get("sell_pressure").compute(btc_sample, window=5)
    np.testing.assert_allclose(both[4:], 1.0, rtol=1e-14)


# -- window exactness of the session-anchored indicators (lookback 1439 > the registry test's 400 bars) ------

@pytest.mark.parametrize("name", ["cvd", "bullish_cvd_divergence", "bearish_cvd_divergence"])
def test_session_indicators_window_exact_on_real_bars(btc_sample, name: str) -> None:
    ind = indicators.get(name)
    lookback = ind.lookback()
    assert lookback == 1439
    params = {"anchor": "13:30"} if name == "cvd" else {"window": 7, "anchor": "13:30"}
    full = ind.compute(btc_sample, **params)
    for start in (1, 17, 810, 1439, 5000):
        part = ind.compute(btc_sample[start:], **params)
        np.testing.assert_array_equal(part[lookback:], full[start + lookback:], err_msg=f"{name} from {start}")


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_session_indicators_window_exact_on_generated_bars(data: st.DataObject) -> None:
    c = data.draw(candles(min_size=1500, max_size=2200))
    start = data.draw(st.integers(0, len(c) - 1441))
    anchor = data.draw(st.sampled_from(ANCHORS))
    for name in ("cvd", "bullish_cvd_divergence", "bearish_cvd_divergence"):
        ind = indicators.get(name)
        params = {"anchor": anchor} if name == "cvd" else {"window": 3, "anchor": anchor}
        full, part = ind.compute(c, **params), ind.compute(c[start:], **params)
        np.testing.assert_array_equal(part[1439:], full[start + 1439:], err_msg=name)


# -- hand-built cases ------------------------------------------------------------------------------------

def _flow_bars(deltas: list[float], volume: float = 100.0, start: int = MIDNIGHT, **prices: list[float]) -> Candles:
    """One bar a minute from ``start``, each with the given delta (taker buys = (volume + delta) / 2)."""
    n = len(deltas)
    mid = np.asarray(prices.get("close", [100.0] * n))
    high = np.asarray(prices.get("high", mid + 1.0))
    low = np.asarray(prices.get("low", mid - 1.0))
    vol = np.full(n, volume)
    return Candles(time=start + 60 * np.arange(n), open=mid, high=high, low=low, close=mid, volume=vol,
                   spread=np.zeros(n), taker_buy_volume=(vol + np.asarray(deltas)) / 2)


def test_delta_spike_against_two_sigma() -> None:
    calm = [1.0, -1.0] * 10  # sigma of the 20 bars before the spike is exactly 1
    for last, bull, bear in [(2.5, True, False), (2.0, False, False), (-2.0, False, False), (-2.5, False, True)]:
        c = _flow_bars([*calm, last])
        assert indicators.get("bullish_delta_spike").compute(c)[20] == bull
        assert indicators.get("bearish_delta_spike").compute(c)[20] == bear
        assert not indicators.get("bullish_delta_spike").compute(c)[:20].any()


def test_bearish_divergence_new_high_on_fading_cvd() -> None:
    highs = [101.0, 102.0, 103.0, 104.0, 105.0]
    fading = _flow_bars([10.0, 10.0, -5.0, -5.0, -5.0], high=highs)  # cvd 10, 20, 15, 10, 5
    assert indicators.get("bearish_cvd_divergence").compute(fading, window=5)[4]
    # (20 - 5) > 0.3 * (20 - 5) holds for any threshold below 1
    assert indicators.get("bearish_cvd_divergence").compute(fading, window=5, threshold=0.99)[4]
    confirmed = _flow_bars([10.0, 10.0, 10.0, 10.0, 10.0], high=highs)  # cvd at its high with price
    assert not indicators.get("bearish_cvd_divergence").compute(confirmed, window=5)[4]
    slight = _flow_bars([10.0, 10.0, 10.0, 10.0, -2.0], high=highs)  # 2 below a range of 30: 0.07 < 0.3
    assert not indicators.get("bearish_cvd_divergence").compute(slight, window=5)[4]
    assert indicators.get("bearish_cvd_divergence").compute(slight, window=5, threshold=0.05)[4]
    below_high = _flow_bars([10.0, 10.0, -5.0, -5.0, -5.0], high=[101.0, 106.0, 103.0, 104.0, 105.0])
    assert not indicators.get("bearish_cvd_divergence").compute(below_high, window=5)[4]


def test_bullish_divergence_new_low_on_rising_cvd() -> None:
    lows = [99.0, 98.0, 97.0, 96.0, 95.0]
    c = _flow_bars([-10.0, -10.0, 5.0, 5.0, 5.0], low=lows)
    assert indicators.get("bullish_cvd_divergence").compute(c, window=5)[4]
    assert not indicators.get("bearish_cvd_divergence").compute(c, window=5).any()


def test_divergence_window_must_lie_inside_the_session() -> None:
    highs = [101.0, 102.0, 103.0, 104.0, 105.0]
    inside = _flow_bars([10.0, 10.0, -5.0, -5.0, -5.0], high=highs, start=MIDNIGHT)
    straddling = _flow_bars([10.0, 10.0, -5.0, -5.0, -5.0], high=highs, start=MIDNIGHT - 120)
    assert indicators.get("bearish_cvd_divergence").compute(inside, window=5)[4]
    assert not indicators.get("bearish_cvd_divergence").compute(straddling, window=5).any()
    # the same bars in a session anchored two minutes earlier lie inside it again
    assert indicators.get("bearish_cvd_divergence").compute(straddling, window=5, anchor="23:58")[4]


def test_cvd_resets_at_the_anchor() -> None:
    c = _flow_bars([1.0] * 6, start=MIDNIGHT - 180)  # 23:57 .. 00:02
    np.testing.assert_array_equal(indicators.get("cvd").compute(c), [1, 2, 3, 1, 2, 3])
    np.testing.assert_array_equal(indicators.get("cvd").compute(c, anchor="23:58"), [1, 1, 2, 3, 4, 5])


def test_absorption_hand_built() -> None:
    def bars(last_volume: float, last_range: float) -> np.ndarray:
        volume = np.array([10.0, 10.0, 10.0, last_volume])
        high = np.array([101.0, 101.0, 101.0, 100.0 + last_range])
        return of.absorption(high, np.full(4, 100.0), volume, window=3)

    assert bars(25.0, 0.9)[3] and not bars(25.0, 0.9)[:3].any()
    assert bars(20.0, 1.0)[3]  # both limits inclusive
    assert not bars(25.0, 1.5)[3]  # heavy and moving: not absorption
    assert not bars(15.0, 0.5)[3]  # small but not heavy


def test_order_flow_needs_taker_buy_volume(xau_sample) -> None:
    for name in ("delta", "cvd", "cvd_slope", "bullish_cvd_divergence", "bearish_delta_spike", "buy_pressure"):
        assert indicators.get(name).requires == ("taker_buy_volume",)
        with pytest.raises(KeyError, match="taker_buy_volume"):
            indicators.get(name).compute(xau_sample)
    assert indicators.get("absorption").requires == ()
    assert indicators.get("absorption").compute(xau_sample).dtype == np.bool_


def test_bad_anchor_is_a_clear_error(btc_sample) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        indicators.get("cvd").compute(btc_sample, anchor="noon")


# -- properties ------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(c=candles(), anchor=st.sampled_from(ANCHORS))
def test_cvd_starts_each_session_at_its_first_delta(c: Candles, anchor: str) -> None:
    flow = indicators.get("cvd").compute(c, anchor=anchor)
    d = indicators.get("delta").compute(c)
    keys = np.array(reference_session_keys(c, anchor))
    first = np.ones(len(c), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    np.testing.assert_array_equal(flow[first], d[first])
    inner = np.flatnonzero(~first)
    np.testing.assert_array_equal(flow[inner], flow[inner - 1] + d[inner])


@settings(max_examples=60, deadline=None)
@given(c=candles())
def test_delta_is_bounded_by_volume(c: Candles) -> None:
    assert ((c.taker_buy_volume >= 0) & (c.taker_buy_volume <= c.volume)).all()
    d = indicators.get("delta").compute(c)
    assert (np.abs(d) <= c.volume).all()
    bp = indicators.get("buy_pressure").compute(c, window=3)
    assert ((bp[~np.isnan(bp)] >= 0) & (bp[~np.isnan(bp)] <= 1)).all()


# -- price-reflection symmetry ---------------------------------------------------------------------------

def _dyadic(x: np.ndarray) -> np.ndarray:
    """Round to multiples of 1/64, so that reflection, deltas and window sums are exact in floating point."""
    return np.round(np.asarray(x) * 64) / 64


def reflect(c: Candles, level: float) -> Candles:
    """Prices p -> level - p (high and low swap roles), volume and spread unchanged, taker buys become
    taker sells: taker_buy_volume -> volume - taker_buy_volume."""
    return c.with_columns(open=level - c.open, high=level - c.low, low=level - c.high, close=level - c.close,
                          taker_buy_volume=c.volume - c.taker_buy_volume)


def exact_candles(c: Candles) -> Candles:
    volume = _dyadic(c.volume)
    return c.with_columns(open=_dyadic(c.open), high=_dyadic(c.high), low=_dyadic(c.low), close=_dyadic(c.close),
                          volume=volume, taker_buy_volume=np.minimum(_dyadic(c.taker_buy_volume), volume))


MIRRORED = [n for n in indicators.names() if indicators.get(n).category in ("volume", "spread", "orderflow")]


@pytest.mark.parametrize("name", MIRRORED)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_mirror_under_price_reflection(name: str, data: st.DataObject) -> None:
    ind = indicators.get(name)
    assert ind.mirror is not None
    mirror = indicators.get(ind.mirror)
    c = exact_candles(data.draw(candles()))
    params = data.draw(small_params(ind))
    level = 2.0 * float(np.round(np.median(c.close)))
    original, reflected = ind.compute(c, **params), mirror.compute(reflect(c, level), **params)
    assert ind.mirror_kind in ("same", "negate")  # no price levels among these indicators
    np.testing.assert_array_equal(reflected, -original if ind.mirror_kind == "negate" else original)


def test_mirror_holds_on_real_bars(btc_sample) -> None:
    c = exact_candles(btc_sample)
    mirrored = reflect(c, 120_000.0)
    for name in MIRRORED:
        ind = indicators.get(name)
        original = ind.compute(c)
        expected = -original if ind.mirror_kind == "negate" else original
        np.testing.assert_array_equal(indicators.get(ind.mirror).compute(mirrored), expected, err_msg=name)


# -- newest-bar twins: windows past the Python fast path, anchors, and the rare branches of the std -----------

def steady_flow(c: Candles, kind: str) -> Candles:
    """``steady``: every bar trades 1000 with taker buys 750 +- 0.01, so the delta is 500 +- 0.02 and the std
    kernel's two-pass branch (mean^2 > 1e6 var) decides; ``flat``: a constant delta in runs of bars (the
    exactly-0 branch); ``idle``: runs of bars without volume (a volume mean of 0)."""
    n = len(c)
    rng = np.random.default_rng(n)
    runs = np.repeat(rng.random(n // 10 + 1) < 0.5, 10)[:n]
    if kind == "steady":
        volume = np.full(n, 1000.0)
        return c.with_columns(volume=volume, taker_buy_volume=750.0 + np.round(rng.uniform(-0.01, 0.01, n), 4))
    if kind == "flat":
        return c.with_columns(volume=np.where(runs, 100.0, c.volume),
                              taker_buy_volume=np.where(runs, 60.0, c.taker_buy_volume))
    if kind == "idle":
        return c.with_columns(volume=np.where(runs, 0.0, c.volume), taker_buy_volume=np.where(runs, 0.0,
                                                                                             c.taker_buy_volume))
    return c


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_twins_equal_array_functions_on_steady_flat_and_idle_flow(data: st.DataObject) -> None:
    c = steady_flow(data.draw(candles(min_size=2, max_size=600)),
                    data.draw(st.sampled_from(["as drawn", "steady", "flat", "idle"])))
    window = data.draw(st.sampled_from([2, 3, 20, 64, 65, 100]))
    anchor = data.draw(st.sampled_from([*ANCHORS, "24:00"]))
    bars_ = [*data.draw(st.lists(st.integers(0, len(c) - 1), max_size=12)), len(c) - 1]
    cases: list[tuple[str, dict]] = [
        *((f"{side}_delta_spike", {"window": window, "k": 2.0}) for side in ("bullish", "bearish")),
        ("absorption", {"window": window}),
        *((f"{side}_cvd_divergence", {"window": window, "anchor": anchor}) for side in ("bullish", "bearish")),
    ]
    for name, params in cases:
        full = indicators.get(name).compute(c, **params)
        for t in bars_:
            got = newest_value(name, c, t, **params)
            assert same_value(got, full[t]), f"{name}{params} at bar {t}: twin {got!r}, array {full[t]!r}"


@pytest.mark.parametrize(("name", "params"), [
    ("bullish_delta_spike", {"window": 100, "k": 1.5}),
    ("bearish_delta_spike", {"window": 65, "k": 1.0}),
    ("absorption", {"window": 240, "volume_ratio": 1.5, "range_ratio": 1.2}),
    ("bullish_cvd_divergence", {"window": 200, "threshold": 0.1, "anchor": "13:30"}),
    ("bullish_cvd_divergence", {"window": 1000, "threshold": 0.0}),
    ("bearish_cvd_divergence", {"window": 5, "threshold": 0.5, "anchor": "22:00"}),
])
def test_twins_equal_array_functions_on_real_bars(btc_sample, name: str, params: dict) -> None:
    full = indicators.get(name).compute(btc_sample, **params)
    assert full[-3000:].any()
    for t in range(len(btc_sample) - 3000, len(btc_sample)):
        assert same_value(newest_value(name, btc_sample, t, **params), full[t]), f"{name}{params} at bar {t}"


# The twins' outputs are booleans, which hide a slip in the last bit of a sum; their kernels are checked here
# bit for bit against the array kernels they stand for.

FLOATS = st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3))


@settings(max_examples=200, deadline=None)
@given(base=FLOATS, steps=st.lists(st.sampled_from([0.0, 0.0, 1e-4, -1e-4, 0.5, 300.0]), min_size=3, max_size=65))
def test_newest_preceding_std_equals_preceding_std(base: float, steps: list[float]) -> None:
    """Near-constant and constant windows reach the two-pass branch and the exactly-0 branch."""
    x = list(np.round(base + np.cumsum(steps), 6))
    n = len(x) - 1
    want = preceding_std(np.array(x), n)[-1]
    assert last_preceding_std(np.array(x), n) == want  # the delta spikes' kernel


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_newest_cvd_window_equals_the_array_parts(data: st.DataObject) -> None:
    c = data.draw(candles(min_size=2, max_size=1600))
    window = data.draw(st.integers(2, 40))
    anchor = data.draw(st.sampled_from(ANCHORS))
    flow, top, bottom, inside = of._cvd_position_parts(c.time, c.volume, c.taker_buy_volume, window, anchor)
    for t in [*data.draw(st.lists(st.integers(0, len(c) - 1), max_size=20)), len(c) - 1]:
        lo = max(0, t - 1439)
        parts = of._newest_cvd_window(c.time[lo:t + 1], c.volume[lo:t + 1], c.taker_buy_volume[lo:t + 1], window,
                                      anchor)
        assert (parts is not None) == inside[t], f"bar {t}"
        if parts is not None:
            assert parts == (flow[t], top[t], bottom[t]), f"bar {t}"


@pytest.mark.parametrize("value", [0.1, 1 / 3, -132.10486329130188, 36159.505490948475, 1.0490011715303971e-4])
@pytest.mark.parametrize("n", [2, 3, 20, 37, 64])
def test_newest_preceding_std_of_a_constant_window_is_exactly_zero(value: float, n: int) -> None:
    x = [value] * n + [value * 5]
    assert preceding_std(np.array(x), n)[-1] == 0.0
    assert last_preceding_std(np.array(x), n) == 0.0
