// vaqf: the accelerator's shared compute engine for Vitis HLS (paper, Section V).
//
// Engine<...>: one template serves both arrays: the 16-bit array on DSPs (TM x TN MACs, NH
// head groups of TI = TN/NH inputs) for unquantized FC layers and the attention products,
// and the binary array on LUTs (BIN = true: weights are bits, a MAC is an addition or a
// subtraction). One layer call:
//
//   for g in head groups                       (attention: ceil(H/NH); FC: 1)
//     load the lhs of group g on chip          (once: every output tile reuses it; rows alternate
//                                              between the x16 and xq read bundles)
//     for k = 0 .. n_o                         (output tiles, one DATAFLOW step each)
//       load weights of tile k+1   |  read port wt, one burst per tile (rows are contiguous)
//       MACs of tile k             |  every input step x every token, pipelined II=1
//       requantize, store tile k-1 |  G codes per cycle (the output word), write port y
//
// The three stages of a step touch different buffers (weights and accumulators ping-pong
// by tile parity), so they overlap; the per-layer constants (multipliers, offsets, the
// mixed scheme's row table) are loaded on chip once per call.
// FC layers split their TN inputs into NH groups whose partial sums are added; attention
// keeps the NH heads apart (paper, Fig. 3).
// Mixed scheme (ours; docs/quantization.md): with PTM > 0 the DSP engine also has a
// power-of-two array of PTM rows x TN inputs on LUTs (Pot<K>::mac: shift, add or
// subtract). A mixed FC layer's fixed-point rows run on the TM x TN array and its PoT
// rows on the PoT array in the same pipelined token loop, on the same inputs; every
// result row is written to its original output index (the layer's row table).
//
// C simulation counts each call's trip counts and cycles (vaqf_cycles.h) in vaqf::g_trips.
#ifndef VAQF_ENGINE_H
#define VAQF_ENGINE_H

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
// are read, modified and written once.
template <int PORT, int CAP, int B, int S>
void scatter_codes(ap_uint<PORT>* mem, const Tensor& t, int n, const i64_t col[CAP], int len, const i64_t src[CAP],
                   BurstTracker& bt) {
  const int G = PORT / B;
  int64_t cur = -1;
  ap_uint<PORT> word = 0;
SCATTER:
  for (int r = 0; r < len; ++r) {
#pragma HLS pipeline
#pragma HLS loop_tripcount min=1 max=CAP
    const int64_t e = elem_at(t, 0, n, col[r].to_int64());
    const int64_t wi = e / G;
    if (wi != cur) {
      if (cur >= 0) {
        mem[t.base + cur] = word;
        bt.word(t.base + cur);
      }
      word = mem[t.base + wi];
      cur = wi;
    }
    Fmt<B, S>::template put<PORT>(word, (int)(e - wi * G), src[r]);
  }
  if (cur >= 0) {
    mem[t.base + cur] = word;
    bt.word(t.base + cur);
  }
}

#define VAQF_SCATTER_CASE(B, S) \
  case VAQF_FMT_ID(B, S):       \
    scatter_codes<PORT, CAP, B, S>(mem, t, n, col, len, src, bt); \
    break;

template <int PORT, int CAP>
void scatter_row(ap_uint<PORT>* mem, const Tensor& t, int n, const i64_t col[CAP], int len, const i64_t src[CAP],
                 BurstTracker& bt) {
  switch (fmt_id(t.bits, t.sgn)) {
    VAQF_FORMATS(VAQF_SCATTER_CASE)
    default:
      break;
  }
}

// ----- the shared compute engine ---------------------------------------------------

// XT: lhs code type; WT: weight / rhs code type (ap_uint<1> when BIN); ACC: accumulator.
// MAX_CIN / MAX_COUT: the longest contraction and output row of the layers this engine runs.
// PTM > 0 adds the power-of-two array (PTM rows x TN inputs of PK-bit codes, shift-adds on LUTs,
// operands narrowed to PXT, accumulator PACC) beside the TM x TN array.
template <int PORT, int TM, int TN, int NH, int MAX_T, int MAX_CIN, int MAX_COUT, bool BIN, class XT, class WT,
          class ACC, int PTM = 0, int PK = 4, class PXT = XT, class PACC = ACC>
