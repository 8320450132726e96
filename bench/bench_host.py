"""The host ops' time per frame, before and after issue 15's fast host runtime, on this machine.

    .venv/bin/python bench/bench_host.py                         # DeiT-tiny/small/base, every op on the host
    .venv/bin/python bench/bench_host.py --models deit-base --instructions   # + x86 instructions per element

Every op the partition can leave on the CPU (scale, softmax, GELU, patchify,
token concat, position embedding) plus the image quantization, at the shapes
and code widths of the built-in DeiT lowered at W1A8 with every movable op on
the host, is timed by `bench/host_bench.cpp` built with `g++ -O2` against
`backends/hls/include/vaqf_host.h` of two commits: BEFORE (the last commit
before issue 15) and the working tree. Memory is plain cached RAM (the
emitted Zynq host before issue 15 mapped it uncached: slower still there).
Times are the fastest of --runs runs (on a shared machine the instruction
counts are the steadier figure); `--instructions` also counts x86-64
instructions per element with valgrind (callgrind), the
machine-independent figure `vaqf_compiler/cost/host.py` charges the board's
CPU with (docs/cost-model.md, "Host and synchronisation"). Not part of any
test suite.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BEFORE = "c23511d"  # main before issue 15
HEADERS = ("vaqf_host.h", "vaqf_arith.h", "vaqf_types.h")
IMAGE_OP = "image_to_patches"


def host_shapes(model: str, abits: int) -> list[tuple[str, int, int, int, int, int]]:
    """(op, occurrences, rows, row length, input bits, output bits) of every host op of `model`, per frame."""
    from vaqf_compiler.cli.dse_cmd import builtin_workload
    from vaqf_compiler.cost.host import MOVABLE
    from vaqf_compiler.cost.workload import bits_of

    w = builtin_workload(model).placed(frozenset(), MOVABLE)  # every movable op on the host
    out = []
    for lay, n in sorted(w.host, key=lambda ln: ln[0].kind):
        if lay.kind in ("select_token", "patchify"):
            continue  # a view; the patchify is part of the image's row below
        xb = bits_of(lay.inputs[0], abits) if lay.inputs else abits
        out.append((lay.kind, n, lay.elements // lay.row, lay.row, xb, bits_of(lay.y, abits)))
    # The image [3][224][224] as one [672][224] plane in 16 x 16 patches: quantized, then patchified
    # (before issue 15: two passes; after: quantize_patches, one).
    side = int(round(w.image_elements ** 0.5 / 3 ** 0.5))
    out.append((IMAGE_OP, 1, 3 * side, side, 16, 16))
    return out


def build(include: Path, exe: Path, old_api: bool) -> None:
    flags = ["-DVAQF_HOST_GELU_NO_LEN"] if old_api else []
    run = subprocess.run(["g++", "-O2", "-std=c++17", *flags, f"-I{include}", str(ROOT / "bench" / "host_bench.cpp"),
                          "-o", str(exe)], capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"g++ failed for {include}:\n{run.stderr}")


def ns_per_call(exe: Path, op: str, rows: int, row: int, xb: int, yb: int, reps: int) -> float:
    out = subprocess.run([str(exe), op, str(rows), str(row), str(xb), str(yb), str(reps)], capture_output=True,
                         text=True, check=True).stdout
    return float(out.split()[0])


def instructions_per_call(exe: Path, op: str, rows: int, row: int, xb: int, yb: int) -> float:
    """Instructions of one call: callgrind's total for 2 calls minus that for 1 (set-up cancels)."""
    def total(reps: int) -> int:
        run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(exe), op,
                              str(rows), str(row), str(xb), str(yb), str(reps)], capture_output=True, text=True)
        line = next(ln for ln in run.stderr.splitlines() if "refs:" in ln)
        return int(line.split("refs:")[1].replace(",", ""))

    return float(total(2) - total(1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["deit-tiny", "deit-small", "deit-base"])
    ap.add_argument("--abits", type=int, default=8, help="activation bits of the lowering (default 8)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per op (median; default 3)")
    ap.add_argument("--before", default=BEFORE, help=f"the commit to compare with (default {BEFORE})")
    ap.add_argument("--instructions", action="store_true", help="also count instructions per element (valgrind)")
    args = ap.parse_args(argv)
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "before").mkdir()
        for name in HEADERS:
            text = subprocess.run(["git", "show", f"{args.before}:backends/hls/include/{name}"], cwd=ROOT,
                                  capture_output=True, text=True, check=True).stdout
            (work / "before" / name).write_text(text)
        old_api = "int64_t table_len, int64_t in_lo" not in (work / "before" / "vaqf_host.h").read_text()
        exes = {"before": work / "hb_before", "after": work / "hb_after"}
        build(work / "before", exes["before"], old_api)
        build(ROOT / "backends" / "hls" / "include", exes["after"], False)

        print(f"host ops per frame on this machine, g++ -O2, W1A{args.abits}, every movable op on the host; "
              f"before = {args.before}, after = working tree (fastest of {args.runs} runs)\n")
        head = "| model | op | calls | elements | before ms | after ms | speed-up |"
        rule = "|---|---|---|---|---|---|---|"
        if args.instructions:
            head += " instr/elem before | instr/elem after |"
            rule += "---|---|"
        print(head)
        print(rule)
        for model in args.models:
            totals = {"before": 0.0, "after": 0.0}
            for op, n, rows, row, xb, yb in host_shapes(model, args.abits):
                ms = {}
                for side, exe in exes.items():
                    reps = 1 if side == "before" and rows * row > 200_000 else 3
                    t = min(ns_per_call(exe, op, rows, row, xb, yb, reps) for _ in range(args.runs))
                    ms[side] = n * t / 1e6
                    totals[side] += ms[side]
                line = (f"| {model} | {op} | {n} | {rows * row:,} | {ms['before']:.2f} | {ms['after']:.2f} | "
                        f"{ms['before'] / ms['after']:.1f}x |")
                if args.instructions:
                    ipe = {side: instructions_per_call(exe, op, rows, row, xb, yb) / (rows * row)
                           for side, exe in exes.items()}
                    line += f" {ipe['before']:.1f} | {ipe['after']:.1f} |"
                print(line)
            print(f"| {model} | **total** | | | **{totals['before']:.1f}** | **{totals['after']:.1f}** | "
                  f"{totals['before'] / totals['after']:.1f}x |" + (" | |" if args.instructions else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
