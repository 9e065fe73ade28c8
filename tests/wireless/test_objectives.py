"""Objectives: brute-force loop agreement, units (log2), channel conventions, differentiability."""

import math

import pytest
import torch

from designer.problem import configured
from designer.wireless import PROBLEMS, objectives as obj
from designer.wireless import scenarios as sc

D = torch.float64
C = torch.complex128
# the refined problem with more WMMSE iterations inside the model than the registered one's
REFINED = {f"ic_beamforming_refined-inner_iterations={n}":
           configured(PROBLEMS["ic_beamforming_refined"], {"inner_iterations": n}) for n in (2, 3, 5)}
CASES = {**PROBLEMS, **REFINED}


def _log2(x):
    return math.log2(1.0 + x)


def _crand(*shape, gen):
    return torch.complex(torch.randn(*shape, generator=gen, dtype=D), torch.randn(*shape, generator=gen, dtype=D))


def _abs2(z):
    return float(abs(complex(z)) ** 2)


# --------------------------------------------------------------------------- units
def test_rates_are_log2():
    rx = torch.tensor([[[1.0]], [[3.0]], [[7.0]]], dtype=D)
    assert torch.allclose(obj.sinr_rates(rx, 1.0)[:, 0], torch.tensor([1.0, 2.0, 3.0], dtype=D))
    # two links, explicit SINRs
    rx = torch.tensor([[[3.0, 1.0], [2.0, 1.0]]], dtype=D)  # [s, r]
    expected = _log2(3.0 / (2.0 + 1.0)) + _log2(1.0 / (1.0 + 1.0))
    assert obj.sinr_rates(rx, 1.0).sum().item() == pytest.approx(expected)


def test_single_link_comp_and_mu_miso_in_bits():
    h = torch.zeros(1, 1, 1, 1, dtype=C)
    h[0, 0, 0, 0] = math.sqrt(3.0)
    v = torch.ones(1, 1, 1, dtype=C)
    assert obj.sum_rate_comp_jt({"h": h}, {"v": v}).item() == pytest.approx(2.0)


# --------------------------------------------------------------------------- brute force
def _bf_power(gain_rx_tx, p, noise):
    """gain_rx_tx[r][t]: power gain from Tx t to Rx r; link l = (Tx l, Rx l)."""
    L = len(p)
    total = 0.0
    for r in range(L):
        interf = sum(gain_rx_tx[r][t] * p[t] for t in range(L) if t != r)
        total += _log2(gain_rx_tx[r][r] * p[r] / (interf + noise[r]))
    return total


def test_mcmu_matches_loops():
    g = torch.Generator().manual_seed(1)
    f = sc.sample_mcmu_power_allocation(3, generator=g, dtype=D, M=2, K=3, N_t=4)
    p = torch.rand(3, 2, 3, generator=g, dtype=D)
    got = obj.sum_rate_mcmu_power_allocation(f, {"p": p})
    H = f["H"]
    for b in range(3):
        total = 0.0
        for m in range(2):
            for k in range(3):
                interf = sum(H[b, m, k, n, j].item() * p[b, n, j].item()
                             for n in range(2) for j in range(3) if (n, j) != (m, k))
                total += _log2(H[b, m, k, m, k].item() * p[b, m, k].item() / (interf + 1.0))
        assert got[b].item() == pytest.approx(total, rel=1e-10)


def test_ibc_matches_loops():
    g = torch.Generator().manual_seed(2)
    f = sc.sample_ibc_power_allocation(2, generator=g, dtype=D, B=3, Q=2, N=4, noise_dbm=-80.0)
    P = torch.rand(2, 3, 2, 3, 2, generator=g, dtype=D)  # off-diagonal entries must be ignored
    got = obj.sum_rate_ibc_power_allocation(f, {"P": P})
    G, s = f["G"], f["sigma"]
    for b in range(2):
        total = 0.0
        for d in range(3):
            for r in range(2):
                interf = sum(G[b, c, q, d, r].item() ** 2 * P[b, c, q, c, q].item()
                             for c in range(3) for q in range(2) if (c, q) != (d, r))
                sig = G[b, d, r, d, r].item() ** 2 * P[b, d, r, d, r].item()
                total += _log2(sig / (interf + s[b, d, r].item() ** 2))
        assert got[b].item() == pytest.approx(total, rel=1e-10)


def test_d2d_matches_loops():
    g = torch.Generator().manual_seed(3)
    f = sc.sample_d2d_link_scheduling(2, generator=g, dtype=D, K=4, field=100.0)
    rho = torch.rand(2, 4, generator=g, dtype=D)
    got = obj.sum_rate_d2d_link_scheduling(f, {"rho": rho})
    for b in range(2):
        H = f["H"][b]
        gain_rx_tx = [[H[t, r].item() for t in range(4)] for r in range(4)]
        assert got[b].item() == pytest.approx(_bf_power(gain_rx_tx, rho[b].tolist(), [1.0] * 4), rel=1e-10)


