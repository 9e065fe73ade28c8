"""WMMSE references (Shi, Razaviyayn, Luo, He, IEEE TSP 59(9), 2011).

WMMSE maximises the sum rate by block-coordinate descent on the equivalent weighted sum-MSE
problem ``min sum_k (w_k e_k - log w_k)`` over receivers ``u``, weights ``w`` and transmitters
``v``.  After the ``u`` and ``w`` updates the WMMSE objective equals ``-ln 2 * sum rate``, and
each ``v`` update is an exact block minimisation, so the sum rate is non-decreasing from one
iteration to the next (up to the bisection tolerance).  Two engines, batched over the leading
axis, run under ``torch.no_grad`` and follow the inputs' device and dtype:

* :func:`wmmse_power_control` — scalar powers on fixed single-stream links grouped into
  transmitters with a shared budget (IBC/MCMU: Q streams per BS; D2D: one link per group).  This is
  the scalar WMMSE of Sun et al. (IEEE TSP 2018, "Learning to optimize") with a per-group
  budget: ``v_i = w_i u_i a_ii / (sum_j w_j u_j^2 a_ij^2 + mu_g)`` with ``mu_g`` found by bisection.
* :func:`wmmse_beamforming` — single-antenna receivers, ``M`` multi-antenna BSs, one stream per
  UE, ``serve[m, k]`` says whether BS ``m`` may send stream ``k``, per-BS power budgets.  It
  covers the interference channel (``serve = I``), cooperative beamforming (``serve = 1``) and the
  MU-MISO broadcast channel (``M = 1``).  The ``v`` step is solved per BS:
  ``(A_mm + mu_m I) v_{m,k} = w_k u_k h_{m,k} - sum_{m' != m} A_{mm'} v_{m',k}`` with
  ``A = sum_k w_k |u_k|^2 h_k h_k^H`` and ``mu_m`` by bisection on the eigenvalues of ``A_mm``.
  When every stream is sent by one BS the blocks decouple and all BSs are updated at once
  (this is Shi et al.'s IBC update); otherwise (cooperative) the BSs are updated one after
  another (Gauss-Seidel over BS blocks, each an exact minimisation, so monotonicity is kept).
  :func:`wmmse_ic` runs the interference channel in its compact layout, one beam per BS
  (:func:`wmmse_update_ic`, also the iteration inside the refined models).  ``multiplier="newton"``
  finds each ``mu_m`` by Newton's method instead (:func:`newton_multiplier`, the same value).
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor

from ..objectives import (
    MIN_MULTIPLIER,
    cooperative_amplitudes,
    ic_amplitudes,
    ic_pair_beams,
    pair_diagonal,
    power_control_sum_rate,
    received_power,
    sinr_rates,
    sum_rate_ic_beamforming_node,
)

__all__ = [
    "hermitian_eigh",
    "min_power_multiplier",
    "newton_multiplier",
    "multiplier_solver",
    "wmmse_power_control",
    "wmmse_beamforming",
    "wmmse_ic",
    "wmmse_update",
    "wmmse_update_ic",
    "wmmse_mcmu_power_allocation",
    "wmmse_ibc_power_allocation",
    "wmmse_d2d_link_scheduling",
    "wmmse_ic_beamforming",
    "wmmse_ic_beamforming_edge",
    "wmmse_ic_beamforming_node",
    "wmmse_ic_beamforming_structured",
    "wmmse_cooperative_beamforming",
    "wmmse_mu_miso_precoding",
]

BISECTION_STEPS = 60  # the reference's bisection steps per multiplier (its 1-D search, Shi et al. 2011)
DEFAULT_MULTIPLIER = "bisection"  # the reference's multiplier solver (one of MULTIPLIER_SOLVERS)


# --------------------------------------------------------------------------- shared pieces
def _secular_terms(c2: Tensor, den: Tensor) -> Tensor:
    """``c2_i / den_i^2`` (zero where ``c2_i = 0``), with ``den_i = lam_i + mu``: the terms of a
    BS's transmit power at multiplier ``mu`` (the secular function ``phi(mu)`` is their sum)."""
    return torch.where(c2 > 0, c2 / den.square(), torch.zeros_like(c2))


def min_power_multiplier(lam: Tensor, c2: Tensor, budget: Tensor, steps: int = BISECTION_STEPS) -> Tensor:
    """Smallest ``mu >= 0`` with ``sum_i c2_i / (lam_i + mu)^2 <= budget`` (bisection).

    ``lam``, ``c2``: real ``(..., n)`` with ``lam >= 0``, ``c2 >= 0``; ``budget``: ``(...)``.
    The function is decreasing in ``mu``; the search interval is ``[0, sqrt(sum c2 / budget)]``
    and the returned value is the feasible end of the final interval.  Returns ``(...)``.
    """
    budget = budget.clamp_min(torch.finfo(budget.dtype).tiny)

    def power(mu: Tensor) -> Tensor:
        return _secular_terms(c2, lam + mu.unsqueeze(-1)).sum(dim=-1)

    zero = torch.zeros_like(budget)
    feasible0 = power(zero) <= budget
    if bool(feasible0.all()):
        return zero
    lo, hi = zero, torch.sqrt(c2.sum(dim=-1) / budget)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        ok = power(mid) <= budget
        hi = torch.where(ok, mid, hi)
        lo = torch.where(ok, lo, mid)
    return torch.where(feasible0, zero, hi)


NEWTON_STEPS = 12  # enough for 1e-9 relative accuracy with eigenvalues spread over 10 decades


