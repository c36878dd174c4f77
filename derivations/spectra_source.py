"""A finite source with an input covariance (covariate shift included): the pretrained vector's
deterministic equivalents and the transfer risks built on them (symtransfer.anisotropic_source).

Primitives: the min-norm interpolator on n = gamma d rows x ~ N(0, Sigma), Sigma = diag(l),
kappa the root of ``E[l/(l+kappa)] = gamma``, ``a = E[l^2/(l+kappa)^2]/gamma``, A and D fixed
diagonal matrices, vectors fixed or independent of X with ``beta_i^2 -> rho_i/d``:

* (F1) ``P_perp -> kappa (Sigma + kappa)^-1`` (first order: linear functionals);
* (F2) ``P_perp A P_perp -> kappa^2 (Sigma+kappa)^-1 A (Sigma+kappa)^-1
  + kappa^2 tr(A Sigma (Sigma+kappa)^-2)/(n (1-a)) Sigma (Sigma+kappa)^-2`` (second order);
* (F3) ``(X^T X)^+ -> Sigma (Sigma+kappa)^-2/(n (1-a))``;
* (F4) least squares (n > d): ``E (X^T X)^-1 = Sigma^-1/(n-d-1)`` (the inverse-Wishart mean).

(F1)-(F3) are the ridgeless limits of the ridge deterministic equivalents; with A = Sigma, (F2)
is the shipped bias of :mod:`derivations.spectra`. Each is checked on random matrices with
``D != Sigma`` in ``tests/test_spectra_source.py``.

Derivation (gamma_s < 1): ``beta_hat_s = (I - P_perp) beta_s + X_s^+ eps_s``, the noise
independent with mean zero, so

    Q(D) = beta_s^T D beta_s - 2 beta_s^T P_perp D beta_s + beta_s^T P_perp D P_perp beta_s
           + sigma_s^2 tr(D (X_s^T X_s)^+),
    O(D) = beta_s^T D beta_t - beta_s^T P_perp D beta_t,

and (F1)-(F3) turn each term into an average over directions. gamma_s > 1: ``beta_hat_s =
beta_s + (X_s^T X_s)^-1 X_s^T eps_s`` and (F4). The target side (P_perp and |X^+ y|^2 of the
target data; fine-tuning's endpoint ``X^+ y + c P_perp w_0``, the gradient-flow facts of
:mod:`.primitives`) is that of :mod:`.spectra`, with w_0 = beta_hat_s.

Checks: (1) the primitives' expansion equals the compact forms that
:func:`symtransfer.anisotropic_source.source_forms` ships -- the *shipped functions themselves*
run on sympy atoms -- for a two-atom source with symbolic eigenvalues, weights, profile and test
matrix; (2) (F2) agrees with (F1) where P is idempotent (``|P beta|^2``); (3) one atom at 1:
the shipped functions give ``formulas.source_statistics('finite')``, the finite-source linear
/ridge transfer and both fine-tuning forms (any depth) of the isotropic theory; (4) the
gamma_s -> oo limit of the least-squares forms is the population source; (5) the shipped
float64 risks equal the derived expressions at 30 digits for two spectra with covariate shift,
generic and aligned teachers.
"""
from __future__ import annotations

import math
import random

import numpy as np
import sympy as sp

from symtransfer import anisotropic_source as S
from symtransfer import formulas
from symtransfer.symbols import depth, gamma, gamma_s, lam, sigma, sigma_s, theta

from . import Result, holds, same

l1, l2, w1, r1, r2, D1, D2, k = sp.symbols("l1 l2 w1 rho1 rho2 D1 D2 kappa", positive=True)


def sympy_ops(weights) -> S._Ops:
    """The shipped formulas' operations on sympy atoms: E a weighted sum, PositiveRoot."""
    w = np.array(weights, dtype=object)
    return S._Ops(E=lambda x: sp.Add(*(np.broadcast_to(np.asarray(x, dtype=object), w.shape)
                                       * w)),
                  root=lambda L, a, b: formulas.PositiveRoot(L, a, b), inf=sp.oo)


def two_atom_source():
    """Symbolic two-atom source: eigenvalues, weights, profile, test matrix, and gamma_s
    eliminated through the fixed point ``gamma_s = E[l/(l+kappa)]``."""
    ls = np.array([l1, l2], dtype=object)
    w = np.array([w1, 1 - w1], dtype=object)
    rho = np.array([r1, r2], dtype=object)
    D = np.array([D1, D2], dtype=object)
    g = sum(w * ls / (ls + k))
    return ls, w, rho, D, g


def derived_forms(ls, w, rho, kap, g, sig):
    """(Q, O1) from the primitives (F1)-(F3), term by term (module docstring)."""
    def E(x):
        return sp.Add(*(np.broadcast_to(np.asarray(x, dtype=object), w.shape) * w))

    a = E(ls ** 2 / (ls + kap) ** 2) / g
    perp = kap / (ls + kap)                                   # (F1)

    def second_order(D):                                      # (F2) at beta_s (profile rho)
        return kap ** 2 * E(rho * D / (ls + kap) ** 2) \
            + kap ** 2 * E(D * ls / (ls + kap) ** 2) / (g * (1 - a)) \
            * E(rho * ls / (ls + kap) ** 2)

    def noise(D):                                             # (F3)
        return sig ** 2 * E(D * ls / (ls + kap) ** 2) / (g * (1 - a))

    def Q(D):
        return E(rho * D) - 2 * E(rho * perp * D) + second_order(D) + noise(D)

    def O1(D):
        return E(rho * D) - E(rho * perp * D)
    return Q, O1


