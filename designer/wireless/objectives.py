"""Differentiable sum-rate objectives of the wireless problems.

Every objective ``sum_rate_<problem>(features, actions)`` takes the feature dict produced by
``sample_<problem>`` and an action dict, and returns the per-sample sum rate, shape ``(batch,)``,
in **bits/s/Hz** (``log2``).  All objectives are plain torch code: differentiable (use
``loss = -sum_rate(...).mean()``), batched, and device/dtype follow the inputs.  They evaluate the
actions *as given*: constraints (power budgets, constant modulus) are not enforced here, the
references and the networks' projections do that.

All problems reduce to one SINR computation (:func:`sinr_rates`): a matrix ``rx_power`` of shape
``(..., S, R)`` whose entry ``[s, r]`` is the power of stream ``s`` received at receiver ``r``;
stream ``r`` is the one intended for receiver ``r``.  Channel conventions per problem are stated
in each docstring and in ``docs/wireless.md``.
"""

from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import Tensor

__all__ = [
    "sinr_rates",
    "received_power",
    "power_control_sum_rate",
    "sum_rate_mcmu_power_allocation",
    "sum_rate_hybrid_precoding",
    "sum_rate_hybrid_precoding_miso",
    "sum_rate_ic_beamforming_edge",
    "sum_rate_ic_beamforming_node",
    "sum_rate_ic_beamforming_structured",
    "structured_ic_beams",
    "decode_ic_beamforming_structured",
    "ic_pair_beams",
    "pair_diagonal",
    "edge_beams",
    "sum_rate_ibc_power_allocation",
    "sum_rate_cooperative_beamforming",
    "sum_rate_d2d_link_scheduling",
    "sum_rate_comp_jt",
    "sum_rate_mu_miso_precoding",
    "sum_rate_mu_miso_precoding_structured",
    "structured_mu_miso_beams",
    "decode_mu_miso_precoding_structured",
    "ic_amplitudes",
    "cooperative_amplitudes",
    "mu_miso_amplitudes",
    "hybrid_combiners",
    "hybrid_composite_channel",
    "hybrid_amplitudes",
    "beam_misalignment",
    "imitation_hybrid_precoding",
    "imitation_mu_miso_precoding",
    "imitation_mu_miso_precoding_structured",
    "beam_distance",
    "imitation_ic_beamforming",
    "imitation_ic_beamforming_structured",
    "augment_cooperative_beamforming",
    "augment_ue_phases",
    "augment_ic_beamforming",
    "rotate_phases",
]

_LN2 = math.log(2.0)


# --------------------------------------------------------------------------- shared helpers
def _need(d: Mapping[str, Tensor], key: str, what: str) -> Tensor:
    try:
        return d[key]
    except KeyError:
        raise KeyError(f"{what} dict is missing {key!r} (has {sorted(d)})") from None


def received_power(amplitude: Tensor) -> Tensor:
    """``|amplitude|^2`` computed as ``re^2 + im^2`` (smooth at 0, unlike ``abs``)."""
    if amplitude.is_complex():
        return amplitude.real.square() + amplitude.imag.square()
    return amplitude.square()


def sinr_rates(rx_power: Tensor, noise_var: Tensor | float) -> Tensor:
    """Per-receiver rate ``log2(1 + SINR_r)`` in bits/s/Hz.

    ``rx_power``: real ``(..., S, S)``; ``rx_power[..., s, r]`` = received power of stream ``s``
    at receiver ``r``; stream ``r`` is intended for receiver ``r``.
    ``noise_var``: noise power at each receiver, broadcastable to ``(..., S)``.

    ``SINR_r = rx_power[r, r] / (sum_{s != r} rx_power[s, r] + noise_var[r])``.  The interference
    is summed with the diagonal masked out (no cancellation error).  Returns ``(..., S)``.
    """
    n = rx_power.shape[-1]
    if rx_power.shape[-2] != n:
        raise ValueError(f"rx_power must be square in its last two axes, got {tuple(rx_power.shape)}")
    off = ~torch.eye(n, dtype=torch.bool, device=rx_power.device)
    signal = torch.diagonal(rx_power, dim1=-2, dim2=-1)
    interference = (rx_power * off).sum(dim=-2)
    return torch.log1p(signal / (interference + noise_var)) / _LN2


