"""Bar-by-bar driving of the compiled rules and the position state machine: the core of paper and live.

A runner keeps a window of the most recent bars, just long enough for every value it needs to equal the
backtest's (the rule's warm-up, the exit expressions' warm-up and the spread check's 100 bars, plus the
newest bar), evaluates the newest bar with the live evaluator, and feeds the same
:class:`~ruleengine.execution.PositionStateMachine` the backtest uses. Given the same bars it makes the
same decisions and the same trades as ``run_backtest``; the parity test replays history through it.
"""

from __future__ import annotations

from collections.abc import Iterable

import indicators
from ruleengine.data import Candles
from ruleengine.execution import EntrySignal, Event, ExecutionModel, PositionStateMachine
from ruleengine.execution.exits import ExitEvaluator
from ruleengine.execution.types import Bar
from ruleengine.rules.decision import GRADES, decide_last
from ruleengine.rules.model import CompiledRules

__all__ = ["BarByBarRunner"]


class BarByBarRunner:
    """Feed closed bars with :meth:`on_bar`; read trades and events off :attr:`machine`."""

    def __init__(self, rules: CompiledRules, *, model: ExecutionModel | None = None,
                 allowed_symbols: Iterable[str] | None = None) -> None:
        self.rules = rules
        spread_lookback = indicators.get("spread_ok").lookback(self._spread_params())
        exit_warmup = rules.graph.warmup(rules.exit_outputs())
        self.window = max(rules.warmup, exit_warmup, spread_lookback) + 1
        self.machine = PositionStateMachine(
            symbol=rules.symbol, exits=rules.exits, discipline=rules.discipline, checks=rules.checks,
            model=model or ExecutionModel(), allowed_symbols=allowed_symbols,
        )
        self.buffer: Candles | None = None
        self.count = 0  # bars seen; the index of the next bar

    def _spread_params(self) -> dict[str, float]:
        c = self.rules.checks
        return {"max_ratio": c.max_spread_ratio, "max_ratio_low_volume": c.max_spread_ratio_low_volume}

    def on_bar(self, bar: Candles, *, last: bool = False) -> list[Event]:
        """Process one newly closed bar (a one-bar :class:`Candles`); returns the events it produced."""
        if len(bar) != 1:
            raise ValueError(f"on_bar takes exactly one bar, got {len(bar)}")
        buf = bar if self.buffer is None else self.buffer.concat(bar)
        if len(buf) > self.window:
            buf = buf[len(buf) - self.window:]
        self.buffer = buf
        index = self.count
        self.count += 1
        offset = index - (len(buf) - 1)
        long_d, short_d = decide_last(self.rules, buf)
        signals: dict[str, EntrySignal | None] = {"long": None, "short": None}
        if long_d.signal or short_d.signal:
            ok = bool(indicators.get("spread_ok").compute(buf, **self._spread_params())[-1])
            for d in (long_d, short_d):
                if d.signal:
                    signals[d.side] = EntrySignal(
                        side=d.side, score=d.score, grade=GRADES.index(d.grade), stop_distance=d.stop_loss,
                        target_distance=d.take_profit, signal_hash=d.signal_hash, spread_ok=ok)
        m = self.machine
        m.exit_values = ExitEvaluator(self.rules, buf, offset=offset) if not m.flat and self.rules.exit_outputs() \
            else None
        b = Bar(index=index, time=int(buf.time[-1]), open=float(buf.open[-1]), high=float(buf.high[-1]),
                low=float(buf.low[-1]), close=float(buf.close[-1]), spread=float(buf.spread[-1]))
        return m.step(b, signals["long"], signals["short"], last=last)
