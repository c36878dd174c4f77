"""The risk along gradient flow, asymptotically: a mean-field theory of the training trajectory.

Derived in ``derivations/early_stopping.py`` from the primitives of ``derivations/primitives.py``;
this module evaluates it (numpy and scipy). What it describes, precisely:

**Regime.** Gradient flow on ``(1/2n)|X beta - y|^2`` of a deep linear network (depth L >= 2)
whose weights lie on the *balanced rank-1 family* ``W_1 = w u_2^T``, ``W_l = s u_l u_(l+1)^T``,
``W_L = s u_L`` with ``|w| = s``, which gradient flow leaves invariant: fine-tuning from
pretrained weights (population pretraining gives such weights, to O(alpha)), and scratch
training from the balanced rank-1 initialization of scale alpha (``simulate(init='balanced')``).
On that family the end-to-end vector obeys, exactly,

    beta' = -s^(2(L-1)) (g + (L-1) (e.g) e),      e = beta/|beta|,  s^L = |beta|,  g = dLoss/dbeta,

and ``P_perp w`` (the data's null space) never moves. In the row-space coordinates
``z = V^T beta`` (``X = U Sigma V^T``, curvatures ``lam_i = Sigma_i^2/n``, minimizer ``z*``) this is

    z_i' = -(a lam_i + b) z_i + a lam_i z*_i,   a = q^(L-1),  b = (L-1) z.Lam(z - z*)/q,

with ``q = s^2`` the positive root of ``q^L - m^2 q^(L-1) = |z|^2`` (``m = |P_perp w|``, frozen):
*linear* in every mode once the two scalars a(t), b(t) are known. Both are sums over the
n modes, which concentrate as d -> infinity. So the second moments (d times the means, given
lam) ``p = d E z_i^2``, ``r = d E z_i z*_i``, ``u = d E z_i z_(t,i)`` close on themselves:

    p' = -2 (a lam + b) p + 2 a lam r,   r' = -(a lam + b) r + a lam w,   u' = -(a lam + b) u + a lam,

``w = d E z*_i^2 = 1 + sigma^2/(gamma lam)``, and the scalars are integrals against the
Marchenko-Pastur law mu of ``X^T X / n`` (aspect ratio d/n = 1/gamma; its nonzero part):
``|z|^2 = int p dmu``, ``z.Lam(z - z*) = int lam (p - r) dmu``. The risk is

    R(t) = int (p - 2 u + 1) dmu + q^(L-1) m^2 - 2 q^((L-1)/2) m_t + (1 - gamma)_+,

the last three terms the null-space part (``m_t = P_perp w_0 . P_perp beta_t``). At t -> infinity
the fixed point ``p = r = w`` gives ``|z|^2 = B = gamma + sigma^2 gamma/(1-gamma)`` and the
shipped fine-tuning polynomial, so ``R(infinity)`` is :func:`symtransfer.risk` (checked in the
derivation). Depth 1 (``a = 1, b = 0``: linear regression from beta_0) is the spectral filter
``R(t) = |beta_0 - beta_t|^2 [(1-gamma)_+ + int e^(-2 lam t) dmu]
+ (sigma^2/gamma) int (1 - e^(-lam t))^2 / lam dmu`` (:func:`linear_regression_risk`).

Not described: scratch training from the *random* small initialization before it has
escaped the saddle at the origin (its plateau length depends on alpha and on the random
draw; after the escape the weights are balanced rank-1 up to O(alpha), so the *depth* of the
curve's minimum, which no time shift changes, is still predicted), finite sources, penalized
pretraining, finite steps (gd, sgd) and input covariances. Mean-field values are limits
d -> infinity; at finite d the Monte-Carlo means differ by O(1/d).

Linear transfer (readout refit on frozen features, population pretraining) is one mode:
``R(t) = sin^2 theta + (1 - cos theta)^2 e^(-2t)``, monotone (early stopping cannot help it
asymptotically).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: fewest and most quadrature nodes of the Marchenko-Pastur law (Gauss-Chebyshev of the second
#: kind); between them ``16 / sqrt(lower edge)``, see :func:`nodes_for`
NODES, MAX_NODES = 64, 256
#: the mean-field curve is refused within this distance of gamma = 1 (see :func:`nodes_for`)
GAMMA_GAP = 0.05
#: the latest time the moment equations are integrated to before non-convergence is reported
T_END = 1e12
#: methods with a mean-field curve
METHODS = ("scratch", "finetune", "linear")


def nodes_for(gamma: float) -> int:
    """Quadrature nodes for ``gamma``: the noise moments have a pole at x = 0, a distance
    ``(1 - 1/sqrt(gamma))^2`` (the lower edge) from the support, which slows the rule near
    gamma = 1; ``16/sqrt(edge)`` nodes (64 to 256) keep the relative error of ``int dmu/x``
    below 1e-9 for ``|gamma - 1| >= 0.1`` (measured: 4e-12 at 0.8, 1e-10 at 0.9, 1e-9 at 1.1)
    and ~5e-5 at 0.95; within GAMMA_GAP of 1 the curve is refused."""
    edge = (1 - 1 / math.sqrt(gamma)) ** 2
    return int(min(MAX_NODES, max(NODES, math.ceil(16 / math.sqrt(edge)))))


def mp_quadrature(gamma: float, nodes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ``int f dmu`` over the *nonzero* part of the Marchenko-Pastur law of
    ``X^T X / n`` (X n x d, d/n = 1/gamma): density ``sqrt((b - x)(x - a)) / (2 pi psi x)`` on
    ``[a, b] = [(1 - 1/sqrt(gamma))^2, (1 + 1/sqrt(gamma))^2]``, ``psi = 1/gamma``; its mass is
    ``min(gamma, 1)``. Gauss-Chebyshev of the second kind integrates the square-root weight
    exactly; the remaining 1/x is smooth away from gamma = 1 (refused within GAMMA_GAP of it:
    the lower edge touches 0 and the noise moment diverges). ``nodes``: :func:`nodes_for`."""
    if not gamma > 0 or abs(gamma - 1) < GAMMA_GAP:
        raise ValueError(f"gamma must be > 0 with |gamma - 1| >= {GAMMA_GAP} for the "
                         f"mean-field trajectory, got {gamma}")
    nodes = nodes_for(gamma) if nodes is None else int(nodes)
    psi = 1.0 / gamma
    lo, hi = (1 - math.sqrt(psi)) ** 2, (1 + math.sqrt(psi)) ** 2
    k = np.arange(1, nodes + 1)
    angle = k * np.pi / (nodes + 1)
    half = (hi - lo) / 2
    x = (lo + hi) / 2 + half * np.cos(angle)
    # int_lo^hi sqrt((hi-x)(x-lo)) f(x) dx = half^2 int_-1^1 sqrt(1-c^2) f dc
    weights = half ** 2 * np.pi / (nodes + 1) * np.sin(angle) ** 2
    return x, weights / (2 * np.pi * psi * x)


