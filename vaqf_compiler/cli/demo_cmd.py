"""`vaqf demo`: the whole flow on a built-in model.

A check of the float reference interpreter against PyTorch, then
`vaqf compile MODEL ... --csim` (import → search → quantize → lower + tile →
emit → C simulation, bit for bit against the integer reference → report).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vaqf_compiler.cli.compile_cmd import compile_and_report
from vaqf_compiler.driver import STAGES, Request
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.frontend.torch_import import import_program
from vaqf_compiler.interp import run_function
from vaqf_compiler.models.deit import BUILTIN_CONFIGS, build_deit
from vaqf_compiler.progress import Progress
from vaqf_compiler.summary import compile_summary

# The float64 interpreter against PyTorch float32 (see vaqf_compiler.interp.interpreter).
TOLERANCE = 1e-4

EXAMPLE = """\
example:
  vaqf demo                                             # DeiT-tiny, ZCU102, 50 FPS end to end, into out/demo/
  vaqf demo --board kv260 --target-fps 40 -o /tmp/demo
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole flow on a built-in DeiT: import, search, quantize, lower, emit, C-simulate",
        description="Run the compiler end to end on a built-in DeiT with seeded random weights, printing "
        "each step as the command a user would type: check the float interpreter against PyTorch, then "
        "`vaqf compile --csim` (import, choose the activation precision for the target frame rate, quantize "
        "and calibrate, lower and tile, emit the HLS project, C-simulate it bit for bit against the integer "
        "reference) and write the project's report.html.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", choices=sorted(BUILTIN_CONFIGS), default="deit-tiny", help="default: deit-tiny")
    p.add_argument("--board", default="zcu102", help="the FPGA board (default zcu102)")
    p.add_argument("--target-fps", type=float, default=50.0, help="frame rate to meet end to end (default 50)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("out/demo"), help="default: out/demo")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the test image (default 0)")
    p.set_defaults(func=run)


def check_interpreter(name: str, seed: int) -> None:
    model = build_deit(name, seed=seed)
    cfg = model.cfg
    image = torch.randn(1, cfg.in_channels, *cfg.image_size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        want = model(image).numpy()[0]
    imported = import_program(export_module(model, (cfg.in_channels, *cfg.image_size)))
    got = run_function(imported.module, imported.params, image.numpy()[0])
    err = float(np.abs(got - want).max())
    print(f"max |logit difference| = {err:.2e} (tolerance {TOLERANCE:g}); top-1 {int(got.argmax())} vs "
          f"PyTorch {int(want.argmax())}")
    if err >= TOLERANCE or got.argmax() != want.argmax():
        raise VaqfError(f"the reference interpreter disagrees with PyTorch (max error {err:.2e})")


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    print(f"==> check the float reference interpreter against PyTorch on {args.model}", flush=True)
    check_interpreter(args.model, args.seed)
    project = args.output_dir / f"{args.model.replace('-', '_')}_hls"
    command = ["vaqf", "compile", args.model, "--board", args.board, "--target-fps", f"{args.target_fps:g}",
               "-o", str(project), "--seed", str(args.seed), "--csim", "--force"]
    print(f"\n==> compile, C-simulate and report (the same as the command below)\n$ {shlex.join(command)}", flush=True)
    req = Request(args.model, args.board, args.target_fps, project, seed=args.seed, csim=True, force=True)
    compiled = compile_and_report(req, Progress(STAGES + 2, sys.stdout))
    print()
    print(compile_summary(compiled))
    print(f"  total       {time.perf_counter() - start:.1f} s")
    print(f"\nopen the report: {project / 'report.html'}")
    if compiled.csim is not None and not compiled.csim.passed:
        raise VaqfError("the C simulation differs from the integer reference (a bug in vaqf: please report it)")
    return 0
