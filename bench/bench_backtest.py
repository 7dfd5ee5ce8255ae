"""End-to-end backtest speed and memory over >= 1M real M1 bars, per shipped rule file.

    python bench/bench_backtest.py [--bars N] [--repeat R]

Each rule file runs in its own process (so peak memory is its own): load real bars (tiled to N, see
bench/_data.py), compile the rules, then time ``run_backtest`` (signals over all bars + the position state
machine) best of R. Prints bars/s, trades, and the process's peak resident memory (ru_maxrss, which
includes the data and Python itself). Target (issue 4): >= 2M bars/s for rules/xauusd.yaml, peak < 1 GB.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RULES = {"XAUUSD": "rules/xauusd.yaml", "BTCUSD": "rules/btcusd.yaml"}


def _run(symbol: str, bars: int, repeat: int, out: mp.Queue) -> None:
    from _data import bench_candles

    from ruleengine.backtest.driver import run_backtest
    from ruleengine.rules.model import load_rules

    candles, origin = bench_candles(symbol, bars)
    rules = load_rules(HERE.parent / RULES[symbol])
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run_backtest(rules, candles)
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put((symbol, origin, len(candles), best, len(result.trades), result.ambiguous_exits, peak_mb))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    print(f"{'rules':<20}{'bars':>11}{'seconds':>9}{'bars/s':>12}{'trades':>8}{'ambig':>7}{'peak MB':>9}")
    for symbol, path in RULES.items():
        queue: mp.Queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(symbol, args.bars, args.repeat, queue))
        proc.start()
        symbol, origin, n, seconds, trades, ambiguous, peak = queue.get()
        proc.join()
        print(f"{path:<20}{n:>11,}{seconds:>9.3f}{n / seconds:>12,.0f}{trades:>8,}{ambiguous:>7,}{peak:>9.0f}")
        print(f"  data: {origin}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
