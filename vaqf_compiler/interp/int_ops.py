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
from xdsl.dialects import func
from xdsl.ir import Operation, SSAValue

from vaqf_compiler import fixedpoint as fx
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.dialects.vit import FormatAttr, NumberKind
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.interp.base import Context, HandlerTable, handles
from vaqf_compiler.interp.float_ops import FLOAT_OPS
from vaqf_compiler.ir import describe

INT_OPS: HandlerTable = {}

# Function attribute: the format the host converts the float image into.
INPUT_FORMAT_ATTR = "vit.input_format"


def format_of(value: SSAValue) -> FormatAttr:
    """How `value` is stored: its producer's `out` (or a load/store's `format`), or the input format."""
    owner = value.owner
    fmt = None
    if isinstance(owner, Operation):
        fmt, site = getattr(owner, "out", None) or getattr(owner, "format", None), owner
    else:
        site = owner.parent_op()
        if isinstance(site, func.FuncOp):
            fmt = site.attributes.get(INPUT_FORMAT_ATTR)
    if not isinstance(fmt, FormatAttr):
        where = describe(site) if site is not None else None
        raise VaqfError("no storage format: quantize and calibrate the model first (vaqf quantize)", where=where)
    return fmt


def step_of(fmt: FormatAttr, op: Operation) -> float:
    if fmt.number_kind == NumberKind.UINT and fmt.step is None:
        return 1.0 / ((1 << fmt.bits.data) - 1)
    if fmt.step is None:
        raise VaqfError(f"format {fmt.body()} has no scale: calibrate the model first (vaqf quantize)",
                        where=describe(op))
    return fmt.step


def out_format(op: Operation) -> FormatAttr:
    return format_of(op.results[0])


def _range(fmt: FormatAttr) -> tuple[int, int, bool]:
    lo, hi = fmt.code_range
    return lo, hi, fmt.bits.data == 1 and fmt.number_kind != NumberKind.UINT


def _finish(op: Operation, acc: np.ndarray, requant: fx.Requant) -> np.ndarray:
    return requant(acc, *_range(out_format(op)))


def _max_code(fmt: FormatAttr) -> int:
    lo, hi = fmt.code_range
    return max(abs(lo), abs(hi))


