"""The backtest driver: vectorised signals from the compiled graph, then the position state machine walked
only where it matters.

Cost grows with bars and trades, not bars x rules: the graph evaluates every condition over all bars at
numpy speed once; the state machine then visits the bars with a signal and the bars while a position is
open or an entry is pending, jumping over flat stretches. Live trading feeds the same state machine one bar
at a time (see ``tests`` for the parity check).
"""

from __future__ import annotations

import gc
import hashlib
import os
import time as _time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

import indicators
from ruleengine.allocator import keep_freed_memory
from ruleengine.data import Candles
from ruleengine.dsl.graph import Type
from ruleengine.execution import Event, ExecutionModel, PositionStateMachine, Trade
from ruleengine.execution.exits import ExitEvaluator, exit_frontier
from ruleengine.execution.machine import SignalFields
from ruleengine.rules.decision import CHUNK_BARS, Signals, signal_chunks
from ruleengine.rules.model import CompiledRules

__all__ = ["BacktestResult", "default_workers", "run_backtest", "signal_hashes", "spread_ok_array"]


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


def signal_hashes(signals: Signals, side: str, indices: np.ndarray, *,
                  digests: dict[int, str] | None = None) -> list[str]:
    """``signal_hash`` of ``side`` at many bars at once, equal to :func:`ruleengine.rules.decision.signal_hash`.

    The set of conditions that held at a bar is one integer (bit j: condition j), and SHA-1 is computed once
    per distinct set (a rule file has few distinct combinations). The strings are written by numpy into one
    ASCII buffer, a line per bar (prefix, the candle stamp from :func:`_minute_stamps`, ``_``, the digest),
    and split once. ``digests``, when given, keeps each set's digest across calls for the same rules and
    side (the backtest's chunks repeat most sets): pass one dict per side, never shared across rule files.
    """
    ss = signals.side(side)  # type: ignore[arg-type]
    names = [f"{layer}.{name}" for layer, conds in ss.conditions.items() for name in conds]
    if len(indices) == 0:
        return []
    held = [arr[indices].astype(bool, copy=False) for conds in ss.conditions.values() for arr in conds.values()]
    if len(held) <= 64:
        keys = np.zeros(len(indices), dtype=np.uint64)
        for j, values in enumerate(held):
            keys |= values.astype(np.uint64) << np.uint64(j)
        sets, inverse = np.unique(keys, return_inverse=True)
        known = {} if digests is None else digests
        for key in sets.tolist():
            if key not in known:
                known[key] = _digest([names[j] for j in range(len(names)) if key >> j & 1])
        digest_of = [known[key] for key in sets.tolist()]
    else:
        rows, inverse = np.unique(np.packbits(np.stack(held, axis=1), axis=1), axis=0, return_inverse=True)
        digest_of = [_digest([names[j] for j in np.flatnonzero(np.unpackbits(row)[: len(names)])]) for row in rows]
    inverse = inverse.reshape(-1)
    prefix = f"{signals.symbol}_{side}_"
    times = signals.time[indices]
    stamps = _minute_stamps(times) if prefix.isascii() and "\n" not in prefix else None
    if stamps is None:  # outside 1970-9999 (or an exotic symbol): numpy formats the stamps
        texts = np.datetime_as_string(times.astype("datetime64[s]").astype("datetime64[m]")).tolist()
        return [f"{prefix}{stamp.replace('-', '').replace(':', '')}_{digest_of[k]}"
                for stamp, k in zip(texts, inverse.tolist(), strict=True)]
    head = len(prefix) + 13
    lines = np.empty((len(indices), head + 10), dtype=np.uint8)
    lines[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    lines[:, len(prefix): head] = stamps
    lines[:, head] = ord("_")
    lines[:, head + 1: -1] = np.frombuffer("".join(digest_of).encode(), dtype=np.uint8).reshape(-1, 8)[inverse]
    lines[:, -1] = ord("\n")
    return lines.tobytes().decode("ascii").split("\n")[:-1]


def _digest(true_names: list[str]) -> str:
    """The conditions part of a signal hash (see :func:`ruleengine.rules.decision.signal_hash`)."""
    return hashlib.sha1(",".join(sorted(true_names)).encode()).hexdigest()[:8]


_TWO_DIGITS = np.array([[ord(a), ord(b)] for a in "0123456789" for b in "0123456789"], dtype=np.uint8)  # 00..99


def _minute_stamps(times: np.ndarray) -> np.ndarray | None:
    """``YYYYMMDDTHHMM`` (UTC, the minute of each epoch second) as rows of ASCII codes; None unless every time
    falls in 1970-9999, where each stamp has exactly these 13 characters.

    The date is H. Hinnant's ``civil_from_days`` (exact in the proleptic Gregorian calendar, like numpy's and
    ``time.gmtime``'s), computed once per distinct day: shift the epoch to 0000-03-01 so that leap days end a
    year, split the days into 400-year eras (146097 days), then into years of the era and days of the year,
    whose month follows from ``(5 * day_of_year + 2) // 153``.
    """
    if times.min() < 0 or times.max() >= 253_402_300_800:  # 10000-01-01T00:00:00Z
        return None
    days, minute = np.divmod(times.astype(np.int64) // 60, 1440)
    days, day_of = np.unique(days, return_inverse=True)
    z = days + 719_468  # days since 0000-03-01
    era = z // 146_097
    day_of_era = z - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)  # from March 1st
    mp = (5 * day_of_year + 2) // 153  # month from March: 0..11
    day = day_of_year - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = year_of_era + era * 400 + (month <= 2)
    dates = np.concatenate([_TWO_DIGITS[year // 100], _TWO_DIGITS[year % 100], _TWO_DIGITS[month],
                            _TWO_DIGITS[day]], axis=1)
    out = np.empty((len(times), 13), dtype=np.uint8)
    out[:, :8] = dates[day_of.reshape(-1)]
    out[:, 8] = ord("T")
    out[:, 9:11] = _TWO_DIGITS[minute // 60]
    out[:, 11:] = _TWO_DIGITS[minute % 60]
    return out


def _orders(signals: Signals, side: str, signal_bars: np.ndarray, spread_ok: np.ndarray,
            digests: dict[int, str] | None = None) -> list[SignalFields | None]:
    """Per bar of ``signal_bars``: the fields of ``side``'s EntrySignal in order, or None where it has none
    (``digests``: see :func:`signal_hashes`)."""
    ss = signals.side(side)  # type: ignore[arg-type]
    where = np.flatnonzero(ss.signal[signal_bars])
    idx = signal_bars[where]
    fields = zip(repeat(side), ss.score[idx].tolist(), ss.grade[idx].tolist(), ss.stop_loss[idx].tolist(),
                 ss.take_profit[idx].tolist(), signal_hashes(signals, side, idx, digests=digests),
                 spread_ok[idx].tolist(),
                 strict=False)  # one row per index (repeat() never ends)
    orders: list[SignalFields | None] = [None] * len(signal_bars)
    for k, order in zip(where.tolist(), fields, strict=False):
        orders[k] = order
    return orders


def default_workers() -> int:
    """Threads for a backtest's signal evaluation: 2, or 1 on a single-core machine.

    numpy runs its loops without the GIL, but the Python between them (and the walk of the state machine,
    which goes on meanwhile) holds it, so threads overlap only partly and wait on each other. Measured on a
    2-core VM with 1M real bars (bench/bench_backtest.py): 2 threads mostly took 0.75-1.0x the wall time of
    one thread (1.06x at worst) and ~1.35x its CPU time; more threads would mostly add waiting and memory (a
    chunk's arrays each).
    """
    return max(1, min(2, os.cpu_count() or 1))


def run_backtest(rules: CompiledRules, candles: Candles, *, model: ExecutionModel | None = None,
                 start: int | None = None, end: int | None = None,
                 allowed_symbols: set[str] | frozenset[str] | None = None, workers: int | None = None,
                 chunk: int | None = CHUNK_BARS,
                 progress: Callable[[int, int], None] | None = None) -> BacktestResult:
    """Backtest ``rules`` on ``candles``, trading bars with ``start <= time < end`` (UTC epoch seconds).

    Bars before ``start`` still warm the indicators up; positions open on the last traded bar exit at its
    close (``end_of_data``). ``seconds`` counts the engine only (signals + state machine), not file loading.
    ``workers`` threads evaluate the signals (default :func:`default_workers`) and ``chunk`` bars make one
    evaluation (:func:`ruleengine.rules.decision.signal_chunks`): neither changes any result, only the time.
    ``progress(done, total)`` is called at the start and after each chunk, with the traded bars walked so far
    and their total.
    """
    model = model or ExecutionModel()
    workers = default_workers() if workers is None else max(1, workers)
    t0 = _time.perf_counter()
    times = np.asarray(candles.time)
    lo = 0 if start is None else int(np.searchsorted(times, start, side="left"))
    hi = len(candles) if end is None else int(np.searchsorted(times, end, side="left"))
    keep_freed_memory()  # see ruleengine.allocator
    gc_was_on = gc.isenabled()
    # The walk creates ~100k long-lived objects per million bars (events, trades) and no reference cycles:
    # reference counting frees whatever it drops. Python's cyclic collector, triggered by the count of new
    # objects, would traverse the whole heap several times over meanwhile (a tenth of the time), so it waits.
    gc.disable()
    try:
        # The spread check and the exit expressions' position-free values come with each chunk's signals
        # (sharing its indicators: ATR for a trailing distance); exit values go into arrays over all bars,
        # each chunk's filled before the walk reaches it.
        spread_node = _spread_node(rules)
        spread_all = spread_ok_array(rules, candles) if spread_node is None else None
        exit_arrays, exit_values = _exit_arrays(rules, candles) if rules.exit_outputs() else ({}, None)
        extra = (*exit_arrays, *(() if spread_node is None else (spread_node,)))
        machine = PositionStateMachine(
            symbol=rules.symbol, exits=rules.exits, discipline=rules.discipline, checks=rules.checks,
            model=model, exit_values=exit_values, allowed_symbols=allowed_symbols,
        )
        walker = _Walker(machine, candles, lo, hi)
        if progress is not None:
            progress(0, max(hi - lo, 0))
        for a, part in signal_chunks(rules, candles, chunk=chunk, workers=workers, extra=extra):
            b = a + len(part.time)
            for n, values in exit_arrays.items():
                values[a:b] = part.extra[n]
            walker.add(a, part, part.extra[spread_node] if spread_all is None else spread_all[a:b])
            # this chunk's bars are decided: walk them while the threads evaluate the next chunks
            walker.walk(min(b, hi))
            if progress is not None:
                progress(max(min(b, hi) - lo, 0), max(hi - lo, 0))
        walker.finish()
    finally:
        if gc_was_on:
            gc.enable()
    seconds = _time.perf_counter() - t0
    return BacktestResult(
        rules_path=rules.path, symbol=rules.symbol, bars=hi - lo,
        first_time=int(times[lo]) if hi > lo else 0, last_time=int(times[hi - 1]) if hi > lo else 0,
        trades=machine.trades, events=machine.events, blocked=machine.blocked,
        ambiguous_exits=machine.ambiguous_exits, signals=walker.counts,
        seconds=seconds, intrabar=rules.exits.intrabar, model=model,
    )


Row = tuple[int, int, float, float, float, float, float]  # a bar's fields in Bar order (index first)


def _spread_node(rules: CompiledRules) -> int | None:
    """``rules.spread_check`` when it still has the ratios of ``rules.checks`` (a caller may have replaced
    them, ``dataclasses.replace``), else None: the check is then computed over all bars."""
    node = rules.spread_check
    if node is None:
        return None
    params = dict(rules.graph[node].attrs[1])
    ratios = (rules.checks.max_spread_ratio, rules.checks.max_spread_ratio_low_volume)
    return node if (params["max_ratio"], params["max_ratio_low_volume"]) == ratios else None


def _exit_arrays(rules: CompiledRules, candles: Candles) -> tuple[dict[int, np.ndarray], ExitEvaluator]:
    """Empty arrays over all bars for the exit expressions' position-free nodes (``exit_frontier``; the
    driver fills them chunk by chunk), and the evaluator reading them (constants passed as they are)."""
    graph, n, frontier = rules.graph, len(candles), exit_frontier(rules)
    arrays = {k: np.empty(n, dtype=bool if graph[k].type is Type.BOOL else np.float64)
              for k in frontier if not graph[k].is_const}
    consts = {k: graph[k].value for k in frontier if graph[k].is_const}
    return arrays, ExitEvaluator(rules, candles, arrays={**arrays, **consts})


class _Walker:
    """Steps a machine through bars ``lo..hi-1`` as their signals become known, chunk by chunk: every signal
    bar (``rows``, with each side's order) and every bar while it holds a position or a pending entry,
    jumping over flat stretches to the next signal.

    The driver hands over each chunk (:meth:`add`: its signal bars, in order, with their fields and orders,
    gathered at numpy speed), then calls :meth:`walk` up to the chunk's end; every bar before that is final,
    so the walk is the same as one walk over all bars. The machine gets plain tuples (``step_fields``), no Bar or
    EntrySignal object per visited bar; any other visited bar is read through memoryviews of the columns
    (Python ints and floats, as ``tolist()`` would give, without converting million-bar columns to visit a
    few percent of their bars).
    """

    def __init__(self, machine: PositionStateMachine, candles: Candles, lo: int, hi: int) -> None:
        self.machine = machine
        self.arrays = [np.asarray(x) for x in (candles.time, candles.open, candles.high, candles.low,
                                                candles.close, candles.spread)]
        self.columns = [memoryview(np.ascontiguousarray(x, dtype=np.int64 if i == 0 else np.float64))
                        for i, x in enumerate(self.arrays)]
        self.rows: list[Row] = []
        self.longs: list[SignalFields | None] = []
        self.shorts: list[SignalFields | None] = []
        self.t, self.k, self.lo, self.hi = lo, 0, lo, hi  # the next bar to step; rows[k]: the next signal bar
        self.counts = {"long": 0, "short": 0}  # signals per side in lo..hi-1
        self.digests: dict[str, dict[int, str]] = {"long": {}, "short": {}}  # see signal_hashes

    def add(self, a: int, part: Signals, spread_ok: np.ndarray) -> None:
        """Take the signal bars of chunk ``part`` (bars a .. a + len - 1) that lie in lo..hi-1: their fields
        and each side's order (``spread_ok``: the spread check over the chunk's bars). Only this much is kept
        of a chunk, so the per-bar arrays of all conditions never exist for all bars at once."""
        b = a + len(part.time)
        s, e = max(self.lo, a) - a, min(self.hi, b) - a  # this chunk's share of lo..hi-1, in chunk positions
        if s >= e:
            return
        long_sig, short_sig = part.long.signal[s:e], part.short.signal[s:e]
        self.counts["long"] += int(np.count_nonzero(long_sig))
        self.counts["short"] += int(np.count_nonzero(short_sig))
        local = np.flatnonzero(long_sig | short_sig) + s
        bars = local + a
        ok = np.asarray(spread_ok, dtype=bool)
        self.rows += zip(bars.tolist(), *(x[bars].tolist() for x in self.arrays), strict=True)
        self.longs += _orders(part, "long", local, ok, self.digests["long"])
        self.shorts += _orders(part, "short", local, ok, self.digests["short"])

    def walk(self, stop: int) -> None:
        """Step every bar that matters before ``stop`` (all signal bars before it must be in ``rows``)."""
        machine = self.machine
        step, positions, pending = machine.step_fields, machine.positions, machine.pending  # flat: both empty
        rows, longs, shorts = self.rows, self.longs, self.shorts
        bar_time, bar_open, bar_high, bar_low, bar_close, bar_spread = self.columns
        n, k, t, last = len(rows), self.k, self.t, self.hi - 1
        # ``while True`` and a break, not ``while t < stop``: CPython 3.11 specialises a loop's bytecode only
        # once it has jumped back a few times, and a loop condition at the bottom jumps back without counting
        while True:
            if t >= stop:
                break
            if not positions and not pending:  # flat: nothing happens before the next signal
                if k == n:
                    t = stop
                    break
                t = rows[k][0]
            if k < n and rows[k][0] == t:
                step(rows[k], longs[k], shorts[k], t == last)
                k += 1
            else:
                step((t, bar_time[t], bar_open[t], bar_high[t], bar_low[t], bar_close[t], bar_spread[t]), None,
                     None, t == last)
            t += 1
        self.t, self.k = t, k

    def finish(self) -> None:
        """After the last bar: every signal bar was stepped and no position is left open. The signal rows
        are dropped here, while the cyclic GC still waits: freed now by reference counting, they are not
        among the young objects its first collection after the run must traverse (~40k tuples per 1M bars)."""
        machine = self.machine
        if self.k != len(self.rows) or (self.hi > self.lo and (machine.positions or machine.pending)):
            raise AssertionError("the walk ended early")  # pragma: no cover
        self.rows, self.longs, self.shorts = [], [], []
