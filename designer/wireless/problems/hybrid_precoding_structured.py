"""MU-MIMO hybrid precoding (Zhao, Yang, Liu eq. 3) through a digital precoder in the optimal
beamformers' form, realised exactly as hybrid (``N_RF >= 2K``;
:mod:`~designer.wireless.hybrid_structured`): ``H`` ``(batch, K, N_r, N_t)`` → ``weight``,
``amplitude`` ``(batch, K)``; reference fully digital WMMSE on the composite channel. ``N_RF``
is a size of the sampler only (as in the plain problem): the precoder is realised on ``2K``
chains, any further ones idle."""

from __future__ import annotations

from ..hybrid_structured import (decode_hybrid_precoding_structured, rzf_equal_power_hybrid_precoding_structured,
                                 sum_rate_hybrid_precoding_structured, wmmse_hybrid_precoding_structured)
from ..objectives import augment_ue_phases
from ..problem import WirelessProblem, iterative_baselines
from ..scenarios import sample_hybrid_precoding
from .hybrid_precoding import HybridScenario

problem = WirelessProblem(
    "hybrid_precoding_structured", sample_hybrid_precoding, sum_rate_hybrid_precoding_structured,
    wmmse_hybrid_precoding_structured, ("H",), ("weight", "amplitude"),
    "Zhao, Yang, Liu eq. (3), MU-MIMO, a digital precoder in the optimal beamformers' form realised "
    "exactly as hybrid; reference fully digital WMMSE on the composite channel", HybridScenario,
    default_sizes={"N_t": 8, "N_RF": 6, "K": 2, "N_r": 2},
    solvers={"rzf_equal_power": rzf_equal_power_hybrid_precoding_structured,
             **iterative_baselines(wmmse_hybrid_precoding_structured, None)},
    iterative=True, augment=augment_ue_phases, decode=decode_hybrid_precoding_structured)
