"""Checks that M1 candles are usable, with an error that points at the first bad row.

Every check is one vectorised pass over a column (no Python loop over bars); only when a mask has a hit is
the index of its first ``True`` taken to build the message. When several checks fail, the problem on the
earliest row wins, and on the same row the order below decides:

1. a non-finite value (NaN, inf) in a price, volume or spread column;
2. ``high < max(open, close)``, then ``low > min(open, close)``;
3. a negative volume, spread, taker-buy volume or real volume;
4. ``taker_buy_volume > volume`` (beyond a relative 1e-9 for float noise): a taker share above 100 %;
5. time not strictly increasing: a duplicate, or a bar earlier than the one before it.

Gaps in time (weekends, the daily break, quiet minutes) are normal market closures and are *not* checked.
The reason reads like ``high 2031.2 is below max(open, close) = 2031.5``; the caller adds ``path:line``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ruleengine.data.candles import OPTIONAL_COLUMNS, PRICE_COLUMNS, Candles
from ruleengine.errors import DataError

__all__ = ["Problem", "first_problem", "format_time", "format_value", "validate_candles"]

#: (row index, reason): the first offending row of an array set and what is wrong with it.
Problem = tuple[int, str]

_NON_NEGATIVE = ("volume", "spread", "taker_buy_volume", "real_volume")
_TAKER_TOLERANCE = 1e-9


def format_value(value: float) -> str:
    """Shortest text that reads back as the same float (``2031.2``, ``nan``, ``-inf``)."""
    return repr(float(value))


def format_time(seconds: int) -> str:
    """UTC epoch seconds as ``2024-01-02T00:00:00Z``."""
    return f"{np.datetime64(int(seconds), 's')}Z"


def _first(mask: np.ndarray) -> int | None:
    """Index of the first True, or None; ``argmax`` stops scanning at the first hit of a bool array."""
    if mask.size == 0:
        return None
    i = int(np.argmax(mask))
    return i if mask[i] else None


def first_problem(
    columns: Mapping[str, np.ndarray], *, other_row: Callable[[int], str] | None = None
) -> Problem | None:
    """The earliest offending row of candle columns and its reason, or ``None`` when all checks pass.

    ``columns`` holds ``time`` (int64 epoch seconds), the four prices, ``volume``, ``spread`` and optionally
    ``taker_buy_volume`` / ``real_volume``. ``other_row(i)`` names another row in a reason (``line 16`` for a
    file, ``index 15`` for an array); it defaults to ``row i``.
    """
    describe = other_row or (lambda i: f"row {i}")
    found: list[tuple[int, int, str]] = []  # (row, priority, reason)

    def add(priority: int, mask: np.ndarray, reason: Callable[[int], str]) -> None:
        i = _first(mask)
        if i is not None:
            found.append((i, priority, reason(i)))

    present = [c for c in (*PRICE_COLUMNS, "volume", "spread", *OPTIONAL_COLUMNS) if columns.get(c) is not None]
    for name in present:
        x = columns[name]
        add(0, ~np.isfinite(x), lambda i, x=x, name=name: f"{name} is {format_value(x[i])}; prices, volumes and "
                                                            "spreads must be finite numbers")

    o, h, lo, c = (columns[k] for k in PRICE_COLUMNS)
    top = np.maximum(o, c)
    bottom = np.minimum(o, c)
    add(1, h < top, lambda i: f"high {format_value(h[i])} is below max(open, close) = {format_value(top[i])}")
    add(2, lo > bottom, lambda i: f"low {format_value(lo[i])} is above min(open, close) = {format_value(bottom[i])}")

    for name in _NON_NEGATIVE:
        x = columns.get(name)
        if x is not None:
            add(3, x < 0, lambda i, x=x, name=name: f"{name} {format_value(x[i])} is negative")

    taker, volume = columns.get("taker_buy_volume"), columns.get("volume")
    if taker is not None and volume is not None:
        add(4, taker > volume * (1 + _TAKER_TOLERANCE) + 1e-12,
            lambda i: f"taker_buy_volume {format_value(taker[i])} exceeds volume {format_value(volume[i])}")

    t = np.asarray(columns["time"], dtype=np.int64)
    if t.size > 1:
        step = np.diff(t)

        def order_reason(j: int) -> str:
            prev = describe(j - 1)
            if step[j - 1] == 0:
                return f"duplicate time {format_time(t[j])} (same as {prev}); each minute may appear once"
            return (f"time {format_time(t[j])} is earlier than {format_time(t[j - 1])} on {prev}; "
                    "bars must be in ascending time order")

        i = _first(step <= 0)
        if i is not None:
            found.append((i + 1, 5, order_reason(i + 1)))

    if not found:
        return None
    row, _, reason = min(found)
    return row, reason


def validate_candles(candles: Candles, *, path: str | Path | None = None, lines: np.ndarray | None = None) -> None:
    """Raise :class:`DataError` for the first bad bar of ``candles``; return quietly when all checks pass.

    ``lines[i]`` is the 1-based file line of bar ``i`` (header = line 1) so the error reads
    ``data.csv:17: ...``; without ``lines`` the bar's 0-based index goes into the reason instead.
    """
    if len(candles) == 0:
        raise DataError("no bars", path=path)
    cols = {name: getattr(candles, name) for name in candles.columns}
    if lines is not None:
        problem = first_problem(cols, other_row=lambda i: f"line {int(lines[i])}")
        if problem is not None:
            raise DataError(problem[1], path=path, line=int(lines[problem[0]]))
        return
    problem = first_problem(cols, other_row=lambda i: f"index {i}")
    if problem is not None:
        raise DataError(f"index {problem[0]}: {problem[1]}", path=path)
