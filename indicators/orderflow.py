"""Order flow from exchange klines: delta, session CVD and its slope, CVD divergence, delta spikes,
absorption, buy/sell pressure.

Binance klines split each bar's volume into taker buys (``taker_buy_volume``) and taker sells (the rest),
so the bar delta is ``2 * taker_buy_volume - volume`` and CVD is its running sum. Only such data has the
column; these indicators declare it in ``requires`` and a rule using them on MT5 gold fails at compile time
with a clear message. ``absorption`` reads volume and range only, so it also runs on tick volume.

Under price reflection taker buys become taker sells (taker_buy -> volume - taker_buy): delta, CVD and the
CVD slope negate, bullish and bearish signals swap, buy and sell pressure swap.
"""

from __future__ import annotations

import math

import numpy as np

from indicators._registry import indicator, last_value
from indicators._rolling import (
    day_index,
    last_preceding_mean,
    last_preceding_std,
    parse_hhmm,
    preceding_mean,
    preceding_std,
    segment_starts,
    segmented_accumulate,
    window_max,
    window_mean,
    window_min,
    window_sum,
)
from indicators._shared import shared
from indicators.sessions import newest_day_start
from indicators.volume import _last_volume_ratio
from indicators.volume import volume_ratio as _volume_ratio

__all__ = [
    "absorption",
    "bearish_cvd_divergence",
    "bearish_delta_spike",
    "bullish_cvd_divergence",
    "bullish_delta_spike",
    "buy_pressure",
    "cvd",
    "cvd_slope",
    "delta",
    "sell_pressure",
]

#: A session holds at most 1440 one-minute bars, so bars t-1439 .. t always contain t's session start.
_DAY_LOOKBACK = 1439
_WINDOW = {"window": (1, 100_000)}
_DIVERGENCE_BOUNDS = {"window": (2, 1440), "threshold": (0.0, 1.0)}


def _delta(volume: np.ndarray, taker_buy_volume: np.ndarray) -> np.ndarray:
    return 2.0 * np.asarray(taker_buy_volume, dtype=np.float64) - np.asarray(volume, dtype=np.float64)


def _session_starts(time: np.ndarray, anchor: str) -> np.ndarray:
    """True on the first bar of each session (day starting at ``anchor`` UTC); ValueError on a bad anchor."""
    return segment_starts(day_index(time, parse_hhmm(anchor)))


@indicator(inputs=("volume", "taker_buy_volume"), output="number", lookback=0,
           mirror="delta", mirror_kind="negate")
def delta(volume: np.ndarray, taker_buy_volume: np.ndarray) -> np.ndarray:
    """Bar delta: taker-buy volume minus taker-sell volume.

    Why: who was aggressive in the bar. Positive when market buys lifted offers, negative when market
    sells hit bids; |delta| <= volume.

    Formula: taker_buy - (volume - taker_buy) = 2 * taker_buy_volume - volume.
    """
    return _delta(volume, taker_buy_volume)


@indicator(inputs=("time", "volume", "taker_buy_volume"), output="number", lookback=_DAY_LOOKBACK,
           mirror="cvd", mirror_kind="negate")
def cvd(time: np.ndarray, volume: np.ndarray, taker_buy_volume: np.ndarray, *, anchor: str = "00:00") -> np.ndarray:
    """Session cumulative volume delta: the running sum of bar deltas since the session start.

    Why: the net aggression of the session; a CVD falling while price rises says the rise is not carried
    by market buying. Anchored to a daily reset (``anchor`` as "HH:MM" UTC) rather than the start of the
    file, so the value is the same in a backtest and in a live feed that keeps one day of bars
    (lookback 1439). Each session is summed left to right from its first bar.

    Formula: cvd[t] = sum(delta[s .. t]), s = first bar of t's session (the first bar with
    floor((time - anchor) / 1 day) equal to t's).
    """
    return segmented_accumulate(_delta(volume, taker_buy_volume), _session_starts(time, anchor))