def power_control_sum_rate(gain_tx_rx: Tensor, power: Tensor, noise_var: Tensor | float) -> Tensor:
    """Sum rate of single-stream links with scalar powers (shared by MCMU, IBC and D2D).

    ``gain_tx_rx``: real ``(batch, L, L)``, ``[i, j]`` = power gain from transmitter ``i`` to
    receiver ``j``; link ``l`` is transmitter ``l`` -> receiver ``l``.  ``power``: ``(batch, L)``.
    ``noise_var``: broadcastable to ``(batch, L)``.  Returns ``(batch,)`` bits/s/Hz.
    """
    return sinr_rates(gain_tx_rx * power.unsqueeze(-1), noise_var).sum(dim=-1)


# --------------------------------------------------------------------------- power allocation
def sum_rate_mcmu_power_allocation(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """MCMU power allocation sum rate, Zhao et al. eq. (1a), in bits/s/Hz.

    ``features["H"]``: real ``(batch, M, K, M, K)``; ``H[b, m, k, n, j]`` is the normalised
    equivalent channel gain ``|h_{k_m j_n}|^2 P_max / sigma0^2`` from AN ``j`` of cell ``n`` to
    UE ``k`` of cell ``m`` (receiver axes first, transmitter axes second).
    ``actions["p"]``: ``(batch, M, K)``, fraction of the BS budget (``sum_k p[m, k] <= 1``).

    ``SINR_{m,k} = H[m,k,m,k] p[m,k] / (sum_{(n,j) != (m,k)} H[m,k,n,j] p[n,j] + 1)``.
    """
    H = _need(features, "H", "features")
    p = _need(actions, "p", "actions")
    b, M, K = p.shape
    gain_rx_tx = H.reshape(b, M * K, M * K)
    return power_control_sum_rate(gain_rx_tx.transpose(-1, -2), p.reshape(b, M * K), 1.0)


def sum_rate_ibc_power_allocation(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """IBC power allocation sum rate, ENGNN eqs. (8)-(9a), in bits/s/Hz.

    ``features["G"]``: real ``(batch, B, Q, B, Q)``; ``G[b, c, q, d, r] = |h_{c, r_d}^H w_{q_c}|``
    is the equivalent channel *amplitude* (ENGNN eq. 10) from Tx node ``(c, q)`` (BS ``c``'s beam
    for its UE ``q``) to UE ``r`` of cell ``d`` (transmitter axes first).
    ``features["sigma"]``: ``(batch, B, Q)`` noise std of each UE.
    ``actions["P"]``: ``(batch, B, Q, B, Q)``; only the diagonal ``P[b, c, q, c, q]`` (power of
    Tx node ``(c, q)``) is used.

    ``SINR_{d,r} = G[d,r,d,r]^2 P_{d,r} / (sum_{(c,q) != (d,r)} G[c,q,d,r]^2 P_{c,q} + sigma_{d,r}^2)``.
    """
    G = _need(features, "G", "features")
    sigma = _need(features, "sigma", "features")
    P = _need(actions, "P", "actions")
    b, B, Q = sigma.shape
    L = B * Q
    p = torch.diagonal(P.reshape(b, L, L), dim1=-2, dim2=-1)
    return power_control_sum_rate(G.reshape(b, L, L).square(), p, sigma.reshape(b, L).square())


def sum_rate_d2d_link_scheduling(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """D2D link scheduling / power control sum rate (Zhao et al. §2-A example), bits/s/Hz.

    ``features["H"]``: real ``(batch, K, K)``; ``H[b, i, j]`` = normalised gain
    ``|h_ij|^2 P / sigma^2`` from Tx ``i`` to Rx ``j``.  ``actions["rho"]``: ``(batch, K)`` in [0, 1].

    ``sum_j log2(1 + H[j,j] rho_j / (sum_{i != j} H[i,j] rho_i + 1))``.
    """
    H = _need(features, "H", "features")
    rho = _need(actions, "rho", "actions")
    return power_control_sum_rate(H, rho, 1.0)


# --------------------------------------------------------------------------- beamforming
def ic_amplitudes(H: Tensor, v: Tensor) -> Tensor:
    """Interference channel: ``A[b, s, r] = h_{s, r}^H v_s`` (stream of BS ``s`` at UE ``r``).

    ``H``: ``(batch, K, K, N)`` with ``H[b, m, k, :] = h_{m,k}`` (BS ``m`` -> UE ``k``);
    ``v``: ``(batch, K, N)``.  Returns ``(batch, K, K)``.  A batched matrix-vector product
    (``einsum("bsrn,bsn->bsr", ...)`` gives the same bits, 2.4x slower in batches of 256 at
    K = 20, N = 2: its conjugate is copied first).
    """
    return (H.conj() @ v.unsqueeze(-1)).squeeze(-1)


def pair_diagonal(X: Tensor) -> Tensor:
    """The pairs' entries ``X[b, k, k]`` of a BS-UE layout ``(batch, K, K, ...)``, as
    ``(batch, K, ...)``: the direct channels ``h_{k,k}`` of ``H``, the beams ``v_k`` of ``V``."""
    return torch.diagonal(X, dim1=1, dim2=2).movedim(-1, 1)


def _ic_beams(actions: Mapping[str, Tensor], what: str) -> Tensor:
    """The beams ``v (batch, K, N)``: node variant ``actions["v"]``, or the diagonal
    ``V[b, k, k, :]`` of the edge variant's ``actions["V"] (batch, K, K, N)``."""
    if "v" in actions:
        return actions["v"]
    return pair_diagonal(_need(actions, "V", what))


def ic_pair_beams(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """An interference-channel model's beams on the BS-UE edges, ``V (batch, K, K, N)`` with
    ``V[b, k, k] = v_k`` and zeros elsewhere (WMMSE's layout: its ``init`` when it refines them);
    ``actions`` as in :func:`_ic_beams`."""
    return torch.diag_embed(_ic_beams(actions, "actions").transpose(1, 2)).permute(0, 2, 3, 1)


def edge_beams(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """``actions["V"]`` ``(batch, M, K, N)``, beams already on the BS-UE edges (cooperative
    beamforming: WMMSE's ``init`` when it refines them)."""
    return _need(actions, "V", "actions")


def _ic_sum_rate(features: Mapping[str, Tensor], v: Tensor) -> Tensor:
    H = _need(features, "H", "features")
    sigma = _need(features, "sigma", "features")
    return sinr_rates(received_power(ic_amplitudes(H, v)), sigma.square()).sum(dim=-1)


def sum_rate_ic_beamforming_node(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """Interference-channel beamforming sum rate, ENGNN eqs. (2)-(4a), node variant, bits/s/Hz.

    ``features``: ``H`` complex ``(batch, K, K, N)`` with ``H[b, m, k, :] = h_{m,k}`` (BS ``m`` ->
    UE ``k``, received ``y_k = sum_m h_{m,k}^H v_m s_m + n_k``); ``sigma`` ``(batch, K)`` noise
    std; ``p_max`` ``(batch, K)`` (budget, unused by the objective).
    ``actions["v"]``: complex ``(batch, K, N)``, ``v[b, k]`` = beamformer of BS ``k`` for UE ``k``.

    ``SINR_k = |h_{k,k}^H v_k|^2 / (sum_{j != k} |h_{j,k}^H v_j|^2 + sigma_k^2)``  (ENGNN eq. 3).
    """
    return _ic_sum_rate(features, _need(actions, "v", "actions"))


def sum_rate_ic_beamforming_edge(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """Interference-channel beamforming sum rate, ENGNN eq. (6a), edge variant, bits/s/Hz.

    Same as :func:`sum_rate_ic_beamforming_node` but ``actions["V"]`` is complex
    ``(batch, K, K, N)`` on the (BS, UE) edges; only the diagonal ``V[b, k, k, :] = v_k`` is used.
    """
    return _ic_sum_rate(features, _ic_beams(actions, "actions"))


MIN_MULTIPLIER = 1e-12  # mu_k at least this times BS k's largest term c_j ||h_{k,j}||^2


def structured_ic_beams(H: Tensor, weight: Tensor, multiplier: Tensor, power: Tensor) -> Tensor:
    """Beams of the form of WMMSE's beamformer update (Shi et al. 2011; the KKT form of ENGNN
    eq. 4): ``v_k = sqrt(p_k) d_k / ||d_k||`` with
    ``d_k = (sum_j c_j h_{k,j} h_{k,j}^H + mu_k I)^{-1} h_{k,k}``, ``c_j = exp(weight_j)`` (UE
    ``j``'s MSE weight ``w_j |u_j|^2``), ``mu_k = exp(multiplier_k)`` (BS ``k``'s power multiplier).

    ``H`` complex ``(batch, K, K, N)`` (BS ``m`` -> UE ``k``); ``weight`` ``(batch, K)`` over UEs;
    ``multiplier``, ``power`` ``(batch, K)`` over BSs.  Returns ``v`` ``(batch, K, N)`` with
    ``||v_k||^2 = p_k``.  Only ``c_j / mu_k`` sets ``d_k``'s direction, so each BS's terms are
    divided by its largest before ``exp`` (no overflow whatever the logs), ``mu_k`` is floored at
    :data:`MIN_MULTIPLIER` of that, and the ``N x N`` solve runs in double precision.
    """
    wide = torch.complex128
    gain = received_power(H).sum(-1).to(torch.float64)  # ||h_{k,j}||^2 (batch, BS, UE)
    logs = weight.to(torch.float64).unsqueeze(1) + gain.clamp_min(torch.finfo(torch.float64).tiny).log()
    mu_log = multiplier.to(torch.float64)
    top = torch.maximum(logs.amax(-1), mu_log).detach()  # (batch, BS); the direction ignores it
    c = (weight.to(torch.float64).unsqueeze(1) - top.unsqueeze(-1)).exp()
    mu = (mu_log - top).exp().clamp_min(MIN_MULTIPLIER)
    Hw = H.to(wide)
    A = torch.einsum("bkj,bkjn,bkjp->bknp", c.to(wide), Hw, Hw.conj())
    eye = torch.eye(H.shape[-1], dtype=wide, device=H.device)
    direct = pair_diagonal(Hw)
    d = torch.linalg.solve(A + mu[..., None, None] * eye, direct.unsqueeze(-1)).squeeze(-1)
    d = d / torch.linalg.vector_norm(d, dim=-1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    return d.to(H.dtype) * power.clamp_min(torch.finfo(power.dtype).tiny).sqrt().unsqueeze(-1)


def decode_ic_beamforming_structured(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]
                                     ) -> dict[str, Tensor]:
    """The beams ``{"v": (batch, K, N)}`` that :func:`structured_ic_beams` builds from
    ``actions["weight"]`` ``(batch, K)`` (UEs), ``actions["multiplier"]`` and ``actions["power"]``
    ``(batch, K)`` (BSs): the node variant's action."""
    return {"v": structured_ic_beams(_need(features, "H", "features"), _need(actions, "weight", "actions"),
                                     _need(actions, "multiplier", "actions"), _need(actions, "power", "actions"))}


def sum_rate_ic_beamforming_structured(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """Interference-channel sum rate (ENGNN eq. 4a, bits/s/Hz) of the beams
    :func:`decode_ic_beamforming_structured` builds; features as in
    :func:`sum_rate_ic_beamforming_node`."""
    return sum_rate_ic_beamforming_node(features, decode_ic_beamforming_structured(features, actions))


def structured_mu_miso_beams(H: Tensor, weight: Tensor, amplitude: Tensor) -> Tensor:
    """MU-MISO precoders in the form of the optimal downlink beamformers (the uplink-downlink
    duality form, which WMMSE's beamformer update also takes): ``v_k = a_k d_k / ||d_k||`` with
    ``d_k = (I + sum_j lambda_j h_j h_j^H)^{-1} h_k``, ``h_k = conj(H[k])``, ``lambda_j =
    exp(weight_j)`` and power ``p_k = a_k^2``.

    ``H`` complex ``(batch, K, N)`` (``y = H x``), ``weight`` and ``amplitude`` ``(batch, K)``.
    Returns ``V`` ``(batch, K, N)`` with ``||v_k||^2 = a_k^2``. It is
    :func:`structured_ic_beams` with every BS the same array and unit multiplier: BS ``k``
    sends UE ``k``'s beam over the channels ``h_j`` of all UEs (one ``N x N`` solve per beam,
    in double precision, overflow-free)."""
    h = H.conj().unsqueeze(1).expand(-1, H.shape[1], -1, -1)  # (batch, K, K, N): h[b, k, j] = h_j for every k
    return structured_ic_beams(h, weight, torch.zeros_like(amplitude), amplitude.square())


def decode_mu_miso_precoding_structured(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]
                                        ) -> dict[str, Tensor]:
    """The precoders ``{"V": (batch, K, N)}`` that :func:`structured_mu_miso_beams` builds from
    ``actions["weight"]`` and ``actions["amplitude"]`` ``(batch, K)``: the plain problem's action."""
    return {"V": structured_mu_miso_beams(_need(features, "H", "features"), _need(actions, "weight", "actions"),
                                          _need(actions, "amplitude", "actions"))}


def sum_rate_mu_miso_precoding_structured(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """MU-MISO sum rate (bits/s/Hz) of the precoders :func:`decode_mu_miso_precoding_structured`
    builds; features as in :func:`sum_rate_mu_miso_precoding`."""
    return sum_rate_mu_miso_precoding(features, decode_mu_miso_precoding_structured(features, actions))


def cooperative_amplitudes(H: Tensor, V: Tensor) -> Tensor:
    """Cooperative beamforming: ``A[b, j, k] = sum_m h_{m,k}^H v_{m,j}`` (stream ``j`` at UE ``k``).

    ``H``, ``V``: complex ``(batch, M, K, N)``.  Returns ``(batch, K, K)``.
    """
    return torch.einsum("bmkn,bmjn->bjk", H.conj(), V)


def sum_rate_cooperative_beamforming(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """Cooperative beamforming sum rate, ENGNN eqs. (13)-(15a), bits/s/Hz.

    ``features``: ``H`` complex ``(batch, M, K, N)`` with ``H[b, m, k, :] = h_{m,k}`` (BS ``m`` ->
    UE ``k``); ``sigma`` ``(batch, K)``; ``p_max`` ``(batch, M)`` (unused by the objective).
    ``actions["V"]``: complex ``(batch, M, K, N)``, ``V[b, m, k] = v_{m,k}``.

    ``SINR_k = |sum_m h_{m,k}^H v_{m,k}|^2 / (sum_{j != k} |sum_m h_{m,k}^H v_{m,j}|^2 + sigma_k^2)``.
    """
    H = _need(features, "H", "features")
    sigma = _need(features, "sigma", "features")
    V = _need(actions, "V", "actions")
    return sinr_rates(received_power(cooperative_amplitudes(H, V)), sigma.square()).sum(dim=-1)


def mu_miso_amplitudes(H: Tensor, V: Tensor) -> Tensor:
    """MU-MISO (matrix convention ``y = H x``): ``A[b, j, k] = sum_n H[b, k, n] V[b, j, n]``.

    ``H``: ``(batch, K, N)``, row ``k`` is UE ``k``'s channel; ``V``: ``(batch, K, N)``, row ``j``
    is the precoder of UE ``j``.  Returns ``(batch, K, K)`` (stream ``j`` at UE ``k``).
    """
    return torch.einsum("bkn,bjn->bjk", H, V)


def sum_rate_mu_miso_precoding(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """MU-MISO baseband precoding sum rate (Zhao et al. §2 example ``V = f_B(H)``), bits/s/Hz.

    ``features["H"]``: complex ``(batch, K, N)``, SNR-normalised (``H = H_phys sqrt(P)/sigma``),
    received ``y_k = sum_n H[k, n] x_n + n_k`` with ``x = sum_j V[j, :] s_j`` and unit noise.
    ``actions["V"]``: complex ``(batch, K, N)`` with ``||V||_F^2 <= 1``.

    ``SINR_k = |H_k v_k|^2 / (sum_{j != k} |H_k v_j|^2 + 1)``.
    """
    H = _need(features, "H", "features")
    V = _need(actions, "V", "actions")
    return sinr_rates(received_power(mu_miso_amplitudes(H, V)), 1.0).sum(dim=-1)


def sum_rate_comp_jt(features: Mapping[str, Tensor], actions: Mapping[str, Tensor]) -> Tensor:
    """CoMP-JT sum rate (single UE, Zhao et al. §2 example ``v = g_CoMP(h)``), bits/s/Hz.

    ``features["h"]``: complex ``(batch, B, N, 1)`` (dims [AN, UE], UE a set of size 1), SNR
    normalised (``h = h_phys sqrt(P_BS)/sigma``).  ``actions["v"]``: complex ``(batch, B, N)``
    with per-BS power ``sum_n |v[b, n]|^2 <= 1``.  Rate ``log2(1 + |sum_{b,n} conj(h[b,n]) v[b,n]|^2)``.
    """
    h = _need(features, "h", "features")
    v = _need(actions, "v", "actions")
    amp = torch.einsum("bmn,bmn->b", h[..., 0].conj(), v)
    return torch.log1p(received_power(amp)) / _LN2


def hybrid_combiners(V_RF: Tensor) -> Tensor:
    """The UEs' analog combiners as columns, ``(batch, N_r, K)``: ``V_RF[b, k, :, k]`` of the
    block-diagonal ``V_RF (batch, K, N_r, K)``."""
    return torch.diagonal(V_RF, dim1=1, dim2=3)


def hybrid_composite_channel(H: Tensor, V_RF: Tensor | None = None) -> Tensor:
    """``(batch, K, N_t)``: row ``k`` is ``v_k^H H_k``, UE ``k``'s channel after its analog combiner
    (MIMO ``H (batch, K, N_r, N_t)`` with ``V_RF``), or ``H`` itself (MISO, ``V_RF=None``)."""
    if V_RF is None:
        return H
    return torch.einsum("brk,bkrt->bkt", hybrid_combiners(V_RF).conj(), H)


def hybrid_amplitudes(H: Tensor, W_RF: Tensor, W_BB: Tensor, V_RF: Tensor | None = None) -> Tensor:
    """Hybrid precoding: ``A[b, n, k] = V_RF,k^H H_k W_RF W_BB[:, n]`` (stream ``n`` at UE ``k``).

    ``H``: MIMO ``(batch, K, N_r, N_t)`` (``H[b, k] = H_k``, BS -> UE ``k``, ``y_k = H_k x``) with
    ``V_RF`` ``(batch, K, N_r, K)`` whose ``V_RF[b, k, :, k]`` is UE ``k``'s analog combiner; or
    MISO ``(batch, K, N_t)`` with ``V_RF=None``.  ``W_RF``: ``(batch, N_t, N_RF)``; ``W_BB``:
    ``(batch, N_RF, K)``.  Returns ``(batch, K, K)``.
    """
    F = W_RF @ W_BB  # (batch, N_t, K)
    return torch.einsum("bkt,btn->bnk", hybrid_composite_channel(H, V_RF), F)


def _hybrid_sum_rate(amp: Tensor, snr_db: float) -> Tensor:
    K = amp.shape[-1]
    per_stream_snr = 10.0 ** (snr_db / 10.0) / K
    return sinr_rates(per_stream_snr * received_power(amp), 1.0).sum(dim=-1)


def sum_rate_hybrid_precoding(features: Mapping[str, Tensor], actions: Mapping[str, Tensor], *,
                              snr_db: float = 10.0) -> Tensor:
    """MU-MIMO hybrid precoding sum rate, Zhao et al. eq. (3a), bits/s/Hz.

    ``features["H"]``: complex ``(batch, K, N_r, N_t)``, ``H[b, k] = H_k`` (BS -> UE ``k``).
    ``actions``: ``W_RF`` ``(batch, N_t, N_RF)`` (``|entries| = 1/sqrt(N_t)``), ``W_BB``
    ``(batch, N_RF, K)`` (``||W_RF W_BB||_F^2 = K``), ``V_RF`` ``(batch, K, N_r, K)`` of which only
    ``V_RF[b, k, :, k]`` is used (``|entries| = 1/sqrt(N_r)``).

    ``SINR_k = (P/K)|V_k^H H_k W_RF w_k|^2 / ((P/K) sum_{n != k} |V_k^H H_k W_RF w_n|^2 + sigma0^2)``
    with ``P/sigma0^2 = 10^(snr_db/10)`` (default 10 dB, Zhao §6).
    """
    H = _need(features, "H", "features")
    amp = hybrid_amplitudes(H, _need(actions, "W_RF", "actions"), _need(actions, "W_BB", "actions"),
                            _need(actions, "V_RF", "actions"))
    return _hybrid_sum_rate(amp, snr_db)


def sum_rate_hybrid_precoding_miso(features: Mapping[str, Tensor], actions: Mapping[str, Tensor], *,
                                   snr_db: float = 10.0) -> Tensor:
    """MU-MISO hybrid precoding sum rate, Zhao et al. eq. (3a) with ``N_r = 1`` (no ``V_RF``).

    ``features["H"]``: complex ``(batch, K, N_t)``, row ``k`` = UE ``k``'s channel (``y_k = H_k x``).
    ``actions``: ``W_RF`` ``(batch, N_t, N_RF)``, ``W_BB`` ``(batch, N_RF, K)``.  SNR as in
    :func:`sum_rate_hybrid_precoding`.
    """
    H = _need(features, "H", "features")
    amp = hybrid_amplitudes(H, _need(actions, "W_RF", "actions"), _need(actions, "W_BB", "actions"))
    return _hybrid_sum_rate(amp, snr_db)


# --------------------------------------------------------------------------- augmentations
# Random transforms of the features that leave the sum rate of every action unchanged
# (``gnn-design train --augment``): more training channels from the same samples, and the
# reference's solution stays a solution. Each takes a CPU generator, seeded by the trainer.


def rotate_phases(H: Tensor, generator: torch.Generator, shape: tuple[int, ...]) -> Tensor:
    """``H`` times independent uniform random phases ``e^{j theta}``, one per entry of ``shape``
    (broadcast against ``H``; a 1 shares a phase along that axis), drawn in float64 on the CPU."""
    theta = 2 * math.pi * torch.rand(shape, generator=generator, dtype=torch.float64)
    return H * torch.polar(torch.ones_like(theta), theta).to(device=H.device, dtype=H.dtype)


def augment_ue_phases(features: Mapping[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
    """Rotate every UE's channel by its own uniform random phase, ``H_k -> e^{j theta_k} H_k``.

    ``features["H"]``: complex, UEs on the first axis: ``(batch, K, N)`` (MU-MISO precoding,
    hybrid MU-MISO) or ``(batch, K, N_r, N_t)`` (hybrid MU-MIMO). UE ``k``'s rate depends on
    ``H_k`` only through ``|H_k v_j|`` (Zhao eq. (3a): ``|V_k^H H_k W_RF w_BB,j|``), so the sum
    rate of any precoder is unchanged."""
    H = _need(features, "H", "features")
    return {**features, "H": rotate_phases(H, generator, H.shape[:2] + (1,) * (H.dim() - 2))}


def augment_ic_beamforming(features: Mapping[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
    """Rotate every (BS, UE) channel by its own uniform random phase, ``h_{m,k} -> e^{j theta_mk}
    h_{m,k}``, ``features["H"]`` complex ``(batch, K, K, N)``.

    In ENGNN eq. (3) every received amplitude ``|h_{m,k}^H v_m|`` involves one channel vector, so
    the sum rate of any beamformers is unchanged (node and edge variants alike); Rayleigh fading
    ``CN(0, I)`` is itself invariant under the rotation, so the augmented channels are as likely."""
    H = _need(features, "H", "features")
    return {**features, "H": rotate_phases(H, generator, H.shape[:3] + (1,))}


def augment_cooperative_beamforming(features: Mapping[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
    """Rotate every UE's channels from all BSs by one uniform random phase, ``h_{m,k} -> e^{j
    theta_k} h_{m,k}``, ``features["H"]`` complex ``(batch, M, K, N)``.

    In ENGNN eq. (14) UE ``k`` receives ``sum_m h_{m,k}^H v_{m,j}``: the BSs' contributions add
    coherently, so only a phase common to all of UE ``k``'s channels leaves ``|.|`` unchanged."""
    H = _need(features, "H", "features")
    return {**features, "H": rotate_phases(H, generator, (H.shape[0], 1, H.shape[2], 1))}


# --------------------------------------------------------------------------- imitation losses
# Supervised warm start (``gnn-design train --imitate-epochs``): how far actions are from a
# reference's, ignoring what no sum rate depends on. Per sample, shape ``(batch,)``.


def beam_misalignment(V: Tensor, V_ref: Tensor) -> Tensor:
    """``mean_k (1 - |v_k^H v_k^ref|^2 / (||v_k||^2 ||v_k^ref||^2))`` over the beams (columns)
    ``k`` of precoders ``(batch, N, K)``: 0 when every beam points where the reference's does,
    whatever its phase and power (no sum rate depends on a beam's phase), 1 when orthogonal."""
    inner = (V.conj() * V_ref).sum(dim=-2).abs().square()
    norms = V.abs().square().sum(dim=-2) * V_ref.abs().square().sum(dim=-2)
    return (1 - inner / norms.clamp_min(torch.finfo(norms.dtype).tiny)).mean(dim=-1)


def beam_distance(v: Tensor, v_ref: Tensor) -> Tensor:
    """``min_phi ||v e^{j phi} - v_ref||^2 = ||v||^2 + ||v_ref||^2 - 2 |v^H v_ref|`` per beam, over
    the last axis of ``(..., N)``: 0 when the beams agree up to a phase (which no rate depends on),
    unlike :func:`beam_misalignment` also counting their powers."""
    inner = (v.conj() * v_ref).sum(dim=-1).abs()
    return (v.abs().square().sum(dim=-1) + v_ref.abs().square().sum(dim=-1) - 2 * inner).clamp_min(0)


def imitation_ic_beamforming(features: Mapping[str, Tensor], actions: Mapping[str, Tensor],
                             target: Mapping[str, Tensor]) -> Tensor:
    """Imitation loss of interference-channel beamformers (node ``v (batch, K, N)`` or edge ``V
    (batch, K, K, N)`` variant, of which the diagonal is used): ``mean_k beam_distance(v_k,
    v_k^ref) / p_max_k`` — direction and power, not phase."""
    budget = _need(features, "p_max", "features")
    return (beam_distance(_ic_beams(actions, "actions"), _ic_beams(target, "target")) / budget).mean(dim=-1)


def imitation_ic_beamforming_structured(features: Mapping[str, Tensor], actions: Mapping[str, Tensor],
                                        target: Mapping[str, Tensor]) -> Tensor:
    """:func:`imitation_ic_beamforming` of the beams that the structured actions (``weight``,
    ``multiplier``, ``power``, each ``(batch, K)``) and the reference's build
    (:func:`decode_ic_beamforming_structured`): the beams are compared, not their parameters, of
    which many give the same beams (only ``c_j / mu_k`` sets a direction)."""
    return imitation_ic_beamforming(features, decode_ic_beamforming_structured(features, actions),
                                    decode_ic_beamforming_structured(features, target))


def imitation_mu_miso_precoding(features: Mapping[str, Tensor], actions: Mapping[str, Tensor],
                                target: Mapping[str, Tensor]) -> Tensor:
    """Imitation loss of MU-MISO precoders ``V (batch, K, N)`` (total power 1):
    ``mean_k beam_distance(v_k, v_k^ref)`` — each UE's beam direction and power, not its phase."""
    return beam_distance(_need(actions, "V", "actions"), _need(target, "V", "target")).mean(dim=-1)


def imitation_mu_miso_precoding_structured(features: Mapping[str, Tensor], actions: Mapping[str, Tensor],
                                           target: Mapping[str, Tensor]) -> Tensor:
    """:func:`imitation_mu_miso_precoding` of the precoders that the structured actions and the
    reference's build (:func:`decode_mu_miso_precoding_structured`)."""
    return imitation_mu_miso_precoding(features, decode_mu_miso_precoding_structured(features, actions),
                                       decode_mu_miso_precoding_structured(features, target))


def imitation_hybrid_precoding(features: Mapping[str, Tensor], actions: Mapping[str, Tensor],
                               target: Mapping[str, Tensor]) -> Tensor:
    """Imitation loss of a hybrid precoder: :func:`beam_misalignment` of the overall precoders
    ``W_RF W_BB (batch, N_t, K)`` and, for MU-MIMO, the mean of that and the misalignment of the
    combiners ``V_RF[b, k, :, k]`` (as ``(batch, N_r, K)``). The overall beams, not ``W_RF`` and
    ``W_BB`` apart: the reference's analog/digital split is one of many with the same beams."""
    def overall(a: Mapping[str, Tensor], what: str) -> Tensor:
        return _need(a, "W_RF", what) @ _need(a, "W_BB", what)

    def combiners(a: Mapping[str, Tensor], what: str) -> Tensor:
        return hybrid_combiners(_need(a, "V_RF", what))

    loss = beam_misalignment(overall(actions, "actions"), overall(target, "target"))
    if "V_RF" in target:
        loss = (loss + beam_misalignment(combiners(actions, "actions"), combiners(target, "target"))) / 2
    return loss
