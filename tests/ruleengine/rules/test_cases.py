"""Rule files on disk: every invalid case gives its exact error, every valid case and shipped file loads.

Each file of ``tests/cases/invalid/`` is one small rule file with one mistake. Its first lines are comments:

    # error: tests/cases/invalid/<name>.yaml:<line>:<col>: <message>   (required: the exact headline)
    # xfail: <reason>                                                 (optional: a known engine bug)

A case is loaded by its path relative to the repository root, so the headline names it as a user would see
it; the test also checks the rendering (the file's source line, then a caret under the column) and that
nothing but a :class:`RuleError` escapes. ``xfail`` cases state the message the engine *should* give; they
are strict, so fixing the engine turns them into failures until the ``# xfail:`` line is removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ruleengine.dsl.compiler import BUILTINS
from ruleengine.dsl.graph import Type
from ruleengine.errors import RuleError
from ruleengine.rules.model import SIDES, CompiledRules, load_rules
from tests.conftest import REPO

CASES = REPO / "tests" / "cases"
INVALID = sorted((CASES / "invalid").glob("*.yaml"))
VALID = sorted((CASES / "valid").glob("*.yaml"))
SHIPPED = sorted({p.name for p in (REPO / "rules").glob("*.yaml")} | {"xauusd.yaml"})

_HEADLINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")


@dataclass(frozen=True, kw_only=True)
class Case:
    """An invalid rule file and what its header comments expect."""

    path: Path
    error: str
    xfail: str | None = None

    @property
    def relative(self) -> str:
        return self.path.relative_to(REPO).as_posix()


def read_case(path: Path) -> Case:
    """The ``# error:`` and ``# xfail:`` lines of the comment block that opens ``path``."""
    header: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line.removeprefix("#").strip().partition(": ")
        if key in ("error", "xfail") and value:
            header.setdefault(key, []).append(value)
    errors = header.get("error", [])
    assert len(errors) == 1, f"{path.name}: the opening comments need exactly one '# error: ...' line"
    return Case(path=path, error=errors[0], xfail=(header.get("xfail") or [None])[0])


def _invalid_params() -> list[Any]:
    params = []
    for path in INVALID:
        case = read_case(path)
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        params.append(pytest.param(case, id=path.stem, marks=marks))
    return params


def load(relative: str, monkeypatch: pytest.MonkeyPatch) -> CompiledRules:
    """Load a rule file by its repository-relative path, whatever directory pytest was started from."""
    monkeypatch.chdir(REPO)
    return load_rules(relative)


# -- invalid cases ------------------------------------------------------------------------------------------
def test_the_suite_has_enough_invalid_cases() -> None:
    assert len(INVALID) >= 30


