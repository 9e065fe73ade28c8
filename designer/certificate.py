"""Stage 5 — S3new: certify Aut(typed graph) = G without enumerating Aut (METHOD.md §2).

1. G ⊆ Aut: every generator of G is a coloured automorphism.
2. |Aut| by orbit–stabiliser along a base: individualise a vertex b, refine colours (1-WL with
   edge colours, splitting cells in a canonical order), and for each G_(base)-orbit in b's cell
   other than b's own decide whether some automorphism fixing the base maps b there — by
   comparing refinement traces, and with a VF2 search (networkx) only when refinement leaves
   the question open. |Aut| = prod of the Aut_(base)-orbit sizes; compare with |G| exactly.

On failure the certificate carries a witness: an automorphism that is not in G.
:func:`brute_force_automorphisms` is the enumeration oracle for tiny instances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .graph import TypedGraph
from .group import DesiredGroup


@dataclass(frozen=True)
class Certificate:
    """S3new verdict: ``equal`` when |Aut| = |G| (with G ⊆ Aut checked on generators)."""

    group_order: int
    aut_order: int
    base_length: int
    vf2_calls: int
    witness: tuple[int, ...] | None = field(default=None, repr=False)
    witness_text: str | None = None

    @property
    def verdict(self) -> str:
        return "equal" if self.aut_order == self.group_order else "larger"

    @property
    def holds(self) -> bool:
        return self.verdict == "equal"


# ---------------------------------------------------------------------------------------------
# Canonical colour refinement (counting refinement with Hopcroft's smaller-half rule).
# ---------------------------------------------------------------------------------------------

@dataclass
class _Partition:
    """An ordered partition: ``cell_of[v]`` is v's cell id; ``cells[id]`` its members."""

    cell_of: np.ndarray
    cells: dict[int, np.ndarray]
    next_id: int

    def copy(self) -> "_Partition":
        return _Partition(self.cell_of.copy(), dict(self.cells), self.next_id)

    @property
    def discrete(self) -> bool:
        return len(self.cells) == len(self.cell_of)


class _Refiner:
    """1-WL colour refinement of a typed graph with edge colours; every choice depends on
    colours and counts only, never on vertex labels, so traces are isomorphism invariants."""

    def __init__(self, graph: TypedGraph):
        self.matrix = graph.colour_matrix
        self.n_colours = int(self.matrix.max()) if self.matrix.size else 0

    def initial(self, colours: np.ndarray) -> tuple[_Partition, tuple]:
        values = np.unique(colours)
        cells = {i: np.nonzero(colours == c)[0] for i, c in enumerate(values)}
        cell_of = np.empty(len(colours), dtype=np.int64)
        for i, members in cells.items():
            cell_of[members] = i
        partition = _Partition(cell_of, cells, len(cells))
        trace = self.refine(partition, list(cells))
        return partition, trace

    def individualise(self, partition: _Partition, vertex: int) -> tuple[_Partition, tuple]:
        """Copy, give ``vertex`` a cell of its own, refine; return the partition and trace."""
        p = partition.copy()
        old = int(p.cell_of[vertex])
        p.cells[old] = p.cells[old][p.cells[old] != vertex]
        p.cells[p.next_id] = np.array([vertex])
        p.cell_of[vertex] = p.next_id
        p.next_id += 1
        return p, (("individualise", old),) + self.refine(p, [p.next_id - 1])

    def _counts(self, members: np.ndarray) -> np.ndarray:
        """``(n, n_colours)`` number of neighbours in ``members`` by edge colour."""
        sub = self.matrix[:, members]
        columns = [(sub == c).sum(axis=1) for c in range(1, self.n_colours + 1)]
        return np.stack(columns, axis=1) if columns else np.zeros((len(sub), 0), dtype=np.int64)

    def refine(self, p: _Partition, queue: list[int]) -> tuple:
        trace = []
        queued = set(queue)
        while queue:
            splitter = queue.pop(0)
            queued.discard(splitter)
            counts = self._counts(p.cells[splitter])
            touched = np.unique(p.cell_of[counts.any(axis=1)])
            for cell in touched:
                members = p.cells[int(cell)]
                if len(members) == 1:
                    continue
                rows, inverse = np.unique(counts[members], axis=0, return_inverse=True)
                if len(rows) == 1:
                    continue
                inverse = inverse.reshape(-1)
                parts = [members[inverse == i] for i in range(len(rows))]
                ids = [int(cell)] + list(range(p.next_id, p.next_id + len(parts) - 1))
                p.next_id += len(parts) - 1
                for cid, part in zip(ids, parts):
                    p.cells[cid] = part
                    p.cell_of[part] = cid
                trace.append((int(splitter), int(cell), tuple(map(tuple, rows.tolist())),
                              tuple(len(x) for x in parts)))
                if int(cell) in queued:
                    new = ids[1:]
                else:
                    largest = max(range(len(parts)), key=lambda i: (len(parts[i]), -i))
                    new = [cid for i, cid in enumerate(ids) if i != largest]
                for cid in new:
                    queue.append(cid)
                    queued.add(cid)
        return tuple(trace)


