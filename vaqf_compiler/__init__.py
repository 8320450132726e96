"""vaqf: a compiler from Vision Transformers to FPGA accelerators (VAQF)."""

__version__ = "0.1.0"
