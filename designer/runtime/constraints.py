"""Projection of raw read-outs onto the spec's constraints (ENGNN §III-D: "normalized to
satisfy the constraints").

Applied per action tensor in the order nonnegative → constant_modulus → power_budget →
total_power, so that a ``total_power`` ``through`` another action sees that action projected.
Tensors are in the model layout ``(batch, *set axes, [channels])``; values are expressions over
size symbols and feature tensors (:func:`designer.runtime.plan.evaluate`), refused unless
positive and finite.

* ``nonnegative``: ``sigmoid``, ``softplus`` or ``relu`` of the read-out, kept at zero off a
  ``support: matched`` action's support (so no budget is spent there). A power under a
  ``power_budget`` is that activation times its group's budget (the largest, under several), so
  that a bounded ``sigmoid`` spans ``(0, budget)`` whatever the budget; ``auto`` (default) is
  ``sigmoid`` for such a power and the unbounded ``softplus`` for a non-negative action without one.
* ``constant_modulus``: ``y / |y| · modulus`` entry-wise.
* ``power_budget``: the power of each element of ``per`` is summed over its group; a
  non-negative real action *is* a power (entries summed), any other action is an amplitude
  (``|y|²`` summed). ``scale_if_above`` (default) scales a group down to its budget only when
  it exceeds it (``y · min(1, budget / power)``, square-rooted for amplitudes): every point of
  the feasible set is reached. ``normalise`` always scales it to the budget. ``slack`` scales by
  ``budget / (budget + power)``: the group stays strictly inside its budget and, unlike the other
  two, its total power keeps a gradient (a group of ``n`` sigmoid powers reaches at most
  ``n / (n + 1)`` of its budget).
* ``total_power``: ``||through · y||_F² = value`` per sample (``||y||_F²`` without ``through``),
  the set axes flattened into matrix rows and columns (e.g. ``W_RF (N_t × N_RF)`` times
  ``W_BB (N_RF × K)``).
"""

from __future__ import annotations

import math
from functools import reduce
from typing import Mapping

import torch
from torch import Tensor
from torch.nn import functional as F

from .plan import Constraint, Plan, evaluate

ORDER = ("nonnegative", "constant_modulus", "power_budget", "total_power")
NONNEGATIVE = {"sigmoid": torch.sigmoid, "softplus": F.softplus, "relu": torch.relu}
TINY = 1e-12
VALUE_NAMES = {"power_budget": "budget", "total_power": "value", "constant_modulus": "modulus"}


def check_constraints(plan: Plan) -> None:
    """Refuse constraints the projection cannot realise (raised when a model is built)."""
    for c in plan.constraints:
        t = plan.tensor(c.tensor)
        if c.kind == "power_budget":
            group_offset(plan, c)
        if c.kind == "total_power" and c.through is not None:
            through = plan.tensor(c.through)
            if t.channels is not None or through.channels is not None:
                raise ValueError(f"total_power of {t.name} through {through.name}: channel axes are not supported")
            common_set(plan, through, t)


def project(plan: Plan, actions: dict[str, Tensor], values: Mapping[str, object], budget_mode: str,
            nonnegative: str, supports: Mapping[str, Tensor] | None = None,
            check_tensors: bool = True) -> dict[str, Tensor]:
    """Actions projected onto every constraint (see the module docstring). ``supports``: per
    action with a restricted support, its boolean mask over the set axes ``(*set axes)``.

    Raises ``ValueError`` naming the constraint for a budget, value or modulus that is not
    positive and finite; a tensor's entries are checked only with ``check_tensors`` (one
    reduction and one host synchronisation per tensor value)."""
    out = dict(actions)
    bounds = {c: _checked(c, _value(c, values), check_tensors) for c in plan.constraints if c.kind in VALUE_NAMES}
    for c in sorted(plan.constraints, key=lambda c: ORDER.index(c.kind)):
        y = out[c.tensor]
        if c.kind == "nonnegative":
            out[c.tensor] = _on_support(_nonnegative(plan, c.tensor, y, bounds, nonnegative),
                                        (supports or {}).get(c.tensor))
        elif c.kind == "constant_modulus":
            out[c.tensor] = y / y.abs().clamp_min(TINY) * bounds[c]
        elif c.kind == "power_budget":
            out[c.tensor] = _power_budget(plan, c, y, bounds[c], budget_mode)
        else:
            out[c.tensor] = _total_power(plan, c, y, out, bounds[c])
    return out


def _nonnegative(plan: Plan, tensor: str, y: Tensor, bounds: Mapping[Constraint, object], mode: str) -> Tensor:
    """The activation of ``mode``, times the largest power budget over each entry's groups if any."""
    budgets = [_group_budget(plan, c, value, y) for c, value in bounds.items()
               if c.kind == "power_budget" and c.tensor == tensor]
    if mode == "auto":
        mode = "sigmoid" if budgets else "softplus"
    out = NONNEGATIVE[mode](y)
    if not budgets:
        return out
    return out * reduce(lambda a, b: torch.maximum(torch.as_tensor(a).to(y), torch.as_tensor(b).to(y)), budgets)


def _on_support(y: Tensor, mask: Tensor | None) -> Tensor:
    """``y`` ``(batch, *set axes, [channels])`` with the entries outside ``mask`` set to zero."""
    if mask is None:
        return y
    return y * mask.reshape(mask.shape + (1,) * (y.dim() - 1 - mask.dim())).to(y.dtype)


