"""The predicate graph's evaluators against a scalar reference interpreter, plus folding and sharing.

The reference interpreter below reads the AST directly and computes every bar with Python floats and
bools; it shares no code with ``ruleengine/dsl/graph.py``. Its semantics are the language's:

- a candle column is its value at bar t; an indicator is computed on the bars ``0..t`` only (the series it
  is given are the interpreter's own values of its argument on those bars) and its last value is taken.
  Slow (one indicator call per bar) but causal by construction, so agreement with the vectorised graph
  also shows that no graph node looks ahead;
- ``x[k]`` is the value at t - k, NaN (numbers) or false (booleans) before the first bar, except that an
  expression that folds to a constant (literals and operators over them) is that constant at every bar,
  before the data too: it has no warm-up;
- arithmetic is IEEE except ``x / 0``, which is NaN; a comparison involving NaN is false, ``!=`` included;
  ``min``/``max``/``clamp`` propagate NaN; ``a < b <= c`` is ``a < b and b <= c``;
- ``crosses_above(a, b)`` is ``a > b`` now and ``a <= b`` one bar ago (``crosses_below`` mirrored).

Python's float operations round exactly as numpy's float64 ufuncs do, so values must agree exactly (NaN
positions included; ``assert_array_equal`` counts -0.0 equal to 0.0, and no operation of the language can
tell them apart, since ``x / 0`` is NaN whatever the sign of 0). No tolerance is used anywhere.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import indicators
from ruleengine.data import Candles
from ruleengine.dsl import ast
from ruleengine.dsl.compiler import Compiler
from ruleengine.dsl.graph import Graph, Type
from ruleengine.dsl.parser import parse_text
from ruleengine.dsl.printer import to_text
from ruleengine.dsl.source import Source
from tests.strategies import candles

NAN = float("nan")

# -- the reference interpreter ------------------------------------------------------------------------------
_UNIT_FACTORS = {"s": 1.0, "m": 60.0, "h": 3600.0, "ms": 0.001, "%": 0.01, "bars": 1.0}
_COLUMNS = ("open", "high", "low", "close", "volume", "spread", "taker_buy_volume")
_BUILTINS = ("abs", "min", "max", "clamp", "prev", "crosses_above", "crosses_below", "crosses")
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}


def _is_nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return NAN if b == 0 else a / b  # a NaN divisor gives NaN through IEEE division


def _compare(op: str, a: Any, b: Any) -> bool:
    return not (_is_nan(a) or _is_nan(b)) and _COMPARISONS[op](a, b)


def _extreme(pick: Callable[..., float], *xs: float) -> float:
    return NAN if any(_is_nan(x) for x in xs) else pick(xs)


def _children(e: ast.Expr) -> tuple[ast.Expr, ...]:
    match e:
        case ast.Unary(operand=o) | ast.Not(operand=o):
            return (o,)
        case ast.Arith(left=left, right=right) | ast.Logic(left=left, right=right):
            return (left, right)
        case ast.Compare(operands=operands):
            return operands
        case ast.Call(args=args, kwargs=kwargs):
            return (*args, *(k.value for k in kwargs))
        case ast.IfElse(then=then, cond=cond, other=other):
            return (then, cond, other)
        case ast.Lag(target=target, bars=bars):
            return (target, bars)
    return ()


def subexpressions(e: ast.Expr) -> Iterator[ast.Expr]:
    yield e
    for child in _children(e):
        yield from subexpressions(child)


class Reference:
    """Bar-by-bar values of an AST on ``candles`` (``None``: constants only, as a one-bar series)."""

    def __init__(self, candles: Candles | None) -> None:
        self.candles = candles
        self.n = len(candles) if candles is not None else 1
        self._memo: dict[ast.Expr, list[Any]] = {}
        self._prefixes: list[Candles] = []

    def values(self, e: ast.Expr) -> list[Any]:
        """Python floats (numbers, durations in seconds) or bools, one per bar."""
        found = self._memo.get(e)
        if found is None:
            found = self._memo[e] = self._values(e)
        return found

    def constant(self, e: ast.Expr) -> Any:
        if isinstance(e, ast.String):
            return e.value
        assert self.folds(e), f"{to_text(e)} is not a constant"
        return self.values(e)[0]

    def folds(self, e: ast.Expr) -> bool:
        """Whether ``e`` is a constant: literals and operators over constants, ``c if true else x`` too."""
        match e:
            case ast.Number() | ast.Bool() | ast.String():
                return True
            case ast.Name():
                return False  # a candle column or an indicator
            case ast.Call(func="prev", args=args):
                return self.folds(args[0])
            case ast.Call(func=func, args=args) if func in _BUILTINS:
                return all(self.folds(a) for a in args)
            case ast.Call():
                return False  # an indicator is computed from bars even when its series is constant
            case ast.Lag(target=target):
                return self.folds(target)
            case ast.IfElse(then=then, cond=cond, other=other):
                return self.folds(cond) and self.folds(then if self.constant(cond) else other)
        return all(self.folds(c) for c in _children(e))

    def lagged(self, e: ast.Expr, k: int) -> list[Any]:
        values = self.values(e)
        if k == 0 or self.folds(e):
            return values
        before = False if isinstance(values[0], bool) else NAN
        return [values[t - k] if t >= k else before for t in range(self.n)]

    def _values(self, e: ast.Expr) -> list[Any]:
        n = self.n
        match e:
            case ast.Number(value=v, unit=unit):
                return [v * _UNIT_FACTORS[unit] if unit else float(v)] * n
            case ast.Bool(value=v):
                return [v] * n
            case ast.Name(id=name) if name in _COLUMNS:
                assert self.candles is not None
                return [float(x) for x in self.candles.column(name)]
            case ast.Name(id=name):
                return self._indicator(name, (), ())
            case ast.Call(func=func, args=args) if func in _BUILTINS:
                return self._builtin(func, args)
            case ast.Call(func=func, args=args, kwargs=kwargs):
                return self._indicator(func, args, kwargs)
            case ast.Unary(operand=o):
                return [-x for x in self.values(o)]
            case ast.Arith(op=op, left=left, right=right):
                return [_arith(op, a, b) for a, b in zip(self.values(left), self.values(right), strict=True)]
            case ast.Compare(operands=operands, ops=ops):
                cols = [self.values(o) for o in operands]
                return [all(_compare(op, cols[i][t], cols[i + 1][t]) for i, op in enumerate(ops)) for t in range(n)]
            case ast.Logic(op="and", left=left, right=right):
                return [a and b for a, b in zip(self.values(left), self.values(right), strict=True)]
            case ast.Logic(op="or", left=left, right=right):
                return [a or b for a, b in zip(self.values(left), self.values(right), strict=True)]
            case ast.Not(operand=o):
                return [not x for x in self.values(o)]
            case ast.IfElse(then=then, cond=cond, other=other) if self.folds(cond):
                return self.values(then if self.constant(cond) else other)  # the other branch may need bars
            case ast.IfElse(then=then, cond=cond, other=other):
                triples = zip(self.values(then), self.values(cond), self.values(other), strict=True)
                return [a if c else b for a, c, b in triples]
            case ast.Lag(target=target, bars=bars):
                return self.lagged(target, int(self.constant(bars)))
        raise AssertionError(f"the reference does not interpret {e!r}")

    def _builtin(self, func: str, args: tuple[ast.Expr, ...]) -> list[Any]:
        if func == "prev":
            return self.lagged(args[0], int(self.constant(args[1])))
        cols = [self.values(a) for a in args]
        rows = list(zip(*cols, strict=True))
        if func == "abs":
            return [abs(x) for (x,) in rows]
        if func in ("min", "max"):
            return [_extreme(min if func == "min" else max, *row) for row in rows]
        if func == "clamp":
            return [_extreme(min, _extreme(max, x, lo), hi) for x, lo, hi in rows]
        a, b = args
        now_above = [_compare(">", x, y) for x, y in rows]
        now_below = [_compare("<", x, y) for x, y in rows]
        before = list(zip(self.lagged(a, 1), self.lagged(b, 1), strict=True))
        above = [now and _compare("<=", x, y) for now, (x, y) in zip(now_above, before, strict=True)]
        below = [now and _compare(">=", x, y) for now, (x, y) in zip(now_below, before, strict=True)]
        if func == "crosses_above":
            return above
        if func == "crosses_below":
            return below
        return [x or y for x, y in zip(above, below, strict=True)]

    def _indicator(self, name: str, args: tuple[ast.Expr, ...], kwargs: tuple[ast.Keyword, ...]) -> list[Any]:
        assert self.candles is not None
        ind = indicators.get(name)
        n_series = len(ind.series_inputs)
        given = [(p.name, a) for p, a in zip(ind.params, args[n_series:], strict=False)]
        given += [(k.name, k.value) for k in kwargs]
        params = {}
        for pname, value_expr in given:
            value = self.constant(value_expr)
            params[pname] = int(value) if ind.param(pname).type is int else value
        series = [self.values(a) for a in args[:n_series]]
        if not self._prefixes:
            self._prefixes = [self.candles[: t + 1] for t in range(self.n)]
        out = []
        for t in range(self.n):
            inputs = [np.array(s[: t + 1], dtype=bool if isinstance(s[0], bool) else np.float64) for s in series]
            last = ind.compute(self._prefixes[t], *inputs, **params)[-1]
            out.append(bool(last) if isinstance(last, np.bool_) else float(last))
        return out


def folds_to_constant(e: ast.Expr) -> bool:
    return Reference(None).folds(e)


# -- typed random expressions -------------------------------------------------------------------------------
_CONSTANTS = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 0.25, 0.1, 10.0, 100.0, 1.5]),
    st.floats(0, 1000, allow_nan=False).map(lambda x: round(x, 3)),
)
_DAYS = st.sampled_from(["00:00", "22:00", "13:30"])
_SMALL = st.integers(1, 8)


def _number_literal() -> st.SearchStrategy[ast.Expr]:
    plain = _CONSTANTS.map(lambda v: ast.Number(value=v))
    unit = st.builds(lambda v, u: ast.Number(value=v, unit=u), _CONSTANTS, st.sampled_from(["%", "bars"]))
    return st.one_of(plain, unit)


def _call(func: str, *args: ast.Expr, **kwargs: Any) -> ast.Call:
    def literal(v: Any) -> ast.Expr:
        if isinstance(v, str):
            return ast.String(value=v)
        return ast.Number(value=float(v))

    keywords = tuple(ast.Keyword(name=k, value=literal(v)) for k, v in kwargs.items())
    return ast.Call(func=func, args=args, kwargs=keywords)


_NUMBER_LEAVES = st.one_of(
    _number_literal(),
    st.sampled_from(["open", "high", "low", "close", "volume", "spread", "body", "range", "true_range",
                     "upper_wick_ratio", "lower_wick_ratio", "upper_wick", "vwap", "intraday_low",
                     "intraday_high"]).map(lambda name: ast.Name(id=name)),
    st.builds(lambda k: _call("atr", period=k), _SMALL),
    st.builds(lambda k: _call("mean_range", window=k), _SMALL),
    st.builds(lambda f: _call("upper_wick_ratio", floor=f), st.sampled_from([0.01, 0.5, 1.0])),
    st.builds(lambda a: _call("vwap", anchor=a), _DAYS),
)
_BOOL_LEAVES = st.one_of(
    st.booleans().map(lambda v: ast.Bool(value=v)),
    st.sampled_from(["bullish", "bearish", "bullish_engulfing", "swing_high", "bullish_sweep"]).map(
        lambda name: ast.Name(id=name)),
    st.builds(lambda p, a: _call("in_vwap_band", pct=p, anchor=a), st.sampled_from([0.0, 0.01, 0.1, 1.0]), _DAYS),
    st.builds(lambda s: ast.Call(func="in_session", args=(ast.String(value=s),)),
              st.sampled_from(["asian", "london", "new_york", "post_ny"])),
    st.builds(lambda k, r: _call("volume_spike", window=k, ratio=r), _SMALL, st.sampled_from([1.0, 1.2, 3.0])),
    st.builds(lambda k: _call("bearish_sweep", lookback=k), st.integers(2, 6)),
)
_DURATION_LEAVES = st.one_of(
    st.builds(lambda p: _call("vwap_band_seconds", pct=p), st.sampled_from([0.01, 0.1, 1.0])),
    st.builds(lambda v, u: ast.Number(value=v, unit=u), _CONSTANTS, st.sampled_from(["s", "m", "h", "ms"])),
)
_LEAVES = {"number": _NUMBER_LEAVES, "bool": _BOOL_LEAVES, "duration": _DURATION_LEAVES}

# Productions per result type; "leaf" is listed first and several times so draws stay small and shrink to
# leaves (sampled_from shrinks towards its first element).
_PRODUCTIONS = {
    "number": ["leaf", "leaf", "leaf", "arith", "arith", "neg", "ratio_of_durations", "abs", "min_max", "clamp",
               "if_else", "lag", "prev", "series_indicator", "cond_indicator"],
    "bool": ["leaf", "leaf", "leaf", "compare", "compare", "compare_durations", "compare_bools", "logic", "logic",
             "not", "if_else", "lag", "prev", "crosses", "crosses_durations"],
    "duration": ["leaf", "leaf", "leaf", "arith_durations", "scale", "neg", "abs", "min_max", "clamp", "if_else"],
}


@st.composite
def typed_exprs(draw: st.DrawFn, kind: str, depth: int = 3) -> ast.Expr:
    """A well-typed AST of ``kind`` (number, bool, duration) nested at most ``depth`` operators deep."""
    production = "leaf" if depth <= 0 else draw(st.sampled_from(_PRODUCTIONS[kind]))
    if production == "leaf":
        return draw(_LEAVES[kind])

    def sub(k: str = kind) -> ast.Expr:
        return draw(typed_exprs(k, depth - 1))

    def non_constant(k: str) -> ast.Expr:
        # an indicator over a constant series crashes the graph (see test_indicator_over_a_constant_series)
        return draw(typed_exprs(k, depth - 1).filter(lambda e: not folds_to_constant(e)))

    bars = st.integers(0, 4).map(lambda k: ast.Number(value=float(k)))
    match production:
        case "arith":
            return ast.Arith(op=draw(st.sampled_from("+-*/")), left=sub(), right=sub())
        case "arith_durations":
            return ast.Arith(op=draw(st.sampled_from("+-")), left=sub(), right=sub())
        case "scale":
            op = draw(st.sampled_from(["*", "/", "n*"]))
            if op == "n*":
                return ast.Arith(op="*", left=sub("number"), right=sub())
            return ast.Arith(op=op, left=sub(), right=sub("number"))
        case "ratio_of_durations":
            return ast.Arith(op="/", left=sub("duration"), right=sub("duration"))
        case "neg":
            return ast.Unary(operand=sub())
        case "abs":
            return ast.Call(func="abs", args=(sub(),))
        case "min_max":
            n_args = draw(st.integers(2, 3))
            return ast.Call(func=draw(st.sampled_from(["min", "max"])), args=tuple(sub() for _ in range(n_args)))
        case "clamp":
            return ast.Call(func="clamp", args=(sub(), sub(), sub()))
        case "if_else":
            return ast.IfElse(then=sub(), cond=sub("bool"), other=sub())
        case "lag":
            return ast.Lag(target=sub(), bars=draw(bars))
        case "prev":
            return ast.Call(func="prev", args=(sub(), draw(bars)))
        case "series_indicator":
            func = draw(st.sampled_from(["mean", "highest", "lowest", "sum", "lag"]))
            param = "bars" if func == "lag" else "window"
            value = draw(st.integers(0 if func == "lag" else 1, 6))
            return ast.Call(func=func, args=(non_constant("number"),),
                            kwargs=(ast.Keyword(name=param, value=ast.Number(value=float(value))),))
        case "cond_indicator":
            func = draw(st.sampled_from(["bars_since", "held_for"]))
            limit = ast.Keyword(name="limit", value=ast.Number(value=float(draw(st.integers(1, 6)))))
            return ast.Call(func=func, args=(non_constant("bool"),), kwargs=(limit,))
        case "compare":
            n_ops = draw(st.integers(1, 2))
            ops = tuple(draw(st.sampled_from(list(_COMPARISONS))) for _ in range(n_ops))
            return ast.Compare(operands=tuple(sub("number") for _ in range(n_ops + 1)), ops=ops)
        case "compare_durations":
            op = draw(st.sampled_from(list(_COMPARISONS)))
            return ast.Compare(operands=(sub("duration"), sub("duration")), ops=(op,))
        case "compare_bools":
            n_ops = draw(st.integers(1, 2))
            ops = tuple(draw(st.sampled_from(["==", "!="])) for _ in range(n_ops))
            return ast.Compare(operands=tuple(sub() for _ in range(n_ops + 1)), ops=ops)
        case "logic":
            return ast.Logic(op=draw(st.sampled_from(["and", "or"])), left=sub(), right=sub())
        case "not":
            return ast.Not(operand=sub())
        case "crosses" | "crosses_durations":
            k = "duration" if production == "crosses_durations" else "number"
            func = draw(st.sampled_from(["crosses_above", "crosses_below", "crosses"]))
            return ast.Call(func=func, args=(sub(k), sub(k)))
    raise AssertionError(production)  # pragma: no cover


_TYPES = {"number": Type.NUMBER, "bool": Type.BOOL, "duration": Type.DURATION}


def _compile(compiler: Compiler, e: ast.Expr) -> int:
    text = to_text(e)
    return compiler.compile(e, Source(text=text))


# -- the properties -----------------------------------------------------------------------------------------
EVALUATOR_SETTINGS = settings(max_examples=120, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@EVALUATOR_SETTINGS
@given(kind=st.sampled_from(["number", "bool", "duration"]), data=st.data())
def test_graph_equals_the_reference_interpreter(kind: str, data: st.DataObject) -> None:
    """Every sub-expression of a random typed expression: ``Graph.evaluate`` == the reference, bar by bar;
    ``Graph.evaluate_last`` on bars[:t+1] == ``evaluate(...)[t]``; print -> parse -> compile is the same node."""
    expr = data.draw(typed_exprs(kind, depth=4), label="expr")
    c = data.draw(candles(max_size=150), label="candles")
    reference = Reference(c)
    graph = Graph()
    compiler = Compiler(graph=graph)
    node = _compile(compiler, expr)
    assert graph[node].type is _TYPES[kind]

    subs = [e for e in dict.fromkeys(subexpressions(expr)) if not isinstance(e, ast.String)]
    nodes = [_compile(compiler, e) for e in subs]
    values = graph.evaluate(c, [node, *nodes])
    for e, n in zip(subs, nodes, strict=True):
        got = Graph.as_array(values[n], len(c), graph[n].type)
        want = np.array(reference.values(e), dtype=bool if graph[n].type is Type.BOOL else np.float64)
        assert got.dtype == want.dtype, to_text(e)
        np.testing.assert_array_equal(got, want, err_msg=f"graph != reference for {to_text(e)!r}")

    full = Graph.as_array(values[node], len(c), graph[node].type)
    for t in {*data.draw(st.lists(st.integers(0, len(c) - 1), max_size=3), label="live bars"), len(c) - 1}:
        live = graph.evaluate_last(c[: t + 1], [node])[node]
        np.testing.assert_array_equal(np.asarray(live), full[t], err_msg=f"live != vectorised at bar {t}")

    assert _compile(compiler, parse_text(to_text(expr))) == node, to_text(expr)


@settings(max_examples=150, deadline=None)
@given(expr=typed_exprs("number", depth=3) | typed_exprs("bool", depth=3) | typed_exprs("duration", depth=2))
def test_warmup_follows_the_expression(expr: ast.Expr) -> None:
    """A node's static warm-up, read off the AST: x[k] adds k to x's, an indicator adds its registered
    lookback to its series input's, crosses add one bar, every other operator takes its largest input's and a
    constant has none. (That values agree past the warm-up is what the live check above shows.)"""
    graph = Graph()
    node = _compile(Compiler(graph=graph), expr)
    assert graph[node].warmup == _warmup(expr)


def _warmup(e: ast.Expr) -> int:
    """Warm-up read off the AST: the registry's lookback for indicators, k for x[k], 1 for crosses."""
    if folds_to_constant(e):
        return 0
    match e:
        case ast.Name(id=name) if name in _COLUMNS:
            return 0
        case ast.Name(id=name):
            return indicators.get(name).lookback()
        case ast.Lag(target=target, bars=ast.Number(value=k)) | ast.Call(func="prev",
                                                                         args=(target, ast.Number(value=k))):
            return _warmup(target) + int(k)
        case ast.Call(func="crosses_above" | "crosses_below" | "crosses", args=args):
            return max(_warmup(a) + (0 if folds_to_constant(a) else 1) for a in args)
        case ast.Call(func=func, args=args) if func in _BUILTINS:
            return max(_warmup(a) for a in args)
        case ast.Call(func=func, args=args, kwargs=kwargs):
            ind = indicators.get(func)
            n_series = len(ind.series_inputs)
            params = {p.name: a.value for p, a in zip(ind.params, args[n_series:], strict=False)}
            params |= {k.name: k.value.value for k in kwargs}
            lookback = ind.lookback({k: int(v) if ind.param(k).type is int else v for k, v in params.items()})
            return lookback + max((_warmup(a) for a in args[:n_series]), default=0)
        case ast.IfElse(then=then, cond=cond, other=other) if folds_to_constant(cond):
            return _warmup(then if Reference(None).constant(cond) else other)
    return max((_warmup(c) for c in _children(e)), default=0)