def newton_multiplier(lam: Tensor, c2: Tensor, budget: Tensor, steps: int = NEWTON_STEPS) -> Tensor:
    """The multiplier of :func:`min_power_multiplier` by Newton's method on the secular equation
    ``phi(mu)^(-1/2) = budget^(-1/2)``, ``phi(mu) = sum_i c2_i / (lam_i + mu)^2`` (as for the
    trust-region subproblem, Moré & Sorensen 1983): ``phi^(-1/2)`` is concave and increasing, so
    from below the root the iterates rise to it monotonically, quadratically at the end.  The
    start ``lower = max_i sqrt(c2_i / budget) - lam_i`` lies below the root (each term alone
    exceeds the budget there), and every iterate is kept at or above it, where each ``lam_i + mu``
    with ``c2_i > 0`` is positive (``phi`` finite) — a guard for rounding: a BS whose terms are
    subnormal (``c2 ~ 1e-45``, a switched-off beam) has its root within rounding of ``lower``.
    A fixed number of ``steps`` (no data-dependent loop), in float64; ``mu = 0`` where the
    budget holds at 0.  The result lies at or below the root, so the power may exceed the budget
    by rounding: callers rescale (:func:`_into_budget`).  Shapes as :func:`min_power_multiplier`.
    """
    wide = torch.float64
    # the eigen-axis leads: torch's sum over a short last axis is slow (70 us for (128, 20, 2)),
    # over a leading one it is a few additions
    lam64, c2_64 = lam.to(wide).movedim(-1, 0).contiguous(), c2.to(wide).movedim(-1, 0).contiguous()
    budget64 = budget.to(wide).clamp_min(torch.finfo(wide).tiny)
    tiny = torch.finfo(wide).tiny
    lower = mu = ((c2_64 / budget64).sqrt() - lam64).amax(dim=0)
    for _ in range(steps):
        den = lam64 + mu  # >= 0, and > 0 where c2 > 0
        terms = _secular_terms(c2_64, den)
        phi = terms.sum(dim=0)
        slope = -2.0 * (terms / den.clamp_min(tiny)).sum(dim=0)  # phi'(mu) < 0
        step = 2.0 * phi * (1.0 - (phi / budget64).sqrt()) / slope.clamp_max(-tiny)
        mu = torch.maximum(mu + torch.where(slope < 0, step, torch.zeros_like(step)), lower)
    feasible0 = _secular_terms(c2_64, lam64).sum(dim=0) <= budget64
    return torch.where(feasible0, torch.zeros_like(mu), mu).to(lam.dtype)


MULTIPLIER_SOLVERS = ("bisection", "newton")


def multiplier_solver(name: str, bisection_steps: int = BISECTION_STEPS):
    """The function ``(lam, c2, budget) -> mu`` that finds each BS's power multiplier:
    ``"bisection"`` (:func:`min_power_multiplier`, Shi et al.'s choice) or ``"newton"``
    (:func:`newton_multiplier`: the same multiplier in 12 Newton steps instead of 60 bisection
    steps)."""
    if name == "bisection":
        return lambda lam, c2, budget: min_power_multiplier(lam, c2, budget, bisection_steps)
    if name == "newton":
        return newton_multiplier
    raise ValueError(f"multiplier must be one of {', '.join(MULTIPLIER_SOLVERS)}, got {name!r}")


MAX_ITERATIONS = 3000  # the cap of a converged reference; per-sample stopping ends almost every sample earlier
TOLERANCE = 1e-6  # a sample stops when an iteration changes its sum rate by at most this (relative)
RANDOM_STARTS = 32  # random starts besides the documented one
SCREEN_TOLERANCE = 1e-4  # every start runs to this tolerance or SCREEN_ITERATIONS; each sample's best goes on
SCREEN_ITERATIONS = 100


def _iterate(update, rate, starts: list[Tensor], operands: tuple[Tensor, ...], iters: int | None, tol: float | None,
             return_history: bool, out=None, report: dict | None = None):
    """WMMSE's outer loop: ``x <- update(x, *operands)`` until the sum rate ``rate(x,
    *operands)`` ``(batch,)`` of a sample changes by at most ``tol`` (relative to ``max(1,
    rate)``; ``tol=0`` never stops early; None: :data:`TOLERANCE`) or after ``iters`` iterations
    (None: :data:`MAX_ITERATIONS`). A sample that has
    converged drops out, so an iteration costs the samples still running; ``operands`` are the
    tensors with a leading sample axis that ``update`` and ``rate`` read.

    With several ``starts`` (``(batch, ...)`` each) every start first runs to the looser
    :data:`SCREEN_TOLERANCE` or for :data:`SCREEN_ITERATIONS`, and per sample the start with the
    highest sum rate there goes on to ``tol`` (the screened run's iterations count against
    ``iters``). Returns ``out(x)`` (``x``
    if ``out`` is None) and, if ``return_history``, the kept run's sum rates ``(T+1, batch)`` (a
    stopped sample's last value repeated). ``report``, if given, receives ``iterations``
    ``(batch,)`` (the kept run's) and ``start`` ``(batch,)`` (its index in ``starts``)."""
    iters = MAX_ITERATIONS if iters is None else iters
    tol = TOLERANCE if tol is None else tol
    screen = max(tol, SCREEN_TOLERANCE) if len(starts) > 1 and tol > 0 else tol
    best = None
    for index, start in enumerate(starts):
        cap = iters if screen == tol else min(iters, SCREEN_ITERATIONS)
        x, value, used, history = _run(update, rate, start, operands, cap, screen, return_history)
        if best is None:
            best = [x, value, used, history, torch.zeros_like(used)]
            continue
        better = value > best[1]
        best[0] = torch.where(better.view(-1, *[1] * (x.dim() - 1)), x, best[0])
        best[1] = torch.where(better, value, best[1])
        best[2] = torch.where(better, used, best[2])
        best[4] = torch.where(better, torch.full_like(used, index), best[4])
        if return_history:
            best[3] = torch.where(better, *_same_length(history, best[3]))
    x, _, used, history, chosen = best
    if screen != tol:
        x, _, more, rest = _run(update, rate, x, operands, iters - int(used.max()), tol, return_history)
        used = used + more
        if return_history:
            history = torch.cat([history, rest[1:]])
    if report is not None:
        report.update(iterations=used, start=chosen)
    result = x if out is None else out(x)
    return (result, history) if return_history else result


