"""Stage 7 — emission: a compilation as a runtime :class:`~designer.runtime.plan.Plan` and as a
readable, deterministic, black-style Python module (``generated/<name>.py``).

The module spells the plan out as literal data (axes, sets, vertex and edge types with their
predicates, tensors, constraints, architecture tables, check sizes, G) and defines one class per
architecture — ``<Name>VertexGNN`` (Zhao Prop. 1), ``<Name>EdgeGNN`` (Prop. 2),
``<Name>VertexEdgeGNN`` (Remark 7; ENGNN eqs. 21, 22, 24) — plus the ``<Name>FNN`` baseline.
The classes subclass :mod:`designer.runtime` models, which instantiate one processor, pooler and
combiner per key of the tables; :func:`designer.build.build` runs the same plan through the same
classes. This module does not import torch.
"""

from __future__ import annotations

import ast
import dataclasses
import textwrap

from .compiler import Compilation
from .runtime import options as ro
from .runtime import plan as rp
from .spec import SpecError

LINE = 88
INDENT = "    "
CLASS_SUFFIX = {"vertex": "VertexGNN", "edge": "EdgeGNN", "vertex_edge": "VertexEdgeGNN"}
ARCH_TITLE = {
    "vertex": ("VertexGNN (Zhao Prop. 1, eq. 5).", "Vertex states are updated; edge states keep their embedding."),
    "edge": ("EdgeGNN (Zhao Prop. 2, eq. 6; ENGNN eq. 24).",
             "Edge states are updated; vertex states keep their embedding."),
    "vertex_edge": ("Vertex + edge GNN (Zhao Remark 7; ENGNN eqs. 21, 22, 24).",
                    "Vertex and edge states are both updated in every layer."),
}


def plan_from_compilation(c: Compilation) -> rp.Plan:
    """The runtime plan of a compilation (final edge types, including S4new's)."""
    s = c.structure
    return rp.Plan(
        name=c.spec.name,
        axes=s.axes,
        sets=s.sets,
        vertex_types=c.vertex_types,
        edge_types=c.edge_types,
        tensors=s.tensors,
        constraints=tuple(_constraint(k) for k in c.spec.constraints),
        architectures=tuple(rp.Architecture(name, tuple((p.target, p.source, p.edge) for p in a.vertex_processors),
                                            tuple((p.target, p.through, p.neighbour) for p in a.edge_processors),
                                            a.vertex_targets, a.edge_targets)
                            for name, a in c.architectures.items()),
        sizes=dict(c.sizes),
        group=c.group.formula,
        reduced_group=c.symmetry_breaking.group.formula if c.symmetry_breaking else "",
    )


def _constraint(k) -> rp.Constraint:
    value = next((str(getattr(k, f)) for f in ("max", "value", "modulus") if hasattr(k, f)), None)
    return rp.Constraint(k.kind, k.tensor, value, getattr(k, "per", None), getattr(k, "through", None))


def class_name(spec_name: str, arch: str) -> str:
    """``mcmu_power_allocation``, ``vertex`` → ``McmuPowerAllocationVertexGNN``."""
    stem = "".join(part[:1].upper() + part[1:] for part in spec_name.split("_"))
    return stem + (CLASS_SUFFIX.get(arch) or arch.upper())


def emit_module(c: Compilation) -> str:
    """The generated module's source (deterministic: same compilation, same bytes)."""
    plan = plan_from_compilation(c)
    doc = _module_docstring_lines(c, plan)
    imports = "import torch\n\nfrom designer import runtime"
    head = [_docstring(doc), imports, "PLAN = " + _literal(plan, 0, len("PLAN = "))]
    classes = [_gnn_class(plan, a) for a in plan.architectures] + [_fnn_class(plan)]
    source = "\n\n".join(head) + "".join(f"\n\n\n{text}" for text in classes) + "\n"
    verify_module(source, plan, _docstring_value(doc))
    return source


# ---------------------------------------------------------------------------------------------
# Text of the module.
# ---------------------------------------------------------------------------------------------

