"""The batched reference (PyTorch) computes exactly the codes of `vaqf run --mode int` (the numpy golden model).

Every test compares every tensor of every op, code for code, with the numpy
interpreter run image by image: random-weight and trained small models, the
vaqf scheme at W1A4/A6/A8, the unquantized W16A16 baseline, the mixed scheme,
batches of 1 and 7, `vit` and lowered `accel` IR. Weights and images are drawn
from seeds that differ per case.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
import torch
from xdsl.context import Context

from vaqf_compiler.calibrate import apply_learned_scales
from vaqf_compiler.cli.quantize_cmd import quantize_module, scheme_marker
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.load import export_module
from vaqf_compiler.frontend.torch_import import ImportedModel, import_program
from vaqf_compiler.interp import Interpreter
from vaqf_compiler.interp.batched import BatchedReference, _precision_switches, exact_float_matmuls, resolve_device
from vaqf_compiler.interp.batched_int import int8_exact, matmul_dtype
from vaqf_compiler.ir import parse_ir, print_ir
from vaqf_compiler.models.deit import build_deit
from vaqf_compiler.passes.vaqf_pipeline import VaqfPipelinePass
from vaqf_compiler.quant.qmodel import binarized_float_deit, quant_spec, quantize_deit

IMAGE = (3, 32, 32)

# (scheme, wbits, abits, PoT ratio): the precisions the accelerator supports, each tested.
SCHEMES = {
    "W1A4": ("vaqf", 1, 4, None),
    "W1A6": ("vaqf", 1, 6, None),
    "W1A8": ("vaqf", 1, 8, None),
    "W16A16": ("vaqf", 16, 16, None),
    "mixed-W4A8": ("mixed", 4, 8, 0.5),
    "mixed-W5A6": ("mixed", 5, 6, 0.25),
}


def images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *IMAGE)).astype(np.float32)


@functools.cache
def random_model(seed: int) -> ImportedModel:
    net = build_deit("deit-tiny", depth=2, seed=seed, image_size=IMAGE[1:])
    return import_program(export_module(net, IMAGE))


def quantized(model: ImportedModel, name: str, seed: int):
    scheme, wbits, abits, ratio = SCHEMES[name]
    module = parse_ir(print_ir(model.module))
    marker, ratio = scheme_marker(scheme, wbits, abits, ratio)
    quantize_module(module, model.params, marker, images(3, seed + 100), ratio)
    return module


def assert_bit_identical(module, params, batch: np.ndarray) -> int:
    """Every op's codes equal the numpy interpreter's, image by image; returns the codes compared."""
    want: dict = {}
    interp = Interpreter(module, params, "int")
    logits = [interp.run(x, lambda op, v: want.setdefault(op, []).append(v)) for x in batch]
    ref = BatchedReference(module, params, "int")
    compared = []

    def observe(op, got):
        assert got.dtype == torch.int64, op.name
        expect = np.stack(want[op])
        assert got.shape == expect.shape, op.name
        differ = int((got.numpy() != expect).sum())
        assert differ == 0, f"{op.name}: {differ} of {expect.size} codes differ"
        compared.append(expect.size)

    ref.forward(batch, observe)
    assert len(compared) == len(want) > 10  # every op of the function was compared
    assert np.array_equal(ref.run(batch), np.stack(logits))  # the logits as `vaqf run --mode int` writes them
    return sum(compared)


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("name", list(SCHEMES))
def test_random_models_are_bit_identical_to_the_numpy_golden_model(name, batch):
    seed = 11 + 7 * list(SCHEMES).index(name) + batch  # weights, calibration and images differ per case
    model = random_model(seed)
    module = quantized(model, name, seed)
    assert assert_bit_identical(module, model.params, images(batch, seed + 1)) > 1000 * batch


def test_lowered_accel_ir_is_bit_identical():
    model = random_model(5)
    module = quantized(model, "W1A6", 5)
    VaqfPipelinePass(1, 6).apply(Context(), module)
    assert any(op.name == "accel.engine" for op in module.walk())
    assert_bit_identical(module, model.params, images(7, 6))


def trained_like(abits: int, seed: int):
    """A QuantDeiT whose LSQ scales were initialised on data (as training starts), as IR with its learned scales."""
    net = quantize_deit(build_deit("deit-tiny", depth=2, seed=seed, image_size=IMAGE[1:]), abits, False)
    x = torch.randn(8, *IMAGE, generator=torch.Generator().manual_seed(seed))
    net.train()
    net(x)
    net.eval()
    imported = import_program(export_module(binarized_float_deit(net).eval(), IMAGE))
    marker, _ = scheme_marker("vaqf", 1, abits, None)
    quantize_module(imported.module, imported.params, marker, x.numpy())
    assert apply_learned_scales(imported.module, quant_spec(net)) == 2 * 5
    return imported


@pytest.mark.parametrize("abits", [4, 8])
def test_models_with_learned_scales_are_bit_identical(abits):
    model = trained_like(abits, seed=20 + abits)
    assert_bit_identical(model.module, model.params, images(7, abits))


def test_a_trained_checkpoint_is_bit_identical(trained_run):
    """`vaqf train`'s W1A4 stage, imported as `vaqf import --checkpoint` does."""
    from vaqf_compiler.cli.import_cmd import import_checkpoint

    imported, note = import_checkpoint(trained_run / "w1a4.pt", None)
    assert "W1A4" in note
    x = np.random.default_rng(3).standard_normal((7, 1, 32, 32)).astype(np.float32)
    assert_bit_identical(imported.module, imported.params, x)