# -- once engine bugs: an indicator over a constant series, NaN constants ----------------------------------
@pytest.mark.parametrize(("text", "func", "series", "params"), [
    ("mean(5, window=3)", "mean", 5.0, {"window": 3}),
    ("highest(1 + 2, window=2)", "highest", 3.0, {"window": 2}),
    ("bars_since(1 < 2, limit=3)", "bars_since", True, {"limit": 3}),
])
def test_indicator_over_a_constant_series(xau_sample: Candles, text: str, func: str, series: Any,
                                          params: dict[str, Any]) -> None:
    """A constant series is that value at every bar, so ``mean(5, window=3)`` is NaN, NaN, then 5."""
    c = xau_sample[:50]
    graph = Graph()
    node = _compile(Compiler(graph=graph), parse_text(text))
    expected = indicators.get(func).compute(c, np.full(len(c), series), **params)
    np.testing.assert_array_equal(graph.evaluate(c, [node])[node], expected)
    np.testing.assert_array_equal(graph.evaluate_last(c, [node])[node], expected[-1])


@pytest.mark.parametrize("text", ["1 / 0", "close + 1 / 0", "(0 / 0) < close"])
def test_undefined_constants_are_shared(text: str) -> None:
    graph = Graph()
    compiler = Compiler(graph=graph)
    first = _compile(compiler, parse_text(text))
    size = len(graph)
    assert _compile(compiler, parse_text(text)) == first
    assert len(graph) == size


