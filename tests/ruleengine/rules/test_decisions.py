"""Decisions of whole rule files: live equals vectorised, no lookahead, signal hashes, warm-up, side symmetry.

``decide_last(rules, bars[:t+1])`` (live: the newest bar only, from a window of recent bars, scalar
combining) must give the same :class:`Decision` as ``evaluate_signals(rules, bars).decision(t, side)`` (the
backtest: every bar at once) for every bar t. Evaluating on ``bars[:k]`` must give, on bars before k, exactly
what evaluating on all bars gives (no value at t reads a bar after t). The shipped ``rules/xauusd.yaml`` needs
2,880 bars of warm-up, so random-candle properties use small rule files written for the test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ruleengine.data import Candles, load_candles
from ruleengine.rules.decision import (
    Decision,
    SideSignals,
    Signals,
    decide_last,
    evaluate_signals,
    signal_chunks,
    signal_hash,
)
from ruleengine.rules.model import SIDES, CompiledRules, load_rules
from tests.conftest import REPO, shared_file
from tests.strategies import candles

XAU_RULES = REPO / "rules" / "xauusd.yaml"
SHARED_MONTH = "xauusd_mt5_2026-03_05_m1.csv.gz"

#: A small rule file using most of the language (params with units, sided defines, lags, crosses, rolling
#: indicators over expressions, if-else scores) with thresholds relative to ATR, so that random candles at any
#: price level signal now and then, and a warm-up of a dozen bars.
SMALL_RULES = """\
symbol: TEST
timeframe: M1
params:
  wick_ratio: 1.5
  persistence: 3bars
  max_spread_mult: 3
define:
  atr5: atr(period=5)
  near_extreme:
    long: low - lowest(low, window=10) <= 0.5 * atr5
    short: highest(high, window=10) - high <= 0.5 * atr5
filters:
  moving: true_range >= 0.2 * mean_range(window=10)
  spread: spread <= max_spread_mult * mean(spread, window=10)
  session: not in_session("post_ny")
location:
  edge: near_extreme
  reclaim:
    long: crosses_above(close, mean(close, window=5))
    short: crosses_below(close, mean(close, window=5))
triggers:
  primary:
    wick:
      long: lower_wick_ratio >= wick_ratio
      short: upper_wick_ratio >= wick_ratio
    sweep:
      long: bullish_sweep(lookback=5)
      short: bearish_sweep(lookback=5)
    turn:
      long: bullish and not bullish[1]
      short: bearish and not bearish[1]
  secondary:
    momentum:
      long: close > close[3]
      short: close < close[3]
    busy: held_for(volume > 0, limit=5) >= persistence
    spike: volume_spike(window=10, ratio=1.0)
score:
  components:
    wick:
      max: 2
      value:
        long: 2 if lower_wick_ratio >= 2 else 1 if lower_wick_ratio >= 1 else 0
        short: 2 if upper_wick_ratio >= 2 else 1 if upper_wick_ratio >= 1 else 0
    stretch:
      max: 1
      value: abs(close - mean(close, window=10)) / atr5
    recent_engulfing:
      max: 1
      value: 1 if bars_since(bullish_engulfing or bearish_engulfing, limit=10) <= 5 else 0.5
  trade_at: 1.5
  a_plus_at: 3
actions:
  entry:
    stop_loss: clamp(atr5, 0.01, 100000)
    take_profit: 1.5 * atr5
    sl_range: [0.0001, 100000]
    tp_range: [0.0001, 100000]
  exits:
    max_hold: 10m
"""

#: Long and short as mirror images: each sided expression is the other side's under p -> C - p (high and low
#: swapped). Mostly written with differences of prices (``low - lowest(low)``), which reflect bit for bit (see
#: ``reflect``); ``low <= intraday_low + x`` against ``high >= intraday_high - x`` rounds ``+ x`` and ``- x`` at
#: different magnitudes, so it mirrors only up to exact ties of the last bit (none occur on the bundled samples).
MIRROR_RULES = """\
symbol: TEST
timeframe: M1
define:
  atr5: atr(period=5)
filters:
  moving: true_range >= 0.2 * mean_range(window=10)
  spread: spread <= 3 * mean(spread, window=10)
  session: not in_session("post_ny")
