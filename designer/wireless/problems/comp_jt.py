"""CoMP joint transmission to one UE (Zhao, Yang, Liu §2-A): ``h`` ``(batch, B, N, 1)`` → ``v``
``(batch, B, N)``; reference per-BS MRT (optimal)."""

from __future__ import annotations

from pydantic import Field

from ..objectives import sum_rate_comp_jt
from ..problem import Scenario, WirelessProblem
from ..references import mrt_comp_jt
from ..scenarios import sample_comp_jt


class CoMPScenario(Scenario):
    """``B`` BSs ``inter_site_distance`` m apart, one UE (:func:`~designer.wireless.scenarios.sample_comp_jt`)."""

    inter_site_distance: float = Field(500.0, gt=0)
    min_distance: float = Field(10.0, ge=0)
    p_max_dbm: float = 33.0
    noise_dbm: float = -99.0


problem = WirelessProblem(
    "comp_jt", sample_comp_jt, sum_rate_comp_jt, mrt_comp_jt, ("h",), ("v",),
    "Zhao, Yang, Liu §2-A; reference per-BS MRT (optimal)", CoMPScenario, default_sizes={"B": 3, "N": 4})
