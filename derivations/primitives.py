"""Stated primitives: the facts every derivation starts from.

(a) Projection moments.  P = orthogonal projection onto the row space of an n x d Gaussian X,
    a uniformly random n-dimensional subspace.  Rotation invariance: E[P] commutes with every
    orthogonal matrix, so E[P] = c I (Schur); tr P = rank P = n fixes c = n/d.  Hence
    E|P v|^2 = v^T E[P] v = (n/d)|v|^2 (P symmetric idempotent), E|P_perp v|^2 = (1 - n/d)|v|^2,
    E[u^T P v] = c u.v = 0 for orthogonal u, v (with O(1/d) variance: it concentrates at 0).
(b) Inverse Wishart mean.  W ~ Wishart_p(I, m), m > p + 1: E[W^{-1}] = I/(m - p - 1)
    (e.g. Muirhead, Aspects of Multivariate Statistical Theory, Thm 3.2.12).  X X^T ~ Wishart_n(I, d),
    X^T X ~ Wishart_d(I, n), so E|X^+ eps|^2 = sigma^2 tr E[(X X^T)^{-1}] = sigma^2 n/(d-n-1) and
    E|(X^T X)^{-1} X^T eps|^2 = sigma^2 d/(n-d-1).  Cross-checked against the Marchenko-Pastur law.
(c) Inverse chi-square mean.  E[1/chi^2_n] = 1/(n-2): the p = 1 case of (b), and the integral of
    the chi-square density.
(d) Gradient flow of the loss (1/2n)|X W_1...W_L - y|^2 (W' = -grad): conserves
    W_l^T W_l - W_{l+1} W_{l+1}^T (Arora et al. 2018, Du et al. 2018); grad_{W_1} = X^T(...), so the
    part of W_1 in the null space of X never moves; the balanced rank-1 family
    W_1 = w u_2^T, W_l = s u_l u_{l+1}^T, W_L = s u_L is invariant (Saxe et al. 2014).
    Checked on concrete small matrices with symbolic entries (exact polynomial arithmetic).
"""
from __future__ import annotations

from functools import reduce
from typing import Sequence

import mpmath
import numpy as np
import sympy as sp
from sympy.polys.domains import QQ
from sympy.polys.rings import PolyElement, ring

from symtransfer.symbols import d, gamma, n, sigma

from . import DIGITS, NUMERIC, Result, holds, is_zero

# --------------------------------------------------------------------------- (a) projections


def projection_scale() -> sp.Expr:
    """c with E[P] = c I: solve tr E[P] = d c = n (rank of a projection onto n dimensions)."""
    c = sp.Symbol("c")
    (sol,) = sp.solve(sp.Eq(d * c, n), c)
    return sol


def projection_form(u: Sequence[sp.Expr], v: Sequence[sp.Expr], c: sp.Expr | None = None) -> sp.Expr:
    """E[u^T P v] = c u.v for u, v given by coordinates in an orthonormal basis."""
    c = projection_scale() if c is None else c
    return c * sum(a * b for a, b in zip(u, v))


def null_form(u: Sequence[sp.Expr], v: Sequence[sp.Expr], c: sp.Expr | None = None) -> sp.Expr:
    """E[u^T P_perp v] = (1 - c) u.v."""
    c = projection_scale() if c is None else c
    return (1 - c) * sum(a * b for a, b in zip(u, v))


def asymptotic(expr: sp.Expr, count: sp.Symbol = n, ratio: sp.Symbol = gamma) -> sp.Expr:
    """The d -> oo limit at count = ratio*d."""
    return sp.limit(expr.subs(count, ratio * d), d, sp.oo)


def projection_monte_carlo(dim: int = 60, rank: int = 24, trials: int = 300, seed: int = 0):
    """Monte-Carlo E|Pv|^2 and E[u^T P v] for the row space of a Gaussian rank x dim matrix."""
    rng = np.random.default_rng(seed)
    v, u = np.eye(dim)[0], np.eye(dim)[1]
    sq, cross = [], []
    for _ in range(trials):
        q, _ = np.linalg.qr(rng.standard_normal((dim, rank)))  # orthonormal basis of row space
        pv = q @ (q.T @ v)
        sq.append(pv @ pv)
        cross.append(u @ pv)
    return np.array(sq), np.array(cross)


