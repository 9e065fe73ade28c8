"""Cost of a sparse model against the number of links: forward + backward time and peak memory
per link, D2D power control at constant density, sparse (``k`` kept interferers per receiver)
and dense where it fits.

The model is the ``VertexEdgeGNN`` of ``specs/d2d_link_scheduling_sparse.yaml`` (every receiver
keeps its ``k`` strongest interfering transmitters; ``--keep`` overrides the spec's 16), and the
same model with ``sparse=False`` (every pair an edge). Channels: the D2D sampler of the package
at constant density, ``density=200`` pairs per km² (the default layout, 50 pairs in 500 m ×
500 m, with the square grown with the links). Each call holds ``max(1, --links // K)`` samples, so small networks
are timed on a batch and large ones one at a time; the tables give the cost per link (per
sample), so the columns are comparable.

Every (K, model) runs in its own process: the time is ``torch.utils.benchmark``'s median of a
forward pass, the loss (the sum of the outputs) and its backward; the memory is the process's
peak resident set during those steps above its resident set just before (Linux ``VmHWM``,
reset through ``/proc/self/clear_refs``), so it counts what the step allocates, not the inputs.
A dense model whose edge states would not fit in ``--dense-memory`` GiB is not run.

    PYTHONPATH=. python benchmarks/scale.py                              # 20, 100, 1000, 5000 links
    PYTHONPATH=. python benchmarks/scale.py --sizes 20 100 --threads 1
    PYTHONPATH=. python benchmarks/scale.py --device cuda
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SPEC = ROOT / "specs" / "d2d_link_scheduling_sparse.yaml"
EDGE_STATE_COPIES = 40  # edge-state-sized tensors one dense step keeps alive (estimate for --dense-memory)


DENSITY = 200.0  # pairs per km²: the D2D scenario's default layout


def measure(links: int, dense: bool, keep: int | None, batch: int, hidden: int, device: str, seconds: float) -> dict:
    """One (size, model) point, run in this process: time and peak memory of forward + backward."""
    import torch
    from torch.utils import benchmark

    import designer
    from designer.runtime import model_for
    from designer.wireless.scenarios import sample_d2d_link_scheduling

    torch.manual_seed(0)
    model = designer.build(SPEC, "vertex_edge", sizes={"K": links}, hidden=hidden, input_transform="log",
                           pooling="max+mean", sparse=not dense)
    if keep is not None and not dense:
        plan = dataclasses.replace(model.plan, sparsity=tuple(dataclasses.replace(r, keep=keep)
                                                              for r in model.plan.sparsity))
        model = model_for(plan, "vertex_edge", sizes={"K": links}, hidden=hidden, input_transform="log",
                          pooling="max+mean")
    model = model.to(device)
    features = sample_d2d_link_scheduling(batch, seed=0, K=links, density=DENSITY, device=device)

    def step():
        model.zero_grad(set_to_none=True)
        model(**features)["rho"].sum().backward()
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    step()  # builds and caches the index tensors
    before = _rss_kib()
    _reset_peak()
    step()
    peak = _peak_kib() - before
    timer = benchmark.Timer("step()", globals={"step": step}, num_threads=torch.get_num_threads())
    seconds_per_step = timer.blocked_autorange(min_run_time=seconds).median
    return {"links": links, "dense": dense, "batch": batch, "seconds": seconds_per_step,
            "peak_mib": peak / 1024, "threads": torch.get_num_threads(), "device": device}


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))


def _rss_kib() -> int:
    return _status("VmRSS:")


def _peak_kib() -> int:
    return _status("VmHWM:")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def dense_fits(links: int, batch: int, hidden: int, gib: float) -> bool:
    return links * links * batch * hidden * 4 * EDGE_STATE_COPIES <= gib * 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 1000, 5000])
    parser.add_argument("--keep", type=int, default=None, help="kept interferers per receiver (default: the spec's)")
    parser.add_argument("--links", type=int, default=1000, help="links per call: batch = max(1, links // K)")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per point (torch.utils.benchmark)")
    parser.add_argument("--dense-memory", type=float, default=8.0, help="GiB a dense point may use")
    parser.add_argument("--point", help=argparse.SUPPRESS)  # internal: run one point, print JSON
    args = parser.parse_args()
    if args.point:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        links, dense = json.loads(args.point)
        batch = max(1, args.links // links)
        print(json.dumps(measure(links, dense, args.keep, batch, args.hidden, args.device, args.seconds)))
        return
    rows = []
    for links in args.sizes:
        batch = max(1, args.links // links)
        for dense in (False, True):
            if dense and not dense_fits(links, batch, args.hidden, args.dense_memory):
                rows.append({"links": links, "dense": True, "batch": batch, "seconds": None})
                continue
            command = [sys.executable, __file__, "--point", json.dumps([links, dense]), *_passed(args)]
            done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            if done.returncode:
                sys.exit(f"K={links} {'dense' if dense else 'sparse'} failed:\n{done.stderr[-2000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    threads = next((r["threads"] for r in rows if r.get("threads")), "?")
    print(f"# D2D power control, VertexEdgeGNN hidden {args.hidden}, float32, {args.device}, {threads} threads, "
          f"{platform.processor() or platform.machine()}; kept interferers per receiver: "
          f"{args.keep or 'the spec (16)'}; forward + backward")
    print("| links | batch | sparse: ms/step | µs per link | peak MiB | dense: ms/step | µs per link | peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for links in args.sizes:
        sparse, dense = (next(r for r in rows if r["links"] == links and r["dense"] == d) for d in (False, True))
        print(f"| {links} | {sparse['batch']} | {_cells(sparse)} | {_cells(dense)} |")


def _cells(row: dict) -> str:
    if row["seconds"] is None:
        return "— | — | —"
    per_link = row["seconds"] / (row["links"] * row["batch"]) * 1e6
    return f"{row['seconds'] * 1e3:.1f} | {per_link:.1f} | {row['peak_mib']:.0f}"


def _passed(args) -> list[str]:
    out = ["--links", str(args.links), "--hidden", str(args.hidden), "--device", args.device,
           "--seconds", str(args.seconds)]
    if args.keep:
        out += ["--keep", str(args.keep)]
    if args.threads:
        out += ["--threads", str(args.threads)]
    return out


if __name__ == "__main__":
    main()
