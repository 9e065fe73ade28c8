"""Cooperative beamforming (ENGNN eqs. 13–16): ``M`` BSs serve ``K`` UEs jointly; references
WMMSE and gradient projection."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from ..objectives import augment_cooperative_beamforming, edge_beams, sum_rate_cooperative_beamforming
from ..problem import Scenario, WirelessProblem, iterative_baselines
from ..references import gradient_projection_cooperative_beamforming, wmmse_cooperative_beamforming
from ..scenarios import sample_cooperative_beamforming


class CooperativeScenario(Scenario):
    """BSs at least ``min_bs_distance`` m apart in a ``field`` m square, UEs uniform in it or at
    ``ue_distance`` m from a BS (:func:`~designer.wireless.scenarios.sample_cooperative_beamforming`);
    ``channel=umi`` or ``uma``: 3GPP TR 38.901 channels from Sionna at ``fc_ghz``."""

    field: float = Field(2000.0, gt=0)
    min_bs_distance: float = Field(500.0, ge=0)
    ue_distance: Optional[tuple[float, float]] = None
    p_max_dbm: float = 33.0
    noise_dbm: float = -99.0
    ref_power_dbm: float = 33.0
    ref_noise_dbm: float = -99.0
    channel: Literal["simple", "umi", "uma"] = "simple"
    fc_ghz: float = Field(3.5, gt=0)


problem = WirelessProblem(
    "cooperative_beamforming", sample_cooperative_beamforming, sum_rate_cooperative_beamforming,
    wmmse_cooperative_beamforming, ("p_max", "sigma", "H"), ("V",),
    "ENGNN eqs. (13)-(16); references WMMSE and gradient projection", CooperativeScenario,
    default_sizes={"M": 5, "K": 2, "N": 2},
    solvers={"gradient_projection": gradient_projection_cooperative_beamforming,
             **iterative_baselines(wmmse_cooperative_beamforming, "mrt")}, iterative=True,
    augment=augment_cooperative_beamforming, warm_start=edge_beams,
    model_presets={"engnn": {"layers": 2, "hidden": 64}})
