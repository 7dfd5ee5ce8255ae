"""The position state machine: bar in, events out. Backtest, paper and live all drive this one class.

It knows nothing about where bars come from. A driver calls :meth:`PositionStateMachine.step` once per
closed M1 bar with that bar and the rule's verdicts at its close; the machine fills, exits, trails and
records. Prices in bars are **bid**; the ask is bid + spread.

What happens within one ``step(bar t)``, in this order:

1. **Fills.** An entry accepted at the close of bar t-1 fills at the open of bar t on the right side of the
   spread: a buy at ``open + spread`` (the ask), a sell at ``open`` (the bid), each moved against us by the
   model's slippage. The stop and target are placed at the signal's (clamped) distances from the fill; a long
   stop and target are compared with the bid, a short's with the ask.
2. **Intrabar exits** for every open position, the fresh one included (stops live at the broker):
   - a gap: the open is already through the stop -> exit at the open (worse than the stop); through the
     target -> exit at the target level (a limit fill; the better open is not assumed);
   - the bar touches the stop: exit at the stop (minus slippage); the target: exit at the target;
   - **both** in one M1 bar: the order is the rule file's ``intrabar`` policy, ``pessimistic`` (default:
     the stop first) or ``open_proximity`` (the extreme nearer the open first). Every such exit is marked
     ``ambiguous`` and counted, so a user sees how much of a result rests on the assumption.
3. **Close-of-bar exits**, for positions still open, in priority order: adverse candle (not on the entry
   bar: a bar that closes against the position *and* beyond the entry price exits at its close; or the
   rule's own ``adverse_candle`` expression), ``exit_when``, maximum hold (time from the fill to this bar's
   close). Then the **trailing stop**: once the close is at least ``activate_r`` R in profit, the stop
   follows at ``distance`` behind the close and only ever tightens.
4. **Signals** at this bar's close, through discipline and pre-execution checks, each refusal recorded with
   its reason: both sides at once (``conflict``: skip, or the higher score), symbol whitelist, signal-hash
   de-duplication, a real stop and target (finite, positive distances), maximum concurrent positions, no
   position opposite an open one (netting accounts), cool-off after any exit (an exit inside this bar counts
   as at its close: conservative), cooldown since the last accepted signal, the spread check (evaluated on
   the signal bar, so it is causal), a stop wider than the spread, and the slippage and latency budgets
   against the execution model. An accepted entry fills only on the bar that opens when the signal bar
   closes; after a gap (a break, a weekend, a silent minute) it is dropped as ``stale_entry``.

Each closed bar must be stepped exactly once and in order: stepping a bar again (a refreshed candle) raises,
because it would fill an entry at its own signal bar's open. With M1 bars a signal is 60 s after the
previous one, so cooldowns of 60 s or less never block consecutive signals; the cool-off then blocks only a
signal on the exit bar itself.
5. On the **last bar** of the data, whatever is open exits at the close (``end_of_data``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ruleengine.execution.types import Bar, EntrySignal, Event, ExecutionModel, Position, Trade
from ruleengine.rules.model import CheckRules, DisciplineRules, ExitRules

__all__ = ["ExitContext", "PositionStateMachine"]

#: ``exit_context(side, bar_index, position) -> ExitContext``: the rule's exit expressions at this bar.
ExitValues = Callable[[str, int, Position], "ExitContext"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ExitContext:
    """Values of the rule's exit expressions for one position at one bar's close."""

    adverse: bool | None = None  # None: use the plan's built-in adverse-candle test (if enabled)
    trailing_distance: float = math.nan
    exit_when: bool = False


_NO_CONTEXT = ExitContext()


class PositionStateMachine:
    """Positions, pending entries and discipline state of one symbol (see the module docstring)."""

    def __init__(self, *, symbol: str, exits: ExitRules, discipline: DisciplineRules, checks: CheckRules,
                 model: ExecutionModel | None = None, exit_values: ExitValues | None = None,
                 allowed_symbols: Iterable[str] | None = None) -> None:
        self.symbol = symbol
        self.exits = exits
        self.discipline = discipline
        self.checks = checks
        self.model = model or ExecutionModel()
        self.exit_values = exit_values
        self.allowed = None if allowed_symbols is None else frozenset(allowed_symbols)
        self.positions: list[Position] = []
        self.pending: list[tuple[EntrySignal, int]] = []  # (signal, close time of the signal bar)
        self.events: list[Event] = []
        self.trades: list[Trade] = []
        self.blocked: Counter[str] = Counter()
        self.ambiguous_exits = 0
        self.last_exit_time: int | None = None
        self.last_signal_time: int | None = None
        self.seen: dict[str, int] = {}
        self._next_id = 1
        self.last_bar_time: int | None = None
        self._mae: dict[int, float] = {}

    # -- public --------------------------------------------------------------------------------------------
    @property
    def flat(self) -> bool:
        """No open position and no entry waiting to fill: bars without a signal can be skipped."""
        return not self.positions and not self.pending

    def step(self, bar: Bar, long: EntrySignal | None = None, short: EntrySignal | None = None,
             *, last: bool = False) -> list[Event]:
        """Process one closed bar; returns the events it produced (also appended to :attr:`events`)."""
        if self.last_bar_time is not None and bar.time <= self.last_bar_time:
            raise ValueError(f"bar at {bar.time} is not after the last bar stepped ({self.last_bar_time}): each "
                             f"closed bar must be stepped exactly once, in order (a refresh of the same candle "
                             f"would otherwise fill an entry at the signal bar's own open)")
        self.last_bar_time = bar.time
        start = len(self.events)
        if self.pending:
            self._fill(bar)
        if self.positions:
            self._intrabar(bar)
        if self.positions:
            self._at_close(bar)
        if long is not None or short is not None:
            self._signals(bar, long, short, last)
        if last:
            for p in list(self.positions):
                self._close(p, bar, self._market_exit_price(p, bar.close, bar.spread), "end_of_data")
        return self.events[start:]

    # -- 1. fills ------------------------------------------------------------------------------------------
    def _fill(self, bar: Bar) -> None:
        slip = self.model.slippage
        for signal, signal_close in self.pending:
            if bar.time != signal_close:
                # the market was closed or silent since the signal: a market order sent then is not filled at a
                # later reopening price the rule never saw
                self._block(bar, signal, "stale_entry")
                continue
            if signal.side == "long":
                price = (bar.open + bar.spread) * (1 + slip)
                sl, tp = price - signal.stop_distance, price + signal.target_distance
            else:
                price = bar.open * (1 - slip)
                sl, tp = price + signal.stop_distance, price - signal.target_distance
            p = Position(id=self._next_id, side=signal.side, entry_index=bar.index, entry_time=bar.time,
                         entry_price=price, initial_sl=sl, sl=sl, tp=tp, score=signal.score, grade=signal.grade,
                         signal_hash=signal.signal_hash, best_price=price, worst_price=price)
            self._next_id += 1
            self.positions.append(p)
            self._emit(bar, "entry", p.side, "filled at the open", price, p.id, signal.signal_hash)
        self.pending.clear()

    # -- 2. intrabar ---------------------------------------------------------------------------------------
    def _intrabar(self, bar: Bar) -> None:
        slip = self.model.slippage
        for p in list(self.positions):
            best_before, worst_before = p.best_price, p.worst_price
            if p.side == "long":
                lo, hi, op = bar.low, bar.high, bar.open
                stop_hit, target_hit = lo <= p.sl, hi >= p.tp
                gap_stop, gap_target = op <= p.sl, op >= p.tp
                stop_price = min(p.sl, op) * (1 - slip)
                p.worst_price = min(p.worst_price, max(lo, stop_price) if stop_hit else lo)
                p.best_price = max(p.best_price, min(hi, p.tp) if target_hit else hi)
            else:
                lo, hi, op = bar.low + bar.spread, bar.high + bar.spread, bar.open + bar.spread
                stop_hit, target_hit = hi >= p.sl, lo <= p.tp
                gap_stop, gap_target = op >= p.sl, op <= p.tp
                stop_price = max(p.sl, op) * (1 + slip)
                p.worst_price = max(p.worst_price, min(hi, stop_price) if stop_hit else hi)
                p.best_price = min(p.best_price, max(lo, p.tp) if target_hit else lo)
            if p.entry_index != bar.index and (gap_stop or gap_target):
                if gap_stop:
                    self._close(p, bar, stop_price, "trailing_stop_gap" if p.trailing_active else "stop_loss_gap")
                else:
                    self._close(p, bar, p.tp, "take_profit_gap")
                continue
            if stop_hit and target_hit:
                self.ambiguous_exits += 1
                stop_first = True
                if self.exits.intrabar == "open_proximity":
                    to_stop = abs(op - (lo if p.side == "long" else hi))
                    to_target = abs((hi if p.side == "long" else lo) - op)
                    stop_first = to_stop <= to_target
                # the excursion on the side assumed to come second never happened to this position
                if stop_first:
                    p.best_price = best_before
                    self._close(p, bar, stop_price, "trailing_stop" if p.trailing_active else "stop_loss",
                                ambiguous=True)
                else:
                    p.worst_price = worst_before
                    self._close(p, bar, p.tp, "take_profit", ambiguous=True)
            elif stop_hit:
                self._close(p, bar, stop_price, "trailing_stop" if p.trailing_active else "stop_loss")
            elif target_hit:
                self._close(p, bar, p.tp, "take_profit")

    # -- 3. close of bar -----------------------------------------------------------------------------------
    def _market_exit_price(self, p: Position, bid: float, spread: float) -> float:
        slip = self.model.slippage
        return bid * (1 - slip) if p.side == "long" else (bid + spread) * (1 + slip)

    def _at_close(self, bar: Bar) -> None:
        for p in list(self.positions):
            ctx = self.exit_values(p.side, bar.index, p) if self.exit_values is not None else _NO_CONTEXT
            price = self._market_exit_price(p, bar.close, bar.spread)
            adverse = ctx.adverse
            if adverse is None:
                adverse = self.exits.adverse_candle and bar.index > p.entry_index and (
                    (bar.close < bar.open and bar.close < p.entry_price) if p.side == "long"
                    else (bar.close > bar.open and bar.close + bar.spread > p.entry_price))
            elif bar.index == p.entry_index:
                adverse = False  # never on the entry bar: the entry is the reaction to that bar's setup
            if adverse:
                self._close(p, bar, price, "adverse_candle")
                continue
            if ctx.exit_when:
                self._close(p, bar, price, "exit_when")
                continue
            if self.exits.max_hold is not None and bar.close_time - p.entry_time >= self.exits.max_hold:
                self._close(p, bar, price, "max_hold")
                continue
            if self.exits.trailing_activate_r is not None:
                self._trail(p, bar, ctx.trailing_distance)

    def _trail(self, p: Position, bar: Bar, distance: float) -> None:
        if not (distance > 0):  # NaN (undefined) or non-positive: no trailing on this bar
            return
        mark = bar.close if p.side == "long" else bar.close + bar.spread
        r_now = ((mark - p.entry_price) if p.side == "long" else (p.entry_price - mark)) / p.risk
        if not p.trailing_active and r_now >= self.exits.trailing_activate_r:
            p.trailing_active = True
        if not p.trailing_active:
            return
        new = mark - distance if p.side == "long" else mark + distance
        if (p.side == "long" and new > p.sl) or (p.side == "short" and new < p.sl):
            p.sl = new
            self._emit(bar, "sl_moved", p.side, f"trailing at {distance:.6g} behind the close", new, p.id,
                       p.signal_hash)

    # -- 4. signals ----------------------------------------------------------------------------------------
    def _block(self, bar: Bar, signal: EntrySignal, reason: str) -> None:
        self.blocked[reason] += 1
        self._emit(bar, "blocked", signal.side, reason, math.nan, None, signal.signal_hash)

    def _signals(self, bar: Bar, long: EntrySignal | None, short: EntrySignal | None, last: bool) -> None:
        candidates = [s for s in (long, short) if s is not None]
        for s in candidates:
            self._emit(bar, "signal", s.side, f"score {s.score:g}", math.nan, None, s.signal_hash)
        if len(candidates) == 2:
            a, b = candidates
            if self.discipline.conflict == "higher_score" and a.score != b.score:
                loser = b if a.score > b.score else a
                self._block(bar, loser, "conflict")
                candidates = [a if loser is b else b]
            else:
                for s in candidates:
                    self._block(bar, s, "conflict")
                return
        signal = candidates[0]
        t = bar.close_time
        if not (0 < signal.stop_distance < math.inf and 0 < signal.target_distance < math.inf):
            return self._block(bar, signal, "invalid_order")  # no position without a real stop and target
        d, c, m = self.discipline, self.checks, self.model
        if self.allowed is not None and self.symbol not in self.allowed:
            return self._block(bar, signal, "symbol_not_allowed")
        if d.dedupe and signal.signal_hash in self.seen:
            return self._block(bar, signal, "duplicate_signal")
        self.seen[signal.signal_hash] = t
        if len(self.seen) > 4096:  # keep the last hour of hashes: a hash names its candle, older ones cannot recur
            self.seen = {h: s for h, s in self.seen.items() if s >= t - 3600}
        if len(self.positions) + len(self.pending) >= d.max_concurrent:
            return self._block(bar, signal, "max_concurrent")
        if any(p.side != signal.side for p in self.positions) or any(q.side != signal.side for q, _ in self.pending):
            # on a netting account (the MT5 default) an opposite order closes the position instead of hedging it
            return self._block(bar, signal, "opposite_position")
        if self.last_exit_time is not None and t < self.last_exit_time + d.cool_off:
            return self._block(bar, signal, "cool_off")
        if self.last_signal_time is not None and t < self.last_signal_time + d.cooldown:
            return self._block(bar, signal, "cooldown")
        if not signal.spread_ok:
            return self._block(bar, signal, "spread")
        if signal.stop_distance <= bar.spread:
            return self._block(bar, signal, "stop_within_spread")  # it would be stopped out by the spread alone
        if m.slippage > c.max_slippage:
            return self._block(bar, signal, "slippage_budget")
        if m.latency > c.max_latency:
            return self._block(bar, signal, "latency_budget")
        if last:
            return self._block(bar, signal, "end_of_data")
        self.last_signal_time = t
        self.pending.append((signal, bar.close_time))
        return None

    # -- bookkeeping ---------------------------------------------------------------------------------------
    def _emit(self, bar: Bar, kind: str, side: str, reason: str, price: float, position: int | None,
              signal_hash: str) -> None:
        self.events.append(Event(time=bar.close_time if kind != "entry" else bar.time, index=bar.index,
                                 kind=kind, side=side, reason=reason, price=price, position=position,  # type: ignore[arg-type]
                                 signal_hash=signal_hash))

    def _close(self, p: Position, bar: Bar, price: float, reason: str, *, ambiguous: bool = False) -> None:
        self.positions.remove(p)
        sign = 1.0 if p.side == "long" else -1.0
        costs = self.model.commission * (p.entry_price + price)
        r = (sign * (price - p.entry_price) - costs) / p.risk
        if p.side == "long":
            mae = (p.entry_price - min(p.worst_price, price)) / p.risk
            mfe = (max(p.best_price, price) - p.entry_price) / p.risk
        else:
            mae = (max(p.worst_price, price) - p.entry_price) / p.risk
            mfe = (p.entry_price - min(p.best_price, price)) / p.risk
        self.trades.append(Trade(
            side=p.side, entry_time=p.entry_time, exit_time=bar.close_time, entry_index=p.entry_index,
            exit_index=bar.index, entry_price=p.entry_price, exit_price=price, sl=p.initial_sl, tp=p.tp,
            exit_reason=reason, r_multiple=r, mae_r=max(mae, 0.0), mfe_r=max(mfe, 0.0), score=p.score,
            grade=p.grade, signal_hash=p.signal_hash, ambiguous=ambiguous, trailing_active=p.trailing_active,
        ))
        self.last_exit_time = bar.close_time
        self._emit(bar, "exit", p.side, reason, price, p.id, p.signal_hash)
