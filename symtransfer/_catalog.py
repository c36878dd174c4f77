"""Names of the generated kernels: one place that codegen and the evaluators agree on.

A kernel evaluates one shipped expression (``symtransfer.formulas``) elementwise. All take
the same arguments, :data:`ARGS`, whether or not the expression uses them.
"""
from __future__ import annotations

ARGS = ("gamma", "theta", "sigma", "lam", "depth", "gamma_s", "sigma_s", "d", "mu")
QUANTITIES = ("risk", "transfer", "boundary")


def depth_variant(depth: int) -> str:
    """L = 2 and L = 3 have radical kernels; deeper networks use the numeric root."""
    return {2: "L2", 3: "L3"}.get(depth, "Ln")


def kernel_name(quantity: str, method: str, *, form: str = "exact",
                source: str = "population", depth: int = 2, finite_size: bool = False,
                variant: str = "") -> str:
    """The kernel evaluating ``quantity`` ('risk', 'transfer', 'boundary') of ``method``.

    ``variant`` selects a ridge scratch learner: 'ridge' (penalty lam > 0) or 'optimal_ridge'.
    """
    if finite_size:
        return f"{quantity}_{method}_d"
    if quantity == "penalty":  # the best pretraining penalty mu* of fine-tuning
        return f"optimal_penalty_finetune_{form}"
    if method == "scratch":
        return f"{quantity}_scratch" + (f"_{variant}" if variant else "")
    if method == "linear":
        return f"{quantity}_linear_{source}"
    if form == "paper":
        return f"{quantity}_finetune_paper_{source}"
    return f"{quantity}_finetune_exact_{source}_{depth_variant(depth)}"


def catalog() -> list[dict]:
    """Every kernel that is generated, as keyword sets for :func:`kernel_name`."""
    specs: list[dict] = []
    for quantity in QUANTITIES:
        if quantity != "boundary":
            specs.append(dict(quantity=quantity, method="scratch"))
        for source in ("population", "finite"):
            specs.append(dict(quantity=quantity, method="linear", source=source))
            specs.append(dict(quantity=quantity, method="finetune", form="paper", source=source))
            for depth in (2, 3, 4):
                specs.append(dict(quantity=quantity, method="finetune", form="exact",
                                  source=source, depth=depth))
    for quantity in QUANTITIES:  # penalized pretraining: depth 2 (see formulas.penalized_norm)
        specs.append(dict(quantity=quantity, method="linear", source="penalized"))
        specs.append(dict(quantity=quantity, method="finetune", form="paper", source="penalized"))
        specs.append(dict(quantity=quantity, method="finetune", form="exact", source="penalized",
                          depth=2))
    for form in ("exact", "paper"):
        specs.append(dict(quantity="penalty", method="finetune", form=form, source="penalized",
                          depth=2))
    specs.append(dict(quantity="risk", method="scratch", variant="ridge"))
    specs.append(dict(quantity="risk", method="scratch", variant="optimal_ridge"))
    specs.append(dict(quantity="risk", method="scratch", finite_size=True))
    specs.append(dict(quantity="risk", method="linear", finite_size=True))
    return specs