@pytest.mark.parametrize("variant", ["node", "edge"])
def test_ic_matches_loops(variant):
    g = torch.Generator().manual_seed(4)
    f = sc.sample_ic_beamforming_node(2, generator=g, dtype=D, K=3, N=2, field=300.0)
    f["sigma"] = torch.rand(2, 3, generator=g, dtype=D) + 0.5
    V = _crand(2, 3, 3, 2, gen=g)
    v = torch.diagonal(V, dim1=1, dim2=2).movedim(-1, 1)
    got = (obj.sum_rate_ic_beamforming_edge(f, {"V": V}) if variant == "edge"
           else obj.sum_rate_ic_beamforming_node(f, {"v": v}))
    H = f["H"]
    for b in range(2):
        total = 0.0
        for k in range(3):
            amp = [sum(H[b, m, k, n].conj() * v[b, m, n] for n in range(2)) for m in range(3)]
            interf = sum(_abs2(amp[m]) for m in range(3) if m != k)
            total += _log2(_abs2(amp[k]) / (interf + f["sigma"][b, k].item() ** 2))
        assert got[b].item() == pytest.approx(total, rel=1e-10)


def test_ic_pair_beams_put_each_beam_on_its_own_pair():
    """The reference's starting point from a model's beams: v_k on edge (k, k), zeros elsewhere,
    from the node variant's v or the edge variant's V (whose off-diagonal the sum rate ignores)."""
    g = torch.Generator().manual_seed(6)
    f = sc.sample_ic_beamforming_node(2, generator=g, dtype=D, K=3, N=2)
    V = _crand(2, 3, 3, 2, gen=g)
    v = torch.diagonal(V, dim1=1, dim2=2).movedim(-1, 1)
    start = obj.ic_pair_beams(f, {"v": v})
    for m in range(3):
        for k in range(3):
            assert torch.equal(start[:, m, k], v[:, k] if m == k else torch.zeros_like(v[:, k]))
    assert torch.equal(obj.ic_pair_beams(f, {"V": V}), start)
    assert torch.equal(obj.edge_beams(f, {"V": V}), V)


def test_structured_ic_beams_match_loops():
    """v_k = sqrt(p_k) d_k/||d_k||, d_k = (sum_j c_j h_kj h_kj^H + mu_k I)^-1 h_kk, built entry by
    entry (2x2 inverse by the adjugate), and the sum rate is that of these beams."""
    g = torch.Generator().manual_seed(11)
    f = sc.sample_ic_beamforming_node(2, generator=g, dtype=D, K=3, N=2, field=300.0)
    weight, multiplier = torch.randn(2, 3, generator=g, dtype=D), torch.randn(2, 3, generator=g, dtype=D)
    power = torch.rand(2, 3, generator=g, dtype=D)
    v = obj.structured_ic_beams(f["H"], weight, multiplier, power)
    H = f["H"]
    for b in range(2):
        for k in range(3):
            A = [[sum(math.exp(weight[b, j]) * H[b, k, j, n] * H[b, k, j, p].conj() for j in range(3))
                  + (math.exp(multiplier[b, k]) if n == p else 0.0) for p in range(2)] for n in range(2)]
            det = A[0][0] * A[1][1] - A[0][1] * A[1][0]
            h = H[b, k, k]
            d = [(A[1][1] * h[0] - A[0][1] * h[1]) / det, (A[0][0] * h[1] - A[1][0] * h[0]) / det]
            norm = math.sqrt(_abs2(d[0]) + _abs2(d[1]))
            for n in range(2):
                assert complex(v[b, k, n]) == pytest.approx(complex(d[n]) * math.sqrt(power[b, k]) / norm, rel=1e-9)
    rate = obj.sum_rate_ic_beamforming_structured(f, {"weight": weight, "multiplier": multiplier, "power": power})
    assert torch.allclose(rate, obj.sum_rate_ic_beamforming_node(f, {"v": v}), rtol=1e-12)



