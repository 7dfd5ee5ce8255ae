"""The backtest report: one self-contained HTML file a trader can open anywhere, offline.

Everything is inline: the CSS, the charts (SVG drawn here, no plotting library), no script, no font, no
image and no URL of any kind, so the file renders the same from a mail attachment as from disk. Every piece
of text that comes from a rule file, data or the engine is escaped (``html.escape``).

Sections, in reading order: what was run (rules, symbol, data range, engine time, the intrabar policy and how
many exits it decided), headline figures, the plan's success criteria, the equity curve in R with its
drawdown, the distribution of R multiples, results by session, side and grade, blocked signals and exit
reasons, and candlestick snapshots of a sample of trades (best, worst, ambiguous, and some spread through
the run). The equity curve is downsampled (min and max per bucket) above a few thousand trades, so a report
of 10,000 trades stays small and renders at once.
"""

from __future__ import annotations

import html
import itertools
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ruleengine.backtest.driver import BacktestResult
from ruleengine.backtest.metrics import GroupStats, Metrics, grade_label, session_of
from ruleengine.config import find_symbol, load_sessions
from ruleengine.data import Candles
from ruleengine.execution import Event, Trade

__all__ = ["REPORT_SECTIONS", "render_report", "select_snapshot_trades", "write_report"]

#: Section ids, in page order (tests and links rely on them).
REPORT_SECTIONS = ("summary", "criteria", "equity", "distribution", "breakdown", "signals", "snapshots")

MAX_SNAPSHOTS = 12
MAX_EQUITY_POINTS = 2000  # polyline vertices; above this the curve keeps each bucket's min and max

GREEN, RED, BLUE, AMBER, GREY = "#1a7f4b", "#c2362f", "#2557a7", "#b26a00", "#8a94a6"

INTRABAR = {
    "pessimistic": "pessimistic (stop first when a bar touches both)",
    "open_proximity": "open_proximity (the extreme nearer the open first)",
}
BLOCK_REASONS = {
    "conflict": "long and short signals on the same bar",
    "symbol_not_allowed": "symbol not in the allowed list",
    "duplicate_signal": "same signal hash seen before",
    "max_concurrent": "a position or entry was already open",
    "cool_off": "within the cool-off after an exit",
    "cooldown": "within the cooldown after the last accepted signal",
    "spread": "spread above its allowed ratio to the mean",
    "slippage_budget": "model slippage above the rule's max_slippage",
    "latency_budget": "model latency above the rule's max_latency",
    "end_of_data": "signal on the last bar of the data",
}
EXIT_REASONS = {
    "take_profit": "target touched",
    "take_profit_gap": "bar opened through the target",
    "stop_loss": "initial stop touched",
    "stop_loss_gap": "bar opened through the stop (filled at the open)",
    "trailing_stop": "trailing stop touched",
    "adverse_candle": "bar closed against the position",
    "exit_when": "the rule's exit_when held",
    "max_hold": "maximum hold time reached",
    "end_of_data": "closed on the last bar of the data",
}

CSS = """
:root { --ink:#1d2433; --muted:#5f6b7e; --line:#e3e7ee; --bg:#f4f6f9; --card:#fff; --green:#1a7f4b;
  --red:#c2362f; --blue:#2557a7; --amber:#b26a00; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.45 -apple-system, BlinkMacSystemFont,
  "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width:1240px; margin:0 auto; padding:28px 28px 48px; }
h1 { font-size:24px; margin:0 0 2px; letter-spacing:-0.01em; }
h2 { font-size:17px; margin:0 0 12px; }
h3 { font-size:14px; margin:0 0 8px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
.sub { color:var(--muted); margin:0 0 16px; }
section, header { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:20px 22px;
  margin:0 0 18px; }
.meta { display:grid; grid-template-columns:repeat(auto-fill, minmax(220px, 1fr)); gap:10px 24px; margin:0; }
.meta div { min-width:0; }
.meta dt { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.meta dd { margin:0; font-weight:600; overflow-wrap:anywhere; }
.callout { margin:16px 0 0; padding:12px 14px; border-radius:8px; border-left:4px solid var(--amber);
  background:#fff6e5; }
.callout strong { font-size:15px; }
.kpis { display:grid; grid-template-columns:repeat(auto-fit, minmax(128px, 1fr)); gap:12px; }
.kpi { border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.kpi .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.kpi .value { font-size:21px; font-weight:650; font-variant-numeric:tabular-nums; }
.kpi .hint { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
th:first-child, td:first-child { text-align:left; }
td.text, th.text { text-align:left; white-space:normal; }
tr:last-child td { border-bottom:none; }
.pos { color:var(--green); } .neg { color:var(--red); } .dim { color:var(--muted); }
.badge { display:inline-block; min-width:44px; text-align:center; padding:2px 8px; border-radius:999px;
  font-size:12px; font-weight:700; letter-spacing:.04em; }
.pass { background:#e3f4ea; color:var(--green); } .fail { background:#fbe6e4; color:var(--red); }
.grid3 { display:grid; grid-template-columns:repeat(auto-fit, minmax(360px, 1fr)); gap:22px; }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit, minmax(480px, 1fr)); gap:22px; }
.bar { height:8px; background:var(--blue); border-radius:4px; opacity:.75; }
td.barcell { width:22%; min-width:60px; }
svg { display:block; width:100%; height:auto; }
svg text { font-family:inherit; fill:#5f6b7e; }
.note { color:var(--muted); font-size:12.5px; margin:10px 0 0; }
.snaps { display:grid; grid-template-columns:repeat(auto-fill, minmax(340px, 1fr)); gap:16px; }
figure { margin:0; border:1px solid var(--line); border-radius:8px; padding:10px 10px 8px; }
figcaption { font-size:12.5px; margin:0 0 6px; display:flex; flex-wrap:wrap; gap:4px 8px; align-items:baseline; }
figcaption .r { font-weight:700; margin-left:auto; }
.why { color:var(--muted); font-size:12px; }
table.groups tr.group th { text-align:left; color:var(--ink); background:#f7f8fb; padding-top:9px; }
.tag { font-size:11px; padding:1px 6px; border-radius:4px; background:#eef1f6; color:var(--muted); }
.tag.amb { background:#fff1d6; color:var(--amber); }
.legend { display:flex; flex-wrap:wrap; gap:4px 16px; color:var(--muted); font-size:12.5px; margin:0 0 12px; }
.sw { display:inline-block; width:14px; height:0; border-top:2px solid; vertical-align:middle; margin-right:5px; }
.sw.dash { border-top-style:dashed; }
footer { color:var(--muted); font-size:12px; text-align:center; }
@media print { body { background:#fff; } section, header { break-inside:avoid; border-color:#ccc; } }
"""


