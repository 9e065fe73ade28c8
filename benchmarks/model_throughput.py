"""Training throughput (forward + backward samples/s at batch 256, CPU, float32) of generated
models against a hand-written dense ENGNN and, when torch_geometric is installed, the same
architecture in PyG.

Cases: ENGNN-E on the K-pair interference channel (spec ``ic_beamforming_edge``, N = 2 antennas,
K = 20 and K = 100 pairs) and MCMU power allocation (M = 4 cells × K = 5 UEs). The generated
model is the spec's ``VertexEdgeGNN`` class with ``preset="engnn"``; the reference is
:class:`DenseENGNN`, written here directly from ENGNN eqs. 19–26 with the same hidden sizes,
depth, MLPs and max aggregation (one-hot direct/interference indicators appended to the edge
features, as in ENGNN).

The PyG column (:class:`PygENGNN`) is the generated model's architecture on edge lists: the 256
samples collated into one disjoint-union ``HeteroData`` batch (once, untimed, as a DataLoader
would), vertex updates by ``HeteroConv`` over ``MessagePassing`` layers (message MLP on [source
state, edge state], max per edge type, summed over edge types), edge updates by gathering and
``torch_geometric.utils.scatter`` (max through each endpoint per neighbouring edge type, the
edge itself excluded), the same embeddings, combiners, read-out and constraint projection. With
the generated model's weights copied in it computes the same outputs. No compiled extension
(torch-scatter, torch-sparse) is used: PyG then scatters with ``torch.scatter_reduce``. It runs
fewer timed rounds where one of its steps takes seconds (see :func:`cases`).

    PYTHONPATH=. python benchmarks/model_throughput.py                   # about 2.5 minutes with PyG
    PYTHONPATH=. python benchmarks/model_throughput.py --default-malloc  # leave the allocator alone
    PYTHONPATH=. python benchmarks/model_throughput.py --quick           # fewer rounds
"""

from __future__ import annotations

import argparse
import ctypes
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.testing import random_features  # noqa: E402

try:  # optional: the PyG HeteroConv column
    from torch_geometric.data import Batch
    from torch_geometric.nn import HeteroConv, MessagePassing
    from torch_geometric.utils import scatter

    import torch_geometric
    from designer.runtime.pyg import to_hetero_data
except ImportError:
    torch_geometric = None
    MessagePassing = nn.Module  # lets the classes below be defined; they are used only with PyG

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


# ---------------------------------------------------------------------------------------------
# The same architecture in PyTorch Geometric: the batch as one disjoint-union HeteroData graph,
# vertex updates by HeteroConv, edge updates by gathering and scattering over the edge lists.
# ---------------------------------------------------------------------------------------------

def pyg_batch(plan, features: dict[str, torch.Tensor]):
    """The batch as one graph: each sample exported by :func:`designer.runtime.pyg.to_hetero_data`
    (edge types ``(BS, e, UE)`` and their reverses ``(UE, rev_e, BS)``), then collated. Built
    once, outside the timed steps, as a DataLoader's collate would."""
    batch = next(iter(features.values())).shape[0]
    return Batch.from_data_list([to_hetero_data(plan, features, s) for s in range(batch)])


class VertexMessages(MessagePassing):
    """The vertex processor of one (source type, edge type, target type) triple (ENGNN MLP_1 /
    MLP_3, Zhao's q): messages MLP([h_source, h_edge]) on the edges, max over each target's."""

    def __init__(self, d: int, depth: int):
        super().__init__(aggr="max")
        self.mlp = mlp([2 * d] + [d] * depth)

    def forward(self, x: tuple[torch.Tensor, torch.Tensor], edge_index: torch.Tensor,
                edge_attr: torch.Tensor) -> torch.Tensor:
        return self.propagate(edge_index, x=x, edge_attr=edge_attr, size=(x[0].shape[0], x[1].shape[0]))

    def message(self, x_j: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([x_j, edge_attr], dim=-1))


