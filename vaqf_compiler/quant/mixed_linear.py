"""Linear layers with mixed fixed-point / power-of-two weights (the "mixed" scheme; ours).

y = x W_q^T + b with W_q = `quantizers.mixed_weight(W, bits, ratio)`: the rows
the rule of `vaqf_compiler.mixed` picks (n_pot = floor(ratio · out + 1/2), the
smallest PoT error) are k-bit powers of two, the others k-bit fixed point.
The split is recomputed from the current weights at every forward, so it
follows training and, at the end, is the split the compiler recomputes from
the saved weights (`assign-pot-rows`). Parameter names and shapes are
`nn.Linear`'s, so a float linear's state loads as is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaqf_compiler import mixed
from vaqf_compiler.quant.quantizers import mixed_weight, pot_row_mask


class MixedLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bits: int, ratio: float, bias: bool = True):
        super().__init__()
        mixed.check_weight_bits(bits)
        mixed.check_ratio(ratio)
        self.in_features, self.out_features = in_features, out_features
        self.bits, self.ratio = bits, float(ratio)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"mixed {self.bits}-bit, pot_ratio={self.ratio:g}")

    def train_weight(self) -> torch.Tensor:
        """W_q, the weights the forward uses (straight-through gradient to `weight`)."""
        return mixed_weight(self.weight, self.bits, self.ratio)

    def pot_rows(self) -> torch.Tensor:
        """The current row split, bool [out] (True: power of two)."""
        return pot_row_mask(self.weight, self.bits, self.ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.train_weight(), self.bias)
