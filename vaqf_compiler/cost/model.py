"""The cost model: clock cycles, frame rate and FPGA resources of a design, from first principles.

The paper's equations (7)-(14) and its Table I did not survive in our copy
and are not public, so nothing here is the paper's formula: the model is
derived from the loop nest of the shared compute engine (paper, Fig. 3) as
described in its text, and every formula is written out in
docs/cost-model.md. Only three constants are fitted (`Calibration`); the rest
are hardware facts (`Hardware`).

The engine has two MAC arrays that share its buffers, its output lanes and
its AXI ports (layers run one at a time):
- the 16-bit array on DSPs, `tm` output x `tn` input channels, for the
  unquantized layers and for attention products (two multi-bit activations:
  not an addition, so not a LUT MAC);
- the binary array on LUTs, `tm_q` x `tn_q`, for layers with binary weights,
  whose MACs are k-bit additions/subtractions.
`nh` heads of an attention product run in parallel (the input channels of an
FC layer are split in `nh` groups instead). In the mixed scheme (ours; no
binary array) the DSP array also runs the fixed-point rows of the mixed FC
layers while a LUT shift-add array (`pot_tm` x `tn`) runs their power-of-two
rows, both on one input tile per step (`mixed_cycles`, `pot_mac_luts`). Data cross each AXI port packed
`G = floor(port_bits / bits)` values per word.

All functions on tile sizes accept numpy integer arrays (the search evaluates
thousands of candidate tilings at once) as well as plain ints.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from vaqf_compiler.cost.boards import Board
from vaqf_compiler import mixed
from vaqf_compiler.cost.host import MOVABLE, host_time
from vaqf_compiler.cost.workload import EngineLayer, Mixed, StreamLayer, Workload, bits_of
from vaqf_compiler.errors import VaqfError


@dataclass(frozen=True)
class Hardware:
    """Facts of the device and the HLS implementation (not fitted)."""

    port_bits: int = 64  # AXI data width the engine uses (the paper's: 16-bit -> G=4, 8-bit -> 8, 6-bit -> 10)
    pipeline_base: int = 8  # MAC pipeline latency besides the adder tree: BRAM read 2, multiply 3, RMW 2, control 1
    bram18_width: int = 36  # RAMB18E2 as a simple dual-port RAM: 512 words x 36 bits
    bram18_depth: int = 512
    dsp_acc_bits: int = 48  # DSP48E2 accumulator (P register)
    dsp_a_bits: int = 27  # DSP48E2 pre-adder / A input width (packing two products, `pack_dsp`)
    streams: int = 3  # AXI stream groups of the engine: inputs, weights, outputs


@dataclass(frozen=True)
class Calibration:
    """The fitted constants (docs/cost-model.md, "Calibration"); `calibration.py` fits them."""

    axi_efficiency: float  # fraction of the AXI ports' peak rate achieved (fitted on W16A16 FPS)
    lut_rest: float  # LUTs of everything but the binary MACs (fitted on W16A16 kLUT)
    lut_per_bit: float  # LUTs per activation bit of one binary-weight MAC (fitted on W1A8 FPS)
    calibration_board_luts: int = 274080  # LUTs of the board the constants were fitted on (ZCU102)

    def rest_luts(self, board: Board) -> float:
        """L_rest on `board`: as fitted, or the same share of a smaller device (eq. R2)."""
        return min(self.lut_rest, self.lut_rest * board.lut / self.calibration_board_luts)


@dataclass(frozen=True)
class Design:
    """One accelerator: tile sizes of both arrays, heads in parallel, ports, activation bits."""

    bits: int  # activation precision k (width of the binary array's datapath)
    tm: int  # 16-bit (DSP) array: output channels per step
    tn: int  # 16-bit (DSP) array: input channels per step (nh groups of tn/nh)
    tm_q: int  # binary (LUT) array: output channels (0: none)
    tn_q: int  # binary (LUT) array: input channels (0: none)
    nh: int  # heads in parallel
    ports: int  # AXI ports per stream group
    pack_dsp: bool = False  # idle DSPs also run binary MACs (extra output lanes, two MACs per DSP)
    # Mixed scheme (ours): the power-of-two shift-add array, pot_tm output x tn input channels, beside
    # the DSP array; pot_ratio: the share of rows that are power of two where the IR does not fix it.
    pot_tm: int = 0
    pot_ratio: float = 0.0

    def as_dict(self) -> dict[str, int | bool]:
        return asdict(self)


def cdiv(a, b):
    """Ceiling division for ints and integer numpy arrays."""
    return -(-a // b)


def packing(bits: int, hw: Hardware = Hardware()) -> int:
    """G: values of `bits` bits per AXI word (16-bit -> 4, 8-bit -> 8, 6-bit -> 10 on 64-bit ports)."""
    if not 1 <= bits <= hw.port_bits:
        raise VaqfError(f"cannot pack {bits}-bit values into {hw.port_bits}-bit words")
    return hw.port_bits // bits


def _clog2(x):
    if isinstance(x, np.ndarray):
        return np.ceil(np.log2(np.maximum(x, 1))).astype(np.int64)
    return math.ceil(math.log2(max(x, 1)))


def _transfer(words, ports: int, eta: float):
    """Cycles to move `words` AXI words through `ports` ports at efficiency `eta`."""
    rate = ports * eta
    if isinstance(words, np.ndarray):
        return np.ceil(words / rate).astype(np.int64)
    return math.ceil(words / rate)


def pipeline_depth(lane_inputs, hw: Hardware = Hardware()):
    """D: latency of the MAC pipeline that sums `lane_inputs` products per output (adder tree)."""
    return hw.pipeline_base + _clog2(lane_inputs)


# ---------------------------------------------------------------------------
# Cycles
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerTiming:
    """The pieces of one engine layer's cycle count (scalars), for reports and tests."""

    steps_in: int  # n_i: input-channel steps per output tile
    tiles: int  # n_t: output tiles (head groups x output-channel tiles)
    load_x: int  # L_x: cycles to load one input tile
    load_w: int  # L_w: cycles to load one weight tile
    store: int  # L_y: cycles to store one output tile
    compute: int  # T + D: cycles of one step's MACs
    step: int  # max(compute, L_x, L_w): one double-buffered step
    cycles: int


