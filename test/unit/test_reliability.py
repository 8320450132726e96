"""Files: atomic projects under SIGKILL, checked weight sidecars, paths that stay inside, byte-identical reruns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from xdsl.context import Context
from xdsl.dialects.builtin import StringAttr

from vaqf_compiler.cli.main import main
from vaqf_compiler.dialects.vit import WEIGHTS_ATTR, WEIGHTS_SHA256_ATTR
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.fsutil import PAUSE_ENV, write_tree_atomically
from vaqf_compiler.ir import parse_ir, print_ir
from vaqf_compiler.models.deit import build_deit
from vaqf_compiler.params import attach_sidecar, file_sha256, load_params, save_params
from vaqf_compiler.passes.assign_tiling import AssignTilingPass

from test_hls_csim import SMALL, lowered, small  # noqa: F401  (small: fixture)

BIN = Path(sys.executable).parent


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> bytes)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def lowered_dir(tmp_path_factory, small) -> Path:  # noqa: F811
    """a.mlir (lowered, tiled W1A8 reduced DeiT) with a.npz beside it."""
    d = tmp_path_factory.mktemp("lowered")
    module = lowered(small, 1, 8)
    AssignTilingPass(board="zcu102", target_fps=1).apply(Context(), module)
    attach_sidecar(module, "a.npz", save_params(d / "a.npz", small.params))
    (d / "a.mlir").write_text(print_ir(module))
    return d


# --------------------------------------------------------------------------
# Kill during emit: the old project or none (or the new one, whole), never a mix
# --------------------------------------------------------------------------


def emit_killed_at(step: str, ir: Path, out: Path, *extra: str) -> None:
    """Run `vaqf emit` as a program and SIGKILL it when the file writer announces `step`."""
    env = {**os.environ, PAUSE_ENV: step}
    env.pop("VAQF_TRACEBACK", None)
    proc = subprocess.Popen([str(BIN / "vaqf"), "emit", str(ir), "-o", str(out), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip() == f"vaqf-test-pause: {step}":
                proc.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail(f"vaqf emit never reached {step!r}")
    finally:
        proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def projects(lowered_dir, tmp_path_factory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(old, new): the project with --top old_top, and the one a plain emit writes."""
    d = tmp_path_factory.mktemp("projects")
    assert main(["emit", str(lowered_dir / "a.mlir"), "-o", str(d / "old"), "--top", "old_top"]) == 0
    assert main(["emit", str(lowered_dir / "a.mlir"), "-o", str(d / "new")]) == 0
    old, new = tree(d / "old"), tree(d / "new")
    assert old != new
    return old, new


