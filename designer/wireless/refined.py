"""Learned beams refined inside the model by WMMSE iterations (deep unfolding).

The structured interference-channel model (:func:`~designer.wireless.objectives.structured_ic_beams`)
chooses the parameters of WMMSE's beamformer update; here its beams then pass through
``inner_iterations`` exact WMMSE iterations — problem ``ic_beamforming_refined``, whose option
``inner_iterations`` sets how many (one by default; ``--problem-option inner_iterations=n``) — each
:func:`~designer.wireless.references.wmmse.wmmse_update_ic` (MMSE receivers, weights
``w = 1 + SINR``, the beamformer update with each BS's multiplier found by Newton's method,
:func:`~designer.wireless.references.wmmse.newton_multiplier`: the multiplier WMMSE's bisection
finds, in fewer operations), and the sum rate is taken after them.  The iterations have no
parameters and commute with every permutation of the pairs, so the model stays equivariant;
training runs through them (``gnn-design train --problem ic_beamforming_refined``), so the
network learns beams that the iterations improve most, rather than beams that are best as they
stand.

Conventions as in :mod:`~designer.wireless.objectives`: ``H`` complex ``(batch, K, K, N)``,
``H[b, m, k] = h_{m,k}`` (BS ``m`` -> UE ``k``), rates in bits/s/Hz.
"""

from __future__ import annotations

from typing import Mapping

from torch import Tensor

from .objectives import (
    _need,
    decode_ic_beamforming_structured,
    imitation_ic_beamforming,
    sum_rate_ic_beamforming_node,
)
from ..problem import NotApplicable
from .references.wmmse import wmmse_ic_beamforming_structured, wmmse_update_ic

__all__ = [
    "decode_ic_beamforming_refined",
    "sum_rate_ic_beamforming_refined",
    "imitation_ic_beamforming_refined",
    "wmmse_ic_beamforming_refined",
]


def decode_ic_beamforming_refined(features: Mapping[str, Tensor], actions: Mapping[str, Tensor],
                                  inner_iterations: int = 1) -> dict[str, Tensor]:
    """The beams ``{"v": (batch, K, N)}`` of the structured actions (``weight``, ``multiplier``,
    ``power``, each ``(batch, K)``; :func:`decode_ic_beamforming_structured`) after
    ``inner_iterations`` WMMSE iterations started from them (Shi et al. 2011, Alg. 1),
    differentiable in the actions.  Each iteration keeps every BS within its budget ``p_max`` and
    does not lower the sum rate."""
    H, budget = _need(features, "H", "features"), _need(features, "p_max", "features")
    noise_var = _need(features, "sigma", "features").square()
    v = decode_ic_beamforming_structured(features, actions)["v"]
    for _ in range(inner_iterations):
        v = wmmse_update_ic(H, v, budget, noise_var, multiplier="newton")
    return {"v": v}


def sum_rate_ic_beamforming_refined(features: Mapping[str, Tensor], actions: Mapping[str, Tensor],
                                    inner_iterations: int = 1) -> Tensor:
    """Interference-channel sum rate (ENGNN eq. 4a, bits/s/Hz, ``(batch,)``) of the beams
    :func:`decode_ic_beamforming_refined` builds from structured actions; features as in
    :func:`~designer.wireless.objectives.sum_rate_ic_beamforming_node`."""
    return sum_rate_ic_beamforming_node(features, decode_ic_beamforming_refined(features, actions, inner_iterations))


def imitation_ic_beamforming_refined(features: Mapping[str, Tensor], actions: Mapping[str, Tensor],
                                     target: Mapping[str, Tensor], inner_iterations: int = 1) -> Tensor:
    """:func:`~designer.wireless.objectives.imitation_ic_beamforming` of the refined beams that the
    model's and the reference's structured actions build (:func:`decode_ic_beamforming_refined`):
    the warm start (``--imitate-epochs``) pulls the model's final beams to WMMSE's."""
    return imitation_ic_beamforming(features, decode_ic_beamforming_refined(features, actions, inner_iterations),
                                    decode_ic_beamforming_refined(features, target, inner_iterations))


def wmmse_ic_beamforming_refined(features: Mapping[str, Tensor], iters: int | None = None, inner_iterations: int = 1,
                                 **kwargs) -> dict[str, Tensor]:
    """WMMSE's structured parameters (:func:`~designer.wireless.references.wmmse.wmmse_ic_beamforming_structured`)
    stopped ``inner_iterations`` iterations early, so that, refined by
    :func:`decode_ic_beamforming_refined`, they score WMMSE's ``iters + 1``-th iterate: the
    structured problem's reference.  ``kwargs`` go to
    :func:`~designer.wireless.references.wmmse.wmmse_beamforming`."""
    if iters is None:  # converged: stopping inner_iterations early changes nothing
        return wmmse_ic_beamforming_structured(features, **kwargs)
    if iters < inner_iterations:
        raise NotApplicable(f"iters must be at least {inner_iterations} (the iterations inside the model), got {iters}")
    return wmmse_ic_beamforming_structured(features, iters=iters - inner_iterations, **kwargs)
