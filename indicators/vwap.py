"""Anchored VWAP, its volume-weighted standard deviation, and the plan's VWAP band, tap and persistence.

The VWAP restarts each trading day at ``anchor`` UTC (``"00:00"`` by default, the day of config/sessions.yaml);
every value at t reads only the bars of t's day, so the lookback is 1439 bars (a day holds at most 1440 M1 bars)
and the value is window-exact. Typical price tp = (high + low + close) / 3 stands for the bar.

Numerics: sums run over deviations d = tp - p0 from the day's first typical price p0, not over raw prices:
vwap = p0 + sum(v d) / sum(v), sigma^2 = sum(v d^2) / sum(v) - (sum(v d) / sum(v))^2. With gold at 4,500
and intraday moves of a few dollars, raw sums of v tp^2 would cancel almost every digit; deviations keep
the variance accurate to about eps * (the day's excursion from p0)^2. Each day is accumulated on its own (a
loop over days, numpy inside), never as a global cumulative sum minus an offset.

Quote data without volume (the 2014 OANDA bars, volume 0 everywhere): while the cumulative volume of the day
is 0, the bars get equal weights (vwap = mean of tp, sigma its population std); as soon as volume arrives, the
volume weights take over and the volume-less bars weigh 0. The choice at t depends only on bars <= t.

The band of the plan's location filter is a percentage of the VWAP (``pct``: 0.05-0.1 in the plan). Reflecting
prices (p -> C - p) changes the VWAP level and so the band's width; the band indicators therefore declare no
mirror. The sigma bands (``vwap_upper``/``vwap_lower``) are reflection-symmetric.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple, TypeVar

import numpy as np

from indicators._registry import indicator, last_value
from indicators._shared import shared
from indicators.sessions import day_first_bars, newest_day_start

__all__ = [
    "bearish_vwap_rejection",
    "bullish_vwap_rejection",
    "in_vwap_band",
    "vwap",
    "vwap_band_bars",
    "vwap_band_seconds",
    "vwap_distance_pct",
    "vwap_lower",
    "vwap_sigma",
    "vwap_touch",
    "vwap_upper",
]

_DAY_LOOKBACK = 1439  # bars before t in t's trading day, at most
_VWAP_INPUTS = ("time", "high", "low", "close", "volume")
_PCT = {"pct": (0.0, 10.0)}
_K = {"k": (0.0, 10.0)}
_Level = TypeVar("_Level", np.ndarray, float)  # a VWAP array, or its value at one bar (the twins)


def _day_bounds(time: np.ndarray, anchor: str) -> tuple[np.ndarray, np.ndarray]:
    """First bar index of each trading day and each day's number of bars."""
    firsts = day_first_bars(time, anchor)
    return firsts, np.diff(np.append(firsts, len(time)))


