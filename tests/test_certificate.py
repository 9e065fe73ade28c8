"""Stage 5: S3new — the orbit–stabiliser count of |Aut| equals brute-force enumeration."""

import numpy as np
import pytest

from designer.certificate import brute_force_automorphisms, certify, is_automorphism
from designer.graph import TypedGraph, edge_types_from_tensors, s4new_edge_types, vertex_types
from designer.group import DesiredGroup
from designer.runtime.instance import Instance
from designer.spec import parse_spec
from designer.structure import build_structure
from specs_for_tests import COMP, HYBRID_UNBROKEN, MCMU, RELATED_NO_EDGES


def typed(text, sizes, s4new=False):
    s = build_structure(parse_spec(text))
    ets = edge_types_from_tensors(s)
    if s4new:
        ets += s4new_edge_types(s, ets)
    inst = Instance(s, sizes)
    return TypedGraph(inst, vertex_types(s), ets), DesiredGroup(inst)


CASES = [
    (MCMU, {"M": 2, "K": 2}, False, "equal"),
    (MCMU, {"M": 2, "K": 3}, False, "equal"),
    (HYBRID_UNBROKEN, {"N_RF": 2, "N_t": 2, "K": 2, "N_r": 2}, False, "equal"),
    (COMP, {"B": 2, "N": 2}, False, "larger"),
    (COMP, {"B": 3, "N": 2}, False, "larger"),
    (COMP, {"B": 2, "N": 3}, True, "equal"),
    (RELATED_NO_EDGES, {"K": 3}, False, "larger"),
]


@pytest.mark.parametrize("text, sizes, s4new, verdict", CASES)
def test_certificate_equals_brute_force(text, sizes, s4new, verdict):
    graph, group = typed(text, sizes, s4new)
    cert = certify(graph, group)
    autos = brute_force_automorphisms(graph)
    assert cert.aut_order == len(autos)
    assert cert.group_order == group.order
    assert cert.verdict == verdict
    assert all(is_automorphism(graph, p) for p in autos)
    in_group = sum(group.contains(p) for p in autos)
    assert in_group == group.order  # G ⊆ Aut, exactly
    if verdict == "larger":
        witness = np.array(cert.witness)
        assert is_automorphism(graph, witness) and not group.contains(witness)
        assert cert.witness_text.startswith("(")
    else:
        assert cert.witness is None


def test_comp_jt_witness_moves_an_antenna_to_another_bs():
    graph, group = typed(COMP, {"B": 2, "N": 2})
    assert certify(graph, group).witness_text == "(AN[0,1] AN[1,0])"


def test_a_broken_generator_is_reported():
    graph, group = typed(MCMU, {"M": 2, "K": 2})
    # drop one edge type: the generators still preserve the others, so certify must not raise,
    # and |Aut| grows.
    smaller = TypedGraph(graph.instance, graph.vertex_types, graph.edge_types[:1])
    assert certify(smaller, group).verdict == "larger"
