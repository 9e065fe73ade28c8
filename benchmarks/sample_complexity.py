"""Sample complexity (Zhao et al., Table 3): the fewest training samples with which a model
reaches a fraction (default 90 %) of the numerical reference's sum rate.

For every model and every training-set size n (a fixed set of n samples, as in the paper) the
script trains with :func:`designer.training.train` for about ``--steps`` gradient steps (batch
``min(n, --batch)``, so small sets get many epochs), evaluates the final model on
``--test-samples`` test samples (seed 12345, as ``gnn-design evaluate``) against the problem's
reference, and stops growing n for a model once it reaches the target. Every run lives in its
own directory under ``--runs`` and is resumed, not repeated, when the script is run again.
Prints a Markdown table and writes every row to ``--out`` (JSON).

Models are ``ARCH[:KEY=VALUE,...]`` with ARCH one of vertex, edge, vertex_edge, fnn and the
model options of ``designer.build`` (``vertex:sharing=none`` is VertexGNN_NP)::

    PYTHONPATH=. python benchmarks/sample_complexity.py specs/mcmu_power_allocation.yaml \\
        --size M=4 --size K=5 --model vertex --model edge --model vertex:sharing=none --model fnn \\
        --samples 2,4,10,20,50,100,500,2000 --option input_transform=log --out docs/results/table3_mcmu.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.atomic import write_files  # noqa: E402
from designer.cli import _parse_option, _parse_size  # noqa: E402
from designer.evaluation import evaluate  # noqa: E402
from designer.problem import resolve  # noqa: E402
from designer.spec import load_spec  # noqa: E402
from designer.training import TrainConfig, train  # noqa: E402


def parse_model(text: str) -> tuple[str, dict]:
    """``vertex:sharing=none,hidden=64`` → ("vertex", {"sharing": "none", "hidden": 64})."""
    arch, _, rest = text.partition(":")
    return arch, dict(_parse_option(item) for item in rest.split(",") if item)


def slug(arch: str, options: dict) -> str:
    return "_".join([arch] + [f"{k}-{v}" for k, v in sorted(options.items())])


def run_one(args, arch: str, options: dict, n: int) -> dict:
    """Train one model on ``n`` samples (or resume its run) and evaluate it."""
    batch = min(n, args.batch)
    epochs = math.ceil(args.steps / math.ceil(n / batch))
    problem = resolve(args.problem) if args.problem else resolve(load_spec(args.spec).problem, Path(args.spec).parent)
    config = TrainConfig(spec=args.spec, problem=problem, arch=arch,
                         sizes=dict(args.size or []), model_options={**dict(args.option or []), **options},
                         train_samples=n, val_samples=args.val_samples, val_every=epochs, epochs=epochs,
                         batch=batch, lr=args.lr, seed=args.seed, augment=args.augment,
                         out=str(Path(args.runs) / f"{slug(arch, options)}_n{n}"))
    history = train(config, resume=True, progress=False)
    seconds = sum(epoch["seconds"] for epoch in history)  # of the whole run, resumed or not
    row = evaluate(config.out, samples=args.test_samples)["rows"][0]
    return {"model": slug(arch, options), "arch": arch, "options": config.model_options, "samples": n,
            "epochs": epochs, "batch": batch, "augment": args.augment, "train_seconds": round(seconds, 1),
            "objective": row["model_objective"], "reference_objective": row["reference_objective"],
            "ratio": row["ratio"],
            "run": config.out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("--problem", help="the problem (a reference, as gnn-design train --problem; default: the "
                                          "spec's problem)")
    parser.add_argument("--size", action="append", type=_parse_size, metavar="SYMBOL=N")
    parser.add_argument("--model", action="append", type=parse_model, required=True, metavar="ARCH[:K=V,...]")
    parser.add_argument("--option", action="append", type=_parse_option, metavar="KEY=VALUE",
                        help="model option for every model")
    parser.add_argument("--samples", default="2,4,10,20,50,100,200,500,1000,2000,5000")
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--steps", type=int, default=600, help="gradient steps per run (about)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment", action="store_true",
                        help="transform every training batch by the problem's augmentation (train --augment)")
    parser.add_argument("--val-samples", type=int, default=200)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--runs", default="runs/sample_complexity")
    parser.add_argument("--out", help="JSON file for every row")
    args = parser.parse_args(argv)
    counts = [int(v) for v in args.samples.split(",")]
    rows, needed = [], {}
    for arch, options in args.model:
        needed[slug(arch, options)] = None
        for n in counts:
            row = run_one(args, arch, options, n)
            rows.append(row)
            print(f"{row['model']:40s} n={n:6d}  {row['objective']:8.3f} / {row['reference_objective']:8.3f}"
                  f" = {row['ratio']:.3f}  ({row['epochs']} epochs, {row['train_seconds']} s)", flush=True)
            if row["ratio"] >= args.target:
                needed[row["model"]] = n
                break
    print(f"\n| model | samples to {args.target:.0%} of the reference | best ratio (at n) |\n|---|---|---|")
    for model, n in needed.items():
        best = max((r for r in rows if r["model"] == model), key=lambda r: r["ratio"])
        found = n if n is not None else f"> {counts[-1]}"
        print(f"| {model} | {found} | {best['ratio']:.3f} (n={best['samples']}) |")
    if args.out:
        result = {"command": " ".join(["python", *sys.argv]), "machine": f"{platform.processor() or platform.machine()}, "
                  f"{torch.get_num_threads()} threads, torch {torch.__version__}", "target": args.target,
                  "samples_needed": needed, "rows": rows}
        write_files({Path(args.out): json.dumps(result, indent=1) + "\n"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
