"""Weights for assign-pot-rows.mlir: `python pot_weights.py OUT.npz`.

"w" [8, 4]: even rows are exact 4-bit powers of two (PoT error 0), odd rows are
not (error > 0), so the row rule's order is known without running it.
"""

import sys

import numpy as np

pot = [1.0, 0.5, -0.25, 0.125]
spread = [1.0, 0.9, 0.8, 0.7]
np.savez(sys.argv[1], w=np.array([pot, spread] * 4, dtype=np.float32))
