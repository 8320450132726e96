"""Import a `torch.export` ExportedProgram of a ViT into the `vit` dialect.

The ViT structure is recognised from the aten graph, not from module names:
each aten op is handled by what it computes (`linear`, `layer_norm`,
`scaled_dot_product_attention` or `matmul`/`softmax`, `conv2d`, `cat`, …),
and view ops are tracked symbolically (`layout.View`) until a consumer needs
the data in a particular arrangement. Everything that does not depend on the
image (parameters, masks built from `arange`, …) is evaluated with torch
while importing ("constant folding"): parameters keep their names, derived
constants are named after their graph node.

Op *settings* are checked, not only names: a grouped conv, a conv whose
kernel differs from its stride, a non-trivial attention mask or dropout
active at inference are refused with an error naming the aten op, its shape
and the PyTorch source line that produced it.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind
from torch.fx import Node
from torch.fx.operator_schemas import normalize_function
from xdsl.builder import Builder, InsertPoint
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Block, Operation, Region, SSAValue

from vaqf_compiler.dialects import vit
from vaqf_compiler.errors import VaqfError
from vaqf_compiler.frontend.layout import Factor, LayoutError, View, leaves_of
from vaqf_compiler.frontend.patterns import live_nodes, match_gelu_tanh


@dataclass
class Const:
    """A value that does not depend on the image; `name` is set for unmodified parameters."""

    value: torch.Tensor
    name: str | None = None


@dataclass
class TokenWindow:
    """Tokens [start:] of a token matrix (`x[:, 1:]`, skipping CLS/register tokens): only mean pooling reads it."""

    view: View
    dim: int
    start: int


@dataclass
class FeatureConcat:
    """Feature vectors joined end to end (DINOv2's `cat([cls, patch_tokens.mean(1)], dim=1)`): only a linear
    reads it, as one linear per part summed."""

    parts: list[View]


@dataclass
class ImportedModel:
    module: ModuleOp
    params: dict[str, np.ndarray]


class UnsupportedError(Exception):
    """Raised inside a handler; the importer adds the node, shape and source line."""


# View ops between a scale and the matmul that reads it (`_unscaled`).
_VIEW_KINDS = {"view", "reshape", "_unsafe_view", "transpose", "permute", "expand", "clone", "contiguous",
               "unsqueeze", "squeeze", "flatten", "unflatten"}

# Ops that return their (first) input unchanged at inference.
_IDENTITY_OPS = {"clone", "contiguous", "alias", "detach", "lift_fresh_copy", "_assert_tensor_metadata"}


def _source_of(node: Node) -> str:
    """`file.py:123 (`code`)` of the PyTorch line that produced `node`, if torch recorded it."""
    trace = node.meta.get("stack_trace") or ""
    frames = re.findall(r'File "([^"]+)", line (\d+), in [^\n]*\n\s*([^\n]*)', trace)
    where = ""
    if frames:
        file, line, code = frames[-1]
        where = f" at {Path(file).name}:{line} (`{code.strip()}`)"
    stack = node.meta.get("nn_module_stack")
    if stack:
        path = list(stack.values())[-1][0]
        if path:
            where += f" in module '{path}'"
    return where


def _shape_of(node: Node) -> str:
    val = node.meta.get("val")
    return str(list(val.shape)) if isinstance(val, torch.Tensor) else "?"


class TorchImporter:
    def __init__(self, program: ExportedProgram):
        self.program = program
        self.params: dict[str, np.ndarray] = {}
        self.env: dict[Node, Any] = {}
        # Canonical (memory) order of each IR value, as factors.
        self.canon: dict[SSAValue, list[Factor]] = {}
        self.materialized: dict[tuple[Any, ...], SSAValue] = {}
        self.block = Block()
        self.builder = Builder(InsertPoint.at_end(self.block))
        self.handlers: dict[str, Callable[[Node, dict[str, Any]], Any]] = {
            "conv2d": self._conv,
            "convolution": self._conv,
            "linear": self._linear,
            "layer_norm": self._layer_norm,
            "gelu": self._gelu,
            "softmax": self._softmax,
            "_softmax": self._softmax,
            "scaled_dot_product_attention": self._sdpa,
            "matmul": self._matmul,
            "bmm": self._matmul,
            "mul": self._mul,
            "div": self._div,
            "add": self._add,
            "cat": self._cat,
            "select": self._select,
            "mean": self._mean,
            "unbind": self._unbind,
            "chunk": self._chunk,
            "dropout": self._dropout,
            "view": self._reshape,
            "reshape": self._reshape,
            "_unsafe_view": self._reshape,
            "flatten": lambda n, a: self._view(a["input"]).flatten(a["start_dim"], a["end_dim"]),
            "unflatten": lambda n, a: self._view(a["input"]).unflatten(a["dim"], list(a["sizes"])),
            "permute": lambda n, a: self._view(a["input"]).permute(list(a["dims"])),
            "transpose": lambda n, a: self._view(a["input"]).transpose(a["dim0"], a["dim1"]),
            "t": lambda n, a: self._view(a["input"]).transpose(0, -1),
            "unsqueeze": lambda n, a: self._view(a["input"]).unsqueeze(a["dim"]),
            "squeeze": self._squeeze,
            "expand": self._expand,
            "slice": self._slice,
            "to": self._to,
            "_to_copy": self._to,
        }
        for name in _IDENTITY_OPS:
            self.handlers[name] = lambda n, a: self._view(self.env[n.args[0]])

    # ----- entry -----------------------------------------------------------

    def run(self) -> ImportedModel:
        graph = self.program.graph
        names = self._placeholder_names()
        image_nodes = [n for n in graph.nodes if n.op == "placeholder" and n.name not in names]
        if len(image_nodes) != 1:
            raise VaqfError(
                f"the model must take exactly one tensor input (the image), it takes {len(image_nodes)}"
            )
        self.fused = match_gelu_tanh(graph)
        output = next((n for n in graph.nodes if n.op == "output"), None)
        if output is None:
            raise VaqfError("the exported graph has no output")
        logits = self._logits_node(output)
        live = live_nodes(logits, self.fused)  # dead code is neither imported nor judged
        for node in graph.nodes:
            if node.op == "placeholder":
                self.env[node] = self._placeholder(node, names)
            elif node.op == "call_function" and node in live:
                self.env[node] = self._fused(node) if node in self.fused else self._call(node)
        return self._finish(logits)

    def _fused(self, node: Node) -> View:
        """A tanh-GELU written as its formula (frontend/patterns.py): one vit.gelu with `tanh`."""
        try:
            view = self._view(self.env[self.fused[node]])
            value = self._materialize(view)
        except (UnsupportedError, LayoutError) as e:
            raise VaqfError(f"unsupported tanh-GELU (shape {_shape_of(node)}){_source_of(node)}: {e}") from None
        return self._same_layout(view, value, vit.GeluOp(value, tanh=True))

    def _placeholder_names(self) -> dict[str, tuple[str, torch.Tensor]]:
        """Graph input name -> (parameter name, value) for parameters, buffers and constants."""
        program = self.program
        state = {**program.state_dict, **program.constants}
        out = {}
        for spec in program.graph_signature.input_specs:
            if spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
                assert spec.target is not None
                out[spec.arg.name] = (spec.target, state[spec.target])
            elif spec.kind != InputKind.USER_INPUT:
                raise VaqfError(f"unsupported graph input '{spec.arg.name}' of kind {spec.kind.name}")
        return out

    def _placeholder(self, node: Node, names: dict[str, tuple[str, torch.Tensor]]) -> Any:
        if node.name in names:
            target, value = names[node.name]
            return Const(value.detach(), target)
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor):
            raise VaqfError(f"model input '{node.name}' is not a tensor")
        shape = list(val.shape)
        if not all(isinstance(d, int) for d in shape):
            raise VaqfError(
                f"model input '{node.name}' has a dynamic shape {shape}; export with static shapes"
                " (no dynamic_shapes=) so vaqf can size the accelerator"
            )
        if len(shape) != 4 or shape[0] != 1:
            raise VaqfError(
                f"model input '{node.name}' must be one image [1, C, H, W], got {shape};"
                " export with a batch of one"
            )
        if val.dtype != torch.float32:
            raise VaqfError(f"model input '{node.name}' must be float32, got {val.dtype}")
        c, h, w = shape[1:]
        self.image_type = vit.tensor(c, h, w)
        self.image_arg = self.block.insert_arg(self.image_type, 0)
        self.image_arg.name_hint = "image"
        factors = [Factor(c), Factor(h), Factor(w)]
        self.canon[self.image_arg] = factors
        return View(self.image_arg, [[], [factors[0]], [factors[1]], [factors[2]]])

    def _call(self, node: Node) -> Any:
        args = [self.env.get(a, a) if isinstance(a, Node) else a for a in node.args]
        if node.target is operator.getitem:
            return args[0][args[1]]
        inputs = [v for v in torch.utils._pytree.tree_leaves((node.args, node.kwargs)) if isinstance(v, Node)]
        if not any(isinstance(self.env[n], (View, TokenWindow, FeatureConcat, list)) for n in inputs):
            return self._fold(node)
        packet = getattr(node.target, "_overloadpacket", None)
        key = packet.__name__ if packet is not None else str(node.target)
        handler = self.handlers.get(key)
        if handler is None:
            raise VaqfError(
                f"unsupported aten op '{node.target}' on an activation of shape {_shape_of(node)}{_source_of(node)};"
                " vaqf handles ViT graphs (conv patch embedding, linear, layer_norm, attention, gelu, add)"
            )
        kwargs = self._normalized_args(node)
        try:
            return handler(node, kwargs)
        except (UnsupportedError, LayoutError) as e:
            raise VaqfError(f"unsupported '{node.target}' (shape {_shape_of(node)}){_source_of(node)}: {e}") from None

    def _normalized_args(self, node: Node) -> dict[str, Any]:
        pair = normalize_function(
            node.target, tuple(node.args), dict(node.kwargs), normalize_to_only_use_kwargs=True
        )
        if pair is None:
            raise VaqfError(f"cannot read the arguments of '{node.target}'{_source_of(node)}")
        return {
            k: torch.fx.node.map_arg(v, lambda n: self.env[n]) if isinstance(v, (Node, list, tuple)) else v
            for k, v in pair.kwargs.items()
        }

    def _fold(self, node: Node) -> Const | list[Const]:
        """Evaluate an op of constants with torch; unmodified parameters keep their name."""

        def value(a: Any) -> Any:
            return a.value if isinstance(a, Const) else a

        args = torch.fx.node.map_arg(node.args, lambda n: self.env[n])
        kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: self.env[n])
        args, kwargs = torch.utils._pytree.tree_map(value, (args, kwargs))
        try:
            with torch.no_grad():
                result = node.target(*args, **kwargs)
        except Exception as e:  # any torch failure: report it with the node
            raise VaqfError(f"cannot evaluate constant '{node.target}'{_source_of(node)}: {e}") from None
        if isinstance(result, (list, tuple)):
            return [Const(r) for r in result]
        name = None
        first = self.env.get(node.args[0]) if node.args and isinstance(node.args[0], Node) else None
        if isinstance(first, Const) and first.name and _same(first.value, result):
            name = first.name
        return Const(result, name)

    def _logits_node(self, node: Node) -> Node:
        """The one tensor the model returns (the field `logits` of a structured output with several)."""
        outputs = torch.utils._pytree.tree_leaves(node.args)
        tensors = [o for o in outputs if isinstance(o, Node)]
        if len(tensors) > 1:
            tensors = self._logits_output(outputs)
        if len(tensors) != 1:
            raise VaqfError(f"the model must return one tensor (the logits), it returns {len(tensors)}")
        return tensors[0]

    def _finish(self, logits: Node) -> ImportedModel:
        result = self.env[logits]
        if not isinstance(result, View):
            raise VaqfError("the model's output does not depend on its input image")
        value = self._materialize(result)
        computed = [op.name for op in self.block.ops]
        if not computed:
            raise VaqfError("the model computes nothing from its image (it returns the input as it is); not a ViT")
        if "vit.patch_embed" not in computed and "vit.patchify" not in computed:
            raise VaqfError(
                "not a ViT: the model has no patch embedding (a conv2d whose kernel equals its stride applied to"
                f" the image); it computes {', '.join(sorted(set(computed)))}"
            )
        self.builder.insert(func.ReturnOp(value))
        used = {p.key for op in self.block.ops if isinstance(op, vit.VitOp) for p in op.params()}
        self.params = {k: v for k, v in self.params.items() if k in used}  # folded-away originals go
        fn = func.FuncOp("forward", ([self.image_type], [value.type]), Region(self.block))
        return ImportedModel(ModuleOp([fn]), self.params)

    def _logits_output(self, outputs: list[Any]) -> list[Any]:
        """The field named `logits` of a structured output (HF's DeiT-with-teacher returns three tensors)."""
        spec = self.program.call_spec.out_spec
        names = getattr(spec, "context", None)
        if spec is None or not isinstance(names, list) or len(names) != len(outputs) or "logits" not in names:
            return [o for o in outputs if isinstance(o, Node)]
        if getattr(spec, "num_leaves", len(outputs)) != len(outputs):
            return [o for o in outputs if isinstance(o, Node)]
        return [outputs[names.index("logits")]]

    # ----- helpers ---------------------------------------------------------

    def _emit(self, op: Operation, factors: list[Factor]) -> SSAValue:
        self.builder.insert(op)
        result = op.results[0]
        self.canon[result] = factors
        return result

    def _param(self, c: Any, what: str, node_name: str) -> vit.ParamAttr:
        if not isinstance(c, Const):
            raise UnsupportedError(f"the {what} must be a parameter, not an activation")
        name = c.name or f"const.{node_name}.{what}"
        if 0 in c.value.shape:
            raise UnsupportedError(f"the {what} '{name}' has a zero-size shape {list(c.value.shape)}"
                                   " (a layer with no channels, classes or heads)")
        array = c.value.detach().to(torch.float32).contiguous().numpy()
        if name in self.params and not np.array_equal(self.params[name], array):
            name = f"{name}.{node_name}"
        self.params[name] = array
        return vit.ParamAttr(name, array.shape if array.ndim else (1,))

    def _view(self, v: Any) -> View:
        if isinstance(v, TokenWindow):
            raise UnsupportedError(f"the tokens [{v.start}:] of an activation are read by something other than a"
                                   " mean over them (vaqf supports dropping leading tokens only for mean pooling)")
        if isinstance(v, FeatureConcat):
            raise UnsupportedError("a concatenation of feature vectors is read by something other than a linear"
                                   " (vaqf splits the linear that reads it)")
        if not isinstance(v, View):
            raise UnsupportedError("expected an activation")
        return v

    def _dims(self, value: SSAValue) -> list[list[Factor]]:
        """The canonical leaves of `value` grouped by its IR dimensions (size-1 leaves dropped)."""
        assert isinstance(value.type, TensorType)
        leaves = [leaf for f in self.canon[value] for leaf in f.leaves() if leaf.size > 1]
        dims: list[list[Factor]] = []
        for size in value.type.get_shape():
            group, have = [], 1
            while have < size:
                leaf = leaves.pop(0)
                group.append(leaf)
                have *= leaf.size
            dims.append(group)
        return dims

    def _materialize(self, v: View, rank: int | None = None) -> SSAValue:
        """An IR value whose memory order is the view's order (emitting split/merge of heads).

        `rank` asks for tokens (2) or per-head data (3) where one head makes both orders equal.
        """
        want = [f for f in v.leaves if f.size > 1]
        dims = self._dims(v.value)
        if not v.fixed and want == [f for d in dims for f in d] and rank in (None, len(dims)):
            return v.value
        key = (v.value, rank, tuple(map(id, want)), tuple(sorted((id(f), i) for f, i in v.fixed.items())))
        if key not in self.materialized:
            self.materialized[key] = self._rearrange(v, want, rank)
        return self.materialized[key]

    def _rearrange(self, v: View, want: list[Factor], rank: int | None) -> SSAValue:
        dims = self._dims(v.value)
        if any(f.parts for f in v.fixed):
            raise LayoutError("a selected dimension was reshaped afterwards")
        if len(dims) == 2 and rank in (None, 3):
            tokens, features = dims
            k = 0
            while k < len(features) and features[k] in v.fixed:
                k += 1
            prefix, rest = features[:k], features[k:]
            if set(v.fixed) == set(prefix) and rest:
                for j in range(len(rest)):
                    if want == rest[:j] + tokens + rest[j:]:
                        part = 0
                        for f in prefix:
                            part = part * f.size + v.fixed[f]
                        parts = math.prod(f.size for f in prefix)
                        heads = math.prod(f.size for f in rest[:j])
                        n, d = math.prod(f.size for f in tokens), math.prod(f.size for f in rest[j:])
                        op = vit.SplitHeadsOp(v.value, heads, part, parts, vit.tensor(heads, n, d))
                        return self._emit(op, want)
        if len(dims) == 3 and not v.fixed and rank in (None, 2):
            heads, tokens, per_head = dims
            if want == tokens + heads + per_head:
                n = math.prod(f.size for f in tokens)
                op = vit.MergeHeadsOp(v.value, vit.tensor(n, math.prod(f.size for f in heads + per_head)))
                return self._emit(op, want)
        raise LayoutError("this rearrangement of the data is not a head split/merge that vaqf supports")

    def _rows(self, v: Any) -> tuple[View, SSAValue]:
        """An activation used row-wise over its last axis: tokens [N, D] or a vector [D]."""
        view = self._view(v)
        value = self._materialize(view, rank=2 if len(self._dims(view.value)) == 3 else None)
        dims = self._dims(value)
        last = [f for f in leaves_of(view.axes[-1:]) if f.size > 1]
        if len(dims) > 2 or not dims or dims[-1] != last:
            raise UnsupportedError("expected token features [N, D] along the last axis")
        return view, value

    def _feature_rows(self, v: Any) -> tuple[View, SSAValue, np.ndarray | None]:
        """`_rows` for an op that can take its features in any order (linear, layer_norm).

        Returns (view, value, perm) where, when the view's last axis orders the
        value's features differently (a patch flattened as (p1, p2, c)), column
        j of the view is column perm[j] of the value; the op permutes its
        parameters instead of the data. A view of the image cut into patches
        by reshape/permute becomes `vit.patchify` first.
        """
        view = self._view(v)
        try:
            view, value = self._rows(view)
            return view, value, None
        except (UnsupportedError, LayoutError):
            if view.value is getattr(self, "image_arg", None):
                view = self._patchify(view)
            dims = self._dims(view.value)
            rows = [f for f in leaves_of(view.axes[:-1]) if f.size > 1]
            last = [f for f in leaves_of(view.axes[-1:]) if f.size > 1]
            if view.fixed or len(dims) != 2 or rows != dims[0] or sorted(map(id, last)) != sorted(map(id, dims[1])):
                raise UnsupportedError(self._feature_cause(view, dims, last)) from None
        cols = dims[1]
        order = np.arange(math.prod(f.size for f in cols)).reshape([f.size for f in cols])
        perm = order.transpose([cols.index(f) for f in last]).reshape(-1)
        return view, view.value, None if np.array_equal(perm, order.reshape(-1)) else perm

    @staticmethod
    def _feature_cause(view: View, dims: list[list[Factor]], last: list[Factor]) -> str:
        """Why a linear/layer norm cannot read `view`: the real cause, in the model's terms."""
        if len(dims) == 2 and last and set(map(id, last)) <= set(map(id, dims[0])):
            return (f"it runs over the token axis (input {view.shape}: tokens moved to the last axis, as in"
                    " MLP-Mixer's token mixing); vaqf's FC layers and layer norms run over each token's features")
        if len(dims) == 3 and len(view.axes) == 4:
            return "it reads per-head data [heads, tokens, head_dim] before the heads are merged back into tokens"
        return (f"its input {view.shape} arranges the data in a way vaqf does not map (the features must lie"
                " along the last axis of [tokens, features], possibly after a head merge)")

    def _patchify(self, view: View) -> View:
        """The image cut into non-overlapping patches by reshape/permute (einops'
        `b c (h p1) (w p2) -> b (h w) (p1 p2 c)`, any order of the last group)."""
        c, h, w = self.canon[self.image_arg]
        hl, wl = h.leaves(), w.leaves()
        rows = [f for f in leaves_of(view.axes[:-1]) if f.size > 1]
        feats = [f for f in leaves_of(view.axes[-1:]) if f.size > 1]
        if not c.parts and not h.parts and not w.parts and not view.fixed:
            what = "the flattened image (an MLP)" if len(rows) == 0 else f"the image {view.shape} as it is"
            raise UnsupportedError(f"it reads {what}; a ViT cuts the image into patches first (a conv2d whose"
                                   " kernel equals its stride, or reshape/permute into [(h w), (p1 p2 c)])")
        if c.parts or len(hl) != 2 or len(wl) != 2 or view.fixed or rows != [hl[0], wl[0]] or sorted(
            map(id, feats)) != sorted(id(f) for f in (c, hl[1], wl[1]) if f.size > 1):
            raise UnsupportedError(
                f"the image is rearranged to {view.shape}, not into non-overlapping patches [(h w), (p1 p2 c)]"
                " in some order of p1, p2, c (or a conv2d patch embedding)"
            )
        ph, pw = hl[1].size, wl[1].size
        n = hl[0].size * wl[0].size
        op = vit.PatchifyOp(self.image_arg, [ph, pw], vit.tensor(n, c.size * ph * pw))
        return View(self._emit(op, [hl[0], wl[0], c, hl[1], wl[1]]), view.axes)

    @staticmethod
    def _permuted(c: Any, perm: np.ndarray | None, axis: int) -> Any:
        """A parameter whose entries along `axis` follow the value's feature order instead of the view's."""
        if perm is None or not isinstance(c, Const):
            return c
        index = torch.from_numpy(np.argsort(perm))
        return Const(c.value.index_select(axis, index), c.name)

    def _heads(self, v: Any, transposed: bool = False) -> tuple[View, SSAValue]:
        """An activation used per head: [H, N, d] (with the last two axes swapped if `transposed`)."""
        view = self._view(v)
        if transposed:
            view = view.transpose(-2, -1)
        value = self._materialize(view, rank=3)
        if len(self._dims(value)) != 3:
            raise UnsupportedError("expected per-head data [heads, tokens, head_dim]")
        return view, value

    def _same_layout(self, view: View, value: SSAValue, op: Operation) -> View:
        """The result of a shape-preserving op: same factors, new value."""
        result = self._emit(op, list(self.canon[value]))
        return View(result, view.axes)

    # ----- handlers --------------------------------------------------------

    def _conv(self, node: Node, a: dict[str, Any]) -> View:
        view = self._view(a["input"])
        image = self._materialize(view)
        if len(self._dims(image)) != 3 or len(view.axes) < 3:
            raise UnsupportedError("the patch-embedding conv must read the input image")
        w = a["weight"]
        if not isinstance(w, Const) or w.value.dim() != 4:
            raise UnsupportedError("conv weight must be a 4-D parameter")
        if a.get("transposed"):
            raise UnsupportedError("transposed convolution is not a patch embedding")
        groups = a.get("groups", 1)
        if groups != 1:
            raise UnsupportedError(f"grouped/depthwise conv2d (groups={groups}) is not a patch embedding")
        kernel = list(w.value.shape[2:])
        stride, padding, dilation = (_pair(a.get(k, d)) for k, d in (("stride", 1), ("padding", 0), ("dilation", 1)))
        if dilation != [1, 1]:
            raise UnsupportedError(f"dilated conv2d (dilation={dilation}) is not a patch embedding")
        if stride != kernel:
            raise UnsupportedError(f"conv2d kernel {kernel} differs from stride {stride}: not a patch embedding")
        if padding != [0, 0]:
            raise UnsupportedError(f"conv2d with padding {padding} is not a patch embedding")
        c, h, w_ = image.type.get_shape()  # type: ignore[union-attr]
        if h % kernel[0] or w_ % kernel[1]:
            raise UnsupportedError(f"image {h}x{w_} is not a multiple of the patch size {kernel[0]}x{kernel[1]}")
        d, ph, pw = w.value.shape[0], h // kernel[0], w_ // kernel[1]
        bias = self._param(a["bias"], "bias", node.name) if a.get("bias") is not None else None
        op = vit.PatchEmbedOp(
            image, self._param(w, "weight", node.name), bias, stride, padding, vit.tensor(ph * pw, d)
        )
        fd, fh, fw = Factor(d), Factor(ph), Factor(pw)
        result = self._emit(op, [fh, fw, fd])
        return View(result, view.axes[:-3] + [[fd], [fh], [fw]])

    def _linear(self, node: Node, a: dict[str, Any]) -> View:
        if isinstance(a["input"], FeatureConcat):
            return self._split_linear(node, a, a["input"].parts)
        view, value, perm = self._feature_rows(a["input"])
        w = self._param(self._permuted(a["weight"], perm, 1), "weight", node.name)
        if len(w.shape) != 2:
            raise UnsupportedError(f"linear weight must be 2-D, got {list(w.shape)}")
        b = self._param(a["bias"], "bias", node.name) if a.get("bias") is not None else None
        shape = list(value.type.get_shape())  # type: ignore[union-attr]
        out = Factor(w.shape[0])
        op = vit.LinearOp(value, w, b, vit.tensor(*shape[:-1], w.shape[0]))
        rows = [f for d in self._dims(value)[:-1] for f in d]
        return View(self._emit(op, rows + [out]), view.axes[:-1] + [[out]])

    def _split_linear(self, node: Node, a: dict[str, Any], parts: list[View]) -> View:
        """W·cat(x_1, …, x_k) + b as Σ_i W[:, cols_i]·x_i + b: one vit.linear per part, then vit.add."""
        w = a["weight"]
        if not isinstance(w, Const) or w.value.dim() != 2 or w.value.shape[1] != sum(p.shape[-1] for p in parts):
            raise UnsupportedError("a linear over concatenated features needs a 2-D weight over all of them")
        out = Factor(w.value.shape[0])
        total, start, first_view = None, 0, None
        for i, part in enumerate(parts):
            view, value = self._rows(part)
            if len(self._dims(value)) != 1:
                raise UnsupportedError("only feature vectors [D] (one token each) can be concatenated")
            first_view = first_view or view
            width = part.shape[-1]
            name = f"{w.name or node.name}.cols{start}_{start + width}"
            cols = Const(w.value[:, start : start + width].contiguous(), name)
            b = self._param(a["bias"], "bias", node.name) if i == 0 and a.get("bias") is not None else None
            y = self._emit(vit.LinearOp(value, self._param(cols, "weight", node.name), b, vit.tensor(out.size)), [out])
            total = y if total is None else self._emit(vit.AddOp(total, y), [out])
            start += width
        assert total is not None and first_view is not None
        return View(total, first_view.axes[:-1] + [[out]])

    def _layer_norm(self, node: Node, a: dict[str, Any]) -> View:
        view, value, perm = self._feature_rows(a["input"])
        shape = list(a["normalized_shape"])
        if len(shape) != 1 or shape[0] != view.shape[-1]:
            raise UnsupportedError(f"layer_norm must normalise the last axis only, got normalized_shape={shape}")
        w, b = (self._param(self._permuted(a[k], perm, 0), k, node.name) if a.get(k) is not None else None
                for k in ("weight", "bias"))
        return self._same_layout(view, value, vit.LayerNormOp(value, w, b, float(a["eps"]), value.type))

    def _gelu(self, node: Node, a: dict[str, Any]) -> View:
        view = self._view(a["input"])
        value = self._materialize(view)
        approximate = a.get("approximate", "none")
        if approximate not in ("none", "tanh"):
            raise UnsupportedError(f"gelu approximate={approximate!r}")
        return self._same_layout(view, value, vit.GeluOp(value, tanh=approximate == "tanh"))

    def _softmax(self, node: Node, a: dict[str, Any]) -> View:
        view = self._view(a["input"])
        value = self._materialize(view)
        dim = a["dim"]
        last = [f for f in leaves_of(view.axes[-1:]) if f.size > 1]
        if dim not in (-1, len(view.axes) - 1) or self._dims(value)[-1] != last:
            raise UnsupportedError(f"softmax must run over the last axis, got dim={dim}")
        return self._same_layout(view, value, vit.SoftmaxOp(value))

    def _scale(self, x: Any, factor: float) -> View:
        view = self._view(x)
        value = self._materialize(view)
        return self._same_layout(view, value, vit.ScaleOp(value, factor))

    def _scalar(self, c: Any) -> float:
        if isinstance(c, (int, float)) and not isinstance(c, bool):
            return float(c)
        if isinstance(c, Const) and c.value.numel() == 1:
            return float(c.value.reshape(()).item())
        raise UnsupportedError("only multiplication by a scalar constant is supported")

    def _mul(self, node: Node, a: dict[str, Any]) -> View:
        x, y = a["input"], a["other"]
        if isinstance(x, View) and isinstance(y, View):
            raise UnsupportedError("element-wise product of two activations")
        view, const = (x, y) if isinstance(x, View) else (y, x)
        if isinstance(const, Const) and const.value.numel() > 1:
            return self._layer_scale(node, view, const)
        return self._scale(view, self._scalar(const))

    def _layer_scale(self, node: Node, view: View, gamma: Const) -> View:
        """A per-feature factor right after a linear (LayerScale in BEiT, DINOv2, CaiT): folded into
        the linear's rows, y = (γ·W) x + γ·b."""
        d = view.shape[-1] if view.shape else 0
        if list(gamma.value.shape) not in ([d], [1, d], [1, 1, d]):
            raise UnsupportedError(f"multiplication by a constant of shape {list(gamma.value.shape)}: vaqf takes a"
                                   f" scalar, or a per-feature vector [{d}] (layer scale) right after a linear")
        view, value = self._rows(view)
        owner = value.owner
        users = [n for n in node.args if isinstance(n, Node) and not isinstance(self.env.get(n), Const)]
        if not isinstance(owner, vit.LinearOp) or value.uses or any(len(n.users) != 1 for n in users):
            raise UnsupportedError("a per-feature factor (layer scale) is folded into the linear before it;"
                                   " here it does not follow a linear whose output nothing else reads")
        g = gamma.value.reshape(-1).to(torch.float64)
        w = torch.from_numpy(self.params[owner.weight.key]).to(torch.float64)
        tag = gamma.name or node.name
        scaled_w = Const((w * g.reshape(-1, *[1] * (w.dim() - 1))).to(torch.float32), f"{owner.weight.key}*{tag}")
        owner.properties["weight"] = self._param(scaled_w, "weight", node.name)
        if owner.bias is not None:
            b = torch.from_numpy(self.params[owner.bias.key]).to(torch.float64)
            scaled_b = Const((b * g).to(torch.float32), f"{owner.bias.key}*{tag}")
            owner.properties["bias"] = self._param(scaled_b, "bias", node.name)
        return view

    def _div(self, node: Node, a: dict[str, Any]) -> View:
        if a.get("rounding_mode") is not None or isinstance(a["other"], View):
            raise UnsupportedError("only division by a scalar constant is supported")
        return self._scale(a["input"], 1.0 / self._scalar(a["other"]))

    def _add(self, node: Node, a: dict[str, Any]) -> View:
        x, y = a["input"], a["other"]
        if a.get("alpha", 1) != 1:
            raise UnsupportedError("add with alpha != 1")
        if isinstance(x, View) and isinstance(y, View):
            lv, lhs = x, self._materialize(x)
            rhs = self._materialize(y)
            if lhs.type != rhs.type or x.shape != y.shape:
                raise UnsupportedError(f"residual add of differently laid out activations {x.shape} and {y.shape}")
            return self._same_layout(lv, lhs, vit.AddOp(lhs, rhs))
        view, const = (x, y) if isinstance(x, View) else (y, x)
        if isinstance(const, (int, float)):
            if const != 0:
                raise UnsupportedError("adding a non-zero scalar")
            return view
        if const.name is None and not const.value.any():
            return view  # a computed all-zero additive mask, e.g. HF's eager attention mask
        view, value = self._rows(view)
        if len(self._dims(value)) != 2 or const.value.numel() != math.prod(view.shape):
            raise UnsupportedError("adding a constant that is not a position embedding of the token sequence")
        return self._same_layout(view, value, vit.PosEmbedAddOp(value, self._param(const, "pos", node.name)))

    def _matmul(self, node: Node, a: dict[str, Any]) -> View:
        lview, lhs = self._heads(a["input"])
        other = a.get("other", a.get("mat2"))
        try:
            rview, rhs, transposed = (*self._heads(other), False)
            cols = rview.axes[-1]
        except (UnsupportedError, LayoutError):
            rview, rhs, transposed = (*self._heads(other, transposed=True), True)
            cols = rview.axes[-2]
        lhs, f_lhs = self._unscaled(lhs, node.args[0])
        rhs, f_rhs = self._unscaled(rhs, node.args[1])
        h, n, _ = lhs.type.get_shape()  # type: ignore[union-attr]
        m = Factor(math.prod(f.size for f in cols))
        op = vit.MatmulOp(lhs, rhs, transposed, vit.tensor(h, n, m.size))
        rows = [f for d in self._dims(lhs)[:-1] for f in d]
        result = self._emit(op, rows + [m])
        if f_lhs * f_rhs != 1.0:
            result = self._emit(vit.ScaleOp(result, f_lhs * f_rhs), rows + [m])
        return View(result, lview.axes[:-1] + [[m]])

    def _unscaled(self, value: SSAValue, arg: Any) -> tuple[SSAValue, float]:
        """A matmul operand scaled just before (`q * d**-0.5`, as nn.MultiheadAttention with
        need_weights=True computes): (the unscaled operand, the factor) so the scale follows the
        product, where it does in every other attention; the two agree exactly in real arithmetic.
        Only when the scaled value has no other reader."""
        owner = value.owner
        if not isinstance(owner, vit.ScaleOp) or value.uses or not isinstance(arg, Node):
            return value, 1.0
        node = arg
        while len(node.users) == 1:
            packet = getattr(node.target, "_overloadpacket", None)
            kind = packet.__name__ if packet is not None else ""
            if kind in ("mul", "div"):
                self.block.erase_op(owner)
                self.materialized = {k: v for k, v in self.materialized.items() if v is not value}
                return owner.input, owner.factor.value.data
            if kind not in _VIEW_KINDS or not isinstance(node.args[0], Node):
                break
            node = node.args[0]
        return value, 1.0

    def _sdpa(self, node: Node, a: dict[str, Any]) -> View:
        if a.get("dropout_p", 0.0):
            raise UnsupportedError(f"attention dropout_p={a['dropout_p']} is active at inference")
        if a.get("is_causal"):
            raise UnsupportedError("causal attention is not a ViT encoder")
        if a.get("enable_gqa"):
            raise UnsupportedError("grouped-query attention")
        mask = a.get("attn_mask")
        if mask is not None:
            trivial = isinstance(mask, Const) and (
                bool(mask.value.all()) if mask.value.dtype == torch.bool else not mask.value.any()
            )
            if not trivial:
                raise UnsupportedError("attention with a mask (only an all-true/all-zero mask is accepted)")
        qview, q = self._heads(a["query"])
        _, k = self._heads(a["key"])
        _, v = self._heads(a["value"])
        h, n, d = q.type.get_shape()  # type: ignore[union-attr]
        hv, nv, dv = v.type.get_shape()  # type: ignore[union-attr]
        scale = a.get("scale") or 1.0 / math.sqrt(d)
        rows = [f for dim in self._dims(q)[:-1] for f in dim]
        m, e = Factor(n), Factor(dv)
        scores = self._emit(vit.MatmulOp(q, k, True, vit.tensor(h, n, nv)), rows + [m])
        scores = self._emit(vit.ScaleOp(scores, float(scale)), rows + [m])
        probs = self._emit(vit.SoftmaxOp(scores), rows + [m])
        out = self._emit(vit.MatmulOp(probs, v, False, vit.tensor(h, n, dv)), rows + [e])
        return View(out, qview.axes[:-1] + [[e]])

    def _cat(self, node: Node, a: dict[str, Any]) -> View | FeatureConcat:
        parts = list(a["tensors"])
        acts = [i for i, p in enumerate(parts) if isinstance(p, View)]
        dim = a.get("dim", 0)
        if len(acts) == len(parts) > 1 and all(dim in (-1, len(p.shape) - 1) and math.prod(p.shape[:-1]) == 1
                                              for p in parts):
            return FeatureConcat(parts)  # feature vectors end to end: read by a linear (`_split_linear`)
        if len(acts) != 1 or acts[0] != len(parts) - 1:
            raise UnsupportedError("cat must prepend learned tokens (parameters) to the patch tokens")
        view, value = self._rows(parts[-1])
        dims = self._dims(value)
        dim = a.get("dim", 0)
        dim = dim + len(view.axes) if dim < 0 else dim
        if len(dims) != 2 or [f for f in view.axes[dim] if f.size > 1] != dims[0]:
            raise UnsupportedError("cat must join along the token axis")
        d = value.type.get_shape()[1]  # type: ignore[union-attr]
        tokens = []
        for i, p in enumerate(parts[:-1]):
            if not isinstance(p, Const) or p.value.numel() % d:
                raise UnsupportedError("cat operands before the patches must be learned tokens")
            tokens.append(self._param(p, f"token{i}", node.name))
        if any(t.numel != d for t in tokens):
            raise UnsupportedError("each learned token must hold exactly one token")
        n = Factor(value.type.get_shape()[0] + len(tokens))  # type: ignore[union-attr]
        op = vit.ClsConcatOp(value, tokens, vit.tensor(n.size, d))
        axes = list(view.axes)
        axes[dim] = [n]
        return View(self._emit(op, [n] + dims[1]), axes)

    def _select(self, node: Node, a: dict[str, Any]) -> View:
        view = self._view(a["input"])
        dim, index = a["dim"], a["index"]
        dim = dim + len(view.axes) if dim < 0 else dim
        axis = [f for f in view.axes[dim] if f.size > 1]
        value = view.value
        dims = self._dims(value)
        if not view.fixed and len(dims) == 2 and axis == dims[0]:
            _, value = self._rows(view)
            n, d = value.type.get_shape()  # type: ignore[union-attr]
            index = index + n if index < 0 else index
            result = self._emit(vit.SelectTokenOp(value, index, vit.tensor(d)), list(dims[1]))
            return View(result, view.axes[:dim] + view.axes[dim + 1 :])
        return view.select(dim, index)

    def _mean(self, node: Node, a: dict[str, Any]) -> View:
        """Mean pooling: the average over the token axis of [N, D] tokens (`x.mean(dim=1)`)."""
        window = a["input"] if isinstance(a["input"], TokenWindow) else None
        view = window.view if window is not None else self._view(a["input"])
        dims = a.get("dim")
        if a.get("dtype") not in (None, torch.float32):
            raise UnsupportedError(f"mean in {a['dtype']}")
        if dims is None or (isinstance(dims, (list, tuple)) and len(dims) != 1):
            raise UnsupportedError(f"mean over dims {dims}: vaqf averages over the token axis only (mean pooling)")
        dim = dims[0] if isinstance(dims, (list, tuple)) else dims
        dim = dim + len(view.axes) if dim < 0 else dim
        if not 0 <= dim < len(view.axes) - 1:
            raise UnsupportedError(f"mean over dim {dims}: vaqf averages over the token axis only (mean pooling)")
        _, value = self._rows(view)
        tokens = self._dims(value)
        axis = [f for f in leaves_of(view.axes[dim : dim + 1]) if f.size > 1]
        if len(tokens) != 2 or axis != tokens[0]:
            raise UnsupportedError("mean over an axis that is not the tokens of [N, D]: vaqf supports mean pooling")
        if window is not None and window.dim != dim:
            raise UnsupportedError(f"mean over dim {dim} of tokens sliced along dim {window.dim}")
        d = value.type.get_shape()[1]  # type: ignore[union-attr]
        first = window.start if window is not None else 0
        result = self._emit(vit.MeanPoolOp(value, vit.tensor(d), first), list(tokens[1]))
        axes = view.axes[:dim] + ([[]] if a.get("keepdim") else []) + view.axes[dim + 1 :]
        return View(result, axes)

    def _unbind(self, node: Node, a: dict[str, Any]) -> list[View]:
        view = self._view(a["input"])
        return [view.select(a["dim"], i) for i in range(view.shape[a["dim"]])]

    def _chunk(self, node: Node, a: dict[str, Any]) -> list[View]:
        return self._view(a["input"]).split_axis(a["dim"], a["chunks"])

    def _dropout(self, node: Node, a: dict[str, Any]) -> View:
        if a.get("train") and a.get("p"):
            raise UnsupportedError(f"dropout p={a['p']} is active; export the model in eval() mode")
        return self._view(a["input"])

    def _reshape(self, node: Node, a: dict[str, Any]) -> View:
        return self._view(a["input"]).reshape(list(a.get("size", a.get("shape"))))

    def _squeeze(self, node: Node, a: dict[str, Any]) -> View:
        dims = a.get("dim", a.get("dims"))
        if dims is not None and not isinstance(dims, (list, tuple)):
            dims = [dims]
        return self._view(a["input"]).squeeze(None if dims is None else list(dims))

    def _expand(self, node: Node, a: dict[str, Any]) -> View:
        view = self._view(a["input"])
        size = list(a["size"])
        shape = view.shape
        if len(size) != len(shape) or any(s not in (-1, d) for s, d in zip(size, shape)):
            raise UnsupportedError(f"broadcasting an activation from {shape} to {size}")
        return view

    def _slice(self, node: Node, a: dict[str, Any]) -> View:
        view = self._view(a["input"])
        dim = a.get("dim", 0)
        size = view.shape[dim]
        start, end, step = a.get("start") or 0, a.get("end"), a.get("step", 1)
        if start == 0 and step == 1 and (end is None or end >= size):
            return view
        dim = dim + len(view.axes) if dim < 0 else dim
        if step == 1 and 0 < start < size and (end is None or end >= size) and dim < len(view.axes) - 1:
            return TokenWindow(view, dim, start)  # `x[:, k:]`: the mean over it is mean pooling from token k
        raise UnsupportedError(f"slicing an activation [{start}:{end}:{step}] along dim {dim}")

    def _to(self, node: Node, a: dict[str, Any]) -> View:
        dtype = a.get("dtype")
        if dtype not in (None, torch.float32):
            raise UnsupportedError(f"conversion of an activation to {dtype}")
        return self._view(a["input"])


def _same(a: torch.Tensor, b: Any) -> bool:
    return isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))


def _pair(v: Any) -> list[int]:
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return [int(v[0])] * 2 if len(v) == 1 else [int(x) for x in v]


def import_program(program: ExportedProgram) -> ImportedModel:
    """Translate an ExportedProgram of a ViT into a `vit` module and its parameters.

    Every failure is a one-line `VaqfError`; anything the handlers did not foresee
    (an IR verifier, torch) is reported as such rather than as a traceback.
    """
    try:
        return TorchImporter(program).run()
    except VaqfError:
        raise
    except (Exception, RecursionError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise VaqfError(f"cannot import the model ({type(e).__name__}): {first}") from None
