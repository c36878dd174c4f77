"""Aligned teachers with an input covariance: the risks when the teachers' energy per
eigendirection follows a profile rho(lambda) (symtransfer.teachers.Aligned: rho = l^p/E[l^p]).

Primitives (deterministic equivalents for a *fixed* vector beta, independent of the target
data, with ``beta_i^2 -> rho_i/d`` in Sigma's eigenbasis; kappa, a as in :mod:`.spectra`):

* (F1) ``|P beta|^2 -> beta^T Sigma (Sigma + kappa)^-1 beta = E[rho l/(l+kappa)]``;
* (F2) with A = Sigma, ``P_perp Sigma P_perp -> kappa^2 Sigma (Sigma+kappa)^-2/(1-a)``, so
  ``|P_perp beta|^2_Sigma -> kappa^2 E[rho l/(l+kappa)^2]/(1-a)``;
* the noise terms do not involve the teachers: ``sigma^2 a/(1-a)``, ``|X^+ eps|^2 ->
  sigma^2/kappa``.

Source and target teacher share the profile and their overlap spreads with it
(``beta_s,i beta_t,i -> cos(theta) rho_i/d``), so ``c beta_s - beta_t`` has energy
``(c^2 - 2 c cos(theta) + 1) rho_i/d``. Derived (gamma < 1, population source):

* scratch: ``R = kappa^2 E[rho l/(l+kappa)^2]/(1-a) + sigma^2 a/(1-a)`` (ridge: kappa of ridge);
* linear/ridge transfer: ``R = m (1 - cos^2 r(2-r))``, ``m = E[rho l]``, ``r = m/(m+lam)``;
* fine-tuning: ``R = sigma^2 a/(1-a) + (c^2 - 2 c cos + 1) B1``, ``c = q^((L-1)/2)``, q the
  positive root of ``q^L - (1-g) q^(L-1) - (g + sigma^2/kappa)``, ``g = E[rho l/(l+kappa)]``.

Checks: for a two-atom spectrum with symbolic eigenvalues, weight and power p, (1) the shipped
formula functions (:mod:`symtransfer.anisotropic_source`, population source) run on sympy
atoms equal these expressions; (2) p = 0 gives the generic expressions of
:mod:`.spectra`; (3) one atom gives the isotropic shipped expressions for every p (rho = 1);
(4) the shipped float64 risks (``teacher=Aligned(p)``) equal the derived expressions at 30
digits, and the shipped mpmath path (``precision=40``) equals them to 1e-28.
"""
from __future__ import annotations

import math
import random

import numpy as np
import sympy as sp

from symtransfer import anisotropic_source as S
from symtransfer import formulas
from symtransfer.symbols import depth, gamma, lam, sigma, theta

from . import Result, holds, same
from .spectra import _below, parts
from .spectra_source import sympy_ops

l1, l2, w1, p, k = sp.symbols("l1 l2 w1 p kappa", positive=True)


def density(eigs, weights, power) -> list[sp.Expr]:
    """rho_k = l_k^p / E[l^p]."""
    norm = sum(w * e ** power for e, w in zip(eigs, weights))
    return [e ** power / norm for e in eigs]


def derived(eigs, weights, rho, kappa, L=depth) -> dict[str, sp.Expr]:
    """The aligned risks from the primitives (gamma < 1; ``kappa`` the target's kappa)."""
    E = lambda f: sum(w * r * f(e) for e, w, r in zip(eigs, weights, rho))  # noqa: E731
    a = sum(w * e ** 2 / (e + kappa) ** 2 for e, w in zip(eigs, weights)) / gamma
    b1 = kappa ** 2 * E(lambda e: e / (e + kappa) ** 2) / (1 - a)        # (F2)
    noise = sigma ** 2 * a / (1 - a)
    g = E(lambda e: e / (e + kappa))                                      # (F1)
    q = formulas.PositiveRoot(L, 1 - g, g + sigma ** 2 / kappa)
    c = q ** ((L - 1) / sp.Integer(2))
    m = E(lambda e: e)
    r = m / (m + lam)
    return {"scratch": b1 + noise, "linear": m * (1 - sp.cos(theta) ** 2 * r * (2 - r)),
            "finetune_exact": noise + (c ** 2 - 2 * c * sp.cos(theta) + 1) * b1,
            "finetune_paper": noise + (2 - 2 * sp.cos(theta)) * b1}


def shipped_on_sympy(eigs, weights, rho, kappa, L=depth) -> dict[str, sp.Expr]:
    """The shipped formula functions (population source) on sympy atoms."""
    lt = np.array(eigs, dtype=object)
    w = np.array(weights, dtype=object)
    rh = np.array(rho, dtype=object)
    ops = sympy_ops(w)
    Q, O1 = S.source_forms(ops, "population", lt, rh, None, None, None)
    tf = S.target_forms(ops, lt, rh, kappa, gamma, sigma)
    cos_t = sp.cos(theta)
    lp = S.linear_parts(ops, Q, O1, lt, rh, lam, L)
    out = {"linear": lp["m"] - cos_t ** 2 * lp["K"],
           "scratch": tf["noise"] + ops.E(rh * tf["D_b"])}
    for form in ("exact", "paper"):
        out[f"finetune_{form}"] = S.finetune_risk(S.finetune_parts(ops, Q, O1, tf, rh, L, form),
                                                  cos_t)
    return out


def _zero(expr) -> bool:
    return sp.cancel(sp.together(sp.expand_power_base(expr, force=True))) == 0


