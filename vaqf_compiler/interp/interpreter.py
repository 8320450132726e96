"""The reference interpreter: runs a `vit` module's function on numpy arrays.

It walks the entry function's body in order, keeps an environment mapping
each SSA value to its array, and computes every op with the handler the
current mode's table gives for the op's class (`MODES`). A `func.return`
ends the run. An op without a handler is a `VaqfError` naming the op and
where it was parsed from.

Precision (float mode): everything is computed in float64 — the image and the
float32 parameters are widened once — and the logits are returned as float32.
The interpreter is therefore at least as accurate as a float32 PyTorch run of
the same model; against such a run we guarantee max |Δlogit| < 1e-4 for small
models (test/unit/test_interp.py: a one-block ViT with D=32 agrees to ~6e-7,
and with D=192 to ~8e-7). The difference is PyTorch's float32 rounding, which
grows with depth and width; against PyTorch in float64 the ops agree to ~1e-10.

The module is not verified here; callers that take user IR (`vaqf run`)
verify it first. Parameters are checked for presence and shape on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation, SSAValue

from vaqf_compiler import fixedpoint
from vaqf_compiler.dialects.vit import ParamAttr
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.intconst import Params
from vaqf_compiler.interp.base import HandlerTable
from vaqf_compiler.interp.float_ops import FLOAT_OPS
from vaqf_compiler.interp.int_ops import INT_OPS, format_of, step_of
from vaqf_compiler.ir import describe

# mode name -> (handler table, working dtype). An integer path adds its entry here.
@dataclass(frozen=True)
class Mode:
    """How one interpreter mode runs: its handlers, how the image enters, how the result leaves."""

    handlers: HandlerTable
    encode: Callable[[func.FuncOp, np.ndarray], np.ndarray]
    decode: Callable[[SSAValue, np.ndarray], np.ndarray]


def _encode_int(function: func.FuncOp, image: np.ndarray) -> np.ndarray:
    arg = function.body.block.args[0]
    fmt = format_of(arg)
    lo, hi = fmt.code_range
    return fixedpoint.quantize(image, step_of(fmt, function), lo, hi)


def _decode_int(value: SSAValue, codes: np.ndarray) -> np.ndarray:
    fmt = format_of(value)
    return (codes.astype(np.float64) * step_of(fmt, value.owner)).astype(np.float32)


MODES: dict[str, Mode] = {
    # float64 inside, float32 out.
    "float": Mode(FLOAT_OPS, lambda f, image: image.astype(np.float64), lambda v, y: np.asarray(y, np.float32)),
    # int64 codes inside (docs/quantization.md); the image is quantized on entry, the result dequantized.
    "int": Mode(INT_OPS, _encode_int, _decode_int),
}


def entry_function(module: ModuleOp) -> func.FuncOp:
    """The function to run: the one named `forward`, else the module's first `func.func`."""
    funcs = [op for op in module.body.ops if isinstance(op, func.FuncOp)]
    if not funcs:
        raise VaqfError("the module has no func.func to run")
    for f in funcs:
        if f.sym_name.data == "forward":
            return f
    return funcs[0]


def _static_shape(value: SSAValue) -> tuple[int, ...] | None:
    t = value.type
    if isinstance(t, TensorType):
        shape = tuple(t.get_shape())
        if all(d >= 0 for d in shape):
            return shape
    return None


def input_shape(function: func.FuncOp) -> tuple[int, ...]:
    """The shape of the function's single (image) argument."""
    args = function.body.block.args
    if len(args) != 1:
        raise VaqfError(
            f"the function must take exactly one argument (the image), it takes {len(args)}",
            where=describe(function),
        )
    shape = _static_shape(args[0])
    if shape is None:
        raise VaqfError(f"the image argument must be a statically shaped tensor, got {args[0].type}",
                        where=describe(function))
    return shape


class Interpreter:
    """Runs one function of `module` with `params`; reusable across images.

    Parameters are converted to the working dtype once and cached, so running
    a batch through one `Interpreter` pays that cost once.
    """

    def __init__(self, module: ModuleOp, params: Mapping[str, np.ndarray], mode: str = "float"):
        if mode not in MODES:
            raise VaqfError(f"unknown interpreter mode {mode!r}; known: {', '.join(MODES)}")
        self.mode = mode
        self.handlers = MODES[mode].handlers
        self._modes = MODES[mode]
        self.function = entry_function(module)
        self.input_shape = input_shape(self.function)
        self._params = Params(params)
        self._derived: dict[Any, Any] = {}

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """`compute()` once per key for this interpreter (integer constants, tables)."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    def param(self, op: Operation, attr: ParamAttr) -> np.ndarray:
        """The parameter as float64, checked against its declared shape (read once)."""
        return self._params.param(op, attr)

    def run(self, image: np.ndarray, observe: Callable[[Operation, np.ndarray], None] | None = None) -> np.ndarray:
        """One image [C, H, W] -> the function's result (logits), as float32."""
        image = np.asarray(image)
        if image.shape != self.input_shape:
            raise VaqfError(
                f"input has shape {list(image.shape)} but the function expects {list(self.input_shape)}",
                where=describe(self.function),
            )
        arg = self.function.body.block.args[0]
        env: dict[SSAValue, np.ndarray] = {arg: self._modes.encode(self.function, image)}
        for op in self.function.body.block.ops:
            if isinstance(op, func.ReturnOp):
                if len(op.arguments) != 1:
                    raise VaqfError(
                        f"the function must return one value (the logits), it returns {len(op.arguments)}",
                        where=describe(op),
                    )
                return self._modes.decode(op.arguments[0], env[op.arguments[0]])
            handler = self.handlers.get(type(op))
            if handler is None:
                raise VaqfError(f"the {self.mode} interpreter does not support this op", where=describe(op))
            try:
                result = handler(op, [env[v] for v in op.operands], self)
            except fixedpoint.RangeError as e:  # the op's integer arithmetic cannot be exact
                raise VaqfError(f"{e}; use fewer bits", where=describe(op)) from None
            want = _static_shape(op.results[0])
            if want is not None and result.shape != want:  # a handler bug, not a user error
                raise AssertionError(f"{describe(op)}: computed shape {result.shape}, IR says {want}")
            env[op.results[0]] = result
            if observe is not None:
                observe(op, result)
        raise VaqfError("the function has no func.return", where=describe(self.function))


def run_function(
    module: ModuleOp, params: Mapping[str, np.ndarray], image: np.ndarray, mode: str = "float"
) -> np.ndarray:
    """Run the module's entry function on one image [C, H, W]; returns float32 logits."""
    return Interpreter(module, params, mode).run(image)


def run_batch(
    module: ModuleOp, params: Mapping[str, np.ndarray], images: np.ndarray, mode: str = "float"
) -> np.ndarray:
    """Run a batch [N, C, H, W] image by image; returns float32 [N, ...] stacked results."""
    interp = Interpreter(module, params, mode)
    images = np.asarray(images)
    if images.ndim != len(interp.input_shape) + 1 or images.shape[1:] != interp.input_shape:
        raise VaqfError(
            f"batch has shape {list(images.shape)} but the function expects [N, "
            + ", ".join(map(str, interp.input_shape))
            + "]",
            where=describe(interp.function),
        )
    if len(images) == 0:
        outputs = interp.function.function_type.outputs.data
        out_shape = tuple(outputs[0].get_shape()) if len(outputs) == 1 and isinstance(outputs[0], TensorType) else ()
        return np.zeros((0, *out_shape), np.float32)
    return np.stack([interp.run(img) for img in images])
