// vaqf: the host side — the ops the partition left on the CPU (scale, softmax,
// GELU, token concat, position embedding, patchify; layer norm and residual
// add when placed on the host), the image conversion, and code access to the
// packed DDR buffers the kernel shares. Plain C++17, no ap_int: it runs on the
// board's CPU.
//
// `Mem` is any class with  uint64_t get64(int64_t i) const,
// void set64(int64_t i, uint64_t v)  and  static const int port_bits: memory as
// 64-bit sub-words, sub-word i of PORT-bit word w being w * (port_bits/64) + i.
#ifndef VAQF_HOST_H
#define VAQF_HOST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include <string>
#include <vector>

#include "vaqf_arith.h"
#include "vaqf_types.h"

namespace vaqf {
namespace host {

// The whole file at `path` (weights, images); false if it cannot be read completely.
inline bool read_file(const std::string& path, std::vector<char>& out) {
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) return false;
  fseek(f, 0, SEEK_END);
  const long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  out.resize(n > 0 ? (size_t)n : 0);
  const size_t got = n > 0 ? fread(out.data(), 1, (size_t)n, f) : 0;
  fclose(f);
  return got == out.size();
}

inline int64_t elem_index(const Tensor& t, int64_t h, int64_t n, int64_t c) {
  return t.elem0 + h * t.hs + n * t.rs + c;
}

template <class M>
inline uint64_t read_bits(const M& mem, int64_t word, int64_t bit, int bits) {
  const int64_t abs = word * M::port_bits + bit;
  const int64_t sub = abs / 64;
  const int off = (int)(abs % 64);
  uint64_t v = mem.get64(sub) >> off;
  if (off + bits > 64) v |= mem.get64(sub + 1) << (64 - off);
  return bits < 64 ? v & ((uint64_t(1) << bits) - 1) : v;
}

template <class M>
inline void write_bits(M& mem, int64_t word, int64_t bit, int bits, uint64_t v) {
  const int64_t abs = word * M::port_bits + bit;
  const int64_t sub = abs / 64;
  const int off = (int)(abs % 64);
  const uint64_t mask = bits < 64 ? (uint64_t(1) << bits) - 1 : ~uint64_t(0);
  v &= mask;
  mem.set64(sub, (mem.get64(sub) & ~(mask << off)) | (v << off));
  if (off + bits > 64) {
    const int rest = off + bits - 64;
    const uint64_t hmask = (uint64_t(1) << rest) - 1;
    mem.set64(sub + 1, (mem.get64(sub + 1) & ~hmask) | (v >> (64 - off)));
  }
}

// Packed element p of tensor t (its format decides sign extension).
template <class M>
inline int64_t get_elem(const M& mem, const Tensor& t, int64_t p) {
  const int64_t word = t.base + p / t.per_word;
  const uint64_t raw = read_bits(mem, word, (p % t.per_word) * t.bits, t.bits);
  if (!t.sgn) return (int64_t)raw;
  if (t.bits == 1) return raw ? 1 : -1;
  if (t.bits < 64 && ((raw >> (t.bits - 1)) & 1)) return (int64_t)(raw | ~((uint64_t(1) << t.bits) - 1));
  return (int64_t)raw;
}

template <class M>
inline void put_elem(M& mem, const Tensor& t, int64_t p, int64_t code) {
  const int64_t word = t.base + p / t.per_word;
  const uint64_t raw = (t.sgn && t.bits == 1) ? uint64_t(code > 0 ? 1 : 0) : (uint64_t)code;
  write_bits(mem, word, (p % t.per_word) * t.bits, t.bits, raw);
}

template <class M>
inline int64_t get(const M& mem, const Tensor& t, int64_t h, int64_t n, int64_t c) {
  return get_elem(mem, t, elem_index(t, h, n, c));
}

template <class M>
inline void put(M& mem, const Tensor& t, int64_t h, int64_t n, int64_t c, int64_t v) {
  put_elem(mem, t, elem_index(t, h, n, c), v);
}

// Float image [C][H][W] -> codes, exactly as fixedpoint.quantize: floor(x / step + 1/2), saturated.
template <class M>
void quantize_image(M& mem, const float* image, const Tensor& out, int C, int H, int W, double step, int64_t lo,
                    int64_t hi) {
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const double v = floor((double)image[((int64_t)c * H + y) * W + x] / step + 0.5);
        int64_t code;
        if (v != v || v < (double)lo) code = lo;  // NaN saturates low, as numpy's cast then clip does
        else if (v > (double)hi) code = hi;
        else code = (int64_t)v;
        put(mem, out, c, y, x, code);
      }
}

// Codes -> float logits: code * step, rounded once to float.
template <class M>
void dequantize(const M& mem, const Tensor& t, int64_t count, double step, float* out, int64_t* codes) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t q = get(mem, t, 0, 0, i);
    codes[i] = q;
    out[i] = (float)((double)q * step);
  }
}

// [C][H][W] -> [(H/ph)*(W/pw)][C*ph*pw]: patches in row-major order, each flattened (c, i, j).
template <class M>
void patchify(M& mem, const Tensor& in, const Tensor& out, int C, int H, int W, int ph, int pw) {
  const int gw = W / pw;
  for (int py = 0; py < H / ph; ++py)
    for (int px = 0; px < gw; ++px)
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < ph; ++i)
          for (int j = 0; j < pw; ++j)
            put(mem, out, 0, py * gw + px, (c * ph + i) * pw + j, get(mem, in, c, py * ph + i, px * pw + j));
}

