"""Equivariance checks for compiled models: :func:`assert_equivariant`.

G is sampled from the plan alone (no sympy), by the compiler's own
:class:`~designer.runtime.instance.Instance`: an independent random permutation of every axis
below every index tuple of its parent axes (docs/method.md, "Sets and the group G"); declared symmetry breaking makes an
axis act trivially (G'). An element acts on a set's elements through their index tuples, and on
a tensor through each of its dims. The check also tries permutations *outside* G — an element
of one set moved without its related sets, an element of a nested set moved to another
subset, a broken axis permuted, or (when the spec has none of those) two unrelated sets of
equal size exchanged — and fails if the model is equivariant to one of them: a design that is
more symmetric than the problem is caught.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from torch import Tensor

from .runtime.device_instance import DeviceInstance
from .runtime.instance import Instance, flat_positions
from .runtime.plan import Plan
from .runtime.plan import Tensor as TensorSig

NOISE = 1e3 * torch.finfo(torch.float64).eps  # relative float64 noise: below it, a deviation is no deviation


@dataclass(frozen=True)
class Transform:
    """A map of vertices: per vertex type, its image type and where each element goes
    (``perm[i]`` = flat position of element i's image, elements in row-major index order)."""

    images: dict[str, tuple[str, Tensor]]
    description: str


@dataclass
class EquivarianceReport:
    """What :func:`assert_equivariant` checked: the largest deviation over the G-trials and,
    per permutation outside G, how far the model is from being equivariant to it."""

    sizes: dict[str, int]
    trials: int
    max_error: float
    outside: list[tuple[str, float]] = field(default_factory=list)
    skipped: str = ""


def plan_of(model, spec: str | Path | Plan | None = None) -> Plan:
    """The plan to check against: ``spec`` (a plan or a spec file) or the model's own."""
    if spec is None:
        return model.plan
    if isinstance(spec, Plan):
        return spec
    from .compiler import compile_file
    from .emit import plan_from_compilation

    return plan_from_compilation(compile_file(spec))


def tensor_shape(plan: Plan, t: TensorSig, sizes: Mapping[str, int]) -> tuple[int, ...]:
    """A tensor's shape after the batch axis at ``sizes`` (the plan's sizes fill the gaps)."""
    sizes = {**plan.sizes, **sizes}
    axis_sizes = plan.axis_sizes(sizes)
    shape = [axis_sizes[a] for a in plan.tensor_axes(t.name)]
    if t.channels is not None:
        shape.append(t.channels if isinstance(t.channels, int) else sizes[t.channels])
    return tuple(shape)


def random_features(plan: Plan, sizes: Mapping[str, int], batch: int = 2, dtype: torch.dtype = torch.float64,
                    generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Random inputs: real features uniform in [0.5, 1.5) (positive, so they can serve as
    budgets and noise levels), complex features standard complex normal."""
    out = {}
    for t in plan.features:
        shape = (batch, *tensor_shape(plan, t, sizes))
        if t.dtype == "complex":
            parts = torch.randn(2, *shape, dtype=dtype, generator=generator)
            out[t.name] = torch.complex(parts[0], parts[1])
        else:
            out[t.name] = 0.5 + torch.rand(shape, dtype=dtype, generator=generator)
    return out


# ---------------------------------------------------------------------------------------------
# Elements of G and permutations outside it.
# ---------------------------------------------------------------------------------------------

def _transform(instance: Instance, move, description: str) -> Transform:
    """The transform that sends each vertex's index tuple ``idx`` of type ``s`` to
    ``move(s, idx)`` (a new ``(n, depth)`` index array), within the same type."""
    images = {}
    for name, shape in instance.shapes.items():
        image = flat_positions(move(name, instance.index_array(name)), shape)
        images[name] = (name, torch.from_numpy(image))
    return Transform(images, description)


def random_element(plan: Plan, sizes: Mapping[str, int], generator: torch.Generator) -> Transform:
    """A uniformly random element of G (G' with declared symmetry breaking): one random
    permutation per (axis, index tuple of its parent axes), drawn from ``generator``."""
    instance = Instance(plan, sizes)
    sigmas = instance.random_sigmas(lambda n: torch.randperm(n, generator=generator).numpy(),
                                    lambda axis: not instance.axis(axis).broken)
    images = {name: (name, torch.from_numpy(image)) for name, image in instance.apply(sigmas).items()}
    return Transform(images, "a random element of G")


def _swap(index: np.ndarray, axis_depth: int, fixed: dict[int, int]) -> np.ndarray:
    """Exchange entries 0 and 1 at ``axis_depth`` of the ``(n, depth)`` index tuples whose
    entries at the positions of ``fixed`` have the given values (everything below moves along)."""
    image = index.copy()
    column = index[:, axis_depth]
    hit = column <= 1
    for j, value in fixed.items():
        hit &= index[:, j] == value
    image[:, axis_depth] = np.where(hit, 1 - column, column)
    return image


def _on_axis(plan: Plan, axis: str, axis_depth: int, fixed: dict[int, int], only: str | None = None):
    """A ``move`` for :func:`_transform`: :func:`_swap` on every vertex type whose path holds
    ``axis`` (or only on the type ``only``)."""
    def move(set_name: str, index: np.ndarray) -> np.ndarray:
        applies = set_name == only if only else axis in plan.set(set_name).path
        return _swap(index, axis_depth, fixed) if applies else index
    return move


def outside_transforms(plan: Plan, sizes: Mapping[str, int]) -> tuple[list[Transform], dict[str, int], str]:
    """Permutations that are not in G (G'): (transforms, sizes to test them at, skip reason).

    * a broken axis: its elements 0 and 1 exchanged (in G, not in G');
    * a set with related sets: its elements 0 and 1 exchanged, the related sets left alone;
    * a nested axis: its element 0 under parent 0 exchanged with element 0 under parent 1;
    * otherwise two unrelated root sets of equal size exchanged (sizes made equal).
    """
    instance = Instance(plan, sizes)
    axis_sizes = instance.axis_sizes
    vertex_sets = {v.name for v in plan.vertex_types}
    out = []
    for a in plan.axes:
        d = len(plan.parent_axes(a.name))
        if a.broken and axis_sizes[a.name] >= 2:
            out.append(_transform(instance, _on_axis(plan, a.name, d, dict.fromkeys(range(d), 0)),
                                  f"exchanging elements 0 and 1 of the broken axis {a.name}"))
    paths = set()
    for v in plan.vertex_types:
        related = [r for r in plan.set(v.name).related if r in vertex_sets]
        d = len(v.path) - 1
        if related and v.path not in paths and axis_sizes[v.path[-1]] >= 2:
            paths.add(v.path)
            move = _on_axis(plan, v.path[-1], d, dict.fromkeys(range(d), 0), only=v.name)
            out.append(_transform(instance, move, f"exchanging elements 0 and 1 of {v.name} "
                                                f"without its related {', '.join(related)}"))
    for a in plan.axes:
        parents = plan.parent_axes(a.name)
        if parents and axis_sizes[parents[-1]] >= 2 and any(a.name in plan.set(v).path for v in vertex_sets):
            d = len(parents)
            move = _on_axis(plan, a.name, d - 1, {**dict.fromkeys(range(d - 1), 0), d: 0})
            out.append(_transform(instance, move,
                                  f"moving element 0 of {a.name} under {parents[-1]} 0 to {parents[-1]} 1"))
    if out:
        return out, dict(sizes), ""
    return _type_swap(plan, sizes)


def _type_swap(plan: Plan, sizes: Mapping[str, int]) -> tuple[list[Transform], dict[str, int], str]:
    """Exchange two unrelated root sets of equal shape (their tensors map onto each other)."""
    roots = [v for v in plan.vertex_types if len(v.path) == 1 and not plan.set(v.name).related]
    for i, x in enumerate(roots):
        for y in roots[i + 1:]:
            mapping = _tensor_bijection(plan, {x.name: y.name, y.name: x.name})
            if mapping is None:
                continue
            sx, sy = plan.axis(x.path[0]).size, plan.axis(y.path[0]).size
            at = dict(sizes)
            if isinstance(sx, str) and isinstance(sy, str):
                at[sy] = at[sx] = max(at[sx], at[sy])
            if plan.axis_sizes(at)[x.path[0]] != plan.axis_sizes(at)[y.path[0]]:
                continue
            n = plan.axis_sizes(at)[x.path[0]]
            images = {s.name: (s.name, torch.arange(math.prod(plan.axis_sizes(at)[a] for a in s.path)))
                      for s in plan.vertex_types}
            images[x.name], images[y.name] = (y.name, torch.arange(n)), (x.name, torch.arange(n))
            return [Transform(images, f"exchanging the sets {x.name} and {y.name}")], at, ""
    return [], dict(sizes), "no related or nested sets, and no two sets that can be exchanged"


def _tensor_bijection(plan: Plan, sets: dict[str, str]) -> dict[str, tuple[str, bool]] | None:
    """Tensor → (image tensor, transposed?) under a map of sets, or None if some tensor has no
    image of the same role, dtype and channels."""
    out = {}
    for t in plan.tensors:
        dims = tuple(sets.get(d, d) for d in t.dims)
        match = None
        for u in plan.tensors:
            if (u.role, u.dtype, u.channels) != (t.role, t.dtype, t.channels) or u.name in {m for m, _ in out.values()}:
                continue
            if u.dims == dims:
                match = (u.name, False)
            elif len(dims) == 2 and u.dims == dims[::-1]:
                match = (u.name, True)
            if match:
                break
        if match is None:
            return None
        out[t.name] = match
    return out


def apply(plan: Plan, transform: Transform, tensors: Mapping[str, Tensor], sizes: Mapping[str, int]
          ) -> dict[str, Tensor]:
    """The transformed tensors: entries moved along every set dim; a tensor whose sets map to
    other sets lands on the tensor over those sets (transposed if their order is reversed)."""
    sets = {s: image for s, (image, _) in transform.images.items()}
    mapping = _tensor_bijection(plan, sets) or {}
    out = {}
    for name, x in tensors.items():
        t = plan.tensor(name)
        target, transposed = mapping.get(name, (name, False))
        y = x.reshape(x.shape[0], *[len(transform.images[d][1]) for d in t.dims], -1)
        for i, d in enumerate(t.dims):
            y = y.index_select(1 + i, torch.argsort(transform.images[d][1]).to(x.device))
        if transposed:
            y = y.transpose(1, 2)
        out[target] = y.reshape(x.shape[0], *tensor_shape(plan, plan.tensor(target), sizes))
    return out


# ---------------------------------------------------------------------------------------------
# The check.
# ---------------------------------------------------------------------------------------------

def support_mask(plan: Plan, t: TensorSig, sizes: Mapping[str, int]) -> Tensor:
    """Boolean mask over a tensor's set axes: its support (all True unless ``matched``)."""
    shape = tensor_shape(plan, t, sizes)[:len(plan.tensor_axes(t.name))]
    if t.support != "matched":
        return torch.ones(shape, dtype=torch.bool)
    instance = DeviceInstance(plan, sizes)
    mask = torch.zeros(math.prod(shape), dtype=torch.bool)
    for et in plan.edge_types:
        if t.name in et.actions or t.name in et.features:
            mask[instance.dense_index(et, t.dims)] = True
    return mask.reshape(shape)


def _run(model, features: Mapping[str, Tensor], sizes: Mapping[str, int], seed: int) -> dict[str, Tensor]:
    """Model outputs at ``sizes`` (symbols no input determines, e.g. the number of RF chains)
    with torch's RNG fixed (``break_symmetry: random`` draws the same codes every call)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        with torch.no_grad():
            return model(**features, sizes=dict(sizes))


def deviation(model, plan: Plan, transform: Transform, features: Mapping[str, Tensor], sizes: Mapping[str, int],
              seed: int = 0) -> tuple[float, float, str]:
    """max |model(h·x) − h·model(x)| on the actions' supports, the scale max |h·model(x)| and
    the action where the deviation is largest."""
    moved = _run(model, apply(plan, transform, features, sizes), sizes, seed)
    expected = apply(plan, transform, _run(model, features, sizes, seed), sizes)
    worst, scale, where = 0.0, 0.0, ""
    for name, y in expected.items():
        t = plan.tensor(name)
        mask = support_mask(plan, t, sizes).to(y.device)
        mask = mask.reshape(1, *mask.shape, *([1] * (y.dim() - 1 - mask.dim())))
        diff = float(((moved[name] - y).abs() * mask).max())
        scale = max(scale, float(y.abs().max()))
        if diff >= worst:
            worst, where = diff, name
    return worst, scale, where


def assert_equivariant(model, spec_path_or_plan: str | Path | Plan | None = None, sizes: Mapping[str, int] | None = None,
                       trials: int = 3, seed: int = 0, atol: float = 1e-9, rtol: float = 1e-7, outside: bool = True,
                       batch: int = 2) -> EquivarianceReport:
    """Check in float64 that ``model`` is equivariant to G (G' under declared symmetry breaking)
    and, with ``outside``, to none of the permutations of :func:`outside_transforms`.

    ``trials`` random elements of G act on random inputs at ``sizes`` (default: the sizes the
    model was built with); outputs must move the same way within ``atol + rtol · max|output|``,
    compared on each action's support. A permutation outside G counts as a symmetry of the
    model when its deviation is within ``atol`` plus float64 noise (``NOISE · max|output|``).
    Raises ``AssertionError`` with the action, the deviation and the permutation; returns an
    :class:`EquivarianceReport`.
    """
    plan = plan_of(model, spec_path_or_plan)
    sizes = {**plan.sizes, **getattr(model, "sizes", {}), **(sizes or {})}
    checked = copy.deepcopy(model).double().eval()
    generator = torch.Generator().manual_seed(seed)
    group = f"G' = {plan.reduced_group}" if plan.reduced_group else f"G = {plan.group}"
    who = f"{plan.name}: {type(model).__name__}"
    report = EquivarianceReport(dict(sizes), trials, 0.0)
    for trial in range(trials):
        features = random_features(plan, sizes, batch, generator=generator)
        element = random_element(plan, sizes, generator)
        error, scale, where = deviation(checked, plan, element, features, sizes, seed)
        report.max_error = max(report.max_error, error)
        if error > atol + rtol * scale:
            raise AssertionError(f"{who} is not equivariant to {group} at sizes {sizes}: action {where} deviates by "
                                 f"{error:.3g} (tolerance {atol + rtol * scale:.3g}) under {element.description} "
                                 f"(trial {trial + 1} of {trials})")
    if outside:
        transforms, at, report.skipped = outside_transforms(plan, sizes)
        for h in transforms:
            features = random_features(plan, at, batch, generator=generator)
            error, scale, _ = deviation(checked, plan, h, features, at, seed)
            report.outside.append((h.description, error))
            if error <= atol + NOISE * scale:
                raise AssertionError(f"{who} is over-symmetric: it is also equivariant to {h.description} "
                                     f"(deviation {error:.3g} at sizes {at}), a permutation outside {group}")
    return report
