"""The numpy reference interpreter against PyTorch, op by op and on a whole small ViT.

Every parameter is random (no zero biases, no unit LayerNorm scales): library
defaults would hide transposed or forgotten parameters. Single ops are
compared with PyTorch in float64 to ~1e-10 (same meaning); the whole model
with PyTorch in float32 to the documented 1e-4.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue

from vaqf_compiler.dialects import vit
from vaqf_compiler.dialects.vit import ParamAttr, tensor
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.interp import Interpreter, run_batch, run_function
from vaqf_compiler.interp.float_ops import FLOAT_OPS, erf
from vaqf_compiler.ir import parse_ir, print_ir

EXACT = dict(rtol=1e-10, atol=1e-10)


class Params(dict[str, np.ndarray]):
    """Random float32 parameters, handed out as #vit.param attributes."""

    def __init__(self, seed: int = 0):
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def new(self, name: str, *shape: int, std: float = 0.5, mean: float = 0.0) -> ParamAttr:
        self[name] = (mean + std * self.rng.standard_normal(shape)).astype(np.float32)
        return ParamAttr(name, shape)

    def t(self, name: str) -> torch.Tensor:
        return torch.from_numpy(self[name]).double()


def module(in_shape: Sequence[int], build: Callable[[SSAValue], list[Operation]]) -> ModuleOp:
    """`func.func @forward(%x: tensor<in_shape>)` returning the last op that `build` creates."""
    block = Block(arg_types=[tensor(*in_shape)])
    ops = build(block.args[0])
    out = ops[-1].results[0]
    block.add_ops([*ops, func.ReturnOp(out)])
    m = ModuleOp([func.FuncOp("forward", ([tensor(*in_shape)], [out.type]), Region(block))])
    m.verify()
    return m


def run(m: ModuleOp, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The interpreter's float64 result (before the float32 cast), for tight comparisons."""
    interp = Interpreter(m, params)
    return _run64(interp, x)


def _run64(interp: Interpreter, x: np.ndarray) -> np.ndarray:
    env = {interp.function.body.block.args[0]: np.asarray(x, np.float64)}
    for op in interp.function.body.block.ops:
        if isinstance(op, func.ReturnOp):
            return env[op.arguments[0]]
        env[op.results[0]] = interp.handlers[type(op)](op, [env[v] for v in op.operands], interp)
    raise AssertionError("no return")


def randn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


# ---------------------------------------------------------------------------
# Single ops
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "c,h,w,d,k,stride,pad,bias",
    [
        (3, 16, 16, 8, (4, 4), (4, 4), (0, 0), True),  # ViT patch embedding
        (3, 11, 13, 5, (5, 3), (3, 2), (1, 2), True),  # overlapping, uneven, padded
        (2, 9, 7, 4, (3, 3), (1, 1), (1, 1), False),  # "same" conv, no bias
        (1, 10, 10, 3, (4, 4), (3, 3), (0, 0), True),  # stride leaves a remainder
    ],
)
def test_patch_embed_is_conv2d(c, h, w, d, k, stride, pad, bias):
    p = Params(1)
    wt = p.new("w", d, c, *k)
    b = p.new("b", d) if bias else None
    oh = (h + 2 * pad[0] - k[0]) // stride[0] + 1
    ow = (w + 2 * pad[1] - k[1]) // stride[1] + 1
    m = module([c, h, w], lambda x: [vit.PatchEmbedOp(x, wt, b, stride, pad, tensor(oh * ow, d))])
    x = randn(p.rng, c, h, w)
    got = run(m, p, x)
    ref = F.conv2d(
        torch.from_numpy(x)[None], p.t("w"), p.t("b") if bias else None, stride=stride, padding=pad
    ).flatten(2).transpose(1, 2)[0]
    np.testing.assert_allclose(got, ref.numpy(), **EXACT)


