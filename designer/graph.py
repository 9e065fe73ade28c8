"""Stage 4 — the typed graph: S1new (vertex types), S2new (edges and edge types), S4new.

Edge types are the orbits of G on vertex pairs. With the axis forest an orbit is a
size-independent predicate (docs/method.md, "S2new: edges and edge types"): the two vertex
types plus how many of the axes their paths share carry equal indices before the first
disagreement. :class:`EdgeType` stores that predicate; :meth:`Instance.pairs
<designer.runtime.instance.Instance.pairs>` realises it on an instance (one implementation,
shared with the runtime) and :func:`edge_pairs` numbers those edges by vertex id.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from .runtime.instance import Instance
from .runtime.plan import EdgeType, VertexType
from .structure import Structure


def predicate_text(shared: tuple[str, ...], agree: int, loop: bool) -> str:
    """An edge orbit as words, e.g. ``same cell; different pair`` (an :class:`EdgeType`'s
    ``predicate``)."""
    if not shared:
        return "every pair"
    if loop:
        return "the same element"
    if agree == len(shared):
        return "same " + ", ".join(shared)
    same = f"same {', '.join(shared[:agree])}; " if agree else ""
    return f"{same}different {shared[agree]}"


def pattern_name(sets: tuple[str, str], shared: tuple[str, ...], agree: int) -> str:
    """Identifier for a pattern, e.g. ``AN_UE_same_pair``, ``AN_UE_diff_cell``, ``AN_AN_diff_an``."""
    base = f"{sets[0]}_{sets[1]}"
    if not shared:
        return base
    if sets[0] == sets[1] and agree == len(shared):
        return f"{base}_self"
    return f"{base}_same_{shared[-1]}" if agree == len(shared) else f"{base}_diff_{shared[agree]}"


def make_edge_type(structure: Structure, a: str, b: str, agree: int, origin: str = "tensor") -> EdgeType:
    shared = structure.shared_axes(a, b)
    loop = a == b and agree == len(shared)
    return EdgeType(pattern_name((a, b), shared, agree), (a, b), shared, agree, predicate_text(shared, agree, loop),
                    origin)


def vertex_types(structure: Structure) -> tuple[VertexType, ...]:
    """S1new: one vertex type per set that indexes a tensor, with its one-set tensors."""
    own: dict[tuple[str, str], list[str]] = {}
    for t in structure.tensors:
        if len(t.dims) == 1:
            own.setdefault((t.dims[0], t.role), []).append(t.name)
    return tuple(VertexType(s.name, s.path, tuple(own.get((s.name, "feature"), ())),
                            tuple(own.get((s.name, "action"), ())))
                 for s in structure.vertex_types)


def _orient(structure: Structure, a: str, b: str) -> tuple[str, str]:
    order = structure.set_order
    return (a, b) if order[a] <= order[b] else (b, a)


def tensor_patterns(structure: Structure, tensor) -> list[tuple[str, str, int]]:
    """The edge patterns a two-set tensor's support covers (S2new)."""
    a, b = _orient(structure, *tensor.dims)
    m = len(structure.shared_axes(a, b))
    agrees = [m] if tensor.support == "matched" else range(m, -1, -1)
    return [(a, b, k) for k in agrees]


def edge_types_from_tensors(structure: Structure) -> tuple[EdgeType, ...]:
    """S2new: edges from two-set tensors and their support; one edge type per G-orbit."""
    found: dict[tuple, dict[str, list[str]]] = {}  # pattern -> role -> tensor names
    for t in structure.tensors:
        if len(t.dims) != 2:
            continue
        for pattern in tensor_patterns(structure, t):
            found.setdefault(pattern, {"feature": [], "action": []})[t.role].append(t.name)
    return _unique_names(tuple(replace(make_edge_type(structure, a, b, k), features=tuple(names["feature"]),
                                       actions=tuple(names["action"]))
                               for (a, b, k), names in found.items()))


def s4new_edge_types(structure: Structure, existing: tuple[EdgeType, ...]) -> tuple[EdgeType, ...]:
    """S4new: edges among the vertices of each subset of a nested vertex set."""
    have = {e.pattern for e in existing}
    extra = []
    for s in structure.vertex_types:
        if len(s.path) >= 2 and (s.name, s.name, len(s.path) - 1) not in have:
            extra.append(make_edge_type(structure, s.name, s.name, len(s.path) - 1, origin="S4new"))
    return tuple(extra)


