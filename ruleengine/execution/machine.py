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
from typing import NamedTuple, TypeAlias

from ruleengine.execution.types import Bar, EntrySignal, Event, ExecutionModel, Position, Trade
from ruleengine.rules.model import CheckRules, DisciplineRules, ExitRules

__all__ = ["BarFields", "ExitContext", "PositionStateMachine", "SignalFields"]

#: ``exit_context(side, bar_index, position) -> ExitContext``: the rule's exit expressions at this bar.
ExitValues = Callable[[str, int, Position], "ExitContext"]
#: A :class:`Bar`'s fields in order, as a plain tuple: ``(index, time, open, high, low, close, spread)``.
BarFields: TypeAlias = tuple[int, int, float, float, float, float, float]
#: An :class:`EntrySignal`, or its fields in order as a plain tuple: ``(side, score, grade, stop_distance,
#: target_distance, signal_hash, spread_ok)``.
SignalFields: TypeAlias = tuple[str, float, int, float, float, str, bool]

#: Builds a named tuple from its fields in order (``tuple.__new__(Event, fields)``): the per-bar path makes
#: one event per transition, and this skips the argument parsing of a keyword call.
_new = tuple.__new__
_NAN = math.nan  # the very object ``math.nan``: events compare equal field by field across runs
_INF = math.inf


class ExitContext(NamedTuple):
    """Values of the rule's exit expressions for one position at one bar's close."""

    adverse: bool | None = None  # None: use the plan's built-in adverse-candle test (if enabled)
    trailing_distance: float = math.nan
    exit_when: bool = False


_NO_CONTEXT = ExitContext()

_SCORE_TEXTS: dict[float, str] = {}  # a rule's scores take few values: their texts are formatted once


def _score_text(score: float) -> str:
    """``score 5`` for the signal event; cached by value except zero, because ``0.0 == -0.0`` reads ``-0``."""
    text = _SCORE_TEXTS.get(score)
    if text is None:
        text = f"score {score:g}"
        if score and len(_SCORE_TEXTS) < 1024:
            _SCORE_TEXTS[score] = text
    return text


