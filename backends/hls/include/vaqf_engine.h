// vaqf: the accelerator's compute units for Vitis HLS (paper, Section V).
//
// - Engine<...>: the shared compute engine. One template serves both arrays:
//   the 16-bit array on DSPs (TM x TN MACs, NH head groups of TN/NH inputs) for
//   unquantized FC layers and the attention products, and the binary array on
//   LUTs (BIN = true: weights are bits, a MAC is an addition or subtraction).
//   Loop nest of one layer (a control signal tells FC from attention):
//
//     for g  in head groups            (attention: ceil(H/NH); FC: 1)
//      for o in output tiles           (ceil(cout/TM))
//        for i in input steps          (ceil(cin/TI), TI = TN/NH for attention, TN for FC)
//          load x, w tiles of step i+1 (double buffered: overlaps the compute of step i)
//          for t in tokens             (pipelined, II=1: one TM x TN MAC array step per cycle)
//            for gi < NH, mi < TM, j < TI (unrolled)  acc[gi][t][mi] += x[gi][t][j] * w[gi][mi][j]
//        requantize acc with the tile's M/O/S and store it, packed G codes per word (double
//        buffered: overlaps the next output tile's steps)
//
//   FC layers split their TN inputs into NH groups whose partial sums are added;
//   attention keeps the NH heads apart (paper, Fig. 3).
//   Mixed scheme (ours; docs/quantization.md): with PTM > 0 the DSP engine also has a
//   power-of-two array of PTM rows x TN inputs on LUTs (Pot<K>::mac: shift, add or
//   subtract). A mixed FC layer's fixed-point rows run on the TM x TN array and its PoT
//   rows on the PoT array in the same pipelined token loop, on the same x tile; every
//   result row is written to its original output index (the layer's row table).
// - ln_unit: layer norm, one row at a time (16-bit stream in).
// - add_unit: residual addition with one requantization.
// - elementwise_unit: scale, GELU and softmax, when the partition puts them on the FPGA.
//
// Everything is templated on the port width and the tile sizes; vaqf_top.cpp
// (generated from the IR) instantiates them. C simulation counts the loop trip
// counts of each call in vaqf::g_trips.
#ifndef VAQF_ENGINE_H
#define VAQF_ENGINE_H

#include <ap_int.h>
#include <stdint.h>

#include "vaqf_arith.h"
#include "vaqf_types.h"

// VAQF_COUNT(field, expr): evaluates expr; C simulation also adds it to g_trips.field.
#ifndef __SYNTHESIS__
#define VAQF_COUNT(field, ...) (::vaqf::g_trips.field += (__VA_ARGS__))
#else
#define VAQF_COUNT(field, ...) ((void)(__VA_ARGS__))
#endif

