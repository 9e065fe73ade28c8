"""Stage 6 — architecture tables: which processors, poolers and combiners are shared by type.

* VertexGNN (Zhao Prop. 1, eq. 5): one processor per (target vertex type, source vertex type,
  edge type) (C1); one pooler and one combiner per vertex type (C2).
* EdgeGNN (Zhao Prop. 2, eq. 6; ENGNN eq. 24): one processor per (updated edge type, shared
  vertex type, neighbouring edge type) (C1); one pooler and one combiner per edge type (C2).
* Vertex + edge (Zhao Remark 7; ENGNN eqs. 21, 22, 24): both rules in the same layer.

Keys are derived on a *generic* instance (every size symbol 3, enough to realise every equality
pattern among an edge, its shared vertex and a neighbouring edge), so a tiny check instance
cannot drop a processor a larger deployment needs; :func:`realised` counts what an instance has.
"""

from __future__ import annotations


import numpy as np

from .graph import EdgeType, TypedGraph, VertexType, edge_pairs
from .runtime.plan import Architecture, EdgeProcessor, VertexProcessor

# The models a spec compiles to: Zhao Prop. 1, Prop. 2, ENGNN (both), and the no-graph baseline.
ARCHITECTURES = ("vertex", "edge", "vertex_edge", "fnn")


def vertex_processors(edge_types: tuple[EdgeType, ...]) -> tuple[VertexProcessor, ...]:
    """Prop. 1 (C1): each edge type carries messages both ways (once for a same-type pair)."""
    out = []
    for et in edge_types:
        a, b = et.sets
        out.append(VertexProcessor(a, b, et.name))
        if a != b:
            out.append(VertexProcessor(b, a, et.name))
    return tuple(out)


def edge_processors(graph: TypedGraph) -> tuple[EdgeProcessor, ...]:
    """Prop. 2 (C1) on ``graph``: for one representative edge of each type (G is transitive on
    it), the types of the edges sharing each endpoint with it."""
    matrix = graph.colour_matrix
    loops: dict[str, list[str]] = {}  # vertex type -> its loop edge types
    for et in graph.edge_types:
        if et.is_loop:
            loops.setdefault(et.sets[0], []).append(et.name)
    names = [et.name for et in graph.edge_types]
    out = []
    for et in graph.edge_types:
        u, v = edge_pairs(graph.instance, et)
        if len(u) == 0:
            continue
        u0, v0 = int(u[0]), int(v[0])
        # A same-type edge is symmetric under G, so one endpoint stands for both.
        ends = [(u0, v0)] if et.sets[0] == et.sets[1] else [(u0, v0), (v0, u0)]
        for shared, other in ends:
            through = graph.instance.vertices[shared].set
            row = matrix[shared].copy()
            row[other] = 0
            keys = {names[c - 1] for c in np.unique(row[row != 0]).tolist()}
            keys |= {name for name in loops.get(through, ()) if name != et.name}
            out.extend(EdgeProcessor(et.name, through, k) for k in keys)
    order = {n: i for i, n in enumerate(names)}
    return tuple(sorted(set(out), key=lambda p: (order[p.target], p.through, order[p.neighbour])))


def architectures(vertex_types: tuple[VertexType, ...], generic: TypedGraph) -> dict[str, Architecture]:
    """The three sharing tables, derived on the generic instance ``generic``."""
    vp = vertex_processors(generic.edge_types)
    ep = edge_processors(generic)
    edge_names = tuple(et.name for et in generic.edge_types)
    all_vertices = tuple(vt.name for vt in vertex_types)
    return {
        "vertex": Architecture("vertex", vp, (), all_vertices, ()),
        "edge": Architecture("edge", (), ep, (), edge_names),
        "vertex_edge": Architecture("vertex_edge", vp, ep, all_vertices, edge_names),
    }


def realised(arch: Architecture, instance_graph: TypedGraph) -> int:
    """How many of an architecture's processors an instance actually exercises."""
    present = {et.name for et in instance_graph.edge_types if instance_graph.edge_count(et)}
    vertex = [p for p in arch.vertex_processors if p.edge in present]
    edge_keys = set(edge_processors(instance_graph)) if arch.edge_processors else set()
    return len(vertex) + len([p for p in arch.edge_processors if p in edge_keys])
