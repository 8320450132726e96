"""backends/hls/overflow.py: every fixed-width integer of the emitted kernel provably fits; worst cases at the bound."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vaqf_compiler import intconst as ic
from vaqf_compiler.backends.hls import emit_project, overflow, weights
from vaqf_compiler.backends.hls.overflow import Interval, check_program, product_interval, requant_interval, row_intervals
from vaqf_compiler.backends.hls.program import build_program
from vaqf_compiler.dialects import accel
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.torch_import import ImportedModel

from test_hls_csim import lowered, small  # noqa: F401  (fixture)


def test_interval_fits_at_the_edges():
    assert Interval(-128, 127).fits(8) and not Interval(-129, 127).fits(8) and not Interval(-128, 128).fits(8)
    assert overflow.signed_bits_needed(Interval(-(2**40), 2**40 - 1)) == 41


@pytest.mark.parametrize("k", [0, 3, 10])
def test_binary_worst_case_exactly_at_the_bound(k):
    """n = 2^k inputs, all weights +1, int8 inputs all -128: the sum is -2^(7+k), exactly the
    most negative (8+k)-bit value; one more input is one step beyond."""
    x = Interval(-128, 127)
    n = 1 << k
    (acc,) = row_intervals(np.ones((1, n), dtype=np.int64), x)
    assert acc == Interval(-128 * n, 127 * n)
    assert acc.fits(8 + k) and not acc.fits(7 + k)
    (beyond,) = row_intervals(np.ones((1, n + 1), dtype=np.int64), x)
    assert not beyond.fits(8 + k)


def test_fixed_point_worst_case_and_mixed_signs():
    # 16-bit max codes times 16-bit max codes over 4 terms: 4 * 32768^2 = 2^32 -> 34 bits (the lo side).
    w = np.full((1, 4), -32768, dtype=np.int64)
    (acc,) = row_intervals(w, Interval(-32768, 32767))
    assert acc == Interval(-32768 * 32767 * 4, 32768 * 32768 * 4)
    assert acc.fits(34) and not acc.fits(33)
    # Mixed signs in a row: positives meet hi, negatives meet lo.
    (acc,) = row_intervals(np.array([[3, -2]]), Interval(-1, 5))
    assert acc == Interval(3 * -1 - 2 * 5, 3 * 5 - 2 * -1)
    # Power-of-two ints up to 2^E beyond int64 row sums: exact on Python ints.
    big = np.array([[1 << 62, 1 << 62, -(1 << 62)]], dtype=object)
    (acc,) = row_intervals(big, Interval(-1, 1))
    assert acc == Interval(-(3 << 62), 3 << 62)


def test_attention_and_requant_intervals():
    assert product_interval(Interval(-8, 7), Interval(0, 15), 64) == Interval(64 * -8 * 15, 64 * 7 * 15)
    # acc·M + O plus round_shift's half.
    assert requant_interval(Interval(-10, 20), 3, 5, 4) == Interval(-30 + 5, 60 + 5 + 8)
    edge = requant_interval(Interval(0, (2**62 - 1)), 2, 0, 1)
    assert edge.hi == 2**63 - 1 and edge.fits(64)
    assert not requant_interval(Interval(0, 2**62), 2, 0, 1).fits(64)


def _all_positive(model: ImportedModel) -> ImportedModel:
    """Every FC weight positive: binarized, every weight code is +1 (the binary worst case)."""
    params = {k: (np.abs(v) + 0.01 if k.endswith(".weight") and v.ndim == 2 else v) for k, v in model.params.items()}
    return ImportedModel(model.module, params)


def test_emitted_widths_hold_and_one_bit_less_is_refused(small):  # noqa: F811
    model = _all_positive(small)
    module = lowered(model, 1, 8)
    program = build_program(module, model.params)
    check_program(program, model.params)  # what emit_project emits is proven
    # The exact worst case of the binary array: every weight +1, so a layer of n inputs sums to n*lo .. n*hi.
    need = 0
    for op in program.ops:
        if isinstance(op, accel.EngineOp) and not op.is_attention and op.quant.weights.bits.data == 1:
            lo, hi, _ = ic.code_range(ic.format_of(op.lhs))
            n = op.lhs.type.get_shape()[-1]
            need = max(need, overflow.signed_bits_needed(Interval(n * min(lo, 0), n * hi)))
    assert need <= program.config.bin_acc_bits
    at_bound = dataclasses.replace(program, config=dataclasses.replace(program.config, bin_acc_bits=need))
    check_program(at_bound, model.params)
    beyond = dataclasses.replace(program, config=dataclasses.replace(program.config, bin_acc_bits=need - 1))
    with pytest.raises(VaqfError, match=rf"integer overflow: the accumulator .* but the kernel's bin_acc_t is {need - 1} bits"):
        check_program(beyond, model.params)
    # The 16-bit array and the input operands too.
    narrow = dataclasses.replace(program, config=dataclasses.replace(program.config, dsp_acc_bits=20))
    with pytest.raises(VaqfError, match="dsp_acc_t is 20 bits"):
        check_program(narrow, model.params)
    narrow = dataclasses.replace(program, config=dataclasses.replace(program.config, bin_x_bits=7))
    with pytest.raises(VaqfError, match="input codes .* bin_x_t is 7 bits"):
        check_program(narrow, model.params)


def test_emit_refuses_a_kernel_that_could_overflow(small, monkeypatch):  # noqa: F811
    """The hook in emit_project: accumulators sized two bits short are refused, naming the layer."""
    module = lowered(small, 1, 8)
    emit_project(module, small.params)
    real = weights.acc_bits
    monkeypatch.setattr(weights, "acc_bits", lambda bound: real(bound) - 2)
    with pytest.raises(VaqfError, match="integer overflow") as info:
        emit_project(module, small.params)
    assert info.value.where and "accel.engine" in info.value.where


def test_no_rows_is_no_interval():
    """A mixed layer whose rows are all power-of-two leaves the fixed-point part empty."""
    assert row_intervals(np.zeros((0, 32), dtype=np.int64), Interval(-128, 127)) == []
