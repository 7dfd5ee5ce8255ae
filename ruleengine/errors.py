"""The error hierarchy.

Three separate roots, because a user reacts differently to each: a :class:`RuleError` means "fix your rule
file", a :class:`DataError` means "fix or replace your data file", a :class:`BrokerError` means "the broker
refused or failed; nothing was assumed". All of them derive from :class:`RuleEngineError` so the CLI can turn
any of them into a one-line message and exit status 1 instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BrokerError",
    "ConfigError",
    "DataError",
    "RuleEngineError",
    "RuleError",
    "RuleNameError",
    "RuleSchemaError",
    "RuleSyntaxError",
    "RuleTypeError",
    "SourcePosition",
]


class RuleEngineError(Exception):
    """Root of every error the engine raises on purpose."""


@dataclass(frozen=True, kw_only=True)
class SourcePosition:
    """Where in a user's file something is: 1-based line and column, plus the text of that line."""

    path: str
    line: int | None = None
    column: int | None = None
    source_line: str | None = None

    def prefix(self) -> str:
        """``path:line:column`` with the parts that are known."""
        out = self.path
        if self.line is not None:
            out += f":{self.line}"
            if self.column is not None:
                out += f":{self.column}"
        return out


class RuleError(RuleEngineError):
    """A rule file is wrong: YAML syntax, schema, DSL syntax, unknown name or type mismatch.

    ``str(err)`` reads ``rules/xauusd.yaml:41:17: unknown name 'atr_1' (did you mean 'atr'?)`` and, when the
    source line is known, continues with that line and a caret under the column.
    """

    def __init__(self, message: str, position: SourcePosition | None = None) -> None:
        self.message = message
        self.position = position
        super().__init__(self._render())

    def headline(self) -> str:
        """The one-line ``path:line:col: message`` form used by ``ruleengine validate``."""
        return f"{self.position.prefix()}: {self.message}" if self.position else self.message

    def _render(self) -> str:
        text = self.headline()
        pos = self.position
        if pos is not None and pos.source_line is not None and pos.column is not None:
            line = pos.source_line.rstrip("\n")
            text += f"\n    {line}\n    {' ' * (pos.column - 1)}^"
        return text


class RuleSyntaxError(RuleError):
    """The YAML or an expression in it does not parse."""


class RuleSchemaError(RuleError):
    """The YAML parses but its structure breaks the rule-file schema (missing key, wrong type, ...)."""


class RuleNameError(RuleError):
    """An expression uses a name that is not a column, param, define, indicator or allowed position name."""


class RuleTypeError(RuleError):
    """An expression is ill-typed: wrong operand types, wrong arity, bad argument, wrong units."""


class DataError(RuleEngineError):
    """A data file (or an in-memory array handed to a loader) cannot be read as valid M1 candles.

    ``str(err)`` reads ``data.csv:17: high 2031.2 is below max(open, close) 2031.5``; ``line`` is the 1-based
    line of the file (the header is line 1) or, for in-memory arrays, ``None`` with the row in the reason.
    """

    def __init__(self, reason: str, *, path: str | Path | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.path = str(path) if path is not None else None
        self.line = line
        where = self.path or "<data>"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {reason}")


class ConfigError(RuleEngineError):
    """A file under ``config/`` is missing or malformed."""


class BrokerError(RuleEngineError):
    """The broker (simulated, paper or MetaTrader 5) failed or refused a request."""
