"""The integer golden model: exact, deterministic, the same on vit and accel IR, faithful at 16 bits."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.context import Context

from vaqf_compiler.calibrate import calibrate
from vaqf_compiler.cli.main import main
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.frontend.torch_import import ImportedModel, import_program
from vaqf_compiler.interp import Interpreter, run_function
from vaqf_compiler.ir import parse_ir, print_ir
from vaqf_compiler.models.deit import build_deit
from vaqf_compiler.passes.fold_patch_embed import FoldPatchEmbedPass
from vaqf_compiler.passes.mark_quantization import MarkQuantizationPass
from vaqf_compiler.passes.vaqf_pipeline import VaqfPipelinePass


@pytest.fixture(scope="module")
def model() -> ImportedModel:
    return import_program(export_module(build_deit("deit-tiny", depth=2, seed=7), (3, 224, 224)))


def images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 224, 224)).astype(np.float32) for _ in range(n)]


def quantized(model: ImportedModel, wbits: int, abits: int):
    module = parse_ir(print_ir(model.module))
    FoldPatchEmbedPass().apply(Context(), module)
    MarkQuantizationPass(wbits, abits).apply(Context(), module)
    calibrate(module, model.params, images(3))
    return module


def test_unquantized_baseline_is_faithful_16_bit_fixed_point(model):
    module = quantized(model, 16, 16)
    x = images(1, seed=9)[0]
    want = run_function(model.module, model.params, x)
    got = run_function(module, model.params, x, mode="int")
    assert np.abs(got - want).max() < 0.02 * np.abs(want).max()
    assert got.argmax() == want.argmax()


@pytest.mark.parametrize("abits", [8, 6, 1])
def test_integer_path_is_the_same_on_vit_and_accel_ir_and_deterministic(model, abits):
    module = quantized(model, 1, abits)
    x = images(1, seed=4)[0]
    on_vit = run_function(module, model.params, x, mode="int")
    VaqfPipelinePass(1, abits).apply(Context(), module)
    assert any(isinstance(op, accel.EngineOp) for op in module.walk())
    on_accel = run_function(module, model.params, x, mode="int")
    again = run_function(parse_ir(print_ir(module)), model.params, x, mode="int")
    assert np.array_equal(on_vit, on_accel) and np.array_equal(on_accel, again)


def test_every_tensor_holds_codes_of_its_format(model):
    module = quantized(model, 1, 4)
    seen: dict[str, int] = {}

    def observe(op, value):
        fmt = getattr(op, "out", None)
        assert value.dtype == np.int64, op.name
        if fmt is not None:
            lo, hi = fmt.code_range
            assert value.min() >= lo and value.max() <= hi, (op.name, fmt.body())
            seen[fmt.body().split(" scale")[0]] = seen.get(fmt.body().split(" scale")[0], 0) + 1

    Interpreter(module, model.params, "int").run(images(1)[0], observe)
    assert {"int 4", "uint 4", "fixed 16"} <= set(seen)


def test_uncalibrated_module_is_refused(model):
    module = quantized(model, 1, 8)
    MarkQuantizationPass(1, 6).apply(Context(), module)  # other bits: the scales are gone
    with pytest.raises(VaqfError, match="has no scale: calibrate the model first"):
        run_function(module, model.params, images(1)[0], mode="int")
    with pytest.raises(VaqfError, match="no storage format"):
        run_function(model.module, model.params, images(1)[0], mode="int")


def test_remarking_with_other_bits_drops_scales(model):
    module = quantized(model, 1, 8)
    MarkQuantizationPass(1, 8).apply(Context(), module)
    assert all(op.out.step is not None for op in module.walk() if isinstance(op, vit.LayerNormOp))
    MarkQuantizationPass(1, 6).apply(Context(), module)
    encoder_norms = [op for op in module.walk() if isinstance(op, vit.LayerNormOp)][:-1]
    assert all(op.out.step is None for op in encoder_norms)


@pytest.fixture(scope="module")
def imported_file(tmp_path_factory, model):
    """A small model's IR and weights on disk, as `vaqf import` writes them."""
    from vaqf_compiler.params import attach_sidecar, save_params

    path = tmp_path_factory.mktemp("imported") / "m.mlir"
    module = parse_ir(print_ir(model.module))
    attach_sidecar(module, "m.npz", save_params(path.with_suffix(".npz"), model.params))
    path.write_text(print_ir(module))
    return path


