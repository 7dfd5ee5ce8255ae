"""From graph values to decisions: layers, score, grade, SL/TP and the signal hash, per bar and side.

The combining logic (:func:`_combine`) works on arrays over all bars (the backtest); the live path decides one
bar with its scalar twin (:func:`_decide_one`), written step for step to give the same floats.

A side signals at bar t when: t is past the warm-up; every filter holds; at least ``min_primary`` primary
and ``min_secondary`` secondary triggers and one location edge hold; the score (each component clamped to
[0, max], undefined counted as 0) reaches ``trade_at``; and the stop-loss and take-profit distances are
defined and positive (they are then clamped to ``sl_range`` / ``tp_range``). Grade: 0 none, 1 trade,
2 A+ (score >= ``a_plus_at``).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from ruleengine.allocator import keep_freed_memory
from ruleengine.data import Candles
from ruleengine.dsl.graph import Graph, Type
from ruleengine.errors import DataError
from ruleengine.rules.model import LAYERS, SIDES, CompiledRules, Side, SideRules

__all__ = [
    "GRADES", "Decision", "SideSignals", "Signals", "decide_last", "evaluate_signals", "signal_chunks", "signal_hash",
]

GRADES = ("none", "trade", "A+")


@dataclass(frozen=True, kw_only=True)
class SideSignals:
    """Per-bar results for one side (arrays over the evaluated bars)."""

    side: Side
    filters: np.ndarray
    location: np.ndarray
    primary: np.ndarray
    secondary: np.ndarray
    score: np.ndarray
    grade: np.ndarray
    signal: np.ndarray
    stop_loss: np.ndarray
    take_profit: np.ndarray
    conditions: Mapping[str, Mapping[str, np.ndarray]]  # layer -> name -> values
    components: Mapping[str, np.ndarray]


@dataclass(frozen=True, kw_only=True)
class Signals:
    """Both sides over a run of bars, plus the bar times (for hashes and reports)."""

    symbol: str
    time: np.ndarray
    warmup: int
    long: SideSignals
    short: SideSignals
    extra: Mapping[int, Any] = field(default_factory=dict)  # graph node -> value (signal_chunks' ``extra``)

    def side(self, side: Side) -> SideSignals:
        return self.long if side == "long" else self.short

    def decision(self, index: int, side: Side) -> Decision:
        """The full :class:`Decision` at bar ``index`` for ``side``."""
        return _decision(self.symbol, int(self.time[index]), self.side(side), index, index >= self.warmup)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Why a side did or did not signal at one bar: every condition, every score component, the verdict."""

    symbol: str
    time: int
    side: Side
    warmed_up: bool
    conditions: Mapping[str, Mapping[str, bool]]
    layers: Mapping[str, bool]
    components: Mapping[str, float]
    score: float
    grade: str
    signal: bool
    stop_loss: float
    take_profit: float
    signal_hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "time": _iso(self.time), "side": self.side, "warmed_up": self.warmed_up,
            "layers": dict(self.layers), "conditions": {k: dict(v) for k, v in self.conditions.items()},
            "components": dict(self.components), "score": self.score, "grade": self.grade,
            "signal": self.signal, "stop_loss": _finite(self.stop_loss), "take_profit": _finite(self.take_profit),
            "signal_hash": self.signal_hash,
        }


