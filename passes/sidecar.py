"""The weights a pass may read: the sidecar of the IR file being processed.

Passes get only a module; a pass that needs the weights (`assign-pot-rows`)
finds the sidecar through the module's `vit.weights` attribute, relative to
the IR file named by `IR_FILE`. `vaqf-opt` sets it from its input path
(`with ir_file(path): ...`); IR read from stdin has no file, so the pass then
needs an explicit `weights=PATH` option, or it says so.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr

from vaqf_compiler.dialects.vit import WEIGHTS_SHA256_ATTR
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.params import Params, check_params, file_sha256, load_params

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
        return _load_npz(module, Path(weights))
    path = IR_FILE.get()
    if path is None:
        raise VaqfError(
            f"{pass_name}: needs the float weights but the IR came without a file name (stdin);"
            f" give the sidecar as an option: {pass_name}{{weights=model.npz}}"
        )
    return load_params(module, path)


def _load_npz(module: ModuleOp, path: Path) -> Params:
    if not path.is_file():
        raise VaqfError(f"weights file {path} not found")
    want = module.attributes.get(WEIGHTS_SHA256_ATTR)
    if isinstance(want, StringAttr) and file_sha256(path) != want.data:
        raise VaqfError(f"weights file {path} does not match the IR's checksum ('{WEIGHTS_SHA256_ATTR}')")
    try:
        with np.load(path, allow_pickle=False) as npz:
            params = {k: npz[k].astype(np.float32, copy=False) for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise VaqfError(f"cannot read weights file {path}: {e}") from None
    check_params(module, params, str(path))
    return params
