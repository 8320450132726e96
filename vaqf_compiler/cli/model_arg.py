"""The MODEL argument of every subcommand that takes a model (import, compile, quantize, dse, eval).

One function reads it, so every command accepts the same things (frontend/load.py's `MODEL_KINDS`):
a built-in name, a `.pt2` file, a HuggingFace `save_pretrained` directory, a
`vaqf train` checkpoint (`.pt`) or vit IR (`.mlir` with its `.npz`). What
comes back is vit IR and its weights, plus what the command may need to know:

    from vaqf_compiler.cli.model_arg import resolve_model
    model = resolve_model("model.pt2")            # Model(module, params, name, kind, note, fixed_abits)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from vaqf_compiler.frontend.load import MODEL_KINDS, model_kind

MODEL_HELP = MODEL_KINDS


@dataclass
class Model:
    """A model argument, read: vit IR (`module`) and its weights."""

    module: ModuleOp
    params: dict[str, np.ndarray]
    name: str  # for reports: the built-in name or the file/directory name without suffix
    kind: str  # builtin, pt2, hf, checkpoint or mlir
    note: str = ""  # what a checkpoint carried (its stage and precision)
    fixed_abits: int | None = None  # a quantized checkpoint's activation bits (it fixes the precision)


def model_name(spec: str) -> str:
    return spec if model_kind(spec) == "builtin" else Path(spec.rstrip("/")).stem


def resolve_model(spec: str, *, seed: int = 0, calibration: Path | None = None, verbose: bool = False) -> Model:
    """Read `spec` (any of MODEL_KINDS) as vit IR; every failure is a one-line VaqfError.

    `seed`: the weights of a built-in model; `calibration`: images a quantized
    checkpoint calibrates its 16-bit tensors on; `verbose`: show torch's log when
    a `.pt2` does not load.
    """
    kind = model_kind(spec)
    path = Path(spec)
    name = model_name(spec)
    if kind == "mlir":
        from vaqf_compiler.diagnostics import read_ir_file
        from vaqf_compiler.params import load_params

        module = read_ir_file(path)
        return Model(module, dict(load_params(module, path)), name, kind)
    if kind == "checkpoint":
        from vaqf_compiler.cli.import_cmd import import_checkpoint
        from vaqf_compiler.quant.checkpoint import load_checkpoint

        imported, note = import_checkpoint(path, calibration)
        return Model(imported.module, imported.params, name, kind, note, load_checkpoint(path).get("abits"))
    from vaqf_compiler.frontend.load import model_program
    from vaqf_compiler.frontend.torch_import import import_program

    if kind == "hf":
        _quiet_transformers()
    imported = import_program(model_program(spec, seed, verbose))
    return Model(imported.module, imported.params, name, kind)


def _quiet_transformers() -> None:
    """transformers draws its own tqdm bars on load; vaqf's progress is enough."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # not installed (hf_program says so), or a version without it: harmless
        pass
