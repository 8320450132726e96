"""Quantization-aware training: binary or mixed weights, low-bit activations, the three-stage recipe.

- `quantizers`: the fake-quant contract (sign/alpha binarization, mixed
  fixed-point/PoT weights through `vaqf_compiler.mixed` with a straight-through
  gradient, `ActQuant` with LSQ step sizes and `codes()`, `ProbQuant` with the
  fixed 1/(2^k-1) scale).
- `progressive`: `BinaryLinear` and the progressive binarization schedule.
- `mixed_linear`: `MixedLinear`, the mixed scheme's encoder linear.
- `qmodel`: `QuantDeiT` (scheme vaqf | mixed), `quantize_deit`, `quant_spec`,
  `fake_quant_float_deit`, `export_float_deit`.
- `data`, `distributed`, `checkpoint`, `progress`, `recipe`: `vaqf train`.

Imports `vaqf_compiler.models`, `mixed`, `errors`, `fsutil`; never the CLI.
"""
