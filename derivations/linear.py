"""Linear and ridge transfer: refit the readout W_L on the frozen pretrained features.

Pretrained features (balanced rank-1, primitives d): W_1...W_{L-1} = a u v^T with
u = beta_hat_s/|beta_hat_s|, v a unit vector and a = |beta_hat_s|^((L-1)/L) (each of the L-1 layers
has singular value |beta_hat_s|^(1/L)).  The hidden features h(x) = a v (u.x) carry one scalar
z = a u.x; the readout is w = v.W_L (the penalty kills the part of W_L orthogonal to v).

Ridge on the mean-squared loss (penalty n lam |W_L|^2 on the summed loss), population moments
E z^2 = a^2, E z y = a u.beta_t (the label noise is independent of x):
  w = a rho/(a^2 + lam),  rho = u.beta_t = O_s/sqrt(N_s),  beta_hat = a w u,
  R = |beta_hat - beta_t|^2 = 1 - rho^2 a^2 (a^2 + 2 lam)/(a^2 + lam)^2     (|u| = |beta_t| = 1).

Finite n (population source, lam = 0): OLS on z_i = beta_s.x_i, y_i = cos(theta) z_i + r_i with
r_i = sin(theta) e.x_i + eps_i independent of z_i, Var r = sin^2 + sigma^2.  Then
c_hat - cos(theta) = sum z_i r_i / sum z_i^2, E[(c_hat - cos)^2 | z] = Var r / sum z_i^2, and
sum z_i^2 ~ chi^2_n, so E R = sin^2 + (sin^2 + sigma^2) E[1/chi^2_n]   (primitive c).
"""
from __future__ import annotations

import sympy as sp

from symtransfer import formulas
from symtransfer.symbols import d, depth, gamma, gamma_s, lam, n, sigma, sigma_s, theta

from . import Result, holds, is_zero, same
from .primitives import inverse_chi2_mean
from .source import statistics

rho, w = sp.symbols("rho w", real=True)
a = sp.Symbol("a", positive=True)


def ridge_readout() -> sp.Expr:
    """Solve d/dw [E(w z - y)^2 + lam w^2] = 0 with E z^2 = a^2, E z y = a rho."""
    ezz, ezy, eyy = a ** 2, a * rho, sp.Symbol("Eyy")
    objective = w ** 2 * ezz - 2 * w * ezy + eyy + lam * w ** 2
    (sol,) = sp.solve(sp.diff(objective, w), w)
    return sol


def ridge_risk_generic() -> sp.Expr:
    """|a w u - beta_t|^2 expanded with |u| = |beta_t| = 1, u.beta_t = rho."""
    coef = a * ridge_readout()  # beta_hat = coef * u
    return sp.expand(coef ** 2 * 1 - 2 * coef * rho + 1)


def stated_generic() -> sp.Expr:
    """R = 1 - rho^2 a^2 (a^2 + 2 lam)/(a^2 + lam)^2."""
    return 1 - rho ** 2 * a ** 2 * (a ** 2 + 2 * lam) / (a ** 2 + lam) ** 2


def risk(source: str) -> sp.Expr:
    """Substitute the source statistics: rho = O_s/sqrt(N_s), a^2 = N_s^((L-1)/L)."""
    norm2, overlap = statistics(source)
    generic = stated_generic()
    a2 = sp.Symbol("a2", positive=True)
    generic = generic.xreplace({a: sp.sqrt(a2)})  # a enters through a^2 only
    return sp.piecewise_fold(generic.xreplace({rho: overlap / sp.sqrt(norm2),
                                               a2: norm2 ** ((depth - 1) / depth)}))


def finite_risk() -> sp.Expr:
    """E R of ridgeless linear transfer at finite n = gamma d (population source)."""
    variance = sp.sin(theta) ** 2 + sigma ** 2
    return (sp.sin(theta) ** 2 + variance * inverse_chi2_mean(n)).subs(n, gamma * d)


def ols_identities(samples: int = 3) -> bool:
    """c_hat - cos = sum z r / sum z^2 and E[(sum z r)^2 | z] = Var(r) sum z^2 (small n, symbolic)."""
    z = sp.symbols(f"z0:{samples}", real=True)
    r = sp.symbols(f"r0:{samples}", real=True)
    v, cos = sp.symbols("v cos")
    y = [cos * zi + ri for zi, ri in zip(z, r)]
    szz = sum(zi ** 2 for zi in z)
    c_hat = sum(zi * yi for zi, yi in zip(z, y)) / szz
    first = sp.cancel(c_hat - cos - sum(zi * ri for zi, ri in zip(z, r)) / szz) == 0
    square = sp.Poly(sp.expand(sum(zi * ri for zi, ri in zip(z, r)) ** 2), *r)
    # E[r_i r_j] = v delta_ij (independent, mean zero): keep only r_i^2 monomials
    expectation = sum(coeff * v for monom, coeff in square.terms() if sorted(monom)[-1] == 2)
    second = sp.expand(expectation - v * szz) == 0
    return first and second


def derive() -> dict[str, sp.Expr]:
    """Readout, generic risk, risks for each source and at finite n."""
    return {
        "readout": ridge_readout(),
        "risk_generic": ridge_risk_generic(),
        "population": risk("population"),
        "finite": risk("finite"),
        "finite_n": finite_risk(),
    }


def _depth_enters_with_ridge_only() -> Result:
    """Finite source: R is free of L at lam = 0 (symbolic) but not at lam > 0 (numbers)."""
    shipped = formulas.linear("finite")
    free_at_zero = depth not in sp.piecewise_fold(shipped.subs(lam, 0)).free_symbols
    point = {gamma_s: sp.Rational(1, 2), sigma_s: 0, theta: sp.pi / 4, lam: 1}
    r2, r3 = (sp.N(shipped.subs(point).subs(depth, L), 15) for L in (2, 3))
    return holds("linear: finite source, depth L enters only when lam > 0", free_at_zero and r2 != r3,
                 f"lam=0: L-free; lam=1, gamma_s=0.5, theta=pi/4: R(L=2)={r2:.6f}, R(L=3)={r3:.6f}")


def checks() -> list[Result]:
    """Derived linear/ridge risks vs formulas.linear / linear_finite and the paper's forms."""
    e = derive()
    pop = e["population"]
    out = [
        holds("linear: readout w = a rho/(a^2 + lam) (solve normal equation)",
              is_zero(e["readout"] - a * rho / (a ** 2 + lam)), f"w = {e['readout']}"),
        holds("linear: |beta_hat - beta_t|^2 = 1 - rho^2 a^2(a^2+2lam)/(a^2+lam)^2",
              is_zero(e["risk_generic"] - stated_generic())),
        same(pop, formulas.linear("population"), "linear: population source vs linear('population')"),
        same(e["finite"], formulas.linear("finite"), "linear: finite source vs linear('finite')"),
        same(pop.subs(lam, 0), sp.sin(theta) ** 2, "linear: paper form, population lam=0 = sin^2(theta)"),
        same(pop, 1 - sp.cos(theta) ** 2 * (1 + 2 * lam) / (1 + lam) ** 2,
             "linear: paper form, population ridge 1 - cos^2 (1+2lam)/(1+lam)^2"),
        _depth_enters_with_ridge_only(),
        holds("linear: OLS error identity and E[(sum z r)^2|z] = Var(r) sum z^2 (n=3)",
              ols_identities()),
        same(e["finite_n"], formulas.linear_finite(), "linear: finite-n E R vs linear_finite()"),
    ]
    return out
