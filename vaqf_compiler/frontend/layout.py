"""Symbolic layouts: how a PyTorch tensor in the traced graph views an IR value.

The aten graph moves data around with view ops (reshape, permute, transpose,
unbind, squeeze …) whose exact sequence differs between model libraries. We
do not pattern-match those sequences. Instead every activation tensor is a
*view* of one IR value, described by *factors*:

- an IR value's memory is a row-major sequence of leaf factors (its
  canonical order), e.g. a fused QKV projection `[N, 3*H*d]` is
  `[n, p, h, e]` once reshapes have split its feature factor;
- a torch tensor is a list of axes, each a row-major group of factors, plus
  factors fixed to one index by `select`/`unbind` (e.g. `p = 0` for Q).

View ops only rewrite this description. An op that needs data in a given
arrangement asks for it (`View.leaves`), and the importer emits the IR op
that produces that arrangement (`vit.split_heads`, `vit.merge_heads`), or
reports the layout as unsupported. Size-1 axes (the batch of one) carry no
factors and never matter for memory order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from xdsl.ir import SSAValue


class LayoutError(Exception):
    """A view op that factors cannot describe (reported by the importer with the node)."""


class Factor:
    """One dimension of data; splitting a factor refines it everywhere it is used."""

    __slots__ = ("size", "parts")

    def __init__(self, size: int):
        self.size = size
        self.parts: list[Factor] = []

    def leaves(self) -> list[Factor]:
        return [self] if not self.parts else [leaf for p in self.parts for leaf in p.leaves()]

    def split(self, outer: int) -> tuple[Factor, Factor]:
        """Split into (outer, size // outer), row-major."""
        assert not self.parts and self.size % outer == 0 and 1 < outer < self.size
        self.parts = [Factor(outer), Factor(self.size // outer)]
        return self.parts[0], self.parts[1]

    def __repr__(self) -> str:
        return f"F{id(self) % 10000}({self.size})"


Axis = list[Factor]


def leaves_of(axes: list[Axis]) -> list[Factor]:
    return [leaf for axis in axes for f in axis for leaf in f.leaves()]


def axis_size(axis: Axis) -> int:
    return math.prod(f.size for f in axis)


@dataclass
class View:
    """A torch tensor as a view of IR value `value` (see the module docstring)."""

    value: SSAValue
    axes: list[Axis]
    fixed: dict[Factor, int] = field(default_factory=dict)

    @property
    def shape(self) -> list[int]:
        return [axis_size(a) for a in self.axes]

    @property
    def leaves(self) -> list[Factor]:
        return leaves_of(self.axes)

    def with_axes(self, axes: list[Axis]) -> View:
        return View(self.value, axes, dict(self.fixed))

    # ----- view ops --------------------------------------------------------

    def reshape(self, shape: list[int]) -> View:
        shape = _resolve_shape(shape, math.prod(self.shape))
        flat = [leaf for leaf in self.leaves if leaf.size > 1]
        axes: list[Axis] = []
        for d in shape:
            axis: Axis = []
            have = 1
            while have < d:
                if not flat:
                    raise LayoutError(f"cannot reshape {self.shape} to {shape}")
                f = flat.pop(0)
                if d % (have * f.size) == 0:
                    axis.append(f)
                    have *= f.size
                elif f.size % (d // have) == 0 and d % have == 0:
                    outer, inner = f.split(d // have)
                    axis.append(outer)
                    flat.insert(0, inner)
                    have = d
                else:
                    raise LayoutError(f"reshape {self.shape} -> {shape} regroups data across dimensions")
            axes.append(axis)
        if flat:
            raise LayoutError(f"cannot reshape {self.shape} to {shape}")
        return self.with_axes(axes)

    def permute(self, dims: list[int]) -> View:
        dims = [_norm_dim(d, len(self.axes)) for d in dims]
        if sorted(dims) != list(range(len(self.axes))):
            raise LayoutError(f"bad permutation {dims} of rank {len(self.axes)}")
        return self.with_axes([self.axes[d] for d in dims])

    def transpose(self, a: int, b: int) -> View:
        dims = list(range(len(self.axes)))
        a, b = _norm_dim(a, len(dims)), _norm_dim(b, len(dims))
        dims[a], dims[b] = dims[b], dims[a]
        return self.permute(dims)

    def unsqueeze(self, dim: int) -> View:
        axes = list(self.axes)
        axes.insert(_norm_dim(dim, len(axes) + 1), [])
        return self.with_axes(axes)

    def squeeze(self, dims: list[int] | None) -> View:
        rank = len(self.axes)
        drop = {_norm_dim(d, rank) for d in dims} if dims is not None else set(range(rank))
        return self.with_axes([a for i, a in enumerate(self.axes) if not (i in drop and axis_size(a) == 1)])

    def flatten(self, start: int, end: int) -> View:
        rank = len(self.axes)
        start, end = _norm_dim(start, rank), _norm_dim(end, rank)
        merged = [f for a in self.axes[start : end + 1] for f in a]
        return self.with_axes(self.axes[:start] + [merged] + self.axes[end + 1 :])

    def unflatten(self, dim: int, sizes: list[int]) -> View:
        dim = _norm_dim(dim, len(self.axes))
        part = View(self.value, [self.axes[dim]]).reshape(sizes)
        return self.with_axes(self.axes[:dim] + part.axes + self.axes[dim + 1 :])

    def select(self, dim: int, index: int) -> View:
        """Fix one axis to `index`; the axis must be a single leaf factor (or size 1)."""
        dim = _norm_dim(dim, len(self.axes))
        axis = self.axes[dim]
        leaves = [leaf for f in axis for leaf in f.leaves() if leaf.size > 1]
        size = axis_size(axis)
        index = index + size if index < 0 else index
        if not 0 <= index < size:
            raise LayoutError(f"index {index} out of range for size {size}")
        fixed = dict(self.fixed)
        if len(leaves) == 1:
            fixed[leaves[0]] = index
        elif leaves:
            raise LayoutError("select on an axis that merges several dimensions")
        return View(self.value, self.axes[:dim] + self.axes[dim + 1 :], fixed)

    def split_axis(self, dim: int, chunks: int) -> list[View]:
        """`chunk`/equal `split` along an axis: unflatten into (chunks, rest), then select each."""
        dim = _norm_dim(dim, len(self.axes))
        size = self.shape[dim]
        if size % chunks:
            raise LayoutError(f"cannot split size {size} into {chunks} equal chunks")
        v = self.unflatten(dim, [chunks, size // chunks])
        return [v.select(dim, i) for i in range(chunks)]


def _norm_dim(d: int, rank: int) -> int:
    if not -rank <= d < max(rank, 1):
        raise LayoutError(f"dimension {d} out of range for rank {rank}")
    return d + rank if d < 0 else d


def _resolve_shape(shape: list[int], numel: int) -> list[int]:
    shape = [int(d) for d in shape]
    if shape.count(-1) > 1:
        raise LayoutError(f"shape {shape} has more than one -1")
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        shape[shape.index(-1)] = numel // known if known else 0
    if math.prod(shape) != numel:
        raise LayoutError(f"shape {shape} does not hold {numel} elements")
    return shape
