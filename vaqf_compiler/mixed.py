"""The mixed weight scheme (after Auto-ViT-Acc): fixed-point rows and power-of-two rows.

Only Auto-ViT-Acc's abstract is public; every definition here is ours
(docs/quantization.md, "Mixed scheme"). One weight matrix W [out, in] is split
by rows (output channels):

- fixed-point rows: k-bit symmetric codes q in [-(2^(k-1) - 1), 2^(k-1) - 1],
  step α_j = max_i |W_ji| / (2^(k-1) - 1), q = round_half_up(W / α) (saturated);
  multiplied on DSPs.
- power-of-two (PoT) rows: k-bit codes = sign bit + (k-1) exponent bits.
  With L = 2^(k-1) exponent codes, e in 0 .. L-2 stands for the magnitude
  2^-e · α_j and e = L-1 for zero; α_j = max_i |W_ji|. A weight takes the
  level nearest to |W| / α_j (ties to the larger level). In integers the
  weight is ±2^(E - e) with E = L - 2 (a left shift of the activation code), and
  the row's step is α_j · 2^-E; applied as shifts and additions in LUTs.

Row assignment (the rule): for a PoT ratio r, n_pot = floor(r · out + 1/2)
rows go to the PoT engine: those whose PoT approximation loses the least,
measured by err_j = Σ_i (W_ji - PoT(W)_ji)^2 / Σ_i W_ji^2 (0 for an all-zero
row); ties go to the lower row index. The other rows (largest PoT error: the
widest spread of magnitudes) stay fixed point.

This module is pure numpy and torch-free: the training quantizers, the
compiler's integer constants and the HLS packer all call it, so the row split
and the codes are computed once, the same way, everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Fewer bits leave a PoT code no exponent bit, a fixed-point code no magnitude bit.
MIN_WEIGHT_BITS = 2
MAX_WEIGHT_BITS = 8


def check_weight_bits(bits: int) -> None:
    if not MIN_WEIGHT_BITS <= bits <= MAX_WEIGHT_BITS:
        raise ValueError(f"mixed-scheme weights need {MIN_WEIGHT_BITS}..{MAX_WEIGHT_BITS} bits, got {bits}")


def check_ratio(ratio: float) -> None:
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"the PoT ratio must be in [0, 1], got {ratio}")


def fixed_max_code(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def pot_max_exponent(bits: int) -> int:
    """E: the exponent of the smallest non-zero PoT magnitude 2^-E (the zero code is E + 1)."""
    return (1 << (bits - 1)) - 2


def _row_max(w: np.ndarray) -> np.ndarray:
    m = np.abs(w).max(axis=1)
    return np.where(m > 0, m, 1.0)  # all-zero rows: any step, every code is 0


# ----- fixed point ----------------------------------------------------------------


def fixed_rows(w: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes [out, in] int64, step [out]) of every row in k-bit symmetric fixed point."""
    check_weight_bits(bits)
    w = np.asarray(w, dtype=np.float64)
    qmax = fixed_max_code(bits)
    step = _row_max(w) / qmax
    codes = np.clip(np.floor(w / step[:, None] + 0.5), -qmax, qmax).astype(np.int64)
    return codes, step


# ----- power of two ------------------------------------------------------------------


