"""Vitis HLS backend: a lowered `accel` module -> a C++ project (kernel, host, weights, test bench).

    files = emit_project(module, params, tb_images=..., tb_golden_codes=...)
    write_project(files, "prj/")
    result = csim("prj/")            # g++ C simulation, bit-identical to the integer interpreter

Reads only the `accel` dialect (and the shared integer constants of
`vaqf_compiler.intconst`); never imports the frontend, quant or passes.
"""

from vaqf_compiler.backends.hls.csim import CsimResult, csim
from vaqf_compiler.backends.hls.emit_project import emit_project, write_project
from vaqf_compiler.backends.hls.target import BOARDS, Board, HlsOptions, Tiling

__all__ = ["BOARDS", "Board", "CsimResult", "HlsOptions", "Tiling", "csim", "emit_project", "write_project"]
