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

import numpy as np

_MAX_ITER = 200


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
        hi = log_b / L
        phi_hi, dphi_hi = _phi(L, m, gap, log_b, hi, np.exp, np.log)
        lo = hi - phi_hi
        for _ in range(_MAX_ITER):
            mid = 0.5 * (lo + hi)
            phi_mid, _ = _phi(L, m, gap, log_b, mid, np.exp, np.log)
            right = phi_mid >= 0
            new_lo = np.where(right, lo, mid)
            newton = np.clip(hi - phi_hi / dphi_hi, new_lo, hi)
            new_hi = np.where(right, np.minimum(newton, mid), newton)
            done = (new_hi >= hi) & (new_lo <= lo)  # no end moved: converged to rounding
            lo, hi = new_lo, new_hi
            if done.all() or np.all(hi - lo <= 4e-16 * np.maximum(1.0, np.abs(hi))):
                break
            phi_hi, dphi_hi = _phi(L, m, gap, log_b, hi, np.exp, np.log)
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
    hi = log_b / L
    phi_hi, dphi_hi = _phi(L, m, gap, log_b, hi, mpmath.exp, mpmath.log)
    lo = hi - phi_hi
    tol = mpmath.mpf(2) ** (-mpmath.mp.prec + 3)
    for _ in range(_MAX_ITER + 4 * mpmath.mp.prec):
        mid = (lo + hi) / 2
        phi_mid, _ = _phi(L, m, gap, log_b, mid, mpmath.exp, mpmath.log)
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
            break
        phi_hi, dphi_hi = _phi(L, m, gap, log_b, hi, mpmath.exp, mpmath.log)
    else:  # pragma: no cover - the bracket halves every iteration
        raise ValueError(f"PositiveRoot({L}, {a}, {b}): the root solver did not converge")
    return m + _polish(L, m, gap, b ** (mpmath.mpf(1) / (L - 1)), mpmath.exp(hi))
