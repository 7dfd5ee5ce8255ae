"""Window-exact rolling and segmented primitives shared by every indicator module.

"Window-exact" means the value at bar t is computed from the bars of its own window only, in a fixed order,
so evaluating on a slice that starts anywhere at or before ``t - n + 1`` gives the same float, bit for bit,
as evaluating on the full history. The familiar ``cumsum[t] - cumsum[t - n]`` trick does not have this
property (its rounding error depends on where the array starts), and the live evaluator, which only keeps a
window of recent bars, must agree exactly with the backtest. Sums use a binary tree fixed relative to each
window (about log2(n) vector additions, 4-5 ms per 1M bars) and extremes a sparse table; see the kernels at
the end of this module.

Segmented functions restart at session/day boundaries (``starts`` marks each segment's first bar) and loop
over segments, not bars: a year of M1 data has a few hundred segments.

The newest-bar kernels (``tree_sum``, ``last_window_*``, ``last_preceding_*``) give one window's value at the
newest bar as a Python float, equal bit for bit to the array kernels' last value, for the indicators'
newest-bar twins (see ``indicators._registry``).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "bars_since",
    "day_index",
    "ieee_quotient",
    "lag",
    "last_preceding_mean",
    "last_preceding_std",
    "last_window_max",
    "last_window_mean",
    "last_window_min",
    "last_window_std",
    "last_window_sum",
    "parse_hhmm",
    "preceding_mean",
    "preceding_std",
    "rolling_max",
    "rolling_mean",
    "rolling_min",
    "rolling_std",
    "rolling_sum",
    "run_length",
    "safe_divide",
    "safe_quotient",
    "segment_slices",
    "segment_starts",
    "segmented_accumulate",
    "tree_sum",
    "window_max",
    "window_mean",
    "window_min",
    "window_std",
    "window_sum",
]


def _out(n_bars: int) -> np.ndarray:
    return np.full(n_bars, np.nan)


def rolling_sum(x: np.ndarray, n: int) -> np.ndarray:
    """sum(x[t-n+1 .. t]) by a binary tree fixed relative to the window; NaN for t < n-1 and NaN windows."""
    return window_sum(np.asarray(x, dtype=np.float64), n)


def rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    """mean(x[t-n+1 .. t]) = rolling_sum / n."""
    return window_mean(np.asarray(x, dtype=np.float64), n)


def rolling_std(x: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation of x[t-n+1 .. t]: sqrt(sum((x_i - mean)^2) / n); exactly 0 on constant
    windows (see :func:`window_std`)."""
    return window_std(np.asarray(x, dtype=np.float64), n)


def rolling_max(x: np.ndarray, n: int) -> np.ndarray:
    """max(x[t-n+1 .. t]); NaN for t < n-1 and for windows holding a NaN."""
    return window_max(np.asarray(x, dtype=np.float64), n)


def rolling_min(x: np.ndarray, n: int) -> np.ndarray:
    """min(x[t-n+1 .. t]); NaN for t < n-1 and for windows holding a NaN."""
    return window_min(np.asarray(x, dtype=np.float64), n)