# -- formatting ------------------------------------------------------------------------------------------------
def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _utc(t: int, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(int(t), tz=UTC).strftime(fmt)


def _nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)


_ZERO = 5e-9


def _num(x: float, spec: str = ".2f", suffix: str = "") -> str:
    if _nan(x):
        return "—"
    if math.isinf(x):
        return "∞"
    if abs(x) < _ZERO:  # float noise such as -1e-16 from a sum of +1.5 and -1.0s: no "-0.000"
        x = 0.0
    return f"{x:{spec}}{suffix}"


def _r(x: float, spec: str = "+.2f") -> str:
    return _num(x, spec, " R")


def _pct(x: float) -> str:
    return _num(x * 100 if not _nan(x) else x, ".1f", " %")


def _signed_class(x: float) -> str:
    if _nan(x) or abs(x) < _ZERO:
        return ""
    return "pos" if x > 0 else "neg"


def _td_r(x: float, spec: str = "+.2f") -> str:
    return f'<td class="{_signed_class(x)}">{esc(_r(x, spec))}</td>'


def _f(x: float) -> str:
    """An SVG coordinate: short, and never 'nan'."""
    return f"{x:.1f}" if math.isfinite(x) else "0"


def _tick_r(v: float, unit: str = " R") -> str:
    """An axis label in R: ``0 R``, ``+1.5 R``, ``-20 R``."""
    return f"0{unit}" if abs(v) < 1e-12 else f"{v:+g}{unit}"


def _price_digits(symbol: str, prices: Iterable[float]) -> int:
    spec = find_symbol(symbol)
    if spec is not None:
        return spec.digits
    top = max((abs(p) for p in prices if math.isfinite(p)), default=1.0)
    return 2 if top >= 100 else 4 if top >= 1 else 6


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (1, 2, 2.5 or 5 times a power of ten apart)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks = [round(first, 10)]
    while ticks[-1] < hi - step * 1e-9:  # the last tick is at or above hi: the axis covers the data
        ticks.append(round(first + len(ticks) * step, 10))
    return ticks


# -- SVG charts ------------------------------------------------------------------------------------------------
def downsample_indices(values: np.ndarray, max_points: int = MAX_EQUITY_POINTS) -> np.ndarray:
    """Indices of ``values`` to draw: all of them when few, else the first and last plus, per bucket, the
    positions of its minimum and maximum in time order, so no peak or trough disappears."""
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = max_points // 2
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep = [0, n - 1]
    for a, b in itertools.pairwise(edges.tolist()):
        if b > a:
            chunk = values[a:b]
            keep += [a + int(np.argmin(chunk)), a + int(np.argmax(chunk))]
    return np.unique(np.asarray(keep, dtype=np.int64))


