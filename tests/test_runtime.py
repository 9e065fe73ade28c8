"""The runtime models: forward contract, constraints, validation, sharing tables, symmetry
breaking, the parameter-sharing cross-check (Zhao §4-C), sizes, state dicts, export/compile."""

import copy
import importlib.util
import math
import time

import numpy as np
import pytest
import torch

import designer
from designer.compiler import compile_file
from designer.group import DesiredGroup
from designer.runtime import evaluate, parse_expression
from designer.runtime.layers import Wanted, wanted_per_layer
from designer.runtime.model import RealFeatures, log_magnitude, outer_product_channels
from designer.runtime.pyg import hetero_graph, to_hetero_data
from designer.testing import assert_equivariant, random_features, tensor_shape
from helpers_models import SPECS, load_generated, other_sizes, spec_path, tiny

# --------------------------------------------------------------------------------- contract


@pytest.mark.parametrize("spec", SPECS)
def test_outputs_follow_the_layout_of_the_plan(spec):
    model = tiny(spec, "vertex_edge")
    sizes = other_sizes(model)
    features = random_features(model.plan, sizes, batch=3, dtype=torch.float32)
    out = model(**features, sizes=sizes)
    assert list(out) == [t.name for t in model.plan.actions]
    for t in model.plan.actions:
        assert out[t.name].shape == (3, *tensor_shape(model.plan, t, sizes))
        assert out[t.name].dtype == (torch.complex64 if t.dtype == "complex" else torch.float32)
        assert torch.isfinite(torch.view_as_real(out[t.name]) if t.dtype == "complex" else out[t.name]).all()


def test_mcmu_layout_and_power_budget():
    model = tiny("mcmu_power_allocation")
    H = torch.rand(4, 2, 3, 2, 3)  # (batch, M, K, M, K)
    p = model(H=H)["p"]
    assert p.shape == (4, 2, 3) and (p >= 0).all()
    assert (p.sum(-1) <= 1 + 1e-6).all()


def test_log_magnitude_compresses_gains_and_keeps_sign_and_phase():
    gains = torch.tensor([0.0, 1e-30, 1.0, 1e7], dtype=torch.float64)
    assert torch.allclose(log_magnitude(gains), torch.log1p(gains), rtol=1e-12, atol=0)
    assert torch.equal(log_magnitude(-gains), -log_magnitude(gains))
    h = torch.tensor([3e4 * (0.6 + 0.8j), 0j, -2e-3j], dtype=torch.complex128)
    out = log_magnitude(h)
    assert torch.allclose(out.abs(), torch.log1p(h.abs()), rtol=1e-12, atol=0)
    assert torch.allclose(out[0] / out[0].abs(), h[0] / h[0].abs(), rtol=1e-12)
    assert torch.allclose(out[2] / out[2].abs(), h[2] / h[2].abs(), rtol=1e-12)


def test_input_transform_reaches_the_first_layer():
    H = 10.0 ** (8 * torch.rand(2, 2, 3, 2, 3, dtype=torch.float64))
    plain = tiny("mcmu_power_allocation").double()
    logged = tiny("mcmu_power_allocation", input_transform="log").double()
    assert torch.allclose(logged(H=H)["p"], plain(H=torch.log1p(H))["p"], rtol=1e-12, atol=1e-14)
    assert not torch.allclose(logged(H=H)["p"], plain(H=H)["p"])
    with pytest.raises(ValueError, match="input_transform"):
        tiny("mcmu_power_allocation", input_transform="sqrt")
    fnn = designer.build(spec_path("mcmu_power_allocation"), arch="fnn", hidden=8, input_transform="log").double()
    assert torch.isfinite(fnn(H=10.0 ** (8 * torch.rand(2, 3, 3, 3, 3, dtype=torch.float64)))["p"]).all()


