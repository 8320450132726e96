"""The host runtime's fast paths (backends/hls/include/vaqf_host.h) against its element-at-a-time access.

`read_row`/`write_row` (and `Reader`/`Writer`, their path for widths that do
not divide 64) walk a row word by word, `RowDivider` replaces a 64-bit
division per element and `quantize_code` a libm floor(); all must give exactly
what `get_elem`/`put_elem`, `/` and floor() give, for every code width, port
width and starting slot, and every float. The whole model
is checked bit for bit against the integer reference by the C-simulation
tests; this one pins the pieces, with freshly drawn widths and offsets.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from importlib import resources

import pytest

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")

PROGRAM = r"""
#include <cmath>
#include <cstring>
#include <random>
#include "vaqf_host.h"
using namespace vaqf;
template <int P> struct Mem {
  static const int port_bits = P;
  std::vector<uint64_t> w;
  uint64_t get64(int64_t i) const { return w.at((size_t)i); }
  void set64(int64_t i, uint64_t v) { w.at((size_t)i) = v; }
};
template <int P> int check(std::mt19937_64& rng, int bits, int sgn) {
  const int g = P / bits;
  Mem<P> a;
  a.w.resize(4096 * (P / 64));
  for (auto& x : a.w) x = rng();
  Mem<P> b = a;
  const Tensor t = {(int64_t)(rng() % 64), (int64_t)(rng() % g), 0, 0, bits, sgn, g, 0};
  const int64_t p0 = t.elem0 + (int64_t)(rng() % 200), count = 1 + (int64_t)(rng() % 300);
  host::Reader<Mem<P>> r(a, t, p0);
  for (int64_t i = 0; i < count; ++i)
    if (r.next() != host::get_elem(a, t, p0 + i)) return 1;
  {
    host::Writer<Mem<P>> w(a, t, p0);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t code = sgn && bits == 1 ? (rng() & 1 ? 1 : -1) : (int64_t)(rng() >> (64 - bits)) - (sgn ? (int64_t(1) << (bits - 1)) : 0);
      w.put(code);
      host::put_elem(b, t, p0 + i, code);
    }
  }
  if (a.w != b.w) return 2;
  std::vector<int64_t> row((size_t)count);
  host::read_row(a, t, p0, count, row.data());
  for (int64_t i = 0; i < count; ++i)
    if (row[(size_t)i] != host::get_elem(a, t, p0 + i)) return 4;
  for (auto& v : row) v = sgn && bits == 1 ? (rng() & 1 ? 1 : -1) : (int64_t)(rng() >> (64 - bits)) - (sgn ? (int64_t(1) << (bits - 1)) : 0);
  host::write_row(a, t, p0, count, row.data());
  for (int64_t i = 0; i < count; ++i) host::put_elem(b, t, p0 + i, row[(size_t)i]);
  return a.w == b.w ? 0 : 8;
}
int main(int argc, char** argv) {
  std::mt19937_64 rng(strtoull(argv[1], nullptr, 10));
  for (int round = 0; round < 200; ++round)
    for (int bits : {1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 16, 32}) {
      const int sgn = (int)(rng() & 1);
      const int bad = check<64>(rng, bits, sgn) | check<128>(rng, bits, sgn) | check<512>(rng, bits, sgn);
      if (bad) { printf("bits %d sgn %d: %s differs\n", bits, sgn, bad & 1 ? "Reader" : bad & 2 ? "Writer" : bad & 4 ? "read_row" : "write_row"); return 1; }
    }
  for (int i = 0; i < 1000000; ++i) {
    const int64_t d = 1 + (int64_t)(rng() >> (rng() % 62 + 2)), n = (int64_t)(rng() >> (rng() % 63 + 1));
    if (host::RowDivider(d).div(n) != n / d) { printf("RowDivider(%lld).div(%lld)\n", (long long)d, (long long)n); return 1; }
  }
  for (int i = 0; i < 1000000; ++i) {  // every float bit pattern is fair: NaN, infinities, subnormals
    const uint32_t bits = (uint32_t)rng();
    float x;
    memcpy(&x, &bits, 4);
    const double step = std::ldexp(1.0 + (double)(rng() % 1000) / 1000.0, (int)(rng() % 40) - 30);
    const int64_t hi = (int64_t(1) << (rng() % 20 + 1)) - 1, lo = -hi - 1;
    const double v = floor((double)x / step + 0.5);
    const int64_t want = (v != v || v < (double)lo) ? lo : v > (double)hi ? hi : (int64_t)v;
    if (host::quantize_code(x, step, lo, hi) != want) { printf("quantize_code(%a, %a)\n", x, step); return 1; }
  }
  printf("ok\n");
  return 0;
}
"""


def test_row_readers_writers_and_divider_match_element_access(tmp_path):
    include = resources.files("vaqf_compiler.backends.hls").joinpath("include")
    (tmp_path / "t.cpp").write_text(PROGRAM)
    exe = tmp_path / "t"
    build = subprocess.run(["g++", "-std=c++17", "-O1", "-Wall", "-Werror", f"-I{include}", "t.cpp", "-o", str(exe)],
                           cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe), str(random.randrange(1 << 32))], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr
