"""What the accelerator has to compute, read off a lowered (`accel`) module.

The cost model never looks at IR again after this: a `Workload` is a list of
engine layers (every `accel.engine`) and streaming layers (the element-wise
ops placed `on accel`), with identical layers merged and counted. Operand
formats are kept *symbolically*: a quantized activation (`int k` / `uint k`)
becomes `CODE`, whose width is the activation precision the model is asked
about, so one extraction serves every precision the search tries (the module
was lowered with some `abits`; which one does not matter).
Mixed-scheme weights (`#vit.format<mixed k>`) become `Mixed(k)`, with the
power-of-two row count of `#vit.rows` when the IR has it; `as_mixed` reads a
VAQF lowering as the mixed scheme, `as_binary` the reverse.

Ops placed `on host` (scale, softmax, GELU by default; patchify, token
concat, position embedding, CLS select) are kept as `host` layers with their
sizes: `cost/host.py` charges the board's CPU for them, and `placed()` moves
the movable kinds (scale, softmax, GELU) between host and FPGA to compare.

What is ignored, on purpose (see docs/cost-model.md):
- `accel.split_heads`/`accel.merge_heads`: views, nothing moves;
- `accel.load`/`accel.store`: their traffic is part of the engine layer's
  model (tile loads and stores).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation, SSAValue

from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.dialects.vit import FormatAttr, NumberKind, Placement
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe

# Symbolic operand formats: a width, or CODE (the activation precision k) or BINARY (1 bit, ±1),
# or Mixed(k): k-bit weights of the mixed scheme (fixed-point rows on DSPs, power-of-two rows on LUTs).
CODE = "code"
BINARY = "binary"


@dataclass(frozen=True)
class Mixed:
    """Weights of the mixed fixed-point / power-of-two scheme, `bits` per stored code (docs/cost-model.md)."""

    bits: int


Fmt = int | str | Mixed  # 16 (fixed point), CODE, BINARY, Mixed(k)


def fmt_of(attr: FormatAttr) -> Fmt:
    """A storage format as the model sees it: binary weights, k-bit codes, mixed weights, or a fixed width."""
    kind = attr.number_kind
    if kind == NumberKind.BINARY:
        return BINARY
    if kind in (NumberKind.INT, NumberKind.UINT):
        return CODE
    if str(kind) == "mixed":
        return Mixed(attr.bits.data)
    return attr.bits.data


def bits_of(fmt: Fmt, k: int) -> int:
    """The width of `fmt` when activations have `k` bits."""
    if fmt == CODE:
        return k
    if fmt == BINARY:
        return 1
    if isinstance(fmt, Mixed):
        return fmt.bits
    assert isinstance(fmt, int)
    return fmt


@dataclass(frozen=True)
class EngineLayer:
    """One `accel.engine`: `heads` products of [tokens x cin] by [cin x cout] (per head).

    `x`, `w`, `y`: formats of the input activation, the weight (or the second
    activation of an attention product) and the result. `rhs_packed_along_out`:
    the second operand is stored with the output dimension contiguous (A·V),
    so its packing runs along `cout`, not `cin`.
    """

    kind: str  # "fc" | "attention"
    tokens: int
    cin: int
    cout: int
    heads: int
    x: Fmt
    w: Fmt
    y: Fmt
    rhs_packed_along_out: bool = False
    # Mixed weights: how many rows (output channels) are power of two, when the IR says (`#vit.rows`);
    # None: not assigned yet, the design's PoT ratio decides (`mixed.pot_count`).
    pot_rows: int | None = None

    @property
    def binary(self) -> bool:
        """Binary weights: its MACs are additions/subtractions, done by the LUT array."""
        return self.w == BINARY

    @property
    def mixed(self) -> bool:
        """Mixed weights: fixed-point rows on the DSP array, power-of-two rows on the shift-add array."""
        return isinstance(self.w, Mixed)

    @property
    def macs(self) -> int:
        return self.heads * self.tokens * self.cin * self.cout


@dataclass(frozen=True)
class StreamLayer:
    """An element-wise op on the FPGA (layer norm, residual add, …): streams `elements` values."""

    kind: str  # the accel op name without the dialect, e.g. "layer_norm"
    elements: int
    row: int  # elements per token (layer norm reads a row before normalising it)
    inputs: tuple[Fmt, ...]
    y: Fmt


@dataclass(frozen=True)
class Workload:
    """The engine and streaming layers of a model, each with how many times it occurs."""

    engine: tuple[tuple[EngineLayer, int], ...]
    stream: tuple[tuple[StreamLayer, int], ...]
    host: tuple[tuple[StreamLayer, int], ...] = field(default=())  # ops placed on the host CPU
    name: str = "model"
    image_elements: int = 0  # values of the input image (the host quantizes it every frame)

    @property
    def host_ops(self) -> tuple[tuple[str, int], ...]:
        """(`accel.<kind>`, occurrences) of the host-placed ops, sorted."""
        counts: Counter = Counter()
        for layer, n in self.host:
            counts[f"accel.{layer.kind}"] += n
        return tuple(sorted(counts.items()))

    @property
    def kernel_calls(self) -> int:
        """Kernel calls per frame: every engine layer and every element-wise op on the FPGA."""
        return sum(n for _, n in self.engine) + sum(n for _, n in self.stream)

    def placed(self, on_accel: frozenset[str] | set[str], movable: tuple[str, ...]) -> Workload:
        """The same model with the `movable` kinds in `on_accel` on the FPGA and the others on the host."""
        def fpga(kind: str, now_on_fpga: bool) -> bool:
            return kind in on_accel if kind in movable else now_on_fpga

        layers = [(lay, n, True) for lay, n in self.stream] + [(lay, n, False) for lay, n in self.host]
        stream = tuple((lay, n) for lay, n, side in layers if fpga(lay.kind, side))
        host = tuple((lay, n) for lay, n, side in layers if not fpga(lay.kind, side))
        return replace(self, stream=_merge(stream), host=_merge(host))

    @property
    def heads(self) -> int:
        """The attention head count (1 when the model has no attention on the engine)."""
        hs = {layer.heads for layer, _ in self.engine if layer.kind == "attention"}
        if len(hs) > 1:
            raise VaqfError(f"{self.name}: attention layers with different head counts {sorted(hs)}")
        return hs.pop() if hs else 1

    @property
    def has_binary(self) -> bool:
        return any(layer.binary for layer, _ in self.engine)

    @property
    def has_mixed(self) -> bool:
        return any(layer.mixed for layer, _ in self.engine)

    @property
    def mixed_bits(self) -> int | None:
        """The weight width of the mixed layers (one per model), None without mixed layers."""
        ks = {layer.w.bits for layer, _ in self.engine if isinstance(layer.w, Mixed)}
        if len(ks) > 1:
            raise VaqfError(f"{self.name}: mixed weights of different widths {sorted(ks)}; the engine has one")
        return ks.pop() if ks else None

    @property
    def max_tokens(self) -> int:
        return max((layer.tokens for layer, _ in self.engine), default=1)

    @property
    def max_cin(self) -> int:
        return max((layer.cin for layer, _ in self.engine), default=1)

    def macs(self, binary: bool | None = None) -> int:
        return sum(n * layer.macs for layer, n in self.engine if binary is None or layer.binary == binary)

    def unquantized(self) -> Workload:
        """The same model with every operand 16-bit fixed point (the baseline W16A16 design)."""
        engine = tuple(
            (EngineLayer(lay.kind, lay.tokens, lay.cin, lay.cout, lay.heads, 16, 16, 16, lay.rhs_packed_along_out), n)
            for lay, n in self.engine
        )
        stream = tuple(
            (StreamLayer(s.kind, s.elements, s.row, tuple(16 for _ in s.inputs), 16), n) for s, n in self.stream
        )
        return replace(self, engine=_merge(engine), stream=_merge(stream), name=self.name + " (W16A16)")

    def as_mixed(self, wbits: int) -> Workload:
        """The same model in the mixed scheme: every binary- or mixed-weight layer gets `wbits`-bit mixed
        weights, its row split left to the design (how `vaqf dse --scheme mixed` reads a VAQF lowering)."""
        engine = tuple(
            (replace(lay, w=Mixed(wbits), pot_rows=None) if lay.binary or lay.mixed else lay, n)
            for lay, n in self.engine
        )
        name = self.name.removesuffix(" (mixed)") + " (mixed)"
        return replace(self, engine=_merge(engine), name=name)

    def as_binary(self) -> Workload:
        """The same model in the VAQF scheme: every mixed-weight layer gets binary weights."""
        engine = tuple((replace(lay, w=BINARY, pot_rows=None) if lay.mixed else lay, n) for lay, n in self.engine)
        return replace(self, engine=_merge(engine), name=self.name.removesuffix(" (mixed)"))


def _merge(items) -> tuple:
    counts: Counter = Counter()
    for item, n in items:
        counts[item] += n
    return tuple(counts.items())


def _shape(value: SSAValue) -> tuple[int, ...]:
    t = value.type
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def _producer_format(value: SSAValue) -> Fmt:
    """How `value` is stored in DDR: its producer's `out` (function arguments: 16-bit)."""
    owner = value.owner
    if isinstance(owner, accel.LoadOp | accel.StoreOp):
        return fmt_of(owner.format)
    out = getattr(owner, "out", None) if isinstance(owner, Operation) else None
    return fmt_of(out) if isinstance(out, FormatAttr) else 16


