"""Every invalid data file gives its exact error, naming the file and the 1-based line of the first bad row."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ruleengine.data import Candles, load_candles, validate_candles
from ruleengine.data.validate import first_problem
from ruleengine.errors import DataError
from tests.conftest import REPO

INVALID = REPO / "tests" / "cases" / "data" / "invalid"

#: file -> (line, reason). ``line`` None: the error has no line (whole-file problems).
EXPECTED: dict[str, tuple[int | None, str]] = {
    "wrong_field_count.csv": (4, "6 fields, expected 7 (time, open, high, low, close, volume, spread)"),
    "non_numeric.csv": (3, "close 'abc' is not a number"),
    "empty_price.csv": (3, "open is empty"),
    "nan_price.csv": (5, "high is nan; prices, volumes and spreads must be finite numbers"),
    "inf_price.csv": (3, "low is -inf; prices, volumes and spreads must be finite numbers"),
    "high_below_body.csv": (17, "high 2031.2 is below max(open, close) = 2031.5"),
    "low_above_body.csv": (4, "low 2030.25 is above min(open, close) = 2030.0"),
    "negative_volume.csv": (3, "volume -5.0 is negative"),
    "negative_spread.csv": (3, "spread -0.1 is negative"),
    "taker_exceeds_volume.csv": (3, "taker_buy_volume 12.5 exceeds volume 10.0"),
    "unsorted.csv": (4, "time 2024-01-02T00:03:00Z is earlier than 2024-01-02T00:05:00Z on line 3; "
                        "bars must be in ascending time order"),
    "duplicate_time.csv": (4, "duplicate time 2024-01-02T00:01:00Z (same as line 3); each minute may appear once"),
    "bad_iso_time.csv": (3, "time '2024-13-01T00:01:00Z' is not an ISO-8601 time (month out of range)"),
    "empty_time.csv": (3, "time is empty"),
    "mixed_time_kinds.csv": (3, "time '2024-01-02T00:01:00Z' is not an epoch time like the first row's"),
    "empty.csv": (None, "the file is empty"),
    "blank_lines.csv": (None, "the file is empty"),
    "header_only.csv": (1, "the file has a header but no data rows"),
    "unknown_format_ticks.csv": (1, "unknown data format of first line 'time,bid,ask'. As a CSV header it lacks "
                                    "open, high, low, close. Formats tried: csv (header row with time, open"),
    "unknown_format_text.txt": (1, "unknown data format of first line 'hello world'."),
    "duplicate_column.csv": (1, "columns 'volume' and 'tick_volume' both give volume; keep one"),
    "first_row_wins.csv": (3, "high 2031.2 is below max(open, close) = 2031.5"),
    "mt5_export_bad_date.csv": (3, "<DATE> <TIME> '2026.13.01 00:01:00' is not a valid 'YYYY.MM.DD HH:MM:SS' "
                                   "date and time"),
    "mt5_export_dashed_date.csv": (2, "<DATE> <TIME> '2026-06-01 00:00:00' is not a valid 'YYYY.MM.DD HH:MM:SS' "
                                      "date and time"),
    "binance_short_row.csv": (2, "11 fields, expected 12 (open_time, open, high, low, close, volume, close_time"),
    "histdata_bad_time.csv": (2, "time '20240101 1701' is not a valid 'YYYYMMDD HHMMSS' date and time"),
}


def test_every_invalid_file_has_an_expected_error():
    assert sorted(p.name for p in INVALID.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_file_gives_its_error(name):
    line, reason = EXPECTED[name]
    path = INVALID / name
    with pytest.raises(DataError) as info:
        load_candles(path, symbol="XAUUSD", broker="exness" if name.startswith("mt5") else None)
    err = info.value
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert str(err).startswith(prefix + reason), str(err)
    assert (err.path, err.line) == (str(path), line)


def test_unknown_format_lists_every_format_tried():
    with pytest.raises(DataError) as info:
        load_candles(INVALID / "unknown_format_text.txt")
    for name in ("csv (", "mt5_rates_csv (", "mt5_export (", "binance (", "histdata ("):
        assert name in str(info.value)


def test_first_offending_row_wins_whatever_the_check(tmp_path):
    # a non-number on line 3 comes before a bad high on line 4: the parse error is reported
    path = tmp_path / "order.csv"
    path.write_text("time,open,high,low,close,volume,spread\n"
                    "2024-01-02T00:00:00Z,1,2,0.5,1.5,1,0.1\n"
                    "2024-01-02T00:01:00Z,1,2,0.5,1.5,x,0.1\n"
                    "2024-01-02T00:02:00Z,1,0.9,0.5,1.5,1,0.1\n")
    with pytest.raises(DataError, match=r"order\.csv:3: volume 'x' is not a number"):
        load_candles(path)


def test_error_line_counts_blank_lines_and_crlf(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_bytes(b"time,open,high,low,close,volume,spread\r\n\r\n2024-01-02T00:00:00Z,1,2,0.5,1.5,1,0.1\r\n"
                     b"\r\n\r\n2024-01-02T00:01:00Z,1,2,0.5,1.5,-1,0.1\r\n")
    with pytest.raises(DataError, match=r"blank\.csv:6: volume -1\.0 is negative"):
        load_candles(path)


def test_a_failing_load_emits_no_warning_and_returns_nothing(tmp_path):
    # unknown symbol without spread would warn, but the file is invalid: only the error surfaces
    path = tmp_path / "bad.csv"
    path.write_text("time,open,high,low,close\n2024-01-02T00:00:00Z,1,0.5,0.5,1.5\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"bad\.csv:2: high 0\.5 is below max\(open, close\) = 1\.5"):
            load_candles(path)


def test_gaps_are_not_errors(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("time,open,high,low,close,volume,spread\n"
                    "2024-01-05T20:59:00Z,1,2,0.5,1.5,1,0.1\n"  # Friday
                    "2024-01-07T23:00:00Z,1,2,0.5,1.5,1,0.1\n"  # Sunday
                    "2024-01-07T23:05:00Z,1,2,0.5,1.5,1,0.1\n")
    assert len(load_candles(path)) == 3


# -- validate_candles / first_problem on arrays ---------------------------------------------------------------------
def bars(**changes):
    cols = dict(time=np.array([0, 60, 120]), open=np.array([1.0, 1.0, 1.0]), high=np.array([2.0, 2.0, 2.0]),
                low=np.array([0.5, 0.5, 0.5]), close=np.array([1.5, 1.5, 1.5]), volume=np.array([1.0, 1.0, 1.0]),
                spread=np.array([0.1, 0.1, 0.1]))
    for name, (i, value) in changes.items():
        cols[name] = cols[name].copy() if name in cols else np.ones(3)
        cols[name][i] = value
    return cols


@pytest.mark.parametrize(("changes", "expected"), [
    (dict(), None),
    (dict(high=(1, 1.2)), (1, "high 1.2 is below max(open, close) = 1.5")),
    (dict(low=(2, 1.2)), (2, "low 1.2 is above min(open, close) = 1.0")),
    (dict(open=(1, np.nan), high=(1, 0.0)), (1, "open is nan; prices, volumes and spreads must be finite numbers")),
    (dict(spread=(2, -0.5), high=(1, 0.0)), (1, "high 0.0 is below max(open, close) = 1.5")),
    (dict(time=(2, 60)), (2, "duplicate time 1970-01-01T00:01:00Z (same as row 1); each minute may appear once")),
    (dict(real_volume=(0, -1.0)), (0, "real_volume -1.0 is negative")),
])
def test_first_problem(changes, expected):
    assert first_problem(bars(**changes)) == expected


def test_validate_candles_names_the_index_without_lines():
    c = Candles(**bars(high=(2, 1.0)))
    with pytest.raises(DataError, match=r"^<data>: index 2: high 1\.0 is below max\(open, close\) = 1\.5$"):
        validate_candles(c)


def test_validate_candles_uses_file_lines():
    c = Candles(**bars(volume=(1, -2.0)))
    with pytest.raises(DataError, match=r"^x\.csv:9: volume -2\.0 is negative$"):
        validate_candles(c, path="x.csv", lines=np.array([5, 9, 12]))


def test_validate_candles_refuses_no_bars():
    empty = Candles(**{k: v[:0] for k, v in bars().items()})
    with pytest.raises(DataError, match="no bars"):
        validate_candles(empty)


def test_valid_samples_validate(xau_sample, btc_sample):
    validate_candles(xau_sample)
    validate_candles(btc_sample)
