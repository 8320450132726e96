"""The compile driver behind `vaqf compile` and `vaqf demo`: a model to an HLS project, in process.

Stages (each timed, reported by `Progress`):

    import    built-in / .pt2 / HuggingFace directory / `vaqf train` checkpoint -> vit IR
    search    the highest activation precision meeting the target end to end (the paper's binary search
              over the cost model — FPGA, the board CPU's host ops and synchronisation — on the model
              lowered at 8 bits: the workload's shape does not depend on k), and where scale, softmax
              and GELU run (host or FPGA, whichever makes the frame shorter);
              scheme mixed: also the power-of-two ratio (dse.mixed's search, ours)
    quantize  fold-patch-embed, mark-quantization{wbits=1 abits=k} (mixed: {scheme=mixed wbits=b}
              and assign-pot-rows{ratio=r}), calibrate
    passes    partition-host-accel{the placement the search chose}, lower-to-accel,
              assign-tiling{board target-fps}
    reference the integer reference's outputs for the test-bench images (numpy interpreter)
    emit      the project files: kernel, host, packed weights, test bench
    csim      (optional) g++ build, then one run per test-bench image, compared bit for bit

This is the same sequence as `vaqf import; vaqf dse; vaqf quantize; vaqf-opt -p
'vaqf-pipeline{abits=k},assign-tiling{...}'; vaqf emit; vaqf csim` (vaqf-pipeline's
fold and mark are no-ops on the quantized module), without writing the
intermediate files. `DUMP_POINTS` names the IR snapshots `--dump-ir-after` takes.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from vaqf_compiler.cost.boards import Board, is_board_file, load_board
from vaqf_compiler.cost.model import Estimate
from vaqf_compiler.cost.workload import extract_workload
from vaqf_compiler.dse.search import (Choice, Options, PrecisionResult, Searcher, check_target, choose_precision,
                                     objective_fps)
from vaqf_compiler.errors import VaqfError
from vaqf_compiler import validate
from vaqf_compiler.fsutil import write_files, write_text_atomically
from vaqf_compiler.ir import print_ir
from vaqf_compiler.models.deit import BUILTIN_CONFIGS
from vaqf_compiler.progress import Progress
from vaqf_compiler.projectdir import staged_project
from vaqf_compiler.registry import make_registry_context

if TYPE_CHECKING:
    from vaqf_compiler.backends.hls import Board as HlsBoard

STAGES = 6  # import, search, quantize, passes, reference, emit (+ csim)

# IR snapshots, in pipeline order (`--dump-ir-after NAME`, or `all`).
DUMP_POINTS = ("import", "fold-patch-embed", "mark-quantization", "assign-pot-rows", "calibrate",
               "partition-host-accel", "lower-to-accel", "assign-tiling")
SCHEMES = ("vaqf", "mixed")
RANDOM_CALIBRATION = "4 seeded random images"  # without --calibration (quantize_cmd.calibration_images)
# The search judges designs end to end (FPGA + host ops + synchronisation) and places the movable ops.
END_TO_END = Options(end_to_end=True)


@dataclass(frozen=True)
class DumpIR:
    """Where IR snapshots go: files `DIR/NN-name.mlir`, else stderr as `// -----// IR Dump After name`."""

    after: frozenset[str] = frozenset()
    directory: Path | None = None

    @staticmethod
    def of(names: list[str] | None, directory: Path | None) -> DumpIR:
        chosen: set[str] = set()
        for name in names or []:
            for n in name.split(","):
                if n == "all":
                    chosen.update(DUMP_POINTS)
                elif n in DUMP_POINTS:
                    chosen.add(n)
                else:
                    raise VaqfError(f"--dump-ir-after: unknown stage {n!r}; choose from all, {', '.join(DUMP_POINTS)}")
        if directory is not None and not chosen:
            chosen.update(DUMP_POINTS)  # a directory alone: every stage
        return DumpIR(frozenset(chosen), directory)

    def __call__(self, name: str, module: ModuleOp, stream) -> Path | None:
        if name not in self.after:
            return None
        text = print_ir(module)
        if self.directory is None:
            if stream is not None:
                stream.write(f"// -----// IR Dump After {name} //----- //\n{text}")
            return None
        path = self.directory / f"{DUMP_POINTS.index(name) + 1:02d}-{name}.mlir"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_text_atomically(path, text)
        except OSError as e:
            raise VaqfError(f"cannot write {path}: {e.strerror or e}; choose another --dump-ir-dir") from None
        return path


@dataclass
class Request:
    model: str
    board: str = "zcu102"
    target_fps: float = 30.0
    project: Path = Path("prj")
    seed: int = 0
    calibration: Path | None = None
    tb_input: Path | None = None
    tb_images: int = 1
    csim: bool = False
    force: bool = False
    dump: DumpIR = field(default_factory=DumpIR)
    scheme: str = "vaqf"  # vaqf: binary weights; mixed: fixed-point + power-of-two rows (ours)
    wbits: int | None = None  # mixed only (default dse.mixed.DEFAULT_WBITS)
    pot_ratio: float | None = None  # mixed only; None: searched
    verbose: bool = False  # show torch's log when a .pt2 does not load

    def inputs(self) -> list[Path]:
        """The files this request reads: a replaced project directory must not hold them."""
        return [Path(self.model), *(p for p in (self.calibration, self.tb_input) if p is not None)]


@dataclass
class CsimReport:
    passed: bool
    images: int
    codes: int
    top1: list[int]
    build_seconds: float
    run_seconds: list[float]  # per image
    # Cycles per frame the C simulation counted from the kernel's structure (first image), the cost model's for
    # the same kernel calls, and the FPGA-only frame rate the counted cycles give (backends/hls/csim.cycle_report).
    counted_cycles: int = 0
    model_cycles: int | None = None
    counted_fps_fpga: float | None = None


@dataclass
class Compiled:
    """What the driver produced, and everything the summary and the report show."""

    request: Request
    board: Board
    model_name: str
    bits: int
    wbits: int  # 1 (binary) for the vaqf scheme
    table: list[PrecisionResult]  # best design per precision 1..16 (cost model)
    choice: Choice
    estimate: Estimate  # the chosen design (the same as table[bits - 1].estimate)
    note: str  # how the precision was chosen
    host_ops: dict[str, float]  # op name -> seconds per image in the integer interpreter (host-placed ops)
    accel_interp_seconds: float  # interpreter seconds per image of the FPGA-placed ops (for reference)
    stages: list = field(default_factory=list)
    csim: CsimReport | None = None
    dumps: list[Path] = field(default_factory=list)
    calibration: str = ""  # what the scales come from: the images, or the checkpoint's learned scales

    @property
    def scheme(self) -> str:
        return self.request.scheme

    @property
    def precision(self) -> str:
        """W1A8, or `mixed W4A6 (PoT ratio 0.375)`."""
        if self.scheme == "mixed":
            return f"mixed W{self.wbits}A{self.bits} (PoT ratio {self.estimate.design.pot_ratio:g})"
        return f"W{self.wbits}A{self.bits}"


def _import(req: Request) -> tuple[Any, str, int | None]:
    """(the model as vit IR, a note, the checkpoint's fixed precision or None): cli/model_arg.resolve_model."""
    from vaqf_compiler.cli.model_arg import resolve_model

    model = resolve_model(req.model, seed=req.seed, calibration=req.calibration, verbose=req.verbose)
    return model, model.note, model.fixed_abits


def _model_name(spec: str) -> str:
    return spec if spec in BUILTIN_CONFIGS else Path(spec.rstrip("/")).name


def _search(module: ModuleOp, board: Board, target: float, fixed_bits: int | None, req: Request
            ) -> tuple[Searcher, Choice, str]:
    from vaqf_compiler.passes.vaqf_pipeline import VaqfPipelinePass

    lowered = module.clone()
    if any(op.dialect_name() == "vit" and op.name != "vit.patch_embed" for op in lowered.walk()):
        VaqfPipelinePass(wbits=1, abits=8).apply(make_registry_context(), lowered)
    workload = extract_workload(lowered, "model")
    if req.scheme == "mixed":
        from vaqf_compiler.dse.mixed import MixedSearcher

        ratios = None if req.pot_ratio is None else (req.pot_ratio,)
        searcher = MixedSearcher(workload, board, END_TO_END, wbits=req.wbits, ratios=ratios)
    else:
        searcher = Searcher(workload, board, END_TO_END)
    if fixed_bits is not None:
        result = searcher.best(fixed_bits)
        fps = objective_fps(searcher, result)
        if fps < target:
            raise VaqfError(
                f"the checkpoint is trained for {fixed_bits}-bit activations, which reach {fps:.1f} FPS end to end on "
                f"{board.name}, below the target {target:g} FPS: lower --target-fps to {fps:.1f} or less, "
                "choose a larger --board, or train a lower precision (vaqf train)")
        return searcher, Choice(target, result, (fixed_bits,)), f"fixed by the checkpoint ({fixed_bits} bits)"
    try:
        choice = choose_precision(searcher, target)
    except VaqfError as e:
        top = searcher.max_fps()
        if top.estimate is None:
            raise VaqfError(f"{e}; raise the ceilings or choose a larger --board") from None
        other = "; or try the other --scheme" if req.scheme == "mixed" or fixed_bits is None else ""
        raise VaqfError(f"{e}; lower --target-fps to {objective_fps(searcher, top):.1f} or less, or choose a larger --board "
                        f"(vaqf dse --help lists the boards){other}") from None
    tried = ", ".join(map(str, choice.evaluated))
    how = f"binary search over 1..16 bits evaluated {tried}"
    if req.scheme == "mixed":
        how += ("; PoT ratio " + ("given" if req.pot_ratio is not None else "searched") +
                f", {choice.result.estimate.design.pot_ratio:g}")
    return searcher, choice, how


def _apply(p: ModulePass, module: ModuleOp, req: Request, progress: Progress, dumps: list[Path]) -> None:
    p.apply(make_registry_context(), module)
    module.verify()
    _dump(p.name, module, req, progress, dumps)


def _dump(name: str, module: ModuleOp, req: Request, progress: Progress, dumps: list[Path]) -> None:
    path = req.dump(name, module, sys.stderr)  # asked for: printed even with --quiet
    if path is not None:
        dumps.append(path)


def _reference(module: ModuleOp, params, images: np.ndarray, progress: Progress
               ) -> tuple[np.ndarray, dict[str, float], float]:
    """The integer reference's output codes per image, and per-op interpreter times split host / FPGA."""
    from vaqf_compiler.dialects.vit import Placement, VitOp
    from vaqf_compiler.interp import Interpreter

    interp = Interpreter(module, params, "int")
    producer = interp.function.body.block.last_op.operands[0].owner
    host: dict[str, float] = defaultdict(float)
    accel = 0.0
    codes = []
    progress.bar(0, len(images))
    for i, x in enumerate(images):
        seen: dict = {}
        last = [time.perf_counter()]

        def observe(op, value, seen=seen, last=last):
            nonlocal accel
            now = time.perf_counter()
            place = getattr(op, "place", None) if isinstance(op, VitOp) else None
            if place is not None and place.data == Placement.HOST:
                host[op.name.split(".", 1)[1]] += now - last[0]
            else:
                accel += now - last[0]
            last[0] = now
            if op is producer:
                seen["codes"] = value

        interp.run(x, observe)
        codes.append(np.asarray(seen["codes"], dtype=np.int64).ravel())
        progress.bar(i + 1, len(images), "reference images")
    n = max(len(images), 1)
    return np.stack(codes), {k: v / n for k, v in host.items()}, accel / n


def run_csim(project: Path, progress: Progress) -> CsimReport:
    """Build once, then run the test bench image by image (a progress bar), each compared bit for bit."""
    import json

    from vaqf_compiler.backends.hls.csim import build as csim_build, cycle_report, run as csim_exe

    t0 = time.perf_counter()
    exe = csim_build(project)
    build = time.perf_counter() - t0
    meta = json.loads((project / "project.json").read_text())
    images = np.fromfile(project / "tb" / "input.bin", dtype="<f4")
    golden = np.fromfile(project / "tb" / "golden_codes.bin", dtype="<i8").reshape(-1, int(meta["outputs"]))
    images = images.reshape(len(golden), -1)
    seconds, codes, top1, trips = [], [], [], []
    progress.bar(0, len(images))
    for i, x in enumerate(images):
        path = exe.parent / f"image{i}.bin"
        np.ascontiguousarray(x, dtype="<f4").tofile(path)
        t = time.perf_counter()
        logits, c, _, t_trips, _ = csim_exe(project, exe, path, compare=False)
        trips = trips or t_trips
        seconds.append(time.perf_counter() - t)
        codes.append(c[0])
        top1.append(int(logits[0].argmax()))
        progress.bar(i + 1, len(images), "images C-simulated")
    codes_arr = np.stack(codes)
    cycles = cycle_report(project, trips)
    return CsimReport(bool(np.array_equal(codes_arr, golden)), len(images), int(codes_arr.size), top1, build, seconds,
                      cycles["counted_cycles_per_frame"], cycles["model_cycles_per_frame"], cycles["counted_fps_fpga"])


def hls_board(spec: str) -> HlsBoard:
    """The HLS target of a board: a built-in's, or a board file's own part (never a built-in's of the same name)."""
    from vaqf_compiler.backends.hls import BOARDS, Board as HlsBoard

    board = load_board(spec)
    if not is_board_file(spec):
        if board.name not in BOARDS:
            raise VaqfError(f"board {board.name!r} has a cost model but no HLS target; choose one of "
                            f"{', '.join(sorted(BOARDS))}, or give a board file with its part")
        return BOARDS[board.name]
    if not board.part:
        raise VaqfError(f"board file {spec} has no 'part': add the FPGA part run_hls.tcl targets, e.g. "
                        'part = "xczu9eg-ffvb1156-2-e"')
    return HlsBoard(board.name, board.part, Options().clock_mhz, "xrt" if board.host == "pcie" else "zynq")


def check_request(req: Request) -> tuple[Board, HlsBoard, float]:
    """Every argument of `req`, before any stage runs: (the board, its HLS target, the target FPS); one-line
    `VaqfError`s."""
    from vaqf_compiler.frontend.load import check_model_spec
    from vaqf_compiler.intconst import MAX_INT_POT_BITS
    from vaqf_compiler.mixed import MAX_WEIGHT_BITS, MIN_WEIGHT_BITS
    from vaqf_compiler.projectdir import check_output_dir, inside

    board, hls = load_board(req.board), hls_board(req.board)
    target = check_target(req.target_fps)
    if req.scheme not in SCHEMES:
        raise VaqfError(f"unknown scheme {req.scheme!r}; choose {' or '.join(SCHEMES)}")
    if req.scheme != "mixed" and (req.wbits is not None or req.pot_ratio is not None):
        raise VaqfError("--wbits and --pot-ratio are options of --scheme mixed; add --scheme mixed or drop them")
    if req.pot_ratio is not None and not 0.0 <= req.pot_ratio <= 1.0:
        raise VaqfError(f"--pot-ratio must be in [0, 1], got {req.pot_ratio}")
    if req.wbits is not None:
        if not MIN_WEIGHT_BITS <= req.wbits <= MAX_WEIGHT_BITS:
            raise VaqfError(f"--wbits must be in {MIN_WEIGHT_BITS}..{MAX_WEIGHT_BITS}, got {req.wbits}")
        if req.wbits > MAX_INT_POT_BITS and req.pot_ratio != 0.0:
            raise VaqfError(f"--wbits {req.wbits}: power-of-two rows take at most {MAX_INT_POT_BITS} bits in the "
                            f"integer arithmetic; choose --wbits {MIN_WEIGHT_BITS}..{MAX_INT_POT_BITS}, or add "
                            "--pot-ratio 0 (fixed-point rows only)")
    validate.seed(req.seed)
    if req.tb_input is None:
        validate.count(req.tb_images, "--images")
    from vaqf_compiler.cli.run_cmd import read_input

    for flag, path in (("--calibration", req.calibration), ("--tb-input", req.tb_input)):
        if path is not None:
            validate.finite(read_input(path), f"{flag} {path}")
    check_model_spec(req.model)
    check_output_dir(req.project, req.force, req.inputs())
    if req.dump.directory is not None and inside(req.dump.directory, req.project):
        raise VaqfError(f"--dump-ir-dir {req.dump.directory} is inside the project {req.project}, which is "
                        "written whole at the end: choose a directory outside it")
    return board, hls, target


def compile_model(req: Request, progress: Progress | None = None) -> Compiled:
    """Check every argument, then run every stage into a staged directory that replaces `req.project` when
    complete; `VaqfError` (one line, with what to do) on any problem."""
    board, hls, target = check_request(req)
    with staged_project(req.project, req.force, req.inputs()) as stage:
        return run_stages(req, progress or Progress(STAGES + req.csim, None), stage, board, hls, target)


def run_stages(req: Request, progress: Progress, out: Path, board: Board, hls: HlsBoard, target: float
               ) -> Compiled:
    """Every stage of a checked request (`check_request`), writing the project into the directory `out`."""
    from vaqf_compiler.backends.hls import HlsOptions, emit_project
    from vaqf_compiler.calibrate import calibrate
    from vaqf_compiler.cli.quantize_cmd import calibration_images
    from vaqf_compiler.interp import entry_function, input_shape
    from vaqf_compiler.params import attach_sidecar, save_params
    from vaqf_compiler.passes.assign_tiling import AssignTilingPass
    from vaqf_compiler.passes.fold_patch_embed import FoldPatchEmbedPass
    from vaqf_compiler.passes.lower_to_accel import LowerToAccelPass
    from vaqf_compiler.passes.mark_quantization import MarkQuantizationPass
    from vaqf_compiler.passes.partition_host_accel import PartitionHostAccelPass

    project = req.project
    dumps: list[Path] = []

    progress.start("import", f"{req.model} -> vit IR")
    imported, note, fixed_bits = _import(req)
    if req.scheme == "mixed" and fixed_bits is not None:
        raise VaqfError(f"{req.model} is a quantized vaqf stage ({fixed_bits}-bit activations); --scheme mixed "
                        "starts from a float model: give the float stage (fp.pt) or drop --scheme mixed")
    module, params = imported.module, imported.params
    module.verify()
    progress.done(f"{sum(1 for op in module.walk() if op.name.startswith('vit.'))} vit ops, "
                  f"{sum(v.size for v in params.values()) / 1e6:.1f} M parameters")
    _dump("import", module, req, progress, dumps)
    # The images, checked against the model's input (shape, finiteness, memory) before the other stages.
    from vaqf_compiler.cli.emit_cmd import test_bench_images

    shape = input_shape(entry_function(module))
    tb = test_bench_images(req.tb_input, req.tb_images, shape, req.seed)
    if fixed_bits is None:
        images, source = calibration_images(req.calibration, shape, 4, req.seed)
    if req.calibration is None and req.model not in BUILTIN_CONFIGS:
        print(f"vaqf compile: warning: {req.model} is a trained model calibrated on {RANDOM_CALIBRATION}; its "
              "scales (and accuracy) depend on them: pass --calibration with real images", file=sys.stderr)

    progress.start("search", f"activation precision and tiling for {target:g} FPS on {board.name} (cost model)")
    searcher, choice, how = _search(module, board, target, fixed_bits, req)
    table = searcher.table()
    bits = choice.bits
    wbits = getattr(searcher, "wbits", 1)
    mixed = req.scheme == "mixed"
    ratio = choice.result.estimate.design.pot_ratio
    weights = f"W{wbits}A{bits} mixed, PoT ratio {ratio:g}" if mixed else f"W1A{bits}"
    chosen = choice.result.estimate
    where = ", ".join(chosen.on_accel) + " on the FPGA" if chosen.on_accel else "scale, softmax, GELU on the host"
    progress.done(f"{weights}, {chosen.fps_end_to_end:.1f} FPS end to end predicted ({chosen.fps:.1f} FPGA alone; "
                  f"{where}); {how}")

    what = f"{wbits}-bit fixed-point/power-of-two weights" if mixed else "binary weights"
    progress.start("quantize", f"{what}, {bits}-bit activations, calibrated scales")
    if fixed_bits is None:
        _apply(FoldPatchEmbedPass(), module, req, progress, dumps)
        _apply(MarkQuantizationPass(wbits, bits, req.scheme), module, req, progress, dumps)
        if mixed:
            from vaqf_compiler.passes.assign_pot_rows import assign_rows

            assign_rows(module, params, ratio)
            module.verify()
            _dump("assign-pot-rows", module, req, progress, dumps)
        calibrate(module, params, images)
        _dump("calibrate", module, req, progress, dumps)
        note = calibration = f"calibrated on {source}"
    else:
        calibration = note
    progress.done(note)

    progress.start("passes", "partition-host-accel, lower-to-accel, assign-tiling")
    placed = choice.result.estimate.on_accel
    _apply(PartitionHostAccelPass(softmax_on_accel="softmax" in placed, gelu_on_accel="gelu" in placed,
                                  scale_on_accel="scale" in placed), module, req, progress, dumps)
    _apply(LowerToAccelPass(), module, req, progress, dumps)
    _apply(AssignTilingPass(board=req.board, target_fps=target), module, req, progress, dumps)
    progress.done(f"{sum(1 for op in module.walk() if op.name == 'accel.engine')} engine layers")

    progress.start("reference", f"the integer reference's outputs for {len(tb)} test-bench image(s)")
    golden, host_ops, accel_seconds = _reference(module, params, tb, progress)
    progress.done()

    progress.start("emit", f"the HLS project in {project}")
    # the board's AXI width: every tile and row moves in half the words of the paper's 64-bit ports on ZU+
    options = HlsOptions(board=hls, port_bits=max(64, board.axi_port_bits // 64 * 64))
    files = emit_project(module, params, options=options, tb_images=tb,
                         tb_golden_codes=golden, source=_model_name(req.model))
    write_files(out, files)
    # The lowered IR and its weights, to re-emit with other options (`vaqf emit PROJECT/ir/accel.mlir`).
    (out / "ir").mkdir(exist_ok=True)
    attach_sidecar(module, "accel.npz", save_params(out / "ir" / "accel.npz", params))
    write_text_atomically(out / "ir" / "accel.mlir", print_ir(module))
    size = sum(len(b) for b in files.values())
    progress.done(f"{len(files)} files, {size / 1e6:.1f} MB")

    estimate = table[bits - 1].estimate
    assert estimate is not None  # the search only picks a feasible precision
    if mixed:
        estimate = choice.result.estimate  # at the searched ratio (table rows are each at their own best)
    compiled = Compiled(req, board, _model_name(req.model), bits, wbits, table, choice, estimate, how, host_ops,
                        accel_seconds, dumps=dumps, calibration=calibration)
    if req.csim:
        progress.start("csim", f"g++ build and {len(tb)} image(s), compared with the integer reference")
        compiled.csim = run_csim(out, progress)
        c = compiled.csim
        progress.done(("PASS" if c.passed else "FAIL") + f": build {c.build_seconds:.1f} s, "
                      f"{np.median(c.run_seconds):.1f} s per image")
    compiled.stages = progress.stages
    return compiled

