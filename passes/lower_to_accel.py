"""`lower-to-accel`: rewrite the annotated `vit` module into the `accel` dialect.

Needs `fold-patch-embed`, `mark-quantization` and `partition-host-accel` first
(it says so if their annotations are missing). Every FC layer and attention
product on the FPGA becomes an `accel.engine` whose operands are read through
the stream their storage format selects (`accel.load`) and whose result is
written back in its `out` format (`accel.store`); every other op becomes its
`accel` counterpart with the same meaning, placement and format.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.dialects.vit import FormatAttr, NumberKind, Placement
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe

_FIXED16 = FormatAttr(NumberKind.FIXED, 16)
_ACCEL_OF = {v: k for k, v in accel.MIRRORED.items()}


def _format_of(value: SSAValue) -> FormatAttr:
    """How `value` is stored: its producer's `out` (the image arrives as 16-bit data)."""
    owner = value.owner
    fmt = getattr(owner, "out", None) if isinstance(owner, Operation) else None
    return fmt if isinstance(fmt, FormatAttr) else _FIXED16


def _load(value: SSAValue) -> accel.LoadOp:
    fmt = _format_of(value)
    stream = accel.Stream.QUANTIZED if fmt.quantized else accel.Stream.UNQUANTIZED
    return accel.LoadOp(value, stream, fmt)


class LowerVitOp(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, vit.VitOp) or isinstance(op, tuple(accel.MIRRORED)):
            return  # not vit, or already lowered (accel's mirrored ops derive from vit's)
        if isinstance(op, vit.PatchEmbedOp):
            raise VaqfError("lower-to-accel: run fold-patch-embed first (the conv is not an FC yet)", where=describe(op))
        if op.out is None or op.place is None:
            raise VaqfError(
                "lower-to-accel: missing annotations; run mark-quantization and partition-host-accel first",
                where=describe(op),
            )
        if isinstance(op, vit.LinearOp | vit.MatmulOp):
            self._engine(op, rewriter)
            return
        new = _ACCEL_OF[type(op)].create(
            operands=list(op.operands), result_types=[op.result.type], properties=dict(op.properties)
        )
        rewriter.replace(op, new)

    @staticmethod
    def _engine(op: vit.LinearOp | vit.MatmulOp, rewriter: PatternRewriter) -> None:
        if op.place.data != Placement.ACCEL:
            raise VaqfError("lower-to-accel: matrix products must be placed on the FPGA", where=describe(op))
        if op.quant is None:
            raise VaqfError("lower-to-accel: missing `quant`; run mark-quantization first", where=describe(op))
        if isinstance(op, vit.LinearOp):
            loads = [_load(op.input)]
            engine = accel.EngineOp(
                accel.EngineKind.FC, loads, op.result.type, heads=1, quant=op.quant, out=op.out,
                weight=op.weight, bias=op.bias, rows=op.rows,
            )
        else:
            loads = [_load(op.lhs), _load(op.rhs)]
            heads = op.lhs.type.get_shape()[0]  # type: ignore[union-attr]
            engine = accel.EngineOp(
                accel.EngineKind.ATTENTION, loads, op.result.type, heads=heads, quant=op.quant, out=op.out,
                transpose_b=op.transpose_b is not None,
            )
        store = accel.StoreOp(engine, op.out)
        rewriter.replace(op, [*loads, engine, store], [store.result])


@dataclass(frozen=True)
class LowerToAccelPass(ModulePass):
    """Rewrite every `vit` op into the `accel` dialect."""

    name = "lower-to-accel"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(LowerVitOp(), apply_recursively=False).rewrite_module(op)
