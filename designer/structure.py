"""Stage 2 — the axis forest: the normal form of a spec's sets (METHOD.md §1).

Every set becomes a *path* of axes from a root down: a normal set introduces one root axis; a
nested set appends its own axis below its parent's path; related sets share one path. An axis
carries a size (symbol or literal) and is permuted independently for every index of its parent
path — which is exactly the iterated wreath/direct product G of the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .spec import SpecError, Spec


@dataclass(frozen=True)
class Axis:
    """An index axis: ``size`` elements per index of its ``parent`` axis (None for a root)."""

    name: str
    size: int | str
    parent: str | None
    broken: str | None = None  # declared symmetry breaking: "index" | "random"

    def size_at(self, sizes: dict[str, int]) -> int:
        return self.size if isinstance(self.size, int) else sizes[self.size]


@dataclass(frozen=True)
class SetInfo:
    """A set of the spec with its path of axes; ``is_vertex_type`` per S1new."""

    name: str
    path: tuple[str, ...]
    related: tuple[str, ...]
    is_vertex_type: bool


@dataclass(frozen=True)
class TensorInfo:
    """A tensor signature: ``dims`` are set names; ``support`` is "all" or "matched"."""

    name: str
    role: str  # "feature" | "action"
    dims: tuple[str, ...]
    channels: int | str | None
    dtype: str
    support: str


@dataclass(frozen=True)
class Structure:
    """The axis forest of a spec: axes in declaration order, sets, tensors, size symbols."""

    name: str
    axes: tuple[Axis, ...]
    sets: tuple[SetInfo, ...]
    tensors: tuple[TensorInfo, ...]
    symbols: tuple[str, ...]

    def axis(self, name: str) -> Axis:
        return next(a for a in self.axes if a.name == name)

    def set(self, name: str) -> SetInfo:
        return next(s for s in self.sets if s.name == name)

    @property
    def vertex_types(self) -> tuple[SetInfo, ...]:
        return tuple(s for s in self.sets if s.is_vertex_type)

    def shared_axes(self, a: str, b: str) -> tuple[str, ...]:
        """Longest common prefix of the two sets' paths (METHOD.md §2: the axes they share)."""
        pa, pb = self.set(a).path, self.set(b).path
        n = 0
        while n < min(len(pa), len(pb)) and pa[n] == pb[n]:
            n += 1
        return pa[:n]

    def axis_sizes(self, sizes: dict[str, int]) -> dict[str, int]:
        return {a.name: a.size_at(sizes) for a in self.axes}

    def generic_sizes(self) -> dict[str, int]:
        """Sizes large enough to realise every equality pattern among three vertices."""
        return {symbol: 3 for symbol in self.symbols}


def _related_classes(spec: Spec) -> list[list[str]]:
    """Union-find over ``related`` declarations; classes in declaration order."""
    root = {name: name for name in spec.sets}

    def find(x: str) -> str:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for name, s in spec.sets.items():
        for other in s.related:
            ra, rb = find(name), find(other)
            if ra != rb:
                first, second = sorted((ra, rb), key=list(spec.sets).index)
                root[second] = first
    classes: dict[str, list[str]] = {}
    for name in spec.sets:
        classes.setdefault(find(name), []).append(name)
    return list(classes.values())


def build_structure(spec: Spec, file: str | Path | None = None) -> Structure:
    """Turn validated sets into the axis forest (related sets share a path; nesting appends)."""
    classes = _related_classes(spec)
    class_of = {name: i for i, members in enumerate(classes) for name in members}
    paths: dict[int, tuple[str, ...]] = {}
    axes: dict[str, Axis] = {}

    def path_of(index: int, stack: tuple[int, ...] = ()) -> tuple[str, ...]:
        if index in paths:
            return paths[index]
        members = classes[index]
        if index in stack:
            raise SpecError("related sets nest inside each other", f"sets.{members[0]}.related", file)
        first = spec.sets[members[0]]
        parent_paths = set()
        for name in members:
            s = spec.sets[name]
            if s.size != first.size:
                raise SpecError(f"related sets have different shapes: {members[0]} has size {first.size}, "
                                f"{name} has size {s.size}", f"sets.{name}.size", file)
            parent_paths.add(None if s.parent is None else path_of(class_of[s.parent], stack + (index,)))
        if len(parent_paths) > 1:
            raise SpecError(f"related sets have different shapes: {', '.join(members)} are nested in "
                            "different parents", f"sets.{members[-1]}.parent", file)
        parent_path = parent_paths.pop() or ()
        names = {spec.sets[m].axis for m in members} - {None}
        if len(names) > 1:
            raise SpecError(f"related sets name their axis differently: {sorted(names)}",
                            f"sets.{members[-1]}.axis", file)
        axis_name = names.pop() if names else members[0]
        if axis_name in axes:
            raise SpecError(f"axis name {axis_name!r} is used twice", f"sets.{members[0]}.axis", file)
        broken = {spec.sets[m].break_symmetry for m in members} - {None}
        if len(broken) > 1:
            raise SpecError("related sets declare different symmetry breaking",
                            f"sets.{members[-1]}.break_symmetry", file)
        axes[axis_name] = Axis(axis_name, first.size, parent_path[-1] if parent_path else None,
                               broken.pop() if broken else None)
        paths[index] = parent_path + (axis_name,)
        return paths[index]

    for i in range(len(classes)):
        path_of(i)

    used = {d for t in spec.tensors.values() for d in t.dims}
    parents = {s.parent for s in spec.sets.values() if s.parent is not None}
    for name in spec.sets:
        if name not in used and name not in parents:
            raise SpecError("set is not used by any tensor nor as a parent", f"sets.{name}", file)

    sets = tuple(SetInfo(name, paths[class_of[name]],
                         tuple(m for m in classes[class_of[name]] if m != name), name in used)
                 for name in spec.sets)
    for name, s in spec.sets.items():
        if s.break_symmetry and name not in used:
            raise SpecError("symmetry breaking is declared for a set without vertices",
                            f"sets.{name}.break_symmetry", file)
    tensors = tuple(TensorInfo(name, t.role, tuple(t.dims), t.channels, t.dtype, t.support)
                    for name, t in spec.tensors.items())
    for t in tensors:
        if t.support == "matched" and not (len(set(t.dims)) == 2 and _shared(sets, *t.dims)):
            raise SpecError("`support: matched` needs two different sets that share an axis "
                            "(related sets, or a nested set and its parent)", f"tensors.{t.name}.support", file)
    symbols = tuple(dict.fromkeys([a.size for a in axes.values() if isinstance(a.size, str)]
                                  + [t.channels for t in tensors if isinstance(t.channels, str)]))
    ordered_axes = tuple(axes[p] for p in dict.fromkeys(a for s in sets for a in s.path))
    return Structure(spec.name, ordered_axes, sets, tensors, symbols)


def _shared(sets: tuple[SetInfo, ...], a: str, b: str) -> bool:
    pa = next(s.path for s in sets if s.name == a)
    pb = next(s.path for s in sets if s.name == b)
    return pa[0] == pb[0]
