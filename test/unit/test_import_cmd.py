"""`vaqf import` and `vaqf demo` from the command line: outputs, summary, one-line errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from vaqf_compiler.cli.main import main
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.interp import run_function
from vaqf_compiler.ir import parse_ir
from vaqf_compiler.models.deit import build_deit
from vaqf_compiler.params import load_params


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_import_pt2_writes_ir_and_sidecar(tmp_path, capsys):
    model = build_deit("deit-tiny", depth=1, seed=3)
    torch.export.save(export_module(model, (3, 224, 224)), str(tmp_path / "m.pt2"))
    assert main(["import", str(tmp_path / "m.pt2"), "-o", str(tmp_path / "out" / "m.mlir")]) == 0
    out = capsys.readouterr().out
    assert "vit.linear" in out and "wrote" in out
    ir_path = tmp_path / "out" / "m.mlir"
    module = parse_ir(ir_path.read_text(), str(ir_path))
    params = load_params(module, ir_path)
    x = np.random.default_rng(1).standard_normal((3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)[None]).numpy()[0]
    assert np.abs(run_function(module, params, x) - want).max() < 1e-4
    # No temporary files are left behind.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m.mlir", "m.npz"]


def test_import_is_deterministic(tmp_path):
    for name in ("a", "b"):
        assert main(["import", "--builtin", "deit-tiny", "-q", "-o", str(tmp_path / name / "m.mlir")]) == 0
    assert (tmp_path / "a" / "m.mlir").read_bytes() == (tmp_path / "b" / "m.mlir").read_bytes()
    assert (tmp_path / "a" / "m.npz").read_bytes() == (tmp_path / "b" / "m.npz").read_bytes()


def test_import_unsupported_op_is_one_line(tmp_path, capsys):
    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = torch.nn.Conv2d(3, 8, 4, 4)

        def forward(self, x):
            return torch.nn.functional.avg_pool2d(self.patch(x), 2)

    torch.export.save(export_module(Pooled(), (3, 16, 16)), str(tmp_path / "p.pt2"))
    assert main(["import", str(tmp_path / "p.pt2"), "-o", str(tmp_path / "p.mlir")]) == 1
    line = one_line_error(capsys)
    assert line.startswith("vaqf import: error: unsupported aten op 'aten.avg_pool2d.default'")
    assert "test_import_cmd.py:" in line
    assert not (tmp_path / "p.mlir").exists() and not (tmp_path / "p.npz").exists()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["import", "missing.pt2", "-o", "x.mlir"], "model 'missing.pt2' not found: give a built-in name"),
        (["import", "--builtin", "deit-tiny", "-o", "x.txt"], "the output must be a .mlir file"),
    ],
)
def test_import_bad_arguments(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    assert message in one_line_error(capsys)


def test_import_unknown_builtin_is_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["import", "--builtin", "deit-huge", "-o", "x.mlir"])
    assert info.value.code == 2
    assert "invalid choice: 'deit-huge'" in capsys.readouterr().err


def test_demo_runs_the_whole_flow(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "max |logit difference|" in out
    assert "csim        PASS, bit-identical to the integer reference: 1 image(s)" in out
    assert "precision   W1A8" in out
    prj = tmp_path / "deit_tiny_hls"
    assert f"open the report: {prj / 'report.html'}" in out
    for name in ("README.md", "ir/accel.mlir", "ir/accel.npz", "report.html", "report.md", "report/fps.svg"):
        assert (prj / name).is_file(), name
    assert [p.name for p in tmp_path.iterdir()] == ["deit_tiny_hls"]  # no work directory left behind


def test_demo_with_an_unreachable_target_is_one_line(tmp_path, capsys):
    assert main(["demo", "--target-fps", "100000", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("vaqf demo: error: target 100000 FPS is above what zcu102 can reach")
    assert "lower --target-fps to" in err[-1]


def test_import_with_bits_quantizes_and_calibrates(tmp_path, capsys):
    out = tmp_path / "q.mlir"
    assert main(["import", "--builtin", "deit-tiny", "--wbits", "1", "--abits", "6", "-q", "-o", str(out)]) == 0
    assert "W1A6: calibrated on 4 seeded random images" in capsys.readouterr().out
    text = out.read_text()
    assert "quant #vit.quant<w = binary 1, x = int 6>" in text and "#vit.format<int 6 scale" in text


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--wbits", "1"], "--wbits needs --abits"),
        (["--abits", "0"], "abits must be in 1..16, got 0"),
        (["--abits", "17"], "abits must be in 1..16, got 17"),
    ],
)
def test_import_with_bad_bits_is_one_line(tmp_path, capsys, argv, message):
    assert main(["import", "--builtin", "deit-tiny", *argv, "-o", str(tmp_path / "q.mlir")]) == 1
    assert message in one_line_error(capsys)
    assert not (tmp_path / "q.mlir").exists()


def small_pt2(tmp_path):
    from vaqf_compiler.models.deit import DeiT, DeiTConfig, randomize_parameters

    cfg = DeiTConfig(image_size=(32, 32), patch_size=8, dim=32, depth=1, heads=2, num_classes=10)
    model = randomize_parameters(DeiT(cfg), 1).eval()
    path = tmp_path / "small.pt2"
    torch.export.save(export_module(model, (3, 32, 32)), str(path))
    return path


def test_compile_a_pt2_to_a_c_simulated_project(tmp_path, capsys):
    prj = tmp_path / "prj"
    assert main(["compile", str(small_pt2(tmp_path)), "--board", "zcu102", "--target-fps", "1000",
                 "-o", str(prj), "--csim", "--images", "2"]) == 0
    captured = capsys.readouterr()
    assert "[7/8] csim:" in captured.err and "2/2 images C-simulated" in captured.err
    assert "csim        PASS, bit-identical to the integer reference: 2 image(s)" in captured.out
    assert "precision   W1A" in captured.out and (prj / "ir" / "accel.mlir").is_file()
    # the counted cycles beside the promise: the same figures `vaqf csim --json` gives
    counted = re.search(r"counted     ([\d,]+) cycles per frame in C simulation: ([\d.]+) FPS on the FPGA alone; "
                        r"the cost model's ([\d,]+) cycles", captured.out)
    assert counted, captured.out
    assert main(["csim", str(prj), "--json", str(tmp_path / "c.json")]) == 0
    report = json.loads((tmp_path / "c.json").read_text())
    assert int(counted.group(1).replace(",", "")) == report["counted_cycles_per_frame"]
    assert int(counted.group(3).replace(",", "")) == report["model_cycles_per_frame"]
    capsys.readouterr()
    # The lowered IR kept in the project re-emits with `vaqf emit`.
    assert main(["emit", str(prj / "ir" / "accel.mlir"), "-o", str(tmp_path / "again")]) == 0
    # An existing project is not overwritten without --force.
    assert main(["compile", str(small_pt2(tmp_path)), "--target-fps", "1000", "-o", str(prj)]) == 1
    assert "not empty; pass --force" in one_line_error(capsys)


def test_compile_of_an_unknown_model_is_one_line(tmp_path, capsys):
    assert main(["compile", "resnet50", "--target-fps", "10", "-o", str(tmp_path / "prj")]) == 1
    assert "not found: give a built-in name (deit-tiny" in one_line_error(capsys)
