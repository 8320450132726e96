"""Design-space search: the tiling that maximises frame rate at a precision, and the precision for a target.

`Searcher.datapath(k)` evaluates, for a binary datapath k bits wide, every
tiling the paper's rules allow — nh dividing the head count; tm, tn multiples
of nh and of the packing factor G of the array's data (16-bit for the DSP
array, k-bit for the binary array) — within the DSP/LUT/BRAM budgets (board
resources times the utilisation ceilings), and keeps the one with the fewest
cycles per frame (ties: fewer DSPs, LUTs, BRAM). Candidates are numpy arrays;
the two arrays are searched separately and paired exactly (they only meet in
the shared BRAM). `Searcher.best(k)`: the fastest over datapaths k..16 (a
k-bit model runs on a wider datapath), so frame rate never rises with k.

`choose_precision(target)` follows the paper (Section III): the frame rate
with 1-bit activations first (the maximum); a target above it is an error
giving the best frame rate and precision; otherwise a binary search over
1..16 bits (at most four rounds) finds the highest precision that meets the
target; it agrees with trying every precision (`exhaustive_precision`,
tested). Formulas and rules: docs/cost-model.md.

`Options(end_to_end=True)` (what `vaqf dse` and `vaqf compile` use) judges
designs by the end-to-end frame rate — FPGA, the board CPU's host ops and the
synchronisation (cost/host.py) — and places each movable op (scale, softmax,
GELU) where the frame is shortest (`placed_estimate`). The default is the
paper's objective, the FPGA alone (the calibration and the Table V checks).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from itertools import combinations

from vaqf_compiler.cost.boards import Board
from vaqf_compiler.cost.calibration import DEFAULT_CALIBRATION
from vaqf_compiler.cost.host import MOVABLE
from vaqf_compiler.cost.model import (
    Calibration,
    Design,
    Estimate,
    Hardware,
    cdiv,
    dsp_array_use,
    binary_lanes,
    engine_cycles,
    estimate,
    lut_array_use,
    packing,
)
from vaqf_compiler.cost.workload import Workload
from vaqf_compiler.errors import VaqfError

MIN_BITS, MAX_BITS = 1, 16


@dataclass(frozen=True)
class Options:
    """What the user may set: utilisation ceilings, clock, DSP packing."""

    dsp_ceiling: float = 0.8
    lut_ceiling: float = 0.6
    bram_ceiling: float = 0.9
    clock_mhz: float = 150.0
    pack_dsp: bool = False
    end_to_end: bool = False  # judge by FPGA + host + synchronisation, choosing op placement (else FPGA alone)

    def __post_init__(self) -> None:
        for name in ("dsp_ceiling", "lut_ceiling", "bram_ceiling"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and 0 < v <= 1):
                raise VaqfError(f"{name.replace('_', '-')} must be a fraction in (0, 1], got {v}")
        if not (math.isfinite(self.clock_mhz) and 0 < self.clock_mhz <= 1000):
            raise VaqfError(f"clock-mhz must be in (0, 1000], got {self.clock_mhz}")


@dataclass(frozen=True)
class Budget:
    dsp: int
    lut: float
    bram18: int

    @staticmethod
    def of(board: Board, opts: Options) -> Budget:
        return Budget(
            int(board.dsp * opts.dsp_ceiling), board.lut * opts.lut_ceiling, int(board.bram18 * opts.bram_ceiling)
        )


def check_target(target: float) -> float:
    if not (isinstance(target, int | float) and math.isfinite(target) and target > 0):
        raise VaqfError(f"target-fps must be a number > 0, got {target}")
    return float(target)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _grid(step: int, max_product: float, tm_max: int, tn_max: int) -> tuple[np.ndarray, np.ndarray]:
    """All (tm, tn), multiples of `step`, tm <= tm_max, tn <= tn_max, tm*tn <= max_product."""
    tms, tns = [], []
    for tn in range(step, tn_max + 1, step):
        top = min(tm_max, int(max_product // tn))
        if top < step:
            break
        tm = np.arange(step, top + 1, step, dtype=np.int64)
        tms.append(tm)
        tns.append(np.full(len(tm), tn, dtype=np.int64))
    if not tms:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(tms), np.concatenate(tns)


def _round_up(x: int, step: int) -> int:
    return cdiv(x, step) * step


def _undominated(*cols: np.ndarray) -> np.ndarray:
    """Indices of points that no earlier point (sorted by the columns) equals or beats on every column
    (a superset of the Pareto-minimal set; all columns are minimised)."""
    order = np.lexsort(tuple(reversed(cols)))
    pts = np.stack([c[order] for c in cols], axis=1)
    n = len(pts)
    dominated = np.zeros(n, dtype=bool)
    chunk = max(1, 4_000_000 // max(n, 1))
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        le = np.all(pts[None, :, :] <= pts[lo:hi, None, :], axis=2)  # [i, j]: j weakly beats i
        le &= np.arange(n)[None, :] < np.arange(lo, hi)[:, None]  # only earlier points count
        dominated[lo:hi] = le.any(axis=1)
    return order[~dominated]


@dataclass
class SearchStats:
    designs: int = 0  # tilings evaluated
    seconds: float = 0.0
    grid_step: int = 0  # mixed search: the coarsest tile step used (G(16) unless the device is large)


@dataclass(frozen=True)
class PrecisionResult:
    """The best design at one activation precision (None if nothing fits the budgets)."""

    bits: int
    estimate: Estimate | None

    @property
    def fps(self) -> float:
        return self.estimate.fps if self.estimate else 0.0

    @property
    def fps_end_to_end(self) -> float:
        return self.estimate.fps_end_to_end if self.estimate else 0.0

    @property
    def feasible(self) -> bool:
        return self.estimate is not None


def placed_estimate(workload: Workload, design: Design, board: Board, calib: Calibration, opts: Options,
                    hw: Hardware) -> Estimate:
    """The estimate of `design`; with `opts.end_to_end`, at the placement of the movable ops (each on
    the host or the FPGA) that makes the frame shortest end to end (ties: the workload's own placement)."""
    if not opts.end_to_end:
        return estimate(workload, design, board, calib, opts.clock_mhz, hw)
    kinds = sorted({lay.kind for lay, _ in (*workload.stream, *workload.host) if lay.kind in MOVABLE})
    best = estimate(workload, design, board, calib, opts.clock_mhz, hw)
    for r in range(len(kinds) + 1):
        for on_accel in combinations(kinds, r):
            e = estimate(workload.placed(frozenset(on_accel), MOVABLE), design, board, calib, opts.clock_mhz, hw)
            if e.frame_ms < best.frame_ms:
                best = e
    return best


def objective_fps(searcher, result: PrecisionResult) -> float:
    """The frame rate a searcher judges by: end to end with `Options(end_to_end=True)`, else the FPGA's."""
    return result.fps_end_to_end if searcher.opts.end_to_end else result.fps


class Searcher:
    """Best designs of one workload on one board, cached per precision."""

    def __init__(self, workload: Workload, board: Board, opts: Options = Options(),
                 calib: Calibration = DEFAULT_CALIBRATION, hw: Hardware = Hardware(), *,
                 allow_unquantized: bool = False):
        if workload.has_mixed:
            raise VaqfError("the model has mixed-scheme weights; search it with the mixed scheme "
                            "(vaqf dse --scheme mixed, vaqf_compiler.dse.mixed.MixedSearcher)")
        if not workload.has_binary and not allow_unquantized:
            raise VaqfError(
                "the model has no quantizable layers (no engine layer with binary weights); "
                "lower it with vaqf-pipeline{wbits=1 abits=...}"
            )
        if hw.port_bits > board.axi_port_bits:
            raise VaqfError(f"board {board.name}: AXI ports are at most {board.axi_port_bits} bits, the engine needs {hw.port_bits}")
        self.workload, self.board, self.opts = workload, board, opts
        self.calib, self.hw = calib, hw
        self.budget = Budget.of(board, opts)
        self.ports = board.axi_ports // hw.streams
        if self.ports < 1:
            raise VaqfError(f"board {board.name}: {board.axi_ports} AXI ports; the engine needs at least {hw.streams}")
        self.stats = SearchStats()
        self._cache: dict[tuple[int, bool], PrecisionResult] = {}

    # -- one precision ------------------------------------------------------

    def datapath(self, bits: int, pack_dsp: bool | None = None) -> PrecisionResult:
        """The best design whose binary datapath is exactly `bits` wide (None if nothing fits)."""
        if not MIN_BITS <= bits <= MAX_BITS:
            raise VaqfError(f"activation precision must be in {MIN_BITS}..{MAX_BITS} bits, got {bits}")
        pack = self.opts.pack_dsp if pack_dsp is None else pack_dsp
        key = (bits, pack)
        if key not in self._cache:
            start = time.perf_counter()
            design = self._search(bits, pack)
            self.stats.seconds += time.perf_counter() - start
            est = None
            if design is not None:
                est = placed_estimate(self.workload, design, self.board, self.calib, self.opts, self.hw)
            self._cache[key] = PrecisionResult(bits, est)
        return self._cache[key]

    def best(self, bits: int, pack_dsp: bool | None = None) -> PrecisionResult:
        """The fastest design for `bits`-bit activations.

        A k-bit model also runs on a datapath built for k' > k bits (codes are
        stored sign-extended to k' bits), so the answer is the fastest design
        over datapaths k..16 — the narrowest on ties. This is what makes the
        frame rate never decrease as the precision drops, even where the rule
        "tm, tn divisible by G" suits a wider datapath's G better.

        With `pack_dsp` (idle DSPs may run binary MACs), the packed search runs
        at the precision's own width and at the width the unpacked search chose,
        and the faster design wins (the packed point is reported beside the
        unpacked one, not searched over every width: it costs ~0.3 s a width).
        """
        if not MIN_BITS <= bits <= MAX_BITS:
            raise VaqfError(f"activation precision must be in {MIN_BITS}..{MAX_BITS} bits, got {bits}")
        top = PrecisionResult(bits, None)
        for width in range(bits, MAX_BITS + 1):
            r = self.datapath(width, False)
            if r.estimate is not None and (top.estimate is None or r.estimate.cycles < top.estimate.cycles):
                top = PrecisionResult(bits, r.estimate)
        pack = self.opts.pack_dsp if pack_dsp is None else pack_dsp
        if pack:
            widths = {bits} | ({top.estimate.design.bits} if top.estimate else set())
            for width in sorted(widths):
                r = self.datapath(width, True)
                if r.estimate is not None and (top.estimate is None or r.estimate.cycles < top.estimate.cycles):
                    top = PrecisionResult(bits, r.estimate)
        return top

    def _dsp_candidates(self, k: int, nh: int) -> dict[str, np.ndarray] | None:
        """Every 16-bit array allowed for `nh` that fits the DSP and BRAM budgets alone, with its cycles."""
        w, hw, b, eta = self.workload, self.hw, self.budget, self.calib.axi_efficiency
        layers = [(lay, n) for lay, n in w.engine if not lay.binary]
        step = math.lcm(nh, packing(16, hw))
        if not layers:  # nothing runs on DSPs: the smallest array, unused
            tm = tn = np.array([step], np.int64)
        else:
            tm_max = _round_up(max(lay.cout for lay, _ in layers), step)
            tn_max = _round_up(max((nh if lay.kind == "attention" else 1) * lay.cin for lay, _ in layers), step)
            tm, tn = _grid(step, b.dsp, tm_max, tn_max)
        if len(tm) == 0:
            return None
        t = np.zeros(len(tm), np.int64)
        for lay, n in layers:
            t += n * engine_cycles(lay, k, tm, tn, nh, self.ports, eta, hw)
        use = dsp_array_use(w, k, tm, tn, nh, hw)
        cand = {
            "tm": tm, "tn": tn, "t": t, "dsp": tm * tn if layers else 0 * tm,
            "in": np.broadcast_to(use["in_bram18"], tm.shape).astype(np.int64),
            "out": np.broadcast_to(use["out_bram18"], tm.shape).astype(np.int64),
        }
        ok = 2 * (cand["in"] + cand["out"]) <= b.bram18
        self.stats.designs += len(tm)
        return {key: v[ok] for key, v in cand.items()} if ok.any() else None

    def _lut_candidates(self, k: int, nh: int) -> dict[str, np.ndarray] | None:
        """Every binary array allowed for `nh` at `k` bits that fits the LUT and BRAM budgets alone."""
        w, hw, b, eta, cal = self.workload, self.hw, self.budget, self.calib.axi_efficiency, self.calib
        layers = [(lay, n) for lay, n in w.engine if lay.binary]
        free = b.lut - cal.rest_luts(self.board)
        if free <= 0:
            return None
        step = math.lcm(nh, packing(k, hw))
        tm_max = _round_up(max(lay.cout for lay, _ in layers), step)
        tn_max = _round_up(max(lay.cin for lay, _ in layers), step)
        tm, tn = _grid(step, free / (cal.lut_per_bit * k), tm_max, tn_max)
        if len(tm) == 0:
            return None
        t = np.zeros(len(tm), np.int64)
        for lay, n in layers:
            t += n * engine_cycles(lay, k, tm, tn, 1, self.ports, eta, hw)
        use = lut_array_use(w, k, tm, tn, hw)
        cand = {
            "tm": tm, "tn": tn, "t": t, "lut": cal.lut_per_bit * k * tm * tn,
            "in": np.asarray(use["in_bram18"], np.int64), "out": np.asarray(use["out_bram18"], np.int64),
        }
        ok = 2 * (cand["in"] + cand["out"]) <= b.bram18
        self.stats.designs += len(tm)
        return {key: v[ok] for key, v in cand.items()} if ok.any() else None

    def _pair(self, d: dict[str, np.ndarray], q: dict[str, np.ndarray]) -> tuple | None:
        """The best (16-bit, binary) pair: fewest cycles, then DSPs, LUTs, BRAM. Returns (key, i, j)."""
        bram = self.budget.bram18

        def key(i: int, j: int) -> tuple:
            br = 2 * (max(d["in"][i], q["in"][j]) + max(d["out"][i], q["out"][j]))
            return (int(d["t"][i] + q["t"][j]), int(d["dsp"][i]), float(q["lut"][j]), int(br),
                    int(d["tm"][i]), int(d["tn"][i]), int(q["tm"][j]), int(q["tn"][j]))

        def first(c: dict[str, np.ndarray], cost: str) -> int:
            return int(np.lexsort((c["tn"], c["tm"], c["in"] + c["out"], c[cost], c["t"]))[0])

        # The arrays only meet in the shared BRAM: each one's best, unless together they overflow it.
        i, j = first(d, "dsp"), first(q, "lut")
        if 2 * (max(d["in"][i], q["in"][j]) + max(d["out"][i], q["out"][j])) <= bram:
            return key(i, j), i, j
        best = None
        chunk = max(1, 2_000_000 // max(len(q["t"]), 1))
        for lo in range(0, len(d["t"]), chunk):
            ii = np.arange(lo, min(lo + chunk, len(d["t"])))[:, None]
            jj = np.arange(len(q["t"]))[None, :]
            ok = 2 * (np.maximum(d["in"][ii], q["in"][jj]) + np.maximum(d["out"][ii], q["out"][jj])) <= bram
            if not ok.any():
                continue
            total = np.where(ok, d["t"][ii] + q["t"][jj], np.iinfo(np.int64).max)
            for f in np.flatnonzero(total == total.min()):  # ties are few: settle them with the full key
                i, j = int(ii[f // total.shape[1], 0]), int(f % total.shape[1])
                kk = key(i, j)
                if best is None or kk < best[0]:
                    best = (kk, i, j)
        return best

    def _pair_packed(self, k: int, d: dict[str, np.ndarray], q: dict[str, np.ndarray]) -> tuple | None:
        """Like `_pair` when idle DSPs join the binary array: its time then depends on both arrays."""
        w, hw, b, eta = self.workload, self.hw, self.budget, self.calib.axi_efficiency
        # Only the 16-bit arrays no other beats on time, DSP count (more helps here) and BRAM can win.
        keep = _undominated(d["t"], -d["dsp"], d["in"], d["out"])
        di = np.repeat(np.array(keep), len(q["t"]))
        qi = np.tile(np.arange(len(q["t"])), len(keep))
        lanes = binary_lanes(k, q["tm"][qi], q["tn"][qi], d["dsp"][di], True, hw)
        # Many pairs give the same (lanes, tn_q): time each combination once.
        combo, inverse = np.unique(lanes * (1 << 20) + q["tn"][qi], return_inverse=True)
        u_lanes, u_tn = combo >> 20, combo & ((1 << 20) - 1)
        u_t = np.zeros(len(combo), np.int64)
        for lay, n in w.engine:
            if lay.binary:
                u_t += n * engine_cycles(lay, k, u_lanes, u_tn, 1, self.ports, eta, hw)
        tq = u_t[inverse]
        use = lut_array_use(w, k, lanes, q["tn"][qi], hw)
        bram = 2 * (np.maximum(d["in"][di], use["in_bram18"]) + np.maximum(d["out"][di], use["out_bram18"]))
        ok = bram <= b.bram18
        self.stats.designs += len(di)
        if not ok.any():
            return None
        total = d["t"][di] + tq
        idx = np.flatnonzero(ok)
        cols = (q["tn"][qi], q["tm"][qi], d["tn"][di], d["tm"][di], bram, q["lut"][qi], d["dsp"][di], total)
        f = idx[np.lexsort(tuple(c[idx] for c in cols))[0]]
        kk = (int(total[f]), int(d["dsp"][di[f]]), float(q["lut"][qi[f]]), int(bram[f]),
              int(d["tm"][di[f]]), int(d["tn"][di[f]]), int(q["tm"][qi[f]]), int(q["tn"][qi[f]]))
        return kk, int(di[f]), int(qi[f])

    def _search(self, k: int, pack: bool) -> Design | None:
        w = self.workload
        best_key: tuple | None = None
        best: Design | None = None
        for nh in _divisors(w.heads):
            d = self._dsp_candidates(k, nh)
            if d is None:
                continue
            if not w.has_binary:  # an unquantized model (the baseline): the 16-bit array alone
                i = int(np.lexsort((d["tn"], d["tm"], d["in"] + d["out"], d["dsp"], d["t"]))[0])
                kk = (int(d["t"][i]), int(d["dsp"][i]), 0.0, int(2 * (d["in"][i] + d["out"][i])), nh, False)
                if best_key is None or kk < best_key:
                    best_key, best = kk, Design(k, int(d["tm"][i]), int(d["tn"][i]), 0, 0, nh, self.ports, False)
                continue
            q = self._lut_candidates(k, nh)
            if q is None:
                continue
            # With `pack`, idle DSPs may help the binary layers; whether they do is part of the search.
            for packed, got in ((False, self._pair(d, q)), (True, self._pair_packed(k, d, q) if pack else None)):
                if got is None:
                    continue
                kk = (*got[0][:4], nh, packed, *got[0][4:])
                if best_key is None or kk < best_key:
                    i, j = got[1], got[2]
                    best_key = kk
                    best = Design(k, int(d["tm"][i]), int(d["tn"][i]), int(q["tm"][j]), int(q["tn"][j]), nh,
                                  self.ports, packed)
        return best

    # -- precision for a target ------------------------------------------------

    def table(self, pack_dsp: bool | None = None) -> list[PrecisionResult]:
        return [self.best(k, pack_dsp) for k in range(MIN_BITS, MAX_BITS + 1)]

    def max_fps(self) -> PrecisionResult:
        return self.best(MIN_BITS)


@dataclass(frozen=True)
class Choice:
    """The precision chosen for one target and the precisions the search evaluated on the way."""

    target: float
    result: PrecisionResult
    evaluated: tuple[int, ...] = field(default=())

    @property
    def bits(self) -> int:
        return self.result.bits


def unreachable(searcher: Searcher, target: float) -> VaqfError:
    top = searcher.max_fps()
    if top.estimate is None:
        return VaqfError(f"no design fits on {searcher.board.name} within the resource ceilings")
    if searcher.opts.end_to_end:
        e = top.estimate
        return VaqfError(
            f"target {target:g} FPS is above what {searcher.board.name} can reach end to end: the best is "
            f"{e.fps_end_to_end:.1f} FPS with {top.bits}-bit activations (the FPGA alone: {e.fps:.1f} FPS; host ops "
            f"{e.host_ms:.1f} ms and synchronisation {e.sync_ms:.1f} ms per frame on the board's CPU)"
        )
    return VaqfError(
        f"target {target:g} FPS is above what {searcher.board.name} can reach: the best is "
        f"{top.fps:.1f} FPS with {top.bits}-bit activations"
    )


def choose_precision(searcher: Searcher, target: float) -> Choice:
    """The highest precision in 1..16 bits meeting `target` FPS: the paper's binary search (<= 4 rounds)."""
    target = check_target(target)
    evaluated = [MIN_BITS]
    if objective_fps(searcher, searcher.max_fps()) < target:
        raise unreachable(searcher, target)
    lo, hi = MIN_BITS, MAX_BITS + 1  # lo meets the target, hi does not (or is past the range)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        evaluated.append(mid)
        if objective_fps(searcher, searcher.best(mid)) >= target:
            lo = mid
        else:
            hi = mid
    return Choice(target, searcher.best(lo), tuple(evaluated))


def exhaustive_precision(searcher: Searcher, target: float) -> Choice:
    """The same answer by trying every precision (the check of the binary search)."""
    target = check_target(target)
    meeting = [r for r in searcher.table() if objective_fps(searcher, r) >= target]
    if not meeting:
        raise unreachable(searcher, target)
    best = max(meeting, key=lambda r: r.bits)
    return Choice(target, best, tuple(range(MIN_BITS, MAX_BITS + 1)))


def choose_all(searcher: Searcher, targets: Sequence[float]) -> list[Choice]:
    """Several targets at once: every precision is evaluated, each target takes the highest that meets it."""
    targets = [check_target(t) for t in targets]
    if len(targets) == 1:
        return [choose_precision(searcher, targets[0])]
    return [exhaustive_precision(searcher, t) for t in targets]


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start
