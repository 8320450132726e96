"""`assign-tiling{board=zcu102 target-fps=24}`: choose the accelerator's tiling and write it onto the engine.

Needs a lowered module (`vaqf-pipeline`). The module's activation precision
is the one `mark-quantization` gave it (the width of its `int`/`uint` codes).
The pass runs the design-space search (vaqf_compiler/dse) for that precision
on the board and, if the fastest design meets `target-fps`, sets `tiling` on
every `accel.engine` — the tile sizes of the MAC array the layer runs on:

    accel.engine fc ... quant #vit.quant<w = binary 1, x = int 8> out #vit.format<int 8>
        tiling #accel.tiling<tm = 336, tn = 16, nh = 1, g = 8, ports = 2>

and the prediction on the function (`accel.board`, `accel.datapath_bits` — the
binary datapath's width, which can exceed the codes' when a wider datapath
tiles better —, `accel.fps`, `accel.dsp`, `accel.lut`, `accel.bram36`). If the target is not met at the module's
precision, it fails with one line naming the precision that would meet it
(re-run `vaqf-pipeline{abits=…}`), or the best the board can do.

Options: `board` (a built-in name or a board .toml), `target-fps`,
`dsp-ceiling`/`lut-ceiling`/`bram-ceiling` (fractions of the board), `clock-mhz`,
`pack-dsp` (let idle DSPs run binary MACs too).

Mixed scheme (ours; `vaqf-pipeline{scheme=mixed}`): the FC layers with mixed
weights carry their row split (`rows = #vit.rows<pot N of M, ...>`, from
assign-pot-rows), so the PoT ratio is fixed and the search (dse/mixed.py)
chooses the tiling of both arrays: such an engine gets

    tiling #accel.tiling<tm = 124, tn = 16, nh = 1, g = 8, ports = 2, pot_tm = 56>

(`tm` x `tn` DSP lanes for its fixed-point rows, `pot_tm` x `tn` shift-add lanes
for its power-of-two rows), and the function also gets `accel.pot_tm`. To let
the search choose the ratio too, use `vaqf dse --scheme mixed` (or
`vaqf_compiler.dse.mixed.plan_mixed`) before lowering.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, ModuleOp, StringAttr, f64, i64
from xdsl.passes import ModulePass

from vaqf_compiler.cost.boards import load_board
from vaqf_compiler.cost.model import Estimate, binary_lanes, layer_label, packing
from vaqf_compiler.cost.workload import CODE, STREAM_FREE, engine_layer, extract_workload, fmt_of, stream_layer
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.dialects.vit import Placement
from vaqf_compiler.dse.mixed import MixedSearcher
from vaqf_compiler.dse.search import Options, Searcher, check_target, choose_precision
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe

NAME = "assign-tiling"


def module_bits(module: ModuleOp) -> int:
    """The activation precision of a lowered module: the one width of its quantized codes."""
    widths: dict[int, accel.EngineOp] = {}
    for op in module.walk():
        if isinstance(op, accel.EngineOp) and op.in_quantized:
            for fmt in (op.quant.inputs, op.quant.weights, op.out):
                if fmt_of(fmt) == CODE:
                    widths.setdefault(fmt.bits.data, op)
    if len(widths) > 1:
        a, b = sorted(widths)[:2]
        raise VaqfError(f"{NAME}: activations of {a} and {b} bits in one module; the engine has one precision",
                        where=describe(widths[b]))
    if not widths:
        raise VaqfError(f"{NAME}: the module has no quantized activations; lower it with vaqf-pipeline{{abits=...}}")
    return widths.popitem()[0]


@dataclass(frozen=True)
class AssignTilingPass(ModulePass):
    """Search the tiling for the module's precision on `board`; annotate the engine (see the module docstring)."""

    name = NAME
    board: str = "zcu102"
    # `float | int`: vaqf-opt parses `target-fps=24` as an int.
    target_fps: float | int = 0.0
    dsp_ceiling: float | int = 0.8
    lut_ceiling: float | int = 0.6
    bram_ceiling: float | int = 0.9
    clock_mhz: float | int = 150.0
    pack_dsp: bool = False

    def __post_init__(self) -> None:
        try:
            check_target(self.target_fps)
            self._options()
            load_board(self.board)
        except VaqfError as e:
            raise VaqfError(f"{NAME}: {e}") from None

    def _options(self) -> Options:
        return Options(self.dsp_ceiling, self.lut_ceiling, self.bram_ceiling, self.clock_mhz, self.pack_dsp)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        board = load_board(self.board)
        workload = extract_workload(op)
        if workload.has_mixed:
            self._check_mixed(op)
        elif not workload.has_binary:
            raise VaqfError(
                f"{NAME}: the model has no quantizable layers (no engine layer with binary or mixed weights); "
                "lower it with vaqf-pipeline{wbits=1 abits=...} or vaqf-pipeline{scheme=mixed}"
            )
        bits = module_bits(op)
        try:
            if workload.has_mixed:
                searcher = MixedSearcher(workload, board, self._options())
            else:
                searcher = Searcher(workload, board, self._options())
            result = searcher.best(bits)
        except VaqfError as e:
            raise VaqfError(f"{NAME}: {e}") from None
        est = result.estimate
        if est is None or est.fps < self.target_fps:
            have = f"{est.fps:.1f} FPS" if est else "no design that fits"
            try:
                choice = choose_precision(searcher, self.target_fps)
                hint = (f"the highest precision that meets it is {choice.bits} bits ({choice.result.fps:.1f} FPS): "
                        f"lower the model with vaqf-pipeline{{abits={choice.bits}}}")
            except VaqfError as e:
                hint = str(e)
            raise VaqfError(
                f"{NAME}: with {bits}-bit activations the best design on {board.name} reaches {have}, "
                f"below the target {self.target_fps:g} FPS; {hint}"
            )
        d = est.design
        lanes_q = binary_lanes(d.bits, d.tm_q, d.tn_q, d.tm * d.tn, d.pack_dsp)
        for engine in op.walk():
            if not isinstance(engine, accel.EngineOp):
                continue
            x = fmt_of(engine.quant.inputs)
            g = packing(d.bits if x == CODE else engine.quant.inputs.bits.data)
            if fmt_of(engine.quant.weights) == "binary":
                tiling = accel.TilingAttr(int(lanes_q), d.tn_q, d.nh, g, d.ports, int(lanes_q) - d.tm_q)
            elif engine.quant.mixed:
                pot = engine.rows.pot.data if engine.rows is not None else 0
                tiling = accel.TilingAttr(d.tm, d.tn, d.nh, g, d.ports, pot_tm=d.pot_tm if pot else 0)
            else:
                tiling = accel.TilingAttr(d.tm, d.tn, d.nh, g, d.ports)
            engine.properties["tiling"] = tiling
        record_model_cycles(op, est)
        for fn in op.walk():
            if isinstance(fn, func.FuncOp):
                fn.attributes["accel.board"] = StringAttr(board.name)
                fn.attributes["accel.datapath_bits"] = IntegerAttr(d.bits, i64)
                fn.attributes["accel.fps"] = FloatAttr(float(f"{est.fps:.4g}"), f64)  # prints short
                fn.attributes["accel.dsp"] = IntegerAttr(est.dsp, i64)
                fn.attributes["accel.lut"] = IntegerAttr(est.lut, i64)
                fn.attributes["accel.bram36"] = FloatAttr(est.bram36, f64)
                if workload.has_mixed:
                    fn.attributes["accel.pot_tm"] = IntegerAttr(d.pot_tm, i64)

    def _check_mixed(self, op: ModuleOp) -> None:
        """A mixed module is tiled for its row split, which must be there; pack-dsp is not emitted for it."""
        for engine in op.walk():
            if isinstance(engine, accel.EngineOp) and engine.quant.mixed and engine.rows is None:
                raise VaqfError(f"{NAME}: a mixed-weight engine has no row split; run assign-pot-rows first "
                                "(vaqf dse --scheme mixed suggests a ratio)", where=describe(engine))
        if self.pack_dsp:
            raise VaqfError(f"{NAME}: pack-dsp is not supported with mixed weights (the emitted kernel runs one "
                            "fixed-point row per DSP); `vaqf dse --scheme mixed --pack-dsp` reports that design point")


def record_model_cycles(module: ModuleOp, est: Estimate) -> None:
    """`accel.model_cycles` on every op the FPGA runs: the cost model's cycles for that call, which the emitted
    project sets beside the cycles its C simulation counts (`vaqf csim --json`)."""
    cycles = {layer.name: layer.cycles for layer in est.layers}
    for node in module.walk():
        if isinstance(node, accel.EngineOp):
            label = layer_label(engine_layer(node))
        elif isinstance(node, vit.VitOp) and node.place is not None and node.place.data == Placement.ACCEL \
                and not isinstance(node, STREAM_FREE):
            label = layer_label(stream_layer(node))
        else:
            continue
        if label in cycles:
            node.attributes["accel.model_cycles"] = IntegerAttr(int(cycles[label]), i64)