# -- constant folding and sharing, by hand ------------------------------------------------------------------
def _graph_of(*texts: str) -> tuple[Graph, list[int]]:
    graph = Graph()
    compiler = Compiler(graph=graph)
    return graph, [_compile(compiler, parse_text(t)) for t in texts]


@pytest.mark.parametrize(("text", "value", "type_"), [
    ("1 + 2 * 3", 7.0, Type.NUMBER),
    ("(1 + 2) * 3 - 4 / 2", 7.0, Type.NUMBER),
    ("-(2 - 5)", 3.0, Type.NUMBER),
    ("max(1, 4, 2) + clamp(10, 0, 3)", 7.0, Type.NUMBER),
    ("1 < 2 <= 2 and not false", True, Type.BOOL),
    ("1 < 2 < 2", False, Type.BOOL),
    ("2 if 1 < 2 else close", 2.0, Type.NUMBER),
    ("close if 1 > 2 else 3[4]", 3.0, Type.NUMBER),
    ("60s + 2m", 180.0, Type.DURATION),
    ("5% * 2", 0.1, Type.NUMBER),
])
def test_constants_fold_to_one_node(text: str, value: Any, type_: Type) -> None:
    graph, (node,) = _graph_of(text)
    assert graph[node].is_const
    assert graph[node].type is type_
    assert graph[node].value == value
    assert graph.reachable([node]) == [node]
    assert graph.warmup([node]) == 0


