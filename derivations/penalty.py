"""Penalized pretraining: a penalty mu |w - w_0|^2 toward the initialization, then fine-tuning.

Pretraining minimizes ``E(f - y)^2 + mu |w - w_0|^2`` on the population source, i.e. (halved)
``1/2 |beta_hat - beta_s|^2 + mu/2 sum_l |W_l - W_l(0)|_F^2``. From the vanishing initialization
of the feature-learning regime the anchor w_0 -> 0 and the penalty is weight decay.

Primitives:
(a) gradient flow of the penalized loss (anchor 0) gives ``d/dt D_l = -2 mu D_l`` for the
    imbalance ``D_l = W_l^T W_l - W_(l+1) W_(l+1)^T``: balanced weights stay balanced, and any
    imbalance decays (checked on symbolic matrices);
(b) on the balanced rank-1 family (every layer singular value s, beta_hat = s^L beta_s) the
    objective is ``E(s) = 1/2 (s^L - 1)^2 + mu L s^2/2``;
(c) for L = 2 the factorized penalty is the nuclear norm: ``min (|W_1|^2 + |w_2|^2)/2`` over
    factorizations of beta_hat is ``|beta_hat|``, so the end-to-end problem is
    ``min 1/2 |beta_hat - beta_s|^2 + mu |beta_hat|`` (soft thresholding): a second route.

Results: ``b = |beta_hat_s| = 1 - mu`` (L = 2, mu < 1), direction unchanged, so
``N_s = b^2``, ``O_s = b cos(theta)``; the origin is a saddle for L = 2 exactly when mu < 1,
and a local minimum for every mu > 0 when L >= 3 (no escape from a vanishing initialization).
Fine-tuning then has ``T = (1-gamma) x (2 cos(theta) - x)`` with ``x = c b``; the best penalty
puts ``x = cos(theta)``: ``T* = (1-gamma) cos(theta)^2 >= 0``, and ``b*^2 = x^4/((1-gamma) x^2 + B)``
in the exact form (``b* = cos(theta)`` in the paper's form).
"""
from __future__ import annotations

import mpmath
import sympy as sp

from symtransfer import formulas
from symtransfer.symbols import gamma, mu, sigma, theta

from . import NUMERIC, Result, holds, is_zero, rational, same
from .finetune import asymptotic_inputs, bn2, generic_risk_below, c, Nsym, Osym
from .primitives import asymptotic, min_norm_noise, null_form

s, bnorm, x = sp.symbols("s b x", positive=True)
DOMAIN = {mu: lambda rng, i: rational(rng, 0, 0.98)}


# --------------------------------------------------------------------------- pretraining


def _imbalance_decays(L: int, dim: int = 2) -> bool:
    """(a) on symbolic matrices: d/dt (W_l^T W_l - W_(l+1) W_(l+1)^T) = -2 mu (same)."""
    shapes = [(dim, dim)] * (L - 1) + [(dim, 1)]
    Ws = [sp.Matrix(r, k, lambda i, j, l=l: sp.Symbol(f"w{l}_{i}{j}")) for l, (r, k) in
          enumerate(shapes)]
    beta = sp.Matrix(dim, 1, lambda i, j: sp.Symbol(f"beta{i}"))
    prod = Ws[0]
    for W in Ws[1:]:
        prod = prod * W
    r = prod - beta
    grads = []
    for l, W in enumerate(Ws):
        left = sp.eye(dim)
        for V in Ws[:l]:
            left = left * V
        right = sp.eye(1) if l == L - 1 else sp.Matrix(Ws[l + 1])
        for V in Ws[l + 2:]:
            right = right * V
        grads.append(left.T * r * right.T + mu * W)
    for l in range(L - 1):
        W, Wn, G, Gn = Ws[l], Ws[l + 1], grads[l], grads[l + 1]
        D = W.T * W - Wn * Wn.T
        dD = -(G.T * W + W.T * G) + (Gn * Wn.T + Wn * Gn.T)
        if (dD + 2 * mu * D).expand() != sp.zeros(*D.shape):
            return False
    return True


def balanced_objective(L=2) -> sp.Expr:
    """(b) E(s) on the balanced rank-1 family with unit source teacher."""
    return (s ** L - 1) ** 2 / 2 + mu * L * s ** 2 / 2


def stationarity(L=2) -> sp.Expr:
    """dE/ds = L s (s^(2L-2) - s^(L-2) + mu)."""
    return sp.factor(sp.diff(balanced_objective(L), s))


def pretrained_norm() -> sp.Expr:
    """b = s^2 at the nonzero stationary point of E for L = 2."""
    roots = sp.solve(sp.Eq(stationarity(2) / (2 * s), 0), s)
    positive = [r for r in roots if sp.simplify(r.subs(mu, sp.Rational(1, 3))).is_positive]
    (root,) = positive
    return sp.expand(root ** 2)


