// vaqf: the element-wise units of the kernel — layer norm, residual addition, and scale,
// GELU and softmax when the partition puts them on the FPGA.
//
// Rows stream through DATAFLOW steps like the engine's tiles: step n reads row n+1,
// computes row n and writes row n-1, on ping-pong row buffers, so a step takes as long
// as its slowest stage. Compute stages work on VL = PORT/8 elements a cycle. Layer norm
// makes three passes: rows in with their sums (rows stay on chip), the per-row factor
// (1/sqrt, one row a cycle through an unrolled pipeline), then normalize and write.
// Tables (GELU, softmax's exponentials) and per-feature constants (γ, β) are loaded on
// chip once per call. The arithmetic is exactly docs/quantization.md's (vaqf_arith.h):
// softmax's division is exact through a per-row reciprocal and one correction step.
#ifndef VAQF_UNITS_H
#define VAQF_UNITS_H

#include <ap_int.h>
#include <stdint.h>

#ifndef VAQF_UNROLL
#define VAQF_UNROLL _Pragma("HLS unroll")
#endif
#include "vaqf_arith.h"
#include "vaqf_cycles.h"
#include "vaqf_pack.h"
#include "vaqf_types.h"

namespace vaqf {

// The cycles of one element-wise call: fixed costs plus its steps (each the slowest of its stages).
struct UnitCycles {
  int64_t total;
  UnitCycles() : total(timing::CALL_OVERHEAD) {}
  void step(int64_t a, int64_t b, int64_t c) {
    int64_t m = a > b ? a : b;
    total += m > c ? m : c;
  }
  void finish() { VAQF_COUNT(cycles, total); }
};

// Cycles of a read or write stage's words (its latency is charged once per call), counted into the trips.
inline int64_t stage_words(const BurstTracker& bt, int which) {
  if (which == 0) VAQF_COUNT(x_words, bt.moved.words);
  else if (which == 1) VAQF_COUNT(w_words, bt.moved.words);
  else VAQF_COUNT(y_words, bt.moved.words);
  VAQF_COUNT(bursts, bt.moved.bursts);
  return bt.moved.words + bt.moved.bursts * timing::BURST_GAP;
}

// Exact floor(num / den) for 0 <= num < 2^63, 2 <= den < 2^63: the per-row reciprocal
// r = floor(2^64 / den) gives q = floor(num * r / 2^64) in {floor(num/den) - 1, floor(num/den)};
// one comparison corrects it. No division in the per-element loop.
inline i64_t div_by_reciprocal(i64_t num, i64_t den, ap_uint<65> r) {
#pragma HLS inline
  const ap_uint<128> prod = ap_uint<128>(ap_uint<64>(num)) * ap_uint<128>(r);
  i64_t q = i64_t(ap_uint<64>(prod >> 64));
  if ((q + 1) * den <= num) q = q + 1;
  return q;
}

// Layer norm over rows of d.cout features (d.tokens rows): 16-bit stream in, any format out.
template <int PORT, int MAX_D, int MAX_T>
struct LayerNorm {
  static const int VL = PORT / 8;

  static void run(const ap_uint<PORT>* x16, const ap_uint<PORT>* xq, const ap_uint<PORT>* wp, ap_uint<PORT>* y,
                  const LayerDesc& d) {
    static i64_t rows[MAX_T][MAX_D];
    static i64_t gamma[MAX_D], beta[MAX_D], s1[MAX_T], s2[MAX_T], out[2][MAX_D];
    static LnRow f[MAX_T];
#pragma HLS array_partition variable=rows cyclic factor=VL dim=2
#pragma HLS array_partition variable=out cyclic factor=VL dim=2
#pragma HLS array_partition variable=gamma cyclic factor=VL
#pragma HLS array_partition variable=beta cyclic factor=VL
    const int dim = d.cout, beats = cdiv(dim, VL);
    UnitCycles uc;
    BurstTracker bc;
    read_segment<PORT, MAX_D, i64_t>(wp, d.mult, d.mult.elem0, dim, gamma, bc);
    read_segment<PORT, MAX_D, i64_t>(wp, d.offset, d.offset.elem0, dim, beta, bc);
    uc.total += timing::read_cycles(bc.moved.words, bc.moved.bursts) + timing::AXI_READ_LATENCY +
                timing::AXI_WRITE_LATENCY;
    VAQF_COUNT(w_words, bc.moved.words);
    VAQF_COUNT(bursts, bc.moved.bursts);
    // pass 1: rows in on two bundles (two rows a step), their sums as the next pair arrives
  LN_ROWS_IN:
    for (int n = 0; n < d.tokens + 2; n += 2) {
#pragma HLS loop_tripcount min=1 max=(MAX_T + 3) / 2
      BurstTracker b0, b1;
      in_step(x16, xq, d, n, beats, rows, s1, s2, b0, b1);
      const int64_t r0 = stage_words(b0, 0), r1 = stage_words(b1, 0);
      const int summed = (n - 1 < d.tokens ? 1 : 0) + (n - 2 >= 0 && n - 2 < d.tokens ? 1 : 0) - (n == 0 ? 1 : 0);
      uc.step(r0, r1, summed * int64_t(beats));
    }
    // pass 2: the per-row factor, one row a cycle through the unrolled 1/sqrt
  LN_FACTORS:
    for (int n = 0; n < d.tokens; ++n) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_T
      f[n] = ln_row_factor<i64_t, u64_t>(s1[n], s2[n], dim, i64_t(d.eps));
    }
    uc.total += d.tokens + timing::LN_FACTOR_DEPTH;
    // pass 3: normalize row n while row n-1 goes out
  LN_ROWS_OUT:
    for (int n = 0; n <= d.tokens; ++n) {
#pragma HLS loop_tripcount min=2 max=MAX_T + 1
      BurstTracker by;
      out_step(y, d, n, beats, rows, s1, f, gamma, beta, out, by);
      uc.step(n < d.tokens ? beats : 0, stage_words(by, 2), 0);
    }
    uc.total += timing::REQUANT_DEPTH;
    uc.finish();
  }

