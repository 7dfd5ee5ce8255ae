"""Instrument, broker and session configuration: ``config/symbols.yaml`` and ``config/sessions.yaml``.

The YAML files are read once per process (``functools.cache``) into frozen, keyword-only dataclasses, so the
rest of the engine asks typed questions (``symbol_spec("XAUUSDc").point``) instead of digging in dicts. Every
problem in a file raises :class:`~ruleengine.errors.ConfigError` naming the file and the key path, e.g.
``config/symbols.yaml: symbols.XAUUSD.point: expected a positive number, got 'abc'``.

Units: ``point`` converts MetaTrader 5 points to prices (``spread_price = spread_points * point``);
``default_spread`` is in price units and stands in when a data file has no spread column. A broker's clock
is either a fixed offset from UTC (``server_utc_offset: "+03:00"``) or an IANA zone whose offset follows
daylight saving (``server_timezone: "Europe/Athens"``); MT5 bar times are that clock's wall time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta, timezone, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from ruleengine.errors import ConfigError
from ruleengine.resources import config_dir

__all__ = [
    "BrokerSpec",
    "SessionWindow",
    "SessionsConfig",
    "SymbolSpec",
    "SymbolsConfig",
    "broker_spec",
    "find_symbol",
    "load_sessions",
    "load_symbols",
    "parse_utc_offset",
    "symbol_spec",
]

_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})$")
_HHMM = re.compile(r"^(?P<hh>\d{2}):(?P<mm>\d{2})$")


@dataclass(frozen=True, kw_only=True)
class SymbolSpec:
    """One instrument of ``symbols.yaml``: its canonical name, broker aliases and price units."""

    name: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    digits: int
    point: float
    default_spread: float

    def matches(self, name: str) -> bool:
        """True for the canonical name or any alias, ignoring case (brokers disagree on ``XAUUSDm``/``xauusdm``)."""
        wanted = name.casefold()
        return wanted == self.name.casefold() or any(wanted == a.casefold() for a in self.aliases)


@dataclass(frozen=True, kw_only=True)
class BrokerSpec:
    """How one broker's MetaTrader 5 server differs from the defaults: its clock and its point sizes.

    Exactly one of ``server_utc_offset`` (fixed) and ``server_timezone`` (IANA, DST-aware) is set; a broker
    that sets neither runs on UTC. ``points`` maps a canonical symbol name to the broker's point, overriding
    :attr:`SymbolSpec.point` (Exness quotes XAUUSD with three digits: point 0.001).
    """

    name: str
    server_utc_offset: timedelta | None = None
    server_timezone: str | None = None
    points: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.server_utc_offset is not None and self.server_timezone is not None:
            raise ValueError(f"broker {self.name!r}: give server_utc_offset or server_timezone, not both")
        object.__setattr__(self, "points", MappingProxyType(dict(self.points)))

    def point_for(self, symbol: SymbolSpec) -> float:
        """The point of ``symbol`` at this broker: the broker override, else the symbol's own point."""
        return float(self.points.get(symbol.name, symbol.point))

    @property
    def tz(self) -> tzinfo:
        """The server clock as a ``tzinfo``: ``ZoneInfo`` for a zone, a fixed ``timezone`` otherwise."""
        if self.server_timezone is not None:
            return ZoneInfo(self.server_timezone)
        return timezone(self.server_utc_offset or timedelta(0))

    def describe_clock(self) -> str:
        """``"UTC+03:00"`` or ``"Europe/Athens"``, for messages and ``data inspect``."""
        if self.server_timezone is not None:
            return self.server_timezone
        return "UTC" + _format_offset(self.server_utc_offset or timedelta(0))