def _escape(text: str, quote: str = '"') -> str:
    """``text`` as the inside of a literal closed by ``quote`` (or of a docstring line): every
    backslash, every ``quote`` and every non-printable character escaped, so the text can neither
    end the literal nor break its line, whatever it holds."""
    out = []
    for ch in text:
        if ch == "\\" or ch == quote:
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _io_lines(plan: rp.Plan, role: str) -> list[str]:
    """``H (batch, K, K, N), complex`` per feature or action."""
    return [f"{t.name} {plan.shape_text(t.name)}" + (", complex" if t.dtype == "complex" else "")
            + (", dense, zeros off the support" if t.support == "matched" else "")
            for t in plan.tensors if t.role == role]


def _module_docstring_lines(c: Compilation, plan: rp.Plan) -> list[str]:
    """The module docstring's lines as plain text (the spec's description wrapped before any
    escaping, so that no escape is ever split across lines)."""
    lines = [f"{plan.name}: generated by gnn-design; do not edit, recompile the spec.", ""]
    if c.spec.description.strip():
        lines += textwrap.wrap(" ".join(c.spec.description.split()), LINE) + [""]
    lines += [f"G = {plan.group}, |G| = {c.group.order_formula}."]
    if plan.reduced_group:
        axes = ", ".join(f"{a.name} ({a.broken})" for a in plan.axes if a.broken)
        lines += [f"Declared symmetry breaking on {axes}: the models are equivariant to", f"G' = {plan.reduced_group}."]
    lines += ["", "Inputs:"] + [f"    {x}" for x in _io_lines(plan, "feature")]
    lines += ["Outputs (dict):"] + [f"    {x}" for x in _io_lines(plan, "action")]
    if plan.constraints:
        lines += ["Constraints enforced by the read-out:"]
        lines += [f"    {k.kind} of {k.tensor}" + "".join(f", {f}={getattr(k, f)}" for f in ("per", "value", "through")
                                                       if getattr(k, f) is not None) for k in plan.constraints]
    classes = [class_name(plan.name, a.name) for a in plan.architectures] + [class_name(plan.name, "fnn")]
    lines += [""] + textwrap.wrap("Classes: " + ", ".join(classes) + ".", LINE)
    lines += ["Sizes are read from the inputs at every call; options: designer.runtime.Options,",
              "presets: <Class>.with_preset(name, **options)."]
    return lines


def _docstring_value(lines: list[str]) -> str:
    """The value a docstring made of ``lines`` has once parsed."""
    return "\n".join(lines).rstrip() + "\n"


def _docstring(lines: list[str]) -> str:
    """``lines`` as a module docstring, each line escaped as a whole (:func:`_escape`)."""
    return '"""' + "\n".join(_escape(line) for line in _docstring_value(lines).split("\n")) + '"""'


def _option_annotation(field: dataclasses.Field) -> str:
    """The annotation of an option in a generated signature: ``int``, ``int | None``, or the
    runtime's alias of its choices (``runtime.Pooling``)."""
    text = str(field.type)
    if text.startswith("Optional["):
        return text[len("Optional["):-1] + " | None"
    return text if text in ("int", "bool", "float", "str") else f"runtime.{text}"


def _options(names: tuple[str, ...] | None = None) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(ro.Options) if names is None or f.name in names]


def _init(options: list[dataclasses.Field]) -> list[str]:
    """``__init__`` with every option a typed keyword argument at its default (one per line)."""
    i1, i2, i3 = INDENT, INDENT * 2, INDENT * 3
    params = [f"{i2}{f.name}: {_option_annotation(f)} = {_flat(f.default)}," for f in options]
    passed = [f"{i3}{f.name}={f.name}," for f in options]
    return [f"{i1}def __init__(", f"{i2}self,", f"{i2}*,", *params, f"{i2}sizes: dict[str, int] | None = None,",
            f"{i1}) -> None:", f'{i2}"""Options: designer.runtime.Options; ``sizes``: see designer.build."""',
            f"{i2}super().__init__(", *passed, f"{i3}sizes=sizes,", f"{i2})"]


