"""Control variates with exactly known means: lower-variance Monte-Carlo means of transfer runs.

A run's error ``Y_k = |beta_hat_k - beta_t|^2`` fluctuates mostly through the random design
X_k: how much of each teacher falls in X_k's null space and how large the noise's pull-back is.
Those fluctuations have *exact* finite-d expectations that need no result about training, only
two primitives (docs/theory.md, "How a result gets into symtransfer"):

* the null-space projector P_perp of a Gaussian n x d design (n < d) projects on a uniformly
  random (d - n)-dimensional subspace, so ``E P_perp = (d - n)/d I`` and, for fixed vectors,
  ``E u^T P_perp v = (d - n)/d u.v`` (0 for n >= d);
* the noise's min-norm pull-back ``|X^+ eps|^2 = tr (X^T X)^+`` along a unit-variance eps has
  the inverse-Wishart mean ``n/(d - n - 1)`` (n < d - 1) or ``d/(n - d - 1)`` (n > d + 1).

Per instance the controls are ``C_k = (|X^+ eps|^2, |P_perp beta_s|^2,
P_perp beta_s . P_perp beta_t, |P_perp beta_t|^2)`` with known means mu. The regression
estimator (e.g. Glasserman, *Monte Carlo Methods in Financial Engineering*, sec. 4.1.2) fits
``Y_k = a + b.(C_k - mu) + e_k`` by least squares; the intercept a estimates E Y with the
ordinary least-squares standard error, which accounts for the fitted b. Its bias is
O(1/instances) and the variance falls by ``1 - R^2``: for fine-tuning at gamma = 0.6, d = 200
the controls explain ~98% of the variance (sem / 7). Nothing here uses a fine-tuning or
transfer formula, so a check built on it still tests those formulas independently.
"""
from __future__ import annotations

import numpy as np

from .data import teachers

NAMES = ("|X^+ eps|^2", "|P_perp beta_s|^2", "P_perp beta_s . P_perp beta_t",
         "|P_perp beta_t|^2")


def design_controls(result) -> tuple[np.ndarray, np.ndarray]:
    """``(C, mu)``: the per-instance controls (K, 4) of a simulation's target design and
    their exact means (4,), rebuilt from the run's seed (the design is the one it used)."""
    from .pipeline import _samples, target_design

    p = result.params
    if p.get("spectrum") is not None or p.get("source_spectrum") is not None:
        # with either, the teachers are drawn per instance (symtransfer.mc.covariance)
        raise ValueError("control variates are defined for isotropic designs with the fixed "
                         "teachers (spectrum=None, source_spectrum=None)")
    d, K, seed = int(p["d"]), int(p["instances"]), int(p["seed"])
    n = _samples(p["gamma"], d, "gamma")
    if abs(n - d) <= 1:
        raise ValueError(f"|n - d| = {abs(n - d)}: E tr (X^T X)^+ is infinite there (gamma = "
                         f"{p['gamma']}, d = {d}); no control variate")
    design = target_design(seed, K, d, n)
    beta_s, beta_t = teachers(d, float(p["theta"] or 0.0))
    par_s = np.einsum("kdr,d->kr", design.basis, beta_s)
    par_t = np.einsum("kdr,d->kr", design.basis, beta_t)
    noise = np.einsum("kr,kr->k", design.noise, design.noise)
    perp_s = 1.0 - np.einsum("kr,kr->k", par_s, par_s)
    perp_st = float(beta_s @ beta_t) - np.einsum("kr,kr->k", par_s, par_t)
    perp_t = 1.0 - np.einsum("kr,kr->k", par_t, par_t)
    null = max(d - n, 0) / d
    wishart = n / (d - n - 1) if n < d else d / (n - d - 1)
    means = np.array([wishart, null, null * float(beta_s @ beta_t), null])
    return np.stack([noise, perp_s, perp_st, perp_t], axis=1), means


def controlled_mean(y: np.ndarray, controls: np.ndarray,
                    means: np.ndarray) -> tuple[float, float, float]:
    """``(estimate, standard error, variance ratio)`` of E y by the regression estimator.

    Controls whose sample spread is nil (e.g. the null-space ones at n >= d) are dropped.
    The variance ratio is ``var(y) / var(residual)``, the factor gained over the plain mean.
    Needs at least ``controls + 3`` samples.
    """
    y = np.asarray(y, dtype=float)
    C = np.asarray(controls, dtype=float) - np.asarray(means, dtype=float)
    if y.ndim != 1 or C.shape[0] != y.size:
        raise ValueError(f"y must be (K,) and controls (K, p): got {y.shape}, {C.shape}")
    spread = C.std(axis=0)
    C = C[:, spread > 1e-12 * np.maximum(1.0, np.abs(np.asarray(means, dtype=float)))]
    K, p = C.shape
    if K < p + 3:
        raise ValueError(f"{K} samples are too few for {p} control variates (need {p + 3})")
    A = np.column_stack([np.ones(K), C])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    residual = y - A @ coef
    s2 = float(residual @ residual) / (K - p - 1)
    cov = s2 * np.linalg.inv(A.T @ A)
    ratio = float(y.var(ddof=1) / s2) if s2 > 0 else float("inf")
    return float(coef[0]), float(np.sqrt(cov[0, 0])), ratio
