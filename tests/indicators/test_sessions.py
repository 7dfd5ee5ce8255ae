"""Session indicators against plain-Python references on real bars, hand-built cases around midnight, session
wraps and weekends, the windows parser, window exactness at full lookback, and price-reflection symmetry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import indicators
from indicators import sessions
from ruleengine.data import Candles
from ruleengine.resources import config_dir
from tests.strategies import candles

MINE = [n for n in indicators.names() if indicators.get(n).category == "sessions"]
BIG = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- helpers ------------------------------------------------------------------------------------------------

def ts(text: str) -> int:
    """Epoch seconds of a UTC "YYYY-MM-DD HH:MM"."""
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp())


def bars(times: list[int], high: list[float], low: list[float], volume: list[float] | None = None) -> Candles:
    """Hand-built candles: open at the low, close at the high (any consistent OHLC would do)."""
    n = len(times)
    return Candles(time=np.array(times), open=np.array(low, dtype=float), high=np.array(high, dtype=float),
                   low=np.array(low, dtype=float), close=np.array(high, dtype=float),
                   volume=np.ones(n) if volume is None else np.array(volume, dtype=float), spread=np.zeros(n))


def minutes(start: str, count: int) -> list[int]:
    return [ts(start) + 60 * k for k in range(count)]


def reflect(c: Candles) -> tuple[Candles, float]:
    """Prices reflected about C/2 (p -> C - p, high and low swapped); volume and spread unchanged."""
    mirror = 2.0 * float(np.round(np.median(c.close)))
    cols: dict[str, Any] = dict(open=mirror - c.open, high=mirror - c.low, low=mirror - c.high, close=mirror - c.close)
    if c.taker_buy_volume is not None:
        cols["taker_buy_volume"] = c.volume - c.taker_buy_volume
    return c.with_columns(**cols), mirror


# -- plain-Python references (datetime arithmetic, one bar at a time) ---------------------------------------

def config_windows() -> list[tuple[str, int, int]]:
    """(name, start minute, end minute) of config/sessions.yaml, read independently of the indicator parser."""
    data = yaml.safe_load((config_dir() / "sessions.yaml").read_text())
    out = []
    for s in data["sessions"]:
        (sh, sm), (eh, em) = (map(int, s["start"].split(":")), map(int, s["end"].split(":")))
        out.append((s["name"], sh * 60 + sm, eh * 60 + em))
    return out


WINDOWS = config_windows()


def utc(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def reference_label(t: int) -> int:
    dt = utc(t)
    m = dt.hour * 60 + dt.minute
    for i, (_, start, end) in enumerate(WINDOWS):
        if (start <= m < end) if start < end else (m >= start or m < end):
            return i
    return -1


def reference_occurrence(t: int) -> tuple[int, datetime] | None:
    """(session id, start datetime of the occurrence) of the bar, None outside every window."""
    label = reference_label(t)
    if label < 0:
        return None
    dt = utc(t)
    since = (dt.hour * 60 + dt.minute - WINDOWS[label][1]) % 1440
    return label, dt.replace(second=0) - timedelta(minutes=since)


def reference_session_running(c: Candles, pick: str) -> list[float]:
    out, current, value = [], None, 0.0
    for t, h, lo in zip(c.time.tolist(), c.high.tolist(), c.low.tolist(), strict=True):
        occ = reference_occurrence(t)
        price = h if pick == "high" else lo
        if occ is None:
            out.append(float("nan"))
            current = None
            continue
        if occ != current:
            current, value = occ, price
        value = max(value, price) if pick == "high" else min(value, price)
        out.append(value)
    return out


def reference_prior_session(c: Candles, session: str, pick: str) -> list[float]:
    """Walk bars keeping every occurrence seen (first bar, extreme); answer with the latest one of the wanted
    session that does not hold the bar, if it started fewer than 1440 + length bars ago."""
    names = [w[0] for w in WINDOWS]
    lengths = {n: (e - s) % 1440 for n, s, e in WINDOWS}
    length = max(lengths.values()) if session == "previous" else lengths[session]
    occs: list[dict[str, Any]] = []
    out = []
    for i, (t, h, lo) in enumerate(zip(c.time.tolist(), c.high.tolist(), c.low.tolist(), strict=True)):
        occ = reference_occurrence(t)
        price = h if pick == "high" else lo
        if occ is not None:
            if occs and occs[-1]["key"] == occ:
                best = occs[-1]["value"]
                occs[-1]["value"] = max(best, price) if pick == "high" else min(best, price)
            else:
                occs.append({"key": occ, "first": i, "value": price})
        answer = float("nan")
        for o in reversed(occs):
            if o["key"] == occ:
                continue  # the bar's own occurrence
            if session == "previous" or names[o["key"][0]] == session:
                if i - o["first"] < 1440 + length:
                    answer = o["value"]
                break
        out.append(answer)
    return out


def reference_days(c: Candles, anchor: str) -> list[date]:
    hh, mm = map(int, anchor.split(":"))
    return [utc(t - (hh * 60 + mm) * 60).date() for t in c.time.tolist()]


def reference_intraday(c: Candles, anchor: str, pick: str) -> list[float]:
    out, day, value = [], None, 0.0
    for d, h, lo in zip(reference_days(c, anchor), c.high.tolist(), c.low.tolist(), strict=True):
        price = h if pick == "high" else lo
        if d != day:
            day, value = d, price
        value = max(value, price) if pick == "high" else min(value, price)
        out.append(value)
    return out


def reference_previous_day(c: Candles, anchor: str, pick: str) -> list[float]:
    first: dict[date, int] = {}
    extreme: dict[date, float] = {}
    order: list[date] = []
    out = []
    for i, (d, h, lo) in enumerate(zip(reference_days(c, anchor), c.high.tolist(), c.low.tolist(), strict=True)):
        price = h if pick == "high" else lo
        if d not in first:
            first[d], extreme[d] = i, price
            order.append(d)
        extreme[d] = max(extreme[d], price) if pick == "high" else min(extreme[d], price)
        prev = order[-2] if len(order) >= 2 else None
        out.append(extreme[prev] if prev is not None and i - first[prev] < 2880 else float("nan"))
    return out


# -- the default windows ------------------------------------------------------------------------------------

def test_default_windows_equal_config_sessions_yaml() -> None:
    compact = ",".join(f"{n}={s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for n, s, e in WINDOWS)
    assert compact == sessions.DEFAULT_WINDOWS
    for name in MINE:
        ind = indicators.get(name)
        if any(p.name == "windows" for p in ind.params):
            assert ind.param("windows").default == sessions.DEFAULT_WINDOWS, name


@pytest.mark.parametrize(("windows", "message"), [
    ("", "no session windows"),
    ("london", "bad session window"),
    ("london=07:00", "bad session window"),
    ("=07:00-12:00", "bad session window"),
    ("london=7h-12:00", "HH:MM"),
    ("london=07:00-25:00", "out of range"),
    ("london=07:00-07:00", "00:00-24:00"),
    ("london=07:00-12:00,london=13:00-14:00", "given twice"),
    ("asian=23:00-07:00,london=06:30-12:00", "overlap at 06:30"),
    ("a=01:00-03:00,b=02:00-04:00", "'a' and 'b' overlap at 02:00"),
    ("previous=01:00-03:00", "bad session name"),
    ("new york=01:00-03:00", "bad session name"),
])
def test_bad_windows_are_rejected_with_a_clear_message(windows: str, message: str) -> None:
    c = bars(minutes("2024-06-03 00:00", 3), [2.0] * 3, [1.0] * 3)
    with pytest.raises(ValueError, match=message):
        indicators.get("session_id").compute(c, windows=windows)


def test_unknown_session_names_the_known_ones() -> None:
    c = bars(minutes("2024-06-03 00:00", 3), [2.0] * 3, [1.0] * 3)
    with pytest.raises(ValueError, match="unknown session 'tokyo'; sessions: asian, london, new_york, post_ny"):
        indicators.get("in_session").compute(c, session="tokyo")
    with pytest.raises(ValueError, match="unknown session"):
        indicators.get("prior_session_high").lookback({"session": "tokyo"})


def test_whole_day_window_and_spaces() -> None:
    c = bars(minutes("2024-06-03 23:58", 4), [2.0] * 4, [1.0] * 4)
    np.testing.assert_array_equal(indicators.get("session_id").compute(c, windows=" all = 00:00 - 24:00 "), 0.0)
    np.testing.assert_array_equal(
        indicators.get("session_id").compute(c, windows="late=22:00-24:00,early=00:00-00:01"), [0, 0, 1, np.nan])


# -- references on real bars --------------------------------------------------------------------------------

@pytest.fixture(params=["xau", "btc"])
def real(request: pytest.FixtureRequest, xau_sample: Candles, btc_sample: Candles) -> Candles:
    return xau_sample if request.param == "xau" else btc_sample


def test_session_id_and_in_session_match_reference(real: Candles) -> None:
    labels = [reference_label(t) for t in real.time.tolist()]
    want = np.array([float(x) if x >= 0 else np.nan for x in labels])
    np.testing.assert_array_equal(indicators.get("session_id").compute(real), want)
    for i, (name, _, _) in enumerate(WINDOWS):
        got = indicators.get("in_session").compute(real, session=name)
        np.testing.assert_array_equal(got, np.array(labels) == i, err_msg=name)


@pytest.mark.parametrize("pick", ["high", "low"])
def test_session_running_matches_reference(real: Candles, pick: str) -> None:
    got = indicators.get(f"session_{pick}").compute(real)
    np.testing.assert_array_equal(got, reference_session_running(real, pick))


@pytest.mark.parametrize("pick", ["high", "low"])
@pytest.mark.parametrize("session", ["previous", "asian", "london", "new_york", "post_ny"])
def test_prior_session_matches_reference(real: Candles, session: str, pick: str) -> None:
    got = indicators.get(f"prior_session_{pick}").compute(real, session=session)
    want = reference_prior_session(real, session, pick)
    np.testing.assert_array_equal(got, want)
    assert np.isfinite(got).mean() > 0.8  # the samples are weeks long: most bars have a prior session


@pytest.mark.parametrize("pick", ["high", "low"])
@pytest.mark.parametrize("anchor", ["00:00", "07:00", "22:00"])
def test_intraday_and_previous_day_match_reference(real: Candles, anchor: str, pick: str) -> None:
    np.testing.assert_array_equal(indicators.get(f"intraday_{pick}").compute(real, anchor=anchor),
                                  reference_intraday(real, anchor, pick))
    np.testing.assert_array_equal(indicators.get(f"previous_day_{pick}").compute(real, anchor=anchor),
                                  reference_previous_day(real, anchor, pick))


# -- hand-built cases ---------------------------------------------------------------------------------------

def test_weekend_gap_previous_day_and_prior_london_are_fridays() -> None:
    # Friday 2024-06-07: London 07:00-07:02 (high 10), NY 13:00-13:01 (high 12). Monday 2024-06-10: London, NY.
    times = [*minutes("2024-06-07 07:00", 3), *minutes("2024-06-07 13:00", 2),
             *minutes("2024-06-10 07:00", 2), *minutes("2024-06-10 13:00", 2)]
    high = [9.0, 10.0, 9.5, 12.0, 11.0, 5.0, 6.0, 7.0, 8.0]
    low = [x - 1 for x in high]
    c = bars(times, high, low)
    pdh = indicators.get("previous_day_high").compute(c)
    np.testing.assert_array_equal(pdh, [np.nan] * 5 + [12.0] * 4)
    np.testing.assert_array_equal(indicators.get("previous_day_low").compute(c), [np.nan] * 5 + [8.0] * 4)
    london = indicators.get("prior_session_high").compute(c, session="london")
    #   Friday London: none before. Friday NY: Friday London (10). Monday London: Friday London. Monday NY: Monday's.
    np.testing.assert_array_equal(london, [np.nan] * 3 + [10.0] * 4 + [6.0] * 2)
    previous = indicators.get("prior_session_high").compute(c)
    #   Monday London's prior session is Friday New York (the weekend has no bars).
    np.testing.assert_array_equal(previous, [np.nan] * 3 + [10.0] * 2 + [12.0] * 2 + [6.0] * 2)
    np.testing.assert_array_equal(indicators.get("intraday_high").compute(c),
                                  [9.0, 10.0, 10.0, 12.0, 12.0, 5.0, 6.0, 7.0, 8.0])


def test_sunday_open_joins_monday_with_a_22_00_anchor() -> None:
    # Gold: Friday until 20:59, Sunday 22:00-22:01, Monday 00:00-00:01.
    times = [*minutes("2024-06-07 20:58", 2), *minutes("2024-06-09 22:00", 2), *minutes("2024-06-10 00:00", 2)]
    high = [20.0, 21.0, 3.0, 4.0, 5.0, 6.0]
    c = bars(times, high, [h - 1 for h in high])
    midnight = indicators.get("previous_day_high").compute(c)
    np.testing.assert_array_equal(midnight, [np.nan, np.nan, 21.0, 21.0, 4.0, 4.0])  # Sunday's stub is a "day"
    gold = indicators.get("previous_day_high").compute(c, anchor="22:00")
    np.testing.assert_array_equal(gold, [np.nan, np.nan, 21.0, 21.0, 21.0, 21.0])
    np.testing.assert_array_equal(indicators.get("intraday_high").compute(c, anchor="22:00"),
                                  [20.0, 21.0, 3.0, 4.0, 5.0, 6.0])


def test_asian_session_wraps_midnight_as_one_occurrence() -> None:
    # 22:59 (post_ny), 23:00 .. 00:01 (asian, across midnight), a gap, 06:59 (asian), 07:00 (london).
    times = [ts("2024-06-03 22:59"), *minutes("2024-06-03 23:58", 4), ts("2024-06-04 06:59"), ts("2024-06-04 07:00")]
    high = [50.0, 10.0, 11.0, 9.0, 8.0, 7.0, 6.0]
    c = bars(times, high, [h - 1 for h in high])
    np.testing.assert_array_equal(indicators.get("session_id").compute(c), [3, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(indicators.get("session_high").compute(c), [50, 10, 11, 11, 11, 11, 6])
    np.testing.assert_array_equal(indicators.get("intraday_high").compute(c), [50, 50, 50, 9, 9, 9, 9])
    np.testing.assert_array_equal(indicators.get("prior_session_high").compute(c, session="asian"),
                                  [np.nan] * 6 + [11.0])
    np.testing.assert_array_equal(indicators.get("prior_session_high").compute(c), [np.nan] + [50.0] * 5 + [11.0])
    np.testing.assert_array_equal(indicators.get("in_session").compute(c, session="asian"),
                                  [False] + [True] * 5 + [False])


def test_bars_outside_every_window_have_no_session() -> None:
    windows = "london=07:00-12:00,new_york=13:00-21:00"
    times = [ts("2024-06-03 11:59"), ts("2024-06-03 12:00"), ts("2024-06-03 12:59"), ts("2024-06-03 13:00")]
    c = bars(times, [5.0, 9.0, 8.0, 4.0], [4.0, 8.0, 7.0, 3.0])
    np.testing.assert_array_equal(indicators.get("session_id").compute(c, windows=windows), [0, np.nan, np.nan, 1])
    np.testing.assert_array_equal(indicators.get("session_high").compute(c, windows=windows), [5, np.nan, np.nan, 4])
    np.testing.assert_array_equal(indicators.get("prior_session_high").compute(c, windows=windows),
                                  [np.nan, 5.0, 5.0, 5.0])


def test_prior_session_beyond_the_lookback_is_nan() -> None:
    # Every minute from Monday's London open to Tuesday 06:59, no London on Tuesday (a holiday), then New York.
    assert indicators.get("prior_session_high").lookback({"session": "london"}) == 1440 + 300
    times = [*minutes("2024-06-03 07:00", 1440), *minutes("2024-06-04 12:00", 540)]
    c = bars(times, [1.0] * 1980, [0.0] * 1980)
    got = indicators.get("prior_session_high").compute(c, session="london")
    assert np.isnan(got[:300]).all()  # Monday's London itself
    assert (got[300:1740] == 1.0).all()  # Monday's London started at most 1739 bars ago
    assert np.isnan(got[1740:]).all()  # ... and 1740 or more from Tuesday 17:00: beyond the lookback


def test_previous_day_is_defined_through_the_whole_next_day() -> None:
    # With at most 1440 bars a day the previous day starts at most 2879 bars back: never beyond the lookback.
    times = [*minutes("2024-06-03 00:00", 1440), *minutes("2024-06-04 00:00", 1440), ts("2024-06-05 00:00")]
    c = bars(times, [2.0] * 1440 + [3.0] * 1440 + [4.0], [1.0] * 2881)
    got = indicators.get("previous_day_high").compute(c)
    assert np.isnan(got[:1440]).all() and (got[1440:2880] == 2.0).all()
    assert got[2880] == 3.0


# -- properties ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MINE)
@BIG
@given(data=st.data())
def test_window_exact_at_full_lookback(name: str, data: st.DataObject) -> None:
    """The registry-wide property, with candles long enough for day-long lookbacks (its candles stop at 400)."""
    ind = indicators.get(name)
    lookback = ind.lookback()
    c = data.draw(candles(min_size=lookback + 2, max_size=lookback + 400))
    s = data.draw(st.integers(0, len(c) - lookback - 1))
    full, window = ind.compute(c), ind.compute(c[s:])
    np.testing.assert_array_equal(window[lookback:], full[s + lookback:])


@settings(max_examples=60, deadline=None)
@given(c=candles(max_size=3000), anchor=st.sampled_from(["00:00", "07:00", "22:00"]))
def test_levels_bound_the_bars(c: Candles, anchor: str) -> None:
    hi = indicators.get("intraday_high").compute(c, anchor=anchor)
    lo = indicators.get("intraday_low").compute(c, anchor=anchor)
    assert (hi >= c.high).all() and (lo <= c.low).all()
    sh, sl = indicators.get("session_high").compute(c), indicators.get("session_low").compute(c)
    assert (sh >= c.high).all() and (sl <= c.low).all()  # every minute has a session with the default windows
    pdh, pdl = (indicators.get(f"previous_day_{p}").compute(c, anchor=anchor) for p in ("high", "low"))
    np.testing.assert_array_equal(np.isnan(pdh), np.isnan(pdl))
    assert (pdh[~np.isnan(pdh)] >= pdl[~np.isnan(pdl)]).all()


@pytest.mark.parametrize("name", [n for n in MINE if indicators.get(n).mirror])
@settings(max_examples=30, deadline=None)
@given(c=candles(max_size=3000))
def test_mirror_under_price_reflection(name: str, c: Candles) -> None:
    """Max and min commute exactly with p -> C - p (rounding of C - x is monotone), so equality is exact."""
    ind = indicators.get(name)
    flipped, mirror = reflect(c)
    got = ind.compute(flipped)
    want = indicators.get(ind.mirror).compute(c)
    if ind.mirror_kind == "reflect":
        want = mirror - want
    np.testing.assert_array_equal(got, want)


def test_lookbacks_are_the_documented_ones() -> None:
    get = indicators.get
    assert get("session_id").lookback() == get("in_session").lookback() == 0
    assert get("session_high").lookback() == 539  # New York, 12:00-21:00, is the longest default window
    assert get("prior_session_high").lookback() == 1440 + 540
    assert get("prior_session_low").lookback({"session": "post_ny"}) == 1440 + 120
    assert get("intraday_high").lookback() == 1439
    assert get("previous_day_low").lookback() == 2880


# -- newest-bar twins: anchors, windows and sessions the registry-wide twin test leaves at their defaults -----

TWIN_WINDOWS = [
    sessions.DEFAULT_WINDOWS,
    "late=22:00-02:00,short=09:00-10:00",  # one wraps midnight; most of the day lies outside every window
    "day=00:00-24:00",
    "a=00:00-06:00,b=06:00-13:30,c=18:00-23:59",
]
TWIN_ANCHORS = ["00:00", "07:30", "22:00", "24:00"]


def newest_value(name: str, c: Candles, t: int, **params: Any) -> Any:
    """The twin at bar t on the last lookback + 1 bars up to t, as read-only views like the live evaluator's."""
    ind = indicators.get(name)
    lo = max(0, t - ind.lookback(params))
    args = []
    for column in ind.inputs:
        view = c.column(column)[lo:t + 1]
        view.flags.writeable = False
        args.append(view)
    return ind.last(*args, **ind.resolve(params))  # type: ignore[misc]


