// vaqf: packed codes in DDR words, decoded with compile-time formats.
//
// A tensor of b-bit codes packs G = PORT / b codes per word (vaqf_types.h). Every format
// the kernel touches is a template instance Fmt<B, S>: its slots are fixed bit ranges
// (wiring, no LUTs), G and every "/ G" or "% G" are compile-time constants (shifts or
// constant multiplies). The descriptor still says which format a tensor has; one switch
// per reader or writer picks the instance (`VAQF_FORMATS`, the formats the model uses,
// from vaqf_config.h), so each format's loop is its own small piece of hardware and
// no slot decodes a width at run time.
//
// Readers and writers walk whole rows: one pipelined loop over the row's words with an
// incrementing address (no division inside), G codes per word. They return the words
// moved and count bursts (a burst is a run of consecutive words) for the cycle counter.
#ifndef VAQF_PACK_H
#define VAQF_PACK_H

#include <ap_int.h>
#include <stdint.h>

#include "vaqf_types.h"

// The formats the kernel instantiates: X(bits, signed) for each. vaqf_config.h lists the
// model's; code that includes this header alone (test harnesses) gets every width.
#ifndef VAQF_FORMATS
#define VAQF_FORMATS(X) \
  X(1, 0) X(1, 1) X(2, 0) X(2, 1) X(3, 0) X(3, 1) X(4, 0) X(4, 1) X(5, 0) X(5, 1) X(6, 0) X(6, 1) \
  X(7, 0) X(7, 1) X(8, 0) X(8, 1) X(9, 0) X(9, 1) X(10, 0) X(10, 1) X(11, 0) X(11, 1) X(12, 0) \
  X(12, 1) X(13, 0) X(13, 1) X(14, 0) X(14, 1) X(15, 0) X(15, 1) X(16, 0) X(16, 1) X(17, 0) \
  X(17, 1) X(18, 0) X(18, 1) X(19, 0) X(19, 1) X(20, 0) X(20, 1) X(21, 0) X(21, 1) X(22, 0) \
  X(22, 1) X(23, 0) X(23, 1) X(24, 0) X(24, 1) X(25, 0) X(25, 1) X(26, 0) X(26, 1) X(27, 0) \
  X(27, 1) X(28, 0) X(28, 1) X(29, 0) X(29, 1) X(30, 0) X(30, 1) X(31, 0) X(31, 1) X(32, 0) \
  X(32, 1) X(33, 0) X(33, 1) X(34, 0) X(34, 1) X(35, 0) X(35, 1) X(36, 0) X(36, 1) X(37, 0) \
  X(37, 1) X(38, 0) X(38, 1) X(39, 0) X(39, 1) X(40, 0) X(40, 1) X(41, 0) X(41, 1) X(42, 0) \
  X(42, 1) X(43, 0) X(43, 1) X(44, 0) X(44, 1) X(45, 0) X(45, 1) X(46, 0) X(46, 1) X(47, 0) \
  X(47, 1) X(48, 0) X(48, 1) X(49, 0) X(49, 1) X(50, 0) X(50, 1) X(51, 0) X(51, 1) X(52, 0) \
  X(52, 1) X(53, 0) X(53, 1) X(54, 0) X(54, 1) X(55, 0) X(55, 1) X(56, 0) X(56, 1) X(57, 0) \
  X(57, 1) X(58, 0) X(58, 1) X(59, 0) X(59, 1) X(60, 0) X(60, 1) X(61, 0) X(61, 1) X(62, 0) \
  X(62, 1) X(63, 0) X(63, 1) X(64, 0) X(64, 1)
#endif

namespace vaqf {

typedef ap_int<64> i64_t;
typedef ap_uint<64> u64_t;

// The switch label of a format.
inline int fmt_id(int bits, int sgn) { return bits * 2 + sgn; }
#define VAQF_FMT_ID(B, S) ((B) * 2 + (S))

// One code format: B bits, S signed (two's complement; 1-bit signed codes are ±1, stored 1 / 0).
template <int B, int S>
struct Fmt {
  // Code in slot `slot` of a word.
  template <int PORT>
  static i64_t get(const ap_uint<PORT>& word, int slot) {
#pragma HLS inline
    const ap_uint<B> raw = word.range(slot * B + B - 1, slot * B);
    if (!S) return i64_t(raw);
    if (B == 1) return raw == 0 ? i64_t(-1) : i64_t(1);
    return i64_t(ap_int<B>(raw));
  }

