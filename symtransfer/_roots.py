"""Numerical evaluation of ``PositiveRoot(L, a, b)``, the fine-tuning scale for general depth.

``PositiveRoot(L, a, b)`` is the unique positive root x of ``f(x) = x**L - a x**(L-1) - b``
(integer L >= 2, real a, b > 0; see :class:`symtransfer.formulas.PositiveRoot`). For L = 2, 3
the generated kernels use radicals; for L >= 4 they call these solvers.

The root lies above ``m = max(a, 0)``; write ``x = m + exp(u)``. Then ``f(x) = 0`` is

    phi(u) = (L-1) log(m + e^u) + log(e^u + m - a) - log(b) = 0,

a *log-space* form that neither overflows nor underflows for any depth (``x**L`` is never
formed). ``phi`` is increasing with ``phi' >= 1`` and convex (``phi'' >= 0`` for either sign
of a), so the root is bracketed by

    u_hi = log(b)/L          (x = m + b**(1/L) has f(x) >= 0),
    u_lo = u_hi - phi(u_hi)  (a slope of at least 1 below u_hi),

and a Newton step from the right end stays to the right of the root (convexity). Each
iteration takes that Newton step and a bisection of the bracket, so the bracket at least
halves every step and shrinks quadratically near the root: about 60 iterations bound any
float64 case, whatever L. Two final Newton steps in ``t = x - m`` on the power form restore
the full relative precision of x (the log form alone loses ``|log b|`` ulps). This module imports numpy only (mpmath on demand).
"""
from __future__ import annotations

import math

import numpy as np

_MAX_ITER = 200


def _solve(phi, hi):
    """The root u of an increasing convex ``phi`` (``phi(u) -> (value, slope)``, slope >= 1,
    elementwise on float64 arrays) from the right end ``hi`` of its bracket
    ``[hi - phi(hi), hi]``: each iteration takes the Newton step from the right (which stays
    right of the root by convexity) and a bisection, so the bracket at least halves."""
    phi_hi, dphi_hi = phi(hi)
    lo = hi - phi_hi
    for _ in range(_MAX_ITER):
        mid = 0.5 * (lo + hi)
        phi_mid, _ = phi(mid)
        right = phi_mid >= 0
        new_lo = np.where(right, lo, mid)
        newton = np.clip(hi - phi_hi / dphi_hi, new_lo, hi)
        new_hi = np.where(right, np.minimum(newton, mid), newton)
        done = (new_hi >= hi) & (new_lo <= lo)  # no end moved: converged to rounding
        lo, hi = new_lo, new_hi
        if done.all() or np.all(hi - lo <= 4e-16 * np.maximum(1.0, np.abs(hi))):
            break
        phi_hi, dphi_hi = phi(hi)
    return hi


def _newton_from_right(phi, start):
    """Newton's method on an increasing convex ``phi`` (mpmath) from just right of a float64
    estimate ``start`` of its root: there every iterate stays right of the root and the
    error squares, so 65 digits take about four steps. None when no point right of the root
    is found near ``start`` or it does not converge (the caller then brackets)."""
    import mpmath

    if start is None or not np.isfinite(start):
        return None
    u0 = mpmath.mpf(float(start))
    tol = mpmath.mpf(2) ** (-mpmath.mp.prec + 3)
    for k in range(4):  # a point right of the root: the estimate nudged by 1e-9 ... 6e-8
        u = u0 + mpmath.mpf(2) ** (-30 + 2 * k) * max(1, abs(u0))
        value, slope = phi(u)
        if value >= 0:
            break
    else:
        return None
    for _ in range(60):
        step = value / slope
        u = u - step
        if abs(step) <= tol * max(1, abs(u)):
            return u
        value, slope = phi(u)
    return None  # pragma: no cover


def _float_start(phi_float, hi: float):
    """A float64 estimate of the root of an increasing convex ``phi_float`` (Python floats,
    ``math`` functions) by Newton's method from the right end ``hi`` of its bracket (which
    never overshoots on a convex function), or None."""
    u = hi
    try:
        for _ in range(200):
            value, slope = phi_float(u)
            step = value / slope
            u -= step
            if not math.isfinite(u):
                return None
            if abs(step) <= 1e-13 * max(1.0, abs(u)):
                return u
    except (ValueError, OverflowError, ZeroDivisionError):
        return None
    return None


