"""Candle anatomy and two-bar candle patterns: bodies, wicks, ranges, colours, engulfing.

These are the raw material of the plan's primary triggers: a *long wick trap* (a wick of 1.5-2x the body that
rejects a level) and a *strong engulfing candle* at an edge. Rules combine them, e.g.
``lower_wick >= 2 * body and close_location > 0.3``. Every value at bar t reads bar t only, except the
engulfing patterns, which also read bar t-1. All are window-exact (elementwise arithmetic, no sums).

Price reflection (p -> C - p, high and low swapped) maps the upper anatomy onto the lower one and bullish
patterns onto bearish ones; each indicator declares that pairing as its ``mirror``.
"""

from __future__ import annotations

import numpy as np

from indicators._registry import indicator, last_value
from indicators._rolling import ieee_quotient

__all__ = [
    "bar_range",
    "bearish",
    "bearish_engulfing",
    "body",
    "bullish",
    "bullish_engulfing",
    "close_location",
    "lower_wick",
    "lower_wick_ratio",
    "strong_bearish_engulfing",
    "strong_bullish_engulfing",
    "upper_wick",
    "upper_wick_ratio",
]

_OHLC = ("open", "high", "low", "close")
_FLOOR = {"floor": (0.01, 1.0)}
_STRONG = {"body_ratio": (1.0, 100.0), "min_body_frac": (0.0, 1.0)}


def _f64(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(a, dtype=np.float64) for a in arrays)


# Newest-bar twins (``@last_value``): the same elementwise operations on the newest bar's Python floats.
# Python's max/min may drop a NaN that np.maximum/np.minimum propagate, hence these two.


def _maximum(a: float, b: float) -> float:
    """np.maximum on two floats: NaN if either is NaN."""
    return a if a >= b or a != a else b


def _minimum(a: float, b: float) -> float:
    """np.minimum on two floats: NaN if either is NaN."""
    return a if a <= b or a != a else b


def _newest(*arrays: np.ndarray) -> list[float]:
    """The newest value of each array as a Python float (candle columns are float64: ``item`` gives a float)."""
    return [a.item(-1) for a in arrays]


# -- anatomy ----------------------------------------------------------------------------------------------


