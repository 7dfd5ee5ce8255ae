"""Rule file -> :class:`CompiledRules`: schema check, params, defines, every condition compiled per side.

A condition is written once when it is direction-neutral (one expression serves long and short and compiles
to one graph node) or as a ``{long: ..., short: ...}`` pair; a side left out simply has no such condition.
After compiling, every layer must be able to decide both sides: a location/trigger layer with no condition
for one side could never let that side trade, which is almost always a mistake, so it is an error.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jsonschema

import indicators
from ruleengine.dsl import ast
from ruleengine.dsl.compiler import COLUMNS, Compiler, Define, Param
from ruleengine.dsl.graph import Graph, Type
from ruleengine.dsl.parser import parse
from ruleengine.dsl.printer import to_text
from ruleengine.errors import RuleNameError, RuleSchemaError, RuleTypeError
from ruleengine.rules.yamlsource import PathKey, RuleDocument, load_document

__all__ = [
    "SIDES",
    "CheckRules",
    "CompiledRules",
    "Condition",
    "DisciplineRules",
    "EntryRules",
    "ExitRules",
    "ScoreComponent",
    "SideRules",
    "compile_rules",
    "load_rules",
    "rule_schema",
]

Side = Literal["long", "short"]
SIDES: tuple[Side, ...] = ("long", "short")
LAYERS = ("filters", "location", "primary", "secondary")


@functools.cache
def rule_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of rule files, shipped as package data."""
    text = resources.files("ruleengine").joinpath("schema/rules.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One named condition of one layer for one side, and where it was written."""

    layer: str
    name: str
    side: Side
    node: int
    text: str
    line: int
    column: int


@dataclass(frozen=True, kw_only=True)
class ScoreComponent:
    name: str
    side: Side
    node: int
    max: float
    text: str


@dataclass(frozen=True, kw_only=True)
class SideRules:
    """Everything one side needs, as graph node ids."""

    side: Side
    filters: tuple[Condition, ...]
    location: tuple[Condition, ...]
    primary: tuple[Condition, ...]
    secondary: tuple[Condition, ...]
    score: tuple[ScoreComponent, ...]
    stop_loss: int
    take_profit: int
    adverse_candle: int | None = None
    trailing_distance: int | None = None
    exit_when: int | None = None

    def conditions(self) -> tuple[Condition, ...]:
        return (*self.filters, *self.location, *self.primary, *self.secondary)


@dataclass(frozen=True, kw_only=True)
class EntryRules:
    """How a signal becomes an order: SL/TP distances clamped to the symbol's ranges."""

    order: str = "market"
    sl_range: tuple[float, float]
    tp_range: tuple[float, float]


@dataclass(frozen=True, kw_only=True)
class CheckRules:
    """Pre-execution checks (plan defaults): spread vs its mean, slippage and latency budgets."""

    max_spread_ratio: float = 1.5
    max_spread_ratio_low_volume: float = 2.0
    max_slippage: float = 0.001  # fraction of price (0.1%)
    max_latency: float = 0.2  # seconds


@dataclass(frozen=True, kw_only=True)
class ExitRules:
    """Exit policy. ``intrabar`` orders SL vs TP when one M1 bar touches both (pessimistic: SL first)."""

    intrabar: Literal["pessimistic", "open_proximity"] = "pessimistic"
    adverse_candle: bool = True
    trailing_activate_r: float | None = None
    max_hold: float | None = None  # seconds


@dataclass(frozen=True, kw_only=True)
class DisciplineRules:
    cooldown: float = 30.0  # seconds between signals of one symbol
    cool_off: float = 60.0  # seconds after any exit
    max_concurrent: int = 1
    dedupe: bool = True
    conflict: Literal["skip", "higher_score"] = "skip"


@dataclass(frozen=True, kw_only=True)
class CompiledRules:
    """A compiled rule file: one graph, per-side node ids, actions, and what evaluation needs."""

    path: str
    symbol: str
    aliases: tuple[str, ...]
    point: float | None
    spread: float | None
    graph: Graph
    sides: Mapping[Side, SideRules]
    params: Mapping[str, Param]
    trade_at: float
    a_plus_at: float
    entry: EntryRules
    checks: CheckRules
    exits: ExitRules
    discipline: DisciplineRules
    min_primary: int = 1
    min_secondary: int = 1
    required_columns: frozenset[str] = field(default_factory=frozenset)
    #: graph node of the pre-execution spread check (``spread_ok`` with the ``checks`` ratios), which the
    #: backtest evaluates with its signal chunks; no rule expression reads it
    spread_check: int | None = None

    def entry_outputs(self) -> list[int]:
        """Node ids the entry decision needs (conditions, score, SL/TP)."""
        return list(self.entry_nodes)

    @functools.cached_property
    def entry_nodes(self) -> tuple[int, ...]:
        """:meth:`entry_outputs` as a tuple, computed once (the live path asks for it on every bar)."""
        out: list[int] = []
        for s in self.sides.values():
            out += [c.node for c in s.conditions()] + [c.node for c in s.score] + [s.stop_loss, s.take_profit]
        return tuple(dict.fromkeys(out))

    def exit_outputs(self) -> list[int]:
        out: list[int] = []
        for s in self.sides.values():
            out += [n for n in (s.adverse_candle, s.trailing_distance, s.exit_when) if n is not None]
        return list(dict.fromkeys(out))

    @property
    def warmup(self) -> int:
        """Bars before t that the entry decision at t reads; decisions start after this many bars."""
        return self.graph.warmup(self.entry_outputs())

    @property
    def window_exact(self) -> bool:
        return self.graph.window_exact(self.entry_outputs())


# -- schema errors -------------------------------------------------------------------------------------
def _schema_message(error: jsonschema.ValidationError) -> tuple[str, PathKey, bool]:
    """A readable message for a schema violation, the path it concerns, and whether to point at the key."""
    path = tuple(error.absolute_path)
    where = ".".join(str(p) for p in path) or "the file"
    v = error.validator
    if v == "required":
        missing = error.message.split("'")[1]
        return f"{where}: missing required key {missing!r}", path, False
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        key = extra[0] if extra else "?"
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
        return f"{where}: unknown key {key!r}{hint}", (*path, key), True
    if "propertyNames" in error.relative_schema_path or "propertyNames" in error.schema_path:
        name = error.instance
        return (f"{where}: {name!r} is not a valid name (lowercase letters, digits and _, starting with a "
                f"letter)"), (*path, name), True
    if v == "propertyNames":
        return (f"{where}: {error.instance!r} is not a valid name (lowercase letters, digits and _, "
                f"starting with a letter)"), (*path, error.instance), True
    if v == "oneOf" and error.context:
        pattern_errors = [e for e in error.context if e.validator == "pattern"]
        if pattern_errors:
            return _schema_message(pattern_errors[0])
        if isinstance(error.instance, dict):  # a mapping was meant: report what is wrong inside it
            node: jsonschema.ValidationError | None = error
            while node is not None:
                inner = [e for e in node.context or ()
                         if e.validator in ("additionalProperties", "minProperties", "required")]
                if inner:
                    return _schema_message(inner[0])
                node = node.parent
    one_of = error.schema.get("oneOf", [{}]) if v == "oneOf" else [{}]
    if v == "oneOf" and (one_of[0].get("$ref") == "#/$defs/expression"
                         or str(error.schema.get("description", "")).startswith("An expression")):
        return (f"{where}: expected an expression or a mapping with 'long' and/or 'short' expressions, "
                f"got {type(error.instance).__name__}"), path, False
    if v == "const":
        return f"{where}: must be {error.validator_value!r}, got {error.instance!r}", path, False
    if v == "enum":
        opts = ", ".join(repr(x) for x in error.validator_value)
        return f"{where}: must be one of {opts}, got {error.instance!r}", path, False
    if v == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"{where}: expected {want}, got {type(error.instance).__name__} {error.instance!r}", path, False
    if v == "pattern" and where == "symbol":
        return f"symbol: {error.instance!r} must be upper-case letters and digits (XAUUSD)", path, False
    if v == "pattern" and "ms|s|m|h" in str(error.validator_value):
        return (f"{where}: expected a duration such as 90s, 5m or 200ms, or a number of seconds, "
                f"got {error.instance!r}"), path, False
    if v == "pattern" and "%" in str(error.validator_value):
        return f"{where}: expected a percentage such as '0.1%' or a fraction such as 0.001, got {error.instance!r}", \
            path, False
    if v in ("minProperties",):
        return f"{where}: needs at least one entry", path, False
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        return f"{where}: must be {op} {error.validator_value:g}, got {error.instance!r}", path, False
    return f"{where}: {error.message}", path, False


def _check_schema(doc: RuleDocument) -> None:
    validator = jsonschema.Draft202012Validator(rule_schema())
    errors = sorted(validator.iter_errors(doc.data), key=lambda e: (len(list(e.absolute_path)), str(e.path)))
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    message, path, key = _schema_message(error)
    raise RuleSchemaError(message, doc.position(path, key=key))


# -- compiling -----------------------------------------------------------------------------------------
class _Builder:
    def __init__(self, doc: RuleDocument, session_windows: str | None) -> None:
        self.doc = doc
        self.graph = Graph()
        defaults = {"windows": session_windows} if session_windows else {}
        self.compiler = Compiler(graph=self.graph, indicator_defaults=defaults)

    def source(self, path: PathKey):
        return self.doc.expression_source(path)

    def parse_at(self, path: PathKey) -> ast.Expr:
        return parse(self.source(path))


    def _check_name(self, kind: str, name: str, path: PathKey) -> None:
        """A param or define may not hide a candle column or an indicator: the rule would silently read the
        wrong thing (``define: {spread: ...}`` would change what ``spread`` means in every condition)."""
        if name in COLUMNS:
            raise RuleSchemaError(f"{kind} {name!r} has the name of a candle column; choose another name",
                                  self.doc.position(path, key=True))
        if name in indicators.registry():
            raise RuleSchemaError(f"{kind} {name!r} has the name of an indicator; choose another name",
                                  self.doc.position(path, key=True))

    def params(self) -> dict[str, Param]:
        out: dict[str, Param] = {}
        define_names = set(self.doc.data.get("define") or {})
        for name, value in (self.doc.data.get("params") or {}).items():
            path = ("params", name)
            self._check_name("param", name, path)
            if isinstance(value, bool):
                out[name] = Param(name=name, value=value, type=Type.BOOL)
            elif isinstance(value, int | float):
                out[name] = Param(name=name, value=float(value), type=Type.NUMBER)
            else:
                src = self.source(path)
                self.compiler.params = out
                expr = parse(src)
                for used in _names_in(expr):
                    if used in define_names:
                        raise RuleNameError(f"param {name!r} uses define {used!r}: params are constants and may "
                                            f"only use numbers and earlier params", src.start())
                node = self.graph[self.compiler.compile(expr, src)]
                if not node.is_const:
                    raise RuleTypeError(f"param {name!r} must be a constant (a number, a quantity such as 60s "
                                        f"or 0.05%, or arithmetic on earlier params)", src.start())
                out[name] = Param(name=name, value=node.value, type=node.type)
        self.compiler.params = out
        return out

    def defines(self) -> dict[str, Define]:
        out: dict[str, Define] = {}
        params = self.compiler.params
        for name, value in (self.doc.data.get("define") or {}).items():
            path = ("define", name)
            if name in params:
                raise RuleSchemaError(f"define {name!r} has the name of a param", self.doc.position(path, key=True))
            self._check_name("define", name, path)
            if isinstance(value, str | int | float):  # an expression (a bare number or boolean is one too)
                out[name] = Define(name=name, expr=self.parse_at(path), source=self.source(path))
            else:
                sides = {s: (self.parse_at((*path, s)), self.source((*path, s))) for s in SIDES if s in value}
                out[name] = Define(name=name, sides=sides)
        self.compiler.defines = out
        return out

    def sided(self, path: PathKey, *, expect: Type | tuple[Type, ...], exits: bool = False,
              what: str = "this expression") -> dict[Side, tuple[int, str, int, int]]:
        """Compile a neutral-or-sided entry: side -> (node, canonical text, line, column)."""
        value = _get(self.doc.data, path)
        out: dict[Side, tuple[int, str, int, int]] = {}
        if isinstance(value, str | int | float):  # an expression (a bare number or boolean is one too)
            expr = self.parse_at(path)
            pos = self.doc.position(path)
            for side in SIDES:
                node = self.compiler.compile(expr, self.source(path), expect=expect, exits=exits, what=what,
                                             side=side)
                out[side] = (node, to_text(expr), pos.line or 1, pos.column or 1)
            return out
        for side in SIDES:
            if side in value:
                p = (*path, side)
                expr = self.parse_at(p)
                node = self.compiler.compile(expr, self.source(p), expect=expect, exits=exits, what=what,
                                             side=side)
                pos = self.doc.position(p)
                out[side] = (node, to_text(expr), pos.line or 1, pos.column or 1)
        return out

    def layer(self, path: PathKey, layer: str) -> dict[Side, list[Condition]]:
        out: dict[Side, list[Condition]] = {s: [] for s in SIDES}
        for name in _get(self.doc.data, path):
            compiled = self.sided((*path, name), expect=Type.BOOL, what=f"condition {name!r}")
            for side, (node, text, line, column) in compiled.items():
                out[side].append(Condition(layer=layer, name=name, side=side, node=node, text=text,
                                           line=line, column=column))
        for side in SIDES:
            if not out[side]:
                where = ".".join(str(p) for p in path)
                raise RuleSchemaError(f"{where} has no condition for {side}: add a {side} expression or a "
                                      f"direction-neutral one, or this layer blocks every {side} trade",
                                      self.doc.position(path, key=True))
        return out


def _names_in(e: ast.Expr) -> set[str]:
    """Every bare name an expression mentions (for the params-may-not-use-defines check)."""
    found: set[str] = set()
    stack: list[Any] = [e]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Keyword):
            stack.append(node.value)
        elif isinstance(node, ast.Expr):
            for value in vars(node).values():
                if isinstance(value, ast.Expr | ast.Keyword):
                    stack.append(value)
                elif isinstance(value, tuple):
                    stack.extend(v for v in value if isinstance(v, ast.Expr | ast.Keyword))
    return found


