"""Properties every registered indicator must have: right shape and dtype, causality, window exactness.

Causality (no lookahead): the value at bar t computed on bars[:k] (k > t) equals the value computed on all
bars, bit for bit. Window exactness: computed on bars[s:], the value at t >= s + lookback equals the full
history value; this is what lets the live evaluator keep only a window of bars.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import indicators
from tests.strategies import candles, series_for, small_params

ALL = indicators.names()
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _compute(ind: indicators.Indicator, c, params):
    try:
        return ind.compute(c, *series_for(ind, c), **params)
    except ValueError:
        assume(False)  # a parameter combination the indicator rejects with a clear error
        raise


@pytest.mark.parametrize("name", ALL)
@SETTINGS
@given(data=st.data())
def test_shape_dtype_and_causality(name: str, data: st.DataObject) -> None:
    ind = indicators.get(name)
    c = data.draw(candles())
    params = data.draw(small_params(ind))
    full = _compute(ind, c, params)
    assert full.shape == (len(c),)
    assert full.dtype == (np.bool_ if ind.output == "boolean" else np.float64), full.dtype
    k = data.draw(st.integers(1, len(c)))
    prefix = _compute(ind, c[:k], params)
    np.testing.assert_array_equal(prefix, full[:k], err_msg=f"{name}{params}: changed when bars after {k} changed")


@pytest.mark.parametrize("name", [n for n in ALL if indicators.get(n).window_exact is not False])
@SETTINGS
@given(data=st.data())
def test_window_exact_after_lookback(name: str, data: st.DataObject) -> None:
    ind = indicators.get(name)
    params = data.draw(small_params(ind))
    assume(ind.is_window_exact(params))
    lookback = ind.lookback(params)
    # long enough to leave the lookback (day-anchored indicators reach 1439-2880 bars back)
    c = data.draw(candles(min_size=max(20, lookback + 2), max_size=max(400, lookback + 400)))
    s = data.draw(st.integers(0, len(c) - lookback - 1))
    full = _compute(ind, c, params)
    window = _compute(ind, c[s:], params)
    np.testing.assert_array_equal(window[lookback:], full[s + lookback:],
                                  err_msg=f"{name}{params}: window starting at {s} differs after lookback {lookback}")


@pytest.mark.parametrize("name", ALL)
def test_registered_with_docstring_and_signature(name: str) -> None:
    ind = indicators.get(name)
    assert ind.summary and ind.func.__doc__
    assert ind.lookback() >= 0
    assert ind.signature().startswith(f"{name}(")
