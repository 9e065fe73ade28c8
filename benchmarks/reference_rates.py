"""Mean sum rate of each problem's numerical reference at the scenario defaults.

    python benchmarks/reference_rates.py [--samples 256] [--seed 0]

Prints the Markdown table recorded in docs/wireless.md (float64, CPU)."""

import argparse

import torch

from designer.wireless import PROBLEMS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| problem | mean sum rate of the registry reference [bits/s/Hz] |\n|---|---|")
    for name, problem in PROBLEMS.items():
        sizes = dict(problem.default_sizes)
        features = problem.sample(args.samples, sizes=sizes, generator=torch.Generator().manual_seed(args.seed),
                                  dtype=torch.float64, scenario=problem.Scenario())
        rate = problem.objective(features, problem.reference(features, sizes=sizes)).mean().item()
        print(f"| {name} | {rate:.2f} |", flush=True)


if __name__ == "__main__":
    main()
