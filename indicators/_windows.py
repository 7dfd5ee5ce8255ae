"""Fast window-exact sums, means, standard deviations and extremes over a trailing window of bars.

Same contract as :mod:`indicators._rolling` (value at t from ``x[t-n+1 .. t]`` only, combined in an order
fixed relative to t, so any slice that holds the window gives the same float, bit for bit; NaN for
``t < n-1`` and for windows holding a NaN), at a fraction of the cost:

- sums use a binary tree relative to the window's start: ``P_k[i] = sum(x[i : i + 2^k])`` is built by
  doubling (``P_(k+1)[i] = P_k[i] + P_k[i + 2^k]``) and the window of n is the sum of the ``P_k`` pieces
  of n's binary digits, so a window sum costs about ``log2(n) + popcount(n)`` vector additions instead of n;
- maxima and minima use the same doubling (a sparse table): two overlapping power-of-two pieces;
- everything runs in chunks of 32,768 bars so the intermediate levels stay in cache.

Measured on 1M bars (2-core container, numpy 2): window sum 4-5 ms for n = 20 or 100 against 40-45 ms for
``_rolling.rolling_sum``; standard deviation 12-15 ms against 90-110 ms, and against ~1 s on a spread series
that is constant for long stretches (MT5 spreads), where ``rolling_std`` sends every window to its two-pass
path. The tree also rounds less than a left-to-right sum (error grows with log2(n), not n).

The standard deviation is exactly 0 on a constant window (counted with integers, so exactly), where the
textbook ``S2 - S1^2/n`` leaves ~1e-17 of rounding noise that would turn ``x / std`` into garbage.

PRIVATE, written for the volume, spread and order-flow indicators; a candidate to fold into ``_rolling``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from indicators._rolling import lag

__all__ = ["preceding_mean", "preceding_std", "window_max", "window_mean", "window_min", "window_std", "window_sum"]

_CHUNK = 1 << 15  # bars per chunk: the doubling levels of one chunk stay in L2 (4 ms vs 16 ms unchunked)
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
            w = windows[rows]
            d = w - w.mean(axis=1, keepdims=True)
            var[rows] = (d * d).sum(axis=1) / n
    return np.sqrt(var)


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
    for a in range(0, m - n + 1, _CHUNK):
        b = min(a + _CHUNK, m - n + 1)
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
