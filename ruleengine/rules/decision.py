"""From graph values to decisions: layers, score, grade, SL/TP and the signal hash, per bar and side.

The combining logic (:func:`_combine`) works on arrays; the backtest calls it with arrays over all bars and
the live path with arrays of length one, so both decide with the same code.

A side signals at bar t when: t is past the warm-up; every filter holds; at least ``min_primary`` primary
and ``min_secondary`` secondary triggers and one location edge hold; the score (each component clamped to
[0, max], undefined counted as 0) reaches ``trade_at``; and the stop-loss and take-profit distances are
defined and positive (they are then clamped to ``sl_range`` / ``tp_range``). Grade: 0 none, 1 trade,
2 A+ (score >= ``a_plus_at``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ruleengine.data import Candles
from ruleengine.dsl.graph import Graph
from ruleengine.errors import DataError
from ruleengine.rules.model import SIDES, CompiledRules, Side, SideRules

__all__ = ["GRADES", "Decision", "SideSignals", "Signals", "decide_last", "evaluate_signals", "signal_hash"]

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
    stamp = np.datetime64(int(candle_time), "s").astype(object).strftime("%Y%m%dT%H%M")
    digest = hashlib.sha1(",".join(sorted(true_conditions)).encode()).hexdigest()[:8]
    return f"{symbol}_{side}_{stamp}_{digest}"


def _bool(graph: Graph, values: Mapping[int, Any], node: int, n: int) -> np.ndarray:
    return np.asarray(Graph.as_array(values[node], n, graph[node].type), dtype=bool)


def _num(graph: Graph, values: Mapping[int, Any], node: int, n: int) -> np.ndarray:
    return np.asarray(Graph.as_array(values[node], n, graph[node].type), dtype=np.float64)


def _combine(rules: CompiledRules, sr: SideRules, values: Mapping[int, Any], n: int,
             warmed: np.ndarray) -> SideSignals:
    g = rules.graph
    conditions: dict[str, dict[str, np.ndarray]] = {}
    for layer in ("filters", "location", "primary", "secondary"):
        conditions[layer] = {c.name: _bool(g, values, c.node, n) for c in getattr(sr, layer)}

    def count(layer: str) -> np.ndarray:
        return np.sum(list(conditions[layer].values()), axis=0) if conditions[layer] else np.zeros(n)

    filters = np.all(list(conditions["filters"].values()), axis=0)
    location = count("location") >= 1
    primary = count("primary") >= rules.min_primary
    secondary = count("secondary") >= rules.min_secondary
    components = {}
    for comp in sr.score:
        v = _num(g, values, comp.node, n)
        components[comp.name] = np.clip(np.nan_to_num(v, nan=0.0), 0.0, comp.max)
    score = np.sum(list(components.values()), axis=0) if components else np.zeros(n)
    grade = np.where(score >= rules.a_plus_at, 2, np.where(score >= rules.trade_at, 1, 0)).astype(np.int8)
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


def _check_columns(rules: CompiledRules, candles: Candles) -> None:
    missing = sorted(c for c in rules.required_columns if c not in candles.columns)
    if missing:
        raise DataError(f"{rules.path} uses {', '.join(missing)}, which this data has no column for "
                        f"(order-flow rules need exchange data with taker-buy volume)", path=candles.source or None)


def evaluate_signals(rules: CompiledRules, candles: Candles) -> Signals:
    """Vectorised decisions for both sides over all bars (the backtest path)."""
    _check_columns(rules, candles)
    n = len(candles)
    values = rules.graph.evaluate(candles, rules.entry_outputs())
    warmed = np.arange(n) >= rules.warmup
    sides = {s: _combine(rules, rules.sides[s], values, n, warmed) for s in SIDES}
    return Signals(symbol=rules.symbol, time=np.asarray(candles.time), warmup=rules.warmup,
                   long=sides["long"], short=sides["short"])


def decide_last(rules: CompiledRules, candles: Candles) -> tuple[Decision, Decision]:
    """Long and short decisions at the newest bar of ``candles`` (the live path).

    ``candles`` should hold at least ``rules.warmup + 1`` bars; with fewer, the decision reports
    ``warmed_up=False`` and never signals.
    """
    _check_columns(rules, candles)
    values = rules.graph.evaluate_last(candles, rules.entry_outputs())
    warmed = np.array([len(candles) > rules.warmup])
    t = int(candles.time[-1])
    out = []
    for s in SIDES:
        ss = _combine(rules, rules.sides[s], {k: np.atleast_1d(v) for k, v in values.items()}, 1, warmed)
        out.append(_decision(rules.symbol, t, ss, 0, bool(warmed[0])))
    return out[0], out[1]


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
