"""Exact integer arithmetic of the accelerator and its host (docs/quantization.md).

Everything here maps integer codes to integer codes with int64 numpy arrays;
float64 appears only (a) at compile time, to turn real-valued parameters and
scales into integer constants (multipliers, shifts, tables), and (b) in matrix
products of integer codes, which float64 computes exactly while every partial
sum stays below 2**53 (`check_exact` enforces the bound). The emitted C++ reads
the same integer constants, so it can match this module bit for bit.

Rounding is always "half up": floor(v + 1/2), computed on integers as
`(x + 2**(s-1)) >> s` (an arithmetic shift floors, also for negatives).
Saturation clamps to the code range of the output format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Products and sums of the requantization stay below this (int64 headroom).
INT64_BUDGET_BITS = 62
# Integer multipliers fit a signed 32-bit word (one DSP-friendly operand in hardware).
MULTIPLIER_BITS = 31
# float64 holds every integer below 2**53 exactly.
FLOAT64_EXACT_BITS = 53
# Fraction bits of layer norm's normalised value and of its γ/β constants.
LN_NORM_FRAC = 16
LN_AFFINE_FRAC = 16
# Softmax exponentials are 2**30-scaled integers.
SOFTMAX_EXP_BITS = 30


class RangeError(ValueError):
    """Integer arithmetic would leave its exact range: a compile-time bound is violated."""


def round_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """floor(x / 2**shift + 1/2) on int64."""
    if shift <= 0:
        return x << -shift
    return (x + (np.int64(1) << np.int64(shift - 1))) >> np.int64(shift)


def to_codes(scaled: np.ndarray, shift: int, lo: int, hi: int, binary: bool = False) -> np.ndarray:
    """Codes from integers `scaled` = value / step * 2**shift: round half up and saturate.

    A 1-bit signed format takes the sign of the unrounded value (+1 for >= 0), as
    the training quantizer does.
    """
    if binary:
        return np.where(scaled >= 0, np.int64(1), np.int64(-1))
    return np.clip(round_shift(scaled, shift), lo, hi)


def check_exact(bound: float, what: str, bits: int = FLOAT64_EXACT_BITS) -> None:
    if bound >= 2.0**bits:
        raise RangeError(f"{what}: worst case {bound:.3g} exceeds 2**{bits}; exact integer arithmetic is not possible")


def int_matmul(a: np.ndarray, b: np.ndarray, bound: float, what: str) -> np.ndarray:
    """a @ b of integer codes, exactly (float64 BLAS, every partial sum < 2**53 by `bound`)."""
    check_exact(bound, what)
    return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)


def quantize(x: np.ndarray, step: float, lo: int, hi: int, binary: bool = False) -> np.ndarray:
    """Real values to codes: floor(x / step + 1/2), saturated (compile time / host input)."""
    x = np.asarray(x, dtype=np.float64)
    if binary:
        return np.where(x >= 0, np.int64(1), np.int64(-1))
    codes = np.floor(x / step + 0.5)
    return np.clip(np.clip(codes, -(2.0**62), 2.0**62).astype(np.int64), lo, hi)


# --------------------------------------------------------------------------
# Requantization: acc * M + B, shifted right by S with rounding
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Requant:
    """codes_out = to_codes(acc * multiplier + offset, shift).

    `multiplier` and `offset` broadcast over the last axis (per output channel)
    or are scalars; `shift` is one per layer.
    """

    multiplier: np.ndarray
    offset: np.ndarray
    shift: int

    def scaled(self, acc: np.ndarray) -> np.ndarray:
        return acc * self.multiplier + self.offset

    def __call__(self, acc: np.ndarray, lo: int, hi: int, binary: bool = False) -> np.ndarray:
        return to_codes(self.scaled(acc), self.shift, lo, hi, binary)


def requant_constants(ratio: np.ndarray | float, acc_bound: float, offset: np.ndarray | float = 0.0) -> Requant:
    """Integer constants for y = acc * ratio + offset (real), with |acc| <= acc_bound.

    The shift is the largest S <= 62 with every multiplier round(ratio * 2**S) below
    2**31 and acc_bound * max|M| + max|offset * 2**S| below 2**62.
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    top = float(np.max(np.abs(ratio))) if ratio.size else 0.0
    top_offset = float(np.max(np.abs(offset))) if offset.size else 0.0
    if not math.isfinite(top) or not math.isfinite(top_offset):
        raise RangeError(f"requantization ratio or offset is not finite ({top}, {top_offset})")
    for shift in range(INT64_BUDGET_BITS, 0, -1):
        m = top * 2.0**shift
        if m >= 2.0**MULTIPLIER_BITS:
            continue
        if max(acc_bound, 1.0) * (m + 1) + top_offset * 2.0**shift + 2.0**shift < 2.0**INT64_BUDGET_BITS:
            break
    else:
        raise RangeError(f"no shift keeps acc * M within int64 (ratio {top:.3g}, |acc| <= {acc_bound:.3g})")
    multiplier = np.rint(ratio * 2.0**shift).astype(np.int64)
    offset_codes = np.rint(offset * 2.0**shift).astype(np.int64)
    return Requant(multiplier, offset_codes, shift)


# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------


