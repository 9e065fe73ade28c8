"""The small runtime of compiled models: plan data (torch-free) and the torch layers.

``designer.runtime.Plan`` and friends import nothing heavy, so the compiler and
:mod:`designer.emit` can build plans without torch; the models (:class:`HetGNN`,
:class:`FNN`, :class:`Instance`, ...) are imported from the torch modules on first use.
The runtime never imports sympy, networkx or the compiler stages.
"""

from .options import (Activation, BudgetMode, EdgeProcessors, InputTransform, NonnegativeMode, Norm, Options,
                      Pooling, Readout, SharingMode)
from .plan import (Architecture, Axis, Constraint, EdgeType, Plan, Set, Tensor, VertexType, evaluate,
                   expression_names, parse_expression)

_TORCH_NAMES = {
    "HetGNN": "model", "FNN": "model", "CompiledModel": "model", "resolve_options": "model", "model_for": "model",
    "Instance": "instance", "Sharing": "layers", "UpdateLayer": "layers",
}

__all__ = ["Activation", "BudgetMode", "EdgeProcessors", "InputTransform", "NonnegativeMode", "Norm", "Pooling",
           "Readout", "SharingMode", "Architecture", "Axis", "Constraint", "EdgeType", "Options", "Plan", "Set",
           "Tensor", "VertexType", "evaluate", "expression_names", "parse_expression", *_TORCH_NAMES]


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        from . import instance, layers, model

        return getattr({"model": model, "instance": instance, "layers": layers}[_TORCH_NAMES[name]], name)
    raise AttributeError(f"module 'designer.runtime' has no attribute {name!r}")
