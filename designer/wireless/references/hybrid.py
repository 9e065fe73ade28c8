"""Hybrid-precoding reference: GLRAM-style coordinated analog beamforming + ZF/BD baseband.

Zhao et al. §6-C measure hybrid precoding against "GLRAM" (N. Song, H. Sun, T. Yang,
"Coordinated hybrid beamforming for millimeter wave multi-user massive MIMO systems", IEEE
GLOBECOM 2016).  That paper is not available here; from its abstract the scheme is (i) choose
the BS analog precoder and the UE analog combiners jointly by the *generalized low-rank
approximation of matrices* (GLRAM, J. Ye, Machine Learning 61, 2005), i.e. maximise the
composite-channel energy ``sum_k ||V_k^H H_k W||_F^2``, then (ii) apply block diagonalisation to
the composite channel.  We implement exactly that reading:

1. ``W`` <- top-``N_RF`` eigenvectors of ``sum_k H_k^H H_k``, phase-extracted
   (``W_ij <- exp(j arg W_ij) / sqrt(N_t)``, the constant-modulus projection of Zhao §6-B);
2. repeat ``iters`` times (GLRAM alternation, Ye 2005, Alg. 1, with one combiner per UE):
   ``v_k`` <- top eigenvector of ``H_k W W^H H_k^H``, phase-extracted (``/sqrt(N_r)``);
   ``W`` <- top-``N_RF`` eigenvectors of ``sum_k H_k^H v_k v_k^H H_k``, phase-extracted;
3. baseband: ZF (= BD with one stream per UE) on the composite channel
   ``H_eff[k] = v_k^H H_k W_RF`` (``K x N_RF``): ``W_BB = pinv(H_eff)``, scaled so
   ``||W_RF W_BB||_F^2 = K`` (Zhao eq. 3b).

The phase extraction inside the alternation (rather than only at the end) and the fixed
iteration count are our choices: Song et al.'s exact "modified GLRAM" steps could not be checked.
For MISO (``N_r = 1``) the combiner is 1 and step 2 reduces to step 1.  When ``N_RF`` exceeds
the rank of the eigen-problem's matrix the extra RF chains get (phase-extracted) null-space
eigenvectors; they still add baseband degrees of freedom.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import torch
from torch import Tensor

from ...problem import NotApplicable
from ..objectives import hybrid_combiners, sum_rate_hybrid_precoding, sum_rate_hybrid_precoding_miso
from .wmmse import wmmse_mu_miso_precoding

__all__ = ["glram_hybrid_precoding", "phase_extract", "realise_digital", "mf_zf_hybrid_precoding",
           "digital_zf_hybrid_precoding", "digital_wmmse_hybrid_precoding", "best_hybrid_precoding",
           "composite_channel", "hybrid_actions", "ascent_hybrid_precoding"]


def phase_extract(X: Tensor, n: int) -> Tensor:
    """Constant-modulus projection ``exp(j arg X) / sqrt(n)`` (``arg 0 = 0``)."""
    return torch.polar(torch.full(X.shape, 1.0 / math.sqrt(n), dtype=X.real.dtype, device=X.device), X.angle())


def _top_eigenvectors(A: Tensor, r: int) -> Tensor:
    """Eigenvectors of the ``r`` largest eigenvalues of Hermitian ``A`` (descending), ``(..., n, r)``."""
    _, U = torch.linalg.eigh(A)
    return U[..., -r:].flip(-1)


def glram_hybrid_precoding(features: Mapping[str, Tensor], *, n_rf: int = 6, iters: int = 10) -> dict[str, Tensor]:
    """GLRAM-style hybrid precoder (see module docstring) for Zhao et al. eq. (3).

    ``features["H"]``: complex ``(batch, K, N_r, N_t)`` (MU-MIMO) or ``(batch, K, N_t)`` (MU-MISO),
    ``H[b, k]`` = channel BS -> UE ``k`` (``y_k = H_k x``).  ``n_rf``: number of BS RF chains
    (the features do not carry it; Zhao §6 uses 6), ``K <= n_rf <= N_t``.  Returns ``W_RF``
    ``(batch, N_t, N_RF)`` with ``|entries| = 1/sqrt(N_t)``, ``W_BB`` ``(batch, N_RF, K)`` with
    ``||W_RF W_BB||_F^2 = K``, and for MU-MIMO ``V_RF`` ``(batch, K, N_r, K)`` whose only non-zero
    part ``V_RF[b, k, :, k]`` has ``|entries| = 1/sqrt(N_r)``.
    """
    H = features["H"]
    miso = H.dim() == 3
    Hm = H.unsqueeze(2) if miso else H  # (batch, K, N_r, N_t)
    b, K, N_r, N_t = Hm.shape
    if not K <= n_rf <= N_t:
        raise ValueError(f"need K <= n_rf <= N_t, got K={K}, n_rf={n_rf}, N_t={N_t}")
    W = phase_extract(_top_eigenvectors(torch.einsum("bkrt,bkrs->bts", Hm.conj(), Hm), n_rf), N_t)
    v = torch.ones(b, K, N_r, dtype=H.dtype, device=H.device)
    for _ in range(0 if miso else iters):
        T = torch.einsum("bkrt,bts->bkrs", Hm, W)  # H_k W
        v = phase_extract(_top_eigenvectors(T @ T.mH, 1)[..., 0], N_r)
        c = torch.einsum("bkr,bkrt->bkt", v.conj(), Hm)  # v_k^H H_k
        W = phase_extract(_top_eigenvectors(torch.einsum("bkt,bks->bts", c.conj(), c), n_rf), N_t)
    composite = torch.einsum("bkr,bkrt->bkt", v.conj(), Hm) @ W  # (batch, K, N_RF)
    W_BB = torch.linalg.pinv(composite)  # (batch, N_RF, K)
    norm = torch.linalg.vector_norm(W @ W_BB, dim=(-2, -1), keepdim=True)
    W_BB = W_BB * (math.sqrt(K) / norm.clamp_min(torch.finfo(norm.dtype).tiny))
    out = {"W_RF": W, "W_BB": W_BB}
    if not miso:
        eye = torch.eye(K, dtype=H.dtype, device=H.device)
        out["V_RF"] = v.unsqueeze(-1) * eye[:, None, :]
    return out


# --------------------------------------------------------------------------- further hybrid references
# The designs below share one split: UE combiners (MU-MIMO) give the composite channel
# ``C`` ``(batch, K, N_t)``, ``C[k] = v_k^H H_k``, and a precoder ``F = W_RF W_BB`` ``(batch, N_t, K)``
# with ``||F||_F^2 = K`` then sees the MU-MISO channel ``C`` at per-stream SNR ``P/K`` (eq. 3a).


def _combiners(H: Tensor) -> Tensor:
    """Analog combiners ``(batch, K, N_r)``: the phases of each ``H_k``'s dominant left singular
    vector, ``|entries| = 1/sqrt(N_r)``."""
    U = torch.linalg.svd(H)[0][..., 0]
    return phase_extract(U, H.shape[-2])


def composite_channel(features: Mapping[str, Tensor], combiners: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """(composite channel ``C`` ``(batch, K, N_t)``, ``C[k] = v_k^H H_k``; combiners ``v``
    ``(batch, K, N_r)``: the given ones, else :func:`_combiners`'s), or ``(H, None)`` for MU-MISO."""
    H = features["H"]
    if H.dim() == 3:
        return H, None
    v = _combiners(H) if combiners is None else combiners
    return torch.einsum("bkr,bkrt->bkt", v.conj(), H), v


def hybrid_actions(W_RF: Tensor, W_BB: Tensor, combiners: Tensor | None) -> dict[str, Tensor]:
    """The problem's actions ``{"W_RF", "W_BB"}`` and, for MU-MIMO, ``"V_RF"`` ``(batch, K, N_r,
    K)``, block diagonal with the ``combiners`` ``(batch, K, N_r)``."""
    out = {"W_RF": W_RF, "W_BB": W_BB}
    if combiners is not None:
        K = combiners.shape[1]
        eye = torch.eye(K, dtype=combiners.dtype, device=combiners.device)
        out["V_RF"] = combiners.unsqueeze(-1) * eye[:, None, :]
    return out


def _to_power(F: Tensor, W: Tensor | None = None) -> Tensor:
    """``F`` scaled so that ``||W F||_F^2 = K`` (``W`` = identity when None), eq. (3b)."""
    norm = torch.linalg.vector_norm(F if W is None else W @ F, dim=(-2, -1), keepdim=True)
    return F * (math.sqrt(F.shape[-1]) / norm.clamp_min(torch.finfo(norm.dtype).tiny))


def realise_digital(F: Tensor, n_rf: int) -> tuple[Tensor, Tensor]:
    """A fully digital precoder ``F`` ``(batch, N_t, K)`` written exactly as ``W_RF W_BB`` with
    ``n_rf >= 2K`` RF chains of constant modulus ``1/sqrt(N_t)`` (Sohrabi & Yu, IEEE JSTSP 2016,
    Prop. 2): with ``beta_j = sqrt(N_t) max_i |F_ij| / 2`` every ``z = sqrt(N_t) F_ij / beta_j``
    has ``|z| <= 2``, so ``z = e^{ja} + e^{jb}`` with ``a, b = arg z +- arccos(|z|/2)``; RF
    chain ``j`` carries the phases ``a``, chain ``K + j`` the phases ``b``, both weighted ``beta_j``
    in column ``j`` of ``W_BB``. Chains past ``2K`` carry ``1/sqrt(N_t)`` and weight 0. Returns
    ``W_RF`` ``(batch, N_t, n_rf)`` and ``W_BB`` ``(batch, n_rf, K)``."""
    b, N_t, K = F.shape
    if n_rf < 2 * K:
        raise NotApplicable(f"a fully digital precoder needs N_RF >= 2K = {2 * K} RF chains, got {n_rf}")
    real = F.real.dtype
    beta = math.sqrt(N_t) * F.abs().amax(dim=-2) / 2  # (batch, K)
    z = math.sqrt(N_t) * F / beta.unsqueeze(-2).clamp_min(torch.finfo(real).tiny)
    spread = torch.arccos((z.abs() / 2).clamp(max=1.0))
    unit = torch.full(F.shape, 1 / math.sqrt(N_t), dtype=real, device=F.device)
    idle = torch.full((b, N_t, n_rf - 2 * K), 1 / math.sqrt(N_t), dtype=F.dtype, device=F.device)
    W_RF = torch.cat([torch.polar(unit, z.angle() + spread), torch.polar(unit, z.angle() - spread), idle], dim=-1)
    weights = torch.diag_embed(beta).to(F.dtype)
    W_BB = torch.cat([weights, weights, torch.zeros(b, n_rf - 2 * K, K, dtype=F.dtype, device=F.device)], dim=-2)
    return W_RF, W_BB


def _digital_zf(C: Tensor) -> Tensor:
    """Fully digital ZF ``pinv(C)`` at power ``K`` ``(batch, N_t, K)``."""
    return _to_power(torch.linalg.pinv(C))


def _digital_wmmse(C: Tensor, snr_db: float, **options) -> Tensor:
    """Fully digital WMMSE (:func:`~.wmmse.wmmse_mu_miso_precoding`) on ``C`` at per-stream SNR
    ``P/K``: its ``V`` (power 1, channel ``sqrt(P) C``) is ``F^T / sqrt(K)``."""
    K = C.shape[-2]
    V = wmmse_mu_miso_precoding({"H": C * 10.0 ** (snr_db / 20.0)}, **options)["V"]
    return math.sqrt(K) * V.transpose(-1, -2)


def digital_zf_hybrid_precoding(features: Mapping[str, Tensor], *, n_rf: int = 6) -> dict[str, Tensor]:
    """Fully digital ZF on the composite channel, realised exactly as hybrid (:func:`realise_digital`,
    ``n_rf >= 2K``); MU-MIMO combiners from :func:`_combiners`. Actions as :func:`glram_hybrid_precoding`."""
    C, v = composite_channel(features)
    return hybrid_actions(*realise_digital(_digital_zf(C), n_rf), v)


def digital_wmmse_hybrid_precoding(features: Mapping[str, Tensor], *, n_rf: int = 6, snr_db: float = 10.0,
                                   **options) -> dict[str, Tensor]:
    """Fully digital WMMSE (converged, several starts; ``options`` go to it) on the composite
    channel, realised exactly as hybrid (``n_rf >= 2K``). Actions as :func:`glram_hybrid_precoding`."""
    C, v = composite_channel(features)
    return hybrid_actions(*realise_digital(_digital_wmmse(C, snr_db, **options), n_rf), v)


def mf_zf_hybrid_precoding(features: Mapping[str, Tensor], *, n_rf: int = 6) -> dict[str, Tensor]:
    """Matched-filter analog + ZF digital (Liang, Xu, Dong, IEEE WCL 2014): ``K`` RF chains
    carry the phases of the UEs' conjugate (composite) channels, ``W_RF[:, k] = exp(-j arg
    C[k]) / sqrt(N_t)``, and ZF runs on the ``K x K`` channel ``C W_RF``; RF chains past ``K``
    are idle. Actions as :func:`glram_hybrid_precoding`."""
    C, v = composite_channel(features)
    b, K, N_t = C.shape
    if not K <= n_rf <= N_t:
        raise ValueError(f"need K <= n_rf <= N_t, got K={K}, n_rf={n_rf}, N_t={N_t}")
    analog = phase_extract(C.mH, N_t)
    W_RF = torch.cat([analog, torch.full((b, N_t, n_rf - K), 1 / math.sqrt(N_t), dtype=C.dtype, device=C.device)], -1)
    W_BB = torch.cat([torch.linalg.pinv(C @ analog), torch.zeros(b, n_rf - K, K, dtype=C.dtype, device=C.device)], -2)
    return hybrid_actions(W_RF, _to_power(W_BB, W_RF), v)


def _whitened_wmmse(features: Mapping[str, Tensor], design: Mapping[str, Tensor], snr_db: float,
                    **options) -> dict[str, Tensor]:
    """``design``'s analog part (``W_RF``, combiners) kept, the baseband chosen by WMMSE: with
    ``Q = W_RF^H W_RF = E diag(d) E^H`` and ``W_BB = Q^{-1/2} U``, ``||W_RF W_BB||_F = ||U||_F``,
    so WMMSE on the whitened channel ``C W_RF Q^{-1/2}`` under power ``K`` is exact."""
    W_RF = design["W_RF"]
    combiners = None if "V_RF" not in design else hybrid_combiners(design["V_RF"]).mT  # (batch, K, N_r)
    C, v = composite_channel(features, combiners)
    d, E = torch.linalg.eigh(W_RF.mH @ W_RF)
    keep = d > d.amax(dim=-1, keepdim=True) * 1e-9
    root = (E * torch.where(keep, d.clamp_min(torch.finfo(d.dtype).tiny).rsqrt(), 0).to(E.dtype).unsqueeze(-2)) @ E.mH
    U = _digital_wmmse(C @ W_RF @ root, snr_db, **options)
    return hybrid_actions(W_RF, root @ U, v)


ASCENT_STEPS = 1000  # gradient steps of :func:`ascent_hybrid_precoding` in the default reference
ASCENT_LR = 0.02


def ascent_hybrid_precoding(features: Mapping[str, Tensor], start: Mapping[str, Tensor], *, steps: int = ASCENT_STEPS,
                            lr: float = ASCENT_LR, snr_db: float = 10.0) -> dict[str, Tensor]:
    """Local refinement of a hybrid design by gradient ascent on eq. (3a): Adam (``lr``) over the
    analog phases of ``W_RF`` (and of the MU-MIMO combiners) and the baseband ``W_BB`` (scaled to
    eq. 3b's power after every step), from ``start``'s actions, for ``steps`` steps; per sample
    the best iterate, so never below ``start``. Actions as :func:`glram_hybrid_precoding`."""
    miso = features["H"].dim() == 3
    score: Callable = sum_rate_hybrid_precoding_miso if miso else sum_rate_hybrid_precoding
    W_RF = start["W_RF"]
    combiners = None if miso else hybrid_combiners(start["V_RF"]).mT  # (batch, K, N_r)
    N_t, N_r = W_RF.shape[-2], None if miso else combiners.shape[-1]
    with torch.enable_grad():
        phases = [t.angle().detach().requires_grad_() for t in ([W_RF] if miso else [W_RF, combiners])]
        baseband = start["W_BB"].detach().clone().requires_grad_()
        optimiser = torch.optim.Adam([*phases, baseband], lr=lr)

        def design() -> dict[str, Tensor]:
            analog = torch.polar(torch.full_like(phases[0], N_t ** -0.5), phases[0])
            v = None if miso else torch.polar(torch.full_like(phases[1], N_r ** -0.5), phases[1])
            return hybrid_actions(analog, _to_power(baseband, analog), v)

        best = {k: t.detach().clone() for k, t in start.items()}
        best_rate = score(features, best, snr_db=snr_db)
        for _ in range(steps):
            current = design()
            rate = score(features, current, snr_db=snr_db)
            better = rate.detach() > best_rate
            for key, t in current.items():
                mask = better.view(-1, *[1] * (t.dim() - 1))
                best[key] = torch.where(mask, t.detach(), best[key])
            best_rate = torch.maximum(best_rate, rate.detach())
            optimiser.zero_grad()
            (-rate.sum()).backward()
            optimiser.step()
    return best


def _candidates(features: Mapping[str, Tensor], n_rf: int, snr_db: float) -> list[dict[str, Tensor]]:
    """The designs :func:`best_hybrid_precoding` chooses from at these sizes."""
    glram, mf = glram_hybrid_precoding(features, n_rf=n_rf), mf_zf_hybrid_precoding(features, n_rf=n_rf)
    designs = [glram, mf, _whitened_wmmse(features, glram, snr_db), _whitened_wmmse(features, mf, snr_db)]
    if n_rf >= 2 * features["H"].shape[1]:
        designs += [digital_zf_hybrid_precoding(features, n_rf=n_rf),
                    digital_wmmse_hybrid_precoding(features, n_rf=n_rf, snr_db=snr_db)]
    return designs


def best_hybrid_precoding(features: Mapping[str, Tensor], *, n_rf: int = 6, snr_db: float = 10.0) -> dict[str, Tensor]:
    """The strongest hybrid reference here, chosen per sample by the sum rate (eq. 3a): GLRAM-style
    (:func:`glram_hybrid_precoding`) and matched-filter (:func:`mf_zf_hybrid_precoding`) analog
    parts, each with ZF and with WMMSE baseband (:func:`_whitened_wmmse`), and, when ``n_rf >= 2K``,
    fully digital ZF and WMMSE realised exactly (:func:`realise_digital`), which any hybrid
    precoder can only match. With fewer RF chains every design is first refined by
    :func:`ascent_hybrid_precoding` (four starts of a local search). Actions as
    :func:`glram_hybrid_precoding`."""
    with torch.no_grad():
        miso = features["H"].dim() == 3
        score: Callable = sum_rate_hybrid_precoding_miso if miso else sum_rate_hybrid_precoding
        designs = _candidates(features, n_rf, snr_db)
        if n_rf < 2 * features["H"].shape[1]:  # the designs refined side by side, as one batch
            together = {k: torch.cat([a[k] for a in designs]) for k in designs[0]}
            repeated = {"H": torch.cat([features["H"]] * len(designs))}
            refined = ascent_hybrid_precoding(repeated, together, snr_db=snr_db)
            designs = [dict(zip(refined, parts)) for parts in zip(*(t.chunk(len(designs)) for t in refined.values()))]
        rates = torch.stack([score(features, a, snr_db=snr_db) for a in designs])  # (designs, batch)
        chosen = rates.argmax(dim=0)
        out = {}
        for key in designs[0]:
            stacked = torch.stack([a[key] for a in designs])
            index = chosen.view(1, -1, *[1] * (stacked.dim() - 2)).expand(1, *stacked.shape[1:])
            out[key] = stacked.gather(0, index)[0]
        return out
