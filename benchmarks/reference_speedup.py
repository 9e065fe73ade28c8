"""Speed-up of trained models over their numerical reference solving one sample after another,
both timed in interleaved rounds in one process, so that the machine's drift hits all alike.

``gnn-design evaluate --compile --reference-batch 1`` times the model's passes first and the
reference's one pass over the test set afterwards; on a shared CPU the two run minutes apart,
and a single run's ratio moves by 1.5x from one call to the next. Here every round runs, in
turn, one pass of each model over all the samples (compiled network as ``evaluate --compile``
runs it, ``Problem.decode`` included: the WMMSE iterations inside a model are timed) and the
reference on the next ``--reference-per-round`` samples, one at a time. Reported: each model's
median and fastest pass in ms per sample, the reference's median round in ms per sample, the
speed-up as the ratio of the two medians and, per round, the ratio of that round's reference
time to that round's model time (fewest / median / most); and each model's sum rate against
the reference's on the samples the reference solved.

A checkpoint may name the problem it runs as (``RUN:PROBLEM``, as ``evaluate --problem``: the
same weights with a different number of WMMSE iterations inside). All checkpoints must have
been trained at the same sizes and scenario (one set of test samples serves all).

    PYTHONPATH=. python benchmarks/reference_speedup.py runs/ic_refined4_h16l3res_log_mlp1_imit2_s1 \\
        runs/ic_refined4_h16l3res_log_mlp1_imit2_s1:ic_beamforming_refined8 \\
        --json docs/results/ic_speedup_interleaved_batch512_run1.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designer.cli import _parse_option  # noqa: E402
from designer.evaluation import device_name, inference, load_model  # noqa: E402
from designer.problem import configured, load  # noqa: E402
from designer.training import chunks, load_problem, run_samples  # noqa: E402


def load_entry(entry: str, device: str, compile_network: bool = True):
    """(name, config, problem, eager network, network) of ``RUN[,KEY=VALUE...]`` (the run's problem with those
    problem options, e.g. ``run,inner_iterations=8``), the network compiled as ``evaluate
    --compile`` runs it unless ``compile_network`` is False."""
    run, *options = entry.split(",")
    eager, config = load_model(run, device)
    problem = (configured(load(config.problem), dict(_parse_option(o) for o in options)) if options
               else load_problem(config))
    return entry, config, problem, eager, torch.compile(eager, dynamic=False) if compile_network else eager


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+",
                        help="run directories of gnn-design train, each RUN or RUN,KEY=VALUE,... (problem options)")
    parser.add_argument("--samples", type=int, default=1024, help="samples of each model pass")
    parser.add_argument("--batch", type=int, default=512, help="the models' batch size")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--reference-per-round", type=int, default=8,
                        help="samples the reference solves, one at a time, per round (different ones each round)")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--eager", action="store_true", help="time the networks uncompiled")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    torch.compiler.reset()
    models = [load_entry(entry, args.device, not args.eager) for entry in args.checkpoints]
    first = models[0][1]
    for entry, config, *_ in models[1:]:
        if (config.sizes, config.scenario) != (first.sizes, first.scenario):
            raise SystemExit(f"{entry}: trained at {config.sizes} {config.scenario}, the first checkpoint at "
                             f"{first.sizes} {first.scenario}: one test set cannot serve both")
    problem = models[0][2]
    solved = args.rounds * args.reference_per_round
    features, sizes = run_samples(first, problem, models[0][3], max(args.samples, solved), args.seed, args.device)
    parts = chunks({k: v[:args.samples] for k, v in features.items()}, args.batch)
    singles = chunks({k: v[:solved] for k, v in features.items()}, 1)
    reference = partial(problem.reference, sizes=sizes)
    times = {entry: [] for entry, *_ in models}
    reference_times, reference_actions = [], []
    timed = {entry: inference(model, model_problem) for entry, _, model_problem, _, model in models}
    with torch.no_grad():
        for infer in timed.values():  # compile every batch shape, untimed
            for part in parts:
                infer(part)
        reference(singles[0])
        for r in range(args.rounds):
            for entry, infer in timed.items():
                began = time.perf_counter()
                for part in parts:
                    infer(part)
                times[entry].append((time.perf_counter() - began) / args.samples)
            began = time.perf_counter()
            for single in singles[r * args.reference_per_round:(r + 1) * args.reference_per_round]:
                reference_actions.append(reference(single))
            reference_times.append((time.perf_counter() - began) / args.reference_per_round)
            print(f"round {r + 1}/{args.rounds}: reference {1e3 * reference_times[-1]:.1f} ms/sample", flush=True)
        reference_rate = statistics.fmean(problem.objective(s, a).item() for s, a in zip(singles, reference_actions))
        result = {"device": device_name(args.device), "torch": torch.__version__, "compiled": not args.eager,
                  "samples": args.samples,
                  "batch": args.batch, "rounds": args.rounds, "reference_per_round": args.reference_per_round,
                  "reference": {"problem": problem.name, "samples": solved, "sum_rate": reference_rate,
                                "ms_per_sample_median": 1e3 * statistics.median(reference_times)},
                  "models": []}
        on_solved = chunks({k: v[:solved] for k, v in features.items()}, args.batch)
        for entry, _, model_problem, _, model in models:
            rate = torch.cat([model_problem.objective(part, model(**part)) for part in on_solved]).mean().item()
            paired = sorted(r / m for r, m in zip(reference_times, times[entry]))  # per round
            result["models"].append({
                "checkpoint": entry, "problem": model_problem.name, "sum_rate": rate, "ratio": rate / reference_rate,
                "ms_per_sample_median": 1e3 * statistics.median(times[entry]),
                "ms_per_sample_fastest": 1e3 * min(times[entry]),
                "speedup": statistics.median(reference_times) / statistics.median(times[entry]),
                "speedup_per_round": {"fewest": paired[0], "median": statistics.median(paired), "most": paired[-1]},
                "rounds_at_1000x": sum(p >= 1000 for p in paired)})
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


def report(result: dict) -> None:
    """Print the table of :func:`main`'s result."""
    ref = result["reference"]
    print(f"{result['device']}, torch {result['torch']}; models: {result['samples']} samples in batches of "
          f"{result['batch']}; reference of {ref['problem']}, one sample at a time, {result['reference_per_round']} "
          f"per round, {result['rounds']} rounds: median {ref['ms_per_sample_median']:.1f} ms/sample, "
          f"sum rate {ref['sum_rate']:.3f}")
    for m in result["models"]:
        per_round = m["speedup_per_round"]
        print(f"  {m['checkpoint']}: {100 * m['ratio']:.2f} % of the reference's sum rate; median "
              f"{m['ms_per_sample_median']:.4f} ms/sample (fastest {m['ms_per_sample_fastest']:.4f}); speed-up "
              f"{m['speedup']:.0f}x (per round {per_round['fewest']:.0f} / {per_round['median']:.0f} / "
              f"{per_round['most']:.0f}x; {m['rounds_at_1000x']} of {result['rounds']} rounds at >= 1000x)")


if __name__ == "__main__":
    main()
