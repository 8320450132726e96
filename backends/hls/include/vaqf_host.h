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
// Speed (issue 15): the ops decode a whole row into int64 codes (`read_row`),
// compute on the array, and encode it back (`write_row`): one memory access
// per 64-bit sub-word and a shift and a mask per code, no division per element
// (`Reader`/`Writer` do the same word by word for widths that do not divide 64,
// e.g. 6-bit codes). Tables are copied to host memory once per call; softmax
// divides by each row's sum with an exact reciprocal (`RowDivider`). Results
// are bit-identical to the element-at-a-time `get`/`put` below, which stay for
// single elements (test_hls_host_runtime.py checks the pieces, the C
// simulation the whole model).
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
// contiguous). The current PORT-bit word lives in `buf_`, loaded when first used (so a row that ends
// a buffer never touches the word after it): one division to find the first word, then per element
// a shift and a mask of the current 64-bit sub-word while whole codes remain in it (`left_`), and
// the general path only where a code straddles two sub-words or a new word begins.
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
  // Slow path: at a word's end, move to the next word (written back first by a Writer); then
  // count the whole codes left in the current sub-word from `slot_` (0: this code straddles).
  template <class Flush>
  void refill(const M& mem, Flush flush) {
    if (slot_ == per_word_) {
      if (loaded_) flush();
      slot_ = 0;
      ++word_;
      loaded_ = false;
    }
    if (!loaded_) {
      load(mem);
      loaded_ = true;
    }
    const int bit = slot_ * bits_;
    sub_ = bit >> 6;
    off_ = bit & 63;
    const int fit = (64 - off_) / bits_, rest = per_word_ - slot_;
    left_ = fit < rest ? fit : rest;
  }
  // A code that straddles sub-words sub_ and sub_ + 1.
  uint64_t take_straddling() const {
    return ((buf_[sub_] >> off_) | (buf_[sub_ + 1] << (64 - off_))) & mask_;
  }
  void give_straddling(uint64_t v) {
    buf_[sub_] = (buf_[sub_] & ~(mask_ << off_)) | (v << off_);
    const uint64_t hmask = (uint64_t(1) << (off_ + bits_ - 64)) - 1;
    buf_[sub_ + 1] = (buf_[sub_ + 1] & ~hmask) | (v >> (64 - off_));
  }

  const int bits_, per_word_;
  int64_t word_;
  int slot_;
  const uint64_t mask_;
  uint64_t buf_[kSub] = {};
  bool loaded_ = false;
  int left_ = 0, sub_ = 0, off_ = 0;
};

template <class M>
class Reader : public Cursor<M> {
 public:
  Reader(const M& mem, const Tensor& t, int64_t p0) : Cursor<M>(t, p0), mem_(mem), sgn_(t.sgn) {}
  int64_t next() {
    uint64_t raw;
    if (this->left_ == 0) this->refill(mem_, [] {});
    if (this->left_ > 0) {
      raw = (this->buf_[this->sub_] >> this->off_) & this->mask_;
      this->off_ += this->bits_;
      --this->left_;
    } else {
      raw = this->take_straddling();
    }
    ++this->slot_;
    if (!sgn_) return (int64_t)raw;
    if (this->bits_ == 1) return raw ? 1 : -1;
    if (this->bits_ >= 64) return (int64_t)raw;
    const int up = 64 - this->bits_;
    return (int64_t)(raw << up) >> up;  // sign extension
  }

 private:
  const M& mem_;
  const int sgn_;
};

