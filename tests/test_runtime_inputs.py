"""Models refuse what they cannot compute, and the read-out reaches every budget the spec declares."""

import math
from dataclasses import replace

import pytest
import torch

from designer.compiler import compile_file
from designer.emit import plan_from_compilation
from designer.runtime import constraints
from designer.runtime.options import BUDGET_MODES
from designer.runtime.model import FNN, HetGNN
from designer.runtime.plan import Axis, Constraint, Plan, Set, Tensor
from designer.testing import random_features
from helpers_models import tiny

# Uplink power control: K UEs in each of M cells, one power per UE within its own budget p_max.
UPLINK = """
name: uplink_power_control
sets:
  BS: {size: M}
  UE: {size: K, parent: BS}
tensors:
  G: {role: feature, dims: [UE, BS], description: gain from every UE to every BS}
  p_max: {role: feature, dims: [UE], description: power budget of each UE}
  p: {role: action, dims: [UE], description: transmit power of each UE}
constraints:
  - {kind: nonnegative, tensor: p}
  - {kind: power_budget, tensor: p, per: UE, max: p_max}
check_sizes: {M: 2, K: 2}
"""
ARCHS = ("vertex", "edge", "vertex_edge", "fnn")
BUDGETS = (0.5, 1.0, 10.0)  # below, at and above 1


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    path = tmp_path_factory.mktemp("specs") / "uplink.yaml"
    path.write_text(UPLINK)
    return plan_from_compilation(compile_file(path))


def uplink(plan, arch: str = "vertex_edge", **options):
    torch.manual_seed(0)
    model = FNN(plan, hidden=8, layers=1, **options) if arch == "fnn" else HetGNN(plan, arch, hidden=8, layers=1,
                                                                                   **options)
    return model.double()