def test_division_by_zero_folds_to_undefined() -> None:
    graph, (node, compared, unequal) = _graph_of("1 / 0", "1 / 0 < 2", "1 / 0 != 2")
    assert math.isnan(graph[node].value)
    assert graph[compared].value is False and graph[unequal].value is False


def test_a_repeated_indicator_is_one_node() -> None:
    graph, nodes = _graph_of("atr(period=14) > 1 and atr(period=14) < 5", "atr", "atr()", "atr(14)",
                             "atr(period=14, method='sma')", "atr(period=7)")
    atr_nodes = [n for n in graph.nodes if n.op == "ind" and n.attrs[0] == "atr"]
    assert len(atr_nodes) == 2  # period 14 (however written) and period 7
    assert len(set(nodes[1:5])) == 1
    (condition,) = [n for n in graph.nodes if n.op == "and"]
    assert {graph[a].args[0] for a in condition.args} == {nodes[1]}


@pytest.mark.parametrize(("a", "b"), [
    ("close + open", "open + close"),
    ("close * volume", "volume * close"),
    ("min(close, open, high)", "min(high, close, open)"),
    ("max(close, open)", "max(open, close)"),
    ("close == open", "open == close"),
    ("close != open", "open != close"),
    ("bullish and in_session('london')", "in_session('london') and bullish"),
    ("bullish or bearish", "bearish or bullish"),
])
def test_commutative_operations_intern_to_one_node(a: str, b: str) -> None:
    _, (first, second) = _graph_of(a, b)
    assert first == second


