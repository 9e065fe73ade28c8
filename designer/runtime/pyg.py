"""Optional PyTorch Geometric adapter: one problem instance as a ``HeteroData`` graph.

Node types are the plan's vertex types (``x``: their features as real channels, ``[n, c]``);
edge types are ``(sets[0], edge type, sets[1])`` with ``edge_index`` ``[2, E]`` (indices within
each node type) and ``edge_attr`` (the edge features on those pairs, ``[E, c]``), plus the
reversed ``(sets[1], "rev_" + edge type, sets[0])`` when ``reverse``. torch_geometric is
imported only by :func:`to_hetero_data`; :func:`hetero_graph` returns the same content as plain
dicts.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor

from .device_instance import DeviceInstance
from .plan import Plan


def _real(x: Tensor, channels) -> Tensor:
    """``(..., c)`` real channels of a feature without its batch axis ([Re, Im] if complex)."""
    if channels is None:
        x = x.unsqueeze(-1)
    return torch.cat([x.real, x.imag], dim=-1) if x.is_complex() else x


def hetero_graph(plan: Plan, features: Mapping[str, Tensor], sample: int = 0, reverse: bool = True,
                 sparse: bool = True
                 ) -> tuple[dict[str, dict[str, Tensor]], dict[tuple[str, str, str], dict[str, Tensor]]]:
    """(node stores, edge stores) of sample ``sample`` of a batch of features in the model
    layout; sizes are read from the features' shapes. A sparse edge type holds the pairs its
    rule keeps in this sample (``sparse=False``: every pair)."""
    sizes = dict(plan.sizes)
    for t in plan.features:
        for a, n in zip(plan.tensor_axes(t.name), features[t.name].shape[1:]):
            if isinstance(plan.axis(a).size, str):
                sizes[plan.axis(a).size] = n
    one = {name: x[sample:sample + 1] for name, x in features.items()}
    instance = DeviceInstance(plan, sizes, sparsity=plan.sparsity if sparse else ()).kept(one)
    nodes = {}
    for vt in plan.vertex_types:
        n = instance.counts[vt.name]
        parts = [_real(features[f][sample], plan.tensor(f).channels).reshape(n, -1) for f in vt.features]
        nodes[vt.name] = {"num_nodes": n, **({"x": torch.cat(parts, dim=-1)} if parts else {})}
    edges = {}
    for et in plan.edge_types:
        e = instance.edges[et.name]
        kept = e.keep[:, 0] if hasattr(e, "keep") else slice(None)
        first, second = (_of_sample(index)[kept] for index in (e.first, e.second))
        store = {"edge_index": torch.stack([first, second])}
        parts = []
        for f in et.features:
            x = _real(features[f][sample], plan.tensor(f).channels)
            at = _of_sample(instance.dense_index(et, plan.tensor(f).dims))[kept]
            parts.append(x.reshape(-1, x.shape[-1]).index_select(0, at))
        if parts:
            store["edge_attr"] = torch.cat(parts, dim=-1)
        edges[(et.sets[0], et.name, et.sets[1])] = store
        if reverse and not (et.sets[0] == et.sets[1]):
            edges[(et.sets[1], f"rev_{et.name}", et.sets[0])] = {**store, "edge_index": store["edge_index"].flip(0)}
    return nodes, edges


def _of_sample(index: Tensor) -> Tensor:
    """``(E,)`` endpoint indices of a one-sample instance (kept edges hold ``(E, 1)``)."""
    return index[:, 0] if index.dim() == 2 else index


def to_hetero_data(plan: Plan, features: Mapping[str, Tensor], sample: int = 0, reverse: bool = True,
                   sparse: bool = True):
    """The instance as ``torch_geometric.data.HeteroData`` (needs torch_geometric)."""
    try:
        from torch_geometric.data import HeteroData
    except ImportError:
        raise ImportError("to_hetero_data needs torch_geometric: python -m pip install torch_geometric") from None
    data = HeteroData()
    nodes, edges = hetero_graph(plan, features, sample, reverse, sparse)
    for name, store in nodes.items():
        for key, value in store.items():
            setattr(data[name], key, value)
    for name, store in edges.items():
        for key, value in store.items():
            setattr(data[name], key, value)
    return data