def equity_svg(r: np.ndarray) -> str:
    """Cumulative R by trade number (top) and its drawdown from the running peak (bottom)."""
    width, left, right = 1140, 58, 18
    top, eq_h, gap, dd_h, bottom = 12, 230, 40, 80, 34
    height = top + eq_h + gap + dd_h + bottom
    curve = np.concatenate([[0.0], np.cumsum(np.asarray(r, dtype=np.float64))])
    under = curve - np.maximum.accumulate(curve)
    n = len(curve) - 1
    plot_w = width - left - right

    def x_of(i: float) -> float:
        return left + plot_w * (i / n if n else 0.0)

    y_ticks = nice_ticks(min(0.0, float(curve.min())), max(0.0, float(curve.max())))
    y_lo, y_hi = y_ticks[0], y_ticks[-1]

    def y_of(v: float) -> float:
        return top + eq_h * (1 - (v - y_lo) / (y_hi - y_lo))

    d_ticks = nice_ticks(min(float(under.min()), -1.0), 0.0, 3)
    d_lo = d_ticks[0]
    d_top = top + eq_h + gap

    def yd_of(v: float) -> float:
        return d_top + dd_h * (v / d_lo if d_lo else 0.0)

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Equity curve in R">']
    for v in y_ticks:
        y = y_of(v)
        stroke = "#9aa3b2" if v == 0 else "#e3e7ee"
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_f(y)}" y2="{_f(y)}" stroke="{stroke}"/>')
        parts.append(f'<text x="{left - 8}" y="{_f(y + 4)}" text-anchor="end" font-size="12">{_tick_r(v)}</text>')
    for v in d_ticks:
        y = yd_of(v)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_f(y)}" y2="{_f(y)}" stroke="#e3e7ee"/>')
        parts.append(f'<text x="{left - 8}" y="{_f(y + 4)}" text-anchor="end" font-size="12">{_tick_r(v)}</text>')
    parts.append(f'<text x="{left + 6}" y="{d_top - 8}" font-size="12">Drawdown from the running peak</text>')
    x_ticks = [t for t in nice_ticks(0, max(n, 1), 8) if t <= n] if n else [0]
    for t in x_ticks:
        x = x_of(t)
        parts.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{d_top + dd_h}" y2="{d_top + dd_h + 5}" stroke="#9aa3b2"/>')
        parts.append(f'<text x="{_f(x)}" y="{d_top + dd_h + 19}" text-anchor="middle" font-size="12">{t:g}</text>')
    parts.append(f'<text x="{width - right}" y="{height - 5}" text-anchor="end" font-size="12">trade number'
                 "</text>")
    if n:
        idx = downsample_indices(curve)
        pts = " ".join(f"{_f(x_of(i))},{_f(y_of(curve[i]))}" for i in idx.tolist())
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{BLUE}" stroke-width="1.8" '
                     'stroke-linejoin="round"/>')
        didx = downsample_indices(under)
        dpts = " ".join(f"{_f(x_of(i))},{_f(yd_of(under[i]))}" for i in didx.tolist())
        parts.append(f'<polygon points="{_f(x_of(0))},{_f(yd_of(0))} {dpts} {_f(x_of(n))},{_f(yd_of(0))}" '
                     f'fill="{RED}" fill-opacity="0.25" stroke="{RED}" stroke-width="1"/>')
        end = curve[-1]
        parts.append(f'<circle cx="{_f(x_of(n))}" cy="{_f(y_of(end))}" r="3.5" fill="{BLUE}"/>')
        parts.append(f'<text x="{_f(x_of(n) - 8)}" y="{_f(y_of(end) - 9)}" text-anchor="end" font-size="13" '
                     f'font-weight="700" style="fill:{GREEN if end >= 0 else RED}">{end:+.1f} R</text>')
    else:
        parts.append(f'<text x="{width / 2}" y="{top + eq_h / 2}" text-anchor="middle" font-size="14">'
                     "no trades</text>")
    parts.append("</svg>")
    return "".join(parts)


def histogram_bins(r: np.ndarray, max_bins: int = 48) -> tuple[float, np.ndarray, np.ndarray]:
    """Bin width and (centres, counts) with bins centred on multiples of the width, so that the typical
    exits (-1 R at the stop, the target's R) sit in the middle of a bin rather than on an edge."""
    lo, hi = float(r.min()), float(r.max())
    width = 0.25
    while (hi - lo) / width > max_bins:
        width *= 2
    k = np.round(r / width).astype(np.int64)
    k_lo, k_hi = int(k.min()), int(k.max())
    counts = np.bincount(k - k_lo, minlength=k_hi - k_lo + 1)
    centres = np.arange(k_lo, k_hi + 1) * width
    return width, centres, counts