def engine_cycles(layer: EngineLayer, k: int, tm, tn, nh, ports: int, eta: float, hw: Hardware = Hardware(),
                  detail: bool = False):
    """Clock cycles of one engine layer on an array of `tm` x `tn` (docs/cost-model.md, eqs. C1-C7)."""
    bx, bw, by = bits_of(layer.x, k), bits_of(layer.w, k), bits_of(layer.y, k)
    gx, gw, gy = packing(bx, hw), packing(bw, hw), packing(by, hw)
    T, C, M = layer.tokens, layer.cin, layer.cout
    if layer.kind == "attention":
        hs, t, groups = nh, tn // nh, cdiv(layer.heads, nh)
    else:
        hs, t, groups = 1, tn, 1
    n_o = cdiv(M, tm)
    n_i = cdiv(C, t)
    words_x = hs * T * cdiv(t, gx)
    words_w = hs * t * cdiv(tm, gw) if layer.rhs_packed_along_out else hs * tm * cdiv(t, gw)
    words_y = hs * T * cdiv(tm, gy)
    load_x = _transfer(words_x, ports, eta)
    load_w = _transfer(words_w, ports, eta)
    store = _transfer(words_y, hw.streams * ports, eta)  # every port's write channel
    compute = T + pipeline_depth(t, hw)
    step = np.maximum(np.maximum(compute, load_x), load_w)
    work = n_i * step
    tiles = groups * n_o
    cycles = load_x + load_w + work + (tiles - 1) * np.maximum(work, store) + store
    if detail:
        return LayerTiming(*(int(v) for v in (n_i, tiles, load_x, load_w, store, compute, step, cycles)))
    return cycles


