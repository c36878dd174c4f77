"""Finite steps and minibatches: which gradient-flow facts survive exactly, which drift.

Setting: ``f(x) = x^T W_1 ... W_L``, any loss of ``beta = W_1 ... W_L`` with gradient g (the
full-batch loss for gd, a minibatch loss for sgd), and the step
``W_l <- W_l - eta G_l`` with ``G_l = (W_1...W_(l-1))^T g (W_(l+1)...W_L)^T``.

Exact under gd and sgd (checked on symbolic matrices):
(a) the imbalance ``D_l = W_l^T W_l - W_(l+1) W_(l+1)^T`` changes by exactly
    ``eta^2 (G_l^T G_l - G_(l+1) G_(l+1)^T)`` per step: the first-order terms cancel (that is
    the flow's conservation law), the second-order ones do not;
(b) the update of W_1 is ``X_B^T (...)``: it lies in the row space of the minibatch, a subspace
    of the row space of X, so ``P_perp W_1`` is frozen under gd and sgd as under the flow;
(c) rank-1 aligned weights ``W_1 = w u_2^T``, ``W_l = s_l u_l u_(l+1)^T``, ``W_L = s_L u_L``
    stay of this form with the same unit vectors (only w and the s_l move).
What drifts, on that family (``P = s_2^2 ... s_L^2``, per step):
(d) ``delta_1 = |w|^2 - s_2^2`` changes by ``eta^2 P (|g|^2 - (w.g)^2/s_2^2)``, which is >= 0 at
    balance (Lagrange's identity / Cauchy-Schwarz): the first layer gains;
    ``delta_l = s_l^2 - s_(l+1)^2`` (l >= 2) changes by ``-eta^2 (w.g)^2 P delta_l/(s_l^2 s_(l+1)^2)``:
    balance between the layers 2..L is kept exactly.
Consequences for fine-tuning (gamma < 1):
(e) the endpoint with final imbalance delta_1 = Delta: ``x = s_L^2`` solves
    ``x^L + (Delta - m^2) x^(L-1) - |b|^2 = 0`` and ``c = x^((L-1)/2)/s0^(L-1)`` (Delta = 0: the
    flow's fixed point of derivations/finetune.py); shipped per run as
    :func:`symtransfer.mc.optimizers.imbalanced_endpoint` (exact given the measured Delta);
(f) to first order ``dc/dDelta = -c (L-1)/(2 (L x - (L-1) m^2))`` (implicit differentiation);
(g) the flow dissipates ``dLoss/dt = -sum_l |G_l|^2``, so summing (d) over the ~1/eta steps,
    ``0 <= Delta = eta int (|G_1|^2 - |G_2|^2) dt + O(eta^2) <= eta (L_0 - L_end)``. The
    integral needs the trajectory: the effect of the step is a per-run prediction from the
    measured drift (e), with the closed-form first-order bound
    :func:`symtransfer.mc.optimizers.shift_bound` (L_0 -> (2 - 2 cos theta + sigma^2)/2).
"""
from __future__ import annotations

import math
import random

import sympy as sp

from symtransfer._roots import positive_root
from symtransfer.mc.optimizers import _scale, shift_bound

from . import NUMERIC, Result, holds, is_zero
from .finetune import bn2, fixed_point_polynomial, m2, q

eta = sp.Symbol("eta", positive=True)
x, Delta, bb, mm = sp.symbols("x Delta b2 m2", positive=True)
Ls = sp.Symbol("L", integer=True, positive=True)


def _layers(L: int, dim: int) -> list[sp.Matrix]:
    shapes = [(dim, dim)] * (L - 1) + [(dim, 1)]
    return [sp.Matrix(r, k, lambda i, j, l=l: sp.Symbol(f"w{l}_{i}{j}"))
            for l, (r, k) in enumerate(shapes)]


def _product(Ws: list[sp.Matrix], dim: int) -> sp.Matrix:
    out = sp.eye(dim)
    for W in Ws:
        out = out * W
    return out


