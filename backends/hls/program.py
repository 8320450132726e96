"""Everything the emitters print, decided once: where every tensor lives, and every constant.

`build_program` reads a lowered, calibrated module (the `accel` dialect) and
its parameters and returns a `Program`:

- the DDR map: the parameter region (`weights/params.bin`, from `weights.py`)
  then the activation region, in which every materialised value gets a buffer
  (first fit, freed after its last use). Head split/merge, token select and the
  two streams' load/store are *views* of their operand's buffer (`Layout`): the
  engine addresses heads and rows directly, nothing is copied. A value that is
  merged back into tokens is stored token-major ([N][H·d]) so the merge is free.
- every op's constants (`weights.op_constants`) placed in the parameter region;
- the engine's configuration (tiling, operand and accumulator widths).

It never changes the IR and makes no choice the IR has not made (placement,
formats and tiling come from the passes; only the memory map is the backend's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Block, Operation, SSAValue

from vaqf_compiler import intconst as ic
from vaqf_compiler.backends.hls.packing import Elem
from vaqf_compiler.cost.model import Hardware
from vaqf_compiler.backends.hls.target import HlsOptions, IrTiling, Tiling, tiling_from_ir
from vaqf_compiler.backends.hls.weights import ArrayEntry, OpConstants, ParamArena, elem_of, op_constants
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.dialects.vit import Placement
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.ir import describe

# Ops whose result is a view of their (first) operand.
VIEW_OPS = (accel.LoadOp, accel.StoreOp, accel.SplitHeadsOp, accel.MergeHeadsOp, accel.SelectTokenOp)
# Ops the backend knows.
SUPPORTED = (
    *VIEW_OPS, accel.EngineOp, accel.LayerNormOp, accel.AddOp, accel.ScaleOp, accel.SoftmaxOp, accel.GeluOp,
    accel.PatchifyOp, accel.ClsConcatOp, accel.PosEmbedAddOp, accel.MeanPoolOp,
)
# Element-wise ops the kernel runs when the partition placed them on the FPGA.
KERNEL_ELEMENTWISE = (accel.LayerNormOp, accel.AddOp, accel.ScaleOp, accel.GeluOp, accel.SoftmaxOp)
# Activation buffers start on this word boundary (4 KiB for 64-bit words: whole bursts).
ALIGN_WORDS = 512


def shape3(value: SSAValue) -> tuple[int, int, int]:
    """[D] -> (1, 1, D); [N, D] -> (1, N, D); [H, N, D] as is."""
    t = value.type
    assert isinstance(t, TensorType)
    s = tuple(t.get_shape())
    return (1,) * (3 - len(s)) + s  # type: ignore[return-value]


@dataclass(frozen=True)
class Layout:
    """A tensor in DDR, as vaqf::Tensor: element (h, n, c) is packed element elem0 + h·hs + n·rs + c from `base`."""

    base: int
    elem0: int
    hs: int
    rs: int
    elem: Elem
    shape: tuple[int, int, int]

    def indices(self) -> np.ndarray:
        """Packed-element index of every (h, n, c), in row-major order."""
        h, n, c = (np.arange(d, dtype=np.int64) for d in self.shape)
        return (self.elem0 + h[:, None, None] * self.hs + n[None, :, None] * self.rs + c[None, None, :]).ravel()


@dataclass(frozen=True)
class EngineConfig:
    """Template parameters of the two MAC arrays, from the IR (tiling, operand formats, bounds)."""

    tiling: Tiling
    tiling_from_ir: bool
    max_tokens: int
    max_dim: int  # longest row of layer norm / residual add on the FPGA
    dsp_x_bits: int  # signed width of 16-bit-array operands
    dsp_acc_bits: int
    bin_x_bits: int  # signed width of the binary array's k-bit inputs (0: no binary layers)
    bin_acc_bits: int
    has_dsp: bool
    has_binary: bool
    # The power-of-two array beside the DSP array (mixed scheme; present when some layer has PoT rows).
    has_pot: bool = False
    pot_bits: int = 0  # k: bits of a PoT weight code (sign | exponent)
    pot_x_bits: int = 0  # signed width of its inputs (the layers' k-bit activation codes)
    pot_acc_bits: int = 0
    # Longest contraction / output row of each array's layers (its on-chip lhs, weight and constant buffers).
    dsp_max_cin: int = 1
    dsp_max_cout: int = 1
    bin_max_cin: int = 1
    bin_max_cout: int = 1
    max_ln_rows: int = 1  # most rows of a layer norm on the FPGA (its rows stay on chip between passes)
    max_softmax_rows: int = 1  # most rows (heads x tokens) of a softmax on the FPGA
    max_table: int = 1  # longest GELU / softmax table of an element-wise op on the FPGA (padded to words)
    formats: tuple[tuple[int, bool], ...] = ()  # (bits, signed) of every packed format the kernel reads or writes


@dataclass
class Program:
    module: ModuleOp
    function: func.FuncOp
    options: HlsOptions
    ops: list[Operation]
    layouts: dict[SSAValue, Layout]
    constants: dict[Operation, OpConstants]
    const_layouts: dict[tuple[Operation, str], Layout]
    arena: ParamArena
    act_base: int  # first word of the activation region
    ddr_words: int  # words of DDR the model uses (parameters + activations)
    config: EngineConfig
    image: SSAValue
    output: SSAValue
    input_step: float
    output_step: float
    abits: int  # activation precision k of the quantized layers (16: none)
    wbits: int  # 1: binary; k: mixed (fixed-point and power-of-two rows); 16: unquantized
    code_slot: int | None  # bits per packed k-bit code when the IR's packing G widens them (else k)
    ports: int | None  # AXI ports per stream the IR asked for (the kernel has one per stream)
    names: dict[SSAValue, str] = field(default_factory=dict)

    @property
    def code_bits(self) -> int:
        """Bits per packed k-bit code (k, or wider when the IR's packing G asks for it)."""
        return self.code_slot or self.abits

    @property
    def mixed(self) -> bool:
        """Whether some FC layer has mixed (fixed-point + power-of-two) weights."""
        return any(isinstance(op, accel.EngineOp) and _is_mixed(op) for op in self.ops)

    @property
    def param_words(self) -> int:
        return self.arena.words

    def layout(self, value: SSAValue) -> Layout:
        return self.layouts[value]

    def const(self, op: Operation, name: str) -> Layout:
        return self.const_layouts[(op, name)]

    def scalar(self, op: Operation, name: str) -> int:
        return self.constants[op].scalars[name]

    def is_kernel_call(self, op: Operation) -> bool:
        """Whether the op runs as one call of the kernel (else on the host, or a view)."""
        return isinstance(op, accel.EngineOp) or (isinstance(op, KERNEL_ELEMENTWISE) and self.on_accel(op))

    def on_accel(self, op: Operation) -> bool:
        return isinstance(op, accel.EngineOp) or _placed_on_accel(op)

    def word_span(self, value: SSAValue) -> tuple[int, int]:
        """(first word, word count) of the buffer `value` lives in (a view: its operand's buffer)."""
        lay = self.layouts[_root(value)]
        g = lay.elem.per_word(self.options.port_bits)
        idx = lay.indices()
        first, last = int(idx.min()) // g, int(idx.max()) // g
        return lay.base + first, last - first + 1

    def digest(self) -> str:
        """A short hash of the parameter blob (for the README and the test bench)."""
        return hashlib.sha256(self.arena.blob().tobytes()).hexdigest()[:16]


def entry_function(module: ModuleOp) -> func.FuncOp:
    funcs = [op for op in module.body.ops if isinstance(op, func.FuncOp)]
    if not funcs:
        raise VaqfError("the module has no func.func to emit")
    return next((f for f in funcs if f.sym_name.data == "forward"), funcs[0])


def check_lowered(function: func.FuncOp) -> list[Operation]:
    """The function's ops; a one-line error for anything that is not lowered `accel` IR."""
    ops: list[Operation] = []
    block: Block = function.body.block
    if len(block.args) != 1:
        raise VaqfError(f"the function must take one argument (the image), it takes {len(block.args)}",
                        where=describe(function))
    for op in block.ops:
        if isinstance(op, func.ReturnOp):
            if len(op.arguments) != 1:
                raise VaqfError("the function must return one value (the logits)", where=describe(op))
            continue
        if op.dialect_name() == "vit":
            raise VaqfError(
                f"'{op.name}' is graph-level IR; lower it first: vaqf-opt IN.mlir -p 'vaqf-pipeline{{abits=K}}'",
                where=describe(op))
        if not isinstance(op, SUPPORTED):
            raise VaqfError(f"hls: no emitter for '{op.name}'", where=describe(op))
        ops.append(op)
    return ops


def _root(value: SSAValue) -> SSAValue:
    while isinstance(value.owner, VIEW_OPS):
        value = value.owner.operands[0]
    return value


root_value = _root  # the buffer a view addresses (public: the host emitter syncs whole buffers)


class _Allocator:
    """First-fit allocation of activation buffers, in words (deterministic)."""

    def __init__(self, base: int):
        self.base = base
        self.top = base
        self.high = base  # high-water mark: the end of the activation region
        self.free: list[tuple[int, int]] = []  # (start, size), sorted

    def alloc(self, size: int) -> int:
        size = max(size, 1)
        size = -(-size // ALIGN_WORDS) * ALIGN_WORDS
        for i, (start, n) in enumerate(self.free):
            if n >= size:
                self.free[i : i + 1] = [(start + size, n - size)] if n > size else []
                return start
        start = self.top
        self.top += size
        self.high = max(self.high, self.top)
        return start

    def release(self, start: int, size: int) -> None:
        size = -(-max(size, 1) // ALIGN_WORDS) * ALIGN_WORDS
        self.free.append((start, size))
        self.free.sort()
        merged: list[tuple[int, int]] = []
        for s, n in self.free:
            if merged and merged[-1][0] + merged[-1][1] == s:
                merged[-1] = (merged[-1][0], merged[-1][1] + n)
            else:
                merged.append((s, n))
        if merged and merged[-1][0] + merged[-1][1] == self.top:
            self.top = merged.pop()[0]
        self.free = merged


def _owned_layout(value: SSAValue, fmt_elem: Elem, base: int, merged: bool, port_bits: int) -> tuple[Layout, int]:
    h, n, c = shape3(value)
    g = fmt_elem.per_word(port_bits)
    if merged:  # token-major: [N][H·d]; head h is the column block h·d
        rs = -(-(h * c) // g) * g
        layout = Layout(base, 0, c, rs, fmt_elem, (h, n, c))
        elems = n * rs
    else:
        rs = -(-c // g) * g
        layout = Layout(base, 0, n * rs, rs, fmt_elem, (h, n, c))
        elems = h * n * rs
    return layout, elems // g


def _view_layout(op: Operation, src: Layout, elem: Elem) -> Layout:
    shape = shape3(op.results[0])
    if isinstance(op, accel.LoadOp | accel.StoreOp):
        return Layout(src.base, src.elem0, src.hs, src.rs, elem, shape)
    if isinstance(op, accel.SplitHeadsOp):
        h, _, d = shape
        part = op.part.value.data
        return Layout(src.base, src.elem0 + part * h * d, d, src.rs, elem, shape)
    if isinstance(op, accel.MergeHeadsOp):
        h, n, d = src.shape
        if h > 1 and src.hs != d:
            raise VaqfError("hls: merge_heads of a buffer that is not token-major", where=describe(op))
        return Layout(src.base, src.elem0, n * src.rs, src.rs, elem, shape)
    if isinstance(op, accel.SelectTokenOp):
        return Layout(src.base, src.elem0 + op.index.value.data * src.rs, 0, 0, elem, shape)
    raise AssertionError(op.name)


def _format_elem(value: SSAValue, where: Operation, code_slot: int | None = None) -> Elem:
    """How `value` is packed: its format's width, or for k-bit codes the IR's packing (a G-th of a word)."""
    fmt = ic.format_of(value)
    elem = elem_of(fmt, where)
    if code_slot is not None and fmt.number_kind in (vit.NumberKind.INT, vit.NumberKind.UINT):
        if code_slot < elem.bits:
            raise VaqfError(f"tiling packs {code_slot}-bit slots but the codes have {elem.bits} bits",
                            where=describe(where))
        return Elem(code_slot, elem.signed)
    return elem


def _signed_bits(e: Elem) -> int:
    if e.sign_bit:
        return 2
    return e.bits if e.signed else e.bits + 1


def _engine_config(ops: list[Operation], constants: dict[Operation, OpConstants], layouts: dict[SSAValue, Layout],
                   const_rows: dict[tuple[Operation, str], int], options: HlsOptions,
                   ir_tiling: IrTiling | None) -> EngineConfig:
    tiling = options.tiling or (ir_tiling.tiling if ir_tiling else None) or Tiling()
    tiling.check()
    dsp = [op for op in ops if isinstance(op, accel.EngineOp) and not _is_binary(op)]
    binary = [op for op in ops if isinstance(op, accel.EngineOp) and _is_binary(op)]
    pot = [op for op in dsp if _is_mixed(op) and constants[op].scalars["n_pot"] > 0]
    engines = dsp + binary
    pot_bits = {constants[op].scalars["pot_bits"] for op in pot}
    if len(pot_bits) > 1:
        raise VaqfError(f"hls: mixed layers with different weight bits {sorted(pot_bits)}; the PoT array is shared")
    heads = {op.heads.value.data for op in dsp if op.is_attention}
    for h in heads:
        if h % tiling.nh:
            raise VaqfError(f"tiling: nh={tiling.nh} must divide the head count {h}")
    max_tokens = max((shape3(op.lhs)[1] for op in engines), default=1)
    rows = [shape3(op.results[0])[2] for op in ops if isinstance(op, KERNEL_ELEMENTWISE) and _placed_on_accel(op)]
    dsp_bits = [_signed_bits(layouts[v].elem) for op in dsp for v in op.operands]
    dsp_bits += [_signed_bits(constants[op].arrays["weight"][1]) for op in dsp if not op.is_attention]
    bin_bits = [_signed_bits(layouts[op.lhs].elem) for op in binary]
    def longest(layers: list[accel.EngineOp], value) -> int:
        return max((shape3(value(op))[2] for op in layers), default=1)

    elementwise = [op for op in ops if isinstance(op, (accel.GeluOp, accel.SoftmaxOp)) and _placed_on_accel(op)]
    formats = {(e.bits, e.signed) for e in (*(l.elem for l in layouts.values()),
                                            *(a[1] for c in constants.values() for a in c.arrays.values()))}
    return EngineConfig(
        tiling=tiling,
        tiling_from_ir=options.tiling is None and ir_tiling is not None,
        max_tokens=max_tokens,
        max_dim=max(rows, default=1),
        dsp_x_bits=max(dsp_bits, default=16),
        dsp_acc_bits=max((constants[op].scalars["acc_bits"] for op in dsp), default=32),
        bin_x_bits=max(bin_bits, default=0),
        bin_acc_bits=max((constants[op].scalars["acc_bits"] for op in binary), default=0),
        has_dsp=bool(dsp),
        has_binary=bool(binary),
        has_pot=bool(pot),
        pot_bits=max(pot_bits, default=0),
        pot_x_bits=max((_signed_bits(layouts[op.lhs].elem) for op in pot), default=0),
        pot_acc_bits=max((constants[op].scalars["pot_acc_bits"] for op in pot), default=0),
        dsp_max_cin=longest(dsp, lambda op: op.lhs),
        dsp_max_cout=longest(dsp, lambda op: op.result),
        bin_max_cin=longest(binary, lambda op: op.lhs),
        bin_max_cout=longest(binary, lambda op: op.result),
        max_table=max((const_rows[(op, "table")] for op in elementwise), default=1),
        max_softmax_rows=max((shape3(op.input)[0] * shape3(op.input)[1] for op in ops
                              if isinstance(op, accel.SoftmaxOp) and _placed_on_accel(op)), default=1),
        max_ln_rows=max((shape3(op.input)[1] for op in ops if isinstance(op, accel.LayerNormOp)
                         and _placed_on_accel(op)), default=1),
        formats=tuple(sorted(formats)),
    )


def _placed_on_accel(op: Operation) -> bool:
    place = getattr(op, "place", None)
    return place is not None and place.data == Placement.ACCEL


def _is_binary(op: accel.EngineOp) -> bool:
    return not op.is_attention and op.quant.weights.number_kind == vit.NumberKind.BINARY


def _is_mixed(op: accel.EngineOp) -> bool:
    return not op.is_attention and op.quant.mixed


def build_program(module: ModuleOp, params: Mapping[str, np.ndarray], options: HlsOptions = HlsOptions()) -> Program:
    options.check()
    port = options.port_bits
    function = entry_function(module)
    ops = check_lowered(function)
    image = function.body.block.args[0]
    ret = function.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    output = ret.arguments[0]
    if not isinstance(image.type, TensorType) or len(image.type.get_shape()) != 3:
        raise VaqfError("the image argument must be a [C, H, W] tensor", where=describe(function))

    ir_tiling = tiling_from_ir(module)
    # The IR's packing G counts codes per word of the cost model's port width; the slot width it implies holds
    # on any port (a 128-bit port carries two such words).
    model_port = Hardware().port_bits
    code_slot = model_port // ir_tiling.code_g if ir_tiling and ir_tiling.code_g and options.tiling is None else None

    # Constants of every op, in program order, into the parameter region.
    source = ic.Params(params)
    arena = ParamArena(port)
    constants: dict[Operation, OpConstants] = {}
    const_layouts: dict[tuple[Operation, str], Layout] = {}
    for i, op in enumerate(ops):
        if isinstance(op, (*VIEW_OPS, accel.PatchifyOp)):
            ic.check_same_format(op, op.operands[0])
        c = op_constants(op, source)
        constants[op] = c
        for name, (codes, elem) in c.arrays.items():
            label = _label(op, i)
            entry = arena.add(f"{label}.{name}", codes, elem)
            const_layouts[(op, name)] = _entry_layout(entry)

    # Which buffers are merged back into tokens: store them token-major.
    merged = {_root(op.input) for op in ops if isinstance(op, accel.MergeHeadsOp)}

    # Liveness of every buffer (root value): the index of its last reader.
    last_use: dict[SSAValue, int] = {}
    for i, op in enumerate(ops):
        for v in op.operands:
            last_use[_root(v)] = i
    last_use[_root(output)] = len(ops)

    act_base = -(-arena.words // ALIGN_WORDS) * ALIGN_WORDS
    alloc = _Allocator(act_base)
    layouts: dict[SSAValue, Layout] = {}
    sizes: dict[SSAValue, int] = {}

    def own(value: SSAValue, where: Operation) -> None:
        elem = _format_elem(value, where, code_slot)
        base = alloc.alloc(_owned_layout(value, elem, 0, value in merged, port)[1])
        layout, words = _owned_layout(value, elem, base, value in merged, port)
        layouts[value] = layout
        sizes[value] = words

    own(image, function)
    for i, op in enumerate(ops):
        result = op.results[0]
        if isinstance(op, VIEW_OPS):
            layouts[result] = _view_layout(op, layouts[op.operands[0]], _format_elem(result, op, code_slot))
        else:
            own(result, op)
        for v in {_root(v) for v in op.operands} | {_root(result)}:
            if last_use.get(v, -1) <= i and v in sizes:
                alloc.release(layouts[v].base, sizes.pop(v))
    top = alloc.high

    const_rows = {key: layout.rs for key, layout in const_layouts.items()}
    config = _engine_config(ops, constants, layouts, const_rows, options, ir_tiling)
    in_fmt = ic.format_of(image)
    out_fmt = ic.format_of(output)
    quantized = [op for op in ops if isinstance(op, accel.EngineOp) and op.in_quantized]
    abits = max((op.quant.inputs.bits.data for op in quantized), default=16)
    mixed_bits = {op.quant.weights.bits.data for op in ops if isinstance(op, accel.EngineOp) and _is_mixed(op)}
    wbits = 1 if config.has_binary else max(mixed_bits, default=16)
    program = Program(
        module=module, function=function, options=options, ops=ops, layouts=layouts, constants=constants,
        const_layouts=const_layouts, arena=arena, act_base=act_base, ddr_words=top, config=config, image=image,
        output=output, input_step=ic.step_of(in_fmt, function), output_step=ic.step_of(out_fmt, ret),
        abits=abits, wbits=wbits, code_slot=code_slot, ports=ir_tiling.ports if ir_tiling else None,
    )
    _name_values(program)
    return program


def _entry_layout(e: ArrayEntry) -> Layout:
    return Layout(e.base, 0, e.rows * e.row_stride, e.row_stride, e.elem, (1, e.rows, e.cols))


def _label(op: Operation, index: int) -> str:
    """A readable, unique name for an op's constants: the parameter it reads, else its kind and position."""
    for attr in op.properties.values():
        if isinstance(attr, vit.ParamAttr):
            return attr.key.removesuffix(".weight")
    return f"{op.name.removeprefix('accel.')}{index}"


def _name_values(program: Program) -> None:
    program.names[program.image] = "t_image"
    for i, op in enumerate(program.ops):
        program.names[op.results[0]] = f"t{i}"
