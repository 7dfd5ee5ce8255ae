"""Parity: replaying bars one at a time through the live path gives the backtest's trades and events.

The live path is the live evaluator (``decide_last`` on a window of bars) plus the same position state
machine; the backtest is the vectorised evaluator plus that machine. Same bars in, same trades out, down
to every float and every recorded transition.
"""

from __future__ import annotations

import time

import pytest

from ruleengine.backtest.driver import run_backtest
from ruleengine.data import Candles
from ruleengine.live.runner import BarByBarRunner
from ruleengine.rules.model import load_rules


def replay(rules, candles: Candles) -> BarByBarRunner:
    runner = BarByBarRunner(rules)
    for i in range(len(candles)):
        runner.on_bar(candles[i:i + 1], last=(i == len(candles) - 1))
    return runner


@pytest.mark.parametrize(("rule_file", "fixture", "bars"), [
    ("rules/xauusd.yaml", "xau_sample", 6500),
    ("rules/btcusd.yaml", "btc_sample", 5500),
])
def test_live_replay_equals_backtest(rule_file: str, fixture: str, bars: int, request: pytest.FixtureRequest) -> None:
    candles: Candles = request.getfixturevalue(fixture)[:bars]
    rules = load_rules(rule_file)
    backtest = run_backtest(rules, candles)
    started = time.perf_counter()
    live = replay(rules, candles)
    elapsed = time.perf_counter() - started
    assert len(backtest.trades) >= 10, "the stretch should trade, or the test proves little"
    assert live.machine.trades == backtest.trades
    assert live.machine.events == backtest.events
    assert live.machine.blocked == backtest.blocked
    assert live.machine.ambiguous_exits == backtest.ambiguous_exits
    print(f"{rule_file}: {len(candles)} bars replayed in {elapsed:.1f} s, {len(backtest.trades)} trades identical")