# --------------------------------------------------------------------------- (b), (c) inverse moments


def inverse_wishart_trace(p: sp.Expr, m: sp.Expr) -> sp.Expr:
    """tr E[W^{-1}] for W ~ Wishart_p(I, m): p/(m - p - 1)."""
    return p / (m - p - 1)


def min_norm_noise(count: sp.Expr = n, dim: sp.Expr = d, noise: sp.Expr = sigma) -> sp.Expr:
    """E|X^+ eps|^2 = sigma^2 tr E[(X X^T)^{-1}], X X^T ~ Wishart_n(I, d) (n <= d - 2)."""
    return noise ** 2 * inverse_wishart_trace(count, dim)


def least_squares_noise(count: sp.Expr = n, dim: sp.Expr = d, noise: sp.Expr = sigma) -> sp.Expr:
    """E|(X^T X)^{-1} X^T eps|^2 = sigma^2 tr E[(X^T X)^{-1}], X^T X ~ Wishart_d(I, n)."""
    return noise ** 2 * inverse_wishart_trace(dim, count)


def inverse_chi2_mean(k: sp.Expr = n) -> sp.Expr:
    """E[1/chi^2_k] = 1/(k - 2), the p = 1 case of the inverse Wishart mean."""
    return inverse_wishart_trace(1, k)


def inverse_chi2_integral() -> sp.Expr:
    """E[1/chi^2_k] by integrating the chi-square density (k > 2)."""
    k, x = sp.Symbol("k", positive=True), sp.Symbol("x", positive=True)
    density = x ** (k / 2 - 1) * sp.exp(-x / 2) / (2 ** (k / 2) * sp.gamma(k / 2))
    value = sp.gammasimp(sp.integrate(density / x, (x, 0, sp.oo), conds="none"))
    return value.subs(k, n)