def test_outer_product_channels_match_h_hH_and_forget_only_the_phase():
    g = torch.Generator().manual_seed(4)
    h = torch.complex(*torch.randn(2, 5, 3, generator=g, dtype=torch.float64))
    out = outer_product_channels(h)
    assert out.shape == (5, 9)
    for b in range(5):  # brute force: the listed entries of h h^H / ||h||
        norm = math.sqrt(sum(abs(complex(z)) ** 2 for z in h[b]))
        outer = [[complex(h[b, i] * h[b, j].conj()) / norm for j in range(3)] for i in range(3)]
        expected = [outer[i][i].real for i in range(3)] + [outer[i][j].real for i, j in ((0, 1), (0, 2), (1, 2))] \
            + [outer[i][j].imag for i, j in ((0, 1), (0, 2), (1, 2))]
        assert torch.allclose(out[b], torch.tensor(expected, dtype=torch.float64), rtol=1e-12)
    theta = torch.rand(5, 1, generator=g, dtype=torch.float64) * 6
    turned = h * torch.polar(torch.ones_like(theta), theta)
    assert torch.allclose(outer_product_channels(turned), out, rtol=1e-12, atol=1e-12)
    assert torch.allclose(outer_product_channels(3 * h), 3 * out, rtol=1e-12)  # scales as |h|, as [Re h, Im h]
    other = h.clone()
    other[:, 0] = other[:, 0] * 1j  # a phase on one entry only is a different direction
    assert not torch.allclose(outer_product_channels(other), out)
    zero = outer_product_channels(torch.zeros(2, 3, dtype=torch.complex128))
    assert torch.equal(zero, torch.zeros(2, 9, dtype=torch.float64))


