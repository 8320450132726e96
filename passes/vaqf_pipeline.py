"""`vaqf-pipeline{wbits=1 abits=8}`: the middle of the compiler in one pass.

fold-patch-embed → mark-quantization → partition-host-accel → lower-to-accel,
with the module verified after each step, exactly as `vaqf-opt -p` would run
them one by one. `scheme=mixed` (with `wbits` 2..8, default 4, and
`pot-ratio`, default 0.5) marks mixed weights and runs assign-pot-rows right
after mark-quantization, so the `accel` module carries the row split; it reads
the float weights from the sidecar (or `weights=PATH`, see assign-pot-rows).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from vaqf_compiler.errors import VaqfError
from vaqf_compiler.passes.assign_pot_rows import AssignPotRowsPass
from vaqf_compiler.passes.fold_patch_embed import FoldPatchEmbedPass
from vaqf_compiler.passes.lower_to_accel import LowerToAccelPass
from vaqf_compiler.passes.mark_quantization import MarkQuantizationPass, check_scheme
from vaqf_compiler.passes.partition_host_accel import PartitionHostAccelPass


@dataclass(frozen=True)
class VaqfPipelinePass(ModulePass):
    name = "vaqf-pipeline"
    wbits: int | None = None  # default: 1 (vaqf), 4 (mixed)
    abits: int = 8
    softmax_on_accel: bool = False
    gelu_on_accel: bool = False
    scale_on_accel: bool = False
    scheme: str = "vaqf"
    pot_ratio: float | None = None  # scheme=mixed only; default 0.5
    weights: str | None = None

    def __post_init__(self) -> None:
        check_scheme(self.name, self.scheme, self.wbits, self.abits)
        if self.scheme != "mixed" and (self.pot_ratio is not None or self.weights is not None):
            raise VaqfError(f"{self.name}: pot-ratio and weights are options of scheme=mixed")
        self.steps()  # checks the step options (the ratio) now

    def steps(self) -> list[ModulePass]:
        marker = MarkQuantizationPass(self.wbits, self.abits, self.scheme)
        rows = [AssignPotRowsPass(0.5 if self.pot_ratio is None else self.pot_ratio, self.weights)]
        return [
            FoldPatchEmbedPass(),
            marker,
            *(rows if self.scheme == "mixed" else []),
            PartitionHostAccelPass(self.softmax_on_accel, self.gelu_on_accel, self.scale_on_accel),
            LowerToAccelPass(),
        ]

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for step in self.steps():
            step.apply(ctx, op)
            op.verify()
