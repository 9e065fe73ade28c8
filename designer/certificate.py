"""Stage 5 — S3new: certify Aut(typed graph) = G without enumerating Aut (docs/method.md, "S3new: the certificate").

1. G ⊆ Aut: every generator of G is a coloured automorphism.
2. |Aut| by orbit–stabiliser along a base: individualise a vertex b, refine colours (1-WL with
   edge colours, splitting cells in a canonical order), and for each G_(base)-orbit in b's cell
   other than b's own decide whether some automorphism fixing the base maps b there — by
   comparing refinement traces, and with a search only when refinement leaves the question
   open: first the swap of the two vertices (twins are common), then individualisation and
   refinement down to a discrete colouring. |Aut| = prod of the Aut_(base)-orbit sizes;
   compare with |G| exactly.

On failure the certificate carries a witness: an automorphism that is not in G.
:func:`brute_force_automorphisms` is the enumeration oracle for tiny instances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .graph import TypedGraph
from .group import DesiredGroup, StabiliserChain


@dataclass(frozen=True)
class Certificate:
    """S3new verdict: ``equal`` when |Aut| = |G| (with G ⊆ Aut checked on generators).
    ``aut_order`` is None when :func:`certify` stopped at the witness (``stop_at_witness``)."""

    group_order: int
    aut_order: int | None
    base_length: int
    search_calls: int  # questions refinement left open, each settled by a search
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
        """``(n, n_colours)`` number of neighbours in ``members`` by edge colour (one bincount
        over the n × |members| block, whatever the number of colours)."""
        n, width = len(self.matrix), self.n_colours + 1
        sub = self.matrix[:, members].astype(np.int64) + width * np.arange(n)[:, None]
        return np.bincount(sub.ravel(), minlength=n * width).reshape(n, width)[:, 1:]

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
                # Colours no member has a neighbour by are left out (they order nothing), which keeps
                # the row comparison cheap however many edge types there are; the trace names the
                # colours kept, so traces compare exactly as the full rows would.
                block = counts[members]
                kept = block.any(axis=0)
                rows, inverse = _unique_rows(block[:, kept])
                if len(rows) == 1:
                    continue
                inverse = inverse.reshape(-1)
                parts = [members[inverse == i] for i in range(len(rows))]
                ids = [int(cell)] + list(range(p.next_id, p.next_id + len(parts) - 1))
                p.next_id += len(parts) - 1
                for cid, part in zip(ids, parts):
                    p.cells[cid] = part
                    p.cell_of[part] = cid
                trace.append((int(splitter), int(cell), tuple(np.nonzero(kept)[0].tolist()),
                              tuple(map(tuple, rows.tolist())), tuple(len(x) for x in parts)))
                if int(cell) in queued:
                    new = ids[1:]
                else:
                    largest = max(range(len(parts)), key=lambda i: (len(parts[i]), -i))
                    new = [cid for i, cid in enumerate(ids) if i != largest]
                for cid in new:
                    queue.append(cid)
                    queued.add(cid)
        return tuple(trace)


def _unique_rows(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(block, axis=0, return_inverse=True)``, without its row-view overhead in the
    common case of one column (a splitter of one colour, such as an individualised vertex)."""
    if block.shape[1] != 1:
        return np.unique(block, axis=0, return_inverse=True)
    values, inverse = np.unique(block[:, 0], return_inverse=True)
    return values[:, None], inverse


# ---------------------------------------------------------------------------------------------
# The certificate.
# ---------------------------------------------------------------------------------------------

def is_automorphism(graph: TypedGraph, perm: np.ndarray) -> bool:
    """Whether a vertex permutation (i -> perm[i]) preserves vertex and edge colours.

    Only the rows of moved vertices are compared: a pair of fixed vertices maps to itself, and
    the colour matrix is symmetric, so a pair with one moved vertex is covered by that row. A
    generator of G moves few vertices, so checking one costs O(moved · n), not O(n²).
    """
    m, c, perm = graph.colour_matrix, graph.vertex_colours, np.asarray(perm)
    moved = np.nonzero(perm != np.arange(len(perm)))[0]
    return bool(np.array_equal(c[perm[moved]], c[moved]) and np.array_equal(m[np.ix_(perm[moved], perm)], m[moved]))


