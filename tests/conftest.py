"""Shared fixtures: real bars (bundled sample, or ../shared/data when present) and Hypothesis candles."""

from __future__ import annotations

from pathlib import Path

import pytest

from ruleengine.data import Candles, load_candles
from ruleengine.resources import sample_file

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the ../shared/data folder is not next to this checkout)")
    return path


@pytest.fixture(scope="session")
def xau_sample() -> Candles:
    """The bundled real XAUUSD sample (Exness MT5, 21,924 bars, bid prices, spread in dollars)."""
    return load_candles(sample_file("XAUUSD"), symbol="XAUUSD")


@pytest.fixture(scope="session")
def btc_sample() -> Candles:
    """The bundled real BTCUSDT sample (Binance spot, 30,240 bars, with taker_buy_volume)."""
    return load_candles(sample_file("BTCUSD"), symbol="BTCUSD")