location:
  recent_extreme:
    long: low - lowest(low, window=10) <= 0.5 * atr5
    short: highest(high, window=10) - high <= 0.5 * atr5
{intraday}
triggers:
  primary:
    sweep:
      long: bullish_sweep(lookback=5)
      short: bearish_sweep(lookback=5)
    wick_trap:
      long: lower_wick_ratio >= 1.5
      short: upper_wick_ratio >= 1.5
    engulfing:
      long: strong_bullish_engulfing
      short: strong_bearish_engulfing
  secondary:
    momentum:
      long: close > close[3]
      short: close < close[3]
    breakout:
      long: crosses_above(close, highest(high, window=5)[1])
      short: crosses_below(close, lowest(low, window=5)[1])
    colour:
      long: bullish and lower_wick <= body
      short: bearish and upper_wick <= body
    spike: volume_spike(window=10)
score:
  components:
    wick:
      max: 2
      value:
        long: lower_wick_ratio
        short: upper_wick_ratio
    close_location:
      max: 1
      value:
        long: (close - low) / range
        short: (high - close) / range
    body:
      max: 1
      value: body / atr5
  trade_at: 1.5
  a_plus_at: 3
actions:
  entry:
    stop_loss:
      long: close - lowest(low, window=5) + 0.1 * atr5
      short: highest(high, window=5) - close + 0.1 * atr5
    take_profit: 2 * atr5
    sl_range: [0.0001, 100000]
    tp_range: [0.0001, 100000]
  exits: {{}}
"""
INTRADAY_LOCATION = """\
  intraday_extreme:
    long: low - intraday_low <= atr5
    short: intraday_high - high <= atr5
  intraday_band:
    long: low <= intraday_low + 0.5 * atr5
    short: high >= intraday_high - 0.5 * atr5
"""

#: Every condition holds at every bar, but the filter reads 10 bars back: only the warm-up stops a signal.
ALWAYS_RULES = """\
symbol: TEST
timeframe: M1
filters:
  reads_back: not (close[10] > 1000000000)
location:
  anywhere: close > 0
triggers:
  primary:
    anything: close > 0
  secondary:
    anything: volume >= 0
score:
  components:
    flat:
      max: 1
      value: "1"
  trade_at: 1
actions:
  entry:
    stop_loss: "1"
    take_profit: "2"
    sl_range: [0.5, 2]
    tp_range: [1, 3]
  exits: {}
