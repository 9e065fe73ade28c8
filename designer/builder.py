"""``designer.build`` (exposed lazily by ``designer/__init__.py``): a spec file straight to a
torch model, through the same plan and the same runtime classes as the emitted module (compile → :func:`~designer.emit.plan_from_compilation` →
:class:`~designer.runtime.model.HetGNN` / :class:`~designer.runtime.model.FNN`)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .architecture import ARCHITECTURES
from .compiler import compile_spec
from .emit import plan_from_compilation
from .runtime.model import model_for
from .spec import load_spec


def build(spec_path: str | Path, arch: str = "vertex_edge", sizes: dict[str, int] | None = None,
          auto_edges: bool | None = None, **options) -> nn.Module:
    """Compile ``spec_path`` and instantiate one architecture.

    ``arch``: ``vertex`` (Zhao Prop. 1), ``edge`` (Prop. 2), ``vertex_edge`` (ENGNN) or ``fnn``
    (no-graph baseline; options ``hidden``, ``layers``, ``activation``). ``sizes``: the default
    for size symbols no input determines, the fixed channel counts and the fixed sizes of
    ``sharing="none"`` and ``fnn``; the spec is compiled and certified at its check instance
    (with these channel counts), which the certificate covers for every size. ``auto_edges``: as
    ``gnn-design compile --auto-edges`` (None: the spec's ``auto_edges``). ``options``:
    :class:`designer.runtime.Options` plus ``preset="engnn"``.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    spec = load_spec(spec_path)
    channels = {t.channels for t in spec.tensors.values() if isinstance(t.channels, str)}
    at = {symbol: n for symbol, n in (sizes or {}).items() if symbol in channels}
    compilation = compile_spec(spec, at, auto_edges=auto_edges, file=spec_path)
    return model_for(plan_from_compilation(compilation), arch, sizes, **options)
