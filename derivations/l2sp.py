"""L2-SP: fine-tuning regularized toward the pretrained weights.

**End to end.** ``beta_hat = argmin |y - X beta|^2/n + lam |beta - b|^2`` with ``b = beta_hat_s``.
Primitives: the Marchenko-Pastur Stieltjes transform of ``derivations/ridge.py`` (checked there
against quadrature) and rotation invariance of the Gaussian design (``u^T f(S) w -> (u.w) int f dmu``
for fixed u, w independent of X); the source statistics N_s, O_s of ``derivations/source.py``.

1. Reduction (an algebraic identity, checked on exact matrices): ``beta_hat - b`` is ridge
   regression on the residual target ``y - X b``, whose teacher is ``w = beta_t - b``.
2. Hence ``R = |w|^2 lam^2 m'(-lam) + sigma^2 psi (m(-lam) - lam m'(-lam))``, ``|w|^2 = N_s - 2 O_s + 1``.
3. ``dR/dlam = (|w|^2 lam - sigma^2 psi)(2 m' - lam m'')`` and ``2m' - lam m'' = 2 int x/(x+lam)^3 > 0``:
   ``lam* = sigma^2/(gamma |w|^2)``, ``R* = |w|^2 lam* m(-lam*)``.
4. Limits: lam -> inf gives b (risk |w|^2); lam -> 0 the min-norm interpolator from b, the
   paper's fine-tuning form.
5. Fair comparison: R* is increasing in |w|^2 and scratch's optimal ridge is R* at |w|^2 = 1, so
   ``T_fair = R*(1) - R*(|w|^2) > 0`` exactly when ``|w|^2 < 1``: theta < pi/3 (population source)
   for every gamma and every sigma > 0.

**Deep network, depth 2.** Loss ``(1/2n)|y - X W_1 w_2|^2 + lam/2 (|W_1 - W_1^0|^2 + |w_2 - w_2^0|^2)``
from the pretrained ``W_1^0 = s u v^T``, ``w_2^0 = s v`` (|u| = |v| = 1, b = s^2 u). Stationarity
gives ``W_1 = W_1^0 + g w_2^T/lam`` (g = X^T(y - X beta)/n) and ``w_2 = t v`` with
``t (lam - |g|^2/lam) = s (lam + u.g)``; so the stationary end-to-end vector is end-to-end L2-SP
toward ``t s u`` with penalty ``lam/t^2``, and t solves ``t^4 - s t^3 + t s (u.beta) - |beta|^2 = 0``.
Under the flow the imbalance is not conserved (the penalty adds ``-lam(...)``), the null-space
part of W_1 stays frozen, and the small-lam limit of the stationary point is *not* fine-tuning's
endpoint: it is the interpolator closest to the pretrained weights, with
``t^4 - t^3 + gamma cos(theta) t - B = 0`` instead of fine-tuning's ``c^4 - (1-gamma)c^2 - B = 0``.

**Weight-decayed scratch.** Penalty ``lam/2 sum_l |W_l|^2`` at depth L: the least total penalty
of a factorization of beta is ``L |beta|^(2/L)`` (balanced), and stationarity is ridge at the
self-consistent ``lam_eff = lam |beta|^(2/L - 2)``: the minimizers lie on the ridge path, and the
optimal weight decay is ``lam_wd* = lam* |beta*|^(2 - 2/L)`` (lam* = sigma^2/gamma).
"""
from __future__ import annotations

import random

import sympy as sp

from symtransfer import formulas, formulas_l2sp
from symtransfer.symbols import gamma, lam, sigma, theta

from . import NUMERIC, Result, holds, is_zero, rational, same
from .primitives import asymptotic, min_norm_noise
from .ridge import M0, M1, M2, RIDGE_DOMAIN, stieltjes, z
from .source import statistics

PSI = 1 / gamma
r2 = sp.Symbol("r2", positive=True)
t = formulas_l2sp.t
SOURCES = ("population", "finite")
POSITIVE_LAM = {lam: lambda rng, i: rational(rng, 0.001, 3)}


