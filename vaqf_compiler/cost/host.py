"""Host time and host-FPGA synchronisation per frame (docs/cost-model.md, "Host and synchronisation").

The FPGA model (`model.py`) counts the accelerator's cycles; a frame also
waits for the ops placed on the board's CPU and for the host-FPGA hand-overs,
because the emitted host runs the model in program order, one op at a time.

* **Host ops.** Each kind costs a number of instructions per element, counted
  in the emitted host code (`backends/hls/include/vaqf_host.h`, g++ -O2,
  x86-64) with valgrind by `bench/bench_host.py --instructions` at DeiT-base
  shapes, W1A8 (`INSTRUCTIONS_PER_ELEMENT`). A board's CPU (`[cpu]` in its
  TOML) turns them into time with its clock and the instructions per cycle
  it sustains on this code (`ipc`, an assumption stated in the board file;
  the AArch64 instruction count is taken equal to the x86-64 one).
* **Synchronisation.** Every kernel call costs `call_us` (descriptor writes,
  start, completion); every cache-maintenance request the host makes costs
  `sync_us` plus its bytes at `sync_gbps` (u-dma-buf clean/invalidate on a
  Zynq, a `bo.sync` DMA over PCIe on an Alveo). The host syncs each host op's
  inputs to the CPU and its output to the device (emit_host.py), so the
  model charges exactly those buffers, and the image and the logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from vaqf_compiler.cost.workload import StreamLayer, Workload, bits_of
from vaqf_compiler.errors import VaqfError

# Kinds the partition may place on either side (partition-host-accel's options).
MOVABLE = ("scale", "softmax", "gelu")
IMAGE_OP = "quantize_image"  # the float image to codes, every frame, on the host
FUSED_IMAGE_OP = "image_to_patches"  # the same straight into patch order when a patchify reads the image

# x86-64 instructions per element of each host op in vaqf_host.h (g++ -O2), measured with
# `bench/bench_host.py --models deit-base --instructions` (DeiT-base shapes, W1A8, after issue 15).
# select_token is a view (nothing moves). Widths that do not divide 64 (e.g. 6-bit codes) take the
# word-by-word path, about twice these counts (docs/cost-model.md).
INSTRUCTIONS_PER_ELEMENT: dict[str, float] = {
    "scale": 53.2,
    "softmax": 84.5,
    "gelu": 38.0,
    "patchify": 31.2,
    "cls_concat": 52.7,
    "pos_embed_add": 69.5,
    IMAGE_OP: 38.5,
    # The host quantizes the image straight into patches (host::quantize_patches) when the patchify
    # is its only reader, as in every ViT vaqf imports: then the patchify costs nothing of its own.
    FUSED_IMAGE_OP: 37.2,
    # Not host-placed by any partition vaqf emits; measured alone with host_bench.cpp ([197][768],
    # 16-bit inputs, 8-bit output) for user partitions that put them there.
    "layer_norm": 58.7,
    "add": 55.2,
    "select_token": 0.0,
    # Issue 17's pooled head, per *input* element (StreamLayer.elements counts the pooled tokens): measured with
    # host_bench.cpp's mean_pool at [197][768], 16-bit codes (the column-wise per-element path).
    "mean_pool": 30.3,
}


@dataclass(frozen=True)
class HostCpu:
    """The board's host processor and its link to the FPGA (`[cpu]` in the board TOML)."""

    name: str  # e.g. "Cortex-A53"
    clock_mhz: float
    ipc: float  # instructions per cycle sustained on the host ops (assumption; see the board file)
    call_us: float  # per kernel call: descriptor registers, start, completion
    sync_us: float  # per cache-maintenance / transfer request
    sync_gbps: float  # bytes per nanosecond of cache maintenance (Zynq) or DMA (PCIe)

    def ms(self, instructions: float) -> float:
        return instructions / (self.ipc * self.clock_mhz * 1e3)


CPU_KEYS = {"name", "clock_mhz", "ipc", "call_us", "sync_us", "sync_gbps"}


