"""Risks with an input covariance Sigma (symtransfer.anisotropic), from deterministic
equivalents.

Primitives (deterministic equivalents of min-norm / ridge regression on n = gamma d samples
of x ~ N(0, Sigma), generic unit teachers; confirmed on random matrices in
``tests/test_spectra.py``): kappa solves ``lam = kappa (1 - E[l/(l+kappa)]/gamma)``; with
``a = E[l^2/(l+kappa)^2]/gamma``,

* bias ``E[(P_perp beta)^T Sigma (P_perp beta)] -> kappa^2 E[l/(l+kappa)^2]/(1-a)``,
* variance ``sigma^2 tr(Sigma X^+ X^+^T) -> sigma^2 a/(1-a)``,
* ``|P beta|^2 -> gamma`` and ``|X^+ eps|^2 -> sigma^2/kappa``.

Gradient-flow facts used unchanged from the isotropic case (they hold for any design
matrix, see :mod:`.primitives`): P_perp W_1 is frozen and balanced rank-1 weights stay so,
so fine-tuning ends at ``X^+ y + c P_perp beta_s`` with ``q^L = |X^+ y|^2 + |P_perp beta_s|^2
q^(L-1)``, ``c = q^((L-1)/2)``.

Checks: (1) a one-atom spectrum reproduces every shipped isotropic expression (scratch and
its ridge version, linear/ridge transfer, both fine-tuning forms, any depth); (2) the
two-atom closed form of kappa solves the fixed point; (3) the shipped numeric functions of
symtransfer.anisotropic equal these derived expressions at sampled points of three spectra.
"""
from __future__ import annotations

import math
import random

import sympy as sp

from symtransfer import formulas
from symtransfer.symbols import depth, gamma, lam, sigma, theta

from . import Result, holds, same

l0, l1, l2, w1, k = sp.symbols("l0 l1 l2 w1 kappa", positive=True)


def fixed_point(eigs, weights, kappa, lam_=0):
    """lam - kappa (1 - E[l/(l+kappa)]/gamma): zero at the self-consistent kappa."""
    df1 = sum(w * e / (e + kappa) for e, w in zip(eigs, weights))
    return lam_ - kappa * (1 - df1 / gamma)


def parts(eigs, weights, kappa):
    """(B1, variance per unit noise, |X^+ y|^2 without the noise factor) for a spectrum."""
    a = sum(w * e ** 2 / (e + kappa) ** 2 for e, w in zip(eigs, weights)) / gamma
    b1 = kappa ** 2 * sum(w * e / (e + kappa) ** 2 for e, w in zip(eigs, weights)) / (1 - a)
    return b1, a / (1 - a)


def one_atom_kappa() -> sp.Expr:
    """Solve the ridgeless fixed point for one atom l0: kappa = l0 (1-gamma)/gamma."""
    sols = [s for s in sp.solve(sp.Eq(l0 / (l0 + k), gamma), k)]
    return sp.simplify(sols[0])


def one_atom_risks() -> dict[str, sp.Expr]:
    """The anisotropic risks for Sigma = l0 I, below gamma = 1 (ridgeless)."""
    kap = one_atom_kappa()
    b1, var = (sp.simplify(p.subs(k, kap)) for p in parts([l0], [1], k))
    noise = sigma ** 2 * var
    c_exact = formulas.PositiveRoot(depth, 1 - gamma, gamma + sigma ** 2 / kap) ** (
        (depth - 1) / sp.Integer(2))
    def ft(c):
        return noise + (c ** 2 - 2 * c * sp.cos(theta) + 1) * b1
    r = l0 / (l0 + lam)
    return {"kappa": kap, "bias": b1, "variance": var, "scratch": b1 + noise,
            "finetune_exact": ft(c_exact), "finetune_paper": ft(1),
            "linear": l0 * (1 - sp.cos(theta) ** 2 * r * (2 - r))}


def _below(expr: sp.Expr) -> sp.Expr:
    """The gamma < 1 branch of a shipped Piecewise."""
    return expr.args[0].expr if isinstance(expr, sp.Piecewise) else expr


def two_atom_closed_form() -> sp.Expr:
    """Positive root of gamma k^2 + (gamma (l1+l2) - m1) k - (1-gamma) l1 l2 (m1 = w1 l1 +
    (1-w1) l2), which clearing denominators of E[l/(l+k)] = gamma gives."""
    m1 = w1 * l1 + (1 - w1) * l2
    b = gamma * (l1 + l2) - m1
    return (-b + sp.sqrt(b ** 2 + 4 * gamma * (1 - gamma) * l1 * l2)) / (2 * gamma)


