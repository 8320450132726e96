"""Integer semantics of the quantized IR: the golden model of the accelerator (docs/quantization.md).

Every tensor is an int64 array of codes in the format its producer's `out`
names (`#vit.format<int 8 scale s>`: value = code × s). Handlers turn the
real-valued parameters and scales into integer constants with
`vaqf_compiler.fixedpoint` once per op (cached), then compute codes from codes.
They run on the annotated `vit` module (after mark-quantization and
calibration) and on the lowered `accel` module alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.ir import Operation, SSAValue

from vaqf_compiler import fixedpoint as fx
from vaqf_compiler import intconst as ic
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.interp.base import Context, HandlerTable, handles
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.interp.float_ops import FLOAT_OPS
from vaqf_compiler.ir import describe

INT_OPS: HandlerTable = {}

# The constants and formats live in `vaqf_compiler.intconst`, shared with the HLS backend.
INPUT_FORMAT_ATTR = ic.INPUT_FORMAT_ATTR
format_of = ic.format_of
step_of = ic.step_of
out_format = ic.out_format
_range = ic.code_range


def _finish(op: Operation, acc: np.ndarray, requant: fx.Requant) -> np.ndarray:
    return requant(acc, *_range(out_format(op)))


def _weights(op: Operation, attr: vit.ParamAttr, quant: vit.QuantAttr, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """(codes [out, in], per-channel step [out]) of the op's weights in their `quant` format."""
    rows = op.properties.get("rows")
    split = rows.mask.data if isinstance(rows, vit.RowSplitAttr) else None
    return ctx.cached(("weights", attr.key, quant.weights.body(), split),
                      lambda: ic.weight_codes(op, attr, quant, ctx))


# ----- matrix products ------------------------------------------------------


def fully_connected(op: Operation, x: np.ndarray, ctx: Context, weight: vit.ParamAttr, bias: vit.ParamAttr | None,
                    quant: vit.QuantAttr | None, input_value: SSAValue) -> np.ndarray:
    if quant is None:
        raise VaqfError("no `quant`: run mark-quantization first", where=describe(op))
    codes, w_step = _weights(op, weight, quant, ctx)
    bound = ic.fc_bound(codes, input_value)
    requant = ctx.cached(("fc", id(op)), lambda: ic.fc_requant(op, input_value, w_step, bias, bound, ctx))
    acc = fx.int_matmul(x, codes.T, bound, f"{op.name} accumulator")
    return _finish(op, acc, requant)


def head_matmul(op: Operation, a: np.ndarray, b: np.ndarray, ctx: Context, lhs: SSAValue, rhs: SSAValue,
                transpose_b: bool) -> np.ndarray:
    bound = ic.matmul_bound(op, lhs, rhs, a.shape[-1])
    requant = ctx.cached(("matmul", id(op)), lambda: ic.matmul_requant(op, lhs, rhs, bound))
    fx.check_exact(bound, f"{op.name} accumulator")
    bt = b.transpose(0, 2, 1) if transpose_b else b
    acc = np.rint(a.astype(np.float64) @ bt.astype(np.float64)).astype(np.int64)
    return _finish(op, acc, requant)


@handles(INT_OPS, vit.LinearOp)
def linear(op: vit.LinearOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    return fully_connected(op, args[0], ctx, op.weight, op.bias, op.quant, op.input)


@handles(INT_OPS, vit.MatmulOp)
def matmul(op: vit.MatmulOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    return head_matmul(op, args[0], args[1], ctx, op.lhs, op.rhs, op.transpose_b is not None)


@handles(INT_OPS, accel.EngineOp)
def engine(op: accel.EngineOp, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    if op.is_attention:
        assert op.rhs is not None
        return head_matmul(op, args[0], args[1], ctx, op.lhs, op.rhs, op.transpose_b is not None)
    assert op.weight is not None
    return fully_connected(op, args[0], ctx, op.weight, op.bias, op.quant, op.lhs)


# ----- elementwise and normalisation ---------------------------------------


def _rescale(op: Operation, inputs: Sequence[tuple[np.ndarray, SSAValue]], ctx: Context,
             factor: float = 1.0, offset: np.ndarray | float = 0.0) -> np.ndarray:
    """Σ codes_i × step_i × factor (+ offset), in the output format, with one rounding."""
    requants = ctx.cached(("rescale", id(op)),
                          lambda: ic.rescale_constants(op, [v for _, v in inputs], factor, offset))
    total = sum(codes * rq.multiplier for (codes, _), rq in zip(inputs, requants, strict=True))
    total = total + requants[0].offset
    return fx.to_codes(total, requants[0].shift, *_range(out_format(op)))


@handles(INT_OPS, vit.AddOp, accel.AddOp)
def add(op: vit.AddBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    return _rescale(op, [(args[0], op.lhs), (args[1], op.rhs)], ctx)


@handles(INT_OPS, vit.ScaleOp, accel.ScaleOp)
def scale(op: vit.ScaleBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    return _rescale(op, [(args[0], op.input)], ctx, factor=op.factor.value.data)


@handles(INT_OPS, vit.PosEmbedAddOp, accel.PosEmbedAddOp)
def pos_embed_add(op: vit.PosEmbedAddBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    return _rescale(op, [(x, op.input)], ctx, offset=ic.pos_embed(op, ctx))


@handles(INT_OPS, vit.ClsConcatOp, accel.ClsConcatOp)
def cls_concat(op: vit.ClsConcatBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    tokens = ctx.cached(("tokens", id(op)), lambda: ic.cls_tokens(op, ctx))
    return np.concatenate([tokens, _rescale(op, [(x, op.input)], ctx)], axis=0)


@handles(INT_OPS, vit.LayerNormOp, accel.LayerNormOp)
def layer_norm(op: vit.LayerNormBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    c = ctx.cached(("ln", id(op)), lambda: ic.layer_norm_constants(op, ctx))
    return fx.layer_norm_codes(x, c, format_of(op.input).bits.data, *_range(out_format(op)))


@handles(INT_OPS, vit.SoftmaxOp, accel.SoftmaxOp)
def softmax(op: vit.SoftmaxBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    levels = ic.softmax_levels(op)
    table = ctx.cached(("exp", id(op)), lambda: ic.softmax_table(op))
    lo, hi, _ = _range(out_format(op))
    return np.clip(fx.softmax_codes(x, table, levels), lo, hi)


@handles(INT_OPS, vit.GeluOp, accel.GeluOp)
def gelu(op: vit.GeluBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    in_lo = format_of(op.input).code_range[0]
    table = ctx.cached(("gelu", id(op)), lambda: ic.gelu_table(op))
    return table[x - in_lo]


@handles(INT_OPS, vit.MeanPoolOp, accel.MeanPoolOp)
def mean_pool(op: vit.MeanPoolBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    """The exact sum of each feature's codes from token `first` on, rescaled once by step_in / (count step_out)."""
    (x,) = args
    requant = ctx.cached(("mean", id(op)), lambda: ic.mean_pool_constants(op))
    return _finish(op, x[op.first_token :].sum(axis=0), requant)


# ----- data movement: codes unchanged -----------------------------------------


def _movement(op: Operation, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    ic.check_same_format(op, op.operands[0])
    return FLOAT_OPS[type(op)](op, args, ctx)


for _op in (
    vit.PatchifyOp, vit.SplitHeadsOp, vit.MergeHeadsOp, vit.SelectTokenOp,
    accel.PatchifyOp, accel.SplitHeadsOp, accel.MergeHeadsOp, accel.SelectTokenOp, accel.LoadOp, accel.StoreOp,
):
    INT_OPS[_op] = _movement
