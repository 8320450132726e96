"""What `vaqf dse` prints and writes: the per-precision table, the choice per target, a JSON report."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from vaqf_compiler.cost.calibration import constants
from vaqf_compiler.cost.model import Estimate, binary_lanes, packing
from vaqf_compiler.dse.search import Choice, PrecisionResult, Searcher, objective_fps


def design_text(est: Estimate) -> str:
    """`16b 100x16 | bin 336x16 | nh 1 | G 8 | 2 ports` (+ idle-DSP lanes when packed);
    mixed designs: `dsp 124x16 | pot 56x16 | r 0.3125 | nh 1 | 2 ports`."""
    d = est.design
    if any(layer.array == "dsp+pot" for layer in est.layers):
        packed = " (2 rows/DSP)" if d.pack_dsp else ""
        return (f"dsp {d.tm}x{d.tn}{packed} | pot {d.pot_tm}x{d.tn} | r {d.pot_ratio:g} | nh {d.nh} | "
                f"{d.ports} ports")
    parts = [f"16b {d.tm}x{d.tn}"]
    if d.tm_q:
        lanes = int(binary_lanes(d.bits, d.tm_q, d.tn_q, d.tm * d.tn, d.pack_dsp))
        parts.append(f"bin {d.tm_q}x{d.tn_q}" + (f" +{lanes - d.tm_q} DSP lanes" if lanes > d.tm_q else ""))
        parts.append(f"G {packing(d.bits)}")
    parts.append(f"nh {d.nh}")
    parts.append(f"{d.ports} ports")
    return " | ".join(parts)


def scheme_label(searcher: Searcher, bits: int) -> str:
    """`W1A8` (VAQF) or `W4A8 mixed`."""
    wbits = getattr(searcher, "wbits", None)
    return f"W{wbits}A{bits} mixed" if getattr(searcher, "scheme", "vaqf") == "mixed" else f"W1A{bits}"


def comparison(rows: list[tuple[str, Searcher, Choice | None, str]]) -> str:
    """One row per scheme for one target: the chosen precision, FPS and resources (or why none)."""
    head = f"{'scheme':<7} {'weights/acts':<12} {'FPS':>7} {'FPGA':>7} {'DSP':>5} {'kLUT':>6} {'BRAM36':>7}  design"
    lines = [head, "-" * len(head)]
    for scheme, searcher, choice, err in rows:
        if choice is None or choice.result.estimate is None:
            lines.append(f"{scheme:<7} {'-':<12} {'-':>7} {'-':>7} {'-':>5} {'-':>6} {'-':>7}  {err}")
            continue
        e = choice.result.estimate
        lines.append(f"{scheme:<7} {scheme_label(searcher, choice.bits).removesuffix(' mixed'):<12} "
                     f"{objective_fps(searcher, choice.result):>7.2f} {e.fps:>7.2f} "
                     f"{e.dsp:>5} {e.lut / 1000:>6.1f} {e.bram36:>7.1f}  {design_text(e)}")
    return "\n".join(lines)


def _pct(used: float, total: float) -> str:
    return f"{100 * used / total:.0f}%"


def table(searcher: Searcher, results: list[PrecisionResult], choices: list[Choice]) -> str:
    """One row per precision: FPS, resources (share of the board), feasibility, the design."""
    b = searcher.board
    chosen = {c.bits: c for c in choices}
    e2e = searcher.opts.end_to_end
    fps_head = f"{'FPS e2e':>7} {'FPGA':>7} {'host ms':>7} {'sync ms':>7}" if e2e else f"{'FPS':>7}"
    head = f"{'bits':>4} {fps_head} {'DSP':>11} {'LUT':>14} {'BRAM36':>13}  {'fits':<4} {'meets':<10} design"
    lines = [head, "-" * len(head)]
    for r in results:
        e = r.estimate
        meets = ",".join(f"{c.target:g}" for c in choices if objective_fps(searcher, r) >= c.target) or "-"
        mark = "*" if r.bits in chosen else " "
        if e is None:
            dash = f"{'-':>7} {'-':>7} {'-':>7} {'-':>7}" if e2e else f"{'-':>7}"
            lines.append(f"{r.bits:>3}{mark} {dash} {'-':>11} {'-':>14} {'-':>13}  {'no':<4} {'-':<10} nothing fits")
            continue
        width = f" ({e.design.bits}-bit datapath)" if e.design.bits != r.bits else ""
        fps = (f"{e.fps_end_to_end:>7.2f} {e.fps:>7.2f} {e.host_ms:>7.2f} {e.sync_ms:>7.2f}" if e2e
               else f"{e.fps:>7.2f}")
        lines.append(
            f"{r.bits:>3}{mark} {fps} {e.dsp:>5} ({_pct(e.dsp, b.dsp):>3}) {e.lut:>7} ({_pct(e.lut, b.lut):>3})"
            f" {e.bram36:>6.1f} ({_pct(e.bram36, b.bram36):>3})  {'yes':<4} {meets:<10} {design_text(e)}{width}"
        )
    return "\n".join(lines)


def estimate_json(e: Estimate | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "fps": e.fps,
        "fps_fpga": e.fps,
        "host_ms_per_frame": e.host_ms,
        "sync_ms_per_frame": e.sync_ms,
        "fps_end_to_end": e.fps_end_to_end,
        "host_ops_ms": dict(e.host_ops_ms),
        "on_accel": list(e.on_accel),
        "kernel_calls": e.kernel_calls,
        "cycles": e.cycles,
        "latency_ms": e.latency_ms,
        "dsp": e.dsp,
        "lut": e.lut,
        "bram18": e.bram18,
        "bram36": e.bram36,
        "design": e.design.as_dict(),
        "layers": [asdict(layer) for layer in e.layers],
    }


def report_json(searcher: Searcher, results: list[PrecisionResult], choices: list[Choice],
                unreachable: list[tuple[float, str]], packed: list[tuple[Choice, PrecisionResult]],
                seconds: float) -> dict[str, Any]:
    b, o = searcher.board, searcher.opts
    scheme = getattr(searcher, "scheme", "vaqf")
    extra: dict[str, Any] = {}
    if scheme == "mixed":
        extra = {"wbits": searcher.wbits, "pot_ratios": list(searcher.ratios), "rows_fixed_by_ir": searcher.rows_fixed}
    return {
        "scheme": scheme,
        **extra,
        "model": searcher.workload.name,
        "board": asdict(b),
        "options": asdict(o),
        "budget": asdict(searcher.budget),
        "calibration": [asdict(c) for c in constants(searcher.calib)],
        "precisions": [{"bits": r.bits, "feasible": r.feasible, **(estimate_json(r.estimate) or {})} for r in results],
        "targets": [
            {"target_fps": c.target, "bits": c.bits, "fps": c.result.fps, "fps_end_to_end": c.result.fps_end_to_end,
             "evaluated_bits": list(c.evaluated)}
            for c in choices
        ]
        + [{"target_fps": t, "error": msg} for t, msg in unreachable],
        "pack_dsp": [
            {"target_fps": c.target, "bits": c.bits, "fps": p.fps, "gain": p.fps / c.result.fps - 1,
             **(estimate_json(p.estimate) or {})}
            for c, p in packed
        ],
        "search": {"seconds": seconds, "tilings_evaluated": searcher.stats.designs,
                   **({"grid_step": searcher.stats.grid_step} if scheme == "mixed" else {})},
    }