// y = to_code(x * mult + offset, shift): scale, position embedding (an offset per
// element, `offsets` = [rows][D] or null), the patch part of the token concat.
template <class M>
void rescale(M& mem, const Tensor& x, const Tensor& y, int heads, int rows, int dim, int64_t mult,
             const Tensor* offsets, int64_t offset, int shift, int32_t lo, int32_t hi, int32_t sign,
             int y_row0 = 0) {
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n)
      for (int c = 0; c < dim; ++c) {
        const int64_t o = offsets ? get_elem(mem, *offsets, ((int64_t)h * rows + n) * dim + c) : offset;
        const int64_t total = get(mem, x, h, n, c) * mult + o;
        put(mem, y, h, y_row0 + n, c, to_code<int64_t>(total, shift, lo, hi, sign));
      }
}

// Prepend `count` constant tokens (codes of the output format) then the rescaled rows.
template <class M>
void cls_concat(M& mem, const Tensor& x, const Tensor& y, int rows, int dim, const Tensor& tokens, int count,
                int64_t mult, int64_t offset, int shift, int32_t lo, int32_t hi, int32_t sign) {
  for (int k = 0; k < count; ++k)
    for (int c = 0; c < dim; ++c) put(mem, y, 0, k, c, get_elem(mem, tokens, (int64_t)k * dim + c));
  rescale(mem, x, y, 1, rows, dim, mult, nullptr, offset, shift, lo, hi, sign, count);
}

// Integer softmax over the last axis: p = floor((2 E[t] N + sum) / (2 sum)), t = max - q.
template <class M>
void softmax(M& mem, const Tensor& x, const Tensor& y, int heads, int rows, int len, const Tensor& table,
             int64_t table_len, int64_t levels, int32_t lo, int32_t hi, int64_t* e) {
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n) {
      int64_t mx = get(mem, x, h, n, 0);
      for (int c = 1; c < len; ++c) {
        const int64_t q = get(mem, x, h, n, c);
        if (q > mx) mx = q;
      }
      int64_t total = 0;
      for (int c = 0; c < len; ++c) {
        const int64_t t = mx - get(mem, x, h, n, c);
        e[c] = t < table_len ? get_elem(mem, table, t) : 0;
        total += e[c];
      }
      for (int c = 0; c < len; ++c) {
        const int64_t p = (2 * e[c] * levels + total) / (2 * total);
        put(mem, y, h, n, c, clamp_code<int64_t>(p, lo, hi));
      }
    }
}

// GELU by table: y = T[x - in_lo].
template <class M>
void gelu(M& mem, const Tensor& x, const Tensor& y, int heads, int rows, int dim, const Tensor& table,
          int64_t in_lo) {
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n)
      for (int c = 0; c < dim; ++c) put(mem, y, h, n, c, get_elem(mem, table, get(mem, x, h, n, c) - in_lo));
}

// Layer norm on the host (when the partition put it there): the kernel's algorithm.
template <class M>
void layer_norm(M& mem, const Tensor& x, const Tensor& y, int rows, int dim, const Tensor& gamma,
                const Tensor& beta, int64_t eps, int32_t lo, int32_t hi, int32_t sign) {
  for (int n = 0; n < rows; ++n) {
    int64_t s1 = 0, s2 = 0;
    for (int c = 0; c < dim; ++c) {
      const int64_t q = get(mem, x, 0, n, c);
      s1 += q;
      s2 += q * q;
    }
    const LnRow f = ln_row_factor<int64_t, uint64_t>(s1, s2, dim, eps);
    for (int c = 0; c < dim; ++c)
      put(mem, y, 0, n, c,
          ln_code<int64_t>(get(mem, x, 0, n, c), s1, dim, f, get_elem(mem, gamma, c), get_elem(mem, beta, c), lo,
                           hi, sign));
  }
}

// Residual addition on the host: to_code(a*ma + b*mb + o, shift).
template <class M>
void add(M& mem, const Tensor& a, const Tensor& b, const Tensor& y, int heads, int rows, int dim, int64_t ma,
         int64_t mb, int64_t o, int shift, int32_t lo, int32_t hi, int32_t sign) {
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n)
      for (int c = 0; c < dim; ++c) {
        const int64_t total = get(mem, a, h, n, c) * ma + get(mem, b, h, n, c) * mb + o;
        put(mem, y, h, n, c, to_code<int64_t>(total, shift, lo, hi, sign));
      }
}

// Mean pooling over tokens first..rows-1: y[c] = to_code(sum_n x[n][c] * mult + offset, shift), the
// sum exact (intconst.mean_pool_constants sized the shift for that many times the largest code).
template <class M>
void mean_pool(M& mem, const Tensor& x, const Tensor& y, int first, int rows, int dim, int64_t mult,
               int64_t offset, int shift, int32_t lo, int32_t hi, int32_t sign) {
  for (int c = 0; c < dim; ++c) {
    int64_t sum = 0;
    for (int n = first; n < rows; ++n) sum += get(mem, x, 0, n, c);
    put(mem, y, 0, 0, c, to_code<int64_t>(sum * mult + offset, shift, lo, hi, sign));
  }
}

}  // namespace host
}  // namespace vaqf

#endif
