"""Stage 6: Propositions 1–2 — processor keys derived for generic sizes, confirmed by instances."""

from designer.architecture import architectures, edge_processors
from designer.graph import TypedGraph, edge_types_from_tensors, vertex_types
from designer.runtime.instance import Instance
from designer.spec import parse_spec
from designer.structure import build_structure
from specs_for_tests import MCMU


def mcmu_graph(m, k):
    s = build_structure(parse_spec(MCMU))
    return TypedGraph(Instance(s, {"M": m, "K": k}), vertex_types(s), edge_types_from_tensors(s))


def test_mcmu_edge_processors_depend_on_size_and_generic_keys_cover_all():
    # docs/method.md, section 'Worked example: MCMU power allocation': 14 EdgeGNN processors
    # at 2 UEs per cell, 16 from 3 UEs per cell on.
    assert len(edge_processors(mcmu_graph(2, 2))) == 14
    assert len(edge_processors(mcmu_graph(3, 3))) == 16
    assert len(edge_processors(mcmu_graph(4, 5))) == 16
    generic = set(edge_processors(mcmu_graph(3, 3)))
    assert set(edge_processors(mcmu_graph(2, 2))) < generic
    missing = generic - set(edge_processors(mcmu_graph(2, 2)))
    assert {str(p) for p in missing} == {"AN_UE_diff_pair <- AN_UE_diff_pair through AN",
                                         "AN_UE_diff_pair <- AN_UE_diff_pair through UE"}


def test_mcmu_tables():
    graph = mcmu_graph(3, 3)
    archs = architectures(graph.vertex_types, graph)
    assert len(archs["vertex"].vertex_processors) == 6
    assert archs["vertex"].poolers == ("AN", "UE") and archs["vertex"].combiners == ("AN", "UE")
    assert len(archs["edge"].edge_processors) == 16
    assert len(archs["edge"].combiners) == 3
    assert len(archs["vertex_edge"].processors) == 22
