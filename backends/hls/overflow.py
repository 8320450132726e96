"""Integer overflow analysis of the emitted kernel: every fixed-width value provably fits its type.

The kernel (`include/vaqf_engine.h`) computes with these fixed widths, set in
`kernel/vaqf_config.h` from the IR (`program.EngineConfig`):

* operands: `dsp_x_t` (16-bit array: input codes, weight codes, attention's
  second operand), `bin_x_t` (binary array inputs), `pot_x_t` (power-of-two
  array inputs; weights are k-bit sign|exponent codes worth ±2^(E-e), E from
  `mixed.pot_max_exponent`);
* accumulators: `dsp_acc_t`, `bin_acc_t`, `pot_acc_t`; partial sums (`part`,
  `s`) have the accumulator's type; `ACC(x) << (E - e)` keeps the width;
* requantization: `i64_t(acc) * M + O`, then `round_shift` adds 2^(S-1).

`check_program` proves, from the weight integers the integer reference uses
(`intconst.weight_codes`: ±1, k-bit codes, or mixed rows' ints up to 2^E) and
the code ranges of the formats, that none of them can overflow, with exact
interval arithmetic on Python integers per output row: for a row with positive
weights summing to P and negative ones summing to -N, and inputs in [lo, hi]
(lo <= 0 <= hi), the accumulator lies in [lo·P - hi·N, hi·P - lo·N], and so
does every partial sum (each term's interval contains 0). Nothing is assumed
from how the widths were chosen: a width one bit short of the worst case is
refused with a `VaqfError` naming the layer, the value and the bound. This
analysis is ours (not from the paper).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from xdsl.ir import Operation

from vaqf_compiler import intconst as ic
from vaqf_compiler import mixed
from vaqf_compiler.backends.hls.program import Program
from vaqf_compiler.dialects import accel
from vaqf_compiler.dialects.vit import NumberKind
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe

I64_BITS = 64


@dataclass(frozen=True)
class Interval:
    lo: int
    hi: int

    def fits(self, bits: int) -> bool:
        """Whether every value fits a signed `bits`-bit integer."""
        return bits > 0 and -(1 << (bits - 1)) <= self.lo and self.hi <= (1 << (bits - 1)) - 1

    def __str__(self) -> str:
        return f"[{self.lo}, {self.hi}]"


def signed_bits_needed(iv: Interval) -> int:
    """The narrowest signed width holding `iv`."""
    bits = 1
    while not iv.fits(bits):
        bits += 1
    return bits


def row_intervals(weights: np.ndarray, x: Interval) -> list[Interval]:
    """Exact range of Σ_i w[j, i]·x_i per row j, for x_i anywhere in `x` (which must contain 0)."""
    if not x.lo <= 0 <= x.hi:
        raise ValueError(f"input interval {x} must contain 0")
    w = np.asarray(weights)
    if w.shape[0] == 0:  # e.g. the fixed-point rows of a mixed layer that is all power-of-two rows
        return []
    w = w.reshape(w.shape[0], -1)
    # Row sums as Python ints: exact whatever the magnitudes (object sums only when int64 could overflow).
    mag = int(np.abs(w).max(initial=0)) if w.size else 0
    if mag * max(w.shape[1], 1) < 1 << 62:
        w64 = w.astype(np.int64)
        pos = [int(v) for v in np.where(w64 > 0, w64, 0).sum(axis=1)]
        neg = [int(v) for v in np.where(w64 < 0, -w64, 0).sum(axis=1)]
    else:
        rows = [[int(v) for v in r] for r in w]
        pos = [sum(v for v in r if v > 0) for r in rows]
        neg = [sum(-v for v in r if v < 0) for r in rows]
    return [Interval(x.lo * p - x.hi * n, x.hi * p - x.lo * n) for p, n in zip(pos, neg, strict=True)]


def product_interval(a: Interval, b: Interval, terms: int) -> Interval:
    """Range of a sum of `terms` products a_i·b_i (each factor anywhere in its interval)."""
    corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    return Interval(terms * min(min(corners), 0), terms * max(max(corners), 0))


def requant_interval(acc: Interval, mult: int, offset: int, shift: int) -> Interval:
    """Range of acc·M + O and of it plus round_shift's half (2^(S-1))."""
    ends = [acc.lo * mult, acc.hi * mult]
    half = (1 << (shift - 1)) if shift > 0 else 0
    return Interval(min(ends) + offset, max(ends) + offset + half)


def _code_interval(value, where: Operation) -> Interval:
    lo, hi, _ = ic.code_range(ic.format_of(value))
    return Interval(min(int(lo), 0), max(int(hi), 0))


def _refuse(op: Operation, what: str, iv: Interval, name: str, bits: int) -> VaqfError:
    return VaqfError(
        f"integer overflow: {what} ranges over {iv}, which needs a {signed_bits_needed(iv)}-bit signed type,"
        f" but the kernel's {name} is {bits} bits; lower the bit widths or the layer size",
        where=describe(op),
    )


