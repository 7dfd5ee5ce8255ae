"""The predicate graph: hash-consed nodes, constant folding, static warm-up, and its evaluators.

Every distinct sub-expression of a rule file is one node (``atr(period=14)`` used by three conditions is
computed once). Node ids are assigned in creation order and a node's inputs are created before it, so id
order is a topological order. Each node knows its warm-up: the number of bars before t its value at t may
read (``max(input warm-ups) + own lookback``); the rule's warm-up is the largest over its outputs.

Two evaluators run the same graph:

- :meth:`Graph.evaluate` computes arrays over all bars (the backtest); arrays of intermediate nodes are
  released as soon as their last consumer has run, so memory stays bounded by the graph's width.
- :meth:`Graph.evaluate_last` computes the outputs at the newest bar only (live). Each node is computed
  over just the tail of bars its consumers need (an output needs 1 bar; an input of a node with lookback L
  needs L more), so cheap arithmetic runs on a handful of values while a day-anchored VWAP still sees its
  whole day. Because every indicator is causal and window-exact (see ``indicators._rolling``), the result
  equals the backtest's value at that bar exactly.

Semantics shared by both: arithmetic propagates NaN; a comparison involving NaN is false (including ``!=``);
a boolean is false while undefined; ``x if c else y`` picks per bar.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

import indicators
from ruleengine.data import Candles

__all__ = ["Graph", "Node", "Type"]


class Type(Enum):
    """Value types of the language."""

    NUMBER = "number"
    BOOL = "boolean"
    DURATION = "duration"
    STRING = "string"
    SIDE = "side"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, kw_only=True)
class Node:
    """One operation. ``attrs`` holds what is not an input node: a constant, a column or indicator name and
    its parameters, a lag. ``lookback`` is this node's own reach into the past; ``warmup`` the total."""

    id: int
    op: str
    args: tuple[int, ...]
    attrs: tuple[Any, ...]
    type: Type
    lookback: int
    warmup: int

    @property
    def is_const(self) -> bool:
        return self.op == "const"

    @property
    def value(self) -> Any:
        """The constant's value (only for ``const`` nodes)."""
        return self.attrs[0]


