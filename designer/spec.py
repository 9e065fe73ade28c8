"""Stage 1 — the spec language: a YAML file that names a problem's sets and tensor signatures.

A spec is loaded with a safe, alias-free YAML reader, validated by pydantic, then checked for
cross-references (unknown names, nesting cycles, related sets of different shapes). Every
error becomes a :class:`SpecError` that names the file, the field path and what is wrong.

Example (MCMU power allocation, Zhao et al. §3-B)::

    name: mcmu_power_allocation
    sets:
      cell: {size: M}
      AN:   {size: K, parent: cell, axis: pair}
      UE:   {size: K, parent: cell, related: AN}
    tensors:
      H: {role: feature, dims: [UE, AN]}
      p: {role: action, dims: [AN]}
    constraints:
      - {kind: nonnegative, tensor: p}
      - {kind: power_budget, tensor: p, per: cell, max: 1}
    check_sizes: {M: 3, K: 3}
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from .runtime.plan import expression_names as runtime_expression_names
from .runtime.plan import parse_expression

MAX_SPEC_BYTES = 256 * 1024
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Names that would shadow the emitted module's own names or Python builtins we rely on.
RESERVED_NAMES = frozenset(
    {"self", "torch", "nn", "runtime", "batch", "sizes", "inputs", "outputs", "forward",
     "sum", "max", "min", "sqrt", "abs", "float", "int", "str", "dict", "list", "tuple",
     "type", "object", "None", "True", "False"}
)


class SpecError(Exception):
    """A spec that cannot be compiled: ``file: field.path: message``."""

    def __init__(self, message: str, path: str = "", file: str | Path | None = None):
        self.message, self.path, self.file = message, path, file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(str(p) for p in (self.file, self.path) if p)
        return f"{where}: {self.message}" if where else self.message


def check_name(name: str, what: str) -> str:
    """Validate a name from a spec before it can reach generated code."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"{what} {name!r} is not an identifier (letters, digits, '_'; starts with a letter)")
    if keyword.iskeyword(name) or name in RESERVED_NAMES or "__" in name:
        raise ValueError(f"{what} {name!r} is reserved")
    return name


# ---------------------------------------------------------------------------------------------
# Size and value expressions: numbers, size symbols, + - * / **, sqrt(). The runtime's parser
# (torch-free) is the one grammar: a spec accepts exactly what a model can evaluate.
# ---------------------------------------------------------------------------------------------

def expression_names(text: str) -> tuple[str, ...]:
    """Parse a value expression (e.g. ``1/sqrt(N_t)``) and return the names it uses.

    Raises ``ValueError`` for anything outside numbers, names, + - * / ** and ``sqrt``.
    """
    try:
        parse_expression(str(text))
    except ValueError:
        raise ValueError(f"{text!r}: only numbers, size symbols, + - * / ** and sqrt() are allowed") from None
    names = runtime_expression_names(str(text))
    for name in names:
        check_name(name, "name")
    return names


def _expression_text(value: int | float | str) -> str:
    text = str(value)
    expression_names(text)
    return text


# A value in a constraint: a number or a whitelisted expression, stored as its text.
Expression = Annotated[Union[StrictInt, float, str], AfterValidator(_expression_text)]


# ---------------------------------------------------------------------------------------------
# Pydantic models: the shape of a spec file.
# ---------------------------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SetSpec(_Strict):
    """A set of unordered elements: normal (no parent), nested (``parent``) or related."""

    size: Union[StrictInt, str] = Field(description="Size symbol (e.g. K) or a positive integer literal.")
    parent: str | None = Field(None, description="Nested set: one subset of `size` elements per parent element.")
    related: list[str] = Field(default_factory=list, description="Sets re-ordered together with this one.")
    axis: str | None = Field(None, description="Name of the index axis this set introduces (defaults to the set's name).")
    break_symmetry: Literal["index", "random"] | None = Field(
        None, description="Declared symmetry breaking for a set no input distinguishes.")
    description: str = ""

    @field_validator("related", mode="before")
    @classmethod
    def _related_list(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("size")
    @classmethod
    def _size(cls, value):
        if isinstance(value, int):
            if value < 1:
                raise ValueError("a literal size must be a positive integer")
            return value
        return check_name(value, "size symbol")

    @field_validator("axis")
    @classmethod
    def _axis(cls, value):
        return None if value is None else check_name(value, "axis name")


class TensorSpec(_Strict):
    """An input (``feature``) or output (``action``) tensor indexed by one or two sets."""

    role: Literal["feature", "action"]
    dims: list[str] = Field(description="One or two set names; the same set twice is allowed.")
    channels: Union[StrictInt, str, None] = Field(
        None, description="Trailing channel axis: a positive integer or a size symbol; absent = no channel axis.")
    dtype: Literal["real", "complex"] = "real"
    support: Literal["all", "matched"] = Field(
        "all", description="`matched`: only pairs whose indices agree on every axis the two sets share.")
    description: str = ""

    @field_validator("dims")
    @classmethod
    def _dims(cls, value):
        if len(value) == 0:
            raise ValueError("a tensor needs one or two sets in `dims`")
        if len(value) > 2:
            raise ValueError(f"{len(value)} sets in `dims`: hyperedges are not supported (one or two sets)")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value):
        if isinstance(value, int) and value < 1:
            raise ValueError("channels must be a positive integer or a size symbol")
        if isinstance(value, str):
            check_name(value, "channel symbol")
        return value


