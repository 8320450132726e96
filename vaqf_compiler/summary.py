"""A short human-readable summary of a `vit` module."""

from __future__ import annotations

from collections import Counter

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp

from vaqf_compiler.params import referenced_params


def summarize(module: ModuleOp) -> str:
    ops = Counter(op.name for op in module.walk() if op.name.startswith("vit."))
    params = {p.key: p.numel for _, p in referenced_params(module)}
    fn = next((op for op in module.walk() if isinstance(op, func.FuncOp)), None)
    lines = []
    if fn is not None:
        ins = ", ".join(str(t) for t in fn.function_type.inputs.data)
        outs = ", ".join(str(t) for t in fn.function_type.outputs.data)
        lines.append(f"function @{fn.sym_name.data}: ({ins}) -> {outs}")
    lines.append(f"{sum(ops.values())} vit ops, {len(params)} parameters ({sum(params.values()):,} values)")
    width = max((len(n) for n in ops), default=0)
    for name, count in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {name:<{width}}  {count}")
    return "\n".join(lines)
