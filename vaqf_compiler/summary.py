"""A short human-readable summary of a `vit` module."""

from __future__ import annotations

from collections import Counter

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp

from vaqf_compiler.params import referenced_params


def summarize(module: ModuleOp) -> str:
    ops = Counter(op.name for op in module.walk() if op.name.startswith("vit."))
    params = {p.key: p.numel for _, p in referenced_params(module)}
    fn = next((op for op in module.walk() if isinstance(op, func.FuncOp)), None)
    lines = []
    if fn is not None:
        ins = ", ".join(str(t) for t in fn.function_type.inputs.data)
        outs = ", ".join(str(t) for t in fn.function_type.outputs.data)
        lines.append(f"function @{fn.sym_name.data}: ({ins}) -> {outs}")
    lines.append(f"{sum(ops.values())} vit ops, {len(params)} parameters ({sum(params.values()):,} values)")
    width = max((len(n) for n in ops), default=0)
    for name, count in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {name:<{width}}  {count}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# `vaqf compile`: the final summary table and its JSON form
# ---------------------------------------------------------------------------


def layer_kind(layer) -> str:
    """A LayerCost's kind for the breakdown: the engine array it runs on, or the element-wise op."""
    if layer.array == "lut":
        return "fc, binary weights (LUT array)"
    if layer.array == "dsp+pot":
        return "fc, mixed weights (DSP + shift-add)"
    if layer.array == "dsp":
        return "attention (DSP array)" if layer.name.startswith("attention") else "fc, 16-bit (DSP array)"
    return layer.name.split()[0]


def layer_times(compiled) -> list[tuple[str, int, float]]:
    """(layer, occurrences, ms per frame for all occurrences), slowest first (cost model)."""
    e = compiled.estimate
    rows = [(lay.name, lay.count, lay.count * lay.cycles / (e.clock_mhz * 1e3)) for lay in e.layers]
    return sorted(rows, key=lambda r: -r[2])


def kind_times(compiled) -> list[tuple[str, float]]:
    e = compiled.estimate
    kinds: Counter = Counter()
    for lay in e.layers:
        kinds[layer_kind(lay)] += lay.count * lay.cycles / (e.clock_mhz * 1e3)
    return sorted(kinds.items(), key=lambda kv: -kv[1])


def resource_rows(compiled) -> list[tuple[str, float, float]]:
    e, b = compiled.estimate, compiled.board
    return [("DSP", e.dsp, b.dsp), ("LUT", e.lut, b.lut), ("BRAM36", e.bram36, b.bram36)]


def design_line(compiled) -> str:
    from vaqf_compiler.cost.model import packing

    d = compiled.estimate.design
    if compiled.scheme == "mixed":
        return (f"DSP array {d.tm}x{d.tn} (16-bit layers, fixed-point rows), shift-add array {d.pot_tm}x{d.tn} "
                f"(power-of-two rows), {d.nh} head(s) in parallel, {d.ports} AXI port(s) per stream")
    wider = f" ({d.bits}-bit datapath)" if d.bits != compiled.bits else ""
    return (f"16-bit array {d.tm}x{d.tn} (DSP), binary array {d.tm_q}x{d.tn_q} (LUT){wider}, "
            f"{d.nh} head(s) in parallel, G={packing(d.bits)} values/word, {d.ports} AXI port(s) per stream")


def placement_line(compiled) -> str:
    """Where the movable ops run in the chosen design, and why."""
    from vaqf_compiler.cost.host import MOVABLE

    on = compiled.estimate.on_accel
    host = [k for k in MOVABLE if k not in on]
    parts = ([", ".join(on) + " on the FPGA"] if on else []) + ([", ".join(host) + " on the host"] if host else [])
    return "; ".join(parts) + " (the shortest frame end to end)"