def _zero(expr) -> bool:
    return sp.cancel(sp.together(expr)) == 0


def expansion_checks() -> list[Result]:
    ls, w, rho, D, g = two_atom_source()
    Qd, Od = derived_forms(ls, w, rho, k, g, sigma_s)
    Qs, Os = S.source_forms(sympy_ops(w), "min_norm", ls, rho, k, g, sigma_s)
    out = [holds("spectra_source: Q(D) from (F1)-(F3) = shipped source_forms (two atoms, "
                 "symbolic profile and D)", _zero(Qd(D) - Qs(D))),
           holds("spectra_source: O1(D) from (F1) = shipped source_forms (two atoms)",
                 _zero(Od(D) - Os(D)))]
    # idempotence: beta^T P beta (first order) = beta^T P I P beta (second order), no noise
    Q0, _ = derived_forms(ls, w, rho, k, g, 0)
    first = sum(w * rho * ls / (ls + k))
    out.append(holds("spectra_source: (F2) at A = I equals (F1)'s |P beta|^2 (P idempotent)",
                     _zero(Q0(np.ones(2, dtype=object)) - first)))
    # the noise part of |beta_hat_s|^2 is sigma_s^2/kappa_s for any spectrum
    Qn, _ = derived_forms(ls, w, rho, k, g, sigma_s)
    out.append(holds("spectra_source: |X_s^+ eps_s|^2 = sigma_s^2/kappa_s (two atoms)",
                     _zero(Qn(np.ones(2, dtype=object)) - first - sigma_s ** 2 / k)))
    return out


# ---------------------------------------------------------------------- one atom at 1

def _one_atom_source(regime: str):
    one = np.array([sp.Integer(1)], dtype=object)
    kap = (1 - gamma_s) / gamma_s
    return S.source_forms(sympy_ops(one), regime, one, one, kap, gamma_s, sigma_s), one


def one_atom_statistics() -> tuple[sp.Expr, sp.Expr]:
    """(N_s, O_s) of the shipped forms for Sigma = Sigma_s = I (both regimes)."""
    (Qm, Om), one = _one_atom_source("min_norm")
    (Ql, Ol), _ = _one_atom_source("least_squares")
    norm = sp.Piecewise((sp.simplify(Qm(one)), gamma_s < 1), (sp.simplify(Ql(one)), True))
    overlap = sp.Piecewise((sp.simplify(Om(one)) * sp.cos(theta), gamma_s < 1),
                           (sp.simplify(Ol(one)) * sp.cos(theta), True))
    return norm, overlap


def one_atom_risks(L=depth) -> dict[str, sp.Expr]:
    """Linear transfer and fine-tuning of the shipped functions for one atom at 1."""
    one = np.array([sp.Integer(1)], dtype=object)
    ops = sympy_ops(one)
    cos_t = sp.cos(theta)
    kt = (1 - gamma) / gamma
    tf = S.target_forms(ops, one, one, kt, gamma, sigma)
    out: dict[str, sp.Expr] = {}
    branches: dict[str, list] = {"linear": [], "exact": [], "paper": []}
    for regime, cond in (("min_norm", gamma_s < 1), ("least_squares", True)):
        (Q, O1), _ = _one_atom_source(regime)
        lp = S.linear_parts(ops, Q, O1, one, one, lam, L)
        branches["linear"].append((lp["m"] - cos_t ** 2 * lp["K"], cond))
        for form in ("exact", "paper"):
            fp = S.finetune_parts(ops, Q, O1, tf, one, L, form)
            branches[form].append((S.finetune_risk(fp, cos_t), cond))
    out["linear"] = sp.Piecewise(*branches["linear"])
    ls_noise = sigma ** 2 / (gamma - 1)
    for form in ("exact", "paper"):
        out[form] = sp.Piecewise((sp.Piecewise(*branches[form]), gamma < 1), (ls_noise, True))
    return out


def one_atom_checks() -> list[Result]:
    norm, overlap = one_atom_statistics()
    shipped_n, shipped_o = formulas.source_statistics("finite")
    r = one_atom_risks()
    out = [same(norm, shipped_n, "spectra_source: one atom, N_s = source_statistics('finite')"),
           same(overlap, shipped_o,
                "spectra_source: one atom, O_s = source_statistics('finite')"),
           same(r["linear"], formulas.linear("finite"),
                "spectra_source: one atom, linear/ridge transfer = shipped (finite source)"),
           same(r["paper"], formulas.finetune("paper", "finite"),
                "spectra_source: one atom, fine-tuning paper form = shipped (finite source)"),
           same(r["exact"], formulas.finetune("exact", "finite"),
                "spectra_source: one atom, fine-tuning exact form = shipped (finite source, "
                "any depth)")]
    # population = the gamma_s -> oo limit of the least-squares forms (any spectrum)
    ls, w, rho, D, _ = two_atom_source()
    Ql, Ol = S.source_forms(sympy_ops(w), "least_squares", ls, rho, None, gamma_s, sigma_s)
    Qp, Op = S.source_forms(sympy_ops(w), "population", ls, rho, None, None, None)
    out.append(holds("spectra_source: gamma_s -> oo of the least-squares forms = population "
                     "source (two atoms)",
                     sp.simplify(sp.limit(Ql(D), gamma_s, sp.oo) - Qp(D)) == 0
                     and sp.simplify(Ol(D) - Op(D)) == 0))
    return out


