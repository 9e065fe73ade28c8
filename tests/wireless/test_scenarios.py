"""Scenarios: keys, shapes, dtypes, determinism, units and normalisations; the contract's
``sample`` and typed ``Scenario`` against the raw samplers."""

import inspect
import math

import pytest
import torch

from designer.problem import ProblemError
from designer.training import scenario_of
from designer.wireless import PROBLEMS, objectives as obj
from designer.wireless import scenarios as sc

D = torch.float64

EXPECTED = {  # default sizes of the papers' settings
    "mcmu_power_allocation": {"H": ((4, 5, 4, 5), False)},
    "hybrid_precoding": {"H": ((2, 2, 8), True)},
    "hybrid_precoding_miso": {"H": ((2, 8), True)},
    "hybrid_precoding_structured": {"H": ((2, 2, 8), True)},
    "ic_beamforming_edge": {"p_max": ((20,), False), "sigma": ((20,), False), "H": ((20, 20, 2), True)},
    "ic_beamforming_node": {"p_max": ((20,), False), "sigma": ((20,), False), "H": ((20, 20, 2), True)},
    "ic_beamforming_structured": {"p_max": ((20,), False), "sigma": ((20,), False), "H": ((20, 20, 2), True)},
    "ic_beamforming_refined": {"p_max": ((20,), False), "sigma": ((20,), False), "H": ((20, 20, 2), True)},
    "ibc_power_allocation": {"p_max": ((5, 2), False), "sigma": ((5, 2), False), "G": ((5, 2, 5, 2), False)},
    "cooperative_beamforming": {"p_max": ((5,), False), "sigma": ((2,), False), "H": ((5, 2, 2), True)},
    "d2d_link_scheduling": {"H": ((50, 50), False)},
    "comp_jt": {"h": ((3, 4, 1), True)},
    "mu_miso_precoding": {"H": ((4, 8), True)},
    "mu_miso_precoding_structured": {"H": ((4, 8), True)},
}


def test_every_problem_is_listed():
    assert set(EXPECTED) == set(PROBLEMS)
    for name, prob in PROBLEMS.items():
        assert prob.name == name and set(prob.features) == set(EXPECTED[name])


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keys_shapes_dtypes(name, dtype):
    feats = PROBLEMS[name].sampler(2, seed=0, dtype=dtype, device="cpu")
    assert set(feats) == set(EXPECTED[name])
    cdtype = {torch.float32: torch.complex64, torch.float64: torch.complex128}[dtype]
    for key, (shape, is_complex) in EXPECTED[name].items():
        t = feats[key]
        assert t.shape == (2, *shape), key
        assert t.dtype == (cdtype if is_complex else dtype), key
        assert t.device.type == "cpu"
        finite = torch.view_as_real(t) if t.is_complex() else t
        assert torch.isfinite(finite).all()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_determinism(name):
    sample = PROBLEMS[name].sampler
    a = sample(3, seed=11)
    b = sample(3, generator=torch.Generator().manual_seed(11))
    c = sample(3, seed=12)
    for k in a:
        assert torch.equal(a[k], b[k])
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].std() > 0)


def test_seed_and_generator_are_exclusive():
    with pytest.raises(ValueError):
        sc.sample_mu_miso_precoding(1, seed=0, generator=torch.Generator())


_RUNTIME = ("generator", "seed", "device", "dtype")  # the sampler's keywords that are neither sizes nor scenario


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_contract_sample_is_the_raw_sampler(name):
    """The contract's ``sample`` adds nothing to the raw sampler: at the default sizes and the
    default scenario, from a generator seeded as ``seed`` seeds, the same tensors bit for bit;
    and the typed ``Scenario`` has exactly the sampler's scenario keywords at its defaults, the
    ``default_sizes`` the sampler's size defaults (the models cannot drift from the functions)."""
    problem = PROBLEMS[name]
    contract = problem.sample(4, sizes=problem.default_sizes, generator=torch.Generator().manual_seed(3), device="cpu",
                              dtype=torch.float64, scenario=problem.Scenario())
    raw = problem.sampler(4, seed=3, dtype=torch.float64, **problem.default_sizes)
    assert set(contract) == set(raw) == set(problem.features)
    for key in raw:
        assert contract[key].dtype == raw[key].dtype and torch.equal(contract[key], raw[key]), key
    keywords = {k: p.default for k, p in inspect.signature(problem.sampler).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and k not in _RUNTIME}
    assert {k: keywords[k] for k in problem.default_sizes} == dict(problem.default_sizes)
    scenario = {k: v for k, v in keywords.items() if k not in problem.default_sizes}
    assert problem.Scenario().model_dump() == scenario
    assert scenario_of(problem, {}) == problem.Scenario()