@dataclass(frozen=True, kw_only=True)
class SymbolsConfig:
    """All instruments and brokers of ``symbols.yaml``, with lookups that understand aliases."""

    path: Path
    symbols: Mapping[str, SymbolSpec]
    brokers: Mapping[str, BrokerSpec]

    def find_symbol(self, name: str) -> SymbolSpec | None:
        """The spec whose name or alias is ``name`` (case-insensitive), or ``None``."""
        for spec in self.symbols.values():
            if spec.matches(name):
                return spec
        return None

    def symbol(self, name: str) -> SymbolSpec:
        """Like :meth:`find_symbol` but raises ``ConfigError`` listing the known names."""
        spec = self.find_symbol(name)
        if spec is None:
            known = ", ".join(f"{s.name} ({', '.join(s.aliases)})" if s.aliases else s.name
                              for s in self.symbols.values())
            raise ConfigError(f"{self.path}: unknown symbol {name!r}; known: {known}. Add it under 'symbols:'.")
        return spec

    def broker(self, name: str) -> BrokerSpec:
        """The broker called ``name`` (case-insensitive); ``ConfigError`` listing the known ones otherwise."""
        for key, spec in self.brokers.items():
            if key.casefold() == name.casefold():
                return spec
        known = ", ".join(self.brokers) or "none"
        raise ConfigError(f"{self.path}: unknown broker {name!r}; known: {known}. Add it under 'brokers:'.")


@dataclass(frozen=True, kw_only=True)
class SessionWindow:
    """A named UTC window ``[start, end)`` given as ``"HH:MM"``; ``end`` before ``start`` wraps midnight."""

    name: str
    start: str
    end: str

    def __post_init__(self) -> None:
        for label in (self.start, self.end):
            m = _HHMM.match(label)
            if m is None or int(m["hh"]) > 23 or int(m["mm"]) > 59:
                raise ValueError(f"session {self.name!r}: expected 'HH:MM' (00:00..23:59), got {label!r}")

    @property
    def start_minute(self) -> int:
        return int(self.start[:2]) * 60 + int(self.start[3:])

    @property
    def end_minute(self) -> int:
        return int(self.end[:2]) * 60 + int(self.end[3:])

    @property
    def wraps_midnight(self) -> bool:
        return self.end_minute < self.start_minute

    @property
    def length_minutes(self) -> int:
        return (self.end_minute - self.start_minute) % 1440 or 1440

    def contains(self, minute_of_day: int) -> bool:
        """Whether the minute ``0 <= m < 1440`` (UTC) falls in the window."""
        return (minute_of_day - self.start_minute) % 1440 < self.length_minutes


@dataclass(frozen=True, kw_only=True)
class SessionsConfig:
    """``sessions.yaml``: the session windows in label order (session id = index) and the day anchor."""

    path: Path
    windows: tuple[SessionWindow, ...]
    day_anchor: str = "00:00"

    @property
    def day_anchor_minute(self) -> int:
        return int(self.day_anchor[:2]) * 60 + int(self.day_anchor[3:])

    def names(self) -> tuple[str, ...]:
        return tuple(w.name for w in self.windows)

    def window(self, name: str) -> SessionWindow:
        """The window called ``name``; ``ConfigError`` listing the defined ones otherwise."""
        for w in self.windows:
            if w.name == name:
                return w
        raise ConfigError(f"{self.path}: no session {name!r}; defined: {', '.join(self.names())}")

    def as_windows_string(self) -> str:
        """The compact form session indicators take: ``asian=23:00-07:00,london=07:00-12:00,...``."""
        return ",".join(f"{w.name}={w.start}-{w.end}" for w in self.windows)


# -- parsing helpers -------------------------------------------------------------------------------------------
def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    return f"{sign}{hh:02d}:{mm:02d}"