def _forward(plan: rp.Plan) -> list[str]:
    """``forward`` with every feature a required, typed parameter and a Shapes docstring."""
    i1, i2, i3, i4 = INDENT, INDENT * 2, INDENT * 3, INDENT * 4
    names = [t.name for t in plan.features]
    shapes = [f"{i3}{line}" for line in _io_lines(plan, "feature")]
    shapes += [f"{i3}returns {line}" for line in _io_lines(plan, "action")]
    return [f"{i1}def forward(", f"{i2}self,", *(f"{i2}{n}: torch.Tensor," for n in names), f"{i2}*,",
            f"{i2}sizes: dict[str, int] | None = None,", f"{i1}) -> dict[str, torch.Tensor]:",
            f'{i2}"""The actions for these inputs (sizes are read from them).', "", f"{i2}Shapes:", *shapes,
            f'{i2}"""', f"{i2}return self.run(", f"{i3}{{", *(f'{i4}"{n}": {n},' for n in names), f"{i3}}},",
            f"{i3}sizes,", f"{i2})"]


def _gnn_class(plan: rp.Plan, a: rp.Architecture) -> str:
    name = class_name(plan.name, a.name)
    processors = [f"{t} <- {s} via {e}" for t, s, e in a.vertex_processors]
    processors += [f"{t} <- {n} through {v}" for t, v, n in a.edge_processors]
    targets = a.vertex_targets + a.edge_targets
    title, detail = ARCH_TITLE[a.name]
    doc = [f'    """{title}', "", f"    {detail}", f"    {len(processors)} processors, one module per key (per layer):"]
    doc += [f"        {p}" for p in processors]
    doc += ["    Poolers and combiners, one per updated type:"] + [f"        {t}" for t in targets]
    group = "G'" if plan.reduced_group else "G"
    doc += ["", f'    Options: designer.runtime.Options; sharing="full" is equivariant to {group}.', '    """']
    body = doc + ["", "    plan = PLAN", f'    architecture = "{a.name}"', ""] + _init(_options()) + [""]
    return f"class {name}(runtime.HetGNN):\n" + "\n".join(body + _forward(plan))


def _fnn_class(plan: rp.Plan) -> str:
    doc = ['    """No-graph baseline: an MLP on all features flattened (fixed sizes)."""']
    body = doc + ["", "    plan = PLAN", ""] + _init(_options(ro.FNN_OPTIONS)) + [""] + _forward(plan)
    return f"class {class_name(plan.name, 'fnn')}(runtime.FNN):\n" + "\n".join(body)


# ---------------------------------------------------------------------------------------------
# Black-style literals: one line if it fits, else the contents on one indented line, else one
# item per line with a trailing comma.
# ---------------------------------------------------------------------------------------------

def _string(text: str) -> str:
    """A string literal in black's quotes: double, unless the text holds ``"`` and no ``'``."""
    quote = "'" if '"' in text and "'" not in text else '"'
    return quote + _escape(text, quote) + quote


def _items(value) -> tuple[str, str, list[tuple[str, object]]]:
    """(opening, closing, [(prefix, item)]) of a collection or dataclass literal; dataclass
    fields at their default are left out, except for axes and tensors (whose every field is
    part of the contract: parent, symmetry breaking, channels, dtype, support)."""
    if dataclasses.is_dataclass(value):
        explicit = isinstance(value, (rp.Axis, rp.Tensor))
        pairs = [(f"{f.name}=", getattr(value, f.name)) for f in dataclasses.fields(value)
                 if explicit or getattr(value, f.name) != _default(f)]
        return f"runtime.{type(value).__name__}(", ")", pairs
    if isinstance(value, dict):
        return "{", "}", [(f"{_string(k)}: ", v) for k, v in value.items()]
    return "(", ")", [("", v) for v in value]


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _flat(value) -> str:
    """The one-line literal."""
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    opening, closing, pairs = _items(value)
    text = ", ".join(prefix + _flat(item) for prefix, item in pairs)
    if isinstance(value, tuple) and len(pairs) == 1:
        text += ","
    return opening + text + closing


