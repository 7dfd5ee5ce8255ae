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
  equals the backtest's value at that bar exactly. Nodes needed at the newest bar only are computed on
  Python scalars by exact twins of :func:`apply_op` (``_ONE_BAR``).

Both follow a plan built once per output set (and, live, per window length up to the warm-up): the order,
what to release when, the bars each node reads, the indicator functions with their parameters resolved.
Both run inside ``indicators._shared.sharing()``, so indicators that start from the same sub-result (the
session VWAP, the day segmentation, the true range) compute it once per evaluation.

Semantics shared by both: arithmetic propagates NaN; a comparison involving NaN is false (including ``!=``);
a boolean is false while undefined; ``x if c else y`` picks per bar.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

import indicators
from indicators._select import select
from indicators._shared import sharing
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


def _select(boolean: bool, cond: Any, a: Any, b: Any) -> Any:
    """``a if cond else b`` per bar: ``np.where(cond, a, b)`` (as bool for ``boolean``, else float64), without
    np.where's branch per bar over a bool array (``indicators._select``); bools select as
    ``(cond & a) | (~cond & b)``. A scalar condition (constant folding) keeps np.where."""
    if not boolean:
        return select(cond, a, b)  # np.where itself for a scalar or non-bool condition
    c = np.asarray(cond)
    if c.ndim == 0 or c.dtype != np.bool_:
        return np.where(cond, a, b).astype(bool)
    out = np.logical_and(c, a)
    out |= np.logical_and(~c, b)
    return out


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
        return _select(node.type is Type.BOOL, *args)
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


# -- one bar on Python scalars ---------------------------------------------------------------------------
#
# Live, most arithmetic and logic nodes need the newest bar only, and ``apply_op`` on length-1 arrays costs
# a few microseconds per node (error-state contexts, conversions), more than all the arithmetic. For such
# nodes the live plan uses these twins of ``apply_op`` on Python floats and bools, which give the same values
# bit for bit: Python floats are IEEE float64 with the same rounding as numpy (no FMA, no extended precision),
# and each twin spells out the special cases of its numpy counterpart (division by zero, NaN in ``!=``, NaN
# and the sign of zero in ``min``/``max``). The test suite compares the live and the vectorised evaluator.

_NAN = float("nan")


def _minimum(a: float, b: float) -> float:
    """``np.minimum``: NaN if either is NaN; on a tie the second (which matters for -0.0 vs 0.0)."""
    return a if a != a else (a if a < b else b)


def _maximum(a: float, b: float) -> float:
    """``np.maximum``: NaN if either is NaN; on a tie the second."""
    return a if a != a else (a if a > b else b)


def _fold(f: Callable[[float, float], float]) -> Callable[..., float]:
    def folded(first: float, *rest: float) -> float:
        out = first
        for x in rest:
            out = f(out, x)
        return out
    return folded


_ONE_BAR: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: _NAN if b == 0 else a / b,  # as apply_op: x / 0 is undefined (NaN), also 0 / 0
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b and a == a and b == b,  # false when either side is NaN
    "and": lambda a, b: a and b,
    "or": lambda a, b: a or b,
    "not": lambda a: not a,
    "neg": lambda a: -a,
    "abs": abs,
    "min": _fold(_minimum),
    "max": _fold(_maximum),
    "where": lambda c, a, b: a if c else b,
}
_SCALAR_TYPES = {Type.NUMBER: float, Type.DURATION: float, Type.BOOL: bool}
_DTYPES = {Type.NUMBER: np.float64, Type.DURATION: np.float64, Type.BOOL: np.bool_}


# -- evaluation plans ------------------------------------------------------------------------------------
#
# What an evaluation does besides computing values (the topological order, which node's array can be
# released after which step, how many bars each node needs, indicators looked up and their parameters
# resolved) depends only on the outputs and, live, on the window length up to the warm-up. Plans hold it,
# built once per graph and reused: a live decision otherwise spends most of its time on this bookkeeping.

_MAX_PLANS = 64  # cached plans per graph (output sets), and live plans per output set (window lengths)


def _tail(value: Any, size: int | None) -> Any:
    """The last ``size`` values of an array (all of them for ``None``); constants pass through."""
    if size is None or not isinstance(value, np.ndarray) or len(value) == size:
        return value
    return value[len(value) - size:]


def _views(candles: Candles, columns: tuple[tuple[str, int | None], ...]) -> list[np.ndarray]:
    """Each (column, bars) of a plan as one array: the column's last ``bars`` bars (all for ``None``).

    Indicators that read the same bars get the same array objects, which lets them share sub-results
    (see ``indicators._shared``).
    """
    total = len(candles)
    whole: dict[str, np.ndarray] = {}
    out = []
    for name, size in columns:
        column = whole.get(name)
        if column is None:
            column = whole[name] = candles.column(name)
        out.append(column if size is None or size >= total else column[total - size:])
    return out


