"""ViTs as people have them (issue 17): HF `.pt2` files and directories, `nn.MultiheadAttention` with its
defaults, vit-pytorch's reshape/permute patchify with mean pooling, tanh-GELU written as its formula.

Each is built with random weights (re-randomised: library defaults hide bugs), imported through the
command line (`vaqf import`, `vaqf run`) and compared with PyTorch's logits within 1e-4; the ones marked
`csim` go through `vaqf compile --csim`, whose C simulation must be bit-identical to the integer reference.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from transformers import (
    BeitConfig,
    BeitForImageClassification,
    DeiTConfig,
    DeiTForImageClassificationWithTeacher,
    Dinov2Config,
    Dinov2ForImageClassification,
    ViTConfig,
    ViTForImageClassification,
)
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region

from test_hls_csim import needs_gxx
from test_import_cmd import one_line_error
from vaqf_compiler.cli.main import main
from vaqf_compiler.cli.model_arg import resolve_model
from vaqf_compiler.cost.workload import extract_workload
from vaqf_compiler.dialects import vit
from vaqf_compiler.dialects.vit import FormatAttr
from vaqf_compiler.interp import int_ops
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend import load
from vaqf_compiler.frontend.load import export_module, load_program
from vaqf_compiler.frontend.torch_import import import_program
from vaqf_compiler.interp import run_function
from vaqf_compiler.ir import parse_ir
from vaqf_compiler.models.deit import randomize_parameters
from vit_zoo import MhaDefaultViT, PatchLinearViT, TanhGeluViT, TimmStyleViT

ATOL = 1e-4


def logits_of(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model(torch.from_numpy(x)[None])
    return getattr(out, "logits", out).numpy()[0]


def image(shape: tuple[int, int, int], seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def import_and_run(spec: str, x: np.ndarray, tmp_path, capsys) -> np.ndarray:
    """`vaqf import SPEC -o m.mlir` then `vaqf run m.mlir --input x.npy -o y.npy`: the logits."""
    ir, xin, out = tmp_path / "m.mlir", tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(xin, x)
    assert main(["import", spec, "-o", str(ir), "-q"]) == 0, capsys.readouterr().err
    assert main(["run", str(ir), "--input", str(xin), "-o", str(out)]) == 0, capsys.readouterr().err
    return np.load(out).reshape(-1)


def matches_torch_via_cli(model: nn.Module, shape, seed: int, tmp_path, capsys) -> str:
    """Export `model` to a .pt2, `vaqf import` + `vaqf run` it, compare with PyTorch; the IR text."""
    x = image(shape, seed)
    got = import_and_run(save_pt2(model, shape, tmp_path / "model.pt2"), x, tmp_path, capsys)
    assert np.abs(got - logits_of(model, x)).max() < ATOL
    return (tmp_path / "m.mlir").read_text()


def save_pt2(model: nn.Module, shape, path) -> str:
    torch.export.save(export_module(model, shape), str(path))
    return str(path)


def small_vit(**kw) -> ViTForImageClassification:
    cfg = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=64, num_labels=5)
    return randomize_parameters(ViTForImageClassification(ViTConfig(**{**cfg, **kw})).eval(), 3)


def small_deit_teacher() -> DeiTForImageClassificationWithTeacher:
    cfg = DeiTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, num_labels=5)
    return randomize_parameters(DeiTForImageClassificationWithTeacher(cfg).eval(), 4)


# ----- HuggingFace .pt2 files and directories ------------------------------------------------


def test_hf_vit_pt2_imports_and_runs(tmp_path, capsys):
    assert "vit.patch_embed" in matches_torch_via_cli(small_vit(), (3, 32, 32), 7, tmp_path, capsys)


def test_hf_deit_with_teacher_pt2_and_directory(tmp_path, capsys):
    """Its output has three tensors; the `logits` field (the mean of both heads) is what vaqf compiles."""
    model = small_deit_teacher()
    x = image((3, 32, 32), 8)
    want = logits_of(model, x)
    got = import_and_run(save_pt2(model, (3, 32, 32), tmp_path / "deit.pt2"), x, tmp_path, capsys)
    assert np.abs(got - want).max() < ATOL
    model.save_pretrained(tmp_path / "deit_dir")
    got = import_and_run(str(tmp_path / "deit_dir"), x, tmp_path, capsys)
    assert np.abs(got - want).max() < ATOL


def test_hf_directory_with_non_square_image(tmp_path, capsys):
    model = small_vit(image_size=[32, 48], num_channels=1)
    model.save_pretrained(tmp_path / "vit_dir")
    x = image((1, 32, 48), 9)
    got = import_and_run(str(tmp_path / "vit_dir"), x, tmp_path, capsys)
    assert np.abs(got - logits_of(model, x)).max() < ATOL


@dataclasses.dataclass
class _Out:
    logits: torch.Tensor


class _Wrapped(nn.Module):
    """A model whose output class is registered with pytree under a given name."""

    def __init__(self):
        super().__init__()
        self.inner = small_vit()

    def forward(self, x):
        return _Out(self.inner(x).logits)


def _pt2_with_unregistered_output(tmp_path, type_name: str):
    torch.export.register_dataclass(_Out, serialized_type_name=type_name)
    try:
        path = save_pt2(_Wrapped().eval(), (3, 32, 32), tmp_path / "wrapped.pt2")
    finally:
        torch.utils._pytree._deregister_pytree_node(_Out)
    return path


def test_unloadable_pt2_is_one_line_naming_the_cause(tmp_path, capfd):
    path = _pt2_with_unregistered_output(tmp_path, "mylib.outputs.Out")
    assert main(["import", path, "-o", str(tmp_path / "m.mlir")]) == 1
    err = capfd.readouterr().err
    assert "Traceback" not in err and "warnings above" not in err and "serialize.py" not in err
    (line,) = err.strip().splitlines()
    assert "Deserializing mylib.outputs.Out in pytree is not registered" in line
    assert "return_dict=False" in line and "save_pretrained directory" in line
    # --verbose shows torch's own log, then the same line.
    assert main(["import", path, "-o", str(tmp_path / "m.mlir"), "--verbose"]) == 1
    err = capfd.readouterr().err
    assert "torch: " in err and "Traceback" in err
    assert err.strip().splitlines()[-1] == line


def test_pt2_of_transformers_without_transformers(tmp_path, monkeypatch):
    path = _pt2_with_unregistered_output(tmp_path, "transformers.not_there.Out")
    monkeypatch.setattr(load, "register_pytree_classes", lambda: False)
    with pytest.raises(VaqfError, match=r"needs the `transformers` package to load; install it"):
        load_program(Path(path))


def test_hf_directory_that_is_not_an_image_classifier(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert", "architectures": ["BertForMaskedLM"]}')
    with pytest.raises(VaqfError, match=r"BertForMaskedLM is not supported \(not an image classifier\)"):
        resolve_model(str(tmp_path))


# ----- one MODEL argument for every subcommand ---------------------------------------------


def test_every_subcommand_takes_the_same_model_argument(tmp_path, capsys):
    model = small_vit()
    pt2 = save_pt2(model, (3, 32, 32), tmp_path / "vit.pt2")
    model.save_pretrained(tmp_path / "vit_dir")
    for spec in (pt2, str(tmp_path / "vit_dir")):
        out = tmp_path / "q.mlir"
        assert main(["quantize", spec, "--abits", "8", "-o", str(out)]) == 0, capsys.readouterr().err
        assert main(["dse", spec, "--target-fps", "1"]) == 0, capsys.readouterr().err
        assert "W1A8" in capsys.readouterr().out
        assert main(["dse", str(out), "--target-fps", "1"]) == 0
        capsys.readouterr()
    for sub in (["quantize", "nope.pt2", "-o", str(tmp_path / "x.mlir")], ["dse", "nope.pt2", "--target-fps", "1"],
                ["import", "nope.pt2", "-o", str(tmp_path / "x.mlir")]):
        assert main(sub) == 1
        assert "model 'nope.pt2' not found: give a built-in name" in one_line_error(capsys)


# ----- nn.MultiheadAttention with its defaults: dead code ------------------------------------


def test_multihead_attention_default_need_weights(tmp_path, capsys):
    """The averaged attention weights (aten.mean over heads) are computed and unused: dead code."""
    text = matches_torch_via_cli(randomize_parameters(MhaDefaultViT().eval(), 5), (3, 32, 32), 10, tmp_path, capsys)
    # It scales q before Q·Kᵀ; the import scales the product, as for every other attention, so Q and K
    # are both read as codes once quantized.
    module = parse_ir(text)
    scales = [op for op in module.walk() if op.name == "vit.scale"]
    assert len(scales) == 2 and all(op.input.owner.name == "vit.matmul" for op in scales)


def test_unused_unsupported_op_is_not_judged():
    class Debug(MhaDefaultViT):
        def forward(self, x):
            _ = torch.sort(x.flatten())  # never used: not imported, not reported
            return super().forward(x)

    model = randomize_parameters(Debug().eval(), 6)
    imported = import_program(export_module(model, (3, 32, 32)))
    x = image((3, 32, 32))
    assert np.abs(run_function(imported.module, imported.params, x) - logits_of(model, x)).max() < ATOL


# ----- tanh-GELU as its formula ----------------------------------------------------------


@pytest.mark.parametrize("cube", [False, True], ids=["pow", "x*x*x"])
def test_tanh_gelu_formula_becomes_vit_gelu_tanh(cube, tmp_path, capsys):
    text = matches_torch_via_cli(randomize_parameters(TanhGeluViT(cube=cube).eval(), 7), (3, 32, 32), 11,
                                 tmp_path, capsys)
    assert text.count("vit.gelu") == 2 and text.count(" tanh") == 2


def test_hf_gelu_new_and_fast_gelu(tmp_path, capsys):
    for act in ("gelu_new", "gelu_fast", "gelu_pytorch_tanh"):
        model = small_vit(hidden_act=act)
        imported = import_program(export_module(model, (3, 32, 32)))
        gelus = [op for op in imported.module.walk() if op.name == "vit.gelu"]
        assert len(gelus) == 2 and all(op.tanh is not None for op in gelus), act
        x = image((3, 32, 32))
        assert np.abs(run_function(imported.module, imported.params, x) - logits_of(model, x)).max() < ATOL


class _AlmostGelu(nn.Module):
    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + self.c * torch.pow(x, 3.0))))


def test_a_different_constant_is_not_gelu():
    model = TanhGeluViT()
    for b in model.blocks:
        b["mlp"][1] = _AlmostGelu(0.05)
    with pytest.raises(VaqfError, match=r"unsupported aten op 'aten\.(pow|tanh)"):
        import_program(export_module(model.eval(), (3, 32, 32)))


# ----- vit-pytorch: reshape/permute patchify, LN + Linear embedding, mean pool, no CLS ---------


@pytest.mark.parametrize("order", ["p1 p2 c", "c p1 p2", "p2 c p1"])
def test_reshape_patchify_any_channel_order(order, tmp_path, capsys):
    text = matches_torch_via_cli(randomize_parameters(PatchLinearViT(order=order).eval(), 8), (3, 32, 24), 12,
                                 tmp_path, capsys)
    assert "vit.patchify" in text and "vit.mean_pool" in text and "vit.cls_concat" not in text


def test_patches_in_column_major_order_are_refused():
    class Swapped(PatchLinearViT):
        def rearrange(self, img):
            b, c, hh, ww = img.shape
            h, w = hh // self.p1, ww // self.p2
            x = img.reshape(b, c, h, self.p1, w, self.p2).permute(0, 4, 2, 3, 5, 1)  # (w h): not row-major
            return x.reshape(b, h * w, -1)

    refused = r"in module 'to_patch\.0': the image is rearranged to .* not into non-overlapping patches"
    with pytest.raises(VaqfError, match=refused):
        import_program(export_module(Swapped().eval(), (3, 32, 24)))


def test_mean_over_features_is_not_mean_pooling():
    class FeatureMean(PatchLinearViT):
        def forward(self, img):
            x = self.to_patch(self.rearrange(img)) + self.pos
            return self.head(x.mean(dim=-1, keepdim=True).expand(-1, -1, 32).mean(dim=1))

    with pytest.raises(VaqfError, match="mean over dim .*-1.*token axis only"):
        import_program(export_module(FeatureMean().eval(), (3, 32, 24)))


def test_mean_pool_is_a_host_op_in_the_workload():
    model = randomize_parameters(PatchLinearViT().eval(), 9)
    imported = import_program(export_module(model, (3, 32, 24)))
    from vaqf_compiler.passes.vaqf_pipeline import VaqfPipelinePass
    from vaqf_compiler.registry import make_registry_context

    VaqfPipelinePass(wbits=1, abits=8).apply(make_registry_context(), imported.module)
    host = dict(extract_workload(imported.module, "simple").host_ops)
    assert host.get("accel.mean_pool") == 1 and host.get("accel.patchify") == 1


# ----- LayerScale, mean pooling after the CLS token, cls+mean heads: timm, BEiT, DINOv2 -----------

SMALL_HF = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_labels=5)


def small_beit() -> BeitForImageClassification:
    """BEiT's defaults: LayerScale (lambda_1/2), no absolute position embedding, mean pooling of tokens 1:."""
    return randomize_parameters(BeitForImageClassification(BeitConfig(**SMALL_HF, intermediate_size=64)).eval(), 13)


