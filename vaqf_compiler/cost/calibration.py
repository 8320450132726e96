"""The three fitted constants of the cost model, and how they are fitted.

Everything else in the model is a hardware fact or a stated assumption
(docs/cost-model.md). The constants, what each was fitted on, and the
procedure:

1. `axi_efficiency` (η): fitted on the W16A16 baseline's frame rate. The
   baseline design (the fastest 16-bit design the search finds on the board)
   is bandwidth-bound, so its frame rate rises with η; η is the smallest
   value for which the predicted frame rate reaches the reported one.
2. `lut_rest` (L_rest): fitted on the W16A16 baseline's LUT count. The
   baseline has no binary MACs, so its predicted LUTs are L_rest: the fit is
   the reported count itself.
3. `lut_per_bit` (c): fitted on the W1A8 design's frame rate, with η and
   L_rest fixed. Fewer LUTs per MAC let more binary MACs fit in the LUTs left
   over, so the frame rate falls as c grows; c is the largest value for which
   the predicted frame rate still reaches the reported one.

The reported figures themselves are not in this module: the fits take them
as arguments (bench/bench_cost_model.py and the tests pass the paper's
Table V, labelled as such). No rule mentions a particular bit width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from vaqf_compiler.cost.boards import Board
from vaqf_compiler.cost.model import Calibration
from vaqf_compiler.cost.workload import Workload

# Fitted with `fit_calibration` (bench/bench_cost_model.py --refit reproduces them): DeiT-base, ZCU102,
# 150 MHz, default ceilings. Rounded to 4 significant digits in the safe direction (η up, c down).
DEFAULT_CALIBRATION = Calibration(axi_efficiency=0.8548, lut_rest=120000.0, lut_per_bit=1.033)


@dataclass(frozen=True)
class FittedConstant:
    name: str
    value: float
    fitted_on: str


def _bisect(pred: Callable[[float], bool], lo: float, hi: float, *, want_true_at_hi: bool, iters: int = 40) -> float:
    """The boundary of a monotone predicate on [lo, hi]: returns the end of the interval where it holds."""
    for _ in range(iters):
        mid = (lo + hi) / 2
        if pred(mid) == want_true_at_hi:
            hi = mid
        else:
            lo = mid
    return hi if want_true_at_hi else lo


def _fps(workload: Workload, board: Board, calib: Calibration, bits: int, opts, allow_unquantized: bool) -> float:
    from vaqf_compiler.dse.search import Searcher  # the search lives above the model

    return Searcher(workload, board, opts, calib, allow_unquantized=allow_unquantized).datapath(bits).fps


def fit_axi_efficiency(baseline: Workload, board: Board, fps: float, calib: Calibration, opts) -> float:
    """The smallest η for which the baseline (16-bit) design reaches `fps`."""
    return _bisect(lambda eta: _fps(baseline, board, replace(calib, axi_efficiency=eta), 16, opts, True) >= fps,
                   0.01, 1.0, want_true_at_hi=True)


def fit_lut_per_bit(workload: Workload, board: Board, bits: int, fps: float, calib: Calibration, opts) -> float:
    """The largest c for which the `bits`-bit design still reaches `fps`."""
    return _bisect(lambda c: _fps(workload, board, replace(calib, lut_per_bit=c), bits, opts, False) >= fps,
                   0.01, 20.0, want_true_at_hi=False)


def fit_calibration(baseline: Workload, quantized: Workload, board: Board, *, baseline_fps: float,
                    baseline_luts: float, quantized_bits: int, quantized_fps: float, opts=None) -> Calibration:
    """All three constants, in order (η, then L_rest, then c), from the three reported figures."""
    from vaqf_compiler.dse.search import Options

    opts = opts or Options()
    calib = replace(DEFAULT_CALIBRATION, lut_rest=float(baseline_luts), calibration_board_luts=board.lut)
    eta = fit_axi_efficiency(baseline, board, baseline_fps, calib, opts)
    calib = replace(calib, axi_efficiency=eta)
    c = fit_lut_per_bit(quantized, board, quantized_bits, quantized_fps, calib, opts)
    return replace(calib, lut_per_bit=c)


def round_safe(calib: Calibration) -> Calibration:
    """4 significant digits, rounded so the fitted frame rates are still reached (η up, c down)."""
    import math

    def sig(x: float, up: bool) -> float:
        e = math.floor(math.log10(abs(x))) - 3
        q = 10.0**e
        return round((math.ceil(x / q) if up else math.floor(x / q)) * q, 10)

    return replace(calib, axi_efficiency=sig(calib.axi_efficiency, True), lut_per_bit=sig(calib.lut_per_bit, False))


def constants(calib: Calibration = DEFAULT_CALIBRATION) -> list[FittedConstant]:
    """The fitted constants with what they were fitted on (for reports)."""
    return [
        FittedConstant("axi_efficiency", calib.axi_efficiency, "W16A16 baseline FPS (DeiT-base, ZCU102, 150 MHz)"),
        FittedConstant("lut_rest", calib.lut_rest, "W16A16 baseline LUT count"),
        FittedConstant("lut_per_bit", calib.lut_per_bit, "W1A8 FPS (with the two above fixed)"),
    ]
