"""Interfering broadcast channel power allocation (ENGNN eqs. 7–12): ``p_max`` ``(batch, B)``,
``sigma`` ``(batch, B, Q)``, ``G`` → ``P``; reference WMMSE."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..objectives import sum_rate_ibc_power_allocation
from ..problem import Scenario, WirelessProblem, iterative_baselines
from ..references import wmmse_ibc_power_allocation
from ..scenarios import sample_ibc_power_allocation


class IBCScenario(Scenario):
    """``B`` BSs with ``N`` antennas at least ``min_bs_distance`` m apart in a ``field`` m square,
    ``Q`` UEs each at ``ue_distance`` m (:func:`~designer.wireless.scenarios.sample_ibc_power_allocation`); ``channel=umi`` or ``uma``:
    3GPP TR 38.901 channels from Sionna at ``fc_ghz``."""

    N: int = Field(16, ge=1)
    field: float = Field(2000.0, gt=0)
    min_bs_distance: float = Field(500.0, ge=0)
    ue_distance: tuple[float, float] = (50.0, 250.0)
    p_max_dbm: float = 33.0
    noise_dbm: float = -99.0
    ref_noise_dbm: float = -99.0
    beamformer: Literal["zf", "mrt"] = "zf"
    channel: Literal["simple", "umi", "uma"] = "simple"
    fc_ghz: float = Field(3.5, gt=0)


problem = WirelessProblem(
    "ibc_power_allocation", sample_ibc_power_allocation, sum_rate_ibc_power_allocation, wmmse_ibc_power_allocation,
    ("p_max", "sigma", "G"), ("P",), "ENGNN eqs. (7)-(12); reference WMMSE", IBCScenario,
    default_sizes={"B": 5, "Q": 2}, solvers=iterative_baselines(wmmse_ibc_power_allocation, "full_power"),
    iterative=True,
    model_presets={"engnn": {"layers": 1, "hidden": 32}})
