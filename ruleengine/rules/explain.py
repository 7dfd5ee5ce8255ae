"""``ruleengine explain``: why a bar did or did not signal, as a checklist (text) or a JSON object.

Modelled on the plan's "Micro-Scalp Opportunity" section: every layer and condition with pass/fail and the
values behind it (for a comparison, both sides: ``true_range >= min_true_range * session_mult`` shows
``0.83 >= 0.6``), the score breakdown against its thresholds, the verdict, and the order the actions would
place: entry at the next bar's open on the right side of the spread (approximated here by the signal bar's
close, plus the spread for a buy), stop and target at the rule's clamped distances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ruleengine.data import Candles
from ruleengine.dsl.graph import Graph
from ruleengine.rules.decision import Decision, decide_last
from ruleengine.rules.model import SIDES, CompiledRules, Condition, Side

__all__ = ["Explanation", "bar_index_at", "explain", "render_text"]

_CMP_SYMBOL = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


@dataclass(frozen=True, kw_only=True)
class ConditionDetail:
    layer: str
    name: str
    text: str
    passed: bool
    values: str  # "0.83 >= 0.6" for comparisons, "" otherwise
    line: int
    column: int


@dataclass(frozen=True, kw_only=True)
class SideExplanation:
    decision: Decision
    conditions: tuple[ConditionDetail, ...]
    entry: float
    stop: float
    target: float


@dataclass(frozen=True, kw_only=True)
class Explanation:
    rules_path: str
    symbol: str
    time: int
    requested: int
    index: int
    close: float
    spread: float
    sides: dict[str, SideExplanation]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rules": self.rules_path, "symbol": self.symbol, "bar_time": _iso(self.time),
            "requested_time": _iso(self.requested), "close": self.close, "spread": self.spread, "sides": {},
        }
        for side, se in self.sides.items():
            d = se.decision.as_dict()
            d["conditions"] = [
                {"layer": c.layer, "name": c.name, "expression": c.text, "passed": c.passed, "values": c.values,
                 "line": c.line, "column": c.column} for c in se.conditions
            ]
            d["order"] = {"entry": se.entry, "stop_loss": se.stop, "take_profit": se.target} if se.decision.signal \
                else None
            d["would_place"] = {"entry": se.entry, "stop_loss": se.stop, "take_profit": se.target}
            out["sides"][side] = d
        return out


def _iso(t: int) -> str:
    return f"{np.datetime64(int(t), 's')}Z"


def _fmt(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    v = float(v)
    if np.isnan(v):
        return "undefined"
    return f"{v:.6g}"


def bar_index_at(candles: Candles, when: int) -> int:
    """Index of the bar that opened at ``when`` or, if none did, the last bar before it."""
    i = int(np.searchsorted(candles.time, when, side="right")) - 1
    if i < 0:
        first = _iso(int(candles.time[0]))
        raise ValueError(f"{_iso(when)} is before the first bar of the data ({first})")
    return i


def explain(rules: CompiledRules, candles: Candles, when: int) -> Explanation:
    """Explain the decision at the bar at (or last before) ``when`` (UTC epoch seconds)."""
    index = bar_index_at(candles, when)
    window = candles[: index + 1]
    long_d, short_d = decide_last(rules, window)
    decisions = {"long": long_d, "short": short_d}
    graph = rules.graph
    operand_nodes: list[int] = []
    for side in SIDES:
        for c in rules.sides[side].conditions():
            for cmp in _comparisons(graph, c.node):
                operand_nodes += list(graph[cmp].args)
    values = graph.evaluate_last(window, [*operand_nodes]) if operand_nodes else {}
    close = float(candles.close[index])
    spread = float(candles.spread[index])
    sides: dict[str, SideExplanation] = {}
    for side in SIDES:
        d = decisions[side]
        details = tuple(_detail(graph, c, d, values) for c in rules.sides[side].conditions())
        entry = close + spread if side == "long" else close
        sign = 1 if side == "long" else -1
        sides[side] = SideExplanation(decision=d, conditions=details, entry=entry,
                                      stop=entry - sign * d.stop_loss, target=entry + sign * d.take_profit)
    return Explanation(rules_path=rules.path, symbol=rules.symbol, time=int(candles.time[index]), requested=when,
                       index=index, close=close, spread=spread, sides=sides)


def _comparisons(graph: Graph, node_id: int, depth: int = 3) -> list[int]:
    """The comparison nodes at the top of a condition, looking through and/or/not up to ``depth`` levels."""
    node = graph[node_id]
    if node.op in _CMP_SYMBOL:
        return [node_id]
    if node.op in ("and", "or", "not") and depth > 0:
        return [c for a in node.args for c in _comparisons(graph, a, depth - 1)]
    return []


def _detail(graph: Graph, c: Condition, d: Decision, values: dict[int, Any]) -> ConditionDetail:
    parts = []
    for cmp in _comparisons(graph, c.node):
        node = graph[cmp]
        left, right = (values.get(a, graph[a].value if graph[a].is_const else np.nan) for a in node.args)
        parts.append(f"{_fmt(left)} {_CMP_SYMBOL[node.op]} {_fmt(right)}")
    text = "; ".join(parts)
    passed = d.conditions[c.layer][c.name]
    return ConditionDetail(layer=c.layer, name=c.name, text=c.text, passed=passed, values=text,
                           line=c.line, column=c.column)


_LAYER_TITLES = {
    "filters": "1. Pre-trade filters (all must hold)",
    "location": "2. Location (at least one edge)",
    "primary": "3a. Primary triggers",
    "secondary": "3b. Secondary confluence",
}


def render_text(expl: Explanation, rules: CompiledRules, *, side: Side | None = None) -> str:
    """The checklist as plain text (the CLI prints it through rich, which adds colour on terminals)."""
    mark = {True: "✅", False: "❌"}
    lines = [f"Micro-scalp decision for {expl.symbol} at {_iso(expl.time)} (close {expl.close:.6g}, "
             f"spread {expl.spread:.6g})"]
    if expl.time != expl.requested:
        lines.append(f"  (no bar opened at {_iso(expl.requested)}; this is the last bar before it)")
    lines.append(f"  rules: {expl.rules_path}")
    for s in SIDES if side is None else (side,):
        se = expl.sides[s]
        d = se.decision
        verdict = "SIGNAL" if d.signal else "no signal"
        lines += ["", f"{'LONG' if s == 'long' else 'SHORT'}: {verdict}, score {d.score:g}/"
                  f"{sum(c.max for c in rules.sides[s].score):g}, grade {d.grade}"]
        if not d.warmed_up:
            lines.append(f"  ⚠️ warming up: decisions need {rules.warmup} earlier bars")
        for layer in ("filters", "location", "primary", "secondary"):
            lines.append(f"  {_LAYER_TITLES[layer]}: {mark[d.layers[layer]]}")
            for c in (c for c in se.conditions if c.layer == layer):
                values = f"   [{c.values}]" if c.values else ""
                lines.append(f"    {mark[c.passed]} {c.name}: {c.text}{values}")
        lines.append(f"  4. Confluence score: {d.score:g} (trade at {rules.trade_at:g}, A+ at {rules.a_plus_at:g})")
        for comp in rules.sides[s].score:
            lines.append(f"    {d.components[comp.name]:g}/{comp.max:g} {comp.name}: {comp.text}")
        rr = d.take_profit / d.stop_loss if d.stop_loss > 0 else float("nan")
        action = "Order" if d.signal else "Would place"
        lines.append(f"  {action}: market {'buy' if s == 'long' else 'sell'} ~{se.entry:.6g}, "
                     f"SL {se.stop:.6g} ({d.stop_loss:g} risk), TP {se.target:.6g} ({d.take_profit:g} reward, "
                     f"R:R 1:{rr:.2g})")
        lines.append(f"  signal hash: {d.signal_hash}")
    return "\n".join(lines)
