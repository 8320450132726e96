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
from enum import StrEnum
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    DenseArrayBase,
    FloatData,
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
from xdsl.dialects.utils import EnumAttribute
from xdsl.ir import (
    Attribute,
    Dialect,
    Operation,
    ParametrizedAttribute,
    SpacedOpaqueSyntaxAttribute,
    SSAValue,
)
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

from vaqf_compiler import mixed

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


class NumberKind(StrEnum):
    """How a tensor's elements are stored on the accelerator."""

    BINARY = "binary"  # ±1 weights, one bit each, with a per-channel scale α
    INT = "int"  # signed k-bit codes of a quantized activation
    UINT = "uint"  # unsigned k-bit codes (attention probabilities)
    FIXED = "fixed"  # 16-bit fixed point: the unquantized path
    FLOAT = "float"  # host floating point
    MIXED = "mixed"  # k-bit weights, fixed-point or power-of-two by row (`#vit.rows`); weights only


@irdl_attr_definition
class FormatAttr(ParametrizedAttribute):
    """A storage format, with the real value of one code step once calibrated.

    `#vit.format<int 8>` (k-bit signed codes), `#vit.format<int 8 scale 0.0423>`
    (value = code × 0.0423), `#vit.format<fixed 16 scale 0.0009765625>` (16-bit fixed
    point, 10 fractional bits), `#vit.format<uint 8>` (probabilities: value = code / 255),
    `#vit.format<binary 1>` (±1 weights), `#vit.format<mixed 4>` (k-bit weights, each row
    fixed point or power of two as the op's `#vit.rows` says; per-row steps come from the
    weights, so a mixed format has no scale). `docs/quantization.md` gives the arithmetic.
    """

    name = "vit.format"

    kind: StringAttr
    bits: IntAttr
    scale: ArrayAttr[FloatData]  # empty until calibrated, else [step]

    def __init__(self, kind: NumberKind | str, bits: int, scale: float | None = None):
        steps = [] if scale is None else [FloatData(float(scale))]
        super().__init__(StringAttr(str(NumberKind(kind))), IntAttr(bits), ArrayAttr(steps))

    @property
    def number_kind(self) -> NumberKind:
        return NumberKind(self.kind.data)

    @property
    def quantized(self) -> bool:
        return self.number_kind in (NumberKind.BINARY, NumberKind.INT, NumberKind.UINT, NumberKind.MIXED)

    @property
    def step(self) -> float | None:
        """The real value of one code, or None before calibration."""
        return self.scale.data[0].data if self.scale.data else None

    def with_step(self, step: float) -> FormatAttr:
        return FormatAttr(self.number_kind, self.bits.data, step)

    @property
    def code_range(self) -> tuple[int, int]:
        """The smallest and largest code.

        For mixed weights: of the integer weight the MACs see (q, or ±2^(E-e) of a
        power-of-two row, |.| <= 2^E with E = 2^(k-1) - 2), not of the stored k-bit codes.
        """
        k, kind = self.bits.data, self.number_kind
        if kind == NumberKind.MIXED:
            top = 1 << mixed.pot_max_exponent(k)
            return -top, top
        if kind == NumberKind.UINT:
            return 0, (1 << k) - 1
        if kind == NumberKind.BINARY or k == 1:
            return -1, 1
        return -(1 << (k - 1)), (1 << (k - 1)) - 1

    @staticmethod
    def parse_body(parser: AttrParser) -> tuple[StringAttr, IntAttr, ArrayAttr[FloatData]]:
        kind = parser.parse_identifier(" (binary, int, uint, fixed, float or mixed)")
        bits = parser.parse_integer(allow_boolean=False, allow_negative=False, context_msg=" (bit width)")
        steps: list[FloatData] = []
        if parser.parse_optional_keyword("scale") is not None:
            steps.append(FloatData(parser.parse_float()))
        return StringAttr(kind), IntAttr(bits), ArrayAttr(steps)

    def body(self) -> str:
        text = f"{self.kind.data} {self.bits.data}"
        return text if self.step is None else f"{text} scale {self.step!r}"

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            return list(cls.parse_body(parser))

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.body()}>")

    def verify(self) -> None:
        kinds = [str(k) for k in NumberKind]
        if self.kind.data not in kinds:
            raise VerifyException(f"#vit.format: unknown kind {self.kind.data!r}; expected one of {', '.join(kinds)}")
        bits, kind = self.bits.data, NumberKind(self.kind.data)
        if kind == NumberKind.BINARY and bits != 1:
            raise VerifyException(f"#vit.format: binary values have 1 bit, got {bits}")
        if not 1 <= bits <= 32:
            raise VerifyException(f"#vit.format: bit width must be in 1..32, got {bits}")
        if kind == NumberKind.MIXED:
            if not mixed.MIN_WEIGHT_BITS <= bits <= mixed.MAX_WEIGHT_BITS:
                raise VerifyException(
                    f"#vit.format: mixed weights have {mixed.MIN_WEIGHT_BITS}..{mixed.MAX_WEIGHT_BITS} bits, got {bits}"
                )
            if self.scale.data:
                raise VerifyException("#vit.format: mixed weights take no scale (each row has its own step)")
        if len(self.scale.data) > 1:
            raise VerifyException("#vit.format: one scale at most")
        step = self.step
        if step is not None and not (math.isfinite(step) and step > 0):
            raise VerifyException(f"#vit.format: scale must be finite and > 0, got {step}")


