"""Volume indicators against a plain-Python reference on real bars, hand-built cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

import indicators
from tests.strategies import candles


def reference_volume_ratio(volume: list[float], window: int) -> list[float]:
    """volume[t] / mean(volume[t-window .. t-1]), left to right; NaN in warm-up and on a zero mean."""
    out = []
    for t, v in enumerate(volume):
        if t < window:
            out.append(math.nan)
            continue
        mean = sum(volume[t - window:t]) / window
        out.append(v / mean if mean != 0 else math.nan)
    return out


@pytest.mark.parametrize("window", [1, 5, 20, 100])
def test_volume_ratio_equals_reference_exactly_on_tick_volume(xau_sample, window: int) -> None:
    # Gold tick volume is a whole number, so every window sum is exact in any order: bit-equal.
    volume = np.asarray(xau_sample.volume)
    assert (volume == np.round(volume)).all()
    got = indicators.get("volume_ratio").compute(xau_sample, window=window)
    np.testing.assert_array_equal(got, reference_volume_ratio(volume.tolist(), window))


@pytest.mark.parametrize("window", [5, 20])
def test_volume_ratio_matches_reference_on_btc_volume(btc_sample, window: int) -> None:
    # BTC volume has decimals: the tree sum and the loop round differently, by a few eps.
    got = indicators.get("volume_ratio").compute(btc_sample, window=window)
    ref = reference_volume_ratio(np.asarray(btc_sample.volume).tolist(), window)
    np.testing.assert_allclose(got, ref, rtol=1e-13)


@pytest.mark.parametrize(("name", "param", "value", "compare"), [
    ("volume_spike", "ratio", 1.2, lambda r, x: r >= x),
    ("volume_spike", "ratio", 1.5, lambda r, x: r >= x),
    ("low_volume", "threshold", 0.5, lambda r, x: r <= x),
])
def test_flags_equal_reference_on_real_bars(xau_sample, name, param, value, compare) -> None:
    ref = np.array([compare(r, value) if not math.isnan(r) else False
                    for r in reference_volume_ratio(np.asarray(xau_sample.volume).tolist(), 20)])
    got = indicators.get(name).compute(xau_sample, **{param: value})
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, ref)
    assert 0 < got.sum() < len(got)


def test_current_bar_is_excluded_from_its_baseline() -> None:
    volume = np.array([10.0, 10.0, 10.0, 50.0])
    assert indicators.volume.volume_ratio(volume, window=3)[3] == 5.0  # 50 / 10, not 50 / mean(10, 10, 50)


def test_undefined_ratio_is_nan_and_flags_false() -> None:
    volume = np.array([0.0, 0.0, 0.0, 5.0, 1.0, 1.0, 1.0, 0.2])
    ratio = indicators.volume.volume_ratio(volume, window=3)
    assert np.isnan(ratio[:4]).all()  # warm-up, then a zero baseline
    assert ratio[7] == pytest.approx(0.2)
    spike = indicators.volume.volume_spike(volume, window=3)
    quiet = indicators.volume.low_volume(volume, window=3)
    assert not spike[:4].any() and not quiet[:4].any()
    assert quiet[7] and not spike[7]


def test_spike_threshold_is_inclusive() -> None:
    volume = np.array([10.0, 10.0, 12.0, 11.9, 15.0])
    spike = indicators.volume.volume_spike(volume, window=1, ratio=1.2)
    np.testing.assert_array_equal(spike, [False, False, True, False, True])


@settings(max_examples=50, deadline=None)
@given(c=candles(taker=False))
def test_ratio_is_non_negative_and_flags_agree_with_it(c) -> None:
    ratio = indicators.volume.volume_ratio(c.volume, window=5)
    assert (ratio[~np.isnan(ratio)] >= 0).all()
    np.testing.assert_array_equal(indicators.volume.volume_spike(c.volume, window=5, ratio=1.5), ratio >= 1.5)
    np.testing.assert_array_equal(indicators.volume.low_volume(c.volume, window=5, threshold=0.5), ratio <= 0.5)