def test_outer_input_makes_the_ic_model_blind_to_every_channel_phase():
    model = designer.build(spec_path("ic_beamforming_edge"), arch="vertex_edge", hidden=6, input_transform="outer",
                           sizes={"K": 3, "N": 3}).double()
    features = random_features(model.plan, model.sizes, batch=2, dtype=torch.float64)
    theta = torch.rand(2, 3, 3, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 6
    turned = {**features, "H": features["H"] * torch.polar(torch.ones_like(theta), theta)}
    assert torch.allclose(model(**turned)["V"], model(**features)["V"], rtol=1e-10, atol=1e-12)
    plain = designer.build(spec_path("ic_beamforming_edge"), arch="vertex_edge", hidden=6, sizes={"K": 3, "N": 3})
    assert not torch.allclose(plain.double()(**turned)["V"], plain.double()(**features)["V"])
    assert_equivariant(model, trials=1)
    fnn = designer.build(spec_path("ic_beamforming_edge"), arch="fnn", hidden=6, input_transform="outer",
                         sizes={"K": 3, "N": 3}).double()
    assert torch.allclose(fnn(**turned)["V"], fnn(**features)["V"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("model", [tiny("ibc_power_allocation"),
                                   designer.build(spec_path("ibc_power_allocation"), arch="fnn", hidden=8)])
def test_nonnegative_matched_actions_spend_no_budget_off_their_support(model):
    # P (batch, B, Q, B, Q) lives on the direct links only
    P = model(**random_features(model.plan, model.sizes, batch=3, dtype=torch.float32))["P"]
    B, Q = model.sizes["B"], model.sizes["Q"]
    direct = torch.eye(B * Q, dtype=torch.bool).reshape(B, Q, B, Q)
    assert (P[:, ~direct] == 0).all() and (P[:, direct] > 0).all()
    assert (P.sum(dim=(2, 3, 4)) <= 1 + 1e-6).all()


def test_power_budget_modes_and_budget_tensors():
    spec = spec_path("ic_beamforming_edge")
    features = random_features(tiny("ic_beamforming_edge").plan, {"K": 3, "N": 2}, batch=2, dtype=torch.float32)
    for mode in ("scale_if_above", "normalise"):
        torch.manual_seed(0)
        V = designer.build(spec, hidden=6, layers=1, power_budget=mode)(**features)["V"]
        power = V.abs().square().sum(dim=(2, 3))  # per BS, over its UE slots and antennas
        if mode == "normalise":
            assert torch.allclose(power, features["p_max"], rtol=1e-5)
        assert (power <= features["p_max"] * (1 + 1e-5)).all()


def test_a_budget_per_entry_of_a_one_set_tensor_binds_each_entry():
    """``power: dims [BS]``, budget per BS: every BS's power lies in [0, p_max] on its own (not
    the sum over all BSs, which is what a reduction over no axes would have computed)."""
    spec = spec_path("ic_beamforming_structured")
    features = random_features(tiny("ic_beamforming_structured").plan, {"K": 3, "N": 2}, batch=4, dtype=torch.float32)
    for mode in ("scale_if_above", "normalise"):
        torch.manual_seed(0)
        power = designer.build(spec, hidden=6, layers=1, power_budget=mode)(**features)["power"]
        assert power.shape == (4, 3) and (power >= 0).all() and (power <= features["p_max"] * (1 + 1e-5)).all()
        if mode == "normalise":
            assert torch.allclose(power, features["p_max"], rtol=1e-5)


def test_matched_support_is_dense_with_zeros_outside():
    V = tiny("ic_beamforming_edge")(**random_features(tiny("ic_beamforming_edge").plan, {"K": 4, "N": 2},
                                                       dtype=torch.float32))["V"]
    off = ~torch.eye(4, dtype=torch.bool)
    assert (V[:, off] == 0).all() and (V[:, ~off] != 0).any()


def test_hybrid_precoding_constraints_and_sizes_no_input_determines():
    model = tiny("hybrid_precoding")
    features = random_features(model.plan, {"N_RF": 3, "N_t": 4, "K": 2, "N_r": 2}, dtype=torch.float32)
    out = model(**features, sizes={"N_RF": 5})  # no feature is indexed by the RF chains
    W_RF, W_BB, V_RF = out["W_RF"], out["W_BB"], out["V_RF"]
    assert W_RF.shape == (2, 4, 5) and W_BB.shape == (2, 5, 2) and V_RF.shape == (2, 2, 2, 2)
    assert torch.allclose(W_RF.abs(), torch.full(W_RF.shape, 0.5), atol=1e-6)  # 1/sqrt(N_t)
    assert torch.allclose((W_RF @ W_BB).abs().square().sum((1, 2)), torch.full((2,), 2.0), rtol=1e-5)  # = K
    diagonal = torch.stack([V_RF[:, k, :, k] for k in range(2)], dim=1)  # (batch, UE, AN_UE) on the support
    assert torch.allclose(diagonal.abs(), torch.full((2, 2, 2), 2 ** -0.5), atol=1e-6)  # 1/sqrt(N_r)
    assert (V_RF[:, 0, :, 1] == 0).all() and (V_RF[:, 1, :, 0] == 0).all()  # block diagonal
    assert model(**features)["W_RF"].shape == (2, 4, 3)  # default: the build sizes


def test_symmetry_breaking_by_index_distinguishes_rf_chains():
    model = tiny("hybrid_precoding_miso")
    W_RF = model(**random_features(model.plan, model.sizes, dtype=torch.float32))["W_RF"]
    assert not torch.allclose(W_RF[..., 0], W_RF[..., 1])
    assert set(model.index_codes) == {"rf"}


def test_random_symmetry_breaking_draws_a_new_code_per_call(tmp_path):
    text = spec_path("hybrid_precoding_miso").read_text().replace("break_symmetry: index", "break_symmetry: random")
    path = tmp_path / "miso_random.yaml"
    path.write_text(text)
    torch.manual_seed(0)
    model = designer.build(path, hidden=6, layers=1)
    features = random_features(model.plan, model.sizes, dtype=torch.float32)
    assert not torch.allclose(model(**features)["W_RF"], model(**features)["W_RF"])
    designer.testing.assert_equivariant(model, trials=1)


# --------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("change, message", [
    (lambda f: {}, r"missing input H: expected a real tensor of shape \(batch, M, K, M, K\)"),
    (lambda f: {**f, "G": f["H"]}, "unexpected input 'G'; the inputs are: H"),
    (lambda f: {"H": f["H"][..., :2]}, r"H: .* = \(batch, 2, 3, 2, 3\), got \(2, 2, 3, 2, 2\): K = 2 here but 3"),
    (lambda f: {"H": f["H"].reshape(2, 6, 6)}, r"H: expected a real tensor of shape \(batch, M, K, M, K\), got shape"),
    (lambda f: {"H": f["H"].to(torch.complex64)}, "got dtype torch.complex64"),
    (lambda f: {"H": f["H"].to(torch.int64)}, "got dtype torch.int64"),
    (lambda f: {"H": f["H"].numpy()}, "got ndarray"),
    (lambda f: {"H": f["H"].clone().fill_(float("nan"))}, "H: non-finite entries"),
])
def test_bad_inputs_raise_value_errors_naming_the_tensor_and_shape(change, message):
    model = tiny("mcmu_power_allocation")
    features = random_features(model.plan, {"M": 2, "K": 3}, dtype=torch.float32)
    with pytest.raises(ValueError, match=message):
        model(**change(features))


def test_inconsistent_sizes_across_inputs_and_channels_fixed_at_build():
    model = tiny("ic_beamforming_edge")
    features = random_features(model.plan, {"K": 3, "N": 2}, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"sigma: .* = \(batch, 4\), got \(2, 3\): K = 3 here but 4 from p_max"):
        model(**{**features, "p_max": torch.rand(2, 4)})
    with pytest.raises(ValueError, match="N = 3 here but 2 from the channel count fixed"):
        model(**random_features(model.plan, {"K": 3, "N": 3}, dtype=torch.float32))
    with pytest.raises(ValueError, match="batch 2"):
        model(**{**features, "sigma": torch.rand(5, 3)})


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="unknown model option 'hiden'"):
        tiny("d2d_link_scheduling", hiden=3)
    with pytest.raises(ValueError, match="pooling='median': choose one of sum, mean, max"):
        tiny("d2d_link_scheduling", pooling="median")
    with pytest.raises(ValueError, match="pooling='max\\+mean' pools one block of channels per mode: .* at least 2"):
        tiny("d2d_link_scheduling", pooling="max+mean", edge_hidden=1)
    with pytest.raises(ValueError, match="unknown architecture 'gat'"):
        designer.build(spec_path("d2d_link_scheduling"), arch="gat")
    with pytest.raises(ValueError, match="does not apply to the FNN baseline"):
        designer.build(spec_path("d2d_link_scheduling"), arch="fnn", pooling="max")
    with pytest.raises(ValueError, match="residual='yes': must be true or false"):
        tiny("d2d_link_scheduling", residual="yes")