@dataclass(frozen=True)
class Start:
    """The mean-field initial state: the moments ``p, r, u`` at t = 0 (each per node or a
    scalar), the frozen null-space norm ``m2 = |P_perp w_0|^2`` and ``mt = P_perp w_0 . P_perp
    beta_t`` (limits)."""

    p: np.ndarray | float
    r: np.ndarray | float
    u: np.ndarray | float
    m2: float
    mt: float


def finetune_start(gamma: float, theta: float) -> Start:
    """Fine-tuning from population pretraining: ``beta_0 = beta_s`` (unit), ``w_0 = beta_s``
    (s_0 = 1): ``p = 1``, ``r = u = cos(theta)``, ``m^2 = (1-gamma)_+``,
    ``m_t = (1-gamma)_+ cos(theta)``."""
    null = max(1.0 - gamma, 0.0)
    c = math.cos(theta)
    return Start(1.0, c, c, null, null * c)


def scratch_start(gamma: float, depth: int, alpha: float) -> Start:
    """Scratch from the balanced rank-1 initialization of scale alpha in a random direction
    (:func:`symtransfer.mc.network.small_init` with ``kind='balanced'``): ``beta_0 =
    alpha^L u_1``, ``w_0 = alpha u_1``, uncorrelated with the data: ``p = alpha^(2L)``,
    ``r = u = 0``, ``m^2 = alpha^2 (1-gamma)_+``, ``m_t = 0``."""
    return Start(alpha ** (2 * depth), 0.0, 0.0, alpha ** 2 * max(1.0 - gamma, 0.0), 0.0)


