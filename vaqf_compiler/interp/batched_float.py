"""Float and fake-quant semantics of the `vit`/`accel` ops on a batch, in PyTorch (float64).

Each kernel builder takes the op and the build context (`batched.Build`) and
returns a function from the operands' tensors, each with a leading batch axis
[B, ...], to the result's. The meaning is `float_ops`' (the numpy float
interpreter), op for op, on B images at once; kernels compute in float64 and
agree with it to rounding (~1e-12 relative; GELU uses `torch.special.erf`,
not `math.erf`).

Fake-quant (`Build.fake_quant`): FC weights are the values the accelerator's
weight codes stand for (codes × step, `intconst.weight_codes`), and the runner
rounds every tensor stored as k-bit `int`/`uint` codes to its step
(`fake_quantize`); the 16-bit fixed-point tensors stay float
(docs/quantization.md, "How close the integer path is to the fake-quant model").

The data-movement kernels (patchify, heads, token select, loads and stores)
are shared with the integer path, which moves codes unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from xdsl.dialects.builtin import DenseArrayBase
from xdsl.ir import Operation

from vaqf_compiler import intconst as ic
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.dialects.vit import NumberKind
from vaqf_compiler.interp.base import handles
from vaqf_compiler.interp.float_ops import _fc_weights

Kernel = Callable[[Sequence[torch.Tensor]], torch.Tensor]
# (op, build context) -> kernel; the context is `batched.Build` (param, cached, tensor, fake_quant).
Builder = Callable[[Operation, "object"], Kernel]

# Registered with `base.handles`, as the numpy handlers are.
FLOAT_KERNELS: dict[type[Operation], Builder] = {}
MOVEMENT_KERNELS: dict[type[Operation], Builder] = {}


def _pair(attr: DenseArrayBase) -> tuple[int, int]:
    a, b = attr.get_values()
    return int(a), int(b)


# ----- data movement (float and integer alike) ----------------------------------


@handles(MOVEMENT_KERNELS, vit.PatchifyOp, accel.PatchifyOp)
def patchify(op, build) -> Kernel:
    ph, pw = _pair(op.patch)

    def run(args):
        (img,) = args
        b, c, h, w = img.shape
        patches = img.reshape(b, c, h // ph, ph, w // pw, pw).permute(0, 2, 4, 1, 3, 5)
        return patches.reshape(b, (h // ph) * (w // pw), c * ph * pw)

    return run


@handles(MOVEMENT_KERNELS, vit.SplitHeadsOp, accel.SplitHeadsOp)
def split_heads(op, build) -> Kernel:
    heads, part, parts = op.heads.value.data, op.part.value.data, op.parts.value.data

    def run(args):
        (x,) = args
        b, n, f = x.shape
        width = f // parts
        return x[:, :, part * width : (part + 1) * width].reshape(b, n, heads, width // heads).transpose(1, 2)

    return run


@handles(MOVEMENT_KERNELS, vit.MergeHeadsOp, accel.MergeHeadsOp)
def merge_heads(op, build) -> Kernel:
    def run(args):
        (x,) = args
        b, h, n, d = x.shape
        return x.transpose(1, 2).reshape(b, n, h * d)

    return run


@handles(MOVEMENT_KERNELS, vit.SelectTokenOp, accel.SelectTokenOp)
def select_token(op, build) -> Kernel:
    index = op.index.value.data
    return lambda args: args[0][:, index]


@handles(MOVEMENT_KERNELS, accel.LoadOp, accel.StoreOp)
def transfer(op, build) -> Kernel:
    return lambda args: args[0]


FLOAT_KERNELS.update(MOVEMENT_KERNELS)


# ----- compute ----------------------------------------------------------------------


@handles(FLOAT_KERNELS, vit.PatchEmbedOp)
def patch_embed(op: vit.PatchEmbedOp, build) -> Kernel:
    w = build.tensor(build.param(op, op.weight))
    b = build.tensor(build.param(op, op.bias)) if op.bias is not None else None
    stride, padding = _pair(op.stride), _pair(op.padding)

    def run(args):
        y = F.conv2d(args[0], w, b, stride=stride, padding=padding)
        return y.flatten(2).transpose(1, 2)

    return run


def fc_values(op: Operation, build) -> np.ndarray:
    """The FC weights [out, in] a float / fake-quant run multiplies with."""
    if build.fake_quant and op.quant is not None:
        codes, step = ic.weight_codes(op, op.weight, op.quant, build)
        return codes * step[:, None]
    return _fc_weights(op, build).reshape(op.weight.shape[0], -1)


def _linear(op: Operation, build) -> Kernel:
    wt = build.tensor(fc_values(op, build).T)
    b = build.tensor(build.param(op, op.bias)) if op.bias is not None else None

    def run(args):
        y = args[0] @ wt
        return y + b if b is not None else y

    return run


def _matmul(op: Operation, build) -> Kernel:
    transpose = op.transpose_b is not None

    def run(args):
        a, b = args
        return a @ (b.transpose(-1, -2) if transpose else b)

    return run


@handles(FLOAT_KERNELS, vit.LinearOp)
def linear(op, build) -> Kernel:
    return _linear(op, build)


@handles(FLOAT_KERNELS, vit.MatmulOp)
def matmul(op, build) -> Kernel:
    return _matmul(op, build)


@handles(FLOAT_KERNELS, accel.EngineOp)
def engine(op: accel.EngineOp, build) -> Kernel:
    return _matmul(op, build) if op.is_attention else _linear(op, build)


@handles(FLOAT_KERNELS, vit.LayerNormOp, accel.LayerNormOp)
def layer_norm(op, build) -> Kernel:
    eps = op.eps.value.data
    g = build.tensor(build.param(op, op.weight)) if op.weight is not None else None
    b = build.tensor(build.param(op, op.bias)) if op.bias is not None else None

    def run(args):
        (x,) = args
        centered = x - x.mean(dim=-1, keepdim=True)
        y = centered / torch.sqrt((centered * centered).mean(dim=-1, keepdim=True) + eps)
        if g is not None:
            y = y * g
        return y + b if b is not None else y

    return run


@handles(FLOAT_KERNELS, vit.SoftmaxOp, accel.SoftmaxOp)
def softmax(op, build) -> Kernel:
    return lambda args: torch.softmax(args[0], dim=-1)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@handles(FLOAT_KERNELS, vit.GeluOp, accel.GeluOp)
def gelu(op, build) -> Kernel:
    if op.tanh is not None:
        return lambda args: 0.5 * args[0] * (1.0 + torch.tanh(_SQRT_2_OVER_PI * (args[0] + 0.044715 * args[0] ** 3)))
    return lambda args: 0.5 * args[0] * (1.0 + torch.special.erf(args[0] / math.sqrt(2.0)))


@handles(FLOAT_KERNELS, vit.ScaleOp, accel.ScaleOp)
def scale(op, build) -> Kernel:
    factor = op.factor.value.data
    return lambda args: args[0] * factor


@handles(FLOAT_KERNELS, vit.AddOp, accel.AddOp)
def add(op, build) -> Kernel:
    return lambda args: args[0] + args[1]


@handles(FLOAT_KERNELS, vit.ClsConcatOp, accel.ClsConcatOp)
def cls_concat(op, build) -> Kernel:
    d = op.input.type.get_shape()[-1]
    tokens = build.tensor(np.stack([build.param(op, t).reshape(d) for t in op.tokens.data]))

    def run(args):
        (x,) = args
        return torch.cat([tokens.expand(x.shape[0], -1, -1), x], dim=1)

    return run


@handles(FLOAT_KERNELS, vit.PosEmbedAddOp, accel.PosEmbedAddOp)
def pos_embed_add(op, build) -> Kernel:
    pos = build.tensor(ic.pos_embed(op, build))
    return lambda args: args[0] + pos


# ----- fake quantization --------------------------------------------------------------


def fake_quantize(op: Operation, value: torch.Tensor) -> torch.Tensor:
    """The result of `op` rounded to its k-bit `int`/`uint` format (half up, saturated; 1 bit: the sign)."""
    fmt = getattr(op, "out", None) or getattr(op, "format", None)
    if not isinstance(fmt, vit.FormatAttr) or fmt.number_kind not in (NumberKind.INT, NumberKind.UINT):
        return value
    step = ic.step_of(fmt, op)
    lo, hi, binary = ic.code_range(fmt)
    if binary:
        return torch.where(value >= 0, step, -step).to(value.dtype)
    return torch.clamp(torch.floor(value / step + 0.5), lo, hi) * step