def residual_norm2(source: str) -> sp.Expr:
    """|w|^2 = |beta_t - beta_hat_s|^2 = N_s - 2 O_s + 1 from the derived source statistics."""
    norm2, overlap = statistics(source)
    return norm2 - 2 * overlap + 1


def reduction_identity(seed: int = 3) -> bool:
    """(S + lam)^{-1}(lam b + X^T y/n) = b + (S + lam)^{-1} X^T (y - X b)/n on exact random
    rational matrices (n = 3, d = 4) and a symbolic lam."""
    rng = random.Random(seed)
    n, dim = 3, 4
    X = sp.Matrix(n, dim, lambda i, j: sp.Rational(rng.randint(-9, 9), rng.randint(1, 5)))
    y = sp.Matrix(n, 1, lambda i, j: sp.Rational(rng.randint(-9, 9), 7))
    b = sp.Matrix(dim, 1, lambda i, j: sp.Rational(rng.randint(-9, 9), 3))
    A = (X.T * X / n + lam * sp.eye(dim)).inv()
    lhs = A * (lam * b + X.T * y / n)
    rhs = b + A * X.T * (y - X * b) / n
    return all(sp.cancel(e) == 0 for e in lhs - rhs)


def risk_in_moments() -> sp.Expr:
    """Ridge on a teacher of squared norm r2: the bias lam^2 w^T (S+lam)^{-2} w -> r2 lam^2 m'."""
    return r2 * lam ** 2 * M1 + sigma ** 2 * PSI * (M0 - lam * M1)


def derive() -> dict:
    m = stieltjes()
    at = {M0: m.subs(z, -lam), M1: sp.diff(m, z).subs(z, -lam)}
    R = risk_in_moments()
    slope = sp.diff(R, lam) + sp.diff(R, M0) * (-M1) + sp.diff(R, M1) * (-M2)
    stationary = [f for f in sp.Mul.make_args(sp.factor(slope))
                  if f.has(lam) and not f.has(M1, M2)]
    star = sp.solve(stationary[0], lam)[0]
    out = {"slope": slope, "lam_star_r2": star}
    for source in SOURCES:
        w2 = residual_norm2(source)
        risk = R.subs(at).subs(r2, w2)
        out[source] = {
            "risk": risk,
            "lam_star": star.subs(r2, w2),
            "risk_star": (r2 * lam * m.subs(z, -lam)).subs(lam, star).subs(r2, w2),
        }
    return out


def _increasing_in_r2() -> bool:
    """R*(r2) = (sqrt(s^2 + 4 sigma^2 r2) - s)/2, s = r2 (gamma-1) + sigma^2:
    2 dR*/dr2 = N/D - (gamma-1) with N = s(gamma-1) + 2 sigma^2 = r2 (1-gamma)^2 + sigma^2(1+gamma) > 0
    and N^2 - (gamma-1)^2 D^2 = 4 sigma^4 gamma > 0, so N/D > |gamma - 1|: dR*/dr2 > 0."""
    s = r2 * (gamma - 1) + sigma ** 2
    D2 = s ** 2 + 4 * sigma ** 2 * r2
    Rstar = (sp.sqrt(D2) - s) / 2
    N = s * (gamma - 1) + 2 * sigma ** 2
    ok_derivative = is_zero(2 * sp.diff(Rstar, r2) - (N / sp.sqrt(D2) - (gamma - 1)))
    ok_N = is_zero(N - (r2 * (1 - gamma) ** 2 + sigma ** 2 * (1 + gamma)))
    ok_gap = sp.expand(N ** 2 - (gamma - 1) ** 2 * D2 - 4 * sigma ** 4 * gamma) == 0
    return ok_derivative and ok_N and ok_gap


# --------------------------------------------------------------------------- depth-2 network

g_u, g2, s0, tt = sp.symbols("g_u g2 s0 tt", real=True)


