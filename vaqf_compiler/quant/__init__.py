"""Quantization-aware training: binary weights, low-bit activations, the three-stage recipe.

- `quantizers`: the fake-quant contract (sign/alpha binarization, `ActQuant`
  with LSQ step sizes and `codes()`, `ProbQuant` with the fixed 1/(2^k-1) scale).
- `progressive`: `BinaryLinear` and the progressive binarization schedule.
- `qmodel`: `QuantDeiT`, `quantize_deit`, `quant_spec`, `binarized_float_deit`.
- `data`, `distributed`, `checkpoint`, `progress`, `recipe`: `vaqf train`.

Imports `vaqf_compiler.models`, `errors`, `fsutil`; never the CLI.
"""
