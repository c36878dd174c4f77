"""Dataset-centric distances between the joint laws of two tasks, and the feature overlap.

Primitives (zero-mean Gaussians N(0, P), N(0, Q) on R^D; textbook facts):

(a) ``KL(N(0,P) || N(0,Q)) = 1/2 [tr(Q^{-1} P) - D + ln det Q - ln det P]``.
(b) Bhattacharyya coefficient ``BC = det(P)^{1/4} det(Q)^{1/4} det((P + Q)/2)^{-1/2}``;
    squared Hellinger distance ``H^2 = 1 - BC``.
(c) Wasserstein-2 (Dowson-Landau, Gelbrich, Bures):
    ``W2^2 = tr P + tr Q - 2 tr (Q^{1/2} P Q^{1/2})^{1/2}``; the last trace is the sum of the
    square roots of the eigenvalues of ``P Q`` (similar to ``Q^{1/2} P Q^{1/2}``).
(d) Gaussian kernel mean: for ``w ~ N(0, C)``, ``E exp(-|w|^2/(2 h^2)) = det(I + C/h^2)^{-1/2}``
    (diagonalize C; each coordinate is the 1-D integral, checked here with sympy). With
    ``u ~ N(0, P)``, ``v ~ N(0, Q)`` independent, ``u - v ~ N(0, P + Q)``.
(e) Block matrices: ``det [[I, b], [b^T, c]] = c - |b|^2`` (Schur complement) and the block
    inverse; checked on a generic 3-vector with symbolic entries.

Reduction. The joint covariance of ``(x, y)`` is ``S(b, s) = [[I_d, b], [b^T, |b|^2 + s^2]]``.
In the orthonormal basis ``(e1 = b_s/|b_s|, e2, ..., e_d, e_y)`` with ``b_t`` in
``span(e1, e2)``, both covariances are ``blockdiag(R, I_{d-2})`` with 3 x 3 blocks ``R`` on
``(e1, e2, e_y)``: ``b_s -> (|b_s|, 0)``, ``b_t -> (|b_t| cos, |b_t| sin)``. Traces pick up
``d - 2`` from the identity block, determinants nothing, so every primitive reduces to 3 x 3
symbolic matrices with ``d`` kept as a symbol. The reduction itself is confirmed on dense
matrices: exactly (rational arithmetic) for KL, BC and the kernel means in d = 4, and at 50
digits for W2 (mpmath ``sqrtm``) in d = 4.

W2 has no factorable closed form at a general angle: its eigenvalues are the roots of the
cubic ``l^3 - t1 l^2 + t2 l - t3`` (invariants derived here), shipped as Viete's trigonometric
roots (checked numerically against dense Bures). For parallel teachers ``l = 1`` is a root,
which gives the radical form, and ``T^2 - 4 B`` is a sum of squares (cancellation-free).
"""
from __future__ import annotations

import math
import random

import mpmath
import numpy as np
import sympy as sp

from symtransfer import distances as dist
from symtransfer import formulas
from symtransfer.symbols import d, gamma, lam, n, sigma, sigma_s, theta

from . import Result, holds, is_zero, rational, same

S = dist.symbols()
ns, nt, h, gs = S["norm_s"], S["norm_t"], S["h"], S["gamma_s"]
k = sp.Symbol("k", positive=True)
L2, L3 = sp.symbols("l2 l3", positive=True)

DOMAIN = {
    ns: lambda rng, i: rational(rng, 0, 3),
    nt: lambda rng, i: rational(rng, 0, 3),
    sigma: lambda rng, i: rational(rng, 0.05, 1.5),
    sigma_s: lambda rng, i: rational(rng, 0.05, 1.5),
    h: lambda rng, i: rational(rng, 0.2, 4),
    d: lambda rng, i: sp.Integer(rng.randint(1, 60)),
}
POINTS = 12


def joint_covariance(b: list, s) -> sp.Matrix:
    """[[I, b], [b^T, |b|^2 + s^2]] for an explicit vector b."""
    m = len(b)
    M = sp.eye(m + 1)
    for i, bi in enumerate(b):
        M[i, m] = M[m, i] = bi
    M[m, m] = sum(bi ** 2 for bi in b) + s ** 2
    return M


