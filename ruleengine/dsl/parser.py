"""Expression text -> AST, with errors that name the exact character and say what to do.

The grammar lives in ``grammar.lark`` (package data), loaded once with LALR and ``propagate_positions``.
The Transformer only builds AST nodes; units are checked here because a unit is part of how a literal is
written, while every question of meaning (names, types, arity) is the compiler's.

Syntax errors are labelled two ways: characters that are not part of the language at all (``&&``, ``!``,
a single ``=``) from a table of what the user probably meant, and parser errors from ``SYNTAX_EXAMPLES``
through lark's ``match_examples`` (each label is learnt from example mistakes; a test walks the table).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.tree import Meta

from ruleengine.dsl import ast
from ruleengine.dsl.source import Source
from ruleengine.errors import RuleSyntaxError

__all__ = ["SYNTAX_EXAMPLES", "UNITS", "parse", "parse_text"]

#: Units a number may carry, glued to it: kind and the factor to the base unit (seconds; a plain number).
UNITS: dict[str, tuple[str, float]] = {
    "s": ("duration", 1.0),
    "m": ("duration", 60.0),
    "h": ("duration", 3600.0),
    "ms": ("duration", 0.001),
    "%": ("number", 0.01),
    "bars": ("bars", 1.0),
}

#: Known mistakes -> the message shown, learnt by lark's ``match_examples`` from these examples.
SYNTAX_EXAMPLES: dict[str, list[str]] = {
    "the expression is empty": [""],
    "an operator needs a value on its right": ["a and", "x >", "1 +", "a or", "x * ", "not", "a <= b <", "- "],
    "two values follow each other without an operator between them": [
        "a b", "close open", "1 2", "f(x) g(y)", "x 1", "true false",
    ],
    "a unit must follow its number without a space (write 60s, 0.05%, 3bars)": ["10 bars", "1.5 h2"],
    "unclosed parenthesis: add ')'": ["mean(close, 20", "(a and b", "f(g(x)", "atr(period=14"],
    "unmatched ')'": ["a)", "f(x))", "(a))"],
    "unclosed '[': a lag is written close[1]": ["close[1", "x[2 > 1"],
    "an argument is missing: remove the extra ',' or add a value": ["f(,)", "f(x,,y)", "f(, x)"],
    "arguments are separated by ','": ["atr(period=14 method='sma')", "mean(close 20)"],
    "a keyword argument is written name=value": ["atr(14=period)", "f(1=2)"],
    "a conditional is written: value if condition else other": ["1 if a", "1 if a else", "a else b"],
    "a value is missing before the operator": ["* 2", "> 1", "== 2", "/ x"],
    "'=' is only for keyword arguments; compare with '=='": ["a = 1", "close = open"],
    "empty brackets: a lag needs a number of bars, as in close[1]": ["close[]"],
}

_CHARACTER_HINTS = {
    "&": "use 'and' instead of '&' / '&&'",
    "|": "use 'or' instead of '|' / '||'",
    "!": "use 'not' instead of '!' (and '!=' for 'not equal')",
    "=": "'=' is only for keyword arguments; compare with '=='",
    "^": "there is no power operator; multiply (x * x) instead",
    "%": "'%' is a unit and must follow a number without a space (0.05%)",
    ":": "':' is not part of an expression; in YAML, quote a value that contains ': '",
    "{": "'{' is not part of an expression",
    "}": "'}' is not part of an expression",
    "$": "'$' is not part of an expression; write numbers without currency signs",
    ";": "';' is not part of an expression; combine conditions with 'and' / 'or'",
}


@functools.cache
def _parser() -> Lark:
    return Lark.open_from_package(
        "ruleengine", "grammar.lark", parser="lalr", propagate_positions=True, maybe_placeholders=False,
        cache=True,  # lark stores the analysed LALR tables in the temp dir: the first compile stays fast
    )


def _span(meta: Meta | Token) -> ast.Span | None:
    line = getattr(meta, "line", None)
    if line is None:
        return None
    return ast.Span(line=line, column=meta.column, end_line=meta.end_line, end_column=meta.end_column)


def _number_text(text: str) -> float:
    return float(text)


class _ToAst(Transformer):
    """lark tree -> AST. Positions come from ``meta`` (``v_args(meta=True)`` via ``__default__``)."""

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source

    def __default__(self, data: Any, children: list[Any], meta: Meta) -> Any:
        handler = getattr(self, f"_{data}", None)
        if handler is None:  # pragma: no cover - every grammar rule has a handler
            raise AssertionError(f"no AST builder for grammar rule {data!r}")
        return handler(children, _span(meta))

    def _number(self, c: list[Token], span: ast.Span | None) -> ast.Expr:
        return ast.Number(value=self._finite(str(c[0]), c[0]), span=span)

    def _finite(self, text: str, token: Token) -> float:
        value = _number_text(text)
        if not math.isfinite(value):
            raise RuleSyntaxError(f"number {text!r} is too large", self.source.position(token.line, token.column))
        return value

    def _quantity(self, c: list[Token], span: ast.Span | None) -> ast.Expr:
        text = str(c[0])
        i = len(text)
        while i > 0 and not (text[i - 1].isdigit() or text[i - 1] == "."):
            i -= 1
        digits, unit = text[:i], text[i:]
        if unit not in UNITS:
            known = ", ".join(UNITS)
            pos = self.source.position(c[0].line, c[0].column + i)
            raise RuleSyntaxError(f"unknown unit {unit!r} in {text!r} (known units: {known})", pos)
        return ast.Number(value=self._finite(digits, c[0]), unit=unit, span=span)

    def _string(self, c: list[Token], span: ast.Span | None) -> ast.Expr:
        return ast.String(value=str(c[0])[1:-1], span=span)

    def _true(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        return ast.Bool(value=True, span=span)

    def _false(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        return ast.Bool(value=False, span=span)

    def _name(self, c: list[Token], span: ast.Span | None) -> ast.Expr:
        return ast.Name(id=str(c[0]), span=span)

    def _call(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        func = str(c[0])
        args: list[ast.Expr] = []
        kwargs: list[ast.Keyword] = []
        for item in c[1] if len(c) > 1 else []:
            if isinstance(item, ast.Keyword):
                if any(k.name == item.name for k in kwargs):
                    raise RuleSyntaxError(f"{func}(): argument {item.name!r} given twice",
                                          self._pos(item.span))
                kwargs.append(item)
            else:
                if kwargs:
                    raise RuleSyntaxError(f"{func}(): a positional argument cannot follow a keyword argument",
                                          self._pos(item.span))
                args.append(item)
        return ast.Call(func=func, args=tuple(args), kwargs=tuple(kwargs), span=span)

    def _arguments(self, c: list[Any], span: ast.Span | None) -> list[Any]:
        return c

    def _keyword(self, c: list[Any], span: ast.Span | None) -> ast.Keyword:
        return ast.Keyword(name=str(c[0]), value=c[1], span=span)

    def _neg(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        return ast.Unary(operand=c[0], span=span)

    def _binary(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        return ast.Arith(op=str(c[1]), left=c[0], right=c[2], span=span)

    def _compare(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        return ast.Compare(operands=tuple(c[0::2]), ops=tuple(str(t) for t in c[1::2]), span=span)

    def _and_(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        return ast.Logic(op="and", left=c[0], right=c[1], span=span)

    def _or_(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        return ast.Logic(op="or", left=c[0], right=c[1], span=span)

    def _not_(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        return ast.Not(operand=c[0], span=span)

    def _if_else(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        return ast.IfElse(then=c[0], cond=c[1], other=c[2], span=span)

    def _lag(self, c: list[Any], span: ast.Span | None) -> ast.Expr:
        return ast.Lag(target=c[0], bars=c[1], span=span)

    def _pos(self, span: ast.Span | None) -> Any:
        return self.source.position(span.line, span.column) if span else self.source.start()


def _signature(error: UnexpectedInput) -> tuple[Any, str, str] | None:
    """What identifies a parse error: the LALR state on top of the stack, the offending token's type and text."""
    state = getattr(error, "state", None)
    position = getattr(state, "position", None)
    if position is None:
        return None
    token = getattr(error, "token", None)
    return position, getattr(token, "type", "$END"), str(token) if token is not None else ""