"""


def _write(directory: Path, name: str, text: str) -> CompiledRules:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return load_rules(path)


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rules")


@pytest.fixture(scope="module")
def xau_rules() -> CompiledRules:
    return load_rules(XAU_RULES)


@pytest.fixture(scope="module")
def xau_signals(xau_rules: CompiledRules, xau_sample: Candles) -> Signals:
    return evaluate_signals(xau_rules, xau_sample)


@pytest.fixture(scope="module")
def small_rules(rules_dir: Path) -> CompiledRules:
    return _write(rules_dir, "small.yaml", SMALL_RULES)


@pytest.fixture(scope="module")
def mirror_rules(rules_dir: Path) -> CompiledRules:
    return _write(rules_dir, "mirror.yaml", MIRROR_RULES.format(intraday=""))


@pytest.fixture(scope="module")
def mirror_rules_intraday(rules_dir: Path) -> CompiledRules:
    return _write(rules_dir, "mirror_intraday.yaml", MIRROR_RULES.format(intraday=INTRADAY_LOCATION))


# -- helpers ------------------------------------------------------------------------------------------------
def _comparable(d: Decision) -> Decision:
    """``d`` with an undefined (NaN) stop/target as None: NaN != NaN would make equal decisions differ."""
    def defined(x: float) -> float | None:
        return None if math.isnan(x) else x

    return dataclasses.replace(d, stop_loss=defined(d.stop_loss), take_profit=defined(d.take_profit))


def _live_mismatches(rules: CompiledRules, bars: Candles, signals: Signals, indices: Iterable[int]) -> list[str]:
    """Bars where ``decide_last`` on bars[:t+1] differs from the vectorised decision at t (both sides)."""
    out = []
    for t in indices:
        for live in decide_last(rules, bars[: t + 1]):
            backtest = signals.decision(t, live.side)
            if _comparable(live) != _comparable(backtest):
                out.append(f"bar {t} ({np.datetime64(int(bars.time[t]), 's')}Z) {live.side}:\n"
                           f"  live     {live}\n  backtest {backtest}")
    return out


_SIDE_ARRAYS = ("filters", "location", "primary", "secondary", "score", "grade", "signal", "stop_loss",
                "take_profit")


def _side_arrays(s: SideSignals) -> dict[str, np.ndarray]:
    """Every per-bar array of one side, conditions and score components included, by a readable name."""
    out = {name: getattr(s, name) for name in _SIDE_ARRAYS}
    out |= {f"{layer}.{name}": v for layer, conds in s.conditions.items() for name, v in conds.items()}
    out |= {f"score.{name}": v for name, v in s.components.items()}
    return out


def _assert_prefix(part: Signals, full: Signals, k: int) -> None:
    assert part.warmup == full.warmup
    np.testing.assert_array_equal(part.time, full.time[:k])
    for side in SIDES:
        got, want = _side_arrays(part.side(side)), _side_arrays(full.side(side))
        assert got.keys() == want.keys()
        for name, values in got.items():
            np.testing.assert_array_equal(values, want[name][:k],
                                          err_msg=f"{side} {name}: bars < {k} changed when bars >= {k} were cut")


def _fired(signals: Signals) -> np.ndarray:
    return signals.long.signal | signals.short.signal


# -- (a) live equals vectorised -----------------------------------------------------------------------------
STRETCH = 2_000


def test_live_equals_vectorised_on_a_contiguous_stretch(xau_rules: CompiledRules, xau_sample: Candles,
                                                        xau_signals: Signals) -> None:
    """Every bar of the 2,000-bar stretch (past the warm-up; more than a day, so a day and its sessions turn
    over inside it) where the shipped rules signal most."""
    fired = _fired(xau_signals).astype(np.int64)
    counts = np.convolve(fired, np.ones(STRETCH, dtype=np.int64), mode="valid")  # counts[s] = fired[s:s+STRETCH]
    counts[: xau_rules.warmup] = -1
    start = int(np.argmax(counts))
    assert counts[start] >= 20, "the stretch should hold signals, or the check proves little"
    mismatches = _live_mismatches(xau_rules, xau_sample, xau_signals, range(start, start + STRETCH))
    assert not mismatches, f"{len(mismatches)} live/vectorised differences, first:\n" + "\n".join(mismatches[:3])


def test_live_equals_vectorised_on_a_sample_of_bars(xau_rules: CompiledRules, xau_sample: Candles,
                                                    xau_signals: Signals) -> None:
    """A fixed random sample over the whole file, the warm-up included, plus signalling bars."""
    rng = np.random.default_rng(20260602)
    n = len(xau_sample)
    anywhere = rng.choice(n, size=150, replace=False)
    signalling = rng.choice(np.flatnonzero(_fired(xau_signals)), size=50, replace=False)
    edges = [0, 1, xau_rules.warmup - 1, xau_rules.warmup, xau_rules.warmup + 1, n - 1]
    indices = sorted({*anywhere.tolist(), *signalling.tolist(), *edges})
    mismatches = _live_mismatches(xau_rules, xau_sample, xau_signals, indices)
    assert not mismatches, f"{len(mismatches)} live/vectorised differences, first:\n" + "\n".join(mismatches[:3])


@pytest.mark.shared_data
def test_live_equals_vectorised_for_a_real_month(xau_rules: CompiledRules,
                                                 record_property: pytest.RecordProperty) -> None:
    """Every bar of April 2026 (about 29,000 bars) from the nine-week MT5 file, live against vectorised."""
    bars = load_candles(shared_file(SHARED_MONTH), symbol="XAUUSD")
    april = np.datetime64("2026-04-01", "s").astype(np.int64), np.datetime64("2026-05-01", "s").astype(np.int64)
    first, end = (int(i) for i in np.searchsorted(bars.time, april))
    assert first > xau_rules.warmup and end - first > 20_000
    bars = bars[:end]
    signals = evaluate_signals(xau_rules, bars)
    started = time.perf_counter()
    mismatches = _live_mismatches(xau_rules, bars, signals, range(first, end))
    seconds = time.perf_counter() - started
    record_property("live_month_seconds", round(seconds, 1))
    print(f"\nlive vs vectorised, {end - first} bars of April 2026: {seconds:.1f} s "
          f"({1000 * seconds / (end - first):.2f} ms per bar, {int(_fired(signals)[first:].sum())} signals)")
    assert not mismatches, f"{len(mismatches)} live/vectorised differences, first:\n" + "\n".join(mismatches[:3])


# -- (b) causality of whole rule files ----------------------------------------------------------------------
def test_shipped_rules_are_causal(xau_rules: CompiledRules, xau_sample: Candles, xau_signals: Signals) -> None:
    n, warmup = len(xau_sample), xau_rules.warmup
    day = xau_sample.time // 86_400
    midnights = np.flatnonzero(np.diff(day)) + 1
    midnight = int(midnights[midnights > warmup][0])  # the first bar of a day, once warmed up
    rng = np.random.default_rng(7)
    cuts = {1, 2, warmup - 1, warmup, warmup + 1, midnight, midnight + 1, n // 2, n - 1,
            *rng.integers(warmup, n, size=4).tolist()}
    for k in sorted(cuts):
        _assert_prefix(evaluate_signals(xau_rules, xau_sample[:k]), xau_signals, k)


@pytest.mark.parametrize("chunk", [1_000, 4_096, 7_777])
def test_chunked_evaluation_equals_one_piece(xau_rules: CompiledRules, xau_sample: Candles, xau_signals: Signals,
                                             chunk: int) -> None:
    """A long backtest is evaluated in chunks (each with its warm-up bars before it): every array of every
    side equals the one-piece evaluation, bit for bit, including chunks shorter than the warm-up."""
    assert xau_rules.window_exact
    chunked = evaluate_signals(xau_rules, xau_sample, chunk=chunk)
    _assert_prefix(chunked, xau_signals, len(xau_sample))


def test_chunked_evaluation_equals_one_piece_with_order_flow(btc_sample: Candles) -> None:
    rules = load_rules(REPO / "rules" / "btcusd.yaml")
    _assert_prefix(evaluate_signals(rules, btc_sample, chunk=5_000), evaluate_signals(rules, btc_sample, chunk=None),
                   len(btc_sample))


@pytest.mark.parametrize("workers", [2, 3])
def test_chunks_evaluated_in_threads_equal_one_thread(xau_rules: CompiledRules, xau_sample: Candles,
                                                      xau_signals: Signals, workers: int) -> None:
    """Threads change no float (each chunk has its own bars and sharing memo) and keep the chunks' order."""
    starts = [a for a, _ in signal_chunks(xau_rules, xau_sample, chunk=2_000, workers=workers)]
    assert starts == list(range(0, len(xau_sample), 2_000))
    _assert_prefix(evaluate_signals(xau_rules, xau_sample, chunk=2_000, workers=workers), xau_signals,
                   len(xau_sample))


