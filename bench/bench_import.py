"""Benchmark the front end and the passes: build + trace, import, write, vaqf-pipeline for the built-in DeiTs.

    .venv/bin/python bench/bench_import.py [--repeat 3]

Prints a table of median seconds per stage and the sizes of the .mlir and .npz.
"passes" is `vaqf-pipeline{abits=8}` (fold, mark, partition, lower) on the imported module.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from xdsl.context import Context

from vaqf_compiler.frontend.load import builtin_program
from vaqf_compiler.frontend.torch_import import import_program
from vaqf_compiler.fsutil import write_text_atomically
from vaqf_compiler.ir import print_ir
from vaqf_compiler.models.deit import BUILTIN_CONFIGS
from vaqf_compiler.params import attach_sidecar, save_params
from vaqf_compiler.passes.vaqf_pipeline import VaqfPipelinePass


def measure(name: str, out: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    program = builtin_program(name)
    t1 = time.perf_counter()
    model = import_program(program)
    model.module.verify()
    t2 = time.perf_counter()
    ir = out / f"{name}.mlir"
    attach_sidecar(model.module, f"{name}.npz", save_params(out / f"{name}.npz", model.params))
    write_text_atomically(ir, print_ir(model.module))
    t3 = time.perf_counter()
    VaqfPipelinePass(abits=8).apply(Context(), model.module)
    t4 = time.perf_counter()
    return {
        "passes": t4 - t3,
        "trace": t1 - t0,
        "import": t2 - t1,
        "write": t3 - t2,
        "mlir_kib": ir.stat().st_size / 1024,
        "npz_mib": (out / f"{name}.npz").stat().st_size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'model':<11} {'build+trace s':>13} {'import s':>9} {'write s':>8} {'passes s':>9}"
        f" {'.mlir KiB':>10} {'.npz MiB':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in BUILTIN_CONFIGS:
            runs = [measure(name, Path(tmp)) for _ in range(args.repeat)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(
                f"{name:<11} {med['trace']:>13.2f} {med['import']:>9.3f} {med['write']:>8.2f} {med['passes']:>9.3f}"
                f" {med['mlir_kib']:>10.1f} {med['npz_mib']:>9.1f}"
            )
    print(f"(medians of {args.repeat} runs)")


if __name__ == "__main__":
    main()
