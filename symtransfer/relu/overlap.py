"""How much of a target function lies in a student's hidden feature space.

The feature overlap of the paper's Sec. 4: regress the target function f_t on the hidden
activations ``h(x) = relu(W x)`` of the pretrained student, with a constant (the readout's
bias), by ridge regression with a tiny penalty, and report the **residual fraction**

    rho = E (f_t - c - a.h)^2 / Var f_t      (the fitted constant c absorbs the mean),

the part of the target's variance outside the pretrained feature space: 0 when f_t is a
linear function of the features, 1 when it is uncorrelated with all of them. It is the analog
of ``sin^2 theta = |P_perp beta_t|^2 / |beta_t|^2`` in the linear model (where the feature
space after population pretraining is span(beta_s)); ``1 - rho`` is the overlap.

The regression is on the population (x ~ N(0, I_d)) by default: its moments ``E h``,
``E h h^T``, ``E h f_t`` are closed forms (:mod:`symtransfer.relu.gaussian`), the limit of
an infinitely large sample; ``samples=N`` estimates them from N fresh Gaussian inputs
instead. The penalty is ``lam`` times the largest eigenvalue of the feature covariance
(default ``LAM = 1e-6``): it only regularizes feature directions a million times weaker
than the strongest one (e.g. near-duplicate neurons), where an unpenalized fit would be
ill-conditioned; on the population nothing is fit to noise, so it can be this small. The
same ridge solve, on the target sample's moments and with a larger penalty, is the readout
refit of linear transfer (:mod:`symtransfer.relu.experiment`).
"""
from __future__ import annotations

import numpy as np

from .gaussian import relu_kernel, relu_mean
from .student import Student
from .teachers import Teacher

LAM = 1e-6


def ridge_from_moments(mean_h: np.ndarray, cov_h: np.ndarray, mean_y: np.ndarray,
                       cov_hy: np.ndarray, var_y: np.ndarray, lam: float = LAM):
    """Ridge regression of y on [1, h] from moments, batched over instances.

    mean_h (K, m), cov_h (K, m, m), mean_y (K,), cov_hy (K, m), var_y (K,). The penalty
    ``lam * lambda_max(cov_h) |a|^2`` acts on the feature weights a, not on the constant.
    Returns (a (K, m), c (K,), residual (K,)) with residual ``E (y - c - a.h)^2`` under the
    same moments.
    """
    top = np.linalg.eigvalsh(cov_h)[:, -1]
    m = cov_h.shape[-1]
    A = cov_h + (lam * np.maximum(top, 1e-300))[:, None, None] * np.eye(m)
    a = np.linalg.solve(A, cov_hy[..., None])[..., 0]
    c = mean_y - np.einsum("km,km->k", a, mean_h)
    resid = (var_y - 2 * np.einsum("km,km->k", a, cov_hy)
             + np.einsum("ki,kij,kj->k", a, cov_h, a))
    return a, c, np.maximum(resid, 0.0)


def sample_moments(H: np.ndarray, y: np.ndarray):
    """(mean_h, cov_h, mean_y, cov_hy, var_y) of samples H (K, n, m), y (K, n) (1/n
    normalization: the ridge fit on them is the least-squares fit to the sample)."""
    n = H.shape[1]
    mh, my = H.mean(axis=1), y.mean(axis=1)
    Hc, yc = H - mh[:, None, :], y - my[:, None]
    return (mh, np.matmul(np.swapaxes(Hc, 1, 2), Hc) / n, my,
            np.einsum("knm,kn->km", Hc, yc) / n, np.einsum("kn,kn->k", yc, yc) / n)


def population_moments(s: Student, t: Teacher):
    """The same moments for x ~ N(0, I_d), in closed form."""
    mu = relu_mean(s.W)
    cov_h = relu_kernel(s.W, s.W) - mu[:, :, None] * mu[:, None, :]
    mean_t = t.mean()
    cross = relu_kernel(s.W, t.U[None]) @ t.a + t.offset * mu    # E h f_t
    K = s.instances
    return (mu, cov_h, np.full(K, mean_t), cross - mu * mean_t,
            np.full(K, t.second_moment() - mean_t ** 2))


def feature_overlap(student: Student, teacher: Teacher, *, lam: float = LAM,
                    samples: int | None = None, seed: int = 0) -> np.ndarray:
    """Residual fraction ``rho = E (f_t - proj)^2 / Var f_t`` of ``teacher`` outside the
    hidden-feature space of ``student`` (per instance, shape (K,)); see the module docstring.

    samples : None (default) regresses on the population in closed form; an integer N
        regresses on N fresh Gaussian inputs drawn from ``seed`` (the same inputs for every
        instance), and divides by the sample variance of f_t.
    """
    if samples is None:
        moments = population_moments(student, teacher)
    else:
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((samples, teacher.d))
        Xk = np.broadcast_to(X, (student.instances,) + X.shape)
        y = np.broadcast_to(teacher(X), (student.instances, samples))
        moments = sample_moments(student.hidden(Xk), y)
    *_, resid = ridge_from_moments(*moments, lam=lam)
    return resid / moments[4]
