"""Window-exact rolling and segmented primitives shared by every indicator module.

"Window-exact" means the value at bar t is computed from the bars of its own window only, in a fixed order,
so evaluating on a slice that starts anywhere at or before ``t - n + 1`` gives the same float, bit for bit,
as evaluating on the full history. The familiar ``cumsum[t] - cumsum[t - n]`` trick does not have this
property (its rounding error depends on where the array starts), and the live evaluator, which only keeps a
window of recent bars, must agree exactly with the backtest. The price is ~35-50 ms per rolling sum over 1M
bars (numpy's reduction over a strided window view), measured in ``bench/``.

Segmented functions restart at session/day boundaries (``starts`` marks each segment's first bar) and loop
over segments, not bars: a year of M1 data has a few hundred segments.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "bars_since",
    "day_index",
    "lag",
    "parse_hhmm",
    "rolling_max",
    "rolling_mean",
    "rolling_min",
    "rolling_std",
    "rolling_sum",
    "run_length",
    "segment_slices",
    "segment_starts",
    "segmented_accumulate",
]

_CHUNK = 1 << 16  # rows per chunk for the two-pass std (bounds the temporary to 64k x n floats)


def _out(n_bars: int) -> np.ndarray:
    return np.full(n_bars, np.nan)


def rolling_sum(x: np.ndarray, n: int) -> np.ndarray:
    """sum(x[t-n+1 .. t]); NaN for t < n-1 and wherever the window holds a NaN."""
    x = np.asarray(x, dtype=np.float64)
    out = _out(len(x))
    if n <= len(x):
        out[n - 1:] = sliding_window_view(x, n).sum(axis=-1)
    return out


def rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    """mean(x[t-n+1 .. t]) = rolling_sum / n."""
    return rolling_sum(x, n) / n


def rolling_std(x: np.ndarray, n: int, ddof: int = 0) -> np.ndarray:
    """Standard deviation over the window: sqrt(sum((x_i - mean)^2) / (n - ddof)).

    Fast path: from the window sums S1 = sum(x), S2 = sum(x^2), var = (S2 - S1^2/n) / (n - ddof). Its relative
    error is about eps * (mean^2 + var) / var, fine for spreads, volumes and deltas but useless for raw
    prices (4000^2 against a variance of 0.01). Windows where mean^2 > 1e6 * var are recomputed two-pass
    (mean first, then squared deviations, chunked to bound memory). Both paths read only the window, and the
    choice depends only on the window, so the result stays window-exact.
    """
    x = np.asarray(x, dtype=np.float64)
    out = _out(len(x))
    if n > len(x) or n <= ddof:
        return out
    s1 = sliding_window_view(x, n).sum(axis=-1)
    s2 = sliding_window_view(x * x, n).sum(axis=-1)
    var = np.maximum(s2 - s1 * s1 / n, 0.0) / (n - ddof)
    mean = s1 / n
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~(mean * mean <= 1e6 * var))  # also catches var == 0 with mean != 0, and NaN
    if len(bad):
        win = sliding_window_view(x, n)
        for lo in range(0, len(bad), _CHUNK):
            rows = bad[lo:lo + _CHUNK]
            w = win[rows]
            d = w - w.mean(axis=-1, keepdims=True)
            var[rows] = (d * d).sum(axis=-1) / (n - ddof)
    out[n - 1:] = np.sqrt(var)
    return out


def _rolling_extreme(x: np.ndarray, n: int, ufunc: np.ufunc) -> np.ndarray:
    """van Herk / Gil-Werman: block prefix and suffix extremes, O(len(x)) for any n, exact (max is exact).

    With blocks of n: ext(x[t-n+1 .. t]) = ufunc(suffix[t-n+1], prefix[t]), where prefix runs forward from the
    start of each block and suffix runs backward from the end of each block. NaN propagates (np.maximum).
    """
    x = np.asarray(x, dtype=np.float64)
    m = len(x)
    out = _out(m)
    if n > m:
        return out
    if n == 1:
        return x.copy()
    pad = (-m) % n
    fill = -np.inf if ufunc is np.maximum else np.inf
    xp = np.concatenate([x, np.full(pad, fill)]).reshape(-1, n)
    prefix = ufunc.accumulate(xp, axis=1).ravel()[:m]
    suffix = ufunc.accumulate(xp[:, ::-1], axis=1)[:, ::-1].ravel()[:m]
    out[n - 1:] = ufunc(suffix[: m - n + 1], prefix[n - 1:])
    return out


def rolling_max(x: np.ndarray, n: int) -> np.ndarray:
    """max(x[t-n+1 .. t]); NaN for t < n-1 and for windows holding a NaN."""
    return _rolling_extreme(x, n, np.maximum)


def rolling_min(x: np.ndarray, n: int) -> np.ndarray:
    """min(x[t-n+1 .. t]); NaN for t < n-1 and for windows holding a NaN."""
    return _rolling_extreme(x, n, np.minimum)


def lag(x: np.ndarray, k: int) -> np.ndarray:
    """x[t-k] (NaN for t < k; a boolean input gives False there). k = 0 returns a copy."""
    x = np.asarray(x)
    out = np.zeros(len(x), dtype=bool) if x.dtype == bool else _out(len(x))
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


def bars_since(cond: np.ndarray, limit: int) -> np.ndarray:
    """Bars since ``cond`` was last true (0 on a true bar), looking back at most ``limit`` bars.

    NaN when cond was not true in the last ``limit + 1`` bars, so the value depends on a bounded window
    (lookback = limit) and live and backtest agree.
    """
    cond = np.asarray(cond, dtype=bool)
    idx = np.arange(len(cond))
    last = np.maximum.accumulate(np.where(cond, idx, -1))
    out = (idx - last).astype(np.float64)
    out[(last < 0) | (out > limit)] = np.nan
    return out


def run_length(cond: np.ndarray, limit: int) -> np.ndarray:
    """Consecutive true bars ending at t (0 when false at t), capped at ``limit``: min(run, limit).

    The cap keeps the value a function of the last ``limit`` bars (lookback = limit - 1).
    """
    cond = np.asarray(cond, dtype=bool)
    idx = np.arange(len(cond))
    last_false = np.maximum.accumulate(np.where(cond, -1, idx))
    run = np.where(cond, idx - last_false, 0)
    return np.minimum(run, limit).astype(np.float64)


def segment_starts(keys: np.ndarray) -> np.ndarray:
    """True on the first bar of each run of equal ``keys`` (e.g. the UTC day number of each bar)."""
    keys = np.asarray(keys)
    starts = np.ones(len(keys), dtype=bool)
    starts[1:] = keys[1:] != keys[:-1]
    return starts


def segment_slices(starts: np.ndarray) -> list[slice]:
    """The slices of consecutive bars between segment starts."""
    bounds = np.flatnonzero(starts).tolist()
    if not bounds or bounds[0] != 0:
        bounds.insert(0, 0)
    bounds.append(len(starts))
    return [slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def segmented_accumulate(
    x: np.ndarray, starts: np.ndarray, op: Callable[..., np.ndarray] = np.cumsum,
) -> np.ndarray:
    """``op`` (cumsum, np.maximum.accumulate, ...) restarted at each segment start, exact per segment."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for s in segment_slices(starts):
        out[s] = op(x[s])
    return out


def parse_hhmm(text: str) -> int:
    """Minutes after midnight for ``"HH:MM"`` (``"24:00"`` allowed as 1440); ``ValueError`` otherwise."""
    try:
        hh, mm = text.split(":")
        minutes = int(hh) * 60 + int(mm)
    except (ValueError, AttributeError):
        raise ValueError(f"expected a time of day as 'HH:MM', got {text!r}") from None
    if not (0 <= int(mm) < 60 and 0 <= minutes <= 1440):
        raise ValueError(f"time of day out of range: {text!r}")
    return minutes


def day_index(time: np.ndarray, anchor_minute: int = 0) -> np.ndarray:
    """Trading-day number of each bar: floor((time - anchor) / 86400), days starting at ``anchor_minute`` UTC.

    With ``anchor_minute=0`` this is the UTC calendar day. ``segment_starts(day_index(...))`` marks the first
    bar of each day, which anchors session VWAP, session CVD and intraday high/low.
    """
    return (np.asarray(time, dtype=np.int64) - anchor_minute * 60) // 86_400
