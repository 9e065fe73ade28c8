"""Interference-channel beamforming, beams on the UE vertices (ENGNN eqs. 2–6): ``p_max``,
``sigma`` ``(batch, K)``, ``H`` ``(batch, K, K, N)`` → ``v`` ``(batch, K, N)``; reference WMMSE."""

from __future__ import annotations

from typing import Literal, Union

from pydantic import Field

from ..objectives import augment_ic_beamforming, ic_pair_beams, imitation_ic_beamforming, sum_rate_ic_beamforming_node
from ..problem import Scenario, WirelessProblem, iterative_baselines
from ..references import wmmse_ic_beamforming_node
from ..scenarios import sample_ic_beamforming_node

#: ENGNN's own widths for the interference channel (``--model-option preset=engnn``).
ENGNN_PRESET = {"layers": 1, "hidden": 8}


class ICScenario(Scenario):
    """``K`` BS–UE pairs: BSs uniform in a ``field`` m square (a range draws each sample's side),
    UEs at ``pair_distance`` m from their BS; powers and noise in units of the reference levels
    (:func:`~designer.wireless.scenarios.sample_ic_beamforming_node`); ``channel=umi`` or
    ``uma``: 3GPP TR 38.901 channels from Sionna at ``fc_ghz`` instead of the ENGNN path loss."""

    field: Union[float, tuple[float, float]] = 2000.0
    pair_distance: tuple[float, float] = (50.0, 250.0)
    p_max_dbm: float = 33.0
    noise_dbm: float = -99.0
    ref_power_dbm: float = 33.0
    ref_noise_dbm: float = -99.0
    channel: Literal["simple", "umi", "uma"] = "simple"
    fc_ghz: float = Field(3.5, gt=0)


problem = WirelessProblem(
    "ic_beamforming_node", sample_ic_beamforming_node, sum_rate_ic_beamforming_node, wmmse_ic_beamforming_node,
    ("p_max", "sigma", "H"), ("v",), "ENGNN eqs. (2)-(6); reference WMMSE", ICScenario, default_sizes={"K": 20, "N": 2},
    solvers=iterative_baselines(wmmse_ic_beamforming_node, "mrt"), iterative=True,
    imitation=imitation_ic_beamforming, augment=augment_ic_beamforming, warm_start=ic_pair_beams,
    model_presets={"engnn": ENGNN_PRESET})