def pot_exponents(w: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(exponent codes e [out, in], negative [out, in] bool, α [out]) of every row as PoT.

    e = E + 1 is the zero code; `negative` is False where e is the zero code.
    """
    check_weight_bits(bits)
    w = np.asarray(w, dtype=np.float64)
    top = pot_max_exponent(bits)
    alpha = _row_max(w)
    x = np.abs(w) / alpha[:, None]
    # Nearest level, ties up: level 2^-e wins over 2^-(e+1) from 0.75 · 2^-e on,
    # the smallest level 2^-E wins over zero from 2^-E / 2 on.
    e = np.full(w.shape, top + 1, dtype=np.int64)
    for level in range(top, -1, -1):
        threshold = 0.5 * 2.0**-top if level == top else 0.75 * 2.0**-level
        e = np.where(x >= threshold, level, e)
    negative = (w < 0) & (e <= top)
    return e, negative, alpha


# The integer PoT weight ±2^E must fit an int64: E = 2^(k-1) - 2 <= 62, so k <= 7.
MAX_POT_INT_BITS = 7


def pot_rows(w: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(integer weights ±2^(E-e) or 0 [out, in] int64, step α·2^-E [out]) of every row as PoT.

    ValueError for k > 7 bits, whose integer weights (up to 2^126 at k = 8) overflow int64.
    """
    e, negative, alpha = pot_exponents(w, bits)
    top = pot_max_exponent(bits)
    if bits > MAX_POT_INT_BITS:
        raise ValueError(
            f"{bits}-bit power-of-two weights are integers up to 2^{top}, beyond 64 bits; "
            f"use at most {MAX_POT_INT_BITS} weight bits with PoT rows"
        )
    magnitude = np.where(e <= top, np.left_shift(np.int64(1), np.clip(top - e, 0, None)), 0)
    return np.where(negative, -magnitude, magnitude).astype(np.int64), alpha * 2.0**-top


def pot_codes(w: np.ndarray, bits: int) -> np.ndarray:
    """The stored k-bit PoT codes: bit k-1 = sign (1: negative), the low k-1 bits = e."""
    e, negative, _ = pot_exponents(w, bits)
    return (negative.astype(np.int64) << (bits - 1)) | e


def pot_values(w: np.ndarray, bits: int) -> np.ndarray:
    """The real values PoT(W) = ±α·2^-e (0 for the zero code) the PoT rows stand for.

    Computed in floats (ldexp, exact), so every k works; equal to `pot_rows`'
    ints · step wherever those exist (both are exact power-of-two scalings of α).
    """
    e, negative, alpha = pot_exponents(w, bits)
    top = pot_max_exponent(bits)
    magnitude = np.where(e <= top, np.ldexp(np.broadcast_to(alpha[:, None], e.shape), -np.minimum(e, top)), 0.0)
    return np.where(negative, -magnitude, magnitude)


def fixed_values(w: np.ndarray, bits: int) -> np.ndarray:
    """The real values the fixed-point rows stand for."""
    codes, step = fixed_rows(w, bits)
    return codes * step[:, None]


# ----- the row split ------------------------------------------------------------------


def pot_count(rows: int, ratio: float) -> int:
    check_ratio(ratio)
    return int(np.floor(ratio * rows + 0.5))


def pot_error(w: np.ndarray, bits: int) -> np.ndarray:
    """err_j = Σ (W - PoT(W))^2 / Σ W^2 per row (0 for an all-zero row)."""
    w = np.asarray(w, dtype=np.float64)
    energy = (w * w).sum(axis=1)
    loss = ((w - pot_values(w, bits)) ** 2).sum(axis=1)
    return np.where(energy > 0, loss / np.where(energy > 0, energy, 1.0), 0.0)


def assign_pot_rows(w: np.ndarray, bits: int, ratio: float) -> np.ndarray:
    """The row split: a bool mask [out], True for the rows that go to the PoT engine."""
    w = np.asarray(w, dtype=np.float64).reshape(np.shape(w)[0], -1)
    n_pot = pot_count(w.shape[0], ratio)
    order = np.lexsort((np.arange(w.shape[0]), pot_error(w, bits)))  # by error, then index
    mask = np.zeros(w.shape[0], dtype=bool)
    mask[order[:n_pot]] = True
    return mask


@dataclass(frozen=True)
class MixedWeights:
    """A weight matrix in the mixed scheme, as the integer arithmetic sees it."""

    pot: np.ndarray  # bool [out]: the row is power of two
    ints: np.ndarray  # int64 [out, in]: q (fixed rows) or ±2^(E-e) / 0 (PoT rows)
    step: np.ndarray  # float64 [out]: the real value of one integer unit, per row
    codes: np.ndarray  # int64 [out, in]: the stored codes (fixed: q; PoT: sign|e)


def mixed_weights(w: np.ndarray, bits: int, pot: np.ndarray) -> MixedWeights:
    """Codes of W [out, in] with the given row split `pot` (from `assign_pot_rows` or the IR)."""
    w = np.asarray(w, dtype=np.float64).reshape(np.shape(w)[0], -1)
    pot = np.asarray(pot, dtype=bool)
    if pot.shape != (w.shape[0],):
        raise ValueError(f"the row split has {pot.shape[0]} rows, the weights {w.shape[0]}")
    f_ints, f_step = fixed_rows(w, bits)
    if pot.any():
        p_ints, p_step = pot_rows(w, bits)
    else:  # no PoT row: any k works (pot_rows refuses k = 8)
        p_ints, p_step = f_ints, f_step
    sel = pot[:, None]
    return MixedWeights(
        pot=pot,
        ints=np.where(sel, p_ints, f_ints),
        step=np.where(pot, p_step, f_step),
        codes=np.where(sel, pot_codes(w, bits), f_ints),
    )


def mixed_values(w: np.ndarray, bits: int, ratio: float) -> np.ndarray:
    """Fake-quant weights: the rule's split at `ratio`, each row in its scheme (float64).

    Equal to `mixed_weights(...)`'s ints · step (for k <= 7; at k = 8 only the
    values exist, the compiler refuses PoT rows).
    """
    w = np.asarray(w, dtype=np.float64)
    w2 = w.reshape(w.shape[0], -1)
    pot = assign_pot_rows(w2, bits, ratio)[:, None]
    return np.where(pot, pot_values(w2, bits), fixed_values(w2, bits)).reshape(w.shape)


# ----- the row split as text (the IR's #vit.rows mask) -----------------------------------


def mask_to_hex(mask: np.ndarray) -> str:
    """Hex digit i holds rows 4i .. 4i+3; row 4i+b is the bit of value 2^b."""
    bits = np.zeros(-(-len(mask) // 4) * 4, dtype=np.int64)
    bits[: len(mask)] = np.asarray(mask, dtype=np.int64)
    digits = (bits.reshape(-1, 4) << np.arange(4)).sum(axis=1)
    return "".join("0123456789abcdef"[d] for d in digits)


def hex_to_mask(text: str, rows: int) -> np.ndarray:
    """Inverse of `mask_to_hex`; ValueError when the text does not describe `rows` rows."""
    if len(text) != -(-rows // 4):
        raise ValueError(f"a mask of {rows} rows has {-(-rows // 4)} hex digits, got {len(text)}")
    try:
        digits = np.array([int(c, 16) for c in text], dtype=np.int64)
    except ValueError:
        raise ValueError(f"the mask {text!r} is not hexadecimal") from None
    bits = ((digits[:, None] >> np.arange(4)) & 1).reshape(-1).astype(bool)
    if bits[rows:].any():
        raise ValueError(f"the mask sets rows beyond the {rows} rows of the weights")
    return bits[:rows]
