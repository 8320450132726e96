"""The numpy reference interpreter for the `vit` dialect (the golden model).

`run_function(module, params, image)` runs one image [C, H, W] and returns
float32 logits; `run_batch` does the same for [N, C, H, W]. Handlers live in
one table per mode (`float_ops.FLOAT_OPS` for the float path); see
`interpreter` for the precision guarantee.
"""

from vaqf_compiler.interp.interpreter import MODES, Interpreter, entry_function, input_shape, run_batch, run_function

__all__ = ["MODES", "Interpreter", "entry_function", "input_shape", "run_batch", "run_function"]