def small_dinov2() -> Dinov2ForImageClassification:
    """DINOv2: LayerScale, and a head over cat(CLS token, mean of the patch tokens)."""
    return randomize_parameters(Dinov2ForImageClassification(Dinov2Config(**SMALL_HF, mlp_ratio=2)).eval(), 14)


@pytest.mark.parametrize("pool", ["avg", "token"])
def test_timm_style_layer_scale_and_pooling(pool, tmp_path, capsys):
    text = matches_torch_via_cli(randomize_parameters(TimmStyleViT(pool=pool).eval(), 15), (3, 32, 32), 13,
                                 tmp_path, capsys)
    assert ("vit.mean_pool" in text and " from 1 " in text) == (pool == "avg")
    # LayerScale is folded into the projections before it: no per-feature multiply is left, and the
    # sidecar keeps only the folded weights.
    assert "blocks.0.proj.weight*blocks.0.ls1" in text and "blocks.1.fc2.bias*blocks.1.ls2" in text
    assert text.count("vit.scale") == 2  # the attention scales only
    assert "blocks.0.ls1" not in np.load(tmp_path / "m.npz").files


def test_hf_beit_default_config(tmp_path, capsys):
    text = matches_torch_via_cli(small_beit(), (3, 32, 32), 14, tmp_path, capsys)
    assert "vit.mean_pool" in text and " from 1 " in text


