"""The `accel` dialect: the VAQF accelerator and its host, as the HLS backend sees them.

`lower-to-accel` produces it from an annotated `vit` module. It models the
paper's design (Section V): one shared compute engine (`accel.engine`) runs
every FC layer and both matrix products of multi-head attention, reading its
operands from DDR through one of two activation streams (`accel.load`: the
16-bit stream of layer-norm inputs and other unquantized data, or the packed
k-bit stream of quantized FC inputs) and writing its result back
(`accel.store`). Layer norm and the residual additions also run on the FPGA;
scaling, softmax and GELU run where `partition-host-accel` placed them
(`on host` by default, as in the paper); the rest is host glue around the
engine (patchify, token concat, position embedding, CLS select). Head split
and merge are views: the engine addresses the heads of a buffer directly.

Tensor types stay `tensor<...xf32>`: they give shapes; storage formats are the
`#vit.format` properties, tiling and packing are added by `assign-tiling`.

    %x = accel.load %ln stream quantized format #vit.format<int 8> : tensor<197x192xf32> -> tensor<197x192xf32>
    %y = accel.engine fc %x weight #vit.param<"blocks.0.attn.qkv.weight", [576, 192]>
           quant #vit.quant<w = binary 1, x = int 8> out #vit.format<int 8>
           : (tensor<197x192xf32>) -> tensor<197x576xf32>
    %s = accel.store %y format #vit.format<int 8> : tensor<197x576xf32> -> tensor<197x576xf32>
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from xdsl.dialects.builtin import I64, IntAttr, IntegerAttr, TensorType, UnitAttr, i64
from xdsl.dialects.utils import EnumAttribute
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SpacedOpaqueSyntaxAttribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from vaqf_compiler.dialects import vit


class Stream(StrEnum):
    """The two activation streams of the accelerator (paper, Section V-B1)."""

    UNQUANTIZED = "unquantized"  # 16-bit fixed point: layer-norm inputs, first and last layer
    QUANTIZED = "quantized"  # packed k-bit codes: inputs of quantized FC layers and attention


@irdl_attr_definition
class StreamAttr(EnumAttribute[Stream], SpacedOpaqueSyntaxAttribute):
    """`#accel<stream quantized>`; in op syntax just `quantized`."""

    name = "accel.stream"


class EngineKind(StrEnum):
    FC = "fc"  # one matrix product with weights: y = x W^T + b
    ATTENTION = "attention"  # per-head products of two activations: Q·Kᵀ or A·V


@irdl_attr_definition
class EngineKindAttr(EnumAttribute[EngineKind], SpacedOpaqueSyntaxAttribute):
    name = "accel.engine_kind"


_TILING_FIELDS = ("tm", "tn", "nh", "g", "ports")


@irdl_attr_definition
class TilingAttr(ParametrizedAttribute):
    """How `assign-tiling` maps an engine layer onto its MAC array.

    `#accel.tiling<tm = 336, tn = 16, nh = 1, g = 8, ports = 2>`: `tm` output x `tn`
    input channels per step (`tn` split in `nh` head or channel groups), operands
    packed `g` per AXI word, `ports` AXI ports per stream. Optional, printed only
    when non-zero: `dsp_lanes = N`: N of the `tm` output lanes are idle DSPs helping a
    binary-weight layer; `pot_tm = N`: an FC layer with mixed weights runs its
    power-of-two rows on a shift-add array of N output x `tn` input channels beside
    the `tm` x `tn` DSP array that runs its fixed-point rows (docs/cost-model.md).
    """

    name = "accel.tiling"

    tm: IntAttr
    tn: IntAttr
    nh: IntAttr
    g: IntAttr
    ports: IntAttr
    dsp_lanes: IntAttr
    pot_tm: IntAttr

    def __init__(self, tm: int, tn: int, nh: int, g: int, ports: int, dsp_lanes: int = 0, pot_tm: int = 0):
        super().__init__(*(IntAttr(v) for v in (tm, tn, nh, g, ports, dsp_lanes, pot_tm)))

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        def field(key: str) -> IntAttr:
            parser.parse_keyword(key)
            parser.parse_punctuation("=")
            return IntAttr(parser.parse_integer(allow_boolean=False, allow_negative=False))

        with parser.in_angle_brackets():
            values = [field(_TILING_FIELDS[0])]
            for key in _TILING_FIELDS[1:]:
                parser.parse_punctuation(",")
                values.append(field(key))
            extra = {"dsp_lanes": IntAttr(0), "pot_tm": IntAttr(0)}
            seen: list[str] = []
            while parser.parse_optional_punctuation(","):
                key = parser.parse_optional_keyword("dsp_lanes") or parser.parse_optional_keyword("pot_tm")
                if key is None or key in seen or (seen and key == "dsp_lanes"):
                    parser.raise_error("expected dsp_lanes or pot_tm (at most once each, in this order) after ports")
                seen.append(key)
                parser.parse_punctuation("=")
                extra[key] = IntAttr(parser.parse_integer(allow_boolean=False, allow_negative=False))
        return [*values, *extra.values()]

    def print_parameters(self, printer: Printer) -> None:
        body = ", ".join(f"{key} = {getattr(self, key).data}" for key in _TILING_FIELDS)
        extra = "".join(f", {key} = {getattr(self, key).data}" for key in ("dsp_lanes", "pot_tm")
                        if getattr(self, key).data)
        printer.print_string(f"<{body}{extra}>")

    def verify(self) -> None:
        for key in _TILING_FIELDS:
            if getattr(self, key).data < 1:
                raise VerifyException(f"#accel.tiling: {key} must be >= 1, got {getattr(self, key).data}")
        if self.tn.data % self.nh.data:
            raise VerifyException(f"#accel.tiling: tn = {self.tn.data} must be a multiple of nh = {self.nh.data}")
        if not 0 <= self.dsp_lanes.data <= self.tm.data:
            raise VerifyException(f"#accel.tiling: dsp_lanes = {self.dsp_lanes.data} must be in 0..tm")
        if self.dsp_lanes.data and self.pot_tm.data:
            raise VerifyException("#accel.tiling: dsp_lanes (binary weights) and pot_tm (mixed weights) exclude each other")


def _same_type(op: Operation, a: SSAValue, b: SSAValue) -> None:
    if a.type != b.type:
        raise VerifyException(f"{op.name}: result type {b.type} must equal operand type {a.type}")


@irdl_op_definition
class LoadOp(IRDLOperation):
    """Read a DDR buffer into the engine's on-chip tiles through one of the two streams."""

    name = "accel.load"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    stream = prop_def(StreamAttr)
    format = prop_def(vit.FormatAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$input `stream` $stream `format` qualified($format) attr-dict `:` type($input) `->` type($result)"
    )

    def __init__(self, input: SSAValue | Operation, stream: Stream, format: vit.FormatAttr):
        super().__init__(
            operands=[input],
            result_types=[SSAValue.get(input).type],
            properties={"stream": StreamAttr(stream), "format": format},
        )

    def verify_(self) -> None:
        _same_type(self, self.input, self.result)
        quantized = self.stream.data == Stream.QUANTIZED
        if quantized != self.format.quantized:
            raise VerifyException(
                f"accel.load: {self.format.body()} data cannot use the {self.stream.data} stream"
            )


