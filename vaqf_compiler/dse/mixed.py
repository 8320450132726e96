"""Design-space search for the mixed fixed-point / power-of-two scheme (ours; docs/cost-model.md).

A mixed design has two MAC arrays working at once on every mixed FC layer:
the DSP array (`tm` x `tn`, also running the 16-bit layers and attention, as
in the VAQF design) takes the fixed-point rows, and a LUT shift-add array
(`pot_tm` x `tn`, sharing the input tile) takes the power-of-two rows. There
is no binary array. `MixedSearcher.datapath(k)` evaluates, for k-bit
activations, every combination of

- the PoT ratio r on a grid (default: multiples of 1/16, 0 and 1 included;
  `mixed.pot_count` turns r into rows per layer, as `assign-pot-rows` does) —
  or the row counts the IR already fixes (`#vit.rows`), then r is not searched;
- `nh` dividing the head count; `tm`, `tn` multiples of nh and of G(16), as for
  the VAQF design's DSP array; `pot_tm` a multiple of G(16) (0 only when no row
  is power of two). On a device so large that this grid exceeds `GRID_LIMIT`
  points (the U250), the step G(16) doubles until it does not (`stats.grid_step`);

within the DSP/LUT/BRAM budgets, and keeps the fewest cycles per frame (ties:
fewer DSPs, LUTs, BRAM, then the smaller r — more fixed-point rows). An exact
optimum over the grid, not a greedy balance; `balance_ratio` is the analytic
point where both arrays finish together, which the chosen r sits next to
(tested). Choosing the activation precision reuses the VAQF search
(`search.choose_precision`: the paper's binary search over 1..16 bits).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from vaqf_compiler.cost.boards import Board
from vaqf_compiler.cost.calibration import DEFAULT_CALIBRATION
from vaqf_compiler.cost.model import (
    Calibration,
    Design,
    Estimate,
    Hardware,
    _mixed_layer,
    dsp_array_use,
    engine_cycles,
    packing,
    pot_array_use,
    pot_mac_luts,
    pot_rows_of,
)
from vaqf_compiler.cost.workload import Workload
from vaqf_compiler.dse.search import (
    MAX_BITS,
    MIN_BITS,
    Budget,
    Options,
    PrecisionResult,
    SearchStats,
    _divisors,
    _grid,
    _round_up,
    placed_estimate,
)
from vaqf_compiler.errors import VaqfError

DEFAULT_WBITS = 4
RATIO_STEPS = 16  # the default grid of PoT ratios: 0, 1/16, ..., 1
GRID_LIMIT = 300_000  # (tm, tn, pot_tm) points per precision before the tile step is coarsened


def ratio_grid(steps: int = RATIO_STEPS) -> tuple[float, ...]:
    if not isinstance(steps, int) or steps < 1:
        raise VaqfError(f"the PoT-ratio grid needs >= 1 steps, got {steps}")
    return tuple(i / steps for i in range(steps + 1))


def balance_ratio(tm: int, pot_tm: int) -> float:
    """r* = pot_tm / (tm + pot_tm): the PoT ratio at which both arrays have the same rows per lane,
    so (ignoring rounding and loads) time_fixed = time_pot."""
    return pot_tm / (tm + pot_tm) if tm + pot_tm else 0.0


def effective_ratio(workload: Workload, design: Design) -> float:
    """The share of mixed rows that are power of two in `design` (the IR's counts where it has them)."""
    rows = [(pot_rows_of(lay, design.pot_ratio) * n, lay.cout * n) for lay, n in workload.engine if lay.mixed]
    total = sum(r for _, r in rows)
    return sum(p for p, _ in rows) / total if total else 0.0


def mixed_workload(workload: Workload, wbits: int | None = None) -> Workload:
    """`workload` in the mixed scheme: as it is if it has mixed layers, else its binary layers made
    `wbits`-bit mixed (a VAQF lowering read as the mixed scheme, before the mixed IR exists)."""
    from vaqf_compiler import mixed

    if wbits is not None:
        try:
            mixed.check_weight_bits(wbits)
        except ValueError as e:
            raise VaqfError(f"wbits: {e}") from None
    if workload.has_mixed:
        have = workload.mixed_bits
        if wbits is not None and wbits != have:
            raise VaqfError(f"the model has {have}-bit mixed weights, not {wbits}; lower it with wbits={wbits}")
        return workload
    if not workload.has_binary:
        raise VaqfError(
            "the model has no quantizable layers (no engine layer with binary or mixed weights); "
            "lower it with vaqf-pipeline{scheme=mixed} or vaqf-pipeline{wbits=1 abits=...}"
        )
    return workload.as_mixed(wbits or DEFAULT_WBITS)


class MixedSearcher:
    """Best mixed-scheme designs of one workload on one board, cached per activation precision.

    Same interface as `search.Searcher` (`datapath`, `best`, `table`, `max_fps`, `board`, `budget`,
    `stats`), so `choose_precision` and the reports serve both schemes.
    """

    scheme = "mixed"

    def __init__(self, workload: Workload, board: Board, opts: Options = Options(),
                 calib: Calibration = DEFAULT_CALIBRATION, hw: Hardware = Hardware(), *,
                 wbits: int | None = None, ratios: tuple[float, ...] | None = None):
        self.workload = mixed_workload(workload, wbits)
        self.wbits = self.workload.mixed_bits
        if hw.port_bits > board.axi_port_bits:
            raise VaqfError(f"board {board.name}: AXI ports are at most {board.axi_port_bits} bits, the engine needs {hw.port_bits}")
        self.board, self.opts, self.calib, self.hw = board, opts, calib, hw
        self.budget = Budget.of(board, opts)
        self.ports = board.axi_ports // hw.streams
        if self.ports < 1:
            raise VaqfError(f"board {board.name}: {board.axi_ports} AXI ports; the engine needs at least {hw.streams}")
        if ratios is None:
            ratios = ratio_grid()
        for r in ratios:
            if not (isinstance(r, int | float) and 0.0 <= r <= 1.0):
                raise VaqfError(f"pot-ratio must be in [0, 1], got {r}")
        # Row counts fixed by the IR leave nothing to search.
        if all(lay.pot_rows is not None for lay, _ in self.workload.engine if lay.mixed):
            ratios = (0.0,)
        self.ratios = tuple(sorted(set(float(r) for r in ratios)))
        self.stats = SearchStats()
        self._cache: dict[int, PrecisionResult] = {}

    @property
    def rows_fixed(self) -> bool:
        """The IR fixes every mixed layer's power-of-two rows (assign-pot-rows ran)."""
        return all(lay.pot_rows is not None for lay, _ in self.workload.engine if lay.mixed)

    def datapath(self, bits: int, pack_dsp: bool | None = None) -> PrecisionResult:
        if not MIN_BITS <= bits <= MAX_BITS:
            raise VaqfError(f"activation precision must be in {MIN_BITS}..{MAX_BITS} bits, got {bits}")
        if bits not in self._cache:
            start = time.perf_counter()
            design = self._search(bits)
            self.stats.seconds += time.perf_counter() - start
            est = None
            if design is not None:
                est = placed_estimate(self.workload, design, self.board, self.calib, self.opts, self.hw)
            self._cache[bits] = PrecisionResult(bits, est)
        return self._cache[bits]

    def best(self, bits: int, pack_dsp: bool | None = None) -> PrecisionResult:
        """The fastest design for `bits`-bit activations. No wider-datapath detour is needed here: the
        tiling rules do not depend on the activation width, so frame rate cannot rise with it (tested)."""
        return self.datapath(bits)

    def table(self, pack_dsp: bool | None = None) -> list[PrecisionResult]:
        return [self.best(k) for k in range(MIN_BITS, MAX_BITS + 1)]

    def max_fps(self) -> PrecisionResult:
        return self.best(MIN_BITS)

    # -- the search ---------------------------------------------------------------

    def _search(self, k: int) -> Design | None:
        """The best design over nh, tm, tn, pot_tm and r. The mixed layers' cycles do not depend on nh, so
        they are computed once on the G(16)-step grid; each nh keeps the points its rule allows."""
        w, hw, b, cal, eta = self.workload, self.hw, self.budget, self.calib, self.calib.axi_efficiency
        pack = self.opts.pack_dsp
        g16 = packing(16, hw)
        mixed_layers = [(lay, n) for lay, n in w.engine if lay.mixed]
        dsp_layers = [(lay, n) for lay, n in w.engine if not lay.mixed]
        heads = _divisors(w.heads)
        tm_max = _round_up(max(lay.cout for lay, _ in w.engine), math.lcm(g16, *heads))
        tn_max = _round_up(max((w.heads if lay.kind == "attention" else 1) * lay.cin for lay, _ in w.engine),
                           math.lcm(g16, *heads))
        rest = cal.rest_luts(self.board)
        free = b.lut - rest
        if free < 0:
            return None
        per_mac = pot_mac_luts(k, self.wbits, cal)
        pot_cap = _round_up(max(lay.cout for lay, _ in mixed_layers), g16)
        # Every (tm, tn) expanded with the shift-add arrays the LUTs left over allow (pot_tm = 0, g, 2g, ...);
        # on a large device the step g doubles until the grid has at most GRID_LIMIT points.
        g = g16
        while True:
            tm, tn = _grid(g, b.dsp, tm_max, tn_max)
            if len(tm) == 0:
                return None
            top = np.minimum((np.floor(free / (per_mac * tn)).astype(np.int64) // g) * g, pot_cap)
            counts = top // g + 1
            if counts.sum() <= GRID_LIMIT:
                break
            g *= 2
        self.stats.grid_step = max(self.stats.grid_step, g)
        idx = np.repeat(np.arange(len(tm)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        pot_tm = g * (np.arange(len(idx)) - first)
        tm_e, tn_e = tm[idx], tn[idx]
        pu = pot_array_use(w, k, pot_tm, tn_e, cal, hw, tm_e, pack)
        lut = rest + pu["lut"]
        pot_bram = np.asarray(pu["out_bram18"], np.int64)
        dsp = tm_e * tn_e

        # Mixed layers: frame cycles per ratio (inf where PoT rows have no array).
        big = np.iinfo(np.int64).max // 4
        t_mixed = {}
        for r in self.ratios:
            total = np.zeros(len(idx), np.int64)
            valid = np.ones(len(idx), bool)
            for lay, n in mixed_layers:
                n_pot = pot_rows_of(lay, r)
                valid &= (pot_tm > 0) | (n_pot == 0)
                total += n * _mixed_layer(lay, k, tm_e, tn_e, pot_tm, lay.cout - n_pot, n_pot, self.ports, eta,
                                          hw, pack)[0]
            t_mixed[r] = np.where(valid, total, big)

        best: tuple[tuple, Design] | None = None
        for nh in heads:
            step = math.lcm(nh, g16)
            keep = np.flatnonzero((tm % step == 0) & (tn % step == 0))  # (tm, tn) this nh allows
            if len(keep) == 0:
                continue
            t_dsp = np.zeros(len(tm), np.int64)
            for lay, n in dsp_layers:
                t_dsp[keep] += n * engine_cycles(lay, k, tm[keep], tn[keep], nh, self.ports, eta, hw)
            use = dsp_array_use(w, k, tm, tn, nh, hw)
            bram16 = np.broadcast_to(use["in_bram18"] + use["out_bram18"], tm.shape).astype(np.int64)
            allowed = np.zeros(len(tm), bool)
            allowed[keep] = True
            bram = 2 * (bram16[idx] + pot_bram)
            ok = allowed[idx] & (bram <= b.bram18) & (lut <= b.lut + 1e-6)
            v = np.flatnonzero(ok)
            if len(v) == 0:
                continue
            self.stats.designs += len(v) * len(self.ratios)
            for r in self.ratios:
                total = t_dsp[idx[v]] + t_mixed[r][v]
                fewest = int(total.min())
                if fewest >= big:
                    continue
                tied = v[total == fewest]  # ties are few: settle them by resources
                i = int(tied[np.lexsort((pot_tm[tied], tn_e[tied], tm_e[tied], bram[tied], lut[tied], dsp[tied]))[0]])
                key = (fewest, int(dsp[i]), float(lut[i]), int(bram[i]), r, int(tm_e[i]), int(tn_e[i]),
                       int(pot_tm[i]), nh)
                if best is None or key < best[0]:
                    design = Design(k, int(tm_e[i]), int(tn_e[i]), 0, 0, nh, self.ports, pack,
                                    pot_tm=int(pot_tm[i]), pot_ratio=r)
                    best = (key, design)
        return best[1] if best else None


@dataclass(frozen=True)
class MixedPlan:
    """What the compile driver needs to build a mixed-scheme accelerator for a target frame rate."""

    wbits: int  # weight bits (both row kinds)
    bits: int  # activation bits: the highest that meets the target (the VAQF rule)
    pot_ratio: float  # the PoT ratio to give assign-pot-rows / vaqf-pipeline{pot-ratio=...}
    estimate: Estimate  # the predicted design (tm, tn, nh, pot_tm; FPS, DSP, LUT, BRAM)
    evaluated: tuple[int, ...]  # activation precisions the search evaluated

    def pipeline_options(self) -> dict[str, object]:
        """Keyword arguments of VaqfPipelinePass that lower the model as planned."""
        return {"scheme": "mixed", "wbits": self.wbits, "abits": self.bits, "pot_ratio": self.pot_ratio}


def plan_mixed(workload: Workload, board: Board, target_fps: float, opts: Options = Options(), *,
               wbits: int | None = None, ratios: tuple[float, ...] | None = None, bits: int | None = None,
               calib: Calibration = DEFAULT_CALIBRATION) -> MixedPlan:
    """Activation bits, PoT ratio and tiling of the mixed scheme for `target_fps` on `board`.

    `workload`: a lowered module's (`extract_workload`), VAQF- or mixed-lowered. `bits`: a fixed
    activation precision (a checkpoint's) instead of the binary search. One-line `VaqfError` when the
    target cannot be met. Lower the model with `VaqfPipelinePass(**plan.pipeline_options())`, then
    `assign-tiling` finds the same design for the rows the rule gives at `plan.pot_ratio` (tested).
    """
    from vaqf_compiler.dse.search import check_target, choose_precision

    target = check_target(target_fps)
    searcher = MixedSearcher(workload, board, opts, calib, wbits=wbits, ratios=ratios)
    if bits is not None:
        result, evaluated = searcher.best(bits), (bits,)
        if result.fps < target:
            raise VaqfError(f"mixed scheme: {bits}-bit activations reach {result.fps:.1f} FPS on {board.name}, "
                            f"below the target {target:g} FPS")
    else:
        choice = choose_precision(searcher, target)
        result, evaluated = choice.result, choice.evaluated
    assert result.estimate is not None
    ratio = effective_ratio(searcher.workload, result.estimate.design) if searcher.rows_fixed \
        else result.estimate.design.pot_ratio
    return MixedPlan(searcher.wbits, result.bits, ratio, result.estimate, tuple(evaluated))
