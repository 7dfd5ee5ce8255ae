"""The ``ruleengine`` command line.

Each command is one decorated function: ``@command("data inspect", help, arg(...), ...)`` declares its
words, help and argparse arguments, and the function receives the parsed namespace and returns an exit
status. Adding ``validate`` or ``backtest`` is one more such function; nothing else changes.

Exit status: 0 success, 1 a rule, data or config error (one line ``error: <message>`` on stderr, never a
traceback, also for a missing file), 2 a usage error (argparse's message). Warnings such as "spread set to
0" are printed as ``warning: <message>`` on stderr and do not change the status.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ruleengine import __version__
from ruleengine.errors import RuleEngineError

__all__ = ["arg", "build_parser", "command", "main"]

Handler = Callable[[argparse.Namespace], int]
Argument = tuple[tuple[str, ...], dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class _Command:
    words: tuple[str, ...]
    help: str
    arguments: tuple[Argument, ...]
    run: Handler


_COMMANDS: list[_Command] = []
#: Help of the command groups (first words), shown by ``ruleengine --help``.
_GROUPS: dict[str, str] = {"data": "inspect M1 data files"}


def arg(*flags: str, **options: Any) -> Argument:
    """One ``ArgumentParser.add_argument(*flags, **options)`` call, recorded for :func:`command`."""
    return flags, options


def command(words: str, help: str, *arguments: Argument) -> Callable[[Handler], Handler]:
    """Register the decorated function as the command ``words`` (e.g. ``"data inspect"``)."""

    def register(run: Handler) -> Handler:
        _COMMANDS.append(_Command(words=tuple(words.split()), help=help, arguments=arguments, run=run))
        return run

    return register


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every registered command (groups become nested sub-commands)."""
    parser = argparse.ArgumentParser(
        prog="ruleengine",
        description="Declarative rule engine for M1 micro-scalp trading.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    root = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[tuple[str, ...], Any] = {(): root}
    for cmd in _COMMANDS:
        for depth in range(1, len(cmd.words)):
            prefix = cmd.words[:depth]
            if prefix not in groups:
                name = prefix[-1]
                help_text = _GROUPS.get(" ".join(prefix), f"{name} commands")
                group = groups[prefix[:-1]].add_parser(name, help=help_text, description=help_text)
                groups[prefix] = group.add_subparsers(dest="_".join(prefix), metavar="COMMAND", required=True)
        sub = groups[cmd.words[:-1]].add_parser(cmd.words[-1], help=cmd.help, description=cmd.help)
        for flags, options in cmd.arguments:
            sub.add_argument(*flags, **options)
        sub.set_defaults(_run=cmd.run)
    return parser


def _print_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                   file: TextIO | None = None, line: str | None = None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 after --help / --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = _print_warning
        try:
            return int(args._run(args))
        except BrokenPipeError:  # `ruleengine graph ... | head`: the reader left; not an error of ours
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except RuleEngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
        except FileNotFoundError as exc:
            print(f"error: {exc.filename or exc}: no such file", file=sys.stderr)
        except OSError as exc:  # a directory, no permission, ...
            print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
    return 1


# -- commands --------------------------------------------------------------------------------------------------
def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _symbol_from_name(path: Path) -> str:
    """A configured symbol named by a word of the file name (``btcusdt_binance_...`` -> BTCUSD), or ``""``."""
    from ruleengine.config import load_symbols

    config = load_symbols()
    for word in re.split(r"[^A-Za-z0-9.]+", path.name):
        spec = config.find_symbol(word) if word else None
        if spec is not None:
            return spec.name
    return ""


def _formats() -> list[str]:
    from ruleengine.data.loaders import FORMATS

    return sorted(FORMATS)


@command(
    "data inspect",
    "Summarise an M1 data file: bars, time range, bar spacing, gaps (weekend, daily break, other), spread, "
    "true range and ATR(14), volume, and whether taker-buy volume is present.",
    arg("file", nargs="?", type=Path, help="the data file (default: the bundled XAUUSD sample)"),
    arg("--symbol", default="", help="symbol or alias from config/symbols.yaml (default spread, MT5 point); "
                                     "guessed from the file name when omitted"),
    arg("--broker", default=None, help="broker from config/symbols.yaml: server clock and point of MT5 files"),
    arg("--format", dest="fmt", default=None, choices=_formats(), help="skip format detection"),
    arg("--gaps", type=_count, default=10, metavar="N", help="how many of the largest gaps to list (default 10)"),
    arg("--json", action="store_true", help="print JSON instead of tables"),
)
def data_inspect(args: argparse.Namespace) -> int:
    from ruleengine.data.inspect import render_summary, summarize, summary_dict
    from ruleengine.data.loaders import read_candles
    from ruleengine.resources import sample_file

    notes: list[str] = []
    if args.file is None:
        path, symbol = sample_file("XAUUSD"), args.symbol or "XAUUSD"
        notes.append("no FILE given: the bundled XAUUSD sample")
    else:
        path, symbol = args.file, args.symbol
        if not symbol and (symbol := _symbol_from_name(path)):
            notes.append(f"symbol {symbol} guessed from the file name; pass --symbol to override")
    result = read_candles(path, symbol=symbol, broker=args.broker, fmt=args.fmt)
    summary = summarize(result.candles, fmt=result.format, spread_source=result.spread_source,
                        notes=[*notes, *result.notes], top_gaps=args.gaps)
    if args.json:
        print(json.dumps(summary_dict(summary), indent=2))
    else:
        from rich.console import Console

        render_summary(summary, Console())
    return 0


def _rule_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a directory stands for the ``*.yaml`` / ``*.yml`` files in it."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
        else:
            out.append(p)
    return out


@command(
    "validate",
    "Check rule files: YAML, schema, expression syntax, names, types and that every layer can decide both "
    "sides. Prints 'PATH: ok' per valid file, or 'path:line:col: message' with the source line.",
    arg("paths", nargs="+", type=Path, metavar="PATH", help="rule files or directories of them"),
)
def validate(args: argparse.Namespace) -> int:
    from ruleengine.errors import RuleError
    from ruleengine.rules.model import load_rules

    status = 0
    paths = _rule_paths(args.paths)
    if not paths:
        print("error: no rule files found", file=sys.stderr)
        return 1
    for path in paths:
        try:
            rules = load_rules(path)
        except RuleError as exc:
            print(str(exc), file=sys.stderr)
            status = 1
            continue
        print(f"{path}: ok ({len(rules.graph)} nodes, warm-up {rules.warmup} bars)")
    return status


def _utc_seconds(text: str) -> int:
    """ISO-8601 (``2026-06-02T13:45:00Z``, ``2026-06-02 13:45``; naive means UTC) or epoch seconds."""
    from datetime import UTC, datetime

    try:
        return int(text)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (use ISO-8601 such as 2026-06-02T13:45:00Z)") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp())


def _load_rules_and_data(rules_path: Path, data_path: Path | None) -> tuple[Any, Any]:
    from ruleengine.data import load_candles
    from ruleengine.rules.model import load_rules

    rules = load_rules(rules_path)
    if data_path is None:
        from ruleengine.resources import sample_file

        try:
            data_path = sample_file(rules.symbol)
        except KeyError as exc:
            raise RuleEngineError(f"{exc.args[0]}; pass --data FILE") from None
    return rules, load_candles(data_path, symbol=rules.symbol)


@command(
    "explain",
    "Explain the decision at one bar: every layer and condition with its values and pass/fail, the score "
    "breakdown, the verdict, and the entry, SL and TP the actions would place.",
    arg("rules", type=Path, help="the rule file"),
    arg("--at", required=True, type=_utc_seconds, metavar="TIME",
        help="bar open time, ISO-8601 UTC (2026-06-02T13:45:00Z) or epoch seconds; "
             "without a bar at that time, the last bar before it"),
    arg("--data", type=Path, default=None, help="data file (default: the bundled sample of the rule's symbol)"),
    arg("--side", choices=["long", "short"], default=None, help="only this side"),
    arg("--json", action="store_true", help="print JSON"),
)
def explain_command(args: argparse.Namespace) -> int:
    from ruleengine.rules.explain import explain, render_text

    rules, candles = _load_rules_and_data(args.rules, args.data)
    try:
        expl = explain(rules, candles, args.at)
    except ValueError as exc:
        raise RuleEngineError(str(exc)) from None
    if args.json:
        out = expl.as_dict()
        if args.side:
            out["sides"] = {args.side: out["sides"][args.side]}
        print(json.dumps(out, indent=2))
    else:
        print(render_text(expl, rules, side=args.side))
    return 0


@command(
    "graph",
    "Show the compiled predicate graph: nodes, sharing, lookbacks and warm-up, as text or Graphviz DOT.",
    arg("rules", type=Path, help="the rule file"),
    arg("--dot", action="store_true", help="print Graphviz DOT (pipe into `dot -Tsvg`)"),
)
def graph_command(args: argparse.Namespace) -> int:
    from ruleengine.rules.graphview import render_dot, render_text
    from ruleengine.rules.model import load_rules

    rules = load_rules(args.rules)
    print(render_dot(rules) if args.dot else render_text(rules))
    return 0


@command("schema", "Print the JSON Schema (draft 2020-12) of rule files, for editors and other tools.")
def schema_command(args: argparse.Namespace) -> int:
    from ruleengine.rules.model import rule_schema

    print(json.dumps(rule_schema(), indent=2))
    return 0


@command(
    "backtest",
    "Backtest a rule file on M1 history: vectorised signals, the position state machine with the plan's "
    "execution semantics, metrics against the plan's success criteria.",
    arg("rules", type=Path, help="the rule file"),
    arg("--data", type=Path, default=None, help="data file (default: the bundled sample of the rule's symbol)"),
    arg("--from", dest="start", type=_utc_seconds, default=None, metavar="T",
        help="trade bars at or after T (ISO-8601 UTC); earlier bars still warm the indicators up"),
    arg("--to", dest="end", type=_utc_seconds, default=None, metavar="T", help="trade bars before T"),
    arg("--slippage", type=float, default=0.0, help="adverse slippage per market fill, fraction of price"),
    arg("--latency", type=float, default=0.05, help="assumed order latency in seconds (checked against the rule)"),
    arg("--commission", type=float, default=0.0, help="commission per side, fraction of price"),
    arg("--workers", type=int, default=None, metavar="N",
        help="threads evaluating the signals (default: 2 on a multi-core machine); results do not depend on it"),
    arg("--json", action="store_true", help="print one JSON object (no progress or tables)"),
    arg("--trades", type=Path, default=None, metavar="OUT.csv", help="write the trades as CSV"),
    arg("--report", type=Path, default=None, metavar="OUT.html", help="write a self-contained HTML report"),
)
def backtest_command(args: argparse.Namespace) -> int:
    from ruleengine.backtest.driver import run_backtest
    from ruleengine.backtest.export import write_trades_csv
    from ruleengine.backtest.metrics import compute_metrics
    from ruleengine.config import load_symbols
    from ruleengine.execution import ExecutionModel

    if args.start is not None and args.end is not None and args.end <= args.start:
        print("error: --to must be after --from", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print(f"error: --workers must be at least 1, not {args.workers}", file=sys.stderr)
        return 2
    model = ExecutionModel(slippage=args.slippage, latency=args.latency, commission=args.commission)
    if args.json:
        rules, candles = _load_rules_and_data(args.rules, args.data)
        result = run_backtest(rules, candles, model=model, start=args.start, end=args.end,
                              allowed_symbols=set(load_symbols().symbols), workers=args.workers)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        with console.status("loading rules and data ..."):
            rules, candles = _load_rules_and_data(args.rules, args.data)
        with Progress(TextColumn("backtesting"), BarColumn(), MofNCompleteColumn(), TextColumn("bars"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("backtest", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run_backtest(rules, candles, model=model, start=args.start, end=args.end,
                                  allowed_symbols=set(load_symbols().symbols), workers=args.workers,
                                  progress=advance)
    metrics = compute_metrics(result, candles_time=candles.time)
    if args.trades is not None:
        write_trades_csv(result.trades, args.trades)
    if args.report is not None:
        from ruleengine.backtest.report import write_report

        write_report(result, metrics, candles, args.report)
    if args.json:
        print(json.dumps(metrics.as_dict(), indent=2, default=str))
    else:
        from ruleengine.backtest.summary import render_summary

        print(render_summary(metrics.as_dict(), result))
        for label, path in (("trades", args.trades), ("report", args.report)):
            if path is not None:
                print(f"{label}: {path}")
    return 0
