"""`vaqf import`: a traced ViT (`.pt2` or built-in) to `vit` IR plus its weights sidecar."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


from vaqf_compiler import validate
from vaqf_compiler.calibrate import apply_learned_scales
from vaqf_compiler.cli.quantize_cmd import (
    add_scheme_arguments,
    calibration_images,
    describe_scheme,
    quantize_module,
    scheme_marker,
)
from vaqf_compiler.interp import input_shape
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.fsutil import write_text_atomically
from vaqf_compiler.cli.model_arg import MODEL_HELP, resolve_model
from vaqf_compiler.frontend.load import export_module, model_kind
from vaqf_compiler.frontend.torch_import import ImportedModel, import_program
from vaqf_compiler.ir import print_ir
from vaqf_compiler.models.deit import BUILTIN_CONFIGS
from vaqf_compiler.params import attach_sidecar, save_params
from vaqf_compiler.summary import summarize

EXAMPLE = """\
examples:
  vaqf import --builtin deit-tiny -o deit_tiny.mlir     # writes deit_tiny.mlir + deit_tiny.npz
  vaqf import model.pt2 -o model.mlir                   # a program saved with torch.export.save
  vaqf import hf_vit_dir/ -o vit.mlir                   # a HuggingFace image classifier (save_pretrained)
  vaqf import --checkpoint runs/w1a8.pt -o w1a8.mlir    # a stage of `vaqf train`, with its learned scales
  vaqf import --builtin deit-tiny --wbits 1 --abits 8 -o w1a8.mlir   # import and `vaqf quantize` at once
  vaqf import --builtin deit-tiny --scheme mixed --wbits 4 --abits 8 --pot-ratio 0.5 -o mixed.mlir

A quantized checkpoint (w1a<k>.pt) is imported marked (binary weights, k-bit
activations) with the scales it learned; the 16-bit fixed-point tensors are
calibrated on --calibration images (or seeded random ones). w1a32.pt imports
its binarized weights as a float model; fp.pt the float model. A mixed-scheme
checkpoint (w<b>a<k>-mixed-r<r>.pt) is imported with its latent float weights,
marked mixed (b-bit weights) with the rows split at its PoT ratio r (the split
training ended with) and its learned scales; w<b>a32-mixed-r<r>.pt imports the
latent weights unmarked (`vaqf quantize --scheme mixed --wbits b --pot-ratio r`).