def histogram_svg(r: np.ndarray) -> str:
    width, left, right, top, bottom = 1140, 58, 18, 18, 46
    plot_h = 200
    height = top + plot_h + bottom
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Histogram of R multiples">']
    if len(r) == 0:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="14">no trades</text>'
                     "</svg>")
        return "".join(parts)
    bin_w, centres, counts = histogram_bins(np.asarray(r, dtype=np.float64))
    y_ticks = nice_ticks(0, float(counts.max()), 4)
    y_hi = y_ticks[-1] or 1
    plot_w = width - left - right
    slot = plot_w / len(centres)
    for v in y_ticks:
        y = top + plot_h * (1 - v / y_hi)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_f(y)}" y2="{_f(y)}" stroke="#e3e7ee"/>')
        parts.append(f'<text x="{left - 8}" y="{_f(y + 4)}" text-anchor="end" font-size="12">{v:g}</text>')
    label_every = max(1, math.ceil(len(centres) / 24))
    total = int(counts.sum())
    for i, (c, k) in enumerate(zip(centres.tolist(), counts.tolist(), strict=True)):
        x = left + i * slot
        h = plot_h * k / y_hi
        color = GREEN if c > 1e-12 else RED if c < -1e-12 else GREY
        tip = f"{c - bin_w / 2:+.2f} to {c + bin_w / 2:+.2f} R: {k} trades ({k / total:.1%})"
        parts.append(f'<rect x="{_f(x + slot * 0.1)}" y="{_f(top + plot_h - h)}" width="{_f(slot * 0.8)}" '
                     f'height="{_f(h)}" fill="{color}" fill-opacity="0.8"><title>{esc(tip)}</title></rect>')
        if k and slot >= 18:
            parts.append(f'<text x="{_f(x + slot / 2)}" y="{_f(top + plot_h - h - 4)}" text-anchor="middle" '
                         f'font-size="11">{k}</text>')
        if i % label_every == 0:
            parts.append(f'<text x="{_f(x + slot / 2)}" y="{top + plot_h + 17}" text-anchor="middle" '
                         f'font-size="12">{_tick_r(c, "")}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
                 'stroke="#9aa3b2"/>')
    parts.append(f'<text x="{width - right}" y="{height - 5}" text-anchor="end" font-size="12">'
                 f"R multiple (bins of {bin_w:g} R, centred)</text>")
    parts.append("</svg>")
    return "".join(parts)


def _trailing_path(trade: Trade, events: Sequence[Event]) -> list[tuple[int, float]]:
    """(bar index, new stop) of each trailing move of ``trade``, from the recorded events."""
    position = next((e.position for e in events if e.kind == "entry" and e.index == trade.entry_index
                     and e.signal_hash == trade.signal_hash), None)
    if position is None:
        return []
    return [(e.index, e.price) for e in events
            if e.kind == "sl_moved" and e.position == position and trade.entry_index <= e.index <= trade.exit_index]


