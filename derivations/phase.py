"""Transferability T = R_scratch - R_method and the phase boundaries T = 0.

T is built from the derived risks (:mod:`.scratch`, :mod:`.linear`, :mod:`.finetune`).  For the
boundary, cos(theta) -> C in each region of the Piecewise (gamma < 1 or not, gamma_s < 1 or
not) and sympy.solve gives C:

* linear/ridge: T depends on C only through C^2: two roots +-r, the boundary is
  theta* = acos(sqrt(r^2)) (T > 0 for theta < theta* and theta > pi - theta*);
* fine-tuning, gamma < 1: T is linear in C, one root; gamma > 1: T = 0 identically, no boundary
  (NaN, as shipped).
"""
from __future__ import annotations

import sympy as sp

from symtransfer import formulas
from symtransfer.symbols import depth, gamma, gamma_s, lam, sigma, sigma_s, theta

from . import Result, holds, is_zero, same
from . import finetune, linear, scratch

C = sp.Symbol("C", real=True)
#: (region condition, truth values of the relational atoms) in Piecewise order.
REGIONS = {
    "population": [(gamma < 1, {gamma < 1: sp.true}), (sp.true, {gamma < 1: sp.false})],
    "finite": [((gamma < 1) & (gamma_s < 1), {gamma < 1: sp.true, gamma_s < 1: sp.true}),
               (gamma < 1, {gamma < 1: sp.true, gamma_s < 1: sp.false}),
               (gamma_s < 1, {gamma < 1: sp.false, gamma_s < 1: sp.true}),
               (sp.true, {gamma < 1: sp.false, gamma_s < 1: sp.false})],
}
REGIONS["penalized"] = REGIONS["population"]  # b = 1 - mu (mu < 1) has no branch of its own


def method_risk(method: str, form: str = "exact", source: str = "population", L=depth) -> sp.Expr:
    """The derived risk of a method."""
    if method == "scratch":
        return scratch.derive()["asymptotic"]
    if method == "linear":
        return linear.risk(source)
    return finetune.risk(source, L, form=form)


def transferability(method: str, form: str = "exact", source: str = "population",
                    L=depth) -> sp.Expr:
    """T = R_scratch - R_method, folded."""
    return sp.piecewise_fold(scratch.derive()["asymptotic"] - method_risk(method, form, source, L))


def solve_in_cos(t: sp.Expr) -> list[sp.Expr]:
    """Roots C of T = 0 after cos(theta) -> C.

    C-free radicals, powers and PositiveRoots are replaced by placeholder symbols, so T is a
    rational function of C; cancelled to p(C)/q(C) with no common factor, its zeros are the
    roots of the polynomial p (degree 1 or 2 here), found by sympy.roots. The placeholders
    are put back afterwards.
    """
    expr = t.xreplace({sp.cos(theta): C})
    heavy = {sub for sub in sp.preorder_traversal(expr)
             if C not in sub.free_symbols and (isinstance(sub, formulas.PositiveRoot)
                                               or (sub.is_Pow and not sub.exp.is_Integer))}
    placeholders = {sub: sp.Dummy("h", positive=True) for sub in heavy}
    numerator, _ = sp.fraction(sp.cancel(sp.together(expr.xreplace(placeholders))))
    poly = sp.Poly(numerator, C)
    if poly.degree() not in (1, 2):
        raise ValueError(f"T is not linear or quadratic in cos(theta): degree {poly.degree()}")
    roots = sp.roots(poly, multiple=True)
    if len(roots) != poly.degree():
        raise ValueError(f"sympy.roots found {len(roots)} of {poly.degree()} roots")
    back = {v: k for k, v in placeholders.items()}
    return [r.xreplace(back) for r in roots]


def linear_boundary_branch(t: sp.Expr) -> sp.Expr:
    """theta* from T(C) = 0 with T even in C."""
    roots = solve_in_cos(t)
    if len(roots) != 2 or not is_zero(roots[0] + roots[1]):
        raise ValueError(f"expected roots +-r, got {roots}")
    return sp.acos(sp.sqrt(sp.cancel(sp.together(roots[0] ** 2))))


