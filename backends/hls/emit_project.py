"""The whole project: kernel, host, weights, test bench, build scripts, README.

`emit_project(module, params, ...)` returns {relative path: bytes}: the
generated C++ (`emit_kernel`, `emit_host`), the static headers and host
sources copied from this package, the packed parameters (`weights/`), the test
bench (`tb/`), `Makefile` (C simulation with g++), `run_hls.tcl` (Vitis HLS
csynth/cosim/export), `board/` (Vivado block design and bitstream scripts, or
the v++ link configuration: `emit_board`), `project.json` and `README.md`. The output depends only
on the inputs (byte-identical for the same module, parameters and options).
`write_project` writes it atomically.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, ModuleOp, StringAttr

from vaqf_compiler.backends.hls.csim import CXXFLAGS, QUIET
from vaqf_compiler.backends.hls.emit_board import emit_board
from vaqf_compiler.backends.hls.emit_host import call_title, emit_host
from vaqf_compiler.backends.hls.emit_kernel import emit_kernel
from vaqf_compiler.backends.hls.overflow import check_program as check_overflow
from vaqf_compiler.backends.hls.program import Program, build_program, shape3
from vaqf_compiler.backends.hls.target import HlsOptions
from vaqf_compiler.dialects import accel
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.fsutil import write_files
from vaqf_compiler.projectdir import staged_project

# Static sources: (package folder, file) -> project path.
STATIC = {
    ("include", "vaqf_types.h"): "kernel/vaqf_types.h",
    ("include", "vaqf_arith.h"): "kernel/vaqf_arith.h",
    ("include", "vaqf_pack.h"): "kernel/vaqf_pack.h",
    ("include", "vaqf_cycles.h"): "kernel/vaqf_cycles.h",
    ("include", "vaqf_engine.h"): "kernel/vaqf_engine.h",
    ("include", "vaqf_units.h"): "kernel/vaqf_units.h",
    ("include", "vaqf_host.h"): "host/vaqf_host.h",
    ("host", "device_csim.h"): "host/device_csim.h",
    ("host", "csim_main.cpp"): "host/csim_main.cpp",
    ("host", "main_zynq.cpp"): "host/main_zynq.cpp",
    ("host", "main_xrt.cpp"): "host/main_xrt.cpp",
}


# The hand-written kernel headers (a harness that includes vaqf_engine.h needs them all).
KERNEL_HEADERS = tuple(name for (folder, name), path in STATIC.items() if path.startswith("kernel/"))


def static_file(folder: str, name: str) -> bytes:
    return resources.files("vaqf_compiler.backends.hls").joinpath(folder, name).read_bytes()


def precision(program: Program) -> str:
    return f"W{program.wbits}A{program.abits}"


def _pot_rows(program: Program) -> dict[str, list[int]]:
    """Per mixed FC layer (by its weight's name): [power-of-two rows, rows]."""
    out = {}
    for op in program.ops:
        if isinstance(op, accel.EngineOp) and not op.is_attention and op.quant.mixed and op.weight is not None:
            out[op.weight.key] = [program.scalar(op, "n_pot"), int(shape3(op.result)[2])]
    return out


def _pot_ratio(program: Program) -> float | None:
    """The ratio `assign-pot-rows` recorded on the function (`vit.pot_ratio`), if any."""
    attr = program.function.attributes.get("vit.pot_ratio")
    return attr.value.data if isinstance(attr, FloatAttr) else None


def _json(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def ir_estimate(program: Program) -> dict[str, object] | None:
    """The prediction `assign-tiling` wrote on the function (`accel.fps`, `accel.dsp`, ...), if any."""
    out: dict[str, object] = {}
    for name, attr in program.function.attributes.items():
        if not name.startswith("accel."):
            continue
        key = name.removeprefix("accel.")
        if isinstance(attr, IntegerAttr):
            out[key] = attr.value.data
        elif isinstance(attr, FloatAttr):
            out[key] = attr.value.data
        elif isinstance(attr, StringAttr):
            out[key] = attr.data
    return out or None


def project_meta(program: Program, tb_images: int, estimate: Mapping[str, object] | None, source: str) -> dict:
    o, c = program.options, program.config
    t = c.tiling
    return {
        "format": 1,
        "source": source,
        "top": o.top,
        "port_bits": o.port_bits,
        "board": o.board.name,
        "part": o.board.part,
        "clock_mhz": o.board.clock_mhz,
        "precision": precision(program),
        "abits": program.abits,
        "wbits": program.wbits,
        "tiling": {"tm": t.tm, "tn": t.tn, "nh": t.nh, "tm_q": t.tm_q, "tn_q": t.tn_q,
                   **({"pot_tm": t.pot_tm} if c.has_pot else {})},
        "scheme": "mixed" if program.mixed else "vaqf",
        **({"pot_ratio": _pot_ratio(program), "pot_rows": _pot_rows(program)} if program.mixed else {}),
        "tiling_source": "ir" if c.tiling_from_ir else ("options" if o.tiling else "default"),
        "packing": {"g16": o.port_bits // 16, "gq": o.port_bits // program.code_bits, "gw": o.port_bits},
        "image": list(shape3(program.image)),
        "outputs": int(np.prod(shape3(program.output))),
        "input_step": program.input_step,
        "output_step": program.output_step,
        "param_words": program.param_words,
        "ddr_words": program.ddr_words,
        "kernel_calls": sum(1 for op in program.ops if program.is_kernel_call(op)),
        "params_sha256_16": program.digest(),
        "tb_images": tb_images,
        "estimate": dict(estimate) if estimate else ir_estimate(program),
        "ports_per_stream": {"ir": program.ports, "kernel": 1},
        "calls": kernel_calls(program),
    }


def kernel_calls(program: Program) -> list[dict[str, object]]:
    """Each kernel call in order: its title (as in the C simulation's trips.csv), op, and the cost model's
    cycles for it (`accel.model_cycles`, written by assign-tiling; null without it)."""
    calls = []
    for op in (op for op in program.ops if program.is_kernel_call(op)):
        cycles = op.attributes.get("accel.model_cycles")
        calls.append({"call": len(calls), "layer": call_title(op), "op": op.name,
                      "model_cycles": cycles.value.data if isinstance(cycles, IntegerAttr) else None})
    return calls


def _params_manifest(program: Program) -> bytes:
    return _json({
        "port_bits": program.options.port_bits,
        "words": program.param_words,
        "layout": "each array: rows of `cols` codes, a row every `row_stride` codes, G = port_bits // bits per "
                  "word, lowest bits first; signed codes two's complement, 1-bit signed +1 -> 1, -1 -> 0",
        "arrays": [
            {"name": e.name, "base": e.base, "words": e.words, "rows": e.rows, "cols": e.cols,
             "row_stride": e.row_stride, "bits": e.elem.bits, "signed": e.elem.signed}
            for e in program.arena.entries
        ],
    })


MAKEFILE = string.Template("""\
# Generated by vaqf. C simulation of the accelerator with g++ (no Xilinx tools):
#   make csim                      # build build/csim and run the test bench
#   make csim AP_INCLUDE=/path     # the directory holding ap_int.h
# AP_INCLUDE is found as `vaqf csim .` finds it: $$(XILINX_HLS)/include, else the copy in the
# hls4ml wheel (templates/vivado/ap_types) of $$(PYTHON)'s environment.
CXX ?= g++
PYTHON ?= python3
HLS4ML_AP = $$(shell $$(PYTHON) -c "import importlib.util as u, os; s = u.find_spec('hls4ml'); print(os.path.join(list(s.submodule_search_locations)[0], 'templates', 'vivado', 'ap_types') if s else '')" 2>/dev/null)
AP_INCLUDE ?= $$(if $$(XILINX_HLS),$$(XILINX_HLS)/include,$$(HLS4ML_AP))
CXXFLAGS ?= $cxxflags
FLAGS = $$(CXXFLAGS) -isystem $$(AP_INCLUDE) -Ikernel -Ihost
HEADERS = $$(wildcard kernel/*.h host/*.h)

.PHONY: csim clean check-ap

csim: build/csim
\tmkdir -p build/out
\t./build/csim weights/params.bin tb/input.bin build/out $$(wildcard tb/golden_codes.bin)

check-ap:
\t@test -f "$$(AP_INCLUDE)/ap_int.h" || { echo "ap_int.h not found in '$$(AP_INCLUDE)': set XILINX_HLS to a Vitis HLS install, pip install hls4ml in the environment of $$(PYTHON), or make csim AP_INCLUDE=DIR (the directory holding ap_int.h)"; exit 1; }

build/%.o: kernel/%.cpp $$(HEADERS) | check-ap
\tmkdir -p build
\t$$(CXX) $$(FLAGS) -c $$< -o $$@

build/%.o: host/%.cpp $$(HEADERS) | check-ap
\tmkdir -p build
\t$$(CXX) $$(FLAGS) -c $$< -o $$@

build/csim: build/vaqf_top.o build/csim_main.o
\t$$(CXX) $$^ -o $$@

clean:
\trm -rf build
""")

RUN_HLS = string.Template("""\
# Generated by vaqf. Vitis HLS: C simulation, synthesis, co-simulation and export of the accelerator
# for $board ($part, $clock MHz).
#   vitis_hls -f run_hls.tcl                    # csim + csynth + export
#   VAQF_COSIM=1 vitis_hls -f run_hls.tcl       # also RTL co-simulation (slow: runs the whole model)
set top $top
set part $part
set period $period
set here [file dirname [file normalize [info script]]]

open_project -reset vaqf_hls
set_top $$top
add_files $$here/kernel/vaqf_top.cpp -cflags "-I$$here/kernel -std=c++14"
add_files -tb $$here/host/csim_main.cpp -cflags "-I$$here/kernel -I$$here/host -std=c++14 -Wno-unknown-pragmas"
open_solution -reset solution1 -flow_target $flow
set_part $$part
create_clock -period $$period -name default

set argv "$$here/weights/params.bin $$here/tb/input.bin . $$here/tb/golden_codes.bin"
csim_design -argv $$argv
csynth_design
if {[info exists ::env(VAQF_COSIM)]} {
  cosim_design -argv $$argv
}
export_design -format $export
exit
""")


def emit_scripts(program: Program) -> dict[str, bytes]:
    b = program.options.board
    flow, export = ("vitis", "xo") if b.host == "xrt" else ("vivado", "ip_catalog")
    return {
        "Makefile": MAKEFILE.substitute(cxxflags=" ".join((*CXXFLAGS, *QUIET))).encode(),
        "run_hls.tcl": RUN_HLS.substitute(top=program.options.top, board=b.name, part=b.part,
                                          clock=f"{b.clock_mhz:g}", period=f"{1000.0 / b.clock_mhz:.3f}",
                                          flow=flow, export=export).encode(),
    }


def emit_readme(program: Program, meta: Mapping[str, object]) -> bytes:
    t = program.config.tiling
    layers = meta["kernel_calls"]
    est = meta.get("estimate")
    lines = [
        f"# {program.options.top}: a {precision(program)} ViT accelerator generated by vaqf",
        "",
        f"Source: `{meta['source'] or 'module'}`. Board: {meta['board']} (`{meta['part']}`, "
        f"{meta['clock_mhz']} MHz). Precision: {precision(program)} — "
        + ("binary weights, " if program.wbits == 1 else
           f"mixed {program.wbits}-bit weights (fixed-point and power-of-two rows), " if program.mixed else
           "16-bit fixed-point weights, ")
        + f"{program.abits}-bit activations in the quantized layers, 16-bit fixed point elsewhere.",
        "",
        "## Accelerator parameters",
        "",
        f"- Tiling ({meta['tiling_source']}): 16-bit DSP array Tm={t.tm}, Tn={t.tn}, Nh={t.nh}; "
        + (f"power-of-two LUT array PoT_tm={t.pot_tm} (x Tn inputs; shift-adds beside the DSP array)."
           if program.config.has_pot else f"binary LUT array Tm_q={t.tm_q}, Tn_q={t.tn_q}."),
        f"- AXI ports: {program.options.port_bits} bits; packing G = {program.options.port_bits // 16} "
        f"(16-bit), {program.options.port_bits // program.code_bits} ({program.abits}-bit codes), "
        + (f"{program.options.port_bits // program.wbits} ({program.wbits}-bit weight codes: fixed-point q, "
           "power-of-two sign|exponent)." if program.mixed else f"{program.options.port_bits} (binary weights)."),
        f"- Kernel calls per image: {layers}; DDR used: {program.ddr_words} words "
        f"({program.param_words} of parameters).",
        "- Loop nest of an engine layer (the cost model's, docs/cost-model.md C2-C4): head groups x output",
        "  tiles x input steps (double-buffered tile loads) x tokens (pipelined, II=1) x the unrolled",
        "  Nh x Tm x Tn/Nh MAC array; C simulation writes each call's trip counts to build/out/trips.csv.",
    ]
    if program.ports and program.ports > 1:
        lines.append(f"- The cost model assumed {program.ports} AXI ports per stream; this kernel has one m_axi "
                     "port per stream (its loads take longer than estimated).")
    if est:
        lines += ["", "## Cost model estimate", ""]
        lines += [f"- {k}: {v}" for k, v in sorted(est.items())]
    else:
        lines += ["", "No cost-model estimate was given to `vaqf emit` (the tiling is "
                  + ("the IR's" if program.config.tiling_from_ir else "the backend's default") + ")."]
    lines += [
        "",
        "## Files",
        "",
        "- `kernel/`: the accelerator for Vitis HLS. `vaqf_top.cpp` (generated) is the top function:",
        "  m_axi ports `x16` (16-bit stream), `xq` (packed k-bit stream), `wt` (weights, constants,",
        "  second operands), `y` (results), s_axilite descriptor `d`; `vaqf_config.h` (generated) holds the",
        "  tiling and types; `vaqf_engine.h` the shared compute engine (FC and attention); `vaqf_units.h`",
        "  layer norm, residual add, scale, GELU and softmax; `vaqf_pack.h` compile-time code formats;",
        "  `vaqf_cycles.h` the C-simulation cycle counter; `vaqf_arith.h` the exact integer arithmetic shared",
        "  with the host.",
        "- `host/`: `vaqf_model.h` (generated) runs the model layer by layer (kernel calls and the host ops:",
        "  scale, softmax, GELU, token concat, position embedding); `csim_main.cpp` + `device_csim.h` the",
        "  C-simulation test bench; `main_zynq.cpp` (embedded, /dev/mem + contiguous buffer) and",
        "  `main_xrt.cpp` (Alveo, XRT) the board hosts.",
        "- `weights/params.bin`: every constant the kernel and host read, packed as the kernel reads it",
        "  (`params.json` lists the arrays).",
        (f"- `tb/`: {meta['tb_images']} test image(s) (`input.bin`, float32 [N, C, H, W]) and the integer"
         "\n  reference's outputs (`golden_codes.bin` int64, `golden_logits.bin` float32)."
         if meta["tb_images"] else "- no test bench (`tb/`): the project was emitted without test images."),
        "- `Makefile`: `make csim` (g++; ap_int.h from `$XILINX_HLS/include`, else hls4ml's copy in `python3`'s",
        "  environment, as `vaqf csim` finds it; or `make csim AP_INCLUDE=DIR`); `run_hls.tcl`: `vitis_hls -f run_hls.tcl`.",
        "- `board/`: what takes the kernel to the board after `run_hls.tcl` — "
        + ("`vaqf.cfg` (v++ link)" if program.options.board.host == "xrt" else
           "`block_design.tcl` and `build_bitstream.tcl` (Vivado)")
        + "; `board/README.md` lists the commands in order and what the board needs.",
        "",
        "C simulation without Xilinx tools: `vaqf csim .` (bit-identical to `vaqf run --mode int`).",
        "",
    ]
    return "\n".join(lines).encode()


def emit_tb(program: Program, images: np.ndarray | None, golden: np.ndarray | None) -> dict[str, bytes]:
    if images is None:
        return {}
    shape = shape3(program.image)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != shape:
        raise VaqfError(f"test-bench images must be [N, {', '.join(map(str, shape))}], got {list(images.shape)}")
    files = {"tb/input.bin": images.astype("<f4").tobytes()}
    if golden is not None:
        golden = np.asarray(golden, dtype=np.int64).reshape(len(images), -1)
        files["tb/golden_codes.bin"] = golden.astype("<i8").tobytes()
        logits = (golden.astype(np.float64) * program.output_step).astype(np.float32)
        files["tb/golden_logits.bin"] = logits.astype("<f4").tobytes()
    return files


def emit_project(module: ModuleOp, params: Mapping[str, np.ndarray], *, options: HlsOptions = HlsOptions(),
                 tb_images: np.ndarray | None = None, tb_golden_codes: np.ndarray | None = None,
                 estimate: Mapping[str, object] | None = None, source: str = "") -> dict[str, bytes]:
    """The project's files. `tb_golden_codes`: the integer reference's output codes for `tb_images`."""
    program = build_program(module, params, options)
    check_overflow(program, params)  # refuse a kernel whose fixed-width integers could overflow
    files: dict[str, bytes] = {}
    for path, text in {**emit_kernel(program), **emit_host(program), **emit_board(program)}.items():
        files[path] = text.encode()
    for (folder, name), path in STATIC.items():
        files[path] = static_file(folder, name)
    files["weights/params.bin"] = program.arena.blob().astype("<u8").tobytes()
    files["weights/params.json"] = _params_manifest(program)
    files.update(emit_tb(program, tb_images, tb_golden_codes))
    files.update(emit_scripts(program))
    meta = project_meta(program, 0 if tb_images is None else len(tb_images), estimate, source)
    files["project.json"] = _json(meta)
    files["README.md"] = emit_readme(program, meta)
    return dict(sorted(files.items()))


def write_project(files: Mapping[str, bytes], out_dir: Path, force: bool = False,
                  inputs: Iterable[Path | str | None] = ()) -> None:
    """Write the project atomically; an existing non-empty directory only with `force` (`projectdir`'s rules)."""
    with staged_project(Path(out_dir), force, inputs) as stage:
        write_files(stage, files)