class PowerBudget(_Strict):
    """Sum of |action|^2 over each element of `per` is at most `max` (a number, a size
    expression, or a feature tensor indexed by `per`)."""

    kind: Literal["power_budget"]
    tensor: str
    per: str
    max: Expression = "1"


class TotalPower(_Strict):
    """||through @ tensor||_F^2 (or ||tensor||^2 without `through`) equals `value`."""

    kind: Literal["total_power"]
    tensor: str
    value: Expression = "1"
    through: str | None = Field(None, description="An action composed with `tensor` (e.g. W_RF for W_BB).")


class ConstantModulus(_Strict):
    """Every entry of the action has modulus `modulus` (analog precoders and combiners)."""

    kind: Literal["constant_modulus"]
    tensor: str
    modulus: Expression = "1"


class NonNegative(_Strict):
    """Every entry of the (real) action is non-negative (powers)."""

    kind: Literal["nonnegative"]
    tensor: str


Constraint = Annotated[Union[PowerBudget, TotalPower, ConstantModulus, NonNegative],
                       Field(discriminator="kind")]


class Spec(_Strict):
    """A wireless problem: its sets, tensor signatures, action constraints and a check instance."""

    name: str
    description: str = ""
    sets: dict[str, SetSpec]
    tensors: dict[str, TensorSpec]
    constraints: list[Constraint] = Field(default_factory=list)
    check_sizes: dict[str, StrictInt] = Field(description="The default check instance: symbol -> size.")
    auto_edges: bool = Field(False, description="After S4new, add the suggested edge orbits automatically.")

    @field_validator("name")
    @classmethod
    def _name(cls, value):
        return check_name(value, "spec name")

    @field_validator("sets", "tensors")
    @classmethod
    def _keys(cls, value, info):
        if not value:
            raise ValueError(f"at least one entry is required in `{info.field_name}`")
        for key in value:
            check_name(key, "name")
        return value

    @field_validator("check_sizes")
    @classmethod
    def _sizes(cls, value):
        for key, size in value.items():
            check_name(key, "size symbol")
            if size < 1:
                raise ValueError(f"size {key}={size} is not a positive integer")
        return value


# ---------------------------------------------------------------------------------------------
# Safe YAML loading.
# ---------------------------------------------------------------------------------------------

def _reject_unsafe_events(text: str, file: str | Path) -> None:
    """Refuse YAML anchors, aliases, explicit tags and duplicate keys before anything is built."""
    stack: list[list] = []  # per open collection: [is_mapping, expecting_key, keys seen]
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = f"line {event.start_mark.line + 1}"
            if isinstance(event, yaml.AliasEvent):
                raise SpecError("YAML aliases are not allowed in a spec", line, file)
            if getattr(event, "anchor", None) is not None:
                raise SpecError("YAML anchors are not allowed in a spec", line, file)
            if getattr(event, "tag", None) is not None and not isinstance(event, yaml.DocumentStartEvent):
                raise SpecError(f"YAML tags are not allowed in a spec ({event.tag})", line, file)
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
            elif isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if stack and stack[-1][0]:
                    top = stack[-1]
                    if top[1] and isinstance(event, yaml.ScalarEvent):
                        if event.value in top[2]:
                            raise SpecError(f"duplicate key {event.value!r}", line, file)
                        top[2].add(event.value)
                    top[1] = not top[1]
                if isinstance(event, yaml.MappingStartEvent):
                    stack.append([True, True, set()])
                elif isinstance(event, yaml.SequenceStartEvent):
                    stack.append([False, False, set()])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"malformed YAML: {problem}", where, file) from None


def _format_location(loc: tuple) -> str:
    """pydantic's error location without its union-member and validator tags."""
    tags = ("function-", "union[", "int", "float", "str", "constrained-str", "nullable[")
    return ".".join(str(part) for part in loc
                    if not (isinstance(part, str) and part.startswith(tags)))


