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

// A lookup table on chip (GELU's, softmax's exponentials), in COPIES copies of two reads a cycle each (a
// dual-port BRAM): LK lookups a cycle. A table of up to 4096 entries gets one copy per two lanes of the row
// units; a larger one (softmax's can have tens of thousands) one copy, two lookups a cycle.
template <int PORT, int MAX_TABLE>
struct Table {
  static const int VL = PORT / 8;
  static const int COPIES = MAX_TABLE <= 4096 && VL >= 2 ? VL / 2 : 1;
  static const int LK = 2 * COPIES;
  i64_t v[COPIES][MAX_TABLE];

  // The first `len` codes of d.mult; returns the cycles: the read, then every copy written two entries a cycle.
  int64_t load(const ap_uint<PORT>* wp, const LayerDesc& d, int len) {
    const int n = len < MAX_TABLE ? len : MAX_TABLE;
    BurstTracker bt;
    read_segment<PORT, MAX_TABLE, i64_t>(wp, d.mult, d.mult.elem0, n, v[0], bt);
  TABLE_COPIES:
    for (int i = 0; i < n; ++i) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_TABLE
    TABLE_COPY:
      for (int c = 1; c < COPIES; ++c) {
#pragma HLS unroll
        v[c][i] = v[0][i];
      }
    }
    VAQF_COUNT(w_words, bt.moved.words);
    VAQF_COUNT(bursts, bt.moved.bursts);
    return timing::read_cycles(bt.moved.words, bt.moved.bursts) + (n + 1) / 2;
  }

  i64_t at(int lane, int i) const {
#pragma HLS inline
    return v[lane / 2][i];
  }
};

// Row r of a [heads][tokens][cout] view (head r / tokens, token r % tokens), in from x or out to y: one
// division per row, outside the element loops.
template <int PORT, int MAX_D>
void read_row(const ap_uint<PORT>* src, const LayerDesc& d, int r, i64_t row[MAX_D], BurstTracker& bt) {
  const int h = r / d.tokens, n = r - h * d.tokens;
  read_segment<PORT, MAX_D, i64_t>(src, d.x, elem_at(d.x, h, n, 0), d.cout, row, bt);
}

template <int PORT, int MAX_D>
void write_row(ap_uint<PORT>* y, const LayerDesc& d, int r, const i64_t row[MAX_D], BurstTracker& bt) {
  const int h = r / d.tokens, n = r - h * d.tokens;
  write_segment<PORT, MAX_D>(y, d.y, elem_at(d.y, h, n, 0), d.cout, row, bt);
}

// Element-wise units on ping-pong rows: residual addition (two operand rows, on the 16-bit and the weight
// bundles at once), scale and GELU (d.heads x d.tokens rows of d.cout codes).
template <int PORT, int MAX_D, int MAX_TABLE>
struct RowUnit {
  static const int VL = PORT / 8;

  static void run(const ap_uint<PORT>* x16, const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d) {
    static i64_t a[2][MAX_D], b[2][MAX_D], out[2][MAX_D];
    static Table<PORT, MAX_TABLE> table;
#pragma HLS array_partition variable=a cyclic factor=VL dim=2
#pragma HLS array_partition variable=b cyclic factor=VL dim=2
#pragma HLS array_partition variable=out cyclic factor=VL dim=2
#pragma HLS array_partition variable=table.v complete dim=1
    const int dim = d.cout, beats = cdiv(dim, VL);
    const int heads = d.op == OP_ADD ? 1 : d.heads;
    const int rows = heads * d.tokens;
    UnitCycles uc;
    uc.total += timing::AXI_READ_LATENCY + timing::REQUANT_DEPTH + timing::AXI_WRITE_LATENCY;
    if (d.op == OP_GELU) uc.total += table.load(wp, d, int(d.mult.rs));  // one entry per input code
    const int64_t compute = d.op == OP_GELU ? cdiv(dim, Table<PORT, MAX_TABLE>::LK) : beats;
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
                   const Table<PORT, MAX_TABLE>& table, BurstTracker& ba, BurstTracker& bb, BurstTracker& by) {
#pragma HLS dataflow
    if (r < rows) {
      read_row<PORT, MAX_D>(x16, d, r, a[r & 1], ba);
      // the second addend: the add's rows are tokens (one head), so row r is token r
      if (d.op == OP_ADD) read_segment<PORT, MAX_D, i64_t>(wp, d.w, elem_at(d.w, 0, r, 0), d.cout, b[r & 1], bb);
    }
    if (r > 0 && r - 1 < rows) compute(d, beats, a[(r - 1) & 1], b[(r - 1) & 1], out[(r - 1) & 1], table);
    if (r > 1) write_row<PORT, MAX_D>(y, d, r - 2, out[(r - 2) & 1], by);
  }