def test_structured_mu_miso_beams_match_the_closed_form_and_scale_free_weights():
    gen = torch.Generator().manual_seed(12)
    H = _crand(2, 3, 4, gen=gen)
    weight = torch.randn(2, 3, generator=gen, dtype=D)
    amplitude = torch.rand(2, 3, generator=gen, dtype=D)
    V = obj.structured_mu_miso_beams(H, weight, amplitude)
    h = H.conj()  # h_k = conj(H[k]), columns of the matrix inverted
    for b in range(2):
        A = torch.eye(4, dtype=C) + sum(math.exp(weight[b, j]) * torch.outer(h[b, j], h[b, j].conj()) for j in range(3))
        for k in range(3):
            d = torch.linalg.solve(A, h[b, k])
            assert torch.allclose(V[b, k], d / d.norm() * amplitude[b, k], rtol=1e-10)
    huge = obj.structured_mu_miso_beams(H, weight + 700.0, amplitude)  # exp(700 + ...) overflows float64 alone
    assert torch.isfinite(huge).all()
    rates = obj.sum_rate_mu_miso_precoding_structured({"H": H}, {"weight": weight, "amplitude": amplitude})
    assert torch.allclose(rates, obj.sum_rate_mu_miso_precoding({"H": H}, {"V": V}), rtol=1e-12)



def test_structured_hybrid_objective_is_the_plain_sum_rate_of_its_realisation():
    from designer.wireless.hybrid_structured import decode_hybrid_precoding_structured

    problem = PROBLEMS["hybrid_precoding_structured"]
    features = sc.sample_hybrid_precoding(4, seed=7, dtype=D)
    gen = torch.Generator().manual_seed(3)
    amplitude = torch.rand(4, 2, generator=gen, dtype=D)
    actions = {"weight": torch.randn(4, 2, generator=gen, dtype=D),
               "amplitude": amplitude / amplitude.norm(dim=-1, keepdim=True)}
    hybrid = decode_hybrid_precoding_structured(features, actions)
    assert [hybrid[k].shape for k in ("W_RF", "W_BB", "V_RF")] == [(4, 8, 4), (4, 4, 2), (4, 2, 2, 2)]
    assert torch.allclose(hybrid["W_RF"].abs(), torch.full((4, 8, 4), 8 ** -0.5, dtype=D))
    assert torch.allclose((hybrid["W_RF"] @ hybrid["W_BB"]).abs().square().sum((-2, -1)), torch.full((4,), 2.0, dtype=D))
    rate = problem.objective(features, actions)
    assert torch.allclose(rate, obj.sum_rate_hybrid_precoding(features, hybrid), rtol=1e-10)
    rotated = problem.augment(features, torch.Generator().manual_seed(0))
    assert torch.allclose(problem.objective(rotated, actions), rate, rtol=1e-10)


def test_cooperative_matches_loops():
    g = torch.Generator().manual_seed(5)
    f = sc.sample_cooperative_beamforming(2, generator=g, dtype=D, M=3, K=2, N=2, field=1200.0, min_bs_distance=300.0)
    V = _crand(2, 3, 2, 2, gen=g)
    got = obj.sum_rate_cooperative_beamforming(f, {"V": V})
    H = f["H"]
    for b in range(2):
        total = 0.0
        for k in range(2):
            amp = [sum(H[b, m, k, n].conj() * V[b, m, j, n] for m in range(3) for n in range(2)) for j in range(2)]
            interf = sum(_abs2(amp[j]) for j in range(2) if j != k)
            total += _log2(_abs2(amp[k]) / (interf + f["sigma"][b, k].item() ** 2))
        assert got[b].item() == pytest.approx(total, rel=1e-10)


def test_mu_miso_matches_loops():
    g = torch.Generator().manual_seed(6)
    f = sc.sample_mu_miso_precoding(2, generator=g, dtype=D, K=3, N=4)
    V = _crand(2, 3, 4, gen=g) * 0.3
    got = obj.sum_rate_mu_miso_precoding(f, {"V": V})
    H = f["H"]
    for b in range(2):
        total = 0.0
        for k in range(3):
            amp = [sum(H[b, k, n] * V[b, j, n] for n in range(4)) for j in range(3)]
            total += _log2(_abs2(amp[k]) / (sum(_abs2(amp[j]) for j in range(3) if j != k) + 1.0))
        assert got[b].item() == pytest.approx(total, rel=1e-10)


@pytest.mark.parametrize("miso", [False, True])
def test_hybrid_matches_loops(miso):
    g = torch.Generator().manual_seed(7)
    K, N_t, N_RF, N_r = 2, 4, 3, 2
    if miso:
        f = sc.sample_hybrid_precoding_miso(2, generator=g, dtype=D, K=K, N_t=N_t, n_clusters=2, n_rays=3)
    else:
        f = sc.sample_hybrid_precoding(2, generator=g, dtype=D, K=K, N_t=N_t, N_r=N_r, n_clusters=2, n_rays=3)
    W_RF, W_BB, V_RF = _crand(2, N_t, N_RF, gen=g), _crand(2, N_RF, K, gen=g), _crand(2, K, N_r, K, gen=g)
    acts = {"W_RF": W_RF, "W_BB": W_BB} if miso else {"W_RF": W_RF, "W_BB": W_BB, "V_RF": V_RF}
    fn = obj.sum_rate_hybrid_precoding_miso if miso else obj.sum_rate_hybrid_precoding
    got = fn(f, acts, snr_db=7.0)
    snr = 10 ** 0.7
    for b in range(2):
        F = W_RF[b] @ W_BB[b]
        total = 0.0
        for k in range(K):
            row = f["H"][b, k] if miso else V_RF[b, k, :, k].conj() @ f["H"][b, k]
            amp = [sum(row[t] * F[t, n] for t in range(N_t)) for n in range(K)]
            sig = snr / K * _abs2(amp[k])
            interf = snr / K * sum(_abs2(amp[n]) for n in range(K) if n != k)
            total += _log2(sig / (interf + 1.0))
        assert got[b].item() == pytest.approx(total, rel=1e-10)