def compile_summary(compiled, top: int = 5) -> str:
    """The table `vaqf compile` prints at the end (numbers from the cost model unless said otherwise)."""
    r, e = compiled.request, compiled.estimate
    total_ms = e.latency_ms
    lines = [
        f"vaqf compile: {compiled.model_name} on {compiled.board.name} for {r.target_fps:g} FPS -> {r.project}",
        f"  precision   {compiled.precision}  ({compiled.note})",
        f"  tiling      {design_line(compiled)}",
        f"  calibrated  {compiled.calibration}",
        f"  predicted   {e.fps_end_to_end:.1f} FPS end to end, {e.frame_ms:.2f} ms per frame: FPGA {total_ms:.2f} ms "
        f"({e.fps:.1f} FPS alone at {e.clock_mhz:g} MHz), host ops {e.host_ms:.2f} ms, synchronisation "
        f"{e.sync_ms:.2f} ms (cost model, docs/cost-model.md)",
        f"  placement   {placement_line(compiled)}",
        "",
        f"  {'resource':<10}{'used':>10}{'board':>10}{'share':>8}",
    ]
    for name, used, avail in resource_rows(compiled):
        lines.append(f"  {name:<10}{used:>10,.0f}{avail:>10,}{100 * used / avail:>7.0f}%")
    lines += ["", f"  {'time per frame by kind':<36}{'ms':>8}{'share':>8}"]
    for kind, ms in kind_times(compiled):
        lines.append(f"  {kind:<36}{ms:>8.3f}{100 * ms / total_ms:>7.1f}%")
    lines += ["", f"  {'top layers (x occurrences)':<52}{'ms':>8}{'share':>8}"]
    for name, count, ms in layer_times(compiled)[:top]:
        lines.append(f"  {name + f' x{count}':<52}{ms:>8.3f}{100 * ms / total_ms:>7.1f}%")
    cpu = compiled.board.cpu
    if e.host_ops_ms and cpu is not None:
        host = ", ".join(f"{k} {ms:.2f} ms" for k, ms in e.host_ops_ms)
        lines += ["", f"  host ops    {host} per frame",
                  f"              (modelled on the board's {cpu.name} at {cpu.clock_mhz:g} MHz; "
                  f"{e.kernel_calls} kernel calls)"]
    if compiled.host_ops:
        ops = sorted(compiled.host_ops.items(), key=lambda kv: -kv[1])
        host = ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in ops[:4]) + (", ..." if len(ops) > 4 else "")
        lines += [f"  measured    {host} per image",
                  "              (the numpy integer interpreter on this machine, not the board)"]
    lines += ["", "  stages      " + ", ".join(f"{s.name} {s.seconds:.2f} s" for s in compiled.stages)]
    if compiled.csim is not None:
        c = compiled.csim
        verdict = "PASS, bit-identical to the integer reference" if c.passed else "FAIL: differs from the integer reference"
        lines.append(f"  csim        {verdict}: {c.images} image(s), top-1 {c.top1[:8]}")
        if c.counted_fps_fpga:
            model = (f"; the cost model's {c.model_cycles:,} cycles give {e.clock_mhz * 1e6 / c.model_cycles:.1f} FPS"
                     if c.model_cycles else "")
            lines.append(f"  counted     {c.counted_cycles:,} cycles per frame in C simulation: "
                         f"{c.counted_fps_fpga:.1f} FPS on the FPGA alone{model} (vaqf csim DIR --json: per call)")
    if compiled.dumps:
        lines.append(f"  IR dumps    {len(compiled.dumps)} files in {compiled.dumps[0].parent}")
    lines.append(f"  report      {r.project / 'report.html'} (and report.md)")
    return "\n".join(lines)


def end_to_end_fields(e) -> dict:
    """The end-to-end figures of one estimate (`vaqf compile --json` and `vaqf dse --json`, per precision)."""
    if e is None:
        return {}
    return {"fps_fpga": e.fps, "host_ms_per_frame": e.host_ms, "sync_ms_per_frame": e.sync_ms,
            "fps_end_to_end": e.fps_end_to_end, "on_accel": list(e.on_accel)}


def compile_json(compiled) -> dict:
    """The same content for scripts (`vaqf compile --json`)."""
    e, r = compiled.estimate, compiled.request
    return {
        "model": compiled.model_name,
        "board": compiled.board.name,
        "target_fps": r.target_fps,
        "project": str(r.project),
        "scheme": compiled.scheme,
        "wbits": compiled.wbits,
        "bits": compiled.bits,
        "pot_ratio": e.design.pot_ratio if compiled.scheme == "mixed" else None,
        "choice": compiled.note,
        "calibration": compiled.calibration,
        "fps": e.fps,  # the FPGA alone (as `accel.fps` on the IR); fps_end_to_end is what the search met
        "fps_fpga": e.fps,
        "host_ms_per_frame": e.host_ms,
        "sync_ms_per_frame": e.sync_ms,
        "fps_end_to_end": e.fps_end_to_end,
        "frame_ms": e.frame_ms,
        "host_ops_ms_modelled": dict(e.host_ops_ms),
        "on_accel": list(e.on_accel),
        "kernel_calls": e.kernel_calls,
        "cpu": None if compiled.board.cpu is None else {
            "name": compiled.board.cpu.name, "clock_mhz": compiled.board.cpu.clock_mhz},
        "latency_ms": e.latency_ms,
        "clock_mhz": e.clock_mhz,
        "design": e.design.as_dict(),
        "resources": {n.lower(): {"used": u, "board": a, "share": u / a} for n, u, a in resource_rows(compiled)},
        "kinds": [{"kind": k, "ms": ms} for k, ms in kind_times(compiled)],
        "layers": [{"layer": n, "count": c, "ms": ms} for n, c, ms in layer_times(compiled)],
        "host_ops_ms_measured": {k: 1e3 * v for k, v in compiled.host_ops.items()},
        "precisions": [
            {"bits": p.bits, "feasible": p.feasible, "fps": p.fps, **end_to_end_fields(p.estimate),
             **({"dsp": p.estimate.dsp, "lut": p.estimate.lut, "bram36": p.estimate.bram36} if p.estimate else {})}
            for p in compiled.table
        ],
        "stages": [{"name": s.name, "seconds": s.seconds, "note": s.note} for s in compiled.stages],
        "csim": None if compiled.csim is None else {
            "passed": compiled.csim.passed, "images": compiled.csim.images, "top1": compiled.csim.top1,
            "build_seconds": compiled.csim.build_seconds, "run_seconds": compiled.csim.run_seconds,
            "counted_cycles_per_frame": compiled.csim.counted_cycles,
            "model_cycles_per_frame": compiled.csim.model_cycles,
            "counted_fps_fpga": compiled.csim.counted_fps_fpga},
        "ir_dumps": [str(p) for p in compiled.dumps],
        "report": str(r.project / "report.html"),
    }
