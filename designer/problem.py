"""The problem contract: everything training, evaluation, the benchmarks and the tests need from
a resource-allocation problem, and how a problem is found by reference.

A problem is any object with two methods (subclass :class:`Problem` for the optional parts'
defaults, or write the attributes yourself)::

    sample(batch, *, sizes, generator, device, dtype, scenario) -> dict[str, Tensor]
        feature tensors named and shaped as the spec's features: batch first, one axis per set
        of the tensor's ``dims`` (a nested set contributes its parent's axes first), then the
        channel axis if any; complex features complex. ``sizes`` maps every size symbol of the
        spec to an int; ``scenario`` is an instance of ``Scenario`` (None without one).
    objective(features, actions) -> Tensor of shape (batch,)
        the quantity training maximises, per sample (a sum rate, an energy efficiency, a
        minimum rate, ...); higher is better.

Optional attributes (all default to "absent"): ``reference(features, *, sizes) -> actions``
(the numerical reference evaluation compares with; iterative ones run to convergence),
``alternatives`` (a mapping of name to further references with the same signature: trivial
baselines, truncated variants; a reference that does not apply at the sizes it is called with
raises :class:`NotApplicable`, and evaluation leaves it out of that row, saying why),
``reference_steps(features, *, sizes, iters) -> actions`` (an iterative reference from its
documented start for exactly ``iters`` iterations: evaluation finds the iterations the reference
needs to match the model and times them, the speed at equal quality),
``reference_iterations_inside`` (an int: the model's actions pass through this many iterations
of the reference, so the model is a hybrid of network and reference and is reported beside
that many iterations from the reference's own start), ``imitation(features, actions, target) -> (batch,)``
(a supervised warm-start loss, ``train --imitate-epochs``), ``augment(features, generator) ->
features`` (a random transform that leaves the objective unchanged, ``train --augment``),
``decode(features, actions) -> actions`` (the physical actions a model's actions stand for),
``warm_start(features, actions)`` and ``refine_offset`` (``evaluate --refine``: the model's
actions refined by ``reference_steps(features, sizes=..., iters=T, init=warm_start(...))``), ``Scenario`` (a
pydantic model or dataclass of the scenario's parameters, set with ``--scenario KEY=VALUE``),
``Options`` and ``with_options(options)`` (a pydantic model or dataclass of the problem's own
parameters, ``--problem-option KEY=VALUE``), ``model_presets`` (named model options, e.g.
ENGNN's widths), ``objective_name`` and ``unit`` (how results are labelled).

A problem is found by reference, never by matching names: ``module.path:attribute``,
``path/to/file.py:attribute``, or a name registered in the entry-point group
``gnn_design.problems`` (the shipped problems are registered this way too).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

from pydantic import BaseModel, ValidationError

ENTRY_POINT_GROUP = "gnn_design.problems"


class Problem:
    """Base class with the optional parts of the contract at their defaults (absent).

    Subclasses define ``sample`` and ``objective`` (see the module docstring) and whichever
    optional parts they have; ``name`` labels results (the registered name or the class name).
    """

    name: str = ""
    source: str = ""
    objective_name: str = "objective"
    unit: str = ""
    Scenario: type | None = None
    Options: type | None = None
    reference: Callable | None = None
    reference_steps: Callable | None = None
    reference_iterations_inside: int = 0
    alternatives: Mapping[str, Callable] = {}
    imitation: Callable | None = None
    augment: Callable | None = None
    decode: Callable | None = None
    warm_start: Callable | None = None
    refine_offset: int = 0
    model_presets: Mapping[str, Mapping[str, Any]] = {}

    def sample(self, batch: int, *, sizes: Mapping[str, int], generator, device, dtype, scenario=None):
        raise NotImplementedError

    def objective(self, features, actions):
        raise NotImplementedError


def part(problem, name: str, default=None):
    """An optional part of ``problem``'s contract (``default`` where it has none)."""
    return getattr(problem, name, default)


def label(problem) -> str:
    """``sum rate (bits/s/Hz)``: how the problem's objective is labelled in results."""
    name = part(problem, "objective_name") or "objective"
    unit = part(problem, "unit")
    return f"{name} ({unit})" if unit else name


# ---------------------------------------------------------------------------------------------
# Finding a problem.
# ---------------------------------------------------------------------------------------------