  // Rows n, n+1 in (one per bundle); the sums of rows n-2, n-1 (read in the previous step).
  static void in_step(const ap_uint<PORT>* x16, const ap_uint<PORT>* xq, const LayerDesc& d, int n, int beats,
                      i64_t rows[MAX_T][MAX_D], i64_t s1[MAX_T], i64_t s2[MAX_T], BurstTracker& b0,
                      BurstTracker& b1) {
#pragma HLS dataflow
    const int dim = d.cout;
    if (n < d.tokens) read_segment<PORT, MAX_D, i64_t>(x16, d.x, elem_at(d.x, 0, n, 0), dim, rows[n], b0);
    if (n + 1 < d.tokens) read_segment<PORT, MAX_D, i64_t>(xq, d.x, elem_at(d.x, 0, n + 1, 0), dim, rows[n + 1], b1);
  LN_SUMS:
    for (int p = n - 2; p < n; ++p) {
      if (p < 0 || p >= d.tokens) continue;
      i64_t a = 0, b = 0;
    LN_SUM_BEATS:
      for (int k = 0; k < beats; ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
      LN_SUM_LANES:
        for (int v = 0; v < VL; ++v) {
#pragma HLS unroll
          const int i = k * VL + v;
          if (i < dim) {
            a += rows[p][i];
            b += rows[p][i] * rows[p][i];
          }
        }
      }
      s1[p] = a;
      s2[p] = b;
    }
  }

  // Normalize row n into out[n & 1]; write row n-1 from out[(n-1) & 1].
  static void out_step(ap_uint<PORT>* y, const LayerDesc& d, int n, int beats, const i64_t rows[MAX_T][MAX_D],
                       const i64_t s1[MAX_T], const LnRow f[MAX_T], const i64_t gamma[MAX_D],
                       const i64_t beta[MAX_D], i64_t out[2][MAX_D], BurstTracker& by) {
#pragma HLS dataflow
    const int dim = d.cout;
    if (n < d.tokens) {
    LN_NORMALIZE:
      for (int k = 0; k < beats; ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
        VAQF_COUNT(compute, 1);
      LN_NORMALIZE_LANES:
        for (int v = 0; v < VL; ++v) {
#pragma HLS unroll
          const int i = k * VL + v;
          if (i < dim)
            out[n & 1][i] = ln_code<i64_t>(rows[n][i], s1[n], dim, f[n], gamma[i], beta[i], d.y_lo, d.y_hi,
                                           d.y_sign);
        }
      }
    }
    if (n > 0) write_segment<PORT, MAX_D>(y, d.y, elem_at(d.y, 0, n - 1, 0), dim, out[(n - 1) & 1], by);
  }
};

// Element-wise units on ping-pong rows: residual addition (two operand rows, on the 16-bit and the weight
// bundles at once), scale, GELU and softmax (d.heads x d.tokens rows of d.cout codes).
template <int PORT, int MAX_D, int MAX_TABLE>
struct RowUnit {
  static const int VL = PORT / 8;