def step_gradients(Ws: list[sp.Matrix], g: sp.Matrix) -> list[sp.Matrix]:
    """``G_l = (W_1...W_(l-1))^T g (W_(l+1)...W_L)^T`` for a loss with dLoss/dbeta = g."""
    dim = g.shape[0]
    grads = []
    for l in range(len(Ws)):
        left = _product(Ws[:l], dim)
        right = sp.eye(1) if l == len(Ws) - 1 else _product(Ws[l + 1:], dim)
        grads.append(left.T * g * right.T)
    return grads


def _imbalances(Ws: list[sp.Matrix]) -> list[sp.Matrix]:
    return [A.T * A - B * B.T for A, B in zip(Ws[:-1], Ws[1:])]


def imbalance_step(L: int, dim: int = 2) -> bool:
    """(a): D_l(W - eta G) - D_l(W) = eta^2 (G_l^T G_l - G_(l+1) G_(l+1)^T), exactly."""
    Ws = _layers(L, dim)
    g = sp.Matrix(dim, 1, lambda i, j: sp.Symbol(f"g{i}"))
    Gs = step_gradients(Ws, g)
    new = [W - eta * G for W, G in zip(Ws, Gs)]
    for D1, D0, A, B in zip(_imbalances(new), _imbalances(Ws), Gs[:-1], Gs[1:]):
        if not (D1 - D0 - eta ** 2 * (A.T * A - B * B.T)).expand().is_zero_matrix:
            return False
    return True


def minibatch_in_row_space() -> bool:
    """(b): for X (2 x 3) and the minibatch of its first row, P_perp X_B^T = 0 with
    ``P_perp = I - X^T (X X^T)^(-1) X``: the W_1 update X_B^T r v^T has no null-space part."""
    X = sp.Matrix(2, 3, lambda i, j: sp.Symbol(f"x{i}{j}"))
    P_perp = sp.eye(3) - X.T * (X * X.T).inv() * X
    return all(sp.cancel(e) == 0 for e in P_perp * X[0, :].T)


def _rank_one_step(L: int):
    """One step from the rank-1 family ``W_1 = w u_2^T, W_l = s_l u_l u_(l+1)^T,
    W_L = s_L u_L`` (``u_l = e_(l-1)`` in dimension L, w free) along a free output gradient
    g: (e, w, s, g, layers before, layers after)."""
    dim = L
    e = [sp.Matrix(dim, 1, lambda i, j, k=k: 1 if i == k else 0) for k in range(dim)]
    w = sp.Matrix(dim, 1, lambda i, j: sp.Symbol(f"v{i}"))
    s = sp.symbols(f"s2:{L + 1}", positive=True)
    Ws = [w * e[0].T] + [s[l - 1] * e[l - 1] * e[l].T for l in range(1, L - 1)] + [s[-1] * e[L - 2]]
    g = sp.Matrix(dim, 1, lambda i, j: sp.Symbol(f"g{i}"))
    return e, w, s, g, Ws, [W - eta * G for W, G in zip(Ws, step_gradients(Ws, g))]


def rank_one_kept(L: int = 3) -> bool:
    """(c): a step from ``W_1 = w u_2^T, W_l = s_l u_l u_(l+1)^T, W_L = s_L u_L`` with
    ``u_l = e_(l-1)`` (orthonormal, in dimension L; rotation invariance makes the choice
    general) and a free vector w keeps each layer's pattern."""
    e, w, s, g, Ws, new = _rank_one_step(L)
    if not (new[0] - new[0] * e[0] * e[0].T).expand().is_zero_matrix:
        return False
    for l in range(1, L - 1):
        M = new[l]
        if not (M - (e[l - 1].T * M * e[l])[0, 0] * e[l - 1] * e[l].T).expand().is_zero_matrix:
            return False
    last = new[-1]
    return (last - (e[L - 2].T * last)[0, 0] * e[L - 2]).expand().is_zero_matrix