def test_an_inexact_product_is_refused_like_the_numpy_path():
    """A 32-bit image format makes the patch embedding's worst case exceed 2^53: both paths refuse it."""
    model = random_model(9)
    text = print_ir(quantized(model, "W16A16", 9))
    lines = text.splitlines()
    for i, line in enumerate(lines):  # the image, its patches and the patch embedding's input: fixed 32
        if "func.func @forward" in line or "vit.patchify" in line:
            lines[i] = line.replace("fixed 16", "fixed 32")
        elif "patch_embed.weight" in line:
            lines[i] = re.sub(r"x = fixed 16", "x = fixed 32", line)
    module = parse_ir("\n".join(lines))
    module.verify()
    with pytest.raises(VaqfError, match=r"accumulator: worst case .* exceeds 2\*\*53; exact integer arithmetic is "
                                         r"not possible; use fewer bits") as batched:
        BatchedReference(module, model.params, "int")
    with pytest.raises(VaqfError) as numpy_path:
        Interpreter(module, model.params, "int").run(images(1, 0)[0])
    assert str(batched.value) == str(numpy_path.value)
    assert "\n" not in str(batched.value)


def test_products_pick_the_narrowest_exact_type():
    assert matmul_dtype(2.0**24 - 1, "x") == torch.float32
    assert matmul_dtype(2.0**24, "x") == torch.float64
    assert matmul_dtype(2.0**53 - 2**11, "x") == torch.float64
    with pytest.raises(ValueError, match="exceeds 2\\*\\*53"):
        matmul_dtype(2.0**53, "x")
    cpu, binary = torch.device("cpu"), np.ones((4, 3), np.int64)
    assert int8_exact(cpu, (-128, 127), binary, 2.0**30)
    assert not int8_exact(cpu, (0, 255), binary, 1e3)  # uint8 probabilities do not fit int8
    assert not int8_exact(cpu, (-128, 127), binary * 65, 1e3)  # pairs of products could saturate int16
    assert not int8_exact(cpu, (-128, 127), binary, 2.0**31)


def test_tf32_and_reduced_precision_are_off_inside_and_restored_after():
    switches = _precision_switches()
    names = {name for _, name, _ in switches}
    assert {"allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction"} <= names
    assert "fp32_precision" in names or "allow_tf32" in names
    matmul = torch.backends.cuda.matmul
    before = matmul.allow_bf16_reduced_precision_reduction
    matmul.allow_bf16_reduced_precision_reduction = True
    try:
        with exact_float_matmuls():
            for owner, name, value in switches:
                assert getattr(owner, name) == value, name
        assert matmul.allow_bf16_reduced_precision_reduction
    finally:
        matmul.allow_bf16_reduced_precision_reduction = before


def test_float_mode_is_the_float_interpreter_and_fake_quant_tracks_the_integer_path():
    model = random_model(13)
    batch = images(7, 14)
    want = np.stack([Interpreter(model.module, model.params, "float").run(x) for x in batch])
    got = BatchedReference(model.module, model.params, "float").run(batch)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    module = quantized(model, "W1A8", 13)
    fake = BatchedReference(module, model.params, "fake-quant").run(batch)
    exact = BatchedReference(module, model.params, "int").run(batch)
    assert np.abs(fake - exact).max() < 0.1 * np.abs(exact).max()
    assert (fake.argmax(1) == exact.argmax(1)).mean() >= 6 / 7
    assert not np.array_equal(fake, BatchedReference(module, model.params, "float").run(batch))


def test_bad_requests_are_one_line_errors(monkeypatch):
    model = random_model(13)
    with pytest.raises(VaqfError, match="unknown mode 'exact'; choose one of float, fake-quant, int"):
        BatchedReference(model.module, model.params, "exact")
    with pytest.raises(VaqfError, match="no storage format: quantize and calibrate the model first"):
        BatchedReference(model.module, model.params, "int")
    ref = BatchedReference(model.module, model.params, "float")
    with pytest.raises(VaqfError, match=r"batch has shape \[2, 3, 16, 16\] but the function expects \[N, 3, 32, 32\]"):
        ref.run(np.zeros((2, 3, 16, 16), np.float32))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(VaqfError, match="--device cuda asked for, but CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(VaqfError, match="unknown device 'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_is_bit_identical():
    model = random_model(17)
    module = quantized(model, "W1A8", 17)
    batch = images(7, 18)
    cpu = BatchedReference(module, model.params, "int").codes(batch)
    assert np.array_equal(BatchedReference(module, model.params, "int", device="cuda").codes(batch), cpu)
