"""Compiler passes (installed as vaqf_compiler.passes)."""
