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
