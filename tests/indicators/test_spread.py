"""Spread indicators against a plain-Python reference on real bars, the plan's cases, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

import indicators
from indicators.spread import spread_mean, spread_ok, spread_ratio, spread_std, spread_zscore
from tests.strategies import candles

NAN = math.nan


def reference_spread_stats(spread: list[float], window: int) -> list[tuple[float, float, bool]]:
    """(mean, population std, constant?) of the ``window`` spreads before each bar; NaN in warm-up."""
    out: list[tuple[float, float, bool]] = []
    for t in range(len(spread)):
        if t < window:
            out.append((NAN, NAN, False))
            continue
        before = spread[t - window:t]
        mean = sum(before) / window
        std = math.sqrt(sum((s - mean) ** 2 for s in before) / window)
        out.append((mean, std, len(set(before)) == 1))
    return out


def reference_spread_ok(spread: list[float], volume: list[float], window: int = 100, max_ratio: float = 1.5,
                        max_ratio_low_volume: float = 2.0, volume_window: int = 20,
                        low_volume_threshold: float = 0.5) -> list[bool]:
    stats = reference_spread_stats(spread, window)
    out = []
    for t in range(len(spread)):
        mean = stats[t][0]
        if math.isnan(mean):
            out.append(False)
            continue
        quiet = False
        if t >= volume_window:
            normal = sum(volume[t - volume_window:t]) / volume_window
            quiet = normal > 0 and volume[t] / normal <= low_volume_threshold
        limit = max_ratio_low_volume if quiet else max_ratio
        out.append(spread[t] <= limit * mean)
    return out


@pytest.fixture(scope="module")
def xau_reference(xau_sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    stats = reference_spread_stats(np.asarray(xau_sample.spread).tolist(), 100)
    mean, std, constant = (np.array(col) for col in zip(*stats, strict=True))
    return mean, std, constant


def test_mean_std_ratio_match_reference_on_real_bars(xau_sample, xau_reference) -> None:
    # Spreads such as 0.1 have no exact binary form: the tree sum and the loop round differently (a few eps);
    # the loop's two-pass std and the fast S2 - S1^2/n path differ by at most ~1e6 eps relative.
    mean, std, constant = xau_reference
    spread = np.asarray(xau_sample.spread)
    np.testing.assert_allclose(spread_mean(spread), mean, rtol=1e-13)
    got_std = spread_std(spread)
    np.testing.assert_allclose(got_std, std, rtol=1e-9, atol=1e-15)
    assert (got_std[constant] == 0.0).all() and constant.sum() > 1000  # MT5: constant for long stretches
    np.testing.assert_allclose(spread_ratio(spread), spread / mean, rtol=1e-13)


def test_zscore_matches_reference_and_is_nan_on_constant_windows(xau_sample, xau_reference) -> None:
    mean, std, constant = xau_reference
    spread = np.asarray(xau_sample.spread)
    got = spread_zscore(spread)
    assert np.isnan(got[constant]).all()
    varied = ~constant & ~np.isnan(mean)
    # z amplifies the std's relative error when spread - mean is small against a tiny std: loose but tight
    np.testing.assert_allclose(got[varied], ((spread - mean) / std)[varied], rtol=1e-8, atol=1e-9)


def test_spread_ok_equals_reference_on_real_bars(xau_sample) -> None:
    spread, volume = np.asarray(xau_sample.spread), np.asarray(xau_sample.volume)
    ref = np.array(reference_spread_ok(spread.tolist(), volume.tolist()))
    got = indicators.get("spread_ok").compute(xau_sample)
    # Equal except where the spread sits on a limit within rounding (the two means differ by a few eps).
    mean = np.array([m for m, _, _ in reference_spread_stats(spread.tolist(), 100)])
    for t in np.flatnonzero(got != ref):
        assert min(abs(spread[t] - 1.5 * mean[t]), abs(spread[t] - 2.0 * mean[t])) < 1e-12, t
    assert (got != ref).sum() <= 5
    assert 0.9 < got[100:].mean() < 1.0  # the plan's thresholds pass nearly all Exness bars


def _bars(last_spread: float, last_volume: float) -> tuple[np.ndarray, np.ndarray]:
    """100 bars of spread 1.0 and volume 100, then one bar with the given spread and volume."""
    spread = np.append(np.full(100, 1.0), last_spread)
    volume = np.append(np.full(100, 100.0), last_volume)
    return spread, volume


@pytest.mark.parametrize(("last_spread", "last_volume", "ok"), [
    (1.0, 100.0, True),
    (1.5, 100.0, True),     # at the 1.5x limit (inclusive)
    (1.6, 100.0, False),    # spike at normal volume: blocked
    (1.9, 100.0, False),
    (1.9, 40.0, True),      # volume 0.4x its normal: low volume, the limit is 2x
    (2.1, 40.0, False),     # but not beyond
    (1.9, 50.0, True),      # 0.5x is low volume (inclusive)
    (1.9, 51.0, False),
])
def test_plan_spread_limits(last_spread: float, last_volume: float, ok: bool) -> None:
    spread, volume = _bars(last_spread, last_volume)
    result = spread_ok(spread, volume)
    assert result[100] == ok
    assert not result[:100].any()  # warm-up: no 100-bar normal yet


def test_spike_is_judged_against_the_preceding_normal() -> None:
    spread, _ = _bars(3.0, 100.0)
    assert spread_ratio(spread)[100] == 3.0   # a mean including the spike would read 3 / 1.02
    assert spread_mean(spread)[100] == 1.0
    assert spread_std(spread)[100] == 0.0 and np.isnan(spread_zscore(spread)[100])


def test_zero_spread_data_passes_and_ratio_is_nan() -> None:
    spread, volume = np.zeros(150), np.full(150, 5.0)
    assert spread_ok(spread, volume)[100:].all()
    assert np.isnan(spread_ratio(spread)).all()
    spread[120] = 0.01  # any spread against a zero normal is a widening
    assert not spread_ok(spread, volume)[120]


def test_custom_limits() -> None:
    spread, volume = _bars(1.25, 100.0)
    assert not spread_ok(spread, volume, max_ratio=1.2)[100]
    spread, volume = _bars(2.5, 10.0)
    assert spread_ok(spread, volume, max_ratio_low_volume=3.0)[100]
    assert not spread_ok(spread, volume, max_ratio_low_volume=3.0, low_volume_threshold=0.05)[100]


@settings(max_examples=60, deadline=None)
@given(c=candles(taker=False))
def test_spread_mean_and_std_are_non_negative(c) -> None:
    for window in (1, 5, 100):
        mean = spread_mean(c.spread, window=window)
        assert (mean[~np.isnan(mean)] >= 0).all()
        assert np.isnan(mean[:window]).all()
    std = spread_std(c.spread, window=5)
    assert (std[~np.isnan(std)] >= 0).all()