def _solve_mpmath(phi, hi, what: str, start=None):
    """:func:`_solve` on mpmath scalars at the working precision (``what`` names the root
    in the error that cannot happen: the bracket halves every iteration). ``start``: a
    float64 estimate of the root, from which :func:`_newton_from_right` is tried first."""
    import mpmath

    warm = _newton_from_right(phi, start)
    if warm is not None:
        return warm
    phi_hi, dphi_hi = phi(hi)
    lo = hi - phi_hi
    tol = mpmath.mpf(2) ** (-mpmath.mp.prec + 3)
    for _ in range(_MAX_ITER + 4 * mpmath.mp.prec):
        mid = (lo + hi) / 2
        phi_mid, _ = phi(mid)
        new_lo = lo if phi_mid >= 0 else mid
        step = phi_hi / dphi_hi
        newton = min(max(hi - step, new_lo), hi)
        new_hi = min(newton, mid) if phi_mid >= 0 else newton
        scale = tol * max(1, abs(new_hi))
        # Newton from the right converges monotonically and quadratically: a step below the
        # working precision ends it (the bracket's lower end only halves)
        converged = (new_hi >= hi and new_lo <= lo) or new_hi - new_lo <= scale or (
            abs(step) <= scale)
        lo, hi = new_lo, new_hi
        if converged:
            return hi
        phi_hi, dphi_hi = phi(hi)
    raise ValueError(f"{what}: the root solver did not converge")  # pragma: no cover


def _floats(*values) -> bool:
    """Whether mpmath values are all representable as normal float64 numbers (or 0)."""
    return all(v == 0 or 1e-300 < abs(v) < 1e300 for v in values)


def _phi(L: int, m, gap, log_b, u, exp, log):
    """phi(u) and phi'(u) with ``gap = m - a >= 0`` (elementwise for numpy or mpmath)."""
    t = exp(u)
    x, y = m + t, t + gap
    return (L - 1) * log(x) + log(y) - log_b, (L - 1) * t / x + t / y


def _polish(L: int, m, gap, c, t, steps: int = 2):
    """Newton steps in t = x - m on ``F(t) = t + gap - (c/x)**(L-1)``, ``c = b**(1/(L-1))``:
    the power form, accurate to a few ulps of x (the log form loses ``|log b|`` ulps). Near
    the root ``(c/x)**(L-1) = x - a`` is moderate, so it neither overflows nor underflows;
    a step that would not keep t > 0 and finite is skipped."""
    for _ in range(steps):
        x = m + t
        q = (c / x) ** (L - 1)
        t_new = t - (t + gap - q) / (1 + (L - 1) * q / x)
        if isinstance(t, np.ndarray):
            t = np.where((t_new > 0) & np.isfinite(t_new), t_new, t)
        elif t_new > 0:
            t = t_new
    return t


def positive_root(L: int, a, b) -> np.ndarray:
    """Vectorized positive root of ``x**L - a x**(L-1) - b`` in float64; NaN where b <= 0
    (or a, b not finite). Any integer L >= 2."""
    L = int(L)
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    out = np.full(a.shape, np.nan)
    ok = (b > 0) & np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return out
    aa, bb = a[ok], b[ok]
    m = np.maximum(aa, 0.0)
    gap = m - aa  # exact: 0 or -a
    log_b = np.log(bb)
    with np.errstate(all="ignore"):  # exp(u) may underflow far below the root: harmless
        hi = _solve(lambda u: _phi(L, m, gap, log_b, u, np.exp, np.log), log_b / L)
        t = _polish(L, m, gap, bb ** (1.0 / (L - 1)), np.exp(hi))
    out[ok] = m + t
    return out


def positive_root_mpmath(L: int, a, b):
    """The positive root with mpmath at the working precision (same bracketed log-space
    Newton-bisection as :func:`positive_root`); ValueError unless b > 0."""
    import mpmath

    L = int(L)
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    if not b > 0 or not mpmath.isfinite(a) or not mpmath.isfinite(b):
        raise ValueError(f"PositiveRoot needs finite a and b > 0, got a={a}, b={b}")
    m = max(a, mpmath.mpf(0))
    gap = m - a
    log_b = mpmath.log(b)
    start = _float_start(
        lambda u: _phi(L, float(m), float(gap), float(log_b), u, math.exp, math.log),
        float(log_b) / L) if _floats(m, gap, log_b) else None
    hi = _solve_mpmath(lambda u: _phi(L, m, gap, log_b, u, mpmath.exp, mpmath.log), log_b / L,
                       f"PositiveRoot({L}, {a}, {b})", start)
    return m + _polish(L, m, gap, b ** (mpmath.mpf(1) / (L - 1)), mpmath.exp(hi))


# --------------------------------------------------------------------------- ProbedRoot


def _probed_gaps(L: int, alpha, beta, maximum):
    """(m, [(weight, gap)]): the root of ``x^(L-2) (x - alpha) (x - beta) = b`` lies above
    ``m = max(alpha, beta)`` (and 0 for L >= 3); the factors are ``(gap + t)^weight`` with
    ``t = x - m``, every gap >= 0 and one of them 0 with weight >= 1."""
    m = maximum(alpha, beta)
    if L > 2:
        m = maximum(m, 0 * m)
    factors = [(1, m - alpha), (1, m - beta)] + ([(L - 2, m)] if L > 2 else [])
    return m, factors


