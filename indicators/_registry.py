"""The indicator registry: how the rule language sees the indicator library.

Every indicator is a pure numpy function ``f(*inputs, **params) -> ndarray``: its positional arguments are
input arrays (candle columns such as ``high`` or ``close``, or ``x`` / ``y`` for a series the rule passes in,
as in ``mean(range, 20)``), its keyword-only arguments are parameters with defaults. ``@indicator`` records,
beside the function, what the DSL compiler needs to type-check and schedule a call without running it:

- ``inputs``: which candle columns (or series arguments) it reads, in positional order;
- ``params``: name, type, default and bounds of each keyword-only parameter (read from the signature);
- ``output``: ``"number"`` (float64, NaN while undefined), ``"duration"`` (float64 seconds: the rule
  language compares it with ``30s`` but not with a plain number) or ``"boolean"`` (bool, False while
  undefined);
- ``lookback``: how many bars *before* t the value at t may read. Together with causality this gives the
  warm-up of a rule: evaluating on any window that holds bars ``t - lookback .. t`` gives the same value at t
  as evaluating on the full history, bit for bit, when ``window_exact`` is true. Recursive filters (Wilder
  smoothing) set ``window_exact=False``: their value converges but never depends on a finite window only.

An indicator may also have a **newest-bar twin** (``@last_value(name)``): the same signature, called with
the last ``min(lookback + 1, bars available)`` bars of each input, returning the value at the newest bar as a
Python ``float`` or ``bool``. The live evaluator uses it instead of the array function: a decision reads one
value per indicator, and on a window of a few dozen to a few thousand bars the array function's cost is
mostly per-call overhead of numpy, not arithmetic. The twin must give the array function's value *bit for
bit* (same summation order; a test checks every twin against its array function on random and real bars),
so it is only used where the indicator is window-exact.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

__all__ = [
    "CANDLE_INPUTS",
    "SERIES_INPUTS",
    "Indicator",
    "Param",
    "get",
    "indicator",
    "last_value",
    "names",
    "registry",
]

Output = Literal["number", "boolean", "duration"]
#: How an indicator's value transforms when prices are reflected (p -> C - p for a constant C, which swaps
#: high and low; volume and spread unchanged; taker_buy_volume -> volume - taker_buy_volume):
#: "same": the mirror indicator gives the same value (booleans, magnitudes such as range or ATR);
#: "negate": it gives the negated value (signed differences such as close - open, delta, distance);
#: "reflect": it gives C - value (price levels such as VWAP or the intraday high).
MirrorKind = Literal["same", "negate", "reflect"]

#: Candle columns an indicator may read (see ``ruleengine.data.Candles``).
CANDLE_INPUTS: tuple[str, ...] = (
    "time", "open", "high", "low", "close", "volume", "spread", "taker_buy_volume", "real_volume",
)
#: Names of positional series arguments supplied by the rule (``mean(x, 20)``, ``crosses(x, y)``).
SERIES_INPUTS: tuple[str, ...] = ("x", "y", "cond")


class HasColumns(Protocol):
    """Anything with a ``column(name)`` accessor, i.e. :class:`ruleengine.data.Candles`."""

    def column(self, name: str) -> np.ndarray: ...


@dataclass(frozen=True, kw_only=True)
class Param:
    """One keyword-only parameter of an indicator, as the rule language may set it."""

    name: str
    type: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None

    def check(self, value: Any) -> Any:
        """Validate and coerce a value for this parameter; ``ValueError`` with a readable reason otherwise."""
        if self.choices is not None:
            if value not in self.choices:
                opts = ", ".join(repr(c) for c in self.choices)
                raise ValueError(f"{self.name} must be one of {opts}, got {value!r}")
            return value
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false, got {value!r}")
            return value
        if self.type is int:
            if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
                raise ValueError(f"{self.name} must be a whole number, got {value!r}")
            value = int(value)
        elif self.type is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{self.name} must be a number, got {value!r}")
            value = float(value)
            if not np.isfinite(value):
                raise ValueError(f"{self.name} must be finite, got {value!r}")
        elif self.type is str:
            if not isinstance(value, str):
                raise ValueError(f"{self.name} must be a string, got {value!r}")
            return value
        if self.low is not None and value < self.low:
            raise ValueError(f"{self.name} must be >= {self.low:g}, got {value!r}")
        if self.high is not None and value > self.high:
            raise ValueError(f"{self.name} must be <= {self.high:g}, got {value!r}")
        return value


@dataclass(frozen=True, kw_only=True)
class Indicator:
    """A registered indicator: the function plus what the compiler needs to know about it."""

    name: str
    func: Callable[..., np.ndarray]
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    output: Output
    lookback_fn: Callable[[Mapping[str, Any]], int]
    window_exact: bool | Callable[[Mapping[str, Any]], bool] = True
    category: str = ""
    summary: str = ""
    requires: tuple[str, ...] = field(default=())
    mirror: str | None = None
    mirror_kind: MirrorKind = "same"
    last: Callable[..., float | bool] | None = None  # the newest-bar twin, see the module docstring

    @property
    def series_inputs(self) -> tuple[str, ...]:
        """The inputs the rule passes positionally (``x``, ``y``, ``cond``)."""
        return tuple(i for i in self.inputs if i in SERIES_INPUTS)

    @property
    def candle_inputs(self) -> tuple[str, ...]:
        """The candle columns read directly."""
        return tuple(i for i in self.inputs if i in CANDLE_INPUTS)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults filled in and every value checked; ``ValueError``/``TypeError`` naming the bad one."""
        given = dict(given or {})
        known = {p.name for p in self.params}
        unknown = sorted(set(given) - known)
        if unknown:
            raise TypeError(f"{self.name}() has no parameter {unknown[0]!r}; parameters: "
                            f"{', '.join(sorted(known)) or 'none'}")
        return {p.name: p.check(given[p.name]) if p.name in given else p.default for p in self.params}

    def is_window_exact(self, params: Mapping[str, Any] | None = None) -> bool:
        """Whether values for these parameters equal the full-history values on any window >= lookback."""
        if callable(self.window_exact):
            return bool(self.window_exact(self.resolve(params)))
        return self.window_exact

    def lookback(self, params: Mapping[str, Any] | None = None) -> int:
        """Bars before t that the value at t may read, for these (resolved or partial) parameters."""
        return int(self.lookback_fn(self.resolve(params)))

    def compute(self, candles: HasColumns, *series: np.ndarray, **params: Any) -> np.ndarray:
        """Run on candles; ``series`` feeds ``x``/``y``/``cond`` inputs in order."""
        resolved = self.resolve(params)
        it: Iterator[np.ndarray] = iter(series)
        args = []
        for name in self.inputs:
            if name in SERIES_INPUTS:
                try:
                    args.append(next(it))
                except StopIteration:
                    raise TypeError(f"{self.name}() needs {len(self.series_inputs)} series argument(s)") from None
            else:
                args.append(candles.column(name))
        return self.func(*args, **resolved)

    def signature(self) -> str:
        """How the rule language writes a call, e.g. ``atr(period=14, method='sma') -> number``."""
        parts = list(self.series_inputs)
        parts += [f"{p.name}={p.default!r}" for p in self.params]
        return f"{self.name}({', '.join(parts)}) -> {self.output}"


