"""Model options, torch-free: the :class:`Options` every compiled model takes and the choices
each option has. The generated modules spell these out as typed keyword arguments of their
classes (:mod:`designer.emit`), and the torch modules of the runtime check against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, get_args

Pooling = Literal["sum", "mean", "max", "max+mean", "max+sum"]
Activation = Literal["relu", "tanh", "gelu", "silu", "identity"]
Norm = Literal["none", "layer"]
SharingMode = Literal["full", "homogeneous", "vertex-types", "none"]
EdgeProcessors = Literal["key", "neighbour"]
BudgetMode = Literal["scale_if_above", "normalise", "slack"]
NonnegativeMode = Literal["auto", "sigmoid", "softplus", "relu"]
Readout = Literal["neighbourhood", "own"]
InputTransform = Literal["none", "log", "outer"]

POOLINGS, ACTIVATION_NAMES, NORMS = get_args(Pooling), get_args(Activation), get_args(Norm)
SHARINGS, EDGE_PROCESSORS = get_args(SharingMode), get_args(EdgeProcessors)
BUDGET_MODES, NONNEGATIVE_MODES = get_args(BudgetMode), get_args(NonnegativeMode)
READOUTS, INPUT_TRANSFORMS = get_args(Readout), get_args(InputTransform)


@dataclass(frozen=True)
class Widths:
    """Hidden sizes of vertex and edge states."""

    vertex: int
    edge: int


@dataclass(frozen=True)
class Options:
    """Model options (``designer.build(..., **options)`` and the generated classes' keywords).

    hidden: width of vertex and edge states (``vertex_hidden``/``edge_hidden`` override it);
    layers: number of updating layers L; mlp_layers/mlp_hidden: depth and width of every
    processor and combiner MLP; pooling: sum | mean | max | max+mean | max+sum (a composite
    pools one block of channels per mode, :mod:`designer.runtime.pooling`); activation: relu | tanh | gelu | silu
    | identity; norm: none | layer; residual: add every updated state to the previous one (deep
    stacks); sharing: full | homogeneous | vertex-types | none;
    edge_processors: key (one per table key, Zhao Prop. 2) | neighbour (one per shared vertex
    and neighbouring edge type, shared by the updated types as in ENGNN eq. 24);
    power_budget: scale_if_above | normalise | slack; nonnegative: auto | sigmoid | softplus | relu
    (auto: sigmoid for a power under a budget, scaled by it; softplus for one without);
    readout: neighbourhood (a vertex action reads its vertex's state and its incident edge states
    pooled per edge key; an edge action its edge's state and its endpoints' states) | own (the
    carrier's state only, ENGNN eq. 26; the architecture must update the carrier's type);
    input_transform: none | log (every feature entry x ↦ x·log(1+|x|)/|x|, see
    :func:`log_magnitude`: channel gains spanning many orders of magnitude reach the first layer
    on a log scale, sign and phase kept; elementwise, so the symmetry is untouched) | outer (a
    complex feature's channel vector h enters as h h^H / ||h||, :func:`outer_product_channels`:
    the model is blind to every channel vector's phase — only for objectives that are too);
    sparse: run the spec's sparse edge types (``sparse:`` in the spec) on the pairs their rules
    keep in each sample; False runs every pair, the dense model of the same spec;
    check_inputs: also reject inputs with nan or inf entries and budgets read from features that
    are not positive (one reduction per input and per such budget per call; names, shapes,
    dtypes, sizes and budgets that are numbers are always checked).
    """

    hidden: int = 32
    vertex_hidden: Optional[int] = None
    edge_hidden: Optional[int] = None
    layers: int = 2
    mlp_layers: int = 2
    mlp_hidden: Optional[int] = None
    pooling: Pooling = "mean"
    activation: Activation = "relu"
    norm: Norm = "none"
    residual: bool = False
    sharing: SharingMode = "full"
    edge_processors: EdgeProcessors = "key"
    power_budget: BudgetMode = "scale_if_above"
    nonnegative: NonnegativeMode = "auto"
    readout: Readout = "neighbourhood"
    input_transform: InputTransform = "none"
    sparse: bool = True
    check_inputs: bool = True

    @property
    def widths(self) -> Widths:
        return Widths(self.vertex_hidden or self.hidden, self.edge_hidden or self.hidden)


# The options the FNN baseline takes (the rest describe the graph).
FNN_OPTIONS = ("hidden", "layers", "activation", "power_budget", "nonnegative", "input_transform", "check_inputs")
CHOICES = {"pooling": POOLINGS, "activation": ACTIVATION_NAMES, "norm": NORMS, "sharing": SHARINGS,
           "edge_processors": EDGE_PROCESSORS, "power_budget": BUDGET_MODES, "nonnegative": NONNEGATIVE_MODES,
           "readout": READOUTS, "input_transform": INPUT_TRANSFORMS}
