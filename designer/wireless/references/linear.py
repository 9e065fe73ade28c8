"""Closed-form linear precoders: ZF / regularised ZF for MU-MISO, per-BS MRT for CoMP-JT.

MU-MISO uses the matrix convention of :func:`designer.wireless.objectives.sum_rate_mu_miso_precoding`:
``y = H x + n``, ``H`` ``(batch, K, N)``, ``x = sum_j V[j] s_j``, unit noise, ``||V||_F^2 <= 1``.
With ``T = H^H (H H^H + alpha I)^{-1}`` (``N x K``, column ``j`` = direction for UE ``j``) the
precoder is ``V = T^T / ||T||_F`` (total-power normalisation, which keeps the zero-forcing
property).  ``alpha = 0`` is ZF (Peel, Hochwald, Swindlehurst, IEEE TCOM 2005: channel
inversion); the regularised ZF default ``alpha = K`` is ``K sigma^2 / P`` in these normalised
units (the MMSE-like regularisation of the same paper).
"""

from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import Tensor

__all__ = ["zf_mu_miso_precoding", "rzf_mu_miso_precoding", "rzf_equal_power_mu_miso_precoding",
           "rzf_equal_power_mu_miso_precoding_structured", "mrt_comp_jt"]


def _inverse_precoder(H: Tensor, alpha: float) -> Tensor:
    if alpha == 0.0:
        return torch.linalg.pinv(H)  # (batch, N, K)
    K = H.shape[-2]
    gram = H @ H.mH + alpha * torch.eye(K, dtype=H.dtype, device=H.device)
    return torch.linalg.solve(gram, H).mH


def _normalise_total(T: Tensor) -> Tensor:
    V = T.transpose(-1, -2)
    norm = torch.linalg.vector_norm(V, dim=(-2, -1), keepdim=True)
    return V / norm.clamp_min(torch.finfo(norm.dtype).tiny)


def zf_mu_miso_precoding(features: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Zero-forcing MU-MISO precoder, ``V = pinv(H)^T / ||pinv(H)||_F``.

    ``features["H"]``: complex ``(batch, K, N)`` (``K <= N``).  Returns ``{"V": (batch, K, N)}``
    with ``||V||_F = 1`` and ``H_k v_j = 0`` for ``j != k``.
    """
    return {"V": _normalise_total(_inverse_precoder(features["H"], 0.0))}


def rzf_mu_miso_precoding(features: Mapping[str, Tensor], *, alpha: float | None = None) -> dict[str, Tensor]:
    """Regularised ZF, ``T = H^H (H H^H + alpha I)^{-1}``, ``V = T^T / ||T||_F``; ``alpha`` defaults to ``K``."""
    H = features["H"]
    return {"V": _normalise_total(_inverse_precoder(H, float(H.shape[-2] if alpha is None else alpha)))}



def rzf_equal_power_mu_miso_precoding(features: Mapping[str, Tensor], *, alpha: float | None = None
                                      ) -> dict[str, Tensor]:
    """Regularised ZF's directions (``T`` of :func:`rzf_mu_miso_precoding`), every UE at power
    ``1/K``: ``v_k = t_k / (||t_k|| sqrt(K))``, ``t_k`` column ``k`` of ``T``."""
    H = features["H"]
    V = _inverse_precoder(H, float(H.shape[-2] if alpha is None else alpha)).transpose(-1, -2)
    norm = torch.linalg.vector_norm(V, dim=-1, keepdim=True) * H.shape[-2] ** 0.5
    return {"V": V / norm.clamp_min(torch.finfo(norm.dtype).tiny)}


def rzf_equal_power_mu_miso_precoding_structured(features: Mapping[str, Tensor], *, alpha: float | None = None
                                                 ) -> dict[str, Tensor]:
    """:func:`rzf_equal_power_mu_miso_precoding` in the form of
    :func:`~designer.wireless.objectives.structured_mu_miso_beams`: every ``lambda_j = 1 /
    alpha`` (``t_k = (sum_j h_j h_j^H + alpha I)^{-1} h_k``), every amplitude ``1/sqrt(K)``."""
    H = features["H"]
    K = H.shape[-2]
    real = torch.zeros(H.shape[:-1], dtype=H.real.dtype, device=H.device)  # (batch, K)
    return {"weight": real - math.log(K if alpha is None else alpha), "amplitude": real + K ** -0.5}


def mrt_comp_jt(features: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Optimal CoMP-JT precoder for one UE: per-BS MRT at full power.

    ``features["h"]``: complex ``(batch, B, N, 1)``.  ``v_b = h_b / ||h_b||`` maximises
    ``|sum_b h_b^H v_b|`` under ``||v_b||^2 <= 1`` (Cauchy-Schwarz per BS, phases aligned), so the
    rate ``log2(1 + (sum_b ||h_b||)^2)`` is the global optimum.  Returns ``{"v": (batch, B, N)}``.
    """
    h = features["h"][..., 0]
    norm = torch.linalg.vector_norm(h, dim=-1, keepdim=True)
    return {"v": h / norm.clamp_min(torch.finfo(norm.dtype).tiny)}