@pytest.mark.parametrize("case", _invalid_params())
def test_invalid_case_gives_its_error(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _HEADLINE.match(case.error)
    assert expected is not None, f"'# error:' must read path:line:col: message, got {case.error!r}"
    assert expected["path"] == case.relative, "the expected error must name the case's own file"
    try:
        load(case.relative, monkeypatch)
    except RuleError as err:
        error = err
    except Exception as exc:  # the point of the test: nothing but a RuleError may reach the user
        pytest.fail(f"{type(exc).__name__} escaped instead of a RuleError: {exc}")
    else:
        pytest.fail(f"{case.relative} loaded without error; expected {case.error}")

    assert error.headline() == case.error
    rendered = str(error).splitlines()
    assert rendered[0] == case.error
    if error.position is None or error.position.source_line is None:
        # a whole-file problem (an empty document): the headline alone
        assert len(rendered) == 1
        return
    line, column = int(expected["line"]), int(expected["column"])
    source_line = case.path.read_text(encoding="utf-8").splitlines()[line - 1]
    assert rendered[1:] == [f"    {source_line}", "    " + " " * (column - 1) + "^"]


# -- valid cases ----------------------------------------------------------------------------------------------
def test_the_suite_has_enough_valid_cases() -> None:
    assert len(VALID) >= 6


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_case_loads(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    relative = path.relative_to(REPO).as_posix()
    assert "# error:" not in path.read_text(encoding="utf-8"), "a valid case states no expected error"
    rules = load(relative, monkeypatch)
    assert rules.path == relative
    assert set(rules.sides) == set(SIDES)
    for side in SIDES:
        s = rules.sides[side]
        assert s.filters and s.location and s.primary and s.secondary and s.score


LoadValid = Callable[[str], CompiledRules]


@pytest.fixture
def valid(monkeypatch: pytest.MonkeyPatch) -> LoadValid:
    """Load ``tests/cases/valid/<name>.yaml`` by its stem."""

    def load_valid(name: str) -> CompiledRules:
        return load(f"tests/cases/valid/{name}.yaml", monkeypatch)

    return load_valid


def test_neutral_conditions_compile_to_one_node_for_both_sides(valid: LoadValid) -> None:
    rules = valid("minimal")
    long, short = rules.sides["long"], rules.sides["short"]
    assert rules.sides["long"].filters[0].node == rules.sides["short"].filters[0].node
    for a, b in zip(long.conditions(), short.conditions(), strict=True):
        assert (a.name, a.node, a.text) == (b.name, b.node, b.text)
    assert [c.node for c in long.score] == [c.node for c in short.score]
    assert (long.stop_loss, long.take_profit) == (short.stop_loss, short.take_profit)


def test_sided_conditions_and_defines_compile_per_side(valid: LoadValid) -> None:
    rules = valid("sided")
    long, short = rules.sides["long"], rules.sides["short"]
    by_name = {side: {c.name: c for c in rules.sides[side].conditions()} for side in SIDES}
    # a neutral condition over a sided define: one text, two nodes
    assert by_name["long"]["wick_trap"].text == by_name["short"]["wick_trap"].text == "trap_wick >= 1.5"
    assert by_name["long"]["wick_trap"].node != by_name["short"]["wick_trap"].node
    # neutral conditions without sided names stay shared
    assert by_name["long"]["spread"].node == by_name["short"]["spread"].node
    # a long-only condition is simply absent on the short side
    assert "order_block" in by_name["long"] and "order_block" not in by_name["short"]
    assert [c.name for c in long.location] == ["extreme", "order_block"]
    assert [c.name for c in short.location] == ["extreme"]
    assert long.stop_loss != short.stop_loss
    assert long.take_profit == short.take_profit
    assert (rules.trade_at, rules.a_plus_at) == (2, 3)


def test_a_neutral_define_over_a_sided_define_follows_the_side(valid: LoadValid) -> None:
    rules = valid("neutral_define_over_sided_define")
    long, short = rules.sides["long"].location[0], rules.sides["short"].location[0]
    assert long.node != short.node

    def indicator_names(node: int) -> set[str]:
        return {rules.graph[n].attrs[0] for n in rules.graph.reachable([node]) if rules.graph[n].op == "ind"}

    assert indicator_names(long.node) == {"lower_wick_ratio"}
    assert indicator_names(short.node) == {"upper_wick_ratio"}


def test_units_and_params(valid: LoadValid) -> None:
    rules = valid("units_and_params")
    params = {name: (p.value, p.type) for name, p in rules.params.items()}
    assert params["persistence"] == (30.0, Type.DURATION)
    assert params["band"][1] is Type.NUMBER and params["band"][0] == pytest.approx(0.0005)
    assert params["wide_band"][0] == pytest.approx(0.001)
    assert params["recent"] == (3.0, Type.NUMBER)
    assert params["strict"] == (True, Type.BOOL)
    assert rules.checks.max_slippage == pytest.approx(0.001)
    assert rules.checks.max_latency == pytest.approx(0.2)
    assert rules.exits.max_hold == 600.0
    assert (rules.discipline.cooldown, rules.discipline.cool_off) == (30.0, 60.0)
    assert all(rules.sides[side].exit_when is not None for side in SIDES)


def test_warm_up_is_the_longest_chain_of_lags(valid: LoadValid) -> None:
    rules = valid("lags_and_warmup")
    assert rules.warmup == 6  # (close - close[2])[4]
    assert rules.window_exact
    same_bar = next(c for c in rules.sides["long"].secondary if c.name == "same_bar")
    assert same_bar.text == "close[0] > open"


def test_if_else_scores_compile_per_side(valid: LoadValid) -> None:
    rules = valid("if_else_score")
    long, short = rules.sides["long"].score, rules.sides["short"].score
    assert [c.name for c in long] == [c.name for c in short] == ["wick", "grouped", "sided", "held"]
    assert [c.max for c in long] == [2, 2, 1, 1]
    assert long[0].node == short[0].node and long[2].node != short[2].node
    assert all(rules.graph[c.node].type is Type.NUMBER for c in (*long, *short))


def test_exit_expressions_read_the_position(valid: LoadValid) -> None:
    rules = valid("exits")
    for side in SIDES:
        s = rules.sides[side]
        assert s.exit_when is not None and s.adverse_candle is not None and s.trailing_distance is not None
        ops = {rules.graph[n].op for n in rules.graph.reachable([s.exit_when])}
        assert "pos" in ops
    assert rules.sides["long"].adverse_candle != rules.sides["short"].adverse_candle
    assert rules.exits.intrabar == "open_proximity"
    assert rules.exits.trailing_activate_r == 0.5
    assert rules.exits.max_hold == 600.0


def test_every_builtin_is_exercised(valid: LoadValid) -> None:
    text = (CASES / "valid" / "every_builtin.yaml").read_text(encoding="utf-8")
    used = {name for name in BUILTINS if re.search(rf"\b{name}\(", text)}
    assert used == set(BUILTINS)
    valid("every_builtin")


def test_quoting_styles_map_to_the_same_expressions(valid: LoadValid) -> None:
    rules = valid("quoting_styles")
    texts = {c.name: c.text for c in rules.sides["long"].conditions()}
    assert texts["plain_multiline"] == 'spread <= 0.3 and not in_session("post_ny")'
    assert texts["single_quoted"] == 'not in_session("post_ny")'
    assert texts["double_quoted"] == 'in_session("london") or in_session("new_york")'
    assert texts["folded"] == "in_vwap_band(pct=0.1) or low <= intraday_low"
    assert texts["literal"] == "high >= intraday_high and bearish"


# -- shipped rule files --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_rule_file_loads(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (REPO / "rules" / name).is_file():
        pytest.skip(f"rules/{name} does not exist in this checkout")
    rules = load(f"rules/{name}", monkeypatch)
    assert set(rules.sides) == set(SIDES)
    assert rules.warmup > 0
