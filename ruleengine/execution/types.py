"""Value types of the execution layer: bars, entry signals, events, trades, the execution model.

The values the state machine makes or takes per bar (:class:`Bar`, :class:`EntrySignal`, :class:`Event`,
:class:`Trade`) are named tuples, not dataclasses: a backtest creates hundreds of thousands of them, and a
tuple is built in a fraction of the time a frozen dataclass's ``__init__`` takes. They keep what the
dataclasses offered (keyword construction, named fields, defaults, immutability, field-wise ``==`` and
``repr``) and are tuples besides (``_asdict()`` and ``_replace()`` stand in for ``dataclasses.asdict`` and
``replace``). The machine builds them as ``tuple.__new__(Event, fields)`` from their fields in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

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


class Bar(NamedTuple):
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


class EntrySignal(NamedTuple):
    """A side's verdict at a bar's close, with the order it asks for (distances already clamped)."""

    side: Side
    score: float
    grade: int
    stop_distance: float
    target_distance: float
    signal_hash: str
    spread_ok: bool = True


@dataclass(slots=True)
class Position:
    """An open position. ``sl`` moves (trailing, only tightening); ``initial_sl`` defines R.

    Not keyword-only: the state machine opens thousands per backtest and passes the fields in order."""

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


class Event(NamedTuple):
    """One recorded transition: what happened, when, and why."""

    time: int
    index: int
    kind: Literal["signal", "blocked", "entry", "exit", "sl_moved"]
    side: Side
    reason: str = ""
    price: float = float("nan")
    position: int | None = None
    signal_hash: str = ""


class _TradeFields(NamedTuple):
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
    ambiguous: bool
    trailing_active: bool
    extra: dict[str, float]


class Trade(_TradeFields):
    """A closed trade. ``r_multiple`` is the result in units of the initial risk, net of spread, slippage and
    commission; ``mae_r`` / ``mfe_r`` the maximum adverse / favourable excursion in R while open.

    ``extra`` (free-form numbers a caller attaches) is a fresh dict per trade unless one is given, which is
    why this named tuple has its own constructor."""

    __slots__ = ()

    def __new__(cls, side: Side, entry_time: int, exit_time: int, entry_index: int, exit_index: int,
                entry_price: float, exit_price: float, sl: float, tp: float, exit_reason: str, r_multiple: float,
                mae_r: float, mfe_r: float, score: float, grade: int, signal_hash: str, ambiguous: bool = False,
                trailing_active: bool = False, extra: dict[str, float] | None = None) -> Trade:
        return tuple.__new__(cls, (side, entry_time, exit_time, entry_index, exit_index, entry_price, exit_price,
                                   sl, tp, exit_reason, r_multiple, mae_r, mfe_r, score, grade, signal_hash, ambiguous,
                                   trailing_active, {} if extra is None else extra))

    @property
    def hold_seconds(self) -> int:
        return self.exit_time - self.entry_time
