"""Fake quantizers with straight-through estimators: binary or mixed weights, k-bit activations.

These are the training-time ("fake-quant") semantics the compiler's integer
path reproduces bit for bit, so they are a contract:

Binary weights (`binarize_weight`, encoder linears only)::

    W_b[j, :] = alpha_j * s(W[j, :])      s(w) = +1 if w >= 0 else -1   (sign(0) = +1)
    alpha_j   = mean_i |W[j, i]|          one scale per OUTPUT channel j

alpha is per output channel because the hardware accumulates the +-1 products
of one output and multiplies the sum by alpha_j once, after the accumulation,
so a per-channel scale costs nothing. Gradients: the straight-through
estimator d s(w)/dw = 1 if |w| <= 1 else 0; alpha stays differentiable.

Mixed-scheme weights (`mixed_weight(w, bits, ratio)`, encoder linears, scheme
"mixed"; ours, after Auto-ViT-Acc)::

    W_q = mixed.mixed_values(W, bits, ratio)     (vaqf_compiler/mixed.py, numpy)

computed on the detached weights in float64, the row split recomputed by the
rule at every forward, so the trained weights give exactly the split and
codes the compiler recomputes from them. `fixed_weight` (ratio 0: every row
k-bit fixed point) and `pot_weight` (ratio 1: every row k-bit power of two)
are the special cases. Gradient: straight through, dW_q/dW = 1 everywhere.
No clipping: the row scale is the row's max |W| (fixed: max / (2^(k-1)-1)
per code; PoT: the largest level is max |W|), so no weight ever lies outside
the quantizer's range, and the binary STE's |w| <= 1 window has no analogue.

Activations (`ActQuant(bits, signed)`, bits in 1..16, or None = float)::

    q   = clamp(floor(x / s + 0.5), Qn, Qp)     round half UP (not half to even)
    out = q * s
    signed, bits >= 2:  Qn = -2^(bits-1), Qp = 2^(bits-1) - 1
    signed, bits == 1:  q = +1 if x >= 0 else -1            (out = +-s)
    unsigned:           Qn = 0, Qp = 2^bits - 1

s > 0 is one learned step size per tensor (LSQ, Esser et al. 2020): its
gradient is scaled by 1 / sqrt(x.numel() * Qp) (numel of the tensor seen,
batch included), and it is initialised from the first batch seen in training
as 2 * mean|x| / sqrt(Qp) (bits == 1 signed: mean|x|). Rounding uses the
straight-through estimator: d out/dx = 1 while Qn <= x/s <= Qp, 0 outside.
`codes(x)` returns q as an int32 tensor; out == codes(x) * s exactly.

Attention probabilities (`ProbQuant(bits)`): unsigned with the FIXED scale
s = 1 / (2^bits - 1), q = clamp(floor(p * (2^bits - 1) + 0.5), 0, 2^bits - 1),
out = q * s (s as a float32); gradient identity (p is always in [0, 1]).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaqf_compiler import mixed

MIN_BITS, MAX_BITS = 1, 16


def check_bits(bits: object) -> int:
    """`bits` as an int in 1..16, else ValueError."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"activation bits must be an integer in {MIN_BITS}..{MAX_BITS}, got {bits!r}")
    return bits


def code_range(bits: int, signed: bool) -> tuple[int, int]:
    """(Qn, Qp), the smallest and largest integer code of a `bits`-bit quantizer."""
    check_bits(bits)
    if not signed:
        return 0, 2**bits - 1
    if bits == 1:
        return -1, 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