def _value(c: Constraint, values: Mapping[str, object]):
    return evaluate(_value_text(c), values)


def _value_text(c: Constraint) -> str:
    return c.value if c.value is not None else "1"


def _checked(c: Constraint, value, check_tensors: bool):
    """``value`` of ``c``, refused unless positive and finite (a tensor only with ``check_tensors``)."""
    if isinstance(value, Tensor):
        if check_tensors and not bool(_valid(value).all()):
            first = (~_valid(value)).nonzero()[0].tolist()
            _refuse(c, value[tuple(first)].item(), f" in sample {first[0]}" if first else "")
    elif isinstance(value, (int, float)) and not (math.isfinite(value) and value > 0):  # not symbolic sizes
        _refuse(c, value, "")
    return value


def _valid(value: Tensor) -> Tensor:
    return (value > 0) & torch.isfinite(value)


def _refuse(c: Constraint, got, where: str):
    raise ValueError(f"{_value_text(c)}: {VALUE_NAMES[c.kind]} of {c.kind} on {c.tensor} must be positive and "
                     f"finite; got {got}{where}")


def is_power(plan: Plan, tensor: str) -> bool:
    """A non-negative real action holds powers; anything else holds amplitudes."""
    return any(c.kind == "nonnegative" and c.tensor == tensor for c in plan.constraints)


def group_offset(plan: Plan, c: Constraint) -> int:
    """Position (after the batch axis) of the ``per`` set's axes in the tensor's layout: those
    of the first dim whose path starts with ``per``'s path."""
    per = plan.set(c.per).path
    offset = 0
    for d in plan.tensor(c.tensor).dims:
        path = plan.set(d).path
        if path[:len(per)] == per:
            return offset
        offset += len(path)
    raise ValueError(f"power_budget of {c.tensor} per {c.per}: no dim of {c.tensor} lies in {c.per}")


def _group_dims(plan: Plan, c: Constraint, y: Tensor) -> list[int]:
    """The axes of ``y`` a ``power_budget`` sums over: all but batch and the ``per`` set's axes."""
    start = 1 + group_offset(plan, c)
    keep = range(start, start + len(plan.set(c.per).path))
    return [i for i in range(1, y.dim()) if i not in keep]


def _group_budget(plan: Plan, c: Constraint, budget, y: Tensor):
    """A ``power_budget``'s budget broadcastable to ``y``: a number, or a tensor with a size-1 axis
    in place of every summed axis."""
    if not isinstance(budget, Tensor):
        return budget
    summed = _group_dims(plan, c, y)
    return budget.to(y.real.dtype).reshape([1 if i in summed else n for i, n in enumerate(y.shape)])


def _power_budget(plan: Plan, c: Constraint, y: Tensor, budget, mode: str) -> Tensor:
    """Scale each ``per`` group of ``y`` onto its budget (``scale_if_above``, ``normalise``, ``slack``)."""
    power = is_power(plan, c.tensor)
    entries = y if power else _energy(y)
    summed = _group_dims(plan, c, y)
    total = entries.sum(dim=summed, keepdim=True) if summed else entries  # sum(dim=[]) would sum everything
    budget = _group_budget(plan, c, budget, y)
    scale = budget / (budget + total) if mode == "slack" else budget / total.clamp_min(TINY)
    if mode == "scale_if_above":
        scale = scale.clamp(max=1.0)
    return y * (scale if power else scale.sqrt())


def _energy(y: Tensor) -> Tensor:
    """``|y|²`` entry-wise (``re² + im²`` for complex, smooth at 0)."""
    return y.real.square() + y.imag.square() if y.is_complex() else y.square()


def common_set(plan: Plan, through, tensor) -> str:
    """The set a ``total_power`` product contracts over (shared by both tensors' dims)."""
    for d in tensor.dims:
        if d in through.dims:
            return d
    raise ValueError(f"total_power of {tensor.name} through {through.name}: the two tensors share no set")


def _matrix(plan: Plan, y: Tensor, tensor: str, columns: str | None = None, rows: str | None = None) -> Tensor:
    """``y`` as a batch of matrices ``(batch, n_rows, n_cols)``: its set axes flattened, the
    dim named ``rows`` first or the dim named ``columns`` last."""
    dims = plan.tensor(tensor).dims
    m = y.reshape(y.shape[0], math.prod(y.shape[1:1 + len(plan.set(dims[0]).path)]), -1)
    flip = (rows is not None and dims[0] != rows) or (columns is not None and dims[-1] != columns)
    return m.transpose(1, 2) if flip else m


def _total_power(plan: Plan, c: Constraint, y: Tensor, current: dict[str, Tensor], value) -> Tensor:
    """Normalise ``y`` per sample so that ``||through · y||_F² = value``."""
    if c.through is None:
        product = y.reshape(y.shape[0], -1)
    else:
        shared = common_set(plan, plan.tensor(c.through), plan.tensor(c.tensor))
        left = _matrix(plan, current[c.through], c.through, columns=shared)
        product = torch.matmul(left, _matrix(plan, y, c.tensor, rows=shared).to(left.dtype)).flatten(1)
    energy = _energy(product).sum(1)
    scale = (value / energy.clamp_min(TINY)).sqrt()
    return y * scale.reshape((-1,) + (1,) * (y.dim() - 1))
