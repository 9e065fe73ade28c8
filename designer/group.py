"""Stage 3 — the desired group G acting on the vertices of an instance (docs/method.md, "Sets and the group G").

G is the iterated wreath/direct product over the axis forest: for every axis and every index
tuple of its parent path, an independent symmetric group on that axis. Its order and the orbits
of its point stabilisers follow in closed form from the forest; sympy (Schreier–Sims) is used
only to cross-check them on small instances (:func:`sympy_group`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np

from .runtime.instance import Instance


@dataclass(frozen=True, eq=False)
class DesiredGroup:
    """G on an instance's vertices; with ``honour_breaking`` broken axes act trivially (G')."""

    instance: Instance
    honour_breaking: bool = False

    def _active(self, axis: str) -> bool:
        return not (self.honour_breaking and self.instance.axis(axis).broken) and self.instance.axis_sizes[axis] > 1

    @cached_property
    def order(self) -> int:
        """|G| = prod over axes of (n_axis!)^(number of parent index tuples)  (closed form)."""
        inst = self.instance
        return math.prod(math.factorial(inst.axis_sizes[a.name]) ** inst.parent_tuples[a.name]
                         for a in inst.axes if self._active(a.name))

    @cached_property
    def log10_order(self) -> float:
        inst = self.instance
        return sum(math.lgamma(inst.axis_sizes[a.name] + 1) / math.log(10) * inst.parent_tuples[a.name]
                   for a in inst.axes if self._active(a.name))

    def vertex_permutation(self, sigmas: Mapping[str, np.ndarray]) -> np.ndarray:
        """The vertex permutation (an array p, vertex i -> p[i]) of the element given by
        ``sigmas`` (see :meth:`Instance.apply`)."""
        inst = self.instance
        images = [inst.type_ranges[name].start + image for name, image in inst.apply(sigmas).items()]
        return np.concatenate(images or [np.arange(0)])

    @cached_property
    def generators(self) -> tuple[np.ndarray, ...]:
        """A transposition and an n-cycle per active axis, below the all-zero parent index."""
        gens = []
        for a in self.instance.axes:
            if not self._active(a.name):
                continue
            n = self.instance.axis_sizes[a.name]
            sigmas = [[1, 0, *range(2, n)]] + ([[*range(1, n), 0]] if n > 2 else [])
            for sigma in sigmas:
                rows = np.tile(np.arange(n), (self.instance.parent_tuples[a.name], 1))
                rows[0] = sigma
                gens.append(self.vertex_permutation({a.name: rows}))
        return tuple(gens)

    def random_element(self, rng: np.random.Generator) -> np.ndarray:
        """A uniformly random element: an independent random permutation per (axis, parent index)."""
        return self.vertex_permutation(self.instance.random_sigmas(rng.permutation, self._active))

    def contains(self, perm: np.ndarray) -> bool:
        """Exact membership: ``perm`` is induced by one permutation per (axis, parent index)."""
        inst = self.instance
        sigma: dict[tuple, int] = {}
        for v, image in zip(inst.vertices, perm):
            w = inst.vertices[int(image)]
            if w.set != v.set:
                return False
            for depth, axis in enumerate(inst.paths[v.set]):
                key = (axis, v.index[:depth], v.index[depth])
                target = w.index[depth]
                if not self._active(axis) and target != v.index[depth]:
                    return False
                if sigma.setdefault(key, target) != target:
                    return False
        images: dict[tuple, set] = {}
        for (axis, parent, _), target in sigma.items():
            seen = images.setdefault((axis, parent), set())
            if target in seen:
                return False
            seen.add(target)
        return True

    def stabiliser_orbit_keys(self, base: list[int], vertices=None) -> list[tuple]:
        """Orbit label under the pointwise stabiliser G_(base), in closed form, of every vertex
        (or of the vertex ids in ``vertices``, in that order); see :class:`StabiliserChain`."""
        chain = StabiliserChain(self)
        for b in base:
            chain.fix(b)
        return chain.orbit_keys(range(len(self.instance)) if vertices is None else vertices)


class StabiliserChain:
    """The pointwise stabiliser G_(base) of a base that grows one point at a time (as the
    certificate builds it), so that a query costs the vertices asked about, not the base.

    For an axis forest the stabiliser is a direct product over (axis, parent index) of point
    stabilisers, so a vertex's orbit is fixed by the longest prefix of its index whose entries
    are all taken by base points on the same parent index; past that prefix it is free.
    """

    def __init__(self, group: DesiredGroup):
        self.group = group
        self.fixed: set[tuple] = set()  # (axis, index prefix ending on that axis) taken by a base point

    def fix(self, vertex: int) -> None:
        v = self.group.instance.vertices[vertex]
        for depth, axis in enumerate(self.group.instance.paths[v.set]):
            self.fixed.add((axis, v.index[:depth + 1]))

    def orbit_keys(self, vertices) -> list[tuple]:
        """The orbit label of each vertex id in ``vertices``."""
        inst, keys = self.group.instance, []
        for i in vertices:
            v = inst.vertices[i]
            path = inst.paths[v.set]
            depth = 0
            while depth < len(path) and ((axis := path[depth], v.index[:depth + 1]) in self.fixed
                                         or not self.group._active(axis)):
                depth += 1
            keys.append((v.set, v.index[:depth]))
        return keys


def sympy_group(group: DesiredGroup):
    """G as a sympy ``PermutationGroup`` on the instance's vertices (for cross-checks only)."""
    from sympy.combinatorics import Permutation, PermutationGroup

    n = len(group.instance)
    gens = [Permutation(list(map(int, g)), size=n) for g in group.generators] or [Permutation(list(range(n)))]
    return PermutationGroup(gens)
