"""The middle of the pipeline: each pass keeps the model's meaning (checked through the interpreter)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp

from vaqf_compiler.cli.opt import main as opt_main
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.load import builtin_program, export_module
from vaqf_compiler.frontend.torch_import import ImportedModel, import_program
from vaqf_compiler.interp import run_function
from vaqf_compiler.ir import parse_ir, print_ir
from vaqf_compiler.models.deit import build_deit
from vaqf_compiler.passes.fold_patch_embed import FoldPatchEmbedPass
from vaqf_compiler.passes.lower_to_accel import LowerToAccelPass
from vaqf_compiler.passes.mark_quantization import MarkQuantizationPass
from vaqf_compiler.passes.partition_host_accel import PartitionHostAccelPass
from vaqf_compiler.passes.vaqf_pipeline import VaqfPipelinePass


@pytest.fixture(scope="module")
def small_deit() -> ImportedModel:
    return import_program(export_module(build_deit("deit-tiny", depth=2, seed=5), (3, 224, 224)))


def copy(module: ModuleOp) -> ModuleOp:
    return parse_ir(print_ir(module))


def image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((3, 224, 224)).astype(np.float32)


def test_each_pass_keeps_the_logits(small_deit):
    module = copy(small_deit.module)
    x = image()
    want = run_function(module, small_deit.params, x)
    for step in (FoldPatchEmbedPass(), MarkQuantizationPass(1, 6), PartitionHostAccelPass(), LowerToAccelPass()):
        step.apply(Context(), module)
        module.verify()
        got = run_function(module, small_deit.params, x)
        # Folding reorders the patch-embedding sums; the rest only annotates or renames.
        assert np.abs(got - want).max() < 1e-5, step.name
    ops = {op.name for op in module.walk()}
    assert not any(name.startswith("vit.") for name in ops)
    assert "vit.patch_embed" not in ops and "accel.engine" in ops


def test_fold_patch_embed_is_numerically_identical_up_to_sum_order(small_deit):
    module = copy(small_deit.module)
    FoldPatchEmbedPass().apply(Context(), module)
    x = image(1)
    got = run_function(module, small_deit.params, x)
    want = run_function(small_deit.module, small_deit.params, x)
    assert np.abs(got - want).max() < 1e-5
    assert sum(isinstance(op, vit.PatchifyOp) for op in module.walk()) == 1


def test_engine_count_and_streams(small_deit):
    module = copy(small_deit.module)
    VaqfPipelinePass(abits=8).apply(Context(), module)
    engines = [op for op in module.walk() if isinstance(op, accel.EngineOp)]
    fc = [e for e in engines if not e.is_attention]
    attention = [e for e in engines if e.is_attention]
    assert len(fc) == 2 * 4 + 2 and len(attention) == 2 * 2
    # Patch embedding and head unquantized; every encoder FC and attention product quantized.
    assert [e.in_quantized for e in fc] == [False] + [True] * 8 + [False]
    assert all(e.in_quantized for e in attention)
    for load in (op for op in module.walk() if isinstance(op, accel.LoadOp)):
        assert (load.stream.data == accel.Stream.QUANTIZED) == load.format.quantized


def test_hf_deit_through_the_pipeline():
    from transformers import DeiTConfig, DeiTForImageClassification

    from vaqf_compiler.models.deit import randomize_parameters

    cfg = DeiTConfig(image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=3,
                     intermediate_size=96, num_labels=10)
    model = randomize_parameters(DeiTForImageClassification(cfg).eval(), 2)
    imported = import_program(export_module(model, (3, 32, 32)))
    module = copy(imported.module)
    VaqfPipelinePass(abits=4).apply(Context(), module)
    x = np.random.default_rng(3).standard_normal((3, 32, 32)).astype(np.float32)
    want = run_function(imported.module, imported.params, x)
    assert np.abs(run_function(module, imported.params, x) - want).max() < 1e-5


@pytest.mark.parametrize("name", ["deit-tiny", "deit-small", "deit-base"])
def test_pipeline_on_builtin_models_runs_in_seconds(name):
    module = import_program(builtin_program(name)).module
    start = time.perf_counter()
    VaqfPipelinePass(abits=8).apply(Context(), module)
    elapsed = time.perf_counter() - start
    assert sum(isinstance(op, accel.EngineOp) for op in module.walk()) == 12 * 6 + 2
    assert elapsed < 30  # ~0.3 s here; bench/bench_import.py measures it


def test_mark_quantization_rejects_bad_bits():
    for kwargs, message in [
        ({"abits": 0}, "abits must be in 1..16, got 0"),
        ({"abits": 17}, "abits must be in 1..16, got 17"),
        ({"wbits": 4}, "wbits must be 1"),
        ({"wbits": 16, "abits": 8}, "needs abits=16"),
    ]:
        with pytest.raises(VaqfError, match=message):
            MarkQuantizationPass(**kwargs)


@pytest.mark.parametrize(
    "pipeline,message",
    [
        ("mark-quantization{abits=0}", "abits must be in 1..16, got 0"),
        ("no-such-pass", "unknown pass 'no-such-pass'"),
        ("vaqf-pipeline{abits=x}", "invalid options for pass 'vaqf-pipeline'"),
    ],
)
def test_bad_pass_options_are_one_line(tmp_path, capsys, pipeline, message):
    src = tmp_path / "m.mlir"
    src.write_text(print_ir(import_program(export_module(build_deit("deit-tiny", depth=1), (3, 224, 224))).module))
    assert opt_main([str(src), "-p", pipeline]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_not_a_vit_is_one_line(tmp_path, capsys):
    src = tmp_path / "mlp.mlir"
    src.write_text(
        'func.func @f(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {\n'
        '  %y = vit.linear %x weight #vit.param<"w", [8, 8]> : tensor<5x8xf32> -> tensor<5x8xf32>\n'
        "  func.return %y : tensor<5x8xf32>\n}\n"
    )
    assert opt_main([str(src), "-p", "vaqf-pipeline"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "this is not a ViT" in line and line.startswith(f"{src}:1:1: error:")


# ----- the mixed scheme: mark-quantization{scheme=mixed}, assign-pot-rows -----------------


def test_mark_quantization_scheme_options():
    assert MarkQuantizationPass().weight_bits == 1
    assert MarkQuantizationPass(scheme="mixed").weight_bits == 4
    assert MarkQuantizationPass(6, 8, "mixed").weight_bits == 6
    for kwargs, message in [
        ({"scheme": "mixed", "wbits": 1}, "scheme=mixed needs wbits in 2..8"),
        ({"scheme": "mixed", "wbits": 9}, "scheme=mixed needs wbits in 2..8"),
        ({"scheme": "mixed", "abits": 0}, "abits must be in 1..16, got 0"),
        ({"scheme": "Mixed"}, "unknown scheme 'Mixed'"),
    ]:
        with pytest.raises(VaqfError, match=message):
            MarkQuantizationPass(**kwargs)


def test_assign_pot_rows_applies_the_rule_to_every_mixed_layer(small_deit):
    from vaqf_compiler import mixed
    from vaqf_compiler.passes.assign_pot_rows import assign_rows

    module = copy(small_deit.module)
    FoldPatchEmbedPass().apply(Context(), module)
    MarkQuantizationPass(3, 8, "mixed").apply(Context(), module)
    assert assign_rows(module, small_deit.params, 0.3) == 2 * 4
    module.verify()
    for op in module.walk():
        if isinstance(op, vit.LinearOp) and op.quant.mixed:
            w = small_deit.params[op.weight.key]
            assert np.array_equal(op.rows.pot_mask, mixed.assign_pot_rows(w, 3, 0.3)), op.weight.key
        elif isinstance(op, vit.LinearOp):
            assert op.rows is None and op.weight.key in ("patch_embed.weight", "head.weight")
    fn = next(op for op in module.walk() if op.name == "func.func")
    assert fn.attributes["vit.pot_ratio"].value.data == 0.3


def test_vaqf_opt_gives_assign_pot_rows_the_input_file(tmp_path, capsys, small_deit):
    from vaqf_compiler.params import attach_sidecar, save_params
    from vaqf_compiler.passes.sidecar import IR_FILE

    module = copy(small_deit.module)
    attach_sidecar(module, "m.npz", save_params(tmp_path / "m.npz", small_deit.params))
    (tmp_path / "m.mlir").write_text(print_ir(module))
    out = tmp_path / "a.mlir"
    assert opt_main([str(tmp_path / "m.mlir"), "-p", "vaqf-pipeline{scheme=mixed pot-ratio=1.0}", "-o", str(out)]) == 0
    lowered = parse_ir(out.read_text())
    mixed_engines = [op for op in lowered.walk() if isinstance(op, accel.EngineOp) and op.quant.mixed]
    assert len(mixed_engines) == 8 and all(op.rows.pot.data == op.rows.rows.data for op in mixed_engines)
    assert IR_FILE.get() is None  # nothing leaks out of the tool
    # Without a file, the pass needs weights=: one line that says so.
    with pytest.raises(VaqfError, match=r"give the sidecar as an option: assign-pot-rows\{weights=model.npz\}"):
        from vaqf_compiler.passes.assign_pot_rows import AssignPotRowsPass

        AssignPotRowsPass().apply(Context(), lowered)
