"""How codes sit in the accelerator's memory: the packing both sides of the AXI ports agree on.

Memory is an array of `port_bits`-bit words (the m_axi data width, a multiple
of 64). A tensor of b-bit codes packs G = port_bits // b codes per word: code
e occupies bits [e·b, (e+1)·b) of word e // G, lowest bits first; a code never
straddles two words (6-bit codes use 60 of 64 bits). Signed codes are two's
complement; 1-bit signed codes (binary weights, 1-bit activations) store +1 as
1 and −1 as 0. Words are stored as little-endian 64-bit sub-words, so a file
of packed words is the same bytes the kernel's `ap_uint<port_bits>` reads.

`vaqf_host.h` and `vaqf_engine.h` implement the same rule in C++; the
round-trip tests check all three against each other for every G.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Elem:
    """The format of one packed code: width and signedness."""

    bits: int
    signed: bool

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= 64:
            raise ValueError(f"codes of {self.bits} bits cannot be packed (1..64)")

    @property
    def sign_bit(self) -> bool:
        """1-bit signed codes are ±1 (stored as 1 for +1, 0 for −1)."""
        return self.signed and self.bits == 1

    def per_word(self, port_bits: int) -> int:
        """G: codes per word."""
        return port_bits // self.bits

    @property
    def range(self) -> tuple[int, int]:
        if self.sign_bit:
            return -1, 1
        if self.signed:
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1


def words_for(count: int, elem: Elem, port_bits: int) -> int:
    """Words that hold `count` consecutive codes starting at a word boundary."""
    g = elem.per_word(port_bits)
    return -(-count // g)


def _check_port(port_bits: int) -> None:
    if port_bits < 64 or port_bits % 64:
        raise ValueError(f"port width must be a multiple of 64 bits, got {port_bits}")


def pack(codes: np.ndarray, elem: Elem, port_bits: int = 64) -> np.ndarray:
    """Codes (any integer array, taken flat) -> packed words as uint64 sub-words (little end first).

    The result has `words_for(len, elem, port_bits) * port_bits // 64` entries; unused
    bits are zero. Codes outside the format's range are an error.
    """
    _check_port(port_bits)
    flat = np.asarray(codes, dtype=np.int64).ravel()
    lo, hi = elem.range
    if flat.size and (flat.min() < lo or flat.max() > hi or (elem.sign_bit and np.any(flat == 0))):
        raise ValueError(f"codes outside the {elem.bits}-bit {'signed' if elem.signed else 'unsigned'} range")
    b, g = elem.bits, elem.per_word(port_bits)
    n_words = words_for(flat.size, elem, port_bits)
    if elem.sign_bit:
        raw = (flat > 0).astype(np.uint64)
    else:
        raw = flat.astype(np.uint64)  # two's complement wrap for negatives
        if b < 64:
            raw &= np.uint64((1 << b) - 1)
    # Bit matrix [codes, b] (lowest bit first), placed at word*port_bits + slot*b.
    bitmat = ((raw[:, None] >> np.arange(b, dtype=np.uint64)[None, :]) & np.uint64(1)).astype(np.uint8)
    idx = np.arange(flat.size, dtype=np.int64)
    start = (idx // g) * port_bits + (idx % g) * b
    bitstream = np.zeros(n_words * port_bits, dtype=np.uint8)
    if flat.size:
        bitstream[(start[:, None] + np.arange(b)[None, :]).ravel()] = bitmat.ravel()
    return np.packbits(bitstream, bitorder="little").view("<u8").astype(np.uint64)


def unpack(words: np.ndarray, count: int, elem: Elem, port_bits: int = 64, first: int = 0) -> np.ndarray:
    """The inverse of `pack`: codes `first` .. `first + count - 1` of packed sub-words, as int64."""
    _check_port(port_bits)
    b, g = elem.bits, elem.per_word(port_bits)
    bits = np.unpackbits(np.asarray(words, dtype="<u8").view(np.uint8), bitorder="little")
    idx = np.arange(first, first + count, dtype=np.int64)
    start = (idx // g) * port_bits + (idx % g) * b
    bitmat = bits[start[:, None] + np.arange(b)[None, :]].astype(np.uint64)
    raw = (bitmat << np.arange(b, dtype=np.uint64)[None, :]).sum(axis=1, dtype=np.uint64)
    if elem.sign_bit:
        return np.where(raw == 1, np.int64(1), np.int64(-1))
    if elem.signed and b < 64:
        neg = (raw >> np.uint64(b - 1)) & np.uint64(1)
        raw = raw | (neg * np.uint64(((1 << 64) - 1) ^ ((1 << b) - 1)))
    return raw.view(np.int64) if raw.dtype == np.uint64 else raw.astype(np.int64)
