"""`python with_weights.py IN.mlir OUT.mlir`: OUT.mlir = IN.mlir with a seeded random sidecar OUT.npz.

For pass tests that need the weights (assign-pot-rows): every #vit.param gets
standard-normal values of its declared shape (seed 0).
"""

import sys
from pathlib import Path

import numpy as np

from vaqf_compiler.ir import parse_ir, print_ir
from vaqf_compiler.params import attach_sidecar, referenced_params, save_params

src, out = Path(sys.argv[1]), Path(sys.argv[2])
module = parse_ir(src.read_text())
rng = np.random.default_rng(0)
params = {}
for _, p in referenced_params(module):
    if p.key not in params:
        params[p.key] = rng.standard_normal(p.shape).astype(np.float32)
sidecar = out.with_suffix(".npz")
attach_sidecar(module, sidecar.name, save_params(sidecar, params))
out.write_text(print_ir(module))
