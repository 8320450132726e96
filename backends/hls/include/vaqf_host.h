// vaqf: the host side — the ops the partition left on the CPU (scale, softmax,
// GELU, token concat, position embedding, patchify; layer norm and residual
// add when placed on the host), the image conversion, and code access to the
// packed DDR buffers the kernel shares. Plain C++17, no ap_int: it runs on the
// board's CPU.
//
// `Mem` is any class with  uint64_t get64(int64_t i) const,
// void set64(int64_t i, uint64_t v)  and  static const int port_bits: memory as
// 64-bit sub-words, sub-word i of PORT-bit word w being w * (port_bits/64) + i.
//
// Speed (issue 15): the ops walk their tensors row by row through `Reader` and
// `Writer`, which touch each memory word once and take codes out with shifts —
// no division and no memory access per element (the board's buffer may be
// uncached, or a cached mapping the CPU still pays for per access); tables are
// copied to host memory once per call; softmax divides by each row's sum with
// an exact reciprocal (`RowDivider`). Results are bit-identical to the
// element-at-a-time `get`/`put` below, which stay for single elements.
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

// Sequential access to packed elements p0, p0 + 1, ... of a tensor (one row of a [h][n][c] view is
// contiguous). The current PORT-bit word lives in `buf_`: one division to find the first word, then
// only shifts and masks per element; memory is read (and, for a Writer, written back) once per word.
template <class M>
class Cursor {
 public:
  static const int kSub = M::port_bits / 64;

  Cursor(const Tensor& t, int64_t p0)
      : bits_(t.bits), per_word_(t.per_word), word_(t.base + p0 / t.per_word), slot_((int)(p0 % t.per_word)),
        mask_(t.bits < 64 ? (uint64_t(1) << t.bits) - 1 : ~uint64_t(0)) {}

 protected:
  void load(const M& mem) {
    for (int i = 0; i < kSub; ++i) buf_[i] = mem.get64(word_ * kSub + i);
  }
  void store(M& mem) const {
    for (int i = 0; i < kSub; ++i) mem.set64(word_ * kSub + i, buf_[i]);
  }
  uint64_t take() const {
    const int bit = slot_ * bits_, sub = bit >> 6, off = bit & 63;
    uint64_t v = buf_[sub] >> off;
    if (off + bits_ > 64) v |= buf_[sub + 1] << (64 - off);
    return v & mask_;
  }
  void give(uint64_t v) {
    const int bit = slot_ * bits_, sub = bit >> 6, off = bit & 63;
    v &= mask_;
    buf_[sub] = (buf_[sub] & ~(mask_ << off)) | (v << off);
    if (off + bits_ > 64) {
      const uint64_t hmask = (uint64_t(1) << (off + bits_ - 64)) - 1;
      buf_[sub + 1] = (buf_[sub + 1] & ~hmask) | (v >> (64 - off));
    }
  }
  bool last_slot() const { return slot_ + 1 == per_word_; }
  void advance() {
    if (++slot_ == per_word_) {
      slot_ = 0;
      ++word_;
    }
  }

  const int bits_, per_word_;
  int64_t word_;
  int slot_;
  const uint64_t mask_;
  uint64_t buf_[kSub];
};

// Words are loaded when first used, so a row that ends a buffer never touches the word after it.
template <class M>
class Reader : public Cursor<M> {
 public:
  Reader(const M& mem, const Tensor& t, int64_t p0) : Cursor<M>(t, p0), mem_(mem), sgn_(t.sgn) {}
  int64_t next() {
    if (!loaded_) {
      this->load(mem_);
      loaded_ = true;
    }
    const uint64_t raw = this->take();
    if (this->last_slot()) loaded_ = false;
    this->advance();
    if (!sgn_) return (int64_t)raw;
    if (this->bits_ == 1) return raw ? 1 : -1;
    if (this->bits_ >= 64) return (int64_t)raw;
    const int up = 64 - this->bits_;
    return (int64_t)(raw << up) >> up;  // sign extension
  }

 private:
  const M& mem_;
  const int sgn_;
  bool loaded_ = false;
};

