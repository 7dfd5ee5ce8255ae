"""What is in an M1 data file: coverage, gaps, spread, volatility and volume (``ruleengine data inspect``).

Before a backtest means anything you want to know whether the bars cover what you think, how wide the
spread is against the bar's range, and whether order-flow columns exist. Definitions used here:

- **Gap**: consecutive bars more than 60 s apart. It runs from the first missing minute
  (``previous bar + 60 s``) to the open of the next bar, so one missing minute is a 1-minute gap.
- **Gap kind** (UTC, a heuristic for FX/metals sessions): ``weekend`` when the gap lasts at least 24 h and
  covers part of a Saturday; ``daily_break`` when it lasts 15 min .. 3 h and starts between 20:00 and
  24:00 UTC (the New York 17:00 break falls at 21:00 UTC in US summer and 22:00 UTC in winter);
  ``other`` for everything else (holidays, missing quotes, outages).
- **True range**: ``TR_t = max(high_t - low_t, |high_t - close_{t-1}|, |low_t - close_{t-1}|)``, with
  ``TR_0 = high_0 - low_0``. **ATR(14)** comes from the indicator library's ``atr`` when it is registered,
  else it is the plain 14-bar mean of TR (NaN for the first 13 bars); the summary says which.
- Percentiles are numpy's linear interpolation (``np.percentile``), NaN values ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ruleengine.data.candles import Candles
from ruleengine.data.validate import format_time

if TYPE_CHECKING:  # pragma: no cover - typing only; rich is imported when rendering
    from rich.console import Console

__all__ = ["DataSummary", "Distribution", "Gap", "classify_gap", "render_summary", "summarize", "summary_dict",
           "true_range"]

GAP_KINDS: tuple[str, ...] = ("weekend", "daily_break", "other")
_SATURDAY = 5  # datetime.weekday()
_DAY = 86_400
_ATR_PERIOD = 14


@dataclass(frozen=True, kw_only=True)
class Distribution:
    """Median, 95th percentile, maximum and mean of a series (NaN ignored)."""

    median: float
    p95: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: np.ndarray) -> Distribution | None:
        """The distribution of the finite values, or ``None`` when there are none."""
        x = np.asarray(values, dtype=np.float64)
        x = x[np.isfinite(x)]
        if x.size == 0:
            return None
        median, p95 = np.percentile(x, [50, 95])
        return cls(median=float(median), p95=float(p95), max=float(x.max()), mean=float(x.mean()))


@dataclass(frozen=True, kw_only=True)
class Gap:
    """Missing time between two bars: ``[start, end)`` in UTC epoch seconds (see the module docstring)."""

    start: int
    end: int
    kind: str

    @property
    def minutes(self) -> int:
        return (self.end - self.start) // 60


@dataclass(frozen=True, kw_only=True)
class DataSummary:
    """Everything ``data inspect`` reports about one set of candles."""

    source: str
    symbol: str
    format: str
    bars: int
    first: int
    last: int
    median_spacing: float | None
    gap_count: int
    gaps_by_kind: Mapping[str, int]
    largest_gaps: tuple[Gap, ...]
    spread: Distribution | None
    spread_source: str
    true_range: Distribution | None
    atr: Distribution | None
    atr_method: str
    volume: Distribution | None
    zero_volume_bars: int
    taker_buy_present: bool
    taker_buy_share: float | None
    real_volume_present: bool
    notes: tuple[str, ...] = field(default=())


def classify_gap(start: int, end: int) -> str:
    """``weekend``, ``daily_break`` or ``other`` for the gap ``[start, end)`` (see the module docstring)."""
    duration = end - start
    if duration >= _DAY:
        first_day = start // _DAY
        last_day = (end - 1) // _DAY
        days = range(first_day, min(last_day, first_day + 6) + 1)
        if any(datetime.fromtimestamp(d * _DAY, UTC).weekday() == _SATURDAY for d in days):
            return "weekend"
    minute_of_day = (start % _DAY) // 60
    if 15 * 60 <= duration <= 3 * 3600 and minute_of_day >= 20 * 60:
        return "daily_break"
    return "other"


def true_range(candles: Candles) -> np.ndarray:
    """``max(high - low, |high - prev_close|, |low - prev_close|)``; the first bar has no previous close."""
    h, lo, c = candles.high, candles.low, candles.close
    tr = h - lo
    if len(c) > 1:
        prev = c[:-1]
        tr[1:] = np.maximum(tr[1:], np.maximum(np.abs(h[1:] - prev), np.abs(lo[1:] - prev)))
    return tr


def _atr(candles: Candles, tr: np.ndarray) -> tuple[np.ndarray, str]:
    """ATR(14) from the indicator registry when ``atr`` is there and takes a period, else the local mean."""
    try:
        import indicators

        ind = indicators.registry().get("atr")
    except ImportError:  # pragma: no cover - the indicators package ships with ruleengine
        ind = None
    if ind is not None:
        period = next((p.name for p in ind.params if p.name in ("period", "n", "length", "window")), None)
        if period is not None:
            try:
                return np.asarray(ind.compute(candles, **{period: _ATR_PERIOD}), dtype=np.float64), \
                    f"indicators atr({period}={_ATR_PERIOD})"
            except (TypeError, ValueError, KeyError):
                pass  # a signature this code does not know: fall back rather than guess
    atr = np.full(len(tr), np.nan)
    if len(tr) >= _ATR_PERIOD:
        atr[_ATR_PERIOD - 1:] = np.lib.stride_tricks.sliding_window_view(tr, _ATR_PERIOD).mean(axis=1)
    return atr, f"mean of true range over {_ATR_PERIOD} bars"


def summarize(candles: Candles, *, fmt: str = "", spread_source: str = "column",
              notes: Sequence[str] = (), top_gaps: int = 10) -> DataSummary:
    """Compute the summary; ``top_gaps`` is how many of the largest gaps to keep (others are only counted)."""
    t = candles.time
    step = np.diff(t)
    gap_index = np.flatnonzero(step > 60)
    starts, ends = t[gap_index] + 60, t[gap_index + 1]
    kinds = [classify_gap(int(s), int(e)) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    by_kind = {k: kinds.count(k) for k in GAP_KINDS}
    order = np.argsort(-(ends - starts), kind="stable")[:max(top_gaps, 0)]
    largest = tuple(Gap(start=int(starts[i]), end=int(ends[i]), kind=kinds[i]) for i in order)
    tr = true_range(candles)
    atr, atr_method = _atr(candles, tr)
    volume = candles.volume
    taker = candles.taker_buy_volume
    total = float(volume.sum())
    share = float(taker.sum() / total) if taker is not None and total > 0 else None
    return DataSummary(
        source=candles.source, symbol=candles.symbol, format=fmt, bars=len(candles),
        first=int(t[0]) if len(t) else 0, last=int(t[-1]) if len(t) else 0,
        median_spacing=float(np.median(step)) if step.size else None,
        gap_count=int(gap_index.size), gaps_by_kind=by_kind, largest_gaps=largest,
        spread=Distribution.of(candles.spread), spread_source=spread_source,
        true_range=Distribution.of(tr), atr=Distribution.of(atr), atr_method=atr_method,
        volume=Distribution.of(volume), zero_volume_bars=int(np.count_nonzero(volume == 0)),
        taker_buy_present=taker is not None, taker_buy_share=share,
        real_volume_present=candles.real_volume is not None, notes=tuple(notes),
    )


def _dist(d: Distribution | None) -> dict[str, float] | None:
    return None if d is None else {"median": d.median, "p95": d.p95, "max": d.max, "mean": d.mean}


def summary_dict(summary: DataSummary) -> dict[str, Any]:
    """A JSON-ready dict: times as ``...Z`` strings, gap durations in minutes, prices in quote currency."""
    s = summary
    return {
        "source": s.source,
        "symbol": s.symbol,
        "format": s.format,
        "bars": s.bars,
        "first": format_time(s.first),
        "last": format_time(s.last),
        "median_spacing_seconds": s.median_spacing,
        "gaps": {
            "count": s.gap_count,
            "by_kind": dict(s.gaps_by_kind),
            "largest": [{"start": format_time(g.start), "end": format_time(g.end), "minutes": g.minutes,
                         "kind": g.kind} for g in s.largest_gaps],
        },
        "spread": {**(_dist(s.spread) or {}), "source": s.spread_source},
        "true_range": _dist(s.true_range),
        "atr14": {**(_dist(s.atr) or {}), "method": s.atr_method},
        "volume": {**(_dist(s.volume) or {}), "zero_bars": s.zero_volume_bars},
        "taker_buy_volume": {"present": s.taker_buy_present, "share_of_volume": s.taker_buy_share},
        "real_volume_present": s.real_volume_present,
        "notes": list(s.notes),
    }


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _duration(minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {mins:02d}m"
    return f"{hours}h {mins:02d}m" if hours else f"{mins}m"


def render_summary(summary: DataSummary, console: Console) -> None:
    """Print the summary as rich tables: overview, largest gaps, distributions."""
    from rich.table import Table

    s = summary
    overview = Table(title=f"{s.source}", show_header=False, title_justify="left")
    overview.add_column("what", style="bold")
    overview.add_column("value")
    overview.add_row("symbol", s.symbol or "?")
    overview.add_row("format", s.format or "?")
    overview.add_row("bars", f"{s.bars:,}")
    overview.add_row("first bar (UTC)", format_time(s.first))
    overview.add_row("last bar (UTC)", format_time(s.last))
    overview.add_row("median spacing", "-" if s.median_spacing is None else f"{s.median_spacing:g} s")
    kinds = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in s.gaps_by_kind.items())
    overview.add_row("gaps > 1 min", f"{s.gap_count:,} ({kinds})")
    overview.add_row("spread source", s.spread_source)
    taker = "no"
    if s.taker_buy_present:
        taker = "yes" + (f" ({s.taker_buy_share:.1%} of volume)" if s.taker_buy_share is not None else "")
    overview.add_row("taker_buy_volume", taker)
    overview.add_row("real_volume", "yes" if s.real_volume_present else "no")
    overview.add_row("zero-volume bars", f"{s.zero_volume_bars:,}")
    console.print(overview)

    stats = Table(title="distributions (price units; volume as in the file)", title_justify="left")
    for name in ("series", "median", "p95", "max", "mean"):
        stats.add_column(name, justify="left" if name == "series" else "right")
    for label, d in (("spread", s.spread), ("true range", s.true_range), (f"ATR14 ({s.atr_method})", s.atr),
                     ("volume", s.volume)):
        if d is None:
            stats.add_row(label, "-", "-", "-", "-")
        else:
            stats.add_row(label, _num(d.median), _num(d.p95), _num(d.max), _num(d.mean))
    console.print(stats)

    if s.largest_gaps:
        gaps = Table(title=f"largest {len(s.largest_gaps)} gaps", title_justify="left")
        for name in ("from (UTC)", "to (UTC)", "missing", "kind"):
            gaps.add_column(name)
        for g in s.largest_gaps:
            gaps.add_row(format_time(g.start), format_time(g.end), _duration(g.minutes), g.kind.replace("_", " "))
        console.print(gaps)
    for note in s.notes:
        console.print(f"note: {note}", highlight=False)