def reduced() -> tuple[sp.Matrix, sp.Matrix]:
    """The 3 x 3 blocks on (e1, e2, e_y) of the source and target covariances."""
    P = joint_covariance([ns, 0], sigma_s)
    Q = joint_covariance([nt * sp.cos(theta), nt * sp.sin(theta)], sigma)
    return P, Q


def _trig(e: sp.Expr) -> sp.Expr:
    return sp.expand(sp.expand(e).subs(sp.sin(theta) ** 2, 1 - sp.cos(theta) ** 2))


# --------------------------------------------------------------------------- derivations

def derive() -> dict[str, sp.Expr]:
    P, Q = reduced()
    D = d + 1
    det_p, det_q = sp.factor(_trig(P.det())), sp.factor(_trig(Q.det()))
    # (a): tr over R^D = tr_3 + (d - 2) (identity block); det over R^D = det_3
    tr_qp = _trig((Q.inv() * P).trace())
    kl = (tr_qp + (d - 2) - D + sp.log(det_q) - sp.log(det_p)) / 2
    # (b)
    det_m = sp.factor(_trig(((P + Q) / 2).det()))
    bc = det_p ** sp.Rational(1, 4) * det_q ** sp.Rational(1, 4) / sp.sqrt(det_m)

    # (d): E k(u, v) = det(I_3 + C_3/h^2)^{-1/2} (1 + 2/h^2)^{-(d-2)/2}, C = cov(u) + cov(v)
    def mean_kernel(C: sp.Matrix) -> sp.Expr:
        det3 = sp.factor(_trig((sp.eye(3) + C / h ** 2).det()))
        return det3 ** sp.Rational(-1, 2) * (1 + 2 / h ** 2) ** (-(d - 2) / 2)

    mmd2 = mean_kernel(2 * P) + mean_kernel(2 * Q) - 2 * mean_kernel(P + Q)
    # (c): invariants of the reduced product P Q
    M = P * Q
    t1 = _trig(M.trace())
    t2 = _trig((M.trace() ** 2 - (M * M).trace()) / 2)
    t3 = sp.factor(_trig(M.det()))
    return {"kl": kl, "bc": bc, "mmd2": mmd2, "t1": t1, "t2": t2, "t3": t3,
            "det_p": det_p, "det_q": det_q, "det_m": det_m}


def w2_parallel_derived(t1, t2, t3) -> tuple[sp.Expr, sp.Expr]:
    """theta = 0: the cubic has the root 1; the other two, l2 + l3 = t1 - 1, l2 l3 = t3, give
    sqrt(l2) + sqrt(l3) = sqrt(t1 - 1 + 2 sqrt(t3)). Returns (W2, the cubic at l = 1)."""
    cubic_at_1 = sp.factor(_trig(1 - t1 + t2 - t3))
    fid = 1 + sp.sqrt((t1 - 1).subs(theta, 0) + 2 * sp.sqrt(t3))
    trace = 4 + ns ** 2 + sigma_s ** 2 + nt ** 2 + sigma ** 2
    return sp.sqrt(trace - 2 * fid), cubic_at_1


# --------------------------------------------------------------------------- primitives

def block_primitives() -> Result:
    """(e) on b = (b1, b2, b3): det = s^2 and the block inverse, exact polynomial arithmetic."""
    b = list(sp.symbols("b1:4", real=True))
    s = sp.Symbol("s", positive=True)
    Sm = joint_covariance(b, s)
    bb = sp.Matrix(b)
    inv = sp.BlockMatrix([[sp.eye(3) + bb * bb.T / s ** 2, -bb / s ** 2],
                          [-bb.T / s ** 2, sp.Matrix([[1 / s ** 2]])]]).as_explicit()
    ok = sp.expand(Sm.det() - s ** 2) == 0 and (Sm * inv).applyfunc(sp.cancel) == sp.eye(4)
    return holds("distances: joint covariance det = sigma^2 and its block inverse (Schur)", ok,
                 "det [[I, b], [b^T, |b|^2 + s^2]] = s^2; inverse [[I + bb^T/s^2, -b/s^2], "
                 "[-b^T/s^2, 1/s^2]] (b in R^3, symbolic)")


