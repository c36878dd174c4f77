"""Symbolic access: the shipped expressions (:func:`expr`); checking a user's derivation
against them is :mod:`symtransfer.checker` (re-exported here).

Imports sympy; :mod:`symtransfer` loads this module only when :func:`expr` or :func:`check`
is called.
"""
from __future__ import annotations

from typing import Any

import sympy as sp

from . import formulas, methods
from . import validation as V
from .parsing import parse_number
from .symbols import BY_NAME

QUANTITIES = {"risk": "risk", "transferability": "transfer", "boundary": "boundary"}


def expr(method: str, *, quantity: str = "risk", form: str = "exact", depth: int | None = None,
         source: str | None = None, finite_size: bool = False, **values: Any) -> sp.Expr:
    """The sympy expression symtransfer evaluates for ``method``.

    quantity : 'risk' (default), 'transferability' (R_scratch - R_method) or 'boundary'
        (theta* on T = 0).
    form : 'exact' or 'paper' (published fine-tuning form).
    depth : an integer L, or None to keep the symbol L. For fine-tuning the exact form holds
        ``PositiveRoot(L, 1 - gamma, B/N_s)``; ``.doit()`` turns it into radicals for L = 2, 3.
    source : 'population' (default), 'finite' (pretraining on gamma_s*d noisy samples;
        implied when gamma_s is among ``values``) or 'penalized' (population pretraining with
        the penalty mu |w - w_0|^2, depth 2; implied when mu is among ``values``).
    finite_size : the exact finite-d expectation (scratch; ridgeless linear transfer), in
        gamma and d.
    values : numbers substituted for parameters by their API names (gamma, theta, sigma, lam,
        gamma_s, sigma_s, mu, d); unnamed parameters stay symbols.

    >>> expr("linear", lam=0)
    1 - cos(theta)**2
    """
    m = methods.get(V.method_name(method))
    V.choice("form", form, V.FORMS)
    V.choice("quantity", quantity, tuple(QUANTITIES))
    if source is None:
        source = ("finite" if values.get("gamma_s") is not None
                  else "penalized" if values.get("mu") is not None else "population")
    V.choice("source", source, formulas.SOURCES)
    unknown = set(values) - set(BY_NAME)
    if unknown:
        raise TypeError(f"unknown parameter(s) {sorted(unknown)}; use {sorted(BY_NAME)}")
    if depth is None:
        L = BY_NAME["depth"]
    else:
        L = V.integer("depth", depth, minimum=2)
    if finite_size:
        having = [x.name for x in methods.all_methods() if x.finite_size is not None]
        if m.finite_size is None or quantity != "risk":
            raise ValueError("finite-size expressions exist for the risk of "
                             + " and ".join(map(repr, having)) + " only")
        result = m.expression("risk", finite_size=True)
    elif quantity == "risk":
        result = formulas.risk(method, form=form, source=source, L=L)
    elif quantity == "transferability":
        result = formulas.transferability(method, form=form, source=source, L=L)
    else:
        result = formulas.phase_boundary(method, form=form, source=source, L=L)
    if depth is not None:
        result = result.subs(BY_NAME["depth"], L)
    subs = {BY_NAME[k]: parse_number(v, k) for k, v in values.items() if v is not None}
    return result.subs(subs) if subs else result


from .checker import CheckResult, check, evaluate  # noqa: E402,F401  (re-exported)
