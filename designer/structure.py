"""Stage 2 — the axis forest: the normal form of a spec's sets (docs/method.md, "Sets and the group G").

Every set becomes a *path* of axes from a root down: a normal set introduces one root axis; a
nested set appends its own axis below its parent's path; related sets share one path. An axis
carries a size (symbol or literal) and is permuted independently for every index of its parent
path — which is exactly the iterated wreath/direct product G of the problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .runtime.plan import Axis, Set, Tensor
from .spec import SpecError, Spec


@dataclass(frozen=True)
class Structure:
    """The axis forest of a spec: axes in declaration order, sets, tensors, size symbols."""

    name: str
    axes: tuple[Axis, ...]
    sets: tuple[Set, ...]
    tensors: tuple[Tensor, ...]
    symbols: tuple[str, ...]
    vertex_sets: frozenset[str] = frozenset()  # S1new: the sets some tensor is indexed by

    def is_vertex_type(self, name: str) -> bool:
        return name in self.vertex_sets

    def axis(self, name: str) -> Axis:
        return self._axis_index[name]

    def set(self, name: str) -> Set:
        return self._set_index[name]

    @cached_property
    def _axis_index(self) -> dict[str, Axis]:
        return {a.name: a for a in self.axes}

    @cached_property
    def _set_index(self) -> dict[str, Set]:
        return {s.name: s for s in self.sets}

    @cached_property
    def set_order(self) -> dict[str, int]:
        """Declaration position of every set."""
        return {s.name: i for i, s in enumerate(self.sets)}

    @cached_property
    def axis_paths(self) -> dict[str, tuple[str, ...]]:
        """Every axis's path from its root down to itself (axes are ordered parents first)."""
        paths: dict[str, tuple[str, ...]] = {}
        for a in self.axes:
            paths[a.name] = (paths[a.parent] if a.parent is not None else ()) + (a.name,)
        return paths

    @cached_property
    def children(self) -> dict[str | None, tuple[Axis, ...]]:
        """The axes below each axis (``None``: the roots), in declaration order."""
        out: dict[str | None, list[Axis]] = {}
        for a in self.axes:
            out.setdefault(a.parent, []).append(a)
        return {parent: tuple(axes) for parent, axes in out.items()}

    @cached_property
    def vertex_types_on_axis(self) -> dict[str, tuple[Set, ...]]:
        """The vertex types whose path runs through each axis."""
        out: dict[str, list[Set]] = {a.name: [] for a in self.axes}
        for s in self.vertex_types:
            for a in s.path:
                out[a].append(s)
        return {axis: tuple(types) for axis, types in out.items()}

    @cached_property
    def vertex_types(self) -> tuple[Set, ...]:
        return tuple(s for s in self.sets if s.name in self.vertex_sets)

    def shared_axes(self, a: str, b: str) -> tuple[str, ...]:
        """Longest common prefix of the two sets' paths (the axes they share)."""
        pa, pb = self.set(a).path, self.set(b).path
        n = 0
        while n < min(len(pa), len(pb)) and pa[n] == pb[n]:
            n += 1
        return pa[:n]

    def vertex_count(self, sizes: dict[str, int]) -> int:
        """Vertices of the instance at ``sizes``, computed from the sizes alone (nothing built)."""
        axis_sizes = self.axis_sizes(sizes)
        return sum(math.prod(axis_sizes[a] for a in s.path) for s in self.vertex_types)

    def axis_sizes(self, sizes: dict[str, int]) -> dict[str, int]:
        return {a.name: a.size_at(sizes) for a in self.axes}

    def generic_sizes(self) -> dict[str, int]:
        """Sizes large enough to realise every equality pattern among three vertices."""
        return {symbol: 3 for symbol in self.symbols}


def _related_classes(spec: Spec) -> list[list[str]]:
    """Union-find over ``related`` declarations; classes in declaration order."""
    root = {name: name for name in spec.sets}
    order = {name: i for i, name in enumerate(spec.sets)}

    def find(x: str) -> str:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for name, s in spec.sets.items():
        for other in s.related:
            ra, rb = find(name), find(other)
            if ra != rb:
                first, second = sorted((ra, rb), key=order.__getitem__)
                root[second] = first
    classes: dict[str, list[str]] = {}
    for name in spec.sets:
        classes.setdefault(find(name), []).append(name)
    return list(classes.values())