def kernel_primitive() -> Result:
    """(d) in one dimension: int exp(-w^2/(2h^2)) N(w; 0, c) dw = h/sqrt(h^2 + c)."""
    w = sp.Symbol("w", real=True)
    c = sp.Symbol("c", positive=True)
    integral = sp.integrate(sp.exp(-w ** 2 / (2 * h ** 2) - w ** 2 / (2 * c))
                            / sp.sqrt(2 * sp.pi * c), (w, -sp.oo, sp.oo))
    return holds("distances: Gaussian kernel mean E exp(-w^2/2h^2) = (1 + c/h^2)^(-1/2)",
                 is_zero(integral - (1 + c / h ** 2) ** sp.Rational(-1, 2)),
                 "1-D integral by sympy; D dimensions by diagonalizing C")


# --------------------------------------------------------------------------- dense checks

def _rational_pair(rng: random.Random, dim: int):
    bs = [sp.Rational(rng.randint(-20, 20), 10) for _ in range(dim)]
    bt = [sp.Rational(rng.randint(-20, 20), 10) for _ in range(dim)]
    ss, st = sp.Rational(rng.randint(2, 15), 10), sp.Rational(rng.randint(2, 15), 10)
    return bs, bt, ss, st


def _point(bs, bt, ss, st) -> dict:
    A = sum(x ** 2 for x in bs)
    C = sum(x ** 2 for x in bt)
    B = sum(x * y for x, y in zip(bs, bt))
    return {ns: sp.sqrt(A), nt: sp.sqrt(C), theta: sp.acos(B / sp.sqrt(A * C)),
            sigma_s: ss, sigma: st, d: len(bs)}


def dense_exact(points: int = 3, dim: int = 4) -> list[Result]:
    """KL, BC^4 and the kernel means on dense (d+1) x (d+1) rational matrices, exactly."""
    rng = random.Random(7)
    hv = sp.Rational(3, 2)
    ok_kl = ok_bc = ok_mmd = True
    for _ in range(points):
        bs, bt, ss, st = _rational_pair(rng, dim)
        P, Q = joint_covariance(bs, ss), joint_covariance(bt, st)
        D = dim + 1
        kl_dense = (sp.Rational((Q.inv() * P).trace()) - D) / 2 + sp.log(Q.det() / P.det()) / 2
        pt = _point(bs, bt, ss, st)
        ok_kl &= is_zero(sp.expand_log(sp.radsimp(dist.expression("kl").xreplace(pt)), force=True)
                         - sp.expand_log(kl_dense, force=True))
        bc4_dense = P.det() * Q.det() / ((P + Q) / 2).det() ** 2
        ok_bc &= sp.radsimp(dist.expression("bhattacharyya").xreplace(pt) ** 4 - bc4_dense) == 0

        def mean_kernel(C):  # (d) on the dense matrix: det(I + C/h^2)^(-1/2), exact
            return 1 / sp.sqrt((sp.eye(D) + C / hv ** 2).det())

        mmd_dense = mean_kernel(2 * P) + mean_kernel(2 * Q) - 2 * mean_kernel(P + Q)
        ok_mmd &= is_zero(sp.radsimp(dist.expression("mmd2").xreplace({**pt, h: hv}))
                          - mmd_dense)
    how = "exact rational arithmetic"
    detail = f"{points} random rational pairs, d = {dim}, dense {dim + 1} x {dim + 1} matrices"
    return [holds("distances: KL on dense matrices (exact) = shipped", ok_kl, detail, how),
            holds("distances: Bhattacharyya^4 on dense matrices (exact) = shipped", ok_bc,
                  detail, how),
            holds("distances: MMD^2 on dense matrices (exact) = shipped",
                  ok_mmd, detail + ", h = 3/2", how)]