  static void compute(const LayerDesc& d, int beats, const i64_t a[MAX_D], const i64_t b[MAX_D], i64_t out[MAX_D],
                      const Table<PORT, MAX_TABLE>& table) {
    const int dim = d.cout, LK = Table<PORT, MAX_TABLE>::LK;
    if (d.op == OP_GELU) {
    GELU_LOOKUPS:
      for (int k = 0; k < cdiv(dim, LK); ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
        VAQF_COUNT(compute, 1);
      GELU_LOOKUPS_V:
        for (int v = 0; v < LK; ++v) {
#pragma HLS unroll
          const int i = k * LK + v;
          if (i < dim) out[i] = table.at(v, (a[i] - d.o).to_int());
        }
      }
      return;
    }
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
        } else {
          out[i] = to_code<i64_t>(a[i] * i64_t(d.m) + i64_t(d.o), d.shift, d.y_lo, d.y_hi, d.y_sign);
        }
      }
    }
  }
};

// Integer softmax of every row (d.heads x d.tokens rows of d.cout codes, 16-bit stream in) in three passes:
// rows in with their maximum and the sum of their exponentials (table lookups), the per-row reciprocal of
// 2 * sum (one row a cycle through the unrolled division), then rows in again, normalized and written.
// Reading every row twice costs DDR words but no on-chip copy of the scores.
template <int PORT, int MAX_D, int MAX_TABLE, int MAX_ROWS>
struct Softmax {
  static const int VL = PORT / 8;
  static const int LK = Table<PORT, MAX_TABLE>::LK;  // exponentials looked up a cycle

