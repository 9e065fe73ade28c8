"""MU-MISO hybrid precoding (Zhao, Yang, Liu eq. 3 with one receive antenna): ``H``
``(batch, K, N_t)`` → ``W_RF``, ``W_BB``; reference the best of several hybrid designs."""

from __future__ import annotations

from ..objectives import augment_ue_phases, imitation_hybrid_precoding, sum_rate_hybrid_precoding_miso
from ..problem import WirelessProblem
from ..references import best_hybrid_precoding
from ..scenarios import sample_hybrid_precoding_miso
from .hybrid_precoding import HYBRID_ALTERNATIVES, HybridScenario

problem = WirelessProblem(
    "hybrid_precoding_miso", sample_hybrid_precoding_miso, sum_rate_hybrid_precoding_miso, best_hybrid_precoding,
    ("H",), ("W_RF", "W_BB"), "Zhao, Yang, Liu eq. (3), MU-MISO; reference the best of GLRAM-style, matched-filter "
    "and (N_RF >= 2K) fully digital designs", HybridScenario, default_sizes={"N_t": 8, "N_RF": 6, "K": 2},
    solver_sizes={"N_RF": "n_rf"}, solvers=HYBRID_ALTERNATIVES,
    imitation=imitation_hybrid_precoding, augment=augment_ue_phases)