namespace vaqf {

#ifndef __SYNTHESIS__
extern Trips g_trips;
#endif

typedef ap_int<64> i64_t;
typedef ap_uint<64> u64_t;

// ----- packing -------------------------------------------------------------------

// Code `slot` of a word holding codes of tensor t's format.
template <int PORT>
inline i64_t unpack_code(const ap_uint<PORT>& word, int slot, const Tensor& t) {
  const int lo = slot * t.bits;
  const u64_t raw = word.range(lo + t.bits - 1, lo);
  if (!t.sgn) return i64_t(raw);
  if (t.bits == 1) return raw == 0 ? i64_t(-1) : i64_t(1);
  if (t.bits < 64 && raw[t.bits - 1] == 1) return i64_t(raw) - (i64_t(1) << t.bits);
  return i64_t(raw);
}

// Put `code` into slot `slot` of `word` (tensor t's format).
template <int PORT>
inline void pack_code(ap_uint<PORT>& word, int slot, const Tensor& t, i64_t code) {
  const int lo = slot * t.bits;
  u64_t raw = (t.sgn && t.bits == 1) ? u64_t(code > 0 ? 1 : 0) : u64_t(code);
  if (t.bits < 64) raw = raw & ((u64_t(1) << t.bits) - 1);
  word.range(lo + t.bits - 1, lo) = raw;
}

// dst[e] = element p0 + e of tensor t for e < len (the rest of dst[0..cap) is zero).
// Reads whole words: one burst per row segment.
template <int PORT, int CAP, class T>
void read_segment(const ap_uint<PORT>* mem, const Tensor& t, int64_t p0, int len, T dst[CAP]) {
  for (int e = 0; e < CAP; ++e) {
#pragma HLS unroll
    dst[e] = 0;
  }
  if (len <= 0) return;
  const int g = t.per_word;
  const int64_t w_first = p0 / g;
  const int64_t w_last = (p0 + len - 1) / g;
  for (int64_t wi = w_first; wi <= w_last; ++wi) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=CAP
    const ap_uint<PORT> word = mem[t.base + wi];
    for (int s = 0; s < PORT; ++s) {
#pragma HLS unroll
      if (s < g) {
        const int64_t e = wi * g + s - p0;
        if (e >= 0 && e < len) dst[e] = T(unpack_code<PORT>(word, s, t));
      }
    }
  }
}

// Element p0 + e of tensor t = src[e] for e < len. Words only partly covered
// (a head view ending mid-word) are read, modified and written back.
template <int PORT, int CAP>
int64_t write_segment(ap_uint<PORT>* mem, const Tensor& t, int64_t p0, int len, const i64_t src[CAP]) {
  if (len <= 0) return 0;
  const int g = t.per_word;
  const int64_t w_first = p0 / g;
  const int64_t w_last = (p0 + len - 1) / g;
  for (int64_t wi = w_first; wi <= w_last; ++wi) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=CAP
    const bool full = wi * g >= p0 && wi * g + g <= p0 + len;
    ap_uint<PORT> word = full ? ap_uint<PORT>(0) : mem[t.base + wi];
    for (int s = 0; s < PORT; ++s) {
#pragma HLS unroll
      if (s < g) {
        const int64_t e = wi * g + s - p0;
        if (e >= 0 && e < len) pack_code<PORT>(word, s, t, src[e]);
      }
    }
    mem[t.base + wi] = word;
  }
  return w_last - w_first + 1;
}

inline int64_t words_of(const Tensor& t, int64_t p0, int len) {
  return len <= 0 ? 0 : (p0 + len - 1) / t.per_word - p0 / t.per_word + 1;
}

inline int64_t elem_at(const Tensor& t, int64_t h, int64_t n, int64_t c) {
  return t.elem0 + h * t.hs + n * t.rs + c;
}

inline int cdiv(int a, int b) { return (a + b - 1) / b; }

// ----- power-of-two weights ----------------------------------------------------------

// k-bit power-of-two weight codes (docs/quantization.md, "Mixed scheme"): bit K-1 is the sign
// (1: negative), the low K-1 bits the exponent e; e <= E stands for the integer weight
// ±2^(E-e), e = E + 1 for zero (E = 2^(K-1) - 2). No multiplier: x · w is x shifted left.
template <int K>
struct Pot {
  static const int E = (1 << (K - 1)) - 2;
  static const int ZERO = E + 1;  // the zero code (sign bit clear)

  // s += x · w(code): a shift and an addition or subtraction in LUTs; the zero code adds nothing.
  template <class ACC, class XT>
  static void mac(ACC& s, XT x, ap_uint<K> code) {
#pragma HLS inline
    const ap_uint<K - 1> e = code.range(K - 2, 0);
    if (e <= E) {
      const ACC v = ACC(x) << (E - e.to_int());
      if (code[K - 1] == 1) s -= v;
      else s += v;
    }
  }
};