def spread_labels(ys: Sequence[float], *, gap: float, lo: float, hi: float) -> list[float]:
    """Label positions near ``ys`` (same order) at least ``gap`` apart, kept within ``[lo, hi]`` when they fit."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed = [ys[i] for i in order]
    for k in range(1, len(placed)):  # push down
        placed[k] = max(placed[k], placed[k - 1] + gap)
    overflow = placed[-1] - hi if placed else 0.0
    if overflow > 0:  # then shift up as a block, but not above lo
        placed = [max(lo + k * gap, y - overflow) for k, y in enumerate(placed)]
    out = [0.0] * len(ys)
    for k, i in enumerate(order):
        out[i] = placed[k]
    return out


def snapshot_window(trade: Trade, n_bars: int, bars: int = 20) -> tuple[int, int]:
    """``[start, stop)`` bar indices of about ``bars`` bars around the trade (the whole trade always shown)."""
    span = trade.exit_index - trade.entry_index + 1
    spare = max(bars - span, 7)
    before = max(4, spare * 3 // 5)
    after = max(3, spare - before)
    return max(0, trade.entry_index - before), min(n_bars, trade.exit_index + after + 1)


def snapshot_svg(trade: Trade, candles: Candles, digits: int, trail: Sequence[tuple[int, float]] = ()) -> str:
    """A candlestick chart of the bars around ``trade`` with its entry, stop, target, exit and trailing stop."""
    label_chars = max(len(f"SL {p:.{digits}f}") for p in (trade.tp, trade.sl, trade.entry_price))
    width, height = 380, 236
    left, right, top, bottom = 6, 12 + round(6.2 * label_chars), 10, 24  # room for the level labels
    a, b = snapshot_window(trade, len(candles))
    o, h, lo, c = (np.asarray(getattr(candles, k)[a:b], dtype=np.float64) for k in ("open", "high", "low", "close"))
    times = np.asarray(candles.time[a:b])
    levels = [trade.entry_price, trade.exit_price, trade.sl, trade.tp, *(p for _, p in trail)]
    levels = [v for v in levels if math.isfinite(v)]
    p_lo = min(float(lo.min()), *levels)
    p_hi = max(float(h.max()), *levels)
    pad = (p_hi - p_lo) * 0.06 or 1.0
    p_lo, p_hi = p_lo - pad, p_hi + pad
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / (b - a)

    def x_mid(i: int) -> float:
        return left + (i - a + 0.5) * slot

    def y_of(p: float) -> float:
        return top + plot_h * (1 - (p - p_lo) / (p_hi - p_lo))

    x_entry = left + (trade.entry_index - a) * slot  # fills at the entry bar's open: its left edge
    x_exit = left + (trade.exit_index - a + 1) * slot  # exits count at the exit bar's close: its right edge
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Trade snapshot">',
             f'<rect x="{_f(x_entry)}" y="{top}" width="{_f(max(x_exit - x_entry, 1))}" height="{plot_h}" '
             'fill="#2557a7" fill-opacity="0.06"/>']
    for t in nice_ticks(p_lo, p_hi, 4):
        if p_lo <= t <= p_hi:
            y = y_of(t)
            parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_f(y)}" y2="{_f(y)}" stroke="#eef1f5"/>')
    body_w = max(slot * 0.62, 1.0)
    for i in range(b - a):
        xm = left + (i + 0.5) * slot
        up = c[i] >= o[i]
        color = "#26a269" if up else "#d64541"
        y1, y2 = y_of(max(o[i], c[i])), y_of(min(o[i], c[i]))
        parts.append(f'<line x1="{_f(xm)}" x2="{_f(xm)}" y1="{_f(y_of(h[i]))}" y2="{_f(y_of(lo[i]))}" '
                     f'stroke="{color}"/>')
        parts.append(f'<rect x="{_f(xm - body_w / 2)}" y="{_f(y1)}" width="{_f(body_w)}" '
                     f'height="{_f(max(y2 - y1, 0.8))}" fill="{color}"/>')
    right_x = width - right
    levels_drawn = ((trade.tp, GREEN, "TP"), (trade.sl, RED, "SL"), (trade.entry_price, BLUE, "in"))
    label_ys = spread_labels([y_of(p) for p, _, _ in levels_drawn], gap=11.0, lo=top + 4, hi=top + plot_h + 4)
    for (price, color, label), ly in zip(levels_drawn, label_ys, strict=True):
        y = y_of(price)
        parts.append(f'<line x1="{_f(x_entry)}" x2="{_f(x_exit)}" y1="{_f(y)}" y2="{_f(y)}" stroke="{color}" '
                     'stroke-width="1.4" stroke-dasharray="4 3"/>')
        parts.append(f'<line x1="{_f(x_exit)}" x2="{right_x}" y1="{_f(y)}" y2="{_f(y)}" stroke="{color}" '
                     'stroke-opacity="0.35" stroke-dasharray="2 3"/>')
        parts.append(f'<text x="{right_x + 4}" y="{_f(ly + 4)}" font-size="10.5" style="fill:{color}">'
                     f"{label} {price:.{digits}f}</text>")
    if trail:
        pts = [(x_entry, y_of(trade.sl))]
        for idx, price in trail:
            x = left + (idx - a + 1) * slot  # moved at that bar's close
            pts += [(x, pts[-1][1]), (x, y_of(price))]
        pts.append((x_exit, pts[-1][1]))
        parts.append('<polyline points="' + " ".join(f"{_f(x)},{_f(y)}" for x, y in pts)
                     + f'" fill="none" stroke="{AMBER}" stroke-width="1.5"/>')
    ye = y_of(trade.entry_price)
    if trade.side == "long":
        tri = f"{_f(x_entry)},{_f(ye)} {_f(x_entry - 6)},{_f(ye + 9)} {_f(x_entry + 6)},{_f(ye + 9)}"
    else:
        tri = f"{_f(x_entry)},{_f(ye)} {_f(x_entry - 6)},{_f(ye - 9)} {_f(x_entry + 6)},{_f(ye - 9)}"
    parts.append(f'<polygon points="{tri}" fill="{BLUE}" stroke="#fff" stroke-width="0.8"/>')
    yx = y_of(trade.exit_price)
    win = trade.r_multiple > 0
    parts.append(f'<circle cx="{_f(x_exit)}" cy="{_f(yx)}" r="4.5" fill="{GREEN if win else RED}" stroke="#fff" '
                 f'stroke-width="1.2"><title>exit {trade.exit_price:.{digits}f} ({esc(trade.exit_reason)})</title>'
                 "</circle>")
    step = max(1, math.ceil((b - a) / 5))
    for i in range(0, b - a, step):
        parts.append(f'<text x="{_f(x_mid(a + i))}" y="{height - 7}" text-anchor="middle" font-size="10.5">'
                     f"{_utc(int(times[i]), '%H:%M')}</text>")
    parts.append("</svg>")
    return "".join(parts)


# -- trade sample ----------------------------------------------------------------------------------------------
Pick = tuple[int, Trade, tuple[str, ...]]


def select_snapshot_trades(trades: Sequence[Trade], limit: int = MAX_SNAPSHOTS) -> list[Pick]:
    """Up to ``limit`` trades worth looking at: the 2 best and 2 worst by R, up to 3 ambiguous exits (spread
    through the run), then trades evenly spaced through the run. Returned in time order as
    ``(trade number, trade, reasons it was picked)``."""
    if not trades or limit <= 0:
        return []
    why: dict[int, list[str]] = {}

    def add(i: int, reason: str) -> None:
        if i in why or len(why) < limit:
            why.setdefault(i, []).append(reason)

    by_r = sorted(range(len(trades)), key=lambda i: (trades[i].r_multiple, -trades[i].mae_r))
    for i in reversed(by_r[-2:]):
        add(i, "best")
    for i in by_r[:2]:
        add(i, "worst")
    ambiguous = [i for i, t in enumerate(trades) if t.ambiguous]
    for k in np.linspace(0, len(ambiguous) - 1, min(3, len(ambiguous))).round().astype(int).tolist():
        add(ambiguous[k], "ambiguous")
    spread = np.linspace(0, len(trades) - 1, min(limit, len(trades))).round().astype(int).tolist()
    for i in spread:
        if len(why) >= limit:
            break
        add(i, "sample")
    return [(i + 1, trades[i], tuple(dict.fromkeys(why[i]))) for i in sorted(why)]


# -- HTML sections ---------------------------------------------------------------------------------------------
def _kpi(label: str, value: str, hint: str = "", cls: str = "") -> str:
    hint_html = f'<div class="hint">{esc(hint)}</div>' if hint else ""
    return (f'<div class="kpi"><div class="label">{esc(label)}</div>'
            f'<div class="value {cls}">{esc(value)}</div>{hint_html}</div>')


def _group_rows(title: str, groups: dict[str, GroupStats]) -> str:
    rows = [f'<tr class="group"><th colspan="9">{esc(title)}</th></tr>']
    for name, g in groups.items():
        dim = ' class="dim"' if g.trades == 0 else ""
        rows.append(
            f"<tr{dim}><td>{esc(name)}</td><td>{g.trades:,}</td><td>{esc(_pct(g.win_rate))}</td>"
            f"{_td_r(g.avg_r)}{_td_r(g.avg_win_r)}{_td_r(g.avg_loss_r)}{_td_r(g.expectancy_r, '+.3f')}"
            f"{_td_r(g.total_r, '+.1f') if g.trades else '<td>—</td>'}<td>{esc(_num(g.profit_factor))}</td></tr>")
    return "".join(rows)


def _header(result: BacktestResult, metrics: Metrics) -> str:
    m = result.model
    span_days = (result.last_time - result.first_time) / 86_400 if result.bars else 0.0
    data_range = (f"{_utc(result.first_time)} → {_utc(result.last_time)} UTC ({span_days:.1f} days)"
                  if result.bars else "no bars")
    signals = metrics.signals
    fields = [
        ("Rules file", result.rules_path),
        ("Symbol", result.symbol),
        ("Data range (bar open times)", data_range),
        ("Bars", f"{result.bars:,} M1 bars on {metrics.trading_days} trading days"),
        ("Trades", f"{metrics.trades:,} from {sum(signals.values()):,} signals "
                   f"({signals.get('long', 0):,} long, {signals.get('short', 0):,} short)"),
        ("Engine time", f"{result.seconds:.3f} s ({_num(metrics.bars_per_second, ',.0f')} bars/s)"),
        ("Execution model", f"slippage {m.slippage:.3%} per market fill, commission {m.commission:.3%} per side, "
                            f"latency {m.latency * 1000:g} ms"),
        ("Intrabar policy", INTRABAR.get(result.intrabar, result.intrabar)),
    ]
    meta = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in fields)
    exits = metrics.trades
    n_amb = result.ambiguous_exits
    if result.intrabar == "pessimistic":
        assumption = "the pessimistic SL-first assumption"
        detail = ("In these bars both the stop and the target were touched; M1 data cannot tell which came "
                  "first, so the stop was taken (the pessimistic default).")
    else:
        assumption = f"the {result.intrabar.replace('_', '-')} assumption"
        detail = ("In these bars both the stop and the target were touched; the extreme nearer the bar's open "
                  "was taken to come first. This is not the pessimistic default: the result may be optimistic.")
    share = f" ({n_amb / exits:.1%})" if exits else ""
    callout = (f'<div class="callout"><strong>{n_amb:,} of {exits:,} exits{share} relied on {esc(assumption)}.'
               f"</strong> {esc(detail)}</div>")
    title = f"Backtest report · {result.symbol}"
    return (f'<header id="summary"><h1>{esc(title)}</h1>'
            f'<p class="sub">{esc(Path(result.rules_path).name)} · {esc(data_range)}</p>'
            f'<dl class="meta">{meta}</dl>{callout}</header>')


def _kpis(metrics: Metrics) -> str:
    m = metrics
    cards = [
        _kpi("Trades", f"{m.trades:,}", f"{_num(m.trades_per_day, '.1f')} per trading day"),
        _kpi("Win rate", _pct(m.win_rate), f"{m.wins:,} winners"),
        _kpi("Expectancy", _r(m.expectancy_r, "+.3f"), "mean R per trade", _signed_class(m.expectancy_r)),
        _kpi("Avg win", _r(m.avg_win_r), f"avg loss {_r(m.avg_loss_r)}"),
        _kpi("Profit factor", _num(m.profit_factor), "gross win R / gross loss R"),
        _kpi("Total", _r(m.total_r, "+.1f"), f"best {_r(m.best_r)}, worst {_r(m.worst_r)}",
             _signed_class(m.total_r)),
        _kpi("Max drawdown", _num(m.max_drawdown_r, ".1f", " R"), f"{m.max_consecutive_losses} losses in a row"),
        _kpi("Avg hold", _num(m.avg_hold_minutes, ".1f", " min"), f"longest {_num(m.max_hold_minutes, '.0f')} min"),
    ]
    return f'<section aria-label="Headline figures"><div class="kpis">{"".join(cards)}</div></section>'


def _criteria(metrics: Metrics) -> str:
    rows = []
    for c in metrics.criteria:
        badge = '<span class="badge pass">PASS</span>' if c.passed else '<span class="badge fail">FAIL</span>'
        rows.append(f"<tr><td>{esc(c.name)}</td><td>{esc(c.target)}</td><td>{esc(c.display)}</td>"
                    f'<td style="text-align:center">{badge}</td><td class="text dim">{esc(c.note)}</td></tr>')
    passed = metrics.criteria_passed
    return (f'<section id="criteria"><h2>Plan success criteria: {passed} of {len(metrics.criteria)} met</h2>'
            '<table><thead><tr><th>Criterion</th><th>Target</th><th>Result</th><th style="text-align:center">'
            'Verdict</th><th class="text">How it is measured</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            '<p class="note">From the plan\'s "Success Criteria". Its latency, CPU and RAM targets concern the '
            "live runner and are not measured by a backtest.</p></section>")


def _equity(trades: Sequence[Trade], r: np.ndarray) -> str:
    when = f" Trades closed {_utc(trades[0].exit_time)} → {_utc(trades[-1].exit_time)} UTC." if trades else ""
    return ('<section id="equity"><h2>Equity curve (cumulative R)</h2>'
            f'{equity_svg(r)}<p class="note">One step per closed trade, in exit order; R is net of spread, '
            f"slippage and commission. The lower panel is the distance below the running peak.{esc(when)}</p>"
            "</section>")


def _distribution(r: np.ndarray) -> str:
    return ('<section id="distribution"><h2>Distribution of R multiples</h2>'
            f'{histogram_svg(r)}<p class="note">Losses in red, wins in green, the bin around 0 R in grey. '
            "A full stop is about -1 R (worse with slippage or a gap); a full target is the rule's reward:risk."
            "</p></section>")


def _breakdown(metrics: Metrics) -> str:
    sessions = load_sessions()
    windows = ", ".join(f"{w.name} {w.start}-{w.end}" for w in sessions.windows)
    head = ("<thead><tr><th></th><th>Trades</th><th>Win rate</th><th>Avg R</th><th>Avg win</th><th>Avg loss</th>"
            "<th>Expectancy</th><th>Total</th><th>Profit factor</th></tr></thead>")
    rows = "".join((_group_rows("By session (entry bar, UTC)", metrics.by_session),
                    _group_rows("By side", metrics.by_side), _group_rows("By grade", metrics.by_grade)))
    return ('<section id="breakdown"><h2>Results by session, side and grade</h2>'
            f'<table class="groups">{head}<tbody>{rows}</tbody></table>'
            f'<p class="note">Sessions are the UTC windows of sessions.yaml: {esc(windows)}. '
            "A+ is a score at or above the rule's A+ threshold, standard at or above its trade threshold. "
            "Expectancy = win rate x avg win + (1 - win rate) x avg loss, which equals the average R.</p></section>")


def _reason(reason: str, meanings: dict[str, str]) -> str:
    meaning = meanings.get(reason, "")
    return esc(reason) + (f'<div class="why">{esc(meaning)}</div>' if meaning else "")


def _signals(metrics: Metrics) -> str:
    total_signals = sum(metrics.signals.values())
    blocked_total = sum(metrics.blocked.values())
    rows = []
    top = max(metrics.blocked.values(), default=1)
    for reason, n in metrics.blocked.items():
        share = n / total_signals if total_signals else math.nan
        rows.append(f"<tr><td class='text'>{_reason(reason, BLOCK_REASONS)}</td><td>{n:,}</td>"
                    f"<td>{esc(_pct(share))}</td>"
                    f'<td class="barcell"><div class="bar" style="width:{100 * n / top:.1f}%"></div></td></tr>')
    if not rows:
        rows.append('<tr><td colspan="4" class="text dim">No signal was blocked.</td></tr>')
    blocked = ("<div><h3>Blocked signals</h3><table><thead><tr><th>Reason</th>"
               "<th>Count</th><th>Of signals</th><th></th></tr></thead>"
               f"<tbody>{''.join(rows)}</tbody></table>"
               f'<p class="note">{blocked_total:,} of {total_signals:,} signals were blocked and '
               f"{metrics.trades:,} became trades.</p></div>")
    rows = []
    top = max((g.trades for g in metrics.by_exit_reason.values()), default=1)
    for reason, g in metrics.by_exit_reason.items():
        share = g.trades / metrics.trades if metrics.trades else math.nan
        rows.append(f"<tr><td class='text'>{_reason(reason, EXIT_REASONS)}</td><td>{g.trades:,}</td>"
                    f"<td>{esc(_pct(share))}</td>{_td_r(g.avg_r)}{_td_r(g.total_r, '+.1f')}"
                    f'<td class="barcell"><div class="bar" style="width:{100 * g.trades / top:.1f}%"></div></td></tr>')
    if not rows:
        rows.append('<tr><td colspan="6" class="text dim">No trades.</td></tr>')
    exits = ("<div><h3>Exit reasons</h3><table><thead><tr><th>Reason</th>"
             "<th>Trades</th><th>Share</th><th>Avg R</th><th>Total</th><th></th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table></div>")
    return f'<section id="signals"><h2>Signals and exits</h2><div class="grid2">{blocked}{exits}</div></section>'


def _snapshots(result: BacktestResult, trades: Sequence[Trade], candles: Candles) -> str:
    picks = select_snapshot_trades(trades)
    digits = _price_digits(result.symbol, (float(candles.close[-1]),) if len(candles) else ())
    times = np.asarray(candles.time)
    sessions = load_sessions()
    figures = []
    for number, trade, why in picks:
        if not (0 <= trade.entry_index <= trade.exit_index < len(candles)) \
                or int(times[trade.entry_index]) != trade.entry_time:
            continue  # the candles are not the ones the backtest ran on: draw nothing rather than a wrong chart
        trail = _trailing_path(trade, result.events) if trade.trailing_active else []
        shown = [w for w in why if w != "sample"] or ["sample"]
        tags = "".join(f'<span class="tag{" amb" if w == "ambiguous" else ""}">{esc(w)}</span>' for w in shown)
        if trade.ambiguous and "ambiguous" not in why:
            tags += '<span class="tag amb">ambiguous</span>'
        hold = trade.hold_seconds / 60
        caption = (f"<strong>#{number} {esc(trade.side)}</strong><span>{esc(grade_label(trade.grade))}</span>"
                   f"<span>{esc(_utc(trade.entry_time))} UTC · {esc(session_of(trade.entry_time, sessions))}</span>"
                   f"<span>{esc(trade.exit_reason)} · {hold:g} min</span>{tags}"
                   f'<span class="r {_signed_class(trade.r_multiple)}">{esc(_r(trade.r_multiple))}</span>')
        figures.append(f"<figure><figcaption>{caption}</figcaption>{snapshot_svg(trade, candles, digits, trail)}"
                       "</figure>")
    legend = ('<div class="legend"><span><span class="sw dash" style="border-color:#1a7f4b"></span>take profit'
              '</span><span><span class="sw dash" style="border-color:#c2362f"></span>initial stop</span>'
              '<span><span class="sw dash" style="border-color:#2557a7"></span>entry fill (▲ long, ▼ short)</span>'
              '<span><span class="sw" style="border-color:#b26a00"></span>trailing stop</span>'
              "<span>● exit (green: win, red: loss)</span>"
              "<span>shaded: bars the position was open</span></div>")
    body = "".join(figures) or '<p class="dim">No trades to show.</p>'
    return (f'<section id="snapshots"><h2>Trade snapshots ({len(figures)} of {len(trades):,} trades)</h2>{legend}'
            f'<div class="snaps">{body}</div><p class="note">Candles are bid prices. A long fills at the ask '
            "(bid + spread) and a short's stop and target are hit by the ask, so levels can sit a spread away "
            "from the candles. Times are bar open times, UTC.</p></section>")


def render_report(result: BacktestResult, metrics: Metrics, candles: Candles) -> str:
    """The report as one HTML string (see the module docstring)."""
    trades = sorted(result.trades, key=lambda t: (t.exit_time, t.entry_time))
    r = np.fromiter((t.r_multiple for t in trades), dtype=np.float64, count=len(trades))
    title = f"Backtest report · {result.symbol} · {Path(result.rules_path).name}"
    body = "".join((_header(result, metrics), _kpis(metrics), _criteria(metrics), _equity(trades, r),
                    _distribution(r), _breakdown(metrics), _signals(metrics), _snapshots(result, trades, candles)))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>{body}"
            "<footer>ruleengine backtest report · all times UTC · R = initial risk (entry to initial stop)"
            "</footer></main></body></html>\n")


def write_report(result: BacktestResult, metrics: Metrics, candles: Candles, path: str | Path) -> Path:
    """Write the report to ``path`` atomically (temp file + rename) and return the path."""
    path = Path(path)
    text = render_report(result, metrics, candles)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