  // Put `code` into slot `slot` of `word`.
  template <int PORT>
  static void put(ap_uint<PORT>& word, int slot, i64_t code) {
#pragma HLS inline
    const ap_uint<B> raw = (S && B == 1) ? ap_uint<B>(code > 0 ? 1 : 0) : ap_uint<B>(code);
    word.range(slot * B + B - 1, slot * B) = raw;
  }
};

// Words moved by one reader or writer call, and the bursts they formed.
struct Moved {
  int64_t words;
  int64_t bursts;
};

// A running burst count: a word that does not follow the previous one starts a new burst.
struct BurstTracker {
  int64_t next;
  Moved moved;
  int64_t extra;  // cycles of the stage's other loops (a mixed layer's per-row requantization and scatter)
  BurstTracker() : next(-1), extra(0) {
    moved.words = 0;
    moved.bursts = 0;
  }
  void word(int64_t addr) {
#ifndef VAQF_SYNTH
    if (addr != next) ++moved.bursts;
    next = addr + 1;
    ++moved.words;
#else
    (void)addr;
#endif
  }
};

// dst[e] = code p0 + e of the tensor at word `base` (e < len); one pipelined pass over the words.
template <int PORT, int CAP, class T, int B, int S>
void read_codes(const ap_uint<PORT>* mem, int64_t base, int64_t p0, int len, T dst[CAP], BurstTracker& bt) {
  const int G = PORT / B;
  const int64_t w_first = p0 / G;
  const int n_words = int((p0 + len - 1) / G - w_first + 1);
  int e = int(w_first * G - p0);  // element index of the current word's slot 0 (<= 0 at first)
READ_WORDS:
  for (int k = 0; k < n_words; ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=CAP
    const ap_uint<PORT> word = mem[base + w_first + k];
    bt.word(base + w_first + k);
  READ_SLOTS:
    for (int s = 0; s < G; ++s) {
#pragma HLS unroll
      const int idx = e + s;
      if (idx >= 0 && idx < len) dst[idx] = T(Fmt<B, S>::template get<PORT>(word, s));
    }
    e += G;
  }
}

// The codes of an array (a writer's source; see RequantCodes in vaqf_engine.h for one that computes them).
struct ArrayCodes {
  const i64_t* src;
  explicit ArrayCodes(const i64_t* s) : src(s) {}
  i64_t operator()(int i) const {
#pragma HLS inline
    return src[i];
  }
};

// Codes p0 .. p0 + len - 1 of the tensor at word `base` = code(0 .. len). Only the first and the
// last word can be partly covered (a view that starts or ends mid-word); those are read first.
// G codes a cycle: `code` is evaluated in the unrolled slot loop, once per slot.
template <int PORT, int CAP, int B, int S, class CODES>
void write_codes(ap_uint<PORT>* mem, int64_t base, int64_t p0, int len, const CODES& code, BurstTracker& bt) {
  const int G = PORT / B;
  const int64_t w_first = p0 / G;
  const int n_words = int((p0 + len - 1) / G - w_first + 1);
  int e = int(w_first * G - p0);
WRITE_WORDS:
  for (int k = 0; k < n_words; ++k) {
#pragma HLS pipeline II=1
#pragma HLS loop_tripcount min=1 max=CAP
    const bool full = e >= 0 && e + G <= len;
    ap_uint<PORT> word = full ? ap_uint<PORT>(0) : mem[base + w_first + k];
  WRITE_SLOTS:
    for (int s = 0; s < G; ++s) {
#pragma HLS unroll
      const int idx = e + s;
      if (idx >= 0 && idx < len) Fmt<B, S>::template put<PORT>(word, s, code(idx));
    }
    mem[base + w_first + k] = word;
    bt.word(base + w_first + k);
    e += G;
  }
}

// The same for a tensor whose format is in its descriptor: one compile-time instance per format.
#define VAQF_READ_CASE(B, S) \
  case VAQF_FMT_ID(B, S):    \
    read_codes<PORT, CAP, T, B, S>(mem, t.base, p0, len, dst, bt); \
    break;

// dst[e] = element p0 + e of tensor t for e < len (the rest of dst[0..cap) is zero).
template <int PORT, int CAP, class T>
void read_segment(const ap_uint<PORT>* mem, const Tensor& t, int64_t p0, int len, T dst[CAP], BurstTracker& bt) {
CLEAR:
  for (int e = 0; e < CAP; ++e) {
#pragma HLS unroll
    dst[e] = 0;
  }
  if (len <= 0) return;
  switch (fmt_id(t.bits, t.sgn)) {
    VAQF_FORMATS(VAQF_READ_CASE)
    default:
      break;
  }
}

#define VAQF_WRITE_CASE(B, S) \
  case VAQF_FMT_ID(B, S):     \
    write_codes<PORT, CAP, B, S, CODES>(mem, t.base, p0, len, code, bt); \
    break;

// Element p0 + e of tensor t = code(e) for e < len.
template <int PORT, int CAP, class CODES>
void write_segment_of(ap_uint<PORT>* mem, const Tensor& t, int64_t p0, int len, const CODES& code, BurstTracker& bt) {
  if (len <= 0) return;
  switch (fmt_id(t.bits, t.sgn)) {
    VAQF_FORMATS(VAQF_WRITE_CASE)
    default:
      break;
  }
}

// Element p0 + e of tensor t = src[e] for e < len.
template <int PORT, int CAP>
void write_segment(ap_uint<PORT>* mem, const Tensor& t, int64_t p0, int len, const i64_t src[CAP], BurstTracker& bt) {
  write_segment_of<PORT, CAP, ArrayCodes>(mem, t, p0, len, ArrayCodes(src), bt);
}

#define VAQF_GET_CASE(B, S) \
  case VAQF_FMT_ID(B, S):   \
    return Fmt<B, S>::template get<PORT>(word, slot);
#define VAQF_PUT_CASE(B, S)                       \
  case VAQF_FMT_ID(B, S):                         \
    Fmt<B, S>::template put<PORT>(word, slot, code); \
    return;

// One code of tensor t's format (slot `slot` of `word`): for scattered single writes and tests.
template <int PORT>
inline i64_t unpack_code(const ap_uint<PORT>& word, int slot, const Tensor& t) {
  switch (fmt_id(t.bits, t.sgn)) {
    VAQF_FORMATS(VAQF_GET_CASE)
    default:
      return 0;
  }
}

template <int PORT>
inline void pack_code(ap_uint<PORT>& word, int slot, const Tensor& t, i64_t code) {
  switch (fmt_id(t.bits, t.sgn)) {
    VAQF_FORMATS(VAQF_PUT_CASE)
    default:
      return;
  }
}

// Element (h, n, c) of a view, counted in packed elements from its base word.
inline int64_t elem_at(const Tensor& t, int64_t h, int64_t n, int64_t c) {
  return t.elem0 + h * t.hs + n * t.rs + c;
}

inline int cdiv(int a, int b) { return (a + b - 1) / b; }

}  // namespace vaqf

#endif