def test_comp_matches_loops():
    g = torch.Generator().manual_seed(8)
    f = sc.sample_comp_jt(3, generator=g, dtype=D, B=2, N=3)
    v = _crand(3, 2, 3, gen=g)
    got = obj.sum_rate_comp_jt(f, {"v": v})
    for b in range(3):
        amp = sum(f["h"][b, m, n, 0].conj() * v[b, m, n] for m in range(2) for n in range(3))
        assert got[b].item() == pytest.approx(_log2(_abs2(amp)), rel=1e-10)


# --------------------------------------------------------------------------- channel conventions
# A 2-link case with a strong one-way interferer: Tx 0 -> Rx 1 has gain 100, Tx 1 -> Rx 0 has 0.
# Direct gains 4 and 9 (unit powers, unit noise).  The correct reading gives
# log2(1 + 4) + log2(1 + 9/101); reading the channel transposed gives log2(1 + 4/101) + log2(10).
RIGHT = _log2(4.0) + _log2(9.0 / 101.0)
WRONG = _log2(4.0 / 101.0) + _log2(9.0)


def test_convention_ic_bs_then_ue():
    H = torch.zeros(1, 2, 2, 1, dtype=C)
    H[0, 0, 0, 0], H[0, 1, 1, 0], H[0, 0, 1, 0] = 2.0, 3.0, 10.0  # H[m, k] = BS m -> UE k
    f = {"H": H, "sigma": torch.ones(1, 2, dtype=D), "p_max": torch.ones(1, 2, dtype=D)}
    v = torch.ones(1, 2, 1, dtype=C)
    assert obj.sum_rate_ic_beamforming_node(f, {"v": v}).item() == pytest.approx(RIGHT)
    f_t = dict(f, H=H.transpose(1, 2))
    assert obj.sum_rate_ic_beamforming_node(f_t, {"v": v}).item() == pytest.approx(WRONG)


def test_convention_mcmu_receiver_axes_first():
    H = torch.zeros(1, 2, 1, 2, 1, dtype=D)  # H[m, k, n, j]: AN j of cell n -> UE k of cell m
    H[0, 0, 0, 0, 0], H[0, 1, 0, 1, 0], H[0, 1, 0, 0, 0] = 4.0, 9.0, 100.0
    p = torch.ones(1, 2, 1, dtype=D)
    assert obj.sum_rate_mcmu_power_allocation({"H": H}, {"p": p}).item() == pytest.approx(RIGHT)
    H_t = H.permute(0, 3, 4, 1, 2)
    assert obj.sum_rate_mcmu_power_allocation({"H": H_t}, {"p": p}).item() == pytest.approx(WRONG)


def test_convention_d2d_tx_then_rx():
    H = torch.tensor([[[4.0, 100.0], [0.0, 9.0]]], dtype=D)  # H[i, j]: Tx i -> Rx j
    rho = torch.ones(1, 2, dtype=D)
    assert obj.sum_rate_d2d_link_scheduling({"H": H}, {"rho": rho}).item() == pytest.approx(RIGHT)
    assert obj.sum_rate_d2d_link_scheduling({"H": H.transpose(1, 2)}, {"rho": rho}).item() == pytest.approx(WRONG)


def test_convention_ibc_tx_then_rx_amplitude():
    G = torch.zeros(1, 2, 1, 2, 1, dtype=D)  # G[c, q, d, r]: Tx node (c, q) -> UE r of cell d
    G[0, 0, 0, 0, 0], G[0, 1, 0, 1, 0], G[0, 0, 0, 1, 0] = 2.0, 3.0, 10.0
    f = {"G": G, "sigma": torch.ones(1, 2, 1, dtype=D), "p_max": torch.ones(1, 2, 1, dtype=D)}
    P = torch.diag_embed(torch.ones(1, 2, dtype=D)).reshape(1, 2, 1, 2, 1)
    assert obj.sum_rate_ibc_power_allocation(f, {"P": P}).item() == pytest.approx(RIGHT)
    f_t = dict(f, G=G.permute(0, 3, 4, 1, 2))
    assert obj.sum_rate_ibc_power_allocation(f_t, {"P": P}).item() == pytest.approx(WRONG)


