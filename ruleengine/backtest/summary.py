"""The terminal summary of ``ruleengine backtest``: headline figures, the plan's criteria, breakdowns."""

from __future__ import annotations

import math
from typing import Any

from ruleengine.backtest.driver import BacktestResult
from ruleengine.backtest.export import iso_utc

__all__ = ["render_summary"]


def _num(v: Any, fmt: str = ".3f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return format(v, fmt) if isinstance(v, float) else str(v)


def _pct(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"


def render_summary(m: dict[str, Any], result: BacktestResult) -> str:
    """Plain text (it reads well in a terminal and in a log file)."""
    lines = [
        f"{result.rules_path} on {result.symbol}: {m['bars']:,} bars, {iso_utc(result.first_time)} .. "
        f"{iso_utc(result.last_time)}",
        f"  engine {m['seconds']:.3f} s ({m['bars_per_second']:,.0f} bars/s); intrabar policy {result.intrabar}: "
        f"{m['ambiguous_exits']} of {m['trades']} exits touched SL and TP in one bar",
        "",
        f"  trades {m['trades']}  win rate {_pct(m['win_rate'])}  avg R {_num(m['avg_r'])}  "
        f"avg win {_num(m['avg_win_r'])} R  avg loss {_num(m['avg_loss_r'])} R",
        f"  expectancy {_num(m['expectancy_r'])} R  total {_num(m['total_r'], '.2f')} R  profit factor "
        f"{_num(m['profit_factor'], '.2f')}  max drawdown {_num(m['max_drawdown_r'], '.2f')} R",
        f"  avg hold {_num(m['avg_hold_minutes'], '.2f')} min  max adverse {_num(m['max_adverse_r'], '.2f')} R  "
        f"trades/day {_num(m['trades_per_day'], '.1f')}",
        "",
        "  The plan's success criteria:",
    ]
    for c in m["criteria"]:
        mark = "PASS" if c["passed"] else "FAIL"
        note = f"  ({c['note']})" if c.get("note") else ""
        lines.append(f"    {mark}  {c['name']:<24} target {c['target']:<10} result {c['display']}{note}")
    for title, key in (("by side", "by_side"), ("by grade", "by_grade"), ("by session", "by_session")):
        groups = m.get(key) or {}
        if not groups:
            continue
        lines += ["", f"  {title}:"]
        for name, g in groups.items():
            lines.append(f"    {name:<12} trades {g['trades']:>5}  win {_pct(g['win_rate']):>6}  "
                         f"avg R {_num(g['avg_r']):>7}  total {_num(g['total_r'], '.2f'):>8} R")
    if m.get("exit_reasons"):
        lines += ["", "  exits: " + ", ".join(f"{k} {v}" for k, v in m["exit_reasons"].items())]
    if m.get("blocked"):
        lines += ["  blocked signals: " + ", ".join(f"{k} {v}" for k, v in m["blocked"].items())]
    return "\n".join(lines)