def w2_dense_numeric(points: int = 6, dim: int = 4) -> Result:
    """Shipped W2 (Viete) and the numpy implementation vs Bures on dense matrices at 50 digits
    (random norms, angle, noises; teachers placed in random orthonormal directions of R^dim)."""
    rng = np.random.default_rng(3)
    shipped = dist.expression("w2")
    worst = mpmath.mpf(0)
    worst_np = 0.0
    with mpmath.workdps(60):
        for _ in range(points):
            a, b = rng.uniform(0, 2.5, 2)
            th, s1, s2 = rng.uniform(0, math.pi), *rng.uniform(0.05, 1.5, 2)
            g1, g2 = ([mpmath.mpf(x) for x in rng.standard_normal(dim)] for _ in range(2))
            u = [x / mpmath.sqrt(sum(y ** 2 for y in g1)) for x in g1]  # Gram-Schmidt, 60 dig.
            g2 = [y - sum(p * q for p, q in zip(u, g2)) * x for x, y in zip(u, g2)]
            v = [x / mpmath.sqrt(sum(y ** 2 for y in g2)) for x in g2]
            bs = [a * x for x in u]
            bt = [b * (mpmath.cos(th) * x + mpmath.sin(th) * y) for x, y in zip(u, v)]

            def cov(beta, s):
                M = mpmath.eye(dim + 1)
                for i, x in enumerate(beta):
                    M[i, dim] = M[dim, i] = x
                M[dim, dim] = sum(x ** 2 for x in beta) + mpmath.mpf(s) ** 2
                return M

            P, Q = cov(bs, s1), cov(bt, s2)
            R = mpmath.sqrtm(Q)
            root = mpmath.sqrtm(R * P * R)  # fidelity: tr sqrt(Q^1/2 P Q^1/2)
            fid = sum(root[i, i] for i in range(dim + 1))
            dense = mpmath.sqrt(sum(P[i, i] + Q[i, i] for i in range(dim + 1)) - 2 * fid)
            pt = {ns: sp.Float(a, 60), nt: sp.Float(b, 60), theta: sp.Float(th, 60),
                  sigma_s: sp.Float(s1, 60), sigma: sp.Float(s2, 60)}
            value = mpmath.mpf(sp.re(sp.N(shipped.xreplace(pt), 60)))
            worst = max(worst, abs(value - dense) / max(abs(dense), mpmath.mpf(1)))
            num = dist.wasserstein2(norm_s=a, norm_t=b, cos=math.cos(th), sigma_s=s1, sigma_t=s2)
            worst_np = max(worst_np, abs(num - float(dense)))
    return holds("distances: W2 shipped (Viete) and numpy vs dense Bures (mpmath sqrtm, d = 4)",
                 worst < 1e-40 and worst_np < 1e-12,
                 f"{points} pts: shipped max rel err {mpmath.nstr(worst, 3)}, numpy max abs "
                 f"err {worst_np:.1e}", how="numeric@50 digits (dense)")


def numpy_vs_shipped(points: int = 40) -> Result:
    """The float64 functions of symtransfer.distances against the shipped expressions."""
    rng = random.Random(11)
    names = {"kl": dist.kl, "hellinger": dist.hellinger, "w2": dist.wasserstein2}
    exprs = {name: sp.lambdify([ns, nt, theta, sigma_s, sigma, h, d], dist.expression(name),
                               "mpmath")
             for name in ("kl", "hellinger", "w2", "w2_parallel", "mmd2")}
    worst: dict[str, float] = {}
    for i in range(points):
        a, b = rng.uniform(0, 3), rng.uniform(0, 3)
        th = 0.0 if i % 4 == 0 else rng.uniform(0, math.pi)
        s1, s2 = rng.uniform(0.05, 1.5), rng.uniform(0.05, 1.5)
        hv, dim = rng.uniform(0.5, 4), rng.randint(1, 40)
        kw = dict(norm_s=a, norm_t=b, cos=math.cos(th), sigma_s=s1, sigma_t=s2)
        args = (a, b, th, s1, s2, hv, dim)
        with mpmath.workdps(30):
            pairs = [(name, fn(**kw), exprs[name](*args)) for name, fn in names.items()]
            if th == 0.0:
                pairs.append(("w2_parallel", dist.wasserstein2(**kw), exprs["w2_parallel"](*args)))
            pairs.append(("mmd2", dist.mmd2(bandwidth=hv, d=dim, **kw), exprs["mmd2"](*args)))
            for name, got, want in pairs:
                want = float(mpmath.re(want))
                err = abs(got - want) / max(abs(want), 1e-3)
                worst[name] = max(worst.get(name, 0.0), err)
    ok = all(v < 1e-9 for v in worst.values())
    detail = ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
    return holds("distances: numpy implementations = shipped expressions (float64)", ok,
                 f"{points} pts, max rel err (abs below 1e-3): {detail}", how="numeric float64")