# ---------------------------------------------------------------------------------------------
# The certificate.
# ---------------------------------------------------------------------------------------------

def is_automorphism(graph: TypedGraph, perm: np.ndarray) -> bool:
    """Whether a vertex permutation (i -> perm[i]) preserves vertex and edge colours."""
    m, c, perm = graph.colour_matrix, graph.vertex_colours, np.asarray(perm)
    return bool(np.array_equal(c[perm], c) and np.array_equal(m[np.ix_(perm, perm)], m))


def _vf2_automorphism(graph: TypedGraph, colours_a: np.ndarray, colours_b: np.ndarray):
    """An automorphism mapping the colouring ``colours_a`` onto ``colours_b``, or None (VF2)."""
    from networkx.algorithms.isomorphism import GraphMatcher

    def same(x, y):
        return x["c"] == y["c"]

    matcher = GraphMatcher(graph.to_networkx(colours_a), graph.to_networkx(colours_b),
                           node_match=same, edge_match=same)
    if not matcher.is_isomorphic():
        return None
    perm = np.empty(len(colours_a), dtype=np.int64)
    for a, b in matcher.mapping.items():
        perm[a] = b
    return perm


def _colours(p: _Partition) -> np.ndarray:
    return p.cell_of.copy()


def certify(graph: TypedGraph, group: DesiredGroup) -> Certificate:
    """S3new: |Aut(graph)| by orbit–stabiliser guided by G's point-stabiliser orbits."""
    for g in group.generators:
        if not is_automorphism(graph, g):
            raise AssertionError("a generator of G is not an automorphism of the typed graph "
                                 "(edge types are not unions of G-orbits)")
    refiner = _Refiner(graph)
    partition, _ = refiner.initial(graph.vertex_colours)
    base: list[int] = []
    orbit_sizes: list[int] = []
    vf2_calls = 0
    witness = None
    while not partition.discrete:
        cell = min((c for c, members in partition.cells.items() if len(members) > 1),
                   key=lambda c: (len(partition.cells[c]), c))
        members = partition.cells[cell]
        b = int(members.min())
        keys = group.stabiliser_orbit_keys(base)
        orbits: dict[tuple, list[int]] = {}
        for v in members.tolist():
            orbits.setdefault(keys[v], []).append(v)
        own = keys[b]
        state_b, trace_b = refiner.individualise(partition, b)
        found = len(orbits[own])
        for key, orbit in orbits.items():
            if key == own:
                continue
            state_c, trace_c = refiner.individualise(partition, min(orbit))
            if trace_c != trace_b:
                continue
            if state_b.discrete:
                perm = np.empty(len(state_b.cell_of), dtype=np.int64)
                for cid, part in state_b.cells.items():
                    perm[part[0]] = state_c.cells[cid][0]
                perm = perm if is_automorphism(graph, perm) else None
            else:
                vf2_calls += 1
                perm = _vf2_automorphism(graph, _colours(state_b), _colours(state_c))
            if perm is not None:
                found += len(orbit)
                witness = perm if witness is None else witness
        base.append(b)
        orbit_sizes.append(found)
        partition = state_b
    aut_order = math.prod(orbit_sizes)
    text = describe_permutation(graph, witness) if witness is not None else None
    return Certificate(group.order, aut_order, len(base), vf2_calls,
                       tuple(map(int, witness)) if witness is not None else None, text)


def describe_permutation(graph: TypedGraph, perm, limit: int = 12) -> str:
    """Cycle notation on vertex names, e.g. ``(AN[0,1] AN[1,0])``; at most ``limit`` cycles."""
    names = [str(v) for v in graph.instance.vertices]
    seen, cycles = set(), []
    for start in range(len(perm)):
        if start in seen or perm[start] == start:
            continue
        cycle, v = [], start
        while v not in seen:
            seen.add(v)
            cycle.append(names[v])
            v = int(perm[v])
        cycles.append("(" + " ".join(cycle) + ")")
    more = f" … and {len(cycles) - limit} more cycles" if len(cycles) > limit else ""
    return "".join(cycles[:limit]) + more


def brute_force_automorphisms(graph: TypedGraph) -> list[np.ndarray]:
    """Every coloured automorphism, by VF2 enumeration (oracle for tiny instances only)."""
    from networkx.algorithms.isomorphism import GraphMatcher

    def same(x, y):
        return x["c"] == y["c"]

    g = graph.to_networkx()
    out = []
    for mapping in GraphMatcher(g, g, node_match=same, edge_match=same).isomorphisms_iter():
        perm = np.empty(len(mapping), dtype=np.int64)
        for a, b in mapping.items():
            perm[a] = b
        out.append(perm)
    return out