@irdl_attr_definition
class QuantAttr(ParametrizedAttribute):
    """How a compute op multiplies: formats of its weights (`w`) and its input activations (`x`).

    `#vit.quant<w = binary 1, x = int 8>` is a quantized layer (binary weights, 8-bit
    activations; its MACs are additions/subtractions in LUTs); `#vit.quant<w = fixed 16,
    x = fixed 16>` an unquantized one (16-bit fixed point on DSPs). For `vit.matmul`,
    `w` is the format of the second operand (K or V).
    """

    name = "vit.quant"

    weights: FormatAttr
    inputs: FormatAttr

    def __init__(self, weights: FormatAttr, inputs: FormatAttr):
        super().__init__(weights, inputs)

    @property
    def quantized(self) -> bool:
        return self.weights.quantized and self.inputs.quantized

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            parser.parse_keyword("w")
            parser.parse_punctuation("=")
            w = FormatAttr.new(list(FormatAttr.parse_body(parser)))
            parser.parse_punctuation(",")
            parser.parse_keyword("x")
            parser.parse_punctuation("=")
            x = FormatAttr.new(list(FormatAttr.parse_body(parser)))
        return [w, x]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<w = {self.weights.body()}, x = {self.inputs.body()}>")

    def verify(self) -> None:
        if self.inputs.number_kind == NumberKind.MIXED:
            raise VerifyException("#vit.quant: mixed is a weight format; inputs cannot be mixed")

    @property
    def mixed(self) -> bool:
        """Whether the weights are in the mixed fixed-point / power-of-two scheme."""
        return self.weights.number_kind == NumberKind.MIXED


@irdl_attr_definition
class RowSplitAttr(ParametrizedAttribute):
    """Which rows (output channels) of a mixed weight matrix are power of two.

    `#vit.rows<pot 3 of 8, "b0">`: 3 of the 8 rows are power of two, the others fixed
    point; the mask is hex, digit i holding rows 4i..4i+3 (row 4i+b is bit 2^b), as
    `vaqf_compiler.mixed.mask_to_hex` writes it. `assign-pot-rows` sets it.
    """

    name = "vit.rows"

    pot: IntAttr
    rows: IntAttr
    mask: StringAttr

    def __init__(self, pot: int, rows: int, mask: str):
        super().__init__(IntAttr(pot), IntAttr(rows), StringAttr(mask))

    @staticmethod
    def from_mask(mask: Sequence[bool]) -> RowSplitAttr:
        return RowSplitAttr(int(sum(bool(b) for b in mask)), len(mask), mixed.mask_to_hex(np.asarray(mask, bool)))

    @property
    def pot_mask(self) -> np.ndarray:
        """bool [rows]: True for the power-of-two rows."""
        return mixed.hex_to_mask(self.mask.data, self.rows.data)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        def count(what: str) -> IntAttr:
            return IntAttr(parser.parse_integer(allow_boolean=False, allow_negative=False, context_msg=what))

        with parser.in_angle_brackets():
            parser.parse_keyword("pot")
            pot = count(" (power-of-two rows)")
            parser.parse_keyword("of")
            rows = count(" (rows)")
            parser.parse_punctuation(",")
            mask = StringAttr(parser.parse_str_literal(" (the hex row mask)"))
        return [pot, rows, mask]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<pot {self.pot.data} of {self.rows.data}, ")
        printer.print_string_literal(self.mask.data)
        printer.print_string(">")

    def verify(self) -> None:
        pot, rows = self.pot.data, self.rows.data
        if rows < 1:
            raise VerifyException(f"#vit.rows: rows must be >= 1, got {rows}")
        if not 0 <= pot <= rows:
            raise VerifyException(f"#vit.rows: pot must be in 0..{rows}, got {pot}")
        try:
            mask = mixed.hex_to_mask(self.mask.data, rows)
        except ValueError as e:
            raise VerifyException(f"#vit.rows: {e}") from None
        if int(mask.sum()) != pot:
            raise VerifyException(f"#vit.rows: the mask has {int(mask.sum())} power-of-two rows, not {pot}")


