"""End-to-end backtest speed and memory over >= 1M real M1 bars, per shipped rule file.

    python bench/bench_backtest.py [--bars N] [--repeat R] [--workers 1,2]

Each rule file runs in its own process per thread count (so peak memory is its own): load real bars (tiled
to N, see bench/_data.py), compile the rules, then time ``run_backtest`` (signals over all bars + the
position state machine) best of R, with ``workers`` evaluation threads (1: everything on one core).
Prints bars/s, trades, the CPU time of the best run (above its wall time when threads overlap) and the
process's peak resident memory (ru_maxrss, which includes the data and Python itself). Target (issue 4):
>= 2M bars/s for rules/xauusd.yaml, peak < 1 GB.

Each run is preceded by the machine-speed probe of ``bench/_machine.py``; a row shows the probe just before
its best run and the fastest probe of its process ("probe ms", "best"): close together, the figure was
taken at the machine's full speed; far apart, the machine was slowed then (a shared VM's CPU speed changes
from one second to the next, and the load average does not show it).
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


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(symbol: str, bars: int, repeat: int, workers: int, out: mp.Queue) -> None:
    from _data import bench_candles
    from _machine import probe_ms

    from ruleengine.backtest.driver import run_backtest
    from ruleengine.rules.model import load_rules

    candles, origin = bench_candles(symbol, bars)
    rules = load_rules(HERE.parent / RULES[symbol])
    best, cpu, result, probe, fastest = float("inf"), 0.0, None, 0.0, float("inf")
    for _ in range(repeat):
        now = probe_ms()
        fastest = min(fastest, now)
        c0, t0 = _cpu(), time.perf_counter()
        result = run_backtest(rules, candles, workers=workers)
        seconds = time.perf_counter() - t0
        if seconds < best:
            best, cpu, probe = seconds, _cpu() - c0, now
    assert result is not None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put((symbol, origin, len(candles), best, cpu, len(result.trades), result.ambiguous_exits, peak_mb,
             probe, fastest))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", default="1,2", help="comma-separated thread counts to run (default 1,2)")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    print(f"{'rules':<20}{'threads':>8}{'bars':>11}{'seconds':>9}{'cpu s':>7}{'bars/s':>12}{'trades':>8}{'ambig':>7}"
          f"{'peak MB':>9}{'probe ms':>10}{'best':>6}")
    for symbol, path in RULES.items():
        for workers in (int(w) for w in args.workers.split(",")):
            queue: mp.Queue = ctx.Queue()
            proc = ctx.Process(target=_run, args=(symbol, args.bars, args.repeat, workers, queue))
            proc.start()
            symbol, origin, n, seconds, cpu, trades, ambiguous, peak, probe, fastest = queue.get()
            proc.join()
            print(f"{path:<20}{workers:>8}{n:>11,}{seconds:>9.3f}{cpu:>7.2f}{n / seconds:>12,.0f}{trades:>8,}"
                  f"{ambiguous:>7,}{peak:>9.0f}{probe:>10.1f}{fastest:>6.1f}")
        print(f"  data: {origin}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
