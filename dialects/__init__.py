"""IR dialects (installed as vaqf_compiler.dialects)."""
