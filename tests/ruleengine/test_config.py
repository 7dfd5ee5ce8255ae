"""config/symbols.yaml and config/sessions.yaml: typed lookups, caching, and errors naming file and key."""

from __future__ import annotations

import dataclasses
from datetime import timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ruleengine.config import (
    BrokerSpec,
    SessionWindow,
    broker_spec,
    find_symbol,
    load_sessions,
    load_symbols,
    parse_utc_offset,
    symbol_spec,
)
from ruleengine.errors import ConfigError


def test_symbols_load_with_units():
    xau = symbol_spec("XAUUSD")
    assert (xau.digits, xau.point, xau.default_spread) == (2, 0.01, 0.2)
    assert symbol_spec("BTCUSD").default_spread == 0.01


@pytest.mark.parametrize(("name", "canonical"), [
    ("XAUUSD", "XAUUSD"), ("XAUUSDc", "XAUUSD"), ("xauusdm", "XAUUSD"), ("GOLD", "XAUUSD"),
    ("XAUUSD.pc", "XAUUSD"), ("BTCUSDT", "BTCUSD"), ("XBTUSD", "BTCUSD"),
])
def test_symbol_lookup_by_name_or_alias(name, canonical):
    assert symbol_spec(name).name == canonical
    assert find_symbol(name).name == canonical


def test_unknown_symbol():
    assert find_symbol("EURUSD") is None
    assert find_symbol("") is None
    with pytest.raises(ConfigError, match=r"symbols\.yaml: unknown symbol 'EURUSD'; known: XAUUSD \(XAUUSDc,"):
        symbol_spec("EURUSD")


def test_brokers_clock_and_points():
    exness = broker_spec("exness")
    assert exness.server_utc_offset == timedelta(0)
    assert exness.point_for(symbol_spec("XAUUSD")) == 0.001
    assert exness.point_for(symbol_spec("BTCUSD")) == 0.01  # no override: the symbol's point
    icm = broker_spec("ICMarkets")  # case-insensitive
    assert icm.server_timezone == "Europe/Athens"
    assert icm.tz == ZoneInfo("Europe/Athens")
    assert icm.describe_clock() == "Europe/Athens"
    utc3 = broker_spec("generic_utc3")
    assert utc3.tz == timezone(timedelta(hours=3))
    assert utc3.describe_clock() == "UTC+03:00"
    with pytest.raises(ConfigError, match=r"unknown broker 'acme'; known: exness, icmarkets, fundednext"):
        broker_spec("acme")


def test_configs_are_frozen_and_cached():
    assert load_symbols() is load_symbols()
    assert load_sessions() is load_sessions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        symbol_spec("XAUUSD").point = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        broker_spec("exness").points["XAUUSD"] = 1.0  # type: ignore[index]


def test_broker_spec_refuses_two_clocks():
    with pytest.raises(ValueError, match="not both"):
        BrokerSpec(name="x", server_utc_offset=timedelta(hours=2), server_timezone="Europe/Athens")


@pytest.mark.parametrize(("text", "expected"), [
    ("+03:00", timedelta(hours=3)), ("-05:00", timedelta(hours=-5)), ("+0530", timedelta(hours=5, minutes=30)),
    (2, timedelta(hours=2)), (-3.5, timedelta(hours=-3.5)), (timedelta(hours=1), timedelta(hours=1)),
])
def test_parse_utc_offset(text, expected):
    assert parse_utc_offset(text) == expected


@pytest.mark.parametrize("text", ["3", "UTC+3", "+3:00", "+15:00", True, None])
def test_parse_utc_offset_refuses(text):
    with pytest.raises(ValueError, match="UTC offset"):
        parse_utc_offset(text)


def test_sessions():
    s = load_sessions()
    assert s.names() == ("asian", "london", "new_york", "post_ny")
    asian = s.window("asian")
    assert (asian.start, asian.end, asian.start_minute, asian.end_minute) == ("23:00", "07:00", 1380, 420)
    assert asian.wraps_midnight and asian.length_minutes == 480
    assert asian.contains(23 * 60) and asian.contains(0) and not asian.contains(7 * 60)
    assert s.day_anchor_minute == 0
    with pytest.raises(ConfigError, match="no session 'tokyo'; defined: asian, london"):
        s.window("tokyo")


def test_sessions_match_the_indicator_default():
    from indicators.sessions import DEFAULT_WINDOWS

    assert load_sessions().as_windows_string() == DEFAULT_WINDOWS


def test_every_minute_of_the_day_has_exactly_one_session():
    windows = load_sessions().windows
    for minute in range(1440):
        assert sum(w.contains(minute) for w in windows) == 1, minute


def test_session_window_checks_its_times():
    with pytest.raises(ValueError, match="expected 'HH:MM'"):
        SessionWindow(name="x", start="7:00", end="08:00")


