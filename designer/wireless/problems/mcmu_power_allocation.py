"""MCMU power allocation (Zhao, Yang, Liu §3-B, eq. 1): ``H`` ``(batch, M, K, M, K)`` → ``p``
``(batch, M, K)``; reference WMMSE."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..objectives import sum_rate_mcmu_power_allocation
from ..problem import Scenario, WirelessProblem, iterative_baselines
from ..references import wmmse_mcmu_power_allocation
from ..scenarios import sample_mcmu_power_allocation


class MCMUScenario(Scenario):
    """Cells of radius ``radius`` m on a grid, UEs in the annulus ``min_distance``..``radius``,
    UMi path loss at ``fc_ghz`` with log-normal shadowing, ``N_t`` antennas and ZF or MRT
    beams per BS (:func:`~designer.wireless.scenarios.sample_mcmu_power_allocation`);
    ``channel=umi`` or ``uma``: 3GPP TR 38.901 channels from Sionna instead."""

    N_t: int = Field(8, ge=1)
    radius: float = Field(60.0, gt=0)
    min_distance: float = Field(10.0, ge=0)
    fc_ghz: float = Field(5.0, gt=0)
    shadowing_db: float = Field(8.0, ge=0)
    p_max_dbm: float = 30.0
    noise_dbm: float = -95.0
    beamformer: Literal["zf", "mrt"] = "zf"
    channel: Literal["simple", "umi", "uma"] = "simple"


problem = WirelessProblem(
    "mcmu_power_allocation", sample_mcmu_power_allocation, sum_rate_mcmu_power_allocation,
    wmmse_mcmu_power_allocation, ("H",), ("p",), "Zhao, Yang, Liu eq. (1); reference WMMSE", MCMUScenario,
    default_sizes={"M": 4, "K": 5}, solvers=iterative_baselines(wmmse_mcmu_power_allocation, "full_power"),
    iterative=True)
