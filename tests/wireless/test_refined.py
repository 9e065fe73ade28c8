"""Structured beams refined by WMMSE iterations inside the model (designer/wireless/refined.py)."""

import pytest
import torch

from designer.problem import ProblemError, configured
from designer.wireless import PROBLEMS, refined
from designer.wireless import references as R
from designer.wireless import scenarios as sc
from designer.wireless import objectives as obj
from designer.wireless.objectives import ic_pair_beams
from designer.wireless.problems.ic_beamforming_refined import RefinedOptions, refined as refined_problem

D = torch.float64
INNER_ITERATIONS = (1, 2, 3, 5)  # the iterations inside the model these tests run the refined problem with


def _refined(n):
    """The refined problem with ``n`` WMMSE iterations inside the model (``--problem-option inner_iterations=n``)."""
    return configured(PROBLEMS["ic_beamforming_refined"], {"inner_iterations": n})


REFINED = [PROBLEMS["ic_beamforming_structured"], *map(_refined, INNER_ITERATIONS)]  # 0, then INNER_ITERATIONS


def _features(batch=6, K=5, seed=3):
    return sc.sample_ic_beamforming_edge(batch, seed=seed, dtype=D, K=K, N=2)


def _actions(f, seed=0):
    """Random structured actions: log-weights and log-multipliers around 0, powers within budget."""
    g = torch.Generator().manual_seed(seed)
    b, K = f["p_max"].shape
    return {"weight": torch.randn(b, K, generator=g, dtype=D), "multiplier": torch.randn(b, K, generator=g, dtype=D),
            "power": f["p_max"] * torch.rand(b, K, generator=g, dtype=D)}


def _one_iteration_by_loops(H, V, budget, noise_var):
    """Brute-force twin of one WMMSE iteration in the interference channel (Shi et al. 2011,
    Alg. 1), pair by pair: ``H (K, K, N)``, ``V (K, N)`` (BS k's beam), ``budget``, ``noise_var``
    ``(K,)``; each ``mu_k`` by its own bisection on ``||(A_k + mu I)^-1 b_k||^2 = budget_k``."""
    K, N = V.shape
    u, w = [], []
    for k in range(K):
        rx = [complex(torch.vdot(H[j, k], V[j])) for j in range(K)]  # h_{j,k}^H v_j
        total = sum(abs(x) ** 2 for x in rx) + float(noise_var[k])
        u.append(rx[k] / total)
        w.append(1.0 / (1.0 - (u[k].conjugate() * rx[k]).real))
    out = torch.zeros_like(V)
    for k in range(K):
        A = sum(w[j] * abs(u[j]) ** 2 * torch.outer(H[k, j], H[k, j].conj()) for j in range(K))
        b = w[k] * u[k] * H[k, k]
        solve = lambda mu: torch.linalg.solve(A + mu * torch.eye(N, dtype=A.dtype), b)  # noqa: E731
        if float(solve(0.0).abs().square().sum()) <= float(budget[k]):
            out[k] = solve(0.0)
            continue
        lo, hi = 0.0, 1.0
        while float(solve(hi).abs().square().sum()) > float(budget[k]):
            hi *= 2
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if float(solve(mid).abs().square().sum()) > float(budget[k]) else (lo, mid)
        out[k] = solve(hi)
    return out


def _full_layout_update(f, v):
    """:func:`R.wmmse_update` on the beams placed on the BS-UE edges, read back off the diagonal
    (its other entries must stay zero)."""
    K = v.shape[1]
    new = R.wmmse_update(f["H"], ic_pair_beams(f, {"v": v}), f["p_max"], f["sigma"].square(),
                         torch.eye(K, dtype=D)[..., None])
    off_diagonal = new.detach() * (1 - torch.eye(K, dtype=D))[None, :, :, None]
    assert torch.count_nonzero(off_diagonal) == 0
    return torch.diagonal(new, dim1=1, dim2=2).movedim(-1, 1)


def _compact_update(f, v):
    """:func:`R.wmmse_update_ic` as the refined model runs it (Newton's multiplier)."""
    return R.wmmse_update_ic(f["H"], v, f["p_max"], f["sigma"].square(), multiplier="newton")


@pytest.mark.parametrize("update", [_full_layout_update, _compact_update], ids=["edge layout", "compact, Newton"])
@pytest.mark.parametrize("gradients", [False, True], ids=["eigen-decomposition", "differentiable solve"])
def test_wmmse_update_matches_a_loop_over_pairs(gradients, update):
    """Both ways of solving the beamformer update (the reference's, and the one training runs
    through), in both layouts, against a loop over pairs; the differentiable solve to its floor
    on the multiplier (1e-12 of ``trace A``, which moves an ill-conditioned BS's beam by about
    1e-8 here)."""
    f = _features(batch=3, K=4)
    with torch.no_grad():
        v = refined.decode_ic_beamforming_refined(f, _actions(f))["v"]  # any feasible beams will do
    with torch.set_grad_enabled(gradients):
        new = update(f, v.clone().requires_grad_(gradients))
    assert new.requires_grad == gradients
    for b in range(3):
        twin = _one_iteration_by_loops(f["H"][b], v[b], f["p_max"][b], f["sigma"][b].square())
        tol = 1e-6 if gradients else 1e-8
        assert torch.allclose(new[b].detach(), twin, rtol=tol, atol=tol * 1e-4)


def test_newton_multiplier_leaves_wmmse_unchanged():
    """WMMSE run with Newton's multiplier (the refined model's) follows the bisection's iterates."""
    f = _features(batch=4, K=6)
    runs = [R.wmmse_ic_beamforming_node(f, iters=15, tol=0, multiplier=m)["v"] for m in ("bisection", "newton")]
    assert torch.allclose(*runs, rtol=1e-8, atol=1e-12)