def _parent_class(spec: Spec, members: list[str], class_of: dict[str, int], file) -> int | None:
    """The class the members of a related class are nested in (None: roots); they must agree."""
    first = spec.sets[members[0]]
    parents = set()
    for name in members:
        s = spec.sets[name]
        if s.size != first.size:
            raise SpecError(f"related sets have different shapes: {members[0]} has size {first.size}, "
                            f"{name} has size {s.size}", f"sets.{name}.size", file)
        parents.add(None if s.parent is None else class_of[s.parent])
    if len(parents) > 1:
        raise SpecError(f"related sets have different shapes: {', '.join(members)} are nested in "
                        "different parents", f"sets.{members[-1]}.parent", file)
    return parents.pop()


def _class_axis(spec: Spec, members: list[str], parent: str | None, file) -> Axis:
    """The axis a related class introduces below the axis ``parent``."""
    names = {spec.sets[m].axis for m in members} - {None}
    if len(names) > 1:
        raise SpecError(f"related sets name their axis differently: {sorted(names)}",
                        f"sets.{members[-1]}.axis", file)
    broken = {spec.sets[m].break_symmetry for m in members} - {None}
    if len(broken) > 1:
        raise SpecError("related sets declare different symmetry breaking",
                        f"sets.{members[-1]}.break_symmetry", file)
    return Axis(names.pop() if names else members[0], spec.sets[members[0]].size, parent,
                broken.pop() if broken else None)


def _class_paths(spec: Spec, classes: list[list[str]], class_of: dict[str, int],
                 file) -> tuple[list[tuple[str, ...]], dict[str, Axis]]:
    """The path of axes of every related class (its parent class's path plus its own axis) and
    the axes by name. Each class is visited once, walking up to the nearest class with a known
    path: linear in the number of sets, and no recursion, so nesting depth costs no stack."""
    parent_of = [_parent_class(spec, members, class_of, file) for members in classes]
    paths: dict[int, tuple[str, ...]] = {}
    axes: dict[str, Axis] = {}
    for start in range(len(classes)):
        walk: dict[int, None] = {}  # ordered: from `start` up to a class with a known path
        index = start
        while index is not None and index not in paths:
            if index in walk:
                raise SpecError("related sets nest inside each other", f"sets.{classes[index][0]}.related", file)
            walk[index] = None
            index = parent_of[index]
        for index in reversed(walk):
            parent_path = paths[parent_of[index]] if parent_of[index] is not None else ()
            axis = _class_axis(spec, classes[index], parent_path[-1] if parent_path else None, file)
            if axis.name in axes:
                raise SpecError(f"axis name {axis.name!r} is used twice", f"sets.{classes[index][0]}.axis", file)
            axes[axis.name] = axis
            paths[index] = parent_path + (axis.name,)
    return [paths[i] for i in range(len(classes))], axes


def build_structure(spec: Spec, file: str | Path | None = None) -> Structure:
    """Turn validated sets into the axis forest (related sets share a path; nesting appends)."""
    classes = _related_classes(spec)
    class_of = {name: i for i, members in enumerate(classes) for name in members}
    paths, axes = _class_paths(spec, classes, class_of, file)

    used = {d for t in spec.tensors.values() for d in t.dims}
    parents = {s.parent for s in spec.sets.values() if s.parent is not None}
    for name in spec.sets:
        if name not in used and name not in parents:
            raise SpecError("set is not used by any tensor nor as a parent", f"sets.{name}", file)

    sets = tuple(Set(name, paths[class_of[name]], tuple(m for m in classes[class_of[name]] if m != name))
                 for name in spec.sets)
    for name, s in spec.sets.items():
        if s.break_symmetry and name not in used:
            raise SpecError("symmetry breaking is declared for a set without vertices",
                            f"sets.{name}.break_symmetry", file)
    tensors = tuple(Tensor(name, t.role, tuple(t.dims), t.channels, t.dtype, t.support)
                    for name, t in spec.tensors.items())
    roots = {s.name: s.path[0] for s in sets}
    for t in tensors:
        if t.support == "matched" and not (len(set(t.dims)) == 2 and roots[t.dims[0]] == roots[t.dims[1]]):
            raise SpecError("`support: matched` needs two different sets that share an axis "
                            "(related sets, or a nested set and its parent)", f"tensors.{t.name}.support", file)
    symbols = tuple(dict.fromkeys([a.size for a in axes.values() if isinstance(a.size, str)]
                                  + [t.channels for t in tensors if isinstance(t.channels, str)]))
    ordered_axes = tuple(axes[p] for p in dict.fromkeys(a for s in sets for a in s.path))
    return Structure(spec.name, ordered_axes, sets, tensors, symbols, frozenset(used))
