"""The position state machine on hand-built bars, with every expected trade written out.

Conventions of every test here: bar ``i`` opens at ``T0 + 60 i`` and closes a minute later; prices are bids,
the ask is bid + spread, and the spread is 0.5 unless a test says otherwise. The default order asks for a
stop 1.0 and a target 2.0 away from the fill, so 1R = 1.0 and a long filled at the open 100.0 of a bar
enters at the ask 100.5 with its stop at 99.5 and its target at 102.5 (both compared with the bid), while a
short filled there enters at the bid 100.0 with its stop at 101.0 and its target at 98.0 (both compared with
the ask, i.e. a bid of 100.5 and 97.5). Prices are multiples of 1/8 so that the arithmetic is exact and
trades compare with ``==``; ``pytest.approx`` appears only where slippage or commission rounds.

Each test builds its ``ExitRules`` / ``DisciplineRules`` / ``CheckRules`` / ``ExecutionModel`` (or names one
of the module's constants, whose every field is spelled out) so that it states its assumptions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

import pytest

from ruleengine.execution import Bar, EntrySignal, Event, ExecutionModel, ExitContext, PositionStateMachine, Trade
from ruleengine.rules.model import CheckRules, DisciplineRules, ExitRules

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z

#: Only the stop and the target: no adverse-candle exit, no trailing, no maximum hold.
PLAIN_EXITS = ExitRules(intrabar="pessimistic", adverse_candle=False, trailing_activate_r=None, max_hold=None)
#: No cooldown, no cool-off, one position, de-duplication on, conflicting sides skipped.
OPEN_DISCIPLINE = DisciplineRules(cooldown=0.0, cool_off=0.0, max_concurrent=1, dedupe=True, conflict="skip")
#: The plan's budgets: 0.1% slippage, 200 ms latency (the spread check is the signal's ``spread_ok``).
PLAN_CHECKS = CheckRules(max_spread_ratio=1.5, max_spread_ratio_low_volume=2.0, max_slippage=0.001, max_latency=0.2)
#: Fills exactly at the quoted side, no commission, a latency within the budget.
FRICTIONLESS = ExecutionModel(slippage=0.0, latency=0.05, commission=0.0)


# -- helpers -------------------------------------------------------------------------------------------------
def bar(i: int, o: float, h: float, lo: float, c: float, spread: float = 0.5) -> Bar:
    return Bar(index=i, time=T0 + 60 * i, open=o, high=h, low=lo, close=c, spread=spread)


#: A bar that touches nothing: the signal bar of most tests.
def quiet(i: int) -> Bar:
    return bar(i, 100.0, 100.25, 99.75, 100.0)


def order(side: str, signal_hash: str = "s0", *, stop: float = 1.0, target: float = 2.0, score: float = 5.0,
          spread_ok: bool = True) -> EntrySignal:
    return EntrySignal(side=side, score=score, grade=1, stop_distance=stop, target_distance=target,  # type: ignore[arg-type]
                       signal_hash=signal_hash, spread_ok=spread_ok)


def machine(*, exits: ExitRules, discipline: DisciplineRules, checks: CheckRules, model: ExecutionModel,
            **kwargs: object) -> PositionStateMachine:
    return PositionStateMachine(symbol="XAUUSD", exits=exits, discipline=discipline, checks=checks, model=model,
                                **kwargs)  # type: ignore[arg-type]


def feed(m: PositionStateMachine, bars: Iterable[Bar], *, long: Mapping[int, EntrySignal] | None = None,
         short: Mapping[int, EntrySignal] | None = None, last: bool = False) -> PositionStateMachine:
    """Step every bar, with the signals keyed by bar index; ``last`` marks the final bar as the end of data."""
    bars = list(bars)
    long, short = long or {}, short or {}
    for b in bars:
        m.step(b, long.get(b.index), short.get(b.index), last=last and b is bars[-1])
    return m


def trade(side: str, entry_index: int, exit_index: int, *, entry: float, exit: float, sl: float, tp: float,
          reason: str, r: float, mae: float, mfe: float, ambiguous: bool = False, trailing: bool = False,
          signal_hash: str = "s0") -> Trade:
    """The expected trade; times follow from the indices (filled at the open, exit stamped at the close)."""
    return Trade(side=side, entry_time=T0 + 60 * entry_index, exit_time=T0 + 60 * (exit_index + 1),  # type: ignore[arg-type]
                 entry_index=entry_index, exit_index=exit_index, entry_price=entry, exit_price=exit, sl=sl, tp=tp,
                 exit_reason=reason, r_multiple=r, mae_r=mae, mfe_r=mfe, score=5.0, grade=1,
                 signal_hash=signal_hash, ambiguous=ambiguous, trailing_active=trailing)


def rows(events: Iterable[Event]) -> list[tuple[object, ...]]:
    """Events as comparable tuples (an undefined price, NaN, becomes None)."""
    return [(e.kind, e.index, e.time, e.side, e.reason, None if math.isnan(e.price) else e.price, e.position,
             e.signal_hash) for e in events]


def assert_close(actual: Trade, expected: Trade) -> None:
    """Field by field, floats to 1e-12 (for the trades whose slippage or commission rounds)."""
    got, want = actual._asdict(), expected._asdict()
    floats = [k for k, v in want.items() if isinstance(v, float)]
    assert {k: v for k, v in got.items() if k not in floats} == {k: v for k, v in want.items() if k not in floats}
    assert {k: got[k] for k in floats} == pytest.approx({k: want[k] for k in floats}, rel=1e-12, abs=1e-12)


# -- fills, stops, targets -----------------------------------------------------------------------------------
def test_long_fills_at_the_next_open_plus_spread_and_takes_profit() -> None:
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), bar(1, 100.0, 101.0, 100.0, 100.75)], long={0: order("long")})
    (p,) = m.positions
    assert (p.entry_index, p.entry_time, p.entry_price, p.initial_sl, p.sl, p.tp) == (1, T0 + 60, 100.5, 99.5, 99.5,
                                                                                      102.5)
    feed(m, [bar(2, 100.75, 102.5, 100.5, 102.25)])  # the high touches the target exactly
    assert m.trades == [trade("long", 1, 2, entry=100.5, exit=102.5, sl=99.5, tp=102.5, reason="take_profit", r=2.0,
                              mae=0.5, mfe=2.0)]
    assert m.flat


def test_short_fills_at_the_bid_and_its_target_is_reached_by_the_ask() -> None:
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), bar(1, 100.0, 100.25, 99.5, 99.75)], short={0: order("short")})
    (p,) = m.positions
    assert (p.entry_price, p.initial_sl, p.tp) == (100.0, 101.0, 98.0)
    feed(m, [bar(2, 99.75, 100.0, 97.75, 98.0)])  # the bid low 97.75 is below 98, the ask low 98.25 is not
    assert m.trades == []
    feed(m, [bar(3, 98.0, 98.25, 97.5, 97.75)])  # ask low 98.0: the target
    assert m.trades == [trade("short", 1, 3, entry=100.0, exit=98.0, sl=101.0, tp=98.0, reason="take_profit", r=2.0,
                              mae=0.75, mfe=2.0)]


def test_long_stop_loss() -> None:
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), bar(1, 100.0, 100.75, 100.0, 100.25), bar(2, 100.25, 100.5, 99.5, 99.75)],
         long={0: order("long")})
    assert m.trades == [trade("long", 1, 2, entry=100.5, exit=99.5, sl=99.5, tp=102.5, reason="stop_loss", r=-1.0,
                              mae=1.0, mfe=0.25)]


def test_short_stop_loss_is_hit_by_the_ask() -> None:
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    # bar 2: bid high 100.5 stays under the stop 101.0, its ask high 101.0 does not
    feed(m, [quiet(0), bar(1, 100.0, 100.25, 99.75, 100.0), bar(2, 100.0, 100.5, 99.75, 100.25)],
         short={0: order("short")})
    assert m.trades == [trade("short", 1, 2, entry=100.0, exit=101.0, sl=101.0, tp=98.0, reason="stop_loss", r=-1.0,
                              mae=1.0, mfe=0.0)]


@pytest.mark.parametrize(("side", "entry_bar", "expected"), [
    ("long", bar(1, 100.0, 100.25, 99.25, 99.5),
     trade("long", 1, 1, entry=100.5, exit=99.5, sl=99.5, tp=102.5, reason="stop_loss", r=-1.0, mae=1.0, mfe=0.0)),
    ("short", bar(1, 100.0, 100.5, 99.75, 100.25),  # ask high 101.0
     trade("short", 1, 1, entry=100.0, exit=101.0, sl=101.0, tp=98.0, reason="stop_loss", r=-1.0, mae=1.0, mfe=0.0)),
])
def test_stop_hit_on_the_entry_bar(side: str, entry_bar: Bar, expected: Trade) -> None:
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), entry_bar], **{side: {0: order(side)}})  # type: ignore[arg-type]
    assert m.trades == [expected]
    assert [(e.kind, e.index) for e in m.events] == [("signal", 0), ("entry", 1), ("exit", 1)]


def test_a_stop_inside_the_spread_is_refused() -> None:
    """A 0.25 stop under a 0.5 spread would fill at the ask 100.5 with its stop at 100.25, above the bid 100.0
    it could sell at: stopped out by the spread alone, a 2R loss. The machine refuses the order instead."""
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), bar(1, 100.0, 100.25, 100.0, 100.25)], long={0: order("long", stop=0.25)})
    assert m.trades == []
    assert m.blocked == {"stop_within_spread": 1}


# -- both levels inside one bar ------------------------------------------------------------------------------
@pytest.mark.parametrize(("side", "intrabar", "open_", "reason", "exit_price", "r", "mae", "mfe"), [
    # The excursion assumed to come second never happened to the position: a stop-first exit keeps the MFE
    # of the bars before (long: bar 1's high 100.75 -> 0.25R; short: none -> 0), a target-first exit keeps the
    # MAE of the bars before (long: bar 1's low 100.0 -> 0.5R; short: bar 1's ask high 100.75 -> 0.75R).
    ("long", "pessimistic", 102.0, "stop_loss", 99.5, -1.0, 1.0, 0.25),  # the stop first, even by the target
    ("long", "open_proximity", 100.0, "stop_loss", 99.5, -1.0, 1.0, 0.25),  # low 0.5 from the open, high 2.5
    ("long", "open_proximity", 102.0, "take_profit", 102.5, 2.0, 0.5, 2.0),  # high 0.5 from the open, low 2.5
    ("long", "open_proximity", 101.0, "stop_loss", 99.5, -1.0, 1.0, 0.25),  # 1.5 each way: a tie -> the stop
    ("short", "pessimistic", 98.25, "stop_loss", 101.0, -1.0, 1.0, 0.0),
    ("short", "open_proximity", 100.0, "stop_loss", 101.0, -1.0, 1.0, 0.0),  # ask open 100.5: high 0.5 away
    ("short", "open_proximity", 98.25, "take_profit", 98.0, 2.0, 0.75, 2.0),  # ask open 98.75: low 0.75 away
    ("short", "open_proximity", 99.0, "stop_loss", 101.0, -1.0, 1.0, 0.0),  # ask open 99.5: 1.5 each way
])
def test_stop_and_target_in_one_bar(side: str, intrabar: str, open_: float, reason: str, exit_price: float,
                                    r: float, mae: float, mfe: float) -> None:
    exits = ExitRules(intrabar=intrabar, adverse_candle=False, trailing_activate_r=None, max_hold=None)  # type: ignore[arg-type]
    m = machine(exits=exits, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    if side == "long":  # bar 2 spans bid 99.5 .. 102.5: the stop and the target exactly
        bars = [quiet(0), bar(1, 100.0, 100.75, 100.0, 100.5), bar(2, open_, 102.5, 99.5, 101.0)]
        levels = {"entry": 100.5, "sl": 99.5, "tp": 102.5}
    else:  # bar 2 spans ask 98.0 .. 101.0
        bars = [quiet(0), quiet(1), bar(2, open_, 100.5, 97.5, 99.0)]
        levels = {"entry": 100.0, "sl": 101.0, "tp": 98.0}
    feed(m, bars, **{side: {0: order(side)}})  # type: ignore[arg-type]
    assert m.trades == [trade(side, 1, 2, **levels, exit=exit_price, reason=reason, r=r, mae=mae, mfe=mfe,
                              ambiguous=True)]
    assert m.ambiguous_exits == 1


# -- gaps ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("side", "gap_bar", "expected"), [
    ("long", bar(2, 99.0, 99.25, 98.75, 99.0),  # opens under the stop 99.5: out at the open, worse
     trade("long", 1, 2, entry=100.5, exit=99.0, sl=99.5, tp=102.5, reason="stop_loss_gap", r=-1.5, mae=1.5,
           mfe=0.25)),
    ("long", bar(2, 103.0, 103.5, 102.75, 103.25),  # opens over the target 102.5: out at the target, no better
     trade("long", 1, 2, entry=100.5, exit=102.5, sl=99.5, tp=102.5, reason="take_profit_gap", r=2.0, mae=0.5,
           mfe=2.0)),
    ("short", bar(2, 100.75, 101.0, 100.5, 100.75),  # bid open 100.75 < 101, but the ask opens at 101.25
     trade("short", 1, 2, entry=100.0, exit=101.25, sl=101.0, tp=98.0, reason="stop_loss_gap", r=-1.25, mae=1.25,
           mfe=0.0)),
    ("short", bar(2, 97.0, 97.25, 96.75, 97.0),  # ask open 97.5, through the target 98.0
     trade("short", 1, 2, entry=100.0, exit=98.0, sl=101.0, tp=98.0, reason="take_profit_gap", r=2.0, mae=0.75,
           mfe=2.0)),
])
def test_a_gap_through_a_level(side: str, gap_bar: Bar, expected: Trade) -> None:
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    first = bar(1, 100.0, 100.75, 100.0, 100.25) if side == "long" else quiet(1)
    feed(m, [quiet(0), first, gap_bar], **{side: {0: order(side)}})  # type: ignore[arg-type]
    assert m.trades == [expected]
    assert m.ambiguous_exits == 0


# -- slippage and commission ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("side", "bars", "expected"), [
    # long: fill (100 + 0.5) x 1.001 = 100.6005, stop 99.6005, target 102.6005; the stop fills 0.1% under
    ("long", [bar(1, 100.0, 100.75, 100.0, 100.25), bar(2, 100.25, 100.5, 99.5, 99.75)],
     trade("long", 1, 2, entry=100.6005, exit=99.6005 * 0.999, sl=99.6005, tp=102.6005, reason="stop_loss",
           r=99.5008995 - 100.6005, mae=100.6005 - 99.5008995, mfe=100.75 - 100.6005)),
    # ... the target is a limit order: no slippage
    ("long", [bar(1, 100.0, 100.75, 100.0, 100.25), bar(2, 100.25, 102.75, 100.25, 102.5)],
     trade("long", 1, 2, entry=100.6005, exit=102.6005, sl=99.6005, tp=102.6005, reason="take_profit", r=2.0,
           mae=0.6005, mfe=2.0)),
    # short: fill 100 x 0.999 = 99.9, stop 100.9 (ask); bar 2's ask high 101.0 stops it at 100.9 x 1.001
    ("short", [quiet(1), bar(2, 100.0, 100.5, 99.75, 100.25)],
     trade("short", 1, 2, entry=99.9, exit=101.0009, sl=100.9, tp=97.9, reason="stop_loss", r=99.9 - 101.0009,
           mae=101.0009 - 99.9, mfe=0.0)),
    # ... a market exit buys at the ask (99.5 + 0.5) x 1.001 = 100.1
    ("short", [quiet(1), bar(2, 100.0, 100.0, 99.5, 99.5)],
     trade("short", 1, 2, entry=99.9, exit=100.1, sl=100.9, tp=97.9, reason="end_of_data", r=-0.2, mae=0.85,
           mfe=0.0)),
])
def test_slippage_moves_entries_stops_and_market_exits_against_us_but_not_targets(
        side: str, bars: list[Bar], expected: Trade) -> None:
    model = ExecutionModel(slippage=0.001, latency=0.05, commission=0.0)  # exactly the 0.1% budget: allowed
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=model)
    feed(m, [quiet(0), *bars], last=True, **{side: {0: order(side)}})  # type: ignore[arg-type]
    (actual,) = m.trades
    assert_close(actual, expected)


@pytest.mark.parametrize(("exit_bar", "reason", "exit_price", "r"), [
    (bar(2, 100.75, 102.5, 100.5, 102.25), "take_profit", 102.5, 2.0 - 0.0001 * (100.5 + 102.5)),  # 1.9797
    (bar(2, 100.25, 100.5, 99.5, 99.75), "stop_loss", 99.5, -1.0 - 0.0001 * (100.5 + 99.5)),  # -1.02
])
def test_commission_is_charged_on_both_sides_in_r(exit_bar: Bar, reason: str, exit_price: float, r: float) -> None:
    model = ExecutionModel(slippage=0.0, latency=0.05, commission=0.0001)
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=model)
    feed(m, [quiet(0), bar(1, 100.0, 100.75, 100.0, 100.5), exit_bar], long={0: order("long")})
    (t,) = m.trades
    assert (t.exit_reason, t.entry_price, t.exit_price) == (reason, 100.5, exit_price)
    assert t.r_multiple == pytest.approx(r, rel=1e-12)


# -- adverse candle --------------------------------------------------------------------------------------------
ADVERSE_ON = ExitRules(intrabar="pessimistic", adverse_candle=True, trailing_activate_r=None, max_hold=None)


def test_adverse_candle_exits_a_long_at_the_close_only_after_the_entry_bar() -> None:
    m = machine(exits=ADVERSE_ON, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    # the entry bar itself is bearish and closes under the entry 100.5: not an adverse candle
    feed(m, [quiet(0), bar(1, 100.0, 100.25, 99.75, 99.75)], long={0: order("long")})
    assert m.trades == [] and len(m.positions) == 1
    feed(m, [bar(2, 100.25, 100.5, 99.75, 100.0)])  # bearish, closes under the entry: out at the bid close
    assert m.trades == [trade("long", 1, 2, entry=100.5, exit=100.0, sl=99.5, tp=102.5, reason="adverse_candle",
                              r=-0.5, mae=0.75, mfe=0.0)]


@pytest.mark.parametrize("bars", [
    pytest.param([bar(1, 100.0, 100.25, 99.75, 99.75)], id="the entry bar, bearish and under the entry"),
    pytest.param([quiet(1), bar(2, 99.75, 100.25, 99.75, 100.0)], id="bullish bar under the entry"),
    pytest.param([quiet(1), bar(2, 100.0, 100.25, 99.75, 100.0)], id="doji under the entry"),
    pytest.param([quiet(1), bar(2, 101.0, 101.0, 100.75, 100.75)], id="bearish bar closing above the entry"),
    pytest.param([quiet(1), bar(2, 100.75, 100.75, 100.5, 100.5)], id="bearish bar closing at the entry"),
])
def test_adverse_candle_needs_a_later_bar_closing_against_and_beyond_the_entry(bars: list[Bar]) -> None:
    m = machine(exits=ADVERSE_ON, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), *bars], long={0: order("long")})
    assert m.trades == [] and len(m.positions) == 1


def test_adverse_candle_exits_a_short_at_the_ask_close() -> None:
    m = machine(exits=ADVERSE_ON, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    # bar 2 is bullish and its bid close 100.25 is above the entry 100.0: bought back at the ask 100.75
    feed(m, [quiet(0), quiet(1), bar(2, 99.75, 100.375, 99.75, 100.25)], short={0: order("short")})
    assert m.trades == [trade("short", 1, 2, entry=100.0, exit=100.75, sl=101.0, tp=98.0, reason="adverse_candle",
                              r=-0.75, mae=0.875, mfe=0.0)]


def test_adverse_candle_disabled() -> None:
    exits = ExitRules(intrabar="pessimistic", adverse_candle=False, trailing_activate_r=None, max_hold=None)
    m = machine(exits=exits, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), bar(1, 100.0, 100.25, 99.75, 99.75), bar(2, 100.25, 100.5, 99.75, 100.0)],
         long={0: order("long")})
    assert m.trades == [] and len(m.positions) == 1


@pytest.mark.parametrize("side", [
    "long",
    "short",
])
def test_adverse_candle_judges_beyond_the_entry_at_the_exit_price_on_both_sides(side: str) -> None:
    """Mirror cases: a bar that closes against the position with the position losing 0.25 at the price it
    would exit at (the long's bid close 100.25 under its ask fill 100.5; the short's ask close 100.25 above
    its bid fill 100.0, though its bid close 99.75 is below the fill)."""
    m = machine(exits=ADVERSE_ON, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    against = bar(2, 100.5, 100.75, 100.25, 100.25) if side == "long" else bar(2, 99.5, 99.75, 99.5, 99.75)
    feed(m, [quiet(0), quiet(1), against], **{side: {0: order(side)}})  # type: ignore[arg-type]
    assert [(t.exit_reason, t.exit_index, t.exit_price, t.r_multiple) for t in m.trades] == [
        ("adverse_candle", 2, 100.25, -0.25)]


# -- close-of-bar priority: adverse expression, exit_when, maximum hold ----------------------------------------
@pytest.mark.parametrize(("context", "reason"), [
    (ExitContext(adverse=True, exit_when=True), "adverse_candle"),
    (ExitContext(adverse=False, exit_when=True), "exit_when"),
    (ExitContext(adverse=False, exit_when=False), "max_hold"),
])
def test_close_of_bar_exits_in_priority_order(context: ExitContext, reason: str) -> None:
    exits = ExitRules(intrabar="pessimistic", adverse_candle=True, trailing_activate_r=None, max_hold=120.0)
    m = machine(exits=exits, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS,
                exit_values=lambda side, index, p: context if index == 2 else ExitContext(adverse=False))
    # bar 2 is bullish (the built-in adverse test would not fire) and closes 120 s after the fill
    feed(m, [quiet(0), bar(1, 100.0, 100.75, 100.0, 100.25), bar(2, 100.25, 100.75, 100.0, 100.5)],
         long={0: order("long")})
    assert m.trades == [trade("long", 1, 2, entry=100.5, exit=100.5, sl=99.5, tp=102.5, reason=reason, r=0.0,
                              mae=0.5, mfe=0.25)]


def test_the_rules_adverse_expression_is_ignored_on_the_entry_bar() -> None:
    m = machine(exits=ADVERSE_ON, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS,
                exit_values=lambda side, index, p: ExitContext(adverse=True))
    feed(m, [quiet(0), bar(1, 100.0, 100.75, 100.0, 100.25)], long={0: order("long")})
    assert m.trades == []
    feed(m, [bar(2, 100.25, 100.75, 100.0, 100.5)])
    assert [(t.exit_reason, t.exit_index, t.exit_price) for t in m.trades] == [("adverse_candle", 2, 100.5)]


# -- trailing stop ----------------------------------------------------------------------------------------------
TRAILING = ExitRules(intrabar="pessimistic", adverse_candle=False, trailing_activate_r=0.5, max_hold=None)


def half_a_dollar_behind(side: str, index: int, position: object) -> ExitContext:
    return ExitContext(trailing_distance=0.5)


def test_trailing_long_and_every_transition_recorded() -> None:
    m = machine(exits=TRAILING, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS,
                exit_values=half_a_dollar_behind)
    feed(m, [quiet(0), bar(1, 100.0, 100.75, 100.0, 100.75)], long={0: order("long")})
    (p,) = m.positions
    assert (p.trailing_active, p.sl) == (False, 99.5)  # close 100.75 = +0.25R: below activate_r
    feed(m, [bar(2, 100.75, 101.25, 100.5, 101.0)])  # close 101.0 = +0.5R: active, stop to 101.0 - 0.5
    assert (p.trailing_active, p.sl) == (True, 100.5)
    feed(m, [bar(3, 101.0, 101.75, 100.75, 101.5)])  # close 101.5: stop to 101.0
    feed(m, [bar(4, 101.5, 101.75, 101.25, 101.25)])  # close 101.25 would put it at 100.75: it stays
    assert p.sl == 101.0
    feed(m, [bar(5, 101.25, 101.5, 100.75, 101.0)])  # low 100.75 takes the trailed stop 101.0
    assert m.trades == [trade("long", 1, 5, entry=100.5, exit=101.0, sl=99.5, tp=102.5, reason="trailing_stop",
                              r=0.5, mae=0.5, mfe=1.25, trailing=True)]
    behind = "trailing at 0.5 behind the close"
    assert rows(m.events) == [
        ("signal", 0, T0 + 60, "long", "score 5", None, None, "s0"),
        ("entry", 1, T0 + 60, "long", "filled at the open", 100.5, 1, "s0"),
        ("sl_moved", 2, T0 + 180, "long", behind, 100.5, 1, "s0"),
        ("sl_moved", 3, T0 + 240, "long", behind, 101.0, 1, "s0"),
        ("exit", 5, T0 + 360, "long", "trailing_stop", 101.0, 1, "s0"),
    ]


def test_trailing_short_follows_the_ask() -> None:
    m = machine(exits=TRAILING, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS,
                exit_values=half_a_dollar_behind)
    feed(m, [
        quiet(0),
        bar(1, 100.0, 100.25, 99.75, 99.75),  # ask close 100.25: -0.25R
        bar(2, 99.75, 100.0, 99.0, 99.0),  # ask close 99.5: +0.5R, stop to 99.5 + 0.5 = 100.0
        bar(3, 99.0, 99.25, 98.75, 99.25),  # ask close 99.75 would put it at 100.25: it stays
        bar(4, 99.25, 99.75, 99.0, 99.5),  # ask high 100.25 takes the stop 100.0
    ], short={0: order("short")})
    assert [(e.index, e.price) for e in m.events if e.kind == "sl_moved"] == [(2, 100.0)]
    assert m.trades == [trade("short", 1, 4, entry=100.0, exit=100.0, sl=101.0, tp=98.0, reason="trailing_stop",
                              r=0.0, mae=0.75, mfe=0.75, trailing=True)]


def test_a_trailed_stop_taken_in_an_ambiguous_bar_is_still_a_trailing_stop() -> None:
    m = machine(exits=TRAILING, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS,
                exit_values=half_a_dollar_behind)
    feed(m, [quiet(0), bar(1, 100.0, 100.75, 100.0, 100.75), bar(2, 100.75, 101.25, 100.5, 101.0),
             bar(3, 101.0, 101.75, 100.75, 101.5),  # stop trailed to 101.0
             bar(4, 101.5, 102.5, 100.75, 101.5)],  # touches the stop 101.0 and the target 102.5
         long={0: order("long")})
    # mfe 1.25: bar 3's high 101.75; bar 4's target touch is assumed to come after the stop, so it never counts
    assert m.trades == [trade("long", 1, 4, entry=100.5, exit=101.0, sl=99.5, tp=102.5, reason="trailing_stop",
                              r=0.5, mae=0.5, mfe=1.25, ambiguous=True, trailing=True)]


@pytest.mark.parametrize(("activate_r", "distance"), [
    (0.5, math.nan),  # the rule's distance undefined on these bars (indicator warm-up)
    (0.5, 0.0),
    (0.5, -0.5),
    (None, 0.5),  # no trailing section in the rule
])
def test_no_trailing_without_a_positive_distance_or_without_trailing(activate_r: float | None,
                                                                      distance: float) -> None:
    exits = ExitRules(intrabar="pessimistic", adverse_candle=False, trailing_activate_r=activate_r, max_hold=None)
    m = machine(exits=exits, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS,
                exit_values=lambda side, index, p: ExitContext(trailing_distance=distance))
    feed(m, [quiet(0), bar(1, 100.0, 100.75, 100.0, 100.75), bar(2, 100.75, 101.25, 100.5, 101.0),
             bar(3, 101.0, 101.75, 100.75, 101.5), bar(4, 101.5, 101.75, 101.25, 101.25),
             bar(5, 101.25, 101.5, 100.75, 101.0)], long={0: order("long")})
    (p,) = m.positions
    assert (p.trailing_active, p.sl) == (False, 99.5)
    assert m.trades == [] and [e for e in m.events if e.kind == "sl_moved"] == []


# -- maximum hold, end of data -------------------------------------------------------------------------------
def test_max_hold_exits_at_the_close_once_the_hold_is_reached() -> None:
    exits = ExitRules(intrabar="pessimistic", adverse_candle=False, trailing_activate_r=None, max_hold=180.0)
    m = machine(exits=exits, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    # filled at T0+60; bar 2 closes 120 s later, bar 3 180 s later
    feed(m, [quiet(0), bar(1, 100.0, 100.75, 100.0, 100.25), bar(2, 100.25, 100.75, 100.0, 100.5)],
         long={0: order("long")})
    assert m.trades == []
    feed(m, [bar(3, 100.5, 101.0, 100.25, 100.75)])
    assert m.trades == [trade("long", 1, 3, entry=100.5, exit=100.75, sl=99.5, tp=102.5, reason="max_hold", r=0.25,
                              mae=0.5, mfe=0.5)]
    assert m.trades[0].hold_seconds == 180


def test_end_of_data_closes_an_open_position_at_the_last_close() -> None:
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), bar(1, 100.0, 100.75, 100.0, 100.25), bar(2, 100.25, 101.0, 100.0, 100.75)],
         long={0: order("long")}, last=True)
    assert m.trades == [trade("long", 1, 2, entry=100.5, exit=100.75, sl=99.5, tp=102.5, reason="end_of_data",
                              r=0.25, mae=0.5, mfe=0.5)]
    assert m.flat


def test_a_signal_on_the_last_bar_is_blocked() -> None:
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0)], long={0: order("long")}, last=True)
    assert rows(m.events) == [("signal", 0, T0 + 60, "long", "score 5", None, None, "s0"),
                              ("blocked", 0, T0 + 60, "long", "end_of_data", None, None, "s0")]
    assert m.blocked == Counter(end_of_data=1) and m.flat


# -- MAE / MFE ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("side", "bars", "expected"), [
    # long 100.5: lowest bid 99.75 (-0.75R), highest 101.5 (+1.0R); out at the bid close 101.0
    ("long", [bar(1, 100.0, 101.0, 100.0, 100.5), bar(2, 100.5, 101.5, 99.75, 100.75),
              bar(3, 100.75, 101.25, 100.25, 101.0)],
     trade("long", 1, 3, entry=100.5, exit=101.0, sl=99.5, tp=102.5, reason="max_hold", r=0.5, mae=0.75, mfe=1.0)),
    # short 100.0: highest ask 100.75 (-0.75R), lowest 99.5 (+0.5R); out at the ask close 100.0
    ("short", [bar(1, 100.0, 100.25, 99.5, 99.75), bar(2, 99.75, 100.0, 99.0, 99.5),
               bar(3, 99.5, 99.75, 99.25, 99.5)],
     trade("short", 1, 3, entry=100.0, exit=100.0, sl=101.0, tp=98.0, reason="max_hold", r=0.0, mae=0.75, mfe=0.5)),
])
def test_mae_and_mfe_in_r(side: str, bars: list[Bar], expected: Trade) -> None:
    exits = ExitRules(intrabar="pessimistic", adverse_candle=False, trailing_activate_r=None, max_hold=180.0)
    m = machine(exits=exits, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), *bars], **{side: {0: order(side)}})  # type: ignore[arg-type]
    assert m.trades == [expected]


# -- discipline ---------------------------------------------------------------------------------------------------
def entries_and_refusals(m: PositionStateMachine) -> list[tuple[str, int, str, str]]:
    return [(e.kind, e.index, e.signal_hash, e.reason if e.kind == "blocked" else "")
            for e in m.events if e.kind in ("entry", "blocked")]


def test_cooldown_between_accepted_signals() -> None:
    discipline = DisciplineRules(cooldown=180.0, cool_off=0.0, max_concurrent=2, dedupe=True, conflict="skip")
    m = machine(exits=PLAIN_EXITS, discipline=discipline, checks=PLAN_CHECKS, model=FRICTIONLESS)
    # accepted at T0+60; T0+120 and T0+180 are inside 180 s, T0+240 is not (the boundary is allowed)
    feed(m, [quiet(i) for i in range(5)], long={i: order("long", f"s{i}") for i in range(4)})
    assert entries_and_refusals(m) == [("entry", 1, "s0", ""), ("blocked", 1, "s1", "cooldown"),
                                       ("blocked", 2, "s2", "cooldown"), ("entry", 4, "s3", "")]
    assert m.blocked == Counter(cooldown=2)


def test_cool_off_after_an_exit() -> None:
    discipline = DisciplineRules(cooldown=0.0, cool_off=60.0, max_concurrent=1, dedupe=True, conflict="skip")
    m = machine(exits=PLAIN_EXITS, discipline=discipline, checks=PLAN_CHECKS, model=FRICTIONLESS)
    # bar 2 stops the first trade out; its own signal falls inside the cool-off, bar 3's does not
    feed(m, [quiet(0), quiet(1), bar(2, 100.0, 100.25, 99.5, 99.75), quiet(3), quiet(4)],
         long={0: order("long", "s0"), 2: order("long", "s2"), 3: order("long", "s3")})
    assert m.trades[0] == trade("long", 1, 2, entry=100.5, exit=99.5, sl=99.5, tp=102.5, reason="stop_loss", r=-1.0,
                                mae=1.0, mfe=0.0)
    assert entries_and_refusals(m) == [("entry", 1, "s0", ""), ("blocked", 2, "s2", "cool_off"),
                                       ("entry", 4, "s3", "")]
    assert m.blocked == Counter(cool_off=1)


@pytest.mark.parametrize(("max_concurrent", "expected"), [
    (1, [("entry", 1, "s0", ""), ("blocked", 1, "s1", "max_concurrent"), ("blocked", 2, "s2", "max_concurrent")]),
    (2, [("entry", 1, "s0", ""), ("entry", 2, "s1", ""), ("blocked", 2, "s2", "max_concurrent")]),
])
def test_max_concurrent(max_concurrent: int, expected: list[tuple[str, int, str, str]]) -> None:
    discipline = DisciplineRules(cooldown=0.0, cool_off=0.0, max_concurrent=max_concurrent, dedupe=True,
                                 conflict="skip")
    m = machine(exits=PLAIN_EXITS, discipline=discipline, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(i) for i in range(4)], long={i: order("long", f"s{i}") for i in range(3)})
    assert entries_and_refusals(m) == expected
    assert len(m.positions) == max_concurrent


@pytest.mark.parametrize(("dedupe", "expected"), [
    (True, [("entry", 1, "same", ""), ("blocked", 1, "same", "duplicate_signal")]),
    (False, [("entry", 1, "same", ""), ("entry", 2, "same", "")]),
])
def test_signal_hash_deduplication(dedupe: bool, expected: list[tuple[str, int, str, str]]) -> None:
    discipline = DisciplineRules(cooldown=0.0, cool_off=0.0, max_concurrent=2, dedupe=dedupe, conflict="skip")
    m = machine(exits=PLAIN_EXITS, discipline=discipline, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), quiet(1), quiet(2)], long={0: order("long", "same"), 1: order("long", "same")})
    assert entries_and_refusals(m) == expected


@pytest.mark.parametrize(("conflict", "long_score", "short_score", "refused", "entered"), [
    ("skip", 6.0, 5.0, [("long", "conflict"), ("short", "conflict")], []),
    ("higher_score", 6.0, 5.0, [("short", "conflict")], ["long"]),
    ("higher_score", 5.0, 6.0, [("long", "conflict")], ["short"]),
    ("higher_score", 5.0, 5.0, [("long", "conflict"), ("short", "conflict")], []),  # a tie is skipped
])
def test_conflicting_sides(conflict: str, long_score: float, short_score: float, refused: list[tuple[str, str]],
                           entered: list[str]) -> None:
    discipline = DisciplineRules(cooldown=0.0, cool_off=0.0, max_concurrent=2, dedupe=True, conflict=conflict)  # type: ignore[arg-type]
    m = machine(exits=PLAIN_EXITS, discipline=discipline, checks=PLAN_CHECKS, model=FRICTIONLESS)
    feed(m, [quiet(0), quiet(1)], long={0: order("long", "L", score=long_score)},
         short={0: order("short", "S", score=short_score)})
    assert [(e.kind, e.side) for e in m.events if e.kind == "signal"] == [("signal", "long"), ("signal", "short")]
    assert [(e.side, e.reason) for e in m.events if e.kind == "blocked"] == refused
    assert [e.side for e in m.events if e.kind == "entry"] == entered


@pytest.mark.parametrize(("allowed", "refusal"), [
    (None, None),
    ({"XAUUSD", "BTCUSD"}, None),
    ({"BTCUSD"}, "symbol_not_allowed"),
])
def test_symbol_whitelist(allowed: set[str] | None, refusal: str | None) -> None:
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS,
                allowed_symbols=allowed)
    feed(m, [quiet(0), quiet(1)], long={0: order("long")})
    assert m.blocked == (Counter({refusal: 1}) if refusal else Counter())
    assert len(m.positions) == (0 if refusal else 1)


# -- pre-execution checks ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spread_ok", "slippage", "latency", "refusal"), [
    (False, 0.0, 0.05, "spread"),  # the signal bar's spread check failed
    (True, 0.002, 0.05, "slippage_budget"),  # 0.2% > 0.1%
    (True, 0.001, 0.05, None),  # exactly the budget
    (True, 0.0, 0.3, "latency_budget"),  # 300 ms > 200 ms
    (True, 0.0, 0.2, None),  # exactly the budget
])
def test_pre_execution_checks(spread_ok: bool, slippage: float, latency: float, refusal: str | None) -> None:
    model = ExecutionModel(slippage=slippage, latency=latency, commission=0.0)
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=model)
    feed(m, [quiet(0), quiet(1)], long={0: order("long", spread_ok=spread_ok)})
    assert m.blocked == (Counter({refusal: 1}) if refusal else Counter())
    assert [e.kind for e in m.events] == (["signal", "blocked"] if refusal else ["signal", "entry"])


# -- orders the machine must refuse ------------------------------------------------------------------------------
@pytest.mark.parametrize(("stop", "target"), [(math.nan, 2.0), (0.0, 2.0), (-1.0, 2.0), (1.0, math.nan), (1.0, 0.0)])
def test_no_position_without_a_positive_stop_and_target(stop: float, target: float) -> None:
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    try:
        feed(m, [quiet(0), bar(1, 100.0, 100.25, 90.0, 100.0)], long={0: order("long", stop=stop, target=target)})
    except ValueError:  # refusing loudly is as good as refusing with a recorded reason
        return
    assert [e.kind for e in m.events if e.kind == "entry"] == []


def test_rules_and_model_are_fixed_for_the_machines_life() -> None:
    """The per-bar path reads the (frozen) rules and model once, at construction: swapping them afterwards
    would go unnoticed, so it is refused."""
    m = machine(exits=PLAIN_EXITS, discipline=OPEN_DISCIPLINE, checks=PLAN_CHECKS, model=FRICTIONLESS)
    assert (m.exits, m.discipline, m.checks, m.model) == (PLAIN_EXITS, OPEN_DISCIPLINE, PLAN_CHECKS, FRICTIONLESS)
    for name, value in (("exits", PLAIN_EXITS), ("discipline", OPEN_DISCIPLINE), ("checks", PLAN_CHECKS),
                        ("model", ExecutionModel(slippage=0.5))):
        with pytest.raises(AttributeError):
            setattr(m, name, value)
