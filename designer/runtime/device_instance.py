"""A plan at concrete sizes on a device: vertex index tuples and, per edge type, its edges as
index tensors.

Built once per size tuple and device (models cache it) from the torch-free
:class:`~designer.runtime.instance.Instance`, which numbers the vertices and lists the pairs
of each edge type by the size-independent predicate of the plan. Edges of one type are stored
*first-endpoint major* (sorted by the ``sets[0]`` endpoint, then the ``sets[1]`` one).
Because G is transitive on every vertex type and preserves edge types, every vertex has the
same number of edges of a type at each end, so grouping the edges by one endpoint gives a
regular ``(rows, count)`` array: pooling is a dense reduction, never a Python loop.

A *sparse* edge type (a :class:`~designer.runtime.plan.Sparsity` rule) keeps, per sample, only
some pairs of its orbit, chosen from a feature's magnitudes (:meth:`DeviceInstance.kept`): its
edges are slots, ``keep`` per vertex of the rule's ``per`` set, with the opposite endpoint per
sample, ``(E, batch)``, and a mask of the slots in use (a rule drops tied pairs together, so a
vertex may keep fewer). Both endpoints read them as a :class:`ListView` and pool by scatter.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import Tensor

from .instance import Instance
from .plan import EdgeType, Plan, Sparsity


def take_rows(x: Tensor, index: Tensor) -> Tensor:
    """Rows of ``x (n, batch, w)`` at ``index``: ``(E,)`` (the same rows for every sample) or
    ``(E, batch)`` (per sample) → ``(E, batch, w)``."""
    if index.dim() == 1:
        return x.index_select(0, index)
    n, b, w = x.shape
    flat = (index * b + torch.arange(b, device=index.device)).reshape(-1)
    return x.reshape(n * b, w).index_select(0, flat).view(*index.shape, w)


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

    @property
    def row_index(self) -> None:
        """The rows are regular (``count`` edges each, in order): a row's state is broadcast."""
        return None


@dataclass(frozen=True, eq=False)
class ListView:
    """The kept edges of a sparse edge type read through one endpoint: per edge slot, this
    endpoint ``row_index`` and the opposite one ``other``, each ``(E,)`` or ``(E, batch)``;
    ``keep`` ``(E, batch)`` marks the slots in use. ``slots`` are the flat positions ``row ·
    batch + sample`` of ``(E · batch,)`` messages, ``rows · batch`` for slots not in use (the
    scatter's spare row); ``count`` ``(rows, batch, 1)`` kept edges per vertex and sample."""

    rows: int
    row_index: Tensor
    other: Tensor
    keep: Tensor
    slots: Tensor
    count: Tensor

    def take(self, states: Tensor) -> Tensor:
        """Edge states ``(E, batch, d)``: a list view reads them in their own order."""
        return states


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

    def own_at_second(self, same_set: bool) -> Tensor | None:
        """Where each edge's own message sits in the view through its second endpoint: for a
        same-set type the view through the first endpoint, at the reversed pair."""
        return self.reverse if same_set else self.ends[1].rank


@dataclass(frozen=True, eq=False)
class KeptEdges:
    """The kept edges of a sparse edge type for one batch: endpoints ``first``/``second``
    (``(E,)`` at the rule's ``per`` end, ``(E, batch)`` at the other), the two
    :class:`ListView`\\ s and ``keep`` ``(E, batch)``."""

    first: Tensor
    second: Tensor
    ends: tuple[ListView, ListView]
    keep: Tensor

    def __len__(self) -> int:
        return len(self.first)

    def own_at_second(self, same_set: bool) -> None:
        """A list view reads every edge's own message in the edges' order."""
        return None