def _check(op: Operation, what: str, ivs: Iterable[Interval], name: str, bits: int) -> None:
    ivs = list(ivs)
    if not ivs:
        return
    whole = Interval(min(iv.lo for iv in ivs), max(iv.hi for iv in ivs))
    if not whole.fits(bits):
        raise _refuse(op, what, whole, name, bits)


def _check_requant(program: Program, op: Operation, accs: list[Interval], mult: np.ndarray, offset: np.ndarray) -> None:
    shift = int(program.scalar(op, "shift"))
    scaled = [requant_interval(a, int(m), int(o), shift) for a, m, o in zip(accs, mult, offset, strict=True)]
    _check(op, "the requantization product acc·M + O (+ rounding)", scaled, "i64_t", I64_BITS)


def check_engine(program: Program, op: accel.EngineOp, params: ic.ParamSource) -> None:
    """Prove one engine layer's operands, accumulators and requantization fit the kernel's types."""
    c = program.config
    x = _code_interval(op.lhs, op)
    consts = program.constants[op]
    if op.is_attention:
        assert op.rhs is not None
        b = _code_interval(op.rhs, op)
        k = op.lhs.type.get_shape()[-1]  # type: ignore[attr-defined]
        _check(op, "the first operand's codes", [x], "dsp_x_t", c.dsp_x_bits)
        _check(op, "the second operand's codes", [b], "dsp_x_t", c.dsp_x_bits)
        acc = product_interval(x, b, k)
        _check(op, f"the accumulator (sum of {k} products)", [acc], "dsp_acc_t", c.dsp_acc_bits)
        _check_requant(program, op, [acc], np.array([consts.scalars["m"]]), np.array([consts.scalars["o"]]))
        return
    assert op.weight is not None
    ints, _ = ic.weight_codes(op, op.weight, op.quant, params)
    ints = np.asarray(ints).reshape(ints.shape[0], -1)
    mult = consts.arrays["mult"][0].reshape(-1)
    offset = consts.arrays["offset"][0].reshape(-1)
    if op.quant.mixed:
        pot = ic.row_split(op)
        fixed_rows, pot_rows = np.flatnonzero(~pot), np.flatnonzero(pot)
        top = 1 << mixed.pot_max_exponent(op.quant.weights.bits.data)
        if ints[pot_rows].size and int(np.abs(ints[pot_rows]).max()) > top:
            raise VaqfError(f"integer overflow: a power-of-two weight exceeds 2^E = {top}", where=describe(op))
        if fixed_rows.size:
            fixed = ints[fixed_rows]
            _check(op, "the weight codes", [Interval(int(fixed.min(initial=0)), int(fixed.max(initial=0)))],
                   "dsp_x_t", c.dsp_x_bits)
            _check(op, "the input codes", [x], "dsp_x_t", c.dsp_x_bits)
        acc_fixed = row_intervals(ints[fixed_rows], x)
        _check(op, "the fixed-point rows' accumulator", acc_fixed, "dsp_acc_t", c.dsp_acc_bits)
        accs = acc_fixed
        if pot_rows.size:
            _check(op, "the input codes", [x], "pot_x_t", c.pot_x_bits)
            acc_pot = row_intervals(ints[pot_rows], x)
            _check(op, "the power-of-two rows' accumulator", acc_pot, "pot_acc_t", c.pot_acc_bits)
            accs = acc_fixed + acc_pot
        # mult/offset follow the row table: fixed rows, then power-of-two rows.
        _check_requant(program, op, accs, mult, offset)
        return
    if op.quant.weights.number_kind == NumberKind.BINARY:
        if ints.size and not np.isin(ints, (-1, 1)).all():
            raise VaqfError("integer overflow: binary weights must be ±1", where=describe(op))
        _check(op, "the input codes", [x], "bin_x_t", c.bin_x_bits)
        accs = row_intervals(ints, x)
        _check(op, f"the accumulator (sum of {ints.shape[1]} terms)", accs, "bin_acc_t", c.bin_acc_bits)
    else:
        _check(op, "the weight codes", [Interval(int(ints.min(initial=0)), int(ints.max(initial=0)))], "dsp_x_t", c.dsp_x_bits)
        _check(op, "the input codes", [x], "dsp_x_t", c.dsp_x_bits)
        accs = row_intervals(ints, x)
        _check(op, f"the accumulator (sum of {ints.shape[1]} terms)", accs, "dsp_acc_t", c.dsp_acc_bits)
    _check_requant(program, op, accs, mult, offset)


def check_program(program: Program, params: Mapping[str, np.ndarray]) -> None:
    """Refuse (VaqfError) unless every engine layer's fixed-width values provably fit their types.

    `params`: the weights `program` was built from.
    """
    source = ic.Params(params)
    for op in program.ops:
        if isinstance(op, accel.EngineOp):
            check_engine(program, op, source)
