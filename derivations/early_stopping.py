"""The risk along gradient flow (early stopping): a mean-field theory of the trajectory.

Shipped as :mod:`symtransfer.dynamics` (numpy / scipy: the moment equations are integrated,
there is no closed form in t for depth >= 2). Regime: fine-tuning from population pretraining
and scratch training from the balanced rank-1 initialization, gradient flow, d -> infinity.

Primitives used (``derivations/primitives.py``): (d) the balanced rank-1 family
``W_1 = w u_2^T``, ``W_l = s u_l u_(l+1)^T``, ``W_L = s u_L`` is invariant under gradient flow,
``|w|^2 - s^2`` is conserved (so ``|w| = s`` stays), and ``P_perp W_1`` (so ``P_perp w``) never
moves; (a) the row space of a Gaussian design is a uniformly random subspace independent of
its singular values, and ``E[X^T X / n] = I``; the Marchenko-Pastur law of ``X^T X/n`` through
its Stieltjes transform (the quadratic of ``derivations/ridge.py``).

Derivation, step by step (each a check below):

1. On the family, ``beta = s^(L-1) w`` and the flow ``W_l' = -G_l`` gives
   ``beta' = -(s^(2(L-1)) g + (L-1) s^(2(L-2)) (w.g) w)`` for the loss gradient g (symbolic
   matrices, L = 2, 3, 4).
2. With ``g = V Lam (z - z*)`` (row-space coordinates ``z = V^T beta``) and
   ``V^T w = z / s^(L-1)``: ``z' = -a Lam (z - z*) - b z``, ``a = q^(L-1)``,
   ``b = (L-1) z.Lam(z - z*)/q``, ``q = s^2``; the balance ``q = |V^T w|^2 + |P_perp w|^2`` is
   fine-tuning's fixed-point polynomial ``q^L - m^2 q^(L-1) - |z|^2`` with ``|b|^2 -> |z|^2``.
3. Given a(t), b(t) every mode is linear; the second moments ``p, r, u`` (d E z^2, d E z z*,
   d E z z_t at curvature lam) obey the shipped :func:`symtransfer.dynamics.rhs`, with
   ``w = d E z*^2 = 1 + sigma^2/(gamma lam)`` and ``d E z* z_t = 1``.
4. The scalars are Marchenko-Pastur integrals; the moments the closure needs
   (``int dmu = min(gamma, 1)``, ``int x dmu = 1``, ``int dmu/x = gamma^2/(1-gamma)`` or
   ``gamma/(gamma-1)`` over the nonzero part) follow from the Stieltjes transform, and the
   shipped quadrature reproduces them.
5. The fixed point ``p = r = w, u = 1`` is stationary and gives the shipped fine-tuning risk
   (any depth, both sides of gamma = 1) and, with ``m = 0``, the scratch risk.
6. An independent check of the closure: the initial slope ``dR/dt(0)`` of fine-tuning from the
   moment equations equals the direct ``-2 E (beta_s - beta_t)^T K S (beta_s - beta_t)`` with
   ``K = I + (L-1) beta_s beta_s^T`` and ``E S = I``: ``-2 (2 - 2 cos) - 2 (L-1) (1 - cos)^2``.
7. Depth 1 (``a = 1, b = 0``: linear regression from beta_0) solves in closed form (checked
   by substitution into the linear equations): the
   Marchenko-Pastur spectral filter ``(2 - 2 cos) e^(-2 lam t) + sigma^2 (1 - e^(-lam t))^2/(gamma lam)``
   per mode (shipped: :func:`symtransfer.dynamics.linear_regression_risk`); linear transfer's
   readout (one feature of unit scale) gives ``sin^2 + (1 - cos)^2 e^(-2t)``.
8. The shipped Jacobian of the moment equations equals sympy's, and the shipped integrator's
   limit t -> infinity equals :func:`symtransfer.risk`.
"""
from __future__ import annotations

import random
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from symtransfer import dynamics, formulas
from symtransfer.symbols import gamma, sigma, theta

from . import NUMERIC, Result, holds, is_zero, same
from .finetune import bn2, fixed_point_polynomial, m2, q
from .ridge import stieltjes
from .ridge import z as zsym

L_ = sp.Symbol("L", integer=True, positive=True)
t, lam_, x = sp.symbols("t lambda_ x", positive=True)
a_, b_, s_ = sp.symbols("a b s", real=True)
cos_ = sp.cos(theta)


# --------------------------------------------------------------------------- 1. end to end