def safe_divide(x: np.ndarray, by: np.ndarray) -> np.ndarray:
    """x / by, NaN where ``by`` is 0 or NaN: a ratio to a baseline that does not exist is undefined, not inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(x, dtype=np.float64) / by
    out[by == 0] = np.nan
    return out


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


# -- fast window kernels (binary-tree sums, sparse-table extremes, exact-zero std) ------------------------
_TREE_CHUNK = 1 << 15  # bars per chunk: the doubling levels of one chunk stay in L2 (4 ms vs 16 ms unchunked)
_TWO_PASS_CELLS = 1 << 22  # rows x n floats per batch of the two-pass fallback (32 MB)


def _tree_sums(x: np.ndarray, n: int) -> np.ndarray:
    """sum(x[s : s + n]) for s = 0 .. len(x) - n, each by the same binary tree relative to s."""
    length = len(x) - n + 1
    total: np.ndarray | None = None
    offset = 0
    level, size = x, 1  # level[i] = sum(x[i : i + size])
    while True:
        if n & size:
            piece = level[offset:offset + length]
            total = piece.copy() if total is None else np.add(total, piece, out=total)
            offset += size
        if 2 * size > n:
            assert total is not None
            return total
        level = level[:-size] + level[size:]
        size *= 2


def _tree_extreme(x: np.ndarray, n: int, ufunc: np.ufunc) -> np.ndarray:
    """ufunc-extreme of x[s : s + n] for s = 0 .. len(x) - n: two overlapping power-of-two pieces."""
    length = len(x) - n + 1
    level, size = x, 1  # level[i] = extreme(x[i : i + size])
    while 2 * size <= n:
        level = ufunc(level[:-size], level[size:])
        size *= 2
    return ufunc(level[:length], level[n - size:n - size + length])


def _population_std(x: np.ndarray, n: int) -> np.ndarray:
    """sqrt(sum((x_i - mean)^2) / n) of x[s : s + n]; exactly 0 on constant windows.

    Fast path var = (S2 - S1^2/n) / n from tree sums; its relative error is about eps * (mean^2 + var) / var,
    so windows with mean^2 > 1e6 * var that are not constant are recomputed two-pass (mean first, then squared
    deviations). Which path a window takes depends on the window only, so the result stays window-exact.
    """
    s1 = _tree_sums(x, n)
    s2 = _tree_sums(x * x, n)
    mean = s1 / n
    with np.errstate(invalid="ignore"):  # inf - inf in windows holding an inf: NaN, as it should be
        var = np.maximum(s2 - s1 * s1 / n, 0.0) / n
    changes = np.zeros(len(x), dtype=np.int64)
    np.cumsum(x[1:] != x[:-1], out=changes[1:])  # changes up to i; NaN != NaN counts as a change
    constant = changes[n - 1:] == changes[:len(x) - n + 1]
    var[constant] = 0.0
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero((mean * mean > 1e6 * var) & ~constant)
    if len(bad):
        windows = sliding_window_view(x, n)
        step = max(1, _TWO_PASS_CELLS // n)
        for lo in range(0, len(bad), step):
            rows = bad[lo:lo + step]
            var[rows] = _two_pass_variance(windows[rows], n)
    return np.sqrt(var)


def _two_pass_variance(windows: np.ndarray, n: int) -> np.ndarray:
    """Population variance of each row of ``windows`` (rows x n): mean first, then the squared deviations."""
    d = windows - windows.mean(axis=1, keepdims=True)
    return (d * d).sum(axis=1) / n


def _by_chunks(kernel: Callable[[np.ndarray, int], np.ndarray], x: np.ndarray, n: int) -> np.ndarray:
    """Run ``kernel`` (windows of one chunk) over cache-sized chunks; NaN for the first n - 1 bars.

    The loop runs over chunks of 32,768 bars, not over bars; each window is computed whole inside one chunk
    (chunks overlap by n - 1 bars), so the chunking does not change any value.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    m = len(x)
    out = np.full(m, np.nan)
    if n < 1:
        raise ValueError(f"window must be >= 1, got {n}")
    if n > m:
        return out
    done = out[n - 1:]
    for a in range(0, m - n + 1, _TREE_CHUNK):
        b = min(a + _TREE_CHUNK, m - n + 1)
        done[a:b] = kernel(x[a:b + n - 1], n)
    return out


def window_sum(x: np.ndarray, n: int) -> np.ndarray:
    """sum(x[t-n+1 .. t]), tree-summed; NaN for t < n-1 and wherever the window holds a NaN."""
    return _by_chunks(_tree_sums, x, n)


def window_mean(x: np.ndarray, n: int) -> np.ndarray:
    """mean(x[t-n+1 .. t]) = window_sum / n."""
    return window_sum(x, n) / n


