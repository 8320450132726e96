"""Images per second of the batched integer reference against `vaqf run --mode int`, DeiT-tiny and DeiT-base.

    .venv/bin/python bench/bench_eval.py                          # tiny and base, 2 threads, batch 8
    .venv/bin/python bench/bench_eval.py --models deit-tiny --threads 1 --batch 4 --images 64

Both sides compute the same codes (checked here on the images both ran): the
numpy golden model (`vaqf_compiler.interp.Interpreter(..., "int")`, what
`vaqf run --mode int` runs, one image at a time, in process: no start-up or
file reading counted) and `BatchedReference(..., "int")` (PyTorch, a batch at
a time). The model is the built-in DeiT (seeded random weights) quantized W1A8
and calibrated on one random image; the images are seeded random [3, 224, 224].
torch and the BLAS under numpy get --threads threads each. Wall time is what a
user waits; CPU time (process time, all threads) is reported beside it because
other processes on a shared machine inflate wall time. A warm-up image/batch is
not timed. Not part of any test suite.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (images through the numpy path, images through the batched path) per model by default
WORK = {"deit-tiny": (4, 64), "deit-base": (2, 16)}


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_model(name: str, batch: int, numpy_images: int, batched_images: int) -> dict:
    import numpy as np

    from vaqf_compiler.cli.quantize_cmd import quantize_module, scheme_marker
    from vaqf_compiler.frontend.load import builtin_program
    from vaqf_compiler.frontend.torch_import import import_program
    from vaqf_compiler.interp import Interpreter
    from vaqf_compiler.interp.batched import BatchedReference

    model = import_program(builtin_program(name))
    rng = np.random.default_rng(0)
    images = rng.standard_normal((1 + max(numpy_images, batched_images + batch), 3, 224, 224)).astype(np.float32)
    marker, _ = scheme_marker("vaqf", 1, 8, None)
    quantize_module(model.module, model.params, marker, images[:1])

    interp = Interpreter(model.module, model.params, "int")
    interp.run(images[0])  # warm-up: parameters, constants, tables
    want: list[np.ndarray] = []
    np_wall, np_cpu = timed(lambda: want.extend(interp.run(x) for x in images[1 : 1 + numpy_images]))

    ref = BatchedReference(model.module, model.params, "int")
    ref.run(images[:batch])  # warm-up
    got: list[np.ndarray] = []
    chunks = [images[1 + i : 1 + min(i + batch, batched_images)] for i in range(0, batched_images, batch)]
    b_wall, b_cpu = timed(lambda: got.extend(ref.run(c) for c in chunks))
    same = np.array_equal(np.concatenate(got)[:numpy_images], np.stack(want))
    return {
        "model": name, "numpy_ips": numpy_images / np_wall, "batched_ips": batched_images / b_wall,
        "numpy_cpu": np_cpu / numpy_images, "batched_cpu": b_cpu / batched_images, "identical": same,
        "numpy_images": numpy_images, "batched_images": batched_images,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(WORK), choices=list(WORK))
    ap.add_argument("--threads", type=int, default=2, help="torch and BLAS threads (default 2)")
    ap.add_argument("--batch", type=int, default=8, help="images per batch of the batched reference (default 8)")
    ap.add_argument("--images", type=int, help="images through the batched reference (default: tiny 64, base 16)")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before numpy and torch load their thread pools
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    for name in args.models:
        numpy_images, batched_images = WORK[name]
        rows.append(bench_model(name, args.batch, numpy_images, args.images or batched_images))
    load = os.getloadavg()[0]
    print(f"W1A8, {args.threads} thread(s) (torch and BLAS), batch {args.batch}; "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end\n")
    print("| model | `vaqf run --mode int` img/s | batched img/s | speed-up (wall) "
          "| CPU s/img numpy | CPU s/img batched | speed-up (CPU) | codes identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['model']} | {r['numpy_ips']:.2f} | {r['batched_ips']:.2f} | {r['batched_ips'] / r['numpy_ips']:.1f}x "
              f"| {r['numpy_cpu']:.3f} | {r['batched_cpu']:.3f} | {r['numpy_cpu'] / r['batched_cpu']:.1f}x "
              f"| {'yes' if r['identical'] else 'NO'} |")
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
