"""Coefficients of the second-order Runge-Kutta-Chebyshev method (RKC).

RKC (van der Houwen & Sommeijer 1980; Sommeijer, Shampine & Verwer, "RKC: an explicit solver
for parabolic PDEs", J. Comput. Appl. Math. 88 (1998) 315-326) is an explicit s-stage method
whose stability polynomial is a shifted, damped Chebyshev polynomial,

    R_s(z) = a_s + b_s T_s(w0 + w1 z),   w0 = 1 + eps/s^2,   w1 = T_s'(w0)/T_s''(w0),

of second order (R_s(z) = 1 + z + z^2/2 + O(z^3)) and bounded by 1 on a real interval
``[-beta(s), 0]`` that grows like ``0.65 s^2``. For a gradient flow (the Jacobian is minus a
symmetric Hessian: real spectrum) with spectral radius rho, a step h needs only
``s ~ sqrt(h rho)`` gradient evaluations, so integrating to a time T costs ~ ``T sqrt(rho/h)``
instead of explicit Heun's ~ ``T rho``: the cost grows like sqrt(kappa), not kappa.

The stages (with F the right-hand side, Y_0 = y_n):

    Y_1 = Y_0 + mu~_1 h F(Y_0),
    Y_j = (1 - mu_j - nu_j) Y_0 + mu_j Y_{j-1} + nu_j Y_{j-2} + mu~_j h F(Y_{j-1})
          + gamma~_j h F(Y_0)                                        (j = 2 .. s),
    y_{n+1} = Y_s,

and the local error estimate ``(12 (y_n - y_{n+1}) + 6 h (F(y_n) + F(y_{n+1}))) / 15`` of the
RKC code (Sommeijer et al. 1998, eq. (2.7)).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DAMPING = 2.0 / 13.0  # eps of the RKC code


@dataclass(frozen=True)
class RKCCoefficients:
    """Stage coefficients for j = 0 .. s (entries 0, and 1 for mu, nu, gamma~, are unused)."""

    stages: int
    mu: np.ndarray
    nu: np.ndarray
    mu_tilde: np.ndarray
    gamma_tilde: np.ndarray


def _chebyshev(s: int, x: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """T_j(x), T_j'(x), T_j''(x) for j = 0 .. s by the three-term recurrence."""
    T, dT, d2T = np.zeros(s + 1), np.zeros(s + 1), np.zeros(s + 1)
    T[0], T[1], dT[1] = 1.0, x, 1.0
    for j in range(2, s + 1):
        T[j] = 2 * x * T[j - 1] - T[j - 2]
        dT[j] = 2 * T[j - 1] + 2 * x * dT[j - 1] - dT[j - 2]
        d2T[j] = 4 * dT[j - 1] + 2 * x * d2T[j - 1] - d2T[j - 2]
    return T, dT, d2T


@lru_cache(maxsize=512)
def coefficients(s: int, eps: float = DAMPING) -> RKCCoefficients:
    """The RKC stage coefficients for ``s >= 2`` stages and damping ``eps``."""
    if s < 2:
        raise ValueError(f"RKC needs s >= 2 stages, got {s}")
    w0 = 1.0 + eps / s ** 2
    T, dT, d2T = _chebyshev(s, w0)
    w1 = dT[s] / d2T[s]
    b = np.empty(s + 1)
    b[2:] = d2T[2:] / dT[2:] ** 2
    b[0] = b[1] = b[2]
    a = 1.0 - b * T
    mu, nu, mu_t, gamma_t = (np.zeros(s + 1) for _ in range(4))
    mu_t[1] = b[1] * w1
    for j in range(2, s + 1):
        mu[j] = 2 * b[j] * w0 / b[j - 1]
        nu[j] = -b[j] / b[j - 2]
        mu_t[j] = 2 * b[j] * w1 / b[j - 1]
        gamma_t[j] = -a[j - 1] * mu_t[j]
    return RKCCoefficients(s, mu, nu, mu_t, gamma_t)


STABILITY = 0.64  # |R_s| <= 1 on [-STABILITY (s^2 - 1), 0] (asymptotically 0.653 for eps=2/13)


def stability_bound(s: int) -> float:
    """A step h with ``h rho <= stability_bound(s)`` is stable for every real eigenvalue in
    [-rho, 0]: ``0.64 (s^2 - 1)``, a little inside the damped interval ``(2/3)(s^2 - 1)
    (1 - 2 eps/15)`` (checked in tests/test_integrator.py for s up to 500)."""
    return STABILITY * (s * s - 1)


def stages_for(h_rho: np.ndarray) -> np.ndarray:
    """The fewest stages (>= 2) with ``h rho <= stability_bound(s)``."""
    need = np.sqrt(1.0 + np.asarray(h_rho, dtype=float) / STABILITY)
    return np.maximum(2, np.ceil(need * (1 - 1e-12))).astype(int)


def amplification(s: int, z: np.ndarray) -> np.ndarray:
    """The scheme applied to y' = lambda y with z = h lambda: y_{n+1}/y_n (the stability
    polynomial, evaluated through the stage recurrence itself)."""
    c = coefficients(s)
    z = np.asarray(z, dtype=float)
    y0 = np.ones_like(z)
    prev2, prev = y0, y0 + c.mu_tilde[1] * z * y0
    for j in range(2, s + 1):
        cur = ((1 - c.mu[j] - c.nu[j]) * y0 + c.mu[j] * prev + c.nu[j] * prev2
               + c.mu_tilde[j] * z * prev + c.gamma_tilde[j] * z * y0)
        prev2, prev = prev, cur
    return prev
