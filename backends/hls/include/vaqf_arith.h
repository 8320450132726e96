// vaqf: the exact integer arithmetic of docs/quantization.md, for the kernel
// and the host alike. Every function is a template over the integer type: the
// host instantiates it with int64_t/uint64_t, the kernel with ap_int<64>/
// ap_uint<64>. The constants (multipliers, offsets, shifts, tables) come from
// vaqf_compiler.intconst, the same numbers the Python golden model uses, so
// these few operations are all that has to agree bit for bit:
//
//   round_shift(x, s) = floor(x / 2^s + 1/2)     (arithmetic shift, half up)
//   to_code(v, s)     = clamp(round_shift(v, s)) (or the sign, 1-bit signed)
//   isqrt(u)          = floor(sqrt(u))           (exact, digit by digit)
//   pow2_div(e, v)    = floor(2^e / v)           (exact long division)
#ifndef VAQF_ARITH_H
#define VAQF_ARITH_H

#include <stdint.h>

// Fixed-length loops below are unrolled in the kernel (vaqf_engine.h defines VAQF_UNROLL as the HLS
// pragma before including this header); the host compiles them as plain loops, without pragmas.
#ifndef VAQF_UNROLL
#define VAQF_UNROLL
#endif

namespace vaqf {

// floor(x / 2^s + 1/2); s <= 0 shifts left (never needed by the constants we emit).
template <class I>
inline I round_shift(I x, int s) {
  if (s <= 0) return x << (-s);
  I half = I(1);
  half = half << (s - 1);
  return (x + half) >> s;
}

template <class I>
inline I clamp_code(I v, int32_t lo, int32_t hi) {
  if (v < I(lo)) return I(lo);
  if (v > I(hi)) return I(hi);
  return v;
}

// Codes from `scaled` = value / step * 2^s: round half up and saturate, or
// for a 1-bit signed output the sign of the unrounded value (+1 for >= 0).
template <class I>
inline I to_code(I scaled, int s, int32_t lo, int32_t hi, int32_t sign) {
  if (sign) return scaled >= I(0) ? I(1) : I(-1);
  return clamp_code(round_shift(scaled, s), lo, hi);
}

// Number of significant bits of v >= 0 (Python's int.bit_length).
template <class U>
inline int bit_length(U v) {
  int n = 0;
BIT_LENGTH:
  for (int i = 0; i < 64; ++i) {
  VAQF_UNROLL
    if (v != U(0)) {
      ++n;
      v = v >> 1;
    }
  }
  return n;
}

// floor(2^e / v) for 1 <= v < 2^63, e < 128 and a quotient below 2^64: restoring
// division, one quotient bit per step; the remainder stays below v. A fixed number
// of steps (those past e change nothing), so the kernel unrolls it into a pipeline.
template <class U>
inline U pow2_div(int e, U v) {
  U r = U(1), q = U(0);
  // 2^e = 1 followed by e zeros: bring them down one at a time.
  if (r >= v) {
    r = r - v;
    q = U(1);
  }
POW2_DIV:
  for (int i = 0; i < 128; ++i) {
  VAQF_UNROLL
    if (i < e) {
      r = r << 1;
      q = q << 1;
      if (r >= v) {
        r = r - v;
        q = q | U(1);
      }
    }
  }
  return q;
}

// floor(sqrt(u)) for u < 2^62, exact (one result bit per step).
// 32 fixed steps from bit 62 down: while bit > u the step leaves res = 0, so the
// steps a variable-length version skips change nothing (the kernel unrolls them).
template <class U>
inline U isqrt(U u) {
  U res = U(0);
  U bit = U(1);
  bit = bit << 62;
ISQRT:
  for (int i = 0; i < 32; ++i) {
  VAQF_UNROLL
    if (u >= res + bit) {
      u = u - (res + bit);
      res = (res >> 1) + bit;
    } else {
      res = res >> 1;
    }
    bit = bit >> 2;
  }
  return res;
}

// Layer norm: the per-row factor.  V = D*S2 - S1^2 + eps (at least 1),
// K = 24 + bitlen(V) / 2, r = isqrt(2^(2K) div V) ~ 2^K / sqrt(V).
struct LnRow {
  int64_t r;
  int k;
};

template <class I, class U>
inline LnRow ln_row_factor(I s1, I s2, int32_t dim, I eps) {
  I var = I(dim) * s2 - s1 * s1 + eps;
  U v = var < I(1) ? U(1) : U(var);
  int k = 24 + bit_length(v) / 2;
  U q = pow2_div(2 * k, v);
  LnRow out;
  out.r = (int64_t)isqrt(q);
  out.k = k;
  return out;
}

// One normalised output: n = D*q - S1; w = round_shift(n*r, K-16); code of w*G + B at 32 fraction bits.
template <class I>
inline I ln_code(I q, I s1, int32_t dim, LnRow f, I gamma, I beta, int32_t lo, int32_t hi, int32_t sign) {
  I n = I(dim) * q - s1;
  I w = round_shift(I(n * I(f.r)), f.k - 16);
  return to_code(I(w * gamma + beta), 32, lo, hi, sign);
}

}  // namespace vaqf

#endif