def window_std(x: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation of x[t-n+1 .. t]: sqrt(sum((x_i - mean)^2) / n); 0 on constant windows."""
    return _by_chunks(_population_std, x, n)


def window_max(x: np.ndarray, n: int) -> np.ndarray:
    """max(x[t-n+1 .. t]) (exact: max does not round); NaN where the window holds a NaN."""
    return _by_chunks(lambda c, k: _tree_extreme(c, k, np.maximum), x, n)


def window_min(x: np.ndarray, n: int) -> np.ndarray:
    """min(x[t-n+1 .. t]) (exact); NaN where the window holds a NaN."""
    return _by_chunks(lambda c, k: _tree_extreme(c, k, np.minimum), x, n)


def preceding_mean(x: np.ndarray, n: int) -> np.ndarray:
    """mean(x[t-n .. t-1]): the normal of the n bars *before* t (NaN for t < n), a baseline that a spike
    at t cannot inflate."""
    return lag(window_mean(x, n), 1)


def preceding_std(x: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation of x[t-n .. t-1], the n bars before t (NaN for t < n)."""
    return lag(window_std(x, n), 1)


# -- newest-bar kernels (for the ``@last_value`` twins) ---------------------------------------------------
# A live decision reads each window function at the newest bar only, on a window of a few dozen bars, where
# a full array function costs mostly numpy's per-call overhead. These give that one value as a Python float,
# equal bit for bit to the array kernels' last value (the same additions in the same tree, the same
# operations after them); they read the tail of their input only. Python float arithmetic is IEEE double
# arithmetic, as numpy's elementwise float64 is.


def _aligned_sum(level: list[float]) -> float:
    """The sum of ``level`` (non-empty) by pairwise levels aligned at its start, odd blocks taken at its end.

    At level k the list holds the sums of consecutive blocks of 2^k values counted from the start; when its
    length is odd, the last block is the chunk of 2^k values that the window kernels add next (see
    :func:`tree_sum`), and the pairing drops it. Chunks come out smallest first, as the kernels add them.
    """
    total = None
    while True:
        if len(level) & 1:
            total = level[-1] if total is None else total + level[-1]
            if len(level) == 1:
                return total
        level = list(map(operator.add, level[0::2], level[1::2]))


_UNROLLED_MAX = 512  # windows up to this many bars get a generated summing function (see _tree_summer)


def _chunk_expression(lo: int, size: int) -> str:
    """The balanced tree of additions over v[lo : lo + size] (size a power of two), as Python source."""
    if size == 1:
        return f"v[{lo}]"
    half = size // 2
    return f"({_chunk_expression(lo, half)} + {_chunk_expression(lo + half, half)})"


@functools.lru_cache(maxsize=256)
def _tree_summer(n: int, nearest_first: bool) -> Callable[[list[float]], float]:
    """A function of a list of n floats (oldest first) that adds them in the window kernels' tree.

    The tree is fixed by n, so it is written out once as one Python expression (``v[0] + v[1]`` ... with the
    kernels' grouping) and compiled: n - 1 additions and n subscripts, no loop and no intermediate list,
    4-5x faster than :func:`_aligned_sum` on 14-100 values (measured). The source holds only integers that
    this function generated. Cached per (n, order); windows above ``_UNROLLED_MAX`` use ``_aligned_sum``.
    """
    chunks = []
    done, size = 0, 1
    while size <= n:
        if n & size:
            lo = n - done - size if nearest_first else done
            chunks.append(_chunk_expression(lo, size))
            done += size
        size *= 2
    total = chunks[0]
    for chunk in chunks[1:]:  # smallest chunk first, accumulated left to right
        total = f"({total} + {chunk})"
    return eval(f"lambda v: {total}")  # generated from integers only, see above


def tree_sum(values: list[float], *, nearest_first: bool = False) -> float:
    """sum(values) over a whole window (oldest first, non-empty), by the window kernels' tree, bit for bit.

    ``window_sum`` (``_tree_sums``) adds a window of n bars as its power-of-two chunks (the set bits of n)
    laid out from the window's oldest bar, smallest first, each chunk a balanced tree of pairwise additions
    (a chunk of 2s bars is its two halves added), and accumulates the chunks smallest first:
    total = C(2^j0) + C(2^j1) + ..., left to right. ``volatility._window_sums`` lays the same chunks out from
    the newest bar (``nearest_first=True``). The same additions on Python floats give the same float.
    Laid out from one end, each chunk starts at a multiple of its size counted from the *other* end (only
    larger chunks lie beyond it), so one pairwise reduction aligned at that end yields every chunk
    (:func:`_aligned_sum`); windows of up to ``_UNROLLED_MAX`` bars use a compiled expression instead
    (:func:`_tree_summer`).
    """
    n = len(values)
    if n <= _UNROLLED_MAX:
        return _tree_summer(n, nearest_first)(values)
    return _aligned_sum(values if nearest_first else values[::-1])


def last_window_sum(x: np.ndarray, n: int) -> float:
    """``window_sum(x, n)[-1]`` as a Python float, bit for bit (see :func:`tree_sum`); NaN for n > len(x)."""
    if not 1 <= n <= len(x):
        return math.nan
    return tree_sum(np.asarray(x[len(x) - n:], dtype=np.float64).tolist())


def last_window_mean(x: np.ndarray, n: int) -> float:
    """``window_mean(x, n)[-1]`` bit for bit: the tree sum / n."""
    return last_window_sum(x, n) / n


def last_window_std(x: np.ndarray, n: int) -> float:
    """``window_std(x, n)[-1]`` as a Python float, bit for bit (see :func:`_population_std`).

    The fast path's operations on Python floats: S1 and S2 tree sums (:func:`tree_sum`),
    var = max(S2 - S1 * S1 / n, 0) / n, exactly 0 when the window is constant (NaN != NaN is a change), and
    sqrt. A non-constant window with mean^2 > 1e6 var (a price level, say) takes ``_population_std``'s
    two-pass path, run by the same numpy expression (:func:`_two_pass_variance`) on this one window as a row:
    its numpy sums are pairwise, an order not worth mirroring in Python.
    """
    if not 1 <= n <= len(x):
        return math.nan
    x = np.asarray(x, dtype=np.float64)
    window = x[len(x) - n:].tolist()
    if window.count(window[0]) == n:  # constant: == is transitive here, and a NaN never counts twice
        return 0.0  # (tolist makes a new float object per value, so identity does not match NaN to NaN)
    s1 = tree_sum(window)
    s2 = tree_sum([v * v for v in window])
    var = s2 - s1 * s1 / n
    if var < 0.0:  # np.maximum(var, 0.0); a NaN passes through, as in numpy
        var = 0.0
    var /= n
    mean = s1 / n
    if mean * mean > 1e6 * var:  # the two-pass path, by the array kernel's own numpy expression, on one row
        var = float(_two_pass_variance(x[None, len(x) - n:], n)[0])
    return math.sqrt(var)


def last_window_max(x: np.ndarray, n: int) -> float:
    """``window_max(x, n)[-1]`` (NaN if the window holds a NaN or n > len(x)), bit for bit."""
    return _last_extreme(x, n, max, np.maximum)


def last_window_min(x: np.ndarray, n: int) -> float:
    """``window_min(x, n)[-1]`` (NaN if the window holds a NaN or n > len(x)), bit for bit."""
    return _last_extreme(x, n, min, np.minimum)


def _last_extreme(x: np.ndarray, n: int, pick: Callable[[list[float]], float], ufunc: np.ufunc) -> float:
    """The window's extreme by Python's ``max``/``min``. An extreme does not round, so only a NaN (which
    Python may skip) or the sign of a zero (which depends on the order of comparisons) could differ: those
    windows are recomputed by the array kernel."""
    if not 1 <= n <= len(x):
        return math.nan
    x = np.asarray(x, dtype=np.float64)
    window = x[len(x) - n:].tolist()
    value = pick(window)
    if value == 0.0 or math.isnan(sum(window)):  # sum(): NaN if the window holds one (or inf - inf)
        return float(_tree_extreme(x[len(x) - n:], n, ufunc)[0])
    return value


def last_preceding_mean(x: np.ndarray, n: int) -> float:
    """``preceding_mean(x, n)[-1]``, the mean of the n bars before the newest one, bit for bit."""
    m = len(x)
    if not 1 <= n < m:
        return math.nan
    return tree_sum(np.asarray(x[m - n - 1:m - 1], dtype=np.float64).tolist()) / n


def last_preceding_std(x: np.ndarray, n: int) -> float:
    """``preceding_std(x, n)[-1]``, the standard deviation of the n bars before the newest one, bit for bit."""
    x = np.asarray(x, dtype=np.float64)
    return last_window_std(x[:-1], n) if len(x) > n else math.nan


def safe_quotient(x: float, by: float) -> float:
    """``safe_divide`` on Python floats: x / by, NaN where ``by`` is 0 or NaN."""
    return x / by if by != 0.0 else math.nan


def ieee_quotient(x: float, by: float) -> float:
    """x / by with numpy's IEEE semantics (± inf for a nonzero x over a zero, NaN for 0 / 0), where Python's
    ``/`` raises ``ZeroDivisionError``."""
    if by != 0.0:
        return x / by
    if x == 0.0 or x != x:
        return math.nan
    return math.copysign(math.inf, x) * math.copysign(1.0, by)
