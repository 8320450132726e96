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


# HuggingFace architectures whose forward the importer maps (DeiT/ViT image classifiers).
HF_ARCHITECTURES = ("DeiTForImageClassification", "ViTForImageClassification")


def is_hf_directory(path: Path) -> bool:
    """A directory written by `save_pretrained` (it has a config.json)."""
    return path.is_dir() and (path / "config.json").is_file()


def hf_program(path: Path) -> ExportedProgram:
    """Trace a HuggingFace DeiT/ViT classifier saved with `save_pretrained` (local files only, no network)."""
    import json

    if not is_hf_directory(path):
        raise VaqfError(f"{path} is not a HuggingFace model directory (no config.json); save one with "
                        "model.save_pretrained(DIR)")
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise VaqfError(f"cannot read {path / 'config.json'}: {e}") from None
    model_type = config.get("model_type")
    archs = config.get("architectures") or []
    arch = next((a for a in archs if a in HF_ARCHITECTURES), None)
    if model_type not in ("deit", "vit") or (archs and arch is None):
        found = ", ".join(archs) or f"model_type {model_type!r}"
        raise VaqfError(f"{path}: {found} is not supported; vaqf compiles {' and '.join(HF_ARCHITECTURES)} "
                        "(config model_type 'deit' or 'vit')")
    if importlib.util.find_spec("transformers") is None:
        raise VaqfError(f"{path} is a HuggingFace model directory; loading it needs the `transformers` package: "
                        "pip install 'vaqf[hf]'")
    import transformers

    cls = getattr(transformers, arch or ("DeiTForImageClassification" if model_type == "deit"
                                         else "ViTForImageClassification"))
    try:
        model = cls.from_pretrained(str(path), local_files_only=True)
    except Exception as e:  # missing weight file, bad safetensors, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VaqfError(f"cannot load {path} with transformers.{cls.__name__}: {first}") from None
    cfg = model.config
    size = cfg.image_size if isinstance(cfg.image_size, int) else cfg.image_size[0]
    return export_module(model, (cfg.num_channels, size, size))


def check_model_spec(spec: str) -> None:
    """A cheap check that `spec` names a built-in model or an existing path (before any slow work)."""
    if spec not in BUILTIN_CONFIGS and not Path(spec).exists():
        raise VaqfError(f"model {spec!r} not found: give a built-in name ({', '.join(BUILTIN_CONFIGS)}), a .pt2 "
                        "file, a `vaqf train` checkpoint (.pt) or a HuggingFace model directory")
    if Path(spec).is_dir() and not is_hf_directory(Path(spec)):
        raise VaqfError(f"{spec} is not a HuggingFace model directory (no config.json); save one with "
                        "model.save_pretrained(DIR)")


def model_program(spec: str, seed: int = 0) -> ExportedProgram:
    """A built-in name, a `.pt2` file or a HuggingFace model directory, as an ExportedProgram."""
    if spec in BUILTIN_CONFIGS:
        return builtin_program(spec, seed)
    path = Path(spec)
    if path.is_dir():
        return hf_program(path)
    check_model_spec(spec)
    if path.suffix == ".pt2":
        return load_program(path)
    raise VaqfError(f"{spec}: not a model vaqf reads; give a .pt2 file (torch.export.save), a `vaqf train` "
                    "checkpoint (.pt) or a HuggingFace model directory (save_pretrained)")
