"""Calibration: give every quantized or fixed-point tensor of a marked module its scale.

`mark-quantization` decides formats (`#vit.format<int 8>`); calibration runs
the float reference interpreter on sample images and sets each format's scale
from the largest magnitude seen (docs/quantization.md, "Scales"):

- k-bit codes: max|x| / (2**(k-1) - 1) (1-bit: mean |x|, the sign's best scale);
- unsigned codes (softmax probabilities): 1 / (2**k - 1), fixed by the range [0, 1];
- 16-bit fixed point: the smallest power of two that holds max|x| (hardware shifts);
- ops that only move data keep their input's scale.

A model trained with `vaqf train` carries its learned scales instead (the importer
sets them); calibration is for float models and for checking the flow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from vaqf_compiler import fixedpoint
from vaqf_compiler.dialects import accel, vit
from vaqf_compiler.dialects.vit import FormatAttr, NumberKind
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.interp import Interpreter
from vaqf_compiler.interp.int_ops import INPUT_FORMAT_ATTR
from vaqf_compiler.ir import describe
from vaqf_compiler.validate import finite

# Ops whose result is their input's data, moved: they inherit the input's scale.
MOVES_DATA = (
    vit.PatchifyOp, vit.SplitHeadsOp, vit.MergeHeadsOp, vit.SelectTokenOp,
    accel.PatchifyOp, accel.SplitHeadsOp, accel.MergeHeadsOp, accel.SelectTokenOp, accel.LoadOp, accel.StoreOp,
)


def _format_key(op: Operation) -> str | None:
    if "out" in op.properties:
        return "out"
    if "format" in op.properties:
        return "format"
    return None


def step_for(fmt: FormatAttr, max_abs: float, mean_abs: float, probabilities: bool) -> float:
    kind, bits = fmt.number_kind, fmt.bits.data
    if kind == NumberKind.UINT and probabilities:
        return 1.0 / ((1 << bits) - 1)
    if kind == NumberKind.FIXED:
        return fixedpoint.power_of_two_step(max_abs, bits)
    if kind in (NumberKind.INT, NumberKind.UINT):
        if bits == 1:
            return mean_abs if mean_abs > 0 else 1.0
        top = (1 << (bits - 1)) - 1 if kind == NumberKind.INT else (1 << bits) - 1
        return max_abs / top if max_abs > 0 else 1.0
    raise VaqfError(f"cannot calibrate a {fmt.body()} tensor")


def calibrate(module: ModuleOp, params: Mapping[str, np.ndarray], images: Iterable[np.ndarray]) -> int:
    """Set the scale of every format in `module` from `images`; returns how many images it used."""
    interp = Interpreter(module, params, "float")
    fn = interp.function
    maxima: dict[Operation, float] = defaultdict(float)
    sums: dict[Operation, float] = defaultdict(float)
    counts: dict[Operation, int] = defaultdict(int)
    image_max, used = 0.0, 0

    def observe(op: Operation, value: np.ndarray) -> None:
        a = np.abs(value)
        maxima[op] = max(maxima[op], float(a.max(initial=0.0)))
        sums[op] += float(a.sum())
        counts[op] += a.size

    for image in images:
        finite(np.asarray(image), f"calibration image {used}")  # NaN would silently give 2**-15 scales
        interp.run(image, observe)
        image_max = max(image_max, float(np.abs(image).max(initial=0.0)))
        used += 1
    if used == 0:
        raise VaqfError("calibration needs at least one image")

    fn.attributes[INPUT_FORMAT_ATTR] = FormatAttr(NumberKind.FIXED, 16, fixedpoint.power_of_two_step(image_max, 16))
    for op in fn.body.block.ops:
        key = _format_key(op)
        if key is None or isinstance(op, (func.ReturnOp, *MOVES_DATA)):
            continue
        fmt = op.properties[key]
        assert isinstance(fmt, FormatAttr)
        mean = sums[op] / counts[op] if counts[op] else 0.0
        softmax = isinstance(op, (vit.SoftmaxOp, accel.SoftmaxOp))
        op.properties[key] = fmt.with_step(step_for(fmt, maxima[op], mean, softmax))
    propagate_moves(fn)
    return used


def propagate_moves(fn: func.FuncOp) -> None:
    """Ops that only move data take their input's format, scale included."""
    for op in fn.body.block.ops:
        key = _format_key(op)
        if key is None or not isinstance(op, MOVES_DATA):
            continue
        fmt, source = op.properties[key], _source_format(op, fn)
        assert isinstance(fmt, FormatAttr)
        if (source.number_kind, source.bits.data) != (fmt.number_kind, fmt.bits.data):
            raise VaqfError(f"moves {source.body()} data but is marked {fmt.body()}", where=describe(op))
        op.properties[key] = source


def apply_learned_scales(module: ModuleOp, spec: Mapping[str, Mapping]) -> int:
    """Put the activation scales a quantized model learned (`quant_spec`) on the IR's formats.

    `spec` maps a float module path (`blocks.0.attn.qkv`) to its linear layer's
    `input_scale` and, for a fused QKV, `output_scales` ([q, k, v]); they land on
    the format of the tensor the layer reads and writes. The 16-bit tensors keep
    their calibrated scales. Returns how many scales were set.
    """
    fn = next(op for op in module.walk() if isinstance(op, func.FuncOp))
    count = 0
    for op in fn.body.block.ops:
        if not isinstance(op, vit.LinearOp) or not op.weight.key.endswith(".weight"):
            continue
        entry = spec.get(op.weight.key.removesuffix(".weight"))
        if entry is None or entry.get("kind") != "linear":
            continue
        if entry.get("input_scale") is not None:
            count += _set_step(_data_source(op.input.owner), float(entry["input_scale"]))
        outputs = entry.get("output_scales")
        if outputs and outputs[0] is not None:
            if len(set(outputs)) != 1:
                raise VaqfError(
                    f"the fused QKV output is one tensor on the accelerator but the model learned"
                    f" {len(set(outputs))} scales for it ({outputs}); train with one shared Q/K/V scale",
                    where=describe(op),
                )
            count += _set_step(op, float(outputs[0]))
    propagate_moves(fn)
    return count


def _data_source(op: object) -> Operation:
    """The op that computed the data `op` passes on (through head merges and selects)."""
    while isinstance(op, MOVES_DATA):
        op = op.operands[0].owner
    if not isinstance(op, Operation):
        raise VaqfError("a quantized layer reads the model input directly")
    return op


def _set_step(op: Operation, step: float) -> int:
    key = _format_key(op)
    fmt = op.properties.get(key) if key else None
    if not isinstance(fmt, FormatAttr) or not fmt.quantized:
        raise VaqfError("a learned scale belongs to a tensor that is not quantized here", where=describe(op))
    op.properties[key] = fmt.with_step(step)
    return 1


def _source_format(op: Operation, fn: func.FuncOp) -> FormatAttr:
    owner = op.operands[0].owner
    if isinstance(owner, Operation):
        key = _format_key(owner)
        fmt = owner.properties.get(key) if key else None
    else:
        fmt = fn.attributes.get(INPUT_FORMAT_ATTR)
    if not isinstance(fmt, FormatAttr):
        raise VaqfError("the producer of this op has no format: run mark-quantization first", where=describe(op))
    return fmt