@functools.cache
def _learnt_examples() -> tuple[tuple[tuple[Any, str, str], str], ...]:
    """Signatures of the mistakes in SYNTAX_EXAMPLES, learnt once by parsing each example.

    This replaces lark's ``match_examples``, which (lark 1.3.1) also compares the depth of the parser stack,
    so a mistake nested in parentheses did not match its example, and which crashes formatting a debug
    message for some inputs. The empty example is answered before parsing and is not learnt.
    """
    learnt = []
    for label, examples in SYNTAX_EXAMPLES.items():
        for example in examples:
            if not example.strip():
                continue
            try:
                _parser().parse(example)
            except UnexpectedCharacters:
                continue
            except UnexpectedInput as error:
                sig = _signature(error)
                if sig is not None:
                    learnt.append((sig, label))
    return tuple(learnt)


def _label(error: UnexpectedInput, text: str) -> str:
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
        if char in _CHARACTER_HINTS:
            return _CHARACTER_HINTS[char]
        return f"unexpected character {char!r}"
    sig = _signature(error)
    if sig is not None:
        if sig[1] == "EQUAL" and text[error.token.end_pos:error.token.end_pos + 1] == ">":  # type: ignore[attr-defined]
            return "'=>' is not an operator; did you mean '>='?"
        learnt = _learnt_examples()
        for match in (lambda s: s == sig, lambda s: s[:2] == sig[:2], lambda s: s[0] == sig[0]):
            for example_sig, label in learnt:
                if match(example_sig):
                    return label
    if isinstance(error, UnexpectedEOF):
        return "the expression ends too early"
    if isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            return "the expression ends too early"
        return f"unexpected {str(error.token)!r}"
    return "syntax error"  # pragma: no cover


def parse(source: Source) -> ast.Expr:
    """Parse ``source.text`` into an AST; :class:`RuleSyntaxError` at the offending character otherwise."""
    text = source.text
    if not text.strip():
        raise RuleSyntaxError("the expression is empty", source.start())
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        line = getattr(error, "line", None)
        column = getattr(error, "column", None)
        if (isinstance(error, UnexpectedToken) and error.token.type == "$END") or line in (None, -1):
            lines = text.rstrip().splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
        raise RuleSyntaxError(_label(error, text), source.position(line, column)) from None
    return _ToAst(source).transform(tree)


def parse_text(text: str) -> ast.Expr:
    """Parse a standalone expression (positions relative to the text itself)."""
    return parse(Source(text=text))
