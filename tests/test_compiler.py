"""The pipeline on the shipped specs: type tables pinned to the papers, orders to closed forms."""

import math
from pathlib import Path

import pytest

import designer
from designer.compiler import CertificateFailure, compile_file, compile_spec
from designer.spec import parse_spec
from specs_for_tests import HYBRID_UNBROKEN, RELATED_NO_EDGES

SPECS = Path(__file__).resolve().parent.parent / "specs"
f = math.factorial

# spec: (vertex types, edge types, VertexGNN processors, EdgeGNN processors or None, closed-form |G|)
GOLDEN = {
    "mcmu_power_allocation": (2, 3, 6, 16, lambda s: f(s["M"]) * f(s["K"]) ** s["M"]),
    "hybrid_precoding": (4, 4, 8, 15, lambda s: f(s["N_RF"]) * f(s["N_t"]) * f(s["K"]) * f(s["N_r"]) ** s["K"]),
    "hybrid_precoding_miso": (3, 3, 6, 12, lambda s: f(s["N_RF"]) * f(s["N_t"]) * f(s["K"])),
    "hybrid_precoding_structured": (3, 2, 4, 5, lambda s: f(s["N_t"]) * f(s["K"]) * f(s["N_r"]) ** s["K"]),
    "d2d_link_scheduling": (2, 2, 4, 6, lambda s: f(s["K"])),
    "comp_jt": (2, 2, 3, 4, lambda s: f(s["B"]) * f(s["N"]) ** s["B"]),
    "mu_miso_precoding": (2, 1, 2, 2, lambda s: f(s["K"]) * f(s["N"])),
    "mu_miso_precoding_structured": (2, 1, 2, 2, lambda s: f(s["K"]) * f(s["N"])),
    "ic_beamforming_edge": (2, 2, 4, 6, lambda s: f(s["K"])),
    "ic_beamforming_node": (2, 2, 4, 6, lambda s: f(s["K"])),
    "ic_beamforming_structured": (2, 2, 4, 6, lambda s: f(s["K"])),
    "ibc_power_allocation": (2, 3, 6, 16, lambda s: f(s["B"]) * f(s["Q"]) ** s["B"]),
    "cooperative_beamforming": (2, 1, 2, 2, lambda s: f(s["M"]) * f(s["K"])),
    # the sparse variants: the same typed graph, certificate and tables as their dense specs
    "d2d_link_scheduling_sparse": (2, 2, 4, 6, lambda s: f(s["K"])),
    "ic_beamforming_sparse": (2, 2, 4, 6, lambda s: f(s["K"])),
}


def test_every_problem_of_both_papers_is_shipped():
    assert sorted(p.stem for p in SPECS.glob("*.yaml")) == sorted(GOLDEN)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_tables(name):
    vt, et, vp, ep, order = GOLDEN[name]
    c = compile_file(SPECS / f"{name}.yaml")
    assert (len(c.vertex_types), len(c.edge_types)) == (vt, et)
    assert len(c.architectures["vertex"].processors) == vp
    assert len(c.architectures["edge"].processors) == ep
    assert c.group.order == order(c.sizes)
    assert c.certificate.verdict == "equal"
    assert c.certificate.aut_order == c.group.order


def test_comp_jt_needs_s4new_and_ends_with_the_wreath_product():
    c = compile_file(SPECS / "comp_jt.yaml")
    assert c.first_certificate.verdict == "larger"
    assert c.first_certificate.aut_order == f(c.sizes["B"] * c.sizes["N"])  # S_{BN}
    assert c.s4new_applied and [e.origin for e in c.edge_types] == ["tensor", "S4new"]
    assert c.group.formula == "S_N ≀ S_B"


