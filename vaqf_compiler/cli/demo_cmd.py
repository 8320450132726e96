"""`vaqf demo`: the main job on a built-in model, end to end as far as the compiler goes today.

Imports the built-in DeiT (seeded random weights), writes its IR and weights,
prints the IR summary, and checks the numpy reference interpreter against
PyTorch on a seeded image.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.frontend.torch_import import import_program
from vaqf_compiler.fsutil import write_text_atomically
from vaqf_compiler.interp import run_function
from vaqf_compiler.ir import print_ir
from vaqf_compiler.models.deit import BUILTIN_CONFIGS, build_deit
from vaqf_compiler.params import attach_sidecar, save_params
from vaqf_compiler.summary import summarize

# The float64 interpreter against PyTorch float32 (see vaqf_compiler.interp.interpreter).
TOLERANCE = 1e-4

EXAMPLE = """\
example:
  vaqf demo                                   # DeiT-tiny into out/demo/
  vaqf demo --model deit-small -o /tmp/demo
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="import a built-in DeiT, print its IR summary, check the interpreter against PyTorch",
        description="Run the compiler's main job on a built-in DeiT with seeded random weights: "
        "trace it with torch.export, import it into vit IR (.mlir + .npz), print the IR summary, "
        "and check the reference interpreter's logits against PyTorch's.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", choices=sorted(BUILTIN_CONFIGS), default="deit-tiny", help="default: deit-tiny")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("out/demo"), help="default: out/demo")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the test image (default 0)")
    p.set_defaults(func=run)


def _step(message: str) -> float:
    print(f"==> {message}", flush=True)
    return time.perf_counter()


def run(args: argparse.Namespace) -> int:
    t = _step(f"building {args.model} (seed {args.seed}) and tracing it with torch.export")
    model = build_deit(args.model, seed=args.seed)
    cfg = model.cfg
    program = export_module(model, (cfg.in_channels, *cfg.image_size))
    print(f"    {time.perf_counter() - t:.2f} s")

    t = _step("importing into the vit dialect")
    imported = import_program(program)
    imported.module.verify()
    out = args.output_dir / f"{args.model.replace('-', '_')}.mlir"
    sidecar = out.with_suffix(".npz")
    attach_sidecar(imported.module, sidecar.name, save_params(sidecar, imported.params))
    write_text_atomically(out, print_ir(imported.module))
    print(f"    {time.perf_counter() - t:.2f} s; wrote {out} and {sidecar}")
    print()
    print(summarize(imported.module))
    print()

    t = _step("running the reference interpreter on a seeded image and comparing with PyTorch")
    image = torch.randn(1, cfg.in_channels, *cfg.image_size, generator=torch.Generator().manual_seed(args.seed))
    with torch.no_grad():
        want = model(image).numpy()[0]
    got = run_function(imported.module, imported.params, image.numpy()[0])
    err = float(np.abs(got - want).max())
    print(f"    {time.perf_counter() - t:.2f} s")
    print(f"    max |logit difference| = {err:.2e} (tolerance {TOLERANCE:g})")
    print(f"    top-1 class: interpreter {int(got.argmax())}, PyTorch {int(want.argmax())}")
    if err >= TOLERANCE or got.argmax() != want.argmax():
        raise VaqfError(f"the reference interpreter disagrees with PyTorch (max error {err:.2e})")
    print("demo OK: PyTorch -> vit IR -> reference interpreter agree")
    return 0