  static void run(const ap_uint<PORT>* x16, const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d) {
    static i64_t a[2][MAX_D], b[2][MAX_D], out[2][MAX_D], table[MAX_TABLE];
#pragma HLS array_partition variable=a cyclic factor=VL dim=2
#pragma HLS array_partition variable=b cyclic factor=VL dim=2
#pragma HLS array_partition variable=out cyclic factor=VL dim=2
#pragma HLS array_partition variable=table complete dim=0
    const int dim = d.cout, beats = cdiv(dim, VL);
    const int heads = d.op == OP_ADD ? 1 : d.heads;
    const int rows = heads * d.tokens;
    UnitCycles uc;
    uc.total += timing::AXI_READ_LATENCY + timing::REQUANT_DEPTH + timing::AXI_WRITE_LATENCY;
    if (d.op == OP_GELU || d.op == OP_SOFTMAX) {
      // GELU: one entry per input code; softmax: exponentials of the distances from the row maximum
      const int len = d.op == OP_GELU ? int(d.mult.rs) : int(d.m_b);
      BurstTracker bt;
      read_segment<PORT, MAX_TABLE, i64_t>(wp, d.mult, d.mult.elem0, len < MAX_TABLE ? len : MAX_TABLE, table, bt);
      uc.total += timing::read_cycles(bt.moved.words, bt.moved.bursts);
      VAQF_COUNT(w_words, bt.moved.words);
      VAQF_COUNT(bursts, bt.moved.bursts);
    }
    // softmax: three passes over a row (maximum, exponentials and sum, normalize) and the reciprocal
    const int64_t compute = d.op == OP_SOFTMAX ? 3 * beats + timing::DIV_DEPTH : beats;
  ROWS:
    for (int r = 0; r < rows + 2; ++r) {
#pragma HLS loop_tripcount min=3 max=4098
      BurstTracker ba, bb, by;
      step(x16, wp, y, d, r, rows, beats, a, b, out, table, ba, bb, by);
      const int64_t ra = stage_words(ba, 0), rb = stage_words(bb, 1);
      uc.step(ra > rb ? ra : rb, r > 0 && r - 1 < rows ? compute : 0, stage_words(by, 2));
    }
    uc.finish();
  }

  // Row r+1 in, row r computed, row r-1 out (row r = head r / tokens, token r % tokens).
  static void step(const ap_uint<PORT>* x16, const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d, int r,
                   int rows, int beats, i64_t a[2][MAX_D], i64_t b[2][MAX_D], i64_t out[2][MAX_D],
                   const i64_t table[MAX_TABLE], BurstTracker& ba, BurstTracker& bb, BurstTracker& by) {
#pragma HLS dataflow
    const int dim = d.cout;
    if (r < rows) {
      const int h = r / d.tokens, n = r - h * d.tokens;  // once per row, outside the element loops
      read_segment<PORT, MAX_D, i64_t>(x16, d.x, elem_at(d.x, h, n, 0), dim, a[r & 1], ba);
      if (d.op == OP_ADD) read_segment<PORT, MAX_D, i64_t>(wp, d.w, elem_at(d.w, 0, n, 0), dim, b[r & 1], bb);
    }
    if (r > 0 && r - 1 < rows) compute(d, beats, a[(r - 1) & 1], b[(r - 1) & 1], out[(r - 1) & 1], table);
    if (r > 1) {
      const int p = r - 2, h = p / d.tokens, n = p - h * d.tokens;
      write_segment<PORT, MAX_D>(y, d.y, elem_at(d.y, h, n, 0), dim, out[p & 1], by);
    }
  }

  static void compute(const LayerDesc& d, int beats, const i64_t a[MAX_D], const i64_t b[MAX_D], i64_t out[MAX_D],
                      const i64_t table[MAX_TABLE]) {
    const int dim = d.cout;
    i64_t mx = a[0], total = 0;
  LANES:
    for (int k = 0; k < beats; ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
      VAQF_COUNT(compute, 1);
    LANES_V:
      for (int v = 0; v < VL; ++v) {
#pragma HLS unroll
        const int i = k * VL + v;
        if (i >= dim) {
        } else if (d.op == OP_ADD) {
          const i64_t sum = a[i] * i64_t(d.m) + b[i] * i64_t(d.m_b) + i64_t(d.o);
          out[i] = to_code<i64_t>(sum, d.shift, d.y_lo, d.y_hi, d.y_sign);
        } else if (d.op == OP_SCALE) {
          out[i] = to_code<i64_t>(a[i] * i64_t(d.m) + i64_t(d.o), d.shift, d.y_lo, d.y_hi, d.y_sign);
        } else if (d.op == OP_GELU) {
          out[i] = table[(a[i] - d.o).to_int()];
        } else if (a[i] > mx) {
          mx = a[i];
        }
      }
    }
    if (d.op != OP_SOFTMAX) return;
    i64_t e[MAX_D];
#pragma HLS array_partition variable=e cyclic factor=VL
  SOFTMAX_EXP:
    for (int k = 0; k < beats; ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
    SOFTMAX_EXP_V:
      for (int v = 0; v < VL; ++v) {
#pragma HLS unroll
        const int i = k * VL + v;
        if (i < dim) {
          const i64_t t = mx - a[i];
          e[i] = t < i64_t(d.m_b) ? table[t.to_int()] : i64_t(0);
          total += e[i];
        }
      }
    }
    const i64_t den = i64_t(2) * total;
    const ap_uint<65> rec = pow2_div<ap_uint<65> >(64, ap_uint<65>(den));
  SOFTMAX_NORMALIZE:
    for (int k = 0; k < beats; ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
    SOFTMAX_NORMALIZE_V:
      for (int v = 0; v < VL; ++v) {
#pragma HLS unroll
        const int i = k * VL + v;
        if (i < dim) {
          const i64_t p = div_by_reciprocal(i64_t(2) * e[i] * i64_t(d.m) + total, den, rec);
          out[i] = clamp_code<i64_t>(p, d.y_lo, d.y_hi);
        }
      }
    }
  }
};

}  // namespace vaqf

#endif