def stream_cycles(layer: StreamLayer, k: int, ports: int, eta: float, hw: Hardware = Hardware()) -> int:
    """Cycles of an element-wise op on the FPGA (docs/cost-model.md, eq. C8).

    An element-wise op has no weights: its operands are spread over the read
    channels of all the engine's ports, its result over their write channels
    (AXI read and write channels are independent). Layer norm first reads one
    row for its statistics.
    """
    channels = hw.streams * ports
    read = _transfer(sum(cdiv(layer.elements, packing(bits_of(f, k), hw)) for f in layer.inputs), channels, eta)
    write = _transfer(cdiv(layer.elements, packing(bits_of(layer.y, k), hw)), channels, eta)
    row = 0
    if layer.kind == "layer_norm" and layer.inputs:
        row = _transfer(cdiv(layer.row, packing(bits_of(layer.inputs[0], k), hw)), channels, eta)
    return max(read, write) + row + hw.pipeline_base


# ---------------------------------------------------------------------------
# Resources
# ---------------------------------------------------------------------------


def dsp_pack_factor(k: int, tn_q, hw: Hardware = Hardware()):
    """π: binary MACs one DSP48E2 does per cycle when idle DSPs help the binary array (`pack_dsp`).

    Two ±1 weights (2 bits each) go into the 27-bit A input as `w1·2^s + w2`
    and multiply the same k-bit activation on B; the two products accumulate
    along a cascade of `tn_q` DSPs, so each lane needs s = k + 1 + ceil(log2 tn_q)
    bits. Two lanes fit while s + 2 <= 27 and 2s <= 48; otherwise one MAC per DSP.
    """
    s = k + 1 + _clog2(tn_q)
    ok = (s + 2 <= hw.dsp_a_bits) & (2 * s <= hw.dsp_acc_bits)
    return np.where(ok, 2, 1) if isinstance(ok, np.ndarray) else (2 if ok else 1)


def binary_lanes(k: int, tm_q, tn_q, dsps, pack: bool, hw: Hardware = Hardware()):
    """Output channels the binary layers compute per step: tm_q, plus the idle DSPs regrouped as
    extra lanes of tn_q inputs each when `pack` (eq. P1)."""
    if not pack:
        return tm_q
    return tm_q + (dsp_pack_factor(k, tn_q, hw) * dsps) // tn_q


def _bram_per_bank(depth: int, width: int, hw: Hardware) -> int:
    return cdiv(width, hw.bram18_width) * cdiv(depth, hw.bram18_depth)