def test_residual_layers_add_the_update_to_the_previous_state():
    residual = tiny("ic_beamforming_edge", residual=True).double()
    plain = tiny("ic_beamforming_edge").double()  # same seed: the same weights
    plain.load_state_dict(residual.state_dict())
    features = random_features(plain.plan, plain.sizes, batch=2, dtype=torch.float64)
    instance = plain.instance(plain.bind(features, None), "cpu")
    vertices, edges = plain.embed(RealFeatures(plain, features), instance)
    for layer_plain, layer_residual in zip(plain.layers, residual.layers):
        new_v, new_e = layer_plain(vertices, edges, instance)
        res_v, res_e = layer_residual(vertices, edges, instance)
        for old, new, res in ((vertices, new_v, res_v), (edges, new_e, res_e)):
            for key in old:
                expected = old[key] + new[key] if new[key] is not old[key] else old[key]
                assert torch.allclose(res[key], expected, rtol=1e-12, atol=1e-12)
        vertices, edges = res_v, res_e
    assert not torch.allclose(residual(**features)["V"], plain(**features)["V"])


def test_engnn_preset():
    o = designer.build(spec_path("ic_beamforming_edge"), preset="engnn").options
    assert (o.layers, o.hidden, o.mlp_layers, o.pooling, o.activation, o.edge_processors) == (2, 64, 3, "max", "relu",
                                                                                            "neighbour")
    assert designer.build(spec_path("mcmu_power_allocation"), preset="engnn", layers=3).options.layers == 3
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        designer.build(spec_path("mcmu_power_allocation"), preset="fast")