def _transposition(n: int, a: int, b: int) -> np.ndarray:
    """The permutation of ``n`` vertices that exchanges ``a`` and ``b``."""
    perm = np.arange(n)
    perm[[a, b]] = perm[[b, a]]
    return perm


def _swap_is_automorphism(graph: TypedGraph, a: int, b: int) -> bool:
    """Whether exchanging ``a`` and ``b`` alone is an automorphism: same colour, and row b with
    columns a and b exchanged equals row a (the colour matrix is symmetric, with a zero diagonal,
    so these two rows decide every pair). O(n), without building the permutation's image."""
    colours, matrix = graph.vertex_colours, graph.colour_matrix
    if colours[a] != colours[b]:
        return False
    row = matrix[b].copy()
    row[[a, b]] = row[[b, a]]
    return bool(np.array_equal(row, matrix[a]))


def _target_cell(p: _Partition) -> int:
    """The cell to individualise in next: the smallest non-singleton one (then the lowest id)."""
    return min((c for c, members in p.cells.items() if len(members) > 1), key=lambda c: (len(p.cells[c]), c))


def _automorphism_between(graph: TypedGraph, refiner: _Refiner, first: _Partition, second: _Partition):
    """An automorphism mapping the colouring ``first`` onto ``second`` (equitable, with equal
    refinement traces), or None.

    Individualisation–refinement search: at every step, the map of each cell of ``first`` onto
    the same cell of ``second`` (:func:`_cell_map`) is tried — the whole answer for a discrete
    colouring, and often already before (a swap of two blocks) — then the least vertex of the
    target cell of ``first`` is individualised and, in turn, each vertex of the same cell of
    ``second``, going deeper where the traces agree. Complete (an automorphism maps that vertex
    to one of the candidates, and refinement is canonical), and iterative, so the depth costs no
    stack.
    """
    stack: list[list] = [[first, second, None]]  # per level: the two colourings and, once chosen, the branch
    while stack:
        level = stack[-1]
        p, q, branch = level
        if branch is None:
            perm = _cell_map(p, q)
            if is_automorphism(graph, perm):
                return perm
            if p.discrete:
                stack.pop()
                continue
            cell = _target_cell(p)
            level[2] = branch = (*refiner.individualise(p, int(p.cells[cell].min())), iter(q.cells[cell].tolist()))
        p_v, trace_v, candidates = branch
        for w in candidates:
            q_w, trace_w = refiner.individualise(q, w)
            if trace_w == trace_v:
                stack.append([p_v, q_w, None])
                break
        else:
            stack.pop()
    return None


def _cell_map(p: _Partition, q: _Partition) -> np.ndarray:
    """A permutation mapping each cell of ``p`` onto the same cell of ``q`` that moves as few
    vertices as it can: a vertex in the same cell on both sides stays, the others are paired in
    order cell by cell (cells of equal id have equal sizes). Discrete colourings leave one
    choice; otherwise it is the likeliest automorphism (a swap of two blocks) and quick to check."""
    perm = np.arange(len(p.cell_of))
    moved = np.nonzero(p.cell_of != q.cell_of)[0]
    perm[moved[np.argsort(p.cell_of[moved], kind="stable")]] = moved[np.argsort(q.cell_of[moved], kind="stable")]
    return perm


