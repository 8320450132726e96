"""report.html (tables and inline-SVG charts) and report.md (tables, charts as SVG files) of a compiled project.

Every number comes from the driver's `Compiled`: the cost model's predictions
(docs/cost-model.md) for frame rate, resources and layer times, the stage
timings measured while compiling, the modelled host time on the board's CPU,
and — labelled as such — host-op times measured with the integer interpreter
on the compiling machine.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from vaqf_compiler.dse.search import Options
from vaqf_compiler.fsutil import write_text_atomically
from vaqf_compiler.report.svg import PALETTE, Series, bar_chart, line_chart
from vaqf_compiler.summary import design_line, kind_times, layer_times, resource_rows

TOP_LAYERS = 8


def charts(compiled) -> dict[str, tuple[str, str]]:
    """name -> (caption, svg text)."""
    c, e, b = compiled, compiled.estimate, compiled.board
    o = Options()  # the ceilings the driver searches with
    bits = [p.bits for p in c.table]
    fps = [p.fps if p.feasible else None for p in c.table]
    e2e = [p.fps_end_to_end if p.feasible else None for p in c.table]
    target = c.request.target_fps
    scheme = f"W{c.wbits}Ak{', mixed' if c.scheme == 'mixed' else ''}"
    out = {
        "fps": (
            "Predicted frame rate of the fastest design at each activation precision (cost model): end to end "
            "(FPGA, host ops on the board's CPU, synchronisation) and the FPGA alone; the dashed line is the "
            "target, the ring the chosen precision (the highest that meets it end to end).",
            line_chart(f"{c.model_name} on {b.name}: FPS vs activation precision",
                       [Series(f"end to end ({scheme})", bits, e2e, PALETTE[0]),
                        Series("FPGA alone", bits, fps, PALETTE[1])], "activation bits k",
                       "frames per second", hline=(target, f"target {target:g} FPS"),
                       mark=(c.bits, e.fps_end_to_end, f"W{c.wbits}A{c.bits}: {e.fps_end_to_end:.1f} FPS")),
        ),
    }
    res = []
    for name, attr, total, color in (("DSP", "dsp", b.dsp, PALETTE[0]), ("LUT", "lut", b.lut, PALETTE[1]),
                                     ("BRAM36", "bram36", b.bram36, PALETTE[2])):
        ys = [100 * getattr(p.estimate, attr) / total if p.estimate else None for p in c.table]
        res.append(Series(f"{name} % of {total:,}", bits, ys, color))
    out["resources"] = (
        "Resources of the fastest design at each precision, as a share of the board (cost model). The search "
        f"keeps DSP, LUT and BRAM under {100 * o.dsp_ceiling:g}%, {100 * o.lut_ceiling:g}% and "
        f"{100 * o.bram_ceiling:g}% of the board.",
        line_chart(f"{b.name}: resource use vs activation precision", res, "activation bits k", "% of the board",
                   y_max=100, mark=(c.bits, 100 * e.lut / b.lut, f"chosen W{c.wbits}A{c.bits}")),
    )
    out["kinds"] = (
        f"Where one frame's {e.latency_ms:.2f} ms go on the FPGA, by kind of layer (cost model).",
        bar_chart("FPGA time per frame by kind (ms)", kind_times(c), "ms"),
    )
    top = [(f"{name} x{count}", ms) for name, count, ms in layer_times(c)[:TOP_LAYERS]]
    out["layers"] = (
        f"The {len(top)} most expensive layers (all occurrences of each shape; cost model).",
        bar_chart(f"Top {len(top)} layers by FPGA time per frame (ms)", top, "ms", label_width=300),
    )
    cpu = c.board.cpu
    where = f"the board's {cpu.name} at {cpu.clock_mhz:g} MHz" if cpu else "no CPU in the board file: zero"
    host = [("FPGA: all engine + stream layers (cost model)", e.latency_ms)]
    host += [(f"host: {k} (modelled, board CPU)", ms) for k, ms in e.host_ops_ms]
    host += [("host-FPGA synchronisation (modelled)", e.sync_ms)]
    measured = [(f"host: {k} (measured here)", 1e3 * v) for k, v in sorted(c.host_ops.items(), key=lambda kv: -kv[1])]
    out["host"] = (
        f"Time per frame end to end (cost model): the FPGA, each host-placed op on {where}, and the "
        "host-FPGA synchronisation (docs/cost-model.md, \"Host and synchronisation\"). The "
        "host ops as measured with the numpy integer interpreter on the compiling machine are a separate chart.",
        bar_chart("Host vs accelerator time per frame on the board (ms)", host, "ms",
                  colors=[PALETTE[0]] + [PALETTE[1]] * (len(host) - 1), label_width=300),
    )
    if measured:
        out["host-measured"] = (
            "Host-placed ops measured per image with the numpy integer interpreter on the compiling machine "
            "(a separate figure: not the board's CPU, not the emitted C++).",
            bar_chart("Host ops measured on the compiling machine (ms)", measured, "ms",
                      colors=["#999999"] * len(measured), label_width=300),
        )
    return out


def _rows_html(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    thead = f"<thead><tr>{th}</tr></thead>" if any(head) else ""
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _rows_md(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def tables(compiled) -> dict[str, tuple[list[str], list[list[str]]]]:
    c, e = compiled, compiled.estimate
    total = e.latency_ms
    t = {
        "overview": (["", ""], [
            ["model", c.model_name],
            ["board", f"{c.board.name} ({c.board.description or c.board.part})"],
            ["target", f"{c.request.target_fps:g} FPS"],
            ["precision", f"{c.precision} ({c.note})"],
            ["tiling", design_line(c)],
            ["predicted", f"{e.fps_end_to_end:.1f} FPS end to end ({e.frame_ms:.2f} ms per frame: FPGA "
                          f"{total:.2f} ms at {e.clock_mhz:g} MHz, {e.fps:.1f} FPS alone; host ops {e.host_ms:.2f} ms; "
                          f"synchronisation {e.sync_ms:.2f} ms; cost model)"],
        ]),
        "resources": (["resource", "used", "board", "share"],
                      [[n, f"{u:,.0f}", f"{a:,}", f"{100 * u / a:.0f}%"] for n, u, a in resource_rows(c)]),
        "precisions": (["bits", "FPS end to end", "FPS FPGA", "DSP", "LUT", "BRAM36", "meets target"], [
            [str(p.bits), f"{p.fps_end_to_end:.1f}", f"{p.fps:.1f}", str(p.estimate.dsp), f"{p.estimate.lut:,}",
             f"{p.estimate.bram36:g}",
             ("yes" if p.fps_end_to_end >= c.request.target_fps else "no") + (" (chosen)" if p.bits == c.bits else "")]
            if p.estimate else [str(p.bits), "-", "-", "-", "-", "-", "nothing fits"] for p in c.table]),
        "kinds": (["kind", "ms per frame", "share"],
                  [[k, f"{ms:.3f}", f"{100 * ms / total:.1f}%"] for k, ms in kind_times(c)]),
        "layers": (["layer", "occurrences", "ms per frame", "share"],
                   [[n, str(k), f"{ms:.3f}", f"{100 * ms / total:.1f}%"] for n, k, ms in layer_times(c)]),
        "stages": (["stage", "seconds", "note"], [[s.name, f"{s.seconds:.2f}", s.note] for s in c.stages]),
    }
    if c.csim is not None:
        s = c.csim
        t["csim"] = (["C simulation", ""], [
            ["result", "PASS: bit-identical to the integer reference" if s.passed else "FAIL: codes differ"],
            ["images", str(s.images)], ["top-1", ", ".join(map(str, s.top1))],
            ["g++ build", f"{s.build_seconds:.1f} s"],
            ["per image", ", ".join(f"{x:.1f} s" for x in s.run_seconds)],
        ])
    return t


CSS = """body{font-family:Helvetica,Arial,sans-serif;max-width:1180px;margin:24px auto;color:#222}
table{border-collapse:collapse;margin:8px 0 18px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f2f2f2}.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0;width:560px}
figcaption{font-size:12px;color:#555}"""


def html_report(compiled) -> str:
    t = tables(compiled)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>vaqf report: {escape(compiled.model_name)} on {escape(compiled.board.name)}</title>",
             f"<style>{CSS}</style></head><body>",
             f"<h1>{escape(compiled.model_name)} on {escape(compiled.board.name)}</h1>",
             _rows_html(*t["overview"]), "<h2>Resources (cost model)</h2>", _rows_html(*t["resources"]),
             '<h2>Charts</h2><div class="charts">']
    for name, (caption, svg) in charts(compiled).items():
        parts.append(f'<figure id="chart-{name}">{svg}<figcaption>{escape(caption)}</figcaption></figure>')
    parts.append("</div>")
    for key, title in (("precisions", "Every precision (cost model)"), ("kinds", "Time per frame by kind"),
                       ("layers", "Time per frame by layer"), ("csim", "C simulation"),
                       ("stages", "Compile stages (measured)")):
        if key in t:
            parts += [f"<h2>{title}</h2>", _rows_html(*t[key])]
    parts.append("<p>Predictions come from vaqf's own cost model (docs/cost-model.md), not from synthesis.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def markdown_report(compiled, chart_files: dict[str, str]) -> str:
    t = tables(compiled)
    caps = charts(compiled)
    lines = [f"# {compiled.model_name} on {compiled.board.name}", "", _rows_md(*t["overview"]), "",
             "## Resources (cost model)", "", _rows_md(*t["resources"]), ""]
    for name, path in chart_files.items():
        lines += [f"![{name}]({path})", "", f"*{caps[name][0]}*", ""]
    for key, title in (("precisions", "Every precision (cost model)"), ("kinds", "Time per frame by kind"),
                       ("layers", "Time per frame by layer"), ("csim", "C simulation"),
                       ("stages", "Compile stages (measured)")):
        if key in t:
            lines += [f"## {title}", "", _rows_md(*t[key]), ""]
    lines.append("Predictions come from vaqf's own cost model (docs/cost-model.md), not from synthesis.")
    return "\n".join(lines) + "\n"


def write_report(compiled, project: Path) -> Path:
    """Write PROJECT/report.html, PROJECT/report.md and the charts as PROJECT/report/*.svg; returns the HTML path."""
    (project / "report").mkdir(parents=True, exist_ok=True)
    files = {}
    for name, (_, svg) in charts(compiled).items():
        files[name] = f"report/{name}.svg"
        write_text_atomically(project / files[name], svg + "\n")
    write_text_atomically(project / "report.md", markdown_report(compiled, files))
    html = project / "report.html"
    write_text_atomically(html, html_report(compiled))
    return html