def _family(L: int, dim: int):
    """Balanced rank-1 weights with u_l = e_1 (l >= 2; any orthonormal choice is a rotation of
    the hidden spaces): W_1 = w e_1^T, W_l = s e_1 e_1^T, W_L = s e_1."""
    w = sp.Matrix(dim, 1, lambda i, _j: sp.Symbol(f"w{i}", real=True))
    e1 = sp.Matrix(dim, 1, lambda i, _j: 1 if i == 0 else 0)
    layers = [w * e1.T] + [s_ * e1 * e1.T for _ in range(L - 2)] + [s_ * e1]
    return w, layers


def end_to_end_velocity(L: int, dim: int = 3) -> bool:
    """Step 1: ``-sum_l W_<l G_l W_>l`` equals ``-(s^(2L-2) g + (L-1) s^(2L-4) (w.g) w)``."""
    from .optimizers import step_gradients

    w, Ws = _family(L, dim)
    g = sp.Matrix(dim, 1, lambda i, _j: sp.Symbol(f"g{i}", real=True))
    grads = step_gradients(Ws, g)
    velocity = sp.zeros(dim, 1)
    for l in range(L):
        left = sp.eye(dim)
        for W in Ws[:l]:
            left = left * W
        right = sp.eye(1) if l == L - 1 else None
        if right is None:
            right = Ws[l + 1]
            for W in Ws[l + 2:]:
                right = right * W
        velocity -= left * grads[l] * right
    expected = -(s_ ** (2 * L - 2) * g + (L - 1) * s_ ** (2 * L - 4) * (w.T * g)[0] * w)
    return all(sp.expand(e) == 0 for e in velocity - expected)


# --------------------------------------------------------------------------- 2. row space


def row_space_reduction(L: int) -> bool:
    """Step 2 on coordinates: V = [e_1, e_2] in R^3, w = V zeta + m e_3, z = s^(L-1) zeta,
    g = V Lam (z - z*): ``V^T beta' = -a Lam (z - z*) - b z`` with ``a = s^(2L-2)``,
    ``b = (L-1) z.Lam(z - z*)/s^2``."""
    z1, z2, zs1, zs2, l1, l2, m = sp.symbols("z1 z2 zs1 zs2 l1 l2 m", real=True)
    zeta = sp.Matrix([z1, z2]) / s_ ** (L - 1)
    w = sp.Matrix([zeta[0], zeta[1], m])
    Lam = sp.diag(l1, l2)
    z, zstar = sp.Matrix([z1, z2]), sp.Matrix([zs1, zs2])
    grad_z = Lam * (z - zstar)
    g = sp.Matrix([grad_z[0], grad_z[1], 0])
    beta_dot = -(s_ ** (2 * L - 2) * g + (L - 1) * s_ ** (2 * L - 4) * (w.T * g)[0] * w)
    z_dot = sp.Matrix(beta_dot[:2])
    a = s_ ** (2 * L - 2)
    b = (L - 1) * (z.T * grad_z)[0] / s_ ** 2
    expected = -a * grad_z - b * z
    return all(sp.simplify(e) == 0 for e in z_dot - expected)


def balance_polynomial() -> sp.Expr:
    """``q = |V^T w|^2 + m^2`` with ``|V^T w|^2 = |z|^2 / q^(L-1)``, times q^(L-1)."""
    Z2 = sp.Symbol("Z2", positive=True)
    return sp.expand((q - Z2 / q ** (L_ - 1) - m2) * q ** (L_ - 1)), Z2


# --------------------------------------------------------------------------- 3. moments


def _moments_by_monomials(expr: sp.Expr, moments: dict) -> sp.Expr:
    poly = sp.Poly(sp.expand(expr), *sorted({s for m in moments for s in m.free_symbols},
                                            key=str))
    total = sp.Integer(0)
    gens = poly.gens
    for monom, coeff in poly.terms():
        term = sp.Mul(*[g ** k for g, k in zip(gens, monom)])
        total += coeff * moments[term]
    return sp.expand(total)


def derived_moment_rhs() -> tuple[dict[str, sp.Expr], tuple]:
    """Step 3 done by replacing each quadratic monomial of the mode variables by its moment."""
    Z, Zs, Zt = sp.symbols("Z Zs Zt", real=True)
    zdot = -(a_ * lam_ + b_) * Z + a_ * lam_ * Zs
    p, r, u, w = sp.symbols("p r u w", real=True)
    moments = {Z ** 2: p, Z * Zs: r, Z * Zt: u, Zs ** 2: w, Zs * Zt: sp.Integer(1)}
    out = {name: _moments_by_monomials(expr, moments)
           for name, expr in (("p", 2 * Z * zdot), ("r", Zs * zdot), ("u", Zt * zdot))}
    return out, (p, r, u, w)