class Placement(StrEnum):
    HOST = "host"
    ACCEL = "accel"


@irdl_attr_definition
class PlaceAttr(EnumAttribute[Placement], SpacedOpaqueSyntaxAttribute):
    """Where an op runs: `#vit<place host>` (the board's CPU) or `#vit<place accel>` (the FPGA)."""

    name = "vit.place"


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


def verify_fully_connected(
    name: str, input: SSAValue, result: SSAValue, weight: ParamAttr, bias: ParamAttr | None
) -> None:
    """y = x W^T + b over the last axis, W [out, in...] flattened row-major to [out, in]."""
    x = _shape(input, f"{name} input", (1, 2))
    y = _shape(result, f"{name} result", (1, 2))
    ws = weight.shape
    _expect(len(ws) >= 2, f"{name} weight must be [out, in...], got {list(ws)}")
    in_features = math.prod(ws[1:])
    _expect(x[-1] == in_features, f"{name}: input has {x[-1]} features but weight {list(ws)} expects {in_features}")
    _expect(y == x[:-1] + (ws[0],), f"{name} result must be {list(x[:-1] + (ws[0],))}, got {list(y)}")
    if bias is not None:
        _expect(bias.shape == (ws[0],), f"{name} bias must be [{ws[0]}], got {list(bias.shape)}")


def verify_head_matmul(name: str, lhs: SSAValue, rhs: SSAValue, result: SSAValue, transpose_b: bool) -> int:
    """[H, N, K] x [H, K, M] (or [H, M, K] with transpose_b) -> [H, N, M]; returns H."""
    h, n, k = _shape(lhs, f"{name} lhs", 3)
    b = _shape(rhs, f"{name} rhs", 3)
    r = _shape(result, f"{name} result", 3)
    bh, bk, bm = (b[0], b[2], b[1]) if transpose_b else b
    _expect(bh == h, f"{name}: lhs has {h} heads but rhs has {bh}")
    _expect(bk == k, f"{name}: contraction sizes differ (lhs {k}, rhs {bk})")
    _expect(r == (h, n, bm), f"{name} result must be {[h, n, bm]}, got {list(r)}")
    return h


def verify_row_split(name: str, quant: QuantAttr | None, rows: RowSplitAttr | None, out_features: int) -> None:
    """`rows` only with mixed weights, one entry per output channel."""
    if rows is None:
        return
    _expect(quant is not None and quant.mixed, f"{name}: `rows` needs mixed weights (quant w = mixed k)")
    _expect(
        rows.rows.data == out_features,
        f"{name}: `rows` describes {rows.rows.data} rows but the weight has {out_features}",
    )


def _props(**props: Attribute | None) -> dict[str, Attribute]:
    """An op's properties, leaving out optional ones given as None."""
    return {k: v for k, v in props.items() if v is not None}


def tensor(*shape: int) -> TensorType:
    """An f32 tensor type: every activation in the float graph is f32."""
    return TensorType(f32, list(shape))


# Decisions of the passes, optional on every op: the storage format of the result
# (`mark-quantization`) and where the op runs (`partition-host-accel`).
ANNOTATIONS = "(`out` qualified($out)^)? (`on` $place^)?"


