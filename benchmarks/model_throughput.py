"""Training throughput (forward + backward samples/s at batch 256, CPU, float32) of generated
models against a hand-written dense ENGNN.

Cases: ENGNN-E on the K-pair interference channel (spec ``ic_beamforming_edge``, N = 2 antennas,
K = 20 and K = 100 pairs) and MCMU power allocation (M = 4 cells × K = 5 UEs). The generated
model is the spec's ``VertexEdgeGNN`` class with ``preset="engnn"``; the reference is
:class:`DenseENGNN`, written here directly from ENGNN eqs. 19–26 with the same hidden sizes,
depth, MLPs and max aggregation (one-hot direct/interference indicators appended to the edge
features, as in ENGNN). No PyG ``HeteroConv`` version is measured: torch_geometric is not
installed here (the column says so; with it installed the column reads "not implemented").

    PYTHONPATH=. python benchmarks/model_throughput.py                   # about 1.5 minutes
    PYTHONPATH=. python benchmarks/model_throughput.py --default-malloc  # about 2.5 minutes
    PYTHONPATH=. python benchmarks/model_throughput.py --quick           # fewer rounds
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.testing import random_features  # noqa: E402

BATCH = 256


def mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers, each followed by a ReLU (ENGNN §IV)."""
    layers: list[nn.Module] = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


def max_except_self(x: torch.Tensor, dim: int) -> torch.Tensor:
    """max over ``dim`` of every other entry (``k_1 ≠ k`` in ENGNN eq. 24), by the top-2 trick."""
    top, arg = x.topk(2, dim=dim)
    first, second = top.narrow(dim, 0, 1), top.narrow(dim, 1, 1)
    position = torch.arange(x.shape[dim]).view([-1 if i == dim else 1 for i in range(x.dim())])
    return torch.where(arg.narrow(dim, 0, 1) == position, second, first)


class DenseENGNN(nn.Module):
    """ENGNN (Wang et al. §III) for power allocation / beamforming on a bipartite TX–RX graph,
    dense: TX states ``(b, M, d)``, RX states ``(b, K, d)``, edge states ``(b, M, K, d)``.

    eq. 19–20: [Re, Im] features and one-hot link indicators → ReLU(W x + b) per node/edge kind;
    eq. 21/22: TX (RX) update MLP_2(f, max_k MLP_1(f_RX,k, E_m,k)) (MLP_3, MLP_4 for RX);
    eq. 24: edge update MLP_7(E_m,k, max(max_{k1≠k} MLP_5(E_m,k1, f_TX,m), max_{m1≠m} MLP_6(E_m1,k, f_RX,k)));
    eq. 26: a linear read-out per edge (``out`` channels) or per TX node.
    """

    def __init__(self, tx_in: int, rx_in: int, edge_in: int, out: int, hidden: int, layers: int, depth: int,
                 on_edges: bool):
        super().__init__()
        d = hidden
        self.pre_tx, self.pre_rx = nn.Linear(tx_in, d), nn.Linear(rx_in, d)
        self.pre_edge = nn.Linear(edge_in + 2, d)
        self.layers = nn.ModuleList(nn.ModuleDict({name: mlp([2 * d] + [d] * depth) for name in
                                                   ("mlp1", "mlp2", "mlp3", "mlp4", "mlp5", "mlp6", "mlp7")})
                                    for _ in range(layers))
        self.post = nn.Linear(d, out)
        self.on_edges = on_edges

    def forward(self, f_tx: torch.Tensor, f_rx: torch.Tensor, e: torch.Tensor, direct: torch.Tensor) -> torch.Tensor:
        b, m, k, _ = e.shape
        indicator = torch.stack([direct, ~direct], dim=-1).to(e.dtype).expand(b, m, k, 2)
        tx, rx = torch.relu(self.pre_tx(f_tx)), torch.relu(self.pre_rx(f_rx))
        edges = torch.relu(self.pre_edge(torch.cat([e, indicator], dim=-1)))
        for f in self.layers:
            tx_b, rx_b = tx.unsqueeze(2).expand(b, m, k, -1), rx.unsqueeze(1).expand(b, m, k, -1)
            new_tx = f["mlp2"](torch.cat([tx, f["mlp1"](torch.cat([rx_b, edges], -1)).amax(2)], -1))
            new_rx = f["mlp4"](torch.cat([rx, f["mlp3"](torch.cat([tx_b, edges], -1)).amax(1)], -1))
            through_tx = max_except_self(f["mlp5"](torch.cat([edges, tx_b], -1)), dim=2)
            through_rx = max_except_self(f["mlp6"](torch.cat([edges, rx_b], -1)), dim=1)
            edges = f["mlp7"](torch.cat([edges, torch.maximum(through_tx, through_rx)], -1))
            tx, rx = new_tx, new_rx
        return self.post(edges if self.on_edges else tx)


def scale_if_above(power: torch.Tensor, budget: torch.Tensor | float) -> torch.Tensor:
    """The factor min(1, budget / power) of a per-BS power budget."""
    return (budget / power.clamp_min(1e-12)).clamp(max=1.0)


