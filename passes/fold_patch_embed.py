"""`fold-patch-embed`: the patch-embedding conv becomes patchify + FC (paper, Section V-B, Fig. 4).

With kernel = stride = patch size and no padding, every pixel is used by
exactly one patch, so the conv is a matrix product of the flattened patches
with the kernel — the compute engine's FC. The conv weight [D, C, P, P]
serves as is: `vit.linear` flattens trailing weight dims row-major, in the
(c, i, j) order `vit.patchify` flattens a patch.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from vaqf_compiler.dialects import vit
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe


class PatchEmbedToLinear(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: vit.PatchEmbedOp, rewriter: PatternRewriter) -> None:
        kernel, stride = list(op.kernel), [int(v) for v in op.stride.get_values()]
        padding = [int(v) for v in op.padding.get_values()]
        if kernel != stride:
            raise VaqfError(
                f"fold-patch-embed: kernel {kernel} differs from stride {stride}, so patches overlap"
                " and the conv is not an FC over patches",
                where=describe(op),
            )
        if padding != [0, 0]:
            raise VaqfError(
                f"fold-patch-embed: padding {padding} is not supported; patches must tile the image",
                where=describe(op),
            )
        image = op.input.type
        assert isinstance(image, TensorType)
        c, h, w = image.get_shape()
        if h % kernel[0] or w % kernel[1]:
            raise VaqfError(
                f"fold-patch-embed: image {h}x{w} is not a multiple of the patch {kernel[0]}x{kernel[1]}",
                where=describe(op),
            )
        patches = vit.PatchifyOp(op.input, kernel, vit.tensor((h // kernel[0]) * (w // kernel[1]), c * kernel[0] * kernel[1]))
        linear = vit.LinearOp(patches, op.weight, op.bias, op.result.type)
        # Decisions already made on the conv carry over to the FC.
        for key in ("quant", "out", "place"):
            if key in op.properties:
                linear.properties[key] = op.properties[key]
        rewriter.replace(op, [patches, linear])


@dataclass(frozen=True)
class FoldPatchEmbedPass(ModulePass):
    """Rewrite every `vit.patch_embed` into `vit.patchify` + `vit.linear`."""

    name = "fold-patch-embed"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(PatchEmbedToLinear(), apply_recursively=False).rewrite_module(op)
