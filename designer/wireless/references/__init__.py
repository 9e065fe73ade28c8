"""Numerical reference algorithms (batched torch, CPU or GPU; device/dtype follow the inputs).

One module per algorithm family:

* :mod:`.wmmse` — WMMSE (Shi et al. 2011) for power control (MCMU, IBC, D2D) and beamforming
  (interference channel, cooperative, MU-MISO) under per-BS budgets.
* :mod:`.gradient_projection` — projected gradient ascent with Armijo steps (cooperative).
* :mod:`.linear` — ZF / regularised ZF (MU-MISO) and the optimal per-BS MRT (CoMP-JT).
* :mod:`.hybrid` — hybrid precoding: GLRAM-style and matched-filter analog parts with ZF or WMMSE
  baseband, fully digital precoders realised exactly with ``N_RF >= 2K``, and the best of them.

Every problem-level reference takes the feature dict of the matching scenario and returns an
action dict in the layouts of :mod:`designer.wireless.objectives`.
"""

from .gradient_projection import gradient_projection_cooperative_beamforming, project_per_bs_power
from .hybrid import (
    ascent_hybrid_precoding,
    best_hybrid_precoding,
    composite_channel,
    digital_wmmse_hybrid_precoding,
    digital_zf_hybrid_precoding,
    glram_hybrid_precoding,
    hybrid_actions,
    mf_zf_hybrid_precoding,
    phase_extract,
    realise_digital,
)
from .linear import (mrt_comp_jt, rzf_equal_power_mu_miso_precoding, rzf_equal_power_mu_miso_precoding_structured,
                     rzf_mu_miso_precoding, zf_mu_miso_precoding)
from .wmmse import (
    hermitian_eigh,
    min_power_multiplier,
    multiplier_solver,
    newton_multiplier,
    wmmse_beamforming,
    wmmse_update,
    wmmse_update_ic,
    wmmse_cooperative_beamforming,
    wmmse_d2d_link_scheduling,
    wmmse_ibc_power_allocation,
    wmmse_ic,
    wmmse_ic_beamforming,
    wmmse_ic_beamforming_edge,
    wmmse_ic_beamforming_node,
    wmmse_ic_beamforming_structured,
    wmmse_mcmu_power_allocation,
    wmmse_mu_miso_precoding,
    wmmse_mu_miso_precoding_structured,
    wmmse_power_control,
)

__all__ = [
    "gradient_projection_cooperative_beamforming",
    "project_per_bs_power",
    "best_hybrid_precoding",
    "digital_wmmse_hybrid_precoding",
    "digital_zf_hybrid_precoding",
    "glram_hybrid_precoding",
    "mf_zf_hybrid_precoding",
    "phase_extract",
    "composite_channel",
    "ascent_hybrid_precoding",
    "hybrid_actions",
    "realise_digital",
    "mrt_comp_jt",
    "rzf_mu_miso_precoding",
    "rzf_equal_power_mu_miso_precoding",
    "rzf_equal_power_mu_miso_precoding_structured",
    "zf_mu_miso_precoding",
    "hermitian_eigh",
    "min_power_multiplier",
    "multiplier_solver",
    "newton_multiplier",
    "wmmse_beamforming",
    "wmmse_update",
    "wmmse_update_ic",
    "wmmse_cooperative_beamforming",
    "wmmse_d2d_link_scheduling",
    "wmmse_ibc_power_allocation",
    "wmmse_ic",
    "wmmse_ic_beamforming",
    "wmmse_ic_beamforming_edge",
    "wmmse_ic_beamforming_node",
    "wmmse_ic_beamforming_structured",
    "wmmse_mcmu_power_allocation",
    "wmmse_mu_miso_precoding",
    "wmmse_mu_miso_precoding_structured",
    "wmmse_power_control",
]