def finetune_boundary_branch(t: sp.Expr) -> sp.Expr:
    """theta* from T(C) = 0, T linear in C; NaN where T vanishes identically."""
    if sp.cancel(sp.together(t)) == 0:
        return sp.nan
    (root,) = solve_in_cos(t)
    return sp.acos(sp.powsimp(root))


def boundary(method: str, form: str = "exact", source: str = "population", L=depth) -> sp.Expr:
    """Derived phase boundary theta*, region by region."""
    t = transferability(method, form, source, L)
    branch = linear_boundary_branch if method == "linear" else finetune_boundary_branch
    pieces = [(branch(t.xreplace(values)), cond) for cond, values in REGIONS[source]]
    return sp.Piecewise(*pieces)


def derive() -> dict[str, sp.Expr]:
    """T and theta* for every method/form/source (symbolic L)."""
    out: dict[str, sp.Expr] = {"T_scratch": transferability("scratch")}
    for source in formulas.SOURCES:
        out[f"T_linear_{source}"] = transferability("linear", source=source)
        out[f"theta*_linear_{source}"] = boundary("linear", source=source)
        for form in formulas.FORMS:
            out[f"T_finetune_{form}_{source}"] = transferability("finetune", form, source)
            out[f"theta*_finetune_{form}_{source}"] = boundary("finetune", form, source)
    return out


def _paper_statements() -> list[Result]:
    """The paper's fine-tuning transferability as the paper states it (docs/theory.md)."""
    cos = sp.cos(theta)
    population = sp.Piecewise(((1 - gamma) * (2 * cos - 1), gamma < 1), (0, True))
    finite = sp.Piecewise(
        (-(1 - gamma) * (gamma_s * (1 - 2 * cos) + sigma_s ** 2 * gamma_s / (1 - gamma_s)),
         (gamma < 1) & (gamma_s < 1)),
        (-(1 - gamma) * ((1 - 2 * cos) + sigma_s ** 2 / (gamma_s - 1)), gamma < 1),
        (0, True))
    return [
        same(population, formulas.transferability("finetune", form="paper"),
             "phase: paper T_ft = (1-gamma)(2 cos theta - 1) (population)"),
        same(finite, formulas.transferability("finetune", form="paper", source="finite"),
             "phase: paper T_ft, finite source, as the paper states it"),
    ]


def checks() -> list[Result]:
    """Derived T and theta* vs formulas.transferability / phase_boundary; special values."""
    e = derive()
    out = [same(e["T_scratch"], formulas.transferability("scratch"), "phase: T_scratch = 0")]
    for source in formulas.SOURCES:
        out.append(same(e[f"T_linear_{source}"], formulas.transferability("linear", source=source),
                        f"phase: T linear, {source} vs transferability"))
        out.append(same(e[f"theta*_linear_{source}"],
                        formulas.phase_boundary("linear", source=source),
                        f"phase: theta* linear, {source} vs phase_boundary"))
        for form in formulas.FORMS:
            out.append(same(e[f"T_finetune_{form}_{source}"],
                            formulas.transferability("finetune", form=form, source=source),
                            f"phase: T finetune {form}, {source} vs transferability"))
            out.append(same(e[f"theta*_finetune_{form}_{source}"],
                            formulas.phase_boundary("finetune", form=form, source=source),
                            f"phase: theta* finetune {form}, {source} vs phase_boundary"))
    out += _paper_statements()
    below = {gamma < 1: sp.true}
    paper = formulas.phase_boundary("finetune", form="paper", source="population").xreplace(below)
    derived_paper = e["theta*_finetune_paper_population"].xreplace(below)
    out.append(holds("phase: paper fine-tuning boundary is theta = pi/3 exactly (gamma < 1)",
                     paper == sp.pi / 3 and derived_paper == sp.pi / 3, f"shipped {paper}"))
    clean = {sigma: 0, lam: 0}
    lin = formulas.phase_boundary("linear", source="population").subs(clean).xreplace(below)
    derived_lin = e["theta*_linear_population"].subs(clean).xreplace(below)
    out.append(holds("phase: linear boundary, sigma=lam=0, population: sin^2(theta*) = 1 - gamma",
                     is_zero(sp.sin(lin) ** 2 - (1 - gamma))
                     and is_zero(sp.sin(derived_lin) ** 2 - (1 - gamma)), f"theta* = {lin}"))
    return out
