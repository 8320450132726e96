"""The kernel's timing constants: one description for the C-simulation cycle counter and the cost model.

The counter (`include/vaqf_cycles.h`) adds up what each stage of a kernel call does —
pipelined iterations, pipeline depths, AXI words, bursts and latencies — and combines
the stages the way the code runs them (DATAFLOW stages overlap, sequential code adds).
These few constants are the only numbers it does not count from the code itself. They
are vaqf's own estimates, not measurements of Vitis HLS output (no Xilinx tools here):

- AXI latencies: a read on the Zynq UltraScale+ HP ports to DDR4 takes on the order
  of 200-400 ns (about 30-60 cycles at 150 MHz); we charge 64 cycles once per read
  stage (its bursts are issued back to back, so later bursts' latency overlaps) and 32
  for a write stage's last response.
- BURST_GAP: one address-phase cycle per burst issued from a pipelined loop.
- Pipeline depths: the MAC loop's (operand fetch, multiply or add/sub, adder-tree levels
  counted separately as ceil(log2 TN), accumulate), requantization (multiply, add, round,
  clamp, pack), layer norm's per-row 1/sqrt (bit length, a 2K-step restoring division and
  a 31-step square root, unrolled and pipelined at one row per cycle) and softmax's
  per-row reciprocal (a 64-step restoring division, unrolled).
- CALL_OVERHEAD: the s_axilite start, descriptor read and done handshake of one call.

`emit_kernel` writes them into `vaqf_config.h`; the header's fallbacks (for code compiled
without a config) must equal the defaults here (a test checks it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class KernelTiming:
    axi_read_latency: int = 64
    axi_write_latency: int = 32
    burst_gap: int = 1
    mac_depth: int = 8
    requant_depth: int = 6
    ln_factor_depth: int = 160
    div_depth: int = 70
    call_overhead: int = 40

    def macros(self) -> dict[str, int]:
        """The C macros of vaqf_cycles.h and their values."""
        return {f"VAQF_{k.upper()}": v for k, v in asdict(self).items()}


TIMING = KernelTiming()
