"""Where an expression's text sits in its file, so every error can point at the exact character."""

from __future__ import annotations

from dataclasses import dataclass

from ruleengine.errors import SourcePosition

__all__ = ["Source"]


@dataclass(frozen=True, kw_only=True)
class Source:
    """An expression's text plus the file position of its first character.

    The rule loader hands the parser the *raw* slice of the YAML file (indentation and newlines kept), so a
    position inside the expression maps to the file by a shift on its first line and by line count after.
    """

    text: str
    path: str = "<expression>"
    line: int = 1
    column: int = 1
    file_lines: tuple[str, ...] | None = None
    #: For a one-line quoted YAML scalar with escapes: the offset in the raw text of each character of
    #: :attr:`text` (``''`` or ``\"`` is one character of the value but two in the file).
    column_map: tuple[int, ...] | None = None

    def position(self, line: int, column: int) -> SourcePosition:
        """File position of 1-based (line, column) inside :attr:`text`, with that file line for a caret."""
        file_line = self.line + line - 1
        offset = column - 1
        if line == 1 and self.column_map is not None and self.column_map:
            offset = self.column_map[min(offset, len(self.column_map) - 1)] + max(0, offset - len(self.column_map) + 1)
        file_column = self.column + offset if line == 1 else column
        if self.file_lines is not None:
            lines, index = self.file_lines, file_line
        else:
            lines, index = tuple(self.text.splitlines()), line
        source_line = lines[index - 1] if 0 < index <= len(lines) else None
        return SourcePosition(path=self.path, line=file_line, column=file_column, source_line=source_line)

    def start(self) -> SourcePosition:
        """Position of the expression's first character."""
        return self.position(1, 1)
