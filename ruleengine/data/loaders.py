"""Loading M1 candles from files (INITIAL VERSION: header CSV only; the data-layer work extends this)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ruleengine.data.candles import Candles
from ruleengine.errors import DataError

__all__ = ["load_candles"]


def load_candles(path: str | Path, *, symbol: str = "") -> Candles:
    """Read a CSV / CSV.gz with a header row (time as ISO-8601 UTC)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        header = fh.readline().strip().split(",")
        rows = [line.rstrip("\n").split(",") for line in fh if line.strip()]
    if not rows:
        raise DataError("no rows", path=path)
    cols = list(zip(*rows, strict=True))
    data = {}
    for name, values in zip(header, cols, strict=True):
        if name == "time":
            data["time"] = np.array([v.rstrip("Z") for v in values], dtype="datetime64[s]").astype(np.int64)
        else:
            data[name] = np.array([v if v else "nan" for v in values], dtype=np.float64)
    data.setdefault("spread", np.zeros(len(rows)))
    return Candles(**data, symbol=symbol, source=str(path))
