"""The weights sidecar: a `.npz` next to the `.mlir`, named by the module.

The module attribute `vit.weights` holds the sidecar's file name (relative to
the IR file) and `vit.weights_sha256` its checksum. Loading checks the
checksum and that every `#vit.param` the IR references exists with exactly
the shape the IR declares, so a stale or foreign sidecar never runs silently.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation

from vaqf_compiler.dialects.vit import WEIGHTS_ATTR, WEIGHTS_SHA256_ATTR, ParamAttr, VitOp
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.fsutil import write_atomically
from vaqf_compiler.ir import describe

Params = dict[str, np.ndarray]


def referenced_params(module: Operation) -> Iterator[tuple[Operation, ParamAttr]]:
    """Every (op, parameter) reference in the module, in program order."""
    for op in module.walk():
        if isinstance(op, VitOp):
            for p in op.params():
                yield op, p


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_params(path: Path, params: Mapping[str, np.ndarray]) -> str:
    """Write the sidecar atomically and deterministically; returns its sha256."""
    def write(f: IO[bytes]) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            for key in sorted(params):
                # Fixed timestamp and sorted names: the same weights give the same bytes.
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                with zf.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.ascontiguousarray(params[key], dtype=np.float32))

    write_atomically(Path(path), write)
    return file_sha256(path)


def attach_sidecar(module: ModuleOp, sidecar_name: str, sha256: str) -> None:
    """Point `module` at its sidecar file (a name relative to the IR file)."""
    module.attributes[WEIGHTS_ATTR] = StringAttr(sidecar_name)
    module.attributes[WEIGHTS_SHA256_ATTR] = StringAttr(sha256)


def sidecar_path(module: ModuleOp, ir_path: Path | None) -> Path:
    attr = module.attributes.get(WEIGHTS_ATTR)
    if not isinstance(attr, StringAttr):
        raise VaqfError(
            f"module has no '{WEIGHTS_ATTR}' attribute naming its weights file;"
            f' add `attributes {{{WEIGHTS_ATTR} = "model.npz"}}` to the builtin.module',
            where=str(ir_path) if ir_path else None,
        )
    p = Path(attr.data)
    if not attr.data or "\0" in attr.data or p.is_absolute() or ".." in p.parts:
        raise VaqfError(f"'{WEIGHTS_ATTR}' must be a file name beside the IR, got {attr.data!r}")
    base = ir_path.parent if ir_path else Path.cwd()
    path = base / p
    # A symlink beside the IR must not lead out of its directory either.
    try:
        inside = path.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError) as e:  # a symlink loop
        raise VaqfError(f"cannot resolve weights file {path}: {e}") from None
    if not inside:
        raise VaqfError(f"weights file {path} leads outside the IR's directory {base} (a symlink);"
                        " copy the .npz beside the IR")
    return path


def load_params(module: ModuleOp, ir_path: Path | None) -> Params:
    """Load and check the sidecar of `module` (parsed from `ir_path`)."""
    path = sidecar_path(module, ir_path)
    return load_npz(module, path, f"named by '{WEIGHTS_ATTR}' in {ir_path or 'the IR'}")


def load_npz(module: ModuleOp, path: Path, named_by: str) -> Params:
    """Load the weights file `path` of `module`: its checksum, then every parameter the IR names."""
    if not path.is_file():
        raise VaqfError(f"weights file {path} not found ({named_by})")
    want = module.attributes.get(WEIGHTS_SHA256_ATTR)
    if isinstance(want, StringAttr) and file_sha256(path) != want.data:
        raise VaqfError(
            f"weights file {path} does not match the IR's checksum ('{WEIGHTS_SHA256_ATTR}');"
            " it was changed or belongs to another model — re-run `vaqf import`"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            params = {k: npz[k].astype(np.float32, copy=False) for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise VaqfError(f"cannot read weights file {path}: {e}") from None
    check_params(module, params, str(path))
    return params


def check_params(module: Operation, params: Mapping[str, np.ndarray], source: str) -> None:
    """Every referenced parameter exists in `params` with the declared shape."""
    for op, p in referenced_params(module):
        if p.key not in params:
            raise VaqfError(f"parameter {p.key!r} is missing from {source}", where=describe(op))
        got = tuple(params[p.key].shape)
        if got != p.shape:
            raise VaqfError(
                f"parameter {p.key!r} has shape {list(got)} in {source} but the IR declares {list(p.shape)}",
                where=describe(op),
            )
