"""Ridge regression on the target data: the optimally regularized scratch baseline.

Primitive (Marchenko-Pastur). The spectrum of ``X^T X/n`` (X n x d Gaussian, psi = d/n =
1/gamma) tends to the Marchenko-Pastur law mu, whose Stieltjes transform
``m(z) = int dmu(x)/(x - z)`` is the root of ``psi z m^2 + (z - 1 + psi) m + 1 = 0`` with
``m(z) ~ -1/z`` at infinity (it carries the atom of mass 1 - gamma at 0 when gamma < 1).
Checked here against quadrature of the density at 30 digits.

Derivation. ``beta_hat = (S + lam)^{-1} X^T y/n`` with ``S = X^T X/n`` gives
``beta_hat - beta = -lam (S + lam)^{-1} beta + (S + lam)^{-1} X^T eps/n``; the cross term has
mean 0, so with |beta| = 1 and rotation invariance
``R = lam^2 int dmu/(x + lam)^2 + sigma^2 psi int x dmu/(x + lam)^2
    = lam^2 m'(-lam) + sigma^2 psi (m(-lam) - lam m'(-lam))``
(``x/(x+lam)^2 = 1/(x+lam) - lam/(x+lam)^2``). Differentiating in lam with
``d m(-lam)/dlam = -m'``, ``d m'(-lam)/dlam = -m''``:
``dR/dlam = (lam - sigma^2 psi)(2 m' - lam m'')`` and ``2 m' - lam m'' = 2 int x/(x+lam)^3 > 0``,
so ``lam* = sigma^2 psi = sigma^2/gamma`` is the unique minimizer and
``R* = R(lam*) = lam* m(-lam*)``.
"""
from __future__ import annotations

import mpmath
import sympy as sp

from symtransfer import formulas
from symtransfer.symbols import gamma, lam, sigma

from . import Result, holds, rational, same

z, M0, M1, M2 = sp.symbols("z M0 M1 M2")
PSI = 1 / gamma
RIDGE_DOMAIN = {lam: lambda rng, i: rational(rng, 0.001, 3)}


def stieltjes() -> sp.Expr:
    """The root of the Marchenko-Pastur quadratic that is positive at z = -lam < 0."""
    m = sp.Symbol("m")
    roots = sp.solve(PSI * z * m ** 2 + (z - 1 + PSI) * m + 1, m)
    probe = {z: -sp.Rational(1, 3), gamma: sp.Rational(1, 2)}
    positive = [r for r in roots if sp.N(r.subs(probe)) > 0]
    if len(positive) != 1:
        raise ArithmeticError("could not single out the Stieltjes branch")
    return positive[0]


def risk_in_moments() -> sp.Expr:
    """R in terms of M0 = m(-lam), M1 = m'(-lam)."""
    x = sp.Symbol("x", positive=True)
    split = sp.apart(x / (x + lam) ** 2, x)
    assert sp.simplify(split - (1 / (x + lam) - lam / (x + lam) ** 2)) == 0
    return lam ** 2 * M1 + sigma ** 2 * PSI * (M0 - lam * M1)


def derive() -> dict[str, sp.Expr]:
    m = stieltjes()
    m_at = m.subs(z, -lam)
    dm_at = sp.diff(m, z).subs(z, -lam)
    R = risk_in_moments()
    slope = (sp.diff(R, lam) + sp.diff(R, M0) * (-M1) + sp.diff(R, M1) * (-M2))
    # the factor of dR/dlam free of the (positive) moment combination 2 m' - lam m''
    stationary = [f for f in sp.Mul.make_args(sp.factor(slope))
                  if f.has(lam) and not f.has(M1, M2)]
    star = sp.solve(stationary[0], lam)[0]
    return {
        "m": m,
        "risk": R.subs({M0: m_at, M1: dm_at}),
        "slope": slope,
        "lam_star": star,
        "risk_star": (lam * m_at).subs(lam, star),
    }


def marchenko_pastur_check(points=((0.5, 0.4), (2.0, 0.7), (1.0, 0.25))) -> Result:
    """m(-lam) from the quadratic vs int dmu/(x + lam) by quadrature (atom included)."""
    m = stieltjes()
    worst = mpmath.mpf(0)
    with mpmath.workdps(30):
        for g, l in points:
            psi = 1 / mpmath.mpf(g)
            a, b = (1 - mpmath.sqrt(psi)) ** 2, (1 + mpmath.sqrt(psi)) ** 2
            dens = lambda x: mpmath.sqrt((b - x) * (x - a)) / (2 * mpmath.pi * psi * x)  # noqa
            quad = mpmath.quad(lambda x: dens(x) / (x + l), [a, b]) + max(0, 1 - 1 / psi) / l
            closed = mpmath.mpf(sp.N(m.subs({z: -sp.nsimplify(l), gamma: sp.nsimplify(g)}), 40))
            worst = max(worst, abs(quad - closed) / abs(closed))
    return holds("ridge: Stieltjes root vs Marchenko-Pastur quadrature", worst < 1e-12,
                 f"max relative difference {mpmath.nstr(worst, 3)} (quadrature, 30 digits)",
                 how="numeric quadrature@30 digits")


def checks() -> list[Result]:
    e = derive()
    factored = (lam - sigma ** 2 * PSI) * (2 * M1 - lam * M2)
    results = [
        marchenko_pastur_check(),
        holds("ridge: dR/dlam = (lam - sigma^2/gamma)(2 m' - lam m'')",
              sp.expand(e["slope"] - factored) == 0, f"dR/dlam = {sp.factor(e['slope'])}"),
        same(e["lam_star"], formulas.optimal_ridge_penalty(), "ridge: lam* vs shipped",
             domain=RIDGE_DOMAIN),
        holds("ridge: R(lam*) = lam* m(-lam*)",
              sp.expand(risk_in_moments().subs(lam, e["lam_star"])
                        - (e["lam_star"] * M0)) == 0),
        same(e["risk"], formulas.ridge_scratch(), "ridge: risk vs ridge_scratch()",
             domain=RIDGE_DOMAIN),
        same(e["risk_star"], formulas.optimal_ridge(), "ridge: optimal risk vs optimal_ridge()"),
        same(e["risk"].subs(lam, sp.Rational(1, 10 ** 60)), formulas.scratch(),
             "ridge: lam -> 0 is the ridgeless scratch risk"),
    ]
    return results
