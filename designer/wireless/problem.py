"""The shipped problems' side of the problem contract (:mod:`designer.problem`): one
:class:`WirelessProblem` binds a scenario generator, a differentiable sum rate and numerical
references, and each problem module in :mod:`designer.wireless.problems` defines one.

A user's problem does not need this class: any object with ``sample`` and ``objective`` works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Mapping

import torch
from pydantic import BaseModel, ConfigDict
from torch import Generator, Tensor


Features = Mapping[str, Tensor]
Actions = Mapping[str, Tensor]


class Scenario(BaseModel):
    """Base of the shipped problems' scenario parameters: unknown keys and wrong types refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class WirelessProblem:
    """A problem of the papers (it implements :mod:`designer.problem`'s contract):
    ``sampler(batch, *, generator, device, dtype, **sizes, **scenario)`` draws features (:mod:`~designer.wireless.scenarios`), ``objective(features, actions)`` is the
    sum rate (bits/s/Hz, ``(batch,)``), ``solver(features, **options)`` the numerical reference.

    ``default_sizes``: the papers' sizes, used where ``--size`` gives none (their symbols are the
    ones the sampler takes); ``solver_sizes``: size symbol → keyword
    of the solver for sizes the features do not show (hybrid precoding's ``N_RF``);
    ``solvers``: further references by name (``alternatives``, same keywords as ``solver``);
    ``variant(options)``: the problem with its :attr:`Options` set (the refined problem's WMMSE
    iterations inside the model); ``iterative``: the solver takes ``iters``, ``tol`` and
    ``starts`` (WMMSE), which gives :attr:`reference_steps`. The other fields are the optional
    parts of the contract.
    """

    name: str
    sampler: Callable[..., dict[str, Tensor]]
    objective: Callable[[Features, Actions], Tensor]
    solver: Callable[..., dict[str, Tensor]]
    features: tuple[str, ...]
    actions: tuple[str, ...]
    source: str
    Scenario: type[Scenario]
    default_sizes: Mapping[str, int] = field(default_factory=dict)
    solver_sizes: Mapping[str, str] = field(default_factory=dict)
    solvers: Mapping[str, Callable[..., dict[str, Tensor]]] = field(default_factory=dict)
    imitation: Callable[[Features, Actions, Actions], Tensor] | None = None
    augment: Callable[[Features, Generator], dict[str, Tensor]] | None = None
    decode: Callable[[Features, Actions], dict[str, Tensor]] | None = None
    warm_start: Callable[[Features, Actions], Tensor] | None = None
    refine_offset: int = 0
    model_presets: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    Options: type[BaseModel] | None = None
    options: BaseModel | None = None
    variant: Callable[[BaseModel], "WirelessProblem"] | None = None
    iterative: bool = False
    reference_iterations_inside: int = 0
    objective_name: str = "sum rate"
    unit: str = "bits/s/Hz"

    def sample(self, batch: int, *, sizes: Mapping[str, int], generator: torch.Generator | None = None,
               device=None, dtype: torch.dtype = torch.float32, scenario: Scenario | None = None) -> dict[str, Tensor]:
        """``batch`` samples of the scenario at ``sizes`` (the symbols the sampler takes)."""
        keywords = {} if scenario is None else scenario.model_dump()
        taken = {k: sizes[k] for k in self.default_sizes if k in sizes}
        return self.sampler(batch, generator=generator, device=device, dtype=dtype, **taken, **keywords)

    def reference(self, features: Features, *, sizes: Mapping[str, int] | None = None, **options) -> dict[str, Tensor]:
        """The numerical reference's actions; ``options`` are the solver's keywords."""
        return self.solver(features, **self._solver_sizes(sizes), **options)

    @property
    def reference_steps(self) -> Callable[..., dict[str, Tensor]] | None:
        """The solver from its documented start for exactly ``iters`` iterations, one start
        (``reference_steps(features, *, sizes, iters)``); None for a closed-form reference."""
        return _Sized(truncated(self.solver), self._solver_sizes) if self.iterative else None

    @property
    def alternatives(self) -> dict[str, Callable[..., dict[str, Tensor]]]:
        """Further references by name, called as :meth:`reference` is."""
        return {name: _Sized(solve, self._solver_sizes) for name, solve in self.solvers.items()}

    def with_options(self, options: BaseModel) -> "WirelessProblem":
        if self.variant is None:
            raise ValueError(f"problem {self.name!r} takes no options")
        return self.variant(options)

    def _solver_sizes(self, sizes: Mapping[str, int] | None) -> dict[str, int]:
        return {keyword: sizes[symbol] for symbol, keyword in self.solver_sizes.items() if sizes and symbol in sizes}


@dataclass(frozen=True)
class _Sized:
    """A solver called with the sizes it needs from ``sizes=`` (see :meth:`WirelessProblem.reference`)."""

    solve: Callable[..., dict[str, Tensor]]
    keywords: Callable[[Mapping[str, int] | None], dict[str, int]]

    def __call__(self, features: Features, *, sizes: Mapping[str, int] | None = None, **options):
        return self.solve(features, **self.keywords(sizes), **options)


def truncated(solver: Callable[..., dict[str, Tensor]], iters: int | None = None) -> Callable[..., dict[str, Tensor]]:
    """An iterative ``solver`` from its documented start only, no early stop, for ``iters``
    iterations (given now or at the call)."""
    fixed = {} if iters is None else {"iters": iters}
    return partial(solver, tol=0.0, starts=0, **fixed)


def iterative_baselines(solver: Callable[..., dict[str, Tensor]], start: str | None,
                        counts: tuple[int, ...] = (10, 100)) -> dict[str, Callable[..., dict[str, Tensor]]]:
    """Trivial baselines of an iterative reference, by name: its documented start alone
    (``start``: ``full_power``, ``mrt``, ...; None where the solver's actions at iteration 0 are
    not the start's) and ``wmmse_<n>``, ``n`` iterations from it (one start, no early stop;
    ``wmmse_100`` is the common truncated WMMSE)."""
    first = {} if start is None else {start: truncated(solver, 0)}
    return {**first, **{f"wmmse_{n}": truncated(solver, n) for n in counts}}