def layer_scale(depth: int, m2: float, z2: float) -> float:
    """``q = s^2``: the positive root of ``q^L - m^2 q^(L-1) = |z|^2`` (balance with the frozen
    null-space part; the fine-tuning polynomial at the endpoint). L = 2 by the quadratic
    formula, deeper by Newton's method from the right of the
    root, where the polynomial is convex (``f'' = (L-1) q^(L-3) (L q - (L-2) m^2) > 0`` for
    ``q > m^2``), so the iterates decrease monotonically to it."""
    if z2 <= 0:
        return m2
    if depth == 2:  # m^2 >= 0: no cancellation
        return (m2 + math.sqrt(m2 * m2 + 4 * z2)) / 2
    q = m2 + z2 ** (1.0 / depth)
    for _ in range(200):
        f = q ** (depth - 1) * (q - m2) - z2
        slope = q ** (depth - 2) * (depth * q - (depth - 1) * m2)
        step = f / slope
        q -= step
        if abs(step) <= 1e-15 * q:
            break
    return q


def _scalars(p, r, x, wts, m2: float, depth: int):
    z2 = float(wts @ p)
    q = layer_scale(depth, m2, z2)
    a = q ** (depth - 1)
    b = (depth - 1) * float(wts @ (x * (p - r))) / q
    return q, a, b


def rhs(p, r, u, x, w, a: float, b: float):
    """The mean-field moment equations per node (see the module docstring)."""
    rate = a * x + b
    return (-2 * rate * p + 2 * a * x * r, -rate * r + a * x * w, -rate * u + a * x)


@dataclass
class Curve:
    """A mean-field risk curve: ``time`` (R,), ``risk`` (R,), the limit ``final`` (t -> inf;
    the integration runs until the risk is within 1e-6 of the moment equations' fixed point),
    and the oracle: ``oracle`` = min over t > 0 of R(t) (located by bounded minimization on the
    dense solution) at ``oracle_time`` (inf where the risk only decreases)."""

    method: str
    time: np.ndarray
    risk: np.ndarray
    final: float
    oracle: float
    oracle_time: float


def _jacobian(p, r, u, x, wts, w, m2: float, depth: int):
    """The Jacobian of :func:`rhs` with the scalars' dependence on p and r (dense, 3N x 3N):
    ``da/dp = (L-1) q^(L-2) dq/dZ wts`` with ``dq/dZ = 1/(L q^(L-1) - (L-1) m^2 q^(L-2))``,
    ``db/dp = (L-1) (x wts / q - G dq/dZ wts / q^2)``, ``db/dr = -(L-1) x wts / q``."""
    L = depth
    q, a, b = _scalars(p, r, x, wts, m2, L)
    G = float(wts @ (x * (p - r)))
    dq = 1.0 / (L * q ** (L - 1) - (L - 1) * m2 * q ** (L - 2))
    da_p = (L - 1) * q ** (L - 2) * dq * wts
    db_p = (L - 1) * (x * wts / q - G * dq * wts / q ** 2)
    db_r = -(L - 1) * x * wts / q
    rate = a * x + b
    N = x.size
    J = np.zeros((3 * N, 3 * N))
    P, R, U = slice(0, N), slice(N, 2 * N), slice(2 * N, 3 * N)
    J[P, P] = np.diag(-2 * rate) + np.outer(2 * x * (r - p), da_p) + np.outer(-2 * p, db_p)
    J[P, R] = np.diag(2 * a * x) + np.outer(-2 * p, db_r)
    J[R, P] = np.outer(x * (w - r), da_p) + np.outer(-r, db_p)
    J[R, R] = np.diag(-rate) + np.outer(-r, db_r)
    J[U, P] = np.outer(x * (1 - u), da_p) + np.outer(-u, db_p)
    J[U, R] = np.outer(-u, db_r)
    J[U, U] = np.diag(-rate)
    return J


