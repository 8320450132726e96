"""The dataflow graph of a function, on networkx: who feeds whom.

Passes ask structural questions of it — which ops lie between the token
embedding and the CLS select (the encoder), where data crosses between host
and FPGA — instead of walking use-def chains by hand.
"""

from __future__ import annotations

import networkx as nx
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from vaqf_compiler.errors import VaqfError


def functions(module: ModuleOp) -> list[func.FuncOp]:
    return [op for op in module.body.ops if isinstance(op, func.FuncOp)]


def dataflow_graph(fn: func.FuncOp) -> nx.DiGraph:
    """Ops of `fn` as nodes (in program order), an edge from each producer to each consumer."""
    graph = nx.DiGraph()
    for op in fn.body.block.ops:
        graph.add_node(op)
        for operand in op.operands:
            if isinstance(operand.owner, Operation):
                graph.add_edge(operand.owner, op)
    return graph


def encoder_region(graph: nx.DiGraph, starts: list[Operation], ends: list[Operation]) -> set[Operation]:
    """Ops downstream of every `starts` op and not downstream of (or at) an `ends` op."""
    region: set[Operation] = set()
    for op in starts:
        region |= nx.descendants(graph, op)
    for op in ends:
        region -= nx.descendants(graph, op) | {op}
    return region


def crossings(graph: nx.DiGraph, on_host: set[Operation]) -> int:
    """Edges between a host op and an FPGA op: each is a DDR buffer handed across."""
    return sum((a in on_host) != (b in on_host) for a, b in graph.edges if not isinstance(b, func.ReturnOp))


def model_function(module: ModuleOp, pass_name: str) -> func.FuncOp | None:
    """The module's one function (the model); None for an empty module, which passes leave alone."""
    fns = functions(module)
    if len(fns) > 1:
        raise VaqfError(f"{pass_name}: expected one func.func (the model), found {len(fns)}")
    if fns and len(fns[0].body.blocks) != 1:
        from vaqf_compiler.ir import describe

        raise VaqfError(
            f"{pass_name}: the model function must have a body of one block, it has {len(fns[0].body.blocks)}",
            where=describe(fns[0]),
        )
    return fns[0] if fns else None