def _log_phi(factors, log_b, u, exp, log):
    """phi(u) = sum_i w_i log(g_i + e^u) - log(b) and phi'(u) (>= 1: one gap is 0; convex)."""
    t = exp(u)
    value = -log_b
    slope = 0 * t
    for weight, gap in factors:
        value = value + weight * log(gap + t)
        slope = slope + weight * t / (gap + t)
    return value, slope


def _probed_polish(L: int, factors, log_b, t, log, exp, steps: int = 2):
    """Newton steps in t on ``(t + g_a)(t + g_b) - b/x^(L-2)`` (``x = m + t``), the power
    form, moderate near the root; a step that would not keep t > 0 and finite is skipped."""
    (_, ga), (_, gb) = factors[0], factors[1]
    m = factors[2][1] if L > 2 else None
    for _ in range(steps):
        if m is None:  # L = 2: (t + g_a)(t + g_b) = b
            q, dq = exp(log_b) + 0 * t, 0 * t
        else:
            x = m + t
            q = exp(log_b - (L - 2) * log(x))
            dq = -(L - 2) * q / x
        t_new = t - ((t + ga) * (t + gb) - q) / (2 * t + ga + gb - dq)
        if isinstance(t, np.ndarray):
            t = np.where((t_new > 0) & np.isfinite(t_new), t_new, t)
        elif t_new > 0:
            t = t_new
    return t


def probed_root(L: int, alpha, beta, b) -> np.ndarray:
    """Vectorized root of ``x^(L-2) (x - alpha) (x - beta) = b`` above ``max(alpha, beta)``
    (and above 0 for L >= 3), in float64; NaN where b <= 0 (or an input is not finite).
    The LP-FT scale (:class:`symtransfer.lp_ft_expressions.ProbedRoot`). Same bracketed
    log-space Newton-bisection as :func:`positive_root`: with ``x = m + e^u``,
    ``phi(u) = sum_i w_i log(g_i + e^u) - log b`` is increasing with slope >= 1 and convex."""
    L = int(L)
    alpha, beta, b = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (alpha, beta, b)))
    out = np.full(b.shape, np.nan)
    ok = (b > 0) & np.isfinite(alpha) & np.isfinite(beta) & np.isfinite(b)
    if not ok.any():
        return out
    m, factors = _probed_gaps(L, alpha[ok], beta[ok], np.maximum)
    log_b = np.log(b[ok])
    with np.errstate(all="ignore"):  # exp(u) may underflow far below the root: harmless
        hi = _solve(lambda u: _log_phi(factors, log_b, u, np.exp, np.log), log_b / L)
        t = _probed_polish(L, factors, log_b, np.exp(hi), np.log, np.exp)
    out[ok] = m + t
    return out


def probed_root_mpmath(L: int, alpha, beta, b):
    """:func:`probed_root` with mpmath at the working precision; ValueError unless b > 0."""
    import mpmath

    L = int(L)
    alpha, beta, b = mpmath.mpf(alpha), mpmath.mpf(beta), mpmath.mpf(b)
    if not b > 0 or not all(mpmath.isfinite(v) for v in (alpha, beta, b)):
        raise ValueError(f"ProbedRoot needs finite alpha, beta and b > 0, got "
                         f"alpha={alpha}, beta={beta}, b={b}")
    m, factors = _probed_gaps(L, alpha, beta, max)
    log_b = mpmath.log(b)
    start = None
    if _floats(log_b, *(g for _, g in factors)):
        floats = [(w, float(g)) for w, g in factors]
        start = _float_start(lambda u: _log_phi(floats, float(log_b), u, math.exp, math.log),
                             float(log_b) / L)
    hi = _solve_mpmath(lambda u: _log_phi(factors, log_b, u, mpmath.exp, mpmath.log),
                       log_b / L, f"ProbedRoot({L}, {alpha}, {beta}, {b})", start)
    return m + _probed_polish(L, factors, log_b, mpmath.exp(hi), mpmath.log, mpmath.exp)


# --------------------------------------------------------------------------- BoundaryRoot


def _boundary_bracket(L: int, b):
    """The upper end of the bracket (1, upper) of the root of
    ``g(x) = x^(L-2) ((x - 1)(x - beta) + b/4) - b``: g(1) = -3b/4 < 0 and g(upper) > 0 with
    ``upper = 4^(1/(L-2))`` (L >= 3: there ``x^(L-2) = 4``) or ``1 + sqrt(b)`` (L = 2:
    ``(x - 1)(x - beta) >= (x - 1)^2 = b``)."""
    if L == 2:
        return 1 + b ** 0.5
    return 4.0 ** (1.0 / (L - 2)) + 0 * b


