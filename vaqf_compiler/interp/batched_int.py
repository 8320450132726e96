"""Integer semantics of the quantized IR on a batch, in PyTorch: `int_ops`, B images at once, bit for bit.

Every tensor is an int64 tensor of codes with a leading batch axis. The
integer constants (weight codes, multipliers, offsets, shifts, tables) are
the ones `int_ops` uses, from `vaqf_compiler.intconst`, computed once when the
kernel is built; the arithmetic on codes is `fixedpoint`'s, on int64 tensors:
half-up rounding shifts, saturation, integer softmax and layer norm.

Matrix products of codes are the only floating-point step, and only where it
is exact: every partial sum of a product is bounded by the op's worst case
(`intconst.fc_bound`, `intconst.matmul_bound`, from the formats, not the
data). Below 2^24 the product runs in float32, below 2^53 in float64 (as the
numpy path does); beyond that it is refused (`fixedpoint.RangeError`, which
the runner turns into a one-line error naming the op) — the numpy path refuses
the same ops. The runner disables TF32 and reduced-precision reductions.

Layer norm's per-row reciprocal r = isqrt(2^(2K) div V) equals floor(2^K / √V)
(floor∘sqrt∘floor = floor∘sqrt); it is computed in float64, whose error is
below 2^-26 for r < 2^26, and recomputed with Python's `math.isqrt` for the
rare rows where 2^K / √V lies within 1e-6 of an integer.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from xdsl.ir import Operation, SSAValue

from vaqf_compiler import fixedpoint as fx
from vaqf_compiler import intconst as ic
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.interp.batched_float import MOVEMENT_KERNELS, Kernel, kernel_for
from vaqf_compiler.ir import describe

INT_KERNELS: dict = {}

# float32 holds every integer below 2**24 exactly.
FLOAT32_EXACT_BITS = 24


def matmul_dtype(bound: float, what: str) -> torch.dtype:
    """The narrowest float type in which every partial sum below `bound` is exact; RangeError beyond 2^53."""
    fx.check_exact(bound, what)
    return torch.float32 if bound < 2.0**FLOAT32_EXACT_BITS else torch.float64


def round_shift(x: torch.Tensor, shift: int | torch.Tensor) -> torch.Tensor:
    """floor(x / 2**shift + 1/2) on int64 (`fixedpoint.round_shift`); a tensor of shifts must be > 0."""
    if isinstance(shift, torch.Tensor):
        return (x + (torch.ones_like(x) << (shift - 1))) >> shift
    if shift <= 0:
        return x << -shift
    return (x + (1 << (shift - 1))) >> shift


def to_codes(scaled: torch.Tensor, shift: int, lo: int, hi: int, binary: bool = False) -> torch.Tensor:
    """`fixedpoint.to_codes` on int64 tensors."""
    if binary:
        return torch.where(scaled >= 0, 1, -1).to(torch.int64)
    return torch.clamp(round_shift(scaled, shift), lo, hi)


class Requant:
    """`fixedpoint.Requant` with its multiplier and offset on the device."""

    def __init__(self, rq: fx.Requant, build):
        self.multiplier = build.tensor(rq.multiplier, torch.int64)
        self.offset = build.tensor(rq.offset, torch.int64)
        self.shift = int(rq.shift)

    def __call__(self, acc: torch.Tensor, lo: int, hi: int, binary: bool) -> torch.Tensor:
        return to_codes(acc * self.multiplier + self.offset, self.shift, lo, hi, binary)


def _checked(op: Operation, compute):
    """Build-time constants; a RangeError becomes `vaqf run --mode int`'s one-line error."""
    try:
        return compute()
    except fx.RangeError as e:
        raise VaqfError(f"{e}; use fewer bits", where=describe(op)) from None


# ----- matrix products ------------------------------------------------------------


