"""Parser: the syntax-error label table, units, positions, and print -> parse round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruleengine.dsl import ast
from ruleengine.dsl.parser import SYNTAX_EXAMPLES, parse, parse_text
from ruleengine.dsl.printer import to_text
from ruleengine.dsl.source import Source
from ruleengine.errors import RuleError, RuleSyntaxError

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


def _grammar_strings() -> st.SearchStrategy[str]:
    """Strings following ``grammar.lark``'s productions, token by token, with random spacing.

    ``hypothesis.extra.lark.from_lark`` draws from the same grammar but filters most of its draws here
    (minutes for 60 examples), so the productions are mirrored directly: atoms (numbers, quantities with
    known and unknown units, strings, booleans, names, calls with positional and keyword arguments) and
    every operator at every precedence level.
    """
    names = st.sampled_from(["close", "open", "x", "atr", "in_session", "mean", "body", "a_1", "iffy", "nota"])
    number = st.sampled_from(["0", "1", "2.5", ".5", "1e3", "14", "007", "1.", "3E-2"])
    quantity = st.sampled_from(["60s", "5m", "0.05%", "200ms", "3bars", "2kg", "1.5h", "1e3s"])
    string = st.sampled_from(['"london"', "'post_ny'", '""'])
    atom = st.one_of(number, quantity, string, st.sampled_from(["true", "false"]), names)
    ws = st.sampled_from([" ", "  ", "\n  "])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!=", "and", "or"]),
                           inner, ws).map(lambda t: f"{t[0]}{t[3]}{t[1]}{t[3]}{t[2]}")
        unary = st.tuples(st.sampled_from(["-", "+", "not "]), inner).map("".join)
        paren = inner.map(lambda e: f"({e})")
        lag = st.tuples(inner, number).map(lambda t: f"({t[0]})[{t[1]}]")
        cond = st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}")
        argument = st.one_of(inner, st.tuples(names, inner).map(lambda t: f"{t[0]}={t[1]}"))
        call = st.tuples(names, st.lists(argument, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})")
        return st.one_of(binary, unary, paren, lag, cond, call)

    return st.recursive(atom, extend, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_grammar_strings())
def test_grammar_strings_parse_and_round_trip(text: str) -> None:
    """Strings drawn from the grammar parse (or raise only our own error, with a position), and printing
    the AST then parsing the text gives the same AST."""
    try:
        tree = parse_text(text)
    except RuleError as error:
        assert error.position is not None
        return
    assert parse_text(to_text(tree)) == tree