def network_stationarity() -> dict:
    """Solve the depth-2 stationarity for the readout: with W_1 = W_1^0 + g w_2^T/lam,
    ``lam (w_2 - w_2^0) = W_1^T g`` is ``w_2 (lam - |g|^2/lam) = s v (lam + u.g)``: w_2 = t v with
    t below. Then beta = W_1 w_2 = s t u + t^2 g/lam, and eliminating g the t-equation."""
    t_sol = s0 * (lam + g_u) / (lam - g2 / lam)
    # with g = lam (beta - t s u)/t^2: u.g = lam (ub - t s)/t^2, |g|^2 = lam^2 |beta - t s u|^2/t^4
    ub, bb = sp.symbols("ub bb", real=True)
    gu = lam * (ub - tt * s0) / tt ** 2
    gg = lam ** 2 * (bb - 2 * tt * s0 * ub + tt ** 2 * s0 ** 2) / tt ** 4
    equation = sp.expand((tt * (lam - gg / lam) - s0 * (lam + gu)) * tt ** 3 / lam)
    return {"t": t_sol, "equation": equation, "ub": ub, "bb": bb}


def network_equation_derived() -> sp.Expr:
    """The t-equation with the Marchenko-Pastur values of u.beta and |beta|^2 (population
    source, s = 1, u = beta_s): beta = t u + delta, delta ridge (penalty lam' = lam/t^2) on the
    teacher w_t = beta_t - t u, so u.delta -> (u.w_t)(1 - lam' M0) and
    |delta|^2 -> |w_t|^2 (1 - 2 lam' M0 + lam'^2 M1) + sigma^2 psi (M0 - lam' M1)."""
    e = network_stationarity()
    c = sp.cos(theta)
    eff = lam / tt ** 2
    shrink = 1 - eff * M0  # int x/(x + lam') dmu
    uw, ww = c - tt, 1 - 2 * tt * c + tt ** 2
    delta2 = ww * (1 - 2 * eff * M0 + eff ** 2 * M1) + sigma ** 2 * PSI * (M0 - eff * M1)
    values = {e["ub"]: tt + uw * shrink, e["bb"]: tt ** 2 + 2 * tt * uw * shrink + delta2}
    return sp.expand(e["equation"].subs(s0, 1).subs(values))