def features(budgets=BUDGETS, M: int = 2, K: int = 2) -> dict[str, torch.Tensor]:
    """One sample per budget, every UE of a sample with that budget."""
    G = torch.rand(len(budgets), M, K, M, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    p_max = torch.tensor(budgets, dtype=torch.float64).reshape(-1, 1, 1).expand(-1, M, K)
    return {"G": G, "p_max": p_max}


# ------------------------------------------------------------------------------ budgets reached


@pytest.mark.parametrize("arch", ARCHS)
def test_uplink_powers_reach_each_ues_budget_below_at_and_above_one(plan, arch):
    model, inputs = uplink(plan, arch), features()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    for _ in range(10):  # maximise every UE's power
        loss = -(model(**inputs)["p"] / inputs["p_max"]).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    share = model(**inputs)["p"] / inputs["p_max"]
    assert (share >= 0.99).all() and (share <= 1).all()


# ------------------------------------------------------------ read-out per constraint kind
#
# ``constraints.project`` on a hand-made plan: BS (M) ⊃ UE (K), an antenna set AN (N) and RF
# chains RF (R); the pre-activation is built to hit a feasible target, or drawn large. The power
# budget per BS is ``b_cell`` (a feature tensor over BS, or a number), every other value ``b``.

M, K, N, R = 2, 3, 4, 2
PLAN = Plan(
    name="budgets",
    axes=(Axis("BS", "M"), Axis("UE", "K", parent="BS"), Axis("AN", "N"), Axis("RF", "R")),
    sets=(Set("BS", ("BS",)), Set("UE", ("BS", "UE")), Set("AN", ("AN",)), Set("RF", ("RF",))),
    vertex_types=(), edge_types=(),
    tensors=(Tensor("power", "action", ("UE",)), Tensor("beam", "action", ("UE",), channels="N", dtype="complex"),
             Tensor("analog", "action", ("AN", "RF"), dtype="complex"),
             Tensor("digital", "action", ("RF", "UE"), dtype="complex"), Tensor("rate", "action", ("UE",))),
    constraints=(Constraint("nonnegative", "power"), Constraint("power_budget", "power", "b_cell", per="BS"),
                 Constraint("power_budget", "beam", "b", per="UE"), Constraint("constant_modulus", "analog", "b"),
                 Constraint("total_power", "digital", "b", through="analog"), Constraint("nonnegative", "rate")))
SHAPES = {"power": (M, K), "beam": (M, K, N), "analog": (N, R), "digital": (R, M, K), "rate": (M, K)}


def project(actions, b, mode="scale_if_above", b_cell=None, plan=PLAN):
    raw = {name: torch.zeros(64, *shape, dtype=torch.complex128 if PLAN.tensor(name).dtype == "complex"
                             else torch.float64) for name, shape in SHAPES.items()}
    return constraints.project(plan, {**raw, **actions}, {"b": b, "b_cell": b if b_cell is None else b_cell}, mode,
                               "auto")


def random(*shape, seed=0, complex_=False, scale=1.0):
    """64 samples of standard normal entries times ``scale``."""
    g = torch.Generator().manual_seed(seed)
    parts = torch.randn(2 if complex_ else 1, 64, *shape, generator=g, dtype=torch.float64) * scale
    return torch.complex(parts[0], parts[1]) if complex_ else parts[0]


def test_budget_one_is_the_plain_sigmoid_scaled_down_if_above():
    """What the committed models were trained with (budget 1), bit for bit."""
    y = random(M, K, scale=3)
    s = torch.sigmoid(y)
    old = s * (1.0 / s.sum(-1, keepdim=True).clamp_min(constraints.TINY)).clamp(max=1.0)
    assert torch.equal(project({"power": y}, 1.0)["power"], old)


@pytest.mark.parametrize("b", BUDGETS)
def test_power_budget_on_powers_reaches_every_feasible_point_and_no_more(b):
    budget = b * torch.tensor([1.0, 3.0], dtype=torch.float64).expand(64, M)  # per BS, as a feature
    share = random(M, K).softmax(-1) * torch.rand(64, M, 1, generator=torch.Generator().manual_seed(1),
                                                  dtype=torch.float64) ** 0.1  # up to the whole budget
    target = share * budget[..., None]
    logits = torch.logit(target / budget[..., None])
    assert torch.allclose(project({"power": logits}, 1.0, b_cell=budget)["power"], target, rtol=1e-9)
    for mode in BUDGET_MODES:
        power = project({"power": random(M, K, seed=1, scale=30)}, 1.0, mode, budget)["power"]
        assert (power >= 0).all() and (power.sum(-1) <= budget * (1 + 1e-12)).all()
    full = project({"power": torch.full((64, M, K), 40.0, dtype=torch.float64)}, 1.0, b_cell=budget)["power"]
    assert torch.allclose(full.sum(-1), budget)


def test_powers_under_two_budgets_reach_every_point_within_both():
    """Per BS (``b_cell``, a tensor) and per UE (``b``, a number): entries span the larger budget."""
    plan = replace(PLAN, constraints=PLAN.constraints + (Constraint("power_budget", "power", "b", per="UE"),))
    target = torch.tensor([0.8, 0.7, 0.4], dtype=torch.float64).expand(64, M, K)
    for raw, exact in ((torch.logit(target / 2), True), (random(M, K, scale=30), False)):
        power = project({"power": raw}, 0.9, b_cell=torch.full((64, M), 2.0, dtype=torch.float64), plan=plan)["power"]
        assert (power <= 0.9 * (1 + 1e-12)).all() and (power.sum(-1) <= 2 * (1 + 1e-12)).all()
        assert torch.allclose(power, target, rtol=1e-12) == exact


@pytest.mark.parametrize("b", BUDGETS)
def test_power_budget_on_amplitudes_reaches_every_feasible_point_and_no_more(b):
    direction = random(M, K, N, complex_=True)
    length = torch.rand(64, M, K, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * math.sqrt(b)
    target = direction / direction.abs().square().sum(-1, keepdim=True).sqrt() * length
    assert torch.allclose(project({"beam": target}, b)["beam"], target, rtol=1e-12)
    for mode in BUDGET_MODES:
        beam = project({"beam": random(M, K, N, seed=1, complex_=True, scale=30)}, b, mode)["beam"]
        assert (beam.abs().square().sum(-1) <= b * (1 + 1e-12)).all()


@pytest.mark.parametrize("b", BUDGETS)
def test_constant_modulus_is_the_modulus_with_any_phase(b):
    phase = random(N, R)
    analog = project({"analog": torch.polar(5 * torch.ones_like(phase), phase)}, b)["analog"]
    assert torch.allclose(analog, torch.polar(b * torch.ones_like(phase), phase), rtol=1e-12)


@pytest.mark.parametrize("b", BUDGETS)
def test_total_power_through_another_action_is_exactly_its_value(b):
    out = project({"analog": random(N, R, complex_=True), "digital": random(R, M, K, seed=1, complex_=True)}, b)
    product = out["analog"] @ out["digital"].flatten(2)
    assert torch.allclose(product.abs().square().sum((1, 2)), torch.full((64,), b, dtype=torch.float64))


@pytest.mark.parametrize("target", [0.01, 0.5, 1.0, 10.0, 300.0])
def test_nonnegative_without_a_budget_reaches_any_value(target):
    rate = project({"rate": torch.full((64, M, K), math.log(math.expm1(target)), dtype=torch.float64)}, 1.0)["rate"]
    assert torch.allclose(rate, torch.full_like(rate, target), rtol=1e-12)
    assert (project({"rate": random(M, K, scale=30)}, 1.0)["rate"] >= 0).all()


# ------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("b, got", [(-1.0, "-1.0 in sample 1"), (0.0, "0.0 in sample 1")])
def test_budget_features_that_are_not_positive_are_refused(plan, b, got):
    with pytest.raises(ValueError, match=f"p_max: budget of power_budget on p must be positive and finite; got {got}"):
        uplink(plan)(**features((1.0, b)))


@pytest.mark.parametrize("b", [float("nan"), float("inf"), -2.0, 0.0])
def test_values_that_are_not_positive_and_finite_are_refused(b):
    with pytest.raises(ValueError, match=f"b: budget of power_budget on beam must be positive and finite; got {b}$"):
        project({}, b, b_cell=1.0)
    budget = torch.ones(64, M, dtype=torch.float64)
    budget[3, 1] = b
    with pytest.raises(ValueError, match=f"b_cell: budget of power_budget on power .* got {b} in sample 3"):
        project({}, 1.0, b_cell=budget)


@pytest.mark.parametrize("sizes, message", [
    ({"K": 2.7}, "size K=2.7: must be an integer"),
    ({"K": True}, "size K=True: must be an integer"),
    ({"K": "2"}, "size K='2': must be an integer"),
    ({"Q": 2}, r"unknown size symbol 'Q' \(symbols: K, M\)"),
])
def test_sizes_must_be_integers_of_known_symbols(plan, sizes, message):
    with pytest.raises(ValueError, match=message):
        uplink(plan)(**features(), sizes=sizes)
    with pytest.raises(ValueError, match=message):
        HetGNN(plan, "vertex", sizes=sizes)


def test_sizes_that_agree_with_the_inputs_are_accepted(plan):
    model, inputs = uplink(plan), features()
    assert torch.equal(model(**inputs, sizes={"K": 2, "M": 2})["p"], model(**inputs)["p"])


def test_sizes_cannot_change_a_channel_count_fixed_at_build():
    model = tiny("ic_beamforming_edge", layers=1)  # built with N = 2 antennas per BS
    with pytest.raises(ValueError, match="sizes: N = 3, but N = 2 is the channel count fixed when the model was built"):
        model(**random_features(model.plan, model.sizes, dtype=torch.float32), sizes={"N": 3})


@pytest.mark.parametrize("arch", ARCHS)
def test_empty_batches_and_sets_are_refused_by_name(plan, arch):
    model = uplink(plan, arch)
    with pytest.raises(ValueError, match=r"batch: the inputs hold no samples \(batch size 0\)"):
        model(**{k: v[:0] for k, v in features().items()})
    with pytest.raises(ValueError, match=r"set UE is empty \(K = 0 from (G|p_max)\)"):
        model(**features(K=0))
    with pytest.raises(ValueError, match=r"set BS is empty \(M = 0 from (G|p_max)\)"):
        model(**features(M=0))


def test_positional_features_are_refused_with_how_to_pass_them(plan):
    model, inputs = uplink(plan), features()
    with pytest.raises(TypeError, match=r"got Tensor; pass the features by keyword, model\(G=..., p_max=...\)"):
        model(inputs["G"])
    with pytest.raises(TypeError, match=r"sizes: got the features \(G, p_max\); .* model\(\*\*features\)"):
        model(inputs)
    with pytest.raises(ValueError, match=r"G: expected .* got dict; pass the features by keyword"):
        model(G=inputs, p_max=inputs["p_max"])
