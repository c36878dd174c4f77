"""Names of the generated kernels: one place that codegen and the evaluators agree on.

A kernel evaluates one shipped expression (``symtransfer.formulas``) elementwise. All take
the same arguments, :data:`ARGS`, whether or not the expression uses them. Which kernels
exist, and their names, is declared by each method (:mod:`symtransfer.methods`).
"""
from __future__ import annotations

from . import methods
from .methods import QUANTITIES, depth_variant  # noqa: F401  (re-exported)

ARGS = ("gamma", "theta", "sigma", "lam", "depth", "gamma_s", "sigma_s", "d", "mu")


def kernel_name(quantity: str, method: str, *, form: str = "exact",
                source: str = "population", depth: int = 2, finite_size: bool = False,
                variant: str = "") -> str:
    """The kernel evaluating ``quantity`` ('risk', 'transfer', 'boundary') of ``method``.

    ``variant`` selects another learner of the method (scratch: 'ridge' (penalty lam > 0)
    or 'optimal_ridge').
    """
    return methods.get(method).kernel_name(quantity, form=form, source=source, depth=depth,
                                           finite_size=finite_size, variant=variant)


def _section(spec: dict) -> tuple:
    """Where a kernel is printed in the generated files: the plain risks, transferabilities
    and boundaries (quantity by quantity; a method's without pretraining first, then
    population and finite source), then penalized pretraining, further quantities, variants
    and finite-size expectations; registration order within each."""
    if spec.get("finite_size"):
        return (4,)
    if spec.get("variant"):
        return (3,)
    if spec["quantity"] not in QUANTITIES:
        return (2,)
    q = QUANTITIES.index(spec["quantity"])
    if not methods.get(spec["method"]).pretrains:
        return (0, q, -1)
    source = spec.get("source", "population")
    if source == "penalized":
        return (1, q)
    return (0, q, ("population", "finite").index(source))


def catalog() -> list[dict]:
    """Every kernel that is generated, as keyword sets for :func:`kernel_name`."""
    specs = [spec for method in methods.all_methods() for spec in method.kernel_specs()]
    return sorted(specs, key=_section)  # stable: registration order within a section