// Element (0, n, col[r]) of tensor t = src[r] for r < len: a row of results scattered to their
// columns (a mixed FC layer's rows keep their original output index). Runs of columns in one word
// are read, modified and written once; returns the words written.
template <int PORT, int CAP>
int64_t scatter_row(ap_uint<PORT>* mem, const Tensor& t, int n, const i64_t col[CAP], int len,
                    const i64_t src[CAP]) {
  int64_t cur = -1, written = 0;
  ap_uint<PORT> word = 0;
  for (int r = 0; r < len; ++r) {
#pragma HLS pipeline
#pragma HLS loop_tripcount min=1 max=CAP
    const int64_t e = elem_at(t, 0, n, col[r].to_int64());
    const int64_t wi = e / t.per_word;
    if (wi != cur) {
      if (cur >= 0) {
        mem[t.base + cur] = word;
        ++written;
      }
      word = mem[t.base + wi];
      cur = wi;
    }
    pack_code<PORT>(word, (int)(e % t.per_word), t, src[r]);
  }
  if (cur >= 0) {
    mem[t.base + cur] = word;
    ++written;
  }
  return written;
}

// ----- the shared compute engine ---------------------------------------------------

// XT: lhs code type; WT: weight / rhs code type (ap_uint<1> when BIN); ACC: accumulator.
// PTM > 0 adds the power-of-two array (PTM rows x TN inputs of PK-bit codes, shift-adds on LUTs,
// operands narrowed to PXT, accumulator PACC) beside the TM x TN array: a mixed FC layer runs its
// fixed-point rows on the TM x TN array and its power-of-two rows on the PoT array, both in the
// same pipelined token loop, on the same input tile.
template <int PORT, int TM, int TN, int NH, int MAX_T, bool BIN, class XT, class WT, class ACC,
          int PTM = 0, int PK = 4, class PXT = XT, class PACC = ACC>
struct Engine {
  static const int TI = TN / NH;  // inputs per head group
  static const int PT = PTM > 0 ? PTM : 1;  // PoT array storage (unused when PTM = 0)
  typedef ap_uint<PK> PW;

  // Rows of the TM x TN array's weights: all output channels, or a mixed layer's fixed-point rows.
  static int fixed_rows(const LayerDesc& d) { return d.mixed ? d.cout - d.n_pot : d.cout; }
  static int pot_rows(const LayerDesc& d) { return PTM > 0 && d.mixed ? d.n_pot : 0; }

  // s += x * w. A binary weight adds or subtracts (LUTs only); multi-bit operands take one DSP each.
  static void mac(ACC& s, XT x, WT w) {
#pragma HLS inline
    if (BIN) {
      const ACC a = x;
      if (w != 0) s += a;
      else s -= a;
    } else {
      s += ACC(x * w);
    }
  }

  // Input tile of step `i` (group g): x[gi][t][0..TI).
  static void load_x(const ap_uint<PORT>* x16, const ap_uint<PORT>* xq, const LayerDesc& d, bool attn, int g,
                     int i, XT xb[NH][MAX_T][TI]) {
    for (int gi = 0; gi < NH; ++gi) {
      const int h = attn ? g * NH + gi : 0;
      const int c0 = attn ? i * TI : i * TN + gi * TI;
      int len = d.cin - c0;
      len = len > TI ? TI : len;
      if (attn && h >= d.heads) len = 0;
      for (int t = 0; t < d.tokens; ++t) {
#pragma HLS loop_tripcount min=1 max=MAX_T
        const int64_t p0 = elem_at(d.x, h, t, c0);
        if (d.x_port) read_segment<PORT, TI, XT>(xq, d.x, p0, len, xb[gi][t]);
        else read_segment<PORT, TI, XT>(x16, d.x, p0, len, xb[gi][t]);
        VAQF_COUNT(x_words, words_of(d.x, p0, len));
      }
    }
  }

