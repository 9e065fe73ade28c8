"""Shared helpers for the model tests: the shipped specs, tiny options, sizes."""

from pathlib import Path

import torch

import designer

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(p.stem for p in (ROOT / "specs").glob("*.yaml"))
ARCHS = ("vertex", "edge", "vertex_edge")
TINY = {"hidden": 6, "layers": 2, "mlp_layers": 2, "activation": "tanh"}


def spec_path(name: str) -> Path:
    return ROOT / "specs" / f"{name}.yaml"


def tiny(name: str, arch: str = "vertex_edge", seed: int = 0, **options) -> torch.nn.Module:
    """A small model of a shipped spec, seeded."""
    torch.manual_seed(seed)
    return designer.build(spec_path(name), arch=arch, **{**TINY, **options})


def other_sizes(model, step: int = 1) -> dict[str, int]:
    """The model's sizes with every set-size symbol grown by ``step`` (channels unchanged)."""
    return {k: v if k in model.plan.channel_symbols else v + step for k, v in model.sizes.items()}


def load_generated(name: str, directory: Path):
    """Emit a shipped spec's module into ``directory`` and import it."""
    import importlib.util

    from designer.compiler import compile_file
    from designer.emit import emit_module

    path = directory / f"{name}.py"
    path.write_text(emit_module(compile_file(spec_path(name))))
    module_spec = importlib.util.spec_from_file_location(f"generated_{name}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
