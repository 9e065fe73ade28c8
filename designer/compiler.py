"""The compiler pipeline: spec → axis forest → G → typed graph (S1new/S2new) → certificate
(S3new, S4new) → architecture tables. Each stage hands the next a frozen, printable object;
:func:`compile_spec` returns them together as a :class:`Compilation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .architecture import Architecture, architectures, realised
from .certificate import Certificate, certify
from .graph import (EdgeType, TypedGraph, VertexType, candidate_edge_types, edge_pairs,
                    edge_types_from_tensors, s4new_edge_types, vertex_types)
from .group import DesiredGroup
from .limits import Limits
from .runtime.instance import Instance
from .runtime.plan import Sparsity
from .spec import Spec, SpecError, load_spec
from .structure import Structure, build_structure


@dataclass(frozen=True)
class GroupSummary:
    """G (or the reduced G' after declared symmetry breaking) at the check instance."""

    formula: str  # e.g. "S_K ≀ S_M"
    order_formula: str  # e.g. "M!·(K!)^(M)"
    order: int
    log10_order: float
    generators: int


@dataclass(frozen=True)
class Indistinguishable:
    """An axis no feature tensor is indexed by: an equivariant policy cannot tell its elements
    apart, so every action indexed through it is identical along it (docs/method.md, "Declared symmetry breaking")."""

    axis: str
    sets: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class SymmetryBreaking:
    """Declared symmetry breaking and the group the model is then equivariant to."""

    axes: tuple[tuple[str, str], ...]  # (axis, method)
    group: GroupSummary
    certificate: Certificate


@dataclass(frozen=True)
class Compilation:
    """Everything ``gnn-design compile`` derives from one spec at one check instance."""

    spec: Spec
    structure: Structure
    sizes: dict[str, int] = field(hash=False)
    group: GroupSummary = None
    vertex_types: tuple[VertexType, ...] = ()
    edge_types: tuple[EdgeType, ...] = ()
    vertex_counts: dict[str, int] = field(default_factory=dict, hash=False)
    edge_counts: dict[str, int] = field(default_factory=dict, hash=False)
    first_certificate: Certificate = None  # S3new on the S2new graph
    certificate: Certificate = None  # final
    s4new_applied: bool = False
    auto_edges: tuple[str, ...] = ()
    indistinguishable: tuple[Indistinguishable, ...] = ()
    symmetry_breaking: SymmetryBreaking | None = None
    architectures: dict[str, Architecture] = field(default_factory=dict, hash=False)
    realised: dict[str, int] = field(default_factory=dict, hash=False)
    sparsity: tuple[Sparsity, ...] = ()


def decimal(n: int) -> str:
    """Exact decimal text of a non-negative integer of any size. ``str`` refuses integers of
    more than a few thousand digits (``sys.set_int_max_str_digits``), and |G| of a large
    instance has more, so a long one is converted in halves of at most 500 digits."""
    digits = n.bit_length() * 30103 // 100000 + 1  # an upper bound on the number of digits
    if digits <= 500:
        return str(n)
    half = digits // 2  # n has at least digits - 1 > half digits, so high is not zero
    high, low = divmod(n, 10 ** half)
    return decimal(high) + decimal(low).zfill(half)


class CertificateFailure(Exception):
    """S3new failed after S4new: Aut ⊋ G. Carries the witness and the edges that would break it."""

    def __init__(self, compilation: Compilation, suggestions: tuple[EdgeType, ...]):
        self.compilation, self.suggestions = compilation, suggestions
        cert = compilation.certificate
        hint = ", ".join(f"{e.name} ({e.predicate})" for e in suggestions) or "none found"
        super().__init__(f"{compilation.spec.name}: certificate failed: |Aut| = {decimal(cert.aut_order)} > "
                         f"|G| = {decimal(cert.group_order)}; witness {cert.witness_text}; "
                         f"edges that would remove it: {hint}")


# ---------------------------------------------------------------------------------------------

def describe_group(structure: Structure, sizes: dict[str, int], honour_breaking: bool = False) -> GroupSummary:
    """Closed-form description of G from the axis forest (wreath ≀ down a path, × across)."""
    instance = Instance(structure, sizes)
    group = DesiredGroup(instance, honour_breaking)

    def active(axis) -> bool:
        return not (honour_breaking and axis.broken) and not (isinstance(axis.size, int) and axis.size == 1)

    # Children before parents (axes come parents first): each axis's text is built once, from
    # its children's, without recursion however deep the forest.
    text: dict[str, str] = {}
    for axis in reversed(structure.axes):
        children = [text[a.name] for a in structure.children.get(axis.name, ()) if text[a.name]]
        inner = " × ".join(children)
        own = f"S_{axis.size}" if active(axis) else ""
        inner = f"({inner})" if len(children) > 1 else inner
        text[axis.name] = (f"{inner} ≀ {own}" if own else f"{inner}^{axis.size}") if inner else own
    roots = [text[a.name] for a in structure.children.get(None, ()) if text[a.name]]
    formula = " × ".join(f"({r})" if "≀" in r and len(roots) > 1 else r for r in roots) or "1"
    terms = []
    for a in structure.axes:
        if not active(a):
            continue
        ancestors = [str(structure.axis(p).size) for p in structure.axis_paths[a.name][:-1]]
        power = ancestors[0] if len(ancestors) == 1 else f"({'·'.join(ancestors)})"
        terms.append(f"({a.size}!)^{power}" if ancestors else f"{a.size}!")
    return GroupSummary(formula, "·".join(terms) or "1", group.order, group.log10_order, len(group.generators))


def find_indistinguishable(structure: Structure) -> tuple[Indistinguishable, ...]:
    """Axes no feature tensor is indexed through (and not declared broken) that index an action."""
    feature_axes = {a for t in structure.tensors if t.role == "feature"
                    for d in t.dims for a in structure.set(d).path}
    actions: dict[str, dict[str, None]] = {}  # axis -> actions indexed through it, in order
    for t in structure.tensors:
        if t.role == "action":
            for axis in dict.fromkeys(a for d in t.dims for a in structure.set(d).path):
                actions.setdefault(axis, {})[t.name] = None
    out = []
    for axis in structure.axes:
        if axis.name in feature_axes or axis.broken or axis.size == 1 or axis.name not in actions:
            continue
        sets = tuple(s.name for s in structure.vertex_types_on_axis[axis.name])
        out.append(Indistinguishable(axis.name, sets, tuple(actions[axis.name])))
    return tuple(out)


def witness_breakers(graph: TypedGraph, candidates: tuple[EdgeType, ...], witness,
                     generic: Instance | None = None) -> tuple[EdgeType, ...]:
    """Candidate edge orbits the witness does not preserve (adding one removes that witness),
    fewest edges first at the ``generic`` instance (default: the graph's own), then by name, so
    that the choice does not depend on the check sizes (at two groups "different group" and
    "same group" edges are equally many; from three on, membership edges are fewer)."""
    out = []
    for et in candidates:
        u, v = edge_pairs(graph.instance, et)
        pairs = set(zip(u.tolist(), v.tolist()))
        moved = {tuple(sorted((witness[a], witness[b]))) for a, b in pairs}
        if moved != {tuple(sorted(p)) for p in pairs}:
            out.append(et)
    at = generic or graph.instance
    counts = {et.name: len(edge_pairs(at, et)[0]) for et in out}
    return tuple(sorted(out, key=lambda e: (counts[e.name], e.name)))


def _without_unneeded_s4new(instance, vts, ets, group, graph, certificate):
    """(edge types, graph, certificate) without the S4new edge types that the edges added by
    ``auto_edges`` made unnecessary (the certificate holds without them)."""
    for et in [e for e in ets if e.origin == "S4new"]:
        trial = tuple(e for e in ets if e is not et)
        trial_graph, trial_certificate = _certify_edges(instance, vts, trial, group)
        if trial_certificate.holds:
            ets, graph, certificate = trial, trial_graph, trial_certificate
    return ets, graph, certificate


def _certify_edges(instance, vts, ets, group, stop_at_witness: bool = False) -> tuple[TypedGraph, Certificate]:
    graph = TypedGraph(instance, vts, ets)
    return graph, certify(graph, group, stop_at_witness)


def _moved_types(graph: TypedGraph, witness) -> set[str]:
    """The vertex types with a vertex that the permutation ``witness`` moves."""
    moved = np.nonzero(np.asarray(witness) != np.arange(len(witness)))[0]
    return {graph.instance.vertices[int(i)].set for i in moved}


def check_limits(spec: Spec, structure: Structure, sizes: dict[str, int], overridden, file,
                 limits: Limits) -> None:
    """Refuse, before any group or graph is built, sizes over ``limits.size`` and instances (the
    check instance and the generic one of the architecture tables) over ``limits.vertices``;
    vertex counts follow from the sizes alone."""
    checks = [(f"sets.{name}.size", f"size {s.size}", s.size) for name, s in spec.sets.items()
              if isinstance(s.size, int)]
    checks += [(f"tensors.{name}.channels", f"channels {t.channels}", t.channels) for name, t in spec.tensors.items()
               if isinstance(t.channels, int)]
    checks += [("--size" if symbol in overridden else f"check_sizes.{symbol}", f"size {symbol}={value}", value)
               for symbol, value in sizes.items()]
    for path, what, value in checks:
        if value > limits.size:
            raise SpecError(limits.exceeded("size", f"{what} is larger than allowed"), path, file)
    instances = ((f"the check instance ({', '.join(f'{k}={v}' for k, v in sizes.items())})", sizes),
                 ("the generic instance of the architecture tables (every size symbol 3)",
                  {**sizes, **structure.generic_sizes()}))
    for label, at in instances:
        count = structure.vertex_count(at)
        if count > limits.vertices:
            raise SpecError(limits.exceeded("vertices", f"{label} has {count} vertices"), "check_sizes", file)


def compile_spec(spec: Spec, sizes: dict[str, int] | None = None, auto_edges: bool | None = None,
                 file: str | Path | None = None, limits: Limits = Limits()) -> Compilation:
    """Run the whole pipeline at the check instance (``spec.check_sizes`` updated by ``sizes``).

    Raises :class:`SpecError` for unusable sizes or sizes over ``limits`` and
    :class:`CertificateFailure` when Aut ⊋ G survives S4new (and, unless ``auto_edges``, the
    suggested extra edges).
    """
    structure = build_structure(spec, file)
    overridden = set(sizes or {})
    sizes = {**spec.check_sizes, **(sizes or {})}
    for symbol, value in sizes.items():
        if symbol not in structure.symbols:
            raise SpecError(f"unknown size symbol {symbol!r}", "--size", file)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SpecError(f"size {symbol}={value!r} is not a positive integer", "--size", file)
    check_limits(spec, structure, sizes, overridden, file, limits)
    auto_edges = spec.auto_edges if auto_edges is None else auto_edges
    instance = Instance(structure, sizes)
    group = DesiredGroup(instance)
    vts = vertex_types(structure)
    ets = edge_types_from_tensors(structure)
    graph, first = _certify_edges(instance, vts, ets, group)
    certificate, s4new, added = first, False, []
    if not certificate.holds:
        extra = s4new_edge_types(structure, ets)
        if extra:
            ets, s4new = ets + extra, True
            graph, certificate = _certify_edges(instance, vts, ets, group)
    generic_instance = Instance(structure, {**sizes, **structure.generic_sizes()})
    while not certificate.holds:
        candidates = candidate_edge_types(structure, ets, _moved_types(graph, certificate.witness))
        suggestions = witness_breakers(graph, candidates, certificate.witness, generic_instance)
        if not auto_edges or not suggestions:
            if certificate.aut_order is None:  # stopped at its witness: the report needs |Aut|
                certificate = certify(graph, group)
            partial = Compilation(spec, structure, sizes, describe_group(structure, sizes), vts, ets,
                                  first_certificate=first, certificate=certificate, s4new_applied=s4new)
            raise CertificateFailure(partial, suggestions)
        ets = ets + (suggestions[0],)
        added.append(suggestions[0].name)
        # Between added edges only the witness matters (the next edge breaks it), not |Aut|.
        graph, certificate = _certify_edges(instance, vts, ets, group, stop_at_witness=True)
    if added and s4new:
        ets, graph, certificate = _without_unneeded_s4new(instance, vts, ets, group, graph, certificate)
        s4new = any(e.origin == "S4new" for e in ets)

    sparsity = sparse_edge_types(spec, ets, file)
    generic = TypedGraph(generic_instance, vts, ets)
    archs = architectures(vts, generic)
    breaking = None
    broken = tuple((a.name, a.broken) for a in structure.axes if a.broken)
    if broken:
        reduced = DesiredGroup(instance, honour_breaking=True)
        individual = TypedGraph(instance, vts, ets, individualise_broken=True)
        breaking = SymmetryBreaking(broken, describe_group(structure, sizes, True), certify(individual, reduced))
    return Compilation(
        spec, structure, sizes, describe_group(structure, sizes), vts, ets,
        vertex_counts={vt.name: instance.counts[vt.name] for vt in vts},
        edge_counts={et.name: graph.edge_count(et) for et in ets},
        first_certificate=first, certificate=certificate, s4new_applied=s4new, auto_edges=tuple(added),
        indistinguishable=find_indistinguishable(structure), symmetry_breaking=breaking,
        architectures=archs, realised={name: realised(a, graph) for name, a in archs.items()}, sparsity=sparsity,
    )


def sparse_edge_types(spec: Spec, ets: tuple[EdgeType, ...], file: str | Path | None = None) -> tuple[Sparsity, ...]:
    """The spec's kept-edge rules (``sparse:``) checked against the final edge types: each names an
    edge type between two different sets that carries no action, a feature on its pairs and one
    of its sets. The certificate is about the dense typed graph; the rules only choose which
    pairs of an orbit the model reads (docs/spec-language.md, "Sparse edge types")."""
    by_name = {et.name: et for et in ets}
    out = []
    for name, rule in spec.sparse.items():
        path = f"sparse.{name}"
        et = by_name.get(name)
        if et is None:
            raise SpecError(f"unknown edge type {name!r} (edge types: {', '.join(by_name)})", path, file)
        if et.sets[0] == et.sets[1]:
            raise SpecError(f"edge type {name} joins set {et.sets[0]} with itself; a sparse edge type must join "
                            "two different sets", path, file)
        if et.actions:
            raise SpecError(f"edge type {name} carries the action {et.actions[0]}, which needs every pair; keep it "
                            "dense", path, file)
        if rule.by not in et.features:
            on = ", ".join(et.features) or "none"
            raise SpecError(f"{rule.by!r} is not a feature on the pairs of {name} (features there: {on})",
                            f"{path}.by", file)
        if rule.per not in et.sets:
            raise SpecError(f"{rule.per!r} is not a set of {name} ({' or '.join(et.sets)})", f"{path}.per", file)
        out.append(Sparsity(name, rule.by, rule.per, rule.keep, rule.above))
    return tuple(out)


def compile_file(path: str | Path, sizes: dict[str, int] | None = None, auto_edges: bool | None = None,
                 limits: Limits = Limits()) -> Compilation:
    """Load and compile a spec file under ``limits`` (see :func:`compile_spec`)."""
    return compile_spec(load_spec(path, limits), sizes, auto_edges, file=path, limits=limits)
