"""MU-MISO precoding (Zhao, Yang, Liu §2-A): ``H`` ``(batch, K, N)`` → ``V`` ``(batch, K, N)``;
reference WMMSE, alternatives ZF and regularised ZF; a warm start imitates WMMSE's beams, and
augmentation turns each UE's channel by a random phase."""

from __future__ import annotations

from ..objectives import augment_ue_phases, imitation_mu_miso_precoding, sum_rate_mu_miso_precoding
from ..problem import Scenario, WirelessProblem, iterative_baselines
from ..references import (rzf_equal_power_mu_miso_precoding, rzf_mu_miso_precoding, wmmse_mu_miso_precoding,
                          zf_mu_miso_precoding)
from ..scenarios import sample_mu_miso_precoding


class MUMISOScenario(Scenario):
    """i.i.d. Rayleigh channels at ``snr_db`` (:func:`~designer.wireless.scenarios.sample_mu_miso_precoding`)."""

    snr_db: float = 10.0


problem = WirelessProblem(
    "mu_miso_precoding", sample_mu_miso_precoding, sum_rate_mu_miso_precoding, wmmse_mu_miso_precoding,
    ("H",), ("V",), "Zhao, Yang, Liu §2-A; reference WMMSE", MUMISOScenario, default_sizes={"K": 4, "N": 8},
    solvers={"zf": zf_mu_miso_precoding, "rzf": rzf_mu_miso_precoding,
             "rzf_equal_power": rzf_equal_power_mu_miso_precoding,
             **iterative_baselines(wmmse_mu_miso_precoding, "mrt")}, iterative=True,
    imitation=imitation_mu_miso_precoding, augment=augment_ue_phases)