@shared  # one VWAP per evaluation for the whole family (vwap, bands, distance, rejections, persistence)
def _anchored_moments(
    time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, anchor: str,
    *, variance: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """VWAP since the anchor, the weighted variance of tp around it (only when ``variance``; otherwise the
    second array is scratch) and the first bar of each day.

    Loops over days (a few hundred per year), one ``cumsum`` call per day on stacked rows (v, v d, v d^2);
    the equal-weight fallback loops only over days that open with zero volume.
    """
    tp = np.add(high, low, dtype=np.float64)
    tp += close
    tp /= 3.0
    v = np.asarray(volume, dtype=np.float64)
    firsts, lengths = _day_bounds(time, anchor)
    p0 = np.repeat(tp[firsts], lengths)
    d = np.subtract(tp, p0, out=tp)
    rows = np.empty((3 if variance else 2, len(d)))
    rows[0] = v
    np.multiply(v, d, out=rows[1])
    if variance:
        np.multiply(rows[1], d, out=rows[2])
    for a, b in itertools.pairwise([*firsts.tolist(), len(d)]):
        np.cumsum(rows[:, a:b], axis=1, out=rows[:, a:b])
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.divide(rows[1], rows[0], out=rows[1])
        var = rows[0]  # reused: the cumulative volume is not needed after the checks below
        if variance:
            np.divide(rows[2], rows[0], out=rows[2])
    zero = np.flatnonzero(v[firsts] == 0.0)  # days whose cumulative volume starts at 0 (quote data)
    for a, n in zip(firsts[zero].tolist(), lengths[zero].tolist(), strict=True):
        m = int(np.searchsorted(var[a:a + n], 0.0, side="right"))  # cumulative volume never decreases
        count = np.arange(1, m + 1, dtype=np.float64)
        mean[a:a + m] = np.cumsum(d[a:a + m]) / count
        if variance:
            rows[2, a:a + m] = np.cumsum(d[a:a + m] ** 2) / count
    if variance:
        np.subtract(rows[2], np.square(mean), out=var)
        np.maximum(var, 0.0, out=var)
    mean += p0
    return mean, var, firsts


def _vwap(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
          anchor: str) -> np.ndarray:
    return _anchored_moments(time, high, low, close, volume, anchor, variance=False)[0]


def _band_half_width(level: _Level, pct: float) -> _Level:
    return level * (pct / 100.0)


@shared  # in_vwap_band and vwap_band_seconds with one pct share it
def _in_band(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
             pct: float, anchor: str) -> tuple[np.ndarray, np.ndarray]:
    """Whether each close lies in the band, and the first bar of each day."""
    level, _, firsts = _anchored_moments(time, high, low, close, volume, anchor, variance=False)
    with np.errstate(invalid="ignore"):
        return np.abs(np.asarray(close, dtype=np.float64) - level) <= _band_half_width(level, pct), firsts


def _last_break(inside: np.ndarray, firsts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bar indices, and per bar the last index <= t that breaks the run of ``inside`` bars: an outside bar, or
    the bar before a day's first (the VWAP restarts there, so a run measured against yesterday's VWAP means
    nothing today). The run at t is ``idx - last_break`` bars long, 0 on outside bars. int32 halves the
    memory traffic of the running maximum."""
    dtype = np.int32 if len(inside) < np.iinfo(np.int32).max else np.int64
    idx = np.arange(len(inside), dtype=dtype)
    breaks = np.negative(inside.view(np.int8), dtype=dtype)  # -1 inside (all bits set), else 0 ...
    breaks |= idx  # ... so that -1 | i = -1 and 0 | i = i: np.where(inside, -1, idx) without a branch per bar
    breaks[firsts] = np.maximum(breaks[firsts], firsts - 1)
    return idx, np.maximum.accumulate(breaks, out=breaks)


# -- the VWAP and its sigma bands ---------------------------------------------------------------------------


@indicator(inputs=_VWAP_INPUTS, output="number", lookback=_DAY_LOOKBACK, mirror="vwap", mirror_kind="reflect")
def vwap(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, *,
         anchor: str = "00:00") -> np.ndarray:
    """Volume-weighted average price since the trading-day anchor (``anchor`` UTC), bar t included.

    Why: the plan's fair-value reference: the VWAP band is a location edge, a VWAP tap and rejection a
    trigger, above/below VWAP a direction filter.
    Formula: sum(v_i tp_i) / sum(v_i) over the day's bars i <= t, tp = (h + l + c) / 3, computed as
    p0 + sum(v_i (tp_i - p0)) / sum(v_i) with p0 the day's first tp; equal weights while the day's cumulative
    volume is 0 (quote data without volume).
    """
    return _vwap(time, high, low, close, volume, anchor)


@indicator(inputs=_VWAP_INPUTS, output="number", lookback=_DAY_LOOKBACK, mirror="vwap_sigma", mirror_kind="same")
def vwap_sigma(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, *,
               anchor: str = "00:00") -> np.ndarray:
    """Volume-weighted standard deviation of the typical price around the anchored VWAP (>= 0).

    Why: the plan's "VWAP sigma bands" and a dynamic band width (``abs(close - vwap) <= 0.5 * vwap_sigma``).
    Formula: sqrt(max(sum(v_i d_i^2) / sum(v_i) - (sum(v_i d_i) / sum(v_i))^2, 0)), d_i = tp_i - p0, over the
    day's bars i <= t; equal weights while the day's cumulative volume is 0. It is 0 on the day's first bar.
    """
    return np.sqrt(_anchored_moments(time, high, low, close, volume, anchor, variance=True)[1])


def _sigma_band(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                k: float, anchor: str) -> np.ndarray:
    level, var, _ = _anchored_moments(time, high, low, close, volume, anchor, variance=True)
    return level + k * np.sqrt(var)


@indicator(inputs=_VWAP_INPUTS, output="number", lookback=_DAY_LOOKBACK, bounds=_K,
           mirror="vwap_lower", mirror_kind="reflect")
def vwap_upper(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, *,
               k: float = 1.0, anchor: str = "00:00") -> np.ndarray:
    """Upper VWAP sigma band: vwap + k * vwap_sigma.

    Why: the plan's VWAP zones (inner/outer bands at 1 and 2 sigma); price stretched beyond them tends back.
    Formula: vwap[t] + k * vwap_sigma[t].
    """
    return _sigma_band(time, high, low, close, volume, k, anchor)


@indicator(inputs=_VWAP_INPUTS, output="number", lookback=_DAY_LOOKBACK, bounds=_K,
           mirror="vwap_upper", mirror_kind="reflect")
def vwap_lower(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, *,
               k: float = 1.0, anchor: str = "00:00") -> np.ndarray:
    """Lower VWAP sigma band: vwap - k * vwap_sigma.

    Why: see ``vwap_upper``.
    Formula: vwap[t] - k * vwap_sigma[t].
    """
    return _sigma_band(time, high, low, close, volume, -k, anchor)


# -- the percentage band of the plan ------------------------------------------------------------------------


@indicator(inputs=_VWAP_INPUTS, output="number", lookback=_DAY_LOOKBACK)
def vwap_distance_pct(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                      *, anchor: str = "00:00") -> np.ndarray:
    """Signed distance of the close from the VWAP in percent of the VWAP (> 0 above).

    Why: the plan's VWAP proximity score (< 0.05% very close, 0.05-0.1% near, > 0.1% far) and its direction
    filter (above/below VWAP). No mirror: reflection changes the VWAP level the percentage is taken of.
    Formula: 100 * (close - vwap) / vwap.
    """
    level = _vwap(time, high, low, close, volume, anchor)
    return 100.0 * (np.asarray(close, dtype=np.float64) - level) / level


@indicator(inputs=_VWAP_INPUTS, output="boolean", lookback=_DAY_LOOKBACK, bounds=_PCT)
def in_vwap_band(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, *,
                 pct: float = 0.1, anchor: str = "00:00") -> np.ndarray:
    """True when the close lies within ``pct`` percent of the VWAP (the plan's VWAP band edge).

    Why: the location filter's "VWAP band (+-0.05-0.1% of VWAP)".
    Formula: |close - vwap| <= vwap * pct / 100.
    """
    return _in_band(time, high, low, close, volume, pct, anchor)[0]


@indicator(inputs=_VWAP_INPUTS, output="number", lookback=_DAY_LOOKBACK, bounds=_PCT)
def vwap_band_bars(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, *,
                   pct: float = 0.1, anchor: str = "00:00") -> np.ndarray:
    """Persistence in bars: consecutive bars up to t whose close is inside the VWAP band; 0 outside.

    Why: the plan's band persistence (price that lingers at VWAP before the signal triggers fewer false
    entries). The run restarts at the anchor, where the VWAP itself restarts; that also bounds it by a day.
    Formula: t - s + 1 for the earliest s in t's day with in_vwap_band true on all of s..t; 0 if false at t.
    """
    idx, last_break = _last_break(*_in_band(time, high, low, close, volume, pct, anchor))
    return np.subtract(idx, last_break, dtype=np.float64)


@indicator(inputs=_VWAP_INPUTS, output="duration", lookback=_DAY_LOOKBACK, bounds=_PCT)
def vwap_band_seconds(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                      *, pct: float = 0.1, anchor: str = "00:00") -> np.ndarray:
    """Persistence in seconds: time since the current run of in-band closes began, to the end of bar t; 0 outside.

    Why: the plan's ">= 30 s inside the VWAP band" rule (``vwap_band_seconds >= 30s``). On M1 bars the
    resolution is one minute: one bar inside gives 60. A market closure inside the run (gold's daily break
    when the anchor is 00:00) counts as time in the band; ``anchor="22:00"`` puts the break at the day edge.
    Formula: time[t] - time[s] + 60 with s the first bar of the run (as in ``vwap_band_bars``); 0 if outside.
    """
    inside, firsts = _in_band(time, high, low, close, volume, pct, anchor)
    idx, last_break = _last_break(inside, firsts)
    t = np.asarray(time, dtype=np.int64)
    seconds = t - t[np.minimum(last_break + 1, idx)] + 60
    seconds *= inside  # 0 outside (np.where(inside, seconds, 0), without a branch per bar)
    return seconds.astype(np.float64)


@indicator(inputs=_VWAP_INPUTS, output="boolean", lookback=_DAY_LOOKBACK, bounds=_PCT)
def vwap_touch(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, *,
               pct: float = 0.1, anchor: str = "00:00") -> np.ndarray:
    """True when the bar's range reached the VWAP band: low..high intersects vwap +- pct percent.

    Why: the "tap" of the plan's "VWAP tap + rejection"; a close that stays in the band is ``in_vwap_band``.
    Formula: low <= vwap + w and high >= vwap - w, w = vwap * pct / 100.
    """
    level = _vwap(time, high, low, close, volume, anchor)
    w = _band_half_width(level, pct)
    with np.errstate(invalid="ignore"):
        return (np.asarray(low) <= level + w) & (np.asarray(high) >= level - w)


def _rejection(time: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
               volume: np.ndarray, pct: float, anchor: str, *, bullish: bool) -> np.ndarray:
    level = _vwap(time, high, low, close, volume, anchor)
    w = _band_half_width(level, pct)
    with np.errstate(invalid="ignore"):
        if bullish:
            return (np.asarray(low) <= level + w) & (np.minimum(open_, close) > level + w)
        return (np.asarray(high) >= level - w) & (np.maximum(open_, close) < level - w)


@indicator(inputs=("time", "open", "high", "low", "close", "volume"), output="boolean", lookback=_DAY_LOOKBACK,
           bounds=_PCT)
def bullish_vwap_rejection(time: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                           close: np.ndarray, volume: np.ndarray, *, pct: float = 0.1,
                           anchor: str = "00:00") -> np.ndarray:
    """VWAP tap and rejection from above: the lower wick reached the band, the whole body stayed above it.

    Why: the plan's primary trigger "VWAP tap + rejection wick" for longs. How long the wick is against the
    body is the candle indicators' business (``lower_wick >= 2 * body``); this says where the wick went.
    Formula: low <= vwap + w and min(open, close) > vwap + w, w = vwap * pct / 100.
    """
    return _rejection(time, open_, high, low, close, volume, pct, anchor, bullish=True)


@indicator(inputs=("time", "open", "high", "low", "close", "volume"), output="boolean", lookback=_DAY_LOOKBACK,
           bounds=_PCT)
def bearish_vwap_rejection(time: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                           close: np.ndarray, volume: np.ndarray, *, pct: float = 0.1,
                           anchor: str = "00:00") -> np.ndarray:
    """VWAP tap and rejection from below: the upper wick reached the band, the whole body stayed below it.

    Why: the plan's primary trigger "VWAP tap + rejection wick" for shorts (mirror of the bullish one, up to
    the band's width, which is a percentage of the VWAP level).
    Formula: high >= vwap - w and max(open, close) < vwap - w, w = vwap * pct / 100.
    """
    return _rejection(time, open_, high, low, close, volume, pct, anchor, bullish=False)



# -- newest-bar twins (``@last_value``) -----------------------------------------------------------------------
# Live, the VWAP family is read at the newest bar only. Its day starts inside the window (a day holds at most
# 1440 bars), so the twins run ``_anchored_moments``'s operations on that day's bars alone: the same
# element-wise arithmetic and the same sequential cumulative sums from the day's first bar give the same
# floats, and the VWAP at the newest bar is then p0 + S_vd / S_v on those floats. Only ``vwap_band_seconds``
# needs the VWAP at earlier bars (where the run of in-band closes began), and only when the newest close is in
# the band. The twins share one pass over the day.


class _DaySums(NamedTuple):
    """The running sums of ``_anchored_moments`` over the newest bar's trading day (no variance)."""

    first: int  # index of the day's first bar in the window
    p0: float  # the day's first typical price
    volume: np.ndarray  # cumulative volume, bar by bar
    weighted: np.ndarray  # cumulative v * (tp - p0)
    equal: np.ndarray  # the equal-weight mean of tp - p0 on the leading bars with cumulative volume 0


@shared  # one pass over the day per decision for all the twins below
def _day_sums(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
              anchor: str) -> _DaySums:
    """The running sums of the newest bar's day, the same floats as ``_anchored_moments(variance=False)``'s."""
    a = newest_day_start(time, anchor)
    tp = np.add(high[a:], low[a:], dtype=np.float64)
    tp += close[a:]
    tp /= 3.0
    v = np.asarray(volume[a:], dtype=np.float64)
    p0 = float(tp[0])
    d = np.subtract(tp, p0, out=tp)
    # Both running sums in one sequential pass (np.add.accumulate is what np.cumsum runs): complex addition
    # adds real and imaginary parts on their own, so the parts are exactly cumsum(v) and cumsum(v * d); the
    # pass is bound by the latency of one addition per bar, which the two parts share.
    pair = np.empty(len(v), dtype=np.complex128)
    pair.real = v
    np.multiply(v, d, out=pair.imag)
    sums = np.add.accumulate(pair)
    total = sums.real
    m = int(np.searchsorted(total, 0.0, side="right")) if v[0] == 0.0 else 0
    equal = np.add.accumulate(d[:m]) / np.arange(1, m + 1, dtype=np.float64)
    return _DaySums(a, p0, total, sums.imag, equal)


def _vwap_at(sums: _DaySums, i: int) -> float:
    """The VWAP at bar ``i`` of the day: p0 + S_vd / S_v (IEEE quotient), or p0 + the equal-weight mean."""
    if i < len(sums.equal):
        return float(sums.equal[i]) + sums.p0
    weighted, total = float(sums.weighted[i]), float(sums.volume[i])
    if total == 0.0:  # inf or NaN as numpy gives it, where Python would raise
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(weighted) / total) + sums.p0
    return weighted / total + sums.p0


