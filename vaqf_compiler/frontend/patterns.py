"""Graph-level facts the importer needs before it walks the aten graph.

- `live_nodes`: the nodes whose value reaches the output (dead-code
  elimination): a value nobody uses — the averaged attention weights of
  `nn.MultiheadAttention(need_weights=True)`, a debugging `mean` — is neither
  imported nor judged.
- `match_gelu_tanh`: the tanh approximation of GELU written out as its
  formula, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as HuggingFace's
  `gelu_new`/`FastGELU` and hand-written models spell it (`pow` or `x*x*x`,
  any order of the factors). A candidate is a tanh whose argument and whose
  consumers up to the final product are element-wise arithmetic of one
  activation `x` and numbers; it matches when that expression equals the
  formula at every test point to 1e-9 relative (constants rounded to 10
  digits, as FastGELU writes √(2/π), still match; exact GELU, sigmoid-GELU
  or another constant do not). The product then becomes one `vit.gelu tanh`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.fx import Graph, Node

# Element-wise arithmetic a written-out GELU is made of (aten overload packets).
_ARITH = {"mul", "add", "sub", "div", "pow", "tanh", "neg", "rsub"}
# Test points: both tails, the knee, and zero.
_POINTS = torch.tensor([-7.5, -4.0, -2.5, -1.3, -0.7, -0.31, -0.05, 0.0, 0.02, 0.4, 0.9, 1.7, 2.6, 3.9, 6.2],
                       dtype=torch.float64)


def live_nodes(output: Node, replaced: dict[Node, Node] | None = None) -> set[Node]:
    """Nodes the output depends on; a node in `replaced` depends only on its replacement's input."""
    replaced = replaced or {}
    live: set[Node] = set()
    stack = [output]
    while stack:
        node = stack.pop()
        if node in live:
            continue
        live.add(node)
        stack.extend([replaced[node]] if node in replaced else node.all_input_nodes)
    return live


def gelu_tanh_reference(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _kind(node: Node) -> str | None:
    if node.op != "call_function":
        return None
    packet = getattr(node.target, "_overloadpacket", None)
    return packet.__name__ if packet is not None else None


def _scalar_args(node: Node) -> bool:
    """Every argument that is not a node is a number."""
    leaves = torch.utils._pytree.tree_leaves((node.args, node.kwargs))
    return all(isinstance(a, Node) or (isinstance(a, (int, float)) and not isinstance(a, bool)) for a in leaves)


def _same_shape(a: Node, b: Node) -> bool:
    va, vb = a.meta.get("val"), b.meta.get("val")
    return isinstance(va, torch.Tensor) and isinstance(vb, torch.Tensor) and va.shape == vb.shape


def _expression(root: Node) -> tuple[Node, list[Node]] | None:
    """(x, nodes in topological order) if `root` is element-wise arithmetic of one node x and numbers."""
    inner: dict[Node, None] = {}
    leaves: set[Node] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node in inner or node in leaves:
            continue
        if _kind(node) in _ARITH and _scalar_args(node) and node.all_input_nodes:
            inner[node] = None
            stack.extend(node.all_input_nodes)
        else:
            leaves.add(node)
    if len(leaves) != 1:
        return None
    (x,) = leaves
    order = [n for n in root.graph.nodes if n in inner]
    return x, order


def _evaluate(x: Node, nodes: Iterable[Node], root: Node) -> torch.Tensor | None:
    env: dict[Node, torch.Tensor] = {x: _POINTS}
    try:
        for node in nodes:
            args, kwargs = torch.fx.node.map_arg((node.args, node.kwargs), lambda n: env[n])
            env[node] = node.target(*args, **kwargs)  # type: ignore[operator]
    except Exception:  # an op that does not take float64 points: not our pattern
        return None
    return env[root]


def _matches(root: Node) -> Node | None:
    found = _expression(root)
    if found is None:
        return None
    x, nodes = found
    if not _same_shape(x, root) or not any(_kind(n) == "tanh" for n in nodes):
        return None
    got = _evaluate(x, nodes, root)
    if not isinstance(got, torch.Tensor) or got.shape != _POINTS.shape:
        return None
    want = gelu_tanh_reference(_POINTS)
    return x if bool(torch.allclose(got.to(torch.float64), want, rtol=1e-9, atol=1e-12)) else None


def match_gelu_tanh(graph: Graph) -> dict[Node, Node]:
    """{final product: x} for every tanh-GELU written as its formula (see the module docstring)."""
    fused: dict[Node, Node] = {}
    position = {n: i for i, n in enumerate(graph.nodes)}
    for tanh in graph.nodes:
        if _kind(tanh) != "tanh":
            continue
        # The product that completes the formula lies a few element-wise steps after the tanh.
        frontier, seen = [tanh], {tanh}
        for _ in range(4):
            nxt = []
            for node in frontier:
                for user in node.users:
                    if user not in seen and _kind(user) in _ARITH:
                        seen.add(user)
                        nxt.append(user)
            hits = ((n, _matches(n)) for n in sorted(nxt, key=position.__getitem__))
            hit = next(((n, x) for n, x in hits if x is not None), None)
            if hit is not None:
                fused[hit[0]] = hit[1]
                break
            frontier = nxt
    return fused