# --------------------------------------------------------------------------- checks

def checks() -> list[Result]:
    e = derive()
    t1, t2, t3 = dist.w2_cubic()
    diff2 = ns ** 2 + nt ** 2 - 2 * ns * nt * sp.cos(theta)
    w2_par, cubic_at_1 = w2_parallel_derived(e["t1"], e["t2"], e["t3"])
    a, b = ns, nt
    T = 2 + a ** 2 + sigma_s ** 2 + b ** 2 + sigma ** 2
    Bp = (t1 - 1).subs(theta, 0) + 2 * sigma_s * sigma
    squares = (a ** 2 + sigma_s ** 2 - b ** 2 - sigma ** 2) ** 2 + 4 * (a - b) ** 2 \
        + 4 * (sigma_s - sigma) ** 2
    kl = dist.expression("kl")
    family = {nt: k * ns, theta: 0}
    results = [
        block_primitives(),
        kernel_primitive(),
        holds("distances: reduced determinants det P = sigma_s^2, det Q = sigma^2, "
              "det((P+Q)/2) = (sigma_s^2 + sigma^2)/2 + |b_s - b_t|^2/4",
              is_zero(e["det_p"] - sigma_s ** 2) and is_zero(e["det_q"] - sigma ** 2)
              and is_zero(_trig(e["det_m"] - (sigma_s ** 2 + sigma ** 2) / 2 - diff2 / 4))),
        same(sp.expand_log(e["kl"], force=True), sp.expand_log(kl, force=True),
             "distances: KL(p_s || p_t) from (a) vs shipped", domain=DOMAIN, points=POINTS),
        same(kl.subs(sigma_s, sigma), diff2 / (2 * sigma ** 2),
             "distances: equal noise KL = |beta_s - beta_t|^2/(2 sigma^2)", domain=DOMAIN,
             points=POINTS),
        same(e["bc"], dist.expression("bhattacharyya"),
             "distances: Bhattacharyya coefficient from (b) vs shipped", domain=DOMAIN,
             points=POINTS),
        holds("distances: Bhattacharyya^4 from (b) = shipped^4 (rational functions)",
              is_zero(_trig(e["bc"] ** 4 - dist.expression("bhattacharyya") ** 4))),
        same(sp.sqrt(1 - e["bc"]), dist.expression("hellinger"),
             "distances: Hellinger sqrt(1 - BC) vs shipped", domain=DOMAIN, points=POINTS),
        same(e["mmd2"], dist.expression("mmd2"), "distances: MMD^2 from (d) vs shipped",
             domain=DOMAIN, points=POINTS),
        holds("distances: W2 cubic invariants t1, t2, t3 of the reduced P Q vs shipped",
              all(is_zero(_trig(x - y)) for x, y in ((e["t1"], t1), (e["t2"], t2),
                                                     (e["t3"], t3)))),
        holds("distances: W2 cubic at l = 1 is |b_s|^2 |b_t|^2 (cos^2 - 1): l = 1 a root iff "
              "parallel", is_zero(cubic_at_1 - ns ** 2 * nt ** 2 * (sp.cos(theta) ** 2 - 1))),
        holds("distances: sqrt(l2) + sqrt(l3) = sqrt(l2 + l3 + 2 sqrt(l2 l3)) (l2, l3 > 0)",
              is_zero(sp.expand((sp.sqrt(L2) + sp.sqrt(L3)) ** 2)
                      - (L2 + L3 + 2 * sp.sqrt(L2 * L3)))),
        same(w2_par, dist.expression("w2_parallel"),
             "distances: W2 parallel teachers (root l = 1) vs shipped", domain=DOMAIN,
             points=POINTS),
        holds("distances: W2 parallel T^2 - 4B = (a^2+s_s^2-b^2-s_t^2)^2 + 4(a-b)^2 + "
              "4(s_s-s_t)^2 (cancellation-free)", is_zero(sp.expand(T ** 2 - 4 * Bp - squares))),
        w2_dense_numeric(),
        *dense_exact(),
        numpy_vs_shipped(),
        # Thm 2.2 and the feature-centric overlap
        holds("distances: Thm 2.2 family beta_t = k beta_s: linear-transfer risk 0 for all k",
              dist.expression("linear_transfer_risk").xreplace(family) == 0
              and sp.simplify(dist.expression("linear_transfer_risk_finite").xreplace(family)
                              - sigma ** 2 / (n - 2)) == 0,
              "n -> infinity: 0; n samples: sigma^2/(n - 2), independent of k"),
        holds("distances: Thm 2.2 family: KL, W2 -> infinity, Hellinger -> 1, MMD^2 -> E k_ss "
              "as k -> infinity", _limits_ok(family)),
        same(dist.expression("linear_transfer_risk_finite").subs({nt: 1, n: gamma * d}),
             formulas.linear_finite(),
             "distances: linear_transfer_risk_finite at |beta_t| = 1 vs linear_finite()"),
        same(dist.expression("feature_overlap"),
             formulas.linear("population").subs(lam, 0),
             "distances: overlap sin^2 theta = ridgeless linear-transfer risk (population)"),
        same(dist.expression("linear_transfer_risk").subs(nt, 1),
             dist.expression("feature_overlap"),
             "distances: linear_transfer_risk / |beta_t|^2 = overlap"),
        same(dist.expression("feature_overlap_finite"),
             _overlap_from_statistics(),
             "distances: finite-source overlap vs 1 - O_s^2/N_s (source_statistics)"),
        same(dist.expression("feature_overlap_finite"),
             formulas.linear("finite").subs(lam, 0),
             "distances: finite-source overlap = ridgeless linear-transfer risk (finite)"),
        _numpy_overlap(),
    ]
    return results


