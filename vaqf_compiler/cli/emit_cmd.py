"""`vaqf emit`: a lowered (accel) module -> a Vitis HLS project with host, weights and test bench."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from vaqf_compiler.backends.hls import BOARDS, HlsOptions, Tiling, emit_project, write_project
from vaqf_compiler.backends.hls.program import check_lowered, entry_function
from vaqf_compiler.cli.run_cmd import read_input
from vaqf_compiler.diagnostics import read_ir_file
from vaqf_compiler.driver import hls_board
from vaqf_compiler import validate
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.interp import Interpreter
from vaqf_compiler.params import load_params
from vaqf_compiler.projectdir import check_output_dir

DESCRIPTION = """\
Emit the accelerator of a lowered model (the accel dialect, after
`vaqf-opt -p vaqf-pipeline{abits=K}` and optionally `assign-tiling`) as a
self-contained project: the kernel in C++ for Vitis HLS (kernel/), the host
runtime for C simulation, embedded boards and Alveo (host/), the packed
weights (weights/), a test bench with the integer reference's outputs (tb/),
run_hls.tcl, a Makefile and a README. The output directory appears complete
or not at all; an existing non-empty one is replaced only with --force."""

EPILOG = """\
test bench:
  --tb-input X.npy gives the images [N, C, H, W] (or one [C, H, W]); without it,
  --tb-images N seeded random images are used (default 1). Their golden outputs
  come from the integer reference interpreter (`vaqf run --mode int`).

examples:
  vaqf import --builtin deit-tiny -o m.mlir
  vaqf quantize m.mlir --abits 8 -o q.mlir
  vaqf-opt q.mlir -p 'vaqf-pipeline{abits=8}' -o a.mlir     # a.npz: copy q.npz
  vaqf emit a.mlir -o prj/
  vaqf csim prj/                                           # g++ C simulation, bit-exact check
  vaqf emit a.mlir -o prj/ --force --board u250 --port-bits 128 --tb-input images.npy
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "emit",
        help="emit the HLS project (kernel, host, weights, test bench) of a lowered model",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ir", metavar="MODEL.mlir", type=Path, help="lowered accel IR (its weights .npz beside it)")
    p.add_argument("-o", "--output", metavar="DIR", type=Path, required=True, help="the project directory")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty output directory")
    p.add_argument("--board", metavar="BOARD",
                   help=f"target board: {', '.join(sorted(BOARDS))} or a board .toml file with its part "
                        "(default: the one assign-tiling chose, else zcu102)")
    p.add_argument("--port-bits", type=int, default=64, help="AXI data width, a multiple of 64 (default 64)")
    p.add_argument("--top", default="vaqf_top", help="name of the kernel's top function (default vaqf_top)")
    p.add_argument("--tiling", metavar="TM,TN,NH,TM_Q,TN_Q",
                   help="override the tiling (default: the IR's from assign-tiling, else built-in defaults)")
    p.add_argument("--tb-input", metavar="X.npy", type=Path, help="test-bench images")
    p.add_argument("--tb-images", type=int, help="random test-bench images, instead of --tb-input (default 1)")
    p.set_defaults(func=run)


def parse_tiling(text: str) -> Tiling:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 5:
        raise VaqfError(f"--tiling takes five integers TM,TN,NH,TM_Q,TN_Q, got {text!r}")
    return Tiling(*values)


def test_bench_images(tb_input: Path | None, count: int, shape: tuple[int, ...], seed: int = 0,
                      count_flag: str = "--images") -> np.ndarray:
    """The test bench's float images: from `tb_input` (.npy, one image or a batch), else `count` random ones."""
    if tb_input is not None:
        x = validate.image_batch(read_input(tb_input), shape, f"--tb-input {tb_input}").astype(np.float32)
        validate.finite(x, f"--tb-input {tb_input}")
        return x
    validate.random_images(count, shape, count_flag)
    return np.random.default_rng(seed).standard_normal((count, *shape)).astype(np.float32)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    # Every argument before any work: names, tiling, counts, the output directory.
    options = HlsOptions(top=args.top, port_bits=args.port_bits, board=hls_board(args.board or "zcu102"),
                         tiling=parse_tiling(args.tiling) if args.tiling else None)
    options.check()
    if options.tiling is not None:
        options.tiling.check()
    if args.tb_input is not None and args.tb_images is not None:
        raise VaqfError("--tb-images counts random test-bench images, --tb-input gives them: drop one")
    tb_images = validate.count(1 if args.tb_images is None else args.tb_images, "--tb-images")
    check_output_dir(args.output, args.force, [args.ir, args.tb_input])
    module = read_ir_file(args.ir)
    check_lowered(entry_function(module))  # fail fast on vit-level IR, before any work
    params = load_params(module, args.ir)
    if args.board is None:
        options = replace(options, board=BOARDS[_ir_board(module) or "zcu102"])
    interp = Interpreter(module, params, "int")
    images = test_bench_images(args.tb_input, tb_images, interp.input_shape, count_flag="--tb-images")
    files = emit_project(module, params, options=options, tb_images=images,
                         tb_golden_codes=reference_codes(interp, images), source=args.ir.name)
    write_project(files, args.output, force=args.force, inputs=[args.ir, args.tb_input])
    size = sum(len(b) for b in files.values())
    print(f"{args.output}: {len(files)} files, {size / 1e6:.1f} MB, test bench of {len(images)} image(s) "
          f"({time.perf_counter() - t0:.1f} s); next: vaqf csim {args.output}")
    return 0


def _ir_board(module) -> str | None:
    """The board `assign-tiling` designed for (function attribute `accel.board`), if a known one."""
    attr = entry_function(module).attributes.get("accel.board")
    name = getattr(attr, "data", None)
    return name if name in BOARDS else None


def reference_codes(interp: Interpreter, images: np.ndarray) -> np.ndarray:
    """The integer reference's output codes (what the returned value holds before dequantization)."""
    ret = interp.function.body.block.last_op
    assert ret is not None
    producer = ret.operands[0].owner
    out = []
    for x in images:
        seen: dict = {}
        interp.run(x, lambda op, value: seen.__setitem__(op, value) if op is producer else None)
        out.append(np.asarray(seen[producer], dtype=np.int64).ravel())
    return np.stack(out)
