"""Sparse edge types: the kept-edge rule (brute-force twin, ties, equivariance), the spec and
report, and models on kept edges (equal to the dense model when everything is kept, per-sample
edges in a batch, blind to the pairs left out, equivariant to G)."""

import dataclasses
from pathlib import Path

import pytest
import torch

import designer
from designer.compiler import compile_spec
from designer.emit import plan_from_compilation
from designer.report import to_markdown
from designer.runtime import DeviceInstance, model_for
from designer.runtime.device_instance import kept_pairs
from designer.runtime.plan import plan_data, plan_from_data
from designer.spec import SpecError, parse_spec
from designer.testing import apply, assert_equivariant, random_element, random_features

SPECS = Path(__file__).resolve().parent.parent / "specs"
D2D, IC = SPECS / "d2d_link_scheduling_sparse.yaml", SPECS / "ic_beamforming_sparse.yaml"


def with_keep(plan, keep, above=None):
    """``plan`` with every kept-edge rule keeping ``keep`` pairs (and ``above``)."""
    return dataclasses.replace(plan, sparsity=tuple(dataclasses.replace(r, keep=keep, above=above)
                                                    for r in plan.sparsity))


def brute_force_kept(magnitude, candidates, keep, above):
    """The rule as it reads, one row at a time: a candidate is kept when it is stronger than the
    (keep+1)-th strongest candidate of its row (if there is one) and than ``above``."""
    out = torch.zeros_like(magnitude, dtype=torch.bool)
    for b in range(magnitude.shape[0]):
        for r in range(magnitude.shape[1]):
            values = sorted((float(magnitude[b, r, j]) for j in range(magnitude.shape[2]) if candidates[r, j]),
                            reverse=True)
            floor = values[keep] if keep is not None and keep < len(values) else -1.0
            for j in range(magnitude.shape[2]):
                value = float(magnitude[b, r, j])
                out[b, r, j] = bool(candidates[r, j]) and value > floor and (above is None or value > above)
    return out


def dense_kept(other, kept, n):
    """``(batch, rows, n)`` mask of the pairs :func:`kept_pairs` kept."""
    mask = torch.zeros(*other.shape[:2], n, dtype=torch.bool)
    return mask.scatter_(2, other, kept) | mask


@pytest.mark.parametrize("keep, above", [(1, None), (3, None), (6, None), (9, None), (None, 2.5), (3, 1.5)])
def test_kept_pairs_match_the_rule_read_row_by_row_including_ties(keep, above):
    generator = torch.Generator().manual_seed(keep or 0)
    magnitude = torch.randint(0, 5, (4, 7, 7), generator=generator).double()  # many ties
    candidates = ~torch.eye(7, dtype=torch.bool)
    other, kept = kept_pairs(magnitude, candidates, keep, above)
    got = dense_kept(other, kept, 7)
    assert torch.equal(got, brute_force_kept(magnitude, candidates, keep, above))
    assert other.shape[-1] == min(keep or 6, 6)


def test_tied_pairs_at_the_boundary_go_out_together():
    magnitude = torch.tensor([[[0.0, 3.0, 2.0, 2.0, 1.0]]])
    candidates = torch.tensor([[False, True, True, True, True]])
    other, kept = kept_pairs(magnitude, candidates, 2, None)
    assert dense_kept(other, kept, 5).tolist() == [[[False, True, False, False, False]]]
    other, kept = kept_pairs(magnitude, candidates, 3, None)
    assert dense_kept(other, kept, 5).tolist() == [[[False, True, True, True, False]]]


def kept_mask(instance, features):
    """``(batch, n_Tx, n_Rx)`` mask of the kept D2D interference pairs."""
    e = instance.kept(features).edges["Tx_Rx_diff_pair"]
    batch = e.keep.shape[1]
    mask = torch.zeros(batch, instance.counts["Tx"], instance.counts["Rx"], dtype=torch.bool)
    first, second = e.first, e.second
    for b in range(batch):
        f = first[:, b] if first.dim() == 2 else first
        s = second[:, b] if second.dim() == 2 else second
        mask[b, f[e.keep[:, b]], s[e.keep[:, b]]] = True
    return mask


