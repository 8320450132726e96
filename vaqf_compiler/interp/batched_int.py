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
from vaqf_compiler.interp.base import handles
from vaqf_compiler.interp.batched_float import MOVEMENT_KERNELS, Kernel
from vaqf_compiler.ir import describe

INT_KERNELS: dict = {}

# float32 holds every integer below 2**24 exactly.
FLOAT32_EXACT_BITS = 24


def matmul_dtype(bound: float, what: str) -> torch.dtype:
    """The narrowest float type in which every partial sum below `bound` is exact; RangeError beyond 2^53."""
    fx.check_exact(bound, what)
    return torch.float32 if bound < 2.0**FLOAT32_EXACT_BITS else torch.float64


# int8 x int8 products on the CPU (`torch._int_mm`, int32 accumulators) are exact when every
# partial sum is below 2^31 and a pair of u8 x s8 products fits int16 (2 * 255 * max|w| < 2^15):
# x86 kernels without VNNI add pairs of products in int16 with saturation (oneDNN, "Nuances of
# int8 computations"); with |w| <= 64 that never saturates. Binary weights (|w| = 1) and
# mixed 4-bit weights (|w| <= 2^6) qualify.
INT8_MAX_WEIGHT = 64


def int8_exact(device: torch.device, input_range: tuple[int, int], codes: np.ndarray, bound: float) -> bool:
    """Whether an FC layer's product may run as an int8 GEMM, exactly (CPU only)."""
    lo, hi = input_range
    return (device.type == "cpu" and -128 <= lo and hi <= 127 and bound < 2.0**31
            and float(np.abs(codes).max(initial=0)) <= INT8_MAX_WEIGHT)


def to_int64(acc: torch.Tensor) -> torch.Tensor:
    """A product of codes (integers in float) as a fresh int64 tensor; float32 ones (< 2^24) via int32, faster."""
    if acc.dtype == torch.float32:
        return acc.to(torch.int32).to(torch.int64)
    return acc.to(torch.int64)


class Requant:
    """`fixedpoint.Requant` on the device: to_codes(acc × M + O, S), computed in place.

    The rounding constant 2^(S-1) is folded into the offset: (acc·M + (O + 2^(S-1))) >> S
    equals `fixedpoint.round_shift(acc·M + O, S)` (int64 addition is associative).
    """

    def __init__(self, rq: fx.Requant, build):
        self.multiplier = build.tensor(rq.multiplier, torch.int64)
        self.offset = build.tensor(rq.offset, torch.int64)
        self.shift = int(rq.shift)
        self.rounded_offset = self.offset + (1 << (self.shift - 1)) if self.shift > 0 else self.offset

    def finish(self, scaled: torch.Tensor, lo: int, hi: int, binary: bool) -> torch.Tensor:
        """to_codes(scaled + O, S); `scaled` is a fresh int64 tensor, overwritten."""
        if binary:  # the sign of the unrounded value
            return torch.where(scaled.add_(self.offset) >= 0, 1, -1).to(torch.int64)
        scaled.add_(self.rounded_offset)
        if self.shift > 0:
            scaled.bitwise_right_shift_(self.shift)
        else:
            scaled.bitwise_left_shift_(-self.shift)
        return scaled.clamp_(lo, hi)

    def __call__(self, acc: torch.Tensor, lo: int, hi: int, binary: bool) -> torch.Tensor:
        """`acc` is a fresh int64 tensor, overwritten."""
        return self.finish(acc.mul_(self.multiplier), lo, hi, binary)


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
    lo, hi, binary = ic.code_range(ic.out_format(op))
    n_in, n_out = codes.shape[1], codes.shape[0]
    if int8_exact(build.device, ic.format_of(input_value).code_range, codes, bound):
        w8 = build.tensor(codes.T, torch.int8)

        def run_int8(args):
            x = args[0]
            acc = torch._int_mm(x.reshape(-1, n_in).to(torch.int8), w8)
            return requant(acc.to(torch.int64).view(*x.shape[:-1], n_out), lo, hi, binary)

        return run_int8
    wt = build.tensor(codes.T, dtype)

    def run(args):
        return requant(to_int64(torch.matmul(args[0].to(dtype), wt)), lo, hi, binary)

    return run


def _head_matmul(op: Operation, build, lhs: SSAValue, rhs: SSAValue, transpose_b: bool) -> Kernel:
    bound = ic.matmul_bound(op, lhs, rhs, lhs.type.get_shape()[-1])
    requant = Requant(_checked(op, lambda: ic.matmul_requant(op, lhs, rhs, bound)), build)
    dtype = _checked(op, lambda: matmul_dtype(bound, f"{op.name} accumulator"))
    lo, hi, binary = ic.code_range(ic.out_format(op))

    def run(args):
        a, b = args
        bt = b.transpose(-1, -2) if transpose_b else b
        return requant(to_int64(torch.matmul(a.to(dtype), bt.to(dtype))), lo, hi, binary)

    return run


