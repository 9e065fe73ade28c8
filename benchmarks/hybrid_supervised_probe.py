"""Probe: can the generated MU-MISO EdgeGNN represent the reference's hybrid precoder at all?

Unsupervised training stops at about 69 % of the reference (docs/RESULTS.md, hybrid precoding).
This separates expressivity from optimisation: the spec's generated model (``arch``, default
options) is first trained to imitate the reference (GLRAM-style) on the training set, then
trained on as usual (loss = −sum rate). Imitation is the problem's own loss
(``Problem.imitation``, :func:`designer.wireless.objectives.beam_misalignment` of the overall
precoders ``V = W_RF W_BB (batch, N_t, K)``, the one ``gnn-design train --imitate-epochs``
uses), per UE up to its phase, which no rate depends on:

    loss = mean_k (1 − |v_k^H v_k^ref|² / (‖v_k‖² ‖v_k^ref‖²))      (0 when every beam matches)

If imitation reaches a high sum rate, the architecture can represent a good precoder and the
unsupervised plateau is an optimisation problem; if it cannot, the architecture is the limit.
Test set: 1000 samples, seed 12345 (as ``gnn-design evaluate``); training set: ``--samples``
samples, seed 0 (as ``gnn-design train``).

    PYTHONPATH=. python benchmarks/hybrid_supervised_probe.py      # about 8 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from designer.builder import build
from designer.training import problem_for, reference_for, sample

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"N_RF": 6, "N_t": 8, "K": 2}


def fit(model, problem, features: dict, target: dict | None, steps: int, batch: int, lr: float, seed: int) -> None:
    """``steps`` Adam steps on random batches: imitation of ``target`` or, without one, −sum rate."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    n = features["H"].shape[0]
    model.train()
    for _ in range(steps):
        index = torch.randint(n, (batch,), generator=generator)
        part = {k: v[index] for k, v in features.items()}
        actions = model(**part)
        if target is None:
            loss = -problem.sum_rate(part, actions).mean()
        else:
            loss = problem.imitation(part, actions, {k: v[index] for k, v in target.items()}).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()


def score(model, problem, features: dict, target: dict) -> tuple[float, float]:
    """(mean sum rate in bits/s/Hz, mean beam misalignment to the reference) on ``features``."""
    with torch.no_grad():
        actions = model(**features)
        return (problem.sum_rate(features, actions).mean().item(),
                problem.imitation(features, actions, target).mean().item())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="edge")
    parser.add_argument("--samples", type=int, default=800)
    parser.add_argument("--imitate-steps", type=int, default=2000)
    parser.add_argument("--rate-steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    problem = problem_for("hybrid_precoding_miso")
    reference = reference_for(problem, SIZES)
    train, test = sample(problem, args.samples, SIZES, args.seed, "cpu"), sample(problem, 1000, SIZES, 12345, "cpu")
    train_target, test_target = reference(train), reference(test)
    best = problem.sum_rate(test, test_target).mean().item()
    model = build(ROOT / "specs" / "hybrid_precoding_miso.yaml", arch=args.arch, sizes=SIZES)
    print(f"{args.arch} model, {args.samples} training samples, batch {args.batch}, lr {args.lr}; "
          f"reference {best:.2f} bits/s/Hz on the 1000 test samples")
    print("| stage | steps | sum rate (bits/s/Hz) | ratio to the reference | beam misalignment | seconds |")
    print("|---|---|---|---|---|---|")
    stages = (("imitating the reference", train_target, args.imitate_steps),
              ("then −sum rate", None, args.rate_steps))
    for name, target, steps in stages:
        began = time.perf_counter()
        fit(model, problem, train, target, steps, args.batch, args.lr, args.seed)
        rate, misalignment = score(model, problem, test, test_target)
        print(f"| {name} | {steps} | {rate:.2f} | {100 * rate / best:.1f} % | {misalignment:.3f} "
              f"| {time.perf_counter() - began:.0f} |", flush=True)


if __name__ == "__main__":
    main()
