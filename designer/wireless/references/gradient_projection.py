"""Gradient projection (GP) for cooperative beamforming (ENGNN §IV-C baseline, their ref. [7]).

Projected gradient ascent on the sum rate (ENGNN eq. 15a) over the product of per-BS power
balls ``sum_k ||v_{m,k}||^2 <= P_m`` (Bertsekas, *Nonlinear Programming*, §2.3).  The projection
onto a ball is a radial scaling of BS ``m``'s beamformers.  Step size: Armijo rule along the
projection arc, per sample: try ``s = 2 s_prev`` and halve (``beta = 0.5``) until
``R(P(V + s g)) >= R(V) + sigma_armijo * Re<g, P(V + s g) - V>`` with ``sigma_armijo = 1e-4``,
where ``g`` is torch's gradient of the sum rate (for a real function of complex ``V`` this is
the real gradient packed as a complex number, i.e. ascent direction and
``dR ~= Re sum conj(g) dV``).  Accepted steps never decrease the sum rate; a sample whose line
search fails keeps its iterate.  The first trial step is ``1 / sum_{m,k} ||h_{m,k}||^2/sigma_k^2``.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor

from ..objectives import cooperative_amplitudes, received_power, sinr_rates

__all__ = ["project_per_bs_power", "gradient_projection_cooperative_beamforming"]


def project_per_bs_power(V: Tensor, budget: Tensor) -> Tensor:
    """Euclidean projection of ``V`` ``(batch, M, K, N)`` onto ``sum_k ||v_{m,k}||^2 <= budget[m]``."""
    power = received_power(V).sum(dim=(-2, -1))
    scale = (budget / power.clamp_min(torch.finfo(budget.dtype).tiny)).sqrt().clamp(max=1.0)
    return V * scale[..., None, None]


def _rate(H: Tensor, V: Tensor, noise_var: Tensor) -> Tensor:
    return sinr_rates(received_power(cooperative_amplitudes(H, V)), noise_var).sum(dim=-1)


def _value_and_grad(H: Tensor, V: Tensor, noise_var: Tensor) -> tuple[Tensor, Tensor]:
    with torch.enable_grad():
        Vg = V.detach().requires_grad_(True)
        rate = _rate(H, Vg, noise_var)
        (grad,) = torch.autograd.grad(rate.sum(), Vg)
    return rate.detach(), grad


def gradient_projection_cooperative_beamforming(features: Mapping[str, Tensor], *, iters: int = 300,
                                                tol: float = 0.0, sigma_armijo: float = 1e-4, beta: float = 0.5,
                                                max_backtracks: int = 60, init: Tensor | None = None,
                                                return_history: bool = False):
    """GP with Armijo steps for cooperative beamforming (ENGNN eqs. 13-15).

    ``features``: ``H`` complex ``(batch, M, K, N)`` (``H[b, m, k] = h_{m,k}``, BS ``m`` -> UE
    ``k``), ``p_max`` ``(batch, M)``, ``sigma`` ``(batch, K)``.  ``init``: starting ``V``
    (default: MRT, ``v_{m,k} = sqrt(P_m/K) h_{m,k}/||h_{m,k}||``), projected onto the constraint.
    Runs ``iters`` iterations (early stop if every sample's rate changes by at most ``tol``,
    relative; ``tol=0`` disables).  Returns ``{"V": (batch, M, K, N)}`` (and the sum-rate history
    ``(T+1, batch)`` in bits/s/Hz if ``return_history``).
    """
    H = features["H"].detach()
    budget = features["p_max"].detach()
    noise_var = features["sigma"].detach().square()
    K = H.shape[2]
    if init is None:
        norms = torch.linalg.vector_norm(H, dim=-1, keepdim=True).clamp_min(torch.finfo(budget.dtype).tiny)
        init = (budget / K).sqrt()[..., None, None] * H / norms
    V = project_per_bs_power(init.detach().to(H.dtype), budget)
    step = 1.0 / (received_power(H).sum(dim=-1) / noise_var.unsqueeze(1)).sum(dim=(-2, -1))
    rate, grad = _value_and_grad(H, V, noise_var)
    history = [rate]
    for _ in range(iters):
        s = 2.0 * step
        accepted = torch.zeros_like(rate, dtype=torch.bool)
        V_next, rate_next = V.clone(), rate.clone()
        with torch.no_grad():
            for _ in range(max_backtracks):
                cand = project_per_bs_power(V + s[:, None, None, None] * grad, budget)
                rate_c = _rate(H, cand, noise_var)
                slope = (grad.conj() * (cand - V)).real.sum(dim=(1, 2, 3))
                ok = (rate_c >= rate + sigma_armijo * slope) & ~accepted
                V_next[ok], rate_next[ok], step = cand[ok], rate_c[ok], torch.where(ok, s, step)
                accepted |= ok
                if bool(accepted.all()):
                    break
                s = torch.where(accepted, s, beta * s)
        V = V_next
        prev = rate
        rate, grad = _value_and_grad(H, V, noise_var)
        history.append(rate)
        if tol > 0 and bool(((rate - prev).abs() <= tol * rate.abs().clamp_min(1.0)).all()):
            break
    out = {"V": V}
    return (out, torch.stack(history)) if return_history else out
