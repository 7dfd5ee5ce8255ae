"""Time the shipped rule files end to end: compiling, a backtest over >= 1M real bars, and live decisions.

    python bench/bench_rules.py [--bars N] [--repeat R] [--live N] [RULE_FILE ...]

Targets (issue 3), per rule file (default: rules/xauusd.yaml, and rules/btcusd.yaml when it exists):

1. ``load_rules`` under 50 ms in a warm process. The first compile of a process also loads the lark grammar
   (from its cache), the JSON Schema and every indicator's compile-time check; it is reported on its own
   beside the best and the median of the later ones.
2. ``evaluate_signals`` (every indicator, the graph and both sides) over >= 1M real bars under 1 s: real
   M1 files tiled to size (``bench/_data.py``); the first run, the best of R, bars per second, and the peak
   memory of one run (tracemalloc, in a run of its own because tracing slows allocations down) and of the
   process (``ru_maxrss``).
3. ``decide_last`` under 1 ms median, on a window of warm-up + 1 bars as a live driver keeps it, for N
   consecutive bars at the end of the bundled real sample: median and p95 of wall-clock time, and of CPU
   time (less disturbed when other processes share the machine). Each live decision is also checked against
   the backtest's decision for the same bar (they must be equal).

The machine is shared: the load average and the machine-speed probe (``bench/_machine.py``: a shared VM can
slow down without any load of its own) are printed before and after, and best-of figures are the least
noisy estimate of the cost. Nothing here is a test; nothing fails when a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _data import FILES, bench_candles  # noqa: E402
from _machine import probe_ms  # noqa: E402

from ruleengine.data import load_candles  # noqa: E402
from ruleengine.resources import sample_file  # noqa: E402
from ruleengine.rules.decision import decide_last, evaluate_signals  # noqa: E402
from ruleengine.rules.model import CompiledRules, load_rules  # noqa: E402

RULES = HERE.parent / "rules"
DEFAULT_FILES = ("xauusd.yaml", "btcusd.yaml")
TARGETS = {"compile": 0.050, "evaluate": 1.0, "live": 0.001}


def _load() -> str:
    one, five, _ = os.getloadavg()
    return (f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs; "
            f"machine-speed probe {probe_ms():.1f} ms")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _verdict(value: float, target: float) -> str:
    return "meets" if value < target else "MISSES"


def bench_compile(path: Path, repeat: int) -> CompiledRules:
    t0 = time.perf_counter()
    rules = load_rules(path)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        load_rules(path)
        times.append(time.perf_counter() - t0)
    best, median = min(times), statistics.median(times)
    print(f"  compile: first in process {_ms(first)}, best of {repeat} {_ms(best)}, median {_ms(median)} "
          f"({len(rules.graph)} graph nodes, warm-up {rules.warmup} bars) -> {_verdict(best, TARGETS['compile'])} "
          f"the 50 ms target (best)")
    return rules


def bench_evaluate(rules: CompiledRules, bars: int, repeat: int) -> None:
    symbol = rules.symbol if rules.symbol in FILES else "XAUUSD"
    candles, origin = bench_candles(symbol, bars)
    print(f"  data: {origin}")
    n = len(candles)
    gc.collect()
    t0 = time.perf_counter()
    evaluate_signals(rules, candles)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        evaluate_signals(rules, candles)
        times.append(time.perf_counter() - t0)
    best = min(times)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    signals = evaluate_signals(rules, candles)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    kept = sum(a.nbytes for s in (signals.long, signals.short)
               for a in (s.filters, s.location, s.primary, s.secondary, s.score, s.grade, s.signal,
                         s.stop_loss, s.take_profit))
    del signals
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"  evaluate_signals over {n:,} bars: first {first:.3f} s, best of {repeat} {best:.3f} s "
          f"({n / best / 1e6:.2f} M bars/s) -> {_verdict(best, TARGETS['evaluate'])} the 1 s target")
    inputs = sum(getattr(candles, c).nbytes for c in candles.columns)
    print(f"  memory: peak {peak / 2**20:.0f} MiB allocated by one evaluation (tracemalloc; on top of the "
          f"{inputs / 2**20:.0f} MiB of candles; {kept / 2**20:.0f} MiB of it are the returned per-side "
          f"arrays); process max RSS {maxrss:.0f} MiB")


def bench_live(rules: CompiledRules, count: int) -> None:
    symbol = rules.symbol if rules.symbol in ("XAUUSD", "BTCUSD") else "XAUUSD"
    candles = load_candles(sample_file(symbol), symbol=symbol)
    window = rules.warmup + 1
    first = max(window - 1, len(candles) - count)
    bars = range(first, len(candles))
    print(f"  live: bundled sample {sample_file(symbol).name} ({len(candles):,} real bars), window of "
          f"{window} bars (warm-up + 1), {len(bars)} consecutive bars")
    decide_last(rules, candles[first + 1 - window:first + 1])  # builds the live plan once
    wall, cpu, decisions = [], [], {}
    for t in bars:
        live_window = candles[t + 1 - window:t + 1]
        w0, c0 = time.perf_counter(), time.process_time()
        decisions[t] = decide_last(rules, live_window)
        c1, w1 = time.process_time(), time.perf_counter()
        wall.append(w1 - w0)
        cpu.append(c1 - c0)
    for name, times in (("wall", wall), ("cpu", cpu)):
        times = sorted(times)
        median, p95 = statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]
        verdict = f" -> {_verdict(median, TARGETS['live'])} the 1 ms target (median)" if name == "wall" else ""
        print(f"  decide_last ({name}): median {_ms(median)}, p95 {_ms(p95)}, min {_ms(times[0])}{verdict}")
    signals = evaluate_signals(rules, candles)
    differ = [t for t, (long_d, short_d) in decisions.items()
              if long_d.as_dict() != signals.decision(t, "long").as_dict()
              or short_d.as_dict() != signals.decision(t, "short").as_dict()]
    print(f"  live == backtest on {len(decisions) - len(differ)} of {len(decisions)} bars"
          + (f"; DIFFERENT at bars {differ[:10]}" if differ else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="rule files (default: rules/xauusd.yaml, rules/btcusd.yaml)")
    parser.add_argument("--bars", type=int, default=1_000_000, help="bars for the backtest (>= 1M by default)")
    parser.add_argument("--repeat", type=int, default=3, help="backtest runs to take the best of")
    parser.add_argument("--compiles", type=int, default=20, help="compiles to take the best and median of")
    parser.add_argument("--live", type=int, default=500, help="consecutive live decisions to time")
    args = parser.parse_args()

    print(f"Python {platform.python_version()}, numpy {np.__version__}; {_load()}")
    paths = [Path(f) for f in args.files] or [RULES / f for f in DEFAULT_FILES]
    for path in paths:
        if not path.is_file():
            print(f"\n{path.name}: skipped, {path} does not exist (yet)")
            continue
        print(f"\n{path.name}")
        rules = bench_compile(path, args.compiles)
        bench_evaluate(rules, args.bars, args.repeat)
        bench_live(rules, args.live)
    print(f"\n{_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
