"""`designer.testing.assert_equivariant`: every shipped spec × architecture × sharing variant,
elements of G and permutations outside it, and the checks' own failure modes."""

import numpy as np
import pytest
import torch

import designer
from designer.compiler import compile_file
from designer.emit import plan_from_compilation
from designer.group import DesiredGroup
from designer.runtime.instance import Instance
from designer.testing import (apply, assert_equivariant, outside_transforms, random_element, random_features,
                              support_mask)
from helpers_models import ARCHS, SPECS, other_sizes, spec_path, tiny


# G is every permutation of the vertices that keeps the sets apart, and the only candidates outside
# it, exchanging UE and AN, map no action onto another (the actions live on UE alone): nothing to test
NOTHING_OUTSIDE = {"mu_miso_precoding_structured"}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("spec", SPECS)
def test_every_spec_architecture_and_sharing_is_equivariant_at_two_sizes(spec, arch):
    for sharing in ("full", "homogeneous", "vertex-types"):
        model = tiny(spec, arch, sharing=sharing)
        for sizes in (None, other_sizes(model)):
            report = assert_equivariant(model, sizes=sizes, trials=2, outside=sharing == "full")
            assert report.max_error < 1e-12
        if sharing == "full" and spec in NOTHING_OUTSIDE:
            assert not report.outside and "no two sets that can be exchanged" in report.skipped
        elif sharing == "full":
            assert report.outside and min(e for _, e in report.outside) > 1e-6


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("spec", SPECS)
def test_no_sharing_baseline_is_not_equivariant(spec, arch):
    with pytest.raises(AssertionError, match="is not equivariant to G"):
        assert_equivariant(tiny(spec, arch, sharing="none", sparse=False), trials=2)


def test_fnn_baseline_is_not_equivariant():
    with pytest.raises(AssertionError, match="FNN is not equivariant"):
        assert_equivariant(designer.build(spec_path("mcmu_power_allocation"), arch="fnn", hidden=8), trials=1)


@pytest.mark.parametrize("sharing", ["homogeneous", "vertex-types"])
def test_over_symmetric_designs_are_caught(sharing):
    # Limitation 1: without edge types an MCMU model cannot tell an AN's own UE from the others,
    # so moving an AN without its UE is a symmetry of the model although it is not in G.
    with pytest.raises(AssertionError, match="over-symmetric.*AN without its related UE"):
        assert_equivariant(tiny("mcmu_power_allocation", "vertex", sharing=sharing), trials=1)


def test_one_layer_vertex_gnn_on_comp_jt_cannot_see_its_subsets():
    # With one layer an antenna's state never hears its sibling antennas (it has no features of
    # its own), so below the budget the output ignores which BS an antenna belongs to.
    with pytest.raises(AssertionError, match="over-symmetric.*an under bs 0 to bs 1"):
        assert_equivariant(tiny("comp_jt", "vertex", layers=1, hidden=4, activation="relu"), trials=1)
    assert_equivariant(tiny("comp_jt", "vertex", layers=2), trials=1)


def test_a_deliberately_broken_model_fails_with_a_clear_message():
    model = tiny("d2d_link_scheduling", "vertex")
    original = model.run

    def biased(features, sizes=None):  # adds an index-dependent term: not equivariant
        out = original(features, sizes)
        return {"rho": out["rho"] + 1e-3 * torch.arange(out["rho"].shape[1], dtype=out["rho"].dtype)}

    model.run = biased
    with pytest.raises(AssertionError, match=r"action rho deviates by .* under a random element of G"):
        assert_equivariant(model, trials=3)


def test_spec_argument_may_be_a_path_or_a_plan():
    model = tiny("mu_miso_precoding", "vertex")
    plan = plan_from_compilation(compile_file(spec_path("mu_miso_precoding")))
    assert assert_equivariant(model, spec_path("mu_miso_precoding"), trials=1).max_error < 1e-12
    assert assert_equivariant(model, plan, trials=1).outside[0][0] == "exchanging the sets UE and AN"


