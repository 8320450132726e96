"""The batched reference: a `vit`/`accel` module run on a batch of images at once, in PyTorch.

`BatchedReference(module, params, mode, device)` compiles the entry function
once into one kernel per op (`batched_int.INT_KERNELS` for `int`,
`batched_float.FLOAT_KERNELS` for `float` and `fake-quant`), then `run(images)`
takes [B, C, H, W] and returns the logits [B, ...] as float32.

- `int`: exactly the codes `vaqf run --mode int` (the numpy golden model,
  `interpreter.Interpreter(..., "int")`) computes, image for image, bit for bit:
  the same integer constants (`intconst`), the same integer arithmetic on int64
  tensors, matrix products in float only where provably exact (see
  `batched_int`). `codes(images)` returns the output codes themselves.
- `float`: the float interpreter's meaning in float64 (to rounding).
- `fake-quant`: float, with the weights the accelerator has and every k-bit
  activation rounded to its format (`batched_float.fake_quantize`).

Matrix products run with TF32 (and oneDNN's bf16 paths) and reduced-precision
reductions disabled (`exact_float_matmuls`; restored afterwards). `device` is "cpu" or
"cuda" (a clear error when CUDA is absent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue

from vaqf_compiler import intconst as ic
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.interp.batched_float import FLOAT_KERNELS, Kernel, fake_quantize
from vaqf_compiler.interp.batched_int import INT_KERNELS
from vaqf_compiler.interp.interpreter import Interpreter, _static_shape
from vaqf_compiler.ir import describe

MODES = ("float", "fake-quant", "int")
DEVICES = ("cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    """'cpu' or 'cuda' as a torch device; a one-line error for anything else or an absent GPU."""
    if device not in DEVICES:
        raise VaqfError(f"unknown device {device!r}; choose cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise VaqfError("--device cuda asked for, but CUDA is not available (torch.cuda.is_available() is False); "
                        "use --device cpu")
    return torch.device(device)


def _precision_switches() -> list[tuple[object, str, object]]:
    """(owner, attribute, exact value) of every switch that could make a float32 product inexact."""
    b = torch.backends
    switches: list[tuple[object, str, object]] = [
        (b.cuda.matmul, "allow_fp16_reduced_precision_reduction", False),
        (b.cuda.matmul, "allow_bf16_reduced_precision_reduction", False),
    ]
    if hasattr(b.cuda.matmul, "fp32_precision"):  # torch >= 2.9: the new API only (mixing the two is an error)
        switches += [(b.cuda.matmul, "fp32_precision", "ieee"), (b.cudnn.conv, "fp32_precision", "ieee"),
                     (b.mkldnn.matmul, "fp32_precision", "ieee"), (b.mkldnn.conv, "fp32_precision", "ieee")]
    else:
        switches += [(b.cuda.matmul, "allow_tf32", False), (b.cudnn, "allow_tf32", False)]
    return switches


@contextmanager
def exact_float_matmuls() -> Iterator[None]:
    """Full-precision float32/float64 products inside: no TF32/bf16 paths, no reduced-precision reductions."""
    switches = _precision_switches()
    saved = [getattr(owner, name) for owner, name, _ in switches]
    try:
        for owner, name, value in switches:
            setattr(owner, name, value)
        yield
    finally:
        for (owner, name, _), value in zip(switches, saved, strict=True):
            setattr(owner, name, value)


class Build:
    """What a kernel builder may ask for: parameters, cached constants, tensors on the device."""

    def __init__(self, interp: Interpreter, device: torch.device, fake_quant: bool):
        self._interp = interp
        self.device = device
        self.fake_quant = fake_quant

    def param(self, op: Operation, attr) -> np.ndarray:
        return self._interp.param(op, attr)

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        return self._interp.cached(key, compute)

    def tensor(self, array: np.ndarray | float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(array), device=self.device).to(dtype)


@dataclass(frozen=True)
class _Step:
    op: Operation
    kernel: Kernel
    operands: tuple[SSAValue, ...]


class BatchedReference:
    """One module's entry function compiled for batches; reusable across batches."""

    def __init__(self, module: ModuleOp, params: Mapping[str, np.ndarray], mode: str = "int",
                 device: str = "cpu"):
        if mode not in MODES:
            raise VaqfError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        self.mode = mode
        self.device = resolve_device(device)
        # The numpy interpreter checks the function and serves (and caches) the parameters.
        self._interp = Interpreter(module, params, "int" if mode == "int" else "float")
        self.function = self._interp.function
        self.input_shape = self._interp.input_shape
        if mode == "int":  # an unquantized module fails here, with what to do
            fmt = ic.format_of(self.function.body.block.args[0])
            self._in_step = ic.step_of(fmt, self.function)
            self._in_range = fmt.code_range
        build = Build(self._interp, self.device, fake_quant=mode == "fake-quant")
        kernels = INT_KERNELS if mode == "int" else FLOAT_KERNELS
        self._steps: list[_Step] = []
        self._result: SSAValue | None = None
        for op in self.function.body.block.ops:
            if isinstance(op, func.ReturnOp):
                if len(op.arguments) != 1:
                    raise VaqfError(f"the function must return one value (the logits), it returns "
                                    f"{len(op.arguments)}", where=describe(op))
                self._result = op.arguments[0]
                break
            builder = kernels.get(type(op))
            if builder is None:
                raise VaqfError(f"the {mode} reference does not support this op", where=describe(op))
            self._steps.append(_Step(op, builder(op, build), tuple(op.operands)))
        if self._result is None:
            raise VaqfError("the function has no func.return", where=describe(self.function))
        if mode == "int":
            self._out_step = ic.step_of(ic.format_of(self._result), self._result.owner)

    def _check(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
        if x.ndim != len(self.input_shape) + 1 or tuple(x.shape[1:]) != self.input_shape:
            dims = ", ".join(map(str, self.input_shape))
            raise VaqfError(f"batch has shape {list(x.shape)} but the function expects [N, {dims}]",
                            where=describe(self.function))
        return x.to(self.device)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """`fixedpoint.quantize` of the image into the input format (int), or float64."""
        x = x.to(torch.float64)
        if self.mode != "int":
            return x
        lo, hi = self._in_range
        codes = torch.floor(x / self._in_step + 0.5).clamp(-(2.0**62), 2.0**62).to(torch.int64)
        return codes.clamp(lo, hi)

    def forward(self, images: np.ndarray | torch.Tensor,
                observe: Callable[[Operation, torch.Tensor], None] | None = None) -> torch.Tensor:
        """The function's result for a batch: int64 codes (int mode) or float64 values, on the device."""
        x = self._check(images)
        env: dict[SSAValue, torch.Tensor] = {self.function.body.block.args[0]: self._encode(x)}
        with torch.no_grad(), exact_float_matmuls():
            for step in self._steps:
                result = step.kernel([env[v] for v in step.operands])
                if self.mode == "fake-quant":
                    result = fake_quantize(step.op, result)
                want = _static_shape(step.op.results[0])
                if want is not None and tuple(result.shape[1:]) != want:  # a kernel bug, not a user error
                    raise AssertionError(f"{describe(step.op)}: computed shape {tuple(result.shape)}, IR says {want}")
                env[step.op.results[0]] = result
                if observe is not None:
                    observe(step.op, result)
        assert self._result is not None
        return env[self._result]

    def codes(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        """The output codes [B, ...] as int64 (int mode only)."""
        if self.mode != "int":
            raise VaqfError(f"codes are the integer path's; this reference runs in {self.mode} mode")
        return self.forward(images).cpu().numpy()

    def run(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        """Logits [B, ...] as float32 (int mode: the codes times their step, as `vaqf run --mode int`)."""
        y = self.forward(images)
        if self.mode == "int":
            y = y.to(torch.float64) * self._out_step
        return y.to(torch.float32).cpu().numpy()


def run_batched(module: ModuleOp, params: Mapping[str, np.ndarray], images: np.ndarray | Sequence[np.ndarray],
                mode: str = "int", device: str = "cpu") -> np.ndarray:
    """Run the module's entry function on a batch [N, C, H, W]; float32 logits [N, ...]."""
    return BatchedReference(module, params, mode, device).run(np.asarray(images))
