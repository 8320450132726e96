"""`vaqf dse`: the activation precision and tiling that meet a frame-rate target on a board."""

from __future__ import annotations

import argparse
import json
import time
from functools import lru_cache
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp

from vaqf_compiler.cost.boards import builtin_boards, load_board
from vaqf_compiler.cost.workload import Workload, extract_workload
from vaqf_compiler.diagnostics import read_ir_file
from vaqf_compiler.dse.report import design_text, report_json, table
from vaqf_compiler.dse.search import (
    Choice,
    Options,
    PrecisionResult,
    Searcher,
    check_target,
    choose_precision,
    exhaustive_precision,
)
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.fsutil import write_text_atomically
from vaqf_compiler.models.deit import BUILTIN_CONFIGS
from vaqf_compiler.registry import make_registry_context

DESCRIPTION = """\
Design-space exploration (the VAQF compilation step): for every activation
precision from 1 to 16 bits (binary weights), the fastest accelerator that
fits the board within the utilisation ceilings, as predicted by the cost
model (docs/cost-model.md); then, for each target frame rate, the highest
precision that meets it (one target: the paper's binary search; several:
every precision is evaluated)."""

EPILOG = f"""\
input:
  a vit IR module (it is lowered with vaqf-pipeline first), an already lowered
  accel module, or --builtin NAME. The activation width the IR was lowered
  with does not matter: every precision is evaluated.

boards:
  {", ".join(builtin_boards())}, or the path of a .toml board file (see docs/cost-model.md).

exit status:
  1 with a one-line error if a target is above what the board can reach
  (the message gives the best frame rate and its precision).

examples:
  vaqf dse --builtin deit-base --board zcu102 --target-fps 24
  vaqf dse deit_base.mlir --board zcu102 --target-fps 24 --target-fps 30 --json dse.json
  vaqf dse --builtin deit-base --board kv260 --target-fps 10 --lut-ceiling 0.7 --pack-dsp
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dse",
        help="choose activation precision and tiling for a target frame rate",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("model", nargs="?", type=Path, metavar="MODEL.mlir", help="vit or accel IR of the model")
    src.add_argument("--builtin", choices=sorted(BUILTIN_CONFIGS), help="a built-in DeiT")
    p.add_argument("--board", default="zcu102", help="board name or .toml file (default zcu102)")
    p.add_argument("--target-fps", type=float, action="append", required=True, metavar="FPS",
                   help="frame rate to meet; repeat for several targets")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="also write a machine-readable report")
    d = Options()
    for what, key in (("DSPs", "dsp"), ("LUTs", "lut"), ("BRAM", "bram")):
        default = getattr(d, f"{key}_ceiling")
        p.add_argument(f"--{key}-ceiling", type=float, default=default, metavar="FRACTION",
                       help=f"share of the board's {what} the design may use (default {default})")
    p.add_argument("--clock-mhz", type=float, default=d.clock_mhz, metavar="MHZ", help=f"accelerator clock (default {d.clock_mhz:g})")
    p.add_argument("--pack-dsp", action="store_true",
                   help="also report the design where idle DSPs run binary MACs (two per DSP48E2)")
    p.set_defaults(func=run)


def lower(module: ModuleOp) -> ModuleOp:
    """Lower a vit module with vaqf-pipeline (binary weights; the activation width is a parameter later)."""
    from vaqf_compiler.passes.vaqf_pipeline import VaqfPipelinePass

    if any(op.dialect_name() == "vit" for op in module.walk()):
        VaqfPipelinePass(wbits=1, abits=8).apply(make_registry_context(), module)
    return module


@lru_cache(maxsize=4)
def builtin_workload(name: str, baseline: bool = False) -> Workload:
    """The workload of a built-in DeiT (imported through the front end); `baseline`: the W16A16 lowering."""
    from vaqf_compiler.frontend.load import builtin_program
    from vaqf_compiler.frontend.torch_import import import_program
    from vaqf_compiler.passes.vaqf_pipeline import VaqfPipelinePass

    module = import_program(builtin_program(name)).module
    bits = {"wbits": 16, "abits": 16} if baseline else {"wbits": 1, "abits": 8}
    VaqfPipelinePass(**bits).apply(make_registry_context(), module)
    return extract_workload(module, name + (" (W16A16)" if baseline else ""))


def load_workload(args: argparse.Namespace) -> Workload:
    if args.builtin:
        return builtin_workload(args.builtin)
    return extract_workload(lower(read_ir_file(args.model)), args.model.stem)


def run(args: argparse.Namespace) -> int:
    # Cheap checks first: a typo should not wait for the model to load.
    board = load_board(args.board)
    opts = Options(args.dsp_ceiling, args.lut_ceiling, args.bram_ceiling, args.clock_mhz, False)
    targets = [check_target(t) for t in args.target_fps]
    workload = load_workload(args)
    searcher = Searcher(workload, board, opts)

    start = time.perf_counter()
    results = searcher.table()
    choices: list[Choice] = []
    unreachable: list[tuple[float, str]] = []
    for target in targets:
        try:
            one = choose_precision if len(targets) == 1 else exhaustive_precision
            choices.append(one(searcher, target))
        except VaqfError as e:
            unreachable.append((target, str(e)))
    seconds = time.perf_counter() - start
    tilings = searcher.stats.designs
    packed: list[tuple[Choice, PrecisionResult]] = []
    if args.pack_dsp:
        packed = [(c, searcher.best(c.bits, pack_dsp=True)) for c in choices]  # a separate design point

    b = searcher.budget
    print(
        f"{workload.name} on {board.name} ({board.description or board.part}) at {opts.clock_mhz:g} MHz; "
        f"budget {b.dsp} DSP, {b.lut:.0f} LUT, {b.bram18 / 2:g} BRAM36 "
        f"(ceilings {opts.dsp_ceiling:g}/{opts.lut_ceiling:g}/{opts.bram_ceiling:g})"
    )
    print(table(searcher, results, choices))
    for c in choices:
        how = (f"binary search evaluated {', '.join(map(str, c.evaluated))} bits" if len(targets) == 1
               else "every precision evaluated")
        print(f"target {c.target:g} FPS: {c.bits}-bit activations, {c.result.fps:.2f} FPS ({how}); "
              f"{design_text(c.result.estimate)}")
    for c, p in packed:
        if p.estimate is not None and p.estimate.design.pack_dsp:
            gain = 100 * (p.fps / c.result.fps - 1)
            print(f"  with --pack-dsp: {p.fps:.2f} FPS ({gain:+.1f}%); {design_text(p.estimate)}")
        else:
            print(f"  with --pack-dsp: no gain at {c.bits} bits (idle DSPs do not help this design)")
    print(f"search: {len(results)} precisions, {tilings} tilings in {seconds:.3f} s")
    if args.json is not None:
        report = report_json(searcher, results, choices, unreachable, packed, seconds)
        try:
            write_text_atomically(args.json, json.dumps(report, indent=2) + "\n")
        except OSError as e:
            raise VaqfError(f"cannot write {args.json}: {e}") from None
        print(f"report written to {args.json}")
    if unreachable:
        raise VaqfError(unreachable[0][1])
    return 0
