"""Stated properties of the shipped risks, shown symbolically.

* Ridge transfer risk increases with lam: dR/dlam = 2 rho^2 a^2 lam/(a^2 + lam)^3 >= 0.
* Every risk is >= 0:
  - scratch: each branch is a sum of nonnegative terms (gamma = 1/(1+t) below 1, 1+t above, t > 0);
  - ridge: R = (1 - rho^2) + rho^2 lam^2/(a^2 + lam)^2 since (a^2+lam)^2 - a^2(a^2+2lam) = lam^2,
    and rho^2 = O_s^2/N_s <= 1 (Cauchy-Schwarz; N_s - O_s^2 >= 0 in every source branch);
  - fine-tuning: c^2 N_s - 2 c O_s + 1 has discriminant 4(O_s^2 - N_s) <= 0 and N_s > 0.
* Linear-transfer T is decreasing in theta on [0, pi/2]:
  dT/dtheta = -2 sin(theta) cos(theta) k^2 S/N_s with k = O_s/cos(theta) and S = a^2(a^2+2lam)/(a^2+lam)^2.
"""
from __future__ import annotations

import sympy as sp

from symtransfer import formulas
from symtransfer.symbols import depth, gamma, gamma_s, lam, mu, theta

from . import Result, holds, is_zero, same
from .linear import a, rho, stated_generic

t = sp.Symbol("t", positive=True)
s2 = sp.Symbol("sin2", nonnegative=True)  # sin(theta)^2
cpos = sp.Symbol("c", real=True)
Npos, kpos, a2pos = sp.symbols("N k a2", positive=True)

BELOW = {gamma < 1: sp.true}
ABOVE = {gamma < 1: sp.false}
SOURCE_BRANCHES = {
    "population": [({}, {})],
    "finite": [({gamma_s < 1: sp.true}, {gamma_s: 1 / (1 + t)}),  # gamma_s in (0, 1)
               ({gamma_s < 1: sp.false}, {gamma_s: 1 + t})],      # gamma_s > 1
    "penalized": [({}, {mu: 1 / (1 + t)})],                    # mu in (0, 1)
}


def nonnegative(expr: sp.Expr) -> bool:
    """expr >= 0 shown from the symbols' assumptions (after together/factor if needed)."""
    for form in (expr, sp.together(expr), sp.factor(sp.together(expr))):
        if form.is_nonnegative:
            return True
    num, den = sp.fraction(sp.together(expr))
    return bool(sp.expand(num).is_nonnegative and den.is_positive)


def ridge_derivative() -> sp.Expr:
    """d/dlam of R = 1 - rho^2 a^2 (a^2 + 2 lam)/(a^2 + lam)^2."""
    return sp.diff(stated_generic(), lam)


def _shipped_ridge_derivative_checks() -> list[Result]:
    out = []
    for source in formulas.SOURCES:
        norm2, overlap = formulas.source_statistics(source)
        a2 = norm2 ** ((depth - 1) / depth)
        expected = 2 * overlap ** 2 / norm2 * a2 * lam / (a2 + lam) ** 3
        out.append(same(sp.diff(formulas.linear(source), lam), expected,
                        f"properties: d/dlam linear('{source}') = 2 rho^2 a^2 lam/(a^2+lam)^3"))
    return out


def scratch_nonnegative() -> bool:
    """Each branch of the shipped scratch risk is >= 0."""
    shipped = formulas.scratch()
    below = shipped.xreplace(BELOW).subs(gamma, 1 / (1 + t))
    above = shipped.xreplace(ABOVE).subs(gamma, 1 + t)
    return nonnegative(below) and nonnegative(above)


def cauchy_schwarz(source: str) -> bool:
    """N_s - O_s^2 >= 0 in every branch (cos^2 = 1 - sin^2)."""
    norm2, overlap = formulas.source_statistics(source)
    gap = norm2 - overlap ** 2
    for region, subs in SOURCE_BRANCHES[source]:
        branch = gap.xreplace(region).subs(subs).subs(sp.cos(theta) ** 2, 1 - s2)
        if not nonnegative(branch):
            return False
    return True