def dsp_array_use(workload: Workload, k: int, tm, tn, nh, hw: Hardware = Hardware()) -> dict[str, object]:
    """Lanes, input banks and buffer BRAM of the 16-bit array (vectorised over tm, tn)."""
    layers = [lay for lay, _ in workload.engine if not lay.binary]
    attention = any(lay.kind == "attention" for lay in layers)
    lanes = tm * nh if attention else tm
    banks = 0
    acc = 1
    for lay in layers:
        gx = packing(bits_of(lay.x, k), hw)
        b = nh * cdiv(tn // nh, gx) if lay.kind == "attention" else cdiv(tn, gx)
        banks = np.maximum(banks, b)
        acc = max(acc, min(hw.dsp_acc_bits, bits_of(lay.x, k) + bits_of(lay.w, k) + _clog2(lay.cin)))
    depth = workload.max_tokens
    out = lanes * _bram_per_bank(depth, acc, hw) if layers else 0 * lanes
    inb = banks * _bram_per_bank(depth, hw.port_bits, hw)
    return {"lanes": lanes if layers else 0 * lanes, "in_banks": banks, "out_bram18": out, "in_bram18": inb}


def lut_array_use(workload: Workload, k: int, lanes, tn_q, hw: Hardware = Hardware()):
    """Input banks and buffer BRAM of the binary array with `lanes` output lanes (vectorised)."""
    depth = workload.max_tokens
    acc = k + 1 + _clog2(workload.max_cin)
    banks = cdiv(tn_q, packing(k, hw))
    out = lanes * _bram_per_bank(depth, acc, hw)
    inb = banks * _bram_per_bank(depth, hw.port_bits, hw)
    return {"lanes": lanes, "in_banks": banks, "out_bram18": out, "in_bram18": inb}


# ---------------------------------------------------------------------------
# Whole design
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Mixed scheme (ours): fixed-point rows on the DSP array, power-of-two rows on a LUT shift-add array
# ---------------------------------------------------------------------------


def pot_rows_of(layer: EngineLayer, ratio: float) -> int:
    """Power-of-two rows of a mixed layer: as the IR says (`#vit.rows`), else the rule's count at `ratio`."""
    return layer.pot_rows if layer.pot_rows is not None else mixed.pot_count(layer.cout, ratio)


def pot_mac_luts(k: int, wbits: int, calib: Calibration) -> float:
    """LUTs of one power-of-two shift-add MAC: a k-bit activation times ±2^s (s in 0..E) or 0 (eq. R5).

    Derived, not fitted: the shifted operand is k + E bits wide (E = 2^(wbits-1) - 2); its conditional
    add/sub costs `lut_per_bit` LUTs per bit, as a binary MAC's k-bit add/sub does (the fitted constant,
    reused); the shift is a 2^(wbits-1):1 multiplexer per bit selected by the exponent code (zero code
    included), built from 4:1 multiplexers (one LUT6: 4 data + 2 select inputs), ceil((wbits-1)/2)
    levels, each k + E LUTs wide.
    """
    width = k + mixed.pot_max_exponent(wbits)
    levels = cdiv(wbits - 1, 2)
    return (calib.lut_per_bit + levels) * width


@dataclass(frozen=True)
class MixedTiming:
    """One mixed layer: its cycles and what each array alone would take (for balance checks)."""

    pot_rows: int  # rows on the shift-add array
    fixed_rows: int  # rows on the DSP array
    tiles_fixed: int  # ceil(fixed rows / tm)
    tiles_pot: int  # ceil(PoT rows / pot_tm)
    step: int  # one double-buffered step (both arrays in lockstep)
    time_fixed: int  # cycles of the fixed rows alone on the DSP array
    time_pot: int  # cycles of the PoT rows alone on the shift-add array
    cycles: int  # the layer: max(tiles) output tiles, input tiles shared
    steps_in: int = 0  # n_i: input-channel steps per output tile
    tiles: int = 0  # n_t = max(tiles_fixed, tiles_pot)
    load_x: int = 0  # L_x: one input tile (shared by both arrays)
    load_w: int = 0  # L_w: one weight tile (k_w-bit codes of both arrays' rows)
    store: int = 0  # L_y: one output tile
    compute: int = 0  # T + D


def mixed_pack_factor(k: int, wbits: int, tn, hw: Hardware = Hardware()):
    """π_m: fixed-point rows one DSP48E2 computes per cycle with `pack_dsp` (eq. M4; ours).

    Two k_w-bit weights of two rows go into the 27-bit A input as `w1·2^s + w2` and multiply the same
    k-bit activation on B; each lane accumulates `tn` signed products along the DSP cascade in
    s = k_w + k + ceil(log2 tn) bits, so two lanes fit while s + k_w <= 27 and 2s <= 48 (the low lane's
    sign borrow is corrected in the fabric, as in the known INT8 packing). Otherwise one row per DSP.
    """
    s = wbits + k + _clog2(tn)
    ok = (s + wbits <= hw.dsp_a_bits) & (2 * s <= hw.dsp_acc_bits)
    return np.where(ok, 2, 1) if isinstance(ok, np.ndarray) else (2 if ok else 1)


def _mixed_layer(layer: EngineLayer, k: int, tm, tn, pot_tm, n_fix, n_pot, ports: int, eta: float, hw: Hardware,
                 pack: bool = False):
    """Cycles (and pieces) of `n_fix` fixed rows on `tm` DSP lanes beside `n_pot` PoT rows on `pot_tm` lanes."""
    bx, bw, by = bits_of(layer.x, k), bits_of(layer.w, k), bits_of(layer.y, k)
    gx, gw, gy = packing(bx, hw), packing(bw, hw), packing(by, hw)
    T, C = layer.tokens, layer.cin
    if pack:
        tm = mixed_pack_factor(k, bw, tn, hw) * tm
    lanes_f = np.where(n_fix > 0, tm, 0)
    lanes_p = np.where(n_pot > 0, pot_tm, 0)
    n_of = np.where(n_fix > 0, cdiv(n_fix, np.maximum(tm, 1)), 0)
    n_op = np.where(n_pot > 0, cdiv(n_pot, np.maximum(pot_tm, 1)), 0)
    t = tn
    n_i = cdiv(C, t)
    words_x = T * cdiv(t, gx)  # one input tile feeds both arrays
    words_w = (lanes_f + lanes_p) * cdiv(t, gw)  # k-bit codes of both arrays' rows
    words_y = T * cdiv(lanes_f + lanes_p, gy)
    load_x = _transfer(words_x, ports, eta)
    load_w = np.asarray(_transfer(np.asarray(words_w), ports, eta))
    store = np.asarray(_transfer(np.asarray(words_y), hw.streams * ports, eta))
    compute = T + pipeline_depth(t, hw)
    step = np.maximum(np.maximum(compute, load_x), load_w)
    work = n_i * step
    tiles = np.maximum(n_of, n_op)
    cycles = load_x + load_w + work + (tiles - 1) * np.maximum(work, store) + store
    return cycles, n_of, n_op, step, (n_i, tiles, load_x, load_w, store, compute)


def mixed_cycles(layer: EngineLayer, k: int, tm, tn, pot_tm, n_pot, ports: int, eta: float,
                 hw: Hardware = Hardware(), detail: bool = False, pack: bool = False):
    """Clock cycles of an FC layer with mixed weights (docs/cost-model.md, eqs. M1-M3; vectorised).

    Its `cout - n_pot` fixed-point rows run on the DSP array (`tm` x `tn`, one k_w x k MAC per DSP) and
    its `n_pot` power-of-two rows on the shift-add array (`pot_tm` x `tn`) at the same time, in lockstep
    over one shared input tile per step: the layer takes max(tiles of either array) output tiles, i.e.
    about max(time_fixed, time_pot), and loads each input tile once for both. `pack`: two fixed-point
    rows per DSP where they fit (`mixed_pack_factor`).
    """
    if np.ndim(pot_tm) == 0 and pot_tm < 1 and np.any(np.asarray(n_pot) > 0):
        raise VaqfError(f"{layer_label(layer)}: {n_pot} power-of-two rows need a shift-add array (pot_tm >= 1)")
    n_fix = layer.cout - np.asarray(n_pot)
    cycles, n_of, n_op, step, parts = _mixed_layer(layer, k, tm, tn, pot_tm, n_fix, n_pot, ports, eta, hw, pack)
    if not detail:
        return cycles
    fixed = _mixed_layer(layer, k, tm, tn, pot_tm, n_fix, 0 * n_fix, ports, eta, hw, pack)[0] if int(n_fix) else 0
    pot = _mixed_layer(layer, k, tm, tn, pot_tm, 0 * n_fix, n_pot, ports, eta, hw, pack)[0] if int(n_pot) else 0
    return MixedTiming(*(int(v) for v in (n_pot, n_fix, n_of, n_op, step, fixed, pot, cycles, *parts)))


def pot_array_use(workload: Workload, k: int, pot_tm, tn, calib: Calibration, hw: Hardware = Hardware(),
                  tm=0, pack: bool = False):
    """LUTs and accumulator BRAM18 of the shift-add array (`pot_tm` x `tn`; vectorised), plus, with
    `pack`, the accumulators of the extra fixed-point lanes packed DSPs add to a `tm`-lane DSP array."""
    wbits = workload.mixed_bits
    if wbits is None:
        return {"lut": 0 * pot_tm, "out_bram18": 0 * pot_tm}
    cin = max(lay.cin for lay, _ in workload.engine if lay.mixed)
    depth = workload.max_tokens
    acc = k + mixed.pot_max_exponent(wbits) + 1 + _clog2(cin)  # sum of cin shifted k-bit codes, signed
    out = pot_tm * _bram_per_bank(depth, acc, hw)
    if pack:
        extra = (mixed_pack_factor(k, wbits, tn, hw) - 1) * tm
        out = out + extra * _bram_per_bank(depth, wbits + k + _clog2(cin), hw)
    return {"lut": pot_mac_luts(k, wbits, calib) * pot_tm * tn, "out_bram18": out}


@dataclass(frozen=True)
class LayerCost:
    name: str
    array: str  # "dsp" | "lut" | "dsp+pot" (mixed: both at once) | "stream"
    count: int
    cycles: int  # one occurrence


@dataclass(frozen=True)
class Estimate:
    """Predicted performance and resources of one design on one board."""

    design: Design
    board: str
    clock_mhz: float
    cycles: int  # one frame
    dsp: int
    lut: int
    bram18: int
    layers: tuple[LayerCost, ...] = field(default=(), compare=False)
    # The board's CPU (cost/host.py): host ops and host-FPGA synchronisation per frame, and where the
    # movable ops (scale, softmax, GELU) run in this estimate.
    host_ms: float = field(default=0.0, compare=False)
    sync_ms: float = field(default=0.0, compare=False)
    host_ops_ms: tuple[tuple[str, float], ...] = field(default=(), compare=False)
    on_accel: tuple[str, ...] = field(default=(), compare=False)
    kernel_calls: int = field(default=0, compare=False)

    @property
    def fps(self) -> float:
        """Frames per second of the FPGA alone (what the paper reports)."""
        return self.clock_mhz * 1e6 / self.cycles

    @property
    def fps_fpga(self) -> float:
        return self.fps

    @property
    def frame_ms(self) -> float:
        """One frame end to end: FPGA, host ops and synchronisation, one after another."""
        return self.latency_ms + self.host_ms + self.sync_ms

    @property
    def fps_end_to_end(self) -> float:
        return 1e3 / self.frame_ms

    @property
    def latency_ms(self) -> float:
        return self.cycles / (self.clock_mhz * 1e3)

    @property
    def bram36(self) -> float:
        return self.bram18 / 2


def layer_label(layer: EngineLayer | StreamLayer) -> str:
    if isinstance(layer, StreamLayer):
        return f"{layer.kind} {layer.elements // max(layer.row, 1)}x{layer.row}"
    if layer.kind == "attention":
        return f"attention {layer.heads}x[{layer.tokens}x{layer.cin}]x[{layer.cin}x{layer.cout}]"
    kind = " binary" if layer.binary else f" mixed {layer.w.bits}" if isinstance(layer.w, Mixed) else ""
    return f"fc [{layer.tokens}x{layer.cin}]x[{layer.cin}x{layer.cout}]{kind}"


def validate_design(workload: Workload, design: Design) -> None:
    """One-line errors for tile sizes the engine cannot run."""
    d = design
    for name in ("tm", "tn", "nh", "ports", "bits"):
        if getattr(d, name) < 1:
            raise VaqfError(f"design: {name} must be >= 1, got {getattr(d, name)}")
    if d.tn % d.nh:
        raise VaqfError(f"design: tn={d.tn} must be a multiple of nh={d.nh}")
    if workload.heads % d.nh:
        raise VaqfError(f"design: nh={d.nh} must divide the head count {workload.heads}")
    if workload.has_binary and min(d.tm_q, d.tn_q) < 1:
        raise VaqfError("design: the model has binary-weight layers; tm_q and tn_q must be >= 1")
    if not 0.0 <= d.pot_ratio <= 1.0 or d.pot_tm < 0:
        raise VaqfError(f"design: pot_ratio must be in [0, 1] and pot_tm >= 0, got {d.pot_ratio} and {d.pot_tm}")
    if d.pot_tm < 1 and any(lay.mixed and pot_rows_of(lay, d.pot_ratio) for lay, _ in workload.engine):
        raise VaqfError("design: the model has power-of-two rows; pot_tm must be >= 1")


def estimate(workload: Workload, design: Design, board: Board, calib: Calibration, clock_mhz: float = 150.0,
             hw: Hardware = Hardware()) -> Estimate:
    """Cycles, FPS, DSP, LUT and BRAM of `design` running `workload` (docs/cost-model.md)."""
    validate_design(workload, design)
    d, k, eta = design, design.bits, calib.axi_efficiency
    lanes_q = binary_lanes(k, d.tm_q, d.tn_q, d.tm * d.tn, d.pack_dsp, hw) if workload.has_binary else 0
    layers: list[LayerCost] = []
    total = 0
    for lay, n in workload.engine:
        array = "dsp"
        if lay.binary:
            c, array = engine_cycles(lay, k, lanes_q, d.tn_q, 1, d.ports, eta, hw), "lut"
        elif lay.mixed:
            n_pot = pot_rows_of(lay, d.pot_ratio)
            c = mixed_cycles(lay, k, d.tm, d.tn, d.pot_tm, n_pot, d.ports, eta, hw, pack=d.pack_dsp)
            array = "dsp+pot"
        else:
            c = engine_cycles(lay, k, d.tm, d.tn, d.nh, d.ports, eta, hw)
        layers.append(LayerCost(layer_label(lay), array, n, int(c)))
        total += n * int(c)
    for s, n in workload.stream:
        c = stream_cycles(s, k, d.ports, eta, hw)
        layers.append(LayerCost(layer_label(s), "stream", n, c))
        total += n * c
    res = resources(workload, d, calib, board, hw)
    ht = host_time(workload, k, board.cpu, hw.port_bits)
    on_accel = tuple(sorted({s.kind for s, _ in workload.stream if s.kind in MOVABLE}))
    return Estimate(d, board.name, clock_mhz, total, res["dsp"], res["lut"], res["bram18"], tuple(layers),
                    ht.host_ms, ht.sync_ms, tuple(sorted(ht.ops_ms.items(), key=lambda kv: -kv[1])), on_accel,
                    ht.kernel_calls)


def resources(workload: Workload, d: Design, calib: Calibration, board: Board,
              hw: Hardware = Hardware()) -> dict[str, int]:
    """DSP, LUT and BRAM18 of a design (docs/cost-model.md, eqs. R1-R4)."""
    du = dsp_array_use(workload, d.bits, d.tm, d.tn, d.nh, hw)
    has_q = workload.has_binary
    lanes_q = binary_lanes(d.bits, d.tm_q, d.tn_q, d.tm * d.tn, d.pack_dsp, hw) if has_q else 0
    lu = lut_array_use(workload, d.bits, lanes_q, d.tn_q if has_q else 0, hw)
    # runs beside the DSP array: own accumulators
    pu = pot_array_use(workload, d.bits, d.pot_tm, d.tn, calib, hw, d.tm, d.pack_dsp)
    bram = 2 * (max(int(du["in_bram18"]), int(lu["in_bram18"]))
                + max(int(du["out_bram18"]), int(lu["out_bram18"])) + int(pu["out_bram18"]))
    binary_macs = d.tm_q * d.tn_q if has_q else 0
    lut = calib.rest_luts(board) + calib.lut_per_bit * d.bits * binary_macs + float(pu["lut"])
    uses_dsps = any(not lay.binary for lay, _ in workload.engine)
    return {"dsp": d.tm * d.tn if uses_dsps else 0, "lut": int(round(lut)), "bram18": bram}
