"""Training checkpoints: one file per stage (fp.pt, w1a32.pt, w1a8.pt, w4a8-mixed-r0.5.pt, ...) plus `partial.pt`.

A checkpoint is a `torch.save`d dict of plain values and tensors (loadable
with `weights_only=True`)::

    format "vaqf-train", version 1
    stage        "fp" | "w1a32" | "w1a<k>" | "w<b>a32-mixed-r<r>" | "w<b>a<k>-mixed-r<r>"
    scheme       "float" (fp) | "vaqf" (binary weights) | "mixed" (fixed-point + PoT rows);
                 absent in older checkpoints: "float" if wbits is 32, else "vaqf"
    wbits, abits 32/None (fp), 1/None (w1a32), 1/k; mixed: b/None, b/k (b in 2..8)
    pot_ratio    the mixed scheme's PoT ratio r in [0, 1] (None otherwise)
    complete     True for a finished stage; partial.pt holds an unfinished one
    epoch        epochs done in this stage
    model_config the DeiTConfig as a dict
    run          what the stages must share to be resumed: model name, data, classes, seed
    settings     the stage's epochs, lr, batch size and world size (checked to resume mid-stage)
    state_dict   the model (DeiT for fp, QuantDeiT otherwise); optimizer (partial only)
    top1, wall_s test accuracy and training time of the stage (complete only)
    quant_spec   `qmodel.quant_spec` of a quantized stage (None for fp)

Files are written atomically (temporary file, then rename). `load_model`
rebuilds the trained network of a stage checkpoint.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.fsutil import atomic_output
from vaqf_compiler.models.deit import DeiT
from vaqf_compiler.quant.qmodel import QuantDeiT, config_from_dict

FORMAT, VERSION = "vaqf-train", 1
PARTIAL = "partial.pt"


def stage_file(stage: str) -> str:
    return f"{stage}.pt"


def save_checkpoint(path: Path, payload: dict) -> None:
    payload = {"format": FORMAT, "version": VERSION, **payload}
    try:
        with atomic_output(Path(path), "wb") as f:
            torch.save(payload, f)
    except OSError as e:
        raise VaqfError(f"cannot write checkpoint {path}: {' '.join(str(e).split())}") from None


def load_checkpoint(path: Path) -> dict:
    """A checkpoint written by `save_checkpoint`, else a VaqfError."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise VaqfError(f"checkpoint {path} not found") from None
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise VaqfError(f"cannot read checkpoint {path}: {first}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise VaqfError(f"{path} is not a vaqf training checkpoint")
    if ckpt.get("version") != VERSION:
        raise VaqfError(f"checkpoint {path} has version {ckpt.get('version')}; this vaqf reads version {VERSION}")
    return ckpt


def _show(value: object) -> str:
    if isinstance(value, list | tuple):
        return "x".join(map(str, value)) if all(isinstance(v, int) for v in value) and len(value) <= 4 else str(value)
    return repr(value) if isinstance(value, str) else str(value)


def first_mismatch(saved: dict, wanted: dict) -> str | None:
    """'key=saved (this run: wanted)' for the first key whose values differ, else None."""
    for key, want in wanted.items():
        have = saved.get(key)
        if isinstance(have, tuple):
            have = list(have)
        if isinstance(want, tuple):
            want = list(want)
        if have != want:
            return f"{key}={_show(have)} (this run: {_show(want)})"
    return None


def check_matches(path: Path, ckpt: dict, model_config: dict, run: dict, settings: dict | None = None) -> None:
    """VaqfError naming the first difference between the checkpoint and this run."""
    what = (
        ("model", ckpt.get("model_config", {}), model_config),
        ("run", ckpt.get("run", {}), run),
        ("training", ckpt.get("settings", {}), settings or {}),
    )
    for label, saved, wanted in what:
        diff = first_mismatch(saved, wanted)
        if diff:
            raise VaqfError(
                f"checkpoint {path} is of another {label} configuration: {diff}; "
                "use another --out or leave out --resume"
            )


def weight_scheme(ckpt: dict) -> tuple[str, int, float | None]:
    """(scheme, wbits, pot_ratio) of a checkpoint, older ones (no "scheme") included."""
    wbits = int(ckpt["wbits"])
    scheme = ckpt.get("scheme") or ("float" if wbits == 32 else "vaqf")
    ratio = ckpt.get("pot_ratio")
    return scheme, wbits, None if ratio is None else float(ratio)


def load_model(path: Path) -> DeiT | QuantDeiT:
    """The network of a stage checkpoint, in eval mode: a DeiT for fp.pt, else a QuantDeiT of its scheme."""
    ckpt = load_checkpoint(Path(path))
    cfg = config_from_dict(ckpt["model_config"])
    scheme, wbits, ratio = weight_scheme(ckpt)
    if scheme == "float":
        model: DeiT | QuantDeiT = DeiT(cfg)
    else:
        try:
            model = QuantDeiT(cfg, ckpt["abits"], scheme=scheme, wbits=wbits, pot_ratio=ratio)
        except ValueError as e:
            raise VaqfError(f"checkpoint {path}: {e}") from None
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()