  // Weight (or rhs) tile of step `i`, output tile `o`: w[gi][mi][0..TI).
  static void load_w(const ap_uint<PORT>* wp, const LayerDesc& d, bool attn, int g, int o, int i,
                     WT wb[NH][TM][TI]) {
    for (int gi = 0; gi < NH; ++gi) {
      const int h = attn ? g * NH + gi : 0;
      const int c0 = attn ? i * TI : i * TN + gi * TI;
      int len = d.cin - c0;
      len = len > TI ? TI : len;
      if (attn && h >= d.heads) len = 0;
      if (!attn || d.transpose_b) {
        // rows are output channels: W[m][c] (FC; a mixed layer's fixed-point rows) or K_h[m][c] (Q·Kᵀ)
        for (int mi = 0; mi < TM; ++mi) {
          const int m = o * TM + mi;
          i64_t row[TI];
          const int l = m < fixed_rows(d) ? len : 0;
          const int64_t p0 = elem_at(d.w, h, m, c0);
          read_segment<PORT, TI, i64_t>(wp, d.w, p0, l, row);
          VAQF_COUNT(w_words, words_of(d.w, p0, l));
          for (int j = 0; j < TI; ++j) wb[gi][mi][j] = BIN ? WT(row[j] > 0 ? 1 : 0) : WT(row[j]);
        }
      } else {
        // rows are contraction steps: V_h[c][m] (A·V), packed along the output channels
        int mlen = d.cout - o * TM;
        mlen = mlen > TM ? TM : mlen;
        for (int j = 0; j < TI; ++j) {
          i64_t col[TM];
          const int l = j < len ? mlen : 0;
          const int64_t p0 = elem_at(d.w, h, c0 + j, o * TM);
          read_segment<PORT, TM, i64_t>(wp, d.w, p0, l, col);
          VAQF_COUNT(w_words, words_of(d.w, p0, l));
          for (int mi = 0; mi < TM; ++mi) wb[gi][mi][j] = WT(col[mi]);
        }
      }
    }
  }

  // Power-of-two weight tile of step `i`, PoT tile `o` (mixed FC): wp[gi][pm][0..TI); zero codes
  // beyond the layer's rows and inputs.
  static void load_wp(const ap_uint<PORT>* wp, const LayerDesc& d, int o, int i, PW wb[NH][PT][TI]) {
    for (int gi = 0; gi < NH; ++gi) {
      const int c0 = i * TN + gi * TI;
      int len = d.cin - c0;
      len = len > TI ? TI : len;
      for (int pm = 0; pm < PT; ++pm) {
        const int p = o * PT + pm;
        i64_t row[TI];
        const int l = p < pot_rows(d) ? len : 0;
        const int64_t p0 = elem_at(d.wp, 0, p, c0);
        read_segment<PORT, TI, i64_t>(wp, d.wp, p0, l, row);
        VAQF_COUNT(w_words, words_of(d.wp, p0, l));
        for (int j = 0; j < TI; ++j) wb[gi][pm][j] = j < l ? PW(row[j]) : PW(Pot<PK>::ZERO);
      }
    }
  }

