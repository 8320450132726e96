"""The HLS backend end to end on a reduced DeiT: emit, C-simulate with g++, compare with the integer reference."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from xdsl.context import Context

from vaqf_compiler.backends.hls import HlsOptions, Tiling, csim, emit_project, write_project
from vaqf_compiler.backends.hls.csim import SanitizerError, find_ap_include
from vaqf_compiler.backends.hls.csim import build as csim_build
from vaqf_compiler.calibrate import calibrate
from vaqf_compiler.cli.main import main
from vaqf_compiler.cost.model import Hardware, engine_cycles, pipeline_depth
from vaqf_compiler.cost.workload import EngineLayer, fmt_of
from vaqf_compiler.dialects import accel
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.frontend.torch_import import ImportedModel, import_program
from vaqf_compiler.interp import Interpreter
from vaqf_compiler.ir import parse_ir, print_ir
from vaqf_compiler.models.deit import build_deit
from vaqf_compiler.params import attach_sidecar, save_params
from vaqf_compiler.passes.assign_tiling import AssignTilingPass
from vaqf_compiler.passes.fold_patch_embed import FoldPatchEmbedPass
from vaqf_compiler.passes.mark_quantization import MarkQuantizationPass
from vaqf_compiler.passes.vaqf_pipeline import VaqfPipelinePass

# A reduced DeiT: 32x32 images, 8x8 patches (17 tokens), dim 32, 2 heads, one block, 10 classes.
SMALL = dict(image_size=(32, 32), patch_size=8, dim=32, heads=2, depth=1, num_classes=10)


def _have_toolchain() -> bool:
    try:
        find_ap_include()
    except VaqfError:
        return False
    return shutil.which("g++") is not None


needs_gxx = pytest.mark.skipif(not _have_toolchain(), reason="needs g++ and the ap_int headers (hls extra)")


def images(n: int, shape=(3, 32, 32), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)).astype(np.float32)


@pytest.fixture(scope="module")
def small() -> ImportedModel:
    return import_program(export_module(build_deit("deit-tiny", seed=3, **SMALL), (3, 32, 32)))


def lowered(model: ImportedModel, wbits: int, abits: int):
    module = parse_ir(print_ir(model.module))
    FoldPatchEmbedPass().apply(Context(), module)
    MarkQuantizationPass(wbits, abits).apply(Context(), module)
    calibrate(module, model.params, list(images(3, seed=1)))
    VaqfPipelinePass(wbits, abits).apply(Context(), module)
    return module


def reference(module, params, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits and output codes of the integer interpreter."""
    interp = Interpreter(module, params, "int")
    producer = interp.function.body.block.last_op.operands[0].owner
    logits, codes = [], []
    for x in xs:
        seen = {}
        logits.append(interp.run(x, lambda op, v: seen.__setitem__(op, v) if op is producer else None))
        codes.append(seen[producer].ravel())
    return np.stack(logits), np.stack(codes)