def _newest_vwap(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                 anchor: str) -> float:
    sums = _day_sums(time, high, low, close, volume, anchor)
    return _vwap_at(sums, len(sums.volume) - 1)


def _close_in_band(close: float, level: float, pct: float) -> bool:
    return abs(close - level) <= _band_half_width(level, pct)


@last_value("vwap")
def _vwap_last(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, *,
               anchor: str = "00:00") -> float:
    """``vwap`` at the newest bar."""
    return _newest_vwap(time, high, low, close, volume, anchor)


@last_value("in_vwap_band")
def _in_vwap_band_last(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                       volume: np.ndarray, *, pct: float = 0.1, anchor: str = "00:00") -> bool:
    """``in_vwap_band`` at the newest bar: |close - vwap| <= vwap * pct / 100 on Python floats."""
    return _close_in_band(float(close[-1]), _newest_vwap(time, high, low, close, volume, anchor), pct)


@last_value("vwap_band_seconds")
def _vwap_band_seconds_last(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                            volume: np.ndarray, *, pct: float = 0.1, anchor: str = "00:00") -> float:
    """``vwap_band_seconds`` at the newest bar: the run starts after the day's last outside close, or at the
    day's first bar. Only when the newest close is inside is the day's VWAP computed bar by bar (as
    ``_anchored_moments`` does) to find it."""
    sums = _day_sums(time, high, low, close, volume, anchor)
    if not _close_in_band(float(close[-1]), _vwap_at(sums, len(sums.volume) - 1), pct):
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.divide(sums.weighted, sums.volume)
        level[:len(sums.equal)] = sums.equal
        level += sums.p0
        inside = np.abs(np.asarray(close[sums.first:], dtype=np.float64) - level) <= _band_half_width(level, pct)
    outside = np.flatnonzero(~inside)
    start = sums.first + (int(outside[-1]) + 1 if len(outside) else 0)
    return float(int(time[-1]) - int(time[start]) + 60)