def _overlap_from_statistics() -> sp.Expr:
    norm2, overlap = formulas.source_statistics("finite")
    return sp.piecewise_fold(1 - overlap ** 2 / norm2)


def _limits_ok(family: dict) -> bool:
    """Leading behaviour in k along beta_t = k beta_s (sigma_s, sigma > 0)."""
    klk = sp.expand(dist.expression("kl").xreplace(family))
    kl_ok = sp.Poly(klk, k).degree() == 2 and is_zero(
        sp.Poly(klk, k).LC() - ns ** 2 / (2 * sigma ** 2))
    hel = dist.expression("hellinger").xreplace(family)
    hel_ok = sp.limit(hel, k, sp.oo) == 1
    w2sq = (dist.expression("w2_parallel") ** 2).xreplace({nt: k * ns})
    w2_ok = is_zero(sp.limit(w2sq / k ** 2, k, sp.oo) - ns ** 2)
    mmd = dist.expression("mmd2").xreplace(family)
    ekss = (h ** 2 / (h ** 2 + 2)) ** (d / 2) * h / sp.sqrt(
        h ** 2 + 2 * sigma_s ** 2 + 2 * h ** 2 * ns ** 2 / (h ** 2 + 2))
    mmd_ok = is_zero(sp.limit(mmd, k, sp.oo) - ekss)
    return bool(kl_ok and hel_ok and w2_ok and mmd_ok)


def _numpy_overlap() -> Result:
    """expected_feature_overlap (numpy) vs the shipped expressions, both sides of gamma_s = 1."""
    f_pop = sp.lambdify([theta], dist.expression("feature_overlap"))
    f_fin = sp.lambdify([theta, gs, sigma_s], dist.expression("feature_overlap_finite"))
    worst = 0.0
    rng = random.Random(5)
    for i in range(20):
        th, g, s = rng.uniform(0, math.pi), rng.uniform(0.05, 3), rng.uniform(0, 1.5)
        worst = max(worst, abs(dist.expected_feature_overlap(th) - f_pop(th)),
                    abs(dist.expected_feature_overlap(th, gamma_s=g, sigma_s=s)
                        - f_fin(th, g, s)))
    return holds("distances: expected_feature_overlap (numpy) = shipped expressions", worst < 1e-12,
                 f"20 pts, max abs err {worst:.1e}", how="numeric float64")

