"""The plan: everything a model needs to know about a compiled spec, as plain frozen data.

A :class:`Plan` is what :func:`designer.emit.plan_from_compilation` extracts from a
:class:`~designer.compiler.Compilation` and what a generated module spells out as a literal. It
imports neither torch nor the compiler, so the compiler side can build one and the runtime can
consume one. Sizes are never baked in: axes carry size *symbols*, edge types carry their
size-independent predicate (docs/method.md, "S2new: edges and edge types"), and value
expressions such as ``1/sqrt(N_t)`` stay text, evaluated per call by :func:`evaluate`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Callable, Mapping, NamedTuple, Union

if TYPE_CHECKING:
    from ..limits import Limits

Size = Union[int, str]


@dataclass(frozen=True)
class Axis:
    """An index axis: ``size`` elements per index of ``parent``; ``broken`` = declared symmetry
    breaking ("index" | "random"), under which the axis acts trivially (G')."""

    name: str
    size: Size
    parent: str | None = None
    broken: str | None = None

    def size_at(self, sizes: Mapping[str, int]) -> int:
        """The axis's size: its literal size, or its symbol's value in ``sizes``."""
        return self.size if isinstance(self.size, int) else sizes[self.size]


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
    """S2new: the G-orbit of pairs (u in ``sets[0]``, v in ``sets[1]``) whose indices agree on
    the first ``agree`` of the ``shared`` axes and differ on the next one (if any); ``predicate``
    says so in words; ``origin`` is "tensor", "S4new" or "auto"."""

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

    @property
    def pattern(self) -> tuple[str, str, int]:
        """(first set, second set, agree): what identifies the orbit."""
        return (*self.sets, self.agree)


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
class Sparsity:
    """A kept-edge rule of a sparse edge type: of the pairs of ``edge_type`` at each vertex of
    set ``per``, keep those whose feature ``by`` has a larger magnitude (Euclidean norm over its
    channels) than the ``keep + 1``-th largest there (all, with fewer pairs) and, with ``above``,
    a magnitude above ``above``. Tied magnitudes are kept or dropped together, so the kept set
    commutes with every element of G (docs/spec-language.md, "Sparse edge types")."""

    edge_type: str
    by: str
    per: str
    keep: int | None = None
    above: float | None = None


class VertexProcessor(NamedTuple):
    """q shared by (target vertex type, source vertex type, edge type) — Zhao Prop. 1 (C1)."""

    target: str
    source: str
    edge: str

    def __str__(self) -> str:
        return f"{self.target} <- {self.source} via {self.edge}"


class EdgeProcessor(NamedTuple):
    """q shared by (updated edge type, shared vertex type, neighbouring edge type) — Prop. 2 (C1)."""

    target: str
    through: str
    neighbour: str

    def __str__(self) -> str:
        return f"{self.target} <- {self.neighbour} through {self.through}"


@dataclass(frozen=True)
class Architecture:
    """One sharing table (Zhao Prop. 1/2): vertex processors (target vertex type, source vertex
    type, edge type), edge processors (updated edge type, shared vertex type, neighbouring edge
    type); targets get one pooler and one combiner each."""

    name: str
    vertex_processors: tuple[VertexProcessor, ...] = ()
    edge_processors: tuple[EdgeProcessor, ...] = ()
    vertex_targets: tuple[str, ...] = ()
    edge_targets: tuple[str, ...] = ()

    @property
    def processors(self) -> tuple:
        return self.vertex_processors + self.edge_processors

    @property
    def poolers(self) -> tuple[str, ...]:
        """Prop. 1-2 (C2): one pooler per updated type that receives messages."""
        receiving = {p[0] for p in self.processors}
        return tuple(t for t in self.combiners if t in receiving)

    @property
    def combiners(self) -> tuple[str, ...]:
        return self.vertex_targets + self.edge_targets


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
    sparsity: tuple[Sparsity, ...] = ()
    sizes: dict[str, int] = field(default_factory=dict, hash=False)
    group: str = ""
    reduced_group: str = ""

    def axis(self, name: str) -> Axis:
        return self._named("axes", name, "axis")

    def set(self, name: str) -> Set:
        return self._named("sets", name, "set")

    def vertex_type(self, name: str) -> VertexType:
        return self._named("vertex_types", name, "vertex type")

    def edge_type(self, name: str) -> EdgeType:
        return self._named("edge_types", name, "edge type")

    def tensor(self, name: str) -> Tensor:
        return self._named("tensors", name, "tensor")

    def architecture(self, name: str) -> Architecture:
        return self._named("architectures", name, "architecture")

    def sparsity_of(self, edge_type: str) -> Sparsity | None:
        """The kept-edge rule of an edge type (None: a dense edge type, every pair kept)."""
        return next((s for s in self.sparsity if s.edge_type == edge_type), None)

    @cached_property
    def _by_name(self) -> dict[str, dict[str, object]]:
        """Name → item for every named collection (the first of a name wins), built once so that
        lookups stay O(1) however many sets and types a plan has."""
        out: dict[str, dict[str, object]] = {}
        for kind in ("axes", "sets", "vertex_types", "edge_types", "tensors", "architectures"):
            index = out[kind] = {}
            for item in getattr(self, kind):
                index.setdefault(item.name, item)
        return out

    def _named(self, kind: str, name: str, what: str):
        try:
            return self._by_name[kind][name]
        except KeyError:
            raise KeyError(f"no {what} named {name!r}") from None

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


# ---------------------------------------------------------------------------------------------
# Value expressions (numbers, names, + - * / **, unary -, sqrt(), parentheses): one grammar for
# the spec checker, the runtime and generated code, so none of them needs designer.spec. The
# parser (shunting-yard) and the evaluator (a stack machine) are iterative: no input can exhaust
# the Python stack, and the compiler bounds length and nesting through its limits.
# ---------------------------------------------------------------------------------------------

Expression = Callable[[Mapping[str, object]], object]

# The whole lexical grammar, ASCII only: no control characters, no other whitespace than spaces.
_TOKEN = re.compile(r"\*\*|[-+*/()]|[0-9]+(?:\.[0-9]*)?|\.[0-9]+|[A-Za-z][A-Za-z0-9_]*")
# Operators: (precedence, right-associative, arity, function). Unary minus binds at 3: tighter
# than * and /, looser than ** on its right (-x**2 == -(x**2), as in Python).
_BINARY = {"+": (1, False, 2, lambda a, b: a + b), "-": (1, False, 2, lambda a, b: a - b),
           "*": (2, False, 2, lambda a, b: a * b), "/": (2, False, 2, lambda a, b: a / b),
           "**": (4, True, 2, lambda a, b: a ** b)}
_NEGATE, _SQRT = (3, True, 1, lambda a: -a), (0, False, 1, lambda a: a ** 0.5)


def _syntax_error(text: str, what: str) -> ValueError:
    return ValueError(f"{text!r}: {what}; only numbers, names, + - * / ** and sqrt() are allowed")


def _tokens(text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        match = _TOKEN.match(text, i)
        if match is None:
            raise _syntax_error(text, f"unexpected character {text[i]!r}")
        out.append(match.group())
        i = match.end()
    return out


def _nesting(tokens: list[str]) -> int:
    """Deepest parenthesis nesting (``sqrt(...)`` counts as a parenthesis)."""
    depth = deepest = 0
    for token in tokens:
        depth += (token == "(") - (token == ")")
        deepest = max(deepest, depth)
    return deepest


def _postfix(text: str, tokens: list[str]) -> list[tuple[int, Callable]]:
    """Shunting-yard: the tokens as a postfix program of (arity, function) steps; arity-0 steps
    read a value from the environment."""
    program: list[tuple[int, Callable]] = []
    stack: list = []  # operator tuples and "(" markers
    expect_value = True
    for i, token in enumerate(tokens):
        if expect_value:
            if token == "(":
                stack.append("(")
            elif token == "-":
                stack.append(_NEGATE)
            elif token == "sqrt":
                if tokens[i + 1:i + 2] != ["("]:
                    got = repr(tokens[i + 1]) if i + 1 < len(tokens) else "the end"
                    raise _syntax_error(text, f"expected ( after sqrt, got {got}")
                stack.append(_SQRT)
            elif token[0].isdigit() or token[0] == ".":
                program.append((0, (lambda number: lambda env: number)(float(token))))
                expect_value = False
            elif token[0].isalpha():
                program.append((0, (lambda name: lambda env: env[name])(token)))
                expect_value = False
            elif token != "+":  # unary plus is the identity
                raise _syntax_error(text, f"expected a value, got {token!r}")
        elif token in _BINARY:
            op = _BINARY[token]
            while stack and stack[-1] != "(" and (stack[-1][0] > op[0] or (stack[-1][0] == op[0] and not op[1])):
                program.append(stack.pop()[2:])
            stack.append(op)
            expect_value = True
        elif token == ")":
            while stack and stack[-1] != "(":
                program.append(stack.pop()[2:])
            if not stack:
                raise _syntax_error(text, "unexpected ')'")
            stack.pop()
            if stack and stack[-1] is _SQRT:
                program.append(stack.pop()[2:])
        else:
            raise _syntax_error(text, f"unexpected {token!r}")
    if expect_value:
        raise _syntax_error(text, "expected a value, got the end")
    while stack:
        op = stack.pop()
        if op == "(":
            raise _syntax_error(text, "expected ), got the end")
        program.append(op[2:])
    return program


def _run(program: list[tuple[int, Callable]], env: Mapping[str, object]) -> object:
    values: list = []
    for arity, function in program:
        if arity == 0:
            values.append(function(env))
        elif arity == 1:
            values.append(function(values.pop()))
        else:
            right = values.pop()
            values.append(function(values.pop(), right))
    return values[0]


def parse_expression(text: str, limits: "Limits | None" = None) -> Expression:
    """Parse ``text`` (e.g. ``1/sqrt(N_t)``, ``p_max``) into a function of a name → value map.

    Values may be numbers or tensors: ``sqrt`` is ``x ** 0.5`` so it works for both. With
    ``limits`` (:class:`designer.limits.Limits`) the length and the parenthesis nesting are
    bounded; a plan's expressions were checked so when it was compiled. ``ValueError`` for
    anything outside the grammar.
    """
    text = str(text)
    if limits is not None and len(text) > limits.expression_length:
        raise ValueError(limits.exceeded("expression_length", f"the expression has {len(text)} characters"))
    tokens = _tokens(text)
    if limits is not None and (depth := _nesting(tokens)) > limits.expression_depth:
        raise ValueError(limits.exceeded("expression_depth", f"the expression nests parentheses {depth} deep"))
    program = _postfix(text, tokens)
    return lambda env: _run(program, env)


def evaluate(text: str, values: Mapping[str, object]) -> object:
    """Evaluate a value expression with sizes and feature tensors in ``values``."""
    return parse_expression(text)(values)


def expression_names(text: str) -> tuple[str, ...]:
    """The names an expression reads (size symbols or feature tensors)."""
    return tuple(dict.fromkeys(t for t in _tokens(str(text)) if t.isidentifier() and t != "sqrt"))



# ---------------------------------------------------------------------------------------------
# A plan as plain data (dicts, tuples, strings, numbers): what a checkpoint stores, so that a
# model loads with the runtime alone, through torch.load(weights_only=True).
# ---------------------------------------------------------------------------------------------

_PARTS = {"axes": Axis, "sets": Set, "vertex_types": VertexType, "edge_types": EdgeType, "tensors": Tensor,
          "constraints": Constraint, "architectures": Architecture, "sparsity": Sparsity}


def plan_data(plan: Plan) -> dict:
    """``plan`` as nested dicts, tuples, strings and numbers (:func:`plan_from_data` inverts it)."""
    return _plain(asdict(plan))


def _plain(value):
    """Named tuples (the processors) as plain tuples: a checkpoint holds no classes."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def plan_from_data(data: Mapping) -> Plan:
    """The :class:`Plan` that :func:`plan_data` wrote; ValueError for anything else."""
    try:
        parts = {name: tuple(kind(**{k: _tuples(v) for k, v in item.items()}) for item in _part(data, name))
                 for name, kind in _PARTS.items()}
        parts["architectures"] = tuple(
            replace(a, vertex_processors=tuple(VertexProcessor(*p) for p in a.vertex_processors),
                    edge_processors=tuple(EdgeProcessor(*p) for p in a.edge_processors))
            for a in parts["architectures"])
        rest = {k: v for k, v in data.items() if k not in _PARTS}
        return Plan(**parts, **{k: dict(v) if k == "sizes" else v for k, v in rest.items()})
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a stored plan ({type(exc).__name__}: {exc})") from None


def _part(data: Mapping, name: str):
    """The stored items of one part; plans stored before sparse edge types existed have none."""
    return data.get(name, ()) if name == "sparsity" else data[name]


def _tuples(value):
    """Lists (and lists of lists) as tuples, as the plan's fields hold them."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