def _vertex_permutation(plan, transform, instance):
    """A transform as a permutation of the compiler's vertex ids (sets in place only)."""
    perm = np.arange(len(instance))
    for vt in plan.vertex_types:
        target, flat = transform.images[vt.name]
        assert target == vt.name
        start = instance.type_ranges[vt.name].start
        perm[start:start + len(flat)] = start + flat.numpy()
    return perm


@pytest.mark.parametrize("spec", ["mcmu_power_allocation", "hybrid_precoding", "ibc_power_allocation", "comp_jt"])
def test_sampled_elements_are_in_g_and_outside_permutations_are_not(spec):
    compilation = compile_file(spec_path(spec))
    plan = plan_from_compilation(compilation)
    instance = Instance(compilation.structure, plan.sizes)
    reduced = DesiredGroup(instance, honour_breaking=True)
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        assert reduced.contains(_vertex_permutation(plan, random_element(plan, plan.sizes, generator), instance))
    transforms, sizes, reason = outside_transforms(plan, plan.sizes)
    assert transforms and not reason
    for h in transforms:
        assert not reduced.contains(_vertex_permutation(plan, h, instance)), h.description


def test_broken_axes_act_trivially_and_are_tried_outside():
    plan = plan_from_compilation(compile_file(spec_path("hybrid_precoding")))
    element = random_element(plan, plan.sizes, torch.Generator().manual_seed(0))
    assert torch.equal(element.images["RF_BS"][1], torch.arange(plan.sizes["N_RF"]))
    descriptions = [h.description for h in outside_transforms(plan, plan.sizes)[0]]
    assert descriptions[0] == "exchanging elements 0 and 1 of the broken axis rf"


def test_without_related_nested_or_exchangeable_sets_the_outside_check_is_skipped(tmp_path):
    path = tmp_path / "lonely.yaml"
    path.write_text("name: lonely\nsets:\n  UE: {size: K}\ntensors:\n  g: {role: feature, dims: [UE]}\n"
                    "  p: {role: action, dims: [UE]}\ncheck_sizes: {K: 3}\n")
    torch.manual_seed(0)
    report = assert_equivariant(designer.build(path, arch="vertex", hidden=4, layers=1), trials=1)
    assert not report.outside and "no related or nested sets" in report.skipped


def test_transforms_move_matched_support_onto_itself():
    plan = plan_from_compilation(compile_file(spec_path("ic_beamforming_edge")))
    mask = support_mask(plan, plan.tensor("V"), plan.sizes)
    assert torch.equal(mask, torch.eye(plan.sizes["K"], dtype=torch.bool))
    x = random_features(plan, plan.sizes, batch=1)
    g = random_element(plan, plan.sizes, torch.Generator().manual_seed(3))
    moved = apply(plan, g, {"V": torch.diag_embed(torch.ones(1, 4, 2).movedim(-1, 1)).movedim(1, -1)}, plan.sizes)
    assert torch.equal(moved["V"][0, ..., 0] != 0, mask)
    assert set(apply(plan, g, x, plan.sizes)) == {"p_max", "sigma", "H"}


@pytest.mark.parametrize("options", [
    {"pooling": "sum", "norm": "layer"},
    {"pooling": "mean", "activation": "gelu", "mlp_layers": 3},
    {"pooling": "max", "activation": "relu", "edge_processors": "neighbour"},
    {"pooling": "max+mean", "hidden": 5},
    {"pooling": "max+sum", "edge_processors": "neighbour", "hidden": 5},
    {"preset": "engnn", "hidden": 6},
    {"input_transform": "log", "hidden": 6},
    {"residual": True, "layers": 3, "hidden": 6},
])
def test_options_keep_equivariance(options):
    for spec in ("ibc_power_allocation", "comp_jt"):
        model = tiny(spec, "vertex_edge", **options)
        assert_equivariant(model, sizes=other_sizes(model), trials=1)