def test_contract_sample_passes_sizes_and_scenario_to_the_sampler():
    """Sizes the sampler takes and the validated scenario's values reach it; a size symbol it does
    not take (another set of the spec) is left out; a scenario range given as a list becomes the
    tuple the sampler expects."""
    problem = PROBLEMS["ic_beamforming_node"]
    scenario = scenario_of(problem, {"field": [900, 2000], "p_max_dbm": 30})
    assert scenario.field == (900.0, 2000.0) and scenario.p_max_dbm == 30.0
    got = problem.sample(3, sizes={"K": 5, "N": 3, "T": 7}, generator=torch.Generator().manual_seed(1), device="cpu",
                         dtype=D, scenario=scenario)
    expected = problem.sampler(3, seed=1, dtype=D, K=5, N=3, field=(900.0, 2000.0), p_max_dbm=30.0)
    assert got["H"].shape == (3, 5, 5, 3)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    no_scenario = problem.sample(3, sizes={"K": 5, "N": 3}, generator=torch.Generator().manual_seed(1), device="cpu",
                                 dtype=D, scenario=None)
    assert torch.equal(no_scenario["H"], problem.sampler(3, seed=1, dtype=D, K=5, N=3)["H"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_refuses_unknown_keys_and_wrong_types(name):
    """``--scenario`` keywords are validated into the typed model: an unknown key, or a value of
    the wrong type for any field, is refused with a :class:`ProblemError` naming it."""
    problem = PROBLEMS[name]
    with pytest.raises(ProblemError, match="'nope' is not a parameter"):
        scenario_of(problem, {"nope": 1})
    for field in problem.Scenario.model_fields:
        with pytest.raises(ProblemError, match=field):
            scenario_of(problem, {field: "loud"})


def test_overrides_change_sizes():
    f = sc.sample_mcmu_power_allocation(2, seed=0, M=3, K=2, N_t=4)
    assert f["H"].shape == (2, 3, 2, 3, 2)
    f = sc.sample_hybrid_precoding(2, seed=0, K=3, N_r=4, N_t=16)
    assert f["H"].shape == (2, 3, 4, 16)
    f = sc.sample_ibc_power_allocation(2, seed=0, B=3, Q=4, N=6)
    assert f["G"].shape == (2, 3, 4, 3, 4) and f["p_max"].shape == (2, 3, 4)
    f = sc.sample_cooperative_beamforming(2, seed=0, M=3, K=4, N=3, ue_distance=(50.0, 250.0))
    assert f["H"].shape == (2, 3, 4, 3) and f["sigma"].shape == (2, 4)
    with pytest.raises(TypeError):
        sc.sample_comp_jt(1, seed=0, bogus=1)


def test_interference_channel_field_range_draws_each_samples_side():
    """``field=(lo, hi)``: every sample's BSs lie in a square of its own side in [lo, hi]; a
    number keeps the fixed square (the default is ``field=2000``)."""
    fixed = sc.sample_ic_beamforming_node(3, seed=4, K=5)
    assert torch.equal(fixed["H"], sc.sample_ic_beamforming_node(3, seed=4, K=5, field=2000.0)["H"])
    generator = torch.Generator().manual_seed(0)
    rng = sc._Rng(generator, None)
    points = sc._in_square(rng, (400, 50), (500.0, 2000.0))
    extent = points.amax(dim=(1, 2))
    assert points.min() >= 0 and extent.max() <= 2000.0
    assert extent.min() < 700 and extent.max() > 1800  # the sides spread over the range
    dense = sc.sample_ic_beamforming_node(200, seed=4, K=5, field=(300.0, 400.0))["H"]
    sparse = sc.sample_ic_beamforming_node(200, seed=4, K=5, field=(3000.0, 4000.0))["H"]
    interference = ~torch.eye(5, dtype=torch.bool)  # BS m -> UE k, m != k
    assert dense.abs()[:, interference].mean() > 10 * sparse.abs()[:, interference].mean()


# --------------------------------------------------------------------------- units
def test_path_loss_formulas():
    d = torch.tensor([1.0, 10.0, 100.0], dtype=D)
    assert torch.allclose(sc.pathloss_engnn_db(d), torch.tensor([30.5, 67.2, 103.9], dtype=D))
    umi = 32.4 + 31.9 * 2 + 20 * math.log10(5.0)  # d = 100 m, f_c = 5 GHz (in GHz)
    assert sc.pathloss_umi_db(d, 5.0)[2].item() == pytest.approx(umi)
    lam = 299792458.0 / 2.4e9
    d_bp = 4 * 1.5 * 1.5 / lam
    two = sc.pathloss_two_slope_db(torch.tensor([d_bp * (1 - 1e-9), d_bp * (1 + 1e-9), 10 * d_bp], dtype=D))
    assert two[0].item() == pytest.approx(two[1].item(), abs=1e-6)  # continuous at the breakpoint
    assert (two[2] - two[1]).item() == pytest.approx(40.0, abs=1e-6)  # 40 dB/decade beyond
    assert sc.dbm_to_watt(30.0) == pytest.approx(1.0)


def test_mcmu_gain_normalisation_in_ghz():
    """One cell, one UE at 50 m, one antenna, no shadowing: E[H] = P/sigma^2 * 10^(-PL/10)."""
    f = sc.sample_mcmu_power_allocation(20000, seed=1, dtype=D, M=1, K=1, N_t=1, radius=50.0, min_distance=50.0,
                                        shadowing_db=0.0)
    pl = 32.4 + 31.9 * math.log10(50.0) + 20 * math.log10(5.0)
    expected = 10 ** ((30.0 + 95.0 - pl) / 10)
    assert f["H"].mean().item() == pytest.approx(expected, rel=0.04)


def test_engnn_channel_normalisation():
    """K = 1 pair at 100 m, N = 1: E|H|^2 = P_ref/sigma_ref^2 * 10^(-PL/10); budgets in units of P_ref."""
    f = sc.sample_ic_beamforming_node(20000, seed=2, dtype=D, K=1, N=1, pair_distance=(100.0, 100.0))
    expected = 10 ** ((33.0 + 99.0 - 103.9) / 10)
    assert f["H"].abs().square().mean().item() == pytest.approx(expected, rel=0.04)
    assert torch.all(f["p_max"] == 1) and torch.all(f["sigma"] == 1)
    f = sc.sample_ic_beamforming_node(1, seed=2, dtype=D, K=2, p_max_dbm=30.0, noise_dbm=-89.0)
    assert f["p_max"][0, 0].item() == pytest.approx(10 ** -0.3)
    assert f["sigma"][0, 0].item() == pytest.approx(math.sqrt(10.0))


def test_ibc_powers_are_fractions_of_the_budget():
    """The IBC spec's budget is the constant 1, so its channels are normalised by the budget: at
    21 dBm ``p_max`` is still 1 and ``G`` is the 33 dBm channel scaled by sqrt(P_max); a power
    of 1 at 21 dBm is the physical rate of 10^-1.2 at 33 dBm (a budget sweep cannot give a model
    more power than the budget)."""
    kw = dict(B=3, Q=2, N=4, seed=5, dtype=D)
    full, low = sc.sample_ibc_power_allocation(4, **kw), sc.sample_ibc_power_allocation(4, p_max_dbm=21.0, **kw)
    assert torch.all(low["p_max"] == 1) and torch.all(full["p_max"] == 1)
    assert torch.allclose(low["G"], full["G"] * 10 ** (-12 / 20), rtol=1e-12)
    diagonal = torch.eye(6, dtype=D).reshape(3, 2, 3, 2)
    rate_low = obj.sum_rate_ibc_power_allocation(low, {"P": 0.5 * diagonal.expand(4, -1, -1, -1, -1)})
    rate_full = obj.sum_rate_ibc_power_allocation(full, {"P": 0.5 * 10 ** -1.2 * diagonal.expand(4, -1, -1, -1, -1)})
    assert torch.allclose(rate_low, rate_full, rtol=1e-10)


def test_engnn_objective_is_physical_whatever_the_reference():
    """Changing the normalisation reference (P_ref, sigma_ref) leaves the physical sum rate unchanged."""
    kw = dict(K=4, N=2, p_max_dbm=30.0, noise_dbm=-95.0)
    f1 = sc.sample_ic_beamforming_node(3, seed=3, dtype=D, **kw)
    f2 = sc.sample_ic_beamforming_node(3, seed=3, dtype=D, ref_power_dbm=20.0, ref_noise_dbm=-80.0, **kw)
    g = torch.Generator().manual_seed(0)
    v_phys = torch.complex(torch.randn(3, 4, 2, generator=g, dtype=D), torch.randn(3, 4, 2, generator=g, dtype=D))
    v_phys = v_phys / v_phys.abs().square().sum(-1, keepdim=True).sqrt() * math.sqrt(1.0)  # 1 W = 30 dBm each
    r1 = obj.sum_rate_ic_beamforming_node(f1, {"v": v_phys / math.sqrt(sc.dbm_to_watt(33.0))})
    r2 = obj.sum_rate_ic_beamforming_node(f2, {"v": v_phys / math.sqrt(sc.dbm_to_watt(20.0))})
    assert torch.allclose(r1, r2, rtol=1e-10)
    # and the budgets say the same physical thing: 30 dBm in both units
    assert f1["p_max"][0, 0].item() * sc.dbm_to_watt(33.0) == pytest.approx(1.0)
    assert f2["p_max"][0, 0].item() * sc.dbm_to_watt(20.0) == pytest.approx(1.0)


@pytest.mark.parametrize("spread", ["laplacian", "gaussian"])
def test_saleh_valenzuela_normalisation(spread):
    f = sc.sample_hybrid_precoding(3000, seed=4, dtype=D, N_t=8, N_r=2, K=2, spread=spread)
    energy = f["H"].abs().square().sum(dim=(-2, -1))
    assert energy.mean().item() == pytest.approx(16.0, rel=0.05)
    f = sc.sample_hybrid_precoding_miso(3000, seed=4, dtype=D, N_t=8, K=2, spread=spread)
    assert f["H"].abs().square().sum(-1).mean().item() == pytest.approx(8.0, rel=0.05)


def test_zf_beams_remove_intra_cell_interference():
    f = sc.sample_mcmu_power_allocation(4, seed=5, dtype=D)
    H = f["H"]  # (b, m, k, n, j)
    intra = torch.diagonal(H, dim1=1, dim2=3)  # (b, k, j, m): same cell
    direct = torch.diagonal(intra, dim1=1, dim2=2)
    off = intra * (1 - torch.eye(5, dtype=D))[None, :, :, None]
    assert off.max() <= 1e-10 * direct.max()
    G = sc.sample_ibc_power_allocation(4, seed=5, dtype=D)["G"]  # (b, c, q, d, r)
    intra = torch.diagonal(G, dim1=1, dim2=3)  # (b, q, r, c)
    assert (intra[:, 0, 1] <= 1e-8 * intra[:, 0, 0]).all() and (intra[:, 1, 0] <= 1e-8 * intra[:, 1, 1]).all()
    # with MRT beams the intra-cell terms do not vanish
    G = sc.sample_ibc_power_allocation(4, seed=5, dtype=D, beamformer="mrt")["G"]
    assert (torch.diagonal(G, dim1=1, dim2=3)[:, 0, 1] > 0).all()


def test_cell_beams_are_unit_norm_and_zero_forcing():
    g = torch.Generator().manual_seed(6)
    h = torch.complex(torch.randn(2, 3, 4, 6, generator=g, dtype=D), torch.randn(2, 3, 4, 6, generator=g, dtype=D))
    W = sc.cell_beams(h, "zf")
    assert W.shape == (2, 3, 6, 4)
    assert torch.allclose(W.abs().square().sum(-2), torch.ones(2, 3, 4, dtype=D))
    cross = torch.einsum("bcqn,bcnr->bcqr", h.conj(), W)
    off = cross * (1 - torch.eye(4, dtype=D))
    assert off.abs().max() < 1e-10
    with pytest.raises(ValueError):
        sc.cell_beams(h[..., :3], "zf")


def test_min_distance_placement_and_cells():
    rng = sc._Rng(None, 7)
    pos = sc._positions_min_distance(rng, 200, 5, 2000.0, 500.0)
    d = torch.cdist(pos, pos) + 1e9 * torch.eye(5, dtype=D)
    assert d.min() >= 500.0 and pos.min() >= 0 and pos.max() <= 2000.0
    centres = torch.zeros(1000, 1, 2, dtype=D)
    ue = sc._in_annulus(rng, centres, 10.0, 60.0)
    r = ue.norm(dim=-1)
    assert r.min() >= 10.0 - 1e-9 and r.max() <= 60.0 + 1e-9
    ue = sc._around(rng, centres, 50.0, 250.0)
    r = ue.norm(dim=-1)
    assert r.min() >= 50.0 - 1e-9 and r.max() <= 250.0 + 1e-9
    grid = sc._grid_positions(4, 120.0)
    assert torch.allclose(torch.cdist(grid, grid).max(), torch.tensor(120.0 * math.sqrt(2), dtype=D))


def test_generator_device_and_global_rng():
    torch.manual_seed(0)
    a = sc.sample_comp_jt(2)
    torch.manual_seed(0)
    b = sc.sample_comp_jt(2)
    assert torch.equal(a["h"], b["h"])
    f = sc.sample_comp_jt(2, seed=0, device=torch.device("cpu"), dtype=torch.float32)
    assert f["h"].dtype == torch.complex64
