"""M1 candle data: the container and the loaders."""

from ruleengine.data.candles import Candles
from ruleengine.data.loaders import load_candles

__all__ = ["Candles", "load_candles"]