def test_convention_cooperative_bs_then_ue():
    H = torch.zeros(1, 2, 2, 1, dtype=C)
    H[0, 0, 0, 0], H[0, 1, 1, 0], H[0, 0, 1, 0] = 2.0, 3.0, 10.0
    V = torch.zeros(1, 2, 2, 1, dtype=C)
    V[0, 0, 0, 0] = V[0, 1, 1, 0] = 1.0  # BS m sends only stream m
    f = {"H": H, "sigma": torch.ones(1, 2, dtype=D), "p_max": torch.ones(1, 2, dtype=D)}
    assert obj.sum_rate_cooperative_beamforming(f, {"V": V}).item() == pytest.approx(RIGHT)
    f_t = dict(f, H=H.transpose(1, 2))
    assert obj.sum_rate_cooperative_beamforming(f_t, {"V": V}).item() == pytest.approx(WRONG)


def test_convention_mu_miso_rows_are_users():
    H = torch.tensor([[[2.0, 10.0], [0.0, 3.0]]], dtype=C)  # H[k, n]; V = I sends stream n on antenna n
    V = torch.eye(2, dtype=C).unsqueeze(0)
    right = _log2(4.0 / 101.0) + _log2(9.0)
    assert obj.sum_rate_mu_miso_precoding({"H": H}, {"V": V}).item() == pytest.approx(right)
    wrong = _log2(4.0) + _log2(9.0 / 101.0)
    assert obj.sum_rate_mu_miso_precoding({"H": H.transpose(1, 2)}, {"V": V}).item() == pytest.approx(wrong)


def test_conjugation_conventions():
    """``h^H v`` for ENGNN/CoMP problems, ``H x`` (no conjugate) for Zhao's MU-MISO/hybrid."""
    g = torch.Generator().manual_seed(9)
    h = _crand(1, 3, gen=g)
    norm2 = float(h.abs().square().sum())
    best = math.log2(1 + norm2)
    # interference channel, K = 1: MRT v = h/||h|| reaches log2(1 + ||h||^2) with h^H v.
    f = {"H": h.reshape(1, 1, 1, 3), "sigma": torch.ones(1, 1, dtype=D), "p_max": torch.ones(1, 1, dtype=D)}
    v = (h / math.sqrt(norm2)).reshape(1, 1, 3)
    assert obj.sum_rate_ic_beamforming_node(f, {"v": v}).item() == pytest.approx(best)
    assert obj.sum_rate_ic_beamforming_node(f, {"v": v.conj()}).item() < best - 1e-3
    # CoMP: same convention.
    assert obj.sum_rate_comp_jt({"h": h.reshape(1, 1, 3, 1)}, {"v": v.reshape(1, 1, 3)}).item() == pytest.approx(best)
    # MU-MISO, K = 1: y = H x, so the matched precoder is conj(H).
    Hm = h.reshape(1, 1, 3)
    assert obj.sum_rate_mu_miso_precoding({"H": Hm}, {"V": Hm.conj() / math.sqrt(norm2)}).item() == pytest.approx(best)
    assert obj.sum_rate_mu_miso_precoding({"H": Hm}, {"V": Hm / math.sqrt(norm2)}).item() < best - 1e-3


# --------------------------------------------------------------------------- registry-level properties
def _random_actions(ref, gen):
    out = {}
    for k, a in ref.items():
        noise = _crand(*a.shape, gen=gen) if a.is_complex() else torch.rand(*a.shape, generator=gen, dtype=a.dtype)
        out[k] = (a + 0.1 * noise.to(a.dtype)).requires_grad_(True)
    return out