def test_kill_during_a_first_emit_leaves_no_project(lowered_dir, tmp_path, projects):
    out = tmp_path / "prj"
    emit_killed_at("half written", lowered_dir / "a.mlir", out)
    assert not out.exists()
    # the killed writer's hidden temporary tree is removed by the next emit, which succeeds
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".prj.")]
    assert main(["emit", str(lowered_dir / "a.mlir"), "-o", str(out)]) == 0
    assert tree(out) == projects[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prj"]


@pytest.mark.parametrize("step,expect", [("half written", "old"), ("written", "old"), ("exchanged", "new")])
def test_kill_during_a_replacing_emit_leaves_old_or_new_whole(lowered_dir, tmp_path, projects, step, expect):
    out = tmp_path / "prj"
    write_tree_atomically(out, projects[0])
    emit_killed_at(step, lowered_dir / "a.mlir", out, "--force")
    assert tree(out) == projects[0 if expect == "old" else 1]


def test_failed_write_keeps_the_old_tree(tmp_path):
    out = tmp_path / "prj"
    write_tree_atomically(out, {"a.txt": "old"})
    with pytest.raises(ValueError, match="stay inside"):
        write_tree_atomically(out, {"b.txt": "new", "../escape.txt": "x"}, replace=True)
    assert tree(out) == {"a.txt": b"old"} and not (tmp_path / "escape.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prj"]


# --------------------------------------------------------------------------
# Weight sidecars: the checksum is verified on load
# --------------------------------------------------------------------------


@pytest.fixture
def sidecar(tmp_path, small):  # noqa: F811
    """(module, ir path) with m.npz and its checksum."""
    module = parse_ir(print_ir(small.module))
    attach_sidecar(module, "m.npz", save_params(tmp_path / "m.npz", small.params))
    ir = tmp_path / "m.mlir"
    ir.write_text(print_ir(module))
    return module, ir


def test_sidecar_loads_when_intact(sidecar, small):  # noqa: F811
    module, ir = sidecar
    params = load_params(module, ir)
    assert sorted(params) == sorted(small.params)


@pytest.mark.parametrize("damage", ["truncated", "one byte changed", "another model's", "missing"])
def test_damaged_sidecar_is_refused(sidecar, damage):
    module, ir = sidecar
    npz = ir.parent / "m.npz"
    data = npz.read_bytes()
    if damage == "truncated":
        npz.write_bytes(data[: len(data) // 2])
    elif damage == "one byte changed":
        npz.write_bytes(data[:1000] + bytes([data[1000] ^ 1]) + data[1001:])
    elif damage == "another model's":
        other = build_deit("deit-tiny", seed=9, **SMALL)
        save_params(npz, {k: v.detach().numpy() for k, v in other.state_dict().items()})
    else:
        npz.unlink()
    with pytest.raises(VaqfError, match="does not match the IR's checksum|not found"):
        load_params(module, ir)


def _with_checksum(module, ir: Path) -> None:
    module.attributes[WEIGHTS_SHA256_ATTR] = StringAttr(file_sha256(ir.parent / "m.npz"))


def test_unreadable_sidecar_with_a_matching_checksum_is_one_line(sidecar):
    module, ir = sidecar
    npz = ir.parent / "m.npz"
    npz.write_bytes(b"PK\x03\x04 not really a zip")
    _with_checksum(module, ir)
    with pytest.raises(VaqfError, match="cannot read weights file") as info:
        load_params(module, ir)
    assert "\n" not in str(info.value)
    # pickled objects are never loaded
    with zipfile.ZipFile(npz, "w") as zf, zf.open("pe.w.npy", "w") as f:
        np.lib.format.write_array(f, np.array([object()], dtype=object), allow_pickle=True)
    _with_checksum(module, ir)
    with pytest.raises(VaqfError, match="cannot read weights file"):
        load_params(module, ir)


def test_sidecar_with_wrong_shapes_is_refused(sidecar, small):  # noqa: F811
    module, ir = sidecar
    key = "blocks.0.fc1.weight"
    save_params(ir.parent / "m.npz", {**small.params, key: np.zeros((3, 3), np.float32)})
    _with_checksum(module, ir)
    with pytest.raises(VaqfError, match=rf"parameter '{key}' has shape \[3, 3\] .* declares \[128, 32\]"):
        load_params(module, ir)


def test_damaged_sidecar_from_the_command_line(lowered_dir, tmp_path, capsys):
    ir = tmp_path / "a.mlir"
    ir.write_bytes((lowered_dir / "a.mlir").read_bytes())
    data = (lowered_dir / "a.npz").read_bytes()
    (tmp_path / "a.npz").write_bytes(data[:-10])
    assert main(["emit", str(ir), "-o", str(tmp_path / "prj")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checksum" in err and not (tmp_path / "prj").exists()


# --------------------------------------------------------------------------
# Paths in IR and on the command line stay inside the chosen directory
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../m.npz", "sub/../../m.npz", "/etc/passwd", "", "m\0.npz"])
def test_weights_path_in_ir_cannot_leave_its_directory(sidecar, name):
    module, ir = sidecar
    module.attributes[WEIGHTS_ATTR] = StringAttr(name)
    with pytest.raises(VaqfError, match="must be a file name beside the IR"):
        load_params(module, ir)


def test_weights_symlink_leading_outside_is_refused(sidecar, tmp_path_factory):
    module, ir = sidecar
    outside = tmp_path_factory.mktemp("elsewhere") / "m.npz"
    (ir.parent / "m.npz").rename(outside)
    (ir.parent / "m.npz").symlink_to(outside)
    with pytest.raises(VaqfError, match="leads outside the IR's directory"):
        load_params(module, ir)
    # a symlink that stays inside the directory is fine
    (ir.parent / "m.npz").unlink()
    outside.rename(ir.parent / "real.npz")
    (ir.parent / "m.npz").symlink_to("real.npz")
    assert load_params(module, ir)


def test_emit_output_symlink_is_replaced_not_followed(lowered_dir, tmp_path, projects):
    real = tmp_path / "real"
    real.mkdir()
    (real / "keep.txt").write_text("mine")
    link = tmp_path / "prj"
    link.symlink_to(real)
    assert main(["emit", str(lowered_dir / "a.mlir"), "-o", str(link), "--force"]) == 0
    assert not link.is_symlink() and tree(link) == projects[1]
    assert tree(real) == {"keep.txt": b"mine"}


def test_project_file_names_cannot_leave_the_project(tmp_path):
    for bad in ("../x", "/tmp/x", "a/../../x", ""):
        with pytest.raises(ValueError, match="stay inside"):
            write_tree_atomically(tmp_path / "p", {bad: b"x"})
    assert not (tmp_path / "p").exists() and not (tmp_path / "x").exists()


# --------------------------------------------------------------------------
# Determinism: two runs, byte-identical IR, weights and projects
# --------------------------------------------------------------------------

CHAIN = """
import sys
from vaqf_compiler.cli.main import main
from vaqf_compiler.cli import opt
d = sys.argv[1]
assert main(["import", f"{d}/../m.pt2", "-o", f"{d}/m.mlir", "-q"]) == 0
assert main(["quantize", f"{d}/m.mlir", "--abits", "8", "-o", f"{d}/q.mlir"]) == 0
assert opt.main([f"{d}/q.mlir", "-p", "vaqf-pipeline{abits=8},assign-tiling{board=zcu102 target-fps=24}",
                 "-o", f"{d}/l.mlir"]) == 0
assert main(["emit", f"{d}/l.mlir", "-o", f"{d}/prj", "--tb-images", "2"]) == 0
"""


def test_two_runs_are_byte_identical(tmp_path):
    """import -> quantize -> vaqf-opt pipeline -> emit, twice in fresh processes with different hash seeds."""
    model = build_deit("deit-tiny", seed=5, **SMALL)
    torch.export.save(export_module(model, (3, 32, 32)), str(tmp_path / "m.pt2"))
    for run, seed in (("one", "1"), ("two", "2")):
        (tmp_path / run).mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", CHAIN, str(tmp_path / run)], capture_output=True, text=True,
                              env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert sorted(one) == sorted(two)
    for name in ("m.mlir", "m.npz", "q.mlir", "q.npz", "l.mlir", "prj/weights/params.bin", "prj/kernel/vaqf_top.cpp"):
        assert name in one, sorted(one)
    assert [k for k in one if one[k] != two[k]] == []
