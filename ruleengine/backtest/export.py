"""Trades as CSV, the format ``ruleengine backtest --trades OUT.csv`` writes.

Columns: entry_time, exit_time (ISO-8601 UTC, ``2022-01-08T13:37:00Z``), side, entry_price, exit_price, sl,
tp, exit_reason, r_multiple, score, grade, signal_hash; then mae_r, mfe_r and ambiguous for analysis.
Prices are written with repr precision so a reader gets the floats back exactly. The file is written to a
temporary name and renamed, so a failed run never leaves a half-written file.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ruleengine.execution import Trade
from ruleengine.rules.decision import GRADES

__all__ = ["TRADE_COLUMNS", "iso_utc", "write_trades_csv"]

TRADE_COLUMNS = ("entry_time", "exit_time", "side", "entry_price", "exit_price", "sl", "tp", "exit_reason",
                 "r_multiple", "score", "grade", "signal_hash", "mae_r", "mfe_r", "ambiguous")


def iso_utc(t: int) -> str:
    """``2022-01-08T13:37:00Z`` for epoch seconds."""
    return f"{np.datetime64(int(t), 's')}Z"


def write_trades_csv(trades: Iterable[Trade], path: str | Path) -> Path:
    """Write ``trades`` to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(TRADE_COLUMNS)
            for t in trades:
                writer.writerow([
                    iso_utc(t.entry_time), iso_utc(t.exit_time), t.side, repr(t.entry_price), repr(t.exit_price),
                    repr(t.sl), repr(t.tp), t.exit_reason, repr(t.r_multiple), repr(t.score), GRADES[t.grade],
                    t.signal_hash, repr(t.mae_r), repr(t.mfe_r), str(t.ambiguous).lower(),
                ])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
