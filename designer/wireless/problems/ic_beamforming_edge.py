"""Interference-channel beamforming, beams on the BS–UE edges (ENGNN eqs. 2–6): ``p_max``,
``sigma`` ``(batch, K)``, ``H`` ``(batch, K, K, N)`` → ``V`` ``(batch, K, K, N)`` (the pairs'
diagonal used); reference WMMSE."""

from __future__ import annotations

from ..objectives import augment_ic_beamforming, ic_pair_beams, imitation_ic_beamforming, sum_rate_ic_beamforming_edge
from ..problem import WirelessProblem, iterative_baselines
from ..references import wmmse_ic_beamforming_edge
from ..scenarios import sample_ic_beamforming_edge
from .ic_beamforming_node import ENGNN_PRESET, ICScenario

problem = WirelessProblem(
    "ic_beamforming_edge", sample_ic_beamforming_edge, sum_rate_ic_beamforming_edge, wmmse_ic_beamforming_edge,
    ("p_max", "sigma", "H"), ("V",), "ENGNN eqs. (2)-(6); reference WMMSE", ICScenario, default_sizes={"K": 20, "N": 2},
    solvers=iterative_baselines(wmmse_ic_beamforming_edge, "mrt"), iterative=True,
    imitation=imitation_ic_beamforming, augment=augment_ic_beamforming, warm_start=ic_pair_beams,
    model_presets={"engnn": ENGNN_PRESET})