def _fully_connected(op: Operation, build, weight: vit.ParamAttr, bias: vit.ParamAttr | None,
                     quant: vit.QuantAttr | None, input_value: SSAValue) -> Kernel:
    if quant is None:
        raise VaqfError("no `quant`: run mark-quantization first", where=describe(op))
    codes, w_step = ic.weight_codes(op, weight, quant, build)
    bound = ic.fc_bound(codes, input_value)
    dtype = _checked(op, lambda: matmul_dtype(bound, f"{op.name} accumulator"))
    requant = Requant(_checked(op, lambda: ic.fc_requant(op, input_value, w_step, bias, bound, build)), build)
    wt = build.tensor(codes.T, dtype)
    lo, hi, binary = ic.code_range(ic.out_format(op))

    def run(args):
        acc = torch.matmul(args[0].to(dtype), wt).to(torch.int64)
        return requant(acc, lo, hi, binary)

    return run


def _head_matmul(op: Operation, build, lhs: SSAValue, rhs: SSAValue, transpose_b: bool) -> Kernel:
    bound = ic.matmul_bound(op, lhs, rhs, lhs.type.get_shape()[-1])
    requant = Requant(_checked(op, lambda: ic.matmul_requant(op, lhs, rhs, bound)), build)
    dtype = _checked(op, lambda: matmul_dtype(bound, f"{op.name} accumulator"))
    lo, hi, binary = ic.code_range(ic.out_format(op))

    def run(args):
        a, b = args
        bt = b.transpose(-1, -2) if transpose_b else b
        acc = torch.matmul(a.to(dtype), bt.to(dtype)).to(torch.int64)
        return requant(acc, lo, hi, binary)

    return run


@kernel_for(INT_KERNELS, vit.LinearOp)
def linear(op: vit.LinearOp, build) -> Kernel:
    return _fully_connected(op, build, op.weight, op.bias, op.quant, op.input)


@kernel_for(INT_KERNELS, vit.MatmulOp)
def matmul(op: vit.MatmulOp, build) -> Kernel:
    return _head_matmul(op, build, op.lhs, op.rhs, op.transpose_b is not None)


@kernel_for(INT_KERNELS, accel.EngineOp)
def engine(op: accel.EngineOp, build) -> Kernel:
    if op.is_attention:
        assert op.rhs is not None
        return _head_matmul(op, build, op.lhs, op.rhs, op.transpose_b is not None)
    assert op.weight is not None
    return _fully_connected(op, build, op.weight, op.bias, op.quant, op.lhs)


# ----- elementwise and normalisation -------------------------------------------------


def _rescale(op: Operation, build, inputs: list[SSAValue], factor: float = 1.0,
             offset: np.ndarray | float = 0.0) -> Kernel:
    """Σ codes_i × step_i × factor (+ offset) in the output format, one rounding (`int_ops._rescale`)."""
    requants = _checked(op, lambda: ic.rescale_constants(op, inputs, factor, offset))
    multipliers = [int(rq.multiplier) for rq in requants]
    offset_t = build.tensor(requants[0].offset, torch.int64)
    shift = int(requants[0].shift)
    lo, hi, binary = ic.code_range(ic.out_format(op))

    def run(args):
        total = sum(codes * m for codes, m in zip(args, multipliers, strict=True)) + offset_t
        return to_codes(total, shift, lo, hi, binary)

    return run


@kernel_for(INT_KERNELS, vit.AddOp, accel.AddOp)
def add(op: vit.AddBase, build) -> Kernel:
    return _rescale(op, build, [op.lhs, op.rhs])


@kernel_for(INT_KERNELS, vit.ScaleOp, accel.ScaleOp)
def scale(op: vit.ScaleBase, build) -> Kernel:
    return _rescale(op, build, [op.input], factor=op.factor.value.data)


@kernel_for(INT_KERNELS, vit.PosEmbedAddOp, accel.PosEmbedAddOp)
def pos_embed_add(op: vit.PosEmbedAddBase, build) -> Kernel:
    return _rescale(op, build, [op.input], offset=ic.pos_embed(op, build))


@kernel_for(INT_KERNELS, vit.ClsConcatOp, accel.ClsConcatOp)
def cls_concat(op: vit.ClsConcatBase, build) -> Kernel:
    tokens = build.tensor(ic.cls_tokens(op, build), torch.int64)
    body = _rescale(op, build, [op.input])

    def run(args):
        x = body(args)
        return torch.cat([tokens.expand(x.shape[0], -1, -1), x], dim=1)

    return run