def test_hf_dinov2_cls_and_mean_head(tmp_path, capsys):
    text = matches_torch_via_cli(small_dinov2(), (3, 32, 32), 15, tmp_path, capsys)
    names = [op.name for op in parse_ir(text).walk()]
    assert names[-4:] == ["vit.linear", "vit.linear", "vit.add", "func.return"]


class _ScaledResidual(TimmStyleViT):
    """A per-feature factor on the residual stream (after an add, not a linear)."""

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.blocks(x) * self.blocks[0].ls1
        return self.head(self.fc_norm(x[:, 1:].mean(dim=1)))


class _SlicedTokens(TimmStyleViT):
    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.blocks(x)[:, 1:]).mean(dim=1)


class _ConcatNorm(TimmStyleViT):
    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.blocks(x)
        both = torch.cat([x[:, 0], x[:, 1:].mean(dim=1)], dim=-1)
        return nn.functional.layer_norm(both, (64,))


@pytest.mark.parametrize("model,message", [
    (_ScaledResidual, r"'aten\.mul\.Tensor'.*does not follow a linear whose output nothing else reads"),
    (_SlicedTokens, r"tokens \[1:\] of an activation are read by something other than a mean"),
    (_ConcatNorm, r"'aten\.layer_norm\.default'.*concatenation of feature vectors is read by something other"
                  r" than a linear"),
])
def test_what_the_new_forms_still_refuse(model, message):
    with pytest.raises(VaqfError, match=message):
        import_program(export_module(model().eval(), (3, 32, 32)))


