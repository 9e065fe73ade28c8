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
from typing import Mapping

import torch
from torch import Tensor

__all__ = ["glram_hybrid_precoding", "phase_extract"]


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