  static void run(const ap_uint<PORT>* x16, const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d) {
    static i64_t a[2][MAX_D], out[2][MAX_D], mx[MAX_ROWS], total[MAX_ROWS];
    static ap_uint<65> rec[MAX_ROWS];
    static Table<PORT, MAX_TABLE> table;
#pragma HLS array_partition variable=a cyclic factor=VL dim=2
#pragma HLS array_partition variable=out cyclic factor=VL dim=2
#pragma HLS array_partition variable=table.v complete dim=1
    const int beats = cdiv(d.cout, VL), lookups = cdiv(d.cout, LK), rows = d.heads * d.tokens;
    UnitCycles uc;
    uc.total += 2 * timing::AXI_READ_LATENCY + timing::DIV_DEPTH + timing::REQUANT_DEPTH + timing::AXI_WRITE_LATENCY;
    uc.total += table.load(wp, d, int(d.m_b));  // exponentials of the distances from the row maximum
  SOFTMAX_SUMS:
    for (int r = 0; r < rows + 1; ++r) {
#pragma HLS loop_tripcount min=2 max=MAX_ROWS + 1
      BurstTracker bx;
      sum_step(x16, d, r, rows, beats, a, table, mx, total, bx);
      uc.step(stage_words(bx, 0), r > 0 ? beats + lookups : 0, 0);
    }
  SOFTMAX_RECIPROCALS:
    for (int r = 0; r < rows; ++r) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_ROWS
      rec[r] = pow2_div<ap_uint<65> >(64, ap_uint<65>(i64_t(2) * total[r]));
    }
    uc.total += rows;
  SOFTMAX_ROWS_OUT:
    for (int r = 0; r < rows + 2; ++r) {
#pragma HLS loop_tripcount min=3 max=MAX_ROWS + 2
      BurstTracker bx, by;
      out_step(x16, y, d, r, rows, a, out, table, mx, total, rec, bx, by);
      uc.step(stage_words(bx, 0), r > 0 && r - 1 < rows ? lookups : 0, stage_words(by, 2));
    }
    uc.finish();
  }

  // Row r in; the maximum and the exponentials' sum of row r-1.
  static void sum_step(const ap_uint<PORT>* x16, const LayerDesc& d, int r, int rows, int beats, i64_t a[2][MAX_D],
                       const Table<PORT, MAX_TABLE>& table, i64_t mx[MAX_ROWS], i64_t total[MAX_ROWS],
                       BurstTracker& bx) {
#pragma HLS dataflow
    if (r < rows) read_row<PORT, MAX_D>(x16, d, r, a[r & 1], bx);
    if (r == 0) return;
    const int p = r - 1, dim = d.cout;
    const i64_t* row = a[p & 1];
    i64_t m = row[0], s = 0;
  SOFTMAX_MAX:
    for (int k = 0; k < beats; ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
    SOFTMAX_MAX_V:
      for (int v = 0; v < VL; ++v) {
#pragma HLS unroll
        const int i = k * VL + v;
        if (i < dim && row[i] > m) m = row[i];
      }
    }
  SOFTMAX_EXP:
    for (int k = 0; k < cdiv(dim, LK); ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
    SOFTMAX_EXP_V:
      for (int v = 0; v < LK; ++v) {
#pragma HLS unroll
        const int i = k * LK + v;
        if (i < dim) s += exp_code(v, m - row[i], d, table);
      }
    }
    mx[p] = m;
    total[p] = s;
  }

  static i64_t exp_code(int lane, i64_t t, const LayerDesc& d, const Table<PORT, MAX_TABLE>& table) {
#pragma HLS inline
    return t < i64_t(d.m_b) ? table.at(lane, t.to_int()) : i64_t(0);
  }

  // Row r in again; row r-1 normalized; row r-2 out.
  static void out_step(const ap_uint<PORT>* x16, ap_uint<PORT>* y, const LayerDesc& d, int r, int rows,
                       i64_t a[2][MAX_D], i64_t out[2][MAX_D], const Table<PORT, MAX_TABLE>& table,
                       const i64_t mx[MAX_ROWS], const i64_t total[MAX_ROWS], const ap_uint<65> rec[MAX_ROWS],
                       BurstTracker& bx, BurstTracker& by) {
#pragma HLS dataflow
    const int dim = d.cout;
    if (r < rows) read_row<PORT, MAX_D>(x16, d, r, a[r & 1], bx);
    if (r > 0 && r - 1 < rows) {
      const int p = r - 1;
      const i64_t den = i64_t(2) * total[p];
    SOFTMAX_NORMALIZE:
      for (int k = 0; k < cdiv(dim, LK); ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
        VAQF_COUNT(compute, 1);
      SOFTMAX_NORMALIZE_V:
        for (int v = 0; v < LK; ++v) {
#pragma HLS unroll
          const int i = k * LK + v;
          if (i < dim) {
            const i64_t e = exp_code(v, mx[p] - a[p & 1][i], d, table);
            const i64_t q = div_by_reciprocal(i64_t(2) * e * i64_t(d.m) + total[p], den, rec[p]);
            out[p & 1][i] = clamp_code<i64_t>(q, d.y_lo, d.y_hi);
          }
        }
      }
    }
    if (r > 1) write_row<PORT, MAX_D>(y, d, r - 2, out[(r - 2) & 1], by);
  }
};

}  // namespace vaqf

#endif
