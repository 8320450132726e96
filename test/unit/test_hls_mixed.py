"""The HLS backend for the mixed fixed-point + power-of-two scheme (issue 8; the scheme is ours).

Two levels:
- the engine alone (`vaqf_engine.h` compiled with g++ against a numpy reference built by
  `vaqf_compiler.mixed`): PoT code decoding, a mixed FC layer on the DSP + PoT arrays at
  several ratios and odd tile sizes, rows written to their original index, trip counts;
- the whole backend on a reduced DeiT: C simulation bit-identical to the integer reference
  (`run_function(..., mode="int")`) at two PoT ratios (and 0 and 1).
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from xdsl.context import Context

from vaqf_compiler import fixedpoint as fx
from vaqf_compiler import mixed
from vaqf_compiler.backends.hls import HlsOptions, Tiling, csim, emit_project, write_project
from vaqf_compiler.backends.hls.csim import CXXFLAGS, QUIET, find_ap_include
from vaqf_compiler.backends.hls.emit_project import KERNEL_HEADERS, static_file
from vaqf_compiler.backends.hls.packing import Elem, pack, unpack
from vaqf_compiler.backends.hls.weights import I64, ParamArena
from vaqf_compiler.cli.quantize_cmd import quantize_module, scheme_marker
from vaqf_compiler.cost.model import mixed_cycles
from vaqf_compiler.cost.workload import EngineLayer, fmt_of
from vaqf_compiler.dialects import accel
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.frontend.torch_import import ImportedModel, import_program
from vaqf_compiler.ir import parse_ir, print_ir
from vaqf_compiler.models.deit import build_deit
from vaqf_compiler.passes.assign_tiling import AssignTilingPass
from vaqf_compiler.passes.lower_to_accel import LowerToAccelPass
from vaqf_compiler.passes.partition_host_accel import PartitionHostAccelPass
from test_hls_csim import SMALL, _have_toolchain, check_cpp14, images, needs_gxx, reference

# ----- the engine alone ------------------------------------------------------------

# One harness build: odd tile sizes, two input groups; PK, the weight bits, comes per build.
TM, TN, NH, PTM, MAX_T, MAX_CIN, MAX_COUT = 5, 12, 2, 3, 9, 40, 17

ENGINE_HARNESS = r"""
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <vector>
#include "vaqf_engine.h"

#ifndef __SYNTHESIS__
vaqf::Trips vaqf::g_trips;
#endif

template <int K>
struct Eng {
  typedef vaqf::Engine<64, H_TM, H_TN, H_NH, H_MAX_T, H_MAX_CIN, H_MAX_COUT, false, ap_int<16>, ap_int<16>,
                       ap_int<40>, H_PTM, K, ap_int<8>, ap_int<48> > T;
};

// every code: what Pot<K>::mac adds for x = 1 and x = -3
template <int K>
void pot_codes() {
  for (int c = 0; c < (1 << K); ++c) {
    ap_int<64> a = 0, b = 0;
    vaqf::Pot<K>::mac(a, ap_int<8>(1), ap_uint<K>(c));
    vaqf::Pot<K>::mac(b, ap_int<8>(-3), ap_uint<K>(c));
    printf("%d %d %lld %lld\n", K, c, (long long)a.to_int64(), (long long)b.to_int64());
  }
}

static void tensor(const long long* v, int& i, vaqf::Tensor& t) {
  t.base = v[i++]; t.elem0 = v[i++]; t.hs = v[i++]; t.rs = v[i++];
  t.bits = (int32_t)v[i++]; t.sgn = (int32_t)v[i++]; t.per_word = (int32_t)v[i++]; t.pad_ = (int32_t)v[i++];
}