def same_value(twin: Any, array_value: Any) -> bool:
    """Bit for bit: the same bool, or the same float including NaN and the sign of a zero."""
    if isinstance(array_value, np.bool_):
        return type(twin) is bool and twin == bool(array_value)
    return type(twin) is float and ((np.isnan(twin) and np.isnan(array_value))
                                    or (twin == array_value and np.signbit(twin) == np.signbit(array_value)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_twins_equal_array_functions_for_any_anchor_windows_and_session(data: st.DataObject) -> None:
    windows = data.draw(st.sampled_from(TWIN_WINDOWS))
    names = sessions._parse_windows(windows).names
    session = data.draw(st.sampled_from([*names, sessions.PREVIOUS]))
    anchor = data.draw(st.sampled_from(TWIN_ANCHORS))
    c = data.draw(candles(min_size=2, max_size=3400))
    bars_ = [*data.draw(st.lists(st.integers(0, len(c) - 1), max_size=12)), len(c) - 1]
    cases: list[tuple[str, dict[str, Any]]] = [
        ("in_session", {"session": data.draw(st.sampled_from(names)), "windows": windows}),
        *((f"prior_session_{p}", {"session": session, "windows": windows}) for p in ("high", "low")),
        *((f"{kind}_{p}", {"anchor": anchor}) for kind in ("intraday", "previous_day") for p in ("high", "low")),
    ]
    for name, params in cases:
        full = indicators.get(name).compute(c, **params)
        for t in bars_:
            got = newest_value(name, c, t, **params)
            assert same_value(got, full[t]), f"{name}{params} at bar {t}: twin {got!r}, array {full[t]!r}"


WEEKEND = range(14_000, 17_000)  # gold bars from Thursday 2026-06-11 to Tuesday, the weekend at bar 15,273


@pytest.mark.parametrize(("name", "params"), [
    *((f"prior_session_{p}", {"session": s}) for p in ("high", "low") for s in ("previous", "asian", "post_ny")),
    *((f"{kind}_{p}", {"anchor": a}) for kind in ("intraday", "previous_day") for p in ("high", "low")
      for a in ("00:00", "22:00")),
])
def test_twins_equal_array_functions_on_real_bars(xau_sample: Candles, name: str, params: dict[str, Any]) -> None:
    full = indicators.get(name).compute(xau_sample, **params)
    for t in WEEKEND:
        assert same_value(newest_value(name, xau_sample, t, **params), full[t]), f"{name}{params} at bar {t}"


def test_prior_session_twin_goes_nan_exactly_at_the_lookback() -> None:
    """With Tuesday's 09:00-10:00 occurrence missing, Monday's is the prior one until it started 1500 bars
    (1440 + 60, the lookback) before the bar; the twin must give NaN from exactly that bar on, as the array."""
    windows = "short=09:00-10:00"
    times = [t for t in minutes("2024-06-03 09:00", 3 * 1440) if not 9 * 60 <= (t - ts("2024-06-04 00:00")) // 60
             < 10 * 60]
    c = bars(times, [100.0 + k % 7 for k in range(len(times))], [90.0 - k % 5 for k in range(len(times))])
    params = {"session": "short", "windows": windows}
    assert indicators.get("prior_session_high").lookback(params) == 1500
    full = indicators.get("prior_session_high").compute(c, **params)
    assert full[1499] == 106.0 and np.isnan(full[1500])
    for t in range(1300, 1700):
        assert same_value(newest_value("prior_session_high", c, t, **params), full[t]), f"bar {t}"
