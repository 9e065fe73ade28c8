"""Building blocks of the compiled GNNs: MLPs, processors and one update layer (Zhao Prop. 1/2);
the pooling is in :mod:`designer.runtime.pooling`.

Shapes are instance-major: vertex states of a type are ``(n, batch, d)`` (vertices in row-major
order of their index tuples), edge states of a type are ``(E, batch, d)`` (edges first-endpoint
major, see :mod:`designer.runtime.device_instance`). Gathering vertices or edges then copies whole
``batch × d`` blocks, which is what keeps the index operations cheap on CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .device_instance import DeviceInstance, ListView, View, take_rows
from .options import Widths
from .plan import Architecture, EdgeType, Plan
from .pooling import ListPool, Partial, Pool, RowPool, pool_of

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU, "identity": nn.Identity}
INPLACE = (nn.ReLU, nn.SiLU)
GEMM_ROWS = 2**17  # rows per GEMM of a weight gradient (see _weight_grad)


class InstanceLinear(nn.Module):
    """A linear map with its own weights for each of ``instances`` positions (no parameter
    sharing: the VertexGNN_NP / EdgeGNN_NP baselines of Zhao eqs. 5–6).

    ``x (instances, batch, in) → (instances, batch, out)``; initialised like ``nn.Linear``.
    """

    def __init__(self, instances: int, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        bound = 1 / math.sqrt(in_features) if in_features else 0.0
        self.weight = nn.Parameter(torch.empty(instances, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(instances, out_features).uniform_(-bound, bound)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] != self.weight.shape[0]:
            raise ValueError(f"per-instance parameters exist for {self.weight.shape[0]} instances, "
                             f"got {x.shape[0]}: a sharing='none' model runs only at the sizes it was built for")
        out = torch.einsum("nbi,nio->nbo", x, self.weight)
        return out if self.bias is None else out + self.bias.unsqueeze(1)


class Affine(torch.autograd.Function):
    """``c + x Wᵀ`` for rows ``x (n, in)`` and ``weight (out, in)``; ``c`` is a bias ``(out,)``,
    a matrix ``(n, out)`` (the GEMM adds onto it) or None → ``(n, out)``.

    The same arithmetic as ``torch.addmm(c, x, weight.t())``, with both GEMMs' right operands
    contiguous: ``x Wᵀ`` with ``Wᵀ`` copied (it is small), and ``∂x = g W``. CPU BLAS runs
    narrow GEMMs (8 channels) about 1.4× slower with a transposed right operand, and autograd
    of ``x @ Wᵀ.contiguous()`` would transpose it again for ``∂x``: hence the backward here.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, c: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.c_dim = None if c is None else c.dim()
        transposed = weight.t().contiguous()
        return x.mm(transposed) if c is None else torch.addmm(c, x, transposed)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        x, weight = ctx.saved_tensors
        needs_x, needs_weight, needs_c = ctx.needs_input_grad
        grad_x = grad.mm(weight) if needs_x else None
        grad_weight = _weight_grad(grad, x) if needs_weight else None
        grad_c = (grad.sum(0) if ctx.c_dim == 1 else grad) if needs_c else None
        return grad_x, grad_weight, grad_c


def _weight_grad(grad: Tensor, x: Tensor) -> Tensor:
    """``gradᵀ x`` summed over blocks of :data:`GEMM_ROWS` rows: MKL runs one GEMM over millions
    of rows of a few channels about 1.7× slower than the same sum in blocks (ENGNN-E at K = 100
    has 2.5 million rows of 8 channels per edge type); up to a block it is one GEMM."""
    out = None
    for g, rows in zip(grad.split(GEMM_ROWS), x.split(GEMM_ROWS)):
        out = g.t().mm(rows) if out is None else out.addmm_(g.t(), rows)
    return out