def checks() -> list[Result]:
    e = derive()
    factored = (r2 * lam - sigma ** 2 * PSI) * (2 * M1 - lam * M2)
    results = [
        holds("l2sp: beta_hat - beta_hat_s is ridge on the residual target (exact matrices)",
              reduction_identity()),
        holds("l2sp: dR/dlam = (|w|^2 lam - sigma^2/gamma)(2 m' - lam m'')",
              sp.expand(e["slope"] - factored) == 0, f"dR/dlam = {sp.factor(e['slope'])}"),
        holds("l2sp: R(lam*) = |w|^2 lam* m(-lam*)",
              sp.expand(risk_in_moments().subs(lam, e["lam_star_r2"])
                        - r2 * e["lam_star_r2"] * M0) == 0),
        holds("l2sp: R* increases with |w|^2 (so T_fair > 0 iff |w|^2 < 1)", _increasing_in_r2()),
        same(formulas_l2sp.residual_norm2("population"), 2 - 2 * sp.cos(theta),
             "l2sp: |w|^2 = 4 sin^2(theta/2) = 2 - 2 cos(theta) (population)", symbolic=False),
    ]
    for source in SOURCES:
        d = e[source]
        shipped = formulas_l2sp.l2sp(source)
        positive = shipped.args[0][0]  # the lam > 0 branch
        # the Stieltjes root and the shipped cancellation-free forms differ as expressions
        # (sqrt branches), so these are decided numerically at 50 digits (the symbolic zero test
        # takes minutes on the finite-source Piecewise and decides nothing)
        results += [
            same(d["risk"], positive, f"l2sp: risk vs l2sp('{source}'), lam > 0",
                 domain=POSITIVE_LAM, symbolic=False),
            same(d["risk"].subs(lam, sp.Rational(1, 10 ** 60)), shipped.subs(lam, 0),
                 f"l2sp: lam -> 0 ({source}) is the shipped lam = 0 branch", symbolic=False),
            same(shipped.subs(lam, 0), formulas.finetune("paper", source),
                 f"l2sp: lam = 0 is the paper's fine-tuning form ({source})"),
            same(d["risk"].subs(lam, sp.Integer(10) ** 60), residual_norm2(source),
                 f"l2sp: lam -> inf stays at beta_hat_s, R = |w|^2 ({source})", symbolic=False),
            same(d["lam_star"], formulas_l2sp.l2sp_optimal_penalty(source),
                 f"l2sp: lam* vs l2sp_optimal_penalty('{source}')", symbolic=False),
            same(d["risk_star"], formulas_l2sp.l2sp_optimal(source),
                 f"l2sp: R(lam*) vs l2sp_optimal('{source}')", symbolic=False),
        ]
    results += [
        same(formulas_l2sp.l2sp_optimal("population").subs(theta, sp.pi / 3),
             formulas.optimal_ridge(), "l2sp: R* at theta = pi/3 (|w| = 1) is optimal ridge",
             symbolic=False),
        same(network_equation_derived().subs(tt, t),
             sp.expand(formulas_l2sp.network_equation(sp.cos(theta), M0, M1)),
             "l2sp network (L=2): t-equation vs network_equation()",
             domain={**RIDGE_DOMAIN, M0: lambda rng, i: rational(rng, 0.1, 3),
                     M1: lambda rng, i: rational(rng, 0.1, 3),
                     t: lambda rng, i: rational(rng, 0.2, 3),
                     tt: lambda rng, i: rational(rng, 0.2, 3)}),
        _small_lam_check(),
        _imbalance_not_conserved(),
        _weight_decay_on_ridge_path(),
        same(ridge_norm2_derived(), formulas_l2sp.ridge_norm2(),
             "weight decay: |beta_ridge|^2 vs ridge_norm2()", domain=POSITIVE_LAM,
             symbolic=False),
    ]
    return results


def _small_lam_check() -> Result:
    """lam -> 0 limit of the depth-2 t-equation (gamma < 1). The atom of mass 1 - gamma of the
    Marchenko-Pastur law at 0 gives lam' M0 -> 1 - gamma and lam'^2 M1 -> 1 - gamma; F is linear in
    sigma^2 with coefficient -psi (M0 - lam' M1), the noise of ridge, whose lam -> 0 limit is the
    min-norm noise E|X^+ eps|^2/sigma^2 -> gamma/(1 - gamma) (the inverse-Wishart primitive). The
    result, t^4 - t^3 + gamma cos(theta) t - B = 0, has t = 1 at sigma = 0 only for theta = 0,
    whereas fine-tuning's flow ends at c = 1 there."""
    F = network_equation_derived()
    eff = lam / tt ** 2
    e0, e1 = sp.symbols("e0 e1")
    coefficient = sp.expand(F).coeff(sigma, 2)
    ok_noise = sp.expand(coefficient + PSI * (M0 - eff * M1)) == 0
    noise_limit = asymptotic(min_norm_noise())  # sigma^2 gamma/(1 - gamma)
    quiet = sp.expand(F.subs(sigma, 0).subs({M0: e0 / eff, M1: e1 / eff ** 2}))
    limit = sp.expand(quiet.subs({e0: 1 - gamma, e1: 1 - gamma}) - noise_limit)
    B = gamma + sigma ** 2 * gamma / (1 - gamma)
    expected = tt ** 4 - tt ** 3 + gamma * sp.cos(theta) * tt - B
    ok = is_zero(limit - expected) and ok_noise
    at_one = sp.factor(expected.subs({tt: 1, sigma: 0}))
    return holds("l2sp network (L=2): lam -> 0 gives t^4 - t^3 + gamma cos(theta) t - B = 0, "
                 "not fine-tuning's c = 1 at sigma = 0",
                 ok and is_zero(at_one - gamma * (sp.cos(theta) - 1)),
                 f"sigma = 0: F(1) = {at_one} (< 0 for theta > 0, so t > 1)")


