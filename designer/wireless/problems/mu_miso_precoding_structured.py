"""MU-MISO precoding (Zhao, Yang, Liu §2-A) with precoders in the form of the optimal downlink
beamformers: the model chooses ``weight`` and ``amplitude`` ``(batch, K)``, decoded into ``V``
``(batch, K, N)``; reference WMMSE in the same form; regularised ZF's directions at equal
powers, in the same form, beside it."""

from __future__ import annotations

from ..objectives import (augment_ue_phases, decode_mu_miso_precoding_structured,
                          imitation_mu_miso_precoding_structured, sum_rate_mu_miso_precoding_structured)
from ..problem import WirelessProblem, iterative_baselines
from ..references import rzf_equal_power_mu_miso_precoding_structured, wmmse_mu_miso_precoding_structured
from ..scenarios import sample_mu_miso_precoding
from .mu_miso_precoding import MUMISOScenario

problem = WirelessProblem(
    "mu_miso_precoding_structured", sample_mu_miso_precoding, sum_rate_mu_miso_precoding_structured,
    wmmse_mu_miso_precoding_structured, ("H",), ("weight", "amplitude"),
    "Zhao, Yang, Liu §2-A, precoders in the optimal beamformers' form; reference WMMSE", MUMISOScenario,
    default_sizes={"K": 4, "N": 8},
    solvers={"rzf_equal_power": rzf_equal_power_mu_miso_precoding_structured,
             **iterative_baselines(wmmse_mu_miso_precoding_structured, None)},
    iterative=True, imitation=imitation_mu_miso_precoding_structured, augment=augment_ue_phases,
    decode=decode_mu_miso_precoding_structured)