_REGISTRY: dict[str, Indicator] = {}


def _param_from(p: inspect.Parameter, hint: Any, bounds: Mapping[str, tuple[float | None, float | None]]) -> Param:
    if p.default is inspect.Parameter.empty:
        raise TypeError(f"keyword-only parameter {p.name!r} needs a default")
    choices = None
    origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        ptype: type = type(choices[0])
    elif origin in (types.UnionType, typing.Union):
        raise TypeError(f"parameter {p.name!r}: optional parameters are not supported by the DSL")
    elif hint in (int, float, bool, str):
        ptype = hint
    else:
        raise TypeError(f"parameter {p.name!r}: unsupported annotation {hint!r} (use int, float, bool, str, Literal)")
    low, high = bounds.get(p.name, (None, None))
    param = Param(name=p.name, type=ptype, default=p.default, low=low, high=high, choices=choices)
    param.check(p.default)  # a default outside its own bounds is a bug in the library
    return param


def indicator(
    name: str | None = None,
    *,
    inputs: Sequence[str],
    output: Output,
    lookback: int | Callable[[Mapping[str, Any]], int],
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
    window_exact: bool | Callable[[Mapping[str, Any]], bool] = True,
    category: str = "",
    mirror: str | None = None,
    mirror_kind: MirrorKind = "same",
) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Register ``func`` under ``name`` (default: the function's name). Returns the function unchanged.

    ``lookback`` is an int or a function of the resolved parameters; ``bounds`` maps a parameter to its
    inclusive ``(low, high)`` range (``None`` for open). ``window_exact`` may depend on the parameters
    (``atr`` is exact with ``method="sma"``, not with ``"wilder"``). ``mirror`` names the indicator that, on
    price-reflected candles, gives this one's value transformed by ``mirror_kind`` (``bullish_engulfing``
    mirrors ``bearish_engulfing``; ``range`` mirrors itself); ``None`` when no such relation holds.
    """
    for i in inputs:
        if i not in CANDLE_INPUTS and i not in SERIES_INPUTS:
            raise ValueError(f"unknown input {i!r}; candle inputs: {CANDLE_INPUTS}, series: {SERIES_INPUTS}")

    def decorate(func: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        key = name or func.__name__
        if key in _REGISTRY:
            raise ValueError(f"indicator {key!r} registered twice")
        sig = inspect.signature(func)
        hints = typing.get_type_hints(func)
        positional = [p for p in sig.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) != len(inputs):
            raise TypeError(f"{key}: {len(positional)} positional parameters but inputs={tuple(inputs)}")
        params = tuple(_param_from(p, hints.get(p.name), bounds or {})
                       for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY)
        lb = lookback if callable(lookback) else (lambda _p, _n=int(lookback): _n)
        doc = inspect.getdoc(func) or ""
        if not doc:
            raise TypeError(f"{key}: an indicator needs a docstring with its formula")
        requires = tuple(i for i in inputs if i in ("taker_buy_volume", "real_volume"))
        _REGISTRY[key] = Indicator(
            name=key, func=func, inputs=tuple(inputs), params=params, output=output, lookback_fn=lb,
            window_exact=window_exact, category=category or func.__module__.rsplit(".", 1)[-1],
            summary=doc.splitlines()[0], requires=requires, mirror=mirror, mirror_kind=mirror_kind,
        )
        return func

    return decorate


def last_value(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``func`` as the newest-bar twin of the indicator ``name`` (see the module docstring).

    ``func`` takes the indicator's positional inputs and keyword-only parameters (same names and defaults)
    and returns ``func(*inputs)[-1]`` of the array function as a Python scalar, reading only the last
    ``lookback + 1`` bars. A twin serving a family of indicators with the same parameters may take
    ``**params`` instead of listing them; it is then always called with every parameter resolved (as the
    live evaluator does). Returns ``func`` unchanged.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        ind = get(name)
        if ind.last is not None:
            raise ValueError(f"indicator {name!r} has two newest-bar twins")
        ours = list(inspect.signature(ind.func).parameters.values())
        theirs = list(inspect.signature(func).parameters.values())
        if theirs and theirs[-1].kind is inspect.Parameter.VAR_KEYWORD:  # a twin shared by a family
            ours = [p for p in ours if p.kind is not p.KEYWORD_ONLY] + theirs[-1:]
        if [(p.name, p.kind, p.default) for p in ours] != [(p.name, p.kind, p.default) for p in theirs]:
            raise TypeError(f"{func.__name__}: the newest-bar twin of {name!r} must have its signature "
                            f"{inspect.signature(ind.func)} (or its inputs and **params)")
        _REGISTRY[name] = dataclasses.replace(ind, last=func)
        return func

    return decorate


def registry() -> Mapping[str, Indicator]:
    """All registered indicators by name (read-only view)."""
    return types.MappingProxyType(_REGISTRY)


def names() -> list[str]:
    """Sorted names of all registered indicators."""
    return sorted(_REGISTRY)


def get(name: str) -> Indicator:
    """The indicator called ``name``; ``KeyError`` with close matches otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise KeyError(f"unknown indicator {name!r}{hint}") from None
