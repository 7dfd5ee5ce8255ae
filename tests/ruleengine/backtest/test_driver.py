"""The backtest driver on the bundled XAUUSD sample with the shipped ``rules/xauusd.yaml``.

What must hold for a backtest to be worth anything: the whole pipeline is causal (a run on the first k bars
trades exactly like the full run up to bar k); a ``start``/``end`` window trades only inside itself while its
indicators stay warmed up by the bars before it; skipping flat stretches changes nothing against stepping
every bar; every trade is bracketed by a stop and a target on the correct sides; every signal is accounted
for, as an entry or a refusal with its reason; the hashes made for all signals at once are the decisions' own.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ruleengine.backtest.driver import BacktestResult, _minute_stamps, run_backtest, signal_hashes, spread_ok_array
from ruleengine.data import Candles
from ruleengine.execution import Bar, EntrySignal, ExecutionModel, PositionStateMachine
from ruleengine.execution.exits import ExitEvaluator
from ruleengine.rules.decision import evaluate_signals, signal_chunks
from ruleengine.rules.model import SIDES, CompiledRules, load_rules
from tests.conftest import REPO


@pytest.fixture(scope="module")
def rules() -> CompiledRules:
    return load_rules(REPO / "rules" / "xauusd.yaml")


@pytest.fixture(scope="module")
def full(rules: CompiledRules, xau_sample: Candles) -> BacktestResult:
    result = run_backtest(rules, xau_sample)
    assert len(result.trades) >= 100, "the sample should trade, or these tests prove little"
    return result


def step_every_bar(rules: CompiledRules, candles: Candles, *, lo: int = 0, hi: int | None = None,
                   model: ExecutionModel | None = None) -> PositionStateMachine:
    """The naive driver: every bar of [lo, hi) through the machine, the signals built here from the arrays."""
    hi = len(candles) if hi is None else hi
    signals = evaluate_signals(rules, candles)
    spread_ok = spread_ok_array(rules, candles)
    machine = PositionStateMachine(symbol=rules.symbol, exits=rules.exits, discipline=rules.discipline,
                                   checks=rules.checks, model=model or ExecutionModel(),
                                   exit_values=ExitEvaluator(rules, candles))
    for t in range(lo, hi):
        orders: dict[str, EntrySignal | None] = {}
        for side in SIDES:
            ss = signals.side(side)
            orders[side] = EntrySignal(
                side=side, score=float(ss.score[t]), grade=int(ss.grade[t]), stop_distance=float(ss.stop_loss[t]),
                target_distance=float(ss.take_profit[t]), signal_hash=signals.decision(t, side).signal_hash,
                spread_ok=bool(spread_ok[t]),
            ) if ss.signal[t] else None
        bar = Bar(index=t, time=int(candles.time[t]), open=float(candles.open[t]), high=float(candles.high[t]),
                  low=float(candles.low[t]), close=float(candles.close[t]), spread=float(candles.spread[t]))
        machine.step(bar, orders["long"], orders["short"], last=t == hi - 1)
    return machine


# -- (a) causality ------------------------------------------------------------------------------------------------
def assert_prefix_matches(rules: CompiledRules, candles: Candles, full: BacktestResult, k: int) -> None:
    cut = run_backtest(rules, candles[:k])
    closed = [t for t in full.trades if t.exit_index < k]
    assert [t for t in cut.trades if t.exit_reason != "end_of_data"] == closed
    # what the full run still holds after bar k-1 is closed there by the cut run, same entry, same order
    held = [t for t in full.trades if t.entry_index < k <= t.exit_index]
    ended = [t for t in cut.trades if t.exit_reason == "end_of_data"]
    assert [(t.side, t.entry_index, t.entry_price, t.sl, t.tp, t.signal_hash) for t in ended] == [
        (t.side, t.entry_index, t.entry_price, t.sl, t.tp, t.signal_hash) for t in held]
    assert all(t.exit_index == k - 1 for t in ended)
    # every transition before the cut's last bar is the same
    assert [e for e in cut.events if e.index < k - 1] == [e for e in full.events if e.index < k - 1]


@pytest.mark.parametrize("k", [3000, 6001, 9999, 14321, 21000])
def test_a_run_on_the_first_k_bars_trades_like_the_full_run_before_bar_k(
        rules: CompiledRules, xau_sample: Candles, full: BacktestResult, k: int) -> None:
    assert_prefix_matches(rules, xau_sample, full, k)


def test_a_cut_through_an_open_position(rules: CompiledRules, xau_sample: Candles, full: BacktestResult) -> None:
    """The cut falls while a trade of the full run is open: the cut run closes it at the end of data."""
    straddled = next(t for t in full.trades if t.exit_index >= t.entry_index + 2)
    k = straddled.entry_index + 2  # bar k-1 = entry + 1: the position is open across it in the full run
    assert_prefix_matches(rules, xau_sample, full, k)
    assert run_backtest(rules, xau_sample[:k]).trades[-1].exit_reason == "end_of_data"


# -- (b) start / end -----------------------------------------------------------------------------------------------
def test_start_and_end_restrict_trading_but_keep_the_warm_up(rules: CompiledRules, xau_sample: Candles) -> None:
    times = xau_sample.time
    a, b = 6000, 12000
    window = run_backtest(rules, xau_sample, start=int(times[a]), end=int(times[b]))
    assert (window.bars, window.first_time, window.last_time) == (b - a, int(times[a]), int(times[b - 1]))
    assert window.trades and all(a <= e.index < b for e in window.events)
    assert all(a < t.entry_index and t.exit_index < b for t in window.trades)
    signals = evaluate_signals(rules, xau_sample)
    assert window.signals == {s: int(signals.side(s).signal[a:b].sum()) for s in SIDES}
    # warm at its first bar: it trades where a run on the window's bars alone is still warming up
    assert any(t.entry_index < a + rules.warmup for t in window.trades)
    cold = run_backtest(rules, xau_sample[a:b])
    assert all(t.entry_index > rules.warmup for t in cold.trades)
    # the same as stepping every bar of the window over the full history's signals
    naive = step_every_bar(rules, xau_sample, lo=a, hi=b)
    assert window.trades == naive.trades and window.events == naive.events


def test_end_alone_equals_cutting_the_data(rules: CompiledRules, xau_sample: Candles) -> None:
    b = 12000
    ended = run_backtest(rules, xau_sample, end=int(xau_sample.time[b]))
    cut = run_backtest(rules, xau_sample[:b])
    assert ended.trades == cut.trades and ended.events == cut.events and ended.blocked == cut.blocked


# -- (c) flat-skipping -------------------------------------------------------------------------------------------
def test_skipping_flat_bars_equals_stepping_every_bar(rules: CompiledRules, xau_sample: Candles,
                                                      full: BacktestResult) -> None:
    naive = step_every_bar(rules, xau_sample)
    assert naive.trades == full.trades
    assert naive.events == full.events
    assert naive.blocked == full.blocked
    assert naive.ambiguous_exits == full.ambiguous_exits


@pytest.mark.parametrize(("workers", "chunk"), [(1, 3_000), (2, 3_000), (2, 7_777), (3, 1_000), (1, 0), (2, 0)])
def test_threads_and_chunks_change_nothing(rules: CompiledRules, xau_sample: Candles, full: BacktestResult,
                                           workers: int, chunk: int) -> None:
    """The walk proceeds chunk by chunk while threads evaluate the next chunks: the same run as stepping
    every bar (``full`` equals that, above). Chunk 0 stands for a size whose boundary falls inside a trade."""
    if chunk == 0:
        held = next(t for t in full.trades if t.exit_index >= t.entry_index + 2)
        chunk = held.entry_index + 1  # the second chunk starts on the bar after the fill, before the exit
    run = run_backtest(rules, xau_sample, workers=workers, chunk=chunk)
    assert run.trades == full.trades and run.events == full.events and run.blocked == full.blocked
    assert (run.signals, run.ambiguous_exits) == (full.signals, full.ambiguous_exits)


def test_the_spread_check_comes_with_the_chunks_and_follows_replaced_checks(rules: CompiledRules,
                                                                            xau_sample: Candles,
                                                                            full: BacktestResult) -> None:
    """The compiled spread check (evaluated with each chunk) equals the check over all bars; rules whose
    checks were replaced after compiling use the new ratios (computed over all bars), never the stale node."""
    import dataclasses

    from ruleengine.backtest.driver import _spread_node
    from ruleengine.rules.model import CheckRules

    assert rules.spread_check is not None and _spread_node(rules) == rules.spread_check
    signals = signal_chunks(rules, xau_sample, chunk=5_000, extra=(rules.spread_check,))
    chunked = np.concatenate([part.extra[rules.spread_check] for _, part in signals])
    assert np.array_equal(chunked, spread_ok_array(rules, xau_sample))
    strict = dataclasses.replace(rules, checks=CheckRules(max_spread_ratio=1.0, max_spread_ratio_low_volume=1.0,
                                                          max_slippage=0.001, max_latency=0.2))
    assert _spread_node(strict) is None
    run = run_backtest(strict, xau_sample, chunk=5_000)
    naive = step_every_bar(strict, xau_sample)
    assert run.trades == naive.trades and run.events == naive.events
    assert run.blocked["spread"] > full.blocked["spread"]


def test_progress_counts_the_traded_bars_walked(rules: CompiledRules, xau_sample: Candles) -> None:
    times = xau_sample.time
    a, b = 2_500, 17_000
    calls: list[tuple[int, int]] = []
    run_backtest(rules, xau_sample, start=int(times[a]), end=int(times[b]), chunk=4_000,
                 progress=lambda done, total: calls.append((done, total)))
    total = b - a
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and 4_000 - a in done  # after the first chunk (bars a..3999 traded)


def test_a_window_walked_chunk_by_chunk(rules: CompiledRules, xau_sample: Candles) -> None:
    """start/end inside chunks, with chunks before the window (warm-up only) and after it (not traded)."""
    times = xau_sample.time
    a, b = 5_500, 13_100
    one = run_backtest(rules, xau_sample, start=int(times[a]), end=int(times[b]), workers=1, chunk=None)
    many = run_backtest(rules, xau_sample, start=int(times[a]), end=int(times[b]), workers=2, chunk=2_000)
    assert one.trades and many.trades == one.trades and many.events == one.events


# -- (d) every trade bracketed -----------------------------------------------------------------------------------
def test_every_trade_has_a_stop_and_a_target_on_the_correct_sides(rules: CompiledRules,
                                                                  full: BacktestResult) -> None:
    (sl_lo, sl_hi), (tp_lo, tp_hi) = rules.entry.sl_range, rules.entry.tp_range
    for t in full.trades:
        sign = 1.0 if t.side == "long" else -1.0
        risk, reward = sign * (t.entry_price - t.sl), sign * (t.tp - t.entry_price)
        assert sl_lo - 1e-9 <= risk <= sl_hi + 1e-9, t
        assert tp_lo - 1e-9 <= reward <= tp_hi + 1e-9, t
        # frictionless model: the result is the price move in R, and lies within the excursions
        assert t.r_multiple == pytest.approx(sign * (t.exit_price - t.entry_price) / risk, abs=1e-9), t
        assert -t.mae_r - 1e-9 <= t.r_multiple <= t.mfe_r + 1e-9, t
        if t.exit_reason in ("take_profit", "take_profit_gap"):
            assert t.exit_price == t.tp, t
        if t.exit_reason == "stop_loss" and not t.trailing_active:
            assert t.exit_price == t.sl, t
        if t.exit_reason == "stop_loss_gap":
            assert sign * (t.exit_price - t.sl) < 0, t


# -- (e) every signal accounted for -----------------------------------------------------------------------------
def test_refusals_add_up_with_the_events(full: BacktestResult) -> None:
    kinds = Counter(e.kind for e in full.events)
    assert Counter(e.reason for e in full.events if e.kind == "blocked") == full.blocked
    assert kinds["signal"] == sum(full.signals.values())
    assert kinds["signal"] == full.blocked.total() + kinds["entry"]  # each signal: one entry or one refusal
    assert kinds["entry"] == kinds["exit"] == len(full.trades)
    assert sum(t.ambiguous for t in full.trades) == full.ambiguous_exits


@pytest.mark.parametrize(("model", "allowed", "refusal"), [
    (ExecutionModel(slippage=0.002, latency=0.05, commission=0.0), None, "slippage_budget"),
    (ExecutionModel(slippage=0.0, latency=0.5, commission=0.0), None, "latency_budget"),
    (ExecutionModel(slippage=0.0, latency=0.05, commission=0.0), {"BTCUSD"}, "symbol_not_allowed"),
])
def test_a_constant_refusal_blocks_the_whole_run(rules: CompiledRules, xau_sample: Candles, full: BacktestResult,
                                                 model: ExecutionModel, allowed: set[str] | None,
                                                 refusal: str) -> None:
    """Budgets are constants in a backtest: over budget, every signal that gets that far is refused."""
    result = run_backtest(rules, xau_sample, model=model, allowed_symbols=allowed)
    assert result.trades == []
    assert set(result.blocked) == {"conflict", refusal}
    assert result.blocked.total() == sum(result.signals.values()) == sum(full.signals.values())


# -- (f) signal hashes in bulk ---------------------------------------------------------------------------------
def test_signal_hashes_at_once_equal_each_decisions_hash(rules: CompiledRules, xau_sample: Candles) -> None:
    signals = evaluate_signals(rules, xau_sample)
    for side in SIDES:
        bars = np.flatnonzero(signals.side(side).signal)
        assert len(bars) > 0
        expected = [signals.decision(int(t), side).signal_hash for t in bars]
        assert signal_hashes(signals, side, bars) == expected
        assert signal_hashes(signals, side, bars[::-1]) == expected[::-1]
        # a digest cache across calls (the backtest's chunks): filled by the first call, the same strings
        digests: dict[int, str] = {}
        half = len(bars) // 2
        assert signal_hashes(signals, side, bars[:half], digests=digests) == expected[:half]
        filled = dict(digests)
        assert filled and all(len(d) == 8 for d in filled.values())
        assert signal_hashes(signals, side, bars, digests=digests) == expected
        assert filled.items() <= digests.items()


@given(st.lists(st.integers(min_value=0, max_value=253_402_300_799), min_size=1, max_size=20))
def test_candle_stamps_are_the_utc_minute(times: list[int]) -> None:
    """Dates computed per distinct day (1970-9999) read like ``time.gmtime``'s."""
    stamps = _minute_stamps(np.array(times, dtype=np.int64))
    assert stamps is not None
    assert [row.tobytes().decode() for row in stamps] == [time.strftime("%Y%m%dT%H%M", time.gmtime(t)) for t in times]


@pytest.mark.parametrize("t", [-60, 253_402_300_800])
def test_candle_stamps_outside_four_digit_years_are_left_to_numpy(t: int) -> None:
    assert _minute_stamps(np.array([0, t], dtype=np.int64)) is None