def test_a_problem_sets_its_own_preset_values():
    """ENGNN's widths for the interference channel are the problem's (``model_presets``)."""
    from designer.config import TrainConfig
    from designer.problem import load
    from designer.training import build_model

    config = TrainConfig(spec=str(spec_path("ic_beamforming_edge")), problem="ic_beamforming_edge",
                         model_options={"preset": "engnn"})
    o = build_model(config, load("ic_beamforming_edge")).options
    assert (o.layers, o.hidden, o.pooling) == (1, 8, "max")
    mine = config.model_copy(update={"model_options": {"preset": "engnn", "hidden": 12}})
    assert build_model(mine, load("ic_beamforming_edge")).options.hidden == 12


@pytest.mark.parametrize("spec", ["ic_beamforming_edge", "mcmu_power_allocation"])
def test_own_readout_reads_the_carrier_state_only(spec):
    """``readout="own"`` (ENGNN eq. 26): heads as wide as the carrier's state; equivariant; the
    last layer then leaves every other type alone; refused where the carrier is never updated."""
    model = tiny(spec, readout="own").double()
    assert {h.in_features for h in model.heads.values()} == {6}
    assert len(model._read.vertices) + len(model._read.edges) == 1
    assert_equivariant(model, sizes=other_sizes(model))
    never_updated = "edge" if spec == "mcmu_power_allocation" else "vertex"
    with pytest.raises(ValueError, match="never updates"):
        tiny(spec, never_updated, readout="own")


# --------------------------------------------------------------------------------- sharing tables


def test_one_module_per_key_of_the_architecture_tables():
    compilation = compile_file(spec_path("mcmu_power_allocation"))
    for arch, counts in {"vertex": (6, 0, 2), "edge": (0, 16, 3), "vertex_edge": (6, 16, 5)}.items():
        layer = tiny("mcmu_power_allocation", arch, layers=2).layers[0]  # the first layer updates every type
        table = compilation.architectures[arch]
        assert (len(layer.vertex_processors), len(layer.edge_processors), len(layer.poolers)) == counts
        assert list(layer.vertex_processors) == [f"{p.target}__from__{p.source}__via__{p.edge}"
                                                 for p in table.vertex_processors]
        assert list(layer.poolers) == list(table.combiners)
    layer = tiny("mcmu_power_allocation", "edge", layers=2, edge_processors="neighbour").layers[0]
    assert sorted(layer.edge_processors) == sorted(f"{e}__through__{v}" for v in ("AN", "UE") for e in
                                                   ("AN_UE_same_pair", "AN_UE_diff_pair", "AN_UE_diff_cell"))


