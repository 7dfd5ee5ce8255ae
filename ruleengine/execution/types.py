"""Value types of the execution layer: bars, entry signals, events, trades, the execution model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Bar", "EntrySignal", "Event", "ExecutionModel", "Position", "Trade"]

Side = Literal["long", "short"]


@dataclass(frozen=True, kw_only=True)
class ExecutionModel:
    """How orders meet the market, and the budgets the plan's pre-execution checks compare against.

    ``slippage`` is the adverse move (a fraction of price) applied to every market fill: entries, market
    exits (adverse candle, max hold, exit_when, end of data) and stop-loss fills; take-profit fills are limit
    fills at their level. ``latency`` is the order round-trip assumed for the checks (seconds). An entry is
    blocked when the model's slippage exceeds the rule's ``max_slippage`` or its latency the rule's
    ``max_latency``; in a backtest both are constants, so they either pass throughout or block throughout,
    and the report says which. ``commission`` is charged per side as a fraction of price.
    """

    slippage: float = 0.0
    latency: float = 0.05
    commission: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Bar:
    """One closed M1 bar as the state machine sees it. Prices are bid; the ask is bid + spread."""

    index: int
    time: int  # open time, UTC epoch seconds
    open: float
    high: float
    low: float
    close: float
    spread: float

    @property
    def close_time(self) -> int:
        return self.time + 60


@dataclass(frozen=True, kw_only=True, slots=True)
class EntrySignal:
    """A side's verdict at a bar's close, with the order it asks for (distances already clamped)."""

    side: Side
    score: float
    grade: int
    stop_distance: float
    target_distance: float
    signal_hash: str
    spread_ok: bool = True


@dataclass(kw_only=True, slots=True)
class Position:
    """An open position. ``sl`` moves (trailing, only tightening); ``initial_sl`` defines R."""

    id: int
    side: Side
    entry_index: int
    entry_time: int
    entry_price: float
    initial_sl: float
    sl: float
    tp: float
    score: float
    grade: int
    signal_hash: str
    trailing_active: bool = False
    best_price: float = 0.0  # most favourable bid (long) / ask (short) seen, for max_r
    worst_price: float = 0.0  # most adverse, for the maximum adverse excursion

    @property
    def risk(self) -> float:
        """1R in price: distance from the entry to the initial stop."""
        return abs(self.entry_price - self.initial_sl)


@dataclass(frozen=True, kw_only=True)
class Event:
    """One recorded transition: what happened, when, and why."""

    time: int
    index: int
    kind: Literal["signal", "blocked", "entry", "exit", "sl_moved"]
    side: Side
    reason: str = ""
    price: float = float("nan")
    position: int | None = None
    signal_hash: str = ""


@dataclass(frozen=True, kw_only=True)
class Trade:
    """A closed trade. ``r_multiple`` is the result in units of the initial risk, net of spread, slippage and
    commission; ``mae_r`` / ``mfe_r`` the maximum adverse / favourable excursion in R while open."""

    side: Side
    entry_time: int
    exit_time: int
    entry_index: int
    exit_index: int
    entry_price: float
    exit_price: float
    sl: float
    tp: float
    exit_reason: str
    r_multiple: float
    mae_r: float
    mfe_r: float
    score: float
    grade: int
    signal_hash: str
    ambiguous: bool = False
    trailing_active: bool = False
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def hold_seconds(self) -> int:
        return self.exit_time - self.entry_time