@pytest.mark.parametrize("keep", [1, 2, 4])
def test_the_kept_pairs_commute_with_every_element_of_g_including_ties(keep):
    plan = with_keep(plan_from_compilation(compile_spec(parse_spec(D2D.read_text()))), keep)
    sizes = {"K": 8}
    instance = DeviceInstance(plan, sizes, sparsity=plan.sparsity)
    generator = torch.Generator().manual_seed(keep)
    for _ in range(5):
        features = {"H": torch.randint(1, 4, (3, 8, 8), generator=generator).double()}  # ties everywhere
        element = random_element(plan, sizes, generator)
        moved = apply(plan, element, features, sizes)
        mask = kept_mask(instance, features).double()
        assert torch.equal(kept_mask(instance, moved).double(), apply(plan, element, {"H": mask}, sizes)["H"])


@pytest.mark.parametrize("spec", [D2D, IC], ids=lambda p: p.stem)
@pytest.mark.parametrize("arch", ["vertex", "edge", "vertex_edge"])
def test_sparse_models_are_equivariant(spec, arch):
    model = designer.build(spec, arch, sizes={"K": 9}, hidden=8, pooling="max+mean")
    model = model_for(with_keep(model.plan, 3), arch, sizes={"K": 9}, hidden=8, pooling="max+mean")
    assert_equivariant(model, sizes={"K": 9}, outside=False)


@pytest.mark.parametrize("spec", [D2D, IC], ids=lambda p: p.stem)
@pytest.mark.parametrize("pooling", ["max", "mean", "sum", "max+sum"])
def test_keeping_every_pair_computes_the_dense_model(spec, pooling):
    dense = designer.build(spec, "vertex_edge", sizes={"K": 7}, hidden=8, pooling=pooling, sparse=False).double()
    plan = with_keep(dense.plan, 20)
    sparse = model_for(plan, "vertex_edge", sizes={"K": 7}, hidden=8, pooling=pooling).double()
    sparse.load_state_dict(dense.state_dict())
    features = random_features(plan, {"K": 7, "N": 2}, batch=3)
    for name, y in dense(**features).items():
        assert torch.allclose(sparse(**features)[name], y, atol=1e-12)


@pytest.mark.parametrize("spec", [D2D, IC], ids=lambda p: p.stem)
def test_each_sample_of_a_batch_runs_on_its_own_kept_edges(spec):
    model = designer.build(spec, "vertex_edge", sizes={"K": 9}, hidden=8, pooling="max")
    model = model_for(with_keep(model.plan, 2), "vertex_edge", sizes={"K": 9}, hidden=8, pooling="max").double()
    features = random_features(model.plan, {"K": 9, "N": 2}, batch=4)
    batched = model(**features)
    for name, y in batched.items():
        single = torch.cat([model(**{n: t[i:i + 1] for n, t in features.items()})[name] for i in range(4)])
        assert torch.allclose(single, y, atol=1e-12)


def test_pairs_left_out_do_not_reach_the_outputs_and_kept_ones_do():
    model = designer.build(D2D, "vertex_edge", sizes={"K": 9}, hidden=8)
    model = model_for(with_keep(model.plan, 2), "vertex_edge", sizes={"K": 9}, hidden=8).double()
    H = random_features(model.plan, {"K": 9}, batch=2)["H"]
    mask = kept_mask(model.prepare({"K": 9}), {"H": H}) | torch.eye(9, dtype=torch.bool)
    weaker = torch.where(mask, H, H * 0.5)  # every pair left out weaker still: the same pairs kept
    assert torch.allclose(model(H=weaker)["rho"], model(H=H)["rho"], atol=1e-12)
    stronger = torch.where(mask, H * 1.1, H)
    assert not torch.allclose(model(H=stronger)["rho"], model(H=H)["rho"], atol=1e-6)


def test_the_pyg_graph_of_a_sparse_spec_holds_the_kept_pairs_of_its_sample():
    from designer.runtime.pyg import hetero_graph

    plan = with_keep(plan_from_compilation(compile_spec(parse_spec(D2D.read_text()))), 2)
    features = random_features(plan, {"K": 6}, batch=2)
    kept = kept_mask(DeviceInstance(plan, {"K": 6}, sparsity=plan.sparsity), features)[1]
    _, edges = hetero_graph(plan, features, sample=1)
    store = edges[("Tx", "Tx_Rx_diff_pair", "Rx")]
    first, second = store["edge_index"]
    assert sorted(zip(first.tolist(), second.tolist())) == sorted(map(tuple, kept.nonzero().tolist()))
    assert torch.equal(store["edge_attr"][:, 0], features["H"][1][first, second])
    _, dense = hetero_graph(plan, features, sample=1, sparse=False)
    assert dense[("Tx", "Tx_Rx_diff_pair", "Rx")]["edge_index"].shape[1] == 30


