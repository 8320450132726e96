"""Float semantics of the `vit` ops: one numpy handler per op.

Every handler computes in float64 (operands arrive as float64, parameters come
from `Context.param` as float64) and means exactly what the PyTorch module the
op stands for computes:

- `vit.patch_embed`  `nn.Conv2d` (zero padding, any stride) then `flatten(2).transpose(1, 2)`
- `vit.patchify`     non-overlapping patches in row-major order, each flattened (c, i, j)
- `vit.linear`       `nn.Linear` with the weight flattened row-major to [out, in]
- `vit.layer_norm`   `nn.LayerNorm` over the last axis (biased variance)
- `vit.gelu`         `nn.GELU()` (exact, erf) or `nn.GELU(approximate="tanh")`
- `vit.softmax`      `softmax(dim=-1)`, max-subtracted
- the rest           indexing, reshapes and elementwise arithmetic

Weights are the sidecar's, as they are, with one exception: an FC layer whose
`quant` has mixed weights (`#vit.format<mixed k>`) uses the values its integer
weights stand for (`ints × step` per row, with the split of its `#vit.rows`),
i.e. the fake-quant weights training used. The sidecar keeps the float
weights because the row split is computed from them; float mode then runs the
network the accelerator runs, less activation rounding, so calibration sees
its ranges. (Binary weights need no such rule: a trained model's sidecar
already holds them binarized.)

The exact GELU uses `math.erf` (the C library's double-precision erf, error
below 1 ulp) element by element: numpy has no erf and scipy is not a
dependency. It costs about 0.13 µs per element.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from xdsl.dialects.builtin import DenseArrayBase

from vaqf_compiler import intconst
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.interp.base import Context, HandlerTable, handles

FLOAT_OPS: HandlerTable = {}


def _pair(attr: DenseArrayBase) -> tuple[int, int]:
    a, b = attr.get_values()
    return int(a), int(b)


def erf(x: np.ndarray) -> np.ndarray:
    """Elementwise erf in float64 through `math.erf`."""
    flat = np.asarray(x, dtype=np.float64).ravel()
    return np.fromiter(map(math.erf, flat.tolist()), np.float64, count=flat.size).reshape(np.shape(x))


def _linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    y = x @ w.reshape(w.shape[0], -1).T
    return y + b if b is not None else y


@handles(FLOAT_OPS, vit.PatchEmbedOp)
def patch_embed(op: vit.PatchEmbedOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (img,) = args
    w = ctx.param(op, op.weight)
    b = ctx.param(op, op.bias) if op.bias is not None else None
    d, c, kh, kw = w.shape
    sh, sw = _pair(op.stride)
    ph, pw = _pair(op.padding)
    padded = np.pad(img, ((0, 0), (ph, ph), (pw, pw)))
    # [C, H', W', kh, kw] windows at every position, then keep every stride-th one.
    windows = sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    _, oh, ow, _, _ = windows.shape
    # im2col: one row per output position (row-major), each in (c, i, j) order like the weight.
    cols = windows.transpose(1, 2, 0, 3, 4).reshape(oh * ow, c * kh * kw)
    return _linear(cols, w, b)


@handles(FLOAT_OPS, vit.PatchifyOp)
def patchify(op: vit.PatchifyOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (img,) = args
    c, h, w = img.shape
    ph, pw = _pair(op.patch)
    patches = img.reshape(c, h // ph, ph, w // pw, pw).transpose(1, 3, 0, 2, 4)
    return patches.reshape((h // ph) * (w // pw), c * ph * pw)


def _fc_weights(op: vit.LinearOp | accel.EngineOp, ctx: Context) -> np.ndarray:
    """The sidecar's weights; for mixed weights the values they are quantized to (see the module doc)."""
    assert op.weight is not None
    if op.quant is None or not op.quant.mixed:
        return ctx.param(op, op.weight)
    weight, quant = op.weight, op.quant

    rows = op.rows.mask.data if op.rows is not None else None
    return ctx.cached(("mixed values", weight.key, quant.weights.body(), rows),
                      lambda: intconst.mixed_values(op, weight, quant, ctx))


@handles(FLOAT_OPS, vit.LinearOp)
def linear(op: vit.LinearOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    b = ctx.param(op, op.bias) if op.bias is not None else None
    return _linear(x, _fc_weights(op, ctx), b)


@handles(FLOAT_OPS, vit.LayerNormOp)
def layer_norm(op: vit.LayerNormOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    var = np.mean(centered * centered, axis=-1, keepdims=True)
    y = centered / np.sqrt(var + op.eps.value.data)
    if op.weight is not None:
        y = y * ctx.param(op, op.weight)
    if op.bias is not None:
        y = y + ctx.param(op, op.bias)
    return y


@handles(FLOAT_OPS, vit.MatmulOp)
def matmul(op: vit.MatmulOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    a, b = args
    if op.transpose_b is not None:
        b = b.transpose(0, 2, 1)
    return a @ b


@handles(FLOAT_OPS, vit.SoftmaxOp)
def softmax(op: vit.SoftmaxOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@handles(FLOAT_OPS, vit.GeluOp)
def gelu(op: vit.GeluOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    if op.tanh is not None:
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


@handles(FLOAT_OPS, vit.ScaleOp)
def scale(op: vit.ScaleOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    return x * op.factor.value.data


@handles(FLOAT_OPS, vit.AddOp)
def add(op: vit.AddOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    a, b = args
    return a + b


@handles(FLOAT_OPS, vit.ClsConcatOp)
def cls_concat(op: vit.ClsConcatOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    d = x.shape[1]
    tokens = [ctx.param(op, t).reshape(1, d) for t in op.tokens.data]
    return np.concatenate([*tokens, x], axis=0)


@handles(FLOAT_OPS, vit.PosEmbedAddOp)
def pos_embed_add(op: vit.PosEmbedAddOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    return x + ctx.param(op, op.pos).reshape(x.shape)


@handles(FLOAT_OPS, vit.SplitHeadsOp)
def split_heads(op: vit.SplitHeadsOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    n, f = x.shape
    heads, part, parts = op.heads.value.data, op.part.value.data, op.parts.value.data
    width = f // parts
    return x[:, part * width : (part + 1) * width].reshape(n, heads, width // heads).transpose(1, 0, 2)


@handles(FLOAT_OPS, vit.MergeHeadsOp)
def merge_heads(op: vit.MergeHeadsOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    h, n, d = x.shape
    return x.transpose(1, 0, 2).reshape(n, h * d)


@handles(FLOAT_OPS, vit.SelectTokenOp)
def select_token(op: vit.SelectTokenOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    return x[op.index.value.data]


@handles(FLOAT_OPS, vit.MeanPoolOp)
def mean_pool(op: vit.MeanPoolOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    return x[op.first_token :].mean(axis=0)


# ----- the accel dialect: the same meaning on the accelerator's terms -----

for _accel_op, _vit_op in accel.MIRRORED.items():
    FLOAT_OPS[_accel_op] = FLOAT_OPS[_vit_op]


@handles(FLOAT_OPS, accel.LoadOp, accel.StoreOp)
def transfer(op: accel.LoadOp | accel.StoreOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    return args[0]  # moving data between DDR and tiles does not change its value in float


@handles(FLOAT_OPS, accel.EngineOp)
def engine(op: accel.EngineOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    if op.is_attention:
        return matmul(op, args, ctx)
    return linear(op, args, ctx)
