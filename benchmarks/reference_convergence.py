"""How close each shipped problem's default reference comes to a long multi-start run, and what
the trivial and truncated baselines score beside it.

    python benchmarks/reference_convergence.py [--samples 100] [--seed 0] [--long-starts 20] [--problem NAME ...]
                                               [--size SYMBOL=N ...]

Per problem at its default sizes, with ``--size`` overriding those a problem has (float64, CPU, the problem's scenario defaults): the default
reference's mean objective, its iterations per sample (mean, most, share at the cap) and time;
for an iterative reference the same solver run 1000 iterations from each of ``--long-starts``
starts (best per sample; the documented start and random ones drawn with another seed); and
every alternative as a share of the default reference. Prints a Markdown table (the one in
docs/RESULTS.md)."""

from __future__ import annotations

import argparse
import time

import torch

from designer.problem import NotApplicable
from designer.wireless import PROBLEMS


def row(name: str, problem, samples: int, seed: int, long_starts: int, given: dict[str, int]) -> str:
    sizes = {**problem.default_sizes, **{k: v for k, v in given.items() if k in problem.default_sizes}}
    features = problem.sample(samples, sizes=sizes, generator=torch.Generator().manual_seed(seed),
                              dtype=torch.float64, scenario=problem.Scenario())
    report: dict = {}
    options = {"report": report} if problem.iterative else {}
    began = time.perf_counter()
    value = problem.objective(features, problem.reference(features, sizes=sizes, **options)).mean().item()
    seconds = time.perf_counter() - began
    iterations = long = "—"
    if problem.iterative:
        used = report["iterations"].float()
        iterations = f"{used.mean():.0f} / {used.max():.0f} / {(used >= 3000).float().mean():.0%}"
        best = problem.reference(features, sizes=sizes, iters=1000, tol=0, starts=long_starts - 1, seed=seed + 1)
        best_value = problem.objective(features, best).mean().item()
        long = f"{best_value:.3f} ({value / best_value:.2%})"
    others = []
    for alt_name, solve in problem.alternatives.items():
        try:
            alt = problem.objective(features, solve(features, sizes=sizes)).mean().item()
            others.append(f"{alt_name} {alt / value:.1%}")
        except NotApplicable:
            others.append(f"{alt_name} n/a")
    return (f"| {name} | {value:.3f} | {iterations} | {seconds:.1f} | {long} | {', '.join(others) or '—'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--long-starts", type=int, default=20)
    parser.add_argument("--problem", nargs="*", default=sorted(PROBLEMS), choices=sorted(PROBLEMS))
    parser.add_argument("--size", nargs="*", default=[], metavar="SYMBOL=N",
                        help="sizes instead of the defaults, where a problem has the symbol (N_RF=2)")
    args = parser.parse_args()
    given = {k: int(v) for k, v in (item.split("=", 1) for item in args.size)}
    torch.set_num_threads(1)
    print(f"{args.samples} samples, seed {args.seed}, float64, one CPU thread" + "".join(f", {k} = {v}" for k, v in given.items()))
    print("| problem | default reference | iterations mean / most / at cap | seconds | 1000 iterations, "
          f"{args.long_starts} starts (default's share) | alternatives (share of the default) |")
    print("|---|---|---|---|---|---|")
    for name in args.problem:
        print(row(name, PROBLEMS[name], args.samples, args.seed, args.long_starts, given), flush=True)


if __name__ == "__main__":
    main()
