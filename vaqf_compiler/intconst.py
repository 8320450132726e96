"""The integer constants of a quantized op, computed once for every consumer.

The integer interpreter (`vaqf_compiler/interp/int_ops.py`) and the HLS
backend (`backends/hls`) both need, for each op of a calibrated module, the
integer constants of docs/quantization.md: weight codes, requantization
multipliers/offsets/shifts, layer-norm γ/β/ε codes, the softmax exponential and
GELU tables, the quantized class tokens. They get them from the functions
here, so the emitted C++ reads exactly the numbers the golden model uses.

This module imports only the dialects, `fixedpoint` and `mixed` (no torch, no
interpreter); it reads formats off the IR and real-valued parameters through a
`ParamSource` (the interpreter's context, or `Params` below).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
from xdsl.dialects import func
from xdsl.ir import Operation, SSAValue

from vaqf_compiler import fixedpoint as fx
from vaqf_compiler import mixed
from vaqf_compiler.dialects import vit
from vaqf_compiler.dialects.vit import FormatAttr, NumberKind
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe

# Function attribute: the format the host converts the float image into.
INPUT_FORMAT_ATTR = "vit.input_format"


class ParamSource(Protocol):
    def param(self, op: Operation, attr: vit.ParamAttr) -> np.ndarray:
        """The parameter named by `attr` as float64, with its declared shape."""
        ...


class Params:
    """A `ParamSource` over a name -> array mapping (what the interpreter's context does)."""

    def __init__(self, params: Mapping[str, np.ndarray]):
        self._params = params
        self._cache: dict[str, np.ndarray] = {}

    def param(self, op: Operation, attr: vit.ParamAttr) -> np.ndarray:
        cached = self._cache.get(attr.key)
        if cached is not None and cached.shape == attr.shape:
            return cached
        if attr.key not in self._params:
            raise VaqfError(f"parameter {attr.key!r} is missing", where=describe(op))
        value = np.asarray(self._params[attr.key])
        if value.shape != attr.shape:
            raise VaqfError(
                f"parameter {attr.key!r} has shape {list(value.shape)} but the IR declares {list(attr.shape)}",
                where=describe(op),
            )
        value = value.astype(np.float64)
        self._cache[attr.key] = value
        return value


# ----- formats ------------------------------------------------------------------


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


def code_range(fmt: FormatAttr) -> tuple[int, int, bool]:
    """(lo, hi, binary): the code range, and whether a 1-bit signed code keeps the sign (±1)."""
    lo, hi = fmt.code_range
    return lo, hi, fmt.bits.data == 1 and fmt.number_kind != NumberKind.UINT


def max_code(fmt: FormatAttr) -> int:
    lo, hi = fmt.code_range
    return max(abs(lo), abs(hi))


# ----- matrix products ----------------------------------------------------------


def row_split(op: Operation) -> np.ndarray:
    """bool [out]: the power-of-two rows of an FC op with mixed weights (its `rows`)."""
    rows = op.properties.get("rows")
    if not isinstance(rows, vit.RowSplitAttr):
        raise VaqfError("mixed weights but no `rows`: run assign-pot-rows (or `vaqf quantize --scheme mixed`)",
                        where=describe(op))
    return rows.pot_mask


# PoT rows above this width are refused by the integer path: their integer weights (up to
# 2^E, E = 2^(k-1) - 2) are so much larger than the fixed-point rows' (up to 2^(k-1) - 1)
# that, with one requantization shift per layer, their multipliers M_j keep too few bits
# (k = 5: ~21 bits, fine; k = 6: M_j ~ 2^31 / 2^25, the outputs collapse). docs/quantization.md.
MAX_INT_POT_BITS = 5


def mixed_weights(op: Operation, attr: vit.ParamAttr, quant: vit.QuantAttr, params: ParamSource) -> mixed.MixedWeights:
    """The op's mixed weights split as its `rows` says: integer weights, per-row steps, stored codes."""
    w = params.param(op, attr)
    bits, pot = quant.weights.bits.data, row_split(op)
    if bits > MAX_INT_POT_BITS and pot.any():
        raise VaqfError(
            f"{bits}-bit power-of-two rows have integer weights up to 2^{mixed.pot_max_exponent(bits)}: too wide"
            f" for exact requantization; use at most {MAX_INT_POT_BITS} weight bits with PoT rows (or PoT ratio 0)",
            where=describe(op),
        )
    return mixed.mixed_weights(w.reshape(w.shape[0], -1), bits, pot)


def mixed_values(op: Operation, attr: vit.ParamAttr, quant: vit.QuantAttr, params: ParamSource) -> np.ndarray:
    """The real values the op's mixed weights stand for, [out, in] (ints × step; exact for every k)."""
    w = params.param(op, attr)
    w2, bits = w.reshape(w.shape[0], -1), quant.weights.bits.data
    pot = row_split(op)[:, None]
    if not pot.any():
        return mixed.fixed_values(w2, bits)
    return np.where(pot, mixed.pot_values(w2, bits), mixed.fixed_values(w2, bits))


def weight_codes(op: Operation, attr: vit.ParamAttr, quant: vit.QuantAttr,
                 params: ParamSource) -> tuple[np.ndarray, np.ndarray]:
    """(codes [out, in], per-channel step [out]) of the op's weights in their `quant` format.

    For mixed weights the "codes" are the integer weights the MACs use (q, or ±2^(E-e) on
    power-of-two rows), not the stored k-bit codes (`mixed_weights(...).codes`).
    """
    if quant.mixed:
        mw = mixed_weights(op, attr, quant, params)
        return mw.ints, mw.step
    w = params.param(op, attr)
    if quant.weights.number_kind == NumberKind.BINARY:
        return fx.binarize(w)
    codes, step = fx.fixed_weights(w, quant.weights.bits.data)
    return codes, np.full(codes.shape[0], step)


def fc_bound(codes: np.ndarray, input_value: SSAValue) -> float:
    """Worst-case |accumulator| of an FC layer with weight codes `codes` [out, in]."""
    return float(codes.shape[1]) * max_code(format_of(input_value)) * float(np.abs(codes).max(initial=1))


def fc_requant(op: Operation, input_value: SSAValue, w_step: np.ndarray, bias: vit.ParamAttr | None,
               bound: float, params: ParamSource) -> fx.Requant:
    """Per-output-channel requantization of an FC layer: r_j = s_x·s_w,j / s_y, o_j = bias_j / s_y."""
    y_step = step_of(out_format(op), op)
    b = params.param(op, bias) if bias is not None else 0.0
    return fx.requant_constants(step_of(format_of(input_value), op) * w_step / y_step, bound, np.asarray(b) / y_step)


def matmul_bound(op: Operation, lhs: SSAValue, rhs: SSAValue, k: int) -> float:
    """Worst-case |accumulator| of a per-head product over `k` terms."""
    return float(k) * max_code(format_of(lhs)) * max_code(format_of(rhs))


def matmul_requant(op: Operation, lhs: SSAValue, rhs: SSAValue, bound: float) -> fx.Requant:
    """The per-layer requantization of an attention product: r = s_a·s_b / s_y."""
    a_fmt, b_fmt = format_of(lhs), format_of(rhs)
    return fx.requant_constants(step_of(a_fmt, op) * step_of(b_fmt, op) / step_of(out_format(op), op), bound)


# ----- elementwise and normalisation -----------------------------------------------


def rescale_constants(op: Operation, inputs: Sequence[SSAValue], factor: float = 1.0,
                      offset: np.ndarray | float = 0.0) -> list[fx.Requant]:
    """Σ codes_i × step_i × factor (+ offset) in the output format, one shift for all terms.

    Term i uses `multiplier` of entry i; the offset (scalar or per element) is entry 0's;
    the shift is common.
    """
    y_step = step_of(out_format(op), op)
    fmts = [format_of(v) for v in inputs]
    bound = float(sum(max_code(f) for f in fmts))
    ratios = [step_of(f, op) * factor / y_step for f in fmts]
    # One shift for all terms: the largest ratio decides it.
    top = max(range(len(ratios)), key=lambda i: ratios[i])
    first = fx.requant_constants(ratios[top], bound, np.asarray(offset) / y_step)
    return [
        fx.Requant(np.int64(round(r * 2.0**first.shift)), first.offset if i == 0 else np.int64(0), first.shift)
        for i, r in enumerate(ratios)
    ]


def mean_pool_constants(op: vit.MeanPoolBase) -> fx.Requant:
    """Mean pooling of [N, D] codes from token `first` on (n = N - first of them):
    y = to_codes(Σ_n x[n, d] · M + O, shift), M/2**shift ≈ step_in / (n step_out).

    The sum is exact (|Σ| <= n · max code); one rounding, as every rescale.
    """
    n = op.input.type.get_shape()[0] - op.first_token  # type: ignore[attr-defined]
    fmt = format_of(op.input)
    ratio = step_of(fmt, op) / (n * step_of(out_format(op), op))
    return fx.requant_constants(ratio, float(n * max_code(fmt)))


def pos_embed(op: vit.PosEmbedAddBase, params: ParamSource) -> np.ndarray:
    """The position embedding, shaped like the op's input (the offset of its rescale)."""
    shape = tuple(op.input.type.get_shape())  # type: ignore[attr-defined]
    return params.param(op, op.pos).reshape(shape)


def cls_tokens(op: vit.ClsConcatBase, params: ParamSource) -> np.ndarray:
    """The prepended tokens as codes of the output format, [tokens, D]."""
    fmt = out_format(op)
    lo, hi, binary = code_range(fmt)
    step = step_of(fmt, op)
    return np.stack([fx.quantize(params.param(op, t).reshape(-1), step, lo, hi, binary) for t in op.tokens.data])


def layer_norm_constants(op: vit.LayerNormBase, params: ParamSource) -> fx.LayerNormConstants:
    in_fmt, y_fmt = format_of(op.input), out_format(op)
    dim = op.input.type.get_shape()[-1]  # type: ignore[attr-defined]
    gamma = params.param(op, op.weight) if op.weight is not None else None
    beta = params.param(op, op.bias) if op.bias is not None else None
    return fx.layer_norm_constants(gamma, beta, op.eps.value.data, dim, step_of(in_fmt, op), step_of(y_fmt, op))


def softmax_levels(op: vit.SoftmaxBase) -> int:
    """N: the output is codes of 1/N (2^k − 1 for probabilities, 2^f for fixed point)."""
    y_fmt = out_format(op)
    levels = 1.0 / step_of(y_fmt, op)
    if abs(levels - round(levels)) > 1e-9 * levels:
        raise VaqfError(f"softmax output scale {y_fmt.step} is not 1/integer", where=describe(op))
    return int(round(levels))


def softmax_table(op: vit.SoftmaxBase) -> np.ndarray:
    """E[t] = round(2^30 · exp(−t · s_x))."""
    return fx.exp_table(step_of(format_of(op.input), op))


def gelu_table(op: vit.GeluBase) -> np.ndarray:
    """Output code for every input code from the input format's lowest code up."""
    in_fmt, y_fmt = format_of(op.input), out_format(op)
    in_lo, in_hi = in_fmt.code_range
    lo, hi, binary = code_range(y_fmt)
    return fx.gelu_table(in_lo, in_hi, step_of(in_fmt, op), step_of(y_fmt, op), lo, hi,
                         tanh=op.tanh is not None, out_binary=binary)


def check_same_format(op: Operation, value: SSAValue) -> None:
    """Data movement: the codes must need no conversion."""
    a, b = format_of(value), out_format(op)
    if (a.number_kind, a.bits.data, a.step) != (b.number_kind, b.bits.data, b.step):
        raise VaqfError(f"moves data but changes its format ({a.body()} -> {b.body()})", where=describe(op))
