"""`vaqf-pipeline{wbits=1 abits=8}`: the middle of the compiler in one pass.

fold-patch-embed → mark-quantization → partition-host-accel → lower-to-accel,
with the module verified after each step, exactly as `vaqf-opt -p` would run
them one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from vaqf_compiler.passes.fold_patch_embed import FoldPatchEmbedPass
from vaqf_compiler.passes.lower_to_accel import LowerToAccelPass
from vaqf_compiler.passes.mark_quantization import MarkQuantizationPass, check_bits
from vaqf_compiler.passes.partition_host_accel import PartitionHostAccelPass


@dataclass(frozen=True)
class VaqfPipelinePass(ModulePass):
    name = "vaqf-pipeline"
    wbits: int = 1
    abits: int = 8
    softmax_on_accel: bool = False
    gelu_on_accel: bool = False
    scale_on_accel: bool = False

    def __post_init__(self) -> None:
        check_bits(self.name, self.wbits, self.abits)

    def steps(self) -> list[ModulePass]:
        return [
            FoldPatchEmbedPass(),
            MarkQuantizationPass(self.wbits, self.abits),
            PartitionHostAccelPass(self.softmax_on_accel, self.gelu_on_accel, self.scale_on_accel),
            LowerToAccelPass(),
        ]

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for step in self.steps():
            step.apply(ctx, op)
            op.verify()