@last_value("vwap_distance_pct")
def _vwap_distance_pct_last(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                            volume: np.ndarray, *, anchor: str = "00:00") -> float:
    """``vwap_distance_pct`` at the newest bar: 100 * (close - vwap) / vwap on the same floats."""
    level = _newest_vwap(time, high, low, close, volume, anchor)
    diff = 100.0 * (float(close[-1]) - level)
    if level == 0.0:  # numpy's IEEE quotient (inf or NaN) where Python would raise
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(diff) / level)
    return diff / level


@last_value("bullish_vwap_rejection")
def _bullish_vwap_rejection_last(time: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                                 close: np.ndarray, volume: np.ndarray, *, pct: float = 0.1,
                                 anchor: str = "00:00") -> bool:
    """``bullish_vwap_rejection`` at the newest bar (min(open, close) > x written as both above x, which is
    also False for a NaN)."""
    level = _newest_vwap(time, high, low, close, volume, anchor)
    edge = level + _band_half_width(level, pct)
    return float(low[-1]) <= edge and float(open_[-1]) > edge and float(close[-1]) > edge


@last_value("bearish_vwap_rejection")
def _bearish_vwap_rejection_last(time: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                                 close: np.ndarray, volume: np.ndarray, *, pct: float = 0.1,
                                 anchor: str = "00:00") -> bool:
    """``bearish_vwap_rejection`` at the newest bar."""
    level = _newest_vwap(time, high, low, close, volume, anchor)
    edge = level - _band_half_width(level, pct)
    return float(high[-1]) >= edge and float(open_[-1]) < edge and float(close[-1]) < edge