def marchenko_pastur(r) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(total mass, E[1/x]) of the MP law of ratio r < 1 (unit variance) by mpmath.quad.

    Density sqrt((b - x)(x - a))/(2 pi r x) on [a, b] = [(1 - sqrt r)^2, (1 + sqrt r)^2]: the
    limiting spectrum of (1/d) X X^T for an n x d Gaussian X, r = n/d.
    """
    r = mpmath.mpf(r)
    a, b = (1 - mpmath.sqrt(r)) ** 2, (1 + mpmath.sqrt(r)) ** 2
    density = lambda x: mpmath.sqrt((b - x) * (x - a)) / (2 * mpmath.pi * r * x)  # noqa: E731
    mass = mpmath.quad(density, [a, b])
    inv_mean = mpmath.quad(lambda x: density(x) / x, [a, b])
    return mass, inv_mean


# --------------------------------------------------------------------------- (d) gradient flow

PolyMatrix = list[list[PolyElement]]


def _mul(a: PolyMatrix, b: PolyMatrix) -> PolyMatrix:
    zero = a[0][0].ring.zero if hasattr(a[0][0], "ring") else b[0][0].ring.zero
    return [[sum((a[i][k] * b[k][j] for k in range(len(b))), zero) for j in range(len(b[0]))]
            for i in range(len(a))]


def _t(a: PolyMatrix) -> PolyMatrix:
    return [list(row) for row in zip(*a)]


def _lin(*terms: tuple[int, PolyMatrix]) -> PolyMatrix:
    """sum of coefficient * matrix."""
    rows, cols = len(terms[0][1]), len(terms[0][1][0])
    return [[sum(c * m[i][j] for c, m in terms) for j in range(cols)] for i in range(rows)]


def _is_zero(a: PolyMatrix) -> bool:
    return all(e == 0 for row in a for e in row)


def _shapes(L: int, dim: int) -> list[tuple[int, int]]:
    return [(dim, dim)] * (L - 1) + [(dim, 1)]


def network(L: int, dim: int = 3, samples: int = 2, X: sp.Matrix | None = None,
            extra: Sequence[str] = ()):
    """Symbolic weights (and X unless given), the loss (1/2n)|X W_1..W_L - y|^2 and its gradients.

    Exact polynomial arithmetic over QQ; returns (ring, X, Ws, grads, gens by name).
    ``extra``: names of further generators (e.g. one scale per layer).
    """
    names = [f"y{i}" for i in range(samples)]
    if X is None:
        names += [f"x{i}_{j}" for i in range(samples) for j in range(dim)]
    for l, (r, c) in enumerate(_shapes(L, dim), start=1):
        names += [f"w{l}_{i}_{j}" for i in range(r) for j in range(c)]
    names += [f"v{i}" for i in range(dim)] + ["s"]  # rank-1 family parameters w = v, s
    names += list(extra)
    R, *gens = ring(names, QQ)
    g = dict(zip(names, gens))
    if X is None:
        Xp = [[g[f"x{i}_{j}"] for j in range(dim)] for i in range(samples)]
    else:
        Xp = _as_poly_matrix(R, X)
    y = [[g[f"y{i}"]] for i in range(samples)]
    Ws = [[[g[f"w{l}_{i}_{j}"] for j in range(c)] for i in range(r)]
          for l, (r, c) in enumerate(_shapes(L, dim), start=1)]
    residual = _lin((1, reduce(_mul, [Xp] + Ws)), (-1, y))
    loss = sum(row[0] ** 2 for row in residual) * QQ(1, 2 * samples)
    grads = [[[loss.diff(w) for w in row] for row in W] for W in Ws]
    return R, Xp, Ws, grads, g


def conservation_holds(L: int) -> bool:
    """d/dt (W_l^T W_l - W_{l+1} W_{l+1}^T) = 0 under W' = -grad, symbolic X, y, W (d=3, n=2)."""
    _, _, Ws, G, _ = network(L)
    for l in range(L - 1):
        rate = _lin((-1, _mul(_t(G[l]), Ws[l])), (-1, _mul(_t(Ws[l]), G[l])),
                    (1, _mul(G[l + 1], _t(Ws[l + 1]))), (1, _mul(Ws[l + 1], _t(G[l + 1]))))
        if not _is_zero(rate):
            return False
    return True


#: concrete rational design (n = 2, d = 3) and rational unit vectors for the rank-1 family.
X_CONCRETE = sp.Matrix([[1, 2, -1], [sp.Rational(1, 2), 0, 3]])
UNIT_VECTORS = [sp.Matrix([1, 2, 2]) / 3, sp.Matrix([2, -2, 1]) / 3, sp.Matrix([2, 1, -2]) / 3]


def null_projector(X: sp.Matrix) -> sp.Matrix:
    """P_perp = I - X^T (X X^T)^{-1} X, exact rationals."""
    return sp.eye(X.cols) - X.T * (X * X.T).inv() * X


def _as_poly_matrix(R, M: sp.Matrix) -> PolyMatrix:
    return [[R(QQ(*map(int, sp.fraction(M[i, j])))) for j in range(M.cols)] for i in range(M.rows)]


def null_space_frozen(L: int) -> bool:
    """P_perp grad_{W_1} = 0 for the concrete X, symbolic y and W: P_perp W_1 never moves."""
    R, _, _, G, _ = network(L, X=X_CONCRETE)
    return _is_zero(_mul(_as_poly_matrix(R, null_projector(X_CONCRETE)), G[0]))


