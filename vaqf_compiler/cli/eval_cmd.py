"""`vaqf eval`: top-1/top-5 of a model on a data set in float, fake-quant and the accelerator's exact integer arithmetic."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from xdsl.dialects.builtin import ModuleOp

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.eval_data import DIGITS, EvalData, load_eval_data, stack
from vaqf_compiler.evaluate import Evaluation, evaluate
from vaqf_compiler.fsutil import write_text_atomically
from vaqf_compiler.interp import entry_function, input_shape
from vaqf_compiler.interp.batched import MODES, BatchedReference
from vaqf_compiler.intconst import INPUT_FORMAT_ATTR
from vaqf_compiler.progress import Progress
from vaqf_compiler.quant.data import shard_indices
from vaqf_compiler.quant.distributed import DistEnv, init_distributed, shutdown

DESCRIPTION = """\
Score a model on a labelled data set, side by side in three modes: float (the
model with float activations), fake-quant (float, with the accelerator's
weights and every k-bit activation rounded to its step) and int (the exact
integer arithmetic of the accelerator and its host: bit for bit the codes of
`vaqf run --mode int`, computed a batch at a time by the batched reference in
PyTorch). Prints top-1, top-5, how often each mode's top-1 agrees with float,
and images per second."""

EPILOG = """\
model:
  a built-in name (deit-tiny, deit-small, deit-base), a .pt2, a HuggingFace
  DeiT/ViT directory, a `vaqf train` checkpoint (.pt; a quantized stage keeps
  its precision and learned scales) or a .mlir from `vaqf import`/`vaqf quantize`
  (weights .npz beside it). A float model is quantized first, as `vaqf quantize`
  does (--abits, --scheme, --wbits, --pot-ratio; default W1A8), with its scales
  calibrated on --calibration-images images of the data set's training split.

data:
  digits              scikit-learn's digits, the test split `vaqf train` holds out
                      (one-channel models, e.g. those `vaqf train` makes)
  DIR                 one sub-folder of images per class (sorted names = class
                      indices), or ImageNet style DIR/train/<class>/ + DIR/val/<class>/
                      (val/ is scored, train/ calibrates); RGB, ImageNet mean/std
  DIR --labels F.csv  rows path,label (path relative to DIR; label an index or a
                      class name)

scale-out:
  torchrun --nproc_per_node N -m vaqf_compiler.cli.main eval ... shards the images
  over the processes (gloo on CPU, nccl with --device cuda) and sums the counts.

examples:
  vaqf eval runs/digits/w1a8.pt --data digits
  vaqf eval runs/digits/w1a4.pt --data digits --mode int --batch 128 --threads 1 --json w1a4.json
  vaqf eval deit-tiny --data /data/imagenet --abits 6 --limit 1000 --device cuda
  vaqf eval w1a8.mlir --data images/ --labels images/labels.csv