@handles(INT_KERNELS, vit.LinearOp)
def linear(op: vit.LinearOp, build) -> Kernel:
    return _fully_connected(op, build, op.weight, op.bias, op.quant, op.input)


@handles(INT_KERNELS, vit.MatmulOp)
def matmul(op: vit.MatmulOp, build) -> Kernel:
    return _head_matmul(op, build, op.lhs, op.rhs, op.transpose_b is not None)


@handles(INT_KERNELS, accel.EngineOp)
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
    finish = Requant(requants[0], build).finish
    lo, hi, binary = ic.code_range(ic.out_format(op))

    def run(args):
        total = args[0] * multipliers[0]
        for codes, m in zip(args[1:], multipliers[1:], strict=True):
            total.add_(codes, alpha=m)
        return finish(total, lo, hi, binary)

    return run


@handles(INT_KERNELS, vit.AddOp, accel.AddOp)
def add(op: vit.AddBase, build) -> Kernel:
    return _rescale(op, build, [op.lhs, op.rhs])


@handles(INT_KERNELS, vit.ScaleOp, accel.ScaleOp)
def scale(op: vit.ScaleBase, build) -> Kernel:
    return _rescale(op, build, [op.input], factor=op.factor.value.data)


@handles(INT_KERNELS, vit.PosEmbedAddOp, accel.PosEmbedAddOp)
def pos_embed_add(op: vit.PosEmbedAddBase, build) -> Kernel:
    return _rescale(op, build, [op.input], offset=ic.pos_embed(op, build))


@handles(INT_KERNELS, vit.ClsConcatOp, accel.ClsConcatOp)
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


@handles(INT_KERNELS, vit.LayerNormOp, accel.LayerNormOp)
def layer_norm(op: vit.LayerNormBase, build) -> Kernel:
    """`fixedpoint.layer_norm_codes`, every row of the batch at once."""
    c = ic.layer_norm_constants(op, build)
    in_bits = ic.format_of(op.input).bits.data
    dim = op.input.type.get_shape()[-1]
    _checked(op, lambda: fx.check_exact(float(dim) * 2.0 ** (2 * in_bits), "layer norm sum of squares",
                                         fx.INT64_BUDGET_BITS - 10))
    gamma = build.tensor(c.gamma, torch.int64)
    affine = Requant(fx.Requant(np.int64(1), c.beta, fx.LN_NORM_FRAC + fx.LN_AFFINE_FRAC), build)
    lo, hi, binary = ic.code_range(ic.out_format(op))

    def run(args):
        (q,) = args
        s1 = q.sum(dim=-1, keepdim=True)
        s2 = (q * q).sum(dim=-1, keepdim=True)
        v = torch.clamp(dim * s2 - s1 * s1 + c.eps, min=1)
        k = 24 + _bit_length(v) // 2
        shift = k - fx.LN_NORM_FRAC  # >= 8
        n = (q * dim).sub_(s1).mul_(_isqrt_ratio(v, k))  # (D·q_i − S1)·r
        w = n.add_(torch.ones_like(shift) << (shift - 1)).bitwise_right_shift_(shift)
        return affine.finish(w.mul_(gamma), lo, hi, binary)

    return run


@handles(INT_KERNELS, vit.SoftmaxOp, accel.SoftmaxOp)
def softmax(op: vit.SoftmaxBase, build) -> Kernel:
    """`fixedpoint.softmax_codes` over the last axis; the table gets a trailing 0 for t past its end."""
    levels = ic.softmax_levels(op)
    table_np = ic.softmax_table(op)
    table = build.tensor(np.append(table_np, 0), torch.int64)
    size = int(table_np.size)
    lo, hi, _ = ic.code_range(ic.out_format(op))

    def run(args):
        (q,) = args
        t = torch.neg(q).add_(q.amax(dim=-1, keepdim=True)).clamp_(max=size)
        e = table.index_select(0, t.view(-1)).view(t.shape)
        total = e.sum(dim=-1, keepdim=True)
        _checked(op, lambda: fx.check_exact(float(2 * table_np[0]) * levels + float(total.max()),
                                             "softmax numerator", fx.INT64_BUDGET_BITS))
        p = e.mul_(2 * levels).add_(total).div_(2 * total, rounding_mode="floor")
        return p.clamp_(lo, hi)

    return run


@handles(INT_KERNELS, vit.GeluOp, accel.GeluOp)
def gelu(op: vit.GeluBase, build) -> Kernel:
    in_lo = ic.format_of(op.input).code_range[0]
    table = build.tensor(ic.gelu_table(op), torch.int64)
    def run(args):
        (x,) = args
        return table.index_select(0, (x - in_lo).view(-1)).view(x.shape)

    return run


# ----- data movement: codes unchanged --------------------------------------------------


def _movement(builder):
    def build_checked(op: Operation, build) -> Kernel:
        ic.check_same_format(op, op.operands[0])
        return builder(op, build)

    return build_checked


for _op, _builder in MOVEMENT_KERNELS.items():
    INT_KERNELS[_op] = _movement(_builder)