@indicator(inputs=("volume", "taker_buy_volume"), output="number", lookback=lambda p: p["window"] - 1,
           bounds=_WINDOW, mirror="cvd_slope", mirror_kind="negate")
def cvd_slope(volume: np.ndarray, taker_buy_volume: np.ndarray, *, window: int = 20) -> np.ndarray:
    """CVD slope: the change of CVD per bar over the last ``window`` bars (base volume per bar).

    Why: the direction and strength of recent aggression, the plan's "CVD slope -> micro momentum". It is
    taken as the net delta of the window divided by its length: this equals (CVD[t] - CVD[t-window]) /
    window of a CVD that never resets, so the session reset at the anchor makes no artificial jump, and
    it needs no session anchor at all. (A least-squares slope of the CVD line would weight the bars of
    the window unevenly for no gain in a rule threshold.)

    Formula: mean(delta[t-window+1 .. t]) = sum(2 * taker_buy - volume over the window) / window.
    """
    return window_mean(_delta(volume, taker_buy_volume), window)


@shared  # the bullish and bearish divergence of one evaluation share it
def _cvd_position_parts(
    time: np.ndarray, volume: np.ndarray, taker_buy_volume: np.ndarray, window: int, anchor: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Session CVD, its window high and low, and whether the window lies inside t's session."""
    starts = _session_starts(time, anchor)
    flow = segmented_accumulate(_delta(volume, taker_buy_volume), starts)
    index = np.arange(len(flow))
    session_start = np.maximum.accumulate(np.where(starts, index, 0))
    inside = index - session_start >= window - 1
    return flow, window_max(flow, window), window_min(flow, window), inside


@indicator(inputs=("time", "high", "volume", "taker_buy_volume"), output="boolean", lookback=_DAY_LOOKBACK,
           bounds=_DIVERGENCE_BOUNDS, mirror="bullish_cvd_divergence")
def bearish_cvd_divergence(
    time: np.ndarray,
    high: np.ndarray,
    volume: np.ndarray,
    taker_buy_volume: np.ndarray,
    *,
    window: int = 20,
    threshold: float = 0.3,
    anchor: str = "00:00",
) -> np.ndarray:
    """Price at a new window high while session CVD stays well below its own window high.

    Why: a new high that market buyers did not carry (sellers absorbed it, or shorts covered) tends to
    fail; the plan uses CVD divergence as confirmation for BTC micro-scalps. The strength of the
    divergence is how far CVD sits below its window high, as a fraction of its window range (0 = CVD at
    its high too, 1 = at its low); ``threshold`` is the plan's ``cvd_divergence_threshold`` (0.3).
    "New high" means the bar's high equals the highest high of the window (ties count). The window must
    lie inside t's session (session CVD resets at ``anchor``), so the first ``window - 1`` bars of each
    session give False; so do windows where CVD did not move (range 0).

    Formula: high[t] >= max(high[t-window+1 .. t]) and cvd_max - cvd[t] > threshold * (cvd_max - cvd_min),
    cvd_max / cvd_min = max / min of cvd(anchor) over t-window+1 .. t, all in t's session.
    """
    flow, flow_max, flow_min, inside = _cvd_position_parts(time, volume, taker_buy_volume, window, anchor)
    at_high = np.asarray(high, dtype=np.float64) >= window_max(high, window)
    lagging = flow_max - flow > threshold * (flow_max - flow_min)
    return inside & at_high & lagging


@indicator(inputs=("time", "low", "volume", "taker_buy_volume"), output="boolean", lookback=_DAY_LOOKBACK,
           bounds=_DIVERGENCE_BOUNDS, mirror="bearish_cvd_divergence")
def bullish_cvd_divergence(
    time: np.ndarray,
    low: np.ndarray,
    volume: np.ndarray,
    taker_buy_volume: np.ndarray,
    *,
    window: int = 20,
    threshold: float = 0.3,
    anchor: str = "00:00",
) -> np.ndarray:
    """Price at a new window low while session CVD stays well above its own window low.

    Why: a new low that market sellers did not carry tends to fail (the mirror of
    ``bearish_cvd_divergence``, which documents the details).

    Formula: low[t] <= min(low[t-window+1 .. t]) and cvd[t] - cvd_min > threshold * (cvd_max - cvd_min),
    cvd_max / cvd_min = max / min of cvd(anchor) over t-window+1 .. t, all in t's session.
    """
    flow, flow_max, flow_min, inside = _cvd_position_parts(time, volume, taker_buy_volume, window, anchor)
    at_low = np.asarray(low, dtype=np.float64) <= window_min(low, window)
    holding = flow - flow_min > threshold * (flow_max - flow_min)
    return inside & at_low & holding


@shared  # the bullish and bearish delta spike of one evaluation share it
def _delta_sigma(volume: np.ndarray, taker_buy_volume: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The bar delta and the population standard deviation of the ``window`` deltas before each bar."""
    d = _delta(volume, taker_buy_volume)
    return d, preceding_std(d, window)


_SPIKE_BOUNDS = {"window": (2, 100_000), "k": (0.0, 100.0)}


@indicator(inputs=("volume", "taker_buy_volume"), output="boolean", lookback=lambda p: p["window"],
           bounds=_SPIKE_BOUNDS, mirror="bearish_delta_spike")
def bullish_delta_spike(
    volume: np.ndarray, taker_buy_volume: np.ndarray, *, window: int = 20, k: float = 2.0,
) -> np.ndarray:
    """Buying burst: the bar's delta exceeds ``k`` standard deviations of the delta of the bars before it.

    Why: the plan's delta-spike trigger ("delta > 2 sigma", ``delta_spike_threshold`` 2.0). Sigma is the
    population standard deviation of the ``window`` deltas before t (the spike does not inflate its own
    yardstick). The delta itself is compared, not its distance from the window mean: deltas centre on 0
    (BTC taker buys are 50.0% of volume over 2024 H1), and this way a bullish spike is always net buying.
    A window of equal deltas has sigma 0, so any positive delta is a spike there. False during warm-up.

    Formula: delta[t] > k * std(delta[t-window .. t-1]).
    """
    d, sigma = _delta_sigma(volume, taker_buy_volume, window)
    return d > k * sigma


@indicator(inputs=("volume", "taker_buy_volume"), output="boolean", lookback=lambda p: p["window"],
           bounds=_SPIKE_BOUNDS, mirror="bullish_delta_spike")
def bearish_delta_spike(
    volume: np.ndarray, taker_buy_volume: np.ndarray, *, window: int = 20, k: float = 2.0,
) -> np.ndarray:
    """Selling burst: the bar's delta is below ``-k`` standard deviations of the delta of the bars before it.

    Why: the mirror of ``bullish_delta_spike`` (which documents the details).

    Formula: delta[t] < -k * std(delta[t-window .. t-1]).
    """
    d, sigma = _delta_sigma(volume, taker_buy_volume, window)
    return d < -k * sigma


@indicator(inputs=("high", "low", "volume"), output="boolean", lookback=lambda p: p["window"],
           bounds={**_WINDOW, "volume_ratio": (1.0, 1000.0), "range_ratio": (0.0, 1000.0)},
           mirror="absorption")
def absorption(
    high: np.ndarray,
    low: np.ndarray,
    volume: np.ndarray,
    *,
    window: int = 20,
    volume_ratio: float = 2.0,
    range_ratio: float = 1.0,
) -> np.ndarray:
    """Absorption: heavy volume that fails to move price (a busy bar with no more than a usual range).

    Why: when aggressive orders meet a large passive order, volume piles up while the bar stays small; the
    plan uses such absorption zones as micro entry zones. Volume and range are both measured against the
    mean of the ``window`` bars before t. With the defaults (twice the usual volume, no more than the
    usual range) it marks 1.6% of the bundled BTC bars; volume and range usually rise together. Reads no order
    flow column, so it also runs on tick volume (MT5 gold). False while either mean is undefined or the
    volume mean is 0.

    Formula: volume[t] >= volume_ratio * mean(volume[t-window .. t-1]) and
    high[t] - low[t] <= range_ratio * mean((high - low)[t-window .. t-1]).
    """
    bar_range = np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)
    heavy = _volume_ratio(volume, window=window) >= volume_ratio
    return heavy & (bar_range <= range_ratio * preceding_mean(bar_range, window))


def _share(part: np.ndarray, volume: np.ndarray, window: int) -> np.ndarray:
    """sum(part) / sum(volume) over the window; NaN where the window traded nothing."""
    total = window_sum(volume, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = window_sum(part, window) / total
    out[total == 0] = np.nan
    return out


@indicator(inputs=("volume", "taker_buy_volume"), output="number", lookback=lambda p: p["window"] - 1,
           bounds=_WINDOW, mirror="sell_pressure")
def buy_pressure(volume: np.ndarray, taker_buy_volume: np.ndarray, *, window: int = 1) -> np.ndarray:
    """Buy pressure: the share of volume bought by takers over the last ``window`` bars, in [0, 1].

    Why: the plan's buy/sell pressure for a direction bias; 0.5 is balanced. ``window=1`` is the bar's
    own share; a longer window weighs bars by their volume (it is not a mean of per-bar shares). NaN when
    the window traded nothing.

    Formula: sum(taker_buy_volume[t-window+1 .. t]) / sum(volume[t-window+1 .. t]).
    """
    return _share(taker_buy_volume, volume, window)


@indicator(inputs=("volume", "taker_buy_volume"), output="number", lookback=lambda p: p["window"] - 1,
           bounds=_WINDOW, mirror="buy_pressure")
def sell_pressure(volume: np.ndarray, taker_buy_volume: np.ndarray, *, window: int = 1) -> np.ndarray:
    """Sell pressure: the share of volume sold by takers over the last ``window`` bars, in [0, 1].

    Why: the mirror of ``buy_pressure``; the two add up to 1 (up to rounding).

    Formula: sum((volume - taker_buy_volume)[t-window+1 .. t]) / sum(volume[t-window+1 .. t]).
    """
    volume = np.asarray(volume, dtype=np.float64)
    return _share(volume - np.asarray(taker_buy_volume, dtype=np.float64), volume, window)


# -- newest-bar twins (``@last_value``) -----------------------------------------------------------------------
# Live, these are read at the newest bar only. The CVD twins run the session cumsum on the newest bar's day
# alone (a sequential cumsum from the day's first bar: the same floats). The delta-spike and absorption twins
# read ``window`` + 1 bars and run ``_rolling``'s newest-bar kernels (``last_preceding_*``) on them.


def _session_flow(volume: np.ndarray, taker_buy_volume: np.ndarray, first: int) -> np.ndarray:
    """Session CVD at each bar from ``first``, the newest bar's session start: ``cvd`` there, the same
    sequential sum."""
    return np.add.accumulate(_delta(volume[first:], taker_buy_volume[first:]))  # what np.cumsum runs


@shared  # bullish and bearish divergence read the same CVD window
def _newest_cvd_window(
    time: np.ndarray, volume: np.ndarray, taker_buy_volume: np.ndarray, window: int, anchor: str,
) -> tuple[float, float, float] | None:
    """Session CVD at the newest bar and its max and min over the last ``window`` bars; None when that
    window does not lie inside the newest bar's session (the divergences are False there)."""
    first = newest_day_start(time, anchor)
    if len(time) - 1 - first < window - 1:
        return None
    flow = _session_flow(volume, taker_buy_volume, first)
    tail = flow[len(flow) - window:]
    return float(flow[-1]), float(tail.max()), float(tail.min())


@last_value("cvd")
def _cvd_last(time: np.ndarray, volume: np.ndarray, taker_buy_volume: np.ndarray, *, anchor: str = "00:00") -> float:
    """``cvd`` at the newest bar."""
    return float(_session_flow(volume, taker_buy_volume, newest_day_start(time, anchor))[-1])


@last_value("bearish_cvd_divergence")
def _bearish_cvd_divergence_last(
    time: np.ndarray,
    high: np.ndarray,
    volume: np.ndarray,
    taker_buy_volume: np.ndarray,
    *,
    window: int = 20,
    threshold: float = 0.3,
    anchor: str = "00:00",
) -> bool:
    """``bearish_cvd_divergence`` at the newest bar."""
    parts = _newest_cvd_window(time, volume, taker_buy_volume, window, anchor)
    if parts is None:
        return False
    flow, flow_max, flow_min = parts
    at_high = float(high[-1]) >= float(np.asarray(high[len(high) - window:], dtype=np.float64).max())
    return at_high and flow_max - flow > threshold * (flow_max - flow_min)


@last_value("bullish_cvd_divergence")
def _bullish_cvd_divergence_last(
    time: np.ndarray,
    low: np.ndarray,
    volume: np.ndarray,
    taker_buy_volume: np.ndarray,
    *,
    window: int = 20,
    threshold: float = 0.3,
    anchor: str = "00:00",
) -> bool:
    """``bullish_cvd_divergence`` at the newest bar."""
    parts = _newest_cvd_window(time, volume, taker_buy_volume, window, anchor)
    if parts is None:
        return False
    flow, flow_max, flow_min = parts
    at_low = float(low[-1]) <= float(np.asarray(low[len(low) - window:], dtype=np.float64).min())
    return at_low and flow - flow_min > threshold * (flow_max - flow_min)


@shared  # bullish and bearish delta spikes read the same deltas
def _newest_delta_sigma(volume: np.ndarray, taker_buy_volume: np.ndarray, window: int) -> tuple[float, float]:
    """The newest bar's delta and the population std of the ``window`` deltas before it (NaN if fewer)."""
    if len(volume) <= window:
        return math.nan, math.nan
    lo = len(volume) - window - 1
    d = _delta(volume[lo:], taker_buy_volume[lo:])
    return float(d[-1]), last_preceding_std(d, window)


@last_value("bullish_delta_spike")
def _bullish_delta_spike_last(
    volume: np.ndarray, taker_buy_volume: np.ndarray, *, window: int = 20, k: float = 2.0,
) -> bool:
    """``bullish_delta_spike`` at the newest bar."""
    d, sigma = _newest_delta_sigma(volume, taker_buy_volume, window)
    return d > k * sigma


@last_value("bearish_delta_spike")
def _bearish_delta_spike_last(
    volume: np.ndarray, taker_buy_volume: np.ndarray, *, window: int = 20, k: float = 2.0,
) -> bool:
    """``bearish_delta_spike`` at the newest bar."""
    d, sigma = _newest_delta_sigma(volume, taker_buy_volume, window)
    return d < -k * sigma


@last_value("absorption")
def _absorption_last(
    high: np.ndarray,
    low: np.ndarray,
    volume: np.ndarray,
    *,
    window: int = 20,
    volume_ratio: float = 2.0,
    range_ratio: float = 1.0,
) -> bool:
    """``absorption`` at the newest bar: ``volume_ratio``'s twin, and the range against its preceding mean."""
    if len(volume) <= window:
        return False
    lo = len(volume) - window - 1
    bar_range = np.subtract(high[lo:], low[lo:], dtype=np.float64)
    heavy = _last_volume_ratio(volume[lo:], window) >= volume_ratio  # NaN (undefined) compares false
    return heavy and float(bar_range[-1]) <= range_ratio * last_preceding_mean(bar_range, window)
