"""Every way a user holds the tool: one clear line, checked before the work, and their files never destroyed.

One section per item of issue 20 (numbered as there). A one-block DeiT keeps
these fast; only the Makefile check runs a compiler-free `make`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from xdsl.dialects.builtin import BytesAttr, ModuleOp, StringAttr

from vaqf_compiler import driver, validate
from vaqf_compiler.backends.hls.target import HlsOptions, Tiling, check_cpp_name
from vaqf_compiler.calibrate import calibrate
from vaqf_compiler.cli import opt
from vaqf_compiler.cli.main import main
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.fsutil import PAUSE_ENV
from vaqf_compiler.ir import parse_ir, print_ir
from vaqf_compiler.params import load_params
from vaqf_compiler.projectdir import MARKER, check_output_dir

BIN = Path(sys.executable).parent
TARGET = "1000"
SHAPE = (3, 32, 32)


@pytest.fixture(scope="module")
def small_pt2(tmp_path_factory) -> Path:
    from vaqf_compiler.models.deit import DeiT, DeiTConfig, randomize_parameters

    cfg = DeiTConfig(image_size=(32, 32), patch_size=8, dim=32, depth=1, heads=2, num_classes=10)
    model = randomize_parameters(DeiT(cfg), 1).eval()
    path = tmp_path_factory.mktemp("model") / "small.pt2"
    torch.export.save(export_module(model, SHAPE), str(path))
    return path


@pytest.fixture(scope="module")
def project(small_pt2, tmp_path_factory) -> Path:
    """A compiled project (no C simulation), shared read-only by the tests below."""
    prj = tmp_path_factory.mktemp("compiled") / "prj"
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(prj), "-q"]) == 0
    return prj


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def error_line(capsys) -> str:
    """The one line a failed command printed last on stderr (no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def fails(capsys, argv: list[str], *expected: str) -> str:
    assert main(argv) == 1
    line = error_line(capsys)
    for text in expected:
        assert text in line, line
    return line


def images(tmp_path: Path, name: str, shape: tuple[int, ...], nan: bool = False) -> Path:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    if nan:
        x.flat[5] = np.nan
    np.save(tmp_path / name, x)
    return tmp_path / name


# ----- 1. csim --input checks the image shape, not only the element count ---------------------


@pytest.mark.parametrize("shape,hint", [((1, 32, 32, 3), "channels last"), ((4, 3, 16, 16), ""),
                                         ((3, 64, 16), "")])
def test_csim_refuses_mis_shaped_input(project, tmp_path, capsys, shape, hint):
    x = images(tmp_path, "x.npy", shape)
    line = fails(capsys, ["csim", str(project), "--input", str(x)], f"has shape {list(shape)}",
                 "expected one image [3, 32, 32] or a batch [N, 3, 32, 32]", hint)
    assert "build" not in line
    assert not (project / "build").exists()  # refused before any build


def test_image_batch_accepts_one_image_or_a_batch():
    one = np.zeros(SHAPE)
    assert validate.image_batch(one, SHAPE, "x").shape == (1, *SHAPE)
    assert validate.image_batch(np.zeros((2, *SHAPE)), SHAPE, "x").shape == (2, *SHAPE)
    with pytest.raises(VaqfError, match=r"has shape \[0, 3, 32, 32\]"):
        validate.image_batch(np.zeros((0, *SHAPE)), SHAPE, "x")


# ----- 2. NaN or inf in calibration data is refused --------------------------------------------


def test_compile_refuses_nan_calibration(small_pt2, tmp_path, capsys):
    cal = images(tmp_path, "cal.npy", (4, *SHAPE), nan=True)
    fails(capsys, ["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(tmp_path / "prj"),
                   "--calibration", str(cal)], f"--calibration {cal} holds 1 NaN or infinite value(s)",
          "[0, 0, 0, 5]")
    assert not (tmp_path / "prj").exists()


def test_quantize_and_calibrate_refuse_non_finite_images(project, tmp_path, capsys):
    x = np.random.default_rng(0).standard_normal((2, *SHAPE)).astype(np.float32)
    x[1, 0, 0, 0] = np.inf
    np.save(tmp_path / "cal.npy", x)
    fails(capsys, ["quantize", str(project / "ir" / "accel.mlir"), "--calibration", str(tmp_path / "cal.npy"),
                   "-o", str(tmp_path / "q.mlir")], "holds 1 NaN or infinite value(s)", "[1, 0, 0, 0]")
    assert not (tmp_path / "q.mlir").exists()
    ir = project / "ir" / "accel.mlir"
    module = parse_ir(ir.read_text())
    with pytest.raises(VaqfError, match="calibration image 1 holds 1 NaN"):
        calibrate(module, load_params(module, ir), list(x))


# ----- 3. --force replaces only a directory vaqf wrote, never one holding the inputs ------------


def test_force_refuses_a_directory_holding_the_input_model(small_pt2, project, tmp_path, capsys):
    m = tmp_path / "m"
    shutil.copytree(project, m)
    shutil.copy(small_pt2, m / "model.pt2")
    before = tree(m)
    fails(capsys, ["compile", str(m / "model.pt2"), "--target-fps", TARGET, "-o", str(m), "--force"],
          f"-o {m} holds the input {m / 'model.pt2'}", "choose another -o")
    assert tree(m) == before


def test_force_refuses_foreign_files_and_unmarked_directories(small_pt2, project, tmp_path, capsys):
    m = tmp_path / "m"
    shutil.copytree(project, m)
    (m / "notes.txt").write_text("mine")
    argv = ["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(m), "--force", "-q"]
    fails(capsys, argv, "holds files vaqf did not write (notes.txt)")
    assert (m / "notes.txt").read_text() == "mine"
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_text("mine")
    fails(capsys, [*argv[:4], "-o", str(other), "--force"], f"was not written by vaqf (no {MARKER} file)")
    assert (other / "a.txt").read_text() == "mine"
    # what vaqf wrote (and the C simulation's build folder) is replaced
    (m / "notes.txt").unlink()
    (m / "build").mkdir()
    assert main(argv) == 0
    assert not (m / "build").exists() and (m / MARKER).is_file()


def test_output_holding_the_current_directory_is_refused(project, tmp_path, monkeypatch):
    prj = tmp_path / "prj"
    shutil.copytree(project, prj)
    monkeypatch.chdir(prj)
    with pytest.raises(VaqfError, match="holds the current directory"):
        check_output_dir(Path("."), force=True)


def test_force_replaces_a_project_written_before_the_marker(project, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(project, old)
    (old / MARKER).unlink()
    check_output_dir(old, force=True)  # project.json and only vaqf's usual entries
    (old / "x.py").write_text("")
    with pytest.raises(VaqfError, match=r"holds files vaqf did not write \(x.py\)"):
        check_output_dir(old, force=True)


# ----- 4. the replacement is atomic through the C simulation and the report ---------------------


@pytest.mark.parametrize("stage", ["run_csim", "write_report"])
def test_interrupted_or_failed_late_stage_keeps_the_old_project(small_pt2, project, tmp_path, capsys, monkeypatch,
                                                                 stage):
    import vaqf_compiler.cli.compile_cmd as compile_cmd

    prj = tmp_path / "prj"
    shutil.copytree(project, prj)
    before = tree(prj)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt if stage == "run_csim" else VaqfError("the disk is full")

    monkeypatch.setattr(driver if stage == "run_csim" else compile_cmd, stage, interrupt)
    status = main(["compile", str(small_pt2), "--target-fps", "2000", "-o", str(prj), "--force", "--csim", "-q"])
    assert status == (130 if stage == "run_csim" else 1)
    assert tree(prj) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prj"]  # no staged directory left behind


def test_killed_before_the_swap_leaves_the_old_project_whole(small_pt2, project, tmp_path):
    prj = tmp_path / "prj"
    shutil.copytree(project, prj)
    before = tree(prj)
    env = {**os.environ, PAUSE_ENV: "written"}
    proc = subprocess.Popen([str(BIN / "vaqf"), "compile", str(small_pt2), "--target-fps", "2000", "-o", str(prj),
                             "--force", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip() == "vaqf-test-pause: written":  # report written, in the staged directory
                proc.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail("vaqf compile never reached the swap")
    finally:
        proc.kill()
        proc.wait(60)
    assert tree(prj) == before


# ----- 5. non-ASCII and space-containing paths round-trip through the IR --------------------------


def test_string_attributes_round_trip_unicode():
    module = ModuleOp([])
    module.attributes["vit.weights"] = StringAttr('dé m"x\\.npz')
    module.attributes["raw"] = BytesAttr(b"\xff\x00")
    back = parse_ir(print_ir(module))
    assert back.attributes["vit.weights"] == StringAttr('dé m"x\\.npz')
    assert back.attributes["raw"] == BytesAttr(b"\xff\x00")  # not UTF-8: still bytes


def test_unicode_and_space_paths_through_import_quantize_run_compile(small_pt2, tmp_path, capsys):
    d = tmp_path / "dossier é"
    d.mkdir()
    m, q, x = d / "modèle 1.mlir", d / "q ü.mlir", images(d, "image ß.npy", SHAPE)
    assert main(["import", str(small_pt2), "-o", str(m), "-q"]) == 0
    assert main(["quantize", str(m), "--abits", "8", "-o", str(q)]) == 0
    assert main(["run", str(q), "--input", str(x), "--mode", "int"]) == 0
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(d / "prj ñ"), "-q",
                 "--calibration", str(x)]) == 0
    assert main(["emit", str(d / "prj ñ" / "ir" / "accel.mlir"), "-o", str(d / "é prj")]) == 0
    assert parse_ir(m.read_text()).attributes["vit.weights"] == StringAttr("modèle 1.npz")


# ----- 6. user board TOMLs wherever a board name is; pass options as the docs spell them ----------


def board_file(tmp_path: Path, name: str, part: str | None) -> Path:
    from importlib import resources

    text = resources.files("vaqf_compiler.cost").joinpath("boards", "zcu102.toml").read_text()
    lines = [f'name = "{name}"' if ln.startswith("name =") else ln for ln in text.splitlines()
             if part is not None or not ln.startswith("part =")]
    lines = [f'part = "{part}"' if ln.startswith("part =") else ln for ln in lines]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_compile_and_emit_take_a_board_file_with_its_own_part(small_pt2, tmp_path, capsys):
    # named like a built-in: its own part, not the built-in's
    mine = board_file(tmp_path, "zcu102", "xczu5ev-sfvc784-1-e")
    prj = tmp_path / "prj"
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(prj), "--board", str(mine),
                 "-q"]) == 0
    assert json.loads((prj / "project.json").read_text())["part"] == "xczu5ev-sfvc784-1-e"
    assert main(["emit", str(prj / "ir" / "accel.mlir"), "-o", str(tmp_path / "e"), "--board", str(mine)]) == 0
    assert "set part xczu5ev-sfvc784-1-e" in (tmp_path / "e" / "run_hls.tcl").read_text()
    capsys.readouterr()
    nopart = board_file(tmp_path, "nopart", None)
    fails(capsys, ["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(tmp_path / "p2"), "--board",
                   str(nopart)], f"board file {nopart} has no 'part'")


def test_pass_options_take_paths_exponents_and_dashed_names(project, tmp_path, capsys):
    mine = board_file(tmp_path, "mine", "xczu5ev-sfvc784-1-e")
    ir = str(project / "ir" / "accel.mlir")
    assert opt.main([ir, "-p", f"assign-tiling{{board={mine} target-fps=1e3}}", "-o", str(tmp_path / "t.mlir")]) == 0
    assert 'accel.board = "mine"' in (tmp_path / "t.mlir").read_text()
    assert opt.main([ir, "-p", "assign-tiling{bord=zcu102}"]) != 0
    err = capsys.readouterr().err
    assert '"target-fps", "dsp-ceiling"' in err and "target_fps" not in err


# ----- 7. vaqf emit refuses values that make broken projects ---------------------------------------


@pytest.mark.parametrize("argv,message", [
    (["--tiling", "1000000,8,1,96,24"], "tiling: tm must be <= 1024"),
    (["--top", "int"], "top function name 'int' is a C++ keyword"),
    (["--top", "main"], "'main' is the host program's entry point"),
    (["--top", "tête"], "is not a C++ identifier"),
    (["--top", "__x"], "is reserved to the C++ implementation"),
])
def test_emit_refuses_broken_projects_before_reading_the_ir(tmp_path, capsys, argv, message):
    fails(capsys, ["emit", str(tmp_path / "missing.mlir"), "-o", str(tmp_path / "prj"), *argv], message)


def test_cpp_names_and_tilings_that_work_pass():
    check_cpp_name("vaqf_top", "top")
    check_cpp_name("_top", "top")
    HlsOptions(top="my_top2").check()
    Tiling(1024, 32, 1, 32, 64, 32).check()


# ----- 8. one line, not a traceback ------------------------------------------------------------------


@pytest.mark.parametrize("cmd,seed", [("compile", "-5"), ("compile", "99999999999999999999"), ("quantize", "-1")])
def test_bad_seeds_are_one_line(small_pt2, tmp_path, capsys, cmd, seed):
    argv = (["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(tmp_path / "p")] if cmd == "compile"
            else ["quantize", str(tmp_path / "m.mlir"), "-o", str(tmp_path / "q.mlir")])
    fails(capsys, [*argv, "--seed", seed], f"--seed must be an integer in 0..4294967295, got {seed}")


def test_image_counts_beyond_memory_are_one_line(small_pt2, project, tmp_path, capsys):
    fails(capsys, ["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(tmp_path / "p"), "--images",
                   str(10**12)], "--images 1000000000000 images of [3, 32, 32] need", "lower --images")
    fails(capsys, ["emit", str(project / "ir" / "accel.mlir"), "-o", str(tmp_path / "e"), "--tb-images",
                   str(10**12)], "more than the", "lower --tb-images")
    assert not (tmp_path / "p").exists() and not (tmp_path / "e").exists()


def test_csim_damaged_project_json_and_build_dir_file_are_one_line(project, tmp_path, capsys):
    prj = tmp_path / "prj"
    shutil.copytree(project, prj)
    (tmp_path / "file").write_text("")
    fails(capsys, ["csim", str(prj), "--build-dir", str(tmp_path / "file")], "--build-dir", "is not a directory")
    (prj / "project.json").write_text('{"outputs": 10, "ima')
    fails(capsys, ["csim", str(prj)], "project.json is damaged (JSONDecodeError", "emit the project again")


# ----- 9. validation before the work -------------------------------------------------------------------


@pytest.mark.parametrize("extra,message", [
    (["-o", "{tmp}/file", "--force"], "exists and is not a directory"),
    (["-o", "{tmp}/file/prj"], "is not a writable directory"),
    (["--images", "0"], "--images must be >= 1, got 0"),
    (["--scheme", "mixed", "--wbits", "6"], "--wbits 6: power-of-two rows take at most 5 bits"),
    (["--scheme", "mixed", "--wbits", "9"], "--wbits must be in 2..8, got 9"),
    (["--dump-ir-dir", "{tmp}/prj/dumps"], "is inside the project"),
])
def test_compile_checks_arguments_before_any_stage(small_pt2, tmp_path, capsys, extra, message):
    (tmp_path / "file").write_text("keep")
    extra = [e.format(tmp=tmp_path) for e in extra]
    out = [] if "-o" in extra else ["-o", str(tmp_path / "prj")]
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, *out, *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and "[1/" not in err, err  # no stage started
    assert (tmp_path / "file").read_text() == "keep"


# ----- 10. defaults that could mislead are said --------------------------------------------------------


def test_random_calibration_is_warned_about_and_reported(small_pt2, tmp_path, capsys):
    assert main(["compile", str(small_pt2), "--target-fps", TARGET, "-o", str(tmp_path / "p"), "-q",
                 "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["calibration"] == "calibrated on 4 seeded random images"
    assert "warning: " in err and "calibrated on 4 seeded random images" in err and "--calibration" in err
    assert main(["compile", "deit-tiny", "--target-fps", "1", "-o", str(tmp_path / "q"), "--tb-input",
                 str(tmp_path / "x.npy"), "--images", "2"]) == 1
    assert "--images counts random test-bench images, --tb-input gives them" in error_line(capsys)
    with pytest.raises(SystemExit):
        main(["compile", "--help"])
    assert "not for a trained one" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_project_makefile_finds_ap_int_or_says_where(project):
    env = {k: v for k, v in os.environ.items() if k not in ("XILINX_HLS", "AP_INCLUDE")}
    missing = subprocess.run(["make", "-s", "check-ap", "PYTHON=false"], cwd=project, env=env, capture_output=True,
                             text=True)
    assert missing.returncode != 0
    assert "set XILINX_HLS" in missing.stdout and "pip install hls4ml" in missing.stdout
    try:
        from vaqf_compiler.backends.hls.csim import find_ap_include

        find_ap_include()
    except VaqfError:
        pytest.skip("no ap_int headers here")
    found = subprocess.run(["make", "-s", "check-ap", f"PYTHON={sys.executable}"], cwd=project, env=env,
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stdout + found.stderr
