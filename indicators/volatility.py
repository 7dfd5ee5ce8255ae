"""Volatility of M1 bars: true range, ATR (by bars and by clock minutes), average range, expansion state.

The plan's pre-trade filters block a trade when the market is dead (XAUUSD: ``true_range >= 0.5`` is its
"ATR(1)", ``mean_range >= 0.8`` its "avg M1 range") and score "good volatility, expanding" in the
confluence score. All are magnitudes: price reflection leaves them unchanged (``mirror`` is themselves).

Everything here is window-exact (the value at t is a fixed sum over its own window, see ``_window_sums``)
except ``atr(method="wilder")``, a recursive filter whose value only converges (see ``atr``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from indicators._registry import indicator, last_value
from indicators._rolling import ieee_quotient, tree_sum
from indicators._shared import shared

__all__ = [
    "atr",
    "atr_minutes",
    "atr_ratio",
    "mean_range",
    "true_range",
    "volatility_contracting",
    "volatility_expanding",
]

_HLC = ("high", "low", "close")
_PERIOD = (1, 100_000)
_WILDER_SETTLE = 20  # Wilder lookback in periods: the starting state's weight is below e^-19 (see atr)


def _true_range_of(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """max(high, prev_close) - min(low, prev_close); high - low on the first bar.

    Equal, bit for bit, to max(h - l, |h - pc|, |l - pc|): whichever of the three wins, it is the same single
    subtraction (|l - pc| = pc - l exactly, since rounding is symmetric), and it costs two ufuncs less.
    """
    high, low, close = (np.asarray(a, dtype=np.float64) for a in (high, low, close))
    tr = np.empty(len(high))
    tr[:1] = high[:1] - low[:1]
    prev_close = close[:-1]
    np.subtract(np.maximum(high[1:], prev_close), np.minimum(low[1:], prev_close), out=tr[1:])
    return tr


_true_range = shared(_true_range_of)  # true_range, atr and the ATR ratio of one evaluation share it


def _last_true_ranges(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> list[float] | None:
    """The true ranges of the newest n bars given, as Python floats for a newest-bar twin; None when fewer
    than n bars exist.

    A twin gets the last lookback + 1 = n + 1 bars, the oldest only for its close; when it gets exactly n
    bars they are the data's first, so the oldest true range is high - low, as in the array function. The
    same ufuncs as ``_true_range_of`` (three numpy calls beat a Python loop from ~15 bars on, and propagate
    a NaN as the array function does), unmemoised: the twins' windows differ in length, so they would rarely
    share one.
    """
    m = len(high)
    if m < n:
        return None
    if m == n:
        return _true_range_of(high, low, close).tolist()
    prev_close = close[m - n - 1:m - 1]
    return np.subtract(np.maximum(high[m - n:], prev_close), np.minimum(low[m - n:], prev_close)).tolist()


def _window_sums(x: np.ndarray, windows: tuple[int, ...]) -> list[np.ndarray]:
    """sum(x[t-n+1 .. t]) for each n in ``windows`` (NaN for t < n-1), window-exact and O(len(x) log n).

    Doubling: P1 = x, P2k[t] = Pk[t] + Pk[t-k]; a window of n bars is the sum of the P(2^j) for the set bits
    of n, nearest chunk first: S_n[t] = P(2^j0)[t] + P(2^j1)[t - 2^j0] + ... . The value at t is the same
    fixed tree of additions over the window's own bars whatever the array's start, so it is window-exact
    like ``_rolling.rolling_sum``, and as accurate (a tree, not a running sum), but it takes log2(n) +
    popcount(n) vector additions instead of a strided reduction: ~7 ms instead of ~35 ms for n = 14..50
    on 1M bars, 16 ms instead of 220 ms for n = 1000 (measured). Windows share the doubling levels. The
    floats may differ from ``rolling_sum`` in the last bits (another summation order). Could move to
    ``_rolling``.
    """
    x = np.asarray(x, dtype=np.float64)
    m = len(x)
    sums: dict[int, np.ndarray] = {}
    filled = dict.fromkeys(windows, 0)  # bars of each window already summed, nearest first
    level, size, top = x, 1, max(windows)
    while True:  # over doubling levels: log2(max window) + 1 passes
        for n in filled:
            if not n & size:
                continue
            lag = filled[n]
            if lag == 0:
                sums[n] = level.copy()
            else:
                if lag < m:
                    sums[n][lag:] += level[: m - lag]
                sums[n][:lag] = np.nan
            filled[n] = lag + size
        if 2 * size > top:
            break
        doubled = np.full(m, np.nan)
        if size < m:
            np.add(level[size:], level[: m - size], out=doubled[size:])
        level, size = doubled, 2 * size
    return [sums[n] for n in windows]


def _window_mean(x: np.ndarray, n: int) -> np.ndarray:
    """mean(x[t-n+1 .. t]) = window sum / n; NaN for t < n-1 (see ``_window_sums``)."""
    (total,) = _window_sums(x, (n,))
    total /= n
    return total


# Wilder smoothing, vectorised in blocks. y[t] = a*y[t-1] + b*x[t] (a = 1 - 1/n, b = 1/n) unrolls inside a
# block of B bars to y[k] = a^(k+1) * y[-1] + a^k * cumsum_j(b * a^-j * x[j]): one cumsum per block row,
# all rows at once. The growth a^-j is kept below 2^_BLOCK_RANGE_BITS so nothing overflows; the relative
# rounding stays within ~ n * eps (the geometric weights make the latest terms dominate; measured 5e-15 at
# n = 500 against the plain recursion). Only the carries between blocks run in Python: 1M / (69 n) scalar
# steps, ~1k for n = 14 and at most ~10k (n = 2, blocks of 100), a few ms at worst, where a Python loop over
# 1M bars takes ~500 ms (measured). Blocks are laid out from the seed with a size depending on n only, so a
# prefix of the bars gives the same floats (causality, bit for bit).
_BLOCK_RANGE_BITS = 100
_MAX_BLOCK = 1 << 14


def _wilder(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder's smoothing of x: the mean of the first n values at t = n-1, then y[t] = y[t-1] + (x[t] - y[t-1]) / n.

    NaN before t = n-1; a NaN in x propagates to every later value, as in the recursion.
    """
    out = np.full(len(x), np.nan)
    if len(x) < n:
        return out
    if n == 1:
        out[:] = x
        return out
    out[n - 1] = x[:n].sum() / n
    rest = x[n:]
    if not len(rest):
        return out
    a = (n - 1) / n
    block = int(min(_MAX_BLOCK, max(1, math.floor(_BLOCK_RANGE_BITS * math.log(2) / -math.log(a)))))
    rows = -(-len(rest) // block)
    xs = np.zeros(rows * block)
    xs[: len(rest)] = rest
    k = np.arange(block, dtype=np.float64)
    decay = np.power(a, k)  # a^k
    growth = np.power(a, -k) / n  # b * a^-k
    z = np.cumsum(xs.reshape(rows, block) * growth, axis=1)
    z *= decay  # z[i, k]: the block's response to its own inputs, starting from 0
    carry_gain = decay * a  # a^(k+1): the weight of the value before the block
    carries = np.empty(rows)
    carries[0] = out[n - 1]
    gain, ends = float(carry_gain[-1]), z[:, -1].tolist()
    for i in range(rows - 1):  # over blocks, not bars (see the comment above _BLOCK_RANGE_BITS)
        carries[i + 1] = gain * carries[i] + ends[i]
    z += carries[:, None] * carry_gain
    out[n:] = z.ravel()[: len(rest)]
    return out


def _atr_lookback(p: dict[str, Any]) -> int:
    return p["period"] if p["method"] == "sma" else _WILDER_SETTLE * p["period"]


@indicator("true_range", inputs=_HLC, output="number", lookback=1, mirror="true_range")
def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """True range of the bar: the range extended to the previous close when the bar gapped away from it.

    WHY: the plan's "ATR(1)", the volatility of the last minute; unlike ``range`` it counts a gap between
    bars (a jump at the open, a bar after a pause) as movement a position would have lived through.

    FORMULA: max(high - low, |high - close[t-1]|, |low - close[t-1]|); high - low on the first bar.
    """
    return _true_range(high, low, close)


@last_value("true_range")
def _true_range_last(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> float:
    """``true_range`` at the newest bar: the same single subtraction on Python floats."""
    if len(high) == 1:
        return high.item(-1) - low.item(-1)
    pc = close.item(-2)
    if pc != pc:  # NaN: np.maximum/np.minimum propagate it, Python's max/min may not
        return math.nan
    return max(high.item(-1), pc) - min(low.item(-1), pc)


@indicator("atr", inputs=_HLC, output="number", lookback=_atr_lookback,
           window_exact=lambda p: p["method"] == "sma",
           bounds={"period": _PERIOD}, mirror="atr")
def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, period: int = 14,
        method: Literal["sma", "wilder"] = "sma") -> np.ndarray:
    """Average true range over ``period`` bars, as a simple mean (default) or Wilder's smoothing.

    WHY: the usual volatility yardstick for stops, bands and filters. ``sma`` is the plain mean of the last
    ``period`` true ranges: window-exact, lookback ``period`` (the oldest true range reads the close before
    it). ``wilder`` is the classic ATR of charting packages: seeded with that mean on the first full window,
    then exponentially smoothed, so it never forgets the start entirely. Its lookback of 20 x period bars
    bounds the weight left on a different starting state by (1 - 1/period)^(19 * period + 1) < e^-19
    (~6e-9): two runs that start at least that far back agree to about 6e-9 x the largest true range. This
    is why ``window_exact`` is declared per method: true for ``sma``, false for ``wilder``.

    FORMULA: TR = true_range. sma: mean(TR[t-period+1 .. t]), from t = period-1.
    wilder: ATR[period-1] = mean(TR[0 .. period-1]); ATR[t] = ATR[t-1] + (TR[t] - ATR[t-1]) / period.
    NaN before t = period-1 (the first bar's TR is high - low).
    """
    tr = _true_range(high, low, close)
    if method == "wilder":
        return _wilder(tr, period)
    return _window_mean(tr, period)


@last_value("atr")
def _atr_last(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, period: int = 14,
              method: Literal["sma", "wilder"] = "sma") -> float:
    """``atr`` at the newest bar for ``method="sma"``: the tree sum of the last ``period`` true ranges / period.

    "wilder" is not window-exact, so the live evaluator never calls this twin for it; it is answered by the
    array function on the bars given, to keep the twin total.
    """
    if method == "wilder":
        return float(atr(high, low, close, period=period, method=method)[-1])
    tr = _last_true_ranges(high, low, close, period)
    return math.nan if tr is None else tree_sum(tr, nearest_first=True) / period


@indicator("mean_range", inputs=("high", "low"), output="number", lookback=lambda p: p["window"] - 1,
           bounds={"window": _PERIOD}, mirror="mean_range")
def mean_range(high: np.ndarray, low: np.ndarray, *, window: int = 20) -> np.ndarray:
    """Average bar range over the last ``window`` bars: the plan's "avg M1 range".

    WHY: a dead-market filter (XAUUSD: >= $0.8) that, unlike ATR, ignores gaps between bars, so a single
    jump at a session open does not make a quiet market look active. ``mean(range, window)`` gives the same
    value (to the last bit or two: another summation order).

    FORMULA: mean(high[i] - low[i] for i in t-window+1 .. t); NaN before t = window-1.
    """
    high, low = (np.asarray(a, dtype=np.float64) for a in (high, low))
    return _window_mean(high - low, window)


@last_value("mean_range")
def _mean_range_last(high: np.ndarray, low: np.ndarray, *, window: int = 20) -> float:
    """``mean_range`` at the newest bar: the tree sum of the last ``window`` ranges / window."""
    if len(high) < window:
        return math.nan
    if len(high) > window:
        high, low = high[len(high) - window:], low[len(low) - window:]
    return tree_sum(np.subtract(high, low).tolist(), nearest_first=True) / window


@indicator("atr_minutes", inputs=("time", *_HLC), output="number", lookback=lambda p: p["minutes"],
           bounds={"minutes": (1, 10_000)}, mirror="atr_minutes")
def atr_minutes(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                minutes: int = 30) -> np.ndarray:
    """ATR over the last ``minutes`` minutes of clock time, not bars: the plan's "30-min rolling ATR".

    WHY: the plan adapts its ATR thresholds to a 30-minute rolling ATR. Counting bars, "the last 30 bars"
    after a pause (a missing minute, the daily break, a weekend) reaches back into the previous session;
    counting minutes, it holds only the bars of the last half hour, so fewer bars right after a gap.

    FORMULA: mean(TR[j]) over the bars j <= t with time[t] - time[j] < 60 * minutes (bar open times,
    so bar t itself and the minutes-1 minutes before it). M1 bars are at least 60 s apart, so that is at
    most ``minutes`` bars: the window is read as the fixed ``minutes``-bar window with a time mask, and
    the value is window-exact with lookback ``minutes`` (the oldest TR reads the close before it). With
    no gap it equals ``atr(period=minutes)`` bit for bit. NaN before t = minutes-1, like the bar ATR. The
    TR of the first bar after a gap still spans the gap from the previous close, as in the bar ATR.
    """
    tr = _true_range(high, low, close)
    out = _window_mean(tr, minutes)  # right wherever the whole window lies within the last `minutes`
    n_bars = len(tr)
    if n_bars < minutes or minutes == 1:
        return out
    time = np.asarray(time, dtype=np.int64)
    horizon = 60 * minutes
    # Row i of the sliding window view ends at bar i + minutes - 1; rows reaching back past the horizon
    # (a gap inside the window) are redone with the older bars masked out, in chunks bounding memory.
    gapped = np.flatnonzero(time[minutes - 1:] - time[: n_bars - minutes + 1] >= horizon)
    if len(gapped):
        tr_windows = sliding_window_view(tr, minutes)
        time_windows = sliding_window_view(time, minutes)
        chunk = max(1, (1 << 20) // minutes)
        for lo in range(0, len(gapped), chunk):  # over chunks of ~1M window cells, not over bars
            rows = gapped[lo:lo + chunk]
            ends = rows + minutes - 1
            inside = time_windows[rows] > (time[ends] - horizon)[:, None]
            total = np.where(inside, tr_windows[rows], 0.0).sum(axis=-1)
            out[ends] = total / inside.sum(axis=-1)
    return out


@last_value("atr_minutes")
def _atr_minutes_last(time: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                      minutes: int = 30) -> float:
    """``atr_minutes`` at the newest bar: the bar ATR when the last ``minutes`` bars lie within the horizon,
    else the masked window by the array function's own numpy expression (a pairwise ``sum``) on one row."""
    tr = _last_true_ranges(high, low, close, minutes)
    if tr is None:
        return math.nan
    horizon = 60 * minutes
    newest = int(time[-1])
    if minutes == 1 or newest - int(time[-minutes]) < horizon:
        return tree_sum(tr, nearest_first=True) / minutes
    inside = np.asarray(time[-minutes:], dtype=np.int64)[None, :] > newest - horizon
    masked = np.where(inside, np.array(tr)[None, :], 0.0).sum(axis=-1)
    return float((masked / inside.sum(axis=-1))[0])


def _atr_ratio(high: np.ndarray, low: np.ndarray, close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    if fast >= slow:
        raise ValueError(f"fast ({fast}) must be shorter than slow ({slow})")
    tr = _true_range(high, low, close)
    fast_sum, slow_sum = _window_sums(tr, (fast, slow))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (fast_sum / fast) / (slow_sum / slow)


def _last_atr_ratio(high: np.ndarray, low: np.ndarray, close: np.ndarray, fast: int, slow: int) -> float:
    """``_atr_ratio`` at the newest bar: both tree sums, then the array's (fast_sum / fast) / (slow_sum / slow)
    with numpy's division by zero."""
    if fast >= slow:
        raise ValueError(f"fast ({fast}) must be shorter than slow ({slow})")
    tr = _last_true_ranges(high, low, close, slow)
    if tr is None:
        return math.nan
    fast_sum, slow_sum = tree_sum(tr[slow - fast:], nearest_first=True), tree_sum(tr, nearest_first=True)
    return ieee_quotient(fast_sum / fast, slow_sum / slow)


def _ratio_lookback(p: dict[str, Any]) -> int:
    return max(p["fast"], p["slow"])  # the oldest true range of the slow window reads the close before it


_RATIO_BOUNDS: dict[str, tuple[float | None, float | None]] = {"fast": (1, 99_999), "slow": (2, 100_000)}


@indicator("atr_ratio", inputs=_HLC, output="number", lookback=_ratio_lookback, bounds=_RATIO_BOUNDS,
           mirror="atr_ratio")
def atr_ratio(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, fast: int = 14,
              slow: int = 50) -> np.ndarray:
    """Short-term over longer-term ATR: above 1 while volatility expands, below 1 while it contracts.

    WHY: the plan's "ATR(14), ATR(50), ATR ratio", the volatility state (EXPANDING/CONTRACTING) in one
    scale-free number that means the same on gold and bitcoin. Both ATRs are simple means (``sma``), so the
    ratio is window-exact. ``fast`` must be shorter than ``slow`` (ValueError otherwise).

    FORMULA: atr(period=fast) / atr(period=slow); NaN before t = slow-1 and when atr(slow) is 0 (no
    movement at all for ``slow`` bars: the state is undefined, so neither expanding nor contracting).
    """
    return _atr_ratio(high, low, close, fast, slow)


@last_value("atr_ratio")
def _atr_ratio_last(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, fast: int = 14,
                    slow: int = 50) -> float:
    """``atr_ratio`` at the newest bar (see ``_last_atr_ratio``)."""
    return _last_atr_ratio(high, low, close, fast, slow)


@indicator("volatility_expanding", inputs=_HLC, output="boolean", lookback=_ratio_lookback,
           bounds={**_RATIO_BOUNDS, "threshold": (1.0, 100.0)}, mirror="volatility_expanding")
def volatility_expanding(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, fast: int = 14,
                         slow: int = 50, threshold: float = 1.2) -> np.ndarray:
    """Volatility expanding: the fast ATR is at least ``threshold`` times the slow ATR.

    WHY: the confluence score's "good volatility (expanding)" point. 1.2 asks for the last ``fast`` bars to
    move 20 % more per bar than the last ``slow`` (which include them), a clear pickup rather than noise.

    FORMULA: atr_ratio(fast, slow) >= threshold; False while atr_ratio is NaN.
    """
    return _atr_ratio(high, low, close, fast, slow) >= threshold


@last_value("volatility_expanding")
def _volatility_expanding_last(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, fast: int = 14,
                               slow: int = 50, threshold: float = 1.2) -> bool:
    """``volatility_expanding`` at the newest bar: the newest ATR ratio >= threshold (False on NaN)."""
    return _last_atr_ratio(high, low, close, fast, slow) >= threshold


@indicator("volatility_contracting", inputs=_HLC, output="boolean", lookback=_ratio_lookback,
           bounds={**_RATIO_BOUNDS, "threshold": (0.01, 1.0)}, mirror="volatility_contracting")
def volatility_contracting(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, fast: int = 14,
                           slow: int = 50, threshold: float = 0.8) -> np.ndarray:
    """Volatility contracting: the fast ATR is at most ``threshold`` times the slow ATR.

    WHY: the plan's CONTRACTING state, a market going quiet (a squeeze before a break, or a session winding
    down). 0.8 mirrors the expanding default: 20 % less movement per bar than the longer average.

    FORMULA: atr_ratio(fast, slow) <= threshold; False while atr_ratio is NaN.
    """
    return _atr_ratio(high, low, close, fast, slow) <= threshold


@last_value("volatility_contracting")
def _volatility_contracting_last(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, fast: int = 14,
                                 slow: int = 50, threshold: float = 0.8) -> bool:
    """``volatility_contracting`` at the newest bar: the newest ATR ratio <= threshold (False on NaN)."""
    return _last_atr_ratio(high, low, close, fast, slow) <= threshold
