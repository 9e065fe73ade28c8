"""Commutative pooling (Zhao Prop. 1/2, C3; ENGNN eqs. 21, 22, 24): sum, mean or max of the
messages of each row of a view, read per target vertex, per target edge, or per target edge
without its own message (ENGNN eq. 24's ``k_1 ≠ k``).

A composite pooling such as ``max+mean`` splits the message channels into one contiguous block
per mode, as evenly as possible (the first blocks one wider), and pools each block by its mode
(multi-aggregator pooling, as PNA's, at the same width: no extra parameters). Every mode is
commutative, so any composite keeps the symmetry; ``max`` senses the strongest neighbour,
``mean`` or ``sum`` the total, e.g. the total interference a receiver sees.

Messages arrive in a view's order, ``(rows·count, batch, w)``: ``count`` messages per shared
vertex (see :mod:`designer.runtime.device_instance`), so every pool is a dense reduction over the
``count`` axis of ``(rows, count, batch, w)``. Excluding an edge's own message costs no
quadratic work: ``sum − self``; for max, the row maximum except at a unique maximum, where the
second largest.

The kept edges of a sparse edge type (:class:`~designer.runtime.device_instance.ListView`) pool
by scatter instead (:class:`ListPool`: ``index_add`` and ``scatter_reduce("amax")``, the spare
row taking the slots not in use); their pools count per vertex and sample, so
:class:`Partial` counts may be tensors.

The max kernels are :class:`torch.autograd.Function`\\ s written with float arithmetic only
(``amax``/``amin`` reductions, ``sign``, ``lerp``): on CPU, ``topk`` and ``max(dim)`` over a
non-innermost axis and comparisons producing bool masks are several times slower than a float
pass over the same tensor. The gradient of a maximum goes to the entries attaining it, shared
equally among ties (as ``amax``'s).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .device_instance import ListView, View, take_rows
from .options import POOLINGS



def modes(pooling: str) -> tuple[str, ...]:
    """The modes of a pooling, one per channel block: ``"max+mean"`` → ``("max", "mean")``."""
    return tuple(pooling.split("+"))


def per_block(pooling: str, reduce, *tensors: Tensor) -> Tensor:
    """``reduce(mode, *blocks)`` for every mode's block of the last (channel) axis of
    ``tensors``, concatenated in channel order; one mode reads the whole tensors."""
    blocks = modes(pooling)
    if len(blocks) == 1:
        return reduce(blocks[0], *tensors)
    width = tensors[0].shape[-1]
    if width < len(blocks):
        raise ValueError(f"pooling {pooling!r} needs at least {len(blocks)} channels, got {width}")
    out, start = [], 0
    for i, mode in enumerate(blocks):
        stop = start + width // len(blocks) + (i < width % len(blocks))
        out.append(reduce(mode, *(t[..., start:stop] for t in tensors)))
        start = stop
    return torch.cat(out, dim=-1)


def _at(x: Tensor, top: Tensor) -> Tensor:
    """1.0 where ``x`` equals ``top`` (broadcast), else 0.0, for ``x ≤ top``: ``sign(x − top) + 1``."""
    return (x - top).sign_().add_(1)


class RowMax(torch.autograd.Function):
    """``max`` over dim 1: ``(rows, count, ...) → (rows, ...)``."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        top = x.amax(dim=1)
        ctx.save_for_backward(x, top)
        return top

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        x, top = ctx.saved_tensors
        at_top = _at(x, top.unsqueeze(1))
        return at_top.mul_((grad / at_top.sum(dim=1)).unsqueeze(1))


