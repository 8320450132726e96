"""Get an ExportedProgram: trace a live module, load a `.pt2`, or build a built-in model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch.export import ExportedProgram

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.models.deit import BUILTIN_CONFIGS, build_deit


def export_module(model: torch.nn.Module, image_shape: tuple[int, int, int]) -> ExportedProgram:
    """Trace `model` (in eval mode) on one image of shape [C, H, W]."""
    example = torch.zeros(1, *image_shape)
    try:
        return torch.export.export(model.eval(), (example,))
    except Exception as e:  # torch's tracing errors are many and long; keep the first line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VaqfError(f"torch.export failed on {type(model).__name__}: {first}") from None


def builtin_program(name: str, seed: int = 0) -> ExportedProgram:
    if name not in BUILTIN_CONFIGS:
        raise VaqfError(f"unknown built-in model {name!r}; choose one of: {', '.join(BUILTIN_CONFIGS)}")
    model = build_deit(name, seed=seed)
    cfg = model.cfg
    return export_module(model, (cfg.in_channels, *cfg.image_size))


def _needs_transformers(error: Exception) -> bool:
    text = str(error)
    return "transformers" in text or "pytree" in text.lower() or "not registered" in text


def load_program(path: Path) -> ExportedProgram:
    """Load a `.pt2` saved with `torch.export.save`.

    HuggingFace models return output classes that `transformers` registers as
    pytree nodes on import, so it is imported first when installed.
    """
    if not path.is_file():
        raise VaqfError(f"model file {path} not found")
    has_transformers = importlib.util.find_spec("transformers") is not None
    if has_transformers:
        import transformers  # noqa: F401  (registers HF output classes with pytree)
    try:
        return torch.export.load(str(path))
    except Exception as e:
        if not has_transformers and _needs_transformers(e):
            raise VaqfError(
                f"{path} was exported from a HuggingFace transformers model, which needs the"
                " `transformers` package to load; install it with `pip install 'vaqf[hf]'`"
            ) from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VaqfError(f"cannot load {path} as a torch.export program (.pt2): {first}") from None
