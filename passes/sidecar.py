"""The weights a pass may read: the sidecar of the IR file being processed.

Passes get only a module; a pass that needs the weights (`assign-pot-rows`)
finds the sidecar through the module's `vit.weights` attribute, relative to
the IR file named by `IR_FILE`. `vaqf-opt` sets it from its input path
(`with ir_file(path): ...`); IR read from stdin has no file, so the pass then
needs an explicit `weights=PATH` option, or it says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.params import Params, load_npz, load_params

IR_FILE: ContextVar[Path | None] = ContextVar("vaqf_ir_file", default=None)


@contextlib.contextmanager
def ir_file(path: Path | None) -> Iterator[None]:
    """Passes applied inside this block read the sidecar beside `path` (None: no file)."""
    token = IR_FILE.set(path)
    try:
        yield
    finally:
        IR_FILE.reset(token)


def pass_params(module: ModuleOp, pass_name: str, weights: str | None) -> Params:
    """The module's weights: from `weights` (a .npz) if given, else the sidecar beside the IR file."""
    if weights:
        return load_npz(module, Path(weights), f"given as {pass_name}{{weights=...}}")
    path = IR_FILE.get()
    if path is None:
        raise VaqfError(
            f"{pass_name}: needs the float weights but the IR came without a file name (stdin);"
            f" give the sidecar as an option: {pass_name}{{weights=model.npz}}"
        )
    return load_params(module, path)

