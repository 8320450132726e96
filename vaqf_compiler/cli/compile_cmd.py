"""`vaqf compile`: a model to a C-simulatable HLS project and its report, in one command.

Stages, progress and timings go to stderr; the summary table (or, with
--json, a JSON object) to stdout. The work is `vaqf_compiler.driver`; the
report `vaqf_compiler.report`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from vaqf_compiler.cost.boards import builtin_boards
from vaqf_compiler.cli.model_arg import MODEL_HELP
from vaqf_compiler.driver import DUMP_POINTS, SCHEMES, STAGES, Compiled, DumpIR, Request, check_request, run_stages
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.progress import Progress
from vaqf_compiler.projectdir import staged_project
from vaqf_compiler.report.write import write_report
from vaqf_compiler.summary import compile_json, compile_summary

DESCRIPTION = """\
Compile a Vision Transformer into a Vitis HLS project for a board and a
target frame rate, in one go: import it; choose the highest activation
precision whose fastest design meets the target (the paper's binary search
over vaqf's cost model); quantize (binary or, with --scheme mixed, mixed
fixed-point/power-of-two weights; calibrated scales); lower
to the accelerator dialect and assign the tiling; emit the project (kernel,
host, packed weights, test bench); with --csim, C-simulate it with g++, bit for
bit against the integer reference. Writes PROJECT/report.html (charts: FPS
and resources vs precision, time per layer, host vs accelerator) and
PROJECT/report.md, and prints a summary."""

EPILOG = f"""\
model:
  a built-in name (deit-tiny, deit-small, deit-base: seeded random weights);
  a .pt2 saved with torch.export.save; a HuggingFace DeiT/ViT image classifier
  directory saved with save_pretrained (local files only; needs the hf extra:
  pip install 'vaqf[hf]'); or a `vaqf train` stage checkpoint (.pt; a quantized
  stage keeps its trained precision and scales).

boards: {", ".join(builtin_boards())}

schemes:
  vaqf   binary weights, k-bit activations (the paper).
  mixed  b-bit weights, each weight matrix's rows split into fixed-point rows (DSP
         array) and power-of-two rows (shift-add array), after Auto-ViT-Acc; the
         split rule, cost model and search are ours (docs/quantization.md,
         docs/cost-model.md). The search picks k and, unless --pot-ratio, the ratio.

IR dumps (as mlir-opt's --mlir-print-ir-after):
  --dump-ir-after NAME   after a stage (repeatable, or comma-separated, or `all`):
                         {", ".join(DUMP_POINTS)}
  --dump-ir-dir DIR      one file per stage, DIR/NN-NAME.mlir (NN: its place in the
                         pipeline); alone it dumps every stage. Without it: stderr.

calibration:
  --calibration X.npy gives real images [N, C, H, W] (normalised as in training;
  NaN or infinite values are refused). Without it, 4 seeded random images are
  used: fine to exercise the flow on a built-in model with random weights, not
  for a trained one, whose scales (and accuracy) depend on real images: vaqf
  warns, and the summary's `calibrated` line says which images were used.

output:
  progress per stage on stderr (--quiet: none); the summary on stdout
  (--json: a JSON object instead). Exit status 1 with a one-line error,
  e.g. when the target is above what the board can reach (it says the best).

examples:
  vaqf compile deit-tiny --board zcu102 --target-fps 50 -o prj/ --csim
  vaqf compile hf_deit_dir/ --board zcu102 --target-fps 30 -o prj/
  vaqf compile model.pt2 --target-fps 24 -o prj/ --calibration images.npy --images 4 --csim
  vaqf compile deit-tiny --target-fps 50 -o prj/ --dump-ir-after mark-quantization --dump-ir-after assign-tiling
  vaqf compile deit-small --target-fps 25 -o prj/ --dump-ir-dir prj_ir/ --json > summary.json
  vaqf compile deit-tiny --target-fps 40 -o prj/ --scheme mixed --wbits 4      # PoT ratio searched
  vaqf compile runs/digits/w1a8.pt --board kv260 --target-fps 500 -o prj/
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compile",
        help="model -> HLS project + report in one go (import, search, quantize, lower, tile, emit[, csim])",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--board", default="zcu102",
                   help="the FPGA board: a built-in name (default zcu102) or a board .toml file with its part")
    p.add_argument("--scheme", choices=SCHEMES, default="vaqf",
                   help="weights: vaqf (binary, default) or mixed (fixed-point + power-of-two rows, ours)")
    p.add_argument("--wbits", type=int, metavar="B", help="--scheme mixed: weight bits (default 4)")
    p.add_argument("--pot-ratio", type=float, metavar="R",
                   help="--scheme mixed: share of power-of-two rows in [0, 1] (default: searched)")
    p.add_argument("--target-fps", type=float, required=True, metavar="FPS", help="frame rate to meet")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="the project directory to write")
    p.add_argument("--calibration", metavar="X.npy", type=Path,
                   help="calibration images [N, C, H, W], finite values (default: 4 seeded random images: "
                        "fine for a built-in model, not for a trained one)")
    p.add_argument("--tb-input", metavar="X.npy", type=Path, help="test-bench images [N, C, H, W]")
    p.add_argument("--images", type=int, metavar="N",
                   help="seeded random test-bench images, instead of --tb-input (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of a built-in model and of random images (default 0)")
    p.add_argument("--csim", action="store_true", help="C-simulate the project afterwards (needs g++)")
    p.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    p.add_argument("--dump-ir-after", action="append", metavar="STAGE",
                   help="print (or, with --dump-ir-dir, write) the IR after STAGE; repeatable; `all`")
    p.add_argument("--dump-ir-dir", type=Path, metavar="DIR", help="write IR dumps as DIR/NN-STAGE.mlir")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("-v", "--verbose", action="store_true", help="show torch's log when a .pt2 does not load")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout (progress stays on stderr)")
    p.set_defaults(func=run)


def request_of(args: argparse.Namespace) -> Request:
    if args.tb_input is not None and args.images is not None:
        raise VaqfError("--images counts random test-bench images, --tb-input gives them: drop one")
    return Request(args.model, args.board, args.target_fps, args.output, seed=args.seed,
                   calibration=args.calibration, tb_input=args.tb_input,
                   tb_images=1 if args.images is None else args.images, csim=args.csim,
                   force=args.force, dump=DumpIR.of(args.dump_ir_after, args.dump_ir_dir), scheme=args.scheme,
                   wbits=args.wbits, pot_ratio=args.pot_ratio, verbose=args.verbose)


def compile_and_report(req: Request, progress: Progress) -> Compiled:
    """Every argument checked, then every stage and the report (its own stage) written into a staged
    directory, which replaces the project only when all of it (C simulation included) is complete."""
    board, hls, target = check_request(req)
    with staged_project(req.project, req.force, req.inputs()) as stage:
        compiled = run_stages(req, progress, stage, board, hls, target)
        progress.start("report", "report.html and report.md")
        html = write_report(compiled, stage)
        progress.done(str(req.project / html.relative_to(stage)))
        compiled.stages = progress.stages
    return compiled


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    req = request_of(args)
    progress = Progress(STAGES + req.csim + 1, None if args.quiet else sys.stderr)  # + the report
    compiled = compile_and_report(req, progress)
    if args.json:
        print(json.dumps({**compile_json(compiled), "seconds": time.perf_counter() - start}, indent=2))
    else:
        print(compile_summary(compiled))
        print(f"  total       {time.perf_counter() - start:.1f} s")
    if compiled.csim is not None and not compiled.csim.passed:
        return 1
    return 0