@pytest.mark.parametrize("first,want", [(0, [3, 4]), (1, [4, 6])])
def test_mean_pool_integer_semantics(first, want):
    """Codes [[1, 2], [3, 4], [5, 7]], unit steps: exact sums 9, 13 (8, 11 from token 1), one half-up rounding."""
    block = Block(arg_types=[vit.tensor(3, 2)])
    src = vit.ScaleOp(block.args[0], 1.0)
    src.properties["out"] = FormatAttr("fixed", 16, 1.0)
    op = vit.MeanPoolOp(src.result, vit.tensor(2), first)
    op.properties["out"] = FormatAttr("fixed", 16, 1.0)
    block.add_ops([src, op, func.ReturnOp(op.result)])
    ModuleOp([func.FuncOp("forward", ([vit.tensor(3, 2)], [vit.tensor(2)]), Region(block))]).verify()

    class Ctx:
        def cached(self, key, compute):
            return compute()

    x = np.array([[1, 2], [3, 4], [5, 7]], dtype=np.int64)
    assert int_ops.mean_pool(op, [x], Ctx()).tolist() == want


# ----- vaqf compile --csim: bit-identical C simulation -----------------------------------------


def compile_csim(spec: str, tmp_path, capsys) -> str:
    prj = tmp_path / "prj"
    code = main(["compile", spec, "--target-fps", "1", "-o", str(prj), "--csim", "-q"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "csim        PASS, bit-identical to the integer reference" in out.out, out.out
    return (prj / "host" / "vaqf_model.h").read_text()


@needs_gxx
def test_csim_reshape_patchify_mean_pool(tmp_path, capsys):
    """The small default-suite case: host patchify (fused with the image's quantization), LN + Linear embedding,
    host mean pool."""
    model = randomize_parameters(PatchLinearViT(order="p1 p2 c").eval(), 10)
    host = compile_csim(save_pt2(model, (3, 32, 24), tmp_path / "s.pt2"), tmp_path, capsys)
    assert "host::mean_pool(" in host and "host::quantize_patches(" in host


@needs_gxx
@pytest.mark.slow
@pytest.mark.parametrize("which", ["hf-vit", "hf-deit-teacher", "mha", "tanh-gelu", "timm-avg", "hf-beit", "hf-dinov2"])
def test_csim_of_each_family(which, tmp_path, capsys):
    if which == "hf-vit":
        spec = save_pt2(small_vit(hidden_act="gelu_new"), (3, 32, 32), tmp_path / "m.pt2")
    elif which == "hf-deit-teacher":
        spec = save_pt2(small_deit_teacher(), (3, 32, 32), tmp_path / "m.pt2")
    elif which == "mha":
        spec = save_pt2(randomize_parameters(MhaDefaultViT().eval(), 11), (3, 32, 32), tmp_path / "m.pt2")
    elif which == "tanh-gelu":
        spec = save_pt2(randomize_parameters(TanhGeluViT(cube=True).eval(), 12), (3, 32, 32), tmp_path / "m.pt2")
    elif which == "timm-avg":
        spec = save_pt2(randomize_parameters(TimmStyleViT().eval(), 16), (3, 32, 32), tmp_path / "m.pt2")
    else:
        spec = save_pt2(small_beit() if which == "hf-beit" else small_dinov2(), (3, 32, 32), tmp_path / "m.pt2")
    compile_csim(spec, tmp_path, capsys)


class _Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


class _TokenMixing(nn.Module):
    """MLP-Mixer's token mixing: a linear over the token axis."""

    def __init__(self):
        super().__init__()
        self.patch, self.tok, self.head = nn.Conv2d(3, 8, 8, 8), nn.Linear(16, 16), nn.Linear(8, 5)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = t + self.tok(t.transpose(1, 2)).transpose(1, 2)
        return self.head(t[:, 0])


@pytest.mark.parametrize("model,message", [
    (_Mlp, r"in module 'fc': it reads the flattened image \(an MLP\); a ViT cuts the image into patches first"),
    (_TokenMixing, r"in module 'tok': it runs over the token axis .*MLP-Mixer's token mixing"),
])
def test_errors_name_the_real_cause(model, message):
    with pytest.raises(VaqfError, match=message) as info:
        import_program(export_module(model().eval(), (3, 32, 32)))
    assert "head split/merge" not in str(info.value)
