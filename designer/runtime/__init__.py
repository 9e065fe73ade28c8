"""The small runtime of compiled models: plan data (torch-free) and the torch layers.

``designer.runtime.Plan`` and friends (and :class:`Instance`, numpy only) import no torch, so the
compiler and :mod:`designer.emit` can build plans and instances without it; the models
(:class:`HetGNN`, :class:`FNN`, :class:`DeviceInstance`, ...) are imported from the torch modules
on first use.
The runtime never imports sympy, networkx or the compiler stages.
"""

from .instance import Instance
from .options import (Activation, BudgetMode, EdgeProcessors, InputTransform, NonnegativeMode, Norm, Options,
                      Pooling, Readout, SharingMode)
from .plan import (Architecture, Axis, Constraint, EdgeType, Plan, Set, Sparsity, Tensor, VertexType, evaluate,
                   expression_names, parse_expression)

_TORCH_NAMES = {
    "HetGNN": "model", "FNN": "model", "CompiledModel": "model", "resolve_options": "model", "model_for": "model",
    "DeviceInstance": "device_instance", "Sharing": "layers", "UpdateLayer": "layers",
}

__all__ = ["Activation", "BudgetMode", "EdgeProcessors", "InputTransform", "NonnegativeMode", "Norm", "Pooling",
           "Readout", "SharingMode", "Architecture", "Axis", "Constraint", "EdgeType", "Options", "Plan", "Set",
           "Sparsity", "Tensor", "VertexType", "Instance", "evaluate", "expression_names", "parse_expression", *_TORCH_NAMES]


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        from . import device_instance, layers, model

        modules = {"model": model, "device_instance": device_instance, "layers": layers}
        return getattr(modules[_TORCH_NAMES[name]], name)
    raise AttributeError(f"module 'designer.runtime' has no attribute {name!r}")