"""

DEFAULT_ABITS = 8


def register(sub: argparse._SubParsersAction) -> None:
    from vaqf_compiler.cli.quantize_cmd import add_scheme_arguments

    p = sub.add_parser(
        "eval",
        help="top-1/top-5 on a data set: float, fake-quant and the exact integer arithmetic side by side",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="built-in name, .pt2, HF directory, vaqf train .pt, or .mlir")
    p.add_argument("--data", required=True, metavar="DIR|digits", help="the labelled images (see below)")
    p.add_argument("--labels", type=Path, metavar="FILE.csv", help="labels of the images of DIR: path,label rows")
    p.add_argument("--mode", default=",".join(MODES), metavar="MODE[,MODE...]",
                   help=f"any of {', '.join(MODES)} (default: all three)")
    p.add_argument("--limit", type=int, metavar="N", help="score only the first N images")
    p.add_argument("--batch", type=int, default=32, metavar="B", help="images per batch (default 32)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="default cpu")
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch threads per process (default: torch's, one per core; on a busy machine 1 is faster)")
    p.add_argument("--abits", type=int, help=f"quantize a float model with K-bit activations (default {DEFAULT_ABITS})")
    add_scheme_arguments(p)
    p.add_argument("--calibration-images", type=int, default=16, metavar="N",
                   help="images of the training split that calibrate a float model's scales (default 16)")
    p.add_argument("--seed", type=int, help="digits split and built-in weights seed (default: the checkpoint's, else 0)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise VaqfError(f"--mode {text!r}: choose from {', '.join(MODES)} (comma-separated)")
    return sorted(set(modes), key=MODES.index)


def _check_numbers(args: argparse.Namespace) -> None:
    if args.batch < 1:
        raise VaqfError(f"--batch must be >= 1, got {args.batch}")
    if args.limit is not None and args.limit < 1:
        raise VaqfError(f"--limit must be >= 1, got {args.limit}")
    if args.threads is not None and args.threads < 1:
        raise VaqfError(f"--threads must be >= 1, got {args.threads}")
    if args.calibration_images < 1:
        raise VaqfError(f"--calibration-images must be >= 1, got {args.calibration_images}")
    if args.labels is not None and not args.labels.is_file():
        raise VaqfError(f"--labels {args.labels} not found")


def _checkpoint_seed(spec: str) -> int | None:
    path = Path(spec)
    if path.suffix != ".pt" or not path.is_file():
        return None
    from vaqf_compiler.quant.checkpoint import load_checkpoint

    return load_checkpoint(path).get("run", {}).get("seed")


def _is_quantized(module: ModuleOp) -> bool:
    return INPUT_FORMAT_ATTR in entry_function(module).attributes


def _image_shape_of(spec: str, seed: int) -> tuple[int, ...]:
    """The input shape [C, H, W] of a model, before the data set (and its calibration images) is read."""
    path = Path(spec)
    if path.suffix == ".mlir":
        from vaqf_compiler.diagnostics import read_ir_file

        return input_shape(entry_function(read_ir_file(path)))
    if path.suffix == ".pt" and path.is_file():
        from vaqf_compiler.quant.checkpoint import load_checkpoint
        from vaqf_compiler.quant.qmodel import config_from_dict

        cfg = config_from_dict(load_checkpoint(path)["model_config"])
        return (cfg.in_channels, *cfg.image_size)
    return ()  # known after import


def load_model(args: argparse.Namespace, data: EvalData | None, seed: int, needs_int: bool
               ) -> tuple[ModuleOp, dict, EvalData | None, str]:
    """(module, params, data, note): MODEL resolved as `vaqf run`/`vaqf compile` do, quantized if it must be."""
    from vaqf_compiler.cli.quantize_cmd import describe_scheme, quantize_module, scheme_marker
    from vaqf_compiler.cli.model_arg import resolve_model

    scheme_given = [f"--{n.replace('_', '-')}" for n in ("abits", "scheme", "wbits", "pot_ratio")
                    if getattr(args, n) is not None]
    with tempfile.TemporaryDirectory(prefix="vaqf-eval-") as tmp:
        calibration = None
        if data is not None:  # checkpoints calibrate their 16-bit tensors on the data set, not on noise
            calibration = Path(tmp) / "calibration.npy"
            np.save(calibration, stack(data.calibration, args.calibration_images).numpy())
        # MODEL as every command takes it: built-in, .pt2, HF directory, vaqf train checkpoint, .mlir
        model = resolve_model(args.model, seed=seed, calibration=calibration)
        module, params, note = model.module, model.params, model.note
        if calibration is not None:
            note = note.replace(str(calibration), f"{min(args.calibration_images, len(data.calibration))} "
                                f"images ({data.calibration_name})")
    shape = input_shape(entry_function(module))
    if data is None:
        data = load_eval_data(args.data, shape, args.labels, args.calibration_images, seed)
    if _is_quantized(module):
        if scheme_given:
            raise VaqfError(f"{args.model} is already quantized; drop {'/'.join(scheme_given)} "
                            "(or give its float model)")
        return module, params, data, note or "quantized"
    if not needs_int:
        return module, params, data, note or "float"
    marker, ratio = scheme_marker(args.scheme, args.wbits, DEFAULT_ABITS if args.abits is None else args.abits,
                                  args.pot_ratio)
    images = stack(data.calibration, args.calibration_images).numpy()
    quantize_module(module, params, marker, images, ratio)
    return module, params, data, f"{describe_scheme(marker, ratio)}, calibrated on {len(images)} images ({data.calibration_name})"


def format_table(ev: Evaluation) -> str:
    rows = [("mode", "top-1", f"top-{ev.k}", "agrees with float", "images/s")]
    for r in ev.results:
        agree = "-" if r.agreement is None else f"{100 * r.agreement:.2f} %"
        rows.append((r.mode, f"{100 * r.top1:.2f} %", f"{100 * r.top5:.2f} %", agree, f"{r.images_per_s:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    modes = parse_modes(args.mode)
    _check_numbers(args)
    from vaqf_compiler.frontend.load import check_model_spec

    if Path(args.model).suffix != ".mlir":
        check_model_spec(args.model)
    elif not Path(args.model).is_file():
        raise VaqfError(f"model file {args.model} not found")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    env: DistEnv = init_distributed(args.device)
    try:
        return _run(args, modes, env)
    finally:
        shutdown(env)


def _run(args: argparse.Namespace, modes: list[str], env: DistEnv) -> int:
    progress = Progress(2, None if args.quiet or not env.is_main else sys.stderr)
    seed = args.seed if args.seed is not None else (_checkpoint_seed(args.model) or 0)
    shape = _image_shape_of(args.model, seed)
    progress.start("load", f"{args.model} and --data {args.data}")
    data = load_eval_data(args.data, shape, args.labels, args.calibration_images, seed) if shape else None
    module, params, data, note = load_model(args, data, seed, needs_int=modes != ["float"])
    assert data is not None
    references = {m: BatchedReference(module, params, m, env.device.type) for m in modes}
    count = len(data.images) if args.limit is None else min(args.limit, len(data.images))
    progress.done(f"{note}; {count} images, {len(data.classes)} classes")

    indices = shard_indices(count, env.rank, env.world, shuffle=False)
    progress.start("evaluate", f"{', '.join(modes)} on {data.name}, batch {args.batch}, {env.device}")
    ev = evaluate(references, data.images, indices, args.batch, env, progress, total=count)
    progress.done()
    if not env.is_main:
        return 0
    threads = torch.get_num_threads()
    where = f"{env.device.type}, {threads} torch thread(s)" + (f" x {env.world} processes" if env.world > 1 else "")
    print(f"{args.model} ({note}) on {data.name}: {ev.images} images, batch {args.batch}, {where}")
    print(format_table(ev))
    sys.stdout.flush()
    if args.json is not None:
        doc = {"model": args.model, "model_note": note, "data": data.name, "images": ev.images,
               "classes": len(data.classes), "top_k": ev.k, "batch": args.batch, "device": env.device.type,
               "threads": threads, "processes": env.world, "modes": {r.mode: asdict(r) for r in ev.results}}
        try:
            write_text_atomically(args.json, json.dumps(doc, indent=2) + "\n")
        except OSError as e:
            raise VaqfError(f"cannot write {args.json}: {' '.join(str(e).split())}") from None
    return 0