def nuclear_norm_route() -> sp.Expr:
    """(c) argmin over b >= 0 of 1/2 (b - 1)^2 + mu b, for mu < 1."""
    (root,) = sp.solve(sp.diff((bnorm - 1) ** 2 / 2 + mu * bnorm, bnorm), bnorm)
    return root


def origin_hessian_min_eigen(L: int) -> sp.Expr:
    """Smallest Hessian eigenvalue at the origin of the scalar chain (d = 1)."""
    ws = sp.symbols(f"w1:{L + 1}")
    loss = (sp.Mul(*ws) - 1) ** 2 / 2 + mu * sum(w ** 2 for w in ws) / 2
    H = sp.hessian(loss, ws).subs({w: 0 for w in ws})
    return sp.Min(*H.eigenvals().keys())


def origin_hessian_matrix_l2() -> sp.Expr:
    """The same for L = 2 with a 2 x 2 first layer: the eigenvalues are mu - 1, mu, mu + 1."""
    W = sp.Matrix(2, 2, sp.symbols("a0:4"))
    v = sp.Matrix(sp.symbols("v0:2"))
    params = list(W) + list(v)
    r = W * v - sp.Matrix([1, 0])
    loss = (r.T * r)[0] / 2 + mu * (sum(p ** 2 for p in params)) / 2
    H = sp.hessian(loss, params).subs({p: 0 for p in params})
    return sp.FiniteSet(*H.eigenvals().keys())


def statistics() -> tuple[sp.Expr, sp.Expr]:
    """(N_s, O_s) = (b^2, b cos(theta)): the pretrained vector is b beta_s."""
    b = pretrained_norm()
    beta_s, beta_t = (sp.Integer(1), sp.Integer(0)), (sp.cos(theta), sp.sin(theta))
    return (b ** 2 * sum(u * u for u in beta_s),
            b * sum(u * v for u, v in zip(beta_s, beta_t)))


# --------------------------------------------------------------------------- fine-tuning


def transfer_in_x() -> sp.Expr:
    """T = R_scratch - R_ft below gamma = 1, with x = c b."""
    scratch = asymptotic(min_norm_noise()) + asymptotic(null_form([1], [1]))
    ft = generic_risk_below().xreplace({Nsym: bnorm ** 2, Osym: bnorm * sp.cos(theta)})
    return sp.expand(sp.simplify(scratch - ft)).subs(c, x / bnorm)


def best_x() -> sp.Expr:
    (root,) = sp.solve(sp.diff(transfer_in_x(), x), x)
    return root


def b_of_x() -> sp.Expr:
    """Invert x = c b, c^2 = kappa: kappa^2 - (1-gamma) kappa - B/b^2 = 0 at kappa = x^2/b^2."""
    B = asymptotic_inputs()[bn2]
    kap = x ** 2 / bnorm ** 2
    (b2,) = sp.solve(sp.Eq(kap ** 2 - (1 - gamma) * kap - B / bnorm ** 2, 0), bnorm ** 2)
    return b2


def derive() -> dict[str, sp.Expr]:
    xs = best_x()
    b_exact = sp.sqrt(b_of_x().subs(x, xs))
    region = sp.And(gamma < 1, theta <= sp.pi / 2)
    return {
        "b": pretrained_norm(),
        "T_x": transfer_in_x(),
        "x_star": xs,
        "mu_star_exact": sp.Piecewise((1 - b_exact, region), (1, gamma < 1), (0, True)),
        "mu_star_paper": sp.Piecewise((1 - xs, region), (1, gamma < 1), (0, True)),
        "T_star": sp.Piecewise((sp.simplify(transfer_in_x().subs(x, xs)), region), (0, True)),
    }


def _maximizer_numeric(points: int = 6) -> tuple[bool, str]:
    """At 50 digits: the shipped T(mu) with penalized source peaks at the shipped mu*, and the
    peak equals the shipped T*."""
    import random

    rng = random.Random(7)
    T = formulas.transferability("finetune", form="exact", source="penalized", L=2).doit()
    worst = mpmath.mpf(0)
    with mpmath.workdps(60):
        for _ in range(points):
            point = {gamma: rational(rng, 0.05, 0.95), theta: rational(rng, 0.05, 1.5),
                     sigma: rational(rng, 0, 1)}
            m_star = formulas.optimal_pretrain_penalty("exact").subs(point)
            f = sp.lambdify(mu, T.subs(point), "mpmath")
            peak = f(mpmath.mpf(sp.N(m_star, 60)))
            expected = mpmath.mpf(sp.N(formulas.best_penalized_transfer().subs(point), 60))
            worst = max(worst, abs(peak - expected))
            eps = mpmath.mpf("1e-6")
            if not (f(mpmath.mpf(sp.N(m_star, 60)) - eps) < peak > f(mpmath.mpf(sp.N(m_star, 60)) + eps)):
                return False, f"not a maximum at {point}"
    return worst < mpmath.mpf("1e-40"), f"{points} points, max |T(mu*) - T*| = {mpmath.nstr(worst, 3)}"


