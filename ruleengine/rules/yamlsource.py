"""Loading a rule file with ``yaml.safe_load`` semantics while keeping where every value came from.

PyYAML's ``compose`` (with the safe loader) yields a node tree carrying start/end marks; we build plain
Python data from it exactly as ``safe_load`` would (the same constructor), and a parallel map from each
value's path (``("triggers", "primary", "sweep", "long")``) to a :class:`Located` record. Expressions are
parsed from the *raw* text of their scalar in the file (indentation and line breaks kept, which the DSL
ignores), so a column in an expression maps to a column in the file without re-deriving YAML folding.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ruleengine.dsl.source import Source
from ruleengine.errors import RuleSchemaError, RuleSyntaxError, SourcePosition

__all__ = ["Located", "RuleDocument", "load_document"]

PathKey = tuple[Hashable, ...]

# libyaml's safe loader when PyYAML was built with it (same semantics, about 10x faster); else pure Python.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, kw_only=True)
class Located:
    """Where a node is: its marks and, for scalars, the raw source text of the value."""

    line: int  # 1-based
    column: int  # 1-based
    end_line: int
    end_column: int
    raw: str | None = None
    style: str | None = None
    key_line: int | None = None
    key_column: int | None = None


@dataclass(frozen=True, kw_only=True)
class RuleDocument:
    """A parsed rule file: plain data (as ``yaml.safe_load`` returns it) plus positions by path."""

    path: str
    data: Any
    positions: dict[PathKey, Located]
    lines: tuple[str, ...]

    def position(self, path: PathKey, *, key: bool = False) -> SourcePosition:
        """File position of the value at ``path`` (or of its key), falling back to the nearest parent."""
        p = tuple(path)
        while p not in self.positions and p:
            p = p[:-1]
        loc = self.positions.get(p)
        if loc is None:
            return SourcePosition(path=self.path, line=1, column=1, source_line=self._line(1))
        if key and loc.key_line is not None and p == tuple(path):
            line, column = loc.key_line, loc.key_column or 1
        else:
            line, column = loc.line, loc.column
        return SourcePosition(path=self.path, line=line, column=column, source_line=self._line(line))

    def _line(self, line: int) -> str | None:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else None

    def expression_source(self, path: PathKey) -> Source:
        """The :class:`Source` of the scalar at ``path``: raw file text for plain and block scalars."""
        loc = self.positions[tuple(path)]
        value = _get(self.data, path)
        text = str(value)
        line, column = loc.line, loc.column
        if loc.style in (None, "") and loc.raw is not None:
            text = loc.raw  # plain scalar: the raw slice parses the same (whitespace is free)
        elif loc.style in ("'", '"') and loc.raw is not None and "\n" not in loc.raw:
            column_map = _quoted_offsets(loc.raw[1:-1], loc.style)
            if len(column_map) == len(text):  # the value's characters aligned with the file's
                return Source(text=text, path=self.path, line=line, column=column + 1, file_lines=self.lines,
                              column_map=column_map)
        elif loc.style in ("|", ">") and loc.raw is not None:
            # the block's content starts on the line after the indicator; keep its raw lines
            raw_lines = loc.raw.splitlines()
            text = "\n".join(raw_lines[1:])
            line, column = line + 1, 1
        return Source(text=text, path=self.path, line=line, column=column, file_lines=self.lines)


_ESCAPE_LENGTH = {"x": 4, "u": 6, "U": 10}


def _quoted_offsets(inner: str, style: str) -> tuple[int, ...]:
    """Offset in ``inner`` (the raw text between the quotes) of each character of the scalar's value."""
    out = []
    i = 0
    while i < len(inner):
        out.append(i)
        if style == "'" and inner.startswith("''", i):
            i += 2
        elif style == '"' and inner[i] == "\\" and i + 1 < len(inner):
            i += _ESCAPE_LENGTH.get(inner[i + 1], 2)
        else:
            i += 1
    return tuple(out)


def _get(data: Any, path: PathKey) -> Any:
    for k in path:
        data = data[k]
    return data


def _locate(node: yaml.Node, text: str, key_node: yaml.Node | None = None) -> Located:
    start, end = node.start_mark, node.end_mark
    raw = text[start.index:end.index] if isinstance(node, yaml.ScalarNode) else None
    return Located(
        line=start.line + 1, column=start.column + 1, end_line=end.line + 1, end_column=end.column + 1,
        raw=raw, style=getattr(node, "style", None),
        key_line=key_node.start_mark.line + 1 if key_node is not None else None,
        key_column=key_node.start_mark.column + 1 if key_node is not None else None,
    )


def _walk(node: yaml.Node, path: PathKey, out: dict[PathKey, Located], text: str,
          constructor: yaml.constructor.SafeConstructor, doc: str, key_node: yaml.Node | None = None) -> None:
    out[path] = _locate(node, text, key_node)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for k_node, v_node in node.value:
            key = constructor.construct_object(k_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                raise RuleSchemaError("mapping keys must be plain names",
                                      _pos(doc, k_node, text))
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise RuleSchemaError(f"duplicate key {key!r} (first defined on line {first})",
                                      _pos(doc, k_node, text))
            seen[key] = k_node
            _walk(v_node, (*path, key), out, text, constructor, doc, k_node)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), out, text, constructor, doc)


def _pos(doc: str, node: yaml.Node, text: str) -> SourcePosition:
    lines = text.splitlines()
    line = node.start_mark.line + 1
    return SourcePosition(path=doc, line=line, column=node.start_mark.column + 1,
                          source_line=lines[line - 1] if 0 < line <= len(lines) else None)


def load_document(path: str | Path, text: str | None = None) -> RuleDocument:
    """Read and parse a rule file; :class:`RuleSyntaxError` with the YAML problem's position."""
    doc = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RuleSchemaError(f"rule file not found: {doc}") from None
        except UnicodeDecodeError as exc:
            raise RuleSyntaxError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                                  SourcePosition(path=doc)) from None
    lines = tuple(text.splitlines())
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        column = mark.column + 1 if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        message = f"YAML: {problem}"
        if exc.context and exc.problem:
            message = f"YAML: {problem} ({exc.context})"
        raise RuleSyntaxError(message, SourcePosition(
            path=doc, line=line, column=column, source_line=lines[line - 1] if 0 < line <= len(lines) else None,
        )) from None
    except yaml.YAMLError as exc:  # pragma: no cover - non-marked errors are rare
        raise RuleSyntaxError(f"YAML: {exc}", SourcePosition(path=doc)) from None
    if node is None:
        raise RuleSchemaError("the rule file is empty", SourcePosition(path=doc, line=1, column=1))
    loader = yaml.SafeLoader("")
    try:
        data = loader.construct_document(node)
        positions: dict[PathKey, Located] = {}
        _walk(node, (), positions, text, loader, doc)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 1
        raise RuleSyntaxError(f"YAML: {exc.problem}", SourcePosition(
            path=doc, line=line, column=(mark.column + 1) if mark else 1,
            source_line=lines[line - 1] if 0 < line <= len(lines) else None)) from None
    finally:
        loader.dispose()
    return RuleDocument(path=doc, data=data, positions=positions, lines=lines)
