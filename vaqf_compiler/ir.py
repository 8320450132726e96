"""Reading and writing textual IR, with source locations kept for diagnostics.

xDSL's parser only attaches a location to an op that spells out `loc(...)`.
We record where every op started in the text (file, line, column) in a side
table, so any later error — verifier, pass, parameter loading, interpreter —
can name the op and its place in the user's file.
"""

from __future__ import annotations

import io
import weakref
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.arith import Arith
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.dialects.func import Func
from xdsl.ir import Operation
from xdsl.parser import Parser
from xdsl.printer import Printer

from vaqf_compiler.dialects.vit import Vit


@dataclass(frozen=True)
class SourceLoc:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


_LOCATIONS: weakref.WeakKeyDictionary[Operation, SourceLoc] = weakref.WeakKeyDictionary()


def make_context() -> Context:
    """A context with our dialects and the few upstream ones we use (builtin, func, arith)."""
    ctx = Context()
    for dialect in (Builtin, Func, Arith, Vit):
        ctx.load_dialect(dialect)
    return ctx


class LocatingParser(Parser):
    """A Parser that remembers where each op began."""

    def parse_operation(self) -> Operation:
        start = self._current_token.span
        op = super().parse_operation()
        loc = start.get_location()
        _LOCATIONS[op] = SourceLoc(loc.file, loc.line, loc.col)
        return op


def location_of(op: Operation) -> SourceLoc | None:
    """Where `op` was parsed from, or None for ops built in memory."""
    return _LOCATIONS.get(op)


def describe(op: Operation) -> str:
    """`file:line:col: 'vit.linear'` — how diagnostics name an op."""
    loc = location_of(op)
    return f"{loc}: '{op.name}'" if loc else f"'{op.name}'"


def parse_ir(text: str, filename: str = "<stdin>", ctx: Context | None = None) -> ModuleOp:
    """Parse one module; raises xDSL's ParseError for malformed text."""
    return LocatingParser(ctx or make_context(), text, filename).parse_module()


def print_ir(op: Operation, *, generic: bool = False) -> str:
    out = io.StringIO()
    Printer(stream=out, print_generic_format=generic).print_op(op)
    out.write("\n")
    return out.getvalue()
