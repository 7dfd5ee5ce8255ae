"""The columnar M1 candle container every other part of the engine reads.

One numpy array per column, all the same length, oldest bar first. ``time`` is the bar's **open** time in
UTC epoch seconds (int64); prices are float64 in the quote currency; ``spread`` is in price units (dollars
for XAUUSD), never in broker points: loaders convert. Arrays are made read-only on construction so that no
indicator or driver can modify history in place (a silent source of lookahead bugs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only; pandas is an optional dependency
    import pandas as pd

__all__ = ["OPTIONAL_COLUMNS", "PRICE_COLUMNS", "REQUIRED_COLUMNS", "Candles"]

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
REQUIRED_COLUMNS: tuple[str, ...] = ("time", "open", "high", "low", "close", "volume", "spread")
OPTIONAL_COLUMNS: tuple[str, ...] = ("taker_buy_volume", "real_volume")


def _frozen(values: Any, dtype: type, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=dtype)
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} must be one-dimensional, got shape {arr.shape}")
    if arr.flags.writeable:  # the caller may still hold it: take a private copy before freezing
        arr = arr.copy()
        arr.flags.writeable = False
    return arr


@dataclass(frozen=True, kw_only=True, eq=False)
class Candles:
    """M1 bars as parallel numpy arrays (see the module docstring for units).

    ``taker_buy_volume`` (the taker-buy base volume of exchange klines) and ``real_volume`` (MT5's exchange
    volume) are ``None`` when the source has no such column; order-flow indicators need the former.
    """

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    spread: np.ndarray
    taker_buy_volume: np.ndarray | None = None
    real_volume: np.ndarray | None = None
    symbol: str = ""
    source: str = field(default="")

    def __post_init__(self) -> None:
        n = None
        for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
            values = getattr(self, name)
            if values is None:
                if name in REQUIRED_COLUMNS:
                    raise ValueError(f"column {name!r} is required")
                continue
            arr = _frozen(values, np.int64 if name == "time" else np.float64, name)
            object.__setattr__(self, name, arr)
            if n is None:
                n = len(arr)
            elif len(arr) != n:
                raise ValueError(f"column {name!r} has {len(arr)} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.time)

    def __getitem__(self, key: slice) -> Candles:
        """A contiguous slice of bars (views, no copy). Only slices: a single bar is not a ``Candles``."""
        if not isinstance(key, slice):
            raise TypeError("Candles can only be sliced (candles[a:b]); read a column for single values")
        if key.step not in (None, 1):
            raise ValueError("Candles slices must be contiguous (step 1)")
        return self._trusted({name: getattr(self, name)[key] for name in self.columns})

    def _trusted(self, columns: dict[str, np.ndarray]) -> Candles:
        """A copy with ``columns`` replaced, skipping ``__post_init__``: only for columns derived from checked
        ones so that the checks could only pass again (slices: one-dimensional views of the right dtype,
        contiguous, read-only, all cut alike; concatenations: fresh arrays, frozen here). This keeps a live
        driver's per-bar ``candles[-window:]`` and ``concat`` free of validation and defensive copies."""
        out = object.__new__(Candles)
        out.__dict__.update(self.__dict__)
        out.__dict__.update(columns)
        return out

    def __repr__(self) -> str:
        if len(self) == 0:
            return f"Candles({self.symbol or '?'}, 0 bars)"
        first = np.datetime64(int(self.time[0]), "s")
        last = np.datetime64(int(self.time[-1]), "s")
        return f"Candles({self.symbol or '?'}, {len(self)} bars, {first}Z .. {last}Z)"

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the columns present (required ones first)."""
        return tuple(c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if getattr(self, c) is not None)

    def column(self, name: str) -> np.ndarray:
        """A column by name; ``KeyError`` naming the available ones when absent."""
        if name not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) or getattr(self, name) is None:
            raise KeyError(f"no column {name!r}; available: {', '.join(self.columns)}")
        return getattr(self, name)

    def with_columns(self, **columns: np.ndarray) -> Candles:
        """A copy with some columns replaced (e.g. a reflected price series in a symmetry test)."""
        return replace(self, **columns)

    def concat(self, other: Candles) -> Candles:
        """Bars of ``self`` followed by bars of ``other`` (same columns). Used to append live bars."""
        if self.columns != other.columns:
            raise ValueError(f"cannot concatenate columns {self.columns} with {other.columns}")
        columns = {c: np.concatenate([getattr(self, c), getattr(other, c)]) for c in self.columns}
        for values in columns.values():  # fresh arrays of checked dtypes: freezing them needs no copy
            values.flags.writeable = False
        return self._trusted(columns)

    # -- pandas interop (pandas is imported only here, lazily) ------------------------------------------
    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame indexed by a tz-aware UTC ``DatetimeIndex`` named ``time``."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas needs pandas: pip install 'ruleengine[pandas]'") from exc
        data = {c: np.asarray(getattr(self, c)) for c in self.columns if c != "time"}
        index = pd.DatetimeIndex(pd.to_datetime(self.time, unit="s", utc=True), name="time")
        return pd.DataFrame(data, index=index)

    @classmethod
    def from_pandas(cls, frame: pd.DataFrame, *, symbol: str = "", source: str = "pandas") -> Candles:
        """Inverse of :meth:`to_pandas`: a DatetimeIndex (or a ``time`` column) plus the price columns.

        A naive index is taken as UTC; a tz-aware one is converted to UTC. A missing ``spread`` column
        becomes zeros (say so in your costs), a missing ``volume`` column zeros too.
        """
        import pandas as pd  # the caller already has pandas if it holds a DataFrame

        if "time" in frame.columns:
            stamps = pd.to_datetime(frame["time"], utc=True)
        else:
            index = frame.index
            if not isinstance(index, pd.DatetimeIndex):
                raise ValueError("from_pandas needs a DatetimeIndex or a 'time' column")
            stamps = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        seconds = pd.DatetimeIndex(stamps).as_unit("s").asi8.astype(np.int64)
        n = len(frame)
        cols: dict[str, Any] = {"time": seconds}
        for name in (*REQUIRED_COLUMNS[1:], *OPTIONAL_COLUMNS):
            if name in frame.columns:
                cols[name] = frame[name].to_numpy(dtype=np.float64)
            elif name in ("volume", "spread"):
                cols[name] = np.zeros(n)
        missing = [c for c in PRICE_COLUMNS if c not in cols]
        if missing:
            raise ValueError(f"from_pandas: missing price columns {missing}")
        return cls(**cols, symbol=symbol, source=source)


def candle_fields() -> tuple[str, ...]:
    """All dataclass field names of :class:`Candles` (columns and metadata)."""
    return tuple(f.name for f in fields(Candles))
