"""Rolling helpers the rule language applies to any series: ``mean(range, 20)``, ``lag(close, 1)``, ...

All are window-exact (see ``indicators._rolling``): the value at t reads bars t - lookback .. t only. Each
has a newest-bar twin (``@last_value``) built on the newest-bar kernels of ``indicators._rolling``.
"""

from __future__ import annotations

import math

import numpy as np

from indicators import _rolling as r
from indicators._registry import indicator, last_value

__all__ = ["rolling_max_of", "rolling_mean_of", "rolling_min_of", "rolling_std_of", "rolling_sum_of"]

_WINDOW = {"window": (1, 100_000)}
_LIMIT = {"limit": (1, 100_000)}


@indicator("mean", inputs=("x",), output="number", lookback=lambda p: p["window"] - 1, bounds=_WINDOW)
def rolling_mean_of(x: np.ndarray, *, window: int = 20) -> np.ndarray:
    """Simple moving average: mean(x[t-window+1 .. t]); NaN until window bars exist."""
    return r.rolling_mean(x, window)


@last_value("mean")
def _rolling_mean_last(x: np.ndarray, *, window: int = 20) -> float:
    """``mean`` at the newest bar: the window's tree sum / window."""
    return r.last_window_mean(x, window)


@indicator("sum", inputs=("x",), output="number", lookback=lambda p: p["window"] - 1, bounds=_WINDOW)
def rolling_sum_of(x: np.ndarray, *, window: int = 20) -> np.ndarray:
    """Moving sum: sum(x[t-window+1 .. t])."""
    return r.rolling_sum(x, window)


@last_value("sum")
def _rolling_sum_last(x: np.ndarray, *, window: int = 20) -> float:
    """``sum`` at the newest bar, by the same tree of additions."""
    return r.last_window_sum(x, window)


@indicator("std", inputs=("x",), output="number", lookback=lambda p: p["window"] - 1,
           bounds={"window": (2, 100_000)})
def rolling_std_of(x: np.ndarray, *, window: int = 20) -> np.ndarray:
    """Population standard deviation over the window: sqrt(mean((x_i - mean(x))^2))."""
    return r.rolling_std(x, window)


@last_value("std")
def _rolling_std_last(x: np.ndarray, *, window: int = 20) -> float:
    """``std`` at the newest bar, by the same operations."""
    return r.last_window_std(x, window)


@indicator("highest", inputs=("x",), output="number", lookback=lambda p: p["window"] - 1, bounds=_WINDOW)
def rolling_max_of(x: np.ndarray, *, window: int = 20) -> np.ndarray:
    """Highest value over the window: max(x[t-window+1 .. t])."""
    return r.rolling_max(x, window)


@last_value("highest")
def _rolling_max_last(x: np.ndarray, *, window: int = 20) -> float:
    """``highest`` at the newest bar."""
    return r.last_window_max(x, window)


@indicator("lowest", inputs=("x",), output="number", lookback=lambda p: p["window"] - 1, bounds=_WINDOW)
def rolling_min_of(x: np.ndarray, *, window: int = 20) -> np.ndarray:
    """Lowest value over the window: min(x[t-window+1 .. t])."""
    return r.rolling_min(x, window)


@last_value("lowest")
def _rolling_min_last(x: np.ndarray, *, window: int = 20) -> float:
    """``lowest`` at the newest bar."""
    return r.last_window_min(x, window)


@indicator("lag", inputs=("x",), output="number", lookback=lambda p: p["bars"],
           bounds={"bars": (0, 100_000)})
def lag_of(x: np.ndarray, *, bars: int = 1) -> np.ndarray:
    """The value ``bars`` bars ago: x[t-bars]; NaN for the first ``bars`` bars. ``close[1]`` in rules."""
    return r.lag(np.asarray(x, dtype=np.float64), bars)


@last_value("lag")
def _lag_last(x: np.ndarray, *, bars: int = 1) -> float:
    """``lag`` at the newest bar: the value ``bars`` bars before it."""
    return float(x[-1 - bars]) if len(x) > bars else math.nan


@indicator("bars_since", inputs=("cond",), output="number", lookback=lambda p: p["limit"], bounds=_LIMIT)
def bars_since_of(cond: np.ndarray, *, limit: int = 1440) -> np.ndarray:
    """Bars since cond was last true (0 on a true bar); NaN if not true within the last ``limit`` bars."""
    return r.bars_since(cond, limit)


@last_value("bars_since")
def _bars_since_last(cond: np.ndarray, *, limit: int = 1440) -> float:
    """The distance back to the newest true bar among the last limit + 1, by one ``argmax`` (first true)."""
    recent = np.asarray(cond, dtype=bool)[-1:-limit - 2:-1]  # newest first
    back = int(recent.argmax()) if len(recent) else 0
    return float(back) if len(recent) and recent[back] else math.nan


@indicator("held_for", inputs=("cond",), output="number", lookback=lambda p: p["limit"] - 1, bounds=_LIMIT)
def held_for_of(cond: np.ndarray, *, limit: int = 1440) -> np.ndarray:
    """Persistence: consecutive bars cond has been true up to and including t, capped at ``limit``."""
    return r.run_length(cond, limit)


@last_value("held_for")
def _held_for_last(cond: np.ndarray, *, limit: int = 1440) -> float:
    """The trues ending at the newest bar among the last ``limit``, by one ``argmin`` (first false)."""
    recent = np.asarray(cond, dtype=bool)[-1:-limit - 1:-1]  # newest first
    run = int(recent.argmin()) if len(recent) else 0
    return float(run if len(recent) and not recent[run] else len(recent))