@irdl_op_definition
class StoreOp(IRDLOperation):
    """Write an engine result from on-chip tiles back to a DDR buffer in `format`."""

    name = "accel.store"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    format = prop_def(vit.FormatAttr)
    traits = traits_def(Pure())
    assembly_format = "$input `format` qualified($format) attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, format: vit.FormatAttr):
        super().__init__(operands=[input], result_types=[SSAValue.get(input).type], properties={"format": format})

    def verify_(self) -> None:
        _same_type(self, self.input, self.result)


@irdl_op_definition
class EngineOp(IRDLOperation):
    """The shared compute engine: an FC layer (`fc`, with weights) or multi-head attention's
    products (`attention`, two activations, `heads` in parallel).

    `quant` says how it multiplies (binary weights × k-bit codes on LUTs, or 16-bit × 16-bit
    on DSPs); `out` the format it stores. `in_quantized`/`out_quantized` read them. An fc
    engine with mixed weights carries `rows` (`#vit.rows`): its power-of-two rows.
    """

    name = "accel.engine"
    lhs = operand_def(TensorType)
    rhs = opt_operand_def(TensorType)
    result = result_def(TensorType)
    kind = prop_def(EngineKindAttr)
    heads = prop_def(IntegerAttr[I64])
    transpose_b = opt_prop_def(UnitAttr)
    weight = opt_prop_def(vit.ParamAttr)
    bias = opt_prop_def(vit.ParamAttr)
    quant = prop_def(vit.QuantAttr)
    out = prop_def(vit.FormatAttr)
    rows = opt_prop_def(vit.RowSplitAttr)  # fc with mixed weights: the power-of-two rows
    tiling = opt_prop_def(TilingAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$kind $lhs (`,` $rhs^)? `heads` $heads (`transpose_b` $transpose_b^)? (`weight` qualified($weight)^)?"
        " (`bias` qualified($bias)^)? `quant` qualified($quant) (`rows` qualified($rows)^)? `out` qualified($out)"
        " (`tiling` qualified($tiling)^)? attr-dict"
        " `:` functional-type(operands, results)"
    )

    def __init__(
        self,
        kind: EngineKind,
        operands: Sequence[SSAValue | Operation],
        result_type: Attribute,
        *,
        heads: int,
        quant: vit.QuantAttr,
        out: vit.FormatAttr,
        weight: vit.ParamAttr | None = None,
        bias: vit.ParamAttr | None = None,
        transpose_b: bool = False,
        rows: vit.RowSplitAttr | None = None,
    ):
        props = vit._props(
            kind=EngineKindAttr(kind),
            heads=IntegerAttr(heads, i64),
            quant=quant,
            out=out,
            weight=weight,
            bias=bias,
            transpose_b=UnitAttr() if transpose_b else None,
            rows=rows,
        )
        lhs, *rhs = operands
        super().__init__(operands=[lhs, rhs], result_types=[result_type], properties=props)

    @property
    def is_attention(self) -> bool:
        return self.kind.data == EngineKind.ATTENTION

    @property
    def in_quantized(self) -> bool:
        return self.quant.quantized

    @property
    def out_quantized(self) -> bool:
        return self.out.quantized

    def verify_(self) -> None:
        heads = self.heads.value.data
        if self.is_attention:
            if self.rhs is None or self.weight is not None or self.bias is not None or self.rows is not None:
                raise VerifyException("accel.engine attention takes two activations and no weights")
            if self.quant.mixed:
                raise VerifyException("accel.engine attention: both operands are activations, not mixed")
            h = vit.verify_head_matmul(self.name, self.lhs, self.rhs, self.result, self.transpose_b is not None)
            if heads != h:
                raise VerifyException(f"accel.engine attention: heads {heads} but the operands have {h}")
        else:
            if self.rhs is not None or self.weight is None or self.transpose_b is not None:
                raise VerifyException("accel.engine fc takes one activation and a weight")
            vit.verify_fully_connected(self.name, self.lhs, self.result, self.weight, self.bias)
            if heads != 1:
                raise VerifyException(f"accel.engine fc: heads must be 1, got {heads}")
            vit.verify_row_split("accel.engine fc", self.quant, self.rows, self.weight.shape[0])


