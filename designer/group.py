"""Stage 3 — the desired group G acting on the vertices of an instance (docs/method.md, "Sets and the group G").

G is the iterated wreath/direct product over the axis forest: for every axis and every index
tuple of its parent path, an independent symmetric group on that axis. Its order and the orbits
of its point stabilisers follow in closed form from the forest; sympy (Schreier–Sims) is used
only to cross-check them on small instances (:func:`sympy_group`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .structure import Structure


@dataclass(frozen=True)
class Vertex:
    """One vertex: an element of a vertex-type set, named by its index tuple along the path."""

    set: str
    index: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.set}[{','.join(map(str, self.index))}]"


@dataclass(frozen=True, eq=False)
class Instance:
    """A structure at concrete sizes: its vertices, numbered type by type in index order."""

    structure: Structure
    sizes: dict[str, int] = field(hash=False)

    @cached_property
    def axis_sizes(self) -> dict[str, int]:
        return self.structure.axis_sizes(self.sizes)

    def shape(self, set_name: str) -> tuple[int, ...]:
        """Axis sizes along a set's path, e.g. ``(M, K)`` for AN nested in cell."""
        return tuple(self.axis_sizes[a] for a in self.structure.set(set_name).path)

    @cached_property
    def vertices(self) -> tuple[Vertex, ...]:
        return tuple(Vertex(s.name, idx) for s in self.structure.vertex_types
                     for idx in itertools.product(*(range(n) for n in self.shape(s.name))))

    @cached_property
    def vertex_id(self) -> dict[Vertex, int]:
        return {v: i for i, v in enumerate(self.vertices)}

    @cached_property
    def type_ranges(self) -> dict[str, range]:
        """Vertex ids of each vertex type (contiguous)."""
        out, start = {}, 0
        for s in self.structure.vertex_types:
            count = math.prod(self.shape(s.name))
            out[s.name] = range(start, start + count)
            start += count
        return out

    def index_array(self, set_name: str) -> np.ndarray:
        """``(n_vertices_of_type, depth)`` array of index tuples of a vertex type (read-only,
        built once per type)."""
        if set_name not in self._index_arrays:
            shape = self.shape(set_name)
            array = np.ascontiguousarray(np.indices(shape, dtype=np.int64).reshape(len(shape), -1).T)
            array.flags.writeable = False
            self._index_arrays[set_name] = array
        return self._index_arrays[set_name]

    @cached_property
    def _index_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def __len__(self) -> int:
        return len(self.vertices)


def _axis_factor_counts(structure: Structure, axis_sizes: dict[str, int]) -> dict[str, int]:
    """Number of independent copies of S_n on each axis: the product of its ancestors' sizes
    (axes come parents first, so one pass suffices)."""
    counts: dict[str, int] = {}
    for a in structure.axes:
        counts[a.name] = 1 if a.parent is None else counts[a.parent] * axis_sizes[a.parent]
    return counts


