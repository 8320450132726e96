"""vaqf_compiler.mixed: the mixed fixed-point / power-of-two weight scheme (codes, row split, mask text)."""

from __future__ import annotations

import numpy as np
import pytest

from vaqf_compiler import mixed


# ---- fixed point ----

def test_fixed_codes_are_symmetric_round_half_up_and_saturated():
    # k = 4: qmax 7, step = max|W| / 7 = 1 for the first row.
    w = np.array([[7.0, -3.5, 0.5, 0.49, -0.5, 0.0, 2.5], [0.0] * 7])
    codes, step = mixed.fixed_rows(w, 4)
    assert step[0] == 1.0
    assert codes[0].tolist() == [7, -3, 1, 0, 0, 0, 3]  # ties go up: -3.5 -> -3, -0.5 -> 0, 2.5 -> 3
    assert codes[1].tolist() == [0] * 7 and step[1] > 0  # an all-zero row: every code 0, any positive step
    for k in range(2, 9):
        codes, _ = mixed.fixed_rows(np.array([[-1.0, 1.0, 0.3]]), k)
        assert codes[0, 0] == -(2 ** (k - 1) - 1) and codes[0, 1] == 2 ** (k - 1) - 1
    assert np.array_equal(mixed.fixed_values(w, 4), mixed.fixed_rows(w, 4)[0] * mixed.fixed_rows(w, 4)[1][:, None])


# ---- power of two ----

def test_pot_levels_thresholds_and_codes_at_4_bits():
    assert mixed.pot_max_exponent(4) == 6 and mixed.pot_max_exponent(2) == 0 and mixed.pot_max_exponent(8) == 126
    # α = 1 (the row max). Level 2^-e wins from 0.75 · 2^-e; the smallest level 2^-6 from 2^-7; below: zero.
    x = [1.0, 0.75, 0.7499, 0.375, 0.3749, 0.5 ** 6, 0.5 ** 7, 0.5 ** 7 * 0.999, 0.0]
    e, negative, alpha = mixed.pot_exponents(np.array([x]), 4)
    assert alpha.tolist() == [1.0]
    assert e[0].tolist() == [0, 0, 1, 1, 2, 6, 6, 7, 7]
    assert not negative.any()
    ints, step = mixed.pot_rows(np.array([x]), 4)
    assert ints[0].tolist() == [64, 64, 32, 32, 16, 1, 1, 0, 0] and step.tolist() == [2.0 ** -6]


def test_pot_codes_pack_sign_above_exponent_and_zero_has_no_sign():
    w = np.array([[-2.0, 2.0, -1.0, -0.01, 0.5, 0.0]])  # α = 2
    codes = mixed.pot_codes(w, 4)
    # -2: sign 1, e 0 -> 0b1000; 2: e 0; -1: sign, e 1; -0.01 is below 2^-7 · 2: zero code 7, sign 0.
    assert codes[0].tolist() == [8, 0, 9, 7, 2, 7]
    ints, _ = mixed.pot_rows(w, 4)
    assert ints[0].tolist() == [-64, 64, -32, 0, 16, 0]
    assert np.array_equal(mixed.pot_values(w, 4), ints * mixed.pot_rows(w, 4)[1][:, None])


def test_two_bit_pot_is_sign_or_zero():
    w = np.array([[1.0, -0.5, 0.49, -0.2]])
    assert mixed.pot_codes(w, 2)[0].tolist() == [0, 2, 1, 1]
    assert mixed.pot_rows(w, 2)[0][0].tolist() == [1, -1, 0, 0]


def test_eight_bit_pot_values_exist_but_integer_weights_are_refused():
    w = np.array([[1.0, 2.0 ** -100, -2.0 ** -126]])
    assert mixed.pot_values(w, 8)[0].tolist() == [1.0, 2.0 ** -100, -(2.0 ** -126)]
    with pytest.raises(ValueError, match="at most 7 weight bits"):
        mixed.pot_rows(w, 8)
    # Without PoT rows 8 bits are fine.
    mw = mixed.mixed_weights(w, 8, np.array([False]))
    assert mw.ints[0].tolist() == [127, 0, 0]


@pytest.mark.parametrize("bits", range(2, 8))
def test_values_equal_integer_weights_times_step(bits):
    rng = np.random.default_rng(bits)
    w = rng.standard_normal((23, 17)) * rng.uniform(1e-3, 3.0, (23, 1))
    w[5] = 0.0
    for ratio in (0.0, 0.3, 0.5, 1.0):
        mw = mixed.mixed_weights(w, bits, mixed.assign_pot_rows(w, bits, ratio))
        assert np.array_equal(mw.ints * mw.step[:, None], mixed.mixed_values(w, bits, ratio))
        fixed_bound = 2 ** (bits - 1) - 1
        assert (np.abs(mw.ints[~mw.pot]) <= fixed_bound).all()
        assert (np.abs(mw.ints[mw.pot]) <= 2 ** mixed.pot_max_exponent(bits)).all()
        assert ((mw.codes >= -fixed_bound) & (mw.codes < 2**bits)).all()
        assert (mw.codes[mw.pot] >= 0).all()