// Writes codes in order. A word is read before its first code goes in (a row may share its first
// and last word with its neighbours) and written back when left or when the Writer goes out of scope.
template <class M>
class Writer : public Cursor<M> {
 public:
  Writer(M& mem, const Tensor& t, int64_t p0) : Cursor<M>(t, p0), mem_(mem), one_bit_signed_(t.sgn && t.bits == 1) {}
  ~Writer() {
    if (loaded_) this->store(mem_);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  void put(int64_t code) {
    if (!loaded_) {
      this->load(mem_);
      loaded_ = true;
    }
    this->give(one_bit_signed_ ? uint64_t(code > 0 ? 1 : 0) : (uint64_t)code);
    if (this->last_slot()) {
      this->store(mem_);
      loaded_ = false;
    }
    this->advance();
  }

 private:
  M& mem_;
  const bool one_bit_signed_;
  bool loaded_ = false;
};

template <class M>
inline void read_row(const M& mem, const Tensor& t, int64_t p0, int64_t count, int64_t* out) {
  Reader<M> r(mem, t, p0);
  for (int64_t i = 0; i < count; ++i) out[i] = r.next();
}

// A constant array (table, offsets) copied to host memory once per call.
template <class M>
inline std::vector<int64_t> host_copy(const M& mem, const Tensor& t, int64_t count) {
  std::vector<int64_t> out((size_t)(count > 0 ? count : 0));
  if (count > 0) read_row(mem, t, 0, count, out.data());
  return out;
}

// floor(n / d) for one divisor and many n, exactly: a floating-point estimate of the quotient,
// corrected with integer multiplications (the estimate is off by at most one for n < 2^53), so
// the 64-bit division runs once per row instead of once per element. Negative n: plain division.
class RowDivider {
 public:
  explicit RowDivider(int64_t d) : d_(d), inv_(1.0 / (double)d) {}
  int64_t div(int64_t n) const {
    if (n < 0 || d_ <= 0 || n >= (int64_t(1) << 53)) return n / d_;
    int64_t q = (int64_t)((double)n * inv_);
    while (q > 0 && q * d_ > n) --q;
    while ((q + 1) * d_ <= n) ++q;
    return q;
  }

 private:
  int64_t d_;
  double inv_;
};

// Float image [C][H][W] -> codes, exactly as fixedpoint.quantize: floor(x / step + 1/2), saturated.
template <class M>
void quantize_image(M& mem, const float* image, const Tensor& out, int C, int H, int W, double step, int64_t lo,
                    int64_t hi) {
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y) {
      Writer<M> w(mem, out, elem_index(out, c, y, 0));
      const float* row = image + ((int64_t)c * H + y) * W;
      for (int x = 0; x < W; ++x) {
        const double v = floor((double)row[x] / step + 0.5);
        int64_t code;
        if (v != v || v < (double)lo) code = lo;  // NaN saturates low, as numpy's cast then clip does
        else if (v > (double)hi) code = hi;
        else code = (int64_t)v;
        w.put(code);
      }
    }
}

// Codes -> float logits: code * step, rounded once to float.
template <class M>
void dequantize(const M& mem, const Tensor& t, int64_t count, double step, float* out, int64_t* codes) {
  read_row(mem, t, elem_index(t, 0, 0, 0), count, codes);
  for (int64_t i = 0; i < count; ++i) out[i] = (float)((double)codes[i] * step);
}

// [C][H][W] -> [(H/ph)*(W/pw)][C*ph*pw]: patches in row-major order, each flattened (c, i, j).
template <class M>
void patchify(M& mem, const Tensor& in, const Tensor& out, int C, int H, int W, int ph, int pw) {
  const int gw = W / pw;
  for (int py = 0; py < H / ph; ++py)
    for (int px = 0; px < gw; ++px) {
      Writer<M> w(mem, out, elem_index(out, 0, py * gw + px, 0));
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < ph; ++i) {
          Reader<M> r(mem, in, elem_index(in, c, py * ph + i, px * pw));
          for (int j = 0; j < pw; ++j) w.put(r.next());
        }
    }
}

// y = to_code(x * mult + offset, shift): scale, position embedding (an offset per
// element, `offsets` = [rows][D] or null), the patch part of the token concat.
template <class M>
void rescale(M& mem, const Tensor& x, const Tensor& y, int heads, int rows, int dim, int64_t mult,
             const Tensor* offsets, int64_t offset, int shift, int32_t lo, int32_t hi, int32_t sign,
             int y_row0 = 0) {
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n) {
      Reader<M> r(mem, x, elem_index(x, h, n, 0));
      Writer<M> w(mem, y, elem_index(y, h, y_row0 + n, 0));
      if (offsets) {
        Reader<M> o(mem, *offsets, ((int64_t)h * rows + n) * dim);
        for (int c = 0; c < dim; ++c) w.put(to_code<int64_t>(r.next() * mult + o.next(), shift, lo, hi, sign));
      } else {
        for (int c = 0; c < dim; ++c) w.put(to_code<int64_t>(r.next() * mult + offset, shift, lo, hi, sign));
      }
    }
}