def _get(data: Any, path: PathKey) -> Any:
    for k in path:
        data = data[k]
    return data


def _seconds(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    for unit, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)].strip()) * factor
    return float(text)


def compile_rules(doc: RuleDocument, *, session_windows: str | None = None) -> CompiledRules:
    """Compile a parsed rule document (see :func:`load_rules`)."""
    if not isinstance(doc.data, dict):
        raise RuleSchemaError("a rule file is a mapping of keys (symbol, filters, ...)", doc.position(()))
    _check_schema(doc)
    data = doc.data
    b = _Builder(doc, session_windows)
    params = b.params()
    b.defines()

    filters = b.layer(("filters",), "filters")
    location = b.layer(("location",), "location")
    primary = b.layer(("triggers", "primary"), "primary")
    secondary = b.layer(("triggers", "secondary"), "secondary")

    score: dict[Side, list[ScoreComponent]] = {s: [] for s in SIDES}
    for name, spec in data["score"]["components"].items():
        compiled = b.sided(("score", "components", name, "value"), expect=Type.NUMBER,
                           what=f"score component {name!r}")
        for side, (node, text, _line, _col) in compiled.items():
            score[side].append(ScoreComponent(name=name, side=side, node=node, max=float(spec["max"]), text=text))
    trade_at = float(data["score"]["trade_at"])
    a_plus_at = float(data["score"].get("a_plus_at", trade_at))
    max_total = {s: sum(c.max for c in score[s]) for s in SIDES}
    if a_plus_at < trade_at:
        raise RuleSchemaError(f"score.a_plus_at ({a_plus_at:g}) is below score.trade_at ({trade_at:g})",
                              doc.position(("score", "a_plus_at")))
    for side in SIDES:
        if trade_at > max_total[side]:
            raise RuleSchemaError(f"score.trade_at ({trade_at:g}) can never be reached on the {side} side: "
                                  f"its components add up to at most {max_total[side]:g}",
                                  doc.position(("score", "trade_at")))

    entry = data["actions"]["entry"]
    ranges = {}
    for key in ("sl_range", "tp_range"):
        lo, hi = entry[key]
        if lo > hi:
            raise RuleSchemaError(f"actions.entry.{key}: low {lo:g} is above high {hi:g}",
                                  doc.position(("actions", "entry", key)))
        ranges[key] = (float(lo), float(hi))
    sl = b.sided(("actions", "entry", "stop_loss"), expect=Type.NUMBER, what="stop_loss")
    tp = b.sided(("actions", "entry", "take_profit"), expect=Type.NUMBER, what="take_profit")
    for name, compiled in (("stop_loss", sl), ("take_profit", tp)):
        for side in SIDES:
            if side not in compiled:
                raise RuleSchemaError(f"actions.entry.{name} has no {side} expression: no position may open "
                                      f"without both a stop loss and a take profit",
                                      doc.position(("actions", "entry", name), key=True))

    exits_data = data["actions"].get("exits") or {}
    adverse_nodes: dict[Side, tuple[int, str, int, int]] = {}
    adverse_flag = True
    adverse = exits_data.get("adverse_candle", True)
    if isinstance(adverse, bool):
        adverse_flag = adverse
    else:
        adverse_nodes = b.sided(("actions", "exits", "adverse_candle"), expect=Type.BOOL, exits=True,
                                what="adverse_candle")
    trailing = exits_data.get("trailing")
    trail_nodes = (b.sided(("actions", "exits", "trailing", "distance"), expect=Type.NUMBER, exits=True,
                           what="trailing distance") if trailing else {})
    exit_when = (b.sided(("actions", "exits", "exit_when"), expect=Type.BOOL, exits=True, what="exit_when")
                 if "exit_when" in exits_data else {})

    sides: dict[Side, SideRules] = {}
    for side in SIDES:
        sides[side] = SideRules(
            side=side, filters=tuple(filters[side]), location=tuple(location[side]),
            primary=tuple(primary[side]), secondary=tuple(secondary[side]), score=tuple(score[side]),
            stop_loss=sl[side][0], take_profit=tp[side][0],
            adverse_candle=adverse_nodes[side][0] if side in adverse_nodes else None,
            trailing_distance=trail_nodes[side][0] if side in trail_nodes else None,
            exit_when=exit_when[side][0] if side in exit_when else None,
        )

    checks_data = data["actions"].get("checks") or {}
    slippage = checks_data.get("max_slippage", 0.001)
    if isinstance(slippage, str):  # the schema admits only "<number>%" strings
        slippage = float(slippage.strip().rstrip("%").strip()) / 100
    discipline = data["actions"].get("discipline") or {}
    checks = CheckRules(
        max_spread_ratio=float(checks_data.get("max_spread_ratio", 1.5)),
        max_spread_ratio_low_volume=float(checks_data.get("max_spread_ratio_low_volume", 2.0)),
        max_slippage=float(slippage), max_latency=_seconds(checks_data.get("max_latency", 0.2)),
    )
    return CompiledRules(
        path=doc.path, symbol=data["symbol"], aliases=tuple(data.get("aliases") or ()),
        point=data.get("point"), spread=data.get("spread"), graph=b.graph, sides=sides, params=params,
        trade_at=trade_at, a_plus_at=a_plus_at,
        entry=EntryRules(order=entry.get("order", "market"), sl_range=ranges["sl_range"], tp_range=ranges["tp_range"]),
        checks=checks,
        exits=ExitRules(
            intrabar=exits_data.get("intrabar", "pessimistic"), adverse_candle=adverse_flag,
            trailing_activate_r=float(trailing["activate_r"]) if trailing else None,
            max_hold=_seconds(exits_data["max_hold"]) if "max_hold" in exits_data else None,
        ),
        discipline=DisciplineRules(
            cooldown=_seconds(discipline.get("cooldown", 30)), cool_off=_seconds(discipline.get("cool_off", 60)),
            max_concurrent=int(discipline.get("max_concurrent", 1)), dedupe=bool(discipline.get("dedupe", True)),
            conflict=discipline.get("conflict", "skip"),
        ),
        min_primary=int(data["triggers"].get("min_primary", 1)),
        min_secondary=int(data["triggers"].get("min_secondary", 1)),
        required_columns=frozenset(b.compiler.required_columns), spread_check=spread_check_node(b.graph, checks),
    )