def _best_transfer_nonnegative() -> bool:
    g = sp.Symbol("g", positive=True)
    (first, cond), (other, _) = formulas.best_penalized_transfer().args
    return bool(first.subs(gamma, 1 - g).is_nonnegative) and other == 0


def checks() -> list[Result]:
    e = derive()
    derived_n, derived_o = statistics()
    shipped_n, shipped_o = formulas.source_statistics("penalized")
    ok_max, detail_max = _maximizer_numeric()
    hess2 = origin_hessian_matrix_l2()
    out = [
        holds("penalty: weight decay makes the imbalance W_l^T W_l - W_(l+1) W_(l+1)^T decay "
              "at rate 2 mu (L=2, 3)", _imbalance_decays(2) and _imbalance_decays(3),
              "2x2 symbolic matrices, symbolic beta"),
        holds("penalty: dE/ds = L s (s^(2L-2) - s^(L-2) + mu) on the balanced rank-1 family",
              all(is_zero(stationarity(L) - L * s * (s ** (2 * L - 2) - s ** (L - 2) + mu))
                  for L in (2, 3, 4, 5))),
        same(e["b"], formulas.penalized_norm(), "penalty: L=2 stationary |beta_hat_s| = s^2 vs "
             "penalized_norm()", domain=DOMAIN),
        same(nuclear_norm_route(), formulas.penalized_norm(), "penalty: nuclear-norm route "
             "(soft threshold) vs penalized_norm()", domain=DOMAIN),
        holds("penalty: L=2 origin Hessian eigenvalues {mu-1, mu, mu+1}: a saddle iff mu < 1",
              hess2 == sp.FiniteSet(mu - 1, mu, mu + 1), str(hess2)),
        holds("penalty: L=2 scalar chain, smallest origin eigenvalue mu - 1",
              is_zero(origin_hessian_min_eigen(2) - (mu - 1))),
        holds("penalty: L>=3 origin Hessian = mu I (a local minimum for every mu > 0)",
              all(origin_hessian_min_eigen(L) == mu for L in (3, 4))),
        same(derived_n, shipped_n, "penalty: N_s = b^2 vs source_statistics('penalized')[0]",
             domain=DOMAIN),
        same(derived_o, shipped_o, "penalty: O_s = b cos(theta) vs source_statistics('penalized')[1]",
             domain=DOMAIN),
        holds("penalty: T = (1-gamma) x (2 cos(theta) - x) with x = c b",
              is_zero(e["T_x"] - (1 - gamma) * x * (2 * sp.cos(theta) - x)), str(e["T_x"])),
        holds("penalty: the best x = c b is cos(theta)", is_zero(e["x_star"] - sp.cos(theta))),
        holds("penalty: b^2 = x^4/((1-gamma) x^2 + B) is increasing in x (x = c b is a bijection)",
              sp.simplify(sp.diff(b_of_x(), x) * ((1 - gamma) * x ** 2 + asymptotic_inputs()[bn2]) ** 2
                          - x ** 3 * (2 * (1 - gamma) * x ** 2 + 4 * asymptotic_inputs()[bn2])) == 0),
        same(e["mu_star_exact"], formulas.optimal_pretrain_penalty("exact"),
             "penalty: mu* (exact form) vs optimal_pretrain_penalty('exact')", domain=DOMAIN),
        same(e["mu_star_paper"], formulas.optimal_pretrain_penalty("paper"),
             "penalty: mu* (paper's form, c = 1) vs optimal_pretrain_penalty('paper')",
             domain=DOMAIN),
        same(e["T_star"], formulas.best_penalized_transfer(),
             "penalty: T* = (1-gamma) cos(theta)^2 vs best_penalized_transfer()", domain=DOMAIN),
        holds("penalty: shipped T(mu) peaks at mu* with value T* (exact form, 50 digits)",
              ok_max, detail_max, how=NUMERIC),
        holds("penalty: T* >= 0 everywhere: the best penalty removes negative transfer",
              _best_transfer_nonnegative(), "(1-gamma) cos^2(theta) with gamma = 1 - g, g > 0; else 0"),
    ]
    return out