def binarize(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """W [out, in...] -> (±1 codes [out, in], α [out] = mean |W| per output channel)."""
    w = np.asarray(weight, dtype=np.float64).reshape(weight.shape[0], -1)
    return np.where(w >= 0, np.int64(1), np.int64(-1)), np.abs(w).mean(axis=1)


def power_of_two_step(max_abs: float, bits: int) -> float:
    """The smallest power of two that represents max_abs in `bits`-bit signed codes."""
    top = (1 << (bits - 1)) - 1
    if max_abs <= 0 or not math.isfinite(max_abs):
        return 2.0**-(bits - 1)
    return 2.0 ** math.ceil(math.log2(max_abs / top))


def fixed_weights(weight: np.ndarray, bits: int = 16) -> tuple[np.ndarray, float]:
    """W [out, in...] -> (`bits`-bit codes [out, in], the power-of-two step)."""
    w = np.asarray(weight, dtype=np.float64).reshape(weight.shape[0], -1)
    step = power_of_two_step(float(np.abs(w).max()) if w.size else 0.0, bits)
    top = (1 << (bits - 1)) - 1
    return quantize(w, step, -top - 1, top), step


# --------------------------------------------------------------------------
# Host tables: GELU and the softmax exponential
# --------------------------------------------------------------------------


def gelu_table(in_lo: int, in_hi: int, in_step: float, out_step: float, out_lo: int, out_hi: int,
               tanh: bool = False, out_binary: bool = False) -> np.ndarray:
    """Output code for every input code in [in_lo, in_hi]: GELU as a lookup table."""
    x = np.arange(in_lo, in_hi + 1, dtype=np.float64) * in_step
    if tanh:
        y = 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    else:
        y = 0.5 * x * (1.0 + np.fromiter(map(math.erf, (x / math.sqrt(2.0)).tolist()), np.float64, count=x.size))
    return quantize(y, out_step, out_lo, out_hi, out_binary)


def exp_table(in_step: float) -> np.ndarray:
    """E[t] = round(2**30 * exp(-t * in_step)) for t = 0, 1, ... until it reaches 0."""
    length = min(int(math.ceil((SOFTMAX_EXP_BITS + 1) * math.log(2) / in_step)) + 1, 1 << 17)
    t = np.arange(length, dtype=np.float64)
    table = np.floor(np.exp(-t * in_step) * 2.0**SOFTMAX_EXP_BITS + 0.5).astype(np.int64)
    return table[: int(np.count_nonzero(table))] if table[-1] == 0 else table


def softmax_codes(codes: np.ndarray, table: np.ndarray, levels: int) -> np.ndarray:
    """Integer softmax over the last axis: probabilities as codes of 1/levels.

    e_i = table[max - q_i] (0 past the table's end), p_i = floor(e_i * levels / sum + 1/2).
    """
    t = codes.max(axis=-1, keepdims=True) - codes
    e = np.where(t < table.size, table[np.minimum(t, table.size - 1)], np.int64(0))
    total = e.sum(axis=-1, keepdims=True)
    check_exact(float(2 * table[0]) * levels + float(total.max()), "softmax numerator", INT64_BUDGET_BITS)
    return (2 * e * levels + total) // (2 * total)


# --------------------------------------------------------------------------
# Layer norm
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerNormConstants:
    gamma: np.ndarray  # round(γ / out_step * 2**LN_AFFINE_FRAC), int64 [D]
    beta: np.ndarray  # round(β / out_step * 2**(LN_NORM_FRAC + LN_AFFINE_FRAC)), int64 [D]
    eps: int  # round(D² * eps / in_step²): eps in the units of the integer variance


def layer_norm_constants(gamma: np.ndarray | None, beta: np.ndarray | None, eps: float, dim: int,
                         in_step: float, out_step: float) -> LayerNormConstants:
    g = np.ones(dim) if gamma is None else np.asarray(gamma, dtype=np.float64)
    b = np.zeros(dim) if beta is None else np.asarray(beta, dtype=np.float64)
    g_codes = np.rint(g / out_step * 2.0**LN_AFFINE_FRAC).astype(np.int64)
    b_codes = np.rint(b / out_step * 2.0 ** (LN_NORM_FRAC + LN_AFFINE_FRAC)).astype(np.int64)
    eps_codes = int(round(dim * dim * eps / (in_step * in_step)))
    return LayerNormConstants(g_codes, b_codes, eps_codes)


def layer_norm_codes(codes: np.ndarray, c: LayerNormConstants, in_bits: int, lo: int, hi: int,
                     binary: bool = False) -> np.ndarray:
    """Integer layer norm over the last axis, to codes in [lo, hi].

    With D features, S1 = Σq, S2 = Σq², V = D·S2 − S1² + eps: n_i = D·q_i − S1 and
    n_i / sqrt(V) = (q_i − mean) / sqrt(var + eps). Per row, r = isqrt(2**(2K) // V)
    ≈ 2**K / sqrt(V) with K = 24 + bitlen(V) // 2, so r has about 24 significant bits;
    w = round_shift(n·r, K − 16) is the normalised value with 16 fraction bits, and
    the result round_shift(w·G + B, 32) applies γ/out_step and β/out_step.
    """
    rows = codes.reshape(-1, codes.shape[-1])
    dim = rows.shape[1]
    check_exact(float(dim) * 2.0 ** (2 * in_bits), "layer norm sum of squares", INT64_BUDGET_BITS - 10)
    s1 = rows.sum(axis=1)
    s2 = (rows * rows).sum(axis=1)
    var = dim * s2 - s1 * s1 + c.eps
    out = np.empty_like(rows)
    for t in range(rows.shape[0]):
        v = max(int(var[t]), 1)
        k = 24 + v.bit_length() // 2
        r = math.isqrt((1 << (2 * k)) // v)
        n = dim * rows[t] - s1[t]
        w = round_shift(n * np.int64(r), k - LN_NORM_FRAC)
        out[t] = to_codes(w * c.gamma + c.beta, LN_NORM_FRAC + LN_AFFINE_FRAC, lo, hi, binary)
    return out.reshape(codes.shape)
