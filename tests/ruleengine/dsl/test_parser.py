"""Parser: the syntax-error label table, units, positions, and print -> parse round trips."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from ruleengine.dsl import ast
from lark import Lark

from ruleengine.dsl.parser import SYNTAX_EXAMPLES, parse, parse_text
from ruleengine.dsl.printer import to_text
from ruleengine.dsl.source import Source
from ruleengine.errors import RuleError, RuleSyntaxError

# hypothesis needs the grammar object itself (the engine's parser is loaded from lark's cache)
GRAMMAR = Lark.open_from_package("ruleengine", "grammar.lark", parser="lalr")
EXAMPLES = [(label, example) for label, examples in SYNTAX_EXAMPLES.items() for example in examples]


@pytest.mark.parametrize(("label", "example"), EXAMPLES)
def test_every_known_mistake_gets_its_label(label: str, example: str) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_text(example)
    assert info.value.message == label


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("a && b", "use 'and' instead of '&' / '&&'", 3),
        ("a || b", "use 'or' instead of '|' / '||'", 3),
        ("!a", "use 'not' instead of '!' (and '!=' for 'not equal')", 1),
        ("x ^ 2", "there is no power operator; multiply (x * x) instead", 3),
        ("5kg > 1", "unknown unit 'kg' in '5kg' (known units: s, m, h, ms, %, bars)", 2),
        ("spread <= $0.25", "'$' is not part of an expression; write numbers without currency signs", 11),
        ("f(a=1, a=2)", "f(): argument 'a' given twice", 8),
        ("f(a=1, 2)", "f(): a positional argument cannot follow a keyword argument", 8),
    ],
)
def test_error_message_and_column(text: str, message: str, column: int) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_text(text)
    assert info.value.message == message
    assert info.value.position is not None and info.value.position.column == column


def test_error_points_into_the_file() -> None:
    lines = ("filters:", "  spread: spread <=", "")
    source = Source(text="spread <=", path="rules/x.yaml", line=2, column=11, file_lines=lines)
    with pytest.raises(RuleSyntaxError) as info:
        parse(source)
    assert str(info.value).splitlines() == [
        "rules/x.yaml:2:20: an operator needs a value on its right",
        "      spread: spread <=",
        "                       ^",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60s", ast.Number(value=60, unit="s")),
        ("0.05%", ast.Number(value=0.05, unit="%")),
        ("200ms", ast.Number(value=200, unit="ms")),
        ("1e3", ast.Number(value=1000)),
        ("close[1]", ast.Lag(target=ast.Name(id="close"), bars=ast.Number(value=1))),
        ("0.5 <= x < 1", ast.Compare(operands=(ast.Number(value=0.5), ast.Name(id="x"), ast.Number(value=1)),
                                     ops=("<=", "<"))),
        ('in_session("london")', ast.Call(func="in_session", args=(ast.String(value="london"),))),
        ("atr(period=14)", ast.Call(func="atr", kwargs=(ast.Keyword(name="period", value=ast.Number(value=14)),))),
        ("a if c else b", ast.IfElse(then=ast.Name(id="a"), cond=ast.Name(id="c"), other=ast.Name(id="b"))),
        ("not a and b", ast.Logic(op="and", left=ast.Not(operand=ast.Name(id="a")), right=ast.Name(id="b"))),
        ("a - b - c", ast.Arith(op="-", left=ast.Arith(op="-", left=ast.Name(id="a"), right=ast.Name(id="b")),
                                right=ast.Name(id="c"))),
    ],
)
def test_parses_to(text: str, expected: ast.Expr) -> None:
    assert parse_text(text) == expected


@pytest.mark.parametrize("text", [
    "lower_wick >= 2 * body and in_vwap_band(pct=0.1) and not in_session(\"post_ny\")",
    "a - (b - c)", "a / (b * c)", "-(x + 1)", "not (a and b)", "(1 if a else 2) if b else 3",
    "1 if a else 2 if b else 3", "x[1][2]", "-x[1]", "(a or b) and c", "a or b and c", "--x",
])
def test_print_then_parse_is_identity(text: str) -> None:
    tree = parse_text(text)
    assert parse_text(to_text(tree)) == tree


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_grammar_strings_parse_and_round_trip(data: st.DataObject) -> None:
    """Strings drawn from the grammar parse (or raise only our own error: units), and print-parse is stable."""
    text = data.draw(from_lark(GRAMMAR, start="start"))
    try:
        tree = parse_text(text)
    except RuleError:
        return  # e.g. an unknown unit: our error, with a position
    assert parse_text(to_text(tree)) == tree
