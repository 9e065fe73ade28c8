"""Inference time of trained checkpoints' networks, in one process on one device, three ways:
eager; compiled as ``gnn-design evaluate --compile`` runs them
(:func:`designer.evaluation.compiled`: ``torch.compile``, default mode, static shapes — here
without its reset of earlier graphs, which would drop the other checkpoints'); and
compiled with inductor's ``freezing`` (the weights folded into the graph as constants; on the
CPU the linear layers then run as prepacked MKL GEMMs with their bias fused).  Only the network
is timed (no ``Problem.decode``), at each training run's sizes and scenario, under
``torch.no_grad()``.

Every (checkpoint, variant) runs one pass over the samples per round, in turn, over
interleaved rounds, so that the machine's drift hits all alike; each line reports the median
and fastest round in ms per sample and the ratio of its median to the first checkpoint's
compiled median, after checking the outputs against eager (largest difference).

    PYTHONPATH=. python benchmarks/compiled_inference.py runs/ic_refined3_h16l3res_log_imit2_s1 \\
        runs/ic_refined3_h8l3res_log_imit2_s1 --rounds 21
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designer.evaluation import device_name, load_model  # noqa: E402
from designer.training import chunks, load_problem, run_samples  # noqa: E402


def variants(eager):
    """The three ways to run a network (the compiled ones compile on their first call)."""
    return {"eager": eager, "compiled": torch.compile(eager, dynamic=False),
            "compiled, frozen": torch.compile(eager, options={"freezing": True}, dynamic=False)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="run directories or checkpoint files of gnn-design train")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.compiler.reset()
    cases = {}
    with torch.no_grad():
        for checkpoint in args.checkpoints:
            eager, config = load_model(checkpoint, args.device)
            features, _ = run_samples(config, load_problem(config), eager, args.samples, 12345, args.device)
            parts = chunks(features, args.batch)
            expected = [eager(**part) for part in parts]
            for name, model in variants(eager).items():
                got = [model(**part) for part in parts]  # compiles every shape (untimed)
                worst = max((g[k] - w[k]).abs().max().item() for g, w in zip(got, expected) for k in w)
                cases[checkpoint, name] = (model, parts)
                print(f"{checkpoint} {name}: largest difference from eager {worst:.2e}", flush=True)
        seconds = {case: [] for case in cases}
        for _ in range(args.rounds):
            for case, (model, parts) in cases.items():
                _sync(args.device)
                began = time.perf_counter()
                for part in parts:
                    model(**part)
                _sync(args.device)
                seconds[case].append(time.perf_counter() - began)
    print(f"{args.samples} samples in batches of {args.batch}, {args.rounds} interleaved rounds, "
          f"{device_name(args.device)}, torch {torch.__version__}")
    baseline = statistics.median(seconds[args.checkpoints[0], "compiled"])
    for (checkpoint, name), s in seconds.items():
        print(f"  {checkpoint} {name:17s} median {1e3 * statistics.median(s) / args.samples:.4f} ms/sample, "
              f"fastest {1e3 * min(s) / args.samples:.4f}; {statistics.median(s) / baseline:.2f}x the first "
              f"checkpoint compiled")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