SMALL = {
    "mcmu_power_allocation": dict(M=2, K=2, N_t=3),
    "hybrid_precoding": dict(K=2, N_t=4, N_RF=4, N_r=2, n_clusters=2, n_rays=2),
    "hybrid_precoding_miso": dict(K=2, N_t=4, N_RF=4, n_clusters=2, n_rays=2),
    "hybrid_precoding_structured": dict(K=2, N_t=4, N_r=2, n_clusters=2, n_rays=2),
    "ic_beamforming_edge": dict(K=3, N=2),
    "ic_beamforming_node": dict(K=3, N=2),
    "ic_beamforming_structured": dict(K=3, N=2),
    "ic_beamforming_refined": dict(K=3, N=2),
    "ibc_power_allocation": dict(B=2, Q=2, N=3),
    "cooperative_beamforming": dict(M=2, K=2, N=2),
    "d2d_link_scheduling": dict(K=4),
    "comp_jt": dict(B=2, N=2),
    "mu_miso_precoding": dict(K=2, N=3),
    "mu_miso_precoding_structured": dict(K=2, N=3),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_objective_differentiable_and_dtype(name):
    prob = CASES[name]
    g = torch.Generator().manual_seed(10)
    kw = dict(SMALL[prob.name])  # sizes and scenario keywords; the reference takes N_RF from them
    for dtype in (torch.float32, torch.float64):
        feats = prob.sampler(3, generator=g, dtype=dtype, **kw)
        acts = _random_actions(prob.reference(feats, sizes=kw), g)
        rate = prob.objective(feats, acts)
        assert rate.shape == (3,) and rate.dtype == dtype
        assert torch.isfinite(rate).all()
        (-rate.mean()).backward()
        for a in acts.values():
            assert a.grad is not None and torch.isfinite(torch.view_as_real(a.grad) if a.grad.is_complex()
                                                         else a.grad).all()


def test_missing_key_is_reported():
    with pytest.raises(KeyError, match="'p'"):
        obj.sum_rate_mcmu_power_allocation({"H": torch.ones(1, 1, 1, 1, 1)}, {"q": torch.ones(1, 1, 1)})


# --------------------------------------------------------------------------- imitation losses
def test_beam_misalignment_matches_loops_and_ignores_phase_and_power():
    gen = torch.Generator().manual_seed(5)
    V, W = _crand(3, 4, 2, gen=gen), _crand(3, 4, 2, gen=gen)
    got = obj.beam_misalignment(V, W)
    for b in range(3):
        per_beam = []
        for k in range(2):
            v, w = V[b, :, k], W[b, :, k]
            cos2 = _abs2(torch.vdot(v, w)) / (float(v.norm()) ** 2 * float(w.norm()) ** 2)
            per_beam.append(1 - cos2)
        assert got[b].item() == pytest.approx(sum(per_beam) / 2, rel=1e-12)
    scale = torch.polar(torch.rand(3, 1, 2, generator=gen, dtype=D) * 3, torch.randn(3, 1, 2, generator=gen, dtype=D))
    rotated = W * scale
    assert torch.allclose(obj.beam_misalignment(rotated, W), torch.zeros(3, dtype=D), atol=1e-12)
    e0, e1 = torch.eye(2, dtype=C)[:, :1].unsqueeze(0), torch.eye(2, dtype=C)[:, 1:].unsqueeze(0)  # (1, 2, 1)
    assert obj.beam_misalignment(e1, e0).item() == 1 and obj.beam_misalignment(e0, e0).item() == 0


def test_hybrid_imitation_compares_overall_beams_not_the_split():
    features = sc.sample_hybrid_precoding_miso(2, seed=1, dtype=D)
    reference = PROBLEMS["hybrid_precoding_miso"].reference(features)
    # the same overall precoder split differently: W_RF columns permuted, W_BB rows to match
    order = torch.tensor([2, 0, 1, 5, 3, 4])
    resplit = {"W_RF": reference["W_RF"][:, :, order], "W_BB": reference["W_BB"][:, order, :]}
    imitation = PROBLEMS["hybrid_precoding_miso"].imitation
    assert torch.allclose(imitation(features, resplit, reference), torch.zeros(2, dtype=D), atol=1e-12)
    swapped = {"W_RF": reference["W_RF"], "W_BB": reference["W_BB"].flip(-1)}  # beams given to the other UE
    assert (imitation(features, swapped, reference) > 0.01).all()


def test_mu_mimo_imitation_also_compares_the_combiners():
    problem = PROBLEMS["hybrid_precoding"]
    features = sc.sample_hybrid_precoding(2, seed=3, dtype=D, N_r=2)
    reference = problem.reference(features)
    phases = torch.polar(torch.ones(2, 2, 1, 1, dtype=D), torch.tensor([0.3, 2.0], dtype=D).view(1, 2, 1, 1))
    rephased = {**reference, "V_RF": reference["V_RF"] * phases}  # a combiner's phase changes no rate
    assert torch.allclose(problem.imitation(features, rephased, reference), torch.zeros(2, dtype=D), atol=1e-12)
    other = {**reference, "V_RF": reference["V_RF"].flip(1).flip(-1)}  # each UE gets the other's combiner
    combiners = torch.diagonal(reference["V_RF"], dim1=1, dim2=3)
    expected = obj.beam_misalignment(torch.diagonal(other["V_RF"], dim1=1, dim2=3), combiners) / 2
    assert torch.allclose(problem.imitation(features, other, reference), expected, rtol=1e-12)
    assert (expected > 0.01).all()


def test_mu_miso_imitation_counts_direction_and_power_not_phase():
    problem = PROBLEMS["mu_miso_precoding"]
    features = sc.sample_mu_miso_precoding(3, seed=6, dtype=D)
    reference = problem.reference(features)
    angles = torch.rand(3, 4, 1, generator=torch.Generator().manual_seed(2), dtype=D) * 6
    phases = torch.polar(torch.ones_like(angles), angles)
    assert torch.allclose(problem.imitation(features, {"V": reference["V"] * phases}, reference),
                          torch.zeros(3, dtype=D), atol=1e-12)
    V = reference["V"]
    swapped = {"V": V.flip(1)}  # each UE gets another's beam
    expected = torch.stack([obj.beam_distance(swapped["V"][:, k], V[:, k]) for k in range(4)], -1).mean(-1)
    assert torch.allclose(problem.imitation(features, swapped, reference), expected, rtol=1e-12)
    assert (expected > 0.01).all()
    halved = {"V": V / 2}  # the same directions at a quarter of the power
    assert (problem.imitation(features, halved, reference) > 0.01).all()


# --------------------------------------------------------------------------- augmentations
def test_hybrid_augmentation_keeps_every_sum_rate_and_is_seeded():
    problem = PROBLEMS["hybrid_precoding_miso"]
    features = sc.sample_hybrid_precoding_miso(4, seed=2, dtype=D)
    gen = torch.Generator().manual_seed(7)
    actions = {"W_RF": _crand(4, 8, 6, gen=gen), "W_BB": _crand(4, 6, 2, gen=gen)}
    rotated = problem.augment(features, torch.Generator().manual_seed(0))
    assert not torch.allclose(rotated["H"], features["H"])  # the channels move ...
    assert torch.allclose(rotated["H"].abs(), features["H"].abs(), rtol=1e-12)  # ... by a phase ...
    ratio = rotated["H"] / features["H"]
    assert torch.allclose(ratio, ratio[..., :1].expand_as(ratio), rtol=1e-10)  # ... one per UE
    for a in (actions, problem.reference(features)):
        assert torch.allclose(problem.objective(rotated, a), problem.objective(features, a), rtol=1e-10)
    again = problem.augment(features, torch.Generator().manual_seed(0))
    assert torch.equal(again["H"], rotated["H"])
    # the transform is not an invariance of every objective: it changes a sum rate that mixes UEs' phases
    mixed = {"W_RF": actions["W_RF"], "W_BB": actions["W_BB"]}
    joint = lambda f: (f["H"].sum(dim=1, keepdim=True) @ mixed["W_RF"] @ mixed["W_BB"]).abs().sum(dim=(-1, -2))
    assert not torch.allclose(joint(rotated), joint(features))


def test_hybrid_augmentation_keeps_every_mu_mimo_sum_rate():
    problem = PROBLEMS["hybrid_precoding"]
    features = sc.sample_hybrid_precoding(3, seed=4, dtype=D, N_r=2)
    gen = torch.Generator().manual_seed(8)
    actions = {"W_RF": _crand(3, 8, 6, gen=gen), "W_BB": _crand(3, 6, 2, gen=gen), "V_RF": _crand(3, 2, 2, 2, gen=gen)}
    rotated = problem.augment(features, torch.Generator().manual_seed(1))
    ratio = rotated["H"] / features["H"]
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), rtol=1e-10)  # one phase per UE
    assert not torch.allclose(ratio, torch.ones_like(ratio))
    assert torch.allclose(problem.objective(rotated, actions), problem.objective(features, actions), rtol=1e-10)


