"""`vaqf train`: the three-stage recipe end to end, resume, image folders, torchrun/DDP, CLI errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vaqf_compiler import mixed
from vaqf_compiler.cli.main import main
from vaqf_compiler.cli.train_cmd import format_comparison
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.quant import checkpoint as ckpt_io
from vaqf_compiler.quant.data import load_image_folder, shard_indices
from vaqf_compiler.quant.distributed import init_distributed
from vaqf_compiler.quant.progress import Progress
from vaqf_compiler.quant.mixed_linear import MixedLinear
from vaqf_compiler.quant.qmodel import QuantDeiT
from vaqf_compiler.quant.recipe import (
    RecipeConfig,
    RecipeResult,
    StageResult,
    evaluate,
    load_data,
    run_recipe,
    stages_of,
)

# One epoch per stage, big batches: a few optimizer steps each.
FAST = ["--epochs-fp", "1", "--epochs-binary", "1", "--epochs-act", "1", "--batch-size", "256"]


def vaqf(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["train", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def table_rows(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines() if line.startswith(("FP", "W1"))}


def test_recipe_end_to_end_then_resume(tmp_path, capsys):
    out_dir, js = tmp_path / "run", tmp_path / "results.json"
    rc, out, err = vaqf(capsys, *FAST, "--abits", "8,4", "--out", str(out_dir), "--json", str(js))
    assert rc == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["fp.pt", "w1a32.pt", "w1a4.pt", "w1a8.pt"]
    rows = table_rows(out)
    assert list(rows) == ["FP", "W1A32", "W1A8", "W1A4"]
    assert all("%" in r and r.rstrip().endswith("1") for r in rows.values())
    assert "FP     [####################] epoch 1/1" in err  # progress on stderr
    doc = json.loads(js.read_text())
    assert [s["label"] for s in doc["stages"]] == ["FP", "W1A32", "W1A8", "W1A4"]
    assert all(0.0 <= s["top1"] <= 1.0 and s["wall_s"] > 0 and not s["resumed"] for s in doc["stages"])

    ckpt = ckpt_io.load_checkpoint(out_dir / "w1a4.pt")
    assert (ckpt["stage"], ckpt["wbits"], ckpt["abits"], ckpt["complete"]) == ("w1a4", 1, 4, True)
    assert ckpt["quant_spec"]["blocks.0.attn"]["prob_scale"] == pytest.approx(1 / 15)
    model = ckpt_io.load_model(out_dir / "w1a4.pt")
    assert isinstance(model, QuantDeiT) and model.abits == 4
    assert model.blocks[0].fc1_quant.step_size() == ckpt["quant_spec"]["blocks.0.fc1"]["input_scale"]

    # Resuming a finished run trains nothing.
    rc, out, err = vaqf(capsys, *FAST, "--abits", "8,4", "--out", str(out_dir), "--resume")
    assert rc == 0, err
    assert all("(from checkpoint)" in r for r in table_rows(out).values())
    assert "epoch" not in err

    # A missing stage is trained again, from the W1A32 checkpoint.
    (out_dir / "w1a4.pt").unlink()
    rc, out, err = vaqf(capsys, *FAST, "--abits", "8,4", "--out", str(out_dir), "--resume")
    assert rc == 0, err
    rows = table_rows(out)
    assert "(from checkpoint)" in rows["W1A8"] and "(from checkpoint)" not in rows["W1A4"]
    assert "W1A4   [####################] epoch 1/1" in err and "FP     [" not in err

    # Checkpoints of another model shape are refused in one line.
    rc, out, err = vaqf(capsys, *FAST, "--abits", "8,4", "--out", str(out_dir), "--resume", "--image-size", "16")
    assert rc == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "another model configuration: image_size=32x32 (this run: 16x16)" in err


def _fp_state(out: Path) -> dict[str, torch.Tensor]:
    return ckpt_io.load_checkpoint(out)["state_dict"]


def test_interrupted_stage_resumes_after_its_last_epoch_exactly(tmp_path, monkeypatch):
    env = init_distributed("cpu")
    cfg = RecipeConfig(epochs_fp=1, epochs_binary=2, abits=(), batch_size=256)
    whole = tmp_path / "whole"
    run_recipe(RecipeConfig(**{**cfg.__dict__, "out": whole}), env, log=io.StringIO())

    cut = tmp_path / "cut"
    update = Progress.update

    def interrupt(self, epoch, step, loss, images):
        if self.label == "W1A32" and step == self.steps_per_epoch + 1:
            raise KeyboardInterrupt
        update(self, epoch, step, loss, images)

    monkeypatch.setattr(Progress, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_recipe(RecipeConfig(**{**cfg.__dict__, "out": cut}), env, log=io.StringIO())
    monkeypatch.setattr(Progress, "update", update)
    partial = ckpt_io.load_checkpoint(cut / "partial.pt")
    assert (partial["stage"], partial["epoch"], partial["complete"]) == ("w1a32", 1, False)
    assert not (cut / "w1a32.pt").exists()

    result = run_recipe(RecipeConfig(**{**cfg.__dict__, "out": cut, "resume": True}), env, log=io.StringIO())
    assert [s.resumed for s in result.stages] == [True, False]
    assert not (cut / "partial.pt").exists()
    want, got = _fp_state(whole / "w1a32.pt"), _fp_state(cut / "w1a32.pt")
    assert want.keys() == got.keys()
    assert all(torch.equal(want[k], got[k]) for k in want)


def test_partial_checkpoint_of_other_training_settings_is_refused(tmp_path):
    env = init_distributed("cpu")
    out = tmp_path / "run"
    cfg = RecipeConfig(epochs_fp=1, epochs_binary=0, abits=(), batch_size=256, out=out)
    run_recipe(cfg, env, log=io.StringIO())
    fp = ckpt_io.load_checkpoint(out / "fp.pt")
    ckpt_io.save_checkpoint(out / "partial.pt", {**fp, "stage": "w1a32", "complete": False, "epoch": 1})
    (out / "w1a32.pt").unlink()
    with pytest.raises(VaqfError, match=r"another training configuration: epochs=1 \(this run: 3\)"):
        run_recipe(RecipeConfig(**{**cfg.__dict__, "epochs_binary": 3, "resume": True}), env)


def write_image_folder(root: Path, per_class: int = 5) -> None:
    from PIL import Image

    colours = {"dog": (0, 0, 255), "cat": (255, 0, 0), "owl": (0, 255, 0)}
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (10 + i, 6), colour).save(root / name / f"{i}.png")
    (root / "cat" / "notes.txt").write_text("not an image")


def test_image_folder_loads_with_the_right_labels(tmp_path):
    write_image_folder(tmp_path)
    data = load_image_folder(tmp_path, image_size=8, seed=0)
    assert data.classes == ["cat", "dog", "owl"] and data.channels == 3
    assert len(data.train) + len(data.test) == 15 and len(data.test) == 3
    for split in (data.train, data.test):
        for i in range(len(split)):
            x, label = split[i]
            assert x.shape == (3, 8, 8)
            assert int(x.mean(dim=(1, 2)).argmax()) == [0, 2, 1][label]  # cat red, dog blue, owl green


def test_imagenet_style_train_val_folders(tmp_path):
    write_image_folder(tmp_path / "train", per_class=3)
    write_image_folder(tmp_path / "val", per_class=1)
    data = load_image_folder(tmp_path, image_size=4)
    assert (len(data.train), len(data.test)) == (9, 3)
    assert [data.test[i][1] for i in range(3)] == [0, 1, 2]


def test_train_on_an_image_folder(tmp_path, capsys):
    write_image_folder(tmp_path / "data")
    rc, out, err = vaqf(capsys, *FAST, "--data", str(tmp_path / "data"), "--image-size", "16", "--abits", "2",
                        "--out", str(tmp_path / "out"))
    assert rc == 0, err
    assert list(table_rows(out)) == ["FP", "W1A32", "W1A2"]
    assert ckpt_io.load_checkpoint(tmp_path / "out" / "fp.pt")["model_config"]["in_channels"] == 3


def test_shards_cover_the_data_evenly():
    shards = [shard_indices(10, r, 3, shuffle=True, seed=1, epoch=2) for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]
    assert set(sum(shards, [])) == set(range(10))
    assert shards == [shard_indices(10, r, 3, shuffle=True, seed=1, epoch=2) for r in range(3)]
    assert shards != [shard_indices(10, r, 3, shuffle=True, seed=1, epoch=3) for r in range(3)]
    tests = [shard_indices(10, r, 3, shuffle=False) for r in range(3)]
    assert sorted(sum(tests, [])) == list(range(10))


class FakeStream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_is_short_in_logs_and_redraws_on_a_terminal():
    log = FakeStream(tty=False)
    progress = Progress("FP", epochs=30, steps_per_epoch=4, stream=log)
    for step in range(1, 121):
        progress.update((step - 1) // 4, step, 0.5, 64)
    progress.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("FP     [####################] epoch 30/30  step 120/120")
    log = FakeStream(tty=False)  # long epochs: also a line every LOG_EVERY_STEPS steps inside one
    progress = Progress("FP", epochs=2, steps_per_epoch=600, stream=log)
    for step in range(1, 1201):
        progress.update((step - 1) // 600, step, 0.5, 64)
    assert [line.split("step ")[1].split()[0] for line in log.getvalue().splitlines()] == [
        "500/1200", "600/1200", "1100/1200", "1200/1200"]
    tty = FakeStream(tty=True)
    progress = Progress("W1A8", epochs=1, steps_per_epoch=3, stream=tty)
    for step in range(1, 4):
        progress.update(0, step, 1.0, 8)
    progress.close()
    text = tty.getvalue()
    assert text.startswith("\r\033[K") and "step 3/3  loss 1.0000" in text and text.endswith("\n")
    assert text.count("\n") == 1


def test_torchrun_two_processes_on_cpu(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "vaqf_compiler.cli.main", "train", *FAST, "--abits", "4", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["fp.pt", "w1a32.pt", "w1a4.pt"]
    assert list(table_rows(proc.stdout)) == ["FP", "W1A32", "W1A4"]  # printed once, by rank 0
    assert "2 process(es)" in proc.stderr
    assert ckpt_io.load_checkpoint(out / "w1a4.pt")["settings"]["world_size"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--abits", "8,17"], "--abits: 17 is outside 1..16"),
        (["--abits", "0"], "--abits: 0 is outside 1..16"),
        (["--abits", "4,x"], "--abits: 'x' is not an integer"),
        (["--data", "{tmp}/nowhere"], "data folder {tmp}/nowhere not found"),
        (["--data", "{tmp}"], "data folder {tmp} is empty"),
        (["--image-size", "12"], "image size 12 is not a positive multiple of deit-digits's patch size 8"),
        (["--epochs-fp", "-1"], "--epochs-fp must be >= 0"),
        (["--pot-ratio", "0.5"], "--pot-ratio and --wbits are for --scheme mixed or both"),
        (["--wbits", "4"], "--pot-ratio and --wbits are for --scheme mixed or both"),
        (["--scheme", "mixed", "--pot-ratio", "0.5,1.5"], "--pot-ratio: 1.5 is outside [0, 1]"),
        (["--scheme", "mixed", "--pot-ratio", "half"], "--pot-ratio: 'half' is not a number"),
        (["--scheme", "both", "--pot-ratio", ","], "--pot-ratio: the mixed scheme needs at least one ratio"),
        (["--scheme", "mixed", "--wbits", "9"], "--wbits: 9 is outside 2..8"),
        (["--scheme", "mixed", "--wbits", "1"], "--wbits: 1 is outside 2..8"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    rc, out, err = vaqf(capsys, *argv, "--out", str(tmp_path / "out"))
    assert rc == 1 and out == ""
    assert err.startswith(f"vaqf train: error: {message.format(tmp=tmp_path)}")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_cuda_unavailable_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rc, out, err = vaqf(capsys, "--device", "cuda", "--out", str(tmp_path))
    assert rc == 1 and err.count("\n") == 1
    assert "CUDA is not available" in err


def test_missing_pillow_is_a_clear_error(tmp_path, capsys, monkeypatch):
    (tmp_path / "data" / "a").mkdir(parents=True)
    monkeypatch.setitem(sys.modules, "PIL", None)
    rc, out, err = vaqf(capsys, "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"))
    assert rc == 1 and err.count("\n") == 1
    assert "needs Pillow: pip install 'vaqf[train]'" in err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "torchrun --nproc_per_node" in text and "--data /data/imagenet" in text and "--nnodes" in text


# ---- the mixed scheme ----

# Small images (4 patches) and a few epochs: enough to learn the digits well above chance (10 %).
MIXED_FAST = ["--image-size", "16", "--epochs-fp", "2", "--epochs-binary", "1", "--epochs-act", "1",
              "--batch-size", "64", "--abits", "8"]


def test_mixed_recipe_trains_above_chance_and_checkpoints_carry_the_scheme(tmp_path, capsys):
    out_dir, js = tmp_path / "run", tmp_path / "mixed.json"
    rc, out, err = vaqf(capsys, *MIXED_FAST, "--scheme", "mixed", "--pot-ratio", "0.5", "--out", str(out_dir),
                        "--json", str(js))
    assert rc == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["fp.pt", "w4a32-mixed-r0.5.pt", "w4a8-mixed-r0.5.pt"]
    assert "weight scheme: mixed (W4: fixed-point + power-of-two rows, PoT ratio 0.5)" in err
    assert "==> W4A8 r=0.5: 1 epoch(s)" in err
    rows = [line.split() for line in out.splitlines() if line.startswith(("FP", "W4"))]
    assert [r[:2] for r in rows] == [["FP", "float"], ["W4A32", "mixed"], ["W4A8", "mixed"]]
    assert [r[2] for r in rows[1:]] == ["r=0.5", "r=0.5"]
    doc = json.loads(js.read_text())
    assert doc["scheme"] == "mixed"
    assert [(s["stage"], s["scheme"], s["wbits"], s["abits"], s["pot_ratio"]) for s in doc["stages"]] == [
        ("fp", "float", 32, None, None), ("w4a32-mixed-r0.5", "mixed", 4, None, 0.5),
        ("w4a8-mixed-r0.5", "mixed", 4, 8, 0.5)]
    assert all(s["top1"] > 0.3 for s in doc["stages"][1:]), doc["stages"]  # chance is 0.1

    path = out_dir / "w4a8-mixed-r0.5.pt"
    ckpt = ckpt_io.load_checkpoint(path)
    assert (ckpt["scheme"], ckpt["wbits"], ckpt["pot_ratio"], ckpt["abits"]) == ("mixed", 4, 0.5, 8)
    assert ckpt_io.weight_scheme(ckpt) == ("mixed", 4, 0.5)
    assert ckpt["quant_spec"]["blocks.0.fc2"]["scheme"] == "mixed"
    assert ckpt_io.load_checkpoint(out_dir / "fp.pt")["scheme"] == "float"
    model = ckpt_io.load_model(path)
    layers = [m for m in model.modules() if isinstance(m, MixedLinear)]
    assert isinstance(model, QuantDeiT) and model.scheme == "mixed" and len(layers) == 16
    assert all((m.bits, m.ratio) == (4, 0.5) for m in layers)
    # The split the compiler recomputes from the saved float weights: half the rows of each matrix.
    w = ckpt["state_dict"]["blocks.0.attn.qkv.weight"].double().numpy()
    assert int(mixed.assign_pot_rows(w, 4, 0.5).sum()) == w.shape[0] // 2
    # The rebuilt network scores what training reported.
    cfg = RecipeConfig(image_size=16)
    assert evaluate(model, load_data(cfg), cfg, init_distributed("cpu")) == ckpt["top1"]

    rc, out, err = vaqf(capsys, *MIXED_FAST, "--scheme", "mixed", "--pot-ratio", "0.5", "--out", str(out_dir),
                        "--resume")
    assert rc == 0, err
    assert out.count("(from checkpoint)") == 3 and "epoch" not in err


def test_both_schemes_share_the_fp_stage_and_seed_their_stages_like_separate_runs():
    both = stages_of(RecipeConfig(scheme="both", pot_ratios=(0.25, 0.75), wbits=3, abits=(8, 6)))
    vaqf_only = stages_of(RecipeConfig(scheme="vaqf", abits=(8, 6)))
    mixed_only = stages_of(RecipeConfig(scheme="mixed", pot_ratios=(0.25, 0.75), wbits=3, abits=(8, 6)))
    assert both == vaqf_only + mixed_only[1:]
    assert [s.name for s in mixed_only] == [
        "fp", "w3a32-mixed-r0.25", "w3a8-mixed-r0.25", "w3a6-mixed-r0.25",
        "w3a32-mixed-r0.75", "w3a8-mixed-r0.75", "w3a6-mixed-r0.75"]
    assert [s.parent for s in mixed_only] == [None, "fp", "w3a32-mixed-r0.25", "w3a32-mixed-r0.25",
                                              "fp", "w3a32-mixed-r0.75", "w3a32-mixed-r0.75"]
    # Each branch sees the data in the same order, with the same epochs and learning rates.
    for m, v in zip(mixed_only[1:4], vaqf_only[1:4]):
        assert (m.index, m.epochs, m.lr) == (v.index, v.epochs, v.lr)
    assert stages_of(RecipeConfig()) == vaqf_only[:1] + stages_of(RecipeConfig())[1:]
    assert all(s.scheme in ("float", "vaqf") for s in stages_of(RecipeConfig()))


def test_comparison_table_puts_the_schemes_side_by_side():
    def stage(label, scheme, wbits, abits, top1, ratio=None):
        return StageResult(label.lower(), label, wbits, abits, top1, 1.0, 1, False, "x", scheme, ratio)

    result = RecipeResult("both", "deit-digits", {}, "digits", 10, 10, 1, stages=[
        stage("FP", "float", 32, None, 0.975),
        stage("W1A32", "vaqf", 1, None, 0.9), stage("W1A8", "vaqf", 1, 8, 0.8),
        stage("W4A32", "mixed", 4, None, 0.95, 0.5), stage("W4A8", "mixed", 4, 8, 0.94, 0.5),
    ])
    assert format_comparison(result).splitlines() == [
        "test top-1  vaqf W1  mixed r=0.5 W4",
        "A32         90.00 %         95.00 %",
        "A8          80.00 %         94.00 %",
        "(FP: 97.50 %)",
    ]
    result.stages = result.stages[:3]
    assert format_comparison(result) == ""  # one scheme: the stage table says it all


def test_old_checkpoints_without_a_scheme_load_as_vaqf(tmp_path):
    env = init_distributed("cpu")
    out = tmp_path / "run"
    run_recipe(RecipeConfig(image_size=16, epochs_fp=0, epochs_binary=0, abits=(), batch_size=256, out=out), env,
               log=io.StringIO())
    ckpt = ckpt_io.load_checkpoint(out / "w1a32.pt")
    assert (ckpt["scheme"], ckpt["wbits"], ckpt["pot_ratio"]) == ("vaqf", 1, None)
    old = {k: v for k, v in ckpt.items() if k not in ("scheme", "pot_ratio", "format", "version")}
    ckpt_io.save_checkpoint(tmp_path / "old.pt", old)
    assert ckpt_io.weight_scheme(ckpt_io.load_checkpoint(tmp_path / "old.pt")) == ("vaqf", 1, None)
    model = ckpt_io.load_model(tmp_path / "old.pt")
    assert isinstance(model, QuantDeiT) and model.scheme == "vaqf"
    fp = {k: v for k, v in ckpt_io.load_checkpoint(out / "fp.pt").items() if k != "scheme"}
    assert ckpt_io.weight_scheme(fp) == ("float", 32, None)
