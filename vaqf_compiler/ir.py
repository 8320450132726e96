"""Reading and writing textual IR, with source locations kept for diagnostics.

xDSL's parser only attaches a location to an op that spells out `loc(...)`.
We record where every op started in the text (file, line, column) in a side
table, so any later error — verifier, pass, parameter loading, interpreter —
can name the op and its place in the user's file.
"""

from __future__ import annotations

import bisect
import io
import re
import weakref
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.mlir_lexer import MLIRTokenKind, StringLiteral

from vaqf_compiler.registry import make_registry_context


@dataclass(frozen=True)
class SourceLoc:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


_LOCATIONS: weakref.WeakKeyDictionary[Operation, SourceLoc] = weakref.WeakKeyDictionary()


def make_context() -> Context:
    """A context with our dialects and the few upstream ones we use (see `registry`)."""
    return make_registry_context()


class LocatingParser(Parser):
    """A Parser that remembers where each op began.

    `line_offset` is the number of lines before `text` in the user's file (a
    chunk of a `--split-input-file` input), so recorded lines are the file's.
    """

    def __init__(self, ctx: Context, text: str, name: str = "<stdin>", line_offset: int = 0):
        super().__init__(ctx, text, name)
        self._name = name
        self._line_offset = line_offset
        # Start offsets of the lines, computed once: a location is a bisect, not a rescan.
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def parse_operation(self) -> Operation:
        pos = self._current_token.span.start
        op = super().parse_operation()
        line = bisect.bisect_right(self._line_starts, pos)
        _LOCATIONS[op] = SourceLoc(self._name, line + self._line_offset, pos - self._line_starts[line - 1] + 1)
        return op

    def parse_optional_str_literal(self) -> str | None:
        """Also a literal whose escapes spell non-ASCII UTF-8 (how xDSL prints `"é.npz"`: `"\\C3\\A9.npz"`),
        which xDSL's lexer takes for bytes: printed strings (paths, names) parse back as strings."""
        if (text := super().parse_optional_str_literal()) is not None:
            return text
        token = self._current_token
        if token.kind != MLIRTokenKind.BYTES_LIT:
            return None
        try:
            text = StringLiteral.from_span(token.span).bytes_contents.decode("utf-8")
        except UnicodeDecodeError:
            return None  # really bytes
        self._parse_optional_token(MLIRTokenKind.BYTES_LIT)
        return text

    def parse_module(self, allow_implicit_module: bool = True) -> ModuleOp:
        module = super().parse_module(allow_implicit_module)
        if module not in _LOCATIONS:
            # An implicit module (top-level ops without `builtin.module`) is where its
            # first op is, so a module-wide error (from a pass) still names a line.
            first = module.body.block.first_op
            loc = _LOCATIONS.get(first) if first is not None else None
            _LOCATIONS[module] = loc or SourceLoc(self._name, 1 + self._line_offset, 1)
        return module


def set_location(op: Operation, loc: SourceLoc) -> None:
    """Record where `op` is (for ops not made by a LocatingParser, e.g. an empty input's module)."""
    _LOCATIONS[op] = loc


def location_of(op: Operation) -> SourceLoc | None:
    """Where `op` was parsed from, or None for ops built in memory."""
    return _LOCATIONS.get(op)


def describe(op: Operation) -> str:
    """`file:line:col: 'vit.linear'` — how diagnostics name an op."""
    loc = location_of(op)
    return f"{loc}: '{op.name}'" if loc else f"'{op.name}'"


def parse_ir(text: str, filename: str = "<stdin>", ctx: Context | None = None, line_offset: int = 0) -> ModuleOp:
    """Parse one module of trusted text (our own output); user input goes through
    `vaqf_compiler.diagnostics.parse_source`, which caps hostile input."""
    return LocatingParser(ctx or make_context(), text, filename, line_offset).parse_module()


def print_ir(op: Operation, *, generic: bool = False) -> str:
    out = io.StringIO()
    Printer(stream=out, print_generic_format=generic).print_op(op)
    out.write("\n")
    return out.getvalue()