def parse_utc_offset(text: str | int | float | timedelta) -> timedelta:
    """A UTC offset from ``"+03:00"``, ``"-0500"``, a number of hours (``2``, ``5.5``) or a ``timedelta``.

    ``ValueError`` with the accepted forms otherwise; offsets beyond +-14 hours are refused (no such clock).
    """
    if isinstance(text, timedelta):
        offset = text
    elif isinstance(text, int | float) and not isinstance(text, bool):
        offset = timedelta(hours=float(text))
    elif isinstance(text, str) and (m := _OFFSET.match(text.strip())):
        offset = timedelta(hours=int(m["hh"]), minutes=int(m["mm"]))
        if m["sign"] == "-":
            offset = -offset
    else:
        raise ValueError(f"expected a UTC offset like '+03:00' or '-05:00', got {text!r}")
    if abs(offset) > timedelta(hours=14):
        raise ValueError(f"UTC offset {text!r} is beyond +-14:00")
    return offset


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _positive(path: Path, key: str, value: Any, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and (value > 0 or (allow_zero and value == 0)):
        return float(value)
    want = "a number >= 0" if allow_zero else "a positive number"
    raise ConfigError(f"{path}: {key}: expected {want}, got {value!r}")


def _mapping(path: Path, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key}: expected a mapping, got {type(value).__name__}")
    return value


def _unknown_keys(path: Path, key: str, entry: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(entry) - allowed)
    if extra:
        raise ConfigError(f"{path}: {key}.{extra[0]}: unknown key; allowed: {', '.join(sorted(allowed))}")


def _symbol(path: Path, name: str, entry: Any) -> SymbolSpec:
    key = f"symbols.{name}"
    entry = _mapping(path, key, entry)
    _unknown_keys(path, key, entry, {"description", "aliases", "digits", "point", "default_spread"})
    for required in ("digits", "point", "default_spread"):
        if required not in entry:
            raise ConfigError(f"{path}: {key}: missing required key {required!r}")
    digits = entry["digits"]
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 10:
        raise ConfigError(f"{path}: {key}.digits: expected a whole number 0..10, got {digits!r}")
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise ConfigError(f"{path}: {key}.aliases: expected a list of names, got {aliases!r}")
    description = entry.get("description", "")
    return SymbolSpec(
        name=name,
        description=str(description),
        aliases=tuple(aliases),
        digits=digits,
        point=_positive(path, f"{key}.point", entry["point"]),
        default_spread=_positive(path, f"{key}.default_spread", entry["default_spread"], allow_zero=True),
    )


def _broker(path: Path, name: str, entry: Any, symbols: Mapping[str, SymbolSpec]) -> BrokerSpec:
    key = f"brokers.{name}"
    entry = _mapping(path, key, entry if entry is not None else {})
    _unknown_keys(path, key, entry, {"server_utc_offset", "server_timezone", "points"})
    if "server_utc_offset" in entry and "server_timezone" in entry:
        raise ConfigError(f"{path}: {key}: give server_utc_offset or server_timezone, not both")
    offset = None
    if "server_utc_offset" in entry:
        try:
            offset = parse_utc_offset(entry["server_utc_offset"])
        except ValueError as exc:
            raise ConfigError(f"{path}: {key}.server_utc_offset: {exc}") from None
    zone = entry.get("server_timezone")
    if zone is not None:
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{path}: {key}.server_timezone: unknown IANA time zone {zone!r} "
                              "(e.g. 'Europe/Athens'; install the tzdata package if none is found)") from None
        zone = str(zone)
    points: dict[str, float] = {}
    for sym, value in _mapping(path, f"{key}.points", entry.get("points", {})).items():
        if sym not in symbols:
            raise ConfigError(f"{path}: {key}.points.{sym}: not a symbol defined under 'symbols:' "
                              f"({', '.join(symbols)}); use the canonical name, not an alias")
        points[sym] = _positive(path, f"{key}.points.{sym}", value)
    return BrokerSpec(name=name, server_utc_offset=offset, server_timezone=zone, points=points)