def reference_ic(model: DenseENGNN, H: torch.Tensor, p_max: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """ENGNN-E on the interference channel: beamformers on the direct links, per-BS budget."""
    k = H.shape[1]
    e = torch.cat([H.real, H.imag], dim=-1)
    out = model(p_max.unsqueeze(-1), sigma.unsqueeze(-1), e, torch.eye(k, dtype=torch.bool))
    n = out.shape[-1] // 2
    v = torch.complex(out[..., :n], out[..., n:]).diagonal(dim1=1, dim2=2).transpose(1, 2)  # (b, K, N)
    power = (v.real.square() + v.imag.square()).sum(-1, keepdim=True)
    return v * scale_if_above(power, p_max.unsqueeze(-1)).sqrt()


def reference_mcmu(model: DenseENGNN, H: torch.Tensor) -> torch.Tensor:
    """MCMU power allocation: AN (Tx) – UE (Rx) graph over all M·K pairs, powers per AN."""
    b, m, k = H.shape[:3]
    gain = H.reshape(b, m * k, m * k).transpose(1, 2).unsqueeze(-1)  # (b, AN, UE, 1)
    ones = torch.ones(b, m * k, 1)
    p = torch.sigmoid(model(ones, ones, gain, torch.eye(m * k, dtype=torch.bool))).reshape(b, m, k)
    return p * scale_if_above(p.sum(-1, keepdim=True), 1.0)


def step(forward) -> None:
    """One forward + backward."""
    out = forward()
    (out.abs().sum() if torch.is_tensor(out) else sum(v.abs().sum() for v in out.values())).backward()


def step_times(forwards: list, rounds: int) -> list[float]:
    """Seconds per forward + backward of each model: one warm-up step each, then ``rounds``
    rounds that run every model once in turn (so that machine noise hits all alike); the
    fastest round of each model counts."""
    for forward in forwards:
        step(forward)
    best = [float("inf")] * len(forwards)
    for _ in range(rounds):
        for i, forward in enumerate(forwards):
            began = time.perf_counter()
            step(forward)
            best[i] = min(best[i], time.perf_counter() - began)
    return best


def cases(quick: bool):
    """(label, spec, sizes, reference builder, timed rounds)."""
    ic = lambda k: (f"interference channel ENGNN-E, K={k}, N=2", "ic_beamforming_edge", {"K": k, "N": 2},  # noqa: E731
                    lambda h: DenseENGNN(1, 1, 4, 4, h.hidden, h.layers, h.mlp_layers, on_edges=True))
    yield (*ic(20), 3 if quick else 8)
    yield (*ic(100), 1 if quick else 3)
    yield ("MCMU power allocation, M=4, K=5", "mcmu_power_allocation", {"M": 4, "K": 5},
           lambda h: DenseENGNN(1, 1, 1, 1, h.hidden, h.layers, h.mlp_layers, on_edges=False), 3 if quick else 8)


def generated_class(spec: str):
    """The spec's generated VertexEdgeGNN class (emitted into a temporary module)."""
    from designer.compiler import compile_file
    from designer.emit import class_name, emit_module

    compilation = compile_file(ROOT / "specs" / f"{spec}.yaml")
    namespace: dict = {}
    exec(compile(emit_module(compilation), f"generated/{spec}.py", "exec"), namespace)
    return namespace[class_name(spec, "vertex_edge")]


def keep_freed_memory() -> bool:
    """Ask glibc to serve every allocation from the heap and never hand freed memory back
    (mallopt M_MMAP_MAX = 0, M_TRIM_THRESHOLD = ∞): otherwise each large activation is a fresh
    mmap whose page faults cost as much as the arithmetic. Applies to both models alike."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-4, 0)) and bool(libc.mallopt(-1, 2**31 - 1))
    except OSError:
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--default-malloc", action="store_true", help="leave glibc's allocator settings alone")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tuned = not args.default_malloc and keep_freed_memory()
    pyg = "skipped: torch_geometric not installed" if importlib.util.find_spec("torch_geometric") is None \
        else "not implemented"
    print(f"torch {torch.__version__}, {args.threads} threads, {platform.machine()}, batch {BATCH}, float32, "
          f"forward+backward, allocator {'tuned (mallopt)' if tuned else 'default'}")
    print("| case | generated, preset engnn | generated, per-key edge processors | hand-written dense ENGNN "
          "| ratio (preset / hand-written) | PyG HeteroConv |")
    print("|---|---|---|---|---|---|")
    for label, spec, sizes, make_reference, rounds in cases(args.quick):
        cls = generated_class(spec)
        model, per_key = cls(preset="engnn"), cls(preset="engnn", edge_processors="key")
        reference = make_reference(model.options)
        features = random_features(model.plan, sizes, BATCH, torch.float32, torch.Generator().manual_seed(0))
        run_reference = reference_ic if spec == "ic_beamforming_edge" else reference_mcmu
        times = step_times([lambda: model(**features), lambda: per_key(**features),
                            lambda: run_reference(reference, **features)], rounds)
        ours, keyed, theirs = (BATCH / t for t in times)
        print(f"| {label} | {ours:.0f} samples/s | {keyed:.0f} samples/s | {theirs:.0f} samples/s "
              f"| {ours / theirs:.2f}× | {pyg} |", flush=True)


if __name__ == "__main__":
    main()
