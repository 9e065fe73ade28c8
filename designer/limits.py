"""Resource limits of the compiler, checked before the work they bound starts.

A spec is untrusted input: without bounds a small file can ask for a graph of billions of
vertices, a YAML tree deep enough to exhaust the stack, or a read that never ends. Every limit
has a default under which every shipped spec compiles with room to spare; a spec over a limit
is refused with one line that names the limit and how to raise it (``--limit NAME=N``).
The table in docs/spec-language.md ("Limits") documents them for users.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """The bounds a compilation runs under (all positive integers)."""

    spec_bytes: int = 256 * 1024  # size of the spec file, read in bounded chunks
    nesting_depth: int = 16  # nesting of YAML mappings and sequences (a spec needs 4)
    sets: int = 256  # entries in `sets`
    tensors: int = 256  # entries in `tensors`
    name_length: int = 64  # characters of a name (the spec name becomes file names)
    expression_length: int = 256  # characters of a value expression such as 1/sqrt(N_t)
    expression_depth: int = 16  # nested parentheses in a value expression
    size: int = 10_000  # value of a size symbol or literal size at the check instance
    vertices: int = 1_000  # vertices of the typed graph at the check and the generic instance

    def exceeded(self, name: str, what: str) -> str:
        """The message for a spec over the limit ``name``: ``what`` says what the spec has."""
        return f"{what}; the limit is {getattr(self, name)} (raise it with --limit {name}=N)"

    def replace(self, **values: int) -> "Limits":
        """A copy with some limits changed (each a positive integer)."""
        for name, value in values.items():
            _check_value(name, value)
        return dataclasses.replace(self, **values)


NAMES = tuple(f.name for f in dataclasses.fields(Limits))


def _check_value(name: str, value) -> None:
    if name not in NAMES:
        raise ValueError(f"unknown limit {name!r}; the limits are {', '.join(NAMES)}")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"limit {name} must be a positive integer, not {value!r}")


def parse_limit(text: str) -> tuple[str, int]:
    """``NAME=N`` (the ``--limit`` option) as a pair; ``ValueError`` with the reason otherwise."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not value.isascii() or not value.isdigit():
        raise ValueError(f"--limit {text!r}: expected NAME=N with N a positive integer and NAME one of "
                         f"{', '.join(NAMES)}")
    number = int(value)
    _check_value(name, number)
    return name, number


def parse_limits(texts, base: Limits | None = None) -> Limits:
    """``base`` (default :class:`Limits`) with every ``NAME=N`` in ``texts`` applied."""
    return (base or Limits()).replace(**dict(parse_limit(t) for t in texts))
