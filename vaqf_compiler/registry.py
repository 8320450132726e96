"""What `vaqf-opt` (and anything else that wants it) knows by name: dialects and passes.

Each map goes from a name to a zero-argument factory that imports lazily and
returns the dialect or the pass class, so building a tool's context costs
nothing until a dialect or pass is actually used. This is the only place where
vaqf registers things: adding a pass is one line in `PASSES`, e.g.

    "fold-patch-embed": lambda: _load("vaqf_compiler.passes.fold_patch_embed", "FoldPatchEmbedPass"),

The key must equal the pass class's `name` (and never reuse xDSL's names for
our own passes).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from xdsl.context import Context
from xdsl.ir import Dialect
from xdsl.passes import ModulePass


def _load(module: str, attr: str) -> Any:
    """`module.attr`, imported on first use."""
    return getattr(importlib.import_module(module), attr)


# The upstream dialects our IR uses; nothing else of xDSL's 79 is registered,
# so a stray `linalg.*` op is an "unknown dialect" error, not a half-supported path.
UPSTREAM_DIALECTS: dict[str, Callable[[], Dialect]] = {
    "builtin": lambda: _load("xdsl.dialects.builtin", "Builtin"),
    "func": lambda: _load("xdsl.dialects.func", "Func"),
    "arith": lambda: _load("xdsl.dialects.arith", "Arith"),
}

# Our own dialects.
DIALECTS: dict[str, Callable[[], Dialect]] = {
    "vit": lambda: _load("vaqf_compiler.dialects.vit", "Vit"),
    "accel": lambda: _load("vaqf_compiler.dialects.accel", "Accel"),
}

# Passes by their `name`. xDSL's generic clean-ups are exposed under their own names.
PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "canonicalize": lambda: _load("xdsl.transforms.canonicalize", "CanonicalizePass"),
    "cse": lambda: _load("xdsl.transforms.common_subexpression_elimination", "CommonSubexpressionElimination"),
    "dce": lambda: _load("xdsl.transforms.dead_code_elimination", "DeadCodeElimination"),
    "fold-patch-embed": lambda: _load("vaqf_compiler.passes.fold_patch_embed", "FoldPatchEmbedPass"),
    "mark-quantization": lambda: _load("vaqf_compiler.passes.mark_quantization", "MarkQuantizationPass"),
    "assign-pot-rows": lambda: _load("vaqf_compiler.passes.assign_pot_rows", "AssignPotRowsPass"),
    "partition-host-accel": lambda: _load("vaqf_compiler.passes.partition_host_accel", "PartitionHostAccelPass"),
    "lower-to-accel": lambda: _load("vaqf_compiler.passes.lower_to_accel", "LowerToAccelPass"),
    "vaqf-pipeline": lambda: _load("vaqf_compiler.passes.vaqf_pipeline", "VaqfPipelinePass"),
    "assign-tiling": lambda: _load("vaqf_compiler.passes.assign_tiling", "AssignTilingPass"),
}


def all_dialects() -> dict[str, Callable[[], Dialect]]:
    """Upstream and vaqf dialects together, by name."""
    return {**UPSTREAM_DIALECTS, **DIALECTS}


def make_registry_context() -> Context:
    """A context where every registered dialect loads on first use (and nothing else parses)."""
    ctx = Context()
    for name, factory in all_dialects().items():
        ctx.register_dialect(name, factory)
    return ctx
