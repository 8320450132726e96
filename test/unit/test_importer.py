"""The torch.export importer: structure recognised from aten graphs, logits equal PyTorch's.

Every model is re-randomised (biases, norm scales, tokens, position embeddings)
before comparing, so a wrongly imported parameter cannot hide behind a
library default.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch import nn
from transformers import DeiTConfig, DeiTForImageClassification, ViTConfig, ViTForImageClassification

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.load import builtin_program, export_module, load_program
from vaqf_compiler.frontend.torch_import import import_program
from vaqf_compiler.interp import run_function
from vaqf_compiler.ir import parse_ir, print_ir
from vaqf_compiler.models.deit import build_deit, randomize_parameters

# float64 reference interpreter vs PyTorch float32 on O(1)-scaled logits.
ATOL = 1e-4


def logits_of(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        out = model(x)
    out = getattr(out, "logits", out)
    return out.numpy()[0]


def check_against_torch(model: nn.Module, image_shape: tuple[int, int, int], seed: int = 1):
    model = randomize_parameters(model.eval(), seed)
    x = torch.randn(1, *image_shape, generator=torch.Generator().manual_seed(seed + 100))
    imported = import_program(export_module(model, image_shape))
    imported.module.verify()
    got = run_function(imported.module, imported.params, x.numpy()[0])
    want = logits_of(model, x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < ATOL, np.abs(got - want).max()
    return imported


def op_names(module) -> list[str]:
    return [op.name for op in module.walk() if op.name.startswith("vit.")]


@pytest.mark.parametrize("fused", [True, False], ids=["sdpa", "explicit-attention"])
def test_builtin_deit_matches_torch(fused):
    model = build_deit("deit-tiny", depth=2, fused_attention=fused)
    imported = check_against_torch(model, (3, 224, 224))
    names = op_names(imported.module)
    assert names.count("vit.split_heads") == 6 and names.count("vit.merge_heads") == 2
    assert names.count("vit.linear") == 2 * 4 + 1
    assert names[:3] == ["vit.patch_embed", "vit.cls_concat", "vit.pos_embed_add"]


@pytest.mark.parametrize("name,dim,heads", [("deit-tiny", 192, 3), ("deit-small", 384, 6), ("deit-base", 768, 12)])
def test_builtin_shapes(name, dim, heads):
    start = time.perf_counter()
    imported = import_program(builtin_program(name))
    elapsed = time.perf_counter() - start
    text = print_ir(imported.module)
    assert f"tensor<197x{dim}xf32>" in text
    assert f"heads {heads} part 0 of 3" in text
    assert op_names(imported.module).count("vit.linear") == 12 * 4 + 1
    assert imported.params["blocks.11.fc1.weight"].shape == (4 * dim, dim)
    # The textual IR stays small: weights live in the sidecar.
    assert len(text) < 40_000
    assert elapsed < 60  # generous: CI machines are slow; the benchmark measures it properly


def test_hf_deit_non_default_config():
    cfg = DeiTConfig(
        image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=3,
        intermediate_size=96, num_labels=10, layer_norm_eps=1e-5,
    )
    imported = check_against_torch(DeiTForImageClassification(cfg), (3, 32, 32))
    concat = next(op for op in imported.module.walk() if op.name == "vit.cls_concat")
    # DeiT prepends the CLS and the distillation token.
    assert [t.key for t in concat.tokens.data] == ["deit.embeddings.cls_token", "deit.embeddings.distillation_token"]


def test_hf_vit_non_square_one_channel():
    cfg = ViTConfig(
        image_size=(32, 48), patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=96, num_labels=7, num_channels=1, hidden_act="gelu_pytorch_tanh",
    )
    check_against_torch(ViTForImageClassification(cfg), (1, 32, 48))


def test_hf_vit_eager_attention_with_mask_add():
    cfg = ViTConfig(
        image_size=32, patch_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, num_labels=3,
    )
    cfg._attn_implementation = "eager"
    check_against_torch(ViTForImageClassification(cfg), (3, 32, 32))


class MhaViT(nn.Module):
    """A ViT on nn.TransformerEncoder (nn.MultiheadAttention), batch-first or sequence-first."""

    def __init__(self, batch_first: bool, heads: int = 3):
        super().__init__()
        self.batch_first = batch_first
        self.patch = nn.Conv2d(3, 48, 8, 8)
        self.cls = nn.Parameter(torch.zeros(1, 1, 48))
        self.pos = nn.Parameter(torch.zeros(1, 17, 48))
        layer = nn.TransformerEncoderLayer(
            48, heads, 96, dropout=0.1, batch_first=batch_first, norm_first=True, activation="gelu"
        )
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(48, 5)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1) + self.pos
        if not self.batch_first:
            t = t.transpose(0, 1)
        t = self.encoder(t)
        return self.head(t[:, 0] if self.batch_first else t[0])


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_encoder(batch_first):
    check_against_torch(MhaViT(batch_first), (3, 32, 32))


def test_single_head_attention():
    check_against_torch(MhaViT(True, heads=1), (3, 32, 32))


def test_pt2_round_trip(tmp_path):
    model = randomize_parameters(build_deit("deit-tiny", depth=1), 4)
    path = tmp_path / "m.pt2"
    torch.export.save(export_module(model, (3, 224, 224)), str(path))
    imported = import_program(load_program(path))
    x = np.random.default_rng(0).standard_normal((3, 224, 224)).astype(np.float32)
    got = run_function(imported.module, imported.params, x)
    assert np.abs(got - logits_of(model, torch.from_numpy(x)[None])).max() < ATOL


def test_imported_ir_round_trips():
    text = print_ir(import_program(export_module(build_deit("deit-tiny", depth=1), (3, 224, 224))).module)
    assert print_ir(parse_ir(text)) == text


# ----- unsupported models: clear errors naming the op and the source line -----


class Wrapper(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x)


def import_error(model: nn.Module, shape=(3, 32, 32)) -> str:
    with pytest.raises(VaqfError) as info:
        import_program(export_module(model, shape))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unsupported_aten_op_names_op_shape_and_line():
    class Pooled(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(3, 16, 8, 8)

        def forward(self, x):
            return torch.nn.functional.max_pool2d(self.patch(x), 2)

    message = import_error(Pooled())
    assert "aten.max_pool2d" in message
    assert "[1, 16, 2, 2]" in message
    assert "test_importer.py:" in message and "max_pool2d(self.patch(x), 2)" in message


def test_grouped_conv_refused():
    message = import_error(Wrapper(nn.Conv2d(4, 8, 8, 8, groups=2)), (4, 32, 32))
    assert "grouped/depthwise conv2d (groups=2)" in message


def test_conv_kernel_not_stride_refused():
    message = import_error(Wrapper(nn.Conv2d(3, 8, 8, 4)))
    assert "kernel [8, 8] differs from stride [4, 4]" in message


def test_conv_padding_refused():
    message = import_error(Wrapper(nn.Conv2d(3, 8, 8, 8, padding=1)))
    assert "padding [1, 1]" in message


def test_attention_mask_refused():
    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.mask = nn.Parameter(torch.randn(16, 16))
            self.patch = nn.Conv2d(3, 16, 8, 8)

        def forward(self, x):
            q = self.patch(x).flatten(2).transpose(1, 2).reshape(1, 16, 2, 8).transpose(1, 2)
            return torch.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=self.mask)

    assert "attention with a mask" in import_error(Masked())


def test_causal_attention_refused():
    class Causal(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(3, 16, 8, 8)

        def forward(self, x):
            t = self.patch(x).flatten(2).transpose(1, 2).reshape(1, 16, 2, 8).transpose(1, 2)
            return torch.nn.functional.scaled_dot_product_attention(t, t, t, is_causal=True)

    assert "causal attention" in import_error(Causal())


def test_active_dropout_refused():
    class Dropping(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(3, 16, 8, 8)

        def forward(self, x):
            return torch.nn.functional.dropout(self.patch(x), 0.5, training=True)

    assert "dropout p=0.5 is active" in import_error(Dropping())


def test_batch_of_two_refused():
    model = build_deit("deit-tiny", depth=1)
    program = torch.export.export(model, (torch.zeros(2, 3, 224, 224),))
    with pytest.raises(VaqfError, match=r"one image \[1, C, H, W\], got \[2, 3, 224, 224\]"):
        import_program(program)


def test_dynamic_batch_refused():
    model = build_deit("deit-tiny", depth=1)
    batch = torch.export.Dim("batch", min=2, max=8)
    program = torch.export.export(model, (torch.zeros(2, 3, 224, 224),), dynamic_shapes=({0: batch},))
    with pytest.raises(VaqfError, match="dynamic shape"):
        import_program(program)


def test_missing_pt2_and_garbage_pt2(tmp_path):
    with pytest.raises(VaqfError, match="not found"):
        load_program(tmp_path / "nope.pt2")
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not a zip")
    with pytest.raises(VaqfError, match="cannot load"):
        load_program(bad)


# --------------------------------------------------------------------------
# Robustness: models vaqf cannot compile get one clear line, never a traceback
# --------------------------------------------------------------------------

SMALL_DEIT = dict(image_size=(32, 32), patch_size=8, dim=32, heads=2, depth=1, num_classes=10)


class _Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 8, 3, padding=1), nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


class _Identity(nn.Module):
    def forward(self, x):
        return x


class _Constant(nn.Module):
    def forward(self, x):
        return torch.zeros(1, 10)


class _Pooled(nn.Module):
    """A patch embedding followed by average pooling and an op vaqf has no unit for (relu)."""

    def __init__(self):
        super().__init__()
        self.patch, self.fc = nn.Conv2d(3, 8, 8, stride=8), nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.patch(x).flatten(2).transpose(1, 2)))[:, 0]


ROBUSTNESS = {
    "non-ViT CNN": (_Cnn(), (3, 16, 16), r"conv2d kernel \[3, 3\] differs from stride \[1, 1\]: not a patch embedding"),
    "empty model": (_Identity(), (3, 8, 8), "computes nothing from its image"),
    "output ignores the image": (_Constant(), (3, 8, 8), "does not depend on its input image"),
    "unsupported op": (_Pooled(), (3, 32, 32), r"unsupported aten op 'aten.relu.default' .* at test_importer.py:\d+"),
    "odd image size": (
        build_deit("deit-tiny", **{**SMALL_DEIT, "image_size": (30, 30)}), (3, 30, 30),
        "image 30x30 is not a multiple of the patch size 8x8",
    ),
    "zero classes": (build_deit("deit-tiny", **{**SMALL_DEIT, "num_classes": 0}), (3, 32, 32),
                     r"'head.weight' has a zero-size shape \[0, 32\]"),
    "hidden not divisible by heads": (build_deit("deit-tiny", **{**SMALL_DEIT, "dim": 30, "heads": 4}), (3, 32, 32),
                                      "torch.export failed on DeiT: shape .* is invalid"),
    "zero heads": (build_deit("deit-tiny", **{**SMALL_DEIT, "heads": 0}), (3, 32, 32),
                   "torch.export failed on DeiT: integer division or modulo by zero"),
}


@pytest.mark.parametrize("name", ROBUSTNESS)
def test_unsupported_models_give_one_clear_line(name):
    model, shape, pattern = ROBUSTNESS[name]
    with pytest.raises(VaqfError, match=pattern) as info:
        import_program(export_module(model, shape))
    assert "\n" not in str(info.value)


def test_not_a_vit_without_patch_embedding():
    """A model of ops vaqf knows but no patch embedding (a linear over each pixel row) is not a ViT."""

    class RowMlp(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            return self.fc(x[0, 0])

    with pytest.raises(VaqfError, match="not a ViT: the model has no patch embedding"):
        import_program(export_module(RowMlp(), (1, 8, 8)))


def test_dynamic_image_size_refused():
    model = build_deit("deit-tiny", **SMALL_DEIT)
    dims = {2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO}
    program = torch.export.export(model.eval(), (torch.zeros(1, 3, 32, 32),), dynamic_shapes=(dims,))
    with pytest.raises(VaqfError, match=r"dynamic shape \[1, 3, s\d+, s\d+\]; export with static shapes"):
        import_program(program)


def test_unexpected_failures_inside_the_importer_are_one_line(monkeypatch):
    from vaqf_compiler.frontend import torch_import

    def boom(self, node, a):
        raise KeyError("something the importer did not foresee")

    monkeypatch.setitem(torch_import.TorchImporter.__init__.__globals__, "_pair", lambda v: boom(None, None, None))
    with pytest.raises(VaqfError, match=r"cannot import the model \(KeyError\): 'something the importer did not"):
        import_program(export_module(build_deit("deit-tiny", **SMALL_DEIT), (3, 32, 32)))


def test_import_command_reports_a_non_vit_in_one_line(tmp_path, capsys):
    from vaqf_compiler.cli.main import main

    path = tmp_path / "cnn.pt2"
    torch.export.save(export_module(_Cnn(), (3, 16, 16)), str(path))
    assert main(["import", str(path), "-o", str(tmp_path / "m.mlir")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("vaqf import: error: unsupported 'aten.conv2d.default'")
    assert not (tmp_path / "m.mlir").exists()
