"""The `vit` dialect: a Vision Transformer at the level of its graph.

One image at a time: tensors carry no batch dimension. An image is
`tensor<CxHxWxf32>`, a token sequence `tensor<NxDxf32>`, per-head tensors
`tensor<HxNxdxf32>`, attention scores `tensor<HxNxNxf32>`.

Weights are never inlined. An op names its parameters with `#vit.param`
attributes, which carry the parameter's name and its stored shape; the arrays
live in a sidecar `.npz` named by the module attribute `vit.weights`
(see `vaqf_compiler.params`). The stored shape keeps the IR self-checking:
verifiers compare it with the operand types without opening the sidecar.

Example:
    %0 = vit.linear %x weight #vit.param<"blocks.0.mlp.fc1.weight", [768, 192]>
           bias #vit.param<"blocks.0.mlp.fc1.bias", [768]>
           : tensor<197x192xf32> -> tensor<197x768xf32>
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    DenseArrayBase,
    Float64Type,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    UnitAttr,
    f32,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SSAValue
from xdsl.irdl import (
    VarConstraint,
    base,
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

# --------------------------------------------------------------------------
# Attributes
# --------------------------------------------------------------------------


@irdl_attr_definition
class ParamAttr(ParametrizedAttribute):
    """A named parameter held in the weights sidecar: `#vit.param<"name", [d0, d1]>`."""

    name = "vit.param"

    param_name: StringAttr
    dims: ArrayAttr[IntAttr]

    def __init__(self, param_name: str, shape: Sequence[int]):
        super().__init__(StringAttr(param_name), ArrayAttr([IntAttr(d) for d in shape]))

    @property
    def key(self) -> str:
        return self.param_name.data

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(d.data for d in self.dims.data)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            key = parser.parse_str_literal(" as the parameter name")
            parser.parse_punctuation(",")
            dims = parser.parse_comma_separated_list(
                parser.Delimiter.SQUARE,
                lambda: parser.parse_integer(allow_boolean=False, allow_negative=False),
                " in the parameter shape",
            )
        return [StringAttr(key), ArrayAttr([IntAttr(d) for d in dims])]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string("<")
        printer.print_string_literal(self.key)
        printer.print_string(", [" + ", ".join(str(d) for d in self.shape) + "]>")

    def verify(self) -> None:
        if not self.key:
            raise VerifyException("#vit.param: parameter name must not be empty")
        if any(d.data <= 0 for d in self.dims.data):
            raise VerifyException(f"#vit.param<{self.key!r}>: dimensions must be > 0, got {list(self.shape)}")


# --------------------------------------------------------------------------
# Helpers shared by the verifiers
# --------------------------------------------------------------------------


def _shape(value: SSAValue, what: str, rank: int | tuple[int, ...]) -> tuple[int, ...]:
    """The static shape of an f32 tensor operand/result, checked for rank."""
    t = value.type
    if not isinstance(t, TensorType):
        raise VerifyException(f"{what} must be a tensor, got {t}")
    if t.element_type != f32:
        raise VerifyException(f"{what} must have element type f32, got {t.element_type}")
    shape = tuple(t.get_shape())
    if any(d < 0 for d in shape):
        raise VerifyException(f"{what} must have a static shape, got {t}")
    ranks = (rank,) if isinstance(rank, int) else rank
    if len(shape) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise VerifyException(f"{what} must have rank {want}, got {t}")
    return shape


def _expect(cond: bool, msg: str) -> None:
    if not cond:
        raise VerifyException(msg)


def _pair(attr: DenseArrayBase, what: str) -> tuple[int, int]:
    values = attr.get_values()
    _expect(len(values) == 2, f"{what} must have two entries (height, width), got {list(values)}")
    return int(values[0]), int(values[1])


def _i64_pair(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, list(values))


def _f64(value: float) -> FloatAttr:
    return FloatAttr(value, Float64Type())


def _props(**props: Attribute | None) -> dict[str, Attribute]:
    """An op's properties, leaving out optional ones given as None."""
    return {k: v for k, v in props.items() if v is not None}


def tensor(*shape: int) -> TensorType:
    """An f32 tensor type: every activation in the float graph is f32."""
    return TensorType(f32, list(shape))


class VitOp(IRDLOperation):
    """Base of the dialect's ops: lists the parameters an op references."""

    def params(self) -> Iterator[ParamAttr]:
        for attr in self.properties.values():
            if isinstance(attr, ParamAttr):
                yield attr
            elif isinstance(attr, ArrayAttr):
                yield from (a for a in attr.data if isinstance(a, ParamAttr))


