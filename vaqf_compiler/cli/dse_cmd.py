"""`vaqf dse`: the activation precision and tiling that meet a frame-rate target on a board."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp

from vaqf_compiler.cost.boards import builtin_boards, load_board
from vaqf_compiler.cost.workload import Workload, extract_workload
from vaqf_compiler.diagnostics import read_ir_file
from vaqf_compiler.dse.mixed import DEFAULT_WBITS, MixedSearcher, mixed_workload, ratio_grid
from vaqf_compiler.dse.report import comparison, design_text, report_json, table
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
from vaqf_compiler.frontend.load import MODEL_KINDS, model_kind
from vaqf_compiler.fsutil import write_text_atomically
from vaqf_compiler.mixed import MAX_WEIGHT_BITS, MIN_WEIGHT_BITS
from vaqf_compiler.models.deit import BUILTIN_CONFIGS
from vaqf_compiler.registry import make_registry_context

DESCRIPTION = """\
Design-space exploration (the VAQF compilation step): for every activation
precision from 1 to 16 bits (binary weights), the fastest accelerator that
fits the board within the utilisation ceilings, as predicted by the cost
model (docs/cost-model.md); then, for each target frame rate, the highest
precision that meets it (one target: the paper's binary search; several:
every precision is evaluated).

--scheme mixed (ours, after Auto-ViT-Acc): k-bit weights (--wbits, default 4),
fixed-point rows on the DSP array and power-of-two rows on a LUT shift-add
array at once; the search also chooses the PoT ratio (multiples of 1/16, or
--pot-ratio R) and the shift-add array's size. --scheme both prints both and
a comparison per target."""

EPILOG = f"""\
input:
  a vit IR module (it is lowered with vaqf-pipeline first), an already lowered
  accel module, or --builtin NAME. The activation width the IR was lowered
  with does not matter: every precision is evaluated.

boards:
  {", ".join(builtin_boards())}, or the path of a .toml board file (see docs/cost-model.md).

