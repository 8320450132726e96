"""`mark-quantization{wbits=1 abits=8 scheme=vaqf}`: decide what is quantized and how every tensor is stored.

The paper's rules (Sections IV-B and V-B1):
- inside the encoder (between the token embedding and the CLS select or mean pool), every
  `vit.linear` has binary weights and k-bit inputs, and both attention products
  (`vit.matmul`) take k-bit operands;
- the patch embedding, the classification head, layer norm and the residual
  path stay unquantized: 16-bit fixed point.

Each compute op gets `quant` (weight and input formats). Every op gets `out`,
the format its result is stored in: k-bit codes when all its consumers read
quantized inputs (`uint` for softmax probabilities, `int` otherwise), 16-bit
fixed point when any consumer is unquantized. `wbits=16 abits=16` marks the
unquantized baseline (everything 16-bit). Running it again with the same bits
keeps the scales calibration set; other bits drop them.

`scheme=mixed wbits=k` (k in 2..8, default 4) is our scheme after Auto-ViT-Acc
(docs/quantization.md, "Mixed scheme"): the encoder linears get k-bit mixed
weights (`#vit.format<mixed k>`), each row fixed point or power of two as
`assign-pot-rows` then decides; everything else is marked as for VAQF. A
row split (`rows`) survives re-marking only when the weight format stays the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from vaqf_compiler import mixed
from vaqf_compiler.dataflow import dataflow_graph, encoder_region, model_function
from vaqf_compiler.dialects import vit
from vaqf_compiler.dialects.vit import FormatAttr, NumberKind, QuantAttr
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe

FIXED16 = FormatAttr(NumberKind.FIXED, 16)
POT_RATIO_ATTR = "vit.pot_ratio"  # function attribute: the PoT ratio assign-pot-rows used

# Ops that only rearrange data: a quantized consumer behind them still wants codes.
LAYOUT_OPS = (vit.SplitHeadsOp, vit.MergeHeadsOp)


SCHEMES = ("vaqf", "mixed")
MIXED_DEFAULT_WBITS = 4


def check_scheme(pass_name: str, scheme: str, wbits: int | None, abits: int) -> int:
    """The weight bits the scheme uses (`wbits`, or the scheme's default); VaqfError if they do not fit it."""
    if scheme not in SCHEMES:
        raise VaqfError(f"{pass_name}: unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    if scheme == "mixed":
        bits = MIXED_DEFAULT_WBITS if wbits is None else wbits
        if not mixed.MIN_WEIGHT_BITS <= bits <= mixed.MAX_WEIGHT_BITS:
            raise VaqfError(
                f"{pass_name}: scheme=mixed needs wbits in {mixed.MIN_WEIGHT_BITS}..{mixed.MAX_WEIGHT_BITS}"
                f" (e.g. wbits=4), got {bits}"
            )
        if not 1 <= abits <= 16:
            raise VaqfError(f"{pass_name}: abits must be in 1..16, got {abits}")
        return bits
    bits = 1 if wbits is None else wbits
    check_bits(pass_name, bits, abits)
    return bits


def check_bits(pass_name: str, wbits: int, abits: int) -> None:
    if wbits not in (1, 16):
        raise VaqfError(
            f"{pass_name}: wbits must be 1 (binary weights) or 16 (unquantized baseline), got {wbits}"
            " (k-bit weights: scheme=mixed)"
        )
    if not 1 <= abits <= 16:
        raise VaqfError(f"{pass_name}: abits must be in 1..16, got {abits}")
    if wbits == 16 and abits != 16:
        raise VaqfError(f"{pass_name}: the unquantized baseline (wbits=16) needs abits=16, got {abits}")


def encoder_ops(graph: nx.DiGraph, fn: func.FuncOp, pass_name: str) -> set[Operation]:
    ops = list(graph.nodes)
    starts = [op for op in ops if isinstance(op, vit.ClsConcatOp)] or [
        op for op in ops if isinstance(op, vit.PosEmbedAddOp)
    ]
    if not starts:
        raise VaqfError(
            f"{pass_name}: this is not a ViT: no token embedding (vit.cls_concat or vit.pos_embed_add) found",
            where=describe(fn),
        )
    ends = [op for op in ops if isinstance(op, vit.SelectTokenOp | vit.MeanPoolOp)]
    return encoder_region(graph, starts, ends)


@dataclass(frozen=True)
class MarkQuantizationPass(ModulePass):
    """Annotate `quant` on compute ops and `out` on every op (see the module docstring)."""

    name = "mark-quantization"
    wbits: int | None = None  # default: 1 (vaqf), 4 (mixed)
    abits: int = 8
    scheme: str = "vaqf"

    def __post_init__(self) -> None:
        check_scheme(self.name, self.scheme, self.wbits, self.abits)

    @property
    def weight_bits(self) -> int:
        return check_scheme(self.name, self.scheme, self.wbits, self.abits)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        fn = model_function(op, self.name)
        if fn is None:
            return
        graph = dataflow_graph(fn)
        wbits = self.weight_bits
        quantized = wbits != 16
        encoder = encoder_ops(graph, fn, self.name) if quantized else set()
        codes = FormatAttr(NumberKind.INT, self.abits)
        probabilities = FormatAttr(NumberKind.UINT, self.abits)
        if self.scheme == "mixed":
            weights = FormatAttr(NumberKind.MIXED, wbits)
        else:
            weights = FormatAttr(NumberKind.BINARY, 1)
        if quantized and not any(isinstance(o, (vit.LinearOp, vit.MatmulOp)) for o in encoder):
            raise VaqfError(f"{self.name}: the model has no encoder layers to quantize", where=describe(fn))

        # Storage formats, consumers first: a value is stored as codes iff every reader wants codes.
        out: dict[Operation, FormatAttr] = {}
        for node in reversed(list(nx.topological_sort(graph))):
            if isinstance(node, func.ReturnOp):
                continue
            wants = {self._wanted(user, node, encoder, out) for user in graph.successors(node)}
            if len(wants) > 1:
                raise VaqfError(
                    f"{self.name}: this value feeds both quantized and unquantized inputs", where=describe(node)
                )
            wants_codes = wants == {True}
            if wants_codes:
                out[node] = probabilities if isinstance(node, vit.SoftmaxOp) else codes
            else:
                out[node] = FIXED16

        for node in graph.nodes:
            if isinstance(node, func.ReturnOp):
                continue
            node.properties["out"] = _keep_scale(node.properties.get("out"), out[node])
            if isinstance(node, vit.LinearOp | vit.PatchEmbedOp):
                inside = node in encoder
                quant = QuantAttr(weights, codes) if inside else QuantAttr(FIXED16, FIXED16)
                old = node.properties.get("quant")
                if "rows" in node.properties and (not isinstance(old, QuantAttr) or old.weights != quant.weights):
                    del node.properties["rows"]  # the split belongs to the old weight format
                node.properties["quant"] = quant
            elif isinstance(node, vit.MatmulOp):
                if node in encoder:
                    lhs, rhs = (_producer_format(v, out) for v in (node.lhs, node.rhs))
                    node.properties["quant"] = QuantAttr(rhs, lhs)
                else:
                    node.properties["quant"] = QuantAttr(FIXED16, FIXED16)
        if not any("rows" in o.properties for o in fn.walk()):
            fn.attributes.pop(POT_RATIO_ATTR, None)

    @staticmethod
    def _wanted(user: Operation, value_op: Operation, encoder: set[Operation], out: dict[Operation, FormatAttr]) -> bool:
        """Whether `user` reads `value_op`'s result as quantized codes."""
        if isinstance(user, vit.LinearOp | vit.MatmulOp):
            return user in encoder
        if isinstance(user, LAYOUT_OPS):
            return out[user].quantized
        return False


def _keep_scale(old: object, new: FormatAttr) -> FormatAttr:
    """Re-marking with the same format keeps a calibrated scale; another format drops it."""
    if isinstance(old, FormatAttr) and old.step is not None and old.body().split(" scale")[0] == new.body():
        return old
    return new


def _producer_format(value, out: dict[Operation, FormatAttr]) -> FormatAttr:
    owner = value.owner
    return out[owner] if isinstance(owner, Operation) and owner in out else FIXED16