# --------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------


@irdl_op_definition
class PatchEmbedOp(VitOp):
    """Patch embedding: conv2d of the image, flattened to tokens in row-major patch order.

    `%t = vit.patch_embed %img weight #vit.param<"w", [192, 3, 16, 16]> bias #vit.param<"b", [192]>
          stride array<i64: 16, 16> padding array<i64: 0, 0> : tensor<3x224x224xf32> -> tensor<196x192xf32>`
    """

    name = "vit.patch_embed"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    weight = prop_def(ParamAttr)
    bias = opt_prop_def(ParamAttr)
    stride = prop_def(DenseArrayBase.constr(i64))
    padding = prop_def(DenseArrayBase.constr(i64))
    traits = traits_def(Pure())
    assembly_format = (
        "$input `weight` qualified($weight) (`bias` qualified($bias)^)? `stride` qualified($stride) `padding` qualified($padding)"
        " attr-dict `:` type($input) `->` type($result)"
    )

    def __init__(
        self,
        input: SSAValue | Operation,
        weight: ParamAttr,
        bias: ParamAttr | None,
        stride: Sequence[int],
        padding: Sequence[int],
        result_type: Attribute,
    ):
        props = _props(weight=weight, bias=bias, stride=_i64_pair(stride), padding=_i64_pair(padding))
        super().__init__(operands=[input], result_types=[result_type], properties=props)

    @property
    def kernel(self) -> tuple[int, int]:
        return self.weight.shape[2], self.weight.shape[3]

    def verify_(self) -> None:
        c, h, w = _shape(self.input, "vit.patch_embed input", 3)
        n, d = _shape(self.result, "vit.patch_embed result", 2)
        ws = self.weight.shape
        _expect(len(ws) == 4, f"vit.patch_embed weight must be [out, in, kh, kw], got {list(ws)}")
        _expect(ws[1] == c, f"vit.patch_embed weight has {ws[1]} input channels but the image has {c}")
        _expect(ws[0] == d, f"vit.patch_embed weight has {ws[0]} output channels but the result has {d}")
        if self.bias is not None:
            _expect(self.bias.shape == (d,), f"vit.patch_embed bias must be [{d}], got {list(self.bias.shape)}")
        sh, sw = _pair(self.stride, "vit.patch_embed stride")
        ph, pw = _pair(self.padding, "vit.patch_embed padding")
        _expect(sh > 0 and sw > 0, "vit.patch_embed stride must be > 0")
        _expect(ph >= 0 and pw >= 0, "vit.patch_embed padding must be >= 0")
        kh, kw = ws[2], ws[3]
        oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        _expect(oh > 0 and ow > 0, f"vit.patch_embed kernel {kh}x{kw} is larger than the padded image {h}x{w}")
        _expect(n == oh * ow, f"vit.patch_embed produces {oh}x{ow}={oh * ow} patches but the result has {n} tokens")


