"""The HTML report: produced from a real backtest, well-formed, complete, self-contained, escaped, fast."""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections import Counter
from html.parser import HTMLParser

import numpy as np
import pytest

from ruleengine.backtest.driver import BacktestResult, run_backtest
from ruleengine.backtest.metrics import compute_metrics
from ruleengine.backtest.report import (
    MAX_EQUITY_POINTS,
    REPORT_SECTIONS,
    downsample_indices,
    nice_ticks,
    render_report,
    select_snapshot_trades,
    spread_labels,
    write_report,
)
from ruleengine.data import Candles
from ruleengine.execution import ExecutionModel, Trade
from ruleengine.rules.model import load_rules
from tests.conftest import REPO

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Checker(HTMLParser):
    """Collects tags and attributes and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str, str]] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))
            if name == "id":
                self.ids.append(value or "")
        if tag not in VOID:
            self.stack.append(tag)
        self._in_title = tag == "title" and "head" in self.stack  # not SVG tooltips

    def handle_startendtag(self, tag, attrs):  # <x/>: SVG's self-closing elements
        self.tags[tag] += 1
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
        else:
            self.stack.pop()
        self._in_title = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title += data


def parse(text: str) -> Checker:
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert checker.errors == [], checker.errors[:5]
    assert checker.stack == [], f"unclosed: {checker.stack}"
    return checker


@pytest.fixture(scope="module")
def xau_backtest(xau_sample):
    rules = load_rules(REPO / "rules" / "xauusd.yaml")
    result = run_backtest(rules, xau_sample)
    return result, compute_metrics(result, candles_time=xau_sample.time)


@pytest.fixture(scope="module")
def xau_report(xau_backtest, xau_sample, tmp_path_factory):
    result, metrics = xau_backtest
    path = write_report(result, metrics, xau_sample, tmp_path_factory.mktemp("report") / "report.html")
    return path, path.read_text(encoding="utf-8")


def test_report_is_written_and_well_formed(xau_report):
    path, text = xau_report
    assert path.is_file() and path.stat().st_size > 10_000
    assert text.startswith("<!DOCTYPE html>")
    doc = parse(text)
    assert doc.title == "Backtest report · XAUUSD · xauusd.yaml"
    assert doc.tags["html"] == doc.tags["head"] == doc.tags["body"] == 1
    assert len(doc.ids) == len(set(doc.ids))
    assert not list(path.parent.glob(".report.html.*"))  # no temporary file left behind


def test_report_has_every_section(xau_report, xau_backtest):
    _, text = xau_report
    result, metrics = xau_backtest
    doc = parse(text)
    assert list(doc.ids) == list(REPORT_SECTIONS)
    words = " ".join(" ".join(doc.text).split())
    for needle in ("Rules file", str(result.rules_path), "XAUUSD", "21,924 M1 bars", f"{metrics.trades:,}",
                   "Engine time", "Intrabar policy", "pessimistic", "Plan success criteria", "Win rate",
                   "Average R multiple", "Average hold time", "Max drawdown per trade", "Equity curve",
                   "Distribution of R multiples", "By session", "asian", "london", "new_york", "By side", "long",
                   "short", "By grade", "A+", "standard", "Blocked signals", "Exit reasons", "stop_loss",
                   "take_profit", "Trade snapshots"):
        assert needle in words, needle
    # the intrabar assumption, prominently and with the real counts
    assert result.ambiguous_exits > 0
    assert (f"{result.ambiguous_exits} of {len(result.trades)} exits" in words
            and "relied on the pessimistic SL-first assumption" in words)
    for reason, count in metrics.blocked.items():
        assert re.search(rf"{reason}\b.*?{count}", words), reason
    assert f"Plan success criteria: {metrics.criteria_passed} of 4 met" in words
    assert words.count("PASS") + words.count("FAIL") == 4


def test_report_is_self_contained(xau_report):
    _, text = xau_report
    doc = parse(text)
    for tag, name, value in doc.attrs:
        if name in ("src", "href", "xlink:href", "action", "poster", "srcset", "data"):
            raise AssertionError(f"<{tag} {name}={value!r}>: the report must not reference anything")
        assert "http" not in value.lower(), (tag, name, value)
    assert "http" not in text.lower()
    assert "url(" not in text and "@import" not in text
    for tag in ("script", "link", "img", "iframe", "object", "embed"):
        assert doc.tags[tag] == 0, tag


def test_report_charts_are_inline_svg(xau_report, xau_backtest):
    _, text = xau_report
    result, _ = xau_backtest
    doc = parse(text)
    snapshots = min(12, len(result.trades))
    assert doc.tags["svg"] == 2 + snapshots  # equity, histogram, one per snapshot
    assert doc.tags["polyline"] >= 1  # the equity curve
    assert doc.tags["figure"] == snapshots
    equity = text[text.index('id="equity"'):text.index('id="distribution"')]
    points = re.search(r'<polyline points="([^"]+)"', equity).group(1).split()
    assert len(points) == len(result.trades) + 1  # few trades: every step drawn
    histogram = text[text.index('id="distribution"'):text.index('id="breakdown"')]
    assert histogram.count("<rect") >= 5
    snaps = text[text.index('id="snapshots"'):]
    assert snaps.count(">TP ") == snaps.count(">SL ") == snaps.count(">in ") == snapshots


def test_text_is_escaped(xau_backtest, xau_sample):
    result, _ = xau_backtest
    hostile = dataclasses.replace(result, rules_path='rules/<script>alert("x")</script>&.yaml',
                                  blocked=Counter({"<b>bold</b>": 3}))
    text = render_report(hostile, compute_metrics(hostile), xau_sample)
    assert "<script>" not in text and "<b>bold</b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;.yaml" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text
    parse(text)


def test_open_proximity_policy_is_named(xau_backtest, xau_sample):
    result, _ = xau_backtest
    other = dataclasses.replace(result, intrabar="open_proximity")
    text = " ".join(render_report(other, compute_metrics(other), xau_sample).split())
    assert "relied on the open-proximity assumption" in text and "may be optimistic" in text


def synthetic(n_trades: int, n_bars: int, seed: int = 7) -> tuple[BacktestResult, Candles]:
    rng = np.random.default_rng(seed)
    t0 = 1_700_000_040
    close = 2000 + np.cumsum(rng.normal(0, 0.3, n_bars))
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) + rng.uniform(0, 0.3, n_bars)
    low = np.minimum(open_, close) - rng.uniform(0, 0.3, n_bars)
    candles = Candles(time=t0 + 60 * np.arange(n_bars), open=open_, high=high, low=low, close=close,
                      volume=np.ones(n_bars), spread=np.full(n_bars, 0.2), symbol="XAUUSD")
    starts = np.sort(rng.choice(np.arange(10, n_bars - 10, 3), n_trades, replace=False))
    trades = []
    for k, i in enumerate(starts.tolist()):
        win = rng.random() < 0.55
        r = 1.5 if win else -1.0
        side = "long" if k % 2 else "short"
        entry = float(open_[i])
        sign = 1 if side == "long" else -1
        trades.append(Trade(side=side, entry_time=t0 + 60 * i, exit_time=t0 + 60 * (i + 2), entry_index=i,
                            exit_index=i + 1, entry_price=entry, exit_price=entry + sign * r, sl=entry - sign,
                            tp=entry + sign * 1.5, exit_reason="take_profit" if win else "stop_loss", r_multiple=r,
                            mae_r=float(rng.uniform(0, 1)), mfe_r=1.0, score=5.0, grade=1 + (k % 7 == 0),
                            signal_hash=f"h{k}", ambiguous=k % 50 == 0))
    times = candles.time
    result = BacktestResult(rules_path="rules/synthetic.yaml", symbol="XAUUSD", bars=n_bars,
                            first_time=int(times[0]), last_time=int(times[-1]), trades=trades, events=[],
                            blocked=Counter({"cool_off": 40}), ambiguous_exits=sum(t.ambiguous for t in trades),
                            signals={"long": n_trades, "short": 40}, seconds=1.0, intrabar="pessimistic",
                            model=ExecutionModel())
    return result, candles


def test_ten_thousand_trades_render_fast_and_small(tmp_path):
    result, candles = synthetic(10_000, 40_000)
    metrics = compute_metrics(result, candles_time=candles.time)
    t = time.perf_counter()
    path = write_report(result, metrics, candles, tmp_path / "big.html")
    elapsed = time.perf_counter() - t
    text = path.read_text(encoding="utf-8")
    assert elapsed < 5.0, f"report took {elapsed:.2f} s"
    assert len(text) < 600_000  # the equity curve is downsampled, not 10,000 vertices
    polyline = re.search(r'<polyline points="([^"]+)"', text).group(1).split()
    assert len(polyline) <= MAX_EQUITY_POINTS + 2
    assert "200 of 10,000 exits" in " ".join(text.split())
    parse(text)


def test_no_trades(xau_sample):
    result = BacktestResult(rules_path="rules/x.yaml", symbol="XAUUSD", bars=len(xau_sample),
                            first_time=int(xau_sample.time[0]), last_time=int(xau_sample.time[-1]), trades=[],
                            events=[], blocked=Counter(), ambiguous_exits=0, signals={"long": 0, "short": 0},
                            seconds=0.1, intrabar="pessimistic", model=ExecutionModel())
    text = render_report(result, compute_metrics(result), xau_sample)
    doc = parse(text)
    words = " ".join(" ".join(doc.text).split())
    assert "0 of 0 exits relied on" in words and "no trades" in words and "No signal was blocked" in words
    assert doc.tags["figure"] == 0 and "Plan success criteria: 0 of 4 met" in words


def test_snapshots_skip_trades_that_do_not_match_the_candles(xau_backtest, xau_sample):
    result, metrics = xau_backtest
    text = render_report(result, metrics, xau_sample[100:])  # shifted: no index points at its bar any more
    assert parse(text).tags["figure"] == 0


def test_snapshot_selection():
    result, _ = synthetic(300, 2000)
    trades = result.trades
    picks = select_snapshot_trades(trades)
    assert len(picks) == 12
    numbers = [n for n, _, _ in picks]
    assert numbers == sorted(set(numbers))  # unique, in time order
    reasons = Counter(w for _, _, why in picks for w in why)
    assert reasons["best"] == 2 and reasons["worst"] == 2 and reasons["ambiguous"] == 3
    for n, t, why in picks:
        assert trades[n - 1] is t
        if "ambiguous" in why:
            assert t.ambiguous
    few = select_snapshot_trades(trades[:3])  # fewer trades than snapshots: all of them, once each
    assert [(n, t) for n, t, _ in few] == [(1, trades[0]), (2, trades[1]), (3, trades[2])]
    assert select_snapshot_trades([]) == []


def test_downsampling_keeps_extremes():
    rng = np.random.default_rng(1)
    values = np.cumsum(rng.normal(size=50_000))
    idx = downsample_indices(values, 1000)
    assert len(idx) <= 1002 and idx[0] == 0 and idx[-1] == len(values) - 1
    assert np.all(np.diff(idx) > 0)
    assert values[idx].max() == values.max() and values[idx].min() == values.min()
    assert np.array_equal(downsample_indices(values[:10], 1000), np.arange(10))


@pytest.mark.parametrize(("lo", "hi"), [(-56.7, 2.1), (0, 163), (-1, 0), (3.2, 3.2), (-0.004, 0.013)])
def test_nice_ticks_cover_the_range(lo, hi):
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi and len(ticks) >= 2
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0])


def test_spread_labels_keep_a_gap():
    ys = spread_labels([100.0, 101.0, 104.0], gap=11, lo=0, hi=300)
    assert sorted(ys) == ys and all(b - a >= 11 - 1e-9 for a, b in itertools.pairwise(ys))
    assert spread_labels([50.0, 200.0], gap=11, lo=0, hi=300) == [50.0, 200.0]  # far apart: untouched
    near_bottom = spread_labels([299.0, 300.0, 300.0], gap=11, lo=0, hi=300)
    assert max(near_bottom) <= 300
    assert min(b - a for a, b in itertools.pairwise(sorted(near_bottom))) >= 11 - 1e-9
