// vaqf: the element-wise units of the kernel — layer norm, residual addition, and scale,
// GELU and softmax when the partition puts them on the FPGA.
//
// Each streams rows at the port's rate: V = PORT/16 elements a cycle (a 16-bit word's
// worth; narrower codes arrive faster than that). A row goes through a DATAFLOW region of
// row stages (read and reduce | per-row factor | normalize and write), so rows overlap
// and the cycle counter charges them as a flow shop (vaqf_cycles.h). Tables (GELU,
// softmax's exponentials) and per-feature constants (γ, β) are loaded on chip once per
// call. The arithmetic is exactly docs/quantization.md's (vaqf_arith.h): softmax's
// division is exact through a per-row reciprocal and one correction step.
#ifndef VAQF_UNITS_H
#define VAQF_UNITS_H

#include <ap_int.h>
#include <stdint.h>

#include "vaqf_arith.h"
#include "vaqf_cycles.h"
#include "vaqf_pack.h"
#include "vaqf_types.h"

namespace vaqf {

// Cycles of the rows of one call, charged as a flow shop of `stages` row stages, plus the
// call's fixed costs; added to g_trips.cycles when the call ends.
#ifndef VAQF_SYNTH
struct RowCounter {
  timing::FlowShop shop;
  int64_t fixed;
  explicit RowCounter(int stages) : shop(stages), fixed(timing::CALL_OVERHEAD) {}
  void row(const int64_t* t) { shop.item(t, 0); }
  void finish() { VAQF_COUNT(cycles, fixed + shop.done()); }
};
#else
struct RowCounter {  // nothing is counted on the synthesis path
  int64_t fixed;
  explicit RowCounter(int) : fixed(0) {}
  void row(const int64_t*) {}
  void finish() {}
};
#endif

// Words of a read or write stage, counted into the trips; returns its cycles without the latency
// (one latency per call is in `fixed`: the row bursts are issued back to back).
inline int64_t moved(const BurstTracker& bt, bool write) {
  if (write) VAQF_COUNT(y_words, bt.moved.words);
  else VAQF_COUNT(x_words, bt.moved.words);
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
template <int PORT, int MAX_D>
void ln_unit(const ap_uint<PORT>* x16, const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d) {
  const int V = PORT / 16;
  static i64_t gamma[MAX_D], beta[MAX_D];
  i64_t row[MAX_D], out[MAX_D];
#pragma HLS array_partition variable=row cyclic factor=V
#pragma HLS array_partition variable=out cyclic factor=V
#pragma HLS array_partition variable=gamma cyclic factor=V
#pragma HLS array_partition variable=beta cyclic factor=V
  const int dim = d.cout;
  RowCounter rc(3);
  BurstTracker bc;
  read_segment<PORT, MAX_D, i64_t>(wp, d.mult, d.mult.elem0, dim, gamma, bc);
  read_segment<PORT, MAX_D, i64_t>(wp, d.offset, d.offset.elem0, dim, beta, bc);
  rc.fixed += timing::read_cycles(bc.moved.words, bc.moved.bursts) + timing::AXI_READ_LATENCY +
              timing::LN_FACTOR_DEPTH + timing::AXI_WRITE_LATENCY;
  VAQF_COUNT(w_words, bc.moved.words);
LN_ROWS:
  for (int n = 0; n < d.tokens; ++n) {
#pragma HLS loop_tripcount min=1 max=256
    BurstTracker bx, by;
    read_segment<PORT, MAX_D, i64_t>(x16, d.x, elem_at(d.x, 0, n, 0), dim, row, bx);
    i64_t s1 = 0, s2 = 0;
  LN_STATS:
    for (int k = 0; k < cdiv(dim, V); ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
      for (int v = 0; v < V; ++v) {
#pragma HLS unroll
        const int i = k * V + v;
        if (i < dim) {
          s1 += row[i];
          s2 += row[i] * row[i];
        }
      }
    }
    const LnRow f = ln_row_factor<i64_t, u64_t>(s1, s2, dim, i64_t(d.eps));
  LN_NORMALIZE:
    for (int k = 0; k < cdiv(dim, V); ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
      VAQF_COUNT(compute, 1);
      for (int v = 0; v < V; ++v) {
#pragma HLS unroll
        const int i = k * V + v;
        if (i < dim) out[i] = ln_code<i64_t>(row[i], s1, dim, f, gamma[i], beta[i], d.y_lo, d.y_hi, d.y_sign);
      }
    }
    write_segment<PORT, MAX_D>(y, d.y, elem_at(d.y, 0, n, 0), dim, out, by);
    const int64_t read = moved(bx, false), lanes = cdiv(dim, V), write = moved(by, true);
    const int64_t t[3] = {read > lanes ? read : lanes, 1, write > lanes ? write : lanes};
    rc.row(t);
  }
  rc.finish();
}

// y = codes of (a*m + b*m_b + o) >> shift, row by row (d.tokens rows of d.cout): a on the 16-bit
// port, b on the weight port, both at once.
template <int PORT, int MAX_D>
void add_unit(const ap_uint<PORT>* x16, const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d) {
  const int V = PORT / 16;
  i64_t a[MAX_D], b[MAX_D], out[MAX_D];
#pragma HLS array_partition variable=a cyclic factor=V
#pragma HLS array_partition variable=b cyclic factor=V
#pragma HLS array_partition variable=out cyclic factor=V
  const int dim = d.cout;
  RowCounter rc(2);
  rc.fixed += timing::AXI_READ_LATENCY + timing::REQUANT_DEPTH + timing::AXI_WRITE_LATENCY;
ADD_ROWS:
  for (int n = 0; n < d.tokens; ++n) {
#pragma HLS loop_tripcount min=1 max=256
    BurstTracker ba, bb, by;
    read_segment<PORT, MAX_D, i64_t>(x16, d.x, elem_at(d.x, 0, n, 0), dim, a, ba);
    read_segment<PORT, MAX_D, i64_t>(wp, d.w, elem_at(d.w, 0, n, 0), dim, b, bb);
  ADD_LANES:
    for (int k = 0; k < cdiv(dim, V); ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
      VAQF_COUNT(compute, 1);
      for (int v = 0; v < V; ++v) {
#pragma HLS unroll
        const int i = k * V + v;
        if (i < dim) {
          const i64_t total = a[i] * i64_t(d.m) + b[i] * i64_t(d.m_b) + i64_t(d.o);
          out[i] = to_code<i64_t>(total, d.shift, d.y_lo, d.y_hi, d.y_sign);
        }
      }
    }
    write_segment<PORT, MAX_D>(y, d.y, elem_at(d.y, 0, n, 0), dim, out, by);
    const int64_t ra = moved(ba, false), rb = bb.moved.words + bb.moved.bursts * timing::BURST_GAP;
    VAQF_COUNT(w_words, bb.moved.words);
    VAQF_COUNT(bursts, bb.moved.bursts);
    const int64_t lanes = cdiv(dim, V), write = moved(by, true);
    int64_t in = ra > rb ? ra : rb;
    in = in > lanes ? in : lanes;
    const int64_t t[2] = {in, write > lanes ? write : lanes};
    rc.row(t);
  }
  rc.finish();
}

// Scale, GELU and softmax when the partition puts them on the FPGA (d.heads x d.tokens rows of
// d.cout codes, 16-bit stream in). GELU's and softmax's tables are loaded on chip once per call.
template <int PORT, int MAX_D, int MAX_TABLE>
void elementwise_unit(const ap_uint<PORT>* x16, const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d) {
  const int V = PORT / 16;
  static i64_t table[MAX_TABLE];
  i64_t row[MAX_D], e[MAX_D], out[MAX_D];
#pragma HLS array_partition variable=row cyclic factor=V
#pragma HLS array_partition variable=e cyclic factor=V
#pragma HLS array_partition variable=out cyclic factor=V
  const int dim = d.cout;
  const bool softmax = d.op == OP_SOFTMAX;
  RowCounter rc(softmax ? 3 : 2);
  rc.fixed += timing::AXI_READ_LATENCY + timing::REQUANT_DEPTH + timing::AXI_WRITE_LATENCY;
  if (d.op != OP_SCALE) {
    // GELU: one entry per input code; softmax: exponentials of the distances from the row maximum
    const int len = d.op == OP_GELU ? int(d.mult.rs) : int(d.m_b);
    BurstTracker bt;
    read_segment<PORT, MAX_TABLE, i64_t>(wp, d.mult, d.mult.elem0, len < MAX_TABLE ? len : MAX_TABLE, table, bt);
    rc.fixed += timing::read_cycles(bt.moved.words, bt.moved.bursts);
    VAQF_COUNT(w_words, bt.moved.words);
  }
  if (softmax) rc.fixed += timing::DIV_DEPTH;
ELEMENTWISE_HEADS:
  for (int h = 0; h < d.heads; ++h) {
#pragma HLS loop_tripcount min=1 max=16
  ELEMENTWISE_ROWS:
    for (int n = 0; n < d.tokens; ++n) {
#pragma HLS loop_tripcount min=1 max=256
      BurstTracker bx, by;
      read_segment<PORT, MAX_D, i64_t>(x16, d.x, elem_at(d.x, h, n, 0), dim, row, bx);
      i64_t mx = row[0], total = 0;
    ELEMENTWISE_LANES:
      for (int k = 0; k < cdiv(dim, V); ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
        VAQF_COUNT(compute, 1);
        for (int v = 0; v < V; ++v) {
#pragma HLS unroll
          const int i = k * V + v;
          if (i >= dim) {
          } else if (d.op == OP_SCALE) {
            out[i] = to_code<i64_t>(row[i] * i64_t(d.m) + i64_t(d.o), d.shift, d.y_lo, d.y_hi, d.y_sign);
          } else if (d.op == OP_GELU) {
            out[i] = table[(row[i] - d.o).to_int()];
          } else if (row[i] > mx) {
            mx = row[i];
          }
        }
      }
      if (softmax) {
      SOFTMAX_EXP:
        for (int k = 0; k < cdiv(dim, V); ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
          for (int v = 0; v < V; ++v) {
#pragma HLS unroll
            const int i = k * V + v;
            if (i < dim) {
              const i64_t t = mx - row[i];
              e[i] = t < i64_t(d.m_b) ? table[t.to_int()] : i64_t(0);
              total += e[i];
            }
          }
        }
        const i64_t den = i64_t(2) * total;
        const ap_uint<65> r = pow2_div<ap_uint<65> >(64, ap_uint<65>(den));
      SOFTMAX_NORMALIZE:
        for (int k = 0; k < cdiv(dim, V); ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_D
          for (int v = 0; v < V; ++v) {
#pragma HLS unroll
            const int i = k * V + v;
            if (i < dim) {
              const i64_t p = div_by_reciprocal(i64_t(2) * e[i] * i64_t(d.m) + total, den, r);
              out[i] = clamp_code<i64_t>(p, d.y_lo, d.y_hi);
            }
          }
        }
      }
      write_segment<PORT, MAX_D>(y, d.y, elem_at(d.y, h, n, 0), dim, out, by);
      const int64_t read = moved(bx, false), lanes = cdiv(dim, V), write = moved(by, true);
      const int64_t first = read > lanes ? read : lanes, last = write > lanes ? write : lanes;
      if (softmax) {
        const int64_t t[3] = {first, lanes, last};
        rc.row(t);
      } else {
        const int64_t t[2] = {first, last};
        rc.row(t);
      }
    }
  }
  rc.finish();
}

}  // namespace vaqf

#endif
