"""Spread against its recent normal: the 100-bar mean and deviation, the ratio, and the pre-trade check.

The plan's spread tracker keeps the last 100 M1 spreads and blocks a trade when the current spread exceeds
1.5x their average (2x while volume is low). Here the baseline is the ``window`` bars *before* t, the
current bar excluded: a spike is judged against the normal that preceded it, and cannot dilute its own
baseline (a 3x spike in a 100-bar mean that includes it reads 2.94x; in a 20-bar window, 2.5x).

Units are the candles' (dollars for gold). MT5's per-bar spread is the lowest of the bar (a lower bound),
Dukascopy's the minute's mean; rules compare ratios, so both work. Spot BTC files carry no spread (zeros):
every ratio is then NaN and ``spread_ok`` is true (a zero spread never widens).
"""

from __future__ import annotations

import numpy as np

from indicators._registry import indicator, last_value
from indicators._rolling import (
    last_preceding_mean,
    last_preceding_std,
    preceding_mean,
    preceding_std,
    safe_divide,
    safe_quotient,
)
from indicators._select import select
from indicators.volume import _low_volume_last, low_volume

__all__ = ["spread_mean", "spread_ok", "spread_ratio", "spread_std", "spread_zscore"]

_WINDOW = {"window": (1, 100_000)}
_STD_WINDOW = {"window": (2, 100_000)}


@indicator(inputs=("spread",), output="number", lookback=lambda p: p["window"], bounds=_WINDOW,
           mirror="spread_mean")
def spread_mean(spread: np.ndarray, *, window: int = 100) -> np.ndarray:
    """Normal spread: the mean spread of the ``window`` bars before t (the plan's 100-bar average).

    Why: a spread limit in dollars means something different at every price level and broker; against
    the recent average it adapts. The current bar is excluded (module docstring). NaN for t < window.

    Formula: mean(spread[t-window .. t-1]).
    """
    return preceding_mean(spread, window)


@last_value("spread_mean")
def _spread_mean_last(spread: np.ndarray, *, window: int = 100) -> float:
    """``spread_mean`` at the newest bar."""
    return last_preceding_mean(spread, window)


@indicator(inputs=("spread",), output="number", lookback=lambda p: p["window"], bounds=_STD_WINDOW,
           mirror="spread_std")
def spread_std(spread: np.ndarray, *, window: int = 100) -> np.ndarray:
    """Spread volatility: population standard deviation of the spread over the ``window`` bars before t.

    Why: the plan's watchpoint wants a rolling spread std-dev filter, so that an erratic spread (Asian
    session, news) blocks micro-scalps before a single wide print does. Exactly 0 when the window's spreads
    are all equal (common in MT5 data, where the spread is a whole number of points).

    Formula: sqrt(mean((s_i - m)^2)) over s_i = spread[t-window .. t-1], m their mean.
    """
    return preceding_std(spread, window)


@last_value("spread_std")
def _spread_std_last(spread: np.ndarray, *, window: int = 100) -> float:
    """``spread_std`` at the newest bar."""
    return last_preceding_std(spread, window)


@indicator(inputs=("spread",), output="number", lookback=lambda p: p["window"], bounds=_WINDOW,
           mirror="spread_ratio")
def spread_ratio(spread: np.ndarray, *, window: int = 100) -> np.ndarray:
    """Current spread over its normal: 1 is usual, 1.5 the plan's default limit.

    Why: the plan's ``get_spread_ratio``, the quantity its ``max_spread_ratio`` bounds. NaN while the
    normal is undefined or 0 (no spread data).

    Formula: spread[t] / spread_mean(window)[t].
    """
    return safe_divide(spread, preceding_mean(spread, window))


@last_value("spread_ratio")
def _spread_ratio_last(spread: np.ndarray, *, window: int = 100) -> float:
    """``spread_ratio`` at the newest bar."""
    return safe_quotient(spread.item(-1), last_preceding_mean(spread, window))


@indicator(inputs=("spread",), output="number", lookback=lambda p: p["window"], bounds=_STD_WINDOW,
           mirror="spread_zscore")
def spread_zscore(spread: np.ndarray, *, window: int = 100) -> np.ndarray:
    """How unusual the current spread is, in standard deviations of the ``window`` bars before t.

    Why: a ratio of 1.5 is alarming for a steady spread and noise for an erratic one; the z-score scales
    by the spread's own variability. NaN when that variability is 0 (a constant spread, frequent in MT5
    data): there the z-score says nothing, use ``spread_ratio`` or ``spread_ok``.

    Formula: (spread[t] - spread_mean(window)[t]) / spread_std(window)[t].
    """
    return safe_divide(np.asarray(spread, dtype=np.float64) - preceding_mean(spread, window),
                   preceding_std(spread, window))


@last_value("spread_zscore")
def _spread_zscore_last(spread: np.ndarray, *, window: int = 100) -> float:
    """``spread_zscore`` at the newest bar."""
    return safe_quotient(spread.item(-1) - last_preceding_mean(spread, window),
                         last_preceding_std(spread, window))


@indicator(inputs=("spread", "volume"), output="boolean",
           lookback=lambda p: max(p["window"], p["volume_window"]),
           bounds={**_WINDOW, "max_ratio": (1.0, 1000.0), "max_ratio_low_volume": (1.0, 1000.0),
                   "volume_window": (1, 100_000), "low_volume_threshold": (0.0, 1.0)},
           mirror="spread_ok")
def spread_ok(
    spread: np.ndarray,
    volume: np.ndarray,
    *,
    window: int = 100,
    max_ratio: float = 1.5,
    max_ratio_low_volume: float = 2.0,
    volume_window: int = 20,
    low_volume_threshold: float = 0.5,
) -> np.ndarray:
    """Pre-trade spread check: the spread is within ``max_ratio`` of its normal (``max_ratio_low_volume`` on
    a low-volume bar).

    Why: the plan's ``is_spread_acceptable`` with its "spread widening during low volume" mitigation: block
    when the spread exceeds 1.5x its 100-bar average, but in a thin market, where spreads widen as a
    matter of course, tolerate up to 2x before blocking. Defaults are the plan's ``max_spread_ratio``,
    ``max_spread_ratio_low_volume`` and ``low_volume_threshold_multiplier``. A bar is low-volume when
    ``low_volume(volume_window, low_volume_threshold)`` holds; where that is undefined the strict limit
    applies. False while the spread normal is undefined (warm-up, NaN spreads): no trade on an unknown spread.
    A zero spread against a zero normal passes (nothing widened).

    Formula: spread[t] <= limit * spread_mean(window)[t], limit = max_ratio_low_volume if
    volume_ratio(volume_window)[t] <= low_volume_threshold else max_ratio.
    """
    quiet = low_volume(volume, window=volume_window, threshold=low_volume_threshold)
    limit = select(quiet, max_ratio_low_volume, max_ratio)
    return np.asarray(spread, dtype=np.float64) <= limit * preceding_mean(spread, window)


@last_value("spread_ok")
def _spread_ok_last(
    spread: np.ndarray,
    volume: np.ndarray,
    *,
    window: int = 100,
    max_ratio: float = 1.5,
    max_ratio_low_volume: float = 2.0,
    volume_window: int = 20,
    low_volume_threshold: float = 0.5,
) -> bool:
    """``spread_ok`` at the newest bar."""
    quiet = _low_volume_last(volume, window=volume_window, threshold=low_volume_threshold)
    limit = max_ratio_low_volume if quiet else max_ratio
    return spread.item(-1) <= limit * last_preceding_mean(spread, window)
