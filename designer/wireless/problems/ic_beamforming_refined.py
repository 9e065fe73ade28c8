"""The structured interference-channel model with ``inner_iterations`` exact WMMSE iterations
inside it (deep unfolding, :mod:`designer.wireless.refined`): spec
``ic_beamforming_structured``, ``--problem ic_beamforming_refined --problem-option
inner_iterations=N``. Reported as a hybrid of network and reference iterations."""

from __future__ import annotations

from functools import lru_cache, partial

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ..objectives import augment_ic_beamforming
from ..problem import WirelessProblem, iterative_baselines
from ..refined import (decode_ic_beamforming_refined, imitation_ic_beamforming_refined,
                       sum_rate_ic_beamforming_refined, wmmse_ic_beamforming_refined)
from ..scenarios import sample_ic_beamforming_edge
from .ic_beamforming_node import ENGNN_PRESET, ICScenario


class RefinedOptions(BaseModel):
    """The WMMSE iterations the model's beams pass through inside the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inner_iterations: StrictInt = Field(1, ge=1, le=1000)


@lru_cache(maxsize=None)
def refined(options: RefinedOptions) -> WirelessProblem:
    """The refined problem with ``options.inner_iterations`` WMMSE iterations inside the model."""
    n = {"inner_iterations": options.inner_iterations}
    return WirelessProblem(
        "ic_beamforming_refined", sample_ic_beamforming_edge, partial(sum_rate_ic_beamforming_refined, **n),
        partial(wmmse_ic_beamforming_refined, **n), ("p_max", "sigma", "H"), ("weight", "multiplier", "power"),
        f"ENGNN eqs. (2)-(6), the structured beams refined by {options.inner_iterations} WMMSE "
        f"iteration{'s' * (options.inner_iterations > 1)} inside the model; reference WMMSE", ICScenario,
        default_sizes={"K": 20, "N": 2},
        solvers=iterative_baselines(partial(wmmse_ic_beamforming_refined, **n), None), iterative=True,
        reference_iterations_inside=options.inner_iterations,
        imitation=partial(imitation_ic_beamforming_refined, **n),
        augment=augment_ic_beamforming,
        decode=partial(decode_ic_beamforming_refined, **n), model_presets={"engnn": ENGNN_PRESET},
        Options=RefinedOptions, options=options, variant=refined)


problem = refined(RefinedOptions())