def scatter_max_except_self(messages: torch.Tensor, vertex: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
    """Per edge, the max of the messages of the *other* edges at its vertex ``vertex`` (ENGNN
    eq. 24's ``k_1 ≠ k``), given the per-vertex maxima ``top``: where the edge holds the only
    maximum, the max of the rest, else the maximum. The messages are ReLU outputs (≥ 0), so 0
    stands in for the removed entries and for an empty rest."""
    vertices, top = top.shape[0], top.index_select(0, vertex)
    at_top = messages == top
    only = at_top & (scatter(at_top.to(messages.dtype), vertex, 0, vertices, "sum").index_select(0, vertex) == 1)
    rest = scatter(messages.masked_fill(at_top, 0.0), vertex, 0, vertices, "max").index_select(0, vertex)
    return torch.where(only, rest, top)


class PygUpdate(nn.Module):
    """One updating layer, as :class:`designer.runtime.layers.UpdateLayer` computes it with
    ``preset="engnn"``: per target type, max pools per processor summed over the processors,
    then a combiner MLP([own state, pooled]); both updates read the previous layer's states.

    ``edge_keys``: the architecture table's (updated edge type, shared vertex type,
    neighbouring edge type) keys; one edge processor per (neighbour type, shared vertex type),
    shared by the updated types (``edge_processors="neighbour"``, ENGNN MLP_5 / MLP_6).
    """

    def __init__(self, node_types, edge_types, edge_keys, d: int, depth: int):
        super().__init__()
        self.vertex_processors = HeteroConv({et: VertexMessages(d, depth) for et in edge_types}, aggr="sum")
        self.vertex_combiners = nn.ModuleDict({v: mlp([2 * d] + [d] * depth) for v in node_types})
        self.edge_keys = edge_keys
        self.edge_processors = nn.ModuleDict({f"{n}__through__{v}": mlp([2 * d] + [d] * depth)
                                              for _, v, n in edge_keys})
        self.edge_combiners = nn.ModuleDict({t: mlp([2 * d] + [d] * depth) for t, _, _ in edge_keys})

    def forward(self, x: dict, e: dict, graph: "PygGraph") -> tuple[dict, dict]:
        pooled = self.vertex_processors(x, graph.edge_index, edge_attr_dict=graph.per_edge_type(e))
        new_x = {v: self.vertex_combiners[v](torch.cat([x[v], pooled[v]], dim=-1)) for v in x}
        messages, tops, pooled_e = {}, {}, {}
        for target, v, neighbour in self.edge_keys:
            key, at = f"{neighbour}__through__{v}", graph.ends[neighbour][v]
            if key not in messages:  # computed and pooled once, read by every updated type
                messages[key] = self.edge_processors[key](torch.cat([e[neighbour], x[v].index_select(0, at)], -1))
                tops[key] = scatter(messages[key], at, 0, x[v].shape[0], "max")
            if target == neighbour:
                pool = scatter_max_except_self(messages[key], at, tops[key])
            else:
                pool = tops[key].index_select(0, graph.ends[target][v])
            pooled_e[target] = pool if target not in pooled_e else pooled_e[target] + pool
        new_e = {t: self.edge_combiners[t](torch.cat([e[t], pooled_e[t]], dim=-1)) for t in pooled_e}
        return new_x, {**e, **new_e}


class PygGraph:
    """Index views of a collated HeteroData batch: ``edge_index`` per edge type (both
    directions), and per forward edge type the endpoint index of each of its vertex types."""

    def __init__(self, batch):
        self.edge_index = batch.edge_index_dict
        self.forward_types = [et for et in batch.edge_types if not et[1].startswith("rev_")]
        self.ends = {}
        for src, name, dst in self.forward_types:
            first, second = batch[src, name, dst].edge_index
            self.ends[name] = {src: first, dst: second}

    def per_edge_type(self, e: dict) -> dict:
        """Edge states keyed by every edge type of the graph (a reverse reads its forward's)."""
        return {et: e[et[1].removeprefix("rev_")] for et in self.edge_index}


class PygENGNN(nn.Module):
    """ENGNN with the generated model's type structure (``preset="engnn"``) in PyG: per-type
    embeddings ReLU(W x + b) (a learned constant for a vertex type without features), ``layers``
    :class:`PygUpdate` layers, and a linear read-out — on the edges of one type from [edge,
    both endpoints], or on the vertices of one type from [vertex, max of its incident edge
    states per edge type] — as :class:`designer.runtime.model.HetGNN` reads out."""

    def __init__(self, batch, edge_keys, hidden: int, layers: int, depth: int, readout: tuple[str, str, int]):
        super().__init__()
        d = hidden
        self.graph = graph = PygGraph(batch)
        self.vertex_embeddings = nn.ModuleDict({v: nn.Linear(batch[v].x.shape[-1], d)
                                                for v in batch.node_types if "x" in batch[v]})
        self.vertex_constants = nn.ParameterDict({v: nn.Parameter(torch.randn(1, d) * 0.1)
                                                  for v in batch.node_types if "x" not in batch[v]})
        self.edge_embeddings = nn.ModuleDict({et[1]: nn.Linear(batch[et].edge_attr.shape[-1], d)
                                              for et in graph.forward_types})
        self.layers = nn.ModuleList(PygUpdate(batch.node_types, batch.edge_types, edge_keys, d, depth)
                                    for _ in range(layers))
        self.kind, self.carrier, out = readout
        if self.kind == "edge":
            width = 3 * d
        else:
            width = d * (1 + sum(self.carrier in ends for ends in graph.ends.values()))
        self.head = nn.Linear(width, out)

    def embed(self, batch) -> tuple[dict, dict]:
        x = {v: torch.relu(layer(batch[v].x)) for v, layer in self.vertex_embeddings.items()}
        x.update({v: c.expand(batch[v].num_nodes, -1) for v, c in self.vertex_constants.items()})
        e = {et[1]: torch.relu(self.edge_embeddings[et[1]](batch[et].edge_attr)) for et in self.graph.forward_types}
        return x, e

    def forward(self, batch) -> torch.Tensor:
        x, e = self.embed(batch)
        for layer in self.layers:
            x, e = layer(x, e, self.graph)
        if self.kind == "edge":
            ends = list(self.graph.ends[self.carrier].items())
            return self.head(torch.cat([e[self.carrier]] + [x[v].index_select(0, at) for v, at in ends], dim=-1))
        parts = [x[self.carrier]] + [scatter(e[name], ends[self.carrier], 0, x[self.carrier].shape[0], "max")
                                     for name, ends in self.graph.ends.items() if self.carrier in ends]
        return self.head(torch.cat(parts, dim=-1))


def pyg_ic(model: PygENGNN, batch) -> torch.Tensor:
    """ENGNN-E on the interference channel in PyG: beamformers on the direct-link edges
    (``(b·K, N)``), per-BS budget (``p_max`` is the BS feature)."""
    out = model(batch)
    n = out.shape[-1] // 2
    v = torch.complex(out[:, :n], out[:, n:])
    bs = model.graph.ends["BS_UE_same_pair"]["BS"]
    power = scatter(v.real.square() + v.imag.square(), bs, 0, batch["BS"].num_nodes, "sum").sum(-1, keepdim=True)
    return v * scale_if_above(power, batch["BS"].x).index_select(0, bs).sqrt()


def pyg_mcmu(model: PygENGNN, batch, k: int) -> torch.Tensor:
    """MCMU power allocation in PyG: powers per AN (``(b·M·K, 1)``; ANs numbered sample-,
    then cell-major, so AN i is in cell group i // K), per-cell budget 1."""
    p = torch.sigmoid(model(batch))
    cell = torch.arange(p.shape[0]) // k
    return p * scale_if_above(scatter(p, cell, 0, p.shape[0] // k, "sum"), 1.0).index_select(0, cell)


def step(forward) -> None:
    """One forward + backward."""
    out = forward()
    (out.abs().sum() if torch.is_tensor(out) else sum(v.abs().sum() for v in out.values())).backward()


def step_times(forwards: list, rounds: list[int]) -> list[float]:
    """Seconds per forward + backward of each model: one warm-up step each, then rounds that
    run every model once in turn (so that machine noise hits all alike), model ``i`` in the
    first ``rounds[i]`` of them; the fastest round of each model counts."""
    for forward in forwards:
        step(forward)
    best = [float("inf")] * len(forwards)
    for r in range(max(rounds)):
        for i, forward in enumerate(forwards):
            if r < rounds[i]:
                began = time.perf_counter()
                step(forward)
                best[i] = min(best[i], time.perf_counter() - began)
    return best


def cases(quick: bool):
    """(label, spec, sizes, reference builder, PyG read-out (kind, carrier, channels), timed
    rounds, timed rounds of the PyG model: fewer where one of its steps takes seconds)."""
    ic = lambda k: (f"interference channel ENGNN-E, K={k}, N=2", "ic_beamforming_edge", {"K": k, "N": 2},  # noqa: E731
                    lambda h: DenseENGNN(1, 1, 4, 4, h.hidden, h.layers, h.mlp_layers, on_edges=True),
                    ("edge", "BS_UE_same_pair", 4))
    yield (*ic(20), 3 if quick else 8, 3 if quick else 8)
    yield (*ic(100), 1 if quick else 3, 1 if quick else 2)
    yield ("MCMU power allocation, M=4, K=5", "mcmu_power_allocation", {"M": 4, "K": 5},
           lambda h: DenseENGNN(1, 1, 1, 1, h.hidden, h.layers, h.mlp_layers, on_edges=False), ("node", "AN", 1),
           3 if quick else 8, 1 if quick else 4)


def pyg_forward(model, spec: str, sizes: dict[str, int], features: dict[str, torch.Tensor], readout):
    """The PyG version of ``model``'s architecture (same widths, depth, MLPs, processors) and
    its forward on the collated batch of ``features``."""
    h = model.options
    batch = pyg_batch(model.plan, features)
    edge_keys = model.plan.architecture(model.architecture).edge_processors
    net = PygENGNN(batch, edge_keys, h.hidden, h.layers, h.mlp_layers, readout)
    if spec == "ic_beamforming_edge":
        return lambda: pyg_ic(net, batch)
    return lambda: pyg_mcmu(net, batch, sizes["K"])


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
    pyg = "not installed" if torch_geometric is None else torch_geometric.__version__
    print(f"torch {torch.__version__}, torch_geometric {pyg}, {args.threads} threads, {platform.machine()}, "
          f"batch {BATCH}, float32, forward+backward, allocator {'tuned (mallopt)' if tuned else 'default'}")
    print("| case | generated, preset engnn | generated, per-key edge processors | hand-written dense ENGNN "
          "| ratio (preset / hand-written) | PyG HeteroConv | ratio (preset / PyG) |")
    print("|---|---|---|---|---|---|---|")
    for label, spec, sizes, make_reference, readout, rounds, pyg_rounds in cases(args.quick):
        cls = generated_class(spec)
        model, per_key = cls(preset="engnn"), cls(preset="engnn", edge_processors="key")
        reference = make_reference(model.options)
        features = random_features(model.plan, sizes, BATCH, torch.float32, torch.Generator().manual_seed(0))
        run_reference = reference_ic if spec == "ic_beamforming_edge" else reference_mcmu
        forwards = [lambda: model(**features), lambda: per_key(**features),
                    lambda: run_reference(reference, **features)]
        if torch_geometric is not None:
            forwards.append(pyg_forward(model, spec, sizes, features, readout))
        times = step_times(forwards, [rounds] * 3 + [pyg_rounds])
        ours, keyed, theirs = (BATCH / t for t in times[:3])
        if torch_geometric is None:
            pyg_cells = "skipped: torch_geometric not installed | –"
        else:
            pyg_cells = f"{BATCH / times[3]:.0f} samples/s | {ours / (BATCH / times[3]):.2f}×"
        print(f"| {label} | {ours:.0f} samples/s | {keyed:.0f} samples/s | {theirs:.0f} samples/s "
              f"| {ours / theirs:.2f}× | {pyg_cells} |", flush=True)


if __name__ == "__main__":
    main()
