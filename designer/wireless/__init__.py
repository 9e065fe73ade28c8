"""Wireless problems: scenarios (channel generators), differentiable sum-rate objectives and
numerical references, batched in torch on CPU or GPU.

Look problems up by their spec name in :data:`PROBLEMS`::

    from designer.wireless import PROBLEMS
    prob = PROBLEMS["mcmu_power_allocation"]
    feats = prob.sample(256, seed=0)
    rate = prob.sum_rate(feats, prob.reference(feats))   # (256,) bits/s/Hz

Conventions (batch first, one axis per set, complex dtypes, rates in bits/s/Hz) are documented
in ``docs/wireless.md`` and in each function's docstring.  This package imports only torch, math
and the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Callable, Mapping

from torch import Generator, Tensor

from . import objectives, references, refined, scenarios
from .objectives import (
    augment_cooperative_beamforming,
    augment_hybrid_precoding,
    augment_ic_beamforming,
    decode_ic_beamforming_structured,
    edge_beams,
    ic_pair_beams,
    imitation_hybrid_precoding,
    imitation_ic_beamforming,
    imitation_ic_beamforming_structured,
    power_control_sum_rate,
    received_power,
    sinr_rates,
    sum_rate_comp_jt,
    sum_rate_cooperative_beamforming,
    sum_rate_d2d_link_scheduling,
    sum_rate_hybrid_precoding,
    sum_rate_hybrid_precoding_miso,
    sum_rate_ibc_power_allocation,
    sum_rate_ic_beamforming_edge,
    sum_rate_ic_beamforming_node,
    sum_rate_ic_beamforming_structured,
    sum_rate_mcmu_power_allocation,
    sum_rate_mu_miso_precoding,
)
from .references import (
    glram_hybrid_precoding,
    gradient_projection_cooperative_beamforming,
    mrt_comp_jt,
    rzf_mu_miso_precoding,
    wmmse_cooperative_beamforming,
    wmmse_d2d_link_scheduling,
    wmmse_ibc_power_allocation,
    wmmse_ic_beamforming_edge,
    wmmse_ic_beamforming_node,
    wmmse_ic_beamforming_structured,
    wmmse_mcmu_power_allocation,
    wmmse_mu_miso_precoding,
    zf_mu_miso_precoding,
)
from .refined import (
    decode_ic_beamforming_refined,
    imitation_ic_beamforming_refined,
    sum_rate_ic_beamforming_refined,
    wmmse_ic_beamforming_refined,
)
from .scenarios import (
    sample_comp_jt,
    sample_cooperative_beamforming,
    sample_d2d_link_scheduling,
    sample_hybrid_precoding,
    sample_hybrid_precoding_miso,
    sample_ibc_power_allocation,
    sample_ic_beamforming_edge,
    sample_ic_beamforming_node,
    sample_mcmu_power_allocation,
    sample_mu_miso_precoding,
)

Features = Mapping[str, Tensor]
Actions = Mapping[str, Tensor]


@dataclass(frozen=True)
class Problem:
    """One wireless problem: how to sample it, score it and solve it numerically.

    ``sample(batch, *, generator=None, seed=None, device=None, dtype=torch.float32, **sizes)``
    returns the feature dict; ``sum_rate(features, actions)`` the per-sample sum rate
    ``(batch,)`` in bits/s/Hz; ``reference(features)`` the numerical reference's action dict.
    ``features`` / ``actions`` list the dict keys; ``source`` cites the formulation;
    ``alternatives`` names further references the papers compare with (same signature);
    ``imitation(features, actions, target)``, where defined, is a per-sample loss ``(batch,)``
    of actions against the reference's, 0 when they agree in everything the sum rate depends on
    (``gnn-design train --imitate-epochs``: a supervised warm start); ``augment(features,
    generator)``, where defined, a random transform of the features that leaves every action's
    sum rate and the reference's solution unchanged (``gnn-design train --augment``);
    ``decode(features, actions)``, where defined, the physical actions (beams) that a model's
    actions stand for (``gnn-design evaluate`` times the model with it); ``warm_start(features,
    beams)``, where defined, the reference's starting point (its ``init``) made from a model's
    physical actions (``gnn-design evaluate --refine``: the model refined by the reference);
    ``refine_offset``, the iterations that scoring the reference's actions adds to its ``iters``
    (the structured form closes with one more update), which ``--refine T`` subtracts so that
    the model's beams get exactly ``T``.
    """

    name: str
    sample: Callable[..., dict[str, Tensor]]
    sum_rate: Callable[[Features, Actions], Tensor]
    reference: Callable[[Features], dict[str, Tensor]]
    features: tuple[str, ...]
    actions: tuple[str, ...]
    source: str
    alternatives: Mapping[str, Callable[[Features], dict[str, Tensor]]] = field(default_factory=dict)
    imitation: Callable[[Features, Actions, Actions], Tensor] | None = None
    augment: Callable[[Features, Generator], dict[str, Tensor]] | None = None
    decode: Callable[[Features, Actions], dict[str, Tensor]] | None = None
    warm_start: Callable[[Features, Actions], Tensor] | None = None
    refine_offset: int = 0


INNER_ITERATIONS = (1, 2, 3, 5)  # the registered refined problems' WMMSE iterations inside the model
_REFINED_NAME = re.compile(r"ic_beamforming_refined([2-9]|[1-9][0-9]+)")


@lru_cache(maxsize=None)
def refined_problem(inner_iterations: int) -> Problem:
    """``ic_beamforming_refined`` (one WMMSE iteration inside the model), or
    ``ic_beamforming_refined<n>`` (``n`` iterations; :data:`INNER_ITERATIONS` are registered in
    :data:`PROBLEMS`, any ``n >= 2`` is found by :func:`problem_for`)."""
    if isinstance(inner_iterations, bool) or not isinstance(inner_iterations, int) or inner_iterations < 1:
        raise ValueError(f"a refined problem has at least one WMMSE iteration inside the model, "
                         f"got {inner_iterations!r}")
    n = {"inner_iterations": inner_iterations}
    return Problem(f"ic_beamforming_refined{'' if inner_iterations == 1 else inner_iterations}",
                   sample_ic_beamforming_edge, partial(sum_rate_ic_beamforming_refined, **n),
                   partial(wmmse_ic_beamforming_refined, **n), ("p_max", "sigma", "H"),
                   ("weight", "multiplier", "power"),
                   f"ENGNN eqs. (2)-(6), the structured beams refined by {inner_iterations} WMMSE "
                   f"iteration{'s' * (inner_iterations > 1)} inside the model; reference WMMSE",
                   imitation=partial(imitation_ic_beamforming_refined, **n), augment=augment_ic_beamforming,
                   decode=partial(decode_ic_beamforming_refined, **n))


_PROBLEM_LIST = [
    Problem("mcmu_power_allocation", sample_mcmu_power_allocation, sum_rate_mcmu_power_allocation,
            wmmse_mcmu_power_allocation, ("H",), ("p",), "Zhao, Yang, Liu eq. (1); reference WMMSE"),
    Problem("hybrid_precoding", sample_hybrid_precoding, sum_rate_hybrid_precoding,
            glram_hybrid_precoding, ("H",), ("W_RF", "W_BB", "V_RF"),
            "Zhao, Yang, Liu eq. (3), MU-MIMO; reference GLRAM-style (Song, Sun, Yang 2016)",
            imitation=imitation_hybrid_precoding, augment=augment_hybrid_precoding),
    Problem("hybrid_precoding_miso", sample_hybrid_precoding_miso, sum_rate_hybrid_precoding_miso,
            glram_hybrid_precoding, ("H",), ("W_RF", "W_BB"),
            "Zhao, Yang, Liu eq. (3), MU-MISO; reference GLRAM-style (Song, Sun, Yang 2016)",
            imitation=imitation_hybrid_precoding, augment=augment_hybrid_precoding),
    Problem("ic_beamforming_edge", sample_ic_beamforming_edge, sum_rate_ic_beamforming_edge,
            wmmse_ic_beamforming_edge, ("p_max", "sigma", "H"), ("V",), "ENGNN eqs. (2)-(6); reference WMMSE",
            imitation=imitation_ic_beamforming, augment=augment_ic_beamforming, warm_start=ic_pair_beams),
    Problem("ic_beamforming_node", sample_ic_beamforming_node, sum_rate_ic_beamforming_node,
            wmmse_ic_beamforming_node, ("p_max", "sigma", "H"), ("v",), "ENGNN eqs. (2)-(6); reference WMMSE",
            imitation=imitation_ic_beamforming, augment=augment_ic_beamforming, warm_start=ic_pair_beams),
    Problem("ic_beamforming_structured", sample_ic_beamforming_edge, sum_rate_ic_beamforming_structured,
            wmmse_ic_beamforming_structured, ("p_max", "sigma", "H"), ("weight", "multiplier", "power"),
            "ENGNN eqs. (2)-(6), beams in the form of WMMSE's update; reference WMMSE",
            imitation=imitation_ic_beamforming_structured, augment=augment_ic_beamforming,
            decode=decode_ic_beamforming_structured, warm_start=ic_pair_beams, refine_offset=1),
    *[refined_problem(n) for n in INNER_ITERATIONS],
    Problem("ibc_power_allocation", sample_ibc_power_allocation, sum_rate_ibc_power_allocation,
            wmmse_ibc_power_allocation, ("p_max", "sigma", "G"), ("P",), "ENGNN eqs. (7)-(12); reference WMMSE"),
    Problem("cooperative_beamforming", sample_cooperative_beamforming, sum_rate_cooperative_beamforming,
            wmmse_cooperative_beamforming, ("p_max", "sigma", "H"), ("V",),
            "ENGNN eqs. (13)-(16); references WMMSE and gradient projection",
            {"gradient_projection": gradient_projection_cooperative_beamforming},
            augment=augment_cooperative_beamforming, warm_start=edge_beams),
    Problem("d2d_link_scheduling", sample_d2d_link_scheduling, sum_rate_d2d_link_scheduling,
            wmmse_d2d_link_scheduling, ("H",), ("rho",), "Zhao, Yang, Liu §2-A; reference scalar WMMSE"),
    Problem("comp_jt", sample_comp_jt, sum_rate_comp_jt, mrt_comp_jt, ("h",), ("v",),
            "Zhao, Yang, Liu §2-A; reference per-BS MRT (optimal)"),
    Problem("mu_miso_precoding", sample_mu_miso_precoding, sum_rate_mu_miso_precoding,
            wmmse_mu_miso_precoding, ("H",), ("V",), "Zhao, Yang, Liu §2-A; reference WMMSE",
            {"zf": zf_mu_miso_precoding, "rzf": rzf_mu_miso_precoding}),
]

PROBLEMS: dict[str, Problem] = {p.name: p for p in _PROBLEM_LIST}
REFINED_PROBLEMS = tuple(name for name in PROBLEMS if name.startswith("ic_beamforming_refined"))


def inner_iterations(name: str) -> int | None:
    """The WMMSE iterations inside the model of refined problem ``name``
    (``ic_beamforming_refined``: 1, ``ic_beamforming_refined<n>``: ``n >= 2``); None for any other name."""
    if name == "ic_beamforming_refined":
        return 1
    match = _REFINED_NAME.fullmatch(name)
    return None if match is None else int(match[1])


def problem_for(name: str) -> Problem:
    """The problem called ``name``: one of :data:`PROBLEMS`, or ``ic_beamforming_refined<n>`` for
    any ``n >= 2`` WMMSE iterations inside the model (:func:`refined_problem`; e.g. a model
    trained with three, evaluated with eight)."""
    if name in PROBLEMS:
        return PROBLEMS[name]
    inner = inner_iterations(name)
    if inner is not None:
        return refined_problem(inner)
    raise ValueError(f"unknown problem {name!r}; known: {', '.join(sorted(PROBLEMS))}, "
                     f"and ic_beamforming_refined<n> for any n >= 2 WMMSE iterations inside the model")


__all__ = [
    "PROBLEMS",
    "REFINED_PROBLEMS",
    "INNER_ITERATIONS",
    "problem_for",
    "inner_iterations",
    "refined_problem",
    "Problem",
    "objectives",
    "references",
    "refined",
    "scenarios",
    "sinr_rates",
    "received_power",
    "power_control_sum_rate",
    "sample_comp_jt",
    "sample_cooperative_beamforming",
    "sample_d2d_link_scheduling",
    "sample_hybrid_precoding",
    "sample_hybrid_precoding_miso",
    "sample_ibc_power_allocation",
    "sample_ic_beamforming_edge",
    "sample_ic_beamforming_node",
    "sample_mcmu_power_allocation",
    "sample_mu_miso_precoding",
    "sum_rate_comp_jt",
    "sum_rate_cooperative_beamforming",
    "sum_rate_d2d_link_scheduling",
    "sum_rate_hybrid_precoding",
    "sum_rate_hybrid_precoding_miso",
    "sum_rate_ibc_power_allocation",
    "sum_rate_ic_beamforming_edge",
    "sum_rate_ic_beamforming_node",
    "sum_rate_ic_beamforming_refined",
    "sum_rate_ic_beamforming_structured",
    "sum_rate_mcmu_power_allocation",
    "sum_rate_mu_miso_precoding",
    "glram_hybrid_precoding",
    "gradient_projection_cooperative_beamforming",
    "mrt_comp_jt",
    "rzf_mu_miso_precoding",
    "zf_mu_miso_precoding",
    "wmmse_cooperative_beamforming",
    "wmmse_d2d_link_scheduling",
    "wmmse_ibc_power_allocation",
    "wmmse_ic_beamforming_edge",
    "wmmse_ic_beamforming_node",
    "wmmse_ic_beamforming_refined",
    "wmmse_ic_beamforming_structured",
    "wmmse_mcmu_power_allocation",
    "wmmse_mu_miso_precoding",
]
