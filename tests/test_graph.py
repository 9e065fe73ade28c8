"""Stage 4: S1new/S2new — edge types as size-independent predicates equal G's orbits on pairs."""

import itertools

import numpy as np
import pytest

from designer.graph import (TypedGraph, brute_force_pair_orbits, edge_pairs, edge_types_from_tensors,
                            s4new_edge_types, vertex_types)
from designer.group import DesiredGroup
from designer.runtime.instance import Instance
from designer.runtime.plan import EdgeType
from designer.spec import parse_spec
from designer.structure import build_structure
from specs_for_tests import COMP, HYBRID_UNBROKEN, MCMU


def predicate_partition(instance):
    """Label every ordered pair by the pattern (type of u, type of v, agree) whose S2new
    predicate (:meth:`Instance.pairs`) holds for it; every pair gets exactly one label."""
    labels = {}
    for a, path_a in instance.paths.items():
        for b, path_b in instance.paths.items():
            shared = tuple(x for x, y in itertools.takewhile(lambda xy: xy[0] == xy[1], zip(path_a, path_b)))
            for agree in range(len(shared) + 1):
                first, second = instance.pairs(EdgeType(f"{a}_{b}_{agree}", (a, b), shared, agree))
                for i, j in zip(first.tolist(), second.tolist()):
                    pair = (instance.type_ranges[a][i], instance.type_ranges[b][j])
                    assert pair not in labels
                    labels[pair] = (a, b, agree)
    assert len(labels) == len(instance) ** 2
    return labels


def as_partition(labels):
    blocks = {}
    for pair, label in labels.items():
        blocks.setdefault(label, set()).add(pair)
    return {frozenset(b) for b in blocks.values()}


@pytest.mark.parametrize("text, sizes", [
    (MCMU, {"M": 2, "K": 2}), (MCMU, {"M": 3, "K": 2}), (COMP, {"B": 2, "N": 3}),
    (HYBRID_UNBROKEN, {"N_RF": 2, "N_t": 2, "K": 2, "N_r": 2}),
])
def test_predicates_equal_true_orbits(text, sizes):
    instance = Instance(build_structure(parse_spec(text)), sizes)
    group = DesiredGroup(instance)
    truth = as_partition(brute_force_pair_orbits(instance, group.generators))
    assert as_partition(predicate_partition(instance)) == truth


def test_edge_pairs_are_the_unordered_pairs_first_endpoint_major():
    s = build_structure(parse_spec(COMP))
    instance = Instance(s, {"B": 2, "N": 3})
    et = s4new_edge_types(s, edge_types_from_tensors(s))[0]  # AN_AN_diff_an: same bs, different an
    assert [(int(u), int(v)) for u, v in zip(*edge_pairs(instance, et))] == [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5),
                                                                            (4, 5)]
    first, second = instance.pairs(et)  # ordered: both directions
    assert len(first) == 12 and np.all(np.diff(first * 6 + second) > 0)


def test_mcmu_edge_types_are_com_mui_ici():
    s = build_structure(parse_spec(MCMU))
    ets = edge_types_from_tensors(s)
    assert [(e.name, e.predicate) for e in ets] == [
        ("AN_UE_same_pair", "same cell, pair"),
        ("AN_UE_diff_pair", "same cell; different pair"),
        ("AN_UE_diff_cell", "different cell"),
    ]
    assert all(e.features == ("H",) for e in ets)
    graph = TypedGraph(Instance(s, {"M": 3, "K": 4}), vertex_types(s), ets)
    assert [graph.edge_count(e) for e in ets] == [12, 36, 96]


def test_matched_support_keeps_only_the_diagonal_pattern():
    s = build_structure(parse_spec(HYBRID_UNBROKEN))
    v_rf = [e for e in edge_types_from_tensors(s) if "V_RF" in e.actions]
    assert [(e.sets, e.agree, e.predicate) for e in v_rf] == [(("UE", "AN_UE"), 1, "same ue")]


def test_s4new_adds_intra_subset_edges():
    s = build_structure(parse_spec(COMP))
    extra = s4new_edge_types(s, edge_types_from_tensors(s))
    assert [(e.name, e.origin, e.predicate) for e in extra] == [("AN_AN_diff_an", "S4new", "same bs; different an")]
    graph = TypedGraph(Instance(s, {"B": 2, "N": 3}), vertex_types(s), edge_types_from_tensors(s) + extra)
    m = graph.colour_matrix
    assert m[0, 1] and m[0, 2] and not m[0, 3]  # AN[0,0] ~ AN[0,1], AN[0,2]; not AN[1,0]
    assert np.array_equal(m, m.T)
