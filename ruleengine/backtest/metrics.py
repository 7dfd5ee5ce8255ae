"""Backtest metrics, in R, and the plan's success criteria side by side with the result.

Every figure is in units of the initial risk (R = the distance from the entry to the initial stop), so results
compare across symbols and price levels. Definitions, one place:

- a **win** is a trade with ``r_multiple > 0``; a break-even trade (exactly 0 R) is not a win;
- ``win_rate`` = wins / trades;
- ``avg_r`` = ``expectancy_r`` = the mean R of all trades: what one trade is worth on average. ``expectancy_r``
  is computed as ``win_rate x avg_win_r + (1 - win_rate) x avg_loss_r``, which is the same number; both names
  are kept because traders look for either;
- ``avg_win_r`` / ``avg_loss_r`` = mean R of the winning / the other trades (the realised reward:risk);
- ``profit_factor`` = sum of winning R / |sum of losing R|: ``inf`` when there are winners and no losers, ``0``
  when there are losers and no winners, ``nan`` with no trades;
- ``max_drawdown_r`` = the largest peak-to-trough fall of the cumulative R curve (trades in exit order, the
  curve starting at 0 R), a positive number;
- ``max_adverse_r`` = the largest maximum adverse excursion of any trade (``Trade.mae_r``), in R;
- ``trades_per_day`` = trades / calendar days (UTC) that had traded bars. With ``candles_time`` the days are
  the distinct UTC dates of the bars in the traded range (weekends without bars do not count); without it,
  every date from the first to the last traded bar counts.

Averages of nothing (no trades, no winners) are ``nan``; the report prints them as a dash.

The plan's "Success Criteria" (``micro_scalp_module_plan.md``) that a backtest can measure are evaluated in
:attr:`Metrics.criteria`: win rate >= 60 %, average R multiple 1.0-1.5 R, average hold < 5 minutes and maximum
drawdown per trade < 1.5 x SL. The plan's "average R multiple 1.0-1.5R (ultra-tight targets)" describes the
reward of a winning trade against its risk, not the mean over all trades (a mean of 1.0 R with a 60 % win
rate is not a micro-scalp), so that criterion is judged on ``avg_win_r`` and the table says so next to
``avg_r``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ruleengine.backtest.driver import BacktestResult
from ruleengine.config import SessionsConfig, load_sessions
from ruleengine.execution import Trade
from ruleengine.rules.decision import GRADES

__all__ = [
    "Criterion",
    "GroupStats",
    "Metrics",
    "compute_metrics",
    "grade_label",
    "group_stats",
    "max_drawdown",
    "session_of",
]

_NAN = float("nan")
_DAY = 86_400

# The plan's targets that a backtest measures (the latency, CPU and RAM targets belong to the live runner).
WIN_RATE_TARGET = 0.60
AVG_WIN_R_RANGE = (1.0, 1.5)
HOLD_MINUTES_TARGET = 5.0
MAX_ADVERSE_R_TARGET = 1.5


@dataclass(frozen=True, kw_only=True)
class GroupStats:
    """Results of one slice of the trades (a session, a side, a grade, an exit reason, or all of them)."""

    trades: int
    wins: int
    win_rate: float
    avg_r: float
    avg_win_r: float
    avg_loss_r: float
    expectancy_r: float
    total_r: float
    profit_factor: float


@dataclass(frozen=True, kw_only=True)
class Criterion:
    """One success criterion of the plan: what it asks, what the backtest gave, and the verdict.

    ``passed`` is ``False`` when the value is undefined (no trades, no winners): an untested criterion is not
    met. ``note`` says how the value was measured when that is not obvious.
    """

    name: str
    target: str
    value: float
    display: str
    passed: bool
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Metrics:
    """A backtest's figures (see the module docstring for every definition)."""

    bars: int
    trades: int
    wins: int
    win_rate: float
    avg_r: float
    avg_win_r: float
    avg_loss_r: float
    expectancy_r: float
    total_r: float
    profit_factor: float
    best_r: float
    worst_r: float
    avg_hold_minutes: float
    max_hold_minutes: float
    max_adverse_r: float
    max_drawdown_r: float
    max_consecutive_losses: int
    ambiguous_exits: int
    signals: dict[str, int]
    blocked: dict[str, int]
    exit_reasons: dict[str, int]
    seconds: float
    bars_per_second: float
    trading_days: int
    trades_per_day: float
    by_session: dict[str, GroupStats]
    by_side: dict[str, GroupStats]
    by_grade: dict[str, GroupStats]
    by_exit_reason: dict[str, GroupStats]
    criteria: tuple[Criterion, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain dicts, lists and numbers (``inf``/``nan`` stay floats), for JSON output and tests."""
        out = dataclasses.asdict(self)
        out["criteria"] = list(out["criteria"])
        return out

    @property
    def criteria_passed(self) -> int:
        return sum(c.passed for c in self.criteria)


# -- helpers ---------------------------------------------------------------------------------------------------
def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else _NAN


def group_stats(r: np.ndarray) -> GroupStats:
    """Win rate, averages, expectancy and profit factor of the R multiples ``r``."""
    r = np.asarray(r, dtype=np.float64)
    n = int(r.size)
    won = r > 0
    wins = int(won.sum())
    win_rate = wins / n if n else _NAN
    avg_win = _mean(r[won])
    avg_loss = _mean(r[~won])
    if n == 0:
        expectancy = _NAN
    else:  # = r.mean(); spelled as the trader's formula, with an empty side contributing nothing
        expectancy = (win_rate * avg_win if wins else 0.0) + ((1 - win_rate) * avg_loss if wins < n else 0.0)
    gross_win = float(r[won].sum())
    gross_loss = float(-r[~won].sum())
    if n == 0:
        pf = _NAN
    elif gross_loss > 0:
        pf = gross_win / gross_loss
    else:
        pf = math.inf if gross_win > 0 else _NAN
    return GroupStats(trades=n, wins=wins, win_rate=win_rate, avg_r=_mean(r), avg_win_r=avg_win,
                      avg_loss_r=avg_loss, expectancy_r=expectancy, total_r=float(r.sum()), profit_factor=pf)


def max_drawdown(r: np.ndarray) -> float:
    """Largest peak-to-trough fall of ``cumsum(r)``, the curve starting at 0 (a first loss is a drawdown)."""
    if len(r) == 0:
        return 0.0
    curve = np.concatenate([[0.0], np.cumsum(r, dtype=np.float64)])
    return float((np.maximum.accumulate(curve) - curve).max())


def _longest_run(flags: Iterable[bool]) -> int:
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def session_of(t: int, sessions: SessionsConfig) -> str:
    """The name of the UTC session window holding epoch second ``t``, or ``"none"`` outside every window."""
    minute = (int(t) % _DAY) // 60
    for w in sessions.windows:
        if w.contains(minute):
            return w.name
    return "none"


def grade_label(grade: int) -> str:
    """``"A+"`` for grade 2, ``"standard"`` for grade 1 (the rule's trade threshold), else the grade's name."""
    return {2: "A+", 1: "standard"}.get(grade, GRADES[grade] if 0 <= grade < len(GRADES) else str(grade))


def _breakdown(trades: Sequence[Trade], r: np.ndarray, key: Callable[[Trade], str],
               order: Iterable[str] = ()) -> dict[str, GroupStats]:
    """Stats per key, keys in ``order`` first (kept even with no trades), then the rest by first appearance."""
    labels = [key(t) for t in trades]
    keys = list(dict.fromkeys([*order, *labels]))
    arr = np.asarray(labels, dtype=object)
    return {k: group_stats(r[arr == k] if len(trades) else r[:0]) for k in keys}


def _trading_days(result: BacktestResult, candles_time: np.ndarray | None) -> int:
    if result.bars == 0:
        return 0
    first_day, last_day = result.first_time // _DAY, result.last_time // _DAY
    if candles_time is None:
        return int(last_day - first_day + 1)
    times = np.asarray(candles_time, dtype=np.int64)
    traded = times[(times >= result.first_time) & (times <= result.last_time)]
    return int(np.unique(traded // _DAY).size)


def _fmt(value: float, spec: str, suffix: str = "") -> str:
    return "n/a" if math.isnan(value) else f"{value:{spec}}{suffix}"


def _criteria(overall: GroupStats, avg_hold: float, max_adverse: float) -> tuple[Criterion, ...]:
    lo, hi = AVG_WIN_R_RANGE
    nan = math.isnan
    return (
        Criterion(name="Win rate", target=f"≥ {WIN_RATE_TARGET:.0%}", value=overall.win_rate,
                  display=_fmt(overall.win_rate * 100, ".1f", " %"),
                  passed=not nan(overall.win_rate) and overall.win_rate >= WIN_RATE_TARGET),
        Criterion(name="Average R multiple", target=f"{lo:.1f}–{hi:.1f} R", value=overall.avg_win_r,
                  display=_fmt(overall.avg_win_r, ".2f", " R"),
                  passed=not nan(overall.avg_win_r) and lo <= overall.avg_win_r <= hi,
                  note=("judged on the average winning trade (the plan's reward:risk of its ultra-tight targets); "
                        f"the mean over all trades is {_fmt(overall.avg_r, '+.3f', ' R')}")),
        Criterion(name="Average hold time", target=f"< {HOLD_MINUTES_TARGET:g} min", value=avg_hold,
                  display=_fmt(avg_hold, ".2f", " min"), passed=not nan(avg_hold) and avg_hold < HOLD_MINUTES_TARGET,
                  note="entry at a bar's open to exit at a bar's close, so one bar counts as 1 minute"),
        Criterion(name="Max drawdown per trade", target=f"< {MAX_ADVERSE_R_TARGET:g} × SL", value=max_adverse,
                  display=_fmt(max_adverse, ".2f", " × SL"),
                  passed=not nan(max_adverse) and max_adverse < MAX_ADVERSE_R_TARGET,
                  note="the largest maximum adverse excursion of any trade, in units of its initial stop distance"),
    )


# -- the entry point -------------------------------------------------------------------------------------------
def compute_metrics(result: BacktestResult, *, candles_time: np.ndarray | None = None,
                    sessions: SessionsConfig | None = None) -> Metrics:
    """All metrics of ``result``. Pass the candles' ``time`` column as ``candles_time`` so that
    ``trades_per_day`` counts only the days that had bars; ``sessions`` defaults to ``config/sessions.yaml``."""
    sessions = sessions or load_sessions()
    trades = sorted(result.trades, key=lambda t: (t.exit_time, t.entry_time))
    r = np.fromiter((t.r_multiple for t in trades), dtype=np.float64, count=len(trades))
    overall = group_stats(r)
    holds = np.fromiter((t.hold_seconds / 60 for t in trades), dtype=np.float64, count=len(trades))
    mae = np.fromiter((t.mae_r for t in trades), dtype=np.float64, count=len(trades))
    avg_hold = _mean(holds)
    max_adverse = float(mae.max()) if mae.size else _NAN
    days = _trading_days(result, candles_time)
    by_session = _breakdown(trades, r, lambda t: session_of(t.entry_time, sessions), sessions.names())
    by_side = _breakdown(trades, r, lambda t: t.side, ("long", "short"))
    by_grade = _breakdown(trades, r, lambda t: grade_label(t.grade), ("A+", "standard"))
    reasons = Counter(t.exit_reason for t in trades)
    by_exit = _breakdown(trades, r, lambda t: t.exit_reason, [k for k, _ in reasons.most_common()])
    return Metrics(
        bars=result.bars, trades=overall.trades, wins=overall.wins, win_rate=overall.win_rate, avg_r=overall.avg_r,
        avg_win_r=overall.avg_win_r, avg_loss_r=overall.avg_loss_r, expectancy_r=overall.expectancy_r,
        total_r=overall.total_r, profit_factor=overall.profit_factor,
        best_r=float(r.max()) if r.size else _NAN, worst_r=float(r.min()) if r.size else _NAN,
        avg_hold_minutes=avg_hold, max_hold_minutes=float(holds.max()) if holds.size else _NAN,
        max_adverse_r=max_adverse, max_drawdown_r=max_drawdown(r),
        max_consecutive_losses=_longest_run(x <= 0 for x in r.tolist()),
        ambiguous_exits=result.ambiguous_exits, signals=dict(result.signals),
        blocked=dict(result.blocked.most_common()), exit_reasons=dict(reasons.most_common()),
        seconds=result.seconds, bars_per_second=result.bars_per_second,
        trading_days=days, trades_per_day=overall.trades / days if days else _NAN,
        by_session=by_session, by_side=by_side, by_grade=by_grade, by_exit_reason=by_exit,
        criteria=_criteria(overall, avg_hold, max_adverse),
    )