def test_quantize_and_run_int_from_the_command_line(tmp_path, capsys, imported_file):
    assert main(["quantize", str(imported_file), "--abits", "6", "-o", str(tmp_path / "q.mlir")]) == 0
    assert "W1A6: calibrated on 4 seeded random images" in capsys.readouterr().out
    np.save(tmp_path / "x.npy", images(2))
    assert main(["run", str(tmp_path / "q.mlir"), "--input", str(tmp_path / "x.npy"), "--mode", "int",
                 "-o", str(tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (2, 1000)
    assert not (tmp_path / "q.mlir").read_text().count("vit.patch_embed")
    text = (tmp_path / "q.mlir").read_text()
    assert "#vit.format<int 6 scale" in text and "vit.input_format = #vit.format<fixed 16 scale" in text


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--abits", "0"], "abits must be in 1..16, got 0"),
        (["--abits", "17"], "abits must be in 1..16, got 17"),
        (["--wbits", "2"], "wbits must be 1"),
        (["--calibration-images", "0"], "--calibration-images must be >= 1"),
    ],
)
def test_quantize_bad_input_is_one_line(tmp_path, capsys, extra, message, imported_file):
    assert main(["quantize", str(imported_file), *extra, "-o", str(tmp_path / "q.mlir")]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line and "Traceback" not in line


def test_calibration_images_of_the_wrong_shape(tmp_path, capsys, imported_file):
    np.save(tmp_path / "c.npy", np.zeros((2, 3, 32, 32), np.float32))
    assert main(["quantize", str(imported_file), "--calibration", str(tmp_path / "c.npy"),
                 "-o", str(tmp_path / "q.mlir")]) == 1
    assert "a batch [N, 3, 224, 224]" in capsys.readouterr().err


# ----- the mixed scheme (fixed-point and power-of-two weight rows; ours) ---------------------


def mixed_quantized(model: ImportedModel, ratio: float, wbits: int = 4, abits: int = 8):
    from vaqf_compiler.cli.quantize_cmd import quantize_module, scheme_marker

    module = parse_ir(print_ir(model.module))
    marker, ratio = scheme_marker("mixed", wbits, abits, ratio)
    quantize_module(module, model.params, marker, np.stack(images(3)), ratio)
    return module


@pytest.mark.parametrize("ratio", [0.25, 0.75])
def test_mixed_integer_path_is_the_same_on_vit_and_accel_ir(model, tmp_path, ratio):
    from vaqf_compiler.passes.sidecar import ir_file

    module = mixed_quantized(model, ratio)
    x = images(1, seed=4)[0]
    on_vit = run_function(module, model.params, x, mode="int")
    with ir_file(None):  # no IR file: the weights come from the option
        from vaqf_compiler.params import save_params

        save_params(tmp_path / "w.npz", model.params)
        VaqfPipelinePass(4, 8, scheme="mixed", pot_ratio=ratio, weights=str(tmp_path / "w.npz")).apply(Context(), module)
    engines = [op for op in module.walk() if isinstance(op, accel.EngineOp) and op.quant.mixed]
    assert len(engines) == 8 and all(op.rows is not None for op in engines)
    on_accel = run_function(module, model.params, x, mode="int")
    again = run_function(parse_ir(print_ir(module)), model.params, x, mode="int")
    assert np.array_equal(on_vit, on_accel) and np.array_equal(on_accel, again)


def test_mixed_weights_are_the_rule_s_codes(model):
    from vaqf_compiler import intconst, mixed
    from vaqf_compiler.intconst import Params

    module = mixed_quantized(model, 0.5, wbits=3)
    fc1 = next(op for op in module.walk() if isinstance(op, vit.LinearOp) and op.weight.key == "blocks.1.fc1.weight")
    w = model.params["blocks.1.fc1.weight"].astype(np.float64)
    pot = mixed.assign_pot_rows(w, 3, 0.5)
    assert np.array_equal(fc1.rows.pot_mask, pot) and fc1.rows.pot.data == 384
    ints, step = intconst.weight_codes(fc1, fc1.weight, fc1.quant, Params(model.params))
    want = mixed.mixed_weights(w, 3, pot)
    assert np.array_equal(ints, want.ints) and np.array_equal(step, want.step)
    lo, hi = fc1.quant.weights.code_range
    assert (lo, hi) == (-4, 4) and lo <= ints.min() and ints.max() <= hi  # E = 2 at 3 bits


def test_mixed_float_mode_runs_the_fake_quant_weights(model):
    """Float mode of a mixed module = the float model with each encoder FC's weights ints × step."""
    from vaqf_compiler import mixed

    module = mixed_quantized(model, 0.5)
    params = dict(model.params)
    for op in module.walk():
        if isinstance(op, vit.LinearOp) and op.quant.mixed:
            w = params[op.weight.key].astype(np.float64)
            mw = mixed.mixed_weights(w, 4, op.rows.pot_mask)
            params[op.weight.key] = mw.ints * mw.step[:, None]
    x = images(1, seed=2)[0]
    got = run_function(module, model.params, x)
    want = run_function(model.module, params, x)  # the unmarked float model on fake-quant weights
    assert np.abs(got - want).max() < 1e-4 * np.abs(want).max()
    assert np.abs(got - run_function(model.module, model.params, x)).max() > 1e-3  # not the float weights


def test_mixed_without_rows_is_refused(model):
    module = mixed_quantized(model, 0.5)
    fc2 = next(op for op in module.walk() if isinstance(op, vit.LinearOp) and op.weight.key == "blocks.1.fc2.weight")
    del fc2.properties["rows"]
    for mode in ("float", "int"):
        with pytest.raises(VaqfError, match="mixed weights but no `rows`: run assign-pot-rows"):
            run_function(module, model.params, images(1)[0], mode=mode)


def test_mixed_wide_weights(model):
    # Ratio 0: all rows fixed point, any k works. PoT rows above 5 bits (integer weights up
    # to 2^30 at 6 bits, 2^126 at 8) are refused with one line naming the op.
    module = mixed_quantized(model, 0.0, wbits=8)
    assert run_function(module, model.params, images(1)[0], mode="int").shape == (1000,)
    module = mixed_quantized(model, 0.5, wbits=6)  # float mode (calibration) uses exact float PoT values
    with pytest.raises(VaqfError, match=r"vit.linear.*use at most 5 weight bits with PoT rows \(or PoT ratio 0\)"):
        run_function(module, model.params, images(1)[0], mode="int")


def test_quantize_mixed_from_the_command_line(tmp_path, capsys, imported_file):
    out = tmp_path / "q.mlir"
    assert main(["quantize", str(imported_file), "--scheme", "mixed", "--wbits", "4", "--abits", "8",
                 "--pot-ratio", "0.25", "-o", str(out)]) == 0
    assert "mixed W4A8, PoT ratio 0.25: calibrated on 4 seeded random images" in capsys.readouterr().out
    text = out.read_text()
    assert text.count("rows #vit.rows<pot 144 of 576, ") == 2 and "vit.pot_ratio = 2.500000e-01 : f64" in text
    lowered = tmp_path / "a.mlir"
    from vaqf_compiler.cli.opt import main as opt_main

    assert opt_main([str(out), "-p", "vaqf-pipeline{scheme=mixed pot-ratio=0.25}", "-o", str(lowered)]) == 0
    np.save(tmp_path / "x.npy", images(1))
    for ir, y in ((out, "y1.npy"), (lowered, "y2.npy")):
        assert main(["run", str(ir), "-i", str(tmp_path / "x.npy"), "--mode", "int", "-o", str(tmp_path / y)]) == 0
    assert np.array_equal(np.load(tmp_path / "y1.npy"), np.load(tmp_path / "y2.npy"))
