"""Paper and live trading drivers."""