def certify(graph: TypedGraph, group: DesiredGroup, stop_at_witness: bool = False) -> Certificate:
    """S3new: |Aut(graph)| by orbit–stabiliser guided by G's point-stabiliser orbits.

    With ``stop_at_witness`` it returns as soon as the witness is known (the same one a full
    run reports), with ``aut_order`` None: enough to decide which edges to add next.
    """
    for g in group.generators:
        if not is_automorphism(graph, g):
            raise AssertionError("a generator of G is not an automorphism of the typed graph "
                                 "(edge types are not unions of G-orbits)")
    refiner = _Refiner(graph)
    partition, _ = refiner.initial(graph.vertex_colours)
    witness = None
    chain = StabiliserChain(group)
    orbit_sizes: list[int] = []
    search_calls = 0
    while not partition.discrete:
        b = int(partition.cells[_target_cell(partition)].min())
        state_b, trace_b = refiner.individualise(partition, b)
        found, questions, first = _stabiliser_orbit(graph, refiner, chain, partition, b, (state_b, trace_b))
        search_calls += questions
        witness = first if witness is None else witness
        chain.fix(b)
        orbit_sizes.append(found)
        partition = state_b
        if stop_at_witness and witness is not None:
            break
    aut_order = None if stop_at_witness and witness is not None else math.prod(orbit_sizes)
    text = describe_permutation(graph, witness) if witness is not None else None
    return Certificate(group.order, aut_order, len(orbit_sizes), search_calls,
                       tuple(map(int, witness)) if witness is not None else None, text)


def _automorphism_to(graph: TypedGraph, refiner: _Refiner, partition: _Partition, b: int, c: int,
                     individualised) -> tuple[bool, np.ndarray | None]:
    """Whether refinement leaves open that an automorphism fixing the base maps ``b``
    (``individualised``: b's colouring and trace) to ``c``, and such an automorphism, or None if
    there is none. The swap of b and c is tried first: twins (the ANs of one UE, the Tx of
    unlinked pairs) are common and it costs O(n)."""
    state_b, trace_b = individualised
    if _swap_is_automorphism(graph, b, c):
        return True, _transposition(len(partition.cell_of), b, c)
    state_c, trace_c = refiner.individualise(partition, c)
    if trace_c != trace_b:
        return False, None
    return True, _automorphism_between(graph, refiner, state_b, state_c)


def _stabiliser_orbit(graph: TypedGraph, refiner: _Refiner, chain: StabiliserChain, partition: _Partition,
                      b: int, individualised) -> tuple[int, int, np.ndarray | None]:
    """The size of the orbit of ``b`` under Aut_(base) within b's cell (``chain``: G_(base)),
    the number of questions refinement left open on the way, and the first automorphism found
    (it maps b out of its G_(base)-orbit, so it is not in G), or None.

    The cell splits into G_(base)-orbits in closed form; b's own orbit counts whole. For every
    other orbit the question is whether an automorphism fixing the base maps b into it. The
    automorphisms found so far join the cell's vertices (a union–find), so an orbit they
    already join to b needs no search; otherwise the swap of b and the orbit's least vertex is
    tried, then the refinement traces are compared and, where they agree, a search decides.
    """
    state_b, _ = individualised
    members = partition.cells[int(partition.cell_of[b])].tolist()
    keys = dict(zip(members, chain.orbit_keys(members)))
    cell = np.asarray(members)
    root = {v: v for v in members}

    def find(v: int) -> int:
        while root[v] != v:
            root[v] = root[root[v]]
            v = root[v]
        return v

    def join(perm: np.ndarray) -> None:  # perm fixes the base: it maps the cell onto itself
        for v in cell[perm[cell] != cell].tolist():
            root[find(v)] = find(int(perm[v]))

    orbits: dict[tuple, list[int]] = {}
    for v, key in keys.items():
        orbits.setdefault(key, []).append(v)
        root[find(v)] = find(orbits[key][0])
    found, questions, first = len(orbits[keys[b]]), 0, None
    for key, orbit in orbits.items():
        if key == keys[b]:
            continue
        c = min(orbit)
        known = find(c) == find(b)  # an automorphism found before maps b into this orbit
        question, perm = (True, None) if known else _automorphism_to(graph, refiner, partition, b, c, individualised)
        questions += question and not state_b.discrete  # a discrete colouring answers without a search
        if not known and perm is None:
            continue
        found += len(orbit)
        if perm is not None:
            first = perm if first is None else first
            join(perm)
    return found, questions, first


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
