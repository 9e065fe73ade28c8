"""One WMMSE iteration in the interference channel, four ways, and WMMSE run to convergence with
either multiplier solver. Not a test: prints a Markdown table.

    python benchmarks/wmmse_iteration.py [--threads 2] [--K 20] [--repeats 20]

The rows time, in one process on the same random channels (ENGNN's scenario, N = 2):

* one iteration from the same beams (MRT at full power), batches of 128 and of 1, in the general
  engine's edge layout ``(b, K, K, N)`` (`wmmse_update`, the interference-channel reference's
  until the fourteenth session) and in the compact layout ``(b, K, N)`` (`wmmse_update_ic`, the
  reference's now, and the refined models'), each with the multiplier found by bisection (60
  steps, Shi et al.; the reference's) or by Newton's method (`newton_multiplier`; the refined
  models');
* the eigen-decomposition of the ``(b, K)`` 2x2 blocks ``A_k``: LAPACK (`torch.linalg.eigh`)
  against the closed form (`hermitian_eigh` takes it from `CLOSED_FORM_MIN` blocks);
* WMMSE to convergence (default stopping), one sample after another as `gnn-design evaluate
  --reference-batch 1` runs it: the general engine (`wmmse_beamforming`, ``serve = I``), and
  `wmmse_ic` with bisection (the reference) and with Newton — how a model's speedup would move
  against a WMMSE whose multiplier were found by Newton's method.

Times are medians over ``--repeats`` passes (ms per sample); ratios are against the reference's
iteration (compact layout, bisection) or the reference, measured in the same process. Every way is checked
to give the same sum rates (to 1e-5) before it is timed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from designer.evaluation import device_name
from designer.wireless import scenarios
from designer.wireless.objectives import ic_pair_beams, pair_diagonal, sum_rate_ic_beamforming_node
from designer.wireless.references import wmmse_beamforming, wmmse_ic, wmmse_update, wmmse_update_ic
from designer.wireless.references.wmmse import _eigh_2x2


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return 1e3 * statistics.median(times)


def iteration_ways(features: dict):
    """name -> function returning the beams ``(b, K, N)`` after one iteration from MRT at full power
    (WMMSE's start, ``wmmse_ic(features, iters=0)``)."""
    H, budget, noise_var = features["H"], features["p_max"], features["sigma"].square()
    v = wmmse_ic(features, iters=0)
    V, mask = ic_pair_beams(features, {"v": v}), torch.eye(H.shape[1])[..., None]
    return {
        f"edge layout, {m}": (lambda m=m: pair_diagonal(wmmse_update(H, V, budget, noise_var, mask, multiplier=m)))
        for m in ("bisection", "newton")
    } | {
        f"compact layout, {m}": (lambda m=m: wmmse_update_ic(H, v, budget, noise_var, multiplier=m))
        for m in ("bisection", "newton")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--K", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--wmmse-samples", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {device_name('cpu')}, torch {torch.__version__}; K = {args.K}, N = 2\n")
    print("| what | batch | ms / sample | ratio to the reference's (iteration) |")
    print("|---|---|---|---|")
    with torch.no_grad():
        for batch in (128, 1):
            features = scenarios.sample_ic_beamforming_node(batch, seed=0, K=args.K)
            ways = iteration_ways(features)
            rates = {name: sum_rate_ic_beamforming_node(features, {"v": fn()}) for name, fn in ways.items()}
            first = next(iter(rates.values()))
            for name, rate in rates.items():  # float32: the beams of ill-conditioned BSs differ by 1e-4
                assert torch.allclose(rate, first, rtol=1e-5), name
            times = {name: median_ms(fn, args.repeats) / batch for name, fn in ways.items()}
            base = times["compact layout, bisection"]
            for name, ms in times.items():
                print(f"| one iteration, {name} | {batch} | {ms:.4f} | {base / ms:.2f}× |")
            X = torch.randn(batch, args.K, 2, 2, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
            A = X @ X.mH
            lapack = median_ms(lambda: torch.linalg.eigh(A), args.repeats) / batch
            closed = median_ms(lambda: _eigh_2x2(A), args.repeats) / batch
            print(f"| eigen-decomposition of {args.K} 2x2 blocks, LAPACK | {batch} | {lapack:.4f} | — |")
            print(f"| eigen-decomposition of {args.K} 2x2 blocks, closed form | {batch} | {closed:.4f} | "
                  f"{lapack / closed:.2f}× LAPACK's speed |")
        features = scenarios.sample_ic_beamforming_node(args.wmmse_samples, seed=1, K=args.K)
        parts = [{k: t[i:i + 1] for k, t in features.items()} for i in range(args.wmmse_samples)]
        serve = torch.eye(args.K, dtype=torch.bool)
        solvers = {
            "general engine, bisection": lambda p: wmmse_beamforming(p["H"], p["p_max"], p["sigma"].square(), serve),
            "compact layout, bisection (the reference)": lambda p: wmmse_ic(p),
            "compact layout, newton": lambda p: wmmse_ic(p, multiplier="newton"),
        }
        times = {name: median_ms(lambda fn=fn: [fn(p) for p in parts], max(1, args.repeats // 10)) / args.wmmse_samples
                 for name, fn in solvers.items()}
        base = times["compact layout, bisection (the reference)"]
        for name, ms in times.items():
            print(f"| WMMSE to convergence, {name} | 1 | {ms:.2f} | {base / ms:.2f}× |")


if __name__ == "__main__":
    main()
