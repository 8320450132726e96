"""Code generation backends (installed as vaqf_compiler.backends)."""
