"""gnn-design: compile a wireless resource-allocation problem (sets and tensor signatures) into
a heterogeneous GNN that is permutation-equivariant to exactly the problem's symmetry group.

Pipeline (one module per stage): :mod:`designer.spec` → :mod:`designer.structure` →
:mod:`designer.group` → :mod:`designer.graph` → :mod:`designer.certificate` →
:mod:`designer.architecture`, driven by :mod:`designer.compiler`. The compiler stages never
import torch; the runtime layers and generated models never import sympy or networkx.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # `designer.build` needs torch; import it only when asked for.
    if name == "build":
        from .builder import build

        return build
    raise AttributeError(f"module 'designer' has no attribute {name!r}")