def _finite(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _iso(t: int) -> str:
    return f"{np.datetime64(int(t), 's')}Z"


def signal_hash(symbol: str, side: str, candle_time: int, true_conditions: list[str]) -> str:
    """``symbol_side_candletime_conditionshash`` (the plan's de-duplication key).

    ``conditionshash`` is the first 8 hex digits of SHA-1 over the sorted names of the conditions that held,
    so the same symbol, side, candle and conditions always give the same hash, and a re-evaluation of the
    same candle (a refresh) can be recognised.
    """
    stamp = time.strftime("%Y%m%dT%H%M", time.gmtime(int(candle_time)))
    digest = hashlib.sha1(",".join(sorted(true_conditions)).encode()).hexdigest()[:8]
    return f"{symbol}_{side}_{stamp}_{digest}"


def _bool(graph: Graph, values: Mapping[int, Any], node: int, n: int) -> np.ndarray:
    return np.asarray(Graph.as_array(values[node], n, graph[node].type), dtype=bool)


def _num(graph: Graph, values: Mapping[int, Any], node: int, n: int) -> np.ndarray:
    return np.asarray(Graph.as_array(values[node], n, graph[node].type), dtype=np.float64)


def _total(arrays: list[np.ndarray]) -> np.ndarray:
    """a0 + a1 + ... added left to right, the order :func:`_decide_one` uses for one bar (``np.sum`` over a
    stack switches to pairwise summation for a single bar with 8 or more terms, which rounds differently)."""
    out = arrays[0].copy()
    for a in arrays[1:]:
        out += a
    return out


def _component(v: np.ndarray, cap: float) -> np.ndarray:
    """``np.clip(np.nan_to_num(v, nan=0.0), 0.0, cap)``: undefined counts 0, the rest clamped to [0, cap].

    For a finite cap, clipping first and then zeroing the NaN gives the same floats (+-inf clip to cap or 0
    either way, and a tie with a bound keeps x in both) in two passes instead of six; a component already in
    range (``2 if ... else 1 if ... else 0``, the usual case) is checked in three cheap passes and returned as
    it is (callers only read it).
    """
    if not np.isfinite(cap):
        return np.clip(np.nan_to_num(v, nan=0.0), 0.0, cap)
    if v.size and v.min() >= 0.0 and v.max() <= cap and not np.signbit(v).any():
        return v  # already in [0, cap], no NaN (min and max would be NaN), no -0.0: clipping changes no bit
    out = np.clip(v, 0.0, cap)
    out[np.isnan(out)] = 0.0
    return out


def _value_range(graph: Graph, node: int) -> tuple[float, float] | None:
    """Bounds (lo, hi) that every bar's value of ``node`` lies within, with lo >= 0, no NaN and no -0.0
    anywhere, when the expression proves it; else None.

    Proven for finite constants other than -0.0, ``a if c else b`` of proven values (the select copies
    their bits), and sums of proven values: with both operands >= 0, float addition is monotone, so the sum
    lies within fl(lo1 + lo2) .. fl(hi1 + hi2), and it is never -0.0 or NaN. A score component such as
    ``2 if x else 1 if y else 0`` is then known to need no clamping (see :func:`_combine`).
    """
    nd = graph[node]
    if nd.is_const:
        v = nd.value
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 \
                and math.copysign(1.0, v) > 0:
            return float(v), float(v)
        return None
    if nd.op == "where" and nd.type is Type.NUMBER:
        a, b = _value_range(graph, nd.args[1]), _value_range(graph, nd.args[2])
        return None if a is None or b is None else (min(a[0], b[0]), max(a[1], b[1]))
    if nd.op == "add":
        a, b = _value_range(graph, nd.args[0]), _value_range(graph, nd.args[1])
        return None if a is None or b is None else (a[0] + b[0], a[1] + b[1])
    return None


def _clamp_free(rules: CompiledRules) -> frozenset[tuple[int, float]]:
    """``(node, max)`` of the score components proven within [0, max] by :func:`_value_range`, whose
    clamping would change no bit; found once per evaluation, not per chunk."""
    return frozenset((comp.node, comp.max) for sr in rules.sides.values() for comp in sr.score
                     if (known := _value_range(rules.graph, comp.node)) is not None and known[1] <= comp.max)


def _combine(rules: CompiledRules, sr: SideRules, values: Mapping[int, Any], n: int,
             warmed: np.ndarray, clamp_free: frozenset[tuple[int, float]] | None = None) -> SideSignals:
    g = rules.graph
    conditions: dict[str, dict[str, np.ndarray]] = {}
    for layer in LAYERS:
        conditions[layer] = {c.name: _bool(g, values, c.node, n) for c in getattr(sr, layer)}

    def count(layer: str) -> np.ndarray:
        conds = conditions[layer].values()
        counts = np.zeros(n, dtype=np.uint8 if len(conds) < 256 else np.int64)
        for v in conds:
            counts += v
        return counts

    filters = np.ones(n, dtype=bool)
    for v in conditions["filters"].values():
        filters &= v
    location = count("location") >= 1
    primary = count("primary") >= rules.min_primary
    secondary = count("secondary") >= rules.min_secondary
    components = {}
    if clamp_free is None:
        clamp_free = _clamp_free(rules)
    for comp in sr.score:
        v = _num(g, values, comp.node, n)
        # within [0, max] by construction: clamping would change no bit (and checking it costs three passes)
        components[comp.name] = v if (comp.node, comp.max) in clamp_free else _component(v, comp.max)
    score = _total(list(components.values())) if components else np.zeros(n)
    # 2 if score >= a_plus_at else 1 if score >= trade_at else 0, as (either) + (a_plus): no branch per bar
    a_plus = score >= rules.a_plus_at
    grade = np.logical_or(a_plus, score >= rules.trade_at).view(np.int8)
    grade += a_plus.view(np.int8)
    lo, hi = rules.entry.sl_range
    sl_raw = _num(g, values, sr.stop_loss, n)
    sl = np.clip(sl_raw, lo, hi)
    lo, hi = rules.entry.tp_range
    tp_raw = _num(g, values, sr.take_profit, n)
    tp = np.clip(tp_raw, lo, hi)
    with np.errstate(invalid="ignore"):
        orders_ok = (sl_raw > 0) & (tp_raw > 0)  # NaN (undefined) compares false
    signal = warmed & filters & location & primary & secondary & (grade >= 1) & orders_ok
    return SideSignals(side=sr.side, filters=filters, location=location, primary=primary, secondary=secondary,
                       score=score, grade=grade, signal=signal, stop_loss=sl, take_profit=tp,
                       conditions=conditions, components=components)


# -- one bar (the live path) ---------------------------------------------------------------------------------
#
# ``_decide_one`` is ``_combine`` followed by ``_decision`` for a single bar, on Python scalars: a live
# decision would otherwise spend most of its time building and reducing length-1 arrays. Each step is
# written to give the same float as its array twin: IEEE float64 arithmetic is the same in Python and numpy,
# sums run left to right in both (``_total``), and ``_clip`` / ``_finite_or_zero`` follow numpy's ``clip`` and
# ``nan_to_num`` to the sign of zero. Tests compare ``decide_last`` with ``evaluate_signals`` bar by bar.

_BIG = float(np.finfo(np.float64).max)


def _clip(x: float, lo: float, hi: float) -> float:
    """``np.clip`` for one float: NaN stays NaN; on a tie with a bound, x itself is kept (its sign of zero)."""
    if x != x:
        return x
    x = x if x >= lo else lo
    return x if x <= hi else hi


def _finite_or_zero(x: float) -> float:
    """``np.nan_to_num(x, nan=0.0)`` for one float: NaN -> 0, +-inf -> +-largest float."""
    if x != x:
        return 0.0
    if x in (np.inf, -np.inf):
        return _BIG if x > 0 else -_BIG
    return x


def _decide_one(rules: CompiledRules, sr: SideRules, values: Mapping[int, Any], t: int,
                warmed_up: bool) -> Decision:
    conditions = {layer: {c.name: bool(values[c.node]) for c in getattr(sr, layer)} for layer in LAYERS}
    held = {layer: sum(conds.values()) for layer, conds in conditions.items()}
    layers = {"filters": held["filters"] == len(conditions["filters"]), "location": held["location"] >= 1,
              "primary": held["primary"] >= rules.min_primary,
              "secondary": held["secondary"] >= rules.min_secondary}
    components = {c.name: _clip(_finite_or_zero(float(values[c.node])), 0.0, c.max) for c in sr.score}
    score = 0.0
    for i, v in enumerate(components.values()):
        score = v if i == 0 else score + v
    grade = 2 if score >= rules.a_plus_at else 1 if score >= rules.trade_at else 0
    sl_raw, tp_raw = float(values[sr.stop_loss]), float(values[sr.take_profit])
    signal = warmed_up and all(layers.values()) and grade >= 1 and sl_raw > 0 and tp_raw > 0
    true_names = [f"{layer}.{name}" for layer, conds in conditions.items() for name, ok in conds.items() if ok]
    return Decision(
        symbol=rules.symbol, time=t, side=sr.side, warmed_up=warmed_up, conditions=conditions, layers=layers,
        components=components, score=score, grade=GRADES[grade], signal=signal,
        stop_loss=_clip(sl_raw, *rules.entry.sl_range), take_profit=_clip(tp_raw, *rules.entry.tp_range),
        signal_hash=signal_hash(rules.symbol, sr.side, t, true_names),
    )


def _check_columns(rules: CompiledRules, candles: Candles) -> None:
    missing = sorted(c for c in rules.required_columns if c not in candles.columns)
    if missing:
        raise DataError(f"{rules.path} uses {', '.join(missing)}, which this data has no column for "
                        f"(order-flow rules need exchange data with taker-buy volume)", path=candles.source or None)


#: Bars per chunk of a long evaluation (see :func:`evaluate_signals`): 2^17 bars make each float column 1 MiB,
#: so an indicator's temporaries stay in the CPU caches. Measured on 1M real XAUUSD bars (rules/xauusd.yaml):
#: 0.61 s in one piece, 0.41 s in chunks of 2^17, 0.45 s of 2^16, 0.57 s of 2^15 (each chunk also pays the
#: graph's fixed per-evaluation cost, a few ms, and re-reads its warm-up bars).
CHUNK_BARS = 1 << 17


def evaluate_signals(rules: CompiledRules, candles: Candles, *, chunk: int | None = CHUNK_BARS,
                     workers: int = 1) -> Signals:
    """Vectorised decisions for both sides over all bars (the backtest path).

    A long run is evaluated in chunks of ``chunk`` bars (see :func:`signal_chunks`) and put together;
    ``chunk=None`` forces one piece; ``workers`` as in :func:`signal_chunks`.
    """
    times = np.asarray(candles.time)
    parts = [p for _, p in signal_chunks(rules, candles, chunk=chunk, workers=workers)]
    if len(parts) == 1:
        return parts[0]
    return Signals(symbol=rules.symbol, time=times, warmup=rules.warmup,
                   long=_concat([p.long for p in parts]), short=_concat([p.short for p in parts]))


def signal_chunks(rules: CompiledRules, candles: Candles, *, chunk: int | None = CHUNK_BARS,
                  workers: int = 1, extra: Sequence[int] = ()) -> Iterator[tuple[int, Signals]]:
    """``(a, signals of bars a .. a + len - 1)`` for consecutive chunks of ``chunk`` bars covering all bars.

    Each chunk is evaluated on its own bars plus the ``warmup`` bars before it when the rules are
    window-exact: the value at t then depends on bars t - warmup .. t only, so each chunk gives exactly the
    floats of one evaluation over all bars (the live evaluator relies on the same property, and tests
    compare both ways). Rules that are not window-exact (Wilder smoothing) come in one piece, as do runs of
    at most ``chunk + warmup`` bars. A consumer that only needs a little of each chunk (the backtest driver:
    the signal bars) never holds all bars' arrays at once. ``Signals.warmup`` and ``decision`` of a chunk
    count bars from the start of ``candles``'s evaluation, i.e. the chunk's bar i is bar a + i overall.

    ``workers`` > 1 evaluates up to that many chunks at once in threads, still yielded in order. Each chunk's
    floats are the same whichever thread computes it (a chunk reads only its own bars and every evaluation
    has its own ``sharing`` memo: a context variable, which a thread does not inherit), so the result does
    not depend on ``workers``; the time does, because numpy releases the GIL inside its loops while the
    Python between them holds it (``ruleengine.backtest.driver.default_workers`` says what it gains).

    ``extra`` graph nodes (the backtest's position-free exit values) are evaluated with each chunk, sharing
    its indicators, and returned in ``Signals.extra`` over the chunk's bars; the bars before each chunk then
    cover their lookback too, and chunks are made only when they are window-exact as well.
    """
    _check_columns(rules, candles)
    keep_freed_memory()  # thousands of ~1 MiB temporaries: reuse their pages (see ruleengine.allocator)
    n, warmup = len(candles), rules.warmup
    times = np.asarray(candles.time)
    extra = tuple(dict.fromkeys(extra))
    overlap = max(warmup, rules.graph.warmup(extra)) if extra else warmup  # bars read before a chunk
    exact = rules.window_exact and (not extra or rules.graph.window_exact(extra))
    if chunk is None or n <= chunk + overlap or not exact:
        bounds = [(0, n)]
    else:
        bounds = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]

    clamp_free = _clamp_free(rules)

    def piece(a: int, b: int) -> tuple[int, Signals]:
        sides, values = _evaluate_piece(rules, candles, a, b, extra=extra, overlap=overlap, clamp_free=clamp_free)
        return a, Signals(symbol=rules.symbol, time=times[a:b], warmup=max(warmup - a, 0),
                          long=sides["long"], short=sides["short"], extra=values)

    if workers <= 1 or len(bounds) == 1:
        for a, b in bounds:
            yield piece(a, b)
        return
    # at most 2 x workers chunks in flight: each holds its arrays until it is consumed
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ruleengine-chunk")
    try:
        ahead: deque[Future[tuple[int, Signals]]] = deque()
        todo = iter(bounds)
        for a, b in islice(todo, 2 * workers):
            ahead.append(pool.submit(piece, a, b))
        while ahead:
            done = ahead.popleft().result()
            for a, b in islice(todo, 1):
                ahead.append(pool.submit(piece, a, b))
            yield done
    finally:  # also when the consumer stops early or a chunk raised: nothing left running
        pool.shutdown(wait=True, cancel_futures=True)


