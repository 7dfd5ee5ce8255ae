"""The backtest driver: vectorised signals from the compiled graph, then the position state machine walked
only where it matters.

Cost grows with bars and trades, not bars x rules: the graph evaluates every condition over all bars at
numpy speed once; the state machine then visits the bars with a signal and the bars while a position is
open or an entry is pending, skipping flat stretches with a binary search. Live trading feeds the same
state machine one bar at a time (see ``tests`` for the parity check).
"""

from __future__ import annotations

import hashlib
import time as _time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

import indicators
from ruleengine.data import Candles
from ruleengine.execution import EntrySignal, Event, ExecutionModel, PositionStateMachine, Trade
from ruleengine.execution.exits import ExitEvaluator
from ruleengine.execution.types import Bar
from ruleengine.rules.decision import Signals, evaluate_signals
from ruleengine.rules.model import CompiledRules

__all__ = ["BacktestResult", "run_backtest", "signal_hashes", "spread_ok_array"]


@dataclass(frozen=True, kw_only=True)
class BacktestResult:
    """Everything a report needs: trades, every recorded transition, refusals by reason, timing."""

    rules_path: str
    symbol: str
    bars: int
    first_time: int
    last_time: int
    trades: list[Trade]
    events: list[Event]
    blocked: Counter[str]
    ambiguous_exits: int
    signals: dict[str, int]
    seconds: float
    intrabar: str
    model: ExecutionModel
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def bars_per_second(self) -> float:
        return self.bars / self.seconds if self.seconds > 0 else float("inf")


def spread_ok_array(rules: CompiledRules, candles: Candles) -> np.ndarray:
    """The plan's pre-execution spread check per bar: spread <= max_spread_ratio x its 100-bar mean, or
    max_spread_ratio_low_volume x in low volume (``indicators.spread.spread_ok``). Evaluated on the signal
    bar, so the check uses nothing after the decision."""
    return indicators.get("spread_ok").compute(
        candles, max_ratio=rules.checks.max_spread_ratio, max_ratio_low_volume=rules.checks.max_spread_ratio_low_volume,
    )


def signal_hashes(signals: Signals, side: str, indices: np.ndarray) -> list[str]:
    """``signal_hash`` of ``side`` at many bars at once, equal to :func:`ruleengine.rules.decision.signal_hash`.

    The set of true conditions is packed into one row of bits per bar; SHA-1 is computed once per distinct
    row (a rule file has few distinct combinations), and the candle stamps are formatted by numpy.
    """
    ss = signals.side(side)  # type: ignore[arg-type]
    names = [f"{layer}.{name}" for layer, conds in ss.conditions.items() for name in conds]
    if len(indices) == 0:
        return []
    bits = np.stack([arr[indices] for conds in ss.conditions.values() for arr in conds.values()], axis=1)
    packed = np.packbits(bits, axis=1)
    digests: dict[bytes, str] = {}
    stamps = np.datetime_as_string(signals.time[indices].astype("datetime64[s]").astype("datetime64[m]"))
    out = []
    for row, stamp in zip(packed, stamps, strict=True):
        key = row.tobytes()
        digest = digests.get(key)
        if digest is None:
            true_names = [names[j] for j in np.flatnonzero(np.unpackbits(row)[: len(names)])]
            digest = digests[key] = hashlib.sha1(",".join(sorted(true_names)).encode()).hexdigest()[:8]
        out.append(f"{signals.symbol}_{side}_{stamp.replace('-', '').replace(':', '')}_{digest}")
    return out


def run_backtest(rules: CompiledRules, candles: Candles, *, model: ExecutionModel | None = None,
                 start: int | None = None, end: int | None = None,
                 allowed_symbols: set[str] | frozenset[str] | None = None) -> BacktestResult:
    """Backtest ``rules`` on ``candles``, trading bars with ``start <= time < end`` (UTC epoch seconds).

    Bars before ``start`` still warm the indicators up; positions open on the last traded bar exit at its
    close (``end_of_data``). ``seconds`` counts the engine only (signals + state machine), not file loading.
    """
    model = model or ExecutionModel()
    t0 = _time.perf_counter()
    signals = evaluate_signals(rules, candles)
    spread_ok = spread_ok_array(rules, candles)
    times = np.asarray(candles.time)
    lo = 0 if start is None else int(np.searchsorted(times, start, side="left"))
    hi = len(candles) if end is None else int(np.searchsorted(times, end, side="left"))
    machine = PositionStateMachine(
        symbol=rules.symbol, exits=rules.exits, discipline=rules.discipline, checks=rules.checks, model=model,
        exit_values=ExitEvaluator(rules, candles) if rules.exit_outputs() else None, allowed_symbols=allowed_symbols,
    )
    long_sig, short_sig = signals.long.signal, signals.short.signal
    any_signal = np.flatnonzero(long_sig[lo:hi] | short_sig[lo:hi]) + lo
    entries: dict[str, dict[int, EntrySignal]] = {}
    for side, ss in (("long", signals.long), ("short", signals.short)):
        idx = any_signal[ss.signal[any_signal]]
        hashes = signal_hashes(signals, side, idx)
        entries[side] = {
            i: EntrySignal(side=side, score=sc, grade=g, stop_distance=sl, target_distance=tp, signal_hash=h,  # type: ignore[arg-type]
                           spread_ok=ok)
            for i, sc, g, sl, tp, h, ok in zip(
                idx.tolist(), ss.score[idx].tolist(), ss.grade[idx].tolist(), ss.stop_loss[idx].tolist(),
                ss.take_profit[idx].tolist(), hashes, spread_ok[idx].tolist(), strict=True)
        }
    long_at, short_at = entries["long"], entries["short"]
    o, h, lw, c, s = (np.asarray(x).tolist() for x in (candles.open, candles.high, candles.low, candles.close,
                                                         candles.spread))
    tl = times.tolist()
    t = lo
    while t < hi:
        if machine.flat:
            k = int(np.searchsorted(any_signal, t, side="left"))
            if k >= len(any_signal):
                break
            t = int(any_signal[k])
        bar = Bar(index=t, time=tl[t], open=o[t], high=h[t], low=lw[t], close=c[t], spread=s[t])
        machine.step(bar, long_at.get(t), short_at.get(t), last=(t == hi - 1))
        t += 1
    if machine.positions and hi > lo:  # the loop broke off flat-skipping with positions open: cannot happen
        raise AssertionError("positions left open")  # pragma: no cover
    seconds = _time.perf_counter() - t0
    return BacktestResult(
        rules_path=rules.path, symbol=rules.symbol, bars=hi - lo,
        first_time=int(times[lo]) if hi > lo else 0, last_time=int(times[hi - 1]) if hi > lo else 0,
        trades=machine.trades, events=machine.events, blocked=machine.blocked,
        ambiguous_exits=machine.ambiguous_exits,
        signals={"long": int(long_sig[lo:hi].sum()), "short": int(short_sig[lo:hi].sum())},
        seconds=seconds, intrabar=rules.exits.intrabar, model=model,
    )
