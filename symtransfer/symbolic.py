"""Symbolic access: the shipped expressions, and checking a user's derivation against them.

Imports sympy; :mod:`symtransfer` loads this module only when :func:`expr` or :func:`check`
is called.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from . import formulas
from . import validation as V
from .symbols import BY_NAME, NAMES

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
    V.choice("method", method, V.METHODS)
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
        builders = {"scratch": formulas.scratch_finite, "linear": formulas.linear_finite}
        if method not in builders or quantity != "risk":
            raise ValueError("finite-size expressions exist for the risk of 'scratch' and "
                             "'linear' only")
        result = builders[method]()
    elif quantity == "risk":
        result = formulas.risk(method, form=form, source=source, L=L)
    elif quantity == "transferability":
        result = formulas.transferability(method, form=form, source=source, L=L)
    else:
        result = formulas.phase_boundary(method, form=form, source=source, L=L)
    if depth is not None:
        result = result.subs(BY_NAME["depth"], L)
    subs = {BY_NAME[k]: sp.sympify(v) for k, v in values.items() if v is not None}
    return result.subs(subs) if subs else result


def _symbolic_zero(diff: sp.Expr) -> bool:
    """Cheap symbolic zero test; full simplify only on small expressions (it can take minutes
    on radical forms), leaving the rest to high-precision sampling."""
    if diff == 0:
        return True
    if diff.has(sp.Piecewise) or diff.has(formulas.PositiveRoot):
        return False
    if sp.cancel(sp.expand(diff)) == 0:
        return True
    return sp.count_ops(diff) < 120 and sp.simplify(diff) == 0


def _parse(item: Any, what: str, **kwargs: Any) -> sp.Expr:
    if isinstance(item, str):
        if item in V.METHODS:
            return expr(item, **kwargs)
        text = re.sub(r"\blambda\b", "lam", item)  # a Python keyword: sympify cannot parse it
        try:
            return sp.sympify(text, locals=NAMES)
        except (sp.SympifyError, SyntaxError, TypeError) as error:
            raise ValueError(f"{what} could not be parsed: {item!r} ({error})") from None
    if isinstance(item, sp.Basic):
        return item
    try:
        return sp.sympify(item)
    except sp.SympifyError:
        raise TypeError(f"{what} must be a sympy expression, a string, or a method name, "
                        f"got {type(item).__name__}") from None


@dataclass
class CheckResult:
    """Outcome of :func:`check`. Truthy when the expressions agree.

    ``how`` is 'symbolic' (the difference simplified to 0), 'numeric' (agreement at every
    sampled point to ``digits`` digits; strong evidence, not a proof) or 'counterexample'.
    On disagreement ``point`` holds the parameter values and the two values there.
    """

    equal: bool
    how: str
    points_tested: int = 0
    point: dict[str, Any] | None = None
    candidate_value: Any = None
    reference_value: Any = None
    difference: sp.Expr | None = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return self.equal

    def __str__(self) -> str:
        if self.equal:
            return f"equal ({self.how}, {self.points_tested} points)" if self.how == "numeric" \
                else "equal (symbolic)"
        return (f"NOT equal: at {self.point} candidate = {self.candidate_value}, "
                f"reference = {self.reference_value}")


_DEFAULT_DOMAIN = {
    "gamma": (0.05, 3.0), "gamma_s": (0.05, 3.0), "theta": (0.0, 3.14159),
    "sigma": (0.0, 1.5), "sigma_s": (0.0, 1.5), "lambda": (0.0, 3.0),
}


def _sample(symbol: sp.Symbol, rng: random.Random, domain: dict) -> sp.Rational:
    if symbol in domain:
        lo, hi = domain[symbol]
    elif symbol.name in domain:
        lo, hi = domain[symbol.name]
    elif symbol.name == "L":
        return sp.Integer(rng.randint(2, 6))
    elif symbol.name == "d":
        return sp.Integer(rng.randint(20, 400))
    else:
        lo, hi = _DEFAULT_DOMAIN.get(symbol.name, (0.1, 2.0))
    while True:
        x = sp.Rational(round(rng.uniform(float(lo), float(hi)) * 10 ** 6), 10 ** 6)
        # stay off the interpolation thresholds, where the risks diverge
        if symbol.name not in ("gamma", "gamma_s") or abs(x - 1) > sp.Rational(1, 50):
            return x


def _numeric(value: sp.Expr):
    return value if value.is_real and value.is_finite else None


def check(candidate: Any, reference: Any, *, samples: int = 24, digits: int = 50,
          domain: dict | None = None, seed: int = 0, **reference_options: Any) -> CheckResult:
    """Does ``candidate`` equal ``reference``?

    Either may be a sympy expression or a string in the API's names (``"gamma"``, ``"theta"``,
    ``"sigma"``, ``"lam"``/``"lambda"``, ``"gamma_s"``, ``"sigma_s"``, ``"L"``); ``reference``
    may also be a method name, with :func:`expr` options (``form``, ``depth``, ``source``,
    ``quantity``) as keywords. The difference is first simplified symbolically; if that does
    not give 0, both are evaluated at ``samples`` random points of the parameter domain
    (``domain`` maps names or symbols to (lo, hi)) at ``digits`` significant digits.
    """
    cand = _parse(candidate, "candidate")
    ref = _parse(reference, "reference", **reference_options)
    diff = sp.piecewise_fold(cand - ref)
    if _symbolic_zero(diff):
        return CheckResult(True, "symbolic", difference=sp.Integer(0))
    rng = random.Random(seed)
    symbols = sorted(cand.free_symbols | ref.free_symbols, key=lambda s: s.name)
    domain = domain or {}
    tested = 0
    for _ in range(samples):
        point = {s: _sample(s, rng, domain) for s in symbols}
        a = _numeric(cand.xreplace(point).evalf(digits))
        b = _numeric(ref.xreplace(point).evalf(digits))
        if a is None and b is None:
            continue
        tested += 1
        if a is None or b is None or abs(a - b) > sp.Float(10) ** (10 - digits) * max(1, abs(a), abs(b)):
            return CheckResult(False, "counterexample", tested,
                               {s.name: p for s, p in point.items()}, a, b, diff)
    if tested == 0:
        raise ValueError("neither expression evaluates to a real number anywhere in the domain; "
                         "give a domain")
    return CheckResult(True, "numeric", tested, difference=diff)