def _evaluate_piece(rules: CompiledRules, candles: Candles, a: int, b: int, *, extra: tuple[int, ...] = (),
                    overlap: int | None = None, clamp_free: frozenset[tuple[int, float]] | None = None,
                    ) -> tuple[dict[str, SideSignals], dict[int, Any]]:
    """Both sides for bars a..b-1, and the values of the ``extra`` nodes there, evaluated on bars
    max(0, a - overlap)..b-1 (``overlap``: the rules' warm-up unless given; ``clamp_free``: see
    :func:`_clamp_free`, found here unless given)."""
    s = max(0, a - (rules.warmup if overlap is None else overlap))
    piece = candles if (s, b) == (0, len(candles)) else candles[s:b]
    outputs = rules.entry_nodes if not extra else tuple(dict.fromkeys((*rules.entry_nodes, *extra)))
    values = rules.graph.evaluate(piece, outputs)
    if s < a:
        values = {k: v[a - s:] if isinstance(v, np.ndarray) else v for k, v in values.items()}
    warmed = np.arange(a, b) >= rules.warmup
    if clamp_free is None:
        clamp_free = _clamp_free(rules)
    sides = {side: _combine(rules, rules.sides[side], values, b - a, warmed, clamp_free) for side in SIDES}
    return sides, {k: values[k] for k in extra}