  // One step: every token through the TM x TN array (and, for a mixed layer, the PTM x TN PoT array).
  // `fix` / `pot`: the tile has rows on that array (a mixed layer's arrays may have different tile counts).
  static void compute(const LayerDesc& d, bool attn, bool first, bool fix, bool pot, const XT xb[NH][MAX_T][TI],
                      const WT wb[NH][TM][TI], const PW pb[NH][PT][TI], ACC acc[NH][MAX_T][TM],
                      PACC pacc[MAX_T][PT]) {
    for (int t = 0; t < d.tokens; ++t) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_T
      VAQF_COUNT(compute, 1);
      ACC part[NH][TM];
#pragma HLS array_partition variable=part complete dim=0
      for (int gi = 0; gi < NH; ++gi) {
#pragma HLS unroll
        for (int mi = 0; mi < TM; ++mi) {
#pragma HLS unroll
          ACC s = 0;
          for (int j = 0; j < TI; ++j) {
#pragma HLS unroll
            if (fix) mac(s, xb[gi][t][j], wb[gi][mi][j]);
          }
          part[gi][mi] = s;
        }
      }
      if (PTM > 0 && pot) {
        // the PoT array: its own rows, the same inputs, summed over the NH input groups
        for (int pm = 0; pm < PT; ++pm) {
#pragma HLS unroll
          PACC s = 0;
          for (int gi = 0; gi < NH; ++gi) {
#pragma HLS unroll
            for (int j = 0; j < TI; ++j) {
#pragma HLS unroll
              Pot<PK>::mac(s, PXT(xb[gi][t][j]), pb[gi][pm][j]);
            }
          }
          pacc[t][pm] = (first ? PACC(0) : pacc[t][pm]) + s;
        }
      }
      if (!fix) {
        // a mixed layer's tile beyond its fixed-point rows: the DSP array idles
      } else if (attn) {
        for (int gi = 0; gi < NH; ++gi) {
#pragma HLS unroll
          for (int mi = 0; mi < TM; ++mi) {
#pragma HLS unroll
            acc[gi][t][mi] = (first ? ACC(0) : acc[gi][t][mi]) + part[gi][mi];
          }
        }
      } else {
        for (int mi = 0; mi < TM; ++mi) {
#pragma HLS unroll
          ACC s = first ? ACC(0) : acc[0][t][mi];
          for (int gi = 0; gi < NH; ++gi) {
#pragma HLS unroll
            s += part[gi][mi];
          }
          acc[0][t][mi] = s;
        }
      }
    }
  }

  // Mixed FC: requantize `len` rows of one array's tile, positions p0.. in the order of d.rows (which
  // mult/offset follow), and write each to its output index.
  template <int CAP, class A>
  static void store_scattered(ap_uint<PORT>* y, const ap_uint<PORT>* wp, const LayerDesc& d, int p0, int len,
                              const A acc[MAX_T][CAP]) {
    if (len <= 0) return;
    i64_t mult[CAP], off[CAP], col[CAP];
    read_segment<PORT, CAP, i64_t>(wp, d.mult, elem_at(d.mult, 0, 0, p0), len, mult);
    read_segment<PORT, CAP, i64_t>(wp, d.offset, elem_at(d.offset, 0, 0, p0), len, off);
    read_segment<PORT, CAP, i64_t>(wp, d.rows, elem_at(d.rows, 0, 0, p0), len, col);
    for (int t = 0; t < d.tokens; ++t) {
#pragma HLS loop_tripcount min=1 max=MAX_T
      i64_t codes[CAP];
      for (int r = 0; r < CAP; ++r) {
#pragma HLS unroll
        const i64_t scaled = i64_t(acc[t][r]) * mult[r] + off[r];
        codes[r] = to_code<i64_t>(scaled, d.shift, d.y_lo, d.y_hi, d.y_sign);
      }
      VAQF_COUNT(y_words, scatter_row<PORT, CAP>(y, d.y, t, col, len, codes));
    }
  }

  // Requantize the output tile and write it, packed.
  static void store(ap_uint<PORT>* y, const ap_uint<PORT>* wp, const LayerDesc& d, bool attn, int g, int o,
                    const ACC acc[NH][MAX_T][TM], const PACC pacc[MAX_T][PT]) {
    if (!attn && d.mixed) {
      const int nf = fixed_rows(d) - o * TM, np = pot_rows(d) - o * PT;
      store_scattered<TM, ACC>(y, wp, d, o * TM, nf > TM ? TM : nf, acc[0]);
      if (PTM > 0) store_scattered<PT, PACC>(y, wp, d, fixed_rows(d) + o * PT, np > PT ? PT : np, pacc);
      return;
    }
    i64_t mult[TM], off[TM];
    int mlen = d.cout - o * TM;
    mlen = mlen > TM ? TM : mlen;
    if (attn) {
      for (int mi = 0; mi < TM; ++mi) {
        mult[mi] = d.m;
        off[mi] = d.o;
      }
    } else {
      read_segment<PORT, TM, i64_t>(wp, d.mult, elem_at(d.mult, 0, 0, o * TM), mlen, mult);
      read_segment<PORT, TM, i64_t>(wp, d.offset, elem_at(d.offset, 0, 0, o * TM), mlen, off);
    }
    for (int t = 0; t < d.tokens; ++t) {
#pragma HLS loop_tripcount min=1 max=MAX_T
      for (int gi = 0; gi < (attn ? NH : 1); ++gi) {
        const int h = attn ? g * NH + gi : 0;
        if (h >= d.heads) continue;
        i64_t codes[TM];
        for (int mi = 0; mi < TM; ++mi) {
#pragma HLS unroll
          const i64_t scaled = i64_t(acc[gi][t][mi]) * mult[mi] + off[mi];
          codes[mi] = to_code<i64_t>(scaled, d.shift, d.y_lo, d.y_hi, d.y_sign);
        }
        VAQF_COUNT(y_words, write_segment<PORT, TM>(y, d.y, elem_at(d.y, h, t, o * TM), mlen, codes));
      }
    }
  }

  // All input steps of output tile (g, o) into `acc` (and `pacc`); input and weight tiles double
  // buffered: the next step's tiles load while this step computes.
  static void steps(const ap_uint<PORT>* x16, const ap_uint<PORT>* xq, const ap_uint<PORT>* wp,
                    const LayerDesc& d, bool attn, int g, int o, int n_i, ACC acc[NH][MAX_T][TM],
                    PACC pacc[MAX_T][PT]) {
    static XT x_ping[NH][MAX_T][TI], x_pong[NH][MAX_T][TI];
    static WT w_ping[NH][TM][TI], w_pong[NH][TM][TI];
    static PW p_ping[NH][PT][TI], p_pong[NH][PT][TI];
#pragma HLS array_partition variable=x_ping complete dim=1
#pragma HLS array_partition variable=x_ping complete dim=3
#pragma HLS array_partition variable=x_pong complete dim=1
#pragma HLS array_partition variable=x_pong complete dim=3
#pragma HLS array_partition variable=w_ping complete dim=0
#pragma HLS array_partition variable=w_pong complete dim=0
#pragma HLS array_partition variable=p_ping complete dim=0
#pragma HLS array_partition variable=p_pong complete dim=0
    const bool fix = attn || o * TM < fixed_rows(d);
    const bool pot = !attn && o * PT < pot_rows(d);
    VAQF_COUNT(tiles, 1);
    load_x(x16, xq, d, attn, g, 0, x_ping);
    if (fix) load_w(wp, d, attn, g, o, 0, w_ping);
    if (pot) load_wp(wp, d, o, 0, p_ping);
    for (int i = 0; i < n_i; ++i) {
      VAQF_COUNT(steps, 1);
      if (i % 2 == 0) {
        if (i + 1 < n_i) {
          load_x(x16, xq, d, attn, g, i + 1, x_pong);
          if (fix) load_w(wp, d, attn, g, o, i + 1, w_pong);
          if (pot) load_wp(wp, d, o, i + 1, p_pong);
        }
        compute(d, attn, i == 0, fix, pot, x_ping, w_ping, p_ping, acc, pacc);
      } else {
        if (i + 1 < n_i) {
          load_x(x16, xq, d, attn, g, i + 1, x_ping);
          if (fix) load_w(wp, d, attn, g, o, i + 1, w_ping);
          if (pot) load_wp(wp, d, o, i + 1, p_ping);
        }
        compute(d, attn, false, fix, pot, x_pong, w_pong, p_pong, acc, pacc);
      }
    }
  }

  // Output tiles k = (g, o) in order; the accumulators are double buffered too: tile k-1 is
  // requantized and stored while tile k computes. A mixed layer's tile o is fixed-point tile o and
  // PoT tile o together: max(ceil(fixed rows / TM), ceil(PoT rows / PTM)) tiles.
  static void run(const ap_uint<PORT>* x16, const ap_uint<PORT>* xq, const ap_uint<PORT>* wp, ap_uint<PORT>* y,
                  const LayerDesc& d) {
    static ACC acc_ping[NH][MAX_T][TM], acc_pong[NH][MAX_T][TM];
    static PACC pacc_ping[MAX_T][PT], pacc_pong[MAX_T][PT];
#pragma HLS array_partition variable=acc_ping complete dim=1
#pragma HLS array_partition variable=acc_ping complete dim=3
#pragma HLS array_partition variable=acc_pong complete dim=1
#pragma HLS array_partition variable=acc_pong complete dim=3
#pragma HLS array_partition variable=pacc_ping complete dim=2
#pragma HLS array_partition variable=pacc_pong complete dim=2
    const bool attn = d.op == OP_ATTN;
    const int n_fix = cdiv(fixed_rows(d), TM), n_pot = cdiv(pot_rows(d), PT);
    const int n_o = attn ? cdiv(d.cout, TM) : (n_fix > n_pot ? n_fix : n_pot);
    const int tiles = (attn ? cdiv(d.heads, NH) : 1) * n_o;
    const int n_i = cdiv(d.cin, attn ? TI : TN);
    for (int k = 0; k <= tiles; ++k) {
      const int g = k / n_o, o = k % n_o;                  // tile k (computed now)
      const int pg = (k - 1) / n_o, po = (k - 1) % n_o;    // tile k-1 (stored now)
      if (k % 2 == 0) {
        if (k < tiles) steps(x16, xq, wp, d, attn, g, o, n_i, acc_ping, pacc_ping);
        if (k > 0) store(y, wp, d, attn, pg, po, acc_pong, pacc_pong);
      } else {
        if (k < tiles) steps(x16, xq, wp, d, attn, g, o, n_i, acc_pong, pacc_pong);
        store(y, wp, d, attn, pg, po, acc_ping, pacc_ping);
      }
    }
  }
};