def spread_check_node(graph: Graph, checks: CheckRules) -> int:
    """The node of ``spread_ok`` with the ratios of ``checks`` in ``graph`` (added once: nodes are interned)."""
    ind = indicators.get("spread_ok")
    params = ind.resolve({"max_ratio": checks.max_spread_ratio,
                          "max_ratio_low_volume": checks.max_spread_ratio_low_volume})
    return graph.add("ind", (), ("spread_ok", tuple(sorted(params.items()))), Type.BOOL, lookback=ind.lookback(params))


def load_rules(path: str | Path, *, session_windows: str | None = None) -> CompiledRules:
    """Load, check and compile a rule file. Session windows default to ``config/sessions.yaml``."""
    if session_windows is None:
        session_windows = _configured_windows()
    return compile_rules(load_document(path), session_windows=session_windows)


def _configured_windows() -> str | None:
    """config/sessions.yaml as the compact string session indicators take (``asian=23:00-07:00,...``)."""
    try:
        from ruleengine.config import load_sessions
    except ImportError:  # pragma: no cover - the config module is optional during bootstrapping
        return None
    try:
        sessions = load_sessions()
    except Exception:
        return None
    windows = getattr(sessions, "windows", sessions)
    try:
        return ",".join(f"{w.name}={w.start}-{w.end}" for w in windows)
    except (AttributeError, TypeError):
        return None
