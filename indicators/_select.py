"""``np.where(cond, a, b)`` for float64 values without a branch per element.

np.where tests its condition element by element with a branch; on a condition that flips unpredictably (in a
session or not, inside a band or not, a wick test) the CPU mispredicts about half of them, which makes it
~15x slower than a plain ufunc pass (~0.6 vs ~0.04 ms per 2^17 bars, measured). :func:`select` computes the
same result bit for bit as integer arithmetic on the floats' bit patterns A and B:

    B ^ ((A ^ B) * cond)        (cond as 0 or 1)

is A where cond holds and B where it does not: the very bits np.where copies, NaN payloads and signed zeros
included. The graph's ``where`` node and indicators with a data-dependent choice use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["select"]

_ONE_BITS = np.float64(1.0).view(np.int64)


def select(cond: np.ndarray, a: Any, b: Any) -> np.ndarray:
    """``np.where(cond, a, b)`` as float64, for a bool array ``cond`` and float arrays or scalars ``a``, ``b``
    (see the module docstring). A non-bool or 0-d ``cond`` falls back to np.where."""
    c = np.asarray(cond)
    if c.ndim == 0 or c.dtype != np.bool_:
        return np.where(c, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    b_bits = np.asarray(b, dtype=np.float64).view(np.int64)
    diff = np.bitwise_xor(np.asarray(a, dtype=np.float64).view(np.int64), b_bits)
    if diff.ndim == 0 and diff == _ONE_BITS and b_bits == 0:  # ``1 if x else 0`` (b is +0.0): one pass
        return c.astype(np.float64)
    out = c.astype(np.int64)  # same-type passes: a mixed bool x int64 multiply is ~2x slower (measured)
    out *= diff  # A ^ B where cond holds, else 0
    if b_bits.ndim or b_bits:
        out ^= b_bits
    return out.view(np.float64)