def test_hybrid_groups_and_symmetry_breaking():
    c = compile_file(SPECS / "hybrid_precoding.yaml")
    assert c.group.formula == "S_N_RF × S_N_t × (S_N_r ≀ S_K)"
    assert c.indistinguishable == ()  # broken by declaration
    b = c.symmetry_breaking
    assert b.axes == (("rf", "index"),)
    assert b.group.formula == "S_N_t × (S_N_r ≀ S_K)"
    assert b.group.order * f(c.sizes["N_RF"]) == c.group.order
    assert b.certificate.verdict == "equal" and b.certificate.aut_order == b.group.order


def test_indistinguishable_rf_chains_are_detected():
    c = compile_spec(parse_spec(HYBRID_UNBROKEN))
    assert [(i.axis, i.sets, i.actions) for i in c.indistinguishable] == [("rf", ("RF_BS",), ("W_RF", "W_BB"))]
    assert c.symmetry_breaking is None


def test_failure_carries_witness_and_suggestions():
    with pytest.raises(CertificateFailure) as info:
        compile_spec(parse_spec(RELATED_NO_EDGES))
    failure = info.value
    assert failure.compilation.certificate.verdict == "larger"
    assert not failure.compilation.s4new_applied  # no nested set
    assert [e.name for e in failure.suggestions] == ["Tx_Rx_same_pair", "Tx_Rx_diff_pair"]


def test_auto_edges_repairs_the_graph():
    c = compile_spec(parse_spec(RELATED_NO_EDGES), auto_edges=True)
    assert c.auto_edges == ("Tx_Rx_same_pair",)
    assert c.certificate.verdict == "equal"


@pytest.mark.parametrize("sizes", [{"M": 2, "K": 2}, {"M": 4, "K": 3}])
def test_architecture_keys_do_not_depend_on_the_check_instance(sizes):
    base = compile_file(SPECS / "mcmu_power_allocation.yaml")
    other = compile_file(SPECS / "mcmu_power_allocation.yaml", sizes)
    assert other.architectures == base.architectures
    assert other.realised["edge"] == (14 if sizes["K"] == 2 else 16)


def test_report_states_the_group_of_each_variant():
    from designer.report import merged_edge_types, variant_groups

    mcmu = compile_file(SPECS / "mcmu_power_allocation.yaml")
    assert merged_edge_types(mcmu) == [("AN_UE_same_pair", "AN_UE_diff_pair", "AN_UE_diff_cell")]
    assert "strictly larger" in dict(variant_groups(mcmu))["vertex-types (Limitation 1)"]
    hybrid = compile_file(SPECS / "hybrid_precoding.yaml")
    assert merged_edge_types(hybrid) == []
    assert "G' = S_N_t × (S_N_r ≀ S_K)" in dict(variant_groups(hybrid))["full (default)"]


GROUPED = """
name: grouped
sets:
  group: {size: G}
  UE: {size: U, parent: group}
tensors:
  h: {role: feature, dims: [UE]}
  w: {role: feature, dims: [group]}
  p: {role: action, dims: [UE]}
check_sizes: {G: 2, U: 2}
"""


@pytest.mark.parametrize("groups", [2, 3, 4])
def test_auto_edges_choose_the_same_repair_at_every_check_size(groups):
    """Fewest edges at generic sizes: membership edges (G·U), not "different group" edges
    (G(G−1)·U, as many at two groups); the S4new edges they make unnecessary are dropped."""
    c = compile_spec(parse_spec(GROUPED), {"G": groups}, auto_edges=True)
    assert c.certificate.holds and c.auto_edges == ("group_UE_same_group",)
    assert [e.name for e in c.edge_types] == ["group_UE_same_group"] and not c.s4new_applied


def test_build_honours_auto_edges(tmp_path):
    spec = tmp_path / "grouped.yaml"
    spec.write_text(GROUPED)
    with pytest.raises(CertificateFailure):
        designer.build(spec, arch="vertex", hidden=4)
    model = designer.build(spec, arch="vertex", hidden=4, auto_edges=True)
    assert [e.name for e in model.plan.edge_types] == ["group_UE_same_group"]