def _literal(value, depth: int, used: int, trailing: str = "") -> str:
    """``value`` formatted at indentation ``depth`` after ``used`` characters on its line."""
    flat = _flat(value)
    if used + len(flat) + len(trailing) <= LINE or isinstance(value, (str, int, float, bool)) or value is None:
        return flat
    opening, closing, pairs = _items(value)
    inner = INDENT * (depth + 1)
    joined = ", ".join(prefix + _flat(item) for prefix, item in pairs)
    if len(pairs) > 1 and len(inner) + len(joined) <= LINE:
        return f"{opening}\n{inner}{joined}\n{INDENT * depth}{closing}"
    lines = [f"{inner}{prefix}{_literal(item, depth + 1, len(inner) + len(prefix), ',')}," for prefix, item in pairs]
    return opening + "\n" + "\n".join(lines) + "\n" + INDENT * depth + closing


# ---------------------------------------------------------------------------------------------
# Round trip: the emitted text, parsed back, must be exactly the module the plan describes.
# ---------------------------------------------------------------------------------------------

class EmissionError(SpecError):
    """The emitted module would not encode its plan exactly (nothing is written)."""


PLAN_TYPES = {t.__name__: t for t in (rp.Plan, rp.Axis, rp.Set, rp.VertexType, rp.EdgeType, rp.Tensor,
                                       rp.Constraint, rp.Architecture)}


def read_literal(node: ast.AST):
    """The value of a plan literal as :func:`_literal` writes it: constants, tuples, dicts and
    ``runtime.<PlanType>(field=...)`` calls; anything else raises :class:`EmissionError`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(read_literal(item) for item in node.elts)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {read_literal(k): read_literal(v) for k, v in zip(node.keys, node.values)}
    if (isinstance(node, ast.Call) and not node.args and _is_runtime_attribute(node.func)
            and node.func.attr in PLAN_TYPES and all(k.arg for k in node.keywords)):
        return PLAN_TYPES[node.func.attr](**{k.arg: read_literal(k.value) for k in node.keywords})
    raise EmissionError(f"unexpected {type(node).__name__} in the plan literal (line {getattr(node, 'lineno', '?')})")


def _is_runtime_attribute(node: ast.AST, attr: str | None = None) -> bool:
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "runtime"
            and (attr is None or node.attr == attr))


def _expected_classes(plan: rp.Plan) -> list[tuple[str, str, str | None]]:
    """(class name, runtime base class, architecture) of every class the module defines."""
    return ([(class_name(plan.name, a.name), "HetGNN", a.name) for a in plan.architectures]
            + [(class_name(plan.name, "fnn"), "FNN", None)])


def verify_module(source: str, plan: rp.Plan, docstring: str) -> None:
    """Parse ``source`` and check it is the module of ``plan``: its docstring is ``docstring``,
    its top level is the docstring, ``import torch``, ``from designer import runtime``,
    ``PLAN = <plan>`` and the expected classes, and each class body only docstring,
    ``plan = PLAN``, ``architecture =``, ``__init__`` (passing its options on) and ``forward``
    (passing its inputs on). Raises :class:`EmissionError` naming the first difference."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise EmissionError(f"the generated module does not parse (line {exc.lineno}: {exc.msg})") from None
    body, classes = tree.body, _expected_classes(plan)
    if len(body) != 4 + len(classes):
        raise EmissionError(f"the generated module has {len(body)} top-level statements, expected {4 + len(classes)}")
    if ast.get_docstring(tree, clean=False) != docstring:
        raise EmissionError("the generated module's docstring differs from the text it should hold")
    if ast.dump(body[1]) != ast.dump(ast.Import([ast.alias("torch")])):
        raise EmissionError("the generated module's second statement is not 'import torch'")
    head = body[2]
    if not (isinstance(head, ast.ImportFrom) and head.module == "designer" and head.level == 0
            and [(a.name, a.asname) for a in head.names] == [("runtime", None)]):
        raise EmissionError("the generated module's third statement is not 'from designer import runtime'")
    assign = body[3]
    if not (isinstance(assign, ast.Assign) and [ast.dump(t) for t in assign.targets]
            == [ast.dump(ast.Name("PLAN", ast.Store()))]):
        raise EmissionError("the generated module's fourth statement is not 'PLAN = ...'")
    if read_literal(assign.value) != plan:
        raise EmissionError("the generated module's PLAN differs from the compiled plan")
    for node, expected in zip(body[4:], classes):
        _verify_class(node, plan, *expected)


