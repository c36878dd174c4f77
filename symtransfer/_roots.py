"""Numerical evaluation of ``PositiveRoot(L, a, b)``, the fine-tuning scale for general depth.

``PositiveRoot(L, a, b)`` is the unique positive root x of ``f(x) = x**L - a x**(L-1) - b``
(integer L >= 2, real a, b > 0; see :class:`symtransfer.formulas.PositiveRoot`). For L = 2, 3
the generated kernels use radicals; for L >= 4 they call these solvers.

On ``[max(a, 0), inf)`` f is increasing and convex, with ``f(max(a, 0)) <= -b < 0`` and
``f(max(a, 0) + b**(1/L)) >= 0``. Newton's method started at that upper bound therefore
decreases monotonically to the root, which makes a vectorized iteration safe.
This module imports numpy only (mpmath on demand).
"""
from __future__ import annotations

import numpy as np

_MAX_NEWTON = 200


def positive_root(L: int, a, b) -> np.ndarray:
    """Vectorized positive root of ``x**L - a x**(L-1) - b`` in float64; NaN where b <= 0."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    out = np.full(a.shape, np.nan)
    ok = (b > 0) & np.isfinite(a) & np.isfinite(b)
    aa, bb = a[ok], b[ok]
    x = np.maximum(aa, 0.0) + bb ** (1.0 / L)
    for _ in range(_MAX_NEWTON):
        f = x ** L - aa * x ** (L - 1) - bb
        df = L * x ** (L - 1) - (L - 1) * aa * x ** (L - 2)
        x_new = x - f / df
        # monotone decrease: stop once no entry moves down any more
        if not np.any(x_new < x):
            break
        x = np.minimum(x, x_new)
    else:  # pragma: no cover - the monotone iteration converges in far fewer steps
        raise RuntimeError("Newton iteration for the fine-tuning scale did not converge")
    out[ok] = x
    return out


def positive_root_mpmath(L: int, a, b):
    """The positive root with mpmath at the working precision (bracketed, then Newton-polished)."""
    import mpmath

    a, b = mpmath.mpf(a), mpmath.mpf(b)
    if not b > 0:
        raise ValueError(f"PositiveRoot needs b > 0, got {b}")
    lo = max(a, mpmath.mpf(0))
    hi = lo + b ** (mpmath.mpf(1) / L)
    f = lambda x: x ** L - a * x ** (L - 1) - b  # noqa: E731
    df = lambda x: L * x ** (L - 1) - (L - 1) * a * x ** (L - 2)  # noqa: E731
    root = mpmath.findroot(f, (lo, hi), solver="anderson")
    return mpmath.findroot(f, root, solver="newton", df=df)