def test_patchify_then_linear_equals_patch_embed():
    p = Params(2)
    wt, b = p.new("w", 6, 3, 4, 2), p.new("b", 6)
    shape = [3, 8, 10]
    n = (8 // 4) * (10 // 2)
    embed = module(shape, lambda x: [vit.PatchEmbedOp(x, wt, b, (4, 2), (0, 0), tensor(n, 6))])

    def split(x):
        cols = vit.PatchifyOp(x, (4, 2), tensor(n, 3 * 4 * 2))
        return [cols, vit.LinearOp(cols, wt, b, tensor(n, 6))]

    x = randn(p.rng, *shape)
    np.testing.assert_allclose(run(module(shape, split), p, x), run(embed, p, x), **EXACT)


def test_patchify_order():
    x = np.arange(2 * 4 * 6, dtype=np.float64).reshape(2, 4, 6)
    m = module([2, 4, 6], lambda v: [vit.PatchifyOp(v, (2, 3), tensor(4, 12))])
    got = run(m, {}, x)
    # patch (row 0, col 1): channel 0 rows 0-1 cols 3-5, then channel 1.
    np.testing.assert_array_equal(got[1], np.concatenate([x[0, 0:2, 3:6].ravel(), x[1, 0:2, 3:6].ravel()]))
    ref = F.unfold(torch.from_numpy(x)[None], (2, 3), stride=(2, 3))[0].T  # torch: (c, i, j) per patch
    np.testing.assert_array_equal(got, ref.numpy())


@pytest.mark.parametrize("in_shape", [[5, 12], [12]])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(in_shape, bias):
    p = Params(3)
    wt = p.new("w", 7, 12)
    b = p.new("b", 7) if bias else None
    m = module(in_shape, lambda x: [vit.LinearOp(x, wt, b, tensor(*in_shape[:-1], 7))])
    x = randn(p.rng, *in_shape)
    ref = F.linear(torch.from_numpy(x), p.t("w"), p.t("b") if bias else None)
    np.testing.assert_allclose(run(m, p, x), ref.numpy(), **EXACT)


@pytest.mark.parametrize("in_shape", [[5, 16], [16]])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm(in_shape, affine):
    p = Params(4)
    wt = p.new("w", 16, mean=1.0) if affine != "none" else None
    b = p.new("b", 16) if affine == "both" else None
    m = module(in_shape, lambda x: [vit.LayerNormOp(x, wt, b, 1e-3, tensor(*in_shape))])
    x = 3.0 + 2.0 * randn(p.rng, *in_shape)  # offset and spread: mean and (biased) variance matter
    ref = F.layer_norm(
        torch.from_numpy(x), (16,), p.t("w") if wt is not None else None, p.t("b") if b is not None else None, eps=1e-3
    )
    np.testing.assert_allclose(run(m, p, x), ref.numpy(), **EXACT)


@pytest.mark.parametrize("transpose_b", [True, False])
def test_matmul(transpose_b):
    rng = np.random.default_rng(5)
    a, b = randn(rng, 3, 5, 4), randn(rng, 3, 5, 4) if transpose_b else randn(rng, 3, 4, 6)
    block = Block(arg_types=[tensor(*a.shape), tensor(*b.shape)])
    op = vit.MatmulOp(block.args[0], block.args[1], transpose_b, tensor(3, 5, 5 if transpose_b else 6))
    block.add_op(op)
    op.verify()
    got = FLOAT_OPS[vit.MatmulOp](op, [a, b], None)
    tb = torch.from_numpy(b)
    ref = torch.from_numpy(a) @ (tb.transpose(1, 2) if transpose_b else tb)
    np.testing.assert_allclose(got, ref.numpy(), **EXACT)


@pytest.mark.parametrize("shape", [[7], [4, 7], [2, 4, 7]])
def test_softmax_is_stable(shape):
    rng = np.random.default_rng(6)
    x = 400.0 * randn(rng, *shape)  # exp() overflows without the max shift
    m = module(shape, lambda v: [vit.SoftmaxOp(v)])
    got = run(m, {}, x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, torch.softmax(torch.from_numpy(x), -1).numpy(), **EXACT)


@pytest.mark.parametrize("approx", [False, True])
def test_gelu(approx):
    x = np.concatenate([np.linspace(-8, 8, 400), np.random.default_rng(7).standard_normal(200)]).reshape(3, 2, 100)
    m = module([3, 2, 100], lambda v: [vit.GeluOp(v, tanh=approx)])
    ref = F.gelu(torch.from_numpy(x), approximate="tanh" if approx else "none")
    np.testing.assert_allclose(run(m, {}, x), ref.numpy(), rtol=1e-12, atol=1e-14)


def test_erf_is_math_erf():
    x = np.random.default_rng(8).standard_normal((4, 5)) * 3
    assert erf(x).shape == (4, 5)
    np.testing.assert_array_equal(erf(x), np.vectorize(math.erf)(x))


def test_scale_add_select():
    rng = np.random.default_rng(9)
    x = randn(rng, 5, 6)

    def build(v):
        s = vit.ScaleOp(v, -0.375)
        a = vit.AddOp(s, v)
        return [s, a, vit.SelectTokenOp(a, 3, tensor(6))]

    np.testing.assert_allclose(run(module([5, 6], build), {}, x), (x * -0.375 + x)[3], **EXACT)


def test_cls_concat_prepends_tokens_in_order():
    p = Params(10)
    cls, dist = p.new("cls", 1, 1, 8), p.new("dist", 1, 1, 8)
    m = module([4, 8], lambda v: [vit.ClsConcatOp(v, [cls, dist], tensor(6, 8))])
    x = randn(p.rng, 4, 8)
    ref = torch.cat([p.t("cls")[0], p.t("dist")[0], torch.from_numpy(x)], dim=0)
    np.testing.assert_allclose(run(m, p, x), ref.numpy(), **EXACT)


def test_pos_embed_add():
    p = Params(11)
    pos = p.new("pos", 1, 5, 8)
    m = module([5, 8], lambda v: [vit.PosEmbedAddOp(v, pos)])
    x = randn(p.rng, 5, 8)
    np.testing.assert_allclose(run(m, p, x), x + p["pos"][0].astype(np.float64), **EXACT)


def test_split_and_merge_heads_match_timm_attention_layout():
    n, heads, d = 5, 2, 3
    rng = np.random.default_rng(12)
    qkv = randn(rng, n, 3 * heads * d)
    # timm: qkv.reshape(B, N, 3, H, d).permute(2, 0, 3, 1, 4) -> q, k, v of [B, H, N, d]
    ref = torch.from_numpy(qkv)[None].reshape(1, n, 3, heads, d).permute(2, 0, 3, 1, 4)
    for part in range(3):
        m = module([n, 3 * heads * d], lambda v: [vit.SplitHeadsOp(v, heads, part, 3, tensor(heads, n, d))])
        got = run(m, {}, qkv)
        np.testing.assert_array_equal(got, ref[part, 0].numpy())
        # timm merges with x.transpose(1, 2).reshape(B, N, C)
        merge = module([heads, n, d], lambda v: [vit.MergeHeadsOp(v, tensor(n, heads * d))])
        np.testing.assert_array_equal(run(merge, {}, got), ref[part].transpose(1, 2).reshape(1, n, -1)[0].numpy())


# ---------------------------------------------------------------------------
# A whole small ViT against a PyTorch model with the same (random) weights
# ---------------------------------------------------------------------------

C, IMG, PATCH, D, HEADS, MLP, CLASSES = 3, 16, 4, 32, 4, 64, 10
N = (IMG // PATCH) ** 2 + 1
HD = D // HEADS


class TorchViT(nn.Module):
    """One pre-norm block, written the timm way (fused qkv, exact GELU)."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(C, D, PATCH, PATCH)
        self.cls = nn.Parameter(torch.zeros(1, 1, D))
        self.pos = nn.Parameter(torch.zeros(1, N, D))
        self.ln1, self.ln2, self.norm = nn.LayerNorm(D, eps=1e-6), nn.LayerNorm(D, eps=1e-6), nn.LayerNorm(D)
        self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.fc1, self.fc2 = nn.Linear(D, MLP), nn.Linear(MLP, D)
        self.head = nn.Linear(D, CLASSES)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.patch(img).flatten(2).transpose(1, 2)
        b = x.shape[0]
        x = torch.cat([self.cls.expand(b, -1, -1), x], dim=1) + self.pos
        qkv = self.qkv(self.ln1(x)).reshape(b, N, 3, HEADS, HD).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * HD**-0.5).softmax(-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, N, D))
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return self.head(self.norm(x)[:, 0])


def vit_module(p: Params) -> ModuleOp:
    def build(img: SSAValue) -> list[Operation]:
        ops: list[Operation] = []

        def add(op: Operation) -> SSAValue:
            ops.append(op)
            return op.results[0]

        def ln(x: SSAValue, name: str, eps: float) -> SSAValue:
            w, b = p.new(f"{name}.weight", D, mean=1.0, std=0.3), p.new(f"{name}.bias", D, std=0.2)
            return add(vit.LayerNormOp(x, w, b, eps, tensor(N, D)))

        def lin(x: SSAValue, name: str, o: int, i: int, rows: int | None = N) -> SSAValue:
            w, b = p.new(f"{name}.weight", o, i, std=i**-0.5), p.new(f"{name}.bias", o, std=0.2)
            return add(vit.LinearOp(x, w, b, tensor(rows, o) if rows else tensor(o)))

        pw = p.new("patch.weight", D, C, PATCH, PATCH, std=0.2)
        x = add(vit.PatchEmbedOp(img, pw, p.new("patch.bias", D, std=0.2), (PATCH, PATCH), (0, 0), tensor(N - 1, D)))
        x = add(vit.ClsConcatOp(x, [p.new("cls", 1, 1, D)], tensor(N, D)))
        x = add(vit.PosEmbedAddOp(x, p.new("pos", 1, N, D, std=0.2)))
        qkv = lin(ln(x, "ln1", 1e-6), "qkv", 3 * D, D)
        q, k, v = (add(vit.SplitHeadsOp(qkv, HEADS, i, 3, tensor(HEADS, N, HD))) for i in range(3))
        s = add(vit.MatmulOp(q, k, True, tensor(HEADS, N, N)))
        a = add(vit.SoftmaxOp(add(vit.ScaleOp(s, HD**-0.5))))
        o = add(vit.MergeHeadsOp(add(vit.MatmulOp(a, v, False, tensor(HEADS, N, HD))), tensor(N, D)))
        x = add(vit.AddOp(x, lin(o, "proj", D, D)))
        h = add(vit.GeluOp(lin(ln(x, "ln2", 1e-6), "fc1", MLP, D)))
        x = add(vit.AddOp(x, lin(h, "fc2", D, MLP)))
        c = add(vit.SelectTokenOp(ln(x, "norm", 1e-5), 0, tensor(D)))
        lin(c, "head", CLASSES, D, rows=None)
        return ops

    return module([C, IMG, IMG], build)


def torch_vit(p: Params) -> TorchViT:
    model = TorchViT().eval()
    state = {k: torch.from_numpy(v) for k, v in p.items()}
    model.load_state_dict(state, strict=True)
    return model


@pytest.fixture(scope="module")
def tiny_vit():
    p = Params(13)
    m = vit_module(p)
    return m, p, torch_vit(p)


def test_vit_forward_matches_torch_float32(tiny_vit):
    m, p, model = tiny_vit
    images = np.random.default_rng(14).standard_normal((3, C, IMG, IMG)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(images)).numpy()
    got = run_batch(m, p, images)
    assert got.dtype == np.float32 and got.shape == (3, CLASSES)
    assert np.abs(ref).max() > 0.5  # a real signal, not all zeros
    assert np.abs(got - ref).max() < 1e-4
    # And in float64 the two agree to rounding: same meaning, op for op.
    with torch.no_grad():
        ref64 = model.double()(torch.from_numpy(images).double()).numpy()
    model.float()
    np.testing.assert_allclose(_run64(Interpreter(m, p), images[0]), ref64[0], rtol=1e-9, atol=1e-10)


def test_vit_round_trips_through_text(tiny_vit):
    m, p, _ = tiny_vit
    img = np.random.default_rng(15).standard_normal((C, IMG, IMG)).astype(np.float32)
    again = parse_ir(print_ir(m), "vit.mlir")
    np.testing.assert_array_equal(run_function(again, p, img), run_function(m, p, img))


def test_run_batch_equals_single_runs(tiny_vit):
    m, p, _ = tiny_vit
    images = np.random.default_rng(16).standard_normal((2, C, IMG, IMG)).astype(np.float32)
    batch = run_batch(m, p, images)
    for i in range(2):
        np.testing.assert_array_equal(batch[i], run_function(m, p, images[i]))
    assert run_batch(m, p, images[:0]).shape == (0, CLASSES)


# ---------------------------------------------------------------------------
# Errors and entry-point selection
# ---------------------------------------------------------------------------

TEXT = """\
builtin.module {{
  func.func @first(%x: tensor<4xf32>) -> tensor<4xf32> {{
    %0 = vit.scale %x by 2.0 : f64 : tensor<4xf32> -> tensor<4xf32>
    func.return %0 : tensor<4xf32>
  }}
  func.func @{name}(%x: tensor<4xf32>) -> tensor<4xf32> {{
    {extra}%0 = vit.scale %x by 3.0 : f64 : tensor<4xf32> -> tensor<4xf32>
    func.return %0 : tensor<4xf32>
  }}
}}
"""


def test_forward_is_preferred_else_first_function():
    x = np.ones(4, np.float32)
    assert run_function(parse_ir(TEXT.format(name="forward", extra="")), {}, x).tolist() == [3.0] * 4
    assert run_function(parse_ir(TEXT.format(name="other", extra="")), {}, x).tolist() == [2.0] * 4


def test_unsupported_op_is_named_with_its_location():
    text = TEXT.format(name="forward", extra="%c = arith.constant 1.0 : f32\n    ")
    m = parse_ir(text, "model.mlir")
    with pytest.raises(VaqfError) as e:
        run_function(m, {}, np.ones(4, np.float32))
    assert str(e.value).startswith("model.mlir:7:5: 'arith.constant': ")
    assert "not support" in str(e.value)


def test_wrong_image_shape():
    m = parse_ir(TEXT.format(name="forward", extra=""))
    with pytest.raises(VaqfError, match=r"shape \[5\] but the function expects \[4\]"):
        run_function(m, {}, np.ones(5, np.float32))


def test_missing_and_misshaped_parameters():
    p = Params(17)
    wt = p.new("w", 3, 4)
    m = module([4], lambda x: [vit.LinearOp(x, wt, None, tensor(3))])
    with pytest.raises(VaqfError, match="parameter 'w' is missing"):
        run_function(m, {}, np.ones(4, np.float32))
    with pytest.raises(VaqfError, match=r"parameter 'w' has shape \[4, 3\] but the IR declares \[3, 4\]"):
        run_function(m, {"w": p["w"].T}, np.ones(4, np.float32))


def test_unknown_mode():
    m = parse_ir(TEXT.format(name="forward", extra=""))
    with pytest.raises(VaqfError, match="unknown interpreter mode 'int8'"):
        run_function(m, {}, np.ones(4, np.float32), mode="int8")
