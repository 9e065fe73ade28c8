"""Training throughput of generated models (forward + backward samples/s, float32, CPU or CUDA,
batch 256 unless --batch says otherwise) against a hand-written dense ENGNN and, when
torch_geometric is installed, the same architecture in PyG.

Cases: ENGNN-E on the K-pair interference channel (spec ``ic_beamforming_edge``, N = 2 antennas,
K = 20 and K = 100 pairs), ENGNN-N with sparse interference edges (``ic_beamforming_sparse``:
beams on the BS vertices, each UE keeps its 8 strongest interfering BSs; K = 1000, batch 8, no
dense hand-written reference, which would be another model) and MCMU power allocation (M = 4
cells × K = 5 UEs). The generated
model is the spec's ``VertexEdgeGNN`` class with ``preset="engnn", readout="own"`` (ENGNN's
read-out, eq. 26, from the carrier's state only); its last layer updates only the type the
read-out reads. The reference is :class:`DenseENGNN`, written here directly from ENGNN
eqs. 19–26 with the same hidden sizes, depth, MLPs and max aggregation (one-hot
direct/interference indicators appended to the edge features, as in ENGNN), timed twice: every
update in every layer, as the equations read, and with its last layer pruned likewise.

The PyG columns (:class:`PygENGNN`) are the generated model's architecture on edge lists: the
256 samples collated into one disjoint-union ``HeteroData`` batch (once, untimed, as a
DataLoader would), vertex updates by ``HeteroConv`` over ``MessagePassing`` layers (message MLP
on [source state, edge state], max per edge type, summed over edge types), the same
embeddings, combiners, read-out, last-layer pruning and constraint projection. Edge updates
two ways: ``HeteroConv`` over the line graph (one message per pair of edges sharing a vertex —
PyG's way of passing messages between edges; run only where its pair tensors fit in memory),
and a hand-optimised version with one message per edge, max-scattered per shared vertex with
the edge itself removed by the top-2 trick. With the generated model's weights copied in,
both compute the generated model's outputs (the last column: the largest difference, float64).
No compiled extension (torch-scatter, torch-sparse) is used: PyG then scatters with
``torch.scatter_reduce``. The PyG models run fewer timed rounds where one step takes seconds
(see :func:`cases`).

    PYTHONPATH=. python benchmarks/model_throughput.py                   # about 2.5 minutes with PyG
    PYTHONPATH=. python benchmarks/model_throughput.py --default-malloc  # leave the allocator alone
    PYTHONPATH=. python benchmarks/model_throughput.py --quick           # fewer rounds
    PYTHONPATH=. python benchmarks/model_throughput.py --device cuda     # on a CUDA GPU
    PYTHONPATH=. python benchmarks/model_throughput.py --only kept       # the sparse case alone

With ``--device cuda`` every model, its features and the collated PyG batch live on the GPU,
and each timed step is bracketed by ``torch.cuda.synchronize()``; ``--threads`` and the
allocator tweak apply only on CPU, and the header names the GPU instead. The line-graph PyG
model's ``--line-graph-memory`` cutoff is then a limit on GPU memory.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.testing import random_features  # noqa: E402
from designer.wireless import PROBLEMS  # noqa: E402

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
LIVE_PAIR_TENSORS = 10  # pair-sized tensors a line-graph layer keeps for its backward (memory estimate)


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
    position = torch.arange(x.shape[dim], device=x.device).view([-1 if i == dim else 1 for i in range(x.dim())])
    return torch.where(arg.narrow(dim, 0, 1) == position, second, first)


class DenseENGNN(nn.Module):
    """ENGNN (Wang et al. §III) for power allocation / beamforming on a bipartite TX–RX graph,
    dense: TX states ``(b, M, d)``, RX states ``(b, K, d)``, edge states ``(b, M, K, d)``.

    eq. 19–20: [Re, Im] features and one-hot link indicators → ReLU(W x + b) per node/edge kind;
    eq. 21/22: TX (RX) update MLP_2(f, max_k MLP_1(f_RX,k, E_m,k)) (MLP_3, MLP_4 for RX);
    eq. 24: edge update MLP_7(E_m,k, max(max_{k1≠k} MLP_5(E_m,k1, f_TX,m), max_{m1≠m} MLP_6(E_m1,k, f_RX,k)));
    eq. 26: a linear read-out per edge (``out`` channels) or per TX node.

    ``prune_last``: the last layer computes only what the read-out reads (the edge update, or
    the TX update), as the generated models do; otherwise every update, as the equations read.
    """

    def __init__(self, tx_in: int, rx_in: int, edge_in: int, out: int, hidden: int, layers: int, depth: int,
                 on_edges: bool, prune_last: bool = False):
        super().__init__()
        d = hidden
        self.pre_tx, self.pre_rx = nn.Linear(tx_in, d), nn.Linear(rx_in, d)
        self.pre_edge = nn.Linear(edge_in + 2, d)
        self.layers = nn.ModuleList(nn.ModuleDict({name: mlp([2 * d] + [d] * depth) for name in
                                                   ("mlp1", "mlp2", "mlp3", "mlp4", "mlp5", "mlp6", "mlp7")})
                                    for _ in range(layers))
        self.post = nn.Linear(d, out)
        self.on_edges, self.prune_last = on_edges, prune_last

    def forward(self, f_tx: torch.Tensor, f_rx: torch.Tensor, e: torch.Tensor, direct: torch.Tensor) -> torch.Tensor:
        b, m, k, _ = e.shape
        indicator = torch.stack([direct, ~direct], dim=-1).to(e.dtype).expand(b, m, k, 2)
        tx, rx = torch.relu(self.pre_tx(f_tx)), torch.relu(self.pre_rx(f_rx))
        edges = torch.relu(self.pre_edge(torch.cat([e, indicator], dim=-1)))
        for i, f in enumerate(self.layers):
            full = not (self.prune_last and i == len(self.layers) - 1)
            tx_b, rx_b = tx.unsqueeze(2).expand(b, m, k, -1), rx.unsqueeze(1).expand(b, m, k, -1)
            new_tx, new_rx, new_edges = tx, rx, edges
            if full or not self.on_edges:
                new_tx = f["mlp2"](torch.cat([tx, f["mlp1"](torch.cat([rx_b, edges], -1)).amax(2)], -1))
            if full:
                new_rx = f["mlp4"](torch.cat([rx, f["mlp3"](torch.cat([tx_b, edges], -1)).amax(1)], -1))
            if full or self.on_edges:
                through_tx = max_except_self(f["mlp5"](torch.cat([edges, tx_b], -1)), dim=2)
                through_rx = max_except_self(f["mlp6"](torch.cat([edges, rx_b], -1)), dim=1)
                new_edges = f["mlp7"](torch.cat([edges, torch.maximum(through_tx, through_rx)], -1))
            tx, rx, edges = new_tx, new_rx, new_edges
        return self.post(edges if self.on_edges else tx)


def scale_if_above(power: torch.Tensor, budget: torch.Tensor | float) -> torch.Tensor:
    """The factor min(1, budget / power) of a per-BS power budget."""
    return (budget / power.clamp_min(1e-12)).clamp(max=1.0)


def reference_ic(model: DenseENGNN, H: torch.Tensor, p_max: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """ENGNN-E on the interference channel: beamformers on the direct links, per-BS budget."""
    k = H.shape[1]
    e = torch.cat([H.real, H.imag], dim=-1)
    out = model(p_max.unsqueeze(-1), sigma.unsqueeze(-1), e, torch.eye(k, dtype=torch.bool, device=H.device))
    n = out.shape[-1] // 2
    v = torch.complex(out[..., :n], out[..., n:]).diagonal(dim1=1, dim2=2).transpose(1, 2)  # (b, K, N)
    power = (v.real.square() + v.imag.square()).sum(-1, keepdim=True)
    return v * scale_if_above(power, p_max.unsqueeze(-1)).sqrt()


def reference_mcmu(model: DenseENGNN, H: torch.Tensor) -> torch.Tensor:
    """MCMU power allocation: AN (Tx) – UE (Rx) graph over all M·K pairs, powers per AN."""
    b, m, k = H.shape[:3]
    gain = H.reshape(b, m * k, m * k).transpose(1, 2).unsqueeze(-1)  # (b, AN, UE, 1)
    ones = torch.ones(b, m * k, 1, device=H.device)
    p = torch.sigmoid(model(ones, ones, gain, torch.eye(m * k, dtype=torch.bool, device=H.device))).reshape(b, m, k)
    return p * scale_if_above(p.sum(-1, keepdim=True), 1.0)


# ---------------------------------------------------------------------------------------------
# The same architecture in PyTorch Geometric: the batch as one disjoint-union HeteroData graph,
# vertex updates by HeteroConv, edge updates by gathering and scattering over the edge lists.
# ---------------------------------------------------------------------------------------------

def pyg_batch(plan, features: dict[str, torch.Tensor]):
    """The batch as one graph: each sample exported by :func:`designer.runtime.pyg.to_hetero_data`
    (edge types ``(BS, e, UE)`` and their reverses ``(UE, rev_e, BS)``; a sparse edge type's kept
    pairs of that sample), then collated on CPU and moved to the features' device. Built once,
    outside the timed steps, as a DataLoader's collate would (the generated model chooses its
    kept pairs inside every timed step)."""
    device = next(iter(features.values())).device
    on_cpu = to_device(features, torch.device("cpu"))
    batch = next(iter(on_cpu.values())).shape[0]
    return Batch.from_data_list([to_hetero_data(plan, on_cpu, s) for s in range(batch)]).to(device)


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


class EdgeMessages(MessagePassing):
    """An edge processor on the line graph (ENGNN MLP_5 / MLP_6, Zhao's edge q): for every pair
    (neighbouring edge j, updated edge i) sharing a vertex v, the message MLP([h_j, h_v]), max
    over each updated edge's pairs. ``processor`` is shared by the updated edge types."""

    def __init__(self, processor: nn.Module):
        super().__init__(aggr="max")
        self.processor = processor

    def forward(self, x: torch.Tensor | tuple[torch.Tensor, torch.Tensor], edge_index: torch.Tensor,
                edge_attr: torch.Tensor) -> torch.Tensor:
        x = (x, x) if torch.is_tensor(x) else x  # HeteroConv passes one tensor when source and target types agree
        return self.propagate(edge_index, x=x, edge_attr=edge_attr, size=(x[0].shape[0], x[1].shape[0]))

    def message(self, x_j: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        return self.processor(torch.cat([x_j, edge_attr], dim=-1))


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

    ``line_graph``: edge updates by ``HeteroConv`` over the line graph (one message per pair of
    edges sharing a vertex, as PyG expresses edge-to-edge message passing); otherwise by one
    message per edge, scattered per shared vertex with the edge itself removed (the top-2
    trick the generated models use), a hand-optimised PyG model.
    """

    def __init__(self, node_types, edge_types, edge_keys, d: int, depth: int, line_graph: bool = False):
        super().__init__()
        self.vertex_processors = HeteroConv({et: VertexMessages(d, depth) for et in edge_types}, aggr="sum")
        self.vertex_combiners = nn.ModuleDict({v: mlp([2 * d] + [d] * depth) for v in node_types})
        self.edge_keys = edge_keys
        self.edge_processors = nn.ModuleDict({f"{n}__through__{v}": mlp([2 * d] + [d] * depth)
                                              for _, v, n in edge_keys})
        self.edge_combiners = nn.ModuleDict({t: mlp([2 * d] + [d] * depth) for t, _, _ in edge_keys})
        self.edge_conv = HeteroConv({(n, v, t): EdgeMessages(self.edge_processors[f"{n}__through__{v}"])
                                     for t, v, n in edge_keys}, aggr="sum") if line_graph else None

    def forward(self, x: dict, e: dict, graph: "PygGraph", read: tuple[str, str] | None = None
                ) -> tuple[dict, dict]:
        """New states; ``read = (kind, carrier)``: update only that vertex or edge type (the
        last layer, as the generated models do)."""
        new_x = dict(x)
        if read is None or read[0] == "node":
            edge_index = {et: index for et, index in graph.edge_index.items() if read is None or et[2] == read[1]}
            edge_attr = {et: attr for et, attr in graph.per_edge_type(e).items() if et in edge_index}
            pooled = self.vertex_processors(x, edge_index, edge_attr_dict=edge_attr)
            new_x.update({v: self.vertex_combiners[v](torch.cat([x[v], pooled[v]], dim=-1)) for v in pooled})
        if read is not None and read[0] == "node":
            return new_x, e
        if self.edge_conv is not None:
            pooled_e = self._line_graph_pools(x, e, graph, None if read is None else read[1])
        else:
            pooled_e = self._scatter_pools(x, e, graph, None if read is None else read[1])
        new_e = {t: self.edge_combiners[t](torch.cat([e[t], pooled_e[t]], dim=-1)) for t in pooled_e}
        return new_x, {**e, **new_e}

    def _line_graph_pools(self, x: dict, e: dict, graph: "PygGraph", only: str | None) -> dict:
        """Per updated edge type (``only``: just that one), the pooled messages of the line graph."""
        pairs = {key: value for key, value in graph.line_graph(self.edge_keys).items() if only in (None, key[2])}
        edge_index = {key: index for key, (index, _) in pairs.items()}
        shared = {key: x[key[1]].index_select(0, vertex) for key, (_, vertex) in pairs.items()}
        return self.edge_conv(e, edge_index, edge_attr_dict=shared)

    def _scatter_pools(self, x: dict, e: dict, graph: "PygGraph", only: str | None) -> dict:
        """Per updated edge type (``only``: just that one), pooled messages by scatters."""
        messages, tops, pooled_e = {}, {}, {}
        for target, v, neighbour in self.edge_keys:
            if only not in (None, target):
                continue
            key, at = f"{neighbour}__through__{v}", graph.ends[neighbour][v]
            if key not in messages:  # computed and pooled once, read by every updated type
                messages[key] = self.edge_processors[key](torch.cat([e[neighbour], x[v].index_select(0, at)], -1))
                tops[key] = scatter(messages[key], at, 0, x[v].shape[0], "max")
            if target == neighbour:
                pool = scatter_max_except_self(messages[key], at, tops[key])
            else:
                pool = tops[key].index_select(0, graph.ends[target][v])
            pooled_e[target] = pool if target not in pooled_e else pooled_e[target] + pool
        return pooled_e


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

    def line_graph(self, edge_keys) -> dict:
        """Per (neighbour edge type n, shared vertex type v, updated edge type t): the pairs
        ``(2, P)`` of an n-edge and a different t-edge at the same v-vertex, and that vertex
        ``(P,)``; built once."""
        if not hasattr(self, "_line_graph"):
            self._line_graph = {(n, v, t): _pairs(self.ends[n][v], self.ends[t][v], n == t) for t, v, n in edge_keys}
        return self._line_graph

    def per_edge_type(self, e: dict) -> dict:
        """Edge states keyed by every edge type of the graph (a reverse reads its forward's)."""
        return {et: e[et[1].removeprefix("rev_")] for et in self.edge_index}


def pair_count(graph: PygGraph, edge_keys) -> int:
    """How many pairs :meth:`PygGraph.line_graph` would hold, counted without building them."""
    total = 0
    for t, v, n in edge_keys:
        neighbour_at, target_at = graph.ends[n][v], graph.ends[t][v]
        counts = torch.bincount(neighbour_at, minlength=int(target_at.max()) + 1)
        total += int(counts[target_at].sum()) - (len(target_at) if n == t else 0)
    return total


def _pairs(neighbour_at: torch.Tensor, target_at: torch.Tensor, same: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs (neighbour edge, target edge) whose vertices ``neighbour_at``/``target_at``
    coincide, without (i, i) when both lists are the same edges; and their shared vertex."""
    order = neighbour_at.argsort()
    counts = torch.bincount(neighbour_at, minlength=int(target_at.max()) + 1)
    starts = counts.cumsum(0) - counts
    per_target = counts[target_at]
    target = torch.repeat_interleave(torch.arange(len(target_at), device=target_at.device), per_target)
    offset = torch.arange(len(target), device=target.device)
    offset -= torch.repeat_interleave(per_target.cumsum(0) - per_target, per_target)
    source = order[starts[target_at[target]] + offset]
    keep = source != target if same else torch.ones_like(source, dtype=torch.bool)
    return torch.stack([source[keep], target[keep]]), target_at[target[keep]]


class PygENGNN(nn.Module):
    """ENGNN with the generated model's type structure (``preset="engnn", readout="own"``) in
    PyG: per-type embeddings ReLU(W x + b) (a learned constant for a vertex type without
    features), ``layers`` :class:`PygUpdate` layers (the last one updating only the read-out's
    type), and a linear read-out (eq. 26) of the states of one edge or vertex type."""

    def __init__(self, batch, edge_keys, hidden: int, layers: int, depth: int, readout: tuple[str, str, int],
                 line_graph: bool = False):
        super().__init__()
        d = hidden
        self.graph = graph = PygGraph(batch)
        self.vertex_embeddings = nn.ModuleDict({v: nn.Linear(batch[v].x.shape[-1], d)
                                                for v in batch.node_types if "x" in batch[v]})
        self.vertex_constants = nn.ParameterDict({v: nn.Parameter(torch.randn(1, d) * 0.1)
                                                  for v in batch.node_types if "x" not in batch[v]})
        self.edge_embeddings = nn.ModuleDict({et[1]: nn.Linear(batch[et].edge_attr.shape[-1], d)
                                              for et in graph.forward_types})
        self.layers = nn.ModuleList(PygUpdate(batch.node_types, batch.edge_types, edge_keys, d, depth, line_graph)
                                    for _ in range(layers))
        self.kind, self.carrier, out = readout
        self.head = nn.Linear(d, out)

    def embed(self, batch) -> tuple[dict, dict]:
        x = {v: torch.relu(layer(batch[v].x)) for v, layer in self.vertex_embeddings.items()}
        x.update({v: c.expand(batch[v].num_nodes, -1) for v, c in self.vertex_constants.items()})
        e = {et[1]: torch.relu(self.edge_embeddings[et[1]](batch[et].edge_attr)) for et in self.graph.forward_types}
        return x, e

    def forward(self, batch) -> torch.Tensor:
        x, e = self.embed(batch)
        for i, layer in enumerate(self.layers):
            x, e = layer(x, e, self.graph, (self.kind, self.carrier) if i == len(self.layers) - 1 else None)
        return self.head(e[self.carrier] if self.kind == "edge" else x[self.carrier])


def pyg_ic(model: PygENGNN, batch, sizes=None) -> torch.Tensor:
    """ENGNN-E on the interference channel in PyG: beamformers on the direct-link edges
    (``(b·K, N)``), per-BS budget (``p_max`` is the BS feature)."""
    out = model(batch)
    n = out.shape[-1] // 2
    v = torch.complex(out[:, :n], out[:, n:])
    bs = model.graph.ends["BS_UE_same_pair"]["BS"]
    power = scatter(v.real.square() + v.imag.square(), bs, 0, batch["BS"].num_nodes, "sum").sum(-1, keepdim=True)
    return v * scale_if_above(power, batch["BS"].x).index_select(0, bs).sqrt()


def pyg_ic_node(model: PygENGNN, batch, sizes=None) -> torch.Tensor:
    """ENGNN-N on the interference channel in PyG: beamformers on the BS vertices (``(b·K, N)``),
    per-BS budget."""
    out = model(batch)
    n = out.shape[-1] // 2
    v = torch.complex(out[:, :n], out[:, n:])
    power = (v.real.square() + v.imag.square()).sum(-1, keepdim=True)
    return v * scale_if_above(power, batch["BS"].x).sqrt()


def pyg_mcmu(model: PygENGNN, batch, k: int) -> torch.Tensor:
    """MCMU power allocation in PyG: powers per AN (``(b·M·K, 1)``; ANs numbered sample-,
    then cell-major, so AN i is in cell group i // K), per-cell budget 1."""
    p = torch.sigmoid(model(batch))
    cell = torch.arange(p.shape[0], device=p.device) // k
    return p * scale_if_above(scatter(p, cell, 0, p.shape[0] // k, "sum"), 1.0).index_select(0, cell)


def copy_generated_weights(model, net: PygENGNN) -> None:
    """Load ``model``'s (generated, ``preset="engnn", readout="own"``) parameters into ``net``:
    a PyG MLP's first layer reads the concatenation that the generated first layer splits into
    ``a_in`` and ``b_in``; the later layers are ``rest``'s."""
    def pair(target: nn.Sequential, source, first: list[str]) -> None:
        target[0].weight.copy_(torch.cat([getattr(source, part).weight for part in first], dim=1))
        target[0].bias.copy_(source.a_in.bias)
        linears = [m for m in source.rest if isinstance(m, nn.Linear)]
        for mine, theirs in zip([m for m in target if isinstance(m, nn.Linear)][1:], linears, strict=True):
            mine.load_state_dict(theirs.state_dict())

    with torch.no_grad():
        for v, layer in net.vertex_embeddings.items():
            layer.load_state_dict(model.vertex_embeddings[v].layer[0].state_dict())
        for v, constant in net.vertex_constants.items():
            constant.copy_(model.vertex_embeddings[v].constant)
        for name, layer in net.edge_embeddings.items():
            layer.load_state_dict(model.edge_embeddings[name].layer[0].state_dict())
        for ours, theirs in zip(model.layers, net.layers, strict=True):
            # modules the generated layer does not build (no output reads them) are never run by PyG either
            for (src, name, dst), conv in theirs.vertex_processors.convs.items():
                key = f"{dst}__from__{src}__via__{name.removeprefix('rev_')}"
                if key in ours.vertex_processors:
                    pair(conv.mlp, ours.vertex_processors[key], ["b_in", "a_in"])
            for processors, generated, first in ((theirs.edge_processors, ours.edge_processors, ["a_in", "b_in"]),
                                                 (theirs.vertex_combiners, ours.vertex_combiners, ["a_in", "b_in"]),
                                                 (theirs.edge_combiners, ours.edge_combiners, ["a_in", "b_in"])):
                for key, module in processors.items():
                    if key in generated:
                        pair(module, generated[key], first)
        (head,) = model.heads.values()
        net.head.load_state_dict(head.state_dict())


def check_pyg(model, case: Case, line_graph: bool) -> float:
    """Largest difference (float64, 4 samples) between the generated model's outputs and the
    PyG version's with the same weights, each sample's entries sorted (the two order them
    differently); on ``model``'s device."""
    model = copy.deepcopy(model).double()
    features = random_features(model.plan, case.sizes, 4, torch.float64, torch.Generator().manual_seed(1))
    features = to_device(features, next(model.parameters()).device)
    forward = pyg_forward(model, case, features, line_graph)
    copy_generated_weights(model, forward.net)
    ours = next(iter(model(**features).values())).reshape(4, -1)
    theirs = forward().reshape(4, -1)
    ours = ours[ours != 0].reshape(4, -1) if ours.numel() > theirs.numel() else ours
    sort = lambda x: torch.cat([x.real.sort(-1).values, x.imag.sort(-1).values] if x.is_complex()  # noqa: E731
                               else [x.sort(-1).values], -1)
    return (sort(ours) - sort(theirs)).abs().max().item()


def step(forward) -> None:
    """One forward + backward."""
    out = forward()
    (out.abs().sum() if torch.is_tensor(out) else sum(v.abs().sum() for v in out.values())).backward()


def clock(device: torch.device) -> float:
    """``time.perf_counter()`` once the work queued on ``device`` has finished (CUDA kernels
    run asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def step_times(forwards: list, rounds: list[int], device: torch.device) -> list[float]:
    """Seconds per forward + backward of each model on ``device``: one warm-up step each, then
    rounds that run every model once in turn (so that machine noise hits all alike), model
    ``i`` in the first ``rounds[i]`` of them; the fastest round of each model counts."""
    for forward in forwards:
        step(forward)
    best = [float("inf")] * len(forwards)
    for r in range(max(rounds)):
        for i, forward in enumerate(forwards):
            if r < rounds[i]:
                began = clock(device)
                step(forward)
                best[i] = min(best[i], clock(device) - began)
    return best


@dataclass(frozen=True)
class Case:
    """One row: ``spec`` at ``sizes`` (the problem ``problem`` gives the ENGNN preset); the
    hand-written reference builder (None: no such reference for this model); the PyG read-out
    (kind, carrier, channels) and its post-processing; timed rounds of the generated and
    hand-written models and of the PyG ones (fewer where one of their steps takes seconds);
    ``batch``: samples per step (None: ``--batch``)."""

    label: str
    spec: str
    problem: str
    sizes: dict
    reference: object
    readout: tuple
    pyg_run: object
    rounds: int
    pyg_rounds: int
    batch: int | None = None


def cases(quick: bool):
    """The table's rows."""
    def ic(k, spec="ic_beamforming_edge", what="", rounds=(8, 8), batch=None, reference=True):
        dense = lambda h, prune: DenseENGNN(1, 1, 4, 4, h.hidden, h.layers, h.mlp_layers, True, prune)  # noqa: E731
        return Case(f"interference channel ENGNN-E{what}, K={k}, N=2", spec, "ic_beamforming_edge", {"K": k, "N": 2},
                    dense if reference else None, ("edge", "BS_UE_same_pair", 4), pyg_ic,
                    min(3, rounds[0]) if quick else rounds[0], min(3, rounds[1]) if quick else rounds[1], batch)

    yield ic(20)
    yield ic(100, rounds=(3, 2))
    yield Case("interference channel ENGNN-N, 8 kept interferers per UE, K=1000, N=2", "ic_beamforming_sparse",
               "ic_beamforming_node", {"K": 1000, "N": 2}, None, ("node", "BS", 4), pyg_ic_node,
               3 if quick else 5, 3, batch=8)
    yield Case("MCMU power allocation, M=4, K=5", "mcmu_power_allocation", "mcmu_power_allocation", {"M": 4, "K": 5},
               lambda h, prune: DenseENGNN(1, 1, 1, 1, h.hidden, h.layers, h.mlp_layers, False, prune),
               ("node", "AN", 1), lambda net, batch, sizes: pyg_mcmu(net, batch, sizes["K"]),
               3 if quick else 8, 1 if quick else 4)


def pyg_forward(model, case: Case, features: dict[str, torch.Tensor], line_graph: bool):
    """The PyG version of ``model``'s architecture (same widths, depth, MLPs, processors) and
    its forward on the collated batch of ``features``; edge updates on the line graph or by
    scatters (see :class:`PygUpdate`); on the features' device."""
    h = model.options
    batch = pyg_batch(model.plan, features)
    edge_keys = model.plan.architecture(model.architecture).edge_processors
    net = PygENGNN(batch, edge_keys, h.hidden, h.layers, h.mlp_layers, case.readout, line_graph)
    net = net.to(next(iter(features.values())).device, features_dtype(features))
    forward = lambda: case.pyg_run(net, batch, case.sizes)  # noqa: E731
    forward.net, forward.batch = net, batch
    return forward


def features_dtype(features: dict[str, torch.Tensor]) -> torch.dtype:
    """The real dtype of the features (complex ones give their real part's)."""
    return next(iter(features.values())).real.dtype


def to_device(features: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The features on ``device``."""
    return {name: x.to(device) for name, x in features.items()}


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
    parser.add_argument("--batch", type=int, default=BATCH, help=f"samples per step (default {BATCH})")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--default-malloc", action="store_true", help="leave glibc's allocator settings alone")
    parser.add_argument("--line-graph-memory", type=float, default=12.0, metavar="GB",
                        help="run the line-graph PyG model only where its pair tensors fit in this (default 12)")
    parser.add_argument("--device", type=torch.device, default="cpu", help="cpu (default) or cuda[:N]")
    parser.add_argument("--only", default="", metavar="TEXT", help="run only the cases whose label contains TEXT")
    args = parser.parse_args(argv)
    device = args.device
    if device.type not in ("cpu", "cuda") or (device.type == "cuda" and not torch.cuda.is_available()):
        parser.error(f"--device {device}: neither cpu nor an available CUDA device")
    torch.manual_seed(0)
    if device.type == "cuda":
        where, allocator = f"{device} ({torch.cuda.get_device_name(device)})", ""
    else:
        torch.set_num_threads(args.threads)
        tuned = not args.default_malloc and keep_freed_memory()
        where, allocator = f"{args.threads} threads", f", allocator {'tuned (mallopt)' if tuned else 'default'}"
    pyg = "not installed" if torch_geometric is None else torch_geometric.__version__
    print(f"torch {torch.__version__}, torch_geometric {pyg}, {where}, {platform.machine()}, "
          f"batch {args.batch}, float32, forward+backward{allocator}")
    print("| case | generated, preset engnn | generated, per-key edge processors | hand-written dense ENGNN "
          "| hand-written, last layer pruned | ratio (preset / pruned hand-written) | PyG, line graph "
          "| ratio (preset / PyG line graph) | PyG, scatters | ratio (preset / PyG scatters) "
          "| PyG − generated, float64 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    notes = []
    for case in cases(args.quick):
        if args.only not in case.label:
            continue
        cls = generated_class(case.spec)
        engnn = {**PROBLEMS[case.problem].model_presets.get("engnn", {}), "readout": "own"}
        model = cls.with_preset("engnn", **engnn).to(device)
        per_key = cls.with_preset("engnn", **engnn, edge_processors="key").to(device)
        batch = case.batch or args.batch
        features = random_features(model.plan, case.sizes, batch, torch.float32, torch.Generator().manual_seed(0))
        features = to_device(features, device)
        forwards = [lambda: model(**features), lambda: per_key(**features)]
        if case.reference is not None:
            reference = case.reference(model.options, False).to(device)
            pruned = case.reference(model.options, True).to(device)
            run_reference = reference_ic if case.readout[0] == "edge" else reference_mcmu
            forwards += [lambda: run_reference(reference, **features), lambda: run_reference(pruned, **features)]
        pyg_models, gigabytes = [], 0.0
        if torch_geometric is not None:
            pyg_models, gigabytes = pyg_forwards(model, case, features, args.line_graph_memory)
        times = step_times(forwards + pyg_models,
                           [case.rounds] * len(forwards) + [case.pyg_rounds] * len(pyg_models), device)
        rates = [batch / t for t in times]
        ours, keyed = rates[:2]
        written = rates[2:len(forwards)]
        cells = pyg_cells(model, case, ours, rates[len(forwards):], gigabytes)
        hand = (f"{written[0]:.0f} samples/s | {written[1]:.0f} samples/s | {ours / written[1]:.2f}×" if written
                else "– (another model: dense) | – | –")
        print(f"| {case.label}, batch {batch} | {ours:.0f} samples/s | {keyed:.0f} samples/s | {hand} "
              f"| {' | '.join(cells)} |", flush=True)
        if model.sparsity:
            notes.append(kept_outside_note(model, case, features, rates[len(forwards):], device))
    for note in notes:
        print(note)


def kept_outside_note(model, case: Case, features: dict[str, torch.Tensor], pyg: list[float], device) -> str:
    """The generated sparse model timed with its kept pairs chosen once, outside the timed
    steps, as the PyG batch's are: the network alone, against the PyG scatters model."""
    fixed = copy.deepcopy(model)
    instance = fixed.prepare(case.sizes)
    kept = instance.kept(features)
    instance.kept = lambda features: kept  # every call reuses this batch's kept pairs
    (seconds,) = step_times([lambda: fixed(**features)], [case.rounds], device)
    rate = next(iter(features.values())).shape[0] / seconds
    versus = f", {rate / pyg[0]:.2f}× PyG scatters" if pyg else ""
    return (f"{case.label}: the generated model with its kept pairs chosen once outside the timed steps (as the "
            f"PyG batch's are): {rate:.0f} samples/s{versus}")


def pyg_forwards(model, case: Case, features: dict[str, torch.Tensor], memory: float) -> tuple[list, float]:
    """The PyG models' forwards — scatters, then the line graph where its pair tensors fit in
    ``memory`` GB — and the line graph's estimated memory in GB."""
    scatters = pyg_forward(model, case, features, line_graph=False)
    pairs = pair_count(PygGraph(scatters.batch), scatters.net.layers[0].edge_keys)
    gigabytes = LIVE_PAIR_TENSORS * pairs * model.options.hidden * 4 / 1e9
    if gigabytes > memory:
        return [scatters], gigabytes
    return [scatters, pyg_forward(model, case, features, line_graph=True)], gigabytes


def pyg_cells(model, case: Case, ours: float, pyg: list[float], gigabytes: float) -> list[str]:
    """The table's PyG cells from the measured samples/s ``pyg`` (scatters, line graph if run),
    with the largest float64 difference of the PyG models' outputs from the generated model's."""
    if torch_geometric is None:
        return ["skipped: torch_geometric not installed", "–"] * 2 + ["–"]
    line = len(pyg) > 1
    error = max(check_pyg(model, case, line_graph=False), check_pyg(model, case, line_graph=True) if line else 0.0)
    line_cells = [f"{pyg[1]:.0f} samples/s", f"{ours / pyg[1]:.2f}×"] if line else \
        [f"not run: its pair messages need about {gigabytes:.0f} GB (> --line-graph-memory)", "–"]
    return line_cells + [f"{pyg[0]:.0f} samples/s", f"{ours / pyg[0]:.2f}×", f"{error:.0e}"]


if __name__ == "__main__":
    main()