@irdl_op_definition
class PatchifyOp(VitOp):
    """Cut the image into non-overlapping patches, each flattened in (channel, row, col) order.

    `%p = vit.patchify %img patch array<i64: 16, 16> : tensor<3x224x224xf32> -> tensor<196x768xf32>`
    """

    name = "vit.patchify"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    patch = prop_def(DenseArrayBase.constr(i64))
    traits = traits_def(Pure())
    assembly_format = "$input `patch` qualified($patch) attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, patch: Sequence[int], result_type: Attribute):
        super().__init__(operands=[input], result_types=[result_type], properties={"patch": _i64_pair(patch)})

    def verify_(self) -> None:
        c, h, w = _shape(self.input, "vit.patchify input", 3)
        n, k = _shape(self.result, "vit.patchify result", 2)
        ph, pw = _pair(self.patch, "vit.patchify patch")
        _expect(ph > 0 and pw > 0, "vit.patchify patch must be > 0")
        _expect(h % ph == 0 and w % pw == 0, f"vit.patchify: image {h}x{w} is not a multiple of patch {ph}x{pw}")
        want = ((h // ph) * (w // pw), c * ph * pw)
        _expect((n, k) == want, f"vit.patchify result must be {want[0]}x{want[1]}, got {n}x{k}")


@irdl_op_definition
class LinearOp(VitOp):
    """Fully connected layer y = x W^T + b over the last axis.

    The weight is [out, in...]: trailing dims flatten row-major to the input
    features, so a conv kernel [D, C, P, P] serves a patchified input as is.

    `%y = vit.linear %x weight #vit.param<"fc.weight", [768, 192]> bias #vit.param<"fc.bias", [768]>
          : tensor<197x192xf32> -> tensor<197x768xf32>`
    """

    name = "vit.linear"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    weight = prop_def(ParamAttr)
    bias = opt_prop_def(ParamAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$input `weight` qualified($weight) (`bias` qualified($bias)^)? attr-dict"
        " `:` type($input) `->` type($result)"
    )

    def __init__(
        self, input: SSAValue | Operation, weight: ParamAttr, bias: ParamAttr | None, result_type: Attribute
    ):
        props = _props(weight=weight, bias=bias)
        super().__init__(operands=[input], result_types=[result_type], properties=props)

    @property
    def in_features(self) -> int:
        return math.prod(self.weight.shape[1:])

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    def verify_(self) -> None:
        x = _shape(self.input, "vit.linear input", (1, 2))
        y = _shape(self.result, "vit.linear result", (1, 2))
        ws = self.weight.shape
        _expect(len(ws) >= 2, f"vit.linear weight must be [out, in...], got {list(ws)}")
        _expect(
            x[-1] == self.in_features,
            f"vit.linear: input has {x[-1]} features but weight {list(ws)} expects {self.in_features}",
        )
        _expect(
            y == x[:-1] + (ws[0],),
            f"vit.linear result must be {list(x[:-1] + (ws[0],))}, got {list(y)}",
        )
        if self.bias is not None:
            _expect(self.bias.shape == (ws[0],), f"vit.linear bias must be [{ws[0]}], got {list(self.bias.shape)}")


@irdl_op_definition
class LayerNormOp(VitOp):
    """Layer normalisation over the last axis, with optional affine parameters.

    `%y = vit.layer_norm %x weight #vit.param<"ln.weight", [192]> bias #vit.param<"ln.bias", [192]>
          eps 1.000000e-06 : f64 : tensor<197x192xf32> -> tensor<197x192xf32>`
    """

    name = "vit.layer_norm"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    weight = opt_prop_def(ParamAttr)
    bias = opt_prop_def(ParamAttr)
    eps = prop_def(FloatAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$input (`weight` qualified($weight)^)? (`bias` qualified($bias)^)? `eps` $eps attr-dict"
        " `:` type($input) `->` type($result)"
    )

    def __init__(
        self,
        input: SSAValue | Operation,
        weight: ParamAttr | None,
        bias: ParamAttr | None,
        eps: float,
        result_type: Attribute,
    ):
        props = _props(weight=weight, bias=bias, eps=_f64(eps))
        super().__init__(operands=[input], result_types=[result_type], properties=props)

    def verify_(self) -> None:
        x = _shape(self.input, "vit.layer_norm input", (1, 2))
        _expect(self.result.type == self.input.type, "vit.layer_norm result type must equal its input type")
        for what, p in (("weight", self.weight), ("bias", self.bias)):
            if p is not None:
                _expect(p.shape == (x[-1],), f"vit.layer_norm {what} must be [{x[-1]}], got {list(p.shape)}")
        eps = self.eps.value.data
        _expect(math.isfinite(eps) and eps > 0, f"vit.layer_norm eps must be finite and > 0, got {eps}")


@irdl_op_definition
class MatmulOp(VitOp):
    """Per-head matrix product of two activations: Q·Kᵀ (with `transpose_b`) or A·V.

    `%s = vit.matmul %q, %k transpose_b : (tensor<3x197x64xf32>, tensor<3x197x64xf32>) -> tensor<3x197x197xf32>`
    """

    name = "vit.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    transpose_b = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$lhs `,` $rhs (`transpose_b` $transpose_b^)? attr-dict"
        " `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)"
    )

    def __init__(
        self, lhs: SSAValue | Operation, rhs: SSAValue | Operation, transpose_b: bool, result_type: Attribute
    ):
        props = _props(transpose_b=UnitAttr() if transpose_b else None)
        super().__init__(operands=[lhs, rhs], result_types=[result_type], properties=props)

    def verify_(self) -> None:
        h, n, k = _shape(self.lhs, "vit.matmul lhs", 3)
        b = _shape(self.rhs, "vit.matmul rhs", 3)
        r = _shape(self.result, "vit.matmul result", 3)
        bh, bk, bm = (b[0], b[2], b[1]) if self.transpose_b is not None else b
        _expect(bh == h, f"vit.matmul: lhs has {h} heads but rhs has {bh}")
        _expect(bk == k, f"vit.matmul: contraction sizes differ (lhs {k}, rhs {bk})")
        _expect(r == (h, n, bm), f"vit.matmul result must be {[h, n, bm]}, got {list(r)}")


class _UnaryOp(VitOp):
    """Shape-preserving op on one f32 tensor."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    def verify_(self) -> None:
        _shape(self.input, f"{self.name} input", (1, 2, 3))
        _expect(self.result.type == self.input.type, f"{self.name} result type must equal its input type")


@irdl_op_definition
class SoftmaxOp(_UnaryOp):
    """Softmax over the last axis.  `%p = vit.softmax %s : tensor<3x197x197xf32> -> tensor<3x197x197xf32>`"""

    name = "vit.softmax"
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation):
        super().__init__(operands=[input], result_types=[SSAValue.get(input).type])


@irdl_op_definition
class GeluOp(_UnaryOp):
    """GELU, exact (erf) or with the `tanh` approximation.

    `%g = vit.gelu %h : tensor<197x768xf32> -> tensor<197x768xf32>`
    """

    name = "vit.gelu"
    tanh = opt_prop_def(UnitAttr)
    assembly_format = "$input (`tanh` $tanh^)? attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, tanh: bool = False):
        props = _props(tanh=UnitAttr() if tanh else None)
        super().__init__(operands=[input], result_types=[SSAValue.get(input).type], properties=props)


@irdl_op_definition
class ScaleOp(_UnaryOp):
    """Multiply by a constant (the 1/sqrt(d) of attention).

    `%y = vit.scale %s by 1.250000e-01 : f64 : tensor<3x197x197xf32> -> tensor<3x197x197xf32>`
    """

    name = "vit.scale"
    factor = prop_def(FloatAttr)
    assembly_format = "$input `by` $factor attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, factor: float):
        super().__init__(
            operands=[input], result_types=[SSAValue.get(input).type], properties={"factor": _f64(factor)}
        )

    def verify_(self) -> None:
        super().verify_()
        _expect(math.isfinite(self.factor.value.data), "vit.scale factor must be finite")


@irdl_op_definition
class AddOp(VitOp):
    """Residual addition of two activations of the same type.

    `%y = vit.add %a, %b : tensor<197x192xf32>`
    """

    name = "vit.add"
    T: ClassVar = VarConstraint("T", base(TensorType))
    lhs = operand_def(T)
    rhs = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($result)"

    def __init__(self, lhs: SSAValue | Operation, rhs: SSAValue | Operation):
        super().__init__(operands=[lhs, rhs], result_types=[SSAValue.get(lhs).type])

    def verify_(self) -> None:
        _shape(self.lhs, "vit.add lhs", (1, 2, 3))
        _expect(
            self.lhs.type == self.rhs.type == self.result.type,
            f"vit.add operands and result must have one type, got {self.lhs.type}, {self.rhs.type}"
            f" -> {self.result.type}",
        )


@irdl_op_definition
class ClsConcatOp(VitOp):
    """Prepend learned tokens (CLS, and DeiT's distillation token) to the patch tokens.

    `%t = vit.cls_concat %x tokens [#vit.param<"cls_token", [1, 1, 192]>]
          : tensor<196x192xf32> -> tensor<197x192xf32>`
    """

    name = "vit.cls_concat"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    tokens = prop_def(ArrayAttr[ParamAttr])
    traits = traits_def(Pure())
    assembly_format = "$input `tokens` $tokens attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, tokens: Sequence[ParamAttr], result_type: Attribute):
        super().__init__(operands=[input], result_types=[result_type], properties={"tokens": ArrayAttr(tokens)})

    def verify_(self) -> None:
        n, d = _shape(self.input, "vit.cls_concat input", 2)
        r = _shape(self.result, "vit.cls_concat result", 2)
        _expect(len(self.tokens.data) > 0, "vit.cls_concat needs at least one token")
        for tok in self.tokens.data:
            _expect(tok.numel == d, f"vit.cls_concat token {tok.key!r} has {tok.numel} values, expected {d}")
        k = len(self.tokens.data)
        _expect(r == (n + k, d), f"vit.cls_concat result must be {[n + k, d]}, got {list(r)}")


@irdl_op_definition
class PosEmbedAddOp(VitOp):
    """Add the learned position embedding.

    `%y = vit.pos_embed_add %x pos #vit.param<"pos_embed", [1, 197, 192]> : tensor<197x192xf32>`
    """

    name = "vit.pos_embed_add"
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    pos = prop_def(ParamAttr)
    traits = traits_def(Pure())
    assembly_format = "$input `pos` qualified($pos) attr-dict `:` type($result)"

    def __init__(self, input: SSAValue | Operation, pos: ParamAttr):
        super().__init__(operands=[input], result_types=[SSAValue.get(input).type], properties={"pos": pos})

    def verify_(self) -> None:
        n, d = _shape(self.input, "vit.pos_embed_add input", 2)
        _expect(self.result.type == self.input.type, "vit.pos_embed_add result type must equal its input type")
        _expect(
            self.pos.numel == n * d,
            f"vit.pos_embed_add: embedding {self.pos.key!r} {list(self.pos.shape)} does not cover {n}x{d} tokens",
        )


@irdl_op_definition
class SplitHeadsOp(VitOp):
    """Take part `part` of `parts` equal slices of the features and split it into heads.

    For a fused QKV projection, Q is part 0 of 3; for a separate projection, part 0 of 1.
    `%q = vit.split_heads %qkv heads 3 part 0 of 3 : tensor<197x576xf32> -> tensor<3x197x64xf32>`
    """

    name = "vit.split_heads"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    heads = prop_def(IntegerAttr[I64])
    part = prop_def(IntegerAttr[I64])
    parts = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = (
        "$input `heads` $heads `part` $part `of` $parts attr-dict `:` type($input) `->` type($result)"
    )

    def __init__(self, input: SSAValue | Operation, heads: int, part: int, parts: int, result_type: Attribute):
        super().__init__(
            operands=[input],
            result_types=[result_type],
            properties={
                "heads": IntegerAttr(heads, i64),
                "part": IntegerAttr(part, i64),
                "parts": IntegerAttr(parts, i64),
            },
        )

    def verify_(self) -> None:
        n, f = _shape(self.input, "vit.split_heads input", 2)
        r = _shape(self.result, "vit.split_heads result", 3)
        h, p, ps = self.heads.value.data, self.part.value.data, self.parts.value.data
        _expect(h > 0, f"vit.split_heads heads must be > 0, got {h}")
        _expect(ps > 0 and 0 <= p < ps, f"vit.split_heads part {p} of {ps} is out of range")
        _expect(f % (ps * h) == 0, f"vit.split_heads: {f} features do not split into {ps} parts of {h} heads")
        want = (h, n, f // (ps * h))
        _expect(r == want, f"vit.split_heads result must be {list(want)}, got {list(r)}")


@irdl_op_definition
class MergeHeadsOp(VitOp):
    """Concatenate the heads back into features: [H, N, d] -> [N, H*d].

    `%y = vit.merge_heads %o : tensor<3x197x64xf32> -> tensor<197x192xf32>`
    """

    name = "vit.merge_heads"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, result_type: Attribute):
        super().__init__(operands=[input], result_types=[result_type])

    def verify_(self) -> None:
        h, n, d = _shape(self.input, "vit.merge_heads input", 3)
        r = _shape(self.result, "vit.merge_heads result", 2)
        _expect(r == (n, h * d), f"vit.merge_heads result must be {[n, h * d]}, got {list(r)}")


@irdl_op_definition
class SelectTokenOp(VitOp):
    """Pick one token (the CLS token for classification): [N, D] -> [D].

    `%c = vit.select_token %x index 0 : tensor<197x192xf32> -> tensor<192xf32>`
    """

    name = "vit.select_token"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    index = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$input `index` $index attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, index: int, result_type: Attribute):
        super().__init__(operands=[input], result_types=[result_type], properties={"index": IntegerAttr(index, i64)})

    def verify_(self) -> None:
        n, d = _shape(self.input, "vit.select_token input", 2)
        r = _shape(self.result, "vit.select_token result", 1)
        i = self.index.value.data
        _expect(0 <= i < n, f"vit.select_token index {i} is out of range for {n} tokens")
        _expect(r == (d,), f"vit.select_token result must be [{d}], got {list(r)}")


VIT_OPS: tuple[type[VitOp], ...] = (
    PatchEmbedOp,
    PatchifyOp,
    LinearOp,
    LayerNormOp,
    MatmulOp,
    SoftmaxOp,
    GeluOp,
    ScaleOp,
    AddOp,
    ClsConcatOp,
    PosEmbedAddOp,
    SplitHeadsOp,
    MergeHeadsOp,
    SelectTokenOp,
)

# Module-level discardable attributes: the sidecar file (relative to the .mlir) and its checksum.
WEIGHTS_ATTR = "vit.weights"
WEIGHTS_SHA256_ATTR = "vit.weights_sha256"

Vit = Dialect("vit", list(VIT_OPS), [ParamAttr])
