"""Speed of trained models against their numerical reference, both batched on the same device,
timed in interleaved rounds in one process so that the machine's drift hits all alike.

Every round runs, in turn, one pass of each model over the test samples in batches (compiled
as ``evaluate --compile`` runs it unless ``--eager``; ``Problem.decode`` included, so reference
iterations inside a model are timed) and, for each model, the reference from its documented
start for the iterations it needs to equal that model's sum rate (found first on the same
samples, :func:`designer.evaluation.equal_quality`), batched over all samples: the speed at
equal quality. The converged default reference is timed once, batched, outside the rounds
(minutes on the CPU for a multi-start WMMSE). Reported per model: its sum rate against the
converged reference's, median and fastest pass in ms per sample, the iterations the reference
needs to match it, and the speed-ups (median of per-round ratios at equal quality; against the
converged reference's one pass).

A checkpoint may name its problem options (``RUN,KEY=VALUE``: the same weights with another
number of WMMSE iterations inside). All checkpoints must share sizes and scenario.

    python benchmarks/reference_speedup.py runs/ic_beamforming/structured_l4_s0 --samples 1000 --batch 256
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
from designer.evaluation import device_name, equal_quality, inference, load_model  # noqa: E402
from designer.problem import configured, load  # noqa: E402
from designer.training import batched_objective, chunks, load_problem, run_samples  # noqa: E402


def load_entry(entry: str, device: str, compile_network: bool = True):
    """(name, config, problem, eager network, network) of ``RUN[,KEY=VALUE...]`` (the run's problem with those
    problem options, e.g. ``run,inner_iterations=8``), the network compiled as ``evaluate
    --compile`` runs it unless ``compile_network`` is False."""
    run, *options = entry.split(",")
    eager, config = load_model(run, device)
    problem = (configured(load(config.problem), dict(_parse_option(o) for o in options)) if options
               else load_problem(config))
    return entry, config, problem, eager, torch.compile(eager, dynamic=False) if compile_network else eager


def _seconds(fn, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    began = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+",
                        help="run directories of gnn-design train, each RUN or RUN,KEY=VALUE,... (problem options)")
    parser.add_argument("--samples", type=int, default=1000, help="test samples")
    parser.add_argument("--batch", type=int, default=256, help="the models' batch size")
    parser.add_argument("--rounds", type=int, default=10)
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
    if problem.reference_steps is None:
        raise SystemExit(f"problem {problem.name!r} has no iterative reference to time at equal quality")
    features, sizes = run_samples(first, problem, models[0][3], args.samples, args.seed, args.device)
    parts = chunks(features, args.batch)
    steps = partial(problem.reference_steps, sizes=sizes)
    with torch.no_grad():
        converged_seconds = _seconds(lambda: problem.reference(features, sizes=sizes), args.device)
        converged = problem.objective(features, problem.reference(features, sizes=sizes)).mean().item()
        timed, matched = {}, {}
        for entry, _, model_problem, eager, model in models:
            infer = inference(model, model_problem)
            for part in parts:  # compile every batch shape, untimed
                infer(part)
            rate = batched_objective(eager, model_problem, features, args.batch).mean().item()
            seconds = _seconds(lambda: [infer(part) for part in parts], args.device)
            timed[entry] = (infer, rate)
            matched[entry] = equal_quality(problem, steps, features, args.device, args.samples, rate, seconds)
        times = {entry: [] for entry in timed}
        reference_times = {entry: [] for entry in timed}
        for r in range(args.rounds):
            for entry, (infer, _) in timed.items():
                times[entry].append(_seconds(lambda: [infer(part) for part in parts], args.device) / args.samples)
                T = matched[entry]["iterations"]
                if T is not None:
                    reference_times[entry].append(_seconds(lambda: steps(features, iters=T), args.device)
                                                  / args.samples)
            print(f"round {r + 1}/{args.rounds}", flush=True)
    result = {"device": device_name(args.device), "torch": torch.__version__, "compiled": not args.eager,
              "samples": args.samples, "batch": args.batch, "rounds": args.rounds,
              "reference": {"problem": problem.name, "objective": converged,
                            "ms_per_sample": 1e3 * converged_seconds / args.samples, "batch": args.samples},
              "models": []}
    for entry, (_, rate) in timed.items():
        median = statistics.median(times[entry])
        row = {"checkpoint": entry, "objective": rate, "ratio": rate / converged,
               "ms_per_sample_median": 1e3 * median, "ms_per_sample_fastest": 1e3 * min(times[entry]),
               "speedup_converged": converged_seconds / args.samples / median,
               "equal_quality_iterations": matched[entry]["iterations"]}
        if reference_times[entry]:
            paired = sorted(r / m for r, m in zip(reference_times[entry], times[entry]))
            row.update(equal_quality_ms_per_sample=1e3 * statistics.median(reference_times[entry]),
                       speedup_equal_quality={"fewest": paired[0], "median": statistics.median(paired),
                                              "most": paired[-1]})
        result["models"].append(row)
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


def report(result: dict) -> None:
    """Print the table of :func:`main`'s result."""
    ref = result["reference"]
    print(f"{result['device']}, torch {result['torch']}; {result['samples']} samples, models in batches of "
          f"{result['batch']}, reference batched over all; converged reference ({ref['problem']}): "
          f"{ref['objective']:.3f}, {ref['ms_per_sample']:.3f} ms/sample")
    print("| model | share of the converged reference | model ms/sample | reference iterations to equal it | "
          "those iterations, ms/sample | speed-up at equal quality (fewest / median / most) | speed-up against "
          "the converged reference |")
    print("|---|---|---|---|---|---|---|")
    for m in result["models"]:
        if m["equal_quality_iterations"] is None:
            match, match_ms, speed = "not reached", "—", "—"
        else:
            match, match_ms = str(m["equal_quality_iterations"]), f"{m['equal_quality_ms_per_sample']:.4f}"
            s = m["speedup_equal_quality"]
            speed = f"{s['fewest']:.2f} / {s['median']:.2f} / {s['most']:.2f}×"
        print(f"| {m['checkpoint']} | {100 * m['ratio']:.2f} % | {m['ms_per_sample_median']:.4f} | {match} | "
              f"{match_ms} | {speed} | {m['speedup_converged']:.1f}× |")


if __name__ == "__main__":
    main()
