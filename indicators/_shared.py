"""Sub-results that several indicators compute alike, computed once per evaluation of a rule file.

A rule file asks for ``in_vwap_band``, ``vwap_band_seconds``, ``vwap_distance_pct`` and both VWAP rejections,
and each of them starts from the same session VWAP; a private helper decorated with :func:`shared` is then
computed once while a :func:`sharing` block is open (the rule evaluator opens one around each evaluation) and
looked up by the others. Outside such a block it is a plain call, so every indicator stays a pure function
when called on its own, and inside one it returns the very same floats, only fewer times.

The memo key is the helper, the *identity* of its positional array arguments and the value of the others.
Identity is enough because only read-only arrays are keyed (candle columns and views of them; a call with a
writeable array, an array keyword or an unhashable argument is computed as usual, uncached): they cannot
change while the block is open, and the memo keeps a reference to them so that their ids cannot be reused by
other arrays. Memoised arrays are made read-only, so a caller that tried to modify a shared result in place
would fail loudly instead of corrupting another indicator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np

__all__ = ["shared", "sharing"]

F = TypeVar("F", bound=Callable[..., Any])

_MEMO: ContextVar[dict[tuple[Any, ...], tuple[Any, tuple[Any, ...]]] | None] = ContextVar(
    "indicators_shared_memo", default=None)


@contextmanager
def sharing() -> Iterator[None]:
    """Open a memo for :func:`shared` helpers (nested blocks reuse the outer memo); closed on exit."""
    if _MEMO.get() is not None:
        yield
        return
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def _freeze(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, tuple):
        for v in value:
            _freeze(v)
    return value


_ARRAY = object()  # marks an array's identity in a memo key


def shared(func: F) -> F:
    """Memoise ``func`` inside :func:`sharing` blocks (see the module docstring for the key)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        memo = _MEMO.get()
        if memo is None:
            return func(*args, **kwargs)
        key: list[Any] = [func]
        for a in args:
            if isinstance(a, np.ndarray):
                if a.flags.writeable:
                    return func(*args, **kwargs)
                key.append((_ARRAY, id(a)))  # the identity fixes dtype and shape too; the marker keeps
                # an array apart from any other argument
            else:
                key.append(a)
        if kwargs:
            for item in sorted(kwargs.items()):
                if isinstance(item[1], np.ndarray):
                    return func(*args, **kwargs)
                key.append(item)
        k = tuple(key)
        try:
            hit = memo.get(k)
        except TypeError:  # an unhashable argument: nothing to share
            return func(*args, **kwargs)
        if hit is None:
            hit = memo[k] = (_freeze(func(*args, **kwargs)), args)  # args keep the keyed arrays alive
        return hit[0]

    return wrapper  # type: ignore[return-value]
