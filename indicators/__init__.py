"""Causal numpy indicators for M1 candles, registered for the rule language.

Importing this package registers every indicator; ``indicators.registry()`` lists them with their
signature, output type and lookback. Each function is pure: arrays in, a same-length array out, NaN (or
False) during warm-up, keyword-only parameters, no state, no I/O.
"""

from indicators import (  # noqa: F401  (imported for their registrations)
    candle,
    orderflow,
    rolling,
    sessions,
    spread,
    structure,
    volatility,
    volume,
    vwap,
)
from indicators._registry import (
    CANDLE_INPUTS,
    SERIES_INPUTS,
    Indicator,
    Param,
    get,
    indicator,
    last_value,
    names,
    registry,
)

__all__ = [
    "CANDLE_INPUTS", "SERIES_INPUTS", "Indicator", "Param", "get", "indicator", "last_value", "names", "registry",
]
