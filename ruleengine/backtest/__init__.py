"""Backtesting: the driver, metrics and reports."""
