"""Transfer methods, each declared once as a :class:`Method`, and their registry.

>>> from symtransfer import methods
>>> methods.names()
('scratch', 'linear', 'finetune', 'lp_ft', 'l2sp')
>>> methods.get("finetune").label
'fine-tuning'

A new method is a :class:`Method` (its expression builders, simulation step, endpoint
mechanism and labels) passed to :func:`register`; theory, codegen, validation, simulation,
sweeps, plots, tables and the command line iterate over / look up this registry.
"""
from __future__ import annotations

from .base import (
    QUANTITIES,
    SOURCES,
    Context,
    FiniteSize,
    Method,
    Outcome,
    default_kernel_name,
    depth_variant,
)
from .finetune import FINETUNE
from .l2sp import L2SP
from .linear import LINEAR
from .lp_ft import LP_FT
from .registry import (
    METHODS,
    all_methods,
    get,
    names,
    pretrained,
    reference,
    register,
    unknown_method,
    unregister,
    with_boundary,
)
from .scratch import SCRATCH

for _method in (SCRATCH, LINEAR, FINETUNE, LP_FT, L2SP):
    register(_method)
del _method

__all__ = ["Method", "FiniteSize", "Context", "Outcome", "METHODS", "register", "unregister",
           "get", "names", "all_methods", "reference", "pretrained", "with_boundary",
           "unknown_method", "default_kernel_name", "depth_variant", "QUANTITIES", "SOURCES",
           "SCRATCH", "LINEAR", "FINETUNE", "LP_FT", "L2SP"]
