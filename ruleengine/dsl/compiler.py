"""Typed AST -> predicate-graph nodes.

The compiler resolves names, checks types, arity and argument kinds, folds constants (through
:meth:`Graph.add`) and interns every sub-expression, so the evaluator only ever sees well-typed nodes.

Names resolve in this order: params, defines, candle columns, indicators called without arguments
(``body`` is ``body()``), then, inside ``actions.exits`` only, position names (``entry_price``,
``bars_held``, ...) and the side literals ``long`` / ``short``. Anything else is an unknown name with the
closest known names suggested.

Typing rules (number, boolean, duration, string, side):
- ``+ -`` on two numbers or two durations; ``*`` number x number, duration x number; ``/`` number / number,
  duration / number (a duration), duration / duration (a number); unary ``-`` on numbers and durations;
- comparisons between two numbers or two durations; ``==`` / ``!=`` also between booleans and between sides;
- ``and`` / ``or`` / ``not`` on booleans; ``x if c else y`` needs a boolean ``c`` and branches of one type;
- ``x[k]`` lags a number or a boolean by a constant whole number of bars;
- indicator parameters are constants of the declared type (params count as constants).
There are no implicit conversions: a boolean is not a number (write ``1 if c else 0``).
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import indicators
from ruleengine.dsl import ast
from ruleengine.dsl.graph import Graph, Type
from ruleengine.dsl.parser import UNITS
from ruleengine.dsl.source import Source
from ruleengine.errors import RuleNameError, RuleTypeError

__all__ = ["BUILTINS", "COLUMNS", "POSITION_NAMES", "Compiler", "Define", "Param"]

#: Candle columns usable by name (``time`` is not: rules use session indicators instead).
COLUMNS: dict[str, str] = {
    "open": "open", "high": "high", "low": "low", "close": "close",
    "volume": "volume", "spread": "spread", "taker_buy_volume": "taker_buy_volume",
}

#: Names describing the open position; valid only in ``actions.exits`` expressions.
POSITION_NAMES: dict[str, tuple[Type, str]] = {
    "entry_price": (Type.NUMBER, "fill price of the entry"),
    "sl": (Type.NUMBER, "current stop-loss price"),
    "tp": (Type.NUMBER, "take-profit price"),
    "bars_held": (Type.NUMBER, "bars since the entry bar (1 on the first bar after entry)"),
    "time_held": (Type.DURATION, "time since entry"),
    "r_multiple": (Type.NUMBER, "unrealised result at this bar's close in R (initial risk)"),
    "max_r": (Type.NUMBER, "best unrealised R reached so far (maximum favourable excursion)"),
    "side": (Type.SIDE, "the position's side, compare with long / short"),
}

#: Built-in functions: name -> (description, arity text).
BUILTINS: dict[str, str] = {
    "abs": "abs(x): absolute value",
    "min": "min(a, b, ...): smallest of two or more values",
    "max": "max(a, b, ...): largest of two or more values",
    "clamp": "clamp(x, low, high): x limited to [low, high]",
    "prev": "prev(x, k): x k bars ago (same as x[k])",
    "crosses_above": "crosses_above(a, b): a > b now and a <= b one bar ago",
    "crosses_below": "crosses_below(a, b): a < b now and a >= b one bar ago",
    "crosses": "crosses(a, b): crosses_above(a, b) or crosses_below(a, b)",
}

_ARITH_OPS = {"+": "add", "-": "sub", "*": "mul", "/": "div"}
_CMP_OPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
_NUMERIC = (Type.NUMBER, Type.DURATION)


_DRY_BARS = 3
_DRY_TIME = np.arange(_DRY_BARS, dtype=np.int64) * 60 + 1_700_000_000
_DRY = {"time": _DRY_TIME, "open": np.ones(_DRY_BARS), "high": np.full(_DRY_BARS, 1.5),
        "low": np.full(_DRY_BARS, 0.5), "close": np.ones(_DRY_BARS), "volume": np.ones(_DRY_BARS),
        "spread": np.zeros(_DRY_BARS), "taker_buy_volume": np.full(_DRY_BARS, 0.5),
        "real_volume": np.ones(_DRY_BARS), "x": np.ones(_DRY_BARS), "y": np.ones(_DRY_BARS),
        "cond": np.ones(_DRY_BARS, dtype=bool)}


@functools.cache
def _dry_run(name: str, params: tuple[tuple[str, Any], ...]) -> None:
    """Call the indicator on three dummy bars so parameter values it only checks when it runs (a session
    name absent from the windows, an anchor of "25:00") fail at compile time, at the call, not mid-backtest.
    A ValueError here becomes a type error at the call site; anything else is the indicator's business."""
    ind = indicators.get(name)
    ind.func(*(_DRY[i] for i in ind.inputs), **dict(params))