def _bit_length(v: torch.Tensor) -> torch.Tensor:
    """int.bit_length of positive int64 values, exactly (a float64 estimate, corrected with shifts)."""
    b = torch.floor(torch.log2(v.to(torch.float64))).to(torch.int64) + 1
    b = torch.where((v >> (b - 1).clamp(min=0)) == 0, b - 1, b)
    return torch.where((v >> b.clamp(max=63)) != 0, b + 1, b)


def _isqrt_ratio(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """isqrt(2**(2k) // v) per element (= floor(2**k / sqrt(v))); see the module docstring."""
    x = torch.ldexp(torch.ones_like(v, dtype=torch.float64), k) / torch.sqrt(v.to(torch.float64))
    r = torch.floor(x)
    frac = x - r
    r = r.to(torch.int64)
    close = (frac < 1e-6) | (frac > 1 - 1e-6)
    if bool(close.any()):
        idx = close.nonzero(as_tuple=True)
        exact = [math.isqrt((1 << (2 * int(kk))) // int(vv)) for vv, kk in zip(v[idx].tolist(), k[idx].tolist())]
        r[idx] = torch.tensor(exact, dtype=torch.int64, device=r.device)
    return r


@kernel_for(INT_KERNELS, vit.LayerNormOp, accel.LayerNormOp)
def layer_norm(op: vit.LayerNormBase, build) -> Kernel:
    """`fixedpoint.layer_norm_codes`, every row of the batch at once."""
    c = ic.layer_norm_constants(op, build)
    in_bits = ic.format_of(op.input).bits.data
    dim = op.input.type.get_shape()[-1]
    _checked(op, lambda: fx.check_exact(float(dim) * 2.0 ** (2 * in_bits), "layer norm sum of squares",
                                         fx.INT64_BUDGET_BITS - 10))
    gamma, beta = build.tensor(c.gamma, torch.int64), build.tensor(c.beta, torch.int64)
    lo, hi, binary = ic.code_range(ic.out_format(op))

    def run(args):
        (q,) = args
        s1 = q.sum(dim=-1, keepdim=True)
        s2 = (q * q).sum(dim=-1, keepdim=True)
        v = torch.clamp(dim * s2 - s1 * s1 + c.eps, min=1)
        k = 24 + _bit_length(v) // 2
        r = _isqrt_ratio(v, k)
        w = round_shift((dim * q - s1) * r, k - fx.LN_NORM_FRAC)
        return to_codes(w * gamma + beta, fx.LN_NORM_FRAC + fx.LN_AFFINE_FRAC, lo, hi, binary)

    return run


@kernel_for(INT_KERNELS, vit.SoftmaxOp, accel.SoftmaxOp)
def softmax(op: vit.SoftmaxBase, build) -> Kernel:
    """`fixedpoint.softmax_codes` over the last axis."""
    levels = ic.softmax_levels(op)
    table_np = ic.softmax_table(op)
    table = build.tensor(table_np, torch.int64)
    size = int(table_np.size)
    lo, hi, _ = ic.code_range(ic.out_format(op))

    def run(args):
        (q,) = args
        t = q.amax(dim=-1, keepdim=True) - q
        e = torch.where(t < size, table[torch.clamp(t, max=size - 1)], 0)
        total = e.sum(dim=-1, keepdim=True)
        _checked(op, lambda: fx.check_exact(float(2 * table_np[0]) * levels + float(total.max()),
                                             "softmax numerator", fx.INT64_BUDGET_BITS))
        p = torch.div(2 * e * levels + total, 2 * total, rounding_mode="floor")
        return torch.clamp(p, lo, hi)

    return run


@kernel_for(INT_KERNELS, vit.GeluOp, accel.GeluOp)
def gelu(op: vit.GeluBase, build) -> Kernel:
    in_lo = ic.format_of(op.input).code_range[0]
    table = build.tensor(ic.gelu_table(op), torch.int64)
    return lambda args: table[args[0] - in_lo]


# ----- data movement: codes unchanged --------------------------------------------------


def _movement(builder):
    def build_checked(op: Operation, build) -> Kernel:
        ic.check_same_format(op, op.operands[0])
        return builder(op, build)

    return build_checked


for _op, _builder in MOVEMENT_KERNELS.items():
    INT_KERNELS[_op] = _movement(_builder)
