"""`vaqf compile`: stage progress, summary, IR dumps, the report, HuggingFace directories, one-line errors.

A one-block DeiT keeps these fast; nothing here runs g++ (the C-simulated flow
is in test_import_cmd.py).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
import torch

from vaqf_compiler.cli.main import main
from vaqf_compiler.cost.boards import load_board
from vaqf_compiler.cost.workload import extract_workload
from vaqf_compiler.driver import DUMP_POINTS
from vaqf_compiler.dse.search import Options, Searcher
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.ir import parse_ir
from vaqf_compiler.report.svg import nice_ticks

TARGET = "1000"


@pytest.fixture(scope="module")
def small_pt2(tmp_path_factory):
    from vaqf_compiler.models.deit import DeiT, DeiTConfig, randomize_parameters

    cfg = DeiTConfig(image_size=(32, 32), patch_size=8, dim=32, depth=1, heads=2, num_classes=10)
    model = randomize_parameters(DeiT(cfg), 1).eval()
    path = tmp_path_factory.mktemp("model") / "small.pt2"
    torch.export.save(export_module(model, (3, 32, 32)), str(path))
    return path


@pytest.fixture(scope="module")
def compiled(small_pt2, tmp_path_factory):
    """One compile with every dump, the JSON summary and its stderr; shared by the tests below."""
    root = tmp_path_factory.mktemp("compile")
    prj, dumps = root / "prj", root / "dumps"
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(prj), "--dump-ir-dir",
                       str(dumps), "--json", "--images", "2"])
    assert status == 0, err.getvalue()
    return prj, dumps, json.loads(out.getvalue()), err.getvalue()


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1
    assert "Traceback" not in "\n".join(err)
    return err[-1]


def test_progress_names_every_stage_with_a_time(compiled):
    _, _, _, err = compiled
    stages = ["import", "search", "quantize", "passes", "reference", "emit", "report"]
    for i, name in enumerate(stages, 1):
        assert f"[{i}/7] {name}:" in err
        assert re.search(rf"{name} done in \d+\.\d\d s", err), name
    assert "2/2 reference images" in err  # the progress bar of the test bench


def test_json_summary_is_the_cost_model_s_choice(compiled, small_pt2):
    prj, _, summary, _ = compiled
    assert [s["name"] for s in summary["stages"]] == ["import", "search", "quantize", "passes", "reference", "emit",
                                                 "report"]
    # The same search, run here on the emitted IR, gives the chosen design's numbers.
    module = parse_ir((prj / "ir" / "accel.mlir").read_text())
    searcher = Searcher(extract_workload(module), load_board("zcu102"), Options(end_to_end=True))
    best = searcher.best(summary["bits"])
    assert summary["fps"] == pytest.approx(best.fps) == pytest.approx(summary["fps_fpga"])
    assert summary["fps_end_to_end"] == pytest.approx(best.fps_end_to_end) and best.fps_end_to_end >= float(TARGET)
    assert 1e3 / summary["fps_end_to_end"] == pytest.approx(
        1e3 / summary["fps_fpga"] + summary["host_ms_per_frame"] + summary["sync_ms_per_frame"])
    # The emitted IR is partitioned as the search placed the movable ops.
    assert summary["on_accel"] == list(best.estimate.on_accel)
    assert summary["host_ops_ms_modelled"] and summary["cpu"]["name"] == "Cortex-A53"
    assert summary["resources"]["dsp"]["used"] == best.estimate.dsp
    assert summary["resources"]["lut"]["share"] == pytest.approx(best.estimate.lut / 274080)
    # The highest precision that meets the target end to end: the next one up does not (or is past 16 bits).
    assert summary["bits"] == 16 or searcher.best(summary["bits"] + 1).fps_end_to_end < float(TARGET)
    # The prediction assign-tiling wrote on the emitted IR (4 significant digits) is the summary's.
    fps_attr = float(re.search(r"accel.fps = ([\d.e+]+)", (prj / "ir" / "accel.mlir").read_text()).group(1))
    assert fps_attr == pytest.approx(summary["fps"], rel=1e-3)
    # The per-kind breakdown adds up to the frame's latency.
    assert sum(k["ms"] for k in summary["kinds"]) == pytest.approx(summary["latency_ms"])
    assert {p["bits"] for p in summary["precisions"]} == set(range(1, 17))


def test_text_summary_has_the_table(small_pt2, tmp_path, capsys):
    prj = tmp_path / "prj"
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(prj), "--quiet"]) == 0
    captured = capsys.readouterr()
    # --quiet: no progress; the warning about random calibration images stays
    assert [ln for ln in captured.err.splitlines() if not ln.startswith("vaqf compile: warning:")] == []
    out = captured.out
    for text in ("precision   W1A", "tiling      16-bit array", "predicted", "DSP", "LUT", "BRAM36",
                 "time per frame by kind", "top layers", "stages      import", f"report      {prj / 'report.html'}"):
        assert text in out, text
    assert re.search(r"DSP\s+[\d,]+\s+2,520\s+\d+%", out)


def test_dump_ir_dir_writes_one_numbered_file_per_stage(compiled):
    _, dumps, summary, _ = compiled
    names = sorted(p.name for p in dumps.iterdir())
    stages = [(i, name) for i, name in enumerate(DUMP_POINTS, 1) if name != "assign-pot-rows"]  # mixed only
    assert names == [f"{i:02d}-{name}.mlir" for i, name in stages]
    texts = {name: (dumps / f"{i:02d}-{name}.mlir").read_text() for i, name in stages}
    assert "vit.patch_embed" in texts["import"] and "vit.patch_embed" not in texts["fold-patch-embed"]
    assert "#vit.quant" not in texts["fold-patch-embed"] and "#vit.quant" in texts["mark-quantization"]
    assert "accel.engine" not in texts["partition-host-accel"] and "accel.engine" in texts["lower-to-accel"]
    assert "tiling #accel.tiling" in texts["assign-tiling"] and "tiling" not in texts["lower-to-accel"]
    for text in texts.values():
        parse_ir(text)  # each dump is valid IR
    assert len(summary["ir_dumps"]) == len(stages)


def test_dump_ir_after_one_stage_goes_to_stderr(small_pt2, tmp_path, capsys):
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(tmp_path / "p"),
                 "--dump-ir-after", "assign-tiling", "--quiet"]) == 0
    err = capsys.readouterr().err  # --quiet silences the progress, not the dump asked for (nor warnings)
    err = "".join(ln for ln in err.splitlines(keepends=True) if not ln.startswith("vaqf compile: warning:"))
    assert err.startswith("// -----// IR Dump After") and err.count("// -----// IR Dump After") == 1
    assert "// -----// IR Dump After assign-tiling //----- //" in err and "#accel.tiling" in err


def test_dump_ir_after_an_unknown_stage_lists_the_stages(small_pt2, tmp_path, capsys):
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(tmp_path / "p"),
                 "--dump-ir-after", "lower"]) == 1
    msg = one_line_error(capsys)
    assert "unknown stage 'lower'" in msg and "assign-tiling" in msg


class _Html(HTMLParser):
    """Well-formedness check: every opened element is closed in order (void elements aside)."""

    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)
        self.ids += [v for k, v in attrs if k == "id"]

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_report_html_is_well_formed_with_svg_charts_from_the_cost_model(compiled):
    prj, _, summary, _ = compiled
    html = (prj / "report.html").read_text()
    parser = _Html()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    assert {"chart-fps", "chart-resources", "chart-kinds", "chart-layers", "chart-host",
            "chart-host-measured"} <= set(parser.ids)
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == 6
    # The host chart shows the modelled board-CPU time; the interpreter's timings are a separate chart.
    host_svg = next(s for s in svgs if "Host vs accelerator time per frame on the board" in s)
    assert "(modelled, board CPU)" in host_svg and "synchronisation (modelled)" in host_svg
    assert "(measured here)" not in host_svg
    for svg in svgs:
        ET.fromstring(svg)  # each chart is well-formed XML
    text = " ".join(parser.text)
    assert f"{summary['fps']:.1f} FPS" in text
    assert f"{summary['resources']['dsp']['used']:,}" in text
    assert f"target {float(TARGET):g} FPS" in html  # the target line of the FPS chart
    # The FPS chart has one point per feasible precision on each line (end to end, FPGA alone) and the
    # ring of the chosen one.
    fps_svg = next(s for s in svgs if "FPS vs activation precision" in s)
    feasible = sum(p["feasible"] for p in summary["precisions"])
    assert fps_svg.count('r="3"') == 2 * feasible and fps_svg.count('r="7"') == 1
    md = (prj / "report.md").read_text()
    assert f"W1A{summary['bits']}" in md and "![fps](report/fps.svg)" in md
    for name in ("fps", "resources", "kinds", "layers", "host"):
        ET.parse(prj / "report" / f"{name}.svg")


def test_nice_ticks_cover_the_range():
    for lo, hi in ((0, 1), (0, 173.4), (3, 48701), (0, 100)):
        t = nice_ticks(lo, hi)
        assert t[0] <= lo and t[-1] >= hi and len(t) <= 12


def test_a_huggingface_directory_compiles(tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.DeiTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=64, num_labels=10)
    torch.manual_seed(0)
    transformers.DeiTForImageClassification(cfg).save_pretrained(tmp_path / "hf")
    prj = tmp_path / "prj"
    assert main(["compile", str(tmp_path / "hf"), "--target-fps", TARGET, "-o", str(prj), "--json", "-q"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "hf" and summary["fps"] >= float(TARGET)
    assert (prj / "report.html").is_file() and (prj / "kernel" / "vaqf_top.cpp").is_file()


def test_an_unsupported_huggingface_directory_is_one_line(tmp_path, capsys):
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert", "architectures": ["BertModel"]}')
    assert main(["compile", str(tmp_path / "bert"), "--target-fps", "10", "-o", str(tmp_path / "p")]) == 1
    msg = one_line_error(capsys)
    assert "BertModel is not supported" in msg and "DeiTForImageClassification" in msg


def test_a_huggingface_directory_without_transformers_says_what_to_install(tmp_path, capsys, monkeypatch):
    import importlib.util

    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text('{"model_type": "deit"}')
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else real(name, *a))
    assert main(["compile", str(tmp_path / "hf"), "--target-fps", "10", "-o", str(tmp_path / "p")]) == 1
    assert "pip install 'vaqf[hf]'" in one_line_error(capsys)


@pytest.mark.parametrize("argv,message", [
    (["no_such_model.pt2"], "model 'no_such_model.pt2' not found: give a built-in name"),
    (["deit-tiny", "--board", "zcu999"], "zcu999"),
    (["deit-tiny", "--target-fps", "0"], "target-fps must be a number > 0"),
])
def test_bad_inputs_are_one_line(tmp_path, capsys, argv, message):
    model, *rest = argv
    args = ["compile", model, "-o", str(tmp_path / "p"), *rest]
    if "--target-fps" not in rest:
        args += ["--target-fps", "30"]
    assert main(args) == 1
    assert message in one_line_error(capsys)
    assert not (tmp_path / "p").exists()


def test_an_unreachable_target_says_what_to_do(small_pt2, tmp_path, capsys):
    assert main(["compile", str(small_pt2), "--target-fps", "1e9", "-o", str(tmp_path / "p")]) == 1
    msg = one_line_error(capsys)
    assert "above what zcu102 can reach" in msg
    best = float(re.search(r"the best is ([\d.]+) FPS", msg).group(1))
    assert f"lower --target-fps to {best:.1f} or less, or choose a larger --board" in msg


def test_an_existing_project_needs_force(compiled, small_pt2, capsys):
    prj = compiled[0]
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(prj)]) == 1
    assert "pass --force to replace it" in one_line_error(capsys)


def test_every_subcommand_help_has_an_example(capsys):
    from vaqf_compiler.cli.main import COMMANDS

    for module in COMMANDS:
        parser_names = []
        with pytest.raises(SystemExit):
            main([module.__name__.rsplit(".", 1)[1].removesuffix("_cmd"), "--help"])
        text = capsys.readouterr().out
        parser_names.append(text)
        assert re.search(r"^examples?:", text, re.M), module.__name__
        assert "vaqf " in text.split("example", 1)[1]


def test_the_mixed_scheme_compiles_with_its_rows_and_prediction(small_pt2, tmp_path, capsys):
    prj, dumps = tmp_path / "prj", tmp_path / "ir"
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(prj), "--scheme", "mixed",
                 "--wbits", "4", "--pot-ratio", "0.5", "--dump-ir-after", "assign-pot-rows", "--dump-ir-dir",
                 str(dumps), "--json", "-q"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["scheme"], summary["wbits"], summary["pot_ratio"]) == ("mixed", 4, 0.5)
    assert [p.name for p in dumps.iterdir()] == ["04-assign-pot-rows.mlir"]
    assert "#vit.rows<pot" in (dumps / "04-assign-pot-rows.mlir").read_text()
    text = (prj / "ir" / "accel.mlir").read_text()
    assert "mixed 4" in text and "pot_tm" in text
    fps_attr = float(re.search(r"accel.fps = ([\d.e+]+)", text).group(1))
    assert fps_attr == pytest.approx(summary["fps"], rel=1e-3)
    assert any(k["kind"].startswith("fc, mixed weights") for k in summary["kinds"])
    assert "mixed W4A" in (prj / "report.html").read_text()


def test_mixed_options_need_the_mixed_scheme(small_pt2, tmp_path, capsys):
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(tmp_path / "p"),
                 "--pot-ratio", "0.5"]) == 1
    assert "options of --scheme mixed; add --scheme mixed" in one_line_error(capsys)


def test_a_target_only_the_fpga_alone_meets_is_refused_with_the_end_to_end_best(small_pt2, tmp_path, capsys):
    """DeiT-small's reduced twin reaches far more on the FPGA than end to end (the A53 runs the glue ops)."""
    from vaqf_compiler.cli.dse_cmd import lower
    from vaqf_compiler.frontend.load import model_program
    from vaqf_compiler.frontend.torch_import import import_program

    workload = extract_workload(lower(import_program(model_program(str(small_pt2))).module))
    top = Searcher(workload, load_board("zcu102"), Options(end_to_end=True)).max_fps().estimate
    target = f"{(top.fps_end_to_end + top.fps) / 2:.0f}"
    assert main(["compile", str(small_pt2), "--target-fps", target, "-o", str(tmp_path / "p")]) == 1
    msg = one_line_error(capsys)
    assert f"target {target} FPS is above what zcu102 can reach end to end: the best is {top.fps_end_to_end:.1f} FPS" \
        in msg and f"(the FPGA alone: {top.fps:.1f} FPS" in msg
    assert f"lower --target-fps to {top.fps_end_to_end:.1f} or less" in msg
    assert not (tmp_path / "p").exists()