# -- errors name the file and the key ---------------------------------------------------------------------------
SYMBOLS_OK = """
symbols:
  XAUUSD: {aliases: [GOLD], digits: 2, point: 0.01, default_spread: 0.2}
brokers:
  b: {server_utc_offset: "+02:00"}
"""


@pytest.mark.parametrize(("text", "message"), [
    ("symbols: [1, 2]", "symbols: expected a mapping, got list"),
    ("symbols:\n  X: {digits: 2, point: 0.01}", "symbols.X: missing required key 'default_spread'"),
    ("symbols:\n  X: {digits: 2, point: -1, default_spread: 0}", "symbols.X.point: expected a positive number, got -1"),
    ("symbols:\n  X: {digits: 2, point: 0.1, default_spread: abc}",
     "symbols.X.default_spread: expected a number >= 0, got 'abc'"),
    ("symbols:\n  X: {digits: 2.5, point: 0.1, default_spread: 0}", "symbols.X.digits: expected a whole number"),
    ("symbols:\n  X: {digits: 2, point: 0.1, default_spread: 0, colour: red}", "symbols.X.colour: unknown key"),
    ("symbols:\n  X: {aliases: [Y], digits: 2, point: 0.1, default_spread: 0}\n"
     "  Z: {aliases: [y], digits: 2, point: 0.1, default_spread: 0}", "symbols.Z.aliases: 'y' already names X"),
    (SYMBOLS_OK + "  c: {server_utc_offset: '3 hours'}", "brokers.c.server_utc_offset: expected a UTC offset"),
    (SYMBOLS_OK + "  c: {server_timezone: Mars/Olympus}", "brokers.c.server_timezone: unknown IANA time zone"),
    (SYMBOLS_OK + "  c: {server_timezone: UTC, server_utc_offset: '+00:00'}", "brokers.c: give server_utc_offset"),
    (SYMBOLS_OK + "  c: {points: {GOLD: 0.001}}", "brokers.c.points.GOLD: not a symbol defined under 'symbols:'"),
    ("symbols: {X: {digits: 2, point: 0.1, default_spread: 0}}\nbrokers: [a]", "brokers: expected a mapping"),
])
def test_symbols_file_errors(tmp_path, text, message):
    path = tmp_path / "symbols.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_symbols(path)
    assert str(info.value).startswith(f"{path}: {message}"), str(info.value)


def test_symbols_file_ok(tmp_path):
    path = tmp_path / "symbols.yaml"
    path.write_text(SYMBOLS_OK)
    config = load_symbols(path)
    assert config.symbol("gold").name == "XAUUSD"
    assert config.broker("b").server_utc_offset == timedelta(hours=2)


@pytest.mark.parametrize(("text", "message"), [
    ("sessions: []", "sessions: expected a non-empty list"),
    ("sessions:\n  - {name: a, start: 12:00, end: '13:00'}",  # unquoted 12:00 is the YAML 1.1 integer 720
     "sessions[0].start: expected a UTC time of day 'HH:MM' (00:00..23:59, quoted), got 720"),
    ("sessions:\n  - {name: a, start: '07:00', end: '25:00'}", "sessions[0].end: expected a UTC time of day"),
    ("sessions:\n  - {name: a, start: '07:00', end: '07:00'}", "sessions[0]: start and end are both '07:00'"),
    ("sessions:\n  - {name: a, start: '07:00', end: '12:00'}\n  - {name: a, start: '12:00', end: '13:00'}",
     "sessions[1].name: session 'a' is defined twice"),
    ("sessions:\n  - {name: a, start: '23:00', end: '07:00'}\n  - {name: b, start: '06:00', end: '08:00'}",
     "sessions[1]: session 'b' overlaps session 'a'"),
    ("sessions:\n  - {name: 'new york', start: '07:00', end: '12:00'}", "sessions[0].name: expected an identifier"),
    ("sessions:\n  - {name: a, start: '07:00', end: '12:00', tz: x}", "sessions[0].tz: unknown key"),
    ("sessions:\n  - {name: a, start: '07:00', end: '12:00'}\nday_anchor: 0", "day_anchor: expected a UTC time"),
])
def test_sessions_file_errors(tmp_path, text, message):
    path = tmp_path / "sessions.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_sessions(path)
    assert str(info.value).startswith(f"{path}: {message}"), str(info.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "symbols.yaml"
    path.write_text("symbols:\n  X: {digits: 2\n  Y: [\n")
    with pytest.raises(ConfigError, match=rf"^{path}:\d+: invalid YAML"):
        load_symbols(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'nope.yaml'}: cannot read"):
        load_sessions(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "sessions.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"expected a mapping at the top level, got list"):
        load_sessions(Path(path))
