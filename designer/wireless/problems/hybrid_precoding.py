"""MU-MIMO hybrid precoding (Zhao, Yang, Liu eq. 3): ``H`` ``(batch, K, N_r, N_t)`` →
``W_RF``, ``W_BB``, ``V_RF``; reference the best per sample of several hybrid designs
(:func:`~designer.wireless.references.hybrid.best_hybrid_precoding`), alternatives each design
alone; every one takes the number of RF chains from the sizes it is called with."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..objectives import augment_ue_phases, imitation_hybrid_precoding, sum_rate_hybrid_precoding
from ..problem import Scenario, WirelessProblem
from ..references import (best_hybrid_precoding, digital_wmmse_hybrid_precoding, digital_zf_hybrid_precoding,
                          glram_hybrid_precoding, mf_zf_hybrid_precoding)
from ..scenarios import sample_hybrid_precoding


class HybridScenario(Scenario):
    """Saleh–Valenzuela channels: ``n_clusters`` clusters of ``n_rays`` rays with a Laplacian or
    Gaussian angular spread (:func:`~designer.wireless.scenarios.sample_hybrid_precoding`)."""

    n_clusters: int = Field(8, ge=1)
    n_rays: int = Field(10, ge=1)
    angular_spread_deg: float = Field(10.0, ge=0)
    spread: Literal["laplacian", "gaussian"] = "laplacian"


HYBRID_ALTERNATIVES = {"glram": glram_hybrid_precoding, "mf_zf": mf_zf_hybrid_precoding,
                       "digital_zf": digital_zf_hybrid_precoding, "digital_wmmse": digital_wmmse_hybrid_precoding}
"""The hybrid designs alone (``digital_*`` need ``N_RF >= 2K``; at fewer RF chains they do not apply)."""

problem = WirelessProblem(
    "hybrid_precoding", sample_hybrid_precoding, sum_rate_hybrid_precoding, best_hybrid_precoding,
    ("H",), ("W_RF", "W_BB", "V_RF"), "Zhao, Yang, Liu eq. (3), MU-MIMO; reference the best of GLRAM-style, "
    "matched-filter and (N_RF >= 2K) fully digital designs", HybridScenario,
    default_sizes={"N_t": 8, "N_RF": 6, "K": 2, "N_r": 2}, solver_sizes={"N_RF": "n_rf"}, solvers=HYBRID_ALTERNATIVES,
    imitation=imitation_hybrid_precoding, augment=augment_ue_phases)
