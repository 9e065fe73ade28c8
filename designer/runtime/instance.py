"""An axis forest at concrete sizes (torch-free): the one place that numbers vertices, builds
their index tuples, decides which pairs an edge type holds and applies elements of G to them.

A *forest* is a :class:`~designer.structure.Structure` or a :class:`~designer.runtime.plan.Plan`:
anything with ``axes`` (parents first) and ``vertex_types`` (named paths of axes). The compiler
(group, typed graph, certificate, drawing) works on an :class:`Instance` directly; the runtime's
:class:`~designer.runtime.device_instance.DeviceInstance` is an :class:`Instance` that also
holds its index tuples and edges as tensors on a device.

* Vertices are numbered type by type, each type's in row-major order of its index tuples.
* The edge predicate (docs/method.md, "S2new: edges and edge types"): a pair (u, v) has edge
  type ``e`` iff their index tuples agree on the first ``e.agree`` shared axes and differ on the
  next one; :meth:`Instance.pairs` lists them *first-endpoint major*.
* G (docs/method.md, "Sets and the group G") acts through one permutation per (axis, parent
  index tuple); :meth:`Instance.apply` moves every vertex by such permutations (a subtree moves
  with its root) and :meth:`Instance.random_sigmas` draws them independently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Mapping

import numpy as np

from .plan import Axis, EdgeType


@dataclass(frozen=True)
class Vertex:
    """One vertex: an element of a vertex-type set, named by its index tuple along the path."""

    set: str
    index: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.set}[{','.join(map(str, self.index))}]"


class Instance:
    """The vertices of a forest at the size-symbol values ``sizes`` (see the module docstring)."""

    def __init__(self, forest, sizes: Mapping[str, int]):
        self.axes: tuple[Axis, ...] = tuple(forest.axes)
        self.axis_sizes = forest.axis_sizes(sizes)
        self.paths = {vt.name: tuple(vt.path) for vt in forest.vertex_types}
        self.shapes = {name: tuple(self.axis_sizes[a] for a in path) for name, path in self.paths.items()}
        self.counts = {name: math.prod(shape) for name, shape in self.shapes.items()}
        self.type_ranges, start = {}, 0
        for name, count in self.counts.items():
            self.type_ranges[name] = range(start, start + count)
            start += count
        self._index_arrays: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return sum(self.counts.values())

    def axis(self, name: str) -> Axis:
        return self._axis_index[name]

    @cached_property
    def _axis_index(self) -> dict[str, Axis]:
        return {a.name: a for a in self.axes}

    @cached_property
    def parent_tuples(self) -> dict[str, int]:
        """Number of index tuples of each axis's parent path: its independent copies of S_n
        (axes come parents first, so one pass suffices)."""
        out: dict[str, int] = {}
        for a in self.axes:
            out[a.name] = 1 if a.parent is None else out[a.parent] * self.axis_sizes[a.parent]
        return out

    def index_array(self, name: str) -> np.ndarray:
        """``(count, depth)`` index tuples of a vertex type in row-major order (read-only, built
        once per type)."""
        if name not in self._index_arrays:
            array = index_tuples(self.shapes[name])
            array.flags.writeable = False
            self._index_arrays[name] = array
        return self._index_arrays[name]

    @cached_property
    def vertices(self) -> tuple[Vertex, ...]:
        """Every vertex, in vertex id order."""
        return tuple(Vertex(name, tuple(row)) for name in self.paths for row in self.index_array(name).tolist())

    def pairs(self, et: EdgeType) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``(E,)`` within ``et.sets[0]`` and ``et.sets[1]`` of the ordered pairs of
        edge type ``et``, first-endpoint major."""
        return np.nonzero(self.pair_mask(et))

    def pair_mask(self, et: EdgeType) -> np.ndarray:
        """``(n_a, n_b)``: True for the pairs of edge type ``et`` (the edge predicate)."""
        a, b = et.sets
        return edge_mask(self.index_array(a), self.index_array(b), len(et.shared), et.agree)

    def random_sigmas(self, permutation: Callable[[int], np.ndarray], moves: Callable[[str], bool]
                      ) -> dict[str, np.ndarray]:
        """Per axis that ``moves``, ``(parent tuples, n)``: one ``permutation(n)`` for each index
        tuple of its parent path (axes in order, parent tuples in row-major order)."""
        out = {}
        for a in self.axes:
            if moves(a.name):
                n = self.axis_sizes[a.name]
                out[a.name] = np.array([permutation(n) for _ in range(self.parent_tuples[a.name])],
                                       dtype=np.int64).reshape(-1, n)
        return out

    def apply(self, sigmas: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per vertex type, ``(count,)`` flat positions of the images of its vertices under
        ``sigmas``: per axis ``(parent tuples, n)``, row p permuting the axis below the parent
        index tuple at row-major position p (axes left out stay)."""
        return {name: self._image(name, sigmas) for name in self.paths}

    def _image(self, name: str, sigmas: Mapping[str, np.ndarray]) -> np.ndarray:
        index = self.index_array(name)
        parent = np.zeros(len(index), dtype=np.int64)  # row-major position of the parent index tuple
        image = np.zeros(len(index), dtype=np.int64)
        for depth, (axis, n) in enumerate(zip(self.paths[name], self.shapes[name])):
            column = index[:, depth]
            image = image * n + (sigmas[axis][parent, column] if axis in sigmas else column)
            parent = parent * n + column
        return image


def index_tuples(shape: tuple[int, ...]) -> np.ndarray:
    """``(prod(shape), len(shape))`` index tuples in row-major order (any number of axes)."""
    count = math.prod(shape)
    out = np.empty((count, len(shape)), dtype=np.int64)
    for j, n in enumerate(shape):
        inner = math.prod(shape[j + 1:])
        out[:, j] = np.tile(np.repeat(np.arange(n, dtype=np.int64), inner), count // (n * inner) if count else 0)
    return out


def flat_positions(index: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Row-major flat positions ``(n,)`` of ``(n, len(shape))`` index tuples in ``shape``."""
    flat = np.zeros(len(index), dtype=np.int64)
    for j, n in enumerate(shape):
        flat = flat * n + index[:, j]
    return flat


def edge_mask(index_a: np.ndarray, index_b: np.ndarray, shared: int, agree: int) -> np.ndarray:
    """The edge predicate on ``(n_a, depth_a)`` and ``(n_b, depth_b)`` index tuples whose first
    ``shared`` columns are the shared axes: ``(n_a, n_b)``, True where the tuples agree on the
    first ``agree`` of them and differ on the next one (if ``agree < shared``)."""
    mask = np.ones((len(index_a), len(index_b)), dtype=bool)
    for j in range(agree):
        mask &= index_a[:, None, j] == index_b[None, :, j]
    if agree < shared:
        mask &= index_a[:, None, agree] != index_b[None, :, agree]
    return mask