def parse_host_cpu(table: Any, where: str) -> HostCpu:
    """The `[cpu]` table of a board file; every problem is a one-line `VaqfError`."""
    if not isinstance(table, dict):
        raise VaqfError(f"{where}: [cpu] must be a table")
    extra = sorted(set(table) - CPU_KEYS)
    if extra:
        raise VaqfError(f"{where} [cpu]: unknown key(s) {', '.join(map(repr, extra))}; "
                        f"expected {', '.join(sorted(CPU_KEYS))}")
    missing = sorted(CPU_KEYS - set(table))
    if missing:
        raise VaqfError(f"{where} [cpu]: missing {', '.join(map(repr, missing))}")
    if not isinstance(table["name"], str) or not table["name"].strip():
        raise VaqfError(f"{where} [cpu]: 'name' must be a non-empty string")
    values = {}
    for key in sorted(CPU_KEYS - {"name"}):
        v = table[key]
        positive = key in ("clock_mhz", "ipc", "sync_gbps")
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0 or (
                positive and v == 0):
            kind = "a positive number" if positive else "a number >= 0"
            raise VaqfError(f"{where} [cpu]: '{key}' must be {kind}, got {v!r}")
        values[key] = float(v)
    return HostCpu(name=table["name"].strip(), **values)


@dataclass(frozen=True)
class HostTime:
    """Modelled host and synchronisation time of one frame."""

    ops_ms: dict[str, float] = field(default_factory=dict)  # per host op kind (and the image), all occurrences
    host_ms: float = 0.0
    sync_ms: float = 0.0
    kernel_calls: int = 0
    sync_requests: int = 0
    sync_bytes: int = 0


def _bytes(elements: int, bits: int, port_bits: int) -> int:
    per_word = port_bits // bits
    return -(-elements // per_word) * (port_bits // 8)


def _layer_bytes(layer: StreamLayer, k: int, port_bits: int) -> tuple[int, int]:
    """(bytes read, bytes written) of a host op: its inputs to the CPU, its result to the device."""
    read = sum(_bytes(layer.elements, bits_of(f, k), port_bits) for f in layer.inputs)
    return read, _bytes(layer.elements, bits_of(layer.y, k), port_bits)


def host_time(workload: Workload, k: int, cpu: HostCpu | None, port_bits: int = 64) -> HostTime:
    """Host and synchronisation time per frame of `workload` at `k`-bit activations (zero without a CPU)."""
    if cpu is None:
        return HostTime()
    ops: dict[str, float] = {}
    requests, moved = 0, 0
    fused = any(layer.kind == "patchify" for layer, _ in workload.host)  # emit_host.fused_patchify
    for layer, n in workload.host:
        if layer.kind == "select_token" or (fused and layer.kind == "patchify"):
            continue  # a view of the FPGA's buffer (the logits are synced below); the patchify is the image's
        per = INSTRUCTIONS_PER_ELEMENT.get(layer.kind)
        if per is None:
            raise VaqfError(f"the host cost model does not know '{layer.kind}'")
        ops[layer.kind] = ops.get(layer.kind, 0.0) + n * cpu.ms(per * layer.elements)
        read, written = _layer_bytes(layer, k, port_bits)
        requests += n * (len(layer.inputs) + 1)
        moved += n * (read + written)
    if workload.image_elements:
        image_op = FUSED_IMAGE_OP if fused else IMAGE_OP
        ops[image_op] = cpu.ms(INSTRUCTIONS_PER_ELEMENT[image_op] * workload.image_elements)
        requests += 2  # the image (or its patches) to the device, the logits (a few words) to the CPU
        moved += _bytes(workload.image_elements, 16, port_bits)
    calls = workload.kernel_calls
    sync_ms = (calls * cpu.call_us + requests * cpu.sync_us) / 1e3 + moved / (cpu.sync_gbps * 1e6)
    return HostTime(ops, sum(ops.values()), sync_ms, calls, requests, moved)