// Prepend `count` constant tokens (codes of the output format) then the rescaled rows.
template <class M>
void cls_concat(M& mem, const Tensor& x, const Tensor& y, int rows, int dim, const Tensor& tokens, int count,
                int64_t mult, int64_t offset, int shift, int32_t lo, int32_t hi, int32_t sign) {
  for (int k = 0; k < count; ++k) {
    Reader<M> r(mem, tokens, (int64_t)k * dim);
    Writer<M> w(mem, y, elem_index(y, 0, k, 0));
    for (int c = 0; c < dim; ++c) w.put(r.next());
  }
  rescale(mem, x, y, 1, rows, dim, mult, nullptr, offset, shift, lo, hi, sign, count);
}

// Integer softmax over the last axis: p = floor((2 E[t] N + sum) / (2 sum)), t = max - q.
// `e` holds one row (at least `len` values).
template <class M>
void softmax(M& mem, const Tensor& x, const Tensor& y, int heads, int rows, int len, const Tensor& table,
             int64_t table_len, int64_t levels, int32_t lo, int32_t hi, int64_t* e) {
  const std::vector<int64_t> tab = host_copy(mem, table, table_len);
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n) {
      read_row(mem, x, elem_index(x, h, n, 0), len, e);
      int64_t mx = e[0];
      for (int c = 1; c < len; ++c)
        if (e[c] > mx) mx = e[c];
      int64_t total = 0;
      for (int c = 0; c < len; ++c) {
        const int64_t t = mx - e[c];
        e[c] = t < table_len ? tab[(size_t)t] : 0;
        total += e[c];
      }
      const RowDivider d(2 * total);
      Writer<M> w(mem, y, elem_index(y, h, n, 0));
      for (int c = 0; c < len; ++c) w.put(clamp_code<int64_t>(d.div(2 * e[c] * levels + total), lo, hi));
    }
}

// GELU by table: y = T[x - in_lo] (`table_len` entries; an index outside them reads memory as
// the element-at-a-time code did).
template <class M>
void gelu(M& mem, const Tensor& x, const Tensor& y, int heads, int rows, int dim, const Tensor& table,
          int64_t table_len, int64_t in_lo) {
  const std::vector<int64_t> tab = host_copy(mem, table, table_len);
  const int64_t size = (int64_t)tab.size();
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n) {
      Reader<M> r(mem, x, elem_index(x, h, n, 0));
      Writer<M> w(mem, y, elem_index(y, h, n, 0));
      for (int c = 0; c < dim; ++c) {
        const int64_t i = r.next() - in_lo;
        w.put(i >= 0 && i < size ? tab[(size_t)i] : get_elem(mem, table, i));
      }
    }
}

// Layer norm on the host (when the partition put it there): the kernel's algorithm.
template <class M>
void layer_norm(M& mem, const Tensor& x, const Tensor& y, int rows, int dim, const Tensor& gamma,
                const Tensor& beta, int64_t eps, int32_t lo, int32_t hi, int32_t sign) {
  const std::vector<int64_t> g = host_copy(mem, gamma, dim), b = host_copy(mem, beta, dim);
  std::vector<int64_t> q((size_t)dim);
  for (int n = 0; n < rows; ++n) {
    read_row(mem, x, elem_index(x, 0, n, 0), dim, q.data());
    int64_t s1 = 0, s2 = 0;
    for (int c = 0; c < dim; ++c) {
      s1 += q[c];
      s2 += q[c] * q[c];
    }
    const LnRow f = ln_row_factor<int64_t, uint64_t>(s1, s2, dim, eps);
    Writer<M> w(mem, y, elem_index(y, 0, n, 0));
    for (int c = 0; c < dim; ++c) w.put(ln_code<int64_t>(q[c], s1, dim, f, g[c], b[c], lo, hi, sign));
  }
}

// Residual addition on the host: to_code(a*ma + b*mb + o, shift).
template <class M>
void add(M& mem, const Tensor& a, const Tensor& b, const Tensor& y, int heads, int rows, int dim, int64_t ma,
         int64_t mb, int64_t o, int shift, int32_t lo, int32_t hi, int32_t sign) {
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n) {
      Reader<M> ra(mem, a, elem_index(a, h, n, 0)), rb(mem, b, elem_index(b, h, n, 0));
      Writer<M> w(mem, y, elem_index(y, h, n, 0));
      for (int c = 0; c < dim; ++c) w.put(to_code<int64_t>(ra.next() * ma + rb.next() * mb + o, shift, lo, hi, sign));
    }
}

}  // namespace host
}  // namespace vaqf

#endif