// ----- layer norm and residual addition --------------------------------------------

// Layer norm over rows of d.cout features (d.tokens rows): 16-bit stream in, any format out.
template <int PORT, int MAX_D>
void ln_unit(const ap_uint<PORT>* x16, const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d) {
  static i64_t gamma[MAX_D], beta[MAX_D], row[MAX_D], out[MAX_D];
  const int dim = d.cout;
  read_segment<PORT, MAX_D, i64_t>(wp, d.mult, d.mult.elem0, dim, gamma);
  read_segment<PORT, MAX_D, i64_t>(wp, d.offset, d.offset.elem0, dim, beta);
  for (int n = 0; n < d.tokens; ++n) {
#pragma HLS loop_tripcount min=1 max=256
    const int64_t p0 = elem_at(d.x, 0, n, 0);
    read_segment<PORT, MAX_D, i64_t>(x16, d.x, p0, dim, row);
    VAQF_COUNT(x_words, words_of(d.x, p0, dim));
    i64_t s1 = 0, s2 = 0;
    for (int i = 0; i < dim; ++i) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
      s1 += row[i];
      s2 += row[i] * row[i];
    }
    const LnRow f = ln_row_factor<i64_t, u64_t>(s1, s2, dim, i64_t(d.eps));
    for (int i = 0; i < dim; ++i) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
      VAQF_COUNT(compute, 1);
      out[i] = ln_code<i64_t>(row[i], s1, dim, f, gamma[i], beta[i], d.y_lo, d.y_hi, d.y_sign);
    }
    VAQF_COUNT(y_words, write_segment<PORT, MAX_D>(y, d.y, elem_at(d.y, 0, n, 0), dim, out));
  }
}

