"""The plan: everything a model needs to know about a compiled spec, as plain frozen data.

A :class:`Plan` is what :func:`designer.emit.plan_from_compilation` extracts from a
:class:`~designer.compiler.Compilation` and what a generated module spells out as a literal. It
imports neither torch nor the compiler, so the compiler side can build one and the runtime can
consume one. Sizes are never baked in: axes carry size *symbols*, edge types carry their
size-independent predicate (METHOD.md §2), and value expressions such as ``1/sqrt(N_t)`` stay
text, evaluated per call by :func:`evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Union

Size = Union[int, str]


@dataclass(frozen=True)
class Axis:
    """An index axis: ``size`` elements per index of ``parent``; ``broken`` = declared symmetry
    breaking ("index" | "random"), under which the axis acts trivially (G')."""

    name: str
    size: Size
    parent: str | None = None
    broken: str | None = None


@dataclass(frozen=True)
class Set:
    """A set of the spec: its path of axes from a root down and the sets related to it."""

    name: str
    path: tuple[str, ...]
    related: tuple[str, ...] = ()


@dataclass(frozen=True)
class VertexType:
    """S1new: a set that indexes some tensor; its one-set features and actions."""

    name: str
    path: tuple[str, ...]
    features: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class EdgeType:
    """S2new: pairs (u in ``sets[0]``, v in ``sets[1]``) whose indices agree on the first
    ``agree`` of the ``shared`` axes and differ on the next one (if any)."""

    name: str
    sets: tuple[str, str]
    shared: tuple[str, ...]
    agree: int
    predicate: str = ""
    origin: str = "tensor"
    features: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    @property
    def is_loop(self) -> bool:
        """A pair of a vertex with itself (the diagonal of a tensor over one set twice)."""
        return self.sets[0] == self.sets[1] and self.agree == len(self.shared)


@dataclass(frozen=True)
class Tensor:
    """A feature or action signature: ``dims`` are set names; ``channels`` a trailing axis."""

    name: str
    role: str
    dims: tuple[str, ...]
    channels: Size | None = None
    dtype: str = "real"
    support: str = "all"


@dataclass(frozen=True)
class Constraint:
    """A read-out constraint; ``value`` is the expression text of ``max``/``value``/``modulus``."""

    kind: str
    tensor: str
    value: str | None = None
    per: str | None = None
    through: str | None = None


@dataclass(frozen=True)
class Architecture:
    """One sharing table (Zhao Prop. 1/2). Vertex processors are (target vertex type, source
    vertex type, edge type); edge processors are (updated edge type, shared vertex type,
    neighbouring edge type). Targets get one pooler and one combiner each."""

    name: str
    vertex_processors: tuple[tuple[str, str, str], ...] = ()
    edge_processors: tuple[tuple[str, str, str], ...] = ()
    vertex_targets: tuple[str, ...] = ()
    edge_targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """A compiled spec as data: the axis forest, types, tensors, constraints and sharing tables.

    ``sizes`` is the check instance (the default size of every symbol); ``group`` and
    ``reduced_group`` are G and, with declared symmetry breaking, G' as formulas.
    """

    name: str
    axes: tuple[Axis, ...]
    sets: tuple[Set, ...]
    vertex_types: tuple[VertexType, ...]
    edge_types: tuple[EdgeType, ...]
    tensors: tuple[Tensor, ...]
    constraints: tuple[Constraint, ...] = ()
    architectures: tuple[Architecture, ...] = ()
    sizes: dict[str, int] = field(default_factory=dict, hash=False)
    group: str = ""
    reduced_group: str = ""

    def axis(self, name: str) -> Axis:
        return _named(self.axes, name, "axis")

    def set(self, name: str) -> Set:
        return _named(self.sets, name, "set")

    def vertex_type(self, name: str) -> VertexType:
        return _named(self.vertex_types, name, "vertex type")

    def edge_type(self, name: str) -> EdgeType:
        return _named(self.edge_types, name, "edge type")

    def tensor(self, name: str) -> Tensor:
        return _named(self.tensors, name, "tensor")

    def architecture(self, name: str) -> Architecture:
        return _named(self.architectures, name, "architecture")

    @property
    def features(self) -> tuple[Tensor, ...]:
        return tuple(t for t in self.tensors if t.role == "feature")

    @property
    def actions(self) -> tuple[Tensor, ...]:
        return tuple(t for t in self.tensors if t.role == "action")

    @property
    def channel_symbols(self) -> tuple[str, ...]:
        """Size symbols used as channel counts: fixed when a model is built."""
        return tuple(dict.fromkeys(t.channels for t in self.tensors if isinstance(t.channels, str)))

    def tensor_axes(self, name: str) -> tuple[str, ...]:
        """The set axes of a tensor's layout after the batch axis, e.g. MCMU ``H`` over
        [UE, AN] → ``("cell", "pair", "cell", "pair")``."""
        return tuple(a for d in self.tensor(name).dims for a in self.set(d).path)

    def shape_text(self, name: str, sizes: Mapping[str, int] | None = None) -> str:
        """The layout of a tensor as text: ``(batch, M, K, M, K)`` or, with sizes, numbers."""
        t = self.tensor(name)
        symbols = [self.axis(a).size for a in self.tensor_axes(name)]
        if t.channels is not None:
            symbols.append(t.channels)
        parts = [str(sizes.get(s, s) if sizes and isinstance(s, str) else s) for s in symbols]
        return "(" + ", ".join(["batch"] + parts) + ")"

    def parent_axes(self, axis: str) -> tuple[str, ...]:
        """Ancestors of an axis, root first."""
        out, parent = [], self.axis(axis).parent
        while parent is not None:
            out.append(parent)
            parent = self.axis(parent).parent
        return tuple(reversed(out))

    def axis_sizes(self, sizes: Mapping[str, int]) -> dict[str, int]:
        return {a.name: a.size if isinstance(a.size, int) else int(sizes[a.size]) for a in self.axes}


def _named(items, name: str, what: str):
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"no {what} named {name!r}")


