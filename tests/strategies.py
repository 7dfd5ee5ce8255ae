"""Hypothesis strategies for candles and indicator parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from indicators import Indicator
from ruleengine.data import Candles

_STEPS = np.array([60] * 20 + [120, 180, 3600, 7200, 86_400, 2 * 86_400 + 3600])


@st.composite
def candles(draw: st.DrawFn, min_size: int = 2, max_size: int = 400, taker: bool = True) -> Candles:
    """Valid M1 candles: minute-aligned increasing times with occasional gaps (hours, days), a random walk
    at a random price level, some flat bars and zero volumes, non-negative spreads."""
    n = draw(st.integers(min_size, max_size))
    seed = draw(st.integers(0, 2**32 - 1))
    level = draw(st.sampled_from([1.0, 100.0, 2000.0, 4500.0, 60_000.0]))
    rng = np.random.default_rng(seed)
    start = int(rng.integers(1_500_000_000, 1_800_000_000)) // 60 * 60
    time = start + np.concatenate([[0], np.cumsum(rng.choice(_STEPS, n - 1))]).astype(np.int64)
    step = level * 2e-4
    close = level + np.cumsum(rng.normal(0, step, n))
    close = np.round(close, 2)
    open_ = np.round(np.concatenate([[level], close[:-1]]) + rng.normal(0, step / 4, n), 2)
    flat = rng.random(n) < 0.05
    open_[flat] = close[flat]
    high = np.maximum(open_, close) + np.round(np.abs(rng.normal(0, step, n)), 2) * (~flat)
    low = np.minimum(open_, close) - np.round(np.abs(rng.normal(0, step, n)), 2) * (~flat)
    volume = np.round(rng.gamma(2.0, 50.0, n), 3) * (rng.random(n) > 0.05)
    spread = np.round(np.abs(rng.normal(level * 3e-5, level * 1e-5, n)), 3)
    cols: dict[str, Any] = dict(time=time, open=open_, high=high, low=low, close=close, volume=volume, spread=spread)
    if taker:
        cols["taker_buy_volume"] = np.round(volume * rng.random(n), 3)
    return Candles(**cols, symbol="TEST")


@st.composite
def small_params(draw: st.DrawFn, ind: Indicator) -> dict[str, Any]:
    """Parameters for ``ind`` drawn small enough that a few hundred bars leave the warm-up."""
    out: dict[str, Any] = {}
    for p in ind.params:
        if not draw(st.booleans()):
            continue  # keep the default
        if p.choices is not None:
            out[p.name] = draw(st.sampled_from(p.choices))
        elif p.type is bool:
            out[p.name] = draw(st.booleans())
        elif p.type is int:
            lo = int(p.low) if p.low is not None else 0
            hi = int(p.high) if p.high is not None else lo + 30
            out[p.name] = draw(st.integers(lo, max(lo, min(hi, lo + 30))))
        elif p.type is float:
            lo = p.low if p.low is not None else 0.0
            hi = p.high if p.high is not None else lo + 5.0
            out[p.name] = draw(st.floats(lo, min(hi, lo + 5.0), allow_nan=False))
    return out


def series_for(ind: Indicator, c: Candles) -> list[np.ndarray]:
    """Series arguments derived from candles: x = close, y = open, cond = (close > open)."""
    src = {"x": c.close, "y": c.open, "cond": c.close > c.open}
    return [src[name] for name in ind.series_inputs]