@indicator("body", inputs=("open", "close"), output="number", lookback=0, mirror="body")
def body(open_: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Body size of the bar: |close - open|.

    The part of the bar both sides agreed on; wick-trap rules compare wicks against it.
    """
    open_, close = _f64(open_, close)
    size = close - open_
    return np.abs(size, out=size)


@last_value("body")
def _body_last(open_: np.ndarray, close: np.ndarray) -> float:
    """``body`` at the newest bar."""
    o, c = _newest(open_, close)
    return abs(c - o)


@indicator("upper_wick", inputs=("open", "high", "close"), output="number", lookback=0, mirror="lower_wick")
def upper_wick(open_: np.ndarray, high: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Upper wick (upper shadow): high - max(open, close).

    Buyers pushed price up there and lost it by the close: a long upper wick is a rejection of higher prices.
    """
    open_, high, close = _f64(open_, high, close)
    top = np.maximum(open_, close)
    return np.subtract(high, top, out=top)


@last_value("upper_wick")
def _upper_wick_last(open_: np.ndarray, high: np.ndarray, close: np.ndarray) -> float:
    """``upper_wick`` at the newest bar."""
    o, h, c = _newest(open_, high, close)
    return h - _maximum(o, c)


@indicator("lower_wick", inputs=("open", "low", "close"), output="number", lookback=0, mirror="upper_wick")
def lower_wick(open_: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Lower wick (lower shadow): min(open, close) - low.

    Sellers pushed price down there and lost it by the close: a long lower wick is a rejection of lower prices.
    """
    open_, low, close = _f64(open_, low, close)
    bottom = np.minimum(open_, close)
    return np.subtract(bottom, low, out=bottom)


@last_value("lower_wick")
def _lower_wick_last(open_: np.ndarray, low: np.ndarray, close: np.ndarray) -> float:
    """``lower_wick`` at the newest bar."""
    o, lo, c = _newest(open_, low, close)
    return _minimum(o, c) - lo


@indicator("range", inputs=("high", "low"), output="number", lookback=0, mirror="range")
def bar_range(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Range of the bar: high - low.

    The plan's "M1 range"; ``mean(range, 20)`` or ``mean_range`` gives its average for volatility filters.
    Unlike ``true_range`` it ignores the gap from the previous close.
    """
    high, low = _f64(high, low)
    return high - low


@last_value("range")
def _range_last(high: np.ndarray, low: np.ndarray) -> float:
    """``range`` at the newest bar."""
    h, lo = _newest(high, low)
    return h - lo


def _wick_ratio(wick: np.ndarray, body_: np.ndarray, range_: np.ndarray, floor: float) -> np.ndarray:
    """wick / max(body, floor * range), 0 where range is 0; reuses the (fresh) wick and body arrays."""
    denominator = np.maximum(body_, floor * range_, out=body_)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.divide(wick, denominator, out=wick)
    ratio[range_ == 0.0] = 0.0  # a flat bar has no wick: 0 / 0 read as "no wick", not NaN
    return ratio


def _wick_ratio_last(wick: float, body_: float, range_: float, floor: float) -> float:
    """``_wick_ratio`` on one bar's Python floats."""
    if range_ == 0.0:
        return 0.0
    return ieee_quotient(wick, _maximum(body_, floor * range_))


@indicator("upper_wick_ratio", inputs=_OHLC, output="number", lookback=0, bounds=_FLOOR,
           mirror="lower_wick_ratio")
def upper_wick_ratio(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                     floor: float = 0.1) -> np.ndarray:
    """Upper wick in bodies: upper_wick / max(body, floor * range); 0 on a zero-range bar.

    WHY: the plan scores wick traps by "wick >= 1.5x / 2x body". A plain wick / body is infinite on a doji
    (body 0) and huge on a near-doji whose wick is a few cents, so a tiny bar would pass any threshold. The
    denominator is therefore floored at ``floor`` x range: the ratio is bounded by 1 / floor (10 by default)
    and a doji with a long upper wick scores near the bound, not infinity. ``floor=1`` gives the wick as a
    fraction of the range instead. A bar with high == low has no wick: 0 (not 0/0 = NaN).

    FORMULA: (high - max(open, close)) / max(|close - open|, floor * (high - low)), in [0, 1 / floor].
    """
    open_, high, low, close = _f64(open_, high, low, close)
    return _wick_ratio(high - np.maximum(open_, close), np.abs(close - open_), high - low, floor)


@last_value("upper_wick_ratio")
def _upper_wick_ratio_last(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                           floor: float = 0.1) -> float:
    """``upper_wick_ratio`` at the newest bar."""
    o, h, lo, c = _newest(open_, high, low, close)
    return _wick_ratio_last(h - _maximum(o, c), abs(c - o), h - lo, floor)


@indicator("lower_wick_ratio", inputs=_OHLC, output="number", lookback=0, bounds=_FLOOR,
           mirror="upper_wick_ratio")
def lower_wick_ratio(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                     floor: float = 0.1) -> np.ndarray:
    """Lower wick in bodies: lower_wick / max(body, floor * range); 0 on a zero-range bar.

    WHY: see ``upper_wick_ratio``; a bullish wick trap is ``lower_wick_ratio >= 2``.

    FORMULA: (min(open, close) - low) / max(|close - open|, floor * (high - low)), in [0, 1 / floor].
    """
    open_, high, low, close = _f64(open_, high, low, close)
    return _wick_ratio(np.minimum(open_, close) - low, np.abs(close - open_), high - low, floor)


@last_value("lower_wick_ratio")
def _lower_wick_ratio_last(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                           floor: float = 0.1) -> float:
    """``lower_wick_ratio`` at the newest bar."""
    o, h, lo, c = _newest(open_, high, low, close)
    return _wick_ratio_last(_minimum(o, c) - lo, abs(c - o), h - lo, floor)


@indicator("close_location", inputs=("high", "low", "close"), output="number", lookback=0,
           mirror="close_location", mirror_kind="negate")
def close_location(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Close location value: where the close sits in the bar's range, from -1 (at the low) to +1 (at the high).

    WHY: a wick trap needs the rejection to hold into the close: a long lower wick whose bar still closes
    near its low is not a rejection. ``(close - low) / range`` in a rule would divide by zero on a flat bar;
    this defines it there as 0 (the middle). It is the CLV of the accumulation/distribution line.

    FORMULA: ((close - low) - (high - close)) / (high - low); 0 when high == low.
    """
    high, low, close = _f64(high, low, close)
    range_ = high - low
    clv = close - low
    clv -= high - close
    with np.errstate(divide="ignore", invalid="ignore"):
        clv /= range_
    clv[range_ == 0.0] = 0.0
    return clv


@last_value("close_location")
def _close_location_last(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> float:
    """``close_location`` at the newest bar."""
    h, lo, c = _newest(high, low, close)
    range_ = h - lo
    if range_ == 0.0:
        return 0.0
    return ieee_quotient((c - lo) - (h - c), range_)


# -- colour -----------------------------------------------------------------------------------------------


@indicator("bullish", inputs=("open", "close"), output="boolean", lookback=0, mirror="bearish")
def bullish(open_: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Bullish (up, green) bar: close > open. A doji (close == open) is neither bullish nor bearish."""
    open_, close = _f64(open_, close)
    return close > open_


@last_value("bullish")
def _bullish_last(open_: np.ndarray, close: np.ndarray) -> bool:
    """``bullish`` at the newest bar."""
    o, c = _newest(open_, close)
    return c > o


@indicator("bearish", inputs=("open", "close"), output="boolean", lookback=0, mirror="bullish")
def bearish(open_: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Bearish (down, red) bar: close < open. A doji (close == open) is neither bullish nor bearish."""
    open_, close = _f64(open_, close)
    return close < open_


@last_value("bearish")
def _bearish_last(open_: np.ndarray, close: np.ndarray) -> bool:
    """``bearish`` at the newest bar."""
    o, c = _newest(open_, close)
    return c < o


# -- engulfing --------------------------------------------------------------------------------------------


def _engulfing(open_: np.ndarray, close: np.ndarray, up: bool) -> np.ndarray:
    """Bullish (up) or bearish engulfing: one set of comparisons, with > and >= turned round for bearish.

    Written as gt/ge only, so the bearish pattern is the bullish one with every inequality reversed, which
    is exactly what price reflection does (and cheaper than comparing negated copies of the prices).
    """
    gt, ge = (np.greater, np.greater_equal) if up else (np.less, np.less_equal)
    o1, c1, po, pc = open_[1:], close[1:], open_[:-1], close[:-1]
    hit = gt(c1, o1)  # this bar has the colour of the pattern
    hit &= gt(po, pc)  # the previous bar has the opposite colour
    hit &= ge(pc, o1)  # the body covers the previous one at the open side ...
    hit &= ge(c1, po)  # ... and at the close side
    hit &= gt(pc, o1) | gt(c1, po)  # and is longer: not both edges equal
    out = np.zeros(len(open_), dtype=bool)  # False on the first bar: no previous bar to engulf
    out[1:] = hit
    return out


def _engulfing_last(po: float, pc: float, o: float, c: float, up: bool) -> bool:
    """``_engulfing`` for one bar (o, c) after its previous one (po, pc), on Python floats."""
    if not up:  # a > b turned round is b > a: the bearish pattern is the bullish one with operands swapped
        return o > c and pc > po and o >= pc and po >= c and (o > pc or po > c)
    return c > o and po > pc and pc >= o and c >= po and (pc > o or c > po)


@indicator("bullish_engulfing", inputs=("open", "close"), output="boolean", lookback=1,
           mirror="bearish_engulfing")
def bullish_engulfing(open_: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Bullish engulfing: a bearish bar followed by a bullish bar whose body covers it and is longer.

    WHY: buyers absorbed the whole previous selling leg and closed beyond where it started. On M1 the open
    usually equals (BTC: half of all bars) or sits within a tick of the previous close, so the definition
    must say what equality does: one edge of the new body may coincide with the old one (open == previous
    close is the normal case), but not both, since equal bodies engulf nothing (TA-Lib's CDLENGULFING rule).

    FORMULA, with the previous bar's open/close po, pc:
    pc < po and close > open and open <= pc and close >= po and (open < pc or close > po).
    A doji on either bar never qualifies. False on the first bar.
    """
    open_, close = _f64(open_, close)
    return _engulfing(open_, close, up=True)


@last_value("bullish_engulfing")
def _bullish_engulfing_last(open_: np.ndarray, close: np.ndarray) -> bool:
    """``bullish_engulfing`` at the newest bar (False when it is the data's first)."""
    if len(open_) < 2:
        return False
    return _engulfing_last(open_.item(-2), close.item(-2), open_.item(-1), close.item(-1), up=True)


@indicator("bearish_engulfing", inputs=("open", "close"), output="boolean", lookback=1,
           mirror="bullish_engulfing")
def bearish_engulfing(open_: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Bearish engulfing: a bullish bar followed by a bearish bar whose body covers it and is longer.

    WHY: the mirror of ``bullish_engulfing`` (see there for the equality rule).

    FORMULA, with the previous bar's open/close po, pc:
    pc > po and close < open and open >= pc and close <= po and (open > pc or close < po).
    False on the first bar.
    """
    open_, close = _f64(open_, close)
    return _engulfing(open_, close, up=False)


@last_value("bearish_engulfing")
def _bearish_engulfing_last(open_: np.ndarray, close: np.ndarray) -> bool:
    """``bearish_engulfing`` at the newest bar (False when it is the data's first)."""
    if len(open_) < 2:
        return False
    return _engulfing_last(open_.item(-2), close.item(-2), open_.item(-1), close.item(-1), up=False)


def _strong(engulfing: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
            body_ratio: float, min_body_frac: float) -> np.ndarray:
    """Clear the engulfing bars that fail the size tests (checked on those few bars only; t >= 1 there)."""
    t = np.flatnonzero(engulfing)
    body_ = np.abs(close[t] - open_[t])
    prev_body = np.abs(close[t - 1] - open_[t - 1])
    strong = (body_ >= body_ratio * prev_body) & (body_ >= min_body_frac * (high[t] - low[t]))
    engulfing[t[~strong]] = False
    return engulfing


def _strong_last(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, up: bool,
                 body_ratio: float, min_body_frac: float) -> bool:
    """``_strong(_engulfing(...))`` at the newest bar, on Python floats."""
    if len(open_) < 2:
        return False
    po, o, pc, c = open_.item(-2), open_.item(-1), close.item(-2), close.item(-1)
    if not _engulfing_last(po, pc, o, c, up):
        return False
    body_ = abs(c - o)
    return body_ >= body_ratio * abs(pc - po) and body_ >= min_body_frac * (high.item(-1) - low.item(-1))


@indicator("strong_bullish_engulfing", inputs=_OHLC, output="boolean", lookback=1, bounds=_STRONG,
           mirror="strong_bearish_engulfing")
def strong_bullish_engulfing(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                             body_ratio: float = 1.5, min_body_frac: float = 0.6) -> np.ndarray:
    """Strong bullish engulfing: bullish_engulfing with a decisively larger body and small wicks.

    WHY: the plan's trigger is a *strong* engulfing candle, and plain ones are common on M1 (83 a day on
    the bundled XAUUSD sample, 111 on BTCUSD), some barely larger than the bar they engulf. Strong asks that
    the new body be at least ``body_ratio`` times the previous body (1.5: the move clearly outsized the one
    it reversed) and at least ``min_body_frac`` of its own range (0.6: a near-marubozu that closed near its
    extreme, not a long-wicked bar that gave most of its move back). The defaults keep about half of the
    plain patterns (38 a day on XAUUSD, 69 on BTCUSD).

    FORMULA: bullish_engulfing and body >= body_ratio * body[t-1] and body >= min_body_frac * (high - low),
    with body = |close - open|. False on the first bar.
    """
    open_, high, low, close = _f64(open_, high, low, close)
    return _strong(_engulfing(open_, close, up=True), open_, high, low, close, body_ratio, min_body_frac)


@last_value("strong_bullish_engulfing")
def _strong_bullish_engulfing_last(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                                   body_ratio: float = 1.5, min_body_frac: float = 0.6) -> bool:
    """``strong_bullish_engulfing`` at the newest bar."""
    return _strong_last(open_, high, low, close, True, body_ratio, min_body_frac)


@indicator("strong_bearish_engulfing", inputs=_OHLC, output="boolean", lookback=1, bounds=_STRONG,
           mirror="strong_bullish_engulfing")
def strong_bearish_engulfing(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                             body_ratio: float = 1.5, min_body_frac: float = 0.6) -> np.ndarray:
    """Strong bearish engulfing: bearish_engulfing with a decisively larger body and small wicks.

    WHY: the mirror of ``strong_bullish_engulfing`` (see there for the defaults).

    FORMULA: bearish_engulfing and body >= body_ratio * body[t-1] and body >= min_body_frac * (high - low),
    with body = |close - open|. False on the first bar.
    """
    open_, high, low, close = _f64(open_, high, low, close)
    return _strong(_engulfing(open_, close, up=False), open_, high, low, close, body_ratio, min_body_frac)


@last_value("strong_bearish_engulfing")
def _strong_bearish_engulfing_last(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, *,
                                   body_ratio: float = 1.5, min_body_frac: float = 0.6) -> bool:
    """``strong_bearish_engulfing`` at the newest bar."""
    return _strong_last(open_, high, low, close, False, body_ratio, min_body_frac)
