"""Real M1 data for benchmarks, tiled to the size a benchmark needs.

Tiling repeats a real file end to end, shifting each copy forward by the file's span rounded up to whole
weeks, so weekday and session structure (daily breaks, weekends) stays where it was. Benchmarks say when
they tile. Without ../shared/data they fall back to the bundled sample (and say so).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ruleengine.data import Candles, load_candles
from ruleengine.resources import sample_file

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WEEK = 7 * 86_400

#: Which real file serves which benchmark (../shared/data/README.md, "Which file for what").
FILES = {
    "XAUUSD": "xauusd_mt5_2026-03_05_m1.csv.gz",
    "BTCUSD": "btcusdt_binance_spot_2024h1_m1.csv.gz",
}


def tile(candles: Candles, min_bars: int) -> Candles:
    """Repeat ``candles`` until it has at least ``min_bars`` bars, shifting times by whole weeks per copy."""
    copies = max(1, math.ceil(min_bars / len(candles)))
    span = int(candles.time[-1] - candles.time[0]) + 60
    shift = math.ceil(span / WEEK) * WEEK
    cols = {}
    for name in candles.columns:
        values = getattr(candles, name)
        if name == "time":
            cols[name] = np.concatenate([values + k * shift for k in range(copies)])
        else:
            cols[name] = np.tile(values, copies)
    return Candles(**cols, symbol=candles.symbol, source=f"{candles.source} x{copies}")


def bench_candles(symbol: str, min_bars: int = 1_000_000) -> tuple[Candles, str]:
    """Real bars for ``symbol`` tiled to ``min_bars``, and a sentence saying where they came from."""
    path = SHARED / FILES[symbol]
    if not path.is_file():
        path = sample_file(symbol)
        origin = f"bundled sample {path.name} (../shared/data absent)"
    else:
        origin = f"../shared/data/{path.name}"
    base = load_candles(path, symbol=symbol)
    tiled = tile(base, min_bars)
    return tiled, f"{origin}: {len(base):,} real bars tiled x{math.ceil(min_bars / len(base))} to {len(tiled):,}"