# ---- the row split ----

def test_pot_count_rounds_half_up():
    assert [mixed.pot_count(n, r) for n, r in ((3, 0.5), (5, 0.5), (2, 0.25), (2, 0.2), (768, 0.5), (7, 0.0), (7, 1.0))] \
        == [2, 3, 1, 0, 384, 0, 7]


def test_rows_with_the_smallest_pot_error_go_to_pot_ties_to_the_lower_index():
    exact = [1.0, -0.5, 0.25, 0.0]  # PoT-exact: error 0
    spread = [1.0, 0.6, 0.3, 0.1]  # error > 0
    worse = [1.0, 0.87, 0.62, 0.43]
    w = np.array([spread, exact, worse, exact, [0.0] * 4])
    err = mixed.pot_error(w, 4)
    assert err[1] == err[3] == err[4] == 0.0 and 0 < err[0] < err[2]
    assert mixed.assign_pot_rows(w, 4, 0.0).tolist() == [False] * 5
    assert mixed.assign_pot_rows(w, 4, 1.0).tolist() == [True] * 5
    # 0.2 · 5 = 1 row: the lowest-index zero-error row.
    assert mixed.assign_pot_rows(w, 4, 0.2).tolist() == [False, True, False, False, False]
    # 0.5 · 5 = 2.5 -> 3 rows: the three zero-error rows (the all-zero row included).
    assert mixed.assign_pot_rows(w, 4, 0.5).tolist() == [False, True, False, True, True]
    # 0.8 · 5 = 4: then the smaller nonzero error.
    assert mixed.assign_pot_rows(w, 4, 0.8).tolist() == [True, True, False, True, True]
    # Identical rows: the lower index first.
    same = np.tile(np.array(spread), (4, 1))
    assert mixed.assign_pot_rows(same, 4, 0.5).tolist() == [True, True, False, False]


def test_all_zero_rows_have_zero_codes_in_both_schemes():
    w = np.zeros((2, 3))
    mw = mixed.mixed_weights(w, 4, np.array([True, False]))
    assert mw.ints.tolist() == [[0] * 3] * 2
    assert mw.codes[0].tolist() == [7] * 3 and mw.codes[1].tolist() == [0] * 3  # PoT zero code = E + 1
    assert (mw.step > 0).all()


def test_the_split_is_scale_invariant_per_row():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((16, 8))
    scaled = w * rng.uniform(0.01, 100.0, (16, 1))
    assert np.array_equal(mixed.assign_pot_rows(w, 4, 0.5), mixed.assign_pot_rows(scaled, 4, 0.5))


def test_range_checks():
    w = np.ones((2, 2))
    for bits in (1, 9):
        with pytest.raises(ValueError, match="2..8 bits"):
            mixed.fixed_rows(w, bits)
        with pytest.raises(ValueError, match="2..8 bits"):
            mixed.pot_codes(w, bits)
    for ratio in (-0.1, 1.5):
        with pytest.raises(ValueError, match="PoT ratio"):
            mixed.assign_pot_rows(w, 4, ratio)
    with pytest.raises(ValueError, match="3 rows, the weights 2"):
        mixed.mixed_weights(w, 4, np.array([True, False, True]))


# ---- the mask text ----

def test_mask_hex_layout_and_round_trip():
    assert mixed.mask_to_hex(np.array([True, False, False, False, False, True])) == "12"
    assert mixed.mask_to_hex(np.array([True] * 4 + [False] * 3 + [True])) == "f8"
    assert mixed.mask_to_hex(np.zeros(0, dtype=bool)) == ""
    rng = np.random.default_rng(2)
    for rows in range(1, 14):
        mask = rng.random(rows) < 0.5
        text = mixed.mask_to_hex(mask)
        assert len(text) == -(-rows // 4)
        assert mixed.hex_to_mask(text, rows).tolist() == mask.tolist()
    assert mixed.hex_to_mask("F8", 8).tolist() == [True] * 4 + [False] * 3 + [True]


def test_mask_hex_errors():
    with pytest.raises(ValueError, match="6 rows has 2 hex digits, got 1"):
        mixed.hex_to_mask("1", 6)
    with pytest.raises(ValueError, match="not hexadecimal"):
        mixed.hex_to_mask("1g", 6)
    with pytest.raises(ValueError, match="beyond the 6 rows"):
        mixed.hex_to_mask("14", 6)  # row 6 set
