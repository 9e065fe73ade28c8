"""MU-MIMO hybrid precoding through a fully digital precoder in the optimal beamformers' form,
realised exactly as hybrid (problem ``hybrid_precoding_structured``).

With ``N_RF >= 2K`` RF chains every digital precoder ``F`` ``(N_t x K)`` is a hybrid one
(:func:`~designer.wireless.references.hybrid.realise_digital`), so the hybrid problem is the
fully digital one on the composite channel ``C[k] = v_k^H H_k`` once the UEs' analog combiners
``v_k`` are fixed (here the phases of each ``H_k``'s dominant left singular vector, as the
references use: :func:`~designer.wireless.references.hybrid.composite_channel`). The model
chooses a log-weight and an amplitude per UE; the digital precoder follows in the form of
:func:`~designer.wireless.objectives.structured_mu_miso_beams` on ``sqrt(P) C`` (per-stream
SNR ``P/K``, eq. 3a), ``F = sqrt(K) V^T`` (power ``K``, eq. 3b).

Shapes: ``H`` complex ``(batch, K, N_r, N_t)``; ``weight``, ``amplitude`` ``(batch, K)``.
"""

from __future__ import annotations

import math
from typing import Mapping

from torch import Tensor

from .objectives import _need, decode_mu_miso_precoding_structured, sum_rate_mu_miso_precoding_structured
from .references.hybrid import composite_channel, hybrid_actions, realise_digital
from .references.linear import rzf_equal_power_mu_miso_precoding_structured
from .references.wmmse import wmmse_mu_miso_precoding_structured

SNR_DB = 10.0  # P / sigma0^2, Zhao §6 (the default of sum_rate_hybrid_precoding)


def digital_features(features: Mapping[str, Tensor], snr_db: float = SNR_DB) -> tuple[dict[str, Tensor], Tensor]:
    """The MU-MISO precoding features ``{"H": sqrt(P) C}`` ``(batch, K, N_t)`` (unit noise, power
    1) of the composite channel, and the combiners ``(batch, K, N_r)``."""
    C, combiners = composite_channel({"H": _need(features, "H", "features")})
    return {"H": C * 10.0 ** (snr_db / 20.0)}, combiners


def decode_hybrid_precoding_structured(features: Mapping[str, Tensor], actions: Mapping[str, Tensor],
                                       *, snr_db: float = SNR_DB) -> dict[str, Tensor]:
    """The hybrid precoder of the structured actions: ``W_RF`` ``(batch, N_t, 2K)``, ``W_BB``
    ``(batch, 2K, K)``, ``V_RF`` ``(batch, K, N_r, K)`` (the plain problem's actions; any
    further RF chains would be idle)."""
    digital, combiners = digital_features(features, snr_db)
    V = decode_mu_miso_precoding_structured(digital, actions)["V"]  # (batch, K, N_t), power 1
    K = V.shape[1]
    return hybrid_actions(*realise_digital(math.sqrt(K) * V.transpose(-1, -2), 2 * K), combiners)


def sum_rate_hybrid_precoding_structured(features: Mapping[str, Tensor], actions: Mapping[str, Tensor],
                                         *, snr_db: float = SNR_DB) -> Tensor:
    """Eq. (3a) of :func:`decode_hybrid_precoding_structured`'s precoder, bits/s/Hz ``(batch,)``:
    computed on the digital precoder, which the realisation reproduces exactly (a test checks
    it), so no gradient passes through the realisation's phases."""
    return sum_rate_mu_miso_precoding_structured(digital_features(features, snr_db)[0], actions)


def wmmse_hybrid_precoding_structured(features: Mapping[str, Tensor], *, snr_db: float = SNR_DB,
                                      **options) -> dict[str, Tensor]:
    """Fully digital WMMSE on the composite channel in the structured form
    (:func:`~designer.wireless.references.wmmse.wmmse_mu_miso_precoding_structured`, ``options``
    go to it): the digital WMMSE design of the plain problem's reference, one iteration on."""
    return wmmse_mu_miso_precoding_structured(digital_features(features, snr_db)[0], **options)


def rzf_equal_power_hybrid_precoding_structured(features: Mapping[str, Tensor], *,
                                                snr_db: float = SNR_DB) -> dict[str, Tensor]:
    """Regularised ZF's directions on the composite channel at equal powers, in the structured form
    (:func:`~designer.wireless.references.linear.rzf_equal_power_mu_miso_precoding_structured`)."""
    return rzf_equal_power_mu_miso_precoding_structured(digital_features(features, snr_db)[0])