// cases on stdin: 74 int64 (the LayerDesc), word count, words; out: the words after the call, trips
template <int K>
int run_cases() {
  long long v[74];
  while (fread(v, 8, 74, stdin) == 74) {
    long long n = 0;
    if (fread(&n, 8, 1, stdin) != 1) return 3;
    std::vector<uint64_t> raw(n);
    if (fread(raw.data(), 8, n, stdin) != (size_t)n) return 3;
    std::vector<ap_uint<64> > mem(raw.begin(), raw.end());
    vaqf::LayerDesc d = {};
    int i = 0;
    d.op = (int32_t)v[i++]; d.binary = (int32_t)v[i++]; d.x_port = (int32_t)v[i++];
    d.transpose_b = (int32_t)v[i++]; d.heads = (int32_t)v[i++]; d.tokens = (int32_t)v[i++];
    d.cin = (int32_t)v[i++]; d.cout = (int32_t)v[i++];
    tensor(v, i, d.x); tensor(v, i, d.w); tensor(v, i, d.y); tensor(v, i, d.mult); tensor(v, i, d.offset);
    tensor(v, i, d.wp); tensor(v, i, d.rows);
    d.m = v[i++]; d.m_b = v[i++]; d.o = v[i++]; d.eps = v[i++]; d.shift = (int32_t)v[i++];
    d.y_lo = (int32_t)v[i++]; d.y_hi = (int32_t)v[i++]; d.y_sign = (int32_t)v[i++];
    d.mixed = (int32_t)v[i++]; d.n_pot = (int32_t)v[i++];
    vaqf::g_trips = vaqf::Trips();
    Eng<K>::T::run(mem.data(), mem.data(), mem.data(), mem.data(), d);
    for (long long k = 0; k < n; ++k) raw[k] = mem[k].to_uint64();
    fwrite(raw.data(), 8, n, stdout);
    const vaqf::Trips& t = vaqf::g_trips;
    long long trips[6] = {t.tiles, t.steps, t.compute, t.x_words, t.w_words, t.y_words};
    fwrite(trips, 8, 6, stdout);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && !strcmp(argv[1], "pot")) {
    pot_codes<2>(); pot_codes<3>(); pot_codes<4>(); pot_codes<5>(); pot_codes<6>(); pot_codes<7>();
    return 0;
  }
  if (argc == 2 && atoi(argv[1]) == 3) return run_cases<3>();
  if (argc == 2 && atoi(argv[1]) == 4) return run_cases<4>();
  if (argc == 2 && atoi(argv[1]) == 6) return run_cases<6>();
  return 4;
}
"""
ENGINE_BITS = (3, 4, 6)  # the weight bits the harness instantiates the engine for (6: PoT weights up to 2^30)
POT_BITS = range(2, 8)  # ... and Pot<K> (k = 8 has E = 126: no exact integer reference)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    if not _have_toolchain():
        pytest.skip("needs g++ and the ap_int headers (hls extra)")
    d = tmp_path_factory.mktemp("engine")
    for name in KERNEL_HEADERS:
        (d / name).write_bytes(static_file("include", name))
    (d / "harness.cpp").write_text(ENGINE_HARNESS)
    defines = [f"-DH_{k}={v}" for k, v in dict(TM=TM, TN=TN, NH=NH, PTM=PTM, MAX_T=MAX_T, MAX_CIN=MAX_CIN, MAX_COUT=MAX_COUT).items()]
    exe = d / "harness"
    run = subprocess.run(["g++", *CXXFLAGS, *QUIET, "-Werror", *defines, "-isystem", str(find_ap_include()),
                          f"-I{d}", str(d / "harness.cpp"), "-o", str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return exe


def test_pot_codes_decode_to_the_integer_weights_of_mixed_py(engine):
    """Pot<K>::mac adds x · (±2^(E-e) or 0) for every code, as `mixed.pot_rows` defines the weights."""
    run = subprocess.run([str(engine), "pot"], capture_output=True, text=True, check=True)
    got = {}
    for line in run.stdout.splitlines():
        k, c, a, b = (int(v) for v in line.split())
        got[k, c] = (a, b)
    for k in POT_BITS:
        # a row holding every level ±2^-e of the row's maximum, and zero: every code once
        top = mixed.pot_max_exponent(k)
        levels = 2.0 ** -np.arange(top + 1)
        w = np.concatenate([levels, -levels, [0.0]])[None, :]
        codes, ints = mixed.pot_codes(w, k).ravel(), mixed.pot_rows(w, k)[0].ravel()
        weight: dict[int, int] = {}
        for c, v in zip(codes.tolist(), ints.tolist(), strict=True):
            assert weight.setdefault(c, v) == v
        assert set(weight) == {s << (k - 1) | e for s in (0, 1) for e in range(top + 1)} | {top + 1}
        for c, v in weight.items():
            assert got[k, c][0] == v, (k, c)
            assert got[k, c][1] == -3 * v or abs(3 * v) >= 2**63, (k, c)  # k = 7: -3 · 2^62 wraps
        assert got[k, (1 << (k - 1)) | (top + 1)] == (0, 0)  # a negative zero (never stored) adds nothing too


def _tensor(base: int, elem0: int, hs: int, rs: int, elem: Elem, port: int = 64) -> list[int]:
    return [base, elem0, hs, rs, elem.bits, int(elem.signed), elem.per_word(port), 0]


def _entry(e) -> list[int]:
    return _tensor(e.base, 0, e.rows * e.row_stride, e.row_stride, e.elem)


def _mixed_case(rng: np.random.Generator, k: int, ratio: float, tokens: int, cin: int, cout: int):
    """A mixed FC layer in DDR (weights, constants, x; y prefilled with noise) and its numpy result."""
    w = rng.standard_normal((cout, cin)) * np.exp(rng.standard_normal((cout, 1)))
    w[rng.random(w.shape) < 0.2] *= 0.01  # small weights: PoT zero codes
    pot = mixed.assign_pot_rows(w, k, ratio)
    mw = mixed.mixed_weights(w, k, pot)
    perm = np.concatenate([np.flatnonzero(~pot), np.flatnonzero(pot)])
    x = rng.integers(-128, 128, (tokens, cin))
    # Per-row M as a real requantization has (∝ the row's step): |acc_j|·M_j <= 2^61, inside int64;
    # a worst-case accumulator saturates, typical ones do not.
    top = (1 << 61) // (cin * 128 * np.maximum(np.abs(mw.ints).max(axis=1), 1))
    mult = rng.integers(top // 2, top, endpoint=True)
    offset = rng.integers(-(1 << 40), 1 << 40, cout)
    shift = 61 - 10
    want = fx.to_codes(x @ mw.ints.T * mult + offset, shift, -128, 127)

    arena = ParamArena(64)
    e_w = arena.add("w", mw.codes[~pot].reshape(-1, cin), Elem(k, True))
    e_wp = arena.add("wp", mw.codes[pot].reshape(-1, cin), Elem(k, False))
    e_m = arena.add("mult", mult[perm][None, :], I64)
    e_o = arena.add("offset", offset[perm][None, :], I64)
    e_r = arena.add("rows", perm[None, :], Elem(32, False))
    a8 = Elem(8, True)
    x_rs, y_rs = -(-cin // 8) * 8, -(-cout // 8) * 8
    x_base = arena.words
    y_base = x_base + tokens * x_rs // 8
    xs = np.zeros((tokens, x_rs), dtype=np.int64)
    xs[:, :cin] = x
    noise = rng.integers(0, 2**63, tokens * y_rs // 8, dtype=np.int64).astype(np.uint64)
    words = np.concatenate([arena.blob(), pack(xs, a8), noise])
    desc = [0, 0, 1, 0, 1, tokens, cin, cout,  # OP_FC, not binary, x from the k-bit port, 1 head
            *_tensor(x_base, 0, tokens * x_rs, x_rs, a8), *_entry(e_w), *_tensor(y_base, 0, tokens * y_rs, y_rs, a8),
            *_entry(e_m), *_entry(e_o), *_entry(e_wp), *_entry(e_r),
            0, 0, 0, 0, shift, -128, 127, 0, 1, int(pot.sum())]
    assert len(desc) == 74
    blob = np.array(desc, dtype="<i8").tobytes() + np.int64(words.size).tobytes() + words.astype("<u8").tobytes()
    return blob, want, (y_base, y_rs, noise), int((~pot).sum()), int(pot.sum())


@pytest.mark.parametrize("k", ENGINE_BITS)
def test_mixed_fc_on_the_dsp_and_pot_arrays_matches_numpy(engine, k):
    """A mixed FC layer: fixed rows on the TM x TN array, PoT rows on the PoT array, results scattered
    to their original rows; bit-exact at PoT ratios 0 .. 1, with tiles that do not divide the layer."""
    rng = np.random.default_rng(k)
    cases = [(r, t, cin, cout) for r, t, cin, cout in
             [(0.0, 3, 20, 11), (0.25, 7, 30, 13), (0.5, 9, 12, 8), (0.75, 4, 25, 17), (1.0, 2, 7, 9),
              (0.4, 1, 40, 3)]]
    built = [_mixed_case(rng, k, *c) for c in cases]
    run = subprocess.run([str(engine), str(k)], input=b"".join(b[0] for b in built), capture_output=True, check=True)
    out = np.frombuffer(run.stdout, dtype="<u8")
    pos = 0
    for (ratio, tokens, cin, cout), (blob, want, (y_base, y_rs, noise), n_fix, n_pot) in zip(cases, built,
                                                                                          strict=True):
        n_words = int(np.frombuffer(blob[74 * 8 : 75 * 8], dtype="<i8")[0])
        mem, trips = out[pos : pos + n_words], out[pos + n_words : pos + n_words + 6].astype(np.int64)
        pos += n_words + 6
        ymem = mem[y_base:]
        got = unpack(ymem, tokens * y_rs, Elem(8, True)).reshape(tokens, y_rs)
        assert np.array_equal(got[:, :cout], want), (k, ratio)
        # nothing else changed: the padding slots keep their noise, the rest of DDR is as written
        before = unpack(noise, tokens * y_rs, Elem(8, True)).reshape(tokens, y_rs)
        assert np.array_equal(got[:, cout:], before[:, cout:])
        assert np.array_equal(mem[:y_base], np.frombuffer(blob[75 * 8 :], dtype="<u8")[:y_base])
        tiles = max(-(-n_fix // TM), -(-n_pot // PTM))
        steps = tiles * -(-cin // TN)
        assert trips[:3].tolist() == [tiles, steps, steps * tokens], (k, ratio)
    assert pos == out.size


# ----- the whole backend on a reduced DeiT ----------------------------------------------


@pytest.fixture(scope="module")
def small() -> ImportedModel:
    """test_hls_csim's reduced DeiT (17 tokens, dim 32, 2 heads, one block)."""
    return import_program(export_module(build_deit("deit-tiny", seed=3, **SMALL), (3, 32, 32)))