frame rate:
  end to end by default: the FPGA (cost model), the host ops on the board's
  CPU and the host-FPGA synchronisation (the board file's [cpu]); scale,
  softmax and GELU go to the FPGA or stay on the host, whichever gives the
  shorter frame. --fpga-only judges by the FPGA alone (the paper's figures).

exit status:
  1 with a one-line error if a target is above what the board can reach
  (the message gives the best frame rate and its precision).

examples:
  vaqf dse --builtin deit-base --board zcu102 --target-fps 24
  vaqf dse deit_base.mlir --board zcu102 --target-fps 24 --target-fps 30 --json dse.json
  vaqf dse --builtin deit-base --board kv260 --target-fps 10 --lut-ceiling 0.7 --pack-dsp
  vaqf dse --builtin deit-base --board zcu102 --target-fps 14 --scheme both
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
    src.add_argument("model", nargs="?", metavar="MODEL", help="vit or accel IR of the model (.mlir), or " + MODEL_KINDS)
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
                   help="also report the design where DSPs do two MACs each (idle DSPs run binary MACs; "
                        "mixed: two fixed-point rows per DSP48E2)")
    p.add_argument("--fpga-only", action="store_true",
                   help="judge designs by the FPGA's frame rate alone, as the paper does (default: end to end, "
                        "with the board CPU's host ops and synchronisation, placing scale/softmax/GELU)")
    p.add_argument("--scheme", choices=("vaqf", "mixed", "both"), default="vaqf",
                   help="weight scheme: vaqf (binary weights, default), mixed (fixed-point + power-of-two rows), both")
    p.add_argument("--wbits", type=int, metavar="K",
                   help=f"mixed scheme: weight bits, {MIN_WEIGHT_BITS}..{MAX_WEIGHT_BITS} (default {DEFAULT_WBITS})")
    p.add_argument("--pot-ratio", type=float, metavar="R",
                   help="mixed scheme: fix the power-of-two ratio in [0, 1] instead of searching it")
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
    from vaqf_compiler.cli.model_arg import model_name, resolve_model

    if args.builtin or model_kind(args.model) == "builtin":
        return builtin_workload(args.builtin or args.model)
    if model_kind(args.model) == "mlir":  # vit or accel IR: no weights needed
        return extract_workload(lower(read_ir_file(Path(args.model))), model_name(args.model))
    return extract_workload(lower(resolve_model(args.model).module), model_name(args.model))


def _check_mixed_args(args: argparse.Namespace) -> None:
    if args.scheme == "vaqf" and (args.wbits is not None or args.pot_ratio is not None):
        raise VaqfError("--wbits and --pot-ratio are options of --scheme mixed (or both)")
    if args.wbits is not None and not MIN_WEIGHT_BITS <= args.wbits <= MAX_WEIGHT_BITS:
        raise VaqfError(f"--wbits must be in {MIN_WEIGHT_BITS}..{MAX_WEIGHT_BITS} for mixed weights, got {args.wbits}")
    if args.pot_ratio is not None and not 0.0 <= args.pot_ratio <= 1.0:
        raise VaqfError(f"--pot-ratio must be in [0, 1], got {args.pot_ratio:g}")


def _searcher(scheme: str, workload: Workload, board, opts: Options, args: argparse.Namespace):
    if scheme == "vaqf":
        return Searcher(workload.as_binary() if workload.has_mixed else workload, board, opts)
    ratios = (args.pot_ratio,) if args.pot_ratio is not None else None
    return MixedSearcher(workload, board, opts, wbits=args.wbits, ratios=ratios)


def _section(searcher, targets: list[float], pack_dsp: bool, args: argparse.Namespace) -> dict:
    """Search one scheme, print its table and choices; returns what the report and the comparison need."""
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
    mixed = getattr(searcher, "scheme", "vaqf") == "mixed"
    packed: list[tuple[Choice, PrecisionResult]] = []
    if pack_dsp:
        if mixed:
            twin = MixedSearcher(searcher.workload, searcher.board, replace(searcher.opts, pack_dsp=True),
                                 searcher.calib, searcher.hw, ratios=searcher.ratios)
            packed = [(c, twin.best(c.bits)) for c in choices]
        else:
            packed = [(c, searcher.best(c.bits, pack_dsp=True)) for c in choices]  # a separate design point

    if mixed:
        if searcher.rows_fixed:
            how = "the row split the IR fixes"
        elif len(searcher.ratios) == 1:
            how = f"PoT ratio fixed at {searcher.ratios[0]:g}"
        else:
            how = f"PoT ratio searched over {len(searcher.ratios)} values, 0..1 in steps of {searcher.ratios[1]:g}"
        print(f"mixed scheme (ours): {searcher.wbits}-bit weights, fixed-point rows on DSPs beside "
              f"power-of-two rows on LUT shift-add units; {how}")
    else:
        print("vaqf scheme: binary weights")
    print(table(searcher, results, choices))
    for c in choices:
        how = (f"binary search evaluated {', '.join(map(str, c.evaluated))} bits" if len(targets) == 1
               else "every precision evaluated")
        e = c.result.estimate
        rate = (f"{e.fps_end_to_end:.2f} FPS end to end ({e.fps:.2f} FPGA alone; host {e.host_ms:.2f} ms, sync "
                f"{e.sync_ms:.2f} ms; {', '.join(e.on_accel) or 'nothing movable'} on the FPGA)"
                if searcher.opts.end_to_end else f"{c.result.fps:.2f} FPS")
        print(f"target {c.target:g} FPS: {c.bits}-bit activations, {rate} ({how}); {design_text(e)}")
    for c, p in packed:
        if p.estimate is not None and p.estimate.design.pack_dsp and p.fps > c.result.fps:
            gain = 100 * (p.fps / c.result.fps - 1)
            print(f"  with --pack-dsp: {p.fps:.2f} FPS ({gain:+.1f}%); {design_text(p.estimate)}")
        else:
            print(f"  with --pack-dsp: no gain at {c.bits} bits (packing does not help this design)")
    print(f"search: {len(results)} precisions, {tilings} tilings in {seconds:.3f} s")
    report = report_json(searcher, results, choices, unreachable, packed, seconds)
    return {"searcher": searcher, "choices": choices, "unreachable": unreachable, "report": report}


def run(args: argparse.Namespace) -> int:
    # Cheap checks first: a typo should not wait for the model to load.
    board = load_board(args.board)
    opts = Options(args.dsp_ceiling, args.lut_ceiling, args.bram_ceiling, args.clock_mhz, False,
                   end_to_end=not args.fpga_only)
    targets = [check_target(t) for t in args.target_fps]
    _check_mixed_args(args)
    schemes = ["vaqf", "mixed"] if args.scheme == "both" else [args.scheme]
    workload = load_workload(args)
    searchers = [_searcher(scheme, workload, board, opts, args) for scheme in schemes]

    b = searchers[0].budget
    print(
        f"{workload.name.removesuffix(' (mixed)')} on {board.name} ({board.description or board.part}) at "
        f"{opts.clock_mhz:g} MHz; budget {b.dsp} DSP, {b.lut:.0f} LUT, {b.bram18 / 2:g} BRAM36 "
        f"(ceilings {opts.dsp_ceiling:g}/{opts.lut_ceiling:g}/{opts.bram_ceiling:g})"
    )
    sections = {}
    for scheme, searcher in zip(schemes, searchers):
        if len(schemes) > 1:
            print()
        sections[scheme] = _section(searcher, targets, args.pack_dsp, args)
    compared = []
    if len(schemes) > 1:
        for target in targets:
            rows = []
            for scheme in schemes:
                sec = sections[scheme]
                choice = next((c for c in sec["choices"] if c.target == target), None)
                err = next((m for t, m in sec["unreachable"] if t == target), "")
                rows.append((scheme, sec["searcher"], choice, err))
            print(f"\ncomparison at {target:g} FPS (predicted by our cost model):")
            print(comparison(rows))
            compared.append({"target_fps": target, **{
                scheme: ({"bits": c.bits, "fps": c.result.fps} if c is not None else {"error": err})
                for scheme, _, c, err in rows}})
    if args.json is not None:
        if len(schemes) == 1:
            report = sections[schemes[0]]["report"]
        else:
            report = {"scheme": "both", **{s: sections[s]["report"] for s in schemes}, "comparison": compared}
        try:
            write_text_atomically(args.json, json.dumps(report, indent=2) + "\n")
        except OSError as e:
            raise VaqfError(f"cannot write {args.json}: {e}") from None
        print(f"report written to {args.json}")
    for scheme in schemes:
        if sections[scheme]["unreachable"]:
            msg = sections[scheme]["unreachable"][0][1]
            raise VaqfError(f"{scheme} scheme: {msg}" if len(schemes) > 1 else msg)
    return 0
