"""ruleengine: a declarative rule engine for micro-scalp trading on M1 candles."""

__version__ = "0.1.0"

__all__ = ["__version__"]