def moments_match_shipped(points: int = 20, seed: int = 0) -> tuple[bool, str]:
    """The shipped ``dynamics.rhs`` equals the derived right-hand sides at random points."""
    eqs, (p, r, u, w) = derived_moment_rhs()
    rng = random.Random(seed)
    worst = 0.0
    for _ in range(points):
        vals = {p: rng.uniform(0, 3), r: rng.uniform(-1, 2), u: rng.uniform(-1, 2),
                w: rng.uniform(1, 4), lam_: rng.uniform(0.05, 6), a_: rng.uniform(0, 3),
                b_: rng.uniform(-2, 2)}
        shipped = dynamics.rhs(vals[p], vals[r], vals[u], vals[lam_], vals[w], vals[a_],
                               vals[b_])
        for name, value in zip("pru", shipped):
            derived = float(eqs[name].subs(vals))
            worst = max(worst, abs(derived - value) / max(1.0, abs(derived)))
    return worst < 1e-13, f"{points} random points, max rel diff {worst:.1e}"


# --------------------------------------------------------------------------- 4. MP moments


@lru_cache(maxsize=1)
def mp_moments() -> dict[str, sp.Expr]:
    """Moments of the nonzero part of the MP law from its Stieltjes transform m(-lam) =
    int dmu/(x + lam), for gamma < 1 (atom 1 - gamma at 0 removed) and gamma > 1 (no atom):
    ``int dmu/x`` is the limit lam -> 0, the mass the limit of ``lam int dmu/(x+lam)`` at
    infinity, ``int x dmu`` the next coefficient at infinity. The limits are taken with
    ``gamma = 1/(1+k)`` (below) or ``1 + k`` (above), k > 0, so that sympy knows the signs."""
    k = sp.Symbol("k", positive=True)
    m = stieltjes().subs(zsym, -lam_)
    out = {}
    for side, g_of_k, k_of_g, atom in (("below", 1 / (1 + k), 1 / gamma - 1, 1 - gamma),
                                       ("above", 1 + k, gamma - 1, sp.Integer(0))):
        nonzero = sp.simplify((m - atom / lam_).subs(gamma, g_of_k))  # int_nz dmu/(x+lam)
        inv = sp.limit(nonzero, lam_, 0, "+")
        mass = sp.limit(lam_ * nonzero, lam_, sp.oo)
        first = sp.limit(lam_ ** 2 * (mass / lam_ - nonzero), lam_, sp.oo)
        out[side] = {name: sp.simplify(value.subs(k, k_of_g))
                     for name, value in (("mass", mass), ("first", first), ("inverse", inv))}
    return out


def mp_moments_checks() -> list[Result]:
    mom = mp_moments()
    below, above = mom["below"], mom["above"]
    ok_symbolic = (is_zero(below["mass"] - gamma) and is_zero(below["first"] - 1)
                   and is_zero(below["inverse"] - gamma ** 2 / (1 - gamma))
                   and is_zero(above["mass"] - 1) and is_zero(above["first"] - 1)
                   and is_zero(above["inverse"] - gamma / (gamma - 1)))
    worst = 0.0
    for g in (0.2, 0.5, 0.8, 1.5, 3.0):
        xk, wk = dynamics.mp_quadrature(g)
        expect = (min(g, 1.0), 1.0, g * g / (1 - g) if g < 1 else g / (g - 1))
        got = (wk.sum(), wk @ xk, wk @ (1 / xk))
        worst = max(worst, max(abs(e - v) / e for e, v in zip(expect, got)))
    return [
        holds("early_stopping: MP nonzero-part moments from the Stieltjes transform",
              ok_symbolic, "mass min(gamma,1), int x = 1, int 1/x = gamma^2/(1-gamma) "
              "(gamma<1), gamma/(gamma-1) (gamma>1)"),
        holds("early_stopping: shipped MP quadrature reproduces the moments",
              worst < 1e-9, f"gamma in 0.2..3 (nodes_for(gamma) nodes), max rel err "
              f"{worst:.1e}", how=NUMERIC),
    ]


# --------------------------------------------------------------------------- 5. fixed point


