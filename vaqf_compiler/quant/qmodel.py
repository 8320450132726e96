"""The quantized DeiT: binary or mixed encoder linears and k-bit activations, built from our float DeiT.

`quantize_deit(model, abits, progressive, scheme=...)` copies the weights of
a float `vaqf_compiler.models.deit.DeiT` (or of another `QuantDeiT`) into a
`QuantDeiT` of the same configuration. Parameter names are the float DeiT's
(`blocks.0.attn.qkv.weight`, ...), plus the quantizers' step sizes.

Quantized weights (see `quantizers`): the encoder linears qkv, attn.proj,
fc1, fc2. Two schemes:
- "vaqf" (default): binary weights alpha_j * s(W) (`progressive.BinaryLinear`), wbits 1;
- "mixed" (ours, after Auto-ViT-Acc): `wbits`-bit (2..8) weights, a share
  `pot_ratio` of each matrix's rows powers of two, the rest fixed point
  (`mixed_linear.MixedLinear`).
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
from collections.abc import Callable
from dataclasses import asdict

import torch
import torch.nn.functional as F
from torch import nn

from vaqf_compiler import mixed
from vaqf_compiler.models.deit import DeiT, DeiTConfig
from vaqf_compiler.quant.mixed_linear import MixedLinear
from vaqf_compiler.quant.progressive import BinaryLinear
from vaqf_compiler.quant.quantizers import ActQuant, ProbQuant, check_bits

# Seeds of the progressive rankings: one per binarized tensor, from this base.
RANKING_SEED = 0x5EED

SCHEMES = ("vaqf", "mixed")
DEFAULT_MIXED_BITS = 4

# make_linear(in_features, out_features, i): encoder linear i of a block (0 qkv, 1 proj, 2 fc1, 3 fc2).
LinearFactory = Callable[[int, int, int], nn.Module]


class QuantAttention(nn.Module):
    def __init__(self, cfg: DeiTConfig, abits: int | None, make_linear: LinearFactory):
        super().__init__()
        self.heads = cfg.heads
        self.head_dim = cfg.dim // cfg.heads
        self.qkv = make_linear(cfg.dim, 3 * cfg.dim, 0)
        self.proj = make_linear(cfg.dim, cfg.dim, 1)
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
    def __init__(self, cfg: DeiTConfig, abits: int | None, make_linear: LinearFactory):
        super().__init__()
        hidden = int(cfg.dim * cfg.mlp_ratio)
        self.norm1 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.attn = QuantAttention(cfg, abits, make_linear)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.fc1 = make_linear(cfg.dim, hidden, 2)
        self.fc2 = make_linear(hidden, cfg.dim, 3)
        self.fc1_quant = ActQuant(abits, signed=True)
        self.fc2_quant = ActQuant(abits, signed=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        h = F.gelu(self.fc1(self.fc1_quant(self.norm2(x))))
        return x + self.fc2(self.fc2_quant(h))


def check_scheme(scheme: str, wbits: int | None, pot_ratio: float | None, progressive: bool) -> tuple[int, float | None]:
    """(wbits, pot_ratio) of a valid weight scheme (wbits None: the scheme's default), else ValueError."""
    if scheme == "vaqf":
        if wbits not in (None, 1) or pot_ratio is not None:
            raise ValueError(f"the vaqf scheme has binary weights and no PoT ratio, got wbits={wbits} pot_ratio={pot_ratio}")
        return 1, None
    if scheme == "mixed":
        bits = DEFAULT_MIXED_BITS if wbits is None else wbits
        if isinstance(bits, bool) or not isinstance(bits, int):
            raise ValueError(f"mixed-scheme weight bits must be an integer, got {bits!r}")
        mixed.check_weight_bits(bits)
        if pot_ratio is None:
            raise ValueError("the mixed scheme needs a PoT ratio in [0, 1]")
        mixed.check_ratio(pot_ratio)
        if progressive:
            raise ValueError("progressive training is for binary (vaqf) weights only")
        return bits, float(pot_ratio)
    raise ValueError(f"unknown weight scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")


class QuantDeiT(DeiT):
    """DeiT with quantized encoder weights and `abits`-bit activations (None: float, A32).

    Embedding, final norm, head and forward are the float DeiT's; only the
    encoder blocks are quantized. scheme "vaqf": binary weights (W1);
    `progressive=True` makes every binary linear progressive (fraction 0 at
    first), its rankings seeded from `ranking_seed`. scheme "mixed": `wbits`-bit
    (default 4) weights with `pot_ratio` of each matrix's rows powers of two.
    """

    def __init__(
        self,
        cfg: DeiTConfig,
        abits: int | None,
        progressive: bool = False,
        ranking_seed: int = RANKING_SEED,
        scheme: str = "vaqf",
        wbits: int | None = None,
        pot_ratio: float | None = None,
    ):
        super().__init__(cfg)
        self.abits = None if abits is None else check_bits(abits)
        self.scheme = scheme
        self.wbits, self.pot_ratio = check_scheme(scheme, wbits, pot_ratio, progressive)
        self.progressive = progressive

        def make_linear(block: int) -> LinearFactory:
            def build(n_in: int, n_out: int, i: int) -> nn.Module:
                if scheme == "mixed":
                    return MixedLinear(n_in, n_out, self.wbits, self.pot_ratio)
                return BinaryLinear(n_in, n_out, progressive_seed=ranking_seed + 4 * block + i if progressive else None)

            return build

        self.blocks = nn.ModuleList(QuantBlock(cfg, self.abits, make_linear(b)) for b in range(cfg.depth))


def _is_quantizer_key(key: str) -> bool:
    return "_quant." in key


def quantize_deit(
    model: DeiT | QuantDeiT,
    abits: int | None,
    progressive: bool = False,
    ranking_seed: int = RANKING_SEED,
    scheme: str = "vaqf",
    wbits: int | None = None,
    pot_ratio: float | None = None,
) -> QuantDeiT:
    """A QuantDeiT with `model`'s weights (float or quantization-trained), in train/eval mode as `model`.

    The latent float weights are copied; `scheme`, `wbits` and `pot_ratio`
    choose how the new model quantizes them (see `QuantDeiT`). From a
    QuantDeiT, step sizes carry over only when `abits` is the same;
    otherwise the new quantizers start uninitialised (set on the first batch).
    `ranking_seed` seeds the progressive rankings (tensor i of block b uses
    ranking_seed + 4 b + i, in the order qkv, proj, fc1, fc2).
    """
    qmodel = QuantDeiT(model.cfg, abits, progressive, ranking_seed, scheme, wbits, pot_ratio)
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


def fake_quant_float_deit(model: QuantDeiT) -> DeiT:
    """A float DeiT whose encoder linears hold the quantized weights (activations stay float).

    vaqf: W_b = alpha * s(W) (fully binary, also while progressive); mixed:
    W_q = mixed.mixed_values(W, wbits, pot_ratio). This is the WkA32 network
    as a plain DeiT.
    """
    float_model = DeiT(model.cfg)
    state = {k: v for k, v in model.state_dict().items() if not _is_quantizer_key(k)}
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, BinaryLinear):
                was, module.progressive = module.progressive, False
                state[f"{name}.weight"] = module.train_weight().detach().clone()
                module.progressive = was
            elif isinstance(module, MixedLinear):
                state[f"{name}.weight"] = module.train_weight().detach().clone()
    float_model.load_state_dict(state)
    return float_model.train(model.training)