struct Engine {
  static const int TI = TN / NH;  // inputs per head group
  static const int PT = PTM > 0 ? PTM : 1;  // PoT array storage (unused when PTM = 0)
  static const int MAX_S = (MAX_CIN + TI - 1) / TI;  // input steps of the longest contraction
  static const int ROW = MAX_S * TN;  // a padded lhs or weight row
  typedef ap_uint<PK> PW;

  // Rows of the TM x TN array's weights: all output channels, or a mixed layer's fixed-point rows.
  static int fixed_rows(const LayerDesc& d) { return d.mixed ? d.cout - d.n_pot : d.cout; }
  static int pot_rows(const LayerDesc& d) { return PTM > 0 && d.mixed ? d.n_pot : 0; }

  // x * w. A binary weight passes x or -x (LUTs only); multi-bit operands take one DSP each.
  static ACC product(XT x, WT w) {
#pragma HLS inline
    if (BIN) return w != 0 ? ACC(x) : ACC(-ACC(x));
    return ACC(x * w);
  }

  // The sum of N products as a balanced tree (ceil(log2 N) adder levels, not a chain of N adders).
  template <int N, int DUMMY = 0>
  struct AdderTree {
    static ACC sum(const ACC* v) {
#pragma HLS inline
      return AdderTree<N / 2>::sum(v) + AdderTree<N - N / 2>::sum(v + N / 2);
    }
  };
  template <int DUMMY>
  struct AdderTree<1, DUMMY> {
    static ACC sum(const ACC* v) {
#pragma HLS inline
      return v[0];
    }
  };

  // Where input channel c of a row goes: group gi, step i, lane j (FC: c = i*TN + gi*TI + j;
  // attention, one head per group: c = i*TI + j).
  static void place(bool attn, int c, int& gi, int& i, int& j) {
#pragma HLS inline
    if (attn) {
      gi = 0;
      i = c / TI;
    } else {
      gi = (c % TN) / TI;
      i = c / TN;
    }
    j = c % TI;
  }

