"""Cycles per kernel call of the emitted accelerator: counted in C simulation vs the cost model's.

    .venv/bin/python bench/bench_kernel_cycles.py                          # DeiT-tiny, 160 FPS target
    .venv/bin/python bench/bench_kernel_cycles.py --model deit-base --target-fps 20 --top 20

Compiles the model with `vaqf compile --csim` (ZCU102) and prints, per kind of
kernel call and for the slowest calls, the cycles the C simulation counted from
the kernel's own structure (backends/hls/include/vaqf_cycles.h) beside the cost
model's cycles for the same call (`accel.model_cycles`), then the frame totals
and the FPGA-only frame rates they give. Not part of any test suite: the
DeiT-tiny C simulation takes about a minute.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vaqf_compiler.backends.hls.csim import csim, cycle_report  # noqa: E402
from vaqf_compiler.driver import Request, compile_model  # noqa: E402
from vaqf_compiler.progress import Progress  # noqa: E402


def kind(call: dict) -> str:
    words = str(call["layer"]).split(" ")
    return " ".join(words[:2]) if words[0] == "accel.engine" else words[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="deit-tiny")
    ap.add_argument("--target-fps", type=float, default=160.0)
    ap.add_argument("--board", default="zcu102")
    ap.add_argument("--top", type=int, default=12, help="slowest calls to list")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        prj = Path(work) / "prj"
        compile_model(Request(args.model, args.board, args.target_fps, prj, force=True), Progress(7, None))
        report = cycle_report(prj, csim(prj).trips)
    calls = report["calls"]
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in calls:
        row = by_kind[kind(c)]
        row[0] += 1
        row[1] += c["counted_cycles"]
        row[2] += c["model_cycles"] or 0
    print(f"{args.model} on {args.board} at {report['clock_mhz']:g} MHz: cycles per frame by kind of kernel call")
    print(f"{'kind':28s} {'calls':>5s} {'counted':>11s} {'model':>11s} {'counted/model':>13s}")
    for k, (n, counted, model) in sorted(by_kind.items(), key=lambda kv: -kv[1][1]):
        ratio = f"{counted / model:.2f}" if model else "-"
        print(f"{k:28s} {n:5d} {counted:11,d} {model:11,d} {ratio:>13s}")
    print(f"\nslowest {args.top} calls")
    for c in sorted(calls, key=lambda c: -c["counted_cycles"])[: args.top]:
        model = c["model_cycles"]
        print(f"{c['call']:4d} {str(c['layer'])[:70]:70s} {c['counted_cycles']:9,d} "
              f"{(f'{model:9,d}' if model else '        -')}")
    model = report["model_cycles_per_frame"]
    print(f"\nframe: {report['counted_cycles_per_frame']:,} cycles counted -> {report['counted_fps_fpga']:.1f} FPS "
          "(FPGA only)" + (f"; cost model {model:,} -> {report['clock_mhz'] * 1e6 / model:.1f} FPS" if model else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
