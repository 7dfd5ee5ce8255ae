"""Market structure on M1 bars: swing pivots, liquidity sweeps, equal highs/lows, CHOCH and micro order blocks.

These are the patterns of the plan's location layer ("liquidity cluster / equal highs/lows", "clean M1 OB
zone") and candle checklist ("micro liquidity sweep", "OB retest", "fresh micro-CHOCH"). Traders argue about
their exact definitions, so every docstring states which bars are compared and whether a comparison is
strict.

Conventions shared by the whole module:

- **Causal.** A swing pivot at bar p needs ``right`` later bars to be known; it is reported at its
  *confirmation* bar p + right, never at p. Every "most recent ..." is bounded by a window parameter
  (``within``, ``window``, ``expire``) so the value at t reads a fixed number of bars and is window-exact.
- **One side written once.** Each pattern is implemented for one side and its mirror is the same code on
  negated prices (p -> -p swaps high and low and is exact in floating point), so ``bullish_x`` and
  ``bearish_x`` cannot drift apart. Tolerances and zone edges are compared as price *differences*
  (``top - high <= tol``, ``top - close > height``), which an exact reflection p -> C - p leaves bit for bit
  unchanged, so mirrored rules give identical booleans, not merely close ones.
- **ATR.** Sizes are measured in ATR = mean(true range) over ``atr_period`` bars (the plan's "ATR(1)" is the
  M1 ATR), true range TR[t] = max(high[t], close[t-1]) - min(low[t], close[t-1]) and high - low on the first
  bar, so ATR is defined from bar atr_period - 1 and its lookback is atr_period. ``_atr`` below is a private
  copy kept to avoid a dependency race with ``indicators.volatility``; its ``atr(method="sma")`` has the same
  definition (it sums in another order, so the last bits may differ; on the bundled XAUUSD sample they do
  not) and is ~3x faster (13 vs 42 ns/bar on 1M bars): swap it in when deduplicating. Both sides of a
  pattern read one ATR (``_side_atr``): on negated prices it is the same float unless it is 0 or NaN.
- **Fast small windows.** ``_window_max`` computes max(x[t-k+1 .. t]) by doubling (ceil(log2 k) shifted
  maxima, exact since max is exact): 3-5x faster than ``_rolling.rolling_max`` for the k <= 50 windows used
  here (measured on 1M bars: ~8 vs ~30 ns/bar at k = 10). A candidate for ``_rolling``.
- **Newest-bar twins.** Every indicator here has a ``@last_value`` twin for the live evaluator: the value at
  the newest bar, bit for bit, on plain Python floats (see the section at the end). A change to an array
  function's float operations must be mirrored there; ``tests/indicators/test_last_values.py`` catches a
  twin that drifts. Swapping ``_atr`` for ``volatility.atr`` would change the order of the ATR sums, which
  ``_AtrWindow`` follows (with ``_rolling.tree_sum``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import accumulate, compress, repeat
from operator import ge, gt, itemgetter, le, lt
from typing import Any, Literal

import numpy as np

from indicators import _rolling as r
from indicators._registry import indicator, last_value
from indicators._shared import shared

__all__ = [
    "bearish_choch",
    "bearish_ob_bottom",
    "bearish_ob_retest",
    "bearish_ob_top",
    "bearish_sweep",
    "bullish_choch",
    "bullish_ob_bottom",
    "bullish_ob_retest",
    "bullish_ob_top",
    "bullish_sweep",
    "equal_highs",
    "equal_highs_level",
    "equal_lows",
    "equal_lows_level",
    "in_bearish_ob",
    "in_bullish_ob",
    "last_swing_high",
    "last_swing_low",
    "swing_high",
    "swing_low",
]


# -- private helpers ----------------------------------------------------------------------------------------
#
# "Last event" bookkeeping avoids np.maximum.accumulate over bar indices (~9 ns/bar on 1M bars, it does not
# vectorise): the value of the last event is np.repeat of per-event values over the runs between events
# (~2.5 ns/bar), and "an event in the last w bars" is count[t] > count[t-w] on an int32 cumsum (two shifted
# views, ~1 ns/bar). Both stay window-exact: a slice shifts every count by the same constant and only
# differences of counts are compared.

_BLOCK = 1 << 14  # bars per block for loops that make many passes over the same bars (fits the L2 cache)
_TOUCH_CELLS = 1 << 18  # (age, bar) cells per block of _equal_tops (256 KB of touches: in the L2 cache)
_THRESHOLD_WINDOW = 16  # from this window on, _equal_tops compares with _touch_threshold (see there)
_NUDGES = 4  # np.nextafter steps tried per bar by _touch_threshold before the test as written
_DIRECT = 8  # up to this many neighbours, compare shifted views one by one (no temporaries)
_ObOutput = Literal["top", "bottom", "retest", "in_zone"]


def _f64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


@shared  # the bearish patterns of one evaluation read the same mirrored prices, so they can share results too
def _negated(x: np.ndarray) -> np.ndarray:
    """-x as float64: the price series reflected through 0 (exact)."""
    return -_f64(x)


def _shift(x: np.ndarray, k: int, fill: float | int) -> np.ndarray:
    """x[t-k], ``fill`` for t < k (k >= 0)."""
    out = np.empty_like(x)
    k = min(k, len(x))
    out[:k] = fill
    out[k:] = x[: len(x) - k]
    return out


def _window_max(x: np.ndarray, k: int) -> np.ndarray:
    """max(x[t-k+1 .. t]); NaN for t < k-1 and for windows holding a NaN (window-exact, exact)."""
    m = _f64(x)
    width = 1
    while width < k:  # after each step m[t] = max(x[t-width+1 .. t])
        step = min(width, k - width)  # doubling, then one overlapping step to land exactly on k
        nxt = np.empty_like(m)
        nxt[:step] = m[:step]
        np.maximum(m[step:], m[:-step], out=nxt[step:])
        m, width = nxt, width + step
    m = m.copy() if m is x else m
    m[: k - 1] = np.nan
    return m


@shared  # order blocks and equal highs/lows of one evaluation share it
def _atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Simple ATR: rolling_mean(TR, period), NaN for t < period - 1; lookback = period (TR reads close[t-1]).

    TR[0] = high[0] - low[0], the convention of ``volatility.atr(method="sma")``, so that swapping this
    helper for it changes nothing but the last bits (its window sums add in another order).
    """
    high, low, close = _f64(high), _f64(low), _f64(close)
    prev = _shift(close, 1, np.nan)
    tr = np.maximum(high, prev) - np.minimum(low, prev)
    tr[:1] = high[:1] - low[:1]
    return r.rolling_mean(tr, period)


def _side_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, *, down: bool) -> np.ndarray:
    """``_atr`` of one side's prices: of (high, low, close), or of (-low, -high, -close) when ``down``.

    The mirrored ATR is the same float wherever it is neither zero nor NaN: each true range
    max(-low, -c) - min(-high, -c) has the same real value as max(high, c) - min(low, c), so it rounds alike,
    and only the sign of a zero (or of a NaN) can differ, which changes no nonzero sum. So the bearish
    patterns reuse the bullish ATR (one ~8 ms per 1M bars pass fewer per side, measured) unless some
    ATR after the warm-up is not positive, where the negated prices get their own.
    """
    atr = _atr(_f64(high), _f64(low), _f64(close), period)
    if not down or bool((atr[period - 1:] > 0).all()):
        return atr
    return _atr(_negated(low), _negated(high), _negated(close), period)


def _count(cond: np.ndarray) -> np.ndarray:
    """Number of true bars at or before t (int32; int64 past 2**31 bars)."""
    return np.cumsum(cond, dtype=np.int32 if len(cond) < 2**31 - 1 else np.int64)


def _lagged(count: np.ndarray, k: int) -> np.ndarray:
    """count[t-k] as a same-length array, 0 before the start (a shifted copy, no gather)."""
    return _shift(count, k, 0)


def _per_event(values: np.ndarray, at: np.ndarray, n: int, back: int = 0,
               fill: float | int = np.nan) -> np.ndarray:
    """values[i] of the ``back``-th last event at or before t (0 = the last), ``fill`` where there is none.

    ``at`` holds the bar of each event (sorted, each in 0 .. n; n means "after the last bar"), ``values`` one
    entry per event.
    """
    ext = np.concatenate([np.full(back + 1, fill, dtype=values.dtype), values])[: len(at) + 1]
    runs = np.empty(len(at) + 2, dtype=np.result_type(at.dtype, np.int64))  # np.diff(at, prepend=0, append=n),
    runs[0], runs[1:-1], runs[-1] = 0, at, n  # without its generic prepend/append path (~3x the cost here)
    return np.repeat(ext, runs[1:] - runs[:-1])


def _pivot_confirmed(x: np.ndarray, left: int, right: int) -> np.ndarray:
    """True at t = p + right when x[p] > max(x[p-left .. p-1]) and x[p] >= max(x[p+1 .. p+right])."""
    x = _f64(x)
    n = len(x)
    out = np.zeros(n, dtype=bool)
    if n <= left + right:
        return out
    pivot = x[left: n - right]  # candidate pivots p = left .. n-right-1; NaN compares False
    ok = np.ones(len(pivot), dtype=bool)
    if left <= _DIRECT:
        for i in range(1, left + 1):
            ok &= pivot > x[left - i: n - right - i]
    else:
        ok &= pivot > _window_max(x, left)[left - 1: n - right - 1]
    if right <= _DIRECT:
        for j in range(1, right + 1):
            ok &= pivot >= x[left + j: n - right + j]
    else:
        ok &= pivot >= _window_max(x, right)[left + right:]
    out[left + right:] = ok
    return out


def _recent_level(x: np.ndarray, left: int, right: int, within: int) -> np.ndarray:
    """x[c - right] for the last pivot confirmation c of x in [t - within, t], NaN if none."""
    x = _f64(x)
    conf = _pivot_confirmed(x, left, right)
    at = np.flatnonzero(conf)
    count = _count(conf)
    level = _per_event(x[at - right], at, len(x))
    return np.where(count > _lagged(count, within + 1), level, np.nan)