def _parse_symbols(path: Path) -> SymbolsConfig:
    data = _read_yaml(path)
    raw_symbols = _mapping(path, "symbols", data.get("symbols"))
    symbols = {str(name): _symbol(path, str(name), entry) for name, entry in raw_symbols.items()}
    seen: dict[str, str] = {}
    for spec in symbols.values():
        for label in (spec.name, *spec.aliases):
            owner = seen.setdefault(label.casefold(), spec.name)
            if owner != spec.name:
                raise ConfigError(f"{path}: symbols.{spec.name}.aliases: {label!r} already names {owner}")
    raw_brokers = _mapping(path, "brokers", data.get("brokers", {}) or {})
    brokers = {str(name): _broker(path, str(name), entry, symbols) for name, entry in raw_brokers.items()}
    return SymbolsConfig(path=path, symbols=MappingProxyType(symbols), brokers=MappingProxyType(brokers))


def _time_of_day(path: Path, key: str, value: Any) -> str:
    m = _HHMM.match(value) if isinstance(value, str) else None
    if m is None or int(m["hh"]) > 23 or int(m["mm"]) > 59:
        raise ConfigError(f"{path}: {key}: expected a UTC time of day 'HH:MM' (00:00..23:59, quoted), got {value!r}")
    return value


def _parse_sessions(path: Path) -> SessionsConfig:
    data = _read_yaml(path)
    raw = data.get("sessions")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: sessions: expected a non-empty list of {{name, start, end}}")
    windows: list[SessionWindow] = []
    for i, entry in enumerate(raw):
        key = f"sessions[{i}]"
        entry = _mapping(path, key, entry)
        _unknown_keys(path, key, entry, {"name", "start", "end"})
        name = entry.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{path}: {key}.name: expected an identifier such as 'london', got {name!r}")
        if name in (w.name for w in windows):
            raise ConfigError(f"{path}: {key}.name: session {name!r} is defined twice")
        start = _time_of_day(path, f"{key}.start", entry.get("start"))
        end = _time_of_day(path, f"{key}.end", entry.get("end"))
        if start == end:
            raise ConfigError(f"{path}: {key}: start and end are both {start!r} (empty window)")
        window = SessionWindow(name=name, start=start, end=end)
        for other in windows:  # windows must not overlap: every bar gets at most one session label
            if window.contains(other.start_minute) or other.contains(window.start_minute):
                raise ConfigError(f"{path}: {key}: session {name!r} overlaps session {other.name!r}")
        windows.append(window)
    anchor = _time_of_day(path, "day_anchor", data.get("day_anchor", "00:00"))
    return SessionsConfig(path=path, windows=tuple(windows), day_anchor=anchor)


# -- public loaders (cached) -----------------------------------------------------------------------------------
@functools.cache
def _symbols_cached(path: Path) -> SymbolsConfig:
    return _parse_symbols(path)


@functools.cache
def _sessions_cached(path: Path) -> SessionsConfig:
    return _parse_sessions(path)


def load_symbols(path: str | Path | None = None) -> SymbolsConfig:
    """``symbols.yaml`` (default: the project's ``config/``), parsed once per path and process."""
    return _symbols_cached(Path(path) if path is not None else config_dir() / "symbols.yaml")


def load_sessions(path: str | Path | None = None) -> SessionsConfig:
    """``sessions.yaml`` (default: the project's ``config/``), parsed once per path and process."""
    return _sessions_cached(Path(path) if path is not None else config_dir() / "sessions.yaml")


def find_symbol(name: str) -> SymbolSpec | None:
    """The configured symbol named ``name`` or having it as an alias (``XAUUSDc`` -> XAUUSD), else ``None``."""
    return load_symbols().find_symbol(name) if name else None


def symbol_spec(name: str) -> SymbolSpec:
    """The configured symbol for ``name`` or an alias; ``ConfigError`` listing the known ones otherwise."""
    return load_symbols().symbol(name)


def broker_spec(name: str) -> BrokerSpec:
    """The configured broker ``name``; ``ConfigError`` listing the known ones otherwise."""
    return load_symbols().broker(name)
