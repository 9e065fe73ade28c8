"""Wireless problems: scenarios (channel generators), differentiable sum-rate objectives and
numerical references, batched in torch on CPU or GPU.

Each problem is a module of :mod:`designer.wireless.problems` implementing the problem
contract of :mod:`designer.problem`; :data:`PROBLEMS` maps their registered names to them::

    import torch
    from designer.wireless import PROBLEMS
    prob = PROBLEMS["mcmu_power_allocation"]
    sizes = {"M": 4, "K": 5}
    feats = prob.sample(256, sizes=sizes, generator=torch.Generator().manual_seed(0))
    rate = prob.objective(feats, prob.reference(feats, sizes=sizes))   # (256,) bits/s/Hz

Conventions (batch first, one axis per set, complex dtypes, rates in bits/s/Hz) are documented
in ``docs/wireless.md`` and in each function's docstring.  This package imports only torch, pydantic,
math and the standard library.
"""

from __future__ import annotations

from . import objectives, references, refined, scenarios
from .problem import Scenario, WirelessProblem
from .problems import SHIPPED as PROBLEMS
from .objectives import (
    power_control_sum_rate,
    received_power,
    sinr_rates,
    sum_rate_comp_jt,
    sum_rate_cooperative_beamforming,
    sum_rate_d2d_link_scheduling,
    sum_rate_hybrid_precoding,
    sum_rate_hybrid_precoding_miso,
    sum_rate_ibc_power_allocation,
    sum_rate_ic_beamforming_edge,
    sum_rate_ic_beamforming_node,
    sum_rate_ic_beamforming_structured,
    sum_rate_mcmu_power_allocation,
    sum_rate_mu_miso_precoding,
)
from .references import (
    glram_hybrid_precoding,
    gradient_projection_cooperative_beamforming,
    mrt_comp_jt,
    rzf_mu_miso_precoding,
    wmmse_cooperative_beamforming,
    wmmse_d2d_link_scheduling,
    wmmse_ibc_power_allocation,
    wmmse_ic_beamforming_edge,
    wmmse_ic_beamforming_node,
    wmmse_ic_beamforming_structured,
    wmmse_mcmu_power_allocation,
    wmmse_mu_miso_precoding,
    zf_mu_miso_precoding,
)
from .refined import (
    sum_rate_ic_beamforming_refined,
    wmmse_ic_beamforming_refined,
)
from .scenarios import (
    sample_comp_jt,
    sample_cooperative_beamforming,
    sample_d2d_link_scheduling,
    sample_hybrid_precoding,
    sample_hybrid_precoding_miso,
    sample_ibc_power_allocation,
    sample_ic_beamforming_edge,
    sample_ic_beamforming_node,
    sample_mcmu_power_allocation,
    sample_mu_miso_precoding,
)

__all__ = [
    "PROBLEMS",
    "Scenario",
    "WirelessProblem",
    "objectives",
    "references",
    "refined",
    "scenarios",
    "sinr_rates",
    "received_power",
    "power_control_sum_rate",
    "sample_comp_jt",
    "sample_cooperative_beamforming",
    "sample_d2d_link_scheduling",
    "sample_hybrid_precoding",
    "sample_hybrid_precoding_miso",
    "sample_ibc_power_allocation",
    "sample_ic_beamforming_edge",
    "sample_ic_beamforming_node",
    "sample_mcmu_power_allocation",
    "sample_mu_miso_precoding",
    "sum_rate_comp_jt",
    "sum_rate_cooperative_beamforming",
    "sum_rate_d2d_link_scheduling",
    "sum_rate_hybrid_precoding",
    "sum_rate_hybrid_precoding_miso",
    "sum_rate_ibc_power_allocation",
    "sum_rate_ic_beamforming_edge",
    "sum_rate_ic_beamforming_node",
    "sum_rate_ic_beamforming_refined",
    "sum_rate_ic_beamforming_structured",
    "sum_rate_mcmu_power_allocation",
    "sum_rate_mu_miso_precoding",
    "glram_hybrid_precoding",
    "gradient_projection_cooperative_beamforming",
    "mrt_comp_jt",
    "rzf_mu_miso_precoding",
    "zf_mu_miso_precoding",
    "wmmse_cooperative_beamforming",
    "wmmse_d2d_link_scheduling",
    "wmmse_ibc_power_allocation",
    "wmmse_ic_beamforming_edge",
    "wmmse_ic_beamforming_node",
    "wmmse_ic_beamforming_refined",
    "wmmse_ic_beamforming_structured",
    "wmmse_mcmu_power_allocation",
    "wmmse_mu_miso_precoding",
]