def binarized_float_deit(model: QuantDeiT) -> DeiT:
    """The W1A32 network as a plain DeiT (`fake_quant_float_deit` of a vaqf model)."""
    return fake_quant_float_deit(model)


def latent_float_deit(model: QuantDeiT) -> DeiT:
    """A float DeiT with the latent (unquantized) weights the QuantDeiT trains."""
    float_model = DeiT(model.cfg)
    float_model.load_state_dict({k: v for k, v in model.state_dict().items() if not _is_quantizer_key(k)})
    return float_model.train(model.training)


def export_float_deit(model: DeiT | QuantDeiT) -> DeiT:
    """The float DeiT whose weights the compiler imports and quantizes again.

    vaqf: the binarized weights (binarizing W_b again gives W_b). mixed: the
    LATENT weights: the compiler's assign-pot-rows and codes, applied to
    them, give exactly the W_q training used; W_q itself would not do, since
    every PoT or fixed-point-exact row has PoT error 0 and the rule's ties
    could move rows between the engines. A float DeiT is returned as is.
    """
    if not isinstance(model, QuantDeiT):
        return model
    return latent_float_deit(model) if model.scheme == "mixed" else fake_quant_float_deit(model)


def _scale(q: ActQuant) -> float | None:
    return None if q.bits is None else q.step_size()


def quant_spec(model: QuantDeiT) -> dict[str, dict]:
    """The quantization parameters per encoder linear and per attention, as plain values.

    Keys are the module paths of the float DeiT. A linear entry:
    `{"kind": "linear", "scheme": "vaqf" | "mixed", "wbits": 1 (vaqf) or k,
    "pot_ratio": None (vaqf) or r, "weight_scale": "per-output-channel mean|W|"
    (vaqf) or "per-output-channel max|W|" (mixed), "abits", "input_scale",
    "input_signed", "output_scales"}` where `output_scales` is `[q, k, v]` for
    qkv, else None. An attention entry
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
            "scheme": model.scheme,
            "wbits": model.wbits,
            "pot_ratio": model.pot_ratio,
            "weight_scale": "per-output-channel " + ("max|W|" if model.scheme == "mixed" else "mean|W|"),
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
