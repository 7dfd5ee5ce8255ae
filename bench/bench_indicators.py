"""Time every registered indicator over >= 1M real M1 bars and print ns/bar each and the total.

    python bench/bench_indicators.py [--bars N] [--repeat R]

Gold indicators run on tiled XAUUSD MT5 bars; order-flow indicators (which need taker_buy_volume) on tiled
Binance BTCUSDT bars. Each figure is the best of R runs (the machine is shared; best-of is the least noisy
estimate of the cost). Series helpers (mean, lag, ...) are fed the close (or close > open for conditions).
Target (issue 2): the whole set under 1 s per 1M bars. Two totals are printed: each indicator computed on its
own (cold: every one recomputes what it shares with its family), and the whole set in one evaluation with
shared sub-results, which is how a rule file's graph evaluates them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import bench_candles

import indicators


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    data = {}
    for symbol in ("XAUUSD", "BTCUSD"):
        candles, origin = bench_candles(symbol, args.bars)
        data[symbol] = candles
        print(f"{symbol}: {origin}")
    print(f"\n{'indicator':<28}{'data':<8}{'ns/bar':>10}{'ms':>10}")
    total_ns = 0.0
    for name in indicators.names():
        ind = indicators.get(name)
        symbol = "BTCUSD" if ind.requires else "XAUUSD"
        c = data[symbol]
        src = {"x": c.close, "y": c.open, "cond": c.close > c.open}
        series = [src[s] for s in ind.series_inputs]
        best = np.inf
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            ind.compute(c, *series)
            best = min(best, time.perf_counter() - t0)
        ns_bar = best * 1e9 / len(c)
        total_ns += ns_bar
        print(f"{name:<28}{symbol:<8}{ns_bar:>10.1f}{best * 1e3:>10.1f}")
    print(f"\n{len(indicators.names())} indicators, each on its own (cold): total {total_ns:.0f} ns/bar "
          f"= {total_ns / 1e3:.3f} s per 1M bars")

    # The whole set in one evaluation, as a rule evaluation runs it: sub-results several indicators share
    # (the session VWAP, day segmentation, true range, the order-block core, ...) are computed once.
    from indicators._shared import sharing

    best_total = np.inf
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for symbol, c in data.items():
            src = {"x": c.close, "y": c.open, "cond": c.close > c.open}
            with sharing():
                for name in indicators.names():
                    ind = indicators.get(name)
                    if (symbol == "BTCUSD") != bool(ind.requires):
                        continue
                    ind.compute(c, *[src[s] for s in ind.series_inputs])
        best_total = min(best_total, time.perf_counter() - t0)
    bars = len(data["XAUUSD"])
    print(f"the whole set in one shared evaluation per data set: {best_total:.3f} s "
          f"= {best_total * 1e9 / bars:.0f} ns/bar per 1M bars")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