class MaxExceptSelf(torch.autograd.Function):
    """Per entry of ``(rows, count, ...)`` (count ≥ 2), the max of the *other* entries of its
    row (dim 1), same shape: the row maximum, except at a unique maximum, where the largest of
    the rest (ENGNN eq. 24, ``max_{k_1 ≠ k}``)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        top, low = x.amax(dim=1, keepdim=True), x.amin(dim=1, keepdim=True)
        at_top = _at(x, top)
        ties = at_top.sum(dim=1, keepdim=True)
        rest = _rest(x, low, at_top).amax(dim=1, keepdim=True)
        ctx.save_for_backward(x, at_top, low, rest, ties)
        second = torch.where(ties > 1, top, rest)  # what a maximum reads: a tied maximum, or the rest
        return torch.lerp(top, second, at_top)  # exact: at_top is 0 or 1

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        x, at_top, low, rest, ties = ctx.saved_tensors
        # A unique maximum reads the largest of the rest; every other entry reads the maximum.
        to_rest = (grad * at_top).sum(dim=1, keepdim=True) * (ties == 1)
        to_top = grad.sum(dim=1, keepdim=True) - to_rest
        at_rest = _at(_rest(x, low, at_top), rest)
        at_rest.addcmul_(at_rest, at_top, value=-1)  # the stand-ins at the maxima are no entries of the rest
        at_rest.mul_(to_rest / at_rest.sum(dim=1, keepdim=True).clamp_min(1))
        return at_rest.addcmul_(at_top, to_top / ties)


def _rest(x: Tensor, low: Tensor, at_top: Tensor) -> Tensor:
    """``x`` with its row maxima replaced by the row minimum ``low``, which no other entry is below."""
    return torch.lerp(x, low, at_top)  # exact: at_top is 0 or 1


@dataclass
class Partial:
    """A pool of ``count`` messages per target: per channel block, their sum (sum/mean) or
    maximum (max). ``count`` is one number for every target, or ``(targets, batch, 1)``."""

    value: Tensor
    count: int | Tensor


def pool_of(messages: Tensor, view: View | ListView, mode: str) -> RowPool | ListPool:
    """The pool of messages ``(E, batch, w)`` in ``view``'s order, per vertex of the view."""
    return ListPool(messages, view, mode) if isinstance(view, ListView) else RowPool(messages, view, mode)


class RowPool:
    """Messages ``(rows·count, batch, w)`` in a view's order, pooled per row (per shared
    vertex) once, then read per target vertex, per target edge at its row, or per target edge
    without its own message."""

    def __init__(self, messages: Tensor, view: View, mode: str):
        self.messages, self.view, self.mode = messages, view, mode
        self._total: Tensor | None = None
        self._others: Tensor | None = None

    def _rows(self) -> Tensor:
        """The messages as ``(rows, count, batch, w)``."""
        _, b, w = self.messages.shape
        return self.messages.view(self.view.rows, self.view.count, b, w)

    def _zeros(self, n: int) -> Partial:
        return Partial(self.messages.new_zeros(n, *self.messages.shape[1:]), 0)

    def per_row(self) -> Partial:
        """The pool of every row ``(rows, batch, w)``."""
        if self.view.count == 0:
            return self._zeros(self.view.rows)
        if self._total is None:
            self._total = per_block(self.mode, _row_pool, self._rows())
        return Partial(self._total, self.view.count)

    def at(self, row: Tensor) -> Partial:
        """For target edges with shared vertex ``row`` (``(E_t,)`` or ``(E_t, batch)``): their
        row's pool ``(E_t, batch, w)``."""
        if self.view.count == 0:
            return self._zeros(len(row))
        return Partial(take_rows(self.per_row().value, row), self.view.count)

    def excluding_self(self, own: Tensor | None) -> Partial:
        """For target edges whose own messages sit at positions ``own`` of the view (None:
        the targets are the messages, in view order): their row's pool without their own
        message ``(E_t, batch, w)`` — ``sum − self``, or :class:`MaxExceptSelf`."""
        targets = len(self.messages) if own is None else len(own)
        if self.view.count <= 1:
            return self._zeros(targets)
        if self._others is None:  # once per view: a same-set edge type reads it through both endpoints
            self._others = per_block(self.mode, _pool_of_others, self._rows()).view(self.messages.shape)
        own_pool = self._others if own is None else self._others.index_select(0, own)
        return Partial(own_pool, self.view.count - 1)


