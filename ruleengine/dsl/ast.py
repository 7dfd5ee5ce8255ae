"""Typed-language AST: what the parser builds and the compiler reads.

Nodes are frozen keyword-only dataclasses, so two parses of the same text compare equal (``span`` is left
out of equality: it records where the node came from, for error messages, not what it means).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Arith",
    "Bool",
    "Call",
    "Compare",
    "Expr",
    "IfElse",
    "Keyword",
    "Lag",
    "Logic",
    "Name",
    "Not",
    "Number",
    "Span",
    "String",
    "Unary",
]


@dataclass(frozen=True, kw_only=True)
class Span:
    """1-based start line/column and end line/column (exclusive) inside the expression text."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True, kw_only=True)
class Expr:
    """Base of all expression nodes."""

    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class Number(Expr):
    """A numeric literal, optionally with a unit as written (``60s``, ``0.05%``, ``3bars``)."""

    value: float
    unit: str | None = None


@dataclass(frozen=True, kw_only=True)
class String(Expr):
    """A string literal; only indicator parameters take strings (``in_session("london")``)."""

    value: str


@dataclass(frozen=True, kw_only=True)
class Bool(Expr):
    value: bool


@dataclass(frozen=True, kw_only=True)
class Name(Expr):
    """A name: a candle column, a param, a define, an indicator without arguments, a position name."""

    id: str


@dataclass(frozen=True, kw_only=True)
class Keyword:
    name: str
    value: Expr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[Keyword, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Unary(Expr):
    """Arithmetic negation ``-x``."""

    operand: Expr


@dataclass(frozen=True, kw_only=True)
class Arith(Expr):
    """``left op right`` with op one of ``+ - * /``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True)
class Compare(Expr):
    """A comparison chain ``a < b <= c`` meaning ``a < b and b <= c`` (each operand evaluated once)."""

    operands: tuple[Expr, ...]
    ops: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Logic(Expr):
    """``left and right`` / ``left or right``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True, kw_only=True)
class IfElse(Expr):
    """``then if cond else other``."""

    then: Expr
    cond: Expr
    other: Expr


@dataclass(frozen=True, kw_only=True)
class Lag(Expr):
    """``target[bars]``: the value ``bars`` bars ago (``bars`` must fold to a whole number >= 0)."""

    target: Expr
    bars: Expr
