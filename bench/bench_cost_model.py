"""The cost model against the paper's Table V, and the time of the design-space search.

    .venv/bin/python bench/bench_cost_model.py [--repeat 20] [--refit]

Prints, for DeiT-base on ZCU102 at 150 MHz:
1. the fitted constants and what each was fitted on (`--refit` fits them again from the
   paper's figures and shows they match the stored ones);
2. predicted vs reported for every Table V row and resource, with the error and whether the
   figure was fitted, held out (a prediction) or is only a trend (BRAM), and the issue's
   acceptance checks;
3. the precision the search picks for 24 and 30 FPS (binary search and every precision);
4. the sensitivity of the held-out prediction to the LUT-ceiling default (c refitted each time);
5. the --pack-dsp design points;
6. the search time (median of --repeat runs, each with a cold cache).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from vaqf_compiler.cli.dse_cmd import builtin_workload
from vaqf_compiler.cost.boards import load_board
from vaqf_compiler.cost.calibration import DEFAULT_CALIBRATION, constants, fit_calibration, fit_lut_per_bit, round_safe
from vaqf_compiler.dse.report import design_text
from vaqf_compiler.dse.search import Options, Searcher, choose_precision, exhaustive_precision

# The paper's reported figures (VAQF, Table V: DeiT-base, ZCU102, 150 MHz). W32A32 in software is
# W16A16 (16-bit fixed point) on the hardware. These are targets, used here and in the tests only.
PAPER_TABLE_V = {
    "W16A16": {"fps": 10.0, "dsp": 1564, "kLUT": 120.0, "BRAM36": 453.5, "kFF": 99},
    "W1A8": {"fps": 24.8, "dsp": 1564, "kLUT": 143.0, "BRAM36": 565.5, "kFF": 110},
    "W1A6": {"fps": 31.6, "dsp": 673, "kLUT": 166.0, "BRAM36": 392.5, "kFF": 82},
}
# What each figure is to the model.
STATUS = {
    ("W16A16", "fps"): "fitted (axi_efficiency)",
    ("W16A16", "kLUT"): "fitted (lut_rest)",
    ("W1A8", "fps"): "fitted (lut_per_bit)",
}
# The acceptance bands: (row, figure) -> allowed |relative error|.
ACCEPT = {("W1A6", "fps"): 0.15, ("W1A8", "kLUT"): 0.25, ("W1A6", "kLUT"): 0.25, ("W1A8", "dsp"): 0.25}


def predictions(board, calib=DEFAULT_CALIBRATION, opts=Options()):
    quantized, baseline = builtin_workload("deit-base"), builtin_workload("deit-base", baseline=True)
    base = Searcher(baseline, board, opts, calib, allow_unquantized=True).datapath(16).estimate
    s = Searcher(quantized, board, opts, calib)
    return s, {"W16A16": base, "W1A8": s.best(8).estimate, "W1A6": s.best(6).estimate}


def figures(e) -> dict[str, float | None]:
    return {"fps": e.fps, "dsp": e.dsp, "kLUT": e.lut / 1000, "BRAM36": e.bram36, "kFF": None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20, help="timing runs of the search (default 20)")
    ap.add_argument("--refit", action="store_true", help="fit the three constants again from Table V")
    args = ap.parse_args()
    board = load_board("zcu102")
    t0 = time.perf_counter()
    quantized, baseline = builtin_workload("deit-base"), builtin_workload("deit-base", baseline=True)
    print(f"DeiT-base imported and lowered in {time.perf_counter() - t0:.1f} s "
          f"({quantized.macs() / 1e9:.2f} GMAC per frame, {quantized.macs(binary=True) / 1e9:.2f} of them binary)\n")

    print("== Fitted constants (docs/cost-model.md) ==")
    for c in constants():
        print(f"  {c.name:<15} = {c.value:<10g} fitted on {c.fitted_on}")
    if args.refit:
        p = PAPER_TABLE_V
        fitted = fit_calibration(baseline, quantized, board, baseline_fps=p["W16A16"]["fps"],
                                 baseline_luts=p["W16A16"]["kLUT"] * 1000, quantized_bits=8,
                                 quantized_fps=p["W1A8"]["fps"])
        same = round_safe(fitted) == DEFAULT_CALIBRATION
        verdict = "matches" if same else "DIFFERS FROM"
        print(f"  refit: axi_efficiency {fitted.axi_efficiency:.6f}, lut_rest {fitted.lut_rest:g}, "
              f"lut_per_bit {fitted.lut_per_bit:.6f} -> rounded {verdict} the stored values")

    searcher, pred = predictions(board)
    print("\n== Table V: predicted vs the paper (DeiT-base, ZCU102, 150 MHz) ==")
    print(f"  {'row':<7} {'figure':<7} {'predicted':>10} {'paper':>8} {'error':>8}  status")
    checks = []
    for row, paper in PAPER_TABLE_V.items():
        got = figures(pred[row])
        for key, want in paper.items():
            value = got[key]
            if value is None:
                print(f"  {row:<7} {key:<7} {'-':>10} {want:>8g} {'-':>8}  not modelled")
                continue
            err = value / want - 1
            status = STATUS.get((row, key)) or ("trend only" if key == "BRAM36" else "held out (prediction)")
            band = ACCEPT.get((row, key))
            verdict = ""
            if band is not None:
                ok = abs(err) <= band
                checks.append(ok)
                verdict = f"  [{'pass' if ok else 'FAIL'}: within ±{band:.0%}]"
            elif row == "W1A6" and key == "dsp":
                verdict = "  [not explained by the model: the paper traded DSPs for LUTs after place and route]"
            print(f"  {row:<7} {key:<7} {value:>10.4g} {want:>8g} {err:>+8.1%}  {status}{verdict}")
    ratio = pred["W1A6"].fps / pred["W1A8"].fps
    paper_ratio = PAPER_TABLE_V["W1A6"]["fps"] / PAPER_TABLE_V["W1A8"]["fps"]
    ok = abs(ratio / paper_ratio - 1) <= 0.10
    checks.append(ok)
    print(f"  FPS(W1A6)/FPS(W1A8) = {ratio:.3f} vs the paper's {paper_ratio:.3f} ({ratio / paper_ratio - 1:+.1%}) "
          f"[{'pass' if ok else 'FAIL'}: within ±10%]")
    fps = [r.fps for r in searcher.table()]
    mono = all(a >= b for a, b in zip(fps, fps[1:]))
    checks.append(mono)
    print(f"  FPS never decreases as activation bits decrease (1..16 bits): {'pass' if mono else 'FAIL'}")
    bram = " -> ".join(f"{pred[r].bram36:g}" for r in PAPER_TABLE_V)
    paper_bram = " -> ".join(f"{v['BRAM36']:g}" for v in PAPER_TABLE_V.values())
    print(f"  BRAM36 trend W16A16 -> W1A8 -> W1A6: predicted {bram}, paper {paper_bram}")
    for row in PAPER_TABLE_V:
        print(f"  design {row}: {design_text(pred[row])}" + ("" if row != "W16A16" else " (no binary array)"))

    print("\n== Precision chosen for a target (ZCU102) ==")
    for target in (24.0, 30.0):
        c, e = choose_precision(searcher, target), exhaustive_precision(searcher, target)
        print(f"  {target:g} FPS -> {c.bits}-bit activations at {c.result.fps:.2f} FPS "
              f"(binary search evaluated {list(c.evaluated)}; every precision gives {e.bits} bits)")
        checks.append(c.bits == e.bits)
    print(f"  best with 1-bit activations: {searcher.max_fps().fps:.2f} FPS")

    print("\n== Sensitivity to the LUT-ceiling default (lut_per_bit refitted on W1A8 each time) ==")
    for ceiling in (0.55, 0.6, 0.65, 0.7):
        opts = Options(lut_ceiling=ceiling)
        c = fit_lut_per_bit(quantized, board, 8, PAPER_TABLE_V["W1A8"]["fps"], DEFAULT_CALIBRATION, opts)
        s, p = predictions(board, replace(DEFAULT_CALIBRATION, lut_per_bit=c), opts)
        print(f"  lut-ceiling {ceiling:.2f}: lut_per_bit {c:.3f} -> W1A8 {p['W1A8'].fps:.2f} FPS, "
              f"{p['W1A8'].lut / 1000:.0f} kLUT; W1A6 {p['W1A6'].fps:.2f} FPS, {p['W1A6'].lut / 1000:.0f} kLUT; "
              f"24 FPS -> {choose_precision(s, 24).bits} bits, 30 FPS -> {choose_precision(s, 30).bits} bits")

    print("\n== --pack-dsp: idle DSPs run binary MACs too (beyond the paper) ==")
    for bits in (8, 6):
        plain, packed = searcher.best(bits), searcher.best(bits, pack_dsp=True)
        print(f"  {bits}-bit: {plain.fps:.2f} -> {packed.fps:.2f} FPS ({packed.fps / plain.fps - 1:+.1%}); "
              f"{design_text(packed.estimate)}")

    print(f"\n== Search time (median of {args.repeat}, cold cache each run) ==")
    one, table = [], []
    for _ in range(args.repeat):
        s = Searcher(quantized, board)
        t = time.perf_counter()
        choose_precision(s, 24)
        one.append(time.perf_counter() - t)
        s = Searcher(quantized, board)
        t = time.perf_counter()
        s.table()
        table.append(time.perf_counter() - t)
    print(f"  one target (binary search, 1 + 4 rounds): {statistics.median(one) * 1000:.0f} ms")
    print(f"  all 16 precisions (the `vaqf dse` table):   {statistics.median(table) * 1000:.0f} ms "
          f"({s.stats.designs} tilings evaluated)")
    print(f"\nacceptance checks: {sum(checks)}/{len(checks)} pass")


if __name__ == "__main__":
    main()
