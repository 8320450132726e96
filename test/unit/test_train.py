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

from vaqf_compiler.cli.main import main
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.quant import checkpoint as ckpt_io
from vaqf_compiler.quant.data import load_image_folder, shard_indices
from vaqf_compiler.quant.distributed import init_distributed
from vaqf_compiler.quant.progress import Progress
from vaqf_compiler.quant.qmodel import QuantDeiT
from vaqf_compiler.quant.recipe import RecipeConfig, run_recipe

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