The .pt2 must take one image [1, C, H, W] (batch of one, static shapes) and
return the logits (or a structured output with a `logits` field, as HuggingFace's).
HuggingFace programs and directories need `transformers` installed; --verbose
shows torch's own log when a .pt2 does not load.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import a traced ViT into vit IR (.mlir + .npz weights)",
        description="Import a torch.export-ed Vision Transformer into the vit dialect. "
        "Weights go to a .npz sidecar beside the IR, named after it.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("model", nargs="?", help=MODEL_HELP)
    src.add_argument("--builtin", choices=sorted(BUILTIN_CONFIGS), help="a built-in DeiT with seeded random weights")
    src.add_argument("--checkpoint", type=Path, help="a stage checkpoint of `vaqf train` (fp.pt, w1a32.pt, w1a8.pt ...)")
    p.add_argument("--abits", type=int, help="quantize on import with K-bit activations (as `vaqf quantize`)")
    add_scheme_arguments(p)  # --scheme, --wbits, --pot-ratio: as `vaqf quantize`, need --abits
    p.add_argument("--calibration", metavar="X.npy", type=Path,
                   help="images [N, C, H, W] to calibrate scales (default: 4 seeded random images)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .mlir to write (the .npz goes beside it)")
    p.add_argument("--seed", type=int, default=0, help="weight seed of a built-in model (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not print the IR summary")
    p.add_argument("-v", "--verbose", action="store_true", help="show torch's log when a .pt2 does not load")
    p.set_defaults(func=run)


def import_checkpoint(path: Path, calibration: Path | None) -> tuple[ImportedModel, str]:
    """A `vaqf train` stage as vit IR: quantized stages come marked, with their learned scales.

    vaqf stages export their binarized weights; mixed stages their latent float
    weights, from which assign-pot-rows recomputes the split (and the codes) training used.
    """
    from vaqf_compiler.quant.checkpoint import load_checkpoint, load_model, weight_scheme
    from vaqf_compiler.quant.qmodel import export_float_deit

    ckpt = load_checkpoint(path)
    scheme, wbits, pot_ratio = weight_scheme(ckpt)
    network = load_model(path)
    float_model = export_float_deit(network)
    cfg = float_model.cfg
    imported = import_program(export_module(float_model.eval(), (cfg.in_channels, *cfg.image_size)))
    abits = ckpt.get("abits")
    if abits is None:
        if scheme == "mixed":
            return imported, (f"{ckpt['stage']}: latent float weights, float activations; quantize with"
                              f" `vaqf quantize --scheme mixed --wbits {wbits} --pot-ratio {pot_ratio:g} --abits K`")
        return imported, f"{ckpt['stage']}: float activations; `vaqf quantize` picks a precision"
    if scheme == "mixed":
        marker, ratio = scheme_marker("mixed", wbits, abits, pot_ratio)
    else:
        marker, ratio = scheme_marker("vaqf", 1, abits, None)
    module = imported.module
    images, source = calibration_images(calibration, (cfg.in_channels, *cfg.image_size), 4, 0)
    quantize_module(module, imported.params, marker, images, ratio)
    count = apply_learned_scales(module, ckpt["quant_spec"])
    return imported, (f"{ckpt['stage']}: {describe_scheme(marker, ratio)}, {count} learned activation scales;"
                      f" 16-bit tensors calibrated on {source}")


def run(args: argparse.Namespace) -> int:
    out: Path = args.output
    if out.suffix != ".mlir":
        raise VaqfError(f"the output must be a .mlir file, got {out}")
    validate.output_file(out, "-o")
    start = time.perf_counter()
    marker, ratio = None, None
    given = [f"--{name.replace('_', '-')}" for name in ("scheme", "wbits", "abits", "pot_ratio")
             if getattr(args, name) is not None]
    if given:
        if args.checkpoint is not None:
            raise VaqfError(f"a checkpoint carries its own precision; drop {'/'.join(given)}")
        if args.abits is None:
            verb = "needs" if len(given) == 1 else "need"
            raise VaqfError(f"{'/'.join(given)} {verb} --abits to quantize on import (e.g. --wbits 1 --abits 8)")
        marker, ratio = scheme_marker(args.scheme, args.wbits, args.abits, args.pot_ratio)
    spec = args.builtin or (str(args.checkpoint) if args.checkpoint is not None else args.model)
    if args.checkpoint is not None and model_kind(spec) != "checkpoint":
        raise VaqfError(f"--checkpoint {spec}: expected a `vaqf train` checkpoint (.pt)")
    if marker is not None and model_kind(spec) == "checkpoint":
        raise VaqfError(f"a checkpoint carries its own precision; drop {'/'.join(given)}")
    model = resolve_model(spec, seed=args.seed, calibration=args.calibration, verbose=args.verbose)
    traced = time.perf_counter()
    note = model.note
    if marker is not None:
        fn = model.module.body.ops.first
        images, source = calibration_images(args.calibration, input_shape(fn), 4, args.seed)
        quantize_module(model.module, model.params, marker, images, ratio)
        note = f"{describe_scheme(marker, ratio)}: calibrated on {source}"
    model.module.verify()
    imported = time.perf_counter()
    sidecar = out.with_suffix(".npz")
    attach_sidecar(model.module, sidecar.name, save_params(sidecar, model.params))
    write_text_atomically(out, print_ir(model.module))
    done = time.perf_counter()
    if not args.quiet:
        print(summarize(model.module))
    if note:
        print(note)
    print(
        f"wrote {out} ({out.stat().st_size / 1024:.1f} KiB) and {sidecar.name} "
        f"({sidecar.stat().st_size / 2**20:.1f} MiB) in {done - start:.2f} s "
        f"(read and import {traced - start:.2f} s, quantize and verify {imported - traced:.2f} s, write {done - imported:.2f} s)"
    )
    return 0