def fixed_point_risk(scratch: bool = False) -> sp.Expr:
    """Step 5: R at p = r = w, u = 1 as a Piecewise in gamma (population source), with the
    MP moments of step 4 and q the positive root of the balance polynomial."""
    mom = mp_moments()
    pieces = []
    for side, cond in (("below", gamma < 1), ("above", True)):
        M0, Minv = mom[side]["mass"], mom[side]["inverse"]
        Z2 = M0 + sigma ** 2 / gamma * Minv            # int w dmu
        row = Z2 - 2 * M0 + M0                          # int (p - 2u + 1) dmu
        if side == "below" and not scratch:
            null, null_t = 1 - gamma, (1 - gamma) * cos_
            qq = formulas.PositiveRoot(L_, null, Z2)
            risk = row + qq ** (L_ - 1) * null - 2 * qq ** ((L_ - 1) / sp.Integer(2)) * null_t \
                + (1 - gamma)
        elif side == "below":
            risk = row + (1 - gamma)                    # m = 0: q^L = |z|^2, no null part
        else:
            risk = row
        pieces.append((risk, cond))
    return sp.piecewise_fold(sp.Piecewise(*pieces))


def stationary() -> bool:
    """p = r = w, u = 1 makes b = 0 and every right-hand side vanish."""
    eqs, (p, r, u, w) = derived_moment_rhs()
    at = {p: w, r: w, u: 1, b_: 0}      # b = (L-1) int x (p - r)/q = 0 there
    return all(sp.expand(e.subs(at)) == 0 for e in eqs.values())


# --------------------------------------------------------------------------- 6. slope


def initial_slope() -> tuple[sp.Expr, sp.Expr]:
    """dR/dt at t = 0 for fine-tuning (gamma < 1), from the moment equations and the MP
    moments, and directly from E S = I."""
    mom = mp_moments()["below"]
    M0, M1 = mom["mass"], mom["first"]
    c = cos_
    # state at t = 0: p = 1, r = u = cos (every node), q = 1, m^2 = 1 - gamma, m_t = (1-gamma) c
    a0 = 1
    b0 = (L_ - 1) * M1 * (1 - c)                     # (L-1) int x (p - r) dmu / q
    p_dot = -2 * (a0 * x + b0) * 1 + 2 * a0 * x * c
    u_dot = -(a0 * x + b0) * c + a0 * x
    # int f(x) dmu for f = alpha + beta x  ->  alpha M0 + beta M1
    def integrate(expr):
        poly = sp.Poly(sp.expand(expr), x)
        coeffs = dict(zip([k[0] for k in poly.monoms()], poly.coeffs()))
        return coeffs.get(0, 0) * M0 + coeffs.get(1, 0) * M1
    Z2_dot = integrate(p_dot)
    mm, mt = 1 - gamma, (1 - gamma) * c
    # q' from q^L - m^2 q^(L-1) = Z2 at q = 1: (L - (L-1) m^2) q' = Z2'
    q_dot = Z2_dot / (L_ - (L_ - 1) * mm)
    null_dot = (L_ - 1) * q_dot * mm - 2 * (L_ - 1) / 2 * q_dot * mt
    mean_field = integrate(p_dot - 2 * u_dot) + null_dot
    v2, uv = 2 - 2 * c, 1 - c
    direct = -2 * v2 - 2 * (L_ - 1) * uv ** 2
    return sp.simplify(mean_field), direct


# --------------------------------------------------------------------------- 7. depth 1


def depth_one_filter() -> bool:
    """a = 1, b = 0: the spectral filter solves the moment equations, per mode. With
    ``r = w + (cos - w) e^(-lam t)``, ``u = 1 + (cos - 1) e^(-lam t)`` and
    ``p = 2u - 1 + filter`` (so that ``p - 2u + 1`` is the filter), the residuals of the three
    linear equations and of the initial values vanish: by uniqueness, this is the solution."""
    w = 1 + sigma ** 2 / (gamma * lam_)
    c = cos_
    e = sp.exp(-lam_ * t)
    filt = (2 - 2 * c) * e ** 2 + sigma ** 2 * (1 - e) ** 2 / (gamma * lam_)
    r = w + (c - w) * e
    u = 1 + (c - 1) * e
    p = 2 * u - 1 + filt
    residuals = [sp.diff(p, t) - (-2 * lam_ * p + 2 * lam_ * r),
                 sp.diff(r, t) - (-lam_ * r + lam_ * w),
                 sp.diff(u, t) - (-lam_ * u + lam_),
                 p.subs(t, 0) - 1, r.subs(t, 0) - c, u.subs(t, 0) - c]
    return all(is_zero(sp.expand(res)) for res in residuals)


