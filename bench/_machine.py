"""How fast this machine runs right now, printed with benchmark figures so they can be read.

A shared VM's CPU can slow down from one second to the next for reasons outside it, which the load average
does not show. On this project's development VM, a 9.5-minute log of a probe like the one below (a longer
numpy half) beside 1M-bar backtests of ``rules/xauusd.yaml`` found the machine slowed (its Python loop over
1.15x its best time) in 64% of the samples, the numpy half at a median 1.15x and the Python half at 1.7x
their best, and backtest times tracking both (correlation with the numpy half 0.89 for one thread and 0.64
for two; with the Python half 0.79 and 0.54). A figure is only comparable with another taken at a similar
probe time. Even then figures spread by up to ~20% (measured: 1.48M-1.82M bars/s on one thread at probes
of 9.8-11 ms), because the probe does not see every slowdown, so a regression is a best-of-N figure below
that spread at a similar probe.

The probe is fixed work of both kinds a backtest does: a pure-Python loop (the state machine's kind) and
numpy passes over 2^17 floats (a chunk of the signal evaluation), ~10 ms at full speed there; its time is
the best of three back-to-back tries after an untimed one, so neither a cold start nor one preempted try
counts.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["probe_ms"]

_VALUES = np.random.default_rng(0).random(1 << 17)


def _work() -> float:
    total = 0
    for i in range(100_000):  # pure Python: loads, adds, a compare and a branch per step
        if i & 1:
            total += i
    x = _VALUES
    for _ in range(6):  # numpy: a running sum, a select and arithmetic over one chunk
        running = np.cumsum(x)
        picked = np.where(x > 0.5, x, running)
        x = picked * 0.5 + 0.25 * _VALUES
    return float(total) + float(x[-1])


def probe_ms(tries: int = 3) -> float:
    """Milliseconds of the fixed probe work, best of ``tries`` back-to-back runs after an untimed one (a
    process's first run also pays for its first allocations)."""
    _work()
    best = float("inf")
    for _ in range(tries):
        t0 = time.perf_counter()
        _work()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3
