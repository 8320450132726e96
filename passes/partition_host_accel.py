"""`partition-host-accel`: place every op on the host CPU or on the FPGA (paper, Section V-B).

Matrix work (FC layers, attention products), layer norm and the residual
additions run on the FPGA; scaling, softmax and GELU run on the host, which
costs little on embedded boards. Boards differ, so each of those three can be
moved to the FPGA with an option. The glue around the engine (patchify, token
concat, position embedding, CLS select) is host work; head split/merge are
views the engine addresses, so they sit with it.

    vaqf-opt -p 'partition-host-accel{softmax-on-accel=true}'
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from vaqf_compiler.dataflow import crossings, dataflow_graph, model_function
from vaqf_compiler.dialects import vit
from vaqf_compiler.dialects.vit import Placement, PlaceAttr
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe

ON_ACCEL = (
    vit.PatchEmbedOp,
    vit.LinearOp,
    vit.MatmulOp,
    vit.LayerNormOp,
    vit.AddOp,
    vit.SplitHeadsOp,
    vit.MergeHeadsOp,
)
ON_HOST = (vit.PatchifyOp, vit.ClsConcatOp, vit.PosEmbedAddOp, vit.SelectTokenOp, vit.MeanPoolOp)


@dataclass(frozen=True)
class PartitionHostAccelPass(ModulePass):
    """Set `on host` / `on accel` on every vit op."""

    name = "partition-host-accel"
    softmax_on_accel: bool = False
    gelu_on_accel: bool = False
    scale_on_accel: bool = False

    def placement(self, op: vit.VitOp) -> Placement:
        movable = {vit.SoftmaxOp: self.softmax_on_accel, vit.GeluOp: self.gelu_on_accel, vit.ScaleOp: self.scale_on_accel}
        if type(op) in movable:
            return Placement.ACCEL if movable[type(op)] else Placement.HOST
        if isinstance(op, ON_ACCEL):
            return Placement.ACCEL
        if isinstance(op, ON_HOST):
            return Placement.HOST
        raise VaqfError(f"{self.name}: cannot place '{op.name}'; run it on vit IR, before lower-to-accel", where=describe(op))

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        fn = model_function(op, self.name)
        if fn is None:
            return
        for node in fn.body.block.ops:
            if isinstance(node, vit.VitOp):
                node.properties["place"] = PlaceAttr(self.placement(node))
        graph = dataflow_graph(fn)
        host = {n for n in graph.nodes if isinstance(n, vit.VitOp) and n.place.data == Placement.HOST}
        # Recorded for reports and the cost model: buffers handed between host and FPGA per image.
        fn.attributes["vit.host_accel_crossings"] = IntegerAttr(crossings(graph, host), i64)
