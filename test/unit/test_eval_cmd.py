"""`vaqf eval`: the float / fake-quant / int table on digits, image folders and CSV-labelled images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vaqf_compiler.cli.main import main
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.frontend.torch_import import import_program
from vaqf_compiler.ir import print_ir
from vaqf_compiler.models.deit import build_deit
from vaqf_compiler.params import attach_sidecar, save_params

COLOURS = {"cat": (250, 40, 30), "dog": (20, 30, 240), "owl": (30, 220, 40)}


def vaqf(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def table(out: str) -> dict[str, list[str]]:
    """mode -> its cells, from the Markdown table on stdout."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("| ")]
    assert rows[0][:2] == ["mode", "top-1"] and rows[0][3:] == ["agrees with float", "images/s"]
    return {r[0]: r[1:] for r in rows[1:]}


def test_eval_of_a_trained_checkpoint_scores_float_fake_quant_and_int(trained_run, tmp_path, capsys):
    """The int row is the numpy golden model's top-1 on the same held-out digits, recomputed here."""
    from vaqf_compiler.cli.import_cmd import import_checkpoint
    from vaqf_compiler.interp import Interpreter
    from vaqf_compiler.quant.data import load_digits_data

    ckpt = trained_run / "w1a4.pt"
    rc, out, err = vaqf(capsys, "eval", str(ckpt), "--data", "digits", "--limit", "40", "--batch", "16",
                        "--calibration-images", "8", "--json", str(tmp_path / "r.json"))
    assert rc == 0, err
    rows = table(out)
    assert list(rows) == ["float", "fake-quant", "int"]
    assert rows["float"][2] == "100.00 %"
    assert "W1A4, 20 learned activation scales; 16-bit tensors calibrated on 8 images (its training split)" in out
    assert "[2/2] evaluate" in err and "40/40 images" in err
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["images"] == 40 and doc["classes"] == 10 and doc["top_k"] == 5
    assert set(doc["modes"]) == {"float", "fake-quant", "int"}
    assert all(m["images_per_s"] > 0 for m in doc["modes"].values())

    digits = load_digits_data(32, seed=0)
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, digits.train.images[:8].numpy())
    imported, _ = import_checkpoint(ckpt, calibration)
    interp = Interpreter(imported.module, imported.params, "int")
    images, labels = digits.test.images[:40].numpy(), digits.test.labels[:40].numpy()
    top1 = np.array([interp.run(x).argmax() for x in images])
    assert doc["modes"]["int"]["top1"] == pytest.approx((top1 == labels).mean(), abs=1e-12)


@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory) -> Path:
    """A random 3-class DeiT for 32x32 RGB images, as `vaqf import` writes it."""
    path = tmp_path_factory.mktemp("rgb") / "m.mlir"
    net = build_deit("deit-tiny", depth=1, seed=31, image_size=(32, 32), num_classes=3)
    imported = import_program(export_module(net, (3, 32, 32)))
    attach_sidecar(imported.module, "m.npz", save_params(path.with_suffix(".npz"), imported.params))
    path.write_text(print_ir(imported.module))
    return path


def write_folder(root: Path, per_class: int = 3) -> list[tuple[str, str]]:
    from PIL import Image

    rng = np.random.default_rng(5)
    listed = []
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            noise = rng.integers(-20, 20, (12, 12, 3))
            Image.fromarray(np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)).save(root / name / f"{i}.png")
            listed.append((f"{name}/{i}.png", name))
    return listed


