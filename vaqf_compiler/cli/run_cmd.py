"""`vaqf run`: run a `vit` IR module on images with the numpy reference interpreter."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from vaqf_compiler import validate
from vaqf_compiler.diagnostics import read_ir_file
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.fsutil import write_atomically
from vaqf_compiler.interp import MODES, Interpreter
from vaqf_compiler.params import load_params

DESCRIPTION = """\
Run a model's vit IR on one image or a batch with the numpy reference
interpreter (float64 inside, float32 logits out) and print the top-1 class
of each image. The weights come from the sidecar .npz the module names
(attribute vit.weights, beside the .mlir)."""

EPILOG = """\
input:
  a .npy of float values, either one image [C, H, W] or a batch [N, C, H, W];
  [C, H, W] must equal the shape of the function's image argument. The image
  is used as is: normalise it the way the model was trained.

output (-o):
  a float32 .npy of logits, [classes] for one image or [N, classes] for a batch.

examples:
  vaqf run deit_tiny.mlir --input images.npy -o logits.npy
  vaqf run deit_tiny_w1a8.mlir --input images.npy --mode int   # integer golden model
"""

NPY_MAGIC = b"\x93NUMPY"

# Top-1 classes printed at most; the rest are in the -o file.
MAX_PRINTED = 16


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="run vit IR on images with the reference interpreter",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ir", metavar="MODEL.mlir", type=Path, help="the vit IR module (its weights .npz beside it)")
    p.add_argument(
        "--input", "-i", metavar="X.npy", type=Path, required=True, help="image [C,H,W] or batch [N,C,H,W]"
    )
    p.add_argument("-o", "--output", metavar="LOGITS.npy", type=Path, help="where to write the logits (.npy)")
    p.add_argument(
        "--mode",
        choices=sorted(MODES),
        default="float",
        help="float: the model in float64 (default); int: the exact integer arithmetic of the accelerator"
        " (needs a quantized, calibrated module: see `vaqf quantize`)",
    )
    p.set_defaults(func=run)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def read_input(path: Path) -> np.ndarray:
    if not path.is_file():
        raise VaqfError(f"input file {path} not found")
    try:
        with open(path, "rb") as f:
            magic = f.read(len(NPY_MAGIC))
            if magic != NPY_MAGIC:
                kind = "an .npz archive" if magic.startswith(b"PK") else "not a .npy file"
                raise VaqfError(f"input {path} is {kind}; give one array saved with numpy.save")
            f.seek(0)
            x = np.load(f, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise VaqfError(f"cannot read input {path}: {_one_line(e)}") from None
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise VaqfError(f"input {path} has dtype {x.dtype}; expected real numbers")
    return x


def run(args: argparse.Namespace) -> int:
    if args.output is not None:
        validate.output_file(args.output, "-o")
    module = read_ir_file(args.ir)
    x = read_input(args.input)
    interp = Interpreter(module, load_params(module, args.ir), args.mode)
    batch = x.shape != interp.input_shape
    images = validate.image_batch(x, interp.input_shape, f"input {args.input} (for {args.ir})")
    logits = np.stack([interp.run(img) for img in images])
    if not np.all(np.isfinite(logits)):
        print("vaqf run: warning: some logits are not finite", file=sys.stderr)

    out = logits if batch else logits[0]
    if args.output is not None:
        try:
            # np.save(path) would append .npy to other names; write to the file object.
            write_atomically(args.output, lambda f: np.save(f, out))
        except OSError as e:
            raise VaqfError(f"cannot write {args.output}: {_one_line(e)}") from None

    top1 = logits.reshape(len(logits), -1).argmax(axis=1).tolist()
    shown = ", ".join(map(str, top1[:MAX_PRINTED])) + (", ..." if len(top1) > MAX_PRINTED else "")
    noun = "image" if len(top1) == 1 else "images"
    written = f"; logits {list(out.shape)} written to {args.output}" if args.output is not None else ""
    print(f"{len(top1)} {noun}, top-1 class: {shown}{written}")
    return 0
