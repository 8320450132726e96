"""Compile time per stage of `vaqf compile` for the built-in DeiTs (median of several runs).

    .venv/bin/python bench/bench_compile.py                       # tiny x3, small x3, base x1, with the g++ build
    .venv/bin/python bench/bench_compile.py --models deit-tiny --runs 5 --no-csim-build

Each run is the driver of `vaqf compile MODEL --board zcu102 --target-fps FPS`
in process (the stages of vaqf_compiler/driver.py: import = build + trace +
import; search = the cost-model search over 1..16 bits; quantize = fold, mark,
calibrate on 4 images; passes = partition, lower, assign-tiling; reference =
the integer interpreter on one test-bench image; emit = the project files),
then, with the C-simulation build, `g++` of the emitted kernel and host into a
fresh directory (no cache). The first run of a process also pays Python's
imports; the median hides that when runs >= 3. Not part of any test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vaqf_compiler.driver import Request, compile_model  # noqa: E402
from vaqf_compiler.progress import Progress  # noqa: E402

STAGES = ("import", "search", "quantize", "passes", "reference", "emit")
# Targets each model meets end to end on a ZCU102 (so every run does the same work).
TARGETS = {"deit-tiny": 50.0, "deit-small": 28.0, "deit-base": 13.0}


def one_run(model: str, target: float, work: Path, csim_build: bool) -> tuple[dict[str, float], int]:
    prj = work / "prj"
    compiled = compile_model(Request(model, "zcu102", target, prj, force=True), Progress(len(STAGES), None))
    times = {s.name: s.seconds for s in compiled.stages}
    if csim_build:
        from vaqf_compiler.backends.hls.csim import build

        with tempfile.TemporaryDirectory(dir=work) as build_dir:
            t = time.perf_counter()
            build(prj, Path(build_dir))
            times["csim build"] = time.perf_counter() - t
    return times, compiled.bits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--runs", type=int, default=3, help="runs of tiny and small (default 3)")
    ap.add_argument("--base-runs", type=int, default=1, help="runs of deit-base (default 1: ~1 min each)")
    ap.add_argument("--no-csim-build", dest="csim_build", action="store_false", help="skip the g++ build")
    args = ap.parse_args(argv)

    cols = [*STAGES, *(["csim build"] if args.csim_build else []), "total"]
    rows = []
    for model in args.models:
        runs = args.base_runs if model == "deit-base" else args.runs
        samples: dict[str, list[float]] = {c: [] for c in cols}
        with tempfile.TemporaryDirectory(prefix="vaqf-bench-") as tmp:
            for i in range(runs):
                times, bits = one_run(model, TARGETS[model], Path(tmp), args.csim_build)
                times["total"] = sum(times.values())
                for c in cols:
                    samples[c].append(times[c])
                print(f"{model} run {i + 1}/{runs}: {times['total']:.1f} s", file=sys.stderr, flush=True)
        rows.append((model, runs, bits, {c: statistics.median(v) for c, v in samples.items()}))

    print("\nvaqf compile, median seconds per stage (board zcu102; target FPS: "
          + ", ".join(f"{m} {TARGETS[m]:g}" for m in args.models) + ")\n")
    head = f"| {'model':<10} | runs | prec. | " + " | ".join(f"{c:>10}" for c in cols) + " |"
    print(head)
    print("|" + "|".join("-" * (len(part)) for part in head.split("|")[1:-1]) + "|")
    for model, runs, bits, med in rows:
        print(f"| {model:<10} | {runs:>4} | W1A{bits:<2} | " + " | ".join(f"{med[c]:>10.2f}" for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
