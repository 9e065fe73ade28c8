"""The compiled models: :class:`HetGNN` (ENGNN structure with Zhao's type-based sharing) and
the :class:`FNN` baseline, both behind one forward contract (:class:`CompiledModel`).

Forward contract: ``model(**features)`` with keyword arguments named as the spec's feature
tensors, batch first, then one axis per axis of each set in ``dims`` order (a nested set
contributes its parent's axis and its own), then a channel axis only if the tensor declares
``channels``; complex tensors as complex dtype. It returns a dict of the action tensors in the
same layout, projected onto the constraints; ``support: matched`` actions are dense with zeros
off the support. Set sizes are read from the inputs at every call (symbols no input determines
come from ``sizes=`` or the sizes the model was built with); channel counts are fixed at build.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace
from numbers import Integral
from typing import Mapping

import torch
from torch import Tensor, nn

from . import constraints
from .device_instance import DeviceInstance
from .layers import Embedding, MLPShape, Sharing, UpdateLayer, Wanted, linear, mlp, wanted_per_layer
from .options import CHOICES, FNN_OPTIONS, Options
from .pooling import finish, merge, modes, pool_of
from .plan import Plan, Tensor as TensorSig

CODE_WIDTH = 16  # width of the sinusoidal index code of a symmetry-broken axis


def log_magnitude(x: Tensor) -> Tensor:
    """``x · log(1 + |x|) / |x|`` entrywise (0 at 0): the magnitude on a log scale, the sign of
    a real entry or the phase of a complex one kept; ``log(1 + x)`` for non-negative gains."""
    magnitude = x.abs()
    return x * (torch.log1p(magnitude) / magnitude.clamp_min(torch.finfo(magnitude.dtype).tiny))


def all_finite(x: Tensor) -> bool:
    """No nan or inf in ``x`` (real or complex): its least and largest entries are finite (one
    reduction pass, which nan and inf reach, with no temporary the size of ``x``)."""
    if x.numel() == 0:
        return True
    low, high = torch.aminmax(torch.view_as_real(x) if x.is_complex() else x)
    return bool(torch.isfinite(low) & torch.isfinite(high))


def outer_product_channels(h: Tensor) -> Tensor:
    """The real parameters of ``h h^H / ||h||`` for complex vectors ``h`` ``(..., N)``:
    ``(..., N²)`` = ``|h_i|² / ||h||`` for every ``i``, then ``Re`` and ``Im`` of ``h_i h_j^* /
    ||h||`` for ``i < j`` (0 for ``h = 0``).  Every ``e^{jθ} h`` gives the same entries, ``h`` is
    recovered up to that phase, and the entries scale with ``|h|`` as ``[Re h, Im h]`` do: the
    input of a model that must not see a channel's phase, as no interference-channel rate does
    (ENGNN eq. 3)."""
    n = h.shape[-1]
    norm = torch.linalg.vector_norm(h, dim=-1, keepdim=True).clamp_min(torch.finfo(h.real.dtype).tiny)
    outer = (h / norm)[..., :, None] * h[..., None, :].conj()
    i, j = torch.triu_indices(n, n, offset=1, device=h.device)
    upper = outer[..., i, j]
    return torch.cat([outer.diagonal(dim1=-2, dim2=-1).real, upper.real, upper.imag], dim=-1)


# ENGNN §IV: max aggregators, MLPs of 3 linear layers each followed by a ReLU; edge processors
# shared by the updated edge types, as MLP_5/MLP_6 of eq. 24. L and d_E vary by problem: a
# problem's ``model_presets`` give its own (designer/problem.py).
ENGNN = {"pooling": "max", "mlp_layers": 3, "activation": "relu", "layers": 2, "hidden": 64,
         "edge_processors": "neighbour"}
PRESETS = {"engnn": ENGNN}


def mlp_shape(options: Options) -> MLPShape:
    """Depth, width, activation and norm of every processor and combiner MLP."""
    return MLPShape(options.mlp_layers, options.mlp_hidden or options.hidden, options.activation, options.norm)


def resolve_options(plan: Plan, preset: str | None = None, **given) -> Options:
    """Options from defaults, then ``preset`` (``"engnn"``: ENGNN §IV), then ``given``."""
    known = {f.name for f in fields(Options)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValueError(f"unknown model option {unknown[0]!r}; options: preset, sizes, {', '.join(sorted(known))}")
    base = {}
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    base = PRESETS.get(preset, {})
    options = replace(Options(), **{**base, **{k: v for k, v in given.items() if v is not None}})
    for name, choices in CHOICES.items():
        if getattr(options, name) not in choices:
            raise ValueError(f"{name}={getattr(options, name)!r}: choose one of {', '.join(choices)}")
    for name in ("hidden", "layers", "mlp_layers"):
        if not isinstance(getattr(options, name), int) or getattr(options, name) < 1:
            raise ValueError(f"{name}={getattr(options, name)!r}: must be a positive integer")
    if min(options.widths.vertex, options.widths.edge) < len(modes(options.pooling)):
        raise ValueError(f"pooling={options.pooling!r} pools one block of channels per mode: vertex and edge "
                         f"widths must be at least {len(modes(options.pooling))}")
    for name in ("residual", "check_inputs", "sparse"):
        if not isinstance(getattr(options, name), bool):
            raise ValueError(f"{name}={getattr(options, name)!r}: must be true or false")
    return options


def _is_tracing() -> bool:
    """Inside torch.compile or torch.export tracing (data-dependent checks must be skipped)."""
    return torch.compiler.is_compiling() or _is_exporting()


def _is_exporting() -> bool:
    return torch.compiler.is_exporting()


def _eager(fn):
    """``fn``, run outside the trace under ``torch.compile``: the index build is numpy (cached,
    once per size). ``torch.compiler.disable`` is reached only then, so that importing the runtime
    does not import ``torch._dynamo`` (and with it sympy)."""
    return torch.compiler.disable(fn) if torch.compiler.is_compiling() else fn


class RealFeatures(Mapping):
    """The features of one call as real channels (:meth:`CompiledModel.real`), each transformed
    when first read: ``real[name]`` ``(batch, *set axes, channels')``. :meth:`on_pairs` reads a
    two-set feature on some pairs only and transforms just those (every transform is per entry,
    or per channel vector): a sparse edge type reads a few pairs of a large dense input."""

    def __init__(self, model: CompiledModel, features: Mapping[str, Tensor]):
        self.model, self.features, self._done = model, features, {}

    def __getitem__(self, name: str) -> Tensor:
        if name not in self._done:
            self._done[name] = self.model.real(self.features[name], self.model.plan.tensor(name))
        return self._done[name]

    def __iter__(self):
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)

    def on_pairs(self, name: str, pairs: Tensor) -> Tensor:
        """Feature ``name`` on the pairs at flat positions ``pairs`` (``(E,)`` or ``(E, batch)``)
        of its two sets: ``(E, batch, channels')``."""
        t = self.model.plan.tensor(name)
        x = self.features[name]
        batch = x.shape[0]
        rows = x.reshape(batch, -1, x.shape[-1] if t.channels is not None else 1)  # (batch, pairs, c)
        if pairs.dim() == 1:
            taken = rows.transpose(0, 1).index_select(0, pairs)
        else:  # per sample: positions in the (batch · pairs) rows, no copy of the whole input
            at = pairs + torch.arange(batch, device=pairs.device) * rows.shape[1]
            taken = rows.reshape(-1, rows.shape[-1]).index_select(0, at.reshape(-1)).view(*pairs.shape, -1)
        return self.model.real(taken if t.channels is not None else taken.squeeze(-1), t)


class CompiledModel(nn.Module):
    """The forward contract shared by every model compiled from a plan (module docstring).

    Subclasses compute :meth:`readout`: per action tensor, per carrier (a vertex type or an
    edge type carrying it), raw outputs ``(count, batch, channels')``; this class validates
    the inputs, reads the sizes, assembles the dense action tensors and projects them.
    """

    plan: Plan | None = None

    @classmethod
    def with_preset(cls, preset: str, **options):
        """A generated class's model with a named preset's options (``"engnn"``: ENGNN §IV)
        and ``options`` over them."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
        return cls(**{**PRESETS[preset], **options})

    def __init__(self, plan: Plan | None, sizes: Mapping[str, int] | None, options: Options):
        super().__init__()
        self.plan = plan or type(self).plan
        if self.plan is None:
            raise ValueError("no plan: pass one, or use a generated model class")
        self.sizes = {**self.plan.sizes, **self.size_values(sizes or {})}
        self.options = options
        constraints.check_constraints(self.plan)
        self._instances: dict[tuple, DeviceInstance] = {}
        self.prepare()

    # -- sizes and inputs ---------------------------------------------------------------------

    def size_values(self, sizes: Mapping[str, object]) -> dict[str, int]:
        """``sizes`` checked: every key a size symbol of the plan and every value an integer."""
        symbols = {a.size for a in self.plan.axes if isinstance(a.size, str)} | set(self.plan.channel_symbols)
        for name, value in sizes.items():
            if name not in symbols:
                raise ValueError(f"unknown size symbol {name!r} (symbols: {', '.join(sorted(symbols))})")
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise ValueError(f"size {name}={value!r}: must be an integer")
        return {name: int(value) for name, value in sizes.items()}

    def channels(self, t: TensorSig) -> int:
        """Real channels of a tensor: its channel count (1 if none), doubled if complex."""
        c = 1 if t.channels is None else t.channels if isinstance(t.channels, int) else self.sizes[t.channels]
        return c * (2 if t.dtype == "complex" else 1)

    def feature_channels(self, t: TensorSig) -> int:
        """Real channels of a feature as :meth:`real` gives it: :meth:`channels`, or ``N²`` for a
        complex feature of ``N`` channels under ``input_transform=outer``."""
        if t.dtype == "complex" and self.options.input_transform == "outer":
            return (self.channels(t) // 2) ** 2
        return self.channels(t)

    def bind(self, features: Mapping[str, object], sizes: Mapping[str, int] | None) -> dict[str, int]:
        """Check the inputs against the plan and return every size symbol's value.

        Raises ``ValueError`` naming the tensor and its expected shape for unknown or missing
        names, non-tensors, wrong dtypes (real vs complex), wrong ranks, sizes inconsistent
        across inputs (or with ``sizes``, or with the channel counts fixed at build) and, with
        ``check_inputs``, non-finite entries; naming the symbol for unknown or non-integer
        ``sizes``; naming the set for an empty set, and for an empty batch. Raises ``TypeError``
        for ``sizes`` that are not a mapping of sizes (a tensor or the features, passed positionally).
        """
        plan = self.plan
        expected = {t.name: t for t in plan.features}
        listing = "; ".join(f"{n} {plan.shape_text(n)}" for n in expected)
        for name in features:
            if name not in expected:
                raise ValueError(f"unexpected input {name!r}; the inputs are: {listing}")
        if sizes is not None and not isinstance(sizes, Mapping):
            keywords = ", ".join(f"{n}=..." for n in expected)
            raise TypeError(f"sizes: expected a mapping of size symbols to integers, got {type(sizes).__name__}; "
                            f"pass the features by keyword, model({keywords})")
        if sizes is not None and set(sizes) & set(expected):
            raise TypeError(f"sizes: got the features ({', '.join(sizes)}); pass them by keyword, model(**features)")
        fixed = "the channel count fixed when the model was built"
        bound = {s: (self.sizes[s], fixed) for s in plan.channel_symbols}
        for name, value in self.size_values(sizes or {}).items():
            if name in plan.channel_symbols and value != self.sizes[name]:
                raise ValueError(f"sizes: {name} = {value}, but {name} = {self.sizes[name]} is {fixed}")
            bound[name] = (value, "sizes=")
        batch = None
        for t in plan.features:
            x = features.get(t.name)
            where = f"{t.name}: expected a {t.dtype} tensor of shape {plan.shape_text(t.name)}"
            if x is None:
                raise ValueError(f"missing input {where}")
            if not isinstance(x, Tensor):
                hint = "; pass the features by keyword, model(**features)" if isinstance(x, Mapping) else ""
                raise ValueError(f"{where}, got {type(x).__name__}{hint}")
            if x.is_complex() != (t.dtype == "complex") or not (x.is_complex() or x.is_floating_point()):
                raise ValueError(f"{where}, got dtype {x.dtype}")
            symbols = [plan.axis(a).size for a in plan.tensor_axes(t.name)] + ([] if t.channels is None else [t.channels])
            if x.dim() != 1 + len(symbols) or (batch is not None and x.shape[0] != batch):
                raise ValueError(f"{where}, got shape {tuple(x.shape)}" + ("" if batch is None else f" (batch {batch})"))
            batch = x.shape[0]
            for symbol, n in zip(symbols, x.shape[1:]):
                if isinstance(symbol, int):
                    if n != symbol:
                        raise ValueError(f"{where}, got shape {tuple(x.shape)}")
                elif symbol in bound and bound[symbol][0] != n:
                    raise ValueError(f"{where} = {plan.shape_text(t.name, {k: v for k, (v, _) in bound.items()})}, "
                                     f"got {tuple(x.shape)}: {symbol} = {n} here but {bound[symbol][0]} "
                                     f"from {bound[symbol][1]}")
                else:
                    bound[symbol] = (n, t.name)
            if self.options.check_inputs and not _is_tracing() and not all_finite(x):
                raise ValueError(f"{t.name}: non-finite entries (nan or inf) in the input")
        if batch == 0:
            raise ValueError("batch: the inputs hold no samples (batch size 0); a model needs at least one")
        out = {**self.sizes, **{k: v for k, (v, _) in bound.items()}}
        self._check_nonempty(out, bound)
        return out

    def _check_nonempty(self, sizes: Mapping[str, int], bound: Mapping[str, tuple[int, str]]) -> None:
        """Refuse a set with no elements (a size below 1), naming the set and where its size came from."""
        for a in self.plan.axes:
            n = a.size if isinstance(a.size, int) else sizes[a.size]
            if n < 1:
                names = [s.name for s in self.plan.sets if s.path[-1] == a.name]
                sets = f"set {names[0]} is" if len(names) == 1 else f"sets {', '.join(names)} are"
                source = f" from {bound[a.size][1]}" if a.size in bound else ""
                raise ValueError(f"{sets} empty ({a.size} = {n}{source}); a model needs at least one element in "
                                 "every set")

    def instance(self, sizes: Mapping[str, int], device: torch.device | str) -> DeviceInstance:
        """The index tensors at these sizes on this device (cached per size tuple)."""
        axis_sizes = self.plan.axis_sizes(sizes)
        key = (tuple(axis_sizes.values()), str(torch.device(device)))
        if key not in self._instances:
            if _is_exporting():
                raise RuntimeError(f"torch.export at sizes {dict(sizes)} on {device}: call model.prepare(sizes, "
                                   "device) first, so that the edge indices exist before tracing")
            self._instances[key] = _eager(DeviceInstance)(self.plan, sizes, device, self.sparsity)
        return self._instances[key]

    @property
    def sparsity(self) -> tuple:
        """The kept-edge rules the model runs (the plan's, unless built with ``sparse=False``)."""
        return self.plan.sparsity if self.options.sparse else ()

    def prepare(self, sizes: Mapping[str, int] | None = None, device: torch.device | str | None = None
                ) -> DeviceInstance:
        """Build (and cache) the edge indices at ``sizes`` (default: the build sizes) on
        ``device`` (default: the model's) ahead of a call — needed before ``torch.export`` at
        sizes other than the build sizes."""
        parameter = next(self.parameters(), None)
        device = device or (parameter.device if parameter is not None else "cpu")
        return self.instance({**self.sizes, **self.size_values(sizes or {})}, device)

    def real(self, x: Tensor, t: TensorSig) -> Tensor:
        """A feature as real channels ``(batch, *set axes, channels')`` in the model's dtype
        (ENGNN eq. 19: complex → [Re, Im]), after the ``input_transform`` option."""
        transform = self.options.input_transform
        if transform == "log":
            x = log_magnitude(x)
        if t.channels is None:
            x = x.unsqueeze(-1)
        if x.is_complex():
            x = outer_product_channels(x) if transform == "outer" else torch.cat([x.real, x.imag], dim=-1)
        return x.to(self.dtype)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def _device(self) -> torch.device:
        return next(self.parameters()).device

    # -- forward -----------------------------------------------------------------------------

    def forward(self, sizes: Mapping[str, int] | None = None, **features: Tensor) -> dict[str, Tensor]:
        """Actions for ``features`` (see the module docstring for the layout). The only positional
        argument is ``sizes``: a tensor or a dict of features there raises ``TypeError``."""
        return self.run(features, sizes)

    def run(self, features: Mapping[str, Tensor], sizes: Mapping[str, int] | None = None) -> dict[str, Tensor]:
        """:meth:`forward` with the features as a dict."""
        bound = self.bind(features, sizes)
        instance = self.instance(bound, self._device).kept(features)
        raw = self.readout(RealFeatures(self, features), instance)
        actions = {t.name: self.assemble(t, raw[t.name], instance) for t in self.plan.actions}
        supports = {t.name: self.support(t, instance) for t in self.plan.actions if t.support != "all"}
        values = {**bound, **features}
        return constraints.project(self.plan, actions, values, self.options.power_budget, self.options.nonnegative,
                                   supports, check_tensors=self.options.check_inputs and not _is_tracing())

    def readout(self, real: RealFeatures, instance: DeviceInstance) -> dict[str, dict[str, Tensor]]:
        """Per action tensor, per carrier: raw outputs ``(count, batch, channels')`` from the
        real-valued features ``(batch, *set axes, channels')``."""
        raise NotImplementedError

    def carriers(self, t: TensorSig) -> tuple[str, ...]:
        """The vertex type (one-set tensor) or the edge types carrying an action's entries."""
        if len(t.dims) == 1:
            return (t.dims[0],)
        return tuple(et.name for et in self.plan.edge_types if t.name in et.actions)

    def carrier_count(self, t: TensorSig, carrier: str, instance: DeviceInstance) -> int:
        return instance.counts[carrier] if len(t.dims) == 1 else len(instance.edges[carrier])

    def support(self, t: TensorSig, instance: DeviceInstance) -> Tensor:
        """Boolean mask ``(*set axes)`` of the entries of a two-set action its carriers cover
        (``support: matched``: the related pairs); the projection keeps the rest at zero."""
        shape = tuple(n for d in t.dims for n in instance.shapes[d])
        index = torch.cat([instance.dense_index(self.plan.edge_type(c), t.dims) for c in self.carriers(t)])
        mask = torch.zeros(math.prod(shape), dtype=torch.bool, device=index.device)
        return mask.index_fill(0, index, True).reshape(shape)

    def assemble(self, t: TensorSig, raw: dict[str, Tensor], instance: DeviceInstance) -> Tensor:
        """The dense action ``(batch, *set axes, [channels])`` from per-carrier outputs
        ``(count, batch, channels')``; zeros off the support; complex from [Re, Im]."""
        batch = next(iter(raw.values())).shape[1]
        shape = tuple(n for d in t.dims for n in instance.shapes[d])
        if len(t.dims) == 1:
            dense = raw[t.dims[0]].transpose(0, 1)
        else:
            index = torch.cat([instance.dense_index(self.plan.edge_type(c), t.dims) for c in raw])
            values = torch.cat(list(raw.values()), dim=0)
            dense = values.new_zeros(math.prod(shape), batch, values.shape[-1]).index_copy(0, index, values)
            dense = dense.transpose(0, 1)
        if t.dtype == "complex":
            half = dense.shape[-1] // 2
            dense = torch.complex(dense[..., :half], dense[..., half:])
        dense = dense.reshape(batch, *shape, dense.shape[-1])
        return dense.squeeze(-1) if t.channels is None else dense


class HetGNN(CompiledModel):
    """A heterogeneous GNN compiled from a plan under one architecture table (ENGNN §III):
    per-type embedding (eq. 19–20), L updating layers (eqs. 21, 22, 24 with Zhao's
    type-based sharing, Prop. 1/2), per-tensor linear read-out (eq. 26), then the constraint
    projection. Generated classes set ``plan`` and ``architecture`` as class attributes.

    Symmetry breaking (``Axis.broken``): a vertex on a broken axis adds a learned linear map of
    a code of its index along that axis to its initial state — a sinusoidal code for
    ``"index"``, a fresh Gaussian code per forward for ``"random"``. This is what makes such
    vertices distinguishable; the model is then equivariant to G' (broken axes act trivially).
    """

    architecture: str | None = None

    def __init__(self, plan: Plan | None = None, architecture: str | None = None, *,
                 sizes: Mapping[str, int] | None = None, preset: str | None = None, **options):
        plan = plan or type(self).plan
        super().__init__(plan, sizes, resolve_options(plan, preset, **options))
        self.architecture = architecture or type(self).architecture
        arch = self.plan.architecture(self.architecture)
        self.sharing = Sharing(self.options.sharing, self.options.edge_processors)
        if self.sharing.mode == "none" and self.sparsity:
            raise ValueError("sharing='none' gives every edge its own parameters, but the sparse edge types "
                             f"{', '.join(r.edge_type for r in self.sparsity)} keep different edges in every "
                             "sample; build it with sparse=False")
        fixed = self.prepare() if self.sharing.mode == "none" else None
        widths, shape = self.options.widths, mlp_shape(self.options)
        self._check_readout(arch)
        self._read = self._read_by_heads()
        wanted, self._embedded = wanted_per_layer(arch, self._read, self.options.layers)
        self._vertex_slots, self._edge_slots = self._slots("vertex"), self._slots("edge")
        self.vertex_embeddings = nn.ModuleDict({
            key: Embedding(sum(self.feature_channels(self.plan.tensor(f)) for f in slots), widths.vertex, shape,
                           _count(fixed, types, "vertex"))
            for key, (slots, types) in self._vertex_slots.items()})
        self.edge_embeddings = nn.ModuleDict({
            key: Embedding(sum(self.feature_channels(self.plan.tensor(f)) for f in slots), widths.edge, shape,
                           _count(fixed, types, "edge"))
            for key, (slots, types) in self._edge_slots.items()})
        broken = {a for vt in self._embedded.vertices for a in self.plan.vertex_type(vt).path
                  if self.plan.axis(a).broken}
        self.index_codes = nn.ModuleDict({a.name: nn.Linear(CODE_WIDTH, widths.vertex, bias=False)
                                          for a in self.plan.axes if a.name in broken})
        self.layers = nn.ModuleList(UpdateLayer(self.plan, arch, self.sharing, widths, shape, self.options.pooling,
                                                fixed, self.options.residual, w) for w in wanted)
        self.heads = nn.ModuleDict()
        for t in self.plan.actions:
            for carrier in self.carriers(t):
                key = self._head_key(t, carrier)
                if key not in self.heads:
                    count = None if fixed is None else self.carrier_count(t, carrier, fixed)
                    self.heads[key] = linear(self._head_width(t, carrier), self.channels(t), count)
        self._fixed_sizes = None if fixed is None else fixed.axis_sizes

    # -- keys ----------------------------------------------------------------------------------

    def _slots(self, kind: str) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """Per vertex (or edge) embedding key: the feature tensors it reads — the union over
        the types sharing the key, zeros where a type lacks one — and those types."""
        out: dict[str, tuple[list, list]] = {}
        items = self.plan.vertex_types if kind == "vertex" else self.plan.edge_types
        for item in items:
            key = self.sharing.vertex(item.name) if kind == "vertex" else self.sharing.edge(item)
            slots, types = out.setdefault(key, ([], []))
            slots += [f for f in item.features if f not in slots]
            types.append(item.name)
        return {k: (tuple(s), tuple(t)) for k, (s, t) in out.items()}

    def _head_key(self, t: TensorSig, carrier: str) -> str:
        shared = self.sharing.vertex(carrier) if len(t.dims) == 1 else self.sharing.edge(self.plan.edge_type(carrier))
        return f"{t.name}__on__{shared}"

    def _incident(self, vertex_type: str) -> dict[str, list[str]]:
        """Edge types incident to a vertex type, grouped by their (shared) edge key."""
        out: dict[str, list[str]] = {}
        for et in self.plan.edge_types:
            if vertex_type in et.sets:
                out.setdefault(self.sharing.edge(et), []).append(et.name)
        return out

    def _check_readout(self, arch) -> None:
        """``readout="own"`` needs every carrier's type updated by the architecture."""
        if self.options.readout != "own":
            return
        for t in self.plan.actions:
            for carrier in self.carriers(t):
                updated = arch.vertex_targets if len(t.dims) == 1 else arch.edge_targets
                if carrier not in updated:
                    raise ValueError(f"readout='own' reads {t.name} from the states of {carrier}, which the "
                                     f"{self.architecture!r} architecture never updates; use readout='neighbourhood'")

    def _read_by_heads(self) -> Wanted:
        """The vertex and edge types whose final states the read-out reads (:meth:`_head_input`)."""
        vertices, edges = set(), set()
        for t in self.plan.actions:
            for carrier in self.carriers(t):
                if self.options.readout == "own":
                    (vertices if len(t.dims) == 1 else edges).add(carrier)
                elif len(t.dims) == 1:
                    vertices.add(carrier)
                    edges.update(name for names in self._incident(carrier).values() for name in names)
                else:
                    vertices.update(self.plan.edge_type(carrier).sets)
                    edges.add(carrier)
        return Wanted(frozenset(vertices), frozenset(edges))

    def _head_width(self, t: TensorSig, carrier: str) -> int:
        w = self.options.widths
        if self.options.readout == "own":
            return w.vertex if len(t.dims) == 1 else w.edge
        if len(t.dims) == 1:
            return w.vertex + w.edge * len(self._incident(carrier))
        return w.edge + 2 * w.vertex

    # -- forward -----------------------------------------------------------------------------

    def readout(self, real: RealFeatures, instance: DeviceInstance) -> dict[str, dict[str, Tensor]]:
        if self._fixed_sizes is not None and instance.axis_sizes != self._fixed_sizes:
            raise ValueError(f"sharing='none' gives every vertex and edge its own parameters: this model runs only "
                             f"at the axis sizes it was built for, {self._fixed_sizes}; got {instance.axis_sizes}")
        vertices, edges = self.embed(real, instance)
        for layer in self.layers:  # each layer updates only what is read after it
            vertices, edges = layer(vertices, edges, instance)
        return {t.name: {c: self.heads[self._head_key(t, c)](self._head_input(t, c, vertices, edges, instance))
                         for c in self.carriers(t)} for t in self.plan.actions}

    def embed(self, real: RealFeatures, instance: DeviceInstance) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Initial states (ENGNN eq. 20): vertex states ``(n, batch, d_v)``, edge states
        ``(E, batch, d_e)``; broken axes add their index code."""
        batch = next(iter(real.values())).shape[0]
        vertices = {}
        for vt in self.plan.vertex_types:
            key = self.sharing.vertex(vt.name)
            slots = self._vertex_slots[key][0]
            n = instance.counts[vt.name]
            x = self._slot_input(slots, vt.features, lambda f: real[f].reshape(batch, n, -1).transpose(0, 1), batch, n)
            vertices[vt.name] = self.vertex_embeddings[key](x) + self._index_code(vt.name, instance, batch)
        edges = {}
        for et in self.plan.edge_types:
            key = self.sharing.edge(et)
            slots = self._edge_slots[key][0]
            n = len(instance.edges[et.name])
            x = self._slot_input(slots, et.features,
                                 lambda f: real.on_pairs(f, instance.dense_index(et, self.plan.tensor(f).dims)), batch, n)
            edges[et.name] = self.edge_embeddings[key](x)
        return vertices, edges

    def _slot_input(self, slots, present, read, batch: int, n: int) -> Tensor:
        """Concatenated features ``(n, batch, width)`` in slot order, zeros for absent slots."""
        parts = [read(f) if f in present else torch.zeros(n, batch, self.feature_channels(self.plan.tensor(f)),
                                                           dtype=self.dtype, device=self._device)
                 for f in slots]
        return torch.cat(parts, dim=-1) if parts else torch.zeros(n, batch, 0, dtype=self.dtype, device=self._device)

    def _index_code(self, vertex_type: str, instance: DeviceInstance, batch: int) -> Tensor | float:
        """Sum over the broken axes of a vertex type's path of ``W_axis · code(index)``."""
        out: Tensor | float = 0.0
        path = self.plan.vertex_type(vertex_type).path
        for depth, axis in enumerate(path):
            a = self.plan.axis(axis)
            if not a.broken:
                continue
            index = instance.index[vertex_type][:, depth]
            if a.broken == "random":
                code = torch.randn(instance.axis_sizes[axis], batch, CODE_WIDTH, dtype=self.dtype,
                                   device=self._device).index_select(0, index)
            else:
                code = sinusoidal_code(index, CODE_WIDTH, self.dtype).unsqueeze(1)
            out = out + self.index_codes[axis](code)
        return out

    def _head_input(self, t: TensorSig, carrier: str, vertices, edges, instance: DeviceInstance) -> Tensor:
        """Read-out input (ENGNN eq. 26): the carrier's state; with ``readout="neighbourhood"``
        also a vertex's pooled incident edge states per edge key, an edge's endpoints' states."""
        if self.options.readout == "own":
            return vertices[carrier] if len(t.dims) == 1 else edges[carrier]
        if len(t.dims) == 1:
            parts = [vertices[carrier]]
            for names in self._incident(carrier).values():
                partials = []
                for name in names:
                    view = instance.view(self.plan.edge_type(name), carrier)
                    partials.append(pool_of(view.take(edges[name]), view, self.options.pooling).per_row())
                parts.append(finish(merge(partials, self.options.pooling), self.options.pooling))
            return torch.cat(parts, dim=-1)
        et, e = self.plan.edge_type(carrier), instance.edges[carrier]
        return torch.cat([edges[carrier], vertices[et.sets[0]].index_select(0, e.first),
                          vertices[et.sets[1]].index_select(0, e.second)], dim=-1)


class FNN(CompiledModel):
    """The no-graph baseline: an MLP (``layers`` linear layers of width ``hidden``) from all
    features, flattened to one real vector, to every action entry on its support; fixed sizes,
    no equivariance; same contract and projection."""

    OPTIONS = FNN_OPTIONS

    def __init__(self, plan: Plan | None = None, *, sizes: Mapping[str, int] | None = None, **options):
        plan = plan or type(self).plan
        unused = sorted(set(options) - set(self.OPTIONS))
        if unused:
            raise ValueError(f"option {unused[0]!r} does not apply to the FNN baseline (options: "
                             f"{', '.join(self.OPTIONS)})")
        options = resolve_options(plan, **options)
        super().__init__(plan, sizes, options)
        self.fixed = self.prepare()
        width_in = sum(math.prod(self._set_shape(t)) * self.feature_channels(t) for t in self.plan.features)
        self.splits = [(t.name, c, self.carrier_count(t, c, self.fixed), self.channels(t))
                       for t in self.plan.actions for c in self.carriers(t)]
        width_out = sum(n * ch for _, _, n, ch in self.splits)
        hidden, layers = options.hidden, options.layers
        shape = MLPShape(layers - 1, hidden, options.activation)
        self.body = mlp(width_in, hidden, shape) if layers > 1 else nn.Identity()
        self.out = nn.Linear(hidden if layers > 1 else width_in, width_out)

    @property
    def sparsity(self) -> tuple:
        """No rules: the baseline reads the dense features and no edges."""
        return ()

    def _set_shape(self, t: TensorSig) -> tuple[int, ...]:
        return tuple(n for d in t.dims for n in self.fixed.shapes[d])

    def readout(self, real: RealFeatures, instance: DeviceInstance) -> dict[str, dict[str, Tensor]]:
        if instance.axis_sizes != self.fixed.axis_sizes:
            raise ValueError(f"the FNN baseline runs only at the axis sizes it was built for, "
                             f"{self.fixed.axis_sizes}; got {instance.axis_sizes}")
        x = torch.cat([real[t.name].flatten(1) for t in self.plan.features], dim=1)
        y = self.out(self.body(x))
        out: dict[str, dict[str, Tensor]] = {}
        start = 0
        for name, carrier, n, ch in self.splits:
            out.setdefault(name, {})[carrier] = y[:, start:start + n * ch].reshape(-1, n, ch).transpose(0, 1)
            start += n * ch
        return out


def model_for(plan: Plan, arch: str, sizes: Mapping[str, int] | None = None, **options) -> CompiledModel:
    """The model of ``plan`` under architecture ``arch`` (``fnn``: the baseline), with runtime
    classes only: how :func:`designer.build` and a checkpoint's stored plan make a model."""
    if arch == "fnn":
        return FNN(plan, sizes=sizes, **options)
    return HetGNN(plan, arch, sizes=sizes, **options)


def sinusoidal_code(index: Tensor, width: int, dtype: torch.dtype) -> Tensor:
    """``(n, width)`` code of integer indices: ``sin, cos(i / 10000^(2k/width))``."""
    k = torch.arange(width // 2, dtype=dtype, device=index.device)
    angles = index.to(dtype)[:, None] / (10000.0 ** (2 * k / width))
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def _count(fixed: DeviceInstance | None, types: tuple[str, ...], kind: str) -> int | None:
    """Per-instance count of a merged embedding key (sharing='none' keys are single types)."""
    if fixed is None:
        return None
    return fixed.counts[types[0]] if kind == "vertex" else len(fixed.edges[types[0]])