def rank_one_family_invariant(L: int) -> bool:
    """At W_1 = w u_2^T, W_l = s u_l u_{l+1}^T, W_L = s u_L the gradient stays in the family.

    grad_{W_1} = g u_2^T for some vector g; grad_{W_l} = (u_l^T G u_{l+1}) u_l u_{l+1}^T;
    grad_{W_L} = (u_L . G) u_L.  Hence w moves freely, the u_l are fixed and only the scales s_l
    move; by the conservation law |w| = s_2 = ... = s_L stays balanced.
    """
    R, _, Ws, G, g = network(L, X=X_CONCRETE)
    us = [_as_poly_matrix(R, u) for u in UNIT_VECTORS[: L - 1]]  # u_2 .. u_L
    w, s = [[g[f"v{i}"]] for i in range(3)], g["s"]
    family = [_mul(w, _t(us[0]))]
    family += [_lin((s, _mul(us[l], _t(us[l + 1])))) for l in range(L - 2)]
    family += [_lin((s, us[-1]))]
    subs = [(Ws[l][i][j], family[l][i][j]) for l in range(L) for i in range(len(Ws[l]))
            for j in range(len(Ws[l][0]))]
    Gf = [[[e.compose(subs) for e in row] for row in M] for M in G]
    u2 = us[0]
    if not _is_zero(_lin((1, Gf[0]), (-1, _mul(_mul(Gf[0], u2), _t(u2))))):
        return False
    for l in range(1, L - 1):
        ul, un = us[l - 1], us[l]
        coeff = _mul(_mul(_t(ul), Gf[l]), un)[0][0]
        if not _is_zero(_lin((1, Gf[l]), (-coeff, _mul(ul, _t(un))))):
            return False
    uL = us[-1]
    coeff = _mul(_t(uL), Gf[-1])[0][0]
    if not _is_zero(_lin((1, Gf[-1]), (-coeff, uL))):
        return False
    # balance: W_1^T W_1 - W_2 W_2^T = (|w|^2 - s^2) u_2 u_2^T, zero between the other layers
    norm_w = sum(e[0] ** 2 for e in w)
    gap = _lin((1, _mul(_t(family[0]), family[0])), (-1, _mul(family[1], _t(family[1]))),
               (-(norm_w - s ** 2), _mul(u2, _t(u2))))
    if not _is_zero(gap):
        return False
    return all(_is_zero(_lin((1, _mul(_t(family[l]), family[l])),
                             (-1, _mul(family[l + 1], _t(family[l + 1])))))
               for l in range(1, L - 1))


# --------------------------------------------------------------------------- interface


def derive() -> dict[str, sp.Expr]:
    """The primitives as sympy expressions (finite size and d -> oo at n = gamma d)."""
    c = projection_scale()
    return {
        "projection_scale": c,
        "E|Pv|^2/|v|^2": projection_form([1], [1], c),
        "E|P_perp v|^2/|v|^2": null_form([1], [1], c),
        "E[u^T P v] (u, v orthonormal)": projection_form([1, 0], [0, 1], c),
        "min_norm_noise": min_norm_noise(),
        "least_squares_noise": least_squares_noise(),
        "min_norm_noise_limit": asymptotic(min_norm_noise()),
        "least_squares_noise_limit": asymptotic(least_squares_noise()),
        "inverse_chi2_mean": inverse_chi2_mean(),
    }


def _monte_carlo_checks() -> list[Result]:
    sq, cross = projection_monte_carlo()
    c = 24 / 60
    se_sq, se_cross = sq.std() / np.sqrt(sq.size), cross.std() / np.sqrt(cross.size)
    ok = abs(sq.mean() - c) < 5 * se_sq and abs(cross.mean()) < 5 * se_cross
    return [holds("primitives: E|Pv|^2 = (n/d)|v|^2, E u^T P v = 0 (Monte Carlo, d=60 n=24)", ok,
                  f"E|Pv|^2 = {sq.mean():.4f} +- {se_sq:.4f} (n/d = {c}); "
                  f"E u^T P v = {cross.mean():.4f} +- {se_cross:.4f}", how="monte-carlo seed 0")]