def test_a_chunk_consumer_that_stops_early_leaves_no_thread_running(xau_rules: CompiledRules,
                                                                    xau_sample: Candles) -> None:
    before = threading.active_count()
    chunks = signal_chunks(xau_rules, xau_sample, chunk=1_000, workers=2)
    next(chunks)
    chunks.close()  # the generator's finally shuts its pool down, cancelling what had not started
    assert threading.active_count() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("ruleengine-chunk")]


def test_an_error_in_a_chunk_thread_reaches_the_consumer(xau_rules: CompiledRules, xau_sample: Candles,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from ruleengine.rules import decision

    real = decision._evaluate_piece

    def failing(rules: CompiledRules, candles: Candles, a: int, b: int, **kwargs: Any) -> Any:
        if a >= 3_000:
            raise RuntimeError(f"chunk at {a} failed")
        return real(rules, candles, a, b, **kwargs)

    monkeypatch.setattr(decision, "_evaluate_piece", failing)
    with pytest.raises(RuntimeError, match="chunk at 3000 failed"):
        evaluate_signals(xau_rules, xau_sample, chunk=1_000, workers=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("ruleengine-chunk")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_small_rules_are_causal_and_live_equals_vectorised(small_rules: CompiledRules, data: st.DataObject) -> None:
    bars = data.draw(candles(min_size=small_rules.warmup + 2, max_size=300), label="candles")
    full = evaluate_signals(small_rules, bars)
    k = data.draw(st.integers(1, len(bars)), label="cut")
    _assert_prefix(evaluate_signals(small_rules, bars[:k]), full, k)
    indices = data.draw(st.lists(st.integers(0, len(bars) - 1), min_size=1, max_size=5, unique=True), label="live")
    fired = np.flatnonzero(_fired(full))
    mismatches = _live_mismatches(small_rules, bars, full, [*indices, *fired[:3].tolist()])
    assert not mismatches, "\n".join(mismatches[:3])


def test_small_rules_signal_on_real_bars(small_rules: CompiledRules, btc_sample: Candles,
                                         xau_sample: Candles) -> None:
    """The small rules fire on both sides (the properties above would prove little otherwise) and their
    warm-up stays small enough for random candles."""
    assert small_rules.warmup <= 20
    for bars in (xau_sample, btc_sample):
        signals = evaluate_signals(small_rules, bars)
        assert signals.long.signal.sum() > 100 and signals.short.signal.sum() > 100


# -- (c) signal hashes --------------------------------------------------------------------------------------
def test_signal_hash_format(xau_sample: Candles, xau_signals: Signals, xau_rules: CompiledRules) -> None:
    at = int(np.datetime64("2026-06-02T00:00", "s").astype(np.int64))
    i = int(np.searchsorted(xau_sample.time, at))
    assert xau_sample.time[i] == at
    for side in SIDES:
        decision = xau_signals.decision(i, side)
        assert re.fullmatch(rf"XAUUSD_{side}_20260602T0000_[0-9a-f]{{8}}", decision.signal_hash)
        # the same inputs give the same hash: again, live, and from a fresh evaluation of a prefix
        assert xau_signals.decision(i, side).signal_hash == decision.signal_hash
        live = {d.side: d for d in decide_last(xau_rules, xau_sample[: i + 1])}
        assert live[side].signal_hash == decision.signal_hash
        assert evaluate_signals(xau_rules, xau_sample[: i + 1]).decision(i, side).signal_hash == decision.signal_hash


def test_signal_hash_names_the_set_of_true_conditions(xau_sample: Candles, xau_signals: Signals) -> None:
    """Over the whole sample: bars with the same true conditions share the 8-digit suffix, and different sets
    of true conditions never do (a set's suffix is the first 8 hex digits of SHA-1 over its sorted names)."""
    suffix_of: dict[frozenset[str], set[str]] = {}
    for i in range(xau_signals.warmup, len(xau_sample), 3):
        for side in SIDES:
            d = xau_signals.decision(i, side)
            true = frozenset(f"{layer}.{name}" for layer, conds in d.conditions.items()
                             for name, held in conds.items() if held)
            symbol, side_, stamp, suffix = d.signal_hash.split("_")
            assert (symbol, side_) == ("XAUUSD", side)
            assert stamp == np.datetime64(int(xau_sample.time[i]), "s").item().strftime("%Y%m%dT%H%M")
            suffix_of.setdefault(true, set()).add(suffix)
    assert len(suffix_of) > 50, "too few distinct condition sets to say anything"
    assert all(len(s) == 1 for s in suffix_of.values())
    suffixes = [next(iter(s)) for s in suffix_of.values()]
    assert len(set(suffixes)) == len(suffixes)
    some = next(iter(suffix_of))
    assert next(iter(suffix_of[some])) == hashlib.sha1(",".join(sorted(some)).encode()).hexdigest()[:8]


def test_signal_hash_ignores_the_order_of_conditions() -> None:
    t = int(np.datetime64("2026-06-02T13:45", "s").astype(np.int64))
    a = signal_hash("XAUUSD", "long", t, ["primary.wick_trap", "filters.spread"])
    assert a == signal_hash("XAUUSD", "long", t, ["filters.spread", "primary.wick_trap"])
    assert a.startswith("XAUUSD_long_20260602T1345_")
    assert a != signal_hash("XAUUSD", "long", t, ["filters.spread"])
    assert a != signal_hash("XAUUSD", "short", t, ["primary.wick_trap", "filters.spread"])
    assert a != signal_hash("XAUUSD", "long", t + 60, ["primary.wick_trap", "filters.spread"])
    assert a.rsplit("_", 1)[1] == signal_hash("XAUUSD", "long", t + 60, ["filters.spread", "primary.wick_trap"]
                                              ).rsplit("_", 1)[1]


# -- (d) warm-up --------------------------------------------------------------------------------------------
def test_no_signal_before_the_warmup(xau_rules: CompiledRules, xau_sample: Candles, xau_signals: Signals) -> None:
    warmup = xau_rules.warmup
    assert warmup == 2_880  # previous_day_high/low read two days of bars
    for side in SIDES:
        assert not xau_signals.side(side).signal[:warmup].any()
        assert xau_signals.side(side).signal[warmup:].any()
        assert not xau_signals.decision(warmup - 1, side).warmed_up
        assert xau_signals.decision(warmup, side).warmed_up
    for t in (0, 1, 14, warmup - 1):
        assert all(not d.warmed_up and not d.signal for d in decide_last(xau_rules, xau_sample[: t + 1]))
    assert all(d.warmed_up for d in decide_last(xau_rules, xau_sample[: warmup + 1]))


def test_warmup_alone_blocks_signals(rules_dir: Path, xau_sample: Candles) -> None:
    """Every condition holds on every bar, yet the first ``warmup`` bars never signal and every later one does."""
    rules = _write(rules_dir, "always.yaml", ALWAYS_RULES)
    assert rules.warmup == 10
    bars = xau_sample[:40]
    signals = evaluate_signals(rules, bars)
    for side in SIDES:
        s = signals.side(side)
        assert s.filters.all() and s.location.all() and s.primary.all() and s.secondary.all() and (s.grade >= 1).all()
        np.testing.assert_array_equal(s.signal, np.arange(len(bars)) >= 10)
    for t in range(len(bars)):
        assert [d.signal for d in decide_last(rules, bars[: t + 1])] == [t >= 10] * 2


# -- side symmetry --------------------------------------------------------------------------------------------
def reflect(bars: Candles) -> Candles:
    """Prices p -> C - p (high and low swap), exactly.

    C = 2 x the lowest low. Then C / 2 <= p for every price p and, while p <= 2C (the highest price is at most
    four times the lowest), Sterbenz's lemma makes C - p exact in binary floating point. Differences of
    reflected prices are then exactly the negated differences (``(C - a) - (C - b)`` rounds ``b - a``), so
    wicks, ranges, true ranges, ATR and comparisons of prices mirror bit for bit. (C = 2 x the highest high
    would not be exact: C - p can land in a higher binade than p and lose p's last bit.)
    """
    c = 2.0 * float(bars.low.min())
    prices = np.concatenate([bars.open, bars.high, bars.low, bars.close])
    if not (c > 0 and (prices <= 2 * c).all()):
        raise ValueError("prices span more than a factor 4: the reflection would round")
    return bars.with_columns(open=c - bars.open, high=c - bars.low, low=c - bars.high, close=c - bars.close)


def _assert_mirrored(rules: CompiledRules, bars: Candles) -> None:
    original = evaluate_signals(rules, bars)
    mirrored = evaluate_signals(rules, reflect(bars))
    for side, other in (("long", "short"), ("short", "long")):
        got, want = _side_arrays(mirrored.side(side)), _side_arrays(original.side(other))
        assert got.keys() == want.keys()
        for name, values in got.items():
            np.testing.assert_array_equal(values, want[name],
                                          err_msg=f"{side} {name} on reflected bars != {other} {name}")


@pytest.mark.parametrize("sample", ["xau_sample", "btc_sample"])
def test_long_on_reflected_bars_is_short_on_real_bars(mirror_rules_intraday: CompiledRules, sample: str,
                                                      request: pytest.FixtureRequest) -> None:
    bars = request.getfixturevalue(sample)
    signals = evaluate_signals(mirror_rules_intraday, bars)
    assert signals.long.signal.sum() > 100 and signals.short.signal.sum() > 100
    _assert_mirrored(mirror_rules_intraday, bars)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=candles(min_size=30, max_size=300, taker=False))
def test_long_on_reflected_candles_is_short(mirror_rules: CompiledRules, bars: Candles) -> None:
    assume(bars.low.min() > 0)
    _assert_mirrored(mirror_rules, bars)


def test_value_ranges_that_need_no_clamping() -> None:
    """Components proven within [0, max] skip the clamp; anything unproven keeps it."""
    from ruleengine.dsl.graph import Graph, Type
    from ruleengine.rules.decision import _value_range

    g = Graph()
    close = g.add("col", (), ("close",), Type.NUMBER)
    x = g.add("gt", (close, g.const(1.0, Type.NUMBER)), (), Type.BOOL)
    y = g.add("lt", (close, g.const(0.5, Type.NUMBER)), (), Type.BOOL)

    def where(c: int, a: int, b: int) -> int:
        return g.add("where", (c, a, b), (), Type.NUMBER)

    def num(v: float) -> int:
        return g.const(v, Type.NUMBER)

    two_one_zero = where(x, num(2), where(y, num(1), num(0)))
    assert _value_range(g, two_one_zero) == (0.0, 2.0)
    assert _value_range(g, g.add("add", (where(x, num(1), num(0)), where(y, num(1), num(0))), (), Type.NUMBER)) \
        == (0.0, 2.0)
    assert _value_range(g, num(0.75)) == (0.75, 0.75)
    for unproven in (close, where(x, num(1), close), where(x, num(1), num(-1)), where(x, num(float("inf")), num(0)),
                     where(x, num(float("nan")), num(0)), g.add("mul", (two_one_zero, num(2)), (), Type.NUMBER)):
        assert _value_range(g, unproven) is None