def _solve(gamma: float, sigma: float, depth: int, start: Start, t_max: float,
           nodes: int):
    from scipy.integrate import solve_ivp

    x, wts = mp_quadrature(gamma, nodes)
    w = 1.0 + sigma ** 2 / (gamma * x)
    N = x.size
    y0 = np.concatenate([np.broadcast_to(np.asarray(v, dtype=float), (N,))
                         for v in (start.p, start.r, start.u)])

    def split(y):
        return y[:N], y[N:2 * N], y[2 * N:]

    def f(_t, y):
        p, r, u = split(y)
        _, a, b = _scalars(p, r, x, wts, start.m2, depth)
        return np.concatenate(rhs(p, r, u, x, w, a, b))

    def jac(_t, y):
        return _jacobian(*split(y), x, wts, w, start.m2, depth)

    scale = max(float(np.max(np.abs(y0))), 1e-300)
    sol = solve_ivp(f, (0.0, t_max), y0, method="LSODA", jac=jac, rtol=1e-8,
                    atol=1e-11 * min(scale, 1.0), dense_output=True)
    if sol.status != 0:
        raise ArithmeticError(f"mean-field integration failed: {sol.message}")

    def risk_at(t):
        y = sol.sol(np.atleast_1d(np.asarray(t, dtype=float)))
        p, u = y[:N], y[2 * N:]
        q = np.array([layer_scale(depth, start.m2, z2) for z2 in wts @ p])
        return wts @ (p - 2 * u + 1) + q ** (depth - 1) * start.m2 \
            - 2 * q ** ((depth - 1) / 2) * start.mt + max(1 - gamma, 0.0)

    q_end = layer_scale(depth, start.m2, float(wts @ w))       # the fixed point p = r = w
    limit = float(wts @ (w - 1)) + q_end ** (depth - 1) * start.m2 \
        - 2 * q_end ** ((depth - 1) / 2) * start.mt + max(1 - gamma, 0.0)
    return sol, risk_at, limit


def risk_curve(method: str, times, *, gamma: float, theta: float = 0.0, sigma: float = 0.0,
               depth: int = 2, alpha: float = 1e-5, nodes: int | None = None) -> Curve:
    """The mean-field risk of ``method`` ('finetune', 'scratch' from the balanced rank-1
    initialization of scale ``alpha``, or 'linear') at the flow times ``times`` (positive,
    increasing), with its limit and its oracle-stopped minimum (see :class:`Curve`)."""
    return _curve(method, times, gamma=gamma, theta=theta, sigma=sigma, depth=depth,
                  alpha=alpha, nodes=nodes)[0]


def _curve(method: str, times, *, gamma: float, theta: float, sigma: float, depth: int,
           alpha: float, nodes: int | None):
    """:func:`risk_curve` and the risk as a function of time (the dense solution)."""
    from scipy.optimize import minimize_scalar

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS} for the mean-field trajectory, "
                         f"got {method!r}")
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0 or np.any(times <= 0) or np.any(np.diff(times) <= 0):
        raise ValueError("times must be a 1-d increasing array of positive times")
    if method == "linear":
        c = math.cos(theta)

        def readout(t):
            return math.sin(theta) ** 2 + (1 - c) ** 2 * np.exp(-2 * np.asarray(t, dtype=float))

        final = math.sin(theta) ** 2
        return Curve(method, times, readout(times), final, final, math.inf), readout
    start = (finetune_start(gamma, theta) if method == "finetune"
             else scratch_start(gamma, depth, alpha))
    t_max = max(float(times[-1]), 1e4)
    while True:  # integrate until the fixed point is reached (scratch: after its plateau)
        sol, risk_at, limit = _solve(gamma, sigma, depth, start, t_max, nodes)
        if abs(float(risk_at(t_max)[0]) - limit) <= 1e-6 * max(1.0, limit):
            break
        if t_max >= T_END:
            raise ArithmeticError(
                f"the mean-field flow has not reached its fixed point by t = {t_max:g} "
                f"(risk {float(risk_at(t_max)[0]):.6g}, limit {limit:.6g}); a smaller "
                "initialization (alpha) or a deeper network stays longer at the origin")
        t_max *= 100
    risk = risk_at(times)
    # the solver's own steps resolve every fast phase (scratch's escape from the origin)
    dense = np.unique(np.concatenate([np.geomspace(1e-3, t_max, 400), sol.t[sol.t > 1e-3]]))
    values = risk_at(dense)
    final = float(values[-1])
    i = int(np.argmin(values))
    if i == values.size - 1:
        return Curve(method, times, risk, final, final, math.inf), risk_at
    lo, hi = math.log(dense[max(i - 1, 0)]), math.log(dense[i + 1])
    best = minimize_scalar(lambda v: float(risk_at(math.exp(v))[0]), bounds=(lo, hi),
                           method="bounded", options={"xatol": 1e-6})
    return (Curve(method, times, risk, final, float(best.fun), float(math.exp(best.x))),
            risk_at)


