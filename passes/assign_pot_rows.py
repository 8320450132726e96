"""`assign-pot-rows{ratio=0.5}`: split every mixed weight matrix into fixed-point and power-of-two rows.

For every FC layer with mixed weights (`quant = #vit.quant<w = mixed k, ...>`,
set by `mark-quantization{scheme=mixed}`), at the `vit` or the `accel` level,
the rule of `vaqf_compiler.mixed.assign_pot_rows` (ours; docs/quantization.md,
"Mixed scheme") picks floor(ratio · out + 1/2) power-of-two rows from the
float weights; the op gets `rows = #vit.rows<pot N of M, "mask">` and the
function `vit.pot_ratio`. The weights come from the sidecar beside the IR file
(`vaqf-opt` knows it), or from `weights=PATH` (needed for IR read from stdin).
Running it again with the same ratio changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import Float64Type, FloatAttr, ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from vaqf_compiler import mixed
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe
from vaqf_compiler.passes.mark_quantization import POT_RATIO_ATTR
from vaqf_compiler.passes.sidecar import pass_params


def mixed_fc_ops(module: Operation) -> list[vit.LinearOp | accel.EngineOp]:
    """The FC layers whose weights are mixed, in program order."""
    return [
        op for op in module.walk()
        if isinstance(op, vit.LinearOp | accel.EngineOp) and op.quant is not None and op.quant.mixed
    ]


def assign_rows(module: ModuleOp, params: Mapping[str, np.ndarray], ratio: float, pass_name: str = "assign-pot-rows") -> int:
    """Set `rows` on every mixed FC op of `module` by the rule; returns how many ops got one."""
    ops = mixed_fc_ops(module)
    if not ops:
        fn = next((o for o in module.walk() if isinstance(o, func.FuncOp)), None)
        raise VaqfError(
            f"{pass_name}: no FC layer has mixed weights; run mark-quantization{{scheme=mixed}} first",
            where=describe(fn) if fn is not None else None,
        )
    for op in ops:
        assert op.weight is not None and op.quant is not None
        if op.weight.key not in params:
            raise VaqfError(f"{pass_name}: parameter {op.weight.key!r} is missing", where=describe(op))
        w = np.asarray(params[op.weight.key], dtype=np.float64)
        mask = mixed.assign_pot_rows(w.reshape(w.shape[0], -1), op.quant.weights.bits.data, ratio)
        op.properties["rows"] = vit.RowSplitAttr.from_mask(mask)
    for fn in {op.parent_op() for op in ops}:
        if isinstance(fn, func.FuncOp):
            fn.attributes[POT_RATIO_ATTR] = FloatAttr(ratio, Float64Type())
    return len(ops)


@dataclass(frozen=True)
class AssignPotRowsPass(ModulePass):
    """Write `rows` on every FC op with mixed weights (see the module docstring)."""

    name = "assign-pot-rows"
    ratio: float = 0.5
    weights: str | None = None

    def __post_init__(self) -> None:
        try:
            mixed.check_ratio(self.ratio)
        except ValueError as e:
            raise VaqfError(f"{self.name}: {e}") from None

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not mixed_fc_ops(op):
            assign_rows(op, {}, self.ratio, self.name)  # the error, before any file is read
        assign_rows(op, pass_params(op, self.name, self.weights), self.ratio, self.name)
