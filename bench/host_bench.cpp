// Times one host op of backends/hls/include/vaqf_host.h on a [rows][dim] tensor of random codes in
// plain (cached) memory, as the board hosts run it: bench/bench_host.py builds this file against the
// header of a given commit and runs it per op kind and shape.
//
//   host_bench OP ROWS DIM XBITS YBITS REPS   ->  prints "ns_per_call"
//
// Built with -DVAQF_HOST_GELU_NO_LEN for headers before issue 15 (gelu without its table length, no
// quantize_patches: image_to_patches then runs quantize_image and patchify, as those hosts did).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <random>
#include <string>
#include <vector>

#include "vaqf_host.h"

using namespace vaqf;

struct Mem {
  static const int port_bits = 64;
  std::vector<uint64_t> w;
  uint64_t get64(int64_t i) const { return w[(size_t)i]; }
  void set64(int64_t i, uint64_t v) { w[(size_t)i] = v; }
};

static double now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s OP ROWS DIM XBITS YBITS REPS\n", argv[0]);
    return 2;
  }
  const std::string op = argv[1];
  const int rows = atoi(argv[2]), dim = atoi(argv[3]), xb = atoi(argv[4]), yb = atoi(argv[5]), reps = atoi(argv[6]);
  const int64_t n = (int64_t)rows * dim;
  auto words = [](int64_t count, int bits) { return count / (64 / bits) + 2; };
  // x | y | offsets (y's format) | table (32-bit) | image floats aside
  const int64_t xw = words(n, xb), yw = words(n + dim, yb), ow = words(n, yb), tw = words(1 << 16, 32);
  Mem mem;
  mem.w.resize((size_t)(xw + yw + ow + tw + 8));
  std::mt19937_64 rng(1);
  for (auto& v : mem.w) v = rng();
  const Tensor x = {0, 0, n, dim, xb, 1, 64 / xb, 0};
  const Tensor y = {xw, 0, n + dim, dim, yb, 1, 64 / yb, 0};
  const Tensor off = {xw + yw, 0, n, dim, yb, 1, 64 / yb, 0};
  const Tensor table = {xw + yw + ow, 0, 1 << 16, 1 << 16, 32, 0, 2, 0};
  for (int64_t i = 0; i < (1 << 16); ++i) host::put_elem(mem, table, i, (int64_t)(rng() % 60000) + 1);
  std::vector<float> image((size_t)n);
  for (auto& v : image) v = (float)((double)(rng() % 2000) / 1000.0 - 1.0);
  std::vector<int64_t> scratch((size_t)dim);
  const int64_t lo = -(int64_t(1) << (yb - 1)), hi = (int64_t(1) << (yb - 1)) - 1;
  const int64_t in_lo = -(int64_t(1) << (xb - 1));
  int patch = 16;
  while (patch > 1 && (rows % patch || dim % patch)) patch /= 2;
  const double t0 = now_ns();
  for (int r = 0; r < reps; ++r) {
    if (op == "softmax") {
      host::softmax(mem, x, y, 1, rows, dim, table, 1 << 16, 255, 0, (int32_t)hi, scratch.data());
    } else if (op == "gelu") {
#ifdef VAQF_HOST_GELU_NO_LEN
      host::gelu(mem, x, y, 1, rows, dim, table, in_lo);
#else
      host::gelu(mem, x, y, 1, rows, dim, table, int64_t(1) << xb, in_lo);
#endif
    } else if (op == "scale") {
      host::rescale(mem, x, y, 1, rows, dim, 12345, nullptr, 77, 14, (int32_t)lo, (int32_t)hi, 0);
    } else if (op == "pos_embed_add") {
      host::rescale(mem, x, y, 1, rows, dim, 12345, &off, 0, 14, (int32_t)lo, (int32_t)hi, 0);
    } else if (op == "cls_concat") {
      host::cls_concat(mem, x, y, rows, dim, off, 1, 12345, 77, 14, (int32_t)lo, (int32_t)hi, 0);
    } else if (op == "patchify") {  // a [1][rows][dim] image into patch x patch patches
      host::patchify(mem, x, y, 1, rows, dim, patch, patch);
    } else if (op == "quantize_image") {
      host::quantize_image(mem, image.data(), y, 1, rows, dim, 1.0 / 64, lo, hi);
    } else if (op == "image_to_patches") {  // what the host does with the image before the first kernel call
#ifdef VAQF_HOST_GELU_NO_LEN
      host::quantize_image(mem, image.data(), x, 1, rows, dim, 1.0 / 64, lo, hi);  // before issue 15: two passes
      host::patchify(mem, x, y, 1, rows, dim, patch, patch);
#else
      host::quantize_patches(mem, image.data(), y, 1, rows, dim, patch, patch, 1.0 / 64, lo, hi);
#endif
    } else if (op == "layer_norm") {
      host::layer_norm(mem, x, y, rows, dim, off, off, 1000, (int32_t)lo, (int32_t)hi, 0);
    } else if (op == "add") {
      host::add(mem, x, off, y, 1, rows, dim, 3, 5, 7, 3, (int32_t)lo, (int32_t)hi, 0);
    } else if (op == "mean_pool") {  // issue 17's pooled head: tokens 0..rows-1 into one row (elements: rows x dim)
      host::mean_pool(mem, x, y, 0, rows, dim, 3, 7, 12, (int32_t)lo, (int32_t)hi, 0);
    } else {
      fprintf(stderr, "unknown op %s\n", op.c_str());
      return 2;
    }
  }
  const double ns = (now_ns() - t0) / (reps > 0 ? reps : 1);
  uint64_t sum = 0;  // keeps the work observable
  for (uint64_t v : mem.w) sum += v;
  printf("%.1f %llu\n", ns, (unsigned long long)(sum & 1));
  return 0;
}