@dataclass(frozen=True, kw_only=True)
class Param:
    """A named constant of the rule file (``params:``)."""

    name: str
    value: Any
    type: Type
    source: Source | None = None


@dataclass(frozen=True, kw_only=True)
class Define:
    """A named reusable expression (``define:``), compiled on first use.

    ``sides`` holds side-specific versions (``{long: ..., short: ...}``); a use of the name then means the
    version of the side being compiled, and is an error where no side applies.
    """

    name: str
    expr: ast.Expr | None = None
    source: Source | None = None
    sides: Mapping[str, tuple[ast.Expr, Source]] = field(default_factory=dict)


@dataclass
class _Frame:
    source: Source
    exits: bool
    side: str | None = None


@dataclass
class Compiler:
    """Compiles expressions of one rule file into one shared :class:`Graph`."""

    graph: Graph
    params: Mapping[str, Param] = field(default_factory=dict)
    defines: Mapping[str, Define] = field(default_factory=dict)
    indicator_defaults: Mapping[str, Any] = field(default_factory=dict)
    required_columns: set[str] = field(default_factory=set)
    _define_nodes: dict[tuple[str, bool], int] = field(default_factory=dict)
    _define_stack: list[str] = field(default_factory=list)

    # -- entry points -----------------------------------------------------------------------------------
    def compile(self, expr: ast.Expr, source: Source, *, expect: Type | tuple[Type, ...] | None = None,
                exits: bool = False, what: str = "this expression", side: str | None = None) -> int:
        """Compile ``expr`` (parsed from ``source``) for ``side`` and check its type is ``expect``.

        Compiling a direction-neutral expression for each side yields the same node twice (hash-consing),
        so writing a condition once costs one computation.
        """
        frame = _Frame(source=source, exits=exits, side=side)
        node = self._expr(expr, frame)
        if expect is not None:
            allowed = expect if isinstance(expect, tuple) else (expect,)
            got = self.graph[node].type
            if got not in allowed:
                want = " or ".join(str(t) for t in allowed)
                raise RuleTypeError(f"{what} must be a {want}, but this is a {got}", self._pos(expr, frame))
        return node

    def type_of(self, node: int) -> Type:
        return self.graph[node].type

    # -- helpers ----------------------------------------------------------------------------------------
    @staticmethod
    def _pos(e: ast.Expr | ast.Keyword, frame: _Frame) -> Any:
        if e.span is None:
            return frame.source.start()
        return frame.source.position(e.span.line, e.span.column)

    def _type_error(self, message: str, e: ast.Expr | ast.Keyword, frame: _Frame) -> RuleTypeError:
        return RuleTypeError(message, self._pos(e, frame))

    def _known_names(self, frame: _Frame) -> list[str]:
        names = [*self.params, *self.defines, *COLUMNS]
        names += [n for n, ind in indicators.registry().items() if not ind.series_inputs]
        if frame.exits:
            names += [*POSITION_NAMES, "long", "short"]
        return names

    def _unknown(self, name: str, e: ast.Expr, frame: _Frame, kind: str = "name") -> RuleNameError:
        pool = self._known_names(frame) if kind == "name" else [*BUILTINS, *indicators.names()]
        close = difflib.get_close_matches(name, pool, n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        return RuleNameError(f"unknown {kind} {name!r}{hint}", self._pos(e, frame))

    # -- expressions ------------------------------------------------------------------------------------
    def _expr(self, e: ast.Expr, frame: _Frame) -> int:
        method: Callable[[Any, _Frame], int] = getattr(self, f"_{type(e).__name__.lower()}")
        return method(e, frame)

    def _number(self, e: ast.Number, frame: _Frame) -> int:
        if e.unit is None:
            return self.graph.const(e.value, Type.NUMBER)
        kind, factor = UNITS[e.unit]
        return self.graph.const(e.value * factor, Type.DURATION if kind == "duration" else Type.NUMBER)

    def _string(self, e: ast.String, frame: _Frame) -> int:
        return self.graph.const(e.value, Type.STRING)

    def _bool(self, e: ast.Bool, frame: _Frame) -> int:
        return self.graph.const(e.value, Type.BOOL)

    def _name(self, e: ast.Name, frame: _Frame) -> int:
        name = e.id
        if name in self.params:
            p = self.params[name]
            return self.graph.const(p.value, p.type)
        if name in self.defines:
            return self._define(name, e, frame)
        if name in COLUMNS:
            if name == "taker_buy_volume":
                self.required_columns.add(name)
            return self.graph.add("col", (), (COLUMNS[name],), Type.NUMBER)
        if name in ("long", "short") and not frame.exits:
            raise RuleNameError(f"{name!r} is a side, usable only in actions.exits (compare with 'side'); "
                                f"for a {name}-only condition write it under '{name}:'", self._pos(e, frame))
        if name in POSITION_NAMES or name in ("long", "short"):
            if not frame.exits:
                raise RuleNameError(f"{name!r} describes an open position and can only be used in actions.exits",
                                    self._pos(e, frame))
            if name in ("long", "short"):
                return self.graph.const(name, Type.SIDE)
            return self.graph.add("pos", (), (name,), POSITION_NAMES[name][0])
        if name in indicators.registry():
            return self._indicator(name, ast.Call(func=name, span=e.span), frame)
        raise self._unknown(name, e, frame)

    def _define(self, name: str, e: ast.Expr, frame: _Frame) -> int:
        d = self.defines[name]
        side = frame.side if d.sides else None
        # keyed by the frame's side even for a neutral define: it may use a sided define underneath
        # (hash-consing still makes identical compilations one node)
        key = (name, frame.exits, frame.side)
        if key in self._define_nodes:
            return self._define_nodes[key]
        if name in self._define_stack:
            cycle = " -> ".join([*self._define_stack[self._define_stack.index(name):], name])
            raise RuleNameError(f"define {name!r} refers to itself ({cycle})", self._pos(e, frame))
        if d.sides:
            if side is None:
                raise RuleNameError(f"define {name!r} has long/short versions; it can only be used where a side "
                                    f"applies (conditions, score, actions)", self._pos(e, frame))
            if side not in d.sides:
                raise RuleNameError(f"define {name!r} has no {side} version, but is used by a {side} expression",
                                    self._pos(e, frame))
            expr, source = d.sides[side]
        else:
            assert d.expr is not None and d.source is not None
            expr, source = d.expr, d.source
        self._define_stack.append(name)
        try:
            node = self._expr(expr, _Frame(source=source, exits=frame.exits, side=frame.side))
        finally:
            self._define_stack.pop()
        self._define_nodes[key] = node
        return node

    def _unary(self, e: ast.Unary, frame: _Frame) -> int:
        x = self._expr(e.operand, frame)
        t = self.type_of(x)
        if t not in _NUMERIC:
            raise self._type_error(f"'-' needs a number or a duration, got a {t}", e, frame)
        return self.graph.add("neg", (x,), (), t)

    def _arith(self, e: ast.Arith, frame: _Frame) -> int:
        a, b = self._expr(e.left, frame), self._expr(e.right, frame)
        ta, tb = self.type_of(a), self.type_of(b)
        N, D = Type.NUMBER, Type.DURATION
        result: Type | None = None
        if e.op in "+-":
            result = ta if ta == tb and ta in _NUMERIC else None
        elif e.op == "*":
            result = {(N, N): N, (D, N): D, (N, D): D}.get((ta, tb))
        elif e.op == "/":
            result = {(N, N): N, (D, N): D, (D, D): N}.get((ta, tb))
        if result is None:
            verb = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}[e.op]
            raise self._type_error(f"cannot {verb} a {ta} and a {tb} with '{e.op}'", e, frame)
        return self.graph.add(_ARITH_OPS[e.op], (a, b), (), result)

    def _compare(self, e: ast.Compare, frame: _Frame) -> int:
        nodes = [self._expr(o, frame) for o in e.operands]
        out: int | None = None
        for i, op in enumerate(e.ops):
            a, b = nodes[i], nodes[i + 1]
            ta, tb = self.type_of(a), self.type_of(b)
            ok = ta == tb and (ta in _NUMERIC or (op in ("==", "!=") and ta in (Type.BOOL, Type.SIDE)))
            if not ok:
                if ta == tb:
                    raise self._type_error(f"cannot order {ta}s with '{op}' (only '==' and '!=')", e, frame)
                raise self._type_error(f"cannot compare a {ta} with a {tb} ('{op}')", e, frame)
            if ta in (Type.BOOL, Type.SIDE):
                node = self._bool_equal(a, b, op, ta)
            else:
                node = self.graph.add(_CMP_OPS[op], (a, b), (), Type.BOOL)
            out = node if out is None else self.graph.add("and", (out, node), (), Type.BOOL)
        assert out is not None
        return out

    def _bool_equal(self, a: int, b: int, op: str, t: Type) -> int:
        if t is Type.SIDE:
            return self.graph.add("side_" + _CMP_OPS[op], (a, b), (), Type.BOOL)
        # a == b for booleans: (a and b) or (not a and not b)
        both = self.graph.add("and", (a, b), (), Type.BOOL)
        neither = self.graph.add("and", (self.graph.add("not", (a,), (), Type.BOOL),
                                         self.graph.add("not", (b,), (), Type.BOOL)), (), Type.BOOL)
        eq = self.graph.add("or", (both, neither), (), Type.BOOL)
        return eq if op == "==" else self.graph.add("not", (eq,), (), Type.BOOL)

    def _logic(self, e: ast.Logic, frame: _Frame) -> int:
        a, b = self._expr(e.left, frame), self._expr(e.right, frame)
        for side, node in (("left", a), ("right", b)):
            t = self.type_of(node)
            if t is not Type.BOOL:
                raise self._type_error(f"'{e.op}' needs booleans, but its {side} side is a {t}", e, frame)
        return self.graph.add(e.op, (a, b), (), Type.BOOL)

    def _not(self, e: ast.Not, frame: _Frame) -> int:
        x = self._expr(e.operand, frame)
        if self.type_of(x) is not Type.BOOL:
            raise self._type_error(f"'not' needs a boolean, got a {self.type_of(x)}", e, frame)
        return self.graph.add("not", (x,), (), Type.BOOL)

    def _ifelse(self, e: ast.IfElse, frame: _Frame) -> int:
        c = self._expr(e.cond, frame)
        if self.type_of(c) is not Type.BOOL:
            raise self._type_error(f"the condition after 'if' must be a boolean, got a {self.type_of(c)}",
                                   e.cond, frame)
        a, b = self._expr(e.then, frame), self._expr(e.other, frame)
        ta, tb = self.type_of(a), self.type_of(b)
        if ta != tb or ta not in (Type.NUMBER, Type.BOOL, Type.DURATION):
            raise self._type_error(f"both branches of 'if ... else' must have one type, got a {ta} and a {tb}",
                                   e, frame)
        cnode = self.graph[c]
        if cnode.is_const:
            return a if cnode.value else b
        return self.graph.add("where", (c, a, b), (), ta)

    def _lag(self, e: ast.Lag, frame: _Frame) -> int:
        x = self._expr(e.target, frame)
        return self._lag_node(x, e.bars, e, frame)

    def _lag_node(self, x: int, bars_expr: ast.Expr, e: ast.Expr, frame: _Frame) -> int:
        t = self.type_of(x)
        if t not in (Type.NUMBER, Type.BOOL):
            raise self._type_error(f"only numbers and booleans can be lagged, got a {t}", e, frame)
        k = self._constant_int(bars_expr, frame, "a lag")
        if k == 0:
            return x
        if self.graph[x].is_const:
            return x
        return self.graph.add("lag", (x,), (k,), t, lookback=k)

    def _constant_int(self, e: ast.Expr, frame: _Frame, what: str) -> int:
        node = self._expr(e, frame)
        n = self.graph[node]
        if n.type is not Type.NUMBER or not n.is_const:
            raise self._type_error(f"{what} needs a constant whole number of bars", e, frame)
        v = n.value
        if not math.isfinite(v) or v != int(v) or v < 0:
            raise self._type_error(f"{what} needs a whole number of bars >= 0, got {v:g}", e, frame)
        return int(v)

    # -- calls ------------------------------------------------------------------------------------------
    def _call(self, e: ast.Call, frame: _Frame) -> int:
        if e.func in BUILTINS:
            return self._builtin(e, frame)
        if e.func in indicators.registry():
            return self._indicator(e.func, e, frame)
        if e.func in self.defines or e.func in self.params or e.func in COLUMNS:
            raise self._type_error(f"{e.func!r} is not a function; use it without parentheses", e, frame)
        raise self._unknown(e.func, e, frame, kind="function")

    def _builtin(self, e: ast.Call, frame: _Frame) -> int:
        f = e.func
        if e.kwargs:
            raise self._type_error(f"{f}() takes no keyword arguments ({BUILTINS[f]})", e.kwargs[0], frame)
        arity = {"abs": (1, 1), "clamp": (3, 3), "prev": (2, 2), "crosses_above": (2, 2),
                 "crosses_below": (2, 2), "crosses": (2, 2), "min": (2, 99), "max": (2, 99)}[f]
        if not arity[0] <= len(e.args) <= arity[1]:
            want = str(arity[0]) if arity[0] == arity[1] else f"at least {arity[0]}"
            raise self._type_error(f"{f}() takes {want} arguments, got {len(e.args)} ({BUILTINS[f]})", e, frame)
        if f == "prev":
            return self._lag_node(self._expr(e.args[0], frame), e.args[1], e, frame)
        args = [self._expr(a, frame) for a in e.args]
        types = [self.type_of(a) for a in args]
        for a_expr, t in zip(e.args, types, strict=True):
            if t not in _NUMERIC:
                raise self._type_error(f"{f}() needs numbers, got a {t}", a_expr, frame)
        if len(set(types)) > 1:
            raise self._type_error(f"{f}() arguments must all be numbers or all durations", e, frame)
        t = types[0]
        if f == "abs":
            return self.graph.add("abs", (args[0],), (), t)
        if f in ("min", "max"):
            return self.graph.add(f, tuple(args), (), t)
        if f == "clamp":
            x, lo, hi = args
            return self.graph.add("min", (self.graph.add("max", (x, lo), (), t), hi), (), t)
        a, b = args
        above = self._crosses(a, b, "gt", "le")
        below = self._crosses(a, b, "lt", "ge")
        if f == "crosses_above":
            return above
        if f == "crosses_below":
            return below
        return self.graph.add("or", (above, below), (), Type.BOOL)

    def _crosses(self, a: int, b: int, now: str, before: str) -> int:
        g = self.graph
        t = g[a].type
        now_node = g.add(now, (a, b), (), Type.BOOL)
        def lag(x: int) -> int:
            return (x if g[x].is_const else g.add("lag", (x,), (1,), t, lookback=1))
        before_node = g.add(before, (lag(a), lag(b)), (), Type.BOOL)
        return g.add("and", (now_node, before_node), (), Type.BOOL)

    def _indicator(self, name: str, e: ast.Call, frame: _Frame) -> int:
        ind = indicators.get(name)
        n_series = len(ind.series_inputs)
        if len(e.args) < n_series:
            inputs = ", ".join(ind.series_inputs)
            raise self._type_error(f"{name}() needs {n_series} input(s) ({inputs}) before its parameters: "
                                   f"{ind.signature()}", e, frame)
        series: list[int] = []
        for input_name, a_expr in zip(ind.series_inputs, e.args[:n_series], strict=True):
            node = self._expr(a_expr, frame)
            want = Type.BOOL if input_name == "cond" else Type.NUMBER
            if self.type_of(node) is not want:
                raise self._type_error(f"{name}(): input {input_name!r} must be a {want}, "
                                       f"got a {self.type_of(node)}", a_expr, frame)
            series.append(self._per_bar(node))
        given: dict[str, tuple[Any, ast.Expr | ast.Keyword]] = {}
        extra = e.args[n_series:]
        if len(extra) > len(ind.params):
            raise self._type_error(f"{name}() takes at most {len(ind.params)} parameter(s), got {len(extra)}: "
                                   f"{ind.signature()}", extra[len(ind.params)], frame)
        for p, a_expr in zip(ind.params, extra, strict=False):
            given[p.name] = (a_expr, a_expr)
        for kw in e.kwargs:
            if kw.name in given:
                raise self._type_error(f"{name}(): parameter {kw.name!r} given twice", kw, frame)
            given[kw.name] = (kw.value, kw)
        values: dict[str, Any] = {}
        for pname, (v_expr, where) in given.items():
            try:
                p = ind.param(pname)
            except KeyError:
                close = difflib.get_close_matches(pname, [q.name for q in ind.params], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self._type_error(f"{name}() has no parameter {pname!r}{hint}: {ind.signature()}",
                                       where, frame) from None
            values[pname] = self._param_value(name, p, v_expr, frame)
        for pname, default in self.indicator_defaults.items():
            if pname not in values and any(q.name == pname for q in ind.params):
                values[pname] = default
        try:
            resolved = ind.resolve(values)
            lookback = ind.lookback(resolved)
            _dry_run(name, tuple(sorted(resolved.items())))
        except (TypeError, ValueError) as exc:
            raise self._type_error(f"{name}(): {exc}", e, frame) from None
        self.required_columns.update(ind.requires)
        params = tuple(sorted(resolved.items()))
        out_type = {"boolean": Type.BOOL, "duration": Type.DURATION}.get(ind.output, Type.NUMBER)
        return self.graph.add("ind", tuple(series), (name, params), out_type, lookback=lookback)

    def _per_bar(self, node: int) -> int:
        """A constant series input as one value per bar, built from ops whose results are exact: a number c
        becomes ``c + 0 * close`` (prices are finite and positive, so ``0 * close`` is +0.0 and the sum is c),
        a boolean b becomes ``b or close != close`` (``!=`` is false on every bar). An indicator always
        receives arrays over its bars, whichever evaluator runs it."""
        g = self.graph
        n = g[node]
        if not n.is_const:
            return node
        close = g.add("col", (), ("close",), Type.NUMBER)
        if n.type is Type.BOOL:
            never = g.add("ne", (close, close), (), Type.BOOL)
            return g.add("or", (node, never), (), Type.BOOL)
        zero = g.add("mul", (g.const(0.0, Type.NUMBER), close), (), Type.NUMBER)
        return g.add("add", (node, zero), (), Type.NUMBER)

    def _param_value(self, func: str, p: indicators.Param, v_expr: ast.Expr, frame: _Frame) -> Any:
        node = self.graph[self._expr(v_expr, frame)]
        want = {int: Type.NUMBER, float: Type.NUMBER, bool: Type.BOOL, str: Type.STRING}[p.type]
        if node.type is not want:
            raise self._type_error(f"{func}(): parameter {p.name!r} must be a {want}, not a {node.type}",
                                   v_expr, frame)
        if not node.is_const:
            raise self._type_error(f"{func}(): parameter {p.name!r} must be a constant {want} (a param or a "
                                   f"literal), not a value that changes per bar", v_expr, frame)
        value = node.value
        if want is Type.NUMBER and not math.isfinite(value):
            raise self._type_error(f"{func}(): parameter {p.name!r} is not a finite number", v_expr, frame)
        try:
            return p.check(int(value) if p.type is int and value == int(value) else value)
        except ValueError as exc:
            raise self._type_error(f"{func}(): {exc}", v_expr, frame) from None
