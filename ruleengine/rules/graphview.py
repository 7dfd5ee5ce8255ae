"""``ruleengine graph``: the compiled predicate graph as text or Graphviz DOT.

Shows what the compiler made of a rule file: each node once (shared sub-expressions are listed once and
used by several consumers), its type, its own lookback and cumulative warm-up, and which conditions,
score components and actions use it. Constants folded at compile time appear as constants.
"""

from __future__ import annotations

from collections import defaultdict

from ruleengine.dsl.graph import describe
from ruleengine.rules.model import SIDES, CompiledRules

__all__ = ["graph_summary", "render_dot", "render_text"]


def _roots(rules: CompiledRules) -> dict[int, list[str]]:
    """Node id -> names of the rule outputs that are that node (``long filters.spread``, ...)."""
    roots: dict[int, list[str]] = defaultdict(list)
    for side in SIDES:
        sr = rules.sides[side]
        for c in sr.conditions():
            roots[c.node].append(f"{side} {c.layer}.{c.name}")
        for comp in sr.score:
            roots[comp.node].append(f"{side} score.{comp.name}")
        roots[sr.stop_loss].append(f"{side} stop_loss")
        roots[sr.take_profit].append(f"{side} take_profit")
        for name in ("adverse_candle", "trailing_distance", "exit_when"):
            node = getattr(sr, name)
            if node is not None:
                roots[node].append(f"{side} exits.{name}")
    if rules.spread_check is not None:
        roots[rules.spread_check].append("checks.spread (max_spread_ratio, max_spread_ratio_low_volume)")
    return roots


def _outputs(rules: CompiledRules) -> list[int]:
    """Every node a backtest evaluates for its own sake: entries, exits and the spread check."""
    check = [] if rules.spread_check is None else [rules.spread_check]
    return [*rules.entry_outputs(), *rules.exit_outputs(), *check]


def _consumers(rules: CompiledRules, order: list[int]) -> dict[int, int]:
    count: dict[int, int] = defaultdict(int)
    for n in order:
        for a in rules.graph[n].args:
            count[a] += 1
    return count


def graph_summary(rules: CompiledRules) -> dict[str, int | bool]:
    """Counts for the header: nodes, indicator calls, shared nodes, folded constants, warm-up."""
    g = rules.graph
    outputs = _outputs(rules)
    order = g.reachable(outputs)
    consumers = _consumers(rules, order)
    roots = _roots(rules)
    return {
        "nodes": len(order),
        "indicator_calls": sum(1 for n in order if g[n].op == "ind"),
        "shared": sum(1 for n in order if consumers[n] + len(roots.get(n, ())) > 1),
        "constants": sum(1 for n in order if g[n].is_const),
        "warmup_bars": rules.warmup,
        "window_exact": rules.window_exact,
    }


def render_text(rules: CompiledRules) -> str:
    g = rules.graph
    outputs = _outputs(rules)
    order = g.reachable(outputs)
    consumers = _consumers(rules, order)
    roots = _roots(rules)
    s = graph_summary(rules)
    lines = [
        f"{rules.path}: {s['nodes']} nodes ({s['indicator_calls']} indicator calls, {s['shared']} shared, "
        f"{s['constants']} constants), warm-up {s['warmup_bars']} bars, "
        f"{'window-exact' if s['window_exact'] else 'NOT window-exact (live values converge to backtest values)'}",
        "",
        f"{'id':>4}  {'type':<8} {'lookback':>8} {'warmup':>6} {'uses':>4}  node",
    ]
    for n in order:
        node = g[n]
        inputs = f" <- {', '.join(f'#{a}' for a in node.args)}" if node.args else ""
        used = f"   = {'; '.join(roots[n])}" if n in roots else ""
        lines.append(f"{n:>4}  {node.type!s:<8} {node.lookback:>8} {node.warmup:>6} {consumers[n]:>4}  "
                     f"{describe(g, n)}{inputs}{used}")
    return "\n".join(lines)


def render_dot(rules: CompiledRules) -> str:
    g = rules.graph
    outputs = _outputs(rules)
    order = g.reachable(outputs)
    roots = _roots(rules)
    out = ["digraph rules {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica", fontsize=10];']
    for n in order:
        node = g[n]
        label = describe(g, n).replace('"', '\\"')
        if n in roots:
            label += "\\n" + "\\n".join(r.replace('"', '\\"') for r in roots[n])
        shape = ', shape=ellipse' if node.op == "ind" else (', shape=plaintext' if node.is_const else "")
        style = ', style=filled, fillcolor="#e8f0fe"' if n in roots else ""
        out.append(f'  n{n} [label="{label}"{shape}{style}];')
        for a in node.args:
            out.append(f"  n{a} -> n{n};")
    out.append("}")
    return "\n".join(out)