def test_mu_miso_augmentation_keeps_every_sum_rate():
    problem = PROBLEMS["mu_miso_precoding"]
    features = sc.sample_mu_miso_precoding(3, seed=4, dtype=D)
    actions = {"V": _crand(3, 4, 8, gen=torch.Generator().manual_seed(8))}
    rotated = problem.augment(features, torch.Generator().manual_seed(1))
    ratio = rotated["H"] / features["H"]
    assert torch.allclose(ratio, ratio[:, :, :1].expand_as(ratio), rtol=1e-10)  # one phase per UE
    assert not torch.allclose(ratio, ratio[:, :1].expand_as(ratio))  # not one for all
    for a in (actions, problem.reference(features)):
        assert torch.allclose(problem.objective(rotated, a), problem.objective(features, a), rtol=1e-10)


# (problem, phases shared along these H axes): IC rotates each (BS, UE) channel, cooperative each UE's
@pytest.mark.parametrize("name, shared", [("ic_beamforming_edge", (3,)), ("ic_beamforming_node", (3,)),
                                          ("ic_beamforming_structured", (3,)), ("ic_beamforming_refined", (3,)),
                                          *[(name, (3,)) for name in REFINED], ("cooperative_beamforming", (1, 3))])
def test_engnn_augmentations_keep_every_sum_rate_and_are_seeded(name, shared):
    problem = CASES[name]
    features = problem.sampler(3, seed=5, dtype=D, K=4)
    H = features["H"]
    actions = _random_actions(problem.reference(features), torch.Generator().manual_seed(9))
    rotated = problem.augment(features, torch.Generator().manual_seed(0))
    ratio = rotated["H"] / H
    assert torch.allclose(ratio.abs(), torch.ones_like(ratio.abs()), rtol=1e-12)  # a phase ...
    for axis in range(1, 4):  # ... shared along exactly the axes the objective allows
        first = ratio.narrow(axis, 0, 1).expand_as(ratio)
        assert torch.allclose(ratio, first, rtol=1e-10) == (axis in shared)
    for a in (actions, problem.reference(features)):
        assert torch.allclose(problem.objective(rotated, a), problem.objective(features, a), rtol=1e-10)
    assert torch.equal(problem.augment(features, torch.Generator().manual_seed(0))["H"], rotated["H"])