def _run(update, rate, x: Tensor, operands: tuple[Tensor, ...], iters: int, tol: float, keep: bool):
    """One start of :func:`_iterate`: (final ``x``, its sum rate, iterations per sample, history or None)."""
    value = rate(x, *operands)
    used = torch.zeros(value.shape, dtype=torch.long, device=value.device)
    running = torch.arange(len(value), device=value.device)
    history = [value] if keep else None
    for _ in range(iters):
        if len(running) == 0:
            break
        whole = len(running) == len(value)
        here = operands if whole else tuple(t[running] for t in operands)
        new = update(x if whole else x[running], *here)
        new_value = rate(new, *here)
        previous = value[running]
        x, value = x.index_copy(0, running, new), value.index_copy(0, running, new_value)
        used[running] += 1
        if keep:
            history.append(value)
        if tol > 0:
            running = running[(new_value - previous).abs() > tol * previous.abs().clamp_min(1.0)]
    return x, value, used, None if history is None else torch.stack(history)


def _same_length(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Two histories ``(T, batch)`` padded to one length by repeating their last rows."""
    n = max(len(a), len(b))
    return tuple(torch.cat([h, h[-1:].expand(n - len(h), -1)]) for h in (a, b))


def _starts(first: Tensor, random_start, starts: int | None, seed: int) -> list[Tensor]:
    """The documented start ``first`` and ``starts`` (None: :data:`RANDOM_STARTS`) draws of
    ``random_start(generator)``."""
    starts = RANDOM_STARTS if starts is None else starts
    generator = torch.Generator(device=first.device).manual_seed(seed)
    return [first] + [random_start(generator) for _ in range(starts)]


# --------------------------------------------------------------------------- scalar engine
def wmmse_power_control(gain: Tensor, noise_var: Tensor, budget: Tensor, *, iters: int | None = None,
                        tol: float | None = None, starts: int | None = None, seed: int = 0,
                        bisection_steps: int = BISECTION_STEPS, return_history: bool = False,
                        report: dict | None = None):
    """Scalar WMMSE power control with per-group budgets.

    ``gain``: real ``(batch, G, S, G, S)``; ``gain[b, g, s, h, t]`` = power gain from Tx node
    ``(g, s)`` to the receiver of link ``(h, t)`` (transmitter axes first); link ``(g, s)`` is
    Tx node ``(g, s)`` -> its receiver.  ``noise_var``: ``(batch, G, S)``.  ``budget``:
    ``(batch, G)``, ``sum_s p[g, s] <= budget[g]``.  Runs from the equal full-power split and
    from ``starts`` random full-power splits (drawn with ``seed``), each sample until its sum
    rate changes by at most ``tol`` (relative) or for ``iters`` iterations, and keeps each
    sample's best (:func:`_iterate`, which also explains ``report``).  Returns ``p``
    ``(batch, G, S)`` (and the sum-rate history ``(T+1, batch)`` in bits/s/Hz if
    ``return_history``).
    """
    with torch.no_grad():
        b, G, S = noise_var.shape
        if budget.shape != (b, G) or gain.shape != (b, G, S, G, S):
            raise ValueError(f"expected gain {(b, G, S, G, S)} and budget {(b, G)} for noise_var {(b, G, S)}, "
                             f"got {tuple(gain.shape)} and {tuple(budget.shape)}")
        L = G * S
        g = gain.reshape(b, L, L)
        a = torch.diagonal(g, dim1=-2, dim2=-1).clamp_min(0).sqrt()
        noise = noise_var.reshape(b, L)
        off = ~torch.eye(L, dtype=torch.bool, device=g.device)

        def update(v: Tensor, g: Tensor, a: Tensor, noise: Tensor, budget: Tensor) -> Tensor:
            n = len(v)
            rx = g * v.square().unsqueeze(-1)
            interference = (rx * off).sum(dim=-2) + noise
            signal = (a * v).square()
            u = a * v / (signal + interference)
            w = 1.0 + signal / interference
            D = (g * (w * u.square()).unsqueeze(1)).sum(dim=-1)  # D_i = sum_j w_j u_j^2 g_ij
            num = w * u * a
            mu = min_power_multiplier(D.reshape(n, G, S), num.square().reshape(n, G, S), budget, bisection_steps)
            den = D + mu.repeat_interleave(S, dim=-1)
            v = torch.where(num > 0, num / den, torch.zeros_like(num))
            total = v.square().reshape(n, G, S).sum(dim=-1)
            return v * (budget / total.clamp_min(torch.finfo(v.dtype).tiny)).sqrt().clamp(max=1.0).repeat_interleave(S, -1)

        def split(fractions: Tensor) -> Tensor:
            return (budget.unsqueeze(-1) * fractions / fractions.sum(-1, keepdim=True)).sqrt().reshape(b, L)

        def random_start(generator: torch.Generator) -> Tensor:
            return split(torch.rand(b, G, S, generator=generator, device=g.device, dtype=g.dtype))

        first = split(torch.ones(b, G, S, device=g.device, dtype=g.dtype))
        return _iterate(update, lambda v, g, a, noise, budget: power_control_sum_rate(g, v.square(), noise),
                        _starts(first, random_start, starts, seed), (g, a, noise, budget), iters, tol,
                        return_history, lambda v: v.square().reshape(b, G, S), report)


# --------------------------------------------------------------------------- vector engine
CLOSED_FORM_MIN = 64  # 2x2 blocks from which the closed form beats LAPACK on the CPU (benchmarks/wmmse_iteration.py)


def hermitian_eigh(A: Tensor) -> tuple[Tensor, Tensor]:
    """``torch.linalg.eigh`` of Hermitian ``A`` ``(..., N, N)``: ascending eigenvalues ``(..., N)``
    and unitary ``U`` ``(..., N, N)`` with ``A = U diag(lam) U^H``.  For 2x2 blocks (ENGNN's
    two-antenna BSs), at least :data:`CLOSED_FORM_MIN` of them, in closed form
    (:func:`_eigh_2x2`): LAPACK's per-matrix calls cost 4-5x more there; below, LAPACK is
    cheaper (`benchmarks/wmmse_iteration.py`)."""
    if A.shape[-1] == 2 and A[..., 0, 0].numel() >= CLOSED_FORM_MIN:
        return _eigh_2x2(A)
    return torch.linalg.eigh(A)


def _eigh_2x2(A: Tensor) -> tuple[Tensor, Tensor]:
    """Eigen-decomposition of Hermitian ``[[a, b], [b*, d]]`` ``(..., 2, 2)``: ``lam = m -+ r``
    with ``m = (a + d) / 2``, ``delta = (a - d) / 2``, ``r = sqrt(delta^2 + |b|^2)``; the
    eigenvector of ``m + r`` is ``(r + delta, b*)`` for ``delta >= 0``, else ``(b, r - delta)``
    (the larger of the two candidates, so no cancellation), that of ``m - r`` its orthogonal
    ``(-q*, p*)``; ``A = m I`` (``r = 0``) takes the identity's columns."""
    a, d, b = A[..., 0, 0].real, A[..., 1, 1].real, A[..., 0, 1]
    m, delta = 0.5 * (a + d), 0.5 * (a - d)
    r = torch.hypot(delta, b.abs())  # no overflow of delta^2 in float32
    upper = delta >= 0
    p = torch.where(upper, (r + delta).to(A.dtype), b)
    q = torch.where(upper, b.conj(), (r - delta).to(A.dtype))
    norm = torch.sqrt(2.0 * r) * torch.sqrt(r + delta.abs())  # ||(p, q)||, without overflow
    degenerate = norm == 0
    inverse = (1.0 / torch.where(degenerate, torch.ones_like(norm), norm)).to(A.dtype)
    p = torch.where(degenerate, torch.zeros_like(p), p * inverse)
    q = torch.where(degenerate, torch.ones_like(q), q * inverse)
    U = torch.stack((torch.stack((-q.conj(), p), dim=-1), torch.stack((p.conj(), q), dim=-1)), dim=-2)
    return torch.stack((m - r, m + r), dim=-1), U


def _solve_bs(lam: Tensor, U: Tensor, rhs: Tensor, budget: Tensor, multiplier) -> tuple[Tensor, Tensor]:
    """Solve ``(A + mu I) v_k = r_k`` for all ``k`` with ``sum_k ||v_k||^2 <= budget``.

    ``A = U diag(lam) U^H``; ``lam`` ``(..., N)``, ``U`` ``(..., N, N)``, ``rhs`` ``(..., K, N)``,
    ``budget`` ``(...)``; ``mu >= 0`` minimal (complementary slackness), found by ``multiplier``
    (:func:`multiplier_solver`).  Returns ``v`` ``(..., K, N)`` and ``mu`` ``(...)``.
    """
    Y = rhs @ U.conj()  # Y[k] = U^H r_k, as rows (an einsum gives the same bits, 8x slower for one sample)
    c2 = received_power(Y).sum(dim=-2)
    mu = multiplier(lam, c2, budget)
    den = (lam + mu.unsqueeze(-1)).unsqueeze(-2)
    X = torch.where(den > 0, Y / den.clamp_min(torch.finfo(lam.dtype).tiny), torch.zeros_like(Y))
    return _into_budget(X @ U.transpose(-1, -2), budget), mu  # v_k = U x_k, as rows


def _into_budget(V: Tensor, budget: Tensor) -> Tensor:
    """``V`` ``(..., K, N)`` scaled down where its power exceeds ``budget`` ``(...)`` (the
    multiplier's tolerance).  A BS within its budget divides by nothing, so a switched-off BS
    (power 0) has finite gradients."""
    power = received_power(V).sum(dim=(-2, -1))
    over = torch.where(power > budget, power, budget).clamp_min(torch.finfo(power.dtype).tiny)
    return V * (budget / over).sqrt()[..., None, None]


def _solve_bs_differentiable(A: Tensor, rhs: Tensor, budget: Tensor, multiplier) -> Tensor:
    """:func:`_solve_bs` for ``A`` ``(..., N, N)``, differentiable in ``A`` and ``rhs``: ``mu``
    found as there on detached values, held constant; then ``(A + mu I) v_k = r_k`` solved
    in double precision with ``mu`` floored at :data:`MIN_MULTIPLIER` of ``trace A`` (a slack BS
    whose ``A`` is singular; as in :func:`~designer.wireless.objectives.structured_ic_beams`).
    No eigenvectors are differentiated: their phase is arbitrary, and autograd refuses them."""
    with torch.no_grad():
        lam, U = hermitian_eigh(A)
        mu = _solve_bs(lam.clamp_min(0), U, rhs, budget, multiplier)[1]
    wide = torch.complex128
    trace = torch.diagonal(A, dim1=-2, dim2=-1).real.sum(-1).detach()
    mu = torch.maximum(mu, MIN_MULTIPLIER * trace).to(torch.float64)
    eye = torch.eye(A.shape[-1], dtype=wide, device=A.device)
    X = torch.linalg.solve(A.to(wide) + mu[..., None, None] * eye, rhs.to(wide).transpose(-1, -2))
    return _into_budget(X.transpose(-1, -2).to(rhs.dtype), budget)


def _beamformer_update(A: Tensor, rhs: Tensor, budget: Tensor, multiplier) -> Tensor:
    """WMMSE's ``v`` update of every BS at once, ``(A_m + mu_m I) v_{m,k} = r_{m,k}`` within
    budgets: ``A`` ``(batch, M, N, N)``, ``rhs`` ``(batch, M, K, N)``, ``budget`` ``(batch, M)``.
    Under ``torch.no_grad`` (the reference) each BS's system is solved through its
    eigen-decomposition (:func:`_solve_bs`); with gradients on, by
    :func:`_solve_bs_differentiable` (each ``mu_m`` held at its value), so a learned model's
    beams can be trained through it.  The two agree to the multiplier's floor."""
    if torch.is_grad_enabled():
        return _solve_bs_differentiable(A, rhs, budget, multiplier)
    lam, U = hermitian_eigh(A)
    return _solve_bs(lam.clamp_min(0), U, rhs, budget, multiplier)[0]


def _mmse_step(H: Tensor, amp: Tensor, noise_var: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The receiver and weight updates of WMMSE for beams with amplitudes ``amp`` ``(batch,
    stream, UE)`` (:func:`~designer.wireless.objectives.cooperative_amplitudes`, or
    :func:`~designer.wireless.objectives.ic_amplitudes` for one stream per BS) over channels
    ``H`` ``(batch, M, K, N)``: MMSE receivers ``u`` and weights ``w = 1 + SINR`` ``(batch, K)``,
    ``c = w |u|^2`` (complex dtype) and ``A_m = sum_k c_k h_{m,k} h_{m,k}^H`` ``(batch, M, N, N)``."""
    pw = received_power(amp)
    signal = torch.diagonal(pw, dim1=-2, dim2=-1)
    off = ~torch.eye(pw.shape[-1], dtype=torch.bool, device=H.device)
    interference = (pw * off).sum(dim=-2) + noise_var
    u = torch.diagonal(amp, dim1=-2, dim2=-1) / (signal + interference)
    w = 1.0 + signal / interference
    c = (w * received_power(u)).to(H.dtype)
    # A_m = (c H_m)^T conj(H_m) over the UE axis: the einsum "bk,bmkn,bmkp->bmnp" in the same bits, faster
    return u, w, c, (H * c[:, None, :, None]).transpose(-1, -2) @ H.conj()


def _update_terms(H: Tensor, V: Tensor, noise_var: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """What a beamformer update needs for beams ``V`` ``(batch, M, K, N)``: the amplitudes
    ``amp``, ``c`` and ``A`` of :func:`_mmse_step`, and the right-hand sides ``w_k u_k h_{m,k}``
    ``(batch, M, K, N)``."""
    amp = cooperative_amplitudes(H, V)
    u, w, c, A = _mmse_step(H, amp, noise_var)
    return amp, c, A, (w * u)[:, None, :, None] * H


def wmmse_update(H: Tensor, V: Tensor, budget: Tensor, noise_var: Tensor, mask: Tensor | None = None,
                 bisection_steps: int = BISECTION_STEPS, multiplier: str = DEFAULT_MULTIPLIER) -> Tensor:
    """One WMMSE iteration from beams ``V`` when every stream is sent by one BS (Shi et al.
    2011, Alg. 1: the ``u`` and ``w`` updates, then all BSs' ``v`` updates at once,
    :func:`_beamformer_update`), shapes as in :func:`wmmse_beamforming`; ``mask`` ``(M, K, 1)``
    zeroes the streams a BS does not send; ``multiplier`` as :func:`multiplier_solver`.
    Returns the new ``V`` ``(batch, M, K, N)``.
    """
    _, _, A, rhs = _update_terms(H, V, noise_var)
    if mask is not None:
        rhs = rhs * mask
    V = _beamformer_update(A, rhs, budget, multiplier_solver(multiplier, bisection_steps))
    return V if mask is None else V * mask


def _ic_terms(H: Tensor, v: Tensor, noise_var: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`_update_terms` in the interference channel's compact layout, BS ``k`` sending
    stream ``k`` only: ``H`` ``(batch, K, K, N)``, beams ``v`` ``(batch, K, N)``.  Returns
    ``c`` ``(batch, K)``, ``A`` ``(batch, K, N, N)`` and the right-hand sides
    ``w_k u_k h_{k,k}`` ``(batch, K, 1, N)`` (one stream per BS)."""
    u, w, c, A = _mmse_step(H, ic_amplitudes(H, v), noise_var)
    own = pair_diagonal(H)  # h_{k,k}  (batch, K, N)
    return c, A, ((w * u).unsqueeze(-1) * own).unsqueeze(-2)


def wmmse_update_ic(H: Tensor, v: Tensor, budget: Tensor, noise_var: Tensor, bisection_steps: int = BISECTION_STEPS,
                    multiplier: str = DEFAULT_MULTIPLIER) -> Tensor:
    """:func:`wmmse_update` for the interference channel in its compact layout (a ``K``-th of
    the work): ``H`` ``(batch, K, K, N)``, ``H[b, m, k] = h_{m,k}``; beams ``v`` ``(batch, K,
    N)``, ``v[b, k]`` BS ``k``'s beam for UE ``k``; ``budget``, ``noise_var`` ``(batch, K)``.
    Returns the new ``v`` ``(batch, K, N)``."""
    _, A, rhs = _ic_terms(H, v, noise_var)
    return _beamformer_update(A, rhs, budget, multiplier_solver(multiplier, bisection_steps)).squeeze(-2)


def _initial_beams(H: Tensor, budget: Tensor, per_bs: Tensor, init: str | Tensor) -> Tensor:
    """The start ``(batch, M, K, N)`` of :func:`wmmse_beamforming`: ``init`` itself when it is a
    tensor, else full power split equally over each BS's streams along :func:`_initial_directions`."""
    if not isinstance(init, Tensor):
        return _full_power(_initial_directions(H, init), budget, per_bs)
    if init.shape != H.shape:
        raise ValueError(f"a starting point must have H's shape {tuple(H.shape)}, got {tuple(init.shape)}")
    return init.to(device=H.device, dtype=H.dtype)


def _full_power(directions: Tensor, budget: Tensor, per_bs: Tensor) -> Tensor:
    """Unit-norm ``directions`` ``(batch, M, K, N)`` at full power split equally over each BS's streams."""
    return (budget / per_bs).sqrt()[..., None, None] * directions


def _unit(X: Tensor) -> Tensor:
    return X / torch.linalg.vector_norm(X, dim=-1, keepdim=True).clamp_min(torch.finfo(X.real.dtype).tiny)


def _initial_directions(H: Tensor, init: str) -> Tensor:
    """Unit-norm starting directions ``(batch, M, K, N)`` of :func:`wmmse_beamforming`."""
    if init == "mrt":
        return _unit(H)
    if init == "uniform":
        return torch.full_like(H, H.shape[-1] ** -0.5)
    raise ValueError(f"init must be 'mrt' or 'uniform', got {init!r}")


def _random_directions(H: Tensor, generator: torch.Generator) -> Tensor:
    """Unit-norm directions ``(batch, M, K, N)``, uniform on the complex sphere (a random start)."""
    parts = torch.randn(2, *H.shape, generator=generator, device=H.device, dtype=H.real.dtype)
    return _unit(torch.complex(parts[0], parts[1]))


def _beamforming_rate(V: Tensor, H: Tensor, budget: Tensor, noise_var: Tensor) -> Tensor:
    return sinr_rates(received_power(cooperative_amplitudes(H, V)), noise_var).sum(dim=-1)


def wmmse_beamforming(H: Tensor, budget: Tensor, noise_var: Tensor, serve: Tensor | None = None, *,
                      iters: int | None = None, tol: float | None = None, starts: int | None = None, seed: int = 0,
                      bisection_steps: int = BISECTION_STEPS, multiplier: str = DEFAULT_MULTIPLIER,
                      init: str | Tensor = "mrt", return_history: bool = False, report: dict | None = None):
    """Vector WMMSE for single-antenna UEs served by multi-antenna BSs under per-BS budgets.

    ``H``: complex ``(batch, M, K, N)``, ``H[b, m, k, :] = h_{m,k}`` (BS ``m`` -> UE ``k``,
    ``y_k = sum_{m,j} h_{m,k}^H v_{m,j} s_j + n_k``).  ``budget``: ``(batch, M)``,
    ``sum_k ||v_{m,k}||^2 <= budget[m]``.  ``noise_var``: ``(batch, K)``.  ``serve``: bool
    ``(M, K)``, which BS may send which stream (default all).  Initialisation (``init``), every
    BS at full power split equally over its streams: ``"mrt"``, ``v_{m,k} = sqrt(budget_m /
    #served_m) h_{m,k}/||h_{m,k}||``; ``"uniform"``, the channel-blind direction ``(1, ..., 1) /
    sqrt(N)`` instead (the start of MPGNN's public WMMSE, Shen et al. 2021, against which ENGNN
    compares); or a tensor ``(batch, M, K, N)``, beams to start from as they are (a learned
    model's, to refine them; the first update restores the budgets).  Besides ``init``,
    ``starts`` random starts (uniform directions at full power, drawn with ``seed``); per
    sample the best end is kept, each run stopping per sample as :func:`_iterate` describes
    (with ``report``).  ``multiplier``: how each BS's power multiplier is found
    (:func:`multiplier_solver`).  Returns ``V`` ``(batch, M, K, N)`` (zero where not served).
    """
    with torch.no_grad():
        b, M, K, N = H.shape
        if budget.shape != (b, M) or noise_var.shape != (b, K):
            raise ValueError(f"expected budget {(b, M)} and noise_var {(b, K)} for H {(b, M, K, N)}, "
                             f"got {tuple(budget.shape)} and {tuple(noise_var.shape)}")
        real = H.real.dtype
        serve = torch.ones(M, K, dtype=torch.bool) if serve is None else serve.to(torch.bool)
        serve = serve.to(H.device)
        mask = serve.to(real)[..., None]  # (M, K, 1)
        sequential = bool((serve.sum(dim=0) > 1).any())
        per_bs = serve.sum(dim=1).clamp_min(1).to(real)
        solve_multiplier = multiplier_solver(multiplier, bisection_steps)

        def update(V: Tensor, H: Tensor, budget: Tensor, noise_var: Tensor) -> Tensor:
            if not sequential:
                return wmmse_update(H, V, budget, noise_var, mask, bisection_steps, multiplier)
            amp, c, A, rhs = _update_terms(H, V, noise_var)
            lam, U = hermitian_eigh(A)
            lam = lam.clamp_min(0)
            V = V.clone()
            for m in range(M):
                coupled = torch.einsum("bj,bjn,bkj->bkn", c, H[:, m], amp)
                own = torch.einsum("bnp,bkp->bkn", A[:, m], V[:, m])
                r = (rhs[:, m] - coupled + own) * mask[m]
                v_new = _solve_bs(lam[:, m], U[:, m], r, budget[:, m], solve_multiplier)[0] * mask[m]
                amp = amp + torch.einsum("bjn,bkn->bkj", H[:, m].conj(), v_new - V[:, m])
                V[:, m] = v_new
            return V

        first = _initial_beams(H, budget, per_bs, init) * mask
        begin = _starts(first, lambda gen: _full_power(_random_directions(H, gen), budget, per_bs) * mask, starts, seed)
        return _iterate(update, _beamforming_rate, begin, (H, budget, noise_var), iters, tol, return_history,
                        report=report)


def wmmse_ic(features: Mapping[str, Tensor], *, iters: int | None = None, tol: float | None = None,
             starts: int | None = None, seed: int = 0, bisection_steps: int = BISECTION_STEPS,
             multiplier: str = DEFAULT_MULTIPLIER, init: str | Tensor = "mrt", return_history: bool = False,
             report: dict | None = None):
    """:func:`wmmse_beamforming` for the interference channel (BS ``k`` serves UE ``k`` only) in
    its compact layout, each iteration :func:`wmmse_update_ic` — the same iterates (the tests
    check it) at less cost.  ``features``: ``H`` ``(batch, K, K, N)`` (BS ``m`` -> UE ``k``),
    ``p_max``, ``sigma`` ``(batch, K)``; ``init``, ``starts`` and stopping as there (a tensor
    ``init`` in its layout ``(batch, K, K, N)``, of which the diagonal is used).  Returns ``v``
    ``(batch, K, N)`` (and the history).
    """
    with torch.no_grad():
        H, budget, sigma = features["H"], features["p_max"], features["sigma"]
        b, K = H.shape[:2]
        if budget.shape != (b, K) or sigma.shape != (b, K) or H.shape[2] != K:
            raise ValueError(f"expected H (batch, K, K, N) with p_max and sigma (batch, K) = {(b, K)}, "
                             f"got {tuple(H.shape)}, {tuple(budget.shape)} and {tuple(sigma.shape)}")
        ones = torch.ones_like(budget[0])
        first = pair_diagonal(_initial_beams(H, budget, ones, init))
        begin = _starts(first, lambda gen: pair_diagonal(_full_power(_random_directions(H, gen), budget, ones)),
                        starts, seed)
        return _iterate(lambda v, H, budget, sigma: wmmse_update_ic(H, v, budget, sigma.square(), bisection_steps,
                                                                   multiplier),
                        lambda v, H, budget, sigma: sum_rate_ic_beamforming_node({"H": H, "sigma": sigma}, {"v": v}),
                        begin, (H, budget, sigma), iters, tol, return_history, report=report)


# --------------------------------------------------------------------------- problem wrappers
def _diag_embed_pairs(p: Tensor) -> Tensor:
    """``(batch, B, Q)`` -> ``(batch, B, Q, B, Q)`` with ``p`` on the diagonal ``[c, q, c, q]``."""
    b, B, Q = p.shape
    return torch.diag_embed(p.reshape(b, B * Q)).reshape(b, B, Q, B, Q)


def _map_out(result, fn, return_history: bool):
    if return_history:
        out, hist = result
        return fn(out), hist
    return fn(result)


def wmmse_mcmu_power_allocation(features: Mapping[str, Tensor], **kwargs):
    """WMMSE for MCMU power allocation (Zhao eq. 1; reference of Zhao §6-C).

    ``features["H"]`` ``(batch, M, K, M, K)`` (receiver axes first, see the objective); budget 1
    per cell, unit noise.  Returns ``{"p": (batch, M, K)}``.  ``kwargs`` go to
    :func:`wmmse_power_control`.
    """
    H = features["H"]
    b, M, K = H.shape[:3]
    gain = H.permute(0, 3, 4, 1, 2)  # -> [tx cell, tx AN, rx cell, rx UE]
    ones = torch.ones(b, M, K, dtype=H.dtype, device=H.device)
    res = wmmse_power_control(gain, ones, ones[..., 0], **kwargs)
    return _map_out(res, lambda p: {"p": p}, kwargs.get("return_history", False))


def wmmse_ibc_power_allocation(features: Mapping[str, Tensor], **kwargs):
    """WMMSE for IBC power allocation (ENGNN eq. 9; reference of ENGNN §IV-B).

    ``G`` ``(batch, B, Q, B, Q)`` amplitudes (Tx axes first), ``sigma`` and ``p_max``
    ``(batch, B, Q)``; budget of cell ``c`` is ``p_max[:, c, 0]``.  Returns
    ``{"P": (batch, B, Q, B, Q)}`` with the powers on the diagonal ``[c, q, c, q]``.
    """
    G, sigma, p_max = features["G"], features["sigma"], features["p_max"]
    res = wmmse_power_control(G.square(), sigma.square(), p_max[..., 0], **kwargs)
    return _map_out(res, lambda p: {"P": _diag_embed_pairs(p)}, kwargs.get("return_history", False))


def wmmse_d2d_link_scheduling(features: Mapping[str, Tensor], **kwargs):
    """Scalar WMMSE power control for D2D (each link its own budget 1, unit noise).

    ``features["H"]`` ``(batch, K, K)`` (Tx -> Rx).  Returns ``{"rho": (batch, K)}`` in [0, 1].
    """
    H = features["H"]
    b, K, _ = H.shape
    ones = torch.ones(b, K, 1, dtype=H.dtype, device=H.device)
    res = wmmse_power_control(H.reshape(b, K, 1, K, 1), ones, ones[..., 0], **kwargs)
    return _map_out(res, lambda p: {"rho": p[..., 0]}, kwargs.get("return_history", False))


def wmmse_ic_beamforming(features: Mapping[str, Tensor], variant: str = "edge", **kwargs):
    """WMMSE for interference-channel beamforming (ENGNN eq. 4; reference of ENGNN §IV-A).

    ``H`` ``(batch, K, K, N)`` (BS ``m`` -> UE ``k``), ``p_max``, ``sigma`` ``(batch, K)``; runs
    :func:`wmmse_ic` (``kwargs``).  Returns ``{"V": (batch, K, K, N)}`` (only ``V[:, k, k]``
    non-zero) for ``variant="edge"`` or ``{"v": (batch, K, N)}`` for ``variant="node"``.
    """
    if variant == "edge":
        fn = lambda v: {"V": ic_pair_beams(features, {"v": v})}  # noqa: E731
    elif variant == "node":
        fn = lambda v: {"v": v}  # noqa: E731
    else:
        raise ValueError(f"variant must be 'edge' or 'node', got {variant!r}")
    return _map_out(wmmse_ic(features, **kwargs), fn, kwargs.get("return_history", False))


def wmmse_ic_beamforming_edge(features: Mapping[str, Tensor], **kwargs):
    """:func:`wmmse_ic_beamforming` with ``variant="edge"``."""
    return wmmse_ic_beamforming(features, "edge", **kwargs)


def wmmse_ic_beamforming_node(features: Mapping[str, Tensor], **kwargs):
    """:func:`wmmse_ic_beamforming` with ``variant="node"``."""
    return wmmse_ic_beamforming(features, "node", **kwargs)


LOG_LIMIT = 30.0  # the structured reference's logs lie in ±LOG_LIMIT (a switched-off UE has c = 0)


def wmmse_ic_beamforming_structured(features: Mapping[str, Tensor], **kwargs):
    """WMMSE for interference-channel beamforming in the structured form of
    :func:`~designer.wireless.objectives.structured_ic_beams`: WMMSE's beams after ``iters``
    iterations, then one more beamformer update written as its parameters — ``weight = log(w_j
    |u_j|^2)`` per UE, ``multiplier = log mu_k`` and ``power = ||v_k||^2`` per BS — so the sum
    rate is that of iteration ``iters + 1`` (up to the objective's floor on ``mu_k``; the logs are
    clamped to ``±LOG_LIMIT``: a UE whose beam is off has ``c_j = 0``, an unconstrained BS
    ``mu_k = 0``).  ``kwargs`` go to :func:`wmmse_ic` (not ``return_history``).  Returns
    ``{"weight", "multiplier", "power"}``, each ``(batch, K)``.
    """
    H, p_max, sigma = features["H"], features["p_max"], features["sigma"]
    solve_multiplier = multiplier_solver(kwargs.get("multiplier", DEFAULT_MULTIPLIER),
                                         kwargs.get("bisection_steps", BISECTION_STEPS))
    v = wmmse_ic(features, **kwargs)
    with torch.no_grad():
        c, A, rhs = _ic_terms(H, v, sigma.square())
        lam, U = hermitian_eigh(A)
        v, mu = _solve_bs(lam.clamp_min(0), U, rhs, p_max, solve_multiplier)
        logs = {"weight": c.real.log(), "multiplier": mu.log()}
        return {**{k: t.clamp(-LOG_LIMIT, LOG_LIMIT) for k, t in logs.items()},
                "power": received_power(v).sum(dim=(-2, -1))}


def wmmse_cooperative_beamforming(features: Mapping[str, Tensor], **kwargs):
    """WMMSE for cooperative beamforming with per-BS budgets (ENGNN eq. 15; ENGNN §IV-C).

    ``H`` ``(batch, M, K, N)``, ``p_max`` ``(batch, M)``, ``sigma`` ``(batch, K)``.  Every BS serves
    every UE, so the BS blocks are updated in turn (see module docstring).  Returns
    ``{"V": (batch, M, K, N)}``.
    """
    H, p_max, sigma = features["H"], features["p_max"], features["sigma"]
    res = wmmse_beamforming(H, p_max, sigma.square(), None, **kwargs)
    return _map_out(res, lambda V: {"V": V}, kwargs.get("return_history", False))


def wmmse_mu_miso_precoding(features: Mapping[str, Tensor], **kwargs):
    """WMMSE for MU-MISO precoding under the total power ``||V||_F^2 <= 1`` (unit noise).

    ``features["H"]`` ``(batch, K, N)`` in the matrix convention ``y = H x``; it is mapped to the
    ``h^H v`` convention by ``h_k = conj(H[k])``.  Returns ``{"V": (batch, K, N)}``.
    """
    H = features["H"]
    b, K, _ = H.shape
    real = H.real.dtype
    ones_k = torch.ones(b, K, dtype=real, device=H.device)
    ones_1 = torch.ones(b, 1, dtype=real, device=H.device)
    res = wmmse_beamforming(H.conj().unsqueeze(1), ones_1, ones_k, None, **kwargs)
    return _map_out(res, lambda V: {"V": V[:, 0]}, kwargs.get("return_history", False))


def wmmse_mu_miso_precoding_structured(features: Mapping[str, Tensor], **kwargs):
    """WMMSE for MU-MISO precoding in the structured form of
    :func:`~designer.wireless.objectives.structured_mu_miso_beams`: WMMSE's precoders
    (:func:`wmmse_mu_miso_precoding`, ``kwargs``, not ``return_history``), then one more
    beamformer update written as its parameters — ``weight = log(c_j / mu)`` (``c_j = w_j
    |u_j|^2``, ``mu`` the power multiplier; clamped to ``±LOG_LIMIT``) and ``amplitude =
    ||v_k||`` — so the sum rate is that of the next WMMSE iterate.  Returns ``{"weight",
    "amplitude"}``, each ``(batch, K)``."""
    H = features["H"]
    solve_multiplier = multiplier_solver(kwargs.get("multiplier", DEFAULT_MULTIPLIER),
                                         kwargs.get("bisection_steps", BISECTION_STEPS))
    V = wmmse_mu_miso_precoding(features, **kwargs)["V"]
    with torch.no_grad():
        h = H.conj().unsqueeze(1)  # (batch, 1, K, N): one BS, h_k = conj(H[k])
        noise = torch.ones(H.shape[:2], dtype=H.real.dtype, device=H.device)
        _, c, A, rhs = _update_terms(h, V.unsqueeze(1), noise)
        lam, U = hermitian_eigh(A)
        V, mu = _solve_bs(lam.clamp_min(0), U, rhs, noise[:, :1], solve_multiplier)
        weight = c.real.log() - mu.log()  # (batch, K) - (batch, 1)
        return {"weight": weight.clamp(-LOG_LIMIT, LOG_LIMIT), "amplitude": received_power(V[:, 0]).sum(-1).sqrt()}