class VitOp(IRDLOperation):
    """Base of the dialect's ops: the pass annotations, and the parameters an op references."""

    out = opt_prop_def(FormatAttr)
    place = opt_prop_def(PlaceAttr)

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
    quant = opt_prop_def(QuantAttr)
    stride = prop_def(DenseArrayBase.constr(i64))
    padding = prop_def(DenseArrayBase.constr(i64))
    traits = traits_def(Pure())
    assembly_format = (
        "$input `weight` qualified($weight) (`bias` qualified($bias)^)? `stride` qualified($stride) `padding` qualified($padding)"
        " (`quant` qualified($quant)^)? " + ANNOTATIONS + " attr-dict `:` type($input) `->` type($result)"
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
        c, h, w = _shape(self.input, f"{self.name} input", 3)
        n, d = _shape(self.result, f"{self.name} result", 2)
        ws = self.weight.shape
        _expect(len(ws) == 4, f"{self.name} weight must be [out, in, kh, kw], got {list(ws)}")
        _expect(ws[1] == c, f"{self.name} weight has {ws[1]} input channels but the image has {c}")
        _expect(ws[0] == d, f"{self.name} weight has {ws[0]} output channels but the result has {d}")
        if self.bias is not None:
            _expect(self.bias.shape == (d,), f"{self.name} bias must be [{d}], got {list(self.bias.shape)}")
        sh, sw = _pair(self.stride, f"{self.name} stride")
        ph, pw = _pair(self.padding, f"{self.name} padding")
        _expect(sh > 0 and sw > 0, f"{self.name} stride must be > 0")
        _expect(ph >= 0 and pw >= 0, f"{self.name} padding must be >= 0")
        kh, kw = ws[2], ws[3]
        oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        _expect(oh > 0 and ow > 0, f"{self.name} kernel {kh}x{kw} is larger than the padded image {h}x{w}")
        _expect(n == oh * ow, f"{self.name} produces {oh}x{ow}={oh * ow} patches but the result has {n} tokens")
        _expect(
            self.quant is None or not self.quant.mixed,
            f"{self.name}: mixed weights are for FC layers (vit.linear); fold-patch-embed first",
        )


class PatchifyBase(VitOp):
    """Cut the image into non-overlapping patches, each flattened in (channel, row, col) order.

    `%p = vit.patchify %img patch array<i64: 16, 16> : tensor<3x224x224xf32> -> tensor<196x768xf32>`
    """

    input = operand_def(TensorType)
    result = result_def(TensorType)
    patch = prop_def(DenseArrayBase.constr(i64))
    traits = traits_def(Pure())
    assembly_format = "$input `patch` qualified($patch) " + ANNOTATIONS + " attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, patch: Sequence[int], result_type: Attribute):
        super().__init__(operands=[input], result_types=[result_type], properties={"patch": _i64_pair(patch)})

    def verify_(self) -> None:
        c, h, w = _shape(self.input, f"{self.name} input", 3)
        n, k = _shape(self.result, f"{self.name} result", 2)
        ph, pw = _pair(self.patch, f"{self.name} patch")
        _expect(ph > 0 and pw > 0, f"{self.name} patch must be > 0")
        _expect(h % ph == 0 and w % pw == 0, f"{self.name}: image {h}x{w} is not a multiple of patch {ph}x{pw}")
        want = ((h // ph) * (w // pw), c * ph * pw)
        _expect((n, k) == want, f"{self.name} result must be {want[0]}x{want[1]}, got {n}x{k}")


@irdl_op_definition
class PatchifyOp(PatchifyBase):
    name = "vit.patchify"


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
    quant = opt_prop_def(QuantAttr)
    rows = opt_prop_def(RowSplitAttr)  # mixed weights: which rows are power of two (assign-pot-rows)
    traits = traits_def(Pure())
    assembly_format = (
        "$input `weight` qualified($weight) (`bias` qualified($bias)^)? (`quant` qualified($quant)^)?"
        " (`rows` qualified($rows)^)? "
        + ANNOTATIONS
        + " attr-dict"
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
        verify_fully_connected(self.name, self.input, self.result, self.weight, self.bias)
        verify_row_split(self.name, self.quant, self.rows, self.out_features)


class LayerNormBase(VitOp):
    """Layer normalisation over the last axis, with optional affine parameters.

    `%y = vit.layer_norm %x weight #vit.param<"ln.weight", [192]> bias #vit.param<"ln.bias", [192]>
          eps 1.000000e-06 : f64 : tensor<197x192xf32> -> tensor<197x192xf32>`
    """

    input = operand_def(TensorType)
    result = result_def(TensorType)
    weight = opt_prop_def(ParamAttr)
    bias = opt_prop_def(ParamAttr)
    eps = prop_def(FloatAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$input (`weight` qualified($weight)^)? (`bias` qualified($bias)^)? `eps` $eps " + ANNOTATIONS + " attr-dict"
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
        x = _shape(self.input, f"{self.name} input", (1, 2))
        _expect(self.result.type == self.input.type, f"{self.name} result type must equal its input type")
        for what, p in (("weight", self.weight), ("bias", self.bias)):
            if p is not None:
                _expect(p.shape == (x[-1],), f"{self.name} {what} must be [{x[-1]}], got {list(p.shape)}")
        eps = self.eps.value.data
        _expect(math.isfinite(eps) and eps > 0, f"{self.name} eps must be finite and > 0, got {eps}")


@irdl_op_definition
class LayerNormOp(LayerNormBase):
    name = "vit.layer_norm"


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
    quant = opt_prop_def(QuantAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$lhs `,` $rhs (`transpose_b` $transpose_b^)? (`quant` qualified($quant)^)? " + ANNOTATIONS + " attr-dict"
        " `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)"
    )

    def __init__(
        self, lhs: SSAValue | Operation, rhs: SSAValue | Operation, transpose_b: bool, result_type: Attribute
    ):
        props = _props(transpose_b=UnitAttr() if transpose_b else None)
        super().__init__(operands=[lhs, rhs], result_types=[result_type], properties=props)

    def verify_(self) -> None:
        verify_head_matmul(self.name, self.lhs, self.rhs, self.result, self.transpose_b is not None)
        _expect(self.quant is None or not self.quant.mixed, f"{self.name}: both operands are activations, not mixed")


class _UnaryOp(VitOp):
    """Shape-preserving op on one f32 tensor."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())

    def verify_(self) -> None:
        _shape(self.input, f"{self.name} input", (1, 2, 3))
        _expect(self.result.type == self.input.type, f"{self.name} result type must equal its input type")


class SoftmaxBase(_UnaryOp):
    """Softmax over the last axis.  `%p = vit.softmax %s : tensor<3x197x197xf32> -> tensor<3x197x197xf32>`"""

    assembly_format = "$input " + ANNOTATIONS + " attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation):
        super().__init__(operands=[input], result_types=[SSAValue.get(input).type])


@irdl_op_definition
class SoftmaxOp(SoftmaxBase):
    name = "vit.softmax"


class GeluBase(_UnaryOp):
    """GELU, exact (erf) or with the `tanh` approximation.

    `%g = vit.gelu %h : tensor<197x768xf32> -> tensor<197x768xf32>`
    """

    tanh = opt_prop_def(UnitAttr)
    assembly_format = "$input (`tanh` $tanh^)? " + ANNOTATIONS + " attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, tanh: bool = False):
        props = _props(tanh=UnitAttr() if tanh else None)
        super().__init__(operands=[input], result_types=[SSAValue.get(input).type], properties=props)


@irdl_op_definition
class GeluOp(GeluBase):
    name = "vit.gelu"


class ScaleBase(_UnaryOp):
    """Multiply by a constant (the 1/sqrt(d) of attention).

    `%y = vit.scale %s by 1.250000e-01 : f64 : tensor<3x197x197xf32> -> tensor<3x197x197xf32>`
    """

    factor = prop_def(FloatAttr)
    assembly_format = "$input `by` $factor " + ANNOTATIONS + " attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, factor: float):
        super().__init__(
            operands=[input], result_types=[SSAValue.get(input).type], properties={"factor": _f64(factor)}
        )

    def verify_(self) -> None:
        super().verify_()
        _expect(math.isfinite(self.factor.value.data), f"{self.name} factor must be finite")


@irdl_op_definition
class ScaleOp(ScaleBase):
    name = "vit.scale"


class AddBase(VitOp):
    """Residual addition of two activations of the same type.

    `%y = vit.add %a, %b : tensor<197x192xf32>`
    """

    T: ClassVar = VarConstraint("T", base(TensorType))
    lhs = operand_def(T)
    rhs = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs " + ANNOTATIONS + " attr-dict `:` type($result)"

    def __init__(self, lhs: SSAValue | Operation, rhs: SSAValue | Operation):
        super().__init__(operands=[lhs, rhs], result_types=[SSAValue.get(lhs).type])

    def verify_(self) -> None:
        _shape(self.lhs, f"{self.name} lhs", (1, 2, 3))
        _expect(
            self.lhs.type == self.rhs.type == self.result.type,
            f"{self.name} operands and result must have one type, got {self.lhs.type}, {self.rhs.type}"
            f" -> {self.result.type}",
        )


@irdl_op_definition
class AddOp(AddBase):
    name = "vit.add"


class ClsConcatBase(VitOp):
    """Prepend learned tokens (CLS, and DeiT's distillation token) to the patch tokens.

    `%t = vit.cls_concat %x tokens [#vit.param<"cls_token", [1, 1, 192]>]
          : tensor<196x192xf32> -> tensor<197x192xf32>`
    """

    input = operand_def(TensorType)
    result = result_def(TensorType)
    tokens = prop_def(ArrayAttr[ParamAttr])
    traits = traits_def(Pure())
    assembly_format = "$input `tokens` $tokens " + ANNOTATIONS + " attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, tokens: Sequence[ParamAttr], result_type: Attribute):
        super().__init__(operands=[input], result_types=[result_type], properties={"tokens": ArrayAttr(tokens)})

    def verify_(self) -> None:
        n, d = _shape(self.input, f"{self.name} input", 2)
        r = _shape(self.result, f"{self.name} result", 2)
        _expect(len(self.tokens.data) > 0, f"{self.name} needs at least one token")
        for tok in self.tokens.data:
            _expect(tok.numel == d, f"{self.name} token {tok.key!r} has {tok.numel} values, expected {d}")
        k = len(self.tokens.data)
        _expect(r == (n + k, d), f"{self.name} result must be {[n + k, d]}, got {list(r)}")


@irdl_op_definition
class ClsConcatOp(ClsConcatBase):
    name = "vit.cls_concat"


class PosEmbedAddBase(VitOp):
    """Add the learned position embedding.

    `%y = vit.pos_embed_add %x pos #vit.param<"pos_embed", [1, 197, 192]> : tensor<197x192xf32>`
    """

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    pos = prop_def(ParamAttr)
    traits = traits_def(Pure())
    assembly_format = "$input `pos` qualified($pos) " + ANNOTATIONS + " attr-dict `:` type($result)"

    def __init__(self, input: SSAValue | Operation, pos: ParamAttr):
        super().__init__(operands=[input], result_types=[SSAValue.get(input).type], properties={"pos": pos})

    def verify_(self) -> None:
        n, d = _shape(self.input, f"{self.name} input", 2)
        _expect(self.result.type == self.input.type, f"{self.name} result type must equal its input type")
        _expect(
            self.pos.numel == n * d,
            f"{self.name}: embedding {self.pos.key!r} {list(self.pos.shape)} does not cover {n}x{d} tokens",
        )


@irdl_op_definition
class PosEmbedAddOp(PosEmbedAddBase):
    name = "vit.pos_embed_add"


class SplitHeadsBase(VitOp):
    """Take part `part` of `parts` equal slices of the features and split it into heads.

    For a fused QKV projection, Q is part 0 of 3; for a separate projection, part 0 of 1.
    `%q = vit.split_heads %qkv heads 3 part 0 of 3 : tensor<197x576xf32> -> tensor<3x197x64xf32>`
    """

    input = operand_def(TensorType)
    result = result_def(TensorType)
    heads = prop_def(IntegerAttr[I64])
    part = prop_def(IntegerAttr[I64])
    parts = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = (
        "$input `heads` $heads `part` $part `of` $parts " + ANNOTATIONS + " attr-dict `:` type($input) `->` type($result)"
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
        n, f = _shape(self.input, f"{self.name} input", 2)
        r = _shape(self.result, f"{self.name} result", 3)
        h, p, ps = self.heads.value.data, self.part.value.data, self.parts.value.data
        _expect(h > 0, f"{self.name} heads must be > 0, got {h}")
        _expect(ps > 0 and 0 <= p < ps, f"{self.name} part {p} of {ps} is out of range")
        _expect(f % (ps * h) == 0, f"{self.name}: {f} features do not split into {ps} parts of {h} heads")
        want = (h, n, f // (ps * h))
        _expect(r == want, f"{self.name} result must be {list(want)}, got {list(r)}")


@irdl_op_definition
class SplitHeadsOp(SplitHeadsBase):
    name = "vit.split_heads"


class MergeHeadsBase(VitOp):
    """Concatenate the heads back into features: [H, N, d] -> [N, H*d].

    `%y = vit.merge_heads %o : tensor<3x197x64xf32> -> tensor<197x192xf32>`
    """

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input " + ANNOTATIONS + " attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, result_type: Attribute):
        super().__init__(operands=[input], result_types=[result_type])

    def verify_(self) -> None:
        h, n, d = _shape(self.input, f"{self.name} input", 3)
        r = _shape(self.result, f"{self.name} result", 2)
        _expect(r == (n, h * d), f"{self.name} result must be {[n, h * d]}, got {list(r)}")


@irdl_op_definition
class MergeHeadsOp(MergeHeadsBase):
    name = "vit.merge_heads"


class SelectTokenBase(VitOp):
    """Pick one token (the CLS token for classification): [N, D] -> [D].

    `%c = vit.select_token %x index 0 : tensor<197x192xf32> -> tensor<192xf32>`
    """

    input = operand_def(TensorType)
    result = result_def(TensorType)
    index = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$input `index` $index " + ANNOTATIONS + " attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, index: int, result_type: Attribute):
        super().__init__(operands=[input], result_types=[result_type], properties={"index": IntegerAttr(index, i64)})

    def verify_(self) -> None:
        n, d = _shape(self.input, f"{self.name} input", 2)
        r = _shape(self.result, f"{self.name} result", 1)
        i = self.index.value.data
        _expect(0 <= i < n, f"{self.name} index {i} is out of range for {n} tokens")
        _expect(r == (d,), f"{self.name} result must be [{d}], got {list(r)}")


@irdl_op_definition
class SelectTokenOp(SelectTokenBase):
    name = "vit.select_token"


class MeanPoolBase(VitOp):
    """Average over the tokens (mean pooling for classification): [N, D] -> [D], from token `first`
    (default 0; `from 1` skips a CLS token, as BEiT's and timm's `x[:, 1:].mean(1)`).

    `%m = vit.mean_pool %x : tensor<196x192xf32> -> tensor<192xf32>`
    `%m = vit.mean_pool %x from 1 : tensor<197x192xf32> -> tensor<192xf32>`

    Integer semantics (docs/quantization.md, "Mean pooling"): the exact sum of
    the N − first codes of each feature, rescaled once by step_in / ((N − first) · step_out).
    """

    input = operand_def(TensorType)
    result = result_def(TensorType)
    first = opt_prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$input (`from` $first^)? " + ANNOTATIONS + " attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, result_type: Attribute, first: int = 0):
        props = _props(first=IntegerAttr(first, i64) if first else None)
        super().__init__(operands=[input], result_types=[result_type], properties=props)

    @property
    def first_token(self) -> int:
        return self.first.value.data if self.first is not None else 0

    def verify_(self) -> None:
        n, d = _shape(self.input, f"{self.name} input", 2)
        r = _shape(self.result, f"{self.name} result", 1)
        _expect(r == (d,), f"{self.name} result must be [{d}], got {list(r)}")
        k = self.first_token
        _expect(0 <= k < n, f"{self.name}: first token {k} is out of range for {n} tokens")


@irdl_op_definition
class MeanPoolOp(MeanPoolBase):
    name = "vit.mean_pool"


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
    MeanPoolOp,
)

# Module-level discardable attributes: the sidecar file (relative to the .mlir) and its checksum.
WEIGHTS_ATTR = "vit.weights"
WEIGHTS_SHA256_ATTR = "vit.weights_sha256"

Vit = Dialect("vit", list(VIT_OPS), [ParamAttr, FormatAttr, QuantAttr, RowSplitAttr, PlaceAttr])