def parse_spec(text: str, file: str | Path = "<spec>") -> Spec:
    """Validate YAML text as a :class:`Spec` (shape only; see :func:`load_spec` for references)."""
    if len(text.encode()) > MAX_SPEC_BYTES:
        raise SpecError(f"spec is larger than {MAX_SPEC_BYTES // 1024} KiB", "", file)
    _reject_unsafe_events(text, file)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise SpecError("a spec must be a YAML mapping with `name`, `sets`, `tensors`, `check_sizes`", "", file)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = _format_location(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown field {path.rsplit('.', 1)[-1]!r}"
        raise SpecError(message, path, file) from None
    check_references(spec, file)
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read, validate and cross-check a spec file; raise :class:`SpecError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read spec: {exc.strerror if isinstance(exc, OSError) else exc}", "", path) from None
    return parse_spec(text, path)


# ---------------------------------------------------------------------------------------------
# Cross-reference checks.
# ---------------------------------------------------------------------------------------------

def _symbols_of(spec: Spec) -> set[str]:
    symbols = {s.size for s in spec.sets.values() if isinstance(s.size, str)}
    symbols |= {t.channels for t in spec.tensors.values() if isinstance(t.channels, str)}
    return symbols


def check_references(spec: Spec, file: str | Path = "<spec>") -> None:
    """Every name a spec uses must be declared, nesting must be acyclic, related sets alike."""
    sets, tensors = spec.sets, spec.tensors
    clash = sorted(set(sets) & set(tensors))
    if clash:
        raise SpecError(f"name {clash[0]!r} is used for both a set and a tensor", f"tensors.{clash[0]}", file)
    for name, s in sets.items():
        if s.parent is not None and s.parent not in sets:
            raise SpecError(f"unknown parent set {s.parent!r}", f"sets.{name}.parent", file)
        if s.parent == name:
            raise SpecError("a set cannot be its own parent", f"sets.{name}.parent", file)
        for other in s.related:
            if other not in sets:
                raise SpecError(f"unknown related set {other!r}", f"sets.{name}.related", file)
            if other == name:
                raise SpecError("a set cannot be related to itself", f"sets.{name}.related", file)
    _check_nesting_acyclic(spec, file)
    for name, t in tensors.items():
        for i, dim in enumerate(t.dims):
            if dim not in sets:
                raise SpecError(f"unknown set {dim!r}", f"tensors.{name}.dims.{i}", file)
        if t.support == "matched" and len(t.dims) != 2:
            raise SpecError("`support: matched` needs a tensor over two sets", f"tensors.{name}.support", file)
    symbols = _symbols_of(spec)
    missing = sorted(symbols - set(spec.check_sizes))
    if missing:
        raise SpecError(f"no size given for symbol {missing[0]!r}", "check_sizes", file)
    unknown = sorted(set(spec.check_sizes) - symbols)
    if unknown:
        raise SpecError(f"{unknown[0]!r} is not a size symbol of this spec", f"check_sizes.{unknown[0]}", file)
    overlap = sorted(symbols & (set(sets) | set(tensors)))
    if overlap:
        raise SpecError(f"size symbol {overlap[0]!r} is also a set or tensor name", "check_sizes", file)
    for i, c in enumerate(spec.constraints):
        _check_constraint(spec, c, f"constraints.{i}", file)


def _check_nesting_acyclic(spec: Spec, file) -> None:
    for start in spec.sets:
        seen = [start]
        node = spec.sets[start].parent
        while node is not None:
            if node in seen:
                cycle = " -> ".join(seen[seen.index(node):] + [node])
                raise SpecError(f"cycle in nesting: {cycle}", f"sets.{start}.parent", file)
            seen.append(node)
            node = spec.sets[node].parent


def _check_constraint(spec: Spec, c, path: str, file) -> None:
    tensors = spec.tensors
    if c.tensor not in tensors:
        raise SpecError(f"unknown tensor {c.tensor!r}", f"{path}.tensor", file)
    target = tensors[c.tensor]
    if target.role != "action":
        raise SpecError(f"constraints apply to actions; {c.tensor!r} is a feature", f"{path}.tensor", file)
    symbols = _symbols_of(spec)
    if isinstance(c, NonNegative) and target.dtype == "complex":
        raise SpecError(f"{c.tensor!r} is complex; non-negativity needs a real action", f"{path}.tensor", file)
    if isinstance(c, PowerBudget):
        if c.per not in spec.sets:
            raise SpecError(f"unknown set {c.per!r}", f"{path}.per", file)
        for name in expression_names(c.max):
            if name in tensors:
                budget = tensors[name]
                if budget.role != "feature" or budget.dims != [c.per] or budget.dtype != "real":
                    raise SpecError(f"budget tensor {name!r} must be a real feature over [{c.per}]",
                                    f"{path}.max", file)
            elif name not in symbols:
                raise SpecError(f"unknown name {name!r} (not a size symbol or feature tensor)", f"{path}.max", file)
    if isinstance(c, TotalPower) and c.through is not None:
        if c.through not in tensors or tensors[c.through].role != "action":
            raise SpecError(f"`through` must name an action tensor, not {c.through!r}", f"{path}.through", file)
    for field in ("value", "modulus"):
        text = getattr(c, field, None)
        if text is not None:
            for name in expression_names(text):
                if name not in symbols:
                    raise SpecError(f"unknown size symbol {name!r}", f"{path}.{field}", file)


def json_schema() -> dict:
    """JSON Schema of the spec language (``gnn-design schema``), for editors."""
    schema = Spec.model_json_schema()
    schema["title"] = "gnn-design spec"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
