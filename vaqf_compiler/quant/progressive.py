"""Binary linear layers and progressive binary training (the paper's Eq. 6).

Each binarized weight tensor W gets a fixed random ranking of its elements
(`rank`, a permutation of 0..numel-1 drawn once from a seeded generator) and
a fraction p in [0, 1]. The k = floor(p * numel + 0.5) elements of lowest
rank use their binary value, the others stay real::

    M       = rank < k
    W_train = M * W_b + (1 - M) * W         W_b = alpha_j * s(W)  (alpha from the full real W)

During stage 2 of the recipe p grows linearly over the optimizer steps,
p = step / (total_steps - 1) (p = 1 when there is one step), so it is 0 at
the first step and exactly 1 at the last, and the binarized set only grows
(the ranking is fixed). At p = 1, W_train == W_b exactly: the layer is the
fully binarized one. The ranking is a non-persistent buffer: it is not saved
in checkpoints but redrawn from the same seed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaqf_compiler.quant.quantizers import binarize_weight


def binarized_count(fraction: float, numel: int) -> int:
    """k = floor(p * numel + 0.5): how many elements are binary at fraction p."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"binary fraction must be in [0, 1], got {fraction}")
    return min(numel, int(fraction * numel + 0.5))


def schedule_fraction(step: int, total_steps: int) -> float:
    """p at optimizer step `step` (0-based) of `total_steps`: linear from 0 to exactly 1."""
    if total_steps <= 1:
        return 1.0
    return min(1.0, max(0.0, step / (total_steps - 1)))


class BinaryLinear(nn.Module):
    """y = x W_train^T + b with binary (or, while progressive, partly binary) weights.

    Same parameter names and shapes as `nn.Linear` (`weight` [out, in] real,
    `bias` real), so a float linear's state loads as is. `progressive_seed`
    None: always fully binary. Otherwise the layer draws its ranking from
    that seed and starts at `fraction` 0 (all real); set `fraction` to move it.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, progressive_seed: int | None = None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.progressive = progressive_seed is not None
        self.fraction = 1.0
        if self.progressive:
            gen = torch.Generator().manual_seed(progressive_seed)
            rank = torch.randperm(self.weight.numel(), generator=gen).view(out_features, in_features)
            self.register_buffer("rank", rank.to(torch.int32), persistent=False)
            self.fraction = 0.0

    def extra_repr(self) -> str:
        mode = f"progressive, fraction={self.fraction:.3f}" if self.progressive else "binary"
        return f"in_features={self.in_features}, out_features={self.out_features}, {mode}"

    def mask(self) -> torch.Tensor:
        """M: True where the element is binarized (all True when not progressive)."""
        if not self.progressive:
            return torch.ones_like(self.weight, dtype=torch.bool)
        return self.rank < binarized_count(self.fraction, self.weight.numel())

    def train_weight(self) -> torch.Tensor:
        """W_train = M * W_b + (1 - M) * W."""
        wb = binarize_weight(self.weight)
        if not self.progressive or self.fraction >= 1.0:
            return wb
        return torch.where(self.mask(), wb, self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.train_weight(), self.bias)


def binary_layers(model: nn.Module) -> list[BinaryLinear]:
    return [m for m in model.modules() if isinstance(m, BinaryLinear)]


def set_binary_fraction(model: nn.Module, fraction: float) -> None:
    """Set p on every progressive BinaryLinear of `model`."""
    binarized_count(fraction, 1)  # range check
    for layer in binary_layers(model):
        if layer.progressive:
            layer.fraction = float(fraction)