@pytest.mark.parametrize("spec", ["mcmu_power_allocation", "ic_beamforming_edge", "hybrid_precoding"])
@pytest.mark.parametrize("arch", ["vertex", "edge", "vertex_edge"])
def test_layers_build_only_what_an_output_reaches_without_changing_outputs(spec, arch, monkeypatch):
    """Each layer builds and updates only what a later layer or the read-out reads: every module
    built gets a gradient, and outputs and gradients equal those of a model whose every layer
    updates every type (given the same weights)."""
    features = random_features(tiny(spec).plan, tiny(spec).plan.sizes, generator=torch.Generator().manual_seed(0))
    pruned = tiny(spec, arch, pooling="max").double()
    real = wanted_per_layer

    def everything(table, read, layers):  # as if the read-out read every type the table updates
        return real(table, Wanted(read.vertices | set(table.vertex_targets), read.edges | set(table.edge_targets)),
                    layers)

    monkeypatch.setattr("designer.runtime.model.wanted_per_layer", everything)
    full = tiny(spec, arch, pooling="max").double()
    assert set(pruned.state_dict()) <= set(full.state_dict())
    if (spec, arch) == ("mcmu_power_allocation", "vertex_edge"):  # its read-out reads the ANs, not the UEs
        last = "layers.1.vertex_combiners.UE.a_in.weight"
        assert last not in pruned.state_dict() and last in full.state_dict()
    pruned.load_state_dict({k: v for k, v in full.state_dict().items() if k in pruned.state_dict()})
    runs = []
    for model in (pruned, full):
        out = model(**features)
        sum(v.abs().sum() for v in out.values()).backward()
        runs.append((out, {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    (pruned_out, pruned_grads), (full_out, full_grads) = runs
    assert set(pruned_grads) == {n for n, _ in pruned.named_parameters()}  # nothing built in vain
    for name in full_out:
        assert torch.allclose(pruned_out[name], full_out[name], rtol=0, atol=1e-12)
    for name, grad in pruned_grads.items():
        assert torch.allclose(grad, full_grads[name], rtol=0, atol=1e-12), name


def test_baseline_sharing_variants_collapse_the_keys():
    homogeneous = tiny("mcmu_power_allocation", "vertex_edge", sharing="homogeneous").layers[0]
    assert list(homogeneous.vertex_processors) == ["vertex__from__vertex__via__edge"]
    assert list(homogeneous.edge_processors) == ["edge__from__edge__through__vertex"]
    vertex_types = tiny("mcmu_power_allocation", "vertex", sharing="vertex-types").layers[0]
    assert list(vertex_types.vertex_processors) == ["AN__from__UE__via__AN__UE", "UE__from__AN__via__AN__UE"]


def test_no_sharing_refuses_other_sizes():
    model = tiny("d2d_link_scheduling", "vertex", sharing="none")
    model(**random_features(model.plan, {"K": 4}, dtype=torch.float32))
    with pytest.raises(ValueError, match="runs only at the axis sizes it was built for"):
        model(**random_features(model.plan, {"K": 5}, dtype=torch.float32))
    fnn = designer.build(spec_path("d2d_link_scheduling"), arch="fnn", hidden=8)
    with pytest.raises(ValueError, match="FNN baseline runs only at the axis sizes it was built for"):
        fnn(**random_features(fnn.plan, {"K": 5}, dtype=torch.float32))


# ------------------------------------------------- Zhao §4-C: type-based sharing = G-orbit tying


def _group_elements(group: DesiredGroup) -> list[np.ndarray]:
    """All of G by closing the generators (tiny instances only)."""
    identity = np.arange(len(group.instance))
    seen, frontier = {identity.tobytes(): identity}, [identity]
    while frontier:
        new = []
        for p in frontier:
            for g in group.generators:
                q = g[p]
                if q.tobytes() not in seen:
                    seen[q.tobytes()] = q
                    new.append(q)
        frontier = new
    return list(seen.values())


def _layer_matrix(arch: str, sizes: dict):
    """One layer of MCMU under Assumption 1 (linear processors, one-layer linear combiner, sum
    pooling, hidden size 1) as a matrix, with row and column labels: ("v", vertex id) or
    ("e", u, v) in the compiler's vertex numbering."""
    torch.manual_seed(0)
    model = designer.build(spec_path("mcmu_power_allocation"), arch=arch, sizes=sizes, hidden=1, layers=2,
                           mlp_layers=1, activation="identity", pooling="sum").double()
    # the first of two layers updates every type (the last, only what the read-out reads)
    layer, instance, plan = model.layers[0], model.prepare(sizes), model.plan
    start = {vt: instance.type_ranges[vt].start for vt in instance.type_ranges}  # the compiler's numbering too
    vertices = [("v", start[vt.name] + i) for vt in plan.vertex_types for i in range(instance.counts[vt.name])]
    edges = [("e", start[et.sets[0]] + int(a), start[et.sets[1]] + int(b)) for et in plan.edge_types
             for a, b in zip(instance.edges[et.name].first, instance.edges[et.name].second)]
    splits = [instance.counts[vt.name] for vt in plan.vertex_types] + [len(instance.edges[et.name])
                                                                       for et in plan.edge_types]

    def layer_map(z):
        parts = [p.view(-1, 1, 1) for p in torch.split(z, splits)]
        v_in = {vt.name: p for vt, p in zip(plan.vertex_types, parts)}
        e_in = {et.name: p for et, p in zip(plan.edge_types, parts[len(plan.vertex_types):])}
        v_out, e_out = layer(v_in, e_in, instance)
        outs = [v_out[vt.name] for vt in plan.vertex_types] if arch == "vertex" else \
            [e_out[et.name] for et in plan.edge_types]
        return torch.cat([o.reshape(-1) for o in outs])

    matrix = torch.autograd.functional.jacobian(layer_map, torch.randn(sum(splits), dtype=torch.float64))
    rows = vertices if arch == "vertex" else edges
    return matrix.numpy(), rows, vertices + edges, _group_elements(DesiredGroup(instance))


def _orbit_labels(rows, columns, elements):
    act = (lambda g, label: ("v", int(g[label[1]])) if label[0] == "v" else ("e", int(g[label[1]]), int(g[label[2]])))
    return {(r, c): min((act(g, rows[r]), act(g, columns[c])) for g in elements)
            for r in range(len(rows)) for c in range(len(columns))}


@pytest.mark.parametrize("arch, cells, orbits, exact", [
    ("vertex", 2, 14, True),  # Zhao eq. (9): 2 self terms, 6 (target, source, edge type), 6 (target, edge type)
    ("edge", 2, 23, True),
    ("vertex", 3, 14, True),
    ("edge", 3, 25, False),
])
def test_type_based_sharing_ties_the_g_orbits(arch, cells, orbits, exact):
    """Zhao §4-C: enumerate G, label every (output, input) entry of one layer's matrix by its
    G-orbit, and compare with the tying that type-based sharing produces (distinct random
    parameters: equal entries ⇔ tied). Entries of one orbit are always equal (equivariance).
    Prop. 1 never ties different orbits; Prop. 2 can: from three cells on, an ICI neighbour
    (through the AN) whose UE sits in the target UE's cell and one whose UE sits in a third cell
    are different orbits but share the processor (ICI, AN, ICI) — equivariant, not maximal."""
    matrix, rows, columns, elements = _layer_matrix(arch, {"M": cells, "K": 2})
    assert len(elements) == math.factorial(cells) * 2 ** cells  # |S_2 ≀ S_M| = M!·(2!)^M
    values: dict = {}
    for (r, c), orbit in _orbit_labels(rows, columns, elements).items():
        values.setdefault(orbit, set()).add(round(float(matrix[r, c]), 12))
    assert all(len(v) == 1 for v in values.values()), "entries of one G-orbit differ: not G-equivariant"
    nonzero = {orbit: v.pop() for orbit, v in values.items() if v != {0.0}}
    assert len(nonzero) == orbits
    assert (len(set(nonzero.values())) == len(nonzero)) == exact


# --------------------------------------------------------------------------------- plan helpers


def test_expressions_evaluate_with_sizes_and_tensors():
    assert evaluate("1/sqrt(N_t)", {"N_t": 4}) == 0.5
    assert evaluate("-2**2 + 3*(K - 1)", {"K": 2}) == -1.0
    budget = parse_expression("2 * p_max")({"p_max": torch.tensor([1.0, 3.0])})
    assert torch.equal(budget, torch.tensor([2.0, 6.0]))
    with pytest.raises(ValueError, match="'1 \\+': expected a value, got the end"):
        parse_expression("1 +")
    with pytest.raises(ValueError, match="unexpected character '%'"):
        parse_expression("K % 2")


# --------------------------------------------------------------------------------- ecosystem


def test_state_dict_round_trips_across_sizes():
    small = tiny("mcmu_power_allocation", seed=1)
    large = designer.build(spec_path("mcmu_power_allocation"), sizes={"M": 4, "K": 5}, **{k: v for k, v in
                           {"hidden": 6, "layers": 2, "mlp_layers": 2, "activation": "tanh"}.items()})
    large.load_state_dict(small.state_dict())
    features = random_features(small.plan, {"M": 4, "K": 5}, dtype=torch.float32)
    assert torch.equal(small(**features)["p"], large(**features)["p"])


def test_torch_export_of_a_generated_module(tmp_path):
    generated = load_generated("d2d_link_scheduling", tmp_path)
    torch.manual_seed(0)
    model = generated.D2dLinkSchedulingVertexGNN(hidden=4, layers=1).eval()
    model.prepare({"K": 3})
    H = torch.rand(2, 3, 3)
    exported = torch.export.export(model, args=(), kwargs={"H": H})
    assert torch.allclose(exported.module()(H=H)["rho"], model(H=H)["rho"])


@pytest.mark.slow  # torch.compile: tens of seconds of inductor compilation
def test_torch_compile_of_a_generated_module(tmp_path):
    generated = load_generated("d2d_link_scheduling", tmp_path)
    torch.manual_seed(0)
    model = generated.D2dLinkSchedulingVertexGNN(hidden=4, layers=1).eval()
    H = torch.rand(2, 4, 4)
    began = time.perf_counter()
    compiled = torch.compile(model)
    assert torch.allclose(compiled(H=H)["rho"], model(H=H)["rho"], atol=1e-6)
    assert time.perf_counter() - began < 120


def test_pyg_graph_content():
    model = tiny("mcmu_power_allocation")
    features = random_features(model.plan, {"M": 2, "K": 2}, batch=2)
    nodes, edges = hetero_graph(model.plan, features, sample=1)
    assert nodes["AN"] == {"num_nodes": 4} and nodes["UE"] == {"num_nodes": 4}
    store = edges[("AN", "AN_UE_same_pair", "UE")]
    assert store["edge_index"].tolist() == [[0, 1, 2, 3], [0, 1, 2, 3]]
    H = features["H"][1].reshape(4, 4)  # [UE, AN]
    assert torch.equal(store["edge_attr"][:, 0], H.diagonal())
    assert sum(len(s["edge_index"][0]) for k, s in edges.items() if not k[1].startswith("rev_")) == 16
    assert ("UE", "rev_AN_UE_diff_cell", "AN") in edges


@pytest.mark.skipif(importlib.util.find_spec("torch_geometric") is None, reason="torch_geometric not installed")
def test_pyg_hetero_data():
    model = tiny("ic_beamforming_edge")
    data = to_hetero_data(model.plan, random_features(model.plan, {"K": 3, "N": 2}))
    assert data["BS"].x.shape == (3, 1) and data["BS", "BS_UE_diff_pair", "UE"].edge_attr.shape == (6, 4)


def test_training_step_runs_and_changes_parameters():
    model = tiny("mcmu_power_allocation")
    before = copy.deepcopy(model.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    features = random_features(model.plan, {"M": 2, "K": 2}, batch=8, dtype=torch.float32)
    loss = -model(**features)["p"].sum()
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_docs_tutorial_runs(tmp_path, monkeypatch):
    import sys
    import types

    from helpers_models import ROOT

    text = (ROOT / "docs" / "models.md").read_text().split("## Tutorial")[1]
    code = text.split("```python")[1].split("```")[0]
    monkeypatch.setitem(sys.modules, "generated", types.ModuleType("generated"))
    monkeypatch.setitem(sys.modules, "generated.mcmu_power_allocation", load_generated("mcmu_power_allocation",
                                                                                        tmp_path))
    short = code.replace("range(20)", "range(1)").replace("2048", "256")
    exec(compile(short, "docs/models.md", "exec"), {})


def test_slack_budget_keeps_a_gradient_on_total_power():
    model = designer.build(spec_path("mcmu_power_allocation"), arch="vertex", hidden=6, layers=1,
                           power_budget="slack")
    features = random_features(model.plan, {"M": 2, "K": 3}, batch=4, dtype=torch.float32)
    p = model(**features)["p"]
    total = p.sum(-1)
    assert bool((total < 1).all()) and bool((p >= 0).all())
    total.sum().backward()  # a total at the budget under scale_if_above would have no gradient
    assert any(param.grad is not None and param.grad.abs().sum() > 0 for param in model.parameters())