  // The lhs of head group g on chip: xs[gi][i][t][j], zero beyond the contraction. Rows alternate between
  // the two read bundles that address activations (x16 and xq see the same DDR): two rows per iteration.
  static void load_x(const ap_uint<PORT>* src0, const ap_uint<PORT>* src1, const LayerDesc& d, bool attn, int g,
                     int n_i, XT xs[NH][MAX_S][MAX_T][TI], BurstTracker& bt0, BurstTracker& bt1) {
    const int span = n_i * (attn ? TI : TN);
  LOAD_X_GROUPS:
    for (int gh = 0; gh < (attn ? NH : 1); ++gh) {
      const int h = attn ? g * NH + gh : 0;
      const int len = attn && h >= d.heads ? 0 : d.cin;
    LOAD_X_ROWS:
      for (int t0 = 0; t0 < d.tokens; t0 += 2) {
#pragma HLS loop_tripcount min=1 max=(MAX_T + 1) / 2
        XT row[2][ROW];
        read_segment<PORT, ROW, XT>(src0, d.x, elem_at(d.x, h, t0, 0), len, row[0], bt0);
        const bool pair = t0 + 1 < d.tokens;
        read_segment<PORT, ROW, XT>(src1, d.x, elem_at(d.x, h, t0 + 1, 0), pair ? len : 0, row[1], bt1);
      LOAD_X_SCATTER:
        for (int c = 0; c < span; ++c) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=ROW
          int gi, i, j;
          place(attn, c, gi, i, j);
          xs[attn ? gh : gi][i][t0][j] = row[0][c];
          if (pair) xs[attn ? gh : gi][i][t0 + 1][j] = row[1][c];
        }
      }
    }
  }

  // Weights (or the rhs) of output tile o on chip: ws[gi][i][mi][j].
  static void load_w(const ap_uint<PORT>* src, const LayerDesc& d, bool attn, int g, int o, int n_i,
                     WT ws[NH][MAX_S][TM][TI], BurstTracker& bt) {
    const int span = n_i * (attn ? TI : TN);
  LOAD_W_GROUPS:
    for (int gh = 0; gh < (attn ? NH : 1); ++gh) {
      const int h = attn ? g * NH + gh : 0;
      const bool head = !attn || h < d.heads;
      if (!attn || d.transpose_b) {
        // rows are output channels: W[m][c] (FC; a mixed layer's fixed-point rows) or K_h[m][c] (Q·Kᵀ)
      LOAD_W_ROWS:
        for (int mi = 0; mi < TM; ++mi) {
          const int m = o * TM + mi;
          i64_t row[ROW];
          const int l = head && m < fixed_rows(d) ? d.cin : 0;
          read_segment<PORT, ROW, i64_t>(src, d.w, elem_at(d.w, h, m, 0), l, row, bt);
        LOAD_W_SCATTER:
          for (int c = 0; c < span; ++c) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=ROW
            int gi, i, j;
            place(attn, c, gi, i, j);
            ws[attn ? gh : gi][i][mi][j] = BIN ? WT(row[c] > 0 ? 1 : 0) : WT(row[c]);
          }
        }
      } else {
        // rows are contraction steps: V_h[c][m] (A·V), packed along the output channels
        int mlen = d.cout - o * TM;
        mlen = mlen > TM ? TM : mlen;
      LOAD_V_ROWS:
        for (int c = 0; c < span; ++c) {
#pragma HLS loop_tripcount min=1 max=ROW
          i64_t col[TM];
          const int l = head && c < d.cin ? mlen : 0;
          read_segment<PORT, TM, i64_t>(src, d.w, elem_at(d.w, h, c, o * TM), l, col, bt);
        LOAD_V_SCATTER:
          for (int mi = 0; mi < TM; ++mi) {
#pragma HLS unroll
            ws[gh][c / TI][mi][c % TI] = WT(col[mi]);
          }
        }
      }
    }
  }

  // Power-of-two weights of PoT tile o (mixed FC): pws[gi][i][pm][j]; zero codes beyond the layer.
  static void load_wp(const ap_uint<PORT>* src, const LayerDesc& d, int o, int n_i, PW pws[NH][MAX_S][PT][TI],
                      BurstTracker& bt) {
  LOAD_P_ROWS:
    for (int pm = 0; pm < PT; ++pm) {
      const int p = o * PT + pm;
      i64_t row[ROW];
      const int l = p < pot_rows(d) ? d.cin : 0;
      read_segment<PORT, ROW, i64_t>(src, d.wp, elem_at(d.wp, 0, p, 0), l, row, bt);
    LOAD_P_SCATTER:
      for (int c = 0; c < n_i * TN; ++c) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=ROW
        int gi, i, j;
        place(false, c, gi, i, j);
        pws[gi][i][pm][j] = c < l ? PW(row[c]) : PW(Pot<PK>::ZERO);
      }
    }
  }

  // Every input step and token of one output tile through the TM x TN array (and, for a mixed
  // layer, the PTM x TN PoT array): one flattened loop, II=1. `fix` / `pot`: the tile has rows on
  // that array (a mixed layer's arrays may have different tile counts).
  static void compute(const LayerDesc& d, bool attn, bool fix, bool pot, int n_i, const XT xs[NH][MAX_S][MAX_T][TI],
                      const WT ws[NH][MAX_S][TM][TI], const PW pws[NH][MAX_S][PT][TI], ACC acc[NH][MAX_T][TM],
                      PACC pacc[MAX_T][PT]) {
  MAC_STEPS:
    for (int i = 0; i < n_i; ++i) {
#pragma HLS loop_tripcount min=1 max=MAX_S
    MAC_TOKENS:
      for (int t = 0; t < d.tokens; ++t) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=MAX_T
        VAQF_COUNT(compute, 1);
        const bool first = i == 0;
        ACC part[NH][TM];
#pragma HLS array_partition variable=part complete dim=0
      MAC_GROUPS:
        for (int gi = 0; gi < NH; ++gi) {
#pragma HLS unroll
        MAC_ROWS:
          for (int mi = 0; mi < TM; ++mi) {
#pragma HLS unroll
            ACC prod[TI];
#pragma HLS array_partition variable=prod complete dim=0
          MAC_LANE:
            for (int j = 0; j < TI; ++j) {
#pragma HLS unroll
              prod[j] = product(xs[gi][i][t][j], ws[gi][i][mi][j]);
            }
            part[gi][mi] = fix ? AdderTree<TI>::sum(prod) : ACC(0);
          }
        }
        if (PTM > 0 && pot) {
          // the PoT array: its own rows, the same inputs, summed over the NH input groups
        POT_ROWS:
          for (int pm = 0; pm < PT; ++pm) {
#pragma HLS unroll
            PACC s = 0;
          POT_GROUPS:
            for (int gi = 0; gi < NH; ++gi) {
#pragma HLS unroll
            POT_LANE:
              for (int j = 0; j < TI; ++j) {
#pragma HLS unroll
                Pot<PK>::mac(s, PXT(xs[gi][i][t][j]), pws[gi][i][pm][j]);
              }
            }
            pacc[t][pm] = (first ? PACC(0) : pacc[t][pm]) + s;
          }
        }
        if (!fix) {
          // a mixed layer's tile beyond its fixed-point rows: the DSP array idles
        } else if (attn) {
        ACC_HEADS:
          for (int gi = 0; gi < NH; ++gi) {
#pragma HLS unroll
          ACC_HEAD_ROWS:
            for (int mi = 0; mi < TM; ++mi) {
#pragma HLS unroll
              acc[gi][t][mi] = (first ? ACC(0) : acc[gi][t][mi]) + part[gi][mi];
            }
          }
        } else {
        ACC_ROWS:
          for (int mi = 0; mi < TM; ++mi) {
#pragma HLS unroll
            ACC s = first ? ACC(0) : acc[0][t][mi];
          ACC_GROUPS:
            for (int gi = 0; gi < NH; ++gi) {
#pragma HLS unroll
              s += part[gi][mi];
            }
            acc[0][t][mi] = s;
          }
        }
      }
    }
  }

  // Mixed FC: requantize `len` rows of one array's tile, positions p0.. in the order of d.rows (which
  // the on-chip mult/off/col follow), and write each to its output index.
  template <int CAP, class A>
  static void store_scattered(ap_uint<PORT>* y, const LayerDesc& d, int p0, int len, const A acc[MAX_T][CAP],
                              const i64_t mult[MAX_COUT], const i64_t off[MAX_COUT], const i64_t col_all[MAX_COUT],
                              BurstTracker& bt) {
    if (len <= 0) return;
    i64_t col[CAP];
  ROW_TABLE:
    for (int r = 0; r < CAP; ++r) col[r] = r < len ? col_all[p0 + r] : i64_t(0);
  STORE_SCATTERED_ROWS:
    for (int t = 0; t < d.tokens; ++t) {
#pragma HLS loop_tripcount min=1 max=MAX_T
      i64_t codes[CAP];
    REQUANT_SCATTERED:
      for (int r = 0; r < CAP; ++r) {
#pragma HLS pipeline II=1
        const i64_t scaled = r < len ? i64_t(i64_t(acc[t][r]) * mult[p0 + r] + off[p0 + r]) : i64_t(0);
        codes[r] = to_code<i64_t>(scaled, d.shift, d.y_lo, d.y_hi, d.y_sign);
      }
      scatter_row<PORT, CAP>(y, d.y, t, col, len, codes, bt);
      bt.extra += CAP + len;  // one lane a cycle, then one code a cycle
    }
  }

  // Requantize output tile (g, o) and write it: per token, the tile's row segment, G codes a cycle.
  static void store(ap_uint<PORT>* y, const LayerDesc& d, bool attn, int g, int o, const ACC acc[NH][MAX_T][TM],
                    const PACC pacc[MAX_T][PT], const i64_t mult[MAX_COUT], const i64_t off[MAX_COUT],
                    const i64_t col[MAX_COUT], BurstTracker& bt) {
    if (!attn && d.mixed) {
      const int nf = fixed_rows(d) - o * TM, np = pot_rows(d) - o * PT;
      store_scattered<TM, ACC>(y, d, o * TM, nf > TM ? TM : nf, acc[0], mult, off, col, bt);
      if (PTM > 0) store_scattered<PT, PACC>(y, d, fixed_rows(d) + o * PT, np > PT ? PT : np, pacc, mult, off, col, bt);
      return;
    }
    int mlen = d.cout - o * TM;
    mlen = mlen > TM ? TM : mlen;
  STORE_ROWS:
    for (int t = 0; t < d.tokens; ++t) {
#pragma HLS loop_tripcount min=1 max=MAX_T
    STORE_HEADS:
      for (int gi = 0; gi < (attn ? NH : 1); ++gi) {
        const int h = attn ? g * NH + gi : 0;
        if (h >= d.heads) continue;
        // requantized in the writer's slot loop: the G codes of one output word a cycle
        const RequantCodes rq(acc[gi][t], mult + (attn ? 0 : o * TM), off + (attn ? 0 : o * TM), attn, d);
        write_segment_of<PORT, TM, RequantCodes>(y, d.y, elem_at(d.y, h, t, o * TM), mlen, rq, bt);
      }
    }
  }

  // Code i of a tile row: round_shift(acc * M + O) clamped (attention: the layer's one M and O).
  struct RequantCodes {
    const ACC* acc;
    const i64_t* mult;
    const i64_t* off;
    bool one;
    const LayerDesc& d;
    RequantCodes(const ACC* a, const i64_t* m, const i64_t* o, bool single, const LayerDesc& desc)
        : acc(a), mult(m), off(o), one(single), d(desc) {}
    i64_t operator()(int i) const {
#pragma HLS inline
      const i64_t m = one ? i64_t(d.m) : mult[i];
      const i64_t b = one ? i64_t(d.o) : off[i];
      return to_code<i64_t>(i64_t(i64_t(acc[i]) * m + b), d.shift, d.y_lo, d.y_hi, d.y_sign);
    }
  };

  // The per-layer constants on chip (FC): multipliers, offsets and, for a mixed layer, the row table.
  static void load_constants(const ap_uint<PORT>* src, const LayerDesc& d, i64_t mult[MAX_COUT], i64_t off[MAX_COUT],
                             i64_t col[MAX_COUT], BurstTracker& bt) {
    read_segment<PORT, MAX_COUT, i64_t>(src, d.mult, d.mult.elem0, d.cout, mult, bt);
    read_segment<PORT, MAX_COUT, i64_t>(src, d.offset, d.offset.elem0, d.cout, off, bt);
    if (d.mixed) read_segment<PORT, MAX_COUT, i64_t>(src, d.rows, d.rows.elem0, d.cout, col, bt);
  }

  // One layer call. Per head group: the lhs on chip, then output tiles k = 0..n_o as DATAFLOW steps
  // (load k+1 | compute k | store k-1) on ping-pong weight and accumulator buffers.
  static void run(const ap_uint<PORT>* x16, const ap_uint<PORT>* xq, const ap_uint<PORT>* wp, ap_uint<PORT>* y,
                  const LayerDesc& d) {
    static XT xs[NH][MAX_S][MAX_T][TI];
    static WT ws[2][NH][MAX_S][TM][TI];
    static PW pws[2][NH][MAX_S][PT][TI];
    static ACC acc[2][NH][MAX_T][TM];
    static PACC pacc[2][MAX_T][PT];
    static i64_t mult[MAX_COUT], off[MAX_COUT], col[MAX_COUT];
#pragma HLS array_partition variable=xs complete dim=1
#pragma HLS array_partition variable=xs complete dim=4
#pragma HLS array_partition variable=ws complete dim=2
#pragma HLS array_partition variable=ws complete dim=4
#pragma HLS array_partition variable=ws complete dim=5
#pragma HLS array_partition variable=pws complete dim=2
#pragma HLS array_partition variable=pws complete dim=4
#pragma HLS array_partition variable=pws complete dim=5
#pragma HLS array_partition variable=acc complete dim=2
#pragma HLS array_partition variable=acc complete dim=4
#pragma HLS array_partition variable=pacc complete dim=3
    const bool attn = d.op == OP_ATTN;
    const int n_fix = cdiv(fixed_rows(d), TM), n_pot = cdiv(pot_rows(d), PT);
    const int n_o = attn ? cdiv(d.cout, TM) : (n_fix > n_pot ? n_fix : n_pot);
    const int groups = attn ? cdiv(d.heads, NH) : 1;
    const int n_i = cdiv(d.cin, attn ? TI : TN);
#ifndef VAQF_SYNTH
    int64_t cycles = timing::CALL_OVERHEAD;
#endif
    if (!attn) {
      BurstTracker bc;
      load_constants(wp, d, mult, off, col, bc);
#ifndef VAQF_SYNTH
      cycles += timing::read_cycles(bc.moved.words, bc.moved.bursts);
      VAQF_COUNT(w_words, bc.moved.words);
      VAQF_COUNT(bursts, bc.moved.bursts);
#endif
    }
  GROUPS:
    for (int g = 0; g < groups; ++g) {
#pragma HLS loop_tripcount min=1 max=16
      BurstTracker bx, bx1;
      load_x(d.x_port ? xq : x16, d.x_port ? x16 : xq, d, attn, g, n_i, xs, bx, bx1);  // its stream's bundle first
    TILES:
      for (int k = 0; k <= n_o; ++k) {
#pragma HLS loop_tripcount min=2 max=64
        // one DATAFLOW step: the three stages touch different halves of ws/pws and acc/pacc
        BurstTracker bw, by;
        if (k == 0) tile_load(wp, d, attn, g, 0, n_i, ws[0], pws[0], bw);
#ifndef VAQF_SYNTH
        int64_t step = 0;
        if (k == 0) {
          const int64_t x0 = timing::read_cycles(bx.moved.words, bx.moved.bursts);
          const int64_t x1 = timing::read_cycles(bx1.moved.words, bx1.moved.bursts);
          const int64_t wc = timing::read_cycles(bw.moved.words, bw.moved.bursts);
          step = x0 > x1 ? x0 : x1;  // the lhs on two ports, the first weights on a third, all at once
          step = step > wc ? step : wc;
          VAQF_COUNT(x_words, bx.moved.words + bx1.moved.words);
          VAQF_COUNT(bursts, bx.moved.bursts + bx1.moved.bursts);
          VAQF_COUNT(w_words, bw.moved.words);
          VAQF_COUNT(bursts, bw.moved.bursts);
          bw = BurstTracker();
        }
#endif
        dataflow_step(wp, y, d, attn, g, k, n_o, n_i, xs, ws, pws, acc, pacc, mult, off, col, bw, by);
#ifndef VAQF_SYNTH
        const int64_t lc = k + 1 < n_o ? timing::read_cycles(bw.moved.words, bw.moved.bursts) : 0;
        const int64_t cc = k < n_o ? n_i * int64_t(d.tokens) + timing::MAC_DEPTH + timing::clog2(TN) : 0;
        const int64_t sc =
            k > 0 ? timing::write_cycles(by.moved.words, by.moved.bursts) + by.extra + timing::REQUANT_DEPTH : 0;
        int64_t m = lc > cc ? lc : cc;
        m = m > sc ? m : sc;
        cycles += step + m;
        VAQF_COUNT(w_words, bw.moved.words);
        VAQF_COUNT(y_words, by.moved.words);
        VAQF_COUNT(bursts, bw.moved.bursts + by.moved.bursts);
        if (k < n_o) VAQF_COUNT(tiles, 1);
        if (k < n_o) VAQF_COUNT(steps, n_i);
#endif
      }
    }
#ifndef VAQF_SYNTH
    VAQF_COUNT(cycles, cycles);
#endif
  }

  static void tile_load(const ap_uint<PORT>* wp, const LayerDesc& d, bool attn, int g, int o, int n_i,
                        WT ws[NH][MAX_S][TM][TI], PW pws[NH][MAX_S][PT][TI], BurstTracker& bt) {
    const bool fix = attn || o * TM < fixed_rows(d);
    const bool pot = !attn && o * PT < pot_rows(d);
    if (fix) load_w(wp, d, attn, g, o, n_i, ws, bt);
    if (pot) load_wp(wp, d, o, n_i, pws, bt);
  }

  // Step k of a head group: weights of tile k+1 in, MACs of tile k, results of tile k-1 out.
  static void dataflow_step(const ap_uint<PORT>* wp, ap_uint<PORT>* y, const LayerDesc& d, bool attn, int g, int k,
                            int n_o, int n_i, const XT xs[NH][MAX_S][MAX_T][TI], WT ws[2][NH][MAX_S][TM][TI],
                            PW pws[2][NH][MAX_S][PT][TI], ACC acc[2][NH][MAX_T][TM], PACC pacc[2][MAX_T][PT],
                            const i64_t mult[MAX_COUT], const i64_t off[MAX_COUT], const i64_t col[MAX_COUT],
                            BurstTracker& bw, BurstTracker& by) {
#pragma HLS dataflow
    const int cur = k & 1, nxt = (k + 1) & 1;
    if (k + 1 < n_o) tile_load(wp, d, attn, g, k + 1, n_i, ws[nxt], pws[nxt], bw);
    if (k < n_o) {
      const bool fix = attn || k * TM < fixed_rows(d);
      const bool pot = !attn && k * PT < pot_rows(d);
      compute(d, attn, fix, pot, n_i, xs, ws[cur], pws[cur], acc[cur], pacc[cur]);
    }
    if (k > 0) store(y, d, attn, g, k - 1, acc[nxt], pacc[nxt], mult, off, col, by);
  }
};

}  // namespace vaqf

#include "vaqf_units.h"

#endif
