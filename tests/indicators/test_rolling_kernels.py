"""The fast window helpers (indicators._rolling) against plain loops and the _rolling primitives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators import _rolling
from indicators import _rolling as _windows
from indicators.volatility import _window_sums

WINDOWS = [1, 2, 3, 5, 7, 20, 64, 100]


def _loop_std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


@pytest.fixture(scope="module")
def spreads_and_volumes(xau_sample) -> list[np.ndarray]:
    return [np.asarray(xau_sample.spread), np.asarray(xau_sample.volume), np.asarray(xau_sample.close)]


@pytest.mark.parametrize("n", WINDOWS)
def test_sum_and_std_match_plain_loops_on_real_bars(spreads_and_volumes, n: int) -> None:
    # The helpers add in a binary tree, the loop left to right: equal up to rounding (a few eps relative).
    # Standard deviation: the fast path S2 - S1^2/n loses up to eps * mean^2 / var relative, at most 1e6 eps.
    for x in spreads_and_volumes:
        sums, stds = _windows.window_sum(x, n), _windows.window_std(x, n)
        assert np.isnan(sums[: n - 1]).all() and np.isnan(stds[: n - 1]).all()
        for t in range(n - 1, len(x), 97):
            window = x[t - n + 1:t + 1].tolist()
            assert sums[t] == pytest.approx(sum(window), rel=1e-14)
            assert stds[t] == pytest.approx(_loop_std(window), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("n", WINDOWS)
def test_extremes_equal_rolling_primitives_exactly(spreads_and_volumes, n: int) -> None:
    for x in spreads_and_volumes:
        np.testing.assert_array_equal(_windows.window_max(x, n), _rolling.rolling_max(x, n))
        np.testing.assert_array_equal(_windows.window_min(x, n), _rolling.rolling_min(x, n))
        np.testing.assert_allclose(_windows.window_sum(x, n), _rolling.rolling_sum(x, n), rtol=1e-14)


def test_std_is_exactly_zero_on_constant_windows() -> None:
    x = np.full(300, 0.1)
    x[150] = 0.26
    std = _windows.window_std(x, 100)
    assert (std[99:150] == 0.0).all()  # textbook S2 - S1^2/n leaves ~1e-17 here
    assert (std[150:250] > 0.0).all()
    assert (std[250:] == 0.0).all()


def test_nan_propagates_to_windows_holding_it() -> None:
    x = np.arange(10.0)
    x[4] = np.nan
    for f in (_windows.window_sum, _windows.window_std, _windows.window_max, _windows.window_min):
        out = f(x, 3)
        assert np.isnan(out[:2]).all() and np.isnan(out[4:7]).all() and not np.isnan(out[[2, 3, 7, 8, 9]]).any()


def test_window_longer_than_data_is_all_nan() -> None:
    assert np.isnan(_windows.window_sum(np.ones(5), 6)).all()
    assert np.isnan(_windows.preceding_mean(np.ones(5), 5)).all()


def test_preceding_stats_exclude_the_current_bar() -> None:
    x = np.array([1.0, 2.0, 3.0, 100.0])
    assert _windows.preceding_mean(x, 3)[3] == 2.0
    assert _windows.preceding_std(x, 3)[3] == pytest.approx(math.sqrt(2 / 3))
    assert np.isnan(_windows.preceding_mean(x, 3)[:3]).all()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    start=st.integers(0, 3000),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["gamma", "quantized", "price"]),
)
def test_window_exact_across_chunk_boundaries(n: int, start: int, seed: int, kind: str) -> None:
    # 70,000 bars cross two 32,768-bar chunk boundaries; a slice shifts where they fall.
    rng = np.random.default_rng(seed)
    x = {
        "gamma": rng.gamma(2.0, 50.0, 70_000),
        "quantized": np.round(rng.choice([0.09, 0.1, 0.1, 0.1, 0.12, 0.26], 70_000), 3),
        "price": 2000 + np.cumsum(rng.normal(0, 0.3, 70_000)),
    }[kind]
    for f in (_windows.window_sum, _windows.window_std, _windows.window_max, _windows.window_min):
        full, part = f(x, n), f(x[start:], n)
        np.testing.assert_array_equal(part[n - 1:], full[start + n - 1:], err_msg=f"{f.__name__}({n})")


# -- newest-bar kernels: the array kernels' last value, bit for bit -----------------------------------------


def _bits_equal(got: object, expected: float) -> bool:
    if type(got) is not float:
        return False
    if math.isnan(expected):
        return math.isnan(got)
    return got == expected and math.copysign(1.0, got) == math.copysign(1.0, expected)


_LAST_KERNELS = [
    (_windows.window_sum, _windows.last_window_sum),
    (_windows.window_mean, _windows.last_window_mean),
    (_windows.window_std, _windows.last_window_std),
    (_windows.window_max, _windows.last_window_max),
    (_windows.window_min, _windows.last_window_min),
    (_windows.preceding_mean, _windows.last_preceding_mean),
    (_windows.preceding_std, _windows.last_preceding_std),
]


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 140),
    extra=st.integers(-3, 5),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["gamma", "quantized", "price", "scales", "signed_zeros"]),
    specials=st.lists(st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]), max_size=2),
)
def test_last_kernels_equal_array_kernels_bit_for_bit(n: int, extra: int, seed: int, kind: str,
                                                      specials: list[float]) -> None:
    # Windows shorter than n (NaN), exactly n and longer; constant, nearly constant (the two-pass std path),
    # wide-ranging values, signed zeros, NaN and infinities.
    rng = np.random.default_rng(seed)
    m = max(1, n + extra)
    x = {
        "gamma": rng.gamma(2.0, 50.0, m),
        "quantized": np.round(rng.choice([0.09, 0.1, 0.1, 0.1, 0.12], m), 3),
        "price": 2000 + np.cumsum(rng.normal(0, 0.3, m)),
        "scales": rng.normal(size=m) * 10.0 ** rng.uniform(-8, 8, m),
        "signed_zeros": rng.choice([0.0, -0.0, 1.0, -1.0], m),
    }[kind]
    for value in specials:
        x[rng.integers(0, m)] = value
    x.flags.writeable = False
    for array_kernel, last_kernel in _LAST_KERNELS:
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf in a window, in either kernel
            got, expected = last_kernel(x, n), array_kernel(x, n)[-1]
        assert _bits_equal(got, expected), f"{last_kernel.__name__}({n}) on {m} bars: {got!r} != {expected!r}"


@pytest.mark.parametrize("n", [*range(1, 70), 127, 128, 129, 511, 512, 513, 1000, 1023, 1500])
def test_tree_sum_is_both_kernels_tree(n: int) -> None:
    # tree_sum follows window_sum's tree, and with nearest_first volatility._window_sums' (another order of
    # the same chunks); above _UNROLLED_MAX bars it takes the pairwise-list path instead of a compiled one.
    x = np.random.default_rng(n).normal(size=n) * 10.0 ** np.random.default_rng(n + 1).uniform(-6, 6, n)
    values = x.tolist()
    assert _bits_equal(_windows.tree_sum(values), _windows.window_sum(x, n)[-1])
    assert _bits_equal(_windows.tree_sum(values, nearest_first=True), _window_sums(x, (n,))[0][-1])


def test_quotients_follow_numpy() -> None:
    with np.errstate(divide="ignore", invalid="ignore"):
        for x in (1.5, -1.5, 0.0, -0.0, math.inf, math.nan):
            for by in (2.0, 0.0, -0.0, math.inf, math.nan):
                assert _bits_equal(_windows.ieee_quotient(x, by), float(np.float64(x) / np.float64(by))), (x, by)
                expected = _windows.safe_divide(np.array([x]), np.array([by]))[0]
                assert _bits_equal(_windows.safe_quotient(x, by), float(expected)), (x, by)
