"""The rule's exit expressions (``ExitEvaluator``) against hand computation, then inside a backtest.

Rule files are written to ``tmp_path``: the minimal valid skeleton (``tests/cases/valid/minimal.yaml``) with
an ``actions.exits`` section whose adverse candle is one direction-neutral expression telling the sides apart
with ``side == long``, whose trailing distance reads position names, and whose ``exit_when`` is
``bars_held >= 2 and r_multiple < 0``. Bars open at ``T0 + 60 i``; prices are bids, the ask is bid + spread.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ruleengine.backtest.driver import run_backtest
from ruleengine.data import Candles
from ruleengine.execution import ExitContext, Position, Trade
from ruleengine.execution.exits import ExitEvaluator
from ruleengine.rules.decision import evaluate_signals
from ruleengine.rules.model import CompiledRules, load_rules

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z

#: The skeleton of tests/cases/valid/minimal.yaml up to ``actions.entry``.
MINIMAL = """\
symbol: XAUUSD
timeframe: M1
filters:
  spread: spread <= 0.3
location:
  vwap: in_vwap_band(pct=0.1)
triggers:
  primary:
    wick: lower_wick >= 2 * body
  secondary:
    volume: volume_spike(ratio=1.2)
score:
  components:
    wick:
      max: 2
      value: 2 if lower_wick_ratio >= 2 else 0
  trade_at: 1
actions:
  entry:
    stop_loss: clamp(atr(period=14), 0.5, 1.2)
    take_profit: 1.5 * atr(period=14)
    sl_range: [0.5, 1.2]
    tp_range: [1.0, 2.5]
"""

#: A rule that signals long on a bar of volume >= 500 closing up (short: closing down), with a fixed order:
#: stop 1.0, target 2.0 (numbers quoted: the schema takes expressions as strings).
VOLUME_BURST = """\
symbol: XAUUSD
timeframe: M1
filters:
  spread: spread <= 0.3
location:
  anywhere: volume > 0
triggers:
  primary:
    burst:
      long: volume >= 500 and close > open
      short: volume >= 500 and close < open
  secondary:
    volume: volume >= 500
score:
  components:
    burst:
      max: 1
      value: "1"
  trade_at: 1
actions:
  entry:
    stop_loss: "1.0"
    take_profit: "2.0"
    sl_range: [0.5, 1.2]
    tp_range: [1.0, 2.5]
"""

EXITS = """\
  exits:
    adverse_candle: >-
      (side == long and close < entry_price - 0.5 * (entry_price - sl))
      or (side == short and close + spread > entry_price + 0.5 * (sl - entry_price))
    trailing:
      activate_r: 0.5
      distance: {distance}
    exit_when: bars_held >= 2 and r_multiple < 0