def _numeric_checks() -> list[Result]:
    """symtransfer.anisotropic (float64) vs the derived expressions evaluated at 30 digits."""
    from symtransfer import anisotropic as A
    from symtransfer import spectra

    out = []
    rng = random.Random(0)
    for spec in (spectra.Discrete([0.4, 1.6]), spectra.Discrete([0.2, 1.0, 4.0], [0.5, 0.3, 0.2]),
                 spectra.PowerLaw(1.0, atoms=20)):
        eigs = [sp.Float(float(v), 30) for v in spec.eigenvalues]
        weights = [sp.Float(float(v), 30) for v in spec.weights]
        worst = 0.0
        for _ in range(6):
            g = rng.uniform(0.05, 0.95)
            th, s = rng.uniform(0, math.pi), rng.uniform(0, 1.5)
            kap = sp.nsolve(fixed_point(eigs, weights, k).subs(gamma, g) / k, k,
                            float(spec.kappa(g)), prec=30)
            b1, var = (p.subs({k: kap, gamma: g}) for p in parts(eigs, weights, k))
            q = formulas.PositiveRoot(2, 1 - g, g + s ** 2 / kap).evalf(30)
            derived = s ** 2 * var + (q - 2 * sp.sqrt(q) * math.cos(th) + 1) * b1
            shipped = A.finetune(spec, gamma=g, theta=th, sigma=s, depth=2)
            worst = max(worst, abs(float(derived) - shipped) / max(abs(shipped), 1e-300))
        out.append(holds(f"spectra: anisotropic.finetune ({spec.eigenvalues.size} atoms) = "
                         f"derived at 30 digits (max rel err {worst:.1e})", worst < 1e-12,
                         how="numeric@30 digits"))
    return out


def checks() -> list[Result]:
    """One-atom reductions to the shipped isotropic expressions; two-atom closed form;
    the shipped numeric functions vs the derived expressions."""
    e = one_atom_risks()
    iso = {key: value.subs(l0, 1) for key, value in e.items()}
    below = {gamma: lambda rng, i: sp.Rational(rng.randint(20, 980), 1000),
             l0: lambda rng, i: sp.Rational(rng.randint(100, 5000), 1000)}
    results = [
        same(e["kappa"], l0 * (1 - gamma) / gamma, "spectra: one atom, kappa = l0 (1-gamma)/gamma",
             domain=below),
        same(iso["scratch"], _below(formulas.scratch()),
             "spectra: one atom at 1, scratch = shipped scratch (gamma < 1)"),
        same(sp.simplify(e["scratch"] / l0).subs(sigma, sigma * sp.sqrt(l0)),
             _below(formulas.scratch()),
             "spectra: Sigma = l0 I scales the risk by l0 (noise in units of l0)", domain=below),
        same(iso["finetune_exact"], _below(formulas.finetune("exact", "population")),
             "spectra: one atom at 1, fine-tuning exact form = shipped (any depth)",
             domain=below),
        same(iso["finetune_paper"], _below(formulas.finetune("paper", "population")),
             "spectra: one atom at 1, fine-tuning paper form = shipped"),
        same(iso["linear"], formulas.linear("population").subs(depth, 2),
             "spectra: one atom at 1, linear/ridge transfer = shipped"),
    ]
    # ridge scratch with one atom at 1: kappa from the quadratic lam = kappa (1 - 1/(1+kappa)/gamma)
    kr = [s for s in sp.solve(fixed_point([1], [1], k, lam), k)]
    risks = []
    for root in kr:
        b1, var = (p.subs(k, root) for p in parts([1], [1], k))
        risks.append(b1 + sigma ** 2 * var)
    results.append(same(risks[-1], formulas.ridge_scratch(),
                        "spectra: one atom at 1, ridge scratch = shipped ridge_scratch()",
                        domain={lam: lambda rng, i: sp.Rational(rng.randint(1, 3000), 1000)}))
    kap2 = two_atom_closed_form()
    residual = fixed_point([l1, l2], [w1, 1 - w1], kap2)
    results.append(same(residual, sp.Integer(0),
                        "spectra: the two-atom closed form solves the fixed point",
                        domain={l1: lambda rng, i: sp.Rational(rng.randint(1, 999), 1000),
                                l2: lambda rng, i: sp.Rational(rng.randint(1001, 5000), 1000),
                                w1: lambda rng, i: sp.Rational(rng.randint(1, 999), 1000),
                                gamma: lambda rng, i: sp.Rational(rng.randint(20, 980), 1000)}))
    return results + _numeric_checks()