// Writes codes in order. A word is read before its first code goes in (a row may share its first
// and last word with its neighbours) and written back when left or when the Writer goes out of scope.
template <class M>
class Writer : public Cursor<M> {
 public:
  Writer(M& mem, const Tensor& t, int64_t p0) : Cursor<M>(t, p0), mem_(mem), one_bit_signed_(t.sgn && t.bits == 1) {}
  ~Writer() {
    if (this->loaded_) this->store(mem_);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  void put(int64_t code) {
    const uint64_t v = (one_bit_signed_ ? uint64_t(code > 0 ? 1 : 0) : (uint64_t)code) & this->mask_;
    if (this->left_ == 0) this->refill(mem_, [this] { this->store(mem_); });
    if (this->left_ > 0) {
      uint64_t& sub = this->buf_[this->sub_];
      sub = (sub & ~(this->mask_ << this->off_)) | (v << this->off_);
      this->off_ += this->bits_;
      --this->left_;
    } else {
      this->give_straddling(v);
    }
    ++this->slot_;
  }

 private:
  M& mem_;
  const bool one_bit_signed_;
};

// Codes of packed elements p0 .. p0 + count - 1 into out[]. Widths that divide 64 (1, 2, 4, 8, 16,
// 32, 64 bits: no code straddles a 64-bit sub-word, so the tensor is a flat run of sub-words of
// 64/bits codes) take the fast path: one memory read per sub-word, a shift and a mask per code.
template <class M>
inline void read_row(const M& mem, const Tensor& t, int64_t p0, int64_t count, int64_t* out) {
  if (count <= 0) return;
  if (64 % t.bits != 0) {
    Reader<M> r(mem, t, p0);
    for (int64_t i = 0; i < count; ++i) out[i] = r.next();
    return;
  }
  const int bits = t.bits, per_sub = 64 / bits, sgn = t.sgn;
  const uint64_t mask = bits < 64 ? (uint64_t(1) << bits) - 1 : ~uint64_t(0);
  int64_t sub = t.base * (M::port_bits / 64) + p0 / per_sub;
  int j = (int)(p0 % per_sub);
  int64_t i = 0;
  while (i < count) {
    uint64_t v = mem.get64(sub++);
    if (bits < 64) v >>= j * bits;
    const int64_t n = count - i < per_sub - j ? count - i : per_sub - j;
    int64_t* o = out + i;
    if (bits == 64) {
      o[0] = (int64_t)v;
    } else if (!sgn) {
      for (int64_t k = 0; k < n; ++k, v >>= bits) o[k] = (int64_t)(v & mask);
    } else if (bits == 1) {
      for (int64_t k = 0; k < n; ++k, v >>= 1) o[k] = (v & 1) ? 1 : -1;
    } else {
      const int up = 64 - bits;  // the code to the top, then an arithmetic shift back: sign extension
      for (int64_t k = 0; k < n; ++k, v >>= bits) o[k] = (int64_t)(v << up) >> up;
    }
    i += n;
    j = 0;
  }
}

// in[0 .. count-1] as the codes of packed elements p0 ..; sub-words shared with neighbouring
// elements keep their other bits. Same fast path as read_row.
template <class M>
inline void write_row(M& mem, const Tensor& t, int64_t p0, int64_t count, const int64_t* in) {
  if (count <= 0) return;
  if (64 % t.bits != 0) {
    Writer<M> w(mem, t, p0);
    for (int64_t i = 0; i < count; ++i) w.put(in[i]);
    return;
  }
  const int bits = t.bits, per_sub = 64 / bits;
  const bool one_bit_signed = t.sgn && bits == 1;
  const uint64_t mask = bits < 64 ? (uint64_t(1) << bits) - 1 : ~uint64_t(0);
  int64_t sub = t.base * (M::port_bits / 64) + p0 / per_sub;
  int j = (int)(p0 % per_sub);
  int64_t i = 0;
  while (i < count) {
    const int64_t n = count - i < per_sub - j ? count - i : per_sub - j;
    const int64_t* c = in + i;
    uint64_t v = 0;
    if (bits == 64) {
      v = (uint64_t)c[0];
    } else if (one_bit_signed) {  // last code first: each shifts the earlier ones up
      for (int64_t k = n - 1; k >= 0; --k) v = (v << 1) | (c[k] > 0 ? 1 : 0);
    } else {
      for (int64_t k = n - 1; k >= 0; --k) v = (v << bits) | ((uint64_t)c[k] & mask);
    }
    if (n < per_sub) {  // a partial sub-word: merge with what is there
      const uint64_t field = ((uint64_t(1) << (n * bits)) - 1) << (j * bits);
      v = (mem.get64(sub) & ~field) | (v << (j * bits));
    }
    mem.set64(sub++, v);
    i += n;
    j = 0;
  }
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

// One float value -> its code, exactly as fixedpoint.quantize: floor(x / step + 1/2), saturated
// (NaN saturates low, as numpy's cast then clip does). floor by truncation and a fix-up on the
// range that is not saturated: no libm call (x86-64 without SSE4.1 calls floor()).
inline int64_t quantize_code(float x, double step, int64_t lo, int64_t hi) {
  const double q = (double)x / step + 0.5;
  if (!(q >= (double)lo)) return lo;             // floor(q) < lo  <=>  q < lo (lo is an integer); NaN
  if (q >= (double)hi + 1.0) return hi;          // floor(q) > hi  <=>  q >= hi + 1
  int64_t t = (int64_t)q;                        // |q| < 2^62 here: truncation is defined
  if ((double)t > q) --t;                        // negative non-integers: truncation is one above floor
  return t;
}

// Float image [C][H][W] -> codes.
template <class M>
void quantize_image(M& mem, const float* image, const Tensor& out, int C, int H, int W, double step, int64_t lo,
                    int64_t hi) {
  std::vector<int64_t> row((size_t)W);
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y) {
      const float* in = image + ((int64_t)c * H + y) * W;
      for (int x = 0; x < W; ++x) row[x] = quantize_code(in[x], step, lo, hi);
      write_row(mem, out, elem_index(out, c, y, 0), W, row.data());
    }
}

// quantize_image then patchify in one pass (when the image feeds only the patchify): the codes go
// straight to [(H/ph)*(W/pw)][C*ph*pw], each patch flattened (c, i, j); the image buffer stays unused.
template <class M>
void quantize_patches(M& mem, const float* image, const Tensor& out, int C, int H, int W, int ph, int pw,
                      double step, int64_t lo, int64_t hi) {
  const int gw = W / pw;
  std::vector<int64_t> row((size_t)C * ph * pw);
  for (int py = 0; py < H / ph; ++py)
    for (int px = 0; px < gw; ++px) {
      int64_t* r = row.data();
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < ph; ++i) {
          const float* in = image + ((int64_t)c * H + py * ph + i) * W + px * pw;
          for (int j = 0; j < pw; ++j) *r++ = quantize_code(in[j], step, lo, hi);
        }
      write_row(mem, out, elem_index(out, 0, py * gw + px, 0), (int64_t)row.size(), row.data());
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
  std::vector<int64_t> row((size_t)C * ph * pw);
  for (int py = 0; py < H / ph; ++py)
    for (int px = 0; px < gw; ++px) {
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < ph; ++i)
          read_row(mem, in, elem_index(in, c, py * ph + i, px * pw), pw, row.data() + (c * ph + i) * pw);
      write_row(mem, out, elem_index(out, 0, py * gw + px, 0), (int64_t)row.size(), row.data());
    }
}