@pytest.mark.parametrize(("a", "b"), [("close - open", "open - close"), ("close / open", "open / close"),
                                      ("close < open", "open < close"), ("close[1]", "close[2]")])
def test_ordered_operations_stay_apart(a: str, b: str) -> None:
    _, (first, second) = _graph_of(a, b)
    assert first != second


@pytest.mark.parametrize(("text", "warmup"), [
    ("mean(close, window=20)[3]", 19 + 3),
    ("prev(mean(close, window=20), 3)", 19 + 3),
    ("close[2][3]", 5),
    ("close[0]", 0),
    ("clamp(close[2], mean(close, window=5), close[7])", 7),
    ("clamp(atr(period=14), 0.5, 1.2)", 14),
    ("crosses_above(close, mean(close, window=20))", 19 + 1),
    ("crosses_above(close, 5)", 1),
    ("crosses_below(mean(close, window=5)[2], close)", 4 + 2 + 1),
    ("crosses(close, open[3])", 3 + 1),
    ("1 if bullish[2] else mean(range, window=10)", 9),
    ("mean(close[2], window=3)", 2 + 2),
])
def test_warmup_is_static(xau_sample: Candles, text: str, warmup: int) -> None:
    """Warm-up is known at compile time; after it, the value is defined (finite here) on real bars."""
    graph, (node,) = _graph_of(text)
    assert graph[node].warmup == warmup
    assert graph.warmup([node]) == warmup
    values = graph.evaluate(xau_sample[:200], [node])[node]
    if graph[node].type is Type.NUMBER:
        assert np.isfinite(values[warmup:]).all()
        if text.startswith(("mean", "prev", "close", "clamp(close")):
            assert np.isnan(values[:warmup]).all()