@dataclass(frozen=True, eq=False)
class DesiredGroup:
    """G on an instance's vertices; with ``honour_breaking`` broken axes act trivially (G')."""

    instance: Instance
    honour_breaking: bool = False

    def _active(self, axis: str) -> bool:
        a = self.instance.structure.axis(axis)
        return not (self.honour_breaking and a.broken) and self.instance.axis_sizes[axis] > 1

    @cached_property
    def order(self) -> int:
        """|G| = prod over axes of (n_axis!)^(number of parent index tuples)  (closed form)."""
        sizes = self.instance.axis_sizes
        counts = _axis_factor_counts(self.instance.structure, sizes)
        return math.prod(math.factorial(sizes[a.name]) ** counts[a.name]
                         for a in self.instance.structure.axes if self._active(a.name))

    @cached_property
    def log10_order(self) -> float:
        sizes = self.instance.axis_sizes
        counts = _axis_factor_counts(self.instance.structure, sizes)
        return sum(math.lgamma(sizes[a.name] + 1) / math.log(10) * counts[a.name]
                   for a in self.instance.structure.axes if self._active(a.name))

    def axis_permutation(self, axis: str, parent_index: tuple[int, ...], sigma: list[int]) -> np.ndarray:
        """The vertex permutation (as an array p, vertex i -> p[i]) that applies ``sigma`` to
        ``axis`` below the parent index tuple ``parent_index``; subtrees move as blocks."""
        inst = self.instance
        perm = np.arange(len(inst))
        sigma = np.asarray(sigma)
        depth = len(inst.structure.axis_paths[axis]) - 1
        for s in inst.structure.vertex_types_on_axis[axis]:
            idx = inst.index_array(s.name)
            hit = np.all(idx[:, :depth] == np.asarray(parent_index, dtype=np.int64), axis=1)
            image = idx.copy()
            image[hit, depth] = sigma[idx[hit, depth]]
            perm[np.asarray(inst.type_ranges[s.name])] = inst.type_ranges[s.name].start + _flat(image, inst.shape(s.name))
        return perm

    @cached_property
    def generators(self) -> tuple[np.ndarray, ...]:
        """A transposition and an n-cycle per active axis, below the all-zero parent index."""
        gens = []
        for a in self.instance.structure.axes:
            if not self._active(a.name):
                continue
            n = self.instance.axis_sizes[a.name]
            depth = len(self._parent_path(a.name))
            swap = [1, 0] + list(range(2, n))
            gens.append(self.axis_permutation(a.name, (0,) * depth, swap))
            if n > 2:
                gens.append(self.axis_permutation(a.name, (0,) * depth, list(range(1, n)) + [0]))
        return tuple(gens)

    def _parent_path(self, axis: str) -> tuple[str, ...]:
        return self.instance.structure.axis_paths[axis][:-1]

    def random_element(self, rng: np.random.Generator) -> np.ndarray:
        """A uniformly random element: an independent random permutation per (axis, parent index)."""
        inst = self.instance
        sigmas = self._random_sigmas(rng)
        perm = np.arange(len(inst))
        for s in inst.structure.vertex_types:
            idx = inst.index_array(s.name)
            image = idx.copy()
            for depth, axis in enumerate(s.path):
                for row in range(len(idx)):
                    sigma = sigmas.get((axis, tuple(idx[row, :depth])))
                    if sigma is not None:
                        image[row, depth] = sigma[idx[row, depth]]
            perm[np.asarray(inst.type_ranges[s.name])] = inst.type_ranges[s.name].start + _flat(image, inst.shape(s.name))
        return perm

    def _random_sigmas(self, rng: np.random.Generator) -> dict:
        sizes = self.instance.axis_sizes
        out = {}
        for a in self.instance.structure.axes:
            if not self._active(a.name):
                continue
            parents = self._parent_path(a.name)
            for t in itertools.product(*(range(sizes[p]) for p in parents)):
                out[(a.name, t)] = rng.permutation(sizes[a.name])
        return out

    def contains(self, perm: np.ndarray) -> bool:
        """Exact membership: ``perm`` is induced by one permutation per (axis, parent index)."""
        inst = self.instance
        sigma: dict[tuple, int] = {}
        for v, image in zip(inst.vertices, perm):
            w = inst.vertices[int(image)]
            if w.set != v.set:
                return False
            path = inst.structure.set(v.set).path
            for depth, axis in enumerate(path):
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
        for depth, axis in enumerate(self.group.instance.structure.set(v.set).path):
            self.fixed.add((axis, v.index[:depth + 1]))

    def orbit_keys(self, vertices) -> list[tuple]:
        """The orbit label of each vertex id in ``vertices``."""
        inst, keys = self.group.instance, []
        for i in vertices:
            v = inst.vertices[i]
            path = inst.structure.set(v.set).path
            depth = 0
            while depth < len(path) and ((axis := path[depth], v.index[:depth + 1]) in self.fixed
                                         or not self.group._active(axis)):
                depth += 1
            keys.append((v.set, v.index[:depth]))
        return keys


def _flat(index: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Row-major flat position of index tuples within a vertex type."""
    return np.ravel_multi_index(tuple(index.T), shape) if len(shape) else np.zeros(len(index), dtype=np.int64)


def sympy_group(group: DesiredGroup):
    """G as a sympy ``PermutationGroup`` on the instance's vertices (for cross-checks only)."""
    from sympy.combinatorics import Permutation, PermutationGroup

    n = len(group.instance)
    gens = [Permutation(list(map(int, g)), size=n) for g in group.generators] or [Permutation(list(range(n)))]
    return PermutationGroup(gens)