def _marchenko_pastur_checks() -> list[Result]:
    out = []
    limits = derive()
    with mpmath.workdps(DIGITS + 10):
        tol = mpmath.mpf(10) ** (-40)
        for r in ("0.2", "0.5", "0.8"):
            mass, inv_mean = marchenko_pastur(r)
            rr = mpmath.mpf(r)
            ok = abs(mass - 1) < tol and abs(inv_mean - 1 / (1 - rr)) < tol
            # tr E[(X X^T)^{-1}] = (1/d) tr E[((1/d) X X^T)^{-1}] -> r E_MP[1/x] = gamma/(1-gamma)
            limit = limits["min_norm_noise_limit"].subs({sigma: 1, gamma: sp.Rational(r)})
            ok = ok and abs(rr * inv_mean - mpmath.mpf(sp.N(limit, DIGITS + 10))) < tol
            out.append(holds(f"primitives: Marchenko-Pastur r={r}: mass 1, E[1/x] = 1/(1-r) "
                             "= min-norm noise limit / r", ok,
                             f"mass-1 = {mpmath.nstr(mass - 1, 3)}, E[1/x]-1/(1-r) = "
                             f"{mpmath.nstr(inv_mean - 1 / (1 - rr), 3)}", how=NUMERIC))
        for g in ("1.5", "2.5"):
            # least squares: (1/n) X^T X is MP of ratio 1/gamma; tr E[(X^T X)^{-1}] -> (1/g) E[1/x]
            gg = mpmath.mpf(g)
            mass, inv_mean = marchenko_pastur(1 / gg)
            limit = limits["least_squares_noise_limit"].subs({sigma: 1, gamma: sp.Rational(g)})
            ok = abs(mass - 1) < tol and abs(inv_mean / gg - mpmath.mpf(sp.N(limit, DIGITS + 10))) < tol
            out.append(holds(f"primitives: Marchenko-Pastur ratio 1/{g}: (1/gamma) E[1/x] = "
                             "least-squares noise limit", ok,
                             f"diff = {mpmath.nstr(inv_mean / gg - mpmath.mpf(sp.N(limit, 70)), 3)}",
                             how=NUMERIC))
    return out


def checks() -> list[Result]:
    """Every primitive re-derived or cross-checked."""
    e = derive()
    out = [
        holds("primitives: projection scale c = n/d (solve d c = n)", e["projection_scale"] == n / d,
              f"c = {e['projection_scale']}"),
        holds("primitives: E|P_perp v|^2 = (1 - n/d)|v|^2, E[u^T P v] = 0",
              is_zero(e["E|P_perp v|^2/|v|^2"] - (1 - n / d))
              and e["E[u^T P v] (u, v orthonormal)"] == 0),
        holds("primitives: E|P v|^2/|v|^2 -> gamma (d -> oo, n = gamma d)",
              asymptotic(e["E|Pv|^2/|v|^2"]) == gamma),
        holds("primitives: min-norm noise sigma^2 n/(d-n-1) -> sigma^2 gamma/(1-gamma)",
              is_zero(e["min_norm_noise_limit"] - sigma ** 2 * gamma / (1 - gamma)),
              f"limit = {e['min_norm_noise_limit']}"),
        holds("primitives: least-squares noise sigma^2 d/(n-d-1) -> sigma^2/(gamma-1)",
              is_zero(e["least_squares_noise_limit"] - sigma ** 2 / (gamma - 1)),
              f"limit = {e['least_squares_noise_limit']}"),
        holds("primitives: E[1/chi^2_n] = 1/(n-2) (density integral = Wishart p=1)",
              is_zero(inverse_chi2_integral() - e["inverse_chi2_mean"])
              and is_zero(e["inverse_chi2_mean"] - 1 / (n - 2))),
    ]
    out += _marchenko_pastur_checks()
    out += _monte_carlo_checks()
    for L in (2, 3):
        out.append(holds(f"primitives: gradient flow conserves W_l^T W_l - W_(l+1) W_(l+1)^T (L={L})",
                         conservation_holds(L), "d=3, n=2, symbolic X, y, W"))
        out.append(holds(f"primitives: P_perp grad_W1 = 0, null-space part of W_1 frozen (L={L})",
                         null_space_frozen(L), "rational X (2x3), symbolic y, W"))
        out.append(holds(f"primitives: balanced rank-1 family invariant under the flow (L={L})",
                         rank_one_family_invariant(L), "rational X, unit u_l, symbolic w, s, y"))
    return out
