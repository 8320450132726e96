"""The quantized DeiT: binary encoder linears and k-bit activations, built from our float DeiT.

`quantize_deit(model, abits, progressive)` copies the weights of a float
`vaqf_compiler.models.deit.DeiT` (or of another `QuantDeiT`) into a
`QuantDeiT` of the same configuration. Parameter names are the float DeiT's
(`blocks.0.attn.qkv.weight`, ...), plus the quantizers' step sizes.

Binarized (see `quantizers`): the encoder linears qkv, attn.proj, fc1, fc2.
Float: patch embedding, CLS token, position embedding, layer norms, head.
Activations quantized in each encoder block, when `abits` is not None:

    x1 = LN1(x)                    -> in_quant     signed          (1) input of qkv
    q, k, v = split(qkv(x1))       -> qkv_quant    signed, one scale (2)
    scores = (q @ k^T) * 1/sqrt(d)    float, d = head dim
    P = softmax(scores)            -> prob_quant   unsigned, fixed scale 1/(2^bits-1)  (3)
    o = merge_heads(P @ v)         -> proj_quant   signed          (4) input of proj
    x = x + proj(o)                   residual add, unquantized
    x2 = LN2(x)                    -> fc1_quant    signed          (5) input of fc1
    h = GELU(fc1(x2))              -> fc2_quant    signed          (6) input of fc2
    x = x + fc2(h)                    residual add, unquantized

`quant_spec(model)` lists these parameters as plain Python values for the
compiler to carry into the IR.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import torch
import torch.nn.functional as F
from torch import nn

from vaqf_compiler.models.deit import DeiT, DeiTConfig
from vaqf_compiler.quant.progressive import BinaryLinear
from vaqf_compiler.quant.quantizers import ActQuant, ProbQuant, check_bits

# Seeds of the progressive rankings: one per binarized tensor, from this base.
RANKING_SEED = 0x5EED


def _seed(seeds: list[int] | None, i: int) -> int | None:
    return None if seeds is None else seeds[i]


class QuantAttention(nn.Module):
    def __init__(self, cfg: DeiTConfig, abits: int | None, seeds: list[int] | None):
        super().__init__()
        self.heads = cfg.heads
        self.head_dim = cfg.dim // cfg.heads
        self.qkv = BinaryLinear(cfg.dim, 3 * cfg.dim, progressive_seed=_seed(seeds, 0))
        self.proj = BinaryLinear(cfg.dim, cfg.dim, progressive_seed=_seed(seeds, 1))
        self.in_quant = ActQuant(abits, signed=True)
        # One scale for Q, K and V: the fused QKV output is one tensor (one format) on the accelerator.
        self.qkv_quant = ActQuant(abits, signed=True)
        self.prob_quant = ProbQuant(abits)
        self.proj_quant = ActQuant(abits, signed=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv_quant(self.qkv(self.in_quant(x)))
        q, k, v = qkv.reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        probs = self.prob_quant(scores.softmax(dim=-1))
        out = (probs @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(self.proj_quant(out))


class QuantBlock(nn.Module):
    def __init__(self, cfg: DeiTConfig, abits: int | None, seeds: list[int] | None):
        super().__init__()
        hidden = int(cfg.dim * cfg.mlp_ratio)
        self.norm1 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.attn = QuantAttention(cfg, abits, seeds)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.fc1 = BinaryLinear(cfg.dim, hidden, progressive_seed=_seed(seeds, 2))
        self.fc2 = BinaryLinear(hidden, cfg.dim, progressive_seed=_seed(seeds, 3))
        self.fc1_quant = ActQuant(abits, signed=True)
        self.fc2_quant = ActQuant(abits, signed=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        h = F.gelu(self.fc1(self.fc1_quant(self.norm2(x))))
        return x + self.fc2(self.fc2_quant(h))


class QuantDeiT(DeiT):
    """DeiT with binary encoder weights (W1) and `abits`-bit activations (None: float, A32).

    Embedding, final norm, head and forward are the float DeiT's; only the
    encoder blocks are quantized. `progressive=True` makes every binary linear
    progressive (fraction 0 at first); its rankings are seeded from `ranking_seed`.
    """

    def __init__(self, cfg: DeiTConfig, abits: int | None, progressive: bool = False, ranking_seed: int = RANKING_SEED):
        super().__init__(cfg)
        self.abits = None if abits is None else check_bits(abits)
        self.progressive = progressive
        self.blocks = nn.ModuleList(
            QuantBlock(cfg, self.abits, [ranking_seed + 4 * i + j for j in range(4)] if progressive else None)
            for i in range(cfg.depth)
        )


def _is_quantizer_key(key: str) -> bool:
    return "_quant." in key


def quantize_deit(
    model: DeiT | QuantDeiT, abits: int | None, progressive: bool = False, ranking_seed: int = RANKING_SEED
) -> QuantDeiT:
    """A QuantDeiT with `model`'s weights (float or binary-trained), in train/eval mode as `model`.

    From a QuantDeiT, step sizes carry over only when `abits` is the same;
    otherwise the new quantizers start uninitialised (set on the first batch).
    `ranking_seed` seeds the progressive rankings (tensor i of block b uses
    ranking_seed + 4 b + i, in the order qkv, proj, fc1, fc2).
    """
    qmodel = QuantDeiT(model.cfg, abits, progressive, ranking_seed)
    state = model.state_dict()
    same_bits = isinstance(model, QuantDeiT) and model.abits == qmodel.abits
    if not same_bits:
        state = {k: v for k, v in state.items() if not _is_quantizer_key(k)}
    missing, unexpected = qmodel.load_state_dict(state, strict=False)
    missing = [k for k in missing if not _is_quantizer_key(k)]
    if missing or unexpected:
        raise ValueError(f"cannot copy the weights: missing {missing}, unexpected {unexpected}")
    qmodel.to(next(model.parameters()).device)
    return qmodel.train(model.training)


def binarized_float_deit(model: QuantDeiT) -> DeiT:
    """A float DeiT whose encoder linears hold W_b = alpha * s(W) (activations stay float).

    This is the W1A32 network as a plain DeiT, e.g. for the importer.
    """
    float_model = DeiT(model.cfg)
    state = {k: v for k, v in model.state_dict().items() if not _is_quantizer_key(k)}
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, BinaryLinear):
                was, module.progressive = module.progressive, False
                state[f"{name}.weight"] = module.train_weight().detach().clone()
                module.progressive = was
    float_model.load_state_dict(state)
    return float_model.train(model.training)


def _scale(q: ActQuant) -> float | None:
    return None if q.bits is None else q.step_size()


def quant_spec(model: QuantDeiT) -> dict[str, dict]:
    """The quantization parameters per encoder linear and per attention, as plain values.

    Keys are the module paths of the float DeiT. A linear entry:
    `{"kind": "linear", "wbits": 1, "weight_scale": "per-output-channel mean|W|",
    "abits", "input_scale", "input_signed", "output_scales"}` where
    `output_scales` is `[q, k, v]` for qkv, else None. An attention entry
    (`blocks.N.attn`): `{"kind": "attention", "abits", "heads", "head_dim",
    "score_scale" (1/sqrt(head_dim), applied in float to Q K^T), "q_scale",
    "k_scale", "v_scale", "prob_bits", "prob_scale" (1/(2^bits-1), fixed),
    "prob_signed": False}`. With float activations (abits None) every scale is None.
    """
    spec: dict[str, dict] = {}
    abits = model.abits

    def linear(quant: ActQuant, outputs: list[float | None] | None = None) -> dict:
        return {
            "kind": "linear",
            "wbits": 1,
            "weight_scale": "per-output-channel mean|W|",
            "abits": abits,
            "input_scale": _scale(quant),
            "input_signed": quant.signed,
            "output_scales": outputs,
        }

    for i, block in enumerate(model.blocks):
        attn = block.attn
        qkv_scales = [_scale(attn.qkv_quant)] * 3
        spec[f"blocks.{i}.attn.qkv"] = linear(attn.in_quant, qkv_scales)
        spec[f"blocks.{i}.attn"] = {
            "kind": "attention",
            "abits": abits,
            "heads": attn.heads,
            "head_dim": attn.head_dim,
            "score_scale": 1.0 / math.sqrt(attn.head_dim),
            "q_scale": qkv_scales[0],
            "k_scale": qkv_scales[1],
            "v_scale": qkv_scales[2],
            "prob_bits": abits,
            "prob_scale": None if abits is None else attn.prob_quant.step_size(),
            "prob_signed": False,
        }
        spec[f"blocks.{i}.attn.proj"] = linear(attn.proj_quant)
        spec[f"blocks.{i}.fc1"] = linear(block.fc1_quant)
        spec[f"blocks.{i}.fc2"] = linear(block.fc2_quant)
    return spec


def config_dict(cfg: DeiTConfig) -> dict:
    """A DeiTConfig as plain values (tuples as lists), for checkpoints and JSON."""
    d = asdict(cfg)
    d["image_size"] = list(cfg.image_size)
    return d


def config_from_dict(d: dict) -> DeiTConfig:
    d = dict(d)
    d["image_size"] = tuple(d["image_size"])
    return DeiTConfig(**d)