class DeviceInstance(Instance):
    """An :class:`Instance` of ``plan`` with ``index`` (per vertex type, ``(count, depth)``
    index tuples) and ``edges`` (per edge type, an :class:`EdgeIndex`) on ``device``."""

    def __init__(self, plan: Plan, sizes: Mapping[str, int], device: torch.device | str = "cpu",
                 sparsity: tuple[Sparsity, ...] = ()):
        super().__init__(plan, sizes)
        self.device = torch.device(device)
        self.index = {name: torch.tensor(self.index_array(name), device=self.device) for name in self.paths}
        self.sparsity = {rule.edge_type: rule for rule in sparsity}
        self.edges: dict[str, EdgeIndex | KeptEdges] = {
            et.name: _to(self._edges(et), self.device) for et in plan.edge_types if et.name not in self.sparsity}
        self.candidates = {name: torch.from_numpy(self.pair_mask(plan.edge_type(name))).to(self.device)
                           for name in self.sparsity}
        self.plan = plan

    def kept(self, features: Mapping[str, Tensor]) -> DeviceInstance:
        """This instance with the kept edges of every sparse edge type for this batch of
        ``features`` (the model layout, raw): the instance itself when there is none."""
        if not self.sparsity:
            return self
        out = copy.copy(self)
        out.edges = {**self.edges}
        for name, rule in self.sparsity.items():
            out.edges[name] = self._kept(self.plan.edge_type(name), rule, features[rule.by])
        return out

    @torch.no_grad()
    def _kept(self, et: EdgeType, rule: Sparsity, x: Tensor) -> KeptEdges:
        """The pairs of ``et`` that ``rule`` keeps in each sample of the feature ``x``."""
        magnitude = kept_magnitude(self.plan, rule, x)  # (batch, n_per, n_other), squared
        candidates = self.candidates[et.name] if rule.per == et.sets[0] else self.candidates[et.name].t()
        above = None if rule.above is None else rule.above ** 2
        other, keep = kept_pairs(magnitude, candidates, rule.keep, above)  # (batch, n_per, slots)
        batch, rows, slots = other.shape
        per_index = torch.arange(rows, device=self.device).repeat_interleave(slots)
        other, keep = other.reshape(batch, -1).t(), keep.reshape(batch, -1).t()
        n_other = self.counts[et.sets[1] if rule.per == et.sets[0] else et.sets[0]]
        views = (_list_view(per_index, other, keep, rows), _list_view(other, per_index, keep, n_other))
        if rule.per == et.sets[0]:
            return KeptEdges(per_index, other, views, keep)
        return KeptEdges(other, per_index, views[::-1], keep)

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
        flattened to ``(n_dims0 * n_dims1)``; ``dims`` may list the sets in either order.
        ``(E,)``, or ``(E, batch)`` for kept edges."""
        e = self.edges[et.name]
        first, second = _columns(e.first, e.second)
        if tuple(dims) == et.sets:
            return first * self.counts[et.sets[1]] + second
        return second * self.counts[et.sets[0]] + first


def _columns(*index: Tensor) -> tuple[Tensor, ...]:
    """Endpoint indices ``(E,)`` and ``(E, batch)`` made to broadcast against each other."""
    if all(i.dim() == 1 for i in index):
        return index
    return tuple(i[:, None] if i.dim() == 1 else i for i in index)


def kept_magnitude(plan: Plan, rule: Sparsity, x: Tensor) -> Tensor:
    """The squared magnitude of feature ``x`` (model layout) on every pair, ``(batch, n_per,
    n_other)`` with the rule's ``per`` set first: ``|x|²``, summed over its channels if any (the
    squared Euclidean norm: the order of the norms, without a square root or a complex norm)."""
    t = plan.tensor(rule.by)
    if t.channels is None and not x.is_complex():
        magnitude = x.square()
    else:  # (..., 1, c) @ (..., c, 1) over the real parts of the channels: faster than a short reduction
        parts = torch.view_as_real(x) if x.is_complex() else x.unsqueeze(-1)
        parts = parts.flatten(-2) if t.channels is not None else parts
        magnitude = torch.matmul(parts.unsqueeze(-2), parts.unsqueeze(-1)).reshape(parts.shape[:-1])
    depth = len(plan.set(t.dims[0]).path)  # the axes of the first set
    rows = magnitude.reshape(x.shape[0], math.prod(magnitude.shape[1:depth + 1]), -1)
    return rows if t.dims[0] == rule.per else rows.transpose(1, 2)


def kept_pairs(magnitude: Tensor, candidates: Tensor, keep: int | None, above: float | None
               ) -> tuple[Tensor, Tensor]:
    """The kept-edge rule on ``magnitude`` ``(batch, rows, n)`` among the ``candidates`` ``(rows,
    n)`` of each row (every row has the same number, an orbit's): per row, ``slots = min(keep,
    candidates)`` slots holding the strongest candidates ``other`` ``(batch, rows, slots)`` and
    ``kept`` (bool, same shape): magnitude above the strongest candidate left out (so ties at the
    boundary go out together) and, with ``above``, above it. A function of the magnitudes only
    (no positions), so it commutes with every permutation that G applies."""
    counts = candidates.sum(dim=1)
    c = int(counts[0]) if len(counts) else 0
    if len(counts) and not bool((counts == c).all()):
        raise RuntimeError("a sparse edge type's vertices have different numbers of pairs; not an orbit")
    slots = c if keep is None else min(keep, c)
    ranked = torch.where(candidates, magnitude, torch.tensor(-1.0, dtype=magnitude.dtype, device=magnitude.device))
    values, other = ranked.topk(min(slots + 1, c) if c else 0, dim=-1)
    floor = values[..., slots:slots + 1] if slots < c else torch.full_like(values[..., :1], -0.5)
    kept = values[..., :slots] > floor
    if above is not None:
        kept &= values[..., :slots] > above
    return other[..., :slots], kept


def _list_view(row_index: Tensor, other: Tensor, keep: Tensor, rows: int) -> ListView:
    """A :class:`ListView` of edges with this end ``row_index`` over ``rows`` vertices."""
    edges, batch = keep.shape
    index = row_index if row_index.dim() == 2 else row_index[:, None].expand(edges, batch)
    slots = torch.where(keep, index * batch + torch.arange(batch, device=keep.device), rows * batch).reshape(-1)
    count = torch.bincount(slots, minlength=rows * batch + 1)[:rows * batch].view(rows, batch, 1)
    return ListView(rows, row_index, other, keep, slots, count)


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