def test_sparse_models_train():
    model = designer.build(IC, "vertex_edge", sizes={"K": 12}, hidden=8)
    features = random_features(model.plan, {"K": 12, "N": 2}, batch=2, dtype=torch.float32)
    model(**features)["v"].abs().sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_sparse_plans_round_trip_and_report_what_is_certified():
    compilation = compile_spec(parse_spec(IC.read_text()))
    plan = plan_from_compilation(compilation)
    assert plan.sparsity_of("BS_UE_diff_pair").keep == 8 and plan.sparsity_of("BS_UE_same_pair") is None
    assert plan_from_data(plan_data(plan)) == plan
    old = {k: v for k, v in plan_data(plan).items() if k != "sparsity"}  # a plan stored before sparsity
    assert plan_from_data(old).sparsity == ()
    report = to_markdown(compilation)
    assert "## Sparse edge types" in report and "the 8 largest ‖H‖ per UE" in report
    assert "not certified" in report


def test_no_sharing_refuses_sparse_edge_types_unless_run_dense():
    with pytest.raises(ValueError, match="sparse=False"):
        designer.build(D2D, "vertex", sizes={"K": 5}, sharing="none")
    designer.build(D2D, "vertex", sizes={"K": 5}, sharing="none", sparse=False)


BASE = IC.read_text().split("sparse:")[0]


@pytest.mark.parametrize("rule, message", [
    ("BS_UE_cross: {by: H, per: UE, keep: 2}", "unknown edge type 'BS_UE_cross'"),
    ("BS_UE_diff_pair: {by: p_max, per: UE, keep: 2}", "'p_max' is not a feature on the pairs"),
    ("BS_UE_diff_pair: {by: H, per: pair, keep: 2}", "'pair' is not a set of BS_UE_diff_pair"),
    ("BS_UE_diff_pair: {by: H, per: UE}", "needs `keep`"),
    ("BS_UE_diff_pair: {by: H, per: UE, keep: 0}", "greater than or equal to 1"),
])
def test_bad_rules_are_refused_naming_the_entry(rule, message):
    text = BASE + "sparse:\n  " + rule + "\ncheck_sizes: {K: 4, N: 2}\n"
    with pytest.raises(SpecError, match=message) as info:
        compile_spec(parse_spec(text, "ic.yaml"), file="ic.yaml")
    assert "sparse" in str(info.value) and "\n" not in str(info.value)


def test_a_rule_on_an_edge_type_carrying_an_action_is_refused():
    text = (SPECS / "ic_beamforming_edge.yaml").read_text().replace(
        "check_sizes:", "sparse:\n  BS_UE_same_pair: {by: H, per: UE, keep: 2}\ncheck_sizes:")
    with pytest.raises(SpecError, match="carries the action V, which needs every pair"):
        compile_spec(parse_spec(text))


def test_a_rule_on_a_same_set_edge_type_is_refused():
    text = """name: pairs
sets: {A: {size: K}}
tensors:
  W: {role: feature, dims: [A, A]}
  p: {role: action, dims: [A]}
sparse:
  A_A_diff_A: {by: W, per: A, keep: 2}
check_sizes: {K: 4}
"""
    spec = parse_spec(text)
    names = [e.name for e in plan_from_compilation(compile_spec(spec.model_copy(update={"sparse": {}}))).edge_types]
    text = text.replace("A_A_diff_A", next(n for n in names if "same" not in n and n.count("A") >= 2))
    with pytest.raises(SpecError, match="with itself"):
        compile_spec(parse_spec(text))


@pytest.mark.slow
def test_a_sparse_model_trains_and_evaluates_at_1000_links_from_the_cli(tmp_path, capsys):
    from designer.cli import main

    run = tmp_path / "run"
    assert main(["train", str(D2D), "--size", "K=1000", "--scenario", "density=200", "--samples", "4",
                 "--val-samples", "2", "--epochs", "1", "--batch", "2", "--out", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--samples", "2", "--format", "json"]) == 0
    out = capsys.readouterr().out
    row = __import__("json").loads(out[out.index("{"):])["rows"][0]
    assert row["sizes"]["K"] == 1000 and 0 < row["ratio"] < 2