// y = codes of (a*m + b*m_b + o) >> shift, row by row (d.tokens rows of d.cout).
template <int PORT, int MAX_D>
void add_unit(const ap_uint<PORT>* x16, const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d) {
  static i64_t a[MAX_D], b[MAX_D], out[MAX_D];
  const int dim = d.cout;
  for (int n = 0; n < d.tokens; ++n) {
#pragma HLS loop_tripcount min=1 max=256
    read_segment<PORT, MAX_D, i64_t>(x16, d.x, elem_at(d.x, 0, n, 0), dim, a);
    read_segment<PORT, MAX_D, i64_t>(wp, d.w, elem_at(d.w, 0, n, 0), dim, b);
    VAQF_COUNT(x_words, words_of(d.x, elem_at(d.x, 0, n, 0), dim));
    VAQF_COUNT(w_words, words_of(d.w, elem_at(d.w, 0, n, 0), dim));
    for (int i = 0; i < dim; ++i) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
      VAQF_COUNT(compute, 1);
      const i64_t total = a[i] * i64_t(d.m) + b[i] * i64_t(d.m_b) + i64_t(d.o);
      out[i] = to_code<i64_t>(total, d.shift, d.y_lo, d.y_hi, d.y_sign);
    }
    VAQF_COUNT(y_words, write_segment<PORT, MAX_D>(y, d.y, elem_at(d.y, 0, n, 0), dim, out));
  }
}

