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
FC layer are split in `nh` groups instead). Data cross each AXI port packed
`G = floor(port_bits / bits)` values per word.

All functions on tile sizes accept numpy integer arrays (the search evaluates
thousands of candidate tilings at once) as well as plain ints.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from vaqf_compiler.cost.boards import Board
from vaqf_compiler.cost.workload import EngineLayer, StreamLayer, Workload, bits_of
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


@dataclass(frozen=True)
class LayerCost:
    name: str
    array: str  # "dsp" | "lut" | "stream"
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

    @property
    def fps(self) -> float:
        return self.clock_mhz * 1e6 / self.cycles

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
    return f"fc [{layer.tokens}x{layer.cin}]x[{layer.cin}x{layer.cout}]" + (" binary" if layer.binary else "")


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


def estimate(workload: Workload, design: Design, board: Board, calib: Calibration, clock_mhz: float = 150.0,
             hw: Hardware = Hardware()) -> Estimate:
    """Cycles, FPS, DSP, LUT and BRAM of `design` running `workload` (docs/cost-model.md)."""
    validate_design(workload, design)
    d, k, eta = design, design.bits, calib.axi_efficiency
    lanes_q = binary_lanes(k, d.tm_q, d.tn_q, d.tm * d.tn, d.pack_dsp, hw) if workload.has_binary else 0
    layers: list[LayerCost] = []
    total = 0
    for lay, n in workload.engine:
        if lay.binary:
            c = engine_cycles(lay, k, lanes_q, d.tn_q, 1, d.ports, eta, hw)
        else:
            c = engine_cycles(lay, k, d.tm, d.tn, d.nh, d.ports, eta, hw)
        layers.append(LayerCost(layer_label(lay), "lut" if lay.binary else "dsp", n, int(c)))
        total += n * int(c)
    for s, n in workload.stream:
        c = stream_cycles(s, k, d.ports, eta, hw)
        layers.append(LayerCost(layer_label(s), "stream", n, c))
        total += n * c
    res = resources(workload, d, calib, board, hw)
    return Estimate(d, board.name, clock_mhz, total, res["dsp"], res["lut"], res["bram18"], tuple(layers))


def resources(workload: Workload, d: Design, calib: Calibration, board: Board,
              hw: Hardware = Hardware()) -> dict[str, int]:
    """DSP, LUT and BRAM18 of a design (docs/cost-model.md, eqs. R1-R4)."""
    du = dsp_array_use(workload, d.bits, d.tm, d.tn, d.nh, hw)
    has_q = workload.has_binary
    lanes_q = binary_lanes(d.bits, d.tm_q, d.tn_q, d.tm * d.tn, d.pack_dsp, hw) if has_q else 0
    lu = lut_array_use(workload, d.bits, lanes_q, d.tn_q if has_q else 0, hw)
    bram = 2 * (max(int(du["in_bram18"]), int(lu["in_bram18"])) + max(int(du["out_bram18"]), int(lu["out_bram18"])))
    binary_macs = d.tm_q * d.tn_q if has_q else 0
    lut = calib.rest_luts(board) + calib.lut_per_bit * d.bits * binary_macs
    uses_dsps = any(not lay.binary for lay, _ in workload.engine)
    return {"dsp": d.tm * d.tn if uses_dsps else 0, "lut": int(round(lut)), "bram18": bram}