# Ops whose meaning is the `vit` op's; here they are placed (host or FPGA) and formatted.


@irdl_op_definition
class LayerNormOp(vit.LayerNormBase):
    """Layer norm on the FPGA: reads the 16-bit stream, writes `out` (often the k-bit codes)."""

    name = "accel.layer_norm"


@irdl_op_definition
class AddOp(vit.AddBase):
    """Residual addition on the FPGA, 16-bit."""

    name = "accel.add"


@irdl_op_definition
class ScaleOp(vit.ScaleBase):
    name = "accel.scale"


@irdl_op_definition
class SoftmaxOp(vit.SoftmaxBase):
    name = "accel.softmax"


@irdl_op_definition
class GeluOp(vit.GeluBase):
    name = "accel.gelu"


@irdl_op_definition
class PatchifyOp(vit.PatchifyBase):
    name = "accel.patchify"


@irdl_op_definition
class ClsConcatOp(vit.ClsConcatBase):
    name = "accel.cls_concat"


@irdl_op_definition
class PosEmbedAddOp(vit.PosEmbedAddBase):
    name = "accel.pos_embed_add"


@irdl_op_definition
class SelectTokenOp(vit.SelectTokenBase):
    name = "accel.select_token"


@irdl_op_definition
class MeanPoolOp(vit.MeanPoolBase):
    """On the host (vaqf_host.h `mean_pool`): the sum of each feature's codes, rescaled once."""

    name = "accel.mean_pool"


@irdl_op_definition
class SplitHeadsOp(vit.SplitHeadsBase):
    """A view: the engine reads heads of the buffer by address, nothing moves."""

    name = "accel.split_heads"


@irdl_op_definition
class MergeHeadsOp(vit.MergeHeadsBase):
    """A view: the engine writes or reads heads in place."""

    name = "accel.merge_heads"


# accel op -> the vit op it stands for (same operands, properties and meaning).
MIRRORED: dict[type[IRDLOperation], type[IRDLOperation]] = {
    LayerNormOp: vit.LayerNormOp,
    AddOp: vit.AddOp,
    ScaleOp: vit.ScaleOp,
    SoftmaxOp: vit.SoftmaxOp,
    GeluOp: vit.GeluOp,
    PatchifyOp: vit.PatchifyOp,
    ClsConcatOp: vit.ClsConcatOp,
    PosEmbedAddOp: vit.PosEmbedAddOp,
    SelectTokenOp: vit.SelectTokenOp,
    MeanPoolOp: vit.MeanPoolOp,
    SplitHeadsOp: vit.SplitHeadsOp,
    MergeHeadsOp: vit.MergeHeadsOp,
}

Accel = Dialect(
    "accel",
    [LoadOp, StoreOp, EngineOp, *MIRRORED],
    [StreamAttr, EngineKindAttr, TilingAttr],
)
