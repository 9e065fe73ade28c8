"""Property-based tests over random specs: random nesting forests, relations and tensors.

For every generated spec: the S2new predicates equal G's true orbits on pairs, G ⊆ Aut, and the
certificate's |Aut| equals brute-force enumeration (when Aut is small enough to enumerate).
"""


import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from designer.certificate import brute_force_automorphisms, certify, is_automorphism
from designer.graph import TypedGraph, brute_force_pair_orbits, edge_types_from_tensors, s4new_edge_types, vertex_types
from designer.group import DesiredGroup
from designer.runtime.instance import Instance
from designer.spec import parse_spec
from designer.structure import build_structure
from test_graph import as_partition, predicate_partition


@st.composite
def random_specs(draw):
    n_classes = draw(st.integers(1, 3))
    sets, sizes, leaves = {}, {}, []
    for c in range(n_classes):
        parent = draw(st.sampled_from([None] + [f"S{p}a" for p in range(c)]))
        size = draw(st.integers(1, 3))
        sizes[f"n{c}"] = size
        members = [f"S{c}a"] + (["S%db" % c] if draw(st.booleans()) else [])
        for i, name in enumerate(members):
            entry = {"size": f"n{c}"}
            if parent:
                entry["parent"] = parent
            if i:
                entry["related"] = members[0]
            sets[name] = entry
    names = list(sets)
    tensors = {}
    for t in range(draw(st.integers(1, 3))):
        dims = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2))
        tensors[f"T{t}"] = {"role": draw(st.sampled_from(["feature", "action"])), "dims": dims}
    parents = {e.get("parent") for e in sets.values()}
    used = {d for t in tensors.values() for d in t["dims"]}
    for name in names:
        if name not in used and name not in parents:
            tensors[f"V{name}"] = {"role": "feature", "dims": [name]}
    spec = {"name": "random", "sets": sets, "tensors": tensors, "check_sizes": sizes}
    return yaml.safe_dump(spec, sort_keys=False)


def setup(text, s4new):
    s = build_structure(parse_spec(text))
    inst = Instance(s, parse_spec(text).check_sizes)
    ets = edge_types_from_tensors(s)
    if s4new:
        ets += s4new_edge_types(s, ets)
    return inst, DesiredGroup(inst), TypedGraph(inst, vertex_types(s), ets)


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(random_specs())
def test_predicates_equal_orbits(text):
    inst, group, _ = setup(text, False)
    assume(len(inst) <= 24)
    truth = as_partition(brute_force_pair_orbits(inst, group.generators))
    assert as_partition(predicate_partition(inst)) == truth


@SETTINGS
@given(random_specs(), st.booleans())
def test_certificate_equals_brute_force(text, s4new):
    inst, group, graph = setup(text, s4new)
    assume(len(inst) <= 14)
    assert all(is_automorphism(graph, g) for g in group.generators)  # G ⊆ Aut
    cert = certify(graph, group)
    assert cert.group_order == group.order and cert.aut_order >= group.order
    assume(cert.aut_order <= 3000)
    autos = brute_force_automorphisms(graph)
    assert len(autos) == cert.aut_order
    assert sum(group.contains(p) for p in autos) == group.order
    if cert.witness is not None:
        assert not group.contains(cert.witness) and is_automorphism(graph, cert.witness)