class NotApplicable(ValueError):
    """Raised by a reference that does not apply at the sizes it is called with (for example a
    construction that needs twice as many RF chains as UEs); the message says why."""


class ProblemError(ValueError):
    """A problem reference that cannot be resolved, or an object that breaks the contract."""


def registered() -> dict[str, importlib.metadata.EntryPoint]:
    """The problems registered in the entry-point group ``gnn_design.problems``, by name."""
    return {e.name: e for e in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def resolve(reference: str, base: str | Path | None = None) -> str:
    """``reference`` with a file path made absolute (relative to ``base``, default the working
    directory), so that a run records where its problem came from."""
    module, sep, attribute = reference.rpartition(":")
    if sep and module.endswith(".py"):
        return f"{(Path(base or '.') / module).resolve()}:{attribute}"
    return reference


def load(reference: str, base: str | Path | None = None):
    """The problem object named by ``reference`` (see the module docstring); a class is
    instantiated without arguments. Raises :class:`ProblemError` with one line."""
    if not isinstance(reference, str) or not reference.strip():
        raise ProblemError("a problem reference is module:attribute, path/to/file.py:attribute or a registered name")
    module_name, sep, attribute = reference.rpartition(":")
    if not sep:
        known = registered()
        if reference not in known:
            names = ", ".join(sorted(known)) or "none"
            raise ProblemError(f"unknown problem {reference!r}: give module:attribute or path/to/file.py:attribute, "
                               f"or a registered name ({names})")
        obj = known[reference].load()
    else:
        module = _import_file(resolve(reference, base).rpartition(":")[0]) if module_name.endswith(".py") \
            else _import_module(module_name)
        if not attribute.isidentifier() or not hasattr(module, attribute):
            raise ProblemError(f"problem {reference!r}: {module_name} has no attribute {attribute!r}")
        obj = getattr(module, attribute)
    problem = obj() if isinstance(obj, type) else obj
    check_contract(problem, reference)
    if not part(problem, "name"):
        try:
            problem.name = reference.rpartition(":")[2] or reference
        except AttributeError:
            pass
    return problem


def _import_module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ProblemError(f"cannot import problem module {name!r}: {exc}") from None


def _import_file(path: str):
    file = Path(path)
    if not file.is_file():
        raise ProblemError(f"no problem file {file}")
    name = "gnn_design_problem_" + hashlib.sha256(str(file).encode()).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ProblemError(f"{file}: importing the problem failed: {type(exc).__name__}: {exc}") from None
    return module


def check_contract(problem, reference: str = "") -> None:
    """Raise :class:`ProblemError` unless ``problem`` has callable ``sample`` and ``objective``."""
    for method in ("sample", "objective"):
        if not callable(getattr(problem, method, None)):
            raise ProblemError(f"{reference or problem!r} is not a problem: it has no {method}() method "
                               "(see designer.problem)")


# ---------------------------------------------------------------------------------------------
# Typed parameters: scenario and problem options.
# ---------------------------------------------------------------------------------------------

def parameters(model: type | None, values: Mapping[str, Any], what: str, problem_name: str):
    """``values`` validated into ``model`` (a pydantic model or a dataclass); None without a
    model. Unknown keys and values of the wrong type raise :class:`ProblemError` naming them."""
    if model is None:
        if values:
            raise ProblemError(f"problem {problem_name!r} takes no {what} ({', '.join(values)} given)")
        return None
    known = _fields(model)
    unknown = [k for k in values if k not in known]
    if unknown:
        raise ProblemError(f"{what} {unknown[0]!r} is not a parameter of problem {problem_name!r}; "
                           f"it takes {', '.join(known) or 'none'}")
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(dict(values))
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        given = f"={values[where]!r}" if where in values else ""
        raise ProblemError(f"{what} {where}{given}: {error['msg']} (problem {problem_name!r})") from None
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"{what} of problem {problem_name!r}: {exc}") from None


def _fields(model: type) -> tuple[str, ...]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return tuple(model.model_fields)
    if dataclasses.is_dataclass(model):
        return tuple(f.name for f in dataclasses.fields(model))
    raise ProblemError(f"{model!r} is neither a pydantic model nor a dataclass")


def configured(problem, options: Mapping[str, Any]):
    """``problem`` with its ``Options`` set to ``options`` (``problem.with_options``)."""
    if not options:
        return problem
    validated = parameters(part(problem, "Options"), options, "problem option", part(problem, "name", ""))
    return problem.with_options(validated)