def engine_layer(op: accel.EngineOp) -> EngineLayer:
    x, w, y = fmt_of(op.quant.inputs), fmt_of(op.quant.weights), fmt_of(op.out)
    lhs, res = _shape(op.lhs), _shape(op.result)
    if op.is_attention:
        assert op.rhs is not None
        heads, tokens, cin = lhs
        cout = res[-1]
        return EngineLayer("attention", tokens, cin, cout, heads, x, w, y, rhs_packed_along_out=op.transpose_b is None)
    tokens = lhs[0] if len(lhs) == 2 else 1
    rows = getattr(op, "rows", None)  # `#vit.rows` of a mixed-weight engine, once assign-pot-rows ran
    pot = rows.pot.data if isinstance(w, Mixed) and rows is not None else None
    return EngineLayer("fc", tokens, lhs[-1], res[-1], 1, x, w, y, pot_rows=pot)


def stream_layer(op: vit.VitOp) -> StreamLayer:
    res = _shape(op.results[0])
    out = op.out
    y = fmt_of(out) if isinstance(out, FormatAttr) else 16
    inputs = tuple(_producer_format(v) for v in op.operands)
    kind = op.name.removeprefix("accel.")
    # A reduction's work is its input (mean pooling reads every token); element-wise ops keep their size.
    elements = math.prod(_shape(op.operands[0])) if kind == "mean_pool" else math.prod(res)
    return StreamLayer(kind, elements, res[-1] if res else 1, inputs, y)


