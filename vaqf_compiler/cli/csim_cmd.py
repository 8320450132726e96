"""`vaqf csim`: build an emitted project with g++ and run its test bench (C simulation)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vaqf_compiler.backends.hls import csim
from vaqf_compiler.backends.hls.csim import cycle_report
from vaqf_compiler.cli.run_cmd import read_input
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.fsutil import write_atomically
from vaqf_compiler.projectdir import read_meta
from vaqf_compiler import validate

DESCRIPTION = """\
C-simulate a project written by `vaqf emit`: compile the kernel and the
C-simulation host with g++ against the ap_int headers ($XILINX_HLS/include if
set, else the copy in the hls4ml wheel: pip install 'vaqf[hls]'), run the
test bench images and compare the output codes with the integer reference's,
bit for bit. Exit status 1 if any code differs. No Xilinx tools are needed."""

EPILOG = """\
examples:
  vaqf csim prj/                                 # the test bench in prj/tb/, compared bit for bit
  vaqf csim prj/ --input images.npy -o logits.npy   # other images (nothing to compare)
  CXX=clang++ vaqf csim prj/
  vaqf csim prj/ --sanitize                      # ASan + UBSan, -Werror: no findings allowed
  vaqf csim prj/ --json cycles.json              # per kernel call: counted vs cost-model cycles
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "csim",
        help="C-simulate an emitted project with g++ (bit-exact check against the integer reference)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("project", metavar="DIR", type=Path, help="a project written by `vaqf emit`")
    p.add_argument("--input", "-i", metavar="X.npy", type=Path, help="images [N, C, H, W] instead of the test bench")
    p.add_argument("-o", "--output", metavar="LOGITS.npy", type=Path, help="where to write the logits (.npy)")
    p.add_argument("--build-dir", type=Path, help="where to compile (default DIR/build)")
    p.add_argument("--cxx", help="the C++ compiler (default $CXX, else g++)")
    p.add_argument("--sanitize", action="store_true",
                   help="build with -Wall -Wextra -Werror, AddressSanitizer and UndefinedBehaviorSanitizer"
                        " (C++20, DIR/build-sanitize); any finding is an error")
    p.add_argument("--json", metavar="OUT.json", type=Path,
                   help="write the cycle report: per kernel call the cycles counted from the kernel's structure in "
                        "C simulation (first image) beside the cost model's, the frame totals and the FPGA-only "
                        "frame rate they give")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Every argument before the build: the project, its images' shape, the output and build paths.
    meta = read_meta(args.project)
    if args.output is not None:
        validate.output_file(args.output, "-o")
    validate.build_dir(args.build_dir)
    images = None
    if args.input is not None:
        images = validate.image_batch(read_input(args.input), tuple(meta["image"]), f"--input {args.input}")
        images = images.astype(np.float32)
    result = csim(args.project, images, build_dir=args.build_dir, cxx=args.cxx, sanitize=args.sanitize)
    if args.output is not None:
        try:
            write_atomically(args.output, lambda f: np.save(f, result.logits))
        except OSError as e:
            raise VaqfError(f"cannot write {args.output}: {e.strerror or e}") from None
    if args.json is not None:
        report = cycle_report(args.project, result.trips)
        try:
            write_atomically(args.json, lambda f: f.write((json.dumps(report, indent=2) + "\n").encode()))
        except OSError as e:
            raise VaqfError(f"cannot write {args.json}: {e.strerror or e}") from None
        model = report["model_cycles_per_frame"]
        print(f"cycles per frame: {report['counted_cycles_per_frame']:,} counted"
              + (f", {model:,} by the cost model" if model else "")
              + f"; {report['counted_fps_fpga']:.1f} FPS (FPGA only, counted) at {report['clock_mhz']:g} MHz")
    top1 = ", ".join(map(str, result.logits.argmax(axis=1).tolist()[:16]))
    timing = f"build {result.build_seconds:.1f} s, run {result.run_seconds:.1f} s"
    if result.passed is None:
        print(f"{len(result.logits)} image(s), top-1 class: {top1} ({timing})")
        return 0
    if result.passed:
        print(f"PASS: {result.codes.size} output codes of {len(result.codes)} image(s) bit-identical to the "
              f"integer reference; top-1 class: {top1} ({timing})")
        return 0
    print(f"FAIL: the C simulation differs from the integer reference ({timing})")
    print(result.output.strip())
    return 1
