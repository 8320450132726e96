// vaqf: what the kernel and its host share — tensor descriptors, the layer
// descriptor, op codes. Plain C++ (no ap_int), so the host compiles it alone.
//
// Memory model. Everything lives in one DDR address space seen as an array of
// PORT_BITS-bit words (the m_axi data width). A tensor of b-bit codes packs
// G = PORT_BITS / b codes per word, code e in bits [e*b, (e+1)*b) of word
// e / G (little end first; a code never straddles two words, so 6-bit codes
// use 60 of 64 bits). Signed codes are two's complement; 1-bit signed codes
// (binary weights, 1-bit activations) store +1 as 1 and -1 as 0.
//
// A Tensor views such memory as [heads][rows][cols]: element (h, n, c) is
// packed element  elem0 + h*hs + n*rs + c  counted from word `base`. Head
// split/merge and token select are therefore views: only the numbers change.
#ifndef VAQF_TYPES_H
#define VAQF_TYPES_H

#include <stdint.h>

// The synthesis path: what Vitis HLS reads (__SYNTHESIS__), or its check under g++
// (-DVAQF_SYNTHESIS_PATH; the open-source ap_int headers refuse __SYNTHESIS__). No counting there.
#if defined(__SYNTHESIS__) || defined(VAQF_SYNTHESIS_PATH)
#define VAQF_SYNTH 1
#endif

namespace vaqf {

struct Tensor {
  int64_t base;   // first word
  int64_t elem0;  // element offset from `base` (a view may start mid-word)
  int64_t hs;     // head stride, elements
  int64_t rs;     // row stride, elements
  int32_t bits;   // code width
  int32_t sgn;    // 1: signed (two's complement; 1 bit: ±1), 0: unsigned
  int32_t per_word;  // G = PORT_BITS / bits
  int32_t pad_;
};

enum Op : int32_t {
  OP_FC = 0,    // y = requant(x · Wᵀ): the shared engine, one weight matrix
  OP_ATTN = 1,  // y_h = requant(a_h · b_h or a_h · b_hᵀ) for every head: the shared engine
  OP_LN = 2,    // layer norm of every row (16-bit stream in)
  OP_ADD = 3,   // residual addition: requant(a·Ma + b·Mb)
  // Element-wise ops the partition may move onto the FPGA (by default the host runs them):
  OP_SCALE = 4,    // y = requant(x·M + O)
  OP_GELU = 5,     // y = T[x − in_lo], the table in `mult`
  OP_SOFTMAX = 6,  // integer softmax of every row with the exponential table in `mult`
};

// One layer for the kernel: the host fills it and starts the kernel (s_axilite).
struct LayerDesc {
  int32_t op;           // Op
  int32_t binary;       // 1: binary weights on the LUT array; 0: the DSP array (+ the PoT array if mixed)
  int32_t x_port;       // 0: lhs from the 16-bit stream, 1: from the packed k-bit stream
  int32_t transpose_b;  // attention: rhs is [heads][cout][cin] (Q·Kᵀ) instead of [heads][cin][cout]
  int32_t heads;        // attention heads (1 for FC)
  int32_t tokens;       // rows of the lhs
  int32_t cin;          // contraction length
  int32_t cout;         // output features
  Tensor x;             // lhs (FC input, Q or P; layer-norm input; first addend)
  Tensor w;             // FC weights [cout][cin], attention rhs, or second addend
  Tensor y;             // result
  Tensor mult;          // FC: per-output-channel multipliers M (64-bit codes); LN: gamma codes; GELU,
                        // softmax: the table
  Tensor offset;        // FC: per-output-channel offsets O; LN: beta codes
  Tensor wp;            // mixed FC: the power-of-two rows' k-bit sign|exponent codes [n_pot][cin]
  Tensor rows;          // mixed FC: output index of every row, fixed rows then power-of-two rows [cout]
  int64_t m;            // attention, scale: the multiplier; add: multiplier of x; softmax: levels N
  int64_t m_b;          // add: multiplier of w; softmax: table length
  int64_t o;            // attention, add, scale: the offset; GELU: the lowest input code
  int64_t eps;          // layer norm: eps in integer-variance units
  int32_t shift;        // requantization shift S
  int32_t y_lo;         // output code range
  int32_t y_hi;
  int32_t y_sign;       // 1: 1-bit signed output keeps the sign (±1) instead of rounding
  int32_t mixed;        // 1: FC with mixed weights: `w` holds the fixed-point rows [cout - n_pot][cin],
                        // `wp` the power-of-two rows; mult/offset follow the order of `rows`
  int32_t n_pot;        // mixed FC: power-of-two rows
};

// Loop trip counts and cycles of one kernel call, counted in C simulation only.
struct Trips {
  int64_t tiles;     // output tiles (head groups x output-channel tiles)
  int64_t steps;     // input-channel steps, summed over tiles
  int64_t compute;   // iterations of the pipelined token loop (one MAC-array cycle each)
  int64_t x_words;   // words read for input tiles
  int64_t w_words;   // words read for weight / rhs tiles
  int64_t y_words;   // words written
  int64_t bursts;    // AXI bursts (runs of consecutive words), reads and writes
  int64_t cycles;    // the call's cycles, counted from the kernel's structure (vaqf_cycles.h)
};

}  // namespace vaqf

#endif