def _same_root_form(a: sp.Expr, b: sp.Expr) -> bool:
    """Equal expressions in one PositiveRoot each: the roots' arguments agree, and so do the
    expressions with the root replaced by a symbol (no simplification of the root itself)."""
    ra, rb = a.atoms(formulas.PositiveRoot), b.atoms(formulas.PositiveRoot)
    if len(ra) != 1 or len(rb) != 1:
        return False
    (x,), (y,) = ra, rb
    if x.args[0] != y.args[0] or not all(_zero(u - v) for u, v in zip(x.args[1:], y.args[1:])):
        return False
    z = sp.Symbol("q_root", positive=True)
    return _zero(a.xreplace({x: z}) - b.xreplace({y: z}))


def symbolic_checks() -> list[Result]:
    eigs, weights = [l1, l2], [w1, 1 - w1]
    rho = density(eigs, weights, p)
    d_, s_ = derived(eigs, weights, rho, k, L=2), shipped_on_sympy(eigs, weights, rho, k, L=2)
    out = []
    for key in ("scratch", "linear", "finetune_paper"):
        out.append(holds(f"spectra_aligned: {key}, two atoms, symbolic power p: shipped "
                         "formulas = derived", _zero(d_[key] - s_[key])))
    out.append(holds("spectra_aligned: finetune_exact, two atoms, symbolic p: shipped = "
                     "derived", _same_root_form(d_["finetune_exact"], s_["finetune_exact"])))
    # p = 0: the generic expressions of derivations.spectra
    generic = derived(eigs, weights, density(eigs, weights, 0), k, L=2)
    b1, var = parts(eigs, weights, k)
    ok = _zero(generic["scratch"] - (b1 + sigma ** 2 * var))
    out.append(holds("spectra_aligned: p = 0 gives the generic scratch risk (two atoms)", ok))
    return out


def one_atom_checks() -> list[Result]:
    """One atom at 1 with any power: rho = 1, the isotropic shipped risks."""
    kap = (1 - gamma) / gamma
    e = derived([sp.Integer(1)], [sp.Integer(1)], density([sp.Integer(1)], [1], p), kap)
    return [
        same(e["scratch"], _below(formulas.scratch()),
             "spectra_aligned: one atom, any p, scratch = shipped isotropic"),
        same(e["linear"], formulas.linear("population").subs(depth, 2),
             "spectra_aligned: one atom, any p, linear/ridge = shipped isotropic",
             domain={p: lambda rng, i: sp.Rational(rng.randint(-3000, 3000), 1000)}),
        same(e["finetune_exact"], _below(formulas.finetune("exact", "population")),
             "spectra_aligned: one atom, any p, fine-tuning exact = shipped isotropic",
             domain={gamma: lambda rng, i: sp.Rational(rng.randint(20, 980), 1000),
                     p: lambda rng, i: sp.Rational(rng.randint(-3000, 3000), 1000)}),
    ]


def numeric_checks() -> list[Result]:
    """float64 and mpmath (precision=40) risks with Aligned(p) vs the derived expressions
    evaluated at 40 digits (kappa by nsolve)."""
    import mpmath

    import symtransfer as st
    from symtransfer import spectra
    from symtransfer.teachers import Aligned

    rng = random.Random(7)
    out = []
    for spec in (spectra.Discrete([0.3, 4.8], [0.75, 0.25]), spectra.PowerLaw(1.5, atoms=15)):
        eigs = [sp.Float(float(v), 45) for v in spec.eigenvalues]
        weights = [sp.Rational(sp.Float(float(v), 45)) for v in spec.weights]
        tot = sum(weights)
        weights = [w / tot for w in weights]
        worst64 = worst_mp = 0.0
        for i in range(6):
            # decimal parameters: the API reads them as decimals at any precision
            power = rng.uniform(-1, 2)
            g, th, s, la = (round(rng.uniform(lo, hi), 6) for lo, hi in
                            ((0.1, 0.9), (0, math.pi), (0, 1), (0, 1)))
            L = rng.randint(2, 4)
            rho = density(eigs, weights, sp.Float(power, 45))
            fp = sum(w * e / (e + k) for e, w in zip(eigs, weights)) - sp.Rational(str(g))
            kap = sp.nsolve(fp, k, float(spec.kappa(g)), prec=45)
            e = derived(eigs, weights, rho, kap, L=L)
            point = {gamma: sp.Rational(str(g)), theta: sp.Rational(str(th)),
                     sigma: sp.Rational(str(s)), lam: sp.Rational(str(la))}
            for key, method, kw in (("scratch", "scratch", dict(sigma=s)),
                                    ("linear", "linear", dict(theta=th, lam=la)),
                                    ("finetune_exact", "finetune",
                                     dict(theta=th, sigma=s, depth=L))):
                want = sp.N(e[key].subs(point), 40)
                opts = dict(kw, gamma=g, spectrum=spec, teacher=Aligned(power))
                got64 = st.risk(method, **opts)
                got_mp = st.risk(method, precision=40,
                                 **{k_: str(v) if isinstance(v, float) else v
                                    for k_, v in opts.items()})
                with mpmath.workdps(45):
                    ref = mpmath.mpf(str(want))
                    worst64 = max(worst64, float(abs(got64 - ref) / abs(ref)))
                    worst_mp = max(worst_mp, float(abs(got_mp - ref) / abs(ref)))
        out.append(holds(f"spectra_aligned: shipped float64 = derived ({spec.eigenvalues.size} "
                         f"atoms, max rel err {worst64:.1e})", worst64 < 1e-12,
                         how="numeric@30 digits"))
        out.append(holds(f"spectra_aligned: shipped mpmath (40 digits) = derived "
                         f"({spec.eigenvalues.size} atoms, max rel err {worst_mp:.1e})",
                         worst_mp < 1e-28, how="numeric@30 digits"))
    return out


def checks() -> list[Result]:
    return symbolic_checks() + one_atom_checks() + numeric_checks()
