"""`vaqf demo`: the whole flow on a built-in model, each step the command a user would run.

import → (check the float interpreter against PyTorch) → dse (precision for a
target frame rate) → quantize → vaqf-opt (lower to `accel`, assign tiling) →
emit the HLS project → C-simulate it and compare with the integer reference.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from vaqf_compiler.cli import opt
from vaqf_compiler.diagnostics import read_ir_file
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.interp import run_function
from vaqf_compiler.models.deit import BUILTIN_CONFIGS, build_deit
from vaqf_compiler.params import load_params

# The float64 interpreter against PyTorch float32 (see vaqf_compiler.interp.interpreter).
TOLERANCE = 1e-4

EXAMPLE = """\
example:
  vaqf demo                                             # DeiT-tiny, ZCU102, 160 FPS, into out/demo/
  vaqf demo --board kv260 --target-fps 40 -o /tmp/demo
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole flow on a built-in DeiT: import, search, quantize, lower, emit, C-simulate",
        description="Run the compiler end to end on a built-in DeiT with seeded random weights, printing "
        "each step as the command a user would type: import it, check the float interpreter against "
        "PyTorch, choose the activation precision for the target frame rate (dse), quantize and "
        "calibrate, lower and tile (vaqf-opt), emit the HLS project and C-simulate it bit for bit "
        "against the integer reference.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", choices=sorted(BUILTIN_CONFIGS), default="deit-tiny", help="default: deit-tiny")
    p.add_argument("--board", default="zcu102", help="the FPGA board (default zcu102)")
    p.add_argument("--target-fps", type=float, default=160.0, help="frame rate to meet (default 160)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("out/demo"), help="default: out/demo")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the test image (default 0)")
    p.set_defaults(func=run)


def _step(title: str, command: Sequence[str]) -> float:
    print(f"\n==> {title}\n$ {shlex.join(command)}", flush=True)
    return time.perf_counter()


def _call(command: Sequence[str], entry: Callable[[Sequence[str]], int]) -> None:
    if entry(list(command[1:])) != 0:
        raise VaqfError(f"demo step failed: {shlex.join(command)}")


def _vaqf(args: Sequence[str]) -> int:
    from vaqf_compiler.cli.main import main  # the driver imports this module

    return main(args)


def run(args: argparse.Namespace) -> int:
    out: Path = args.output_dir
    name = args.model.replace("-", "_")
    float_ir, quant_ir, accel_ir = out / f"{name}.mlir", out / f"{name}_q.mlir", out / f"{name}_accel.mlir"
    project, report = out / f"{name}_hls", out / "dse.json"
    start = time.perf_counter()

    cmd = ["vaqf", "import", "--builtin", args.model, "--seed", str(args.seed), "-o", str(float_ir)]
    _step("import the built-in model into vit IR", cmd)
    _call(cmd, _vaqf)

    _step("check the float reference interpreter against PyTorch", ["(in process)"])
    model = build_deit(args.model, seed=args.seed)
    cfg = model.cfg
    image = torch.randn(1, cfg.in_channels, *cfg.image_size, generator=torch.Generator().manual_seed(args.seed))
    with torch.no_grad():
        want = model(image).numpy()[0]
    module = read_ir_file(float_ir)
    got = run_function(module, load_params(module, float_ir), image.numpy()[0])
    err = float(np.abs(got - want).max())
    print(f"max |logit difference| = {err:.2e} (tolerance {TOLERANCE:g}); top-1 {int(got.argmax())} vs "
          f"PyTorch {int(want.argmax())}")
    if err >= TOLERANCE or got.argmax() != want.argmax():
        raise VaqfError(f"the reference interpreter disagrees with PyTorch (max error {err:.2e})")

    cmd = ["vaqf", "dse", str(float_ir), "--board", args.board, "--target-fps", f"{args.target_fps:g}",
           "--json", str(report)]
    _step(f"choose the activation precision for {args.target_fps:g} FPS on {args.board}", cmd)
    _call(cmd, _vaqf)
    dse = json.loads(report.read_text())
    bits = int(dse["targets"][0]["bits"])
    chosen = next(p for p in dse["precisions"] if p["bits"] == bits)

    cmd = ["vaqf", "quantize", str(float_ir), "--abits", str(bits), "--seed", str(args.seed), "-o", str(quant_ir)]
    _step(f"quantize: binary weights, {bits}-bit activations, calibrated scales", cmd)
    _call(cmd, _vaqf)

    pipeline = f"vaqf-pipeline{{abits={bits}}},assign-tiling{{board={args.board} target-fps={args.target_fps:g}}}"
    cmd = ["vaqf-opt", str(quant_ir), "-p", pipeline, "-o", str(accel_ir)]
    _step("lower to the accel dialect and assign the tiling", cmd)
    _call(cmd, opt.main)

    cmd = ["vaqf", "emit", str(accel_ir), "-o", str(project), "--force"]
    _step("emit the HLS project", cmd)
    _call(cmd, _vaqf)

    cmd = ["vaqf", "csim", str(project)]
    _step("C-simulate it with g++ and compare with the integer reference", cmd)
    _call(cmd, _vaqf)

    design = chosen["design"]
    print(f"\n==> summary ({time.perf_counter() - start:.1f} s)")
    print(f"model        {args.model} (seeded random weights), board {args.board}")
    print(f"precision    W1A{bits} for a target of {args.target_fps:g} FPS")
    print(f"tiling       16-bit array {design['tm']}x{design['tn']}, binary array {design['tm_q']}x{design['tn_q']},"
          f" Nh {design['nh']}, {design['ports']} AXI ports")
    print(f"estimate     {chosen['fps']:.1f} FPS, {chosen['dsp']} DSP, {chosen['lut'] / 1000:.0f} kLUT,"
          f" {chosen['bram36']:g} BRAM36 (cost model, docs/cost-model.md)")
    print(f"project      {project} (C simulation bit-identical to the integer reference)")
    return 0