def _sweep_above(high: np.ndarray, close: np.ndarray, lookback: int) -> np.ndarray:
    """high[t] > max(high[t-lookback .. t-1]) and close[t] < that max."""
    high, close = _f64(high), _f64(close)
    ref = _shift(_window_max(high, lookback), 1, np.nan)
    return (high > ref) & (close < ref)


def _touch_threshold(top: np.ndarray, tol: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(thr, exact): per bar t the least float thr[t] with fl(top[t] - thr[t]) <= tol[t], so that the touch
    test ``top - h <= tol`` is ``h >= thr`` for every price h of the window (one comparison instead of a
    subtraction and a comparison), and the bars where the test must still be made as written (``exact``).

    h -> fl(top - h) is non-increasing (rounding is monotone), so for finite top and tol the touching floats
    are those at or above one float. c = fl(top - tol) lands on it or next to it when tol << top: it is thr
    when c touches and the float below it does not, the float above it when that one touches and c does not
    (measured on XAUUSD M1: half the bars, never further). The neighbours are one step of the float's bit
    pattern (sign-magnitude: +1 moves away from zero), cheaper than np.nextafter (~1 vs ~7 ms per 1M bars).
    Other bars (a NaN, zero or infinite c; tol of the order of top) are nudged with np.nextafter up to
    ``_NUDGES`` times. h = -inf agrees as well (fl(top + inf) = inf > tol and -inf < thr). A NaN top or tol
    touches nothing: thr is NaN. Bars with an infinite top or tol, or whose nudge does not settle, are returned
    in ``exact``.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        thr = top - tol
        bits = thr.view(np.int64)
        # branch-free and in place (np.where / copyto(where=) on a 50/50 mask cost ~6 ms per 1M bars each,
        # and every fresh temporary ~0.5 ms in page faults, measured)
        step = np.right_shift(bits, 63)
        step |= 1  # +1 for a positive float, -1 for a negative one: one bit step away from zero
        scratch = np.subtract(top, thr)
        ok = np.less_equal(scratch, tol)  # c touches
        m = np.negative(ok.view(np.uint8), dtype=np.int64)  # -1 where c touches, 0 where not
        step ^= m
        step -= m  # -away (to the float below c) where c touches, +away (above) where not
        near = np.add(bits, step, out=scratch.view(np.int64)).view(np.float64)
        settled = np.less_equal(np.subtract(top, near, out=near), tol)
        settled ^= ok  # the neighbour answers the other way: thr is c or it
        settled &= np.not_equal(thr, 0, out=ok)  # a zero's neighbours are not one bit step away
        np.invert(m, out=m)
        step &= m
        bits += step  # c where it touches, the float above where not
        np.logical_not(settled, out=settled)
        todo = np.flatnonzero(settled)
        if len(todo) == 0:
            return thr, todo
        tp, tl = top[todo], tol[todo]
        c = tp - tl
        nan = np.isnan(tp) | np.isnan(tl)
        thr[todo[nan]] = np.nan  # touches nothing
        exact = todo[np.isinf(tp) | np.isinf(tl)]
        keep = np.isfinite(c)
        todo, c, tp, tl = todo[keep], c[keep], tp[keep], tl[keep]
        for _ in range(_NUDGES):
            below = np.nextafter(c, -np.inf)
            up = ~(tp - c <= tl)  # c does not touch: the threshold is higher
            down = tp - below <= tl  # the float below c touches too: the threshold is lower
            move = up | down
            thr[todo[~move]] = c[~move]
            c = np.where(down, below, np.nextafter(c, np.inf))[move]
            todo, tp, tl = todo[move], tp[move], tl[move]
            if len(todo) == 0:
                break
    return thr, np.union1d(exact, todo)


@shared  # equal_highs and equal_highs_level (and the lows) of one evaluation share it
def _equal_tops(high: np.ndarray, atr: np.ndarray, *, window: int, min_touches: int,
                tolerance_atr: float) -> tuple[np.ndarray, np.ndarray]:
    """(flag, level) of the equal-highs cluster at the top of the last ``window`` bars (see ``equal_highs``),
    given the ATR of the side (``_side_atr``).

    The touch test top - high <= tol reads price differences only (exact under price reflection). From
    ``_THRESHOLD_WINDOW`` bars on it is made as high >= thr with ``_touch_threshold``, the same booleans for
    one comparison per (bar, age) instead of a subtraction and a comparison; the threshold costs ~4 ms per 1M
    bars, which the saved subtractions repay from a window of ~16 (measured on XAUUSD M1: 3 -> 19, 7 -> 17,
    14 -> 21, 20 -> 19 ms per 1M bars with the threshold, 8, 13, 19, 24 without). Below, the test as written.
    """
    high = _f64(high)
    n = len(high)
    top = _window_max(high, window)  # NaN for t < window - 1: no touches there
    tol = tolerance_atr * atr
    direct = window < _THRESHOLD_WINDOW
    if direct:
        thr, exact = top, np.empty(0, dtype=np.intp)
    else:
        thr, exact = _touch_threshold(top, tol)
    # Blocks of bars keep the passes in the L2 cache. In a block of b bars, row r of the (window, b) view
    # ``ages`` holds high[t - window + 1 + r] (oldest first; a strided view, no copy), so one comparison
    # with thr gives every touch, and a visit (a run of consecutive touching bars) is counted at its first
    # bar: a touch in row 0, or in row r and not in row r - 1. The run starts are found and summed on the
    # touches viewed as uint64, 8 bars per lane (0/1 bytes: t & ~prev is bytewise, and a byte sums at most
    # ceil(window / 2) <= 50 starts, so no carry reaches the next bar): 8x fewer elements than on bools, ~3x
    # faster (measured). Four or five ufunc calls per block, where a loop over the ages made three or four
    # per age; the last block is padded (NaN prices, thresholds and tolerances: no touches) so that every
    # block is whole.
    block = max(_BLOCK // 16, _TOUCH_CELLS // window) // 8 * 8
    n_blocks = -(-(n - window + 1) // block) if n >= window else 0
    touch = np.empty((window, block), dtype=bool)
    lanes = touch.view(np.uint64)
    first = np.empty((window - 1, block // 8), dtype=np.uint64)
    counts = np.empty((n_blocks, block // 8), dtype=np.uint64)
    diff = np.empty((window, block)) if direct else None
    for j in range(n_blocks):
        lo = j * block  # bars t = lo + window - 1 .. lo + window - 2 + block
        prices, thresholds, tols = high[lo:], thr[lo + window - 1:], tol[lo + window - 1:]
        if len(thresholds) < block:  # the last block: padded
            pad = np.full(block - len(thresholds), np.nan)
            prices, thresholds, tols = (np.concatenate([x, pad]) for x in (prices, thresholds, tols))
        step = prices.strides[0]
        ages = np.lib.stride_tricks.as_strided(prices, shape=(window, block), strides=(step, step),
                                               writeable=False)
        if direct:  # the test as written: top - high <= tol (thresholds holds top)
            np.less_equal(np.subtract(thresholds[:block], ages, out=diff), tols[:block], out=touch)
        else:
            np.greater_equal(ages, thresholds[:block], out=touch)
        np.invert(lanes[:-1], out=first)
        first &= lanes[1:]
        np.add.reduce(first, axis=0, out=counts[j])
        counts[j] += lanes[0]
    visits = np.zeros(n, dtype=np.uint8)
    visits[window - 1:] = counts.view(np.uint8).ravel()[: n - window + 1]
    for i in exact:  # the rare bars whose test is not one comparison: the test as written
        if i >= window - 1:
            hits = top[i] - high[i - window + 1: i + 1] <= tol[i]
            visits[i] = hits[0] + np.count_nonzero(hits[1:] > hits[:-1])
    flag = visits >= min_touches
    return flag, np.where(flag, top, np.nan)


def _equal_side(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, down: bool, window: int,
                min_touches: int, tolerance_atr: float, atr_period: int) -> tuple[np.ndarray, np.ndarray]:
    """``_equal_tops`` of the highs, or of the lows on negated prices when ``down`` (its level negated)."""
    atr = _side_atr(high, low, close, atr_period, down=down)
    return _equal_tops(_negated(low) if down else high, atr, window=window, min_touches=min_touches,
                       tolerance_atr=tolerance_atr)


@shared  # both CHOCH sides of one evaluation read the same swings
def _swing_bars(high: np.ndarray, low: np.ndarray, left: int, right: int) -> tuple[np.ndarray, np.ndarray]:
    """Confirmation bars of the swing highs and of the swing lows (``swing_high`` / ``swing_low``)."""
    high, low = _f64(high), _f64(low)
    return np.flatnonzero(_pivot_confirmed(high, left, right)), np.flatnonzero(_pivot_confirmed(-low, left, right))


def _choch(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, down: bool, left: int, right: int,
           within: int) -> np.ndarray:
    """Bullish CHOCH on (high, low, close); when ``down``, the bearish one, i.e. the bullish rules on
    (-low, -high, -close), read on the original prices: -a < -b is b < a, so every comparison below is the
    one on negated prices with its operands swapped, and both sides share the swings (``_swing_bars``).

    The rules only hold at the first close beyond a breaking swing B_k (swing highs; lows when down) on the
    bars c_k .. c_{k+1} - 1 from its confirmation to the next one, so they are tested there only: per
    swing, not per bar. That bar is the first bar >= c_k whose close is beyond the level of its own bar (the
    last B's price, spread over the bars; a bar in p .. c_k cannot close beyond its pivot), found by a
    binary search among those bars. Then "the last two B and the last two S (the other kind) confirmed in
    [t - within, t]" is c_{k-1} >= t - within and the same for the S before t, and the lower high / lower
    low compare the prices of those swings. Measured against per-bar counts and four per-event spreads:
    ~1.3x faster alone, ~1.6x for the second side of an evaluation (its swings are shared).
    """
    high, low, close = _f64(high), _f64(low), _f64(close)
    n = len(close)
    sh_at, sl_at = _swing_bars(high, low, left, right)
    if down:  # breaking swings: the lows; "beyond" is below; lower highs on negated prices are higher lows
        b_at, s_at, b_price, s_price, beyond = sl_at, sh_at, low[sl_at - right], high[sh_at - right], np.less
    else:
        b_at, s_at, b_price, s_price, beyond = sh_at, sl_at, high[sh_at - right], low[sl_at - right], np.greater
    out = np.zeros(n, dtype=bool)
    if len(b_at) < 2 or len(s_at) < 2:
        return out
    beyond_bars = np.flatnonzero(beyond(close, _per_event(b_price, b_at, n)))  # NaN level: never beyond
    first = np.searchsorted(beyond_bars, b_at)  # the first such bar at or after each c_k
    k = np.flatnonzero(first < len(beyond_bars))
    k = k[k >= 1]
    t = beyond_bars[first[k]]
    nxt = np.append(b_at, n)[k + 1]
    keep = (t < nxt) & (t - b_at[k - 1] <= within) & beyond(b_price[k - 1], b_price[k])  # lower high
    k, t = k[keep], t[keep]
    j = np.searchsorted(s_at, t, side="right") - 1  # the last S confirmed at or before t
    keep = j >= 1
    k, t, j = k[keep], t[keep], j[keep]
    keep = (s_at[j - 1] >= t - within) & beyond(s_price[j - 1], s_price[j])  # lower low
    out[t[keep]] = True
    return out


def _zone_end(close: np.ndarray, F: np.ndarray, top_f: np.ndarray, height_f: np.ndarray, expire: int) -> np.ndarray:
    """Per zone, the first bar j in f+1 .. f+expire with top - close[j] > height (a close below the bottom),
    else f + expire + 1; an exclusive end.

    The closes after each f are read as rows of a sliding window over the closes padded with NaN (a NaN
    depth compares False, like a bar past the end): contiguous row copies instead of a 2-D gather through
    an index array (measured on real XAUUSD bars in 2^17-bar chunks: ~8 vs ~11.5 ms per 1M bars).
    """
    end = F + expire + 1
    padded = np.concatenate([close, np.full(expire, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, expire)  # windows[f + 1] = close[f+1 .. f+expire]
    rows = max(1, (1 << 18) // expire)  # zones per block: bounds the (zones x expire) temporaries
    for lo in range(0, len(F), rows):  # a loop over blocks of zones, not over bars
        depth = top_f[lo: lo + rows, None] - windows[F[lo: lo + rows] + 1]
        hit = depth > height_f[lo: lo + rows, None]
        first = hit.argmax(axis=1)
        found = hit[np.arange(len(first)), first]
        end[lo: lo + rows][found] = F[lo: lo + rows][found] + 1 + first[found]
    return end


def _latest_alive(start: np.ndarray, at: np.ndarray, F: np.ndarray, end: np.ndarray, expire: int) -> np.ndarray:
    """For each bar ``at[i]``, the largest zone z <= ``start[i]`` still active there (end[z] > at[i]), -1 if
    none. Zones formed more than ``expire`` bars before are dead by definition, so the walk back, one zone per
    step for the bars still looking, ends after at most ``expire`` steps (usually one or two)."""
    out = np.full(len(at), -1, dtype=np.intp)
    idx = np.arange(len(at))
    z = start.astype(np.intp)
    for _ in range(expire + 1):
        keep = z >= 0
        idx, z = idx[keep], z[keep]
        t = at[idx]
        keep = F[z] >= t - expire
        idx, z, t = idx[keep], z[keep], t[keep]
        if not len(idx):
            break
        alive = end[z] > t
        out[idx[alive]] = z[alive]
        idx, z = idx[~alive], z[~alive] - 1
    return out


@shared  # the four outputs of one side share the zones
def _order_block_zones(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray, *,
                       lookback: int, impulse_atr: float, zone_min_atr: float, zone_max_atr: float,
                       zone_min_pct: float, zone_max_pct: float, atr_period: int, expire: int,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bullish micro order blocks (see ``bullish_ob_top`` for the rules), given ATR (``_side_atr``): per
    bar the top and height of the zone reported there (NaN: none); the formation bars and, at each, the top
    of the zone active before it (for the retest, which never reads the zone formed on its own bar)."""
    if zone_min_atr > zone_max_atr or zone_min_pct > zone_max_pct:
        raise ValueError("zone_min_atr/zone_min_pct must not exceed zone_max_atr/zone_max_pct")
    open_, high, low, close = _f64(open_), _f64(high), _f64(low), _f64(close)
    n = len(close)

    # b = t - age: the most recent bearish candle among t-lookback .. t-1 (age 0: none); bar t itself must
    # not be bearish. Oldest first, so nearer bearish candles overwrite (lookback <= 10 shifted views;
    # branch-free arithmetic: np.copyto(..., where=) is ~20x slower on these random masks, measured).
    bearish = close < open_
    age = np.zeros(n, dtype=np.int8)
    for k in range(min(lookback, n - 1), 0, -1):  # age = k where bar t-k is bearish
        age[k:] += bearish[:-k] * (np.int8(k) - age[k:])
    # impulse_atr * ATR while ATR is defined; in the warm-up (NaN ATR) the comparison is False, so only a
    # strict close above high[b] is required. close > high[b] is tested per age k as close[t] > high[t-k]
    # (k <= lookback shifted views, no per-bar gather), the same booleans as close - high[b] > 0: a float
    # difference is positive exactly when the first operand is larger (NaN and inf - inf compare False)
    impulse = np.zeros(n, dtype=bool)
    for k in range(1, min(lookback, n - 1) + 1):
        above = np.greater(close[k:], high[:-k])
        above &= age[k:] == k
        impulse[k:] |= above
    impulse &= ~bearish
    cand = np.flatnonzero(impulse)  # few bars (~10%): the gain, the ATR test and the formation test there only
    gain = close[cand] - high[cand - age[cand]]  # close - high[b] > 0
    ok = ~(gain < impulse_atr * atr[cand])
    cand = cand[ok]
    # formation: the first impulse bar after b; an impulse at t-k was against the same b when b < t-k
    impulse[:] = False
    impulse[cand] = True
    cand_age = age[cand]
    formed = np.ones(len(cand), dtype=bool)
    for k in range(1, lookback):
        earlier = np.maximum(cand - k, 0)
        formed &= ~(impulse[earlier] & (cand >= k) & (cand_age > k))
    F = cand[formed]

    # the zones, one per formation bar f: top = high[b], height = range of b clamped to [min, max] x ATR[f]
    b_f = F - age[F]
    top_f = high[b_f]
    atr_f = atr[F]
    use_pct = np.isnan(atr_f)
    h_min = np.where(use_pct, zone_min_pct * np.abs(top_f), zone_min_atr * atr_f)
    h_max = np.where(use_pct, zone_max_pct * np.abs(top_f), zone_max_atr * atr_f)
    height_f = np.minimum(np.maximum(top_f - low[b_f], h_min), h_max)
    end = _zone_end(close, F, top_f, height_f, expire)

    # The zone reported at t is the most recently formed one active there, max{z: f_z <= t < end_z}; that set
    # only changes where a zone forms or dies, so it is found at those events (a few % of the bars, by
    # ``_latest_alive``) and spread over the bars between them (``_per_event``), which also gives the
    # outputs' top and height without a per-bar gather (about the cost of the former dense step plus walk,
    # ~12 ms per 1M bars, measured). At a formation bar f_w the zone is w; at a death bar the walk starts at
    # the latest zone formed so far.
    events = np.concatenate([F, end[end < n]])
    events.sort()  # a bar both forming and ending zones appears twice, with the same zone: harmless
    m = len(events)
    # one walk for the events and, at each formation bar f_w, the zone before it (the latest zone formed
    # before f_w still active there, for the retest): half the small numpy calls of two walks (measured)
    start = np.concatenate([np.searchsorted(F, events, side="right") - 1, np.arange(-1, len(F) - 1)])
    zone = _latest_alive(start, np.concatenate([events, F]), F, end, expire)
    top_z, height_z = np.append(top_f, np.nan), np.append(height_f, np.nan)  # index -1 (none): NaN
    top = _per_event(top_z[zone[:m]], events, n)
    height = _per_event(height_z[zone[:m]], events, n)
    prior_top = top_z[zone[m:]]
    return top, height, F, prior_top


def _order_block_up(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                    output: _ObOutput, atr: np.ndarray | None = None, **params: Any) -> np.ndarray:
    """One output of the bullish micro order blocks (see ``bullish_ob_top`` for the rules); ``atr`` defaults
    to the ATR of these prices."""
    if atr is None:
        atr = _atr(_f64(high), _f64(low), _f64(close), params["atr_period"])
    top, height, F, prior_top = _order_block_zones(open_, high, low, close, atr, **params)
    low, close = _f64(low), _f64(close)
    if output == "retest":  # the zone formed before t; active at t already means close[t] >= bottom
        retest = low <= top
        retest[F] = low[F] <= prior_top
        return retest
    if output == "top":
        return top.copy()
    if output == "bottom":
        return top - height
    # in the zone; as differences from the top (exact under price reflection); NaN (no zone) compares False
    below_top = top - close
    inside = below_top >= 0
    inside &= below_top <= height
    return inside


def _order_block_down(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                      output: _ObOutput, **params: Any) -> np.ndarray:
    """One output of the bearish order blocks: the bullish rules on negated prices (top and bottom swap)."""
    flipped = {"top": "bottom", "bottom": "top"}.get(output, output)
    atr = _side_atr(high, low, close, params["atr_period"], down=True)
    value = _order_block_up(_negated(open_), _negated(low), _negated(high), _negated(close), output=flipped,
                            atr=atr, **params)
    return -value if value.dtype == np.float64 else value


# -- swings -------------------------------------------------------------------------------------------------

_SWING_BOUNDS = {"left": (1, 50), "right": (1, 50)}
_LAST_SWING_BOUNDS = {**_SWING_BOUNDS, "within": (1, 5000)}


@indicator(inputs=("high",), output="boolean", lookback=lambda p: p["left"] + p["right"], bounds=_SWING_BOUNDS,
           mirror="swing_low")
def swing_high(high: np.ndarray, *, left: int = 2, right: int = 2) -> np.ndarray:
    """A swing high was confirmed at this bar: the bar ``right`` bars ago is a pivot high.

    WHY: swing pivots are the skeleton of market structure (CHOCH, liquidity above highs). A pivot is only
    known once ``right`` bars have printed after it, so it is reported at that confirmation bar; reporting it at
    the pivot bar would look into the future.

    DEFINITION, with p = t - right:
        high[p] >  high[p-i]  for every i = 1 .. left    (strict: a plateau is not a pivot from its right end)
        high[p] >= high[p+j]  for every j = 1 .. right   (non-strict: an equal high after the pivot keeps it)
    So a flat top of equal highs yields exactly one pivot, at its first bar. False while fewer than
    left + right + 1 bars exist.
    """
    return _pivot_confirmed(high, left, right)


@indicator(inputs=("low",), output="boolean", lookback=lambda p: p["left"] + p["right"], bounds=_SWING_BOUNDS,
           mirror="swing_high")
def swing_low(low: np.ndarray, *, left: int = 2, right: int = 2) -> np.ndarray:
    """A swing low was confirmed at this bar: the bar ``right`` bars ago is a pivot low.

    WHY: the mirror of ``swing_high``; reported at the confirmation bar p + right, never at the pivot p.

    DEFINITION, with p = t - right:
        low[p] <  low[p-i]  for every i = 1 .. left     (strict)
        low[p] <= low[p+j]  for every j = 1 .. right    (non-strict; a flat bottom pivots at its first bar)
    """
    return _pivot_confirmed(-_f64(low), left, right)


@indicator(inputs=("high",), output="number", lookback=lambda p: p["within"] + p["left"] + p["right"],
           bounds=_LAST_SWING_BOUNDS, mirror="last_swing_low", mirror_kind="reflect")
def last_swing_high(high: np.ndarray, *, left: int = 2, right: int = 2, within: int = 60) -> np.ndarray:
    """Price of the most recent confirmed swing high, if it was confirmed within the last ``within`` bars.

    WHY: the nearest resistance the market has actually shown, for stops, targets and breaks.

    DEFINITION: let c be the last bar <= t where ``swing_high(left, right)`` is true; the value is
    high[c - right] (the pivot's high) when t - c <= within, NaN otherwise. The window counts from the
    confirmation bar, so the pivot itself may be up to within + right bars old.
    """
    return _recent_level(high, left, right, within)


@indicator(inputs=("low",), output="number", lookback=lambda p: p["within"] + p["left"] + p["right"],
           bounds=_LAST_SWING_BOUNDS, mirror="last_swing_high", mirror_kind="reflect")
def last_swing_low(low: np.ndarray, *, left: int = 2, right: int = 2, within: int = 60) -> np.ndarray:
    """Price of the most recent confirmed swing low, if it was confirmed within the last ``within`` bars.

    WHY: the nearest support the market has actually shown.

    DEFINITION: let c be the last bar <= t where ``swing_low(left, right)`` is true; the value is low[c - right]
    when t - c <= within, NaN otherwise.
    """
    return -_recent_level(-_f64(low), left, right, within)


# -- liquidity sweeps ---------------------------------------------------------------------------------------

_SWEEP_BOUNDS = {"lookback": (2, 100)}


@indicator(inputs=("low", "close"), output="boolean", lookback=lambda p: p["lookback"], bounds=_SWEEP_BOUNDS,
           mirror="bearish_sweep")
def bullish_sweep(low: np.ndarray, close: np.ndarray, *, lookback: int = 10) -> np.ndarray:
    """Micro liquidity sweep of the lows: the bar takes out the recent low and closes back above it.

    WHY: the plan's primary trigger "M1 LL taken & rejected": stops below a local low are run and price
    returns inside the range, trapping breakout sellers.

    DEFINITION, with m = min(low[t-lookback .. t-1]) (the ``lookback`` bars before t, t excluded):
        low[t] < m  and  close[t] > m      (both strict: touching the low is not a sweep, closing at it is
                                            not a rejection)
    A bar that breaks m and closes below it is a breakdown, not a sweep. Only the sweep bar is flagged;
    wick size or volume confirmation compose in the rule (``and lower_wick_ratio >= 1.5``,
    ``and volume_spike``).
    """
    return _sweep_above(-_f64(low), -_f64(close), lookback)


@indicator(inputs=("high", "close"), output="boolean", lookback=lambda p: p["lookback"], bounds=_SWEEP_BOUNDS,
           mirror="bullish_sweep")
def bearish_sweep(high: np.ndarray, close: np.ndarray, *, lookback: int = 10) -> np.ndarray:
    """Micro liquidity sweep of the highs: the bar takes out the recent high and closes back below it.

    WHY: the plan's "M1 HH taken & rejected", the mirror of ``bullish_sweep``.

    DEFINITION, with m = max(high[t-lookback .. t-1]) (t excluded):
        high[t] > m  and  close[t] < m     (both strict)
    """
    return _sweep_above(high, close, lookback)


# -- equal highs / lows -------------------------------------------------------------------------------------

_EQUAL_BOUNDS = {"window": (3, 100), "min_touches": (2, 10), "tolerance_atr": (0.0, 5.0),
                 "atr_period": (1, 500)}


def _equal_lookback(p: dict) -> int:
    return max(p["window"] - 1, p["atr_period"])


@indicator(inputs=("high", "low", "close"), output="boolean", lookback=_equal_lookback, bounds=_EQUAL_BOUNDS,
           mirror="equal_lows")
def equal_highs(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, window: int = 20, min_touches: int = 2,
                tolerance_atr: float = 0.1, atr_period: int = 14) -> np.ndarray:
    """An untaken cluster of equal highs sits at the top of the last ``window`` bars.

    WHY: resting buy stops collect just above equal highs; the plan's location layer wants price "at a
    liquidity cluster". Only the cluster at the *top* of the window counts: a cluster that price has since
    traded above (by more than the tolerance) has been swept and holds no liquidity any more.

    DEFINITION over the window W = bars t-window+1 .. t (t included):
        level = max(high over W)
        tol   = tolerance_atr * ATR[t]          (ATR over ``atr_period`` bars; see the module notes)
        a bar i in W touches when level - high[i] <= tol      (non-strict; the bar at the level touches)
        a visit is a maximal run of consecutive touching bars (two adjacent bars at the same high are one
        visit, a tweezer top, not two separated tests of the level)
        equal_highs = (number of visits in W) >= min_touches
    False while ATR is undefined (the first ``atr_period - 1`` bars). ``equal_highs_level`` gives the level.
    """
    return _equal_side(high, low, close, down=False, window=window, min_touches=min_touches,
                       tolerance_atr=tolerance_atr, atr_period=atr_period)[0]


@indicator(inputs=("high", "low", "close"), output="boolean", lookback=_equal_lookback, bounds=_EQUAL_BOUNDS,
           mirror="equal_highs")
def equal_lows(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, window: int = 20, min_touches: int = 2,
               tolerance_atr: float = 0.1, atr_period: int = 14) -> np.ndarray:
    """An untaken cluster of equal lows sits at the bottom of the last ``window`` bars.

    WHY: sell stops collect below equal lows; the mirror of ``equal_highs``.

    DEFINITION over W = bars t-window+1 .. t: level = min(low over W); bar i touches when
    low[i] - level <= tolerance_atr * ATR[t] (non-strict); a visit is a maximal run of consecutive touching bars;
    true when visits >= min_touches. False while ATR is undefined.
    """
    return _equal_side(high, low, close, down=True, window=window, min_touches=min_touches,
                       tolerance_atr=tolerance_atr, atr_period=atr_period)[0]


@indicator(inputs=("high", "low", "close"), output="number", lookback=_equal_lookback, bounds=_EQUAL_BOUNDS,
           mirror="equal_lows_level", mirror_kind="reflect")
def equal_highs_level(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, window: int = 20,
                      min_touches: int = 2, tolerance_atr: float = 0.1, atr_period: int = 14) -> np.ndarray:
    """Price of the equal-highs cluster (the highest high of the window) while ``equal_highs`` holds, else NaN.

    WHY: lets a rule ask "close is near a liquidity cluster" (``abs(close - equal_highs_level) < ...``) or put
    a target just below it.

    DEFINITION: max(high[t-window+1 .. t]) when ``equal_highs`` (same parameters) is true, NaN otherwise.
    The level is the cluster's highest touch, where the stops above it rest.
    """
    return _equal_side(high, low, close, down=False, window=window, min_touches=min_touches,
                       tolerance_atr=tolerance_atr, atr_period=atr_period)[1]


@indicator(inputs=("high", "low", "close"), output="number", lookback=_equal_lookback, bounds=_EQUAL_BOUNDS,
           mirror="equal_highs_level", mirror_kind="reflect")
def equal_lows_level(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, window: int = 20,
                     min_touches: int = 2, tolerance_atr: float = 0.1, atr_period: int = 14) -> np.ndarray:
    """Price of the equal-lows cluster (the lowest low of the window) while ``equal_lows`` holds, else NaN.

    WHY: the mirror of ``equal_highs_level``, for "close is near the sell-side liquidity".

    DEFINITION: min(low[t-window+1 .. t]) when ``equal_lows`` (same parameters) is true, NaN otherwise.
    """
    return -_equal_side(high, low, close, down=True, window=window, min_touches=min_touches,
                        tolerance_atr=tolerance_atr, atr_period=atr_period)[1]


# -- change of character ------------------------------------------------------------------------------------

_CHOCH_BOUNDS = {"left": (1, 20), "right": (1, 20), "within": (2, 1000)}


def _choch_lookback(p: dict) -> int:
    return p["within"] + p["left"] + p["right"]


@indicator(inputs=("high", "low", "close"), output="boolean", lookback=_choch_lookback, bounds=_CHOCH_BOUNDS,
           mirror="bearish_choch")
def bullish_choch(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, left: int = 2, right: int = 2,
                  within: int = 60) -> np.ndarray:
    """Fresh bullish change of character: in a down-structure, the first close above the last swing high.

    WHY: the plan's secondary confluence "fresh micro-CHOCH on M1": sellers had been making lower highs and
    lower lows, and the first close through the last lower high is the first sign the structure has turned.

    DEFINITION (swings are ``swing_high`` / ``swing_low`` with ``left`` / ``right``, taken at their
    confirmation bars): let SH1, SH0 be the prices of the last two swing highs and SL1, SL0 of the last two
    swing lows confirmed at or before t (1 = most recent). True at t when
        SH0 and SL0 (hence all four) were confirmed within the last ``within`` bars  (t - c <= within),
        SH1 < SH0 and SL1 < SL0                  (strictly lower high and lower low),
        close[t] > SH1                           (strict), and
        no close since SH1's pivot bar was above SH1 (so the signal fires once, on the breaking bar).
    Swing highs and lows need not alternate. Closes, not wicks, break the level.
    """
    return _choch(high, low, close, down=False, left=left, right=right, within=within)


@indicator(inputs=("high", "low", "close"), output="boolean", lookback=_choch_lookback, bounds=_CHOCH_BOUNDS,
           mirror="bullish_choch")
def bearish_choch(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, left: int = 2, right: int = 2,
                  within: int = 60) -> np.ndarray:
    """Fresh bearish change of character: in an up-structure, the first close below the last swing low.

    WHY: the mirror of ``bullish_choch``: buyers had been making higher lows and higher highs.

    DEFINITION: with SL1, SL0 / SH1, SH0 the last two confirmed swing lows / highs (1 = most recent), true at t
    when SL0 and SH0 were confirmed within ``within`` bars, SL1 > SL0 and SH1 > SH0 (strict), close[t] < SL1
    (strict), and no close since SL1's pivot bar was below SL1.
    """
    return _choch(high, low, close, down=True, left=left, right=right, within=within)


# -- micro order blocks -------------------------------------------------------------------------------------

_OB_BOUNDS = {
    "lookback": (1, 10), "impulse_atr": (0.0, 10.0), "zone_min_atr": (0.0, 5.0), "zone_max_atr": (0.0, 5.0),
    "zone_min_pct": (0.0, 0.1), "zone_max_pct": (0.0, 0.1), "atr_period": (1, 500), "expire": (1, 1000),
}
_OB_INPUTS = ("open", "high", "low", "close")


def _ob_lookback(p: dict) -> int:
    # a formation at f reads b >= f - lookback, and ATR back to f - (lookback - 1) - atr_period (the check
    # that no earlier bar after b was an impulse); the zone at t comes from a formation <= expire bars old
    return p["expire"] + max(p["lookback"], p["lookback"] - 1 + p["atr_period"])


@indicator(inputs=_OB_INPUTS, output="number", lookback=_ob_lookback, bounds=_OB_BOUNDS,
           mirror="bearish_ob_bottom", mirror_kind="reflect")
def bullish_ob_top(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *, lookback: int = 3,
                   impulse_atr: float = 1.0, zone_min_atr: float = 0.1, zone_max_atr: float = 0.3,
                   zone_min_pct: float = 0.001, zone_max_pct: float = 0.003, atr_period: int = 14,
                   expire: int = 30) -> np.ndarray:
    """Top of the most recent active bullish micro order block (the high of its candle), NaN if none.

    WHY: the plan's micro order block, "the last candle before a micro impulse, within the last 3 M1 candles",
    zone sized [0.1, 0.3] x ATR with a fixed-% fallback while ATR is unavailable. Late buy orders of the
    impulse rest there; its retest is the secondary confluence "OB retest" and being inside it is the location
    "clean M1 OB zone". All eight ``*_ob_*`` indicators share these rules and parameters.

    DEFINITION (ATR = mean true range over ``atr_period`` bars):
        b = the most recent bearish candle (close < open) among bars t-lookback .. t-1; bar t itself is not
            bearish (otherwise t would be the last bearish candle)
        impulse at t: close[t] > high[b]  and  close[t] - high[b] >= impulse_atr * ATR[t]
            (while ATR is undefined, the first atr_period - 1 bars, only the strict close above high[b])
        the OB forms at f, the first impulse bar after b (no bar between b and f was an impulse against b)
        zone: top = high[b] (the edge the impulse left from); height = clamp(high[b] - low[b],
            zone_min_atr * ATR[f], zone_max_atr * ATR[f]); bottom = top - height. While ATR[f] is undefined
            the clamp is [zone_min_pct, zone_max_pct] * |high[b]|. A wide candle keeps its upper part, a thin
            one is extended downwards.
        the zone is active on bars f .. f + expire, until the first bar j > f whose close is below the bottom,
            tested as top - close[j] > height (strict); from j on, j included, the zone is gone
        reported at t: the most recently formed zone still active at t (an invalidated newer zone uncovers an
            older active one); NaN when none.
    The bearish OB is the exact mirror (the last bullish candle before a downward impulse, zone bottom = its
    low, invalidated by a close above the top).
    """
    return _order_block_up(open_, high, low, close, lookback=lookback, impulse_atr=impulse_atr,
                           zone_min_atr=zone_min_atr, zone_max_atr=zone_max_atr, zone_min_pct=zone_min_pct,
                           zone_max_pct=zone_max_pct, atr_period=atr_period, expire=expire, output="top")


@indicator(inputs=_OB_INPUTS, output="number", lookback=_ob_lookback, bounds=_OB_BOUNDS,
           mirror="bearish_ob_top", mirror_kind="reflect")
def bullish_ob_bottom(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                      lookback: int = 3, impulse_atr: float = 1.0, zone_min_atr: float = 0.1,
                      zone_max_atr: float = 0.3, zone_min_pct: float = 0.001, zone_max_pct: float = 0.003,
                      atr_period: int = 14, expire: int = 30) -> np.ndarray:
    """Bottom of the most recent active bullish micro order block, NaN if none.

    WHY: the invalidation edge of the zone (a close below it kills the zone), the natural stop for a long
    taken on the retest.

    DEFINITION: top - clamp(high[b] - low[b], zone_min_atr * ATR[f], zone_max_atr * ATR[f]) for the zone
    reported by ``bullish_ob_top`` (same rules: candle b, formation f, expiry, invalidation).
    """
    return _order_block_up(open_, high, low, close, lookback=lookback, impulse_atr=impulse_atr,
                           zone_min_atr=zone_min_atr, zone_max_atr=zone_max_atr, zone_min_pct=zone_min_pct,
                           zone_max_pct=zone_max_pct, atr_period=atr_period, expire=expire, output="bottom")


@indicator(inputs=_OB_INPUTS, output="boolean", lookback=_ob_lookback, bounds=_OB_BOUNDS,
           mirror="bearish_ob_retest")
def bullish_ob_retest(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                      lookback: int = 3, impulse_atr: float = 1.0, zone_min_atr: float = 0.1,
                      zone_max_atr: float = 0.3, zone_min_pct: float = 0.001, zone_max_pct: float = 0.003,
                      atr_period: int = 14, expire: int = 30) -> np.ndarray:
    """Price came back into a bullish micro order block and the zone held on this bar's close.

    WHY: the plan's secondary confluence "OB retest": the pullback into demand that a long enters on.

    DEFINITION: take Z, the most recently formed zone with formation bar f < t (so never the bar that forms
    it) that is still active at t under the ``bullish_ob_top`` rules, i.e. t <= f + expire and no close below
    its bottom on bars f+1 .. t, which includes this bar: top - close[t] <= height. True when low[t] <= top(Z)
    (non-strict: touching the top is a retest). Every bar that trades into a holding zone is a retest.
    """
    return _order_block_up(open_, high, low, close, lookback=lookback, impulse_atr=impulse_atr,
                           zone_min_atr=zone_min_atr, zone_max_atr=zone_max_atr, zone_min_pct=zone_min_pct,
                           zone_max_pct=zone_max_pct, atr_period=atr_period, expire=expire, output="retest")


@indicator(inputs=_OB_INPUTS, output="boolean", lookback=_ob_lookback, bounds=_OB_BOUNDS,
           mirror="in_bearish_ob")
def in_bullish_ob(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                  lookback: int = 3, impulse_atr: float = 1.0, zone_min_atr: float = 0.1,
                  zone_max_atr: float = 0.3, zone_min_pct: float = 0.001, zone_max_pct: float = 0.003,
                  atr_period: int = 14, expire: int = 30) -> np.ndarray:
    """The close is inside the most recent active bullish micro order block.

    WHY: the location layer's "clean M1 OB zone" edge, as a condition on the current price.

    DEFINITION: bottom <= close[t] <= top of the zone ``bullish_ob_top`` reports, both inclusive, tested as
    0 <= top - close[t] <= height; False when no zone is active. Never true on a formation bar (its close is
    above the top).
    """
    return _order_block_up(open_, high, low, close, lookback=lookback, impulse_atr=impulse_atr,
                           zone_min_atr=zone_min_atr, zone_max_atr=zone_max_atr, zone_min_pct=zone_min_pct,
                           zone_max_pct=zone_max_pct, atr_period=atr_period, expire=expire, output="in_zone")


@indicator(inputs=_OB_INPUTS, output="number", lookback=_ob_lookback, bounds=_OB_BOUNDS,
           mirror="bullish_ob_bottom", mirror_kind="reflect")
def bearish_ob_top(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *, lookback: int = 3,
                   impulse_atr: float = 1.0, zone_min_atr: float = 0.1, zone_max_atr: float = 0.3,
                   zone_min_pct: float = 0.001, zone_max_pct: float = 0.003, atr_period: int = 14,
                   expire: int = 30) -> np.ndarray:
    """Top of the most recent active bearish micro order block, NaN if none.

    WHY: the invalidation edge of a supply zone (a close above it kills the zone), the stop for a short taken
    on its retest.

    DEFINITION (the mirror of ``bullish_ob_top``): b = the most recent bullish candle (close > open) among bars
    t-lookback .. t-1, bar t not bullish; impulse at t: close[t] < low[b] and low[b] - close[t] >=
    impulse_atr * ATR[t] (only the strict close below while ATR is undefined); the OB forms at the first
    impulse bar f after b; bottom = low[b], top = bottom + clamp(high[b] - low[b], zone_min_atr * ATR[f],
    zone_max_atr * ATR[f]) (fallback [zone_min_pct, zone_max_pct] * |low[b]|); active on f .. f + expire
    until the first close above the top, tested as close[j] - bottom > height; the most recently formed active
    zone is reported.
    """
    return _order_block_down(open_, high, low, close, lookback=lookback, impulse_atr=impulse_atr,
                             zone_min_atr=zone_min_atr, zone_max_atr=zone_max_atr, zone_min_pct=zone_min_pct,
                             zone_max_pct=zone_max_pct, atr_period=atr_period, expire=expire, output="top")


@indicator(inputs=_OB_INPUTS, output="number", lookback=_ob_lookback, bounds=_OB_BOUNDS,
           mirror="bullish_ob_top", mirror_kind="reflect")
def bearish_ob_bottom(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                      lookback: int = 3, impulse_atr: float = 1.0, zone_min_atr: float = 0.1,
                      zone_max_atr: float = 0.3, zone_min_pct: float = 0.001, zone_max_pct: float = 0.003,
                      atr_period: int = 14, expire: int = 30) -> np.ndarray:
    """Bottom of the most recent active bearish micro order block (the low of its candle), NaN if none.

    WHY: the edge of the supply zone that price meets first on a pullback.

    DEFINITION: low[b] of the zone reported by ``bearish_ob_top`` (same rules).
    """
    return _order_block_down(open_, high, low, close, lookback=lookback, impulse_atr=impulse_atr,
                             zone_min_atr=zone_min_atr, zone_max_atr=zone_max_atr, zone_min_pct=zone_min_pct,
                             zone_max_pct=zone_max_pct, atr_period=atr_period, expire=expire, output="bottom")


@indicator(inputs=_OB_INPUTS, output="boolean", lookback=_ob_lookback, bounds=_OB_BOUNDS,
           mirror="bullish_ob_retest")
def bearish_ob_retest(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                      lookback: int = 3, impulse_atr: float = 1.0, zone_min_atr: float = 0.1,
                      zone_max_atr: float = 0.3, zone_min_pct: float = 0.001, zone_max_pct: float = 0.003,
                      atr_period: int = 14, expire: int = 30) -> np.ndarray:
    """Price came back into a bearish micro order block and the zone held on this bar's close.

    WHY: the "OB retest" confluence for shorts.

    DEFINITION: Z = the most recently formed bearish zone with f < t still active at t (t <= f + expire, no
    close above its top on bars f+1 .. t, so close[t] <= top); true when high[t] >= bottom(Z) (non-strict).
    """
    return _order_block_down(open_, high, low, close, lookback=lookback, impulse_atr=impulse_atr,
                             zone_min_atr=zone_min_atr, zone_max_atr=zone_max_atr, zone_min_pct=zone_min_pct,
                             zone_max_pct=zone_max_pct, atr_period=atr_period, expire=expire, output="retest")


@indicator(inputs=_OB_INPUTS, output="boolean", lookback=_ob_lookback, bounds=_OB_BOUNDS,
           mirror="in_bullish_ob")
def in_bearish_ob(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                  lookback: int = 3, impulse_atr: float = 1.0, zone_min_atr: float = 0.1,
                  zone_max_atr: float = 0.3, zone_min_pct: float = 0.001, zone_max_pct: float = 0.003,
                  atr_period: int = 14, expire: int = 30) -> np.ndarray:
    """The close is inside the most recent active bearish micro order block.

    WHY: the location layer's "clean M1 OB zone" edge for shorts.

    DEFINITION: bottom <= close[t] <= top of the zone ``bearish_ob_top`` reports, both inclusive, tested as
    0 <= close[t] - bottom <= height; False when no zone is active.
    """
    return _order_block_down(open_, high, low, close, lookback=lookback, impulse_atr=impulse_atr,
                             zone_min_atr=zone_min_atr, zone_max_atr=zone_max_atr, zone_min_pct=zone_min_pct,
                             zone_max_pct=zone_max_pct, atr_period=atr_period, expire=expire, output="in_zone")


# -- newest-bar twins ---------------------------------------------------------------------------------------
#
# A live decision reads each of these indicators at the newest bar only, on the last ``lookback + 1`` bars
# (11 to 65 bars for the shipped rules), where the array functions above cost numpy's per-call overhead many
# times over. Each twin recomputes the newest bar on Python floats (``tolist`` once per input) with the array
# function's float operations, so it returns the same value bit for bit:
#
# - np.maximum(a, b) is ``a if a > b else b`` and np.minimum(a, b) ``a if a < b else b`` (on a tie numpy
#   returns b, which decides the sign of a zero); ATR sums follow ``_rolling``'s window tree;
# - a comparison a < b on negated prices is b < a, and (-a) - (-b) rounds like b - a, so the bearish twins
#   read the bullish rules on the original prices instead of negating whole lists;
# - comparisons with NaN are False in Python as in numpy, so twins that only compare prices (swings, CHOCH)
#   need no care for NaN. Those that also take extremes or do arithmetic (sweeps, equal highs/lows, order
#   blocks) take the Python path on bars without NaN only, and call the array function otherwise;
# - a rounded operation is monotone, so a decision that only compares a monotone function of ATR can be taken
#   from a guaranteed interval around ATR, and the exact tree sum computed only when the interval straddles
#   the threshold (see ``_AtrWindow``).
#
# The order-block twins share one computation per evaluation, and so do the four equal highs/lows twins
# (``@shared``, keyed on the live plan's input views). A cache hit costs about as much as the cheaper twins
# (sweeps, swings, CHOCH), which compute their own.

_UNIT_ROUNDOFF = 2.0 ** -53
_F64 = np.dtype(np.float64)


def _prices(x: np.ndarray) -> list[float]:
    """x as Python floats, the float64 values ``_f64`` gives the array functions."""
    return (x if x.dtype is _F64 else x.astype(np.float64)).tolist()


def _holds_nan(*lists: list[float]) -> bool:
    """Whether the lists hold a NaN: then the sum of their sums is NaN (as it is when +inf meets -inf, which
    merely sends those bars to the array function too)."""
    total = sum(map(sum, lists))
    return total != total


def _list_true_ranges(high: list[float], low: list[float], close: list[float], start: int) -> list[float]:
    """``_atr``'s true range at bars start .. n-1: max(high, close[t-1]) - min(low, close[t-1]), high - low
    on bar 0."""
    out = []
    if start == 0:
        out.append(high[0] - low[0])
        start = 1
    out += [(h if h > pc else pc) - (lo if lo < pc else pc)
            for h, lo, pc in zip(high[start:], low[start:], close[start - 1:], strict=False)]
    return out


def _clamp(x: float, low: float, high: float) -> float:
    """np.minimum(np.maximum(x, low), high)."""
    x = x if x > low else low
    return x if x < high else high


class _AtrWindow:
    """``_atr`` at any bar of a window: exactly, or as an interval guaranteed to hold the exact float.

    The exact value is the window's tree sum S of ``period`` true ranges / period, ~period additions a bar in
    Python. Most decisions compare a multiple of ATR with a price difference far from it, for which an
    interval is enough: with Q the running sums of the n true ranges, D = Q[x] - Q[x - period] differs from S
    by at most (3n + 3) u W (u the unit roundoff, W = sum |TR|: S and each Q are recursive sums of at most n
    terms, each within gamma_n W of its real sum, and the subtraction adds u W), and ``err`` is twice that
    (W <= Q[-1] + 2 |TR[0]|: max(high, prev) >= prev >= min(low, prev), so only the first bar's high - low can
    be negative).
    Rounding is monotone, so fl((D - err) / period) <= fl(S / period) <= fl((D + err) / period), and the same
    holds after any monotone use of ATR (k * ATR with k >= 0, a clamp between two such). A NaN or infinite
    bound (true ranges that overflow) sends every decision to the exact value.
    """

    __slots__ = ("err", "period", "running", "true_ranges")

    def __init__(self, high: np.ndarray, low: np.ndarray, close: np.ndarray, first: float, period: int) -> None:
        """From float64 arrays (and high[0] - low[0], the first bar's true range); numpy's own max and min."""
        prev = close[:-1]
        self.period = period
        self.true_ranges = [first, *(np.maximum(high[1:], prev) - np.minimum(low[1:], prev)).tolist()]
        self.running = list(accumulate(self.true_ranges))
        self.err = (8 * len(close) + 16) * _UNIT_ROUNDOFF * (self.running[-1] + 2.0 * abs(first))

    def exact(self, t: int) -> float:
        """ATR at bar t, bit for bit ``_atr(...)[t]`` (NaN for t < period - 1)."""
        p = self.period
        if t < p - 1:
            return math.nan
        return r.tree_sum(self.true_ranges[t - p + 1:t + 1]) / p

    def bounds(self, t: int) -> tuple[float, float]:
        """(lo, hi) with lo <= ``exact(t)`` <= hi, for t >= period - 1."""
        p = self.period
        d = self.running[t] - self.running[t - p] if t >= p else self.running[t]
        return (d - self.err) / p, (d + self.err) / p


@shared  # the four equal highs/lows twins of one evaluation share it
def _shared_equal_newest(high: np.ndarray, low: np.ndarray, close: np.ndarray,
                         params: tuple[int, int, float, int]) -> tuple[bool, float, bool, float] | None:
    return _equal_newest(high, low, close, params)


@shared  # the eight order-block twins of one evaluation share it (each side reads its half)
def _shared_ob_window(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                      params: tuple[int, float, float, float, float, float, int, int]) -> _ObWindow | None:
    return _ob_window(open_, high, low, close, params)


# swings

def _last_pivots(x: list[float], left: int, right: int, newest: int, earliest: int, most: int,
                 lows: bool = False) -> list[int]:
    """Bars c from ``newest`` down to ``earliest`` where ``_pivot_confirmed(x, left, right)`` is true (on -x for
    ``lows``), newest first, at most ``most`` of them: with p = c - right, x[p] >= x[p+j] (j = 1 .. right) and
    x[p] > x[p-i] (i = 1 .. left), or x[p] <= x[p+j] and x[p] < x[p-i] for lows (each compared as numpy does,
    so a NaN fails the test)."""
    later, earlier = (le, lt) if lows else (ge, gt)
    found: list[int] = []
    for c in range(newest, max(earliest, left + right) - 1, -1):
        p = c - right
        v = x[p]
        if (later(v, x[p + 1]) and earlier(v, x[p - 1])  # the neighbours first: most bars fail there
                and all(map(later, repeat(v, right - 1), x[p + 2:c + 1]))
                and all(map(earlier, repeat(v, left - 1), x[p - left:p - 1]))):
            found.append(c)
            if len(found) == most:
                break
    return found


@last_value("swing_high")
def _swing_high_last(high: np.ndarray, *, left: int = 2, right: int = 2) -> bool:
    """``swing_high`` at the newest bar: the pivot test at p = t - right."""
    if len(high) <= left + right:
        return False
    return bool(_last_pivots(_prices(high[-(left + right + 1):]), left, right, left + right, 0, 1))


@last_value("swing_low")
def _swing_low_last(low: np.ndarray, *, left: int = 2, right: int = 2) -> bool:
    """``swing_low`` at the newest bar: the pivot-low test at p = t - right."""
    if len(low) <= left + right:
        return False
    return bool(_last_pivots(_prices(low[-(left + right + 1):]), left, right, left + right, 0, 1, lows=True))


@last_value("last_swing_high")
def _last_swing_high_last(high: np.ndarray, *, left: int = 2, right: int = 2, within: int = 60) -> float:
    """``last_swing_high`` at the newest bar: the newest pivot confirmed in [t - within, t], walking back."""
    x = _prices(high)
    found = _last_pivots(x, left, right, len(x) - 1, len(x) - 1 - within, 1)
    return x[found[0] - right] if found else math.nan


@last_value("last_swing_low")
def _last_swing_low_last(low: np.ndarray, *, left: int = 2, right: int = 2, within: int = 60) -> float:
    """``last_swing_low`` at the newest bar (-(-low) of the pivot is its low)."""
    x = _prices(low)
    found = _last_pivots(x, left, right, len(x) - 1, len(x) - 1 - within, 1, lows=True)
    return x[found[0] - right] if found else math.nan


# liquidity sweeps

def _sweep_newest(extreme: np.ndarray, close: np.ndarray, lookback: int, lows: bool) -> bool | None:
    """``bearish_sweep`` (``bullish_sweep`` for ``lows``) at the newest bar; None when the ``lookback`` bars
    before t hold a NaN (their max is then NaN, which Python's max does not give)."""
    n = len(extreme)
    if n <= lookback:
        return False  # the reference needs ``lookback`` bars before t
    bars = _prices(extreme[n - 1 - lookback:])
    last, before = bars.pop(), bars
    if _holds_nan(before):
        return None
    last_close = float(close.item(-1))
    if lows:  # on negated prices: -low[t] > max(-low) = -min(low), i.e. low[t] < min(low)
        ref = min(before)
        return last < ref and last_close > ref
    ref = max(before)
    return last > ref and last_close < ref


@last_value("bullish_sweep")
def _bullish_sweep_last(low: np.ndarray, close: np.ndarray, *, lookback: int = 10) -> bool:
    """``bullish_sweep`` at the newest bar: low[t] < m and close[t] > m, m the min of the bars before."""
    value = _sweep_newest(low, close, lookback, True)
    return bool(bullish_sweep(low, close, lookback=lookback)[-1]) if value is None else value


@last_value("bearish_sweep")
def _bearish_sweep_last(high: np.ndarray, close: np.ndarray, *, lookback: int = 10) -> bool:
    """``bearish_sweep`` at the newest bar: high[t] > m and close[t] < m, m the max of the bars before."""
    value = _sweep_newest(high, close, lookback, False)
    return bool(bearish_sweep(high, close, lookback=lookback)[-1]) if value is None else value


# equal highs / lows

def _visits(touches: list[bool], at_least: int) -> bool:
    """Whether ``touches`` holds at least ``at_least`` runs of consecutive True (counted at their first bar;
    ``_equal_tops`` counts their last: the same number)."""
    return sum(touches) >= at_least and touches[0] + sum(map(gt, touches[1:], touches[:-1])) >= at_least


def _equal_newest(high: np.ndarray, low: np.ndarray, close: np.ndarray, params: tuple[int, int, float, int],
                  ) -> tuple[bool, float, bool, float] | None:
    """``_equal_tops`` at the newest bar for the highs and (on negated prices) the lows: (flag, level) of
    each, with params = (window, min_touches, tolerance_atr, atr_period); None when the bars hold a NaN or a
    level is zero (the sign of a zero max depends on the order numpy compares in)."""
    window, min_touches, tolerance_atr, atr_period = params
    n = len(high)
    if n < window:
        return False, math.nan, False, math.nan  # the window max is NaN: no touches
    first = min(max(n - atr_period - 1, 0), n - window)  # ATR at t reads closes from t - period
    if first:
        high, low, close = high[first:], low[first:], close[first:]
    highs, lows, closes = _prices(high), _prices(low), _prices(close)
    if _holds_nan(highs, lows, closes):
        return None
    k = len(highs)
    top_highs, bottom_lows = highs[k - window:], lows[k - window:]
    top, bottom = max(top_highs), min(bottom_lows)
    if top == 0.0 or bottom == 0.0:
        return None
    if n < atr_period:
        return False, math.nan, False, math.nan  # ATR (hence the tolerance) still NaN: nothing touches
    # ATR on negated prices is the same float: each true range (-a) - (-b) rounds like b - a
    atr = r.tree_sum(_list_true_ranges(highs, lows, closes, k - atr_period)) / atr_period
    tol = tolerance_atr * atr
    # a touch is top - high <= tol; on negated prices (-bottom) - (-low) <= tol, which rounds like low - bottom
    up = _visits([top - h <= tol for h in top_highs], min_touches)
    down = _visits([lo - bottom <= tol for lo in bottom_lows], min_touches)
    return up, top if up else math.nan, down, bottom if down else math.nan


def _equal_value(high: np.ndarray, low: np.ndarray, close: np.ndarray, which: int, window: int,
                 min_touches: int, tolerance_atr: float, atr_period: int) -> bool | float:
    """Item ``which`` of ``_equal_newest`` (0, 1: highs' flag, level; 2, 3: lows'), shared by the four twins
    of one evaluation; from the array function when the bars hold a NaN."""
    params = (window, min_touches, tolerance_atr, atr_period)
    both = _shared_equal_newest(high, low, close, params)
    if both is not None:
        return both[which]
    kw = dict(window=window, min_touches=min_touches, tolerance_atr=tolerance_atr, atr_period=atr_period)
    if which < 2:
        value = _equal_side(high, low, close, down=False, **kw)[which][-1]
        return bool(value) if which == 0 else float(value)
    value = _equal_side(high, low, close, down=True, **kw)[which - 2][-1]
    return bool(value) if which == 2 else -float(value)


def _equal_twin(name: str, which: int) -> Callable[..., float | bool]:
    """The newest-bar twin of one of the four equal highs/lows outputs: item ``which`` of ``_equal_value``
    (0, 1: the highs' flag and level; 2, 3: the lows', from ``equal_highs`` on negated prices)."""
    convert = bool if which in (0, 2) else float

    def twin(high: np.ndarray, low: np.ndarray, close: np.ndarray, **params: Any) -> float | bool:
        return convert(_equal_value(high, low, close, which, **params))

    twin.__name__ = twin.__qualname__ = f"_{name}_last"
    twin.__doc__ = f"``{name}`` at the newest bar (see ``_equal_value``)."
    return twin


for _which, _name in enumerate(("equal_highs", "equal_highs_level", "equal_lows", "equal_lows_level")):
    last_value(_name)(_equal_twin(_name, _which))


# change of character

def _choch_newest(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, down: bool, left: int, right: int,
                  within: int) -> bool:
    """``_choch_up(high, low, close)[-1]``, or on (-low, -high, -close) when ``down``, without the negations.

    "Beyond" is above for the bullish CHOCH and below for the bearish one (above on negated prices). With
    the breaking swings B (swing highs; swing lows when down) and the structure swings S (the other kind):
    both of the last two of each confirmed in [t - within, t]; the previous B beyond the last one and the
    previous S beyond the last one (lower highs and lower lows); close[t] beyond the last B's price and no
    close on bars c .. t-1 beyond it (c its confirmation bar). The cheap tests come first: most bars fail at
    the close. Only comparisons, so a NaN fails them as in numpy.
    """
    beyond = lt if down else gt
    breaking, structure = (low, high) if down else (high, low)
    n = len(close)
    earliest = n - 1 - within
    xb = _prices(breaking)
    found = _last_pivots(xb, left, right, n - 1, earliest, 1, lows=down)
    if not found:
        return False
    c = found[0]
    level = xb[c - right]
    closes = _prices(close[c:])  # bars c .. t
    if not beyond(closes[-1], level) or any(map(beyond, closes[:-1], repeat(level))):
        return False
    found = _last_pivots(xb, left, right, c - 1, earliest, 1, lows=down)
    if not (found and beyond(xb[found[0] - right], level)):
        return False
    xs = _prices(structure)
    found = _last_pivots(xs, left, right, n - 1, earliest, 2, lows=not down)
    return len(found) == 2 and beyond(xs[found[1] - right], xs[found[0] - right])


@last_value("bullish_choch")
def _bullish_choch_last(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, left: int = 2, right: int = 2,
                        within: int = 60) -> bool:
    """``bullish_choch`` at the newest bar: the last two swings of each kind, walking back from t."""
    return _choch_newest(high, low, close, down=False, left=left, right=right, within=within)


@last_value("bearish_choch")
def _bearish_choch_last(high: np.ndarray, low: np.ndarray, close: np.ndarray, *, left: int = 2, right: int = 2,
                        within: int = 60) -> bool:
    """``bearish_choch`` at the newest bar (``bullish_choch`` on negated prices)."""
    return _choch_newest(high, low, close, down=True, left=left, right=right, within=within)


# micro order blocks

_Zone = tuple[float, float, int]  # (top, top - low of its candle b, formation bar f), on the prices of its side


class _ObWindow:
    """The order blocks of both sides at the newest bar of a window (``_order_block_zones``' rules).

    The bearish side is the bullish code on negated prices, read through ``sign`` = -1: its candle b is
    bullish, top = -low[b], a close c reads as -c, so gain = -close - top and depth = top + close round like
    low[b] - close and close - low[b] (see the notes at the top of the twins).
    """

    __slots__ = ("atr", "close", "colour", "expire", "high", "impulse_atr", "lookback", "low", "sides",
                 "zone_max_atr", "zone_max_pct", "zone_min_atr", "zone_min_pct")

    def __init__(self, highs: list[float], lows: list[float], closes: list[float],
                 colour: dict[bool, list[bool]], atr: _AtrWindow,
                 params: tuple[int, float, float, float, float, float, int, int]) -> None:
        (self.lookback, self.impulse_atr, self.zone_min_atr, self.zone_max_atr, self.zone_min_pct,
         self.zone_max_pct, _, self.expire) = params
        self.high, self.low, self.close, self.atr = highs, lows, closes, atr
        self.colour = colour  # per side (down or not), the bars of its candle b's colour: bullish, bearish
        self.sides: dict[bool, tuple[_Zone | None, _Zone | None]] = {}

    def side(self, down: bool) -> tuple[_Zone | None, _Zone | None]:
        """(the zone formed at t, the most recently formed zone with f < t still active at t), None for none."""
        found = self.sides.get(down)
        if found is None:
            found = self.sides[down] = self._walk(down)
        return found

    def height(self, zone: _Zone) -> float:
        """The zone's height: clamp(top - low[b], zone_min_atr * ATR[f], zone_max_atr * ATR[f]), with
        [zone_min_pct, zone_max_pct] * |top| while ATR[f] is NaN."""
        top, candle, f = zone
        atr = self.atr.exact(f)
        if atr != atr:
            return _clamp(candle, self.zone_min_pct * abs(top), self.zone_max_pct * abs(top))
        return _clamp(candle, self.zone_min_atr * atr, self.zone_max_atr * atr)

    def exceeds_height(self, depth: float, zone: _Zone) -> bool:
        """depth > ``height(zone)``, from ATR's interval when that decides it."""
        candle, f = zone[1], zone[2]
        if f >= self.atr.period - 1:
            lo, hi = self.atr.bounds(f)
            if depth > _clamp(candle, self.zone_min_atr * hi, self.zone_max_atr * hi):
                return True
            if depth <= _clamp(candle, self.zone_min_atr * lo, self.zone_max_atr * lo):
                return False
        return depth > self.height(zone)

    def _walk(self, down: bool) -> tuple[_Zone | None, _Zone | None]:
        """Walk the candles b newest first; each forms at most one zone, at the first impulse bar f after it:
        f in b+1 .. b+lookback with no candle of b's colour in between (else that one is the newer b), and
        impulse when gain = close[f] - top > 0 and not < impulse_atr * ATR[f]. Zones from older candles form
        earlier, so the walk ends at the first zone with f < t still active at t (no close on f+1 .. t with
        top - close > height; the deepest close decides, as rounding is monotone) or when f < t - expire."""
        sign = -1.0 if down else 1.0
        closes, t, lookback, impulse_atr = self.close, len(self.close) - 1, self.lookback, self.impulse_atr
        atr = self.atr
        period, running, err = atr.period, atr.running, atr.err
        edge, far = (self.low, self.high) if down else (self.high, self.low)
        against = self.colour[down]  # candles of b's colour
        first = max(t - self.expire - lookback, 0)
        formed_now: _Zone | None = None
        # candles b whose next bar is not of their colour (else that bar is the b of the bars after it)
        for b in reversed(list(compress(range(first, t), map(gt, against[first:t], against[first + 1:t + 1])))):
            top = sign * edge[b]
            f = -1
            for x in range(b + 1, min(b + lookback, t) + 1):
                if against[x]:
                    break
                gain = sign * closes[x] - top
                if gain > 0:
                    if x >= period - 1:  # else ATR is NaN and gain > 0 is the whole test
                        # ``_AtrWindow.bounds`` inlined: the threshold from ATR's interval, exactly if need be
                        d = running[x] - running[x - period] if x >= period else running[x]
                        if gain < impulse_atr * ((d - err) / period) or (
                                not gain >= impulse_atr * ((d + err) / period)
                                and gain < impulse_atr * atr.exact(x)):
                            continue
                    f = x
                    break
            if f < 0:
                continue
            if f < t - self.expire:
                break
            zone = (top, top - sign * far[b], f)
            if f == t:
                formed_now = zone
                continue
            deepest = max(closes[f + 1:]) if down else min(closes[f + 1:])
            if not self.exceeds_height(top - sign * deepest, zone):
                return formed_now, zone
        return formed_now, None


def _ob_window(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
               params: tuple[int, float, float, float, float, float, int, int]) -> _ObWindow | None:
    """The window's order blocks (computed side by side on demand); None when the bars hold a NaN."""
    if params[2] > params[3] or params[4] > params[5]:
        raise ValueError("zone_min_atr/zone_min_pct must not exceed zone_max_atr/zone_max_pct")
    if not (open_.dtype is high.dtype is low.dtype is close.dtype is _F64):
        open_, high, low, close = _f64(open_), _f64(high), _f64(low), _f64(close)
    highs, lows, closes = high.tolist(), low.tolist(), close.tolist()
    if _holds_nan(highs, lows, closes):  # opens only decide colours, and numpy's comparisons give those
        return None
    colour = {False: (close < open_).tolist(), True: (close > open_).tolist()}  # -close < -open: close > open
    # the bearish side's ATR on negated prices is the same: each true range (-a) - (-b) rounds like b - a
    atr = _AtrWindow(high, low, close, highs[0] - lows[0], params[6])
    return _ObWindow(highs, lows, closes, colour, atr, params)


def _ob_value(output: _ObOutput, down: bool, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
              close: np.ndarray, params: tuple[int, float, float, float, float, float, int, int]) -> float | bool:
    """One order-block output at the newest bar, as ``_order_block_up`` / ``_order_block_down`` give it."""
    window = _shared_ob_window(open_, high, low, close, params)
    if window is None:
        names = ("lookback", "impulse_atr", "zone_min_atr", "zone_max_atr", "zone_min_pct", "zone_max_pct",
                 "atr_period", "expire")
        value = (_order_block_down if down else _order_block_up)(open_, high, low, close, output=output,
                                                                 **dict(zip(names, params, strict=True)))[-1]
        return bool(value) if output in ("retest", "in_zone") else float(value)
    formed_now, prior = window.side(down)
    sign = -1.0 if down else 1.0
    if output == "retest":  # low[t] <= top, with low -> -high on negated prices
        return prior is not None and sign * (window.high if down else window.low)[-1] <= prior[0]
    zone = formed_now or prior
    if output == "in_zone":  # 0 <= top - close <= height; never on a formation bar (its close is above the top)
        if zone is None:
            return False
        below_top = zone[0] - sign * window.close[-1]
        return below_top >= 0 and not window.exceeds_height(below_top, zone)
    if zone is None:
        return math.nan
    top = zone[0]
    if output == "top":  # on negated prices the bearish top is the bullish bottom, negated back
        return -(top - window.height(zone)) if down else top
    return -top if down else top - window.height(zone)


_OB_PARAMS = itemgetter("lookback", "impulse_atr", "zone_min_atr", "zone_max_atr", "zone_min_pct",
                        "zone_max_pct", "atr_period", "expire")  # in _ObWindow's order


def _ob_twin(name: str, output: _ObOutput, down: bool) -> Callable[..., float | bool]:
    """The newest-bar twin of one of the eight order-block outputs: ``_ob_value`` for that output and side
    (the bearish side is the bullish rule on negated prices, negated back where it is a level)."""
    convert = bool if output in ("retest", "in_zone") else float

    def twin(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, **params: Any) -> float | bool:
        return convert(_ob_value(output, down, open_, high, low, close, _OB_PARAMS(params)))

    twin.__name__ = twin.__qualname__ = f"_{name}_last"
    twin.__doc__ = f"``{name}`` at the newest bar (see ``_ob_value``)."
    return twin


for _side, _down in (("bullish", False), ("bearish", True)):
    for _name, _output in ((f"{_side}_ob_top", "top"), (f"{_side}_ob_bottom", "bottom"),
                           (f"{_side}_ob_retest", "retest"), (f"in_{_side}_ob", "in_zone")):
        last_value(_name)(_ob_twin(_name, _output, _down))