def candidate_edge_types(structure: Structure, existing: tuple[EdgeType, ...],
                         touching: set[str] | None = None) -> tuple[EdgeType, ...]:
    """Every G-orbit of vertex pairs not yet an edge type (candidates to break a witness); with
    ``touching``, only those with an end in one of these vertex types (an orbit between types
    a witness fixes pointwise cannot break it, and leaving those out keeps this linear in the
    number of types a witness moves rather than quadratic in all of them)."""
    have = {e.pattern for e in existing}
    names = [s.name for s in structure.vertex_types]
    out = []
    for i, a in enumerate(names):
        for b in names[i:]:
            if touching is not None and a not in touching and b not in touching:
                continue
            m = len(structure.shared_axes(a, b))
            for k in range(m if a == b else m + 1):
                if (a, b, k) not in have:
                    out.append(make_edge_type(structure, a, b, k, origin="auto"))
    return tuple(out)


def _unique_names(types: tuple[EdgeType, ...]) -> tuple[EdgeType, ...]:
    seen: dict[str, int] = {}
    out = []
    for et in types:
        count = seen.get(et.name, 0)
        seen[et.name] = count + 1
        out.append(et if count == 0 else replace(et, name=f"{et.name}_{count + 1}"))
    return tuple(out)


def edge_pairs(instance: Instance, et: EdgeType) -> tuple[np.ndarray, np.ndarray]:
    """Vertex ids ``(E,)`` (u, v) of the edges of type ``et`` on an instance, each unordered pair
    once (u <= v within a type; u == v for a loop), first-endpoint major."""
    a, b = et.sets
    u, v = instance.pairs(et)
    if a == b:
        keep = u <= v
        u, v = u[keep], v[keep]
    return u + instance.type_ranges[a].start, v + instance.type_ranges[b].start


@dataclass(frozen=True, eq=False)
class TypedGraph:
    """The typed graph on an instance: vertex colours = vertex types (+ individualised broken
    axes), edge colours = edge types. Self-pairs (loops) fold into vertex colours."""

    instance: Instance
    vertex_types: tuple[VertexType, ...]
    edge_types: tuple[EdgeType, ...]
    individualise_broken: bool = False

    @cached_property
    def colour_matrix(self) -> np.ndarray:
        """``(n, n)`` symmetric int matrix: 0 = no edge, c + 1 = edge type c."""
        n = len(self.instance)
        matrix = np.zeros((n, n), dtype=np.int16 if len(self.edge_types) < np.iinfo(np.int16).max else np.int32)
        for c, et in enumerate(self.edge_types):
            if et.is_loop:
                continue
            u, v = edge_pairs(self.instance, et)
            matrix[u, v] = c + 1
            matrix[v, u] = c + 1
        return matrix

    @cached_property
    def vertex_colours(self) -> np.ndarray:
        """Vertex colour per vertex: type, loop types, and (optionally) broken-axis indices."""
        inst = self.instance
        loops: dict[str, list[str]] = {}
        for et in self.edge_types:
            if et.is_loop:
                loops.setdefault(et.sets[0], []).append(et.name)
        keys = []
        for v in inst.vertices:
            broken = tuple(i if inst.axis(a).broken and self.individualise_broken else -1
                           for a, i in zip(inst.paths[v.set], v.index))
            keys.append((v.set, tuple(loops.get(v.set, ())), broken))
        order = {k: i for i, k in enumerate(sorted(set(keys), key=repr))}
        return np.array([order[k] for k in keys], dtype=np.int64)

    def edge_count(self, et: EdgeType) -> int:
        return len(edge_pairs(self.instance, et)[0])

    def to_networkx(self, colours: np.ndarray | None = None):
        """networkx Graph with node attribute ``c`` (colour) and edge attribute ``c`` (type)."""
        import networkx as nx

        colours = self.vertex_colours if colours is None else colours
        graph = nx.Graph()
        graph.add_nodes_from((i, {"c": int(c)}) for i, c in enumerate(colours))
        u, v = np.nonzero(np.triu(self.colour_matrix))
        graph.add_edges_from((int(a), int(b), {"c": int(self.colour_matrix[a, b])}) for a, b in zip(u, v))
        return graph


def brute_force_pair_orbits(instance: Instance, generators) -> dict[tuple[int, int], int]:
    """Oracle for S2new on tiny instances: orbit label of every ordered vertex pair (u, v),
    u != v or u == v, under the group generated by ``generators`` (union–find closure)."""
    n = len(instance)
    parent = list(range(n * n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for g in generators:
        for u in range(n):
            for v in range(n):
                a, b = find(u * n + v), find(int(g[u]) * n + int(g[v]))
                if a != b:
                    parent[a] = b
    return {(u, v): find(u * n + v) for u in range(n) for v in range(n)}
