"""C simulation of an emitted project with g++: no Xilinx tools needed.

`csim(project)` compiles the kernel and the C-simulation host against the
`ap_int` headers — `$XILINX_HLS/include` when set, else the copy inside the
`hls4ml` wheel (the optional `hls` extra) — runs the test bench and returns the
logits, their integer codes and each kernel call's loop trip counts.
"""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaqf_compiler.errors import VaqfError

# Flags of our own code (the tests add -Werror). The ap_int headers come in with
# -isystem; g++ 12 still reports these in their inlined code at our call sites.
CXXFLAGS = ("-std=c++17", "-O2", "-ffp-contract=off", "-Wall", "-Wextra")
QUIET = ("-Wno-unknown-pragmas", "-Wno-unused-label", "-Wno-uninitialized", "-Wno-maybe-uninitialized")
# The sanitizer build (`sanitize=True`, `vaqf csim --sanitize`): AddressSanitizer and
# UndefinedBehaviorSanitizer, the first finding fatal, warnings as errors. C++20
# because ap_private.h left-shifts negative values, undefined before C++20 (and
# reported by UBSan) but defined since; the generated code itself is C++14-clean
# (run_hls.tcl compiles it so). The ap_int headers stay -isystem; QUIET above
# silences only what g++ reports of their inlined code.
SANITIZE_FLAGS = ("-std=c++20", "-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                  "-fno-sanitize-recover=all", "-Werror")
# Exit codes of a sanitizer finding, apart from the test bench's 0 (pass) and 1 (codes differ).
SANITIZER_EXIT = 86
SANITIZER_ENV = {
    "ASAN_OPTIONS": f"exitcode={SANITIZER_EXIT}:detect_leaks=1:abort_on_error=0:strict_string_checks=1",
    "UBSAN_OPTIONS": f"exitcode={SANITIZER_EXIT}:print_stacktrace=1:halt_on_error=1",
    "LSAN_OPTIONS": f"exitcode={SANITIZER_EXIT}",
}
SANITIZER_MARKS = ("runtime error:", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")
SOURCES = ("kernel/vaqf_top.cpp", "host/csim_main.cpp")
INCLUDES = ("kernel", "host")


def find_ap_include() -> Path:
    """The directory holding ap_int.h: $XILINX_HLS/include, else hls4ml's bundled copy."""
    xilinx = os.environ.get("XILINX_HLS")
    if xilinx:
        path = Path(xilinx) / "include"
        if (path / "ap_int.h").is_file():
            return path
        raise VaqfError(f"XILINX_HLS is set but {path}/ap_int.h does not exist")
    spec = importlib.util.find_spec("hls4ml")  # locates the wheel without importing it
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            path = Path(root) / "templates" / "vivado" / "ap_types"
            if (path / "ap_int.h").is_file():
                return path
    raise VaqfError("no ap_int headers: set XILINX_HLS to a Vitis HLS install, or install the hls extra "
                    "(pip install 'vaqf[hls]', which brings hls4ml's copy)")


def find_compiler(cxx: str | None = None) -> str:
    name = cxx or os.environ.get("CXX") or "g++"
    path = shutil.which(name)
    if path is None:
        raise VaqfError(f"C++ compiler {name!r} not found on PATH: install g++ (or set CXX)")
    return path


@dataclass
class CsimResult:
    logits: np.ndarray  # float32 [images, outputs]
    codes: np.ndarray  # int64 [images, outputs]
    passed: bool | None  # bit-identical to tb/golden_codes.bin (None: no golden file)
    trips: list[dict[str, object]]  # per kernel call (first image): name, tiles, steps, compute, words
    build_seconds: float
    run_seconds: float
    output: str = field(repr=False, default="")


def _stamp(compiler: str, flags: list[str], project: Path) -> str:
    """A hash of everything the executable depends on: compiler, flags, the project's C++ sources."""
    h = hashlib.sha256("\0".join([compiler, *flags]).encode())
    for d in INCLUDES:
        for f in sorted((project / d).iterdir()):
            if f.is_file():
                h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def build(project: Path, build_dir: Path | None = None, *, cxx: str | None = None, werror: bool = False,
          extra_flags: tuple[str, ...] = (), sanitize: bool = False) -> Path:
    """Compile the C simulation; returns the executable (reused while sources, compiler and flags are unchanged).

    `sanitize`: the ASan + UBSan build with -Werror (SANITIZE_FLAGS), by default in DIR/build-sanitize.
    """
    project = Path(project)
    if not (project / "project.json").is_file():
        raise VaqfError(f"{project} is not a project emitted by `vaqf emit` (no project.json)")
    compiler = find_compiler(cxx)
    ap = find_ap_include()
    out = Path(build_dir) if build_dir else project / ("build-sanitize" if sanitize else "build")
    out.mkdir(parents=True, exist_ok=True)
    base = [f for f in CXXFLAGS if not (sanitize and (f.startswith("-std=") or f.startswith("-O")))]
    flags = [*base, *QUIET, *(["-Werror"] if werror else []), *(SANITIZE_FLAGS if sanitize else ()), *extra_flags,
             "-isystem", str(ap), *(f"-I{project / d}" for d in INCLUDES)]
    link_flags = [f for f in flags if f.startswith("-fsanitize") or f.startswith("-fno-sanitize")]

    exe = out / "csim"
    stamp = out / "csim.stamp"
    key = _stamp(compiler, flags, project)
    if exe.is_file() and stamp.is_file() and stamp.read_text() == key:
        return exe

    def compile_one(src: str) -> Path:
        obj = out / (Path(src).stem + ".o")
        run = subprocess.run([compiler, *flags, "-c", str(project / src), "-o", str(obj)],
                             capture_output=True, text=True)
        if run.returncode:
            raise VaqfError(f"compiling {src} failed:\n{run.stderr.strip()[-4000:]}")
        return obj

    with concurrent.futures.ThreadPoolExecutor(len(SOURCES)) as pool:
        objects = list(pool.map(compile_one, SOURCES))
    run = subprocess.run([compiler, *link_flags, *[str(o) for o in objects], "-o", str(exe)],
                         capture_output=True, text=True)
    if run.returncode:
        raise VaqfError(f"linking the C simulation failed:\n{run.stderr.strip()[-4000:]}")
    stamp.write_text(key)
    return exe


class SanitizerError(VaqfError):
    """AddressSanitizer or UndefinedBehaviorSanitizer reported a finding in the C simulation."""


def run(project: Path, exe: Path, images: Path | None = None, *, timeout: float | None = None,
        compare: bool = True, sanitize: bool = False) -> tuple[np.ndarray, np.ndarray, bool | None, list[dict[str, object]], str]:
    project = Path(project)
    meta = json.loads((project / "project.json").read_text())
    outputs = int(meta["outputs"])
    images = Path(images) if images else project / "tb" / "input.bin"
    golden = project / "tb" / "golden_codes.bin"
    out_dir = exe.parent / "out"
    out_dir.mkdir(exist_ok=True)
    args = [str(exe), str(project / "weights" / "params.bin"), str(images), str(out_dir)]
    if compare and golden.is_file() and images == project / "tb" / "input.bin":
        args.append(str(golden))
    try:
        env = {**os.environ, **SANITIZER_ENV} if sanitize else None
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise VaqfError(f"the C simulation did not finish in {timeout} s") from None
    text = proc.stdout + proc.stderr
    if sanitize and (proc.returncode == SANITIZER_EXIT or any(m in text for m in SANITIZER_MARKS)):
        first = next((line.strip() for line in text.splitlines() if any(m in line for m in SANITIZER_MARKS)), "")
        raise SanitizerError(f"the sanitizers found a problem in the C simulation: {first}\n{text.strip()[-4000:]}")
    if proc.returncode not in (0, 1):
        raise VaqfError(f"the C simulation failed (exit {proc.returncode}): {text.strip()[-2000:]}")
    logits = np.fromfile(out_dir / "logits.bin", dtype="<f4").reshape(-1, outputs)
    codes = np.fromfile(out_dir / "codes.bin", dtype="<i8").reshape(-1, outputs)
    passed = None if len(args) == 4 else proc.returncode == 0
    trips = [
        {k: (v if k == "name" else int(v)) for k, v in row.items()}
        for row in csv.DictReader(io.StringIO((out_dir / "trips.csv").read_text()))
    ]
    return logits, codes, passed, trips, text


def csim(project: Path, images: np.ndarray | None = None, *, build_dir: Path | None = None,
         cxx: str | None = None, werror: bool = False, timeout: float | None = None,
         sanitize: bool = False) -> CsimResult:
    """Build and run the C simulation of `project`.

    `images` (float32 [N, C, H, W]) replaces the test bench's inputs (then nothing is
    compared); by default tb/input.bin runs and its codes are compared with
    tb/golden_codes.bin. `sanitize`: build with ASan + UBSan and -Werror; any
    finding raises `SanitizerError`.
    """
    project = Path(project)
    t0 = time.perf_counter()
    exe = build(project, build_dir, cxx=cxx, werror=werror, sanitize=sanitize)
    t1 = time.perf_counter()
    path = None
    if images is not None:
        path = exe.parent / "images.bin"
        np.ascontiguousarray(images, dtype="<f4").tofile(path)
    logits, codes, passed, trips, text = run(project, exe, path, timeout=timeout, sanitize=sanitize)
    t2 = time.perf_counter()
    return CsimResult(logits, codes, passed, trips, t1 - t0, t2 - t1, text)


def cycle_report(project: Path, trips: list[dict[str, object]]) -> dict[str, object]:
    """Per kernel call, the cycles the C simulation counted from the kernel's structure beside the cost model's
    (project.json), and the frame totals; FPS from the counted cycles at the board clock is FPGA-only (no host
    ops, no synchronisation)."""
    meta = json.loads((Path(project) / "project.json").read_text())
    planned = meta.get("calls") or [{} for _ in trips]
    if len(planned) != len(trips):
        raise VaqfError(f"{project}: project.json lists {len(planned)} kernel calls, the C simulation made {len(trips)}")
    calls = [{"call": i, "layer": t["name"], "op": str(t["name"]).split(" ")[0],
              "counted_cycles": int(t["cycles"]), "model_cycles": p.get("model_cycles")}
             for i, (t, p) in enumerate(zip(trips, planned, strict=True))]
    counted = sum(c["counted_cycles"] for c in calls)
    model = [c["model_cycles"] for c in calls]
    clock = float(meta["clock_mhz"])
    return {
        "clock_mhz": clock,
        "calls": calls,
        "counted_cycles_per_frame": counted,
        "model_cycles_per_frame": sum(model) if all(m is not None for m in model) else None,
        "counted_fps_fpga": clock * 1e6 / counted if counted else None,
    }