def test_refinement_keeps_budgets_and_never_lowers_the_sum_rate():
    """WMMSE is monotone from any feasible start (Shi et al. 2011, Thm. 3): the beams refined
    by one iteration score at least the structured beams they start from, by more iterations
    at least those of fewer, within each BS's budget."""
    f = _features()
    a = _actions(f)
    rates = [problem.objective(f, a) for problem in REFINED]
    for before, after in zip(rates, rates[1:]):
        assert (after >= before - 1e-9).all() and (after > before + 1e-3).any()
    for n in INNER_ITERATIONS:
        v = refined.decode_ic_beamforming_refined(f, a, n)["v"]
        assert (v.abs().square().sum(-1) <= f["p_max"] * (1 + 1e-9)).all()


@pytest.mark.parametrize("inner", INNER_ITERATIONS)
def test_refined_reference_scores_the_structured_reference(inner):
    """Stopped ``inner`` iterations early and refined, WMMSE scores what the structured
    problem's reference scores (WMMSE's iters + 1-th iterate); too few iterations is an error."""
    f = _features()
    structured, ours = PROBLEMS["ic_beamforming_structured"], _refined(inner)
    for iters in (inner, 10):
        expected = structured.objective(f, structured.reference(f, iters=iters, tol=0, starts=0))
        assert torch.allclose(ours.objective(f, ours.reference(f, iters=iters, tol=0, starts=0)), expected,
                              rtol=1e-10)
    with pytest.raises(ValueError, match=f"iters must be at least {inner}"):
        ours.reference(f, iters=inner - 1)


def test_inner_iterations_is_an_option():
    """The refined problem's ``Options``: ``inner_iterations`` n in 1..1000 (default 1, the
    registered problem) gives the problem whose sum rate, decoded beams and imitation are those
    of n iterations inside the model, the same object for the same n; setting it again replaces
    it (a model trained with 3 evaluated with 8); 0, more than 1000, a non-integer or an unknown
    option are refused with one :class:`ProblemError`."""
    f = _features()
    a = _actions(f)
    base = PROBLEMS["ic_beamforming_refined"]
    assert base.Options is RefinedOptions and base.options == RefinedOptions() and base.options.inner_iterations == 1
    assert configured(base, {}) is base and configured(base, {"inner_iterations": 1}) is base
    for n in (2, 4, 12):
        problem = configured(base, {"inner_iterations": n})
        assert problem.name == "ic_beamforming_refined" and problem.options.inner_iterations == n
        assert problem is refined_problem(RefinedOptions(inner_iterations=n)) is _refined(n)
        beams = refined.decode_ic_beamforming_refined(f, a, n)["v"]
        assert torch.allclose(problem.objective(f, a), obj.sum_rate_ic_beamforming_node(f, {"v": beams}), rtol=1e-12)
        assert torch.equal(problem.decode(f, a)["v"], beams)
        assert torch.equal(problem.imitation(f, a, a), refined.imitation_ic_beamforming_refined(f, a, a, n))
        assert f"refined by {n} WMMSE iterations" in problem.source
    rates = [configured(base, {"inner_iterations": n}).objective(f, a) for n in (1, 2)]
    assert not torch.allclose(*rates)  # the option changes the objective
    assert configured(configured(base, {"inner_iterations": 3}), {"inner_iterations": 8}).options.inner_iterations == 8
    assert configured(base, {"inner_iterations": 1000}).options.inner_iterations == 1000
    for bad in (0, -1, 1001, 2.5, "two", None):
        with pytest.raises(ProblemError, match="inner_iterations"):
            configured(base, {"inner_iterations": bad})
    with pytest.raises(ProblemError, match="'iterations' is not a parameter .* it takes inner_iterations"):
        configured(base, {"iterations": 2})
    with pytest.raises(ProblemError, match="takes no problem option"):
        configured(PROBLEMS["ic_beamforming_structured"], {"inner_iterations": 2})


def test_refined_beams_are_permutation_equivariant():
    """Permuting the pairs (BS k and UE k together: G = S_K) permutes the refined beams."""
    f, K = _features(K=6), 6
    a = _actions(f)
    perm = torch.randperm(K, generator=torch.Generator().manual_seed(1))
    pf = {"H": f["H"][:, perm][:, :, perm], "p_max": f["p_max"][:, perm], "sigma": f["sigma"][:, perm]}
    pa = {k: t[:, perm] for k, t in a.items()}
    v = refined.decode_ic_beamforming_refined(f, a)["v"]
    assert torch.allclose(refined.decode_ic_beamforming_refined(pf, pa)["v"], v[:, perm], rtol=1e-10, atol=1e-14)


def test_training_through_the_refinement_raises_its_sum_rate():
    """Gradients pass through the iteration: a few ascent steps on the actions raise the
    refined sum rate (the multipliers found by bisection held constant in the backward pass)."""
    f = _features(batch=4)
    a = {k: t.clone().requires_grad_(True) for k, t in _actions(f, seed=4).items() if k != "power"}
    power = f["p_max"] * 0.5
    power[0, 0] = 0.0  # a BS switched off: its beam stays 0, its gradients finite
    rate = lambda: PROBLEMS["ic_beamforming_refined"].objective(f, {**a, "power": power}).mean()  # noqa: E731
    start = rate().item()
    optimizer = torch.optim.Adam(a.values(), lr=0.05)
    for _ in range(20):
        optimizer.zero_grad()
        (-rate()).backward()
        assert all(torch.isfinite(t.grad).all() for t in a.values())
        optimizer.step()
    assert rate().item() > start + 0.1