def drift_on_family(L: int = 3) -> tuple[bool, bool]:
    """(d): the traces of the imbalances after one step on the rank-1 family, against
    ``eta^2 P (|g|^2 - (w.g)^2/s_2^2)`` (delta_1) and ``-eta^2 (w.g)^2 P delta_l/(s_l^2
    s_(l+1)^2)`` (l >= 2)."""
    e, w, s, g, Ws, new = _rank_one_step(L)
    tr = [(D1 - D0).trace() for D1, D0 in zip(_imbalances(new), _imbalances(Ws))]
    P = sp.Mul(*[si ** 2 for si in s])
    wg = (w.T * g)[0, 0]
    first = eta ** 2 * P * ((g.T * g)[0, 0] - wg ** 2 / s[0] ** 2)
    ok_first = is_zero(sp.expand(tr[0] - first))
    ok_rest = all(is_zero(sp.expand(tr[l] + eta ** 2 * wg ** 2 * P * (s[l - 1] ** 2 - s[l] ** 2)
                                    / (s[l - 1] ** 2 * s[l] ** 2)))
                  for l in range(1, L - 1))
    return ok_first, ok_rest


def balanced_drift_nonnegative(dim: int = 3) -> bool:
    """(d), sign: at balance |w| = s_2, ``|g|^2 - (w.g)^2/|w|^2 = sum_(i<j) (w_i g_j - w_j g_i)^2
    / |w|^2`` (Lagrange's identity) >= 0."""
    w = sp.symbols(f"w0:{dim}", real=True)
    g = sp.symbols(f"g0:{dim}", real=True)
    w2 = sum(a * a for a in w)
    lhs = sum(a * a for a in g) * w2 - sum(a * b for a, b in zip(w, g)) ** 2
    rhs = sum((w[i] * g[j] - w[j] * g[i]) ** 2 for i in range(dim) for j in range(i + 1, dim))
    return is_zero(sp.expand(lhs - rhs))


def imbalanced_polynomial() -> sp.Expr:
    """(e): ``|w|^2 = x + Delta`` with ``|P w|^2 = |b|^2/x^(L-1)`` and ``|P_perp w|^2 = m^2``,
    times x^(L-1): ``x^L + (Delta - m^2) x^(L-1) - |b|^2``."""
    return sp.expand((x + Delta - bb / x ** (Ls - 1) - mm) * x ** (Ls - 1), power_exp=False)


def scale_derivative() -> sp.Expr:
    """(f): dc/dDelta at Delta = 0 with c = x^((L-1)/2) / s0^(L-1) (in units of c)."""
    F = imbalanced_polynomial()
    dx = -sp.diff(F, Delta) / sp.diff(F, x)
    dc_over_c = (Ls - 1) / (2 * x) * dx
    return sp.simplify(dc_over_c.subs(Delta, 0).subs(bb, x ** Ls - mm * x ** (Ls - 1)))


def dissipation_l2() -> sp.Expr:
    """(g), L = 2 on the family (dimension 2, diagonal curvature): along the flow
    ``w' = -s g, s' = -w.g``, ``dLoss/dt + s^2 |g|^2 + (w.g)^2`` (= 0)."""
    s = sp.Symbol("s", positive=True)
    w = sp.Matrix(sp.symbols("w0 w1", real=True))
    lam = sp.symbols("lam0 lam1", positive=True)
    target = sp.Matrix(sp.symbols("t0 t1", real=True))
    Sigma = sp.diag(*lam)
    beta = s * w
    g = Sigma * (beta - target)
    w_dot, s_dot = -s * g, -(w.T * g)[0, 0]
    beta_dot = s_dot * w + s * w_dot
    loss_dot = (g.T * beta_dot)[0, 0]
    return sp.expand(loss_dot + s ** 2 * (g.T * g)[0, 0] + (w.T * g)[0, 0] ** 2)


def _per_run_scale_numeric(points: int = 12) -> tuple[bool, str]:
    """(e) shipped: ``_scale`` (bisection over the measured imbalances) against the positive
    root of the derived polynomial, at random points (delta_l = 0 for l >= 2, as gd keeps)."""
    rng = random.Random(3)
    worst = 0.0
    for i in range(points):
        L = rng.randint(2, 5)
        m_sq, b_sq = rng.uniform(0.1, 2), rng.uniform(0.1, 2)
        dlt, s0_sq = rng.uniform(-0.05, 0.3), rng.uniform(0.5, 2)
        poly = imbalanced_polynomial().subs({Ls: L, mm: sp.Float(m_sq, 30), bb: sp.Float(b_sq, 30),
                                             Delta: sp.Float(dlt, 30)})
        roots = [r for r in sp.Poly(sp.expand(poly), x).nroots(n=30) if r.is_real and r > 0]
        if len(roots) != 1:
            return False, f"{len(roots)} positive roots at L={L}"
        expected = float(roots[0]) ** ((L - 1) / 2) / s0_sq ** ((L - 1) / 2)
        got = _scale(L, m_sq, b_sq, [dlt] + [0.0] * (L - 2), s0_sq)
        worst = max(worst, abs(got / expected - 1))
    return worst < 1e-12, f"{points} pts, max rel err {worst:.2g}"