class PositionStateMachine:
    """Positions, pending entries and discipline state of one symbol (see the module docstring).

    A backtest steps it tens of thousands of times per million bars, so the per-bar path works on plain
    tuples (:meth:`step_fields`; :meth:`step` hands its :class:`Bar` over as one), unpacks them once, keeps
    what it reads repeatedly in locals and builds events and trades as tuples. It keeps the order of
    operations, and so every float, of the rules above.
    """

    def __init__(self, *, symbol: str, exits: ExitRules, discipline: DisciplineRules, checks: CheckRules,
                 model: ExecutionModel | None = None, exit_values: ExitValues | None = None,
                 allowed_symbols: Iterable[str] | None = None) -> None:
        self.symbol = symbol
        self._exits, self._discipline, self._checks = exits, discipline, checks
        self._model = model = model or ExecutionModel()
        self.exit_values = exit_values
        # what the per-bar path reads of the (frozen) rules and model, looked up once
        self._slip, self._commission = model.slippage, model.commission
        self._open_proximity = exits.intrabar == "open_proximity"
        self._adverse_candle, self._max_hold, self._trail_r = (
            exits.adverse_candle, exits.max_hold, exits.trailing_activate_r)
        self._higher_score = discipline.conflict == "higher_score"
        self._dedupe, self._max_concurrent = discipline.dedupe, discipline.max_concurrent
        self._cool_off, self._cooldown = discipline.cool_off, discipline.cooldown
        self._budget = ("slippage_budget" if model.slippage > checks.max_slippage
                        else "latency_budget" if model.latency > checks.max_latency else None)
        self.allowed = None if allowed_symbols is None else frozenset(allowed_symbols)
        # positions and pending are never rebound, only changed in place: a driver may hold on to them
        self.positions: list[Position] = []
        self.pending: list[tuple[SignalFields, int]] = []  # (signal, close time of the signal bar)
        self.events: list[Event] = []
        self.trades: list[Trade] = []
        self.blocked: Counter[str] = Counter()
        self.ambiguous_exits = 0
        self.last_exit_time: int | None = None
        self.last_signal_time: int | None = None
        self.seen: dict[str, int] = {}
        self._next_id = 1
        self.last_bar_time: int | None = None

    # -- public --------------------------------------------------------------------------------------------
    @property
    def exits(self) -> ExitRules:
        """The rule's exits (read-only: the per-bar path holds what it needs of them)."""
        return self._exits

    @property
    def discipline(self) -> DisciplineRules:
        """The rule's discipline (read-only)."""
        return self._discipline

    @property
    def checks(self) -> CheckRules:
        """The rule's pre-execution checks (read-only)."""
        return self._checks

    @property
    def model(self) -> ExecutionModel:
        """The execution model: slippage, latency, commission (read-only)."""
        return self._model

    @property
    def flat(self) -> bool:
        """No open position and no entry waiting to fill: bars without a signal can be skipped."""
        return not self.positions and not self.pending

    def step(self, bar: Bar, long: EntrySignal | None = None, short: EntrySignal | None = None,
             *, last: bool = False) -> list[Event]:
        """Process one closed bar; returns the events it produced (also appended to :attr:`events`)."""
        events = self.events
        start = len(events)
        self.step_fields(bar[:], long, short, last)
        return events[start:]

    def step_fields(self, bar: BarFields, long: SignalFields | None, short: SignalFields | None,
                    last: bool) -> None:
        """:meth:`step` with the bar and the signals as tuples of their fields in order, returning nothing.

        The backtest's way in: it makes no :class:`Bar` or :class:`EntrySignal` per bar. Any tuple in field
        order works for a signal, an :class:`EntrySignal` included.
        """
        time, last_time = bar[1], self.last_bar_time
        if last_time is not None and time <= last_time:
            raise ValueError(f"bar at {time} is not after the last bar stepped ({last_time}): each "
                             f"closed bar must be stepped exactly once, in order (a refresh of the same candle "
                             f"would otherwise fill an entry at the signal bar's own open)")
        self.last_bar_time = time
        if self.pending:
            self._fill(bar)
        if self.positions:
            self._intrabar(bar)
            if self.positions:
                self._at_close(bar)
        if long is not None or short is not None:
            self._signals(bar, long, short, last)
        if last:
            close, spread = bar[5], bar[6]
            for p in list(self.positions):
                self._close(p, bar, self._market_exit_price(p, close, spread), "end_of_data")

    # -- 1. fills ------------------------------------------------------------------------------------------
    def _fill(self, bar: BarFields) -> None:
        slip = self._slip
        index, time, open_, _, _, _, spread = bar
        events = self.events
        for signal, signal_close in self.pending:
            if time != signal_close:
                # the market was closed or silent since the signal: a market order sent then is not filled at a
                # later reopening price the rule never saw
                self._block(bar, signal, "stale_entry")
                continue
            side, score, grade, stop_distance, target_distance, signal_hash, _ = signal
            if side == "long":
                price = (open_ + spread) * (1.0 + slip)
                sl, tp = price - stop_distance, price + target_distance
            else:
                price = open_ * (1.0 - slip)
                sl, tp = price + stop_distance, price - target_distance
            pid = self._next_id
            # id, side, entry_index, entry_time, entry_price, initial_sl, sl, tp, score, grade, signal_hash,
            # trailing_active, best_price, worst_price
            self.positions.append(Position(pid, side, index, time, price, sl, sl, tp, score, grade, signal_hash,
                                           False, price, price))
            self._next_id = pid + 1
            events.append(_new(Event, (time, index, "entry", side, "filled at the open", price, pid, signal_hash)))
        self.pending.clear()

    # -- 2. intrabar ---------------------------------------------------------------------------------------
    def _intrabar(self, bar: BarFields) -> None:
        # min(a, b) is written ``b if b < a else a`` and max(a, b) ``b if b > a else a``: the builtins' exact
        # rule (the first argument wins ties and NaN comparisons), without their call
        slip = self._slip
        index, _, bid_open, bid_high, bid_low, _, spread = bar
        for p in list(self.positions):
            psl, ptp = p.sl, p.tp
            best_before, worst_before = p.best_price, p.worst_price
            if p.side == "long":  # a long's stop and target are hit by the bid
                lo, hi, op = bid_low, bid_high, bid_open
                stop_hit, target_hit = lo <= psl, hi >= ptp
                gap_stop, gap_target = op <= psl, op >= ptp
                stop_price = (op if op < psl else psl) * (1.0 - slip)
                worst = (stop_price if stop_price > lo else lo) if stop_hit else lo
                p.worst_price = worst if worst < worst_before else worst_before
                best = (ptp if ptp < hi else hi) if target_hit else hi
                p.best_price = best if best > best_before else best_before
            else:  # a short's by the ask
                lo, hi, op = bid_low + spread, bid_high + spread, bid_open + spread
                stop_hit, target_hit = hi >= psl, lo <= ptp
                gap_stop, gap_target = op >= psl, op <= ptp
                stop_price = (op if op > psl else psl) * (1.0 + slip)
                worst = (stop_price if stop_price < hi else hi) if stop_hit else hi
                p.worst_price = worst if worst > worst_before else worst_before
                best = (ptp if ptp > lo else lo) if target_hit else lo
                p.best_price = best if best < best_before else best_before
            if p.entry_index != index and (gap_stop or gap_target):
                if gap_stop:
                    self._close(p, bar, stop_price, "trailing_stop_gap" if p.trailing_active else "stop_loss_gap")
                else:
                    self._close(p, bar, ptp, "take_profit_gap")
                continue
            if stop_hit and target_hit:
                self.ambiguous_exits += 1
                stop_first = True
                if self._open_proximity:
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
                    self._close(p, bar, ptp, "take_profit", ambiguous=True)
            elif stop_hit:
                self._close(p, bar, stop_price, "trailing_stop" if p.trailing_active else "stop_loss")
            elif target_hit:
                self._close(p, bar, ptp, "take_profit")

    # -- 3. close of bar -----------------------------------------------------------------------------------
    def _market_exit_price(self, p: Position, bid: float, spread: float) -> float:
        slip = self._slip
        return bid * (1.0 - slip) if p.side == "long" else (bid + spread) * (1.0 + slip)

    def _at_close(self, bar: BarFields) -> None:
        exit_values, slip, max_hold = self.exit_values, self._slip, self._max_hold
        index, time, bid_open, _, _, close, spread = bar
        for p in list(self.positions):
            long = p.side == "long"
            adverse, trailing_distance, exit_when = (
                _NO_CONTEXT if exit_values is None else exit_values(p.side, index, p))
            price = close * (1.0 - slip) if long else (close + spread) * (1.0 + slip)
            if adverse is None:
                adverse = self._adverse_candle and index > p.entry_index and (
                    (close < bid_open and close < p.entry_price) if long
                    else (close > bid_open and close + spread > p.entry_price))
            elif index == p.entry_index:
                adverse = False  # never on the entry bar: the entry is the reaction to that bar's setup
            if adverse:
                self._close(p, bar, price, "adverse_candle")
                continue
            if exit_when:
                self._close(p, bar, price, "exit_when")
                continue
            if max_hold is not None and time + 60 - p.entry_time >= max_hold:
                self._close(p, bar, price, "max_hold")
                continue
            if self._trail_r is not None:
                self._trail(p, bar, trailing_distance)

    def _trail(self, p: Position, bar: BarFields, distance: float) -> None:
        if not (distance > 0.0):  # NaN (undefined) or non-positive: no trailing on this bar
            return
        long = p.side == "long"
        close = bar[5]
        mark = close if long else close + bar[6]
        entry = p.entry_price
        r_now = ((mark - entry) if long else (entry - mark)) / abs(entry - p.initial_sl)
        if not p.trailing_active and r_now >= self._trail_r:
            p.trailing_active = True
        if not p.trailing_active:
            return
        new = mark - distance if long else mark + distance
        if (long and new > p.sl) or (p.side == "short" and new < p.sl):
            p.sl = new
            self.events.append(_new(Event, (bar[1] + 60, bar[0], "sl_moved", p.side,
                                            f"trailing at {distance:.6g} behind the close", new, p.id,
                                            p.signal_hash)))

    # -- 4. signals ----------------------------------------------------------------------------------------
    def _block(self, bar: BarFields, signal: SignalFields, reason: str) -> None:
        self.blocked[reason] += 1
        self.events.append(_new(Event, (bar[1] + 60, bar[0], "blocked", signal[0], reason, _NAN, None,
                                        signal[5])))  # side, signal_hash

    def _signals(self, bar: BarFields, long: SignalFields | None, short: SignalFields | None, last: bool) -> None:
        index, time, _, _, _, _, spread = bar
        t = time + 60  # the signal bar's close
        events = self.events
        if long is None or short is None:
            signal = short if long is None else long
            side, score, _, stop_distance, target_distance, signal_hash, spread_ok = signal  # type: ignore[misc]
            text = _SCORE_TEXTS.get(score) or _score_text(score)
            events.append(_new(Event, (t, index, "signal", side, text, _NAN, None, signal_hash)))
        else:
            long_score, short_score = long[1], short[1]
            text = _SCORE_TEXTS.get(long_score) or _score_text(long_score)
            events.append(_new(Event, (t, index, "signal", long[0], text, _NAN, None, long[5])))
            text = _SCORE_TEXTS.get(short_score) or _score_text(short_score)
            events.append(_new(Event, (t, index, "signal", short[0], text, _NAN, None, short[5])))
            if self._higher_score and long_score != short_score:
                loser = short if long_score > short_score else long
                self._block(bar, loser, "conflict")
                signal = long if loser is short else short
                side, score, _, stop_distance, target_distance, signal_hash, spread_ok = signal
            else:
                self._block(bar, long, "conflict")
                self._block(bar, short, "conflict")
                return
        if not (0.0 < stop_distance < _INF and 0.0 < target_distance < _INF):
            return self._block(bar, signal, "invalid_order")  # no position without a real stop and target
        if self.allowed is not None and self.symbol not in self.allowed:
            return self._block(bar, signal, "symbol_not_allowed")
        seen = self.seen
        if self._dedupe and signal_hash in seen:
            return self._block(bar, signal, "duplicate_signal")
        seen[signal_hash] = t
        if len(seen) > 4096:  # keep the last hour of hashes: a hash names its candle, older ones cannot recur
            self.seen = {h: s for h, s in seen.items() if s >= t - 3600}
        positions, pending = self.positions, self.pending
        if len(positions) + len(pending) >= self._max_concurrent:
            return self._block(bar, signal, "max_concurrent")
        for p in positions:
            if p.side != side:
                # on a netting account (the MT5 default) an opposite order closes the position instead of hedging it
                return self._block(bar, signal, "opposite_position")
        for q, _ in pending:
            if q[0] != side:
                return self._block(bar, signal, "opposite_position")
        if self.last_exit_time is not None and t < self.last_exit_time + self._cool_off:
            return self._block(bar, signal, "cool_off")
        if self.last_signal_time is not None and t < self.last_signal_time + self._cooldown:
            return self._block(bar, signal, "cooldown")
        if not spread_ok:
            return self._block(bar, signal, "spread")
        if stop_distance <= spread:
            return self._block(bar, signal, "stop_within_spread")  # it would be stopped out by the spread alone
        if self._budget is not None:  # the model's slippage or latency exceeds the rule's budget
            return self._block(bar, signal, self._budget)
        if last:
            return self._block(bar, signal, "end_of_data")
        self.last_signal_time = t
        pending.append((signal, t))
        return None

    # -- bookkeeping ---------------------------------------------------------------------------------------
    def _close(self, p: Position, bar: BarFields, price: float, reason: str, *, ambiguous: bool = False) -> None:
        self.positions.remove(p)
        side, entry = p.side, p.entry_price
        risk = abs(entry - p.initial_sl)  # p.risk
        sign = 1.0 if side == "long" else -1.0
        costs = self._commission * (entry + price)
        r = (sign * (price - entry) - costs) / risk
        worst, best = p.worst_price, p.best_price
        if side == "long":
            mae = (entry - (price if price < worst else worst)) / risk
            mfe = ((price if price > best else best) - entry) / risk
        else:
            mae = ((price if price > worst else worst) - entry) / risk
            mfe = (entry - (price if price < best else best)) / risk
        index, close_time = bar[0], bar[1] + 60
        self.trades.append(_new(Trade, (
            side, p.entry_time, close_time, p.entry_index, index, entry, price, p.initial_sl, p.tp, reason, r,
            0.0 if mae < 0.0 else mae, 0.0 if mfe < 0.0 else mfe, p.score, p.grade, p.signal_hash, ambiguous,
            p.trailing_active, {})))  # the fields of Trade in order; extra: a fresh dict
        self.last_exit_time = close_time
        self.events.append(_new(Event, (close_time, index, "exit", side, reason, price, p.id, p.signal_hash)))
