"""What every handler table of the interpreter shares.

A *handler* computes one op: it gets the op, the arrays of its operands (in
operand order) and the running `Context` (which hands out parameters), and
returns the array of its single result. A `HandlerTable` maps op classes to
handlers; the float path is `float_ops.FLOAT_OPS`. An integer path (quantized
ops with exact integer semantics) adds its own table beside it and registers
it in `interpreter.MODES`; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
from xdsl.ir import Operation

from vaqf_compiler.dialects.vit import ParamAttr


class Context(Protocol):
    """What a handler may ask the interpreter for."""

    def param(self, op: Operation, attr: ParamAttr) -> np.ndarray:
        """The parameter named by `attr` as float64, with its declared shape."""
        ...

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """`compute()` once per `key` for this run (derived constants such as integer weights)."""
        ...


Handler = Callable[[Any, Sequence[np.ndarray], Context], np.ndarray]
HandlerTable = dict[type[Operation], Handler]

H = TypeVar("H", bound=Handler)


def handles(table: HandlerTable, *op_types: type[Operation]) -> Callable[[H], H]:
    """Decorator: register a handler for `op_types` in `table`."""

    def register(fn: H) -> H:
        for t in op_types:
            if t in table:
                raise ValueError(f"two handlers for {t.name}")
            table[t] = fn
        return fn

    return register
