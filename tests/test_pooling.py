"""The pooling kernels of :mod:`designer.runtime.pooling` and the GEMM of
:mod:`designer.runtime.layers` against brute-force twins: values, gradients, ties; composite
poolings against a loop over each target's messages."""

import pytest
import torch

from designer.runtime.layers import GEMM_ROWS, affine
from designer.runtime.device_instance import View
from designer.runtime.pooling import MaxExceptSelf, RowMax, RowPool, finish, merge


def brute_max_except_self(x: torch.Tensor) -> torch.Tensor:
    """Per entry of ``(rows, count, ...)``, the max over the other entries of its row, by a loop."""
    count = x.shape[1]
    return torch.stack([torch.cat([x[:, :k], x[:, k + 1:]], dim=1).amax(dim=1) for k in range(count)], dim=1)


def with_ties(shape, generator) -> torch.Tensor:
    """Integers in a small range: rows with tied maxima and tied runners-up are common."""
    return torch.randint(0, 3, shape, generator=generator).double()


@pytest.mark.parametrize("count", [2, 3, 7])
def test_max_except_self_equals_the_brute_force_twin(count):
    g = torch.Generator().manual_seed(count)
    for x in (torch.randn(5, count, 2, 3, generator=g, dtype=torch.float64), with_ties((40, count, 3), g)):
        assert torch.equal(MaxExceptSelf.apply(x), brute_max_except_self(x))


@pytest.mark.parametrize("count", [2, 3, 7])
def test_max_kernels_have_the_gradient_of_their_twins(count):
    """Without ties the max is differentiable: gradients equal the brute force's."""
    g = torch.Generator().manual_seed(10 + count)
    x = torch.randn(6, count, 4, generator=g, dtype=torch.float64, requires_grad=True)
    for kernel, twin in ((MaxExceptSelf.apply, brute_max_except_self), (RowMax.apply, lambda t: t.amax(dim=1))):
        upstream = torch.randn(twin(x).shape, generator=g, dtype=torch.float64)
        (fast,) = torch.autograd.grad((kernel(x) * upstream).sum(), x)
        (slow,) = torch.autograd.grad((twin(x) * upstream).sum(), x)
        assert torch.allclose(fast, slow, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(MaxExceptSelf.apply, (x,))


def test_max_kernels_with_ties_pass_the_whole_gradient_to_the_entries_read():
    """At ties the kernels pick a subgradient: RowMax shares it among tied maxima as ``amax``
    does; MaxExceptSelf passes every unit of output gradient to entries equal to the largest or
    second largest of the row (the values it reads) and none to smaller entries."""
    g = torch.Generator().manual_seed(3)
    x = with_ties((60, 4, 2), g).requires_grad_()
    (grad,) = torch.autograd.grad(RowMax.apply(x).sum(), x)
    assert torch.equal(grad, torch.autograd.grad(x.amax(dim=1).sum(), x)[0])
    upstream = torch.rand(x.shape, generator=g, dtype=torch.float64)
    (grad,) = torch.autograd.grad((MaxExceptSelf.apply(x) * upstream).sum(), x)
    assert torch.allclose(grad.sum(dim=1), upstream.sum(dim=1), rtol=0, atol=1e-12)
    second = x.detach().sort(dim=1, descending=True).values[:, 1:2]
    below = x.detach() < second
    assert below.any() and not grad[below].any()


def brute_pool(messages: torch.Tensor, modes: list[str]) -> torch.Tensor:
    """``(n, batch, w)`` messages of one target pooled channel by channel: the channels split
    into one block per mode, the first blocks one wider, each reduced by its mode."""
    w = messages.shape[-1]
    widths = [w // len(modes) + (i < w % len(modes)) for i in range(len(modes))]
    reduce = {"max": lambda b: b.amax(dim=0), "sum": lambda b: b.sum(dim=0), "mean": lambda b: b.mean(dim=0)}
    return torch.cat([reduce[m](b) for m, b in zip(modes, messages.split(widths, dim=-1))], dim=-1)


@pytest.mark.parametrize("pooling", ["max+mean", "max+sum", "mean"])
@pytest.mark.parametrize("width", [2, 5])
def test_composite_pooling_equals_a_loop_over_each_target(pooling, width):
    """Per row, per row without each message, and merged over two views, a composite pooling
    equals pooling each channel block of the messages by its mode."""
    g = torch.Generator().manual_seed(width)
    rows, count = 3, 4
    modes = pooling.split("+")
    view = View(order=None, rows=rows, count=count, other=torch.arange(rows * count) % count, rank=None)
    messages = torch.randn(rows * count, 2, width, generator=g, dtype=torch.float64)
    pool = RowPool(messages, view, pooling)
    by_row = messages.view(rows, count, 2, width)
    per_row = finish(pool.per_row(), pooling)
    assert torch.allclose(per_row, torch.stack([brute_pool(r, modes) for r in by_row]), rtol=0, atol=1e-12)
    others = finish(pool.excluding_self(None), pooling).view(rows, count, 2, width)
    for r in range(rows):
        for k in range(count):
            rest = torch.cat([by_row[r, :k], by_row[r, k + 1:]])
            assert torch.allclose(others[r, k], brute_pool(rest, modes), rtol=0, atol=1e-12)
    second = torch.randn(rows * 2, 2, width, generator=g, dtype=torch.float64)
    two = View(order=None, rows=rows, count=2, other=torch.arange(rows * 2) % 2, rank=None)
    merged = finish(merge([pool.per_row(), RowPool(second, two, pooling).per_row()], pooling), pooling)
    union = torch.cat([by_row, second.view(rows, 2, 2, width)], dim=1)
    assert torch.allclose(merged, torch.stack([brute_pool(r, modes) for r in union]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("rows", [5, GEMM_ROWS + 3])
@pytest.mark.parametrize("bias", ["none", "vector", "matrix"])
def test_affine_equals_addmm_in_value_and_gradient(rows, bias):
    g = torch.Generator().manual_seed(rows)
    x = torch.randn(rows, 3, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    c = {"none": None, "vector": torch.randn(4, generator=g, dtype=torch.float64),
         "matrix": torch.randn(rows, 4, generator=g, dtype=torch.float64)}[bias]
    if c is not None:
        c.requires_grad_()
    leaves = [t for t in (x, weight, c) if t is not None]
    out = affine(x, weight, c)
    reference = x @ weight.t() if c is None else c + x @ weight.t()
    assert torch.allclose(out, reference, rtol=0, atol=1e-12)
    upstream = torch.randn(rows, 4, generator=g, dtype=torch.float64)
    fast = torch.autograd.grad((out * upstream).sum(), leaves)
    slow = torch.autograd.grad((reference * upstream).sum(), leaves)
    for a, b in zip(fast, slow):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-9)