// y = to_code(x * mult + offset, shift): scale, position embedding (an offset per
// element, `offsets` = [rows][D] or null), the patch part of the token concat.
template <class M>
void rescale(M& mem, const Tensor& x, const Tensor& y, int heads, int rows, int dim, int64_t mult,
             const Tensor* offsets, int64_t offset, int shift, int32_t lo, int32_t hi, int32_t sign,
             int y_row0 = 0) {
  std::vector<int64_t> q((size_t)dim), o((size_t)dim, offset);
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n) {
      read_row(mem, x, elem_index(x, h, n, 0), dim, q.data());
      if (offsets) read_row(mem, *offsets, ((int64_t)h * rows + n) * dim, dim, o.data());
      for (int c = 0; c < dim; ++c) q[c] = to_code<int64_t>(q[c] * mult + o[c], shift, lo, hi, sign);
      write_row(mem, y, elem_index(y, h, y_row0 + n, 0), dim, q.data());
    }
}

// Prepend `count` constant tokens (codes of the output format) then the rescaled rows.
template <class M>
void cls_concat(M& mem, const Tensor& x, const Tensor& y, int rows, int dim, const Tensor& tokens, int count,
                int64_t mult, int64_t offset, int shift, int32_t lo, int32_t hi, int32_t sign) {
  std::vector<int64_t> row((size_t)dim);
  for (int k = 0; k < count; ++k) {
    read_row(mem, tokens, (int64_t)k * dim, dim, row.data());
    write_row(mem, y, elem_index(y, 0, k, 0), dim, row.data());
  }
  rescale(mem, x, y, 1, rows, dim, mult, nullptr, offset, shift, lo, hi, sign, count);
}

