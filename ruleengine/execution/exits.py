"""Values of the rule's exit expressions at one bar for one position.

Exit expressions may use position names (``r_multiple``, ``bars_held``, ``side == long`` ...), which exist
only while a position is open. Their position-free sub-expressions are computed once, vectorised over all
bars (they are ordinary graph nodes); only the part above them is evaluated per bar and position, with the
graph's own :func:`apply_op`, so the semantics cannot drift from the entry side. The live driver evaluates
the same nodes on its window of bars.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ruleengine.data import Candles
from ruleengine.dsl.graph import Graph, Node, apply_op
from ruleengine.execution.machine import ExitContext
from ruleengine.execution.types import Position
from ruleengine.rules.model import SIDES, CompiledRules

__all__ = ["ExitEvaluator", "exit_frontier"]

_new = tuple.__new__  # ExitContext from its fields in order


def _exit_nodes(rules: CompiledRules) -> tuple[dict[str, tuple[int | None, int | None, int | None]], set[int],
                                              tuple[int, ...]]:
    """Per side its (adverse, trailing distance, exit_when) roots; the nodes that depend on the position
    (``pos`` names and what is computed from them); and the frontier: the position-free nodes those read,
    plus the position-free roots, whose values over all bars are all a bar needs besides the position."""
    graph = rules.graph
    nodes = {s: (rules.sides[s].adverse_candle, rules.sides[s].trailing_distance, rules.sides[s].exit_when)
             for s in SIDES}
    roots = [n for s in SIDES for n in nodes[s] if n is not None]
    dynamic: set[int] = set()
    for n in graph.reachable(roots):  # ids are topological: inputs first
        node = graph[n]
        if node.op == "pos" or any(a in dynamic for a in node.args):
            dynamic.add(n)
    frontier = {a for n in dynamic for a in graph[n].args if a not in dynamic}
    frontier |= {n for n in roots if n not in dynamic}
    return nodes, dynamic, tuple(sorted(frontier))


def exit_frontier(rules: CompiledRules) -> tuple[int, ...]:
    """The position-free graph nodes whose values (over all bars) an :class:`ExitEvaluator` reads; the
    backtest evaluates them with each chunk of its signals and passes them in as ``arrays``."""
    return _exit_nodes(rules)[2]


class ExitEvaluator:
    """``evaluator(side, index, position) -> ExitContext`` for a :class:`PositionStateMachine`."""

    def __init__(self, rules: CompiledRules, candles: Candles, *, offset: int = 0,
                 arrays: Mapping[int, Any] | None = None) -> None:
        """``offset``: the driver's index of ``candles[0]`` (a live window starts mid-history). ``arrays``: the
        values of :func:`exit_frontier`'s nodes over ``candles`` when the caller has them (arrays may still be
        filling, as long as each bar's value is in place before that bar is asked for); else computed here."""
        self.offset = offset
        self.graph: Graph = rules.graph
        self.candles = candles
        self.close = np.asarray(candles.close)
        self.spread = np.asarray(candles.spread)
        self.time = np.asarray(candles.time)
        self.nodes, self.dynamic, frontier = _exit_nodes(rules)
        if arrays is not None:
            missing = [n for n in frontier if n not in arrays]
            if missing:
                raise ValueError(f"arrays lack the exit nodes {missing}")
            self.arrays: dict[int, Any] = dict(arrays)
        else:
            self.arrays = self.graph.evaluate(candles, frontier) if frontier else {}
        # a side whose exit expressions are all position-free (``distance: 0.3 * atr14``) only reads arrays:
        # per expression, ``value_at(local index)`` or None when the rule has no such expression
        self._position_free: dict[str, tuple[Callable[[int], Any] | None, ...]] = {
            s: tuple(None if n is None else self._value_at(self.arrays[n]) for n in self.nodes[s]) for s in SIDES
            if all(n is None or n not in self.dynamic for n in self.nodes[s])}

    @staticmethod
    def _value_at(v: Any) -> Callable[[int], Any]:
        return v.item if isinstance(v, np.ndarray) else lambda _: v

    def __call__(self, side: str, index: int, position: Position) -> ExitContext:
        fixed = self._position_free.get(side)
        if fixed is not None:
            adverse_at, trail_at, when_at = fixed
            local = index - self.offset
            return _new(ExitContext, (None if adverse_at is None else bool(adverse_at(local)),
                                      math.nan if trail_at is None else float(trail_at(local)),
                                      False if when_at is None else bool(when_at(local))))
        adverse_node, trail_node, when_node = self.nodes[side]  # type: ignore[index]
        cache: dict[int, Any] = {}
        adverse = None if adverse_node is None else bool(self._value(adverse_node, index, position, cache))
        trail = math.nan if trail_node is None else float(self._value(trail_node, index, position, cache))
        when = False if when_node is None else bool(self._value(when_node, index, position, cache))
        return ExitContext(adverse=adverse, trailing_distance=trail, exit_when=when)

    def _value(self, n: int, index: int, p: Position, cache: dict[int, Any]) -> Any:
        if n in cache:
            return cache[n]
        node: Node = self.graph[n]
        if n not in self.dynamic:
            v = self.arrays[n]
            value = v[index - self.offset] if isinstance(v, np.ndarray) else v
        elif node.op == "pos":
            value = self._position_value(node.attrs[0], index, p)
        else:
            args = [self._value(a, index, p, cache) for a in node.args]
            if node.op in ("side_eq", "side_ne"):
                value = (args[0] == args[1]) == (node.op == "side_eq")
            else:
                value = apply_op(node, args, None)
        cache[n] = value
        return value

    def _position_value(self, name: str, index: int, p: Position) -> Any:
        local = index - self.offset
        close = float(self.close[local])
        mark = close if p.side == "long" else close + float(self.spread[local])
        sign = 1.0 if p.side == "long" else -1.0
        if name == "entry_price":
            return p.entry_price
        if name == "sl":
            return p.sl
        if name == "tp":
            return p.tp
        if name == "bars_held":
            return float(index - p.entry_index)
        if name == "time_held":
            return float(self.time[local] + 60 - p.entry_time)
        if name == "r_multiple":
            return sign * (mark - p.entry_price) / p.risk
        if name == "max_r":
            return sign * (p.best_price - p.entry_price) / p.risk
        if name == "side":
            return p.side
        raise AssertionError(f"unknown position name {name!r}")  # pragma: no cover - the compiler checks names
