"""M1 candle data: the container, the loaders for every supported format, and validation.

``ruleengine.data.inspect`` (the summaries behind ``ruleengine data inspect``) is imported on its own.
"""

from ruleengine.data.candles import Candles
from ruleengine.data.loaders import (
    FORMATS,
    DataWarning,
    LoadResult,
    candles_from_mt5_rates,
    load_candles,
    read_candles,
    server_time_to_utc,
    write_candles,
)
from ruleengine.data.validate import validate_candles

__all__ = [
    "FORMATS",
    "Candles",
    "DataWarning",
    "LoadResult",
    "candles_from_mt5_rates",
    "load_candles",
    "read_candles",
    "server_time_to_utc",
    "validate_candles",
    "write_candles",
]
