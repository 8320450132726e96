"""`mark-quantization{wbits=1 abits=8}`: decide what is quantized and how every tensor is stored.

The paper's rules (Sections IV-B and V-B1):
- inside the encoder (between the token embedding and the CLS select), every
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
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from vaqf_compiler.dataflow import dataflow_graph, encoder_region, model_function
from vaqf_compiler.dialects import vit
from vaqf_compiler.dialects.vit import FormatAttr, NumberKind, QuantAttr
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe

FIXED16 = FormatAttr(NumberKind.FIXED, 16)

# Ops that only rearrange data: a quantized consumer behind them still wants codes.
LAYOUT_OPS = (vit.SplitHeadsOp, vit.MergeHeadsOp)


def check_bits(pass_name: str, wbits: int, abits: int) -> None:
    if wbits not in (1, 16):
        raise VaqfError(f"{pass_name}: wbits must be 1 (binary weights) or 16 (unquantized baseline), got {wbits}")
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
    ends = [op for op in ops if isinstance(op, vit.SelectTokenOp)]
    return encoder_region(graph, starts, ends)


@dataclass(frozen=True)
class MarkQuantizationPass(ModulePass):
    """Annotate `quant` on compute ops and `out` on every op (see the module docstring)."""

    name = "mark-quantization"
    wbits: int = 1
    abits: int = 8

    def __post_init__(self) -> None:
        check_bits(self.name, self.wbits, self.abits)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        fn = model_function(op, self.name)
        if fn is None:
            return
        graph = dataflow_graph(fn)
        quantized = self.wbits == 1
        encoder = encoder_ops(graph, fn, self.name) if quantized else set()
        codes = FormatAttr(NumberKind.INT, self.abits)
        probabilities = FormatAttr(NumberKind.UINT, self.abits)
        binary = FormatAttr(NumberKind.BINARY, 1)
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
                node.properties["quant"] = QuantAttr(binary, codes) if inside else QuantAttr(FIXED16, FIXED16)
            elif isinstance(node, vit.MatmulOp):
                if node in encoder:
                    lhs, rhs = (_producer_format(v, out) for v in (node.lhs, node.rhs))
                    node.properties["quant"] = QuantAttr(rhs, lhs)
                else:
                    node.properties["quant"] = QuantAttr(FIXED16, FIXED16)

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