def depth_one_numeric() -> tuple[bool, str]:
    """The shipped spectral filter vs mpmath quadrature of the MP density (30 digits)."""
    worst = mpmath.mpf(0)
    with mpmath.workdps(30):
        for g, s, tt, start2 in ((0.5, 0.4, 0.7, 0.6), (0.3, 0.0, 3.0, 1.0),
                                 (2.0, 0.5, 1.5, 0.3)):
            psi = 1 / mpmath.mpf(g)
            lo, hi = (1 - mpmath.sqrt(psi)) ** 2, (1 + mpmath.sqrt(psi)) ** 2
            dens = lambda y: mpmath.sqrt((hi - y) * (y - lo)) / (2 * mpmath.pi * psi * y)  # noqa
            bias = start2 * (max(0, 1 - g) + mpmath.quad(
                lambda y: dens(y) * mpmath.exp(-2 * y * tt), [lo, hi]))
            noise = s ** 2 / g * mpmath.quad(
                lambda y: dens(y) * (1 - mpmath.exp(-y * tt)) ** 2 / y, [lo, hi])
            shipped = dynamics.linear_regression_risk([tt], gamma=g, sigma=s, start2=start2)[0]
            worst = max(worst, abs(shipped - (bias + noise)) / (bias + noise))
    return worst < 1e-9, f"3 points, max rel err {mpmath.nstr(worst, 3)}"


def readout_curve() -> tuple[bool, str]:
    """Linear transfer: w' = -(w - cos) from w(0) = 1, R = sin^2 + (w - cos)^2; vs shipped."""
    wf = sp.Function("w")
    sol = sp.dsolve(sp.Eq(wf(t).diff(t), -(wf(t) - cos_)), wf(t), ics={wf(0): 1}).rhs
    R = sp.sin(theta) ** 2 + (sol - cos_) ** 2
    ok = is_zero(sp.simplify(R - (sp.sin(theta) ** 2 + (1 - cos_) ** 2 * sp.exp(-2 * t))))
    times = np.array([0.1, 1.0, 3.0])
    curve = dynamics.risk_curve("linear", times, gamma=0.5, theta=0.9)
    fn = sp.lambdify((theta, t), R, "numpy")
    worst = float(np.max(np.abs(curve.risk - fn(0.9, times))))
    return ok and worst < 1e-14, f"dsolve; shipped at 3 times, max diff {worst:.1e}"


# --------------------------------------------------------------------------- 8. numerics


def jacobian_matches(depth: int, nodes: int = 2, seed: int = 1) -> tuple[bool, str]:
    """The shipped Jacobian vs sympy's of the closed system on ``nodes`` quadrature nodes."""
    rng = np.random.default_rng(seed)
    xs = rng.uniform(0.2, 3.0, nodes)
    ws = rng.uniform(0.05, 0.3, nodes)
    wv = rng.uniform(1.0, 3.0, nodes)
    M2 = 0.4
    P = sp.symbols(f"p0:{nodes}")
    R = sp.symbols(f"r0:{nodes}")
    U = sp.symbols(f"u0:{nodes}")
    Q = sp.Symbol("Q", positive=True)
    Z2 = sum(float(wk) * pk for wk, pk in zip(ws, P))
    G = sum(float(wk * xk) * (pk - rk) for wk, xk, pk, rk in zip(ws, xs, P, R))
    # q(Z2) implicitly: q^L - M2 q^(L-1) = Z2; derivatives by implicit differentiation
    F = Q ** depth - M2 * Q ** (depth - 1) - sp.Symbol("Zs")
    dq_dZ = -sp.diff(F, sp.Symbol("Zs")) / sp.diff(F, Q)
    state = list(P) + list(R) + list(U)
    values = rng.uniform(0.5, 1.5, 3 * nodes)
    at = dict(zip(state, values))
    z2 = float(Z2.subs(at))
    qv = dynamics.layer_scale(depth, M2, z2)
    a = Q ** (depth - 1)
    b = (depth - 1) * G / Q
    exprs = []
    for k in range(nodes):
        rate = a * float(xs[k]) + b
        exprs += [-2 * rate * P[k] + 2 * a * float(xs[k]) * R[k]]
    for k in range(nodes):
        rate = a * float(xs[k]) + b
        exprs += [-rate * R[k] + a * float(xs[k]) * float(wv[k])]
    for k in range(nodes):
        rate = a * float(xs[k]) + b
        exprs += [-rate * U[k] + a * float(xs[k])]
    J = sp.zeros(3 * nodes, 3 * nodes)
    dq = float(dq_dZ.subs({Q: qv}))
    for i, e in enumerate(exprs):
        for j, v in enumerate(state):
            direct = sp.diff(e, v)
            via_q = sp.diff(e, Q) * dq * (float(ws[j]) if j < nodes else 0.0)
            J[i, j] = float((direct + via_q).subs({**at, Q: qv}))
    shipped = dynamics._jacobian(values[:nodes], values[nodes:2 * nodes], values[2 * nodes:],
                                 xs, ws, wv, M2, depth)
    worst = float(np.max(np.abs(np.array(J, dtype=float) - shipped)))
    return worst < 1e-10, f"L={depth}, {nodes} nodes, max abs diff {worst:.1e}"