def test_eval_on_an_image_folder_and_on_csv_labels_agree(rgb_model, tmp_path, capsys):
    listed = write_folder(tmp_path / "imgs")
    argv = ["eval", str(rgb_model), "--mode", "int,float", "--abits", "6", "--batch", "4", "-q"]
    rc, out, err = vaqf(capsys, *argv, "--data", str(tmp_path / "imgs"), "--json", str(tmp_path / "a.json"))
    assert rc == 0 and err == "", err
    assert list(table(out)) == ["float", "int"] and "W1A6, calibrated on 9 images (a seeded sample of the scored images)" in out
    by_folder = json.loads((tmp_path / "a.json").read_text())
    assert by_folder["images"] == 9 and by_folder["classes"] == 3 and by_folder["top_k"] == 3
    assert by_folder["modes"]["float"]["top5"] == 1.0  # top-3 of 3 classes

    csv = tmp_path / "labels.csv"
    csv.write_text("file,label\n" + "".join(f"{p},{c}\n" for p, c in reversed(listed)))
    rc, out, err = vaqf(capsys, *argv, "--data", str(tmp_path / "imgs"), "--labels", str(csv),
                        "--json", str(tmp_path / "b.json"))
    assert rc == 0, err
    by_csv = json.loads((tmp_path / "b.json").read_text())
    for mode in ("float", "int"):
        assert by_csv["modes"][mode]["top1"] == by_folder["modes"][mode]["top1"]
        assert by_csv["modes"][mode]["agreement"] == by_folder["modes"][mode]["agreement"]


def test_eval_of_a_float_ir_in_float_mode_needs_no_quantization(rgb_model, tmp_path, capsys):
    write_folder(tmp_path / "imgs", per_class=2)
    rc, out, err = vaqf(capsys, "eval", str(rgb_model), "--data", str(tmp_path / "imgs"), "--mode", "float", "-q")
    assert rc == 0, err
    assert list(table(out)) == ["float"] and "(float)" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["deit-tiny", "--data", "digits", "--mode", "exact"], "--mode 'exact': choose from float, fake-quant, int"),
        (["deit-tiny", "--data", "digits", "--batch", "0"], "--batch must be >= 1, got 0"),
        (["deit-tiny", "--data", "digits", "--limit", "0"], "--limit must be >= 1, got 0"),
        (["nosuch.pt2", "--data", "digits"], "model 'nosuch.pt2' not found"),
        (["{model}", "--data", "digits"], "--data digits holds one-channel images; the model takes 3 channels"),
        (["{model}", "--data", "{tmp}/none"], "data folder {tmp}/none not found"),
        (["{model}", "--data", "{tmp}", "--labels", "{tmp}/x.csv"], "--labels {tmp}/x.csv not found"),
        (["{model}", "--data", "{tmp}", "--abits", "0"], "data folder {tmp} has no class sub-folders"),
    ],
)
def test_errors_are_one_line(argv, message, rgb_model, tmp_path, capsys):
    subs = {"model": str(rgb_model), "tmp": str(tmp_path)}
    rc, out, err = vaqf(capsys, "eval", *(a.format(**subs) for a in argv))
    assert rc == 1
    errors = [line for line in err.splitlines() if "error: " in line]  # progress lines may come before
    assert len(errors) == 1 and errors[0] == err.splitlines()[-1], err
    assert errors[0].startswith(f"vaqf eval: error: {message.format(**subs)}"), err
    assert "Traceback" not in err


def test_a_quantized_checkpoint_keeps_its_precision(trained_run, capsys):
    rc, out, err = vaqf(capsys, "eval", str(trained_run / "w1a4.pt"), "--data", "digits", "--abits", "8")
    assert rc == 1 and err.splitlines()[-1].startswith("vaqf eval: error: ") and "is already quantized; drop --abits" in err


def test_csv_with_an_unknown_class_is_refused(rgb_model, tmp_path, capsys):
    write_folder(tmp_path / "imgs", per_class=1)
    (tmp_path / "l.csv").write_text("cat/0.png,cat\ndog/0.png,wolf\n")
    rc, out, err = vaqf(capsys, "eval", str(rgb_model), "--data", str(tmp_path / "imgs"),
                        "--labels", str(tmp_path / "l.csv"))
    assert rc == 1 and "row 2: unknown class 'wolf'" in err.splitlines()[-1] and "Traceback" not in err


def test_cuda_unavailable_is_a_clear_error(rgb_model, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rc, out, err = vaqf(capsys, "eval", str(rgb_model), "--data", "digits", "--device", "cuda")
    assert rc == 1 and "CUDA is not available" in err and err.count("\n") == 1


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = capsys.readouterr().out
    assert "vaqf eval runs/digits/w1a8.pt --data digits" in out and "torchrun" in out