def ridge_decomposition() -> bool:
    """R = (1 - rho^2) + rho^2 lam^2/(a^2 + lam)^2, via (a^2+lam)^2 - a^2(a^2+2lam) = lam^2."""
    gap = sp.expand((a ** 2 + lam) ** 2 - a ** 2 * (a ** 2 + 2 * lam))
    decomposed = (1 - rho ** 2) + rho ** 2 * lam ** 2 / (a ** 2 + lam) ** 2
    return gap == lam ** 2 and is_zero(stated_generic() - decomposed) and nonnegative(
        rho ** 2 * lam ** 2 / (a ** 2 + lam) ** 2)


def finetune_quadratic() -> bool:
    """c^2 N - 2 c O + 1 = N (c - O/N)^2 + (N - O^2)/N; discriminant 4(O^2 - N)."""
    O = sp.Symbol("O", real=True)
    quad = cpos ** 2 * Npos - 2 * cpos * O + 1
    disc = sp.discriminant(quad, cpos)
    square = Npos * (cpos - O / Npos) ** 2 + (Npos - O ** 2) / Npos
    return is_zero(disc - 4 * (O ** 2 - Npos)) and is_zero(quad - square)


def linear_t_decreasing(source: str) -> bool:
    """dT/dtheta = -2 sin cos k^2 S/N_s per branch, and k^2 S/N_s > 0."""
    norm2, overlap = formulas.source_statistics(source)
    k = sp.piecewise_fold(overlap / sp.cos(theta))
    a2 = norm2 ** ((depth - 1) / depth)
    generic = kpos ** 2 * a2pos * (a2pos + 2 * lam) / ((a2pos + lam) ** 2 * Npos)
    factor = generic.xreplace({kpos: k, a2pos: a2, Npos: norm2})
    rate = sp.diff(formulas.transferability("linear", source=source), theta)
    claim = sp.piecewise_fold(rate + 2 * sp.sin(theta) * sp.cos(theta) * factor)
    for region in (BELOW, ABOVE):
        for src_region, _ in SOURCE_BRANCHES[source]:
            branch = claim.xreplace({**region, **src_region})
            if not is_zero(branch):
                return False
    return bool(generic.is_positive)


def derive() -> dict[str, sp.Expr]:
    """The ridge derivative and the fine-tuning discriminant."""
    O = sp.Symbol("O", real=True)
    return {"dR/dlam": sp.factor(ridge_derivative()),
            "discriminant": sp.discriminant(cpos ** 2 * Npos - 2 * cpos * O + 1, cpos)}


def checks() -> list[Result]:
    """Monotonicity and sign properties."""
    e = derive()
    expected = 2 * rho ** 2 * a ** 2 * lam / (a ** 2 + lam) ** 3
    out = [
        holds("properties: dR/dlam = 2 rho^2 a^2 lam/(a^2+lam)^3 >= 0",
              is_zero(e["dR/dlam"] - expected) and nonnegative(expected), f"dR/dlam = {e['dR/dlam']}"),
    ]
    out += _shipped_ridge_derivative_checks()
    out += [
        holds("properties: scratch risk >= 0 (each branch)", scratch_nonnegative()),
        holds("properties: ridge R = (1-rho^2) + rho^2 lam^2/(a^2+lam)^2", ridge_decomposition()),
    ]
    for source in formulas.SOURCES:
        out.append(holds(f"properties: O_s^2 <= N_s (rho^2 <= 1), {source} source",
                         cauchy_schwarz(source)))
    out.append(holds("properties: fine-tuning quadratic, discriminant 4(O^2 - N) <= 0",
                     finetune_quadratic() and all(cauchy_schwarz(s) for s in formulas.SOURCES),
                     f"discriminant = {e['discriminant']} <= 0 by O_s^2 <= N_s; "
                     "c^2 N - 2cO + 1 = N(c - O/N)^2 + (N - O^2)/N"))
    for source in formulas.SOURCES:
        out.append(holds(f"properties: linear T decreasing in theta on [0, pi/2], {source} source",
                         linear_t_decreasing(source), "dT/dtheta = -2 sin cos k^2 S/N_s"))
    return out