"""


def compile_text(tmp_path: Path, text: str) -> CompiledRules:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rules(path)


def exit_rules(tmp_path: Path, *, head: str = MINIMAL, distance: str = "0.25 * abs(tp - entry_price)") -> CompiledRules:
    return compile_text(tmp_path, head + EXITS.format(distance=distance))


def candles(rows: list[tuple[float, float, float, float]], *, volume: list[float] | None = None,
            spread: float = 0.5) -> Candles:
    """(open, high, low, close) rows, one minute apart from T0."""
    o, h, lo, c = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    n = len(rows)
    return Candles(time=T0 + 60 * np.arange(n), open=o, high=h, low=lo, close=c,
                   volume=np.array(volume if volume is not None else [100.0] * n), spread=np.full(n, spread),
                   symbol="XAUUSD")


#: Closes 100.0, 100.25, 100.75, 100.0, 99.0 (bids; asks 0.5 higher).
FIVE_BARS = candles([(100.0, 100.25, 99.75, 100.0), (100.0, 100.5, 100.0, 100.25), (100.25, 101.0, 100.25, 100.75),
                     (100.75, 100.75, 100.0, 100.0), (100.0, 100.0, 99.0, 99.0)])


def long_at_bar_1(*, sl: float = 99.5, best: float = 100.5) -> Position:
    """A long filled at the ask 100.5 at the open of bar 1: stop 99.5 (1R = 1.0), target 102.5."""
    return Position(id=1, side="long", entry_index=1, entry_time=T0 + 60, entry_price=100.5, initial_sl=99.5, sl=sl,
                    tp=102.5, score=1.0, grade=1, signal_hash="h", best_price=best, worst_price=100.5)


def short_at_bar_1() -> Position:
    """A short filled at the bid 100.0 at the open of bar 1: stop 101.0, target 98.0 (ask levels)."""
    return Position(id=2, side="short", entry_index=1, entry_time=T0 + 60, entry_price=100.0, initial_sl=101.0,
                    sl=101.0, tp=98.0, score=1.0, grade=1, signal_hash="h", best_price=100.0, worst_price=100.0)


# -- the evaluator alone ---------------------------------------------------------------------------------------
def test_exit_expressions_for_a_long(tmp_path: Path) -> None:
    evaluator = ExitEvaluator(exit_rules(tmp_path), FIVE_BARS)
    p = long_at_bar_1()
    # adverse: close < 100.5 - 0.5 x 1.0 = 100.0; exit_when: bars_held >= 2 and (close - 100.5) / 1.0 < 0;
    # trailing distance: 0.25 x |102.5 - 100.5| = 0.5
    assert [evaluator("long", i, p) for i in range(1, 5)] == [
        ExitContext(adverse=False, trailing_distance=0.5, exit_when=False),  # close 100.25, held 0
        ExitContext(adverse=False, trailing_distance=0.5, exit_when=False),  # close 100.75, held 1
        ExitContext(adverse=False, trailing_distance=0.5, exit_when=True),  # close 100.0: -0.5R, held 2
        ExitContext(adverse=True, trailing_distance=0.5, exit_when=True),  # close 99.0 < 100.0
    ]


def test_exit_expressions_for_a_short_read_the_ask(tmp_path: Path) -> None:
    evaluator = ExitEvaluator(exit_rules(tmp_path), FIVE_BARS)
    p = short_at_bar_1()
    # adverse: ask close > 100.0 + 0.5 x 1.0 = 100.5; r_multiple = (100.0 - ask close) / 1.0
    assert [evaluator("short", i, p) for i in range(1, 5)] == [
        ExitContext(adverse=True, trailing_distance=0.5, exit_when=False),  # ask 100.75
        ExitContext(adverse=True, trailing_distance=0.5, exit_when=False),  # ask 101.25
        ExitContext(adverse=False, trailing_distance=0.5, exit_when=True),  # ask 100.5: -0.5R, held 2
        ExitContext(adverse=False, trailing_distance=0.5, exit_when=False),  # ask 99.5: +0.5R
    ]


@pytest.mark.parametrize(("expression", "side", "index", "value"), [
    ("entry_price", "long", 2, 100.5),
    ("sl", "long", 2, 100.0),  # the current (moved) stop, not the initial one
    ("tp", "long", 2, 102.5),
    ("bars_held", "long", 1, 0.0),
    ("bars_held", "long", 4, 3.0),
    ("time_held / 1s", "long", 1, 60.0),  # from the fill at bar 1's open to bar 1's close
    ("time_held / 1s", "long", 3, 180.0),
    ("r_multiple", "long", 2, 0.25),  # (100.75 - 100.5) / 1.0: R is the initial risk, whatever the stop now
    ("r_multiple", "long", 4, -1.5),
    ("max_r", "long", 2, 0.75),  # best bid 101.25 (set on the position)
    ("r_multiple", "short", 2, -1.25),  # (100.0 - 101.25) / 1.0 at the ask
    ("r_multiple", "short", 4, 0.5),
    ("1 if side == long else 2", "long", 1, 1.0),
    ("1 if side == long else 2", "short", 1, 2.0),
])
def test_position_names(tmp_path: Path, expression: str, side: str, index: int, value: float) -> None:
    """Each position name read through the trailing distance, which is a plain number."""
    evaluator = ExitEvaluator(exit_rules(tmp_path, distance=expression), FIVE_BARS)
    p = long_at_bar_1(sl=100.0, best=101.25) if side == "long" else short_at_bar_1()
    assert evaluator(side, index, p).trailing_distance == value


def test_position_free_parts_are_read_at_the_bar(tmp_path: Path) -> None:
    """A distance from an indicator alone is the indicator's value at that bar (NaN during its warm-up)."""
    evaluator = ExitEvaluator(exit_rules(tmp_path, distance="close - open"), FIVE_BARS)
    assert [evaluator("long", i, long_at_bar_1()).trailing_distance for i in range(5)] == [0.0, 0.25, 0.5, -0.75,
                                                                                           -1.0]
    warming = ExitEvaluator(exit_rules(tmp_path, distance="atr(period=14)"), FIVE_BARS)
    assert math.isnan(warming("long", 4, long_at_bar_1()).trailing_distance)


