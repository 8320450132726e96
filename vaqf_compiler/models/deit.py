"""Our own DeiT definition: the built-in models, with the real tiny/small/base shapes.

The structure follows DeiT without the distillation token (the model of the
VAQF paper's evaluation): conv patch embedding, CLS token, learned position
embedding, pre-norm encoder blocks (fused QKV, multi-head self-attention,
GELU MLP), final layer norm, linear head on the CLS token. Weights are seeded
and random — nothing is downloaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DeiTConfig:
    image_size: tuple[int, int] = (224, 224)
    patch_size: int = 16
    in_channels: int = 3
    dim: int = 192
    depth: int = 12
    heads: int = 3
    mlp_ratio: float = 4.0
    num_classes: int = 1000
    eps: float = 1e-6
    # Attention through F.scaled_dot_product_attention, or spelled out as matmul/softmax.
    fused_attention: bool = True

    @property
    def num_patches(self) -> int:
        return (self.image_size[0] // self.patch_size) * (self.image_size[1] // self.patch_size)


BUILTIN_CONFIGS: dict[str, DeiTConfig] = {
    "deit-tiny": DeiTConfig(dim=192, heads=3),
    "deit-small": DeiTConfig(dim=384, heads=6),
    "deit-base": DeiTConfig(dim=768, heads=12),
}


class Attention(nn.Module):
    def __init__(self, cfg: DeiTConfig):
        super().__init__()
        self.heads = cfg.heads
        self.fused = cfg.fused_attention
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.fused:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.heads))
            out = scores.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, cfg: DeiTConfig):
        super().__init__()
        hidden = int(cfg.dim * cfg.mlp_ratio)
        self.norm1 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.attn = Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.fc1 = nn.Linear(cfg.dim, hidden)
        self.fc2 = nn.Linear(hidden, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class DeiT(nn.Module):
    def __init__(self, cfg: DeiTConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = nn.Conv2d(cfg.in_channels, cfg.dim, cfg.patch_size, stride=cfg.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_patches + 1, cfg.dim))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(image).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])


def randomize_parameters(model: nn.Module, seed: int, std: float = 0.5) -> nn.Module:
    """Give every parameter random values, biases and norm scales included.

    Library initialisations (zero biases, unit norm scales, tiny CLS tokens)
    let a wrong import still match the logits closely; random values don't.
    Matrices are scaled by 1/sqrt(fan-in) so activations stay O(1); layer-norm
    scales scatter around 1.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, module in model.named_modules():
            for pname, p in module.named_parameters(recurse=False):
                values = torch.randn(p.shape, generator=gen, dtype=torch.float32)
                if p.dim() >= 2 and p.shape[0] > 1:
                    values /= math.sqrt(math.prod(p.shape[1:]))
                else:
                    values *= std
                if isinstance(module, nn.LayerNorm) and pname == "weight":
                    values += 1.0
                p.copy_(values)
    return model


def build_deit(name: str, *, seed: int = 0, **overrides: object) -> DeiT:
    """A built-in DeiT by name (`deit-tiny`, `deit-small`, `deit-base`) with seeded random weights."""
    if name not in BUILTIN_CONFIGS:
        known = ", ".join(BUILTIN_CONFIGS)
        raise KeyError(f"unknown built-in model {name!r}; choose one of: {known}")
    cfg = replace(BUILTIN_CONFIGS[name], **overrides)  # type: ignore[arg-type]
    return randomize_parameters(DeiT(cfg), seed).eval()
