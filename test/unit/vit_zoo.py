"""ViTs written the way their libraries write them (not vaqf's own DeiT), small and re-randomisable.

- `MhaDefaultViT`: `nn.MultiheadAttention` called with its defaults
  (`need_weights=True`: the averaged attention weights are computed and unused);
- `PatchLinearViT`: vit-pytorch's `SimpleViT` by hand: einops'
  `Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)')` as reshape/permute,
  LayerNorm + Linear patch embedding, a fixed sin-cos position embedding, no
  CLS token, mean pooling over tokens, `rearrange`-style head split;
- `TanhGeluViT`: a conv-embedded ViT whose MLP spells the tanh-GELU formula out
  (HF's `gelu_new`), in two spellings (`pow` or `x*x*x`).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _posemb_sincos_2d(h: int, w: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """vit-pytorch's `posemb_sincos_2d`: a fixed [h*w, dim] embedding."""
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    omega = torch.arange(dim // 4) / (dim // 4 - 1)
    omega = 1.0 / (temperature**omega)
    y = y.flatten()[:, None] * omega[None, :]
    x = x.flatten()[:, None] * omega[None, :]
    return torch.cat((x.sin(), x.cos(), y.sin(), y.cos()), dim=1).float()


class _Attention(nn.Module):
    """vit-pytorch's Attention: qkv chunk, `rearrange(t, 'b n (h d) -> b h n d')`, matmul/softmax."""

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.scale = heads, dim_head**-0.5
        self.norm = nn.LayerNorm(dim)
        self.attend = nn.Softmax(dim=-1)
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        b, n, _ = x.shape
        q, k, v = (t.reshape(b, n, self.heads, -1).permute(0, 2, 1, 3) for t in self.to_qkv(x).chunk(3, dim=-1))
        attn = self.attend(torch.matmul(q, k.transpose(-1, -2)) * self.scale)
        out = torch.matmul(attn, v).permute(0, 2, 1, 3).reshape(b, n, -1)
        return self.to_out(out)


class PatchLinearViT(nn.Module):
    """vit-pytorch SimpleViT: reshape/permute patchify, LN + Linear embedding, mean pool, no CLS."""

    def __init__(self, image: tuple[int, int] = (32, 24), patch: tuple[int, int] = (8, 4), channels: int = 3,
                 dim: int = 32, depth: int = 2, heads: int = 2, mlp: int = 64, classes: int = 6,
                 order: str = "p1 p2 c"):
        super().__init__()
        self.p1, self.p2, self.order = patch[0], patch[1], order
        patch_dim = channels * patch[0] * patch[1]
        self.to_patch = nn.Sequential(nn.LayerNorm(patch_dim), nn.Linear(patch_dim, dim), nn.LayerNorm(dim))
        self.register_buffer("pos", _posemb_sincos_2d(image[0] // patch[0], image[1] // patch[1], dim))
        self.layers = nn.ModuleList()
        for _ in range(depth):
            ff = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))
            self.layers.append(nn.ModuleList([_Attention(dim, heads, dim // heads), ff]))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def rearrange(self, img: torch.Tensor) -> torch.Tensor:
        """'b c (h p1) (w p2) -> b (h w) (p1 p2 c)' (or the `order` given) as reshape + permute."""
        b, c, hh, ww = img.shape
        h, w = hh // self.p1, ww // self.p2
        x = img.reshape(b, c, h, self.p1, w, self.p2)
        axis = {"c": 1, "p1": 3, "p2": 5}
        x = x.permute(0, 2, 4, *(axis[a] for a in self.order.split()))
        return x.reshape(b, h * w, c * self.p1 * self.p2)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.to_patch(self.rearrange(img)) + self.pos
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        x = self.norm(x).mean(dim=1)
        return self.head(x)


class MhaDefaultViT(nn.Module):
    """Pre-norm blocks on `nn.MultiheadAttention` called with its defaults (need_weights=True)."""

    def __init__(self, dim: int = 48, heads: int = 3, depth: int = 2, classes: int = 5):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, 8)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 17, dim))
        self.blocks = nn.ModuleList()
        for _ in range(depth):
            self.blocks.append(nn.ModuleDict({
                "norm1": nn.LayerNorm(dim), "attn": nn.MultiheadAttention(dim, heads, batch_first=True),
                "norm2": nn.LayerNorm(dim),
                "mlp": nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)),
            }))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1) + self.pos
        for b in self.blocks:
            h = b["norm1"](t)
            t = t + b["attn"](h, h, h)[0]  # need_weights defaults to True
            t = t + b["mlp"](b["norm2"](t))
        return self.head(self.norm(t)[:, 0])


class NewGelu(nn.Module):
    """HF's `gelu_new` (NewGELUActivation), or the `x*x*x` spelling."""

    def __init__(self, cube: bool = False):
        super().__init__()
        self.cube = cube

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x3 = x * x * x if self.cube else torch.pow(x, 3.0)
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x3)))


class TanhGeluViT(MhaDefaultViT):
    """MhaDefaultViT with the tanh-GELU formula written out in its MLPs."""

    def __init__(self, cube: bool = False, **kw):
        super().__init__(**kw)
        for b in self.blocks:
            b["mlp"][1] = NewGelu(cube)


class _TimmBlock(nn.Module):
    """timm's Block: fused qkv reshaped (B, N, 3, H, d) and unbound, SDPA, LayerScale (ls1/ls2)."""

    def __init__(self, dim: int, heads: int, init_values: float | None):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.ls1 = nn.Parameter(torch.full((dim,), init_values)) if init_values else None
        self.ls2 = nn.Parameter(torch.full((dim,), init_values)) if init_values else None

    def attn(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        x = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attn(self.norm1(x))
        x = x + (self.ls1 * a if self.ls1 is not None else a)
        m = self.fc2(nn.functional.gelu(self.fc1(self.norm2(x))))
        return x + (self.ls2 * m if self.ls2 is not None else m)


class TimmStyleViT(nn.Module):
    """timm's VisionTransformer: conv PatchEmbed, CLS token, LayerScale, global_pool='avg'
    (`x[:, num_prefix_tokens:].mean(dim=1)`) with fc_norm, or 'token'."""

    def __init__(self, dim: int = 32, depth: int = 2, heads: int = 2, classes: int = 5, pool: str = "avg",
                 init_values: float | None = 0.1):
        super().__init__()
        self.pool = pool
        self.patch_embed = nn.Conv2d(3, dim, 8, 8)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 17, dim))
        self.blocks = nn.Sequential(*[_TimmBlock(dim, heads, init_values) for _ in range(depth)])
        self.norm = nn.Identity() if pool == "avg" else nn.LayerNorm(dim, eps=1e-6)
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6) if pool == "avg" else nn.Identity()
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        x = x[:, 1:].mean(dim=1) if self.pool == "avg" else x[:, 0]
        return self.head(self.fc_norm(x))
