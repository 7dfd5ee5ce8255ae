"""``indicators._select.select`` is np.where bit for bit (the graph's ``where`` is tested with it in
tests/ruleengine/dsl/test_evaluator.py)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators._select import select

_VALUES = st.one_of(st.sampled_from([0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 5e-324, 1.0]),
                    st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=st.integers(1, 64))
def test_select_equals_np_where_bit_for_bit(data: st.DataObject, size: int) -> None:
    cond = np.array(data.draw(st.lists(st.booleans(), min_size=size, max_size=size)), dtype=bool)
    a, b = (data.draw(st.one_of(_VALUES, st.lists(_VALUES, min_size=size, max_size=size).map(np.array)))
            for _ in range(2))
    got, want = select(cond, a, b), np.where(cond, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    assert got.dtype == np.float64 and got.shape == want.shape
    assert got.view(np.int64).tolist() == want.view(np.int64).tolist()


def test_select_of_a_strided_condition_and_the_fallbacks() -> None:
    cond = np.array([True, False, False, True, True, False])[::2]  # not contiguous
    assert select(cond, 2.0, np.array([7.0, 8.0, 9.0])).tolist() == [2.0, 8.0, 2.0]
    assert select(np.array([1, 0, 2]), 1.0, 0.0).tolist() == [1.0, 0.0, 1.0]  # not bool: np.where
    assert select(np.bool_(True), np.array([3.0]), 0.0).tolist() == [3.0]  # 0-d: np.where
    assert select(cond, 1.0, 0.0).tolist() == [1.0, 0.0, 1.0]  # the one-pass case