class _Step:
    """One non-constant node of a plan, evaluated by ``apply_op`` over its last ``size_in`` bars (all bars for
    ``None``); the plan then trims its array to the last ``keep`` values. ``wrap`` gives, per input, the dtype
    of a length-1 array to rebuild from a one-bar Python scalar (see ``_OneBarStep``), else ``None``."""

    __slots__ = ("args", "id", "keep", "node", "size_in", "wrap")

    def __init__(self, node: Node, size_in: int | None, keep: int | None, wrap: tuple[Any, ...] = ()) -> None:
        self.node, self.id, self.args = node, node.id, node.args
        self.size_in, self.keep, self.wrap = size_in, keep, wrap

    def _input(self, values: Mapping[int, Any], i: int) -> Any:
        v = values[self.args[i]]
        if self.wrap and self.wrap[i] is not None and not isinstance(v, np.ndarray):
            return np.array([v], dtype=self.wrap[i])
        return _tail(v, self.size_in)

    def run(self, values: Mapping[int, Any], views: Sequence[np.ndarray]) -> Any:
        return apply_op(self.node, [self._input(values, i) for i in range(len(self.args))], None)


class _ColumnStep(_Step):
    """``apply_op``'s ``"col"``: the column over the step's bars."""

    __slots__ = ("view",)

    def __init__(self, node: Node, size_in: int | None, keep: int | None, view: int) -> None:
        super().__init__(node, size_in, keep)
        self.view = view

    def run(self, values: Mapping[int, Any], views: Sequence[np.ndarray]) -> Any:
        return views[self.view]


class _IndicatorStep(_Step):
    """``apply_op``'s ``"ind"`` (``Indicator.compute``) with the registry lookup and the parameter checks done
    once: the parameters in the node were resolved by the compiler, so resolving them again gives the same
    values every time. ``sources`` holds, per positional input of the function, ``(True, i)`` for the
    node's i-th series input or ``(False, v)`` for the plan's column view v."""

    __slots__ = ("func", "params", "sources")

    def __init__(self, node: Node, size_in: int | None, keep: int | None, sources: tuple[tuple[bool, int], ...],
                 wrap: tuple[Any, ...] = ()) -> None:
        super().__init__(node, size_in, keep, wrap)
        name, params = node.attrs
        ind = indicators.get(name)
        self.func = ind.func
        self.params = ind.resolve(dict(params))
        self.sources = sources

    def run(self, values: Mapping[int, Any], views: Sequence[np.ndarray]) -> Any:
        args = [self._input(values, i) if series else views[i] for series, i in self.sources]
        return self.func(*args, **self.params)


class _LastIndicatorStep(_IndicatorStep):
    """An indicator needed at the newest bar only, by its newest-bar twin (``Indicator.last``): a Python
    scalar, equal bit for bit to the array function's last value (see ``indicators._registry``)."""

    __slots__ = ("columns_only",)

    def __init__(self, node: Node, size_in: int | None, sources: tuple[tuple[bool, int], ...],
                 wrap: tuple[Any, ...] = ()) -> None:
        super().__init__(node, size_in, 1, sources, wrap)
        self.func = indicators.get(node.attrs[0]).last  # type: ignore[assignment]
        # the common case: every input a column view, read as is
        self.columns_only = None if any(series for series, _ in sources) else tuple(i for _, i in sources)

    def run(self, values: Mapping[int, Any], views: Sequence[np.ndarray]) -> Any:
        if self.columns_only is None:
            return super().run(values, views)
        return self.func(*[views[i] for i in self.columns_only], **self.params)


class _OneBarStep(_Step):
    """A node needed at the newest bar only, computed on Python scalars (see ``_ONE_BAR``)."""

    __slots__ = ("convert", "func")

    def __init__(self, node: Node, convert: tuple[Callable[[Any], Any], ...]) -> None:
        super().__init__(node, 1, 1)
        self.func = _ONE_BAR[node.op]
        self.convert = tuple(zip(node.args, convert, strict=True))

    def run(self, values: Mapping[int, Any], views: Sequence[np.ndarray]) -> Any:
        args = []
        for a, convert in self.convert:
            v = values[a]
            args.append(convert(v[-1]) if isinstance(v, np.ndarray) else convert(v))
        return self.func(*args)


class _ScalarStep(_OneBarStep):
    """A one-bar node whose inputs are all Python scalars of their type already (constants, one-bar steps,
    newest-bar twins): nothing to convert. One- and two-input nodes, most of a plan, skip the argument list."""

    __slots__ = ()

    def run(self, values: Mapping[int, Any], views: Sequence[np.ndarray]) -> Any:
        return self.func(*[values[a] for a in self.args])