def _weights(op: Operation, attr: vit.ParamAttr, quant: vit.QuantAttr, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """(codes [out, in], per-channel step [out]) of the op's weights in their `quant` format."""

    def compute() -> tuple[np.ndarray, np.ndarray]:
        w = ctx.param(op, attr)
        if quant.weights.number_kind == NumberKind.BINARY:
            return fx.binarize(w)
        codes, step = fx.fixed_weights(w, quant.weights.bits.data)
        return codes, np.full(codes.shape[0], step)

    return ctx.cached(("weights", attr.key, quant.weights.body()), compute)


# ----- matrix products ------------------------------------------------------


def fully_connected(op: Operation, x: np.ndarray, ctx: Context, weight: vit.ParamAttr, bias: vit.ParamAttr | None,
                    quant: vit.QuantAttr | None, input_value: SSAValue) -> np.ndarray:
    if quant is None:
        raise VaqfError("no `quant`: run mark-quantization first", where=describe(op))
    codes, w_step = _weights(op, weight, quant, ctx)
    x_fmt = format_of(input_value)
    y_fmt = out_format(op)
    k = codes.shape[1]
    bound = float(k) * _max_code(x_fmt) * float(np.abs(codes).max(initial=1))

    def constants() -> fx.Requant:
        y_step = step_of(y_fmt, op)
        b = ctx.param(op, bias) if bias is not None else 0.0
        return fx.requant_constants(step_of(x_fmt, op) * w_step / y_step, bound, np.asarray(b) / y_step)

    requant = ctx.cached(("fc", id(op)), constants)
    acc = fx.int_matmul(x, codes.T, bound, f"{op.name} accumulator")
    return _finish(op, acc, requant)


def head_matmul(op: Operation, a: np.ndarray, b: np.ndarray, ctx: Context, lhs: SSAValue, rhs: SSAValue,
                transpose_b: bool) -> np.ndarray:
    a_fmt, b_fmt = format_of(lhs), format_of(rhs)
    k = a.shape[-1]
    bound = float(k) * _max_code(a_fmt) * _max_code(b_fmt)
    requant = ctx.cached(
        ("matmul", id(op)),
        lambda: fx.requant_constants(step_of(a_fmt, op) * step_of(b_fmt, op) / step_of(out_format(op), op), bound),
    )
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
    y_step = step_of(out_format(op), op)
    fmts = [format_of(v) for _, v in inputs]
    bound = float(sum(_max_code(f) for f in fmts))

    def constants() -> list[fx.Requant]:
        ratios = [step_of(f, op) * factor / y_step for f in fmts]
        # One shift for all terms: the largest ratio decides it.
        top = max(range(len(ratios)), key=lambda i: ratios[i])
        first = fx.requant_constants(ratios[top], bound, np.asarray(offset) / y_step)
        return [
            fx.Requant(np.int64(round(r * 2.0**first.shift)), first.offset if i == 0 else np.int64(0), first.shift)
            for i, r in enumerate(ratios)
        ]

    requants = ctx.cached(("rescale", id(op)), constants)
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
    pos = ctx.param(op, op.pos).reshape(x.shape)
    return _rescale(op, [(x, op.input)], ctx, offset=pos)


@handles(INT_OPS, vit.ClsConcatOp, accel.ClsConcatOp)
def cls_concat(op: vit.ClsConcatBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    fmt = out_format(op)
    lo, hi, binary = _range(fmt)
    step = step_of(fmt, op)
    tokens = ctx.cached(
        ("tokens", id(op)),
        lambda: np.stack([fx.quantize(ctx.param(op, t).reshape(-1), step, lo, hi, binary) for t in op.tokens.data]),
    )
    return np.concatenate([tokens, _rescale(op, [(x, op.input)], ctx)], axis=0)


@handles(INT_OPS, vit.LayerNormOp, accel.LayerNormOp)
def layer_norm(op: vit.LayerNormBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    in_fmt, y_fmt = format_of(op.input), out_format(op)
    dim = x.shape[-1]

    def constants() -> fx.LayerNormConstants:
        gamma = ctx.param(op, op.weight) if op.weight is not None else None
        beta = ctx.param(op, op.bias) if op.bias is not None else None
        return fx.layer_norm_constants(gamma, beta, op.eps.value.data, dim, step_of(in_fmt, op), step_of(y_fmt, op))

    c = ctx.cached(("ln", id(op)), constants)
    return fx.layer_norm_codes(x, c, in_fmt.bits.data, *_range(y_fmt))


@handles(INT_OPS, vit.SoftmaxOp, accel.SoftmaxOp)
def softmax(op: vit.SoftmaxBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    y_fmt = out_format(op)
    levels = 1.0 / step_of(y_fmt, op)
    if abs(levels - round(levels)) > 1e-9 * levels:
        raise VaqfError(f"softmax output scale {y_fmt.step} is not 1/integer", where=describe(op))
    table = ctx.cached(("exp", id(op)), lambda: fx.exp_table(step_of(format_of(op.input), op)))
    lo, hi, _ = _range(y_fmt)
    return np.clip(fx.softmax_codes(x, table, int(round(levels))), lo, hi)


@handles(INT_OPS, vit.GeluOp, accel.GeluOp)
def gelu(op: vit.GeluBase, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    (x,) = args
    in_fmt, y_fmt = format_of(op.input), out_format(op)
    in_lo, in_hi = in_fmt.code_range
    lo, hi, binary = _range(y_fmt)
    table = ctx.cached(
        ("gelu", id(op)),
        lambda: fx.gelu_table(in_lo, in_hi, step_of(in_fmt, op), step_of(y_fmt, op), lo, hi,
                              tanh=op.tanh is not None, out_binary=binary),
    )
    return table[x - in_lo]


# ----- data movement: codes unchanged -----------------------------------------


def _same_format(op: Operation, value: SSAValue) -> None:
    a, b = format_of(value), out_format(op)
    if (a.number_kind, a.bits.data, a.step) != (b.number_kind, b.bits.data, b.step):
        raise VaqfError(f"moves data but changes its format ({a.body()} -> {b.body()})", where=describe(op))


def _movement(op: Operation, args: Sequence[np.ndarray], ctx: Context) -> np.ndarray:
    _same_format(op, op.operands[0])
    return FLOAT_OPS[type(op)](op, args, ctx)


for _op in (
    vit.PatchifyOp, vit.SplitHeadsOp, vit.MergeHeadsOp, vit.SelectTokenOp,
    accel.PatchifyOp, accel.SplitHeadsOp, accel.MergeHeadsOp, accel.SelectTokenOp, accel.LoadOp, accel.StoreOp,
):
    INT_OPS[_op] = _movement