# ---------------------------------------------------------------------------------------------
# Value expressions (numbers, names, + - * / **, unary -, sqrt(), parentheses): a tiny
# recursive-descent parser so that neither the runtime nor generated code needs designer.spec.
# ---------------------------------------------------------------------------------------------

Expression = Callable[[Mapping[str, object]], object]


def _tokens(text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("**", i):
            out.append("**")
            i += 2
        elif ch in "+-*/()":
            out.append(ch)
            i += 1
        elif ch.isalnum() or ch in "._":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] in "._"):
                j += 1
            out.append(text[i:j])
            i = j
        else:
            raise ValueError(f"{text!r}: unexpected character {ch!r}")
    return out


def parse_expression(text: str) -> Expression:
    """Parse ``text`` (e.g. ``1/sqrt(N_t)``, ``p_max``) into a function of a name → value map.

    Values may be numbers or tensors: ``sqrt`` is ``x ** 0.5`` so it works for both.
    """
    tokens = _tokens(str(text))
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal position
        token = peek()
        if token is None or (expected is not None and token != expected):
            got = "the end" if token is None else repr(token)
            raise ValueError(f"{text!r}: expected {expected or 'a value'}, got {got}")
        position += 1
        return token

    def binary(operand, operators: dict) -> Expression:
        left = operand()
        while peek() in operators:
            op, right = operators[take()], operand()
            left = (lambda a, b, f: lambda env: f(a(env), b(env)))(left, right, op)
        return left

    def expression() -> Expression:
        return binary(term, {"+": lambda a, b: a + b, "-": lambda a, b: a - b})

    def term() -> Expression:
        return binary(unary, {"*": lambda a, b: a * b, "/": lambda a, b: a / b})

    def unary() -> Expression:
        if peek() in ("-", "+"):
            sign, operand = take(), unary()
            return (lambda env: -operand(env)) if sign == "-" else operand
        return power()

    def power() -> Expression:
        base = atom()
        if peek() == "**":
            take()
            exponent = unary()
            return lambda env: base(env) ** exponent(env)
        return base

    def atom() -> Expression:
        token = take()
        if token == "(":
            inner = expression()
            take(")")
            return inner
        if token == "sqrt":
            take("(")
            inner = expression()
            take(")")
            return lambda env: inner(env) ** 0.5
        if token[0].isdigit() or token[0] == ".":
            number = float(token)
            return lambda env: number
        if token.isidentifier():
            return lambda env: env[token]
        raise ValueError(f"{text!r}: unexpected {token!r}")

    result = expression()
    if peek() is not None:
        raise ValueError(f"{text!r}: unexpected {peek()!r}")
    return result


def evaluate(text: str, values: Mapping[str, object]) -> object:
    """Evaluate a value expression with sizes and feature tensors in ``values``."""
    return parse_expression(text)(values)


def expression_names(text: str) -> tuple[str, ...]:
    """The names an expression reads (size symbols or feature tensors)."""
    return tuple(dict.fromkeys(t for t in _tokens(str(text)) if t.isidentifier() and t != "sqrt"))

