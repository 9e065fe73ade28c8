"""A plan at concrete sizes on a device: vertex index tuples and, per edge type, its edges as
index tensors.

Built once per size tuple and device (models cache it) from the torch-free
:class:`~designer.runtime.instance.Instance`, which numbers the vertices and lists the pairs
of each edge type by the size-independent predicate of the plan. Edges of one type are stored
*first-endpoint major* (sorted by the ``sets[0]`` endpoint, then the ``sets[1]`` one).
Because G is transitive on every vertex type and preserves edge types, every vertex has the
same number of edges of a type at each end, so grouping the edges by one endpoint gives a
regular ``(rows, count)`` array: pooling is a dense reduction, never a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
from torch import Tensor

from .instance import Instance
from .plan import EdgeType, Plan


@dataclass(frozen=True, eq=False)
class View:
    """The edges of one type grouped by one endpoint: ``rows`` vertices × ``count`` edges.

    ``order`` lists edge positions (first-endpoint major) in view order (None: natural order);
    ``other`` is the opposite endpoint of each edge in view order; ``rank`` maps each edge to
    its position in view order (None: identity).
    """

    order: Tensor | None
    rows: int
    count: int
    other: Tensor
    rank: Tensor | None

    def take(self, states: Tensor) -> Tensor:
        """Edge states ``(E, batch, d)`` in view order."""
        return states if self.order is None else states.index_select(0, self.order)


@dataclass(frozen=True, eq=False)
class EdgeIndex:
    """Edges of one type: endpoints ``first``/``second`` ``(E,)`` and the two endpoint views.

    ``reverse`` (same-set types only) is the position of the reversed pair (v, u) of each edge.
    """

    first: Tensor
    second: Tensor
    ends: tuple[View, View]
    reverse: Tensor | None

    def __len__(self) -> int:
        return len(self.first)


class DeviceInstance(Instance):
    """An :class:`Instance` of ``plan`` with ``index`` (per vertex type, ``(count, depth)``
    index tuples) and ``edges`` (per edge type, an :class:`EdgeIndex`) on ``device``."""

    def __init__(self, plan: Plan, sizes: Mapping[str, int], device: torch.device | str = "cpu"):
        super().__init__(plan, sizes)
        self.device = torch.device(device)
        self.index = {name: torch.tensor(self.index_array(name), device=self.device) for name in self.paths}
        self.edges = {et.name: _to(self._edges(et), self.device) for et in plan.edge_types}

    def _edges(self, et: EdgeType) -> EdgeIndex:
        first, second = (torch.from_numpy(p) for p in self.pairs(et))
        a, b = et.sets
        n_a, n_b = self.counts[a], self.counts[b]
        by_second = torch.argsort(second * n_a + first)
        ends = (_view(first, second, None, n_a, et.name), _view(second, first, by_second, n_b, et.name))
        reverse = None
        if a == b:
            position = torch.full((n_a * n_b,), -1, dtype=torch.long)
            position[first * n_b + second] = torch.arange(len(first))
            reverse = position[second * n_b + first]
        return EdgeIndex(first, second, ends, reverse)

    def end(self, et: EdgeType, vertex_type: str) -> int:
        """Which end of ``et`` a vertex of ``vertex_type`` sits at (0 for a same-set type)."""
        return 0 if et.sets[0] == vertex_type else 1

    def view(self, et: EdgeType, vertex_type: str) -> View:
        """The edges of ``et`` grouped by their ``vertex_type`` endpoint."""
        return self.edges[et.name].ends[self.end(et, vertex_type)]

    def dense_index(self, et: EdgeType, dims: tuple[str, str]) -> Tensor:
        """Flat positions of ``et``'s edges in a tensor over ``dims`` with its set axes
        flattened to ``(n_dims0 * n_dims1)``; ``dims`` may list the sets in either order."""
        e = self.edges[et.name]
        if tuple(dims) == et.sets:
            return e.first * self.counts[et.sets[1]] + e.second
        return e.second * self.counts[et.sets[0]] + e.first


def _view(rows: Tensor, other: Tensor, order: Tensor | None, n_rows: int, name: str) -> View:
    """Group edges (given in ``order``) by ``rows``; check that every row has the same count."""
    if order is not None:
        rows, other = rows[order], other[order]
    count = len(rows) // n_rows if n_rows else 0
    if not torch.equal(rows, torch.arange(n_rows).repeat_interleave(count)):
        raise RuntimeError(f"edge type {name}: vertices have different numbers of edges; "
                           "the plan's predicates do not describe G-orbits")
    rank = None if order is None else torch.empty_like(order).scatter_(0, order, torch.arange(len(order)))
    return View(order, n_rows, count, other, rank)


def _to(e: EdgeIndex, device: torch.device) -> EdgeIndex:
    """``e`` with its tensors on ``device``."""
    def move(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.to(device)

    return EdgeIndex(move(e.first), move(e.second),
                     tuple(View(move(v.order), v.rows, v.count, move(v.other), move(v.rank)) for v in e.ends),
                     move(e.reverse))