# -- the bit select behind ``where`` ------------------------------------------------------------------------
_SPECIAL = st.sampled_from([0.0, -0.0, NAN, -NAN, math.inf, -math.inf, 5e-324, 1.0, -2.5])
_FLOATS = st.one_of(_SPECIAL, st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=st.integers(1, 40))
def test_select_copies_the_bits_np_where_copies(data: st.DataObject, size: int) -> None:
    """``_select`` is ``np.where`` bit for bit (NaN payloads and signed zeros included), for array or scalar
    branches, and ``np.where(...).astype(bool)`` for booleans."""
    from ruleengine.dsl.graph import _select

    cond = np.array(data.draw(st.lists(st.booleans(), min_size=size, max_size=size)))

    def branch() -> Any:
        if data.draw(st.booleans()):
            return data.draw(_FLOATS)
        return np.array(data.draw(st.lists(_FLOATS, min_size=size, max_size=size)))

    a, b = branch(), branch()
    got = _select(False, cond, a, b)
    want = np.where(cond, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    assert got.dtype == np.float64 and got.shape == want.shape
    assert got.view(np.int64).tolist() == want.view(np.int64).tolist()
    flags = [data.draw(st.one_of(st.booleans(), st.lists(st.booleans(), min_size=size, max_size=size)))
             for _ in range(2)]
    x, y = (np.array(f) if isinstance(f, list) else f for f in flags)
    got_b = _select(True, cond, x, y)
    assert got_b.dtype == np.bool_ and got_b.tolist() == np.where(cond, x, y).astype(bool).tolist()