@pytest.mark.parametrize("distance", ["atr(period=3)", "0.25 * abs(tp - entry_price)", "0.75"])
def test_values_handed_in_equal_values_computed_here(tmp_path: Path, distance: str) -> None:
    """The backtest evaluates the position-free exit nodes with its signal chunks and hands them in
    (``arrays``): the same contexts as an evaluator computing them itself; a missing node is refused."""
    from ruleengine.execution.exits import exit_frontier
    from ruleengine.rules.decision import signal_chunks

    rules = exit_rules(tmp_path, distance=distance)
    frontier = exit_frontier(rules)
    assert frontier
    arrays = {n: np.concatenate([np.broadcast_to(part.extra[n], len(part.time)) for _, part in
                                 signal_chunks(rules, FIVE_BARS, chunk=2, extra=frontier)]) for n in frontier}
    handed, computed = ExitEvaluator(rules, FIVE_BARS, arrays=arrays), ExitEvaluator(rules, FIVE_BARS)
    for side, p in (("long", long_at_bar_1()), ("short", short_at_bar_1())):
        for i in range(5):
            got, want = handed(side, i, p), computed(side, i, p)
            assert got._replace(trailing_distance=0.0) == want._replace(trailing_distance=0.0)
            assert got.trailing_distance == want.trailing_distance or (
                math.isnan(got.trailing_distance) and math.isnan(want.trailing_distance))
    with pytest.raises(ValueError, match="lack the exit nodes"):
        ExitEvaluator(rules, FIVE_BARS, arrays={})


# -- in a backtest ---------------------------------------------------------------------------------------------
def test_exit_when_closes_a_trade_in_a_backtest(tmp_path: Path) -> None:
    """100 quiet bars (the spread check needs a 100-bar normal), a volume burst closing up at bar 100, then a
    long filled at bar 101's open at the ask 100.0 + 0.25: stop 99.25, target 102.25. Closes 100.5, 100.5
    (+0.25R: below the trailing activation, above the adverse line 99.75); bar 103 closes at 100.0, -0.25R
    with two bars held: ``exit_when`` takes it out at that close."""
    rules = exit_rules(tmp_path, head=VOLUME_BURST)
    quiet = (100.0, 100.25, 99.75, 100.0)
    rows = [quiet] * 100 + [
        (100.0, 100.5, 99.75, 100.25),  # 100: the signal
        (100.0, 100.5, 99.75, 100.5),  # 101: the fill
        (100.5, 100.75, 100.25, 100.5),  # 102
        (100.5, 100.5, 100.0, 100.0),  # 103: exit_when
        quiet, quiet,
    ]
    bars = candles(rows, volume=[100.0] * 100 + [1000.0] + [100.0] * 5, spread=0.25)
    result = run_backtest(rules, bars)
    signal = evaluate_signals(rules, bars).decision(100, "long")
    assert result.trades == [Trade(
        side="long", entry_time=T0 + 60 * 101, exit_time=T0 + 60 * 104, entry_index=101, exit_index=103,
        entry_price=100.25, exit_price=100.0, sl=99.25, tp=102.25, exit_reason="exit_when", r_multiple=-0.25,
        mae_r=0.5, mfe_r=0.5, score=1.0, grade=2, signal_hash=signal.signal_hash,
    )]
    assert [(e.kind, e.index, e.reason) for e in result.events] == [
        ("signal", 100, "score 1"), ("entry", 101, "filled at the open"), ("exit", 103, "exit_when")]
