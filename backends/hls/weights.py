"""The integer constants of every op, as arrays and scalars the emitted code reads.

One handler per `accel` op (`op_constants`), each asking `vaqf_compiler.intconst`
for exactly the numbers the integer golden model uses: binary weight bits,
16-bit weight codes, mixed-scheme weight codes (fixed-point and power-of-two
rows apart, with the row table that puts each result row back in place),
per-channel multipliers M / offsets O / shift S, layer-norm γ/β/ε codes,
softmax exponential and GELU tables, class-token codes, position offsets.
Nothing is recomputed here; this module only decides how each array is
stored (its `Elem`), and `ParamArena` packs them into `weights/params.bin`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import singledispatch

import numpy as np
from xdsl.ir import Operation

from vaqf_compiler import fixedpoint as fx
from vaqf_compiler import intconst as ic
from vaqf_compiler import mixed
from vaqf_compiler.backends.hls.packing import Elem, pack
from vaqf_compiler.dialects import accel
from vaqf_compiler.dialects.vit import FormatAttr, NumberKind
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe

I64 = Elem(64, True)
U32 = Elem(32, False)


def elem_of(fmt: FormatAttr, op: Operation | None = None) -> Elem:
    """How codes of `fmt` are packed."""
    if fmt.number_kind == NumberKind.FLOAT:
        raise VaqfError(f"{fmt.body()} data cannot live on the accelerator", where=describe(op) if op else None)
    return Elem(fmt.bits.data, fmt.number_kind != NumberKind.UINT)


def acc_bits(bound: float) -> int:
    """Bits of a signed accumulator that holds every |acc| <= bound."""
    return int(math.ceil(bound)).bit_length() + 1


@dataclass
class OpConstants:
    """What one op needs besides its operands: packed arrays (2-D: rows x cols) and integers."""

    arrays: dict[str, tuple[np.ndarray, Elem]] = field(default_factory=dict)
    scalars: dict[str, int] = field(default_factory=dict)


@singledispatch
def op_constants(op: Operation, params: ic.ParamSource) -> OpConstants:
    """Ops without constants (data movement)."""
    return OpConstants()


def _int(x: object) -> int:
    return int(np.asarray(x).reshape(()))


def _per_channel(x: np.ndarray | np.integer, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=np.int64), (n,)).copy()


@op_constants.register
def _(op: accel.EngineOp, params: ic.ParamSource) -> OpConstants:
    if op.is_attention:
        assert op.rhs is not None
        k = op.lhs.type.get_shape()[-1]  # type: ignore[attr-defined]
        bound = ic.matmul_bound(op, op.lhs, op.rhs, k)
        fx.check_exact(bound, f"{op.name} accumulator")
        rq = ic.matmul_requant(op, op.lhs, op.rhs, bound)
        return OpConstants(scalars={"m": _int(rq.multiplier), "o": _int(rq.offset), "shift": rq.shift,
                                    "acc_bits": acc_bits(bound)})
    assert op.weight is not None
    codes, w_step = ic.weight_codes(op, op.weight, op.quant, params)
    bound = ic.fc_bound(codes, op.lhs)
    fx.check_exact(bound, f"{op.name} accumulator")
    rq = ic.fc_requant(op, op.lhs, w_step, op.bias, bound, params)
    out = codes.shape[0]
    if op.quant.mixed:
        return _mixed_fc(op, params, codes, _per_channel(rq.multiplier, out), _per_channel(rq.offset, out), rq.shift)
    w_elem = Elem(1, True) if op.quant.weights.number_kind == NumberKind.BINARY else elem_of(op.quant.weights, op)
    return OpConstants(
        arrays={"weight": (codes, w_elem), "mult": (_per_channel(rq.multiplier, out)[None, :], I64),
                "offset": (_per_channel(rq.offset, out)[None, :], I64)},
        scalars={"shift": rq.shift, "acc_bits": acc_bits(bound)},
    )


def pot_weights(codes: np.ndarray, bits: int) -> np.ndarray:
    """The integer weight of k-bit power-of-two codes (sign | e): ±2^(E-e), 0 for e > E (the kernel's Pot<K>)."""
    top = mixed.pot_max_exponent(bits)
    e = codes & ((1 << (bits - 1)) - 1)
    magnitude = np.where(e <= top, np.left_shift(np.int64(1), np.clip(top - e, 0, None)), 0)
    return np.where(codes >> (bits - 1) == 1, -magnitude, magnitude)


def _mixed_fc(op: accel.EngineOp, params: ic.ParamSource, ints: np.ndarray, mult: np.ndarray, offset: np.ndarray,
              shift: int) -> OpConstants:
    """An FC layer with mixed weights: fixed-point rows (k-bit q, signed) for the DSP array, power-of-two rows
    (k-bit sign|e, unsigned) for the PoT array, and the row table: output index of the fixed rows, then of the
    PoT rows (ascending). M and O follow the table's order; the requantization is the reference's, whole-layer."""
    assert op.weight is not None
    bits = op.quant.weights.bits.data
    mw = ic.mixed_weights(op, op.weight, op.quant, params)
    fixed, pot = np.flatnonzero(~mw.pot), np.flatnonzero(mw.pot)
    # The stored codes must decode to the integers the reference multiplies by.
    decoded = np.where(mw.pot[:, None], pot_weights(mw.codes, bits), mw.codes)
    if not np.array_equal(decoded, ints):
        raise VaqfError("internal: mixed weight codes do not decode to the integer reference's weights",
                        where=describe(op))
    table = np.concatenate([fixed, pot])
    out = table.size
    return OpConstants(
        arrays={"weight": (mw.codes[fixed], Elem(bits, True)), "weight_pot": (mw.codes[pot], Elem(bits, False)),
                "mult": (mult[table][None, :], I64), "offset": (offset[table][None, :], I64),
                "rows": (table[None, :], Elem(16 if out <= 1 << 16 else 32, False))},
        # One accumulator type per array: the DSP array's from the fixed rows, the PoT array's from
        # the PoT rows (|weight| <= 2^E); both within the whole layer's exact bound.
        scalars={"shift": shift, "acc_bits": acc_bits(ic.fc_bound(ints[fixed], op.lhs)),
                 "pot_acc_bits": acc_bits(ic.fc_bound(ints[pot], op.lhs)), "n_pot": int(pot.size),
                 "pot_bits": bits},
    )


@op_constants.register
def _(op: accel.LayerNormOp, params: ic.ParamSource) -> OpConstants:
    in_fmt = ic.format_of(op.input)
    dim = op.input.type.get_shape()[-1]  # type: ignore[attr-defined]
    fx.check_exact(float(dim) * 2.0 ** (2 * in_fmt.bits.data), "layer norm sum of squares",
                   fx.INT64_BUDGET_BITS - 10)
    c = ic.layer_norm_constants(op, params)
    if not -(2**63) <= c.eps < 2**63:
        raise VaqfError(f"layer norm eps is {c.eps} in integer-variance units; it does not fit 64 bits",
                        where=describe(op))
    return OpConstants(arrays={"gamma": (c.gamma[None, :], I64), "beta": (c.beta[None, :], I64)},
                       scalars={"eps": int(c.eps)})


def _rescale_scalars(rqs: list[fx.Requant]) -> dict[str, int]:
    out = {"m": _int(rqs[0].multiplier), "shift": rqs[0].shift}
    if len(rqs) > 1:
        out["m_b"] = _int(rqs[1].multiplier)
    if np.asarray(rqs[0].offset).ndim == 0:
        out["o"] = _int(rqs[0].offset)
    return out


@op_constants.register
def _(op: accel.AddOp, params: ic.ParamSource) -> OpConstants:
    return OpConstants(scalars=_rescale_scalars(ic.rescale_constants(op, [op.lhs, op.rhs])))


@op_constants.register
def _(op: accel.ScaleOp, params: ic.ParamSource) -> OpConstants:
    return OpConstants(scalars=_rescale_scalars(ic.rescale_constants(op, [op.input], factor=op.factor.value.data)))


@op_constants.register
def _(op: accel.MeanPoolOp, params: ic.ParamSource) -> OpConstants:
    return OpConstants(scalars=_rescale_scalars([ic.mean_pool_constants(op)]))


@op_constants.register
def _(op: accel.PosEmbedAddOp, params: ic.ParamSource) -> OpConstants:
    rqs = ic.rescale_constants(op, [op.input], offset=ic.pos_embed(op, params))
    offsets = np.asarray(rqs[0].offset, dtype=np.int64).reshape(1, -1)
    return OpConstants(arrays={"offsets": (offsets, I64)}, scalars=_rescale_scalars(rqs))


@op_constants.register
def _(op: accel.ClsConcatOp, params: ic.ParamSource) -> OpConstants:
    tokens = ic.cls_tokens(op, params)
    return OpConstants(arrays={"tokens": (tokens.reshape(1, -1), elem_of(ic.out_format(op), op))},
                       scalars=_rescale_scalars(ic.rescale_constants(op, [op.input])))


@op_constants.register
def _(op: accel.SoftmaxOp, params: ic.ParamSource) -> OpConstants:
    levels = ic.softmax_levels(op)
    table = ic.softmax_table(op)
    length = op.input.type.get_shape()[-1]  # type: ignore[attr-defined]
    fx.check_exact(float(2 * table[0]) * levels + float(length) * float(table[0]), "softmax numerator",
                   fx.INT64_BUDGET_BITS)
    return OpConstants(arrays={"table": (table[None, :], U32)},
                       scalars={"levels": levels, "table_len": int(table.size)})


@op_constants.register
def _(op: accel.GeluOp, params: ic.ParamSource) -> OpConstants:
    table = ic.gelu_table(op)
    in_lo = ic.format_of(op.input).code_range[0]
    return OpConstants(arrays={"table": (table[None, :], elem_of(ic.out_format(op), op))}, scalars={"in_lo": in_lo})


# ----- the parameter region of DDR -------------------------------------------------


@dataclass(frozen=True)
class ArrayEntry:
    """One array in `weights/params.bin`: where it is and how it is packed."""

    name: str
    base: int  # first word
    words: int
    rows: int
    cols: int
    row_stride: int  # elements (cols rounded up to whole words)
    elem: Elem


class ParamArena:
    """Packs constant arrays one after another, each row starting on a word boundary."""

    def __init__(self, port_bits: int):
        self.port_bits = port_bits
        self.words = 0
        self.entries: list[ArrayEntry] = []
        self._chunks: list[np.ndarray] = []

    def add(self, name: str, codes: np.ndarray, elem: Elem) -> ArrayEntry:
        codes = np.asarray(codes, dtype=np.int64)
        if codes.ndim == 1:
            codes = codes[None, :]
        rows, cols = codes.shape
        g = elem.per_word(self.port_bits)
        stride = -(-cols // g) * g
        padded = np.full((rows, stride), 1 if elem.sign_bit else 0, dtype=np.int64)
        padded[:, :cols] = codes
        try:
            sub = pack(padded, elem, self.port_bits)
        except ValueError as e:
            raise VaqfError(f"constant {name}: {e}") from None
        words = rows * stride // g
        assert sub.size == words * self.port_bits // 64
        entry = ArrayEntry(name, self.words, words, rows, cols, stride, elem)
        self.entries.append(entry)
        self._chunks.append(sub)
        self.words += words
        return entry

    def blob(self) -> np.ndarray:
        """All arrays as little-endian 64-bit sub-words."""
        if not self._chunks:
            return np.zeros(0, dtype=np.uint64)
        return np.concatenate(self._chunks)