def _bound_numeric() -> tuple[bool, str]:
    """(g) shipped: :func:`shift_bound` against the derived first-order bound
    ``L0 |dc/dDelta| sqrt(1-gamma)`` with the asymptotic inputs, at a few points."""
    worst = 0.0
    for gamma, theta, sigma, L in [(0.5, math.pi / 4, 0.2, 2), (0.3, 1.0, 0.0, 3),
                                   (0.8, 2.0, 0.5, 4)]:
        a = 1 - gamma
        B = gamma + sigma ** 2 * gamma / a
        kappa = float(positive_root(L, a, B))
        c = kappa ** ((L - 1) / 2)
        rate = float(scale_derivative().subs({Ls: L, x: kappa, mm: a}))
        expected = (2 - 2 * math.cos(theta) + sigma ** 2) / 2 * c * abs(rate) * math.sqrt(a)
        worst = max(worst, abs(shift_bound(gamma, theta, sigma, L) / expected - 1))
    return worst < 1e-12, f"3 pts, max rel err {worst:.2g}"


def checks() -> list[Result]:
    fixed = fixed_point_polynomial().subs({q: x, m2: mm, bn2: bb})
    derivative = scale_derivative()
    expected = -(Ls - 1) / (2 * (Ls * x - (Ls - 1) * mm))
    ok_first, ok_rest = drift_on_family(3)
    per_run, per_run_detail = _per_run_scale_numeric()
    bound, bound_detail = _bound_numeric()
    return [
        holds("optimizers: gd/sgd imbalance step is eta^2 (G_l^T G_l - G_l+1 G_l+1^T), L=2",
              imbalance_step(2), "2x2 symbolic matrices, any loss gradient g"),
        holds("optimizers: gd/sgd imbalance step is eta^2 (G_l^T G_l - G_l+1 G_l+1^T), L=3",
              imbalance_step(3), "2x2 symbolic matrices, any loss gradient g"),
        holds("optimizers: minibatch update of W_1 lies in the row space of X (P_perp frozen)",
              minibatch_in_row_space(), "X 2x3 symbolic, batch = first row"),
        holds("optimizers: a step keeps the rank-1 alignment (L=3)", rank_one_kept(3)),
        holds("optimizers: drift of delta_1 per step = eta^2 P (|g|^2 - (w.g)^2/s_2^2)",
              ok_first, "rank-1 family, L=3"),
        holds("optimizers: delta_l (l>=2) per step = -eta^2 (w.g)^2 P delta_l/(s_l^2 s_l+1^2)",
              ok_rest, "rank-1 family, L=3: balance of layers 2..L kept"),
        holds("optimizers: drift of delta_1 at balance >= 0 (Lagrange identity)",
              balanced_drift_nonnegative()),
        holds("optimizers: endpoint polynomial at Delta=0 is fine-tuning's fixed point",
              is_zero(sp.expand(imbalanced_polynomial().subs(Delta, 0) - fixed)),
              "x^L + (Delta - m^2) x^(L-1) - |b|^2"),
        holds("optimizers: dc/dDelta = -c (L-1)/(2 (L x - (L-1) m^2))",
              is_zero(sp.simplify(derivative - expected)), "implicit differentiation"),
        holds("optimizers: flow dissipation dLoss/dt = -(s^2|g|^2 + (w.g)^2), L=2",
              dissipation_l2() == 0, "so Delta <= eta (L0 - L_end) to first order"),
        Result("optimizers: shipped per-run scale c(Delta) = root of the derived polynomial",
               per_run, NUMERIC, per_run_detail),
        Result("optimizers: shipped shift_bound = L0 |dc/dDelta| sqrt(1-gamma)", bound,
               NUMERIC, bound_detail),
    ]
