"""Keep freed array memory in the process instead of handing it back to the OS after every temporary.

A backtest evaluates ~130 graph nodes per chunk of 2^17 bars, and each makes or frees arrays of about 1 MiB.
glibc's malloc serves blocks that large with a fresh ``mmap`` and returns them with ``munmap`` when freed
(its threshold adapts upwards, but trimming the top of the heap undoes much of that), so nearly every
temporary starts on untouched pages: one page fault and a page of zeros written by the kernel per 4 KiB,
~0.5 ms per MiB, more than the arithmetic on it. Measured on 1M real XAUUSD bars (``rules/xauusd.yaml``):
~12,000 page faults and 0.04 s of system time per backtest by default, ~4,000 and ~0.01 s with the
settings below, and 10-25% less wall time.

:func:`keep_freed_memory` raises three glibc limits once per process (``mallopt``): blocks up to 32 MiB come
from the heap (``M_MMAP_THRESHOLD``, glibc's largest allowed value), and up to 256 MiB of free memory at
the top of the heap stays there (``M_TRIM_THRESHOLD``), grown 32 MiB at a time (``M_TOP_PAD``). The
process's resident memory then stays near its peak after a backtest instead of shrinking; peak memory is
about the same. Values computed are unaffected (memory is memory). Elsewhere than glibc (macOS, Windows,
musl) it does nothing. Set ``RULEENGINE_MALLOC=default`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc's <malloc.h>
_SETTINGS = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 256 << 20), (_M_TOP_PAD, 32 << 20))
_applied: bool | None = None  # None: not tried yet


def keep_freed_memory() -> bool:
    """Apply the settings above once per process; True when they are in effect (glibc, not opted out)."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if os.environ.get("RULEENGINE_MALLOC", "").strip().lower() == "default":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - glibc always has it
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in _SETTINGS)