class _SignSTE(torch.autograd.Function):
    """s(w) = +1 if w >= 0 else -1; backward: grad where |w| <= 1, else 0."""

    @staticmethod
    def forward(ctx, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(w)
        return torch.where(w >= 0, 1.0, -1.0).to(w.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype)


class _RoundHalfUpSTE(torch.autograd.Function):
    """floor(v + 0.5); backward: identity."""

    @staticmethod
    def forward(ctx, v: torch.Tensor) -> torch.Tensor:
        return torch.floor(v + 0.5)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


class _SignActSTE(torch.autograd.Function):
    """+1 if v >= 0 else -1 for 1-bit signed activations; backward: identity (clipping is done outside)."""

    @staticmethod
    def forward(ctx, v: torch.Tensor) -> torch.Tensor:
        return torch.where(v >= 0, 1.0, -1.0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


class _GradScale(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by `factor` (LSQ's step-size gradient scale)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, factor: float) -> torch.Tensor:
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.factor, None


def sign_ste(w: torch.Tensor) -> torch.Tensor:
    """s(w) in {-1, +1} with sign(0) = +1; straight-through gradient inside |w| <= 1."""
    return _SignSTE.apply(w)


def weight_alpha(w: torch.Tensor) -> torch.Tensor:
    """alpha_j = mean_i |W[j, i]|, one per output channel (row), shape [out, 1]; differentiable."""
    return w.abs().mean(dim=1, keepdim=True)


def binarize_weight(w: torch.Tensor) -> torch.Tensor:
    """W_b = alpha_j * s(W[j, :]) for a linear weight [out, in]."""
    return weight_alpha(w) * sign_ste(w)


class _MixedSTE(torch.autograd.Function):
    """mixed.mixed_values(W, bits, ratio) on the detached float64 weights; backward: identity."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, bits: int, ratio: float) -> torch.Tensor:
        values = mixed.mixed_values(w.detach().to("cpu", torch.float64).numpy(), bits, ratio)
        return torch.from_numpy(values).to(device=w.device, dtype=w.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return grad, None, None


def mixed_weight(w: torch.Tensor, bits: int, ratio: float) -> torch.Tensor:
    """W_q: the mixed-scheme fake-quant weight [out, in] at PoT ratio `ratio`; straight-through gradient."""
    mixed.check_weight_bits(bits)
    mixed.check_ratio(ratio)
    return _MixedSTE.apply(w, bits, float(ratio))


def fixed_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """k-bit symmetric fixed-point weights, per-row step max|W| / (2^(k-1) - 1) (mixed at ratio 0)."""
    return mixed_weight(w, bits, 0.0)


def pot_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """k-bit power-of-two weights ±2^-e · max|W| or 0 per row (mixed at ratio 1)."""
    return mixed_weight(w, bits, 1.0)


def pot_row_mask(w: torch.Tensor, bits: int, ratio: float) -> torch.Tensor:
    """The rule's row split of `w` as a bool tensor [out] (True: PoT row), on the CPU."""
    return torch.from_numpy(mixed.assign_pot_rows(w.detach().to("cpu", torch.float64).numpy(), bits, ratio))


def round_half_up(v: torch.Tensor) -> torch.Tensor:
    """floor(v + 0.5): ties go up (0.5 -> 1, -0.5 -> 0), unlike torch.round."""
    return torch.floor(v + 0.5)


class ActQuant(nn.Module):
    """Per-tensor k-bit activation fake-quantizer with a learned step size (LSQ).

    `bits=None` is the identity ("A32") and holds no parameters. Otherwise
    `scale` is a parameter (trained, saved) and `initialized` a buffer; the
    first forward in training mode sets the scale from that batch (see the
    module docstring). An uninitialised quantizer in eval mode uses scale 1.
    """

    def __init__(self, bits: int | None, signed: bool = True):
        super().__init__()
        self.bits = None if bits is None else check_bits(bits)
        self.signed = signed
        if self.bits is None:
            self.qn = self.qp = 0
            return
        self.qn, self.qp = code_range(self.bits, signed)
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("initialized", torch.tensor(False))

    def extra_repr(self) -> str:
        return "float" if self.bits is None else f"bits={self.bits}, signed={self.signed}"

    @property
    def binary_signed(self) -> bool:
        return self.bits == 1 and self.signed

    def init_scale(self, x: torch.Tensor) -> None:
        """s = 2 mean|x| / sqrt(Qp) (1-bit signed: mean|x|), kept > 0."""
        with torch.no_grad():
            m = x.detach().abs().mean().float()
            s = m if self.binary_signed else 2 * m / math.sqrt(self.qp)
            self.scale.copy_(torch.clamp(s, min=1e-8))
            self.initialized.fill_(True)

    def step_size(self) -> float:
        """The current scale as a plain float (None-bit quantizers have none)."""
        if self.bits is None:
            raise ValueError("a float (bits=None) quantizer has no scale")
        return float(self.scale.detach())

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The integer codes q (int32) of `x`: forward(x) == codes(x) * scale."""
        if self.bits is None:
            raise ValueError("a float (bits=None) quantizer has no integer codes")
        s = self.scale.detach()
        if self.binary_signed:
            q = torch.where(x / s >= 0, 1.0, -1.0)
        else:
            q = torch.clamp(round_half_up(x / s), self.qn, self.qp)
        return q.to(torch.int32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bits is None:
            return x
        if self.training and not bool(self.initialized):
            self.init_scale(x)
        s = _GradScale.apply(self.scale, 1.0 / math.sqrt(x.numel() * self.qp))
        v = torch.clamp(x / s, self.qn, self.qp)  # gradient 1 inside [Qn, Qp], 0 outside
        q = _SignActSTE.apply(v) if self.binary_signed else _RoundHalfUpSTE.apply(v)
        return q * s


class ProbQuant(nn.Module):
    """Unsigned k-bit quantizer of attention probabilities with the fixed scale 1 / (2^bits - 1).

    `bits=None` is the identity. No learned parameters.
    """

    def __init__(self, bits: int | None):
        super().__init__()
        self.bits = None if bits is None else check_bits(bits)
        self.levels = 0 if self.bits is None else 2**self.bits - 1

    def extra_repr(self) -> str:
        return "float" if self.bits is None else f"bits={self.bits}, scale=1/{self.levels}"

    def step_size(self) -> float:
        """s = 1 / (2^bits - 1), as the float32 value used in the forward pass."""
        if self.bits is None:
            raise ValueError("a float (bits=None) quantizer has no scale")
        return float(torch.tensor(1.0 / self.levels, dtype=torch.float32))

    def codes(self, p: torch.Tensor) -> torch.Tensor:
        """q = clamp(floor(p * (2^bits - 1) + 0.5), 0, 2^bits - 1) as int32."""
        if self.bits is None:
            raise ValueError("a float (bits=None) quantizer has no integer codes")
        return torch.clamp(round_half_up(p * self.levels), 0, self.levels).to(torch.int32)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        if self.bits is None:
            return p
        q = _RoundHalfUpSTE.apply(torch.clamp(p * self.levels, 0, self.levels))
        return q * torch.tensor(1.0 / self.levels, dtype=p.dtype, device=p.device)
