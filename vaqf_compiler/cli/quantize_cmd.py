"""`vaqf quantize`: mark a model's precision (binary or mixed weights, k-bit activations) and calibrate its scales."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from collections.abc import Mapping

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp

from vaqf_compiler import validate
from vaqf_compiler.calibrate import calibrate
from vaqf_compiler.cli.run_cmd import read_input
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.fsutil import write_text_atomically
from vaqf_compiler.interp import input_shape, entry_function
from vaqf_compiler.ir import print_ir
from vaqf_compiler.frontend.load import MODEL_KINDS as MODEL_HELP
from vaqf_compiler.params import attach_sidecar, save_params
from vaqf_compiler.passes.fold_patch_embed import FoldPatchEmbedPass
from vaqf_compiler.passes.assign_pot_rows import assign_rows
from vaqf_compiler.passes.mark_quantization import SCHEMES, MarkQuantizationPass

DESCRIPTION = """\
Quantize a model's vit IR for the accelerator: fold the patch embedding,
mark every tensor's precision (mark-quantization: binary weights and k-bit
activations in the encoder, 16-bit fixed point elsewhere) and calibrate the
scale of every format on sample images with the float reference interpreter.
The result runs on the integer golden model (`vaqf run --mode int`) and goes
on to `vaqf-opt -p vaqf-pipeline{abits=K}`. With --scheme mixed the encoder
weights are k-bit, each row fixed point or power of two (assign-pot-rows at
--pot-ratio), and the result goes on to
`vaqf-opt -p 'vaqf-pipeline{scheme=mixed wbits=K abits=K pot-ratio=R}'`.
docs/quantization.md defines the arithmetic."""

EPILOG = """\
calibration images:
  --calibration X.npy gives real images [N, C, H, W] (normalised as in training).
  Without it, N seeded random images are used: fine to exercise the flow on a
  model with random weights, not for a trained one.

examples:
  vaqf quantize deit_tiny.mlir --abits 8 -o deit_tiny_w1a8.mlir
  vaqf quantize model.mlir --abits 6 --calibration images.npy -o model_w1a6.mlir
  vaqf quantize model.mlir --wbits 16 --abits 16 -o model_w16a16.mlir   # the unquantized baseline
  vaqf quantize model.mlir --scheme mixed --wbits 4 --abits 8 --pot-ratio 0.5 -o model_mixed.mlir
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quantize",
        help="mark binary weights / k-bit activations and calibrate scales",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ir", metavar="MODEL", help="vit IR from `vaqf import` (weights .npz beside it), or " + MODEL_HELP)
    p.add_argument("--abits", type=int, default=8, help="activation bits, 1..16 (default 8)")
    add_scheme_arguments(p)
    p.add_argument("--calibration", metavar="X.npy", type=Path, help="calibration images [N, C, H, W]")
    p.add_argument("--calibration-images", type=int, default=4, help="random images when no --calibration (4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random calibration images (0)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .mlir to write (weights .npz beside it)")
    p.set_defaults(func=run)


def add_scheme_arguments(p: argparse.ArgumentParser) -> None:
    """--scheme, --wbits, --pot-ratio (shared with `vaqf import`)."""
    p.add_argument("--scheme", choices=SCHEMES, default=None,
                   help="vaqf: binary weights (default); mixed: k-bit fixed-point / power-of-two rows")
    p.add_argument("--wbits", type=int, help="vaqf: 1 (default) or 16 (unquantized baseline); mixed: 2..8 (default 4)")
    p.add_argument("--pot-ratio", type=float, help="mixed: the share of power-of-two rows, 0..1 (default 0.5)")


def scheme_marker(scheme: str | None, wbits: int | None, abits: int, pot_ratio: float | None,
                  ) -> tuple[MarkQuantizationPass, float | None]:
    """The marking pass and PoT ratio the options ask for; VaqfError for options that do not fit."""
    scheme = scheme or "vaqf"
    if scheme != "mixed" and pot_ratio is not None:
        raise VaqfError("--pot-ratio belongs to the mixed scheme; add --scheme mixed")
    marker = MarkQuantizationPass(wbits, abits, scheme)
    if scheme != "mixed":
        return marker, None
    ratio = 0.5 if pot_ratio is None else pot_ratio
    if not 0.0 <= ratio <= 1.0:  # also NaN
        raise VaqfError(f"--pot-ratio must be in [0, 1], got {ratio}")
    return marker, ratio


def describe_scheme(marker: MarkQuantizationPass, ratio: float | None) -> str:
    if ratio is None:
        return f"W{marker.weight_bits}A{marker.abits}"
    return f"mixed W{marker.weight_bits}A{marker.abits}, PoT ratio {ratio:g}"


def calibration_images(path: Path | None, shape: tuple[int, ...], count: int, seed: int) -> tuple[np.ndarray, str]:
    """The images of --calibration, checked against the model's input and for finiteness, or `count` seeded
    random ones."""
    if path is not None:
        images = validate.image_batch(read_input(path), shape, f"calibration images {path}")
        validate.finite(images, f"calibration images {path}")
        return images, str(path)
    validate.random_images(count, shape, "--calibration-images")
    images = np.random.default_rng(seed).standard_normal((count, *shape)).astype(np.float32)
    return images, f"{count} seeded random images"


def quantize_module(module: ModuleOp, params: Mapping[str, np.ndarray], marker: MarkQuantizationPass,
                    images: np.ndarray, pot_ratio: float | None = None) -> None:
    """Fold the patch embedding, mark precisions, split mixed weights' rows (at `pot_ratio`),
    calibrate scales: the module is ready for the integer path."""
    FoldPatchEmbedPass().apply(Context(), module)
    marker.apply(Context(), module)
    if marker.scheme == "mixed":
        assign_rows(module, params, 0.5 if pot_ratio is None else pot_ratio)
    calibrate(module, params, images)


def run(args: argparse.Namespace) -> int:
    if args.output.suffix != ".mlir":
        raise VaqfError(f"the output must be a .mlir file, got {args.output}")
    start = time.perf_counter()
    marker, ratio = scheme_marker(args.scheme, args.wbits, args.abits, args.pot_ratio)  # checks before any work
    validate.output_file(args.output, "-o")
    if args.calibration is None:
        validate.count(args.calibration_images, "--calibration-images")
    from vaqf_compiler.cli.model_arg import resolve_model

    model = resolve_model(args.ir, seed=args.seed)
    module, params = model.module, model.params
    shape = input_shape(entry_function(module))
    images, source = calibration_images(args.calibration, shape, args.calibration_images, args.seed)
    quantize_module(module, params, marker, images, ratio)
    sidecar = args.output.with_suffix(".npz")
    attach_sidecar(module, sidecar.name, save_params(sidecar, params))
    write_text_atomically(args.output, print_ir(module))
    print(
        f"{describe_scheme(marker, ratio)}: calibrated on {source}; wrote {args.output} and {sidecar.name}"
        f" in {time.perf_counter() - start:.2f} s"
    )
    return 0