def check_trips_against_cost_model(module, tiling: Tiling, trips: list[dict], bits: int, port_bits: int) -> int:
    """The emitted kernel's loop nest per engine layer is the cost model's (docs/cost-model.md, C2-C4).

    Exact: output tiles, input steps, iterations of the pipelined token loop (the model's per-step
    compute is T + D, D the pipeline depth). Words: the lhs of a head group is loaded on chip once
    per call (every output tile reuses it): one row read per token and head, each at most one word
    more than its codes need when a view starts mid-word. Counted cycles cover at least the MAC loop.
    """
    engines = [op for op in module.walk() if isinstance(op, accel.EngineOp)]
    calls = [t for t in trips if str(t["name"]).startswith("accel.engine")]
    assert len(calls) == len(engines)
    hw = Hardware(port_bits=port_bits, streams=1)  # one port per stream at full rate: cycles = words
    for op, trip in zip(engines, calls, strict=True):
        lhs, res = op.lhs.type.get_shape(), op.result.type.get_shape()
        heads, tokens = (lhs[0], lhs[1]) if op.is_attention else (1, lhs[0] if len(lhs) == 2 else 1)
        layer = EngineLayer("attention" if op.is_attention else "fc", tokens, lhs[-1], res[-1], heads,
                            fmt_of(op.quant.inputs), fmt_of(op.quant.weights), fmt_of(op.out),
                            rhs_packed_along_out=op.is_attention and op.transpose_b is None)
        tm, tn, nh = (tiling.tm_q, tiling.tn_q, 1) if layer.binary else (tiling.tm, tiling.tn, tiling.nh)
        model = engine_cycles(layer, bits, tm, tn, nh, 1, 1.0, hw, detail=True)  # 1 port at full rate: words
        t_in = tn // nh if op.is_attention else tn
        steps = model.tiles * model.steps_in
        assert (trip["tiles"], trip["steps"]) == (model.tiles, steps), trip["name"]
        assert trip["compute"] == steps * (model.compute - pipeline_depth(t_in, hw)) == steps * tokens
        x_bits = 16 if not op.in_quantized else bits
        rows = (-(-heads // nh) * nh if op.is_attention else 1) * tokens
        assert trip["x_words"] <= rows * (-(-lhs[-1] // (port_bits // x_bits)) + 1), trip["name"]
        assert trip["cycles"] >= trip["compute"], trip["name"]
    return len(calls)


@needs_gxx
@pytest.mark.parametrize(
    "wbits,abits,options",
    [
        # W1A8 runs through the command line (test_emit_and_csim_from_the_command_line).
        (1, 6, HlsOptions(port_bits=128, tiling=Tiling(tm=5, tn=6, nh=2, tm_q=7, tn_q=24))),  # odd tiles
        (1, 4, "ir"),  # tiling from #accel.tiling, 4-bit codes packed 8 per word (8-bit slots)
        (16, 16, HlsOptions()),  # the unquantized baseline: everything on the 16-bit array
    ],
    ids=["W1A6-port128-odd-tiles", "W1A4-ir-tiling-wide-slots", "W16A16"],
)
def test_csim_logits_are_bit_identical_to_the_integer_reference(small, tmp_path, wbits, abits, options):
    module = lowered(small, wbits, abits)
    bits = abits
    if options == "ir":  # as assign-tiling writes it; a G of 8 stores the 4-bit codes in 8-bit slots
        for op in module.walk():
            if isinstance(op, accel.EngineOp):
                binary = not op.is_attention and op.quant.weights.number_kind == "binary"
                g = 8 if op.quant.inputs.quantized else 4
                op.properties["tiling"] = accel.TilingAttr(16, 32, 1, g, 1) if binary else accel.TilingAttr(8, 16, 2, g, 1)
        options, bits = HlsOptions(), 8
        assert HlsOptions().tiling is None
    xs = images(2, seed=5)
    want, codes = reference(module, small.params, xs)
    files = emit_project(module, small.params, options=options, tb_images=xs, tb_golden_codes=codes)
    write_project(files, tmp_path / "prj")
    result = csim(tmp_path / "prj", werror=True)  # our C++ compiles warning-free with -Wall -Wextra
    assert result.passed, result.output
    assert np.array_equal(result.codes, codes)
    assert np.array_equal(result.logits, want)  # float32 logits, bit for bit
    assert result.build_seconds + result.run_seconds < 30
    meta = json.loads((tmp_path / "prj" / "project.json").read_text())
    if bits != abits:
        assert (meta["tiling_source"], meta["packing"]["gq"], meta["tiling"]["nh"], meta["tiling"]["tn_q"]) == \
            ("ir", 8, 2, 32)
    check_trips_against_cost_model(module, Tiling(**meta["tiling"]), result.trips, bits, options.port_bits)
    # other images than the test bench's: nothing to compare, the same logits as the reference
    others = images(1, seed=8)
    again = csim(tmp_path / "prj", others, werror=True)
    assert again.passed is None and again.build_seconds < 1  # the build is reused
    assert np.array_equal(again.logits, reference(module, small.params, others)[0])


@pytest.fixture(scope="module")
def w1a8(small):
    return lowered(small, 1, 8)


def test_emit_is_deterministic(small, w1a8):
    xs = images(1)
    a = emit_project(w1a8, small.params, tb_images=xs, tb_golden_codes=reference(w1a8, small.params, xs)[1])
    again = lowered(small, 1, 8)  # a fresh module (new objects, same IR) gives the same bytes
    b = emit_project(again, small.params, tb_images=xs, tb_golden_codes=reference(again, small.params, xs)[1])
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    assert {"kernel/vaqf_top.cpp", "kernel/vaqf_config.h", "kernel/vaqf_engine.h", "host/vaqf_model.h",
            "host/csim_main.cpp", "host/main_zynq.cpp", "host/main_xrt.cpp", "weights/params.bin",
            "weights/params.json", "tb/input.bin", "tb/golden_codes.bin", "run_hls.tcl", "Makefile", "README.md",
            "project.json"} <= set(a)


def test_emitted_kernel_reads_tiling_and_packing_from_the_options(small, w1a8):
    files = emit_project(w1a8, small.params, options=HlsOptions(tiling=Tiling(tm=8, tn=16, nh=2, tm_q=16, tn_q=32)))
    config = files["kernel/vaqf_config.h"].decode()
    for line in ("TM = 8;", "TN = 16;", "NH = 2;", "TM_Q = 16;", "TN_Q = 32;", "GQ = 8;", "G16 = 4;"):
        assert line in config
    top = files["kernel/vaqf_top.cpp"].decode()
    assert "#pragma HLS INTERFACE m_axi port=xq" in top and "BinArray::run" in top and "DspArray::run" in top
    meta = json.loads(files["project.json"])
    assert meta["precision"] == "W1A8" and meta["tiling"]["tn_q"] == 32
    assert "W1A8" in files["README.md"].decode()


def test_refuses_to_overwrite_without_force(small, w1a8, tmp_path):
    files = emit_project(w1a8, small.params)
    out = tmp_path / "prj"
    write_project(files, out)
    (out / "mine.txt").write_text("keep")
    with pytest.raises(VaqfError, match="not empty; pass --force"):
        write_project(files, out)
    assert (out / "mine.txt").read_text() == "keep"
    with pytest.raises(VaqfError, match=r"holds files vaqf did not write \(mine.txt\)"):
        write_project(files, out, force=True)  # --force replaces only what vaqf wrote
    assert (out / "mine.txt").read_text() == "keep"
    (out / "mine.txt").unlink()
    (out / "build").mkdir()  # what `vaqf csim` adds is vaqf's
    write_project(files, out, force=True)
    assert not (out / "build").exists() and (out / "kernel" / "vaqf_top.cpp").is_file()
    (tmp_path / "empty").mkdir()
    write_project(files, tmp_path / "empty")  # an empty directory is fine
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_failed_emit_leaves_no_half_project(small, w1a8, tmp_path):
    files = dict(emit_project(w1a8, small.params))
    files["../escape.txt"] = b"x"  # a bad path fails half way through writing
    with pytest.raises(ValueError):
        write_project(files, tmp_path / "prj")
    assert list(tmp_path.iterdir()) == []


def test_graph_level_module_is_refused_with_a_hint(small):
    module = parse_ir(print_ir(small.module))
    with pytest.raises(VaqfError, match=r"graph-level IR; lower it first: vaqf-opt .*vaqf-pipeline"):
        emit_project(module, small.params)


def test_uncalibrated_module_is_refused(small):
    module = parse_ir(print_ir(small.module))
    FoldPatchEmbedPass().apply(Context(), module)
    MarkQuantizationPass(1, 8).apply(Context(), module)
    VaqfPipelinePass(1, 8).apply(Context(), module)
    with pytest.raises(VaqfError, match="calibrate"):
        emit_project(module, small.params)


def test_missing_compiler_and_headers_are_clear_errors(small, w1a8, tmp_path, monkeypatch):
    write_project(emit_project(w1a8, small.params), tmp_path / "prj")
    with pytest.raises(VaqfError, match="C\\+\\+ compiler 'no-such-g\\+\\+' not found"):
        csim(tmp_path / "prj", cxx="no-such-g++")
    monkeypatch.setenv("XILINX_HLS", str(tmp_path / "nowhere"))
    with pytest.raises(VaqfError, match="XILINX_HLS is set but .*ap_int.h does not exist"):
        csim(tmp_path / "prj")
    monkeypatch.delenv("XILINX_HLS")
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(VaqfError, match="no ap_int headers: set XILINX_HLS .*pip install 'vaqf\\[hls\\]'"):
        csim(tmp_path / "prj")
    with pytest.raises(VaqfError, match="not a project emitted by `vaqf emit`"):
        csim(tmp_path)


@pytest.fixture(scope="module")
def lowered_file(tmp_path_factory, w1a8, small) -> Path:
    d = tmp_path_factory.mktemp("cli")
    module = parse_ir(print_ir(w1a8))
    AssignTilingPass(board="zcu102", target_fps=1).apply(Context(), module)  # the cost model's tiling
    attach_sidecar(module, "a.npz", save_params(d / "a.npz", small.params))
    (d / "a.mlir").write_text(print_ir(module))
    return d / "a.mlir"


@needs_gxx
def test_emit_and_csim_from_the_command_line(lowered_file, tmp_path, capsys):
    prj = tmp_path / "prj"
    assert main(["emit", str(lowered_file), "-o", str(prj), "--tb-images", "2"]) == 0
    assert "test bench of 2 image(s)" in capsys.readouterr().out
    assert main(["emit", str(lowered_file), "-o", str(prj)]) == 1
    assert "not empty; pass --force" in capsys.readouterr().err
    assert main(["csim", str(prj), "-o", str(tmp_path / "y.npy")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS: 20 output codes of 2 image(s) bit-identical")  # W1A8
    module = parse_ir(lowered_file.read_text())
    xs = np.fromfile(prj / "tb" / "input.bin", dtype="<f4").reshape(2, 3, 32, 32)
    from vaqf_compiler.params import load_params

    assert np.array_equal(np.load(tmp_path / "y.npy"), reference(module, load_params(module, lowered_file), xs)[0])
    # the kernel was built with assign-tiling's tiling; its trip counts are the cost model's
    meta = json.loads((prj / "project.json").read_text())
    assert meta["tiling_source"] == "ir"
    with open(prj / "build" / "out" / "trips.csv") as f:
        trips = [{k: v if k == "name" else int(v) for k, v in row.items()} for row in csv.DictReader(f)]
    assert check_trips_against_cost_model(module, Tiling(**meta["tiling"]), trips, 8, 64) == 8
    # the cycle report: every kernel call's counted cycles beside the cost model's, totals that add up
    assert main(["csim", str(prj), "--json", str(tmp_path / "cycles.json")]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "cycles.json").read_text())
    calls = report["calls"]
    assert [c["layer"] for c in calls] == [t["name"] for t in trips] and len(calls) == meta["kernel_calls"]
    assert all(c["counted_cycles"] > 0 and isinstance(c["model_cycles"], int) and c["model_cycles"] > 0 for c in calls)
    assert report["counted_cycles_per_frame"] == sum(c["counted_cycles"] for c in calls)
    assert report["model_cycles_per_frame"] == sum(c["model_cycles"] for c in calls)
    assert report["counted_fps_fpga"] == pytest.approx(report["clock_mhz"] * 1e6 / report["counted_cycles_per_frame"])
    assert f"cycles per frame: {report['counted_cycles_per_frame']:,} counted" in out
    assert main(["csim", str(prj), "--json", str(tmp_path / "y.npy" / "c.json")]) == 1  # a file as the folder
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "cannot write" in line
    # a corrupted golden file makes csim fail with exit status 1
    golden = prj / "tb" / "golden_codes.bin"
    codes = np.fromfile(golden, dtype="<i8")
    codes[3] += 1
    codes.tofile(golden)
    assert main(["csim", str(prj)]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_emit_refuses_vit_ir_from_the_command_line(tmp_path, capsys, small):
    module = parse_ir(print_ir(small.module))
    attach_sidecar(module, "m.npz", save_params(tmp_path / "m.npz", small.params))
    (tmp_path / "m.mlir").write_text(print_ir(module))
    assert main(["emit", str(tmp_path / "m.mlir"), "-o", str(tmp_path / "prj")]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "graph-level IR; lower it first" in line and "vaqf-pipeline" in line
    assert not (tmp_path / "prj").exists()


def test_help_shows_examples(capsys):
    for cmd in ("emit", "csim"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        assert "examples:" in capsys.readouterr().out


@needs_gxx
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_makefile_builds_the_same_c_simulation(small, w1a8, tmp_path):
    import subprocess

    xs = images(1)
    write_project(emit_project(w1a8, small.params, tb_images=xs,
                               tb_golden_codes=reference(w1a8, small.params, xs)[1]), tmp_path / "prj")
    env = {**os.environ, "AP_INCLUDE": str(find_ap_include())}
    run = subprocess.run(["make", "-s", "csim"], cwd=tmp_path / "prj", env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "PASS" in run.stdout


XRT_STUB = {
    "xrt/xrt_device.h": "#pragma once\n#include <string>\n#define XCL_BO_SYNC_BO_TO_DEVICE 0\n"
    "#define XCL_BO_SYNC_BO_FROM_DEVICE 1\nnamespace xrt {\nstruct uuid {};\n"
    "struct device { explicit device(int) {} uuid load_xclbin(const std::string&) { return {}; } };\n}\n",
    "xrt/xrt_bo.h": "#pragma once\n#include <cstddef>\n#include \"xrt_device.h\"\nnamespace xrt {\n"
    "void* mapped();  // declared only: the test compiles, never links\n"
    "struct bo { bo(device&, size_t, int) {} template <class T> T map() { return (T)mapped(); }"
    " void sync(int, size_t, size_t) {} };\n}\n",  # ranges only: the host never syncs the whole buffer
    "xrt/xrt_kernel.h": "#pragma once\n#include \"xrt_bo.h\"\nnamespace xrt {\nstruct run { void wait() {} };\n"
    "struct kernel { kernel(device&, const uuid&, const char*) {} int group_id(int) { return 0; }\n"
    "  template <class... A> run operator()(A&&...) { return {}; } };\n}\n",
}


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_board_hosts_compile_without_warnings(small, w1a8, tmp_path):
    """The Zynq host needs only POSIX; the XRT host is checked against a stub of the XRT API."""
    import subprocess

    prj = tmp_path / "prj"
    write_project(emit_project(w1a8, small.params), prj)
    for rel, text in XRT_STUB.items():
        (tmp_path / "stub" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "stub" / rel).write_text(text)
    for main_cpp, extra in (("main_zynq.cpp", []), ("main_xrt.cpp", [f"-I{tmp_path / 'stub'}"])):
        run = subprocess.run(["g++", "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", "-Ikernel", "-Ihost", *extra,
                              "-c", f"host/{main_cpp}", "-o", str(tmp_path / "x.o")], cwd=prj, capture_output=True,
                             text=True)
        assert run.returncode == 0, run.stderr


def test_memory_plan_never_overlaps_live_buffers(small, w1a8):
    """Every value lives in its own words of DDR from its producer to its last reader (views share)."""
    from vaqf_compiler.backends.hls.program import VIEW_OPS, build_program

    program = build_program(w1a8, small.params)

    def root(v):
        while isinstance(v.owner, VIEW_OPS):
            v = v.owner.operands[0]
        return v

    def span(v):
        layout = program.layout(v)
        g = layout.elem.per_word(program.options.port_bits)
        return layout.base, layout.base + int(layout.indices().max()) // g + 1

    ops = program.ops
    born = {program.image: -1, **{op.results[0]: i for i, op in enumerate(ops) if not isinstance(op, VIEW_OPS)}}
    last = {}
    for i, op in enumerate(ops):
        for v in op.operands:
            last[root(v)] = i
    last[root(program.output)] = len(ops)
    assert all(program.param_words <= span(v)[0] and span(v)[1] <= program.ddr_words for v in born)
    for i in range(-1, len(ops)):
        live = sorted(span(v) for v, b in born.items() if b <= i <= last.get(v, b))
        assert all(a[1] <= b[0] for a, b in zip(live, live[1:])), (i, live)
    # views address their operand's buffer: head split of the QKV output, merged heads, the CLS token
    for op in ops:
        if isinstance(op, VIEW_OPS):
            (vs, ve), (rs, re) = span(op.results[0]), span(root(op.operands[0]))
            assert rs <= vs and ve <= re, op.name


@needs_gxx
def test_kernel_and_test_bench_are_cpp14_for_vitis_hls(small, w1a8, tmp_path):
    """run_hls.tcl compiles with -std=c++14: no C++17 in the kernel, the model or the test bench."""
    prj = tmp_path / "prj"
    write_project(emit_project(w1a8, small.params), prj)
    check_cpp14(prj, "kernel/vaqf_top.cpp", "host/csim_main.cpp")


def check_cpp14(prj: Path, *sources: str) -> None:
    """g++ -std=c++14 -fsyntax-only accepts the sources warning-free, and the kernel also on the synthesis path
    (-DVAQF_SYNTHESIS_PATH: no counting code, what Vitis HLS reads under __SYNTHESIS__, which the open-source
    ap_int headers refuse)."""
    import subprocess

    for src, defines in [(s, d) for s in sources for d in ([[], ["-DVAQF_SYNTHESIS_PATH"]] if "kernel/" in s else [[]])]:
        run = subprocess.run(["g++", "-std=c++14", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
                              "-Wno-unknown-pragmas", "-Wno-unused-label", *defines, "-isystem",
                              str(find_ap_include()), "-Ikernel", "-Ihost", src],
                             cwd=prj, capture_output=True, text=True)
        assert run.returncode == 0, (src, defines, run.stderr)


def every_unit_on_the_fpga(small, abits: int):
    """The reduced model at W1A`abits`, calibrated, lowered with scale, softmax and GELU on the FPGA too."""
    module = parse_ir(print_ir(small.module))
    FoldPatchEmbedPass().apply(Context(), module)
    MarkQuantizationPass(1, abits).apply(Context(), module)
    calibrate(module, small.params, list(images(3, seed=1)))
    VaqfPipelinePass(1, abits, softmax_on_accel=True, gelu_on_accel=True, scale_on_accel=True).apply(Context(), module)
    return module


@needs_gxx
def test_scale_softmax_gelu_partitioned_onto_the_fpga(small, tmp_path):
    """partition-host-accel can move scale, softmax and GELU to the FPGA: the kernel runs them, bit-exactly."""
    module = every_unit_on_the_fpga(small, abits=8)
    xs = images(1, seed=5)
    want, codes = reference(module, small.params, xs)
    write_project(emit_project(module, small.params, tb_images=xs, tb_golden_codes=codes), tmp_path / "prj")
    top = (tmp_path / "prj" / "kernel" / "vaqf_top.cpp").read_text()
    assert "case vaqf::OP_SOFTMAX:" in top and "case vaqf::OP_GELU:" in top and "case vaqf::OP_SCALE:" in top
    result = csim(tmp_path / "prj", werror=True)
    assert result.passed, result.output
    assert np.array_equal(result.logits, want)
    names = [str(t["name"]) for t in result.trips]
    assert any(n.startswith("accel.softmax") for n in names) and any(n.startswith("accel.gelu") for n in names)
    # The cache maintenance the host asked for stays within what the cost model charges (cost/host.py, H2:
    # one request per host-op operand and result; the code skips operands the host itself wrote).
    from vaqf_compiler.cost.boards import load_board
    from vaqf_compiler.cost.host import host_time
    from vaqf_compiler.cost.workload import extract_workload

    sync = next((tmp_path / "prj").rglob("sync.csv")).read_text().splitlines()[1:]
    calls = sum(int(line.split(",")[1]) for line in sync)
    words = sum(int(line.split(",")[2]) for line in sync)
    modelled = host_time(extract_workload(module), 8, load_board("zcu102").cpu)
    assert 0 < calls <= modelled.sync_requests and 0 < 8 * words <= modelled.sync_bytes
    assert modelled.kernel_calls == len(result.trips)


# --------------------------------------------------------------------------
# Sanitized C simulation: -Wall -Wextra -Werror, AddressSanitizer, UndefinedBehaviorSanitizer
# --------------------------------------------------------------------------


@needs_gxx
@pytest.mark.slow  # the default suite runs the sanitized build once, in test_sanitizers_fire_on_a_planted_bug
def test_csim_sanitize_from_the_command_line(small, w1a8, tmp_path, capsys):
    """`vaqf csim --sanitize` on the reduced W1A8 model: no ASan/UBSan finding, warning-free with -Werror,
    and still bit-identical to the integer reference (PASS)."""
    xs = images(2, seed=5)
    _, codes = reference(w1a8, small.params, xs)
    write_project(emit_project(w1a8, small.params, tb_images=xs, tb_golden_codes=codes), tmp_path / "prj")
    assert main(["csim", str(tmp_path / "prj"), "--sanitize"]) == 0
    assert capsys.readouterr().out.startswith("PASS:")
    assert (tmp_path / "prj" / "build-sanitize" / "csim").is_file()


@needs_gxx
@pytest.mark.slow
def test_sanitized_csim_with_every_unit_on_the_fpga(small, tmp_path):
    """W1A4 with scale, softmax and GELU on the FPGA too (every kernel unit) under ASan + UBSan."""
    module = every_unit_on_the_fpga(small, abits=4)
    xs = images(2, seed=5)
    want, codes = reference(module, small.params, xs)
    write_project(emit_project(module, small.params, tb_images=xs, tb_golden_codes=codes), tmp_path / "prj")
    result = csim(tmp_path / "prj", sanitize=True)
    assert result.passed, result.output
    assert np.array_equal(result.logits, want)


# Planted in the kernel's top function, armed by an environment variable so that one build serves:
# one int past a heap array (ASan), a signed overflow (UBSan).
PLANTED = """{
    const char* plant = getenv("VAQF_PLANTED_BUG");
    volatile int i = 8, big = 2147483647;
    int* a = new int[8]();
    int* volatile alias = a;  // hides the size from UBSan's object-size check: ASan's to find
    if (plant && plant[0] == 'a') alias[i] = 1;
    if (plant && plant[0] == 'u') { volatile int r = big + 1; (void)r; }
    delete[] a;
  }
  """


@needs_gxx
def test_sanitizers_fire_on_a_planted_bug(small, w1a8, tmp_path, monkeypatch, capsys):
    """The reduced W1A8 model passes `vaqf csim --sanitize` (no finding, -Werror, bit-exact), and the
    sanitized build is not a no-op: bugs planted in the kernel are reported once armed."""
    xs = images(1, seed=5)
    _, codes = reference(w1a8, small.params, xs)
    write_project(emit_project(w1a8, small.params, tb_images=xs, tb_golden_codes=codes), tmp_path / "prj")
    top = tmp_path / "prj" / "kernel" / "vaqf_top.cpp"
    text = top.read_text()
    head = text.index("switch (d.op)")
    top.write_text("#include <cstdlib>\n" + text[:head] + PLANTED + text[head:])
    monkeypatch.delenv("VAQF_PLANTED_BUG", raising=False)
    assert main(["csim", str(tmp_path / "prj"), "--sanitize"]) == 0  # not armed: no finding, bit-exact
    assert capsys.readouterr().out.startswith("PASS:")
    for bug, finding in (("asan", "AddressSanitizer"), ("ubsan", "runtime error: signed integer overflow")):
        monkeypatch.setenv("VAQF_PLANTED_BUG", bug)
        with pytest.raises(SanitizerError, match=finding):
            csim(tmp_path / "prj", sanitize=True)


@needs_gxx
@pytest.mark.slow
def test_sanitized_build_fails_on_a_warning(small, w1a8, tmp_path):
    write_project(emit_project(w1a8, small.params), tmp_path / "prj")
    top = tmp_path / "prj" / "kernel" / "vaqf_top.cpp"
    text = top.read_text()
    head = text.index("switch (d.op)")
    top.write_text(text[:head] + "int unused_variable = 0;\n  " + text[head:])
    with pytest.raises(VaqfError, match="unused"):
        csim_build(tmp_path / "prj", sanitize=True)