// Integer softmax over the last axis: p = floor((2 E[t] N + sum) / (2 sum)), t = max - q.
// `e` holds one row (at least `len` values).
template <class M>
void softmax(M& mem, const Tensor& x, const Tensor& y, int heads, int rows, int len, const Tensor& table,
             int64_t table_len, int64_t levels, int32_t lo, int32_t hi, int64_t* e) {
  // t = max - q < 2^bits of q: only the table's first 2^bits entries can be read.
  const int64_t reach = x.bits < 24 ? (int64_t(1) << x.bits) : table_len;
  const std::vector<int64_t> tab = host_copy(mem, table, table_len < reach ? table_len : reach);
  const int64_t size = (int64_t)tab.size();
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n) {
      read_row(mem, x, elem_index(x, h, n, 0), len, e);
      int64_t mx = e[0];
      for (int c = 1; c < len; ++c)
        if (e[c] > mx) mx = e[c];
      int64_t total = 0;
      for (int c = 0; c < len; ++c) {
        const int64_t t = mx - e[c];
        e[c] = t < size ? tab[(size_t)t] : t < table_len ? get_elem(mem, table, t) : 0;
        total += e[c];
      }
      const RowDivider d(2 * total);
      for (int c = 0; c < len; ++c) e[c] = clamp_code<int64_t>(d.div(2 * e[c] * levels + total), lo, hi);
      write_row(mem, y, elem_index(y, h, n, 0), len, e);
    }
}

// GELU by table: y = T[x - in_lo] (`table_len` entries; an index outside them reads memory as
// the element-at-a-time code did).
template <class M>
void gelu(M& mem, const Tensor& x, const Tensor& y, int heads, int rows, int dim, const Tensor& table,
          int64_t table_len, int64_t in_lo) {
  const std::vector<int64_t> tab = host_copy(mem, table, table_len);
  const int64_t size = (int64_t)tab.size();
  std::vector<int64_t> q((size_t)dim);
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n) {
      read_row(mem, x, elem_index(x, h, n, 0), dim, q.data());
      for (int c = 0; c < dim; ++c) {
        const int64_t i = q[c] - in_lo;
        q[c] = i >= 0 && i < size ? tab[(size_t)i] : get_elem(mem, table, i);
      }
      write_row(mem, y, elem_index(y, h, n, 0), dim, q.data());
    }
}

// Layer norm on the host (when the partition put it there): the kernel's algorithm.
template <class M>
void layer_norm(M& mem, const Tensor& x, const Tensor& y, int rows, int dim, const Tensor& gamma,
                const Tensor& beta, int64_t eps, int32_t lo, int32_t hi, int32_t sign) {
  const std::vector<int64_t> g = host_copy(mem, gamma, dim), b = host_copy(mem, beta, dim);
  std::vector<int64_t> q((size_t)dim), out((size_t)dim);
  for (int n = 0; n < rows; ++n) {
    read_row(mem, x, elem_index(x, 0, n, 0), dim, q.data());
    int64_t s1 = 0, s2 = 0;
    for (int c = 0; c < dim; ++c) {
      s1 += q[c];
      s2 += q[c] * q[c];
    }
    const LnRow f = ln_row_factor<int64_t, uint64_t>(s1, s2, dim, eps);
    for (int c = 0; c < dim; ++c) out[c] = ln_code<int64_t>(q[c], s1, dim, f, g[c], b[c], lo, hi, sign);
    write_row(mem, y, elem_index(y, 0, n, 0), dim, out.data());
  }
}

// Residual addition on the host: to_code(a*ma + b*mb + o, shift).
template <class M>
void add(M& mem, const Tensor& a, const Tensor& b, const Tensor& y, int heads, int rows, int dim, int64_t ma,
         int64_t mb, int64_t o, int shift, int32_t lo, int32_t hi, int32_t sign) {
  std::vector<int64_t> qa((size_t)dim), qb((size_t)dim);
  for (int h = 0; h < heads; ++h)
    for (int n = 0; n < rows; ++n) {
      read_row(mem, a, elem_index(a, h, n, 0), dim, qa.data());
      read_row(mem, b, elem_index(b, h, n, 0), dim, qb.data());
      for (int c = 0; c < dim; ++c) qa[c] = to_code<int64_t>(qa[c] * ma + qb[c] * mb + o, shift, lo, hi, sign);
      write_row(mem, y, elem_index(y, h, n, 0), dim, qa.data());
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
