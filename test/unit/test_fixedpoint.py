"""The exact integer primitives of fixedpoint.py, on hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vaqf_compiler import fixedpoint as fx


def test_round_shift_is_half_up_for_both_signs():
    x = np.array([5, 6, 7, -5, -6, -7, 4, -4], dtype=np.int64)  # /4: 1.25 1.5 1.75 -1.25 -1.5 -1.75 1 -1
    assert fx.round_shift(x, 2).tolist() == [1, 2, 2, -1, -1, -2, 1, -1]
    assert fx.round_shift(x, 0).tolist() == x.tolist()


def test_quantize_saturates_and_keeps_sign_for_one_bit():
    x = np.array([-10.0, -0.26, -0.25, 0.0, 0.24, 0.25, 10.0])
    assert fx.quantize(x, 0.5, -2, 1).tolist() == [-2, -1, 0, 0, 0, 1, 1]
    # 1 bit: the sign of the value itself, as the training quantizer (+1 for >= 0).
    assert fx.quantize(x, 0.5, -1, 1, binary=True).tolist() == [-1, -1, -1, 1, 1, 1, 1]


def test_requant_constants_are_accurate_and_bounded():
    ratio = np.array([0.001, 0.37, 3.5])
    rq = fx.requant_constants(ratio, acc_bound=2.0**20, offset=np.array([0.0, 1.5, -2.0]))
    assert np.all(np.abs(rq.multiplier) < 2**31)
    assert 2.0**20 * rq.multiplier.max() + np.abs(rq.offset).max() < 2.0**62
    assert np.allclose(rq.multiplier / 2.0**rq.shift, ratio, rtol=2**-20)
    acc = np.array([[1000, -1000, 7]], dtype=np.int64)
    want = np.floor(acc * ratio + np.array([0.0, 1.5, -2.0]) + 0.5)
    assert rq(acc, -(2**20), 2**20).tolist() == want.astype(np.int64).tolist()
    assert rq(acc, -1, 1, binary=True).tolist() == [[1, -1, 1]]


def test_requant_refuses_what_int64_cannot_hold():
    with pytest.raises(fx.RangeError):
        fx.requant_constants(2.0**40, acc_bound=2.0**40)


def test_exactness_bound_is_enforced():
    # 16-bit codes over 2**24 inputs: partial sums could pass 2**53, where float64 stops being exact.
    with pytest.raises(fx.RangeError, match="exceeds 2\\*\\*53"):
        fx.int_matmul(np.ones((1, 4), np.int64), np.ones((4, 1), np.int64), bound=2.0**24 * 2**15 * 2**15, what="fc")
    a = np.full((1, 1024), 2**15 - 1, np.int64)
    assert fx.int_matmul(a, a.T, bound=1024.0 * 2**30, what="fc")[0, 0] == 1024 * (2**15 - 1) ** 2


def test_binarize_per_output_channel():
    w = np.array([[0.5, -1.5, 0.0], [-2.0, 2.0, 2.0]])
    codes, alpha = fx.binarize(w)
    assert codes.tolist() == [[1, -1, 1], [-1, 1, 1]]
    assert alpha.tolist() == [pytest.approx(2.0 / 3), pytest.approx(2.0)]


def test_fixed_weights_use_a_power_of_two_step():
    codes, step = fx.fixed_weights(np.array([[0.75, -3.0]]))
    assert step == 2.0**-13 and codes.tolist() == [[6144, -24576]]


def test_softmax_codes_match_float_softmax():
    rng = np.random.default_rng(0)
    codes = rng.integers(-3000, 3000, size=(3, 17)).astype(np.int64)
    step = 2.0**-9
    table = fx.exp_table(step)
    p = fx.softmax_codes(codes, table, 255)
    x = codes * step
    want = np.exp(x - x.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    assert np.abs(p / 255 - want).max() <= 0.5 / 255 + 1e-6
    assert table[0] == 2**30 and table[-1] > 0


def test_gelu_table_matches_gelu():
    table = fx.gelu_table(-128, 127, 0.05, 0.02, -128, 127)
    x = np.arange(-128, 128) * 0.05
    want = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    assert np.abs(table * 0.02 - np.clip(want, -128 * 0.02, 127 * 0.02)).max() <= 0.01 + 1e-12


def test_layer_norm_codes_match_float_layer_norm():
    rng = np.random.default_rng(1)
    dim, in_step, out_step = 192, 2.0**-10, 2.0**-8
    codes = rng.integers(-20000, 20000, size=(5, dim)).astype(np.int64)
    gamma, beta = rng.normal(1, 0.3, dim), rng.normal(0, 0.3, dim)
    c = fx.layer_norm_constants(gamma, beta, 1e-6, dim, in_step, out_step)
    got = fx.layer_norm_codes(codes, c, 16, -(2**15), 2**15 - 1) * out_step
    x = codes * in_step
    want = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-6) * gamma + beta
    assert np.abs(got - want).max() <= out_step  # within one output step (rounding + 24-bit reciprocal)


def test_layer_norm_of_a_constant_row_is_beta():
    c = fx.layer_norm_constants(None, np.full(4, 0.5), 1e-12, 4, 1.0, 0.25)
    assert fx.layer_norm_codes(np.full((1, 4), 7, np.int64), c, 16, -8, 7).tolist() == [[2, 2, 2, 2]]
