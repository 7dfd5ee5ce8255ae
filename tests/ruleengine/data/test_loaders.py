"""Loading every supported format, MT5 arrays and server clocks, and lossless round trips."""

from __future__ import annotations

import gzip
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ruleengine.config import BrokerSpec, parse_utc_offset
from ruleengine.data import (
    Candles,
    DataWarning,
    candles_from_mt5_rates,
    load_candles,
    read_candles,
    server_time_to_utc,
    write_candles,
)
from ruleengine.data.loaders import sniff_format
from ruleengine.errors import DataError
from tests.conftest import REPO, shared_file
from tests.strategies import candles as candles_strategy

VALID = REPO / "tests" / "cases" / "data" / "valid"

# The dtype of MetaTrader5.copy_rates_* results, written out here (not imported) so a change in the loader's
# copy cannot make the test agree with itself.
MT5_DTYPE = np.dtype([("time", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
                      ("tick_volume", "<u8"), ("spread", "<i4"), ("real_volume", "<u8")])


def utc(text: str) -> int:
    """Epoch seconds of an ISO time written in UTC."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def times(*texts: str) -> list[int]:
    return [utc(t) for t in texts]


# -- each format, with the values written out ----------------------------------------------------------------
CASES = [
    pytest.param(
        "csv_iso.csv", dict(symbol="XAUUSD"), "csv", "column",
        dict(time=times("2024-01-02T00:00", "2024-01-02T00:01", "2024-01-02T00:03"),
             open=[2063.58, 2064.49, 2064.9], high=[2065.085, 2064.9, 2065.0], low=[2063.25, 2064.24, 2064.5],
             close=[2064.71, 2064.89, 2064.6], volume=[71, 55, 0], spread=[0.35, 0.38, 0.4]),
        id="csv-iso-z",
    ),
    pytest.param(
        "csv_epoch_ms_no_spread.csv", dict(symbol="XAUUSDm"), "csv", "default",  # alias; CRLF; extra column
        dict(time=times("2024-01-02T00:00", "2024-01-02T00:01"), open=[2063.58, 2064.49],
             high=[2065.085, 2064.9], low=[2063.25, 2064.24], close=[2064.71, 2064.89], volume=[71, 55],
             spread=[0.2, 0.2]),
        id="csv-epoch-ms-default-spread",
    ),
    pytest.param(
        "csv_semicolon_epoch_s.csv", dict(symbol="BTCUSD"), "csv", "column",
        dict(time=times("2024-06-04T00:00", "2024-06-04T00:01"), open=[68000.5, 68005.0],
             high=[68010.0, 68020.0], low=[67990.25, 68000.0], close=[68005.0, 68015.75], volume=[12.5, 10.0],
             spread=[0.01, 0.01], taker_buy_volume=[7.25, 4.0], real_volume=[3.0, 0.0]),
        id="csv-semicolon-epoch-s",
    ),
    pytest.param(
        "csv_iso_offsets.csv", dict(symbol="XAUUSD"), "csv", "column",
        dict(time=times("2024-07-01T00:00", "2024-07-01T00:01", "2024-07-01T00:02"),
             open=[2330.1, 2330.5, 2331.2], high=[2331.0, 2331.5, 2331.4], low=[2330.0, 2330.2, 2330.9],
             close=[2330.5, 2331.2, 2331.0], volume=[10, 12, 9], spread=[0.3, 0.3, 0.3]),
        id="csv-iso-offsets-fraction-naive",
    ),
    pytest.param(
        "csv_empty_spread.csv", dict(symbol="BTCUSD"), "csv", "column+default",
        dict(time=times("2017-09-03T00:00", "2017-09-03T00:01", "2017-09-03T00:02"),
             open=[4600.5, 4600.75, 4601.5], high=[4601.0, 4602.0, 4601.5], low=[4600.0, 4600.5, 4599.0],
             close=[4600.75, 4601.5, 4599.25], volume=[1.5, 0.25, 2.0], spread=[0.01, 0.5, 0.01]),
        id="csv-empty-spread-fields",
    ),
    pytest.param(
        # IC Markets server clock = Europe/Athens: UTC+2 in January, UTC+3 in June; spread 12/6/9 points x 0.01
        "mt5_export_icmarkets.csv", dict(symbol="XAUUSD", broker="icmarkets"), "mt5_export", "column",
        dict(time=times("2026-01-15T08:00", "2026-06-01T00:00", "2026-06-01T00:01"),
             open=[4100.0, 4482.33, 4480.54], high=[4101.5, 4483.84, 4482.44], low=[4099.25, 4480.31, 4478.83],
             close=[4101.0, 4480.54, 4479.2], volume=[120, 711, 533], spread=[12 * 0.01, 6 * 0.01, 9 * 0.01]),
        id="mt5-export-athens-dst",
    ),
    pytest.param(
        # Exness: server on UTC, XAUUSD point 0.001 (broker override of the symbol's 0.01)
        "mt5_rates_dump.csv", dict(symbol="XAUUSDm", broker="exness"), "mt5_rates_csv", "column",
        dict(time=times("2026-06-01T00:00", "2026-06-01T00:01"), open=[4501.295, 4502.37],
             high=[4502.709, 4502.715], low=[4500.911, 4501.852], close=[4502.427, 4502.118], volume=[178, 123],
             spread=[100 * 0.001, 120 * 0.001]),
        id="mt5-rates-csv-exness-point",
    ),
    pytest.param(
        "binance_klines_ms.csv", dict(symbol="BTCUSDT"), "binance", "default",
        dict(time=times("2024-06-04T00:00", "2024-06-04T00:01"), open=[68000.5, 68005.0],
             high=[68010.0, 68020.0], low=[67990.25, 68000.0], close=[68005.0, 68015.75], volume=[12.5, 10.0],
             spread=[0.01, 0.01], taker_buy_volume=[7.25, 4.0]),
        id="binance-ms",
    ),
    pytest.param(
        "binance_klines_us_header.csv", dict(symbol="BTCUSD"), "binance", "default",
        dict(time=times("2025-01-01T00:00", "2025-01-01T00:01"), open=[93576.0, 93610.93],
             high=[93610.93, 93652.0], low=[93537.5, 93606.15], close=[93610.93, 93648.0],
             volume=[8.21827, 10.40431], spread=[0.01, 0.01], taker_buy_volume=[3.89027, 7.51065]),
        id="binance-us-with-header",
    ),
    pytest.param(
        # EST = UTC-5 all year: 17:00 EST is 22:00 UTC in January *and* in July (no DST)
        "histdata_m1.csv", dict(symbol="XAUUSD"), "histdata", "default",
        dict(time=times("2024-01-01T22:00", "2024-01-01T22:01", "2024-07-01T22:02"),
             open=[2063.58, 2064.49, 2330.0], high=[2065.085, 2064.9, 2331.0], low=[2063.25, 2064.24, 2329.5],
             close=[2064.71, 2064.89, 2330.5], volume=[0, 0, 0], spread=[0.2, 0.2, 0.2]),
        id="histdata-est",
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "fmt", "spread_source", "expected"), CASES)
def test_format_loads_with_expected_values(name, kwargs, fmt, spread_source, expected):
    result = read_candles(VALID / name, **kwargs)
    c = result.candles
    assert result.format == fmt
    assert result.spread_source == spread_source
    assert c.symbol in ("XAUUSD", "BTCUSD")  # aliases resolve to the canonical name
    assert set(c.columns) == set(expected)
    for column, values in expected.items():
        np.testing.assert_array_equal(getattr(c, column), np.asarray(values, dtype=getattr(c, column).dtype),
                                      err_msg=f"{name}: {column}")


@pytest.mark.parametrize("name", sorted(p.name for p in VALID.iterdir()))
def test_format_is_detected_from_content_not_name(name, tmp_path):
    data = (VALID / name).read_bytes()
    expected = sniff_format(data)
    disguised = tmp_path / "data.bin"
    disguised.write_bytes(gzip.compress(data))
    assert sniff_format(gzip.decompress(disguised.read_bytes())) == expected
    symbol = "BTCUSD" if "binance" in name or "btc" in name or "empty_spread" in name else "XAUUSD"
    broker = "icmarkets" if "mt5_export" in name else ("exness" if "mt5_rates" in name else None)
    original = load_candles(VALID / name, symbol=symbol, broker=broker)
    again = load_candles(disguised, symbol=symbol, broker=broker)
    for column in original.columns:
        np.testing.assert_array_equal(getattr(again, column), getattr(original, column))


def test_zip_with_one_member_loads(tmp_path):
    archive = tmp_path / "BTCUSDT-1m-2024-06-04.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(VALID / "binance_klines_ms.csv", "BTCUSDT-1m-2024-06-04.csv")
    assert len(load_candles(archive, symbol="BTCUSD")) == 2


def test_zip_with_two_members_is_refused(tmp_path):
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.csv", "x")
        zf.writestr("b.csv", "y")
    with pytest.raises(DataError, match=r"two\.zip: a zip file must hold exactly one data file, found: a\.csv, b\.csv"):
        load_candles(archive)


def test_truncated_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress((VALID / "csv_iso.csv").read_bytes())[:-12])
    with pytest.raises(DataError, match=r"cut\.csv\.gz: cannot decompress"):
        load_candles(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_candles(tmp_path / "nope.csv")


def test_forced_format_is_used_and_unknown_one_refused():
    with pytest.raises(DataError, match=r"csv_iso\.csv:1: 1 fields, expected 6"):
        load_candles(VALID / "csv_iso.csv", fmt="histdata")
    with pytest.raises(ValueError, match="unknown format 'parquet'"):
        load_candles(VALID / "csv_iso.csv", fmt="parquet")


def test_lines_map_bars_to_file_lines_across_blank_lines():
    result = read_candles(VALID / "csv_iso.csv", symbol="XAUUSD")
    assert result.lines.tolist() == [2, 3, 5]


# -- spread fallbacks and other warnings ------------------------------------------------------------------------
def test_missing_spread_for_unknown_symbol_is_zero_with_a_warning():
    with pytest.warns(DataWarning, match=r"no spread column and symbol '' has no default_spread .* spread set to 0"):
        c = load_candles(VALID / "csv_epoch_ms_no_spread.csv")
    np.testing.assert_array_equal(c.spread, [0.0, 0.0])


def test_empty_spread_fields_for_unknown_symbol_are_zero_with_a_warning():
    with pytest.warns(DataWarning, match=r"2 empty spread fields and symbol 'ETHUSD' has no default_spread"):
        c = load_candles(VALID / "csv_empty_spread.csv", symbol="ETHUSD")
    np.testing.assert_array_equal(c.spread, [0.0, 0.5, 0.0])
    assert c.symbol == "ETHUSD"


def test_missing_volume_column_warns(tmp_path):
    path = tmp_path / "novol.csv"
    path.write_text("time,open,high,low,close,spread\n2024-01-02T00:00:00Z,1,2,0.5,1.5,0.1\n")
    with pytest.warns(DataWarning, match="no volume column: volume set to 0"):
        c = load_candles(path)
    np.testing.assert_array_equal(c.volume, [0.0])


def test_broker_for_a_utc_format_warns_that_it_is_ignored():
    with pytest.warns(DataWarning, match="broker 'icmarkets' ignored: csv times are UTC"):
        c = load_candles(VALID / "csv_iso.csv", symbol="XAUUSD", broker="icmarkets")
    assert c.time[0] == utc("2024-01-02T00:00")


def test_mt5_export_without_broker_warns_server_time_taken_as_utc():
    with pytest.warns(DataWarning, match="MetaTrader 5 server time taken as UTC; pass broker="):
        c = load_candles(VALID / "mt5_export_icmarkets.csv", symbol="XAUUSD")
    assert c.time[1] == utc("2026-06-01T03:00")


def test_mt5_export_needs_a_symbol_for_the_point():
    with pytest.raises(DataError, match=r"spreads are in MT5 points but the point size of symbol '' is unknown"):
        load_candles(VALID / "mt5_export_icmarkets.csv", broker="icmarkets")


def test_unknown_broker_is_a_config_error():
    from ruleengine.errors import ConfigError

    with pytest.raises(ConfigError, match=r"symbols\.yaml: unknown broker 'acme'; known: exness, icmarkets"):
        load_candles(VALID / "mt5_export_icmarkets.csv", symbol="XAUUSD", broker="acme")


# -- numbers are read exactly like float() ----------------------------------------------------------------------
def test_unusual_number_texts_parse_like_float(tmp_path):
    texts = ["1e-05", "2.5E3", " 2063.5 ", '"2063.5"', "+2063.5", "-0.0", "0.1234567890123456789",
             "123456789012345678", ".5", "5.", "007.25", "60000.00000000001"]
    rows = [f"{60 * i},{t},{t},{t},{t},0,0" for i, t in enumerate(texts)]
    path = tmp_path / "numbers.csv"
    path.write_text("time,open,high,low,close,volume,spread\n" + "\n".join(rows) + "\n")
    c = load_candles(path, symbol="XAUUSD")
    expected = [float(t.strip().strip('"')) for t in texts]
    np.testing.assert_array_equal(c.open, expected)
    assert np.signbit(c.close[texts.index("-0.0")])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False) | st.decimals(
    min_value=-10**6, max_value=10**6, places=6, allow_nan=False, allow_infinity=False).map(str), min_size=1,
    max_size=50))
def test_decimal_reader_equals_float(values):
    texts = [v if isinstance(v, str) else repr(v) for v in values]
    body = "".join(f"{60 * i},{t},{t},{t},{t},0,0\n" for i, t in enumerate(texts))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.csv"
        path.write_text("time,open,high,low,close,volume,spread\n" + body)
        c = load_candles(path, symbol="XAUUSD")
    np.testing.assert_array_equal(c.close, [float(t) for t in texts])


# -- MetaTrader 5 arrays and server clocks ----------------------------------------------------------------------
def mt5_rates(rows: list[tuple[str, float, float, float, float, int, int, int]]) -> np.ndarray:
    """A copy_rates-like array from (server wall time, o, h, l, c, tick_volume, spread points, real_volume)."""
    return np.array([(utc(t), *rest) for t, *rest in rows], dtype=MT5_DTYPE)


SUMMER_WINTER = [
    ("2026-01-15T10:00", 4100.0, 4101.5, 4099.25, 4101.0, 120, 12, 0),  # Athens winter: UTC+2
    ("2026-06-01T03:00", 4482.33, 4483.84, 4480.31, 4480.54, 711, 6, 0),  # Athens summer: UTC+3
]


@pytest.mark.parametrize(("clock", "expected"), [
    pytest.param(dict(server_timezone="Europe/Athens"), ["2026-01-15T08:00", "2026-06-01T00:00"], id="iana-zone"),
    pytest.param(dict(broker="icmarkets"), ["2026-01-15T08:00", "2026-06-01T00:00"], id="broker-zone"),
    pytest.param(dict(server_offset="+03:00"), ["2026-01-15T07:00", "2026-06-01T00:00"], id="fixed-offset"),
    pytest.param(dict(broker="generic_utc3"), ["2026-01-15T07:00", "2026-06-01T00:00"], id="broker-offset"),
    pytest.param(dict(broker="exness"), ["2026-01-15T10:00", "2026-06-01T03:00"], id="broker-utc"),
])
def test_mt5_rates_server_time_to_utc(clock, expected):
    c = candles_from_mt5_rates(mt5_rates(SUMMER_WINTER), symbol="XAUUSD", **clock)
    assert c.time.tolist() == times(*expected)


def test_mt5_rates_columns_and_points():
    c = candles_from_mt5_rates(mt5_rates(SUMMER_WINTER), symbol="XAUUSDc", broker="icmarkets")
    assert c.symbol == "XAUUSD"
    np.testing.assert_array_equal(c.open, [4100.0, 4482.33])
    np.testing.assert_array_equal(c.volume, [120.0, 711.0])
    np.testing.assert_array_equal(c.spread, [12 * 0.01, 6 * 0.01])
    assert c.real_volume is None  # all zeros: dropped
    exness = candles_from_mt5_rates(mt5_rates(SUMMER_WINTER), symbol="XAUUSD", broker="exness")
    np.testing.assert_array_equal(exness.spread, [12 * 0.001, 6 * 0.001])
    explicit = candles_from_mt5_rates(mt5_rates(SUMMER_WINTER), symbol="XAUUSD", broker="exness", point=0.1)
    np.testing.assert_array_equal(explicit.spread, [12 * 0.1, 6 * 0.1])


def test_mt5_rates_keeps_nonzero_real_volume():
    rows = [(*r[:-1], 5) for r in SUMMER_WINTER]
    c = candles_from_mt5_rates(mt5_rates(rows), symbol="XAUUSD", broker="exness")
    np.testing.assert_array_equal(c.real_volume, [5.0, 5.0])


def test_mt5_rates_without_clock_warns():
    with pytest.warns(DataWarning, match="server time taken as UTC"):
        c = candles_from_mt5_rates(mt5_rates(SUMMER_WINTER), symbol="XAUUSD")
    assert c.time[0] == utc("2026-01-15T10:00")


def test_mt5_rates_with_an_ad_hoc_broker_spec():
    broker = BrokerSpec(name="mine", server_utc_offset=parse_utc_offset("+02:00"), points={"XAUUSD": 0.001})
    c = candles_from_mt5_rates(mt5_rates(SUMMER_WINTER), symbol="XAUUSD", broker=broker)
    assert c.time.tolist() == times("2026-01-15T08:00", "2026-06-01T01:00")
    np.testing.assert_array_equal(c.spread, [0.012, 0.006])


@pytest.mark.parametrize(("rates", "message"), [
    pytest.param(None, "no rates: MetaTrader5 returned None", id="none"),
    pytest.param(np.zeros(0, dtype=MT5_DTYPE), "no bars in the MT5 rates array", id="empty"),
    pytest.param(np.zeros(2, dtype=[("time", "<i8"), ("open", "<f8")]), "missing fields high, low, close",
                 id="wrong-dtype"),
    pytest.param(mt5_rates([SUMMER_WINTER[0], ("2026-06-01T03:00", 4482.33, 4480.0, 4480.31, 4480.54, 1, 6, 0)]),
                 "index 1: high 4480.0 is below max(open, close) = 4482.33", id="bad-bar"),
    pytest.param(mt5_rates([SUMMER_WINTER[1], SUMMER_WINTER[0]]),
                 "index 1: time 2026-01-15T08:00:00Z is earlier than 2026-06-01T00:00:00Z on index 0", id="unsorted"),
])
def test_mt5_rates_errors(rates, message):
    with pytest.raises(DataError, match=re_escape(message)):
        candles_from_mt5_rates(rates, symbol="XAUUSD", broker="icmarkets")


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_iana_conversion_across_the_spring_forward_hour():
    # Athens skips 03:00-04:00 on 2026-03-29: wall 02:59 (UTC+2) and 04:00 (UTC+3) are one minute apart.
    wall = np.array(times("2026-03-29T02:59", "2026-03-29T04:00"))
    assert server_time_to_utc(wall, timezone="Europe/Athens").tolist() == times("2026-03-29T00:59",
                                                                                "2026-03-29T01:00")


@pytest.mark.parametrize("zone", ["Europe/Athens", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_iana_conversion_matches_zoneinfo_hour_by_hour(zone):
    wall = np.arange(utc("2025-01-01T00:00"), utc("2027-01-01T00:00"), 1800, dtype=np.int64)
    tz = ZoneInfo(zone)
    expected = [int(datetime.fromtimestamp(int(w), UTC).replace(tzinfo=tz).timestamp()) for w in wall]
    np.testing.assert_array_equal(server_time_to_utc(wall, timezone=zone), expected)


# -- round trips --------------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=candles_strategy(min_size=1, max_size=300), gz=st.booleans())
def test_write_then_load_round_trips_exactly(c, gz):
    with tempfile.TemporaryDirectory() as folder:
        path = write_candles(c, Path(folder) / ("bars.csv.gz" if gz else "bars.csv"))
        back = load_candles(path)
    assert back.columns == c.columns
    for column in c.columns:
        np.testing.assert_array_equal(getattr(back, column), getattr(c, column), err_msg=column)


@settings(max_examples=25, deadline=None)
@given(c=candles_strategy(min_size=1, max_size=200))
def test_pandas_round_trip(c):
    back = Candles.from_pandas(c.to_pandas(), symbol=c.symbol)
    assert back.columns == c.columns
    for column in c.columns:
        np.testing.assert_array_equal(getattr(back, column), getattr(c, column), err_msg=column)


# -- real data ------------------------------------------------------------------------------------------------------
def test_bundled_xauusd_sample(xau_sample):
    c = xau_sample
    assert (len(c), c.symbol) == (21_924, "XAUUSD")
    assert (c.time[0], c.time[-1]) == (utc("2026-05-28T19:00"), utc("2026-06-19T16:59"))
    assert float(np.median(c.spread)) == pytest.approx(0.10)
    assert c.taker_buy_volume is None


def test_bundled_btcusd_sample(btc_sample):
    c = btc_sample
    assert (len(c), c.symbol) == (30_240, "BTCUSD")
    assert (c.time[0], c.time[-1]) == (utc("2024-06-04T00:00"), utc("2024-06-24T23:59"))
    assert np.all(np.diff(c.time) == 60)
    assert c.taker_buy_volume is not None
    np.testing.assert_array_equal(c.spread, np.full(len(c), 0.01))  # BTCUSD default_spread


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "symbol", "bars", "first", "last"), [
    ("xauusd_dukascopy_2024_m1.csv.gz", "XAUUSD", 350_628, "2024-01-01T23:00", "2024-12-31T21:58"),
    ("btcusdt_binance_spot_2024h1_m1.csv.gz", "BTCUSD", 254_880, "2024-01-01T00:00", "2024-06-25T23:59"),
    ("xauusd_mt5_2026-03_05_m1.csv.gz", "XAUUSD", 63_230, "2026-03-24T14:00", "2026-05-28T14:00"),
    ("xauusd_oanda_2014-05_m1.csv.gz", "XAUUSD", 15_222, "2014-05-01T00:00", "2014-05-15T23:59"),
    ("btcusd_perp_2022-01_m1.csv.gz", "BTCUSD", 45_031, "2021-12-31T23:01", "2022-02-01T05:31"),
    ("btcusd_coinbase_sample_m1.csv.gz", "BTCUSD", 12_423, "2016-10-07T00:00", "2018-04-06T23:59"),
])
def test_shared_data_files_load(name, symbol, bars, first, last):
    c = load_candles(shared_file(name), symbol=symbol)
    assert (len(c), c.time[0], c.time[-1]) == (bars, utc(first), utc(last))
    assert np.all(c.time % 60 == 0)


@pytest.mark.shared_data
def test_shared_dukascopy_matches_a_plain_python_reading():
    path = shared_file("xauusd_dukascopy_2024_m1.csv.gz")
    c = load_candles(path, symbol="XAUUSD")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()[1:]
    picks = np.linspace(0, len(lines) - 1, 2000).astype(int)
    for i in picks:
        t, o, h, lo, cl, v, s = lines[i].split(",")
        assert c.time[i] == int(datetime.fromisoformat(t).timestamp())
        assert (c.open[i], c.high[i], c.low[i], c.close[i]) == (float(o), float(h), float(lo), float(cl))
        assert (c.volume[i], c.spread[i]) == (float(v), float(s))


@pytest.mark.shared_data
def test_shared_tick_file_is_refused_as_unknown_format():
    with pytest.raises(DataError, match=r"ticks\.csv\.gz:1: unknown data format .* lacks open, high, low, close"):
        load_candles(shared_file("xauusd_oanda_2014-05-07_ticks.csv.gz"))