def _imbalance_not_conserved(dim: int = 2) -> Result:
    """Flow of (1/2)|beta - beta*|^2 + lam/2 (|W_1 - A|^2 + |w_2 - a|^2) on symbolic 2 x 2 matrices:
    the loss part of d/dt (W_1^T W_1 - w_2 w_2^T) cancels, the penalty part does not, and
    P_perp (W_1 - A) obeys d/dt = -lam P_perp (W_1 - A) (frozen if it starts at 0)."""
    W = sp.Matrix(dim, dim, lambda i, j: sp.Symbol(f"w{i}{j}"))
    w = sp.Matrix(dim, 1, lambda i, j: sp.Symbol(f"v{i}"))
    A = sp.Matrix(dim, dim, lambda i, j: sp.Symbol(f"a{i}{j}"))
    a = sp.Matrix(dim, 1, lambda i, j: sp.Symbol(f"b{i}"))
    g = sp.Matrix(dim, 1, lambda i, j: sp.Symbol(f"g{i}"))  # loss gradient wrt beta
    dW = -(g * w.T) - lam * (W - A)
    dw = -(W.T * g) - lam * (w - a)
    dD = dW.T * W + W.T * dW - (dw * w.T + w * dw.T)
    loss_part = dD.subs(lam, 0)
    penalty = sp.expand(dD - loss_part)
    ok = all(sp.expand(x) == 0 for x in loss_part) and any(x != 0 for x in penalty)
    return holds("l2sp network: the penalty breaks the conservation of W_1^T W_1 - w_2 w_2^T "
                 "(loss part cancels)", ok, f"d/dt D (penalty part)[0,0] = {penalty[0, 0]}")


def ridge_norm2_derived() -> sp.Expr:
    """|beta_ridge|^2 = beta^T S^2 (S+lam)^{-2} beta + sigma^2 psi int x/(x+lam)^2 dmu
    -> 1 - 2 lam m + lam^2 m' + sigma^2 psi (m - lam m') (unit teacher; x^2/(x+lam)^2 split)."""
    x = sp.Symbol("x", positive=True)
    assert sp.simplify(x ** 2 / (x + lam) ** 2
                       - (1 - 2 * lam / (x + lam) + lam ** 2 / (x + lam) ** 2)) == 0
    m = stieltjes()
    moments = {M0: m.subs(z, -lam), M1: sp.diff(m, z).subs(z, -lam)}
    return (1 - 2 * lam * M0 + lam ** 2 * M1 + sigma ** 2 * PSI * (M0 - lam * M1)).subs(moments)


def _weight_decay_on_ridge_path() -> Result:
    """Depth L, balanced factorization of beta (the cheapest, by AM-GM on the singular values):
    penalty lam/2 * L |beta|^(2/L); its gradient lam |beta|^(2/L - 2) beta makes stationarity the ridge
    normal equation at lam_eff = lam |beta|^(2/L-2); inverting gives lam = lam_eff |beta|^(2-2/L)."""
    L = sp.Symbol("L", positive=True)
    nb = sp.Symbol("nb", positive=True)  # |beta|
    x = sp.Symbol("x", positive=True)   # the common singular value
    penalty = L * x ** 2 / 2  # L layers of singular value x = |beta|^(1/L)
    grad_norm = sp.diff(penalty.subs(x, nb ** (1 / L)), nb)  # d/d|beta| of lam/2 L |beta|^(2/L)
    lam_eff = sp.simplify(grad_norm / nb)
    ok = sp.simplify(lam_eff - nb ** (2 / L - 2)) == 0
    shipped = formulas_l2sp.weight_decay_of_ridge(L, norm2=nb ** 2)
    ok_ship = sp.simplify(shipped - lam * nb ** (2 - 2 / L)) == 0
    return holds("weight decay: scratch minimizers are ridge at lam_eff = lam |beta|^(2/L-2); "
                 "weight_decay_of_ridge() inverts it", ok and ok_ship,
                 f"lam_eff/lam = {lam_eff}", how=NUMERIC if not ok else "symbolic")