// Scale, GELU and softmax when the partition puts them on the FPGA (d.heads x d.tokens rows of
// d.cout codes, 16-bit stream in). GELU and softmax look their tables up in DDR (wt port).
template <int PORT, int MAX_D>
void elementwise_unit(const ap_uint<PORT>* x16, const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d) {
  static i64_t row[MAX_D], e[MAX_D], out[MAX_D];
  const int dim = d.cout;
  for (int h = 0; h < d.heads; ++h) {
    for (int n = 0; n < d.tokens; ++n) {
#pragma HLS loop_tripcount min=1 max=256
      const int64_t p0 = elem_at(d.x, h, n, 0);
      read_segment<PORT, MAX_D, i64_t>(x16, d.x, p0, dim, row);
      VAQF_COUNT(x_words, words_of(d.x, p0, dim));
      i64_t mx = row[0], total = 0;
      for (int i = 0; i < dim; ++i) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
        VAQF_COUNT(compute, 1);
        if (d.op == OP_SCALE) {
          out[i] = to_code<i64_t>(row[i] * i64_t(d.m) + i64_t(d.o), d.shift, d.y_lo, d.y_hi, d.y_sign);
        } else if (d.op == OP_GELU) {
          i64_t v[1];
          read_segment<PORT, 1, i64_t>(wp, d.mult, elem_at(d.mult, 0, 0, (row[i] - d.o).to_int64()), 1, v);
          out[i] = v[0];
        } else if (row[i] > mx) {
          mx = row[i];
        }
      }
      if (d.op == OP_SOFTMAX) {
        for (int i = 0; i < dim; ++i) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
          const i64_t t = mx - row[i];
          i64_t v[1] = {0};
          if (t < i64_t(d.m_b)) read_segment<PORT, 1, i64_t>(wp, d.mult, elem_at(d.mult, 0, 0, t.to_int64()), 1, v);
          e[i] = v[0];
          total += v[0];
        }
        for (int i = 0; i < dim; ++i) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
          const i64_t p = (i64_t(2) * e[i] * i64_t(d.m) + total) / (i64_t(2) * total);
          out[i] = clamp_code<i64_t>(p, d.y_lo, d.y_hi);
        }
      }
      VAQF_COUNT(y_words, write_segment<PORT, MAX_D>(y, d.y, elem_at(d.y, h, n, 0), dim, out));
    }
  }
}

}  // namespace vaqf

#endif
