"""Get an ExportedProgram: trace a live module, load a `.pt2`, or build a built-in model."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import re
import sys
import warnings
from collections.abc import Iterator
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


@contextlib.contextmanager
def _captured_torch_log(records: list[logging.LogRecord]) -> Iterator[None]:
    """Collect what torch logs (its deserialization tracebacks) instead of printing it."""

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger("torch")
    loggers = [root] + [lg for name, lg in logging.Logger.manager.loggerDict.items()
                        if name.startswith("torch.") and isinstance(lg, logging.Logger)]
    saved = [(lg, lg.handlers[:], lg.propagate) for lg in loggers]
    keep = Keep(logging.WARNING)
    for lg in loggers:
        lg.handlers = []
        lg.propagate = lg is not root
    root.addHandler(keep)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, handlers, propagate in saved:
            lg.handlers = handlers
            lg.propagate = propagate


def _real_cause(error: Exception, records: list[logging.LogRecord]) -> str:
    """The last line of the deepest error torch reported (its own message only says "see the warnings above")."""
    texts = []
    for r in records:
        if r.exc_info and r.exc_info[1] is not None:
            texts.append(f"{type(r.exc_info[1]).__name__}: {r.exc_info[1]}")
        else:
            texts.append(r.getMessage())
    texts.append(str(error))
    for text in reversed(texts):
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        useful = [ln for ln in lines if "warnings above" not in ln and not ln.startswith(("Traceback", "File "))]
        if useful:
            return useful[-1]
    return type(error).__name__


def register_pytree_classes() -> bool:
    """Register the output classes a HuggingFace `.pt2` names (ImageClassifierOutput, ...).

    `transformers` is lazy: only importing `transformers.modeling_outputs` registers
    them with torch's pytree. Returns whether transformers is installed.
    """
    if importlib.util.find_spec("transformers") is None:
        return False
    try:
        import transformers.modeling_outputs  # noqa: F401
    except Exception:  # a broken install: loading reports what is missing
        return False
    return True


_UNREGISTERED = re.compile(r"Deserializing ([\w.]+) in pytree is not registered")


def _register_named_class(cause: str) -> bool:
    """Import the transformers module that defines the output class a `.pt2` names (and registers it)."""
    m = _UNREGISTERED.search(cause)
    if m is None or not m.group(1).startswith("transformers."):
        return False
    module = m.group(1).rsplit(".", 1)[0]
    try:
        importlib.import_module(module)
    except Exception:
        return False
    return True


def load_program(path: Path, verbose: bool = False) -> ExportedProgram:
    """Load a `.pt2` saved with `torch.export.save`.

    HuggingFace models return output classes (`ImageClassifierOutput`, DeiT's
    `...WithTeacherOutput`) that transformers registers as pytree nodes only
    when their module is imported: `transformers.modeling_outputs` is imported
    first, and the module of a class the file still names is imported on the
    first failure. torch logs its deserialization tracebacks as warnings; they
    are kept out of the terminal (printed with `verbose`) and the one-line
    error names the real cause.
    """
    if not path.is_file():
        raise VaqfError(f"model file {path} not found")
    if path.suffix != ".pt2":
        raise VaqfError(f"{path}: expected a .pt2 file saved with torch.export.save")
    has_transformers = register_pytree_classes()
    tried: set[str] = set()
    while True:
        records: list[logging.LogRecord] = []
        try:
            with _captured_torch_log(records):
                return torch.export.load(str(path))
        except Exception as e:
            cause = _real_cause(e, records)
            if has_transformers and cause not in tried and _register_named_class(cause):
                tried.add(cause)
                continue
            if verbose:
                for r in records:
                    print(logging.Formatter("torch: %(message)s").format(r), file=sys.stderr)
            raise VaqfError(_load_error(path, cause, has_transformers, verbose or not records)) from None


def _load_error(path: Path, cause: str, has_transformers: bool, quiet_hint: bool) -> str:
    if "transformers." in cause or _UNREGISTERED.search(cause):
        if not has_transformers:
            return (f"{path} was exported from a HuggingFace transformers model, which needs the"
                    " `transformers` package to load; install it with `pip install 'vaqf[hf]'`")
        return (f"cannot load {path}: {cause}; export the model with return_dict=False (it then returns a"
                " plain tuple) or give vaqf the save_pretrained directory instead")
    hint = "" if quiet_hint else "; --verbose prints torch's log"
    return f"cannot load {path} as a torch.export program (.pt2): {cause}{hint}"


# HuggingFace architectures whose forward the importer maps (DeiT/ViT image classifiers); other
# `*ForImageClassification` classes are traced too, and what vaqf cannot map is named by the importer.
HF_ARCHITECTURES = ("DeiTForImageClassification", "DeiTForImageClassificationWithTeacher",
                    "ViTForImageClassification")
_HF_DEFAULT = {"deit": "DeiTForImageClassification", "vit": "ViTForImageClassification"}


def is_hf_directory(path: Path) -> bool:
    """A directory written by `save_pretrained` (it has a config.json)."""
    return path.is_dir() and (path / "config.json").is_file()


def _hf_class(path: Path, config: dict) -> str:
    """The transformers class to load `path` with: a known architecture, or any image classifier it names."""
    model_type = config.get("model_type")
    archs = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    arch = next((a for a in archs if a in HF_ARCHITECTURES), None)
    arch = arch or next((a for a in archs if "ForImageClassification" in a), None)
    if arch is None and not archs:
        arch = _HF_DEFAULT.get(str(model_type))
    if arch is None:
        found = ", ".join(archs) or f"model_type {model_type!r} without `architectures`"
        raise VaqfError(f"{path}: {found} is not supported (not an image classifier); vaqf compiles"
                        f" {', '.join(HF_ARCHITECTURES)}"
                        " (and traces other *ForImageClassification models)")
    return arch


def hf_program(path: Path) -> ExportedProgram:
    """Trace a HuggingFace image classifier saved with `save_pretrained` (local files only, no network)."""
    import json

    if not is_hf_directory(path):
        raise VaqfError(f"{path} is not a HuggingFace model directory (no config.json); save one with "
                        "model.save_pretrained(DIR)")
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise VaqfError(f"cannot read {path / 'config.json'}: {e}") from None
    if not isinstance(config, dict):
        raise VaqfError(f"{path / 'config.json'}: expected a JSON object")
    arch = _hf_class(path, config)
    if importlib.util.find_spec("transformers") is None:
        raise VaqfError(f"{path} is a HuggingFace model directory; loading it needs the `transformers` package: "
                        "pip install 'vaqf[hf]'")
    import transformers

    cls = getattr(transformers, arch, None)
    if cls is None:
        raise VaqfError(f"{path}: transformers {transformers.__version__} has no class {arch}")
    try:
        model = cls.from_pretrained(str(path), local_files_only=True)
    except Exception as e:  # missing weight file, bad safetensors, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VaqfError(f"cannot load {path} with transformers.{cls.__name__}: {first}") from None
    cfg = model.config
    size = cfg.image_size
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[-1]))
    return export_module(model, (cfg.num_channels, h, w))


# What a MODEL argument may be (every subcommand that takes a model reads it with cli/model_arg.py).
MODEL_KINDS = ("a built-in name (" + ", ".join(BUILTIN_CONFIGS) + "), a .pt2 file (torch.export.save), a"
               " HuggingFace model directory (save_pretrained), a `vaqf train` checkpoint (.pt) or vit IR"
               " (.mlir from `vaqf import`)")


def model_kind(spec: str) -> str:
    """'builtin', 'pt2', 'hf', 'checkpoint' or 'mlir': a cheap check of a MODEL argument before any slow work."""
    if spec in BUILTIN_CONFIGS:
        return "builtin"
    path = Path(spec)
    if path.is_dir():
        if not is_hf_directory(path):
            raise VaqfError(f"{spec} is not a HuggingFace model directory (no config.json); save one with "
                            "model.save_pretrained(DIR)")
        return "hf"
    kind = {".pt2": "pt2", ".pt": "checkpoint", ".mlir": "mlir"}.get(path.suffix)
    if not path.exists():
        if kind == "checkpoint":
            raise VaqfError(f"checkpoint {spec} not found")
        raise VaqfError(f"model {spec!r} not found: give {MODEL_KINDS}")
    if kind is None:
        raise VaqfError(f"{spec}: not a model vaqf reads; give {MODEL_KINDS}")
    return kind


def check_model_spec(spec: str) -> None:
    """`model_kind` for callers that only need the check."""
    model_kind(spec)


def model_program(spec: str, seed: int = 0, verbose: bool = False) -> ExportedProgram:
    """A built-in name, a `.pt2` file or a HuggingFace model directory, as an ExportedProgram."""
    kind = model_kind(spec)
    if kind == "builtin":
        return builtin_program(spec, seed)
    if kind == "hf":
        return hf_program(Path(spec))
    if kind == "pt2":
        return load_program(Path(spec), verbose)
    raise VaqfError(f"{spec}: a {'checkpoint' if kind == 'checkpoint' else 'vit IR file'} is not a traced"
                    " program; read it with cli/model_arg.resolve_model")
