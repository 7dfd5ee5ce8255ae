"""Trading sessions and the day- and session-anchored price levels the location filter calls "edges".

Sessions are UTC windows ``[start, end)`` passed as one compact string, ``windows``, because an indicator never
reads configuration: ``"asian=23:00-07:00,london=07:00-12:00,new_york=12:00-21:00,post_ny=21:00-23:00"``
(the default, equal to ``config/sessions.yaml``; the rule compiler injects the configured string). A window may
wrap midnight; windows may not overlap; the order gives the session id (0 = asian, ...).

An *occurrence* of a session is that session on one date: the bars of session s at time t belong to occurrence
floor((t - start_s) / 86400), so a window that wraps midnight stays one occurrence and a missing minute inside
it does not split it. The *trading day* starts at ``anchor`` UTC (``"00:00"`` by default); for gold,
``anchor="22:00"`` puts Sunday's open and each daily break (21-22 or 22-23 UTC) at the day boundary.

The plan's location filter wants price "at an edge": prior session high/low, intraday high/low, PDH/PDL. Each is
a price level here, so nearness reads ``abs(close - prior_session_high("london")) <= 0.5``. Levels of a
completed segment (previous day, prior session) are NaN when that segment started ``lookback`` or more bars
before t, which keeps every value window-exact: it depends on bars ``t - lookback .. t`` only.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from indicators import _rolling as r
from indicators._registry import indicator, last_value
from indicators._shared import shared

__all__ = [
    "DEFAULT_WINDOWS",
    "PREVIOUS",
    "day_first_bars",
    "first_bars_at",
    "in_session",
    "intraday_high",
    "intraday_low",
    "newest_day_start",
    "previous_day_high",
    "previous_day_low",
    "prior_session_high",
    "prior_session_low",
    "session_high",
    "session_id",
    "session_low",
]

#: config/sessions.yaml in the compact form indicators take (a test keeps the two equal).
DEFAULT_WINDOWS = "asian=23:00-07:00,london=07:00-12:00,new_york=12:00-21:00,post_ny=21:00-23:00"
#: ``session=PREVIOUS`` in prior_session_high/low: the occurrence of whichever session came before.
PREVIOUS = "previous"
_DAY = 1440  # minutes (and at most this many M1 bars) in a day


@dataclass(frozen=True, eq=False)
class _Windows:
    """Parsed session windows: names in id order, start minute and length in minutes, ``label`` (the session
    id of each second of the UTC day, -1 outside every window; 86,400 entries, built once per string) and
    ``edges`` (the seconds of the day where some window starts or ends, sorted)."""

    names: tuple[str, ...]
    starts: tuple[int, ...]
    lengths: tuple[int, ...]
    label: np.ndarray
    edges: np.ndarray

    def index(self, session: str) -> int:
        try:
            return self.names.index(session)
        except ValueError:
            raise ValueError(f"unknown session {session!r}; sessions: {', '.join(self.names)}") from None

    def length(self, session: str) -> int:
        """Minutes of ``session``; for ``"previous"`` the longest window."""
        return max(self.lengths) if session == PREVIOUS else self.lengths[self.index(session)]


@functools.lru_cache(maxsize=64)
def _parse_windows(windows: str) -> _Windows:
    """Parse ``"name=HH:MM-HH:MM,..."``; ``ValueError`` saying what is wrong and how to write it."""
    form = "write windows as 'name=HH:MM-HH:MM' entries separated by commas, e.g. 'london=07:00-12:00'"
    names: list[str] = []
    starts: list[int] = []
    lengths: list[int] = []
    by_minute = np.full(_DAY, -1, dtype=np.int8)
    entries = [e.strip() for e in windows.split(",")]
    if not any(entries):
        raise ValueError(f"no session windows given; {form}")
    for entry in entries:
        name, eq, span = (s.strip() for s in entry.partition("="))
        begin, dash, end = (s.strip() for s in span.partition("-"))
        if not (eq and dash and name):
            raise ValueError(f"bad session window {entry!r}; {form}")
        if not name.isidentifier() or name == PREVIOUS:
            raise ValueError(f"bad session name {name!r}: use letters, digits and _ (and not {PREVIOUS!r})")
        if name in names:
            raise ValueError(f"session {name!r} is given twice in {windows!r}")
        start, stop = r.parse_hhmm(begin) % _DAY, r.parse_hhmm(end)
        length = _DAY if (start, stop) == (0, _DAY) else (stop - start) % _DAY
        if length == 0:
            raise ValueError(f"session {name!r} starts and ends at {begin}; write 00:00-24:00 for a whole day")
        minutes = (start + np.arange(length)) % _DAY
        taken = by_minute[minutes]
        if (taken >= 0).any():
            first = int(np.flatnonzero(taken >= 0)[0])
            at = int(minutes[first])
            raise ValueError(f"sessions {names[taken[first]]!r} and {name!r} overlap at {at // 60:02d}:{at % 60:02d}"
                             f" UTC; windows must not overlap")
        if len(names) == np.iinfo(np.int8).max:
            raise ValueError("too many sessions (at most 127)")
        by_minute[minutes] = len(names)
        names.append(name)
        starts.append(start)
        lengths.append(length)
    label = np.repeat(by_minute, 60)
    edges = np.unique([m * 60 % 86_400 for a, n in zip(starts, lengths, strict=True) for m in (a, a + n)])
    for table in (label, edges):
        table.flags.writeable = False
    return _Windows(tuple(names), tuple(starts), tuple(lengths), label, edges)


@shared  # every session indicator of an evaluation reads the same clock
def _second_of_day(time: np.ndarray) -> np.ndarray:
    return np.asarray(time, dtype=np.int64) % 86_400


def first_bars_at(time: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of bar 0 and of the first bar at or after each daily boundary (``edges``: sorted seconds of the UTC
    day), without repeats: where segments cut at those times of day start, for increasing ``time``.

    Equal to ``flatnonzero(segment_starts(keys))`` for keys that change exactly at the boundaries, but with one
    binary search per boundary and day instead of arithmetic on every bar (the per-bar divisions cost ~4 ms per
    1M bars; this costs microseconds). A candidate for ``_rolling``.
    """
    t = np.asarray(time, dtype=np.int64)
    if len(t) == 0:
        return np.zeros(0, dtype=np.intp)
    days = np.arange(t[0] // 86_400, t[-1] // 86_400 + 1, dtype=np.int64)
    found = np.searchsorted(t, (days[:, None] * 86_400 + np.asarray(edges, dtype=np.int64)).ravel())
    firsts = np.concatenate([[0], found[found < len(t)]])
    return firsts[np.append(True, firsts[1:] != firsts[:-1])]


@shared  # the VWAP family, intraday and previous-day levels share one day segmentation per evaluation
def day_first_bars(time: np.ndarray, anchor: str) -> np.ndarray:
    """Index of the first bar of each trading day, days starting at ``anchor`` ("HH:MM" UTC)."""
    return first_bars_at(time, np.array([r.parse_hhmm(anchor) * 60 % 86_400]))


@shared  # prior and running session levels share one segmentation per evaluation
def _occurrences(time: np.ndarray, windows: str) -> tuple[np.ndarray, np.ndarray]:
    """The first bar of each session occurrence (and of each run of bars outside every window), and its
    session id (-1 outside)."""
    w = _parse_windows(windows)
    firsts = first_bars_at(time, w.edges)
    return firsts, w.label[_second_of_day(np.asarray(time)[firsts])]


def _running(price: np.ndarray, firsts: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """``ufunc.accumulate`` restarted at each of ``firsts`` (a loop over segments, each exact on its own)."""
    x = np.asarray(price, dtype=np.float64)
    out = np.empty_like(x)
    for a, b in itertools.pairwise([*firsts.tolist(), len(x)]):
        ufunc.accumulate(x[a:b], out=out[a:b])
    return out


def _completed_extreme(
    n_bars: int, first: np.ndarray, last: np.ndarray, extreme: np.ndarray, lookback: int,
) -> np.ndarray:
    """Per bar t, ``extreme[j]`` of the last segment j with ``last[j] < t`` (segments in time order); NaN when
    there is none or ``t - first[j] >= lookback``.

    Bars whose answer is segment j form one run, ``last[j] + 1 .. last[j + 1]``, valid up to
    ``first[j] + lookback - 1``: the output is built by one ``np.repeat`` of (value, NaN) pairs, no loop.
    """
    if len(first) == 0:
        return np.full(n_bars, np.nan)
    begin = last + 1
    stop = np.append(last[1:] + 1, n_bars)
    valid = np.clip(first + lookback - begin, 0, stop - begin)
    values = np.full(2 * len(first) + 1, np.nan)
    values[1::2] = extreme
    counts = np.empty(2 * len(first) + 1, dtype=np.intp)
    counts[0] = begin[0]
    counts[1::2] = valid
    counts[2::2] = stop - begin - valid
    return np.repeat(values, counts)


def _prior_session_extreme(
    time: np.ndarray, price: np.ndarray, windows: str, session: str, ufunc: np.ufunc,
) -> np.ndarray:
    w = _parse_windows(windows)
    firsts, labels = _occurrences(time, windows)
    n = len(time)
    lasts = np.append(firsts[1:] - 1, n - 1)
    extreme = ufunc.reduceat(np.asarray(price, dtype=np.float64), firsts) if n else np.zeros(0)
    chosen = labels >= 0 if session == PREVIOUS else labels == w.index(session)
    return _completed_extreme(n, firsts[chosen], lasts[chosen], extreme[chosen],
                              _prior_session_lookback(windows, session))


def _prior_session_lookback(windows: str, session: str) -> int:
    # A bar sees the prior occurrence start at most a day plus the session's length, minus one minute, earlier.
    return _DAY + _parse_windows(windows).length(session)


def _intraday(time: np.ndarray, price: np.ndarray, anchor: str, ufunc: np.ufunc) -> np.ndarray:
    return _running(price, day_first_bars(time, anchor), ufunc)


def _previous_day(time: np.ndarray, price: np.ndarray, anchor: str, ufunc: np.ufunc) -> np.ndarray:
    firsts = day_first_bars(time, anchor)
    if len(firsts) == 0:
        return np.full(0, np.nan)
    lasts = np.append(firsts[1:] - 1, len(time) - 1)
    extreme = ufunc.reduceat(np.asarray(price, dtype=np.float64), firsts)
    return _completed_extreme(len(time), firsts, lasts, extreme, 2 * _DAY)


def _session_running(time: np.ndarray, price: np.ndarray, windows: str, ufunc: np.ufunc) -> np.ndarray:
    firsts, labels = _occurrences(time, windows)
    x = np.asarray(price, dtype=np.float64)
    out = np.empty_like(x)
    for a, b, label in zip(firsts.tolist(), [*firsts[1:].tolist(), len(x)], labels.tolist(), strict=True):
        if label < 0:
            out[a:b] = np.nan
        else:
            ufunc.accumulate(x[a:b], out=out[a:b])
    return out


def _session_lookback(p: Mapping[str, Any]) -> int:
    return _prior_session_lookback(p["windows"], p["session"])


def _longest_session(p: Mapping[str, Any]) -> int:
    return max(_parse_windows(p["windows"]).lengths) - 1


# -- which session ------------------------------------------------------------------------------------------


@indicator(inputs=("time",), output="number", lookback=0, mirror="session_id", mirror_kind="same")
def session_id(time: np.ndarray, *, windows: str = DEFAULT_WINDOWS) -> np.ndarray:
    """Index of the bar's session in ``windows`` (0 = asian with the default windows); NaN outside every window.

    Why: one number to branch on in rules (session-adaptive thresholds, ``session_id == 1``); ``in_session``
    reads better for a single session.
    Formula: the window holding the minute of day ((t // 60) mod 1440) of the bar's open time t, UTC.
    """
    w = _parse_windows(windows)
    ids = np.where(w.label >= 0, w.label, np.nan)
    return ids[_second_of_day(time)]


@indicator(inputs=("time",), output="boolean", lookback=0, mirror="in_session", mirror_kind="same")
def in_session(time: np.ndarray, *, session: str = "london", windows: str = DEFAULT_WINDOWS) -> np.ndarray:
    """True while the bar opens inside the named session's window.

    Why: the plan's session filter (no micro-scalps in post-NY, 21-23 UTC) and its session-quality score
    (London/NY active, Asian quiet): ``not in_session("post_ny")``.
    Formula: start <= minute of day of t < end, with windows that wrap midnight taken modulo 1440 minutes.
    """
    lo, hi = _session_seconds(windows, session)
    second = _second_of_day(time)
    inside = second >= lo
    if hi <= 86_400:
        inside &= second < hi
    else:  # the window wraps midnight: the seconds from lo on, and those before hi - 1 day
        inside |= second < hi - 86_400
    return inside


@functools.lru_cache(maxsize=256)
def _session_seconds(windows: str, session: str) -> tuple[int, int]:
    """``session``'s window as seconds of the UTC day [lo, hi), hi > 86400 when it wraps midnight.

    ``in_session`` and its twin compare with these (two passes over the bars; a gather from a per-second
    mask was ~4x slower, measured): "the bar's minute of day lies in the window".
    """
    w = _parse_windows(windows)
    i = w.index(session)
    lo = w.starts[i] * 60
    return lo, lo + w.lengths[i] * 60


# -- edges of the current and prior sessions ----------------------------------------------------------------


@indicator(inputs=("time", "high"), output="number", lookback=_longest_session,
           mirror="session_low", mirror_kind="reflect")
def session_high(time: np.ndarray, high: np.ndarray, *, windows: str = DEFAULT_WINDOWS) -> np.ndarray:
    """Running high of the current session occurrence, bar t included; NaN outside every window.

    Why: the developing session range, e.g. a sweep of the London high while London is still open.
    Formula: max(high[i]) over the bars i <= t of t's session occurrence.
    """
    return _session_running(time, high, windows, np.maximum)


@indicator(inputs=("time", "low"), output="number", lookback=_longest_session,
           mirror="session_high", mirror_kind="reflect")
def session_low(time: np.ndarray, low: np.ndarray, *, windows: str = DEFAULT_WINDOWS) -> np.ndarray:
    """Running low of the current session occurrence, bar t included; NaN outside every window.

    Why: the developing session range (see ``session_high``).
    Formula: min(low[i]) over the bars i <= t of t's session occurrence.
    """
    return _session_running(time, low, windows, np.minimum)


@indicator(inputs=("time", "high"), output="number", lookback=_session_lookback,
           mirror="prior_session_low", mirror_kind="reflect")
def prior_session_high(
    time: np.ndarray, high: np.ndarray, *, session: str = PREVIOUS, windows: str = DEFAULT_WINDOWS,
) -> np.ndarray:
    """High of the last completed occurrence of ``session`` before the bar's own (a location-filter edge).

    Why: the plan's "prior session high/low (London/NY session extremes)". ``session="london"`` during New York
    is today's London high; during London it is the previous London (Friday's on a Monday). The default,
    ``"previous"``, takes the occurrence of whichever session came last before the bar's own (London during
    New York, Asian during London).
    Formula: max(high) over the bars of that occurrence, which ended before t; NaN when there is none or it
    started more than 1440 + (session length in minutes) - 1 bars before t (the lookback).
    """
    return _prior_session_extreme(time, high, windows, session, np.maximum)


@indicator(inputs=("time", "low"), output="number", lookback=_session_lookback,
           mirror="prior_session_high", mirror_kind="reflect")
def prior_session_low(
    time: np.ndarray, low: np.ndarray, *, session: str = PREVIOUS, windows: str = DEFAULT_WINDOWS,
) -> np.ndarray:
    """Low of the last completed occurrence of ``session`` before the bar's own (a location-filter edge).

    Why: the plan's "prior session high/low"; see ``prior_session_high`` for which occurrence is meant.
    Formula: min(low) over the bars of that occurrence; NaN when there is none within the lookback.
    """
    return _prior_session_extreme(time, low, windows, session, np.minimum)


# -- edges of the trading day -------------------------------------------------------------------------------


@indicator(inputs=("time", "high"), output="number", lookback=_DAY - 1,
           mirror="intraday_low", mirror_kind="reflect")
def intraday_high(time: np.ndarray, high: np.ndarray, *, anchor: str = "00:00") -> np.ndarray:
    """Today's high so far, bar t included, the trading day starting at ``anchor`` UTC (a location-filter edge).

    Why: the plan's "intraday range high/low (today's high/low)"; a fade or a sweep happens at it.
    Formula: max(high[i]) over the bars i <= t with floor((time[i] - anchor) / 86400) equal to t's.
    """
    return _intraday(time, high, anchor, np.maximum)


@indicator(inputs=("time", "low"), output="number", lookback=_DAY - 1,
           mirror="intraday_high", mirror_kind="reflect")
def intraday_low(time: np.ndarray, low: np.ndarray, *, anchor: str = "00:00") -> np.ndarray:
    """Today's low so far, bar t included, the trading day starting at ``anchor`` UTC (a location-filter edge).

    Why: see ``intraday_high``.
    Formula: min(low[i]) over the bars i <= t of t's trading day.
    """
    return _intraday(time, low, anchor, np.minimum)


@indicator(inputs=("time", "high"), output="number", lookback=2 * _DAY,
           mirror="previous_day_low", mirror_kind="reflect")
def previous_day_high(time: np.ndarray, high: np.ndarray, *, anchor: str = "00:00") -> np.ndarray:
    """PDH: the high of the previous trading day that has bars (Friday's on a Monday when the weekend is empty).

    Why: the plan's liquidity edges (PDH/PDL). Days start at ``anchor`` UTC; for gold use ``"22:00"`` so that
    Sunday evening's bars open Monday's day instead of forming a two-hour "day" of their own.
    Formula: max(high) over the bars of the last day before t's day that holds bars; NaN when that day started
    2880 bars or more before t (two full days of M1 bars, the lookback).
    """
    return _previous_day(time, high, anchor, np.maximum)


@indicator(inputs=("time", "low"), output="number", lookback=2 * _DAY,
           mirror="previous_day_high", mirror_kind="reflect")
def previous_day_low(time: np.ndarray, low: np.ndarray, *, anchor: str = "00:00") -> np.ndarray:
    """PDL: the low of the previous trading day that has bars.

    Why: see ``previous_day_high``.
    Formula: min(low) over the bars of the last day before t's day that holds bars; NaN beyond the lookback.
    """
    return _previous_day(time, low, anchor, np.minimum)


# -- newest-bar twins (``@last_value``): the value at the newest bar of a live window ------------------------
# A live decision needs these levels at one bar, on a window of up to 2881 bars. Each twin finds the one or two
# segments that matter (the newest bar's day, the day before it, the prior session occurrence) by a binary
# search for the boundary before a bar, and reduces only their bars. A max or min does not round, so one
# reduction equals the array function's accumulate / reduceat except, possibly, for the sign of a zero result:
# a zero is recomputed with the array function's own operation on the same bars.


@functools.lru_cache(maxsize=64)
def _anchor_second(anchor: str) -> int:
    """Second of the UTC day where the trading day starts (``ValueError`` on a bad anchor)."""
    return r.parse_hhmm(anchor) * 60 % 86_400


@functools.lru_cache(maxsize=64)
def _edge_list(windows: str) -> tuple[int, ...]:
    """``_Windows.edges`` as Python ints, for ``bisect``."""
    return tuple(_parse_windows(windows).edges.tolist())


def _segment_first(t: np.ndarray, i: int, edges: tuple[int, ...]) -> int:
    """Index of the first bar of bar i's segment, segments cut at the times of day ``edges`` (sorted seconds):
    the first bar at or after the last such time <= time[i]; the same cut as :func:`first_bars_at`."""
    s = int(t[i])
    sod = s % 86_400
    k = bisect.bisect_right(edges, sod) - 1
    cut = s - sod + edges[k] if k >= 0 else s - sod - 86_400 + edges[-1]
    return int(t.searchsorted(cut))


@shared  # the intraday, VWAP and CVD twins of a decision read the same window
def newest_day_start(time: np.ndarray, anchor: str) -> int:
    """Index of the first bar of the newest bar's trading day (``day_first_bars(time, anchor)[-1]``)."""
    t = np.asarray(time, dtype=np.int64)
    return _segment_first(t, len(t) - 1, (_anchor_second(anchor),))


def _reduce_last(price: np.ndarray, ufunc: np.ufunc, *, running: bool) -> float:
    """``ufunc`` over all of ``price`` (a segment), as the array function's ``accumulate``'s last value
    (``running``) or its ``reduceat``; a zero result is recomputed that way to get the sign of the zero."""
    x = np.asarray(price, dtype=np.float64)
    value = float(ufunc.reduce(x))
    if value == 0.0:
        value = float(ufunc.accumulate(x)[-1] if running else ufunc.reduceat(x, [0])[0])
    return value


@shared  # previous_day_high and previous_day_low read the same day
def _previous_day_span(time: np.ndarray, anchor: str) -> tuple[int, int] | None:
    """(first, stop) bar indices of the day before the newest bar's day; None when there is none in
    ``time`` or it started 2880 bars or more before the newest bar (the array function gives NaN)."""
    t = np.asarray(time, dtype=np.int64)
    edges = (_anchor_second(anchor),)
    stop = _segment_first(t, len(t) - 1, edges)
    if stop == 0:
        return None
    first = _segment_first(t, stop - 1, edges)
    return None if len(t) - 1 - first >= 2 * _DAY else (first, stop)


@shared  # prior_session_high and prior_session_low read the same occurrence
def _prior_occurrence_span(time: np.ndarray, windows: str, session: str) -> tuple[int, int] | None:
    """(first, stop) bar indices of the last completed occurrence of ``session`` before the newest bar's own;
    None when there is none or it started ``lookback`` bars or more before the newest bar.

    Walks back over the segments of :func:`_occurrences` (cut at every window edge) from the newest bar's own:
    one binary search per segment, a handful within the lookback. A segment's session is the label of any of
    its bars (labels change only at edges), here its last one.
    """
    w = _parse_windows(windows)
    wanted = None if session == PREVIOUS else w.index(session)
    oldest = len(time) - 1 - _prior_session_lookback(windows, session)  # segments starting here are too old
    t = np.asarray(time, dtype=np.int64)
    edges = _edge_list(windows)
    first = _segment_first(t, len(t) - 1, edges)  # the newest bar's own segment: not completed
    while first > 0:
        stop = first
        first = _segment_first(t, stop - 1, edges)
        if first <= oldest:
            return None
        label = int(w.label[int(t[stop - 1]) % 86_400])
        if (label >= 0) if wanted is None else (label == wanted):
            return first, stop
    return None


@last_value("in_session")
def _in_session_last(time: np.ndarray, *, session: str = "london", windows: str = DEFAULT_WINDOWS) -> bool:
    """``in_session`` at the newest bar: the same comparisons with the window's seconds of the day."""
    lo, hi = _session_seconds(windows, session)
    second = int(time[-1]) % 86_400
    return lo <= second < hi if hi <= 86_400 else (second >= lo or second < hi - 86_400)


@last_value("intraday_high")
def _intraday_high_last(time: np.ndarray, high: np.ndarray, *, anchor: str = "00:00") -> float:
    """``intraday_high`` at the newest bar: max(high) over the bars of its day."""
    return _reduce_last(high[newest_day_start(time, anchor):], np.maximum, running=True)


@last_value("intraday_low")
def _intraday_low_last(time: np.ndarray, low: np.ndarray, *, anchor: str = "00:00") -> float:
    """``intraday_low`` at the newest bar: min(low) over the bars of its day."""
    return _reduce_last(low[newest_day_start(time, anchor):], np.minimum, running=True)


@last_value("previous_day_high")
def _previous_day_high_last(time: np.ndarray, high: np.ndarray, *, anchor: str = "00:00") -> float:
    """``previous_day_high`` at the newest bar: max(high) over the previous day's bars, NaN beyond the lookback."""
    span = _previous_day_span(time, anchor)
    return math.nan if span is None else _reduce_last(high[span[0]:span[1]], np.maximum, running=False)


@last_value("previous_day_low")
def _previous_day_low_last(time: np.ndarray, low: np.ndarray, *, anchor: str = "00:00") -> float:
    """``previous_day_low`` at the newest bar: min(low) over the previous day's bars, NaN beyond the lookback."""
    span = _previous_day_span(time, anchor)
    return math.nan if span is None else _reduce_last(low[span[0]:span[1]], np.minimum, running=False)


@last_value("prior_session_high")
def _prior_session_high_last(
    time: np.ndarray, high: np.ndarray, *, session: str = PREVIOUS, windows: str = DEFAULT_WINDOWS,
) -> float:
    """``prior_session_high`` at the newest bar: max(high) over the prior occurrence's bars."""
    span = _prior_occurrence_span(time, windows, session)
    return math.nan if span is None else _reduce_last(high[span[0]:span[1]], np.maximum, running=False)


@last_value("prior_session_low")
def _prior_session_low_last(
    time: np.ndarray, low: np.ndarray, *, session: str = PREVIOUS, windows: str = DEFAULT_WINDOWS,
) -> float:
    """``prior_session_low`` at the newest bar: min(low) over the prior occurrence's bars."""
    span = _prior_occurrence_span(time, windows, session)
    return math.nan if span is None else _reduce_last(low[span[0]:span[1]], np.minimum, running=False)