class _ScalarStep1(_ScalarStep):
    __slots__ = ()

    def run(self, values: Mapping[int, Any], views: Sequence[np.ndarray]) -> Any:
        return self.func(values[self.args[0]])


class _ScalarStep2(_ScalarStep):
    __slots__ = ()

    def run(self, values: Mapping[int, Any], views: Sequence[np.ndarray]) -> Any:
        a, b = self.args
        return self.func(values[a], values[b])


def _one_bar_step(node: Node, convert: tuple[Callable[[Any], Any], ...], scalar: tuple[bool, ...]) -> _OneBarStep:
    if not all(scalar):
        return _OneBarStep(node, convert)
    return {1: _ScalarStep1, 2: _ScalarStep2}.get(len(node.args), _ScalarStep)(node, convert)


class _PlanBuilder:
    """Collects the steps of a plan and numbers the (column, bars) views they read."""

    def __init__(self) -> None:
        self.steps: list[_Step] = []
        self.columns: dict[tuple[str, int | None], int] = {}

    def view(self, name: str, size: int | None) -> int:
        return self.columns.setdefault((name, size), len(self.columns))

    def add(self, node: Node, size_in: int | None, keep: int | None, wrap: tuple[Any, ...] = (),
            *, last: bool = False) -> None:
        if node.op == "col":
            self.steps.append(_ColumnStep(node, size_in, keep, self.view(node.attrs[0], size_in)))
        elif node.op == "ind":
            series = iter(range(len(node.args)))
            sources = tuple((True, next(series)) if i in indicators.SERIES_INPUTS else (False, self.view(i, size_in))
                            for i in indicators.get(node.attrs[0]).inputs)
            if last:
                self.steps.append(_LastIndicatorStep(node, size_in, sources, wrap))
            else:
                self.steps.append(_IndicatorStep(node, size_in, keep, sources, wrap))
        else:
            self.steps.append(_Step(node, size_in, keep, wrap))


@dataclass(frozen=True, eq=False)
class _BatchPlan:
    """:meth:`Graph.evaluate`: steps in topological order and, per step, the inputs it used last."""

    consts: tuple[tuple[int, Any], ...]
    steps: tuple[_Step, ...]
    release: tuple[tuple[int, ...], ...]
    columns: tuple[tuple[str, int | None], ...]

    @classmethod
    def build(cls, graph: Graph, outputs: tuple[int, ...]) -> _BatchPlan:
        order = graph.reachable(outputs)
        last_use: dict[int, int] = {}
        for n in order:
            for a in graph[n].args:
                last_use[a] = n
        released: dict[int, list[int]] = {}
        for a, n in last_use.items():
            released.setdefault(n, []).append(a)
        builder = _PlanBuilder()
        live = [n for n in order if not graph[n].is_const]
        for n in live:
            builder.add(graph[n], None, None)
        return cls(consts=tuple((n, graph[n].value) for n in order if graph[n].is_const),
                   steps=tuple(builder.steps), release=tuple(tuple(released.get(n, ())) for n in live),
                   columns=tuple(builder.columns))


@dataclass(frozen=True, eq=False)
class _Reach:
    """:meth:`Graph.evaluate_last` for one output set: the bars each node needs, and plans by window length."""

    outputs: tuple[int, ...]
    order: tuple[int, ...]
    need: Mapping[int, int]
    longest: int  # the most bars any node reads; longer windows share one plan
    plans: dict[int, _LastPlan] = field(default_factory=dict)

    @classmethod
    def build(cls, graph: Graph, outputs: tuple[int, ...]) -> _Reach:
        order = graph.reachable(outputs)
        need: dict[int, int] = dict.fromkeys(order, 0)
        for n in outputs:
            need[n] = 1
        for n in reversed(order):
            node = graph[n]
            for a in node.args:
                need[a] = max(need[a], need[n] + node.lookback)
        longest = max((need[n] + graph[n].lookback for n in order), default=1)
        return cls(outputs=outputs, order=tuple(order), need=need, longest=longest)


def _has_twin(node: Node) -> bool:
    """Whether an indicator node can be computed by its newest-bar twin (window-exact, twin registered)."""
    ind = indicators.get(node.attrs[0])
    return ind.last is not None and ind.is_window_exact(dict(node.attrs[1]))