# Ops that are views or whose traffic the engine layer already counts.
STREAM_FREE = (accel.LoadOp, accel.StoreOp, accel.SplitHeadsOp, accel.MergeHeadsOp)


def extract_workload(module: ModuleOp, name: str = "model") -> Workload:
    """The workload of a lowered module; a `VaqfError` naming the op if it is not lowered."""
    engine: Counter = Counter()
    stream: Counter = Counter()
    host: Counter = Counter()
    seen_function = False
    image = 0
    for op in module.walk():
        if isinstance(op, func.FuncOp):
            if not seen_function and op.body.blocks and op.body.block.args:
                arg = op.body.block.args[0].type
                image = math.prod(arg.get_shape()) if isinstance(arg, TensorType) else 0
            seen_function = True
            continue
        if isinstance(op, ModuleOp | func.ReturnOp) or op.dialect_name() in ("builtin", "func", "arith"):
            continue
        if op.dialect_name() == "vit":
            raise VaqfError(
                "the module is not lowered to the accel dialect; run vaqf-pipeline first", where=describe(op)
            )
        if isinstance(op, accel.EngineOp):
            engine[engine_layer(op)] += 1
        elif isinstance(op, STREAM_FREE):
            continue
        elif isinstance(op, vit.VitOp):
            if op.place is not None and op.place.data == Placement.HOST:
                host[stream_layer(op)] += 1
            else:
                stream[stream_layer(op)] += 1
        else:
            raise VaqfError(f"the cost model does not know '{op.name}'", where=describe(op))
    if not seen_function or not engine:
        raise VaqfError("the module has no accel.engine layers; run vaqf-pipeline on a ViT first")
    return Workload(tuple(engine.items()), tuple(stream.items()), tuple(host.items()), name, image)