def _not_nan(*xs: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(xs[0])
    for x in xs[1:]:
        ok &= ~np.isnan(x)
    return ok


def _cmp(op: str, a: Any, b: Any) -> Any:
    with np.errstate(invalid="ignore"):
        if op == "<":
            return np.less(a, b)
        if op == "<=":
            return np.less_equal(a, b)
        if op == ">":
            return np.greater(a, b)
        if op == ">=":
            return np.greater_equal(a, b)
        if op == "==":
            return np.equal(a, b)
        # "!=": false when either side is NaN, unlike IEEE
        return np.not_equal(a, b) & ~(np.isnan(a) | np.isnan(b))


_ARITH = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
_CMP_OPS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
_COMMUTATIVE = {"add", "mul", "and", "or", "eq", "ne", "min", "max"}


def apply_op(node: Node, args: Sequence[Any], candles: Candles | None) -> Any:
    """The value of ``node`` given its inputs' values (arrays over the same bars, or scalars for constants).

    This single function serves the vectorised, the live and the constant-folding paths, so they cannot
    disagree on semantics.
    """
    op = node.op
    if op in _ARITH:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = _ARITH[op](np.asarray(args[0], dtype=np.float64), np.asarray(args[1], dtype=np.float64))
            if op == "div":  # x / 0 is undefined, not +-inf: an undefined value makes every comparison false
                out = np.where(np.asarray(args[1]) == 0, np.nan, out)
            return out
    if op in _CMP_OPS:
        return _cmp(_CMP_OPS[op], np.asarray(args[0], dtype=np.float64), np.asarray(args[1], dtype=np.float64))
    if op == "and":
        return np.logical_and(args[0], args[1])
    if op == "or":
        return np.logical_or(args[0], args[1])
    if op == "not":
        return np.logical_not(args[0])
    if op == "neg":
        return np.negative(np.asarray(args[0], dtype=np.float64))
    if op == "abs":
        return np.abs(np.asarray(args[0], dtype=np.float64))
    if op in ("min", "max"):
        f = np.minimum if op == "min" else np.maximum  # NaN propagates
        out = np.asarray(args[0], dtype=np.float64)
        for a in args[1:]:
            out = f(out, a)
        return out
    if op == "where":
        cond, a, b = args
        if node.type is Type.BOOL:
            return np.where(cond, a, b).astype(bool)
        return np.where(cond, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    if op == "lag":
        (k,) = node.attrs
        x = np.asarray(args[0])
        if x.ndim == 0:
            return x[()]
        out = np.zeros(len(x), dtype=bool) if x.dtype == bool else np.full(len(x), np.nan)
        if k < len(x):
            out[k:] = x[: len(x) - k]
        return out
    if op == "col":
        assert candles is not None
        return candles.column(node.attrs[0])
    if op == "ind":
        assert candles is not None
        name, params = node.attrs
        return indicators.get(name).compute(candles, *args, **dict(params))
    raise AssertionError(f"unknown op {op!r}")  # pragma: no cover


@dataclass
class Graph:
    """A growing set of hash-consed nodes. The compiler adds nodes through :meth:`add`."""

    nodes: list[Node] = field(default_factory=list)
    _index: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, node_id: int) -> Node:
        return self.nodes[node_id]

    def add(self, op: str, args: Sequence[int], attrs: tuple[Any, ...], type_: Type, lookback: int = 0) -> int:
        """Intern a node: the same (op, inputs, attrs) always yields the same id; constants fold."""
        args = tuple(args)
        if op in _COMMUTATIVE:
            args = tuple(sorted(args))
        if op not in ("const", "col", "ind") and args and all(self.nodes[a].is_const for a in args):
            probe = Node(id=-1, op=op, args=args, attrs=attrs, type=type_, lookback=0, warmup=0)
            value = apply_op(probe, [self.nodes[a].value for a in args], None)
            return self.const(value.item() if isinstance(value, np.ndarray | np.generic) else value, type_)
        key = (op, args, attrs, type_)
        found = self._index.get(key)
        if found is not None:
            return found
        warmup = lookback + max((self.nodes[a].warmup for a in args), default=0)
        node = Node(id=len(self.nodes), op=op, args=args, attrs=attrs, type=type_, lookback=lookback, warmup=warmup)
        self.nodes.append(node)
        self._index[key] = node.id
        return node.id

    def const(self, value: Any, type_: Type) -> int:
        """A constant node (numbers are stored as float so 1 and 1.0 share a node)."""
        if type_ in (Type.NUMBER, Type.DURATION):
            value = float(value)
        elif type_ is Type.BOOL:
            value = bool(value)
        key = ("const", (), (value,), type_)
        found = self._index.get(key)
        if found is not None:
            return found
        node = Node(id=len(self.nodes), op="const", args=(), attrs=(value,), type=type_, lookback=0, warmup=0)
        self.nodes.append(node)
        self._index[key] = node.id
        return node.id

    # -- analysis ---------------------------------------------------------------------------------------
    def reachable(self, outputs: Iterable[int]) -> list[int]:
        """Ids of the nodes the outputs depend on, in topological (id) order."""
        seen: set[int] = set()
        stack = list(outputs)
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(self.nodes[n].args)
        return sorted(seen)

    def warmup(self, outputs: Iterable[int]) -> int:
        """Bars before t that any output's value at t may read: the rule's warm-up."""
        return max((self.nodes[n].warmup for n in outputs), default=0)

    def window_exact(self, outputs: Iterable[int]) -> bool:
        """True when every indicator reached is window-exact (live values equal backtest values exactly)."""
        return all(indicators.get(self.nodes[n].attrs[0]).is_window_exact(dict(self.nodes[n].attrs[1]))
                   for n in self.reachable(outputs) if self.nodes[n].op == "ind")

    # -- evaluation -------------------------------------------------------------------------------------
    def evaluate(self, candles: Candles, outputs: Iterable[int]) -> dict[int, Any]:
        """Values of ``outputs`` over all bars: arrays (constants stay scalars; see :meth:`as_array`)."""
        outputs = list(dict.fromkeys(outputs))
        order = self.reachable(outputs)
        remaining: dict[int, int] = {}
        for n in order:
            for a in self.nodes[n].args:
                remaining[a] = remaining.get(a, 0) + 1
        keep = set(outputs)
        values: dict[int, Any] = {}
        for n in order:
            node = self.nodes[n]
            values[n] = node.value if node.is_const else apply_op(node, [values[a] for a in node.args], candles)
            for a in node.args:
                remaining[a] -= 1
                if remaining[a] == 0 and a not in keep:
                    del values[a]
        return {n: values[n] for n in outputs}

    def evaluate_last(self, candles: Candles, outputs: Iterable[int]) -> dict[int, Any]:
        """Values of ``outputs`` at the newest bar of ``candles`` (the live evaluator).

        Each node is evaluated over the last ``need[n]`` bars only, where an output needs 1 and an input of
        node m needs ``need[m] + lookback(m)``. Equal to ``evaluate(...)[n][-1]`` bit for bit for
        window-exact graphs.
        """
        outputs = list(dict.fromkeys(outputs))
        order = self.reachable(outputs)
        need: dict[int, int] = dict.fromkeys(order, 0)
        for n in outputs:
            need[n] = 1
        for n in reversed(order):
            node = self.nodes[n]
            for a in node.args:
                need[a] = max(need[a], need[n] + node.lookback)
        total = len(candles)
        tails: dict[int, Candles] = {}
        values: dict[int, Any] = {}
        for n in order:
            node = self.nodes[n]
            if node.is_const:
                values[n] = node.value
                continue
            # inputs over the bars this node needs plus its own reach into the past; output trimmed back
            size_in = min(need[n] + node.lookback, total)
            args = []
            for a in node.args:
                v = values[a]
                args.append(v[len(v) - size_in:] if isinstance(v, np.ndarray) else v)
            sub = None
            if node.op in ("col", "ind"):
                sub = tails.get(size_in)
                if sub is None:
                    sub = tails[size_in] = candles[total - size_in:]
            value = apply_op(node, args, sub)
            if isinstance(value, np.ndarray) and len(value) > need[n]:
                value = value[len(value) - need[n]:]
            values[n] = value
        out = {}
        for n in outputs:
            v = values[n]
            out[n] = v[-1] if isinstance(v, np.ndarray) else v
        return out

    @staticmethod
    def as_array(value: Any, n_bars: int, type_: Type) -> np.ndarray:
        """Broadcast a constant output to an array (arrays pass through)."""
        if isinstance(value, np.ndarray):
            return value
        return np.full(n_bars, value, dtype=bool if type_ is Type.BOOL else np.float64)


def describe(graph: Graph, node_id: int, names: Mapping[int, str] | None = None) -> str:
    """A short human description of a node, for ``ruleengine graph``."""
    node = graph[node_id]
    if node.op == "const":
        return repr(node.value)
    if node.op == "col":
        return node.attrs[0]
    if node.op == "ind":
        name, params = node.attrs
        return f"{name}({', '.join(f'{k}={v!r}' for k, v in params)})"
    if node.op == "lag":
        return f"lag[{node.attrs[0]}]"
    return node.op
