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

import builtins
import keyword
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictInt, ValidationError, ValidationInfo,
                      field_validator, model_validator)

from .limits import Limits
from .runtime.plan import expression_names as runtime_expression_names
from .runtime.plan import parse_expression

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Names that would shadow the emitted module's own names, and every Python builtin and keyword
# (soft keywords too): a spec's names become parameters, attributes and files of generated code.
RESERVED_NAMES = frozenset(
    {"self", "torch", "nn", "runtime", "batch", "sizes", "inputs", "outputs", "forward", "sqrt"}
    | set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist)
)


class SpecError(Exception):
    """A spec that cannot be compiled: ``file: field.path: message``, always one line."""

    def __init__(self, message: str, path: str = "", file: str | Path | None = None):
        self.message, self.path, self.file = message, path, file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(str(p) for p in (self.file, self.path) if p)
        return _one_line(f"{where}: {self.message}" if where else self.message)


def _one_line(text: str) -> str:
    """``text`` with control and other unprintable characters escaped (a newline becomes ``\\n``),
    so that a file name or a key from the spec cannot break the one-line error."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _shown(name: str, width: int = 40) -> str:
    """A name as an error message quotes it: its repr, cut to ``width`` characters."""
    return repr(name) if len(name) <= width else repr(name[:width]) + "…"


def check_name(name: str, what: str, limits: Limits = Limits()) -> str:
    """Validate a name from a spec before it can reach generated code: an ASCII identifier of at
    most ``limits.name_length`` characters that is no Python keyword or builtin and has no ``__``."""
    if not isinstance(name, str):
        raise ValueError(f"{what} {name!r} is not a name")
    if len(name) > limits.name_length:
        raise ValueError(limits.exceeded("name_length", f"{what} {_shown(name)} has {len(name)} characters"))
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not an identifier (ASCII letters, digits, '_'; starts with a letter)")
    if name in RESERVED_NAMES or "__" in name:
        raise ValueError(f"{what} {name!r} is reserved (a Python keyword or builtin, or a name generated code uses)")
    return name


def _limits(info: ValidationInfo) -> Limits:
    """The limits :func:`parse_spec` validates under (passed to pydantic as context)."""
    return (info.context or {}).get("limits") or Limits()


# ---------------------------------------------------------------------------------------------
# Size and value expressions: numbers, size symbols, + - * / **, sqrt(). The runtime's parser
# (torch-free) is the one grammar: a spec accepts exactly what a model can evaluate.
# ---------------------------------------------------------------------------------------------

def expression_names(text: str, limits: Limits = Limits()) -> tuple[str, ...]:
    """Parse a value expression (e.g. ``1/sqrt(N_t)``) and return the names it uses.

    Raises ``ValueError`` for anything outside numbers, names, + - * / ** and ``sqrt``, and for
    an expression over the length or nesting limits.
    """
    text = str(text)
    parse_expression(text, limits)
    names = runtime_expression_names(text)
    for name in names:
        check_name(name, "name", limits)
    return names


def _expression_text(value: int | float | str, info: ValidationInfo) -> str:
    text = str(value)
    expression_names(text, _limits(info))
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
    def _size(cls, value, info: ValidationInfo):
        if isinstance(value, int):
            if value < 1:
                raise ValueError("a literal size must be a positive integer")
            return value
        return check_name(value, "size symbol", _limits(info))

    @field_validator("axis")
    @classmethod
    def _axis(cls, value, info: ValidationInfo):
        return None if value is None else check_name(value, "axis name", _limits(info))


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
    def _channels(cls, value, info: ValidationInfo):
        if isinstance(value, int) and value < 1:
            raise ValueError("channels must be a positive integer or a size symbol")
        if isinstance(value, str):
            check_name(value, "channel symbol", _limits(info))
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


class SparseSpec(_Strict):
    """A kept-edge rule: of the pairs of an edge type at each element of `per`, keep the `keep`
    strongest by the magnitude of feature `by` (pairs tied with the first one left out are
    dropped with it) and, with `above`, only those whose magnitude exceeds it."""

    by: str = Field(description="A feature tensor on the edge type's pairs; its magnitude ranks them.")
    per: str = Field(description="One of the edge type's two sets: the rule ranks the pairs at each of its elements.")
    keep: StrictInt | None = Field(None, ge=1, description="How many pairs to keep per element of `per`.")
    above: float | None = Field(None, ge=0, allow_inf_nan=False,
                                description="Keep only pairs whose magnitude exceeds this threshold.")
    description: str = ""

    @model_validator(mode="after")
    def _a_rule(self):
        if self.keep is None and self.above is None:
            raise ValueError("a sparse edge type needs `keep` (pairs per element of `per`), `above` (a "
                             "magnitude threshold) or both")
        return self


class Spec(_Strict):
    """A wireless problem: its sets, tensor signatures, action constraints and a check instance."""

    name: str
    description: str = ""
    sets: dict[str, SetSpec]
    tensors: dict[str, TensorSpec]
    constraints: list[Constraint] = Field(default_factory=list)
    check_sizes: dict[str, StrictInt] = Field(description="The default check instance: symbol -> size.")
    auto_edges: bool = Field(False, description="After S4new, add the suggested edge orbits automatically.")
    sparse: dict[str, SparseSpec] = Field(
        default_factory=dict, description="Edge type name (as the report lists them) -> its kept-edge rule; the "
                                          "model then runs that edge type on the kept pairs only.")
    problem: str | None = Field(
        None, max_length=1000, pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The problem `gnn-design train` optimises: module:attribute, path/to/file.py:attribute "
                    "(relative to the spec's folder) or a name registered in the entry-point group "
                    "gnn_design.problems (designer/problem.py).")

    @field_validator("name")
    @classmethod
    def _name(cls, value, info: ValidationInfo):
        return check_name(value, "spec name", _limits(info))

    @field_validator("sets", "tensors")
    @classmethod
    def _keys(cls, value, info: ValidationInfo):
        if not value:
            raise ValueError(f"at least one entry is required in `{info.field_name}`")
        for key in value:
            check_name(key, "name", _limits(info))
        return value

    @field_validator("check_sizes")
    @classmethod
    def _sizes(cls, value, info: ValidationInfo):
        for key, size in value.items():
            check_name(key, "size symbol", _limits(info))
            if size < 1:
                raise ValueError(f"size {key}={size} is not a positive integer")
        return value


# ---------------------------------------------------------------------------------------------
# Safe YAML loading.
# ---------------------------------------------------------------------------------------------

_RESOLVER = yaml.resolver.Resolver()  # the implicit types of plain scalars, as safe_load resolves them
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + kind for kind in ("str", "int", "float", "bool", "null")}
_INTEGER_CHARACTERS = 100  # longer integers are no size (and too long to convert quickly)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_unsafe_events(text: str, file: str | Path, limits: Limits) -> None:
    """Walk the YAML event stream before anything is constructed and refuse what ``safe_load``
    would choke on or expand: a second document, anchors, aliases, explicit tags, keys that are
    not strings, duplicate keys, values other than strings, numbers, booleans and null,
    integers too long to be sizes, nesting deeper than ``limits.nesting_depth``, and more
    entries in `sets` or `tensors` than their limits (counted as they come: a spec of thousands
    of sets is refused at the first one over)."""
    stack: list[_OpenMapping | None] = []  # per open collection; None for a sequence
    documents = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = f"line {event.start_mark.line + 1}"
            _reject_event(event, line, file)
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise SpecError("a spec is one YAML document; this is a second one", line, file)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
            elif isinstance(event, yaml.NodeEvent):
                if stack and stack[-1] is not None:
                    _take_mapping_entry(stack[-1], event, line, file, limits)
                if isinstance(event, yaml.CollectionStartEvent):
                    root = stack[0] if len(stack) == 1 else None  # the value of a top-level key
                    section = root.key if root is not None and root.key in ("sets", "tensors") else None
                    stack.append(_OpenMapping(section) if isinstance(event, yaml.MappingStartEvent) else None)
                    if len(stack) > limits.nesting_depth:
                        what = f"YAML collections nested {len(stack)} or more deep"
                        raise SpecError(limits.exceeded("nesting_depth", what), line, file)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"malformed YAML: {problem}", where, file) from None


def _reject_event(event, line: str, file) -> None:
    """Aliases, anchors and explicit tags; scalars safe_load would turn into other types."""
    if isinstance(event, yaml.AliasEvent):
        raise SpecError("YAML aliases are not allowed in a spec", line, file)
    if getattr(event, "anchor", None) is not None:
        raise SpecError("YAML anchors are not allowed in a spec", line, file)
    if getattr(event, "tag", None) is not None and not isinstance(event, yaml.DocumentStartEvent):
        raise SpecError(f"YAML tags are not allowed in a spec ({event.tag})", line, file)
    if isinstance(event, yaml.ScalarEvent):
        if _SURROGATE.search(event.value):  # from an escape such as "\uD800": no file can hold it as UTF-8
            raise SpecError(f"{_shown(event.value)} is not valid Unicode (a lone surrogate)", line, file)
        tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag not in _SCALAR_TAGS:
            raise SpecError(f"{_shown(event.value)} is read as a YAML {tag.removeprefix(_TAG)}; quote it "
                            "if it is text", line, file)
        if tag == _TAG + "int" and len(event.value) > _INTEGER_CHARACTERS:
            raise SpecError(f"an integer of {len(event.value)} characters is too large", line, file)


class _OpenMapping:
    """A mapping of the event walk: keys alternate with values. ``section`` is `sets` or
    `tensors` for those two mappings (whose entries are limited), else None."""

    def __init__(self, section: str | None):
        self.section, self.expecting_key, self.keys, self.key = section, True, set(), None


def _take_mapping_entry(mapping: _OpenMapping, event, line: str, file, limits: Limits) -> None:
    """A key must be a string scalar, seen once per mapping; `sets` and `tensors` are counted."""
    expecting_key, mapping.expecting_key = mapping.expecting_key, not mapping.expecting_key
    if not expecting_key:
        return
    if not isinstance(event, yaml.ScalarEvent):
        raise SpecError("a mapping key must be a name, not a YAML collection", line, file)
    if _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit) != _TAG + "str":
        raise SpecError(f"a mapping key must be a name, not {_shown(event.value)} (quote it to make it text)",
                        line, file)
    if event.value in mapping.keys:
        raise SpecError(f"duplicate key {_shown(event.value)}", line, file)
    mapping.keys.add(event.value)
    mapping.key = event.value
    if mapping.section and len(mapping.keys) > getattr(limits, mapping.section):
        what = f"the spec has more than {getattr(limits, mapping.section)} {mapping.section}"
        raise SpecError(limits.exceeded(mapping.section, what), mapping.section, file)


def _format_location(loc: tuple) -> str:
    """pydantic's error location without its union-member and validator tags."""
    tags = ("function-", "union[", "int", "float", "str", "constrained-str", "nullable[")
    return ".".join(str(part) for part in loc
                    if not (isinstance(part, str) and part.startswith(tags)))


