"""Locating the files that ship with the project: ``config/`` and the bundled sample data.

In a source checkout (and an editable install) they sit at the top of the repository, next to the
``ruleengine`` package. A wheel carries copies inside the package under ``ruleengine/_bundled/`` (see
``pyproject.toml``), so the same lookups work after a plain ``pip install``. The bundled copy wins when it
exists, because then the package is installed and the repository layout cannot be assumed.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["config_dir", "sample_dir", "sample_file"]

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_bundled"
_REPO = _PACKAGE.parent


def config_dir() -> Path:
    """Directory holding ``symbols.yaml`` and ``sessions.yaml``."""
    bundled = _BUNDLED / "config"
    return bundled if bundled.is_dir() else _REPO / "config"


def sample_dir() -> Path:
    """Directory holding the bundled real M1 sample files."""
    bundled = _BUNDLED / "sample"
    return bundled if bundled.is_dir() else _REPO / "data" / "sample"


_SAMPLES = {
    "XAUUSD": "xauusd_mt5_exness_2026-06_m1.csv.gz",
    "BTCUSD": "btcusdt_binance_spot_2024-06_m1.csv.gz",
}


def sample_file(symbol: str = "XAUUSD") -> Path:
    """The bundled sample for a symbol (``XAUUSD`` or ``BTCUSD``)."""
    try:
        return sample_dir() / _SAMPLES[symbol.upper()]
    except KeyError:
        known = ", ".join(sorted(_SAMPLES))
        raise KeyError(f"no bundled sample for symbol {symbol!r}; bundled: {known}") from None
