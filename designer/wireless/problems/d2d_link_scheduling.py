"""D2D link scheduling / power control (Zhao, Yang, Liu §2-A): ``H`` ``(batch, K, K)`` →
``rho`` ``(batch, K)``; reference scalar WMMSE."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from ..objectives import sum_rate_d2d_link_scheduling
from ..problem import Scenario, WirelessProblem, iterative_baselines
from ..references import wmmse_d2d_link_scheduling
from ..scenarios import sample_d2d_link_scheduling


class D2DScenario(Scenario):
    """``K`` D2D pairs in a ``field`` m square (or, with ``density``, pairs per km², a square
    that grows with ``K``), pair lengths in ``pair_distance`` m, two-slope path loss
    (:func:`~designer.wireless.scenarios.sample_d2d_link_scheduling`)."""

    field: float = Field(500.0, gt=0)
    density: Optional[float] = Field(None, gt=0)
    pair_distance: tuple[float, float] = (2.0, 65.0)
    fc_ghz: float = Field(2.4, gt=0)
    antenna_height: float = Field(1.5, gt=0)
    tx_power_dbm: float = 40.0
    noise_dbm_per_hz: float = -169.0
    bandwidth_hz: float = Field(5e6, gt=0)
    fading: bool = True


problem = WirelessProblem(
    "d2d_link_scheduling", sample_d2d_link_scheduling, sum_rate_d2d_link_scheduling, wmmse_d2d_link_scheduling,
    ("H",), ("rho",), "Zhao, Yang, Liu §2-A; reference scalar WMMSE", D2DScenario, default_sizes={"K": 50},
    solvers=iterative_baselines(wmmse_d2d_link_scheduling, "full_power"), iterative=True)