def test_cooperative_sum_rate_is_not_invariant_to_a_phase_per_channel():
    """Why cooperative beamforming rotates per UE only: the BSs' signals add coherently (eq. 14)."""
    problem = PROBLEMS["cooperative_beamforming"]
    features = problem.sampler(3, seed=5, dtype=D)
    per_channel = obj.rotate_phases(features["H"], torch.Generator().manual_seed(0), features["H"].shape[:3] + (1,))
    reference = problem.reference(features)
    assert not torch.allclose(problem.objective({**features, "H": per_channel}, reference),
                              problem.objective(features, reference), rtol=1e-3)


def test_beam_distance_matches_loops_and_ignores_phase_only():
    gen = torch.Generator().manual_seed(9)
    v, w = _crand(3, 4, 2, gen=gen), _crand(3, 4, 2, gen=gen)
    got = obj.beam_distance(v, w)
    for b in range(3):
        for k in range(4):
            turns = torch.polar(torch.ones(721, 1, dtype=D), torch.linspace(0, 2 * math.pi, 721, dtype=D)[:, None])
            brute = float((v[b, k] * turns - w[b, k]).norm(dim=-1).square().min())  # a phase grid of 0.5°
            assert float(got[b, k]) <= brute + 1e-12 and brute - float(got[b, k]) < 1e-3 * (1 + brute)
    turned = w * torch.polar(torch.ones(3, 4, 1, dtype=D), torch.rand(3, 4, 1, generator=gen, dtype=D) * 6)
    assert torch.allclose(obj.beam_distance(turned, w), torch.zeros(3, 4, dtype=D), atol=1e-12)
    assert torch.allclose(obj.beam_distance(2 * w, w), w.abs().square().sum(-1), rtol=1e-12)  # power counts


@pytest.mark.parametrize("variant", ["edge", "node"])
def test_ic_imitation_is_zero_at_the_reference_up_to_phase(variant):
    problem = PROBLEMS[f"ic_beamforming_{variant}"]
    features = problem.sampler(3, seed=2, K=4, dtype=D)
    reference = problem.reference(features)
    key = problem.actions[0]
    phase = torch.polar(torch.ones(3, 4, dtype=D), torch.rand(3, 4, dtype=D) * 6)
    turned = {key: reference[key] * (phase.view(3, 4, 1, 1) if variant == "edge" else phase.view(3, 4, 1))}
    assert torch.allclose(problem.imitation(features, turned, reference), torch.zeros(3, dtype=D), atol=1e-10)
    halved = {key: reference[key] / 2}  # same directions, a quarter of the power
    v = reference[key] if variant == "node" else torch.diagonal(reference[key], dim1=1, dim2=2).movedim(-1, 1)
    expected = (v.abs().square().sum(-1) / 4 / features["p_max"]).mean(-1)
    assert torch.allclose(problem.imitation(features, halved, reference), expected, rtol=1e-10)


def test_structured_ic_imitation_compares_beams_not_parameters():
    problem = PROBLEMS["ic_beamforming_structured"]
    features = problem.sampler(3, seed=4, K=4, dtype=D)
    reference = problem.reference(features)
    shifted = {**reference, "weight": reference["weight"] + 0.7,  # c_j / mu_k unchanged: same beams
               "multiplier": reference["multiplier"] + 0.7}
    assert torch.allclose(problem.imitation(features, shifted, reference), torch.zeros(3, dtype=D), atol=1e-10)
    quartered = {**reference, "power": reference["power"] / 4}  # same directions, half the amplitude
    expected = (reference["power"] / 4 / features["p_max"]).mean(-1)
    assert torch.allclose(problem.imitation(features, quartered, reference), expected, rtol=1e-8)
    other = {**reference, "weight": reference["weight"].flip(-1)}  # other directions
    assert (problem.imitation(features, other, reference) > 1e-6).all()