# ---------------------------------------------------------------------- shipped vs derived

def _derived_number(method, target, source, teacher, g, th, s, gs, ss, la, L) -> sp.Float:
    """The risk from the primitives' expansion (:func:`derived_forms`), kappa by nsolve, at
    30 digits, for a concrete (target, source) pair (gamma < 1, gamma_s < 1)."""
    cp = S.coupling(target, source)
    F = lambda x: sp.Float(float(x), 30)  # noqa: E731
    lt = np.array([F(x) for x in cp.target], dtype=object)
    ls = np.array([F(x) for x in cp.source], dtype=object)
    w = np.array([sp.Rational(f.numerator, f.denominator) for f in cp.fractions],
                 dtype=object)
    if teacher is None:
        rho = np.array([sp.Integer(1)] * w.size, dtype=object)
    else:
        e = np.array([x ** sp.Float(teacher.power, 30) for x in lt], dtype=object)
        rho = e / sum(w * e)

    def E(x):
        return sp.Add(*(np.broadcast_to(np.asarray(x, dtype=object), w.shape) * w))

    def root(ev, gg, guess):
        return sp.nsolve(E(ev / (ev + k)) - gg, k, guess, prec=30)

    ks = root(ls, gs, float(source.kappa(gs) if source is not None else target.kappa(gs)))
    Q, O1 = derived_forms(ls, w, rho, ks, sp.Float(gs, 30), sp.Float(ss, 30))
    cos_t = sp.cos(sp.Float(th, 30))
    if method == "linear":
        m, Qs, O = E(rho * lt), Q(lt), O1(lt)
        N = Q(np.ones(w.size, dtype=object))
        A = Qs / N ** sp.Rational(1, L)
        r = A / (A + la)
        return (m - cos_t ** 2 * O ** 2 / Qs * r * (2 - r)).evalf(30)
    kt = root(lt, g, float(target.kappa(g)))
    a = E(lt ** 2 / (lt + kt) ** 2) / g
    D_b = lt * kt ** 2 / (lt + kt) ** 2 / (1 - a)
    D_perp = kt / (lt + kt)
    N = Q(np.ones(w.size, dtype=object))
    b2 = E(rho * lt / (lt + kt)) + s ** 2 / kt
    q = formulas.PositiveRoot(L, Q(D_perp) / N, b2 / N).evalf(30)
    c = q ** sp.Rational(L - 1, 2)
    return (s ** 2 * a / (1 - a) + c ** 2 * Q(D_b) - 2 * c * cos_t * O1(D_b)
            + E(rho * D_b)).evalf(30)


def numeric_checks() -> list[Result]:
    import symtransfer as st
    from symtransfer import spectra
    from symtransfer.teachers import Aligned

    pairs = (("two-level target, three-level source",
              spectra.Discrete([0.3, 4.8], [0.75, 0.25]),
              spectra.Discrete([0.2, 1.0, 6.0], [0.3, 0.4, 0.3])),
             ("power-law target and source", spectra.PowerLaw(1.0, atoms=12),
              spectra.PowerLaw(2.0, atoms=7)))
    rng = random.Random(3)
    out = []
    for label, target, source in pairs:
        worst = 0.0
        for i in range(8):
            method = ("linear", "finetune")[i % 2]
            teacher = None if i % 4 < 2 else Aligned(1.5)
            g, gs = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)
            th, s, ss = rng.uniform(0, math.pi), rng.uniform(0, 1), rng.uniform(0, 1)
            la = rng.uniform(0, 1) if method == "linear" else 0.0
            L = rng.randint(2, 4)
            derived = float(_derived_number(method, target, source, teacher, g, th, s, gs,
                                            ss, la, L))
            shipped = st.risk(method, gamma=g, theta=th, sigma=s, lam=la, depth=L,
                              gamma_s=gs, sigma_s=ss, spectrum=target, source_spectrum=source,
                              teacher="generic" if teacher is None else teacher)
            worst = max(worst, abs(derived - shipped) / abs(derived))
        out.append(holds(f"spectra_source: shipped float64 = derived at 30 digits, {label} "
                         f"(max rel err {worst:.1e})", worst < 1e-12, how="numeric@30 digits"))
    return out


def checks() -> list[Result]:
    """The expansion, idempotence, one-atom reductions, population limit, and numerics."""
    return expansion_checks() + one_atom_checks() + numeric_checks()
