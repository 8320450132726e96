"""Fake quantizers, progressive binarization and the quantized DeiT: the semantics the compiler relies on."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vaqf_compiler import mixed
from vaqf_compiler.models.deit import DeiT, DeiTConfig
from vaqf_compiler.quant.mixed_linear import MixedLinear
from vaqf_compiler.quant.progressive import (
    BinaryLinear,
    binarized_count,
    schedule_fraction,
    set_binary_fraction,
)
from vaqf_compiler.quant.qmodel import (
    QuantDeiT,
    binarized_float_deit,
    export_float_deit,
    fake_quant_float_deit,
    latent_float_deit,
    quant_spec,
    quantize_deit,
)
from vaqf_compiler.quant.quantizers import (
    ActQuant,
    ProbQuant,
    binarize_weight,
    code_range,
    fixed_weight,
    mixed_weight,
    pot_row_mask,
    pot_weight,
    sign_ste,
    weight_alpha,
)

TINY = DeiTConfig(image_size=(8, 8), patch_size=4, in_channels=1, dim=8, depth=2, heads=2, num_classes=3)


def fixed(bits: int | None, signed: bool = True, scale: float = 1.0) -> ActQuant:
    """An ActQuant with a given, already initialised step size."""
    q = ActQuant(bits, signed)
    with torch.no_grad():
        q.scale.fill_(scale)
        q.initialized.fill_(True)
    return q


# ---- binary weights ----

def test_sign_is_plus_one_at_zero_and_ste_passes_inside_unit_interval():
    w = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
    s = sign_ste(w)
    assert s.tolist() == [-1, -1, -1, 1, 1, 1, 1]
    s.sum().backward()
    assert w.grad.tolist() == [0, 1, 1, 1, 1, 1, 0]


def test_alpha_is_mean_abs_per_output_channel():
    w = torch.tensor([[1.0, -3.0, 2.0], [-0.1, 0.0, 0.4]], requires_grad=True)
    alpha = weight_alpha(w)
    assert alpha.shape == (2, 1)
    assert torch.allclose(alpha.squeeze(1), torch.tensor([2.0, 0.5 / 3]))
    wb = binarize_weight(w)
    assert torch.allclose(wb, torch.tensor([[2.0, -2.0, 2.0], [-0.5 / 3, 0.5 / 3, 0.5 / 3]]))
    # alpha stays differentiable: d sum(W_b) / dW = alpha-path + STE-path.
    wb.sum().backward()
    assert w.grad.abs().sum() > 0 and torch.isfinite(w.grad).all()
    row0 = torch.tensor([1.0, -1.0, 1.0]).sum() * torch.sign(torch.tensor([1.0, -3.0, 2.0])) / 3
    # row 0: |w| > 1 elements (-3, 2) get no STE gradient, only alpha's.
    assert torch.allclose(w.grad[0], row0 + torch.tensor([2.0, 0.0, 0.0]))


# ---- activations ----

def test_rounding_ste_is_identity_inside_the_clip_range_and_zero_outside():
    q = fixed(4, signed=True)  # Qn=-8, Qp=7
    x = torch.tensor([-9.0, -8.0, -3.2, 0.4, 7.0, 7.6, 10.0], requires_grad=True)
    out = q(x)
    assert out.tolist() == [-8, -8, -3, 0, 7, 7, 7]
    out.sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 0, 0]
    assert q.scale.grad is not None and math.isfinite(float(q.scale.grad)) and float(q.scale.grad) != 0


def test_lsq_scale_gradient_is_scaled_by_one_over_sqrt_numel_qp():
    q = fixed(8, signed=True, scale=0.5)  # Qp = 127
    x = torch.tensor([0.3, -100.0])  # v = 0.6 (q=1, inside), -200 (clipped to -128)
    q(x).sum().backward()
    expected = ((1 - 0.6) + (-128)) / math.sqrt(2 * 127)
    assert float(q.scale.grad) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("bits", [1, 2, 8, 16])
@pytest.mark.parametrize("signed", [True, False])
def test_code_ranges(bits, signed):
    qn, qp = code_range(bits, signed)
    if signed and bits == 1:
        assert (qn, qp) == (-1, 1)
    elif signed:
        assert (qn, qp) == (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    else:
        assert (qn, qp) == (0, 2**bits - 1)
    q = fixed(bits, signed, scale=0.25)
    x = torch.linspace(-4.0 * 2**bits, 4.0 * 2**bits, 20001)
    codes = q.codes(x)
    assert codes.dtype == torch.int32
    assert int(codes.min()) == qn and int(codes.max()) == qp
    assert torch.equal(q(x), codes.float() * 0.25)  # out == codes * s exactly
    if signed and bits == 1:
        assert set(codes.unique().tolist()) == {-1, 1}
        assert q.codes(torch.tensor([0.0, -0.0, -1e-9])).tolist() == [1, 1, -1]


def test_round_half_up_on_exact_ties():
    q = fixed(8, signed=True, scale=0.25)
    x = torch.tensor([0.5, 1.5, -0.5, -1.5, 2.5]) * 0.25  # x / s exactly these ties
    assert q.codes(x).tolist() == [1, 2, 0, -1, 3]
    assert q(x).tolist() == [0.25, 0.5, 0.0, -0.25, 0.75]
    u = fixed(4, signed=False, scale=0.25)
    assert u.codes(torch.tensor([0.5, 1.5, -0.5]) * 0.25).tolist() == [1, 2, 0]


def test_scale_initialised_from_the_first_training_batch_only():
    x = torch.tensor([[1.0, -3.0], [2.0, -2.0]])  # mean |x| = 2
    q = ActQuant(4, signed=True)  # Qp = 7
    q.eval()
    q(x)
    assert not bool(q.initialized)
    q.train()
    q(x)
    assert q.step_size() == pytest.approx(2 * 2 / math.sqrt(7))
    q(10 * x)  # later batches keep it
    assert q.step_size() == pytest.approx(2 * 2 / math.sqrt(7))
    assert "scale" in q.state_dict() and "initialized" in q.state_dict()
    b = ActQuant(1, signed=True).train()
    b(x)
    assert b.step_size() == pytest.approx(2.0)
    u = ActQuant(3, signed=False).train()
    u(x)
    assert u.step_size() == pytest.approx(2 * 2 / math.sqrt(7))


@pytest.mark.parametrize("bits", [0, 17, -1, True, 2.5, "8"])
def test_bits_outside_1_to_16_are_refused(bits):
    with pytest.raises(ValueError, match="1..16"):
        ActQuant(bits)


def test_float_quantizer_is_the_identity_without_parameters():
    q = ActQuant(None)
    x = torch.randn(5)
    assert q(x) is x and not list(q.parameters())
    assert ProbQuant(None)(x) is x


def test_probability_quantizer_has_the_fixed_scale():
    p8 = ProbQuant(8)
    assert p8.step_size() == pytest.approx(1 / 255)
    assert not list(p8.parameters())
    p = torch.softmax(torch.randn(4, 7), dim=-1)
    codes = p8.codes(p)
    assert torch.equal(codes, torch.floor(p * 255 + 0.5).to(torch.int32))
    assert torch.equal(p8(p), codes.float() * torch.tensor(1 / 255, dtype=torch.float32))
    p2 = ProbQuant(2)  # levels 3: 0.5 -> 1.5 -> 2 (half up)
    assert p2.codes(torch.tensor([0.0, 0.5, 1.0])).tolist() == [0, 2, 3]
    p1 = ProbQuant(1)
    assert p1.codes(torch.tensor([0.49, 0.5, 1.0])).tolist() == [0, 1, 1]
    t = torch.tensor([0.2, 0.7], requires_grad=True)
    p8(t).sum().backward()
    assert t.grad.tolist() == [1.0, 1.0]


# ---- progressive binarization ----

def test_schedule_fraction_first_middle_last():
    assert schedule_fraction(0, 11) == 0.0
    assert schedule_fraction(5, 11) == 0.5
    assert schedule_fraction(10, 11) == 1.0
    assert schedule_fraction(0, 1) == 1.0


def test_binarized_set_only_grows_and_is_everything_at_one():
    layer = BinaryLinear(6, 5, progressive_seed=3)
    numel = layer.weight.numel()
    before = torch.zeros_like(layer.weight, dtype=torch.bool)
    total = 13
    for step in range(total):
        layer.fraction = schedule_fraction(step, total)
        mask = layer.mask()
        assert int(mask.sum()) == binarized_count(layer.fraction, numel)
        assert bool((before <= mask).all())  # never shrinks
        before = mask
    assert int(before.sum()) == numel
    assert torch.equal(layer.train_weight(), binarize_weight(layer.weight))
    # The ranking is seeded: the same seed gives the same masks.
    assert torch.equal(BinaryLinear(6, 5, progressive_seed=3).rank, layer.rank)


def test_partly_binary_weight_mixes_binary_and_real_elements():
    layer = BinaryLinear(4, 3, progressive_seed=1)
    layer.fraction = 0.5
    mask, w, wb = layer.mask(), layer.weight.detach(), binarize_weight(layer.weight).detach()
    assert int(mask.sum()) == 6
    assert torch.equal(layer.train_weight().detach(), torch.where(mask, wb, w))


def _images(n: int = 3) -> torch.Tensor:
    return torch.randn(n, TINY.in_channels, *TINY.image_size, generator=torch.Generator().manual_seed(0))


def test_progressive_model_at_p1_equals_the_binary_model_and_at_p0_the_float_one():
    torch.manual_seed(0)
    fp = DeiT(TINY).eval()
    prog = quantize_deit(fp, None, progressive=True).eval()
    x = _images()
    with torch.no_grad():
        assert torch.allclose(prog(x), fp(x), atol=1e-5)  # p = 0: all real
        set_binary_fraction(prog, 1.0)
        binary = quantize_deit(fp, None, progressive=False).eval()
        assert torch.equal(prog(x), binary(x))
        assert torch.allclose(binarized_float_deit(binary).eval()(x), binary(x), atol=1e-5)


# ---- the quantized DeiT ----

def test_activations_are_quantized_at_the_six_points():
    torch.manual_seed(0)
    model = quantize_deit(DeiT(TINY), 4).train()
    model(_images(4))  # initialises every step size
    model.eval()
    seen: dict[str, torch.Tensor] = {}
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, BinaryLinear):
            hooks.append(m.register_forward_pre_hook(lambda mod, args, name=name: seen.__setitem__(name, args[0])))
    probs: list[torch.Tensor] = []
    for block in model.blocks:
        hooks.append(block.attn.prob_quant.register_forward_hook(lambda mod, args, out: probs.append(out)))
    with torch.no_grad():
        model(_images(2))
    for h in hooks:
        h.remove()
    quants = {}
    for i, block in enumerate(model.blocks):
        quants[f"blocks.{i}.attn.qkv"] = block.attn.in_quant
        quants[f"blocks.{i}.attn.proj"] = block.attn.proj_quant
        quants[f"blocks.{i}.fc1"] = block.fc1_quant
        quants[f"blocks.{i}.fc2"] = block.fc2_quant
    assert set(seen) == set(quants)
    for name, x in seen.items():
        q = quants[name]
        v = x / q.scale.detach()
        assert torch.allclose(v, v.round(), atol=1e-4), name
        assert float(v.min()) >= q.qn - 1e-4 and float(v.max()) <= q.qp + 1e-4, name
    for p in probs:
        v = p * 15
        assert torch.allclose(v, v.round(), atol=1e-4)


def test_quant_spec_lists_every_encoder_linear_and_attention_with_plain_floats():
    torch.manual_seed(0)
    model = quantize_deit(DeiT(TINY), 8).train()
    model(_images())
    spec = quant_spec(model)
    json.dumps(spec)  # plain values only
    float_names = {n for n, _ in DeiT(TINY).named_modules()}
    linears = {f"blocks.{i}.{n}" for i in range(TINY.depth) for n in ("attn.qkv", "attn.proj", "fc1", "fc2")}
    attns = {f"blocks.{i}.attn" for i in range(TINY.depth)}
    assert set(spec) == linears | attns and set(spec) <= float_names
    qkv = spec["blocks.0.attn.qkv"]
    assert qkv["wbits"] == 1 and qkv["abits"] == 8 and qkv["input_signed"] is True
    assert qkv["input_scale"] == model.blocks[0].attn.in_quant.step_size()
    attn = spec["blocks.1.attn"]
    assert qkv["output_scales"] == [spec["blocks.0.attn"][k] for k in ("q_scale", "k_scale", "v_scale")]
    assert attn["prob_scale"] == pytest.approx(1 / 255) and attn["prob_signed"] is False
    assert attn["score_scale"] == pytest.approx(1 / math.sqrt(TINY.dim // TINY.heads))
    float_spec = quant_spec(quantize_deit(model, None))
    assert float_spec["blocks.0.fc1"]["input_scale"] is None and float_spec["blocks.0.attn"]["prob_scale"] is None


def test_quantize_deit_keeps_step_sizes_only_for_the_same_bits():
    torch.manual_seed(0)
    a8 = quantize_deit(DeiT(TINY), 8).train()
    a8(_images())
    same = quantize_deit(a8, 8)
    assert torch.equal(same.blocks[0].fc1_quant.scale, a8.blocks[0].fc1_quant.scale)
    other = quantize_deit(a8, 4)
    assert not bool(other.blocks[0].fc1_quant.initialized)
    assert torch.equal(other.blocks[0].fc1.weight, a8.blocks[0].fc1.weight)
    assert isinstance(QuantDeiT(TINY, None).blocks[0].fc2, BinaryLinear)


# ---- mixed fixed-point / power-of-two weights ----

def _spread_weights(rows: int = 24, cols: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, cols, generator=g) * torch.rand(rows, 1, generator=g) * 0.1


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
def test_mixed_fake_quant_is_mixed_values_of_the_float64_weights(bits):
    w = _spread_weights(seed=bits)
    for ratio in (0.0, 0.25, 0.5, 1.0):
        want = mixed.mixed_values(w.double().numpy(), bits, ratio)
        got = mixed_weight(w, bits, ratio)
        assert got.dtype == torch.float32
        assert torch.equal(got, torch.from_numpy(want).float())
    assert torch.equal(fixed_weight(w, bits), torch.from_numpy(mixed.fixed_values(w.double().numpy(), bits)).float())
    assert torch.equal(pot_weight(w, bits), torch.from_numpy(mixed.pot_values(w.double().numpy(), bits)).float())


def test_mixed_ste_passes_the_gradient_straight_through():
    w = _spread_weights().requires_grad_(True)
    g = torch.randn(w.shape, generator=torch.Generator().manual_seed(1))
    (mixed_weight(w, 4, 0.5) * g).sum().backward()
    assert torch.equal(w.grad, g)  # identity everywhere: no weight lies outside ±max|W_j|
    w.grad = None
    (pot_weight(w, 3) * g).sum().backward()
    assert torch.equal(w.grad, g)


def test_fixed_and_pot_weights_take_their_levels():
    w = _spread_weights()
    alpha = w.abs().amax(dim=1, keepdim=True)
    q = fixed_weight(w, 4) / (alpha / 7)
    assert torch.allclose(q, q.round(), atol=1e-5) and q.abs().max() <= 7 + 1e-5
    p = pot_weight(w, 4) / alpha
    nonzero = p[p != 0].abs()
    e = -torch.log2(nonzero)
    assert torch.allclose(e, e.round(), atol=1e-5) and e.max() <= 6 + 1e-5  # ±2^-e · α, e in 0..6
    # Ratio 0.5: half the rows (12 of 24) PoT, the rule's rows.
    mask = pot_row_mask(w, 4, 0.5)
    assert int(mask.sum()) == 12
    assert mask.tolist() == mixed.assign_pot_rows(w.double().numpy(), 4, 0.5).tolist()
    mw = mixed_weight(w, 4, 0.5)
    assert torch.equal(mw[mask], pot_weight(w, 4)[mask]) and torch.equal(mw[~mask], fixed_weight(w, 4)[~mask])


def test_mixed_weight_range_checks():
    w = _spread_weights()
    with pytest.raises(ValueError, match="2..8 bits"):
        mixed_weight(w, 1, 0.5)
    with pytest.raises(ValueError, match="PoT ratio"):
        mixed_weight(w, 4, 1.5)


def test_mixed_linear_recomputes_the_split_at_every_forward():
    layer = MixedLinear(16, 24, 4, 0.25)
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        layer.weight.copy_(_spread_weights())
        assert torch.equal(layer(x), F.linear(x, mixed_weight(layer.weight, 4, 0.25), layer.bias))
        before = layer.pot_rows()
        assert int(before.sum()) == 6
        # Make the first fixed-point row PoT-exact: it now has the smallest error and moves to PoT.
        j = int((~before).nonzero()[0])
        layer.weight[j] = torch.tensor([0.5, -0.25, 0.125, 1.0] * 4)
        after = layer.pot_rows()
        assert bool(after[j]) and int(after.sum()) == 6
    assert "mixed 4-bit, pot_ratio=0.25" in repr(layer)


def test_mixed_quant_deit_quantizes_the_four_encoder_linears_only():
    torch.manual_seed(0)
    fp = DeiT(TINY).eval()
    model = quantize_deit(fp, None, scheme="mixed", wbits=3, pot_ratio=0.5).eval()
    assert (model.scheme, model.wbits, model.pot_ratio) == ("mixed", 3, 0.5)
    layers = [m for m in model.modules() if isinstance(m, MixedLinear)]
    assert len(layers) == 4 * TINY.depth and all((m.bits, m.ratio) == (3, 0.5) for m in layers)
    assert not any(isinstance(m, BinaryLinear) for m in model.modules())
    x = _images()
    with torch.no_grad():
        # W3A32 equals the float DeiT holding the fake-quant weights; the latent weights are the FP ones.
        assert torch.allclose(fake_quant_float_deit(model).eval()(x), model(x), atol=1e-5)
        assert torch.equal(latent_float_deit(model).eval()(x), fp(x))
        assert torch.equal(export_float_deit(model).blocks[0].fc1.weight, fp.blocks[0].fc1.weight)
        q = fake_quant_float_deit(model).blocks[1].attn.qkv.weight
        assert torch.equal(q, mixed_weight(fp.blocks[1].attn.qkv.weight, 3, 0.5))
    # vaqf models export their binarized weights, as before.
    binary = quantize_deit(fp, None)
    assert (binary.scheme, binary.wbits, binary.pot_ratio) == ("vaqf", 1, None)
    assert torch.equal(export_float_deit(binary).blocks[0].fc2.weight, binarized_float_deit(binary).blocks[0].fc2.weight)
    # Activation fine-tuning copies the weights into a WbAk model of the same scheme.
    a8 = quantize_deit(model, 8, scheme="mixed", wbits=3, pot_ratio=0.5)
    assert a8.abits == 8 and torch.equal(a8.blocks[0].fc2.weight, fp.blocks[0].fc2.weight)


def test_mixed_quant_spec_records_the_scheme():
    torch.manual_seed(0)
    model = quantize_deit(DeiT(TINY), 8, scheme="mixed", pot_ratio=0.25).train()
    model(_images())
    spec = quant_spec(model)
    json.dumps(spec)
    fc1 = spec["blocks.1.fc1"]
    assert (fc1["scheme"], fc1["wbits"], fc1["pot_ratio"], fc1["abits"]) == ("mixed", 4, 0.25, 8)
    assert fc1["weight_scale"] == "per-output-channel max|W|"
    assert fc1["input_scale"] == model.blocks[1].fc1_quant.step_size()
    vaqf = quant_spec(quantize_deit(DeiT(TINY), 8))["blocks.1.fc1"]
    assert (vaqf["scheme"], vaqf["wbits"], vaqf["pot_ratio"]) == ("vaqf", 1, None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scheme": "vaqf", "wbits": 4}, "binary weights and no PoT ratio"),
        ({"scheme": "vaqf", "pot_ratio": 0.5}, "binary weights and no PoT ratio"),
        ({"scheme": "mixed"}, "needs a PoT ratio"),
        ({"scheme": "mixed", "pot_ratio": 2.0}, "PoT ratio must be in"),
        ({"scheme": "mixed", "pot_ratio": 0.5, "wbits": 9}, "2..8 bits"),
        ({"scheme": "mixed", "pot_ratio": 0.5, "progressive": True}, "progressive training is for binary"),
        ({"scheme": "ternary"}, "unknown weight scheme 'ternary'"),
    ],
)
def test_quant_deit_refuses_bad_schemes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QuantDeiT(TINY, None, **kwargs)
