"""Which of a structured interference-channel model's outputs falls short of WMMSE's
(docs/RESULTS.md, ``ic_beamforming_structured``)?

The model outputs, per sample, a log-weight ``log c_j`` per UE, a log-multiplier ``log mu_k`` and a
power ``p_k`` per BS; the beams follow in closed form (``structured_ic_beams``). WMMSE's iterate
has the same three parts (``wmmse_ic_beamforming_structured``). This script scores, on the
evaluation set (seed 12345, bits/s/Hz), the model's actions with each part in turn replaced by
WMMSE's, and WMMSE's with each part replaced by the model's. Only the ratios ``c_j / mu_k`` set the
beams' directions, so both sides' logs are first shifted by their median ``log c`` per sample (one
common scale; a shift of all logs changes no beam). Then it prints how many BSs each side
switches off (``p_k < 10^-3 P_k``) or runs at full power (``p_k >= 0.99 P_k``), and on how many
BSs the two agree whether they are off, and how far the model's power read-out sits from the
sigmoid's saturation (a stalled run puts every BS at full power with logits of 9 or more).
Last, WMMSE started from the model's beams (``init`` given as a tensor) against WMMSE from its
usual MRT start, after the same number of iterations: whether the model's point lies where
WMMSE's ascent leads higher or lower than from MRT.

    PYTHONPATH=. python benchmarks/structured_ic_diagnostic.py runs/ic_structured_l4res --sizes K=20 K=60 K=100
"""

from __future__ import annotations

import argparse
from itertools import combinations

import torch

from designer.cli import _parse_size
from designer.evaluation import load_model
from designer.training import batched_sum_rate, problem_for, reference_for, sample
from designer.wireless.objectives import ic_pair_beams, sum_rate_ic_beamforming_edge
from designer.wireless.references import wmmse_ic_beamforming_edge

PARTS = ("weight", "multiplier", "power")
OFF = 1e-3  # a BS sending less than this share of its budget is off
ITERATIONS = (1, 3, 10, 30, 100)  # WMMSE iterations after each start
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def centred(actions: dict) -> dict:
    """The actions with ``weight`` and ``multiplier`` shifted by the median log-weight per sample
    (the one scale the beams ignore)."""
    shift = actions["weight"].median(dim=-1, keepdim=True).values
    return {**actions, "weight": actions["weight"] - shift, "multiplier": actions["multiplier"] - shift}


def mixed(base: dict, other: dict, swap: tuple[str, ...]) -> dict:
    """``base`` with the parts in ``swap`` taken from ``other``."""
    return {k: other[k] if k in swap else v for k, v in base.items()}


def report(checkpoint: str, override: dict[str, int], samples: int, seed: int) -> None:
    model, config = load_model(checkpoint)
    problem = problem_for(config.problem)
    at = {**config.sizes, **override}
    features = sample(problem, samples, at, seed, "cpu", config.scenario)
    with torch.no_grad():
        ours = centred(model(**features))
    theirs = centred(reference_for(problem, at)(features))
    rate = lambda actions: problem.sum_rate(features, actions).mean().item()  # noqa: E731
    wmmse = rate(theirs)
    print(f"\n{checkpoint} at {at} {config.scenario or ''}, {samples} samples: model {rate(ours):.2f}, "
          f"WMMSE {wmmse:.2f} bits/s/Hz "
          f"(check: {batched_sum_rate(model, problem, features, 256).mean().item():.2f})")
    print("| parts from WMMSE | sum rate | % of WMMSE |\n|---|---|---|")
    for n in range(len(PARTS) + 1):
        for swap in combinations(PARTS, n):
            value = rate(mixed(ours, theirs, swap))
            print(f"| {', '.join(swap) or '(none: the model)'} | {value:.2f} | {100 * value / wmmse:.1f} |")
    p_max = features["p_max"]
    off = {name: actions["power"] < OFF * p_max for name, actions in (("model", ours), ("WMMSE", theirs))}
    for name, actions in (("model", ours), ("WMMSE", theirs)):
        full = (actions["power"] >= 0.99 * p_max).double().mean().item()
        print(f"{name}: BSs off {100 * off[name].double().mean().item():.1f} %, at full power {100 * full:.1f} %")
    print(f"BSs whose on/off state the model and WMMSE agree on: "
          f"{100 * (off['model'] == off['WMMSE']).double().mean().item():.1f} %")
    share = (ours["power"] / p_max).double().clamp(1e-7, 1 - 1e-7)
    logits = torch.quantile((share / (1 - share)).log().flatten(), torch.tensor(QUANTILES, dtype=torch.float64))
    print("model's logit of p_k / P_k (a sigmoid read-out's argument; beyond ±9.2 its slope is below 1e-4), "
          "quantiles " + ", ".join(f"{int(100 * q)} %: {z:.1f}" for q, z in zip(QUANTILES, logits.tolist())))
    refined(features, ic_pair_beams(features, problem.decode(features, ours)), wmmse)


def refined(features: dict, start: torch.Tensor, wmmse: float) -> None:
    """Sum rates of WMMSE from the model's beams ``start`` ``(batch, K, K, N)`` and from MRT after
    each of :data:`ITERATIONS` iterations, as % of ``wmmse`` (the structured reference's rate)."""
    print("| WMMSE iterations | from the model's beams | from MRT |\n|---|---|---|")
    for iters in ITERATIONS:
        rates = [sum_rate_ic_beamforming_edge(features, wmmse_ic_beamforming_edge(features, init=init, iters=iters))
                 .mean().item() for init in (start, "mrt")]
        print(f"| {iters} | " + " | ".join(f"{r:.2f} ({100 * r / wmmse:.1f} %)" for r in rates) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--sizes", nargs="*", type=_parse_size, default=[], metavar="SYMBOL=N",
                        help="sizes to test at (default: the training size)")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()
    for override in [dict([size]) for size in args.sizes] or [{}]:
        report(args.checkpoint, override, args.samples, args.seed)


if __name__ == "__main__":
    main()
