"""`vaqf compile`: a model to a C-simulatable HLS project in one go.

Runs the steps a user would run one by one, printing each as its command:
import → dse (the highest activation precision that meets the target) →
quantize → vaqf-opt (lower to `accel`, assign tiling) → emit → (csim). The
intermediate IR lands in `PROJECT/ir/`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vaqf_compiler.cli import opt
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.models.deit import BUILTIN_CONFIGS

EXAMPLE = """\
model:
  a built-in name (deit-tiny, deit-small, deit-base: seeded random weights), a
  .pt2 saved with torch.export.save, or a stage checkpoint of `vaqf train` (.pt).

examples:
  vaqf compile deit-tiny --board zcu102 --target-fps 160 -o prj/ --csim
  vaqf compile model.pt2 --board zcu102 --target-fps 24 -o prj/ --calibration images.npy
  vaqf compile runs/digits/fp.pt --board kv260 --target-fps 500 -o prj/
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compile",
        help="model -> HLS project in one go (import, dse, quantize, lower, tile, emit[, csim])",
        description="Compile a Vision Transformer into a Vitis HLS project for a board and a target frame "
        "rate: import it, choose the highest activation precision that meets the target (the paper's "
        "binary search over the cost model), quantize and calibrate, lower to the accelerator dialect "
        "with its tiling, emit the project and, with --csim, C-simulate it bit for bit against the "
        "integer reference.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="built-in name, .pt2 file or vaqf train checkpoint")
    p.add_argument("--board", default="zcu102", help="the FPGA board (default zcu102)")
    p.add_argument("--target-fps", type=float, required=True, help="frame rate to meet")
    p.add_argument("-o", "--output", type=Path, required=True, help="the project directory to write")
    p.add_argument("--calibration", metavar="X.npy", type=Path, help="calibration images [N, C, H, W]")
    p.add_argument("--seed", type=int, default=0, help="seed of a built-in model and of random calibration (0)")
    p.add_argument("--csim", action="store_true", help="C-simulate the project afterwards (needs g++)")
    p.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Compiled:
    project: Path
    bits: int
    estimate: dict  # the chosen precision's row of the dse report


def step(title: str, command: Sequence[str]) -> None:
    print(f"\n==> {title}\n$ {shlex.join(command)}", flush=True)


def call(command: Sequence[str], entry: Callable[[Sequence[str]], int] | None = None) -> None:
    """Run a step: `vaqf ...` through the driver, or `entry` (e.g. vaqf-opt's main)."""
    if entry is None:
        from vaqf_compiler.cli.main import main as entry  # the driver imports this module
    if entry(list(command[1:])) != 0:
        raise VaqfError(f"step failed: {shlex.join(command)}")


def _import_command(model: str, seed: int, out: Path) -> list[str]:
    if model in BUILTIN_CONFIGS:
        return ["vaqf", "import", "--builtin", model, "--seed", str(seed), "-o", str(out)]
    path = Path(model)
    if path.suffix == ".pt2":
        return ["vaqf", "import", str(path), "-o", str(out)]
    if path.suffix == ".pt":
        return ["vaqf", "import", "--checkpoint", str(path), "-o", str(out)]
    known = ", ".join(BUILTIN_CONFIGS)
    raise VaqfError(f"model {model!r} is neither a built-in ({known}), a .pt2 file nor a .pt checkpoint")


def compile_model(model: str, board: str, target_fps: float, project: Path, *, seed: int = 0,
                  calibration: Path | None = None, force: bool = False) -> Compiled:
    if project.exists() and any(project.iterdir()) and not force:
        raise VaqfError(f"{project} exists and is not empty; pass --force to replace it")
    project.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{project.name}.ir.", dir=project.parent))
    try:
        float_ir, quant_ir, accel_ir, report = (work / n for n in ("model.mlir", "quant.mlir", "accel.mlir", "dse.json"))
        cmd = _import_command(model, seed, float_ir)
        step("import into vit IR", cmd)
        call(cmd)

        cmd = ["vaqf", "dse", str(float_ir), "--board", board, "--target-fps", f"{target_fps:g}", "--json", str(report)]
        step(f"choose the activation precision for {target_fps:g} FPS on {board}", cmd)
        call(cmd)
        dse = json.loads(report.read_text())
        bits = int(dse["targets"][0]["bits"])

        cmd = ["vaqf", "quantize", str(float_ir), "--abits", str(bits), "--seed", str(seed), "-o", str(quant_ir)]
        if calibration is not None:
            cmd[-2:-2] = ["--calibration", str(calibration)]
        step(f"quantize: binary weights, {bits}-bit activations, calibrated scales", cmd)
        call(cmd)

        passes = f"vaqf-pipeline{{abits={bits}}},assign-tiling{{board={board} target-fps={target_fps:g}}}"
        cmd = ["vaqf-opt", str(quant_ir), "-p", passes, "-o", str(accel_ir)]
        step("lower to the accel dialect and assign the tiling", cmd)
        call(cmd, opt.main)

        cmd = ["vaqf", "emit", str(accel_ir), "-o", str(project)]  # for the board assign-tiling chose
        if force:
            cmd.append("--force")
        step("emit the HLS project", cmd)
        call(cmd)
        shutil.copytree(work, project / "ir")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    estimate = next(p for p in dse["precisions"] if p["bits"] == bits)
    return Compiled(project, bits, estimate)


def summary(compiled: Compiled, model: str, board: str, target_fps: float, seconds: float) -> str:
    e, d = compiled.estimate, compiled.estimate["design"]
    return "\n".join([
        f"\n==> summary ({seconds:.1f} s)",
        f"model        {model}, board {board}",
        f"precision    W1A{compiled.bits} for a target of {target_fps:g} FPS",
        f"tiling       16-bit array {d['tm']}x{d['tn']}, binary array {d['tm_q']}x{d['tn_q']}, Nh {d['nh']},"
        f" {d['ports']} AXI ports",
        f"estimate     {e['fps']:.1f} FPS, {e['dsp']} DSP, {e['lut'] / 1000:.0f} kLUT, {e['bram36']:g} BRAM36"
        " (cost model, docs/cost-model.md)",
        f"project      {compiled.project} (README.md inside; IR of every stage in ir/)",
    ])


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    compiled = compile_model(args.model, args.board, args.target_fps, args.output, seed=args.seed,
                             calibration=args.calibration, force=args.force)
    if args.csim:
        cmd = ["vaqf", "csim", str(args.output)]
        step("C-simulate with g++ and compare with the integer reference", cmd)
        call(cmd)
    print(summary(compiled, args.model, args.board, args.target_fps, time.perf_counter() - start))
    return 0