def _concat(parts: list[SideSignals]) -> SideSignals:
    first = parts[0]
    cat = np.concatenate
    return SideSignals(
        side=first.side, **{f: cat([getattr(p, f) for p in parts]) for f in _SIDE_ARRAYS},
        conditions={layer: {name: cat([p.conditions[layer][name] for p in parts]) for name in conds}
                    for layer, conds in first.conditions.items()},
        components={name: cat([p.components[name] for p in parts]) for name in first.components},
    )


_SIDE_ARRAYS = ("filters", "location", "primary", "secondary", "score", "grade", "signal", "stop_loss",
                "take_profit")


def decide_last(rules: CompiledRules, candles: Candles) -> tuple[Decision, Decision]:
    """Long and short decisions at the newest bar of ``candles`` (the live path).

    ``candles`` should hold at least ``rules.warmup + 1`` bars; with fewer, the decision reports
    ``warmed_up=False`` and never signals.
    """
    _check_columns(rules, candles)
    values = rules.graph.evaluate_last(candles, rules.entry_nodes)
    warmed_up = len(candles) > rules.warmup
    t = int(candles.time[-1])
    long_d, short_d = (_decide_one(rules, rules.sides[s], values, t, warmed_up) for s in SIDES)
    return long_d, short_d


def _decision(symbol: str, t: int, ss: SideSignals, i: int, warmed_up: bool) -> Decision:
    conditions = {layer: {name: bool(v[i]) for name, v in conds.items()} for layer, conds in ss.conditions.items()}
    true_names = [f"{layer}.{name}" for layer, conds in conditions.items() for name, ok in conds.items() if ok]
    return Decision(
        symbol=symbol, time=t, side=ss.side, warmed_up=warmed_up, conditions=conditions,
        layers={"filters": bool(ss.filters[i]), "location": bool(ss.location[i]),
                "primary": bool(ss.primary[i]), "secondary": bool(ss.secondary[i])},
        components={k: float(v[i]) for k, v in ss.components.items()}, score=float(ss.score[i]),
        grade=GRADES[int(ss.grade[i])], signal=bool(ss.signal[i]),
        stop_loss=float(ss.stop_loss[i]), take_profit=float(ss.take_profit[i]),
        signal_hash=signal_hash(symbol, ss.side, t, true_names),
    )