def parse_spec(text: str, file: str | Path = "<spec>", limits: Limits = Limits()) -> Spec:
    """Validate YAML text as a :class:`Spec` and cross-check its references (see :func:`load_spec`)."""
    if len(text) > limits.spec_bytes or len(text.encode("utf-8", "surrogatepass")) > limits.spec_bytes:
        raise SpecError(limits.exceeded("spec_bytes", "the spec is larger than allowed"), "", file)
    _reject_unsafe_events(text, file, limits)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise SpecError("a spec must be a YAML mapping with `name`, `sets`, `tensors`, `check_sizes`", "", file)
    try:
        spec = Spec.model_validate(data, context={"limits": limits})
    except ValidationError as exc:
        error = exc.errors()[0]
        path = _format_location(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown field {path.rsplit('.', 1)[-1]!r}"
        raise SpecError(message, path, file) from None
    check_references(spec, file, limits)
    return spec


def load_spec(path: str | Path, limits: Limits = Limits()) -> Spec:
    """Read, validate and cross-check a spec file; raise :class:`SpecError` on any problem.

    Only a regular file is read (a FIFO, a device or a directory is refused before it is
    opened), in chunks and never more than ``limits.spec_bytes`` + 1 bytes.
    """
    path = Path(path)
    try:
        data = _read_regular_file(path, limits)
    except OSError as exc:
        raise SpecError(f"cannot read spec: {exc.strerror or exc}", "", path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"cannot read spec: not UTF-8 text ({exc.reason} at byte {exc.start})", "", path) from None
    return parse_spec(text, path, limits)


def _read_regular_file(path: Path, limits: Limits) -> bytes:
    """At most ``limits.spec_bytes`` bytes of a regular file (SpecError for anything else)."""
    _require_regular(os.stat(path).st_mode, path)
    # O_NONBLOCK: should the path have become a FIFO since the stat, opening it cannot block.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        _require_regular(os.fstat(fd).st_mode, path)
        chunks, total = [], 0
        while total <= limits.spec_bytes:
            chunk = os.read(fd, min(1 << 16, limits.spec_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limits.spec_bytes:
        raise SpecError(limits.exceeded("spec_bytes", "the spec file is larger than allowed"), "", path)
    return b"".join(chunks)


def _require_regular(mode: int, path: Path) -> None:
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
        raise SpecError(f"cannot read spec: it is {kind}", "", path)


# ---------------------------------------------------------------------------------------------
# Cross-reference checks.
# ---------------------------------------------------------------------------------------------

def _symbols_of(spec: Spec) -> set[str]:
    symbols = {s.size for s in spec.sets.values() if isinstance(s.size, str)}
    symbols |= {t.channels for t in spec.tensors.values() if isinstance(t.channels, str)}
    return symbols


def check_references(spec: Spec, file: str | Path = "<spec>", limits: Limits = Limits()) -> None:
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
        _check_constraint(spec, symbols, c, f"constraints.{i}", file, limits)


def _check_nesting_acyclic(spec: Spec, file) -> None:
    """Walk up the parents from every set, once per set overall (linear in the number of sets):
    a walk that meets its own trail has found a cycle; one that meets a finished set stops."""
    finished: set[str] = set()
    for start in spec.sets:
        trail: dict[str, None] = {}  # ordered: the walk from `start` up
        node = start
        while node is not None and node not in finished:
            if node in trail:
                walk = list(trail)
                cycle = " -> ".join(walk[walk.index(node):] + [node])
                raise SpecError(f"cycle in nesting: {cycle}", f"sets.{start}.parent", file)
            trail[node] = None
            node = spec.sets[node].parent
        finished.update(trail)


def _check_constraint(spec: Spec, symbols: set[str], c, path: str, file, limits: Limits) -> None:
    tensors = spec.tensors
    if c.tensor not in tensors:
        raise SpecError(f"unknown tensor {c.tensor!r}", f"{path}.tensor", file)
    target = tensors[c.tensor]
    if target.role != "action":
        raise SpecError(f"constraints apply to actions; {c.tensor!r} is a feature", f"{path}.tensor", file)
    if isinstance(c, NonNegative) and target.dtype == "complex":
        raise SpecError(f"{c.tensor!r} is complex; non-negativity needs a real action", f"{path}.tensor", file)
    if isinstance(c, PowerBudget):
        if c.per not in spec.sets:
            raise SpecError(f"unknown set {c.per!r}", f"{path}.per", file)
        for name in expression_names(c.max, limits):
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
            for name in expression_names(text, limits):
                if name not in symbols:
                    raise SpecError(f"unknown size symbol {name!r}", f"{path}.{field}", file)


def json_schema() -> dict:
    """JSON Schema of the spec language (``gnn-design schema``), for editors."""
    schema = Spec.model_json_schema()
    schema["title"] = "gnn-design spec"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