def linear_regression_risk(times, *, gamma: float, sigma: float, start2: float,
                           nodes: int | None = None) -> np.ndarray:
    """Depth 1: gradient flow of linear regression from beta_0 with ``|beta_0 - beta_t|^2 =
    start2`` (independent of the data), as the Marchenko-Pastur spectral filter
    ``R(t) = start2 [(1-gamma)_+ + int e^(-2 lam t) dmu] + (sigma^2/gamma) int (1 - e^(-lam t))^2
    / lam dmu`` (the atom at 0 keeps the null-space part of beta_0 - beta_t)."""
    x, wts = mp_quadrature(gamma, nodes)
    t = np.asarray(times, dtype=float)[:, None]
    bias = start2 * (max(1 - gamma, 0.0) + np.exp(-2 * x * t) @ wts)
    noise = sigma ** 2 / gamma * ((1 - np.exp(-x * t)) ** 2 / x) @ wts
    return bias + noise


@dataclass
class StoppingTheory:
    """Mean-field stopping risks (limits d -> infinity): ``curve`` (a :class:`Curve` on the
    requested times, with the oracle), and with ``val_fraction = f``: ``validation``, the
    oracle of the run on ``(1-f) n`` samples (the limit of validation-split stopping as the
    held-out set grows with d: its error ``e(t)`` vanishes), at ``validation_time``, and
    ``refit``, the full-data curve at that time."""

    curve: Curve
    validation: float | None = None
    validation_time: float | None = None
    refit: float | None = None

    @property
    def oracle(self) -> float:
        return self.curve.oracle

    @property
    def final(self) -> float:
        return self.curve.final


def _check(gamma, theta, sigma, depth, alpha, val_fraction) -> None:
    for name, value in (("gamma", gamma), ("theta", theta), ("sigma", sigma), ("alpha", alpha)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                            np.floating)):
            raise TypeError(f"{name} must be a real number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if not gamma > 0 or abs(gamma - 1) < GAMMA_GAP:
        raise ValueError(f"gamma must be > 0 with |gamma - 1| >= {GAMMA_GAP} (at gamma = 1 "
                         "the noise term of the trajectory diverges as t -> infinity, and near "
                         f"it the quadrature does not resolve the spectrum's edge), got {gamma!r}")
    if not 0 <= theta <= math.pi:
        raise ValueError(f"theta must be in [0, pi], got {theta!r}")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 2:
        raise ValueError(f"depth must be an integer >= 2, got {depth!r}")
    if val_fraction is not None:
        if isinstance(val_fraction, bool) or not isinstance(
                val_fraction, (int, float, np.integer, np.floating)) \
                or not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be a number in (0, 1), got {val_fraction!r}")
        if abs(gamma * (1 - val_fraction) - 1) < GAMMA_GAP:
            raise ValueError(f"val_fraction leaves gamma (1 - val_fraction) within {GAMMA_GAP} "
                             "of 1 to train on, the interpolation threshold")


def stopping_theory(method: str, *, gamma: float, theta: float = 0.0, sigma: float = 0.0,
                    depth: int = 2, alpha: float = 1e-5, val_fraction: float | None = None,
                    times=None, nodes: int | None = None) -> StoppingTheory:
    """The mean-field risk curve of ``method`` ('finetune', 'scratch' from the balanced rank-1
    initialization of scale ``alpha``, 'linear') on ``times`` (default: 200 log-spaced times
    in [1e-2, 1e4]), its oracle-stopped minimum and, with ``val_fraction``, the limit of
    validation-split stopping (see :class:`StoppingTheory`). Population pretraining,
    gradient flow; see the module docstring for the regime."""
    _check(gamma, theta, sigma, depth, alpha, val_fraction)
    times = np.geomspace(1e-2, 1e4, 200) if times is None else times
    kw = dict(theta=float(theta), sigma=float(sigma), depth=int(depth), alpha=float(alpha),
              nodes=nodes)
    curve, risk_at = _curve(method, times, gamma=float(gamma), **kw)
    if val_fraction is None:
        return StoppingTheory(curve)
    split = risk_curve(method, times, gamma=float(gamma) * (1 - val_fraction), **kw)
    t_hat = split.oracle_time
    refit = curve.final if math.isinf(t_hat) else float(np.atleast_1d(risk_at(t_hat))[0])
    return StoppingTheory(curve, split.oracle, t_hat, refit)