def lowered_mixed(model: ImportedModel, ratio: float, wbits: int = 4, abits: int = 8):
    """The reduced DeiT in the mixed scheme: marked, rows split at `ratio`, calibrated, lowered to accel."""
    module = parse_ir(print_ir(model.module))
    marker, ratio = scheme_marker("mixed", wbits, abits, ratio)
    quantize_module(module, model.params, marker, list(images(3, seed=1)), ratio)
    PartitionHostAccelPass().apply(Context(), module)
    LowerToAccelPass().apply(Context(), module)
    return module


def mixed_engines(module) -> list[accel.EngineOp]:
    return [op for op in module.walk() if isinstance(op, accel.EngineOp) and op.quant.mixed]


def check_mixed_trips_against_cost_model(module, tiling: Tiling, trips: list[dict], abits: int) -> int:
    """Every mixed layer's loop nest is the cost model's (`mixed_cycles`, docs/cost-model.md M1-M3): output
    tiles = max(fixed tiles, PoT tiles), each of ceil(cin / Tn) input steps of one pipelined token loop."""
    calls = [t for t in trips if str(t["name"]).startswith("accel.engine")]
    engines = [op for op in module.walk() if isinstance(op, accel.EngineOp)]
    assert len(calls) == len(engines)
    checked = 0
    for op, trip in zip(engines, calls, strict=True):
        if not op.quant.mixed:
            continue
        tokens, cin = op.lhs.type.get_shape()
        cout, pot = op.rows.rows.data, op.rows.pot.data
        layer = EngineLayer("fc", tokens, cin, cout, 1, fmt_of(op.quant.inputs), fmt_of(op.quant.weights),
                            fmt_of(op.out), pot_rows=pot)
        model = mixed_cycles(layer, abits, tiling.tm, tiling.tn, tiling.pot_tm if pot else 0, pot, 1, 1.0,
                             detail=True)
        tiles = max(model.tiles_fixed, model.tiles_pot)
        assert (trip["tiles"], trip["steps"]) == (tiles, tiles * -(-cin // tiling.tn)), op.weight.key
        assert trip["compute"] == trip["steps"] * tokens
        checked += 1
    return checked


@needs_gxx
@pytest.mark.parametrize(
    "ratio,options,wbits",
    [
        # tiles that divide nothing, two input groups, 128-bit words
        (0.25, HlsOptions(port_bits=128, tiling=Tiling(tm=5, tn=12, nh=2, pot_tm=3)), 4),
        (0.75, "ir", 4),  # assign-tiling's tiling of both arrays (#accel.tiling<..., pot_tm = N>)
        # slow (make test-all): the two ends, each array alone; the widest weights the compiler takes
        pytest.param(0.0, HlsOptions(), 4, marks=pytest.mark.slow),  # every row fixed point: no PoT array
        pytest.param(1.0, HlsOptions(), 4, marks=pytest.mark.slow),  # every row power of two: no fixed rows
        pytest.param(0.5, HlsOptions(), 5, marks=pytest.mark.slow),  # PoT weights up to 2^14 (the compiler's limit)
    ],
    ids=["r0.25-odd-tiles-port128", "r0.75-ir-tiling", "r0", "r1", "r0.5-w5"],
)
def test_mixed_csim_is_bit_identical_to_the_integer_reference(small, tmp_path, ratio, options, wbits):
    module = lowered_mixed(small, ratio, wbits)
    engines = mixed_engines(module)
    assert len(engines) == 4 and all(op.rows is not None for op in engines)  # QKV, proj, fc1, fc2
    n_pot = [op.rows.pot.data for op in engines]
    assert n_pot == [mixed.pot_count(op.rows.rows.data, ratio) for op in engines]
    if options == "ir":
        AssignTilingPass(board="zcu102", target_fps=1).apply(Context(), module)
        options = HlsOptions()
    xs = images(2, seed=5)
    want, codes = reference(module, small.params, xs)
    files = emit_project(module, small.params, options=options, tb_images=xs, tb_golden_codes=codes)
    write_project(files, tmp_path / "prj")
    config = (tmp_path / "prj" / "kernel" / "vaqf_config.h").read_text()
    top = (tmp_path / "prj" / "kernel" / "vaqf_top.cpp").read_text()
    assert ("POT_TM" in config) == (ratio > 0) and ("pot_acc_t> DspArray" in top) == (ratio > 0)
    result = csim(tmp_path / "prj", werror=True)
    assert result.passed, result.output
    assert np.array_equal(result.codes, codes)
    assert np.array_equal(result.logits, want)  # float32 logits, bit for bit
    meta = json.loads((tmp_path / "prj" / "project.json").read_text())
    assert meta["scheme"] == "mixed" and meta["precision"] == f"W{wbits}A8" and meta["pot_ratio"] == ratio
    assert sorted(n for n, _ in meta["pot_rows"].values()) == sorted(n_pot)
    tiling = Tiling(**meta["tiling"])
    if options.tiling is None and ratio == 0.75:
        assert meta["tiling_source"] == "ir" and f"POT_TM = {tiling.pot_tm};" in config
        fn = next(op for op in module.walk() if op.name == "func.func")
        assert tiling.pot_tm == fn.attributes["accel.pot_tm"].value.data
    assert check_mixed_trips_against_cost_model(module, tiling, result.trips, 8) == 4
    if ratio == 0.25:  # run_hls.tcl compiles the kernel as C++14
        check_cpp14(tmp_path / "prj", "kernel/vaqf_top.cpp")


# ----- what the backend stores and refuses (no compiler needed) ------------------------------


@pytest.fixture(scope="module")
def half(small):
    return lowered_mixed(small, 0.5)


def test_mixed_layer_constants_split_the_rows_and_keep_the_reference_requantization(small, half):
    from vaqf_compiler import intconst as ic
    from vaqf_compiler.backends.hls.program import build_program
    from vaqf_compiler.backends.hls.weights import pot_weights

    program = build_program(half, small.params, HlsOptions(tiling=Tiling(pot_tm=7)))
    source = ic.Params(small.params)
    for op in mixed_engines(half):
        c = program.constants[op]
        ints, step = ic.weight_codes(op, op.weight, op.quant, source)
        rq = ic.fc_requant(op, op.lhs, step, op.bias, ic.fc_bound(ints, op.lhs), source)
        table = c.arrays["rows"][0][0]
        pot = op.rows.pot_mask
        assert sorted(table.tolist()) == list(range(pot.size))  # a permutation: every row written once
        assert not pot[table[: (~pot).sum()]].any() and pot[table[(~pot).sum() :]].all()
        (fixed, f_elem), (pcodes, p_elem) = c.arrays["weight"], c.arrays["weight_pot"]
        assert (f_elem, p_elem) == (Elem(4, True), Elem(4, False)) and c.scalars["n_pot"] == pot.sum()
        assert np.array_equal(fixed, ints[~pot]) and np.array_equal(pot_weights(pcodes, 4), ints[pot])
        assert np.array_equal(c.arrays["mult"][0][0], np.broadcast_to(rq.multiplier, pot.shape)[table])
        assert np.array_equal(c.arrays["offset"][0][0], np.broadcast_to(rq.offset, pot.shape)[table])
        assert c.scalars["shift"] == rq.shift
        assert c.scalars["pot_acc_bits"] > c.scalars["acc_bits"]  # 2^E = 64 > 7: the PoT sums are wider
    cfg = program.config
    assert (cfg.has_pot, cfg.pot_bits, cfg.pot_x_bits, cfg.tiling.pot_tm) == (True, 4, 8, 7)


def test_mixed_engine_without_row_split_is_refused(small, half):
    module = parse_ir(print_ir(half))
    op = mixed_engines(module)[1]
    del op.properties["rows"]
    with pytest.raises(VaqfError, match="assign-pot-rows"):
        emit_project(module, small.params)


def test_pot_tm_comes_from_the_ir_and_must_agree(small, half):
    from vaqf_compiler.backends.hls.target import tiling_from_ir

    module = parse_ir(print_ir(half))
    for op in mixed_engines(module):
        op.properties["tiling"] = accel.TilingAttr(8, 16, 1, 8, 1, pot_tm=24)
    assert tiling_from_ir(module).tiling.pot_tm == 24
    op.properties["tiling"] = accel.TilingAttr(8, 16, 1, 8, 1, pot_tm=12)
    with pytest.raises(VaqfError, match="different PoT array tilings"):
        tiling_from_ir(module)
