"""The papers' problems, one module each, every one a :class:`~designer.wireless.problem.WirelessProblem`
named ``problem`` and registered in the entry-point group ``gnn_design.problems`` under its
module's name (``pyproject.toml``) — the mechanism a third-party package uses for its own.

:data:`SHIPPED` maps those names to the modules' problems (a test checks it against the entry
points, so the two cannot drift apart).
"""

from __future__ import annotations

from . import (
    comp_jt,
    cooperative_beamforming,
    d2d_link_scheduling,
    hybrid_precoding,
    hybrid_precoding_miso,
    hybrid_precoding_structured,
    ibc_power_allocation,
    ic_beamforming_edge,
    ic_beamforming_node,
    ic_beamforming_refined,
    ic_beamforming_structured,
    mcmu_power_allocation,
    mu_miso_precoding,
    mu_miso_precoding_structured,
)

_MODULES = (comp_jt, cooperative_beamforming, d2d_link_scheduling, hybrid_precoding, hybrid_precoding_miso,
            hybrid_precoding_structured, ibc_power_allocation, ic_beamforming_edge, ic_beamforming_node,
            ic_beamforming_refined, ic_beamforming_structured, mcmu_power_allocation, mu_miso_precoding,
            mu_miso_precoding_structured)
SHIPPED = {module.__name__.rsplit(".", 1)[1]: module.problem for module in _MODULES}