def integrator_limit() -> tuple[bool, str]:
    """The shipped integrator's R(t -> inf) vs symtransfer.risk (fine-tuning, scratch)."""
    import symtransfer as st

    worst = 0.0
    cases = [("finetune", 0.3, 0.9, 0.4, 2), ("finetune", 0.7, 1.2, 0.3, 3),
             ("finetune", 1.5, 0.6, 0.5, 2), ("scratch", 0.5, 0.0, 0.5, 2)]
    for method, g, th, s, L in cases:
        curve = dynamics.risk_curve(method, [1e4], gamma=g, theta=th, sigma=s, depth=L)
        ref = float(st.risk(method, gamma=g, theta=th, sigma=s, depth=L)) if method != \
            "scratch" else float(st.risk(method, gamma=g, sigma=s))
        worst = max(worst, abs(curve.final - ref) / ref)
    return worst < 1e-6, f"{len(cases)} cases (L = 2, 3; gamma below and above 1), max rel " \
                         f"diff {worst:.1e}"


def checks() -> list[Result]:
    poly, Z2 = balance_polynomial()
    mf_slope, direct_slope = initial_slope()
    moments_ok, moments_detail = moments_match_shipped()
    results = [
        holds(f"early_stopping: end-to-end flow on the balanced rank-1 family, L={L}",
              end_to_end_velocity(L), "beta' = -(s^(2L-2) g + (L-1) s^(2L-4) (w.g) w), "
              "symbolic 3x3 matrices") for L in (2, 3, 4)]
    results += [
        holds("early_stopping: row-space modes z' = -a Lam (z - z*) - b z (L=2, 3)",
              row_space_reduction(2) and row_space_reduction(3),
              "a = q^(L-1), b = (L-1) z.Lam(z-z*)/q"),
        holds("early_stopping: balance q = |V^T w|^2 + m^2 is fine-tuning's polynomial",
              is_zero(poly - fixed_point_polynomial().subs(bn2, Z2)),
              "q^L - m^2 q^(L-1) - |z|^2"),
        Result("early_stopping: shipped moment equations = derived (d E z^2, z z*, z z_t)",
               moments_ok, NUMERIC, moments_detail),
        *mp_moments_checks(),
        holds("early_stopping: p = r = w, u = 1 is stationary", stationary()),
        same(fixed_point_risk(), formulas.finetune("exact", "population"),
             "early_stopping: fixed point = shipped fine-tuning risk (any L)"),
        same(fixed_point_risk(scratch=True), formulas.scratch(),
             "early_stopping: fixed point with m = 0 = shipped scratch risk"),
        holds("early_stopping: initial slope from the moments = direct (E S = I)",
              is_zero(sp.expand(mf_slope - direct_slope)),
              f"dR/dt(0) = {sp.factor(direct_slope)}"),
        holds("early_stopping: depth 1 solves to the MP spectral filter", depth_one_filter(),
              "the filter's modes solve the moment equations at a = 1, b = 0"),
    ]
    for name, (ok, detail) in (
            ("early_stopping: shipped depth-1 filter vs MP quadrature", depth_one_numeric()),
            ("early_stopping: linear transfer readout curve", readout_curve()),
            ("early_stopping: shipped Jacobian = sympy's, L=2", jacobian_matches(2)),
            ("early_stopping: shipped Jacobian = sympy's, L=3", jacobian_matches(3)),
            ("early_stopping: shipped integrator's limit = symtransfer.risk",
             integrator_limit())):
        results.append(Result(name, ok, NUMERIC, detail))
    return results
