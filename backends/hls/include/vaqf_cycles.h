// vaqf: the C-simulation cycle counter.
//
// Every kernel call counts its cycles from its own structure while it runs: each stage
// (a reader, the MAC loop, a requantize-and-write loop, a row of an element-wise unit)
// adds up what its loops do — pipelined iterations x II plus the pipeline's depth, and
// for AXI traffic one latency per stage plus one cycle per word and per burst — and
// the stages combine the way the code runs them: the stages of one DATAFLOW step run
// at once (the step takes as long as its slowest stage), sequential code adds.
//
// The constants are vaqf's own estimates, not measurements of Vitis HLS output; they
// come from one Python description (backends/hls/timing.py) that the cost model uses
// too, written into vaqf_config.h. The fallbacks below serve headers compiled alone
// (test harnesses); a test checks they equal the Python defaults.
#ifndef VAQF_CYCLES_H
#define VAQF_CYCLES_H

#include <stdint.h>

#include "vaqf_types.h"

#ifndef VAQF_AXI_READ_LATENCY
#define VAQF_AXI_READ_LATENCY 64  // cycles from a read request to its first word
#endif
#ifndef VAQF_AXI_WRITE_LATENCY
#define VAQF_AXI_WRITE_LATENCY 32  // cycles from the last write beat to its response
#endif
#ifndef VAQF_BURST_GAP
#define VAQF_BURST_GAP 1  // address phase of each burst issued from a pipelined loop
#endif
#ifndef VAQF_MAC_DEPTH
#define VAQF_MAC_DEPTH 8  // pipeline depth of the MAC loop, before the adder tree's levels
#endif
#ifndef VAQF_REQUANT_DEPTH
#define VAQF_REQUANT_DEPTH 6  // multiply, add, round, clamp, pack
#endif
#ifndef VAQF_LN_FACTOR_DEPTH
#define VAQF_LN_FACTOR_DEPTH 160  // the per-row 1/sqrt of layer norm, unrolled and pipelined (II = 1 row)
#endif
#ifndef VAQF_DIV_DEPTH
#define VAQF_DIV_DEPTH 70  // softmax's per-row reciprocal, unrolled and pipelined
#endif
#ifndef VAQF_CALL_OVERHEAD
#define VAQF_CALL_OVERHEAD 40  // s_axilite start, descriptor read, done
#endif

namespace vaqf {
namespace timing {

const int64_t AXI_READ_LATENCY = VAQF_AXI_READ_LATENCY;
const int64_t AXI_WRITE_LATENCY = VAQF_AXI_WRITE_LATENCY;
const int64_t BURST_GAP = VAQF_BURST_GAP;
const int64_t MAC_DEPTH = VAQF_MAC_DEPTH;
const int64_t REQUANT_DEPTH = VAQF_REQUANT_DEPTH;
const int64_t LN_FACTOR_DEPTH = VAQF_LN_FACTOR_DEPTH;
const int64_t DIV_DEPTH = VAQF_DIV_DEPTH;
const int64_t CALL_OVERHEAD = VAQF_CALL_OVERHEAD;

// ceil(log2(n)): levels of an adder tree over n inputs.
inline int64_t clog2(int64_t n) {
  int64_t l = 0;
CLOG2:
  while ((int64_t(1) << l) < n) ++l;
  return l;
}

// Cycles of an AXI read stage that moved `m` (its bursts issued back to back).
inline int64_t read_cycles(int64_t words, int64_t bursts) {
  return words == 0 ? 0 : AXI_READ_LATENCY + words + bursts * BURST_GAP;
}
inline int64_t write_cycles(int64_t words, int64_t bursts) {
  return words == 0 ? 0 : AXI_WRITE_LATENCY + words + bursts * BURST_GAP;
}

}  // namespace timing

#ifndef VAQF_SYNTH
extern Trips g_trips;
#endif

}  // namespace vaqf

// VAQF_COUNT(field, expr): evaluates expr; C simulation also adds it to g_trips.field.
#ifndef VAQF_SYNTH
#define VAQF_COUNT(field, ...) (::vaqf::g_trips.field += (__VA_ARGS__))
#else
#define VAQF_COUNT(field, ...) ((void)(__VA_ARGS__))
#endif

#endif