def _verify_class(node: ast.AST, plan: rp.Plan, name: str, base: str, architecture: str | None) -> None:
    if not (isinstance(node, ast.ClassDef) and node.name == name and not node.decorator_list and not node.keywords
            and len(node.bases) == 1 and _is_runtime_attribute(node.bases[0], base)):
        raise EmissionError(f"expected 'class {name}(runtime.{base})' in the generated module")
    allowed = {"plan": ast.dump(ast.Name("PLAN", ast.Load()))}
    if architecture is not None:
        allowed["architecture"] = ast.dump(ast.Constant(architecture))
    options = [f.name for f in _options(None if architecture is not None else ro.FNN_OPTIONS)]
    seen = set()
    for statement in node.body[1:]:
        if isinstance(statement, ast.FunctionDef) and statement.name in ("__init__", "forward"):
            if statement.name == "__init__":
                _verify_init(statement, options, name)
            else:
                _verify_forward(statement, plan, name)
            seen.add(statement.name)
        elif (isinstance(statement, ast.Assign) and len(statement.targets) == 1
              and isinstance(statement.targets[0], ast.Name)
              and allowed.get(statement.targets[0].id) == ast.dump(statement.value)):
            seen.add(statement.targets[0].id)
        else:
            raise EmissionError(f"unexpected statement in {name} (line {statement.lineno})")
    expected = {*allowed, "__init__", "forward"}
    if ast.get_docstring(node) is None or seen != expected:
        raise EmissionError(f"{name} lacks its docstring or one of {', '.join(sorted(expected))}")


def _passes_on(node: ast.FunctionDef, callee: ast.AST, args: list[ast.AST], keywords: list[str]) -> bool:
    """``node`` is a docstring and one ``callee(*args, name=name for name in keywords)``."""
    if len(node.body) != 2 or node.decorator_list or ast.get_docstring(node) is None:
        return False
    call = node.body[1].value if isinstance(node.body[1], (ast.Expr, ast.Return)) else None
    return (isinstance(call, ast.Call) and ast.dump(call.func) == ast.dump(callee)
            and [ast.dump(a) for a in call.args] == [ast.dump(a) for a in args]
            and [(k.arg, ast.dump(k.value)) for k in call.keywords]
            == [(n, ast.dump(ast.Name(n, ast.Load()))) for n in keywords])


def _verify_init(node: ast.FunctionDef, options: list[str], owner: str) -> None:
    names = [*options, "sizes"]
    parent = ast.Attribute(ast.Call(ast.Name("super", ast.Load()), [], []), "__init__", ast.Load())
    if ([a.arg for a in node.args.args] != ["self"] or [a.arg for a in node.args.kwonlyargs] != names
            or not isinstance(node.body[1], ast.Expr) or not _passes_on(node, parent, [], names)):
        raise EmissionError(f"{owner}.__init__ is not 'super().__init__(...)' of exactly its options")


def _verify_forward(node: ast.FunctionDef, plan: rp.Plan, owner: str) -> None:
    names = [t.name for t in plan.features]
    if [a.arg for a in node.args.args] != ["self", *names] or [a.arg for a in node.args.kwonlyargs] != ["sizes"]:
        raise EmissionError(f"{owner}.forward's parameters are not self, {', '.join(names)}, *, sizes")
    inputs = ast.Dict([ast.Constant(n) for n in names], [ast.Name(n, ast.Load()) for n in names])
    run = ast.Attribute(ast.Name("self", ast.Load()), "run", ast.Load())
    if not isinstance(node.body[-1], ast.Return) or not _passes_on(node, run, [inputs, ast.Name("sizes", ast.Load())],
                                                                    []):
        raise EmissionError(f"{owner}.forward does not pass exactly its inputs to self.run")