class ListPool:
    """Messages ``(E, batch, w)`` on the kept edges of a sparse edge type, pooled per vertex of
    a :class:`ListView` by scatter; read as :class:`RowPool` is. Slots not in use land in the
    spare row and are never read."""

    def __init__(self, messages: Tensor, view: ListView, mode: str):
        self.messages, self.view, self.mode = messages, view, mode
        self._padded: Tensor | None = None

    def _flat(self) -> Tensor:
        return self.messages.reshape(-1, self.messages.shape[-1])

    def _scatter(self, mode: str, flat: Tensor) -> Tensor:
        """``(rows · batch + 1, w)``: per vertex and sample (and the spare row) the sum or max."""
        out = flat.new_zeros(self.view.rows * self.messages.shape[1] + 1, flat.shape[-1])
        if mode == "max":
            index = self.view.slots[:, None].expand(-1, flat.shape[-1])
            return out.scatter_reduce(0, index, flat, "amax", include_self=False)
        return out.index_add(0, self.view.slots, flat)

    def _pooled(self) -> Tensor:
        if self._padded is None:
            self._padded = per_block(self.mode, self._scatter, self._flat())
        return self._padded

    def _count(self) -> Tensor:
        return self.view.count.to(self.messages.dtype)

    def per_row(self) -> Partial:
        """The pool of every vertex ``(rows, batch, w)``."""
        _, b, w = self.messages.shape
        return Partial(self._pooled()[:-1].view(self.view.rows, b, w), self._count())

    def at(self, row: Tensor) -> Partial:
        """For target edges with shared vertex ``row`` (``(E_t,)`` or ``(E_t, batch)``): that
        vertex's pool ``(E_t, batch, w)``."""
        pooled = self.per_row()
        return Partial(take_rows(pooled.value, row), take_rows(pooled.count, row))

    def excluding_self(self, own: None) -> Partial:
        """For every kept edge (the messages' own order): its vertex's pool without its own
        message — ``sum − self``, or for max the maximum of the others (the pool's maximum
        unless the edge holds it alone, then the largest of the rest)."""
        e, b, w = self.messages.shape
        value = per_block(self.mode, self._others, self._flat(), self._pooled())
        count = self.view.count.reshape(-1, 1).to(self.messages.dtype)
        count = (torch.cat([count, count.new_zeros(1, 1)]).index_select(0, self.view.slots) - 1).clamp_min(0)
        return Partial(value.view(e, b, w), count.view(e, b, 1))

    def _others(self, mode: str, flat: Tensor, pooled: Tensor) -> Tensor:
        own_pool = pooled.index_select(0, self.view.slots)
        if mode != "max":
            return own_pool - flat
        at_top = flat == own_pool
        ties = self._scatter("sum", at_top.to(flat.dtype)).index_select(0, self.view.slots)
        low = flat.detach().amin() - 1  # below every message: the stand-in for the maxima
        second = self._scatter("max", torch.where(at_top, low, flat)).index_select(0, self.view.slots)
        return torch.where(at_top & (ties == 1), second, own_pool)


def _row_pool(mode: str, rows: Tensor) -> Tensor:
    """``(rows, count, ...) → (rows, ...)``: the maximum, or the sum (also for mean)."""
    return RowMax.apply(rows) if mode == "max" else rows.sum(dim=1)


def _pool_of_others(mode: str, rows: Tensor) -> Tensor:
    """Per entry of ``(rows, count, ...)``, the pool of the other entries of its row: the
    maximum (:class:`MaxExceptSelf`), or the sum ``total − self``."""
    return MaxExceptSelf.apply(rows) if mode == "max" else rows.sum(dim=1, keepdim=True) - rows


def merge(partials: list[Partial], mode: str) -> Partial:
    """One pool over the union of the partials' messages."""
    present = [p for p in partials if not isinstance(p.count, int) or p.count] or partials[:1]
    value, count = present[0].value, present[0].count
    for p in present[1:]:
        value = per_block(mode, lambda m, a, b: _union(m, a, count, b, p.count), value, p.value)
        count = count + p.count
    return Partial(value, count)


def _union(mode: str, a: Tensor, count_a: int | Tensor, b: Tensor, count_b: int | Tensor) -> Tensor:
    """The pool of two pools' messages; a max over an empty pool (count 0) is no candidate."""
    if mode != "max":
        return a + b
    top = torch.maximum(a, b)
    if isinstance(count_a, Tensor):
        top = torch.where(count_a > 0, top, b)
    if isinstance(count_b, Tensor):
        top = torch.where(count_b > 0, top, a)
    return top


def finish(partial: Partial, mode: str) -> Tensor:
    """The pooled message: per channel block, sum, mean (sum / count) or max; zeros for an
    empty pool."""
    count = partial.count
    if isinstance(count, Tensor):
        value = partial.value * (count > 0)
        return per_block(mode, lambda m, v: v / count.clamp_min(1) if m == "mean" else v, value)
    if count == 0:
        return torch.zeros_like(partial.value)
    return per_block(mode, lambda m, v: v / count if m == "mean" else v, partial.value)


class Pool(nn.Module):
    """The pooler of a target type (Prop. 1/2, C2–C3); parameter-free, named for the tables."""

    def __init__(self, mode: str):
        super().__init__()
        if mode not in POOLINGS:
            raise ValueError(f"pooling {mode!r}: choose one of {', '.join(POOLINGS)}")
        self.mode = mode

    def forward(self, groups: dict[str, list[Partial]]) -> Tensor:
        """Pool per processor key (partials of one key merge first), then sum over the keys."""
        pooled = [finish(merge(parts, self.mode), self.mode) for parts in groups.values()]
        if len(pooled) == 1:
            return pooled[0]
        total = pooled[0] + pooled[1]  # a fresh tensor: the other keys add in place
        for p in pooled[2:]:
            total.add_(p)
        return total

    def extra_repr(self) -> str:
        return self.mode
