"""Packing of codes into AXI words, and the integer primitives, agree between Python and both C++ sides."""

from __future__ import annotations

import math
import shutil
import struct
import subprocess

import numpy as np
import pytest

from vaqf_compiler.backends.hls.csim import CXXFLAGS, QUIET, find_ap_include
from vaqf_compiler.backends.hls.emit_project import KERNEL_HEADERS, static_file
from vaqf_compiler.backends.hls.packing import Elem, pack, unpack
from vaqf_compiler.errors import VaqfError

PORTS = (64, 128)
CASES = [(b, s) for b in range(1, 65) for s in (True, False)]


def random_codes(elem: Elem, n: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = elem.range
    if elem.sign_bit:
        return rng.choice(np.array([-1, 1], dtype=np.int64), n)
    if elem.bits == 64:  # int64 codes: unsigned 64-bit ones stop at 2**63 - 1
        return rng.integers(-(2**63) if elem.signed else 0, 2**63 - 1, n, dtype=np.int64, endpoint=True)
    codes = rng.integers(lo, hi, n, dtype=np.int64, endpoint=True)
    codes[:2] = lo, hi  # the extremes always
    return codes


@pytest.mark.parametrize("port", PORTS)
def test_python_pack_unpack_round_trip_for_every_g(port):
    rng = np.random.default_rng(port)
    for bits, signed in CASES:
        elem = Elem(bits, signed)
        g = elem.per_word(port)
        codes = random_codes(elem, 3 * g + 1, rng)  # a partial last word
        words = pack(codes, elem, port)
        assert words.size == -(-codes.size // g) * port // 64
        assert np.array_equal(unpack(words, codes.size, elem, port), codes), (bits, signed, g)
        assert np.array_equal(unpack(words, g, elem, port, first=g - 1), codes[g - 1 : 2 * g - 1])


def test_packing_layout_is_the_documented_one():
    # 6-bit codes: 10 per 64-bit word, lowest bits first, 4 bits unused.
    words = pack(np.arange(-5, 6), Elem(6, True), 64)
    first = int(words[0])
    assert [((first >> (6 * i)) & 63) for i in range(3)] == [64 - 5, 64 - 4, 64 - 3]
    assert first >> 60 == 0 and int(words[1]) == 5  # the 11th code starts the next word
    # binary weights: +1 -> 1, -1 -> 0, 64 per word
    assert int(pack(np.array([1, -1, 1]), Elem(1, True))[0]) == 0b101


def test_out_of_range_codes_are_refused():
    with pytest.raises(ValueError, match="outside"):
        pack(np.array([8]), Elem(4, True))
    with pytest.raises(ValueError, match="outside"):
        pack(np.array([0]), Elem(1, True))  # ±1 codes have no zero
    with pytest.raises(ValueError, match="multiple of 64"):
        pack(np.array([1]), Elem(8, True), 96)


HARNESS = r"""
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <vector>
#include "vaqf_engine.h"
#include "vaqf_host.h"

#ifndef __SYNTHESIS__
vaqf::Trips vaqf::g_trips;
#endif

template <int PORT>
struct Mem {
  static const int port_bits = PORT;
  std::vector<uint64_t> w;
  uint64_t get64(int64_t i) const { return w[i]; }
  void set64(int64_t i, uint64_t v) { w[i] = v; }
};

// Unpack n codes with both the kernel's and the host's code, repack with both.
template <int PORT>
int round_trip(int bits, int sgn, int n, const std::vector<uint64_t>& in, FILE* out) {
  const int sub = PORT / 64;
  const int nwords = (int)in.size() / sub;
  std::vector<ap_uint<PORT> > words(nwords, ap_uint<PORT>(0)), repacked(nwords, ap_uint<PORT>(0));
  for (int i = 0; i < nwords; ++i)
    for (int j = 0; j < sub; ++j) words[i].range(64 * j + 63, 64 * j) = in[i * sub + j];
  vaqf::Tensor t = {0, 0, 0, 0, bits, sgn, PORT / bits, 0};
  Mem<PORT> host_in, host_out;
  host_in.w = in;
  host_out.w.assign(in.size(), 0);
  for (int e = 0; e < n; ++e) {
    long long k = (long long)vaqf::unpack_code<PORT>(words[e / t.per_word], e % t.per_word, t);
    long long h = vaqf::host::get_elem(host_in, t, e);
    if (k != h) return 1;
    fwrite(&k, 8, 1, out);
    vaqf::pack_code<PORT>(repacked[e / t.per_word], e % t.per_word, t, vaqf::i64_t(k));
    vaqf::host::put_elem(host_out, t, e, h);
  }
  for (int i = 0; i < nwords; ++i)
    for (int j = 0; j < sub; ++j) {
      uint64_t a = repacked[i].range(64 * j + 63, 64 * j).to_uint64();
      if (a != host_out.w[i * sub + j]) return 2;
      fwrite(&a, 8, 1, out);
    }
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && !strcmp(argv[1], "pack")) {
    FILE* f = fopen(argv[2], "rb");
    int hdr[5];
    while (fread(hdr, 4, 5, f) == 5) {  // port bits signed n subwords
      std::vector<uint64_t> in(hdr[4]);
      if (fread(in.data(), 8, in.size(), f) != in.size()) return 3;
      int rc = hdr[0] == 64 ? round_trip<64>(hdr[1], hdr[2], hdr[3], in, stdout)
                            : round_trip<128>(hdr[1], hdr[2], hdr[3], in, stdout);
      if (rc) { fprintf(stderr, "mismatch %d at bits %d signed %d port %d\n", rc, hdr[1], hdr[2], hdr[0]); return rc; }
    }
    return 0;
  }
  // arith: lines "isqrt u" | "pow2div e v" | "rshift x s" | "lnrow s1 s2 dim eps" | "tocode v s lo hi sign"
  char op[16];
  long long a, b, c, d, e;
  while (scanf("%15s", op) == 1) {
    if (!strcmp(op, "isqrt") && scanf("%lld", &a) == 1) {
      printf("%llu %llu\n", (unsigned long long)vaqf::isqrt<uint64_t>(a),
             (unsigned long long)vaqf::isqrt<vaqf::u64_t>(vaqf::u64_t(a)).to_uint64());
    } else if (!strcmp(op, "pow2div") && scanf("%lld %lld", &a, &b) == 2) {
      printf("%llu %llu\n", (unsigned long long)vaqf::pow2_div<uint64_t>((int)a, b),
             (unsigned long long)vaqf::pow2_div<vaqf::u64_t>((int)a, vaqf::u64_t(b)).to_uint64());
    } else if (!strcmp(op, "rshift") && scanf("%lld %lld", &a, &b) == 2) {
      printf("%lld %lld\n", (long long)vaqf::round_shift<int64_t>(a, (int)b),
             (long long)vaqf::round_shift<vaqf::i64_t>(vaqf::i64_t(a), (int)b).to_int64());
    } else if (!strcmp(op, "lnrow") && scanf("%lld %lld %lld %lld", &a, &b, &c, &d) == 4) {
      vaqf::LnRow f = vaqf::ln_row_factor<int64_t, uint64_t>(a, b, (int)c, d);
      vaqf::LnRow g = vaqf::ln_row_factor<vaqf::i64_t, vaqf::u64_t>(a, b, (int)c, d);
      printf("%lld %d %lld %d\n", (long long)f.r, f.k, (long long)g.r, g.k);
    } else if (!strcmp(op, "tocode") && scanf("%lld %lld %lld %lld %lld", &a, &b, &c, &d, &e) == 5) {
      printf("%lld\n", (long long)vaqf::to_code<int64_t>(a, (int)b, (int)c, (int)d, (int)e));
    } else {
      return 4;
    }
  }
  return 0;
}
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")
    try:
        ap = find_ap_include()
    except VaqfError as e:
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("harness")
    for name in (*KERNEL_HEADERS, "vaqf_host.h"):
        (d / name).write_bytes(static_file("include", name))
    (d / "harness.cpp").write_text(HARNESS)
    exe = d / "harness"
    subprocess.run(["g++", *CXXFLAGS, *QUIET, "-Werror", "-isystem", str(ap), f"-I{d}", str(d / "harness.cpp"),
                    "-o", str(exe)], check=True, capture_output=True)
    return exe


def check_cpp_pack_round_trip(harness, tmp_path, cases) -> None:
    """Python packs every (codes, port, bits, signed) case; the C++ kernel and host unpack the words to
    the same codes and repack them to the same words."""
    blob, expected = bytearray(), []
    for codes, port, bits, signed in cases:
        words = pack(codes, Elem(bits, signed), port)
        blob += struct.pack("<5i", port, bits, int(signed), codes.size, words.size) + words.astype("<u8").tobytes()
        expected.append((codes, words))
    (tmp_path / "cases.bin").write_bytes(bytes(blob))
    run = subprocess.run([str(harness), "pack", str(tmp_path / "cases.bin")], capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    out = np.frombuffer(run.stdout, dtype="<i8")
    pos = 0
    for codes, words in expected:
        assert np.array_equal(out[pos : pos + codes.size], codes)  # kernel and host unpack alike
        pos += codes.size
        assert np.array_equal(out[pos : pos + words.size].view("<u8"), words)  # and repack as Python does
        pos += words.size
    assert pos == out.size


def test_cpp_kernel_and_host_unpack_and_repack_like_python_for_every_g(harness, tmp_path):
    rng = np.random.default_rng(1)
    cases = []
    for port in PORTS:
        for bits, signed in CASES:
            elem = Elem(bits, signed)
            cases.append((random_codes(elem, 2 * elem.per_word(port) + 3, rng), port, bits, signed))
    check_cpp_pack_round_trip(harness, tmp_path, cases)


def _py_ln_row(s1: int, s2: int, dim: int, eps: int) -> tuple[int, int]:
    v = max(dim * s2 - s1 * s1 + eps, 1)
    k = 24 + v.bit_length() // 2
    return math.isqrt((1 << (2 * k)) // v), k


def test_cpp_integer_primitives_match_python_exactly(harness):
    from vaqf_compiler import fixedpoint as fx

    rng = np.random.default_rng(2)
    lines, want = [], []
    for u in [0, 1, 2, 3, 4, 15, 16, 17, 2**50 - 1, 2**50, 2**61 + 12345, *rng.integers(0, 2**62, 200).tolist()]:
        lines.append(f"isqrt {u}")
        want.append(f"{math.isqrt(u)} {math.isqrt(u)}")
    for v in [1, 2, 3, 7, 2**40 + 1, 2**62 + 3, *rng.integers(1, 2**62, 100).tolist()]:
        e = 24 * 2 + 2 * (int(v).bit_length() // 2)  # the exponents layer norm uses
        lines.append(f"pow2div {e} {v}")
        want.append(f"{(1 << e) // v} {(1 << e) // v}")
    for x in [5, 6, 7, -5, -6, -7, 0, 2**61, -(2**61), *rng.integers(-(2**61), 2**61, 100).tolist()]:
        for s in (1, 2, 16, 31, 40):
            r = int(fx.round_shift(np.int64(x), s))
            lines.append(f"rshift {x} {s}")
            want.append(f"{r} {r}")
    for _ in range(200):
        dim = int(rng.integers(1, 1025))
        q = rng.integers(-32768, 32768, dim)
        s1, s2 = int(q.sum()), int((q * q).sum())
        eps = int(rng.integers(0, 2**20))
        r, k = _py_ln_row(s1, s2, dim, eps)
        lines.append(f"lnrow {s1} {s2} {dim} {eps}")
        want.append(f"{r} {k} {r} {k}")
    for v, s, lo, hi, sign in [(-1, 1, -1, 1, 1), (0, 1, -1, 1, 1), (1000, 3, -128, 127, 0), (-2000, 3, -128, 127, 0),
                               (-(2**40), 20, -128, 127, 0), (12, 3, 0, 255, 0)]:
        lines.append(f"tocode {v} {s} {lo} {hi} {sign}")
        want.append(str(int(fx.to_codes(np.int64(v), s, lo, hi, bool(sign)))))
    run = subprocess.run([str(harness)], input="\n".join(lines), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    got = run.stdout.splitlines()
    mismatches = [(line, g, w) for line, g, w in zip(lines, got, want, strict=True) if g != w]
    assert not mismatches, mismatches[:5]


def _weight_codes(bits: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stored codes of the mixed scheme (vaqf_compiler.mixed): fixed-point q and power-of-two sign|e."""
    from vaqf_compiler import mixed

    w = rng.standard_normal((7, 29)) * np.exp(rng.standard_normal((7, 1)))
    w[rng.random(w.shape) < 0.2] = 0.0  # zero codes
    w[0, :3] = [1.0, -1.0, 0.0]  # the extremes: e = 0 both signs, the zero code
    return mixed.fixed_rows(w, bits)[0].ravel(), mixed.pot_codes(w, bits).ravel()


@pytest.mark.parametrize("port", PORTS)
def test_mixed_weight_codes_round_trip_in_python(port):
    """Fixed-point rows pack as signed k-bit codes, power-of-two rows as unsigned k-bit sign|e codes."""
    rng = np.random.default_rng(port + 1)
    for bits in range(2, 8):
        fixed, pot = _weight_codes(bits, rng)
        assert pot.min() >= 0 and pot.max() < 1 << bits and fixed.min() >= -((1 << (bits - 1)) - 1)
        for codes, elem in ((fixed, Elem(bits, True)), (pot, Elem(bits, False))):
            words = pack(codes, elem, port)
            assert words.size == -(-codes.size // elem.per_word(port)) * port // 64
            assert np.array_equal(unpack(words, codes.size, elem, port), codes), (bits, elem)
    # a negative power-of-two code keeps its sign bit: sign|e = 1|000 is 8, not -8
    assert unpack(pack(np.array([8, 7]), Elem(4, False)), 2, Elem(4, False)).tolist() == [8, 7]


def test_cpp_unpacks_mixed_weight_codes_like_python(harness, tmp_path):
    rng = np.random.default_rng(5)
    cases = []
    for port in PORTS:
        for bits in range(2, 8):
            for codes, signed in zip(_weight_codes(bits, rng), (True, False), strict=True):
                cases.append((codes, port, bits, signed))
    check_cpp_pack_round_trip(harness, tmp_path, cases)
