"""Interference-channel beamforming with beams in the form of WMMSE's update (ENGNN eqs. 2–6):
the model chooses ``weight`` ``(batch, K)``, ``multiplier`` ``(batch, K)`` and ``power``
``(batch, K)``, decoded into beams; reference WMMSE."""

from __future__ import annotations

from ..objectives import (augment_ic_beamforming, decode_ic_beamforming_structured, ic_pair_beams,
                          imitation_ic_beamforming_structured, sum_rate_ic_beamforming_structured)
from ..problem import WirelessProblem, iterative_baselines
from ..references import wmmse_ic_beamforming_structured
from ..scenarios import sample_ic_beamforming_edge
from .ic_beamforming_node import ENGNN_PRESET, ICScenario

problem = WirelessProblem(
    "ic_beamforming_structured", sample_ic_beamforming_edge, sum_rate_ic_beamforming_structured,
    wmmse_ic_beamforming_structured, ("p_max", "sigma", "H"), ("weight", "multiplier", "power"),
    "ENGNN eqs. (2)-(6), beams in the form of WMMSE's update; reference WMMSE", ICScenario,
    default_sizes={"K": 20, "N": 2}, solvers=iterative_baselines(wmmse_ic_beamforming_structured, None),
    iterative=True, imitation=imitation_ic_beamforming_structured, augment=augment_ic_beamforming,
    decode=decode_ic_beamforming_structured, warm_start=ic_pair_beams, refine_offset=1,
    model_presets={"engnn": ENGNN_PRESET})