@dataclass(frozen=True, eq=False)
class _LastPlan:
    """:meth:`Graph.evaluate_last` for one output set and window length. ``scalars`` maps the nodes computed
    on Python scalars to the numpy scalar type ``apply_op`` would have given them."""

    consts: tuple[tuple[int, Any], ...]
    steps: tuple[_Step, ...]
    scalars: Mapping[int, type]
    columns: tuple[tuple[str, int | None], ...]

    @functools.cached_property
    def calls(self) -> tuple[tuple[int, Callable[[Mapping[int, Any], Sequence[np.ndarray]], Any]], ...]:
        """``(node id, bound run)`` per step: the loop of a live decision skips two attribute lookups a step."""
        return tuple((step.id, step.run) for step in self.steps)

    @classmethod
    def build(cls, graph: Graph, reach: _Reach, total: int) -> _LastPlan:
        builder = _PlanBuilder()
        scalars: dict[int, type] = {}
        for n in reach.order:
            node = graph[n]
            if node.is_const:
                continue
            size_in = min(reach.need[n] + node.lookback, total)
            arg_types = [graph[a].type for a in node.args]
            if (size_in == 1 and node.op in _ONE_BAR and node.type in _SCALAR_TYPES
                    and all(t in _SCALAR_TYPES for t in arg_types)):
                scalar = tuple(a in scalars or graph[a].is_const for a in node.args)
                builder.steps.append(_one_bar_step(node, tuple(_SCALAR_TYPES[t] for t in arg_types), scalar))
                scalars[n] = _DTYPES[node.type]
            else:
                wrap = tuple(_DTYPES[graph[a].type] if a in scalars else None for a in node.args)
                last = reach.need[n] == 1 and node.op == "ind" and _has_twin(node)
                builder.add(node, size_in, reach.need[n], wrap if any(w is not None for w in wrap) else (), last=last)
                if last:
                    scalars[n] = _DTYPES[node.type]
        consts = tuple((n, graph[n].value) for n in reach.order if graph[n].is_const)
        return cls(consts=consts, steps=tuple(builder.steps), scalars=scalars, columns=tuple(builder.columns))


@dataclass
class Graph:
    """A growing set of hash-consed nodes. The compiler adds nodes through :meth:`add`."""

    nodes: list[Node] = field(default_factory=list)
    _index: dict[tuple[Any, ...], int] = field(default_factory=dict)
    _batch_plans: dict[tuple[int, ...], _BatchPlan] = field(default_factory=dict, repr=False, compare=False)
    _last_plans: dict[tuple[int, ...], _Reach] = field(default_factory=dict, repr=False, compare=False)

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
            if value != value:  # NaN != NaN: one shared NaN object makes every undefined constant one node
                value = _NAN
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
        outputs = tuple(dict.fromkeys(outputs))
        plan = self._batch_plans.get(outputs)
        if plan is None:
            if len(self._batch_plans) >= _MAX_PLANS:  # many ad hoc output sets: keep the cache bounded
                self._batch_plans.clear()
            plan = self._batch_plans[outputs] = _BatchPlan.build(self, outputs)
        keep = set(outputs)
        values: dict[int, Any] = dict(plan.consts)
        views = _views(candles, plan.columns)
        with sharing():
            for step, release in zip(plan.steps, plan.release, strict=True):
                values[step.id] = step.run(values, views)
                for a in release:
                    if a not in keep:
                        del values[a]
        return {n: values[n] for n in outputs}

    def evaluate_last(self, candles: Candles, outputs: Iterable[int]) -> dict[int, Any]:
        """Values of ``outputs`` at the newest bar of ``candles`` (the live evaluator).

        Each node is evaluated over the last ``need[n]`` bars only, where an output needs 1 and an input of
        node m needs ``need[m] + lookback(m)``. Equal to ``evaluate(...)[n][-1]`` bit for bit for
        window-exact graphs. The schedule (order, ``need``, slice sizes, bound indicator calls) depends only
        on the outputs and on the window length up to the warm-up, so it is built once and reused.
        """
        key = outputs if type(outputs) is tuple else tuple(outputs)
        total = len(candles)
        reach = self._last_plans.get(key)
        if reach is None:
            if len(self._last_plans) >= _MAX_PLANS:
                self._last_plans.clear()
            reach = self._last_plans[key] = _Reach.build(self, tuple(dict.fromkeys(key)))
        outputs = reach.outputs
        size = min(total, reach.longest)
        plan = reach.plans.get(size)
        if plan is None:
            if len(reach.plans) >= _MAX_PLANS:  # a backtest-style sweep over growing windows: keep it bounded
                reach.plans.clear()
            plan = reach.plans[size] = _LastPlan.build(self, reach, size)
        values: dict[int, Any] = dict(plan.consts)
        views = _views(candles, plan.columns)
        with sharing():
            for n, run in plan.calls:  # each consumer reads the tail it needs (``_tail``)
                values[n] = run(values, views)
        out = {}
        for n in outputs:
            v = values[n]
            if isinstance(v, np.ndarray):
                v = v[-1]
            elif n in plan.scalars:
                v = plan.scalars[n](v)  # the numpy scalar the array path gives
            out[n] = v
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