def _boundary_g(L: int, beta, b, x):
    """g(x) and g'(x) (increasing on x > 1 for beta < 1)."""
    quad = (x - 1) * (x - beta) + b / 4
    power = x ** (L - 2)
    slope = power * (2 * x - 1 - beta) + ((L - 2) * x ** (L - 3) * quad if L > 2 else 0 * x)
    return power * quad - b, slope


def boundary_root(L: int, beta, b) -> np.ndarray:
    """Vectorized root x > 1 of ``x^(L-2) ((x - 1)(x - beta) + b/4) = b`` (beta < 1, b > 0),
    in float64; NaN elsewhere. LP-FT's kappa on its phase boundary
    (:class:`symtransfer.lp_ft_expressions.BoundaryRoot`): g is increasing on (1, upper) and
    changes sign there, so bisection brackets it (64 halvings of a width <= 3 reach the
    float64 spacing) and two Newton steps polish it."""
    L = int(L)
    beta, b = np.broadcast_arrays(np.asarray(beta, dtype=float), np.asarray(b, dtype=float))
    out = np.full(b.shape, np.nan)
    ok = (b > 0) & (beta < 1) & np.isfinite(beta) & np.isfinite(b)
    if not ok.any():
        return out
    be, bb = beta[ok], b[ok]
    lo, hi = np.ones(bb.shape), _boundary_bracket(L, bb)
    with np.errstate(all="ignore"):
        for _ in range(64):
            mid = 0.5 * (lo + hi)
            right = _boundary_g(L, be, bb, mid)[0] >= 0
            lo, hi = np.where(right, lo, mid), np.where(right, mid, hi)
        x = 0.5 * (lo + hi)
        for _ in range(2):
            g, slope = _boundary_g(L, be, bb, x)
            step = x - g / slope
            x = np.where((step > 1) & np.isfinite(step), step, x)
    out[ok] = x
    return out


def _boundary_float(L: int, beta: float, b: float) -> float:
    """The root by bisection in Python floats (60 halvings of the bracket): a start for
    Newton at higher precision."""
    lo, hi = 1.0, _boundary_bracket(L, b)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if _boundary_g(L, beta, b, mid)[0] >= 0 else (mid, hi)
    return 0.5 * (lo + hi)


def boundary_root_mpmath(L: int, beta, b):
    """:func:`boundary_root` with mpmath at the working precision (bisection to 60 bits, then
    Newton, which converges quadratically from there); ValueError unless beta < 1, b > 0."""
    import mpmath

    L = int(L)
    beta, b = mpmath.mpf(beta), mpmath.mpf(b)
    if not (b > 0 and beta < 1 and mpmath.isfinite(beta) and mpmath.isfinite(b)):
        raise ValueError(f"BoundaryRoot needs beta < 1 and b > 0, got beta={beta}, b={b}")
    lo, hi = mpmath.mpf(1), (1 + mpmath.sqrt(b) if L == 2 else mpmath.mpf(4) ** (
        mpmath.mpf(1) / (L - 2)))
    tol = mpmath.mpf(2) ** (-mpmath.mp.prec + 3)
    if _floats(beta, b):  # Newton from the float64 root first (g increasing on (lo, hi))
        x = mpmath.mpf(_boundary_float(L, float(beta), float(b)))
        for _ in range(30 if mpmath.isfinite(x) and lo < x < hi else 0):
            g, slope = _boundary_g(L, beta, b, x)
            step = g / slope
            x = x - step
            if not lo < x < hi:
                break
            if abs(step) <= tol * x:
                return x
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if _boundary_g(L, beta, b, mid)[0] >= 0 else (mid, hi)
    x = (lo + hi) / 2
    for _ in range(4 * mpmath.mp.prec):
        g, slope = _boundary_g(L, beta, b, x)
        step = g / slope
        x = x - step
        if abs(step) <= tol * x:
            return x
    raise ValueError(f"BoundaryRoot({L}, {beta}, {b}): Newton did not converge")  # pragma: no cover


#: the mpmath roots under their sympy names, for ``sympy.lambdify(..., modules=[MPMATH,
#: "mpmath"])`` (the depth L arrives as a number; the roots take it as an int)
MPMATH = {
    "PositiveRoot": lambda L, a, b: positive_root_mpmath(int(L), a, b),
    "ProbedRoot": lambda L, alpha, beta, b: probed_root_mpmath(int(L), alpha, beta, b),
    "BoundaryRoot": lambda L, beta, b: boundary_root_mpmath(int(L), beta, b),
}