def affine(x: Tensor, weight: Tensor, c: Tensor | None = None) -> Tensor:
    """:class:`Affine` of ``x (*lead, in)`` → ``(rows, out)``, rows = prod(lead)."""
    return Affine.apply(x.reshape(-1, x.shape[-1]), weight, c)


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters) computed by :func:`affine`: ``(*lead, in) → (*lead, out)``.
    Rows ``(n, in)`` give the GEMM's output itself, not a view: an in-place activation after it
    then needs no copy in the backward."""

    def forward(self, x: Tensor) -> Tensor:
        out = affine(x, self.weight, self.bias)
        return out if x.dim() == 2 else out.view(*x.shape[:-1], self.out_features)


def linear(in_features: int, out_features: int, instances: int | None = None, bias: bool = True) -> nn.Module:
    """:class:`Linear`, or :class:`InstanceLinear` when ``instances`` is given (no sharing)."""
    if instances is None:
        return Linear(in_features, out_features, bias=bias)
    return InstanceLinear(instances, in_features, out_features, bias=bias)


@dataclass(frozen=True)
class MLPShape:
    """Depth, width, activation and normalisation shared by every MLP of a model."""

    depth: int = 2
    width: int = 32
    activation: str = "relu"
    norm: str = "none"

    def tail(self, width: int, inplace: bool = True) -> list[nn.Module]:
        """Normalisation and activation after a linear layer of ``width`` outputs (in place when
        ``inplace`` and torch allows: a linear layer's output is not needed for its backward)."""
        act = ACTIVATIONS[self.activation]
        norm = [nn.LayerNorm(width)] if self.norm == "layer" else []
        return norm + [act(inplace=True) if inplace and act in INPLACE else act()]

    def rest(self) -> MLPShape:
        """The shape of an MLP after its first layer."""
        return MLPShape(self.depth - 1, self.width, self.activation, self.norm)


def mlp(in_features: int, out_features: int, shape: MLPShape, instances: int | None = None) -> nn.Sequential:
    """``shape.depth`` linear layers (hidden width ``shape.width``), each followed by the
    normalisation and activation — ENGNN §IV: "3 linear layers, each followed by a ReLU"."""
    widths = [in_features] + [shape.width] * (shape.depth - 1) + [out_features]
    modules: list[nn.Module] = []
    for w_in, w_out in zip(widths, widths[1:]):
        modules += [linear(w_in, w_out, instances)] + shape.tail(w_out, inplace=instances is None)
    return nn.Sequential(*modules)


def rowwise(module: nn.Module, x: Tensor, lead: tuple[int, ...], per_instance: bool) -> Tensor:
    """Apply ``module`` to ``x`` (anything with ``lead`` leading entries and a channel axis) as
    one ``(rows, w)`` matrix and return ``(*lead, out)``. With shared parameters every linear
    output is then a plain tensor that in-place activations may overwrite without autograd
    copies; per-instance parameters need the ``(instances, batch, w)`` shape instead."""
    if per_instance:
        return module(x.reshape(*lead, x.shape[-1]))
    return module(x.reshape(-1, x.shape[-1])).view(*lead, -1)


class Embedding(nn.Module):
    """Per-type initial state (ENGNN eq. 20): ``act(W x + b)`` of the type's real-valued
    features ``x (n, batch, width)``; a type without features starts from a learned constant."""

    def __init__(self, width: int, out: int, shape: MLPShape, instances: int | None = None):
        super().__init__()
        self.per_instance = instances is not None
        if width:
            self.layer = nn.Sequential(linear(width, out, instances), *shape.tail(out, inplace=not self.per_instance))
        else:
            self.constant = nn.Parameter(torch.randn(instances or 1, out) * 0.1)

    def forward(self, x: Tensor) -> Tensor:
        if hasattr(self, "layer"):
            return rowwise(self.layer, x, x.shape[:-1], self.per_instance)
        return self.constant.unsqueeze(1).expand(x.shape[0], x.shape[1], -1)


class PairMLP(nn.Module):
    """An MLP on the concatenation (a, b) with its first layer split, ``W_a a + W_b b + bias``,
    so that ``b`` may be added by broadcasting or gathering (see :class:`Processor`).

    As a combiner (ENGNN MLP_2, MLP_4, MLP_7; Zhao's CB) it maps (own state, pooled messages)
    ``(n, batch, d) × (n, batch, d) → (n, batch, out)``.
    """

    def __init__(self, a_in: int, b_in: int, out: int, shape: MLPShape, instances: int | None = None):
        super().__init__()
        first = shape.width if shape.depth > 1 else out
        self.per_instance = instances is not None
        self.a_in = linear(a_in, first, instances)
        self.b_in = linear(b_in, first, instances, bias=False)
        self.head = nn.Sequential(*shape.tail(first, inplace=not self.per_instance))
        self.rest = mlp(first, out, shape.rest(), instances) if shape.depth > 1 else nn.Sequential()

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.finish(self.first(a, b), a.shape[:-1])

    def first(self, a: Tensor, b: Tensor) -> Tensor:
        """The first layer ``W_a a + W_b b + bias`` of ``a (*lead, d_a)`` and ``b (*lead, d_b)``:
        ``(rows, width)``, the GEMM of ``W_b b`` adding onto ``W_a a + bias`` (per-instance
        parameters: ``(*lead, width)``)."""
        if self.per_instance:
            return self.a_in(a) + self.b_in(b)
        return affine(b, self.b_in.weight, affine(a, self.a_in.weight, self.a_in.bias))

    def finish(self, first: Tensor, lead: tuple[int, ...]) -> Tensor:
        """The first layer's activation (in place on ``first``, a fresh tensor) and the layers
        after it; returns ``(*lead, out)``."""
        return rowwise(self.rest, self.head(first), lead, self.per_instance)


class Processor(PairMLP):
    """A processor q of Zhao Prop. 1/2 (ENGNN MLP_1, MLP_3, MLP_5, MLP_6) on (edge state,
    vertex state); ``W_v`` runs once per vertex and its result is gathered or broadcast to the
    edges (per edge, after gathering, for per-instance parameters)."""

    def messages(self, edges: Tensor, vertices: Tensor, view: View | ListView, gather: bool) -> Tensor:
        """Messages ``(E, batch, out)`` for edges ``(E, batch, d_e)`` in ``view`` order.

        ``gather``: the vertex input is each edge's opposite endpoint (``view.other``; vertex
        update, eq. 21/22); otherwise it is the row vertex shared by the edges (eq. 24).
        """
        if self.per_instance:
            index = view.other if gather else torch.arange(view.rows, device=edges.device).repeat_interleave(view.count)
            return self(edges, vertices.index_select(0, index))
        index = view.other if gather else view.row_index
        if index is not None:  # W_v h_v + bias per vertex, gathered; the GEMM of W_e h_e adds onto it
            v = affine(vertices, self.b_in.weight, self.a_in.bias).view(*vertices.shape[:-1], -1)
            first = affine(edges, self.a_in.weight, take_rows(v, index).view(-1, v.shape[-1]))
            return self.finish(first, edges.shape[:-1])
        e, v = self.a_in(edges), self.b_in(vertices)
        _, b, w = e.shape
        return self.finish(e.view(view.rows, view.count, b, w) + v.unsqueeze(1), edges.shape[:-1])


# ---------------------------------------------------------------------------------------------
# Sharing: which table key a processor, pooler or combiner is instantiated under.
# ---------------------------------------------------------------------------------------------



@dataclass(frozen=True)
class Sharing:
    """How the architecture tables' keys map to module keys.

    * ``full`` — one module per key of the tables (Zhao Prop. 1/2; equivariant to exactly G);
    * ``homogeneous`` — one vertex type and one edge type (all processors, poolers and
      combiners shared: an MPGNN-like homogeneous GNN);
    * ``vertex-types`` — edge types between the same two vertex types merged (the keys know
      vertex types only: Zhao's Limitation 1);
    * ``none`` — per-instance parameters under the full keys (VertexGNN_NP / EdgeGNN_NP).

    ``edge_processors``: ``key`` — one edge processor per (updated edge type, shared vertex
    type, neighbouring edge type), Zhao Prop. 2 as tabulated; ``neighbour`` — one per (shared
    vertex type, neighbouring edge type), shared by every updated edge type, as ENGNN's MLP_5 /
    MLP_6 (eq. 24) are shared by all edges. Both keys are G-invariant, so both are equivariant to
    G; ``neighbour`` computes each message once instead of once per updated type.
    """

    mode: str = "full"
    edge_processors: str = "key"

    def vertex(self, vertex_type: str) -> str:
        return "vertex" if self.mode == "homogeneous" else vertex_type

    def edge(self, et: EdgeType) -> str:
        if self.mode == "homogeneous":
            return "edge"
        return f"{et.sets[0]}__{et.sets[1]}" if self.mode == "vertex-types" else et.name

    def vertex_processor(self, plan: Plan, key: tuple[str, str, str]) -> str:
        target, source, edge = key
        return f"{self.vertex(target)}__from__{self.vertex(source)}__via__{self.edge(plan.edge_type(edge))}"

    def edge_processor(self, plan: Plan, key: tuple[str, str, str]) -> str:
        target, through, neighbour = key
        source = f"{self.edge(plan.edge_type(neighbour))}__through__{self.vertex(through)}"
        return source if self.edge_processors == "neighbour" else f"{self.edge(plan.edge_type(target))}__from__{source}"


class UpdateLayer(nn.Module):
    """One updating layer (ENGNN §III-C) under one architecture table.

    Vertex update (Zhao Prop. 1, eq. 5; ENGNN eqs. 21–22): for a target vertex t of type T,
    ``h'_t = combiner_T(h_t, Σ_keys pool_{s ~ t} q_(T,S,e)(h_s, h_(t,s)))`` over the keys
    (T, S, e) of the table. Edge update (Prop. 2, eq. 6; ENGNN eq. 24): for an edge (u, v) of
    type e, ``h'_(u,v) = combiner_e(h_(u,v), Σ_keys pool q_(e,T,e')(h_(w), h_x))`` over the
    neighbouring edges w of type e' through the shared endpoint x of type T, the edge itself
    excluded. Messages pool per module key, then the pools of all keys add up. With
    ``residual`` every updated state is added to its previous one, ``h_t + combiner_T(...)``.
    """

    def __init__(self, plan: Plan, arch: Architecture, sharing: Sharing, widths: Widths, shape: MLPShape,
                 pooling: str, instance: DeviceInstance | None = None, residual: bool = False,
                 wanted: Wanted | None = None):
        super().__init__()
        self.plan, self.arch, self.sharing, self.pooling, self.residual = plan, arch, sharing, pooling, residual
        self.wanted = wanted or Wanted(frozenset(arch.vertex_targets), frozenset(arch.edge_targets))
        counts = _Counts(instance)
        v, e = widths.vertex, widths.edge
        self.vertex_processors = nn.ModuleDict()
        for key in self._keys("vertex"):
            name = sharing.vertex_processor(plan, key)
            if name not in self.vertex_processors:
                self.vertex_processors[name] = Processor(e, v, v, shape, counts.edges(key[2]))
        self.edge_processors = nn.ModuleDict()
        for key in self._keys("edge"):
            name = sharing.edge_processor(plan, key)
            if name not in self.edge_processors:
                self.edge_processors[name] = Processor(e, v, e, shape, counts.edges(key[2]))
        vertex_targets = [t for t in arch.vertex_targets if t in self.wanted.vertices]
        edge_targets = [t for t in arch.edge_targets if t in self.wanted.edges]
        targets = [sharing.vertex(t) for t in vertex_targets] + [sharing.edge(plan.edge_type(t)) for t in edge_targets]
        self.poolers = nn.ModuleDict({name: Pool(pooling) for name in dict.fromkeys(targets)})
        self.vertex_combiners = nn.ModuleDict()
        for t in vertex_targets:
            if sharing.vertex(t) not in self.vertex_combiners:
                self.vertex_combiners[sharing.vertex(t)] = PairMLP(v, v, v, shape, counts.vertices(t))
        self.edge_combiners = nn.ModuleDict()
        for t in edge_targets:
            name = sharing.edge(plan.edge_type(t))
            if name not in self.edge_combiners:
                self.edge_combiners[name] = PairMLP(e, e, e, shape, counts.edges(t))

    def _keys(self, kind: str) -> list[tuple[str, str, str]]:
        return _keys(self.arch, self.wanted, kind)

    def forward(self, vertices: dict[str, Tensor], edges: dict[str, Tensor], instance: DeviceInstance
                ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """New vertex and edge states from the previous layer's (both updates read layer l−1).

        Only the types in ``wanted`` (those read after this layer) are updated, and only the
        messages they pool computed; the other types keep their states.
        """
        wanted = self.wanted
        taken = _Taken(edges)
        new_vertices = dict(vertices)
        for t, groups in self._vertex_messages(vertices, taken, instance, wanted.vertices).items():
            name = self.sharing.vertex(t)
            new_vertices[t] = self._skip(vertices[t], self.vertex_combiners[name](
                vertices[t], _pooled(vertices[t], self.poolers[name], groups)))
        new_edges = dict(edges)
        for t, groups in self._edge_messages(vertices, taken, instance, wanted.edges).items():
            name = self.sharing.edge(self.plan.edge_type(t))
            new_edges[t] = self._skip(edges[t], self.edge_combiners[name](
                edges[t], _pooled(edges[t], self.poolers[name], groups)))
        return new_vertices, new_edges

    def _skip(self, previous: Tensor, update: Tensor) -> Tensor:
        """The new state: ``update``, or ``previous + update`` with ``residual``."""
        return previous + update if self.residual else update

    def _vertex_messages(self, vertices, taken: _Taken, instance: DeviceInstance, targets: frozenset[str]
                         ) -> dict[str, dict[str, list[Partial]]]:
        """Per target vertex type in ``targets``, per module key: pooled messages q(h_source, h_edge)."""
        out = {t: {} for t in self.arch.vertex_targets if t in targets}
        for key in self.arch.vertex_processors:
            target, source, edge = key
            if target not in targets:
                continue
            name = self.sharing.vertex_processor(self.plan, key)
            view = instance.view(self.plan.edge_type(edge), target)
            messages = self.vertex_processors[name].messages(taken(edge, view), vertices[source], view, gather=True)
            out[target].setdefault(name, []).append(pool_of(messages, view, self.pooling).per_row())
        return out

    def _edge_messages(self, vertices, taken: _Taken, instance: DeviceInstance, targets: frozenset[str]
                       ) -> dict[str, dict[str, list[Partial]]]:
        """Per target edge type in ``targets``, per module key: pooled messages q(h_neighbour
        edge, h_shared vertex) over the neighbours through each endpoint of the target type,
        itself excluded. A module shared by several keys computes its messages once."""
        out = {t: {} for t in self.arch.edge_targets if t in targets}
        pools: dict[tuple[str, str, str], RowPool | ListPool] = {}
        for key in self.arch.edge_processors:
            target, through, neighbour = key
            if target not in targets:
                continue
            name = self.sharing.edge_processor(self.plan, key)
            et, nt = self.plan.edge_type(target), self.plan.edge_type(neighbour)
            view = instance.view(nt, through)
            if (name, neighbour, through) not in pools:
                messages = self.edge_processors[name].messages(taken(neighbour, view), vertices[through], view,
                                                              gather=False)
                pools[name, neighbour, through] = pool_of(messages, view, self.pooling)
            pool = pools[name, neighbour, through]
            for row, own in _sides(instance, et, through):
                read = pool.excluding_self(own) if neighbour == target else pool.at(row)
                out[target].setdefault(name, []).append(read)
        return out


@dataclass(frozen=True)
class Wanted:
    """The vertex and edge types whose new states are read after a layer."""

    vertices: frozenset[str]
    edges: frozenset[str]


def _keys(arch: Architecture, wanted: Wanted, kind: str) -> list[tuple[str, str, str]]:
    """The table's vertex (or edge) processor keys whose target is in ``wanted``."""
    keys = arch.vertex_processors if kind == "vertex" else arch.edge_processors
    targets = wanted.vertices if kind == "vertex" else wanted.edges
    return [key for key in keys if key[0] in targets]


def wanted_per_layer(arch: Architecture, read: Wanted, layers: int) -> tuple[list[Wanted], Wanted]:
    """(what each of ``layers`` layers must update or pass on, what the first layer reads) when
    ``read`` is what the read-out reads: a layer reads the types it passes on or updates (a
    combiner reads the previous state) and its processors' sources, edges, shared vertices and
    neighbouring edges. Modules no output can reach are then never built."""
    wanted = []
    for _ in range(layers):
        wanted.insert(0, read)
        vertices, edges = set(read.vertices), set(read.edges)
        for _, source, edge in _keys(arch, read, "vertex"):
            vertices.add(source)
            edges.add(edge)
        for _, through, neighbour in _keys(arch, read, "edge"):
            vertices.add(through)
            edges.add(neighbour)
        read = Wanted(frozenset(vertices), frozenset(edges))
    return wanted, read


class _Taken:
    """Edge states in a view's order, gathered once per layer however many keys read them."""

    def __init__(self, edges: dict[str, Tensor]):
        self.edges, self.cache = edges, {}

    def __call__(self, edge_type: str, view: View) -> Tensor:
        key = (edge_type, id(view))
        if key not in self.cache:
            self.cache[key] = view.take(self.edges[edge_type])
        return self.cache[key]


def _pooled(states: Tensor, pool: Pool, groups: dict[str, list[Partial]]) -> Tensor:
    """The pooled messages ``(n, batch, d)`` of a target type (zeros if it receives none)."""
    return pool(groups) if groups else torch.zeros_like(states)


def _sides(instance: DeviceInstance, et: EdgeType, through: str):
    """For each endpoint of the edge type ``et`` of vertex type ``through``: that endpoint of
    every edge of ``et`` (its row in a view through ``through``) and, in the view of ``et``
    itself through it, the position of the edge's own message (None: the edges' own order)."""
    e = instance.edges[et.name]
    if et.sets[0] == through:
        yield e.first, None
    if et.sets[1] == through and not et.is_loop:
        # a same-set type is viewed through its first endpoint: the edge (u, v) at v is (v, u) there
        yield e.second, e.own_at_second(same_set=et.sets[0] == through)


class _Counts:
    """Instance counts for per-instance (sharing='none') modules; None when sharing."""

    def __init__(self, instance: DeviceInstance | None):
        self.instance = instance

    def vertices(self, vertex_type: str) -> int | None:
        return None if self.instance is None else self.instance.counts[vertex_type]

    def edges(self, edge_type: str) -> int | None:
        return None if self.instance is None else len(self.instance.edges[edge_type])
